/*
 * End to end: the catalogue cache under checkouts (server/http/cache.h, cache.stock_stale_ms).
 * A checkout only moves stock, so its catalogue bump is a stock bump: the market's cached
 * product list is still served (a hit on /metrics, the stock from before), and the stock it
 * shows catches up once the entry is older than the bound; the page of a product bought is
 * read back fresh at once on this server (the buyer sees it). A vendor's price or stock edit
 * is a hard bump: read back at once, also over an entry a checkout had left servable. With
 * cache.stock_stale_ms 0 a checkout empties the cache as before. One loop thread, so that
 * every read meets the same cache.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/user.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/shop.h"
#include "tests/support/testutil.h"

#define BOUND_MS 3000 /* large enough that a read right after a checkout falls within it */

static tserver_t srv;

static pid_t redis_pid;

/* The server, with a Redis of this test's own: the catalogue versions and their channel are
 * per market id, and a test beside this one that seeds a scratch database (market ids from 1
 * again) on the suite's shared Redis bumped this test's market, hard, now and then. */
static void server_up(const char *stale_ms)
{
    static char stale[64], port_s[16];
    int port = t_free_port();
    redis_pid = t_redis_start(port, NULL);
    ck_assert_msg(redis_pid > 0, "no private redis-server on port %d", port);
    snprintf(port_s, sizeof(port_s), "%d", port);
    setenv("STALLFRONT_REDIS_PORT", port_s, 1);
    snprintf(stale, sizeof(stale), "STALLFRONT_CACHE_STOCK_STALE_MS=%s", stale_ms);
    const char *env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                         "STALLFRONT_ORDER_DELIVERY_FEE_FEN=500",
                         "STALLFRONT_ORDER_FREE_DELIVERY_FROM_FEN=5000",
                         "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000",
                         "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                         "STALLFRONT_HTTP_THREADS=1",
                         stale,
                         NULL};
    t_migrate();
    ck_assert_msg(tserver_start(&srv, env) == 0, "server did not start");
}

static void server_down(void)
{
    ck_assert_int_eq(tserver_stop(&srv, SIGTERM), 0);
    t_redis_stop(redis_pid);
}

static double metric(const char *series)
{
    char url[128], want[128];
    snprintf(url, sizeof(url), "%s/metrics", srv.base);
    tresp_t r;
    ck_assert_int_eq(t_request(T_HTTP1, "GET", url, NULL, NULL, 0, &r), 0);
    snprintf(want, sizeof(want), "\n%s ", series);
    const char *p = strstr(r.body, want);
    double v = p != NULL ? strtod(p + strlen(want), NULL) : -1;
    t_resp_free(&r);
    ck_assert_msg(v >= 0, "no %s on /metrics", series);
    return v;
}

/* A product as a public catalogue page shows it: its stock and price, and whether the read
 * was answered from the cache (the hit counter moved, the miss counter did not). */
typedef struct seen {
    int64_t stock, price;
    int hit;
} seen_t;

/* GET path: the product itself (/v1/products/{id}) or a list holding it. */
static seen_t read_page(const char *path, int64_t id)
{
    long status;
    double h0 = metric("stallfront_cache_hits_total"), m0 = metric("stallfront_cache_misses_total");
    json_t *doc = shop_call(&srv, "GET", path, NULL, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    double h1 = metric("stallfront_cache_hits_total"), m1 = metric("stallfront_cache_misses_total");
    json_t *items = json_object_get(doc, "items"), *p = items == NULL ? doc : NULL;
    for (size_t i = 0; i < json_array_size(items) && p == NULL; i++)
        if (shop_jint(json_array_get(items, i), "id") == id)
            p = json_array_get(items, i);
    ck_assert_msg(p != NULL, "product %lld not on %s", (long long)id, path);
    seen_t s = {shop_jint(p, "stock"), shop_jint(json_object_get(p, "pricing"), "price_fen"), 0};
    json_decref(doc);
    ck_assert_msg((h1 - h0 == 1 && m1 == m0) || (h1 == h0 && m1 - m0 == 1), "hits %g→%g, misses %g→%g", h0, h1, m0, m1);
    s.hit = h1 - h0 == 1;
    return s;
}

/* The world: a product of 50 pieces at 600 fen, a consumer, the stall's vendor signed in. */
typedef struct world {
    shop_world_t s;
    shop_consumer_t c;
    char vendor_token[128];
    int64_t product;
    char list[96], one[64]; /* the market's product list, the product's own page */
} world_t;

static seen_t read_list(const world_t *w)
{
    return read_page(w->list, w->product);
}

static seen_t read_one(const world_t *w)
{
    return read_page(w->one, w->product);
}

static void world_up(world_t *w, const char *tag)
{
    static int seq; /* test-only: unique names within the process */
    char user[64];
    memset(w, 0, sizeof(*w));
    shop_world_up(&w->s);
    w->product = shop_product(&w->s, 0, "西红柿", 600, 0, 50);
    snprintf(w->list, sizeof(w->list), "/v1/markets/%lld/products", (long long)w->s.m.market_id);
    snprintf(w->one, sizeof(w->one), "/v1/products/%lld", (long long)w->product);
    shop_consumer(&srv, &w->s.db, tag, seq, &w->c);
    snprintf(user, sizeof(user), "cs%s%d_%d", tag, (int)getpid(), seq++);
    user_new_t u = {.role = "vendor",
                    .market_id = w->s.m.market_id,
                    .username = user,
                    .password = "stall-owner-pass-1",
                    .display_name = "摊主",
                    .vendor_id = w->s.vendor[0]};
    int64_t uid = 0;
    ck_assert_msg(user_create(&w->s.db, &u, &uid) == DB_OK, "user: %s", w->s.db.err);
    ck_assert_int_eq(t_login(&srv, user, "stall-owner-pass-1", w->vendor_token, sizeof(w->vendor_token)), 0);
}

static void checkout(world_t *w, int64_t qty)
{
    long status;
    shop_put_cart(&srv, &w->c, w->product, qty);
    json_t *doc = shop_checkout(&srv, &w->c, w->s.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    json_decref(doc);
}

static void vendor_patch(world_t *w, const char *body)
{
    char path[64];
    long status;
    snprintf(path, sizeof(path), "/v1/vendor/products/%lld", (long long)w->product);
    json_t *doc = shop_call(&srv, "PATCH", path, w->vendor_token, body, NULL, &status);
    ck_assert_msg(status == 200, "PATCH %s: %ld", body, status);
    json_decref(doc);
}

/* Reads the list until it is cached: a hit showing `stock`; the time before the read that
 * filled it (the entry is born after it). */
static uint64_t warm(world_t *w, int64_t stock)
{
    for (int i = 0; i < 20; i++) {
        uint64_t t = t_mono_ms();
        seen_t a = read_list(w);
        ck_assert_int_eq(a.stock, stock);
        seen_t b = read_list(w);
        ck_assert_int_eq(b.stock, stock);
        if (!a.hit && b.hit)
            return t;
    }
    ck_abort_msg("the product list was never cached");
    return 0;
}

START_TEST(test_a_checkout_leaves_the_cache_warm_and_the_stock_catches_up_within_the_bound)
{
    char bound[16];
    snprintf(bound, sizeof(bound), "%d", BOUND_MS);
    server_up(bound);
    world_t w;
    world_up(&w, "csa");
    read_one(&w); /* the product's own page cached too */
    ck_assert_int_eq(read_one(&w).hit, 1);
    uint64_t born_after = warm(&w, 50);
    double stale0 = metric("stallfront_cache_stock_stale_hits_total");
    checkout(&w, 3);
    ck_assert_int_eq(shop_stock(&w.s.db, w.product), 47);
    seen_t s = read_list(&w);
    uint64_t age = t_mono_ms() - born_after;
    if (age + 100 < BOUND_MS) { /* otherwise this machine was too slow to tell */
        ck_assert_msg(s.hit, "a checkout emptied the cache (%llu ms after the entry)", (unsigned long long)age);
        ck_assert_int_eq(s.stock, 50); /* the cached answer, from before the checkout */
        ck_assert_double_eq(metric("stallfront_cache_stock_stale_hits_total"), stale0 + 1);
    }
    /* the buyer's read of what it bought: fresh at once, and cached in turn */
    s = read_one(&w);
    ck_assert_int_eq(s.hit, 0);
    ck_assert_int_eq(s.stock, 47);
    s = read_one(&w);
    ck_assert_int_eq(s.hit, 1);
    ck_assert_int_eq(s.stock, 47);
    /* the list's stock catches up: from the cache until then, never a new answer with the old stock */
    int caught_up = 0;
    for (int i = 0; i < 200 && !caught_up; i++) {
        s = read_list(&w);
        if (s.stock == 47)
            caught_up = 1;
        else {
            ck_assert_int_eq(s.stock, 50);
            ck_assert_msg(s.hit, "the old stock came from a new answer");
            t_sleep_ms(50);
        }
    }
    ck_assert_msg(caught_up, "the stock shown never caught up");
    ck_assert_int_ge(t_mono_ms() - born_after, BOUND_MS); /* not before the bound */
    /* and the new answer is cached in turn */
    ck_assert_int_eq(read_list(&w).hit, 1);
    shop_world_down(&w.s);
    server_down();
}
END_TEST

START_TEST(test_a_vendor_edit_is_read_back_at_once_over_an_entry_a_checkout_left)
{
    char bound[16];
    snprintf(bound, sizeof(bound), "%d", 10000); /* the largest: within the test, stock alone never catches up */
    server_up(bound);
    world_t w;
    world_up(&w, "csb");
    warm(&w, 50);
    checkout(&w, 2);
    seen_t s = read_list(&w);
    ck_assert_int_eq(s.hit, 1);
    ck_assert_int_eq(s.stock, 50);
    /* a price edit: at once, and with the stock as it is now */
    vendor_patch(&w, "{\"pricing\":{\"mode\":\"count\",\"price_fen\":650,\"unit\":\"个\"}}");
    s = read_list(&w);
    ck_assert_int_eq(s.hit, 0);
    ck_assert_int_eq(s.price, 650);
    ck_assert_int_eq(s.stock, 48);
    ck_assert_int_eq(read_list(&w).hit, 1);
    /* a vendor's own stock edit is a hard change too */
    vendor_patch(&w, "{\"stock\":100}");
    s = read_list(&w);
    ck_assert_int_eq(s.hit, 0);
    ck_assert_int_eq(s.stock, 100);
    /* a checkout after it: the list stays warm again */
    checkout(&w, 1);
    s = read_list(&w);
    ck_assert_int_eq(s.hit, 1);
    ck_assert_int_eq(s.stock, 100);
    shop_world_down(&w.s);
    server_down();
}
END_TEST

START_TEST(test_with_no_bound_a_checkout_empties_the_cache_as_before)
{
    server_up("0");
    world_t w;
    world_up(&w, "csc");
    warm(&w, 50);
    checkout(&w, 4);
    seen_t s = read_list(&w);
    ck_assert_int_eq(s.hit, 0);
    ck_assert_int_eq(s.stock, 46);
    ck_assert_int_eq(read_list(&w).hit, 1);
    shop_world_down(&w.s);
    server_down();
}
END_TEST

int main(void)
{
    Suite *su = suite_create("cache_stock");
    TCase *tc = tcase_create("cache_stock");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_a_checkout_leaves_the_cache_warm_and_the_stock_catches_up_within_the_bound);
    tcase_add_test(tc, test_a_vendor_edit_is_read_back_at_once_over_an_entry_a_checkout_left);
    tcase_add_test(tc, test_with_no_bound_a_checkout_empties_the_cache_as_before);
    suite_add_tcase(su, tc);
    return t_run(su, 0) == 0 ? 0 : 1;
}
