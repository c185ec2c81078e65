/*
 * End to end: the consumer's orders (GET /v1/orders, GET /v1/orders/{id}, POST
 * /v1/orders/{id}/cancel) on the real binary over h2c. Orders are placed through checkout;
 * later states (paid, accepted, delivering) are set with SQL, as the payment and fulfilment
 * issues will. Covers paging newest first with a status filter and bad list parameters,
 * another consumer's order (404 on GET and cancel, nothing changed), cancel before payment
 * returning stock exactly once (also when two cancels race), the 409s of later states, and
 * the routes admitting consumers only.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "db.h"
#include "dbtest.h"
#include "fixture.h"
#include "models/cart.h"
#include "redis.h"
#include "testutil.h"

static const char *const test_env[] = {
    "STALLFRONT_AUTH_WECHAT_MODE=sandbox",          "STALLFRONT_ORDER_DELIVERY_FEE_FEN=500",
    "STALLFRONT_ORDER_FREE_DELIVERY_FROM_FEN=5000", "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000",
    "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",      NULL};
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

/* ---------------------------------------------------------------- the world of a test */

#define RACERS 50

typedef struct consumer {
    char token[128];
    int64_t id;
    int64_t address; /* near the market, tied to none */
} consumer_t;

typedef struct world {
    t_market_t m, other; /* the market of the test, and a second one */
    config_t cfg;
    db_t db;
    redis_t redis;
    int64_t vendor[3], stall[3], other_stall, other_vendor;
} world_t;

static int64_t sql(world_t *w, const char *text, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(&w->db, text, p, n, NULL, &id) == DB_OK, "%s: %s", text, w->db.err);
    return (int64_t)id;
}

static int64_t i64(world_t *w, const char *text, int64_t id)
{
    return t_db_i64(&w->db, text, (db_param_t[]){DB_I64(id)}, 1);
}

static void stall(world_t *w, int64_t market, const char *no, int64_t *vendor, int64_t *stall_id)
{
    *vendor = sql(w,
                  "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                  " VALUES (?, '张三', '13900000000', '蔬菜', 'A')",
                  (db_param_t[]){DB_I64(market)}, 1);
    *stall_id =
        sql(w, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 1, 2, ?)",
            (db_param_t[]){DB_I64(market), DB_STR(no), DB_I64(*vendor)}, 3);
}

static void world_up(world_t *w)
{
    memset(w, 0, sizeof(*w));
    t_fixture_market(&w->m);
    t_fixture_market(&w->other);
    t_load_cfg(&w->cfg);
    db_thread_init();
    ck_assert_msg(db_open(&w->db, &w->cfg) == DB_OK, "db: %s", w->db.err);
    ck_assert_msg(redis_open(&w->redis, &w->cfg) == 0, "redis: %s", w->redis.err);
    stall(w, w->m.market_id, "A-01", &w->vendor[0], &w->stall[0]);
    stall(w, w->m.market_id, "A-02", &w->vendor[1], &w->stall[1]);
    stall(w, w->m.market_id, "B-01", &w->vendor[2], &w->stall[2]);
    stall(w, w->other.market_id, "A-01", &w->other_vendor, &w->other_stall);
}

static void world_down(world_t *w)
{
    redis_close(&w->redis);
    db_close(&w->db);
    config_free(&w->cfg);
}

/* A product of stall s of the test's market: weighed (price per per_g grams) or, with per_g
 * 0, counted. */
static int64_t product(world_t *w, int s, const char *name, int64_t price, int64_t per_g, int64_t stock)
{
    db_param_t p[] = {DB_I64(w->m.market_id),
                      DB_I64(w->stall[s]),
                      DB_I64(w->vendor[s]),
                      DB_STR(name),
                      DB_STR(per_g > 0 ? "weight" : "count"),
                      DB_I64(price),
                      per_g > 0 ? DB_I64(per_g) : DB_NULL,
                      per_g > 0 ? DB_NULL : DB_STR("个"),
                      DB_I64(stock)};
    return sql(w,
               "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name, pricing_mode,"
               " price_fen, per_g, unit, stock, origin, trace_code) VALUES (?, ?, ?, 'veg-leafy', 'A010101', ?, ?, ?,"
               " ?, ?, ?, '410122', 'ZZ-1')",
               p, 9);
}

static int64_t address(world_t *w, int64_t user, int64_t market, const char *lat, const char *lng)
{
    db_param_t p[] = {market != 0 ? DB_I64(market) : DB_NULL, DB_I64(user), DB_STR(lat), DB_STR(lng)};
    return sql(w,
               "INSERT INTO addresses (market_id, user_id, name, phone, text, lat, lng)"
               " VALUES (?, ?, '王五', '13800000000', '郑州市二七区', ?, ?)",
               p, 4);
}

/* A new consumer signed in, with an address 150 m from the fixture market. */
static void consumer(world_t *w, consumer_t *c)
{
    static int seq;
    char name[48], openid[64];
    snprintf(name, sizeof(name), "co%d_%d", (int)getpid(), seq++);
    ck_assert_int_eq(t_login_wechat(&shared, name, c->token, sizeof(c->token)), 0);
    snprintf(openid, sizeof(openid), "sandbox-%s", name);
    c->id = t_db_i64(&w->db, "SELECT id FROM users WHERE wechat_openid = ?", (db_param_t[]){DB_STR(openid)}, 1);
    c->address = address(w, c->id, 0, "34.725000", "113.626500");
}

/* ---------------------------------------------------------------- HTTP helpers */

/* One request over h2c; the answer's status, and its body (malloc'd) in *text if wanted.
 * No Check assertions: threads call it too. -1 if no answer came. */
static long request(const char *method, const char *path, const char *token, const char *body, const char *idem,
                    char **text)
{
    char url[512], auth[256], key[512];
    const char *h[4] = {NULL, NULL, NULL, NULL};
    size_t nh = 0;
    tresp_t r;
    snprintf(url, sizeof(url), "%s%s", t_base(&shared, T_H2C), path);
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h[nh++] = auth;
    }
    if (body != NULL)
        h[nh++] = "Content-Type: application/json";
    if (idem != NULL) {
        snprintf(key, sizeof(key), "Idempotency-Key: %s", idem);
        h[nh++] = key;
    }
    if (text != NULL)
        *text = NULL;
    if (t_request(T_H2C, method, url, h, body, body != NULL ? strlen(body) : 0, &r) != 0)
        return -1;
    long status = r.status;
    if (text != NULL)
        *text = strndup(r.body != NULL ? r.body : "", r.len);
    t_resp_free(&r);
    return status;
}

/* A request whose answer must be JSON; the document (caller decrefs), status in *status. */
static json_t *call(const char *method, const char *path, const char *token, const char *body, const char *idem,
                    long *status)
{
    char *text = NULL;
    *status = request(method, path, token, body, idem, &text);
    ck_assert_msg(*status > 0, "no answer for %s %s", method, path);
    json_t *doc = json_loads(text, 0, NULL);
    ck_assert_msg(doc != NULL, "%s %s: not JSON: %s", method, path, text);
    free(text);
    return doc;
}

static const char *error_code(const json_t *doc)
{
    return json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
}

static const char *error_field(const json_t *doc)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "field"));
}

/* Asserts an answer is the error shape with this status and code; frees it. (The status
 * comes by pointer: the answer and its status are arguments of the same call.) */
static void expect_error(json_t *doc, const long *status, long want, const char *code)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(*status == want && error_code(doc) != NULL && strcmp(error_code(doc), code) == 0 &&
                      json_is_string(json_object_get(json_object_get(doc, "error"), "message")),
                  "want %ld %s, got %ld %s", want, code, *status, text);
    free(text);
    json_decref(doc);
}

/* PUT /v1/cart/items/{id} as the consumer; must succeed. */
static void put_cart(const consumer_t *c, int64_t product_id, int64_t qty)
{
    char path[96], body[64];
    snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)product_id);
    snprintf(body, sizeof(body), "{\"qty\":%lld}", (long long)qty);
    long status = request("PUT", path, c->token, body, NULL, NULL);
    ck_assert_msg(status == 200, "PUT %s: %ld", path, status);
}

static void checkout_body(char *buf, size_t len, int64_t market, int64_t address_id)
{
    snprintf(buf, len, "{\"market_id\":%lld,\"address_id\":%lld}", (long long)market, (long long)address_id);
}

static json_t *checkout(const consumer_t *c, int64_t market, long *status)
{
    char body[128];
    checkout_body(body, sizeof(body), market, c->address);
    return call("POST", "/v1/orders", c->token, body, NULL, status);
}

static int64_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static int64_t stock(world_t *w, int64_t product_id)
{
    return i64(w, "SELECT stock FROM products WHERE id = ?", product_id);
}

/* Checks out one unit of product p as c; the order's id. */
static int64_t place(world_t *w, const consumer_t *c, int64_t p, int64_t qty)
{
    long status;
    put_cart(c, p, qty);
    json_t *doc = checkout(c, w->m.market_id, &status);
    ck_assert_int_eq(status, 201);
    int64_t id = jint(doc, "id");
    json_decref(doc);
    return id;
}

static void set_status(world_t *w, int64_t order, const char *status, const char *vendor_status)
{
    sql(w, "UPDATE orders SET status = ? WHERE id = ?", (db_param_t[]){DB_STR(status), DB_I64(order)}, 2);
    sql(w, "UPDATE vendor_orders SET status = ? WHERE order_id = ?",
        (db_param_t[]){DB_STR(vendor_status), DB_I64(order)}, 2);
}

static const char *status_of(const json_t *doc)
{
    return json_string_value(json_object_get(doc, "status"));
}

START_TEST(test_a_consumer_pages_through_their_orders_newest_first)
{
    world_t w;
    consumer_t c, d;
    long status;
    char path[256];
    world_up(&w);
    consumer(&w, &c);
    consumer(&w, &d);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 100);
    int64_t ids[5];
    for (int i = 0; i < 5; i++)
        ids[i] = place(&w, &c, a, 1);
    place(&w, &d, a, 1); /* someone else's */
    set_status(&w, ids[1], "paid", "new");
    /* pages of two */
    char cursor[128] = "";
    int seen = 0;
    for (int page = 0; page < 5; page++) {
        snprintf(path, sizeof(path), "/v1/orders?limit=2%s%s", cursor[0] ? "&cursor=" : "", cursor);
        json_t *doc = call("GET", path, c.token, NULL, NULL, &status);
        ck_assert_int_eq(status, 200);
        json_t *items = json_object_get(doc, "items");
        for (size_t i = 0; i < json_array_size(items); i++, seen++) {
            json_t *o = json_array_get(items, i);
            ck_assert_int_eq(jint(o, "id"), ids[4 - seen]);
            ck_assert_int_eq(json_array_size(json_object_get(o, "vendor_orders")), 1);
        }
        json_t *next = json_object_get(doc, "next_cursor");
        if (json_is_null(next)) {
            json_decref(doc);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(doc);
    }
    ck_assert_int_eq(seen, 5);
    /* the filter */
    json_t *doc = call("GET", "/v1/orders?status=paid", c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    ck_assert_int_eq(jint(json_array_get(json_object_get(doc, "items"), 0), "id"), ids[1]);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    doc = call("GET", "/v1/orders?status=pending_payment&limit=100", c.token, NULL, NULL, &status);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 4);
    json_decref(doc);
    /* bad parameters */
    static const struct {
        const char *q, *field;
    } bad[] = {{"status=new", "status"}, {"status=", "status"},  {"status=PAID", "status"},
               {"limit=0", "limit"},     {"limit=101", "limit"}, {"limit=-1", "limit"},
               {"cursor=zzz", "cursor"}, {"cursor=", "cursor"},  {"status=paid%00", "status"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/v1/orders?%s", bad[i].q);
        doc = call("GET", path, c.token, NULL, NULL, &status);
        ck_assert_msg(error_field(doc) != NULL && strcmp(error_field(doc), bad[i].field) == 0, "%s", path);
        expect_error(doc, &status, 422, "invalid");
    }
    world_down(&w);
}
END_TEST

START_TEST(test_another_consumers_order_is_not_found_and_stays_as_it_was)
{
    world_t w;
    consumer_t c, d;
    long status;
    char path[128];
    world_up(&w);
    consumer(&w, &c);
    consumer(&w, &d);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t id = place(&w, &c, a, 2);
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)id);
    expect_error(call("GET", path, d.token, NULL, NULL, &status), &status, 404, "not_found");
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    expect_error(call("POST", path, d.token, NULL, NULL, &status), &status, 404, "not_found");
    ck_assert_int_eq(stock(&w, a), 8);
    ck_assert_int_eq(i64(&w, "SELECT status = 'pending_payment' FROM orders WHERE id = ?", id), 1);
    /* unknown and malformed ids */
    expect_error(call("GET", "/v1/orders/99999999999", c.token, NULL, NULL, &status), &status, 404, "not_found");
    expect_error(call("GET", "/v1/orders/0", c.token, NULL, NULL, &status), &status, 404, "not_found");
    expect_error(call("GET", "/v1/orders/abc", c.token, NULL, NULL, &status), &status, 404, "not_found");
    expect_error(call("POST", "/v1/orders/-1/cancel", c.token, NULL, NULL, &status), &status, 404, "not_found");
    /* its own consumer sees it */
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)id);
    json_t *doc = call("GET", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(jint(doc, "id"), id);
    json_decref(doc);
    world_down(&w);
}
END_TEST

START_TEST(test_cancel_before_payment_returns_the_stock_once)
{
    world_t w;
    consumer_t c;
    long status;
    char path[128];
    world_up(&w);
    consumer(&w, &c);
    int64_t a = product(&w, 0, "菠菜", 600, 500, 5000);
    int64_t b = product(&w, 1, "土鸡蛋", 350, 0, 10);
    put_cart(&c, a, 750);
    int64_t id = place(&w, &c, b, 3);
    ck_assert_int_eq(stock(&w, a), 4250);
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)b); /* cached before the cancel */
    json_t *doc = call("GET", path, NULL, NULL, NULL, &status);
    ck_assert_int_eq(jint(doc, "stock"), 7);
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    doc = call("POST", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(status_of(doc), "cancelled");
    ck_assert_str_eq(status_of(json_array_get(json_object_get(doc, "vendor_orders"), 0)), "cancelled");
    ck_assert_str_eq(status_of(json_array_get(json_object_get(doc, "vendor_orders"), 1)), "cancelled");
    json_decref(doc);
    ck_assert_int_eq(stock(&w, a), 5000);
    ck_assert_int_eq(stock(&w, b), 10);
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)b);
    doc = call("GET", path, NULL, NULL, NULL, &status);
    ck_assert_int_eq(jint(doc, "stock"), 10); /* the catalogue was bumped */
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    expect_error(call("POST", path, c.token, NULL, NULL, &status), &status, 409, "already_cancelled");
    ck_assert_int_eq(stock(&w, a), 5000);
    ck_assert_int_eq(stock(&w, b), 10);
    ck_assert_int_eq(
        i64(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.cancelled' AND market_id = ?", w.m.market_id), 1);
    char actor[48];
    snprintf(actor, sizeof(actor), "consumer:%lld", (long long)c.id);
    ck_assert_int_eq(t_db_i64(&w.db,
                              "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'cancelled'"
                              " AND actor = ?",
                              (db_param_t[]){DB_I64(id), DB_STR(actor)}, 2),
                     3);
    world_down(&w);
}
END_TEST

typedef struct canceller {
    const char *token;
    const char *path;
    long status;
    char *text;
} canceller_t;

static void *cancel_it(void *arg)
{
    canceller_t *k = arg;
    k->status = request("POST", k->path, k->token, NULL, NULL, &k->text);
    return NULL;
}

START_TEST(test_two_cancels_at_once_return_the_stock_once)
{
    world_t w;
    consumer_t c;
    char path[128];
    world_up(&w);
    consumer(&w, &c);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    for (int round = 0; round < 5; round++) {
        int64_t id = place(&w, &c, a, 4);
        ck_assert_int_eq(stock(&w, a), 6);
        snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
        canceller_t k[2] = {{c.token, path, 0, NULL}, {c.token, path, 0, NULL}};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(pthread_create(&t[i], NULL, cancel_it, &k[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        ck_assert_msg((k[0].status == 200 && k[1].status == 409) || (k[0].status == 409 && k[1].status == 200),
                      "%ld %s / %ld %s", k[0].status, k[0].text, k[1].status, k[1].text);
        ck_assert_ptr_nonnull(strstr(k[0].status == 409 ? k[0].text : k[1].text, "already_cancelled"));
        free(k[0].text);
        free(k[1].text);
        ck_assert_int_eq(stock(&w, a), 10);
    }
    world_down(&w);
}
END_TEST

START_TEST(test_cancel_after_payment_is_taken_until_a_vendor_accepts)
{
    world_t w;
    consumer_t c;
    long status;
    char path[128];
    world_up(&w);
    consumer(&w, &c);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t id = place(&w, &c, a, 1);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    set_status(&w, id, "paid", "new");
    json_t *doc = call("POST", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200); /* cancelled, refunded (test_payments checks the refund) */
    ck_assert_str_eq(status_of(doc), "cancelled");
    json_decref(doc);
    ck_assert_int_eq(stock(&w, a), 10);
    id = place(&w, &c, a, 1);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    set_status(&w, id, "paid", "accepted");
    expect_error(call("POST", path, c.token, NULL, NULL, &status), &status, 409, "too_late");
    static const char *const later[] = {"fulfilling", "ready", "delivering", "delivered"};
    for (size_t i = 0; i < 4; i++) {
        set_status(&w, id, later[i], "ready");
        expect_error(call("POST", path, c.token, NULL, NULL, &status), &status, 409, "too_late");
        ck_assert_int_eq(t_db_i64(&w.db, "SELECT status = ? FROM orders WHERE id = ?",
                                  (db_param_t[]){DB_STR(later[i]), DB_I64(id)}, 2),
                         1);
    }
    ck_assert_int_eq(stock(&w, a), 9);
    world_down(&w);
}
END_TEST

START_TEST(test_order_routes_admit_consumers_only)
{
    world_t w;
    consumer_t c;
    long status;
    char op[128], path[128];
    world_up(&w);
    consumer(&w, &c);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t id = place(&w, &c, a, 1);
    ck_assert_int_eq(t_login(&shared, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)id);
    expect_error(call("GET", "/v1/orders", NULL, NULL, NULL, &status), &status, 401, "unauthorized");
    expect_error(call("GET", path, NULL, NULL, NULL, &status), &status, 401, "unauthorized");
    expect_error(call("GET", "/v1/orders", "not-a-token", NULL, NULL, &status), &status, 401, "unauthorized");
    expect_error(call("GET", path, op, NULL, NULL, &status), &status, 403, "forbidden");
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    expect_error(call("POST", path, NULL, NULL, NULL, &status), &status, 401, "unauthorized");
    expect_error(call("POST", path, op, NULL, NULL, &status), &status, 403, "forbidden");
    ck_assert_int_eq(stock(&w, a), 9);
    ck_assert_int_eq(i64(&w, "SELECT status = 'pending_payment' FROM orders WHERE id = ?", id), 1);
    world_down(&w);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *su = suite_create("orders");
    TCase *tc = tcase_create("orders");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_a_consumer_pages_through_their_orders_newest_first);
    tcase_add_test(tc, test_another_consumers_order_is_not_found_and_stays_as_it_was);
    tcase_add_test(tc, test_cancel_before_payment_returns_the_stock_once);
    tcase_add_test(tc, test_two_cancels_at_once_return_the_stock_once);
    tcase_add_test(tc, test_cancel_after_payment_is_taken_until_a_vendor_accepts);
    tcase_add_test(tc, test_order_routes_admit_consumers_only);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    curl_global_cleanup();
    if (shared_exit != 0) {
        fprintf(stderr, "the shared server exited with %d: see %s\n", shared_exit, shared.log_path);
        failed++;
    }
    return failed == 0 ? 0 : 1;
}
