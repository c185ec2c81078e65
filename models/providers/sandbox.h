/*
 * The sandbox provider's paying side: builds the successful-payment notification WeChat Pay
 * v3 (TRANSACTION.SUCCESS) or Alipay (TRADE_SUCCESS) would post to our callback for a
 * payment, signed exactly as the provider signs it, with the sandbox's keys. Development and
 * demos only (`stallfront sandbox pay` sends it); the server verifies it as it would verify
 * the provider's own.
 *
 * The *_sign functions are pure apart from random ids and nonces: keys and time in, a
 * notice out, no I/O. The *_notice functions load the sandbox's keys from the config first
 * (payments.mode = sandbox only). Any thread. A notice owns its body: free it with
 * sandbox_notice_free. Sending it is the caller's (models/providers/httpc.h).
 */
#ifndef SF_SANDBOX_H
#define SF_SANDBOX_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/config.h"
#include "models/base/status.h"
#include "models/providers/wxpay.h"

#define SANDBOX_HEADERS_MAX 6                        /* header lines of a notice */
#define SANDBOX_HEADER_MAX  (WXPAY_SIG_B64_MAX + 40) /* bytes of one line: a name and a signature */

/* The payment being paid, borrowed from the caller. */
typedef struct sandbox_payment {
    const char *out_trade_no;
    const char *order_no; /* Alipay's subject */
    const char *openid;   /* WeChat's payer; "" or NULL: "sandbox-payer" */
    int64_t amount_fen;
} sandbox_payment_t;

/* A signed notification: the POST's header lines and body. headers points into lines, so a
 * notice must not be copied once built. */
typedef struct sandbox_notice {
    char *body; /* malloc'd, NUL-terminated */
    size_t len;
    char lines[SANDBOX_HEADERS_MAX][SANDBOX_HEADER_MAX];
    const char *headers[SANDBOX_HEADERS_MAX + 1]; /* "Name: value", NULL-ended */
} sandbox_notice_t;

/* WeChat Pay's notification of p paid at now_s: the resource encrypted under m's APIv3 key,
 * the whole signed with the platform's private key under serial. SF_OK, or SF_E_INTERNAL
 * (*out then holds nothing). */
sf_status_t sandbox_wechat_sign(EVP_PKEY *platform_private, const char *serial, const wxpay_merchant_t *m,
                                const sandbox_payment_t *p, int64_t now_s, sandbox_notice_t *out);

/* Alipay's notification of p paid at now_s, for app_id and seller_id, signed (RSA2) with
 * Alipay's private key. SF_OK, or SF_E_INTERNAL (*out then holds nothing). */
sf_status_t sandbox_alipay_sign(EVP_PKEY *alipay_private, const char *app_id, const char *seller_id,
                                const sandbox_payment_t *p, int64_t now_s, sandbox_notice_t *out);

/* The same with the sandbox's keys under cfg: SF_OK; SF_E_PROVIDER_CONFIG when a key cannot
 * be loaded (live mode included); SF_E_INTERNAL when signing failed. err gets a line. */
sf_status_t sandbox_wechat_notice(const config_t *cfg, const sandbox_payment_t *p, int64_t now_s, sandbox_notice_t *out,
                                  char *err, size_t errlen);
sf_status_t sandbox_alipay_notice(const config_t *cfg, const sandbox_payment_t *p, int64_t now_s, sandbox_notice_t *out,
                                  char *err, size_t errlen);

/* Frees n's body and empties it (n itself is the caller's). */
void sandbox_notice_free(sandbox_notice_t *n);

/* Whether our server's answer acknowledges the notification as each provider reads it:
 * WeChat, HTTP 200 or 204; Alipay, HTTP 200 with exactly "success". */
int sandbox_wechat_acknowledged(long status, const char *body);
int sandbox_alipay_acknowledged(long status, const char *body);

#endif
