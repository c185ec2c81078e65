/*
 * The sales change log (see salelog.h and sql/0007_sales.sql).
 *
 * Writing: each change is two statements in the caller's transaction: the change of
 * `sale_lines` (INSERT ... SELECT for a payment, UPDATE for the rest, each giving every line
 * of its scope its next version) and append_versions(), the one INSERT ... SELECT that copies
 * the lines of that same scope into `sale_line_versions`. The scope of the append is exactly
 * the scope the change just wrote (an order's lines, a vendor order's, an order's non-void
 * lines), so every row it copies is a version just made; the unique key (event_id, version)
 * refuses a version appended twice, and the change with it.
 *
 * Locks: under REPEATABLE READ an UPDATE or INSERT ... SELECT reads with next-key locks, and
 * the gap after the last row of a range is where the next order's rows go. So sale lines are
 * reached from their order lines (whose range the change itself already read) by their
 * unique key, never by a range of sale_lines or sale_line_versions: a payment never waits
 * for the payment of another order (tests/models/test_salelog.c holds one open and makes
 * the other give up after 1 s of waiting). A "NOT EXISTS (the version)" probe of
 * sale_line_versions would lock the gap at the end of that index and make every change in
 * every market queue behind the one before it, and two at once deadlock: it is not used.
 *
 * Sequencing: under the lock of `sale_log_head` (FOR UPDATE SKIP LOCKED, the transaction's
 * first statement, which makes no read view; a run that finds it held leaves the work to the
 * holder), a consistent read then sees every version committed
 * before the lock was taken, including the previous run's positions, and none that is not
 * committed, without waiting for any; those get the next positions in id order, each row
 * reached by its primary key. A version committed later is found by a later run and gets a
 * later position.
 *
 * The consumer_ref key is read once per process (a mutex guards it); it never leaves this
 * file and is never logged.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/sqltime.h"
#include "models/product.h"
#include "models/salelog.h"

/* The columns a sale line and its versions share, in one order; and the same read from sl. */
#define SL_COLS                                                                                                        \
    "event_id, market_id, paid_date, version, op, order_id, order_no, vendor_order_id, stall_id, stall_no,"            \
    " vendor_id, product_id, category, commodity_code, name, origin, trace_code, pricing_mode, price_fen, per_g,"      \
    " unit, qty, qty_actual, amount_fen, refunded_fen, consumer_ref, paid_at, ready_at, delivered_at, changed_at"
#define SL_COLS_SL                                                                                                     \
    "sl.event_id, sl.market_id, sl.paid_date, sl.version, sl.op, sl.order_id, sl.order_no, sl.vendor_order_id,"        \
    " sl.stall_id, sl.stall_no, sl.vendor_id, sl.product_id, sl.category, sl.commodity_code, sl.name, sl.origin,"      \
    " sl.trace_code, sl.pricing_mode, sl.price_fen, sl.per_g, sl.unit, sl.qty, sl.qty_actual, sl.amount_fen,"          \
    " sl.refunded_fen, sl.consumer_ref, sl.paid_at, sl.ready_at, sl.delivered_at, sl.changed_at"

/* The sale lines of a scope, found from their order lines (l) and then each by its unique
 * key: sale_lines is never scanned by a secondary index, so a change of one order takes no
 * gap lock there and never holds up the payment of another (whose new rows land in such
 * gaps). The order_lines range the scope reads is the one the change itself already read. */
#define LINES_JOIN "order_lines l STRAIGHT_JOIN sale_lines sl FORCE INDEX (uq_sale_lines_event) ON sl.event_id = l.id"

/* The scopes a change writes, each with one id parameter. */
#define SCOPE_ORDER_SQL        "l.order_id = ?"
#define SCOPE_VENDOR_ORDER_SQL "l.vendor_order_id = ?"
#define SCOPE_ORDER_LIVE_SQL   "l.order_id = ? AND sl.op = 'upsert'"

typedef enum scope { SCOPE_ORDER, SCOPE_VENDOR_ORDER, SCOPE_ORDER_LIVE } scope_t;

/* Appends the current version of every sale line in a scope. */
#define APPEND_SQL(scope)                                                                                              \
    "INSERT INTO sale_line_versions (" SL_COLS ") SELECT " SL_COLS_SL " FROM " LINES_JOIN " WHERE " scope

static const char *const append_sql[] = {
    [SCOPE_ORDER] = APPEND_SQL(SCOPE_ORDER_SQL),
    [SCOPE_VENDOR_ORDER] = APPEND_SQL(SCOPE_VENDOR_ORDER_SQL),
    [SCOPE_ORDER_LIVE] = APPEND_SQL(SCOPE_ORDER_LIVE_SQL),
};

/* Appends the versions the change of the scope just made: exactly `changed` of them (every
 * line of the scope was just given its next version, so each row copied is a new version;
 * the unique key (event_id, version) refuses one appended twice). */
static sf_status_t append_versions(db_t *db, scope_t scope, int64_t id, uint64_t changed)
{
    uint64_t n = 0;
    sf_status_t rc = db_exec(db, append_sql[scope], (db_param_t[]){DB_I64(id)}, 1, &n, NULL);
    if (rc == DB_DUP)
        return SF_E_INTERNAL; /* a version written twice: a broken invariant, not the caller's duplicate */
    if (rc == DB_OK && n != changed) {
        snprintf(db->err, sizeof(db->err), "salelog: %llu versions appended for %llu lines changed",
                 (unsigned long long)n, (unsigned long long)changed);
        return SF_E_INTERNAL;
    }
    return rc;
}

/* ================================================================ consumer_ref */

static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char key_bytes[64];
static size_t key_len;
static int key_loaded;

/* Copies the key into out (read from the database the first time). 0 or -1. */
static int ref_key(db_t *db, unsigned char out[64], size_t *len)
{
    int rc = 0;
    pthread_mutex_lock(&key_mu);
    if (!key_loaded) {
        db_rows_t *rows = NULL;
        size_t n = 0;
        const char *s = NULL;
        rc = db_query_row(db, "SELECT secret FROM server_keys WHERE name = 'consumer_ref'", NULL, 0, &rows) == DB_OK &&
                     (s = db_rows_str(rows, 0, &n)) != NULL && n >= 16 && n <= sizeof(key_bytes)
                 ? 0
                 : -1;
        if (rc == 0) {
            memcpy(key_bytes, s, n);
            key_len = n;
            key_loaded = 1;
        }
        db_rows_free(rows);
    }
    if (rc == 0) {
        memcpy(out, key_bytes, key_len);
        *len = key_len;
    }
    pthread_mutex_unlock(&key_mu);
    return rc;
}

int salelog_consumer_ref(db_t *db, int64_t market_id, int64_t consumer_id, char out[SALELOG_REF_LEN + 1])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char key[64], mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t klen = 0;
    char msg[48];
    out[0] = '\0';
    if (ref_key(db, key, &klen) != 0)
        return -1;
    int len = snprintf(msg, sizeof(msg), "%lld:%lld", (long long)market_id, (long long)consumer_id);
    int ok = HMAC(EVP_sha256(), key, (int)klen, (const unsigned char *)msg, (size_t)len, mac, &maclen) != NULL &&
             maclen >= SALELOG_REF_LEN / 2;
    OPENSSL_cleanse(key, sizeof(key));
    if (!ok)
        return -1;
    for (size_t i = 0; i < SALELOG_REF_LEN / 2; i++) {
        out[2 * i] = hex[mac[i] >> 4];
        out[2 * i + 1] = hex[mac[i] & 15];
    }
    out[SALELOG_REF_LEN] = '\0';
    return 0;
}

/* ================================================================ the changes */

sf_status_t salelog_paid_tx(db_t *db, int64_t order_id, int64_t market_id, int64_t consumer_id)
{
    char ref[SALELOG_REF_LEN + 1];
    uint64_t n = 0;
    if (salelog_consumer_ref(db, market_id, consumer_id, ref) != 0) {
        snprintf(db->err, sizeof(db->err), "salelog: the consumer_ref key could not be read");
        return SF_E_INTERNAL;
    }
    db_param_t p[] = {DB_STR(ref), DB_I64(order_id), DB_I64(market_id)};
    sf_status_t rc = db_exec(
        db,
        "INSERT INTO sale_lines (" SL_COLS ")"
        " SELECT l.id, o.market_id, DATE(o.paid_at + INTERVAL 8 HOUR), 1, 'upsert', o.id, o.order_no, v.id,"
        " v.stall_id, s.stall_no, v.vendor_id, l.product_id, l.category, l.commodity_code, l.name, l.origin,"
        " l.trace_code, l.pricing_mode, l.price_fen, l.per_g, l.unit, l.qty, l.qty_actual, l.amount_fen, 0, ?,"
        " o.paid_at, NULL, NULL, NOW(3)"
        " FROM orders o JOIN order_lines l ON l.order_id = o.id JOIN vendor_orders v ON v.id = l.vendor_order_id"
        " JOIN stalls s ON s.id = v.stall_id WHERE o.id = ? AND o.market_id = ? AND o.paid_at IS NOT NULL",
        p, 3, &n, NULL);
    if (rc == DB_OK && n == 0) {
        snprintf(db->err, sizeof(db->err), "salelog: order %lld has no paid lines", (long long)order_id);
        return SF_E_INTERNAL; /* paid_tx runs after the order became paid, and an order has lines */
    }
    return rc == DB_OK ? append_versions(db, SCOPE_ORDER, order_id, n) : rc;
}

/* The change of a vendor order's lines a move makes, by the status it moved to. */
typedef struct vendor_change {
    const char *to;
    const char *sql;
} vendor_change_t;

/* Every change: the next version, written now. */
#define NEXT_VERSION       " sl.version = sl.version + 1, sl.changed_at = NOW(3)"
#define VENDOR_UPDATE(set) "UPDATE " LINES_JOIN " SET" NEXT_VERSION ", " set " WHERE " SCOPE_VENDOR_ORDER_SQL

static const vendor_change_t vendor_changes[] = {
    /* what was weighed or counted, and what of the line the pick refunded: the amount paid
     * less the amount of what was picked (models/fulfil.c prices each line, stores
     * amount_actual_fen, and refunds the sum of these differences in one refund row) */
    {"picked", VENDOR_UPDATE("sl.qty_actual = l.qty_actual,"
                             " sl.refunded_fen = l.amount_fen - COALESCE(l.amount_actual_fen, l.amount_fen),"
                             /* none of it to hand over (out of stock): its goods never are */
                             " sl.op = IF(l.qty_actual = 0, 'void', sl.op)")},
    {"ready", VENDOR_UPDATE("sl.ready_at = NOW(3)")},
    /* the goods are never handed over: the line is void and refunded in full */
    {"rejected", VENDOR_UPDATE("sl.op = 'void', sl.refunded_fen = sl.amount_fen")},
    {"cancelled", VENDOR_UPDATE("sl.op = 'void', sl.refunded_fen = sl.amount_fen")},
    {NULL, NULL},
};

sf_status_t salelog_vendor_tx(db_t *db, int64_t vendor_order_id, const char *to)
{
    const vendor_change_t *c = vendor_changes;
    uint64_t n = 0;
    while (to != NULL && c->to != NULL && strcmp(c->to, to) != 0)
        c++;
    if (to == NULL || c->to == NULL)
        return DB_OK;
    sf_status_t rc = db_exec(db, c->sql, (db_param_t[]){DB_I64(vendor_order_id)}, 1, &n, NULL);
    if (rc != DB_OK || n == 0)
        return rc; /* none: the vendor order was never paid */
    return append_versions(db, SCOPE_VENDOR_ORDER, vendor_order_id, n);
}

sf_status_t salelog_delivered_tx(db_t *db, int64_t order_id)
{
    uint64_t n = 0;
    /* the delivery's own time, set in this transaction (now when there is none) */
    sf_status_t rc = db_exec(db,
                             "UPDATE " LINES_JOIN " SET" NEXT_VERSION ", sl.delivered_at = COALESCE((SELECT"
                             " d.delivered_at FROM deliveries d WHERE d.order_id = l.order_id), NOW(3))"
                             " WHERE " SCOPE_ORDER_LIVE_SQL,
                             (db_param_t[]){DB_I64(order_id)}, 1, &n, NULL);
    if (rc != DB_OK || n == 0)
        return rc;
    return append_versions(db, SCOPE_ORDER_LIVE, order_id, n);
}

/* ================================================================ the sequencer */

typedef struct seq_work {
    size_t n;
} seq_work_t;

static sf_status_t sequence_tx(db_t *db, void *ctx)
{
    seq_work_t *w = ctx;
    db_rows_t *head = NULL, *rows = NULL;
    json_t *ids = NULL;
    char *text = NULL;
    uint64_t n = 0;
    w->n = 0;
    /* the lock first: it makes no read view, so the read below sees the last run's positions.
     * Held by another run (the job, or another feed request): that run does this work, so
     * this one neither waits nor fails (a feed page serves what is positioned). */
    sf_status_t rc =
        db_query_row(db, "SELECT last_pos FROM sale_log_head WHERE id = 1 FOR UPDATE SKIP LOCKED", NULL, 0, &head);
    if (rc == DB_NOROW)
        rc = DB_OK;
    if (rc != DB_OK || head == NULL)
        goto out;
    int64_t last = db_rows_i64(head, 0);
    /* a consistent read: committed versions only, never waiting for one being written */
    rc = db_query(db, "SELECT id FROM sale_line_versions WHERE pos IS NULL ORDER BY id LIMIT ?",
                  (db_param_t[]){DB_I64(SALELOG_SEQ_BATCH)}, 1, &rows);
    if (rc != DB_OK || rows->nrows == 0)
        goto out;
    if ((ids = json_array()) == NULL)
        rc = DB_ERR;
    while (rc == DB_OK && db_rows_next(rows))
        if (json_array_append_new(ids, json_integer(db_rows_i64(rows, 0))) != 0)
            rc = DB_ERR;
    if (rc == DB_OK && (text = json_dumps(ids, JSON_COMPACT)) == NULL)
        rc = DB_ERR;
    /* from the list to each row by its key: a scan of the table would lock, and wait for,
     * the rows being written */
    if (rc == DB_OK)
        rc = db_exec(db,
                     "UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$', n FOR ORDINALITY)) j"
                     " STRAIGHT_JOIN sale_line_versions v FORCE INDEX (PRIMARY) ON v.id = j.id"
                     " SET v.pos = ? + j.n WHERE v.pos IS NULL",
                     (db_param_t[]){DB_STR(text), DB_I64(last)}, 2, &n, NULL);
    if (rc == DB_OK && n != rows->nrows) {
        snprintf(db->err, sizeof(db->err), "salelog: %llu of %zu versions positioned", (unsigned long long)n,
                 rows->nrows);
        rc = SF_E_INTERNAL; /* only the lock holder positions: a broken invariant */
    }
    if (rc == DB_OK)
        rc = db_exec(db, "UPDATE sale_log_head SET last_pos = ? WHERE id = 1",
                     (db_param_t[]){DB_I64(last + (int64_t)n)}, 1, NULL, NULL);
    if (rc == DB_OK)
        w->n = (size_t)n;
out:
    free(text);
    json_decref(ids);
    db_rows_free(rows);
    db_rows_free(head);
    return rc;
}

sf_status_t salelog_sequence(db_t *db, size_t *n)
{
    seq_work_t w = {0};
    sf_status_t rc = db_tx(db, sequence_tx, &w);
    if (n != NULL)
        *n = rc == DB_OK ? w.n : 0;
    return rc;
}

/* ================================================================ the feed */

/* One version as a feed item, from a row of the feed's query. */
static json_t *feed_item(const db_rows_t *r)
{
    json_t *item = json_pack(
        "{s:I, s:I, s:o, s:o, s:I, s:o, s:I, s:I, s:o, s:o, s:o, s:o, s:o}", "event_id", (json_int_t)db_rows_i64(r, 1),
        "version", (json_int_t)db_rows_i64(r, 2), "op", db_rows_json_str(r, 3), "order_no", db_rows_json_str(r, 4),
        "line_id", (json_int_t)db_rows_i64(r, 1), "stall_no", db_rows_json_str(r, 5), "stall_id",
        (json_int_t)db_rows_i64(r, 6), "vendor_id", (json_int_t)db_rows_i64(r, 7), "commodity_code",
        db_rows_json_str(r, 8), "category", db_rows_json_str(r, 9), "name", db_rows_json_str(r, 10), "origin",
        db_rows_json_str(r, 11), "trace_code", db_rows_json_str(r, 12));
    json_t *more =
        json_pack("{s:o, s:I, s:o, s:I, s:I, s:s, s:o, s:o, s:o, s:o}", "pricing", product_pricing_json(r, 13), "qty",
                  (json_int_t)db_rows_i64(r, 17), "qty_actual", db_rows_json_int(r, 18), "amount_fen",
                  (json_int_t)db_rows_i64(r, 19), "refunded_fen", (json_int_t)db_rows_i64(r, 20), "channel", "online",
                  "consumer_ref", db_rows_json_str(r, 21), "paid_at", db_rows_json_str(r, 22), "ready_at",
                  db_rows_json_str(r, 23), "delivered_at", db_rows_json_str(r, 24));
    if (item == NULL || more == NULL || json_object_update(item, more) != 0) {
        json_decref(item);
        item = NULL;
    }
    json_decref(more);
    return item;
}

sf_status_t salelog_feed(db_t *db, int64_t market_id, int64_t after_pos, size_t limit, json_t **items,
                         int64_t *last_pos, int *more)
{
    db_rows_t *rows = NULL;
    *items = NULL;
    *last_pos = after_pos;
    *more = 0;
    if (after_pos < 0 || limit < 1 || limit > SALELOG_FEED_MAX)
        return SF_E_INVALID;
    if ((*items = json_array()) == NULL)
        return DB_ERR;
    db_param_t p[] = {DB_I64(market_id), DB_I64(after_pos), DB_I64((int64_t)limit)};
    sf_status_t rc = db_query(
        db,
        "SELECT pos, event_id, version, op, order_no, stall_no, stall_id, vendor_id,"
        " commodity_code, category, name, origin, trace_code, pricing_mode, price_fen, per_g,"
        " unit, qty, qty_actual, amount_fen, refunded_fen, consumer_ref, " SQL_AT_0800("paid_at") ", " SQL_AT_0800(
            "ready_at") ", " SQL_AT_0800("delivered_at") " FROM sale_line_versions WHERE market_id = ? AND pos > ? "
                                                         "ORDER BY pos LIMIT ?",
        p, 3, &rows);
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *item = feed_item(rows);
        if (item == NULL || json_array_append_new(*items, item) != 0)
            rc = DB_ERR;
        else
            *last_pos = db_rows_i64(rows, 0);
    }
    if (rc == DB_OK)
        *more = rows->nrows == limit;
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*items);
        *items = NULL;
        *last_pos = after_pos;
    }
    return rc;
}
