/*
 * Ratings and complaints (see feedback.h). A rating is one transaction of four statements
 * whatever the number of stalls: one read of the order with its delivery, its vendor orders
 * and whether it was rated, then the order_ratings row, every stall_ratings row at once
 * (INSERT ... SELECT over JSON_TABLE of the scores, so the statement text never depends on
 * the count), and every rated stall's sum and count raised at once (a multi-table UPDATE).
 * The times written are the NOW(3) read by the first statement (the session runs in UTC), so
 * the answer shows exactly what is stored without reading it back.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/cursor.h"
#include "models/base/sqltime.h"
#include "models/feedback.h"

/* A failed statement: a lost connection, a deadlock or a duplicate key passes on as it is
 * (db_tx runs the transaction again for the first two); anything else is internal. */
static sf_status_t db_fail(sf_status_t rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK || rc == DB_DUP || rc == DB_NOROW ? rc : SF_E_INTERNAL;
}

/* ================================================================ rating an order */

typedef struct rate_ctx {
    const feedback_rating_t *in;
    status_detail_t *d;
    /* read by the first statement */
    int64_t market_id, courier_id;
    char now[32];  /* NOW(3) as MariaDB writes it, for the rows */
    char when[40]; /* the same in RFC 3339 +08:00, for the answer */
    json_t *out;
} rate_ctx_t;

/* Columns: 0 market, 1 order status, 2 courier, 3 rated before, 4 stall, 5 vendor order
 * status, 6 now, 7 now at +08:00. One row per vendor order. */
static const char rate_read_sql[] =
    "SELECT o.market_id, o.status, d.courier_id, EXISTS (SELECT 1 FROM order_ratings r WHERE r.order_id = o.id),"
    " vo.stall_id, vo.status, NOW(3), " SQL_AT_0800(
        "NOW(3)") " FROM orders o"
                  " LEFT JOIN deliveries d ON d.order_id = o.id LEFT JOIN vendor_orders vo ON vo.order_id = o.id"
                  " WHERE o.id = ? AND o.consumer_id = ? LIMIT ?";

/* Whether the stall served the order: a vendor order of it that was neither rejected nor
 * cancelled. */
static int stall_served(db_rows_t *rows, int64_t stall_id)
{
    for (db_rows_rewind(rows); db_rows_next(rows);) { /* from the first row again */
        const char *st = db_rows_str(rows, 5, NULL);
        if (!db_rows_isnull(rows, 4) && db_rows_i64(rows, 4) == stall_id && st != NULL && strcmp(st, "rejected") != 0 &&
            strcmp(st, "cancelled") != 0)
            return 1;
    }
    return 0;
}

/* The order's refusals, in the order a client should hear them. */
static sf_status_t rate_check(rate_ctx_t *k, db_rows_t *rows)
{
    char field[40];
    const char *status = db_rows_str(rows, 1, NULL);
    if (status == NULL || strcmp(status, "delivered") != 0)
        return SF_E_NOT_DELIVERED;
    if (db_rows_i64(rows, 3) != 0)
        return SF_E_ALREADY_RATED;
    k->market_id = db_rows_i64(rows, 0);
    k->courier_id = db_rows_i64(rows, 2);
    db_rows_copy(rows, 6, k->now, sizeof(k->now));
    db_rows_copy(rows, 7, k->when, sizeof(k->when));
    if (k->in->courier_score != 0 && k->courier_id == 0)
        return status_field(k->d, SF_E_INVALID, "courier_score", "no courier delivered this order");
    for (size_t i = 0; i < k->in->nstalls; i++)
        if (!stall_served(rows, k->in->stalls[i].stall_id)) {
            snprintf(field, sizeof(field), "stalls[%zu].stall_id", i);
            return status_field(k->d, SF_E_INVALID, field, "is not a stall that served this order");
        }
    return SF_OK;
}

/* The scores as the JSON array JSON_TABLE reads ([{stall_id, score, text?}]), and the
 * answer's stalls. */
static json_t *scores_json(const feedback_rating_t *in)
{
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < in->nstalls; i++) {
        const feedback_stall_score_t *s = &in->stalls[i];
        json_t *o =
            json_pack("{s:I, s:i, s:s?}", "stall_id", (json_int_t)s->stall_id, "score", s->score, "text", s->text);
        if (o == NULL || json_array_append_new(a, o) != 0) {
            json_decref(a);
            a = NULL;
        }
    }
    return a;
}

/* The three writes. */
static sf_status_t rate_write(db_t *db, rate_ctx_t *k, const char *scores)
{
    const feedback_rating_t *in = k->in;
    db_param_t head[] = {DB_I64(in->order_id),
                         DB_I64(k->market_id),
                         DB_I64(in->consumer_id),
                         k->courier_id != 0 ? DB_I64(k->courier_id) : DB_NULL,
                         in->courier_score != 0 ? DB_I64(in->courier_score) : DB_NULL,
                         DB_STR(k->now)};
    sf_status_t rc = db_exec(db,
                             "INSERT INTO order_ratings (order_id, market_id, consumer_id, courier_id, courier_score,"
                             " created_at) VALUES (?, ?, ?, ?, ?, ?)",
                             head, 6, NULL, NULL);
    if (rc == DB_DUP) /* a racing rating of the same order committed first */
        return SF_E_ALREADY_RATED;
    db_param_t rows[] = {DB_I64(in->order_id), DB_I64(k->market_id), DB_I64(in->consumer_id), DB_STR(k->now),
                         DB_STR(scores)};
    if (rc == DB_OK)
        rc = db_exec(db,
                     "INSERT INTO stall_ratings (order_id, stall_id, market_id, consumer_id, score, text, created_at)"
                     " SELECT ?, j.stall_id, ?, ?, j.score, j.text, ? FROM JSON_TABLE(?, '$[*]' COLUMNS ("
                     "stall_id BIGINT PATH '$.stall_id', score INT PATH '$.score',"
                     " text VARCHAR(500) PATH '$.text')) j",
                     rows, 5, NULL, NULL);
    db_param_t sum[] = {DB_I64(in->order_id)};
    if (rc == DB_OK)
        rc = db_exec(db,
                     "UPDATE stalls s JOIN stall_ratings r ON r.stall_id = s.id"
                     " SET s.rating_sum = s.rating_sum + r.score, s.rating_count = s.rating_count + 1"
                     " WHERE r.order_id = ?",
                     sum, 1, NULL, NULL);
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

static sf_status_t rate_tx(db_t *db, void *ctx)
{
    rate_ctx_t *k = ctx;
    db_rows_t *rows = NULL;
    json_t *scores = scores_json(k->in);
    char *text = scores != NULL ? json_dumps(scores, JSON_COMPACT) : NULL;
    json_decref(k->out); /* a run before this one */
    k->out = NULL;
    db_param_t p[] = {DB_I64(k->in->order_id), DB_I64(k->in->consumer_id), DB_I64(FEEDBACK_STALLS_MAX * 2)};
    sf_status_t rc = text != NULL ? db_query_row(db, rate_read_sql, p, 3, &rows) : SF_E_INTERNAL;
    if (rc == DB_OK)
        rc = rate_check(k, rows);
    else if (rc == DB_NOROW)
        rc = status_field(k->d, SF_E_NOT_FOUND, NULL, "no such order");
    else
        rc = db_fail(rc);
    if (rc == SF_OK)
        rc = rate_write(db, k, text);
    if (rc == SF_OK) {
        k->out = json_pack("{s:I, s:I, s:O, s:o, s:o, s:s}", "order_id", (json_int_t)k->in->order_id, "market_id",
                           (json_int_t)k->market_id, "stalls", scores, "courier_id",
                           k->courier_id != 0 ? json_integer(k->courier_id) : json_null(), "courier_score",
                           k->in->courier_score != 0 ? json_integer(k->in->courier_score) : json_null(), "created_at",
                           k->when);
        rc = k->out != NULL ? SF_OK : SF_E_INTERNAL;
    }
    json_decref(scores);
    free(text);
    db_rows_free(rows);
    return rc;
}

sf_status_t feedback_rate(db_t *db, const feedback_rating_t *in, int64_t *market_id, json_t **out, status_detail_t *d)
{
    rate_ctx_t k = {.in = in, .d = d};
    *out = NULL;
    if (in->nstalls < 1 || in->nstalls > FEEDBACK_STALLS_MAX)
        return status_field(d, SF_E_INVALID, "stalls", "must list 1 to 100 stalls");
    sf_status_t rc = db_tx(db, rate_tx, &k);
    if (rc != SF_OK) {
        json_decref(k.out);
        return rc;
    }
    *market_id = k.market_id;
    *out = k.out;
    return SF_OK;
}

/* ================================================================ a stall's ratings */

sf_status_t feedback_stall_ratings(db_t *db, int64_t stall_id, int64_t after_ms, int64_t after_order, size_t limit,
                                   json_t **items, char *next_cursor, size_t len)
{
    db_rows_t *rows = NULL;
    next_cursor[0] = '\0';
    *items = json_array();
    /* the cursor's time back as a DATETIME(3), independent of the session's time zone */
    db_param_t p[] = {DB_I64(stall_id), DB_I64(after_order), DB_I64(after_ms),
                      DB_I64(after_ms), DB_I64(after_order), DB_I64(limit + 1)};
    sf_status_t rc =
        *items != NULL
            ? db_query(
                  db,
                  "SELECT score, text, " SQL_AT_0800(
                      "created_at") ","
                                    " TIMESTAMPDIFF(MICROSECOND, '1970-01-01', created_at) DIV 1000, order_id"
                                    " FROM stall_ratings WHERE stall_id = ? AND (? = 0"
                                    " OR created_at < TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00.000')"
                                    " OR (created_at = TIMESTAMPADD(MICROSECOND, ? * 1000, '1970-01-01 00:00:00.000')"
                                    " AND order_id < ?)) ORDER BY created_at DESC, order_id DESC LIMIT ?",
                  p, 6, &rows)
            : DB_ERR;
    for (size_t k = 0; rc == DB_OK && k < limit && db_rows_next(rows); k++) {
        json_t *o = json_pack("{s:I, s:s?, s:s?}", "score", (json_int_t)db_rows_i64(rows, 0), "text",
                              db_rows_str(rows, 1, NULL), "created_at", db_rows_str(rows, 2, NULL));
        if (o == NULL || json_array_append_new(*items, o) != 0)
            rc = DB_ERR;
        else if (k + 1 == limit && rows->nrows > limit &&
                 cursor_encode(FEEDBACK_KIND_RATINGS, db_rows_i64(rows, 3), db_rows_i64(rows, 4), next_cursor, len) !=
                     0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

/* ================================================================ complaints */

/* Columns of a rendered complaint: 0 id, 1 market, 2 order, 3 stall, 4 stall_no, 5 text,
 * 6 status, 7 resolution, 8 created_at, 9 resolved_at, 10 order_no. */
#define COMPLAINT_COLS                                                                                                 \
    "c.id, c.market_id, c.order_id, c.stall_id, s.stall_no, c.text, c.status, c.resolution, " SQL_AT_0800(             \
        "c.created_at") ", " SQL_AT_0800("c.resolved_at") ", o.order_no FROM complaints c"                             \
                                                          " JOIN stalls s ON s.id = c.stall_id"                        \
                                                          " LEFT JOIN orders o ON o.id = c.order_id"

static json_t *complaint_json(const db_rows_t *r)
{
    return json_pack("{s:I, s:I, s:o, s:s?, s:I, s:s?, s:s?, s:s?, s:s?, s:s?, s:s?}", "id",
                     (json_int_t)db_rows_i64(r, 0), "market_id", (json_int_t)db_rows_i64(r, 1), "order_id",
                     db_rows_isnull(r, 2) ? json_null() : json_integer(db_rows_i64(r, 2)), "order_no",
                     db_rows_str(r, 10, NULL), "stall_id", (json_int_t)db_rows_i64(r, 3), "stall_no",
                     db_rows_str(r, 4, NULL), "text", db_rows_str(r, 5, NULL), "status", db_rows_str(r, 6, NULL),
                     "resolution", db_rows_str(r, 7, NULL), "created_at", db_rows_str(r, 8, NULL), "resolved_at",
                     db_rows_str(r, 9, NULL));
}

/* A page of complaints from a query whose last two parameters are the id to start below
 * (twice, 0: from the newest) and the limit; they are filled in here. */
static sf_status_t complaint_page(db_t *db, const char *sql, db_param_t *p, size_t n, int64_t after_id, size_t limit,
                                  char kind, json_t **items, char *next_cursor, size_t len)
{
    db_rows_t *rows = NULL;
    next_cursor[0] = '\0';
    p[n - 3] = DB_I64(after_id);
    p[n - 2] = DB_I64(after_id);
    p[n - 1] = DB_I64(limit + 1);
    *items = json_array();
    sf_status_t rc = *items != NULL ? db_query(db, sql, p, n, &rows) : DB_ERR;
    for (size_t k = 0; rc == DB_OK && k < limit && db_rows_next(rows); k++) {
        json_t *o = complaint_json(rows);
        if (o == NULL || json_array_append_new(*items, o) != 0)
            rc = DB_ERR;
        else if (k + 1 == limit && rows->nrows > limit &&
                 cursor_encode(kind, 0, db_rows_i64(rows, 0), next_cursor, len) != 0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

sf_status_t feedback_complaints_of(db_t *db, int64_t consumer_id, int64_t after_id, size_t limit, json_t **items,
                                   char *next_cursor, size_t len)
{
    db_param_t p[] = {DB_I64(consumer_id), DB_NULL, DB_NULL, DB_NULL};
    return complaint_page(db,
                          "SELECT " COMPLAINT_COLS " WHERE c.consumer_id = ? AND (? = 0 OR c.id < ?)"
                          " ORDER BY c.id DESC LIMIT ?",
                          p, 4, after_id, limit, FEEDBACK_KIND_MINE, items, next_cursor, len);
}

sf_status_t feedback_complaints_in(db_t *db, int64_t market_id, int64_t vendor_id, const char *status, int64_t after_id,
                                   size_t limit, json_t **items, char *next_cursor, size_t len)
{
    db_param_t st = status != NULL ? DB_STR(status) : DB_NULL;
    db_param_t p[] = {DB_I64(market_id), DB_I64(vendor_id), DB_I64(vendor_id), st, st, DB_NULL, DB_NULL, DB_NULL};
    return complaint_page(db,
                          "SELECT " COMPLAINT_COLS " WHERE c.market_id = ? AND (? = 0 OR s.vendor_id = ?)"
                          " AND (? IS NULL OR c.status = ?) AND (? = 0 OR c.id < ?) ORDER BY c.id DESC LIMIT ?",
                          p, 8, after_id, limit, vendor_id != 0 ? FEEDBACK_KIND_VENDOR : FEEDBACK_KIND_ADMIN, items,
                          next_cursor, len);
}

/* One complaint of a market, rendered. DB_OK, DB_NOROW or a db status. */
static sf_status_t complaint_get(db_t *db, int64_t market_id, int64_t id, json_t **out)
{
    db_rows_t *rows = NULL;
    sf_status_t rc = db_query_row(db, "SELECT " COMPLAINT_COLS " WHERE c.id = ? AND c.market_id = ?",
                                  (db_param_t[]){DB_I64(id), DB_I64(market_id)}, 2, &rows);
    if (rc == DB_OK && (*out = complaint_json(rows)) == NULL)
        rc = DB_ERR;
    db_rows_free(rows);
    return rc;
}

typedef struct complain_ctx {
    const feedback_complaint_t *in;
    status_detail_t *d;
    json_t *out;
} complain_ctx_t;

/* Columns: 0 the stall's market (NULL: no such stall), 1 stall_no, 2 the order's number if
 * it is the consumer's (else NULL), 3 the stall is one of the order's, 4 now, 5 now at +08:00. */
static const char complain_read_sql[] =
    "SELECT s.market_id, s.stall_no,"
    " (SELECT o.order_no FROM orders o WHERE o.id = ? AND o.consumer_id = ?),"
    " EXISTS (SELECT 1 FROM vendor_orders vo WHERE vo.order_id = ? AND vo.stall_id = s.id),"
    " NOW(3), " SQL_AT_0800("NOW(3)") " FROM (SELECT 1) one LEFT JOIN stalls s ON s.id = ?";

/* The refusals of a complaint, in the order a client should hear them. */
static sf_status_t complain_check(const feedback_complaint_t *in, const db_rows_t *rows, status_detail_t *d)
{
    if (in->order_id != 0 && db_rows_isnull(rows, 2))
        return status_field(d, SF_E_NOT_FOUND, NULL, "no such order");
    if (db_rows_isnull(rows, 0))
        return status_field(d, SF_E_UNKNOWN_STALL, "stall_id", "no such stall");
    if (in->order_id != 0 && db_rows_i64(rows, 3) == 0)
        return status_field(d, SF_E_UNKNOWN_STALL, "stall_id", "is not a stall of this order");
    return SF_OK;
}

static sf_status_t complain_tx(db_t *db, void *ctx)
{
    complain_ctx_t *k = ctx;
    const feedback_complaint_t *in = k->in;
    db_rows_t *rows = NULL;
    uint64_t id = 0;
    json_decref(k->out);
    k->out = NULL;
    db_param_t p[] = {DB_I64(in->order_id), DB_I64(in->consumer_id), DB_I64(in->order_id), DB_I64(in->stall_id)};
    sf_status_t rc = db_query_row(db, complain_read_sql, p, 4, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    if ((rc = complain_check(in, rows, k->d)) != SF_OK)
        goto out;
    int64_t market_id = db_rows_i64(rows, 0);
    db_param_t w[] = {DB_I64(market_id),    DB_I64(in->consumer_id), in->order_id != 0 ? DB_I64(in->order_id) : DB_NULL,
                      DB_I64(in->stall_id), DB_STR(in->text),        DB_STR(db_rows_str(rows, 4, NULL))};
    rc = db_exec(db,
                 "INSERT INTO complaints (market_id, consumer_id, order_id, stall_id, text, created_at)"
                 " VALUES (?, ?, ?, ?, ?, ?)",
                 w, 6, NULL, &id);
    if (rc != DB_OK) {
        rc = db_fail(rc);
        goto out;
    }
    k->out = json_pack("{s:I, s:I, s:o, s:s?, s:I, s:s?, s:s, s:s, s:n, s:s?, s:n}", "id", (json_int_t)id, "market_id",
                       (json_int_t)market_id, "order_id", in->order_id != 0 ? json_integer(in->order_id) : json_null(),
                       "order_no", in->order_id != 0 ? db_rows_str(rows, 2, NULL) : NULL, "stall_id",
                       (json_int_t)in->stall_id, "stall_no", db_rows_str(rows, 1, NULL), "text", in->text, "status",
                       "open", "resolution", "created_at", db_rows_str(rows, 5, NULL), "resolved_at");
    rc = k->out != NULL ? SF_OK : SF_E_INTERNAL;
out:
    db_rows_free(rows);
    return rc;
}

sf_status_t feedback_complain(db_t *db, const feedback_complaint_t *in, json_t **out, status_detail_t *d)
{
    complain_ctx_t k = {.in = in, .d = d};
    sf_status_t rc = db_tx(db, complain_tx, &k);
    if (rc != SF_OK) {
        json_decref(k.out);
        k.out = NULL;
    }
    *out = k.out;
    return rc;
}

typedef struct resolve_ctx {
    int64_t market_id, operator_id, id;
    const char *note;
    status_detail_t *d;
    json_t *out;
} resolve_ctx_t;

static sf_status_t resolve_tx(db_t *db, void *ctx)
{
    resolve_ctx_t *k = ctx;
    uint64_t n = 0;
    db_rows_t *rows = NULL;
    json_decref(k->out);
    k->out = NULL;
    db_param_t p[] = {DB_STR(k->note), DB_I64(k->operator_id), DB_I64(k->id), DB_I64(k->market_id)};
    sf_status_t rc = db_exec(db,
                             "UPDATE complaints SET status = 'resolved', resolution = ?, resolved_by = ?,"
                             " resolved_at = NOW(3) WHERE id = ? AND market_id = ? AND status = 'open'",
                             p, 4, &n, NULL);
    if (rc == DB_OK && n == 0) { /* why not: none of this market's, or resolved before */
        rc = db_query_row(db, "SELECT status FROM complaints WHERE id = ? AND market_id = ?",
                          (db_param_t[]){DB_I64(k->id), DB_I64(k->market_id)}, 2, &rows);
        db_rows_free(rows);
        if (rc == DB_OK)
            return SF_E_ALREADY_RESOLVED;
        return rc == DB_NOROW ? status_field(k->d, SF_E_NOT_FOUND, NULL, "no such complaint") : db_fail(rc);
    }
    if (rc == DB_OK)
        rc = complaint_get(db, k->market_id, k->id, &k->out);
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

sf_status_t feedback_resolve(db_t *db, int64_t market_id, int64_t operator_id, int64_t complaint_id, const char *note,
                             json_t **out, status_detail_t *d)
{
    resolve_ctx_t k = {.market_id = market_id, .operator_id = operator_id, .id = complaint_id, .note = note, .d = d};
    sf_status_t rc = db_tx(db, resolve_tx, &k);
    if (rc != SF_OK) {
        json_decref(k.out);
        k.out = NULL;
    }
    *out = k.out;
    return rc;
}
