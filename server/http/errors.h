/*
 * The one place where outcomes (models/base/status.h) become HTTP: the status code of each
 * kind, the reason phrase of each status code, and the rendering of the error shape.
 * Pure data, safe from any thread.
 */
#ifndef SF_ERRORS_H
#define SF_ERRORS_H

#include <jansson.h>
#include <stddef.h>
#include "models/base/status.h"

/* The HTTP status of an outcome, chosen by its kind (200 for SF_OK). */
int error_status(sf_status_t e);

/* The snake_case code of the error shape, e.g. "not_found": the outcome's reason. */
const char *error_code(sf_status_t e);

/* The HTTP reason phrase of a status ("Not Found"); "Unknown" for others. */
const char *error_reason(int status);

/* Renders {"error": {"code", "message", "details"}} as compact JSON text, malloc'd, *len set.
 * code may be NULL (then the outcome's reason); message NULL gives its default message;
 * details (may be NULL) is borrowed, not stolen. Returns NULL only when out of memory. */
char *error_render(sf_status_t e, const char *code, const char *message, json_t *details, size_t *len);

#endif
