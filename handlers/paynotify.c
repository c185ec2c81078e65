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
 * Every notification is logged with its verdict (payment_notification_log, its own
 * statement, after the transaction). The provider's event id is logged only with the
 * notifications we acknowledged: a refused one is logged without it, so that a retry that
 * succeeds later gets its own row and verdict instead of a times_seen on the refusal.
 */
#include <jansson.h>
#include <string.h>
#include <time.h>
#include "server/http/api.h"
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/providers/alipay.h"
#include "models/payment.h"
#include "models/providers/paykeys.h"
#include "models/providers/wxpay.h"

#define TX_TRIES     3  /* a deadlocked or raced transaction runs again this many times in all */
#define TRADE_NO_COL 32 /* payment_notifications.out_trade_no holds this many bytes */
#define VERDICT_MAX  33 /* payment_notifications.verdict holds 32 */

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

/* Logs the notification with its verdict; a failure to log is logged, never answered. */
static void keep(api_req_t *req, worker_t *w, pay_provider_t p, const char *event_id, const char *verdict,
                 const char *out_trade_no)
{
    json_t *h = headers_doc(req);
    const char *no =
        out_trade_no != NULL && out_trade_no[0] != '\0' && strlen(out_trade_no) <= TRADE_NO_COL ? out_trade_no : NULL;
    int rc = payment_notification_log(&w->db, p, event_id, h, req->raw_body != NULL ? req->raw_body : "",
                                      req->raw_body_len, verdict, no);
    if (rc != DB_OK)
        log_error("%s notify %s: could not log verdict %s: %s", payment_provider_name(p), req->request_id, verdict,
                  w->db.err);
    json_decref(h);
}

static void refused(char *verdict, const char *reason)
{
    snprintf(verdict, VERDICT_MAX, "refused:%s", reason);
}

/* payment_record_paid_tx in its own transaction. A deadlock, or a unique key raced by a
 * copy of the same notification from another of the provider's servers, runs it again: the
 * second run sees the first's row and answers PAY_DUPLICATE. An outcome that wrote nothing
 * (unknown trade, amount mismatch) is rolled back. */
static int record_paid(db_t *db, const pay_paid_t *paid, pay_outcome_t *outcome)
{
    int rc = DB_ERR;
    for (int i = 0; i < TX_TRIES; i++) {
        if ((rc = db_begin(db)) == DB_OK && (rc = payment_record_paid_tx(db, paid, outcome)) == DB_OK) {
            if (*outcome == PAY_UNKNOWN_TRADE || *outcome == PAY_AMOUNT_MISMATCH) {
                db_rollback(db);
                return DB_OK;
            }
            rc = db_commit(db);
        }
        if (rc == DB_OK)
            return DB_OK;
        db_rollback(db);
        if (rc != DB_DEADLOCK && rc != DB_DUP && rc != DB_GONE)
            return rc;
    }
    return rc;
}

/* payment_refund_settle_tx in its own transaction (retried as above). */
static int settle_refund(db_t *db, const char *out_refund_no, const char *provider_refund_id, int succeeded)
{
    int rc = DB_ERR;
    for (int i = 0; i < TX_TRIES; i++) {
        if ((rc = db_begin(db)) == DB_OK &&
            (rc = payment_refund_settle_tx(db, out_refund_no, provider_refund_id, succeeded)) == DB_OK)
            rc = db_commit(db);
        if (rc == DB_OK)
            return DB_OK;
        db_rollback(db);
        if (rc != DB_DEADLOCK && rc != DB_GONE)
            return rc;
    }
    return rc;
}

/* The verdict of an outcome, and whether the provider is told it was recorded. */
static const char *outcome_verdict(pay_outcome_t o, int *acknowledged)
{
    *acknowledged = 1;
    switch (o) {
    case PAY_RECORDED: return "recorded";
    case PAY_DUPLICATE: return "duplicate";
    case PAY_REFUNDED_LATE: return "refunded_late";
    case PAY_REFUNDED_DOUBLE: return "refunded_double";
    case PAY_UNKNOWN_TRADE: *acknowledged = 0; return "refused:unknown_trade";
    case PAY_AMOUNT_MISMATCH: *acknowledged = 0; return "refused:amount_mismatch";
    }
    *acknowledged = 0;
    return "refused:outcome";
}

/* ======================== WeChat Pay ======================== */

static void wx_fail(api_req_t *req, int status, const char *message)
{
    api_reply_json(req, status, json_pack("{s:s, s:s}", "code", "FAIL", "message", message));
}

static void wx_ok(api_req_t *req)
{
    api_reply_static(req, 204, NULL, "");
}

/* The HTTP status and the verdict's reason for a refusal by wxpay_verify_notify. */
static int wx_refusal(int rc, const char **reason)
{
    switch (rc) {
    case WXPAY_E_BODY: *reason = "body"; return 400;
    case WXPAY_E_HEADERS: *reason = "headers"; return 400;
    case WXPAY_E_SIGNATURE_TYPE: *reason = "signature_type"; return 400;
    case WXPAY_E_STALE: *reason = "stale"; return 401;
    case WXPAY_E_SERIAL: *reason = "serial"; return 401;
    case WXPAY_E_SIGNATURE: *reason = "signature"; return 401;
    case WXPAY_E_FORMAT: *reason = "format"; return 400;
    case WXPAY_E_ALGORITHM: *reason = "algorithm"; return 400;
    case WXPAY_E_EVENT: *reason = "event"; return 400;
    case WXPAY_E_DECRYPT: *reason = "decrypt"; return 401;
    case WXPAY_E_PLAINTEXT: *reason = "plaintext"; return 400;
    case WXPAY_E_MCHID: *reason = "mchid"; return 400;
    case WXPAY_E_APPID: *reason = "appid"; return 400;
    case WXPAY_E_KEY: *reason = "key"; return 500;
    default: *reason = "internal"; return 500;
    }
}

/* TRANSACTION.SUCCESS, verified: pays the order once. */
static void wx_payment(api_req_t *req, worker_t *w, const wxpay_notify_t *ev)
{
    char verdict[VERDICT_MAX];
    pay_outcome_t outcome = 0;
    int ack = 0;
    if (strcmp(ev->trade_state, "SUCCESS") != 0) { /* only SUCCESS pays; the rest needs nothing */
        snprintf(verdict, sizeof(verdict), "ignored:%.24s", ev->trade_state);
        keep(req, w, PAY_WECHAT, ev->id, verdict, ev->out_trade_no);
        wx_ok(req);
        return;
    }
    if (strcmp(ev->currency, "CNY") != 0 || ev->total_fen <= 0) {
        keep(req, w, PAY_WECHAT, NULL, ev->total_fen <= 0 ? "refused:amount" : "refused:currency", ev->out_trade_no);
        wx_fail(req, 400, ev->total_fen <= 0 ? "no amount" : "not a payment in CNY");
        return;
    }
    pay_paid_t paid = {PAY_WECHAT, ev->out_trade_no, ev->transaction_id, ev->total_fen};
    int rc = record_paid(&w->db, &paid, &outcome);
    if (rc != DB_OK) {
        log_error("wechat notify %s: recording %s failed: %s", req->request_id, ev->out_trade_no, w->db.err);
        keep(req, w, PAY_WECHAT, NULL, "error:database", ev->out_trade_no);
        wx_fail(req, 500, "could not record the payment");
        return;
    }
    const char *v = outcome_verdict(outcome, &ack);
    keep(req, w, PAY_WECHAT, ack ? ev->id : NULL, v, ev->out_trade_no);
    if (!ack) {
        log_warn("wechat notify %s: %s for out_trade_no %s (%lld fen)", req->request_id, v, ev->out_trade_no,
                 (long long)ev->total_fen);
        wx_fail(req, 400, outcome == PAY_UNKNOWN_TRADE ? "unknown out_trade_no" : "amount does not match");
        return;
    }
    wx_ok(req);
}

/* REFUND.SUCCESS, REFUND.CLOSED, REFUND.ABNORMAL, verified: settles the refund it names. */
static void wx_refund(api_req_t *req, worker_t *w, const wxpay_notify_t *ev)
{
    int succeeded = strcmp(ev->event_type, "REFUND.SUCCESS") == 0 &&
                    (ev->refund_status[0] == '\0' || strcmp(ev->refund_status, "SUCCESS") == 0);
    int rc = settle_refund(&w->db, ev->out_refund_no, ev->refund_id, succeeded);
    if (rc == DB_NOROW) {
        keep(req, w, PAY_WECHAT, NULL, "refused:unknown_refund", ev->out_trade_no);
        wx_fail(req, 400, "unknown out_refund_no");
    } else if (rc != DB_OK) {
        log_error("wechat notify %s: settling %s failed: %s", req->request_id, ev->out_refund_no, w->db.err);
        keep(req, w, PAY_WECHAT, NULL, "error:database", ev->out_trade_no);
        wx_fail(req, 500, "could not settle the refund");
    } else {
        keep(req, w, PAY_WECHAT, ev->id, succeeded ? "refund_succeeded" : "refund_failed", ev->out_trade_no);
        wx_ok(req);
    }
}

static void wechat_notify(api_req_t *req, worker_t *w)
{
    paykeys_wechat_t keys;
    wxpay_notify_t ev;
    char err[PAYKEYS_ERR_MAX], verdict[VERDICT_MAX];
    const char *reason = NULL;
    if (paykeys_wechat_load(req->cfg, &keys, err, sizeof(err)) != 0) {
        log_error("wechat notify %s: %s", req->request_id, err);
        keep(req, w, PAY_WECHAT, NULL, "refused:keys", NULL);
        wx_fail(req, 500, "the merchant's keys are unavailable");
        return;
    }
    wxpay_headers_t h = {api_header(req, "wechatpay-timestamp"), api_header(req, "wechatpay-nonce"),
                         api_header(req, "wechatpay-signature"), api_header(req, "wechatpay-serial"),
                         api_header(req, "wechatpay-signature-type")};
    int rc = wxpay_verify_notify(keys.platform, &keys.merchant, &h, req->raw_body, req->raw_body_len,
                                 (int64_t)time(NULL), &ev, err, sizeof(err));
    paykeys_wechat_free(&keys);
    if (rc != WXPAY_OK) {
        int status = wx_refusal(rc, &reason);
        refused(verdict, reason);
        log_info("wechat notify %s: %s (%s)", req->request_id, verdict, err);
        keep(req, w, PAY_WECHAT, NULL, verdict, NULL);
        wx_fail(req, status, wxpay_status_str(rc));
        return;
    }
    if (ev.kind == WXPAY_KIND_PAYMENT)
        wx_payment(req, w, &ev);
    else
        wx_refund(req, w, &ev);
}

/* ======================== Alipay ======================== */

static void ali_answer(api_req_t *req, int status)
{
    api_reply_static(req, status, "text/plain; charset=utf-8", status == 200 ? "success" : "failure");
}

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

/* A notification that reports a refund (refund_fee, or TRADE_CLOSED with out_biz_no):
 * settles the pending refund it names when there is one; otherwise it is only logged. The
 * verdict says which. */
static const char *ali_refund_report(worker_t *w, const alipay_notify_t *n, int *db_failed)
{
    *db_failed = 0;
    if (n->out_biz_no[0] == '\0')
        return "refund_unmatched";
    int rc = settle_refund(&w->db, n->out_biz_no, n->trade_no, 1);
    if (rc == DB_NOROW)
        return "refund_unmatched";
    if (rc != DB_OK) {
        *db_failed = 1;
        return "error:database";
    }
    return "refund_settled";
}

/* TRADE_SUCCESS or TRADE_FINISHED, verified: pays the order once (a later copy carrying
 * refund_fee is a duplicate of the payment that also reports a partial refund). */
static void ali_paid(api_req_t *req, worker_t *w, const alipay_notify_t *n)
{
    pay_outcome_t outcome = 0;
    int ack = 0, db_failed = 0;
    pay_paid_t paid = {PAY_ALIPAY, n->out_trade_no, n->trade_no, n->total_fen};
    int rc = record_paid(&w->db, &paid, &outcome);
    if (rc != DB_OK) {
        log_error("alipay notify %s: recording %s failed: %s", req->request_id, n->out_trade_no, w->db.err);
        keep(req, w, PAY_ALIPAY, NULL, "error:database", n->out_trade_no);
        ali_answer(req, 500);
        return;
    }
    const char *v = outcome_verdict(outcome, &ack);
    if (ack && n->has_refund && n->refund_fen > 0)
        v = ali_refund_report(w, n, &db_failed);
    keep(req, w, PAY_ALIPAY, ack && !db_failed ? n->notify_id : NULL, v, n->out_trade_no);
    if (!ack)
        log_warn("alipay notify %s: %s for out_trade_no %s (%lld fen)", req->request_id, v, n->out_trade_no,
                 (long long)n->total_fen);
    ali_answer(req, db_failed ? 500 : ack ? 200 : 400);
}

static void alipay_notify(api_req_t *req, worker_t *w)
{
    paykeys_alipay_t keys;
    alipay_notify_t n;
    char err[PAYKEYS_ERR_MAX], verdict[VERDICT_MAX];
    int db_failed = 0;
    if (paykeys_alipay_load(req->cfg, &keys, err, sizeof(err)) != 0) {
        log_error("alipay notify %s: %s", req->request_id, err);
        keep(req, w, PAY_ALIPAY, NULL, "refused:keys", NULL);
        ali_answer(req, 500);
        return;
    }
    int rc =
        alipay_verify_notify(keys.alipay_public, req->raw_body, req->raw_body_len, &keys.expect, &n, err, sizeof(err));
    paykeys_alipay_free(&keys);
    if (rc != ALIPAY_OK) {
        refused(verdict, ali_reason(rc));
        log_info("alipay notify %s: %s (%s)", req->request_id, verdict, err);
        keep(req, w, PAY_ALIPAY, NULL, verdict, NULL);
        ali_answer(req, rc == ALIPAY_E_INTERNAL || rc == ALIPAY_E_KEY ? 500 : 400);
        return;
    }
    if (strcmp(n.trade_status, "TRADE_SUCCESS") == 0 || strcmp(n.trade_status, "TRADE_FINISHED") == 0) {
        ali_paid(req, w, &n);
        return;
    }
    /* States only move forward: waiting to pay changes nothing; a closed trade has nothing
     * to pay, and may report the refund that closed it. */
    if (strcmp(n.trade_status, "TRADE_CLOSED") == 0 && n.has_refund && n.refund_fen > 0) {
        const char *v = ali_refund_report(w, &n, &db_failed);
        keep(req, w, PAY_ALIPAY, db_failed ? NULL : n.notify_id, v, n.out_trade_no);
    } else if (strcmp(n.trade_status, "TRADE_CLOSED") == 0 || strcmp(n.trade_status, "WAIT_BUYER_PAY") == 0) {
        snprintf(verdict, sizeof(verdict), "ignored:%.24s", n.trade_status);
        keep(req, w, PAY_ALIPAY, n.notify_id, verdict, n.out_trade_no);
    } else {
        keep(req, w, PAY_ALIPAY, NULL, "refused:trade_status", n.out_trade_no);
        ali_answer(req, 400);
        return;
    }
    ali_answer(req, db_failed ? 500 : 200);
}

int paynotify_register(router_t *r)
{
    if (router_add(r, "POST", "/v1/pay/wechat/notify", ROUTE_BODY_ANY, wechat_notify) != 0 ||
        router_add(r, "POST", "/v1/pay/alipay/notify", ROUTE_BODY_ANY, alipay_notify) != 0)
        return -1;
    return 0;
}
