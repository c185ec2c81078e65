/*
 * Stock moves: the only code that changes products.stock (and sales_qty beside it). A
 * checkout takes the quantities of its lines; a cancel or a timeout gives an order's back; a
 * vendor's rejection gives its vendor order's back and a pick settles the difference between
 * what was ordered and what was weighed or counted (models/fulfil.c). Every move runs inside
 * the caller's transaction (models/order.c's, models/fulfil.c's), in the order the caller
 * gives: product-id order, the lock order of checkout, so that concurrent moves queue
 * instead of deadlocking. No HTTP here; the caller bumps the catalogue version after commit.
 *
 * (Owned by the product model in spirit: products' columns are written here only.)
 */
#ifndef SF_STOCK_H
#define SF_STOCK_H

#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

/* One line's move: qty grams or pieces of one product (qty > 0). */
typedef struct stock_move {
    int64_t product_id;
    int64_t qty;
} stock_move_t;

/* Takes every move's qty from its product, whose row the caller locked (FOR UPDATE) and read:
 * stock[i] is what move i's product held then. moves come in product-id order (the lock
 * order; a product on several moves is taken once for their sum). short_[i] is set to 1 for a
 * move whose product had less than it (counting the moves of that product before it), 0
 * otherwise; when any is short nothing is written (the caller rolls back), else every
 * product is taken in ONE conditional UPDATE (stock never below zero: a row that changed
 * under the lock is an internal error). DB_OK (even with shortages: see short_), or a db
 * status. */
sf_status_t stock_take(db_t *db, const stock_move_t *moves, const int64_t *stock, size_t n, int *short_);

/* Gives back what an order took: the quantity of each of its lines whose vendor order is in
 * vo_status (NULL: every line), summed per product, in one statement (sales_qty lowered,
 * never below zero). DB_OK or a db status. */
sf_status_t stock_return_order(db_t *db, int64_t order_id, const char *vo_status);

/* Gives back what one vendor order took (a rejection): the quantity of each of its lines,
 * summed per product, in one statement (sales_qty lowered, never below zero). DB_OK or a db
 * status. */
sf_status_t stock_return_vendor_order(db_t *db, int64_t vendor_order_id);

/* Settles a vendor order's stock once its lines carry qty_actual (the pick): per product, a
 * lighter or fewer line gives qty - qty_actual back (sales_qty lowered), a heavier one takes
 * qty_actual - qty more but never below zero stock (sales_qty raised by what was taken); a
 * line picked exactly moves nothing. Two statements (sales_qty, then stock, so neither
 * depends on the order of assignments). DB_OK or a db status. */
sf_status_t stock_settle_pick(db_t *db, int64_t vendor_order_id);

#endif
