/*
 * Orders: checkout across stalls, the order and vendor-order state machines, and the
 * queries a consumer may make. Every state change is a conditional UPDATE ... WHERE id=?
 * AND status=? plus one order_events row, in one transaction; zero rows changed means
 * someone else won (ORDER_E_STATE). No HTTP here; worker threads with their own db_t.
 *
 * (The full interface is written by the orders engineer; the functions below are the ones
 * the queue workers rely on, fixed here first.)
 */
#ifndef SF_ORDER_H
#define SF_ORDER_H

#include <stdint.h>
#include "db.h"

/* Results beyond the db_status_t values. */
enum {
    ORDER_E_STATE = -100,  /* the order is not in a state that allows it (409) */
    ORDER_E_NOT_DUE = -101 /* the order's expires_at has not passed yet */
};

/* Cancels an unpaid order and returns its reserved stock: pending_payment → cancelled for
 * the order and each of its vendor orders (with an event row each), products' stock given
 * back line by line, and an outbox row 'order.cancelled'. With only_if_due, refuses
 * (ORDER_E_NOT_DUE) an order whose expires_at is still ahead. MUST run inside the caller's
 * transaction (the queue consumer records its processed row in the same one). DB_OK when it
 * cancelled; ORDER_E_STATE when the order was not pending_payment (already paid, or already
 * cancelled: nothing changed, and a second call is therefore harmless); DB_NOROW for an
 * unknown order; else a db status. actor e.g. "system:timeout", "consumer:42". */
int order_cancel_unpaid_tx(db_t *db, int64_t order_id, const char *actor, const char *reason, int only_if_due);

#endif
