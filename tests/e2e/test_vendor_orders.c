/*
 * End to end: the vendor's orders (GET /v1/vendor/orders, POST /v1/vendor/orders/{id}/accept,
 * /reject, /pick, /ready) on the real binary over h2c, with payments.mode=sandbox. Orders
 * are placed through checkout by consumers signed in with sandbox codes and paid with
 * payment_record_paid_tx in the test database (as the notification handler does); vendors
 * sign in with passwords. Covers the walk accept → pick (a lighter weighed line and a fewer
 * counted one refunded to the fen) → ready with the order following, the refund settled by
 * the real `stallfront work` (relay and refund worker, sandbox); rejections refunding and
 * the last one cancelling the order in full; the acceptance job of `work` flagging and then
 * rejecting a vendor order nobody accepted; another vendor's vendor order (404 on every
 * route, nothing changed); every bad body and query (malformed JSON, wrong types, unknown
 * keys, negative and huge quantities, lines missing, twice or foreign); and the list's pages.
 * Every test checks paid − refunded = net and the stock.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/payment.h"
#include "models/store/db.h"
#include "models/user.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/shop.h"
#include "tests/support/testutil.h"

static const char *const test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                       "STALLFRONT_PAYMENTS_MODE=sandbox",
                                       "STALLFRONT_ORDER_DELIVERY_FEE_FEN=500",
                                       "STALLFRONT_ORDER_FREE_DELIVERY_FROM_FEN=50000",
                                       "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000",
                                       "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
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

/* shop_world_up's market and stalls with their vendors signed in. */
typedef struct world {
    shop_world_t s;
    char vendor_token[2][128];
    shop_consumer_t c;
} world_t;

static void vendor_login(world_t *w, int i)
{
    static int seq; /* test-only: makes vendor logins unique within the process */
    char user[64];
    snprintf(user, sizeof(user), "fv%d_%d", (int)getpid(), seq++);
    user_new_t u = {.role = "vendor",
                    .market_id = w->s.m.market_id,
                    .username = user,
                    .password = "stall-owner-pass-1",
                    .display_name = "摊主",
                    .vendor_id = w->s.vendor[i]};
    int64_t uid = 0;
    ck_assert_msg(user_create(&w->s.db, &u, &uid) == DB_OK, "user: %s", w->s.db.err);
    ck_assert_int_eq(t_login(&shared, user, "stall-owner-pass-1", w->vendor_token[i], sizeof(w->vendor_token[i])), 0);
}

static void world_up(world_t *w)
{
    static int seq;
    memset(w, 0, sizeof(*w));
    shop_world_up(&w->s);
    vendor_login(w, 0);
    vendor_login(w, 1);
    shop_consumer(&shared, &w->s.db, "ful", seq++, &w->c);
}

/* Checks out the cart lines (product, qty) as the world's consumer and pays in full; the
 * order's id. */
static int64_t place_paid(world_t *w, const int64_t (*lines)[2], size_t n)
{
    long status;
    for (size_t i = 0; i < n; i++)
        shop_put_cart(&shared, &w->c, lines[i][0], lines[i][1]);
    json_t *doc = shop_checkout(&shared, &w->c, w->s.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    int64_t order = shop_jint(doc, "id");
    json_decref(doc);
    pay_attempt_t a;
    pay_outcome_t out = 0;
    char txid[64];
    ck_assert_int_eq(payment_create(&w->s.db, w->c.id, order, PAY_WECHAT, &a), DB_OK);
    snprintf(txid, sizeof(txid), "4200%d%lld%ld", (int)getpid(), (long long)order, (long)time(NULL));
    pay_paid_t paid = {
        .provider = PAY_WECHAT, .out_trade_no = a.out_trade_no, .transaction_id = txid, .amount_fen = a.amount_fen};
    ck_assert_int_eq(db_begin(&w->s.db), DB_OK);
    ck_assert_int_eq(payment_record_paid_tx(&w->s.db, &paid, &out), DB_OK);
    ck_assert_int_eq(db_commit(&w->s.db), DB_OK);
    ck_assert_int_eq(out, PAY_RECORDED);
    return order;
}

static int64_t vo_of(world_t *w, int64_t order, int s)
{
    return t_db_i64(&w->s.db, "SELECT id FROM vendor_orders WHERE order_id = ? AND stall_id = ?",
                    (db_param_t[]){DB_I64(order), DB_I64(w->s.stall[s])}, 2);
}

static int64_t line_of(world_t *w, int64_t order, int64_t product)
{
    return t_db_i64(&w->s.db, "SELECT id FROM order_lines WHERE order_id = ? AND product_id = ?",
                    (db_param_t[]){DB_I64(order), DB_I64(product)}, 2);
}

static int status_is(world_t *w, const char *table, int64_t id, const char *status)
{
    char q[128];
    snprintf(q, sizeof(q), "SELECT status = ? FROM %s WHERE id = ?", table);
    return t_db_i64(&w->s.db, q, (db_param_t[]){DB_STR(status), DB_I64(id)}, 2) == 1;
}

static int64_t refunds_of(world_t *w, int64_t order)
{
    return shop_i64(&w->s.db, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order);
}

static void assert_balance(world_t *w, int64_t order, int64_t want_paid, int64_t want_refunded)
{
    int64_t paid = -1, refunded = -1;
    ck_assert_int_eq(payment_balance(&w->s.db, order, &paid, &refunded), DB_OK);
    ck_assert_int_eq(paid, want_paid);
    ck_assert_int_eq(refunded, want_refunded);
    ck_assert_int_eq(shop_i64(&w->s.db, "SELECT paid_fen FROM orders WHERE id = ?", order), paid);
    ck_assert_int_eq(shop_i64(&w->s.db, "SELECT refunded_fen FROM orders WHERE id = ?", order), refunded);
    ck_assert_int_le(refunded, paid);
}

/* POST /v1/vendor/orders/{vo}/{action} as vendor i with body; the answer, *status. */
static json_t *act(world_t *w, int i, int64_t vo, const char *action, const char *body, long *status)
{
    char path[128];
    snprintf(path, sizeof(path), "/v1/vendor/orders/%lld/%s", (long long)vo, action);
    return shop_call(&shared, "POST", path, w->vendor_token[i], body, NULL, status);
}

/* act() that must answer 200 with the vendor order in `want` status; the answer. */
static json_t *act_ok(world_t *w, int i, int64_t vo, const char *action, const char *body, const char *want)
{
    long status;
    json_t *doc = act(w, i, vo, action, body, &status);
    char *text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(status == 200, "%s %lld: %ld %s", action, (long long)vo, status, text);
    free(text);
    ck_assert_int_eq(shop_jint(doc, "id"), vo);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), want);
    return doc;
}

static json_t *list(world_t *w, int i, const char *query, long *status)
{
    char path[256];
    snprintf(path, sizeof(path), "/v1/vendor/orders%s", query);
    return shop_call(&shared, "GET", path, w->vendor_token[i], NULL, NULL, status);
}

/* How many vendor orders GET /v1/vendor/orders?status=active gives vendor i, and whether
 * the one with id `want` (0: none expected) is among them. */
static size_t active_of(world_t *w, int i, int64_t want, int *found)
{
    long status;
    json_t *doc = list(w, i, "?status=active", &status), *it;
    ck_assert_int_eq(status, 200);
    size_t k, n = json_array_size(json_object_get(doc, "items"));
    *found = 0;
    json_array_foreach(json_object_get(doc, "items"), k, it)
    {
        const char *st = json_string_value(json_object_get(it, "status"));
        ck_assert_msg(strcmp(st, "new") == 0 || strcmp(st, "accepted") == 0 || strcmp(st, "picked") == 0 ||
                          strcmp(st, "ready") == 0,
                      "status=active listed a vendor order %s", st);
        if (shop_jint(it, "id") == want)
            *found = 1;
    }
    json_decref(doc);
    return n;
}

/* The line of a vendor order's JSON with this id. */
static const json_t *jline(const json_t *vo, int64_t id)
{
    const json_t *l;
    size_t i;
    json_array_foreach(json_object_get(vo, "lines"), i, l) if (shop_jint(l, "id") == id) return l;
    ck_abort_msg("line %lld not there", (long long)id);
    return NULL;
}

/* Waits (bounded) until the query with one id parameter answers 1. */
static int wait_for(world_t *w, const char *q, int64_t id)
{
    for (int i = 0; i < 300; i++) {
        if (shop_i64(&w->s.db, q, id) == 1)
            return 1;
        usleep(50 * 1000);
    }
    return 0;
}

/* ---------------------------------------------------------------- the walk */

START_TEST(test_vendors_accept_pick_and_ready_and_a_lighter_line_is_refunded_by_the_worker)
{
    world_t w;
    long status;
    twork_t wk;
    world_up(&w);
    int64_t tomato = shop_product(&w.s, 0, "西红柿", 1299, 500, 5000);
    int64_t eggs = shop_product(&w.s, 0, "土鸡蛋", 350, 0, 10);
    int64_t tofu = shop_product(&w.s, 1, "豆腐", 250, 0, 10);
    const int64_t cart[][2] = {{tomato, 750}, {eggs, 3}, {tofu, 2}};
    int64_t order = place_paid(&w, cart, 3);
    int64_t paid = 1949 + 1050 + 500 + 500; /* 750 g at 1299/500 g = 1948.5 → 1949 */
    int64_t va = vo_of(&w, order, 0), vb = vo_of(&w, order, 1);
    /* the stall sees it, new, with what it needs to pick and nothing of the consumer's */
    json_t *doc = list(&w, 0, "?status=new", &status);
    ck_assert_int_eq(status, 200);
    json_t *items = json_object_get(doc, "items");
    ck_assert_int_eq(json_array_size(items), 1);
    json_t *it = json_array_get(items, 0);
    ck_assert_int_eq(shop_jint(it, "id"), va);
    ck_assert_int_eq(shop_jint(it, "order_id"), order);
    ck_assert_int_eq(shop_jint(it, "items_fen"), 1949 + 1050);
    ck_assert_int_eq(json_array_size(json_object_get(it, "lines")), 2);
    ck_assert(json_is_null(json_object_get(it, "delivery_status")));
    ck_assert_ptr_null(json_object_get(it, "address"));
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    /* status=active: what is still the stall's to do, new to ready, in one list */
    int found;
    ck_assert_int_eq(active_of(&w, 0, va, &found), 1);
    ck_assert(found);
    /* accept; twice is a conflict */
    json_decref(act_ok(&w, 0, va, "accept", NULL, "accepted"));
    ck_assert_int_eq(active_of(&w, 0, va, &found), 1);
    ck_assert(found);
    shop_expect_error(act(&w, 0, va, "accept", NULL, &status), &status, 409, "vendor_order_state");
    ck_assert(status_is(&w, "orders", order, "fulfilling"));
    /* pick: 733 g of 750 (1904.334 → 1904: 45 back), 2 eggs of 3 (350 back) */
    char body[256];
    snprintf(body, sizeof(body),
             "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":733},{\"line_id\":%lld,\"qty_actual\":2}]}",
             (long long)line_of(&w, order, tomato), (long long)line_of(&w, order, eggs));
    doc = act_ok(&w, 0, va, "pick", body, "picked");
    ck_assert_int_eq(shop_jint(doc, "refund_fen"), 45 + 350);
    ck_assert_int_eq(shop_jint(doc, "items_actual_fen"), 1904 + 700);
    ck_assert_int_eq(shop_jint(jline(doc, line_of(&w, order, tomato)), "qty_actual"), 733);
    ck_assert_int_eq(shop_jint(jline(doc, line_of(&w, order, tomato)), "amount_actual_fen"), 1904);
    json_decref(doc);
    shop_expect_error(act(&w, 0, va, "pick", body, &status), &status, 409, "vendor_order_state");
    json_decref(act_ok(&w, 0, va, "ready", NULL, "ready"));
    ck_assert(status_is(&w, "orders", order, "fulfilling"));
    ck_assert_int_eq(active_of(&w, 0, va, &found), 1); /* ready: still to hand over */
    ck_assert(found);
    /* the other stall: exact */
    json_decref(act_ok(&w, 1, vb, "accept", NULL, "accepted"));
    snprintf(body, sizeof(body), "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":2}]}",
             (long long)line_of(&w, order, tofu));
    doc = act_ok(&w, 1, vb, "pick", body, "picked");
    ck_assert_int_eq(shop_jint(doc, "refund_fen"), 0);
    json_decref(doc);
    json_decref(act_ok(&w, 1, vb, "ready", NULL, "ready"));
    /* the consumer sees the order ready and the one refund of the difference */
    char path[96];
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)order);
    doc = shop_call(&shared, "GET", path, w.c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "ready");
    ck_assert_int_eq(shop_jint(doc, "refunded_fen"), 395);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "refunds")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(doc, "refunds"), 0), "reason")),
                     "weight_difference");
    json_decref(doc);
    assert_balance(&w, order, paid, 395);
    ck_assert_int_eq(shop_stock(&w.s.db, tomato), 5000 - 733);
    ck_assert_int_eq(shop_stock(&w.s.db, eggs), 10 - 2);
    ck_assert_int_eq(shop_stock(&w.s.db, tofu), 10 - 2);
    /* the refund worker settles it (sandbox: at once) */
    const char *env[] = {"STALLFRONT_PAYMENTS_MODE=sandbox", "STALLFRONT_QUEUE_LEASE_MS=1000", NULL};
    const char *only[] = {"--only", "relay,refund", NULL};
    ck_assert_int_eq(t_work_start(&wk, env, only), 0);
    int settled = wait_for(&w, "SELECT COUNT(*) = 1 FROM refunds WHERE order_id = ? AND status = 'succeeded'", order);
    ck_assert_int_eq(t_work_stop(&wk, SIGTERM), 0);
    ck_assert_msg(settled, "the refund was not settled by the worker: see %s", wk.log_path);
    ck_assert_int_eq(t_db_i64(&w.s.db, "SELECT provider_refund_id LIKE 'sandbox-R%' FROM refunds WHERE order_id = ?",
                              (db_param_t[]){DB_I64(order)}, 1),
                     1);
    assert_balance(&w, order, paid, 395);
    /* the stall's list: both stalls' vendor orders ready, none new */
    doc = list(&w, 0, "?status=ready", &status);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    json_decref(doc);
    doc = list(&w, 0, "?status=new", &status);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    shop_world_down(&w.s);
}
END_TEST

START_TEST(test_rejections_refund_and_the_last_cancels_the_order_with_its_delivery_fee)
{
    world_t w;
    long status;
    world_up(&w);
    int64_t eggs = shop_product(&w.s, 0, "土鸡蛋", 350, 0, 10);
    int64_t tofu = shop_product(&w.s, 1, "豆腐", 250, 0, 10);
    const int64_t cart[][2] = {{eggs, 2}, {tofu, 4}};
    int64_t order = place_paid(&w, cart, 2);
    int64_t paid = 700 + 1000 + 500;
    int64_t va = vo_of(&w, order, 0), vb = vo_of(&w, order, 1);
    json_t *doc = act_ok(&w, 0, va, "reject", "{\"reason\":\"今天卖完了\"}", "rejected");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "reject_reason")), "今天卖完了");
    ck_assert_int_eq(shop_jint(doc, "refund_fen"), 700);
    json_decref(doc);
    shop_expect_error(act(&w, 0, va, "reject", "{\"reason\":\"again\"}", &status), &status, 409, "vendor_order_state");
    shop_expect_error(act(&w, 0, va, "accept", NULL, &status), &status, 409, "vendor_order_state");
    ck_assert(status_is(&w, "orders", order, "paid"));
    int found;
    ck_assert_int_eq(active_of(&w, 0, va, &found), 0); /* rejected: nothing left to do */
    ck_assert_int_eq(active_of(&w, 1, vb, &found), 1); /* the other stall's, still new */
    ck_assert(found);
    ck_assert_int_eq(shop_stock(&w.s.db, eggs), 10);
    assert_balance(&w, order, paid, 700);
    json_decref(act_ok(&w, 1, vb, "reject", "{\"reason\":\"关门\"}", "rejected"));
    ck_assert(status_is(&w, "orders", order, "cancelled"));
    ck_assert_int_eq(shop_stock(&w.s.db, tofu), 10);
    ck_assert_int_eq(refunds_of(&w, order), 3);
    ck_assert_int_eq(
        shop_i64(&w.s.db, "SELECT amount_fen FROM refunds WHERE order_id = ? AND vendor_order_id IS NULL", order), 500);
    assert_balance(&w, order, paid, paid);
    shop_world_down(&w.s);
}
END_TEST

START_TEST(test_the_acceptance_job_flags_then_rejects_a_vendor_order_nobody_accepts)
{
    world_t w;
    twork_t wk;
    world_up(&w);
    int64_t eggs = shop_product(&w.s, 0, "土鸡蛋", 350, 0, 10);
    int64_t tofu = shop_product(&w.s, 1, "豆腐", 250, 0, 10);
    const int64_t cart[][2] = {{eggs, 2}, {tofu, 1}};
    int64_t order = place_paid(&w, cart, 2);
    int64_t va = vo_of(&w, order, 0), vb = vo_of(&w, order, 1);
    json_decref(act_ok(&w, 1, vb, "accept", NULL, "accepted"));
    shop_sql(&w.s.db, "UPDATE vendor_orders SET new_at = NOW(3) - INTERVAL 45 SECOND WHERE id = ?",
             (db_param_t[]){DB_I64(va)}, 1);
    const char *env[] = {"STALLFRONT_PAYMENTS_MODE=sandbox", "STALLFRONT_FULFIL_ACCEPT_ALERT_S=30",
                         "STALLFRONT_FULFIL_ACCEPT_TIMEOUT_S=60", "STALLFRONT_WATCHDOG_INTERVAL_S=1", NULL};
    const char *only[] = {"--only", "acceptance", NULL};
    ck_assert_int_eq(t_work_start(&wk, env, only), 0);
    int flagged = wait_for(&w,
                           "SELECT COUNT(*) = 1 FROM fulfilment_alerts WHERE kind = 'vendor_order_unaccepted'"
                           " AND subject_id = ?",
                           va);
    ck_assert_msg(flagged, "not flagged: see %s", wk.log_path);
    ck_assert(status_is(&w, "vendor_orders", va, "new"));
    shop_sql(&w.s.db, "UPDATE vendor_orders SET new_at = NOW(3) - INTERVAL 61 SECOND WHERE id = ?",
             (db_param_t[]){DB_I64(va)}, 1);
    int rejected = wait_for(&w, "SELECT status = 'rejected' FROM vendor_orders WHERE id = ?", va);
    ck_assert_int_eq(t_work_stop(&wk, SIGTERM), 0);
    ck_assert_msg(rejected, "not rejected: see %s", wk.log_path);
    ck_assert(t_work_logged(&wk, "work: running acceptance"));
    ck_assert_int_eq(shop_i64(&w.s.db,
                              "SELECT COUNT(*) FROM fulfilment_alerts WHERE kind = 'vendor_order_auto_rejected'"
                              " AND subject_id = ?",
                              va),
                     1);
    ck_assert(status_is(&w, "vendor_orders", vb, "accepted")); /* the accepted one stays */
    ck_assert(status_is(&w, "orders", order, "fulfilling"));
    ck_assert_int_eq(shop_stock(&w.s.db, eggs), 10);
    assert_balance(&w, order, 700 + 250 + 500, 700);
    shop_world_down(&w.s);
}
END_TEST

/* ---------------------------------------------------------------- scope */

START_TEST(test_another_vendors_vendor_order_is_not_found_and_nothing_changes)
{
    world_t w;
    long status;
    world_up(&w);
    int64_t eggs = shop_product(&w.s, 0, "土鸡蛋", 350, 0, 10);
    const int64_t cart[][2] = {{eggs, 2}};
    int64_t order = place_paid(&w, cart, 1);
    int64_t va = vo_of(&w, order, 0);
    char body[128];
    snprintf(body, sizeof(body), "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":1}]}",
             (long long)line_of(&w, order, eggs));
    static const char *const actions[] = {"accept", "reject", "pick", "ready"};
    for (int round = 0; round < 2; round++) {
        for (size_t i = 0; i < 4; i++) {
            const char *b = strcmp(actions[i], "pick") == 0     ? body
                            : strcmp(actions[i], "reject") == 0 ? "{\"reason\":\"不是我的\"}"
                                                                : NULL;
            shop_expect_error(act(&w, 1, va, actions[i], b, &status), &status, 404, "not_found");
            shop_expect_error(act(&w, 0, va + 100000, actions[i], b, &status), &status, 404, "not_found");
        }
        if (round == 0)
            json_decref(act_ok(&w, 0, va, "accept", NULL, "accepted")); /* then again, accepted */
    }
    char path[96];
    snprintf(path, sizeof(path), "/v1/vendor/orders/abc/accept");
    shop_expect_error(shop_call(&shared, "POST", path, w.vendor_token[0], NULL, NULL, &status), &status, 404,
                      "not_found");
    ck_assert(status_is(&w, "vendor_orders", va, "accepted"));
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT COUNT(*) FROM order_events WHERE vendor_order_id = ?", va), 3);
    ck_assert_int_eq(
        shop_i64(&w.s.db, "SELECT COUNT(*) FROM order_lines WHERE order_id = ? AND qty_actual IS NULL", order), 1);
    ck_assert_int_eq(refunds_of(&w, order), 0);
    ck_assert_int_eq(shop_stock(&w.s.db, eggs), 8);
    json_t *doc = list(&w, 1, "", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    /* a consumer's token is not a vendor's */
    snprintf(path, sizeof(path), "/v1/vendor/orders/%lld/accept", (long long)va);
    shop_expect_error(shop_call(&shared, "POST", path, w.c.token, NULL, NULL, &status), &status, 403, "forbidden");
    assert_balance(&w, order, 700 + 500, 0);
    shop_world_down(&w.s);
}
END_TEST

/* ---------------------------------------------------------------- bad requests */

/* A refusal with this status, code and (unless NULL) field. */
static void refused(world_t *w, int64_t vo, const char *action, const char *body, long want, const char *code,
                    const char *field)
{
    long status;
    json_t *doc = act(w, 0, vo, action, body, &status);
    const char *f = shop_error_field(doc);
    ck_assert_msg(field == NULL || (f != NULL && strcmp(f, field) == 0), "%s %s: field %s, want %s", action, body,
                  f ? f : "(none)", field);
    shop_expect_error(doc, &status, want, code);
}

START_TEST(test_bad_bodies_and_queries_are_refused_and_change_nothing)
{
    world_t w;
    long status;
    char body[512];
    world_up(&w);
    int64_t tomato = shop_product(&w.s, 0, "西红柿", 1299, 500, 5000);
    int64_t eggs = shop_product(&w.s, 0, "土鸡蛋", 350, 0, 10);
    int64_t tofu = shop_product(&w.s, 1, "豆腐", 250, 0, 10);
    const int64_t cart[][2] = {{tomato, 500}, {eggs, 2}, {tofu, 1}};
    int64_t order = place_paid(&w, cart, 3);
    int64_t va = vo_of(&w, order, 0);
    long long lt = (long long)line_of(&w, order, tomato), le = (long long)line_of(&w, order, eggs),
              lf = (long long)line_of(&w, order, tofu);
    /* reject */
    refused(&w, va, "reject", "{\"reason\":", 400, "malformed_json", NULL);
    refused(&w, va, "reject", "[]", 422, "invalid", NULL);
    refused(&w, va, "reject", "{}", 422, "invalid", "reason");
    refused(&w, va, "reject", "{\"reason\":\"\"}", 422, "invalid", "reason");
    refused(&w, va, "reject", "{\"reason\":\" 空格\"}", 422, "invalid", "reason");
    refused(&w, va, "reject", "{\"reason\":42}", 422, "invalid", "reason");
    refused(&w, va, "reject", "{\"reason\":null}", 422, "invalid", "reason");
    refused(&w, va, "reject", "{\"reason\":\"ok\",\"why\":1}", 422, "invalid", "why");
    refused(&w, va, "reject", "{\"reason\":\"两行\\n理由\"}", 422, "invalid", "reason");
    char longer[512] = "{\"reason\":\"";
    for (int i = 0; i < 201; i++)
        strcat(longer, "x");
    strcat(longer, "\"}");
    refused(&w, va, "reject", longer, 422, "invalid", "reason");
    ck_assert(status_is(&w, "vendor_orders", va, "new"));
    json_decref(act_ok(&w, 0, va, "accept", NULL, "accepted"));
    /* pick: the shape */
    refused(&w, va, "pick", "{\"lines\":[", 400, "malformed_json", NULL);
    refused(&w, va, "pick", "{}", 422, "invalid", "lines");
    refused(&w, va, "pick", "{\"lines\":[]}", 422, "invalid", "lines");
    refused(&w, va, "pick", "{\"lines\":{}}", 422, "invalid", "lines");
    refused(&w, va, "pick", "{\"lines\":[1]}", 422, "invalid", "lines[0]");
    refused(&w, va, "pick", "{\"lines\":[],\"extra\":true}", 422, "invalid", "extra");
    char many[8192] = "{\"lines\":[";
    for (int i = 0; i < 101; i++)
        snprintf(many + strlen(many), sizeof(many) - strlen(many), "%s{\"line_id\":%d,\"qty_actual\":1}", i ? "," : "",
                 i + 1);
    strcat(many, "]}");
    refused(&w, va, "pick", many, 422, "invalid", "lines");
    static const char *const shapes[][2] = {
        {"{\"line_id\":\"%lld\",\"qty_actual\":1}", "lines[0].line_id"},
        {"{\"line_id\":%lld,\"qty_actual\":\"1\"}", "lines[0].qty_actual"},
        {"{\"line_id\":%lld,\"qty_actual\":1.5}", "lines[0].qty_actual"},
        {"{\"line_id\":%lld,\"qty_actual\":-1}", "lines[0].qty_actual"},
        {"{\"line_id\":%lld,\"qty_actual\":1000000001}", "lines[0].qty_actual"},
        {"{\"line_id\":%lld,\"qty_actual\":1e30}", "lines[0].qty_actual"},
        {"{\"line_id\":%lld,\"qty_actual\":9007199254740993}", "lines[0].qty_actual"},
        {"{\"line_id\":%lld,\"qty_actual\":null}", "lines[0].qty_actual"},
        {"{\"line_id\":%lld}", "lines[0].qty_actual"},
        {"{\"line_id\":%lld,\"qty_actual\":1,\"weight\":1}", "lines[0].weight"},
    };
    for (size_t i = 0; i < sizeof(shapes) / sizeof(shapes[0]); i++) {
        char line[160];
        snprintf(line, sizeof(line), shapes[i][0], lt);
        snprintf(body, sizeof(body), "{\"lines\":[%s,{\"line_id\":%lld,\"qty_actual\":1}]}", line, le);
        refused(&w, va, "pick", body, 422, "invalid", shapes[i][1]);
    }
    refused(&w, va, "pick", "{\"lines\":[{\"line_id\":0,\"qty_actual\":1}]}", 422, "invalid", "lines[0].line_id");
    /* an integer beyond 64 bits is not JSON the server can read */
    refused(&w, va, "pick", "{\"lines\":[{\"line_id\":1,\"qty_actual\":99999999999999999999}]}", 400, "malformed_json",
            NULL);
    /* nothing picked at all: reject instead */
    snprintf(body, sizeof(body),
             "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":0},{\"line_id\":%lld,\"qty_actual\":0}]}", lt, le);
    refused(&w, va, "pick", body, 422, "invalid", "lines");
    /* pick: which lines */
    snprintf(body, sizeof(body), "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":400}]}", lt);
    refused(&w, va, "pick", body, 422, "invalid", "lines");
    json_t *doc = act(&w, 0, va, "pick", body, &status);
    json_t *details = json_object_get(json_object_get(doc, "error"), "details");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(details, "missing"), 0)), le);
    json_decref(doc);
    snprintf(body, sizeof(body),
             "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":400},{\"line_id\":%lld,\"qty_actual\":2},"
             "{\"line_id\":%lld,\"qty_actual\":400}]}",
             lt, le, lt);
    refused(&w, va, "pick", body, 422, "invalid", "lines");
    snprintf(body, sizeof(body),
             "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":400},{\"line_id\":%lld,\"qty_actual\":2},"
             "{\"line_id\":%lld,\"qty_actual\":1}]}",
             lt, le, lf);
    doc = act(&w, 0, va, "pick", body, &status);
    details = json_object_get(json_object_get(doc, "error"), "details");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(details, "unknown"), 0)), lf);
    shop_expect_error(doc, &status, 422, "invalid");
    snprintf(body, sizeof(body),
             "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":400},{\"line_id\":%lld,\"qty_actual\":3}]}", lt, le);
    refused(&w, va, "pick", body, 422, "invalid", "lines[1].qty_actual");
    /* nothing of it was kept */
    ck_assert(status_is(&w, "vendor_orders", va, "accepted"));
    ck_assert_int_eq(
        shop_i64(&w.s.db, "SELECT COUNT(*) FROM order_lines WHERE order_id = ? AND qty_actual IS NOT NULL", order), 0);
    ck_assert_int_eq(refunds_of(&w, order), 0);
    ck_assert_int_eq(shop_stock(&w.s.db, tomato), 4500);
    ck_assert_int_eq(shop_stock(&w.s.db, eggs), 8);
    /* the list's query */
    static const struct {
        const char *q, *field;
    } bad[] = {{"?status=bogus", "status"}, {"?status=", "status"},  {"?status=NEW", "status"},
               {"?limit=0", "limit"},       {"?limit=101", "limit"}, {"?limit=-1", "limit"},
               {"?cursor=zzz", "cursor"},   {"?cursor=", "cursor"},  {"?limit=1e2", "limit"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        doc = list(&w, 0, bad[i].q, &status);
        ck_assert_msg(shop_error_field(doc) != NULL && strcmp(shop_error_field(doc), bad[i].field) == 0, "%s",
                      bad[i].q);
        shop_expect_error(doc, &status, 422, "invalid");
    }
    assert_balance(&w, order, 1299 + 700 + 250 + 500, 0);
    /* finally the right pick works */
    snprintf(body, sizeof(body),
             "{\"lines\":[{\"line_id\":%lld,\"qty_actual\":400},{\"line_id\":%lld,\"qty_actual\":2}]}", lt, le);
    doc = act_ok(&w, 0, va, "pick", body, "picked");
    /* 400 g at 1299/500 g = 1039.2 → 1039: 260 back */
    ck_assert_int_eq(shop_jint(doc, "refund_fen"), 1299 - 1039);
    json_decref(doc);
    assert_balance(&w, order, 1299 + 700 + 250 + 500, 260);
    shop_world_down(&w.s);
}
END_TEST

/* ---------------------------------------------------------------- the list */

START_TEST(test_the_list_pages_oldest_first)
{
    world_t w;
    long status;
    char query[160], cursor[128] = "";
    world_up(&w);
    int64_t eggs = shop_product(&w.s, 0, "土鸡蛋", 350, 0, 100);
    const int64_t cart[][2] = {{eggs, 1}};
    int64_t vos[5];
    for (int i = 0; i < 5; i++)
        vos[i] = vo_of(&w, place_paid(&w, cart, 1), 0);
    int seen = 0;
    for (int page = 0; page < 5; page++) {
        snprintf(query, sizeof(query), "?limit=2%s%s", cursor[0] ? "&cursor=" : "", cursor);
        json_t *doc = list(&w, 0, query, &status);
        ck_assert_int_eq(status, 200);
        json_t *items = json_object_get(doc, "items");
        for (size_t i = 0; i < json_array_size(items); i++, seen++)
            ck_assert_int_eq(shop_jint(json_array_get(items, i), "id"), vos[seen]);
        json_t *next = json_object_get(doc, "next_cursor");
        if (json_is_null(next)) {
            json_decref(doc);
            break;
        }
        snprintf(cursor, sizeof(cursor), "%s", json_string_value(next));
        json_decref(doc);
    }
    ck_assert_int_eq(seen, 5);
    /* the consumer's cursor is refused here */
    json_t *doc = shop_call(&shared, "GET", "/v1/orders?limit=1", w.c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    snprintf(query, sizeof(query), "?cursor=%s", json_string_value(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    doc = list(&w, 0, query, &status);
    shop_expect_error(doc, &status, 422, "invalid");
    shop_world_down(&w.s);
}
END_TEST

static Suite *fulfil_suite(void)
{
    Suite *s = suite_create("fulfil_e2e");
    TCase *tc = tcase_create("fulfil_e2e");
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_vendors_accept_pick_and_ready_and_a_lighter_line_is_refunded_by_the_worker);
    tcase_add_test(tc, test_rejections_refund_and_the_last_cancels_the_order_with_its_delivery_fee);
    tcase_add_test(tc, test_the_acceptance_job_flags_then_rejects_a_vendor_order_nobody_accepts);
    tcase_add_test(tc, test_another_vendors_vendor_order_is_not_found_and_nothing_changes);
    tcase_add_test(tc, test_bad_bodies_and_queries_are_refused_and_change_nothing);
    tcase_add_test(tc, test_the_list_pages_oldest_first);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* a database and a Redis of its own: its `work` must not do its neighbours' work */
    return t_main_shared(fulfil_suite(), "vendor_orders", &shared, &shared_exit);
}
