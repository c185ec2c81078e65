/*
 * The sandbox payer's notifications (see sandbox.h): what WeChat Pay and Alipay post when a
 * payment succeeds, with fresh provider ids, signed by models/providers/wxpay and
 * models/providers/alipay as the providers sign. Nothing is sent from here.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/base/money.h"
#include "models/providers/alipay.h"
#include "models/providers/paykeys.h"
#include "models/providers/sandbox.h"

#define BEIJING_OFFSET_S (8 * 3600) /* both providers write times in Beijing time */

void sandbox_notice_free(sandbox_notice_t *n)
{
    free(n->body);
    memset(n, 0, sizeof(*n));
}

int sandbox_wechat_acknowledged(long status, const char *body)
{
    return status == 200 || status == 204;
}

int sandbox_alipay_acknowledged(long status, const char *body)
{
    return status == 200 && body != NULL && strcmp(body, "success") == 0;
}

/* Beijing time at now_s in fmt (strftime). */
static void beijing_time(int64_t now_s, char *buf, size_t len, const char *fmt)
{
    time_t t = (time_t)now_s + BEIJING_OFFSET_S;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, fmt, &tm);
}

/* A provider transaction id: prefix and random letters and digits. */
static int fresh_id(const char *prefix, char *buf, size_t len)
{
    char rnd[25];
    if (wxpay_nonce(rnd, 24) != WXPAY_OK)
        return -1;
    snprintf(buf, len, "%s%s", prefix, rnd);
    return 0;
}

/* Appends a header line to n. */
static void add_header(sandbox_notice_t *n, const char *name, const char *value)
{
    size_t i = 0;
    while (n->headers[i] != NULL)
        i++;
    snprintf(n->lines[i], sizeof(n->lines[i]), "%s: %s", name, value);
    n->headers[i] = n->lines[i];
}

sf_status_t sandbox_wechat_sign(EVP_PKEY *platform_private, const char *serial, const wxpay_merchant_t *m,
                                const sandbox_payment_t *p, int64_t now_s, sandbox_notice_t *out)
{
    wxpay_signed_t s = {0};
    wxpay_notify_t ev = {.kind = WXPAY_KIND_PAYMENT, .total_fen = p->amount_fen, .refund_fen = -1};
    memset(out, 0, sizeof(*out));
    snprintf(ev.event_type, sizeof(ev.event_type), "TRANSACTION.SUCCESS");
    snprintf(ev.out_trade_no, sizeof(ev.out_trade_no), "%s", p->out_trade_no);
    snprintf(ev.trade_state, sizeof(ev.trade_state), "SUCCESS");
    snprintf(ev.currency, sizeof(ev.currency), "CNY");
    snprintf(ev.openid, sizeof(ev.openid), "%s",
             p->openid != NULL && p->openid[0] != '\0' ? p->openid : "sandbox-payer");
    beijing_time(now_s, ev.create_time, sizeof(ev.create_time), "%Y-%m-%dT%H:%M:%S+08:00");
    snprintf(ev.success_time, sizeof(ev.success_time), "%s", ev.create_time);
    if (fresh_id("EV-", ev.id, sizeof(ev.id)) != 0 ||
        fresh_id("4200", ev.transaction_id, sizeof(ev.transaction_id)) != 0 ||
        wxpay_sign_notify(platform_private, serial, m, &ev, now_s, NULL, &s) != WXPAY_OK) {
        wxpay_signed_free(&s);
        return SF_E_INTERNAL;
    }
    out->body = s.body; /* taken over from s */
    out->len = s.body_len;
    add_header(out, "Content-Type", "application/json");
    add_header(out, "Wechatpay-Timestamp", s.timestamp);
    add_header(out, "Wechatpay-Nonce", s.nonce);
    add_header(out, "Wechatpay-Signature", s.signature);
    add_header(out, "Wechatpay-Serial", s.serial);
    add_header(out, "Wechatpay-Signature-Type", WXPAY_SIGNATURE_TYPE);
    return SF_OK;
}

sf_status_t sandbox_alipay_sign(EVP_PKEY *alipay_private, const char *app_id, const char *seller_id,
                                const sandbox_payment_t *p, int64_t now_s, sandbox_notice_t *out)
{
    char when[32], yuan[32], trade_no[40], notify_id[40];
    memset(out, 0, sizeof(*out));
    beijing_time(now_s, when, sizeof(when), "%Y-%m-%d %H:%M:%S");
    if (money_format_yuan(p->amount_fen, yuan, sizeof(yuan)) != MONEY_OK ||
        fresh_id("2026", trade_no, sizeof(trade_no)) != 0 || fresh_id("sbx", notify_id, sizeof(notify_id)) != 0)
        return SF_E_INTERNAL;
    const alipay_kv_t kv[] = {{"notify_time", when},
                              {"notify_type", "trade_status_sync"},
                              {"notify_id", notify_id},
                              {"app_id", app_id},
                              {"version", "1.0"},
                              {"trade_no", trade_no},
                              {"out_trade_no", p->out_trade_no},
                              {"buyer_id", "2088000000000000"},
                              {"seller_id", seller_id},
                              {"trade_status", "TRADE_SUCCESS"},
                              {"total_amount", yuan},
                              {"receipt_amount", yuan},
                              {"gmt_payment", when},
                              {"subject", p->order_no}};
    if (alipay_sign_params(alipay_private, kv, sizeof(kv) / sizeof(kv[0]), "utf-8", &out->body, &out->len) !=
        ALIPAY_OK) {
        sandbox_notice_free(out);
        return SF_E_INTERNAL;
    }
    add_header(out, "Content-Type", "application/x-www-form-urlencoded; charset=utf-8");
    return SF_OK;
}

sf_status_t sandbox_wechat_notice(const config_t *cfg, const sandbox_payment_t *p, int64_t now_s, sandbox_notice_t *out,
                                  char *err, size_t errlen)
{
    paykeys_wechat_t keys;
    paykeys_signer_t signer;
    memset(out, 0, sizeof(*out));
    if (paykeys_wechat_load(cfg, &keys, err, errlen) != 0 ||
        paykeys_sandbox_wechat_signer(cfg, &signer, err, errlen) != 0) {
        paykeys_wechat_free(&keys);
        return SF_E_PROVIDER_CONFIG;
    }
    sf_status_t rc = sandbox_wechat_sign(signer.private_key, signer.serial, &keys.merchant, p, now_s, out);
    if (rc != SF_OK)
        snprintf(err, errlen, "could not sign the notification");
    paykeys_signer_free(&signer);
    paykeys_wechat_free(&keys);
    return rc;
}

sf_status_t sandbox_alipay_notice(const config_t *cfg, const sandbox_payment_t *p, int64_t now_s, sandbox_notice_t *out,
                                  char *err, size_t errlen)
{
    paykeys_alipay_t keys;
    paykeys_signer_t signer;
    memset(out, 0, sizeof(*out));
    if (paykeys_alipay_load(cfg, &keys, err, errlen) != 0 ||
        paykeys_sandbox_alipay_signer(cfg, &signer, err, errlen) != 0) {
        paykeys_alipay_free(&keys);
        return SF_E_PROVIDER_CONFIG;
    }
    sf_status_t rc = sandbox_alipay_sign(signer.private_key, keys.app_id, keys.seller_id, p, now_s, out);
    if (rc != SF_OK)
        snprintf(err, errlen, "could not sign the notification");
    paykeys_signer_free(&signer);
    paykeys_alipay_free(&keys);
    return rc;
}
