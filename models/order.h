/*
 * Orders: checkout across stalls, the order and vendor-order state machines, and the
 * queries a consumer may make. Every state change is a conditional UPDATE ... WHERE id=?
 * AND status=? plus one order_events row, in one transaction; zero rows changed means
 * someone else won (ORDER_E_STATE). No HTTP here; worker threads with their own db_t.
 *
 * Deliberately not here: the cart (models/cart.c: the caller loads it and clears it after
 * the commit), the catalogue version bump after stock changed (the caller, after commit),
 * idempotency keys (models/idempotency.c). Every json_t ** result belongs to the caller.
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
#define ORDER_CURSOR_MAX      96 /* an encoded list cursor, with its NUL */
#define ORDER_CHECKOUT_TRIES  5  /* a deadlocked checkout runs again this many times in all */
#define ORDER_STATUS_NAME_MAX 16 /* bytes of a status name, with its NUL */

/* Results beyond the db_status_t values. */
enum {
    ORDER_E_STATE = -100,          /* the order is not in a state that allows it (409) */
    ORDER_E_NOT_DUE = -101,        /* the order's expires_at has not passed yet */
    ORDER_E_EMPTY = -102,          /* checkout: the cart of this market is empty (422 empty_cart) */
    ORDER_E_ADDRESS = -103,        /* checkout: not one of the consumer's addresses (422) */
    ORDER_E_ADDRESS_MARKET = -104, /* checkout: the address is tied to another market (422) */
    ORDER_E_ADDRESS_RANGE = -105,  /* checkout: the address is beyond the delivery radius (422) */
    ORDER_E_UNAVAILABLE = -106,    /* checkout: lines that cannot be sold now (422, details) */
    ORDER_E_OUT_OF_STOCK = -107,   /* checkout: lines short of stock (409, details) */
    ORDER_E_MARKET = -108,         /* checkout: no such market (422) */
    ORDER_E_CANCELLED = -109,      /* cancel: already cancelled (409 already_cancelled) */
    ORDER_E_TOO_LATE = -111,       /* cancel: a vendor accepted, or later (409 too_late) */
};

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

/* Moves an order from → to with a conditional UPDATE plus an event row, inside the caller's
 * transaction (to "cancelled" also sets cancelled_at and cancel_reason; to "paid" sets
 * paid_at if unset). ORDER_E_STATE for a pair not in the table (the database untouched) or
 * when the order was not in `from` (0 rows); DB_OK; or a db status. actor e.g.
 * "consumer:42", reason may be NULL. */
int order_transition_tx(db_t *db, int64_t order_id, const char *from, const char *to, const char *actor,
                        const char *reason);

/* The same for a vendor order (reason goes into reject_reason too when to is "rejected"). */
int vendor_order_transition_tx(db_t *db, int64_t vendor_order_id, const char *from, const char *to, const char *actor,
                               const char *reason);

/* Unpaid orders whose expires_at passed more than grace_s ago (the safety net under the
 * queue), oldest deadline first, at most max: columns id, market_id. */
int order_overdue_unpaid(db_t *db, int64_t grace_s, int64_t max, db_rows_t **rows);

/* Cancels an unpaid order and returns its reserved stock: pending_payment → cancelled for
 * the order and each of its vendor orders (with an event row each), products' stock given
 * back line by line, and an outbox row 'order.cancelled'. With only_if_due, refuses
 * (ORDER_E_NOT_DUE) an order whose expires_at is still ahead. MUST run inside the caller's
 * transaction (the queue consumer records its processed row in the same one). DB_OK when it
 * cancelled; ORDER_E_STATE when the order was not pending_payment (already paid, or already
 * cancelled: nothing changed, and a second call is therefore harmless); DB_NOROW for an
 * unknown order; else a db status. actor e.g. "system:timeout", "consumer:42". */
int order_cancel_unpaid_tx(db_t *db, int64_t order_id, const char *actor, const char *reason, int only_if_due);

/* ---- checkout and the consumer's own orders ---- */

/* Checks out: address checks, then one transaction that locks the products in id order,
 * decrements stock conditionally and writes the order, its vendor orders, lines, events and
 * the 'order.created' outbox row; a deadlock runs it again (ORDER_CHECKOUT_TRIES in all).
 * DB_OK with *order_id; ORDER_E_EMPTY, ORDER_E_MARKET, ORDER_E_ADDRESS,
 * ORDER_E_ADDRESS_MARKET, ORDER_E_ADDRESS_RANGE; ORDER_E_UNAVAILABLE or ORDER_E_OUT_OF_STOCK
 * with *details {"lines": [...]} (the caller's); or a db status (DB_DEADLOCK once the tries
 * are spent). Nothing is written unless DB_OK. */
int order_checkout(db_t *db, const order_checkout_t *in, int64_t *order_id, json_t **details);

/* One order as API.md shows it, read with four queries (order, vendor orders, lines, refunds). consumer_id 0: any
 * consumer's (for workers and tests). DB_OK, DB_NOROW (none, or another consumer's), or a db status. */
int order_render(db_t *db, int64_t order_id, int64_t consumer_id, json_t **out);

/* A page of a consumer's orders, newest first, each rendered in full (four queries a
 * page). status NULL: any. after_id 0: from the newest. next_cursor gets the next page's
 * cursor or "" at the end. DB_OK or a db status. */
int order_list(db_t *db, int64_t consumer_id, const char *status, size_t limit, int64_t after_id, json_t **items,
               char *next_cursor, size_t len);

/* Decodes a list cursor. 0 with *after_id, or -1 if malformed. */
int order_cursor_decode(const char *s, int64_t *after_id);

/* The consumer's cancel (API.md), in its own transaction, actor "consumer:<id>": an unpaid
 * order is cancelled and its stock returned; a paid one that no vendor has accepted yet is
 * cancelled, its stock returned and its payment refunded in full (payment_refund_tx).
 * DB_OK with *market_id (for the catalogue bump); DB_NOROW (none, or another consumer's);
 * ORDER_E_CANCELLED; ORDER_E_TOO_LATE (a vendor accepted); or a db status. */
int order_cancel_by_consumer(db_t *db, int64_t consumer_id, int64_t order_id, int64_t *market_id);

#endif
