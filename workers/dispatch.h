/*
 * The dispatch worker (issue 9, item 3; DESIGN.md "Dispatch and delivery"):
 *
 *   order.paid (or order.ready with dispatch.trigger=ready) ──(group dispatch)──▶ the
 *       delivery made (once per order) and its first dispatch step, in one transaction
 *   delayed:delivery.due ──(mover)──▶ stream:delivery.due ──(group dispatch-due)──▶ the
 *       step due then: the open offer expired → the next courier; the back-off ran out → try again
 *   delivery.redrive (a refusal's outbox row) ──(group dispatch-redrive)──▶ the next courier now
 *   order.cancelled ──(group dispatch-cancel)──▶ the delivery failed, open offers withdrawn
 *   every order.sweep_interval_s: deliveries whose offer or retry is overdue, from MariaDB,
 *       stepped again (the safety net under Redis)
 *
 * A step (delivery_drive_tx) works under the delivery row's lock and is decided by its state,
 * not by the message, so a message delivered twice, late, or after a crash at any point
 * does no harm: at most one offer of a delivery is open, and a delivery waiting or offered
 * always has a due job or is found by the sweep. A due job names the delivery and the version
 * it was made for; its event id (processed key) is DISPATCH_JOB_ID(delivery, version). Every
 * step that needs a next one schedules it inside the transaction (a job of a step rolled
 * back finds another version and is dropped). Events (offer.new, offer.gone, the order's
 * change) are emitted after the commit.
 *
 * Kinds are immutable and shared; handlers run on `work` threads with their own connections.
 */
#ifndef SF_DISPATCH_H
#define SF_DISPATCH_H

#include <stddef.h>
#include "models/base/config.h"
#include "workers/queue.h"

#define DISPATCH_DUE_TOPIC     "delivery.due"
#define DISPATCH_GROUP         "dispatch"
#define DISPATCH_DUE_GROUP     "dispatch-due" /* also the sweep's processed consumer */
#define DISPATCH_REDRIVE_GROUP "dispatch-redrive"
#define DISPATCH_CANCEL_GROUP  "dispatch-cancel"
#define DISPATCH_CANCEL_TOPIC  "order.cancelled"
#define DISPATCH_SWEEP_MAX     200
#define DISPATCH_MOVE_MS       250 /* how often the mover moves due jobs of delivery.due */
#define DISPATCH_BLOCK_MS      50  /* block per kind in the dispatch job's round */
#define DISPATCH_JOB_ID(d, v)  ((d)*1000000 + (v) % 1000000)

/* The consumer of the trigger topic the configuration names (order.paid or order.ready). */
const queue_kind_t *dispatch_trigger_kind(const config_t *cfg);
const queue_kind_t *dispatch_due_kind(void);
const queue_kind_t *dispatch_redrive_kind(void);
const queue_kind_t *dispatch_cancel_kind(void);

/* queue_loop step, arg a queue_kinds_t * of the four kinds above: reads each briefly. */
int dispatch_step(queue_env_t *env, void *kinds);

/* One sweep: up to DISPATCH_SWEEP_MAX overdue deliveries stepped. 0, or -2 (MariaDB). */
int dispatch_sweep_once(db_t *db, redis_t *r, size_t *handled);

/* queue_loop step (arg unused): a sweep, then order.sweep_interval_s. */
int dispatch_sweep_step(queue_env_t *env, void *arg);

/* queue_loop step (arg unused): delivery_watch, then watchdog.interval_s. */
int watchdog_step(queue_env_t *env, void *arg);

#endif
