/*
 * models/payment.c (and the paid cancel and refunds rendering of models/order.c) against a
 * scratch database of its own (sf_tpay_<pid>_<tag>, swept by main): a payment recorded once,
 * also when ten notices race; duplicates, unknown trades and wrong amounts writing nothing; a
 * late payment after cancel (also on a closed attempt) and a double payment by the other
 * provider recorded and refunded in full automatically; refunded_fen never above paid_fen
 * (the model refuses first, the schema's CHECK guards too); a refund settled once; the
 * consumer's cancel after payment; the notification log's dedup by event id. Every test ends
 * by checking the balance: orders.paid_fen = Σ paid attempts, orders.refunded_fen = Σ refunds
 * not failed, refunded <= paid.
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
#include "models/order.h"
#include "models/payment.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

/* ================================================================ fixtures */

typedef struct world {
    config_t cfg;
    db_t db;
    int64_t market, user, other_user, address, stall[2], vendor[2], product[2];
} world_t;

static int64_t q1(world_t *w, const char *sql, int64_t arg)
{
    db_param_t p[] = {DB_I64(arg)};
    return t_db_i64(&w->db, sql, p, strstr(sql, "?") != NULL ? 1 : 0);
}

static int64_t add_user(db_t *db, const char *openid)
{
    return t_db_insert(db, "INSERT INTO users (role, wechat_openid, display_name) VALUES ('consumer', ?, 'c')",
                       (db_param_t[]){DB_STR(openid)}, 1);
}

static void world_open(world_t *w, const char *tag)
{
    char err[512];
    memset(w, 0, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    w->market = t_db_insert(&w->db,
                            "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules,"
                            " open_hours) VALUES ('m1', '市场', 'addr', 34.750000, 113.620000, '410103', '', '[]', '',"
                            " '6-20')",
                            NULL, 0);
    w->user = add_user(&w->db, "o-user-1");
    w->other_user = add_user(&w->db, "o-user-2");
    w->address = t_db_insert(&w->db,
                             "INSERT INTO addresses (market_id, user_id, name, phone, text, lat, lng)"
                             " VALUES (NULL, ?, '王五', '13800000000', '郑州市二七区', 34.751000, 113.621000)",
                             (db_param_t[]){DB_I64(w->user)}, 1);
    for (int i = 0; i < 2; i++) {
        char no[8];
        snprintf(no, sizeof(no), "A-%02d", i + 1);
        w->vendor[i] = t_db_insert(&w->db,
                                   "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                                   " VALUES (?, '李四', '13900000000', '蔬菜', 'A')",
                                   (db_param_t[]){DB_I64(w->market)}, 1);
        w->stall[i] = t_db_insert(&w->db,
                                  "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id)"
                                  " VALUES (?, ?, 'z', 1, 1, ?)",
                                  (db_param_t[]){DB_I64(w->market), DB_STR(no), DB_I64(w->vendor[i])}, 3);
        db_param_t p[] = {DB_I64(w->market), DB_I64(w->stall[i]), DB_I64(w->vendor[i]), DB_STR(i ? "白菜" : "鸡蛋")};
        w->product[i] =
            t_db_insert(&w->db,
                        "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                        " pricing_mode, price_fen, per_g, unit, stock, origin, trace_code) VALUES (?, ?, ?,"
                        " 'veg-leafy', 'A010101', ?, 'count', 350, NULL, '个', 100, '410122', 'TR-1')",
                        p, 4);
    }
}

static void world_close(world_t *w)
{
    t_db_scratch_close(&w->db, &w->cfg);
}

/* An order of 2 eggs at stall 0 and 3 cabbages at stall 1: 1750 fen of goods, 500 delivery. */
static int64_t place(world_t *w)
{
    int64_t id = 0;
    status_detail_t details = {0};
    cart_line_t lines[] = {{w->product[0], 2}, {w->product[1], 3}};
    order_checkout_t in = {.user_id = w->user,
                           .market_id = w->market,
                           .address_id = w->address,
                           .lines = lines,
                           .nlines = 2,
                           .delivery_fee_fen = 500,
                           .free_delivery_from_fen = 5000,
                           .radius_m = 5000,
                           .unpaid_timeout_s = 900};
    int rc = order_checkout(&w->db, &in, &id, &details);
    ck_assert_msg(rc == DB_OK, "checkout: %d %s", rc, w->db.err);
    return id;
}

static void attempt(world_t *w, int64_t order, pay_provider_t p, pay_attempt_t *a)
{
    int rc = payment_create(&w->db, w->user, order, p, a);
    ck_assert_msg(rc == DB_OK, "payment_create: %d %s", rc, w->db.err);
    ck_assert_int_gt(a->id, 0);
}

/* payment_record_paid_tx in a transaction of its own; the outcome. */
static pay_outcome_t pay(world_t *w, const pay_attempt_t *a, const char *txid, int64_t amount)
{
    pay_outcome_t out = 0;
    pay_paid_t paid = {
        .provider = a->provider, .out_trade_no = a->out_trade_no, .transaction_id = txid, .amount_fen = amount};
    ck_assert_int_eq(db_begin(&w->db), DB_OK);
    int rc = payment_record_paid_tx(&w->db, &paid, &out);
    ck_assert_msg(rc == DB_OK, "record: %d %s", rc, w->db.err);
    ck_assert_int_eq(db_commit(&w->db), DB_OK);
    return out;
}

static int refund(world_t *w, int64_t payment_id, int64_t amount, const char *reason, int64_t *id)
{
    int64_t dummy = 0;
    ck_assert_int_eq(db_begin(&w->db), DB_OK);
    int rc = payment_refund_tx(&w->db, payment_id, amount, reason, id != NULL ? id : &dummy);
    if (rc == DB_OK)
        ck_assert_int_eq(db_commit(&w->db), DB_OK);
    else
        db_rollback(&w->db);
    return rc;
}

static int settle(world_t *w, const char *no, const char *provider_id, int ok)
{
    ck_assert_int_eq(db_begin(&w->db), DB_OK);
    int rc = payment_refund_settle_tx(&w->db, no, provider_id, ok);
    ck_assert_int_eq(db_commit(&w->db), DB_OK);
    return rc;
}

static int status_is(world_t *w, const char *table, int64_t id, const char *status)
{
    char sql[128];
    snprintf(sql, sizeof(sql), "SELECT status = ? FROM %s WHERE id = ?", table);
    return t_db_i64(&w->db, sql, (db_param_t[]){DB_STR(status), DB_I64(id)}, 2) == 1;
}

static int64_t paid_fen(world_t *w, int64_t order)
{
    return q1(w, "SELECT paid_fen FROM orders WHERE id = ?", order);
}

static int64_t refunded_fen(world_t *w, int64_t order)
{
    return q1(w, "SELECT refunded_fen FROM orders WHERE id = ?", order);
}

static int64_t outbox_rows(world_t *w, const char *topic)
{
    return t_db_i64(&w->db, "SELECT COUNT(*) FROM outbox WHERE topic = ?", (db_param_t[]){DB_STR(topic)}, 1);
}

/* sum paid − sum refunded = net, from the rows and on the order alike; refunded <= paid. */
static void assert_balance(world_t *w, int64_t order, int64_t want_paid, int64_t want_refunded)
{
    int64_t paid = -1, refunded = -1;
    ck_assert_int_eq(payment_balance(&w->db, order, &paid, &refunded), DB_OK);
    ck_assert_int_eq(paid, want_paid);
    ck_assert_int_eq(refunded, want_refunded);
    ck_assert_int_eq(paid_fen(w, order), paid);
    ck_assert_int_eq(refunded_fen(w, order), refunded);
    ck_assert_int_le(refunded, paid);
    ck_assert_int_eq(q1(w, "SELECT paid_fen - refunded_fen FROM orders WHERE id = ?", order), paid - refunded);
}

/* ================================================================ attempts */

START_TEST(test_an_attempt_is_created_once_per_provider_while_it_is_open)
{
    world_t w;
    pay_attempt_t a, b, c, d;
    world_open(&w, "attempt");
    int64_t order = place(&w);
    attempt(&w, order, PAY_WECHAT, &a);
    ck_assert_int_eq(a.created, 1);
    ck_assert_int_eq(a.amount_fen, 2250);
    ck_assert_int_eq(strlen(a.out_trade_no), PAY_OUT_TRADE_NO_LEN);
    ck_assert_int_eq(a.out_trade_no[0], 'P');
    for (size_t i = 1; i < strlen(a.out_trade_no); i++)
        ck_assert_msg(strchr("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz", a.out_trade_no[i]), "%s",
                      a.out_trade_no);
    ck_assert_str_eq(a.openid, "o-user-1");
    attempt(&w, order, PAY_WECHAT, &b);
    ck_assert_int_eq(b.created, 0);
    ck_assert_int_eq(b.id, a.id);
    ck_assert_str_eq(b.out_trade_no, a.out_trade_no);
    attempt(&w, order, PAY_ALIPAY, &c); /* the other provider may coexist */
    ck_assert_int_eq(c.created, 1);
    ck_assert_str_ne(c.out_trade_no, a.out_trade_no);
    /* another consumer's order is not found; an unknown provider is refused */
    ck_assert_int_eq(payment_create(&w.db, w.other_user, order, PAY_WECHAT, &d), DB_NOROW);
    ck_assert_int_eq(payment_create(&w.db, w.user, order + 100, PAY_WECHAT, &d), DB_NOROW);
    ck_assert_int_eq(payment_create(&w.db, w.user, order, 7, &d), SF_E_INVALID);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM payments", 0), 2);
    /* a closed attempt is not resumed: a new one is made */
    ck_assert_int_eq(payment_close_tx(&w.db, a.id), DB_OK);
    ck_assert_int_eq(payment_close_tx(&w.db, a.id), SF_E_PAYMENT_STATE);
    attempt(&w, order, PAY_WECHAT, &d);
    ck_assert_int_eq(d.created, 1);
    ck_assert_int_ne(d.id, a.id);
    /* not payable once cancelled */
    int64_t m = 0;
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, order, &m), DB_OK);
    ck_assert_int_eq(payment_create(&w.db, w.user, order, PAY_WECHAT, &d), SF_E_NOT_PAYABLE);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM payments", 0), 3);
    assert_balance(&w, order, 0, 0);
    world_close(&w);
}
END_TEST

/* ================================================================ recording */

START_TEST(test_a_payment_is_recorded_once_and_moves_the_order_forward)
{
    world_t w;
    pay_attempt_t a;
    world_open(&w, "record");
    int64_t order = place(&w);
    attempt(&w, order, PAY_WECHAT, &a);
    ck_assert_int_eq(pay(&w, &a, "4200000001", 2250), PAY_RECORDED);
    ck_assert(status_is(&w, "orders", order, "paid"));
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status = 'new'", order), 2);
    ck_assert_int_eq(q1(&w, "SELECT paid_at IS NOT NULL FROM orders WHERE id = ?", order), 1);
    ck_assert(status_is(&w, "payments", a.id, "paid"));
    ck_assert_int_eq(t_db_i64(&w.db, "SELECT transaction_id = '4200000001' FROM payments WHERE id = ?",
                              (db_param_t[]){DB_I64(a.id)}, 1),
                     1);
    ck_assert_int_eq(outbox_rows(&w, "order.paid"), 1);
    ck_assert_int_eq(
        t_db_i64(&w.db, "SELECT payload LIKE CONCAT('%\"order_id\":', ?, '%') FROM outbox WHERE topic = 'order.paid'",
                 (db_param_t[]){DB_I64(order)}, 1),
        1);
    int64_t events = q1(&w, "SELECT COUNT(*) FROM order_events", 0);
    /* the same notice again, and a different transaction id for the same attempt: nothing */
    ck_assert_int_eq(pay(&w, &a, "4200000001", 2250), PAY_DUPLICATE);
    ck_assert_int_eq(pay(&w, &a, "4200000002", 2250), PAY_DUPLICATE);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_events", 0), events);
    ck_assert_int_eq(outbox_rows(&w, "order.paid"), 1);
    ck_assert_int_eq(outbox_rows(&w, "refund.requested"), 0);
    /* a payment after paid cannot be created */
    pay_attempt_t b;
    ck_assert_int_eq(payment_create(&w.db, w.user, order, PAY_ALIPAY, &b), SF_E_NOT_PAYABLE);
    assert_balance(&w, order, 2250, 0);
    world_close(&w);
}
END_TEST

START_TEST(test_an_unknown_trade_a_wrong_provider_or_a_wrong_amount_writes_nothing)
{
    world_t w;
    pay_attempt_t a;
    world_open(&w, "refuse");
    int64_t order = place(&w);
    attempt(&w, order, PAY_WECHAT, &a);
    int64_t events = q1(&w, "SELECT COUNT(*) FROM order_events", 0);
    int64_t outbox = q1(&w, "SELECT COUNT(*) FROM outbox", 0);
    ck_assert_int_eq(pay(&w, &a, "4200000001", 2251), PAY_AMOUNT_MISMATCH);
    ck_assert_int_eq(pay(&w, &a, "4200000001", 2249), PAY_AMOUNT_MISMATCH);
    ck_assert_int_eq(pay(&w, &a, "4200000001", 0), PAY_AMOUNT_MISMATCH);
    pay_attempt_t other = a;
    other.provider = PAY_ALIPAY; /* a WeChat trade number in an Alipay notice */
    ck_assert_int_eq(pay(&w, &other, "2026000001", 2250), PAY_UNKNOWN_TRADE);
    snprintf(other.out_trade_no, sizeof(other.out_trade_no), "P00000000000000000000");
    other.provider = PAY_WECHAT;
    ck_assert_int_eq(pay(&w, &other, "4200000001", 2250), PAY_UNKNOWN_TRADE);
    pay_outcome_t out;
    pay_paid_t empty = {
        .provider = PAY_WECHAT, .out_trade_no = a.out_trade_no, .transaction_id = "", .amount_fen = 2250};
    ck_assert_int_eq(payment_record_paid_tx(&w.db, &empty, &out), SF_E_INVALID);
    ck_assert(status_is(&w, "orders", order, "pending_payment"));
    ck_assert(status_is(&w, "payments", a.id, "created"));
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM payments WHERE transaction_id IS NOT NULL", 0), 0);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_events", 0), events);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM outbox", 0), outbox);
    assert_balance(&w, order, 0, 0);
    /* and the right amount still pays */
    ck_assert_int_eq(pay(&w, &a, "4200000001", 2250), PAY_RECORDED);
    assert_balance(&w, order, 2250, 0);
    world_close(&w);
}
END_TEST

START_TEST(test_a_late_payment_after_cancel_is_refunded_in_full)
{
    world_t w;
    pay_attempt_t a, b;
    int64_t m = 0;
    world_open(&w, "late");
    int64_t order = place(&w);
    attempt(&w, order, PAY_WECHAT, &a);
    attempt(&w, order, PAY_ALIPAY, &b);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, order, &m), DB_OK);
    ck_assert_int_eq(q1(&w, "SELECT stock FROM products WHERE id = ?", w.product[0]), 100);
    ck_assert_int_eq(pay(&w, &a, "4200000009", 2250), PAY_REFUNDED_LATE);
    ck_assert(status_is(&w, "orders", order, "cancelled")); /* never revived */
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status = 'cancelled'", order),
                     2);
    ck_assert_int_eq(q1(&w, "SELECT stock FROM products WHERE id = ?", w.product[0]), 100);
    ck_assert(status_is(&w, "payments", a.id, "paid"));
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND reason = 'late_payment'"
                        " AND status = 'pending' AND amount_fen = 2250",
                        a.id),
                     1);
    ck_assert_int_eq(outbox_rows(&w, "refund.requested"), 1);
    ck_assert_int_eq(outbox_rows(&w, "order.paid"), 0);
    ck_assert_int_eq(pay(&w, &a, "4200000009", 2250), PAY_DUPLICATE); /* refunded once */
    ck_assert_int_eq(outbox_rows(&w, "refund.requested"), 1);
    assert_balance(&w, order, 2250, 2250);
    /* a late payment on an attempt we closed at the provider is taken and refunded too */
    ck_assert_int_eq(payment_close_tx(&w.db, b.id), DB_OK);
    ck_assert_int_eq(pay(&w, &b, "2026000009", 2250), PAY_REFUNDED_LATE);
    ck_assert(status_is(&w, "payments", b.id, "paid"));
    assert_balance(&w, order, 4500, 4500);
    json_t *doc = NULL;
    ck_assert_int_eq(order_render(&w.db, order, w.user, &doc), DB_OK);
    json_t *refunds = json_object_get(doc, "refunds");
    ck_assert_int_eq(json_array_size(refunds), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(refunds, 0), "reason")), "late_payment");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(refunds, 0), "status")), "pending");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(refunds, 1), "amount_fen")), 2250);
    ck_assert(json_is_integer(json_object_get(json_array_get(refunds, 1), "id")));
    json_decref(doc);
    world_close(&w);
}
END_TEST

START_TEST(test_a_double_payment_by_the_other_provider_is_refunded)
{
    world_t w;
    pay_attempt_t a, b;
    world_open(&w, "double");
    int64_t order = place(&w);
    attempt(&w, order, PAY_WECHAT, &a);
    attempt(&w, order, PAY_ALIPAY, &b);
    ck_assert_int_eq(pay(&w, &a, "4200000011", 2250), PAY_RECORDED);
    ck_assert_int_eq(pay(&w, &b, "2026000011", 2250), PAY_REFUNDED_DOUBLE);
    ck_assert(status_is(&w, "orders", order, "paid"));
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE payment_id = ? AND reason = 'double_payment'", b.id),
                     1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE payment_id = ?", a.id), 0);
    ck_assert_int_eq(outbox_rows(&w, "order.paid"), 1);
    ck_assert_int_eq(pay(&w, &b, "2026000011", 2250), PAY_DUPLICATE);
    assert_balance(&w, order, 4500, 2250);
    world_close(&w);
}
END_TEST

/* ---- ten copies of one notice at once: one records, nine are duplicates ---- */

typedef struct racer {
    world_t *w;
    const pay_attempt_t *a;
    int rc;
    pay_outcome_t out;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    db_t db;
    pay_paid_t paid = {.provider = r->a->provider,
                       .out_trade_no = r->a->out_trade_no,
                       .transaction_id = "4200000077",
                       .amount_fen = r->a->amount_fen};
    db_thread_init();
    r->rc = db_open(&db, &r->w->cfg);
    for (int i = 0; i < 5 && r->rc == DB_OK; i++) { /* a deadlock is retried, as a handler would */
        if ((r->rc = db_begin(&db)) != DB_OK)
            break;
        r->rc = payment_record_paid_tx(&db, &paid, &r->out);
        if (r->rc == DB_OK)
            r->rc = db_commit(&db);
        if (r->rc != DB_OK)
            db_rollback(&db);
        if (r->rc != DB_DEADLOCK)
            break;
        r->rc = DB_OK;
    }
    db_close(&db);
    db_thread_end();
    return NULL;
}

START_TEST(test_ten_copies_of_a_notice_at_once_record_the_payment_once)
{
    world_t w;
    pay_attempt_t a;
    pthread_t t[10];
    racer_t r[10];
    world_open(&w, "race");
    int64_t order = place(&w);
    attempt(&w, order, PAY_WECHAT, &a);
    for (int i = 0; i < 10; i++) {
        r[i] = (racer_t){.w = &w, .a = &a};
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    int recorded = 0;
    for (int i = 0; i < 10; i++) {
        pthread_join(t[i], NULL);
        ck_assert_msg(r[i].rc == DB_OK, "racer %d: %d", i, r[i].rc);
        ck_assert(r[i].out == PAY_RECORDED || r[i].out == PAY_DUPLICATE);
        recorded += r[i].out == PAY_RECORDED;
    }
    ck_assert_int_eq(recorded, 1);
    ck_assert_int_eq(outbox_rows(&w, "order.paid"), 1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_events WHERE to_status = 'paid'", 0), 1);
    assert_balance(&w, order, 2250, 0);
    world_close(&w);
}
END_TEST

/* ================================================================ refunds */

START_TEST(test_refunds_never_exceed_what_was_paid)
{
    world_t w;
    pay_attempt_t a, b;
    int64_t r1 = 0, r2 = 0;
    world_open(&w, "exceed");
    int64_t order = place(&w);
    attempt(&w, order, PAY_WECHAT, &a);
    ck_assert_int_eq(refund(&w, a.id, 100, "rejected", NULL), SF_E_PAYMENT_STATE); /* not paid yet */
    ck_assert_int_eq(pay(&w, &a, "4200000021", 2250), PAY_RECORDED);
    ck_assert_int_eq(refund(&w, a.id, 2251, "rejected", NULL), SF_E_REFUND_EXCEEDS);
    ck_assert_int_eq(refund(&w, a.id, INT64_MAX, "rejected", NULL), SF_E_REFUND_EXCEEDS);
    ck_assert_int_eq(refund(&w, a.id, 0, "rejected", NULL), SF_E_INVALID);
    ck_assert_int_eq(refund(&w, a.id, -5, "rejected", NULL), SF_E_INVALID);
    ck_assert_int_eq(refund(&w, a.id, 5, "", NULL), SF_E_INVALID);
    ck_assert_int_eq(refund(&w, a.id + 1000, 5, "rejected", NULL), DB_NOROW);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds", 0), 0);
    assert_balance(&w, order, 2250, 0);
    ck_assert_int_eq(refund(&w, a.id, 700, "rejected", &r1), DB_OK);
    ck_assert_int_eq(refund(&w, a.id, 1551, "weight_difference", NULL), SF_E_REFUND_EXCEEDS);
    ck_assert_int_eq(refund(&w, a.id, 1550, "weight_difference", &r2), DB_OK);
    ck_assert_int_ne(r1, r2);
    ck_assert_int_eq(refund(&w, a.id, 1, "rejected", NULL), SF_E_REFUND_EXCEEDS);
    ck_assert_int_eq(outbox_rows(&w, "refund.requested"), 2);
    assert_balance(&w, order, 2250, 2250);
    /* the schema guards too */
    ck_assert_int_ne(db_exec(&w.db, "UPDATE orders SET refunded_fen = paid_fen + 1 WHERE id = ?",
                             (db_param_t[]){DB_I64(order)}, 1, NULL, NULL),
                     DB_OK);
    /* an attempt's own amount bounds its refunds even when the order has more paid */
    attempt(&w, place(&w), PAY_ALIPAY, &b);
    ck_assert_int_eq(pay(&w, &b, "2026000021", 2250), PAY_RECORDED);
    ck_assert_int_eq(refund(&w, a.id, 1, "rejected", NULL), SF_E_REFUND_EXCEEDS);
    assert_balance(&w, b.order_id, 2250, 0);
    world_close(&w);
}
END_TEST

START_TEST(test_a_refund_is_settled_once)
{
    world_t w;
    pay_attempt_t a;
    pay_refund_t r1, r2;
    int64_t id1 = 0, id2 = 0;
    world_open(&w, "settle");
    int64_t order = place(&w);
    attempt(&w, order, PAY_WECHAT, &a);
    ck_assert_int_eq(pay(&w, &a, "4200000031", 2250), PAY_RECORDED);
    ck_assert_int_eq(refund(&w, a.id, 1000, "rejected", &id1), DB_OK);
    ck_assert_int_eq(refund(&w, a.id, 250, "weight_difference", &id2), DB_OK);
    ck_assert_int_eq(payment_refund_get(&w.db, id1, &r1), DB_OK);
    ck_assert_int_eq(payment_refund_get(&w.db, id2, &r2), DB_OK);
    ck_assert_str_eq(r1.status, "pending");
    ck_assert_str_eq(r1.out_trade_no, a.out_trade_no);
    ck_assert_str_eq(r1.transaction_id, "4200000031");
    ck_assert_int_eq(r1.payment_amount_fen, 2250);
    ck_assert_int_eq(r1.provider, PAY_WECHAT);
    ck_assert_str_ne(r1.out_refund_no, r2.out_refund_no);
    ck_assert_int_eq(r1.out_refund_no[0], 'R');
    assert_balance(&w, order, 2250, 1250);
    ck_assert_int_eq(settle(&w, r1.out_refund_no, "50300001", 1), DB_OK);
    ck_assert(status_is(&w, "refunds", id1, "succeeded"));
    ck_assert_int_eq(q1(&w, "SELECT settled_at IS NOT NULL FROM refunds WHERE id = ?", id1), 1);
    /* twice, or failed after success: one change */
    ck_assert_int_eq(settle(&w, r1.out_refund_no, "50300002", 1), DB_OK);
    ck_assert_int_eq(settle(&w, r1.out_refund_no, NULL, 0), DB_OK);
    ck_assert(status_is(&w, "refunds", id1, "succeeded"));
    ck_assert_int_eq(t_db_i64(&w.db, "SELECT provider_refund_id = '50300001' FROM refunds WHERE id = ?",
                              (db_param_t[]){DB_I64(id1)}, 1),
                     1);
    assert_balance(&w, order, 2250, 1250);
    /* a failed refund gives the money back to the balance, once */
    ck_assert_int_eq(settle(&w, r2.out_refund_no, NULL, 0), DB_OK);
    ck_assert_int_eq(settle(&w, r2.out_refund_no, NULL, 0), DB_OK);
    ck_assert_int_eq(settle(&w, r2.out_refund_no, NULL, 1), DB_OK);
    ck_assert(status_is(&w, "refunds", id2, "failed"));
    assert_balance(&w, order, 2250, 1000);
    ck_assert_int_eq(settle(&w, "R-none", NULL, 1), DB_NOROW);
    ck_assert_int_eq(payment_refund_get(&w.db, id2 + 100, &r1), DB_NOROW);
    world_close(&w);
}
END_TEST

/* ================================================================ the consumer's cancel */

START_TEST(test_a_cancel_after_payment_refunds_in_full_until_a_vendor_accepts)
{
    world_t w;
    pay_attempt_t a;
    int64_t m = 0;
    world_open(&w, "pcancel");
    int64_t order = place(&w);
    attempt(&w, order, PAY_ALIPAY, &a);
    ck_assert_int_eq(pay(&w, &a, "2026000041", 2250), PAY_RECORDED);
    ck_assert_int_eq(q1(&w, "SELECT stock FROM products WHERE id = ?", w.product[1]), 97);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.other_user, order, &m), DB_NOROW);
    ck_assert(status_is(&w, "orders", order, "paid"));
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, order, &m), DB_OK);
    ck_assert_int_eq(m, w.market);
    ck_assert(status_is(&w, "orders", order, "cancelled"));
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status = 'cancelled'", order),
                     2);
    ck_assert_int_eq(q1(&w, "SELECT stock FROM products WHERE id = ?", w.product[0]), 100);
    ck_assert_int_eq(q1(&w, "SELECT stock FROM products WHERE id = ?", w.product[1]), 100);
    ck_assert_int_eq(q1(&w,
                        "SELECT COUNT(*) FROM refunds WHERE order_id = ? AND reason = 'cancelled'"
                        " AND amount_fen = 2250",
                        order),
                     1);
    ck_assert_int_eq(outbox_rows(&w, "order.cancelled"), 1);
    assert_balance(&w, order, 2250, 2250);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, order, &m), SF_E_ALREADY_CANCELLED);
    ck_assert_int_eq(q1(&w, "SELECT stock FROM products WHERE id = ?", w.product[0]), 100);
    assert_balance(&w, order, 2250, 2250);

    /* a vendor accepted: too late, nothing changes */
    int64_t second = place(&w);
    attempt(&w, second, PAY_WECHAT, &a);
    ck_assert_int_eq(pay(&w, &a, "4200000041", 2250), PAY_RECORDED);
    int64_t vo = q1(&w, "SELECT MIN(id) FROM vendor_orders WHERE order_id = ?", second);
    ck_assert_int_eq(db_exec(&w.db, "UPDATE vendor_orders SET status = 'accepted' WHERE id = ?",
                             (db_param_t[]){DB_I64(vo)}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, second, &m), SF_E_TOO_LATE);
    ck_assert(status_is(&w, "orders", second, "paid"));
    ck_assert(status_is(&w, "vendor_orders", vo, "accepted"));
    ck_assert_int_eq(q1(&w, "SELECT stock FROM products WHERE id = ?", w.product[0]), 98);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", second), 0);
    assert_balance(&w, second, 2250, 0);

    /* a vendor rejected (its part refunded, stock back): the cancel refunds the rest only */
    int64_t third = place(&w);
    attempt(&w, third, PAY_WECHAT, &a);
    ck_assert_int_eq(pay(&w, &a, "4200000042", 2250), PAY_RECORDED);
    int64_t rejected = q1(&w, "SELECT MIN(id) FROM vendor_orders WHERE order_id = ?", third);
    ck_assert_int_eq(db_exec(&w.db, "UPDATE vendor_orders SET status = 'rejected' WHERE id = ?",
                             (db_param_t[]){DB_I64(rejected)}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(refund(&w, a.id, 700, "rejected", NULL), DB_OK);
    int64_t eggs = q1(&w, "SELECT stock FROM products WHERE id = ?", w.product[0]);
    ck_assert_int_eq(payment_cancel_by_consumer(&w.db, w.user, third, &m), DB_OK);
    ck_assert_int_eq(q1(&w,
                        "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE order_id = ?"
                        " AND reason = 'cancelled'",
                        third),
                     1550);
    ck_assert_int_eq(q1(&w, "SELECT stock FROM products WHERE id = ?", w.product[0]), eggs); /* rejected: not again */
    ck_assert(status_is(&w, "vendor_orders", rejected, "rejected"));
    assert_balance(&w, third, 2250, 2250);
    world_close(&w);
}
END_TEST

/* ================================================================ the notification log */

START_TEST(test_the_notification_log_keeps_each_event_once_and_every_refusal)
{
    world_t w;
    world_open(&w, "nlog");
    json_t *h = json_pack("{s:s, s:s}", "wechatpay-serial", "5157F09EFDC096DE15EBE81A47057A72", "wechatpay-nonce", "n");
    const char body[] = "{\"id\":\"EV-1\",\"event_type\":\"TRANSACTION.SUCCESS\"}";
    ck_assert_int_eq(payment_notification_log(&w.db, PAY_WECHAT, "EV-1", h, body, strlen(body), "recorded", "P1"),
                     DB_OK);
    ck_assert_int_eq(payment_notification_log(&w.db, PAY_WECHAT, "EV-1", h, body, strlen(body), "duplicate", "P1"),
                     DB_OK);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM payment_notifications", 0), 1);
    ck_assert_int_eq(q1(&w, "SELECT times_seen FROM payment_notifications WHERE event_id = 'EV-1'", 0), 2);
    ck_assert_int_eq(q1(&w, "SELECT verdict = 'recorded' FROM payment_notifications WHERE event_id = 'EV-1'", 0), 1);
    ck_assert_int_eq(q1(&w, "SELECT JSON_VALUE(headers, '$.\"wechatpay-nonce\"') = 'n' FROM payment_notifications", 0),
                     1);
    /* the same id from the other provider is another event */
    ck_assert_int_eq(payment_notification_log(&w.db, PAY_ALIPAY, "EV-1", NULL, "a=b", 3, "recorded", NULL), DB_OK);
    /* refused ones have no verified id: each is kept */
    const char bad[] = {'\xff', '\xfe', 'x', '\0', 'y'};
    ck_assert_int_eq(payment_notification_log(&w.db, PAY_WECHAT, NULL, h, bad, sizeof(bad), "refused:signature", NULL),
                     DB_OK);
    ck_assert_int_eq(payment_notification_log(&w.db, PAY_WECHAT, NULL, h, bad, sizeof(bad), "refused:signature", NULL),
                     DB_OK);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM payment_notifications", 0), 4);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM payment_notifications WHERE body = 'fffe780079'", 0), 2);
    ck_assert_int_eq(payment_notification_log(&w.db, 9, NULL, h, "x", 1, "refused", NULL), SF_E_INVALID);
    /* an overlong verdict and event id are cut to their columns, never refused */
    char longid[300];
    memset(longid, 'e', sizeof(longid) - 1);
    longid[sizeof(longid) - 1] = '\0';
    ck_assert_int_eq(payment_notification_log(&w.db, PAY_WECHAT, longid, NULL, "", 0,
                                              "refused:a-very-long-reason-that-goes-on-and-on", NULL),
                     DB_OK);
    ck_assert_int_eq(q1(&w, "SELECT MAX(LENGTH(event_id)) FROM payment_notifications", 0), 128);
    json_decref(h);
    world_close(&w);
}
END_TEST

static Suite *payment_suite(void)
{
    Suite *s = suite_create("payment");
    TCase *tc = tcase_create("payment");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_an_attempt_is_created_once_per_provider_while_it_is_open);
    tcase_add_test(tc, test_a_payment_is_recorded_once_and_moves_the_order_forward);
    tcase_add_test(tc, test_an_unknown_trade_a_wrong_provider_or_a_wrong_amount_writes_nothing);
    tcase_add_test(tc, test_a_late_payment_after_cancel_is_refunded_in_full);
    tcase_add_test(tc, test_a_double_payment_by_the_other_provider_is_refunded);
    tcase_add_test(tc, test_ten_copies_of_a_notice_at_once_record_the_payment_once);
    tcase_add_test(tc, test_refunds_never_exceed_what_was_paid);
    tcase_add_test(tc, test_a_refund_is_settled_once);
    tcase_add_test(tc, test_a_cancel_after_payment_refunds_in_full_until_a_vendor_accepts);
    tcase_add_test(tc, test_the_notification_log_keeps_each_event_once_and_every_refusal);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_payment"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tpay_%d", (int)getpid());
    db_library_init();
    int failed = t_run(payment_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
