/*
 * End to end: checkout (POST /v1/orders) on the real binary over h2c. Consumers sign in
 * with sandbox WeChat codes and fill their carts through PUT /v1/cart/items; lines a
 * client could not put there (more than the stock) go into Redis directly with the cart
 * model. Markets come from the fixture, vendors, stalls, products and addresses from SQL.
 * Covers: exact totals across three stalls and the free-delivery threshold; 50 concurrent
 * checkouts against 10 units (one product, and two products locked in opposite orders)
 * that never oversell and never answer 5xx; the same Idempotency-Key ten times at once;
 * and every refusal (bad bodies, empty carts, foreign, wrong-market and distant addresses,
 * lines gone off sale, short lines), each followed by reading back that nothing changed.
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
#include "models/user.h"
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

static int64_t orders_of(world_t *w, int64_t user)
{
    return i64(w, "SELECT COUNT(*) FROM orders WHERE consumer_id = ?", user);
}

static int64_t stock(world_t *w, int64_t product_id)
{
    return i64(w, "SELECT stock FROM products WHERE id = ?", product_id);
}

/* ---------------------------------------------------------------- the happy paths */

START_TEST(test_a_consumer_checks_out_three_stalls_and_sees_exact_totals)
{
    world_t w;
    consumer_t c;
    long status;
    char path[128];
    world_up(&w);
    consumer(&w, &c);
    int64_t tomato = product(&w, 0, "西红柿", 600, 500, 10000); /* 333 g: 399.6 → 400 fen */
    int64_t egg = product(&w, 1, "鸡蛋", 350, 0, 100);          /* 3 × 350 = 1050 */
    int64_t salt = product(&w, 2, "盐", 1, 1, 10);              /* 1 g at 1 fen a gram */
    /* the public product is read (and cached) before the checkout */
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)egg);
    json_t *doc = call("GET", path, NULL, NULL, NULL, &status);
    ck_assert_int_eq(jint(doc, "stock"), 100);
    json_decref(doc);
    put_cart(&c, egg, 3);
    put_cart(&c, tomato, 333);
    put_cart(&c, salt, 1);
    char body[256];
    snprintf(body, sizeof(body), "{\"market_id\":%lld,\"address_id\":%lld,\"note\":\"请放门口\"}",
             (long long)w.m.market_id, (long long)c.address);
    doc = call("POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(jint(doc, "items_fen"), 1451);
    ck_assert_int_eq(jint(doc, "delivery_fee_fen"), 500);
    ck_assert_int_eq(jint(doc, "payable_fen"), 1951);
    ck_assert_int_eq(jint(doc, "paid_fen"), 0);
    ck_assert_int_eq(jint(doc, "market_id"), w.m.market_id);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "pending_payment");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "note")), "请放门口");
    ck_assert(json_is_null(json_object_get(doc, "paid_at")));
    ck_assert(json_is_null(json_object_get(doc, "delivery")));
    ck_assert(json_is_array(json_object_get(doc, "refunds")));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "created_at")) + 23, "+08:00");
    json_t *vos = json_object_get(doc, "vendor_orders");
    ck_assert_int_eq(json_array_size(vos), 3);
    int64_t sum = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *vo = json_array_get(vos, i), *l = json_array_get(json_object_get(vo, "lines"), 0);
        ck_assert_str_eq(json_string_value(json_object_get(vo, "status")), "pending_payment");
        ck_assert_int_eq(json_array_size(json_object_get(vo, "lines")), 1);
        ck_assert_str_eq(json_string_value(json_object_get(l, "commodity_code")), "A010101");
        ck_assert_str_eq(json_string_value(json_object_get(l, "origin")), "410122");
        ck_assert_str_eq(json_string_value(json_object_get(l, "trace_code")), "ZZ-1");
        ck_assert(json_is_null(json_object_get(l, "qty_actual")));
        sum += jint(l, "amount_fen");
        if (jint(l, "product_id") == tomato)
            ck_assert_int_eq(jint(l, "amount_fen"), 400);
    }
    ck_assert_int_eq(sum, 1451);
    int64_t id = jint(doc, "id");
    json_decref(doc);
    /* stock taken, the cart emptied, the public stock fresh at once */
    ck_assert_int_eq(stock(&w, egg), 97);
    ck_assert_int_eq(stock(&w, tomato), 10000 - 333);
    snprintf(path, sizeof(path), "/v1/cart?market_id=%lld", (long long)w.m.market_id);
    doc = call("GET", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)egg);
    doc = call("GET", path, NULL, NULL, NULL, &status);
    ck_assert_int_eq(jint(doc, "stock"), 97);
    json_decref(doc);
    /* the order as GET shows it, an outbox row for the timeout */
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)id);
    doc = call("GET", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(jint(doc, "payable_fen"), 1951);
    json_decref(doc);
    ck_assert_int_eq(
        i64(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.created' AND market_id = ?", w.m.market_id), 1);
    world_down(&w);
}
END_TEST

START_TEST(test_delivery_is_free_from_the_threshold)
{
    world_t w;
    consumer_t c;
    long status;
    world_up(&w);
    consumer(&w, &c);
    int64_t melon = product(&w, 0, "西瓜", 2500, 0, 10);
    put_cart(&c, melon, 2); /* exactly 5000 */
    json_t *doc = checkout(&c, w.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(jint(doc, "delivery_fee_fen"), 0);
    ck_assert_int_eq(jint(doc, "payable_fen"), 5000);
    json_decref(doc);
    put_cart(&c, melon, 1); /* 2500: below */
    doc = checkout(&c, w.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(jint(doc, "delivery_fee_fen"), 500);
    ck_assert_int_eq(jint(doc, "payable_fen"), 3000);
    json_decref(doc);
    world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- races */

typedef struct shot {
    const char *token;
    char body[160];
    const char *key;
    long status;
    char *text;
} shot_t;

static void *fire(void *arg)
{
    shot_t *s = arg;
    s->status = request("POST", "/v1/orders", s->token, s->body, s->key, &s->text);
    return NULL;
}

static void fire_all(shot_t *shots, size_t n)
{
    pthread_t t[RACERS];
    ck_assert(n <= RACERS);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, fire, &shots[i]), 0);
    for (size_t i = 0; i < n; i++)
        pthread_join(t[i], NULL);
}

/* 50 consumers with one unit of a (and of b, when given: half of them put b in first) race
 * for 10 units: exactly 10 orders, 40 out_of_stock naming the short line, no 5xx. */
static void race(world_t *w, int64_t a, int64_t b)
{
    static consumer_t c[RACERS];
    static shot_t s[RACERS];
    for (int i = 0; i < RACERS; i++) {
        consumer(w, &c[i]);
        if (b != 0 && i % 2 == 1) {
            put_cart(&c[i], b, 1);
            put_cart(&c[i], a, 1);
        } else {
            put_cart(&c[i], a, 1);
            if (b != 0)
                put_cart(&c[i], b, 1);
        }
        s[i] = (shot_t){.token = c[i].token};
        checkout_body(s[i].body, sizeof(s[i].body), w->m.market_id, c[i].address);
    }
    fire_all(s, RACERS);
    int created = 0, short_ = 0;
    for (int i = 0; i < RACERS; i++) {
        ck_assert_msg(s[i].status == 201 || s[i].status == 409, "consumer %d got %ld: %s", i, s[i].status, s[i].text);
        if (s[i].status == 201) {
            created++;
        } else {
            short_++;
            json_t *doc = json_loads(s[i].text, 0, NULL);
            ck_assert_str_eq(error_code(doc), "out_of_stock");
            json_t *lines = json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "lines");
            ck_assert_int_ge(json_array_size(lines), 1);
            ck_assert_int_eq(jint(json_array_get(lines, 0), "qty"), 1);
            json_decref(doc);
            ck_assert_int_eq(orders_of(w, c[i].id), 0);
        }
        free(s[i].text);
    }
    ck_assert_int_eq(created, 10);
    ck_assert_int_eq(short_, RACERS - 10);
}

START_TEST(test_fifty_concurrent_checkouts_of_ten_units_make_exactly_ten_orders)
{
    world_t w;
    world_up(&w);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    race(&w, a, 0);
    ck_assert_int_eq(stock(&w, a), 0);
    ck_assert_int_eq(i64(&w, "SELECT COUNT(*) FROM orders WHERE market_id = ?", w.m.market_id), 10);
    ck_assert_int_eq(i64(&w, "SELECT sales_qty FROM products WHERE id = ?", a), 10);
    world_down(&w);
}
END_TEST

START_TEST(test_fifty_concurrent_checkouts_of_two_products_in_opposite_orders_never_fail)
{
    world_t w;
    world_up(&w);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t b = product(&w, 2, "鸭蛋", 450, 0, 10);
    race(&w, a, b);
    ck_assert_int_eq(stock(&w, a), 0);
    ck_assert_int_eq(stock(&w, b), 0);
    ck_assert_int_eq(i64(&w, "SELECT COUNT(*) FROM orders WHERE market_id = ?", w.m.market_id), 10);
    ck_assert_int_eq(i64(&w, "SELECT COUNT(*) FROM vendor_orders WHERE market_id = ?", w.m.market_id), 20);
    world_down(&w);
}
END_TEST

START_TEST(test_the_same_idempotency_key_ten_times_at_once_makes_one_order)
{
    world_t w;
    consumer_t c;
    shot_t s[10];
    char key[64], body[160];
    long status;
    world_up(&w);
    consumer(&w, &c);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 100);
    put_cart(&c, a, 2);
    snprintf(key, sizeof(key), "chk-%d-%lld", (int)getpid(), (long long)c.id);
    checkout_body(body, sizeof(body), w.m.market_id, c.address);
    for (int i = 0; i < 10; i++) {
        s[i] = (shot_t){.token = c.token, .key = key};
        snprintf(s[i].body, sizeof(s[i].body), "%s", body);
    }
    fire_all(s, 10);
    for (int i = 0; i < 10; i++) {
        ck_assert_msg(s[i].status == 201, "shot %d: %ld %s", i, s[i].status, s[i].text);
        ck_assert_str_eq(s[i].text, s[0].text);
    }
    ck_assert_int_eq(orders_of(&w, c.id), 1);
    ck_assert_int_eq(stock(&w, a), 98);
    /* later, the same key and body: the same answer, still one order */
    put_cart(&c, a, 5);
    char *text = NULL;
    ck_assert_int_eq(request("POST", "/v1/orders", c.token, body, key, &text), 201);
    ck_assert_str_eq(text, s[0].text);
    free(text);
    ck_assert_int_eq(orders_of(&w, c.id), 1);
    /* the same body with its keys in another order and other spacing is the same request */
    char swapped[160];
    snprintf(swapped, sizeof(swapped), "{ \"address_id\": %lld, \"market_id\": %lld }", (long long)c.address,
             (long long)w.m.market_id);
    ck_assert_int_eq(request("POST", "/v1/orders", c.token, swapped, key, &text), 201);
    ck_assert_str_eq(text, s[0].text);
    free(text);
    for (int i = 0; i < 10; i++)
        free(s[i].text);
    /* the same key with another body */
    char other[200];
    snprintf(other, sizeof(other), "{\"market_id\":%lld,\"address_id\":%lld,\"note\":\"快点\"}",
             (long long)w.m.market_id, (long long)c.address);
    expect_error(call("POST", "/v1/orders", c.token, other, key, &status), &status, 422, "idempotency_key_reused");
    ck_assert_int_eq(orders_of(&w, c.id), 1);
    ck_assert_int_eq(stock(&w, a), 98);
    /* another consumer may use the same key */
    consumer_t d;
    consumer(&w, &d);
    put_cart(&d, a, 1);
    checkout_body(body, sizeof(body), w.m.market_id, d.address);
    json_t *doc = call("POST", "/v1/orders", d.token, body, key, &status);
    ck_assert_int_eq(status, 201);
    json_decref(doc);
    /* a key that is no key */
    char big[200];
    memset(big, 'k', 129);
    big[129] = '\0';
    put_cart(&d, a, 1);
    doc = call("POST", "/v1/orders", d.token, body, big, &status);
    ck_assert_str_eq(error_field(doc), "Idempotency-Key");
    expect_error(doc, &status, 422, "invalid");
    ck_assert_int_eq(orders_of(&w, d.id), 1);
    world_down(&w);
}
END_TEST

START_TEST(test_an_out_of_stock_answer_is_kept_for_its_key_too)
{
    world_t w;
    consumer_t c;
    long status;
    char body[160], key[64];
    world_up(&w);
    consumer(&w, &c);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 1);
    ck_assert_int_eq(cart_set(&w.redis, c.id, w.m.market_id, a, 2), 0); /* more than the stock */
    snprintf(key, sizeof(key), "oos-%d", (int)getpid());
    checkout_body(body, sizeof(body), w.m.market_id, c.address);
    json_t *doc = call("POST", "/v1/orders", c.token, body, key, &status);
    json_t *line =
        json_array_get(json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "lines"), 0);
    ck_assert_int_eq(jint(line, "product_id"), a);
    ck_assert_int_eq(jint(line, "qty"), 2);
    ck_assert_int_eq(jint(line, "available"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(line, "name")), "土鸡蛋");
    expect_error(doc, &status, 409, "out_of_stock");
    /* stock comes in; the key still answers what it answered */
    sql(&w, "UPDATE products SET stock = 10 WHERE id = ?", (db_param_t[]){DB_I64(a)}, 1);
    expect_error(call("POST", "/v1/orders", c.token, body, key, &status), &status, 409, "out_of_stock");
    ck_assert_int_eq(orders_of(&w, c.id), 0);
    /* without the key, it goes through */
    doc = call("POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_int_eq(status, 201);
    json_decref(doc);
    ck_assert_int_eq(stock(&w, a), 8);
    world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- refusals */

START_TEST(test_bad_checkout_bodies_are_refused_and_nothing_is_written)
{
    world_t w;
    consumer_t c;
    long status;
    char body[12000];
    world_up(&w);
    consumer(&w, &c);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    put_cart(&c, a, 1);
    long long m = (long long)w.m.market_id, ad = (long long)c.address;
    /* M and A stand for the market's and the address's ids */
    struct {
        const char *tmpl, *field;
    } bad[] = {
        {"{\"address_id\":A}", "market_id"},
        {"{\"market_id\":M}", "address_id"},
        {"{\"market_id\":\"M\",\"address_id\":A}", "market_id"},
        {"{\"market_id\":M.0,\"address_id\":A}", "market_id"},
        {"{\"market_id\":-M,\"address_id\":A}", "market_id"},
        {"{\"market_id\":0,\"address_id\":A}", "market_id"},
        {"{\"market_id\":true,\"address_id\":A}", "market_id"},
        {"{\"market_id\":9007199254740993,\"address_id\":A}", "market_id"},
        {"{\"market_id\":M,\"address_id\":null}", "address_id"},
        {"{\"market_id\":M,\"address_id\":[A]}", "address_id"},
        {"{\"market_id\":M,\"address_id\":A,\"note\":5}", "note"},
        {"{\"market_id\":M,\"address_id\":A,\"note\":\"a\\u0001b\"}", "note"},
        {"{\"market_id\":M,\"address_id\":A,\"coupon\":\"X\"}", "coupon"},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t o = 0;
        for (const char *p = bad[i].tmpl; *p != '\0' && o < 200; p++)
            o += *p == 'M'   ? (size_t)snprintf(body + o, sizeof(body) - o, "%lld", m)
                 : *p == 'A' ? (size_t)snprintf(body + o, sizeof(body) - o, "%lld", ad)
                             : (size_t)snprintf(body + o, sizeof(body) - o, "%c", *p);
        json_t *doc = call("POST", "/v1/orders", c.token, body, NULL, &status);
        ck_assert_msg(error_field(doc) != NULL && strcmp(error_field(doc), bad[i].field) == 0, "case %zu (%s)", i,
                      body);
        expect_error(doc, &status, 422, "invalid");
    }
    /* a 10 KB note; 200 Chinese characters are fine, 201 are not */
    int n = snprintf(body, sizeof(body), "{\"market_id\":%lld,\"address_id\":%lld,\"note\":\"", m, ad);
    memset(body + n, 'x', 10240);
    strcpy(body + n + 10240, "\"}");
    json_t *doc = call("POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_str_eq(error_field(doc), "note");
    expect_error(doc, &status, 422, "invalid");
    n = snprintf(body, sizeof(body), "{\"market_id\":%lld,\"address_id\":%lld,\"note\":\"", m, ad);
    for (int i = 0; i < 201; i++)
        n += snprintf(body + n, sizeof(body) - n, "菜");
    snprintf(body + n, sizeof(body) - n, "\"}");
    doc = call("POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_str_eq(error_field(doc), "note");
    expect_error(doc, &status, 422, "invalid");
    /* malformed JSON, a body that is no object, no token, a vendor's token */
    expect_error(call("POST", "/v1/orders", c.token, "{\"market_id\":", NULL, &status), &status, 400, "malformed_json");
    expect_error(call("POST", "/v1/orders", c.token, "[1,2]", NULL, &status), &status, 422, "invalid");
    snprintf(body, sizeof(body), "{\"market_id\":%lld,\"address_id\":%lld}", m, ad);
    expect_error(call("POST", "/v1/orders", NULL, body, NULL, &status), &status, 401, "unauthorized");
    char op[128];
    ck_assert_int_eq(t_login(&shared, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);
    expect_error(call("POST", "/v1/orders", op, body, NULL, &status), &status, 403, "forbidden");
    ck_assert_int_eq(orders_of(&w, c.id), 0);
    ck_assert_int_eq(stock(&w, a), 10);
    /* the cart is still there: the valid body now goes through */
    doc = call("POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_int_eq(status, 201);
    json_decref(doc);
    world_down(&w);
}
END_TEST

START_TEST(test_empty_carts_and_unusable_addresses_are_refused_and_nothing_is_written)
{
    world_t w;
    consumer_t c, d;
    long status;
    char body[160];
    world_up(&w);
    consumer(&w, &c);
    consumer(&w, &d);
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    /* nothing in the cart */
    expect_error(checkout(&c, w.m.market_id, &status), &status, 422, "empty_cart");
    put_cart(&c, a, 1);
    /* the cart holds market A's lines only: market B's cart is empty */
    expect_error(checkout(&c, w.other.market_id, &status), &status, 422, "empty_cart");
    /* another consumer's address, an unknown one */
    checkout_body(body, sizeof(body), w.m.market_id, d.address);
    expect_error(call("POST", "/v1/orders", c.token, body, NULL, &status), &status, 422, "unknown_address");
    checkout_body(body, sizeof(body), w.m.market_id, 9007199254740991LL);
    expect_error(call("POST", "/v1/orders", c.token, body, NULL, &status), &status, 422, "unknown_address");
    /* an address tied to another market */
    checkout_body(body, sizeof(body), w.m.market_id, address(&w, c.id, w.other.market_id, "34.725000", "113.626500"));
    expect_error(call("POST", "/v1/orders", c.token, body, NULL, &status), &status, 422, "address_wrong_market");
    /* an address 11 km away (the radius is 5 km) */
    checkout_body(body, sizeof(body), w.m.market_id, address(&w, c.id, 0, "34.824100", "113.625400"));
    expect_error(call("POST", "/v1/orders", c.token, body, NULL, &status), &status, 422, "address_out_of_range");
    ck_assert_int_eq(orders_of(&w, c.id), 0);
    ck_assert_int_eq(stock(&w, a), 10);
    /* an address tied to this very market is fine */
    checkout_body(body, sizeof(body), w.m.market_id, address(&w, c.id, w.m.market_id, "34.725000", "113.626500"));
    json_t *doc = call("POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_int_eq(status, 201);
    json_decref(doc);
    world_down(&w);
}
END_TEST

START_TEST(test_lines_gone_off_sale_or_short_are_named_and_nothing_is_reserved)
{
    world_t w;
    consumer_t c;
    long status;
    world_up(&w);
    consumer(&w, &c);
    int64_t a = product(&w, 0, "菠菜", 600, 500, 5000);
    int64_t b = product(&w, 1, "白菜", 200, 500, 5000);
    put_cart(&c, a, 500);
    put_cart(&c, b, 1000);
    /* taken off sale after it was put in the cart */
    sql(&w, "UPDATE products SET status = 'off_sale' WHERE id = ?", (db_param_t[]){DB_I64(b)}, 1);
    json_t *doc = checkout(&c, w.m.market_id, &status);
    json_t *lines = json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "lines");
    ck_assert_int_eq(json_array_size(lines), 1);
    ck_assert_int_eq(jint(json_array_get(lines, 0), "product_id"), b);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lines, 0), "name")), "白菜");
    expect_error(doc, &status, 422, "unavailable");
    /* its vendor suspended */
    sql(&w, "UPDATE products SET status = 'on_sale' WHERE id = ?", (db_param_t[]){DB_I64(b)}, 1);
    sql(&w, "UPDATE vendors SET status = 'suspended' WHERE id = ?", (db_param_t[]){DB_I64(w.vendor[1])}, 1);
    expect_error(checkout(&c, w.m.market_id, &status), &status, 422, "unavailable");
    sql(&w, "UPDATE vendors SET status = 'active' WHERE id = ?", (db_param_t[]){DB_I64(w.vendor[1])}, 1);
    /* both short: both named, neither reserved */
    ck_assert_int_eq(cart_set(&w.redis, c.id, w.m.market_id, a, 6000), 0);
    ck_assert_int_eq(cart_set(&w.redis, c.id, w.m.market_id, b, 5001), 0);
    doc = checkout(&c, w.m.market_id, &status);
    lines = json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "lines");
    ck_assert_int_eq(json_array_size(lines), 2);
    ck_assert_int_eq(jint(json_array_get(lines, 0), "available"), 5000);
    ck_assert_int_eq(jint(json_array_get(lines, 1), "qty"), 5001);
    expect_error(doc, &status, 409, "out_of_stock");
    /* one short only: still nothing reserved of the other */
    ck_assert_int_eq(cart_set(&w.redis, c.id, w.m.market_id, a, 100), 0);
    expect_error(checkout(&c, w.m.market_id, &status), &status, 409, "out_of_stock");
    ck_assert_int_eq(stock(&w, a), 5000);
    ck_assert_int_eq(stock(&w, b), 5000);
    ck_assert_int_eq(orders_of(&w, c.id), 0);
    ck_assert_int_eq(i64(&w, "SELECT COUNT(*) FROM outbox WHERE market_id = ?", w.m.market_id), 0);
    world_down(&w);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *su = suite_create("checkout");
    TCase *tc = tcase_create("checkout");
    tcase_set_timeout(tc, 180);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_a_consumer_checks_out_three_stalls_and_sees_exact_totals);
    tcase_add_test(tc, test_delivery_is_free_from_the_threshold);
    tcase_add_test(tc, test_fifty_concurrent_checkouts_of_ten_units_make_exactly_ten_orders);
    tcase_add_test(tc, test_fifty_concurrent_checkouts_of_two_products_in_opposite_orders_never_fail);
    tcase_add_test(tc, test_the_same_idempotency_key_ten_times_at_once_makes_one_order);
    tcase_add_test(tc, test_an_out_of_stock_answer_is_kept_for_its_key_too);
    tcase_add_test(tc, test_bad_checkout_bodies_are_refused_and_nothing_is_written);
    tcase_add_test(tc, test_empty_carts_and_unusable_addresses_are_refused_and_nothing_is_written);
    tcase_add_test(tc, test_lines_gone_off_sale_or_short_are_named_and_nothing_is_reserved);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    curl_global_cleanup();
    if (shared_exit != 0) {
        fprintf(stderr, "the shared server exited with %d: see %s\n", shared_exit, shared.log_path);
        failed++;
    }
    return failed == 0 ? 0 : 1;
}
