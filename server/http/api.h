/*
 * What a handler sees: a request whose inputs were copied off the loop thread's h2o_req_t
 * (so a handler may run on a worker thread while the connection goes on, or goes away), and
 * the reply it sets. A handler never touches h2o: it reads inputs, calls models, and sets
 * exactly one reply with api_reply_*(); the HTTP layer sends it on the request's own loop
 * thread if the client is still there.
 *
 * Ownership: everything in an api_req_t belongs to it and is freed with it by the HTTP
 * layer. api_reply_json() steals the document it is given; so does api_reply_error() with
 * its details. A handler frees nothing it handed over.
 */
#ifndef SF_API_H
#define SF_API_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/config.h"
#include "models/events.h"
#include "server/http/errors.h"
#include "server/http/pool.h"
#include "server/http/router.h"

typedef struct api_server api_server_t; /* the running server, for inline handlers */

/* Headers kept for a ROUTE_BODY_ANY or ROUTE_STREAM route (payment callbacks sign over
 * theirs); more are dropped, and a value over API_MAX_HEADER_LEN bytes is left out. */
#define API_MAX_HEADERS    32
#define API_MAX_HEADER_LEN 2048

/* A ROUTE_PLATFORM route's signed headers (signed_hdr[]), in this order. */
enum { API_SIGNED_APP_KEY, API_SIGNED_TIMESTAMP, API_SIGNED_NONCE, API_SIGNED_SIGNATURE, API_SIGNED_N };
#define API_SIGNED_HEADER_MAX 256

/* Roles, one bit each: the same bits as the ROUTE_<ROLE> flags of router.h. */
typedef enum role {
    ROLE_NONE = 0,
    ROLE_CONSUMER = ROUTE_CONSUMER,
    ROLE_VENDOR = ROUTE_VENDOR,
    ROLE_COURIER = ROUTE_COURIER,
    ROLE_OPERATOR = ROUTE_OPERATOR,
    ROLE_PLATFORM = ROUTE_PLATFORM,
} role_t;

/* Who is calling, as the token says (all zero for an anonymous request). Every query that
 * reads a market's, vendor's, courier's or consumer's data is scoped by these. */
typedef struct principal {
    role_t role;
    int64_t user_id;
    int64_t market_id;   /* 0 for consumers: they may shop in any market */
    int64_t vendor_id;   /* vendors only */
    int64_t courier_id;  /* couriers only */
    char token_hash[65]; /* hex SHA-256 of the bearer token, the session's key */
} principal_t;

typedef struct api_req {
    pool_job_t job; /* first: the pool sees an api_req_t as a job */
    const route_t *route;
    const config_t *cfg;
    api_server_t *server; /* only inline handlers (loop thread) may use it */
    size_t nparams;
    char *params[ROUTER_MAX_PARAMS]; /* path parameters, percent-decoded, NUL-terminated */
    char *query;                     /* raw query string without '?', "" if none */
    char *raw_path;                  /* ROUTE_PLATFORM: the path as received, without the query (signed over) */
    json_t *body;                    /* the parsed JSON object for ROUTE_BODY_JSON routes, else NULL */
    char *raw_body;                  /* the body as received for ROUTE_BODY_ANY and ROUTE_PLATFORM routes, else NULL */
    size_t raw_body_len;
    char *authorization;          /* the Authorization header, or NULL */
    char *if_none_match;          /* the If-None-Match header, or NULL */
    char *idempotency_key;        /* the Idempotency-Key header, or NULL (at most 256 bytes are kept) */
    size_t nheaders;              /* ROUTE_BODY_ANY, ROUTE_STREAM: the request headers (bounded) */
    char *hname[API_MAX_HEADERS]; /* lower-case names */
    char *hvalue[API_MAX_HEADERS];
    /* ROUTE_PLATFORM: X-App-Key, X-Timestamp, X-Nonce, X-Signature (API_SIGNED_*), each
     * found in the whole request, kept when sent exactly once and at most
     * API_SIGNED_HEADER_MAX bytes, else NULL; signed_bad (a literal) says why one was not
     * kept (repeated, oversize), NULL when none was refused. */
    char *signed_hdr[API_SIGNED_N];
    const char *signed_bad;
    principal_t who;          /* set before the handler runs on routes that admit roles */
    int64_t cache_market;     /* ROUTE_CACHED: the market the answer belongs to (0: none) */
    uint64_t cache_version;   /* ROUTE_CACHED: that market's catalogue version, read before the
                                 data (cachever_get), so a write racing the read leaves the entry
                                 stale, never wrong */
    int64_t bumped_market;    /* a write that bumped this market's catalogue version ... */
    uint64_t bumped_version;  /* ... to this: see api_cache_bumped() */
    int bumped_stock;         /* ... by a stock bump: see api_cache_stock_bumped() */
    int64_t *bumped_products; /* ... of these products (malloc'd), nbumped_products of them */
    size_t nbumped_products;
    int64_t cache_product;  /* ROUTE_CACHED: the one product the answer is about, else 0 */
    uint64_t cache_born_ms; /* ROUTE_CACHED: monotonic ms when the worker took the job, before
                               the version and the data were read (server/http/cache.h) */
    char request_id[72];
    char peer[64]; /* client address, for logs and throttling */
    /* the reply */
    int status; /* 0 until a reply is set */
    char *out;  /* body text (malloc'd unless out_static) */
    size_t out_len;
    int out_static;
    const char *content_type;
    char *etag;      /* optional ETag (malloc'd) */
    int retry_after; /* seconds; 0 for none */
    sf_status_t err; /* the error replied, SF_OK otherwise (for the access log) */
    const char *err_code;
    /* ROUTE_STREAM: the stream chosen by api_reply_stream ("" until then) */
    char stream_party[EVENTS_PARTY_MAX];
    char stream_after[EVENTS_ID_MAX];
} api_req_t;

/* Replies with a JSON document (stolen). On failure to render, replies 500. */
void api_reply_json(api_req_t *req, int status, json_t *doc);

/* The bytes api_reply_json() sends for doc (malloc'd, *len set), for a model that keeps an
 * answer before it is sent (an Idempotency-Key's, in the work's own transaction). NULL if
 * out of memory. */
char *api_json_text(const json_t *doc, size_t *len);

/* Replies with the error shape. code NULL = the error's own code; message NULL = its default;
 * details (stolen, may be NULL) goes into "details". */
void api_reply_error(api_req_t *req, sf_status_t err, const char *code, const char *message, json_t *details);

/* Replies for an outcome that is not SF_OK, in the error shape: the outcome's reason as the
 * code, its default message unless d->reason overrides it, d's details (may be NULL). With
 * d->field set, details name the field; an invalid-kind outcome (and a plain SF_E_INVALID
 * always) then reads "<field>: <reason>" with details {"field", "reason"}. An internal or
 * database failure is logged with w's last database error (w may be NULL). d is emptied. */
void api_reply_status(api_req_t *req, const worker_t *w, sf_status_t rc, status_detail_t *d);

/* The reply a handler ends with: doc (stolen) with `status` when rc is SF_OK, else as
 * api_reply_status(). d (may be NULL) is emptied either way. */
void api_reply_result(api_req_t *req, const worker_t *w, sf_status_t rc, status_detail_t *d, int status, json_t *doc);

/* On a ROUTE_STREAM route: the answer is the event stream of `party` (models/events.h),
 * resumed after the entry id `after` (NULL or "": live events only). The HTTP layer starts
 * it on the loop thread (200, text/event-stream) and keeps it open. */
void api_reply_stream(api_req_t *req, const char *party, const char *after);

/* Replies with text that lives forever (a string literal). */
void api_reply_static(api_req_t *req, int status, const char *content_type, const char *text);

/* Replies with malloc'd text (stolen). */
void api_reply_text(api_req_t *req, int status, const char *content_type, char *text, size_t len);

/* Replies 200 {"items": items (stolen), "next_cursor": next_cursor}, null when
 * next_cursor is NULL or "" (the last page). */
void api_reply_list(api_req_t *req, json_t *items, const char *next_cursor);

/* The one reply of a list route: api_reply_list() when rc is SF_OK, else the outcome
 * (api_reply_status()); items (may be NULL on failure) is stolen either way. */
void api_reply_page(api_req_t *req, const worker_t *w, sf_status_t rc, status_detail_t *d, json_t *items,
                    const char *next_cursor);

/* Copies query parameter `name` (percent-decoded) into buf. 1 if present, 0 if absent,
 * -1 if present but malformed or longer than buflen - 1. */
int api_query(const api_req_t *req, const char *name, char *buf, size_t buflen);

/* For the /metrics handler (loop thread): the Prometheus text of the running server,
 * malloc'd; NULL if out of memory. */
char *api_server_metrics(api_server_t *s, size_t *len);

/* Percent-decodes [s, s+n) into buf; with plus_is_space '+' becomes a space. -1 if malformed,
 * if it holds a NUL byte, or if it does not fit. */
int api_decode(const char *s, size_t n, char *buf, size_t buflen, int plus_is_space);

/* The value of request header `name` (case-insensitive) on a ROUTE_BODY_ANY or ROUTE_STREAM
 * route, or NULL. */
const char *api_header(const api_req_t *req, const char *name);

/* Tells the HTTP layer that this write bumped the market's catalogue version (cachever_bump):
 * before the reply goes out, every loop thread of this server stops serving older answers,
 * so whoever got the reply reads its own write here (other servers learn it by pub/sub). */
void api_cache_bumped(api_req_t *req, int64_t market_id, uint64_t version);

/* The same for a stock bump (cachever_bump_stock: only the stock of the order flow moved) of
 * the products listed (n of them, may be 0): this server's loops learn the version before
 * the reply, and stop serving older answers about one of these products (GET
 * /v1/products/{id}), so whoever got the reply sees the stock of what they bought or gave
 * back; other answers (lists) stay servable within cache.stock_stale_ms, as on every other
 * server. */
void api_cache_stock_bumped(api_req_t *req, int64_t market_id, uint64_t version, const int64_t *products, size_t n);

/* Forgets a reply already set, so that the HTTP layer may replace it (a limit or a
 * deadline overtaking the handler). Handlers never call it: they reply once. */
void api_req_reset_reply(api_req_t *req);

/* Frees a request and everything it owns. */
void api_req_free(api_req_t *req);

#endif
