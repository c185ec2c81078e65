/*
 * Stock moves (see stock.h). A take is one conditional UPDATE for every product of a checkout,
 * on rows the checkout already locked (FOR UPDATE, product-id order): what it read then still
 * holds, so "which line was short" is decided from that read, before anything is written. A
 * return is one statement for the whole order. Nothing here keeps state
 * between calls.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include "models/stock.h"

/* The moves as [[product_id, qty], ...], one entry per product (summed). */
static char *take_json(const stock_move_t *moves, size_t n, size_t *nproducts)
{
    json_t *a = json_array();
    json_t *last = NULL;
    *nproducts = 0;
    for (size_t i = 0; a != NULL && i < n; i++) {
        if (last != NULL && i > 0 && moves[i].product_id == moves[i - 1].product_id) {
            json_t *q = json_array_get(last, 1);
            json_integer_set(q, json_integer_value(q) + moves[i].qty);
            continue;
        }
        last = json_pack("[I, I]", (json_int_t)moves[i].product_id, (json_int_t)moves[i].qty);
        if (last == NULL || json_array_append_new(a, last) != 0) {
            json_decref(a);
            return NULL;
        }
        (*nproducts)++;
    }
    char *text = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    return text;
}

sf_status_t stock_take(db_t *db, const stock_move_t *moves, const int64_t *stock, size_t n, int *short_)
{
    int any = 0;
    int64_t taken = 0; /* of the current product, by the moves before this one */
    for (size_t i = 0; i < n; i++) {
        if (i == 0 || moves[i].product_id != moves[i - 1].product_id)
            taken = 0;
        short_[i] = stock[i] - taken < moves[i].qty;
        if (short_[i])
            any = 1;
        else
            taken += moves[i].qty;
    }
    if (any || n == 0)
        return DB_OK;
    size_t products = 0;
    uint64_t changed = 0;
    char *text = take_json(moves, n, &products);
    if (text == NULL) {
        snprintf(db->err, sizeof(db->err), "stock_take: out of memory");
        return DB_ERR;
    }
    /* JSON_TABLE first (STRAIGHT_JOIN): each product by its primary key, in the lock order */
    sf_status_t rc = db_exec(db,
                             "UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$[0]', qty BIGINT PATH '$[1]')) j"
                             " STRAIGHT_JOIN products p ON p.id = j.id"
                             " SET p.stock = p.stock - j.qty, p.sales_qty = p.sales_qty + j.qty WHERE p.stock >= j.qty",
                             (db_param_t[]){DB_STR(text)}, 1, &changed, NULL);
    free(text);
    if (rc == DB_OK && changed != products) {
        snprintf(db->err, sizeof(db->err), "stock_take: %llu of %zu locked products taken", (unsigned long long)changed,
                 products);
        rc = DB_ERR;
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
