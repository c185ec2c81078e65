/*
 * The payment providers' callbacks (API.md "Payment callbacks", PAYMENTS.md): POST
 * /v1/pay/wechat/notify and POST /v1/pay/alipay/notify. Public routes with the raw body
 * (ROUTE_BODY_ANY): nothing in a body is believed before the crypto layer verified it over
 * the bytes exactly as received. Worker threads; the keys are loaded per request
 * (models/paykeys.h says why), so nothing is kept between requests.
 *
 * Answers are the providers' contracts, not our error shape. WeChat: 204 once recorded (or
 * once there is nothing to do), else a 4xx/5xx with {"code":"FAIL","message"} so it calls
 * again: 400 for a request that is malformed or not about one of our payments, 401 for one
 * that does not prove it comes from WeChat (stale, unknown serial, bad signature, does not
 * decrypt), 500 when we failed (keys, database). Alipay: the body `success` (200) once
 * recorded, else `failure` (400 refused, 500 our failure): Alipay only reads the body.
 *
 * The handler verifies (models/providers), reads what the notification says into a
 * pay_notice_t and calls payment_notify(), which owns the transaction and keeps the
 * notification with its verdict; a refusal is an outcome (SF_E_MALFORMED,
 * SF_E_UNAUTHORIZED, SF_E_INTERNAL) whose HTTP status error_status() chooses, as for every
 * other route. Only the body of the answer is the provider's own shape.
 */
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/events.h"
#include "models/payment.h"
#include "models/providers/alipay.h"
#include "models/providers/paykeys.h"
#include "models/providers/wxpay.h"
#include "server/http/api.h"

#define VERDICT_MAX 33 /* payment_notifications.verdict holds 32 */

/* ======================== shared ======================== */

/* The request's headers as a JSON object for the log (credentials of ours left out; values
 * that are not UTF-8 too, as JSON cannot hold them). */
static json_t *headers_doc(const api_req_t *req)
{
    json_t *doc = json_object();
    for (size_t i = 0; doc != NULL && i < req->nheaders; i++) {
        if (strcmp(req->hname[i], "authorization") == 0 || strcmp(req->hname[i], "cookie") == 0)
            continue;
        json_t *v = json_string(req->hvalue[i]);
        if (v != NULL)
            json_object_set_new(doc, req->hname[i], v);
    }
    return doc;
}

/* A notice of this request, before anything was read from it. */
static pay_notice_t notice(const api_req_t *req, pay_provider_t p, const json_t *headers)
{
    return (pay_notice_t){.provider = p,
                          .request_id = req->request_id,
                          .headers = headers,
                          .body = req->raw_body,
                          .len = req->raw_body_len};
}

/* Refused before it said anything: rc, the verdict's reason, the sentence for the provider. */
static void refuse(pay_notice_t *n, sf_status_t rc, char *verdict, const char *why, const char *message)
{
    snprintf(verdict, VERDICT_MAX, "refused:%s", why);
    n->kind = PAY_NOTICE_REFUSED;
    n->refusal = rc;
    n->verdict = verdict;
    n->message = message;
}

/* What a provider's reader fills: the verified notification, whose strings the notice
 * borrows until payment_notify() returns. */
typedef union notification {
    wxpay_notify_t wechat;
    alipay_notify_t alipay;
} notification_t;

/* Verifies and reads the request into n (a refusal is a notice too). */
typedef void (*notice_reader_t)(const api_req_t *req, pay_notice_t *n, void *scratch, char *verdict);

/* One notification of either provider: verified and read by its reader, then handed to
 * payment_notify(), which owns the transaction and keeps the notification with its verdict. */
static sf_status_t receive(const api_req_t *req, worker_t *w, pay_provider_t p, notice_reader_t read,
                           status_detail_t *d)
{
    notification_t scratch;
    char verdict[VERDICT_MAX] = "";
    json_t *headers = headers_doc(req);
    pay_notice_t n = notice(req, p, headers);
    int64_t paid_order = 0;
    read(req, &n, &scratch, verdict);
    sf_status_t rc = payment_notify(&w->db, &n, d, &paid_order);
    json_decref(headers);
    /* Committed: the vendors and the consumer hear of it (a failure only slows them). */
    if (paid_order > 0 && events_order_changed(&w->db, &w->redis, req->cfg->events_keep, paid_order) != 0)
        log_warn("notify %s: order %lld paid, events not emitted: %s", req->request_id, (long long)paid_order,
                 w->redis.err);
    return rc;
}

/* ======================== WeChat Pay ======================== */

/* The outcome and the verdict's reason for a refusal by wxpay_verify_notify: not proven to
 * come from WeChat is unauthorized, unreadable is malformed, our keys failing is ours. */
static sf_status_t wx_refusal(int rc, const char **why)
{
    switch (rc) {
    case WXPAY_E_BODY: *why = "body"; return SF_E_MALFORMED;
    case WXPAY_E_HEADERS: *why = "headers"; return SF_E_MALFORMED;
    case WXPAY_E_SIGNATURE_TYPE: *why = "signature_type"; return SF_E_MALFORMED;
    case WXPAY_E_STALE: *why = "stale"; return SF_E_UNAUTHORIZED;
    case WXPAY_E_SERIAL: *why = "serial"; return SF_E_UNAUTHORIZED;
    case WXPAY_E_SIGNATURE: *why = "signature"; return SF_E_UNAUTHORIZED;
    case WXPAY_E_FORMAT: *why = "format"; return SF_E_MALFORMED;
    case WXPAY_E_ALGORITHM: *why = "algorithm"; return SF_E_MALFORMED;
    case WXPAY_E_EVENT: *why = "event"; return SF_E_MALFORMED;
    case WXPAY_E_DECRYPT: *why = "decrypt"; return SF_E_UNAUTHORIZED;
    case WXPAY_E_PLAINTEXT: *why = "plaintext"; return SF_E_MALFORMED;
    case WXPAY_E_MCHID: *why = "mchid"; return SF_E_MALFORMED;
    case WXPAY_E_APPID: *why = "appid"; return SF_E_MALFORMED;
    case WXPAY_E_KEY: *why = "key"; return SF_E_INTERNAL;
    default: *why = "internal"; return SF_E_INTERNAL;
    }
}

/* TRANSACTION.SUCCESS, verified: only SUCCESS in CNY pays; the other states need nothing. */
static void wx_payment(pay_notice_t *n, const wxpay_notify_t *ev, char *verdict)
{
    if (strcmp(ev->trade_state, "SUCCESS") != 0) {
        snprintf(verdict, VERDICT_MAX, "ignored:%.24s", ev->trade_state);
        n->kind = PAY_NOTICE_IGNORED;
        n->verdict = verdict;
    } else if (ev->total_fen <= 0) {
        refuse(n, SF_E_MALFORMED, verdict, "amount", "no amount");
    } else if (strcmp(ev->currency, "CNY") != 0) {
        refuse(n, SF_E_MALFORMED, verdict, "currency", "not a payment in CNY");
    } else {
        n->kind = PAY_NOTICE_PAID;
        n->paid = (pay_paid_t){PAY_WECHAT, ev->out_trade_no, ev->transaction_id, ev->total_fen};
    }
}

/* REFUND.SUCCESS, REFUND.CLOSED, REFUND.ABNORMAL, verified: the refund it names. */
static void wx_refund(pay_notice_t *n, const wxpay_notify_t *ev)
{
    n->kind = PAY_NOTICE_REFUND;
    n->out_refund_no = ev->out_refund_no;
    n->provider_refund_id = ev->refund_id;
    n->refund_succeeded = strcmp(ev->event_type, "REFUND.SUCCESS") == 0 &&
                          (ev->refund_status[0] == '\0' || strcmp(ev->refund_status, "SUCCESS") == 0);
}

/* Verifies the notification with the merchant's keys and reads it into n. */
static void wx_read(const api_req_t *req, pay_notice_t *n, void *scratch, char *verdict)
{
    wxpay_notify_t *ev = scratch;
    paykeys_wechat_t keys;
    char err[PAYKEYS_ERR_MAX];
    const char *why = NULL;
    if (paykeys_wechat_load(req->cfg, &keys, err, sizeof(err)) != 0) {
        log_error("wechat notify %s: %s", req->request_id, err);
        refuse(n, SF_E_PROVIDER_CONFIG, verdict, "keys", "the merchant's keys are unavailable");
        return;
    }
    wxpay_headers_t h = {api_header(req, "wechatpay-timestamp"), api_header(req, "wechatpay-nonce"),
                         api_header(req, "wechatpay-signature"), api_header(req, "wechatpay-serial"),
                         api_header(req, "wechatpay-signature-type")};
    int rc = wxpay_verify_notify(keys.platform, &keys.merchant, &h, req->raw_body, req->raw_body_len,
                                 (int64_t)time(NULL), ev, err, sizeof(err));
    paykeys_wechat_free(&keys);
    if (rc != WXPAY_OK) {
        sf_status_t refusal = wx_refusal(rc, &why);
        refuse(n, refusal, verdict, why, wxpay_status_str(rc));
        log_info("wechat notify %s: %s (%s)", req->request_id, verdict, err);
        return;
    }
    n->event_id = ev->id;
    n->out_trade_no = ev->out_trade_no;
    if (ev->kind == WXPAY_KIND_PAYMENT)
        wx_payment(n, ev, verdict);
    else
        wx_refund(n, ev);
}

/* WeChat's contract: 204 once received, else {"code":"FAIL","message"} so that it calls again. */
static void wechat_notify(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    sf_status_t rc = receive(req, w, PAY_WECHAT, wx_read, &d);
    if (rc == SF_OK)
        api_reply_static(req, 204, NULL, "");
    else
        api_reply_json(req, error_status(rc), json_pack("{s:s, s:s}", "code", "FAIL", "message", d.reason));
    status_detail_clear(&d);
}

/* ======================== Alipay ======================== */

static const char *ali_reason(int rc)
{
    switch (rc) {
    case ALIPAY_E_BODY: return "body";
    case ALIPAY_E_FORM: return "form";
    case ALIPAY_E_DUPLICATE: return "duplicate_param";
    case ALIPAY_E_CHARSET: return "charset";
    case ALIPAY_E_SIGN_TYPE: return "sign_type";
    case ALIPAY_E_SIGNATURE: return "signature";
    case ALIPAY_E_APP_ID: return "app_id";
    case ALIPAY_E_SELLER_ID: return "seller_id";
    case ALIPAY_E_FIELDS: return "fields";
    case ALIPAY_E_KEY: return "key";
    default: return "internal";
    }
}

/* What a verified notification asks: TRADE_SUCCESS or TRADE_FINISHED pays the order once (a
 * later copy carrying refund_fee also reports a partial refund); states only move forward,
 * so waiting to pay changes nothing and a closed trade has nothing to pay, but may report
 * the refund that closed it. */
static void ali_trade(pay_notice_t *n, const alipay_notify_t *a, char *verdict)
{
    int paid = strcmp(a->trade_status, "TRADE_SUCCESS") == 0 || strcmp(a->trade_status, "TRADE_FINISHED") == 0;
    int closed = strcmp(a->trade_status, "TRADE_CLOSED") == 0;
    int refund = a->has_refund && a->refund_fen > 0;
    n->out_refund_no = a->out_biz_no;
    n->provider_refund_id = a->trade_no;
    n->refund_succeeded = 1;
    if (paid) {
        n->kind = PAY_NOTICE_PAID;
        n->paid = (pay_paid_t){PAY_ALIPAY, a->out_trade_no, a->trade_no, a->total_fen};
        n->has_refund = refund;
    } else if (closed && refund) {
        n->kind = PAY_NOTICE_REFUND;
    } else if (closed || strcmp(a->trade_status, "WAIT_BUYER_PAY") == 0) {
        snprintf(verdict, VERDICT_MAX, "ignored:%.24s", a->trade_status);
        n->kind = PAY_NOTICE_IGNORED;
        n->verdict = verdict;
    } else {
        refuse(n, SF_E_MALFORMED, verdict, "trade_status", NULL);
        n->event_id = NULL;
    }
}

/* Verifies the notification with Alipay's key and reads it into n. */
static void ali_read(const api_req_t *req, pay_notice_t *n, void *scratch, char *verdict)
{
    alipay_notify_t *a = scratch;
    paykeys_alipay_t keys;
    char err[PAYKEYS_ERR_MAX];
    if (paykeys_alipay_load(req->cfg, &keys, err, sizeof(err)) != 0) {
        log_error("alipay notify %s: %s", req->request_id, err);
        refuse(n, SF_E_PROVIDER_CONFIG, verdict, "keys", NULL);
        return;
    }
    int rc =
        alipay_verify_notify(keys.alipay_public, req->raw_body, req->raw_body_len, &keys.expect, a, err, sizeof(err));
    paykeys_alipay_free(&keys);
    if (rc != ALIPAY_OK) {
        refuse(n, rc == ALIPAY_E_INTERNAL || rc == ALIPAY_E_KEY ? SF_E_INTERNAL : SF_E_MALFORMED, verdict,
               ali_reason(rc), NULL);
        log_info("alipay notify %s: %s (%s)", req->request_id, verdict, err);
        return;
    }
    n->event_id = a->notify_id;
    n->out_trade_no = a->out_trade_no;
    ali_trade(n, a, verdict);
}

/* Alipay's contract: the body `success` (200) once received, else `failure` with the
 * outcome's status; Alipay reads only the body. */
static void alipay_notify(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    sf_status_t rc = receive(req, w, PAY_ALIPAY, ali_read, &d);
    status_detail_clear(&d);
    api_reply_static(req, error_status(rc), "text/plain; charset=utf-8", rc == SF_OK ? "success" : "failure");
}

int paynotify_register(router_t *r)
{
    if (router_add(r, "POST", "/v1/pay/wechat/notify", ROUTE_BODY_ANY, wechat_notify) != 0 ||
        router_add(r, "POST", "/v1/pay/alipay/notify", ROUTE_BODY_ANY, alipay_notify) != 0)
        return -1;
    return 0;
}
