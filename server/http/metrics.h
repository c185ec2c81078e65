/*
 * Request metrics for /metrics, in Prometheus text format.
 *
 * Each loop thread writes only its own slot (single writer, relaxed atomic stores, no
 * locks, no shared cache lines on the hot path); /metrics sums the slots when it renders.
 * Counts are by route and status, durations in a fixed histogram per route. Gauges that
 * other parts own (pool queue depth, requests in flight) are passed in at render time.
 * Created once before the threads start; freed after they stop.
 */
#ifndef SF_METRICS_H
#define SF_METRICS_H

#include <stddef.h>
#include <stdint.h>

/* Events counted beside the per-route figures. */
typedef enum metrics_event {
    METRICS_RATE_LIMITED, /* 429 from the per-connection limits */
    METRICS_POOL_FULL,    /* 503 because the pool's queue was full */
    METRICS_DEADLINE,     /* 504 because the deadline passed */
    METRICS_CLIENT_GONE,  /* the client left before its answer */
    METRICS_CACHE_HIT,    /* a catalogue read answered from the loop thread's cache */
    METRICS_CACHE_MISS,   /* a cacheable read that went to the pool */
    METRICS_CACHE_STALE,  /* a hit older than a stock bump, within cache.stock_stale_ms */
    METRICS_SSE_EVENTS,   /* an event queued on an open GET /v1/events stream */
    METRICS_SSE_SLOW,     /* an event stream dropped: its reader fell events.buffer_bytes behind */
    METRICS_EVENT__COUNT
} metrics_event_t;

typedef struct metrics metrics_t;

typedef struct metrics_gauge {
    const char *name; /* full metric name, e.g. "stallfront_pool_queue_depth" */
    const char *help;
    const char *type; /* "gauge" or "counter" */
    double value;
} metrics_gauge_t;

/* labels[i] is "METHOD PATTERN" of route i; the route id nroutes counts unmatched requests. */
metrics_t *metrics_new(size_t nroutes, const char *const *labels, size_t nthreads);
void metrics_free(metrics_t *m);

/* Records one answered request. Only thread `thread` may call this for its slot. */
void metrics_observe(metrics_t *m, size_t thread, size_t route, int status, uint64_t duration_us);
void metrics_event(metrics_t *m, size_t thread, metrics_event_t ev);

/* Renders everything plus the extra gauges; malloc'd text, *len set; NULL if out of memory. */
char *metrics_render(const metrics_t *m, const metrics_gauge_t *extra, size_t nextra, size_t *len);

/* Sum over threads of requests answered with `status` on `route` (for tests and readiness). */
uint64_t metrics_count(const metrics_t *m, size_t route, int status);

#endif
