/*
 * The platforms' statistics (see stats.h), read from `sale_lines`, the latest version of
 * every sale line, clustered by (market_id, paid_date): a day or a range of one market is one
 * range scan of the primary key. The KPIs go through models/kpi.h, the code a platform's
 * recomputation runs too (a range's lines are read in batches in the key's order and folded
 * into kpi_acc_*, never held whole); the summary and reconcile figures are sums that SQL does.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/cursor.h"
#include "models/salelog.h"
#include "models/stats.h"

/* Unix milliseconds of a UTC DATETIME(3) column, whatever the session's time zone. */
#define UNIX_MS(col) "CAST(TIMESTAMPDIFF(MICROSECOND, '1970-01-01 00:00:00', " col ") DIV 1000 AS SIGNED)"

/* The +08:00 day range [from 00:00, to + 1 day 00:00) of a DATETIME(3) UTC column, for two
 * parameters from and to. */
#define DAYS_0800(col)                                                                                                 \
    col " >= CAST(? AS DATETIME) - INTERVAL 8 HOUR AND " col " < CAST(? AS DATETIME) + INTERVAL 16 HOUR"

/* A nullable integer column, KPI_NO_TIME for NULL. */
static int64_t opt_i64(const db_rows_t *r, size_t col)
{
    return db_rows_isnull(r, col) ? KPI_NO_TIME : db_rows_i64(r, col);
}

/* The columns of a sale line as a record (rec_of), from sale_lines. */
#define REC_COLUMNS                                                                                                    \
    "event_id, version, op = 'void', pricing_mode = 'weight', order_no, stall_no, consumer_ref, qty, qty_actual, "     \
    "amount_fen, refunded_fen, " UNIX_MS("paid_at") ", " UNIX_MS("ready_at") ", " UNIX_MS("delivered_at")
#define REC_NCOLUMNS 14

static void rec_of(const db_rows_t *rows, sale_rec_t *r)
{
    memset(r, 0, sizeof(*r));
    r->event_id = db_rows_i64(rows, 0);
    r->version = db_rows_i64(rows, 1);
    r->is_void = db_rows_i64(rows, 2) != 0;
    r->is_weight = db_rows_i64(rows, 3) != 0;
    db_rows_copy(rows, 4, r->order_no, sizeof(r->order_no));
    db_rows_copy(rows, 5, r->stall_no, sizeof(r->stall_no));
    db_rows_copy(rows, 6, r->consumer_ref, sizeof(r->consumer_ref));
    r->qty = db_rows_i64(rows, 7);
    r->qty_actual = opt_i64(rows, 8);
    r->amount_fen = db_rows_i64(rows, 9);
    r->refunded_fen = db_rows_i64(rows, 10);
    r->paid_ms = db_rows_i64(rows, 11);
    r->ready_ms = opt_i64(rows, 12);
    r->delivered_ms = opt_i64(rows, 13);
    r->paid_day = kpi_day_of(r->paid_ms);
}

sf_status_t stats_sale_recs(db_t *db, int64_t market_id, const char *from, const char *to, sale_rec_t **recs, size_t *n)
{
    db_rows_t *rows = NULL;
    *recs = NULL;
    *n = 0;
    int rc = db_query(db,
                      "SELECT " REC_COLUMNS " FROM sale_lines WHERE market_id = ? AND paid_date BETWEEN ? AND ? "
                      "ORDER BY paid_date, event_id",
                      (db_param_t[]){DB_I64(market_id), DB_STR(from), DB_STR(to)}, 3, &rows);
    if (rc != DB_OK)
        return rc;
    if (rows->nrows > 0 && (*recs = calloc(rows->nrows, sizeof(**recs))) == NULL) {
        db_rows_free(rows);
        return SF_E_INTERNAL;
    }
    for (size_t i = 0; db_rows_next(rows); i++)
        rec_of(rows, &(*recs)[i]);
    *n = rows->nrows;
    db_rows_free(rows);
    return SF_OK;
}

/* ---------------------------------------------------------------- the feed */

sf_status_t stats_feed_page(db_t *db, int64_t market_id, int64_t after_pos, size_t limit, json_t **out)
{
    json_t *items = NULL;
    int64_t last = after_pos;
    int more = 0;
    char cursor[CURSOR_MAX] = "";
    *out = NULL;
    sf_status_t rc = salelog_sequence(db, NULL);
    if (rc == SF_OK)
        rc = salelog_feed(db, market_id, after_pos, limit, &items, &last, &more);
    if (rc == SF_OK && last > 0 && cursor_encode(STATS_FEED_KIND, 0, last, cursor, sizeof(cursor)) != 0)
        rc = SF_E_INTERNAL;
    if (rc == SF_OK && (*out = json_pack("{s:O, s:o, s:o}", "items", items, "next_cursor",
                                         more && cursor[0] != '\0' ? json_string(cursor) : json_null(), "resume_cursor",
                                         json_string(cursor))) == NULL)
        rc = SF_E_INTERNAL;
    json_decref(items);
    return rc;
}

/* ---------------------------------------------------------------- online sales */

/* How many lines one statement of stats_online_sales reads: its memory is that of one batch
 * (the rows and their records) plus the accumulator's per-order summaries. Not static: a test
 * sets it lower to span batches with few rows. */
size_t stats_batch_lines = 20000;

/* The KPIs as JSON, with the complaints; NULL out of memory. */
static json_t *kpis_json(kpi_t *k, int64_t complaints)
{
    k->complaint_count = complaints;
    return kpi_json(k);
}

/* Folds every line of the market paid from..to into acc, in batches of stats_batch_lines
 * lines read in the primary key's order after the last one read: ceil(lines / batch)
 * statements (one more when the count is a multiple of the batch), each a range scan that
 * starts where the previous ended. */
static sf_status_t fold_range(db_t *db, int64_t market_id, const char *from, const char *to, kpi_acc_t *acc)
{
    size_t batch = stats_batch_lines > 0 ? stats_batch_lines : 1;
    sale_rec_t *recs = malloc(batch * sizeof(*recs));
    char after_date[16];
    int64_t after_event = INT64_MIN;
    int rc = recs != NULL ? DB_OK : SF_E_INTERNAL;
    snprintf(after_date, sizeof(after_date), "%s", from);
    for (int more = 1; rc == DB_OK && more;) {
        db_rows_t *rows = NULL;
        size_t got = 0;
        /* (paid_date, event_id) > (?, ?) spelt out: MariaDB's range optimizer reads only the
         * batch then, not the day from its start */
        rc = db_query(db,
                      "SELECT " REC_COLUMNS ", paid_date FROM sale_lines WHERE market_id = ? AND paid_date <= ? "
                      "AND (paid_date > ? OR (paid_date = ? AND event_id > ?)) ORDER BY paid_date, event_id LIMIT ?",
                      (db_param_t[]){DB_I64(market_id), DB_STR(to), DB_STR(after_date), DB_STR(after_date),
                                     DB_I64(after_event), DB_I64((int64_t)batch)},
                      6, &rows);
        if (rc != DB_OK)
            break;
        for (; got < batch && db_rows_next(rows); got++) {
            rec_of(rows, &recs[got]);
            after_event = recs[got].event_id;
            db_rows_copy(rows, REC_NCOLUMNS, after_date, sizeof(after_date));
        }
        db_rows_free(rows);
        if (kpi_acc_add(acc, recs, got) != 0)
            rc = SF_E_INTERNAL;
        more = got == batch;
    }
    free(recs);
    return rc;
}

sf_status_t stats_online_sales(db_t *db, int64_t market_id, const char *from, const char *to, json_t **out)
{
    int32_t d0, d1;
    *out = NULL;
    if (kpi_day_parse(from, &d0) != 0 || kpi_day_parse(to, &d1) != 0 || d1 < d0)
        return SF_E_INVALID;
    size_t ndays = (size_t)(d1 - d0) + 1;
    int64_t *complaints = calloc(ndays, sizeof(*complaints));
    kpi_t *kd = calloc(ndays, sizeof(*kd));
    if (complaints == NULL || kd == NULL) {
        free(complaints);
        free(kd);
        return SF_E_INTERNAL;
    }
    /* The market's stalls (day -1) and its complaints by +08:00 day, in one statement. */
    db_rows_t *rows = NULL;
    int rc = db_query(db,
                      "SELECT -1, COUNT(*) FROM stalls WHERE market_id = ? UNION ALL "
                      "SELECT DATEDIFF(created_at + INTERVAL 8 HOUR, '1970-01-01'), COUNT(*) FROM complaints "
                      "WHERE market_id = ? AND " DAYS_0800("created_at") " GROUP BY 1",
                      (db_param_t[]){DB_I64(market_id), DB_I64(market_id), DB_STR(from), DB_STR(to)}, 4, &rows);
    int64_t stalls = 0, all_complaints = 0;
    while (rc == DB_OK && db_rows_next(rows)) {
        int64_t day = db_rows_i64(rows, 0);
        if (day == -1)
            stalls = db_rows_i64(rows, 1);
        else if (day >= d0 && day <= d1) {
            complaints[day - d0] = db_rows_i64(rows, 1);
            all_complaints += complaints[day - d0];
        }
    }
    db_rows_free(rows);
    kpi_acc_t *acc = NULL;
    kpi_t kt;
    if (rc == DB_OK && (acc = kpi_acc_new(stalls)) == NULL)
        rc = SF_E_INTERNAL;
    if (rc == DB_OK)
        rc = fold_range(db, market_id, from, to, acc);
    if (rc == DB_OK && (kpi_acc_days(acc, d0, ndays, kd) != 0 || kpi_acc_total(acc, &kt) != 0))
        rc = SF_E_INTERNAL;
    kpi_acc_free(acc);
    json_t *days = rc == DB_OK ? json_array() : NULL, *total = NULL;
    if (rc == DB_OK && days == NULL)
        rc = SF_E_INTERNAL;
    for (size_t k = 0; rc == DB_OK && k < ndays; k++) {
        char name[16];
        kpi_day_name(d0 + (int32_t)k, name, sizeof(name));
        json_t *o = kpis_json(&kd[k], complaints[k]);
        if (o == NULL || json_object_set_new(o, "date", json_string(name)) != 0 || json_array_append_new(days, o) != 0)
            rc = SF_E_INTERNAL;
    }
    if (rc == DB_OK && (total = kpis_json(&kt, all_complaints)) == NULL)
        rc = SF_E_INTERNAL;
    if (rc == DB_OK &&
        (*out = json_pack("{s:s, s:s, s:o, s:o}", "from", from, "to", to, "days", days, "total", total)) == NULL)
        rc = SF_E_INTERNAL;
    else if (rc != DB_OK) {
        json_decref(days);
        json_decref(total);
    }
    free(kd);
    free(complaints);
    return rc;
}

/* ---------------------------------------------------------------- summary */

/* The figures of a group of sale lines, as the KPIs count them: quantities over non-void
 * lines, qty_actual when set. */
#define GROUP_FIGURES                                                                                                  \
    "COUNT(DISTINCT order_no), COUNT(*), "                                                                             \
    "COALESCE(SUM(CASE WHEN op = 'upsert' AND pricing_mode = 'weight' THEN COALESCE(qty_actual, qty) END), 0), "       \
    "COALESCE(SUM(CASE WHEN op = 'upsert' AND pricing_mode = 'count' THEN COALESCE(qty_actual, qty) END), 0), "        \
    "COALESCE(SUM(amount_fen), 0), COALESCE(SUM(refunded_fen), 0)"

static json_t *figures(const db_rows_t *r, size_t c)
{
    return json_pack("{s:I, s:I, s:I, s:I, s:I, s:I}", "orders", (json_int_t)db_rows_i64(r, c), "lines",
                     (json_int_t)db_rows_i64(r, c + 1), "qty_g", (json_int_t)db_rows_i64(r, c + 2), "qty_pieces",
                     (json_int_t)db_rows_i64(r, c + 3), "sales_fen", (json_int_t)db_rows_i64(r, c + 4), "refunds_fen",
                     (json_int_t)db_rows_i64(r, c + 5));
}

sf_status_t stats_summary(db_t *db, int64_t market_id, const char *date, int by_category, json_t **out)
{
    /* WITH ROLLUP adds the day's row (group column NULL): its COUNT(DISTINCT order_no) is the
     * day's orders_paid, its sums those of the items. Columns: group, stall_no, figures. */
    static const char *const sql[2] = {
        "SELECT stall_id, MAX(stall_no), " GROUP_FIGURES " FROM sale_lines "
        "WHERE market_id = ? AND paid_date = ? GROUP BY stall_id WITH ROLLUP",
        "SELECT commodity_code, NULL, " GROUP_FIGURES " FROM sale_lines "
        "WHERE market_id = ? AND paid_date = ? GROUP BY commodity_code WITH ROLLUP",
    };
    db_rows_t *rows = NULL;
    *out = NULL;
    int rc = db_query(db, sql[by_category ? 1 : 0], (db_param_t[]){DB_I64(market_id), DB_STR(date)}, 2, &rows);
    if (rc != DB_OK)
        return rc;
    json_t *items = json_array(), *total = NULL;
    int complete = items != NULL;
    while (complete && db_rows_next(rows)) {
        json_t *o = figures(rows, 2);
        if (o == NULL) {
            complete = 0;
            break;
        }
        if (db_rows_isnull(rows, 0)) {
            json_decref(total);
            total = o;
            continue;
        }
        if (by_category)
            json_object_set_new(o, "commodity_code", json_string(db_rows_str(rows, 0, NULL)));
        else {
            json_object_set_new(o, "stall_id", json_integer(db_rows_i64(rows, 0)));
            json_object_set_new(o, "stall_no", json_string(db_rows_str(rows, 1, NULL)));
        }
        json_array_append_new(items, o);
    }
    db_rows_free(rows);
    if (complete && total == NULL) /* no line that day: ROLLUP gives no row at all */
        total = json_pack("{s:i, s:i, s:i, s:i, s:i, s:i}", "orders", 0, "lines", 0, "qty_g", 0, "qty_pieces", 0,
                          "sales_fen", 0, "refunds_fen", 0);
    if (!complete || total == NULL ||
        (*out = json_pack("{s:s, s:s, s:o, s:o}", "date", date, "by", by_category ? "category" : "stall", "items",
                          items, "total", total)) == NULL) {
        json_decref(items);
        json_decref(total);
        return SF_E_INTERNAL;
    }
    return SF_OK;
}

/* ---------------------------------------------------------------- reconcile */

sf_status_t stats_reconcile(db_t *db, int64_t market_id, const char *date, json_t **out)
{
    sale_rec_t *recs = NULL;
    size_t n = 0;
    char hex[65];
    *out = NULL;
    sf_status_t rc = stats_sale_recs(db, market_id, date, date, &recs, &n);
    if (rc != SF_OK)
        return rc;
    int64_t sales = 0;
    for (size_t i = 0; i < n; i++)
        sales += recs[i].amount_fen;
    if (kpi_checksum(recs, n, hex) != 0 ||
        (*out = json_pack("{s:s, s:I, s:I, s:s}", "date", date, "count", (json_int_t)n, "sales_fen", (json_int_t)sales,
                          "checksum", hex)) == NULL)
        rc = SF_E_INTERNAL;
    free(recs);
    return rc;
}
