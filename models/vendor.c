/*
 * Vendors, their licences, staff and stalls (see vendor.h). Storage only: the caller
 * validated every value. Stall assignment is a conditional UPDATE (`... AND vendor_id IS
 * NULL`) whose affected-row count decides who won, so two operators assigning one stall at
 * once never both succeed. Every multi-row write is one db_tx() body, so a deadlock or a
 * lost connection runs it again from nothing. Worker threads; each call uses only the db_t
 * it is given.
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

#define NO_VENDOR "no such vendor in this market"

/* A failed statement as an outcome: a lost connection or a deadlock passes on as it is (so
 * db_tx runs the transaction again); anything else is an internal failure. */
static sf_status_t db_fail(sf_status_t rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK ? rc : SF_E_INTERNAL;
}

/* A refusal about one of the listed stalls: details name the field and the stall. */
static sf_status_t stall_refused(status_detail_t *d, sf_status_t s, int64_t stall_id)
{
    return status_details(d, s, json_pack("{s:s, s:I}", "field", "stall_ids", "stall_id", (json_int_t)stall_id));
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

sf_status_t vendor_stall_create(db_t *db, int64_t market_id, const char *stall_no, const char *zone, int64_t x,
                                int64_t y, json_t **out, status_detail_t *d)
{
    uint64_t id = 0;
    db_param_t p[] = {DB_I64(market_id), DB_STR(stall_no), DB_STR(zone), DB_I64(x), DB_I64(y)};
    sf_status_t rc = db_exec(db, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y) VALUES (?, ?, ?, ?, ?)",
                             p, 5, NULL, &id);
    if (rc == DB_DUP)
        return status_field(d, SF_E_STALL_NO_TAKEN, "stall_no", NULL);
    if (rc != DB_OK)
        return db_fail(rc);
    *out = json_pack("{s:I, s:s, s:s, s:{s:I, s:I}, s:n}", "id", (json_int_t)id, "stall_no", stall_no, "zone", zone,
                     "map", "x", (json_int_t)x, "y", (json_int_t)y, "vendor_id");
    return *out != NULL ? SF_OK : SF_E_INTERNAL;
}

/* Gives the stall to the vendor if it is free (or already theirs). */
static sf_status_t assign_stall(db_t *db, int64_t market_id, int64_t vendor_id, int64_t stall_id, status_detail_t *d)
{
    uint64_t affected = 0;
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(vendor_id), DB_I64(stall_id), DB_I64(market_id)};
    sf_status_t rc = db_exec(db, "UPDATE stalls SET vendor_id = ? WHERE id = ? AND market_id = ? AND vendor_id IS NULL",
                             p, 3, &affected, NULL);
    if (rc != DB_OK)
        return db_fail(rc);
    if (affected == 1)
        return SF_OK;
    /* Nobody else can take it from here on: the row is locked by our transaction. */
    rc = db_query_row(db, "SELECT vendor_id FROM stalls WHERE id = ? AND market_id = ? FOR UPDATE", p + 1, 2, &rows);
    if (rc == DB_NOROW)
        return stall_refused(d, SF_E_UNKNOWN_STALL, stall_id);
    if (rc != DB_OK)
        return db_fail(rc);
    int64_t holder = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return holder == vendor_id ? SF_OK : stall_refused(d, SF_E_STALL_TAKEN, stall_id);
}

static int listed(const vendor_input_t *in, int64_t id)
{
    for (size_t i = 0; i < in->nstalls; i++)
        if (in->stall_ids[i] == id)
            return 1;
    return 0;
}

/* Releases a stall the vendor no longer holds, unless products of theirs still sit there. */
static sf_status_t release_stall(db_t *db, int64_t market_id, int64_t vendor_id, int64_t stall_id, status_detail_t *d)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(stall_id), DB_I64(vendor_id), DB_I64(market_id)};
    sf_status_t rc = db_query_row(
        db, "SELECT COUNT(*) FROM products WHERE stall_id = ? AND vendor_id = ? AND market_id = ?", p, 3, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    int64_t n = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (n > 0)
        return stall_refused(d, SF_E_STALL_HAS_PRODUCTS, stall_id);
    rc = db_exec(db, "UPDATE stalls SET vendor_id = NULL WHERE id = ? AND vendor_id = ? AND market_id = ?", p, 3, NULL,
                 NULL);
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

/* Makes the vendor hold exactly in->stall_ids: takes the new ones first (so an unknown or
 * taken stall is reported before anything else), then releases the others. */
static sf_status_t replace_stalls(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in,
                                  status_detail_t *d)
{
    db_rows_t *rows = NULL;
    sf_status_t rc = SF_OK;
    for (size_t i = 0; rc == SF_OK && i < in->nstalls; i++)
        rc = assign_stall(db, market_id, vendor_id, in->stall_ids[i], d);
    if (rc != SF_OK)
        return rc;
    db_param_t p[] = {DB_I64(vendor_id), DB_I64(market_id)};
    sf_status_t q =
        db_query(db, "SELECT id FROM stalls WHERE vendor_id = ? AND market_id = ? ORDER BY id FOR UPDATE", p, 2, &rows);
    if (q != DB_OK)
        return db_fail(q);
    while (rc == SF_OK && db_rows_next(rows)) {
        int64_t held = db_rows_i64(rows, 0);
        if (!listed(in, held))
            rc = release_stall(db, market_id, vendor_id, held, d);
    }
    db_rows_free(rows);
    return rc;
}

/* ---------------------------------------------------------------- licences and user */

static sf_status_t replace_licences(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in)
{
    db_param_t k[] = {DB_I64(vendor_id), DB_I64(market_id)};
    sf_status_t rc = db_exec(db, "DELETE FROM vendor_licences WHERE vendor_id = ? AND market_id = ?", k, 2, NULL, NULL);
    for (size_t i = 0; rc == DB_OK && i < in->nlicences; i++) {
        const vendor_licence_t *l = &in->licences[i];
        db_param_t p[] = {DB_I64(market_id), DB_I64(vendor_id), DB_STR(l->type), DB_STR(l->number),
                          DB_STR(l->valid_until)};
        rc = db_exec(db,
                     "INSERT INTO vendor_licences (market_id, vendor_id, type, number, valid_until)"
                     " VALUES (?, ?, ?, ?, ?)",
                     p, 5, NULL, NULL);
    }
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

static sf_status_t create_user(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in,
                               status_detail_t *d)
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
    sf_status_t rc = user_create(db, &u, &uid);
    if (rc == DB_DUP)
        return status_field(d, SF_E_USERNAME_TAKEN, "username", NULL);
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

/* ---------------------------------------------------------------- create and update */

/* What a write's transaction body works on. The answer is rendered inside the transaction,
 * so a failure to render writes nothing; a body run again drops the answer of the run
 * before. */
typedef struct write {
    int64_t market_id, vendor_id;
    const vendor_input_t *in;
    const vendor_staff_new_t *staff;
    status_detail_t *d;
    json_t *out;
} write_t;

/* Runs body as the one transaction of a write; *out gets the answer only once committed. */
static sf_status_t run(db_t *db, db_tx_body_t body, write_t *wr, json_t **out)
{
    *out = NULL;
    sf_status_t rc = db_tx(db, body, wr);
    if (rc != SF_OK) {
        json_decref(wr->out);
        wr->out = NULL;
    }
    *out = wr->out;
    return rc;
}

/* The writes of vendor_create. */
static sf_status_t create_rows(db_t *db, int64_t market_id, const vendor_input_t *in, int64_t *vendor_id,
                               status_detail_t *d)
{
    uint64_t id = 0;
    db_param_t p[] = {DB_I64(market_id), DB_STR(in->name), DB_STR(in->contact_phone), DB_STR(in->business_scope),
                      DB_STR(in->credit_level)};
    sf_status_t rc = db_exec(db,
                             "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                             " VALUES (?, ?, ?, ?, ?)",
                             p, 5, NULL, &id);
    if (rc != DB_OK)
        return db_fail(rc);
    *vendor_id = (int64_t)id;
    rc = replace_licences(db, market_id, *vendor_id, in);
    for (size_t i = 0; rc == SF_OK && i < in->nstalls; i++)
        rc = assign_stall(db, market_id, *vendor_id, in->stall_ids[i], d);
    if (rc == SF_OK)
        rc = create_user(db, market_id, *vendor_id, in, d);
    return rc;
}

static sf_status_t create_tx(db_t *db, void *ctx)
{
    write_t *wr = ctx;
    json_decref(wr->out);
    wr->out = NULL;
    sf_status_t rc = create_rows(db, wr->market_id, wr->in, &wr->vendor_id, wr->d);
    return rc == SF_OK ? vendor_render(db, wr->market_id, wr->vendor_id, &wr->out, wr->d) : rc;
}

sf_status_t vendor_create(db_t *db, int64_t market_id, const vendor_input_t *in, json_t **out, status_detail_t *d)
{
    write_t wr = {.market_id = market_id, .in = in, .d = d};
    return run(db, create_tx, &wr, out);
}

/* Locks the vendor's row: concurrent changes of one vendor run one after the other. */
static sf_status_t lock_vendor(db_t *db, int64_t market_id, int64_t vendor_id, status_detail_t *d)
{
    db_rows_t *rows = NULL;
    db_param_t k[] = {DB_I64(vendor_id), DB_I64(market_id)};
    sf_status_t rc = db_query_row(db, "SELECT id FROM vendors WHERE id = ? AND market_id = ? FOR UPDATE", k, 2, &rows);
    db_rows_free(rows);
    if (rc == DB_NOROW)
        return status_field(d, SF_E_NOT_FOUND, NULL, NO_VENDOR);
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

/* The writes of vendor_update. */
static sf_status_t update_rows(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in,
                               status_detail_t *d)
{
    sf_status_t rc = lock_vendor(db, market_id, vendor_id, d);
    if (rc != SF_OK)
        return rc;
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
    rc = in->has_licences ? replace_licences(db, market_id, vendor_id, in) : SF_OK;
    if (rc == SF_OK && in->has_stalls)
        rc = replace_stalls(db, market_id, vendor_id, in, d);
    return rc;
}

static sf_status_t update_tx(db_t *db, void *ctx)
{
    write_t *wr = ctx;
    json_decref(wr->out);
    wr->out = NULL;
    sf_status_t rc = update_rows(db, wr->market_id, wr->vendor_id, wr->in, wr->d);
    return rc == SF_OK ? vendor_render(db, wr->market_id, wr->vendor_id, &wr->out, wr->d) : rc;
}

sf_status_t vendor_update(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in, json_t **out,
                          status_detail_t *d)
{
    write_t wr = {.market_id = market_id, .vendor_id = vendor_id, .in = in, .d = d};
    return run(db, update_tx, &wr, out);
}

/* ---------------------------------------------------------------- staff */

#define STAFF_COLUMNS "id, vendor_id, name, certificate, " SQL_DATE("valid_until") ", valid_until >= " SQL_TODAY

static json_t *staff_json(const db_rows_t *rows)
{
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:b}", "id", (json_int_t)db_rows_i64(rows, 0), "vendor_id",
                     (json_int_t)db_rows_i64(rows, 1), "name", db_rows_json_str(rows, 2), "certificate",
                     db_rows_json_str(rows, 3), "valid_until", db_rows_json_str(rows, 4), "valid",
                     (int)db_rows_i64(rows, 5));
}

/* The writes of vendor_staff_add: the vendor row lock serialises concurrent adds, so the
 * count check holds. */
static sf_status_t staff_rows(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_staff_new_t *s, uint64_t *id,
                              status_detail_t *d)
{
    db_rows_t *rows = NULL;
    db_param_t k[] = {DB_I64(vendor_id), DB_I64(market_id)};
    sf_status_t rc = lock_vendor(db, market_id, vendor_id, d);
    if (rc != SF_OK)
        return rc;
    rc = db_query_row(db, "SELECT COUNT(*) FROM vendor_staff WHERE vendor_id = ? AND market_id = ?", k, 2, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    int64_t n = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (n >= VENDOR_MAX_STAFF)
        return status_details(d, SF_E_TOO_MANY_STAFF, json_pack("{s:i}", "max", VENDOR_MAX_STAFF));
    db_param_t p[] = {DB_I64(market_id), DB_I64(vendor_id), DB_STR(s->name), DB_STR(s->certificate),
                      DB_STR(s->valid_until)};
    rc = db_exec(
        db, "INSERT INTO vendor_staff (market_id, vendor_id, name, certificate, valid_until) VALUES (?, ?, ?, ?, ?)", p,
        5, NULL, id);
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

/* Reads the new staff row back as its answer, inside the transaction. */
static sf_status_t staff_answer(db_t *db, uint64_t id, json_t **out)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64((int64_t)id)};
    sf_status_t rc = db_query_row(db, "SELECT " STAFF_COLUMNS " FROM vendor_staff WHERE id = ?", p, 1, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    *out = staff_json(rows);
    db_rows_free(rows);
    return *out != NULL ? SF_OK : SF_E_INTERNAL;
}

static sf_status_t staff_tx(db_t *db, void *ctx)
{
    write_t *wr = ctx;
    uint64_t id = 0;
    json_decref(wr->out);
    wr->out = NULL;
    sf_status_t rc = staff_rows(db, wr->market_id, wr->vendor_id, wr->staff, &id, wr->d);
    return rc == SF_OK ? staff_answer(db, id, &wr->out) : rc;
}

sf_status_t vendor_staff_add(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_staff_new_t *s, json_t **out,
                             status_detail_t *d)
{
    write_t wr = {.market_id = market_id, .vendor_id = vendor_id, .staff = s, .d = d};
    return run(db, staff_tx, &wr, out);
}

/* ---------------------------------------------------------------- the record */

/* Appends to the array what `sql` (parameters vendor_id, market_id) finds, one object per
 * row from make(), or one integer per row when make is NULL. */
static sf_status_t add_list(db_t *db, const char *sql, int64_t market_id, int64_t vendor_id, json_t *arr,
                            json_t *(*make)(const db_rows_t *))
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(vendor_id), DB_I64(market_id)};
    sf_status_t rc = db_query(db, sql, p, 2, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    while (rc == SF_OK && db_rows_next(rows)) {
        json_t *v = make != NULL ? make(rows) : json_integer(db_rows_i64(rows, 0));
        if (v == NULL || json_array_append_new(arr, v) != 0)
            rc = SF_E_INTERNAL;
    }
    db_rows_free(rows);
    return rc;
}

static json_t *licence_json(const db_rows_t *rows)
{
    return json_pack("{s:I, s:o, s:o, s:o}", "id", (json_int_t)db_rows_i64(rows, 0), "type", db_rows_json_str(rows, 1),
                     "number", db_rows_json_str(rows, 2), "valid_until", db_rows_json_str(rows, 3));
}

static json_t *record_json(const db_rows_t *rows, int64_t market_id)
{
    size_t tlen;
    const char *t = db_rows_str(rows, 9, &tlen);
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:[], s:[], s:[]}", "id",
                     (json_int_t)db_rows_i64(rows, 0), "market_id", (json_int_t)market_id, "name",
                     db_rows_json_str(rows, 1), "contact_phone", db_rows_json_str(rows, 2), "business_scope",
                     db_rows_json_str(rows, 3), "credit_level", db_rows_json_str(rows, 4), "status",
                     db_rows_json_str(rows, 5), "user_id",
                     db_rows_isnull(rows, 6) ? json_null() : json_integer(db_rows_i64(rows, 6)), "username",
                     db_rows_json_str(rows, 7), "created_at", time_json(t, tlen), "stall_ids", "licences", "staff");
}

static json_t *stall_brief_json(const db_rows_t *rows)
{
    return json_pack("{s:I, s:o, s:o}", "id", (json_int_t)db_rows_i64(rows, 0), "stall_no", db_rows_json_str(rows, 1),
                     "zone", db_rows_json_str(rows, 2));
}

/* Appends one integer (column 0) to ids and, when stalls is not NULL, {id, stall_no, zone}
 * to stalls, per stall the vendor holds: one statement. */
static sf_status_t add_stalls(db_t *db, int64_t market_id, int64_t vendor_id, json_t *ids, json_t *stalls)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(vendor_id), DB_I64(market_id)};
    sf_status_t rc = db_query(
        db, "SELECT id, stall_no, zone FROM stalls WHERE vendor_id = ? AND market_id = ? ORDER BY id LIMIT 100", p, 2,
        &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    while (rc == SF_OK && db_rows_next(rows))
        if (json_array_append_new(ids, json_integer(db_rows_i64(rows, 0))) != 0 ||
            (stalls != NULL && json_array_append_new(stalls, stall_brief_json(rows)) != 0))
            rc = SF_E_INTERNAL;
    db_rows_free(rows);
    return rc;
}

/* The record; with profile also vendor_id and stalls [{id, stall_no, zone}] (the same
 * statements). */
static sf_status_t render(db_t *db, int64_t market_id, int64_t vendor_id, int profile, json_t **out, status_detail_t *d)
{
    db_rows_t *rows = NULL;
    json_t *doc = NULL;
    db_param_t p[] = {DB_I64(vendor_id), DB_I64(market_id)};
    sf_status_t rc = db_query_row(
        db,
        "SELECT v.id, v.name, v.contact_phone, v.business_scope, v.credit_level, v.status, u.id,"
        " u.username, v.market_id, " SQL_TIME("v.created_at") " FROM vendors v"
                                                              " LEFT JOIN users u ON u.market_id = v.market_id AND "
                                                              "u.role = 'vendor' AND u.vendor_id = v.id"
                                                              " WHERE v.id = ? AND v.market_id = ? LIMIT 1",
        p, 2, &rows);
    if (rc == DB_NOROW)
        return status_field(d, SF_E_NOT_FOUND, NULL, NO_VENDOR);
    if (rc != DB_OK)
        return db_fail(rc);
    doc = record_json(rows, market_id);
    db_rows_free(rows);
    rc = doc != NULL ? SF_OK : SF_E_INTERNAL;
    json_t *stalls = profile && rc == SF_OK ? json_array() : NULL;
    if (profile && rc == SF_OK &&
        (stalls == NULL || json_object_set_new(doc, "stalls", stalls) != 0 ||
         json_object_set_new(doc, "vendor_id", json_integer(vendor_id)) != 0))
        rc = SF_E_INTERNAL;
    if (rc == SF_OK)
        rc = add_stalls(db, market_id, vendor_id, json_object_get(doc, "stall_ids"), stalls);
    if (rc == SF_OK)
        rc = add_list(db,
                      "SELECT id, type, number, " SQL_DATE(
                          "valid_until") " FROM vendor_licences"
                                         " WHERE vendor_id = ? AND market_id = ? ORDER BY id LIMIT 100",
                      market_id, vendor_id, json_object_get(doc, "licences"), licence_json);
    if (rc == SF_OK)
        rc = add_list(db,
                      "SELECT " STAFF_COLUMNS " FROM vendor_staff WHERE vendor_id = ? AND market_id = ?"
                      " ORDER BY id LIMIT 200",
                      market_id, vendor_id, json_object_get(doc, "staff"), staff_json);
    if (rc == SF_OK)
        *out = doc;
    else
        json_decref(doc);
    return rc;
}

sf_status_t vendor_render(db_t *db, int64_t market_id, int64_t vendor_id, json_t **out, status_detail_t *d)
{
    return render(db, market_id, vendor_id, 0, out, d);
}

sf_status_t vendor_profile(db_t *db, int64_t market_id, int64_t vendor_id, json_t **out, status_detail_t *d)
{
    return render(db, market_id, vendor_id, 1, out, d);
}

/* ---------------------------------------------------------------- what expires */

static json_t *expiring_json(const db_rows_t *rows)
{
    json_t *nos = db_rows_json_array(rows, 8);
    if (nos == NULL)
        return NULL;
    return json_pack("{s:I, s:o, s:o, s:o, s:o, s:o, s:o, s:o, s:I}", "vendor_id", (json_int_t)db_rows_i64(rows, 0),
                     "vendor_name", db_rows_json_str(rows, 1), "vendor_status", db_rows_json_str(rows, 2), "stall_nos",
                     nos, "kind", db_rows_json_str(rows, 3), "label", db_rows_json_str(rows, 4), "number",
                     db_rows_json_str(rows, 5), "valid_until", db_rows_json_str(rows, 6), "days_left",
                     (json_int_t)db_rows_i64(rows, 7));
}

sf_status_t vendor_expiring(db_t *db, int64_t market_id, int within_days, json_t **items)
{
    /* Columns: 0 vendor, 1 its name, 2 its status, 3 kind, 4 label, 5 number, 6 valid_until,
     * 7 days left, 8 the vendor's stall numbers (a JSON array). */
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(market_id),   DB_I64(within_days), DB_I64(market_id),
                      DB_I64(within_days), DB_I64(market_id),   DB_I64(VENDOR_EXPIRING_MAX)};
    *items = NULL;
    sf_status_t rc = db_query(
        db,
        "SELECT v.id, v.name, v.status, x.kind, x.label, x.number, " SQL_DATE(
            "x.valid_until") ","
                             " DATEDIFF(x.valid_until, " SQL_TODAY "),"
                             " (SELECT JSON_ARRAYAGG(s.stall_no ORDER BY s.stall_no) FROM stalls s"
                             " WHERE s.vendor_id = v.id AND s.market_id = v.market_id) FROM ("
                             "SELECT vendor_id, 'licence' AS kind, type AS label, number, valid_until, id FROM "
                             "vendor_licences"
                             " WHERE market_id = ? AND valid_until <= " SQL_TODAY " + INTERVAL ? DAY UNION ALL "
                             "SELECT vendor_id, 'health_certificate', name, certificate, valid_until, id FROM "
                             "vendor_staff"
                             " WHERE market_id = ? AND valid_until <= " SQL_TODAY " + INTERVAL ? DAY) x"
                             " JOIN vendors v ON v.id = x.vendor_id WHERE v.market_id = ? AND v.status <> 'closed'"
                             " ORDER BY x.valid_until, v.id, x.kind DESC, x.id LIMIT ?",
        p, 6, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    *items = json_array();
    rc = *items != NULL ? SF_OK : SF_E_INTERNAL;
    while (rc == SF_OK && db_rows_next(rows))
        if (json_array_append_new(*items, expiring_json(rows)) != 0)
            rc = SF_E_INTERNAL;
    db_rows_free(rows);
    if (rc != SF_OK) {
        json_decref(*items);
        *items = NULL;
    }
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

sf_status_t vendor_list(db_t *db, int64_t market_id, const char *status, const char *like, int64_t after_id,
                        size_t limit, json_t **items, int64_t *next_after)
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
        return SF_E_INTERNAL;
    sf_status_t rc = db_query(db,
                              "SELECT id FROM vendors WHERE market_id = ? AND id > ? AND (? IS NULL OR status = ?)"
                              " AND (? IS NULL OR name LIKE ? ESCAPE '!') ORDER BY id LIMIT ?",
                              p, 7, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    n = page_ids(rows, limit, ids, next_after);
    db_rows_free(rows);
    *items = json_array();
    rc = *items != NULL ? SF_OK : SF_E_INTERNAL;
    for (size_t i = 0; i < n && rc == SF_OK; i++) {
        json_t *v = NULL;
        rc = vendor_render(db, market_id, ids[i], &v, NULL);
        if (rc == SF_OK && json_array_append_new(*items, v) != 0)
            rc = SF_E_INTERNAL;
    }
    if (rc != SF_OK) {
        json_decref(*items);
        *items = NULL;
        *next_after = 0;
    }
    return rc;
}

static json_t *stall_json(const db_rows_t *rows)
{
    return json_pack("{s:I, s:o, s:o, s:{s:I, s:I}, s:o}", "id", (json_int_t)db_rows_i64(rows, 0), "stall_no",
                     db_rows_json_str(rows, 1), "zone", db_rows_json_str(rows, 2), "map", "x",
                     (json_int_t)db_rows_i64(rows, 3), "y", (json_int_t)db_rows_i64(rows, 4), "vendor_id",
                     db_rows_isnull(rows, 5) ? json_null() : json_integer(db_rows_i64(rows, 5)));
}

sf_status_t vendor_stall_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items,
                              int64_t *next_after)
{
    db_rows_t *rows = NULL;
    size_t n = 0;
    int64_t last = 0;
    db_param_t p[] = {DB_I64(market_id), DB_I64(after_id), DB_I64((int64_t)limit + 1)};
    *next_after = 0;
    *items = json_array();
    if (*items == NULL)
        return SF_E_INTERNAL;
    sf_status_t rc =
        db_query(db,
                 "SELECT id, stall_no, zone, map_x, map_y, vendor_id FROM stalls WHERE market_id = ? AND id > ?"
                 " ORDER BY id LIMIT ?",
                 p, 3, &rows);
    if (rc != DB_OK)
        rc = db_fail(rc);
    while (rc == SF_OK && db_rows_next(rows)) {
        if (n++ == limit) { /* one more row than asked: another page follows */
            *next_after = last;
            break;
        }
        last = db_rows_i64(rows, 0);
        if (json_array_append_new(*items, stall_json(rows)) != 0)
            rc = SF_E_INTERNAL;
    }
    db_rows_free(rows);
    if (rc != SF_OK) {
        json_decref(*items);
        *items = NULL;
        *next_after = 0;
    }
    return rc;
}
