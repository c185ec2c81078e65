/*
 * Vendor fulfilment: the vendor's side of an order (API.md "Vendor", orders). A stall lists
 * its own vendor orders, accepts or rejects a new one, picks an accepted one with the actual
 * quantities (DOMAIN.md "weighed goods": a lighter weighed line or fewer pieces refund the
 * difference, a heavier weighed line costs the consumer nothing more), and marks it ready.
 * The acceptance deadlines (workers/acceptance.c) flag a vendor order nobody accepted and
 * later reject it exactly as a vendor would.
 *
 * Every write is ONE transaction (db_tx): the order row is locked first (the lock order of
 * models/order.c and models/payment.c), the vendor order moves with a conditional UPDATE and
 * an event row (vendor_order_transition_tx), its stock (models/stock.c) and refunds
 * (models/payment.c, rows naming the vendor order, issued later by the refund worker) are
 * written in the same transaction, and the order's status follows (order_sync_status_tx).
 * A vendor order of another vendor is not found (SF_E_NOT_FOUND), and nothing changes.
 *
 * After a write commits the caller emits the live update (events_order_changed) and bumps
 * the market's catalogue version when stock moved (fulfil_result_t says which). No HTTP here;
 * worker threads (or tests) with their own db_t. Every function returns an outcome of
 * models/base/status.h; every json_t ** result belongs to the caller.
 */
#ifndef SF_FULFIL_H
#define SF_FULFIL_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/status.h"
#include "models/store/db.h"

#define FULFIL_LIST_MAX       100 /* ?limit= of the vendor's list */
#define FULFIL_LIST_DEFAULT   20
#define FULFIL_CURSOR_KIND    'v'        /* the vendor's list, in models/base/cursor.h's codec */
#define FULFIL_REASON_MAX     200        /* code points of a rejection reason */
#define FULFIL_QTY_MAX        1000000000 /* grams or pieces a picked line may weigh or count */
#define FULFIL_PICK_LINES_MAX 100        /* lines of a pick body (a vendor order has at most a cart's) */
#define FULFIL_ACTOR_MAX      32         /* bytes of an actor ("vendor:<id>"), with its NUL */

/* The list's filter for the vendor orders still the stall's to do: new, accepted, picked or
 * ready (the pages a stall keeps open want these in one request). */
#define FULFIL_ACTIVE "active"

/* The vendor order statuses (API.md "Orders"), then FULFIL_ACTIVE, NULL-ended: the values of
 * the list's ?status=. */
const char *const *fulfil_status_names(void);

/* Who acts: a vendor (its market and vendor id: the vendor order must be its own) or the
 * system (vendor_id 0: any vendor order; the acceptance deadlines). */
typedef struct fulfil_actor {
    int64_t market_id;
    int64_t vendor_id;
    const char *name; /* "vendor:<id>" or "system:acceptance" */
} fulfil_actor_t;

/* What a committed write touched, for the caller's after-commit work. */
typedef struct fulfil_result {
    int64_t order_id;
    int64_t market_id;
    int stock_moved;       /* stock changed: bump the market's catalogue version */
    int64_t refund_fen;    /* refunded by this write (vendor order and, when the order became
                              cancelled, the rest of the order) */
    char order_status[16]; /* the order's status after the write */
} fulfil_result_t;

/* One picked line of a pick body. */
typedef struct fulfil_pick_line {
    int64_t line_id;
    int64_t qty_actual; /* grams or pieces, 0..FULFIL_QTY_MAX (checked by the caller) */
} fulfil_pick_line_t;

/* A page of the vendor's own vendor orders, oldest first (id order), each as
 * fulfil_render() shows it. status NULL: every vendor order that was paid (new_at set),
 * whatever its status now; FULFIL_ACTIVE: those new, accepted, picked or ready; else only
 * that status. after_id 0: from the oldest. next_cursor
 * gets the next page's cursor, or "" at the end. Two queries a page (the vendor orders, their lines). DB_OK or a db
 * status. */
sf_status_t fulfil_list(db_t *db, int64_t market_id, int64_t vendor_id, const char *status, size_t limit,
                        int64_t after_id, json_t **items, char *next_cursor, size_t len);

/* One vendor order of the vendor as the list shows it:
 *   {id, order_id, order_no, stall_id, status, items_fen, items_actual_fen (null until
 *    picked), refund_fen (its refunds not failed), created_at, new_at, reject_reason, note,
 *    delivery_status (null: no delivery yet), lines: [the order's line JSON]}.
 * No consumer phone or address: the courier carries the goods. DB_OK, DB_NOROW (none, or
 * another vendor's), or a db status. */
sf_status_t fulfil_render(db_t *db, int64_t market_id, int64_t vendor_id, int64_t vendor_order_id, json_t **out);

/* new → accepted. *out (may be NULL) the vendor order as written. DB_OK; SF_E_NOT_FOUND;
 * SF_E_VENDOR_ORDER_STATE; or a db status. */
sf_status_t fulfil_accept(db_t *db, const fulfil_actor_t *who, int64_t vendor_order_id, fulfil_result_t *res,
                          json_t **out);

/* new → rejected with reason (1..FULFIL_REASON_MAX code points, checked by the caller): its
 * stock back, its items_fen refunded (reason "rejected", the refund naming it), and when that
 * leaves the order without a live vendor order, the order cancelled and what is left of its
 * payment refunded in full, delivery fee included. DB_OK; SF_E_NOT_FOUND;
 * SF_E_VENDOR_ORDER_STATE; or a db status. */
sf_status_t fulfil_reject(db_t *db, const fulfil_actor_t *who, int64_t vendor_order_id, const char *reason,
                          fulfil_result_t *res, json_t **out);

/* accepted → picked with every line of the vendor order named exactly once. A weighed line
 * lighter than ordered costs the amount of qty_actual (models/base/money.h, half up) and the
 * difference is refunded; heavier costs the amount agreed. A counted line may only go down
 * (SF_E_PICK_MORE, field lines[i].qty_actual) and fewer pieces refund the difference. One
 * refund row for the whole difference (reason "weight_difference"; none when 0), and the
 * stock settled (stock_settle_pick), in the same transaction. DB_OK; SF_E_NOT_FOUND;
 * SF_E_VENDOR_ORDER_STATE; SF_E_PICK_LINES (field "lines", details {"unknown": [line ids not
 * of this vendor order], "duplicate": [ids named twice], "missing": [ids not named]});
 * SF_E_PICK_MORE; SF_E_INVALID (field "lines") when every quantity is 0: a stall with nothing
 * to give rejects instead, so no courier is sent to collect nothing; or a db status. d may be
 * NULL. */
sf_status_t fulfil_pick(db_t *db, const fulfil_actor_t *who, int64_t vendor_order_id, const fulfil_pick_line_t *lines,
                        size_t n, fulfil_result_t *res, json_t **out, status_detail_t *d);

/* picked → ready. DB_OK; SF_E_NOT_FOUND; SF_E_VENDOR_ORDER_STATE; or a db status. */
sf_status_t fulfil_ready(db_t *db, const fulfil_actor_t *who, int64_t vendor_order_id, fulfil_result_t *res,
                         json_t **out);

/* ---- the acceptance deadlines (workers/acceptance.c) ---- */

/* Vendor orders still `new` paid more than older_than_s ago, oldest first, at most max:
 * with unflagged_only, only those not flagged yet. ids gets them, *n how many. DB_OK or a db
 * status. */
sf_status_t fulfil_waiting(db_t *db, int64_t older_than_s, int unflagged_only, int64_t *ids, size_t max, size_t *n);

/* Flags one vendor order still `new` and paid more than older_than_s ago: flagged_at set
 * (conditionally: only once, whoever runs it) and the alert ALERT_UNACCEPTED raised, in one
 * transaction. *flagged 1 when this call flagged it. DB_OK or a db status. */
sf_status_t fulfil_flag_unaccepted(db_t *db, int64_t vendor_order_id, int64_t older_than_s, int *flagged);

/* Rejects one vendor order still `new` and paid more than older_than_s ago exactly as
 * fulfil_reject does (actor "system:acceptance", reason "not accepted in time") and raises
 * ALERT_AUTO_REJECTED, in one transaction. DB_OK; SF_E_VENDOR_ORDER_STATE (accepted or
 * rejected meanwhile, or not due: nothing changed); DB_NOROW; or a db status. */
sf_status_t fulfil_auto_reject(db_t *db, int64_t vendor_order_id, int64_t older_than_s, fulfil_result_t *res);

#endif
