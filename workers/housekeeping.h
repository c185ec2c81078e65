/*
 * The `housekeeping` job of `stallfront work`: keeps the tables and the streams from
 * growing without bound, and asks again for refunds stuck pending. Every
 * housekeeping.interval_s:
 *   - deletes, in bounded batches (HOUSEKEEPING_BATCH rows a statement, at most
 *     HOUSEKEEPING_STATEMENTS statements a table a run, so no run holds locks for long):
 *     outbox rows published more than housekeeping.retention_days ago (never an unpublished
 *     one), processed rows older than that, idempotency keys older than 24 h;
 *   - trims every stream:* stream (XTRIM MINID) to the lowest id any of its consumer groups
 *     may still need (its lowest pending id, else its last-delivered id), and never to an id
 *     younger than retention_days; a stream with no group is left alone (DESIGN.md: never
 *     past the lowest pending id). Dead-letter streams are not touched;
 *   - deletes (XGROUP DELCONSUMER) from each group of those streams every consumer with no
 *     pending message idle longer than HOUSEKEEPING_CONSUMER_IDLE_MS: `work` names its
 *     consumers host-pid-job, so each restart leaves the old names behind. A consumer with
 *     pending messages is never deleted, however idle (that would drop its messages from
 *     the group's PEL; the reaper claims them first, and a later run deletes it);
 *   - writes a new 'refund.requested' outbox row for each refund pending longer than
 *     housekeeping.refund_stuck_s (at most PAY_STUCK_MAX a run), so the refund worker asks
 *     the provider again (idempotent there by out_refund_no; settling is idempotent here);
 *   - logs one line with the counts when it did anything.
 * Runs on a `work` thread with that thread's connections; no state between runs.
 */
#ifndef SF_HOUSEKEEPING_H
#define SF_HOUSEKEEPING_H

#include <stddef.h>
#include <stdint.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "workers/queue.h"
#include "models/store/redis.h"

#define HOUSEKEEPING_BATCH       1000 /* rows one DELETE removes at most */
#define HOUSEKEEPING_STATEMENTS  5    /* DELETEs per table per run */
#define HOUSEKEEPING_STREAMS_MAX 1000 /* streams looked at per run */
/* A consumer idle (no read attempt) this long without pending messages is gone: a live
 * consumer blocks in XREADGROUP again within a second, so a day is far beyond any pause. */
#define HOUSEKEEPING_CONSUMER_IDLE_MS (86400LL * 1000)
#define HOUSEKEEPING_CONSUMERS_MAX    1000 /* consumers deleted per group per run */

/* What one run did. */
typedef struct housekeeping_counts {
    size_t outbox;      /* published outbox rows deleted */
    size_t processed;   /* processed rows deleted */
    size_t idempotency; /* idempotency keys deleted */
    size_t streams;     /* streams trimmed (at least one entry removed) */
    size_t entries;     /* stream entries removed */
    size_t consumers;   /* idle consumers without pending messages deleted */
    size_t refunds;     /* stuck refunds asked for again */
} housekeeping_counts_t;

/* One run with cfg's housekeeping settings; *counts (may be NULL) what it did. The purges
 * stop at the first MariaDB failure; the streams are trimmed regardless; the stuck refunds
 * are asked for only when everything before succeeded (a failed run is tried again soon,
 * and must not ask for them each time). 0, -1 when Redis failed, -2 when MariaDB failed. */
int housekeeping_once(db_t *db, redis_t *r, const config_t *cfg, housekeeping_counts_t *counts);

/* housekeeping_once with consumers deleted once idle longer than consumer_idle_ms instead
 * of HOUSEKEEPING_CONSUMER_IDLE_MS (for tests, which cannot wait a day). */
int housekeeping_run(db_t *db, redis_t *r, const config_t *cfg, int64_t consumer_idle_ms,
                     housekeeping_counts_t *counts);

/* Trims the stream at key as described above, never past bound_ms-0; *removed (may be
 * NULL) how many entries went. 0, or -1 when Redis failed. */
int housekeeping_trim_stream(redis_t *r, const char *key, int64_t bound_ms, size_t *removed);

/* queue_loop step (arg unused): a run, then housekeeping.interval_s until the next. */
int housekeeping_step(queue_env_t *env, void *arg);

#endif
