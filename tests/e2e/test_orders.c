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
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "models/cart.h"
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

/* A new consumer signed in, with an address 150 m from the fixture market. */
static void consumer(shop_world_t *w, shop_consumer_t *c)
{
    static int seq; /* test-only: makes consumer names unique within the process */
    shop_consumer(&shared, &w->db, "co", seq++, c);
}

/* Checks out one unit of product p as c; the order's id. */
static int64_t place(shop_world_t *w, const shop_consumer_t *c, int64_t p, int64_t qty)
{
    long status;
    shop_put_cart(&shared, c, p, qty);
    json_t *doc = shop_checkout(&shared, c, w->m.market_id, &status);
    ck_assert_int_eq(status, 201);
    int64_t id = shop_jint(doc, "id");
    json_decref(doc);
    return id;
}

static void set_status(shop_world_t *w, int64_t order, const char *status, const char *vendor_status)
{
    shop_sql(&w->db, "UPDATE orders SET status = ? WHERE id = ?", (db_param_t[]){DB_STR(status), DB_I64(order)}, 2);
    shop_sql(&w->db, "UPDATE vendor_orders SET status = ? WHERE order_id = ?",
             (db_param_t[]){DB_STR(vendor_status), DB_I64(order)}, 2);
}

static const char *status_of(const json_t *doc)
{
    return json_string_value(json_object_get(doc, "status"));
}

START_TEST(test_a_consumer_pages_through_their_orders_newest_first)
{
    shop_world_t w;
    shop_consumer_t c, d;
    long status;
    char path[256];
    shop_world_up(&w);
    consumer(&w, &c);
    consumer(&w, &d);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 100);
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
        json_t *doc = shop_call(&shared, "GET", path, c.token, NULL, NULL, &status);
        ck_assert_int_eq(status, 200);
        json_t *items = json_object_get(doc, "items");
        for (size_t i = 0; i < json_array_size(items); i++, seen++) {
            json_t *o = json_array_get(items, i);
            ck_assert_int_eq(shop_jint(o, "id"), ids[4 - seen]);
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
    json_t *doc = shop_call(&shared, "GET", "/v1/orders?status=paid", c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    ck_assert_int_eq(shop_jint(json_array_get(json_object_get(doc, "items"), 0), "id"), ids[1]);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    doc = shop_call(&shared, "GET", "/v1/orders?status=pending_payment&limit=100", c.token, NULL, NULL, &status);
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
        doc = shop_call(&shared, "GET", path, c.token, NULL, NULL, &status);
        ck_assert_msg(shop_error_field(doc) != NULL && strcmp(shop_error_field(doc), bad[i].field) == 0, "%s", path);
        shop_expect_error(doc, &status, 422, "invalid");
    }
    shop_world_down(&w);
}
END_TEST

START_TEST(test_another_consumers_order_is_not_found_and_stays_as_it_was)
{
    shop_world_t w;
    shop_consumer_t c, d;
    long status;
    char path[128];
    shop_world_up(&w);
    consumer(&w, &c);
    consumer(&w, &d);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t id = place(&w, &c, a, 2);
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)id);
    shop_expect_error(shop_call(&shared, "GET", path, d.token, NULL, NULL, &status), &status, 404, "not_found");
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    shop_expect_error(shop_call(&shared, "POST", path, d.token, NULL, NULL, &status), &status, 404, "not_found");
    ck_assert_int_eq(shop_stock(&w.db, a), 8);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT status = 'pending_payment' FROM orders WHERE id = ?", id), 1);
    /* unknown and malformed ids */
    shop_expect_error(shop_call(&shared, "GET", "/v1/orders/99999999999", c.token, NULL, NULL, &status), &status, 404,
                      "not_found");
    shop_expect_error(shop_call(&shared, "GET", "/v1/orders/0", c.token, NULL, NULL, &status), &status, 404,
                      "not_found");
    shop_expect_error(shop_call(&shared, "GET", "/v1/orders/abc", c.token, NULL, NULL, &status), &status, 404,
                      "not_found");
    shop_expect_error(shop_call(&shared, "POST", "/v1/orders/-1/cancel", c.token, NULL, NULL, &status), &status, 404,
                      "not_found");
    /* its own consumer sees it */
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)id);
    json_t *doc = shop_call(&shared, "GET", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(shop_jint(doc, "id"), id);
    json_decref(doc);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_cancel_before_payment_returns_the_stock_once)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char path[128];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t a = shop_product(&w, 0, "菠菜", 600, 500, 5000);
    int64_t b = shop_product(&w, 1, "土鸡蛋", 350, 0, 10);
    shop_put_cart(&shared, &c, a, 750);
    int64_t id = place(&w, &c, b, 3);
    ck_assert_int_eq(shop_stock(&w.db, a), 4250);
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)b); /* cached before the cancel */
    json_t *doc = shop_call(&shared, "GET", path, NULL, NULL, NULL, &status);
    ck_assert_int_eq(shop_jint(doc, "stock"), 7);
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    doc = shop_call(&shared, "POST", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(status_of(doc), "cancelled");
    ck_assert_str_eq(status_of(json_array_get(json_object_get(doc, "vendor_orders"), 0)), "cancelled");
    ck_assert_str_eq(status_of(json_array_get(json_object_get(doc, "vendor_orders"), 1)), "cancelled");
    json_decref(doc);
    ck_assert_int_eq(shop_stock(&w.db, a), 5000);
    ck_assert_int_eq(shop_stock(&w.db, b), 10);
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)b);
    doc = shop_call(&shared, "GET", path, NULL, NULL, NULL, &status);
    ck_assert_int_eq(shop_jint(doc, "stock"), 10); /* the catalogue was bumped */
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    shop_expect_error(shop_call(&shared, "POST", path, c.token, NULL, NULL, &status), &status, 409,
                      "already_cancelled");
    ck_assert_int_eq(shop_stock(&w.db, a), 5000);
    ck_assert_int_eq(shop_stock(&w.db, b), 10);
    ck_assert_int_eq(
        shop_i64(&w.db, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.cancelled' AND market_id = ?", w.m.market_id),
        1);
    char actor[48];
    snprintf(actor, sizeof(actor), "consumer:%lld", (long long)c.id);
    ck_assert_int_eq(t_db_i64(&w.db,
                              "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'cancelled'"
                              " AND actor = ?",
                              (db_param_t[]){DB_I64(id), DB_STR(actor)}, 2),
                     3);
    shop_world_down(&w);
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
    k->status = shop_request(&shared, "POST", k->path, k->token, NULL, NULL, &k->text);
    return NULL;
}

START_TEST(test_two_cancels_at_once_return_the_stock_once)
{
    shop_world_t w;
    shop_consumer_t c;
    char path[128];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 10);
    for (int round = 0; round < 5; round++) {
        int64_t id = place(&w, &c, a, 4);
        ck_assert_int_eq(shop_stock(&w.db, a), 6);
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
        ck_assert_int_eq(shop_stock(&w.db, a), 10);
    }
    shop_world_down(&w);
}
END_TEST

START_TEST(test_cancel_after_payment_is_taken_until_a_vendor_accepts)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char path[128];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t id = place(&w, &c, a, 1);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    set_status(&w, id, "paid", "new");
    json_t *doc = shop_call(&shared, "POST", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200); /* cancelled, refunded (test_payments checks the refund) */
    ck_assert_str_eq(status_of(doc), "cancelled");
    json_decref(doc);
    ck_assert_int_eq(shop_stock(&w.db, a), 10);
    id = place(&w, &c, a, 1);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    set_status(&w, id, "paid", "accepted");
    shop_expect_error(shop_call(&shared, "POST", path, c.token, NULL, NULL, &status), &status, 409, "too_late");
    static const char *const later[] = {"fulfilling", "ready", "delivering", "delivered"};
    for (size_t i = 0; i < 4; i++) {
        set_status(&w, id, later[i], "ready");
        shop_expect_error(shop_call(&shared, "POST", path, c.token, NULL, NULL, &status), &status, 409, "too_late");
        ck_assert_int_eq(t_db_i64(&w.db, "SELECT status = ? FROM orders WHERE id = ?",
                                  (db_param_t[]){DB_STR(later[i]), DB_I64(id)}, 2),
                         1);
    }
    ck_assert_int_eq(shop_stock(&w.db, a), 9);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_order_routes_admit_consumers_only)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char op[128], path[128];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t a = shop_product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t id = place(&w, &c, a, 1);
    ck_assert_int_eq(t_login(&shared, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)id);
    shop_expect_error(shop_call(&shared, "GET", "/v1/orders", NULL, NULL, NULL, &status), &status, 401, "unauthorized");
    shop_expect_error(shop_call(&shared, "GET", path, NULL, NULL, NULL, &status), &status, 401, "unauthorized");
    shop_expect_error(shop_call(&shared, "GET", "/v1/orders", "not-a-token", NULL, NULL, &status), &status, 401,
                      "unauthorized");
    shop_expect_error(shop_call(&shared, "GET", path, op, NULL, NULL, &status), &status, 403, "forbidden");
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)id);
    shop_expect_error(shop_call(&shared, "POST", path, NULL, NULL, NULL, &status), &status, 401, "unauthorized");
    shop_expect_error(shop_call(&shared, "POST", path, op, NULL, NULL, &status), &status, 403, "forbidden");
    ck_assert_int_eq(shop_stock(&w.db, a), 9);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT status = 'pending_payment' FROM orders WHERE id = ?", id), 1);
    shop_world_down(&w);
}
END_TEST

int main(void)
{
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
    return t_main_shared(su, NULL, &shared, &shared_exit);
}
