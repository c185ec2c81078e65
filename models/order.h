/*
 * Orders: checkout across stalls, the order and vendor-order state machines, and the
 * queries a consumer may make. Every state change is a conditional UPDATE ... WHERE id=?
 * AND status=? plus one order_events row, in one transaction; zero rows changed means
 * someone else won (SF_E_ORDER_CHANGED). No HTTP here; worker threads with their own db_t.
 * Every function returns an outcome of models/base/status.h.
 *
 * Deliberately not here: the cart (models/cart.c: the caller loads it and clears it after
 * the commit), the catalogue version bump after stock changed (the caller, after commit),
 * idempotency keys (models/idempotency.c), stock moves (models/stock.c), and money: the
 * payment model depends on this one, never the reverse, so the consumer's cancel, which may
 * refund, is models/payment.c's payment_cancel_by_consumer. Every json_t ** result belongs
 * to the caller.
 */
#ifndef SF_ORDER_H
#define SF_ORDER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/cart.h"
#include "models/store/db.h"

#define ORDER_NOTE_MAX        200 /* code points of a checkout note */
#define ORDER_NO_MAX          32  /* bytes of an order number, with its NUL */
#define ORDER_LIST_MAX        100 /* ?limit= of the consumer's list */
#define ORDER_LIST_DEFAULT    20
#define ORDER_CURSOR_MAX      96  /* an encoded list cursor, with its NUL */
#define ORDER_CURSOR_KIND     'o' /* the consumer's list, in models/base/cursor.h's codec */
#define ORDER_STATUS_NAME_MAX 16  /* bytes of a status name, with its NUL */

/* What a checkout needs: the cart lines (any order: they are locked in product-id order),
 * the address chosen, and the market's trade settings from the config. */
typedef struct order_checkout {
    int64_t user_id;
    int64_t market_id;
    int64_t address_id;
    const char *note; /* NULL: none; at most ORDER_NOTE_MAX code points (checked by the caller) */
    const cart_line_t *lines;
    size_t nlines; /* 1..CART_MAX_LINES */
    int64_t delivery_fee_fen;
    int64_t free_delivery_from_fen;
    int64_t radius_m;
    int64_t unpaid_timeout_s;
} order_checkout_t;

/* ---- the state machines (API.md "Orders"), one table each ---- */

/* 1 if from → to is a legal move of an order (of a vendor order), 0 otherwise. */
int order_move_legal(const char *from, const char *to);
int vendor_order_move_legal(const char *from, const char *to);

/* 1 if s names an order status. */
int order_status_valid(const char *s);

/* The order statuses, NULL-ended (for the validation kit's enumerations). */
const char *const *order_status_names(void);

/* Moves an order from → to with a conditional UPDATE plus an event row, inside the caller's
 * transaction (to "cancelled" also sets cancelled_at and cancel_reason; to "paid" sets
 * paid_at if unset). SF_E_ORDER_CHANGED for a pair not in the table (the database untouched)
 * or when the order was not in `from` (0 rows); DB_OK; or a db status. actor e.g.
 * "consumer:42", reason may be NULL. */
sf_status_t order_transition_tx(db_t *db, int64_t order_id, const char *from, const char *to, const char *actor,
                                const char *reason);

/* The same for a vendor order (reason goes into reject_reason too when to is "rejected"). */
sf_status_t vendor_order_transition_tx(db_t *db, int64_t vendor_order_id, const char *from, const char *to,
                                       const char *actor, const char *reason);

/* Unpaid orders whose expires_at passed more than grace_s ago (the safety net under the
 * queue), oldest deadline first, at most max: columns id, market_id. */
sf_status_t order_overdue_unpaid(db_t *db, int64_t grace_s, int64_t max, db_rows_t **rows);

/* Cancels an unpaid order and returns its reserved stock: pending_payment → cancelled for
 * the order and each of its vendor orders (with an event row each), products' stock given
 * back line by line (models/stock.c), and an outbox row 'order.cancelled'. With only_if_due,
 * refuses (SF_E_NOT_DUE) an order whose expires_at is still ahead. MUST run inside the
 * caller's transaction (the queue consumer records its processed row in the same one). DB_OK
 * when it cancelled; SF_E_ORDER_CHANGED when the order was not pending_payment (already
 * paid, or already cancelled: nothing changed, and a second call is therefore harmless);
 * DB_NOROW for an unknown order; else a db status. actor e.g. "system:timeout",
 * "consumer:42". */
sf_status_t order_cancel_unpaid_tx(db_t *db, int64_t order_id, const char *actor, const char *reason, int only_if_due);

/* ---- an order line as the order's JSON shows it (the consumer's and the vendor's views) ---- */

/* The columns order_line_json() reads, from order_lines aliased l, in this order
 * (ORDER_LINE_COLS_OF("") names them unqualified, for an INSERT's RETURNING). */
#define ORDER_LINE_COLS_OF(l)                                                                                          \
    l "id, " l "product_id, " l "name, " l "commodity_code, " l "pricing_mode, " l "price_fen, " l "per_g, " l         \
      "unit, " l "qty, " l "qty_actual, " l "amount_fen, " l "amount_actual_fen, " l "origin, " l "trace_code, " l     \
      "category"
#define ORDER_LINE_COLS ORDER_LINE_COLS_OF("l.")

/* {id, product_id, name, category, commodity_code, pricing, qty, qty_actual, amount_fen,
 * amount_actual_fen, origin, trace_code} from ORDER_LINE_COLS starting at column at. NULL if
 * out of memory. */
json_t *order_line_json(const db_rows_t *r, size_t at);

/* ---- the order's status, derived from its vendor orders and its delivery ---- */

/* What an order is made of now: how many of its vendor orders are in each state, and its
 * delivery's status (NULL: none yet). */
typedef struct order_parts {
    int64_t total, fresh /* new */, ready, handed_over, rejected, cancelled;
    const char *delivery;
} order_parts_t;

/* THE rule (API.md "Orders"), the one place it is written. An order that is paid and not
 * cancelled is: `cancelled` once every vendor order is rejected or cancelled; `delivered` once
 * its delivery is; `delivering` once the delivery is picked up (every live vendor order
 * handed over); `ready` when every live vendor order is ready (or handed over); `paid` while
 * every live one is still new; `fulfilling` otherwise. It never moves backwards along
 * paid → fulfilling → ready → delivering → delivered; pending_payment and cancelled are left
 * as they are (payment and the cancels move those). Returns a static string. */
const char *order_derive_status(const char *current, const order_parts_t *parts);

/* Brings the order's status in line with order_derive_status(), inside the caller's
 * transaction, after the caller changed a vendor order or the delivery: the order row is
 * locked, each step along the main path is an order_transition_tx (an event row each), the
 * step to `ready` adds an outbox row 'order.ready' (dispatch may wait for it), and every
 * vendor order gone makes the order `cancelled` (reason "rejected") with an
 * 'order.cancelled' outbox row: refunding the rest (the delivery fee) is then the caller's
 * (models/payment.h, payment_refund_all_tx). status (may be NULL) gets the status now. DB_OK,
 * DB_NOROW, or a db status. */
sf_status_t order_sync_status_tx(db_t *db, int64_t order_id, const char *actor, char *status, size_t len);

/* ---- checkout and the consumer's own orders ---- */

/* Checks out: address checks, then one transaction (db_tx) that locks and reads the products
 * in id order (one statement), takes their stock (models/stock.c, one statement) and writes the
 * order, its vendor orders, lines and events (a multi-row INSERT ... RETURNING each) and the
 * 'order.created' outbox row. DB_OK with *order_id; SF_E_EMPTY_CART,
 * SF_E_NO_MARKET (d names the field market_id), SF_E_UNKNOWN_ADDRESS,
 * SF_E_ADDRESS_WRONG_MARKET, SF_E_ADDRESS_OUT_OF_RANGE; SF_E_LINES_UNAVAILABLE or
 * SF_E_OUT_OF_STOCK with d->details {"lines": [...]}; or a db status. d may be NULL.
 * Nothing is written unless DB_OK. */
sf_status_t order_checkout(db_t *db, const order_checkout_t *in, int64_t *order_id, status_detail_t *d);

/* The Idempotency-Key a checkout settles in its own transaction (the claim is the caller's,
 * made before: models/idempotency.h). dump serialises the answer exactly as it will be sent
 * (malloc'd bytes, *len set; NULL if out of memory). */
typedef struct order_idem {
    const char *scope, *key; /* key NULL: the request has none, nothing is kept */
    char *(*dump)(const json_t *doc, size_t *len);
} order_idem_t;

/* order_checkout() answering from what its transaction wrote, with no read after it: *doc
 * gets the order as order_render() shows it (a new order has no delivery and no refunds);
 * with idem->key, the same transaction also keeps *text (len bytes, malloc'd: what dump
 * made of *doc) as the key's 201 answer, so the order and its kept answer commit together.
 * On anything but DB_OK *doc and *text are NULL and nothing is written. idem may be NULL. */
sf_status_t order_checkout_answer(db_t *db, const order_checkout_t *in, const order_idem_t *idem, int64_t *order_id,
                                  json_t **doc, char **text, size_t *len, status_detail_t *d);

/* One order as API.md shows it, read with four queries (order, vendor orders, lines, refunds). consumer_id 0: any
 * consumer's (for workers and tests). DB_OK, DB_NOROW (none, or another consumer's), or a db status. */
sf_status_t order_render(db_t *db, int64_t order_id, int64_t consumer_id, json_t **out);

/* A page of a consumer's orders, newest first, each rendered in full (four queries a
 * page). status NULL: any. after_id 0: from the newest. next_cursor gets the next page's
 * cursor or "" at the end. DB_OK or a db status. */
sf_status_t order_list(db_t *db, int64_t consumer_id, const char *status, size_t limit, int64_t after_id,
                       json_t **items, char *next_cursor, size_t len);

/* The order side of the consumer's cancel (API.md), inside the caller's transaction (see
 * payment_cancel_by_consumer, which owns it), actor "consumer:<id>": an unpaid order is
 * cancelled and its stock returned; a paid one that no vendor has accepted yet is cancelled
 * and the stock of its vendor orders still new returned, *was_paid set: the caller then
 * refunds it in the same transaction. DB_OK with *market_id (for the catalogue bump);
 * DB_NOROW (none, or another consumer's); SF_E_ALREADY_CANCELLED; SF_E_TOO_LATE (a vendor
 * accepted); or a db status. */
sf_status_t order_cancel_by_consumer_tx(db_t *db, int64_t consumer_id, int64_t order_id, int64_t *market_id,
                                        int *was_paid);

#endif
