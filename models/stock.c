/*
 * Stock moves (see stock.h): one conditional UPDATE per line, each on a row the checkout
 * already locked (FOR UPDATE, product-id order), so a statement per line costs no lock and
 * keeps the "which line was short" answer exact. Nothing here keeps state between calls.
 */
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

sf_status_t stock_return(db_t *db, const stock_move_t *moves, size_t n)
{
    sf_status_t rc = DB_OK;
    for (size_t i = 0; i < n && rc == DB_OK; i++) {
        db_param_t p[] = {DB_I64(moves[i].qty), DB_I64(moves[i].qty), DB_I64(moves[i].product_id)};
        rc = db_exec(db, "UPDATE products SET stock = stock + ?, sales_qty = GREATEST(sales_qty - ?, 0) WHERE id = ?",
                     p, 3, NULL, NULL);
    }
    return rc;
}
