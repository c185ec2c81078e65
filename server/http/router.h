/*
 * The router: a table of (method, pattern) → handler, built once before the loop threads
 * start and read-only afterwards, so every thread matches against it without locks.
 *
 * Patterns are absolute paths whose segments are literals or `{name}` parameters, e.g.
 * `/v1/orders/{id}/cancel`. A path that matches a pattern under another method gives
 * ROUTER_METHOD with the allowed methods, for a 405 with Allow. Literal segments beat
 * parameters when two patterns could both match (`/v1/orders/mine` before `/v1/orders/{id}`).
 * Matching never allocates: parameters come back as slices of the path.
 */
#ifndef SF_ROUTER_H
#define SF_ROUTER_H

#include <stddef.h>

#define ROUTER_MAX_SEGMENTS 12 /* the deepest API path has 6 */
#define ROUTER_MAX_PARAMS   4
#define ROUTER_MAX_ROUTES   256

struct api_req;
struct worker;

/* A handler. On a pool route it runs on a worker thread with that worker's connections;
 * on an inline route it runs on the loop thread and w is NULL. */
typedef void (*route_fn)(struct api_req *req, struct worker *w);

enum {
    ROUTE_INLINE = 1 << 0,    /* runs on the loop thread: must not block (health, metrics) */
    ROUTE_BODY_JSON = 1 << 1, /* a JSON object body is required (415 / 400 / 422 otherwise) */
    ROUTE_BODY_JSON_OPT = 1 << 5, /* a body is optional; when sent, as ROUTE_BODY_JSON (none: body NULL) */
    ROUTE_BODY_ANY = 1 << 2,  /* the body is passed raw, not parsed (form-encoded callbacks) */
    ROUTE_CACHED = 1 << 3,    /* a public read served from the loop thread's cache (see cache.h) */
    ROUTE_STREAM = 1 << 4,    /* a long-lived text/event-stream answer (sse.h): the handler only
                                 chooses the stream (api_reply_stream); its headers are kept */
    /* The roles a route admits. None: public. Any: the token is checked on the worker before
     * the handler runs (401 without a valid one, 403 for another role). */
    ROUTE_CONSUMER = 1 << 8,
    ROUTE_VENDOR = 1 << 9,
    ROUTE_COURIER = 1 << 10,
    ROUTE_OPERATOR = 1 << 11,
    ROUTE_PLATFORM = 1 << 12,
    ROUTE_ANY_USER = ROUTE_CONSUMER | ROUTE_VENDOR | ROUTE_COURIER | ROUTE_OPERATOR,
    ROUTE_ROLES = ROUTE_ANY_USER | ROUTE_PLATFORM,
};

typedef struct route {
    char method[8];
    char *pattern;
    int flags;
    route_fn fn;
    size_t index; /* position in the router: the metrics' route id */
    size_t nseg;
    char *seg[ROUTER_MAX_SEGMENTS]; /* literal text, or the name for a parameter */
    unsigned char is_param[ROUTER_MAX_SEGMENTS];
} route_t;

typedef struct router {
    route_t *routes[ROUTER_MAX_ROUTES];
    size_t n;
} router_t;

typedef struct router_params {
    size_t n;
    const char *name[ROUTER_MAX_PARAMS];
    const char *val[ROUTER_MAX_PARAMS];
    size_t len[ROUTER_MAX_PARAMS];
} router_params_t;

typedef enum { ROUTER_FOUND, ROUTER_NOT_FOUND, ROUTER_METHOD } router_result_t;

void router_init(router_t *r);
void router_free(router_t *r);

/* Adds a route. -1 for a malformed pattern, too many segments or parameters, a duplicate
 * (method, pattern), or a full table: all programming errors, reported at start-up. */
int router_add(router_t *r, const char *method, const char *pattern, int flags, route_fn fn);

/* Matches a path (no query string). On ROUTER_FOUND *route and *params are set; on
 * ROUTER_METHOD `allow` receives the allowed methods as "GET, POST". */
router_result_t router_match(const router_t *r, const char *method, size_t mlen, const char *path, size_t plen,
                             const route_t **route, router_params_t *params, char *allow, size_t allowlen);

#endif
