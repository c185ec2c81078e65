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
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "models/cart.h"
#include "models/user.h"
#include "models/store/redis.h"
#include "tests/support/shop.h"
#include "tests/support/testutil.h"

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

/* A new consumer signed in, with an address 150 m from the fixture market. */
static void consumer(shop_world_t *w, shop_consumer_t *c)
{
    static int seq; /* test-only: makes consumer names unique within the process */
    shop_consumer(&shared, &w->db, "co", seq++, c);
}

static int64_t orders_of(shop_world_t *w, int64_t user)
{
    return shop_i64(&w->db, "SELECT COUNT(*) FROM orders WHERE consumer_id = ?", user);
}

/* ---------------------------------------------------------------- the happy paths */

START_TEST(test_a_consumer_checks_out_three_stalls_and_sees_exact_totals)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char path[128];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t tomato = shop_product(&w, 0, "西红柿", 600, 500, 10000); /* 333 g: 399.6 → 400 fen */
    int64_t egg = shop_product(&w, 1, "鸡蛋", 350, 0, 100);          /* 3 × 350 = 1050 */
    int64_t salt = shop_product(&w, 2, "盐", 1, 1, 10);              /* 1 g at 1 fen a gram */
    /* the public product is read (and cached) before the checkout */
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)egg);
    json_t *doc = shop_call(&shared, "GET", path, NULL, NULL, NULL, &status);
    ck_assert_int_eq(shop_jint(doc, "stock"), 100);
    json_decref(doc);
    shop_put_cart(&shared, &c, egg, 3);
    shop_put_cart(&shared, &c, tomato, 333);
    shop_put_cart(&shared, &c, salt, 1);
    char body[256];
    snprintf(body, sizeof(body), "{\"market_id\":%lld,\"address_id\":%lld,\"note\":\"请放门口\"}",
             (long long)w.m.market_id, (long long)c.address);
    doc = shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(shop_jint(doc, "items_fen"), 1451);
    ck_assert_int_eq(shop_jint(doc, "delivery_fee_fen"), 500);
    ck_assert_int_eq(shop_jint(doc, "payable_fen"), 1951);
    ck_assert_int_eq(shop_jint(doc, "paid_fen"), 0);
    ck_assert_int_eq(shop_jint(doc, "market_id"), w.m.market_id);
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
        sum += shop_jint(l, "amount_fen");
        if (shop_jint(l, "product_id") == tomato)
            ck_assert_int_eq(shop_jint(l, "amount_fen"), 400);
    }
    ck_assert_int_eq(sum, 1451);
    int64_t id = shop_jint(doc, "id");
    json_decref(doc);
    /* stock taken, the cart emptied, the public stock fresh at once */
    ck_assert_int_eq(shop_stock(&w.db, egg), 97);
    ck_assert_int_eq(shop_stock(&w.db, tomato), 10000 - 333);
    snprintf(path, sizeof(path), "/v1/cart?market_id=%lld", (long long)w.m.market_id);
    doc = shop_call(&shared, "GET", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)egg);
    doc = shop_call(&shared, "GET", path, NULL, NULL, NULL, &status);
    ck_assert_int_eq(shop_jint(doc, "stock"), 97);
    json_decref(doc);
    /* the order as GET shows it, an outbox row for the timeout */
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)id);
    doc = shop_call(&shared, "GET", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(shop_jint(doc, "payable_fen"), 1951);
    json_decref(doc);
    ck_assert_int_eq(
        shop_i64(&w.db, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.created' AND market_id = ?", w.m.market_id),
        1);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_delivery_is_free_from_the_threshold)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t melon = shop_product(&w, 0, "西瓜", 2500, 0, 10);
    shop_put_cart(&shared, &c, melon, 2); /* exactly 5000 */
    json_t *doc = shop_checkout(&shared, &c, w.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(shop_jint(doc, "delivery_fee_fen"), 0);
    ck_assert_int_eq(shop_jint(doc, "payable_fen"), 5000);
    json_decref(doc);
    shop_put_cart(&shared, &c, melon, 1); /* 2500: below */
    doc = shop_checkout(&shared, &c, w.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(shop_jint(doc, "delivery_fee_fen"), 500);
    ck_assert_int_eq(shop_jint(doc, "payable_fen"), 3000);
    json_decref(doc);
    shop_world_down(&w);
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
    s->status = shop_request(&shared, "POST", "/v1/orders", s->token, s->body, s->key, &s->text);
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
static void race(shop_world_t *w, int64_t a, int64_t b)
{
    static shop_consumer_t c[RACERS];
    static shot_t s[RACERS];
    for (int i = 0; i < RACERS; i++) {
        consumer(w, &c[i]);
        if (b != 0 && i % 2 == 1) {
            shop_put_cart(&shared, &c[i], b, 1);
            shop_put_cart(&shared, &c[i], a, 1);
        } else {
            shop_put_cart(&shared, &c[i], a, 1);
            if (b != 0)
                shop_put_cart(&shared, &c[i], b, 1);
        }
        s[i] = (shot_t){.token = c[i].token};
        shop_checkout_body(s[i].body, sizeof(s[i].body), w->m.market_id, c[i].address);
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
            ck_assert_str_eq(shop_error_code(doc), "out_of_stock");
            json_t *lines = json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "lines");
            ck_assert_int_ge(json_array_size(lines), 1);
            ck_assert_int_eq(shop_jint(json_array_get(lines, 0), "qty"), 1);
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
    shop_world_t w;
    shop_world_up(&w);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 10);
    race(&w, a, 0);
    ck_assert_int_eq(shop_stock(&w.db, a), 0);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT COUNT(*) FROM orders WHERE market_id = ?", w.m.market_id), 10);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT sales_qty FROM products WHERE id = ?", a), 10);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_fifty_concurrent_checkouts_of_two_products_in_opposite_orders_never_fail)
{
    shop_world_t w;
    shop_world_up(&w);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t b = shop_product(&w, 2, "鸭蛋", 450, 0, 10);
    race(&w, a, b);
    ck_assert_int_eq(shop_stock(&w.db, a), 0);
    ck_assert_int_eq(shop_stock(&w.db, b), 0);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT COUNT(*) FROM orders WHERE market_id = ?", w.m.market_id), 10);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT COUNT(*) FROM vendor_orders WHERE market_id = ?", w.m.market_id), 20);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_the_same_idempotency_key_ten_times_at_once_makes_one_order)
{
    shop_world_t w;
    shop_consumer_t c;
    shot_t s[10];
    char key[64], body[160];
    long status;
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 100);
    shop_put_cart(&shared, &c, a, 2);
    snprintf(key, sizeof(key), "chk-%d-%lld", (int)getpid(), (long long)c.id);
    shop_checkout_body(body, sizeof(body), w.m.market_id, c.address);
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
    ck_assert_int_eq(shop_stock(&w.db, a), 98);
    /* later, the same key and body: the same answer, still one order */
    shop_put_cart(&shared, &c, a, 5);
    char *text = NULL;
    ck_assert_int_eq(shop_request(&shared, "POST", "/v1/orders", c.token, body, key, &text), 201);
    ck_assert_str_eq(text, s[0].text);
    free(text);
    ck_assert_int_eq(orders_of(&w, c.id), 1);
    /* the same body with its keys in another order and other spacing is the same request */
    char swapped[160];
    snprintf(swapped, sizeof(swapped), "{ \"address_id\": %lld, \"market_id\": %lld }", (long long)c.address,
             (long long)w.m.market_id);
    ck_assert_int_eq(shop_request(&shared, "POST", "/v1/orders", c.token, swapped, key, &text), 201);
    ck_assert_str_eq(text, s[0].text);
    free(text);
    for (int i = 0; i < 10; i++)
        free(s[i].text);
    /* the same key with another body */
    char other[200];
    snprintf(other, sizeof(other), "{\"market_id\":%lld,\"address_id\":%lld,\"note\":\"快点\"}",
             (long long)w.m.market_id, (long long)c.address);
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", c.token, other, key, &status), &status, 422,
                      "idempotency_key_reused");
    ck_assert_int_eq(orders_of(&w, c.id), 1);
    ck_assert_int_eq(shop_stock(&w.db, a), 98);
    /* another consumer may use the same key */
    shop_consumer_t d;
    consumer(&w, &d);
    shop_put_cart(&shared, &d, a, 1);
    shop_checkout_body(body, sizeof(body), w.m.market_id, d.address);
    json_t *doc = shop_call(&shared, "POST", "/v1/orders", d.token, body, key, &status);
    ck_assert_int_eq(status, 201);
    json_decref(doc);
    /* a key that is no key */
    char big[200];
    memset(big, 'k', 129);
    big[129] = '\0';
    shop_put_cart(&shared, &d, a, 1);
    doc = shop_call(&shared, "POST", "/v1/orders", d.token, body, big, &status);
    ck_assert_str_eq(shop_error_field(doc), "Idempotency-Key");
    shop_expect_error(doc, &status, 422, "invalid");
    ck_assert_int_eq(orders_of(&w, d.id), 1);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_an_out_of_stock_answer_is_kept_for_its_key_too)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char body[160], key[64];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 1);
    ck_assert_int_eq(cart_set(&w.redis, c.id, w.m.market_id, a, 2), 0); /* more than the stock */
    snprintf(key, sizeof(key), "oos-%d", (int)getpid());
    shop_checkout_body(body, sizeof(body), w.m.market_id, c.address);
    json_t *doc = shop_call(&shared, "POST", "/v1/orders", c.token, body, key, &status);
    json_t *line =
        json_array_get(json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "lines"), 0);
    ck_assert_int_eq(shop_jint(line, "product_id"), a);
    ck_assert_int_eq(shop_jint(line, "qty"), 2);
    ck_assert_int_eq(shop_jint(line, "available"), 1);
    ck_assert_str_eq(json_string_value(json_object_get(line, "name")), "土鸡蛋");
    shop_expect_error(doc, &status, 409, "out_of_stock");
    /* stock comes in; the key still answers what it answered */
    shop_sql(&w.db, "UPDATE products SET stock = 10 WHERE id = ?", (db_param_t[]){DB_I64(a)}, 1);
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", c.token, body, key, &status), &status, 409,
                      "out_of_stock");
    ck_assert_int_eq(orders_of(&w, c.id), 0);
    /* without the key, it goes through */
    doc = shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_int_eq(status, 201);
    json_decref(doc);
    ck_assert_int_eq(shop_stock(&w.db, a), 8);
    shop_world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- refusals */

START_TEST(test_bad_checkout_bodies_are_refused_and_nothing_is_written)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char body[12000];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 10);
    shop_put_cart(&shared, &c, a, 1);
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
        json_t *doc = shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status);
        ck_assert_msg(shop_error_field(doc) != NULL && strcmp(shop_error_field(doc), bad[i].field) == 0,
                      "case %zu (%s)", i, body);
        shop_expect_error(doc, &status, 422, "invalid");
    }
    /* a 10 KB note; 200 Chinese characters are fine, 201 are not */
    int n = snprintf(body, sizeof(body), "{\"market_id\":%lld,\"address_id\":%lld,\"note\":\"", m, ad);
    memset(body + n, 'x', 10240);
    strcpy(body + n + 10240, "\"}");
    json_t *doc = shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_str_eq(shop_error_field(doc), "note");
    shop_expect_error(doc, &status, 422, "invalid");
    n = snprintf(body, sizeof(body), "{\"market_id\":%lld,\"address_id\":%lld,\"note\":\"", m, ad);
    for (int i = 0; i < 201; i++)
        n += snprintf(body + n, sizeof(body) - n, "菜");
    snprintf(body + n, sizeof(body) - n, "\"}");
    doc = shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_str_eq(shop_error_field(doc), "note");
    shop_expect_error(doc, &status, 422, "invalid");
    /* malformed JSON, a body that is no object, no token, a vendor's token */
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", c.token, "{\"market_id\":", NULL, &status), &status, 400,
                      "malformed_json");
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", c.token, "[1,2]", NULL, &status), &status, 422,
                      "invalid");
    snprintf(body, sizeof(body), "{\"market_id\":%lld,\"address_id\":%lld}", m, ad);
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", NULL, body, NULL, &status), &status, 401,
                      "unauthorized");
    char op[128];
    ck_assert_int_eq(t_login(&shared, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", op, body, NULL, &status), &status, 403, "forbidden");
    ck_assert_int_eq(orders_of(&w, c.id), 0);
    ck_assert_int_eq(shop_stock(&w.db, a), 10);
    /* the cart is still there: the valid body now goes through */
    doc = shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_int_eq(status, 201);
    json_decref(doc);
    shop_world_down(&w);
}
END_TEST

/* The world's second market sells too: its stall, vendor and product take an order there. */
START_TEST(test_the_second_market_of_the_world_takes_orders_too)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    shop_world_up(&w);
    consumer(&w, &c);
    shop_put_cart(&shared, &c, w.other_product, 1000);
    json_t *doc = shop_checkout(&shared, &c, w.other.market_id, &status);
    ck_assert_int_eq(status, 201);
    int64_t order = shop_jint(doc, "id");
    ck_assert_int_eq(shop_jint(doc, "market_id"), w.other.market_id);
    ck_assert_int_eq(shop_jint(doc, "items_fen"), 600);
    json_decref(doc);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT stall_id FROM vendor_orders WHERE order_id = ?", order), w.other_stall);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT vendor_id FROM vendor_orders WHERE order_id = ?", order), w.other_vendor);
    ck_assert_int_eq(shop_stock(&w.db, w.other_product), 49000);
    /* and the first market's checkout finds nothing of it in the cart */
    shop_expect_error(shop_checkout(&shared, &c, w.m.market_id, &status), &status, 422, "empty_cart");
    shop_world_down(&w);
}
END_TEST

START_TEST(test_empty_carts_and_unusable_addresses_are_refused_and_nothing_is_written)
{
    shop_world_t w;
    shop_consumer_t c, d;
    long status;
    char body[160];
    shop_world_up(&w);
    consumer(&w, &c);
    consumer(&w, &d);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 10);
    /* nothing in the cart */
    shop_expect_error(shop_checkout(&shared, &c, w.m.market_id, &status), &status, 422, "empty_cart");
    shop_put_cart(&shared, &c, a, 1);
    /* the cart holds market A's lines only: market B's cart is empty */
    shop_expect_error(shop_checkout(&shared, &c, w.other.market_id, &status), &status, 422, "empty_cart");
    /* another consumer's address, an unknown one */
    shop_checkout_body(body, sizeof(body), w.m.market_id, d.address);
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status), &status, 422,
                      "unknown_address");
    shop_checkout_body(body, sizeof(body), w.m.market_id, 9007199254740991LL);
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status), &status, 422,
                      "unknown_address");
    /* an address tied to another market */
    shop_checkout_body(body, sizeof(body), w.m.market_id,
                       shop_address(&w.db, c.id, w.other.market_id, "34.725000", "113.626500"));
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status), &status, 422,
                      "address_wrong_market");
    /* an address 11 km away (the radius is 5 km) */
    shop_checkout_body(body, sizeof(body), w.m.market_id, shop_address(&w.db, c.id, 0, "34.824100", "113.625400"));
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status), &status, 422,
                      "address_out_of_range");
    ck_assert_int_eq(orders_of(&w, c.id), 0);
    ck_assert_int_eq(shop_stock(&w.db, a), 10);
    /* an address tied to this very market is fine */
    shop_checkout_body(body, sizeof(body), w.m.market_id,
                       shop_address(&w.db, c.id, w.m.market_id, "34.725000", "113.626500"));
    json_t *doc = shop_call(&shared, "POST", "/v1/orders", c.token, body, NULL, &status);
    ck_assert_int_eq(status, 201);
    json_decref(doc);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_lines_gone_off_sale_or_short_are_named_and_nothing_is_reserved)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t a = shop_product(&w, 0, "菠菜", 600, 500, 5000);
    int64_t b = shop_product(&w, 1, "白菜", 200, 500, 5000);
    shop_put_cart(&shared, &c, a, 500);
    shop_put_cart(&shared, &c, b, 1000);
    /* taken off sale after it was put in the cart */
    shop_sql(&w.db, "UPDATE products SET status = 'off_sale' WHERE id = ?", (db_param_t[]){DB_I64(b)}, 1);
    json_t *doc = shop_checkout(&shared, &c, w.m.market_id, &status);
    json_t *lines = json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "lines");
    ck_assert_int_eq(json_array_size(lines), 1);
    ck_assert_int_eq(shop_jint(json_array_get(lines, 0), "product_id"), b);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lines, 0), "name")), "白菜");
    shop_expect_error(doc, &status, 422, "unavailable");
    /* its vendor suspended */
    shop_sql(&w.db, "UPDATE products SET status = 'on_sale' WHERE id = ?", (db_param_t[]){DB_I64(b)}, 1);
    shop_sql(&w.db, "UPDATE vendors SET status = 'suspended' WHERE id = ?", (db_param_t[]){DB_I64(w.vendor[1])}, 1);
    shop_expect_error(shop_checkout(&shared, &c, w.m.market_id, &status), &status, 422, "unavailable");
    shop_sql(&w.db, "UPDATE vendors SET status = 'active' WHERE id = ?", (db_param_t[]){DB_I64(w.vendor[1])}, 1);
    /* both short: both named, neither reserved */
    ck_assert_int_eq(cart_set(&w.redis, c.id, w.m.market_id, a, 6000), 0);
    ck_assert_int_eq(cart_set(&w.redis, c.id, w.m.market_id, b, 5001), 0);
    doc = shop_checkout(&shared, &c, w.m.market_id, &status);
    lines = json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "lines");
    ck_assert_int_eq(json_array_size(lines), 2);
    ck_assert_int_eq(shop_jint(json_array_get(lines, 0), "available"), 5000);
    ck_assert_int_eq(shop_jint(json_array_get(lines, 1), "qty"), 5001);
    shop_expect_error(doc, &status, 409, "out_of_stock");
    /* one short only: still nothing reserved of the other */
    ck_assert_int_eq(cart_set(&w.redis, c.id, w.m.market_id, a, 100), 0);
    shop_expect_error(shop_checkout(&shared, &c, w.m.market_id, &status), &status, 409, "out_of_stock");
    ck_assert_int_eq(shop_stock(&w.db, a), 5000);
    ck_assert_int_eq(shop_stock(&w.db, b), 5000);
    ck_assert_int_eq(orders_of(&w, c.id), 0);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT COUNT(*) FROM outbox WHERE market_id = ?", w.m.market_id), 0);
    shop_world_down(&w);
}
END_TEST

int main(void)
{
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
    tcase_add_test(tc, test_the_second_market_of_the_world_takes_orders_too);
    tcase_add_test(tc, test_lines_gone_off_sale_or_short_are_named_and_nothing_is_reserved);
    suite_add_tcase(su, tc);
    return t_main_shared(su, NULL, &shared, &shared_exit);
}
