/*
 * The worker pool: a fixed number of threads, each owning one MariaDB and one Redis
 * connection, fed from one bounded queue. Handlers that need either run here as plain
 * straight-line functions (libuv's work_cb); the job's done callback, called on the worker
 * thread after the work, hands it back to the thread that submitted it (after_work_cb).
 *
 * pool_submit() never blocks and never queues past the bound: a full queue is the
 * caller's cue to answer 503. A job marked cancelled before a worker takes it is not run,
 * but its done callback still is, so whoever owns the job frees it in exactly one place.
 * This file knows nothing of HTTP.
 */
#ifndef SF_POOL_H
#define SF_POOL_H

#include <pthread.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "models/store/redis.h"

typedef struct worker {
    size_t id;
    db_t db;
    redis_t redis;
} worker_t;

typedef struct pool_job pool_job_t;
struct pool_job {
    void (*run)(pool_job_t *job, worker_t *w); /* the work, on a worker thread */
    void (*done)(pool_job_t *job);             /* after run (or instead of it, if cancelled) */
    int cancelled;                             /* set with pool_job_cancel from any thread */
    int ran;                                   /* 1 if run was called */
};

typedef struct pool pool_t;

/* Creates the pool; threads start with pool_start(). NULL if out of memory. */
pool_t *pool_new(const config_t *cfg, size_t nworkers, size_t queue_cap);

/* Starts the workers (each connects lazily: a database that is down at start-up is not fatal). */
int pool_start(pool_t *p);

/* Queues a job. 0, or -1 when the queue is full or the pool is stopping. */
int pool_submit(pool_t *p, pool_job_t *job);

/* Marks a job so a worker that has not started it skips it. */
void pool_job_cancel(pool_job_t *job);
int pool_job_is_cancelled(pool_job_t *job);

/* Jobs waiting for a worker, and jobs being run, right now. */
size_t pool_depth(const pool_t *p);
size_t pool_busy(const pool_t *p);
size_t pool_size(const pool_t *p);

/* Runs what is queued, then stops and joins the workers, closing their connections. */
void pool_stop(pool_t *p);
void pool_free(pool_t *p);

#endif
