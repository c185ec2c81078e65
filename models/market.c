/*
 * Markets, stalls and the vendor's public record, categories, notices and guide prices: the
 * public reads (see market.h). SQL and JSON only; pages use the cursors of
 * models/product.c.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/cursor.h"
#include "models/market.h"
#include "models/product.h"
#include "models/base/sqltime.h"

/* A UTC DATETIME(3) column as RFC 3339 in +08:00, e.g. 2026-11-30T08:14:05.123+08:00. */

void market_date(time_t t, char out[MARKET_DATE_LEN])
{
    struct tm tm;
    time_t local = (t != 0 ? t : time(NULL)) + 8 * 3600;
    gmtime_r(&local, &tm);
    strftime(out, MARKET_DATE_LEN, "%Y-%m-%d", &tm);
}

/* A DECIMAL column as a JSON number. */
static json_t *decimal(const db_rows_t *r, size_t col)
{
    const char *s = db_rows_str(r, col, NULL);
    return json_real(s != NULL ? strtod(s, NULL) : 0.0);
}

/* ================================================================ markets */

#define MARKET_COLS "m.id, m.code, m.name, m.address, m.lat, m.lng, m.area_code"

static json_t *market_json(const db_rows_t *r)
{
    return json_pack("{s:I, s:s?, s:s?, s:s?, s:o, s:o, s:s?}", "id", (json_int_t)db_rows_i64(r, 0), "code",
                     db_rows_str(r, 1, NULL), "name", db_rows_str(r, 2, NULL), "address", db_rows_str(r, 3, NULL),
                     "lat", decimal(r, 4), "lng", decimal(r, 5), "area_code", db_rows_str(r, 6, NULL));
}

int market_list(db_t *db, size_t limit, int64_t after_id, json_t **items, char *next_cursor, size_t len)
{
    db_rows_t *rows = NULL;
    next_cursor[0] = '\0';
    *items = NULL;
    int rc = db_query(db, "SELECT " MARKET_COLS " FROM markets m WHERE m.id > ? ORDER BY m.id LIMIT ?",
                      (db_param_t[]){DB_I64(after_id), DB_I64(limit + 1)}, 2, &rows);
    if (rc != DB_OK)
        return rc;
    *items = json_array();
    for (size_t k = 0; db_rows_next(rows) && k < limit;) {
        json_array_append_new(*items, market_json(rows));
        if (++k == limit && rows->nrows > limit && cursor_encode('m', 0, db_rows_i64(rows, 0), next_cursor, len) != 0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    return rc;
}

int market_exists(db_t *db, int64_t id)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT 1 FROM markets WHERE id = ?", (db_param_t[]){DB_I64(id)}, 1, &rows);
    db_rows_free(rows);
    return rc;
}

/* The stored honours (a JSON array of strings); [] if the text is not one. */
static json_t *honours(const char *text)
{
    json_t *a = text != NULL ? json_loads(text, JSON_REJECT_DUPLICATES, NULL) : NULL;
    if (!json_is_array(a)) {
        json_decref(a);
        a = json_array();
    }
    return a;
}

static int notices(db_t *db, int64_t market_id, json_t **out)
{
    db_rows_t *rows = NULL;
    int rc =
        db_query(db,
                 "SELECT id, title, body, " SQL_AT_0800("published_at") " FROM notices WHERE market_id = ?"
                                                                        " ORDER BY published_at DESC, id DESC LIMIT ?",
                 (db_param_t[]){DB_I64(market_id), DB_I64(MARKET_NOTICES)}, 2, &rows);
    if (rc != DB_OK)
        return rc;
    *out = json_array();
    while (db_rows_next(rows))
        json_array_append_new(*out, json_pack("{s:I, s:s?, s:s?, s:s?}", "id", (json_int_t)db_rows_i64(rows, 0),
                                              "title", db_rows_str(rows, 1, NULL), "body", db_rows_str(rows, 2, NULL),
                                              "published_at", db_rows_str(rows, 3, NULL)));
    db_rows_free(rows);
    return DB_OK;
}

int market_get(db_t *db, int64_t id, json_t **out)
{
    db_rows_t *rows = NULL;
    json_t *news = NULL, *more = NULL;
    *out = NULL;
    int rc = db_query_row(db,
                          "SELECT " MARKET_COLS ", m.intro, m.honours, m.rules, m.open_hours,"
                          " (SELECT COUNT(*) FROM stalls s WHERE s.market_id = m.id) FROM markets m WHERE m.id = ?",
                          (db_param_t[]){DB_I64(id)}, 1, &rows);
    if (rc != DB_OK || (rc = notices(db, id, &news)) != DB_OK)
        goto out;
    more = json_pack("{s:s?, s:o, s:s?, s:s?, s:I, s:O}", "intro", db_rows_str(rows, 7, NULL), "honours",
                     honours(db_rows_str(rows, 8, NULL)), "rules", db_rows_str(rows, 9, NULL), "open_hours",
                     db_rows_str(rows, 10, NULL), "stall_count", (json_int_t)db_rows_i64(rows, 11), "notices", news);
    *out = market_json(rows);
    if (*out == NULL || more == NULL || json_object_update(*out, more) != 0) {
        json_decref(*out);
        *out = NULL;
        rc = DB_ERR;
    }
out:
    json_decref(more);
    json_decref(news);
    db_rows_free(rows);
    return rc;
}

/* ================================================================ stalls */

/* rating_sum / rating_count to one decimal, half up; null without ratings. The stall also
 * shows rating_count, so "4.5 from 2 ratings" reads differently from "4.5 from 200". */
static json_t *rating(int64_t sum, int64_t count)
{
    if (count <= 0)
        return json_null();
    int64_t tenths = (sum * 20 + count) / (count * 2);
    return json_real((double)tenths / 10.0);
}

#define STALL_COLS                                                                                                     \
    "s.id, s.market_id, s.stall_no, s.zone, s.map_x, s.map_y, s.rating_sum, s.rating_count, v.id, v.name,"             \
    " v.credit_level"

/* A closed vendor no longer trades at the stall: the stall shows no vendor. */
#define STALL_FROM " FROM stalls s LEFT JOIN vendors v ON v.id = s.vendor_id AND v.status <> 'closed'"

static json_t *stall_json(const db_rows_t *r)
{
    json_t *vendor = db_rows_isnull(r, 8)
                         ? json_null()
                         : json_pack("{s:I, s:s?, s:s?}", "id", (json_int_t)db_rows_i64(r, 8), "name",
                                     db_rows_str(r, 9, NULL), "credit_level", db_rows_str(r, 10, NULL));
    return json_pack("{s:I, s:I, s:s?, s:s?, s:{s:I, s:I}, s:o, s:o, s:I}", "id", (json_int_t)db_rows_i64(r, 0),
                     "market_id", (json_int_t)db_rows_i64(r, 1), "stall_no", db_rows_str(r, 2, NULL), "zone",
                     db_rows_str(r, 3, NULL), "map", "x", (json_int_t)db_rows_i64(r, 4), "y",
                     (json_int_t)db_rows_i64(r, 5), "vendor", vendor, "rating",
                     rating(db_rows_i64(r, 6), db_rows_i64(r, 7)), "rating_count", (json_int_t)db_rows_i64(r, 7));
}

static const char stalls_sql[] =
    "SELECT " STALL_COLS STALL_FROM " WHERE s.market_id = ? AND s.id > ?"
    " AND (? IS NULL OR EXISTS (SELECT 1 FROM products p WHERE p.stall_id = s.id AND p.status = 'on_sale'"
    " AND p.category IN (WITH RECURSIVE c (code) AS (SELECT code FROM categories WHERE market_id = ? AND code = ?"
    " UNION SELECT k.code FROM categories k JOIN c ON k.parent_code = c.code WHERE k.market_id = ?)"
    " SELECT code FROM c)))"
    " AND (? IS NULL OR s.stall_no LIKE ? ESCAPE '!' OR v.name LIKE ? ESCAPE '!')"
    " ORDER BY s.id LIMIT ?";

int market_stalls(db_t *db, const market_stall_query_t *q, json_t **items, char *next_cursor, size_t len)
{
    char like[PRODUCT_SEARCH_MAX * 8 + 3];
    db_rows_t *rows = NULL;
    *items = NULL;
    next_cursor[0] = '\0';
    if (q->q != NULL && product_like_pattern(q->q, like, sizeof(like)) != 0)
        return DB_ERR;
    db_param_t cat = q->category != NULL ? DB_STR(q->category) : DB_NULL;
    db_param_t pat = q->q != NULL ? DB_STR(like) : DB_NULL;
    db_param_t p[] = {
        DB_I64(q->market_id), DB_I64(q->after_id), cat, DB_I64(q->market_id), cat, DB_I64(q->market_id), pat, pat, pat,
        DB_I64(q->limit + 1)};
    int rc = db_query(db, stalls_sql, p, sizeof(p) / sizeof(p[0]), &rows);
    if (rc != DB_OK)
        return rc;
    *items = json_array();
    for (size_t k = 0; db_rows_next(rows) && k < q->limit;) {
        json_array_append_new(*items, stall_json(rows));
        if (++k == q->limit && rows->nrows > q->limit &&
            cursor_encode('t', 0, db_rows_i64(rows, 0), next_cursor, len) != 0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    return rc;
}

int market_stall_market(db_t *db, int64_t stall_id, int64_t *market_id)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT market_id FROM stalls WHERE id = ?", (db_param_t[]){DB_I64(stall_id)}, 1, &rows);
    if (rc == DB_OK)
        *market_id = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return rc;
}

static int licences(db_t *db, int64_t market_id, int64_t vendor_id, json_t *vendor)
{
    db_rows_t *rows = NULL;
    int rc = db_query(db,
                      "SELECT type, number, valid_until FROM vendor_licences WHERE vendor_id = ? AND market_id = ?"
                      " ORDER BY id LIMIT ?",
                      (db_param_t[]){DB_I64(vendor_id), DB_I64(market_id), DB_I64(MARKET_RECORD_MAX)}, 3, &rows);
    if (rc != DB_OK)
        return rc;
    json_t *a = json_array();
    while (db_rows_next(rows))
        json_array_append_new(a, json_pack("{s:s?, s:s?, s:s?}", "type", db_rows_str(rows, 0, NULL), "number",
                                           db_rows_str(rows, 1, NULL), "valid_until", db_rows_str(rows, 2, NULL)));
    db_rows_free(rows);
    return json_object_set_new(vendor, "licences", a) == 0 ? DB_OK : DB_ERR;
}

static int staff(db_t *db, int64_t market_id, int64_t vendor_id, const char *today, json_t *vendor)
{
    db_rows_t *rows = NULL;
    int rc = db_query(db,
                      "SELECT name, certificate, valid_until, valid_until >= ? FROM vendor_staff"
                      " WHERE vendor_id = ? AND market_id = ? ORDER BY id LIMIT ?",
                      (db_param_t[]){DB_STR(today), DB_I64(vendor_id), DB_I64(market_id), DB_I64(MARKET_RECORD_MAX)}, 4,
                      &rows);
    if (rc != DB_OK)
        return rc;
    json_t *a = json_array();
    while (db_rows_next(rows))
        json_array_append_new(a, json_pack("{s:s?, s:s?, s:s?, s:b}", "name", db_rows_str(rows, 0, NULL), "certificate",
                                           db_rows_str(rows, 1, NULL), "valid_until", db_rows_str(rows, 2, NULL),
                                           "valid", db_rows_i64(rows, 3) == 1));
    db_rows_free(rows);
    return json_object_set_new(vendor, "staff", a) == 0 ? DB_OK : DB_ERR;
}

/* Adds contact, scope, licences and staff to the stall's vendor object. */
static int vendor_record(db_t *db, int64_t market_id, int64_t vendor_id, const char *today, json_t *vendor)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT contact_phone, business_scope FROM vendors WHERE id = ? AND market_id = ?",
                          (db_param_t[]){DB_I64(vendor_id), DB_I64(market_id)}, 2, &rows);
    if (rc != DB_OK)
        goto out;
    if (json_object_set_new(vendor, "contact_phone", json_string(db_rows_str(rows, 0, NULL))) != 0 ||
        json_object_set_new(vendor, "business_scope", json_string(db_rows_str(rows, 1, NULL))) != 0) {
        rc = DB_ERR;
        goto out;
    }
    if ((rc = licences(db, market_id, vendor_id, vendor)) == DB_OK)
        rc = staff(db, market_id, vendor_id, today, vendor);
out:
    db_rows_free(rows);
    return rc;
}

int market_stall_get(db_t *db, int64_t stall_id, const char *today, json_t **out)
{
    db_rows_t *rows = NULL;
    *out = NULL;
    int rc =
        db_query_row(db, "SELECT " STALL_COLS STALL_FROM " WHERE s.id = ?", (db_param_t[]){DB_I64(stall_id)}, 1, &rows);
    if (rc != DB_OK)
        goto out;
    if ((*out = stall_json(rows)) == NULL) {
        rc = DB_ERR;
        goto out;
    }
    json_t *vendor = json_object_get(*out, "vendor");
    if (json_is_object(vendor))
        rc = vendor_record(db, db_rows_i64(rows, 1), db_rows_i64(rows, 8), today, vendor);
out:
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}

/* ================================================================ categories */

/* 1 if following parents up from node i reaches a root within n steps (no cycle above). */
static int reaches_root(json_t *index, const db_rows_t *r, size_t i, size_t n)
{
    for (size_t steps = 0; steps <= n; steps++) {
        const char *parent = r->cells[i * r->ncols + 3];
        json_t *pi = parent != NULL ? json_object_get(index, parent) : NULL;
        if (pi == NULL)
            return 1;
        i = (size_t)json_integer_value(pi);
    }
    return 0;
}

/* Hangs each node under its parent; a node without a known parent, or on or under a cycle
 * of parents (bad data), becomes a root, so the tree is always a tree. */
static json_t *build_tree(const db_rows_t *r, json_t *nodes, json_t *index)
{
    json_t *roots = json_array();
    for (size_t i = 0; i < r->nrows; i++) {
        const char *parent = r->cells[i * r->ncols + 3];
        json_t *pi = parent != NULL ? json_object_get(index, parent) : NULL;
        json_t *node = json_array_get(nodes, i);
        if (pi != NULL && reaches_root(index, r, i, r->nrows))
            json_array_append(json_object_get(json_array_get(nodes, (size_t)json_integer_value(pi)), "children"), node);
        else
            json_array_append(roots, node);
    }
    return roots;
}

int market_categories(db_t *db, int64_t market_id, json_t **tree)
{
    db_rows_t *rows = NULL;
    *tree = NULL;
    int rc = db_query(db,
                      "SELECT code, name, commodity_code, parent_code FROM categories WHERE market_id = ?"
                      " ORDER BY sort, code LIMIT ?",
                      (db_param_t[]){DB_I64(market_id), DB_I64(MARKET_CATEGORIES_MAX)}, 2, &rows);
    if (rc != DB_OK)
        return rc;
    json_t *nodes = json_array(), *index = json_object();
    for (size_t i = 0; db_rows_next(rows); i++) {
        json_array_append_new(nodes, json_pack("{s:s?, s:s?, s:s?, s:[]}", "code", db_rows_str(rows, 0, NULL), "name",
                                               db_rows_str(rows, 1, NULL), "commodity_code", db_rows_str(rows, 2, NULL),
                                               "children"));
        json_object_set_new(index, db_rows_str(rows, 0, NULL), json_integer((json_int_t)i));
    }
    *tree = build_tree(rows, nodes, index);
    json_decref(nodes);
    json_decref(index);
    db_rows_free(rows);
    return *tree != NULL ? DB_OK : DB_ERR;
}

/* ================================================================ guide prices */

static json_t *guide_json(const db_rows_t *r)
{
    return json_pack("{s:s?, s:s?, s:I, s:I, s:s?}", "commodity_code", db_rows_str(r, 0, NULL), "name",
                     db_rows_str(r, 1, NULL), "price_fen", (json_int_t)db_rows_i64(r, 2), "per_g",
                     (json_int_t)db_rows_i64(r, 3), "date", db_rows_str(r, 4, NULL));
}

int market_guide_prices(db_t *db, int64_t market_id, const char *date, json_t **items)
{
    db_rows_t *rows = NULL;
    *items = NULL;
    int rc = db_query(db,
                      "SELECT commodity_code, name, price_fen, per_g, date FROM guide_prices"
                      " WHERE market_id = ? AND date = ? ORDER BY commodity_code LIMIT ?",
                      (db_param_t[]){DB_I64(market_id), DB_STR(date), DB_I64(MARKET_GUIDE_MAX)}, 3, &rows);
    if (rc != DB_OK)
        return rc;
    *items = json_array();
    while (db_rows_next(rows))
        json_array_append_new(*items, guide_json(rows));
    db_rows_free(rows);
    return DB_OK;
}

int market_guide_price(db_t *db, int64_t market_id, const char *commodity_code, const char *date, json_t **out)
{
    db_rows_t *rows = NULL;
    *out = NULL;
    int rc = db_query_row(db,
                          "SELECT commodity_code, name, price_fen, per_g, date FROM guide_prices"
                          " WHERE market_id = ? AND date = ? AND commodity_code = ?",
                          (db_param_t[]){DB_I64(market_id), DB_STR(date), DB_STR(commodity_code)}, 3, &rows);
    if (rc == DB_OK && (*out = guide_json(rows)) == NULL)
        rc = DB_ERR;
    db_rows_free(rows);
    return rc;
}
