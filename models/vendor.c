/*
 * Vendors, their licences, staff and stalls (see vendor.h). Storage only: the caller
 * validated every value. Stall assignment is a conditional UPDATE (`... AND vendor_id IS
 * NULL`) whose affected-row count decides who won, so two operators assigning one stall at
 * once never both succeed. Worker threads; each call uses only the db_t it is given.
 */
#include <stdio.h>
#include <string.h>
#include "models/user.h"
#include "models/vendor.h"

/* How times and dates come out of SQL: the DB keeps UTC, answers show +08:00. */
#define SQL_TIME(col) "DATE_FORMAT(" col " + INTERVAL 8 HOUR, '%Y-%m-%dT%H:%i:%s.%f')"
#define SQL_DATE(col) "DATE_FORMAT(" col ", '%Y-%m-%d')"
#define SQL_TODAY     "DATE(UTC_TIMESTAMP() + INTERVAL 8 HOUR)"

/* ---------------------------------------------------------------- helpers */

/* A failed statement as a vendor_rc_t: a lost connection or a deadlock is worth retrying. */
static int db_fail(int rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK ? VENDOR_E_BUSY : VENDOR_E_DB;
}

/* "YYYY-MM-DDTHH:MM:SS.ffffff" (local +08:00) as RFC 3339 with milliseconds. */
static json_t *time_json(const char *s, size_t len)
{
    char buf[40];
    if (s == NULL || len < 23)
        return json_null();
    snprintf(buf, sizeof(buf), "%.23s+08:00", s);
    return json_string(buf);
}

static json_t *col_str(const db_rows_t *rows, size_t col)
{
    size_t len;
    const char *s = db_rows_str(rows, col, &len);
    return s != NULL ? json_stringn(s, len) : json_null();
}

/* At most max code points of s, cut on a character boundary, into buf. */
static const char *utf8_prefix(const char *s, size_t max, char *buf, size_t buflen)
{
    size_t i = 0, n = 0;
    while (s[i] != '\0' && i + 4 < buflen) {
        if (((unsigned char)s[i] & 0xC0) != 0x80 && n++ == max)
            break;
        i++;
    }
    while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) /* never end inside a character */
        i--;
    memcpy(buf, s, i);
    buf[i] = '\0';
    return buf;
}

/* ---------------------------------------------------------------- stalls */

int vendor_stall_create(db_t *db, int64_t market_id, const char *stall_no, const char *zone, int64_t x, int64_t y,
                        json_t **out)
{
    uint64_t id = 0;
    db_param_t p[] = {DB_I64(market_id), DB_STR(stall_no), DB_STR(zone), DB_I64(x), DB_I64(y)};
    int rc = db_exec(db, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y) VALUES (?, ?, ?, ?, ?)", p, 5,
                     NULL, &id);
    if (rc == DB_DUP)
        return VENDOR_E_STALL_NO_TAKEN;
    if (rc != DB_OK)
        return db_fail(rc);
    *out = json_pack("{s:I, s:s, s:s, s:{s:I, s:I}, s:n}", "id", (json_int_t)id, "stall_no", stall_no, "zone", zone,
                     "map", "x", (json_int_t)x, "y", (json_int_t)y, "vendor_id");
    return *out != NULL ? VENDOR_OK : VENDOR_E_DB;
}

/* Gives the stall to the vendor if it is free (or already theirs). */
static int assign_stall(db_t *db, int64_t market_id, int64_t vendor_id, int64_t stall_id, int64_t *bad_id)
{
    uint64_t affected = 0;
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(vendor_id), DB_I64(stall_id), DB_I64(market_id)};
    int rc = db_exec(db, "UPDATE stalls SET vendor_id = ? WHERE id = ? AND market_id = ? AND vendor_id IS NULL", p, 3,
                     &affected, NULL);
    if (rc != DB_OK)
        return db_fail(rc);
    if (affected == 1)
        return VENDOR_OK;
    /* Nobody else can take it from here on: the row is locked by our transaction. */
    rc = db_query_row(db, "SELECT vendor_id FROM stalls WHERE id = ? AND market_id = ? FOR UPDATE", p + 1, 2, &rows);
    if (rc == DB_NOROW) {
        *bad_id = stall_id;
        return VENDOR_E_UNKNOWN_STALL;
    }
    if (rc != DB_OK)
        return db_fail(rc);
    int64_t holder = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (holder == vendor_id)
        return VENDOR_OK;
    *bad_id = stall_id;
    return VENDOR_E_STALL_TAKEN;
}

static int listed(const vendor_input_t *in, int64_t id)
{
    for (size_t i = 0; i < in->nstalls; i++)
        if (in->stall_ids[i] == id)
            return 1;
    return 0;
}

/* Releases a stall the vendor no longer holds, unless products of theirs still sit there. */
static int release_stall(db_t *db, int64_t market_id, int64_t vendor_id, int64_t stall_id, int64_t *bad_id)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(stall_id), DB_I64(vendor_id), DB_I64(market_id)};
    int rc = db_query_row(db, "SELECT COUNT(*) FROM products WHERE stall_id = ? AND vendor_id = ? AND market_id = ?", p,
                          3, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    int64_t n = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (n > 0) {
        *bad_id = stall_id;
        return VENDOR_E_STALL_HAS_PRODUCTS;
    }
    rc = db_exec(db, "UPDATE stalls SET vendor_id = NULL WHERE id = ? AND vendor_id = ? AND market_id = ?", p, 3, NULL,
                 NULL);
    return rc == DB_OK ? VENDOR_OK : db_fail(rc);
}

/* Makes the vendor hold exactly in->stall_ids: takes the new ones first (so an unknown or
 * taken stall is reported before anything else), then releases the others. */
static int replace_stalls(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in, int64_t *bad_id)
{
    db_rows_t *rows = NULL;
    int rc = VENDOR_OK;
    for (size_t i = 0; rc == VENDOR_OK && i < in->nstalls; i++)
        rc = assign_stall(db, market_id, vendor_id, in->stall_ids[i], bad_id);
    if (rc != VENDOR_OK)
        return rc;
    db_param_t p[] = {DB_I64(vendor_id), DB_I64(market_id)};
    int q =
        db_query(db, "SELECT id FROM stalls WHERE vendor_id = ? AND market_id = ? ORDER BY id FOR UPDATE", p, 2, &rows);
    if (q != DB_OK)
        return db_fail(q);
    while (rc == VENDOR_OK && db_rows_next(rows)) {
        int64_t held = db_rows_i64(rows, 0);
        if (!listed(in, held))
            rc = release_stall(db, market_id, vendor_id, held, bad_id);
    }
    db_rows_free(rows);
    return rc;
}

/* ---------------------------------------------------------------- licences and user */

static int replace_licences(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in)
{
    db_param_t k[] = {DB_I64(vendor_id), DB_I64(market_id)};
    int rc = db_exec(db, "DELETE FROM vendor_licences WHERE vendor_id = ? AND market_id = ?", k, 2, NULL, NULL);
    for (size_t i = 0; rc == DB_OK && i < in->nlicences; i++) {
        const vendor_licence_t *l = &in->licences[i];
        db_param_t p[] = {DB_I64(market_id), DB_I64(vendor_id), DB_STR(l->type), DB_STR(l->number),
                          DB_STR(l->valid_until)};
        rc = db_exec(db,
                     "INSERT INTO vendor_licences (market_id, vendor_id, type, number, valid_until)"
                     " VALUES (?, ?, ?, ?, ?)",
                     p, 5, NULL, NULL);
    }
    return rc == DB_OK ? VENDOR_OK : db_fail(rc);
}

static int create_user(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in)
{
    char display[300];
    int64_t uid = 0;
    user_new_t u = {
        .role = "vendor",
        .market_id = market_id,
        .username = in->username,
        .password = in->password,
        .display_name = utf8_prefix(in->name, 64, display, sizeof(display)), /* users.display_name is 64 */
        .vendor_id = vendor_id,
    };
    int rc = user_create(db, &u, &uid);
    if (rc == DB_DUP)
        return VENDOR_E_USERNAME_TAKEN;
    return rc == DB_OK ? VENDOR_OK : db_fail(rc);
}

/* ---------------------------------------------------------------- create and update */

/* The writes of vendor_create, inside its transaction. */
static int create_rows(db_t *db, int64_t market_id, const vendor_input_t *in, int64_t *vendor_id, int64_t *bad_id)
{
    uint64_t id = 0;
    db_param_t p[] = {DB_I64(market_id), DB_STR(in->name), DB_STR(in->contact_phone), DB_STR(in->business_scope),
                      DB_STR(in->credit_level)};
    int rc = db_exec(db,
                     "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                     " VALUES (?, ?, ?, ?, ?)",
                     p, 5, NULL, &id);
    if (rc != DB_OK)
        return db_fail(rc);
    *vendor_id = (int64_t)id;
    rc = replace_licences(db, market_id, *vendor_id, in);
    for (size_t i = 0; rc == VENDOR_OK && i < in->nstalls; i++)
        rc = assign_stall(db, market_id, *vendor_id, in->stall_ids[i], bad_id);
    if (rc == VENDOR_OK)
        rc = create_user(db, market_id, *vendor_id, in);
    return rc;
}

/* Commits when rc is VENDOR_OK, rolls back otherwise; returns the outcome. The answer was
 * rendered inside the transaction, so a failure to render writes nothing; on any failure
 * *out (rendered or not) is released. */
static int finish(db_t *db, int rc, json_t **out)
{
    if (rc == VENDOR_OK) {
        int c = db_commit(db);
        if (c == DB_OK)
            return VENDOR_OK;
        rc = db_fail(c);
    }
    db_rollback(db);
    json_decref(*out);
    *out = NULL;
    return rc;
}

int vendor_create(db_t *db, int64_t market_id, const vendor_input_t *in, json_t **out, int64_t *bad_id)
{
    int64_t vendor_id = 0;
    int rc = db_begin(db);
    if (rc != DB_OK)
        return db_fail(rc);
    *out = NULL;
    rc = create_rows(db, market_id, in, &vendor_id, bad_id);
    if (rc == VENDOR_OK)
        rc = vendor_render(db, market_id, vendor_id, out);
    return finish(db, rc, out);
}

/* The writes of vendor_update, inside its transaction. */
static int update_rows(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in, int64_t *bad_id)
{
    db_rows_t *rows = NULL;
    db_param_t k[] = {DB_I64(vendor_id), DB_I64(market_id)};
    int rc = db_query_row(db, "SELECT id FROM vendors WHERE id = ? AND market_id = ? FOR UPDATE", k, 2, &rows);
    db_rows_free(rows);
    if (rc == DB_NOROW)
        return VENDOR_E_NOT_FOUND;
    if (rc != DB_OK)
        return db_fail(rc);
#define OPT(s) ((s) != NULL ? DB_STR(s) : DB_NULL)
    db_param_t p[] = {OPT(in->name),   OPT(in->contact_phone), OPT(in->business_scope), OPT(in->credit_level),
                      OPT(in->status), DB_I64(vendor_id),      DB_I64(market_id)};
#undef OPT
    rc = db_exec(db,
                 "UPDATE vendors SET name = COALESCE(?, name), contact_phone = COALESCE(?, contact_phone),"
                 " business_scope = COALESCE(?, business_scope), credit_level = COALESCE(?, credit_level),"
                 " status = COALESCE(?, status) WHERE id = ? AND market_id = ?",
                 p, 7, NULL, NULL);
    if (rc != DB_OK)
        return db_fail(rc);
    rc = in->has_licences ? replace_licences(db, market_id, vendor_id, in) : VENDOR_OK;
    if (rc == VENDOR_OK && in->has_stalls)
        rc = replace_stalls(db, market_id, vendor_id, in, bad_id);
    return rc;
}

int vendor_update(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in, json_t **out,
                  int64_t *bad_id)
{
    int rc = db_begin(db);
    if (rc != DB_OK)
        return db_fail(rc);
    *out = NULL;
    rc = update_rows(db, market_id, vendor_id, in, bad_id);
    if (rc == VENDOR_OK)
        rc = vendor_render(db, market_id, vendor_id, out);
    return finish(db, rc, out);
}

/* ---------------------------------------------------------------- staff */

#define STAFF_COLUMNS "id, vendor_id, name, certificate, " SQL_DATE("valid_until") ", valid_until >= " SQL_TODAY

static json_t *staff_json(const db_rows_t *rows)
{
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:b}", "id", (json_int_t)db_rows_i64(rows, 0), "vendor_id",
                     (json_int_t)db_rows_i64(rows, 1), "name", col_str(rows, 2), "certificate", col_str(rows, 3),
                     "valid_until", col_str(rows, 4), "valid", (int)db_rows_i64(rows, 5));
}

/* The writes of vendor_staff_add, inside its transaction: the vendor row lock serialises
 * concurrent adds, so the count check holds. */
static int staff_rows(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_staff_new_t *s, uint64_t *id)
{
    db_rows_t *rows = NULL;
    db_param_t k[] = {DB_I64(vendor_id), DB_I64(market_id)};
    int rc = db_query_row(db, "SELECT id FROM vendors WHERE id = ? AND market_id = ? FOR UPDATE", k, 2, &rows);
    db_rows_free(rows);
    rows = NULL;
    if (rc == DB_NOROW)
        return VENDOR_E_NOT_FOUND;
    if (rc == DB_OK)
        rc = db_query_row(db, "SELECT COUNT(*) FROM vendor_staff WHERE vendor_id = ? AND market_id = ?", k, 2, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    int64_t n = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (n >= VENDOR_MAX_STAFF)
        return VENDOR_E_TOO_MANY_STAFF;
    db_param_t p[] = {DB_I64(market_id), DB_I64(vendor_id), DB_STR(s->name), DB_STR(s->certificate),
                      DB_STR(s->valid_until)};
    rc = db_exec(
        db, "INSERT INTO vendor_staff (market_id, vendor_id, name, certificate, valid_until) VALUES (?, ?, ?, ?, ?)", p,
        5, NULL, id);
    return rc == DB_OK ? VENDOR_OK : db_fail(rc);
}

/* Reads the new staff row back as its answer, inside the transaction. */
static int staff_answer(db_t *db, uint64_t id, json_t **out)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64((int64_t)id)};
    int rc = db_query_row(db, "SELECT " STAFF_COLUMNS " FROM vendor_staff WHERE id = ?", p, 1, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    *out = staff_json(rows);
    db_rows_free(rows);
    return *out != NULL ? VENDOR_OK : VENDOR_E_DB;
}

int vendor_staff_add(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_staff_new_t *s, json_t **out)
{
    uint64_t id = 0;
    int rc = db_begin(db);
    if (rc != DB_OK)
        return db_fail(rc);
    *out = NULL;
    rc = staff_rows(db, market_id, vendor_id, s, &id);
    if (rc == VENDOR_OK)
        rc = staff_answer(db, id, out);
    return finish(db, rc, out);
}

/* ---------------------------------------------------------------- the record */

/* Appends to the array what `sql` (parameters vendor_id, market_id) finds, one object per
 * row from make(), or one integer per row when make is NULL. */
static int add_list(db_t *db, const char *sql, int64_t market_id, int64_t vendor_id, json_t *arr,
                    json_t *(*make)(const db_rows_t *))
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(vendor_id), DB_I64(market_id)};
    int rc = db_query(db, sql, p, 2, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    while (rc == VENDOR_OK && db_rows_next(rows)) {
        json_t *v = make != NULL ? make(rows) : json_integer(db_rows_i64(rows, 0));
        if (v == NULL || json_array_append_new(arr, v) != 0)
            rc = VENDOR_E_DB;
    }
    db_rows_free(rows);
    return rc;
}

static json_t *licence_json(const db_rows_t *rows)
{
    return json_pack("{s:I, s:o, s:o, s:o}", "id", (json_int_t)db_rows_i64(rows, 0), "type", col_str(rows, 1), "number",
                     col_str(rows, 2), "valid_until", col_str(rows, 3));
}

static json_t *record_json(const db_rows_t *rows, int64_t market_id)
{
    size_t tlen;
    const char *t = db_rows_str(rows, 9, &tlen);
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:[], s:[], s:[]}", "id",
                     (json_int_t)db_rows_i64(rows, 0), "market_id", (json_int_t)market_id, "name", col_str(rows, 1),
                     "contact_phone", col_str(rows, 2), "business_scope", col_str(rows, 3), "credit_level",
                     col_str(rows, 4), "status", col_str(rows, 5), "user_id",
                     db_rows_isnull(rows, 6) ? json_null() : json_integer(db_rows_i64(rows, 6)), "username",
                     col_str(rows, 7), "created_at", time_json(t, tlen), "stall_ids", "licences", "staff");
}

int vendor_render(db_t *db, int64_t market_id, int64_t vendor_id, json_t **out)
{
    db_rows_t *rows = NULL;
    json_t *doc = NULL;
    db_param_t p[] = {DB_I64(vendor_id), DB_I64(market_id)};
    int rc = db_query_row(
        db,
        "SELECT v.id, v.name, v.contact_phone, v.business_scope, v.credit_level, v.status, u.id,"
        " u.username, v.market_id, " SQL_TIME("v.created_at") " FROM vendors v"
                                                              " LEFT JOIN users u ON u.market_id = v.market_id AND "
                                                              "u.role = 'vendor' AND u.vendor_id = v.id"
                                                              " WHERE v.id = ? AND v.market_id = ? LIMIT 1",
        p, 2, &rows);
    if (rc == DB_NOROW)
        return VENDOR_E_NOT_FOUND;
    if (rc != DB_OK)
        return db_fail(rc);
    doc = record_json(rows, market_id);
    db_rows_free(rows);
    rc = doc != NULL ? VENDOR_OK : VENDOR_E_DB;
    if (rc == VENDOR_OK)
        rc = add_list(db, "SELECT id FROM stalls WHERE vendor_id = ? AND market_id = ? ORDER BY id LIMIT 100",
                      market_id, vendor_id, json_object_get(doc, "stall_ids"), NULL);
    if (rc == VENDOR_OK)
        rc = add_list(db,
                      "SELECT id, type, number, " SQL_DATE(
                          "valid_until") " FROM vendor_licences"
                                         " WHERE vendor_id = ? AND market_id = ? ORDER BY id LIMIT 100",
                      market_id, vendor_id, json_object_get(doc, "licences"), licence_json);
    if (rc == VENDOR_OK)
        rc = add_list(db,
                      "SELECT " STAFF_COLUMNS " FROM vendor_staff WHERE vendor_id = ? AND market_id = ?"
                      " ORDER BY id LIMIT 200",
                      market_id, vendor_id, json_object_get(doc, "staff"), staff_json);
    if (rc == VENDOR_OK)
        *out = doc;
    else
        json_decref(doc);
    return rc;
}

/* ---------------------------------------------------------------- lists */

/* Fills *ids (at most limit) from the rows of an id-ordered query asked for limit + 1 rows:
 * *next_after is the last id kept when the extra row shows another page follows. */
static size_t page_ids(db_rows_t *rows, size_t limit, int64_t *ids, int64_t *next_after)
{
    size_t n = 0;
    *next_after = 0;
    while (db_rows_next(rows)) {
        if (n == limit) {
            *next_after = ids[n - 1];
            break;
        }
        ids[n++] = db_rows_i64(rows, 0);
    }
    return n;
}

int vendor_list(db_t *db, int64_t market_id, const char *status, const char *like, int64_t after_id, size_t limit,
                json_t **items, int64_t *next_after)
{
    db_rows_t *rows = NULL;
    int64_t ids[VENDOR_LIST_MAX];
    size_t n = 0;
    db_param_t p[] = {DB_I64(market_id),
                      DB_I64(after_id),
                      status != NULL ? DB_STR(status) : DB_NULL,
                      status != NULL ? DB_STR(status) : DB_NULL,
                      like != NULL ? DB_STR(like) : DB_NULL,
                      like != NULL ? DB_STR(like) : DB_NULL,
                      DB_I64((int64_t)limit + 1)};
    *items = NULL;
    *next_after = 0;
    if (limit < 1 || limit > VENDOR_LIST_MAX)
        return VENDOR_E_DB;
    int rc = db_query(db,
                      "SELECT id FROM vendors WHERE market_id = ? AND id > ? AND (? IS NULL OR status = ?)"
                      " AND (? IS NULL OR name LIKE ? ESCAPE '!') ORDER BY id LIMIT ?",
                      p, 7, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    n = page_ids(rows, limit, ids, next_after);
    db_rows_free(rows);
    *items = json_array();
    rc = *items != NULL ? VENDOR_OK : VENDOR_E_DB;
    for (size_t i = 0; i < n && rc == VENDOR_OK; i++) {
        json_t *v = NULL;
        rc = vendor_render(db, market_id, ids[i], &v);
        if (rc == VENDOR_OK && json_array_append_new(*items, v) != 0)
            rc = VENDOR_E_DB;
    }
    if (rc != VENDOR_OK) {
        json_decref(*items);
        *items = NULL;
        *next_after = 0;
    }
    return rc;
}

static json_t *stall_json(const db_rows_t *rows)
{
    return json_pack("{s:I, s:o, s:o, s:{s:I, s:I}, s:o}", "id", (json_int_t)db_rows_i64(rows, 0), "stall_no",
                     col_str(rows, 1), "zone", col_str(rows, 2), "map", "x", (json_int_t)db_rows_i64(rows, 3), "y",
                     (json_int_t)db_rows_i64(rows, 4), "vendor_id",
                     db_rows_isnull(rows, 5) ? json_null() : json_integer(db_rows_i64(rows, 5)));
}

int vendor_stall_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items, int64_t *next_after)
{
    db_rows_t *rows = NULL;
    size_t n = 0;
    int64_t last = 0;
    db_param_t p[] = {DB_I64(market_id), DB_I64(after_id), DB_I64((int64_t)limit + 1)};
    *next_after = 0;
    *items = json_array();
    if (*items == NULL)
        return VENDOR_E_DB;
    int rc = db_query(db,
                      "SELECT id, stall_no, zone, map_x, map_y, vendor_id FROM stalls WHERE market_id = ? AND id > ?"
                      " ORDER BY id LIMIT ?",
                      p, 3, &rows);
    if (rc != DB_OK)
        rc = db_fail(rc);
    while (rc == VENDOR_OK && db_rows_next(rows)) {
        if (n++ == limit) { /* one more row than asked: another page follows */
            *next_after = last;
            break;
        }
        last = db_rows_i64(rows, 0);
        if (json_array_append_new(*items, stall_json(rows)) != 0)
            rc = VENDOR_E_DB;
    }
    db_rows_free(rows);
    if (rc != VENDOR_OK) {
        json_decref(*items);
        *items = NULL;
        *next_after = 0;
    }
    return rc;
}
