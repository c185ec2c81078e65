/*
 * Products (see product.h): validation of vendor input, the catalogue's keyset cursors, and
 * the products table's SQL and JSON.
 *
 * The rules a vendor's input must meet, and why:
 *   name            1..100 code points, no control characters, no leading or trailing space
 *   category        a categories.code of the vendor's market (checked in the database)
 *   commodity_code  ^[A-Z0-9]{1,16}$: NY/T 2137 codes are upper-case letters and digits
 *                   (e.g. A010101); the column holds 16
 *   pricing         {"mode": "weight", "price_fen": 1..10^7, "per_g": 1..100000} or
 *                   {"mode": "count", "price_fen": 1..10^7, "unit": 1..8 code points}
 *   stock           0..10^9 (grams or pieces)
 *   origin          ^[1-8][0-9]{5}$ or null: a GB/T 2260 region code (provinces are 11..82)
 *   trace_code      1..64 of [A-Za-z0-9._-] or null: a supplier's batch code
 *   stall_id        one of the vendor's stalls (checked in the database)
 * Unknown fields are refused: a misspelt "prise_fen" must not pass silently in a system
 * that handles money. Integers must be JSON integers (600, not 600.0 or "600").
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/cursor.h"
#include "models/product.h"

/* Ids are JSON integers from 1 to 2^53 (JavaScript clients hold them as doubles), as the
 * validation kit takes them. */
#define ID_MAX 9007199254740992LL

/* ================================================================ validation */

static int invalid(product_invalid_t *bad, const char *field, const char *reason)
{
    snprintf(bad->field, sizeof(bad->field), "%s", field);
    bad->reason = reason;
    return -1;
}

/* A field name taken from the input: cut at a code point boundary so it stays UTF-8. */
static int invalid_key(product_invalid_t *bad, const char *prefix, const char *key, const char *reason)
{
    size_t plen = strlen(prefix), room = sizeof(bad->field) - 1 - plen, n = strlen(key);
    if (n > room) {
        n = room;
        while (n > 0 && ((unsigned char)key[n] & 0xC0) == 0x80)
            n--;
    }
    snprintf(bad->field, sizeof(bad->field), "%s%.*s", prefix, (int)n, key);
    bad->reason = reason;
    return -1;
}

const char *product_check_text(const json_t *v, size_t min, size_t max, const char **s)
{
    if (!json_is_string(v))
        return "must be a string";
    const unsigned char *p = (const unsigned char *)json_string_value(v);
    size_t len = json_string_length(v), cps = 0;
    if (strlen((const char *)p) != len)
        return "must not contain NUL";
    for (size_t i = 0; i < len; i++) {
        if (p[i] < 0x20 || p[i] == 0x7F || (p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F))
            return "must not contain control characters";
        if ((p[i] & 0xC0) != 0x80)
            cps++;
    }
    if (cps < min)
        return min == 1 ? "must not be empty" : "too short";
    if (cps > max)
        return "too long";
    if (len > 0 && (p[0] == ' ' || p[len - 1] == ' '))
        return "must not start or end with a space";
    if (s != NULL)
        *s = (const char *)p;
    return NULL;
}

/* An integer in [min, max]: NULL, or the reason. */
static const char *check_int(const json_t *v, int64_t min, int64_t max, int64_t *out)
{
    if (!json_is_integer(v))
        return "must be an integer";
    json_int_t i = json_integer_value(v);
    if (i < min)
        return min == 0 ? "must be >= 0" : "must be > 0";
    if (i > max)
        return "too large";
    *out = (int64_t)i;
    return NULL;
}

/* 1 if s is minlen..maxlen characters, each in the set `chars` (NUL-terminated). */
static int only_chars(const char *s, size_t minlen, size_t maxlen, const char *chars)
{
    size_t n = strlen(s);
    return n >= minlen && n <= maxlen && strspn(s, chars) == n;
}

#define DIGITS "0123456789"
#define UPPER  "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
#define LOWER  "abcdefghijklmnopqrstuvwxyz"

static int pricing_key_known(const char *k)
{
    return strcmp(k, "mode") == 0 || strcmp(k, "price_fen") == 0 || strcmp(k, "per_g") == 0 || strcmp(k, "unit") == 0;
}

int product_check_pricing(const json_t *v, product_pricing_t *out, product_invalid_t *bad)
{
    const char *key, *why, *mode, *unit;
    json_t *val;
    memset(out, 0, sizeof(*out));
    if (!json_is_object(v))
        return invalid(bad, "pricing", "must be an object");
    json_object_foreach((json_t *)v, key, val) if (!pricing_key_known(key)) return invalid_key(bad, "pricing.", key,
                                                                                               "unknown field");
    mode = json_string_value(json_object_get(v, "mode"));
    if (mode == NULL || (strcmp(mode, "weight") != 0 && strcmp(mode, "count") != 0))
        return invalid(bad, "pricing.mode", "must be \"weight\" or \"count\"");
    out->mode = strcmp(mode, "weight") == 0 ? PRODUCT_WEIGHT : PRODUCT_COUNT;
    if (json_object_get(v, "price_fen") == NULL)
        return invalid(bad, "pricing.price_fen", "is required");
    if ((why = check_int(json_object_get(v, "price_fen"), 1, PRODUCT_PRICE_MAX, &out->price_fen)) != NULL)
        return invalid(bad, "pricing.price_fen", why);
    if (out->mode == PRODUCT_WEIGHT) {
        if (json_object_get(v, "unit") != NULL)
            return invalid(bad, "pricing.unit", "only for count pricing");
        if (json_object_get(v, "per_g") == NULL)
            return invalid(bad, "pricing.per_g", "is required");
        if ((why = check_int(json_object_get(v, "per_g"), 1, PRODUCT_PER_G_MAX, &out->per_g)) != NULL)
            return invalid(bad, "pricing.per_g", why);
        return 0;
    }
    if (json_object_get(v, "per_g") != NULL)
        return invalid(bad, "pricing.per_g", "only for weight pricing");
    if (json_object_get(v, "unit") == NULL)
        return invalid(bad, "pricing.unit", "is required");
    if ((why = product_check_text(json_object_get(v, "unit"), 1, PRODUCT_UNIT_MAX, &unit)) != NULL)
        return invalid(bad, "pricing.unit", why);
    snprintf(out->unit, sizeof(out->unit), "%s", unit);
    return 0;
}

/* origin and trace_code: a string of the rule, or null (none). */
static int check_origin(const json_t *v, product_input_t *in, product_invalid_t *bad)
{
    in->set |= PRODUCT_F_ORIGIN;
    in->origin = NULL;
    if (json_is_null(v))
        return 0;
    const char *s = json_string_value(v);
    if (s == NULL)
        return invalid(bad, "origin", "must be a string or null");
    if (strlen(s) != 6 || s[0] < '1' || s[0] > '8' || !only_chars(s, 6, 6, DIGITS))
        return invalid(bad, "origin", "must be a 6-digit GB/T 2260 region code");
    in->origin = s;
    return 0;
}

static int check_trace(const json_t *v, product_input_t *in, product_invalid_t *bad)
{
    in->set |= PRODUCT_F_TRACE;
    in->trace_code = NULL;
    if (json_is_null(v))
        return 0;
    const char *s = json_string_value(v);
    if (s == NULL)
        return invalid(bad, "trace_code", "must be a string or null");
    if (strlen(s) != json_string_length(v) || !only_chars(s, 1, PRODUCT_TRACE_MAX, DIGITS UPPER LOWER "._-"))
        return invalid(bad, "trace_code", "must be 1 to 64 of A-Z a-z 0-9 . _ -");
    in->trace_code = s;
    return 0;
}

static int check_stock(const json_t *v, product_input_t *in, product_invalid_t *bad)
{
    const char *why = check_int(v, 0, PRODUCT_STOCK_MAX, &in->stock);
    in->set |= PRODUCT_F_STOCK;
    return why != NULL ? invalid(bad, "stock", why) : 0;
}

static int check_pricing_field(const json_t *v, product_input_t *in, product_invalid_t *bad)
{
    in->set |= PRODUCT_F_PRICING;
    return product_check_pricing(v, &in->pricing, bad);
}

static const char *const create_fields[] = {"name",  "category", "commodity_code", "pricing",
                                            "stock", "origin",   "trace_code",     "stall_id"};

static int known(const char *key, const char *const *names, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(key, names[i]) == 0)
            return 1;
    return 0;
}

/* name, category and commodity_code of a create body. */
static int check_identity(const json_t *body, product_input_t *in, product_invalid_t *bad)
{
    const char *why;
    if ((why = product_check_text(json_object_get(body, "name"), 1, PRODUCT_NAME_MAX, &in->name)) != NULL)
        return invalid(bad, "name", why);
    in->category = json_string_value(json_object_get(body, "category"));
    if (in->category == NULL)
        return invalid(bad, "category", "must be a string");
    if (!only_chars(in->category, 1, PRODUCT_CATEGORY_MAX, DIGITS UPPER LOWER "._-"))
        return invalid(bad, "category", "no such category");
    in->commodity_code = json_string_value(json_object_get(body, "commodity_code"));
    if (in->commodity_code == NULL)
        return invalid(bad, "commodity_code", "must be a string");
    if (!only_chars(in->commodity_code, 1, PRODUCT_CODE_MAX, UPPER DIGITS))
        return invalid(bad, "commodity_code", "must be 1 to 16 of A-Z 0-9 (NY/T 2137)");
    in->set |= PRODUCT_F_NAME | PRODUCT_F_CATEGORY | PRODUCT_F_CODE;
    return 0;
}

int product_parse_create(const json_t *body, product_input_t *in, product_invalid_t *bad)
{
    static const char *const required[] = {"name", "category", "commodity_code", "pricing", "stock"};
    const char *key;
    json_t *v;
    memset(in, 0, sizeof(*in));
    in->on_sale = 1;
    if (!json_is_object(body))
        return invalid(bad, "body", "must be an object");
    json_object_foreach((json_t *)body, key,
                        v) if (!known(key, create_fields,
                                      sizeof(create_fields) /
                                          sizeof(create_fields[0]))) return invalid_key(bad, "", key, "unknown field");
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (json_object_get(body, required[i]) == NULL)
            return invalid(bad, required[i], "is required");
    if (check_identity(body, in, bad) != 0 || check_pricing_field(json_object_get(body, "pricing"), in, bad) != 0 ||
        check_stock(json_object_get(body, "stock"), in, bad) != 0)
        return -1;
    if ((v = json_object_get(body, "origin")) != NULL && check_origin(v, in, bad) != 0)
        return -1;
    if ((v = json_object_get(body, "trace_code")) != NULL && check_trace(v, in, bad) != 0)
        return -1;
    if ((v = json_object_get(body, "stall_id")) != NULL) {
        const char *why = check_int(v, 1, ID_MAX, &in->stall_id);
        if (why != NULL)
            return invalid(bad, "stall_id", why);
        in->set |= PRODUCT_F_STALL;
    }
    return 0;
}

static int check_status(const json_t *v, product_input_t *in, product_invalid_t *bad)
{
    const char *s = json_string_value(v);
    if (s == NULL || (strcmp(s, "on_sale") != 0 && strcmp(s, "off_sale") != 0))
        return invalid(bad, "status", "must be \"on_sale\" or \"off_sale\"");
    in->on_sale = strcmp(s, "on_sale") == 0;
    in->set |= PRODUCT_F_STATUS;
    return 0;
}

/* One field of a patch body. */
static int patch_field(const char *key, const json_t *v, product_input_t *in, product_invalid_t *bad)
{
    static const char *const fixed[] = {"name", "category", "commodity_code", "stall_id"};
    if (strcmp(key, "pricing") == 0)
        return check_pricing_field(v, in, bad);
    if (strcmp(key, "stock") == 0)
        return check_stock(v, in, bad);
    if (strcmp(key, "status") == 0)
        return check_status(v, in, bad);
    if (strcmp(key, "origin") == 0)
        return check_origin(v, in, bad);
    if (strcmp(key, "trace_code") == 0)
        return check_trace(v, in, bad);
    if (known(key, fixed, sizeof(fixed) / sizeof(fixed[0])))
        return invalid(bad, key, "cannot be changed");
    return invalid_key(bad, "", key, "unknown field");
}

int product_parse_patch(const json_t *body, product_input_t *in, product_invalid_t *bad)
{
    const char *key;
    json_t *v;
    memset(in, 0, sizeof(*in));
    if (!json_is_object(body))
        return invalid(bad, "body", "must be an object");
    if (json_object_size(body) == 0)
        return invalid(bad, "body", "names nothing to change");
    json_object_foreach((json_t *)body, key, v) if (patch_field(key, v, in, bad) != 0) return -1;
    return 0;
}

/* ================================================================ cursors */

char product_sort_kind(product_sort_t sort)
{
    return sort == PRODUCT_SORT_PRICE ? 'p' : sort == PRODUCT_SORT_SALES ? 's' : 'i';
}

/* ================================================================ storage */

#define COLS                                                                                                           \
    "p.id, p.market_id, p.stall_id, p.vendor_id, p.name, p.category, p.commodity_code, p.pricing_mode,"                \
    " p.price_fen, p.per_g, p.unit, p.stock, p.origin, p.trace_code, p.status, p.sales_qty"

json_t *product_pricing_json(const db_rows_t *r, size_t mode_col)
{
    if (strcmp(db_rows_str(r, mode_col, NULL), "weight") == 0)
        return json_pack("{s:s, s:I, s:I}", "mode", "weight", "price_fen", (json_int_t)db_rows_i64(r, mode_col + 1),
                         "per_g", (json_int_t)db_rows_i64(r, mode_col + 2));
    return json_pack("{s:s, s:I, s:s?}", "mode", "count", "price_fen", (json_int_t)db_rows_i64(r, mode_col + 1), "unit",
                     db_rows_str(r, mode_col + 3, NULL));
}

/* The JSON of a row of COLS. */
static json_t *row_json(const db_rows_t *r)
{
    json_t *pricing = product_pricing_json(r, 7);
    return json_pack("{s:I, s:I, s:I, s:I, s:s?, s:s?, s:s?, s:o?, s:I, s:s?, s:s?, s:s?, s:I}", "id",
                     (json_int_t)db_rows_i64(r, 0), "market_id", (json_int_t)db_rows_i64(r, 1), "stall_id",
                     (json_int_t)db_rows_i64(r, 2), "vendor_id", (json_int_t)db_rows_i64(r, 3), "name",
                     db_rows_str(r, 4, NULL), "category", db_rows_str(r, 5, NULL), "commodity_code",
                     db_rows_str(r, 6, NULL), "pricing", pricing, "stock", (json_int_t)db_rows_i64(r, 11), "origin",
                     db_rows_str(r, 12, NULL), "trace_code", db_rows_str(r, 13, NULL), "status",
                     db_rows_str(r, 14, NULL), "sales_qty", (json_int_t)db_rows_i64(r, 15));
}

/* The filters every list shares; the category filter takes the category and everything
 * below it (UNION, not UNION ALL, so a cycle in bad data ends instead of looping). */
#define LIST_WHERE                                                                                                     \
    "SELECT " COLS " FROM products p WHERE p.market_id = ?"                                                            \
    " AND (? = 0 OR p.vendor_id = ?) AND (? = 0 OR p.status = 'on_sale')"                                              \
    " AND (? IS NULL OR p.category IN (WITH RECURSIVE c (code) AS ("                                                   \
    "SELECT code FROM categories WHERE market_id = ? AND code = ?"                                                     \
    " UNION SELECT k.code FROM categories k JOIN c ON k.parent_code = c.code WHERE k.market_id = ?)"                   \
    " SELECT code FROM c))"                                                                                            \
    " AND (? = 0 OR p.stall_id = ?) AND (? IS NULL OR p.name LIKE ? ESCAPE '!')"

static const char *const list_sql[] = {
    [PRODUCT_SORT_ID] = LIST_WHERE " AND (? = 0 OR p.id > ?) ORDER BY p.id LIMIT ?",
    [PRODUCT_SORT_PRICE] = LIST_WHERE " AND (? = 0 OR p.price_fen > ? OR (p.price_fen = ? AND p.id > ?))"
                                      " ORDER BY p.price_fen, p.id LIMIT ?",
    [PRODUCT_SORT_SALES] = LIST_WHERE " AND (? = 0 OR p.sales_qty < ? OR (p.sales_qty = ? AND p.id > ?))"
                                      " ORDER BY p.sales_qty DESC, p.id LIMIT ?",
};

int product_like_pattern(const char *q, char *out, size_t outlen)
{
    size_t o = 0;
    out[o++] = '%';
    for (; *q != '\0'; q++) {
        if (o + 4 >= outlen)
            return -1;
        if (*q == '!' || *q == '%' || *q == '_')
            out[o++] = '!';
        out[o++] = *q;
    }
    out[o++] = '%';
    out[o] = '\0';
    return 0;
}

/* The sort key of the current row, for the next cursor. */
static int64_t sort_key(const db_rows_t *r, product_sort_t sort)
{
    return sort == PRODUCT_SORT_PRICE ? db_rows_i64(r, 8) : sort == PRODUCT_SORT_SALES ? db_rows_i64(r, 15) : 0;
}

int product_list(db_t *db, const product_query_t *q, json_t **items, char *next_cursor, size_t len)
{
    char like[PRODUCT_SEARCH_MAX * 8 + 3];
    db_rows_t *rows = NULL;
    *items = NULL;
    next_cursor[0] = '\0';
    if (q->limit < 1 || q->limit > PRODUCT_LIST_MAX ||
        (q->q != NULL && product_like_pattern(q->q, like, sizeof(like)) != 0))
        return DB_ERR;
    db_param_t cat = q->category != NULL ? DB_STR(q->category) : DB_NULL;
    db_param_t p[24] = {DB_I64(q->market_id),
                        DB_I64(q->vendor_id),
                        DB_I64(q->vendor_id),
                        DB_I64(q->on_sale_only),
                        cat,
                        DB_I64(q->market_id),
                        cat,
                        DB_I64(q->market_id),
                        DB_I64(q->stall_id),
                        DB_I64(q->stall_id),
                        q->q ? DB_STR(like) : DB_NULL,
                        q->q ? DB_STR(like) : DB_NULL,
                        DB_I64(q->has_after)};
    size_t n = 13;
    if (q->sort != PRODUCT_SORT_ID) {
        p[n++] = DB_I64(q->after_key);
        p[n++] = DB_I64(q->after_key);
    }
    p[n++] = DB_I64(q->after_id);
    p[n++] = DB_I64(q->limit + 1);
    int rc = db_query(db, list_sql[q->sort], p, n, &rows);
    if (rc != DB_OK)
        return rc;
    *items = json_array();
    size_t k = 0;
    while (db_rows_next(rows) && k < q->limit) {
        json_array_append_new(*items, row_json(rows));
        if (++k == q->limit && rows->nrows > q->limit &&
            cursor_encode(product_sort_kind(q->sort), sort_key(rows, q->sort), db_rows_i64(rows, 0), next_cursor,
                          len) != 0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    return rc;
}

int product_market_of(db_t *db, int64_t id, int64_t *market_id)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT market_id FROM products WHERE id = ? AND status = 'on_sale'",
                          (db_param_t[]){DB_I64(id)}, 1, &rows);
    if (rc == DB_OK)
        *market_id = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return rc;
}

int product_get(db_t *db, int64_t id, int64_t market_id, int64_t vendor_id, json_t **out)
{
    db_rows_t *rows = NULL;
    int rc;
    *out = NULL;
    if (vendor_id == 0)
        rc = db_query_row(db, "SELECT " COLS " FROM products p WHERE p.id = ? AND p.status = 'on_sale'",
                          (db_param_t[]){DB_I64(id)}, 1, &rows);
    else
        rc = db_query_row(db, "SELECT " COLS " FROM products p WHERE p.id = ? AND p.vendor_id = ? AND p.market_id = ?",
                          (db_param_t[]){DB_I64(id), DB_I64(vendor_id), DB_I64(market_id)}, 3, &rows);
    if (rc == DB_OK && (*out = row_json(rows)) == NULL)
        rc = DB_ERR;
    db_rows_free(rows);
    return rc;
}

/* What a write's transaction body works on. */
typedef struct write {
    int64_t market_id, vendor_id, id;
    const product_input_t *in;
    status_detail_t *d;
} write_t;

/* A failed statement: a lost connection or a deadlock passes on as it is (so db_tx runs the
 * transaction again), and so does "no row" (the caller asked for one); anything else is an
 * internal failure. */
static sf_status_t db_fail(sf_status_t rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK || rc == DB_NOROW ? rc : SF_E_INTERNAL;
}

/* SF_OK if the vendor is active; SF_E_VENDOR_SUSPENDED if not (or unknown in this market).
 * The shared lock keeps a suspension from slipping between this check and the write. */
static sf_status_t vendor_active(db_t *db, int64_t market_id, int64_t vendor_id)
{
    db_rows_t *rows = NULL;
    sf_status_t rc = db_query_row(db, "SELECT status FROM vendors WHERE id = ? AND market_id = ? LOCK IN SHARE MODE",
                                  (db_param_t[]){DB_I64(vendor_id), DB_I64(market_id)}, 2, &rows);
    if (rc == DB_NOROW || (rc == DB_OK && strcmp(db_rows_str(rows, 0, NULL), "active") != 0))
        rc = SF_E_VENDOR_SUSPENDED;
    db_rows_free(rows);
    return rc == SF_E_VENDOR_SUSPENDED || rc == SF_OK ? rc : db_fail(rc);
}

/* The stall to sell from: the one asked for if it is the vendor's, else their first. */
static sf_status_t pick_stall(db_t *db, int64_t market_id, int64_t vendor_id, int64_t want, int64_t *stall_id,
                              status_detail_t *d)
{
    db_rows_t *rows = NULL;
    sf_status_t rc;
    if (want != 0)
        rc = db_query_row(db, "SELECT id FROM stalls WHERE id = ? AND vendor_id = ? AND market_id = ?",
                          (db_param_t[]){DB_I64(want), DB_I64(vendor_id), DB_I64(market_id)}, 3, &rows);
    else
        rc = db_query_row(db, "SELECT id FROM stalls WHERE vendor_id = ? AND market_id = ? ORDER BY id LIMIT 1",
                          (db_param_t[]){DB_I64(vendor_id), DB_I64(market_id)}, 2, &rows);
    if (rc == DB_OK)
        *stall_id = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (rc == DB_NOROW)
        return want != 0 ? status_field(d, SF_E_NOT_YOUR_STALL, "stall_id", NULL) : SF_E_NO_STALL;
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

static sf_status_t category_exists(db_t *db, int64_t market_id, const char *code, status_detail_t *d)
{
    db_rows_t *rows = NULL;
    sf_status_t rc = db_query_row(db, "SELECT 1 FROM categories WHERE market_id = ? AND code = ?",
                                  (db_param_t[]){DB_I64(market_id), DB_STR(code)}, 2, &rows);
    db_rows_free(rows);
    if (rc == DB_NOROW)
        return status_field(d, SF_E_UNKNOWN_CATEGORY, "category", NULL);
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

static db_param_t opt_str(const char *s)
{
    return s != NULL ? DB_STR(s) : DB_NULL;
}

static sf_status_t insert(db_t *db, int64_t market_id, int64_t vendor_id, int64_t stall_id, const product_input_t *in,
                          int64_t *id)
{
    const product_pricing_t *pr = &in->pricing;
    int weight = pr->mode == PRODUCT_WEIGHT;
    uint64_t new_id = 0;
    db_param_t p[] = {DB_I64(market_id),
                      DB_I64(stall_id),
                      DB_I64(vendor_id),
                      DB_STR(in->category),
                      DB_STR(in->commodity_code),
                      DB_STR(in->name),
                      DB_STR(weight ? "weight" : "count"),
                      DB_I64(pr->price_fen),
                      weight ? DB_I64(pr->per_g) : DB_NULL,
                      weight ? DB_NULL : DB_STR(pr->unit),
                      DB_I64(in->stock),
                      opt_str(in->origin),
                      opt_str(in->trace_code)};
    sf_status_t rc = db_exec(db,
                             "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                             " pricing_mode, price_fen, per_g, unit, stock, origin, trace_code, status)"
                             " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 'on_sale')",
                             p, sizeof(p) / sizeof(p[0]), NULL, &new_id);
    *id = (int64_t)new_id;
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

static sf_status_t create_tx(db_t *db, void *ctx)
{
    write_t *wr = ctx;
    int64_t stall_id = 0;
    sf_status_t rc;
    if ((rc = vendor_active(db, wr->market_id, wr->vendor_id)) != SF_OK ||
        (rc = pick_stall(db, wr->market_id, wr->vendor_id, wr->in->stall_id, &stall_id, wr->d)) != SF_OK ||
        (rc = category_exists(db, wr->market_id, wr->in->category, wr->d)) != SF_OK)
        return rc;
    return insert(db, wr->market_id, wr->vendor_id, stall_id, wr->in, &wr->id);
}

sf_status_t product_create(db_t *db, int64_t market_id, int64_t vendor_id, const product_input_t *in, int64_t *id,
                           status_detail_t *d)
{
    write_t wr = {.market_id = market_id, .vendor_id = vendor_id, .in = in, .d = d};
    sf_status_t rc = db_tx(db, create_tx, &wr);
    if (rc == SF_OK)
        *id = wr.id;
    return rc;
}

/* The one scoped UPDATE of a patch: each column keeps its value unless its flag is set. */
static sf_status_t update(db_t *db, int64_t market_id, int64_t vendor_id, int64_t id, const product_input_t *in,
                          uint64_t *affected)
{
    const product_pricing_t *pr = &in->pricing;
    int pricing = (in->set & PRODUCT_F_PRICING) != 0, weight = pr->mode == PRODUCT_WEIGHT;
    db_param_t p[] = {DB_I64(pricing),
                      DB_STR(weight ? "weight" : "count"),
                      DB_I64(pricing),
                      DB_I64(pr->price_fen),
                      DB_I64(pricing),
                      weight ? DB_I64(pr->per_g) : DB_NULL,
                      DB_I64(pricing),
                      weight ? DB_NULL : DB_STR(pr->unit),
                      DB_I64((in->set & PRODUCT_F_STOCK) != 0),
                      DB_I64(in->stock),
                      DB_I64((in->set & PRODUCT_F_STATUS) != 0),
                      DB_STR(in->on_sale ? "on_sale" : "off_sale"),
                      DB_I64((in->set & PRODUCT_F_ORIGIN) != 0),
                      opt_str(in->origin),
                      DB_I64((in->set & PRODUCT_F_TRACE) != 0),
                      opt_str(in->trace_code),
                      DB_I64(id),
                      DB_I64(vendor_id),
                      DB_I64(market_id)};
    return db_exec(db,
                   "UPDATE products SET pricing_mode = IF(? = 1, ?, pricing_mode),"
                   " price_fen = IF(? = 1, ?, price_fen), per_g = IF(? = 1, ?, per_g), unit = IF(? = 1, ?, unit),"
                   " stock = IF(? = 1, ?, stock), status = IF(? = 1, ?, status), origin = IF(? = 1, ?, origin),"
                   " trace_code = IF(? = 1, ?, trace_code)"
                   " WHERE id = ? AND vendor_id = ? AND market_id = ?",
                   p, sizeof(p) / sizeof(p[0]), affected, NULL);
}

static sf_status_t update_tx(db_t *db, void *ctx)
{
    write_t *wr = ctx;
    uint64_t affected = 0;
    db_rows_t *rows = NULL;
    sf_status_t rc = vendor_active(db, wr->market_id, wr->vendor_id);
    if (rc == SF_OK)
        rc = update(db, wr->market_id, wr->vendor_id, wr->id, wr->in, &affected);
    /* MariaDB counts changed rows: 0 is also a patch that changed nothing. Tell them apart. */
    if (rc == SF_OK && affected == 0)
        rc = db_query_row(db, "SELECT 1 FROM products WHERE id = ? AND vendor_id = ? AND market_id = ?",
                          (db_param_t[]){DB_I64(wr->id), DB_I64(wr->vendor_id), DB_I64(wr->market_id)}, 3, &rows);
    db_rows_free(rows);
    if (rc == DB_NOROW)
        return status_field(wr->d, SF_E_NOT_FOUND, NULL, "no such product");
    return rc == SF_OK || rc == SF_E_VENDOR_SUSPENDED ? rc : db_fail(rc);
}

sf_status_t product_update(db_t *db, int64_t market_id, int64_t vendor_id, int64_t id, const product_input_t *in,
                           status_detail_t *d)
{
    write_t wr = {.market_id = market_id, .vendor_id = vendor_id, .id = id, .in = in, .d = d};
    return db_tx(db, update_tx, &wr);
}
