/*
 * Statistics for people (see report.h). Each reads `sale_lines` by its clustered key
 * (market_id, paid_date), or a vendor's by ix_sale_lines_vendor (vendor_id, paid_date), and
 * counts quantities as the KPIs do: over non-void lines, qty_actual when set.
 */
#include <stdlib.h>
#include <string.h>
#include "models/guide.h"
#include "models/kpi.h"
#include "models/report.h"
#include "models/stats.h"

#define QTY_G "SUM(CASE WHEN op = 'upsert' AND pricing_mode = 'weight' THEN COALESCE(qty_actual, qty) ELSE 0 END)"
#define QTY_P "SUM(CASE WHEN op = 'upsert' AND pricing_mode = 'count' THEN COALESCE(qty_actual, qty) ELSE 0 END)"

/* The day `days - 1` before `to`, as YYYY-MM-DD. -1 if to is not a date. */
static int range_from(const char *to, int days, char from[16])
{
    int32_t d;
    if (kpi_day_parse(to, &d) != 0 || days < 1)
        return -1;
    kpi_day_name(d - (days - 1), from, 16);
    return 0;
}

/* ---------------------------------------------------------------- rankings */

sf_status_t report_rankings(db_t *db, int64_t market_id, const char *to, int days, int by_volume, json_t **items)
{
    static const char *const sql[2] = {
#define RANKING(key)                                                                                                   \
    "SELECT g.stall_id, g.stall_no, v.name, g.orders, g.sales_fen, g.qty_g, g.qty_pieces FROM ("                       \
    "SELECT stall_id, MAX(stall_no) AS stall_no, MAX(vendor_id) AS vendor_id, "                                        \
    "COUNT(DISTINCT CASE WHEN op = 'upsert' THEN order_no END) AS orders, "                                            \
    "SUM(amount_fen - refunded_fen) AS sales_fen, " QTY_G " AS qty_g, " QTY_P " AS qty_pieces "                        \
    "FROM sale_lines WHERE market_id = ? AND paid_date BETWEEN ? AND ? GROUP BY stall_id "                             \
    "HAVING SUM(op = 'upsert') > 0) g LEFT JOIN vendors v ON v.id = g.vendor_id "                                      \
    "ORDER BY g." key " DESC, g.stall_id LIMIT ?"
        RANKING("sales_fen"),
        RANKING("orders"),
#undef RANKING
    };
    char from[16];
    db_rows_t *rows = NULL;
    *items = NULL;
    if (range_from(to, days, from) != 0)
        return SF_E_INVALID;
    int rc =
        db_query(db, sql[by_volume ? 1 : 0],
                 (db_param_t[]){DB_I64(market_id), DB_STR(from), DB_STR(to), DB_I64(REPORT_RANKING_MAX)}, 4, &rows);
    if (rc != DB_OK)
        return rc;
    *items = json_array();
    int64_t rank = 0, prev = -1;
    for (int64_t k = 1; *items != NULL && db_rows_next(rows); k++) {
        int64_t key = db_rows_i64(rows, by_volume ? 3 : 4);
        if (k == 1 || key != prev)
            rank = k;
        prev = key;
        json_t *o = json_pack("{s:I, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I}", "stall_id",
                              (json_int_t)db_rows_i64(rows, 0), "stall_no", db_rows_str(rows, 1, NULL), "vendor_name",
                              db_rows_str(rows, 2, NULL), "orders", (json_int_t)db_rows_i64(rows, 3), "sales_fen",
                              (json_int_t)db_rows_i64(rows, 4), "qty_g", (json_int_t)db_rows_i64(rows, 5), "qty_pieces",
                              (json_int_t)db_rows_i64(rows, 6), "rank", (json_int_t)rank);
        if (o == NULL || json_array_append_new(*items, o) != 0) {
            json_decref(*items);
            *items = NULL;
        }
    }
    db_rows_free(rows);
    return *items != NULL ? SF_OK : SF_E_INTERNAL;
}

/* ---------------------------------------------------------------- a vendor's own */

typedef struct product_sum {
    int64_t product_id, lines, qty_g, qty_pieces, sales_fen, refunds_fen;
    const char *name, *code; /* borrowed from the rows */
} product_sum_t;

static int by_sales(const void *a, const void *b)
{
    const product_sum_t *x = a, *y = b;
    if (x->sales_fen != y->sales_fen)
        return x->sales_fen < y->sales_fen ? 1 : -1;
    return (x->product_id > y->product_id) - (x->product_id < y->product_id);
}

sf_status_t report_vendor_stats(db_t *db, int64_t market_id, int64_t vendor_id, const char *from, const char *to,
                                json_t **out)
{
    /* Rows per (day, product), WITH ROLLUP: (day, NULL) is the day, (NULL, NULL) the range;
     * their COUNT(DISTINCT order_no) counts each order once. */
    int32_t d0, d1;
    db_rows_t *rows = NULL;
    *out = NULL;
    if (kpi_day_parse(from, &d0) != 0 || kpi_day_parse(to, &d1) != 0 || d1 < d0)
        return SF_E_INVALID;
    int rc = db_query(db,
                      "SELECT DATEDIFF(paid_date, '1970-01-01'), product_id, COUNT(DISTINCT order_no), COUNT(*), " QTY_G
                      ", " QTY_P ", SUM(amount_fen), SUM(refunded_fen), MAX(name), MAX(commodity_code) "
                      "FROM sale_lines WHERE vendor_id = ? AND paid_date BETWEEN ? AND ? AND market_id = ? "
                      "GROUP BY paid_date, product_id WITH ROLLUP",
                      (db_param_t[]){DB_I64(vendor_id), DB_STR(from), DB_STR(to), DB_I64(market_id)}, 4, &rows);
    if (rc != DB_OK)
        return rc;
    size_t ndays = (size_t)(d1 - d0) + 1, np = 0;
    product_sum_t *ps = calloc(rows->nrows + 1, sizeof(*ps));
    json_t *by_day = json_array(), *by_product = json_array();
    int64_t(*day)[3] = calloc(ndays, sizeof(*day)); /* orders, sales, refunds */
    int64_t tot[5] = {0};                           /* orders, sales, refunds, qty_g, qty_pieces */
    if (ps == NULL || by_day == NULL || by_product == NULL || day == NULL)
        rc = SF_E_INTERNAL;
    while (rc == DB_OK && db_rows_next(rows)) {
        if (db_rows_isnull(rows, 0)) { /* the range */
            tot[0] = db_rows_i64(rows, 2), tot[3] = db_rows_i64(rows, 4), tot[4] = db_rows_i64(rows, 5);
            tot[1] = db_rows_i64(rows, 6), tot[2] = db_rows_i64(rows, 7);
            continue;
        }
        int64_t k = db_rows_i64(rows, 0) - d0;
        if (k < 0 || k >= (int64_t)ndays)
            continue;
        if (db_rows_isnull(rows, 1)) { /* the day */
            day[k][0] = db_rows_i64(rows, 2), day[k][1] = db_rows_i64(rows, 6), day[k][2] = db_rows_i64(rows, 7);
            continue;
        }
        int64_t pid = db_rows_i64(rows, 1);
        size_t i = 0;
        while (i < np && ps[i].product_id != pid)
            i++;
        if (i == np)
            ps[np++].product_id = pid;
        ps[i].lines += db_rows_i64(rows, 3);
        ps[i].qty_g += db_rows_i64(rows, 4);
        ps[i].qty_pieces += db_rows_i64(rows, 5);
        ps[i].sales_fen += db_rows_i64(rows, 6);
        ps[i].refunds_fen += db_rows_i64(rows, 7);
        ps[i].name = db_rows_str(rows, 8, NULL); /* days ascending: the latest day's name wins */
        ps[i].code = db_rows_str(rows, 9, NULL);
    }
    if (rc == DB_OK && np > 0)
        qsort(ps, np, sizeof(*ps), by_sales);
    for (size_t i = 0; rc == DB_OK && i < np; i++)
        if (json_array_append_new(
                by_product,
                json_pack("{s:I, s:s?, s:s?, s:I, s:I, s:I, s:I, s:I}", "product_id", (json_int_t)ps[i].product_id,
                          "name", ps[i].name, "commodity_code", ps[i].code, "lines", (json_int_t)ps[i].lines, "qty_g",
                          (json_int_t)ps[i].qty_g, "qty_pieces", (json_int_t)ps[i].qty_pieces, "sales_fen",
                          (json_int_t)ps[i].sales_fen, "refunds_fen", (json_int_t)ps[i].refunds_fen)) != 0)
            rc = SF_E_INTERNAL;
    for (size_t k = 0; rc == DB_OK && k < ndays; k++) {
        char name[16];
        kpi_day_name(d0 + (int32_t)k, name, sizeof(name));
        if (json_array_append_new(by_day, json_pack("{s:s, s:I, s:I, s:I}", "date", name, "orders",
                                                    (json_int_t)day[k][0], "sales_fen", (json_int_t)day[k][1],
                                                    "refunds_fen", (json_int_t)day[k][2])) != 0)
            rc = SF_E_INTERNAL;
    }
    if (rc == DB_OK) {
        *out = json_pack("{s:s, s:s, s:I, s:I, s:I, s:I, s:I, s:I, s:O, s:O}", "from", from, "to", to, "orders",
                         (json_int_t)tot[0], "sales_fen", (json_int_t)tot[1], "refunds_fen", (json_int_t)tot[2],
                         "net_sales_fen", (json_int_t)(tot[1] - tot[2]), "items_qty_g", (json_int_t)tot[3],
                         "items_qty_pieces", (json_int_t)tot[4], "by_product", by_product, "by_day", by_day);
        if (*out == NULL)
            rc = SF_E_INTERNAL;
    }
    json_decref(by_product);
    json_decref(by_day);
    free(day);
    free(ps);
    db_rows_free(rows);
    return rc;
}

/* ---------------------------------------------------------------- the market centre's */

/* The delivery-time histogram's buckets, in minutes: [edge[i], edge[i + 1]), the last open. */
static const int64_t bucket_min[] = {0, 30, 45, 60, 90, 120};
#define NBUCKETS (sizeof(bucket_min) / sizeof(bucket_min[0]))

/* A row 's' of report_admin_stats's statement as a stall of its answer; NULL out of memory. */
static json_t *stall_json(const db_rows_t *r)
{
    int64_t sales = db_rows_i64(r, 3), refunds = db_rows_i64(r, 11);
    json_t *vendor = db_rows_isnull(r, 7) ? json_null()
                                          : json_pack("{s:I, s:s?}", "id", (json_int_t)db_rows_i64(r, 7), "name",
                                                      db_rows_str(r, 8, NULL));
    return json_pack("{s:I, s:s?, s:s?, s:{s:I, s:I}, s:o, s:I, s:I, s:I, s:I, s:I}", "stall_id",
                     (json_int_t)db_rows_i64(r, 4), "stall_no", db_rows_str(r, 1, NULL), "zone",
                     db_rows_str(r, 2, NULL), "map", "x", (json_int_t)db_rows_i64(r, 5), "y",
                     (json_int_t)db_rows_i64(r, 6), "vendor", vendor, "orders", (json_int_t)db_rows_i64(r, 9), "lines",
                     (json_int_t)db_rows_i64(r, 10), "sales_fen", (json_int_t)sales, "refunds_fen", (json_int_t)refunds,
                     "net_sales_fen", (json_int_t)(sales - refunds));
}

sf_status_t report_admin_stats(db_t *db, int64_t market_id, const char *from, const char *to, int band_pct,
                               json_t **out)
{
    /* One statement, three kinds of rows in 12 columns (unused ones NULL), ordered by kind,
     * then column 3 descending, then column 1:
     * 'c' sales by category: 1 code, 2 name, 3 fen (largest first, then by code);
     * 'd' delivered orders by bucket: 1 the bucket's index, 3 orders: per delivered order, its
     *     latest delivered_at minus its paid_at in whole seconds (the millisecond difference
     *     truncated), as the KPIs take it;
     * 's' every stall of the market, with its sale lines or none: 1 stall_no, 2 zone,
     *     3 sales_fen (largest first, then by stall_no), 4 id, 5 map_x, 6 map_y, 7 vendor id,
     *     8 vendor name (the stall's vendor now; NULL for a free stall), 9 orders (distinct
     *     order_no), 10 lines, 11 refunds_fen. */
    static const char sql[] =
        "SELECT 'c', g.category, c.name, g.sales_fen, NULL, NULL, NULL, NULL, NULL, NULL, NULL, NULL FROM ("
        "SELECT category, SUM(amount_fen) AS sales_fen "
        "FROM sale_lines WHERE market_id = ? AND paid_date BETWEEN ? AND ? GROUP BY category) g "
        "LEFT JOIN categories c ON c.market_id = ? AND c.code = g.category "
        "UNION ALL "
        "SELECT 'd', CASE WHEN o.s < 1800 THEN 0 WHEN o.s < 2700 THEN 1 WHEN o.s < 3600 THEN 2 "
        "WHEN o.s < 5400 THEN 3 WHEN o.s < 7200 THEN 4 ELSE 5 END, NULL, COUNT(*), NULL, NULL, NULL, NULL, NULL, NULL, "
        "NULL, NULL FROM ("
        "SELECT TIMESTAMPDIFF(MICROSECOND, MIN(paid_at), MAX(delivered_at)) DIV 1000000 AS s FROM sale_lines "
        "WHERE market_id = ? AND paid_date BETWEEN ? AND ? GROUP BY order_no HAVING MAX(delivered_at) IS NOT NULL) o "
        "GROUP BY 2 "
        "UNION ALL "
        "SELECT 's', s.stall_no, s.zone, COALESCE(g.sales_fen, 0), s.id, s.map_x, s.map_y, v.id, v.name, "
        "COALESCE(g.orders, 0), COALESCE(g.nlines, 0), COALESCE(g.refunds_fen, 0) FROM stalls s LEFT JOIN ("
        "SELECT stall_id, COUNT(DISTINCT order_no) AS orders, COUNT(*) AS nlines, SUM(amount_fen) AS sales_fen, "
        "SUM(refunded_fen) AS refunds_fen FROM sale_lines WHERE market_id = ? AND paid_date BETWEEN ? AND ? "
        "GROUP BY stall_id) g ON g.stall_id = s.id LEFT JOIN vendors v ON v.id = s.vendor_id WHERE s.market_id = ? "
        "ORDER BY 1, 4 DESC, 2";
    json_t *os = NULL, *alerts = NULL, *cats = NULL, *hist = NULL, *stalls = NULL;
    db_rows_t *rows = NULL;
    *out = NULL;
    sf_status_t rc = stats_online_sales(db, market_id, from, to, &os);
    if (rc == SF_OK)
        rc = db_query(db, sql,
                      (db_param_t[]){DB_I64(market_id), DB_STR(from), DB_STR(to), DB_I64(market_id), DB_I64(market_id),
                                     DB_STR(from), DB_STR(to), DB_I64(market_id), DB_STR(from), DB_STR(to),
                                     DB_I64(market_id)},
                      11, &rows);
    if (rc == SF_OK)
        rc = guide_alerts(db, market_id, to, band_pct, &alerts);
    if (rc == SF_OK &&
        ((cats = json_array()) == NULL || (hist = json_array()) == NULL || (stalls = json_array()) == NULL))
        rc = SF_E_INTERNAL;
    int64_t gmv = rc == SF_OK ? json_integer_value(json_object_get(json_object_get(os, "total"), "gmv_fen")) : 0;
    int64_t counts[NBUCKETS] = {0};
    while (rc == SF_OK && db_rows_next(rows)) {
        const char *kind = db_rows_str(rows, 0, NULL);
        if (kind != NULL && kind[0] == 'd') {
            int64_t b = db_rows_i64(rows, 1);
            if (b >= 0 && b < (int64_t)NBUCKETS)
                counts[b] = db_rows_i64(rows, 3);
            continue;
        }
        if (kind != NULL && kind[0] == 's') {
            if (json_array_append_new(stalls, stall_json(rows)) != 0)
                rc = SF_E_INTERNAL;
            continue;
        }
        int64_t fen = db_rows_i64(rows, 3);
        if (json_array_append_new(cats, json_pack("{s:s?, s:s?, s:I, s:o}", "category", db_rows_str(rows, 1, NULL),
                                                  "name", db_rows_str(rows, 2, NULL), "sales_fen", (json_int_t)fen,
                                                  "share", kpi_ratio(fen, gmv))) != 0)
            rc = SF_E_INTERNAL;
    }
    for (size_t b = 0; rc == SF_OK && b < NBUCKETS; b++)
        if (json_array_append_new(hist, json_pack("{s:I, s:o, s:I}", "from_min", (json_int_t)bucket_min[b], "to_min",
                                                  b + 1 < NBUCKETS ? json_integer(bucket_min[b + 1]) : json_null(),
                                                  "orders", (json_int_t)counts[b])) != 0)
            rc = SF_E_INTERNAL;
    if (rc == SF_OK) {
        *out = json_pack("{s:s, s:s, s:O, s:O, s:O, s:O, s:O, s:O}", "from", from, "to", to, "kpis",
                         json_object_get(os, "total"), "days", json_object_get(os, "days"), "categories", cats,
                         "delivery_minutes", hist, "stalls", stalls, "price_alerts", json_object_get(alerts, "items"));
        if (*out == NULL)
            rc = SF_E_INTERNAL;
    }
    db_rows_free(rows);
    json_decref(os);
    json_decref(alerts);
    json_decref(cats);
    json_decref(hist);
    json_decref(stalls);
    return rc;
}
