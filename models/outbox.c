/*
 * The transactional outbox and the consumers' processed records (see outbox.h). Any thread
 * with its own db_t; nothing is kept between calls. The payload is stored as compact JSON.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/outbox.h"

int outbox_add(db_t *db, int64_t market_id, const char *topic, const json_t *payload, int64_t *id)
{
    size_t tlen = topic != NULL ? strlen(topic) : 0;
    if (tlen == 0 || tlen > OUTBOX_TOPIC_MAX || !json_is_object(payload)) {
        snprintf(db->err, sizeof(db->err), "outbox_add: bad topic or payload");
        return DB_ERR;
    }
    char *text = json_dumps(payload, JSON_COMPACT);
    if (text == NULL) {
        snprintf(db->err, sizeof(db->err), "outbox_add: out of memory");
        return DB_ERR;
    }
    uint64_t insert_id = 0;
    db_param_t p[] = {DB_I64(market_id), DB_STRN(topic, tlen), DB_STR(text)};
    int rc = db_exec(db, "INSERT INTO outbox (market_id, topic, payload) VALUES (?, ?, ?)", p, 3, NULL, &insert_id);
    free(text);
    if (rc == DB_OK && id != NULL)
        *id = (int64_t)insert_id;
    return rc;
}

int outbox_unpublished(db_t *db, size_t limit, db_rows_t **rows)
{
    if (limit == 0 || limit > OUTBOX_BATCH_MAX)
        limit = OUTBOX_BATCH_MAX;
    db_param_t p[] = {DB_I64(limit)};
    return db_query(db,
                    "SELECT id, market_id, topic, payload FROM outbox WHERE published_at IS NULL ORDER BY id LIMIT ?",
                    p, 1, rows);
}

int outbox_mark_published(db_t *db, const int64_t *ids, size_t n)
{
    static const char head[] = "UPDATE outbox SET published_at = NOW(3) WHERE published_at IS NULL AND id IN ";
    char sql[sizeof(head) + 2 * OUTBOX_BATCH_MAX + 8];
    db_param_t p[OUTBOX_BATCH_MAX];
    if (n == 0)
        return DB_OK;
    size_t k = db_in_list(sql, sizeof(sql), head, "", p, ids, n, OUTBOX_BATCH_MAX);
    if (k == 0) {
        snprintf(db->err, sizeof(db->err), "outbox_mark_published: %zu ids", n);
        return DB_ERR;
    }
    return db_exec(db, sql, p, k, NULL, NULL);
}

int outbox_relay_lock(db_t *db)
{
    db_rows_t *rows = NULL;
    /* IS_USED_LOCK first: GET_LOCK again on the session that holds it would stack a count. */
    int rc = db_query_row(db,
                          "SELECT IF(IS_USED_LOCK(n) <=> CONNECTION_ID(), 1, GET_LOCK(n, 0)) FROM "
                          "(SELECT LEFT(CONCAT('stallfront.relay.', DATABASE()), 64) AS n) AS l",
                          NULL, 0, &rows);
    if (rc != DB_OK)
        return rc == DB_NOROW ? DB_ERR : rc;
    int held = !db_rows_isnull(rows, 0) && db_rows_i64(rows, 0) == 1;
    db_rows_free(rows);
    return held;
}

int outbox_processed_add(db_t *db, const char *consumer, int64_t event_id)
{
    db_param_t p[] = {DB_STR(consumer), DB_I64(event_id)};
    return db_exec(db, "INSERT INTO processed (consumer, event_id) VALUES (?, ?)", p, 2, NULL, NULL);
}

int outbox_backlog(db_t *db, int64_t *count, int64_t *oldest_age_ms)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db,
                          "SELECT COUNT(*), COALESCE(TIMESTAMPDIFF(MICROSECOND, MIN(created_at), NOW(3)) DIV 1000, 0)"
                          " FROM outbox WHERE published_at IS NULL",
                          NULL, 0, &rows);
    if (rc == DB_OK) {
        *count = db_rows_i64(rows, 0);
        *oldest_age_ms = db_rows_i64(rows, 1);
    }
    db_rows_free(rows);
    return rc;
}

/* Runs one bounded DELETE whose parameters are (older_than_s, limit). */
static int purge(db_t *db, const char *sql, int64_t older_than_s, size_t limit, size_t *deleted)
{
    uint64_t n = 0;
    if (deleted != NULL)
        *deleted = 0;
    if (older_than_s < 0 || limit == 0 || limit > OUTBOX_PURGE_MAX) {
        snprintf(db->err, sizeof(db->err), "outbox purge: bad age or limit");
        return DB_ERR;
    }
    db_param_t p[] = {DB_I64(older_than_s), DB_I64((int64_t)limit)};
    int rc = db_exec(db, sql, p, 2, &n, NULL);
    if (rc == DB_OK && deleted != NULL)
        *deleted = (size_t)n;
    return rc;
}

int outbox_purge_published(db_t *db, int64_t older_than_s, size_t limit, size_t *deleted)
{
    return purge(db,
                 "DELETE FROM outbox WHERE published_at IS NOT NULL AND published_at < NOW(3) - INTERVAL ? SECOND"
                 " ORDER BY published_at LIMIT ?",
                 older_than_s, limit, deleted);
}

int outbox_processed_purge(db_t *db, int64_t older_than_s, size_t limit, size_t *deleted)
{
    return purge(db, "DELETE FROM processed WHERE processed_at < NOW(3) - INTERVAL ? SECOND LIMIT ?", older_than_s,
                 limit, deleted);
}

typedef struct consume {
    const char *consumer;
    int64_t event_id;
    db_tx_body_t effect;
    void *ctx;
} consume_t;

static sf_status_t consume_tx(db_t *db, void *arg)
{
    consume_t *c = arg;
    sf_status_t rc = (sf_status_t)outbox_processed_add(db, c->consumer, c->event_id);
    return rc == DB_OK ? c->effect(db, c->ctx) : rc;
}

sf_status_t outbox_consume(db_t *db, const char *consumer, int64_t event_id, db_tx_body_t effect, void *ctx)
{
    consume_t c = {consumer, event_id, effect, ctx};
    return db_tx_tries(db, 1, consume_tx, &c);
}
