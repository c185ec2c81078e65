/*
 * End to end: the market centre's routes (handlers/operator.c) on the real server, its
 * MariaDB and Redis. Two fixture markets A and B, each with its operator; a consumer (WeChat
 * sandbox) and a vendor of A for the role matrix. Checks the roles, the confinement to the
 * operator's market, every refusal of bad input (with the database read back to prove
 * nothing was written), the conflicts, the catalogue version bump, and the whole flow the
 * market centre starts a vendor with: stall, vendor with licences, staff, courier, and the
 * new vendor signing in with the login the operator made; and the lists of vendors, stalls
 * and couriers (a market of their own, so every row is known), paged and filtered.
 */
#include <check.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/testutil.h"

/* Sign-in failures are counted per address in the shared Redis, and every test binary
 * signs in from 127.0.0.1: a high limit and a short window keep other suites' failures
 * from turning this suite's sign-ins into 429s. */
static const char *const test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox", "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                                       "STALLFRONT_AUTH_LOGIN_WINDOW_S=1", NULL};

/* Made once by the unchecked fixture (in the runner, before the tests fork). */
static tserver_t srv;
static int srv_exit = 0;
static t_market_t mkt_a, mkt_b;
static char tok_a[128], tok_b[128], tok_consumer[128], tok_vendor[128];
static int64_t vendor_a, stall_a, free_stall_a, stall_b;
static int seq; /* per process: unique names */

/* ---------------------------------------------------------------- helpers */

/* A name unique to this process and call: prefix, pid, -, counter (fits stall numbers). */
static const char *uniq(char *buf, size_t len, const char *prefix)
{
    snprintf(buf, len, "%s%d-%d", prefix, (int)getpid(), seq++);
    return buf;
}

/* A malloc'd string of n copies of unit. */
static char *rep(const char *unit, size_t n)
{
    size_t u = strlen(unit);
    char *s = malloc(u * n + 1);
    ck_assert_ptr_nonnull(s);
    for (size_t i = 0; i < n; i++)
        memcpy(s + i * u, unit, u);
    s[u * n] = '\0';
    return s;
}

/* Today (+08:00) shifted by `days`, as YYYY-MM-DD. */
static const char *day(char *buf, size_t len, int days)
{
    time_t t = time(NULL) + 8 * 3600 + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
    return buf;
}

/* Sends a JSON document (stolen). */
static void call_doc(const char *token, const char *method, const char *path, json_t *doc, tresp_t *r)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    ck_assert_ptr_nonnull(text);
    t_call(&srv, method, path, token, text, r);
    free(text);
}

static void pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static int64_t id_of(const tresp_t *r)
{
    json_t *doc = t_json(r);
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    json_decref(doc);
    return id;
}

/* One integer the query finds in the test database. */
static int64_t sql_i64(const char *sql, const db_param_t *p, size_t n)
{
    config_t cfg;
    db_t db;
    t_load_cfg(&cfg);
    db_thread_init();
    ck_assert_msg(db_open(&db, &cfg) == DB_OK, "%s", db.err);
    int64_t v = t_db_i64(&db, sql, p, n);
    db_close(&db);
    config_free(&cfg);
    return v;
}

/* A fingerprint of everything the operator routes can write for a market: row counts and
 * checksums of the values, so any change shows. */
static int64_t market_state(int64_t market)
{
    db_param_t p[] = {DB_I64(market), DB_I64(market), DB_I64(market), DB_I64(market),
                      DB_I64(market), DB_I64(market), DB_I64(market), DB_I64(market)};
    return sql_i64(
        "SELECT (SELECT COUNT(*) + COALESCE(SUM(CRC32(CONCAT_WS('|', stall_no, zone, map_x, map_y,"
        " COALESCE(vendor_id, 0)))), 0) FROM stalls WHERE market_id = ?)"
        " + (SELECT COUNT(*) + COALESCE(SUM(CRC32(CONCAT_WS('|', name, contact_phone, business_scope, credit_level,"
        " status))), 0) FROM vendors WHERE market_id = ?)"
        " + (SELECT COUNT(*) + COALESCE(SUM(CRC32(CONCAT_WS('|', id, type, number, valid_until))), 0)"
        " FROM vendor_licences WHERE market_id = ?)"
        " + (SELECT COUNT(*) * 7 FROM vendor_staff WHERE market_id = ?)"
        " + (SELECT COUNT(*) * 11 FROM users WHERE market_id = ?)"
        " + (SELECT COUNT(*) * 13 FROM couriers WHERE market_id = ?)"
        " + (SELECT COUNT(*) + COALESCE(SUM(CRC32(CONCAT_WS('|', date, commodity_code, name, price_fen, per_g))), 0)"
        " FROM guide_prices WHERE market_id = ?)"
        " + (SELECT COUNT(*) * 17 FROM notices WHERE market_id = ?)",
        p, 8);
}

/* The market's catalogue version in Redis (0 if never bumped). */
static long long cache_version(int64_t market)
{
    redisContext *c =
        redisConnect(t_env("STALLFRONT_REDIS_HOST"), (int)strtol(t_env("STALLFRONT_REDIS_PORT"), NULL, 10));
    ck_assert_msg(c != NULL && c->err == 0, "redis");
    redisReply *r = redisCommand(c, "GET cat:ver:%lld", (long long)market);
    ck_assert_ptr_nonnull(r);
    long long v = r->type == REDIS_REPLY_STRING ? strtoll(r->str, NULL, 10) : 0;
    freeReplyObject(r);
    redisFree(c);
    return v;
}

/* Sends a request that must be refused with status and code (NULL: the status's own),
 * leaving market A exactly as it was. */
static void expect_refused(const char *token, const char *method, const char *path, const char *body, long status,
                           const char *code)
{
    static const struct {
        long status;
        const char *code;
    } codes[] = {{400, "malformed_json"}, {401, "unauthorized"}, {403, "forbidden"},
                 {404, "not_found"},      {409, "conflict"},     {422, "invalid"}};
    tresp_t r;
    int64_t before = market_state(mkt_a.market_id);
    t_call(&srv, method, path, token, body, &r);
    for (size_t i = 0; code == NULL && i < sizeof(codes) / sizeof(codes[0]); i++)
        if (codes[i].status == status)
            code = codes[i].code;
    ck_assert_msg(r.status == status, "%s %s %.200s: %ld %.300s", method, path, body ? body : "", r.status, r.body);
    ck_assert_msg(t_is_error(&r, code), "%s %s %.200s: want %s, got %.300s", method, path, body ? body : "", code,
                  r.body);
    t_resp_free(&r);
    ck_assert_msg(market_state(mkt_a.market_id) == before, "%s %s %.200s changed market A", method, path,
                  body ? body : "");
}

/* The same for a JSON document (stolen). */
static void expect_refused_doc(const char *token, const char *method, const char *path, json_t *doc, long status,
                               const char *code)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    ck_assert_ptr_nonnull(text);
    expect_refused(token, method, path, text, status, code);
    free(text);
}

/* A valid vendor body (caller may change it) with a fresh username, holding the stalls. */
static json_t *vendor_body(const int64_t *stalls, size_t n)
{
    char user[64];
    json_t *ids = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_integer(stalls[i]));
    return json_pack("{s:s, s:s, s:o, s:s, s:[{s:s, s:s, s:s}], s:s, s:s, s:s}", "name", "张三", "contact_phone",
                     "13800138000", "stall_ids", ids, "business_scope", "蔬菜零售", "licences", "type",
                     "business_licence", "number", "91410100MA44ABCD1X", "valid_until", "2030-12-31", "credit_level",
                     "B", "username", uniq(user, sizeof(user), "v"), "password", "vendor-pass-1");
}

static int64_t make_stall(const char *token, const char *no)
{
    tresp_t r;
    call_doc(token, "POST", "/v1/admin/stalls",
             json_pack("{s:s, s:s, s:{s:i, s:i}}", "stall_no", no, "zone", "A区", "map", "x", 10, "y", 20), &r);
    ck_assert_msg(r.status == 201, "stall %s: %ld %s", no, r.status, r.body);
    int64_t id = id_of(&r);
    t_resp_free(&r);
    return id;
}

/* ---------------------------------------------------------------- set-up */

static void shared_up(void)
{
    tresp_t r;
    char user[64];
    t_migrate();
    t_fixture_market(&mkt_a);
    t_fixture_market(&mkt_b);
    ck_assert_msg(tserver_start(&srv, test_env) == 0, "server did not start");
    ck_assert_int_eq(t_login(&srv, mkt_a.op_user, mkt_a.op_pass, tok_a, sizeof(tok_a)), 0);
    ck_assert_int_eq(t_login(&srv, mkt_b.op_user, mkt_b.op_pass, tok_b, sizeof(tok_b)), 0);
    ck_assert_int_eq(t_login_wechat(&srv, uniq(user, sizeof(user), "c"), tok_consumer, sizeof(tok_consumer)), 0);
    stall_a = make_stall(tok_a, "S-1");
    free_stall_a = make_stall(tok_a, "S-2");
    stall_b = make_stall(tok_b, "S-1");
    json_t *vb = vendor_body(&stall_a, 1);
    char vuser[64];
    snprintf(vuser, sizeof(vuser), "%s", json_string_value(json_object_get(vb, "username")));
    call_doc(tok_a, "POST", "/v1/admin/vendors", vb, &r);
    ck_assert_msg(r.status == 201, "vendor: %ld %s", r.status, r.body);
    vendor_a = id_of(&r);
    t_resp_free(&r);
    ck_assert_int_eq(t_login(&srv, vuser, "vendor-pass-1", tok_vendor, sizeof(tok_vendor)), 0);
}

static void shared_down(void)
{
    srv_exit = tserver_stop(&srv, SIGTERM);
}

/* ---------------------------------------------------------------- roles and markets */

START_TEST(test_operator_routes_refuse_no_token_consumers_and_vendors)
{
    char p_vendor[64], p_staff[64];
    pathf(p_vendor, sizeof(p_vendor), "/v1/admin/vendors/%lld", (long long)vendor_a);
    pathf(p_staff, sizeof(p_staff), "/v1/admin/vendors/%lld/staff", (long long)vendor_a);
    const struct {
        const char *method, *path, *body;
    } routes[] = {
        {"POST", "/v1/admin/stalls", "{\"stall_no\":\"R-1\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}"},
        {"POST", "/v1/admin/vendors", "{}"},
        {"PATCH", p_vendor, "{\"status\":\"closed\"}"},
        {"POST", p_staff, "{\"name\":\"x\",\"certificate\":\"c\",\"valid_until\":\"2030-01-01\"}"},
        {"POST", "/v1/admin/couriers", "{}"},
        {"PUT", "/v1/admin/guide-prices", "{}"},
        {"POST", "/v1/admin/notices", "{\"title\":\"t\",\"body\":\"b\"}"},
        {"GET", "/v1/admin/alerts", NULL},
        {"GET", "/v1/admin/vendors", NULL},
        {"GET", p_vendor, NULL},
        {"GET", "/v1/admin/stalls", NULL},
        {"GET", "/v1/admin/couriers", NULL},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
        expect_refused(NULL, routes[i].method, routes[i].path, routes[i].body, 401, "unauthorized");
        expect_refused("not-a-token", routes[i].method, routes[i].path, routes[i].body, 401, "unauthorized");
        expect_refused(tok_consumer, routes[i].method, routes[i].path, routes[i].body, 403, "forbidden");
        expect_refused(tok_vendor, routes[i].method, routes[i].path, routes[i].body, 403, "forbidden");
    }
}
END_TEST

START_TEST(test_another_markets_operator_gets_404_for_this_markets_vendor)
{
    char path[96];
    pathf(path, sizeof(path), "/v1/admin/vendors/%lld", (long long)vendor_a);
    expect_refused(tok_b, "PATCH", path, "{\"status\":\"closed\",\"name\":\"hijacked\"}", 404, "not_found");
    expect_refused(tok_b, "PATCH", path, "{\"stall_ids\":[]}", 404, "not_found");
    pathf(path, sizeof(path), "/v1/admin/vendors/%lld/staff", (long long)vendor_a);
    expect_refused(tok_b, "POST", path, "{\"name\":\"x\",\"certificate\":\"c\",\"valid_until\":\"2030-01-01\"}", 404,
                   "not_found");
    /* A's free stall cannot be given to one of B's vendors */
    json_t *vb = vendor_body(&free_stall_a, 1);
    int64_t before_b = market_state(mkt_b.market_id);
    expect_refused_doc(tok_b, "POST", "/v1/admin/vendors", vb, 422, "unknown_stall");
    ck_assert_int_eq(market_state(mkt_b.market_id), before_b);
    /* nor can A give B's stall to its own */
    expect_refused_doc(tok_a, "POST", "/v1/admin/vendors", vendor_body(&stall_b, 1), 422, "unknown_stall");
}
END_TEST

START_TEST(test_another_markets_alerts_never_show_this_markets_products)
{
    tresp_t r;
    char today[16], path[64];
    day(today, sizeof(today), 0);
    /* the same guide price in both markets; an anomaly only in A */
    const char *gp = "{\"date\":\"%s\",\"items\":[{\"commodity_code\":\"A0999\",\"name\":\"试验菜\",\"price_fen\":100,"
                     "\"per_g\":500}]}";
    char body[256];
    snprintf(body, sizeof(body), gp, today);
    t_call(&srv, "PUT", "/v1/admin/guide-prices", tok_a, body, &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
    t_call(&srv, "PUT", "/v1/admin/guide-prices", tok_b, body, &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
    int64_t pid = sql_i64("INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                          " pricing_mode, price_fen, per_g, stock) VALUES (?, ?, ?, 'veg', 'A0999', '贵菜', 'weight',"
                          " 1000, 500, 1000) RETURNING id",
                          (db_param_t[]){DB_I64(mkt_a.market_id), DB_I64(stall_a), DB_I64(vendor_a)}, 3);
    pathf(path, sizeof(path), "/v1/admin/alerts?date=%s", today);
    t_call(&srv, "GET", path, tok_a, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    json_t *doc = t_json(&r);
    json_t *items = json_object_get(doc, "items");
    int found = 0;
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v)
    {
        if (json_integer_value(json_object_get(v, "product_id")) == pid) {
            found = 1;
            ck_assert_str_eq(json_string_value(json_object_get(v, "direction")), "above");
            ck_assert(json_real_value(json_object_get(v, "deviation_pct")) == 900.0);
            ck_assert_str_eq(json_string_value(json_object_get(v, "stall_no")), "S-1");
            ck_assert_int_eq(json_integer_value(json_object_get(v, "guide_price_fen_per_500g")), 100);
        }
    }
    ck_assert_msg(found, "A's anomaly missing: %s", r.body);
    json_decref(doc);
    t_resp_free(&r);
    /* the default date is today */
    t_call(&srv, "GET", "/v1/admin/alerts", tok_a, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_msg(strstr(r.body, "贵菜") != NULL, "%s", r.body);
    t_resp_free(&r);
    t_call(&srv, "GET", path, tok_b, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    doc = t_json(&r);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    t_resp_free(&r);
}
END_TEST

/* ---------------------------------------------------------------- the done-when flow */

START_TEST(test_the_market_centre_sets_up_a_vendor_who_can_then_sign_in)
{
    tresp_t r;
    char no[32], user[64], cuser[64], path[96], tok[128];
    long long v0 = cache_version(mkt_a.market_id);
    /* a stall */
    int64_t stall = make_stall(tok_a, uniq(no, sizeof(no), "F-"));
    ck_assert_int_gt(cache_version(mkt_a.market_id), v0);
    /* a vendor with two licences at that stall */
    json_t *vb =
        json_pack("{s:s, s:s, s:[I], s:s, s:[{s:s, s:s, s:s}, {s:s, s:s, s:s}], s:s, s:s, s:s}", "name", "王记蔬菜",
                  "contact_phone", "+86-371-6666", "stall_ids", (json_int_t)stall, "business_scope", "新鲜蔬菜、菌菇",
                  "licences", "type", "business_licence", "number", "91410103MA9XXXXX1A", "valid_until", "2031-05-31",
                  "type", "food_business_licence", "number", "JY14101030012345", "valid_until", "2028-02-29",
                  "credit_level", "A", "username", uniq(user, sizeof(user), "wang"), "password", "菜市场-password");
    call_doc(tok_a, "POST", "/v1/admin/vendors", vb, &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    json_t *v = t_json(&r);
    int64_t vid = json_integer_value(json_object_get(v, "id"));
    ck_assert_int_gt(vid, 0);
    ck_assert_str_eq(json_string_value(json_object_get(v, "status")), "active");
    ck_assert_str_eq(json_string_value(json_object_get(v, "name")), "王记蔬菜");
    ck_assert_str_eq(json_string_value(json_object_get(v, "username")), user);
    ck_assert_ptr_null(json_object_get(v, "password"));
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(v, "stall_ids"), 0)), stall);
    ck_assert_int_eq(json_array_size(json_object_get(v, "licences")), 2);
    ck_assert_int_gt(json_integer_value(json_object_get(json_array_get(json_object_get(v, "licences"), 1), "id")), 0);
    json_decref(v);
    t_resp_free(&r);
    ck_assert_int_eq(sql_i64("SELECT vendor_id FROM stalls WHERE id = ?", (db_param_t[]){DB_I64(stall)}, 1), vid);
    /* staff, one valid and one expired */
    pathf(path, sizeof(path), "/v1/admin/vendors/%lld/staff", (long long)vid);
    t_call(&srv, "POST", path, tok_a,
           "{\"name\":\"王小二\",\"certificate\":\"HC-410103-0001\",\"valid_until\":\"2099-01-01\"}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    json_t *s = t_json(&r);
    ck_assert(json_is_true(json_object_get(s, "valid")));
    ck_assert_int_eq(json_integer_value(json_object_get(s, "vendor_id")), vid);
    json_decref(s);
    t_resp_free(&r);
    t_call(&srv, "POST", path, tok_a, "{\"name\":\"李过期\",\"certificate\":\"HC-0\",\"valid_until\":\"2020-01-01\"}",
           &r);
    ck_assert_int_eq(r.status, 201);
    ck_assert_msg(strstr(r.body, "\"valid\":false") != NULL, "%s", r.body);
    t_resp_free(&r);
    /* a courier */
    call_doc(tok_a, "POST", "/v1/admin/couriers",
             json_pack("{s:s, s:s, s:s, s:s}", "name", "骑手小李", "phone", "13900001111", "username",
                       uniq(cuser, sizeof(cuser), "rider"), "password", "rider-pass-1"),
             &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    json_t *c = t_json(&r);
    int64_t cid = json_integer_value(json_object_get(c, "id"));
    ck_assert_int_gt(cid, 0);
    ck_assert_str_eq(json_string_value(json_object_get(c, "status")), "active");
    ck_assert_str_eq(json_string_value(json_object_get(c, "phone")), "13900001111");
    json_decref(c);
    t_resp_free(&r);
    /* the vendor and the courier sign in with what the operator gave them */
    call_doc(NULL, "POST", "/v1/auth/login", json_pack("{s:s, s:s}", "username", user, "password", "菜市场-password"),
             &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    json_t *login = t_json(&r);
    json_t *u = json_object_get(login, "user");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(login, "token")));
    ck_assert_str_eq(json_string_value(json_object_get(u, "role")), "vendor");
    ck_assert_int_eq(json_integer_value(json_object_get(u, "vendor_id")), vid);
    ck_assert_int_eq(json_integer_value(json_object_get(u, "market_id")), mkt_a.market_id);
    json_decref(login);
    t_resp_free(&r);
    ck_assert_int_eq(t_login(&srv, cuser, "rider-pass-1", tok, sizeof(tok)), 0);
    ck_assert_int_eq(t_login(&srv, user, "wrong-password", tok, sizeof(tok)), 401);
}
END_TEST

START_TEST(test_a_vendor_change_replaces_stalls_and_licences_and_refuses_what_it_cannot_do)
{
    tresp_t r;
    char no[32], path[96], body[256];
    int64_t s1 = make_stall(tok_a, uniq(no, sizeof(no), "P-")), s2 = make_stall(tok_a, uniq(no, sizeof(no), "P-"));
    int64_t s3 = make_stall(tok_a, uniq(no, sizeof(no), "P-"));
    int64_t two[] = {s1, s2};
    call_doc(tok_a, "POST", "/v1/admin/vendors", vendor_body(two, 2), &r);
    ck_assert_int_eq(r.status, 201);
    int64_t vid = id_of(&r);
    t_resp_free(&r);
    pathf(path, sizeof(path), "/v1/admin/vendors/%lld", (long long)vid);
    snprintf(body, sizeof(body),
             "{\"stall_ids\":[%lld,%lld],\"credit_level\":\"D\",\"status\":\"suspended\",\"licences\":[]}",
             (long long)s2, (long long)s3);
    t_call(&srv, "PATCH", path, tok_a, body, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    json_t *v = t_json(&r);
    ck_assert_str_eq(json_string_value(json_object_get(v, "credit_level")), "D");
    ck_assert_str_eq(json_string_value(json_object_get(v, "status")), "suspended");
    ck_assert_str_eq(json_string_value(json_object_get(v, "name")), "张三");
    ck_assert_int_eq(json_array_size(json_object_get(v, "licences")), 0);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(v, "stall_ids"), 0)), s2);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(v, "stall_ids"), 1)), s3);
    json_decref(v);
    t_resp_free(&r);
    ck_assert_int_eq(sql_i64("SELECT vendor_id IS NULL FROM stalls WHERE id = ?", (db_param_t[]){DB_I64(s1)}, 1), 1);
    /* a product at s2 keeps the stall from being released */
    sql_i64("INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name, pricing_mode,"
            " price_fen, unit, stock) VALUES (?, ?, ?, 'veg', 'A01', '白菜', 'count', 300, '个', 10) RETURNING id",
            (db_param_t[]){DB_I64(mkt_a.market_id), DB_I64(s2), DB_I64(vid)}, 3);
    snprintf(body, sizeof(body), "{\"stall_ids\":[%lld],\"name\":\"不该改\"}", (long long)s3);
    expect_refused(tok_a, "PATCH", path, body, 409, "stall_has_products");
    /* a stall another vendor holds */
    snprintf(body, sizeof(body), "{\"stall_ids\":[%lld,%lld,%lld]}", (long long)s2, (long long)s3, (long long)stall_a);
    expect_refused(tok_a, "PATCH", path, body, 409, "stall_taken");
    expect_refused(tok_a, "PATCH", path, "{}", 422, "invalid");
    expect_refused(tok_a, "PATCH", path, "{\"username\":\"newname\"}", 422, "invalid");
    expect_refused(tok_a, "PATCH", path, "{\"password\":\"new-password\"}", 422, "invalid");
    expect_refused(tok_a, "PATCH", path, "{\"status\":\"deleted\"}", 422, "invalid");
    expect_refused(tok_a, "PATCH", path, "{\"name\":null}", 422, "invalid");
    expect_refused(tok_a, "PATCH", path, "{\"stall_ids\":[9007199254740992]}", 422, "unknown_stall");
    expect_refused(tok_a, "PATCH", "/v1/admin/vendors/999999999999", "{\"status\":\"closed\"}", 404, "not_found");
    expect_refused(tok_a, "PATCH", "/v1/admin/vendors/abc", "{\"status\":\"closed\"}", 404, "not_found");
    expect_refused(tok_a, "PATCH", "/v1/admin/vendors/0", "{\"status\":\"closed\"}", 404, "not_found");
    expect_refused(tok_a, "PATCH", "/v1/admin/vendors/-1", "{\"status\":\"closed\"}", 404, "not_found");
}
END_TEST

/* ---------------------------------------------------------------- conflicts */

START_TEST(test_duplicates_are_409_and_write_nothing)
{
    tresp_t r;
    char no[32], body[512];
    uniq(no, sizeof(no), "D-");
    make_stall(tok_a, no);
    snprintf(body, sizeof(body), "{\"stall_no\":\"%s\",\"zone\":\"B\",\"map\":{\"x\":0,\"y\":0}}", no);
    expect_refused(tok_a, "POST", "/v1/admin/stalls", body, 409, "stall_no_taken");
    for (char *p = no; *p; p++) /* stall numbers compare case-insensitively */
        if (*p >= 'A' && *p <= 'Z')
            *p = (char)(*p - 'A' + 'a');
    snprintf(body, sizeof(body), "{\"stall_no\":\"%s\",\"zone\":\"B\",\"map\":{\"x\":0,\"y\":0}}", no);
    expect_refused(tok_a, "POST", "/v1/admin/stalls", body, 409, "stall_no_taken");
    /* the same number in another market is fine */
    snprintf(body, sizeof(body), "{\"stall_no\":\"%s\",\"zone\":\"B\",\"map\":{\"x\":0,\"y\":0}}", no);
    t_call(&srv, "POST", "/v1/admin/stalls", tok_b, body, &r);
    ck_assert_int_eq(r.status, 201);
    t_resp_free(&r);

    /* a stall with a vendor; a username taken (by the market's own operator) */
    expect_refused_doc(tok_a, "POST", "/v1/admin/vendors", vendor_body(&stall_a, 1), 409, "stall_taken");
    json_t *vb = vendor_body(&free_stall_a, 1);
    json_object_set_new(vb, "username", json_string(mkt_a.op_user));
    expect_refused_doc(tok_a, "POST", "/v1/admin/vendors", vb, 409, "username_taken");
    ck_assert_int_eq(
        sql_i64("SELECT vendor_id IS NULL FROM stalls WHERE id = ?", (db_param_t[]){DB_I64(free_stall_a)}, 1), 1);
    expect_refused_doc(tok_a, "POST", "/v1/admin/couriers",
                       json_pack("{s:s, s:s, s:s, s:s}", "name", "n", "phone", "13900000000", "username", mkt_b.op_user,
                                 "password", "password-1"),
                       409, "username_taken");
}
END_TEST

/* ---------------------------------------------------------------- bad input */

START_TEST(test_bad_stalls_are_refused_and_write_nothing)
{
    char *big = rep("x", 10240);
    char body[12000];
    static const char *const bad[] = {
        "{\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":12,\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"A 01\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"A_01\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"摊位1\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"ABCDEFGHIJKLMNOPQ\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"B-1\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\\u0001\",\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"一二三四五六七八九十一二三四五六七八九十一二三四五六七八九十一二三\","
        "\"map\":{\"x\":1,\"y\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\"}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":[1,1]}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":{\"x\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":{\"x\":-1,\"y\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":{\"x\":100001,\"y\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":9223372036854775807}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":{\"x\":1.5,\"y\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":{\"x\":\"1\",\"y\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1,\"z\":1}}",
        "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1},\"vendor_id\":1}",
        "{\"stall_no\":null,\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}",
        "{}",
        "[]",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_refused(tok_a, "POST", "/v1/admin/stalls", bad[i], 422, "invalid");
    snprintf(body, sizeof(body), "{\"stall_no\":\"B-1\",\"zone\":\"%s\",\"map\":{\"x\":1,\"y\":1}}", big);
    expect_refused(tok_a, "POST", "/v1/admin/stalls", body, 422, "invalid");
    expect_refused(tok_a, "POST", "/v1/admin/stalls", "{\"stall_no\":\"B-1\",", 400, "malformed_json");
    expect_refused(tok_a, "POST", "/v1/admin/stalls",
                   "{\"stall_no\":\"B-1\xff\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":1}}", 400, "malformed_json");
    expect_refused(tok_a, "POST", "/v1/admin/stalls",
                   "{\"stall_no\":\"B-1\",\"zone\":\"A\",\"map\":{\"x\":1,\"y\":99999999999999999999999}}", 400,
                   "malformed_json");
    free(big);
}
END_TEST

/* A valid vendor body with one field replaced by `value` (JSON text; NULL removes it). */
static json_t *vendor_with(const char *key, const char *value)
{
    json_t *vb = vendor_body(&free_stall_a, 1);
    if (value == NULL) {
        json_object_del(vb, key);
        return vb;
    }
    json_error_t e;
    json_t *v = json_loads(value, JSON_DECODE_ANY, &e);
    ck_assert_msg(v != NULL, "test value %s: %s", value, e.text);
    json_object_set_new(vb, key, v);
    return vb;
}

START_TEST(test_bad_vendors_are_refused_and_write_nothing)
{
    char *big = rep("菜", 10240 / 3), *s101 = rep("菜", 101), *s501 = rep("a", 501), *p129 = rep("p", 129);
    char q[12000], lic11[1024] = "[";
    for (int i = 0; i < 11; i++)
        snprintf(lic11 + strlen(lic11), sizeof(lic11) - strlen(lic11),
                 "%s{\"type\":\"t\",\"number\":\"n\",\"valid_until\":\"2030-01-01\"}", i ? "," : "");
    snprintf(lic11 + strlen(lic11), sizeof(lic11) - strlen(lic11), "]");
    const struct {
        const char *key, *value;
    } bad[] = {
        {"name", NULL},
        {"name", "\"\""},
        {"name", "42"},
        {"contact_phone", NULL},
        {"contact_phone", "\"abc-1234\""},
        {"contact_phone", "\"1234\""},
        {"contact_phone", "\"123456789012345678901\""},
        {"contact_phone", "13800138000"},
        {"business_scope", NULL},
        {"business_scope", "\"\""},
        {"credit_level", NULL},
        {"credit_level", "\"E\""},
        {"credit_level", "\"AA\""},
        {"credit_level", "\"a\""},
        {"credit_level", "1"},
        {"username", NULL},
        {"username", "\"ab\""},
        {"username", "\"bad name\""},
        {"username", "\"名字名字\""},
        {"password", NULL},
        {"password", "\"1234567\""},
        {"password", "12345678"},
        {"stall_ids", "null"},
        {"stall_ids", "{}"},
        {"stall_ids", "[0]"},
        {"stall_ids", "[-1]"},
        {"stall_ids", "[\"1\"]"},
        {"stall_ids", "[1.0]"},
        {"stall_ids", "[9007199254740993]"},
        {"stall_ids", "[1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16,17]"},
        {"licences", "{}"},
        {"licences", lic11},
        {"licences", "[1]"},
        {"licences", "[{\"type\":\"business_licence\",\"number\":\"n\"}]"},
        {"licences", "[{\"type\":\"Business\",\"number\":\"n\",\"valid_until\":\"2030-01-01\"}]"},
        {"licences", "[{\"type\":\"\",\"number\":\"n\",\"valid_until\":\"2030-01-01\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"\",\"valid_until\":\"2030-01-01\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\\n\",\"valid_until\":\"2030-01-01\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\",\"valid_until\":\"2026-02-30\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\",\"valid_until\":\"2025-02-29\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\",\"valid_until\":\"2026-13-01\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\",\"valid_until\":\"2026-04-31\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\",\"valid_until\":\"2026-1-01\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\",\"valid_until\":\"0999-01-01\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\",\"valid_until\":\"2026-01-01T00:00:00\"}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\",\"valid_until\":20260101}]"},
        {"licences", "[{\"type\":\"t\",\"number\":\"n\",\"valid_until\":\"2030-01-01\",\"x\":1}]"},
        {"status", "\"active\""}, /* not a field of a new vendor */
        {"extra", "1"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        expect_refused_doc(tok_a, "POST", "/v1/admin/vendors", vendor_with(bad[i].key, bad[i].value), 422, "invalid");
    const char *longs[][2] = {
        {"name", big}, {"name", s101}, {"business_scope", s501}, {"password", p129}, {"username", s501}};
    for (size_t i = 0; i < sizeof(longs) / sizeof(longs[0]); i++) {
        json_t *vb = vendor_body(&free_stall_a, 1);
        json_object_set_new(vb, longs[i][0], json_string(longs[i][1]));
        expect_refused_doc(tok_a, "POST", "/v1/admin/vendors", vb, 422, "invalid");
    }
    snprintf(q, sizeof(q), "{\"name\":\"\xe8\x8f\",\"contact_phone\":\"13800138000\"}");
    expect_refused(tok_a, "POST", "/v1/admin/vendors", q, 400, "malformed_json");
    expect_refused(tok_a, "POST", "/v1/admin/vendors", "{\"name\":\"x\"", 400, "malformed_json");
    expect_refused(tok_a, "POST", "/v1/admin/vendors", "{\"name\":\"x\\u0000y\"}", 400, "malformed_json");
    expect_refused(tok_a, "POST", "/v1/admin/vendors", "{\"name\":\"x\",\"name\":\"y\"}", 400, "malformed_json");
    expect_refused_doc(tok_a, "POST", "/v1/admin/vendors", vendor_with("stall_ids", "[9007199254740992]"), 422,
                       "unknown_stall");
    free(big);
    free(s101);
    free(s501);
    free(p129);
}
END_TEST

START_TEST(test_bad_staff_and_couriers_are_refused_and_write_nothing)
{
    char path[96], body[12000];
    char *big = rep("x", 10240), *s65 = rep("名", 65);
    pathf(path, sizeof(path), "/v1/admin/vendors/%lld/staff", (long long)vendor_a);
    const char *staff[] = {
        "{}",
        "{\"certificate\":\"c\",\"valid_until\":\"2030-01-01\"}",
        "{\"name\":\"n\",\"valid_until\":\"2030-01-01\"}",
        "{\"name\":\"n\",\"certificate\":\"c\"}",
        "{\"name\":\"\",\"certificate\":\"c\",\"valid_until\":\"2030-01-01\"}",
        "{\"name\":1,\"certificate\":\"c\",\"valid_until\":\"2030-01-01\"}",
        "{\"name\":\"n\",\"certificate\":\"c\\u0007\",\"valid_until\":\"2030-01-01\"}",
        "{\"name\":\"n\",\"certificate\":\"c\",\"valid_until\":\"2026-02-30\"}",
        "{\"name\":\"n\",\"certificate\":\"c\",\"valid_until\":\"tomorrow\"}",
        "{\"name\":\"n\",\"certificate\":\"c\",\"valid_until\":\"2030-01-01\",\"valid\":true}",
    };
    for (size_t i = 0; i < sizeof(staff) / sizeof(staff[0]); i++)
        expect_refused(tok_a, "POST", path, staff[i], 422, "invalid");
    snprintf(body, sizeof(body), "{\"name\":\"%s\",\"certificate\":\"c\",\"valid_until\":\"2030-01-01\"}", s65);
    expect_refused(tok_a, "POST", path, body, 422, "invalid");
    snprintf(body, sizeof(body), "{\"name\":\"n\",\"certificate\":\"%s\",\"valid_until\":\"2030-01-01\"}", big);
    expect_refused(tok_a, "POST", path, body, 422, "invalid");
    expect_refused(tok_a, "POST", path, "{\"name\":\"n\xc0\",\"certificate\":\"c\",\"valid_until\":\"2030-01-01\"}",
                   400, "malformed_json");
    expect_refused(tok_a, "POST", "/v1/admin/vendors/999999999999/staff",
                   "{\"name\":\"n\",\"certificate\":\"c\",\"valid_until\":\"2030-01-01\"}", 404, "not_found");

    const char *couriers[] = {
        "{}",
        "{\"phone\":\"13900000000\",\"username\":\"ridr1\",\"password\":\"password-1\"}",
        "{\"name\":\"n\",\"username\":\"ridr1\",\"password\":\"password-1\"}",
        "{\"name\":\"n\",\"phone\":\"13900000000\",\"password\":\"password-1\"}",
        "{\"name\":\"n\",\"phone\":\"13900000000\",\"username\":\"ridr1\"}",
        "{\"name\":\"n\",\"phone\":\"phone\",\"username\":\"ridr1\",\"password\":\"password-1\"}",
        "{\"name\":\"n\",\"phone\":13900000000,\"username\":\"ridr1\",\"password\":\"password-1\"}",
        "{\"name\":\"n\",\"phone\":\"13900000000\",\"username\":\"r\",\"password\":\"password-1\"}",
        "{\"name\":\"n\",\"phone\":\"13900000000\",\"username\":\"ridr1\",\"password\":\"short\"}",
        "{\"name\":\"n\",\"phone\":\"13900000000\",\"username\":\"ridr1\",\"password\":\"password-1\",\"status\":"
        "\"x\"}",
    };
    for (size_t i = 0; i < sizeof(couriers) / sizeof(couriers[0]); i++)
        expect_refused(tok_a, "POST", "/v1/admin/couriers", couriers[i], 422, "invalid");
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"phone\":\"13900000000\",\"username\":\"ridr1\",\"password\":"
             "\"password-1\"}",
             big);
    expect_refused(tok_a, "POST", "/v1/admin/couriers", body, 422, "invalid");
    expect_refused(tok_a, "POST", "/v1/admin/couriers", "{\"name\":", 400, "malformed_json");
    free(big);
    free(s65);
}
END_TEST

static json_t *guide_body(const char *date, const char *item_json)
{
    json_error_t e;
    json_t *it = json_loads(item_json, JSON_DECODE_ANY, &e);
    ck_assert_msg(it != NULL, "test item %s: %s", item_json, e.text);
    return json_pack("{s:s, s:[o]}", "date", date, "items", it);
}

START_TEST(test_bad_guide_prices_notices_and_alert_dates_are_refused)
{
    char today[16], far[16], past[16], path[64];
    char *big = rep("x", 10240), *t201 = rep("标", 201), *b10001 = rep("b", 10001);
    day(today, sizeof(today), 0);
    day(far, sizeof(far), 367);
    day(past, sizeof(past), -367);
    const char *ok_item = "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":100,\"per_g\":500}";
    const char *items[] = {
        "1",
        "{\"name\":\"菜\",\"price_fen\":100,\"per_g\":500}",
        "{\"commodity_code\":\"a01\",\"name\":\"菜\",\"price_fen\":100,\"per_g\":500}",
        "{\"commodity_code\":\"A-01\",\"name\":\"菜\",\"price_fen\":100,\"per_g\":500}",
        "{\"commodity_code\":\"A0123456789012345\",\"name\":\"菜\",\"price_fen\":100,\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"price_fen\":100,\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"name\":\"\",\"price_fen\":100,\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":0,\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":-100,\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":10000001,\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":9223372036854775807,\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":1.5,\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":\"100\",\"per_g\":500}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":100}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":100,\"per_g\":0}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":100,\"per_g\":100001}",
        "{\"commodity_code\":\"A01\",\"name\":\"菜\",\"price_fen\":100,\"per_g\":500,\"unit\":\"个\"}",
    };
    for (size_t i = 0; i < sizeof(items) / sizeof(items[0]); i++)
        expect_refused_doc(tok_a, "PUT", "/v1/admin/guide-prices", guide_body(today, items[i]), 422, "invalid");
    const char *dates[] = {"2026-02-30", "2026-00-10", "20260101", "", far, past};
    for (size_t i = 0; i < sizeof(dates) / sizeof(dates[0]); i++)
        expect_refused_doc(tok_a, "PUT", "/v1/admin/guide-prices", guide_body(dates[i], ok_item), 422, "invalid");
    /* whole bodies */
    json_t *dup = guide_body(today, ok_item);
    json_array_append_new(json_object_get(dup, "items"), json_pack("{s:s, s:s, s:i, s:i}", "commodity_code", "A01",
                                                                   "name", "又一个", "price_fen", 200, "per_g", 500));
    expect_refused_doc(tok_a, "PUT", "/v1/admin/guide-prices", dup, 422, "invalid");
    json_t *many = json_pack("{s:s, s:[]}", "date", today, "items");
    for (int i = 0; i < 501; i++) { /* distinct codes, so only the count is wrong */
        char code[16];
        snprintf(code, sizeof(code), "B%d", i);
        json_array_append_new(json_object_get(many, "items"), json_pack("{s:s, s:s, s:i, s:i}", "commodity_code", code,
                                                                        "name", "菜", "price_fen", 100, "per_g", 500));
    }
    expect_refused_doc(tok_a, "PUT", "/v1/admin/guide-prices", many, 422, "invalid");
    expect_refused_doc(tok_a, "PUT", "/v1/admin/guide-prices", json_pack("{s:s, s:[]}", "date", today, "items"), 422,
                       "invalid");
    expect_refused_doc(tok_a, "PUT", "/v1/admin/guide-prices", json_pack("{s:s}", "date", today), 422, "invalid");
    expect_refused_doc(tok_a, "PUT", "/v1/admin/guide-prices", json_pack("{s:s, s:{}}", "date", today, "items"), 422,
                       "invalid");
    json_t *bigname = guide_body(today, ok_item);
    json_object_set_new(json_array_get(json_object_get(bigname, "items"), 0), "name", json_string(big));
    expect_refused_doc(tok_a, "PUT", "/v1/admin/guide-prices", bigname, 422, "invalid");
    expect_refused(tok_a, "PUT", "/v1/admin/guide-prices", "{\"date\":", 400, "malformed_json");

    /* notices */
    const char *notices[] = {
        "{}",
        "{\"title\":\"t\"}",
        "{\"body\":\"b\"}",
        "{\"title\":\"\",\"body\":\"b\"}",
        "{\"title\":\"t\",\"body\":\"\"}",
        "{\"title\":\"a\\nb\",\"body\":\"b\"}",
        "{\"title\":1,\"body\":\"b\"}",
        "{\"title\":\"t\",\"body\":[\"b\"]}",
        "{\"title\":\"t\",\"body\":\"b\",\"pinned\":true}",
    };
    for (size_t i = 0; i < sizeof(notices) / sizeof(notices[0]); i++)
        expect_refused(tok_a, "POST", "/v1/admin/notices", notices[i], 422, "invalid");
    expect_refused_doc(tok_a, "POST", "/v1/admin/notices", json_pack("{s:s, s:s}", "title", t201, "body", "b"), 422,
                       "invalid");
    expect_refused_doc(tok_a, "POST", "/v1/admin/notices", json_pack("{s:s, s:s}", "title", big, "body", "b"), 422,
                       "invalid");
    expect_refused_doc(tok_a, "POST", "/v1/admin/notices", json_pack("{s:s, s:s}", "title", "t", "body", b10001), 422,
                       "invalid");
    expect_refused(tok_a, "POST", "/v1/admin/notices", "{\"title\":\"\xff\xfe\",\"body\":\"b\"}", 400,
                   "malformed_json");

    /* alert dates */
    const char *qs[] = {"2026-02-30", "x", "%ZZ", "2026-02-28%00", "2026-2-28"};
    for (size_t i = 0; i < sizeof(qs) / sizeof(qs[0]); i++) {
        pathf(path, sizeof(path), "/v1/admin/alerts?date=%s", qs[i]);
        expect_refused(tok_a, "GET", path, NULL, 422, "invalid");
    }
    free(big);
    free(t201);
    free(b10001);
}
END_TEST

/* ---------------------------------------------------------------- good writes */

START_TEST(test_guide_prices_and_notices_are_written_and_bump_the_catalogue)
{
    tresp_t r;
    char today[16], body[512];
    day(today, sizeof(today), 0);
    long long v0 = cache_version(mkt_a.market_id);
    snprintf(body, sizeof(body),
             "{\"date\":\"%s\",\"items\":[{\"commodity_code\":\"A010101\",\"name\":\"菠菜\",\"price_fen\":300,"
             "\"per_g\":500},{\"commodity_code\":\"A010201\",\"name\":\"土豆\",\"price_fen\":400,\"per_g\":1000}]}",
             today);
    t_call(&srv, "PUT", "/v1/admin/guide-prices", tok_a, body, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    json_t *doc = t_json(&r);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "date")), today);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 2);
    json_decref(doc);
    t_resp_free(&r);
    long long v1 = cache_version(mkt_a.market_id);
    ck_assert_int_gt(v1, v0);
    /* the same date again replaces the price */
    snprintf(body, sizeof(body),
             "{\"date\":\"%s\",\"items\":[{\"commodity_code\":\"A010101\",\"name\":\"菠菜\",\"price_fen\":350,"
             "\"per_g\":500}]}",
             today);
    t_call(&srv, "PUT", "/v1/admin/guide-prices", tok_a, body, &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
    ck_assert_int_eq(sql_i64("SELECT price_fen FROM guide_prices WHERE market_id = ? AND date = ?"
                             " AND commodity_code = 'A010101'",
                             (db_param_t[]){DB_I64(mkt_a.market_id), DB_STR(today)}, 2),
                     350);
    ck_assert_int_eq(sql_i64("SELECT COUNT(*) FROM guide_prices WHERE market_id = ? AND date = ?"
                             " AND commodity_code IN ('A010101', 'A010201')",
                             (db_param_t[]){DB_I64(mkt_a.market_id), DB_STR(today)}, 2),
                     2);
    /* a notice */
    t_call(&srv, "POST", "/v1/admin/notices", tok_a,
           "{\"title\":\"春节休市\",\"body\":\"初一至初三休市。\\n初四照常。\"}", &r);
    ck_assert_msg(r.status == 201, "%ld %s", r.status, r.body);
    doc = t_json(&r);
    ck_assert_int_gt(json_integer_value(json_object_get(doc, "id")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "body")), "初一至初三休市。\n初四照常。");
    const char *at = json_string_value(json_object_get(doc, "published_at"));
    ck_assert_msg(at != NULL && strlen(at) == 29 && strcmp(at + 23, "+08:00") == 0, "published_at %s", at);
    json_decref(doc);
    t_resp_free(&r);
    ck_assert_int_gt(cache_version(mkt_a.market_id), v1);
    /* a refused write bumps nothing */
    long long v2 = cache_version(mkt_a.market_id);
    expect_refused(tok_a, "POST", "/v1/admin/notices", "{}", 422, "invalid");
    ck_assert_int_eq(cache_version(mkt_a.market_id), v2);
}
END_TEST

/* ---------------------------------------------------------------- lists */

/* Walks a list (base: path with or without a query) `limit` at a time, checking every page
 * is at most limit long, ids ascend, and only the last page lacks a cursor. The ids into
 * ids (at most max); the items, when items is not NULL, appended to it. The count. */
static size_t walk(const char *token, const char *base, size_t limit, int64_t *ids, size_t max, json_t *items)
{
    char path[512], cursor[128] = "";
    size_t n = 0, pages = 0;
    int64_t last = 0;
    for (;;) {
        tresp_t r;
        pathf(path, sizeof(path), "%s%climit=%zu%s%s", base, strchr(base, '?') ? '&' : '?', limit,
              cursor[0] ? "&cursor=" : "", cursor);
        t_call(&srv, "GET", path, token, NULL, &r);
        ck_assert_msg(r.status == 200, "%s: %ld %s", path, r.status, r.body);
        json_t *doc = t_json(&r), *page = json_object_get(doc, "items"), *next = json_object_get(doc, "next_cursor"),
               *v;
        size_t i;
        ck_assert_msg(json_is_array(page) && json_array_size(page) <= limit, "%s: %s", path, r.body);
        ck_assert_msg(json_object_size(doc) == 2 && (json_is_null(next) || json_is_string(next)), "%s", r.body);
        json_array_foreach(page, i, v)
        {
            int64_t id = json_integer_value(json_object_get(v, "id"));
            ck_assert_msg(id > last, "%s: ids not ascending: %s", path, r.body);
            ck_assert_msg(n < max, "%s: too many rows", path);
            ids[n++] = last = id;
            if (items != NULL)
                json_array_append(items, v);
        }
        if (json_is_string(next))
            ck_assert_msg(json_array_size(page) == limit, "a short page with a cursor: %s", r.body);
        snprintf(cursor, sizeof(cursor), "%s", json_is_string(next) ? json_string_value(next) : "");
        json_decref(doc);
        t_resp_free(&r);
        ck_assert_msg(++pages < 200, "%s: no end", base);
        if (cursor[0] == '\0')
            return n;
    }
}

static int has_id(const int64_t *ids, size_t n, int64_t id)
{
    for (size_t i = 0; i < n; i++)
        if (ids[i] == id)
            return 1;
    return 0;
}

/* The ids a list of market C shows, which must be exactly want (ascending). */
static void expect_ids(const char *token, const char *base, size_t limit, const int64_t *want, size_t nwant)
{
    int64_t got[64];
    size_t n = walk(token, base, limit, got, 64, NULL);
    ck_assert_msg(n == nwant, "%s: %zu rows, want %zu", base, n, nwant);
    for (size_t i = 0; i < n; i++)
        ck_assert_msg(got[i] == want[i], "%s: row %zu is %lld, want %lld", base, i, (long long)got[i],
                      (long long)want[i]);
}

static json_t *make_vendor(const char *token, const int64_t *stalls, size_t n, const char *name)
{
    tresp_t r;
    json_t *vb = vendor_body(stalls, n);
    json_object_set_new(vb, "name", json_string(name));
    call_doc(token, "POST", "/v1/admin/vendors", vb, &r);
    ck_assert_msg(r.status == 201, "vendor: %ld %s", r.status, r.body);
    json_t *doc = t_json(&r);
    t_resp_free(&r);
    return doc;
}

static int64_t make_courier(const char *token, const char *name)
{
    tresp_t r;
    char user[64];
    call_doc(token, "POST", "/v1/admin/couriers",
             json_pack("{s:s, s:s, s:s, s:s}", "name", name, "phone", "13900139000", "username",
                       uniq(user, sizeof(user), "k"), "password", "courier-pass-1"),
             &r);
    ck_assert_msg(r.status == 201, "courier: %ld %s", r.status, r.body);
    int64_t id = id_of(&r);
    t_resp_free(&r);
    return id;
}

START_TEST(test_the_lists_show_exactly_this_markets_rows_once_each_a_page_at_a_time)
{
    t_market_t mc;
    tresp_t r;
    char tok_c[128], no[32], path[96];
    int64_t stalls[5], vendors[3], couriers[3], other[256];
    t_fixture_market(&mc);
    ck_assert_int_eq(t_login(&srv, mc.op_user, mc.op_pass, tok_c, sizeof(tok_c)), 0);
    for (size_t i = 0; i < 5; i++)
        stalls[i] = make_stall(tok_c, uniq(no, sizeof(no), "L"));
    json_t *v1 = make_vendor(tok_c, &stalls[0], 1, "Alpha 50%_x"), *v2 = make_vendor(tok_c, &stalls[1], 1, "Beta"),
           *v3 = make_vendor(tok_c, NULL, 0, "alpha plain");
    vendors[0] = json_integer_value(json_object_get(v1, "id"));
    vendors[1] = json_integer_value(json_object_get(v2, "id"));
    vendors[2] = json_integer_value(json_object_get(v3, "id"));
    json_decref(v3);
    pathf(path, sizeof(path), "/v1/admin/vendors/%lld", (long long)vendors[2]);
    t_call(&srv, "PATCH", path, tok_c, "{\"status\":\"suspended\"}", &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    v3 = t_json(&r);
    t_resp_free(&r);
    for (size_t i = 0; i < 3; i++)
        couriers[i] = make_courier(tok_c, i == 1 ? "李四" : "王五");

    /* every row once, in id order, 2 at a time (and 100 at a time) */
    expect_ids(tok_c, "/v1/admin/stalls", 2, stalls, 5);
    expect_ids(tok_c, "/v1/admin/stalls", 100, stalls, 5);
    expect_ids(tok_c, "/v1/admin/couriers", 2, couriers, 3);
    expect_ids(tok_c, "/v1/admin/vendors", 2, vendors, 3);
    expect_ids(tok_c, "/v1/admin/vendors", 1, vendors, 3);

    /* the items are what POST and PATCH answered */
    json_t *items = json_array();
    int64_t ids[8];
    ck_assert_uint_eq(walk(tok_c, "/v1/admin/vendors", 2, ids, 8, items), 3);
    ck_assert_msg(json_equal(json_array_get(items, 0), v1), "vendor 1 differs");
    ck_assert_msg(json_equal(json_array_get(items, 1), v2), "vendor 2 differs");
    ck_assert_msg(json_equal(json_array_get(items, 2), v3), "vendor 3 differs");
    ck_assert_ptr_null(json_object_get(json_array_get(items, 0), "password"));
    json_array_clear(items);
    walk(tok_c, "/v1/admin/stalls", 2, ids, 8, items);
    json_t *want = json_pack("{s:I, s:s, s:s, s:{s:i, s:i}, s:I}", "id", (json_int_t)stalls[0], "stall_no",
                             json_string_value(json_object_get(json_array_get(items, 0), "stall_no")), "zone", "A区",
                             "map", "x", 10, "y", 20, "vendor_id", (json_int_t)vendors[0]);
    ck_assert_msg(json_equal(json_array_get(items, 0), want), "stall 1 differs");
    json_decref(want);
    ck_assert_msg(json_is_null(json_object_get(json_array_get(items, 4), "vendor_id")), "free stall has a vendor");
    ck_assert_uint_eq(json_object_size(json_array_get(items, 4)), 5);
    json_array_clear(items);
    walk(tok_c, "/v1/admin/couriers", 2, ids, 8, items);
    want = json_pack("{s:I, s:s, s:s, s:s}", "id", (json_int_t)couriers[1], "name", "李四", "phone", "13900139000",
                     "status", "active");
    ck_assert_msg(json_equal(json_array_get(items, 1), want), "courier 2 differs");
    json_decref(want);
    json_decref(items);

    /* filters */
    int64_t active[] = {vendors[0], vendors[1]};
    expect_ids(tok_c, "/v1/admin/vendors?status=suspended", 2, &vendors[2], 1);
    expect_ids(tok_c, "/v1/admin/vendors?status=active", 1, active, 2);
    expect_ids(tok_c, "/v1/admin/vendors?status=closed", 2, NULL, 0);
    int64_t alphas[] = {vendors[0], vendors[2]};
    expect_ids(tok_c, "/v1/admin/vendors?q=ALPHA", 1, alphas, 2);
    expect_ids(tok_c, "/v1/admin/vendors?q=%25", 2, vendors, 1);    /* % is a character, not a wildcard */
    expect_ids(tok_c, "/v1/admin/vendors?q=_", 2, vendors, 1);      /* so is _ */
    expect_ids(tok_c, "/v1/admin/vendors?q=50%25_", 2, vendors, 1); /* and together */
    expect_ids(tok_c, "/v1/admin/vendors?q=", 2, vendors, 3);       /* empty: no filter */
    expect_ids(tok_c, "/v1/admin/vendors?q=alpha&status=suspended", 2, &vendors[2], 1);
    expect_ids(tok_c, "/v1/admin/vendors?q=Beta&status=suspended", 2, NULL, 0);

    /* one vendor */
    t_call(&srv, "GET", path, tok_c, NULL, &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    json_t *got = t_json(&r);
    ck_assert_msg(json_equal(got, v3), "GET differs from PATCH: %s", r.body);
    json_decref(got);
    t_resp_free(&r);

    /* another market's operator sees none of them, and 404 for each (each list compared with
     * the ids of its own table: a stall and a courier may well share a number) */
    const struct {
        const char *path;
        const int64_t *ids;
        size_t n;
    } lists[] = {
        {"/v1/admin/stalls", stalls, 5}, {"/v1/admin/vendors", vendors, 3}, {"/v1/admin/couriers", couriers, 3}};
    for (size_t l = 0; l < 3; l++) {
        size_t n = walk(tok_b, lists[l].path, 100, other, 256, NULL);
        for (size_t i = 0; i < lists[l].n; i++)
            ck_assert_msg(!has_id(other, n, lists[l].ids[i]), "%s of B shows a row of C", lists[l].path);
    }
    size_t nb = walk(tok_b, "/v1/admin/stalls", 100, other, 256, NULL);
    ck_assert_msg(has_id(other, nb, stall_b), "B's own stall is missing");
    for (size_t i = 0; i < 3; i++) {
        pathf(path, sizeof(path), "/v1/admin/vendors/%lld", (long long)vendors[i]);
        expect_refused(tok_b, "GET", path, NULL, 404, "not_found");
    }
    json_decref(v1);
    json_decref(v2);
    json_decref(v3);
}
END_TEST

START_TEST(test_bad_list_parameters_are_422_and_unknown_vendors_404)
{
    static const char *const lists[] = {"/v1/admin/vendors", "/v1/admin/stalls", "/v1/admin/couriers"};
    static const char *const bad[] = {
        "limit=0",      "limit=101",
        "limit=-1",     "limit=abc",
        "limit=1.5",    "limit=",
        "cursor=!!!",   "cursor=MA",
        "cursor=YWJj",  "cursor=LTU",
        "cursor=MDEy",  "cursor=",
        "cursor=MA%3D", "cursor=OTAwNzE5OTI1NDc0MDk5Mw",
    };
    char path[256];
    char *longc = rep("QUFB", 2500); /* 10 KB */
    for (size_t l = 0; l < 3; l++) {
        for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
            pathf(path, sizeof(path), "%s?%s", lists[l], bad[i]);
            expect_refused(tok_a, "GET", path, NULL, 422, "invalid");
        }
        char *p = malloc(strlen(longc) + 64);
        ck_assert_ptr_nonnull(p);
        sprintf(p, "%s?cursor=%s", lists[l], longc);
        expect_refused(tok_a, "GET", p, NULL, 422, "invalid");
        free(p);
    }
    static const char *const bad_vendor[] = {"status=bogus", "status=ACTIVE", "status=", "q=%01", "q=a%0Ab"};
    for (size_t i = 0; i < sizeof(bad_vendor) / sizeof(bad_vendor[0]); i++) {
        pathf(path, sizeof(path), "/v1/admin/vendors?%s", bad_vendor[i]);
        expect_refused(tok_a, "GET", path, NULL, 422, "invalid");
    }
    char *p = malloc(strlen(longc) + 64);
    ck_assert_ptr_nonnull(p);
    sprintf(p, "/v1/admin/vendors?q=%s", longc);
    expect_refused(tok_a, "GET", p, NULL, 422, "invalid");
    free(p);
    free(longc);
    static const char *const unknown[] = {"/v1/admin/vendors/9007199254740992", "/v1/admin/vendors/0",
                                          "/v1/admin/vendors/abc", "/v1/admin/vendors/-1"};
    for (size_t i = 0; i < 4; i++)
        expect_refused(tok_a, "GET", unknown[i], NULL, 404, "not_found");
    /* A's own vendor is there */
    tresp_t r;
    pathf(path, sizeof(path), "/v1/admin/vendors/%lld", (long long)vendor_a);
    t_call(&srv, "GET", path, tok_a, NULL, &r);
    ck_assert_msg(r.status == 200 && id_of(&r) == vendor_a, "%ld %s", r.status, r.body);
    t_resp_free(&r);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *su = suite_create("operator");
    TCase *tc = tcase_create("operator");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_operator_routes_refuse_no_token_consumers_and_vendors);
    tcase_add_test(tc, test_another_markets_operator_gets_404_for_this_markets_vendor);
    tcase_add_test(tc, test_another_markets_alerts_never_show_this_markets_products);
    tcase_add_test(tc, test_the_market_centre_sets_up_a_vendor_who_can_then_sign_in);
    tcase_add_test(tc, test_a_vendor_change_replaces_stalls_and_licences_and_refuses_what_it_cannot_do);
    tcase_add_test(tc, test_duplicates_are_409_and_write_nothing);
    tcase_add_test(tc, test_bad_stalls_are_refused_and_write_nothing);
    tcase_add_test(tc, test_bad_vendors_are_refused_and_write_nothing);
    tcase_add_test(tc, test_bad_staff_and_couriers_are_refused_and_write_nothing);
    tcase_add_test(tc, test_bad_guide_prices_notices_and_alert_dates_are_refused);
    tcase_add_test(tc, test_guide_prices_and_notices_are_written_and_bump_the_catalogue);
    tcase_add_test(tc, test_the_lists_show_exactly_this_markets_rows_once_each_a_page_at_a_time);
    tcase_add_test(tc, test_bad_list_parameters_are_422_and_unknown_vendors_404);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    curl_global_cleanup();
    if (srv_exit != 0) {
        fprintf(stderr, "the server exited with %d: see %s\n", srv_exit, srv.log_path);
        failed++;
    }
    return failed == 0 ? 0 : 1;
}
