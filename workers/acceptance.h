/*
 * The `acceptance` job of `stallfront work`: the acceptance deadlines of vendor orders
 * (issue 9, items 1 and 5). Every watchdog.interval_s:
 *   - a vendor order still `new` paid more than fulfil.accept_timeout_s ago is rejected
 *     automatically exactly as a vendor's rejection (models/fulfil.h, fulfil_auto_reject:
 *     actor "system:acceptance", reason "not accepted in time": its stock back, its amount
 *     refunded, the order cancelled and refunded in full when it was the last live one) and
 *     the alert vendor_order_auto_rejected raised; then the live update is emitted and the
 *     market's catalogue version bumped (stock came back);
 *   - a vendor order still `new` paid more than fulfil.accept_alert_s ago and not flagged
 *     yet is flagged (flagged_at) and the alert vendor_order_unaccepted raised, once.
 * At most ACCEPTANCE_BATCH of each a run, oldest first; a full batch runs again at once.
 * Every change is a conditional UPDATE in its own transaction, so the job may stop at any
 * point and start again, and two `work` processes running it never act twice on one
 * vendor order. Runs on a `work` thread with that thread's connections; no state between
 * runs.
 */
#ifndef SF_ACCEPTANCE_H
#define SF_ACCEPTANCE_H

#include <stddef.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "models/store/redis.h"
#include "workers/queue.h"

#define ACCEPTANCE_BATCH 100 /* vendor orders rejected, and flagged, per run at most */

/* What one run did. */
typedef struct acceptance_counts {
    size_t rejected; /* rejected automatically by this run */
    size_t flagged;  /* flagged to the operator by this run */
    int more;        /* a batch was full: run again at once */
} acceptance_counts_t;

/* One run with cfg's fulfil.accept_alert_s and fulfil.accept_timeout_s. 0, or -2 when
 * MariaDB failed (what was done before stays done). */
int acceptance_once(db_t *db, redis_t *r, const config_t *cfg, acceptance_counts_t *counts);

/* queue_loop step (arg unused): a run, then watchdog.interval_s until the next. */
int acceptance_step(queue_env_t *env, void *arg);

#endif
