/*
 * models/cart.c: the PUT body's rules as table-driven vectors; the cart hash in the shared
 * test Redis (every change leaves the key with a TTL of at most 7 days, lines come back
 * ordered by product id, the cap of CART_MAX_LINES, carts per consumer and market, values
 * that are not ours skipped); and the priced view against a scratch database of its own
 * (sf_tcart_<pid>_<tag>, swept by main): weight and count amounts, every reason a line is
 * unavailable, the delivery fee and its free threshold, one query for 1 to 100 lines; and a
 * change as the API makes it (cart_change): one FCALL and one statement (counted, pinned),
 * refusals that change nothing, the TTL included, lines changed elsewhere, the function
 * library loaded again when Redis lost it.
 *
 * The Redis is shared with other test runs: the consumers here have ids far above any
 * database's (4e9 + pid * 1000 + n), so no two runs touch the same cart key.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "models/cachever.h"
#include "models/cart.h"
#include "models/store/redis.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

/* ================================================================ validation */

START_TEST(test_a_put_body_is_a_whole_quantity_and_maybe_a_market)
{
    static const struct {
        const char *body;
        int64_t qty, market;
    } ok[] = {
        {"{\"qty\":750}", 750, 0},
        {"{\"qty\":0}", 0, 0},
        {"{\"qty\":1000000000}", 1000000000, 0},
        {"{\"qty\":3,\"market_id\":7}", 3, 7},
        {"{\"qty\":3,\"market_id\":null}", 3, 0},
    };
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        json_t *b = t_json_text(ok[i].body);
        int64_t qty = -1, market = -1;
        cart_invalid_t bad;
        ck_assert_msg(cart_parse_put(b, &qty, &market, &bad) == 0, "%s refused: %s %s", ok[i].body, bad.field,
                      bad.reason);
        ck_assert_int_eq(qty, ok[i].qty);
        ck_assert_int_eq(market, ok[i].market);
        json_decref(b);
    }
}
END_TEST

START_TEST(test_a_put_body_with_a_wrong_type_or_range_names_the_field)
{
    static const struct {
        const char *body, *field;
    } bad_bodies[] = {
        {"{}", "qty"},
        {"{\"qty\":1.5}", "qty"},
        {"{\"qty\":3.0}", "qty"},
        {"{\"qty\":\"3\"}", "qty"},
        {"{\"qty\":true}", "qty"},
        {"{\"qty\":null}", "qty"},
        {"{\"qty\":[3]}", "qty"},
        {"{\"qty\":-1}", "qty"},
        {"{\"qty\":-9223372036854775807}", "qty"},
        {"{\"qty\":1000000001}", "qty"},
        {"{\"qty\":9223372036854775807}", "qty"},
        {"{\"qty\":1,\"market_id\":0}", "market_id"},
        {"{\"qty\":1,\"market_id\":-4}", "market_id"},
        {"{\"qty\":1,\"market_id\":\"4\"}", "market_id"},
        {"{\"qty\":1,\"market_id\":4.5}", "market_id"},
        {"{\"qty\":1,\"market_id\":9007199254740993}", "market_id"},
        {"{\"qty\":1,\"price_fen\":1}", "price_fen"},
        {"[1]", ""},
    };
    for (size_t i = 0; i < sizeof(bad_bodies) / sizeof(bad_bodies[0]); i++) {
        json_t *b = t_json_text(bad_bodies[i].body);
        int64_t qty, market;
        cart_invalid_t bad;
        ck_assert_msg(cart_parse_put(b, &qty, &market, &bad) == -1, "%s accepted", bad_bodies[i].body);
        ck_assert_msg(strcmp(bad.field, bad_bodies[i].field) == 0, "%s: field %s", bad_bodies[i].body, bad.field);
        ck_assert_ptr_nonnull(bad.reason);
        json_decref(b);
    }
    /* an unknown key of 10 KB is named cut short, still UTF-8 */
    char *big = malloc(10 * 1024 + 64);
    strcpy(big, "{\"qty\":1,\"");
    for (int i = 0; i < 3000; i++)
        strcat(big, "菜");
    strcat(big, "\":1}");
    json_t *b = t_json_text(big);
    int64_t qty, market;
    cart_invalid_t bad;
    ck_assert_int_eq(cart_parse_put(b, &qty, &market, &bad), -1);
    ck_assert_uint_le(strlen(bad.field), sizeof(bad.field) - 1);
    ck_assert_uint_eq(strlen(bad.field) % 3, 0);
    json_t *s = json_string(bad.field); /* NULL unless valid UTF-8 */
    ck_assert_ptr_nonnull(s);
    json_decref(s);
    json_decref(b);
    free(big);
}
END_TEST

/* ================================================================ Redis */

typedef struct {
    config_t cfg;
    redis_t r;
    int64_t user, market;
    char key[64];
} rworld_t;

static void rworld_open(rworld_t *w)
{
    static int seq;
    memset(w, 0, sizeof(*w));
    t_load_cfg(&w->cfg);
    ck_assert_msg(redis_open(&w->r, &w->cfg) == 0, "redis: %s", w->r.err);
    w->user = INT64_C(4000000000) + (int64_t)getpid() * 1000 + seq++;
    w->market = 77;
    snprintf(w->key, sizeof(w->key), "cart:%lld:%lld", (long long)w->user, (long long)w->market);
    ck_assert_int_eq(cart_clear(&w->r, w->user, w->market), 0);
}

static void rworld_close(rworld_t *w)
{
    ck_assert_int_eq(cart_clear(&w->r, w->user, w->market), 0);
    redis_close(&w->r);
    config_free(&w->cfg);
}

static long long redis_int(rworld_t *w, const char *cmd, const char *key)
{
    redisReply *rep = redis_cmd(&w->r, "%s %s", cmd, key);
    ck_assert_msg(rep != NULL && rep->type == REDIS_REPLY_INTEGER, "%s %s: %s", cmd, key, w->r.err);
    long long v = rep->integer;
    freeReplyObject(rep);
    return v;
}

/* The key exists with a TTL in (7 days - 60 s, 7 days]. */
static void assert_fresh_ttl(rworld_t *w)
{
    long long ttl = redis_int(w, "TTL", w->key);
    ck_assert_msg(ttl > CART_TTL_S - 60 && ttl <= CART_TTL_S, "TTL %lld", ttl);
}

static void load(rworld_t *w, cart_line_t *lines, size_t *n)
{
    ck_assert_msg(cart_load(&w->r, w->user, w->market, lines, n) == 0, "load: %s", w->r.err);
}

START_TEST(test_lines_come_back_ordered_by_product_and_every_change_restarts_the_ttl)
{
    rworld_t w;
    cart_line_t lines[CART_MAX_LINES];
    size_t n;
    rworld_open(&w);
    load(&w, lines, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 30, 750), 0);
    assert_fresh_ttl(&w);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 4, 2), 0);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 1000, 1), 0);
    assert_fresh_ttl(&w);
    load(&w, lines, &n);
    ck_assert_uint_eq(n, 3);
    ck_assert_int_eq(lines[0].product_id, 4);
    ck_assert_int_eq(lines[0].qty, 2);
    ck_assert_int_eq(lines[1].product_id, 30);
    ck_assert_int_eq(lines[1].qty, 750);
    ck_assert_int_eq(lines[2].product_id, 1000);

    /* a key that lost its TTL (a stand-in for "an old one") gets it back on the next change,
     * whether the change adds, updates or removes */
    ck_assert_int_eq(redis_int(&w, "PERSIST", w.key), 1);
    ck_assert_int_eq(redis_int(&w, "TTL", w.key), -1);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 30, 500), 0);
    assert_fresh_ttl(&w);
    ck_assert_int_eq(redis_int(&w, "PERSIST", w.key), 1);
    ck_assert_int_eq(cart_remove(&w.r, w.user, w.market, 4), 0);
    assert_fresh_ttl(&w);
    ck_assert_int_eq(redis_int(&w, "PERSIST", w.key), 1);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 1000, 0), 0); /* qty 0 removes */
    assert_fresh_ttl(&w);
    load(&w, lines, &n);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(lines[0].product_id, 30);
    ck_assert_int_eq(lines[0].qty, 500);

    /* a read does not extend the cart's life */
    ck_assert_int_eq(redis_int(&w, "PERSIST", w.key), 1);
    load(&w, lines, &n);
    ck_assert_int_eq(redis_int(&w, "TTL", w.key), -1);

    /* removing a line that is not there changes nothing and is no error */
    ck_assert_int_eq(cart_remove(&w.r, w.user, w.market, 999), 0);
    load(&w, lines, &n);
    ck_assert_uint_eq(n, 1);

    /* the last line removed: the key is gone, not left without a TTL */
    ck_assert_int_eq(cart_remove(&w.r, w.user, w.market, 30), 0);
    ck_assert_int_eq(redis_int(&w, "EXISTS", w.key), 0);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 5, 1), 0);
    ck_assert_int_eq(cart_clear(&w.r, w.user, w.market), 0);
    ck_assert_int_eq(redis_int(&w, "EXISTS", w.key), 0);
    load(&w, lines, &n);
    ck_assert_uint_eq(n, 0);
    rworld_close(&w);
}
END_TEST

START_TEST(test_a_cart_holds_at_most_100_lines)
{
    rworld_t w;
    cart_line_t lines[CART_MAX_LINES];
    size_t n;
    rworld_open(&w);
    for (int64_t id = 1; id <= CART_MAX_LINES; id++)
        ck_assert_int_eq(cart_set(&w.r, w.user, w.market, id * 7, id), 0);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 1, 1), SF_E_CART_FULL);
    ck_assert_int_eq(redis_int(&w, "HLEN", w.key), CART_MAX_LINES);
    /* an existing line may still change, and a freed place may be taken */
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 7, 99), 0);
    ck_assert_int_eq(cart_remove(&w.r, w.user, w.market, 14), 0);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 1, 1), 0);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 2, 1), SF_E_CART_FULL);
    load(&w, lines, &n);
    ck_assert_uint_eq(n, CART_MAX_LINES);
    ck_assert_int_eq(lines[0].product_id, 1);
    ck_assert_int_eq(lines[1].product_id, 7);
    ck_assert_int_eq(lines[1].qty, 99);
    ck_assert_int_eq(lines[2].product_id, 21);
    for (size_t i = 1; i < n; i++)
        ck_assert_int_lt(lines[i - 1].product_id, lines[i].product_id);
    assert_fresh_ttl(&w);
    rworld_close(&w);
}
END_TEST

/* Concurrent writers of one cart, each with its own connection, as workers have. */
typedef struct {
    const config_t *cfg;
    int64_t user, market, first;
    int ok, full, busy, other;
} racer_t;

static void *race(void *arg)
{
    racer_t *x = arg;
    redis_t r;
    if (redis_open(&r, x->cfg) != 0) {
        x->other = 100;
        return NULL;
    }
    for (int64_t id = x->first; id < x->first + 3; id++) {
        int rc = cart_set(&r, x->user, x->market, id, 1);
        if (rc == 0)
            x->ok++;
        else if (rc == SF_E_CART_FULL)
            x->full++;
        else if (rc == SF_E_BUSY)
            x->busy++;
        else
            x->other++;
    }
    redis_close(&r);
    return NULL;
}

START_TEST(test_concurrent_writers_never_pass_the_cap)
{
    enum { N = 8 };
    rworld_t w;
    pthread_t t[N];
    racer_t x[N];
    rworld_open(&w);
    for (int64_t id = 1; id <= CART_MAX_LINES - 5; id++)
        ck_assert_int_eq(cart_set(&w.r, w.user, w.market, id, 1), 0);
    for (int i = 0; i < N; i++) {
        x[i] = (racer_t){.cfg = &w.cfg, .user = w.user, .market = w.market, .first = 1000 + i * 10};
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &x[i]), 0);
    }
    int ok = 0, full = 0, busy = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(x[i].other, 0);
        ok += x[i].ok;
        full += x[i].full;
        busy += x[i].busy;
    }
    /* never above the cap; every success is a line; a line lost to SF_E_BUSY (the cart
     * kept changing 5 times over) may leave a place free, nothing else may */
    long long len = redis_int(&w, "HLEN", w.key);
    ck_assert_int_le(len, CART_MAX_LINES);
    ck_assert_int_eq(ok, len - (CART_MAX_LINES - 5));
    if (busy == 0)
        ck_assert_int_eq(len, CART_MAX_LINES);
    ck_assert_int_ge(full, 1);
    assert_fresh_ttl(&w);
    rworld_close(&w);
}
END_TEST

START_TEST(test_carts_are_per_consumer_and_market)
{
    rworld_t a, b;
    cart_line_t lines[CART_MAX_LINES];
    size_t n;
    rworld_open(&a);
    rworld_open(&b);
    ck_assert_int_eq(cart_set(&a.r, a.user, a.market, 10, 3), 0);
    ck_assert_int_eq(cart_set(&a.r, a.user, a.market + 1, 11, 4), 0);
    load(&b, lines, &n);
    ck_assert_uint_eq(n, 0);
    ck_assert_int_eq(cart_load(&a.r, a.user, a.market + 1, lines, &n), 0);
    ck_assert_uint_eq(n, 1);
    ck_assert_int_eq(lines[0].product_id, 11);
    ck_assert_int_eq(cart_clear(&a.r, a.user, a.market), 0);
    ck_assert_int_eq(cart_load(&a.r, a.user, a.market + 1, lines, &n), 0);
    ck_assert_uint_eq(n, 1); /* clearing one market's cart leaves the other */
    ck_assert_int_eq(cart_clear(&a.r, a.user, a.market + 1), 0);
    rworld_close(&a);
    rworld_close(&b);
}
END_TEST

START_TEST(test_values_that_are_not_quantities_are_skipped_on_load)
{
    rworld_t w;
    cart_line_t lines[CART_MAX_LINES];
    size_t n;
    rworld_open(&w);
    redisReply *rep = redis_cmd(&w.r, "HSET %s abc 1 5 -3 6 0 7 2 08 1 9 1.5 10 1000000001 11 1000000000", w.key);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    load(&w, lines, &n);
    ck_assert_uint_eq(n, 2);
    ck_assert_int_eq(lines[0].product_id, 7);
    ck_assert_int_eq(lines[0].qty, 2);
    ck_assert_int_eq(lines[1].product_id, 11);
    ck_assert_int_eq(lines[1].qty, 1000000000);
    /* a key of another type is a Redis failure, not an empty cart */
    ck_assert_int_eq(cart_clear(&w.r, w.user, w.market), 0);
    rep = redis_cmd(&w.r, "SET %s x", w.key);
    freeReplyObject(rep);
    ck_assert_int_eq(cart_load(&w.r, w.user, w.market, lines, &n), -1);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 1, 1), SF_E_UNAVAILABLE);
    ck_assert_int_eq(cart_clear(&w.r, w.user, w.market), 0);
    /* and out-of-range quantities never reach Redis */
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 1, -1), SF_E_INVALID);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 1, CART_QTY_MAX + 1), SF_E_INVALID);
    ck_assert_int_eq(redis_int(&w, "EXISTS", w.key), 0);
    rworld_close(&w);
}
END_TEST

/* ================================================================ the priced view */

typedef struct {
    config_t cfg;
    db_t db;
    int64_t market, other_market;
    int64_t va, vsus, sa, ssus;
    int64_t spinach, eggs, offsale, suspended, scarce, elsewhere; /* products */
} world_t;

static int64_t exec_id(db_t *db, const char *sql, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(db, sql, p, n, NULL, &id) == DB_OK, "%s: %s", sql, db->err);
    return (int64_t)id;
}

static int64_t add_market(db_t *db, const char *code)
{
    return exec_id(
        db,
        "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
        " VALUES (?, '二七测试市场', '郑州市', 34.747700, 113.625400, '410103', '', '[]', '', '06:00-20:00')",
        (db_param_t[]){DB_STR(code)}, 1);
}

static int64_t add_vendor(db_t *db, int64_t market, const char *status)
{
    return exec_id(db,
                   "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level, status)"
                   " VALUES (?, '张三', '13800000000', '蔬菜', 'A', ?)",
                   (db_param_t[]){DB_I64(market), DB_STR(status)}, 2);
}

static int64_t add_stall(db_t *db, int64_t market, const char *no, int64_t vendor)
{
    return exec_id(
        db, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 1, 1, ?)",
        (db_param_t[]){DB_I64(market), DB_STR(no), DB_I64(vendor)}, 3);
}

/* A weighed product (per_g > 0) or a counted one (per_g 0). */
static int64_t add_product(world_t *w, int64_t market, int64_t stall, int64_t vendor, const char *name, int64_t price,
                           int64_t per_g, int64_t stock, const char *status)
{
    return exec_id(&w->db,
                   "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name, pricing_mode,"
                   " price_fen, per_g, unit, stock, status) VALUES (?, ?, ?, 'veg', 'A01', ?, ?, ?, ?, ?, ?, ?)",
                   (db_param_t[]){DB_I64(market), DB_I64(stall), DB_I64(vendor), DB_STR(name),
                                  DB_STR(per_g > 0 ? "weight" : "count"), DB_I64(price),
                                  per_g > 0 ? DB_I64(per_g) : DB_NULL, per_g > 0 ? DB_NULL : DB_STR("盒"),
                                  DB_I64(stock), DB_STR(status)},
                   10);
}

static void world_open(world_t *w, const char *tag)
{
    char err[256];
    memset(w, 0, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    w->market = add_market(&w->db, "m1");
    w->other_market = add_market(&w->db, "m2");
    w->va = add_vendor(&w->db, w->market, "active");
    w->vsus = add_vendor(&w->db, w->market, "suspended");
    w->sa = add_stall(&w->db, w->market, "A01", w->va);
    w->ssus = add_stall(&w->db, w->market, "C01", w->vsus);
    int64_t vo = add_vendor(&w->db, w->other_market, "active");
    int64_t so = add_stall(&w->db, w->other_market, "Z01", vo);
    w->spinach = add_product(w, w->market, w->sa, w->va, "菠菜", 600, 500, 20000, "on_sale");
    w->eggs = add_product(w, w->market, w->sa, w->va, "土鸡蛋", 350, 0, 30, "on_sale");
    w->offsale = add_product(w, w->market, w->sa, w->va, "韭菜", 400, 500, 1000, "off_sale");
    w->suspended = add_product(w, w->market, w->ssus, w->vsus, "白菜", 200, 500, 1000, "on_sale");
    w->scarce = add_product(w, w->market, w->sa, w->va, "香菜", 1000, 500, 100, "on_sale");
    w->elsewhere = add_product(w, w->other_market, so, vo, "苹果", 800, 500, 1000, "on_sale");
}

static void world_close(world_t *w)
{
    t_db_scratch_close(&w->db, &w->cfg);
}

static const cart_fees_t fees = {.delivery_fee_fen = 500, .free_delivery_from_fen = 5000};

static json_t *render(world_t *w, const cart_line_t *lines, size_t n, const cart_fees_t *f)
{
    json_t *doc = NULL;
    ck_assert_msg(cart_render(&w->db, w->market, lines, n, f, &doc) == DB_OK, "render: %s", w->db.err);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

static int64_t num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
}

START_TEST(test_weighed_and_counted_lines_are_priced_now_and_the_fee_added)
{
    world_t w;
    world_open(&w, "price");
    cart_line_t lines[] = {{w.eggs, 3}, {w.spinach, 750}}; /* out of order: shown by product id */
    json_t *doc = render(&w, lines, 2, &fees);
    ck_assert_int_eq(num(doc, "market_id"), w.market);
    json_t *items = json_object_get(doc, "items");
    ck_assert_uint_eq(json_array_size(items), 2);
    json_t *a = json_array_get(items, 0), *b = json_array_get(items, 1);
    ck_assert_int_eq(num(a, "product_id"), w.spinach);
    ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "菠菜");
    ck_assert_int_eq(num(a, "stall_id"), w.sa);
    ck_assert_int_eq(num(a, "qty"), 750);
    ck_assert_int_eq(num(a, "amount_fen"), 900); /* 600 fen per 500 g × 750 g */
    ck_assert(json_is_true(json_object_get(a, "available")));
    ck_assert_ptr_null(json_object_get(a, "reason"));
    json_t *pr = json_object_get(a, "pricing");
    ck_assert_str_eq(json_string_value(json_object_get(pr, "mode")), "weight");
    ck_assert_int_eq(num(pr, "price_fen"), 600);
    ck_assert_int_eq(num(pr, "per_g"), 500);
    ck_assert_int_eq(num(b, "product_id"), w.eggs);
    ck_assert_int_eq(num(b, "amount_fen"), 1050);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(b, "pricing"), "unit")), "盒");
    ck_assert_int_eq(num(doc, "items_fen"), 1950);
    ck_assert_int_eq(num(doc, "delivery_fee_fen"), 500);
    ck_assert_int_eq(num(doc, "payable_fen"), 2450);
    json_decref(doc);

    /* half a fen rounds up: 600 per 500 g × 1 g = 1.2 → 1; × 3 g = 3.6 → 4; 1000 per 500 g
     * × 1 g = 2 exactly */
    cart_line_t tiny[] = {{w.spinach, 3}};
    doc = render(&w, tiny, 1, &fees);
    ck_assert_int_eq(num(json_array_get(json_object_get(doc, "items"), 0), "amount_fen"), 4);
    json_decref(doc);

    /* a price change shows at once: the cart keeps quantities, never prices */
    ck_assert_int_eq(db_exec(&w.db, "UPDATE products SET price_fen = 700 WHERE id = ?",
                             (db_param_t[]){DB_I64(w.spinach)}, 1, NULL, NULL),
                     DB_OK);
    doc = render(&w, lines, 2, &fees);
    ck_assert_int_eq(num(json_array_get(json_object_get(doc, "items"), 0), "amount_fen"), 1050);
    ck_assert_int_eq(num(doc, "items_fen"), 2100);
    json_decref(doc);
    world_close(&w);
}
END_TEST

START_TEST(test_delivery_is_free_from_the_threshold_and_nothing_to_buy_costs_nothing)
{
    world_t w;
    world_open(&w, "fee");
    cart_line_t at[] = {{w.spinach, 3750}};   /* 4500 */
    cart_line_t over[] = {{w.spinach, 4167}}; /* 5000.4 → 5000 */
    json_t *doc = render(&w, at, 1, &fees);
    ck_assert_int_eq(num(doc, "items_fen"), 4500);
    ck_assert_int_eq(num(doc, "delivery_fee_fen"), 500);
    ck_assert_int_eq(num(doc, "payable_fen"), 5000);
    json_decref(doc);
    doc = render(&w, over, 1, &fees);
    ck_assert_int_eq(num(doc, "items_fen"), 5000);
    ck_assert_int_eq(num(doc, "delivery_fee_fen"), 0);
    ck_assert_int_eq(num(doc, "payable_fen"), 5000);
    json_decref(doc);
    cart_fees_t never = {.delivery_fee_fen = 800, .free_delivery_from_fen = 0};
    doc = render(&w, over, 1, &never);
    ck_assert_int_eq(num(doc, "delivery_fee_fen"), 800);
    ck_assert_int_eq(num(doc, "payable_fen"), 5800);
    json_decref(doc);
    /* empty: all zero */
    doc = render(&w, NULL, 0, &fees);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), 0);
    ck_assert_int_eq(num(doc, "items_fen"), 0);
    ck_assert_int_eq(num(doc, "delivery_fee_fen"), 0);
    ck_assert_int_eq(num(doc, "payable_fen"), 0);
    json_decref(doc);
    /* only lines that cannot be bought: no fee either */
    cart_line_t dead[] = {{w.offsale, 100}};
    doc = render(&w, dead, 1, &fees);
    ck_assert_int_eq(num(doc, "items_fen"), 0);
    ck_assert_int_eq(num(doc, "delivery_fee_fen"), 0);
    ck_assert_int_eq(num(doc, "payable_fen"), 0);
    json_decref(doc);
    world_close(&w);
}
END_TEST

static const char *reason_of(json_t *doc, int64_t product_id, int *available)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(doc, "items"), i, it) if (num(it, "product_id") == product_id)
    {
        *available = json_is_true(json_object_get(it, "available"));
        return json_string_value(json_object_get(it, "reason"));
    }
    ck_abort_msg("product %lld not shown", (long long)product_id);
    return NULL;
}

START_TEST(test_lines_that_cannot_be_bought_are_shown_with_their_reason_not_dropped)
{
    world_t w;
    world_open(&w, "avail");
    int64_t gone = w.elsewhere + 1000;
    cart_line_t lines[] = {{w.spinach, 500},   {w.offsale, 500}, {w.suspended, 500}, {w.scarce, 101},
                           {w.elsewhere, 500}, {gone, 2},        {w.eggs, 30}};
    json_t *doc = render(&w, lines, 7, &fees);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), 7);
    int avail;
    ck_assert_ptr_null(reason_of(doc, w.spinach, &avail));
    ck_assert(avail);
    ck_assert_ptr_null(reason_of(doc, w.eggs, &avail)); /* exactly the stock */
    ck_assert(avail);
    ck_assert_str_eq(reason_of(doc, w.offsale, &avail), "off_sale");
    ck_assert(!avail);
    ck_assert_str_eq(reason_of(doc, w.suspended, &avail), "vendor_suspended");
    ck_assert(!avail);
    ck_assert_str_eq(reason_of(doc, w.scarce, &avail), "out_of_stock");
    ck_assert(!avail);
    ck_assert_str_eq(reason_of(doc, gone, &avail), "gone");
    ck_assert(!avail);
    ck_assert_str_eq(reason_of(doc, w.elsewhere, &avail), "gone"); /* another market's: not in this one */
    /* only the available lines count: 600 + 10500 */
    ck_assert_int_eq(num(doc, "items_fen"), 11100);
    ck_assert_int_eq(num(doc, "delivery_fee_fen"), 0);
    /* a gone line has nothing to show but what the consumer chose */
    json_t *g = json_array_get(json_object_get(doc, "items"), 6);
    ck_assert_int_eq(num(g, "product_id"), gone);
    ck_assert_int_eq(num(g, "qty"), 2);
    ck_assert(json_is_null(json_object_get(g, "pricing")));
    ck_assert(json_is_null(json_object_get(g, "amount_fen")));
    /* an unavailable line still shows what it would cost */
    json_t *o = json_array_get(json_object_get(doc, "items"), 2);
    ck_assert_int_eq(num(o, "product_id"), w.offsale);
    ck_assert_int_eq(num(o, "amount_fen"), 400);
    json_decref(doc);
    world_close(&w);
}
END_TEST

START_TEST(test_one_query_prices_any_number_of_lines_up_to_the_cap)
{
    world_t w;
    world_open(&w, "many");
    cart_line_t lines[CART_MAX_LINES];
    for (size_t i = 0; i < CART_MAX_LINES; i++) {
        char name[32];
        snprintf(name, sizeof(name), "菜%zu", i);
        lines[i].product_id = add_product(&w, w.market, w.sa, w.va, name, 100, 0, 1000, "on_sale");
        lines[i].qty = (int64_t)i + 1;
    }
    static const size_t counts[] = {1, 2, 3, 5, 8, 9, 33, 64, 65, 99, 100};
    for (size_t c = 0; c < sizeof(counts) / sizeof(counts[0]); c++) {
        size_t n = counts[c];
        json_t *doc = render(&w, lines, n, &fees);
        json_t *items = json_object_get(doc, "items");
        ck_assert_uint_eq(json_array_size(items), n);
        for (size_t i = 0; i < n; i++) {
            ck_assert_int_eq(num(json_array_get(items, i), "product_id"), lines[i].product_id);
            ck_assert(json_is_true(json_object_get(json_array_get(items, i), "available")));
        }
        ck_assert_int_eq(num(doc, "items_fen"), (int64_t)(100 * n * (n + 1) / 2));
        json_decref(doc);
    }
    json_t *doc = NULL;
    ck_assert_int_eq(cart_render(&w.db, w.market, lines, CART_MAX_LINES + 1, &fees, &doc), DB_ERR);
    ck_assert_ptr_null(doc);
    world_close(&w);
}
END_TEST

/* ================================================================ what a change costs */

/* Statements this session executed (prepared executions), as MariaDB counts them. */
static int64_t executed(world_t *w)
{
    db_rows_t *rows = NULL;
    ck_assert_int_eq(db_query_row(&w->db,
                                  "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS"
                                  " WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE'",
                                  NULL, 0, &rows),
                     DB_OK);
    int64_t v = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return v;
}

/* Calls of a command on the Redis server (INFO commandstats), 0 if never called. */
static long long redis_calls(redis_t *r, const char *cmd)
{
    redisReply *rep = redis_cmd(r, "INFO commandstats");
    ck_assert_msg(rep != NULL && rep->type == REDIS_REPLY_STRING, "INFO: %s", r->err);
    char needle[64];
    long long calls = 0;
    snprintf(needle, sizeof(needle), "cmdstat_%s:calls=", cmd);
    const char *at = strstr(rep->str, needle);
    if (at != NULL)
        calls = atoll(at + strlen(needle));
    freeReplyObject(rep);
    return calls;
}

/* Commands clients sent (INFO stats total_commands_processed, the INFO itself included). */
static long long redis_total(redis_t *r)
{
    redisReply *rep = redis_cmd(r, "INFO stats");
    ck_assert_ptr_nonnull(rep);
    const char *at = strstr(rep->str, "total_commands_processed:");
    ck_assert_ptr_nonnull(at);
    long long v = atoll(at + strlen("total_commands_processed:"));
    freeReplyObject(rep);
    return v;
}

/* A consumer's cart in the world's market, changed through cart_change as the API does. */
static sf_status_t change(world_t *w, rworld_t *rw, int64_t product, int64_t qty, int checked, json_t **doc,
                          status_detail_t *d)
{
    cart_change_t c = {.user_id = rw->user, .product_id = product, .qty = qty, .checked = checked};
    memset(d, 0, sizeof(*d));
    return cart_change(&w->db, &rw->r, &c, &fees, doc, d);
}

static void rworld_in(rworld_t *rw, int64_t market)
{
    rworld_open(rw);
    rw->market = market;
    snprintf(rw->key, sizeof(rw->key), "cart:%lld:%lld", (long long)rw->user, (long long)market);
}

START_TEST(test_a_change_is_one_redis_call_and_one_statement)
{
    world_t w;
    rworld_t rw;
    status_detail_t d;
    world_open(&w, "cnt");
    rworld_in(&rw, w.market);
    ck_assert_int_eq(cart_functions_load(&rw.r), 0); /* as a server that met this Redis before */
    const int64_t products[] = {w.spinach, w.eggs, w.scarce};
    const int64_t qty[] = {500, 2, 100};
    for (int i = 0; i < 4; i++) {
        int64_t product = i < 3 ? products[i] : w.eggs, q = i < 3 ? qty[i] : 0; /* 3 PUTs, then a removal */
        long long f0 = redis_calls(&rw.r, "fcall"), t0 = redis_total(&rw.r), t1 = redis_total(&rw.r);
        int64_t s0 = executed(&w), s1 = executed(&w);
        json_t *doc = NULL;
        ck_assert_msg(change(&w, &rw, product, q, 1, &doc, &d) == SF_OK, "%s %s", w.db.err, rw.r.err);
        int64_t s2 = executed(&w);
        long long t2 = redis_total(&rw.r), f1 = redis_calls(&rw.r, "fcall");
        /* one prepared statement: the product's checks and every line's product together */
        ck_assert_int_eq(s2 - s1 - (s1 - s0), 1);
        /* one round trip: one FCALL; Redis counts the commands the function ran too (HEXISTS,
         * HLEN, HSET, EXPIRE, HGETALL for a line set; HDEL, EXPIRE, HGETALL for one removed) */
        ck_assert_int_eq(f1 - f0, 1);
        ck_assert_int_eq(t2 - t1 - (t1 - t0), q > 0 ? 6 : 4);
        ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), i < 3 ? (size_t)i + 1 : 2);
        json_decref(doc);
    }
    rworld_close(&rw);
    world_close(&w);
}
END_TEST

/* The cart hash as text, to compare before and after a refusal. */
static void snapshot(rworld_t *rw, char *out, size_t len)
{
    cart_line_t lines[CART_MAX_LINES];
    size_t n, off = 0;
    load(rw, lines, &n);
    out[0] = '\0';
    for (size_t i = 0; i < n; i++)
        off += (size_t)snprintf(out + off, len - off, "%lld=%lld;", (long long)lines[i].product_id,
                                (long long)lines[i].qty);
}

START_TEST(test_a_refused_change_changes_nothing_not_even_the_ttl)
{
    world_t w;
    rworld_t rw;
    status_detail_t d;
    json_t *doc = NULL;
    char before[4096], after[4096];
    world_open(&w, "refuse");
    rworld_in(&rw, w.market);
    ck_assert_int_eq(change(&w, &rw, w.spinach, 500, 1, &doc, &d), SF_OK);
    json_decref(doc);
    snapshot(&rw, before, sizeof(before));
    ck_assert_int_eq(redis_int(&rw, "PERSIST", rw.key), 1);

    ck_assert_int_eq(change(&w, &rw, w.offsale, 500, 1, &doc, &d), SF_E_OFF_SALE);
    ck_assert_ptr_null(doc);
    ck_assert_int_eq(change(&w, &rw, w.suspended, 500, 1, &doc, &d), SF_E_OFF_SALE);
    ck_assert_int_eq(change(&w, &rw, w.scarce, 101, 1, &doc, &d), SF_E_INSUFFICIENT_STOCK);
    ck_assert_int_eq(json_integer_value(json_object_get(d.details, "available")), 100);
    json_decref(d.details);
    ck_assert_int_eq(change(&w, &rw, w.elsewhere + 1000, 1, 1, &doc, &d), SF_E_NOT_FOUND);
    cart_change_t c = {.user_id = rw.user, .product_id = w.eggs, .qty = 1, .market_id = w.other_market, .checked = 1};
    memset(&d, 0, sizeof(d));
    ck_assert_int_eq(cart_change(&w.db, &rw.r, &c, &fees, &doc, &d), SF_E_WRONG_MARKET);
    ck_assert_int_eq(json_integer_value(json_object_get(d.details, "market_id")), w.market);
    json_decref(d.details);
    ck_assert_ptr_null(doc);

    snapshot(&rw, after, sizeof(after));
    ck_assert_str_eq(before, after);
    ck_assert_int_eq(redis_int(&rw, "TTL", rw.key), -1); /* untouched: nothing changed */
    /* an unchecked removal (DELETE) of a product off sale still works, and restarts the TTL */
    ck_assert_int_eq(cart_set(&rw.r, rw.user, rw.market, w.offsale, 3), SF_OK);
    ck_assert_int_eq(change(&w, &rw, w.offsale, 0, 0, &doc, &d), SF_OK);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), 1);
    json_decref(doc);
    assert_fresh_ttl(&rw);
    rworld_close(&rw);
    world_close(&w);
}
END_TEST

START_TEST(test_lines_changed_elsewhere_cost_one_more_statement_not_a_wrong_answer)
{
    world_t w;
    rworld_t rw;
    status_detail_t d;
    json_t *doc = NULL;
    world_open(&w, "hint");
    rworld_in(&rw, w.market);
    ck_assert_int_eq(change(&w, &rw, w.spinach, 500, 1, &doc, &d), SF_OK);
    json_decref(doc);
    /* another server process (no hint of it here) adds a line */
    ck_assert_int_eq(cart_set(&rw.r, rw.user, rw.market, w.offsale, 250), SF_OK);
    int64_t s0 = executed(&w), s1 = executed(&w);
    ck_assert_int_eq(change(&w, &rw, w.eggs, 2, 1, &doc, &d), SF_OK);
    ck_assert_int_eq(executed(&w) - s1 - (s1 - s0), 2);
    json_t *items = json_object_get(doc, "items");
    ck_assert_uint_eq(json_array_size(items), 3);
    json_t *off = json_array_get(items, 2); /* ordered by product id: spinach, eggs, offsale */
    ck_assert_int_eq(num(off, "product_id"), w.offsale);
    ck_assert_str_eq(json_string_value(json_object_get(off, "reason")), "off_sale");
    ck_assert_int_eq(num(off, "amount_fen"), 200);
    ck_assert_int_eq(num(doc, "items_fen"), 600 + 700);
    json_decref(doc);
    rworld_close(&rw);
    world_close(&w);
}
END_TEST

START_TEST(test_a_redis_without_the_functions_gets_them_on_the_first_change)
{
    rworld_t w;
    rworld_open(&w);
    redisReply *rep = redis_cmd(&w.r, "FUNCTION DELETE %s", CART_FUNCTION_LIB);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 3, 4), SF_OK);
    assert_fresh_ttl(&w);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 3, 5), SF_OK);
    ck_assert_int_eq(cart_remove(&w.r, w.user, w.market, 3), 0);
    ck_assert_int_eq(redis_int(&w, "EXISTS", w.key), 0);
    rworld_close(&w);
}
END_TEST

/* After a checkout: one call empties the cart, bumps the market's catalogue version and
 * publishes it as cachever_bump_stock does; another market's version and another cart untouched;
 * a Redis without the library gets it. */
START_TEST(test_a_checked_out_cart_is_emptied_and_the_catalogue_bumped_in_one_call)
{
    rworld_t w;
    uint64_t v0 = 0, v1 = 0, v2 = 0, other0 = 0, other1 = 0;
    rworld_open(&w);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 3, 4), SF_OK);
    ck_assert_int_eq(cart_set(&w.r, w.user + 1, w.market, 3, 4), SF_OK);
    ck_assert_int_eq(cachever_get(&w.r, w.market, &v0), 0);
    ck_assert_int_eq(cachever_get(&w.r, w.market + 1, &other0), 0);
    redisContext *sub = redisConnect(w.cfg.redis_host, w.cfg.redis_port);
    ck_assert_msg(sub != NULL && sub->err == 0, "subscriber");
    redisReply *rep = redisCommand(sub, "SUBSCRIBE %s", CACHEVER_CHANNEL);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);

    long long f0 = redis_calls(&w.r, "fcall"), t0 = redis_total(&w.r), t1 = redis_total(&w.r);
    ck_assert_int_eq(cart_checked_out(&w.r, w.user, w.market, &v1), 0);
    long long t2 = redis_total(&w.r), f1 = redis_calls(&w.r, "fcall");
    /* one round trip: one FCALL; Redis counts the DEL, INCR and PUBLISH it ran too */
    ck_assert_int_eq(f1 - f0, 1);
    ck_assert_int_eq(t2 - t1 - (t1 - t0), 4);
    ck_assert_uint_eq(v1, v0 + 1);
    ck_assert_int_eq(redis_int(&w, "EXISTS", w.key), 0);
    ck_assert_int_eq(cachever_get(&w.r, w.market + 1, &other1), 0);
    ck_assert_uint_eq(other1, other0);
    cart_line_t lines[CART_MAX_LINES];
    size_t n = 0;
    ck_assert_int_eq(cart_load(&w.r, w.user + 1, w.market, lines, &n), 0);
    ck_assert_uint_eq(n, 1); /* another consumer's cart stays */

    char want[64];
    snprintf(want, sizeof(want), "%lld:%llu:s", (long long)w.market, (unsigned long long)v1); /* a stock bump */
    ck_assert_int_eq(redisGetReply(sub, (void **)&rep), REDIS_OK);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ARRAY);
    ck_assert_int_eq(rep->elements, 3);
    ck_assert_str_eq(rep->element[0]->str, "message");
    ck_assert_str_eq(rep->element[2]->str, want);
    freeReplyObject(rep);
    redisFree(sub);

    rep = redis_cmd(&w.r, "FUNCTION DELETE %s", CART_FUNCTION_LIB);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    ck_assert_int_eq(cart_checked_out(&w.r, w.user, w.market, &v2), 0);
    ck_assert_uint_eq(v2, v1 + 1);
    ck_assert_int_eq(cart_clear(&w.r, w.user + 1, w.market), 0);
    rworld_close(&w);
}
END_TEST

/* A Redis still holding the library from before stock bumps (sf_cart_done returning the bare
 * version and publishing a hard bump): the checkout still counts (the cart emptied, the
 * version bumped and given), and the library is replaced, so the next one is a stock bump. */
START_TEST(test_an_older_cart_library_is_replaced_after_one_hard_bump)
{
    static const char old_lua[] = "#!lua name=" CART_FUNCTION_LIB "\n"
                                  "redis.register_function('sf_cart_done', function(keys, args)\n"
                                  "  redis.call('DEL', keys[1])\n"
                                  "  local ver = redis.call('INCR', keys[2])\n"
                                  "  redis.call('PUBLISH', args[1], args[2] .. ':' .. ver)\n"
                                  "  return ver\n"
                                  "end)\n";
    rworld_t w;
    uint64_t v0 = 0, v1 = 0, v2 = 0;
    rworld_open(&w);
    redisReply *rep = redis_cmd(&w.r, "FUNCTION LOAD REPLACE %s", old_lua);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
    freeReplyObject(rep);
    ck_assert_int_eq(cachever_get(&w.r, w.market, &v0), 0);
    rep = redis_cmd(&w.r, "HSET %s 3 4", w.key);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    redisContext *sub = redisConnect(w.cfg.redis_host, w.cfg.redis_port);
    ck_assert_msg(sub != NULL && sub->err == 0, "subscriber");
    rep = redisCommand(sub, "SUBSCRIBE %s", CACHEVER_CHANNEL);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);

    ck_assert_int_eq(cart_checked_out(&w.r, w.user, w.market, &v1), 0);
    ck_assert_uint_eq(v1, v0 + 1);
    ck_assert_int_eq(redis_int(&w, "EXISTS", w.key), 0);
    ck_assert_int_eq(cart_checked_out(&w.r, w.user, w.market, &v2), 0);
    ck_assert_uint_eq(v2, v1 + 1);
    char want[2][64];
    snprintf(want[0], sizeof(want[0]), "%lld:%llu", (long long)w.market, (unsigned long long)v1);
    snprintf(want[1], sizeof(want[1]), "%lld:%llu:s", (long long)w.market, (unsigned long long)v2);
    for (int i = 0; i < 2; i++) {
        ck_assert_int_eq(redisGetReply(sub, (void **)&rep), REDIS_OK);
        ck_assert_int_eq(rep->elements, 3);
        ck_assert_str_eq(rep->element[2]->str, want[i]);
        freeReplyObject(rep);
    }
    redisFree(sub);
    ck_assert_int_eq(cart_set(&w.r, w.user, w.market, 3, 4), SF_OK); /* the whole library is back */
    ck_assert_int_eq(cart_clear(&w.r, w.user, w.market), 0);
    rworld_close(&w);
}
END_TEST

static Suite *cart_suite(void)
{
    Suite *s = suite_create("cart");
    TCase *tc = tcase_create("cart");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a_put_body_is_a_whole_quantity_and_maybe_a_market);
    tcase_add_test(tc, test_a_put_body_with_a_wrong_type_or_range_names_the_field);
    tcase_add_test(tc, test_lines_come_back_ordered_by_product_and_every_change_restarts_the_ttl);
    tcase_add_test(tc, test_a_cart_holds_at_most_100_lines);
    tcase_add_test(tc, test_concurrent_writers_never_pass_the_cap);
    tcase_add_test(tc, test_carts_are_per_consumer_and_market);
    tcase_add_test(tc, test_values_that_are_not_quantities_are_skipped_on_load);
    tcase_add_test(tc, test_weighed_and_counted_lines_are_priced_now_and_the_fee_added);
    tcase_add_test(tc, test_delivery_is_free_from_the_threshold_and_nothing_to_buy_costs_nothing);
    tcase_add_test(tc, test_lines_that_cannot_be_bought_are_shown_with_their_reason_not_dropped);
    tcase_add_test(tc, test_one_query_prices_any_number_of_lines_up_to_the_cap);
    tcase_add_test(tc, test_a_change_is_one_redis_call_and_one_statement);
    tcase_add_test(tc, test_a_refused_change_changes_nothing_not_even_the_ttl);
    tcase_add_test(tc, test_lines_changed_elsewhere_cost_one_more_statement_not_a_wrong_answer);
    tcase_add_test(tc, test_a_redis_without_the_functions_gets_them_on_the_first_change);
    tcase_add_test(tc, test_a_checked_out_cart_is_emptied_and_the_catalogue_bumped_in_one_call);
    tcase_add_test(tc, test_an_older_cart_library_is_replaced_after_one_hard_bump);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_cart"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tcart_%d", (int)getpid());
    db_library_init();
    int failed = t_run(cart_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
