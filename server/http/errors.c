/*
 * The one place that maps outcomes to HTTP: a switch over the outcome's kind. Every other
 * file speaks in sf_status_t and lets this choose the status code.
 */
#include <stdlib.h>
#include <string.h>
#include "server/http/errors.h"

int error_status(sf_status_t e)
{
    switch (status_kind(e)) {
    case SF_OK: return 200;
    case SF_E_MALFORMED: return 400;
    case SF_E_UNAUTHORIZED: return 401;
    case SF_E_FORBIDDEN: return 403;
    case SF_E_NOT_FOUND: return 404;
    case SF_E_METHOD: return 405;
    case SF_E_CONFLICT: return 409;
    case SF_E_TOO_LARGE: return 413;
    case SF_E_MEDIA_TYPE: return 415;
    case SF_E_INVALID: return 422;
    case SF_E_RATE_LIMITED: return 429;
    case SF_E_UNAVAILABLE: return 503;
    case SF_E_TIMEOUT: return 504;
    default: return 500; /* SF_E_INTERNAL, and a kind this switch does not know */
    }
}

const char *error_code(sf_status_t e)
{
    return status_reason(e);
}

const char *error_reason(int status)
{
    switch (status) {
    case 200: return "OK";
    case 201: return "Created";
    case 204: return "No Content";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 409: return "Conflict";
    case 413: return "Payload Too Large";
    case 415: return "Unsupported Media Type";
    case 422: return "Unprocessable Entity";
    case 429: return "Too Many Requests";
    case 500: return "Internal Server Error";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    default: return "Unknown";
    }
}

char *error_render(sf_status_t e, const char *code, const char *message, json_t *details, size_t *len)
{
    json_t *d = details != NULL ? json_incref(details) : json_object();
    json_t *doc = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code != NULL ? code : status_reason(e), "message",
                            message != NULL ? message : status_message(e), "details", d);
    if (doc == NULL)
        return NULL;
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text != NULL && len != NULL)
        *len = strlen(text);
    return text;
}
