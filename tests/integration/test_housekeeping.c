/*
 * Integration tests of the housekeeping job (workers/housekeeping.c and the purges of
 * models/outbox.c, models/idempotency.c, models/payment.c) against a real MariaDB and a
 * private redis-server per test (the job trims every stream:* stream, so it must not see
 * other suites' streams): each test works in a scratch database `sf_ith_<pid>_<tag>` with
 * the migrations applied. Old rows are made by writing their timestamps in the past.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "models/payment.h"
#include "models/store/redis.h"
#include "tests/support/testutil.h"
#include "workers/housekeeping.h"
#include "workers/queue.h"

static char run_prefix[48];

/* ---------------------------------------------------------------- fixture */

typedef struct ht {
    config_t cfg;
    db_t db;
    redis_t r;
    pid_t redis_pid;
    int64_t market_id;
} ht_t;

static void set_key(config_t *cfg, const char *key, const char *value)
{
    char err[256];
    ck_assert_msg(config_set(cfg, key, value, err, sizeof err) == 0, "%s", err);
}

static int64_t insert(ht_t *t, const char *sql, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    int rc = db_exec(&t->db, sql, p, n, NULL, &id);
    ck_assert_msg(rc == DB_OK, "`%s`: %s", sql, t->db.err);
    return (int64_t)id;
}

static void ht_open(ht_t *t, const char *tag)
{
    char err[512], port[16];
    memset(t, 0, sizeof(*t));
    db_thread_init();
    t_db_scratch_open(&t->db, &t->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&t->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof err) == 0,
                  "migrate: %s", err);
    int p = t_free_port();
    t->redis_pid = t_redis_start(p, NULL);
    ck_assert_int_gt(t->redis_pid, 0);
    snprintf(port, sizeof port, "%d", p);
    set_key(&t->cfg, "redis.host", "127.0.0.1");
    set_key(&t->cfg, "redis.port", port);
    ck_assert_msg(redis_open(&t->r, &t->cfg) == 0, "redis: %s", t->r.err);
    t->market_id = insert(t,
                          "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules,"
                          " open_hours) VALUES ('hk', '测试市场', '测试路1号', 34.72, 113.62, '410103', '', '[]', '',"
                          " '06:00-18:00')",
                          NULL, 0);
}

static void ht_close(ht_t *t)
{
    redis_close(&t->r);
    t_redis_stop(t->redis_pid);
    t_db_scratch_close(&t->db, &t->cfg);
}

static int64_t q(ht_t *t, const char *sql)
{
    return t_db_i64(&t->db, sql, NULL, 0);
}

static housekeeping_counts_t run_once(ht_t *t)
{
    housekeeping_counts_t c;
    memset(&c, 0xff, sizeof c);
    int rc = housekeeping_once(&t->db, &t->r, &t->cfg, &c);
    ck_assert_msg(rc == 0, "housekeeping_once: %d (%s / %s)", rc, t->db.err, t->r.err);
    return c;
}

/* An outbox row created created_ago_s seconds ago, published published_ago_s ago (< 0: not). */
static int64_t outbox_row(ht_t *t, int64_t created_ago_s, int64_t published_ago_s)
{
    db_param_t p[] = {DB_I64(t->market_id), DB_I64(created_ago_s),
                      published_ago_s < 0 ? DB_NULL : DB_I64(published_ago_s)};
    return insert(t,
                  "INSERT INTO outbox (market_id, topic, payload, created_at, published_at)"
                  " VALUES (?, 'hk.test', '{}', NOW(3) - INTERVAL ? SECOND, NOW(3) - INTERVAL ? SECOND)",
                  p, 3);
}

static int outbox_exists(ht_t *t, int64_t id)
{
    db_param_t p[] = {DB_I64(id)};
    return t_db_i64(&t->db, "SELECT COUNT(*) FROM outbox WHERE id = ?", p, 1) == 1;
}

#define DAY (86400LL)

static redisReply *cmd_ok(ht_t *t, const char *fmt, const char *a, const char *b, const char *c)
{
    redisReply *rep = redis_cmd(&t->r, fmt, a, b, c);
    ck_assert_ptr_nonnull(rep);
    ck_assert_msg(rep->type != REDIS_REPLY_ERROR, "%s: %s", fmt, rep->str);
    return rep;
}

static void cmd(ht_t *t, const char *fmt, const char *a, const char *b, const char *c)
{
    freeReplyObject(cmd_ok(t, fmt, a, b, c));
}

static long long xlen(ht_t *t, const char *key)
{
    redisReply *rep = cmd_ok(t, "XLEN %s", key, NULL, NULL);
    long long n = rep->integer;
    freeReplyObject(rep);
    return n;
}

/* The id of the stream's first entry, into buf ("" when empty). */
static void first_id(ht_t *t, const char *key, char *buf, size_t len)
{
    redisReply *rep = cmd_ok(t, "XRANGE %s - + COUNT 1", key, NULL, NULL);
    snprintf(buf, len, "%s", rep->elements > 0 ? rep->element[0]->element[0]->str : "");
    freeReplyObject(rep);
}

/* ---------------------------------------------------------------- tables */

START_TEST(test_old_published_outbox_rows_go_and_unpublished_ones_stay_however_old)
{
    ht_t t;
    ht_open(&t, "outbox");
    int64_t old_published = outbox_row(&t, 16 * DAY, 15 * DAY);
    int64_t recent_published = outbox_row(&t, 2 * DAY, 1 * DAY);
    int64_t edge_published = outbox_row(&t, 14 * DAY - 60, 14 * DAY - 60); /* just inside the retention */
    int64_t old_unpublished = outbox_row(&t, 400 * DAY, -1);
    int64_t new_unpublished = outbox_row(&t, 0, -1);
    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.outbox, 1);
    ck_assert(!outbox_exists(&t, old_published));
    ck_assert(outbox_exists(&t, recent_published));
    ck_assert(outbox_exists(&t, edge_published));
    ck_assert(outbox_exists(&t, old_unpublished));
    ck_assert(outbox_exists(&t, new_unpublished));
    /* a shorter retention takes the recent one too, still never an unpublished one */
    set_key(&t.cfg, "housekeeping.retention_days", "1");
    c = run_once(&t);
    ck_assert_uint_eq(c.outbox, 2);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM outbox"), 2);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL"), 2);
    ht_close(&t);
}
END_TEST

START_TEST(test_a_run_deletes_at_most_its_batches_and_the_next_run_goes_on)
{
    ht_t t;
    ht_open(&t, "batches");
    const int64_t total = HOUSEKEEPING_BATCH * HOUSEKEEPING_STATEMENTS + 7;
    db_param_t p[] = {DB_I64(t.market_id), DB_I64(total)};
    insert(&t,
           "INSERT INTO outbox (market_id, topic, payload, created_at, published_at)"
           " WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100)"
           " SELECT ?, 'hk.bulk', '{}', NOW(3) - INTERVAL 30 DAY, NOW(3) - INTERVAL 30 DAY FROM n a, n b LIMIT ?",
           p, 2);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM outbox"), total);
    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.outbox, HOUSEKEEPING_BATCH * HOUSEKEEPING_STATEMENTS);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM outbox"), 7);
    c = run_once(&t);
    ck_assert_uint_eq(c.outbox, 7);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM outbox"), 0);
    ht_close(&t);
}
END_TEST

START_TEST(test_old_processed_rows_go_and_recent_ones_stay)
{
    ht_t t;
    ht_open(&t, "processed");
    t_db_script(&t.db, "INSERT INTO processed (consumer, event_id, processed_at) VALUES"
                       " ('refund', 1, NOW(3) - INTERVAL 20 DAY), ('refund', 2, NOW(3) - INTERVAL 15 DAY),"
                       " ('refund', 3, NOW(3) - INTERVAL 13 DAY), ('order-timeout', 1, NOW(3) - INTERVAL 100 DAY),"
                       " ('order-timeout', 2, NOW(3))");
    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.processed, 3);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM processed"), 2);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM processed WHERE consumer = 'refund' AND event_id = 3"), 1);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM processed WHERE consumer = 'order-timeout' AND event_id = 2"), 1);
    ht_close(&t);
}
END_TEST

START_TEST(test_idempotency_keys_older_than_a_day_go_and_younger_ones_stay)
{
    ht_t t;
    ht_open(&t, "idem");
    t_db_script(&t.db, "INSERT INTO idempotency_keys (user_id, idem_key, scope, request_hash, status, response,"
                       " created_at) VALUES"
                       " (1, 'old', 'checkout', REPEAT('a', 64), 201, '{}', NOW(3) - INTERVAL 25 HOUR),"
                       " (1, 'stale-claim', 'checkout', REPEAT('a', 64), NULL, NULL, NOW(3) - INTERVAL 3 DAY),"
                       " (1, 'young', 'checkout', REPEAT('a', 64), 201, '{}', NOW(3) - INTERVAL 23 HOUR),"
                       " (2, 'now', 'payment', REPEAT('b', 64), NULL, NULL, NOW(3))");
    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.idempotency, 2);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM idempotency_keys"), 2);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key IN ('young', 'now')"), 2);
    ht_close(&t);
}
END_TEST

/* ---------------------------------------------------------------- streams */

START_TEST(test_a_stream_is_never_trimmed_past_a_pending_message_while_older_acknowledged_entries_go)
{
    ht_t t;
    char first[64];
    const char *key = "stream:hk.orders";
    ht_open(&t, "trim");
    for (int i = 1; i <= 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d000-0", i);
        cmd(&t, "XADD %s %s event_id 1", key, id, NULL);
    }
    cmd(&t, "XGROUP CREATE %s %s 0", key, "slow", NULL);
    cmd(&t, "XGROUP CREATE %s %s 0", key, "fast", NULL);
    cmd(&t, "XREADGROUP GROUP slow c COUNT 3 STREAMS %s %s", key, ">", NULL); /* 1000, 2000, 3000 */
    cmd(&t, "XACK %s slow %s", key, "1000-0", NULL);
    cmd(&t, "XACK %s slow %s", key, "2000-0", NULL); /* 3000-0 stays pending */
    cmd(&t, "XREADGROUP GROUP fast c COUNT 10 STREAMS %s %s", key, ">", NULL);
    for (int i = 1; i <= 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "%d000-0", i);
        cmd(&t, "XACK %s fast %s", key, id, NULL);
    }
    cmd(&t, "XADD %s * event_id 6", key, NULL, NULL); /* recent, delivered to nobody */
    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.entries, 2);
    ck_assert_uint_eq(c.streams, 1);
    ck_assert_int_eq(xlen(&t, key), 4);
    first_id(&t, key, first, sizeof first);
    ck_assert_str_eq(first, "3000-0"); /* the pending one is still there */
    /* once acknowledged, the slow group's floor is its last-delivered id */
    cmd(&t, "XACK %s slow %s", key, "3000-0", NULL);
    c = run_once(&t);
    ck_assert_uint_eq(c.entries, 0); /* 3000-0 is the last delivered: kept (MINID keeps it) */
    cmd(&t, "XREADGROUP GROUP slow c COUNT 1 STREAMS %s %s", key, ">", NULL); /* 4000-0 pending */
    c = run_once(&t);
    ck_assert_uint_eq(c.entries, 1);
    first_id(&t, key, first, sizeof first);
    ck_assert_str_eq(first, "4000-0");
    ht_close(&t);
}
END_TEST

START_TEST(test_recent_entries_stay_even_when_every_group_acknowledged_them)
{
    ht_t t;
    const char *key = "stream:hk.recent";
    ht_open(&t, "recent");
    cmd(&t, "XADD %s %s event_id 1", key, "1000-0", NULL); /* ancient */
    for (int i = 0; i < 3; i++)
        cmd(&t, "XADD %s * event_id 2", key, NULL, NULL);
    cmd(&t, "XGROUP CREATE %s %s 0", key, "g", NULL);
    redisReply *rep = cmd_ok(&t, "XREADGROUP GROUP g c COUNT 10 STREAMS %s %s", key, ">", NULL);
    const redisReply *entries = rep->element[0]->element[1];
    ck_assert_uint_eq(entries->elements, 4);
    for (size_t i = 0; i < entries->elements; i++)
        cmd(&t, "XACK %s g %s", key, entries->element[i]->element[0]->str, NULL);
    freeReplyObject(rep);
    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.entries, 1); /* only the one older than the retention */
    ck_assert_int_eq(xlen(&t, key), 3);
    ht_close(&t);
}
END_TEST

START_TEST(test_a_stream_without_groups_and_a_group_that_read_nothing_are_left_alone)
{
    ht_t t;
    ht_open(&t, "nogroup");
    cmd(&t, "XADD %s %s event_id 1", "stream:hk.lonely", "1000-0", NULL);
    cmd(&t, "XADD %s %s event_id 2", "stream:hk.lonely", "2000-0", NULL);
    cmd(&t, "XADD %s %s event_id 1", "stream:hk.unread", "1000-0", NULL);
    cmd(&t, "XADD %s %s event_id 2", "stream:hk.unread", "2000-0", NULL);
    cmd(&t, "XGROUP CREATE %s %s 0", "stream:hk.unread", "g", NULL);
    cmd(&t, "XADD %s %s event_id 1", "dlq:hk.lonely:g", "1000-0", NULL); /* dead letters are kept */
    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.entries, 0);
    ck_assert_int_eq(xlen(&t, "stream:hk.lonely"), 2);
    ck_assert_int_eq(xlen(&t, "stream:hk.unread"), 2);
    ck_assert_int_eq(xlen(&t, "dlq:hk.lonely:g"), 1);
    ht_close(&t);
}
END_TEST

/* The consumers of a group as "name:pending,..." (Redis lists them by name) into buf. */
static void consumers_of(ht_t *t, const char *key, const char *group, char *buf, size_t len)
{
    redisReply *rep = cmd_ok(t, "XINFO CONSUMERS %s %s", key, group, NULL);
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < rep->elements && used < len; i++) {
        const redisReply *c = rep->element[i];
        const char *name = "?";
        long long pending = -1;
        for (size_t j = 0; j + 1 < c->elements; j += 2) {
            if (strcmp(c->element[j]->str, "name") == 0)
                name = c->element[j + 1]->str;
            else if (strcmp(c->element[j]->str, "pending") == 0)
                pending = c->element[j + 1]->integer;
        }
        used += (size_t)snprintf(buf + used, len - used, "%s%s:%lld", i > 0 ? "," : "", name, pending);
    }
    freeReplyObject(rep);
}

static housekeeping_counts_t run_idle(ht_t *t, int64_t consumer_idle_ms)
{
    housekeeping_counts_t c;
    memset(&c, 0xff, sizeof c);
    int rc = housekeeping_run(&t->db, &t->r, &t->cfg, consumer_idle_ms, &c);
    ck_assert_msg(rc == 0, "housekeeping_run: %d (%s / %s)", rc, t->db.err, t->r.err);
    return c;
}

START_TEST(test_idle_consumers_without_pending_messages_go_and_busy_or_recent_ones_stay)
{
    ht_t t;
    char list[256];
    const char *key = "stream:hk.consumers";
    ht_open(&t, "consumers");
    cmd(&t, "XADD %s %s event_id 1", key, "1000-0", NULL);
    cmd(&t, "XADD %s %s event_id 2", key, "2000-0", NULL);
    cmd(&t, "XGROUP CREATE %s %s 0", key, "g", NULL);
    cmd(&t, "XGROUP CREATE %s %s $", key, "other", NULL);
    cmd(&t, "XREADGROUP GROUP g holder COUNT 1 STREAMS %s %s", key, ">", NULL); /* 1000-0 pending */
    cmd(&t, "XREADGROUP GROUP g done COUNT 1 STREAMS %s %s", key, ">", NULL);
    cmd(&t, "XACK %s g %s", key, "2000-0", NULL);
    cmd(&t, "XGROUP CREATECONSUMER %s %s %s", key, "other", "old");
    usleep(400 * 1000);
    cmd(&t, "XGROUP CREATECONSUMER %s %s %s", key, "g", "fresh"); /* just now: not idle */
    /* the production threshold is a day: nobody here is that idle */
    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.consumers, 0);
    consumers_of(&t, key, "g", list, sizeof list);
    ck_assert_str_eq(list, "done:0,fresh:0,holder:1");
    consumers_of(&t, key, "other", list, sizeof list);
    ck_assert_str_eq(list, "old:0");
    /* with 200 ms: the idle ones without pending go, the busy one stays however idle */
    c = run_idle(&t, 200);
    ck_assert_uint_eq(c.consumers, 2);
    consumers_of(&t, key, "g", list, sizeof list);
    ck_assert_str_eq(list, "fresh:0,holder:1");
    consumers_of(&t, key, "other", list, sizeof list);
    ck_assert_str_eq(list, "");
    ck_assert_int_eq(xlen(&t, key), 2);
    /* once the reaper claimed its message, the idle one goes too; the claimer stays */
    cmd(&t, "XCLAIM %s g reaper 0 %s", key, "1000-0", NULL);
    usleep(400 * 1000);
    c = run_idle(&t, 200);
    ck_assert_uint_eq(c.consumers, 2); /* holder, and fresh (now idle too) */
    consumers_of(&t, key, "g", list, sizeof list);
    ck_assert_str_eq(list, "reaper:1");
    ht_close(&t);
}
END_TEST

/* ---------------------------------------------------------------- refunds */

/* A cancelled order paid 1000 fen with one refund of 400 requested by payment_refund_tx,
 * its created_at moved age_s into the past; the refund's id, and *payload the payload of
 * the outbox row payment_refund_tx wrote (the caller's), which is then deleted. */
static int64_t stuck_refund(ht_t *t, const char *no, int64_t age_s, json_t **payload)
{
    char trade[40];
    int64_t refund_id = 0;
    db_param_t m[] = {DB_STR(no), DB_I64(t->market_id)};
    int64_t order_id = insert(t,
                              "INSERT INTO orders (order_no, market_id, consumer_id, status, items_fen,"
                              " delivery_fee_fen, payable_fen, paid_fen, address_id, addr_name, addr_phone, addr_text,"
                              " addr_lat, addr_lng, expires_at) VALUES (?, ?, 1, 'cancelled', 1000, 0, 1000, 1000, 1,"
                              " '李四', '13900000000', '测试路2号', 34.7, 113.6, NOW(3))",
                              m, 2);
    snprintf(trade, sizeof trade, "P%s", no);
    db_param_t pp[] = {DB_I64(t->market_id), DB_I64(order_id), DB_STR(trade), DB_STR(trade)};
    int64_t payment_id = insert(t,
                                "INSERT INTO payments (market_id, order_id, provider, out_trade_no, transaction_id,"
                                " amount_fen, status, paid_at) VALUES (?, ?, 'wechat', ?, ?, 1000, 'paid', NOW(3))",
                                pp, 4);
    int64_t before = q(t, "SELECT COALESCE(MAX(id), 0) FROM outbox");
    ck_assert_int_eq(db_begin(&t->db), DB_OK);
    ck_assert_int_eq(payment_refund_tx(&t->db, payment_id, 400, "cancelled", &refund_id), DB_OK);
    ck_assert_int_eq(db_commit(&t->db), DB_OK);
    db_rows_t *rows = NULL;
    db_param_t b[] = {DB_I64(before)};
    ck_assert_int_eq(
        db_query_row(&t->db, "SELECT id, payload FROM outbox WHERE id > ? AND topic = 'refund.requested'", b, 1, &rows),
        DB_OK);
    int64_t row_id = db_rows_i64(rows, 0);
    *payload = json_loads(db_rows_str(rows, 1, NULL), 0, NULL);
    db_rows_free(rows);
    ck_assert_ptr_nonnull(*payload);
    db_param_t d[] = {DB_I64(row_id)};
    ck_assert_int_eq(db_exec(&t->db, "DELETE FROM outbox WHERE id = ?", d, 1, NULL, NULL), DB_OK);
    db_param_t a[] = {DB_I64(age_s), DB_I64(refund_id)};
    ck_assert_int_eq(
        db_exec(&t->db, "UPDATE refunds SET created_at = NOW(3) - INTERVAL ? SECOND WHERE id = ?", a, 2, NULL, NULL),
        DB_OK);
    return refund_id;
}

/* How many refund.requested rows name the refund. */
static int64_t requests_of(ht_t *t, int64_t refund_id)
{
    db_param_t p[] = {DB_I64(refund_id)};
    return t_db_i64(&t->db,
                    "SELECT COUNT(*) FROM outbox WHERE topic = 'refund.requested'"
                    " AND JSON_VALUE(payload, '$.refund_id') = ?",
                    p, 1);
}

START_TEST(test_a_refund_stuck_pending_is_asked_for_again_once_per_run_and_a_younger_one_not)
{
    ht_t t;
    json_t *stuck_payload = NULL, *young_payload = NULL, *settled_payload = NULL;
    ht_open(&t, "refunds");
    int64_t stuck = stuck_refund(&t, "HK0001", 700, &stuck_payload);
    int64_t young = stuck_refund(&t, "HK0002", 100, &young_payload);
    int64_t settled = stuck_refund(&t, "HK0003", 7000, &settled_payload);
    db_param_t s[] = {DB_I64(settled)};
    ck_assert_int_eq(db_exec(&t.db, "UPDATE refunds SET status = 'succeeded' WHERE id = ?", s, 1, NULL, NULL), DB_OK);

    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.refunds, 1);
    ck_assert_int_eq(requests_of(&t, stuck), 1);
    ck_assert_int_eq(requests_of(&t, young), 0);
    ck_assert_int_eq(requests_of(&t, settled), 0);
    /* the same payload payment_refund_tx wrote, unpublished, for the relay */
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(stuck)};
    ck_assert_int_eq(db_query_row(&t.db,
                                  "SELECT payload, market_id, published_at IS NULL FROM outbox"
                                  " WHERE topic = 'refund.requested' AND JSON_VALUE(payload, '$.refund_id') = ?",
                                  p, 1, &rows),
                     DB_OK);
    json_t *again = json_loads(db_rows_str(rows, 0, NULL), 0, NULL);
    ck_assert_msg(json_equal(again, stuck_payload), "payload %s", db_rows_str(rows, 0, NULL));
    ck_assert_int_eq(db_rows_i64(rows, 1), t.market_id);
    ck_assert_int_eq(db_rows_i64(rows, 2), 1);
    db_rows_free(rows);
    json_decref(again);

    /* each run asks once more while it stays pending; nothing else changes */
    c = run_once(&t);
    ck_assert_uint_eq(c.refunds, 1);
    ck_assert_int_eq(requests_of(&t, stuck), 2);
    ck_assert_int_eq(requests_of(&t, young), 0);
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM refunds WHERE status = 'pending'"), 2);
    ck_assert_int_eq(q(&t, "SELECT SUM(refunded_fen) FROM orders"), 1200);
    /* settled: no more */
    ck_assert_int_eq(payment_refund_settle_tx(&t.db, json_string_value(json_object_get(stuck_payload, "out_refund_no")),
                                              "wx-r-1", 1),
                     DB_OK);
    c = run_once(&t);
    ck_assert_uint_eq(c.refunds, 0);
    ck_assert_int_eq(requests_of(&t, stuck), 2);
    json_decref(stuck_payload);
    json_decref(young_payload);
    json_decref(settled_payload);
    ht_close(&t);
}
END_TEST

START_TEST(test_running_twice_in_a_row_is_harmless)
{
    ht_t t;
    const char *key = "stream:hk.twice";
    ht_open(&t, "twice");
    outbox_row(&t, 20 * DAY, 20 * DAY);
    int64_t keep = outbox_row(&t, 0, 0);
    int64_t waiting = outbox_row(&t, 20 * DAY, -1);
    t_db_script(&t.db, "INSERT INTO processed (consumer, event_id, processed_at) VALUES"
                       " ('refund', 1, NOW(3) - INTERVAL 20 DAY), ('refund', 2, NOW(3))");
    cmd(&t, "XADD %s %s event_id 1", key, "1000-0", NULL);
    cmd(&t, "XADD %s %s event_id 2", key, "2000-0", NULL);
    cmd(&t, "XGROUP CREATE %s %s 0", key, "g", NULL);
    cmd(&t, "XREADGROUP GROUP g c COUNT 2 STREAMS %s %s", key, ">", NULL);
    cmd(&t, "XACK %s g %s", key, "1000-0", NULL);
    housekeeping_counts_t c = run_once(&t);
    ck_assert_uint_eq(c.outbox, 1);
    ck_assert_uint_eq(c.processed, 1);
    ck_assert_uint_eq(c.entries, 1);
    c = run_once(&t);
    ck_assert_uint_eq(c.outbox + c.processed + c.idempotency + c.entries + c.streams + c.refunds, 0);
    ck_assert(outbox_exists(&t, keep));
    ck_assert(outbox_exists(&t, waiting));
    ck_assert_int_eq(q(&t, "SELECT COUNT(*) FROM processed"), 1);
    ck_assert_int_eq(xlen(&t, key), 1);
    ht_close(&t);
}
END_TEST

START_TEST(test_with_redis_down_the_tables_are_purged_but_no_refund_is_asked_for)
{
    ht_t t;
    json_t *payload = NULL;
    char port[16];
    ht_open(&t, "noredis");
    int64_t refund = stuck_refund(&t, "HK0009", 7000, &payload);
    outbox_row(&t, 20 * DAY, 20 * DAY);
    redis_close(&t.r);
    snprintf(port, sizeof port, "%d", t_free_port());
    set_key(&t.cfg, "redis.port", port);
    set_key(&t.cfg, "redis.timeout_ms", "300");
    redis_open(&t.r, &t.cfg);
    housekeeping_counts_t c;
    ck_assert_int_eq(housekeeping_once(&t.db, &t.r, &t.cfg, &c), -1);
    ck_assert_uint_eq(c.outbox, 1);
    ck_assert_uint_eq(c.refunds, 0);
    ck_assert_int_eq(requests_of(&t, refund), 0);
    json_decref(payload);
    ht_close(&t);
}
END_TEST

/* ---------------------------------------------------------------- runner */

static Suite *housekeeping_suite(void)
{
    Suite *s = suite_create("housekeeping");
    TCase *tc = tcase_create("housekeeping");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_old_published_outbox_rows_go_and_unpublished_ones_stay_however_old);
    tcase_add_test(tc, test_a_run_deletes_at_most_its_batches_and_the_next_run_goes_on);
    tcase_add_test(tc, test_old_processed_rows_go_and_recent_ones_stay);
    tcase_add_test(tc, test_idempotency_keys_older_than_a_day_go_and_younger_ones_stay);
    tcase_add_test(tc, test_a_stream_is_never_trimmed_past_a_pending_message_while_older_acknowledged_entries_go);
    tcase_add_test(tc, test_recent_entries_stay_even_when_every_group_acknowledged_them);
    tcase_add_test(tc, test_a_stream_without_groups_and_a_group_that_read_nothing_are_left_alone);
    tcase_add_test(tc, test_idle_consumers_without_pending_messages_go_and_busy_or_recent_ones_stay);
    tcase_add_test(tc, test_a_refund_stuck_pending_is_asked_for_again_once_per_run_and_a_younger_one_not);
    tcase_add_test(tc, test_running_twice_in_a_row_is_harmless);
    tcase_add_test(tc, test_with_redis_down_the_tables_are_purged_but_no_refund_is_asked_for);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_housekeeping"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof run_prefix, "sf_ith_%ld", (long)getpid());
    db_library_init();
    int failed = t_run(housekeeping_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
