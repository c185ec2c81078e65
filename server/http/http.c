/*
 * HTTP plumbing on libh2o-evloop 2.2.5: listeners, TLS, the request path, the hand-off to
 * the worker pool and back, per-connection abuse bounds, metrics, the access log, and a
 * draining shutdown. See http.h for the shape and docs/H2O-NOTES.md (shared) for the traps.
 *
 * Threads: everything here runs on a loop thread except the api_server_t setup and
 * shutdown calls (main thread) and run_job/post_done (worker threads, which touch only the
 * job they were given).
 *
 * The guard: a pool request puts a small guard into req->pool with a dispose callback.
 * If the request dies first (stream reset, connection closed) h2o disposes the pool on
 * the loop thread: the guard cancels the job and forgets it, so the answer that comes back
 * later is freed unsent. If the deadline passes first, the guard answers 504 and forgets the
 * job the same way. A job is freed in exactly one place: on_done, on the loop thread.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <openssl/ssl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include <h2o.h>
#include <h2o/http1.h>
#include <h2o/http2.h>
#include "server/http/accesslog.h"
#include "server/http/cache.h"
#include "server/http/cachesub.h"
#include "models/cachever.h"
#include "models/events.h"
#include "server/http/api.h"
#include "server/http/auth.h"
#include "server/http/platauth.h"
#include "server/http/http.h"
#include "models/base/log.h"
#include "server/http/metrics.h"
#include "server/http/sse.h"
#include "server/http/statpoll.h"

/* h2o buffers a whole body before the handler runs and answers bodies above its own limit
 * with a bare 413 (HTTP/1.1) or REFUSED_STREAM (HTTP/2). It is set to this multiple of
 * http.max_body, so that bodies just over the limit get the API's error shape from us. */
#define HARD_BODY_FACTOR    2
#define TICK_MS             100  /* access-log flush and shutdown checks */
#define SHUTDOWN_GOAWAY_MS  1500 /* time for GOAWAY to reach HTTP/2 clients before exit */
#define MAX_THREADS         64
#define WRITTEN_SLOTS       1024 /* markets whose writes this server tracks; past that, pub/sub only */
#define STOCK_WRITTEN_BITS  16   /* slots of products whose stock this server changed: 2^16, 512 KiB */
#define STOCK_WRITTEN_SLOTS (1u << STOCK_WRITTEN_BITS)

typedef struct written {
    int64_t market;   /* atomic; 0: a free slot */
    uint64_t version; /* atomic */
} written_t;

typedef struct loop loop_t;

/* Per-connection state, on the loop thread that owns the connection. Reference counted:
 * the socket holds one reference and every job in flight another, because a job may come
 * back after its connection closed. */
typedef struct conn_state {
    loop_t *loop;
    int refs;
    uint64_t window_ms; /* start of the current one-second window */
    uint32_t started;   /* requests started in that window */
    uint32_t inflight;  /* pool jobs outstanding */
    char peer[48];      /* the client address, looked up once per connection */
} conn_state_t;

typedef struct guard guard_t;

typedef struct http_job {
    api_req_t a; /* first: pool and api see the job as an api_req_t */
    loop_t *loop;
    conn_state_t *cs;
    guard_t *guard; /* NULL once the request is gone or answered */
    h2o_multithread_message_t msg;
    uint64_t t0_us;
    char *cache_key; /* ROUTE_CACHED: the path and query the answer is stored under */
} http_job_t;

struct guard {
    http_job_t *job;
    h2o_req_t *req;
    loop_t *loop;
    h2o_timeout_entry_t deadline;
};

typedef struct ctl_msg {
    h2o_multithread_message_t super;
} ctl_msg_t;

/* A catalogue version from the subscriber (market 0: forget everything). */
typedef struct version_msg {
    h2o_multithread_message_t super;
    int64_t market;
    uint64_t version;
    int stock; /* a stock bump (models/cachever.h), else a hard one */
} version_msg_t;

struct loop {
    api_server_t *srv;
    size_t id;
    pthread_t tid;
    h2o_context_t ctx;
    h2o_accept_ctx_t accept_plain, accept_tls;
    int fd_plain, fd_tls;
    h2o_socket_t *sock_plain, *sock_tls;
    h2o_multithread_receiver_t done_rx; /* answers from the pool */
    h2o_multithread_receiver_t ctl_rx;  /* shutdown request from the main thread */
    h2o_multithread_receiver_t ver_rx;  /* catalogue versions from the subscriber */
    cache_t *cache;                     /* public catalogue answers */
    sse_loop_t *sse;                    /* open GET /v1/events streams */
    ctl_msg_t stop_msg;
    h2o_timeout_t deadline_timeout; /* http.deadline_ms */
    h2o_timeout_t tick_timeout;
    h2o_timeout_entry_t tick;
    size_t conns;
    size_t inflight; /* jobs handed to the pool, not yet back */
    int started, joined, exiting, disposed;
    int stopping;
    uint64_t stop_at_ms;
    accesslog_t log;
    uint64_t seq; /* request id counter */
    char id_prefix[24];
};

struct api_server {
    const config_t *cfg;
    const router_t *routes;
    pool_t *pool;
    metrics_t *metrics;
    h2o_globalconf_t h2o;
    int h2o_ready;
    SSL_CTX *ssl;
    cachesub_t *sub;
    statpoll_t *stats; /* queue figures for /metrics, if the process has them */
    size_t unmatched;  /* the metrics' route id of requests no route matched */
    /* The web app under /app/ (see app_on_req). */
    char *web_root;            /* http.web_root resolved (realpath), or NULL: no web app */
    route_t app_route;         /* every /app answer's route in /metrics and the access log */
    h2o_handler_t *app_assets; /* h2o's file handler of <web_root>/assets, precompressed siblings */
    h2o_handler_t *app_files;  /* h2o's file handler of <web_root>'s top level */
    h2o_handler_t *app_index;  /* h2o's handler of <web_root>/index.html */
    size_t nloops;
    loop_t *loops[MAX_THREADS];
    size_t inflight_total;     /* atomic: requests with a job in the pool */
    size_t conns_total;        /* atomic */
    size_t streams_total;      /* atomic: open event streams */
    size_t unanswered_at_exit; /* atomic */
    /* The newest catalogue version each market reached through a write answered by this
     * server (api_cache_bumped): raised before the write's reply, read by every loop before
     * it serves from its cache, so a client reads its own writes here at once. Open
     * addressing, slots claimed with a compare-and-swap, never freed. */
    written_t written[WRITTEN_SLOTS];
    /* The same for the stock of single products (api_cache_stock_bumped): the newest version
     * at which a write answered here changed the stock of a product hashing to the slot.
     * Lossy on purpose: products sharing a slot share the newest version, which only costs a
     * miss, never serves a stale answer. */
    uint64_t stock_written[STOCK_WRITTEN_SLOTS];
    pthread_mutex_t ready_mu; /* loop threads report their context built */
    pthread_cond_t ready_cv;
    size_t ready;
};

/* The slot of a market in S->written (claiming a free one if `claim`), or NULL. */
static written_t *written_slot(api_server_t *S, int64_t market, int claim)
{
    for (size_t i = 0, h = (size_t)market % WRITTEN_SLOTS; i < WRITTEN_SLOTS; i++, h = (h + 1) % WRITTEN_SLOTS) {
        int64_t m = __atomic_load_n(&S->written[h].market, __ATOMIC_ACQUIRE);
        if (m == market)
            return &S->written[h];
        if (m != 0)
            continue;
        if (!claim)
            return NULL;
        int64_t expected = 0;
        if (__atomic_compare_exchange_n(&S->written[h].market, &expected, market, 0, __ATOMIC_ACQ_REL,
                                        __ATOMIC_ACQUIRE) ||
            expected == market)
            return &S->written[h];
    }
    return NULL;
}

static void written_raise(api_server_t *S, int64_t market, uint64_t version)
{
    written_t *slot = written_slot(S, market, 1);
    if (slot == NULL)
        return;
    uint64_t cur = __atomic_load_n(&slot->version, __ATOMIC_ACQUIRE);
    while (cur < version &&
           !__atomic_compare_exchange_n(&slot->version, &cur, version, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        ;
}

static uint64_t written_version(api_server_t *S, int64_t market)
{
    written_t *slot = written_slot(S, market, 0);
    return slot != NULL ? __atomic_load_n(&slot->version, __ATOMIC_ACQUIRE) : 0;
}

static uint64_t *stock_written_slot(api_server_t *S, int64_t product)
{
    return &S->stock_written[((uint64_t)product * 0x9E3779B97F4A7C15ULL) >> (64 - STOCK_WRITTEN_BITS)];
}

static void stock_written_raise(api_server_t *S, int64_t product, uint64_t version)
{
    uint64_t *slot = stock_written_slot(S, product);
    uint64_t cur = __atomic_load_n(slot, __ATOMIC_ACQUIRE);
    while (cur < version && !__atomic_compare_exchange_n(slot, &cur, version, 0, __ATOMIC_ACQ_REL, __ATOMIC_ACQUIRE))
        ;
}

static uint64_t now_us(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000u + (uint64_t)ts.tv_nsec / 1000u;
}

static loop_t *loop_of(h2o_req_t *req)
{
    return H2O_STRUCT_FROM_MEMBER(loop_t, ctx, req->conn->ctx);
}

/* ---------------------------------------------------------------------------------------
 * Answers: one function sends every answer, so every answer gets the same headers, metrics
 * and access-log line.
 * ------------------------------------------------------------------------------------- */

static void on_sock_close(void *data);

static conn_state_t *conn_of(h2o_req_t *req)
{
    h2o_socket_t *sock = req->conn->callbacks->get_socket != NULL ? req->conn->callbacks->get_socket(req->conn) : NULL;
    if (sock == NULL || sock->on_close.cb != on_sock_close)
        return NULL;
    return sock->on_close.data;
}

static const char *protocol_of(h2o_req_t *req)
{
    return req->version >= 0x200 ? "HTTP/2" : req->version == 0x101 ? "HTTP/1.1" : "HTTP/1.0";
}

static void peer_of(h2o_req_t *req, char *out, size_t outlen)
{
    struct sockaddr_storage ss;
    socklen_t len = req->conn->callbacks->get_peername(req->conn, (struct sockaddr *)&ss);
    out[0] = '\0';
    if (len == 0)
        return;
    if (ss.ss_family == AF_INET)
        inet_ntop(AF_INET, &((struct sockaddr_in *)&ss)->sin_addr, out, outlen);
    else if (ss.ss_family == AF_INET6)
        inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&ss)->sin6_addr, out, outlen);
}

static void log_request(loop_t *L, h2o_req_t *req, const api_req_t *a, size_t route_idx, uint64_t t0)
{
    uint64_t dur = now_us() - t0;
    metrics_observe(L->srv->metrics, L->id, route_idx, a->status, dur);
    if (L->log.fd < 0)
        return;
    char method[16];
    snprintf(method, sizeof(method), "%.*s", (int)(req->method.len < 15 ? req->method.len : 15), req->method.base);
    char path[600];
    snprintf(path, sizeof(path), "%.*s", (int)(req->path.len < 512 ? req->path.len : 512), req->path.base);
    accesslog_entry_t e = {
        a->request_id, method,    path, a->route != NULL ? a->route->pattern : NULL, protocol_of(req),
        a->peer,       a->status, dur,  a->status >= 400 ? a->err_code : NULL};
    accesslog_write(&L->log, &e);
}

static void add_header(h2o_req_t *req, const h2o_token_t *token, const char *value, size_t len)
{
    h2o_add_header(&req->pool, &req->res.headers, token, NULL, h2o_strdup(&req->pool, value, len).base, len);
}

/* Sends a's reply on req. Must be called on req's loop thread while req is alive. */
static void send_reply(loop_t *L, h2o_req_t *req, api_req_t *a, const char *allow, uint64_t t0)
{
    if (a->status == 0)
        api_reply_error(a, SF_E_INTERNAL, NULL, "the handler gave no answer", NULL);
    req->res.status = a->status;
    req->res.reason = error_reason(a->status);
    if (a->content_type != NULL)
        add_header(req, H2O_TOKEN_CONTENT_TYPE, a->content_type, strlen(a->content_type));
    /* a public catalogue answer (and its 304) may be kept a little by clients and CDNs, then
     * revalidated with its ETag; anything else, private or an error, never */
    if (a->route != NULL && (a->route->flags & ROUTE_CACHED) && (a->status == 200 || a->status == 304)) {
        char cc[48];
        int n = L->srv->cfg->http_public_max_age_s > 0
                    ? snprintf(cc, sizeof(cc), "public, max-age=%d", L->srv->cfg->http_public_max_age_s)
                    : snprintf(cc, sizeof(cc), "public, no-cache");
        add_header(req, H2O_TOKEN_CACHE_CONTROL, cc, (size_t)n);
    } else {
        add_header(req, H2O_TOKEN_CACHE_CONTROL, H2O_STRLIT("no-store"));
    }
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          h2o_strdup(&req->pool, a->request_id, SIZE_MAX).base, strlen(a->request_id));
    if (a->etag != NULL)
        add_header(req, H2O_TOKEN_ETAG, a->etag, strlen(a->etag));
    if (allow != NULL)
        h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("allow"), 0, NULL,
                              h2o_strdup(&req->pool, allow, SIZE_MAX).base, strlen(allow));
    if (a->retry_after > 0) {
        char ra[16];
        int n = snprintf(ra, sizeof(ra), "%d", a->retry_after);
        add_header(req, H2O_TOKEN_RETRY_AFTER, ra, (size_t)n);
    }
    size_t route_idx = a->route != NULL ? a->route->index : L->srv->unmatched;
    log_request(L, req, a, route_idx, t0);
    /* h2o_send_inline leaves content_length unset (HTTP/1.1 would go chunked): set it. */
    req->res.content_length = a->status == 304 ? SIZE_MAX : a->out_len;
    h2o_send_inline(req, a->status == 304 ? "" : a->out, a->status == 304 ? 0 : a->out_len);
}

/* Answers an error straight from the loop thread, before any handler ran. */
static void send_error(loop_t *L, h2o_req_t *req, api_req_t *a, sf_status_t err, const char *code, const char *msg,
                       json_t *details, const char *allow, uint64_t t0)
{
    api_reply_error(a, err, code, msg, details);
    send_reply(L, req, a, allow, t0);
    if (!a->out_static)
        free(a->out);
    a->out = NULL;
}

/* ---------------------------------------------------------------------------------------
 * Request intake on the loop thread.
 * ------------------------------------------------------------------------------------- */

static int valid_request_id(const char *s, size_t n)
{
    if (n == 0 || n > 64)
        return 0;
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
              c == '.'))
            return 0;
    }
    return 1;
}

static void set_request_id(loop_t *L, h2o_req_t *req, api_req_t *a)
{
    ssize_t i = h2o_find_header_by_str(&req->headers, H2O_STRLIT("x-request-id"), -1);
    if (i >= 0 && valid_request_id(req->headers.entries[i].value.base, req->headers.entries[i].value.len)) {
        h2o_iovec_t v = req->headers.entries[i].value;
        snprintf(a->request_id, sizeof(a->request_id), "%.*s", (int)v.len, v.base);
        return;
    }
    snprintf(a->request_id, sizeof(a->request_id), "%s%llx", L->id_prefix, (unsigned long long)++L->seq);
}

static char *header_copy(h2o_req_t *req, const h2o_token_t *token)
{
    ssize_t i = h2o_find_header(&req->headers, token, -1);
    if (i < 0)
        return NULL;
    return strndup(req->headers.entries[i].value.base, req->headers.entries[i].value.len);
}

/* "application/json" with optional parameters; anything else is 415. */
static int is_json_content_type(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_CONTENT_TYPE, -1);
    if (i < 0)
        return 0;
    h2o_iovec_t v = req->headers.entries[i].value;
    static const char want[] = "application/json";
    size_t n = sizeof(want) - 1;
    if (v.len < n || !h2o_lcstris(v.base, n, want, n))
        return 0;
    return v.len == n || v.base[n] == ';' || v.base[n] == ' ';
}

/* Parses the body for a ROUTE_BODY_JSON route into a->body; answers and returns -1 if bad. */
static int take_json_body(loop_t *L, h2o_req_t *req, api_req_t *a, uint64_t t0)
{
    if (!is_json_content_type(req)) {
        send_error(L, req, a, SF_E_MEDIA_TYPE, NULL, NULL, NULL, NULL, t0);
        return -1;
    }
    if (req->entity.base == NULL || req->entity.len == 0) {
        send_error(L, req, a, SF_E_MALFORMED, "malformed_json", "a JSON body is required", NULL, NULL, t0);
        return -1;
    }
    json_error_t jerr;
    a->body = json_loadb(req->entity.base, req->entity.len, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &jerr);
    if (a->body == NULL) {
        json_t *d = json_pack("{s:i, s:i, s:i}", "line", jerr.line, "column", jerr.column, "position", jerr.position);
        json_t *reason = json_string(jerr.text); /* NULL if the text quotes invalid UTF-8 */
        if (d != NULL && reason != NULL)
            json_object_set_new(d, "reason", reason);
        else
            json_decref(reason);
        send_error(L, req, a, SF_E_MALFORMED, "malformed_json", "the body is not valid JSON", d, NULL, t0);
        return -1;
    }
    if (!json_is_object(a->body)) {
        send_error(L, req, a, SF_E_INVALID, NULL, "the body must be a JSON object", NULL, NULL, t0);
        return -1;
    }
    return 0;
}

/* Keeps the request headers for a ROUTE_BODY_ANY or ROUTE_STREAM route (names lower-cased
 * by h2o). */
static int copy_headers(h2o_req_t *req, api_req_t *a)
{
    for (size_t i = 0; i < req->headers.size && a->nheaders < API_MAX_HEADERS; i++) {
        const h2o_header_t *h = &req->headers.entries[i];
        if (h->value.len > API_MAX_HEADER_LEN)
            continue;
        a->hname[a->nheaders] = strndup(h->name->base, h->name->len);
        a->hvalue[a->nheaders] = strndup(h->value.base, h->value.len);
        if (a->hname[a->nheaders] == NULL || a->hvalue[a->nheaders] == NULL) {
            free(a->hname[a->nheaders]);
            free(a->hvalue[a->nheaders]);
            return -1;
        }
        a->nheaders++;
    }
    return 0;
}

/* A ROUTE_PLATFORM request's four signed headers, found in the request itself (never
 * through copy_headers' bounded copy): each kept when it is there exactly once and at most
 * API_SIGNED_HEADER_MAX bytes; a repeated or oversize one leaves a->signed_bad saying so. */
static int copy_signed_headers(h2o_req_t *req, api_req_t *a)
{
    static const char *const names[API_SIGNED_N] = {"x-app-key", "x-timestamp", "x-nonce", "x-signature"};
    for (size_t k = 0; k < API_SIGNED_N; k++) {
        size_t n = strlen(names[k]);
        ssize_t i = h2o_find_header_by_str(&req->headers, names[k], n, -1);
        if (i < 0)
            continue;
        if (h2o_find_header_by_str(&req->headers, names[k], n, i) >= 0) {
            a->signed_bad = "a signed header is repeated";
            continue;
        }
        const h2o_iovec_t *v = &req->headers.entries[i].value;
        if (v->len > API_SIGNED_HEADER_MAX) {
            a->signed_bad = "a signed header is over 256 bytes";
            continue;
        }
        if ((a->signed_hdr[k] = strndup(v->base, v->len)) == NULL)
            return -1;
    }
    return 0;
}

/* Copies what the handler needs off the h2o request. -1 if out of memory. */
static int copy_inputs(h2o_req_t *req, api_req_t *a, const router_params_t *params)
{
    for (size_t i = 0; i < params->n; i++) {
        char buf[512];
        if (api_decode(params->val[i], params->len[i], buf, sizeof(buf), 0) != 0)
            buf[0] = '\0'; /* an undecodable parameter matches nothing a handler looks up */
        if ((a->params[i] = strdup(buf)) == NULL)
            return -1;
        a->nparams++;
    }
    if (req->query_at != SIZE_MAX)
        a->query = strndup(req->path.base + req->query_at + 1, req->path.len - req->query_at - 1);
    else
        a->query = strdup("");
    if (a->query == NULL)
        return -1;
    a->authorization = header_copy(req, H2O_TOKEN_AUTHORIZATION);
    a->if_none_match = header_copy(req, H2O_TOKEN_IF_NONE_MATCH);
    ssize_t ik = h2o_find_header_by_str(&req->headers, H2O_STRLIT("idempotency-key"), -1);
    if (ik >= 0) /* bounded: a longer key is cut, and the handler's length check refuses it */
        a->idempotency_key =
            strndup(req->headers.entries[ik].value.base,
                    req->headers.entries[ik].value.len > 256 ? 257 : req->headers.entries[ik].value.len);
    if ((a->route->flags & (ROUTE_BODY_ANY | ROUTE_STREAM)) && copy_headers(req, a) != 0)
        return -1;
    if ((a->route->flags & ROUTE_PLATFORM) && copy_signed_headers(req, a) != 0)
        return -1;
    /* a platform signs the path as it sent it (before h2o's normalisation) and the raw body */
    if ((a->route->flags & ROUTE_PLATFORM) &&
        (a->raw_path = strndup(req->path.base, req->query_at != SIZE_MAX ? req->query_at : req->path.len)) == NULL)
        return -1;
    if ((a->route->flags & (ROUTE_BODY_ANY | ROUTE_PLATFORM)) && req->entity.base != NULL) {
        if ((a->raw_body = malloc(req->entity.len + 1)) == NULL)
            return -1;
        memcpy(a->raw_body, req->entity.base, req->entity.len);
        a->raw_body[req->entity.len] = '\0';
        a->raw_body_len = req->entity.len;
    }
    return 0;
}

/* The per-connection bounds (CVE-2023-44487: 2.2.5 cannot refuse rapid resets itself). */
static int over_limits(loop_t *L, conn_state_t *cs, int to_pool)
{
    if (cs == NULL)
        return 0;
    uint64_t now = h2o_now(L->ctx.loop);
    if (now - cs->window_ms >= 1000) {
        cs->window_ms = now;
        cs->started = 0;
    }
    if (++cs->started > (uint32_t)L->srv->cfg->http_conn_rps)
        return 1;
    return to_pool && cs->inflight >= (uint32_t)L->srv->cfg->http_conn_inflight;
}

static void on_guard_dispose(void *p);
static void on_deadline(h2o_timeout_entry_t *entry);

static void job_free(http_job_t *j)
{
    free(j->cache_key);
    api_req_free(&j->a); /* frees j: the api_req_t is its first member */
}

/* The If-None-Match header of req, or NULL. */
static const h2o_iovec_t *if_none_match(h2o_req_t *req)
{
    ssize_t i = h2o_find_header(&req->headers, H2O_TOKEN_IF_NONE_MATCH, -1);
    return i >= 0 ? &req->headers.entries[i].value : NULL;
}

/* Answers a GET of a ROUTE_CACHED route from the loop's cache: 1 if it did. */
static int answer_from_cache(loop_t *L, h2o_req_t *req, api_req_t *a, uint64_t t0)
{
    cache_hit_t hit;
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) ||
        !cache_get(L->cache, req->path.base, req->path.len, t0 / 1000, &hit)) {
        metrics_event(L->srv->metrics, L->id, METRICS_CACHE_MISS);
        return 0;
    }
    uint64_t written = written_version(L->srv, hit.market);
    if (hit.version < written) { /* a write answered by this server moved the market on */
        cache_set_version(L->cache, hit.market, written);
        metrics_event(L->srv->metrics, L->id, METRICS_CACHE_MISS);
        return 0;
    }
    if (hit.product > 0 && hit.version < __atomic_load_n(stock_written_slot(L->srv, hit.product), __ATOMIC_ACQUIRE)) {
        /* a checkout or cancel answered here changed this product's stock: its buyer sees it */
        metrics_event(L->srv->metrics, L->id, METRICS_CACHE_MISS);
        return 0;
    }
    metrics_event(L->srv->metrics, L->id, METRICS_CACHE_HIT);
    if (hit.stock_stale)
        metrics_event(L->srv->metrics, L->id, METRICS_CACHE_STALE);
    const h2o_iovec_t *inm = if_none_match(req);
    a->status = inm != NULL && cache_etag_matches(inm->base, inm->len, hit.etag) ? 304 : 200;
    a->out = (char *)hit.body; /* h2o_send_inline copies it before the cache is touched again */
    a->out_len = hit.len;
    a->out_static = 1;
    a->content_type = "application/json";
    a->etag = (char *)hit.etag;
    send_reply(L, req, a, NULL, t0);
    a->etag = NULL; /* the cache's, not ours to free */
    return 1;
}
static void run_job(pool_job_t *job, worker_t *w);
static void post_done(pool_job_t *job);

/* Hands the request to the pool; answers 503 itself when the queue is full. */
static void submit(loop_t *L, h2o_req_t *req, http_job_t *j, conn_state_t *cs)
{
    j->loop = L;
    j->cs = cs;
    j->a.job.run = run_job;
    j->a.job.done = post_done;
    guard_t *g = h2o_mem_alloc_shared(&req->pool, sizeof(*g), on_guard_dispose);
    *g = (guard_t){.job = j, .req = req, .loop = L};
    g->deadline.cb = on_deadline;
    j->guard = g;
    if (pool_submit(L->srv->pool, &j->a.job) != 0) {
        g->job = NULL;
        metrics_event(L->srv->metrics, L->id, METRICS_POOL_FULL);
        send_error(L, req, &j->a, SF_E_UNAVAILABLE, "overloaded", "the server is busy; try again shortly", NULL, NULL,
                   j->t0_us);
        job_free(j);
        return;
    }
    if (cs != NULL) {
        cs->refs++;
        cs->inflight++;
    }
    L->inflight++;
    __atomic_add_fetch(&L->srv->inflight_total, 1, __ATOMIC_RELAXED);
    h2o_timeout_link(L->ctx.loop, &L->deadline_timeout, &g->deadline);
}

/* A new request's client address and request id into a; its connection's state, or NULL. */
static conn_state_t *intake(loop_t *L, h2o_req_t *req, api_req_t *a)
{
    conn_state_t *cs = conn_of(req);
    if (cs == NULL) {
        peer_of(req, a->peer, sizeof(a->peer));
    } else {
        if (cs->peer[0] == '\0')
            peer_of(req, cs->peer, sizeof(cs->peer));
        memcpy(a->peer, cs->peer, sizeof(cs->peer));
    }
    set_request_id(L, req, a);
    return cs;
}

static int on_req(h2o_handler_t *self, h2o_req_t *req)
{
    loop_t *L = loop_of(req);
    api_server_t *S = L->srv;
    uint64_t t0 = now_us();
    const route_t *route = NULL;
    router_params_t params = {0};
    char allow[128];
    api_req_t local = {.cfg = S->cfg, .server = S};
    conn_state_t *cs = intake(L, req, &local);

    router_result_t rr = router_match(S->routes, req->method.base, req->method.len, req->path_normalized.base,
                                      req->path_normalized.len, &route, &params, allow, sizeof(allow));
    if (rr == ROUTER_NOT_FOUND) {
        send_error(L, req, &local, SF_E_NOT_FOUND, NULL, "no such path", NULL, NULL, t0);
        return 0;
    }
    if (rr == ROUTER_METHOD) {
        send_error(L, req, &local, SF_E_METHOD, NULL, NULL, json_pack("{s:s}", "allow", allow), allow, t0);
        return 0;
    }
    local.route = route;
    if (over_limits(L, cs, !(route->flags & ROUTE_INLINE))) {
        metrics_event(S->metrics, L->id, METRICS_RATE_LIMITED);
        send_error(L, req, &local, SF_E_RATE_LIMITED, NULL, "too many requests on this connection", NULL, NULL, t0);
        return 0;
    }
    if (req->entity.base != NULL && req->entity.len > (size_t)S->cfg->http_max_body) {
        send_error(L, req, &local, SF_E_TOO_LARGE, NULL, NULL, json_pack("{s:I}", "max_bytes", S->cfg->http_max_body),
                   NULL, t0);
        return 0;
    }
    if ((route->flags & ROUTE_CACHED) && answer_from_cache(L, req, &local, t0))
        return 0;
    if ((route->flags & ROUTE_INLINE)) {
        route->fn(&local, NULL);
        send_reply(L, req, &local, NULL, t0);
        if (!local.out_static)
            free(local.out);
        free(local.etag);
        return 0;
    }
    http_job_t *j = calloc(1, sizeof(*j));
    if (j == NULL) {
        send_error(L, req, &local, SF_E_INTERNAL, NULL, "out of memory", NULL, NULL, t0);
        return 0;
    }
    j->a = local;
    j->t0_us = t0;
    if (((route->flags & ROUTE_BODY_JSON) ||
         ((route->flags & ROUTE_BODY_JSON_OPT) && req->entity.base != NULL && req->entity.len > 0)) &&
        take_json_body(L, req, &j->a, t0) != 0) {
        job_free(j);
        return 0;
    }
    if ((route->flags & ROUTE_CACHED) && (j->cache_key = strndup(req->path.base, req->path.len)) == NULL) {
        send_error(L, req, &j->a, SF_E_INTERNAL, NULL, "out of memory", NULL, NULL, t0);
        api_req_free(&j->a);
        return 0;
    }
    if (copy_inputs(req, &j->a, &params) != 0) {
        send_error(L, req, &j->a, SF_E_INTERNAL, NULL, "out of memory", NULL, NULL, t0);
        job_free(j);
        return 0;
    }
    submit(L, req, j, cs);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * The web app under /app/ (http.web_root): the built dashboards, files on disk.
 *
 * app_on_req answers every /app request itself, in front of three of h2o's file handlers
 * whose on_req it calls: h2o_file_register on <web_root>/assets (with the .br/.gz sibling
 * when the client takes it), h2o_file_register on <web_root> (its top-level files) and
 * h2o_file_register_file on <web_root>/index.html. They do the file work: Content-Type,
 * ETag, Last-Modified, 304 on If-None-Match or If-Modified-Since, HEAD, Range. Ours does
 * what they cannot: the connection's rate bound, GET and HEAD only, the security headers
 * and cache policy of every answer, missing files and the rest in the API's error shape,
 * the fallback of the app's own routes to index.html, and the access-log line and metrics
 * of every answer under one route (app_route). Those handlers sit on the /app pathconfs
 * behind ours only so that h2o initialises and frees them; ours always answers, so h2o
 * never calls them itself. Not h2o_file_send: in 2.2.5 it answers neither HEAD nor a
 * conditional request. A file handler starts its answer before its on_req returns, so the
 * status is known then, and the request is logged then, as API answers are: when the
 * headers go, not when the last byte has.
 *
 * Paths: h2o normalises the path before any handler runs (percent-decoding, "." and "..",
 * a %2F is a slash), and a path that would climb out ends up as "/" or outside /app, where
 * the API's router answers it: what reaches here is /app or /app/<path> with no "..".
 * ------------------------------------------------------------------------------------- */

/* Hashed asset names change with their content: keep them a year. */
#define APP_CC_ASSET "public, max-age=31536000, immutable"
#define APP_CC_INDEX "no-cache"            /* revalidated each time: a new build shows at once */
#define APP_CC_FILE  "public, max-age=300" /* unhashed top-level files (favicon.svg) */
#define APP_ALLOW    "GET, HEAD"
/* Our own origin only. Element Plus and ECharts set inline style attributes, hence
 * 'unsafe-inline' for styles; scripts get neither inline nor eval. */
#define APP_CSP                                                                                                        \
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "           \
    "media-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"

/* Starts req's headers afresh with the security headers; with cc (a file answer), also its
 * Cache-Control and X-Request-Id (send_reply adds those to an error). */
static void app_headers(h2o_req_t *req, const api_req_t *a, const char *cc)
{
    req->res.headers = (h2o_headers_t){NULL, 0, 0};
    static const struct {
        const char *name, *value;
    } sec[] = {
        {"x-content-type-options", "nosniff"},
        {"referrer-policy", "no-referrer"},
        {"x-frame-options", "DENY"},
        {"content-security-policy", APP_CSP},
    };
    for (size_t i = 0; i < sizeof(sec) / sizeof(sec[0]); i++)
        h2o_add_header_by_str(&req->pool, &req->res.headers, sec[i].name, strlen(sec[i].name), 1, NULL, sec[i].value,
                              strlen(sec[i].value));
    if (cc == NULL)
        return;
    h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_CACHE_CONTROL, NULL, cc, strlen(cc));
    h2o_add_header_by_str(&req->pool, &req->res.headers, H2O_STRLIT("x-request-id"), 0, NULL,
                          h2o_strdup(&req->pool, a->request_id, SIZE_MAX).base, strlen(a->request_id));
}

/* Lets one of h2o's file handlers answer req with Cache-Control cc; logs the answer.
 * 0, or -1 when it has no such file (nothing sent: the caller answers). */
static int app_file(loop_t *L, h2o_req_t *req, api_req_t *a, h2o_handler_t *files, const char *cc, uint64_t t0)
{
    app_headers(req, a, cc);
    if (files->on_req(files, req) != 0)
        return -1;
    a->status = req->res.status;
    log_request(L, req, a, a->route->index, t0);
    return 0;
}

static void app_error(loop_t *L, h2o_req_t *req, api_req_t *a, sf_status_t err, const char *msg, uint64_t t0)
{
    app_headers(req, a, NULL);
    int method = err == SF_E_METHOD;
    send_error(L, req, a, err, NULL, msg, method ? json_pack("{s:s}", "allow", APP_ALLOW) : NULL,
               method ? APP_ALLOW : NULL, t0);
}

static int app_on_req(h2o_handler_t *self, h2o_req_t *req)
{
    (void)self;
    loop_t *L = loop_of(req);
    api_server_t *S = L->srv;
    uint64_t t0 = now_us();
    api_req_t a = {.cfg = S->cfg, .server = S, .route = &S->app_route};
    conn_state_t *cs = intake(L, req, &a);
    if (over_limits(L, cs, 0)) {
        metrics_event(S->metrics, L->id, METRICS_RATE_LIMITED);
        app_error(L, req, &a, SF_E_RATE_LIMITED, "too many requests on this connection", t0);
        return 0;
    }
    if (!h2o_memis(req->method.base, req->method.len, H2O_STRLIT("GET")) &&
        !h2o_memis(req->method.base, req->method.len, H2O_STRLIT("HEAD"))) {
        app_error(L, req, &a, SF_E_METHOD, NULL, t0);
        return 0;
    }
    if (S->web_root == NULL) {
        app_error(L, req, &a, SF_E_NOT_FOUND, "the web app is not installed here (http.web_root is unset)", t0);
        return 0;
    }
    h2o_iovec_t p = req->path_normalized; /* "/app" or "/app/...": how the pathconfs matched */
    if (p.len == 4) {                     /* the app's relative URLs need the slash */
        app_headers(req, &a, APP_CC_INDEX);
        h2o_iovec_t query = req->query_at != SIZE_MAX
                                ? h2o_iovec_init(req->path.base + req->query_at, req->path.len - req->query_at)
                                : h2o_iovec_init(H2O_STRLIT(""));
        h2o_iovec_t to = h2o_concat(&req->pool, h2o_iovec_init(H2O_STRLIT("/app/")), query);
        h2o_add_header(&req->pool, &req->res.headers, H2O_TOKEN_LOCATION, NULL, to.base, to.len);
        req->res.status = 301;
        req->res.reason = "Moved Permanently";
        req->res.content_length = 0;
        a.status = 301;
        log_request(L, req, &a, a.route->index, t0);
        h2o_send_inline(req, "", 0);
        return 0;
    }
    const char *rest = p.base + 5;
    size_t n = p.len - 5;
    if (memchr(rest, '\0', n) != NULL) { /* a %00: open() would stop at it */
        app_error(L, req, &a, SF_E_NOT_FOUND, "no such file in the web app", t0);
        return 0;
    }
    if (n >= 7 && memcmp(rest, "assets/", 7) == 0) { /* never index.html: a missing script is an error */
        if (rest[n - 1] == '/' || app_file(L, req, &a, S->app_assets, APP_CC_ASSET, t0) != 0)
            app_error(L, req, &a, SF_E_NOT_FOUND, "no such asset in the web app", t0);
        return 0;
    }
    /* a top-level file if there is one; anything else is one of the app's own routes
     * (/app/vendor, /app/report?from=...), which index.html's router shows */
    if (n > 0 && memchr(rest, '/', n) == NULL && !h2o_memis(rest, n, H2O_STRLIT("index.html")) &&
        app_file(L, req, &a, S->app_files, APP_CC_FILE, t0) == 0)
        return 0;
    if (app_file(L, req, &a, S->app_index, APP_CC_INDEX, t0) != 0) /* removed since start-up */
        app_error(L, req, &a, SF_E_NOT_FOUND, "the web app's index.html is missing from http.web_root", t0);
    return 0;
}

/* ---------------------------------------------------------------------------------------
 * The round trip: worker thread, then back on the loop thread.
 * ------------------------------------------------------------------------------------- */

/* A strong entity tag for a body: its SHA-256, 128 bits of it in hex, quoted. Computed on
 * the worker, off the loop thread. NULL if OpenSSL fails (then there is no ETag). */
static char *etag_of(const char *body, size_t len)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    if (EVP_Digest(body, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen < 16)
        return NULL;
    char *tag = malloc(35);
    if (tag == NULL)
        return NULL;
    tag[0] = '"';
    for (int i = 0; i < 16; i++)
        snprintf(tag + 1 + 2 * i, 3, "%02x", md[i]);
    tag[33] = '"';
    tag[34] = '\0';
    return tag;
}

static void run_job(pool_job_t *job, worker_t *w)
{
    api_req_t *a = (api_req_t *)job;
    int roles = a->route->flags & ROUTE_ROLES;
    if (roles == ROUTE_PLATFORM ? platauth_check(a, w) != 0 : roles != 0 && auth_check(a, w, roles) != 0)
        return;                         /* it replied 401, 403, 429 or 503 */
    if (a->route->flags & ROUTE_CACHED) /* before the handler reads the version and the data */
        a->cache_born_ms = now_us() / 1000;
    a->route->fn(a, w);
    if ((a->route->flags & ROUTE_CACHED) && a->status == 200 && a->etag == NULL)
        a->etag = etag_of(a->out, a->out_len);
}

static void post_done(pool_job_t *job)
{
    http_job_t *j = (http_job_t *)job;
    h2o_multithread_send_message(&j->loop->done_rx, &j->msg);
}

static void conn_release(conn_state_t *cs)
{
    if (cs != NULL && --cs->refs == 0)
        free(cs);
}

/* A ROUTE_STREAM answer whose handler chose a stream: started and kept by sse.c. 1 if it
 * was; 0 to answer as usual (an error, or 503 when the loop is stopping). */
static int start_stream(loop_t *L, h2o_req_t *req, http_job_t *j)
{
    if (!(j->a.route->flags & ROUTE_STREAM) || j->a.status != 200 || j->a.stream_party[0] == '\0')
        return 0;
    sse_open_t o = {.party = j->a.stream_party,
                    .after = j->a.stream_after,
                    .request_id = j->a.request_id,
                    .peer = j->a.peer,
                    .pattern = j->a.route->pattern,
                    .protocol = protocol_of(req),
                    .route_index = j->a.route->index,
                    .t0_us = j->t0_us};
    if (sse_start(L->sse, req, &o) == 0)
        return 1;
    api_req_reset_reply(&j->a);
    api_reply_error(&j->a, SF_E_UNAVAILABLE, NULL, "no event stream can be opened here now; reconnect shortly", NULL);
    return 0;
}

static void on_done(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    loop_t *L = H2O_STRUCT_FROM_MEMBER(loop_t, done_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        http_job_t *j = H2O_STRUCT_FROM_MEMBER(http_job_t, msg.link, messages->next);
        h2o_linklist_unlink(&j->msg.link);
        L->inflight--;
        __atomic_sub_fetch(&L->srv->inflight_total, 1, __ATOMIC_RELAXED);
        if (j->cs != NULL)
            j->cs->inflight--;
        conn_release(j->cs);
        if (j->a.bumped_market > 0 && j->a.bumped_stock && L->srv->cfg->cache_stock_stale_ms > 0) {
            /* only stock moved: this loop knows the version, older answers stay a little,
             * except those about the products whose stock the writer changed */
            for (size_t i = 0; i < j->a.nbumped_products; i++)
                stock_written_raise(L->srv, j->a.bumped_products[i], j->a.bumped_version);
            cache_set_stock_version(L->cache, j->a.bumped_market, j->a.bumped_version);
        } else if (j->a.bumped_market > 0) { /* before the reply: the writer must read its write */
            written_raise(L->srv, j->a.bumped_market, j->a.bumped_version);
            cache_set_version(L->cache, j->a.bumped_market, j->a.bumped_version);
        }
        if (j->cache_key != NULL && j->a.status == 200 && j->a.cache_market > 0)
            cache_put_product(L->cache, j->cache_key, strlen(j->cache_key), j->a.out, j->a.out_len, j->a.etag,
                              j->a.cache_market, j->a.cache_version, j->a.cache_born_ms, j->a.cache_product);
        guard_t *g = j->guard;
        if (g != NULL) {
            g->job = NULL;
            if (h2o_timeout_is_linked(&g->deadline))
                h2o_timeout_unlink(&g->deadline);
            const h2o_iovec_t *inm = if_none_match(g->req);
            if (j->a.status == 200 && j->a.etag != NULL && inm != NULL &&
                cache_etag_matches(inm->base, inm->len, j->a.etag))
                j->a.status = 304;
            if (!start_stream(L, g->req, j))
                send_reply(L, g->req, &j->a, NULL, j->t0_us);
        }
        job_free(j);
    }
}

static void on_guard_dispose(void *p)
{
    guard_t *g = p;
    if (h2o_timeout_is_linked(&g->deadline))
        h2o_timeout_unlink(&g->deadline);
    if (g->job == NULL)
        return;
    /* The client left first: the answer, when it comes, is freed unsent. */
    http_job_t *j = g->job;
    j->guard = NULL;
    g->job = NULL;
    pool_job_cancel(&j->a.job);
    metrics_event(g->loop->srv->metrics, g->loop->id, METRICS_CLIENT_GONE);
    if (g->loop->log.fd >= 0) {
        accesslog_entry_t e = {j->a.request_id,     "-",          "-", j->a.route->pattern, "-", j->a.peer, 0,
                               now_us() - j->t0_us, "client_gone"};
        accesslog_write(&g->loop->log, &e);
    }
}

static void on_deadline(h2o_timeout_entry_t *entry)
{
    guard_t *g = H2O_STRUCT_FROM_MEMBER(guard_t, deadline, entry);
    http_job_t *j = g->job;
    if (j == NULL)
        return;
    j->guard = NULL;
    g->job = NULL;
    pool_job_cancel(&j->a.job);
    metrics_event(g->loop->srv->metrics, g->loop->id, METRICS_DEADLINE);
    /* Answer from a scratch request: the job still belongs to the pool until on_done. */
    api_req_t a = {.route = j->a.route, .cfg = j->a.cfg};
    memcpy(a.request_id, j->a.request_id, sizeof(a.request_id));
    memcpy(a.peer, j->a.peer, sizeof(a.peer));
    send_error(g->loop, g->req, &a, SF_E_TIMEOUT, NULL, NULL, NULL, NULL, j->t0_us);
}

/* ---------------------------------------------------------------------------------------
 * Connections and listeners.
 * ------------------------------------------------------------------------------------- */

static void on_sock_close(void *data)
{
    conn_state_t *cs = data;
    cs->loop->conns--;
    __atomic_sub_fetch(&cs->loop->srv->conns_total, 1, __ATOMIC_RELAXED);
    conn_release(cs);
}

static void on_accept(h2o_socket_t *listener, const char *err)
{
    loop_t *L = listener->data;
    h2o_accept_ctx_t *actx = listener == L->sock_tls ? &L->accept_tls : &L->accept_plain;
    if (err != NULL)
        return;
    /* Accept a bounded batch per wake-up so one listener cannot starve the loop. */
    for (int i = 0; i < 64; i++) {
        h2o_socket_t *sock = h2o_evloop_socket_accept(listener);
        if (sock == NULL)
            return;
        conn_state_t *cs = calloc(1, sizeof(*cs));
        if (cs == NULL) {
            h2o_socket_close(sock);
            continue;
        }
        cs->loop = L;
        cs->refs = 1;
        sock->on_close.cb = on_sock_close;
        sock->on_close.data = cs;
        L->conns++;
        __atomic_add_fetch(&L->srv->conns_total, 1, __ATOMIC_RELAXED);
        h2o_accept(actx, sock);
    }
}

static int bind_listener(const char *hostport, int reuseport, char *errbuf, size_t errlen)
{
    char host[256];
    int port;
    struct sockaddr_in sa = {.sin_family = AF_INET};
    if (config_split_hostport(hostport, host, sizeof(host), &port) != 0 ||
        inet_pton(AF_INET, host, &sa.sin_addr) != 1) {
        snprintf(errbuf, errlen, "'%s' is not an IPv4 host:port", hostport);
        return -1;
    }
    sa.sin_port = htons((uint16_t)port);
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), on = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on)) != 0 ||
        (reuseport && setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) ||
        bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 1024) != 0) {
        snprintf(errbuf, errlen, "cannot listen on %s: %s", hostport, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on));
    return fd;
}

/* SO_REUSEPORT would let a second server (same user) silently share the port with us:
 * first prove the address is free with a plain bind. */
static int check_free(const char *hostport, char *errbuf, size_t errlen)
{
    int fd = bind_listener(hostport, 0, errbuf, errlen);
    if (fd < 0)
        return -1;
    close(fd);
    return 0;
}

static SSL_CTX *make_ssl(const config_t *cfg, char *errbuf, size_t errlen)
{
    SSL_CTX *ssl = SSL_CTX_new(TLS_server_method());
    if (ssl == NULL)
        goto fail;
    SSL_CTX_set_min_proto_version(ssl, TLS1_2_VERSION);
    SSL_CTX_set_options(ssl, SSL_OP_NO_COMPRESSION | SSL_OP_CIPHER_SERVER_PREFERENCE | SSL_OP_NO_RENEGOTIATION);
    /* h2o 2.2.5 does not enforce HTTP/2's cipher rules: offer AEAD suites only. */
    if (SSL_CTX_set_cipher_list(ssl, "ECDHE+AESGCM:ECDHE+CHACHA20") != 1 ||
        SSL_CTX_use_certificate_chain_file(ssl, cfg->tls_cert) != 1 ||
        SSL_CTX_use_PrivateKey_file(ssl, cfg->tls_key, SSL_FILETYPE_PEM) != 1 || SSL_CTX_check_private_key(ssl) != 1)
        goto fail;
    h2o_ssl_register_alpn_protocols(ssl, h2o_alpn_protocols);
    return ssl;
fail:
    snprintf(errbuf, errlen, "TLS setup with %s and %s failed: %s", cfg->tls_cert, cfg->tls_key,
             ERR_reason_error_string(ERR_get_error()) ? ERR_reason_error_string(ERR_get_error()) : "unknown error");
    SSL_CTX_free(ssl);
    return NULL;
}

/* ---------------------------------------------------------------------------------------
 * Loop threads and shutdown.
 * ------------------------------------------------------------------------------------- */

static void stop_accepting(loop_t *L)
{
    if (L->sock_plain != NULL) {
        h2o_socket_read_stop(L->sock_plain);
        h2o_socket_close(L->sock_plain);
        L->sock_plain = NULL;
    }
    if (L->sock_tls != NULL) {
        h2o_socket_read_stop(L->sock_tls);
        h2o_socket_close(L->sock_tls);
        L->sock_tls = NULL;
    }
}

static void on_ctl(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    loop_t *L = H2O_STRUCT_FROM_MEMBER(loop_t, ctl_rx, rx);
    while (!h2o_linklist_is_empty(messages))
        h2o_linklist_unlink(messages->next);
    if (L->stopping)
        return;
    L->stopping = 1;
    L->stop_at_ms = h2o_now(L->ctx.loop);
    stop_accepting(L);
    sse_end_all(L->sse);                   /* open streams end now, not at the end of the grace period */
    h2o_context_request_shutdown(&L->ctx); /* GOAWAY on HTTP/2, no keep-alive on HTTP/1.1 */
}

static void on_version(h2o_multithread_receiver_t *rx, h2o_linklist_t *messages)
{
    loop_t *L = H2O_STRUCT_FROM_MEMBER(loop_t, ver_rx, rx);
    while (!h2o_linklist_is_empty(messages)) {
        version_msg_t *m = H2O_STRUCT_FROM_MEMBER(version_msg_t, super.link, messages->next);
        h2o_linklist_unlink(&m->super.link);
        if (m->market == 0)
            cache_clear(L->cache);
        else if (m->stock)
            cache_set_stock_version(L->cache, m->market, m->version);
        else
            cache_set_version(L->cache, m->market, m->version);
        free(m);
    }
}

/* The subscriber's callbacks, on its thread: a copy of the news for every loop. */
static void broadcast_version(void *ctx, int64_t market, uint64_t version, int stock)
{
    api_server_t *S = ctx;
    for (size_t i = 0; i < S->nloops; i++) {
        version_msg_t *m = calloc(1, sizeof(*m));
        if (m == NULL)
            continue; /* that loop's entries age out within CACHE_MAX_AGE_S */
        m->market = market;
        m->version = version;
        m->stock = stock;
        h2o_multithread_send_message(&S->loops[i]->ver_rx, &m->super);
    }
}

/* CACHEVER_CHANNEL: "<market>:<version>" or "<market>:<version>:h" (hard),
 * "<market>:<version>:s" (stock); anything else is ignored. */
static void on_version_msg(void *ctx, const char *msg, size_t len)
{
    int64_t market;
    uint64_t version;
    int stock;
    if (cachever_parse(msg, len, &market, &version, &stock) == 0)
        broadcast_version(ctx, market, version, stock);
}

/* Reconnected: invalidations may have been missed, so every loop forgets everything. */
static void on_version_connect(void *ctx)
{
    broadcast_version(ctx, 0, 0, 0);
}

/* EVENTS_CHANNEL: each loop's streams of the party get it. */
static void on_event_msg(void *ctx, const char *msg, size_t len)
{
    api_server_t *S = ctx;
    for (size_t i = 0; i < S->nloops; i++)
        sse_post(S->loops[i]->sse, msg, len);
}

/* Reconnected: events may have been missed, so every stream catches up from its last id. */
static void on_event_connect(void *ctx)
{
    api_server_t *S = ctx;
    for (size_t i = 0; i < S->nloops; i++)
        sse_resync(S->loops[i]->sse);
}

static void on_tick(h2o_timeout_entry_t *entry)
{
    loop_t *L = H2O_STRUCT_FROM_MEMBER(loop_t, tick, entry);
    if (L->log.len > 0)
        accesslog_flush(&L->log);
    if (L->stopping) {
        uint64_t waited = h2o_now(L->ctx.loop) - L->stop_at_ms;
        int drained = L->inflight == 0 && sse_jobs(L->sse) == 0 && (L->conns == 0 || waited >= SHUTDOWN_GOAWAY_MS);
        if (drained || waited >= (uint64_t)L->srv->cfg->shutdown_grace_s * 1000) {
            L->exiting = 1;
            return;
        }
    }
    h2o_timeout_link(L->ctx.loop, &L->tick_timeout, &L->tick);
}

/* Builds the loop's h2o context. Runs on the loop thread itself: h2o 2.2.5 ties every
 * socket buffer to the recycling list of the thread that created the socket (a __thread
 * prototype), so a context built on the main thread would have its queue socket's buffers
 * recycled by two threads at once: memory corruption under load. */
static void loop_init(loop_t *L)
{
    api_server_t *S = L->srv;
    h2o_context_init(&L->ctx, h2o_evloop_create(), &S->h2o);
    L->accept_plain = (h2o_accept_ctx_t){.ctx = &L->ctx, .hosts = S->h2o.hosts};
    L->accept_tls = (h2o_accept_ctx_t){.ctx = &L->ctx, .hosts = S->h2o.hosts, .ssl_ctx = S->ssl};
    h2o_multithread_register_receiver(L->ctx.queue, &L->done_rx, on_done);
    h2o_multithread_register_receiver(L->ctx.queue, &L->ctl_rx, on_ctl);
    h2o_multithread_register_receiver(L->ctx.queue, &L->ver_rx, on_version);
    L->cache = cache_new();
    if (L->cache != NULL)
        cache_set_stock_stale_ms(L->cache, (uint64_t)S->cfg->cache_stock_stale_ms);
    sse_env_t env = {S->cfg, &L->ctx, S->pool, S->metrics, L->id, &L->log, &S->streams_total};
    if ((L->sse = sse_loop_new(&env)) == NULL)
        log_error("loop %zu: out of memory for event streams: GET /v1/events answers 503 on it", L->id);
    h2o_timeout_init(L->ctx.loop, &L->deadline_timeout, (uint64_t)S->cfg->http_deadline_ms);
    h2o_timeout_init(L->ctx.loop, &L->tick_timeout, TICK_MS);
    L->tick.cb = on_tick;
    h2o_timeout_link(L->ctx.loop, &L->tick_timeout, &L->tick);
    L->sock_plain = h2o_evloop_socket_create(L->ctx.loop, L->fd_plain, H2O_SOCKET_FLAG_DONT_READ);
    L->sock_plain->data = L;
    h2o_socket_read_start(L->sock_plain, on_accept);
    if (L->fd_tls >= 0) {
        L->sock_tls = h2o_evloop_socket_create(L->ctx.loop, L->fd_tls, H2O_SOCKET_FLAG_DONT_READ);
        L->sock_tls->data = L;
        h2o_socket_read_start(L->sock_tls, on_accept);
    }
}

/* Tears the loop's h2o context down, on its own thread for the same reason. A loop whose
 * connections or jobs were still open when time ran out is left as it is: the process is
 * ending, and disposing a context under live connections would free what they point at. */
static void loop_fini(loop_t *L)
{
    if (L->conns != 0 || L->inflight != 0 || sse_jobs(L->sse) != 0 || sse_open_count(L->sse) != 0)
        return;
    /* The trap: h2o's graceful-shutdown entry sits on one_sec_timeout; disposing the
     * context while it is linked aborts in h2o_timeout_dispose. */
    if (h2o_timeout_is_linked(&L->ctx.http2._graceful_shutdown_timeout))
        h2o_timeout_unlink(&L->ctx.http2._graceful_shutdown_timeout);
    if (h2o_timeout_is_linked(&L->tick))
        h2o_timeout_unlink(&L->tick);
    h2o_multithread_unregister_receiver(L->ctx.queue, &L->done_rx);
    h2o_multithread_unregister_receiver(L->ctx.queue, &L->ctl_rx);
    h2o_multithread_unregister_receiver(L->ctx.queue, &L->ver_rx);
    cache_free(L->cache);
    L->cache = NULL;
    sse_loop_free(L->sse);
    L->sse = NULL;
    h2o_timeout_dispose(L->ctx.loop, &L->deadline_timeout);
    h2o_timeout_dispose(L->ctx.loop, &L->tick_timeout);
    h2o_evloop_t *evloop = L->ctx.loop;
    h2o_multithread_queue_t *queue = L->ctx.queue;
    h2o_context_dispose(&L->ctx);
    h2o_evloop_destroy(evloop);
    /* 2.2.5's evloop build of h2o_multithread_destroy_queue closes the queue's sockets but
     * never frees the queue itself (the libuv build does, in its close callback); nothing
     * refers to it once the loop is gone. */
    free(queue);
    L->disposed = 1;
}

static void *loop_main(void *arg)
{
    loop_t *L = arg;
    api_server_t *S = L->srv;
    loop_init(L);
    pthread_mutex_lock(&S->ready_mu);
    S->ready++;
    pthread_cond_broadcast(&S->ready_cv);
    pthread_mutex_unlock(&S->ready_mu);
    while (!L->exiting)
        h2o_evloop_run(L->ctx.loop, INT32_MAX);
    /* Requests still in the pool when time ran out are dropped with the process. */
    __atomic_add_fetch(&S->unanswered_at_exit, L->inflight, __ATOMIC_RELAXED);
    loop_fini(L);
    return NULL;
}

static loop_t *loop_new(api_server_t *S, size_t id, char *errbuf, size_t errlen)
{
    loop_t *L = calloc(1, sizeof(*L));
    if (L == NULL)
        return NULL;
    L->srv = S;
    L->id = id;
    L->fd_tls = -1;
    unsigned char rnd[6];
    RAND_bytes(rnd, sizeof(rnd));
    snprintf(L->id_prefix, sizeof(L->id_prefix), "%02x%02x%02x%02x%02x%02x-", rnd[0], rnd[1], rnd[2], rnd[3], rnd[4],
             rnd[5]);
    if (accesslog_open(&L->log, S->cfg->log_access) != 0) {
        snprintf(errbuf, errlen, "access log %s: %s", S->cfg->log_access, strerror(errno));
        free(L);
        return NULL;
    }
    if ((L->fd_plain = bind_listener(S->cfg->http_listen, 1, errbuf, errlen)) < 0 ||
        (S->ssl != NULL && (L->fd_tls = bind_listener(S->cfg->tls_listen, 1, errbuf, errlen)) < 0)) {
        if (L->fd_plain >= 0)
            close(L->fd_plain);
        accesslog_close(&L->log);
        free(L);
        return NULL;
    }
    return L;
}

/* Resolves http.web_root into S->web_root: 0, or -1 with errbuf when it is set but is not
 * a directory holding a readable index.html (serve then refuses to start: a 404 for every
 * page would hide the mistake). Empty: no web app, 0. */
static int app_root_check(api_server_t *S, char *errbuf, size_t errlen)
{
    const char *root = S->cfg->http_web_root;
    if (root == NULL || root[0] == '\0')
        return 0;
    struct stat st;
    char *real = realpath(root, NULL);
    if (real == NULL || stat(real, &st) != 0 || !S_ISDIR(st.st_mode)) {
        snprintf(errbuf, errlen,
                 "http.web_root '%s' is not a directory (%s): point it at the built web app (web/dist) or leave it "
                 "empty",
                 root, real == NULL ? strerror(errno) : "not a directory");
        free(real);
        return -1;
    }
    char index[PATH_MAX + 16];
    snprintf(index, sizeof(index), "%s/index.html", real);
    if (stat(index, &st) != 0 || !S_ISREG(st.st_mode) || access(index, R_OK) != 0) {
        snprintf(
            errbuf, errlen,
            "http.web_root '%s' holds no readable index.html: is it the built web app (web/dist, after the build)?",
            root);
        free(real);
        return -1;
    }
    S->web_root = real;
    return 0;
}

/* The /app pathconfs (see app_on_req): /app/assets, then /app. h2o 2.2.5 binds a request to
 * the FIRST registered path that prefixes its own (lib/core/request.c, process_hosted_request),
 * not the longest, so these go before "/". A pathconf pointer is good only until the next
 * registration (the host's vector of them may move); handlers are allocated apart. */
static void setup_app(api_server_t *S, h2o_hostconf_t *host)
{
    static const char *no_index[] = {NULL}; /* a directory is never answered with a file in it */
    h2o_mimemap_t *types = NULL;
    if (S->web_root != NULL) {
        types = h2o_mimemap_create();
        h2o_mimemap_define_mimetype(types, "html", "text/html; charset=utf-8", NULL);
        h2o_mimemap_define_mimetype(types, "js", "text/javascript; charset=utf-8", NULL);
        h2o_mimemap_define_mimetype(types, "mjs", "text/javascript; charset=utf-8", NULL);
        h2o_mimemap_define_mimetype(types, "css", "text/css; charset=utf-8", NULL);
        h2o_mimemap_define_mimetype(types, "map", "application/json", NULL);
        h2o_mimemap_define_mimetype(types, "webmanifest", "application/manifest+json", NULL);
    }
    h2o_pathconf_t *pc = h2o_config_register_path(host, "/app/assets", 0);
    h2o_create_handler(pc, sizeof(h2o_handler_t))->on_req = app_on_req;
    if (S->web_root != NULL) {
        char dir[PATH_MAX + 16];
        snprintf(dir, sizeof(dir), "%s/assets", S->web_root);
        h2o_file_register(pc, dir, no_index, types, H2O_FILE_FLAG_SEND_COMPRESSED);
        S->app_assets = pc->handlers.entries[pc->handlers.size - 1];
    }
    pc = h2o_config_register_path(host, "/app", 0);
    h2o_create_handler(pc, sizeof(h2o_handler_t))->on_req = app_on_req;
    if (S->web_root != NULL) {
        char index[PATH_MAX + 16];
        snprintf(index, sizeof(index), "%s/index.html", S->web_root);
        h2o_file_register(pc, S->web_root, no_index, types, 0);
        S->app_files = pc->handlers.entries[pc->handlers.size - 1];
        S->app_index = h2o_file_register_file(
            pc, index, h2o_mimemap_get_type_by_extension(types, h2o_iovec_init(H2O_STRLIT("html"))), 0);
        h2o_mem_release_shared(types); /* the handlers hold their own references */
    }
}

static void setup_h2o(api_server_t *S)
{
    h2o_config_init(&S->h2o);
    S->h2o.max_request_entity_size = (size_t)S->cfg->http_max_body * HARD_BODY_FACTOR;
    S->h2o.http1.req_timeout = (uint64_t)S->cfg->http_idle_timeout_s * 1000;
    S->h2o.http2.idle_timeout = (uint64_t)S->cfg->http_idle_timeout_s * 1000;
    S->h2o.server_name = h2o_iovec_init(H2O_STRLIT("stallfront"));
    h2o_hostconf_t *host = h2o_config_register_host(&S->h2o, h2o_iovec_init(H2O_STRLIT("default")), 65535);
    setup_app(S, host);
    h2o_pathconf_t *path = h2o_config_register_path(host, "/", 0);
    h2o_handler_t *handler = h2o_create_handler(path, sizeof(*handler));
    handler->on_req = on_req;
    S->h2o_ready = 1;
}

http_server_t *http_server_new(const config_t *cfg, const router_t *routes, pool_t *pool, char *errbuf, size_t errlen)
{
    api_server_t *S = calloc(1, sizeof(*S));
    if (S == NULL)
        return NULL;
    S->cfg = cfg;
    S->routes = routes;
    S->pool = pool;
    pthread_mutex_init(&S->ready_mu, NULL);
    pthread_cond_init(&S->ready_cv, NULL);
    long cores = sysconf(_SC_NPROCESSORS_ONLN);
    S->nloops = cfg->http_threads > 0 ? (size_t)cfg->http_threads : cores > 0 ? (size_t)cores : 1;
    if (S->nloops > MAX_THREADS)
        S->nloops = MAX_THREADS;
    /* the routes, then the web app's one, then "unmatched" (metrics_new adds it) */
    const char *labels[ROUTER_MAX_ROUTES + 1];
    char label_buf[ROUTER_MAX_ROUTES][160];
    for (size_t i = 0; i < routes->n; i++) {
        snprintf(label_buf[i], sizeof(label_buf[i]), "%s %s", routes->routes[i]->method, routes->routes[i]->pattern);
        labels[i] = label_buf[i];
    }
    S->app_route = (route_t){.method = "GET", .pattern = (char *)"/app/*", .index = routes->n};
    labels[routes->n] = "GET /app/*";
    S->unmatched = routes->n + 1;
    if ((S->metrics = metrics_new(routes->n + 1, labels, S->nloops)) == NULL)
        goto fail;
    if (app_root_check(S, errbuf, errlen) != 0)
        goto fail;
    if (check_free(cfg->http_listen, errbuf, errlen) != 0)
        goto fail;
    if (cfg->tls_listen[0] != '\0') {
        if (check_free(cfg->tls_listen, errbuf, errlen) != 0 || (S->ssl = make_ssl(cfg, errbuf, errlen)) == NULL)
            goto fail;
    }
    setup_h2o(S);
    for (size_t i = 0; i < S->nloops; i++)
        if ((S->loops[i] = loop_new(S, i, errbuf, errlen)) == NULL)
            goto fail;
    return S;
fail:
    http_server_free(S);
    return NULL;
}

int http_server_start(http_server_t *S)
{
    size_t created = 0;
    for (size_t i = 0; i < S->nloops; i++) {
        if (pthread_create(&S->loops[i]->tid, NULL, loop_main, S->loops[i]) != 0)
            break;
        S->loops[i]->started = 1;
        created++;
    }
    /* Shutdown messages go to receivers the threads register: wait until they have, also
     * when some failed to start, so that http_server_shutdown() can stop the others. */
    pthread_mutex_lock(&S->ready_mu);
    while (S->ready < created)
        pthread_cond_wait(&S->ready_cv, &S->ready_mu);
    pthread_mutex_unlock(&S->ready_mu);
    if (created != S->nloops)
        return -1;
    /* Only once every loop listens for versions. Without a subscriber the cache still
     * works, within CACHE_MAX_AGE_S of staleness. */
    static const cachesub_channel_t channels[] = {
        {CACHEVER_CHANNEL, on_version_msg, on_version_connect},
        {EVENTS_CHANNEL, on_event_msg, on_event_connect},
    };
    if ((S->sub = cachesub_start(S->cfg, channels, sizeof(channels) / sizeof(channels[0]), S)) == NULL)
        log_warn("pubsub: no subscriber; cached answers may be up to %d s stale, event streams get no live events",
                 CACHE_MAX_AGE_S);
    return 0;
}

size_t http_server_shutdown(http_server_t *S)
{
    cachesub_stop(S->sub); /* first: it posts to the loops */
    S->sub = NULL;
    for (size_t i = 0; i < S->nloops; i++)
        if (S->loops[i]->started)
            h2o_multithread_send_message(&S->loops[i]->ctl_rx, &S->loops[i]->stop_msg.super);
    for (size_t i = 0; i < S->nloops; i++)
        if (S->loops[i]->started) {
            pthread_join(S->loops[i]->tid, NULL);
            S->loops[i]->started = 0;
            S->loops[i]->joined = 1;
        }
    return __atomic_load_n(&S->unanswered_at_exit, __ATOMIC_RELAXED);
}

int http_server_free(http_server_t *S)
{
    if (S == NULL)
        return 1;
    int all_clean = 1;
    for (size_t i = 0; i < S->nloops; i++) {
        loop_t *L = S->loops[i];
        if (L == NULL)
            continue;
        accesslog_close(&L->log);
        if (!L->joined) { /* never ran: its listeners are still plain fds */
            close(L->fd_plain);
            if (L->fd_tls >= 0)
                close(L->fd_tls);
        } else if (!L->disposed) {
            all_clean = 0;
            continue;
        }
        free(L);
        S->loops[i] = NULL;
    }
    if (!all_clean)
        return 0; /* connections still point into the configuration: keep it to the end */
    if (S->h2o_ready)
        h2o_config_dispose(&S->h2o);
    pthread_mutex_destroy(&S->ready_mu);
    pthread_cond_destroy(&S->ready_cv);
    SSL_CTX_free(S->ssl);
    metrics_free(S->metrics);
    free(S->web_root);
    free(S);
    return 1;
}

void http_server_set_stats(http_server_t *S, statpoll_t *stats)
{
    S->stats = stats;
}

char *api_server_metrics(api_server_t *S, size_t *len)
{
    metrics_gauge_t g[] = {
        {"stallfront_pool_queue_depth", "jobs waiting for a worker", "gauge", (double)pool_depth(S->pool)},
        {"stallfront_pool_busy", "workers running a job", "gauge", (double)pool_busy(S->pool)},
        {"stallfront_pool_workers", "worker threads", "gauge", (double)pool_size(S->pool)},
        {"stallfront_http_in_flight", "requests handed to the pool and not yet answered", "gauge",
         (double)__atomic_load_n(&S->inflight_total, __ATOMIC_RELAXED)},
        {"stallfront_http_connections", "open client connections", "gauge",
         (double)__atomic_load_n(&S->conns_total, __ATOMIC_RELAXED)},
        {"stallfront_events_streams_open", "open GET /v1/events streams", "gauge",
         (double)__atomic_load_n(&S->streams_total, __ATOMIC_RELAXED)},
    };
    char *text = metrics_render(S->metrics, g, sizeof(g) / sizeof(g[0]), len);
    size_t extra_len = 0;
    char *extra = text != NULL && S->stats != NULL ? statpoll_copy(S->stats, &extra_len) : NULL;
    if (extra != NULL) {
        char *joined = realloc(text, *len + extra_len + 1);
        if (joined != NULL) {
            memcpy(joined + *len, extra, extra_len + 1);
            *len += extra_len;
            text = joined;
        }
        free(extra);
    }
    return text;
}
