/*
 * The payment provider adapter (see payprov.h): the sandbox, WeChat Pay v3 and Alipay.
 *
 * Every outbound call goes through the one client (httpc.h) and makes and frees its own
 * answer buffer and keys (loaded per call through models/providers/paykeys.h, which resolves
 * every key and id; see payprov.h); nothing survives a call. The answer is buffered up to
 * PAYPROV_ANSWER_MAX. An answer is trusted only once its signature verified when the keys to
 * verify it are configured; a bad signature is treated like no answer (retry later), never
 * as the provider's word.
 */
#include <ctype.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/base/b64.h"
#include "models/base/money.h"
#include "models/providers/alipay.h"
#include "models/providers/httpc.h"
#include "models/providers/paykeys.h"
#include "models/providers/payprov.h"
#include "models/providers/wxpay.h"

#define AUTH_MAX    2048 /* the Authorization header line */
#define URL_MAX     1024
#define PATH_MAX_   512
#define NOSTR(s)    ((s) != NULL ? (s) : "")
#define SUBJECT_FMT "订单 %s" /* what the consumer sees in the provider's app */

const char *payprov_status_str(int status)
{
    switch (status) {
    case PAYPROV_OK: return "ok";
    case PAYPROV_PROCESSING: return "processing";
    case PAYPROV_E_UNAVAILABLE: return "provider unavailable";
    case PAYPROV_E_REFUSED: return "refused by the provider";
    case PAYPROV_E_CONFIG: return "not configured";
    default: return "unknown status";
    }
}

/* ================================================================ common */

/* An answer: httpc's, with the Wechatpay-* headers WeChat signs with kept in this order. */
typedef httpc_resp_t answer_t;

enum { H_TIMESTAMP, H_NONCE, H_SERIAL, H_SIGNATURE, H_SIGNATURE_TYPE };
static const char *const wx_answer_headers[] = {
    "Wechatpay-Timestamp", "Wechatpay-Nonce",          "Wechatpay-Serial",
    "Wechatpay-Signature", "Wechatpay-Signature-Type", NULL,
};

/* A kept header's value, NULL when absent or longer than max - 1 (not a value WeChat sends). */
static const char *kept(const answer_t *a, int i, size_t max)
{
    return a->kept[i][0] != '\0' && strlen(a->kept[i]) < max ? a->kept[i] : NULL;
}

static void answer_free(answer_t *a)
{
    httpc_resp_free(a);
}

/* One request (body NULL: GET), through the one client. PAYPROV_OK once any HTTP answer came
 * (a->status says which), PAYPROV_E_UNAVAILABLE when none did. */
static int http_call(const char *method, const char *url, const char *const *headers, const char *body, answer_t *a,
                     char *err, size_t errlen)
{
    char why[HTTPC_ERR_MAX];
    httpc_req_t req = {.method = method,
                       .url = url,
                       .headers = headers,
                       .body = body,
                       .body_len = body != NULL ? strlen(body) : 0,
                       .timeout_s = PAYPROV_TIMEOUT_S,
                       .answer_max = PAYPROV_ANSWER_MAX,
                       .keep_headers = wx_answer_headers};
    if (httpc_call(&req, a, why, sizeof(why)) != SF_OK) {
        snprintf(err, errlen, "%s %s: %s", method, url, why);
        return PAYPROV_E_UNAVAILABLE;
    }
    return PAYPROV_OK;
}

/* ================================================================ sandbox */

static int sb_create(const payprov_ctx_t *ctx, const pay_attempt_t *a, json_t **params, char *prepay_id, size_t len,
                     char *err, size_t errlen)
{
    prepay_id[0] = '\0';
    *params =
        json_pack("{s:b, s:s, s:s, s:I}", "sandbox", 1, "provider", a->provider == PAY_WECHAT ? "wechat" : "alipay",
                  "out_trade_no", a->out_trade_no, "amount_fen", (json_int_t)a->amount_fen);
    if (*params == NULL)
        snprintf(err, errlen, "out of memory");
    return *params != NULL ? PAYPROV_OK : PAYPROV_E_UNAVAILABLE;
}

/* Paid only if our database already says so (the sandbox's payer is `stallfront sandbox pay`,
 * which records the payment through our own callback). The sandbox stands in for the
 * provider's ledger, and that ledger is our payments table: this one read is the sandbox
 * provider's, made here so that the adapters need nothing of the payment model. */
static int sb_query(const payprov_ctx_t *ctx, const pay_attempt_t *a, payprov_query_t *out, char *err, size_t errlen)
{
    db_rows_t *rows = NULL;
    memset(out, 0, sizeof(*out));
    out->amount_fen = -1;
    int rc = db_query_row(ctx->db,
                          "SELECT transaction_id, amount_fen FROM payments WHERE out_trade_no = ? AND status = 'paid'",
                          (db_param_t[]){DB_STR(a->out_trade_no)}, 1, &rows);
    if (rc != DB_OK && rc != DB_NOROW) {
        snprintf(err, errlen, "sandbox query: %s", ctx->db->err);
        return PAYPROV_E_UNAVAILABLE;
    }
    out->paid = rc == DB_OK;
    snprintf(out->state, sizeof(out->state), "%s", out->paid ? "SUCCESS" : "NOTPAY");
    if (out->paid) {
        const char *txid = db_rows_str(rows, 0, NULL);
        snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", txid != NULL ? txid : "");
        out->amount_fen = db_rows_i64(rows, 1);
    }
    db_rows_free(rows);
    return PAYPROV_OK;
}

static int sb_close(const payprov_ctx_t *ctx, const pay_attempt_t *a, char *err, size_t errlen)
{
    return PAYPROV_OK;
}

static int sb_refund(const payprov_ctx_t *ctx, const pay_refund_t *r, char *refund_id, size_t len, char *err,
                     size_t errlen)
{
    snprintf(refund_id, len, "sandbox-%s", r->out_refund_no);
    return PAYPROV_OK;
}

static const payprov_ops_t sandbox_ops = {
    .name = "sandbox", .create = sb_create, .query = sb_query, .close = sb_close, .refund = sb_refund};

/* ================================================================ WeChat Pay v3 */

/* What one WeChat call needs, loaded for the call. */
typedef struct wx {
    const config_t *cfg;
    paykeys_wechat_merchant_t m; /* our merchant key, serial, mchid and appid */
    wxpay_keys_t *platform;      /* NULL: answers are not verified (no platform keys configured) */
    char prefix[PATH_MAX_];      /* the path part of wechat.pay_api_base, signed with the path */
} wx_t;

static void wx_close(wx_t *wx)
{
    paykeys_wechat_merchant_free(&wx->m);
    wxpay_keys_free(wx->platform);
}

/* Loads the merchant key and the platform keys, and checks the ids a call needs. */
static int wx_open(const config_t *cfg, wx_t *wx, char *err, size_t errlen)
{
    memset(wx, 0, sizeof(*wx));
    wx->cfg = cfg;
    if (NOSTR(cfg->wechat_pay_api_base)[0] == '\0') {
        snprintf(err, errlen, "wechat.pay_api_base is required");
        return PAYPROV_E_CONFIG;
    }
    const char *base = cfg->wechat_pay_api_base, *host = strstr(base, "://");
    const char *path = host != NULL ? strchr(host + 3, '/') : NULL;
    snprintf(wx->prefix, sizeof(wx->prefix), "%s", path != NULL ? path : "");
    size_t len = strlen(wx->prefix);
    while (len > 0 && wx->prefix[len - 1] == '/')
        wx->prefix[--len] = '\0';
    if (paykeys_wechat_merchant_load(cfg, &wx->m, err, errlen) != 0 ||
        paykeys_wechat_platform_load(cfg, &wx->platform, err, errlen) != 0) {
        wx_close(wx);
        return PAYPROV_E_CONFIG;
    }
    return PAYPROV_OK;
}

/* A signed call: path is under the base ("/v3/..."), body NULL for GET. PAYPROV_OK with an
 * answer whose signature verified (when platform keys are loaded), else an error. */
static int wx_call(wx_t *wx, const char *method, const char *path, const char *body, answer_t *a, char *err,
                   size_t errlen)
{
    char url[URL_MAX], signed_path[URL_MAX], nonce[33], auth[AUTH_MAX], verr[160];
    int64_t now = (int64_t)time(NULL);
    snprintf(url, sizeof(url), "%s%s", wx->cfg->wechat_pay_api_base, path);
    snprintf(signed_path, sizeof(signed_path), "%s%s", wx->prefix, path);
    memcpy(auth, "Authorization: ", 15);
    if (wxpay_nonce(nonce, 32) != WXPAY_OK ||
        wxpay_authorization(wx->m.private_key, wx->m.mchid, wx->m.serial, method, signed_path, NOSTR(body), now, nonce,
                            auth + 15, sizeof(auth) - 15) != WXPAY_OK) {
        snprintf(err, errlen, "wechat: cannot sign the request");
        return PAYPROV_E_CONFIG;
    }
    const char *headers[] = {auth, "Accept: application/json", "Content-Type: application/json",
                             "User-Agent: stallfront", NULL};
    int rc = http_call(method, url, headers, body, a, err, errlen);
    if (rc != PAYPROV_OK || wx->platform == NULL || a->len == 0)
        return rc;
    wxpay_headers_t h = {.timestamp = kept(a, H_TIMESTAMP, 24),
                         .nonce = kept(a, H_NONCE, WXPAY_NONCE_MAX + 1),
                         .signature = kept(a, H_SIGNATURE, WXPAY_SIG_B64_MAX + 1),
                         .serial = kept(a, H_SERIAL, WXPAY_SERIAL_MAX + 1),
                         .signature_type = kept(a, H_SIGNATURE_TYPE, 40)};
    int v = wxpay_verify_signature(wx->platform, &h, a->body, a->len, (int64_t)time(NULL), verr, sizeof(verr));
    if (v != WXPAY_OK) {
        snprintf(err, errlen, "wechat: the answer to %s %s is not WeChat's: %s", method, path, verr);
        return PAYPROV_E_UNAVAILABLE;
    }
    return PAYPROV_OK;
}

/* What an HTTP status means: 2xx OK, 429 and 5xx try again, any other 4xx a refusal (err
 * gets WeChat's code and message). */
static int wx_verdict(const answer_t *a, const char *what, char *err, size_t errlen)
{
    if (a->status >= 200 && a->status < 300)
        return PAYPROV_OK;
    json_t *doc = json_loadb(a->body, a->len, 0, NULL);
    snprintf(err, errlen, "wechat %s: HTTP %ld %s %s", what, a->status,
             NOSTR(json_string_value(json_object_get(doc, "code"))),
             NOSTR(json_string_value(json_object_get(doc, "message"))));
    json_decref(doc);
    return a->status == 429 || a->status >= 500 || a->status < 200 ? PAYPROV_E_UNAVAILABLE : PAYPROV_E_REFUSED;
}

/* The code of a WeChat error answer, into code. */
static void wx_code(const answer_t *a, char *code, size_t len)
{
    json_t *doc = json_loadb(a->body, a->len, 0, NULL);
    snprintf(code, len, "%s", NOSTR(json_string_value(json_object_get(doc, "code"))));
    json_decref(doc);
}

/* The mini-program's params for a prepay id. */
static json_t *wx_params(wx_t *wx, const char *prepay_id)
{
    char ts[24], nonce[33], package[PAY_PREPAY_MAX + 16], sign[WXPAY_SIG_B64_MAX + 1];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    snprintf(package, sizeof(package), "prepay_id=%s", prepay_id);
    if (wx->m.appid[0] == '\0' || wxpay_nonce(nonce, 32) != WXPAY_OK ||
        wxpay_pay_sign(wx->m.private_key, wx->m.appid, ts, nonce, package, sign, sizeof(sign)) != WXPAY_OK)
        return NULL;
    return json_pack("{s:s, s:s, s:s, s:s, s:s}", "timeStamp", ts, "nonceStr", nonce, "package", package, "signType",
                     "RSA", "paySign", sign);
}

/* The JSAPI order's body. */
static char *wx_create_body(const wx_t *wx, const pay_attempt_t *a)
{
    const config_t *cfg = wx->cfg;
    char subject[64];
    snprintf(subject, sizeof(subject), SUBJECT_FMT, a->order_no);
    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s}, s:{s:s}}", "appid", wx->m.appid, "mchid", wx->m.mchid,
                  "description", subject, "out_trade_no", a->out_trade_no, "notify_url", NOSTR(cfg->wechat_notify_url),
                  "amount", "total", (json_int_t)a->amount_fen, "currency", "CNY", "payer", "openid", a->openid);
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

static int wx_create(const payprov_ctx_t *ctx, const pay_attempt_t *a, json_t **params, char *prepay_id, size_t len,
                     char *err, size_t errlen)
{
    wx_t wx;
    answer_t ans = {0};
    char *body = NULL;
    *params = NULL;
    prepay_id[0] = '\0';
    if (a->openid[0] == '\0') {
        snprintf(err, errlen, "wechat create: the consumer has no WeChat openid");
        return PAYPROV_E_REFUSED;
    }
    int rc = wx_open(ctx->cfg, &wx, err, errlen);
    if (rc != PAYPROV_OK)
        return rc;
    if ((body = wx_create_body(&wx, a)) == NULL) {
        rc = PAYPROV_E_UNAVAILABLE;
        goto out;
    }
    if ((rc = wx_call(&wx, "POST", "/v3/pay/transactions/jsapi", body, &ans, err, errlen)) != PAYPROV_OK ||
        (rc = wx_verdict(&ans, "create", err, errlen)) != PAYPROV_OK)
        goto out;
    json_t *doc = json_loadb(ans.body, ans.len, 0, NULL);
    const char *id = json_string_value(json_object_get(doc, "prepay_id"));
    if (id != NULL && id[0] != '\0' && strlen(id) < len && strlen(id) < PAY_PREPAY_MAX) {
        snprintf(prepay_id, len, "%s", id);
        *params = wx_params(&wx, prepay_id);
    }
    json_decref(doc);
    if (*params == NULL) {
        snprintf(err, errlen, "wechat create: no usable prepay_id in the answer");
        rc = PAYPROV_E_UNAVAILABLE;
    }
out:
    free(body);
    answer_free(&ans);
    wx_close(&wx);
    return rc;
}

/* Reads a transaction query's answer (200) into out. */
static int wx_read_query(const answer_t *ans, payprov_query_t *out, char *err, size_t errlen)
{
    json_t *doc = json_loadb(ans->body, ans->len, 0, NULL);
    const char *state = json_string_value(json_object_get(doc, "trade_state"));
    const char *txid = json_string_value(json_object_get(doc, "transaction_id"));
    json_t *total = json_object_get(json_object_get(doc, "amount"), "total");
    int rc = PAYPROV_OK;
    if (state == NULL || strlen(state) >= sizeof(out->state)) {
        snprintf(err, errlen, "wechat query: no trade_state in the answer");
        rc = PAYPROV_E_UNAVAILABLE;
    } else if (strcmp(state, "SUCCESS") == 0) {
        if (txid == NULL || txid[0] == '\0' || strlen(txid) >= sizeof(out->transaction_id) || !json_is_integer(total)) {
            snprintf(err, errlen, "wechat query: SUCCESS without transaction_id or amount");
            rc = PAYPROV_E_UNAVAILABLE;
        } else {
            out->paid = 1;
            snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", txid);
            out->amount_fen = json_integer_value(total);
        }
    }
    if (state != NULL && rc == PAYPROV_OK)
        snprintf(out->state, sizeof(out->state), "%s", state);
    json_decref(doc);
    return rc;
}

static int wx_query(const payprov_ctx_t *ctx, const pay_attempt_t *a, payprov_query_t *out, char *err, size_t errlen)
{
    wx_t wx;
    answer_t ans = {0};
    char path[PATH_MAX_], code[64];
    memset(out, 0, sizeof(*out));
    out->amount_fen = -1;
    int rc = wx_open(ctx->cfg, &wx, err, errlen);
    if (rc != PAYPROV_OK)
        return rc;
    char *mchid = httpc_escape(wx.m.mchid);
    snprintf(path, sizeof(path), "/v3/pay/transactions/out-trade-no/%s?mchid=%s", a->out_trade_no, NOSTR(mchid));
    free(mchid);
    if ((rc = wx_call(&wx, "GET", path, NULL, &ans, err, errlen)) != PAYPROV_OK)
        goto out;
    wx_code(&ans, code, sizeof(code));
    if (ans.status == 404 && strcmp(code, "ORDER_NOT_EXIST") == 0) { /* never opened: not paid */
        snprintf(out->state, sizeof(out->state), "ORDER_NOT_EXIST");
        goto out;
    }
    if ((rc = wx_verdict(&ans, "query", err, errlen)) == PAYPROV_OK)
        rc = wx_read_query(&ans, out, err, errlen);
out:
    answer_free(&ans);
    wx_close(&wx);
    return rc;
}

static int wx_close_trade(const payprov_ctx_t *ctx, const pay_attempt_t *a, char *err, size_t errlen)
{
    wx_t wx;
    answer_t ans = {0};
    char path[PATH_MAX_];
    int rc = wx_open(ctx->cfg, &wx, err, errlen);
    if (rc != PAYPROV_OK)
        return rc;
    json_t *doc = json_pack("{s:s}", "mchid", wx.m.mchid);
    char *body = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    snprintf(path, sizeof(path), "/v3/pay/transactions/out-trade-no/%s/close", a->out_trade_no);
    if (body == NULL)
        rc = PAYPROV_E_UNAVAILABLE;
    else if ((rc = wx_call(&wx, "POST", path, body, &ans, err, errlen)) == PAYPROV_OK)
        rc = wx_verdict(&ans, "close", err, errlen);
    if (rc == PAYPROV_E_REFUSED) {
        char code[64];
        wx_code(&ans, code, sizeof(code));
        if (strcmp(code, "ORDER_CLOSED") == 0)
            rc = PAYPROV_OK; /* closed before (a retried reconciliation) */
    }
    free(body);
    answer_free(&ans);
    wx_close(&wx);
    return rc;
}

static char *wx_refund_body(const config_t *cfg, const pay_refund_t *r)
{
    json_t *doc =
        json_pack("{s:s, s:s, s:{s:I, s:I, s:s}}", "out_refund_no", r->out_refund_no, "reason", r->reason, "amount",
                  "refund", (json_int_t)r->amount_fen, "total", (json_int_t)r->payment_amount_fen, "currency", "CNY");
    int bad = doc == NULL;
    if (!bad && r->transaction_id[0] != '\0')
        bad = json_object_set_new(doc, "transaction_id", json_string(r->transaction_id)) != 0;
    else if (!bad)
        bad = json_object_set_new(doc, "out_trade_no", json_string(r->out_trade_no)) != 0;
    if (!bad && NOSTR(cfg->wechat_notify_url)[0] != '\0')
        bad = json_object_set_new(doc, "notify_url", json_string(cfg->wechat_notify_url)) != 0;
    char *text = !bad ? json_dumps(doc, JSON_COMPACT) : NULL;
    json_decref(doc);
    return text;
}

/* A refund's answer (200): SUCCESS, PROCESSING, or a refusal (CLOSED, ABNORMAL). */
static int wx_read_refund(const answer_t *ans, char *refund_id, size_t len, char *err, size_t errlen)
{
    json_t *doc = json_loadb(ans->body, ans->len, 0, NULL);
    const char *status = json_string_value(json_object_get(doc, "status"));
    const char *id = json_string_value(json_object_get(doc, "refund_id"));
    int rc = PAYPROV_E_UNAVAILABLE;
    snprintf(refund_id, len, "%s", id != NULL && strlen(id) < len ? id : "");
    if (status == NULL)
        snprintf(err, errlen, "wechat refund: no status in the answer");
    else if (strcmp(status, "SUCCESS") == 0)
        rc = PAYPROV_OK;
    else if (strcmp(status, "PROCESSING") == 0)
        rc = PAYPROV_PROCESSING;
    else {
        snprintf(err, errlen, "wechat refund: status %.32s", status);
        rc = PAYPROV_E_REFUSED;
    }
    json_decref(doc);
    return rc;
}

static int wx_refund(const payprov_ctx_t *ctx, const pay_refund_t *r, char *refund_id, size_t len, char *err,
                     size_t errlen)
{
    wx_t wx;
    answer_t ans = {0};
    refund_id[0] = '\0';
    int rc = wx_open(ctx->cfg, &wx, err, errlen);
    if (rc != PAYPROV_OK)
        return rc;
    char *body = wx_refund_body(ctx->cfg, r);
    if (body == NULL)
        rc = PAYPROV_E_UNAVAILABLE;
    else if ((rc = wx_call(&wx, "POST", "/v3/refund/domestic/refunds", body, &ans, err, errlen)) == PAYPROV_OK &&
             (rc = wx_verdict(&ans, "refund", err, errlen)) == PAYPROV_OK)
        rc = wx_read_refund(&ans, refund_id, len, err, errlen);
    free(body);
    answer_free(&ans);
    wx_close(&wx);
    return rc;
}

static const payprov_ops_t wechat_ops = {
    .name = "wechat", .create = wx_create, .query = wx_query, .close = wx_close_trade, .refund = wx_refund};

/* ================================================================ Alipay */

typedef struct ali {
    const config_t *cfg;
    paykeys_alipay_app_t app; /* our app's private key and app_id */
    EVP_PKEY *pub;            /* Alipay's public key; NULL: answers are not verified */
} ali_t;

static void ali_close(ali_t *ali)
{
    paykeys_alipay_app_free(&ali->app);
    EVP_PKEY_free(ali->pub);
}

static int ali_open(const config_t *cfg, ali_t *ali, char *err, size_t errlen)
{
    memset(ali, 0, sizeof(*ali));
    ali->cfg = cfg;
    if (NOSTR(cfg->alipay_gateway)[0] == '\0') {
        snprintf(err, errlen, "alipay.gateway is required");
        return PAYPROV_E_CONFIG;
    }
    if (paykeys_alipay_app_load(cfg, &ali->app, err, errlen) != 0 ||
        paykeys_alipay_public_load(cfg, &ali->pub, err, errlen) != 0) {
        ali_close(ali);
        return PAYPROV_E_CONFIG;
    }
    return PAYPROV_OK;
}

/* Beijing time as Alipay wants it: "yyyy-MM-dd HH:mm:ss". */
static void beijing_now(char *buf, size_t len)
{
    time_t t = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d %H:%M:%S", &tm);
}

/* The signed form of a request: the common parameters, biz_content, sign. *form malloc'd. */
static int ali_form(ali_t *ali, const char *method, const json_t *biz, int with_notify, char **form, size_t *len)
{
    char ts[24], sign[ALIPAY_SIG_B64_MAX + 1];
    char *content = json_dumps(biz, JSON_COMPACT);
    beijing_now(ts, sizeof(ts));
    alipay_kv_t p[10] = {{"app_id", ali->app.app_id}, {"method", method}, {"format", "JSON"}, {"charset", "utf-8"},
                         {"sign_type", "RSA2"},       {"timestamp", ts},  {"version", "1.0"}, {"biz_content", content}};
    size_t n = 8;
    if (with_notify && NOSTR(ali->cfg->alipay_notify_url)[0] != '\0')
        p[n++] = (alipay_kv_t){"notify_url", ali->cfg->alipay_notify_url};
    int rc = PAYPROV_E_UNAVAILABLE;
    if (content != NULL && alipay_sign_request(ali->app.private_key, p, n, sign, sizeof(sign)) == ALIPAY_OK) {
        p[n++] = (alipay_kv_t){"sign", sign};
        rc = alipay_form_encode(p, n, form, len) == ALIPAY_OK ? PAYPROV_OK : PAYPROV_E_UNAVAILABLE;
    }
    free(content);
    return rc;
}

/* The raw text of the JSON object that is the value of "name" in body: what Alipay signs.
 * 0 with [*start, *start + *len), -1 if absent or unbalanced. */
static int ali_raw_value(const char *body, size_t blen, const char *name, const char **start, size_t *len)
{
    char key[128];
    snprintf(key, sizeof(key), "\"%s\"", name);
    const char *p = strstr(body, key), *end = body + blen;
    if (p == NULL)
        return -1;
    p += strlen(key);
    while (p < end && (isspace((unsigned char)*p) || *p == ':'))
        p++;
    if (p >= end || *p != '{')
        return -1;
    int depth = 0, in_str = 0;
    for (const char *q = p; q < end; q++) {
        if (in_str) {
            if (*q == '\\')
                q++;
            else if (*q == '"')
                in_str = 0;
        } else if (*q == '"') {
            in_str = 1;
        } else if (*q == '{' || *q == '[') {
            depth++;
        } else if ((*q == '}' || *q == ']') && --depth == 0) {
            *start = p;
            *len = (size_t)(q - p + 1);
            return 0;
        }
    }
    return -1;
}

/* SHA256withRSA of [data, data+len) under Alipay's public key against base64 sign. */
static int ali_verify(EVP_PKEY *pub, const char *data, size_t len, const char *sign)
{
    unsigned char sig[ALIPAY_SIG_B64_MAX];
    size_t siglen = 0;
    if (sign == NULL || b64_decode(sign, strlen(sign), sig, sizeof(sig), &siglen) != B64_OK)
        return -1;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = ctx != NULL && EVP_DigestVerifyInit(ctx, NULL, EVP_sha256(), NULL, pub) == 1 &&
             EVP_DigestVerify(ctx, sig, siglen, (const unsigned char *)data, len) == 1;
    EVP_MD_CTX_free(ctx);
    return ok ? 0 : -1;
}

/* A call: POSTs the signed form and hands back the "<method>_response" object (*resp, the
 * caller's) once its sign verified. PAYPROV_OK for code 10000, PAYPROV_E_REFUSED for a
 * business refusal (err names the sub_code; *resp is still set), PAYPROV_E_UNAVAILABLE for
 * anything else. */
static int ali_call(ali_t *ali, const char *method, const json_t *biz, json_t **resp, char *err, size_t errlen)
{
    char name[96], *form = NULL;
    size_t flen = 0, rlen = 0;
    const char *raw = NULL;
    answer_t ans = {0};
    json_t *doc = NULL;
    *resp = NULL;
    snprintf(name, sizeof(name), "%s_response", method);
    for (char *p = name; *p != '\0'; p++)
        *p = *p == '.' ? '_' : *p;
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded;charset=utf-8",
                             "Accept: application/json", NULL};
    int rc = ali_form(ali, method, biz, 0, &form, &flen);
    if (rc != PAYPROV_OK ||
        (rc = http_call("POST", ali->cfg->alipay_gateway, headers, form, &ans, err, errlen)) != PAYPROV_OK)
        goto out;
    rc = PAYPROV_E_UNAVAILABLE;
    doc = json_loadb(ans.body, ans.len, 0, NULL);
    if (ans.status != 200 || !json_is_object(json_object_get(doc, name)) ||
        ali_raw_value(ans.body, ans.len, name, &raw, &rlen) != 0) {
        snprintf(err, errlen, "alipay %s: HTTP %ld without %s", method, ans.status, name);
        goto out;
    }
    if (ali->pub != NULL && ali_verify(ali->pub, raw, rlen, json_string_value(json_object_get(doc, "sign"))) != 0) {
        snprintf(err, errlen, "alipay %s: the answer's sign does not verify", method);
        goto out;
    }
    *resp = json_incref(json_object_get(doc, name));
    const char *code = NOSTR(json_string_value(json_object_get(*resp, "code")));
    const char *sub = NOSTR(json_string_value(json_object_get(*resp, "sub_code")));
    if (strcmp(code, "10000") == 0)
        rc = PAYPROV_OK;
    else {
        snprintf(err, errlen, "alipay %s: code %.16s %.64s", method, code, sub);
        rc = strcmp(code, "40004") == 0 && strcmp(sub, "ACQ.SYSTEM_ERROR") != 0 ? PAYPROV_E_REFUSED
                                                                                : PAYPROV_E_UNAVAILABLE;
    }
out:
    json_decref(doc);
    free(form);
    answer_free(&ans);
    return rc;
}

static int ali_sub_is(const json_t *resp, const char *sub)
{
    const char *s = json_string_value(json_object_get(resp, "sub_code"));
    return s != NULL && strcmp(s, sub) == 0;
}

/* The order string the app SDK takes (alipay.trade.app.pay): made and signed here, sent by
 * the app. timeout_express makes it useless once our order times out. */
static int ali_create(const payprov_ctx_t *ctx, const pay_attempt_t *a, json_t **params, char *prepay_id, size_t len,
                      char *err, size_t errlen)
{
    ali_t ali;
    char yuan[32], subject[64], timeout[24], *form = NULL;
    size_t flen = 0;
    *params = NULL;
    prepay_id[0] = '\0';
    int rc = ali_open(ctx->cfg, &ali, err, errlen);
    if (rc != PAYPROV_OK)
        return rc;
    snprintf(subject, sizeof(subject), SUBJECT_FMT, a->order_no);
    snprintf(timeout, sizeof(timeout), "%dm",
             ctx->cfg->order_unpaid_timeout_s / 60 > 0 ? ctx->cfg->order_unpaid_timeout_s / 60 : 1);
    json_t *biz = money_format_yuan(a->amount_fen, yuan, sizeof(yuan)) == MONEY_OK
                      ? json_pack("{s:s, s:s, s:s, s:s, s:s}", "out_trade_no", a->out_trade_no, "total_amount", yuan,
                                  "subject", subject, "product_code", "QUICK_MSECURITY_PAY", "timeout_express", timeout)
                      : NULL;
    rc = biz != NULL ? ali_form(&ali, "alipay.trade.app.pay", biz, 1, &form, &flen) : PAYPROV_E_UNAVAILABLE;
    if (rc == PAYPROV_OK && (*params = json_pack("{s:s%}", "order_string", form, flen)) == NULL)
        rc = PAYPROV_E_UNAVAILABLE;
    if (rc != PAYPROV_OK)
        snprintf(err, errlen, "alipay create: cannot sign the order string");
    json_decref(biz);
    free(form);
    ali_close(&ali);
    return rc;
}

/* A query's answer (code 10000) into out. */
static int ali_read_query(const json_t *resp, payprov_query_t *out, char *err, size_t errlen)
{
    const char *state = json_string_value(json_object_get(resp, "trade_status"));
    const char *trade_no = json_string_value(json_object_get(resp, "trade_no"));
    const char *total = json_string_value(json_object_get(resp, "total_amount"));
    if (state == NULL || strlen(state) >= sizeof(out->state)) {
        snprintf(err, errlen, "alipay query: no trade_status");
        return PAYPROV_E_UNAVAILABLE;
    }
    snprintf(out->state, sizeof(out->state), "%s", state);
    if (strcmp(state, "TRADE_SUCCESS") != 0 && strcmp(state, "TRADE_FINISHED") != 0)
        return PAYPROV_OK;
    if (trade_no == NULL || trade_no[0] == '\0' || strlen(trade_no) >= sizeof(out->transaction_id) || total == NULL ||
        money_parse_yuan(total, strlen(total), &out->amount_fen) != MONEY_OK) {
        snprintf(err, errlen, "alipay query: paid without trade_no or a readable total_amount");
        out->amount_fen = -1;
        return PAYPROV_E_UNAVAILABLE;
    }
    out->paid = 1;
    snprintf(out->transaction_id, sizeof(out->transaction_id), "%s", trade_no);
    return PAYPROV_OK;
}

static int ali_query(const payprov_ctx_t *ctx, const pay_attempt_t *a, payprov_query_t *out, char *err, size_t errlen)
{
    ali_t ali;
    json_t *resp = NULL;
    memset(out, 0, sizeof(*out));
    out->amount_fen = -1;
    int rc = ali_open(ctx->cfg, &ali, err, errlen);
    if (rc != PAYPROV_OK)
        return rc;
    json_t *biz = json_pack("{s:s}", "out_trade_no", a->out_trade_no);
    rc = biz != NULL ? ali_call(&ali, "alipay.trade.query", biz, &resp, err, errlen) : PAYPROV_E_UNAVAILABLE;
    if (rc == PAYPROV_E_REFUSED && ali_sub_is(resp, "ACQ.TRADE_NOT_EXIST")) { /* never opened: not paid */
        snprintf(out->state, sizeof(out->state), "TRADE_NOT_EXIST");
        rc = PAYPROV_OK;
    } else if (rc == PAYPROV_OK) {
        rc = ali_read_query(resp, out, err, errlen);
    }
    json_decref(resp);
    json_decref(biz);
    ali_close(&ali);
    return rc;
}

static int ali_close_trade(const payprov_ctx_t *ctx, const pay_attempt_t *a, char *err, size_t errlen)
{
    ali_t ali;
    json_t *resp = NULL;
    int rc = ali_open(ctx->cfg, &ali, err, errlen);
    if (rc != PAYPROV_OK)
        return rc;
    json_t *biz = json_pack("{s:s}", "out_trade_no", a->out_trade_no);
    rc = biz != NULL ? ali_call(&ali, "alipay.trade.close", biz, &resp, err, errlen) : PAYPROV_E_UNAVAILABLE;
    if (rc == PAYPROV_E_REFUSED && ali_sub_is(resp, "ACQ.TRADE_NOT_EXIST"))
        rc = PAYPROV_OK; /* never opened; the order string expires with timeout_express */
    json_decref(resp);
    json_decref(biz);
    ali_close(&ali);
    return rc;
}

static int ali_refund(const payprov_ctx_t *ctx, const pay_refund_t *r, char *refund_id, size_t len, char *err,
                      size_t errlen)
{
    ali_t ali;
    json_t *resp = NULL, *biz = NULL;
    char yuan[32];
    refund_id[0] = '\0';
    int rc = ali_open(ctx->cfg, &ali, err, errlen);
    if (rc != PAYPROV_OK)
        return rc;
    if (money_format_yuan(r->amount_fen, yuan, sizeof(yuan)) == MONEY_OK)
        biz = json_pack("{s:s, s:s, s:s, s:s}", "out_trade_no", r->out_trade_no, "refund_amount", yuan,
                        "out_request_no", r->out_refund_no, "refund_reason", r->reason);
    rc = biz != NULL ? ali_call(&ali, "alipay.trade.refund", biz, &resp, err, errlen) : PAYPROV_E_UNAVAILABLE;
    if (rc == PAYPROV_OK) /* synchronous: 10000 is refunded (a repeat answers the same) */
        snprintf(refund_id, len, "%s", NOSTR(json_string_value(json_object_get(resp, "trade_no"))));
    json_decref(resp);
    json_decref(biz);
    ali_close(&ali);
    return rc;
}

static const payprov_ops_t alipay_ops = {
    .name = "alipay", .create = ali_create, .query = ali_query, .close = ali_close_trade, .refund = ali_refund};

/* ================================================================ choosing */

const payprov_ops_t *payprov_for(const config_t *cfg, pay_provider_t provider)
{
    if (provider != PAY_WECHAT && provider != PAY_ALIPAY)
        return NULL;
    if (paykeys_is_sandbox(cfg))
        return &sandbox_ops;
    return provider == PAY_WECHAT ? &wechat_ops : &alipay_ops;
}
