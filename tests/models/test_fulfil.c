/*
 * models/fulfil.c and workers/acceptance.c against a scratch database of their own
 * (sf_tfulfil_<pid>_<tag>, swept by main) and the test Redis: orders are checked out with
 * order_checkout and paid with payment_record_paid_tx, then the vendors act. The money of a
 * pick to the fen (a lighter weighed line refunds exactly the difference, half-up rounding
 * included; heavier costs nothing; a counted line only goes down), one refund row per
 * vendor order, the stock of a pick and of a rejection, the pick's refusals that change
 * nothing, the rejection of every vendor order cancelling and refunding the order in full
 * with the delivery fee, another vendor's vendor order not found, the order's status
 * following, concurrent accept and reject of one vendor order (exactly one wins), the list
 * and its pages, and the acceptance deadlines (flag once, reject automatically once, even
 * with two sweeps at the same time). Every test checks paid − refunded = net.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/alert.h"
#include "models/base/config.h"
#include "models/base/cursor.h"
#include "models/fulfil.h"
#include "models/order.h"
#include "models/payment.h"
#include "models/store/db.h"
#include "models/store/migrate.h"
#include "models/store/redis.h"
#include "tests/support/dbtest.h"
#include "tests/support/testutil.h"
#include "workers/acceptance.h"

static char run_prefix[48];

/* ================================================================ fixtures */

/* A market with one consumer, an address near it and three stalls with their vendors. */
typedef struct world {
    config_t cfg;
    db_t db;
    redis_t redis;
    int64_t market, user, address;
    int64_t stall[3], vendor[3];
    char actor[3][FULFIL_ACTOR_MAX];
    fulfil_actor_t who[3];
} world_t;

static int64_t q1(world_t *w, const char *sql, int64_t arg)
{
    db_param_t p[] = {DB_I64(arg)};
    return t_db_i64(&w->db, sql, p, strstr(sql, "?") != NULL ? 1 : 0);
}

static void world_open(world_t *w, const char *tag)
{
    char err[512];
    memset(w, 0, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    ck_assert_msg(redis_open(&w->redis, &w->cfg) == 0, "redis: %s", w->redis.err);
    w->market =
        t_db_insert(&w->db,
                    "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
                    " VALUES ('m1', '市场', 'addr', 34.750000, 113.620000, '410103', '', '[]', '', '6-20')",
                    NULL, 0);
    w->user = t_db_insert(
        &w->db, "INSERT INTO users (role, wechat_openid, display_name) VALUES ('consumer', 'u1', 'c')", NULL, 0);
    w->address = t_db_insert(&w->db,
                             "INSERT INTO addresses (user_id, name, phone, text, lat, lng)"
                             " VALUES (?, '王五', '13800000000', '郑州市二七区', 34.751000, 113.621000)",
                             (db_param_t[]){DB_I64(w->user)}, 1);
    for (int i = 0; i < 3; i++) {
        char no[16];
        snprintf(no, sizeof(no), "A-%02d", i + 1);
        w->vendor[i] = t_db_insert(&w->db,
                                   "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                                   " VALUES (?, '李四', '13900000000', '蔬菜', 'A')",
                                   (db_param_t[]){DB_I64(w->market)}, 1);
        w->stall[i] = t_db_insert(
            &w->db,
            "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'z', 1, 1, ?)",
            (db_param_t[]){DB_I64(w->market), DB_STR(no), DB_I64(w->vendor[i])}, 3);
        snprintf(w->actor[i], sizeof(w->actor[i]), "vendor:%lld", (long long)w->vendor[i]);
        w->who[i] = (fulfil_actor_t){.market_id = w->market, .vendor_id = w->vendor[i], .name = w->actor[i]};
    }
}

static void world_close(world_t *w)
{
    redis_close(&w->redis);
    t_db_scratch_close(&w->db, &w->cfg);
}

/* A weighed product (price per per_g grams) or, with per_g 0, a counted one, of stall s. */
static int64_t product(world_t *w, int s, const char *name, int64_t price, int64_t per_g, int64_t stock)
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

/* Checks these lines out (delivery 500 fen, free from 50000) and pays the order in full. */
static int64_t place_paid(world_t *w, const cart_line_t *lines, size_t n, int pay)
{
    int64_t id = 0;
    status_detail_t d = {0};
    order_checkout_t in = {.user_id = w->user,
                           .market_id = w->market,
                           .address_id = w->address,
                           .note = "请放门口",
                           .lines = lines,
                           .nlines = n,
                           .delivery_fee_fen = 500,
                           .free_delivery_from_fen = 50000,
                           .radius_m = 5000,
                           .unpaid_timeout_s = 900};
    int rc = order_checkout(&w->db, &in, &id, &d);
    ck_assert_msg(rc == DB_OK, "checkout gave %d: %s", rc, w->db.err);
    if (!pay)
        return id;
    pay_attempt_t a;
    pay_outcome_t out = 0;
    char txid[48];
    ck_assert_int_eq(payment_create(&w->db, w->user, id, PAY_WECHAT, &a), DB_OK);
    snprintf(txid, sizeof(txid), "4200%lld", (long long)id);
    pay_paid_t paid = {
        .provider = PAY_WECHAT, .out_trade_no = a.out_trade_no, .transaction_id = txid, .amount_fen = a.amount_fen};
    ck_assert_int_eq(db_begin(&w->db), DB_OK);
    ck_assert_int_eq(payment_record_paid_tx(&w->db, &paid, &out), DB_OK);
    ck_assert_int_eq(db_commit(&w->db), DB_OK);
    ck_assert_int_eq(out, PAY_RECORDED);
    return id;
}

/* The vendor order of stall s in the order. */
static int64_t vo_of(world_t *w, int64_t order, int s)
{
    return t_db_i64(&w->db, "SELECT id FROM vendor_orders WHERE order_id = ? AND stall_id = ?",
                    (db_param_t[]){DB_I64(order), DB_I64(w->stall[s])}, 2);
}

/* The order line of a product in the order. */
static int64_t line_of(world_t *w, int64_t order, int64_t product_id)
{
    return t_db_i64(&w->db, "SELECT id FROM order_lines WHERE order_id = ? AND product_id = ?",
                    (db_param_t[]){DB_I64(order), DB_I64(product_id)}, 2);
}

static int status_is(world_t *w, const char *table, int64_t id, const char *status)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT status = ? FROM %s WHERE id = ?", table);
    return t_db_i64(&w->db, sql, (db_param_t[]){DB_STR(status), DB_I64(id)}, 2) == 1;
}

static int64_t stock_of(world_t *w, int64_t product_id)
{
    return q1(w, "SELECT stock FROM products WHERE id = ?", product_id);
}

/* Σ paid − Σ refunded = net, from the rows and on the order alike; refunded <= paid. */
static void assert_balance(world_t *w, int64_t order, int64_t want_paid, int64_t want_refunded)
{
    int64_t paid = -1, refunded = -1;
    ck_assert_int_eq(payment_balance(&w->db, order, &paid, &refunded), DB_OK);
    ck_assert_int_eq(paid, want_paid);
    ck_assert_int_eq(refunded, want_refunded);
    ck_assert_int_eq(q1(w, "SELECT paid_fen FROM orders WHERE id = ?", order), paid);
    ck_assert_int_eq(q1(w, "SELECT refunded_fen FROM orders WHERE id = ?", order), refunded);
    ck_assert_int_le(refunded, paid);
    ck_assert_int_eq(q1(w, "SELECT COUNT(*) FROM refunds WHERE order_id = ? AND amount_fen <= 0", order), 0);
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

/* The line of a rendered vendor order with this id. */
static const json_t *jline(const json_t *vo, int64_t line_id)
{
    const json_t *l;
    size_t i;
    json_array_foreach(json_object_get(vo, "lines"), i, l) if (jint(l, "id") == line_id) return l;
    ck_abort_msg("line %lld not in the vendor order", (long long)line_id);
    return NULL;
}

static void accept_ok(world_t *w, int s, int64_t vo)
{
    fulfil_result_t res;
    int rc = fulfil_accept(&w->db, &w->who[s], vo, &res, NULL);
    ck_assert_msg(rc == DB_OK, "accept gave %d: %s", rc, w->db.err);
}

/* ================================================================ pick: the money */

START_TEST(test_a_pick_refunds_exactly_the_lighter_and_fewer_difference_and_never_charges_more)
{
    world_t w;
    world_open(&w, "pickmoney");
    int64_t w1 = product(&w, 0, "西红柿", 1299, 500, 5000); /* 1299 fen per 500 g */
    int64_t w2 = product(&w, 0, "土豆", 880, 1000, 1000);   /* 880 fen per kg */
    int64_t c1 = product(&w, 0, "土鸡蛋", 350, 0, 10);      /* 350 fen a piece */
    int64_t c2 = product(&w, 0, "豆腐", 250, 0, 10);
    /* 750 g at 1299/500 g = 1948.5 → 1949 (half up); 600 g at 880/kg = 528; 3 × 350; 2 × 250 */
    cart_line_t lines[] = {{w1, 750}, {w2, 600}, {c1, 3}, {c2, 2}};
    int64_t order = place_paid(&w, lines, 4, 1);
    int64_t vo = vo_of(&w, order, 0);
    ck_assert_int_eq(q1(&w, "SELECT items_fen FROM vendor_orders WHERE id = ?", vo), 1949 + 528 + 1050 + 500);
    int64_t paid = 1949 + 528 + 1050 + 500 + 500;
    assert_balance(&w, order, paid, 0);
    accept_ok(&w, 0, vo);
    ck_assert(status_is(&w, "orders", order, "fulfilling"));
    /* 250 g: 649.5 → 650 (half up), refund 1299; 700 g of potatoes: heavier, still 528;
     * 2 eggs of 3: refund 350; the tofu exactly */
    fulfil_pick_line_t pick[] = {{line_of(&w, order, c2), 2},
                                 {line_of(&w, order, w1), 250},
                                 {line_of(&w, order, c1), 2},
                                 {line_of(&w, order, w2), 700}};
    fulfil_result_t res;
    json_t *doc = NULL;
    status_detail_t d = {0};
    int rc = fulfil_pick(&w.db, &w.who[0], vo, pick, 4, &res, &doc, &d);
    ck_assert_msg(rc == DB_OK, "pick gave %d: %s", rc, w.db.err);
    ck_assert_int_eq(res.refund_fen, 1299 + 350);
    ck_assert_int_eq(res.order_id, order);
    ck_assert(res.stock_moved);
    ck_assert_str_eq(jstr(doc, "status"), "picked");
    ck_assert_int_eq(jint(doc, "refund_fen"), 1649);
    ck_assert_int_eq(jint(doc, "items_fen"), 4027);
    ck_assert_int_eq(jint(doc, "items_actual_fen"), 650 + 528 + 700 + 500);
    const json_t *l = jline(doc, line_of(&w, order, w1));
    ck_assert_int_eq(jint(l, "qty"), 750);
    ck_assert_int_eq(jint(l, "qty_actual"), 250);
    ck_assert_int_eq(jint(l, "amount_fen"), 1949);
    ck_assert_int_eq(jint(l, "amount_actual_fen"), 650);
    l = jline(doc, line_of(&w, order, w2));
    ck_assert_int_eq(jint(l, "qty_actual"), 700); /* recorded as weighed */
    ck_assert_int_eq(jint(l, "amount_actual_fen"), 528);
    ck_assert_int_eq(jint(jline(doc, line_of(&w, order, c1)), "amount_actual_fen"), 700);
    ck_assert_int_eq(jint(jline(doc, line_of(&w, order, c2)), "amount_actual_fen"), 500);
    json_decref(doc);
    /* one refund row for the vendor order's whole difference, naming it */
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 1);
    ck_assert_int_eq(q1(&w, "SELECT amount_fen FROM refunds WHERE vendor_order_id = ?", vo), 1649);
    ck_assert_int_eq(t_db_i64(&w.db,
                              "SELECT reason = 'weight_difference' AND status = 'pending' FROM refunds"
                              " WHERE vendor_order_id = ?",
                              (db_param_t[]){DB_I64(vo)}, 1),
                     1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'refund.requested'", 0), 1);
    assert_balance(&w, order, paid, 1649);
    /* stock: the part not sold back, the heavier part taken */
    ck_assert_int_eq(stock_of(&w, w1), 5000 - 750 + 500);
    ck_assert_int_eq(stock_of(&w, w2), 1000 - 600 - 100);
    ck_assert_int_eq(stock_of(&w, c1), 10 - 3 + 1);
    ck_assert_int_eq(stock_of(&w, c2), 10 - 2);
    ck_assert_int_eq(q1(&w, "SELECT sales_qty FROM products WHERE id = ?", w1), 250);
    ck_assert_int_eq(q1(&w, "SELECT sales_qty FROM products WHERE id = ?", w2), 700);
    /* one pick per vendor order */
    rc = fulfil_pick(&w.db, &w.who[0], vo, pick, 4, &res, NULL, &d);
    ck_assert_int_eq(rc, SF_E_VENDOR_ORDER_STATE);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 1);
    ck_assert_int_eq(stock_of(&w, w1), 4750);
    /* ready; the only vendor order ready makes the order ready (and tells dispatch) */
    ck_assert_int_eq(fulfil_ready(&w.db, &w.who[0], vo, &res, &doc), DB_OK);
    ck_assert_str_eq(jstr(doc, "status"), "ready");
    ck_assert_str_eq(res.order_status, "ready");
    json_decref(doc);
    ck_assert(status_is(&w, "orders", order, "ready"));
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.ready'", 0), 1);
    ck_assert_int_eq(fulfil_ready(&w.db, &w.who[0], vo, &res, NULL), SF_E_VENDOR_ORDER_STATE);
    /* every move has its event row */
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM order_events WHERE vendor_order_id = ? AND actor = CONCAT('vendor:',"
                        " (SELECT vendor_id FROM vendor_orders WHERE id = order_events.vendor_order_id))",
                        vo),
                     3);
    assert_balance(&w, order, paid, 1649);
    world_close(&w);
}
END_TEST

/* Rounding cases of a lighter weighed line: the refund is the agreed amount less the amount
 * of what was weighed, each rounded half up, never negative, never more than the line. */
START_TEST(test_weighed_refunds_round_half_up_to_the_fen)
{
    static const struct {
        int64_t price, per_g, qty, actual, amount, amount_actual;
    } cases[] = {
        {1299, 500, 750, 733, 1949, 1904}, /* 1948.5 → 1949; 1904.334 → 1904 */
        {1299, 500, 750, 1, 1949, 3},      /* 2.598 → 3 */
        {1299, 500, 750, 0, 1949, 0},      /* nothing there at all: everything back */
        {999, 1000, 501, 500, 500, 500},   /* 500.499 → 500; 499.5 → 500: no refund */
        {3, 500, 100, 83, 1, 0},           /* 0.6 → 1; 0.498 → 0 */
        {1, 1000, 500, 499, 1, 0},         /* 0.5 → 1 exactly half; 0.499 → 0 */
        {1299, 500, 750, 751, 1949, 1949}, /* one gram heavier: the same */
    };
    world_t w;
    world_open(&w, "rounding");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int64_t p = product(&w, 1, "称重", cases[i].price, cases[i].per_g, 100000);
        cart_line_t lines[] = {{p, cases[i].qty}};
        int64_t order = place_paid(&w, lines, 1, 1);
        int64_t vo = vo_of(&w, order, 1);
        int64_t line = line_of(&w, order, p);
        ck_assert_int_eq(q1(&w, "SELECT amount_fen FROM order_lines WHERE id = ?", line), cases[i].amount);
        accept_ok(&w, 1, vo);
        fulfil_pick_line_t pick[] = {{line, cases[i].actual}};
        fulfil_result_t res;
        if (cases[i].actual == 0) { /* nothing picked at all: refused, nothing written (reject instead) */
            status_detail_t d = {0};
            ck_assert_int_eq(fulfil_pick(&w.db, &w.who[1], vo, pick, 1, &res, NULL, &d), SF_E_INVALID);
            ck_assert_str_eq(d.field, "lines");
            ck_assert(status_is(&w, "vendor_orders", vo, "accepted"));
            ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 0);
            ck_assert_int_eq(q1(&w, "SELECT qty_actual IS NULL FROM order_lines WHERE id = ?", line), 1);
            continue;
        }
        ck_assert_int_eq(fulfil_pick(&w.db, &w.who[1], vo, pick, 1, &res, NULL, NULL), DB_OK);
        int64_t back = cases[i].amount - cases[i].amount_actual;
        ck_assert_msg(res.refund_fen == back, "case %zu: refund %lld, want %lld", i, (long long)res.refund_fen,
                      (long long)back);
        ck_assert_int_eq(q1(&w, "SELECT amount_actual_fen FROM order_lines WHERE id = ?", line),
                         cases[i].amount_actual);
        ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), back > 0 ? 1 : 0);
        ck_assert_int_eq(q1(&w, "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE vendor_order_id = ?", vo),
                         back);
        assert_balance(&w, order, cases[i].amount + 500, back);
    }
    world_close(&w);
}
END_TEST

START_TEST(test_a_heavier_pick_never_takes_stock_below_zero)
{
    world_t w;
    world_open(&w, "heavier");
    int64_t p = product(&w, 0, "土豆", 880, 1000, 600);
    cart_line_t lines[] = {{p, 600}};
    int64_t order = place_paid(&w, lines, 1, 1);
    int64_t vo = vo_of(&w, order, 0);
    ck_assert_int_eq(stock_of(&w, p), 0);
    accept_ok(&w, 0, vo);
    fulfil_pick_line_t pick[] = {{line_of(&w, order, p), 900}};
    fulfil_result_t res;
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, pick, 1, &res, NULL, NULL), DB_OK);
    ck_assert_int_eq(res.refund_fen, 0);
    ck_assert_int_eq(stock_of(&w, p), 0);
    ck_assert_int_eq(q1(&w, "SELECT sales_qty FROM products WHERE id = ?", p), 600);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 0);
    assert_balance(&w, order, 528 + 500, 0);
    world_close(&w);
}
END_TEST

/* ================================================================ pick: refusals */

/* Nothing of a refused pick is kept. */
static void assert_unpicked(world_t *w, int64_t order, int64_t vo, int64_t stock_p, int64_t p)
{
    ck_assert(status_is(w, "vendor_orders", vo, "accepted"));
    ck_assert_int_eq(q1(w, "SELECT COUNT(*) FROM order_lines WHERE vendor_order_id = ? AND qty_actual IS NOT NULL", vo),
                     0);
    ck_assert_int_eq(q1(w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 0);
    ck_assert_int_eq(stock_of(w, p), stock_p);
}

static void assert_ids(const json_t *details, const char *key, int64_t want)
{
    const json_t *a = json_object_get(details, key);
    ck_assert_msg(json_is_array(a), "details.%s is not an array", key);
    if (want == 0) {
        ck_assert_int_eq(json_array_size(a), 0);
        return;
    }
    ck_assert_int_eq(json_array_size(a), 1);
    ck_assert_int_eq(json_integer_value(json_array_get(a, 0)), want);
}

START_TEST(test_a_pick_must_name_each_line_of_the_vendor_order_once_and_count_only_down)
{
    world_t w;
    fulfil_result_t res;
    status_detail_t d = {0};
    world_open(&w, "pickbad");
    int64_t a = product(&w, 0, "西红柿", 1299, 500, 5000);
    int64_t b = product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t x = product(&w, 1, "白菜", 200, 500, 5000);
    cart_line_t lines[] = {{a, 500}, {b, 2}, {x, 500}};
    int64_t order = place_paid(&w, lines, 3, 1);
    int64_t vo = vo_of(&w, order, 0);
    int64_t la = line_of(&w, order, a), lb = line_of(&w, order, b), lx = line_of(&w, order, x);
    /* not accepted yet */
    fulfil_pick_line_t ok[] = {{la, 500}, {lb, 2}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, ok, 2, &res, NULL, &d), SF_E_VENDOR_ORDER_STATE);
    accept_ok(&w, 0, vo);
    /* a line missing */
    fulfil_pick_line_t missing[] = {{la, 500}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, missing, 1, &res, NULL, &d), SF_E_PICK_LINES);
    ck_assert_str_eq(d.field, "lines");
    assert_ids(d.details, "missing", lb);
    assert_ids(d.details, "duplicate", 0);
    assert_ids(d.details, "unknown", 0);
    status_detail_clear(&d);
    assert_unpicked(&w, order, vo, 4500, a);
    /* a line twice */
    fulfil_pick_line_t twice[] = {{la, 500}, {lb, 2}, {la, 400}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, twice, 3, &res, NULL, &d), SF_E_PICK_LINES);
    assert_ids(d.details, "duplicate", la);
    assert_ids(d.details, "missing", 0);
    status_detail_clear(&d);
    assert_unpicked(&w, order, vo, 4500, a);
    /* a line of another vendor order (another stall's), and an id that is no line at all */
    fulfil_pick_line_t foreign[] = {{la, 500}, {lb, 2}, {lx, 500}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, foreign, 3, &res, NULL, &d), SF_E_PICK_LINES);
    assert_ids(d.details, "unknown", lx);
    status_detail_clear(&d);
    fulfil_pick_line_t unknown[] = {{la, 500}, {lx + 1000, 2}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, unknown, 2, &res, NULL, &d), SF_E_PICK_LINES);
    assert_ids(d.details, "unknown", lx + 1000);
    assert_ids(d.details, "missing", lb);
    status_detail_clear(&d);
    assert_unpicked(&w, order, vo, 4500, a);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_lines WHERE id = ? AND qty_actual IS NULL", lx), 1);
    /* a counted line picked up: refused, naming the line in the body */
    fulfil_pick_line_t more[] = {{la, 500}, {lb, 3}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, more, 2, &res, NULL, &d), SF_E_PICK_MORE);
    ck_assert_str_eq(d.field, "lines[1].qty_actual");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(d.details, "line_ids"), 0)), lb);
    status_detail_clear(&d);
    assert_unpicked(&w, order, vo, 4500, a);
    /* out of range: refused before anything is read */
    fulfil_pick_line_t neg[] = {{la, -1}, {lb, 2}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, neg, 2, &res, NULL, &d), SF_E_INVALID);
    fulfil_pick_line_t huge[] = {{la, FULFIL_QTY_MAX + 1}, {lb, 2}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, huge, 2, &res, NULL, &d), SF_E_INVALID);
    assert_unpicked(&w, order, vo, 4500, a);
    /* the biggest weight there may be: heavier, costs nothing, stock not below 0 */
    fulfil_pick_line_t max[] = {{la, FULFIL_QTY_MAX}, {lb, 0}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], vo, max, 2, &res, NULL, &d), DB_OK);
    ck_assert_int_eq(res.refund_fen, 700);
    ck_assert_int_eq(stock_of(&w, a), 0);
    ck_assert_int_eq(stock_of(&w, b), 10);
    assert_balance(&w, order, 1299 + 700 + 200 + 500, 700);
    world_close(&w);
}
END_TEST

/* ================================================================ reject */

START_TEST(test_rejecting_returns_stock_and_refunds_and_the_last_cancels_the_order_in_full)
{
    world_t w;
    fulfil_result_t res;
    json_t *doc = NULL;
    world_open(&w, "reject");
    int64_t a = product(&w, 0, "西红柿", 1299, 500, 5000);
    int64_t b = product(&w, 1, "土鸡蛋", 350, 0, 10);
    cart_line_t lines[] = {{a, 750}, {b, 3}};
    int64_t order = place_paid(&w, lines, 2, 1);
    int64_t paid = 1949 + 1050 + 500;
    int64_t va = vo_of(&w, order, 0), vb = vo_of(&w, order, 1);
    ck_assert_int_eq(stock_of(&w, a), 4250);
    ck_assert_int_eq(fulfil_reject(&w.db, &w.who[0], va, "卖完了", &res, &doc), DB_OK);
    ck_assert_str_eq(jstr(doc, "status"), "rejected");
    ck_assert_str_eq(jstr(doc, "reject_reason"), "卖完了");
    ck_assert_int_eq(jint(doc, "refund_fen"), 1949);
    json_decref(doc);
    ck_assert_int_eq(res.refund_fen, 1949);
    ck_assert_str_eq(res.order_status, "paid");
    ck_assert_int_eq(stock_of(&w, a), 5000);
    ck_assert_int_eq(q1(&w, "SELECT sales_qty FROM products WHERE id = ?", a), 0);
    ck_assert_int_eq(stock_of(&w, b), 7);
    ck_assert_int_eq(t_db_i64(&w.db,
                              "SELECT COUNT(*) FROM refunds WHERE vendor_order_id = ? AND reason = 'rejected'"
                              " AND amount_fen = 1949",
                              (db_param_t[]){DB_I64(va)}, 1),
                     1);
    assert_balance(&w, order, paid, 1949);
    ck_assert(status_is(&w, "orders", order, "paid"));
    /* twice: refused, nothing more refunded */
    ck_assert_int_eq(fulfil_reject(&w.db, &w.who[0], va, "again", &res, NULL), SF_E_VENDOR_ORDER_STATE);
    ck_assert_int_eq(fulfil_accept(&w.db, &w.who[0], va, &res, NULL), SF_E_VENDOR_ORDER_STATE);
    assert_balance(&w, order, paid, 1949);
    ck_assert_int_eq(stock_of(&w, a), 5000);
    /* the last live vendor order rejected: the order is cancelled and refunded in full,
     * delivery fee included */
    ck_assert_int_eq(fulfil_reject(&w.db, &w.who[1], vb, "关门了", &res, NULL), DB_OK);
    ck_assert_str_eq(res.order_status, "cancelled");
    ck_assert_int_eq(res.refund_fen, 1050 + 500);
    ck_assert(status_is(&w, "orders", order, "cancelled"));
    ck_assert_int_eq(stock_of(&w, b), 10);
    ck_assert_int_eq(q1(&w, "SELECT amount_fen FROM refunds WHERE vendor_order_id = ?", vb), 1050);
    ck_assert_int_eq(
        q1(&w, "SELECT amount_fen FROM refunds WHERE order_id = ? AND vendor_order_id IS NULL AND reason = 'rejected'",
           order),
        500);
    assert_balance(&w, order, paid, paid);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.cancelled'", 0), 1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'refund.requested'", 0), 3);
    ck_assert_int_eq(
        t_db_i64(&w.db, "SELECT cancel_reason = 'rejected' FROM orders WHERE id = ?", (db_param_t[]){DB_I64(order)}, 1),
        1);
    world_close(&w);
}
END_TEST

START_TEST(test_an_accepted_order_cannot_be_rejected_and_an_unpaid_one_cannot_be_touched)
{
    world_t w;
    fulfil_result_t res;
    world_open(&w, "states");
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    cart_line_t lines[] = {{a, 2}};
    int64_t unpaid = place_paid(&w, lines, 1, 0);
    int64_t vu = vo_of(&w, unpaid, 0);
    ck_assert_int_eq(fulfil_accept(&w.db, &w.who[0], vu, &res, NULL), SF_E_VENDOR_ORDER_STATE);
    ck_assert_int_eq(fulfil_reject(&w.db, &w.who[0], vu, "no", &res, NULL), SF_E_VENDOR_ORDER_STATE);
    ck_assert(status_is(&w, "vendor_orders", vu, "pending_payment"));
    ck_assert_int_eq(stock_of(&w, a), 8);
    int64_t order = place_paid(&w, lines, 1, 1);
    int64_t vo = vo_of(&w, order, 0);
    ck_assert_int_eq(fulfil_ready(&w.db, &w.who[0], vo, &res, NULL), SF_E_VENDOR_ORDER_STATE);
    accept_ok(&w, 0, vo);
    ck_assert_int_eq(fulfil_accept(&w.db, &w.who[0], vo, &res, NULL), SF_E_VENDOR_ORDER_STATE);
    ck_assert_int_eq(fulfil_reject(&w.db, &w.who[0], vo, "no", &res, NULL), SF_E_VENDOR_ORDER_STATE);
    ck_assert_int_eq(fulfil_ready(&w.db, &w.who[0], vo, &res, NULL), SF_E_VENDOR_ORDER_STATE);
    ck_assert(status_is(&w, "vendor_orders", vo, "accepted"));
    ck_assert_int_eq(stock_of(&w, a), 6);
    assert_balance(&w, order, 700 + 500, 0);
    world_close(&w);
}
END_TEST

/* ================================================================ scope */

START_TEST(test_another_vendors_vendor_order_is_not_found_and_nothing_changes)
{
    world_t w;
    fulfil_result_t res;
    json_t *doc = NULL;
    world_open(&w, "scope");
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    cart_line_t lines[] = {{a, 2}};
    int64_t order = place_paid(&w, lines, 1, 1);
    int64_t vo = vo_of(&w, order, 0);
    int64_t line = line_of(&w, order, a);
    fulfil_pick_line_t pick[] = {{line, 1}};
    fulfil_actor_t wrong_market = w.who[0];
    wrong_market.market_id = w.market + 1;
    const fulfil_actor_t *others[] = {&w.who[1], &wrong_market};
    for (size_t i = 0; i < 2; i++) {
        ck_assert_int_eq(fulfil_accept(&w.db, others[i], vo, &res, &doc), SF_E_NOT_FOUND);
        ck_assert_ptr_null(doc);
        ck_assert_int_eq(fulfil_reject(&w.db, others[i], vo, "no", &res, NULL), SF_E_NOT_FOUND);
        ck_assert_int_eq(fulfil_ready(&w.db, others[i], vo, &res, NULL), SF_E_NOT_FOUND);
        ck_assert_int_eq(fulfil_render(&w.db, others[i]->market_id, others[i]->vendor_id, vo, &doc), DB_NOROW);
    }
    ck_assert_int_eq(fulfil_accept(&w.db, &w.who[0], vo + 1000, &res, NULL), SF_E_NOT_FOUND);
    ck_assert(status_is(&w, "vendor_orders", vo, "new"));
    accept_ok(&w, 0, vo);
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[1], vo, pick, 1, &res, NULL, NULL), SF_E_NOT_FOUND);
    ck_assert(status_is(&w, "vendor_orders", vo, "accepted"));
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_events WHERE vendor_order_id = ?", vo), 3);
    ck_assert_int_eq(stock_of(&w, a), 8);
    assert_balance(&w, order, 1200, 0);
    /* the other vendor's list does not show it */
    json_t *items = NULL;
    char next[CURSOR_MAX];
    ck_assert_int_eq(fulfil_list(&w.db, w.market, w.vendor[1], NULL, 20, 0, &items, next, sizeof(next)), DB_OK);
    ck_assert_int_eq(json_array_size(items), 0);
    json_decref(items);
    world_close(&w);
}
END_TEST

/* ================================================================ the order follows */

START_TEST(test_the_order_follows_its_vendor_orders_to_ready)
{
    world_t w;
    fulfil_result_t res;
    world_open(&w, "follow");
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t b = product(&w, 1, "豆腐", 250, 0, 10);
    int64_t c = product(&w, 2, "白菜", 200, 0, 10);
    cart_line_t lines[] = {{a, 1}, {b, 1}, {c, 1}};
    int64_t order = place_paid(&w, lines, 3, 1);
    int64_t va = vo_of(&w, order, 0), vb = vo_of(&w, order, 1), vc = vo_of(&w, order, 2);
    ck_assert(status_is(&w, "orders", order, "paid"));
    ck_assert_int_eq(fulfil_reject(&w.db, &w.who[2], vc, "没货", &res, NULL), DB_OK);
    ck_assert_str_eq(res.order_status, "paid");
    accept_ok(&w, 0, va);
    ck_assert(status_is(&w, "orders", order, "fulfilling"));
    fulfil_pick_line_t pa[] = {{line_of(&w, order, a), 1}}, pb[] = {{line_of(&w, order, b), 1}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], va, pa, 1, &res, NULL, NULL), DB_OK);
    ck_assert_int_eq(fulfil_ready(&w.db, &w.who[0], va, &res, NULL), DB_OK);
    ck_assert_str_eq(res.order_status, "fulfilling");
    accept_ok(&w, 1, vb);
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[1], vb, pb, 1, &res, NULL, NULL), DB_OK);
    ck_assert_int_eq(fulfil_ready(&w.db, &w.who[1], vb, &res, NULL), DB_OK);
    ck_assert_str_eq(res.order_status, "ready");
    ck_assert(status_is(&w, "orders", order, "ready"));
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.ready'", 0), 1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND vendor_order_id IS NULL", order),
                     4);
    assert_balance(&w, order, 350 + 250 + 200 + 500, 200);
    world_close(&w);
}
END_TEST

/* ================================================================ concurrency */

typedef struct racer {
    world_t *w;
    int s, reject;
    int64_t vo;
    int rc;
    pthread_barrier_t *go;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    db_t db;
    fulfil_result_t res;
    r->rc = -1;
    if (db_open(&db, &r->w->cfg) != DB_OK)
        return NULL;
    pthread_barrier_wait(r->go);
    r->rc = r->reject ? fulfil_reject(&db, &r->w->who[r->s], r->vo, "太忙", &res, NULL)
                      : fulfil_accept(&db, &r->w->who[r->s], r->vo, &res, NULL);
    db_close(&db);
    db_thread_end();
    return NULL;
}

START_TEST(test_concurrent_accept_and_reject_of_one_vendor_order_exactly_one_wins)
{
    world_t w;
    world_open(&w, "race");
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 1000);
    int64_t b = product(&w, 1, "豆腐", 250, 0, 1000);
    cart_line_t lines[] = {{a, 1}, {b, 1}};
    int accepted = 0, rejected = 0;
    for (int round = 0; round < 12; round++) {
        int64_t order = place_paid(&w, lines, 2, 1);
        int64_t vo = vo_of(&w, order, 0);
        pthread_barrier_t go;
        pthread_t t[2];
        pthread_barrier_init(&go, NULL, 2);
        racer_t r[2] = {{.w = &w, .s = 0, .reject = round % 2, .vo = vo, .go = &go},
                        {.w = &w, .s = 0, .reject = !(round % 2), .vo = vo, .go = &go}};
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, race, &r[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        int wins = (r[0].rc == DB_OK) + (r[1].rc == DB_OK);
        ck_assert_msg(wins == 1, "round %d: %d winners (%d, %d)", round, wins, r[0].rc, r[1].rc);
        for (int i = 0; i < 2; i++)
            ck_assert_msg(r[i].rc == DB_OK || r[i].rc == SF_E_VENDOR_ORDER_STATE, "round %d: %d", round, r[i].rc);
        int rej = (r[0].rc == DB_OK && r[0].reject) || (r[1].rc == DB_OK && r[1].reject);
        rejected += rej;
        accepted += !rej;
        ck_assert(status_is(&w, "vendor_orders", vo, rej ? "rejected" : "accepted"));
        ck_assert(status_is(&w, "orders", order, rej ? "paid" : "fulfilling"));
        ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), rej);
        ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_events WHERE vendor_order_id = ?", vo), 3);
        assert_balance(&w, order, 350 + 250 + 500, rej ? 350 : 0);
    }
    ck_assert_int_eq(accepted + rejected, 12);
    ck_assert_int_eq(stock_of(&w, a), 1000 - accepted);
    world_close(&w);
}
END_TEST

/* ================================================================ the list */

START_TEST(test_the_list_shows_the_vendors_paid_orders_oldest_first_in_pages)
{
    world_t w;
    json_t *items = NULL;
    char next[CURSOR_MAX];
    int64_t key = 0, after = 0;
    world_open(&w, "list");
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 100);
    int64_t b = product(&w, 1, "豆腐", 250, 0, 100);
    cart_line_t lines[] = {{a, 1}, {b, 2}};
    int64_t o[4];
    for (int i = 0; i < 4; i++)
        o[i] = place_paid(&w, lines, 2, i != 2); /* the third is never paid */
    accept_ok(&w, 0, vo_of(&w, o[1], 0));
    ck_assert_int_eq(fulfil_list(&w.db, w.market, w.vendor[0], NULL, 2, 0, &items, next, sizeof(next)), DB_OK);
    ck_assert_int_eq(json_array_size(items), 2);
    const json_t *first = json_array_get(items, 0);
    ck_assert_int_eq(jint(first, "id"), vo_of(&w, o[0], 0));
    ck_assert_int_eq(jint(first, "order_id"), o[0]);
    ck_assert_int_eq(jint(first, "stall_id"), w.stall[0]);
    ck_assert_str_eq(jstr(first, "status"), "new");
    ck_assert_str_eq(jstr(first, "note"), "请放门口");
    ck_assert_int_eq(jint(first, "items_fen"), 350);
    ck_assert_int_eq(jint(first, "refund_fen"), 0);
    ck_assert(json_is_null(json_object_get(first, "items_actual_fen")));
    ck_assert(json_is_null(json_object_get(first, "delivery_status")));
    ck_assert(json_is_null(json_object_get(first, "reject_reason")));
    ck_assert(json_is_string(json_object_get(first, "new_at")));
    ck_assert(json_is_string(json_object_get(first, "order_no")));
    ck_assert_ptr_null(json_object_get(first, "address"));
    ck_assert_int_eq(json_array_size(json_object_get(first, "lines")), 1);
    ck_assert_int_eq(jint(json_array_get(json_object_get(first, "lines"), 0), "product_id"), a);
    ck_assert_str_eq(jstr(json_array_get(items, 1), "status"), "accepted");
    ck_assert(next[0] != '\0');
    ck_assert_int_eq(cursor_decode(next, FULFIL_CURSOR_KIND, &key, &after), 0);
    json_decref(items);
    ck_assert_int_eq(fulfil_list(&w.db, w.market, w.vendor[0], NULL, 2, after, &items, next, sizeof(next)), DB_OK);
    ck_assert_int_eq(json_array_size(items), 1); /* the unpaid one is not there */
    ck_assert_int_eq(jint(json_array_get(items, 0), "order_id"), o[3]);
    ck_assert_str_eq(next, "");
    json_decref(items);
    /* by status */
    ck_assert_int_eq(fulfil_list(&w.db, w.market, w.vendor[0], "new", 20, 0, &items, next, sizeof(next)), DB_OK);
    ck_assert_int_eq(json_array_size(items), 2);
    json_decref(items);
    ck_assert_int_eq(fulfil_list(&w.db, w.market, w.vendor[0], "pending_payment", 20, 0, &items, next, sizeof(next)),
                     DB_OK);
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_int_eq(jint(json_array_get(items, 0), "order_id"), o[2]);
    json_decref(items);
    /* a full last page ends with no cursor */
    ck_assert_int_eq(fulfil_list(&w.db, w.market, w.vendor[1], "new", 3, 0, &items, next, sizeof(next)), DB_OK);
    ck_assert_int_eq(json_array_size(items), 3);
    ck_assert_str_eq(next, "");
    json_decref(items);
    world_close(&w);
}
END_TEST

/* ================================================================ the acceptance deadlines */

static void age(world_t *w, int64_t vo, int64_t seconds)
{
    ck_assert(db_exec(&w->db, "UPDATE vendor_orders SET new_at = NOW(3) - INTERVAL ? SECOND WHERE id = ?",
                      (db_param_t[]){DB_I64(seconds), DB_I64(vo)}, 2, NULL, NULL) == DB_OK);
}

static int64_t alerts(world_t *w, const char *kind, int64_t vo)
{
    return t_db_i64(&w->db, "SELECT COUNT(*) FROM fulfilment_alerts WHERE kind = ? AND subject_id = ?",
                    (db_param_t[]){DB_STR(kind), DB_I64(vo)}, 2);
}

START_TEST(test_the_acceptance_sweep_flags_once_then_rejects_automatically)
{
    world_t w;
    acceptance_counts_t c;
    world_open(&w, "accept");
    config_t cfg = w.cfg;
    cfg.fulfil_accept_alert_s = 300;
    cfg.fulfil_accept_timeout_s = 1200;
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 10);
    int64_t b = product(&w, 1, "豆腐", 250, 0, 10);
    cart_line_t lines[] = {{a, 2}, {b, 1}};
    int64_t order = place_paid(&w, lines, 2, 1);
    int64_t va = vo_of(&w, order, 0), vb = vo_of(&w, order, 1);
    int64_t paid = 700 + 250 + 500;
    /* fresh: nothing */
    ck_assert_int_eq(acceptance_once(&w.db, &w.redis, &cfg, &c), 0);
    ck_assert_int_eq(c.flagged + c.rejected, 0);
    /* past the alert: flagged once, however often it runs */
    age(&w, va, 301);
    age(&w, vb, 100);
    ck_assert_int_eq(acceptance_once(&w.db, &w.redis, &cfg, &c), 0);
    ck_assert_int_eq(c.flagged, 1);
    ck_assert_int_eq(c.rejected, 0);
    ck_assert_int_eq(acceptance_once(&w.db, &w.redis, &cfg, &c), 0);
    ck_assert_int_eq(c.flagged, 0);
    ck_assert_int_eq(alerts(&w, ALERT_UNACCEPTED, va), 1);
    ck_assert_int_eq(alerts(&w, ALERT_UNACCEPTED, vb), 0);
    ck_assert_int_eq(q1(&w, "SELECT flagged_at IS NOT NULL FROM vendor_orders WHERE id = ?", va), 1);
    ck_assert(status_is(&w, "vendor_orders", va, "new"));
    /* past the limit: rejected as a vendor would, stock back, refunded, alerted */
    age(&w, va, 1201);
    ck_assert_int_eq(acceptance_once(&w.db, &w.redis, &cfg, &c), 0);
    ck_assert_int_eq(c.rejected, 1);
    ck_assert(status_is(&w, "vendor_orders", va, "rejected"));
    ck_assert_int_eq(t_db_i64(&w.db, "SELECT reject_reason = 'not accepted in time' FROM vendor_orders WHERE id = ?",
                              (db_param_t[]){DB_I64(va)}, 1),
                     1);
    ck_assert_int_eq(t_db_i64(&w.db,
                              "SELECT COUNT(*) FROM order_events WHERE vendor_order_id = ?"
                              " AND actor = 'system:acceptance' AND to_status = 'rejected'",
                              (db_param_t[]){DB_I64(va)}, 1),
                     1);
    ck_assert_int_eq(alerts(&w, ALERT_AUTO_REJECTED, va), 1);
    ck_assert_int_eq(stock_of(&w, a), 10);
    ck_assert_int_eq(q1(&w, "SELECT amount_fen FROM refunds WHERE vendor_order_id = ?", va), 700);
    ck_assert(status_is(&w, "orders", order, "paid"));
    assert_balance(&w, order, paid, 700);
    /* again: nothing more */
    ck_assert_int_eq(acceptance_once(&w.db, &w.redis, &cfg, &c), 0);
    ck_assert_int_eq(c.rejected + c.flagged, 0);
    /* an accepted one is never rejected, however old */
    int64_t order2 = place_paid(&w, lines, 2, 1);
    int64_t v2 = vo_of(&w, order2, 0);
    accept_ok(&w, 0, v2);
    age(&w, v2, 5000);
    /* the last live one rejected by the sweep: the order is cancelled and refunded in full */
    age(&w, vb, 1300);
    ck_assert_int_eq(acceptance_once(&w.db, &w.redis, &cfg, &c), 0);
    ck_assert_int_eq(c.rejected, 1);
    ck_assert(status_is(&w, "vendor_orders", v2, "accepted"));
    ck_assert(status_is(&w, "orders", order, "cancelled"));
    ck_assert_int_eq(stock_of(&w, b), 9); /* order2's tofu is still out */
    assert_balance(&w, order, paid, paid);
    assert_balance(&w, order2, paid, 0);
    world_close(&w);
}
END_TEST

typedef struct sweeper {
    world_t *w;
    const config_t *cfg;
    acceptance_counts_t c;
    int rc;
    pthread_barrier_t *go;
} sweeper_t;

static void *sweep(void *arg)
{
    sweeper_t *s = arg;
    db_t db;
    redis_t r;
    s->rc = -9;
    if (db_open(&db, s->cfg) != DB_OK)
        return NULL;
    if (redis_open(&r, s->cfg) != 0) {
        db_close(&db);
        return NULL;
    }
    pthread_barrier_wait(s->go);
    s->rc = acceptance_once(&db, &r, s->cfg, &s->c);
    redis_close(&r);
    db_close(&db);
    db_thread_end();
    return NULL;
}

START_TEST(test_two_sweeps_at_once_reject_and_flag_each_vendor_order_once)
{
    world_t w;
    world_open(&w, "sweeps");
    config_t cfg = w.cfg;
    cfg.fulfil_accept_alert_s = 300;
    cfg.fulfil_accept_timeout_s = 1200;
    int64_t a = product(&w, 0, "土鸡蛋", 350, 0, 100);
    int64_t b = product(&w, 1, "豆腐", 250, 0, 100);
    cart_line_t lines[] = {{a, 1}, {b, 1}};
    int64_t orders[8];
    for (int i = 0; i < 8; i++) {
        orders[i] = place_paid(&w, lines, 2, 1);
        age(&w, vo_of(&w, orders[i], 0), 1500); /* to be rejected */
        age(&w, vo_of(&w, orders[i], 1), 400);  /* to be flagged */
    }
    for (int round = 0; round < 1; round++) {
        pthread_barrier_t go;
        pthread_t t[2];
        sweeper_t s[2] = {{.w = &w, .cfg = &cfg, .go = &go}, {.w = &w, .cfg = &cfg, .go = &go}};
        pthread_barrier_init(&go, NULL, 2);
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, sweep, &s[i]);
        for (int i = 0; i < 2; i++)
            pthread_join(t[i], NULL);
        pthread_barrier_destroy(&go);
        ck_assert_int_eq(s[0].rc, 0);
        ck_assert_int_eq(s[1].rc, 0);
        ck_assert_int_eq(s[0].c.rejected + s[1].c.rejected, 8);
        ck_assert_int_eq(s[0].c.flagged + s[1].c.flagged, 8);
    }
    for (int i = 0; i < 8; i++) {
        ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", orders[i]), 1);
        assert_balance(&w, orders[i], 350 + 250 + 500, 350);
        ck_assert_int_eq(alerts(&w, ALERT_UNACCEPTED, vo_of(&w, orders[i], 1)), 1);
        ck_assert_int_eq(alerts(&w, ALERT_AUTO_REJECTED, vo_of(&w, orders[i], 0)), 1);
    }
    ck_assert_int_eq(stock_of(&w, a), 100);
    world_close(&w);
}
END_TEST

static Suite *fulfil_suite(void)
{
    Suite *s = suite_create("fulfil");
    TCase *tc = tcase_create("fulfil");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a_pick_refunds_exactly_the_lighter_and_fewer_difference_and_never_charges_more);
    tcase_add_test(tc, test_weighed_refunds_round_half_up_to_the_fen);
    tcase_add_test(tc, test_a_heavier_pick_never_takes_stock_below_zero);
    tcase_add_test(tc, test_a_pick_must_name_each_line_of_the_vendor_order_once_and_count_only_down);
    tcase_add_test(tc, test_rejecting_returns_stock_and_refunds_and_the_last_cancels_the_order_in_full);
    tcase_add_test(tc, test_an_accepted_order_cannot_be_rejected_and_an_unpaid_one_cannot_be_touched);
    tcase_add_test(tc, test_another_vendors_vendor_order_is_not_found_and_nothing_changes);
    tcase_add_test(tc, test_the_order_follows_its_vendor_orders_to_ready);
    tcase_add_test(tc, test_concurrent_accept_and_reject_of_one_vendor_order_exactly_one_wins);
    tcase_add_test(tc, test_the_list_shows_the_vendors_paid_orders_oldest_first_in_pages);
    tcase_add_test(tc, test_the_acceptance_sweep_flags_once_then_rejects_automatically);
    tcase_add_test(tc, test_two_sweeps_at_once_reject_and_flag_each_vendor_order_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_fulfil"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tfulfil_%d", (int)getpid());
    db_library_init();
    int failed = t_run(fulfil_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
