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

const char *const *alert_kind_names(void)
{
    return kinds;
}

sf_status_t alert_list(db_t *db, int64_t market_id, const char *kind, int64_t after_id, size_t limit, json_t **items,
                       char *next, size_t len)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(market_id),
                      kind != NULL ? DB_STR(kind) : DB_NULL,
                      kind != NULL ? DB_STR(kind) : DB_NULL,
                      DB_I64(after_id),
                      DB_I64(after_id),
                      DB_I64(limit)};
    next[0] = '\0';
    *items = json_array();
    sf_status_t rc = *items != NULL ? db_query(db,
                                               "SELECT id, kind, subject_id, order_id, note, " SQL_AT_0800(
                                                   "created_at") " FROM fulfilment_alerts WHERE market_id = ?"
                                                                 " AND (? IS NULL OR kind = ?) AND (? = 0 OR id < ?)"
                                                                 " ORDER BY id DESC LIMIT ?",
                                               p, 6, &rows)
                                    : DB_ERR;
    int64_t last = 0;
    while (rc == DB_OK && db_rows_next(rows)) {
        const char *note = db_rows_str(rows, 4, NULL);
        json_t *a = json_pack("{s:I, s:s, s:I, s:I, s:s?, s:s}", "id", (json_int_t)db_rows_i64(rows, 0), "kind",
                              db_rows_str(rows, 1, NULL), "subject_id", (json_int_t)db_rows_i64(rows, 2), "order_id",
                              (json_int_t)db_rows_i64(rows, 3), "note", note, "created_at", db_rows_str(rows, 5, NULL));
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

sf_status_t alert_counts(db_t *db, json_t **out)
{
    db_rows_t *rows = NULL;
    *out = json_object();
    sf_status_t rc = *out != NULL ? db_query(db, "SELECT kind, COUNT(*) FROM fulfilment_alerts GROUP BY kind LIMIT 64",
                                             NULL, 0, &rows)
                                  : DB_ERR;
    while (rc == DB_OK && db_rows_next(rows))
        if (json_object_set_new(*out, db_rows_str(rows, 0, NULL), json_integer(db_rows_i64(rows, 1))) != 0)
            rc = DB_ERR;
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*out);
        *out = NULL;
    }
    return rc;
}
