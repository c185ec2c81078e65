/*
 * WeChat Pay API v3 cryptography (docs PAYMENTS.md "WeChat Pay API v3"): verifying and
 * decrypting payment and refund notifications, and the signing side of the same formats (the
 * sandbox provider and the tests sign exactly as WeChat does), plus the merchant's signatures
 * for outbound calls (the Authorization header, the mini-program paySign).
 *
 * Pure: no HTTP, no database, no configuration, no clock. Every key, id and time is a
 * parameter, every answer a status; the caller compares out_trade_no and amounts against its
 * own payment, and decides the HTTP answer. Any thread. A wxpay_keys_t is built at start-up,
 * then only read (EVP_PKEY is safe to share read-only between threads in OpenSSL 3).
 *
 * Ownership: EVP_PKEY arguments are borrowed (a key map takes its own reference). Outputs are
 * fixed-size arrays in caller structs, except wxpay_signed_t.body (free with
 * wxpay_signed_free) and wxpay_aead_seal's text (free()). Strings are NUL-terminated.
 */
#ifndef SF_WXPAY_H
#define SF_WXPAY_H

#include <openssl/evp.h>
#include <stddef.h>
#include <stdint.h>

#define WXPAY_BODY_MAX       (64 * 1024) /* notifications are ~1 KB; more is not WeChat */
#define WXPAY_SKEW_S         300         /* a notification's timestamp may be this far off now */
#define WXPAY_SIG_LEN        256         /* SHA256withRSA with RSA-2048 */
#define WXPAY_SIG_B64_MAX    1024        /* room for signatures of keys up to 6144 bits, as text */
#define WXPAY_APIV3_KEY_LEN  32          /* AES-256: the APIv3 key's 32 ASCII bytes as they are */
#define WXPAY_GCM_NONCE_LEN  12          /* resource.nonce */
#define WXPAY_GCM_TAG_LEN    16          /* appended to resource.ciphertext */
#define WXPAY_NONCE_MAX      64          /* Wechatpay-Nonce: WeChat sends 32 characters */
#define WXPAY_SERIAL_MAX     64          /* 40 hex digits, or PUB_KEY_ID_ and ~30 digits */
#define WXPAY_KEYS_MAX       8           /* platform keys valid at once (rotation) */
#define WXPAY_SIGNATURE_TYPE "WECHATPAY2-SHA256-RSA2048"

typedef enum wxpay_status {
    WXPAY_OK = 0,
    WXPAY_E_BODY = -1,           /* no body, or larger than WXPAY_BODY_MAX */
    WXPAY_E_HEADERS = -2,        /* a Wechatpay-* header missing, or malformed (timestamp not digits...) */
    WXPAY_E_SIGNATURE_TYPE = -3, /* Wechatpay-Signature-Type present and not WXPAY_SIGNATURE_TYPE */
    WXPAY_E_STALE = -4,          /* timestamp more than WXPAY_SKEW_S from now: a replay or a bad clock */
    WXPAY_E_SERIAL = -5,         /* no platform key with that serial */
    WXPAY_E_SIGNATURE = -6,      /* not base64 of WXPAY_SIG_LEN bytes, or does not verify (SIGNTEST probes) */
    WXPAY_E_FORMAT = -7,         /* signed body is not the notification JSON (id, event_type, resource...) */
    WXPAY_E_ALGORITHM = -8,      /* resource.algorithm is not AEAD_AES_256_GCM */
    WXPAY_E_EVENT = -9,          /* event_type is not one we handle */
    WXPAY_E_DECRYPT = -10,       /* GCM open failed: tag, key, AAD, nonce, ciphertext shorter than the tag */
    WXPAY_E_PLAINTEXT = -11,     /* decrypted resource is not the JSON we expect (fields, types, sizes) */
    WXPAY_E_MCHID = -12,         /* resource mchid is not ours */
    WXPAY_E_APPID = -13,         /* resource appid is not ours (payments) */
    WXPAY_E_KEY = -14,           /* key loading: not a PEM we can read, not RSA-2048, bad serial, full, dup */
    WXPAY_E_ARGUMENT = -15,      /* signing: a value too long or with '"', control bytes; buffer too small */
    WXPAY_E_INTERNAL = -16,      /* out of memory, or OpenSSL failed in a way that is no verdict */
} wxpay_status_t;

/* A short English name of a status, for logs and the {"code":"FAIL","message"} answer. */
const char *wxpay_status_str(int status);

/* ---- platform keys by serial ---- */

typedef struct wxpay_keys wxpay_keys_t;

/* An empty map (NULL when out of memory); free with wxpay_keys_free (NULL is fine). */
wxpay_keys_t *wxpay_keys_new(void);
void wxpay_keys_free(wxpay_keys_t *keys);

/* Adds a public key (RSA-2048) under serial: hex digits (compared case-insensitively and
 * without leading zeros) or "PUB_KEY_ID_" followed by letters and digits (compared exactly).
 * The map takes its own reference to pub. WXPAY_OK or WXPAY_E_KEY. */
int wxpay_keys_add(wxpay_keys_t *keys, const char *serial, EVP_PKEY *pub);

/* Adds the public key in PEM text ("BEGIN PUBLIC KEY") under serial. */
int wxpay_keys_add_pem(wxpay_keys_t *keys, const char *serial, const char *pem, size_t len);

/* Adds the key of an X.509 platform certificate in PEM text under the certificate's serial
 * (upper-case hex), which is also written to serial_out (serial_len bytes; may be NULL). */
int wxpay_keys_add_cert(wxpay_keys_t *keys, const char *pem, size_t len, char *serial_out, size_t serial_len);

/* The key for a Wechatpay-Serial header value, borrowed from the map; NULL if unknown. */
EVP_PKEY *wxpay_keys_find(const wxpay_keys_t *keys, const char *serial);

/* ---- verifying notifications ---- */

/* Our merchant, borrowed: mchid and appid NUL-terminated, apiv3_key exactly
 * WXPAY_APIV3_KEY_LEN bytes (no NUL needed). */
typedef struct wxpay_merchant {
    const char *mchid;
    const char *appid;
    const unsigned char *apiv3_key;
} wxpay_merchant_t;

/* The Wechatpay-* request headers, borrowed and NUL-terminated; NULL when absent. */
typedef struct wxpay_headers {
    const char *timestamp;      /* Wechatpay-Timestamp */
    const char *nonce;          /* Wechatpay-Nonce */
    const char *signature;      /* Wechatpay-Signature */
    const char *serial;         /* Wechatpay-Serial */
    const char *signature_type; /* Wechatpay-Signature-Type (may be absent) */
} wxpay_headers_t;

typedef enum wxpay_kind {
    WXPAY_KIND_PAYMENT = 1, /* TRANSACTION.SUCCESS */
    WXPAY_KIND_REFUND = 2,  /* REFUND.SUCCESS, REFUND.ABNORMAL, REFUND.CLOSED */
} wxpay_kind_t;

/* A notification, decrypted: filled by wxpay_verify_notify, read by wxpay_sign_notify. Text
 * fields are printable ASCII except success_time/create_time (any UTF-8 WeChat sends);
 * fields a kind does not have, or WeChat left out, are "" (integers -1). */
typedef struct wxpay_notify {
    wxpay_kind_t kind;
    char id[65];          /* the notification id: record it uniquely */
    char event_type[33];  /* e.g. "TRANSACTION.SUCCESS" */
    char create_time[40]; /* RFC 3339, as WeChat wrote it */
    /* both kinds */
    char out_trade_no[65];
    char transaction_id[65];
    char success_time[40];
    int64_t total_fen; /* amount.total */
    /* payments */
    char trade_state[33]; /* SUCCESS, REFUND, NOTPAY, CLOSED, REVOKED, USERPAYING, PAYERROR */
    char currency[17];    /* amount.currency: "CNY" */
    char openid[129];     /* payer.openid */
    /* refunds */
    char out_refund_no[65];
    char refund_id[65];
    char refund_status[33]; /* SUCCESS, CLOSED, PROCESSING, ABNORMAL */
    int64_t refund_fen;     /* amount.refund */
} wxpay_notify_t;

/* Verifies only the signature of a WeChat message (notification or API answer): checks 1 to
 * 5 of PAYMENTS.md in order (body, headers, signature type, timestamp within WXPAY_SKEW_S of
 * now_s, serial known, signature of exactly WXPAY_SIG_LEN bytes verifying SHA256withRSA
 * PKCS#1 v1.5 over "TIMESTAMP\nNONCE\nBODY\n" on the raw body bytes). err (may be NULL)
 * receives a line for the log. */
int wxpay_verify_signature(const wxpay_keys_t *keys, const wxpay_headers_t *h, const char *body, size_t len,
                           int64_t now_s, char *err, size_t errlen);

/* Verifies a notification as wxpay_verify_signature does, then parses it, checks the
 * algorithm and event type, decrypts the resource (AES-256-GCM, the APIv3 key, the resource
 * nonce, associated_data, tag checked), checks mchid (and appid for payments) against m and
 * fills *out. WXPAY_OK, or the status of the first check that failed (*out then holds nothing
 * to act on). Amounts and out_trade_no are the caller's to compare. */
int wxpay_verify_notify(const wxpay_keys_t *keys, const wxpay_merchant_t *m, const wxpay_headers_t *h, const char *body,
                        size_t len, int64_t now_s, wxpay_notify_t *out, char *err, size_t errlen);

/* ---- signing, as WeChat does (sandbox, tests) ---- */

/* SHA256withRSA (PKCS#1 v1.5) over each part followed by "\n", in base64 into sig (siglen
 * bytes; WXPAY_SIG_B64_MAX + 1 is enough). The one message shape of all API v3 signatures. */
int wxpay_sign(EVP_PKEY *private_key, const char *const *parts, size_t nparts, char *sig, size_t siglen);

/* n random letters and digits and a NUL into out (n + 1 bytes): nonces. */
int wxpay_nonce(char *out, size_t n);

/* AES-256-GCM: seals plaintext under key (WXPAY_APIV3_KEY_LEN bytes) with a nonce of
 * WXPAY_GCM_NONCE_LEN characters and aad; *b64 (malloc'd, free()) gets base64 of
 * ciphertext||tag. */
int wxpay_aead_seal(const unsigned char *key, const char *nonce, const char *aad, const unsigned char *plaintext,
                    size_t len, char **b64);

/* The reverse: *plaintext (malloc'd, NUL-terminated, free()) and *len. WXPAY_E_DECRYPT when
 * the text is not base64, shorter than the tag, the nonce not WXPAY_GCM_NONCE_LEN bytes, or
 * the tag does not check. */
int wxpay_aead_open(const unsigned char *key, const char *nonce, const char *aad, const char *b64, size_t b64len,
                    unsigned char **plaintext, size_t *len);

/* A signed notification, as WeChat would send it. */
typedef struct wxpay_signed {
    char timestamp[24];
    char nonce[WXPAY_NONCE_MAX + 1];
    char serial[WXPAY_SERIAL_MAX + 1];
    char signature[WXPAY_SIG_B64_MAX + 1];
    char *body; /* malloc'd JSON, NUL-terminated */
    size_t body_len;
} wxpay_signed_t;

/* Frees s->body (s itself is the caller's). */
void wxpay_signed_free(wxpay_signed_t *s);

/* Points h at s's values (Wechatpay-Signature-Type included). */
void wxpay_signed_headers(const wxpay_signed_t *s, wxpay_headers_t *h);

/* The notification body for ev (kind, id, event_type, create_time and the fields of its
 * kind), in WeChat's layout, with the resource encrypted under m->apiv3_key with a random
 * 12-character nonce and associated_data "transaction" or "refund". *body malloc'd (free()). */
int wxpay_notify_body(const wxpay_merchant_t *m, const wxpay_notify_t *ev, char **body, size_t *len);

/* Signs body at now_s with nonce (NULL: 32 random characters) under platform_private and
 * serial into *out (free with wxpay_signed_free); out takes a copy of body. */
int wxpay_sign_message(EVP_PKEY *platform_private, const char *serial, int64_t now_s, const char *nonce,
                       const char *body, size_t len, wxpay_signed_t *out);

/* wxpay_notify_body then wxpay_sign_message: a complete notification. */
int wxpay_sign_notify(EVP_PKEY *platform_private, const char *serial, const wxpay_merchant_t *m,
                      const wxpay_notify_t *ev, int64_t now_s, const char *nonce, wxpay_signed_t *out);

/* ---- outbound calls, signed with the merchant's key ---- */

/* The Authorization header value for a call to the API: WECHATPAY2-SHA256-RSA2048
 * mchid="..",nonce_str="..",timestamp="..",serial_no="..",signature=".." over
 * METHOD\nPATH_AND_QUERY\nTIMESTAMP\nNONCE\nBODY\n (body "" for GET). serial_no is the
 * merchant certificate's. Values with '"' or control bytes are refused (WXPAY_E_ARGUMENT). */
int wxpay_authorization(EVP_PKEY *merchant_private, const char *mchid, const char *serial_no, const char *method,
                        const char *path_and_query, const char *body, int64_t timestamp, const char *nonce, char *out,
                        size_t outlen);

/* The mini-program's paySign (signType "RSA") over APPID\nTIMESTAMP\nNONCESTR\nPACKAGE\n,
 * package being "prepay_id=...". */
int wxpay_pay_sign(EVP_PKEY *merchant_private, const char *appid, const char *timestamp, const char *noncestr,
                   const char *package, char *out, size_t outlen);

/* ---- keys from PEM text ---- */

/* A private key from PEM text (PKCS#8 or PKCS#1), or NULL; EVP_PKEY_free it. */
EVP_PKEY *wxpay_private_key_pem(const char *pem, size_t len);

#endif
