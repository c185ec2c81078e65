/*
 * Server-sent event streams (`GET /v1/events`, DESIGN.md "Live updates", docs/events.md):
 * the loop thread's side of a ROUTE_STREAM route once its handler chose the party.
 *
 * Each loop thread has one sse_loop_t: a registry of its open streams by party, a heartbeat
 * timer, and two receivers on the loop's multithread queue: live events (posted by the
 * pub/sub subscriber's thread through sse_post) and backlog reads coming back from the
 * worker pool. A stream starts registered and "catching up": a pool job reads the party's
 * Redis stream after Last-Event-ID (or, without one, only its newest id, the anchor for a
 * later catch-up); live events arriving meanwhile are held on the stream; when the read
 * comes back, the backlog is queued, then the held events newer than the last one queued.
 * After the subscriber reconnects (sse_resync) every stream catches up the same way.
 *
 * Flow control: a stream hands h2o one chunk at a time and the next only after the
 * generator's proceed ran. Unsent bytes (queued plus handed over) are bounded by
 * events.buffer_bytes: a reader that falls further behind is dropped (the stream ends, its
 * connection's socket is shut down if a chunk is stuck in it) and its memory freed. The
 * stream holds no worker thread and no deadline. Everything here runs on the loop thread
 * except sse_post and sse_resync (any thread) and the backlog job's run (a worker).
 */
#ifndef SF_SSE_H
#define SF_SSE_H

#include <stddef.h>
#include <stdint.h>
#include <h2o.h>
#include "models/base/config.h"
#include "server/http/accesslog.h"
#include "server/http/metrics.h"
#include "server/http/pool.h"

typedef struct sse_loop sse_loop_t;

/* What a loop gives its streams; all outlive the sse_loop_t. */
typedef struct sse_env {
    const config_t *cfg;
    h2o_context_t *ctx;
    pool_t *pool;
    metrics_t *metrics;
    size_t loop_id;
    accesslog_t *log;
    size_t *open_total; /* server-wide open streams (atomic), for /metrics */
} sse_env_t;

/* What the handler decided and what the access-log line needs. */
typedef struct sse_open {
    const char *party;                                  /* "<role>:<id>" */
    const char *after;                                  /* Last-Event-ID, "" for none */
    const char *request_id, *peer, *pattern, *protocol; /* pattern and protocol: literals */
    size_t route_index;
    uint64_t t0_us;
} sse_open_t;

/* On the loop thread, after its context was built. NULL if out of memory. */
sse_loop_t *sse_loop_new(const sse_env_t *env);

/* Starts the answer on req (200, text/event-stream) and registers the stream. 0; or -1
 * (nothing was sent on req: the caller answers) when out of memory or stopping. */
int sse_start(sse_loop_t *l, h2o_req_t *req, const sse_open_t *o);

/* From any thread: one notice of EVENTS_CHANNEL ("<party>\n<id>\n<type>\n<json>") for the
 * loop's streams of that party. Malformed notices are dropped. */
void sse_post(sse_loop_t *l, const char *msg, size_t len);

/* From any thread: notices may have been missed; every stream catches up from its last id. */
void sse_resync(sse_loop_t *l);

/* Shutdown: ends every stream (after the chunk in flight) and refuses new ones. */
void sse_end_all(sse_loop_t *l);

/* Backlog reads handed to the pool and not yet back (the loop must not be torn down before
 * they are), and streams open on this loop. */
size_t sse_jobs(const sse_loop_t *l);
size_t sse_open_count(const sse_loop_t *l);

/* On the loop thread, once no stream is open and no job is out. */
void sse_loop_free(sse_loop_t *l);

#endif
