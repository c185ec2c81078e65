/*
 * models/salelog.c (the sales change log) against a scratch database of its own
 * (sf_tsalelog_<pid>_<tag>, swept by main) and the test Redis. Orders are checked out with
 * order_checkout, paid with payment_record_paid_tx, and moved with the real models (fulfil:
 * accept, pick, ready, reject, the automatic rejection; the consumer's cancel; the delivery
 * from the courier's offer to the code), so the hooks in order.c and payment.c are what is
 * tested. Each change writes exactly one new version per line it touches, with the right
 * fields, and `sale_lines` is always the newest version of each line; a change rolled back
 * leaves no version, and a version that cannot be appended fails its change; the lighter
 * pick's per-line refunds add up to its refund row; a void line is refunded in full; an
 * unpaid order writes nothing. The sequencer never skips a version and never waits for one
 * being written (a second connection holds one open: the sequencer, allowed 1 s of lock
 * waiting, still succeeds, and the held one gets a later position once committed); two
 * sequencers beside a writer and a paging reader never give a position twice and the
 * reader sees every version; the `salelog` job runs again at once after a full batch. Two
 * orders' payments and vendor changes at once never wait for each other (each session gives
 * up after 1 s of lock waiting). The consumer_ref, the feed page, and the statements the
 * hooks add to a payment and a pick (counted with Com_stmt_execute, printed).
 */
#include <check.h>
#include <pthread.h>
#include <regex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/courier.h"
#include "models/delivery.h"
#include "models/fulfil.h"
#include "models/order.h"
#include "models/payment.h"
#include "models/salelog.h"
#include "models/store/db.h"
#include "models/store/migrate.h"
#include "models/store/redis.h"
#include "tests/support/dbtest.h"
#include "tests/support/testutil.h"
#include "workers/salelog.h"

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

static int64_t q2(world_t *w, const char *sql, int64_t a, int64_t b)
{
    return t_db_i64(&w->db, sql, (db_param_t[]){DB_I64(a), DB_I64(b)}, 2);
}

static void exec1(world_t *w, const char *sql, int64_t arg)
{
    db_param_t p[] = {DB_I64(arg)};
    ck_assert_msg(db_exec(&w->db, sql, p, strstr(sql, "?") != NULL ? 1 : 0, NULL, NULL) == DB_OK, "`%s`: %s", sql,
                  w->db.err);
}

static void set(world_t *w, const char *key, const char *value)
{
    char err[256];
    ck_assert_msg(config_set(&w->cfg, key, value, err, sizeof(err)) == 0, "%s", err);
}

static int64_t new_market(world_t *w, const char *code)
{
    return t_db_insert(
        &w->db,
        "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
        " VALUES (?, '市场', 'addr', 34.750000, 113.620000, '410103', '', '[]', '', '6-20')",
        (db_param_t[]){DB_STR(code)}, 1);
}

static void world_open(world_t *w, const char *tag)
{
    char err[512];
    memset(w, 0, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    set(w, "dispatch.rounds", "3");
    set(w, "dispatch.radius_m", "5000");
    set(w, "courier.heartbeat_s", "30");
    ck_assert_msg(redis_open(&w->redis, &w->cfg) == 0, "redis: %s", w->redis.err);
    w->market = new_market(w, "m1");
    redisReply *rep = redis_cmd(&w->redis, "DEL sf:couriers:geo:%lld sf:couriers:hb:%lld", (long long)w->market,
                                (long long)w->market);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
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
static int64_t product(world_t *w, int s, const char *name, int64_t price, int64_t per_g)
{
    db_param_t p[] = {DB_I64(w->market),
                      DB_I64(w->stall[s]),
                      DB_I64(w->vendor[s]),
                      DB_STR(name),
                      DB_STR(per_g > 0 ? "weight" : "count"),
                      DB_I64(price),
                      per_g > 0 ? DB_I64(per_g) : DB_NULL,
                      per_g > 0 ? DB_NULL : DB_STR("个")};
    return t_db_insert(
        &w->db,
        "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name, pricing_mode,"
        " price_fen, per_g, unit, stock, origin, trace_code) VALUES (?, ?, ?, 'veg-leafy', 'A010101', ?, ?,"
        " ?, ?, ?, 100000, '410122', 'TR-1')",
        p, 8);
}

/* Checks these lines out (delivery 500 fen, free from 50000); pays the order in full when pay. */
static int64_t place(world_t *w, const cart_line_t *lines, size_t n, int pay)
{
    int64_t id = 0;
    status_detail_t d = {0};
    order_checkout_t in = {.user_id = w->user,
                           .market_id = w->market,
                           .address_id = w->address,
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
    rc = payment_record_paid_tx(&w->db, &paid, &out);
    ck_assert_msg(rc == DB_OK, "pay gave %d: %s", rc, w->db.err);
    ck_assert_int_eq(db_commit(&w->db), DB_OK);
    ck_assert_int_eq(out, PAY_RECORDED);
    return id;
}

static int64_t vo_of(world_t *w, int64_t order, int s)
{
    return q2(w, "SELECT id FROM vendor_orders WHERE order_id = ? AND stall_id = ?", order, w->stall[s]);
}

static int64_t line_of(world_t *w, int64_t order, int64_t product_id)
{
    return q2(w, "SELECT id FROM order_lines WHERE order_id = ? AND product_id = ?", order, product_id);
}

static void accept_ok(world_t *w, int s, int64_t vo)
{
    fulfil_result_t res;
    int rc = fulfil_accept(&w->db, &w->who[s], vo, &res, NULL);
    ck_assert_msg(rc == DB_OK, "accept gave %d: %s", rc, w->db.err);
}

static void ready_ok(world_t *w, int s, int64_t vo)
{
    fulfil_result_t res;
    int rc = fulfil_ready(&w->db, &w->who[s], vo, &res, NULL);
    ck_assert_msg(rc == DB_OK, "ready gave %d: %s", rc, w->db.err);
}

static void reject_ok(world_t *w, int s, int64_t vo)
{
    fulfil_result_t res;
    int rc = fulfil_reject(&w->db, &w->who[s], vo, "卖完了", &res, NULL);
    ck_assert_msg(rc == DB_OK, "reject gave %d: %s", rc, w->db.err);
}

/* ---------------------------------------------------------------- the log */

static int64_t n_lines(world_t *w)
{
    return q1(w, "SELECT COUNT(*) FROM sale_lines", 0);
}

static int64_t n_versions(world_t *w)
{
    return q1(w, "SELECT COUNT(*) FROM sale_line_versions", 0);
}

/* The current version of a line (0: none) and how many versions it has. */
static int64_t version_of(world_t *w, int64_t line)
{
    int64_t v = q1(w, "SELECT COALESCE(MAX(version), 0) FROM sale_lines WHERE event_id = ?", line);
    ck_assert_int_eq(q1(w, "SELECT COUNT(*) FROM sale_line_versions WHERE event_id = ?", line), v);
    return v;
}

/* A column of a line's version, as an integer (-1 for NULL). */
static int64_t vcol(world_t *w, int64_t line, int64_t version, const char *col)
{
    char sql[256];
    snprintf(sql, sizeof(sql), "SELECT COALESCE(%s, -1) FROM sale_line_versions WHERE event_id = ? AND version = ?",
             col);
    return q2(w, sql, line, version);
}

#define ALL_COLS_EQUAL                                                                                                 \
    "v.market_id = sl.market_id AND v.paid_date = sl.paid_date AND v.op = sl.op AND v.order_id = sl.order_id"          \
    " AND v.order_no = sl.order_no AND v.vendor_order_id = sl.vendor_order_id AND v.stall_id = sl.stall_id"            \
    " AND v.stall_no = sl.stall_no AND v.vendor_id = sl.vendor_id AND v.product_id = sl.product_id"                    \
    " AND v.category = sl.category AND v.commodity_code = sl.commodity_code AND v.name = sl.name"                      \
    " AND v.origin <=> sl.origin AND v.trace_code <=> sl.trace_code AND v.pricing_mode = sl.pricing_mode"              \
    " AND v.price_fen = sl.price_fen AND v.per_g <=> sl.per_g AND v.unit <=> sl.unit AND v.qty = sl.qty"               \
    " AND v.qty_actual <=> sl.qty_actual AND v.amount_fen = sl.amount_fen AND v.refunded_fen = sl.refunded_fen"        \
    " AND v.consumer_ref = sl.consumer_ref AND v.paid_at = sl.paid_at AND v.ready_at <=> sl.ready_at"                  \
    " AND v.delivered_at <=> sl.delivered_at AND v.changed_at = sl.changed_at"

/* sale_lines is the newest version of every event_id, column for column; every line has
 * versions 1..version; no version without its line; the immutable columns never change
 * between versions; and every paid order line is a sale line. */
static void assert_mirror(world_t *w)
{
    ck_assert_int_eq(q1(w,
                        "SELECT COUNT(*) FROM sale_lines sl WHERE NOT EXISTS (SELECT 1 FROM sale_line_versions v"
                        " WHERE v.event_id = sl.event_id AND v.version = sl.version AND " ALL_COLS_EQUAL ")",
                        0),
                     0);
    ck_assert_int_eq(q1(w,
                        "SELECT COUNT(*) FROM sale_lines sl WHERE sl.version <> (SELECT COUNT(*) FROM"
                        " sale_line_versions v WHERE v.event_id = sl.event_id AND v.version BETWEEN 1 AND sl.version)",
                        0),
                     0);
    ck_assert_int_eq(q1(w,
                        "SELECT COUNT(*) FROM sale_line_versions v WHERE NOT EXISTS (SELECT 1 FROM sale_lines sl"
                        " WHERE sl.event_id = v.event_id AND sl.version >= v.version)",
                        0),
                     0);
    ck_assert_int_eq(
        q1(w,
           "SELECT COUNT(*) FROM sale_line_versions v JOIN sale_lines sl ON sl.event_id = v.event_id"
           " WHERE NOT (v.order_no = sl.order_no AND v.amount_fen = sl.amount_fen AND v.qty = sl.qty"
           " AND v.paid_at = sl.paid_at AND v.consumer_ref = sl.consumer_ref AND v.stall_no = sl.stall_no)",
           0),
        0);
    ck_assert_int_eq(q1(w,
                        "SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.paid_at IS NOT"
                        " NULL AND NOT EXISTS (SELECT 1 FROM sale_lines sl WHERE sl.event_id = l.id)",
                        0),
                     0);
}

/* Σ refunded_fen of the vendor order's lines, and its refund rows with this reason. */
static int64_t refunded_lines(world_t *w, int64_t vo)
{
    return q1(w, "SELECT COALESCE(SUM(refunded_fen), 0) FROM sale_lines WHERE vendor_order_id = ?", vo);
}

static int64_t refund_rows(world_t *w, int64_t vo, const char *reason)
{
    return t_db_i64(&w->db,
                    "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE vendor_order_id = ? AND reason = ?"
                    " AND status <> 'failed'",
                    (db_param_t[]){DB_I64(vo), DB_STR(reason)}, 2);
}

/* ---------------------------------------------------------------- delivery */

static int64_t courier(world_t *w)
{
    courier_held_t held[COURIER_HELD_MAX];
    size_t n;
    int64_t id =
        t_db_insert(&w->db, "INSERT INTO couriers (market_id, name, phone, on_shift) VALUES (?, '赵六', '139', 1)",
                    (db_param_t[]){DB_I64(w->market)}, 1);
    ck_assert_int_eq(courier_locate(&w->db, &w->redis, w->market, id, 34.7505, 113.62, held, &n), SF_OK);
    return id;
}

/* The order's delivery from offer to the code, by the real models. */
static void deliver(world_t *w, int64_t order)
{
    int64_t d = 0, oid = 0, c = courier(w);
    delivery_step_t st;
    json_t *out = NULL;
    char code[8];
    ck_assert_int_eq(db_begin(&w->db), DB_OK);
    ck_assert_int_eq(delivery_ensure_tx(&w->db, order, &d), DB_OK);
    ck_assert_int_eq(db_commit(&w->db), DB_OK);
    ck_assert_int_eq(db_begin(&w->db), DB_OK);
    ck_assert_int_eq(delivery_drive_tx(&w->db, &w->redis, d, &st), DB_OK);
    ck_assert_int_eq(db_commit(&w->db), DB_OK);
    ck_assert_int_eq(st.courier_id, c);
    ck_assert_int_eq(delivery_accept(&w->db, w->market, c, d, &out, &oid), SF_OK);
    json_decref(out);
    ck_assert_int_eq(delivery_pickup(&w->db, c, d, &out, &oid), SF_OK);
    json_decref(out);
    snprintf(code, sizeof(code), "%04lld",
             (long long)q1(w, "SELECT CAST(code AS UNSIGNED) FROM deliveries WHERE id = ?", d));
    ck_assert_int_eq(delivery_deliver(&w->db, c, d, code, NULL, &out, &oid), SF_OK);
    json_decref(out);
}

/* ================================================================ every change, one version per line */

START_TEST(test_each_change_writes_one_version_per_line_and_sale_lines_is_the_newest)
{
    world_t w;
    fulfil_result_t res;
    char ref[SALELOG_REF_LEN + 1];
    world_open(&w, "changes");
    int64_t a = product(&w, 0, "西红柿", 1299, 500), b = product(&w, 0, "土鸡蛋", 350, 0);
    int64_t x = product(&w, 1, "白菜", 200, 500), y = product(&w, 2, "豆腐", 100, 0);
    cart_line_t lines[] = {{a, 500}, {b, 2}, {x, 500}, {y, 3}};
    int64_t order = place(&w, lines, 4, 1);
    int64_t la = line_of(&w, order, a), lb = line_of(&w, order, b), lx = line_of(&w, order, x),
            ly = line_of(&w, order, y);
    int64_t v0 = vo_of(&w, order, 0), v1 = vo_of(&w, order, 1), v2 = vo_of(&w, order, 2);

    /* paid: version 1 of each line, as sold */
    ck_assert_int_eq(n_lines(&w), 4);
    ck_assert_int_eq(n_versions(&w), 4);
    assert_mirror(&w);
    ck_assert_int_eq(version_of(&w, la), 1);
    ck_assert_int_eq(
        q1(&w,
           "SELECT COUNT(*) FROM sale_line_versions WHERE op = 'upsert' AND refunded_fen = 0 AND qty_actual IS NULL"
           " AND ready_at IS NULL AND delivered_at IS NULL AND pos IS NULL",
           0),
        4);
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM sale_lines sl JOIN orders o ON o.id = sl.order_id JOIN order_lines l ON"
                        " l.id = sl.event_id JOIN stalls s ON s.id = sl.stall_id WHERE sl.paid_at = o.paid_at"
                        " AND sl.paid_date = DATE(o.paid_at + INTERVAL 8 HOUR) AND sl.order_no = o.order_no"
                        " AND sl.amount_fen = l.amount_fen AND sl.qty = l.qty AND sl.stall_no = s.stall_no"
                        " AND sl.vendor_id = s.vendor_id AND sl.market_id = o.market_id AND sl.category = 'veg-leafy'"
                        " AND sl.product_id = l.product_id AND sl.price_fen = l.price_fen AND sl.per_g <=> l.per_g"
                        " AND sl.unit <=> l.unit AND sl.origin = '410122' AND sl.trace_code = 'TR-1'",
                        0),
                     4);
    ck_assert_int_eq(salelog_consumer_ref(&w.db, w.market, w.user, ref), 0);
    ck_assert_int_eq(
        t_db_i64(&w.db, "SELECT COUNT(*) FROM sale_lines WHERE consumer_ref = ?", (db_param_t[]){DB_STR(ref)}, 1), 4);

    /* accepted: not a change of the sale */
    accept_ok(&w, 0, v0);
    ck_assert_int_eq(n_versions(&w), 4);

    /* picked lighter and fewer: version 2 of stall 0's lines only, each with its own refund */
    fulfil_pick_line_t pick[] = {{la, 450}, {lb, 1}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], v0, pick, 2, &res, NULL, NULL), DB_OK);
    ck_assert_int_eq(n_versions(&w), 6);
    assert_mirror(&w);
    ck_assert_int_eq(version_of(&w, la), 2);
    ck_assert_int_eq(version_of(&w, lb), 2);
    ck_assert_int_eq(version_of(&w, lx), 1);
    ck_assert_int_eq(vcol(&w, la, 2, "qty_actual"), 450);
    ck_assert_int_eq(vcol(&w, lb, 2, "qty_actual"), 1);
    /* 1299 per 500 g: 500 g is 1299, 450 g is 1169.1 → 1169, so 130 back; one egg of two: 350 */
    ck_assert_int_eq(vcol(&w, la, 2, "refunded_fen"), 130);
    ck_assert_int_eq(vcol(&w, lb, 2, "refunded_fen"), 350);
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM sale_lines sl JOIN order_lines l ON l.id = sl.event_id"
                        " WHERE sl.vendor_order_id = ? AND sl.refunded_fen = l.amount_fen - l.amount_actual_fen",
                        v0),
                     2);
    ck_assert_int_eq(res.refund_fen, 480);
    ck_assert_int_eq(refund_rows(&w, v0, "weight_difference"), 480);
    ck_assert_int_eq(refunded_lines(&w, v0), 480);
    ck_assert_int_eq(vcol(&w, la, 2, "op = 'upsert'"), 1);
    ck_assert_int_eq(vcol(&w, la, 2, "ready_at"), -1);

    /* ready: version 3, ready_at, nothing else moves */
    ready_ok(&w, 0, v0);
    ck_assert_int_eq(n_versions(&w), 8);
    assert_mirror(&w);
    ck_assert_int_eq(version_of(&w, la), 3);
    ck_assert_int_eq(vcol(&w, la, 3, "ready_at IS NOT NULL AND ready_at <= NOW(3)"), 1);
    ck_assert_int_eq(vcol(&w, la, 3, "refunded_fen"), 130);
    ck_assert_int_eq(vcol(&w, la, 3, "qty_actual"), 450);

    /* stall 1 rejects: its line void, refunded in full, as its refund row says */
    reject_ok(&w, 1, v1);
    ck_assert_int_eq(n_versions(&w), 9);
    assert_mirror(&w);
    ck_assert_int_eq(version_of(&w, lx), 2);
    ck_assert_int_eq(vcol(&w, lx, 2, "op = 'void'"), 1);
    ck_assert_int_eq(vcol(&w, lx, 2, "refunded_fen = amount_fen"), 1);
    ck_assert_int_eq(refunded_lines(&w, v1), refund_rows(&w, v1, "rejected"));
    ck_assert_int_eq(refunded_lines(&w, v1), 200);

    /* stall 2 picks everything and is ready: nothing refunded */
    accept_ok(&w, 2, v2);
    fulfil_pick_line_t all[] = {{ly, 3}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[2], v2, all, 1, &res, NULL, NULL), DB_OK);
    ck_assert_int_eq(res.refund_fen, 0);
    ck_assert_int_eq(vcol(&w, ly, 2, "refunded_fen"), 0);
    ck_assert_int_eq(vcol(&w, ly, 2, "qty_actual"), 3);
    ready_ok(&w, 2, v2);
    ck_assert_int_eq(n_versions(&w), 11);
    assert_mirror(&w);

    /* delivered: the next version of the live lines, with the delivery's time; the void line
     * stays as it was */
    deliver(&w, order);
    ck_assert_int_eq(q1(&w, "SELECT status = 'delivered' FROM orders WHERE id = ?", order), 1);
    ck_assert_int_eq(n_versions(&w), 14);
    assert_mirror(&w);
    ck_assert_int_eq(version_of(&w, la), 4);
    ck_assert_int_eq(version_of(&w, lb), 4);
    ck_assert_int_eq(version_of(&w, ly), 4);
    ck_assert_int_eq(version_of(&w, lx), 2);
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM sale_lines sl JOIN deliveries d ON d.order_id = sl.order_id"
                        " WHERE sl.order_id = ? AND sl.delivered_at = d.delivered_at AND sl.op = 'upsert'",
                        order),
                     3);
    ck_assert_int_eq(vcol(&w, lx, 2, "delivered_at"), -1);
    ck_assert_int_eq(vcol(&w, la, 4, "refunded_fen"), 130);
    ck_assert_int_eq(vcol(&w, la, 4, "ready_at IS NOT NULL"), 1);
    world_close(&w);
}
END_TEST

/* ================================================================ atomic with the change */

START_TEST(test_a_change_rolled_back_leaves_no_version_and_a_failed_append_fails_the_change)
{
    world_t w;
    fulfil_result_t res;
    world_open(&w, "atomic");
    int64_t a = product(&w, 0, "西红柿", 1299, 500), x = product(&w, 1, "白菜", 200, 500);
    cart_line_t lines[] = {{a, 500}, {x, 500}};

    /* a payment rolled back: its sale lines were there inside, and are gone with it */
    int64_t order = place(&w, lines, 2, 0);
    pay_attempt_t at;
    pay_outcome_t out = 0;
    ck_assert_int_eq(payment_create(&w.db, w.user, order, PAY_WECHAT, &at), DB_OK);
    pay_paid_t paid = {.provider = PAY_WECHAT,
                       .out_trade_no = at.out_trade_no,
                       .transaction_id = "4200-rb",
                       .amount_fen = at.amount_fen};
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(payment_record_paid_tx(&w.db, &paid, &out), DB_OK);
    ck_assert_int_eq(n_lines(&w), 2);
    ck_assert_int_eq(n_versions(&w), 2);
    db_rollback(&w.db);
    ck_assert_int_eq(n_lines(&w), 0);
    ck_assert_int_eq(n_versions(&w), 0);

    /* paid for real; a rejection rolled back leaves version 1 */
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(payment_record_paid_tx(&w.db, &paid, &out), DB_OK);
    ck_assert_int_eq(db_commit(&w.db), DB_OK);
    ck_assert_int_eq(n_versions(&w), 2);
    int64_t v1 = vo_of(&w, order, 1), lx = line_of(&w, order, x);
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(vendor_order_transition_tx(&w.db, v1, "new", "rejected", "test", "r"), DB_OK);
    ck_assert_int_eq(n_versions(&w), 3);
    db_rollback(&w.db);
    ck_assert_int_eq(n_versions(&w), 2);
    ck_assert_int_eq(version_of(&w, lx), 1);
    assert_mirror(&w);

    /* a version that cannot be appended (its number taken) fails the rejection: nothing of it
     * stays (no status, no refund, no stock, no version) */
    t_db_script(&w.db, "CREATE TABLE tmp_v AS SELECT * FROM sale_line_versions");
    exec1(&w, "UPDATE tmp_v SET id = id + 1000, version = 2 WHERE event_id = ?", lx);
    exec1(&w, "INSERT INTO sale_line_versions SELECT * FROM tmp_v WHERE event_id = ?", lx);
    int64_t stock = q1(&w, "SELECT stock FROM products WHERE id = ?", x);
    ck_assert_int_eq(fulfil_reject(&w.db, &w.who[1], v1, "卖完了", &res, NULL), SF_E_INTERNAL);
    ck_assert_int_eq(q1(&w, "SELECT status = 'new' FROM vendor_orders WHERE id = ?", v1), 1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 0);
    ck_assert_int_eq(q1(&w, "SELECT stock FROM products WHERE id = ?", x), stock);
    ck_assert_int_eq(q1(&w, "SELECT version FROM sale_lines WHERE event_id = ?", lx), 1);
    exec1(&w, "DELETE FROM sale_line_versions WHERE event_id = ? AND version = 2", lx);
    reject_ok(&w, 1, v1);
    ck_assert_int_eq(version_of(&w, lx), 2);
    assert_mirror(&w);
    world_close(&w);
}
END_TEST

/* ================================================================ the voids */

START_TEST(test_every_path_that_voids_goods_after_payment_is_logged_and_unpaid_orders_write_nothing)
{
    world_t w;
    fulfil_result_t res;
    int64_t market = 0;
    world_open(&w, "voids");
    int64_t a = product(&w, 0, "西红柿", 1299, 500), x = product(&w, 1, "白菜", 200, 500);
    cart_line_t lines[] = {{a, 500}, {x, 500}};

    /* unpaid, cancelled by the consumer and by the timeout: nothing at all */
    int64_t o1 = place(&w, lines, 2, 0), o2 = place(&w, lines, 2, 0);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, o1, &market), DB_OK);
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(order_cancel_unpaid_tx(&w.db, o2, "system:timeout", "timeout", 0), DB_OK);
    ck_assert_int_eq(db_commit(&w.db), DB_OK);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM vendor_orders WHERE status = 'cancelled'", 0), 4);
    ck_assert_int_eq(n_lines(&w), 0);
    ck_assert_int_eq(n_versions(&w), 0);

    /* the consumer cancels a paid order: every line void, refunded in full */
    int64_t o3 = place(&w, lines, 2, 1);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, o3, &market), DB_OK);
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM sale_lines WHERE order_id = ? AND op = 'void' AND version = 2"
                        " AND refunded_fen = amount_fen",
                        o3),
                     2);
    /* the refund covers the goods and the delivery fee */
    ck_assert_int_eq(q1(&w, "SELECT SUM(refunded_fen) FROM sale_lines WHERE order_id = ?", o3) + 500,
                     q1(&w, "SELECT SUM(amount_fen) FROM refunds WHERE order_id = ?", o3));

    /* both stalls reject: the last cancels the order; each line void once, no more versions */
    int64_t o4 = place(&w, lines, 2, 1);
    reject_ok(&w, 0, vo_of(&w, o4, 0));
    reject_ok(&w, 1, vo_of(&w, o4, 1));
    ck_assert_int_eq(q1(&w, "SELECT status = 'cancelled' FROM orders WHERE id = ?", o4), 1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM sale_line_versions WHERE order_id = ?", o4), 4);
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM sale_lines WHERE order_id = ? AND op = 'void' AND version = 2"
                        " AND refunded_fen = amount_fen",
                        o4),
                     2);

    /* not accepted in time: rejected automatically, void */
    int64_t o5 = place(&w, lines, 2, 1), v50 = vo_of(&w, o5, 0);
    exec1(&w, "UPDATE vendor_orders SET new_at = NOW(3) - INTERVAL 1 HOUR WHERE id = ?", v50);
    ck_assert_int_eq(fulfil_auto_reject(&w.db, v50, 600, &res), DB_OK);
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM sale_lines WHERE vendor_order_id = ? AND op = 'void' AND version = 2"
                        " AND refunded_fen = amount_fen",
                        v50),
                     1);
    ck_assert_int_eq(refunded_lines(&w, v50), refund_rows(&w, v50, "rejected"));
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM sale_lines WHERE order_id = ? AND op = 'upsert' AND version = 1", o5),
                     1);
    assert_mirror(&w);
    world_close(&w);
}
END_TEST

/* ================================================================ the sequencer */

/* A committed (or not, inside the caller's transaction) version of a made-up line. */
static void fake_version(db_t *db, int64_t market, int64_t event_id)
{
    db_param_t p[] = {DB_I64(event_id), DB_I64(market)};
    int rc = db_exec(db,
                     "INSERT INTO sale_line_versions (event_id, market_id, paid_date, version, op, order_id, order_no,"
                     " vendor_order_id, stall_id, stall_no, vendor_id, product_id, category, commodity_code, name,"
                     " pricing_mode, price_fen, qty, amount_fen, refunded_fen, consumer_ref, paid_at, changed_at)"
                     " VALUES (?, ?, CURDATE(), 1, 'upsert', 0, 'SFX', 0, 0, 'A-01', 0, 0, 'veg', 'A01', 'x', 'count',"
                     " 1, 1, 1, 0, REPEAT('0', 32), NOW(3), NOW(3))",
                     p, 2, NULL, NULL);
    ck_assert_msg(rc == DB_OK, "fake version: %s", db->err);
}

/* Every version of the market from after, by feed pages of limit; *last the last position. */
static size_t feed_all(db_t *db, int64_t market, int64_t *last, size_t limit, json_t *seen)
{
    size_t n = 0;
    int more = 1;
    while (more) {
        json_t *items = NULL;
        int64_t lp = 0;
        sf_status_t rc = salelog_feed(db, market, *last, limit, &items, &lp, &more);
        ck_assert_msg(rc == DB_OK, "feed: %d %s", rc, db->err);
        ck_assert_int_ge(lp, *last);
        n += json_array_size(items);
        if (seen != NULL)
            json_array_extend(seen, items);
        json_decref(items);
        *last = lp;
    }
    return n;
}

START_TEST(test_a_line_picked_to_nothing_is_void_and_refunded_in_full)
{
    world_t w;
    fulfil_result_t res;
    world_open(&w, "zero");
    int64_t a = product(&w, 0, "西红柿", 1299, 500), b = product(&w, 0, "土鸡蛋", 350, 0);
    cart_line_t lines[] = {{a, 500}, {b, 2}};
    int64_t order = place(&w, lines, 2, 1);
    int64_t la = line_of(&w, order, a), lb = line_of(&w, order, b), v0 = vo_of(&w, order, 0);
    accept_ok(&w, 0, v0);
    fulfil_pick_line_t pick[] = {{la, 500}, {lb, 0}}; /* no eggs left */
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], v0, pick, 2, &res, NULL, NULL), DB_OK);
    assert_mirror(&w);
    ck_assert_int_eq(vcol(&w, lb, 2, "op = 'void'"), 1);
    ck_assert_int_eq(vcol(&w, lb, 2, "refunded_fen"), 700);
    ck_assert_int_eq(vcol(&w, lb, 2, "qty_actual"), 0);
    ck_assert_int_eq(vcol(&w, la, 2, "op = 'upsert'"), 1);
    ck_assert_int_eq(vcol(&w, la, 2, "refunded_fen"), 0);
    ck_assert_int_eq(refunded_lines(&w, v0), refund_rows(&w, v0, "weight_difference"));
    /* delivered later: only the line handed over says so */
    ready_ok(&w, 0, v0);
    deliver(&w, order);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM sale_lines WHERE event_id = ? AND delivered_at IS NULL", lb), 1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM sale_lines WHERE event_id = ? AND delivered_at IS NOT NULL", la), 1);
    world_close(&w);
}
END_TEST

START_TEST(test_the_sequencer_never_waits_for_an_open_version_and_never_skips_it)
{
    world_t w;
    db_t db2, db3;
    size_t n = 0;
    fulfil_result_t res;
    world_open(&w, "seq");
    int64_t a = product(&w, 0, "西红柿", 1299, 500), x = product(&w, 1, "白菜", 200, 500);
    cart_line_t la[] = {{a, 500}}, lx[] = {{x, 500}};
    int64_t held = place(&w, la, 1, 1), later = place(&w, lx, 1, 1);
    int64_t vh = vo_of(&w, held, 0), vl = vo_of(&w, later, 1);
    ck_assert_int_eq(salelog_sequence(&w.db, &n), DB_OK);
    ck_assert_int_eq(n, 2);
    int64_t last = 0;
    ck_assert_int_eq(feed_all(&w.db, w.market, &last, 10, NULL), 2);
    ck_assert_int_eq(last, 2);

    /* a second connection writes a version and holds it open */
    ck_assert_int_eq(db_open(&db2, &w.cfg), DB_OK);
    ck_assert_int_eq(db_begin(&db2), DB_OK);
    ck_assert_int_eq(salelog_vendor_tx(&db2, vh, "ready"), DB_OK);
    int64_t held_id = t_db_i64(&db2, "SELECT MAX(id) FROM sale_line_versions", NULL, 0);
    /* another is committed after it (a higher id) */
    reject_ok(&w, 1, vl);
    ck_assert_int_gt(q1(&w, "SELECT MAX(id) FROM sale_line_versions WHERE vendor_order_id = ?", vl), held_id);

    /* the sequencer, on a connection that gives up after 1 s of any lock wait, succeeds:
     * it never waited; it positioned only the committed version */
    ck_assert_int_eq(db_open(&db3, &w.cfg), DB_OK);
    ck_assert_int_eq(db_exec(&db3, "SET SESSION innodb_lock_wait_timeout = 1", NULL, 0, NULL, NULL), DB_OK);
    sf_status_t rc = salelog_sequence(&db3, &n);
    ck_assert_msg(rc == DB_OK, "sequence: %d %s", rc, db3.err);
    ck_assert_int_eq(n, 1);
    json_t *seen = json_array();
    ck_assert_int_eq(feed_all(&db3, w.market, &last, 10, seen), 1);
    ck_assert_int_eq(last, 3);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(seen, 0), "op")), "void");
    json_array_clear(seen);

    /* the open one commits: the next run gives it the next position, and a reader that went
     * on from where it was sees it */
    ck_assert_int_eq(db_commit(&db2), DB_OK);
    ck_assert_int_eq(salelog_sequence(&db3, &n), DB_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(feed_all(&db3, w.market, &last, 10, seen), 1);
    ck_assert_int_eq(last, 4);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(seen, 0), "event_id")), line_of(&w, held, a));
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(seen, 0), "version")), 2);
    ck_assert_int_eq(q1(&w, "SELECT last_pos FROM sale_log_head WHERE id = 1", 0), 4);
    ck_assert_int_eq(salelog_sequence(&db3, &n), DB_OK);
    ck_assert_int_eq(n, 0);

    /* another run holds the head (the job, another feed page): this one neither waits (db3
     * gives up after 1 s) nor fails; it leaves the work to the holder, and nothing is lost */
    ck_assert_int_eq(db_begin(&db2), DB_OK);
    ck_assert_int_eq(t_db_i64(&db2, "SELECT last_pos FROM sale_log_head WHERE id = 1 FOR UPDATE", NULL, 0), 4);
    /* a committed version waiting for a position */
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(salelog_vendor_tx(&w.db, vh, "ready"), DB_OK);
    ck_assert_int_eq(db_commit(&w.db), DB_OK);
    rc = salelog_sequence(&db3, &n);
    ck_assert_msg(rc == DB_OK, "sequence beside a held head: %d %s", rc, db3.err);
    ck_assert_int_eq(n, 0);
    db_rollback(&db2);
    ck_assert_int_eq(salelog_sequence(&db3, &n), DB_OK);
    ck_assert_int_eq(n, 1);
    ck_assert_int_eq(feed_all(&db3, w.market, &last, 10, seen), 1);
    ck_assert_int_eq(last, 5);
    json_decref(seen);
    (void)res;
    db_close(&db2);
    db_close(&db3);
    world_close(&w);
}
END_TEST

/* ---------------------------------------------------------------- concurrency */

#define RACE_WRITES 300

typedef struct racer {
    const config_t *cfg;
    int64_t market;
    int kind; /* 0 writer, 1 sequencer, 2 reader */
    atomic_int *writing;
    size_t positioned; /* by this racer's sequencer runs */
    size_t got;        /* reader: versions read */
    int64_t last;      /* reader */
    int failed;
    char err[256];
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    db_t db;
    db_thread_init();
    if (db_open(&db, r->cfg) != DB_OK) {
        r->failed = 1;
        goto out;
    }
    if (r->kind == 0) {
        for (int i = 0; i < RACE_WRITES && !r->failed; i++) {
            db_param_t p[] = {DB_I64(2000000000LL + i), DB_I64(r->market)};
            if (db_begin(&db) != DB_OK ||
                db_exec(&db,
                        "INSERT INTO sale_line_versions (event_id, market_id, paid_date, version, op, order_id,"
                        " order_no, vendor_order_id, stall_id, stall_no, vendor_id, product_id, category,"
                        " commodity_code, name, pricing_mode, price_fen, qty, amount_fen, refunded_fen,"
                        " consumer_ref, paid_at, changed_at) VALUES (?, ?, CURDATE(), 1, 'upsert', 0, 'SFX', 0,"
                        " 0, 'A-01', 0, 0, 'veg', 'A01', 'x', 'count', 1, 1, 1, 0, REPEAT('0', 32), NOW(3),"
                        " NOW(3))",
                        p, 2, NULL, NULL) != DB_OK ||
                db_commit(&db) != DB_OK)
                r->failed = 1;
        }
    } else {
        int done = 0;
        while (!done && !r->failed) {
            done = !atomic_load(r->writing); /* one more round after the writer stopped */
            size_t n = 0;
            sf_status_t rc = salelog_sequence(&db, &n);
            if (rc != DB_OK) {
                r->failed = 1;
                break;
            }
            r->positioned += n;
            if (r->kind == 2) {
                int more = 1;
                while (more && !r->failed) {
                    json_t *items = NULL;
                    if (salelog_feed(&db, r->market, r->last, 37, &items, &r->last, &more) != DB_OK) {
                        r->failed = 1;
                        break;
                    }
                    r->got += json_array_size(items);
                    json_decref(items);
                }
            }
        }
    }
    if (r->failed)
        snprintf(r->err, sizeof(r->err), "%s", db.err);
    db_close(&db);
out:
    if (r->kind == 0) /* the readers' last round, whether the writer got to write or not */
        atomic_store(r->writing, 0);
    db_thread_end();
    return NULL;
}

START_TEST(test_two_sequencers_beside_a_writer_never_give_a_position_twice_and_a_reader_sees_all)
{
    world_t w;
    racer_t r[4];
    pthread_t t[4];
    atomic_int writing = 1;
    world_open(&w, "race");
    for (int i = 0; i < 4; i++) {
        r[i] = (racer_t){.cfg = &w.cfg, .market = w.market, .kind = i == 0 ? 0 : i == 3 ? 2 : 1, .writing = &writing};
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    for (int i = 0; i < 4; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(!r[i].failed, "racer %d failed: %s", i, r[i].err);
    /* positions 1..N, each once, every version positioned, counted once by the sequencers */
    ck_assert_int_eq(n_versions(&w), RACE_WRITES);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(DISTINCT pos) FROM sale_line_versions", 0), RACE_WRITES);
    ck_assert_int_eq(q1(&w, "SELECT MIN(pos) FROM sale_line_versions", 0), 1);
    ck_assert_int_eq(q1(&w, "SELECT MAX(pos) FROM sale_line_versions", 0), RACE_WRITES);
    ck_assert_int_eq(q1(&w, "SELECT last_pos FROM sale_log_head", 0), RACE_WRITES);
    ck_assert_int_eq(r[1].positioned + r[2].positioned + r[3].positioned, RACE_WRITES);
    /* the reader paged along as they were positioned and missed none. Its last page may
     * have come while another run was still positioning (a run that finds the head held
     * leaves the work to the holder), so it comes back once more, as a platform does */
    int more = 1;
    while (more) {
        json_t *items = NULL;
        ck_assert_int_eq(salelog_feed(&w.db, w.market, r[3].last, 37, &items, &r[3].last, &more), DB_OK);
        r[3].got += json_array_size(items);
        json_decref(items);
    }
    ck_assert_int_eq(r[3].got, RACE_WRITES);
    ck_assert_int_eq(r[3].last, RACE_WRITES);
    world_close(&w);
}
END_TEST

/* ---------------------------------------------------------------- the job */

START_TEST(test_the_salelog_job_positions_a_full_batch_then_waits_the_interval)
{
    world_t w;
    queue_env_t env;
    world_open(&w, "job");
    set(&w, "salelog.interval_s", "7");
    /* one more than a batch, committed at once */
    t_db_insert(&w.db,
                "INSERT INTO sale_line_versions (event_id, market_id, paid_date, version, op, order_id, order_no,"
                " vendor_order_id, stall_id, stall_no, vendor_id, product_id, category, commodity_code, name,"
                " pricing_mode, price_fen, qty, amount_fen, refunded_fen, consumer_ref, paid_at, changed_at)"
                " SELECT 4000000000 + seq, ?, CURDATE(), 1, 'upsert', 0, 'SFX', 0, 0, 'A-01', 0, 0, 'veg', 'A01', 'x',"
                " 'count', 1, 1, 1, 0, REPEAT('0', 32), NOW(3), NOW(3) FROM seq_1_to_5001",
                (db_param_t[]){DB_I64(w.market)}, 1);
    memset(&env, 0, sizeof(env));
    env.cfg = &w.cfg;
    ck_assert_int_eq(db_open(&env.db, &w.cfg), DB_OK);
    ck_assert_int_eq(salelog_step(&env, NULL), 0); /* a full batch: again at once */
    ck_assert_int_eq(q1(&w, "SELECT COUNT(pos) FROM sale_line_versions", 0), SALELOG_SEQ_BATCH);
    ck_assert_int_eq(salelog_step(&env, NULL), 7000);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(DISTINCT pos) FROM sale_line_versions", 0), SALELOG_SEQ_BATCH + 1);
    /* in id order */
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM sale_line_versions a JOIN sale_line_versions b ON b.id = a.id + 1"
                        " WHERE b.pos <> a.pos + 1",
                        0),
                     0);
    ck_assert_int_eq(q1(&w, "SELECT last_pos FROM sale_log_head", 0), SALELOG_SEQ_BATCH + 1);
    ck_assert_int_eq(salelog_step(&env, NULL), 7000);
    ck_assert_int_eq(env.failed[0], '\0');
    db_close(&env.db);
    world_close(&w);
}
END_TEST

/* ================================================================ writers never queue */

/* Pays the order on db inside a transaction left open. */
static void pay_open(world_t *w, db_t *db, int64_t order, const char *txid)
{
    pay_attempt_t at;
    pay_outcome_t out = 0;
    ck_assert_int_eq(payment_create(&w->db, w->user, order, PAY_WECHAT, &at), DB_OK);
    pay_paid_t paid = {
        .provider = PAY_WECHAT, .out_trade_no = at.out_trade_no, .transaction_id = txid, .amount_fen = at.amount_fen};
    ck_assert_int_eq(db_begin(db), DB_OK);
    sf_status_t rc = payment_record_paid_tx(db, &paid, &out);
    ck_assert_msg(rc == DB_OK, "pay: %d %s", rc, db->err);
    ck_assert_int_eq(out, PAY_RECORDED);
}

START_TEST(test_changes_of_different_orders_never_wait_for_each_other)
{
    world_t w;
    db_t db2, db3;
    world_open(&w, "writers");
    int64_t a = product(&w, 0, "西红柿", 1299, 500), x = product(&w, 1, "白菜", 200, 500);
    cart_line_t la[] = {{a, 500}}, lx[] = {{x, 500}};
    int64_t o1 = place(&w, la, 1, 0), o2 = place(&w, lx, 1, 0), o3 = place(&w, la, 1, 1), o4 = place(&w, lx, 1, 1);
    ck_assert_int_eq(db_open(&db2, &w.cfg), DB_OK);
    ck_assert_int_eq(db_open(&db3, &w.cfg), DB_OK);
    /* both sessions give up after 1 s of any lock wait: each step below must not wait */
    ck_assert_int_eq(db_exec(&db2, "SET SESSION innodb_lock_wait_timeout = 1", NULL, 0, NULL, NULL), DB_OK);
    ck_assert_int_eq(db_exec(&db3, "SET SESSION innodb_lock_wait_timeout = 1", NULL, 0, NULL, NULL), DB_OK);
    /* two payments at once, the older order's open while the newer one's is written */
    pay_open(&w, &db2, o1, "4200-w1");
    pay_open(&w, &db3, o2, "4200-w2");
    /* and a rejection and a pick's worth of changes of older orders beside them */
    ck_assert_int_eq(salelog_vendor_tx(&db2, vo_of(&w, o3, 0), "rejected"), DB_OK);
    ck_assert_int_eq(salelog_vendor_tx(&db3, vo_of(&w, o4, 1), "ready"), DB_OK);
    ck_assert_int_eq(db_commit(&db3), DB_OK);
    ck_assert_int_eq(db_commit(&db2), DB_OK);
    ck_assert_int_eq(n_versions(&w), 6);
    assert_mirror(&w);
    db_close(&db2);
    db_close(&db3);
    world_close(&w);
}
END_TEST

/* ================================================================ consumer_ref */

START_TEST(test_the_consumer_ref_is_a_stable_pseudonym_per_market)
{
    world_t w;
    char r1[SALELOG_REF_LEN + 1], r2[SALELOG_REF_LEN + 1], r3[SALELOG_REF_LEN + 1], r4[SALELOG_REF_LEN + 1];
    regex_t hex;
    world_open(&w, "ref");
    const int64_t id = 987654321;
    ck_assert_int_eq(salelog_consumer_ref(&w.db, w.market, id, r1), 0);
    ck_assert_int_eq(salelog_consumer_ref(&w.db, w.market, id, r2), 0);
    ck_assert_str_eq(r1, r2);
    ck_assert_int_eq(salelog_consumer_ref(&w.db, w.market, id + 1, r3), 0);
    ck_assert_str_ne(r1, r3);
    ck_assert_int_eq(salelog_consumer_ref(&w.db, w.market + 1, id, r4), 0);
    ck_assert_str_ne(r1, r4);
    ck_assert_int_eq(regcomp(&hex, "^[0-9a-f]{32}$", REG_EXTENDED | REG_NOSUB), 0);
    ck_assert_int_eq(regexec(&hex, r1, 0, NULL, 0), 0);
    ck_assert_int_eq(regexec(&hex, r4, 0, NULL, 0), 0);
    regfree(&hex);
    ck_assert_ptr_null(strstr(r1, "987654321"));
    ck_assert_ptr_null(strstr(r1, "13800000000"));
    /* the paid order's lines carry the consumer's, and never the id or the phone */
    int64_t a = product(&w, 0, "西红柿", 1299, 500);
    cart_line_t lines[] = {{a, 500}};
    place(&w, lines, 1, 1);
    ck_assert_int_eq(salelog_consumer_ref(&w.db, w.market, w.user, r2), 0);
    ck_assert_int_eq(
        t_db_i64(&w.db, "SELECT COUNT(*) FROM sale_lines WHERE consumer_ref = ?", (db_param_t[]){DB_STR(r2)}, 1), 1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM sale_line_versions WHERE consumer_ref LIKE '%13800000000%'", 0), 0);
    world_close(&w);
}
END_TEST

/* ================================================================ the feed page */

static const char *const feed_keys[] = {
    "event_id",       "version",      "op",      "order_no",     "line_id",    "stall_no", "stall_id",     "vendor_id",
    "commodity_code", "category",     "name",    "origin",       "trace_code", "pricing",  "qty",          "qty_actual",
    "amount_fen",     "refunded_fen", "channel", "consumer_ref", "paid_at",    "ready_at", "delivered_at", NULL};

START_TEST(test_the_feed_pages_by_position_only_the_markets_lines_as_api_md_lists)
{
    world_t w;
    json_t *items = NULL;
    int64_t last = 0;
    int more = 0;
    size_t n = 0;
    fulfil_result_t res;
    char ref[SALELOG_REF_LEN + 1];
    regex_t at;
    world_open(&w, "feed");
    int64_t a = product(&w, 0, "西红柿", 1299, 500), b = product(&w, 0, "土鸡蛋", 350, 0);
    cart_line_t lines[] = {{a, 500}, {b, 2}};
    int64_t order = place(&w, lines, 2, 1);
    int64_t v0 = vo_of(&w, order, 0), la = line_of(&w, order, a), lb = line_of(&w, order, b);
    accept_ok(&w, 0, v0);
    fulfil_pick_line_t pick[] = {{la, 450}, {lb, 2}};
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], v0, pick, 2, &res, NULL, NULL), DB_OK);
    /* another market's versions never show */
    int64_t other = new_market(&w, "m2");
    for (int i = 0; i < 3; i++)
        fake_version(&w.db, other, 3000000000LL + i);
    ck_assert_int_eq(salelog_sequence(&w.db, &n), DB_OK);
    ck_assert_int_eq(n, 7);

    /* bad pages */
    ck_assert_int_eq(salelog_feed(&w.db, w.market, 0, 0, &items, &last, &more), SF_E_INVALID);
    ck_assert_int_eq(salelog_feed(&w.db, w.market, 0, SALELOG_FEED_MAX + 1, &items, &last, &more), SF_E_INVALID);
    ck_assert_int_eq(salelog_feed(&w.db, w.market, -1, 10, &items, &last, &more), SF_E_INVALID);
    ck_assert_ptr_null(items);

    /* pages of 3: 3 (more), 1 (no more), then an empty page that keeps the position */
    ck_assert_int_eq(salelog_feed(&w.db, w.market, 0, 3, &items, &last, &more), DB_OK);
    ck_assert_int_eq(json_array_size(items), 3);
    ck_assert_int_eq(more, 1);
    int64_t pos3 = last;
    ck_assert_int_eq(
        pos3, q1(&w, "SELECT pos FROM sale_line_versions WHERE market_id = ? ORDER BY pos LIMIT 1 OFFSET 2", w.market));
    /* the first page is the paid versions, in position order */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "version")), 1);
    json_t *first = json_array_get(items, 0);
    for (size_t i = 0; feed_keys[i] != NULL; i++)
        ck_assert_msg(json_object_get(first, feed_keys[i]) != NULL, "no %s", feed_keys[i]);
    ck_assert_int_eq(json_object_size(first), 23);
    ck_assert_int_eq(json_integer_value(json_object_get(first, "event_id")), la);
    ck_assert_int_eq(json_integer_value(json_object_get(first, "line_id")), la);
    ck_assert_str_eq(json_string_value(json_object_get(first, "op")), "upsert");
    ck_assert_str_eq(json_string_value(json_object_get(first, "channel")), "online");
    ck_assert_str_eq(json_string_value(json_object_get(first, "stall_no")), "A-01");
    ck_assert_int_eq(json_integer_value(json_object_get(first, "stall_id")), w.stall[0]);
    ck_assert_int_eq(json_integer_value(json_object_get(first, "vendor_id")), w.vendor[0]);
    ck_assert_str_eq(json_string_value(json_object_get(first, "category")), "veg-leafy");
    ck_assert_str_eq(json_string_value(json_object_get(first, "commodity_code")), "A010101");
    ck_assert_str_eq(json_string_value(json_object_get(first, "origin")), "410122");
    ck_assert(json_is_null(json_object_get(first, "qty_actual")));
    ck_assert(json_is_null(json_object_get(first, "ready_at")));
    ck_assert(json_is_null(json_object_get(first, "delivered_at")));
    ck_assert_int_eq(json_integer_value(json_object_get(first, "qty")), 500);
    ck_assert_int_eq(json_integer_value(json_object_get(first, "amount_fen")), 1299);
    json_t *pricing = json_object_get(first, "pricing");
    ck_assert_str_eq(json_string_value(json_object_get(pricing, "mode")), "weight");
    ck_assert_int_eq(json_integer_value(json_object_get(pricing, "price_fen")), 1299);
    ck_assert_int_eq(json_integer_value(json_object_get(pricing, "per_g")), 500);
    ck_assert_int_eq(json_object_size(pricing), 3);
    json_t *second = json_array_get(items, 1);
    pricing = json_object_get(second, "pricing");
    ck_assert_str_eq(json_string_value(json_object_get(pricing, "mode")), "count");
    ck_assert_str_eq(json_string_value(json_object_get(pricing, "unit")), "个");
    ck_assert_int_eq(salelog_consumer_ref(&w.db, w.market, w.user, ref), 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "consumer_ref")), ref);
    ck_assert_int_eq(regcomp(&at,
                             "^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:[0-5][0-9]:[0-5][0-9]\\.[0-9]{3}\\+08:00$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    ck_assert_int_eq(regexec(&at, json_string_value(json_object_get(first, "paid_at")), 0, NULL, 0), 0);
    ck_assert_int_eq(
        t_db_i64(&w.db,
                 "SELECT COUNT(*) FROM orders WHERE id = ? AND "
                 "CONCAT(LEFT(DATE_FORMAT(paid_at + INTERVAL 8 HOUR, '%Y-%m-%dT%H:%i:%s.%f'), 23), '+08:00') = ?",
                 (db_param_t[]){DB_I64(order), DB_STR(json_string_value(json_object_get(first, "paid_at")))}, 2),
        1);
    regfree(&at);
    json_decref(items);

    ck_assert_int_eq(salelog_feed(&w.db, w.market, pos3, 3, &items, &last, &more), DB_OK);
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_int_eq(more, 0);
    ck_assert_int_gt(last, pos3);
    json_t *picked = json_array_get(items, 0);
    ck_assert_int_eq(json_integer_value(json_object_get(picked, "version")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(picked, "qty_actual")),
                     json_integer_value(json_object_get(picked, "event_id")) == la ? 450 : 2);
    json_decref(items);
    int64_t end = last;
    ck_assert_int_eq(salelog_feed(&w.db, w.market, end, 3, &items, &last, &more), DB_OK);
    ck_assert_int_eq(json_array_size(items), 0);
    ck_assert_int_eq(last, end);
    ck_assert_int_eq(more, 0);
    json_decref(items);

    /* positions ascend across the pages; exactly a full page says more */
    json_t *all = json_array();
    last = 0;
    ck_assert_int_eq(feed_all(&w.db, w.market, &last, 2, all), 4);
    ck_assert_int_eq(json_array_size(all), 4);
    json_decref(all);
    last = 0;
    ck_assert_int_eq(salelog_feed(&w.db, w.market, 0, 4, &items, &last, &more), DB_OK);
    ck_assert_int_eq(more, 1); /* full: the client asks once more and gets nothing */
    json_decref(items);
    ck_assert_int_eq(salelog_feed(&w.db, other, 0, 10, &items, &last, &more), DB_OK);
    ck_assert_int_eq(json_array_size(items), 3);
    json_decref(items);
    world_close(&w);
}
END_TEST

/* ================================================================ what the hooks cost */

static int64_t executed(world_t *w)
{
    return q1(
        w, "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME = 'COM_STMT_EXECUTE'", 0);
}

START_TEST(test_the_hooks_add_two_statements_to_a_payment_and_to_a_pick)
{
    world_t w;
    fulfil_result_t res;
    char ref[SALELOG_REF_LEN + 1];
    world_open(&w, "count");
    int64_t a = product(&w, 0, "西红柿", 1299, 500), b = product(&w, 0, "土鸡蛋", 350, 0);
    int64_t x = product(&w, 1, "白菜", 200, 500);
    cart_line_t lines[] = {{a, 500}, {b, 2}, {x, 500}};
    ck_assert_int_eq(salelog_consumer_ref(&w.db, w.market, w.user, ref), 0); /* the key, read once */
    int64_t base = executed(&w);
    int64_t probe = executed(&w) - base; /* what reading the counter itself costs */

    /* a payment of 3 lines in 2 vendor orders, the whole transaction */
    int64_t order = place(&w, lines, 3, 0);
    pay_attempt_t at;
    pay_outcome_t out = 0;
    ck_assert_int_eq(payment_create(&w.db, w.user, order, PAY_WECHAT, &at), DB_OK);
    pay_paid_t paid = {.provider = PAY_WECHAT,
                       .out_trade_no = at.out_trade_no,
                       .transaction_id = "4200-cnt",
                       .amount_fen = at.amount_fen};
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    base = executed(&w);
    ck_assert_int_eq(payment_record_paid_tx(&w.db, &paid, &out), DB_OK);
    int64_t pay_total = executed(&w) - base - probe;
    ck_assert_int_eq(db_commit(&w.db), DB_OK);
    /* the hook alone, run again on the same order inside a transaction that is rolled back */
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    exec1(&w, "DELETE FROM sale_line_versions WHERE order_id = ?", order);
    exec1(&w, "DELETE FROM sale_lines WHERE order_id = ?", order);
    base = executed(&w);
    ck_assert_int_eq(salelog_paid_tx(&w.db, order, w.market, w.user), DB_OK);
    int64_t pay_hook = executed(&w) - base - probe;
    db_rollback(&w.db);

    /* a pick of 2 lines (one lighter), the whole transaction as fulfil_pick runs it */
    int64_t v0 = vo_of(&w, order, 0);
    accept_ok(&w, 0, v0);
    fulfil_pick_line_t pick[] = {{line_of(&w, order, a), 450}, {line_of(&w, order, b), 2}};
    base = executed(&w);
    ck_assert_int_eq(fulfil_pick(&w.db, &w.who[0], v0, pick, 2, &res, NULL, NULL), DB_OK);
    int64_t pick_total = executed(&w) - base - probe;
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    base = executed(&w);
    ck_assert_int_eq(salelog_vendor_tx(&w.db, v0, "picked"), DB_OK);
    int64_t pick_hook = executed(&w) - base - probe;
    db_rollback(&w.db);
    ck_assert_int_eq(pay_hook, 2);
    ck_assert_int_eq(pick_hook, 2);
    fprintf(stderr,
            "statements: a payment (3 lines, 2 vendor orders) %lld, of which the sale log %lld;"
            " a pick (2 lines, with its refund) %lld, of which the sale log %lld\n",
            (long long)pay_total, (long long)pay_hook, (long long)pick_total, (long long)pick_hook);
    world_close(&w);
}
END_TEST

static Suite *salelog_suite(void)
{
    Suite *s = suite_create("salelog");
    TCase *tc = tcase_create("salelog");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_each_change_writes_one_version_per_line_and_sale_lines_is_the_newest);
    tcase_add_test(tc, test_a_change_rolled_back_leaves_no_version_and_a_failed_append_fails_the_change);
    tcase_add_test(tc, test_every_path_that_voids_goods_after_payment_is_logged_and_unpaid_orders_write_nothing);
    tcase_add_test(tc, test_a_line_picked_to_nothing_is_void_and_refunded_in_full);
    tcase_add_test(tc, test_the_sequencer_never_waits_for_an_open_version_and_never_skips_it);
    tcase_add_test(tc, test_two_sequencers_beside_a_writer_never_give_a_position_twice_and_a_reader_sees_all);
    tcase_add_test(tc, test_the_salelog_job_positions_a_full_batch_then_waits_the_interval);
    tcase_add_test(tc, test_changes_of_different_orders_never_wait_for_each_other);
    tcase_add_test(tc, test_the_consumer_ref_is_a_stable_pseudonym_per_market);
    tcase_add_test(tc, test_the_feed_pages_by_position_only_the_markets_lines_as_api_md_lists);
    tcase_add_test(tc, test_the_hooks_add_two_statements_to_a_payment_and_to_a_pick);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_salelog"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tsalelog_%d", (int)getpid());
    db_library_init();
    int failed = t_run(salelog_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
