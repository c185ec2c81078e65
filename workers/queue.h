/*
 * The queue machinery (DESIGN.md "Queues"), shared by every worker kind: Redis Streams
 * `stream:<topic>` with one consumer group per worker kind, idempotent consumers keyed on
 * (group, event_id) in the MariaDB `processed` table, acknowledgement only after COMMIT, a
 * reaper that re-claims messages idle past the lease and moves those delivered too often to
 * the dead-letter stream `dlq:<topic>:<group>`, and delayed jobs in the sorted set
 * `delayed:<topic>` moved to their stream by the Redis function sf_move_due.
 *
 * A message has the fields event_id, market_id and payload (a JSON object), as the relay
 * writes them; a delayed job moved by sf_move_due has one field `job` holding the same three
 * as a JSON object ({"event_id":..,"market_id":..,"payload":{..}}).
 *
 * Threads: every function works on the db_t and redis_t it is given, which belong to the
 * calling thread (a blocking XREADGROUP needs a connection of its own). queue_loop() runs
 * one periodic step on a thread until the stop flag is set, with back-off while a store is
 * down. Nothing here keeps state between calls; replies and parsed payloads are freed here.
 *
 * Trimming is not done here: workers/housekeeping.c trims each stream to the lowest id any
 * of its groups still needs (never past a pending message), and never newer than the
 * retention. Dead letters are kept for people.
 */
#ifndef SF_QUEUE_H
#define SF_QUEUE_H

#include <jansson.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "models/store/redis.h"

#define QUEUE_NAME_MAX     64   /* bytes of a topic or group name, with its NUL (processed.consumer) */
#define QUEUE_KEY_MAX      160  /* bytes of a stream, delayed or dead-letter key, with its NUL */
#define QUEUE_BATCH        16   /* messages read or claimed per call */
#define QUEUE_BLOCK_MS     1000 /* longest XREADGROUP block: the stop flag is seen at least this often */
#define QUEUE_MOVE_MAX     100  /* delayed jobs moved per topic per call */
#define QUEUE_BACKOFF_MAX  5000 /* ms: the longest wait between tries while a store is down */
#define QUEUE_FUNCTION_LIB "stallfront"

/* What a handler decided about one message. */
typedef enum queue_result {
    QUEUE_DONE,     /* commit, then acknowledge */
    QUEUE_RETRY,    /* roll back, leave pending: the reaper delivers it again after the lease */
    QUEUE_POISON,   /* roll back; it can never succeed: to the dead letters now */
    QUEUE_REQUEUED, /* roll back and acknowledge: the handler re-scheduled the work itself */
} queue_result_t;

/* Handles one message inside the transaction the runner opened (the processed row is
 * already written in it). payload is borrowed. It may use r (e.g. to schedule a delayed job)
 * but must not commit or roll back. */
typedef queue_result_t (*queue_handler_fn)(db_t *db, redis_t *r, int64_t event_id, int64_t market_id,
                                           const json_t *payload, void *ctx);

/* Runs after a QUEUE_DONE was committed (not for a duplicate): side effects that must follow
 * the commit, e.g. a catalogue version bump or a live-update event (which reads with db,
 * outside any transaction). May be NULL. */
typedef void (*queue_after_fn)(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload,
                               void *ctx);

/* A worker kind: its group is also its consumer name in the processed table. */
typedef struct queue_kind {
    const char *group; /* < QUEUE_NAME_MAX bytes */
    const char *topic; /* < QUEUE_NAME_MAX bytes */
    queue_handler_fn handle;
    queue_after_fn after_commit;
    void *ctx; /* handed to both; shared read-only if the kind runs on several threads */
    /* 1: the handler writes nothing to MariaDB and its effect in Redis is idempotent (the
     * same member at the same score of a sorted set), so it runs without a transaction or a
     * processed row (db is passed but not used): a redelivery repeats it and changes nothing.
     * Saves three statements a message (BEGIN, the processed row, COMMIT). */
    int redis_only;
} queue_kind_t;

/* The connections and identity of one worker thread (see queue_loop). */
typedef struct queue_env {
    const config_t *cfg;
    db_t db;
    redis_t redis;
    const atomic_int *stop;        /* set by the main thread on SIGTERM */
    char name[QUEUE_NAME_MAX];     /* the job's name, for the log */
    char consumer[QUEUE_NAME_MAX]; /* the consumer name in groups: host-pid-name */
    char failed[320];              /* set by a failing step: which store and why */
    int state;                     /* the step's own, starts at 0 (e.g. the relay's lock state) */
    uint64_t state_since;          /* the step's own too (the relay: db.reconnects when it took the lock) */
} queue_env_t;

/* One step of a periodic job: >= 0 is how many ms to wait before the next step (0: at
 * once); < 0 a failure with env->failed set (the loop backs off). */
typedef int (*queue_step_fn)(queue_env_t *env, void *arg);

/* ---- keys ---- */
int queue_stream_key(char *buf, size_t len, const char *topic);
int queue_delayed_key(char *buf, size_t len, const char *topic);
int queue_dlq_key(char *buf, size_t len, const char *topic, const char *group);

/* Wall-clock milliseconds since the epoch (due times of delayed jobs). */
int64_t queue_now_ms(void);

/* ---- groups, consuming, reaping ---- */

/* XGROUP CREATE stream:<topic> group 0 MKSTREAM; an existing group is fine. From 0, so that
 * what the relay published before the group existed is still delivered. 0 or -1. */
int queue_group_ensure(redis_t *r, const char *topic, const char *group);

/* Reads up to QUEUE_BATCH new messages for the kind (blocking up to block_ms) and handles
 * each. *handled (may be NULL) gets how many were read. 0, -1 when Redis failed, -2 when
 * MariaDB failed (the messages stay pending). */
int queue_consume_once(db_t *db, redis_t *r, const queue_kind_t *k, const char *consumer, int block_ms,
                       size_t *handled);

/* Claims messages idle longer than lease_ms (XAUTOCLAIM) to consumer; a message now
 * delivered more than max_deliveries times goes to the dead letters (and is acknowledged),
 * the others are handled again. *claimed (may be NULL) gets how many were claimed. 0, -1 or -2 as above. */
int queue_reap_once(db_t *db, redis_t *r, const queue_kind_t *k, const char *consumer, int lease_ms, int max_deliveries,
                    size_t *claimed);

/* Handles one event outside a stream (a sweep), exactly as a delivered message: begin,
 * processed row, handler, commit, after_commit. Returns what the handler decided, or
 * QUEUE_DONE for an event already processed; QUEUE_RETRY also when MariaDB failed. */
queue_result_t queue_apply(db_t *db, redis_t *r, const queue_kind_t *k, int64_t event_id, int64_t market_id,
                           const json_t *payload);

/* ---- delayed jobs ---- */

/* FUNCTION LOAD REPLACE of the `stallfront` library (sf_move_due). 0 or -1. */
int queue_functions_load(redis_t *r);

/* Schedules a job on delayed:<topic> due at due_ms: ZADD of {"event_id","market_id",
 * "payload"} serialised with sorted keys, so scheduling the same job twice is one job. 0 or -1. */
int queue_delay(redis_t *r, const char *topic, int64_t event_id, int64_t market_id, const json_t *payload,
                int64_t due_ms);

/* Moves up to QUEUE_MOVE_MAX jobs of delayed:<topic> due at now_ms or earlier to
 * stream:<topic>, atomically (FCALL sf_move_due; the library is loaded again if Redis lost
 * it). *moved (may be NULL) gets the count. 0 or -1. */
int queue_move_due(redis_t *r, const char *topic, int64_t now_ms, size_t *moved);

/* ---- running ---- */

/* Steps for queue_loop. queue_consumer_step: arg is a const queue_kind_t *; reads and
 * handles new messages (blocking up to QUEUE_BLOCK_MS). queue_reaper_step: arg is a
 * queue_kinds_t *; reaps every kind, then waits half a lease (100 ms to 1 s).
 * queue_mover_step: arg is a queue_topics_t *; moves due jobs, then waits interval_ms. */
typedef struct queue_kinds {
    const queue_kind_t *const *kinds;
    size_t n;
} queue_kinds_t;

typedef struct queue_topics {
    const char *const *topics;
    size_t n;
    int interval_ms;
} queue_topics_t;

int queue_consumer_step(queue_env_t *env, void *kind);

/* For a failing step: notes in env->failed which store failed (-1 Redis, -2 MariaDB) and
 * its error; returns -1, the step's failure value. */
int queue_step_failed(queue_env_t *env, int rc);
int queue_reaper_step(queue_env_t *env, void *kinds);
int queue_mover_step(queue_env_t *env, void *topics);

/* Sleeps ms in slices, returning early (1) once *stop is set; 0 otherwise. */
int queue_sleep(const atomic_int *stop, int ms);

/* The thread body of a periodic job: opens env's connections (db_thread_init first), calls
 * step until *stop, waits as step asks, backs off (200 ms doubling to QUEUE_BACKOFF_MAX) while
 * it fails and logs once when an outage starts and once when it ends; closes everything. */
void queue_loop(queue_env_t *env, queue_step_fn step, void *arg);

#endif
