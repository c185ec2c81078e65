/*
 * Addresses (see address.h): validation, the addresses table's SQL and JSON, distances.
 *
 * The rules, and why:
 *   name       1..64 code points, as products' names (no control characters, no leading or
 *              trailing space): the column holds 64
 *   phone      ^[0-9+-]{5,20}$: mobile and landline numbers with a country or area prefix
 *   text       1..255 code points: the column holds 255
 *   lat, lng   JSON numbers (600 and 34.75 alike) in -90..90 and -180..180, kept to 6
 *              decimals (about 0.1 m)
 *   market_id  an existing market, or null/absent for an address usable anywhere
 * Unknown fields are refused, as everywhere a consumer writes.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/address.h"
#include "models/product.h"

/* ================================================================ validation */

static int invalid(address_invalid_t *bad, const char *field, const char *reason)
{
    snprintf(bad->field, sizeof(bad->field), "%s", field);
    bad->reason = reason;
    return -1;
}

/* A field name taken from the input, cut at a code point boundary so it stays UTF-8. */
static int unknown_field(address_invalid_t *bad, const char *key)
{
    size_t n = strlen(key);
    if (n >= sizeof(bad->field)) {
        n = sizeof(bad->field) - 1;
        while (n > 0 && ((unsigned char)key[n] & 0xC0) == 0x80)
            n--;
    }
    snprintf(bad->field, sizeof(bad->field), "%.*s", (int)n, key);
    bad->reason = "unknown field";
    return -1;
}

static int known(const char *key)
{
    static const char *const fields[] = {"name", "phone", "text", "lat", "lng", "market_id"};
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        if (strcmp(key, fields[i]) == 0)
            return 1;
    return 0;
}

static const char *check_phone(const json_t *v, const char **out)
{
    if (!json_is_string(v))
        return "must be a string";
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (n < ADDRESS_PHONE_MIN || n > ADDRESS_PHONE_MAX || strspn(s, "0123456789+-") != n)
        return "must be 5 to 20 of 0-9 + -";
    *out = s;
    return NULL;
}

static const char *check_degrees(const json_t *v, double limit, double *out)
{
    if (!json_is_number(v))
        return "must be a number";
    double d = json_number_value(v);
    if (!(d >= -limit && d <= limit))
        return limit == 90 ? "must be between -90 and 90" : "must be between -180 and 180";
    *out = d;
    return NULL;
}

static const char *check_market(const json_t *v, int64_t *out)
{
    *out = 0;
    if (v == NULL || json_is_null(v))
        return NULL;
    if (!json_is_integer(v))
        return "must be an integer";
    json_int_t i = json_integer_value(v);
    if (i < 1 || i > (INT64_C(1) << 53))
        return "must be a market id";
    *out = (int64_t)i;
    return NULL;
}

int address_parse(const json_t *body, address_input_t *in, address_invalid_t *bad)
{
    static const char *const required[] = {"name", "phone", "text", "lat", "lng"};
    const char *key, *why;
    json_t *v;
    memset(in, 0, sizeof(*in));
    if (!json_is_object(body))
        return invalid(bad, "", "must be a JSON object");
    json_object_foreach((json_t *)body, key, v)
    {
        if (!known(key))
            return unknown_field(bad, key);
    }
    for (size_t i = 0; i < sizeof(required) / sizeof(required[0]); i++)
        if (json_object_get(body, required[i]) == NULL)
            return invalid(bad, required[i], "is required");
    if ((why = product_check_text(json_object_get(body, "name"), 1, ADDRESS_NAME_MAX, &in->name)) != NULL)
        return invalid(bad, "name", why);
    if ((why = check_phone(json_object_get(body, "phone"), &in->phone)) != NULL)
        return invalid(bad, "phone", why);
    if ((why = product_check_text(json_object_get(body, "text"), 1, ADDRESS_TEXT_MAX, &in->text)) != NULL)
        return invalid(bad, "text", why);
    if ((why = check_degrees(json_object_get(body, "lat"), 90, &in->lat)) != NULL)
        return invalid(bad, "lat", why);
    if ((why = check_degrees(json_object_get(body, "lng"), 180, &in->lng)) != NULL)
        return invalid(bad, "lng", why);
    if ((why = check_market(json_object_get(body, "market_id"), &in->market_id)) != NULL)
        return invalid(bad, "market_id", why);
    return 0;
}

/* ================================================================ storage */

#define COLS "id, user_id, market_id, name, phone, text, lat, lng"

static void copy(char *dst, size_t size, const db_rows_t *r, size_t col)
{
    size_t len = 0;
    const char *s = db_rows_str(r, col, &len);
    if (s == NULL)
        len = 0;
    if (len >= size)
        len = size - 1; /* the columns' widths fit the buffers; bounded anyway */
    memcpy(dst, s != NULL ? s : "", len);
    dst[len] = '\0';
}

static void row_address(const db_rows_t *r, address_t *a)
{
    memset(a, 0, sizeof(*a));
    a->id = db_rows_i64(r, 0);
    a->user_id = db_rows_i64(r, 1);
    a->market_id = db_rows_i64(r, 2); /* 0 for NULL */
    copy(a->name, sizeof(a->name), r, 3);
    copy(a->phone, sizeof(a->phone), r, 4);
    copy(a->text, sizeof(a->text), r, 5);
    copy(a->lat_text, sizeof(a->lat_text), r, 6);
    copy(a->lng_text, sizeof(a->lng_text), r, 7);
    a->lat = strtod(a->lat_text, NULL);
    a->lng = strtod(a->lng_text, NULL);
}

json_t *address_json(const address_t *a)
{
    json_t *market = a->market_id > 0 ? json_integer(a->market_id) : json_null();
    return json_pack("{s:I, s:s, s:s, s:s, s:f, s:f, s:o}", "id", (json_int_t)a->id, "name", a->name, "phone", a->phone,
                     "text", a->text, "lat", a->lat, "lng", a->lng, "market_id", market);
}

/* Inside the transaction: the checks, then the row. */
static sf_status_t insert_tx(db_t *db, int64_t user_id, const address_input_t *in, int64_t *id)
{
    db_rows_t *rows = NULL;
    char lat[24], lng[24];
    uint64_t new_id = 0;
    /* Holding the consumer's row serializes their address writes: the count below stays true
     * until the commit. */
    int rc =
        db_query_row(db, "SELECT id FROM users WHERE id = ? FOR UPDATE", (db_param_t[]){DB_I64(user_id)}, 1, &rows);
    db_rows_free(rows);
    rows = NULL;
    if (rc != DB_OK)
        return rc;
    if (in->market_id > 0) {
        rc = db_query_row(db, "SELECT id FROM markets WHERE id = ?", (db_param_t[]){DB_I64(in->market_id)}, 1, &rows);
        db_rows_free(rows);
        rows = NULL;
        if (rc != DB_OK)
            return rc == DB_NOROW ? SF_E_NO_MARKET : rc;
    }
    rc =
        db_query_row(db, "SELECT COUNT(*) FROM addresses WHERE user_id = ?", (db_param_t[]){DB_I64(user_id)}, 1, &rows);
    int64_t count = rc == DB_OK ? db_rows_i64(rows, 0) : 0;
    db_rows_free(rows);
    if (rc != DB_OK)
        return rc;
    if (count >= ADDRESS_PER_USER)
        return SF_E_TOO_MANY_ADDRESSES;
    snprintf(lat, sizeof(lat), "%.6f", in->lat);
    snprintf(lng, sizeof(lng), "%.6f", in->lng);
    db_param_t p[] = {in->market_id > 0 ? DB_I64(in->market_id) : DB_NULL,
                      DB_I64(user_id),
                      DB_STR(in->name),
                      DB_STR(in->phone),
                      DB_STR(in->text),
                      DB_STR(lat),
                      DB_STR(lng)};
    rc = db_exec(db,
                 "INSERT INTO addresses (market_id, user_id, name, phone, text, lat, lng) VALUES (?, ?, ?, ?, ?, ?, ?)",
                 p, sizeof(p) / sizeof(p[0]), NULL, &new_id);
    *id = (int64_t)new_id;
    return rc;
}

/* What address_create's transaction works on. */
typedef struct create_work {
    int64_t user_id;
    const address_input_t *in;
    int64_t *id;
} create_work_t;

static sf_status_t create_tx(db_t *db, void *ctx)
{
    create_work_t *cw = ctx;
    return insert_tx(db, cw->user_id, cw->in, cw->id);
}

sf_status_t address_create(db_t *db, int64_t user_id, const address_input_t *in, int64_t *id)
{
    create_work_t cw = {.user_id = user_id, .in = in, .id = id};
    return db_tx(db, create_tx, &cw);
}

int address_list(db_t *db, int64_t user_id, int64_t market_id, json_t **items)
{
    db_rows_t *rows = NULL;
    address_t a;
    *items = NULL;
    int rc = db_query(db,
                      "SELECT " COLS " FROM addresses WHERE user_id = ?"
                      " AND (? = 0 OR market_id IS NULL OR market_id = ?) ORDER BY id LIMIT ?",
                      (db_param_t[]){DB_I64(user_id), DB_I64(market_id), DB_I64(market_id), DB_I64(ADDRESS_PER_USER)},
                      4, &rows);
    if (rc != DB_OK)
        return rc;
    json_t *arr = json_array();
    while (arr != NULL && db_rows_next(rows)) {
        row_address(rows, &a);
        if (json_array_append_new(arr, address_json(&a)) != 0) {
            json_decref(arr);
            arr = NULL;
        }
    }
    db_rows_free(rows);
    if (arr == NULL) {
        snprintf(db->err, sizeof(db->err), "address_list: out of memory");
        return DB_ERR;
    }
    *items = arr;
    return DB_OK;
}

int address_get_for_order(db_t *db, int64_t user_id, int64_t address_id, address_t *out)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT " COLS " FROM addresses WHERE id = ? AND user_id = ?",
                          (db_param_t[]){DB_I64(address_id), DB_I64(user_id)}, 2, &rows);
    if (rc == DB_OK)
        row_address(rows, out);
    db_rows_free(rows);
    return rc;
}
