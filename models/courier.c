/*
 * Couriers (see courier.h): one transaction writes the courier row and its user, so a taken
 * username leaves no courier behind. Worker threads; uses only the db_t it is given.
 */
#include "models/courier.h"
#include "models/user.h"

static int db_fail(int rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK ? COURIER_E_BUSY : COURIER_E_DB;
}

/* The writes, inside the caller's transaction. */
static int create_rows(db_t *db, int64_t market_id, const courier_new_t *c, int64_t *courier_id, int64_t *user_id)
{
    uint64_t id = 0;
    db_param_t p[] = {DB_I64(market_id), DB_STR(c->name), DB_STR(c->phone)};
    int rc = db_exec(db, "INSERT INTO couriers (market_id, name, phone) VALUES (?, ?, ?)", p, 3, NULL, &id);
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
        return COURIER_E_USERNAME_TAKEN;
    return rc == DB_OK ? COURIER_OK : db_fail(rc);
}

int courier_create(db_t *db, int64_t market_id, const courier_new_t *c, json_t **out)
{
    int64_t courier_id = 0, user_id = 0;
    int rc = db_begin(db);
    if (rc != DB_OK)
        return db_fail(rc);
    *out = NULL;
    rc = create_rows(db, market_id, c, &courier_id, &user_id);
    if (rc == COURIER_OK) { /* the answer before the commit: out of memory writes nothing */
        *out = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:s}", "id", (json_int_t)courier_id, "market_id",
                         (json_int_t)market_id, "name", c->name, "phone", c->phone, "status", "active", "user_id",
                         (json_int_t)user_id, "username", c->username);
        rc = *out != NULL ? COURIER_OK : COURIER_E_DB;
    }
    if (rc == COURIER_OK && (rc = db_commit(db)) != DB_OK)
        rc = db_fail(rc);
    if (rc != COURIER_OK) {
        db_rollback(db);
        json_decref(*out);
        *out = NULL;
    }
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

int courier_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items, int64_t *next_after)
{
    db_rows_t *rows = NULL;
    size_t n = 0;
    int64_t last = 0;
    db_param_t p[] = {DB_I64(market_id), DB_I64(after_id), DB_I64((int64_t)limit + 1)};
    *next_after = 0;
    *items = json_array();
    if (*items == NULL)
        return COURIER_E_DB;
    int rc = db_query(db,
                      "SELECT id, name, phone, status FROM couriers WHERE market_id = ? AND id > ?"
                      " ORDER BY id LIMIT ?",
                      p, 3, &rows);
    if (rc != DB_OK) {
        rc = db_fail(rc);
        goto out;
    }
    while (rc == COURIER_OK && db_rows_next(rows)) {
        if (n++ == limit) { /* one more row than asked: another page follows */
            *next_after = last;
            break;
        }
        json_t *v = list_json(rows);
        last = db_rows_i64(rows, 0);
        if (v == NULL || json_array_append_new(*items, v) != 0)
            rc = COURIER_E_DB;
    }
out:
    db_rows_free(rows);
    if (rc != COURIER_OK) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}
