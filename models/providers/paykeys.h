/*
 * The payment providers' keys and ids, read from the configuration: what a notification
 * handler needs to verify a callback (WeChat's platform keys by serial, the APIv3 key, our
 * merchant and app ids; Alipay's public key, our app and seller ids), and what the sandbox
 * provider needs to sign one (the platform's private keys under payments.sandbox_dir).
 *
 * Where the values come from: payments.mode=live takes the explicit settings (wechat.*,
 * alipay.*), and a missing one is an error. payments.mode=sandbox takes the same settings
 * where they are set and otherwise the sandbox's: files under payments.sandbox_dir
 * (wechat_platform_public.pem under the serial in wechat_platform_serial, wechat_apiv3.key,
 * alipay_public.pem; a missing public file is derived from its *_private.pem), merchant id
 * sandbox-mch, app ids sandbox-app, seller id sandbox-seller.
 *
 * The same place resolves what our own outbound calls need (models/payprov.c): our WeChat
 * merchant key, serial and ids, our Alipay app key and id, and the providers' keys that check
 * the answers, which are optional in live mode (unset: answers go unverified). In sandbox mode
 * our keys default to wechat_merchant_private.pem and alipay_app_private.pem under
 * payments.sandbox_dir; wechat.merchant_serial has no sandbox default.
 *
 * Loaded per request, not cached: a notification is rare (a few per order) and loading costs
 * a few small file reads and a public-key parse (tens of microseconds), while a cache would
 * need per-worker state that worker_t does not carry (and no mutable globals are allowed),
 * and would go on trusting a key file after it was replaced. Loaded per request, a rotated
 * key file takes effect on the next callback, without a restart.
 *
 * Any thread; no globals. The caller owns a loaded struct and frees it with the matching
 * *_free (the APIv3 key is cleansed there); freeing a zeroed or failed struct is fine.
 * Errors come back as -1 with a line in err that names settings and files, never key
 * material: it is for the server log, not for the HTTP answer.
 */
#ifndef SF_PAYKEYS_H
#define SF_PAYKEYS_H

#include <openssl/evp.h>
#include <stddef.h>
#include "models/base/config.h"
#include "models/providers/alipay.h"
#include "models/providers/wxpay.h"

#define PAYKEYS_ID_MAX         64          /* bytes of a merchant, app or seller id */
#define PAYKEYS_FILE_MAX       (64 * 1024) /* a key, certificate or serial file is far smaller */
#define PAYKEYS_ERR_MAX        320         /* room for a setting, a path and a reason */
#define PAYKEYS_SANDBOX_MCHID  "sandbox-mch"
#define PAYKEYS_SANDBOX_APPID  "sandbox-app"
#define PAYKEYS_SANDBOX_SELLER "sandbox-seller"

/* What verifying a WeChat Pay notification needs. merchant points into this struct, so the
 * struct must not be copied once loaded. */
typedef struct paykeys_wechat {
    wxpay_keys_t *platform; /* the platform keys by serial */
    char mchid[PAYKEYS_ID_MAX + 1];
    char appid[PAYKEYS_ID_MAX + 1];
    unsigned char apiv3_key[WXPAY_APIV3_KEY_LEN];
    wxpay_merchant_t merchant; /* {mchid, appid, apiv3_key}, for wxpay_verify_notify */
} paykeys_wechat_t;

/* What verifying an Alipay notification needs; expect points into this struct. */
typedef struct paykeys_alipay {
    EVP_PKEY *alipay_public;
    char app_id[PAYKEYS_ID_MAX + 1];
    char seller_id[PAYKEYS_ID_MAX + 1];
    alipay_expect_t expect; /* {app_id, seller_id}, for alipay_verify_notify */
} paykeys_alipay_t;

/* The sandbox provider's signing side for one provider: its private key, and for WeChat the
 * Wechatpay-Serial its callbacks carry ("" for Alipay). */
typedef struct paykeys_signer {
    EVP_PKEY *private_key;
    char serial[WXPAY_SERIAL_MAX + 1];
} paykeys_signer_t;

/* What signing our own calls to WeChat Pay needs. */
typedef struct paykeys_wechat_merchant {
    EVP_PKEY *private_key;             /* wechat.merchant_key_file */
    char serial[WXPAY_SERIAL_MAX + 1]; /* wechat.merchant_serial */
    char mchid[PAYKEYS_ID_MAX + 1];
    char appid[PAYKEYS_ID_MAX + 1]; /* "" when wechat.appid is unset in live mode: only a create needs it */
} paykeys_wechat_merchant_t;

/* What signing our own calls to Alipay needs. */
typedef struct paykeys_alipay_app {
    EVP_PKEY *private_key; /* alipay.app_key_file */
    char app_id[PAYKEYS_ID_MAX + 1];
} paykeys_alipay_app_t;

/* 1 if payments.mode is sandbox. */
int paykeys_is_sandbox(const config_t *cfg);

/* Loads WeChat's side: wechat.platform_keys ("SERIAL=file.pem,...": each file a public key
 * PEM or a platform certificate, whose own serial must be SERIAL), wechat.apiv3_key_file
 * (exactly 32 printable ASCII bytes after one trailing newline is dropped; anything else is
 * refused), wechat.mchid and wechat.appid, with the sandbox defaults above. 0 or -1. */
int paykeys_wechat_load(const config_t *cfg, paykeys_wechat_t *k, char *err, size_t errlen);
void paykeys_wechat_free(paykeys_wechat_t *k);

/* WeChat's platform keys alone (no APIv3 key, no ids), resolved as paykeys_wechat_load
 * resolves them; for checking the answers to our own calls. In live mode an unset
 * wechat.platform_keys is not an error: 0 with *keys NULL (answers go unverified). The map is
 * the caller's (wxpay_keys_free). 0 or -1 (*keys NULL). */
int paykeys_wechat_platform_load(const config_t *cfg, wxpay_keys_t **keys, char *err, size_t errlen);

/* Our merchant side: wechat.merchant_key_file (sandbox: wechat_merchant_private.pem),
 * wechat.merchant_serial (required in both modes), wechat.mchid, and wechat.appid if set
 * (sandbox: sandbox-mch, sandbox-app). 0 or -1. */
int paykeys_wechat_merchant_load(const config_t *cfg, paykeys_wechat_merchant_t *m, char *err, size_t errlen);
void paykeys_wechat_merchant_free(paykeys_wechat_merchant_t *m);

/* Loads Alipay's side: alipay.public_key_file (PEM or bare base64), alipay.app_id and
 * alipay.seller_id, with the sandbox defaults above. 0 or -1. */
int paykeys_alipay_load(const config_t *cfg, paykeys_alipay_t *k, char *err, size_t errlen);
void paykeys_alipay_free(paykeys_alipay_t *k);

/* Alipay's public key alone, resolved as paykeys_alipay_load resolves it; in live mode an unset
 * alipay.public_key_file gives 0 with *key NULL (answers go unverified). 0 or -1 (*key NULL). */
int paykeys_alipay_public_load(const config_t *cfg, EVP_PKEY **key, char *err, size_t errlen);

/* Our app side: alipay.app_key_file (sandbox: alipay_app_private.pem) and alipay.app_id
 * (sandbox: sandbox-app). 0 or -1. */
int paykeys_alipay_app_load(const config_t *cfg, paykeys_alipay_app_t *a, char *err, size_t errlen);
void paykeys_alipay_app_free(paykeys_alipay_app_t *a);

/* The sandbox provider's signer (sandbox mode only; -1 in live mode): WeChat's is
 * wechat_platform_private.pem with the serial in wechat_platform_serial, Alipay's
 * alipay_private.pem, both under payments.sandbox_dir. 0 or -1. */
int paykeys_sandbox_wechat_signer(const config_t *cfg, paykeys_signer_t *s, char *err, size_t errlen);
int paykeys_sandbox_alipay_signer(const config_t *cfg, paykeys_signer_t *s, char *err, size_t errlen);
void paykeys_signer_free(paykeys_signer_t *s);

#endif
