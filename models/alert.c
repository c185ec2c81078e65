/*
 * Fulfilment alerts (see alert.h): one table, fulfilment_alerts, written with INSERT IGNORE
 * so that the unique (kind, subject_id) key makes flagging idempotent.
 */
#include "models/alert.h"
#include "models/base/cursor.h"
#include "models/base/sqltime.h"

sf_status_t alert_raise(db_t *db, int64_t market_id, const char *kind, int64_t subject_id, int64_t order_id,
                        const char *note, int *raised)
{
    uint64_t n = 0;
    db_param_t p[] = {DB_I64(market_id), DB_STR(kind), DB_I64(subject_id), DB_I64(order_id),
                      note != NULL ? DB_STR(note) : DB_NULL};
    sf_status_t rc = db_exec(db,
                             "INSERT IGNORE INTO fulfilment_alerts (market_id, kind, subject_id, order_id, note)"
                             " VALUES (?, ?, ?, ?, LEFT(?, 200))",
                             p, 5, &n, NULL);
    if (raised != NULL)
        *raised = rc == DB_OK && n > 0;
    return rc;
}

static const char *const kinds[] = {ALERT_UNACCEPTED,  ALERT_AUTO_REJECTED, ALERT_OFFER_EXPIRED, ALERT_NO_COURIER,
                                    ALERT_PICKUP_LATE, ALERT_TRANSIT_LATE,  ALERT_LOCKED,        NULL};
static const char *const states[] = {"open", "resolved", NULL};

const char *const *alert_kind_names(void)
{
    return kinds;
}

const char *const *alert_state_names(void)
{
    return states;
}

#define ALERT_COLS                                                                                                     \
    "id, kind, subject_id, order_id, note, " SQL_AT_0800("created_at") ", " SQL_AT_0800("resolved_at") ", resolution"

static json_t *alert_json(const db_rows_t *r)
{
    return json_pack("{s:I, s:s, s:I, s:I, s:s?, s:s, s:s?, s:s?}", "id", (json_int_t)db_rows_i64(r, 0), "kind",
                     db_rows_str(r, 1, NULL), "subject_id", (json_int_t)db_rows_i64(r, 2), "order_id",
                     (json_int_t)db_rows_i64(r, 3), "note", db_rows_str(r, 4, NULL), "created_at",
                     db_rows_str(r, 5, NULL), "resolved_at", db_rows_str(r, 6, NULL), "resolution",
                     db_rows_str(r, 7, NULL));
}

sf_status_t alert_list(db_t *db, int64_t market_id, const char *kind, const char *state, int64_t after_id, size_t limit,
                       json_t **items, char *next, size_t len)
{
    db_rows_t *rows = NULL;
    db_param_t none = DB_NULL;
    db_param_t p[] = {DB_I64(market_id),
                      kind != NULL ? DB_STR(kind) : none,
                      kind != NULL ? DB_STR(kind) : none,
                      state != NULL ? DB_STR(state) : none,
                      state != NULL ? DB_STR(state) : none,
                      DB_I64(after_id),
                      DB_I64(after_id),
                      DB_I64(limit)};
    next[0] = '\0';
    *items = json_array();
    sf_status_t rc = *items != NULL ? db_query(db,
                                               "SELECT " ALERT_COLS " FROM fulfilment_alerts WHERE market_id = ?"
                                               " AND (? IS NULL OR kind = ?)"
                                               " AND (? IS NULL OR (? = 'open') = (resolved_at IS NULL))"
                                               " AND (? = 0 OR id < ?) ORDER BY id DESC LIMIT ?",
                                               p, 8, &rows)
                                    : DB_ERR;
    int64_t last = 0;
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *a = alert_json(rows);
        if (a == NULL || json_array_append_new(*items, a) != 0)
            rc = DB_ERR;
        last = db_rows_i64(rows, 0);
    }
    if (rc == DB_OK && rows->nrows == limit && limit > 0 && cursor_encode(ALERT_CURSOR_KIND, 0, last, next, len) != 0)
        rc = DB_ERR;
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

sf_status_t alert_resolve(db_t *db, int64_t market_id, int64_t alert_id, int64_t user_id, const char *resolution,
                          json_t **out)
{
    db_rows_t *rows = NULL;
    uint64_t n = 0;
    *out = NULL;
    sf_status_t rc =
        db_exec(db,
                "UPDATE fulfilment_alerts SET resolved_at = NOW(3), resolved_by = ?, resolution = ?"
                " WHERE id = ? AND market_id = ? AND resolved_at IS NULL",
                (db_param_t[]){DB_I64(user_id), DB_STR(resolution), DB_I64(alert_id), DB_I64(market_id)}, 4, &n, NULL);
    if (rc == DB_OK)
        rc = db_query_row(db, "SELECT " ALERT_COLS " FROM fulfilment_alerts WHERE id = ? AND market_id = ?",
                          (db_param_t[]){DB_I64(alert_id), DB_I64(market_id)}, 2, &rows);
    if (rc == DB_OK && n == 0)
        rc = SF_E_ALREADY_RESOLVED; /* there, and resolved before */
    if (rc == DB_OK && (*out = alert_json(rows)) == NULL)
        rc = DB_ERR;
    db_rows_free(rows);
    return rc; /* DB_NOROW is SF_E_NOT_FOUND: none of this market's */
}

sf_status_t alert_counts(db_t *db, json_t **out)
{
    db_rows_t *rows = NULL;
    *out = json_object();
    sf_status_t rc = *out != NULL ? db_query(db,
                                             "SELECT kind, COUNT(*), COALESCE(SUM(resolved_at IS NULL), 0)"
                                             " FROM fulfilment_alerts GROUP BY kind LIMIT 64",
                                             NULL, 0, &rows)
                                  : DB_ERR;
    while (rc == DB_OK && db_rows_next(rows))
        if (json_object_set_new(*out, db_rows_str(rows, 0, NULL),
                                json_pack("{s:I, s:I}", "total", (json_int_t)db_rows_i64(rows, 1), "open",
                                          (json_int_t)db_rows_i64(rows, 2))) != 0)
            rc = DB_ERR;
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
