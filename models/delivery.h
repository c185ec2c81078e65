/*
 * Deliveries (DESIGN.md "Dispatch and delivery"): one per order, from `waiting` through
 * `offered`, `assigned`, `picked_up` to `delivered`, or `failed`. MariaDB decides who holds
 * one: every move is one conditional UPDATE ... WHERE id = ? AND version = ? (AND the state
 * it expects), version + 1, plus an order_events row with delivery_id set (to_status the
 * delivery's status) in the same transaction, and order_sync_status_tx after it, so the
 * order follows. Offers are rows of delivery_offers, keyed (delivery_id, courier_id): a
 * courier is offered a delivery at most once; at most one offer of a delivery is `open` at a
 * time (the dispatcher makes offers only under the delivery row's lock, after expiring the
 * open one); grab mode (after cfg->dispatch_rounds rounds) lets any courier on shift accept.
 *
 * Worker threads (handlers, the dispatch worker, tests) with their own db_t and redis_t.
 * Functions ending in _tx run inside the caller's transaction (a queue consumer's); the others
 * run their own (db_tx). Rendered JSON is the caller's. Outcomes of models/base/status.h.
 */
#ifndef SF_DELIVERY_H
#define SF_DELIVERY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/courier.h"
#include "models/store/db.h"
#include "models/store/redis.h"

#define DELIVERY_REDRIVE_TOPIC COURIER_REDRIVE_TOPIC /* outbox: offer the delivery to the next courier now */
#define DELIVERY_LIST_MAX      100
#define DELIVERY_LIST_DEFAULT  20
#define DELIVERY_CURSOR_KIND   'd'
#define DELIVERY_SWEEP_GRACE_S 5 /* the sweep leaves what is this fresh past due to the queue */
#define DELIVERY_TIME_MAX      40

/* The delivery statuses, NULL-ended (API.md). */
const char *const *delivery_status_names(void);

/* What one dispatch step did (delivery_drive_tx, delivery_fail_tx), for the caller's jobs
 * and events after the commit. */
typedef enum delivery_drive {
    DRIVE_IDLE,       /* nothing to do: gone, held, grab, closed */
    DRIVE_NOT_DUE,    /* an offer is still open, or the retry is not due: due_ms says when */
    DRIVE_OFFERED,    /* offered to courier_id until expires_at: due_ms */
    DRIVE_NO_COURIER, /* nobody to offer it to: retried in due_ms */
    DRIVE_GRAB,       /* open to every courier on shift in range (grab[]) */
    DRIVE_FAILED,     /* delivery_fail_tx: failed, open offers withdrawn */
} delivery_drive_t;

typedef struct delivery_step {
    delivery_drive_t result;
    int64_t delivery_id, order_id, market_id;
    int64_t version;    /* after the step */
    int64_t courier_id; /* DRIVE_OFFERED: to whom; DRIVE_FAILED: the holder, if any */
    int64_t due_ms;     /* from now: when the next step is due (NOT_DUE, OFFERED, NO_COURIER) */
    int64_t gone[4];    /* couriers whose open offer expired or was withdrawn here */
    size_t ngone;
    int64_t grab[COURIER_CANDIDATES_MAX];
    size_t ngrab;
    int no_courier_alert; /* the no_courier alert was raised by this step */
    char expires_at[DELIVERY_TIME_MAX];
} delivery_step_t;

/* The order's delivery, created if it has none (waiting, a 4-digit code from RAND_bytes, an
 * event row). DB_OK with *delivery_id; DB_NOROW when the order is not paid-and-live (unpaid,
 * cancelled, gone); a db status. */
sf_status_t delivery_ensure_tx(db_t *db, int64_t order_id, int64_t *delivery_id);

/* One dispatch step on the delivery, under its row lock: expires an open offer past its
 * time, then offers it to the best courier never offered it (courier_candidates), or after
 * cfg->dispatch_rounds rounds (or when only couriers who had it are left) opens it to grab,
 * or with nobody to ask backs off (2, 4, 8 ... s up to cfg->dispatch_retry_max_s), counts
 * no_courier_tries and raises the no_courier alert once. st says what happened. DB_OK, a db
 * status, SF_E_UNAVAILABLE (Redis). */
sf_status_t delivery_drive_tx(db_t *db, redis_t *r, int64_t delivery_id, delivery_step_t *st);

/* The order was cancelled: its delivery, unless picked up or done, becomes failed (reason)
 * and its open offers are withdrawn. st->result DRIVE_FAILED, or DRIVE_IDLE when nothing
 * changed. DB_OK or a db status. */
sf_status_t delivery_fail_tx(db_t *db, int64_t order_id, const char *reason, delivery_step_t *st);

/* Deliveries the queue may have dropped (the sweep): waiting with next_try_at passed, or
 * offered (not grab) without an open offer still running, both more than
 * DELIVERY_SWEEP_GRACE_S ago; at most max. Columns id, market_id, version. */
sf_status_t delivery_overdue(db_t *db, int64_t max, db_rows_t **rows);

/* ---- the courier's side (courier_id and market_id from the token) ---- */

/* The offers the courier may answer now (API.md "Courier"): open ones, and in grab mode the
 * market's open deliveries while the courier is on shift within range (grab true). */
sf_status_t delivery_offers_for(db_t *db, redis_t *r, int64_t market_id, int64_t courier_id, json_t **items);

/* The data of a courier's offer.new / offer.gone event: {delivery_id, order_id, expires_at
 * (RFC 3339, or null: a grab or an offer that ended), grab}. NULL if out of memory. */
json_t *delivery_offer_event(int64_t delivery_id, int64_t order_id, const char *expires_at, int grab);

/* The couriers who were told a grab delivery is open, now that `winner` holds it: every
 * other active courier of the market on shift (grab is announced to those in range; one
 * not in range hears an offer.gone it can ignore). Nothing when the delivery was not in grab
 * mode. At most max into ids, *n how many. DB_OK or a db status. */
#define DELIVERY_GRAB_TELL_MAX 256
sf_status_t delivery_grab_others(db_t *db, int64_t market_id, int64_t delivery_id, int64_t winner, int64_t *ids,
                                 size_t max, size_t *n);

/* Accepts: ONE conditional UPDATE decides. 200-worthy SF_OK with *out the delivery;
 * SF_E_NOT_FOUND (never offered to this courier, nor grab); SF_E_OFFER_GONE (taken, expired,
 * refused, withdrawn). *order_id for the caller's events. */
sf_status_t delivery_accept(db_t *db, int64_t market_id, int64_t courier_id, int64_t delivery_id, json_t **out,
                            int64_t *order_id);

/* Refuses an open offer: the offer refused, an outbox row DELIVERY_REDRIVE_TOPIC so the next
 * courier is asked at once. SF_OK with *out {delivery_id, status "refused"}; SF_E_NOT_FOUND;
 * SF_E_OFFER_GONE. */
sf_status_t delivery_refuse(db_t *db, int64_t market_id, int64_t courier_id, int64_t delivery_id, json_t **out);

/* Deliveries newest first, status NULL: any, next_cursor "" at the end: the courier's own
 * (courier_id > 0), or the market's with courier, tries, locked and alert kinds (the
 * operator's view: courier_id 0). */
sf_status_t delivery_list(db_t *db, int64_t market_id, int64_t courier_id, const char *status, int64_t after_id,
                          size_t limit, json_t **items, char *next_cursor, size_t len);

/* assigned → picked_up, only when every live vendor order is ready (they become handed_over).
 * SF_OK with *out; SF_E_NOT_FOUND (not this courier's); SF_E_DELIVERY_STATE; SF_E_NOT_READY. */
sf_status_t delivery_pickup(db_t *db, int64_t courier_id, int64_t delivery_id, json_t **out, int64_t *order_id);

/* picked_up → delivered with the consumer's code. A wrong code counts (committed) and is
 * SF_E_WRONG_CODE, with details {attempts_left, locked} in d (may be NULL); at
 * cfg->delivery_code_attempts failures the delivery locks (alert delivery_locked; that
 * wrong code's attempts_left is 0 and locked true) and is SF_E_DELIVERY_LOCKED from then.
 * SF_OK with *out; SF_E_NOT_FOUND; SF_E_DELIVERY_STATE. */
sf_status_t delivery_deliver(db_t *db, int64_t courier_id, int64_t delivery_id, const char *code, status_detail_t *d,
                             json_t **out, int64_t *order_id);

/* ---- the operator's side ---- */

/* Unlocks a locked delivery (code failures back to 0). SF_OK with *out; SF_E_NOT_FOUND;
 * SF_E_DELIVERY_STATE (not locked). */
sf_status_t delivery_unlock(db_t *db, int64_t market_id, int64_t delivery_id, json_t **out);

/* ---- the watchdog ---- */

/* Flags, once each (fulfilment_alerts), deliveries whose first offer expired unanswered,
 * assigned ones not picked up within cfg->delivery_pickup_alert_s of assignment, and picked
 * up ones not delivered within cfg->delivery_transit_alert_s. *raised gets how many new. */
sf_status_t delivery_watch(db_t *db, size_t *raised);

/* For /metrics: {"by_status": {status: n}, "waiting_no_courier": n} over every market. */
sf_status_t delivery_counts(db_t *db, json_t **out);

#endif
