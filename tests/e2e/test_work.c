/*
 * End-to-end tests of `stallfront work`: the real binary, started and killed by the tests,
 * against a scratch MariaDB database `sf_e2ework_<pid>` (migrated; the whole run uses it,
 * so no other suite's outbox is relayed) and a private redis-server per test (so a test may
 * stop and restart it). Orders are made by the checkout model itself (order_checkout, the
 * transaction POST /v1/orders runs), with a short unpaid timeout; the tests then watch the
 * database.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "models/order.h"
#include "models/user.h"
#include "models/store/redis.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

/* ---------------------------------------------------------------- fixture */

typedef struct shop {
    config_t cfg;
    db_t db;
    pid_t redis_pid;
    int redis_port;
    char redis_env[48];
    const char *env[8]; /* for t_work_start */
    int64_t market_id, vendor_id, stall_id, product_id, consumer_id, address_id;
} shop_t;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static int64_t insert(shop_t *s, const char *sql, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    int rc = db_exec(&s->db, sql, p, n, NULL, &id);
    ck_assert_msg(rc == DB_OK, "`%s`: %s", sql, s->db.err);
    return (int64_t)id;
}

/* A market with one vendor at one stall selling one count-priced product (stock 10), a
 * consumer with an address next to the market, and a private Redis for `work`. */
static void shop_open(shop_t *s)
{
    t_market_t m;
    char openid[64];
    memset(s, 0, sizeof(*s));
    t_migrate();
    t_fixture_market(&m);
    s->market_id = m.market_id;
    t_load_cfg(&s->cfg);
    db_thread_init();
    ck_assert_msg(db_open(&s->db, &s->cfg) == DB_OK, "db: %s", s->db.err);
    db_param_t mk[] = {DB_I64(s->market_id)};
    s->vendor_id = insert(s,
                          "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                          " VALUES (?, '王记蔬菜', '13800000000', '蔬菜零售', 'A')",
                          mk, 1);
    db_param_t st[] = {DB_I64(s->market_id), DB_I64(s->vendor_id)};
    s->stall_id = insert(
        s, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, 'A-01', 'A', 1, 1, ?)",
        st, 2);
    db_param_t pr[] = {DB_I64(s->market_id), DB_I64(s->stall_id), DB_I64(s->vendor_id)};
    s->product_id = insert(s,
                           "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                           " pricing_mode, price_fen, unit, stock) VALUES (?, ?, ?, 'veg-leafy', 'A010101', '小白菜',"
                           " 'count', 300, '把', 10)",
                           pr, 3);
    snprintf(openid, sizeof openid, "owork-%ld-%lld", (long)getpid(), (long long)s->market_id);
    user_new_t u = {.role = "consumer", .wechat_openid = openid, .display_name = "顾客"};
    ck_assert_int_eq(user_create(&s->db, &u, &s->consumer_id), DB_OK);
    db_param_t ad[] = {DB_I64(s->consumer_id)};
    s->address_id = insert(s,
                           "INSERT INTO addresses (user_id, name, phone, text, lat, lng)"
                           " VALUES (?, '李四', '13900000000', '郑州市二七区测试路2号', 34.725000, 113.626000)",
                           ad, 1);
    s->redis_port = t_free_port();
    s->redis_pid = t_redis_start(s->redis_port, NULL);
    ck_assert_int_gt(s->redis_pid, 0);
    snprintf(s->redis_env, sizeof s->redis_env, "STALLFRONT_REDIS_PORT=%d", s->redis_port);
    const char *env[] = {"STALLFRONT_REDIS_HOST=127.0.0.1",
                         s->redis_env,
                         "STALLFRONT_ORDER_SWEEP_INTERVAL_S=1",
                         "STALLFRONT_QUEUE_LEASE_MS=1000",
                         "STALLFRONT_ORDER_UNPAID_TIMEOUT_S=2",
                         "STALLFRONT_REDIS_TIMEOUT_MS=2000",
                         NULL};
    memcpy(s->env, env, sizeof(env));
}

static void shop_close(shop_t *s)
{
    t_redis_stop(s->redis_pid);
    db_close(&s->db);
    config_free(&s->cfg);
    db_thread_end();
}

/* Checks out qty of the product with this unpaid timeout; the order id. */
static int64_t checkout(shop_t *s, int64_t qty, int64_t timeout_s)
{
    cart_line_t line = {.product_id = s->product_id, .qty = qty};
    order_checkout_t in = {.user_id = s->consumer_id,
                           .market_id = s->market_id,
                           .address_id = s->address_id,
                           .lines = &line,
                           .nlines = 1,
                           .delivery_fee_fen = 500,
                           .free_delivery_from_fen = 5000,
                           .radius_m = 10000,
                           .unpaid_timeout_s = timeout_s};
    int64_t id = 0;
    status_detail_t details = {0};
    int rc = order_checkout(&s->db, &in, &id, &details);
    ck_assert_msg(rc == DB_OK, "checkout: %d %s", rc, s->db.err);
    status_detail_clear(&details);
    return id;
}

static int64_t q1(shop_t *s, const char *sql, int64_t id)
{
    db_param_t p[] = {DB_I64(id)};
    return t_db_i64(&s->db, sql, p, 1);
}

static int64_t stock(shop_t *s)
{
    return q1(s, "SELECT stock FROM products WHERE id = ?", s->product_id);
}

static int is_cancelled(shop_t *s, int64_t order_id)
{
    return q1(s, "SELECT status = 'cancelled' FROM orders WHERE id = ?", order_id) == 1;
}

/* Waits up to ms for the order to be cancelled; 1 if it was. */
static int wait_cancelled(shop_t *s, int64_t order_id, int ms)
{
    uint64_t end = now_ms() + (uint64_t)ms;
    while (!is_cancelled(s, order_id) && now_ms() < end)
        sleep_ms(100);
    return is_cancelled(s, order_id);
}

static int64_t created_unpublished(shop_t *s, int64_t order_id)
{
    return q1(s,
              "SELECT COUNT(*) FROM outbox WHERE topic = 'order.created' AND published_at IS NULL"
              " AND JSON_VALUE(payload, '$.order_id') = ?",
              order_id);
}

/* The order was cancelled by the timeout once: one event, one processed row, stock back. */
static void assert_cancelled_once(shop_t *s, int64_t order_id)
{
    ck_assert_int_eq(stock(s), 10);
    ck_assert_int_eq(q1(s,
                        "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND vendor_order_id IS NULL"
                        " AND to_status = 'cancelled' AND actor = 'system:timeout'",
                        order_id),
                     1);
    ck_assert_int_eq(
        q1(s, "SELECT COUNT(*) FROM processed WHERE consumer = 'order-timeout' AND event_id = ?", order_id), 1);
    ck_assert_int_eq(q1(s, "SELECT cancelled_at >= expires_at FROM orders WHERE id = ?", order_id), 1);
    ck_assert_int_eq(q1(s, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status <> 'cancelled'", order_id),
                     0);
}

static int count_lines(const char *path, const char *text)
{
    char line[2048];
    int n = 0;
    FILE *f = fopen(path, "r");
    while (f != NULL && fgets(line, sizeof line, f) != NULL)
        n += strstr(line, text) != NULL;
    if (f != NULL)
        fclose(f);
    return n;
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_an_unpaid_order_is_cancelled_at_its_deadline_and_its_stock_comes_back_once)
{
    shop_t s;
    twork_t w;
    shop_open(&s);
    ck_assert_int_eq(t_work_start(&w, s.env, NULL), 0);
    int64_t order_id = checkout(&s, 3, 2);
    ck_assert_int_eq(stock(&s), 7);
    sleep_ms(1000);
    ck_assert_msg(!is_cancelled(&s, order_id), "cancelled before its deadline");
    ck_assert_int_eq(created_unpublished(&s, order_id), 0); /* the relay published it */
    ck_assert_msg(wait_cancelled(&s, order_id, 15000), "not cancelled 16 s after a 2 s deadline (log %s)", w.log_path);
    assert_cancelled_once(&s, order_id);
    sleep_ms(2500); /* two more sweeps and reaps: nothing moves again */
    assert_cancelled_once(&s, order_id);
    ck_assert_int_eq(t_work_stop(&w, SIGTERM), 0);
    shop_close(&s);
}
END_TEST

START_TEST(test_an_order_committed_while_work_was_killed_is_published_and_handled_after_restart)
{
    shop_t s;
    twork_t w;
    shop_open(&s);
    ck_assert_int_eq(t_work_start(&w, s.env, NULL), 0);
    ck_assert_int_eq(t_work_stop(&w, SIGKILL), 128 + SIGKILL);
    int64_t order_id = checkout(&s, 4, 2); /* committed; nobody publishes */
    sleep_ms(500);
    ck_assert_int_eq(created_unpublished(&s, order_id), 1);
    ck_assert_int_eq(stock(&s), 6);

    ck_assert_int_eq(t_work_start(&w, s.env, NULL), 0);
    ck_assert_msg(wait_cancelled(&s, order_id, 15000), "not cancelled (log %s)", w.log_path);
    ck_assert_int_eq(created_unpublished(&s, order_id), 0);
    assert_cancelled_once(&s, order_id);
    ck_assert_int_eq(t_work_stop(&w, SIGTERM), 0);
    shop_close(&s);
}
END_TEST

START_TEST(test_work_that_was_down_at_the_deadline_cancels_the_order_when_it_starts)
{
    shop_t s;
    twork_t w;
    shop_open(&s);
    int64_t order_id = checkout(&s, 2, 1);
    sleep_ms(2000); /* past the deadline, nobody running */
    ck_assert(!is_cancelled(&s, order_id));
    ck_assert_int_eq(t_work_start(&w, s.env, NULL), 0);
    ck_assert_msg(wait_cancelled(&s, order_id, 10000), "not cancelled (log %s)", w.log_path);
    assert_cancelled_once(&s, order_id);
    ck_assert_int_eq(t_work_stop(&w, SIGTERM), 0);
    shop_close(&s);
}
END_TEST

START_TEST(test_the_sweep_alone_cancels_an_overdue_order_and_the_queue_then_changes_nothing)
{
    shop_t s;
    twork_t w;
    const char *only[] = {"--only", "sweep", NULL};
    shop_open(&s);
    int64_t order_id = checkout(&s, 5, 1);
    db_param_t p[] = {DB_I64(order_id)};
    ck_assert_int_eq(
        db_exec(&s.db, "UPDATE orders SET expires_at = NOW(3) - INTERVAL 30 SECOND WHERE id = ?", p, 1, NULL, NULL),
        DB_OK);
    ck_assert_int_eq(t_work_start(&w, s.env, only), 0);
    ck_assert_msg(wait_cancelled(&s, order_id, 10000), "the sweep did not cancel (log %s)", w.log_path);
    ck_assert_int_eq(created_unpublished(&s, order_id), 1); /* only the sweep ran */
    assert_cancelled_once(&s, order_id);
    ck_assert_int_eq(t_work_stop(&w, SIGTERM), 0);
    ck_assert(t_work_logged(&w, "work: running sweep ("));

    /* now everything: order.created goes through the queue, the job finds it processed */
    ck_assert_int_eq(t_work_start(&w, s.env, NULL), 0);
    uint64_t end = now_ms() + 10000;
    while (created_unpublished(&s, order_id) != 0 && now_ms() < end)
        sleep_ms(100);
    ck_assert_int_eq(created_unpublished(&s, order_id), 0);
    config_t rc;
    redis_t r;
    char port[16];
    t_load_cfg(&rc);
    snprintf(port, sizeof port, "%d", s.redis_port);
    char err[128];
    ck_assert_int_eq(config_set(&rc, "redis.port", port, err, sizeof err), 0);
    ck_assert_int_eq(config_set(&rc, "redis.host", "127.0.0.1", err, sizeof err), 0);
    ck_assert_int_eq(redis_open(&r, &rc), 0);
    /* the scheduler puts the job in the delayed set (no transaction of its own), the mover
     * moves it, already due, to its stream */
    redisReply *rep = NULL;
    end = now_ms() + 10000;
    for (;;) {
        rep = redis_cmd(&r, "XLEN stream:order.timeout");
        ck_assert_ptr_nonnull(rep);
        if (rep->integer > 0 || now_ms() >= end)
            break;
        freeReplyObject(rep);
        sleep_ms(100);
    }
    ck_assert_int_eq(rep->integer, 1); /* the job was delivered ... */
    freeReplyObject(rep);
    sleep_ms(1500); /* the order-timeout consumer has had its turn */
    assert_cancelled_once(&s, order_id);
    rep = redis_cmd(&r, "XPENDING stream:order.timeout order-timeout");
    ck_assert_int_eq(rep->element[0]->integer, 0); /* ... and acknowledged as done */
    freeReplyObject(rep);
    redis_close(&r);
    config_free(&rc);
    ck_assert_int_eq(t_work_stop(&w, SIGTERM), 0);
    shop_close(&s);
}
END_TEST

START_TEST(test_work_rides_out_a_redis_restart_and_loads_its_function_again)
{
    shop_t s;
    twork_t w;
    shop_open(&s);
    ck_assert_int_eq(t_work_start(&w, s.env, NULL), 0);
    t_redis_stop(s.redis_pid); /* Redis goes away; its data with it */
    int64_t order_id = checkout(&s, 1, 2);
    sleep_ms(2500);
    ck_assert_int_eq(created_unpublished(&s, order_id), 1); /* waits in MariaDB */
    s.redis_pid = t_redis_start(s.redis_port, NULL);
    ck_assert_int_gt(s.redis_pid, 0);
    ck_assert_msg(wait_cancelled(&s, order_id, 20000), "not cancelled after Redis came back (log %s)", w.log_path);
    assert_cancelled_once(&s, order_id);
    ck_assert_int_eq(t_work_stop(&w, SIGTERM), 0);
    /* one line when the outage began (per job), one when it ended; not one per try */
    ck_assert_int_eq(count_lines(w.log_path, "work: relay: Redis failed"), 1);
    ck_assert_int_eq(count_lines(w.log_path, "work: relay: recovered"), 1);
    ck_assert_int_ge(count_lines(w.log_path, "loading them again"), 1);
    shop_close(&s);
}
END_TEST

START_TEST(test_sigterm_and_sigint_stop_work_with_exit_0_within_seconds)
{
    shop_t s;
    twork_t w;
    shop_open(&s);
    int sigs[] = {SIGTERM, SIGINT};
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(t_work_start(&w, s.env, NULL), 0);
        uint64_t t0 = now_ms();
        ck_assert_int_eq(t_work_stop(&w, sigs[i]), 0);
        ck_assert_msg(now_ms() - t0 < 5000, "stopping took %llu ms", (unsigned long long)(now_ms() - t0));
        ck_assert(t_work_logged(&w, "work: stopped cleanly"));
    }
    shop_close(&s);
}
END_TEST

/* CPU ticks (user + system) the process has used so far. */
static long cpu_ticks(pid_t pid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof path, "/proc/%d/stat", (int)pid);
    FILE *f = fopen(path, "r");
    size_t n = f != NULL ? fread(buf, 1, sizeof buf - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    const char *p = strrchr(buf, ')'); /* fields after the command name */
    long utime = 0, stime = 0;
    ck_assert_ptr_nonnull(p);
    ck_assert_int_eq(sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %ld %ld", &utime, &stime), 2);
    return utime + stime;
}

START_TEST(test_work_without_mariadb_waits_quietly_and_still_stops_cleanly)
{
    shop_t s;
    twork_t w;
    char dbport[48];
    shop_open(&s);
    snprintf(dbport, sizeof dbport, "STALLFRONT_DB_PORT=%d", t_free_port());
    const char *env[] = {s.env[0], s.env[1], s.env[2], s.env[3], dbport, NULL};
    ck_assert_int_eq(t_work_start(&w, env, NULL), 0);
    long t0 = cpu_ticks(w.pid);
    sleep_ms(4000);
    long used = cpu_ticks(w.pid) - t0;
    ck_assert_msg(used < 100, "work used %ld CPU ticks in 4 s without MariaDB: spinning", used);
    ck_assert_int_eq(count_lines(w.log_path, "work: relay: MariaDB failed"), 1); /* once, not per try */
    ck_assert_int_eq(count_lines(w.log_path, "work: sweep: MariaDB failed"), 1);
    uint64_t t1 = now_ms();
    ck_assert_int_eq(t_work_stop(&w, SIGTERM), 0);
    ck_assert_msg(now_ms() - t1 < 5000, "stopping took %llu ms", (unsigned long long)(now_ms() - t1));
    shop_close(&s);
}
END_TEST

START_TEST(test_work_only_housekeeping_purges_old_published_rows_and_stops_cleanly)
{
    shop_t s;
    twork_t w;
    const char *only[] = {"--only", "housekeeping", NULL};
    shop_open(&s);
    db_param_t m[] = {DB_I64(s.market_id)};
    int64_t old = insert(&s,
                         "INSERT INTO outbox (market_id, topic, payload, created_at, published_at)"
                         " VALUES (?, 'hk.e2e', '{}', NOW(3) - INTERVAL 30 DAY, NOW(3) - INTERVAL 30 DAY)",
                         m, 1);
    int64_t waiting = insert(&s,
                             "INSERT INTO outbox (market_id, topic, payload, created_at)"
                             " VALUES (?, 'hk.e2e', '{}', NOW(3) - INTERVAL 30 DAY)",
                             m, 1);
    ck_assert_int_eq(t_work_start(&w, s.env, only), 0);
    uint64_t end = now_ms() + 5000;
    while (q1(&s, "SELECT COUNT(*) FROM outbox WHERE id = ?", old) == 1 && now_ms() < end)
        sleep_ms(100);
    ck_assert_int_eq(q1(&s, "SELECT COUNT(*) FROM outbox WHERE id = ?", old), 0);
    ck_assert_int_eq(q1(&s, "SELECT COUNT(*) FROM outbox WHERE id = ?", waiting), 1); /* only housekeeping ran */
    ck_assert_int_eq(t_work_stop(&w, SIGTERM), 0);
    ck_assert(t_work_logged(&w, "work: running housekeeping"));
    ck_assert(t_work_logged(&w, "work: housekeeping: deleted"));
    ck_assert(t_work_logged(&w, "work: stopped cleanly"));
    db_param_t d[] = {DB_I64(waiting)};
    ck_assert_int_eq(db_exec(&s.db, "DELETE FROM outbox WHERE id = ?", d, 1, NULL, NULL), DB_OK);
    shop_close(&s);
}
END_TEST

START_TEST(test_work_refuses_unknown_job_names_and_stray_arguments)
{
    ck_assert_int_eq(t_sh("%s work --only relay,nope 2>/dev/null", SF_BINARY), 2);
    ck_assert_int_eq(t_sh("%s work --only '' 2>/dev/null", SF_BINARY), 2);
    ck_assert_int_eq(t_sh("%s work extra 2>/dev/null", SF_BINARY), 2);
    ck_assert_int_eq(t_sh("%s work --help >/dev/null", SF_BINARY), 0);
}
END_TEST

/* ---------------------------------------------------------------- runner */

static Suite *work_suite(void)
{
    Suite *s = suite_create("work");
    TCase *tc = tcase_create("work");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_an_unpaid_order_is_cancelled_at_its_deadline_and_its_stock_comes_back_once);
    tcase_add_test(tc, test_an_order_committed_while_work_was_killed_is_published_and_handled_after_restart);
    tcase_add_test(tc, test_work_that_was_down_at_the_deadline_cancels_the_order_when_it_starts);
    tcase_add_test(tc, test_the_sweep_alone_cancels_an_overdue_order_and_the_queue_then_changes_nothing);
    tcase_add_test(tc, test_work_rides_out_a_redis_restart_and_loads_its_function_again);
    tcase_add_test(tc, test_sigterm_and_sigint_stop_work_with_exit_0_within_seconds);
    tcase_add_test(tc, test_work_without_mariadb_waits_quietly_and_still_stops_cleanly);
    tcase_add_test(tc, test_work_only_housekeeping_purges_old_published_rows_and_stops_cleanly);
    tcase_add_test(tc, test_work_refuses_unknown_job_names_and_stray_arguments);
    suite_add_tcase(s, tc);
    return s;
}

/* One scratch database for the whole run (every test's `work` relays its outbox). */
static int create_scratch(const char *name)
{
    config_t cfg;
    db_t db;
    char err[256], sql[160];
    if (config_load(&cfg, NULL, err, sizeof err) != 0)
        return -1;
    int rc = db_open(&db, &cfg);
    snprintf(sql, sizeof sql, "CREATE DATABASE %s CHARACTER SET utf8mb4", name);
    if (rc == DB_OK)
        rc = db_exec_script(&db, sql, strlen(sql));
    if (rc != DB_OK)
        fprintf(stderr, "test_work: cannot create %s: %s\n", name, db.err);
    db_close(&db);
    config_free(&cfg);
    return rc == DB_OK ? 0 : -1;
}

int main(void)
{
    char name[64];
    if (!t_env_present(t_db_env, "test_work"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof run_prefix, "sf_e2ework_%ld", (long)getpid());
    snprintf(name, sizeof name, "%s_db", run_prefix);
    db_library_init();
    int failed = 1;
    if (create_scratch(name) == 0) {
        setenv("STALLFRONT_DB_NAME", name, 1);
        failed = t_run(work_suite(), 0);
    }
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
