/*
 * Per-thread counters summed at render time. See metrics.h for the threading rules.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/http/metrics.h"

/* The statuses the API and the web app's files (206, 301, 416) use; anything else is
 * counted as "other". */
static const int statuses[] = {200, 201, 204, 206, 301, 304, 400, 401, 403, 404,
                               405, 409, 413, 415, 416, 422, 429, 500, 503, 504};
#define NSTATUS (sizeof(statuses) / sizeof(statuses[0]) + 1)

/* Histogram bounds in microseconds: from a cached read to a deadline. */
static const uint64_t bounds_us[] = {250,    500,    1000,   2500,    5000,    10000,   25000,   50000,
                                     100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000};
#define NBUCKET (sizeof(bounds_us) / sizeof(bounds_us[0]) + 1)

static const char *const event_names[METRICS_EVENT__COUNT][2] = {
    [METRICS_RATE_LIMITED] = {"stallfront_http_rate_limited_total",
                              "requests refused by the per-connection limits (429)"},
    [METRICS_POOL_FULL] = {"stallfront_pool_rejected_total",
                           "requests refused because the worker pool queue was full (503)"},
    [METRICS_DEADLINE] = {"stallfront_http_deadline_exceeded_total",
                          "requests answered 504 because the deadline passed"},
    [METRICS_CLIENT_GONE] = {"stallfront_http_client_gone_total", "requests whose client went away before the answer"},
    [METRICS_CACHE_HIT] = {"stallfront_cache_hits_total", "catalogue reads answered from the loop threads' cache"},
    [METRICS_CACHE_MISS] = {"stallfront_cache_misses_total", "cacheable catalogue reads that went to the worker pool"},
    [METRICS_CACHE_STALE] = {"stallfront_cache_stock_stale_hits_total",
                             "cache hits older than a stock-only bump, served within cache.stock_stale_ms"},
    [METRICS_SSE_EVENTS] = {"stallfront_events_sent_total", "events queued on open GET /v1/events streams"},
    [METRICS_SSE_SLOW] = {"stallfront_events_slow_readers_dropped_total",
                          "event streams dropped because their reader fell events.buffer_bytes behind"},
};

typedef struct route_cells {
    uint64_t count[NSTATUS];
    uint64_t bucket[NBUCKET];
    uint64_t sum_us;
} route_cells_t;

typedef struct slot {
    route_cells_t *routes; /* nroutes + 1 */
    uint64_t events[METRICS_EVENT__COUNT];
    char pad[64]; /* keeps one thread's hot counters off the next slot's line */
} slot_t;

struct metrics {
    size_t nroutes, nthreads;
    char **labels;
    slot_t *slots;
};

metrics_t *metrics_new(size_t nroutes, const char *const *labels, size_t nthreads)
{
    metrics_t *m = calloc(1, sizeof(*m));
    if (m == NULL)
        return NULL;
    m->nroutes = nroutes;
    m->nthreads = nthreads;
    m->labels = calloc(nroutes + 1, sizeof(char *));
    m->slots = calloc(nthreads, sizeof(slot_t));
    if (m->labels == NULL || m->slots == NULL)
        goto fail;
    for (size_t i = 0; i < nroutes; i++)
        if ((m->labels[i] = strdup(labels[i])) == NULL)
            goto fail;
    if ((m->labels[nroutes] = strdup("unmatched")) == NULL)
        goto fail;
    for (size_t t = 0; t < nthreads; t++)
        if ((m->slots[t].routes = calloc(nroutes + 1, sizeof(route_cells_t))) == NULL)
            goto fail;
    return m;
fail:
    metrics_free(m);
    return NULL;
}

void metrics_free(metrics_t *m)
{
    if (m == NULL)
        return;
    for (size_t i = 0; m->labels != NULL && i <= m->nroutes; i++)
        free(m->labels[i]);
    for (size_t t = 0; m->slots != NULL && t < m->nthreads; t++)
        free(m->slots[t].routes);
    free(m->labels);
    free(m->slots);
    free(m);
}

/* Single writer: a relaxed load and store compile to a plain add, yet readers on other
 * threads never see a torn value. */
static inline void bump(uint64_t *p, uint64_t by)
{
    __atomic_store_n(p, __atomic_load_n(p, __ATOMIC_RELAXED) + by, __ATOMIC_RELAXED);
}

static inline uint64_t get(const uint64_t *p)
{
    return __atomic_load_n(p, __ATOMIC_RELAXED);
}

static size_t status_index(int status)
{
    for (size_t i = 0; i < NSTATUS - 1; i++)
        if (statuses[i] == status)
            return i;
    return NSTATUS - 1;
}

void metrics_observe(metrics_t *m, size_t thread, size_t route, int status, uint64_t duration_us)
{
    if (thread >= m->nthreads)
        return;
    if (route > m->nroutes)
        route = m->nroutes;
    route_cells_t *c = &m->slots[thread].routes[route];
    size_t b = 0;
    while (b < NBUCKET - 1 && duration_us > bounds_us[b])
        b++;
    bump(&c->count[status_index(status)], 1);
    bump(&c->bucket[b], 1);
    bump(&c->sum_us, duration_us);
}

void metrics_event(metrics_t *m, size_t thread, metrics_event_t ev)
{
    if (thread < m->nthreads && ev < METRICS_EVENT__COUNT)
        bump(&m->slots[thread].events[ev], 1);
}

uint64_t metrics_count(const metrics_t *m, size_t route, int status)
{
    uint64_t n = 0;
    if (route > m->nroutes)
        return 0;
    for (size_t t = 0; t < m->nthreads; t++)
        n += get(&m->slots[t].routes[route].count[status_index(status)]);
    return n;
}

/* A growable text buffer with a hard cap, so a render can never run away. */
typedef struct {
    char *p;
    size_t len, cap;
    int failed;
} text_t;

#define METRICS_TEXT_MAX (8u << 20)

static void put(text_t *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(text_t *t, const char *fmt, ...)
{
    va_list ap;
    for (;;) {
        if (t->failed)
            return;
        size_t room = t->cap - t->len;
        va_start(ap, fmt);
        int n = vsnprintf(t->p + t->len, room, fmt, ap);
        va_end(ap);
        if (n < 0) {
            t->failed = 1;
            return;
        }
        if ((size_t)n < room) {
            t->len += (size_t)n;
            return;
        }
        size_t ncap = t->cap * 2 + (size_t)n;
        char *np = ncap <= METRICS_TEXT_MAX ? realloc(t->p, ncap) : NULL;
        if (np == NULL) {
            t->failed = 1;
            return;
        }
        t->p = np;
        t->cap = ncap;
    }
}

/* "GET /v1/x" → method="GET",route="/v1/x" */
static void put_labels(text_t *t, const char *label)
{
    const char *sp = strchr(label, ' ');
    if (sp == NULL)
        put(t, "method=\"\",route=\"%s\"", label);
    else
        put(t, "method=\"%.*s\",route=\"%s\"", (int)(sp - label), label, sp + 1);
}

static void render_routes(const metrics_t *m, text_t *t)
{
    put(t, "# HELP stallfront_http_requests_total HTTP requests answered, by route and status\n"
           "# TYPE stallfront_http_requests_total counter\n");
    for (size_t r = 0; r <= m->nroutes; r++)
        for (size_t s = 0; s < NSTATUS; s++) {
            uint64_t n = 0;
            for (size_t th = 0; th < m->nthreads; th++)
                n += get(&m->slots[th].routes[r].count[s]);
            if (n == 0)
                continue;
            put(t, "stallfront_http_requests_total{");
            put_labels(t, m->labels[r]);
            if (s < NSTATUS - 1)
                put(t, ",status=\"%d\"} %llu\n", statuses[s], (unsigned long long)n);
            else
                put(t, ",status=\"other\"} %llu\n", (unsigned long long)n);
        }
}

static void render_histograms(const metrics_t *m, text_t *t)
{
    put(t, "# HELP stallfront_http_request_duration_seconds time from routing to the answer, by route\n"
           "# TYPE stallfront_http_request_duration_seconds histogram\n");
    for (size_t r = 0; r <= m->nroutes; r++) {
        uint64_t b[NBUCKET] = {0}, sum = 0, total = 0;
        for (size_t th = 0; th < m->nthreads; th++) {
            for (size_t i = 0; i < NBUCKET; i++)
                b[i] += get(&m->slots[th].routes[r].bucket[i]);
            sum += get(&m->slots[th].routes[r].sum_us);
        }
        for (size_t i = 0; i < NBUCKET; i++)
            total += b[i];
        if (total == 0)
            continue;
        uint64_t cum = 0;
        for (size_t i = 0; i < NBUCKET; i++) {
            cum += b[i];
            put(t, "stallfront_http_request_duration_seconds_bucket{");
            put_labels(t, m->labels[r]);
            if (i < NBUCKET - 1)
                put(t, ",le=\"%g\"} %llu\n", (double)bounds_us[i] / 1e6, (unsigned long long)cum);
            else
                put(t, ",le=\"+Inf\"} %llu\n", (unsigned long long)cum);
        }
        put(t, "stallfront_http_request_duration_seconds_sum{");
        put_labels(t, m->labels[r]);
        put(t, "} %.6f\n", (double)sum / 1e6);
        put(t, "stallfront_http_request_duration_seconds_count{");
        put_labels(t, m->labels[r]);
        put(t, "} %llu\n", (unsigned long long)total);
    }
}

char *metrics_render(const metrics_t *m, const metrics_gauge_t *extra, size_t nextra, size_t *len)
{
    text_t t = {malloc(16384), 0, 16384, 0};
    if (t.p == NULL)
        return NULL;
    render_routes(m, &t);
    render_histograms(m, &t);
    for (size_t e = 0; e < METRICS_EVENT__COUNT; e++) {
        uint64_t n = 0;
        for (size_t th = 0; th < m->nthreads; th++)
            n += get(&m->slots[th].events[e]);
        put(&t, "# HELP %s %s\n# TYPE %s counter\n%s %llu\n", event_names[e][0], event_names[e][1], event_names[e][0],
            event_names[e][0], (unsigned long long)n);
    }
    for (size_t i = 0; i < nextra; i++)
        put(&t, "# HELP %s %s\n# TYPE %s %s\n%s %.17g\n", extra[i].name, extra[i].help, extra[i].name, extra[i].type,
            extra[i].name, extra[i].value);
    if (t.failed) {
        free(t.p);
        return NULL;
    }
    *len = t.len;
    return t.p;
}
