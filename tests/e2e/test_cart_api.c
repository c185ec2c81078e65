/*
 * End to end: the consumer's cart (GET/DELETE /v1/cart, PUT/DELETE /v1/cart/items/{id})
 * and addresses (GET/POST /v1/addresses) on the real binary over h2c. Each test makes its
 * own markets (fixture), vendors, stalls and products with SQL, signs consumers in with
 * sandbox codes, and after every refused write reads the cart back (over HTTP and in Redis)
 * or counts the rows, to see that nothing changed.
 *
 * The server runs with a delivery fee of 500 fen, free from 2000 fen of goods, so both
 * sides of the threshold are reachable with a few lines.
 */
#include <check.h>
#include <curl/curl.h>
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
#include "tests/support/testutil.h"

#define FEE       500
#define FREE_FROM 2000

static const char *const test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                       "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                                       "STALLFRONT_AUTH_LOGIN_WINDOW_S=1",
                                       "STALLFRONT_ORDER_DELIVERY_FEE_FEN=500",
                                       "STALLFRONT_ORDER_FREE_DELIVERY_FROM_FEN=2000",
                                       NULL};
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

typedef struct {
    int64_t id;
    char token[128];
} consumer_t;

typedef struct {
    t_market_t m, m2;
    config_t cfg;
    db_t db;
    redis_t redis;
    int64_t va, vsus, sa, ssus;
    int64_t spinach, eggs, offsale, suspended, elsewhere; /* products */
    consumer_t alice, bob;
    char vendor_token[128], op_token[128];
} world_t;

static int64_t sql(world_t *w, const char *text, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(&w->db, text, p, n, NULL, &id) == DB_OK, "%s: %s", text, w->db.err);
    return (int64_t)id;
}

static int64_t add_vendor(world_t *w, int64_t market, const char *status)
{
    return sql(w,
               "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level, status)"
               " VALUES (?, '张三蔬菜', '13900000000', '蔬菜', 'A', ?)",
               (db_param_t[]){DB_I64(market), DB_STR(status)}, 2);
}

static int64_t add_stall(world_t *w, int64_t market, const char *no, int64_t vendor)
{
    return sql(w, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 1, 2, ?)",
               (db_param_t[]){DB_I64(market), DB_STR(no), DB_I64(vendor)}, 3);
}

/* A weighed product (per_g > 0) or a counted one (per_g 0), on sale. */
static int64_t add_product(world_t *w, int64_t market, int64_t stall, int64_t vendor, const char *name, int64_t price,
                           int64_t per_g, int64_t stock)
{
    return sql(w,
               "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name, pricing_mode,"
               " price_fen, per_g, unit, stock) VALUES (?, ?, ?, 'veg', 'A01', ?, ?, ?, ?, ?, ?)",
               (db_param_t[]){DB_I64(market), DB_I64(stall), DB_I64(vendor), DB_STR(name),
                              DB_STR(per_g > 0 ? "weight" : "count"), DB_I64(price),
                              per_g > 0 ? DB_I64(per_g) : DB_NULL, per_g > 0 ? DB_NULL : DB_STR("盒"), DB_I64(stock)},
               9);
}

/* Signs a new consumer in with a sandbox code; their id and token. */
static void consumer(consumer_t *c)
{
    static int seq;
    char body[128];
    tresp_t r;
    snprintf(body, sizeof(body), "{\"code\":\"sandbox-cart%d_%d\"}", (int)getpid(), seq++);
    t_call(&shared, "POST", "/v1/auth/wechat", NULL, body, &r);
    ck_assert_msg(r.status == 200, "wechat sign-in: %ld %s", r.status, r.body);
    json_t *doc = t_json(&r);
    t_resp_free(&r);
    c->id = json_integer_value(json_object_get(json_object_get(doc, "user"), "id"));
    snprintf(c->token, sizeof(c->token), "%s", json_string_value(json_object_get(doc, "token")));
    json_decref(doc);
    ck_assert_int_gt(c->id, 0);
}

/* A vendor account of the market, signed in. */
static void vendor_login(world_t *w, int64_t vendor_id)
{
    static int seq;
    char user[64];
    snprintf(user, sizeof(user), "cv%d_%d_%lld", (int)getpid(), seq++, (long long)vendor_id);
    user_new_t u = {.role = "vendor",
                    .market_id = w->m.market_id,
                    .username = user,
                    .password = "stall-owner-pass-1",
                    .display_name = "张三",
                    .vendor_id = vendor_id};
    int64_t uid = 0;
    ck_assert_msg(user_create(&w->db, &u, &uid) == DB_OK, "user: %s", w->db.err);
    ck_assert_int_eq(t_login(&shared, user, "stall-owner-pass-1", w->vendor_token, sizeof(w->vendor_token)), 0);
}

static void world_up(world_t *w)
{
    memset(w, 0, sizeof(*w));
    t_fixture_market(&w->m);
    t_fixture_market(&w->m2);
    t_load_cfg(&w->cfg);
    db_thread_init();
    ck_assert_msg(db_open(&w->db, &w->cfg) == DB_OK, "db: %s", w->db.err);
    ck_assert_msg(redis_open(&w->redis, &w->cfg) == 0, "redis: %s", w->redis.err);
    int64_t m = w->m.market_id;
    w->va = add_vendor(w, m, "active");
    w->vsus = add_vendor(w, m, "suspended");
    w->sa = add_stall(w, m, "A-01", w->va);
    w->ssus = add_stall(w, m, "C-01", w->vsus);
    int64_t vo = add_vendor(w, w->m2.market_id, "active");
    int64_t so = add_stall(w, w->m2.market_id, "Z-01", vo);
    w->spinach = add_product(w, m, w->sa, w->va, "菠菜", 600, 500, 20000);
    w->eggs = add_product(w, m, w->sa, w->va, "土鸡蛋", 350, 0, 30);
    w->offsale = add_product(w, m, w->sa, w->va, "韭菜", 400, 500, 1000);
    sql(w, "UPDATE products SET status = 'off_sale' WHERE id = ?", (db_param_t[]){DB_I64(w->offsale)}, 1);
    w->suspended = add_product(w, m, w->ssus, w->vsus, "白菜", 200, 500, 1000);
    w->elsewhere = add_product(w, w->m2.market_id, so, vo, "苹果", 800, 500, 1000);
    consumer(&w->alice);
    consumer(&w->bob);
    vendor_login(w, w->va);
    ck_assert_int_eq(t_login(&shared, w->m.op_user, w->m.op_pass, w->op_token, sizeof(w->op_token)), 0);
}

static void world_down(world_t *w)
{
    cart_clear(&w->redis, w->alice.id, w->m.market_id);
    cart_clear(&w->redis, w->alice.id, w->m2.market_id);
    cart_clear(&w->redis, w->bob.id, w->m.market_id);
    redis_close(&w->redis);
    db_close(&w->db);
    config_free(&w->cfg);
}

/* ---------------------------------------------------------------- HTTP helpers */

/* A request over h2c with a bearer token (may be NULL) and a body of a content type. */
static void call(const char *method, const char *path, const char *token, const char *ctype, const char *body,
                 tresp_t *r)
{
    char url[1024], auth[256], ct[128];
    const char *h[3] = {NULL, NULL, NULL};
    size_t nh = 0;
    snprintf(url, sizeof(url), "%s%s", t_base(&shared, T_H2C), path);
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h[nh++] = auth;
    }
    if (body != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        h[nh++] = ct;
    }
    ck_assert_msg(t_request(T_H2C, method, url, h, body, body != NULL ? strlen(body) : 0, r) == 0,
                  "no answer for %s %s", method, path);
    ck_assert_int_eq(r->version, CURL_HTTP_VERSION_2_0);
}

/* A JSON request; the answer must be `want` and JSON (caller decrefs). */
static json_t *req(const char *method, const char *path, const char *token, const char *body, long want)
{
    tresp_t r;
    call(method, path, token, "application/json", body, &r);
    ck_assert_msg(r.status == want, "%s %s %s: %ld %s", method, path, body ? body : "", r.status, r.body);
    json_t *doc = t_json(&r);
    ck_assert_msg(doc != NULL, "%s %s: not JSON: %s", method, path, r.body);
    t_resp_free(&r);
    return doc;
}

/* A refused request: status, error code and (when not NULL) details.field. */
static void refused(const char *method, const char *path, const char *token, const char *ctype, const char *body,
                    long status, const char *code, const char *field)
{
    tresp_t r;
    call(method, path, token, ctype, body, &r);
    ck_assert_msg(r.status == status, "%s %s %.200s: %ld %.300s", method, path, body ? body : "", r.status, r.body);
    ck_assert_msg(t_is_error(&r, code), "%s %s %.200s: not %s: %.300s", method, path, body ? body : "", code, r.body);
    if (field != NULL) {
        json_t *doc = t_json(&r);
        const char *f =
            json_string_value(json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "field"));
        ck_assert_msg(f != NULL && strcmp(f, field) == 0, "%s %.200s: field %s, not %s", path, body ? body : "",
                      f ? f : "(none)", field);
        json_decref(doc);
    }
    t_resp_free(&r);
}

static int64_t num(json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
}

static json_t *get_cart(const consumer_t *c, int64_t market)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/cart?market_id=%lld", (long long)market);
    return req("GET", path, c->token, NULL, 200);
}

static json_t *put(const consumer_t *c, int64_t product, const char *body, long want)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)product);
    return req("PUT", path, c->token, body, want);
}

static json_t *put_qty(const consumer_t *c, int64_t product, int64_t qty)
{
    char body[64];
    snprintf(body, sizeof(body), "{\"qty\":%lld}", (long long)qty);
    return put(c, product, body, 200);
}

/* The line of a product in a cart answer, or NULL. */
static json_t *line_of(json_t *cart, int64_t product)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(cart, "items"), i, it) if (num(it, "product_id") == product) return it;
    return NULL;
}

/* The cart key's TTL: a key that exists must have one of at most 7 days. */
static long long ttl(world_t *w, const consumer_t *c, int64_t market)
{
    redisReply *rep = redis_cmd(&w->redis, "TTL cart:%lld:%lld", (long long)c->id, (long long)market);
    ck_assert_msg(rep != NULL && rep->type == REDIS_REPLY_INTEGER, "TTL: %s", w->redis.err);
    long long t = rep->integer;
    freeReplyObject(rep);
    return t;
}

static void assert_ttl(world_t *w, const consumer_t *c, int64_t market)
{
    long long t = ttl(w, c, market);
    ck_assert_msg(t > CART_TTL_S - 120 && t <= CART_TTL_S, "cart TTL %lld", t);
}

/* The cart as Redis holds it, "id:qty,id:qty" by product id, to compare before and after. */
static void snapshot(world_t *w, const consumer_t *c, int64_t market, char *out, size_t len)
{
    cart_line_t lines[CART_MAX_LINES];
    size_t n, off = 0;
    ck_assert_int_eq(cart_load(&w->redis, c->id, market, lines, &n), 0);
    out[0] = '\0';
    for (size_t i = 0; i < n && off < len; i++)
        off += (size_t)snprintf(out + off, len - off, "%lld:%lld,", (long long)lines[i].product_id,
                                (long long)lines[i].qty);
}

/* ---------------------------------------------------------------- cart tests */

START_TEST(test_a_consumer_fills_a_cart_with_weighed_and_counted_goods_and_sees_the_amounts)
{
    world_t w;
    world_up(&w);
    int64_t m = w.m.market_id;
    json_t *cart = get_cart(&w.alice, m);
    ck_assert_int_eq(num(cart, "market_id"), m);
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 0);
    ck_assert_int_eq(num(cart, "items_fen"), 0);
    ck_assert_int_eq(num(cart, "delivery_fee_fen"), 0);
    ck_assert_int_eq(num(cart, "payable_fen"), 0);
    json_decref(cart);
    ck_assert_int_eq(ttl(&w, &w.alice, m), -2); /* reading made no key */

    cart = put_qty(&w.alice, w.spinach, 750);
    json_t *l = line_of(cart, w.spinach);
    ck_assert_ptr_nonnull(l);
    ck_assert_int_eq(num(l, "qty"), 750);
    ck_assert_int_eq(num(l, "amount_fen"), 900); /* 600 fen per 500 g × 750 g */
    ck_assert_int_eq(num(l, "stall_id"), w.sa);
    ck_assert_str_eq(json_string_value(json_object_get(l, "name")), "菠菜");
    ck_assert(json_is_true(json_object_get(l, "available")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(l, "pricing"), "mode")), "weight");
    ck_assert_int_eq(num(cart, "items_fen"), 900);
    ck_assert_int_eq(num(cart, "delivery_fee_fen"), FEE);
    ck_assert_int_eq(num(cart, "payable_fen"), 900 + FEE);
    json_decref(cart);
    assert_ttl(&w, &w.alice, m);

    char body[64];
    snprintf(body, sizeof(body), "{\"qty\":3,\"market_id\":%lld}", (long long)m);
    cart = put(&w.alice, w.eggs, body, 200);
    ck_assert_int_eq(num(line_of(cart, w.eggs), "amount_fen"), 1050); /* 350 × 3 */
    ck_assert_int_eq(num(cart, "items_fen"), 1950);
    ck_assert_int_eq(num(cart, "delivery_fee_fen"), FEE);
    ck_assert_int_eq(num(cart, "payable_fen"), 2450);
    json_decref(cart);
    assert_ttl(&w, &w.alice, m);

    /* over the threshold, delivery is free */
    cart = put_qty(&w.alice, w.spinach, 1000);
    ck_assert_int_eq(num(line_of(cart, w.spinach), "amount_fen"), 1200);
    ck_assert_int_eq(num(cart, "items_fen"), 2250);
    ck_assert_int_eq(num(cart, "delivery_fee_fen"), 0);
    ck_assert_int_eq(num(cart, "payable_fen"), 2250);
    json_decref(cart);

    /* GET shows the same, ordered by product id */
    cart = get_cart(&w.alice, m);
    json_t *items = json_object_get(cart, "items");
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_int_eq(num(json_array_get(items, 0), "product_id"), w.spinach);
    ck_assert_int_eq(num(json_array_get(items, 1), "product_id"), w.eggs);
    json_decref(cart);

    /* qty 0 removes; DELETE of a line; DELETE of the cart */
    cart = put_qty(&w.alice, w.eggs, 0);
    ck_assert_ptr_null(line_of(cart, w.eggs));
    ck_assert_int_eq(num(cart, "items_fen"), 1200);
    ck_assert_int_eq(num(cart, "delivery_fee_fen"), FEE);
    json_decref(cart);
    assert_ttl(&w, &w.alice, m);
    json_decref(put_qty(&w.alice, w.eggs, 2));
    char path[128];
    snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)w.eggs); /* no market_id: the product's */
    cart = req("DELETE", path, w.alice.token, NULL, 200);
    ck_assert_ptr_null(line_of(cart, w.eggs));
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 1);
    json_decref(cart);
    assert_ttl(&w, &w.alice, m);
    snprintf(path, sizeof(path), "/v1/cart?market_id=%lld", (long long)m);
    cart = req("DELETE", path, w.alice.token, NULL, 200);
    ck_assert_int_eq(num(cart, "market_id"), m);
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 0);
    ck_assert_int_eq(num(cart, "payable_fen"), 0);
    json_decref(cart);
    ck_assert_int_eq(ttl(&w, &w.alice, m), -2);
    world_down(&w);
}
END_TEST

START_TEST(test_lines_gone_off_sale_short_of_stock_suspended_or_deleted_are_marked_not_dropped)
{
    world_t w;
    world_up(&w);
    int64_t m = w.m.market_id;
    int64_t extra = add_product(&w, m, w.sa, w.va, "香菜", 1000, 500, 1000);
    int64_t doomed = add_product(&w, m, w.sa, w.va, "蒜苗", 800, 500, 1000);
    int64_t v2 = add_vendor(&w, m, "active");
    int64_t other_stall = add_stall(&w, m, "B-01", v2);
    int64_t cabbage = add_product(&w, m, other_stall, v2, "卷心菜", 300, 500, 1000);
    json_decref(put_qty(&w.alice, w.spinach, 500));
    json_decref(put_qty(&w.alice, w.eggs, 3));
    json_decref(put_qty(&w.alice, extra, 500));
    json_decref(put_qty(&w.alice, doomed, 500));
    json_decref(put_qty(&w.alice, cabbage, 500));
    json_t *cart = get_cart(&w.alice, m);
    ck_assert_int_eq(num(cart, "items_fen"), 600 + 1050 + 1000 + 800 + 300);
    json_decref(cart);

    /* the vendor takes spinach off sale through its own API */
    char path[128];
    snprintf(path, sizeof(path), "/v1/vendor/products/%lld", (long long)w.spinach);
    json_decref(req("PATCH", path, w.vendor_token, "{\"status\":\"off_sale\"}", 200));
    sql(&w, "UPDATE products SET stock = 2 WHERE id = ?", (db_param_t[]){DB_I64(w.eggs)}, 1);
    sql(&w, "UPDATE vendors SET status = 'suspended' WHERE id = ?", (db_param_t[]){DB_I64(v2)}, 1);
    sql(&w, "DELETE FROM products WHERE id = ?", (db_param_t[]){DB_I64(doomed)}, 1);

    cart = get_cart(&w.alice, m);
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 5);
    static const struct {
        int which;
        const char *reason;
    } want[] = {{0, "off_sale"}, {1, "out_of_stock"}, {2, NULL}, {3, "gone"}, {4, "vendor_suspended"}};
    int64_t ids[] = {w.spinach, w.eggs, extra, doomed, cabbage};
    for (size_t i = 0; i < 5; i++) {
        json_t *l = line_of(cart, ids[want[i].which]);
        ck_assert_msg(l != NULL, "line %zu dropped", i);
        const char *reason = json_string_value(json_object_get(l, "reason"));
        if (want[i].reason == NULL) {
            ck_assert(json_is_true(json_object_get(l, "available")));
            ck_assert_ptr_null(reason);
        } else {
            ck_assert_msg(json_is_false(json_object_get(l, "available")), "line %zu available", i);
            ck_assert_msg(reason != NULL && strcmp(reason, want[i].reason) == 0, "line %zu: %s", i, reason);
        }
    }
    ck_assert(json_is_null(json_object_get(line_of(cart, doomed), "amount_fen")));
    ck_assert_int_eq(num(cart, "items_fen"), 1000); /* only what can still be bought */
    ck_assert_int_eq(num(cart, "delivery_fee_fen"), FEE);
    ck_assert_int_eq(num(cart, "payable_fen"), 1000 + FEE);
    json_decref(cart);

    /* the deleted product's line: DELETE needs the market now, the product is unknown */
    snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)doomed);
    refused("DELETE", path, w.alice.token, NULL, NULL, 404, "not_found", NULL);
    snprintf(path, sizeof(path), "/v1/cart/items/%lld?market_id=%lld", (long long)doomed, (long long)m);
    cart = req("DELETE", path, w.alice.token, NULL, 200);
    ck_assert_ptr_null(line_of(cart, doomed));
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 4);
    json_decref(cart);
    /* an off-sale line may still be removed with qty 0, and short stock lowered to what is left */
    json_decref(put_qty(&w.alice, w.spinach, 0));
    cart = put_qty(&w.alice, w.eggs, 2);
    ck_assert(json_is_true(json_object_get(line_of(cart, w.eggs), "available")));
    ck_assert_int_eq(num(cart, "items_fen"), 1000 + 700);
    json_decref(cart);
    world_down(&w);
}
END_TEST

START_TEST(test_bad_puts_are_refused_in_the_error_shape_and_the_cart_is_unchanged)
{
    world_t w;
    world_up(&w);
    int64_t m = w.m.market_id;
    char before[4096], after[4096], path[128], body[256];
    json_decref(put_qty(&w.alice, w.spinach, 500));
    snapshot(&w, &w.alice, m, before, sizeof(before));
    snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)w.eggs);

    /* {"qty":"999...9"} and {"qty":1,"菜菜...菜":1}, both over 10 KB */
    char *big = malloc(12 * 1024), *bigkey = malloc(12 * 1024);
    size_t o = (size_t)snprintf(big, 12 * 1024, "{\"qty\":\"");
    memset(big + o, '9', 10 * 1024);
    snprintf(big + o + 10 * 1024, 12 * 1024 - o - 10 * 1024, "\"}");
    o = (size_t)snprintf(bigkey, 12 * 1024, "{\"qty\":1,\"");
    for (int i = 0; i < 3400; i++, o += 3)
        memcpy(bigkey + o, "菜", 3);
    snprintf(bigkey + o, 12 * 1024 - o, "\":1}");
    snprintf(body, sizeof(body), "{\"qty\":1,\"market_id\":%lld}", (long long)w.m2.market_id);
    const struct {
        const char *ctype, *body;
        long status;
        const char *code, *field;
    } cases[] = {
        {"application/json", "{\"qty\":1.5}", 422, "invalid", "qty"},
        {"application/json", "{\"qty\":2.0}", 422, "invalid", "qty"},
        {"application/json", "{\"qty\":\"3\"}", 422, "invalid", "qty"},
        {"application/json", "{\"qty\":true}", 422, "invalid", "qty"},
        {"application/json", "{\"qty\":null}", 422, "invalid", "qty"},
        {"application/json", "{\"qty\":{}}", 422, "invalid", "qty"},
        {"application/json", "{}", 422, "invalid", "qty"},
        {"application/json", "{\"qty\":-1}", 422, "invalid", "qty"},
        {"application/json", "{\"qty\":-9223372036854775807}", 422, "invalid", "qty"},
        {"application/json", "{\"qty\":9223372036854775807}", 422, "invalid", "qty"},
        {"application/json", big, 422, "invalid", "qty"},
        {"application/json", "{\"qty\":1,\"market_id\":\"1\"}", 422, "invalid", "market_id"},
        {"application/json", "{\"qty\":1,\"market_id\":0}", 422, "invalid", "market_id"},
        {"application/json", "{\"qty\":1,\"price_fen\":1}", 422, "invalid", "price_fen"},
        {"application/json", body, 422, "wrong_market", NULL},
        {"application/json", "{\"qty\":31}", 422, "insufficient_stock", NULL},
        {"application/json", "[3]", 422, "invalid", NULL},
        {"application/json", "{\"qty\":", 400, "malformed_json", NULL},
        {"application/json", "{\"qty\":1,\"x\":\"\xff\xfe\"}", 400, "malformed_json", NULL},
        {"text/plain", "{\"qty\":1}", 415, "unsupported_media_type", NULL},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        refused("PUT", path, w.alice.token, cases[i].ctype, cases[i].body, cases[i].status, cases[i].code,
                cases[i].field);
    /* a 10 KB unknown key: named, cut short, still the error shape */
    tresp_t r;
    call("PUT", path, w.alice.token, "application/json", bigkey, &r);
    ck_assert_int_eq(r.status, 422);
    ck_assert(t_is_error(&r, "invalid"));
    ck_assert_uint_lt(r.len, 2048);
    t_resp_free(&r);
    free(big);
    free(bigkey);

    /* the details of insufficient_stock and wrong_market */
    json_t *doc = put(&w.alice, w.eggs, "{\"qty\":31}", 422);
    ck_assert_int_eq(num(json_object_get(json_object_get(doc, "error"), "details"), "available"), 30);
    json_decref(doc);
    doc = put(&w.alice, w.eggs, body, 422);
    ck_assert_int_eq(num(json_object_get(json_object_get(doc, "error"), "details"), "market_id"), m);
    json_decref(doc);

    /* off sale, or the vendor suspended: off_sale; unknown or malformed ids: 404 */
    snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)w.offsale);
    refused("PUT", path, w.alice.token, "application/json", "{\"qty\":1}", 422, "off_sale", NULL);
    snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)w.suspended);
    refused("PUT", path, w.alice.token, "application/json", "{\"qty\":1}", 422, "off_sale", NULL);
    static const char *const bad_ids[] = {"999999999999", "0", "-1", "abc", "1.5", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad_ids) / sizeof(bad_ids[0]); i++) {
        snprintf(path, sizeof(path), "/v1/cart/items/%s", bad_ids[i]);
        refused("PUT", path, w.alice.token, "application/json", "{\"qty\":1}", 404, "not_found", NULL);
    }
    snapshot(&w, &w.alice, m, after, sizeof(after));
    ck_assert_str_eq(before, after);
    assert_ttl(&w, &w.alice, m);
    world_down(&w);
}
END_TEST

START_TEST(test_a_full_cart_refuses_a_101st_line_but_changes_the_ones_it_has)
{
    world_t w;
    world_up(&w);
    int64_t m = w.m.market_id;
    int64_t ids[CART_MAX_LINES + 1];
    for (int i = 0; i <= CART_MAX_LINES; i++) {
        char name[32];
        snprintf(name, sizeof(name), "菜%d", i);
        ids[i] = add_product(&w, m, w.sa, w.va, name, 100, 0, 50);
    }
    for (int i = 0; i < CART_MAX_LINES; i++)
        json_decref(put_qty(&w.alice, ids[i], 1));
    json_t *doc = put(&w.alice, ids[CART_MAX_LINES], "{\"qty\":1}", 422);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "error"), "code")), "cart_full");
    json_decref(doc);
    doc = put_qty(&w.alice, ids[0], 5);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), CART_MAX_LINES);
    ck_assert_int_eq(num(doc, "items_fen"), 100 * (CART_MAX_LINES + 4));
    json_decref(doc);
    json_decref(put_qty(&w.alice, ids[1], 0));
    doc = put_qty(&w.alice, ids[CART_MAX_LINES], 1);
    ck_assert_ptr_nonnull(line_of(doc, ids[CART_MAX_LINES]));
    json_decref(doc);
    world_down(&w);
}
END_TEST

START_TEST(test_market_ids_in_queries_are_required_checked_and_unknown_ones_are_404)
{
    world_t w;
    world_up(&w);
    char path[160];
    json_decref(put_qty(&w.alice, w.spinach, 500));
    static const char *const bad[] = {"",
                                      "?market_id=",
                                      "?market_id=abc",
                                      "?market_id=0",
                                      "?market_id=-3",
                                      "?market_id=1.5",
                                      "?market_id=99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/v1/cart%s", bad[i]);
        refused("GET", path, w.alice.token, NULL, NULL, 422, "invalid", "market_id");
        refused("DELETE", path, w.alice.token, NULL, NULL, 422, "invalid", "market_id");
        if (bad[i][0] != '\0') {
            snprintf(path, sizeof(path), "/v1/cart/items/%lld%s", (long long)w.spinach, bad[i]);
            refused("DELETE", path, w.alice.token, NULL, NULL, 422, "invalid", "market_id");
            snprintf(path, sizeof(path), "/v1/addresses%s", bad[i]);
            refused("GET", path, w.alice.token, NULL, NULL, 422, "invalid", "market_id");
        }
    }
    int64_t unknown = w.m2.market_id + 100000;
    snprintf(path, sizeof(path), "/v1/cart?market_id=%lld", (long long)unknown);
    refused("GET", path, w.alice.token, NULL, NULL, 404, "not_found", NULL);
    refused("DELETE", path, w.alice.token, NULL, NULL, 404, "not_found", NULL);
    snprintf(path, sizeof(path), "/v1/cart/items/%lld?market_id=%lld", (long long)w.spinach, (long long)unknown);
    refused("DELETE", path, w.alice.token, NULL, NULL, 404, "not_found", NULL);
    snprintf(path, sizeof(path), "/v1/addresses?market_id=%lld", (long long)unknown);
    refused("GET", path, w.alice.token, NULL, NULL, 404, "not_found", NULL);
    static const char *const bad_ids[] = {"0", "abc", "999999999999"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(path, sizeof(path), "/v1/cart/items/%s", bad_ids[i]);
        refused("DELETE", path, w.alice.token, NULL, NULL, 404, "not_found", NULL);
    }
    /* nothing of that touched the cart */
    json_t *cart = get_cart(&w.alice, w.m.market_id);
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 1);
    json_decref(cart);
    world_down(&w);
}
END_TEST

START_TEST(test_other_consumers_never_see_or_change_your_cart_and_markets_keep_separate_carts)
{
    world_t w;
    world_up(&w);
    int64_t m = w.m.market_id, m2 = w.m2.market_id;
    char path[128];
    json_decref(put_qty(&w.alice, w.spinach, 500));
    json_decref(put_qty(&w.alice, w.elsewhere, 250)); /* the other market's cart */
    json_t *cart = get_cart(&w.bob, m);
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 0);
    json_decref(cart);
    snprintf(path, sizeof(path), "/v1/cart?market_id=%lld", (long long)m);
    json_decref(req("DELETE", path, w.bob.token, NULL, 200));
    snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)w.spinach);
    json_decref(req("DELETE", path, w.bob.token, NULL, 200));
    cart = get_cart(&w.alice, m);
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 1);
    ck_assert_ptr_nonnull(line_of(cart, w.spinach));
    ck_assert_ptr_null(line_of(cart, w.elsewhere));
    json_decref(cart);
    cart = get_cart(&w.alice, m2);
    ck_assert_int_eq(num(cart, "market_id"), m2);
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 1);
    ck_assert_int_eq(num(line_of(cart, w.elsewhere), "amount_fen"), 400);
    json_decref(cart);
    assert_ttl(&w, &w.alice, m2);
    /* emptying one market's cart leaves the other */
    snprintf(path, sizeof(path), "/v1/cart?market_id=%lld", (long long)m2);
    json_decref(req("DELETE", path, w.alice.token, NULL, 200));
    cart = get_cart(&w.alice, m);
    ck_assert_uint_eq(json_array_size(json_object_get(cart, "items")), 1);
    json_decref(cart);
    world_down(&w);
}
END_TEST

START_TEST(test_cart_and_address_routes_admit_consumers_only)
{
    world_t w;
    world_up(&w);
    char put_path[128], del_path[128], get_path[128], list_path[128];
    char before[4096], after[4096];
    json_decref(put_qty(&w.alice, w.spinach, 500));
    snapshot(&w, &w.alice, w.m.market_id, before, sizeof(before));
    /* A refused address must not appear: count by a text only this run uses (other suites
     * write addresses into the same database at the same time). */
    char text[64], address_body[256];
    snprintf(text, sizeof(text), "大学路%d", (int)getpid());
    snprintf(address_body, sizeof(address_body),
             "{\"name\":\"王\",\"phone\":\"13800000000\",\"text\":\"%s\",\"lat\":34.7,\"lng\":113.6}", text);
    const char *count_sql = "SELECT COUNT(*) FROM addresses WHERE text = ?";
    snprintf(put_path, sizeof(put_path), "/v1/cart/items/%lld", (long long)w.spinach);
    snprintf(del_path, sizeof(del_path), "/v1/cart/items/%lld?market_id=%lld", (long long)w.spinach,
             (long long)w.m.market_id);
    snprintf(get_path, sizeof(get_path), "/v1/cart?market_id=%lld", (long long)w.m.market_id);
    snprintf(list_path, sizeof(list_path), "/v1/addresses?market_id=%lld", (long long)w.m.market_id);
    const struct {
        const char *method, *path, *body;
    } routes[] = {
        {"GET", get_path, NULL},    {"DELETE", get_path, NULL}, {"PUT", put_path, "{\"qty\":1}"},
        {"DELETE", del_path, NULL}, {"GET", list_path, NULL},   {"POST", "/v1/addresses", address_body},
    };
    const struct {
        const char *token;
        long status;
        const char *code;
    } who[] = {
        {NULL, 401, "unauthorized"},
        {"not-a-token", 401, "unauthorized"},
        {w.vendor_token, 403, "forbidden"},
        {w.op_token, 403, "forbidden"},
    };
    for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++)
        for (size_t k = 0; k < sizeof(who) / sizeof(who[0]); k++)
            refused(routes[i].method, routes[i].path, who[k].token, "application/json", routes[i].body, who[k].status,
                    who[k].code, NULL);
    snapshot(&w, &w.alice, w.m.market_id, after, sizeof(after));
    ck_assert_str_eq(before, after);
    ck_assert_int_eq(t_db_i64(&w.db, count_sql, (db_param_t[]){DB_STR(text)}, 1), 0);
    world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- address tests */

#define ADDR_OK                                                                                                        \
    "{\"name\":\"王小明\",\"phone\":\"+86-13800000000\",\"text\":\"郑州市二七区大学路 12 "                 \
    "号\",\"lat\":34.7477,\"lng\":113.6254"

static int64_t count_addresses(world_t *w, const consumer_t *c)
{
    return t_db_i64(&w->db, "SELECT COUNT(*) FROM addresses WHERE user_id = ?", (db_param_t[]){DB_I64(c->id)}, 1);
}

START_TEST(test_a_consumer_keeps_addresses_and_lists_those_usable_in_a_market)
{
    world_t w;
    world_up(&w);
    char body[512], path[128];
    json_t *a = req("POST", "/v1/addresses", w.alice.token, ADDR_OK "}", 201);
    int64_t any = num(a, "id");
    ck_assert_str_eq(json_string_value(json_object_get(a, "name")), "王小明");
    ck_assert_str_eq(json_string_value(json_object_get(a, "phone")), "+86-13800000000");
    ck_assert_str_eq(json_string_value(json_object_get(a, "text")), "郑州市二七区大学路 12 号");
    ck_assert_double_eq_tol(json_number_value(json_object_get(a, "lat")), 34.7477, 1e-9);
    ck_assert_double_eq_tol(json_number_value(json_object_get(a, "lng")), 113.6254, 1e-9);
    ck_assert(json_is_null(json_object_get(a, "market_id")));
    json_decref(a);
    snprintf(body, sizeof(body), ADDR_OK ",\"market_id\":%lld}", (long long)w.m.market_id);
    a = req("POST", "/v1/addresses", w.alice.token, body, 201);
    int64_t here = num(a, "id");
    ck_assert_int_eq(num(a, "market_id"), w.m.market_id);
    json_decref(a);
    snprintf(body, sizeof(body), ADDR_OK ",\"market_id\":%lld}", (long long)w.m2.market_id);
    json_decref(req("POST", "/v1/addresses", w.alice.token, body, 201));
    /* integer degrees are numbers too */
    a = req("POST", "/v1/addresses", w.bob.token,
            "{\"name\":\"李\",\"phone\":\"12345\",\"text\":\"路\",\"lat\":-90,\"lng\":180}", 201);
    ck_assert_double_eq(json_number_value(json_object_get(a, "lat")), -90);
    json_decref(a);

    json_t *list = req("GET", "/v1/addresses", w.alice.token, NULL, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(list, "items")), 3);
    ck_assert(json_is_null(json_object_get(list, "next_cursor")));
    json_decref(list);
    snprintf(path, sizeof(path), "/v1/addresses?market_id=%lld", (long long)w.m.market_id);
    list = req("GET", path, w.alice.token, NULL, 200);
    json_t *items = json_object_get(list, "items");
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_int_eq(num(json_array_get(items, 0), "id"), any);
    ck_assert_int_eq(num(json_array_get(items, 1), "id"), here);
    json_decref(list);
    /* bob sees only his own */
    list = req("GET", "/v1/addresses", w.bob.token, NULL, 200);
    items = json_object_get(list, "items");
    ck_assert_uint_eq(json_array_size(items), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "name")), "李");
    json_decref(list);
    world_down(&w);
}
END_TEST

START_TEST(test_bad_addresses_are_refused_naming_the_field_and_nothing_is_written)
{
    world_t w;
    world_up(&w);
    char *big = malloc(12 * 1024), *bigname = malloc(12 * 1024), unknown_market[512];
    size_t o = (size_t)snprintf(big, 12 * 1024, "{\"name\":\"王\",\"phone\":\"12345\",\"lat\":1,\"lng\":1,\"text\":\"");
    for (int i = 0; i < 10 * 1024; i++)
        big[o++] = 'a';
    snprintf(big + o, 12 * 1024 - o, "\"}");
    o = (size_t)snprintf(bigname, 12 * 1024, "{\"phone\":\"12345\",\"text\":\"t\",\"lat\":1,\"lng\":1,\"name\":\"");
    for (int i = 0; i < 10 * 1024; i++)
        bigname[o++] = 'b';
    snprintf(bigname + o, 12 * 1024 - o, "\"}");
    snprintf(unknown_market, sizeof(unknown_market), ADDR_OK ",\"market_id\":%lld}",
             (long long)w.m2.market_id + 100000);
#define F(rest) "{\"name\":\"王\",\"phone\":\"12345\",\"text\":\"路\"," rest "}"
    const struct {
        const char *ctype, *body;
        long status;
        const char *code, *field;
    } cases[] = {
        {"application/json", "{}", 422, "invalid", "name"},
        {"application/json", "{\"phone\":\"12345\",\"text\":\"路\",\"lat\":1,\"lng\":1}", 422, "invalid", "name"},
        {"application/json", "{\"name\":\"\",\"phone\":\"12345\",\"text\":\"路\",\"lat\":1,\"lng\":1}", 422, "invalid",
         "name"},
        {"application/json", "{\"name\":[],\"phone\":\"12345\",\"text\":\"路\",\"lat\":1,\"lng\":1}", 422, "invalid",
         "name"},
        {"application/json", bigname, 422, "invalid", "name"},
        {"application/json", "{\"name\":\"王\",\"phone\":\"1234\",\"text\":\"路\",\"lat\":1,\"lng\":1}", 422, "invalid",
         "phone"},
        {"application/json",
         "{\"name\":\"王\",\"phone\":\"138-0000-0000-0000-00\",\"text\":\"路\",\"lat\":1,\"lng\":1}", 422, "invalid",
         "phone"},
        {"application/json", "{\"name\":\"王\",\"phone\":\"tel:12345\",\"text\":\"路\",\"lat\":1,\"lng\":1}", 422,
         "invalid", "phone"},
        {"application/json", "{\"name\":\"王\",\"phone\":12345,\"text\":\"路\",\"lat\":1,\"lng\":1}", 422, "invalid",
         "phone"},
        {"application/json", big, 422, "invalid", "text"},
        {"application/json", "{\"name\":\"王\",\"phone\":\"12345\",\"text\":\"\",\"lat\":1,\"lng\":1}", 422, "invalid",
         "text"},
        {"application/json", "{\"name\":\"王\",\"phone\":\"12345\",\"text\":\"a\\u0001b\",\"lat\":1,\"lng\":1}", 422,
         "invalid", "text"},
        {"application/json", F("\"lat\":\"34.7\",\"lng\":1"), 422, "invalid", "lat"},
        {"application/json", F("\"lat\":90.5,\"lng\":1"), 422, "invalid", "lat"},
        {"application/json", F("\"lat\":-91,\"lng\":1"), 422, "invalid", "lat"},
        {"application/json", F("\"lat\":true,\"lng\":1"), 422, "invalid", "lat"},
        {"application/json", F("\"lng\":1"), 422, "invalid", "lat"},
        {"application/json", F("\"lat\":1,\"lng\":180.000001"), 422, "invalid", "lng"},
        {"application/json", F("\"lat\":1,\"lng\":null"), 422, "invalid", "lng"},
        {"application/json", F("\"lat\":1,\"lng\":1,\"market_id\":\"1\""), 422, "invalid", "market_id"},
        {"application/json", F("\"lat\":1,\"lng\":1,\"market_id\":0"), 422, "invalid", "market_id"},
        {"application/json", F("\"lat\":1,\"lng\":1,\"market_id\":2.5"), 422, "invalid", "market_id"},
        {"application/json", unknown_market, 422, "invalid", "market_id"},
        {"application/json", F("\"lat\":1,\"lng\":1,\"default\":true"), 422, "invalid", "default"},
        {"application/json", "[]", 422, "invalid", NULL},
        {"application/json",
         "{\"name\":\"\xe7\x8e\","
         "\"phone\":\"12345\",\"text\":\"路\",\"lat\":1,\"lng\":1}",
         400, "malformed_json", NULL},
        {"application/json", "{\"name\":\"王\",", 400, "malformed_json", NULL},
        {"text/plain", ADDR_OK "}", 415, "unsupported_media_type", NULL},
    };
#undef F
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        refused("POST", "/v1/addresses", w.alice.token, cases[i].ctype, cases[i].body, cases[i].status, cases[i].code,
                cases[i].field);
    ck_assert_int_eq(count_addresses(&w, &w.alice), 0);
    free(big);
    free(bigname);
    world_down(&w);
}
END_TEST

START_TEST(test_the_51st_address_is_refused)
{
    world_t w;
    world_up(&w);
    for (int i = 0; i < 50; i++)
        json_decref(req("POST", "/v1/addresses", w.alice.token, ADDR_OK "}", 201));
    json_t *doc = req("POST", "/v1/addresses", w.alice.token, ADDR_OK "}", 422);
    json_t *err = json_object_get(doc, "error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "too_many_addresses");
    ck_assert_int_eq(num(json_object_get(err, "details"), "max"), 50);
    json_decref(doc);
    ck_assert_int_eq(count_addresses(&w, &w.alice), 50);
    doc = req("GET", "/v1/addresses", w.alice.token, NULL, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), 50);
    json_decref(doc);
    /* bob is not held to alice's count */
    json_decref(req("POST", "/v1/addresses", w.bob.token, ADDR_OK "}", 201));
    world_down(&w);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("cart_api");
    TCase *tc = tcase_create("cart_api");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_a_consumer_fills_a_cart_with_weighed_and_counted_goods_and_sees_the_amounts);
    tcase_add_test(tc, test_lines_gone_off_sale_short_of_stock_suspended_or_deleted_are_marked_not_dropped);
    tcase_add_test(tc, test_bad_puts_are_refused_in_the_error_shape_and_the_cart_is_unchanged);
    tcase_add_test(tc, test_a_full_cart_refuses_a_101st_line_but_changes_the_ones_it_has);
    tcase_add_test(tc, test_market_ids_in_queries_are_required_checked_and_unknown_ones_are_404);
    tcase_add_test(tc, test_other_consumers_never_see_or_change_your_cart_and_markets_keep_separate_carts);
    tcase_add_test(tc, test_cart_and_address_routes_admit_consumers_only);
    tcase_add_test(tc, test_a_consumer_keeps_addresses_and_lists_those_usable_in_a_market);
    tcase_add_test(tc, test_bad_addresses_are_refused_naming_the_field_and_nothing_is_written);
    tcase_add_test(tc, test_the_51st_address_is_refused);
    suite_add_tcase(su, tc);
    return t_main_shared(su, NULL, &shared, &shared_exit);
}
