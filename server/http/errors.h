/*
 * Application errors: one enum, each mapped once to an HTTP status, an error code string for
 * the API's error shape, and a default message. Handlers and models speak in these; only the
 * HTTP layer turns them into statuses. Pure data, safe from any thread.
 */
#ifndef SF_ERRORS_H
#define SF_ERRORS_H

#include <jansson.h>
#include <stddef.h>

typedef enum sf_err {
    SF_OK = 0,
    SF_E_MALFORMED,    /* 400: the request cannot be read (bad JSON, bad query syntax) */
    SF_E_UNAUTHORIZED, /* 401: no token, or a bad one */
    SF_E_FORBIDDEN,    /* 403: wrong role or scope */
    SF_E_NOT_FOUND,    /* 404 */
    SF_E_METHOD,       /* 405: the path exists, the method does not */
    SF_E_CONFLICT,     /* 409: the state does not allow it */
    SF_E_TOO_LARGE,    /* 413 */
    SF_E_MEDIA_TYPE,   /* 415: body is not application/json */
    SF_E_INVALID,      /* 422: valid JSON, invalid values */
    SF_E_RATE_LIMITED, /* 429 */
    SF_E_INTERNAL,     /* 500: a bug or an unexpected failure; details are logged, not shown */
    SF_E_UNAVAILABLE,  /* 503: overloaded, or a dependency is down */
    SF_E_TIMEOUT,      /* 504: the deadline passed before the work finished */
    SF_E__COUNT
} sf_err_t;

/* The HTTP status of an error (200 for SF_OK). */
int error_status(sf_err_t e);

/* The snake_case code of the error shape, e.g. "not_found". */
const char *error_code(sf_err_t e);

/* The HTTP reason phrase of a status ("Not Found"); "Unknown" for others. */
const char *error_reason(int status);

/* Renders {"error": {"code", "message", "details"}} as compact JSON text, malloc'd, *len set.
 * code may be NULL (then the error's own code); message NULL gives the default message;
 * details (may be NULL) is borrowed, not stolen. Returns NULL only when out of memory. */
char *error_render(sf_err_t e, const char *code, const char *message, json_t *details, size_t *len);

#endif
