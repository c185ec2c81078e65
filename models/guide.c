/*
 * Guide prices, notices and price anomalies (see guide.h). The anomaly query lets MariaDB
 * pick the candidates with the same cross-multiplied comparison in DECIMAL(65,0) (exact, no
 * BIGINT overflow), then guide_compare() decides each row again in C and gives the
 * direction and deviation, so the rule the tests check is the rule that answers.
 * Worker threads; each call uses only the db_t it is given.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/guide.h"

typedef __int128 i128; /* GCC/Clang: every product of two stored values fits */

/* A failed statement: a lost connection or a deadlock passes on as it is (db_tx runs the
 * transaction again); anything else is an internal failure. */
static sf_status_t db_fail(sf_status_t rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK ? rc : SF_E_INTERNAL;
}

static int64_t saturate(i128 v)
{
    return v > (i128)INT64_MAX ? INT64_MAX : v < (i128)INT64_MIN ? INT64_MIN : (int64_t)v;
}

/* ---------------------------------------------------------------- the rule */

guide_dir_t guide_compare(int64_t price_fen, int64_t per_g, int64_t guide_fen, int64_t guide_per_g, int band_pct,
                          int64_t *deviation_bp)
{
    if (deviation_bp != NULL)
        *deviation_bp = 0;
    if (price_fen <= 0 || guide_fen <= 0 || per_g <= 0 || guide_per_g <= 0 || per_g > INT32_MAX ||
        guide_per_g > INT32_MAX || band_pct < 0)
        return GUIDE_WITHIN;
    i128 a = (i128)price_fen * guide_per_g; /* < 2^94 */
    i128 b = (i128)guide_fen * per_g;       /* < 2^94, > 0 */
    if (deviation_bp != NULL) {
        i128 num = (a - b) * 10000; /* < 2^108 */
        i128 q = (num < 0 ? num - b / 2 : num + b / 2) / b;
        *deviation_bp = saturate(q);
    }
    if (a * 100 > b * (100 + band_pct))
        return GUIDE_ABOVE;
    if (band_pct < 100 && a * 100 < b * (100 - band_pct))
        return GUIDE_BELOW;
    return GUIDE_WITHIN;
}

int64_t guide_per_500g(int64_t price_fen, int64_t per_g)
{
    if (per_g <= 0)
        return 0;
    i128 num = (i128)price_fen * 500 * 2 + per_g;
    return saturate(num / ((i128)per_g * 2));
}

/* ---------------------------------------------------------------- guide prices */

/* What a write's transaction body works on and leaves behind. */
typedef struct write {
    int64_t market_id, user_id;
    const char *date, *title, *body;
    const guide_item_t *items;
    size_t n;
    json_t *out;
} write_t;

/* Upserts every item: a guide price already set for the day is replaced. */
static sf_status_t put_tx(db_t *db, void *ctx)
{
    const write_t *wr = ctx;
    sf_status_t rc = DB_OK;
    for (size_t i = 0; rc == DB_OK && i < wr->n; i++) {
        const guide_item_t *it = &wr->items[i];
        db_param_t p[] = {DB_I64(wr->market_id), DB_STR(wr->date),      DB_STR(it->commodity_code),
                          DB_STR(it->name),      DB_I64(it->price_fen), DB_I64(it->per_g)};
        rc = db_exec(db,
                     "INSERT INTO guide_prices (market_id, date, commodity_code, name, price_fen, per_g)"
                     " VALUES (?, ?, ?, ?, ?, ?) ON DUPLICATE KEY UPDATE name = VALUES(name),"
                     " price_fen = VALUES(price_fen), per_g = VALUES(per_g)",
                     p, 6, NULL, NULL);
    }
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

static json_t *items_json(const char *date, const guide_item_t *items, size_t n)
{
    json_t *arr = json_array();
    for (size_t i = 0; arr != NULL && i < n; i++) {
        json_t *o =
            json_pack("{s:s, s:s, s:I, s:I, s:s}", "commodity_code", items[i].commodity_code, "name", items[i].name,
                      "price_fen", (json_int_t)items[i].price_fen, "per_g", (json_int_t)items[i].per_g, "date", date);
        if (o == NULL || json_array_append_new(arr, o) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    return arr != NULL ? json_pack("{s:s, s:o}", "date", date, "items", arr) : NULL;
}

sf_status_t guide_put(db_t *db, int64_t market_id, const char *date, const guide_item_t *items, size_t n, json_t **out)
{
    write_t wr = {.market_id = market_id, .date = date, .items = items, .n = n};
    *out = items_json(date, items, n); /* first: out of memory writes nothing */
    if (*out == NULL)
        return SF_E_INTERNAL;
    sf_status_t rc = db_tx(db, put_tx, &wr);
    if (rc != SF_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* ---------------------------------------------------------------- notices */

/* The notice's row and its answer, inside the transaction: out of memory writes nothing. */
static sf_status_t notice_rows(db_t *db, int64_t market_id, int64_t user_id, const char *title, const char *body,
                               json_t **out)
{
    uint64_t id = 0;
    db_rows_t *rows = NULL;
    char when[40];
    db_param_t p[] = {DB_I64(market_id), DB_STR(title), DB_STR(body), DB_I64(user_id)};
    sf_status_t rc =
        db_exec(db, "INSERT INTO notices (market_id, title, body, created_by) VALUES (?, ?, ?, ?)", p, 4, NULL, &id);
    db_param_t k[] = {DB_I64((int64_t)id)};
    if (rc == DB_OK)
        rc = db_query_row(db,
                          "SELECT DATE_FORMAT(published_at + INTERVAL 8 HOUR, '%Y-%m-%dT%H:%i:%s.%f')"
                          " FROM notices WHERE id = ?",
                          k, 1, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    size_t len;
    const char *s = db_rows_str(rows, 0, &len);
    snprintf(when, sizeof(when), "%.23s+08:00", s != NULL && len >= 23 ? s : "");
    db_rows_free(rows);
    *out = json_pack("{s:I, s:I, s:s, s:s, s:s}", "id", (json_int_t)id, "market_id", (json_int_t)market_id, "title",
                     title, "body", body, "published_at", when);
    return *out != NULL ? SF_OK : SF_E_INTERNAL;
}

static sf_status_t notice_tx(db_t *db, void *ctx)
{
    write_t *wr = ctx;
    json_decref(wr->out); /* a run before this one */
    wr->out = NULL;
    return notice_rows(db, wr->market_id, wr->user_id, wr->title, wr->body, &wr->out);
}

sf_status_t guide_notice_create(db_t *db, int64_t market_id, int64_t user_id, const char *title, const char *body,
                                json_t **out)
{
    write_t wr = {.market_id = market_id, .user_id = user_id, .title = title, .body = body};
    sf_status_t rc = db_tx(db, notice_tx, &wr);
    if (rc != SF_OK) {
        json_decref(wr.out);
        wr.out = NULL;
    }
    *out = wr.out;
    return rc;
}

/* ---------------------------------------------------------------- anomalies */

/* The product's and the guide's price as exact DECIMAL products, for the candidates query. */
#define SQL_P "CAST(p.price_fen AS DECIMAL(65,0)) * g.per_g"
#define SQL_G "CAST(g.price_fen AS DECIMAL(65,0)) * p.per_g"

/* Columns: 0 product id, 1 name, 2 stall id, 3 stall_no, 4 vendor id, 5 commodity code,
 * 6 price_fen, 7 per_g, 8 guide price_fen, 9 guide per_g, 10 guide name. */
static const char alerts_sql[] =
    "SELECT p.id, p.name, p.stall_id, s.stall_no, p.vendor_id, p.commodity_code, p.price_fen, p.per_g,"
    " g.price_fen, g.per_g, g.name"
    " FROM products p"
    " JOIN guide_prices g ON g.market_id = p.market_id AND g.commodity_code = p.commodity_code AND g.date = ?"
    " JOIN stalls s ON s.id = p.stall_id"
    " WHERE p.market_id = ? AND p.status = 'on_sale' AND p.pricing_mode = 'weight' AND p.per_g > 0"
    " AND (" SQL_P " * 100 > " SQL_G " * (100 + ?) OR " SQL_P " * 100 < " SQL_G " * (100 - ?))"
    " ORDER BY ABS(" SQL_P " - " SQL_G ") / (" SQL_G ") DESC, p.id LIMIT 500";

_Static_assert(GUIDE_MAX_ALERTS == 500, "alerts_sql's LIMIT is GUIDE_MAX_ALERTS");

typedef struct alert {
    json_t *doc;
    int64_t abs_bp;
    int64_t product_id;
} alert_t;

static int alert_cmp(const void *x, const void *y)
{
    const alert_t *a = x, *b = y;
    if (a->abs_bp != b->abs_bp)
        return a->abs_bp > b->abs_bp ? -1 : 1;
    return (a->product_id > b->product_id) - (a->product_id < b->product_id);
}

/* One candidate row as an alert; a->doc stays NULL if C finds it within the band. */
static void alert_from_row(const db_rows_t *rows, int band_pct, alert_t *a)
{
    int64_t p = db_rows_i64(rows, 6), pg = db_rows_i64(rows, 7), g = db_rows_i64(rows, 8), gg = db_rows_i64(rows, 9);
    int64_t bp = 0;
    guide_dir_t dir = guide_compare(p, pg, g, gg, band_pct, &bp);
    a->doc = NULL;
    a->product_id = db_rows_i64(rows, 0);
    a->abs_bp = bp < 0 ? (bp == INT64_MIN ? INT64_MAX : -bp) : bp;
    if (dir == GUIDE_WITHIN)
        return;
    a->doc = json_pack(
        "{s:I, s:o, s:I, s:o, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:I, s:o, s:f, s:s}", "product_id",
        (json_int_t)a->product_id, "name", db_rows_json_str(rows, 1), "stall_id", (json_int_t)db_rows_i64(rows, 2),
        "stall_no", db_rows_json_str(rows, 3), "vendor_id", (json_int_t)db_rows_i64(rows, 4), "commodity_code",
        db_rows_json_str(rows, 5), "price_fen", (json_int_t)p, "per_g", (json_int_t)pg, "guide_price_fen",
        (json_int_t)g, "guide_per_g", (json_int_t)gg, "unit_price_fen_per_500g", (json_int_t)guide_per_500g(p, pg),
        "guide_price_fen_per_500g", (json_int_t)guide_per_500g(g, gg), "guide_name", db_rows_json_str(rows, 10),
        "deviation_pct", (double)bp / 100.0, "direction", dir == GUIDE_ABOVE ? "above" : "below");
}

/* Turns the candidate rows into the sorted list of alerts. */
static json_t *alerts_json(db_rows_t *rows, int band_pct)
{
    alert_t *all = calloc(rows->nrows > 0 ? rows->nrows : 1, sizeof(*all));
    json_t *items = json_array();
    size_t n = 0;
    int ok = all != NULL && items != NULL;
    while (ok && db_rows_next(rows) && n < GUIDE_MAX_ALERTS) {
        alert_from_row(rows, band_pct, &all[n]);
        if (all[n].doc != NULL)
            n++;
    }
    qsort(all, n, sizeof(*all), alert_cmp);
    for (size_t i = 0; i < n; i++)
        if (json_array_append_new(items, all[i].doc) != 0) /* steals even on failure */
            ok = 0;
    free(all);
    if (!ok) {
        json_decref(items);
        return NULL;
    }
    return json_pack("{s:o, s:n}", "items", items, "next_cursor");
}

sf_status_t guide_alerts(db_t *db, int64_t market_id, const char *date, int band_pct, json_t **out)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_STR(date), DB_I64(market_id), DB_I64(band_pct), DB_I64(band_pct)};
    sf_status_t rc = db_query(db, alerts_sql, p, 4, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    *out = alerts_json(rows, band_pct);
    db_rows_free(rows);
    return *out != NULL ? SF_OK : SF_E_INTERNAL;
}
