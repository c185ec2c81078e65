/*
 * models/order.c and models/idempotency.c against a scratch database of their own
 * (sf_torder_<pid>_<tag>, swept by main): checkout totals for weighed and counted lines with
 * the delivery fee and its free threshold; refusals that leave nothing behind (empty cart,
 * foreign, wrong-market and out-of-range addresses, unavailable lines, lines short of stock);
 * concurrent checkouts that never oversell and never deadlock into an error, whatever order
 * the lines come in; the state machines as a table (every legal move once, never twice, no
 * illegal move touching the database); the unpaid cancel that gives stock back exactly once;
 * the consumer's cancel; rendering and paging; idempotency keys; and what a checkout costs
 * (statements counted, the answer built from what was written, kept for its key).
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "models/idempotency.h"
#include "models/base/geo.h"
#include "models/order.h"
#include "models/payment.h"
#include "models/base/cursor.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

/* ================================================================ fixtures */

/* A market at (34.75, 113.62) with one consumer, one address near it and two stalls with
 * their vendors. */
typedef struct world {
    config_t cfg;
    db_t db;
    int64_t market, other_market, user, other_user, address;
    int64_t stall[3], vendor[3];
} world_t;

static int64_t q1(db_t *db, const char *sql, int64_t arg)
{
    db_param_t p[] = {DB_I64(arg)};
    return t_db_i64(db, sql, p, strstr(sql, "?") != NULL ? 1 : 0);
}

static int64_t add_market(db_t *db, const char *code)
{
    return t_db_insert(
        db,
        "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
        " VALUES (?, '市场', 'addr', 34.750000, 113.620000, '410103', '', '[]', '', '6-20')",
        (db_param_t[]){DB_STR(code)}, 1);
}

static int64_t add_user(db_t *db, const char *openid)
{
    return t_db_insert(db, "INSERT INTO users (role, wechat_openid, display_name) VALUES ('consumer', ?, 'c')",
                       (db_param_t[]){DB_STR(openid)}, 1);
}

static int64_t add_address(db_t *db, int64_t user, int64_t market, const char *lat, const char *lng)
{
    db_param_t p[] = {market != 0 ? DB_I64(market) : DB_NULL, DB_I64(user), DB_STR(lat), DB_STR(lng)};
    return t_db_insert(db,
                       "INSERT INTO addresses (market_id, user_id, name, phone, text, lat, lng)"
                       " VALUES (?, ?, '王五', '13800000000', '郑州市二七区', ?, ?)",
                       p, 4);
}

static void add_stall(db_t *db, int64_t market, int i, int64_t *stall, int64_t *vendor)
{
    char no[16];
    snprintf(no, sizeof(no), "A-%02d", i);
    *vendor = t_db_insert(db,
                          "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                          " VALUES (?, '李四', '13900000000', '蔬菜', 'A')",
                          (db_param_t[]){DB_I64(market)}, 1);
    *stall = t_db_insert(
        db, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'z', 1, 1, ?)",
        (db_param_t[]){DB_I64(market), DB_STR(no), DB_I64(*vendor)}, 3);
}

/* A weighed product (price per per_g grams) or, with per_g 0, a counted one. */
static int64_t add_product(world_t *w, int s, const char *name, int64_t price, int64_t per_g, int64_t stock)
{
    db_param_t p[] = {DB_I64(w->market),
                      DB_I64(w->stall[s]),
                      DB_I64(w->vendor[s]),
                      DB_STR(name),
                      DB_STR(per_g > 0 ? "weight" : "count"),
                      DB_I64(price),
                      per_g > 0 ? DB_I64(per_g) : DB_NULL,
                      per_g > 0 ? DB_NULL : DB_STR("个"),
                      DB_I64(stock)};
    return t_db_insert(
        &w->db,
        "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name, pricing_mode,"
        " price_fen, per_g, unit, stock, origin, trace_code) VALUES (?, ?, ?, 'veg-leafy', 'A010101', ?, ?,"
        " ?, ?, ?, ?, '410122', 'TR-1')",
        p, 9);
}

static void world_open(world_t *w, const char *tag)
{
    char err[512];
    memset(w, 0, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    w->market = add_market(&w->db, "m1");
    w->other_market = add_market(&w->db, "m2");
    w->user = add_user(&w->db, "u1");
    w->other_user = add_user(&w->db, "u2");
    w->address = add_address(&w->db, w->user, 0, "34.751000", "113.621000");
    for (int i = 0; i < 3; i++)
        add_stall(&w->db, w->market, i + 1, &w->stall[i], &w->vendor[i]);
}

static void world_close(world_t *w)
{
    t_db_scratch_close(&w->db, &w->cfg);
}

/* A checkout of these lines with the default trade settings. */
static order_checkout_t co(const world_t *w, const cart_line_t *lines, size_t n)
{
    return (order_checkout_t){.user_id = w->user,
                              .market_id = w->market,
                              .address_id = w->address,
                              .note = "请放门口",
                              .lines = lines,
                              .nlines = n,
                              .delivery_fee_fen = 500,
                              .free_delivery_from_fen = 5000,
                              .radius_m = 5000,
                              .unpaid_timeout_s = 900};
}

static int64_t stock_of(world_t *w, int64_t product)
{
    return q1(&w->db, "SELECT stock FROM products WHERE id = ?", product);
}

static int64_t rows_in(world_t *w, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    return q1(&w->db, sql, 0);
}

/* Nothing at all was written by a refused checkout. */
static void assert_no_order(world_t *w)
{
    ck_assert_int_eq(rows_in(w, "orders"), 0);
    ck_assert_int_eq(rows_in(w, "vendor_orders"), 0);
    ck_assert_int_eq(rows_in(w, "order_lines"), 0);
    ck_assert_int_eq(rows_in(w, "order_events"), 0);
    ck_assert_int_eq(rows_in(w, "outbox"), 0);
}

static int64_t checkout_ok(world_t *w, const order_checkout_t *in)
{
    int64_t id = 0;
    status_detail_t details = {0};
    int rc = order_checkout(&w->db, in, &id, &details);
    ck_assert_msg(rc == DB_OK, "checkout gave %d: %s", rc, w->db.err);
    ck_assert_ptr_null(details.details);
    ck_assert_int_gt(id, 0);
    return id;
}

static json_t *render(world_t *w, int64_t id)
{
    json_t *o = NULL;
    ck_assert_int_eq(order_render(&w->db, id, w->user, &o), DB_OK);
    return o;
}

static int64_t jint(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
}

static const char *jstr(const json_t *o, const char *k)
{
    json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_string(v), "%s is not a string", k);
    return json_string_value(v);
}

/* ================================================================ checkout */

START_TEST(test_checkout_totals_weighed_and_counted_lines_with_the_delivery_fee)
{
    world_t w;
    world_open(&w, "totals");
    /* 6.00 per 500 g, 333 g: 600*333/500 = 399.6 → 400; 3.50 a piece, 3 pieces: 1050; 0.01 per g of 1 g */
    int64_t tomato = add_product(&w, 0, "西红柿", 600, 500, 10000);
    int64_t egg = add_product(&w, 1, "鸡蛋", 350, 0, 100);
    int64_t salt = add_product(&w, 2, "盐", 1, 1, 10);
    cart_line_t lines[] = {{egg, 3}, {tomato, 333}, {salt, 1}};
    order_checkout_t in = co(&w, lines, 3);
    int64_t id = checkout_ok(&w, &in);
    json_t *o = render(&w, id);
    ck_assert_int_eq(jint(o, "items_fen"), 400 + 1050 + 1);
    ck_assert_int_eq(jint(o, "delivery_fee_fen"), 500);
    ck_assert_int_eq(jint(o, "payable_fen"), 1451 + 500);
    ck_assert_int_eq(jint(o, "paid_fen"), 0);
    ck_assert_int_eq(jint(o, "refunded_fen"), 0);
    ck_assert_str_eq(jstr(o, "status"), "pending_payment");
    ck_assert_str_eq(jstr(o, "note"), "请放门口");
    ck_assert(strncmp(jstr(o, "order_no"), "SF", 2) == 0 && strlen(jstr(o, "order_no")) == 20);
    ck_assert(json_is_null(json_object_get(o, "paid_at")));
    ck_assert(json_is_null(json_object_get(o, "delivery")));
    ck_assert_int_eq(json_array_size(json_object_get(o, "refunds")), 0);
    const char *created = jstr(o, "created_at"), *expires = jstr(o, "expires_at");
    ck_assert_int_eq(strlen(created), 29);
    ck_assert_str_eq(created + 23, "+08:00");
    ck_assert_str_eq(expires + 23, "+08:00");
    ck_assert_str_eq(jstr(json_object_get(o, "address"), "name"), "王五");
    json_t *vos = json_object_get(o, "vendor_orders");
    ck_assert_int_eq(json_array_size(vos), 3); /* one per stall */
    for (size_t i = 0; i < 3; i++) {
        json_t *vo = json_array_get(vos, i);
        ck_assert_str_eq(jstr(vo, "status"), "pending_payment");
        ck_assert_int_eq(json_array_size(json_object_get(vo, "lines")), 1);
        json_t *l = json_array_get(json_object_get(vo, "lines"), 0);
        ck_assert(json_is_null(json_object_get(l, "qty_actual")));
        ck_assert_str_eq(jstr(l, "origin"), "410122");
        ck_assert_str_eq(jstr(l, "trace_code"), "TR-1");
        ck_assert_str_eq(jstr(l, "commodity_code"), "A010101");
        ck_assert_int_eq(jint(vo, "items_fen"), jint(l, "amount_fen"));
        if (jint(l, "product_id") == tomato) {
            ck_assert_int_eq(jint(l, "amount_fen"), 400);
            ck_assert_int_eq(jint(vo, "stall_id"), w.stall[0]);
            ck_assert_int_eq(jint(vo, "vendor_id"), w.vendor[0]);
            ck_assert_str_eq(jstr(json_object_get(l, "pricing"), "mode"), "weight");
            ck_assert_int_eq(jint(json_object_get(l, "pricing"), "per_g"), 500);
        } else if (jint(l, "product_id") == egg) {
            ck_assert_int_eq(jint(l, "amount_fen"), 1050);
            ck_assert_str_eq(jstr(json_object_get(l, "pricing"), "unit"), "个");
        } else {
            ck_assert_int_eq(jint(l, "amount_fen"), 1);
        }
    }
    json_decref(o);
    /* stock and sales moved, one event per order and vendor order, one outbox row */
    ck_assert_int_eq(stock_of(&w, tomato), 10000 - 333);
    ck_assert_int_eq(stock_of(&w, egg), 97);
    ck_assert_int_eq(q1(&w.db, "SELECT sales_qty FROM products WHERE id = ?", egg), 3);
    ck_assert_int_eq(q1(&w.db, "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND from_status IS NULL", id), 4);
    ck_assert_int_eq(q1(&w.db,
                        "SELECT COUNT(*) FROM outbox WHERE topic = 'order.created' AND payload LIKE"
                        " CONCAT('%\"order_id\":', ?, ',%')",
                        id),
                     1);
    ck_assert_int_eq(q1(&w.db, "SELECT COUNT(*) FROM outbox WHERE payload LIKE '%expires_at_ms%'", 0), 1);
    ck_assert_int_eq(q1(&w.db, "SELECT TIMESTAMPDIFF(SECOND, created_at, expires_at) FROM orders WHERE id = ?", id),
                     900);
    world_close(&w);
}
END_TEST

START_TEST(test_delivery_is_free_from_the_threshold_and_not_below_it)
{
    world_t w;
    world_open(&w, "free");
    int64_t egg = add_product(&w, 0, "鸡蛋", 2500, 0, 100);
    cart_line_t one[] = {{egg, 1}}, two[] = {{egg, 2}};
    order_checkout_t in = co(&w, one, 1);
    json_t *o = render(&w, checkout_ok(&w, &in)); /* 2500 < 5000 */
    ck_assert_int_eq(jint(o, "delivery_fee_fen"), 500);
    ck_assert_int_eq(jint(o, "payable_fen"), 3000);
    json_decref(o);
    in = co(&w, two, 1); /* exactly 5000: free */
    o = render(&w, checkout_ok(&w, &in));
    ck_assert_int_eq(jint(o, "delivery_fee_fen"), 0);
    ck_assert_int_eq(jint(o, "payable_fen"), 5000);
    json_decref(o);
    in = co(&w, two, 1);
    in.free_delivery_from_fen = 0; /* never free */
    in.note = NULL;
    o = render(&w, checkout_ok(&w, &in));
    ck_assert_int_eq(jint(o, "delivery_fee_fen"), 500);
    ck_assert(json_is_null(json_object_get(o, "note")));
    json_decref(o);
    world_close(&w);
}
END_TEST

START_TEST(test_checkout_refuses_an_empty_cart_and_bad_addresses_writing_nothing)
{
    world_t w;
    int64_t id = 0;
    status_detail_t details = {0};
    world_open(&w, "refuse");
    int64_t egg = add_product(&w, 0, "鸡蛋", 350, 0, 100);
    cart_line_t lines[] = {{egg, 1}};
    order_checkout_t in = co(&w, lines, 0);
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_EMPTY_CART);
    in = co(&w, lines, 1);
    in.address_id = add_address(&w.db, w.other_user, 0, "34.751000", "113.621000"); /* another consumer's */
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_UNKNOWN_ADDRESS);
    in.address_id = 999999;
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_UNKNOWN_ADDRESS);
    in.address_id = add_address(&w.db, w.user, w.other_market, "34.751000", "113.621000");
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_ADDRESS_WRONG_MARKET);
    in.address_id = add_address(&w.db, w.user, w.market, "34.751000", "113.621000"); /* tied to this one: fine */
    in.radius_m = 1;                                                                 /* ~140 m away */
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_ADDRESS_OUT_OF_RANGE);
    in.radius_m = 5000;
    in.address_id = add_address(&w.db, w.user, 0, "34.850000", "113.620000"); /* 11 km north */
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_ADDRESS_OUT_OF_RANGE);
    in.address_id = w.address;
    in.market_id = 999999;
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_NO_MARKET);
    ck_assert_ptr_null(details.details);
    assert_no_order(&w);
    ck_assert_int_eq(stock_of(&w, egg), 100);
    world_close(&w);
}
END_TEST

START_TEST(test_unavailable_lines_are_named_and_nothing_is_reserved)
{
    world_t w;
    int64_t id = 0;
    status_detail_t details = {0};
    world_open(&w, "unavail");
    int64_t ok = add_product(&w, 0, "菠菜", 600, 500, 1000);
    int64_t off = add_product(&w, 0, "白菜", 600, 500, 1000);
    int64_t susp = add_product(&w, 1, "鸡蛋", 350, 0, 100);
    ck_assert_int_eq(db_exec(&w.db, "UPDATE products SET status = 'off_sale' WHERE id = ?", (db_param_t[]){DB_I64(off)},
                             1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(db_exec(&w.db, "UPDATE vendors SET status = 'suspended' WHERE id = ?",
                             (db_param_t[]){DB_I64(w.vendor[1])}, 1, NULL, NULL),
                     DB_OK);
    cart_line_t lines[] = {{ok, 100}, {off, 100}, {susp, 1}, {987654, 1}};
    order_checkout_t in = co(&w, lines, 4);
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_LINES_UNAVAILABLE);
    json_t *bad = json_object_get(details.details, "lines");
    ck_assert_int_eq(json_array_size(bad), 3);
    const char *want[][2] = {{"白菜", "off_sale"}, {"鸡蛋", "vendor_inactive"}, {NULL, "gone"}};
    for (size_t i = 0; i < 3; i++) {
        json_t *l = json_array_get(bad, i);
        ck_assert_str_eq(jstr(l, "reason"), want[i][1]);
        if (want[i][0] != NULL)
            ck_assert_str_eq(jstr(l, "name"), want[i][0]);
        else
            ck_assert(json_is_null(json_object_get(l, "name")));
    }
    status_detail_clear(&details);
    /* a product of another market in this market's cart */
    int64_t foreign =
        t_db_insert(&w.db,
                    "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                    " pricing_mode, price_fen, unit, stock) VALUES (?, ?, ?, 'x', 'A01', '外', 'count', 1,"
                    " '个', 5)",
                    (db_param_t[]){DB_I64(w.other_market), DB_I64(w.stall[0]), DB_I64(w.vendor[0])}, 3);
    cart_line_t l2[] = {{foreign, 1}, {ok, 1}};
    in = co(&w, l2, 2);
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_LINES_UNAVAILABLE);
    ck_assert_str_eq(jstr(json_array_get(json_object_get(details.details, "lines"), 0), "reason"), "another_market");
    status_detail_clear(&details);
    /* a quantity no line may have */
    cart_line_t l3[] = {{ok, 0}};
    in = co(&w, l3, 1);
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_LINES_UNAVAILABLE);
    status_detail_clear(&details);
    assert_no_order(&w);
    ck_assert_int_eq(stock_of(&w, ok), 1000);
    world_close(&w);
}
END_TEST

START_TEST(test_a_short_line_refuses_the_whole_checkout_naming_what_is_available)
{
    world_t w;
    int64_t id = 0;
    status_detail_t details = {0};
    world_open(&w, "short");
    int64_t a = add_product(&w, 0, "菠菜", 600, 500, 1000);
    int64_t b = add_product(&w, 1, "鸡蛋", 350, 0, 2);
    cart_line_t lines[] = {{a, 500}, {b, 3}};
    order_checkout_t in = co(&w, lines, 2);
    ck_assert_int_eq(order_checkout(&w.db, &in, &id, &details), SF_E_OUT_OF_STOCK);
    json_t *l = json_object_get(details.details, "lines");
    ck_assert_int_eq(json_array_size(l), 1);
    ck_assert_int_eq(jint(json_array_get(l, 0), "product_id"), b);
    ck_assert_int_eq(jint(json_array_get(l, 0), "qty"), 3);
    ck_assert_int_eq(jint(json_array_get(l, 0), "available"), 2);
    ck_assert_str_eq(jstr(json_array_get(l, 0), "name"), "鸡蛋");
    status_detail_clear(&details);
    assert_no_order(&w);
    ck_assert_int_eq(stock_of(&w, a), 1000); /* nothing reserved */
    ck_assert_int_eq(stock_of(&w, b), 2);
    ck_assert_int_eq(q1(&w.db, "SELECT sales_qty FROM products WHERE id = ?", a), 0);
    world_close(&w);
}
END_TEST

START_TEST(test_lines_in_any_order_give_the_same_order)
{
    world_t w;
    world_open(&w, "sorted");
    int64_t a = add_product(&w, 0, "菠菜", 600, 500, 1000);
    int64_t b = add_product(&w, 1, "鸡蛋", 350, 0, 10);
    cart_line_t fwd[] = {{a, 100}, {b, 1}}, rev[] = {{b, 1}, {a, 100}};
    order_checkout_t in1 = co(&w, fwd, 2), in2 = co(&w, rev, 2);
    json_t *o1 = render(&w, checkout_ok(&w, &in1)), *o2 = render(&w, checkout_ok(&w, &in2));
    ck_assert_int_eq(jint(o1, "items_fen"), jint(o2, "items_fen"));
    json_t *v1 = json_object_get(o1, "vendor_orders"), *v2 = json_object_get(o2, "vendor_orders");
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(jint(json_array_get(v1, i), "stall_id"), jint(json_array_get(v2, i), "stall_id"));
        ck_assert_int_eq(jint(json_array_get(json_object_get(json_array_get(v1, i), "lines"), 0), "product_id"),
                         jint(json_array_get(json_object_get(json_array_get(v2, i), "lines"), 0), "product_id"));
    }
    json_decref(o1);
    json_decref(o2);
    ck_assert_int_eq(stock_of(&w, a), 800);
    ck_assert_int_eq(stock_of(&w, b), 8);
    world_close(&w);
}
END_TEST

/* ---- concurrency: each thread its own connection ---- */

#define RACERS 30

typedef struct racer {
    world_t *w;
    cart_line_t lines[2];
    size_t n;
    int64_t user, address;
    int rc;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    db_t db;
    int64_t id = 0;
    status_detail_t details = {0};
    db_thread_init();
    r->rc = db_open(&db, &r->w->cfg);
    if (r->rc == DB_OK) {
        order_checkout_t in = co(r->w, r->lines, r->n);
        in.user_id = r->user;
        in.address_id = r->address;
        r->rc = order_checkout(&db, &in, &id, &details);
        status_detail_clear(&details);
        db_close(&db);
    }
    db_thread_end();
    return NULL;
}

static void run_race(world_t *w, int64_t a, int64_t b)
{
    pthread_t t[RACERS];
    static racer_t r[RACERS];
    for (int i = 0; i < RACERS; i++) {
        char openid[32];
        snprintf(openid, sizeof(openid), "racer%d", i);
        r[i] = (racer_t){.w = w, .n = b != 0 ? 2 : 1};
        r[i].user = add_user(&w->db, openid);
        r[i].address = add_address(&w->db, r[i].user, 0, "34.751000", "113.621000");
        r[i].lines[0] = (cart_line_t){i % 2 && b != 0 ? b : a, 1};
        r[i].lines[1] = (cart_line_t){i % 2 ? a : b, 1};
    }
    for (int i = 0; i < RACERS; i++)
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    int ok = 0, short_ = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(r[i].rc == DB_OK || r[i].rc == SF_E_OUT_OF_STOCK, "racer %d: %d", i, r[i].rc);
        ok += r[i].rc == DB_OK;
        short_ += r[i].rc == SF_E_OUT_OF_STOCK;
    }
    ck_assert_int_eq(ok, 10);
    ck_assert_int_eq(short_, RACERS - 10);
}

START_TEST(test_concurrent_checkouts_never_oversell_one_product)
{
    world_t w;
    world_open(&w, "race1");
    int64_t a = add_product(&w, 0, "鸡蛋", 350, 0, 10);
    run_race(&w, a, 0);
    ck_assert_int_eq(stock_of(&w, a), 0);
    ck_assert_int_eq(rows_in(&w, "orders"), 10);
    ck_assert_int_eq(q1(&w.db, "SELECT sales_qty FROM products WHERE id = ?", a), 10);
    world_close(&w);
}
END_TEST

START_TEST(test_concurrent_checkouts_of_two_products_in_opposite_orders_never_fail_on_a_deadlock)
{
    world_t w;
    world_open(&w, "race2");
    int64_t a = add_product(&w, 0, "鸡蛋", 350, 0, 10);
    int64_t b = add_product(&w, 1, "鸭蛋", 450, 0, 10);
    run_race(&w, a, b);
    ck_assert_int_eq(stock_of(&w, a), 0);
    ck_assert_int_eq(stock_of(&w, b), 0);
    ck_assert_int_eq(rows_in(&w, "orders"), 10);
    ck_assert_int_eq(rows_in(&w, "order_lines"), 20);
    world_close(&w);
}
END_TEST

/* ================================================================ state machines */

static const char *const o_states[] = {"pending_payment", "paid",      "fulfilling", "ready",
                                       "delivering",      "delivered", "cancelled"};
static const char *const v_states[] = {"pending_payment", "new",         "accepted", "picked",
                                       "ready",           "handed_over", "rejected", "cancelled"};

/* API.md "Orders", written out independently of the model's table. */
static const char *const o_legal[][2] = {
    {"pending_payment", "paid"}, {"paid", "fulfilling"},           {"fulfilling", "ready"}, {"ready", "delivering"},
    {"delivering", "delivered"}, {"pending_payment", "cancelled"}, {"paid", "cancelled"},
};
static const char *const v_legal[][2] = {
    {"pending_payment", "new"}, {"new", "accepted"}, {"accepted", "picked"},           {"picked", "ready"},
    {"ready", "handed_over"},   {"new", "rejected"}, {"pending_payment", "cancelled"}, {"new", "cancelled"},
};

static int listed(const char *const (*t)[2], size_t n, const char *from, const char *to)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(t[i][0], from) == 0 && strcmp(t[i][1], to) == 0)
            return 1;
    return 0;
}

static void set_status(world_t *w, const char *table, int64_t id, const char *status)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "UPDATE %s SET status = ? WHERE id = ?", table);
    ck_assert_int_eq(db_exec(&w->db, sql, (db_param_t[]){DB_STR(status), DB_I64(id)}, 2, NULL, NULL), DB_OK);
}

static int status_is(world_t *w, const char *table, int64_t id, const char *status)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT status = ? FROM %s WHERE id = ?", table);
    return t_db_i64(&w->db, sql, (db_param_t[]){DB_STR(status), DB_I64(id)}, 2) == 1;
}

START_TEST(test_the_order_state_machine_allows_exactly_the_listed_moves_once)
{
    world_t w;
    world_open(&w, "fsm");
    int64_t egg = add_product(&w, 0, "鸡蛋", 350, 0, 100);
    cart_line_t lines[] = {{egg, 1}};
    order_checkout_t in = co(&w, lines, 1);
    int64_t id = checkout_ok(&w, &in);
    size_t nl = sizeof(o_legal) / sizeof(o_legal[0]), legal = 0;
    for (size_t f = 0; f < 7; f++)
        for (size_t t = 0; t < 7; t++) {
            const char *from = o_states[f], *to = o_states[t];
            int ok = listed(o_legal, nl, from, to);
            ck_assert_msg(order_move_legal(from, to) == ok, "%s → %s", from, to);
            set_status(&w, "orders", id, from);
            int64_t events = rows_in(&w, "order_events");
            int rc = order_transition_tx(&w.db, id, from, to, "system:test", "t");
            if (ok) {
                legal++;
                ck_assert_msg(rc == DB_OK, "%s → %s gave %d", from, to, rc);
                ck_assert(status_is(&w, "orders", id, to));
                ck_assert_int_eq(rows_in(&w, "order_events"), events + 1);
                /* the same move again: the order is no longer in `from` */
                ck_assert_int_eq(order_transition_tx(&w.db, id, from, to, "system:test", "t"), SF_E_ORDER_CHANGED);
                ck_assert_int_eq(rows_in(&w, "order_events"), events + 1);
            } else {
                ck_assert_msg(rc == SF_E_ORDER_CHANGED, "%s → %s gave %d", from, to, rc);
                ck_assert(status_is(&w, "orders", id, from));
                ck_assert_int_eq(rows_in(&w, "order_events"), events);
            }
        }
    ck_assert_int_eq(legal, nl);
    /* a move from a state the order is not in changes nothing */
    set_status(&w, "orders", id, "paid");
    ck_assert_int_eq(order_transition_tx(&w.db, id, "pending_payment", "cancelled", "x", NULL), SF_E_ORDER_CHANGED);
    ck_assert(status_is(&w, "orders", id, "paid"));
    ck_assert_int_eq(order_move_legal("paid", "bogus"), 0);
    ck_assert_int_eq(order_move_legal(NULL, "paid"), 0);
    world_close(&w);
}
END_TEST

START_TEST(test_the_vendor_order_state_machine_allows_exactly_the_listed_moves_once)
{
    world_t w;
    world_open(&w, "vfsm");
    int64_t egg = add_product(&w, 0, "鸡蛋", 350, 0, 100);
    cart_line_t lines[] = {{egg, 1}};
    order_checkout_t in = co(&w, lines, 1);
    int64_t id = checkout_ok(&w, &in);
    int64_t vo = q1(&w.db, "SELECT id FROM vendor_orders WHERE order_id = ?", id);
    size_t nl = sizeof(v_legal) / sizeof(v_legal[0]), legal = 0;
    for (size_t f = 0; f < 8; f++)
        for (size_t t = 0; t < 8; t++) {
            const char *from = v_states[f], *to = v_states[t];
            int ok = listed(v_legal, nl, from, to);
            ck_assert_msg(vendor_order_move_legal(from, to) == ok, "%s → %s", from, to);
            set_status(&w, "vendor_orders", vo, from);
            int64_t events = rows_in(&w, "order_events");
            int rc = vendor_order_transition_tx(&w.db, vo, from, to, "vendor:1", "卖完了");
            if (ok) {
                legal++;
                ck_assert_msg(rc == DB_OK, "%s → %s gave %d", from, to, rc);
                ck_assert(status_is(&w, "vendor_orders", vo, to));
                ck_assert_int_eq(rows_in(&w, "order_events"), events + 1);
                ck_assert_int_eq(vendor_order_transition_tx(&w.db, vo, from, to, "vendor:1", NULL), SF_E_ORDER_CHANGED);
                ck_assert_int_eq(rows_in(&w, "order_events"), events + 1);
            } else {
                ck_assert_msg(rc == SF_E_ORDER_CHANGED, "%s → %s gave %d", from, to, rc);
                ck_assert(status_is(&w, "vendor_orders", vo, from));
                ck_assert_int_eq(rows_in(&w, "order_events"), events);
            }
        }
    ck_assert_int_eq(legal, nl);
    ck_assert_int_eq(q1(&w.db, "SELECT COUNT(*) FROM vendor_orders WHERE id = ? AND reject_reason = '卖完了'", vo), 1);
    ck_assert_int_eq(q1(&w.db,
                        "SELECT COUNT(*) FROM order_events WHERE vendor_order_id = ? AND from_status = 'new'"
                        " AND to_status = 'rejected' AND actor = 'vendor:1'",
                        vo),
                     1);
    world_close(&w);
}
END_TEST

/* ================================================================ cancel */

START_TEST(test_an_unpaid_cancel_returns_stock_exactly_once)
{
    world_t w;
    world_open(&w, "cancel");
    int64_t a = add_product(&w, 0, "菠菜", 600, 500, 1000);
    int64_t b = add_product(&w, 1, "鸡蛋", 350, 0, 10);
    cart_line_t lines[] = {{a, 250}, {b, 4}};
    order_checkout_t in = co(&w, lines, 2);
    int64_t id = checkout_ok(&w, &in);
    ck_assert_int_eq(stock_of(&w, a), 750);
    /* not due yet */
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(order_cancel_unpaid_tx(&w.db, id, "system:timeout", "timeout", 1), SF_E_NOT_DUE);
    db_rollback(&w.db);
    ck_assert_int_eq(db_exec(&w.db, "UPDATE orders SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?",
                             (db_param_t[]){DB_I64(id)}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(order_cancel_unpaid_tx(&w.db, id, "system:timeout", "timeout", 1), DB_OK);
    ck_assert_int_eq(db_commit(&w.db), DB_OK);
    ck_assert_int_eq(stock_of(&w, a), 1000);
    ck_assert_int_eq(stock_of(&w, b), 10);
    ck_assert_int_eq(q1(&w.db, "SELECT sales_qty FROM products WHERE id = ?", b), 0);
    ck_assert(status_is(&w, "orders", id, "cancelled"));
    ck_assert_int_eq(q1(&w.db,
                        "SELECT COUNT(*) FROM orders WHERE id = ? AND cancelled_at IS NOT NULL"
                        " AND cancel_reason = 'timeout'",
                        id),
                     1);
    ck_assert_int_eq(q1(&w.db, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status = 'cancelled'", id),
                     2);
    ck_assert_int_eq(q1(&w.db,
                        "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND to_status = 'cancelled'"
                        " AND actor = 'system:timeout'",
                        id),
                     3);
    ck_assert_int_eq(q1(&w.db, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.cancelled'", 0), 1);
    /* a second call changes nothing */
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(order_cancel_unpaid_tx(&w.db, id, "system:timeout", "timeout", 0), SF_E_ORDER_CHANGED);
    db_rollback(&w.db);
    ck_assert_int_eq(stock_of(&w, a), 1000);
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(order_cancel_unpaid_tx(&w.db, 424242, "system:timeout", "timeout", 0), DB_NOROW);
    db_rollback(&w.db);
    /* a paid order is not the unpaid cancel's */
    int64_t id2 = checkout_ok(&w, &in);
    set_status(&w, "orders", id2, "paid");
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(order_cancel_unpaid_tx(&w.db, id2, "system:timeout", "timeout", 0), SF_E_ORDER_CHANGED);
    db_rollback(&w.db);
    ck_assert_int_eq(stock_of(&w, a), 750);
    world_close(&w);
}
END_TEST

START_TEST(test_the_consumers_cancel_follows_the_order_state)
{
    world_t w;
    int64_t market = 0;
    world_open(&w, "ccancel");
    int64_t a = add_product(&w, 0, "鸡蛋", 350, 0, 10);
    cart_line_t lines[] = {{a, 2}};
    order_checkout_t in = co(&w, lines, 1);
    int64_t id = checkout_ok(&w, &in);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.other_user, id, &market), DB_NOROW);
    ck_assert_int_eq(stock_of(&w, a), 8);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, id, &market), DB_OK);
    ck_assert_int_eq(market, w.market);
    ck_assert_int_eq(stock_of(&w, a), 10);
    ck_assert_int_eq(q1(&w.db,
                        "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND actor = CONCAT('consumer:', "
                        "(SELECT consumer_id FROM orders WHERE id = order_events.order_id))"
                        " AND to_status = 'cancelled'",
                        id),
                     2);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, id, &market), SF_E_ALREADY_CANCELLED);
    ck_assert_int_eq(stock_of(&w, a), 10);
    int64_t paid = checkout_ok(&w, &in);
    set_status(&w, "orders", paid, "paid");
    ck_assert_int_eq(db_exec(&w.db, "UPDATE vendor_orders SET status = 'new' WHERE order_id = ?",
                             (db_param_t[]){DB_I64(paid)}, 1, NULL, NULL),
                     DB_OK);
    /* paid and no vendor accepted: cancelled, stock back (the refund is test_payment's) */
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, paid, &market), DB_OK);
    ck_assert(status_is(&w, "orders", paid, "cancelled"));
    ck_assert_int_eq(stock_of(&w, a), 10);
    paid = checkout_ok(&w, &in);
    set_status(&w, "orders", paid, "paid");
    ck_assert_int_eq(db_exec(&w.db, "UPDATE vendor_orders SET status = 'accepted' WHERE order_id = ?",
                             (db_param_t[]){DB_I64(paid)}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, paid, &market), SF_E_TOO_LATE);
    set_status(&w, "orders", paid, "delivering");
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, paid, &market), SF_E_TOO_LATE);
    ck_assert(status_is(&w, "orders", paid, "delivering"));
    ck_assert_int_eq(stock_of(&w, a), 8);
    world_close(&w);
}
END_TEST

/* ================================================================ queries */

START_TEST(test_an_order_is_found_only_by_its_consumer)
{
    world_t w;
    json_t *o = NULL;
    world_open(&w, "scope");
    int64_t a = add_product(&w, 0, "鸡蛋", 350, 0, 10);
    cart_line_t lines[] = {{a, 1}};
    order_checkout_t in = co(&w, lines, 1);
    int64_t id = checkout_ok(&w, &in);
    ck_assert_int_eq(order_render(&w.db, id, w.other_user, &o), DB_NOROW);
    ck_assert_ptr_null(o);
    ck_assert_int_eq(order_render(&w.db, id + 1000, w.user, &o), DB_NOROW);
    ck_assert_int_eq(order_render(&w.db, id, 0, &o), DB_OK); /* workers see any */
    json_decref(o);
    world_close(&w);
}
END_TEST

START_TEST(test_pages_list_the_consumers_orders_newest_first_each_once)
{
    world_t w;
    char next[ORDER_CURSOR_MAX];
    world_open(&w, "pages");
    int64_t a = add_product(&w, 0, "鸡蛋", 350, 0, 100), b = add_product(&w, 1, "鸭蛋", 100, 0, 100);
    cart_line_t lines[] = {{a, 1}, {b, 2}};
    int64_t ids[7];
    for (int i = 0; i < 7; i++) {
        order_checkout_t in = co(&w, lines, 2);
        ids[i] = checkout_ok(&w, &in);
    }
    order_checkout_t other = co(&w, lines, 2);
    other.user_id = w.other_user;
    other.address_id = add_address(&w.db, w.other_user, 0, "34.751000", "113.621000");
    checkout_ok(&w, &other);
    set_status(&w, "orders", ids[2], "cancelled");
    int64_t after = 0, key = 0;
    int seen = 0;
    for (int page = 0; page < 4; page++) {
        json_t *items = NULL;
        ck_assert_int_eq(order_list(&w.db, w.user, NULL, 3, after, &items, next, sizeof(next)), DB_OK);
        for (size_t i = 0; i < json_array_size(items); i++, seen++) {
            json_t *o = json_array_get(items, i);
            ck_assert_int_eq(jint(o, "id"), ids[6 - seen]);
            ck_assert_int_eq(json_array_size(json_object_get(o, "vendor_orders")), 2);
            ck_assert_int_eq(
                json_array_size(json_object_get(json_array_get(json_object_get(o, "vendor_orders"), 0), "lines")), 1);
        }
        json_decref(items);
        if (next[0] == '\0')
            break;
        ck_assert_int_eq(cursor_decode(next, ORDER_CURSOR_KIND, &key, &after), 0);
    }
    ck_assert_int_eq(seen, 7);
    json_t *items = NULL;
    ck_assert_int_eq(order_list(&w.db, w.user, "cancelled", 20, 0, &items, next, sizeof(next)), DB_OK);
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_int_eq(jint(json_array_get(items, 0), "id"), ids[2]);
    ck_assert_str_eq(next, "");
    json_decref(items);
    ck_assert_int_eq(cursor_decode("bm90LWEtY3Vyc29y", ORDER_CURSOR_KIND, &key, &after), -1);
    ck_assert_int_eq(order_status_valid("paid"), 1);
    ck_assert_int_eq(order_status_valid("new"), 0);
    world_close(&w);
}
END_TEST

/* ================================================================ idempotency */

START_TEST(test_idempotency_keys_are_bounded_printable_ascii)
{
    char big[200];
    memset(big, 'k', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    ck_assert_int_eq(idempotency_key_valid("a"), 1);
    ck_assert_int_eq(idempotency_key_valid("550e8400-e29b-41d4-a716-446655440000"), 1);
    ck_assert_int_eq(idempotency_key_valid(""), 0);
    ck_assert_int_eq(idempotency_key_valid(NULL), 0);
    ck_assert_int_eq(idempotency_key_valid("键"), 0);
    ck_assert_int_eq(idempotency_key_valid("a\tb"), 0);
    big[128] = '\0';
    ck_assert_int_eq(idempotency_key_valid(big), 1);
    big[128] = 'k';
    big[129] = '\0';
    ck_assert_int_eq(idempotency_key_valid(big), 0);
    /* the hash ignores key order and spacing, not values */
    char h1[IDEMPOTENCY_HASH_LEN], h2[IDEMPOTENCY_HASH_LEN], h3[IDEMPOTENCY_HASH_LEN];
    json_t *a = json_loads("{\"market_id\": 1, \"address_id\": 2}", 0, NULL);
    json_t *b = json_loads("{\"address_id\":2,\"market_id\":1}", 0, NULL);
    json_t *c = json_loads("{\"address_id\":3,\"market_id\":1}", 0, NULL);
    ck_assert_int_eq(idempotency_hash(a, h1), 0);
    ck_assert_int_eq(idempotency_hash(b, h2), 0);
    ck_assert_int_eq(idempotency_hash(c, h3), 0);
    ck_assert_str_eq(h1, h2);
    ck_assert_str_ne(h1, h3);
    ck_assert_int_eq(strlen(h1), 64);
    json_decref(a);
    json_decref(b);
    json_decref(c);
}
END_TEST

/* idempotency_begin as one number: the claim when it succeeded, minus the outcome if not. */
static int begin(db_t *db, int64_t user, const char *scope, const char *key, const char *hash, int *status, char **resp,
                 size_t *len)
{
    idempotency_answer_t ans;
    sf_status_t rc = idempotency_begin(db, user, scope, key, hash, &ans, NULL);
    *status = ans.status;
    *resp = ans.text;
    *len = ans.len;
    return rc == SF_OK ? (int)ans.claim : -(int)rc;
}

START_TEST(test_an_idempotency_key_replays_refuses_another_body_and_expires)
{
    world_t w;
    int status = 0;
    char *resp = NULL;
    size_t len = 0;
    world_open(&w, "idem");
    const char *h1 = "1111111111111111111111111111111111111111111111111111111111111111";
    const char *h2 = "2222222222222222222222222222222222222222222222222222222222222222";
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "k1", h1, &status, &resp, &len), IDEMPOTENCY_RUN);
    ck_assert_int_eq(idempotency_finish(&w.db, w.user, "checkout", "k1", 201, "{\"id\":1}", 8), DB_OK);
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "k1", h1, &status, &resp, &len), IDEMPOTENCY_REPLAY);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(len, 8);
    ck_assert_str_eq(resp, "{\"id\":1}");
    free(resp);
    resp = NULL;
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "k1", h2, &status, &resp, &len), -SF_E_IDEMPOTENCY_REUSED);
    ck_assert_ptr_null(resp);
    /* another user's, or another scope's, key is another key */
    ck_assert_int_eq(begin(&w.db, w.other_user, "checkout", "k1", h2, &status, &resp, &len), IDEMPOTENCY_RUN);
    ck_assert_int_eq(begin(&w.db, w.user, "payment", "k1", h2, &status, &resp, &len), IDEMPOTENCY_RUN);
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "", h1, &status, &resp, &len), -SF_E_IDEMPOTENCY_KEY);
    /* an aborted claim lets the next request run */
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "k2", h1, &status, &resp, &len), IDEMPOTENCY_RUN);
    ck_assert_int_eq(idempotency_abort(&w.db, w.user, "checkout", "k2"), DB_OK);
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "k2", h2, &status, &resp, &len), IDEMPOTENCY_RUN);
    /* an answer older than 24 h counts as absent */
    ck_assert_int_eq(db_exec(&w.db,
                             "UPDATE idempotency_keys SET created_at = NOW(3) - INTERVAL 25 HOUR WHERE idem_key = 'k1'"
                             " AND user_id = ?",
                             (db_param_t[]){DB_I64(w.user)}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "k1", h2, &status, &resp, &len), IDEMPOTENCY_RUN);
    world_close(&w);
}
END_TEST

START_TEST(test_a_second_request_waits_for_the_first_and_then_gives_up)
{
    world_t w;
    int status = 0;
    char *resp = NULL;
    size_t len = 0;
    world_open(&w, "idemwait");
    const char *h1 = "1111111111111111111111111111111111111111111111111111111111111111";
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "k", h1, &status, &resp, &len), IDEMPOTENCY_RUN);
    time_t t0 = time(NULL);
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "k", h1, &status, &resp, &len), -SF_E_IDEMPOTENCY_IN_PROGRESS);
    ck_assert_int_ge(time(NULL) - t0, 4);
    ck_assert_ptr_null(resp);
    world_close(&w);
}
END_TEST

/* ================================================================ what a checkout costs */

static int64_t session_count(world_t *w, const char *name)
{
    db_param_t p[] = {DB_STR(name)};
    return t_db_i64(&w->db, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = ?", p,
                    1);
}

static char *dump_answer(const json_t *doc, size_t *len)
{
    char *text = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15));
    *len = text != NULL ? strlen(text) : 0;
    return text;
}

/* The statements of POST /v1/orders with an Idempotency-Key, 3 lines from 2 stalls: the
 * claim (1), the market and address check (1), then BEGIN, the lock-and-read (1), the stock (1), the
 * order, vendor orders, lines and events (4, RETURNING what the answer needs), the outbox
 * row (1), the kept answer (1), COMMIT. Issue 11 measured 28 executions before. The answer
 * is what a read afterwards renders, byte for byte, and it is what the key replays. */
START_TEST(test_a_checkout_of_three_lines_from_two_stalls_is_ten_statements_and_answers_what_it_wrote)
{
    world_t w;
    const char *hash = "1111111111111111111111111111111111111111111111111111111111111111";
    world_open(&w, "count");
    int64_t a = add_product(&w, 0, "西红柿", 1299, 500, 5000), b = add_product(&w, 0, "土鸡蛋", 350, 0, 50);
    int64_t x = add_product(&w, 1, "白菜", 200, 500, 5000);
    cart_line_t lines[] = {{x, 500}, {a, 500}, {b, 2}};
    order_checkout_t in = co(&w, lines, 3);
    order_idem_t idem = {.scope = "checkout", .key = "count-1", .dump = dump_answer};
    int status = 0;
    char *resp = NULL, *text = NULL;
    size_t len = 0, rlen = 0;
    int64_t id = 0;
    json_t *doc = NULL;
    status_detail_t d = {0};
    int64_t e0 = session_count(&w, "COM_STMT_EXECUTE");
    int64_t probe = session_count(&w, "COM_STMT_EXECUTE") - e0; /* reading the counter itself */
    int64_t b0 = session_count(&w, "COM_BEGIN"), c0 = session_count(&w, "COM_COMMIT");
    e0 = session_count(&w, "COM_STMT_EXECUTE");
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "count-1", hash, &status, &resp, &len), IDEMPOTENCY_RUN);
    ck_assert_int_eq(order_checkout_answer(&w.db, &in, &idem, &id, &doc, &text, &len, &d), DB_OK);
    int64_t executed = session_count(&w, "COM_STMT_EXECUTE") - e0 - probe;
    ck_assert_int_eq(executed, 10);
    ck_assert_int_eq(session_count(&w, "COM_BEGIN") - b0, 1);
    ck_assert_int_eq(session_count(&w, "COM_COMMIT") - c0, 1);
    /* the answer is the order as a read renders it */
    json_t *read = render(&w, id);
    char *again = dump_answer(read, &rlen);
    ck_assert_str_eq(text, again);
    ck_assert_int_eq(len, rlen);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "vendor_orders")), 2);
    ck_assert_int_eq(jint(doc, "id"), id);
    /* the key replays exactly those bytes, and refuses another body */
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "count-1", hash, &status, &resp, &rlen), IDEMPOTENCY_REPLAY);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(rlen, len);
    ck_assert_mem_eq(resp, text, len);
    free(resp);
    resp = NULL;
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "count-1",
                           "2222222222222222222222222222222222222222222222222222222222222222", &status, &resp, &rlen),
                     -SF_E_IDEMPOTENCY_REUSED);
    /* one outbox row and three events, in the same transaction */
    ck_assert_int_eq(rows_in(&w, "outbox"), 1);
    ck_assert_int_eq(rows_in(&w, "order_events"), 3);
    ck_assert_int_eq(stock_of(&w, b), 48);
    free(again);
    free(text);
    json_decref(read);
    json_decref(doc);
    world_close(&w);
}
END_TEST

/* A refused checkout keeps nothing for the key either: the claim stays unanswered (the
 * caller settles it with the refusal). */
START_TEST(test_a_refused_checkout_keeps_no_answer_and_reserves_nothing)
{
    world_t w;
    world_open(&w, "refkey");
    int64_t a = add_product(&w, 0, "西红柿", 1299, 500, 5000), b = add_product(&w, 1, "土鸡蛋", 350, 0, 1);
    cart_line_t lines[] = {{a, 500}, {b, 2}};
    order_checkout_t in = co(&w, lines, 2);
    order_idem_t idem = {.scope = "checkout", .key = "ref-1", .dump = dump_answer};
    int status = 0;
    char *resp = NULL, *text = NULL;
    size_t len = 0;
    int64_t id = 0;
    json_t *doc = NULL;
    status_detail_t d = {0};
    ck_assert_int_eq(begin(&w.db, w.user, "checkout", "ref-1",
                           "1111111111111111111111111111111111111111111111111111111111111111", &status, &resp, &len),
                     IDEMPOTENCY_RUN);
    ck_assert_int_eq(order_checkout_answer(&w.db, &in, &idem, &id, &doc, &text, &len, &d), SF_E_OUT_OF_STOCK);
    ck_assert_ptr_null(doc);
    ck_assert_ptr_null(text);
    json_t *l = json_array_get(json_object_get(d.details, "lines"), 0);
    ck_assert_int_eq(jint(l, "product_id"), b);
    ck_assert_int_eq(jint(l, "available"), 1);
    ck_assert_int_eq(json_array_size(json_object_get(d.details, "lines")), 1);
    status_detail_clear(&d);
    ck_assert_int_eq(q1(&w.db, "SELECT COUNT(*) FROM idempotency_keys WHERE status IS NULL AND user_id = ?", w.user),
                     1);
    ck_assert_int_eq(stock_of(&w, a), 5000);
    ck_assert_int_eq(stock_of(&w, b), 1);
    assert_no_order(&w);
    world_close(&w);
}
END_TEST

/* ---------------------------------------------------------------- the derived status */

static const char *derive(const char *cur, int64_t total, int64_t fresh, int64_t ready, int64_t handed,
                          int64_t rejected, int64_t cancelled, const char *delivery)
{
    order_parts_t p = {.total = total,
                       .fresh = fresh,
                       .ready = ready,
                       .handed_over = handed,
                       .rejected = rejected,
                       .cancelled = cancelled,
                       .delivery = delivery};
    return order_derive_status(cur, &p);
}

START_TEST(test_the_order_status_follows_its_vendor_orders_and_its_delivery)
{
    /* 3 vendor orders: all new → paid; one accepted → fulfilling; */
    ck_assert_str_eq(derive("paid", 3, 3, 0, 0, 0, 0, NULL), "paid");
    ck_assert_str_eq(derive("paid", 3, 2, 0, 0, 0, 0, NULL), "fulfilling");
    ck_assert_str_eq(derive("paid", 3, 2, 0, 0, 0, 0, "offered"), "fulfilling");
    /* a rejected one does not count: the other two new → still paid; ready ones → ready */
    ck_assert_str_eq(derive("paid", 3, 2, 0, 0, 1, 0, NULL), "paid");
    ck_assert_str_eq(derive("fulfilling", 3, 0, 2, 0, 1, 0, "assigned"), "ready");
    ck_assert_str_eq(derive("fulfilling", 3, 0, 2, 0, 0, 0, "assigned"), "fulfilling");
    /* every live one handed over, or the delivery picked up → delivering; delivered */
    ck_assert_str_eq(derive("ready", 3, 0, 0, 2, 1, 0, "picked_up"), "delivering");
    ck_assert_str_eq(derive("delivering", 3, 0, 0, 2, 1, 0, "delivered"), "delivered");
    /* every vendor order gone → cancelled */
    ck_assert_str_eq(derive("paid", 2, 0, 0, 0, 2, 0, NULL), "cancelled");
    ck_assert_str_eq(derive("paid", 2, 0, 0, 0, 1, 1, NULL), "cancelled");
    /* never backwards; the states payment and cancels own are left alone */
    ck_assert_str_eq(derive("ready", 3, 3, 0, 0, 0, 0, NULL), "ready");
    ck_assert_str_eq(derive("delivered", 3, 0, 3, 0, 0, 0, NULL), "delivered");
    ck_assert_str_eq(derive("pending_payment", 2, 0, 0, 0, 0, 0, NULL), "pending_payment");
    ck_assert_str_eq(derive("cancelled", 2, 2, 0, 0, 0, 0, NULL), "cancelled");
}
END_TEST

/* Syncs in a transaction of its own; the status now. */
static void sync_now(world_t *w, int64_t id, char *status, size_t len)
{
    ck_assert_int_eq(db_begin(&w->db), DB_OK);
    ck_assert_int_eq(order_sync_status_tx(&w->db, id, "test", status, len), DB_OK);
    ck_assert_int_eq(db_commit(&w->db), DB_OK);
}

START_TEST(test_syncing_walks_the_main_path_with_an_event_for_each_step)
{
    world_t w;
    char st[ORDER_STATUS_NAME_MAX];
    world_open(&w, "sync");
    int64_t a = add_product(&w, 0, "菠菜", 600, 500, 1000);
    int64_t b = add_product(&w, 1, "鸡蛋", 350, 0, 10);
    cart_line_t lines[] = {{a, 250}, {b, 4}};
    order_checkout_t in = co(&w, lines, 2);
    int64_t id = checkout_ok(&w, &in);
    int64_t va = q1(&w.db, "SELECT MIN(id) FROM vendor_orders WHERE order_id = ?", id);
    int64_t vb = q1(&w.db, "SELECT MAX(id) FROM vendor_orders WHERE order_id = ?", id);
    /* unpaid: left alone */
    sync_now(&w, id, st, sizeof(st));
    ck_assert_str_eq(st, "pending_payment");
    set_status(&w, "orders", id, "paid");
    set_status(&w, "vendor_orders", va, "new");
    set_status(&w, "vendor_orders", vb, "new");
    sync_now(&w, id, st, sizeof(st));
    ck_assert_str_eq(st, "paid");
    ck_assert_int_eq(q1(&w.db, "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND actor = 'test'", id), 0);
    /* both ready at once (a vendor marked ready, the other rejected meanwhile): two steps */
    set_status(&w, "vendor_orders", va, "ready");
    set_status(&w, "vendor_orders", vb, "rejected");
    sync_now(&w, id, st, sizeof(st));
    ck_assert_str_eq(st, "ready");
    ck_assert(status_is(&w, "orders", id, "ready"));
    ck_assert_int_eq(q1(&w.db,
                        "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND actor = 'test'"
                        " AND vendor_order_id IS NULL AND to_status IN ('fulfilling', 'ready')",
                        id),
                     2);
    ck_assert_int_eq(q1(&w.db,
                        "SELECT COUNT(*) FROM outbox WHERE topic = 'order.ready' AND payload LIKE"
                        " CONCAT('%\"order_id\":', ?, ',%')",
                        id),
                     1);
    /* a second sync changes nothing */
    sync_now(&w, id, st, sizeof(st));
    ck_assert_int_eq(q1(&w.db, "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND actor = 'test'", id), 2);
    /* every vendor order gone: cancelled, with its outbox row */
    int64_t id2 = checkout_ok(&w, &in);
    set_status(&w, "orders", id2, "paid");
    ck_assert_int_eq(db_exec(&w.db, "UPDATE vendor_orders SET status = 'rejected' WHERE order_id = ?",
                             (db_param_t[]){DB_I64(id2)}, 1, NULL, NULL),
                     DB_OK);
    sync_now(&w, id2, st, sizeof(st));
    ck_assert_str_eq(st, "cancelled");
    ck_assert_int_eq(q1(&w.db, "SELECT COUNT(*) FROM orders WHERE id = ? AND cancel_reason = 'rejected'", id2), 1);
    ck_assert_int_eq(q1(&w.db,
                        "SELECT COUNT(*) FROM outbox WHERE topic = 'order.cancelled' AND payload LIKE"
                        " CONCAT('%\"order_id\":', ?, ',%')",
                        id2),
                     1);
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(order_sync_status_tx(&w.db, 987654321, "test", NULL, 0), DB_NOROW);
    db_rollback(&w.db);
    world_close(&w);
}
END_TEST

START_TEST(test_the_eta_is_the_pickup_plus_the_ride_and_then_the_delivery_time)
{
    world_t w;
    world_open(&w, "eta");
    int64_t a = add_product(&w, 0, "菠菜", 600, 500, 1000);
    cart_line_t lines[] = {{a, 250}};
    order_checkout_t in = co(&w, lines, 1);
    int64_t id = checkout_ok(&w, &in);
    int64_t d = t_db_insert(&w.db,
                            "INSERT INTO deliveries (market_id, order_id, status, code, assigned_at)"
                            " VALUES (?, ?, 'assigned', '0420', '2026-01-01 00:00:00')",
                            (db_param_t[]){DB_I64(w.market), DB_I64(id)}, 2);
    /* before pickup nobody knows when the stalls are done */
    json_t *o = render(&w, id);
    json_t *dl = json_object_get(o, "delivery");
    ck_assert_int_eq(jint(dl, "id"), d);
    ck_assert_str_eq(jstr(dl, "code"), "0420");
    ck_assert(json_is_null(json_object_get(dl, "eta")));
    json_decref(o);
    /* picked up: the pickup time plus the straight line at delivery.speed_kmh (15 km/h) */
    ck_assert_int_eq(db_exec(&w.db,
                             "UPDATE deliveries SET status = 'picked_up', picked_up_at = '2026-01-01 00:00:00'"
                             " WHERE id = ?",
                             (db_param_t[]){DB_I64(d)}, 1, NULL, NULL),
                     DB_OK);
    int64_t ride_s = (geo_distance_m(34.75, 113.62, 34.751, 113.621) * 3600 + 7500) / 15000; /* ~144 m: ~35 s */
    o = render(&w, id);
    const char *eta = jstr(json_object_get(o, "delivery"), "eta");
    ck_assert_ptr_nonnull(eta);
    int mm = -1, ss = -1;
    ck_assert_int_eq(sscanf(eta, "2026-01-01T08:%2d:%2d.000+08:00", &mm, &ss), 2);
    ck_assert_msg(llabs(mm * 60 + ss - ride_s) <= 1, "eta %s, ride %lld s", eta, (long long)ride_s);
    json_decref(o);
    /* delivered: when it was */
    ck_assert_int_eq(db_exec(&w.db,
                             "UPDATE deliveries SET status = 'delivered', delivered_at = '2026-01-01 00:02:03.456'"
                             " WHERE id = ?",
                             (db_param_t[]){DB_I64(d)}, 1, NULL, NULL),
                     DB_OK);
    o = render(&w, id);
    ck_assert_str_eq(jstr(json_object_get(o, "delivery"), "eta"), "2026-01-01T08:02:03.456+08:00");
    json_decref(o);
    world_close(&w);
}
END_TEST

static Suite *order_suite(void)
{
    Suite *s = suite_create("order");
    TCase *tc = tcase_create("order");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_checkout_totals_weighed_and_counted_lines_with_the_delivery_fee);
    tcase_add_test(tc, test_delivery_is_free_from_the_threshold_and_not_below_it);
    tcase_add_test(tc, test_checkout_refuses_an_empty_cart_and_bad_addresses_writing_nothing);
    tcase_add_test(tc, test_unavailable_lines_are_named_and_nothing_is_reserved);
    tcase_add_test(tc, test_a_short_line_refuses_the_whole_checkout_naming_what_is_available);
    tcase_add_test(tc, test_lines_in_any_order_give_the_same_order);
    tcase_add_test(tc, test_concurrent_checkouts_never_oversell_one_product);
    tcase_add_test(tc, test_concurrent_checkouts_of_two_products_in_opposite_orders_never_fail_on_a_deadlock);
    tcase_add_test(tc, test_the_order_state_machine_allows_exactly_the_listed_moves_once);
    tcase_add_test(tc, test_the_vendor_order_state_machine_allows_exactly_the_listed_moves_once);
    tcase_add_test(tc, test_an_unpaid_cancel_returns_stock_exactly_once);
    tcase_add_test(tc, test_the_consumers_cancel_follows_the_order_state);
    tcase_add_test(tc, test_an_order_is_found_only_by_its_consumer);
    tcase_add_test(tc, test_pages_list_the_consumers_orders_newest_first_each_once);
    tcase_add_test(tc, test_the_order_status_follows_its_vendor_orders_and_its_delivery);
    tcase_add_test(tc, test_syncing_walks_the_main_path_with_an_event_for_each_step);
    tcase_add_test(tc, test_the_eta_is_the_pickup_plus_the_ride_and_then_the_delivery_time);
    tcase_add_test(tc, test_idempotency_keys_are_bounded_printable_ascii);
    tcase_add_test(tc, test_an_idempotency_key_replays_refuses_another_body_and_expires);
    tcase_add_test(tc, test_a_second_request_waits_for_the_first_and_then_gives_up);
    tcase_add_test(tc, test_a_checkout_of_three_lines_from_two_stalls_is_ten_statements_and_answers_what_it_wrote);
    tcase_add_test(tc, test_a_refused_checkout_keeps_no_answer_and_reserves_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_order"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_torder_%d", (int)getpid());
    db_library_init();
    int failed = t_run(order_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
