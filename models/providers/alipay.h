/*
 * Alipay RSA2 cryptography (docs PAYMENTS.md "Alipay asynchronous notification"): decoding
 * the form-encoded notification into raw bytes, the signing string, verifying a notification
 * with Alipay's public key, and the signing side (the sandbox provider and the tests sign
 * notifications exactly as Alipay does; outbound requests are signed with the app's key).
 *
 * Pure: no HTTP, no database, no configuration. Every key and id is a parameter, every answer
 * a status; the caller compares out_trade_no and the amount against its own payment and
 * answers "success" only once it recorded the notification. Any thread.
 *
 * Bytes, not text: values are percent-decoded into the raw bytes Alipay signed, in the
 * notification's charset (utf-8 or gbk), and are never transcoded. Ownership: EVP_PKEY
 * arguments are borrowed; an alipay_form_t owns its one buffer (alipay_form_free); outputs
 * named *body or *out with a length are malloc'd (free()); everything else is caller arrays.
 */
#ifndef SF_ALIPAY_H
#define SF_ALIPAY_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define ALIPAY_BODY_MAX     (16 * 1024) /* notifications are ~1-2 KB */
#define ALIPAY_PARAMS_MAX   100         /* they carry ~30 parameters */
#define ALIPAY_SIG_B64_MAX  1024        /* base64 of a signature by keys up to 6144 bits */
#define ALIPAY_KEY_TEXT_MAX 16384       /* a key as PEM or bare base64 */

typedef enum alipay_status {
    ALIPAY_OK = 0,
    ALIPAY_E_BODY = -1,      /* no body, or larger than ALIPAY_BODY_MAX */
    ALIPAY_E_FORM = -2,      /* not application/x-www-form-urlencoded: bad %XX, empty key, > PARAMS_MAX */
    ALIPAY_E_DUPLICATE = -3, /* a parameter appears twice: which one was signed? */
    ALIPAY_E_CHARSET = -4,   /* charset missing or not utf-8 / gbk */
    ALIPAY_E_SIGN_TYPE = -5, /* sign_type missing or not RSA2 */
    ALIPAY_E_SIGNATURE = -6, /* sign missing, not strict base64, or does not verify */
    ALIPAY_E_APP_ID = -7,    /* app_id is not ours */
    ALIPAY_E_SELLER_ID = -8, /* seller_id is not ours */
    ALIPAY_E_FIELDS = -9,    /* a field we need is missing, too long or malformed (amounts: exact yuan) */
    ALIPAY_E_KEY = -10,      /* key loading: neither PEM nor base64 DER of an RSA key */
    ALIPAY_E_ARGUMENT = -11, /* signing: duplicate or reserved parameter names, buffer too small */
    ALIPAY_E_INTERNAL = -12, /* out of memory, or OpenSSL failed in a way that is no verdict */
} alipay_status_t;

/* A short English name of a status, for logs. */
const char *alipay_status_str(int status);

/* ---- form decoding ---- */

/* One decoded parameter; key and value point into the form's buffer, are NUL-terminated and
 * may hold any byte (a value may even hold NUL: use the lengths). */
typedef struct alipay_param {
    const char *key, *value;
    size_t key_len, value_len;
} alipay_param_t;

typedef struct alipay_form {
    alipay_param_t p[ALIPAY_PARAMS_MAX];
    size_t n;
    char *buf; /* owns the decoded bytes */
} alipay_form_t;

/* Decodes an application/x-www-form-urlencoded body: pairs split on '&', each on its FIRST
 * '=' (a value keeps its '='; a pair without '=' has an empty value; empty pairs are skipped),
 * '+' is a space, %XX a byte (anything else after '%' is refused). ALIPAY_OK, ALIPAY_E_BODY,
 * ALIPAY_E_FORM or ALIPAY_E_DUPLICATE; free the form with alipay_form_free in every case. */
int alipay_form_parse(const char *body, size_t len, alipay_form_t *f);
void alipay_form_free(alipay_form_t *f);

/* The parameter named key (NUL-terminated), or NULL. */
const alipay_param_t *alipay_form_get(const alipay_form_t *f, const char *key);

/* The string a notification is signed over: every parameter except sign, sign_type and
 * those with empty values, sorted by key bytes, "k=v" joined with '&'. *out malloc'd and
 * NUL-terminated (free()), *len its length. */
int alipay_signing_string(const alipay_form_t *f, char **out, size_t *len);

/* ---- verifying notifications ---- */

/* Ours, borrowed, NUL-terminated. */
typedef struct alipay_expect {
    const char *app_id;
    const char *seller_id;
} alipay_expect_t;

/* A verified notification. Text fields are printable ASCII; absent optional ones are "". */
typedef struct alipay_notify {
    char notify_id[129];   /* repeats across retries: record it */
    char notify_type[65];  /* "trade_status_sync" */
    char notify_time[32];  /* "yyyy-MM-dd HH:mm:ss", Beijing time */
    char charset[8];       /* "utf-8" or "gbk", as sent */
    char out_trade_no[65]; /* ours */
    char trade_no[65];     /* Alipay's: record it uniquely */
    char trade_status[33]; /* WAIT_BUYER_PAY, TRADE_SUCCESS, TRADE_FINISHED, TRADE_CLOSED */
    char buyer_id[33];
    char gmt_payment[32];
    char gmt_refund[40];
    char out_biz_no[65]; /* a refund's out_request_no */
    int64_t total_fen;   /* total_amount, exactly */
    int has_refund;      /* refund_fee was present */
    int64_t refund_fen;  /* refund_fee, exactly (-1 if absent) */
} alipay_notify_t;

/* Verifies a notification body (the raw POST bytes): form, charset utf-8 or gbk, sign_type
 * RSA2, sign (strict base64) verifying SHA256withRSA (PKCS#1 v1.5) with alipay_public over
 * the signing string, app_id and seller_id equal e's, then the fields into *out (amounts
 * parsed exactly with money_parse_yuan). The status of the first check that failed; err (may
 * be NULL) receives a line for the log. */
int alipay_verify_notify(EVP_PKEY *alipay_public, const char *body, size_t len, const alipay_expect_t *e,
                         alipay_notify_t *out, char *err, size_t errlen);

/* ---- signing ---- */

/* A parameter to sign, borrowed; values are raw bytes in the charset they are sent in. */
typedef struct alipay_kv {
    const char *key, *value;
} alipay_kv_t;

/* Encodes parameters as a form body: letters, digits and "-._*" as they are, a space as '+',
 * every other byte %XX (what Java's URLEncoder, hence Alipay, sends). */
int alipay_form_encode(const alipay_kv_t *params, size_t n, char **body, size_t *len);

/* Signs a notification as Alipay does: adds charset and sign_type=RSA2, signs the signing
 * string (without sign and sign_type) with private_key, and encodes everything with sign as a
 * form body. params must not contain charset, sign or sign_type (ALIPAY_E_ARGUMENT). */
int alipay_sign_params(EVP_PKEY *private_key, const alipay_kv_t *params, size_t n, const char *charset, char **body,
                       size_t *len);

/* The sign of an outbound request: SHA256withRSA with the app's private key over the sorted
 * "k=v&..." of every non-empty parameter except sign. Unlike a notification, sign_type is
 * signed: Alipay's gateway checks requests that way, so params carry sign_type=RSA2 (and
 * app_id, method, charset, timestamp, version, biz_content). Base64 into sign (signlen). */
int alipay_sign_request(EVP_PKEY *private_key, const alipay_kv_t *params, size_t n, char *sign, size_t signlen);

/* ---- keys ---- */

/* Alipay's public key from PEM text or from the bare base64 of its DER (what Alipay's
 * console hands out; whitespace and line breaks are ignored). NULL if neither; EVP_PKEY_free. */
EVP_PKEY *alipay_public_key(const char *text, size_t len);

/* The app's private key from PEM text or bare base64 DER (PKCS#8 or PKCS#1). The decoded
 * DER is cleansed. NULL if neither; EVP_PKEY_free. */
EVP_PKEY *alipay_private_key(const char *text, size_t len);

#endif
