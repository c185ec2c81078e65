/*
 * models/payprov.c, the provider adapters, against a fake provider on a thread of this test
 * (canned answers; each request captured): WeChat Pay's calls carry an Authorization header
 * that verifies with the merchant's public key, create hands back mini-program params whose
 * paySign verifies, answers are trusted only when signed by a platform key we hold; Alipay's
 * requests carry an RSA2 sign that verifies with the app's public key, the order string too,
 * and answers are trusted only when Alipay's sign verifies. Refund and query answers map to
 * the adapter's statuses; a provider that is down or answers 5xx is "unavailable". The sandbox
 * makes no call at all. Keys are made by the test. No database needed.
 */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/providers/alipay.h"
#include "models/base/b64.h"
#include "models/providers/payprov.h"
#include "models/providers/wxpay.h"
#include "tests/support/testutil.h"

#define SERIAL "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"

static EVP_PKEY *merchant, *platform, *other, *app, *alipay;
static char dir[512];

/* ================================================================ keys and config */

static void write_key(EVP_PKEY *k, const char *name, int private)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    ck_assert(f != NULL);
    ck_assert(private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, k));
    fclose(f);
}

static void keys_up(void)
{
    snprintf(dir, sizeof(dir), "%s/payprov-%d", t_env("STALLFRONT_TEST_VAR"), (int)getpid());
    mkdir(t_env("STALLFRONT_TEST_VAR"), 0700);
    mkdir(dir, 0700);
    merchant = EVP_RSA_gen(2048);
    platform = EVP_RSA_gen(2048);
    other = EVP_RSA_gen(2048);
    app = EVP_RSA_gen(2048);
    alipay = EVP_RSA_gen(2048);
    ck_assert(merchant && platform && other && app && alipay);
    write_key(merchant, "merchant.pem", 1);
    write_key(platform, "platform_public.pem", 0);
    write_key(app, "app.pem", 1);
    write_key(alipay, "alipay_public.pem", 0);
}

static void keys_down(void)
{
    EVP_PKEY_free(merchant);
    EVP_PKEY_free(platform);
    EVP_PKEY_free(other);
    EVP_PKEY_free(app);
    EVP_PKEY_free(alipay);
}

/* A live config pointing both providers at port; verify: answers are checked. */
static void live_cfg(config_t *cfg, int port, int verify)
{
    char err[256], v[800];
    memset(cfg, 0, sizeof(*cfg));
    ck_assert_msg(config_load(cfg, NULL, err, sizeof(err)) == 0, "%s", err);
#define SET(k, val) ck_assert_msg(config_set(cfg, k, val, err, sizeof(err)) == 0, "%s: %s", k, err)
    SET("payments.mode", "live");
    snprintf(v, sizeof(v), "http://127.0.0.1:%d/pay", port);
    SET("wechat.pay_api_base", v);
    snprintf(v, sizeof(v), "http://127.0.0.1:%d/gateway.do", port);
    SET("alipay.gateway", v);
    SET("wechat.mchid", "1900000109");
    SET("wechat.appid", "wxd678efh567hg6787");
    SET("wechat.merchant_serial", "MERCHANTSERIAL01");
    SET("wechat.notify_url", "https://shop.example/v1/pay/wechat/notify");
    snprintf(v, sizeof(v), "%s/merchant.pem", dir);
    SET("wechat.merchant_key_file", v);
    SET("alipay.app_id", "2021000000000001");
    snprintf(v, sizeof(v), "%s/app.pem", dir);
    SET("alipay.app_key_file", v);
    if (verify) {
        snprintf(v, sizeof(v), SERIAL "=%s/platform_public.pem", dir);
        SET("wechat.platform_keys", v);
        snprintf(v, sizeof(v), "%s/alipay_public.pem", dir);
        SET("alipay.public_key_file", v);
    }
#undef SET
}

/* ================================================================ the fake */

#define FAKE_MAX 4

typedef struct fake {
    int fd, port;
    size_t n, got;
    char *answers[FAKE_MAX]; /* malloc'd whole HTTP answers */
    char requests[FAKE_MAX][16384];
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
        size_t len = 0;
        while (len < sizeof(f->requests[i]) - 1) {
            ssize_t r = recv(c, buf + len, sizeof(f->requests[i]) - 1 - len, 0);
            if (r <= 0)
                break;
            len += (size_t)r;
            buf[len] = '\0';
            char *end = strstr(buf, "\r\n\r\n"), *cl = strcasestr(buf, "\r\nContent-Length:");
            if (end != NULL &&
                len >= (size_t)(end + 4 - buf) + (cl != NULL && cl < end ? strtoul(cl + 17, NULL, 10) : 0))
                break;
        }
        ssize_t s = send(c, f->answers[i], strlen(f->answers[i]), MSG_NOSIGNAL);
        (void)s;
        close(c);
        f->got = i + 1;
    }
    return NULL;
}

static void fake_listen(fake_t *f)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    ck_assert(f->fd >= 0);
    ck_assert(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ck_assert(listen(f->fd, 8) == 0);
    ck_assert(getsockname(f->fd, (struct sockaddr *)&sa, &len) == 0);
    f->port = ntohs(sa.sin_port);
}

static void fake_go(fake_t *f)
{
    ck_assert(pthread_create(&f->th, NULL, fake_run, f) == 0);
}

static void fake_stop(fake_t *f)
{
    shutdown(f->fd, SHUT_RDWR);
    pthread_join(f->th, NULL);
    close(f->fd);
    for (size_t i = 0; i < f->n; i++)
        free(f->answers[i]);
}

/* An answer as WeChat sends it: JSON signed by key (a platform key, or another). */
static char *wx_answer(int status, const char *body, EVP_PKEY *key)
{
    wxpay_signed_t s;
    ck_assert_int_eq(wxpay_sign_message(key, SERIAL, (int64_t)time(NULL), NULL, body, strlen(body), &s), WXPAY_OK);
    size_t n = strlen(body) + 2048;
    char *a = malloc(n);
    snprintf(
        a, n,
        "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %zu\r\n"
        "Wechatpay-Timestamp: %s\r\nWechatpay-Nonce: %s\r\nWechatpay-Serial: %s\r\nWechatpay-Signature: %s\r\n\r\n%s",
        status, strlen(body), s.timestamp, s.nonce, s.serial, s.signature, body);
    wxpay_signed_free(&s);
    return a;
}

static char *plain_answer(int status, const char *body)
{
    size_t n = strlen(body) + 256;
    char *a = malloc(n);
    snprintf(a, n,
             "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nConnection: close\r\nContent-Length: %zu\r\n\r\n%s",
             status, strlen(body), body);
    return a;
}

/* An Alipay answer: {"<name>": object, "sign": base64 SHA256withRSA over object's text by key}. */
static char *ali_answer(const char *name, const char *object, EVP_PKEY *key)
{
    unsigned char sig[512];
    size_t siglen = sizeof(sig);
    char b64[1024], body[4096];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    ck_assert_int_eq(EVP_DigestSignInit(ctx, NULL, EVP_sha256(), NULL, key), 1);
    ck_assert_int_eq(EVP_DigestSign(ctx, sig, &siglen, (const unsigned char *)object, strlen(object)), 1);
    EVP_MD_CTX_free(ctx);
    ck_assert_int_eq(b64_encode(sig, siglen, b64, sizeof(b64), NULL), B64_OK);
    snprintf(body, sizeof(body), "{\"%s\":%s,\"sign\":\"%s\"}", name, object, b64);
    return plain_answer(200, body);
}

/* ================================================================ checking requests */

static int verify(EVP_PKEY *key, const char *msg, size_t len, const char *sig_b64)
{
    unsigned char raw[512];
    size_t rawlen = 0;
    if (b64_decode(sig_b64, strlen(sig_b64), raw, sizeof(raw), &rawlen) != B64_OK)
        return 0;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, key) == 1 &&
             EVP_DigestVerify(ctx, raw, rawlen, (const unsigned char *)msg, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* The request's Authorization verifies with the merchant's public key over
 * METHOD\nPATH\nTIMESTAMP\nNONCE\nBODY\n; the path is the full one, base path included. */
static void assert_wx_signed(const char *req, const char *method, const char *path)
{
    char m[8], p[512], nonce[64], ts[24], sig[600], msg[8192];
    ck_assert_int_eq(sscanf(req, "%7s %511s", m, p), 2);
    ck_assert_str_eq(m, method);
    ck_assert_str_eq(p, path);
    const char *auth = strcasestr(req, "\r\nAuthorization: WECHATPAY2-SHA256-RSA2048 ");
    ck_assert_ptr_nonnull(auth);
    ck_assert_ptr_nonnull(strstr(auth, "mchid=\"1900000109\""));
    ck_assert_ptr_nonnull(strstr(auth, "serial_no=\"MERCHANTSERIAL01\""));
    ck_assert_int_eq(sscanf(strstr(auth, "nonce_str=\""), "nonce_str=\"%63[^\"]", nonce), 1);
    ck_assert_int_eq(sscanf(strstr(auth, "timestamp=\""), "timestamp=\"%23[^\"]", ts), 1);
    ck_assert_int_eq(sscanf(strstr(auth, "signature=\""), "signature=\"%599[^\"]", sig), 1);
    ck_assert_int_le(llabs(strtoll(ts, NULL, 10) - (long long)time(NULL)), 60);
    snprintf(msg, sizeof(msg), "%s\n%s\n%s\n%s\n%s\n", m, p, ts, nonce, strstr(req, "\r\n\r\n") + 4);
    ck_assert_msg(verify(merchant, msg, strlen(msg), sig), "the Authorization does not verify");
    ck_assert_msg(!verify(other, msg, strlen(msg), sig), "verifies with any key?");
}

/* The form's sign verifies with the app's public key over the sorted k=v of every other
 * non-empty parameter (sign_type included, as Alipay's gateway checks requests). */
static void assert_ali_signed(const char *form, size_t len, const char *method)
{
    alipay_form_t f;
    ck_assert_int_eq(alipay_form_parse(form, len, &f), ALIPAY_OK);
    const alipay_param_t *sign = alipay_form_get(&f, "sign");
    ck_assert_ptr_nonnull(sign);
    ck_assert_str_eq(alipay_form_get(&f, "method")->value, method);
    ck_assert_str_eq(alipay_form_get(&f, "sign_type")->value, "RSA2");
    ck_assert_str_eq(alipay_form_get(&f, "app_id")->value, "2021000000000001");
    ck_assert_str_eq(alipay_form_get(&f, "charset")->value, "utf-8");
    const alipay_param_t *order[ALIPAY_PARAMS_MAX];
    size_t n = 0;
    for (size_t i = 0; i < f.n; i++)
        if (strcmp(f.p[i].key, "sign") != 0 && f.p[i].value_len > 0)
            order[n++] = &f.p[i];
    for (size_t i = 1; i < n; i++) /* insertion sort by key bytes */
        for (size_t j = i; j > 0 && strcmp(order[j - 1]->key, order[j]->key) > 0; j--) {
            const alipay_param_t *t = order[j];
            order[j] = order[j - 1];
            order[j - 1] = t;
        }
    char msg[8192] = "";
    size_t at = 0;
    for (size_t i = 0; i < n; i++)
        at += (size_t)snprintf(msg + at, sizeof(msg) - at, "%s%s=%s", i ? "&" : "", order[i]->key, order[i]->value);
    ck_assert_msg(verify(app, msg, at, sign->value), "the sign does not verify: %s", msg);
    alipay_form_free(&f);
}

static const char *body_of(const char *req)
{
    return strstr(req, "\r\n\r\n") + 4;
}

static pay_attempt_t attempt(pay_provider_t p)
{
    pay_attempt_t a = {.id = 1, .order_id = 7, .market_id = 1, .amount_fen = 1230, .provider = p};
    snprintf(a.out_trade_no, sizeof(a.out_trade_no), "P0123456789abcdefghij");
    snprintf(a.order_no, sizeof(a.order_no), "20261130000001");
    snprintf(a.openid, sizeof(a.openid), "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    return a;
}

static pay_refund_t refund_of(pay_provider_t p)
{
    pay_refund_t r = {
        .id = 3, .payment_id = 1, .order_id = 7, .amount_fen = 230, .payment_amount_fen = 1230, .provider = p};
    snprintf(r.out_refund_no, sizeof(r.out_refund_no), "R0123456789abcdefghij");
    snprintf(r.out_trade_no, sizeof(r.out_trade_no), "P0123456789abcdefghij");
    snprintf(r.transaction_id, sizeof(r.transaction_id), "4200000001");
    snprintf(r.reason, sizeof(r.reason), "rejected");
    return r;
}

/* ================================================================ WeChat */

START_TEST(test_wechat_create_signs_the_call_and_the_mini_program_params)
{
    fake_t f = {.n = 1};
    config_t cfg;
    json_t *params = NULL;
    char prepay[PAY_PREPAY_MAX], err[PAYPROV_ERR_MAX];
    fake_listen(&f);
    f.answers[0] = wx_answer(200, "{\"prepay_id\":\"wx201410272009395522657a690389285100\"}", platform);
    fake_go(&f);
    live_cfg(&cfg, f.port, 1);
    pay_attempt_t a = attempt(PAY_WECHAT);
    const payprov_ops_t *ops = payprov_for(&cfg, PAY_WECHAT);
    ck_assert_str_eq(ops->name, "wechat");
    payprov_ctx_t pc = {.cfg = &cfg};
    ck_assert_int_eq(ops->create(&pc, &a, &params, prepay, sizeof(prepay), err, sizeof(err)), PAYPROV_OK);
    fake_stop(&f);
    ck_assert_str_eq(prepay, "wx201410272009395522657a690389285100");
    assert_wx_signed(f.requests[0], "POST", "/pay/v3/pay/transactions/jsapi");
    json_t *body = json_loads(body_of(f.requests[0]), 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(body, "out_trade_no")), a.out_trade_no);
    ck_assert_str_eq(json_string_value(json_object_get(body, "appid")), "wxd678efh567hg6787");
    ck_assert_str_eq(json_string_value(json_object_get(body, "notify_url")),
                     "https://shop.example/v1/pay/wechat/notify");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(body, "amount"), "total")), 1230);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(body, "payer"), "openid")), a.openid);
    json_decref(body);
    const char *ts = json_string_value(json_object_get(params, "timeStamp"));
    const char *nonce = json_string_value(json_object_get(params, "nonceStr"));
    const char *package = json_string_value(json_object_get(params, "package"));
    ck_assert_str_eq(package, "prepay_id=wx201410272009395522657a690389285100");
    ck_assert_str_eq(json_string_value(json_object_get(params, "signType")), "RSA");
    char msg[512];
    snprintf(msg, sizeof(msg), "wxd678efh567hg6787\n%s\n%s\n%s\n", ts, nonce, package);
    ck_assert(verify(merchant, msg, strlen(msg), json_string_value(json_object_get(params, "paySign"))));
    json_decref(params);
    config_free(&cfg);
}
END_TEST

START_TEST(test_wechat_answers_are_trusted_only_with_a_platform_signature)
{
    fake_t f = {.n = 2};
    config_t cfg;
    json_t *params = NULL;
    payprov_query_t q;
    char prepay[PAY_PREPAY_MAX], err[PAYPROV_ERR_MAX];
    fake_listen(&f);
    f.answers[0] = wx_answer(200, "{\"prepay_id\":\"wx-forged\"}", other);
    f.answers[1] =
        plain_answer(200, "{\"trade_state\":\"SUCCESS\",\"transaction_id\":\"42\",\"amount\":{\"total\":1230}}");
    fake_go(&f);
    live_cfg(&cfg, f.port, 1);
    pay_attempt_t a = attempt(PAY_WECHAT);
    const payprov_ops_t *ops = payprov_for(&cfg, PAY_WECHAT);
    payprov_ctx_t pc = {.cfg = &cfg};
    ck_assert_int_eq(ops->create(&pc, &a, &params, prepay, sizeof(prepay), err, sizeof(err)), PAYPROV_E_UNAVAILABLE);
    ck_assert_ptr_null(params);
    ck_assert_int_eq(ops->query(&pc, &a, &q, err, sizeof(err)), PAYPROV_E_UNAVAILABLE); /* unsigned */
    ck_assert_int_eq(q.paid, 0);
    fake_stop(&f);
    config_free(&cfg);
}
END_TEST

START_TEST(test_wechat_query_close_and_refund_map_the_answers)
{
    fake_t f = {.n = 4};
    config_t cfg;
    payprov_query_t q;
    char err[PAYPROV_ERR_MAX], id[65];
    fake_listen(&f);
    f.answers[0] = wx_answer(200,
                             "{\"trade_state\":\"SUCCESS\",\"transaction_id\":\"4200000001\","
                             "\"amount\":{\"total\":1230,\"currency\":\"CNY\"}}",
                             platform);
    f.answers[1] = wx_answer(404, "{\"code\":\"ORDER_NOT_EXIST\",\"message\":\"not exist\"}", platform);
    f.answers[2] = plain_answer(204, "");
    f.answers[3] = wx_answer(200, "{\"refund_id\":\"50300001\",\"status\":\"PROCESSING\"}", platform);
    fake_go(&f);
    live_cfg(&cfg, f.port, 1);
    pay_attempt_t a = attempt(PAY_WECHAT);
    pay_refund_t r = refund_of(PAY_WECHAT);
    const payprov_ops_t *ops = payprov_for(&cfg, PAY_WECHAT);
    payprov_ctx_t pc = {.cfg = &cfg};
    ck_assert_int_eq(ops->query(&pc, &a, &q, err, sizeof(err)), PAYPROV_OK);
    ck_assert_int_eq(q.paid, 1);
    ck_assert_str_eq(q.transaction_id, "4200000001");
    ck_assert_int_eq(q.amount_fen, 1230);
    ck_assert_int_eq(ops->query(&pc, &a, &q, err, sizeof(err)), PAYPROV_OK);
    ck_assert_int_eq(q.paid, 0);
    ck_assert_int_eq(ops->close(&pc, &a, err, sizeof(err)), PAYPROV_OK);
    ck_assert_int_eq(ops->refund(&pc, &r, id, sizeof(id), err, sizeof(err)), PAYPROV_PROCESSING);
    ck_assert_str_eq(id, "50300001");
    fake_stop(&f);
    assert_wx_signed(f.requests[0], "GET",
                     "/pay/v3/pay/transactions/out-trade-no/P0123456789abcdefghij?mchid=1900000109");
    assert_wx_signed(f.requests[2], "POST", "/pay/v3/pay/transactions/out-trade-no/P0123456789abcdefghij/close");
    assert_wx_signed(f.requests[3], "POST", "/pay/v3/refund/domestic/refunds");
    json_t *body = json_loads(body_of(f.requests[3]), 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(body, "out_refund_no")), r.out_refund_no);
    ck_assert_str_eq(json_string_value(json_object_get(body, "transaction_id")), "4200000001");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(body, "amount"), "refund")), 230);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(body, "amount"), "total")), 1230);
    json_decref(body);
    config_free(&cfg);
}
END_TEST

START_TEST(test_wechat_refusals_and_outages_are_told_apart)
{
    fake_t f = {.n = 3};
    config_t cfg;
    char err[PAYPROV_ERR_MAX], id[65];
    fake_listen(&f);
    f.answers[0] = plain_answer(200, "{\"refund_id\":\"50300002\",\"status\":\"SUCCESS\"}");
    f.answers[1] = plain_answer(403, "{\"code\":\"NOT_ENOUGH\",\"message\":\"balance\"}");
    f.answers[2] = plain_answer(503, "{\"code\":\"SYSTEM_ERROR\"}");
    fake_go(&f);
    live_cfg(&cfg, f.port, 0); /* no platform keys: answers are not verified */
    pay_refund_t r = refund_of(PAY_WECHAT);
    const payprov_ops_t *ops = payprov_for(&cfg, PAY_WECHAT);
    payprov_ctx_t pc = {.cfg = &cfg};
    ck_assert_int_eq(ops->refund(&pc, &r, id, sizeof(id), err, sizeof(err)), PAYPROV_OK);
    ck_assert_str_eq(id, "50300002");
    ck_assert_int_eq(ops->refund(&pc, &r, id, sizeof(id), err, sizeof(err)), PAYPROV_E_REFUSED);
    ck_assert_ptr_nonnull(strstr(err, "NOT_ENOUGH"));
    ck_assert_int_eq(ops->refund(&pc, &r, id, sizeof(id), err, sizeof(err)), PAYPROV_E_UNAVAILABLE);
    fake_stop(&f);
    config_free(&cfg);
    /* nobody there */
    live_cfg(&cfg, t_free_port(), 0);
    ck_assert_int_eq(ops->refund(&pc, &r, id, sizeof(id), err, sizeof(err)), PAYPROV_E_UNAVAILABLE);
    /* no merchant key: not configured, and no call */
    char e2[256];
    ck_assert(config_set(&cfg, "wechat.merchant_key_file", "/nonexistent.pem", e2, sizeof(e2)) == 0);
    ck_assert_int_eq(ops->refund(&pc, &r, id, sizeof(id), err, sizeof(err)), PAYPROV_E_CONFIG);
    config_free(&cfg);
}
END_TEST

/* ================================================================ Alipay */

START_TEST(test_alipay_create_signs_the_order_string_for_the_app)
{
    config_t cfg;
    json_t *params = NULL;
    char prepay[PAY_PREPAY_MAX], err[PAYPROV_ERR_MAX];
    live_cfg(&cfg, t_free_port(), 1); /* no call is made */
    pay_attempt_t a = attempt(PAY_ALIPAY);
    const payprov_ops_t *ops = payprov_for(&cfg, PAY_ALIPAY);
    payprov_ctx_t pc = {.cfg = &cfg};
    ck_assert_int_eq(ops->create(&pc, &a, &params, prepay, sizeof(prepay), err, sizeof(err)), PAYPROV_OK);
    ck_assert_str_eq(prepay, "");
    const char *s = json_string_value(json_object_get(params, "order_string"));
    ck_assert_ptr_nonnull(s);
    assert_ali_signed(s, strlen(s), "alipay.trade.app.pay");
    alipay_form_t f;
    ck_assert_int_eq(alipay_form_parse(s, strlen(s), &f), ALIPAY_OK);
    json_t *biz = json_loads(alipay_form_get(&f, "biz_content")->value, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(biz, "out_trade_no")), a.out_trade_no);
    ck_assert_str_eq(json_string_value(json_object_get(biz, "total_amount")), "12.30");
    json_decref(biz);
    alipay_form_free(&f);
    json_decref(params);
    config_free(&cfg);
}
END_TEST

START_TEST(test_alipay_calls_are_signed_and_answers_verified)
{
    fake_t f = {.n = 4};
    config_t cfg;
    payprov_query_t q;
    char err[PAYPROV_ERR_MAX], id[65];
    fake_listen(&f);
    f.answers[0] = ali_answer("alipay_trade_query_response",
                              "{\"code\":\"10000\",\"msg\":\"Success\",\"trade_no\":\"2026113022001\","
                              "\"out_trade_no\":\"P0123456789abcdefghij\",\"trade_status\":\"TRADE_SUCCESS\","
                              "\"total_amount\":\"12.30\"}",
                              alipay);
    f.answers[1] = ali_answer("alipay_trade_query_response",
                              "{\"code\":\"10000\",\"trade_no\":\"2026113022001\",\"trade_status\":\"TRADE_SUCCESS\","
                              "\"total_amount\":\"12.30\"}",
                              other); /* not Alipay's key */
    f.answers[2] =
        ali_answer("alipay_trade_close_response",
                   "{\"code\":\"40004\",\"msg\":\"Business Failed\",\"sub_code\":\"ACQ.TRADE_NOT_EXIST\"}", alipay);
    f.answers[3] = ali_answer("alipay_trade_refund_response",
                              "{\"code\":\"10000\",\"trade_no\":\"2026113022001\",\"fund_change\":\"Y\","
                              "\"refund_fee\":\"2.30\"}",
                              alipay);
    fake_go(&f);
    live_cfg(&cfg, f.port, 1);
    pay_attempt_t a = attempt(PAY_ALIPAY);
    pay_refund_t r = refund_of(PAY_ALIPAY);
    const payprov_ops_t *ops = payprov_for(&cfg, PAY_ALIPAY);
    payprov_ctx_t pc = {.cfg = &cfg};
    ck_assert_int_eq(ops->query(&pc, &a, &q, err, sizeof(err)), PAYPROV_OK);
    ck_assert_int_eq(q.paid, 1);
    ck_assert_str_eq(q.transaction_id, "2026113022001");
    ck_assert_int_eq(q.amount_fen, 1230);
    ck_assert_int_eq(ops->query(&pc, &a, &q, err, sizeof(err)), PAYPROV_E_UNAVAILABLE);
    ck_assert_int_eq(q.paid, 0);
    ck_assert_int_eq(ops->close(&pc, &a, err, sizeof(err)), PAYPROV_OK);
    ck_assert_int_eq(ops->refund(&pc, &r, id, sizeof(id), err, sizeof(err)), PAYPROV_OK);
    fake_stop(&f);
    static const char *const methods[] = {"alipay.trade.query", "alipay.trade.query", "alipay.trade.close",
                                          "alipay.trade.refund"};
    for (int i = 0; i < 4; i++) {
        ck_assert_int_eq(strncmp(f.requests[i], "POST /gateway.do HTTP/1.1", 25), 0);
        assert_ali_signed(body_of(f.requests[i]), strlen(body_of(f.requests[i])), methods[i]);
    }
    alipay_form_t form;
    ck_assert_int_eq(alipay_form_parse(body_of(f.requests[3]), strlen(body_of(f.requests[3])), &form), ALIPAY_OK);
    json_t *biz = json_loads(alipay_form_get(&form, "biz_content")->value, 0, NULL);
    ck_assert_str_eq(json_string_value(json_object_get(biz, "out_request_no")), r.out_refund_no);
    ck_assert_str_eq(json_string_value(json_object_get(biz, "refund_amount")), "2.30");
    json_decref(biz);
    alipay_form_free(&form);
    config_free(&cfg);
}
END_TEST

/* ================================================================ the sandbox */

START_TEST(test_the_sandbox_makes_no_call)
{
    config_t cfg;
    json_t *params = NULL;
    char prepay[PAY_PREPAY_MAX], err[PAYPROV_ERR_MAX], id[65], e[256];
    live_cfg(&cfg, t_free_port(), 0);
    ck_assert(config_set(&cfg, "payments.mode", "sandbox", e, sizeof(e)) == 0);
    ck_assert(config_set(&cfg, "wechat.merchant_key_file", "/nonexistent.pem", e, sizeof(e)) == 0);
    pay_attempt_t a = attempt(PAY_WECHAT);
    pay_refund_t r = refund_of(PAY_ALIPAY);
    payprov_ctx_t pc = {.cfg = &cfg};
    const payprov_ops_t *ops = payprov_for(&cfg, PAY_WECHAT);
    ck_assert_str_eq(ops->name, "sandbox");
    ck_assert_ptr_eq(payprov_for(&cfg, PAY_ALIPAY), ops);
    ck_assert_ptr_null(payprov_for(&cfg, 9));
    ck_assert_int_eq(ops->create(&pc, &a, &params, prepay, sizeof(prepay), err, sizeof(err)), PAYPROV_OK);
    ck_assert(json_is_true(json_object_get(params, "sandbox")));
    ck_assert_str_eq(json_string_value(json_object_get(params, "out_trade_no")), a.out_trade_no);
    ck_assert_int_eq(json_integer_value(json_object_get(params, "amount_fen")), 1230);
    json_decref(params);
    ck_assert_int_eq(ops->close(&pc, &a, err, sizeof(err)), PAYPROV_OK);
    ck_assert_int_eq(ops->refund(&pc, &r, id, sizeof(id), err, sizeof(err)), PAYPROV_OK);
    ck_assert_str_eq(id, "sandbox-R0123456789abcdefghij");
    config_free(&cfg);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *s = suite_create("payprov");
    TCase *tc = tcase_create("payprov");
    tcase_add_unchecked_fixture(tc, keys_up, keys_down);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_wechat_create_signs_the_call_and_the_mini_program_params);
    tcase_add_test(tc, test_wechat_answers_are_trusted_only_with_a_platform_signature);
    tcase_add_test(tc, test_wechat_query_close_and_refund_map_the_answers);
    tcase_add_test(tc, test_wechat_refusals_and_outages_are_told_apart);
    tcase_add_test(tc, test_alipay_create_signs_the_order_string_for_the_app);
    tcase_add_test(tc, test_alipay_calls_are_signed_and_answers_verified);
    tcase_add_test(tc, test_the_sandbox_makes_no_call);
    suite_add_tcase(s, tc);
    int failed = t_run(s, 0);
    curl_global_cleanup();
    return failed == 0 ? 0 : 1;
}
