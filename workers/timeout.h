/*
 * The unpaid-order timeout (issue 4, item 7): an order left unpaid is cancelled at its
 * expires_at and its stock returned, exactly once, whether `work` ran at the time or not.
 *
 *   order.created ──(group timeout-scheduler)──▶ ZADD delayed:order.timeout at expires_at
 *   delayed:order.timeout ──(mover, sf_move_due)──▶ stream:order.timeout
 *   stream:order.timeout ──(group order-timeout)──▶ order_cancel_unpaid_tx, then the
 *                                                    market's catalogue version is bumped
 *   every order.sweep_interval_s: overdue pending orders from MariaDB, cancelled the same way
 *
 * The queue and the sweep record the same processed key, (order-timeout, order id), so they
 * never both act on one order. Kinds and steps run on `work` threads with their own
 * connections; the kinds are immutable and shared.
 */
#ifndef SF_TIMEOUT_H
#define SF_TIMEOUT_H

#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"
#include "workers/queue.h"
#include "models/store/redis.h"

#define TIMEOUT_CREATED_TOPIC   "order.created"
#define TIMEOUT_TOPIC           "order.timeout"
#define TIMEOUT_SCHEDULER_GROUP "timeout-scheduler"
#define TIMEOUT_GROUP           "order-timeout" /* also the sweep's processed consumer */
#define TIMEOUT_SWEEP_MAX       500             /* overdue orders taken per sweep */
#define TIMEOUT_SWEEP_GRACE_S   5               /* the sweep leaves orders this fresh past due to the queue */
#define TIMEOUT_REDELAY_MS      1000            /* a job that came before the database thinks it is due */
#define TIMEOUT_MOVE_MS         500             /* how often the mover runs */

/* Reconciliation (PAYMENTS.md): asked before an unpaid order is cancelled, whether the
 * payment provider has taken the money meanwhile. 1: paid (recorded; the order is paid, not
 * cancelled), 0: not paid (the attempts were closed at the provider: cancel), -1: unknown
 * (try again later: an order that may have been paid is never cancelled). Runs inside the
 * consumer's transaction. Set in one place: `hooks` in timeout.c. */
typedef int (*timeout_reconcile_fn)(db_t *db, redis_t *r, int64_t order_id);

/* The consumer of order.created that schedules the delayed job. */
const queue_kind_t *timeout_scheduler_kind(void);

/* The consumer of order.timeout that cancels. */
const queue_kind_t *timeout_consumer_kind(void);

/* One sweep: cancels up to TIMEOUT_SWEEP_MAX orders still pending_payment more than
 * TIMEOUT_SWEEP_GRACE_S past expires_at. *cancelled (may be NULL) gets how many it
 * handled. 0, or -2 when MariaDB failed. */
int timeout_sweep_once(db_t *db, redis_t *r, size_t *handled);

/* queue_loop step (arg unused): a sweep, then order.sweep_interval_s until the next. */
int timeout_sweep_step(queue_env_t *env, void *arg);

#endif
