/*
 * Stock moves (see stock.h). A take is one conditional UPDATE per line, each on a row the
 * checkout already locked (FOR UPDATE, product-id order), so a statement per line costs no
 * lock and keeps the "which line was short" answer exact (issue 11 folds the checkout into
 * fewer statements). A return is one statement for the whole order. Nothing here keeps state
 * between calls.
 */
#include <stdio.h>
#include "models/stock.h"

sf_status_t stock_take(db_t *db, const stock_move_t *moves, size_t n, int *short_)
{
    sf_status_t rc = DB_OK;
    for (size_t i = 0; i < n && rc == DB_OK; i++) {
        uint64_t changed = 0;
        db_param_t p[] = {DB_I64(moves[i].qty), DB_I64(moves[i].qty), DB_I64(moves[i].product_id),
                          DB_I64(moves[i].qty)};
        rc = db_exec(db, "UPDATE products SET stock = stock - ?, sales_qty = sales_qty + ? WHERE id = ? AND stock >= ?",
                     p, 4, &changed, NULL);
        short_[i] = rc == DB_OK && changed == 0;
    }
    return rc;
}

/* The lines of `where` (over order_lines l joined to vendor_orders v, with params p) back to
 * stock: summed per product first (the same product may be on two lines), then joined to
 * products by primary key in product-id order, the checkout's lock order. */
static sf_status_t return_lines(db_t *db, const char *where, const db_param_t *p, size_t np)
{
    char sql[512];
    snprintf(sql, sizeof(sql),
             "UPDATE products p JOIN (SELECT l.product_id, SUM(l.qty) AS qty FROM order_lines l"
             " JOIN vendor_orders v ON v.id = l.vendor_order_id WHERE %s GROUP BY l.product_id"
             " ORDER BY l.product_id) r ON r.product_id = p.id"
             " SET p.stock = p.stock + r.qty, p.sales_qty = GREATEST(p.sales_qty - r.qty, 0)",
             where);
    return db_exec(db, sql, p, np, NULL, NULL);
}

sf_status_t stock_return_order(db_t *db, int64_t order_id, const char *vo_status)
{
    db_param_t vo = vo_status != NULL ? DB_STR(vo_status) : DB_NULL;
    return return_lines(db, "l.order_id = ? AND (? IS NULL OR v.status = ?)", (db_param_t[]){DB_I64(order_id), vo, vo},
                        3);
}

sf_status_t stock_return_vendor_order(db_t *db, int64_t vendor_order_id)
{
    return return_lines(db, "l.vendor_order_id = ?", (db_param_t[]){DB_I64(vendor_order_id)}, 1);
}

/* The per-product difference of a picked vendor order: qty - qty_actual, summed (> 0: back to
 * stock; < 0: taken). Lines not picked yet count 0. */
#define PICK_DIFF                                                                                                      \
    "(SELECT product_id, SUM(qty - COALESCE(qty_actual, qty)) AS d FROM order_lines WHERE vendor_order_id = ?"         \
    " GROUP BY product_id HAVING d <> 0 ORDER BY product_id) r"

sf_status_t stock_settle_pick(db_t *db, int64_t vendor_order_id)
{
    db_param_t p[] = {DB_I64(vendor_order_id)};
    /* what moves is GREATEST(d, -stock): all of d back, or at most the whole stock taken */
    sf_status_t rc = db_exec(db,
                             "UPDATE products p JOIN " PICK_DIFF " ON r.product_id = p.id"
                             " SET p.sales_qty = GREATEST(p.sales_qty - GREATEST(r.d, -p.stock), 0)",
                             p, 1, NULL, NULL);
    if (rc != DB_OK)
        return rc;
    return db_exec(db,
                   "UPDATE products p JOIN " PICK_DIFF " ON r.product_id = p.id"
                   " SET p.stock = GREATEST(p.stock + r.d, 0)",
                   p, 1, NULL, NULL);
}
