/*
 * End to end: the payment callbacks (POST /v1/pay/wechat/notify, POST /v1/pay/alipay/notify)
 * and `stallfront sandbox pay`, on the real binary in payments.mode=sandbox. The test makes
 * its own provider keys (RSA-2048, an APIv3 key, a serial) in the layout of
 * payments.sandbox_dir under STALLFRONT_TEST_VAR/paynotify-<pid>/, and signs callbacks with
 * them exactly as the providers do (models/wxpay.h, models/alipay.h).
 *
 * Orders are placed through checkout; payment attempts are written with SQL (as POST
 * /v1/orders/{id}/payments would) so these tests depend on the callbacks only. Every request
 * carries an X-Test-Tag header, kept with the notification, so each verdict can be found in
 * payment_notifications even while other tests share the database. After every test the
 * money balances: orders.paid_fen = Σ paid attempts, orders.refunded_fen = Σ refunds not
 * failed, and paid − refunded is what the order should net.
 */
#include <check.h>
#include <curl/curl.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "models/providers/alipay.h"
#include "models/providers/wxpay.h"
#include "tests/support/testutil.h"

#define MCHID   "sandbox-mch"
#define APPID   "sandbox-app"
#define SELLER  "sandbox-seller"
#define PRICE   1230 /* one product, counted: 12.30 yuan */
#define FEE     500  /* delivery fee below FREE_FROM */
#define PAYABLE (PRICE + FEE)
#define COPIES  10
#define TAG_MAX 48

/* The sandbox provider of this run: made once before the tests fork. */
static char dir[512];
static char serial[41];
static unsigned char apiv3[33] = "";
static EVP_PKEY *wx_key, *ali_key, *stranger; /* the platform's, Alipay's, nobody's */
static wxpay_merchant_t ours;

static char max_body_env[64];
static const char *test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                 "STALLFRONT_ORDER_DELIVERY_FEE_FEN=500",
                                 "STALLFRONT_ORDER_FREE_DELIVERY_FROM_FEN=50000",
                                 "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000",
                                 "STALLFRONT_PAYMENTS_MODE=sandbox",
                                 NULL, /* STALLFRONT_PAYMENTS_SANDBOX_DIR=dir */
                                 max_body_env,
                                 NULL};
static char dir_env[600];
static tserver_t shared;
static int shared_exit;

/* ---------------------------------------------------------------- the sandbox's keys */

static void write_text(const char *name, const char *text, size_t len)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_int_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void write_pair(const char *name, EVP_PKEY *key)
{
    char path[600];
    snprintf(path, sizeof(path), "%s/%s_private.pem", dir, name);
    BIO *b = BIO_new_file(path, "w");
    ck_assert(b != NULL && PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL) == 1);
    BIO_free(b);
    snprintf(path, sizeof(path), "%s/%s_public.pem", dir, name);
    b = BIO_new_file(path, "w");
    ck_assert(b != NULL && PEM_write_bio_PUBKEY(b, key) == 1);
    BIO_free(b);
}

static void make_sandbox(void)
{
    unsigned char rnd[20];
    snprintf(dir, sizeof(dir), "%s/paynotify-%d", t_env("STALLFRONT_TEST_VAR"), (int)getpid());
    ck_assert_int_eq(t_sh("rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    wx_key = EVP_RSA_gen(2048);
    ali_key = EVP_RSA_gen(2048);
    stranger = EVP_RSA_gen(2048);
    ck_assert(wx_key != NULL && ali_key != NULL && stranger != NULL);
    write_pair("wechat_platform", wx_key);
    write_pair("alipay", ali_key);
    ck_assert_int_eq(RAND_bytes(rnd, sizeof(rnd)), 1);
    for (size_t i = 0; i < sizeof(rnd); i++)
        snprintf(serial + 2 * i, 3, "%02X", rnd[i]);
    write_text("wechat_platform_serial", serial, strlen(serial));
    ck_assert_int_eq(wxpay_nonce((char *)apiv3, 32), WXPAY_OK);
    char key_line[34];
    snprintf(key_line, sizeof(key_line), "%s\n", apiv3); /* an editor's newline is allowed */
    write_text("wechat_apiv3.key", key_line, 33);
    ours = (wxpay_merchant_t){MCHID, APPID, apiv3};
}

static void shared_up(void)
{
    t_migrate();
    make_sandbox();
    snprintf(dir_env, sizeof(dir_env), "STALLFRONT_PAYMENTS_SANDBOX_DIR=%s", dir);
    snprintf(max_body_env, sizeof(max_body_env), "STALLFRONT_HTTP_MAX_BODY=%d", 4 * WXPAY_BODY_MAX);
    test_env[5] = dir_env;
    ck_assert_msg(tserver_start(&shared, test_env) == 0, "server did not start");
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
    EVP_PKEY_free(wx_key);
    EVP_PKEY_free(ali_key);
    EVP_PKEY_free(stranger);
    t_sh("rm -rf '%s'", dir);
}

/* ---------------------------------------------------------------- the world of a test */

typedef struct world {
    t_market_t m;
    config_t cfg;
    db_t db;
    int64_t vendor[2], stall[2], product[2];
    char token[128]; /* the consumer's */
    int64_t consumer, address;
    int64_t orders[16]; /* every order the test made, for the balance */
    size_t norders;
} world_t;

static int64_t sql(world_t *w, const char *text, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(&w->db, text, p, n, NULL, &id) == DB_OK, "%s: %s", text, w->db.err);
    return (int64_t)id;
}

static int64_t i64(world_t *w, const char *text, int64_t id)
{
    return t_db_i64(&w->db, text, (db_param_t[]){DB_I64(id)}, 1);
}

static void unique(char *buf, size_t len, const char *prefix)
{
    static int seq;
    snprintf(buf, len, "%s%d-%d", prefix, (int)getpid(), seq++);
}

static void world_up(world_t *w)
{
    char name[48], openid[64];
    memset(w, 0, sizeof(*w));
    t_fixture_market(&w->m);
    t_load_cfg(&w->cfg);
    db_thread_init();
    ck_assert_msg(db_open(&w->db, &w->cfg) == DB_OK, "db: %s", w->db.err);
    for (int i = 0; i < 2; i++) {
        w->vendor[i] = sql(w,
                           "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                           " VALUES (?, '李四', '13900000000', '蔬菜', 'A')",
                           (db_param_t[]){DB_I64(w->m.market_id)}, 1);
        w->stall[i] = sql(
            w, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 1, 2, ?)",
            (db_param_t[]){DB_I64(w->m.market_id), DB_STR(i == 0 ? "A-01" : "A-02"), DB_I64(w->vendor[i])}, 3);
        w->product[i] = sql(w,
                            "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                            " pricing_mode, price_fen, unit, stock) VALUES (?, ?, ?, 'veg-leafy', 'A010101', '土鸡蛋',"
                            " 'count', ?, '个', 1000)",
                            (db_param_t[]){DB_I64(w->m.market_id), DB_I64(w->stall[i]), DB_I64(w->vendor[i]),
                                           DB_I64(i == 0 ? PRICE - 200 : 200)},
                            4);
    }
    unique(name, sizeof(name), "pn");
    ck_assert_int_eq(t_login_wechat(&shared, name, w->token, sizeof(w->token)), 0);
    snprintf(openid, sizeof(openid), "sandbox-%s", name);
    w->consumer = t_db_i64(&w->db, "SELECT id FROM users WHERE wechat_openid = ?", (db_param_t[]){DB_STR(openid)}, 1);
    w->address = sql(w,
                     "INSERT INTO addresses (user_id, name, phone, text, lat, lng)"
                     " VALUES (?, '王五', '13800000000', '郑州市二七区', '34.725000', '113.626500')",
                     (db_param_t[]){DB_I64(w->consumer)}, 1);
}

/* Money balances for every order of the test: the order's columns equal the rows, and
 * paid − refunded is what it should net (the payable when it is paid, 0 when cancelled or
 * unpaid). */
static void check_balance(world_t *w)
{
    for (size_t i = 0; i < w->norders; i++) {
        int64_t id = w->orders[i];
        int64_t paid = i64(w, "SELECT paid_fen FROM orders WHERE id = ?", id);
        int64_t refunded = i64(w, "SELECT refunded_fen FROM orders WHERE id = ?", id);
        int64_t rows_paid =
            i64(w, "SELECT COALESCE(SUM(amount_fen), 0) FROM payments WHERE order_id = ? AND status = 'paid'", id);
        int64_t rows_refunded =
            i64(w, "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE order_id = ? AND status <> 'failed'", id);
        int is_paid = i64(w, "SELECT status NOT IN ('pending_payment', 'cancelled') FROM orders WHERE id = ?", id);
        ck_assert_msg(paid == rows_paid && refunded == rows_refunded,
                      "order %lld: paid_fen %lld vs %lld, refunded_fen %lld vs %lld", (long long)id, (long long)paid,
                      (long long)rows_paid, (long long)refunded, (long long)rows_refunded);
        ck_assert_msg(paid - refunded == (is_paid ? PAYABLE : 0), "order %lld nets %lld", (long long)id,
                      (long long)(paid - refunded));
    }
}

static void world_down(world_t *w)
{
    check_balance(w);
    db_close(&w->db);
    config_free(&w->cfg);
}

/* ---------------------------------------------------------------- HTTP */

/* One request over h2c with extra headers (NULL-ended); status, and body in *text. */
static tproto_t proto = T_H2C; /* a test may switch (each test runs in its own process) */

static long request(const char *method, const char *path, const char *const *headers, const char *body, size_t len,
                    char **text)
{
    char url[512];
    tresp_t r;
    snprintf(url, sizeof(url), "%s%s", t_base(&shared, proto), path);
    if (text != NULL)
        *text = NULL;
    if (t_request(proto, method, url, headers, body, len, &r) != 0)
        return -1;
    long status = r.status;
    if (text != NULL)
        *text = strndup(r.body != NULL ? r.body : "", r.len);
    t_resp_free(&r);
    return status;
}

static json_t *consumer_get(world_t *w, const char *path)
{
    char auth[192], *text = NULL;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->token);
    const char *h[] = {auth, NULL};
    long status = request("GET", path, h, NULL, 0, &text);
    ck_assert_msg(status == 200, "GET %s: %ld %s", path, status, text);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

/* A checked-out order of one of each product (PAYABLE), registered for the balance. */
static int64_t place(world_t *w)
{
    char auth[192], body[128], *text = NULL;
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w->token);
    const char *h[] = {auth, "Content-Type: application/json", NULL};
    for (int i = 0; i < 2; i++) {
        char path[96];
        snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)w->product[i]);
        ck_assert_int_eq(request("PUT", path, h, "{\"qty\":1}", 9, NULL), 200);
    }
    snprintf(body, sizeof(body), "{\"market_id\":%lld,\"address_id\":%lld}", (long long)w->m.market_id,
             (long long)w->address);
    long status = request("POST", "/v1/orders", h, body, strlen(body), &text);
    ck_assert_msg(status == 201, "checkout: %ld %s", status, text);
    json_t *doc = json_loads(text, 0, NULL);
    free(text);
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "payable_fen")), PAYABLE);
    json_decref(doc);
    ck_assert(w->norders < sizeof(w->orders) / sizeof(w->orders[0]));
    w->orders[w->norders++] = id;
    return id;
}

/* A payment attempt for the order, as POST /v1/orders/{id}/payments writes it; its
 * out_trade_no into no. */
static void attempt(world_t *w, int64_t order, const char *provider, char *no, size_t len)
{
    unique(no, len, "T");
    sql(w, "INSERT INTO payments (market_id, order_id, provider, out_trade_no, amount_fen) VALUES (?, ?, ?, ?, ?)",
        (db_param_t[]){DB_I64(w->m.market_id), DB_I64(order), DB_STR(provider), DB_STR(no), DB_I64(PAYABLE)}, 5);
}

static const char *order_status(world_t *w, int64_t order, char *buf, size_t len)
{
    db_rows_t *rows = NULL;
    ck_assert_int_eq(
        db_query_row(&w->db, "SELECT status FROM orders WHERE id = ?", (db_param_t[]){DB_I64(order)}, 1, &rows), DB_OK);
    snprintf(buf, len, "%s", db_rows_str(rows, 0, NULL));
    db_rows_free(rows);
    return buf;
}

/* Asserts the order is unpaid and untouched: pending_payment, nothing paid, vendor orders
 * still pending_payment, its attempts not paid. */
static void assert_unpaid(world_t *w, int64_t order)
{
    char st[32];
    ck_assert_str_eq(order_status(w, order, st, sizeof(st)), "pending_payment");
    ck_assert_int_eq(i64(w, "SELECT paid_fen FROM orders WHERE id = ?", order), 0);
    ck_assert_int_eq(
        i64(w, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status <> 'pending_payment'", order), 0);
    ck_assert_int_eq(i64(w, "SELECT COUNT(*) FROM payments WHERE order_id = ? AND status = 'paid'", order), 0);
}

static void assert_paid_once(world_t *w, int64_t order)
{
    char st[32];
    ck_assert_str_eq(order_status(w, order, st, sizeof(st)), "paid");
    ck_assert_int_eq(i64(w, "SELECT paid_fen FROM orders WHERE id = ?", order), PAYABLE);
    ck_assert_int_eq(i64(w, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status = 'new'", order), 2);
    ck_assert_int_eq(i64(w, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ?", order), 2);
    ck_assert_int_eq(i64(w, "SELECT COUNT(*) FROM payments WHERE order_id = ? AND status = 'paid'", order), 1);
    ck_assert_int_eq(
        i64(w,
            "SELECT COUNT(*) FROM order_events WHERE order_id = ? AND vendor_order_id IS NULL AND to_status = 'paid'",
            order),
        1);
    ck_assert_int_eq(i64(w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 0);
}

/* The verdict logged for the request tagged tag (the newest), into buf; "" if none. */
static const char *verdict(world_t *w, const char *tag, char *buf, size_t len)
{
    char like[TAG_MAX + 8];
    db_rows_t *rows = NULL;
    snprintf(like, sizeof(like), "%%\"%s\"%%", tag);
    buf[0] = '\0';
    int rc =
        db_query_row(&w->db, "SELECT verdict FROM payment_notifications WHERE headers LIKE ? ORDER BY id DESC LIMIT 1",
                     (db_param_t[]){DB_STR(like)}, 1, &rows);
    ck_assert_msg(rc == DB_OK || rc == DB_NOROW, "%s", w->db.err);
    if (rc == DB_OK)
        snprintf(buf, len, "%s", db_rows_str(rows, 0, NULL));
    db_rows_free(rows);
    return buf;
}

static void assert_verdict(world_t *w, const char *tag, const char *want)
{
    char got[64];
    verdict(w, tag, got, sizeof(got));
    ck_assert_msg(strcmp(got, want) == 0, "request %s: verdict '%s', want '%s'", tag, got, want);
}

/* ---------------------------------------------------------------- WeChat */

static wxpay_notify_t wx_event(const char *out_trade_no, int64_t amount)
{
    wxpay_notify_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = WXPAY_KIND_PAYMENT;
    unique(ev.id, sizeof(ev.id), "EV-");
    snprintf(ev.event_type, sizeof(ev.event_type), "TRANSACTION.SUCCESS");
    snprintf(ev.create_time, sizeof(ev.create_time), "2026-11-30T08:14:06+08:00");
    snprintf(ev.out_trade_no, sizeof(ev.out_trade_no), "%s", out_trade_no);
    unique(ev.transaction_id, sizeof(ev.transaction_id), "4200");
    snprintf(ev.trade_state, sizeof(ev.trade_state), "SUCCESS");
    snprintf(ev.success_time, sizeof(ev.success_time), "2026-11-30T08:14:05+08:00");
    snprintf(ev.currency, sizeof(ev.currency), "CNY");
    snprintf(ev.openid, sizeof(ev.openid), "oSandboxPayer");
    ev.total_fen = amount;
    ev.refund_fen = -1;
    return ev;
}

static void wx_sign(EVP_PKEY *key, const char *ser, const wxpay_merchant_t *m, const wxpay_notify_t *ev, int64_t when,
                    wxpay_signed_t *s)
{
    ck_assert_int_eq(wxpay_sign_notify(key, ser, m, ev, when, NULL, s), WXPAY_OK);
}

/* Sends a signed notification (body and signature may be overridden), tagged; the status,
 * and the answer in *text (may be NULL). */
static long wx_send_raw(const wxpay_signed_t *s, const char *signature, const char *body, size_t len, const char *tag,
                        char **text)
{
    char ts[64], nonce[128], sig[WXPAY_SIG_B64_MAX + 64], ser[128], t[TAG_MAX + 16];
    snprintf(ts, sizeof(ts), "Wechatpay-Timestamp: %s", s->timestamp);
    snprintf(nonce, sizeof(nonce), "Wechatpay-Nonce: %s", s->nonce);
    snprintf(sig, sizeof(sig), "Wechatpay-Signature: %s", signature != NULL ? signature : s->signature);
    snprintf(ser, sizeof(ser), "Wechatpay-Serial: %s", s->serial);
    snprintf(t, sizeof(t), "X-Test-Tag: %s", tag);
    const char *h[] = {"Content-Type: application/json",
                       ts,
                       nonce,
                       sig,
                       ser,
                       "Wechatpay-Signature-Type: " WXPAY_SIGNATURE_TYPE,
                       t,
                       NULL};
    return request("POST", "/v1/pay/wechat/notify", h, body != NULL ? body : s->body, body != NULL ? len : s->body_len,
                   text);
}

static long wx_send(const wxpay_signed_t *s, const char *tag)
{
    return wx_send_raw(s, NULL, NULL, 0, tag, NULL);
}

/* Asserts a refusal in WeChat's shape: 4xx/5xx with {"code":"FAIL","message"}. */
static void assert_wx_refused(long status, const char *text, const char *what)
{
    json_t *doc = json_loads(text != NULL ? text : "", 0, NULL);
    ck_assert_msg(status >= 400 && status < 600, "%s: answered %ld %s", what, status, text);
    ck_assert_msg(doc != NULL && strcmp(json_string_value(json_object_get(doc, "code")) ?: "", "FAIL") == 0 &&
                      json_is_string(json_object_get(doc, "message")),
                  "%s: not WeChat's FAIL shape: %s", what, text);
    json_decref(doc);
}

START_TEST(test_a_valid_wechat_callback_pays_the_order_and_a_repeat_changes_nothing)
{
    world_t w;
    wxpay_signed_t s;
    char no[40], tag[TAG_MAX], path[64];
    world_up(&w);
    int64_t order = place(&w);
    attempt(&w, order, "wechat", no, sizeof(no));
    wxpay_notify_t ev = wx_event(no, PAYABLE);
    wx_sign(wx_key, serial, &ours, &ev, time(NULL), &s);
    unique(tag, sizeof(tag), "tag");
    char *text = NULL;
    long status = wx_send_raw(&s, NULL, NULL, 0, tag, &text);
    ck_assert_msg(status == 200 || status == 204, "%ld %s", status, text);
    ck_assert_int_eq(strlen(text), 0);
    free(text);
    assert_paid_once(&w, order);
    assert_verdict(&w, tag, "recorded");
    ck_assert_int_eq(t_db_i64(&w.db, "SELECT COUNT(*) FROM payments WHERE out_trade_no = ? AND transaction_id = ?",
                              (db_param_t[]){DB_STR(no), DB_STR(ev.transaction_id)}, 2),
                     1);
    ck_assert_int_eq(t_db_i64(&w.db,
                              "SELECT COUNT(*) FROM payment_notifications WHERE provider = 'wechat' AND event_id = ?"
                              " AND out_trade_no = ?",
                              (db_param_t[]){DB_STR(ev.id), DB_STR(no)}, 2),
                     1);
    /* the consumer sees it paid, the vendors' orders new */
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)order);
    json_t *doc = consumer_get(&w, path);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "paid");
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "paid_fen")), PAYABLE);
    json_t *vos = json_object_get(doc, "vendor_orders");
    ck_assert_int_eq(json_array_size(vos), 2);
    for (size_t i = 0; i < 2; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(vos, i), "status")), "new");
    json_decref(doc);
    /* the same notification again (WeChat retries, or another of its servers), over HTTP/1.1 */
    proto = T_HTTP1;
    status = wx_send(&s, tag);
    proto = T_H2C;
    ck_assert_msg(status == 200 || status == 204, "repeat: %ld", status);
    assert_paid_once(&w, order);
    ck_assert_int_eq(
        i64(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.paid' AND JSON_VALUE(payload, '$.order_id') = ?",
            order),
        1);
    wxpay_signed_free(&s);
    /* a new notification (another event id) of the same transaction is a duplicate too */
    ev.id[0] = 'F';
    wx_sign(wx_key, serial, &ours, &ev, time(NULL), &s);
    unique(tag, sizeof(tag), "tag");
    status = wx_send(&s, tag);
    ck_assert_msg(status == 200 || status == 204, "same transaction: %ld", status);
    assert_verdict(&w, tag, "duplicate");
    assert_paid_once(&w, order);
    wxpay_signed_free(&s);
    world_down(&w);
}
END_TEST

typedef struct copy {
    const wxpay_signed_t *s;
    const char *tag;
    long status;
} copy_t;

static void *send_copy(void *arg)
{
    copy_t *c = arg;
    c->status = wx_send(c->s, c->tag);
    return NULL;
}

START_TEST(test_ten_copies_of_a_wechat_callback_at_once_pay_once_and_all_succeed)
{
    world_t w;
    wxpay_signed_t s;
    char no[40], tag[TAG_MAX];
    world_up(&w);
    int64_t order = place(&w);
    attempt(&w, order, "wechat", no, sizeof(no));
    wxpay_notify_t ev = wx_event(no, PAYABLE);
    wx_sign(wx_key, serial, &ours, &ev, time(NULL), &s);
    unique(tag, sizeof(tag), "tag");
    copy_t c[COPIES];
    pthread_t t[COPIES];
    for (int i = 0; i < COPIES; i++) {
        c[i] = (copy_t){&s, tag, 0};
        ck_assert_int_eq(pthread_create(&t[i], NULL, send_copy, &c[i]), 0);
    }
    for (int i = 0; i < COPIES; i++)
        pthread_join(t[i], NULL);
    for (int i = 0; i < COPIES; i++)
        ck_assert_msg(c[i].status == 200 || c[i].status == 204, "copy %d: %ld", i, c[i].status);
    assert_paid_once(&w, order);
    ck_assert_int_eq(
        i64(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'order.paid' AND JSON_VALUE(payload, '$.order_id') = ?",
            order),
        1);
    /* one row for the event, seen ten times */
    ck_assert_int_eq(t_db_i64(&w.db,
                              "SELECT times_seen FROM payment_notifications WHERE provider = 'wechat' AND event_id = ?",
                              (db_param_t[]){DB_STR(ev.id)}, 1),
                     COPIES);
    wxpay_signed_free(&s);
    world_down(&w);
}
END_TEST

/* Replaces the signed body by doc's (stolen) and signs it again with the platform's key: a
 * message WeChat really signed, wrong in another way. */
static void resign(wxpay_signed_t *s, json_t *doc)
{
    char *body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
    int64_t ts = strtoll(s->timestamp, NULL, 10);
    char ser[WXPAY_SERIAL_MAX + 1];
    snprintf(ser, sizeof(ser), "%s", s->serial);
    wxpay_signed_free(s);
    ck_assert_int_eq(wxpay_sign_message(wx_key, ser, ts, NULL, body, strlen(body), s), WXPAY_OK);
    free(body);
    json_decref(doc);
}

typedef enum {
    V_TAMPERED,
    V_STRANGER,
    V_OLD,
    V_AHEAD,
    V_SIGNTEST,
    V_SERIAL,
    V_CIPHERTEXT,
    V_APIV3,
    V_AMOUNT,
    V_MCHID,
    V_APPID,
    V_UNKNOWN_TRADE,
    V_EMPTY,
    V_OVERSIZED,
    V_CURRENCY,
    V_COUNT
} variant_t;

static const struct {
    const char *name;
    const char *verdict;
} variants[V_COUNT] = {
    [V_TAMPERED] = {"tampered body", "refused:signature"},
    [V_STRANGER] = {"another key's signature", "refused:signature"},
    [V_OLD] = {"timestamp 10 minutes old", "refused:stale"},
    [V_AHEAD] = {"timestamp 10 minutes ahead", "refused:stale"},
    [V_SIGNTEST] = {"WECHATPAY/SIGNTEST/ probe", "refused:signature"},
    [V_SERIAL] = {"unknown serial", "refused:serial"},
    [V_CIPHERTEXT] = {"corrupted ciphertext", "refused:decrypt"},
    [V_APIV3] = {"wrong APIv3 key", "refused:decrypt"},
    [V_AMOUNT] = {"wrong amount", "refused:amount_mismatch"},
    [V_MCHID] = {"wrong mchid", "refused:mchid"},
    [V_APPID] = {"wrong appid", "refused:appid"},
    [V_UNKNOWN_TRADE] = {"unknown out_trade_no", "refused:unknown_trade"},
    [V_EMPTY] = {"empty body", "refused:body"},
    [V_OVERSIZED] = {"oversized body", "refused:body"},
    [V_CURRENCY] = {"another currency", "refused:currency"},
};

/* Sends variant v of a payment notification for no; the status and answer. */
static long wx_variant(variant_t v, const char *no, const char *tag, char **text)
{
    static const unsigned char other_apiv3[] = "zyxwvutsrqponmlkjihgfedcba987654";
    wxpay_signed_t s;
    wxpay_merchant_t m = ours;
    wxpay_notify_t ev = wx_event(no, PAYABLE);
    int64_t now = time(NULL);
    long status;
    if (v == V_AMOUNT)
        ev.total_fen = PAYABLE - 1;
    if (v == V_UNKNOWN_TRADE)
        snprintf(ev.out_trade_no, sizeof(ev.out_trade_no), "NOSUCH%d", (int)getpid());
    if (v == V_CURRENCY)
        snprintf(ev.currency, sizeof(ev.currency), "USD");
    if (v == V_APIV3)
        m.apiv3_key = other_apiv3;
    if (v == V_MCHID)
        m.mchid = "1900000100";
    if (v == V_APPID)
        m.appid = "wxd678efh567hg6787";
    wx_sign(v == V_STRANGER ? stranger : wx_key, v == V_SERIAL ? "5157F09EFDC096DE15EBE81A47057A7232F1B8E1" : serial,
            &m, &ev,
            v == V_OLD     ? now - 600
            : v == V_AHEAD ? now + 600
                           : now,
            &s);
    if (v == V_CIPHERTEXT) {
        json_t *doc = json_loads(s.body, JSON_PRESERVE_ORDER, NULL);
        json_t *res = json_object_get(doc, "resource");
        char *ct = strdup(json_string_value(json_object_get(res, "ciphertext")));
        ct[5] = ct[5] == 'A' ? 'B' : 'A';
        json_object_set_new(res, "ciphertext", json_string(ct));
        free(ct);
        resign(&s, doc);
    }
    if (v == V_TAMPERED) {
        char *body = strdup(s.body);
        char *p = strstr(body, "\"summary\"");
        ck_assert_ptr_nonnull(p);
        p[2] = 'S'; /* "summary" → "sSmmary": one byte of the signed body */
        status = wx_send_raw(&s, NULL, body, s.body_len, tag, text);
        free(body);
    } else if (v == V_SIGNTEST) {
        char probe[WXPAY_SIG_B64_MAX + 1];
        snprintf(probe, sizeof(probe), "WECHATPAY/SIGNTEST/%.325s", s.signature + 19);
        status = wx_send_raw(&s, probe, NULL, 0, tag, text);
    } else if (v == V_EMPTY) {
        status = wx_send_raw(&s, NULL, "", 0, tag, text);
    } else if (v == V_OVERSIZED) {
        size_t n = WXPAY_BODY_MAX + 1024;
        char *big = malloc(n);
        memset(big, ' ', n);
        memcpy(big, s.body, s.body_len);
        status = wx_send_raw(&s, NULL, big, n, tag, text);
        free(big);
    } else {
        status = wx_send_raw(&s, NULL, NULL, 0, tag, text);
    }
    wxpay_signed_free(&s);
    return status;
}

START_TEST(test_forged_stale_or_wrong_wechat_callbacks_are_refused_and_pay_nothing)
{
    world_t w;
    char no[40], tag[TAG_MAX];
    world_up(&w);
    int64_t order = place(&w);
    attempt(&w, order, "wechat", no, sizeof(no));
    for (int v = 0; v < V_COUNT; v++) {
        char *text = NULL;
        unique(tag, sizeof(tag), "tag");
        long status = wx_variant((variant_t)v, no, tag, &text);
        assert_wx_refused(status, text, variants[v].name);
        free(text);
        assert_verdict(&w, tag, variants[v].verdict);
        /* refused notifications are kept without an event id: a retry can still be recorded */
        char like[TAG_MAX + 8];
        snprintf(like, sizeof(like), "%%\"%s\"%%", tag);
        ck_assert_int_eq(
            t_db_i64(&w.db, "SELECT COUNT(*) FROM payment_notifications WHERE headers LIKE ? AND event_id IS NULL",
                     (db_param_t[]){DB_STR(like)}, 1),
            1);
        assert_unpaid(&w, order);
    }
    /* and the genuine one still pays */
    wxpay_signed_t s;
    wxpay_notify_t ev = wx_event(no, PAYABLE);
    wx_sign(wx_key, serial, &ours, &ev, time(NULL), &s);
    unique(tag, sizeof(tag), "tag");
    long status = wx_send(&s, tag);
    ck_assert_msg(status == 200 || status == 204, "%ld", status);
    assert_paid_once(&w, order);
    wxpay_signed_free(&s);
    world_down(&w);
}
END_TEST

START_TEST(test_a_wechat_notification_of_an_unpaid_state_is_acknowledged_and_pays_nothing)
{
    world_t w;
    wxpay_signed_t s;
    char no[40], tag[TAG_MAX];
    world_up(&w);
    int64_t order = place(&w);
    attempt(&w, order, "wechat", no, sizeof(no));
    wxpay_notify_t ev = wx_event(no, PAYABLE);
    snprintf(ev.trade_state, sizeof(ev.trade_state), "NOTPAY");
    wx_sign(wx_key, serial, &ours, &ev, time(NULL), &s);
    unique(tag, sizeof(tag), "tag");
    long status = wx_send(&s, tag);
    ck_assert_msg(status == 200 || status == 204, "%ld", status);
    assert_verdict(&w, tag, "ignored:NOTPAY");
    assert_unpaid(&w, order);
    wxpay_signed_free(&s);
    world_down(&w);
}
END_TEST

START_TEST(test_a_late_payment_after_cancel_is_recorded_and_refunded_in_full)
{
    world_t w;
    wxpay_signed_t s;
    char no[40], tag[TAG_MAX], path[96], auth[192], st[32];
    world_up(&w);
    int64_t order = place(&w);
    attempt(&w, order, "wechat", no, sizeof(no));
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)order);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", w.token);
    const char *h[] = {auth, NULL};
    ck_assert_int_eq(request("POST", path, h, NULL, 0, NULL), 200);
    wxpay_notify_t ev = wx_event(no, PAYABLE);
    wx_sign(wx_key, serial, &ours, &ev, time(NULL), &s);
    unique(tag, sizeof(tag), "tag");
    long status = wx_send(&s, tag);
    ck_assert_msg(status == 200 || status == 204, "%ld", status);
    assert_verdict(&w, tag, "refunded_late");
    ck_assert_str_eq(order_status(&w, order, st, sizeof(st)), "cancelled");
    ck_assert_int_eq(i64(&w, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status <> 'cancelled'", order),
                     0);
    ck_assert_int_eq(i64(&w, "SELECT paid_fen FROM orders WHERE id = ?", order), PAYABLE);
    ck_assert_int_eq(i64(&w, "SELECT refunded_fen FROM orders WHERE id = ?", order), PAYABLE);
    ck_assert_int_eq(i64(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 1);
    ck_assert_int_eq(i64(&w, "SELECT amount_fen FROM refunds WHERE order_id = ?", order), PAYABLE);
    /* the repeat refunds nothing more */
    status = wx_send(&s, tag);
    ck_assert_msg(status == 200 || status == 204, "%ld", status);
    ck_assert_int_eq(i64(&w, "SELECT COUNT(*) FROM refunds WHERE order_id = ?", order), 1);
    wxpay_signed_free(&s);
    /* WeChat reports the refund done: it is settled once; an unknown refund is refused */
    db_rows_t *rows = NULL;
    ck_assert_int_eq(db_query_row(&w.db, "SELECT out_refund_no, status FROM refunds WHERE order_id = ?",
                                  (db_param_t[]){DB_I64(order)}, 1, &rows),
                     DB_OK);
    wxpay_notify_t rf = ev;
    rf.kind = WXPAY_KIND_REFUND;
    unique(rf.id, sizeof(rf.id), "EV-R");
    snprintf(rf.event_type, sizeof(rf.event_type), "REFUND.SUCCESS");
    snprintf(rf.out_refund_no, sizeof(rf.out_refund_no), "%s", db_rows_str(rows, 0, NULL));
    int pending = strcmp(db_rows_str(rows, 1, NULL), "pending") == 0;
    db_rows_free(rows);
    unique(rf.refund_id, sizeof(rf.refund_id), "5030");
    snprintf(rf.refund_status, sizeof(rf.refund_status), "SUCCESS");
    rf.trade_state[0] = rf.currency[0] = rf.openid[0] = '\0';
    rf.refund_fen = PAYABLE;
    wx_sign(wx_key, serial, &ours, &rf, time(NULL), &s);
    unique(tag, sizeof(tag), "tag");
    status = wx_send(&s, tag);
    ck_assert_msg(status == 200 || status == 204, "refund notification: %ld", status);
    assert_verdict(&w, tag, "refund_succeeded");
    if (pending) /* unless the sandbox had settled it already */
        ck_assert_int_eq(i64(&w, "SELECT status = 'succeeded' FROM refunds WHERE order_id = ?", order), 1);
    wxpay_signed_free(&s);
    snprintf(rf.out_refund_no, sizeof(rf.out_refund_no), "RNOSUCH%d", (int)getpid());
    unique(rf.id, sizeof(rf.id), "EV-R");
    wx_sign(wx_key, serial, &ours, &rf, time(NULL), &s);
    unique(tag, sizeof(tag), "tag");
    char *text = NULL;
    status = wx_send_raw(&s, NULL, NULL, 0, tag, &text);
    assert_wx_refused(status, text, "unknown refund");
    free(text);
    assert_verdict(&w, tag, "refused:unknown_refund");
    wxpay_signed_free(&s);
    world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- Alipay */

/* A TRADE_SUCCESS notification's parameters for no and amount (yuan text). */
typedef struct ali_params {
    alipay_kv_t kv[16];
    size_t n;
    char notify_id[48], trade_no[48];
} ali_params_t;

static void ali_event(ali_params_t *p, const char *no, const char *yuan, const char *app_id, const char *seller_id,
                      const char *subject)
{
    memset(p, 0, sizeof(*p));
    unique(p->notify_id, sizeof(p->notify_id), "nid");
    unique(p->trade_no, sizeof(p->trade_no), "2026");
    const alipay_kv_t kv[] = {{"notify_time", "2026-11-30 08:14:06"},
                              {"notify_type", "trade_status_sync"},
                              {"notify_id", p->notify_id},
                              {"app_id", app_id},
                              {"version", "1.0"},
                              {"trade_no", p->trade_no},
                              {"out_trade_no", no},
                              {"buyer_id", "2088102122524333"},
                              {"seller_id", seller_id},
                              {"trade_status", "TRADE_SUCCESS"},
                              {"total_amount", yuan},
                              {"receipt_amount", yuan},
                              {"gmt_payment", "2026-11-30 08:14:05"},
                              {"subject", subject}};
    memcpy(p->kv, kv, sizeof(kv));
    p->n = sizeof(kv) / sizeof(kv[0]);
}

static long ali_send(const char *body, size_t len, const char *tag, char **text)
{
    char t[TAG_MAX + 16];
    snprintf(t, sizeof(t), "X-Test-Tag: %s", tag);
    const char *h[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8", t, NULL};
    return request("POST", "/v1/pay/alipay/notify", h, body, len, text);
}

/* Signs p in charset with key and sends it; the answer must be `body_want`. */
static void ali_expect(EVP_PKEY *key, const ali_params_t *p, const char *charset, const char *tag, const char *want)
{
    char *body = NULL, *text = NULL;
    size_t len = 0;
    ck_assert_int_eq(alipay_sign_params(key, p->kv, p->n, charset, &body, &len), ALIPAY_OK);
    long status = ali_send(body, len, tag, &text);
    ck_assert_msg(strcmp(text, want) == 0 && (strcmp(want, "success") != 0 || status == 200), "%s: %ld %s", tag, status,
                  text);
    free(text);
    free(body);
}

#define YUAN "17.30" /* PAYABLE */

START_TEST(test_valid_alipay_callbacks_in_utf8_and_gbk_pay_the_order)
{
    world_t w;
    ali_params_t p;
    char no[40], tag[TAG_MAX];
    world_up(&w);
    /* utf-8 */
    int64_t a = place(&w);
    attempt(&w, a, "alipay", no, sizeof(no));
    ali_event(&p, no, YUAN, APPID, SELLER, "土鸡蛋 两个");
    unique(tag, sizeof(tag), "tag");
    ali_expect(ali_key, &p, "utf-8", tag, "success");
    assert_paid_once(&w, a);
    assert_verdict(&w, tag, "recorded");
    ck_assert_int_eq(t_db_i64(&w.db, "SELECT COUNT(*) FROM payments WHERE out_trade_no = ? AND transaction_id = ?",
                              (db_param_t[]){DB_STR(no), DB_STR(p.trade_no)}, 2),
                     1);
    ali_expect(ali_key, &p, "utf-8", tag, "success"); /* Alipay's retry: success, nothing new */
    assert_paid_once(&w, a);
    /* gbk: the subject's bytes are GBK ("蔬菜" is C9DF B2CB), signed and verified as sent */
    int64_t b = place(&w);
    attempt(&w, b, "alipay", no, sizeof(no));
    ali_event(&p, no, YUAN, APPID, SELLER, "\xc9\xdf\xb2\xcb");
    unique(tag, sizeof(tag), "tag");
    ali_expect(ali_key, &p, "gbk", tag, "success");
    assert_paid_once(&w, b);
    assert_verdict(&w, tag, "recorded");
    world_down(&w);
}
END_TEST

/* Replaces the first `from` in body by `to`. */
static char *replaced(const char *body, const char *from, const char *to)
{
    const char *at = strstr(body, from);
    ck_assert_msg(at != NULL, "'%s' not in %s", from, body);
    size_t head = (size_t)(at - body), n = strlen(body) - strlen(from) + strlen(to);
    char *out = malloc(n + 1);
    snprintf(out, n + 1, "%.*s%s%s", (int)head, body, to, at + strlen(from));
    return out;
}

START_TEST(test_forged_or_wrong_alipay_callbacks_are_refused_and_pay_nothing)
{
    world_t w;
    ali_params_t p;
    char no[40], tag[TAG_MAX], *body = NULL, *text = NULL;
    size_t len = 0;
    world_up(&w);
    int64_t order = place(&w);
    attempt(&w, order, "alipay", no, sizeof(no));
    static const struct {
        const char *name, *from, *to, *verdict;
    } edits[] = {
        /* the amount changed after signing */
        {"tampered amount", "total_amount=17.30", "total_amount=0.01", "refused:signature"},
        /* a value HTML-escaped on the way (Tom & "Jerry" as Tom &amp; &quot;Jerry&quot;) */
        {"HTML-escaped value", "subject=Tom+%26+%22Jerry%22", "subject=Tom+%26amp%3B+%26quot%3BJerry%26quot%3B",
         "refused:signature"},
    };
    for (size_t i = 0; i < sizeof(edits) / sizeof(edits[0]); i++) {
        ali_event(&p, no, YUAN, APPID, SELLER, "Tom & \"Jerry\"");
        ck_assert_int_eq(alipay_sign_params(ali_key, p.kv, p.n, "utf-8", &body, &len), ALIPAY_OK);
        char *bad = replaced(body, edits[i].from, edits[i].to);
        unique(tag, sizeof(tag), "tag");
        long status = ali_send(bad, strlen(bad), tag, &text);
        ck_assert_msg(strcmp(text, "success") != 0 && strcmp(text, "failure") == 0, "%s: %ld %s", edits[i].name, status,
                      text);
        assert_verdict(&w, tag, edits[i].verdict);
        free(bad);
        free(body);
        free(text);
        assert_unpaid(&w, order);
    }
    /* '+' left undecoded: the sender signed "1+1" but sent the '+' raw, which is a space */
    ali_event(&p, no, YUAN, APPID, SELLER, "1+1");
    ck_assert_int_eq(alipay_sign_params(ali_key, p.kv, p.n, "utf-8", &body, &len), ALIPAY_OK);
    char *raw_plus = replaced(body, "subject=1%2B1", "subject=1+1");
    unique(tag, sizeof(tag), "tag");
    ali_send(raw_plus, strlen(raw_plus), tag, &text);
    ck_assert_str_eq(text, "failure");
    assert_verdict(&w, tag, "refused:signature");
    free(raw_plus);
    free(body);
    free(text);
    /* signed by Alipay's key but not for us, or not matching our payment */
    static const struct {
        const char *name, *app, *seller, *yuan, *no, *verdict;
    } wrong[] = {
        {"wrong app", "2021000000000000", SELLER, YUAN, NULL, "refused:app_id"},
        {"wrong seller", APPID, "2088000000000001", YUAN, NULL, "refused:seller_id"},
        {"wrong amount", APPID, SELLER, "17.29", NULL, "refused:amount_mismatch"},
        {"unknown out_trade_no", APPID, SELLER, YUAN, "NOSUCHTRADE", "refused:unknown_trade"},
    };
    for (size_t i = 0; i < sizeof(wrong) / sizeof(wrong[0]); i++) {
        ali_event(&p, wrong[i].no != NULL ? wrong[i].no : no, wrong[i].yuan, wrong[i].app, wrong[i].seller, "x");
        unique(tag, sizeof(tag), "tag");
        ali_expect(ali_key, &p, "utf-8", tag, "failure");
        assert_verdict(&w, tag, wrong[i].verdict);
        assert_unpaid(&w, order);
    }
    /* another key's signature, and an empty body */
    ali_event(&p, no, YUAN, APPID, SELLER, "x");
    unique(tag, sizeof(tag), "tag");
    ali_expect(stranger, &p, "utf-8", tag, "failure");
    assert_verdict(&w, tag, "refused:signature");
    unique(tag, sizeof(tag), "tag");
    ali_send("", 0, tag, &text);
    ck_assert_str_eq(text, "failure");
    free(text);
    assert_verdict(&w, tag, "refused:body");
    assert_unpaid(&w, order);
    world_down(&w);
}
END_TEST

START_TEST(test_alipay_waiting_and_closed_states_change_nothing)
{
    world_t w;
    ali_params_t p;
    char no[40], tag[TAG_MAX];
    world_up(&w);
    int64_t order = place(&w);
    attempt(&w, order, "alipay", no, sizeof(no));
    static const char *const states[] = {"WAIT_BUYER_PAY", "TRADE_CLOSED"};
    for (size_t i = 0; i < 2; i++) {
        ali_event(&p, no, YUAN, APPID, SELLER, "x");
        p.kv[9].value = states[i];
        unique(tag, sizeof(tag), "tag");
        ali_expect(ali_key, &p, "utf-8", tag, "success");
        char want[40];
        snprintf(want, sizeof(want), "ignored:%s", states[i]);
        assert_verdict(&w, tag, want);
        assert_unpaid(&w, order);
    }
    world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- stallfront sandbox pay */

/* Runs `stallfront sandbox pay ORDER [args]` against the shared server; its exit status, and
 * its output in out (a file). */
static int sandbox_pay(int64_t order, const char *args, char *out, size_t outlen)
{
    snprintf(out, outlen, "%s/sandbox-pay-%lld.out", dir, (long long)order);
    return t_sh("STALLFRONT_PAYMENTS_MODE=sandbox STALLFRONT_PAYMENTS_SANDBOX_DIR='%s' %s sandbox pay %lld --url %s %s"
                " >'%s' 2>&1",
                dir, SF_BINARY, (long long)order, t_base(&shared, T_H2C), args, out);
}

/* The command's output on stderr, for a failure (the directory goes at the end of the run). */
static int shown(int rc, const char *out)
{
    if (rc != 0)
        t_sh("cat '%s' >&2", out);
    return rc;
}

static void assert_vendors_see_new(world_t *w, int64_t order)
{
    char path[64];
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)order);
    json_t *doc = consumer_get(w, path);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "paid");
    json_t *vos = json_object_get(doc, "vendor_orders");
    ck_assert_int_eq(json_array_size(vos), 2);
    for (size_t i = 0; i < 2; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(vos, i), "status")), "new");
    json_decref(doc);
    for (int i = 0; i < 2; i++)
        ck_assert_int_eq(t_db_i64(&w->db,
                                  "SELECT status = 'new' FROM vendor_orders WHERE order_id = ? AND vendor_id = ?",
                                  (db_param_t[]){DB_I64(order), DB_I64(w->vendor[i])}, 2),
                         1);
}

START_TEST(test_sandbox_pay_pays_a_demo_order_and_its_vendors_see_it_new)
{
    world_t w;
    char no[40], out[700];
    world_up(&w);
    /* with an attempt already made by the consumer's client */
    int64_t a = place(&w);
    attempt(&w, a, "wechat", no, sizeof(no));
    int rc = shown(sandbox_pay(a, "", out, sizeof(out)), out);
    ck_assert_msg(rc == 0, "exit %d: see %s", rc, out);
    assert_paid_once(&w, a);
    assert_vendors_see_new(&w, a);
    ck_assert_int_eq(
        t_db_i64(&w.db, "SELECT COUNT(*) FROM payment_notifications WHERE out_trade_no = ? AND verdict = 'recorded'",
                 (db_param_t[]){DB_STR(no)}, 1),
        1);
    /* paid already: nothing left to pay, exit 1 */
    ck_assert_int_eq(sandbox_pay(a, "", out, sizeof(out)), 1);
    assert_paid_once(&w, a);
    /* Alipay */
    int64_t b = place(&w);
    attempt(&w, b, "alipay", no, sizeof(no));
    rc = shown(sandbox_pay(b, "--provider alipay", out, sizeof(out)), out);
    ck_assert_msg(rc == 0, "exit %d: see %s", rc, out);
    assert_paid_once(&w, b);
    assert_vendors_see_new(&w, b);
    /* usage errors */
    ck_assert_int_eq(sandbox_pay(b, "--provider paypal", out, sizeof(out)), 2);
    ck_assert_int_eq(t_sh("%s sandbox pay abc >/dev/null 2>&1", SF_BINARY), 2);
    ck_assert_int_eq(t_sh("%s sandbox >/dev/null 2>&1", SF_BINARY), 2);
    ck_assert_int_eq(t_sh("STALLFRONT_PAYMENTS_MODE=live %s sandbox pay %lld >/dev/null 2>&1", SF_BINARY, (long long)b),
                     1);
    world_down(&w);
}
END_TEST

START_TEST(test_sandbox_pay_makes_the_payment_attempt_when_there_is_none)
{
    world_t w;
    char out[700];
    world_up(&w);
    static const char *const providers[] = {"wechat", "alipay"};
    for (size_t i = 0; i < 2; i++) {
        char args[32];
        int64_t order = place(&w);
        snprintf(args, sizeof(args), "--provider %s", providers[i]);
        int rc = shown(sandbox_pay(order, args, out, sizeof(out)), out);
        ck_assert_msg(rc == 0, "%s: exit %d: see %s", providers[i], rc, out);
        assert_paid_once(&w, order);
        assert_vendors_see_new(&w, order);
        ck_assert_int_eq(t_db_i64(&w.db, "SELECT COUNT(*) FROM payments WHERE order_id = ? AND provider = ?",
                                  (db_param_t[]){DB_I64(order), DB_STR(providers[i])}, 2),
                         1);
    }
    world_down(&w);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("paynotify");
    TCase *tc = tcase_create("paynotify");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_a_valid_wechat_callback_pays_the_order_and_a_repeat_changes_nothing);
    tcase_add_test(tc, test_ten_copies_of_a_wechat_callback_at_once_pay_once_and_all_succeed);
    tcase_add_test(tc, test_forged_stale_or_wrong_wechat_callbacks_are_refused_and_pay_nothing);
    tcase_add_test(tc, test_a_wechat_notification_of_an_unpaid_state_is_acknowledged_and_pays_nothing);
    tcase_add_test(tc, test_a_late_payment_after_cancel_is_recorded_and_refunded_in_full);
    tcase_add_test(tc, test_valid_alipay_callbacks_in_utf8_and_gbk_pay_the_order);
    tcase_add_test(tc, test_forged_or_wrong_alipay_callbacks_are_refused_and_pay_nothing);
    tcase_add_test(tc, test_alipay_waiting_and_closed_states_change_nothing);
    tcase_add_test(tc, test_sandbox_pay_pays_a_demo_order_and_its_vendors_see_it_new);
    tcase_add_test(tc, test_sandbox_pay_makes_the_payment_attempt_when_there_is_none);
    suite_add_tcase(su, tc);
    return t_main_shared(su, NULL, &shared, &shared_exit);
}
