/*
 * Couriers (see courier.h): one transaction (db_tx) writes the courier row and its user, so a
 * taken username leaves no courier behind. Worker threads; uses only the db_t it is given.
 */
#include "models/courier.h"
#include "models/user.h"

/* A failed statement: a lost connection or a deadlock passes on as it is (db_tx runs the
 * transaction again); anything else is an internal failure. */
static sf_status_t db_fail(sf_status_t rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK ? rc : SF_E_INTERNAL;
}

typedef struct create {
    int64_t market_id;
    const courier_new_t *c;
    status_detail_t *d;
    json_t *out;
} create_t;

/* The writes, inside the transaction. */
static sf_status_t create_rows(db_t *db, int64_t market_id, const courier_new_t *c, int64_t *courier_id,
                               int64_t *user_id, status_detail_t *d)
{
    uint64_t id = 0;
    db_param_t p[] = {DB_I64(market_id), DB_STR(c->name), DB_STR(c->phone)};
    sf_status_t rc = db_exec(db, "INSERT INTO couriers (market_id, name, phone) VALUES (?, ?, ?)", p, 3, NULL, &id);
    if (rc != DB_OK)
        return db_fail(rc);
    *courier_id = (int64_t)id;
    user_new_t u = {
        .role = "courier",
        .market_id = market_id,
        .username = c->username,
        .password = c->password,
        .display_name = c->name, /* both are at most 64 characters */
        .courier_id = *courier_id,
    };
    rc = user_create(db, &u, user_id);
    if (rc == DB_DUP)
        return status_field(d, SF_E_USERNAME_TAKEN, "username", NULL);
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

/* The transaction: the answer is made before the commit, so out of memory writes nothing. */
static sf_status_t create_tx(db_t *db, void *ctx)
{
    create_t *k = ctx;
    int64_t courier_id = 0, user_id = 0;
    json_decref(k->out);
    k->out = NULL;
    sf_status_t rc = create_rows(db, k->market_id, k->c, &courier_id, &user_id, k->d);
    if (rc != SF_OK)
        return rc;
    k->out = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:s}", "id", (json_int_t)courier_id, "market_id",
                       (json_int_t)k->market_id, "name", k->c->name, "phone", k->c->phone, "status", "active",
                       "user_id", (json_int_t)user_id, "username", k->c->username);
    return k->out != NULL ? SF_OK : SF_E_INTERNAL;
}

sf_status_t courier_create(db_t *db, int64_t market_id, const courier_new_t *c, json_t **out, status_detail_t *d)
{
    create_t k = {.market_id = market_id, .c = c, .d = d};
    sf_status_t rc = db_tx(db, create_tx, &k);
    if (rc != SF_OK) {
        json_decref(k.out);
        k.out = NULL;
    }
    *out = k.out;
    return rc;
}

static json_t *list_json(const db_rows_t *rows)
{
    size_t nlen, plen, slen;
    const char *n = db_rows_str(rows, 1, &nlen), *p = db_rows_str(rows, 2, &plen), *s = db_rows_str(rows, 3, &slen);
    return json_pack("{s:I, s:s#, s:s#, s:s#}", "id", (json_int_t)db_rows_i64(rows, 0), "name", n != NULL ? n : "",
                     n != NULL ? nlen : 0, "phone", p != NULL ? p : "", p != NULL ? plen : 0, "status",
                     s != NULL ? s : "", s != NULL ? slen : 0);
}

sf_status_t courier_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items,
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
    sf_status_t rc = db_query(db,
                              "SELECT id, name, phone, status FROM couriers WHERE market_id = ? AND id > ?"
                              " ORDER BY id LIMIT ?",
                              p, 3, &rows);
    if (rc != DB_OK) {
        rc = db_fail(rc);
        goto out;
    }
    while (rc == SF_OK && db_rows_next(rows)) {
        if (n++ == limit) { /* one more row than asked: another page follows */
            *next_after = last;
            break;
        }
        json_t *v = list_json(rows);
        last = db_rows_i64(rows, 0);
        if (v == NULL || json_array_append_new(*items, v) != 0)
            rc = SF_E_INTERNAL;
    }
out:
    db_rows_free(rows);
    if (rc != SF_OK) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}
