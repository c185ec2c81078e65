/*
 * End to end: ratings and complaints on the real binary over h2c (HTTP/2). Orders are placed
 * through checkout and then put into `delivered` with SQL (a deliveries row, the order and
 * its vendor orders moved), as the delivery part leaves them. Covers: the rating refused
 * before delivery, for another consumer's order (404, nothing written) and a second time
 * (409, also when two race: exactly one 200); every bad body refused with the field named
 * and nothing written; the stall's public page and the market's stall list showing the new
 * average and count at once (the catalogue cache was bumped); a stall's public ratings;
 * complaints filed, listed by their consumer only, listed and resolved by their market's
 * operator only, resolved once.
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

static void consumer(shop_world_t *w, shop_consumer_t *c)
{
    static int seq; /* test-only: makes consumer names unique within the process */
    shop_consumer(&shared, &w->db, "fb", seq++, c);
}

/* c checks out one piece of each product; the order's id. */
static int64_t place(shop_world_t *w, const shop_consumer_t *c, const int64_t *products, size_t n)
{
    long status;
    for (size_t i = 0; i < n; i++)
        shop_put_cart(&shared, c, products[i], 1);
    json_t *doc = shop_checkout(&shared, c, w->m.market_id, &status);
    ck_assert_int_eq(status, 201);
    int64_t id = shop_jint(doc, "id");
    json_decref(doc);
    return id;
}

/* A courier of the test's market; its id. */
static int64_t courier(shop_world_t *w)
{
    return shop_sql(&w->db, "INSERT INTO couriers (market_id, name, phone) VALUES (?, '骑手', '13700000000')",
                    (db_param_t[]){DB_I64(w->m.market_id)}, 1);
}

/* Puts an order into `delivered` as the delivery part will: paid, every vendor order handed
 * over, a delivery delivered (by courier_id, or by nobody when 0). */
static void deliver(shop_world_t *w, int64_t order, int64_t courier_id)
{
    shop_sql(&w->db, "UPDATE orders SET status = 'delivered', paid_fen = payable_fen, paid_at = NOW(3) WHERE id = ?",
             (db_param_t[]){DB_I64(order)}, 1);
    shop_sql(&w->db, "UPDATE vendor_orders SET status = 'handed_over' WHERE order_id = ?",
             (db_param_t[]){DB_I64(order)}, 1);
    shop_sql(&w->db,
             "INSERT INTO deliveries (market_id, order_id, status, courier_id, code, assigned_at, picked_up_at,"
             " delivered_at) VALUES (?, ?, 'delivered', ?, '4321', NOW(3), NOW(3), NOW(3))",
             (db_param_t[]){DB_I64(w->m.market_id), DB_I64(order), courier_id != 0 ? DB_I64(courier_id) : DB_NULL}, 3);
}

static const char *path_of(char *buf, size_t len, const char *fmt, int64_t id)
{
    snprintf(buf, len, fmt, (long long)id);
    return buf;
}

/* POST /v1/orders/{id}/rating with body as c. */
static json_t *rate(const shop_consumer_t *c, int64_t order, const char *body, long *status)
{
    char path[96];
    return shop_call(&shared, "POST", path_of(path, sizeof(path), "/v1/orders/%lld/rating", order), c->token, body,
                     NULL, status);
}

/* The rating rows of an order: its order_ratings row and its stall_ratings rows. */
static int64_t rated(shop_world_t *w, int64_t order)
{
    return t_db_i64(&w->db,
                    "SELECT (SELECT COUNT(*) FROM order_ratings WHERE order_id = ?)"
                    " + (SELECT COUNT(*) FROM stall_ratings WHERE order_id = ?)",
                    (db_param_t[]){DB_I64(order), DB_I64(order)}, 2);
}

/* The public stall's rating and rating_count, through GET /v1/stalls/{id}. */
static json_t *public_stall(int64_t stall)
{
    char path[64];
    long status;
    json_t *doc =
        shop_call(&shared, "GET", path_of(path, sizeof(path), "/v1/stalls/%lld", stall), NULL, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    return doc;
}

/* The stall's item of GET /v1/markets/{id}/stalls (a new reference), or fails. */
static json_t *listed_stall(int64_t market, int64_t stall)
{
    char path[96];
    long status;
    json_t *doc = shop_call(&shared, "GET", path_of(path, sizeof(path), "/v1/markets/%lld/stalls?limit=100", market),
                            NULL, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    json_t *items = json_object_get(doc, "items"), *found = NULL;
    for (size_t i = 0; i < json_array_size(items); i++)
        if (shop_jint(json_array_get(items, i), "id") == stall)
            found = json_incref(json_array_get(items, i));
    json_decref(doc);
    ck_assert_ptr_nonnull(found);
    return found;
}

static void expect_rating(json_t *stall, double avg, int64_t count)
{
    if (count == 0)
        ck_assert(json_is_null(json_object_get(stall, "rating")));
    else
        ck_assert_double_eq_tol(json_number_value(json_object_get(stall, "rating")), avg, 1e-9);
    ck_assert_int_eq(shop_jint(stall, "rating_count"), count);
    json_decref(stall);
}

/* ================================================================ ratings */

START_TEST(test_a_delivered_order_is_rated_once_and_the_stalls_show_it_at_once)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char body[256], path[96];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t p[] = {shop_product(&w, 0, "土鸡蛋", 350, 0, 100), shop_product(&w, 1, "菠菜", 600, 500, 5000)};
    int64_t order = place(&w, &c, p, 2), rider = courier(&w);
    /* read (and cached) before any rating */
    expect_rating(public_stall(w.stall[0]), 0, 0);
    expect_rating(listed_stall(w.m.market_id, w.stall[0]), 0, 0);
    snprintf(body, sizeof(body),
             "{\"stalls\":[{\"stall_id\":%lld,\"score\":5,\"text\":\"很新鲜\"},"
             "{\"stall_id\":%lld,\"score\":4}],\"courier_score\":5}",
             (long long)w.stall[0], (long long)w.stall[1]);
    /* not yet delivered: refused, nothing written */
    shop_expect_error(rate(&c, order, body, &status), &status, 409, "not_delivered");
    ck_assert_int_eq(rated(&w, order), 0);
    deliver(&w, order, rider);
    json_t *doc = rate(&c, order, body, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(shop_jint(doc, "order_id"), order);
    ck_assert_int_eq(shop_jint(doc, "courier_score"), 5);
    ck_assert_int_eq(shop_jint(doc, "courier_id"), rider);
    json_t *stalls = json_object_get(doc, "stalls");
    ck_assert_int_eq(json_array_size(stalls), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(stalls, 0), "text")), "很新鲜");
    ck_assert_int_eq(shop_jint(json_array_get(stalls, 1), "score"), 4);
    json_decref(doc);
    ck_assert_int_eq(rated(&w, order), 3);
    /* the public answers moved at once: the catalogue cache was bumped */
    expect_rating(public_stall(w.stall[0]), 5.0, 1);
    expect_rating(listed_stall(w.m.market_id, w.stall[0]), 5.0, 1);
    expect_rating(public_stall(w.stall[1]), 4.0, 1);
    expect_rating(public_stall(w.stall[2]), 0, 0);
    /* twice: refused, nothing moved */
    shop_expect_error(rate(&c, order, body, &status), &status, 409, "already_rated");
    ck_assert_int_eq(rated(&w, order), 3);
    expect_rating(public_stall(w.stall[0]), 5.0, 1);
    /* a second order brings the average to 4.5 (two ratings) */
    int64_t second = place(&w, &c, p, 1);
    deliver(&w, second, 0);
    snprintf(body, sizeof(body), "{\"stalls\":[{\"stall_id\":%lld,\"score\":4,\"text\":null}]}", (long long)w.stall[0]);
    doc = rate(&c, second, body, &status);
    ck_assert_int_eq(status, 200);
    ck_assert(json_is_null(json_object_get(doc, "courier_score")));
    json_decref(doc);
    expect_rating(public_stall(w.stall[0]), 4.5, 2);
    expect_rating(listed_stall(w.m.market_id, w.stall[0]), 4.5, 2);
    /* the stall's ratings, newest first, without who wrote them */
    doc = shop_call(&shared, "GET", path_of(path, sizeof(path), "/v1/stalls/%lld/ratings", w.stall[0]), NULL, NULL,
                    NULL, &status);
    ck_assert_int_eq(status, 200);
    json_t *items = json_object_get(doc, "items");
    ck_assert_int_eq(json_array_size(items), 2);
    ck_assert_int_eq(shop_jint(json_array_get(items, 0), "score"), 4);
    ck_assert(json_is_null(json_object_get(json_array_get(items, 0), "text")));
    ck_assert_int_eq(shop_jint(json_array_get(items, 1), "score"), 5);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 1), "text")), "很新鲜");
    ck_assert_int_eq(json_object_size(json_array_get(items, 1)), 3);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_a_stalls_ratings_are_paged_and_bad_pages_refused)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char body[160], path[256], cursor[128] = "";
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t p[] = {shop_product(&w, 2, "萝卜", 200, 0, 100)};
    for (int i = 0; i < 3; i++) {
        int64_t order = place(&w, &c, p, 1);
        deliver(&w, order, 0);
        snprintf(body, sizeof(body), "{\"stalls\":[{\"stall_id\":%lld,\"score\":%d}]}", (long long)w.stall[2], i + 1);
        json_decref(rate(&c, order, body, &status));
        ck_assert_int_eq(status, 200);
    }
    int seen = 0;
    for (int page = 0; page < 3; page++) {
        snprintf(path, sizeof(path), "/v1/stalls/%lld/ratings?limit=2%s%s", (long long)w.stall[2],
                 cursor[0] ? "&cursor=" : "", cursor);
        json_t *doc = shop_call(&shared, "GET", path, NULL, NULL, NULL, &status);
        ck_assert_int_eq(status, 200);
        json_t *items = json_object_get(doc, "items");
        for (size_t i = 0; i < json_array_size(items); i++, seen++)
            ck_assert_int_eq(shop_jint(json_array_get(items, i), "score"), 3 - seen);
        json_t *next = json_object_get(doc, "next_cursor");
        int last = json_is_null(next);
        if (!last)
            snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(doc);
        if (last)
            break;
    }
    ck_assert_int_eq(seen, 3);
    static const char *const bad[] = {"limit=0", "limit=101", "cursor=zzz", "cursor="};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/v1/stalls/%lld/ratings?%s", (long long)w.stall[2], bad[i]);
        shop_expect_error(shop_call(&shared, "GET", path, NULL, NULL, NULL, &status), &status, 422, "invalid");
    }
    shop_expect_error(shop_call(&shared, "GET", "/v1/stalls/99999999/ratings", NULL, NULL, NULL, &status), &status, 404,
                      "not_found");
    shop_expect_error(shop_call(&shared, "GET", "/v1/stalls/abc/ratings", NULL, NULL, NULL, &status), &status, 404,
                      "not_found");
    shop_world_down(&w);
}
END_TEST

START_TEST(test_another_consumers_order_is_not_found_and_nothing_is_written)
{
    shop_world_t w;
    shop_consumer_t c, d;
    long status;
    char body[128];
    shop_world_up(&w);
    consumer(&w, &c);
    consumer(&w, &d);
    int64_t p[] = {shop_product(&w, 0, "土鸡蛋", 350, 0, 100)};
    int64_t order = place(&w, &c, p, 1);
    deliver(&w, order, 0);
    snprintf(body, sizeof(body), "{\"stalls\":[{\"stall_id\":%lld,\"score\":1}]}", (long long)w.stall[0]);
    shop_expect_error(rate(&d, order, body, &status), &status, 404, "not_found");
    shop_expect_error(rate(&c, 99999999999, body, &status), &status, 404, "not_found");
    shop_expect_error(rate(&c, 0, body, &status), &status, 404, "not_found");
    ck_assert_int_eq(rated(&w, order), 0);
    expect_rating(public_stall(w.stall[0]), 0, 0);
    /* the operator and nobody at all are not consumers */
    char op[128];
    ck_assert_int_eq(t_login(&shared, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);
    char path[96];
    path_of(path, sizeof(path), "/v1/orders/%lld/rating", order);
    shop_expect_error(shop_call(&shared, "POST", path, op, body, NULL, &status), &status, 403, "forbidden");
    shop_expect_error(shop_call(&shared, "POST", path, NULL, body, NULL, &status), &status, 401, "unauthorized");
    ck_assert_int_eq(rated(&w, order), 0);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_bad_rating_bodies_are_refused_by_field_and_write_nothing)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char body[2048], long_text[600];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t p[] = {shop_product(&w, 0, "土鸡蛋", 350, 0, 100), shop_product(&w, 1, "菠菜", 600, 500, 5000)};
    int64_t order = place(&w, &c, p, 2);
    deliver(&w, order, 0); /* no courier */
    long long s0 = w.stall[0], s1 = w.stall[1], s2 = w.stall[2], other = w.other_stall;
    memset(long_text, 'a', 501);
    long_text[501] = '\0';
    static const char *const fmts[] = {
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":0}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":6}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":\"5\"}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":4.5}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":null}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":-1}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5},{\"stall_id\":%3$lld,\"score\":5}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5},{\"stall_id\":%4$lld,\"score\":5}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5},{\"stall_id\":%1$lld,\"score\":4}]}",
        "{\"stalls\":[{\"stall_id\":%2$lld,\"score\":5},{\"stall_id\":\"%1$lld\",\"score\":4}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5,\"text\":\"%5$s\"}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5,\"text\":\"bell\\u0007\"}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5,\"text\":7}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5,\"colour\":\"red\"}]}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5}],\"courier_score\":3}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5}],\"courier_score\":0}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5}],\"courier_score\":\"3\"}",
        "{\"stalls\":[{\"stall_id\":%1$lld,\"score\":5}],\"tip\":1}",
        "{\"stalls\":[]}",
        "{\"stalls\":{\"stall_id\":%1$lld,\"score\":5}}",
        "{\"stalls\":[5]}",
        "{\"courier_score\":5}",
        "{}",
    };
    static const char *const fields[] = {
        "stalls[0].score",
        "stalls[0].score",
        "stalls[0].score",
        "stalls[0].score",
        "stalls[0].score",
        "stalls[0].score",
        "stalls[0].score",
        "stalls[1].stall_id",
        "stalls[1].stall_id",
        "stalls[1].stall_id",
        "stalls[1].stall_id",
        "stalls[0].text",
        "stalls[0].text",
        "stalls[0].text",
        "stalls[0].colour",
        "courier_score",
        "courier_score",
        "courier_score",
        "tip",
        "stalls",
        "stalls",
        "stalls[0].",
        "stalls",
        "stalls",
    };
    ck_assert_int_eq(sizeof(fmts) / sizeof(fmts[0]), sizeof(fields) / sizeof(fields[0]));
    for (size_t i = 0; i < sizeof(fmts) / sizeof(fmts[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(body, sizeof(body), fmts[i], s0, s1, s2, other, long_text);
#pragma GCC diagnostic pop
        json_t *doc = rate(&c, order, body, &status);
        ck_assert_msg(shop_error_field(doc) != NULL && strcmp(shop_error_field(doc), fields[i]) == 0, "%s: field %s",
                      body, shop_error_field(doc) != NULL ? shop_error_field(doc) : "(none)");
        shop_expect_error(doc, &status, 422, "invalid");
    }
    /* not JSON (also: a number beyond what JSON integers hold here), not an object */
    shop_expect_error(rate(&c, order, "{\"stalls\":[", &status), &status, 400, "malformed_json");
    snprintf(body, sizeof(body), "{\"stalls\":[{\"stall_id\":%lld,\"score\":99999999999999999999}]}", s0);
    shop_expect_error(rate(&c, order, body, &status), &status, 400, "malformed_json");
    shop_expect_error(rate(&c, order, "[1,2]", &status), &status, 422, "invalid");
    ck_assert_int_eq(rated(&w, order), 0);
    expect_rating(public_stall(w.stall[0]), 0, 0);
    /* 500 characters (of Chinese: 1500 bytes) are fine */
    char *text = malloc(1600);
    text[0] = '\0';
    for (int i = 0; i < 500; i++)
        strcat(text, "好");
    snprintf(body, sizeof(body), "{\"stalls\":[{\"stall_id\":%lld,\"score\":3,\"text\":\"%s\"}]}", s0, text);
    free(text);
    json_decref(rate(&c, order, body, &status));
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(rated(&w, order), 2);
    shop_world_down(&w);
}
END_TEST

typedef struct rater {
    const char *token, *path, *body;
    long status;
    char *text;
} rater_t;

static void *rate_it(void *arg)
{
    rater_t *k = arg;
    k->status = shop_request(&shared, "POST", k->path, k->token, k->body, NULL, &k->text);
    return NULL;
}

START_TEST(test_two_ratings_at_once_rate_the_order_once)
{
    shop_world_t w;
    shop_consumer_t c;
    char path[96], body[2][128];
    shop_world_up(&w);
    consumer(&w, &c);
    int64_t p[] = {shop_product(&w, 0, "土鸡蛋", 350, 0, 100)};
    int sum = 0;
    for (int round = 0; round < 5; round++) {
        int64_t order = place(&w, &c, p, 1);
        deliver(&w, order, 0);
        path_of(path, sizeof(path), "/v1/orders/%lld/rating", order);
        rater_t k[2];
        pthread_t t[2];
        for (int i = 0; i < 2; i++) {
            snprintf(body[i], sizeof(body[i]), "{\"stalls\":[{\"stall_id\":%lld,\"score\":%d}]}", (long long)w.stall[0],
                     i + 1);
            k[i] = (rater_t){c.token, path, body[i], 0, NULL};
        }
        for (int i = 0; i < 2; i++)
            ck_assert_int_eq(pthread_create(&t[i], NULL, rate_it, &k[i]), 0);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        ck_assert_msg((k[0].status == 200 && k[1].status == 409) || (k[0].status == 409 && k[1].status == 200),
                      "%ld %s / %ld %s", k[0].status, k[0].text, k[1].status, k[1].text);
        ck_assert_ptr_nonnull(strstr(k[0].status == 409 ? k[0].text : k[1].text, "already_rated"));
        sum += k[0].status == 200 ? 1 : 2;
        free(k[0].text);
        free(k[1].text);
        ck_assert_int_eq(rated(&w, order), 2);
    }
    ck_assert_int_eq(shop_i64(&w.db, "SELECT rating_count FROM stalls WHERE id = ?", w.stall[0]), 5);
    ck_assert_int_eq(shop_i64(&w.db, "SELECT rating_sum FROM stalls WHERE id = ?", w.stall[0]), sum);
    shop_world_down(&w);
}
END_TEST

/* ================================================================ complaints */

static json_t *complain(const shop_consumer_t *c, const char *body, long *status)
{
    return shop_call(&shared, "POST", "/v1/complaints", c->token, body, NULL, status);
}

START_TEST(test_complaints_are_filed_and_seen_by_their_consumer_only)
{
    shop_world_t w;
    shop_consumer_t c, d;
    long status;
    char body[1600];
    shop_world_up(&w);
    consumer(&w, &c);
    consumer(&w, &d);
    int64_t p[] = {shop_product(&w, 0, "土鸡蛋", 350, 0, 100)};
    int64_t order = place(&w, &c, p, 1);
    snprintf(body, sizeof(body), "{\"order_id\":%lld,\"stall_id\":%lld,\"text\":\"少了一个蛋\"}", (long long)order,
             (long long)w.stall[0]);
    json_t *doc = complain(&c, body, &status);
    ck_assert_int_eq(status, 201);
    int64_t first = shop_jint(doc, "id");
    ck_assert_int_eq(shop_jint(doc, "order_id"), order);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "stall_no")), "A-01");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "open");
    json_decref(doc);
    snprintf(body, sizeof(body), "{\"stall_id\":%lld,\"text\":\"摊位不卫生\",\"order_id\":null}",
             (long long)w.stall[1]);
    doc = complain(&c, body, &status);
    ck_assert_int_eq(status, 201);
    int64_t second = shop_jint(doc, "id");
    ck_assert(json_is_null(json_object_get(doc, "order_id")));
    json_decref(doc);
    /* their own, newest first; the other consumer sees none */
    doc = shop_call(&shared, "GET", "/v1/complaints", c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 2);
    ck_assert_int_eq(shop_jint(json_array_get(json_object_get(doc, "items"), 0), "id"), second);
    ck_assert_int_eq(shop_jint(json_array_get(json_object_get(doc, "items"), 1), "id"), first);
    json_decref(doc);
    doc = shop_call(&shared, "GET", "/v1/complaints?limit=1", c.token, NULL, NULL, &status);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    ck_assert(json_is_string(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    doc = shop_call(&shared, "GET", "/v1/complaints", d.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    /* refusals: another's order (404), an unknown stall or one not of the order (422), bad text */
    snprintf(body, sizeof(body), "{\"order_id\":%lld,\"stall_id\":%lld,\"text\":\"x\"}", (long long)order,
             (long long)w.stall[0]);
    shop_expect_error(complain(&d, body, &status), &status, 404, "not_found");
    snprintf(body, sizeof(body), "{\"order_id\":%lld,\"stall_id\":%lld,\"text\":\"x\"}", (long long)order,
             (long long)w.stall[2]);
    doc = complain(&c, body, &status);
    ck_assert_str_eq(shop_error_field(doc), "stall_id");
    shop_expect_error(doc, &status, 422, "unknown_stall");
    shop_expect_error(complain(&c, "{\"stall_id\":99999999,\"text\":\"x\"}", &status), &status, 422, "unknown_stall");
    static const char *const bad[] = {"{\"stall_id\":%lld,\"text\":\"\"}",
                                      "{\"stall_id\":%lld}",
                                      "{\"stall_id\":%lld,\"text\":5}",
                                      "{\"stall_id\":%lld,\"text\":\"x\",\"urgent\":true}",
                                      "{\"stall_id\":\"%lld\",\"text\":\"x\"}",
                                      "{\"stall_id\":%lld,\"text\":\"x\",\"order_id\":0}",
                                      "{\"text\":\"x\"}"};
    static const char *const fields[] = {"text", "text", "text", "urgent", "stall_id", "order_id", "stall_id"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wformat-nonliteral"
        snprintf(body, sizeof(body), bad[i], (long long)w.stall[0]);
#pragma GCC diagnostic pop
        doc = complain(&c, body, &status);
        ck_assert_msg(shop_error_field(doc) != NULL && strcmp(shop_error_field(doc), fields[i]) == 0, "%s", body);
        shop_expect_error(doc, &status, 422, "invalid");
    }
    char *text = malloc(1100);
    memset(text, 'z', 1001);
    text[1001] = '\0';
    snprintf(body, sizeof(body), "{\"stall_id\":%lld,\"text\":\"%s\"}", (long long)w.stall[0], text);
    free(text);
    shop_expect_error(complain(&c, body, &status), &status, 422, "invalid");
    shop_expect_error(complain(&c, "{\"stall_id\":", &status), &status, 400, "malformed_json");
    snprintf(body, sizeof(body), "{\"stall_id\":%lld,\"text\":\"x\\u0000\"}", (long long)w.stall[0]);
    shop_expect_error(complain(&c, body, &status), &status, 400, "malformed_json"); /* NUL is not let in */
    shop_expect_error(shop_call(&shared, "GET", "/v1/complaints?cursor=zzz", c.token, NULL, NULL, &status), &status,
                      422, "invalid");
    ck_assert_int_eq(t_db_i64(&w.db, "SELECT COUNT(*) FROM complaints WHERE consumer_id IN (?, ?)",
                              (db_param_t[]){DB_I64(c.id), DB_I64(d.id)}, 2),
                     2);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_the_markets_operator_alone_sees_and_resolves_its_complaints_once)
{
    shop_world_t w;
    shop_consumer_t c;
    long status;
    char body[256], path[128], op[128], other_op[128];
    shop_world_up(&w);
    consumer(&w, &c);
    ck_assert_int_eq(t_login(&shared, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);
    ck_assert_int_eq(t_login(&shared, w.other.op_user, w.other.op_pass, other_op, sizeof(other_op)), 0);
    int64_t ids[3];
    for (int i = 0; i < 3; i++) {
        snprintf(body, sizeof(body), "{\"stall_id\":%lld,\"text\":\"投诉 %d\"}", (long long)w.stall[i], i);
        json_t *doc = complain(&c, body, &status);
        ck_assert_int_eq(status, 201);
        ids[i] = shop_jint(doc, "id");
        json_decref(doc);
    }
    /* the other market's operator sees none of them and cannot resolve them */
    json_t *doc = shop_call(&shared, "GET", "/v1/admin/complaints", other_op, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    path_of(path, sizeof(path), "/v1/admin/complaints/%lld/resolve", ids[1]);
    shop_expect_error(shop_call(&shared, "POST", path, other_op, "{\"note\":\"不归我管\"}", NULL, &status), &status,
                      404, "not_found");
    ck_assert_int_eq(shop_i64(&w.db, "SELECT status = 'open' FROM complaints WHERE id = ?", ids[1]), 1);
    /* its own operator: all three, newest first */
    doc = shop_call(&shared, "GET", "/v1/admin/complaints?status=open", op, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 3);
    ck_assert_int_eq(shop_jint(json_array_get(json_object_get(doc, "items"), 0), "id"), ids[2]);
    json_decref(doc);
    /* bad notes, then the resolution, then a second one */
    static const char *const bad[] = {"{}", "{\"note\":\"\"}", "{\"note\":3}", "{\"note\":\"ok\",\"by\":\"me\"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        shop_expect_error(shop_call(&shared, "POST", path, op, bad[i], NULL, &status), &status, 422, "invalid");
    shop_expect_error(shop_call(&shared, "POST", path, op, "{\"note\"", NULL, &status), &status, 400, "malformed_json");
    doc = shop_call(&shared, "POST", path, op, "{\"note\":\"已约谈摊主，退还差价\"}", NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "resolved");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "resolution")), "已约谈摊主，退还差价");
    ck_assert(json_is_string(json_object_get(doc, "resolved_at")));
    json_decref(doc);
    shop_expect_error(shop_call(&shared, "POST", path, op, "{\"note\":\"again\"}", NULL, &status), &status, 409,
                      "already_resolved");
    ck_assert_int_eq(t_db_i64(&w.db,
                              "SELECT COUNT(*) FROM complaints WHERE id = ? AND resolution = '已约谈摊主，退还差价'",
                              (db_param_t[]){DB_I64(ids[1])}, 1),
                     1);
    shop_expect_error(
        shop_call(&shared, "POST", "/v1/admin/complaints/99999999/resolve", op, "{\"note\":\"x\"}", NULL, &status),
        &status, 404, "not_found");
    /* the filter, and what the consumer sees now */
    doc = shop_call(&shared, "GET", "/v1/admin/complaints?status=resolved", op, NULL, NULL, &status);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    json_decref(doc);
    doc = shop_call(&shared, "GET", "/v1/admin/complaints?status=open&limit=1", op, NULL, NULL, &status);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    ck_assert(json_is_string(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    shop_expect_error(shop_call(&shared, "GET", "/v1/admin/complaints?status=closed", op, NULL, NULL, &status), &status,
                      422, "invalid");
    doc = shop_call(&shared, "GET", "/v1/complaints", c.token, NULL, NULL, &status);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(doc, "items"), 1), "status")),
                     "resolved");
    json_decref(doc);
    /* roles */
    shop_expect_error(shop_call(&shared, "GET", "/v1/admin/complaints", c.token, NULL, NULL, &status), &status, 403,
                      "forbidden");
    shop_expect_error(shop_call(&shared, "GET", "/v1/complaints", op, NULL, NULL, &status), &status, 403, "forbidden");
    shop_world_down(&w);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("feedback");
    TCase *tc = tcase_create("feedback");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_a_delivered_order_is_rated_once_and_the_stalls_show_it_at_once);
    tcase_add_test(tc, test_a_stalls_ratings_are_paged_and_bad_pages_refused);
    tcase_add_test(tc, test_another_consumers_order_is_not_found_and_nothing_is_written);
    tcase_add_test(tc, test_bad_rating_bodies_are_refused_by_field_and_write_nothing);
    tcase_add_test(tc, test_two_ratings_at_once_rate_the_order_once);
    tcase_add_test(tc, test_complaints_are_filed_and_seen_by_their_consumer_only);
    tcase_add_test(tc, test_the_markets_operator_alone_sees_and_resolves_its_complaints_once);
    suite_add_tcase(su, tc);
    return t_main_shared(su, NULL, &shared, &shared_exit);
}
