/*
 * End to end: `stallfront platform pull`, the reference client of the supervision platforms'
 * feed (docs/platform-feed.md), the real binary against a real server over HTTP. A platform
 * client is made by the market's operator through the API (POST /v1/admin/platform-clients);
 * orders are checked out by consumers, paid as the notification handler records a payment,
 * and fulfilled by their vendors through the API (accept, pick, ready, reject); one is
 * delivered by a courier (the real `stallfront work` dispatches it).
 *
 *   a first pull with --limit 7 (several pages) writes every version the feed holds, and
 *     saves the resume cursor beside the file;
 *   a lighter pick and a rejection later, a second pull without --since resumes there: it
 *     reads only the new versions (at most one page again), and the corrections are new
 *     versions of the same event_ids (qty_actual and refunded_fen; op void);
 *   --verify DAY recomputes the day's KPIs and reconcile figures from the file and exits 0
 *     with every row ok;
 *   a wrong secret stops with the 401 message, another market with the 403 one (exit 1);
 *   a secret file others may read, and bad options, are refused before any request (exit 2).
 *
 * Needs issue 10's server side (the feed routes, the signature check, the change log, the
 * platform clients' route): until those parts are merged it compiles but fails.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/payment.h"
#include "models/store/db.h"
#include "models/user.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/shop.h"
#include "tests/support/testutil.h"

static const char *const test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                       "STALLFRONT_PAYMENTS_MODE=sandbox",
                                       "STALLFRONT_ORDER_DELIVERY_FEE_FEN=500",
                                       "STALLFRONT_ORDER_FREE_DELIVERY_FROM_FEN=50000",
                                       "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000",
                                       "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                                       "STALLFRONT_QUEUE_LEASE_MS=1000",
                                       "STALLFRONT_DISPATCH_RETRY_MAX_S=1",
                                       NULL};
static const char *const work_env[] = {"STALLFRONT_PAYMENTS_MODE=sandbox", "STALLFRONT_QUEUE_LEASE_MS=1000",
                                       "STALLFRONT_DISPATCH_RETRY_MAX_S=1", NULL};
static tserver_t shared;
static int shared_exit;

static void shared_up(void)
{
    t_migrate();
    ck_assert_msg(tserver_start(&shared, test_env) == 0, "server did not start");
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
}

/* ---------------------------------------------------------------- the world */

/* A platform client as the operator's answer gives it. */
typedef struct platform {
    char app_key[64];
    char secret[64];
} platform_t;

/* The market's operator makes a district client granted its market (POST
 * /v1/admin/platform-clients, API.md "Operator"); the secret is in the answer, once. This is
 * what tests/support/platclient.h t_platform_create does; it is written out here so that this
 * suite links before that support file is merged. */
static void make_client(const char *op_token, int64_t market, platform_t *out)
{
    long status;
    json_t *body =
        json_pack("{s:s, s:s, s:[I]}", "name", "区市场监管平台", "scope", "district", "market_ids", (json_int_t)market);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *doc = shop_call(&shared, "POST", "/v1/admin/platform-clients", op_token, text, NULL, &status);
    free(text);
    text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(status == 201 || status == 200, "POST /v1/admin/platform-clients: %ld %s", status, text);
    free(text);
    const char *key = json_string_value(json_object_get(doc, "app_key"));
    const char *secret = json_string_value(json_object_get(doc, "secret"));
    ck_assert_ptr_nonnull(key);
    ck_assert_ptr_nonnull(secret);
    ck_assert_uint_lt(strlen(key), sizeof(out->app_key));
    ck_assert_uint_lt(strlen(secret), sizeof(out->secret));
    snprintf(out->app_key, sizeof(out->app_key), "%s", key);
    snprintf(out->secret, sizeof(out->secret), "%s", secret);
    json_decref(doc);
}

typedef struct world {
    shop_world_t s;
    char op_token[128];
    char vendor_token[2][128];
    shop_consumer_t c[3];
    platform_t pc;
    char dir[400], out[512], secret_file[512], log[512];
} world_t;

static void vendor_login(world_t *w, int i)
{
    static int seq; /* test-only: makes vendor logins unique within the process */
    char user[64];
    snprintf(user, sizeof(user), "pv%d_%d", (int)getpid(), seq++);
    user_new_t u = {.role = "vendor",
                    .market_id = w->s.m.market_id,
                    .username = user,
                    .password = "stall-owner-pass-1",
                    .display_name = "摊主",
                    .vendor_id = w->s.vendor[i]};
    int64_t uid = 0;
    ck_assert_msg(user_create(&w->s.db, &u, &uid) == DB_OK, "user: %s", w->s.db.err);
    ck_assert_int_eq(t_login(&shared, user, "stall-owner-pass-1", w->vendor_token[i], sizeof(w->vendor_token[i])), 0);
}

/* Writes text to path with mode. */
static void write_file(const char *path, const char *text, mode_t mode)
{
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
    ck_assert_int_eq(chmod(path, mode), 0);
}

static void world_up(world_t *w)
{
    static int seq;
    memset(w, 0, sizeof(*w));
    shop_world_up(&w->s);
    vendor_login(w, 0);
    vendor_login(w, 1);
    for (int i = 0; i < 3; i++)
        shop_consumer(&shared, &w->s.db, "pull", seq++, &w->c[i]);
    ck_assert_int_eq(t_login(&shared, w->s.m.op_user, w->s.m.op_pass, w->op_token, sizeof(w->op_token)), 0);
    make_client(w->op_token, w->s.m.market_id, &w->pc);
    snprintf(w->dir, sizeof(w->dir), "%s/pull-%d-%d", t_env("STALLFRONT_TEST_VAR"), (int)getpid(), seq);
    ck_assert_int_eq(t_sh("rm -rf '%s' && mkdir -p '%s'", w->dir, w->dir), 0);
    snprintf(w->out, sizeof(w->out), "%s/feed.jsonl", w->dir);
    snprintf(w->secret_file, sizeof(w->secret_file), "%s/feed.secret", w->dir);
    snprintf(w->log, sizeof(w->log), "%s/pull.log", w->dir);
    char text[128];
    snprintf(text, sizeof(text), "%s\n", w->pc.secret); /* a trailing newline, as an editor leaves it */
    write_file(w->secret_file, text, 0600);
}

static void world_down(world_t *w)
{
    t_sh("rm -rf '%s'", w->dir);
    shop_world_down(&w->s);
}

/* Checks out (product, qty) as consumer c and pays in full (as the notification handler
 * records it); the order's id. */
static int64_t place_paid(world_t *w, int c, int64_t product, int64_t qty)
{
    long status;
    shop_put_cart(&shared, &w->c[c], product, qty);
    json_t *doc = shop_checkout(&shared, &w->c[c], w->s.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    int64_t order = shop_jint(doc, "id");
    json_decref(doc);
    pay_attempt_t a;
    pay_outcome_t out = 0;
    char txid[64];
    ck_assert_int_eq(payment_create(&w->s.db, w->c[c].id, order, PAY_WECHAT, &a), DB_OK);
    snprintf(txid, sizeof(txid), "4300%d%lld%ld", (int)getpid(), (long long)order, (long)time(NULL));
    pay_paid_t paid = {
        .provider = PAY_WECHAT, .out_trade_no = a.out_trade_no, .transaction_id = txid, .amount_fen = a.amount_fen};
    ck_assert_int_eq(db_begin(&w->s.db), DB_OK);
    ck_assert_int_eq(payment_record_paid_tx(&w->s.db, &paid, &out), DB_OK);
    ck_assert_int_eq(db_commit(&w->s.db), DB_OK);
    ck_assert_int_eq(out, PAY_RECORDED);
    return order;
}

static int64_t vo_of(world_t *w, int64_t order)
{
    return t_db_i64(&w->s.db, "SELECT id FROM vendor_orders WHERE order_id = ?", (db_param_t[]){DB_I64(order)}, 1);
}

static int64_t line_of(world_t *w, int64_t order)
{
    return t_db_i64(&w->s.db, "SELECT id FROM order_lines WHERE order_id = ?", (db_param_t[]){DB_I64(order)}, 1);
}

/* POST /v1/vendor/orders/{vo}/{action} as vendor v; must answer 200. */
static void act(world_t *w, int v, int64_t vo, const char *action, const char *body)
{
    char path[128];
    long status;
    snprintf(path, sizeof(path), "/v1/vendor/orders/%lld/%s", (long long)vo, action);
    json_t *doc = shop_call(&shared, "POST", path, w->vendor_token[v], body, NULL, &status);
    char *text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(status == 200, "%s %lld: %ld %s", action, (long long)vo, status, text);
    free(text);
    json_decref(doc);
}

static void pick(world_t *w, int v, int64_t order, int64_t qty_actual)
{
    char body[128];
    snprintf(body, sizeof(body), "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":%lld}]}", (long long)line_of(w, order),
             (long long)qty_actual);
    act(w, v, vo_of(w, order), "pick", body);
}

/* A request as token that must answer want; the document (caller decrefs). */
static json_t *call(const char *method, const char *path, const char *token, json_t *body, long want)
{
    long status;
    char *text = body != NULL ? json_dumps(body, JSON_COMPACT) : NULL;
    json_decref(body);
    json_t *doc = shop_call(&shared, method, path, token, text, NULL, &status);
    free(text);
    text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(status == want, "%s %s: want %ld, got %ld %s", method, path, want, status, text);
    free(text);
    return doc;
}

/* A courier made by the operator delivers the order (ready at every stall) as the courier
 * app would: on shift near the market, the offer (dispatched by `work`), accept, pick up,
 * deliver with the order's code (from the consumer's view). */
static void deliver(world_t *w, int c, int64_t order)
{
    char user[64], token[128], path[128];
    snprintf(user, sizeof(user), "pc%d_%lld", (int)getpid(), (long long)order);
    json_decref(call("POST", "/v1/admin/couriers", w->op_token,
                     json_pack("{s:s, s:s, s:s, s:s}", "name", "骑手小李", "phone", "13700000001", "username", user,
                               "password", "courier-pass-1"),
                     201));
    ck_assert_int_eq(t_login(&shared, user, "courier-pass-1", token, sizeof(token)), 0);
    snprintf(path, sizeof(path), "/v1/markets/%lld", (long long)w->s.m.market_id);
    json_t *doc = call("GET", path, NULL, NULL, 200);
    double lat = json_number_value(json_object_get(doc, "lat")), lng = json_number_value(json_object_get(doc, "lng"));
    json_decref(doc);
    json_decref(call("POST", "/v1/courier/shift", token, json_pack("{s:b}", "on", 1), 200));
    int64_t delivery = 0;
    for (int waited = 0; delivery == 0 && waited < 30000; waited += 100) {
        json_decref(call("PUT", "/v1/courier/location", token, json_pack("{s:f, s:f}", "lat", lat, "lng", lng), 200));
        doc = call("GET", "/v1/courier/offers", token, NULL, 200);
        json_t *items = json_is_array(doc) ? doc : json_object_get(doc, "items");
        for (size_t i = 0; i < json_array_size(items); i++)
            if (shop_jint(json_array_get(items, i), "order_id") == order)
                delivery = shop_jint(json_array_get(items, i), "id");
        json_decref(doc);
        if (delivery == 0)
            usleep(100 * 1000);
    }
    ck_assert_msg(delivery != 0, "the courier was never offered order %lld", (long long)order);
    snprintf(path, sizeof(path), "/v1/courier/offers/%lld/accept", (long long)delivery);
    json_decref(call("POST", path, token, NULL, 200));
    snprintf(path, sizeof(path), "/v1/courier/deliveries/%lld/pickup", (long long)delivery);
    json_decref(call("POST", path, token, NULL, 200));
    char code[16] = "";
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)order);
    for (int waited = 0; code[0] == '\0' && waited < 30000; waited += 100) {
        doc = call("GET", path, w->c[c].token, NULL, 200);
        const char *got = json_string_value(json_object_get(json_object_get(doc, "delivery"), "code"));
        if (got != NULL)
            snprintf(code, sizeof(code), "%s", got);
        json_decref(doc);
        if (code[0] == '\0')
            usleep(100 * 1000);
    }
    ck_assert_msg(code[0] != '\0', "order %lld shows no delivery code", (long long)order);
    snprintf(path, sizeof(path), "/v1/courier/deliveries/%lld/deliver", (long long)delivery);
    json_decref(call("POST", path, token, json_pack("{s:s}", "code", code), 200));
    for (int waited = 0; waited < 30000; waited += 100) {
        int delivered = t_db_i64(&w->s.db, "SELECT status = 'delivered' FROM orders WHERE id = ?",
                                 (db_param_t[]){DB_I64(order)}, 1) == 1;
        if (delivered)
            return;
        usleep(100 * 1000);
    }
    ck_abort_msg("order %lld never became delivered", (long long)order);
}

/* ---------------------------------------------------------------- the binary */

/* Runs `stallfront platform pull --out <w->out>` with the world's client and extra args,
 * stdout and stderr into w->log. The exit status. */
static int pull(world_t *w, const char *secret_file, int64_t market, const char *extra)
{
    return t_sh("%s platform pull --url %s --app-key %s --secret-file '%s' --market %lld --out '%s' %s >'%s' 2>&1",
                SF_BINARY, t_base(&shared, T_H2C), w->pc.app_key, secret_file, (long long)market, w->out, extra,
                w->log);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return strdup("");
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    size_t got = fread(buf, 1, (size_t)n, f);
    buf[got] = '\0';
    fclose(f);
    return buf;
}

static int log_has(world_t *w, const char *text)
{
    char *log = slurp(w->log);
    int has = strstr(log, text) != NULL;
    if (!has)
        fprintf(stderr, "--- the pull's output has no \"%s\":\n%s\n---\n", text, log);
    free(log);
    return has;
}

/* The out file's records: every line parsed (an array; the caller decrefs). */
static json_t *records(world_t *w)
{
    char *text = slurp(w->out), *save = NULL;
    json_t *all = json_array();
    for (char *line = strtok_r(text, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
        json_error_t je;
        json_t *o = json_loads(line, 0, &je);
        ck_assert_msg(o != NULL, "a line of %s is not JSON: %s", w->out, je.text);
        json_array_append_new(all, o);
    }
    free(text);
    return all;
}

/* How many records of the file are this event_id's version. */
static int count_of(json_t *recs, int64_t event_id, int64_t version)
{
    size_t i;
    json_t *r;
    int n = 0;
    json_array_foreach(recs, i, r) n += shop_jint(r, "event_id") == event_id && shop_jint(r, "version") == version;
    return n;
}

/* The newest record of event_id in the file (borrowed), or NULL. */
static json_t *newest(json_t *recs, int64_t event_id)
{
    size_t i;
    json_t *r, *best = NULL;
    json_array_foreach(recs, i, r) if (shop_jint(r, "event_id") == event_id &&
                                       (best == NULL || shop_jint(r, "version") > shop_jint(best, "version"))) best = r;
    return best;
}

/* Every version the log holds for the market is in the file, and nothing else is. */
static void assert_file_has_the_whole_log(world_t *w, json_t *recs)
{
    int64_t versions = t_db_i64(&w->s.db, "SELECT COUNT(*) FROM sale_line_versions WHERE market_id = ?",
                                (db_param_t[]){DB_I64(w->s.m.market_id)}, 1);
    ck_assert_int_gt(versions, 0);
    db_rows_t *rows = NULL;
    ck_assert_int_eq(db_query(&w->s.db, "SELECT event_id, version FROM sale_line_versions WHERE market_id = ?",
                              (db_param_t[]){DB_I64(w->s.m.market_id)}, 1, &rows),
                     DB_OK);
    int64_t seen = 0;
    while (db_rows_next(rows) == 1) {
        int64_t e = db_rows_i64(rows, 0), v = db_rows_i64(rows, 1);
        ck_assert_msg(count_of(recs, e, v) >= 1, "version %lld of event %lld was not pulled", (long long)v,
                      (long long)e);
        seen++;
    }
    db_rows_free(rows);
    ck_assert_int_eq(seen, versions);
    size_t i;
    json_t *r;
    json_array_foreach(recs, i, r)
    {
        int64_t in_log = t_db_i64(
            &w->s.db, "SELECT COUNT(*) FROM sale_line_versions WHERE market_id = ? AND event_id = ? AND version = ?",
            (db_param_t[]){DB_I64(w->s.m.market_id), DB_I64(shop_jint(r, "event_id")), DB_I64(shop_jint(r, "version"))},
            3);
        ck_assert_msg(in_log == 1, "a pulled record is not a version of this market's log");
    }
}

/* Whether the --verify table has a row for field that ends ok (or ok and a note). */
static int row_ok(const char *log, const char *field)
{
    char want[64];
    snprintf(want, sizeof(want), "\n%s ", field);
    const char *at = strstr(log, want);
    if (at == NULL)
        return 0;
    size_t n = strcspn(at + 1, "\n");
    char line[512];
    snprintf(line, sizeof(line), "%.*s", (int)n, at + 1);
    return strstr(line, " ok") != NULL && strstr(line, "DIFF") == NULL;
}

/* Today in +08:00, "YYYY-MM-DD". */
static void today_0800(char *buf, size_t len)
{
    time_t now = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&now, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
}

/* ---------------------------------------------------------------- the tests */

START_TEST(test_pull_resumes_gets_corrections_as_new_versions_and_verifies_the_day)
{
    world_t w;
    twork_t wk;
    world_up(&w);
    ck_assert_int_eq(t_work_start(&wk, work_env, NULL), 0);
    int64_t spinach = shop_product(&w.s, 0, "菠菜", 600, 500, 100000); /* weighed, stall A-01 */
    int64_t eggs = shop_product(&w.s, 1, "土鸡蛋", 350, 0, 1000);      /* counted, stall A-02 */

    /* ---- five paid orders, fulfilled in part: 1 delivered, 2 ready, 3 picked, 4 accepted, 5 new */
    int64_t o[5];
    o[0] = place_paid(&w, 0, spinach, 750);
    o[1] = place_paid(&w, 1, eggs, 6);
    o[2] = place_paid(&w, 0, eggs, 4); /* consumer 0 again: a repeat consumer */
    o[3] = place_paid(&w, 2, spinach, 1000);
    o[4] = place_paid(&w, 1, spinach, 500);
    int vendor_of[5] = {0, 1, 1, 0, 0};
    for (int i = 0; i < 4; i++) /* order 5 stays new: its vendor rejects it later */
        act(&w, vendor_of[i], vo_of(&w, o[i]), "accept", NULL);
    pick(&w, 0, o[0], 750);
    act(&w, 0, vo_of(&w, o[0]), "ready", NULL);
    pick(&w, 1, o[1], 6);
    act(&w, 1, vo_of(&w, o[1]), "ready", NULL);
    pick(&w, 1, o[2], 4);
    deliver(&w, 0, o[0]); /* delivered_at, and the delivery times of the KPIs */

    /* ---- the first pull, 7 lines a page: every version, the cursor saved beside the file */
    ck_assert_int_eq(pull(&w, w.secret_file, w.s.m.market_id, "--limit 7"), 0);
    ck_assert(log_has(&w, "pulled "));
    ck_assert(log_has(&w, "lines/s"));
    json_t *first = records(&w);
    ck_assert_int_gt(json_array_size(first), 7); /* more than one page */
    assert_file_has_the_whole_log(&w, first);
    char cursor_path[700];
    snprintf(cursor_path, sizeof(cursor_path), "%s.cursor", w.out);
    char *saved = slurp(cursor_path);
    ck_assert_msg(strstr(saved, "\"cursor\"") != NULL, "no cursor saved: %s", saved);
    free(saved);
    size_t after_first = json_array_size(first);
    int64_t heavy = line_of(&w, o[3]), rejected = line_of(&w, o[4]);
    json_t *r = newest(first, line_of(&w, o[0]));
    ck_assert_ptr_nonnull(r);
    ck_assert(json_is_string(json_object_get(r, "ready_at")));
    ck_assert(json_is_string(json_object_get(r, "delivered_at")));
    ck_assert_int_eq(shop_jint(r, "qty_actual"), 750);
    r = newest(first, heavy);
    ck_assert_ptr_nonnull(r);
    int64_t heavy_v = shop_jint(r, "version");
    ck_assert(json_is_null(json_object_get(r, "qty_actual")));
    ck_assert_int_eq(shop_jint(r, "refunded_fen"), 0);
    r = newest(first, rejected);
    ck_assert_ptr_nonnull(r);
    int64_t rejected_v = shop_jint(r, "version");
    ck_assert_str_eq(json_string_value(json_object_get(r, "op")), "upsert");
    json_decref(first);

    /* ---- corrections: order 4 picked lighter (950 g of 1000), order 5 rejected */
    pick(&w, 0, o[3], 950);
    act(&w, 0, vo_of(&w, o[4]), "reject", "{\"reason\":\"今天卖完了\"}");

    /* ---- the second pull, no --since: it resumes, and the corrections are new versions */
    ck_assert_int_eq(pull(&w, w.secret_file, w.s.m.market_id, "--limit 7"), 0);
    json_t *second = records(&w);
    assert_file_has_the_whole_log(&w, second);
    size_t added = json_array_size(second) - after_first;
    ck_assert_int_ge(added, 2);
    ck_assert_msg(added <= 2 + 7, "the second pull read %zu lines: it did not resume", added);
    r = newest(second, heavy);
    ck_assert_int_gt(shop_jint(r, "version"), heavy_v);
    ck_assert_int_eq(shop_jint(r, "qty_actual"), 950);
    ck_assert_int_eq(shop_jint(r, "qty"), 1000);
    ck_assert_int_eq(shop_jint(r, "refunded_fen"), 1200 - 1140); /* 600 fen a jin: 1000 g 1200, 950 g 1140 */
    ck_assert_str_eq(json_string_value(json_object_get(r, "op")), "upsert");
    r = newest(second, rejected);
    ck_assert_int_gt(shop_jint(r, "version"), rejected_v);
    ck_assert_str_eq(json_string_value(json_object_get(r, "op")), "void");
    ck_assert_int_eq(shop_jint(r, "refunded_fen"), shop_jint(r, "amount_fen"));
    json_decref(second);

    /* ---- a third pull with nothing new adds at most a page read again, and no new version */
    ck_assert_int_eq(pull(&w, w.secret_file, w.s.m.market_id, "--limit 7"), 0);
    json_t *third = records(&w);
    assert_file_has_the_whole_log(&w, third);
    json_decref(third);

    /* ---- --verify: every figure recomputed from the file agrees with the server's */
    char day[16], args[64];
    today_0800(day, sizeof(day));
    snprintf(args, sizeof(args), "--verify %s", day);
    int rc = pull(&w, w.secret_file, w.s.m.market_id, args);
    if (rc != 0)
        t_sh("cat '%s' >&2", w.log);
    ck_assert_int_eq(rc, 0);
    static const char *const fields[] = {"orders_paid",
                                         "orders_delivered",
                                         "median_minutes_paid_to_ready",
                                         "p90_minutes_paid_to_delivered",
                                         "gmv_fen",
                                         "refunds_fen",
                                         "net_sales_fen",
                                         "items_qty_g",
                                         "items_qty_pieces",
                                         "active_stalls",
                                         "stalls_total",
                                         "consumers",
                                         "repeat_consumers",
                                         "reject_ratio",
                                         "complaint_count",
                                         "reconcile.count",
                                         "reconcile.sales_fen",
                                         "reconcile.checksum"};
    char *log = slurp(w.log);
    for (size_t i = 0; i < sizeof(fields) / sizeof(fields[0]); i++)
        ck_assert_msg(row_ok(log, fields[i]), "--verify printed no ok row %s:\n%s", fields[i], log);
    ck_assert_msg(strstr(log, "DIFF") == NULL, "--verify found a difference:\n%s", log);
    ck_assert(strstr(log, "verified:") != NULL);
    free(log);
    ck_assert_int_eq(t_work_stop(&wk, SIGTERM), 0);
    world_down(&w);
}
END_TEST

START_TEST(test_a_market_with_no_sales_yet_pulls_nothing_and_saves_the_beginning)
{
    /* a market that has sold nothing: the feed's resume cursor is "" (the beginning), and the
     * pull takes it: exit 0, no line, the cursor file saved; a rerun resumes from there */
    world_t w;
    t_market_t empty;
    platform_t pc;
    char token[128], secret[700], text[128], cursor_path[700];
    world_up(&w);
    t_fixture_market(&empty);
    ck_assert_int_eq(t_login(&shared, empty.op_user, empty.op_pass, token, sizeof(token)), 0);
    make_client(token, empty.market_id, &pc);
    snprintf(secret, sizeof(secret), "%s/empty.secret", w.dir);
    snprintf(text, sizeof(text), "%s\n", pc.secret);
    write_file(secret, text, 0600);
    for (int run = 0; run < 2; run++) {
        int rc = t_sh("%s platform pull --url %s --app-key %s --secret-file '%s' --market %lld --out '%s' >'%s' 2>&1",
                      SF_BINARY, t_base(&shared, T_H2C), pc.app_key, secret, (long long)empty.market_id, w.out, w.log);
        if (rc != 0)
            t_sh("cat '%s' >&2", w.log);
        ck_assert_int_eq(rc, 0);
        ck_assert(log_has(&w, "pulled 1 pages, 0 lines"));
        json_t *recs = records(&w);
        ck_assert_int_eq(json_array_size(recs), 0);
        json_decref(recs);
        snprintf(cursor_path, sizeof(cursor_path), "%s.cursor", w.out);
        json_t *c = json_load_file(cursor_path, 0, NULL);
        ck_assert_msg(c != NULL, "no cursor file after run %d", run);
        ck_assert_str_eq(json_string_value(json_object_get(c, "cursor")), "");
        ck_assert_int_eq(json_integer_value(json_object_get(c, "market")), empty.market_id);
        ck_assert_str_eq(json_string_value(json_object_get(c, "app_key")), pc.app_key);
        ck_assert_str_eq(json_string_value(json_object_get(c, "url")), t_base(&shared, T_H2C));
        json_decref(c);
    }
    world_down(&w);
}
END_TEST

START_TEST(test_a_wrong_secret_and_another_market_stop_with_the_servers_refusal)
{
    world_t w;
    world_up(&w);
    char wrong[700];
    snprintf(wrong, sizeof(wrong), "%s/wrong.secret", w.dir);
    char text[80];
    snprintf(text, sizeof(text), "%.*sX\n", (int)strlen(w.pc.secret) - 1, w.pc.secret); /* one character changed */
    write_file(wrong, text, 0600);
    ck_assert_int_eq(pull(&w, wrong, w.s.m.market_id, ""), 1);
    ck_assert(log_has(&w, "401"));
    ck_assert(log_has(&w, "refused the signature"));
    char cursor_path[700];
    struct stat st;
    snprintf(cursor_path, sizeof(cursor_path), "%s.cursor", w.out);
    ck_assert_int_ne(stat(cursor_path, &st), 0); /* nothing pulled, no cursor */

    ck_assert_int_eq(pull(&w, w.secret_file, w.s.other.market_id, ""), 1);
    ck_assert(log_has(&w, "403"));
    ck_assert(log_has(&w, "not granted"));
    world_down(&w);
}
END_TEST

START_TEST(test_a_secret_others_can_read_and_bad_options_are_refused_before_any_request)
{
    char dir[512], sec[600], log[700];
    snprintf(dir, sizeof(dir), "%s/pullopts-%d", t_env("STALLFRONT_TEST_VAR"), (int)getpid());
    ck_assert_int_eq(t_sh("rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    snprintf(sec, sizeof(sec), "%s/open.secret", dir);
    snprintf(log, sizeof(log), "%s/log", dir);
    write_file(sec, "sk-whatever-secret\n", 0644);
    /* an address nothing listens on: a request would show as "no answer" */
    const char *base = "--url http://127.0.0.1:9 --app-key pk_x --market 1";
    ck_assert_int_eq(t_sh("%s platform pull %s --secret-file '%s' >'%s' 2>&1", SF_BINARY, base, sec, log), 2);
    ck_assert_int_eq(t_sh("grep -q 'open to others' '%s' && grep -q 'chmod 600' '%s'", log, log), 0);
    ck_assert_int_eq(chmod(sec, 0600), 0);
    static const char *const bad[] = {"--limit 0",
                                      "--limit 1001",
                                      "--limit x",
                                      "--verify 2026-02-30",
                                      "--out x --verify 2026-+1-01",
                                      "--verify 2026-12-07", /* without --out */
                                      "--bogus 1"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(t_sh("%s platform pull %s --secret-file '%s' %s >'%s' 2>&1", SF_BINARY, base, sec, bad[i], log) ==
                          2,
                      "%s", bad[i]);
    ck_assert_int_eq(t_sh("%s platform pull --app-key pk_x --secret-file '%s' >'%s' 2>&1", SF_BINARY, sec, log), 2);
    ck_assert_int_eq(t_sh("grep -q 'required' '%s'", log), 0);
    ck_assert_int_eq(t_sh("%s platform --help >'%s' 2>&1 && grep -q 'secret-file' '%s'", SF_BINARY, log, log), 0);
    t_sh("rm -rf '%s'", dir);
}
END_TEST

static Suite *pull_suite(void)
{
    Suite *s = suite_create("platform_pull");
    TCase *tc = tcase_create("platform_pull");
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_pull_resumes_gets_corrections_as_new_versions_and_verifies_the_day);
    tcase_add_test(tc, test_a_market_with_no_sales_yet_pulls_nothing_and_saves_the_beginning);
    tcase_add_test(tc, test_a_wrong_secret_and_another_market_stop_with_the_servers_refusal);
    tcase_add_test(tc, test_a_secret_others_can_read_and_bad_options_are_refused_before_any_request);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* a database and a Redis of its own: its `work` must not do its neighbours' work */
    return t_main_shared(pull_suite(), "pull", &shared, &shared_exit);
}
