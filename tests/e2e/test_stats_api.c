/*
 * End to end: the statistics routes on the real server. The people's: the public ranking
 * (GET /v1/markets/{id}/rankings, by sales or volume, per period), a vendor's own
 * (GET /v1/vendor/stats) and the market centre's (GET /v1/admin/stats), with their roles,
 * their confinement to the caller's vendor or market, and every refusal of bad dates. The
 * platforms' (GET /v1/platform/markets/{id}/transactions|summary|online-sales|reconcile),
 * signed through tests/support/platclient.h, with the grant, paging by cursor and the bad
 * parameters. Sale lines (and their versions, for the feed) are written with SQL: two markets
 * A and B, today and yesterday (+08:00), a rejected line, a lighter weighing, a tie in volume.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/base/cursor.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/platclient.h"
#include "tests/support/testutil.h"

static const char *const test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox", "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                                       "STALLFRONT_AUTH_LOGIN_WINDOW_S=1", "STALLFRONT_STATS_MAX_DAYS=31", NULL};

static tserver_t srv;
static int srv_exit = 0;
static t_market_t mkt_a, mkt_b;
static char tok_a[128], tok_b[128], tok_consumer[128], tok_va1[128], tok_va2[128], tok_vb[128];
static int64_t stall_a1, stall_a2, stall_b1, va1, va2, vb;
static char today[16], yesterday[16];
static int seq;

/* ---------------------------------------------------------------- helpers */

static const char *uniq(char *buf, size_t len, const char *prefix)
{
    snprintf(buf, len, "%s%d-%d", prefix, (int)getpid(), seq++);
    return buf;
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

static void pathf(char *buf, size_t len, const char *fmt, ...) __attribute__((format(printf, 3, 4)));
static void pathf(char *buf, size_t len, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, len, fmt, ap);
    va_end(ap);
}

static void call_doc(const char *token, const char *method, const char *path, json_t *doc, tresp_t *r)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    json_decref(doc);
    t_call(&srv, method, path, token, text, r);
    free(text);
}

static int64_t id_of(const tresp_t *r)
{
    json_t *doc = t_json(r);
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    json_decref(doc);
    return id;
}

/* GET path as token: the status and the answer (decref). */
static json_t *get(const char *token, const char *path, long *status)
{
    tresp_t r;
    t_call(&srv, "GET", path, token, NULL, &r);
    *status = r.status;
    json_t *doc = t_json(&r);
    t_resp_free(&r);
    return doc;
}

/* GET path must answer 200; the document. */
static json_t *get_ok(const char *token, const char *path)
{
    long st = 0;
    json_t *doc = get(token, path, &st);
    char *text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(st == 200, "%s: %ld %s", path, st, text);
    free(text);
    return doc;
}

/* GET path must be refused with want in the error shape, with that code and field (either
 * NULL: not checked). */
static void refused(const char *token, const char *path, long want, const char *code, const char *field)
{
    long st = 0;
    json_t *doc = get(token, path, &st);
    json_t *err = json_object_get(doc, "error");
    ck_assert_msg(st == want, "%s: %ld, want %ld", path, st, want);
    ck_assert_msg(json_is_object(err), "%s: no error object", path);
    if (code != NULL)
        ck_assert_str_eq(json_string_value(json_object_get(err, "code")), code);
    if (field != NULL)
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(err, "details"), "field")), field);
    json_decref(doc);
}

static int64_t jint(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
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

/* A vendor on one stall, made by the operator; its id, and its token signed in. */
static int64_t make_vendor(const char *op_token, int64_t stall, const char *name, char *token)
{
    char user[64];
    tresp_t r;
    call_doc(op_token, "POST", "/v1/admin/vendors",
             json_pack("{s:s, s:s, s:[I], s:s, s:[{s:s, s:s, s:s}], s:s, s:s, s:s}", "name", name, "contact_phone",
                       "13800138000", "stall_ids", (json_int_t)stall, "business_scope", "蔬菜零售", "licences", "type",
                       "business_licence", "number", "91410100MA44ABCD1X", "valid_until", "2030-12-31", "credit_level",
                       "B", "username", uniq(user, sizeof(user), "sv"), "password", "vendor-pass-1"),
             &r);
    ck_assert_msg(r.status == 201, "vendor: %ld %s", r.status, r.body);
    int64_t id = id_of(&r);
    t_resp_free(&r);
    ck_assert_int_eq(t_login(&srv, user, "vendor-pass-1", token, 128), 0);
    return id;
}

/* ---------------------------------------------------------------- the sales */

typedef struct sale {
    int market_b, yesterday;
    const char *order;
    int64_t *stall, *vendor;
    const char *stall_no;
    int weight, is_void;
    int64_t qty, qty_actual, amount, refunded;
    const char *consumer;
    int delivered_min; /* 0: not delivered */
} sale_t;

static const sale_t sales[] = {
    {0, 0, "A1", &stall_a1, &va1, "S-1", 1, 0, 500, -1, 600, 0, "c1", 40},
    {0, 0, "A1", &stall_a2, &va2, "S-2", 0, 0, 2, -1, 300, 0, "c1", 40},
    {0, 0, "A2", &stall_a1, &va1, "S-1", 0, 1, 1, -1, 1000, 1000, "c2", 0},    /* rejected */
    {0, 0, "A2", &stall_a2, &va2, "S-2", 1, 0, 1000, 900, 1200, 120, "c2", 0}, /* lighter */
    {0, 1, "A3", &stall_a2, &va2, "S-2", 0, 0, 3, -1, 450, 0, "c1", 100},
    {0, 0, "A4", &stall_a1, &va1, "S-1", 0, 0, 1, -1, 10, 0, "c3", 0},
    {1, 0, "B1", &stall_b1, &vb, "S-1", 1, 0, 500, -1, 99999, 0, "c9", 0},
};
#define NSALES (sizeof(sales) / sizeof(sales[0]))

static int64_t event_base;

static void write_sales(void)
{
    config_t cfg;
    db_t db;
    t_load_cfg(&cfg);
    db_thread_init();
    ck_assert_msg(db_open(&db, &cfg) == DB_OK, "%s", db.err);
    /* event ids far above any order line's (the product's event_id = order_lines.id) */
    event_base = t_db_i64(&db,
                          "SELECT GREATEST((SELECT COALESCE(MAX(event_id), 0) FROM sale_lines),"
                          " (SELECT COALESCE(MAX(event_id), 0) FROM sale_line_versions),"
                          " (SELECT COALESCE(MAX(id), 0) FROM order_lines)) + 1000000000",
                          NULL, 0);
    char refs[NSALES][33], orders[NSALES][33];
    for (size_t i = 0; i < NSALES; i++) {
        const sale_t *s = &sales[i];
        int64_t market = s->market_b ? mkt_b.market_id : mkt_a.market_id;
        snprintf(refs[i], 33, "%032d", (int)(s->consumer[1] - '0') + (int)getpid() * 10);
        snprintf(orders[i], 33, "T%d%s", (int)getpid(), s->order);
        /* paid at 00:30 +08:00 of its day, plus a minute per order */
        ck_assert_int_eq(
            db_exec(&db,
                    "INSERT INTO sale_lines (event_id, market_id, paid_date, version, op, order_id, order_no,"
                    " vendor_order_id, stall_id, stall_no, vendor_id, product_id, category, commodity_code, name,"
                    " pricing_mode, price_fen, per_g, unit, qty, qty_actual, amount_fen, refunded_fen, consumer_ref,"
                    " paid_at, ready_at, delivered_at, changed_at)"
                    " SELECT ?, ?, d, 1, ?, ?, ?, ?, ?, ?, ?, ?, 'veg', 'A01', '菠菜', ?, 100, ?, ?, ?, ?, ?, ?, ?,"
                    " p, p + INTERVAL 10 MINUTE, IF(? > 0, p + INTERVAL ? MINUTE, NULL), NOW(3)"
                    " FROM (SELECT CAST(? AS DATE) AS d,"
                    " CAST(? AS DATETIME(3)) - INTERVAL 8 HOUR + INTERVAL 30 MINUTE + INTERVAL ? MINUTE AS p) t",
                    (db_param_t[]){DB_I64(event_base + (int64_t)i),
                                   DB_I64(market),
                                   DB_STR(s->is_void ? "void" : "upsert"),
                                   DB_I64(event_base + (int64_t)(s->order[1] - '0')),
                                   DB_STR(orders[i]),
                                   DB_I64(event_base + (int64_t)i),
                                   DB_I64(*s->stall),
                                   DB_STR(s->stall_no),
                                   DB_I64(*s->vendor),
                                   DB_I64(event_base + 100 + (int64_t)(s->stall == &stall_a2)),
                                   DB_STR(s->weight ? "weight" : "count"),
                                   s->weight ? DB_I64(500) : DB_NULL,
                                   s->weight ? DB_NULL : DB_STR("个"),
                                   DB_I64(s->qty),
                                   s->qty_actual < 0 ? DB_NULL : DB_I64(s->qty_actual),
                                   DB_I64(s->amount),
                                   DB_I64(s->refunded),
                                   DB_STR(refs[i]),
                                   DB_I64(s->delivered_min),
                                   DB_I64(s->delivered_min),
                                   DB_STR(s->yesterday ? yesterday : today),
                                   DB_STR(s->yesterday ? yesterday : today),
                                   DB_I64((int64_t)(s->order[1] - '0'))},
                    23, NULL, NULL),
            DB_OK);
    }
    /* their versions, for the feed: unpositioned, as the product writes them */
    ck_assert_int_eq(db_exec(&db,
                             "INSERT INTO sale_line_versions (event_id, market_id, paid_date, version, op, order_id,"
                             " order_no, vendor_order_id, stall_id, stall_no, vendor_id, product_id, category,"
                             " commodity_code, name, origin, trace_code, pricing_mode, price_fen, per_g, unit, qty,"
                             " qty_actual, amount_fen, refunded_fen, consumer_ref, paid_at, ready_at, delivered_at,"
                             " changed_at) SELECT event_id, market_id, paid_date, version, op, order_id, order_no,"
                             " vendor_order_id, stall_id, stall_no, vendor_id, product_id, category, commodity_code,"
                             " name, origin, trace_code, pricing_mode, price_fen, per_g, unit, qty, qty_actual,"
                             " amount_fen, refunded_fen, consumer_ref, paid_at, ready_at, delivered_at, changed_at"
                             " FROM sale_lines WHERE event_id BETWEEN ? AND ?",
                             (db_param_t[]){DB_I64(event_base), DB_I64(event_base + (int64_t)NSALES)}, 2, NULL, NULL),
                     DB_OK);
    db_close(&db);
    config_free(&cfg);
}

/* ---------------------------------------------------------------- set-up */

static void shared_up(void)
{
    char user[64];
    t_migrate();
    t_fixture_market(&mkt_a);
    t_fixture_market(&mkt_b);
    day(today, sizeof(today), 0);
    day(yesterday, sizeof(yesterday), -1);
    ck_assert_msg(tserver_start(&srv, test_env) == 0, "server did not start");
    ck_assert_int_eq(t_login(&srv, mkt_a.op_user, mkt_a.op_pass, tok_a, sizeof(tok_a)), 0);
    ck_assert_int_eq(t_login(&srv, mkt_b.op_user, mkt_b.op_pass, tok_b, sizeof(tok_b)), 0);
    ck_assert_int_eq(t_login_wechat(&srv, uniq(user, sizeof(user), "sc"), tok_consumer, sizeof(tok_consumer)), 0);
    stall_a1 = make_stall(tok_a, "S-1");
    stall_a2 = make_stall(tok_a, "S-2");
    make_stall(tok_a, "S-3"); /* sells nothing */
    stall_b1 = make_stall(tok_b, "S-1");
    va1 = make_vendor(tok_a, stall_a1, "张三", tok_va1);
    va2 = make_vendor(tok_a, stall_a2, "李四", tok_va2);
    vb = make_vendor(tok_b, stall_b1, "王五", tok_vb);
    write_sales();
}

static void shared_down(void)
{
    srv_exit = tserver_stop(&srv, SIGTERM);
}

/* ---------------------------------------------------------------- rankings */

static void expect_rank(const json_t *it, int64_t stall, int64_t orders, int64_t sales_fen, int64_t rank)
{
    ck_assert_int_eq(jint(it, "stall_id"), stall);
    ck_assert_int_eq(jint(it, "orders"), orders);
    ck_assert_int_eq(jint(it, "sales_fen"), sales_fen);
    ck_assert_int_eq(jint(it, "rank"), rank);
}

START_TEST(test_rankings_are_public_by_sales_or_volume_for_each_period)
{
    char p[128];
    /* today: S-1 sold A1 (600) and A4 (10), its A2 line was rejected; S-2 sold A1 (300) and
     * A2 (1200 less 120 refunded) */
    pathf(p, sizeof(p), "/v1/markets/%lld/rankings?period=day", (long long)mkt_a.market_id);
    json_t *doc = get_ok(NULL, p), *items = json_object_get(doc, "items");
    ck_assert_int_eq(json_array_size(items), 2);
    expect_rank(json_array_get(items, 0), stall_a2, 2, 1380, 1);
    expect_rank(json_array_get(items, 1), stall_a1, 2, 610, 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "vendor_name")), "李四");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "stall_no")), "S-2");
    ck_assert_int_eq(jint(json_array_get(items, 0), "qty_g"), 900);
    ck_assert_int_eq(jint(json_array_get(items, 0), "qty_pieces"), 2);
    ck_assert_int_eq(jint(json_array_get(items, 1), "qty_g"), 500);
    ck_assert_int_eq(jint(json_array_get(items, 1), "qty_pieces"), 1);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    /* today by volume: a tie, both first, by stall id */
    pathf(p, sizeof(p), "/v1/markets/%lld/rankings?period=day&by=volume", (long long)mkt_a.market_id);
    doc = get_ok(NULL, p);
    items = json_object_get(doc, "items");
    ck_assert_int_eq(json_array_size(items), 2);
    expect_rank(json_array_get(items, 0), stall_a1, 2, 610, 1);
    expect_rank(json_array_get(items, 1), stall_a2, 2, 1380, 1);
    json_decref(doc);
    /* the week and the month take yesterday's A3 (450) too */
    static const char *const periods[] = {"week", "month"};
    for (int i = 0; i < 2; i++) {
        pathf(p, sizeof(p), "/v1/markets/%lld/rankings?period=%s&by=volume", (long long)mkt_a.market_id, periods[i]);
        doc = get_ok(NULL, p);
        items = json_object_get(doc, "items");
        ck_assert_int_eq(json_array_size(items), 2);
        expect_rank(json_array_get(items, 0), stall_a2, 3, 1830, 1);
        expect_rank(json_array_get(items, 1), stall_a1, 2, 610, 2);
        json_decref(doc);
    }
    /* the other market ranks only its own */
    pathf(p, sizeof(p), "/v1/markets/%lld/rankings?period=month", (long long)mkt_b.market_id);
    doc = get_ok(tok_consumer, p);
    items = json_object_get(doc, "items");
    ck_assert_int_eq(json_array_size(items), 1);
    expect_rank(json_array_get(items, 0), stall_b1, 1, 99999, 1);
    json_decref(doc);
    /* refusals */
    pathf(p, sizeof(p), "/v1/markets/%lld/rankings?period=year", (long long)mkt_a.market_id);
    refused(NULL, p, 422, "invalid", "period");
    pathf(p, sizeof(p), "/v1/markets/%lld/rankings?by=money", (long long)mkt_a.market_id);
    refused(NULL, p, 422, "invalid", "by");
    refused(NULL, "/v1/markets/999999999/rankings", 404, "not_found", NULL);
}
END_TEST

/* ---------------------------------------------------------------- a vendor's own */

START_TEST(test_a_vendor_sees_its_own_sales_and_nobody_elses)
{
    char p[160];
    /* S-1's vendor today: A1 (600, 500 g), A2 rejected (1000, all refunded), A4 (10, 1 piece) */
    pathf(p, sizeof(p), "/v1/vendor/stats?from=%s&to=%s", today, today);
    json_t *doc = get_ok(tok_va1, p);
    ck_assert_int_eq(jint(doc, "orders"), 3);
    ck_assert_int_eq(jint(doc, "sales_fen"), 1610);
    ck_assert_int_eq(jint(doc, "refunds_fen"), 1000);
    ck_assert_int_eq(jint(doc, "net_sales_fen"), 610);
    ck_assert_int_eq(jint(doc, "items_qty_g"), 500);
    ck_assert_int_eq(jint(doc, "items_qty_pieces"), 1);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "by_day")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "by_product")), 1);
    ck_assert_int_eq(jint(json_array_get(json_object_get(doc, "by_product"), 0), "lines"), 3);
    json_decref(doc);
    /* S-2's vendor over two days, with no dates given for the other: today's only */
    pathf(p, sizeof(p), "/v1/vendor/stats?from=%s", yesterday);
    doc = get_ok(tok_va2, p);
    ck_assert_int_eq(jint(doc, "orders"), 3);
    ck_assert_int_eq(jint(doc, "sales_fen"), 1950);
    ck_assert_int_eq(jint(doc, "refunds_fen"), 120);
    ck_assert_int_eq(jint(doc, "items_qty_g"), 900);
    ck_assert_int_eq(jint(doc, "items_qty_pieces"), 5);
    json_t *bd = json_object_get(doc, "by_day");
    ck_assert_int_eq(json_array_size(bd), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(bd, 0), "date")), yesterday);
    ck_assert_int_eq(jint(json_array_get(bd, 0), "sales_fen"), 450);
    ck_assert_int_eq(jint(json_array_get(bd, 1), "sales_fen"), 1500);
    json_decref(doc);
    doc = get_ok(tok_va2, "/v1/vendor/stats");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "from")), today);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "to")), today);
    ck_assert_int_eq(jint(doc, "sales_fen"), 1500);
    json_decref(doc);
    /* no way to name another vendor: a vendor_id in the query is not a filter */
    pathf(p, sizeof(p), "/v1/vendor/stats?vendor_id=%lld", (long long)va1);
    doc = get_ok(tok_va2, p);
    ck_assert_int_eq(jint(doc, "sales_fen"), 1500);
    json_decref(doc);
    /* the other market's vendor sees its own */
    doc = get_ok(tok_vb, "/v1/vendor/stats");
    ck_assert_int_eq(jint(doc, "sales_fen"), 99999);
    json_decref(doc);
    /* roles */
    refused(NULL, "/v1/vendor/stats", 401, "unauthorized", NULL);
    refused(tok_consumer, "/v1/vendor/stats", 403, "forbidden", NULL);
    refused(tok_a, "/v1/vendor/stats", 403, "forbidden", NULL);
}
END_TEST

/* ---------------------------------------------------------------- the market centre's */

START_TEST(test_the_market_centre_sees_its_own_market)
{
    char p[160];
    pathf(p, sizeof(p), "/v1/admin/stats?from=%s&to=%s", yesterday, today);
    json_t *doc = get_ok(tok_a, p), *k = json_object_get(doc, "kpis");
    ck_assert_int_eq(jint(k, "orders_paid"), 4);
    ck_assert_int_eq(jint(k, "gmv_fen"), 3560);
    ck_assert_int_eq(jint(k, "refunds_fen"), 1120);
    ck_assert_int_eq(jint(k, "net_sales_fen"), 2440);
    ck_assert_int_eq(jint(k, "orders_delivered"), 2);
    ck_assert_int_eq(jint(k, "orders_cancelled"), 0);
    ck_assert_int_eq(jint(k, "active_stalls"), 2);
    ck_assert_int_eq(jint(k, "stalls_total"), 3);
    ck_assert_int_eq(jint(k, "consumers"), 3);
    ck_assert_int_eq(jint(k, "repeat_consumers"), 1);
    ck_assert_int_eq(jint(k, "items_qty_g"), 1400);
    ck_assert_int_eq(jint(k, "items_qty_pieces"), 6);
    ck_assert(json_real_value(json_object_get(k, "delivered_ratio")) == 0.5);
    ck_assert(json_real_value(json_object_get(k, "reject_ratio")) == 0.1667); /* 1 of 6 lines */
    ck_assert(json_real_value(json_object_get(k, "active_stall_ratio")) == 0.6667);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "days")), 2);
    json_t *cats = json_object_get(doc, "categories");
    ck_assert_int_eq(json_array_size(cats), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cats, 0), "category")), "veg");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(cats, 0), "name")), "蔬菜");
    ck_assert(json_real_value(json_object_get(json_array_get(cats, 0), "share")) == 1.0);
    json_t *hist = json_object_get(doc, "delivery_minutes");
    ck_assert_int_eq(json_array_size(hist), 6);
    ck_assert_int_eq(jint(json_array_get(hist, 1), "orders"), 1); /* A1: 40 min */
    ck_assert_int_eq(jint(json_array_get(hist, 4), "orders"), 1); /* A3: 100 min */
    ck_assert(json_is_array(json_object_get(doc, "price_alerts")));
    /* every stall, by sales: S-2 sold A1 300, A2 1200 (120 back) and yesterday's A3 450; S-1
     * A1 600, A4 10 and the rejected A2 1000 (all back); S-3 nothing, and is on the map */
    json_t *st = json_object_get(doc, "stalls");
    ck_assert_int_eq(json_array_size(st), 3);
    static const struct {
        const char *no, *vendor;
        int64_t orders, lines, sales, refunds;
    } want[] = {{"S-2", "李四", 3, 3, 1950, 120}, {"S-1", "张三", 3, 3, 1610, 1000}, {"S-3", NULL, 0, 0, 0, 0}};
    int64_t sum = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *it = json_array_get(st, i), *v = json_object_get(it, "vendor");
        ck_assert_str_eq(json_string_value(json_object_get(it, "stall_no")), want[i].no);
        ck_assert_str_eq(json_string_value(json_object_get(it, "zone")), "A区");
        ck_assert_int_eq(jint(json_object_get(it, "map"), "x"), 10);
        ck_assert_int_eq(jint(json_object_get(it, "map"), "y"), 20);
        if (want[i].vendor == NULL)
            ck_assert(json_is_null(v));
        else {
            ck_assert_str_eq(json_string_value(json_object_get(v, "name")), want[i].vendor);
            ck_assert_int_eq(jint(v, "id"), i == 0 ? va2 : va1);
            ck_assert_int_eq(jint(it, "stall_id"), i == 0 ? stall_a2 : stall_a1);
        }
        ck_assert_int_eq(jint(it, "orders"), want[i].orders);
        ck_assert_int_eq(jint(it, "lines"), want[i].lines);
        ck_assert_int_eq(jint(it, "sales_fen"), want[i].sales);
        ck_assert_int_eq(jint(it, "refunds_fen"), want[i].refunds);
        ck_assert_int_eq(jint(it, "net_sales_fen"), want[i].sales - want[i].refunds);
        sum += jint(it, "sales_fen");
    }
    ck_assert_int_eq(sum, jint(k, "gmv_fen"));
    char *text = json_dumps(doc, JSON_COMPACT);
    ck_assert_ptr_null(strstr(text, "王五")); /* market B's vendor */
    free(text);
    json_decref(doc);
    /* the other market's operator sees only its own */
    pathf(p, sizeof(p), "/v1/admin/stats?from=%s&to=%s", yesterday, today);
    doc = get_ok(tok_b, p);
    ck_assert_int_eq(jint(json_object_get(doc, "kpis"), "gmv_fen"), 99999);
    ck_assert_int_eq(jint(json_object_get(doc, "kpis"), "stalls_total"), 1);
    st = json_object_get(doc, "stalls");
    ck_assert_int_eq(json_array_size(st), 1);
    ck_assert_int_eq(jint(json_array_get(st, 0), "stall_id"), stall_b1);
    ck_assert_int_eq(jint(json_array_get(st, 0), "sales_fen"), 99999);
    json_decref(doc);
    /* a day without sales: every stall still listed, at zero */
    doc = get_ok(tok_a, "/v1/admin/stats?from=2026-01-01&to=2026-01-01");
    st = json_object_get(doc, "stalls");
    ck_assert_int_eq(json_array_size(st), 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(st, 0), "stall_no")), "S-1");
    ck_assert_int_eq(jint(json_array_get(st, 2), "sales_fen"), 0);
    json_decref(doc);
    /* roles */
    refused(NULL, "/v1/admin/stats", 401, "unauthorized", NULL);
    refused(tok_consumer, "/v1/admin/stats", 403, "forbidden", NULL);
    refused(tok_va1, "/v1/admin/stats", 403, "forbidden", NULL);
}
END_TEST

START_TEST(test_bad_date_ranges_are_422_naming_the_parameter)
{
    char p[160], old[16];
    const char *paths[] = {"/v1/admin/stats", "/v1/vendor/stats"};
    const char *tokens[] = {tok_a, tok_va1};
    day(old, sizeof(old), -31); /* 32 days to today: one more than STALLFRONT_STATS_MAX_DAYS */
    for (int i = 0; i < 2; i++) {
        pathf(p, sizeof(p), "%s?from=2026-02-30", paths[i]);
        refused(tokens[i], p, 422, "invalid", "from");
        pathf(p, sizeof(p), "%s?to=yesterday", paths[i]);
        refused(tokens[i], p, 422, "invalid", "to");
        pathf(p, sizeof(p), "%s?from=%s&to=%s", paths[i], today, yesterday);
        refused(tokens[i], p, 422, "invalid", "from");
        pathf(p, sizeof(p), "%s?from=%s", paths[i], old);
        refused(tokens[i], p, 422, "invalid", "to");
        day(old, sizeof(old), -30); /* exactly 31 days: allowed */
        pathf(p, sizeof(p), "%s?from=%s", paths[i], old);
        json_decref(get_ok(tokens[i], p));
        day(old, sizeof(old), -31);
    }
}
END_TEST

/* ---------------------------------------------------------------- the platforms' feed */

static t_platform_t plat;
static int plat_made;

static void platform(void)
{
    if (!plat_made) {
        t_platform_create(&srv, tok_a, "district", (int64_t[]){mkt_a.market_id}, 1, &plat);
        plat_made = 1;
    }
}

static json_t *pget(const char *path, long want)
{
    json_t *doc = NULL;
    long st = t_platform_get(&srv, &plat, path, &doc);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    ck_assert_msg(st == want, "%s: %ld, want %ld: %s", path, st, want, text != NULL ? text : "");
    free(text);
    return doc;
}

static void prefused(const char *path, long want, const char *field)
{
    json_t *doc = pget(path, want);
    json_t *err = json_object_get(doc, "error");
    ck_assert_msg(json_is_object(err), "%s: no error", path);
    if (field != NULL)
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(err, "details"), "field")), field);
    json_decref(doc);
}

START_TEST(test_the_feed_pages_a_markets_versions_by_cursor)
{
    char p[256], cursor[CURSOR_MAX] = "";
    size_t seen = 0;
    platform();
    for (int page = 0; page < 10; page++) {
        if (cursor[0] == '\0')
            pathf(p, sizeof(p), "/v1/platform/markets/%lld/transactions?limit=2", (long long)mkt_a.market_id);
        else
            pathf(p, sizeof(p), "/v1/platform/markets/%lld/transactions?limit=2&cursor=%s", (long long)mkt_a.market_id,
                  cursor);
        json_t *doc = pget(p, 200), *items = json_object_get(doc, "items"), *it;
        size_t i;
        json_array_foreach(items, i, it)
        {
            int64_t e = jint(it, "event_id") - event_base;
            ck_assert_msg(e >= 0 && e < (int64_t)NSALES && !sales[e].market_b, "event %lld", (long long)e);
            ck_assert_int_eq(jint(it, "version"), 1);
            seen++;
        }
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        const char *resume = json_string_value(json_object_get(doc, "resume_cursor"));
        ck_assert_ptr_nonnull(resume);
        if (json_array_size(items) == 2)
            ck_assert_str_eq(next, resume);
        else
            ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
        snprintf(cursor, sizeof(cursor), "%s", resume);
        json_decref(doc);
        if (next == NULL)
            break;
    }
    ck_assert_int_eq(seen, 6); /* market A's six lines, none of B's */
    /* coming back later from the resume cursor: nothing new, the same cursor */
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/transactions?cursor=%s", (long long)mkt_a.market_id, cursor);
    json_t *doc = pget(p, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "resume_cursor")), cursor);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    /* bad parameters */
    char other[CURSOR_MAX];
    ck_assert_int_eq(cursor_encode('o', 0, 5, other, sizeof(other)), 0);
    static const char *const bad[] = {"limit=0", "limit=1001", "limit=abc", "cursor=garbage", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        pathf(p, sizeof(p), "/v1/platform/markets/%lld/transactions?%s", (long long)mkt_a.market_id, bad[i]);
        prefused(p, 422, strncmp(bad[i], "limit", 5) == 0 ? "limit" : "cursor");
    }
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/transactions?cursor=%s", (long long)mkt_a.market_id, other);
    prefused(p, 422, "cursor");
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/transactions?limit=1000", (long long)mkt_a.market_id);
    json_decref(pget(p, 200));
    /* an empty cursor is the beginning of the log, as API.md's `?cursor=&limit=` reads */
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/transactions?cursor=&limit=1000", (long long)mkt_a.market_id);
    doc = pget(p, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 6);
    json_decref(doc);
}
END_TEST

START_TEST(test_the_feeds_statistics_agree_with_the_market_centres)
{
    char p[256];
    platform();
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/online-sales?from=%s&to=%s", (long long)mkt_a.market_id, yesterday,
          today);
    json_t *os = pget(p, 200);
    pathf(p, sizeof(p), "/v1/admin/stats?from=%s&to=%s", yesterday, today);
    json_t *admin = get_ok(tok_a, p);
    ck_assert(json_equal(json_object_get(os, "total"), json_object_get(admin, "kpis")));
    ck_assert(json_equal(json_object_get(os, "days"), json_object_get(admin, "days")));
    json_decref(admin);
    json_decref(os);
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/summary?date=%s&by=stall", (long long)mkt_a.market_id, today);
    json_t *doc = pget(p, 200), *t = json_object_get(doc, "total");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 2);
    ck_assert_int_eq(jint(t, "orders"), 3);
    ck_assert_int_eq(jint(t, "lines"), 5);
    ck_assert_int_eq(jint(t, "sales_fen"), 3110);
    ck_assert_int_eq(jint(t, "refunds_fen"), 1120);
    json_decref(doc);
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/summary?date=%s&by=category", (long long)mkt_a.market_id, today);
    doc = pget(p, 200);
    ck_assert_str_eq(
        json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "commodity_code")), "A01");
    json_decref(doc);
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/reconcile?date=%s", (long long)mkt_a.market_id, today);
    doc = pget(p, 200);
    ck_assert_int_eq(jint(doc, "count"), 5);
    ck_assert_int_eq(jint(doc, "sales_fen"), 3110);
    ck_assert_int_eq(strlen(json_string_value(json_object_get(doc, "checksum"))), 64);
    json_decref(doc);
    /* bad parameters */
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/summary", (long long)mkt_a.market_id);
    prefused(p, 422, "date");
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/summary?date=%s&by=vendor", (long long)mkt_a.market_id, today);
    prefused(p, 422, "by");
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/reconcile?date=2026-13-01", (long long)mkt_a.market_id);
    prefused(p, 422, "date");
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/online-sales?from=%s", (long long)mkt_a.market_id, today);
    prefused(p, 422, "to");
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/online-sales?from=%s&to=%s", (long long)mkt_a.market_id, today,
          yesterday);
    prefused(p, 422, "from");
    pathf(p, sizeof(p), "/v1/platform/markets/%lld/online-sales?from=2026-01-01&to=2026-03-01",
          (long long)mkt_a.market_id);
    prefused(p, 422, "to");
}
END_TEST

START_TEST(test_an_empty_markets_feed_resumes_from_the_beginning)
{
    /* a market that has sold nothing yet: no items, no next page, and a resume cursor that
     * is still a string: "" (the beginning of the log, as an empty ?cursor= reads) */
    t_market_t empty;
    t_platform_t client;
    char tok[128], p[256];
    t_fixture_market(&empty);
    ck_assert_int_eq(t_login(&srv, empty.op_user, empty.op_pass, tok, sizeof(tok)), 0);
    t_platform_create(&srv, tok, "district", (int64_t[]){empty.market_id}, 1, &client);
    static const char *const queries[] = {"", "?limit=5", "?cursor=&limit=1000", NULL};
    for (int i = 0; queries[i] != NULL; i++) {
        json_t *doc = NULL;
        pathf(p, sizeof(p), "/v1/platform/markets/%lld/transactions%s", (long long)empty.market_id, queries[i]);
        long st = t_platform_get(&srv, &client, p, &doc);
        ck_assert_msg(st == 200, "%s: %ld", p, st);
        ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
        ck_assert(json_is_array(json_object_get(doc, "items")));
        ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
        ck_assert_msg(json_is_string(json_object_get(doc, "resume_cursor")), "%s: resume_cursor is not a string", p);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "resume_cursor")), "");
        json_decref(doc);
    }
}
END_TEST

START_TEST(test_the_feed_refuses_markets_not_granted_and_unsigned_requests)
{
    char p[256];
    platform();
    static const char *const routes[] = {"transactions", "summary?date=2026-11-30",
                                         "online-sales?from=2026-11-30&to=2026-11-30", "reconcile?date=2026-11-30",
                                         NULL};
    for (int i = 0; routes[i] != NULL; i++) {
        pathf(p, sizeof(p), "/v1/platform/markets/%lld/%s", (long long)mkt_b.market_id, routes[i]);
        prefused(p, 403, NULL);
        pathf(p, sizeof(p), "/v1/platform/markets/%lld/%s", (long long)mkt_a.market_id, routes[i]);
        refused(NULL, p, 401, NULL, NULL);  /* no signature */
        refused(tok_a, p, 401, NULL, NULL); /* an operator's bearer token is no signature */
    }
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *su = suite_create("stats_api");
    TCase *tc = tcase_create("people");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_rankings_are_public_by_sales_or_volume_for_each_period);
    tcase_add_test(tc, test_a_vendor_sees_its_own_sales_and_nobody_elses);
    tcase_add_test(tc, test_the_market_centre_sees_its_own_market);
    tcase_add_test(tc, test_bad_date_ranges_are_422_naming_the_parameter);
    tcase_add_test(tc, test_the_feed_pages_a_markets_versions_by_cursor);
    tcase_add_test(tc, test_the_feeds_statistics_agree_with_the_market_centres);
    tcase_add_test(tc, test_an_empty_markets_feed_resumes_from_the_beginning);
    tcase_add_test(tc, test_the_feed_refuses_markets_not_granted_and_unsigned_requests);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    curl_global_cleanup();
    if (srv_exit != 0) {
        fprintf(stderr, "the server exited with %d: see %s\n", srv_exit, srv.log_path);
        failed++;
    }
    return failed == 0 ? 0 : 1;
}
