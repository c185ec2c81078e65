/*
 * Integration tests of the queue machinery (workers/queue.c, workers/relay.c,
 * models/outbox.c, workers/qstats.c) against a real MariaDB and a real Redis: each test
 * works in a scratch database `sf_itq_<pid>_<tag>` with the migrations applied, and on
 * streams whose topics carry the runner's pid and the test's tag (deleted at the end). The
 * test that deletes the Redis function runs on a private redis-server.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "models/outbox.h"
#include "models/store/redis.h"
#include "tests/support/testutil.h"
#include "workers/qstats.h"
#include "workers/queue.h"
#include "workers/relay.h"

static char run_prefix[48];

/* ---------------------------------------------------------------- fixture */

/* What a test handler does and what it saw. One per test (Check forks each test). */
typedef struct probe {
    queue_result_t first;    /* answer for the first `times` calls */
    int times;               /* -1: always */
    int calls;               /* handler calls */
    int afters;              /* after_commit calls */
    int64_t seen[16];        /* event ids handled, in order */
    int64_t seen_market[16]; /* their market ids */
} probe_t;

typedef struct qt {
    config_t cfg;
    db_t db;
    redis_t r;
    char topic[64], group[64];
    probe_t probe;
    queue_kind_t kind;
} qt_t;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The handler's side effect: effects.n += 1, in the runner's transaction. */
static queue_result_t probe_handle(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload,
                                   void *ctx)
{
    probe_t *p = ctx;
    if (p->calls < 16) {
        p->seen[p->calls] = event_id;
        p->seen_market[p->calls] = market_id;
    }
    p->calls++;
    ck_assert_msg(json_is_object(payload), "payload is an object");
    ck_assert_int_eq(db_exec(db, "UPDATE effects SET n = n + 1 WHERE id = 1", NULL, 0, NULL, NULL), DB_OK);
    if (p->times < 0 || p->calls <= p->times)
        return p->first;
    return QUEUE_DONE;
}

static void probe_after(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload, void *ctx)
{
    ((probe_t *)ctx)->afters++;
}

static void set_key(config_t *cfg, const char *key, const char *value)
{
    char err[256];
    ck_assert_msg(config_set(cfg, key, value, err, sizeof err) == 0, "%s", err);
}

static void qt_open(qt_t *t, const char *tag)
{
    char err[512];
    memset(t, 0, sizeof(*t));
    db_thread_init();
    t_db_scratch_open(&t->db, &t->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&t->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof err) == 0,
                  "migrate: %s", err);
    t_db_script(&t->db, "CREATE TABLE effects (id INT PRIMARY KEY, n INT NOT NULL); INSERT INTO effects VALUES (1, 0)");
    ck_assert_msg(redis_open(&t->r, &t->cfg) == 0, "redis: %s", t->r.err);
    snprintf(t->topic, sizeof t->topic, "t%ld-%s", (long)getpid(), tag);
    snprintf(t->group, sizeof t->group, "g%ld-%s", (long)getpid(), tag);
    t->probe.first = QUEUE_DONE;
    t->probe.times = 0;
    t->kind = (queue_kind_t){
        .group = t->group, .topic = t->topic, .handle = probe_handle, .after_commit = probe_after, .ctx = &t->probe};
}

static void del_keys(qt_t *t)
{
    char s[QUEUE_KEY_MAX], d[QUEUE_KEY_MAX], q[QUEUE_KEY_MAX];
    queue_stream_key(s, sizeof s, t->topic);
    queue_delayed_key(d, sizeof d, t->topic);
    queue_dlq_key(q, sizeof q, t->topic, t->group);
    redisReply *rep = redis_cmd(&t->r, "DEL %s %s %s", s, d, q);
    if (rep != NULL)
        freeReplyObject(rep);
}

static void qt_close(qt_t *t)
{
    del_keys(t);
    redis_close(&t->r);
    t_db_scratch_close(&t->db, &t->cfg);
}

static int64_t effects(qt_t *t)
{
    return t_db_i64(&t->db, "SELECT n FROM effects WHERE id = 1", NULL, 0);
}

/* An outbox row of t's topic, committed. */
static int64_t add_row(qt_t *t, const char *topic, int64_t market_id, int n)
{
    int64_t id = 0;
    json_t *payload = json_pack("{s:i, s:s}", "n", n, "what", "西红柿");
    ck_assert_int_eq(db_begin(&t->db), DB_OK);
    ck_assert_int_eq(outbox_add(&t->db, market_id, topic, payload, &id), DB_OK);
    ck_assert_int_eq(db_commit(&t->db), DB_OK);
    json_decref(payload);
    ck_assert_int_gt(id, 0);
    return id;
}

static long long redis_int(qt_t *t, const char *fmt, const char *a, const char *b)
{
    redisReply *rep = redis_cmd(&t->r, fmt, a, b);
    ck_assert_ptr_nonnull(rep);
    ck_assert_msg(rep->type == REDIS_REPLY_INTEGER, "`%s` %s: %s", fmt, a,
                  rep->type == REDIS_REPLY_ERROR ? rep->str : "");
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

static long long stream_len(qt_t *t, const char *key)
{
    return redis_int(t, "XLEN %s", key, NULL);
}

/* The group's pending count (XPENDING summary). */
static long long pending(qt_t *t)
{
    char key[QUEUE_KEY_MAX];
    queue_stream_key(key, sizeof key, t->topic);
    redisReply *rep = redis_cmd(&t->r, "XPENDING %s %s", key, t->group);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    long long n = rep->element[0]->integer;
    freeReplyObject(rep);
    return n;
}

static long long dead_letters(qt_t *t)
{
    char key[QUEUE_KEY_MAX];
    queue_dlq_key(key, sizeof key, t->topic, t->group);
    return stream_len(t, key);
}

/* The value of field in the dead-letter stream's first entry, copied into buf. */
static const char *dlq_field(qt_t *t, const char *name, char *buf, size_t len)
{
    char key[QUEUE_KEY_MAX];
    queue_dlq_key(key, sizeof key, t->topic, t->group);
    redisReply *rep = redis_cmd(&t->r, "XRANGE %s - + COUNT 1", key);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(rep->elements, 1);
    const redisReply *f = rep->element[0]->element[1];
    buf[0] = '\0';
    for (size_t i = 0; i + 1 < f->elements; i += 2)
        if (strcmp(f->element[i]->str, name) == 0)
            snprintf(buf, len, "%s", f->element[i + 1]->str);
    freeReplyObject(rep);
    return buf;
}

/* XADD as the relay would, for messages that did not come from an outbox row. */
static void xadd(qt_t *t, const char *event_id, const char *payload)
{
    char key[QUEUE_KEY_MAX];
    queue_stream_key(key, sizeof key, t->topic);
    redisReply *rep = redis_cmd(&t->r, "XADD %s * event_id %s market_id 7 payload %s", key, event_id, payload);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
    freeReplyObject(rep);
}

static void consume(qt_t *t, size_t want)
{
    size_t n = 0;
    ck_assert_int_eq(queue_group_ensure(&t->r, t->topic, t->group), 0);
    ck_assert_int_eq(queue_consume_once(&t->db, &t->r, &t->kind, "c1", 100, &n), 0);
    ck_assert_uint_eq(n, want);
}

/* ---------------------------------------------------------------- relay */

START_TEST(test_relay_publishes_in_id_order_and_marks_rows_published)
{
    qt_t t;
    char key[QUEUE_KEY_MAX], other[80];
    size_t n = 0;
    qt_open(&t, "order");
    snprintf(other, sizeof other, "%s.other", t.topic);
    int64_t a = add_row(&t, t.topic, 7, 1);
    int64_t b = add_row(&t, other, 7, 2);
    int64_t c = add_row(&t, t.topic, 8, 3);
    ck_assert_int_eq(relay_publish_batch(&t.db, &t.r, &n), 0);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL", NULL, 0), 0);

    queue_stream_key(key, sizeof key, t.topic);
    ck_assert_int_eq(stream_len(&t, key), 2);
    consume(&t, 2);
    ck_assert_int_eq(t.probe.seen[0], a); /* in id order, with their own market */
    ck_assert_int_eq(t.probe.seen[1], c);
    ck_assert_int_eq(t.probe.seen_market[0], 7);
    ck_assert_int_eq(t.probe.seen_market[1], 8);
    queue_stream_key(key, sizeof key, other);
    redisReply *rep = redis_cmd(&t.r, "XRANGE %s - +", key);
    ck_assert_int_eq(rep->elements, 1);
    char idtext[24];
    snprintf(idtext, sizeof idtext, "%lld", (long long)b);
    ck_assert_str_eq(rep->element[0]->element[1]->element[1]->str, idtext); /* event_id */
    ck_assert_str_eq(rep->element[0]->element[1]->element[5]->str, "{\"n\":2,\"what\":\"西红柿\"}");
    freeReplyObject(rep);

    /* nothing left: a second pass publishes nothing */
    ck_assert_int_eq(relay_publish_batch(&t.db, &t.r, &n), 0);
    ck_assert_uint_eq(n, 0);
    rep = redis_cmd(&t.r, "DEL %s", key);
    freeReplyObject(rep);
    qt_close(&t);
}
END_TEST

/* A session counter of MariaDB (information_schema.SESSION_STATUS, upper-case name). */
static int64_t session_count(qt_t *t, const char *name)
{
    db_rows_t *rows = NULL;
    ck_assert_int_eq(db_query_row(&t->db,
                                  "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
                                  " WHERE VARIABLE_NAME = ?",
                                  (db_param_t[]){DB_STR(name)}, 1, &rows),
                     DB_OK);
    int64_t v = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return v;
}

/* A batch is read in one statement and marked in one (no transaction around it), whatever
 * its size; a row added after the read is not marked. */
START_TEST(test_relay_marks_a_batch_in_one_statement)
{
    qt_t t;
    size_t n = 0;
    qt_open(&t, "order");
    ck_assert_int_eq(relay_publish_batch(&t.db, &t.r, &n), 0); /* whatever was left before */
    for (int i = 0; i < 5; i++)                                /* 5: the IN list is padded to 8 */
        add_row(&t, t.topic, 7, i);
    int64_t b0 = session_count(&t, "COM_BEGIN"), c0 = session_count(&t, "COM_COMMIT");
    int64_t e0 = session_count(&t, "COM_STMT_EXECUTE"), e1 = session_count(&t, "COM_STMT_EXECUTE");
    ck_assert_int_eq(relay_publish_batch(&t.db, &t.r, &n), 0);
    int64_t e2 = session_count(&t, "COM_STMT_EXECUTE");
    ck_assert_uint_eq(n, 5);
    ck_assert_int_eq(e2 - e1 - (e1 - e0), 2); /* the SELECT and the UPDATE */
    ck_assert_int_eq(session_count(&t, "COM_BEGIN") - b0, 0);
    ck_assert_int_eq(session_count(&t, "COM_COMMIT") - c0, 0);
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL", NULL, 0), 0);

    /* marking is by id: a row that is not among the ids stays unpublished */
    int64_t late = add_row(&t, t.topic, 7, 9);
    int64_t early = add_row(&t, t.topic, 7, 10);
    ck_assert_int_eq(outbox_mark_published(&t.db, &early, 1), DB_OK);
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND id = ?",
                              (db_param_t[]){DB_I64(late)}, 1),
                     1);
    ck_assert_int_eq(relay_publish_batch(&t.db, &t.r, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL", NULL, 0), 0);
    qt_close(&t);
}
END_TEST

/* The batch goes in one pipeline: a row Redis refuses (its stream key holds a string) stays
 * unpublished, the rows around it are published and marked, and it goes out once Redis takes it. */
START_TEST(test_a_row_redis_refuses_stays_unpublished_and_the_others_are_marked)
{
    qt_t t;
    char bad[80], key[QUEUE_KEY_MAX];
    size_t n = 9;
    qt_open(&t, "part");
    snprintf(bad, sizeof bad, "%s.bad", t.topic);
    queue_stream_key(key, sizeof key, bad);
    redisReply *rep = redis_cmd(&t.r, "SET %s not-a-stream", key);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    int64_t a = add_row(&t, t.topic, 7, 1);
    int64_t b = add_row(&t, bad, 7, 2);
    int64_t c = add_row(&t, t.topic, 7, 3);
    ck_assert_int_eq(relay_publish_batch(&t.db, &t.r, &n), -1);
    ck_assert_uint_eq(n, 2);
    ck_assert_msg(strstr(t.r.err, "WRONGTYPE") != NULL, "%s", t.r.err);
    const char *unpublished = "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL AND id = ?";
    ck_assert_int_eq(t_db_i64(&t.db, unpublished, (db_param_t[]){DB_I64(a)}, 1), 0);
    ck_assert_int_eq(t_db_i64(&t.db, unpublished, (db_param_t[]){DB_I64(b)}, 1), 1);
    ck_assert_int_eq(t_db_i64(&t.db, unpublished, (db_param_t[]){DB_I64(c)}, 1), 0);
    queue_stream_key(key, sizeof key, t.topic);
    ck_assert_int_eq(stream_len(&t, key), 2);

    queue_stream_key(key, sizeof key, bad);
    rep = redis_cmd(&t.r, "DEL %s", key);
    freeReplyObject(rep);
    ck_assert_int_eq(relay_publish_batch(&t.db, &t.r, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(stream_len(&t, key), 1);
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL", NULL, 0), 0);
    rep = redis_cmd(&t.r, "DEL %s", key);
    freeReplyObject(rep);
    qt_close(&t);
}
END_TEST

START_TEST(test_relay_killed_between_xadd_and_update_republishes_and_the_consumer_skips_the_copy)
{
    qt_t t;
    char key[QUEUE_KEY_MAX], idtext[24];
    size_t n = 0;
    qt_open(&t, "crash");
    int64_t id = add_row(&t, t.topic, 7, 1);
    /* the relay's XADD happened, its UPDATE did not */
    snprintf(idtext, sizeof idtext, "%lld", (long long)id);
    xadd(&t, idtext, "{\"n\":1,\"what\":\"西红柿\"}");
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL", NULL, 0), 1);

    ck_assert_int_eq(relay_publish_batch(&t.db, &t.r, &n), 0); /* the restarted relay */
    ck_assert_uint_eq(n, 1);
    queue_stream_key(key, sizeof key, t.topic);
    ck_assert_int_eq(stream_len(&t, key), 2);

    consume(&t, 2);
    ck_assert_int_eq(t.probe.calls, 1); /* the copy never reached the handler */
    ck_assert_int_eq(t.probe.afters, 1);
    ck_assert_int_eq(effects(&t), 1);
    ck_assert_int_eq(pending(&t), 0); /* both acknowledged */
    db_param_t p[] = {DB_STR(t.group), DB_I64(id)};
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM processed WHERE consumer = ? AND event_id = ?", p, 2), 1);
    qt_close(&t);
}
END_TEST

START_TEST(test_relay_with_redis_down_loses_nothing_and_publishes_once_it_is_back)
{
    qt_t t;
    config_t dead;
    redis_t dr;
    size_t n = 9;
    char err[256], port[16];
    qt_open(&t, "down");
    add_row(&t, t.topic, 7, 1);
    add_row(&t, t.topic, 7, 2);
    t_load_cfg(&dead);
    snprintf(port, sizeof port, "%d", t_free_port());
    set_key(&dead, "redis.port", port);
    set_key(&dead, "redis.timeout_ms", "300");
    redis_open(&dr, &dead);
    ck_assert_int_eq(relay_publish_batch(&t.db, &dr, &n), -1);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL", NULL, 0), 2);
    redis_close(&dr);
    config_free(&dead);
    (void)err;

    ck_assert_int_eq(relay_publish_batch(&t.db, &t.r, &n), 0);
    ck_assert_uint_eq(n, 2);
    consume(&t, 2);
    ck_assert_int_eq(effects(&t), 2);
    qt_close(&t);
}
END_TEST

START_TEST(test_only_one_session_holds_the_relay_lock_until_it_goes_away)
{
    qt_t t;
    db_t other;
    qt_open(&t, "lock");
    ck_assert_int_eq(db_open(&other, &t.cfg), DB_OK);
    ck_assert_int_eq(outbox_relay_lock(&t.db), 1);
    ck_assert_int_eq(outbox_relay_lock(&t.db), 1); /* confirming does not stack */
    ck_assert_int_eq(outbox_relay_lock(&other), 0);
    t_db_script(&t.db, "DO RELEASE_LOCK(LEFT(CONCAT('stallfront.relay.', DATABASE()), 64))");
    ck_assert_int_eq(outbox_relay_lock(&other), 1); /* released after one RELEASE: it was held once */
    ck_assert_int_eq(outbox_relay_lock(&t.db), 0);
    db_close(&other); /* the session ends: the lock goes with it */
    int held = 0;
    for (int i = 0; i < 50 && held != 1; i++, sleep_ms(50))
        held = outbox_relay_lock(&t.db);
    ck_assert_int_eq(held, 1);
    qt_close(&t);
}
END_TEST

/* ---------------------------------------------------------------- consumers */

/* Calls of a command on the Redis server (INFO commandstats), 0 if never called. */
static long long command_calls(qt_t *t, const char *cmd)
{
    char needle[64];
    redisReply *rep = redis_cmd(&t->r, "INFO commandstats");
    ck_assert_ptr_nonnull(rep);
    snprintf(needle, sizeof needle, "cmdstat_%s:calls=", cmd);
    const char *at = strstr(rep->str, needle);
    long long calls = at != NULL ? atoll(at + strlen(needle)) : 0;
    freeReplyObject(rep);
    return calls;
}

/* The messages of one read are acknowledged in one XACK, after their transactions; one the
 * handler asked to retry is not acknowledged and stays pending. */
START_TEST(test_a_read_is_acknowledged_in_one_xack)
{
    qt_t t;
    qt_open(&t, "acks");
    t.probe.first = QUEUE_RETRY;
    t.probe.times = 1;
    xadd(&t, "51", "{\"n\":1}");
    xadd(&t, "52", "{\"n\":2}");
    xadd(&t, "53", "{\"n\":3}");
    xadd(&t, "54", "{\"n\":4}");
    ck_assert_int_eq(queue_group_ensure(&t.r, t.topic, t.group), 0);
    long long x0 = command_calls(&t, "xack");
    consume(&t, 4);
    ck_assert_int_eq(command_calls(&t, "xack") - x0, 1);
    ck_assert_int_eq(t.probe.calls, 4);
    ck_assert_int_eq(effects(&t), 3); /* the retried one rolled back */
    ck_assert_int_eq(pending(&t), 1);
    qt_close(&t);
}
END_TEST

/* A counter of db's own session (information_schema.SESSION_STATUS), the query's own
 * execution included. */
static int64_t own_count(db_t *db, const char *name)
{
    db_rows_t *rows = NULL;
    ck_assert_int_eq(
        db_query_row(db, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = ?",
                     (db_param_t[]){DB_STR(name)}, 1, &rows),
        DB_OK);
    int64_t v = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return v;
}

/* The relay asks for its lock once per session: a poll that holds it is one statement (plus
 * the marking when it published); a session lost and rebuilt (here killed, and the lock taken
 * by another relay meanwhile) publishes nothing until it holds the lock again. */
START_TEST(test_the_relay_asks_for_the_lock_once_per_session)
{
    qt_t t;
    db_t other;
    queue_env_t env;
    atomic_int stop = 0;
    qt_open(&t, "relaylock");
    memset(&env, 0, sizeof(env));
    env.cfg = &t.cfg;
    env.stop = &stop;
    snprintf(env.name, sizeof env.name, "relay");
    ck_assert_int_eq(db_open(&env.db, &t.cfg), DB_OK);
    ck_assert_int_eq(redis_open(&env.redis, &t.cfg), 0);
    ck_assert_int_eq(db_open(&other, &t.cfg), DB_OK);
    const char *unpublished = "SELECT COUNT(*) FROM outbox WHERE published_at IS NULL";

    add_row(&t, t.topic, 7, 1);
    ck_assert_int_ge(relay_step(&env, NULL), 0); /* takes the lock, publishes */
    ck_assert_int_eq(t_db_i64(&t.db, unpublished, NULL, 0), 0);
    add_row(&t, t.topic, 7, 2);
    int64_t e0 = own_count(&env.db, "COM_STMT_EXECUTE"), e1 = own_count(&env.db, "COM_STMT_EXECUTE");
    ck_assert_int_ge(relay_step(&env, NULL), 0);
    int64_t e2 = own_count(&env.db, "COM_STMT_EXECUTE");
    ck_assert_int_eq(e2 - e1 - (e1 - e0), 2); /* the read and the marking, no lock statement */
    ck_assert_int_eq(t_db_i64(&t.db, unpublished, NULL, 0), 0);
    ck_assert_int_eq(relay_step(&env, NULL), RELAY_IDLE_MS);
    int64_t e3 = own_count(&env.db, "COM_STMT_EXECUTE");
    ck_assert_int_eq(e3 - e2 - (e1 - e0), 1); /* an empty poll: the read alone */

    /* the session is killed; another relay takes the lock; a row comes */
    int64_t conn = t_db_i64(&env.db, "SELECT CONNECTION_ID()", NULL, 0);
    char kill[64];
    snprintf(kill, sizeof kill, "KILL CONNECTION %lld", (long long)conn);
    t_db_script(&t.db, kill);
    int held = 0;
    for (int i = 0; i < 50 && held != 1; i++, sleep_ms(50))
        held = outbox_relay_lock(&other);
    ck_assert_int_eq(held, 1);
    add_row(&t, t.topic, 7, 3);
    for (int i = 0; i < 3; i++)
        relay_step(&env, NULL);
    ck_assert_int_eq(t_db_i64(&t.db, unpublished, NULL, 0), 1); /* not this relay's to publish */
    ck_assert_int_eq(env.state, 2);

    db_close(&other); /* the other relay goes: the lock with it */
    for (int i = 0; i < 50 && t_db_i64(&t.db, unpublished, NULL, 0) > 0; i++, sleep_ms(50))
        relay_step(&env, NULL);
    ck_assert_int_eq(t_db_i64(&t.db, unpublished, NULL, 0), 0);
    ck_assert_int_eq(env.state, 1);
    redis_close(&env.redis);
    db_close(&env.db);
    qt_close(&t);
}
END_TEST

START_TEST(test_a_message_processed_twice_changes_nothing_the_second_time)
{
    qt_t t;
    qt_open(&t, "twice");
    xadd(&t, "41", "{\"n\":1}");
    xadd(&t, "41", "{\"n\":1}");
    xadd(&t, "42", "{\"n\":2}");
    consume(&t, 3);
    ck_assert_int_eq(t.probe.calls, 2);
    ck_assert_int_eq(effects(&t), 2);
    json_t *payload = json_pack("{s:i}", "n", 1);
    ck_assert_int_eq(queue_apply(&t.db, &t.r, &t.kind, 41, 7, payload), QUEUE_DONE); /* and the sweep's way */
    json_decref(payload);
    ck_assert_int_eq(t.probe.calls, 2);
    ck_assert_int_eq(t.probe.afters, 2);
    ck_assert_int_eq(effects(&t), 2);
    ck_assert_int_eq(pending(&t), 0);
    qt_close(&t);
}
END_TEST

START_TEST(test_retry_rolls_back_and_the_reaper_delivers_again_after_the_lease)
{
    qt_t t;
    size_t claimed = 9;
    qt_open(&t, "retry");
    t.probe.first = QUEUE_RETRY;
    t.probe.times = 1;
    xadd(&t, "51", "{\"n\":1}");
    consume(&t, 1);
    ck_assert_int_eq(t.probe.calls, 1);
    ck_assert_int_eq(effects(&t), 0); /* rolled back */
    ck_assert_int_eq(pending(&t), 1); /* not acknowledged */
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM processed", NULL, 0), 0);

    /* within the lease nothing is claimed */
    ck_assert_int_eq(queue_reap_once(&t.db, &t.r, &t.kind, "reaper", 400, 5, &claimed), 0);
    ck_assert_uint_eq(claimed, 0);
    ck_assert_int_eq(t.probe.calls, 1);
    sleep_ms(500);
    ck_assert_int_eq(queue_reap_once(&t.db, &t.r, &t.kind, "reaper", 400, 5, &claimed), 0);
    ck_assert_uint_eq(claimed, 1);
    ck_assert_int_eq(t.probe.calls, 2);
    ck_assert_int_eq(effects(&t), 1);
    ck_assert_int_eq(pending(&t), 0);
    ck_assert_int_eq(dead_letters(&t), 0);
    qt_close(&t);
}
END_TEST

START_TEST(test_after_max_deliveries_the_message_is_a_dead_letter_and_acknowledged)
{
    qt_t t;
    char buf[128];
    qt_open(&t, "max");
    t.probe.first = QUEUE_RETRY;
    t.probe.times = -1;
    xadd(&t, "61", "{\"n\":1}");
    consume(&t, 1);
    for (int i = 0; i < 40 && dead_letters(&t) == 0; i++) {
        sleep_ms(120);
        ck_assert_int_eq(queue_reap_once(&t.db, &t.r, &t.kind, "reaper", 100, 3, NULL), 0);
    }
    ck_assert_int_eq(dead_letters(&t), 1);
    ck_assert_int_eq(t.probe.calls, 3); /* three deliveries, then the dead letters */
    ck_assert_int_eq(pending(&t), 0);
    ck_assert_int_eq(effects(&t), 0);
    ck_assert_str_eq(dlq_field(&t, "reason", buf, sizeof buf), "max_deliveries");
    ck_assert_str_eq(dlq_field(&t, "event_id", buf, sizeof buf), "61");
    ck_assert_str_eq(dlq_field(&t, "payload", buf, sizeof buf), "{\"n\":1}");
    ck_assert_str_eq(dlq_field(&t, "deliveries", buf, sizeof buf), "4");
    ck_assert_int_ne(strlen(dlq_field(&t, "original_id", buf, sizeof buf)), 0);
    /* a later reap finds nothing more */
    sleep_ms(120);
    ck_assert_int_eq(queue_reap_once(&t.db, &t.r, &t.kind, "reaper", 100, 3, NULL), 0);
    ck_assert_int_eq(dead_letters(&t), 1);
    qt_close(&t);
}
END_TEST

START_TEST(test_poison_goes_straight_to_the_dead_letters)
{
    qt_t t;
    char buf[128];
    qt_open(&t, "poison");
    t.probe.first = QUEUE_POISON;
    t.probe.times = -1;
    xadd(&t, "71", "{\"n\":1}");
    consume(&t, 1);
    ck_assert_int_eq(t.probe.calls, 1);
    ck_assert_int_eq(dead_letters(&t), 1);
    ck_assert_int_eq(pending(&t), 0);
    ck_assert_int_eq(effects(&t), 0);
    ck_assert_int_eq(t_db_i64(&t.db, "SELECT COUNT(*) FROM processed", NULL, 0), 0);
    ck_assert_int_eq(t.probe.afters, 0);
    ck_assert_str_eq(dlq_field(&t, "reason", buf, sizeof buf), "poison");
    qt_close(&t);
}
END_TEST

START_TEST(test_malformed_messages_go_to_the_dead_letters_without_the_handler)
{
    qt_t t;
    char buf[128];
    qt_open(&t, "malformed");
    xadd(&t, "81", "not json");
    xadd(&t, "x82", "{}");
    xadd(&t, "83", "[1]");
    consume(&t, 3);
    ck_assert_int_eq(t.probe.calls, 0);
    ck_assert_int_eq(dead_letters(&t), 3);
    ck_assert_int_eq(pending(&t), 0);
    ck_assert_str_eq(dlq_field(&t, "reason", buf, sizeof buf), "malformed");
    qt_close(&t);
}
END_TEST

/* ---------------------------------------------------------------- delayed jobs */

START_TEST(test_the_function_moves_only_due_jobs_atomically)
{
    qt_t t;
    char dkey[QUEUE_KEY_MAX], skey[QUEUE_KEY_MAX];
    size_t moved = 9;
    qt_open(&t, "delay");
    queue_delayed_key(dkey, sizeof dkey, t.topic);
    queue_stream_key(skey, sizeof skey, t.topic);
    ck_assert_int_eq(queue_functions_load(&t.r), 0);
    int64_t now = queue_now_ms();
    json_t *p1 = json_pack("{s:i}", "order_id", 91), *p2 = json_pack("{s:i}", "order_id", 92);
    json_t *p3 = json_pack("{s:i}", "order_id", 93);
    ck_assert_int_eq(queue_delay(&t.r, t.topic, 91, 5, p1, now - 1000), 0);
    ck_assert_int_eq(queue_delay(&t.r, t.topic, 91, 5, p1, now - 1000), 0); /* the same job twice is one */
    ck_assert_int_eq(queue_delay(&t.r, t.topic, 92, 6, p2, now), 0);
    ck_assert_int_eq(queue_delay(&t.r, t.topic, 93, 5, p3, now + 60000), 0);
    ck_assert_int_eq(redis_int(&t, "ZCARD %s", dkey, NULL), 3);

    ck_assert_int_eq(queue_move_due(&t.r, t.topic, now, &moved), 0);
    ck_assert_uint_eq(moved, 2);
    ck_assert_int_eq(redis_int(&t, "ZCARD %s", dkey, NULL), 1); /* the later one stays */
    ck_assert_int_eq(stream_len(&t, skey), 2);
    ck_assert_int_eq(queue_move_due(&t.r, t.topic, now, &moved), 0);
    ck_assert_uint_eq(moved, 0);

    consume(&t, 2);
    ck_assert_int_eq(t.probe.calls, 2);
    ck_assert_int_eq(t.probe.seen[0], 91);
    ck_assert_int_eq(t.probe.seen_market[0], 5);
    ck_assert_int_eq(t.probe.seen[1], 92);
    ck_assert_int_eq(t.probe.seen_market[1], 6);

    ck_assert_int_eq(queue_move_due(&t.r, t.topic, now + 60000, &moved), 0);
    ck_assert_uint_eq(moved, 1);
    ck_assert_int_eq(redis_int(&t, "ZCARD %s", dkey, NULL), 0);
    json_decref(p1);
    json_decref(p2);
    json_decref(p3);
    qt_close(&t);
}
END_TEST

START_TEST(test_the_function_is_loaded_again_after_redis_lost_it)
{
    config_t cfg;
    redis_t r;
    char port[16];
    size_t moved = 0;
    int p = t_free_port();
    pid_t pid = t_redis_start(p, NULL);
    ck_assert_int_gt(pid, 0);
    t_load_cfg(&cfg);
    snprintf(port, sizeof port, "%d", p);
    set_key(&cfg, "redis.host", "127.0.0.1");
    set_key(&cfg, "redis.port", port);
    ck_assert_int_eq(redis_open(&r, &cfg), 0);
    json_t *job = json_pack("{s:i}", "order_id", 1);
    ck_assert_int_eq(queue_delay(&r, "fresh", 1, 1, job, 1), 0);
    json_decref(job);
    /* a fresh Redis has no library: the first call loads it and still moves the job */
    ck_assert_int_eq(queue_move_due(&r, "fresh", queue_now_ms(), &moved), 0);
    ck_assert_uint_eq(moved, 1);
    redisReply *rep = redis_cmd(&r, "XLEN stream:fresh");
    ck_assert_int_eq(rep->integer, 1);
    freeReplyObject(rep);
    redis_close(&r);
    config_free(&cfg);
    t_redis_stop(pid);
}
END_TEST

/* ---------------------------------------------------------------- metrics */

START_TEST(test_qstats_shows_lag_pending_and_dead_letters_per_group)
{
    qt_t t;
    char want[256];
    size_t len = 0;
    qt_open(&t, "stats");
    t.probe.first = QUEUE_POISON;
    t.probe.times = 1;
    ck_assert_int_eq(queue_group_ensure(&t.r, t.topic, t.group), 0);
    xadd(&t, "1", "{}");
    xadd(&t, "2", "{}");
    ck_assert_int_eq(queue_consume_once(&t.db, &t.r, &t.kind, "c1", 100, NULL), 0); /* 1 poison, 2 done */
    xadd(&t, "3", "{}");                                                            /* delivered to nobody yet */
    xadd(&t, "4", "{}");
    char key[QUEUE_KEY_MAX];
    queue_stream_key(key, sizeof key, t.topic);
    redisReply *rep = redis_cmd(&t.r, "XREADGROUP GROUP %s c2 COUNT 1 STREAMS %s >", t.group, key); /* 3 pending */
    freeReplyObject(rep);

    char *text = qstats_render(&t.r, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_uint_eq(strlen(text), len);
    ck_assert_ptr_nonnull(strstr(text, "# TYPE stallfront_queue_lag gauge\n"));
    snprintf(want, sizeof want, "stallfront_queue_lag{topic=\"%s\",group=\"%s\"} 1\n", t.topic, t.group);
    ck_assert_msg(strstr(text, want) != NULL, "missing %s in\n%s", want, text);
    snprintf(want, sizeof want, "stallfront_queue_pending{topic=\"%s\",group=\"%s\"} 1\n", t.topic, t.group);
    ck_assert_msg(strstr(text, want) != NULL, "missing %s", want);
    snprintf(want, sizeof want, "stallfront_queue_dead_letters{topic=\"%s\",group=\"%s\"} 1\n", t.topic, t.group);
    ck_assert_msg(strstr(text, want) != NULL, "missing %s", want);
    free(text);
    qt_close(&t);
}
END_TEST

/* Redis 7.0's own lag comes from the group's entries-read, which a restart from the
 * append-only file can leave wrong for good (the dev stack showed 21199 on a group that had
 * read everything); made wrong here with SETID ... ENTRIESREAD 0. The metric counts what is
 * really after the group's last-delivered-id. */
START_TEST(test_qstats_lag_is_what_follows_the_last_delivered_entry)
{
    qt_t t;
    char want[256], key[QUEUE_KEY_MAX];
    size_t len = 0;
    qt_open(&t, "lagskew");
    ck_assert_int_eq(queue_group_ensure(&t.r, t.topic, t.group), 0);
    for (int i = 1; i <= 3; i++) {
        char id[8];
        snprintf(id, sizeof id, "%d", i);
        xadd(&t, id, "{}");
    }
    ck_assert_int_eq(queue_consume_once(&t.db, &t.r, &t.kind, "c1", 100, NULL), 0); /* all 3 done */
    queue_stream_key(key, sizeof key, t.topic);
    redisReply *rep = redis_cmd(&t.r, "XGROUP SETID %s %s $ ENTRIESREAD 0", key, t.group);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    rep = redis_cmd(&t.r, "XINFO GROUPS %s", key); /* Redis itself now says 3 */
    ck_assert_int_eq(rep->element[0]->element[11]->integer, 3);
    freeReplyObject(rep);

    char *text = qstats_render(&t.r, &len);
    snprintf(want, sizeof want, "stallfront_queue_lag{topic=\"%s\",group=\"%s\"} 0\n", t.topic, t.group);
    ck_assert_msg(text != NULL && strstr(text, want) != NULL, "missing %s in\n%s", want, text);
    free(text);
    xadd(&t, "4", "{}");
    xadd(&t, "5", "{}");
    text = qstats_render(&t.r, &len);
    snprintf(want, sizeof want, "stallfront_queue_lag{topic=\"%s\",group=\"%s\"} 2\n", t.topic, t.group);
    ck_assert_msg(text != NULL && strstr(text, want) != NULL, "missing %s in\n%s", want, text);
    free(text);
    qt_close(&t);
}
END_TEST

START_TEST(test_qstats_without_redis_is_null)
{
    config_t cfg;
    redis_t r;
    char port[16];
    size_t len = 5;
    t_load_cfg(&cfg);
    snprintf(port, sizeof port, "%d", t_free_port());
    set_key(&cfg, "redis.port", port);
    redis_open(&r, &cfg);
    ck_assert_ptr_null(qstats_render(&r, &len));
    ck_assert_uint_eq(len, 0);
    redis_close(&r);
    config_free(&cfg);
}
END_TEST

/* ---------------------------------------------------------------- runner */

static Suite *queue_suite(void)
{
    Suite *s = suite_create("queue");
    TCase *tc = tcase_create("queue");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_relay_publishes_in_id_order_and_marks_rows_published);
    tcase_add_test(tc, test_relay_marks_a_batch_in_one_statement);
    tcase_add_test(tc, test_a_row_redis_refuses_stays_unpublished_and_the_others_are_marked);
    tcase_add_test(tc, test_relay_killed_between_xadd_and_update_republishes_and_the_consumer_skips_the_copy);
    tcase_add_test(tc, test_relay_with_redis_down_loses_nothing_and_publishes_once_it_is_back);
    tcase_add_test(tc, test_only_one_session_holds_the_relay_lock_until_it_goes_away);
    tcase_add_test(tc, test_a_message_processed_twice_changes_nothing_the_second_time);
    tcase_add_test(tc, test_a_read_is_acknowledged_in_one_xack);
    tcase_add_test(tc, test_the_relay_asks_for_the_lock_once_per_session);
    tcase_add_test(tc, test_retry_rolls_back_and_the_reaper_delivers_again_after_the_lease);
    tcase_add_test(tc, test_after_max_deliveries_the_message_is_a_dead_letter_and_acknowledged);
    tcase_add_test(tc, test_poison_goes_straight_to_the_dead_letters);
    tcase_add_test(tc, test_malformed_messages_go_to_the_dead_letters_without_the_handler);
    tcase_add_test(tc, test_the_function_moves_only_due_jobs_atomically);
    tcase_add_test(tc, test_the_function_is_loaded_again_after_redis_lost_it);
    tcase_add_test(tc, test_qstats_shows_lag_pending_and_dead_letters_per_group);
    tcase_add_test(tc, test_qstats_lag_is_what_follows_the_last_delivered_entry);
    tcase_add_test(tc, test_qstats_without_redis_is_null);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    static const char *const redis_env[] = {"STALLFRONT_REDIS_HOST", "STALLFRONT_REDIS_PORT", NULL};
    if (!t_env_present(t_db_env, "test_queue") || !t_env_present(redis_env, "test_queue"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof run_prefix, "sf_itq_%ld", (long)getpid());
    db_library_init();
    int failed = t_run(queue_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
