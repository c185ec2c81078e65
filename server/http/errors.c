/*
 * The one table from application errors to HTTP statuses and API error codes.
 */
#include <stdlib.h>
#include <string.h>
#include "server/http/errors.h"

static const struct {
    int status;
    const char *code;
    const char *message;
} table[SF_E__COUNT] = {
    [SF_OK] = {200, "ok", "ok"},
    [SF_E_MALFORMED] = {400, "malformed_request", "the request could not be read"},
    [SF_E_UNAUTHORIZED] = {401, "unauthorized", "a valid bearer token is required"},
    [SF_E_FORBIDDEN] = {403, "forbidden", "this account may not do that"},
    [SF_E_NOT_FOUND] = {404, "not_found", "no such resource"},
    [SF_E_METHOD] = {405, "method_not_allowed", "this path does not accept that method"},
    [SF_E_CONFLICT] = {409, "conflict", "the current state does not allow that"},
    [SF_E_TOO_LARGE] = {413, "body_too_large", "the request body is too large"},
    [SF_E_MEDIA_TYPE] = {415, "unsupported_media_type", "the body must be application/json"},
    [SF_E_INVALID] = {422, "invalid", "the request has invalid values"},
    [SF_E_RATE_LIMITED] = {429, "rate_limited", "too many requests; slow down"},
    [SF_E_INTERNAL] = {500, "internal", "an internal error occurred"},
    [SF_E_UNAVAILABLE] = {503, "unavailable", "the service is overloaded or a dependency is down"},
    [SF_E_TIMEOUT] = {504, "timeout", "the request took too long"},
};

static int valid(sf_err_t e)
{
    return (int)e >= 0 && e < SF_E__COUNT;
}

int error_status(sf_err_t e)
{
    return valid(e) ? table[e].status : 500;
}

const char *error_code(sf_err_t e)
{
    return valid(e) ? table[e].code : "internal";
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

char *error_render(sf_err_t e, const char *code, const char *message, json_t *details, size_t *len)
{
    if (!valid(e))
        e = SF_E_INTERNAL;
    json_t *d = details != NULL ? json_incref(details) : json_object();
    json_t *doc = json_pack("{s:{s:s, s:s, s:o}}", "error", "code", code != NULL ? code : table[e].code, "message",
                            message != NULL ? message : table[e].message, "details", d);
    if (doc == NULL)
        return NULL;
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    if (text != NULL && len != NULL)
        *len = strlen(text);
    return text;
}
