/*
 * End to end: POST /v1/orders/{id}/payments on the real binary (payments.mode=sandbox, keys
 * made by the test under STALLFRONT_TEST_VAR), the consumer's cancel after payment with its
 * refund issued by the real `stallfront work` (relay and refund worker), and the timeout's
 * reconciliation with a live WeChat Pay adapter pointed at a fake provider on a thread of
 * this test (paid → the order is paid, not cancelled; not paid → closed at the provider, then
 * cancelled; provider down → nothing cancelled). Payments are driven with
 * payment_record_paid_tx in the test database, as the notification handler does. Every test
 * checks the balance: Σ paid − Σ refunded = net, per order, on the rows and on the order.
 */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "models/base/b64.h"
#include "models/order.h"
#include "models/payment.h"
#include "models/providers/wxpay.h"
#include "models/store/redis.h"
#include "tests/support/shop.h"
#include "tests/support/sandboxkeys.h"
#include "tests/support/testutil.h"
#include "workers/queue.h"
#include "workers/timeout.h"

static t_sandbox_t sandbox; /* the sandbox provider's files of this run */
static const char *test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                 "STALLFRONT_PAYMENTS_MODE=sandbox",
                                 "STALLFRONT_ORDER_DELIVERY_FEE_FEN=500",
                                 "STALLFRONT_ORDER_FREE_DELIVERY_FROM_FEN=5000",
                                 "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000",
                                 "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                                 sandbox.env,
                                 NULL};
static tserver_t shared;
static int shared_exit;

static void shared_up(void)
{
    t_sandbox_make(&sandbox, "payments");
    t_migrate();
    ck_assert_msg(tserver_start(&shared, test_env) == 0, "server did not start");
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
    t_sandbox_remove(&sandbox);
}

/* ---------------------------------------------------------------- the world of a test */

typedef struct world {
    shop_world_t s;  /* its market, stall A-01 (vendor[0], stall[0]) and connections */
    int64_t product; /* 土鸡蛋, 350 fen a piece, 10 in stock */
} world_t;

static void world_up(world_t *w)
{
    shop_world_open(&w->s);
    shop_stall(&w->s.db, w->s.m.market_id, "A-01", &w->s.vendor[0], &w->s.stall[0]);
    w->product = shop_product(&w->s, 0, "土鸡蛋", 350, 0, 10);
}

static void consumer(world_t *w, shop_consumer_t *c)
{
    static int seq; /* test-only: makes consumer names unique within the process */
    shop_consumer(&shared, &w->s.db, "pay", seq++, c);
}

/* Checks out qty eggs as c; the order's id. */
static int64_t place(world_t *w, const shop_consumer_t *c, int64_t qty)
{
    long status;
    shop_put_cart(&shared, c, w->product, qty);
    json_t *doc = shop_checkout(&shared, c, w->s.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    int64_t id = shop_jint(doc, "id");
    json_decref(doc);
    return id;
}

static json_t *create_payment(const shop_consumer_t *c, int64_t order, const char *body, const char *idem, long *status)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/orders/%lld/payments", (long long)order);
    return shop_call(&shared, "POST", path, c->token, body, idem, status);
}

static int64_t payments_of(world_t *w, int64_t order)
{
    return shop_i64(&w->s.db, "SELECT COUNT(*) FROM payments WHERE order_id = ?", order);
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

/* Pays an attempt as a verified notification would. */
static pay_outcome_t pay(world_t *w, pay_provider_t p, const char *out_trade_no, const char *txid, int64_t amount)
{
    pay_outcome_t out = 0;
    char unique[64]; /* transaction ids are unique in the shared database: this run's own */
    snprintf(unique, sizeof(unique), "%s-%d-%ld", txid, (int)getpid(), (long)time(NULL));
    pay_paid_t paid = {.provider = p, .out_trade_no = out_trade_no, .transaction_id = unique, .amount_fen = amount};
    ck_assert_int_eq(db_begin(&w->s.db), DB_OK);
    ck_assert_int_eq(payment_record_paid_tx(&w->s.db, &paid, &out), DB_OK);
    ck_assert_int_eq(db_commit(&w->s.db), DB_OK);
    return out;
}

static int status_is(world_t *w, const char *table, int64_t id, const char *status)
{
    char q[128];
    snprintf(q, sizeof(q), "SELECT status = ? FROM %s WHERE id = ?", table);
    return t_db_i64(&w->s.db, q, (db_param_t[]){DB_STR(status), DB_I64(id)}, 2) == 1;
}

/* ---------------------------------------------------------------- creating a payment */

START_TEST(test_a_consumer_creates_a_payment_and_gets_the_same_attempt_again)
{
    world_t w;
    shop_consumer_t c;
    long status;
    world_up(&w);
    consumer(&w, &c);
    int64_t order = place(&w, &c, 2); /* 700 + 500 delivery */
    json_t *first = create_payment(&c, order, "{\"provider\":\"wechat\"}", NULL, &status);
    ck_assert_int_eq(status, 201);
    const char *no = json_string_value(json_object_get(first, "out_trade_no"));
    ck_assert_ptr_nonnull(no);
    ck_assert_int_eq(strlen(no), 21);
    ck_assert_int_eq(shop_jint(first, "amount_fen"), 1200);
    ck_assert_str_eq(json_string_value(json_object_get(first, "provider")), "wechat");
    ck_assert_int_gt(shop_jint(first, "payment_id"), 0);
    json_t *params = json_object_get(first, "params");
    ck_assert(json_is_true(json_object_get(params, "sandbox")));
    ck_assert_str_eq(json_string_value(json_object_get(params, "out_trade_no")), no);
    ck_assert_int_eq(shop_jint(params, "amount_fen"), 1200);
    json_t *again = create_payment(&c, order, "{\"provider\":\"wechat\"}", NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(again, "out_trade_no")), no);
    ck_assert_int_eq(shop_jint(again, "payment_id"), shop_jint(first, "payment_id"));
    json_t *ali = create_payment(&c, order, "{\"provider\":\"alipay\"}", NULL, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_str_ne(json_string_value(json_object_get(ali, "out_trade_no")), no);
    ck_assert_str_eq(json_string_value(json_object_get(ali, "provider")), "alipay");
    ck_assert_int_eq(payments_of(&w, order), 2);
    ck_assert_int_eq(
        shop_i64(&w.s.db, "SELECT COUNT(*) FROM payments WHERE order_id = ? AND status = 'created'", order), 2);
    assert_balance(&w, order, 0, 0);
    json_decref(first);
    json_decref(again);
    json_decref(ali);
    shop_world_down(&w.s);
}
END_TEST

START_TEST(test_payment_creation_refuses_bad_requests_and_writes_nothing)
{
    world_t w;
    shop_consumer_t c, d;
    long status;
    char path[96], op[128], *text = NULL;
    world_up(&w);
    consumer(&w, &c);
    consumer(&w, &d);
    int64_t order = place(&w, &c, 1);
    static const char *const bad[] = {"{\"provider\":\"paypal\"}",
                                      "{\"provider\":\"WECHAT\"}",
                                      "{\"provider\":1}",
                                      "{\"provider\":null}",
                                      "{}",
                                      "{\"provider\":\"wechat\",\"x\":1}",
                                      "{\"provider\":[\"wechat\"]}",
                                      "{\"provider\":\"wechat \"}"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        json_t *doc = create_payment(&c, order, bad[i], NULL, &status);
        const char *field = shop_error_field(doc);
        ck_assert_msg(field != NULL, "%s", bad[i]);
        ck_assert_msg(strcmp(field, i == 5 ? "x" : "provider") == 0, "%s: %s", bad[i], field);
        shop_expect_error(doc, &status, 422, "invalid");
    }
    char *huge = malloc(10 * 1024 + 32);
    memset(huge, 'a', 10 * 1024 + 32);
    memcpy(huge, "{\"provider\":\"", 13);
    memcpy(huge + 10 * 1024 + 29, "\"}", 3);
    shop_expect_error(create_payment(&c, order, huge, NULL, &status), &status, 422, "invalid");
    free(huge);
    snprintf(path, sizeof(path), "/v1/orders/%lld/payments", (long long)order);
    ck_assert_int_eq(shop_request(&shared, "POST", path, c.token, "{\"provider\":", NULL, &text), 400);
    free(text);
    ck_assert_int_eq(shop_request(&shared, "POST", path, c.token, "[\"wechat\"]", NULL, &text), 422);
    free(text);
    ck_assert_int_eq(shop_request(&shared, "POST", path, c.token, "{\"provider\":\"wechat\\u0000\"}", NULL, &text),
                     400);
    free(text);
    ck_assert_int_eq(shop_request(&shared, "POST", path, c.token, "{\"provider\":\"\xff\xfe\"}", NULL, &text), 400);
    free(text);
    ck_assert_int_eq(shop_request(&shared, "POST", path, NULL, "{\"provider\":\"wechat\"}", NULL, &text), 401);
    free(text);
    ck_assert_int_eq(t_login(&shared, w.s.m.op_user, w.s.m.op_pass, op, sizeof(op)), 0);
    ck_assert_int_eq(shop_request(&shared, "POST", path, op, "{\"provider\":\"wechat\"}", NULL, &text), 403);
    free(text);
    /* another consumer's order, unknown and malformed ids: 404 */
    shop_expect_error(create_payment(&d, order, "{\"provider\":\"wechat\"}", NULL, &status), &status, 404, "not_found");
    shop_expect_error(create_payment(&c, order + 100000, "{\"provider\":\"wechat\"}", NULL, &status), &status, 404,
                      "not_found");
    shop_expect_error(
        shop_call(&shared, "POST", "/v1/orders/abc/payments", c.token, "{\"provider\":\"wechat\"}", NULL, &status),
        &status, 404, "not_found");
    ck_assert_int_eq(payments_of(&w, order), 0);
    /* a bad Idempotency-Key */
    char longkey[200];
    memset(longkey, 'k', sizeof(longkey) - 1);
    longkey[sizeof(longkey) - 1] = '\0';
    shop_expect_error(create_payment(&c, order, "{\"provider\":\"wechat\"}", longkey, &status), &status, 422,
                      "invalid");
    ck_assert_int_eq(payments_of(&w, order), 0);
    ck_assert(status_is(&w, "orders", order, "pending_payment"));
    assert_balance(&w, order, 0, 0);
    shop_world_down(&w.s);
}
END_TEST

START_TEST(test_only_an_order_waiting_for_payment_is_payable)
{
    world_t w;
    shop_consumer_t c;
    long status;
    char path[96];
    world_up(&w);
    consumer(&w, &c);
    int64_t order = place(&w, &c, 1);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)order);
    json_decref(shop_call(&shared, "POST", path, c.token, NULL, NULL, &status));
    ck_assert_int_eq(status, 200);
    shop_expect_error(create_payment(&c, order, "{\"provider\":\"wechat\"}", NULL, &status), &status, 409,
                      "not_payable");
    shop_expect_error(create_payment(&c, order, "{\"provider\":\"alipay\"}", "k-cancelled", &status), &status, 409,
                      "not_payable");
    ck_assert_int_eq(payments_of(&w, order), 0);
    /* paid already: not payable either */
    int64_t paid = place(&w, &c, 1);
    json_t *doc = create_payment(&c, paid, "{\"provider\":\"wechat\"}", NULL, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(pay(&w, PAY_WECHAT, json_string_value(json_object_get(doc, "out_trade_no")), "4200000101", 850),
                     PAY_RECORDED);
    json_decref(doc);
    shop_expect_error(create_payment(&c, paid, "{\"provider\":\"alipay\"}", NULL, &status), &status, 409,
                      "not_payable");
    ck_assert_int_eq(payments_of(&w, paid), 1);
    assert_balance(&w, order, 0, 0);
    assert_balance(&w, paid, 850, 0);
    shop_world_down(&w.s);
}
END_TEST

START_TEST(test_an_idempotency_key_replays_the_first_answer)
{
    world_t w;
    shop_consumer_t c;
    long status;
    char key[64], *a = NULL, *b = NULL, path[96];
    world_up(&w);
    consumer(&w, &c);
    int64_t order = place(&w, &c, 1), other = place(&w, &c, 2);
    snprintf(key, sizeof(key), "pay-%d-%ld", (int)getpid(), (long)time(NULL));
    snprintf(path, sizeof(path), "/v1/orders/%lld/payments", (long long)order);
    ck_assert_int_eq(shop_request(&shared, "POST", path, c.token, "{\"provider\":\"wechat\"}", key, &a), 201);
    ck_assert_int_eq(shop_request(&shared, "POST", path, c.token, "{\"provider\":\"wechat\"}", key, &b), 201);
    ck_assert_str_eq(a, b); /* the very first answer, status and body */
    free(b);
    /* without the key: the same attempt, 200 */
    json_t *doc = create_payment(&c, order, "{\"provider\":\"wechat\"}", NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_ptr_nonnull(strstr(a, json_string_value(json_object_get(doc, "out_trade_no"))));
    json_decref(doc);
    free(a);
    /* the key with another body, or for another order: refused */
    shop_expect_error(create_payment(&c, order, "{\"provider\":\"alipay\"}", key, &status), &status, 422,
                      "idempotency_key_reused");
    shop_expect_error(create_payment(&c, other, "{\"provider\":\"wechat\"}", key, &status), &status, 422,
                      "idempotency_key_reused");
    ck_assert_int_eq(payments_of(&w, order), 1);
    ck_assert_int_eq(payments_of(&w, other), 0);
    assert_balance(&w, order, 0, 0);
    shop_world_down(&w.s);
}
END_TEST

/* ---------------------------------------------------------------- cancel after payment */

START_TEST(test_a_cancel_after_payment_refunds_in_full_through_the_refund_worker)
{
    world_t w;
    shop_consumer_t c;
    long status;
    char path[96];
    twork_t wk;
    world_up(&w);
    consumer(&w, &c);
    int64_t order = place(&w, &c, 3); /* 1050 + 500 */
    json_t *doc = create_payment(&c, order, "{\"provider\":\"alipay\"}", NULL, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(pay(&w, PAY_ALIPAY, json_string_value(json_object_get(doc, "out_trade_no")), "2026000201", 1550),
                     PAY_RECORDED);
    json_decref(doc);
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT stock FROM products WHERE id = ?", w.product), 7);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)order);
    doc = shop_call(&shared, "POST", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "cancelled");
    ck_assert_int_eq(shop_jint(doc, "paid_fen"), 1550);
    ck_assert_int_eq(shop_jint(doc, "refunded_fen"), 1550);
    json_t *refunds = json_object_get(doc, "refunds");
    ck_assert_int_eq(json_array_size(refunds), 1);
    ck_assert_int_eq(shop_jint(json_array_get(refunds, 0), "amount_fen"), 1550);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(refunds, 0), "reason")), "cancelled");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(refunds, 0), "status")), "pending");
    json_t *vos = json_object_get(doc, "vendor_orders");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(vos, 0), "status")), "cancelled");
    json_decref(doc);
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT stock FROM products WHERE id = ?", w.product), 10);
    assert_balance(&w, order, 1550, 1550);
    /* a second cancel: already cancelled, nothing refunded twice */
    shop_expect_error(shop_call(&shared, "POST", path, c.token, NULL, NULL, &status), &status, 409,
                      "already_cancelled");
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 1);
    /* the refund worker settles it (sandbox: at once) */
    const char *env[] = {"STALLFRONT_PAYMENTS_MODE=sandbox", sandbox.env, "STALLFRONT_QUEUE_LEASE_MS=1000", NULL};
    const char *only[] = {"--only", "relay,refund", NULL};
    ck_assert_int_eq(t_work_start(&wk, env, only), 0);
    int settled = 0;
    for (int i = 0; i < 200 && !settled; i++) {
        settled =
            shop_i64(&w.s.db, "SELECT COUNT(*) FROM refunds WHERE order_id = ? AND status = 'succeeded'", order) == 1;
        if (!settled)
            usleep(50 * 1000);
    }
    ck_assert_int_eq(t_work_stop(&wk, SIGTERM), 0);
    ck_assert_msg(settled, "the refund was not settled by the worker");
    ck_assert_int_eq(t_db_i64(&w.s.db, "SELECT provider_refund_id LIKE 'sandbox-R%' FROM refunds WHERE order_id = ?",
                              (db_param_t[]){DB_I64(order)}, 1),
                     1);
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)order);
    doc = shop_call(&shared, "GET", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(json_object_get(doc, "refunds"), 0), "status")),
                     "succeeded");
    json_decref(doc);
    assert_balance(&w, order, 1550, 1550);
    shop_world_down(&w.s);
}
END_TEST

START_TEST(test_a_cancel_after_a_vendor_accepted_is_too_late)
{
    world_t w;
    shop_consumer_t c;
    long status;
    char path[96];
    world_up(&w);
    consumer(&w, &c);
    int64_t order = place(&w, &c, 1);
    json_t *doc = create_payment(&c, order, "{\"provider\":\"wechat\"}", NULL, &status);
    ck_assert_int_eq(pay(&w, PAY_WECHAT, json_string_value(json_object_get(doc, "out_trade_no")), "4200000301", 850),
                     PAY_RECORDED);
    json_decref(doc);
    shop_sql(&w.s.db, "UPDATE vendor_orders SET status = 'accepted' WHERE order_id = ?", (db_param_t[]){DB_I64(order)},
             1);
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)order);
    shop_expect_error(shop_call(&shared, "POST", path, c.token, NULL, NULL, &status), &status, 409, "too_late");
    ck_assert(status_is(&w, "orders", order, "paid"));
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 0);
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT stock FROM products WHERE id = ?", w.product), 9);
    assert_balance(&w, order, 850, 0);
    shop_world_down(&w.s);
}
END_TEST

/* ---------------------------------------------------------------- reconciliation */

/* A fake WeChat Pay: answers the canned responses in order, one per connection, and keeps
 * each request (head and body) for the test to check. */
#define FAKE_MAX 4

typedef struct fake {
    int fd, port;
    size_t n;
    const char *answers[FAKE_MAX];
    char requests[FAKE_MAX][8192];
    size_t got;
    pthread_t th;
} fake_t;

static void *fake_run(void *arg)
{
    fake_t *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            break;
        char *buf = f->requests[i];
        size_t len = 0, want = 0;
        while (len < sizeof(f->requests[i]) - 1) {
            ssize_t r = recv(c, buf + len, sizeof(f->requests[i]) - 1 - len, 0);
            if (r <= 0)
                break;
            len += (size_t)r;
            buf[len] = '\0';
            char *end = strstr(buf, "\r\n\r\n");
            if (end == NULL)
                continue;
            char *cl = strcasestr(buf, "\r\nContent-Length:");
            want = (size_t)(end + 4 - buf) + (cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0);
            if (len >= want)
                break;
        }
        ssize_t s = send(c, f->answers[i], strlen(f->answers[i]), MSG_NOSIGNAL);
        (void)s;
        close(c);
        f->got = i + 1;
    }
    return NULL;
}

static void fake_start(fake_t *f)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(f->fd >= 0);
    ck_assert(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ck_assert(listen(f->fd, 8) == 0);
    ck_assert(getsockname(f->fd, (struct sockaddr *)&sa, &len) == 0);
    f->port = ntohs(sa.sin_port);
    ck_assert(pthread_create(&f->th, NULL, fake_run, f) == 0);
}

static void fake_stop(fake_t *f)
{
    shutdown(f->fd, SHUT_RDWR); /* wakes an accept still waiting */
    pthread_join(f->th, NULL);
    close(f->fd);
}

/* The Authorization header of a captured request verifies with the merchant's public key
 * over METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY\n. */
static void assert_signed_by_merchant(const char *req)
{
    char method[8], path[256], nonce[64], ts[24], sig[600], msg[4096];
    ck_assert_int_eq(sscanf(req, "%7s %255s", method, path), 2);
    const char *auth = strcasestr(req, "\r\nAuthorization: WECHATPAY2-SHA256-RSA2048 ");
    ck_assert_ptr_nonnull(auth);
    ck_assert_ptr_nonnull(strstr(auth, "mchid=\"1900000109\""));
    ck_assert_ptr_nonnull(strstr(auth, "serial_no=\"MERCHANTSERIAL01\""));
    ck_assert_int_eq(sscanf(strstr(auth, "nonce_str=\""), "nonce_str=\"%63[^\"]", nonce), 1);
    ck_assert_int_eq(sscanf(strstr(auth, "timestamp=\""), "timestamp=\"%23[^\"]", ts), 1);
    ck_assert_int_eq(sscanf(strstr(auth, "signature=\""), "signature=\"%599[^\"]", sig), 1);
    const char *body = strstr(req, "\r\n\r\n") + 4;
    snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%s\n%s\n", method, path, ts, nonce, body);
    unsigned char raw[512];
    size_t rawlen = 0;
    ck_assert_int_eq(b64_decode(sig, strlen(sig), raw, sizeof(raw), &rawlen), B64_OK);
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, sandbox.merchant), 1);
    ck_assert_int_eq(EVP_DigestVerify(ctx, raw, rawlen, (const unsigned char *)msg, strlen(msg)), 1);
    EVP_MD_CTX_free(ctx);
}

/* A connection of the test's own whose config has the live WeChat adapter at the fake. */
static void live_db(db_t *db, config_t *cfg, int port)
{
    char err[256], base[64], key[700];
    t_load_cfg(cfg);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", port);
    snprintf(key, sizeof(key), "%s/wechat_merchant_private.pem", sandbox.dir);
    ck_assert(config_set(cfg, "payments.mode", "live", err, sizeof(err)) == 0);
    ck_assert(config_set(cfg, "wechat.pay_api_base", base, err, sizeof(err)) == 0);
    ck_assert(config_set(cfg, "wechat.mchid", "1900000109", err, sizeof(err)) == 0);
    ck_assert(config_set(cfg, "wechat.appid", "wxd678efh567hg6787", err, sizeof(err)) == 0);
    ck_assert(config_set(cfg, "wechat.merchant_serial", "MERCHANTSERIAL01", err, sizeof(err)) == 0);
    ck_assert(config_set(cfg, "wechat.merchant_key_file", key, err, sizeof(err)) == 0);
    ck_assert_msg(db_open(db, cfg) == DB_OK, "db: %s", db->err);
}

/* An order with one created WeChat attempt, made due (1 s past expires_at: inside the
 * sweep's grace, so only this test's call acts on it). */
static int64_t due_order(world_t *w, shop_consumer_t *c, char *out_trade_no, size_t len)
{
    long status;
    int64_t order = place(w, c, 1);
    json_t *doc = create_payment(c, order, "{\"provider\":\"wechat\"}", NULL, &status);
    ck_assert_int_eq(status, 201);
    snprintf(out_trade_no, len, "%s", json_string_value(json_object_get(doc, "out_trade_no")));
    json_decref(doc);
    return order;
}

static queue_result_t run_timeout(world_t *w, db_t *db, int64_t order)
{
    shop_sql(&w->s.db, "UPDATE orders SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?",
             (db_param_t[]){DB_I64(order)}, 1);
    json_t *payload = json_pack("{s:I}", "order_id", (json_int_t)order);
    queue_result_t r = queue_apply(db, &w->s.redis, timeout_consumer_kind(), order, w->s.m.market_id, payload);
    json_decref(payload);
    return r;
}

/* How many events a party's stream holds (models/events.h). */
static long long events_of(world_t *w, const char *role, int64_t id)
{
    char key[96];
    snprintf(key, sizeof(key), "events:%s:%lld", role, (long long)id);
    redisReply *r = redis_cmd(&w->s.redis, "XLEN %s", key);
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_INTEGER, "XLEN %s", key);
    long long n = r->integer;
    freeReplyObject(r);
    return n;
}

START_TEST(test_the_timeout_announces_what_it_changed_and_nothing_else)
{
    world_t w;
    shop_consumer_t c;
    world_up(&w);
    consumer(&w, &c);
    /* paid before its deadline: the job finds nothing to do and says nothing */
    int64_t paid = place(&w, &c, 1);
    long status;
    json_t *p = create_payment(&c, paid, "{\"provider\":\"wechat\"}", NULL, &status);
    ck_assert_int_eq(status, 201);
    ck_assert_int_eq(pay(&w, PAY_WECHAT, json_string_value(json_object_get(p, "out_trade_no")), "tx-quiet", 850),
                     PAY_RECORDED);
    json_decref(p);
    long long vendor_before = events_of(&w, "vendor", w.s.vendor[0]);
    long long consumer_before = events_of(&w, "consumer", c.id);
    ck_assert_int_eq(run_timeout(&w, &w.s.db, paid), QUEUE_DONE);
    ck_assert(status_is(&w, "orders", paid, "paid"));
    ck_assert_int_eq(events_of(&w, "vendor", w.s.vendor[0]), vendor_before);
    ck_assert_int_eq(events_of(&w, "consumer", c.id), consumer_before);
    /* unpaid at its deadline: cancelled, and the consumer hears it once */
    int64_t unpaid = place(&w, &c, 1);
    ck_assert_int_eq(run_timeout(&w, &w.s.db, unpaid), QUEUE_DONE);
    ck_assert(status_is(&w, "orders", unpaid, "cancelled"));
    ck_assert_int_eq(events_of(&w, "consumer", c.id), consumer_before + 1);
    ck_assert_int_eq(events_of(&w, "vendor", w.s.vendor[0]), vendor_before); /* it never saw the order */
    shop_world_down(&w.s);
}
END_TEST

START_TEST(test_the_timeout_asks_the_provider_first_paid_means_paid)
{
    world_t w;
    shop_consumer_t c;
    config_t cfg;
    db_t db;
    fake_t f = {.n = 1};
    char no[PAY_NO_MAX], answer[512];
    world_up(&w);
    consumer(&w, &c);
    int64_t order = due_order(&w, &c, no, sizeof(no));
    char txid[64];
    snprintf(txid, sizeof(txid), "42%d%ld", (int)getpid(), (long)time(NULL));
    snprintf(answer, sizeof(answer),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
             "{\"appid\":\"wxd678efh567hg6787\",\"mchid\":\"1900000109\",\"out_trade_no\":\"%s\","
             "\"transaction_id\":\"%s\",\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":850,"
             "\"currency\":\"CNY\"}}",
             no, txid);
    f.answers[0] = answer;
    fake_start(&f);
    live_db(&db, &cfg, f.port);
    ck_assert_int_eq(run_timeout(&w, &db, order), QUEUE_DONE);
    fake_stop(&f);
    ck_assert_int_eq(f.got, 1);
    char want[160];
    snprintf(want, sizeof(want), "GET /v3/pay/transactions/out-trade-no/%s?mchid=1900000109 HTTP/1.1", no);
    ck_assert_msg(strncmp(f.requests[0], want, strlen(want)) == 0, "%s", f.requests[0]);
    assert_signed_by_merchant(f.requests[0]);
    ck_assert(status_is(&w, "orders", order, "paid"));
    ck_assert_int_eq(
        shop_i64(&w.s.db, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status = 'new'", order), 1);
    ck_assert_int_eq(t_db_i64(&w.s.db,
                              "SELECT status = 'paid' AND transaction_id = ? FROM payments WHERE out_trade_no = ?",
                              (db_param_t[]){DB_STR(txid), DB_STR(no)}, 2),
                     1);
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT stock FROM products WHERE id = ?", w.product), 9);
    ck_assert_int_eq(
        shop_i64(&w.s.db, "SELECT COUNT(*) FROM processed WHERE consumer = 'order-timeout' AND event_id = ?", order),
        1);
    assert_balance(&w, order, 850, 0);
    db_close(&db);
    config_free(&cfg);
    shop_world_down(&w.s);
}
END_TEST

START_TEST(test_the_timeout_closes_an_unpaid_attempt_then_cancels)
{
    world_t w;
    shop_consumer_t c;
    config_t cfg;
    db_t db;
    fake_t f = {.n = 2};
    char no[PAY_NO_MAX], answer[512];
    world_up(&w);
    consumer(&w, &c);
    int64_t order = due_order(&w, &c, no, sizeof(no));
    snprintf(answer, sizeof(answer),
             "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n"
             "{\"out_trade_no\":\"%s\",\"trade_state\":\"NOTPAY\",\"amount\":{\"total\":850}}",
             no);
    f.answers[0] = answer;
    f.answers[1] = "HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n";
    fake_start(&f);
    live_db(&db, &cfg, f.port);
    ck_assert_int_eq(run_timeout(&w, &db, order), QUEUE_DONE);
    fake_stop(&f);
    ck_assert_int_eq(f.got, 2);
    char want[160];
    snprintf(want, sizeof(want), "POST /v3/pay/transactions/out-trade-no/%s/close HTTP/1.1", no);
    ck_assert_msg(strncmp(f.requests[1], want, strlen(want)) == 0, "%s", f.requests[1]);
    ck_assert_ptr_nonnull(strstr(f.requests[1], "{\"mchid\":\"1900000109\"}"));
    assert_signed_by_merchant(f.requests[1]);
    ck_assert(status_is(&w, "orders", order, "cancelled"));
    ck_assert_int_eq(t_db_i64(&w.s.db,
                              "SELECT status = 'closed' AND closed_at IS NOT NULL FROM payments"
                              " WHERE out_trade_no = ?",
                              (db_param_t[]){DB_STR(no)}, 1),
                     1);
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT stock FROM products WHERE id = ?", w.product), 10);
    assert_balance(&w, order, 0, 0);
    /* the money arrives anyway, later: recorded and refunded in full */
    ck_assert_int_eq(pay(&w, PAY_WECHAT, no, "4200000666", 850), PAY_REFUNDED_LATE);
    ck_assert(status_is(&w, "orders", order, "cancelled"));
    assert_balance(&w, order, 850, 850);
    db_close(&db);
    config_free(&cfg);
    shop_world_down(&w.s);
}
END_TEST

START_TEST(test_the_timeout_cancels_nothing_while_the_provider_is_down)
{
    world_t w;
    shop_consumer_t c;
    config_t cfg;
    db_t db;
    char no[PAY_NO_MAX];
    world_up(&w);
    consumer(&w, &c);
    int64_t order = due_order(&w, &c, no, sizeof(no));
    live_db(&db, &cfg, t_free_port()); /* nobody listens */
    ck_assert_int_eq(run_timeout(&w, &db, order), QUEUE_RETRY);
    ck_assert(status_is(&w, "orders", order, "pending_payment"));
    ck_assert_int_eq(t_db_i64(&w.s.db, "SELECT status = 'created' FROM payments WHERE out_trade_no = ?",
                              (db_param_t[]){DB_STR(no)}, 1),
                     1);
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT stock FROM products WHERE id = ?", w.product), 9);
    ck_assert_int_eq(
        shop_i64(&w.s.db, "SELECT COUNT(*) FROM processed WHERE consumer = 'order-timeout' AND event_id = ?", order),
        0);
    /* an answer that is not a provider's (500) is no answer either */
    fake_t f = {.n = 1, .answers = {"HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\n\r\n{}"}};
    fake_start(&f);
    db_close(&db);
    config_free(&cfg);
    live_db(&db, &cfg, f.port);
    ck_assert_int_eq(run_timeout(&w, &db, order), QUEUE_RETRY);
    fake_stop(&f);
    ck_assert(status_is(&w, "orders", order, "pending_payment"));
    assert_balance(&w, order, 0, 0);
    /* an order without any attempt is cancelled without asking anyone */
    int64_t plain = place(&w, &c, 1);
    ck_assert_int_eq(run_timeout(&w, &db, plain), QUEUE_DONE);
    ck_assert(status_is(&w, "orders", plain, "cancelled"));
    assert_balance(&w, plain, 0, 0);
    db_close(&db);
    config_free(&cfg);
    shop_world_down(&w.s);
}
END_TEST

static Suite *payments_suite(void)
{
    Suite *s = suite_create("payments");
    TCase *tc = tcase_create("payments");
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_a_consumer_creates_a_payment_and_gets_the_same_attempt_again);
    tcase_add_test(tc, test_payment_creation_refuses_bad_requests_and_writes_nothing);
    tcase_add_test(tc, test_only_an_order_waiting_for_payment_is_payable);
    tcase_add_test(tc, test_an_idempotency_key_replays_the_first_answer);
    tcase_add_test(tc, test_a_cancel_after_payment_refunds_in_full_through_the_refund_worker);
    tcase_add_test(tc, test_a_cancel_after_a_vendor_accepted_is_too_late);
    tcase_add_test(tc, test_the_timeout_announces_what_it_changed_and_nothing_else);
    tcase_add_test(tc, test_the_timeout_asks_the_provider_first_paid_means_paid);
    tcase_add_test(tc, test_the_timeout_closes_an_unpaid_attempt_then_cancels);
    tcase_add_test(tc, test_the_timeout_cancels_nothing_while_the_provider_is_down);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* a database and a Redis of its own: its `work` must not do its neighbours' work */
    return t_main_shared(payments_suite(), "payments", &shared, &shared_exit);
}
