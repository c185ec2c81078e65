/*
 * The payment provider adapter: four operations per provider (create, query, close, refund)
 * behind one table of function pointers, with three implementations chosen by the config:
 *
 *   sandbox (payments.mode=sandbox): no outbound call at all. create answers params marked
 *     {"sandbox": true, ...}; query says "paid" only for an attempt our database already has
 *     paid; close succeeds; refund succeeds at once.
 *   WeChat Pay v3, live: HTTPS (models/providers/httpc.h) to wechat.pay_api_base, JSON bodies, every call signed
 *     with the merchant key (Authorization: WECHATPAY2-SHA256-RSA2048 ...), answers verified
 *     with the platform keys when wechat.platform_keys names any.
 *   Alipay, live: create builds the signed order string the app SDK takes
 *     (alipay.trade.app.pay: the app talks to Alipay itself); query, close and refund are
 *     RSA2-signed form POSTs to alipay.gateway (alipay.trade.query / close / refund), answers
 *     verified with Alipay's public key when alipay.public_key_file is set.
 *
 * Keys and ids: loaded through models/providers/paykeys.h (the one place that resolves them, sandbox
 * defaults included) on every call, never cached: no mutable globals, no per-thread cache to
 * invalidate when a key file is rotated, and a call is rare (a payment attempt, a timeout, a
 * refund) next to the 5 s its network round trip may take.
 *
 * Blocking calls, bounded by PAYPROV_TIMEOUT_S each: worker threads only (or tests), never
 * inside a transaction that holds locks others wait for. No HTTP server types here; the
 * caller decides what its client sees. Outputs: *params (json_t) belongs to the caller.
 */
#ifndef SF_PAYPROV_H
#define SF_PAYPROV_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/config.h"
#include "models/base/status.h"
#include "models/store/db.h"
#include "models/providers/paytypes.h"

#define PAYPROV_TIMEOUT_S  5           /* one outbound call, connect included */
#define PAYPROV_ANSWER_MAX (64 * 1024) /* bytes of a provider's answer; more is not a provider */
#define PAYPROV_ERR_MAX    256         /* room for an error line */

/* The outcomes of an operation: names of the one contract's values (models/base/status.h),
 * kept so that callers read in the provider's vocabulary.
 *   PAYPROV_OK            done
 *   PAYPROV_PROCESSING    refund: accepted, settled later (WeChat notifies REFUND.SUCCESS)
 *   PAYPROV_E_UNAVAILABLE no answer, 5xx, 429, an unreadable answer or one whose signature
 *                         fails: retry
 *   PAYPROV_E_REFUSED     the provider said no for good (a 4xx with its code)
 *   PAYPROV_E_CONFIG      a key, id or URL we need is missing or unreadable */
#define PAYPROV_OK            SF_OK
#define PAYPROV_PROCESSING    SF_PROVIDER_PROCESSING
#define PAYPROV_E_UNAVAILABLE SF_E_PROVIDER_UNAVAILABLE
#define PAYPROV_E_REFUSED     SF_E_PROVIDER_REFUSED
#define PAYPROV_E_CONFIG      SF_E_PROVIDER_CONFIG
typedef sf_status_t payprov_status_t;

/* What a query learnt. */
typedef struct payprov_query {
    int paid; /* 1: the provider holds the money */
    char state[33];
    char transaction_id[PAY_TXID_MAX];
    int64_t amount_fen; /* -1 unless paid */
} payprov_query_t;

/* What the caller hands to every operation: the frozen config, and the thread's database
 * (only the sandbox reads it). */
typedef struct payprov_ctx {
    const config_t *cfg;
    db_t *db;
} payprov_ctx_t;

typedef struct payprov_ops {
    const char *name; /* "sandbox", "wechat", "alipay": for logs */
    /* *params: what the client SDK needs (the caller's); prepay_id (len bytes) gets WeChat's
     * prepay id, "" otherwise. */
    int (*create)(const payprov_ctx_t *ctx, const pay_attempt_t *a, json_t **params, char *prepay_id, size_t len,
                  char *err, size_t errlen);
    int (*query)(const payprov_ctx_t *ctx, const pay_attempt_t *a, payprov_query_t *out, char *err, size_t errlen);
    int (*close)(const payprov_ctx_t *ctx, const pay_attempt_t *a, char *err, size_t errlen);
    /* PAYPROV_OK (refunded; refund_id gets the provider's id), PAYPROV_PROCESSING, or an error.
     * The same out_refund_no twice is one refund at the provider. */
    int (*refund)(const payprov_ctx_t *ctx, const pay_refund_t *r, char *refund_id, size_t len, char *err,
                  size_t errlen);
} payprov_ops_t;

/* The implementation for a provider under this config (sandbox when payments.mode is
 * "sandbox"); NULL for an unknown provider. Immutable, shared by every thread. */
const payprov_ops_t *payprov_for(const config_t *cfg, pay_provider_t provider);

/* A short English name of a status, for logs. */
const char *payprov_status_str(int status);

#endif
