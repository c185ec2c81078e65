/*
 * WeChat Pay API v3 cryptography (see wxpay.h). Banners separate the key map, the checks of
 * an incoming message, the notification body, and the signing side.
 *
 * Every check follows PAYMENTS.md in its order, so the status names the first thing wrong:
 * nothing about the body is believed (not even that it is JSON) until its signature verified
 * over the bytes exactly as received, and nothing in the resource until its GCM tag checked.
 * OpenSSL verdicts are taken only when they are exactly 1. The APIv3 key is the caller's and
 * is never copied; decrypted plaintext is cleansed before it is freed. Nothing here compares
 * a secret with memcmp: signature and tag checks happen inside OpenSSL.
 */
#include <jansson.h>
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/b64.h"
#include "models/providers/rsasig.h"
#include "models/providers/wxpay.h"

#define NONCE_LEN     32 /* what WeChat's SDKs send as Wechatpay-Nonce */
#define ALGORITHM     "AEAD_AES_256_GCM"
#define PUB_KEY_ID    "PUB_KEY_ID_"
#define TS_DIGITS_MAX 12 /* Unix seconds: 12 digits last until the year 33658 */

/* A piece of a signed message; every piece is followed by "\n" in the message. */
typedef rsasig_part_t part_t;

struct wxpay_keys {
    struct {
        char serial[WXPAY_SERIAL_MAX + 1]; /* normalised, see normalise_serial */
        EVP_PKEY *pkey;                    /* our reference */
    } k[WXPAY_KEYS_MAX];
    size_t n;
};

__attribute__((format(printf, 4, 5))) static int fail(char *err, size_t errlen, int rc, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return rc;
}

const char *wxpay_status_str(int status)
{
    switch (status) {
    case WXPAY_OK: return "ok";
    case WXPAY_E_BODY: return "body missing or too large";
    case WXPAY_E_HEADERS: return "Wechatpay headers missing or malformed";
    case WXPAY_E_SIGNATURE_TYPE: return "unsupported signature type";
    case WXPAY_E_STALE: return "timestamp too far from now";
    case WXPAY_E_SERIAL: return "unknown platform key serial";
    case WXPAY_E_SIGNATURE: return "signature does not verify";
    case WXPAY_E_FORMAT: return "not a notification";
    case WXPAY_E_ALGORITHM: return "unsupported resource algorithm";
    case WXPAY_E_EVENT: return "unexpected event type";
    case WXPAY_E_DECRYPT: return "resource does not decrypt";
    case WXPAY_E_PLAINTEXT: return "resource malformed";
    case WXPAY_E_MCHID: return "mchid is not ours";
    case WXPAY_E_APPID: return "appid is not ours";
    case WXPAY_E_KEY: return "key unusable";
    case WXPAY_E_ARGUMENT: return "argument unusable";
    case WXPAY_E_INTERNAL: return "internal error";
    default: return "unknown status";
    }
}

/* 1 if s is n bytes of printable ASCII without spaces or quotes (header values). */
static int token_ok(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~' || s[i] == '"')
            return 0;
    return 1;
}

/* ======================== platform keys by serial ======================== */

/* The form a serial is compared in: hex is upper-cased without leading zeros (OpenSSL
 * prints whole bytes, WeChat's SDKs print the number), PUB_KEY_ID_ ids stay as they are.
 * 0, or -1 if s is neither form or too long. */
static int normalise_serial(const char *s, char out[WXPAY_SERIAL_MAX + 1])
{
    size_t n = s != NULL ? strlen(s) : 0, id = strlen(PUB_KEY_ID);
    if (n == 0 || n > WXPAY_SERIAL_MAX)
        return -1;
    if (n > id && strncmp(s, PUB_KEY_ID, id) == 0) {
        for (size_t i = id; i < n; i++)
            if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'A' && s[i] <= 'Z') || (s[i] >= 'a' && s[i] <= 'z')))
                return -1;
        memcpy(out, s, n + 1);
        return 0;
    }
    if (strspn(s, "0123456789abcdefABCDEF") != n)
        return -1;
    while (n > 1 && *s == '0') {
        s++;
        n--;
    }
    for (size_t i = 0; i <= n; i++)
        out[i] = (char)(s[i] >= 'a' && s[i] <= 'f' ? s[i] - 'a' + 'A' : s[i]);
    return 0;
}

wxpay_keys_t *wxpay_keys_new(void)
{
    return calloc(1, sizeof(wxpay_keys_t));
}

void wxpay_keys_free(wxpay_keys_t *keys)
{
    if (keys == NULL)
        return;
    for (size_t i = 0; i < keys->n; i++)
        EVP_PKEY_free(keys->k[i].pkey);
    free(keys);
}

int wxpay_keys_add(wxpay_keys_t *keys, const char *serial, EVP_PKEY *pub)
{
    char norm[WXPAY_SERIAL_MAX + 1];
    if (keys == NULL || pub == NULL || keys->n == WXPAY_KEYS_MAX || normalise_serial(serial, norm) != 0)
        return WXPAY_E_KEY;
    /* Notifications are signed RSA-2048 (the signature type says so): anything else in the
     * map is a configuration mistake, caught at start-up rather than at the first payment. */
    if (!EVP_PKEY_is_a(pub, "RSA") || EVP_PKEY_get_bits(pub) != 2048 || wxpay_keys_find(keys, serial) != NULL)
        return WXPAY_E_KEY;
    if (EVP_PKEY_up_ref(pub) != 1)
        return WXPAY_E_INTERNAL;
    memcpy(keys->k[keys->n].serial, norm, sizeof(norm));
    keys->k[keys->n++].pkey = pub;
    return WXPAY_OK;
}

/* PEM passphrase callback: keys here are never encrypted, and OpenSSL must not prompt. */
static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return 0;
}

int wxpay_keys_add_pem(wxpay_keys_t *keys, const char *serial, const char *pem, size_t len)
{
    BIO *bio = len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    EVP_PKEY *pub = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL) : NULL;
    int rc = pub != NULL ? wxpay_keys_add(keys, serial, pub) : WXPAY_E_KEY;
    EVP_PKEY_free(pub);
    BIO_free(bio);
    return rc;
}

/* The certificate's serial as upper-case hex into out; 0 or -1. */
static int cert_serial(X509 *cert, char out[WXPAY_SERIAL_MAX + 1])
{
    BIGNUM *bn = ASN1_INTEGER_to_BN(X509_get0_serialNumber(cert), NULL);
    char *hex = bn != NULL ? BN_bn2hex(bn) : NULL;
    int rc = hex != NULL && strlen(hex) <= WXPAY_SERIAL_MAX ? 0 : -1;
    if (rc == 0)
        memcpy(out, hex, strlen(hex) + 1);
    OPENSSL_free(hex);
    BN_free(bn);
    return rc;
}

int wxpay_keys_add_cert(wxpay_keys_t *keys, const char *pem, size_t len, char *serial_out, size_t serial_len)
{
    char serial[WXPAY_SERIAL_MAX + 1];
    int rc = WXPAY_E_KEY;
    BIO *bio = len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    X509 *cert = bio != NULL ? PEM_read_bio_X509(bio, NULL, no_passphrase, NULL) : NULL;
    EVP_PKEY *pub = cert != NULL ? X509_get0_pubkey(cert) : NULL; /* borrowed from cert */
    if (pub == NULL || cert_serial(cert, serial) != 0)
        goto out;
    if (serial_out != NULL && snprintf(serial_out, serial_len, "%s", serial) >= (int)serial_len)
        goto out;
    rc = wxpay_keys_add(keys, serial, pub);
out:
    X509_free(cert);
    BIO_free(bio);
    return rc;
}

EVP_PKEY *wxpay_keys_find(const wxpay_keys_t *keys, const char *serial)
{
    char norm[WXPAY_SERIAL_MAX + 1];
    if (keys == NULL || normalise_serial(serial, norm) != 0)
        return NULL;
    for (size_t i = 0; i < keys->n; i++)
        if (strcmp(keys->k[i].serial, norm) == 0)
            return keys->k[i].pkey;
    return NULL;
}

EVP_PKEY *wxpay_private_key_pem(const char *pem, size_t len)
{
    BIO *bio = len <= INT32_MAX ? BIO_new_mem_buf(pem, (int)len) : NULL;
    EVP_PKEY *key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
    BIO_free(bio);
    return key;
}

/* ======================== SHA256withRSA over "part\n"... ======================== */

/* The algorithm itself is models/rsasig.c's; these name its verdicts in WeChat's terms. */
static int verify_parts(EVP_PKEY *pub, const part_t *parts, size_t n, const unsigned char *sig, size_t siglen)
{
    int rc = rsasig_verify(pub, parts, n, "\n", sig, siglen);
    return rc == RSASIG_OK ? WXPAY_OK : rc == RSASIG_E_INVALID ? WXPAY_E_SIGNATURE : WXPAY_E_INTERNAL;
}

static int sign_parts(EVP_PKEY *key, const part_t *parts, size_t n, char *sig, size_t siglen)
{
    int rc = rsasig_sign(key, parts, n, "\n", sig, siglen);
    return rc == RSASIG_OK ? WXPAY_OK : rc == RSASIG_E_SPACE ? WXPAY_E_ARGUMENT : WXPAY_E_INTERNAL;
}

int wxpay_sign(EVP_PKEY *private_key, const char *const *parts, size_t nparts, char *sig, size_t siglen)
{
    part_t p[8];
    if (nparts > sizeof(p) / sizeof(p[0]))
        return WXPAY_E_ARGUMENT;
    for (size_t i = 0; i < nparts; i++)
        p[i] = (part_t){parts[i], strlen(parts[i])};
    return sign_parts(private_key, p, nparts, sig, siglen);
}

/* ======================== checking an incoming message ======================== */

static int present(const char *s)
{
    return s != NULL && s[0] != '\0';
}

/* The timestamp header: 1..TS_DIGITS_MAX decimal digits, nothing else. */
static int parse_timestamp(const char *s, int64_t *ts)
{
    size_t n = strlen(s);
    int64_t v = 0;
    if (n == 0 || n > TS_DIGITS_MAX || strspn(s, "0123456789") != n)
        return -1;
    for (size_t i = 0; i < n; i++)
        v = v * 10 + (s[i] - '0');
    *ts = v;
    return 0;
}

/* Checks 1 to 3: body, headers (and signature type), timestamp. */
static int check_envelope(const wxpay_headers_t *h, const char *body, size_t len, int64_t now_s, char *err,
                          size_t errlen)
{
    int64_t ts;
    if (body == NULL || len == 0 || len > WXPAY_BODY_MAX)
        return fail(err, errlen, WXPAY_E_BODY, "body of %zu bytes (1..%d accepted)", body != NULL ? len : 0,
                    WXPAY_BODY_MAX);
    if (!present(h->timestamp) || !present(h->nonce) || !present(h->signature) || !present(h->serial))
        return fail(err, errlen, WXPAY_E_HEADERS, "Wechatpay-%s missing",
                    !present(h->timestamp)   ? "Timestamp"
                    : !present(h->nonce)     ? "Nonce"
                    : !present(h->signature) ? "Signature"
                                             : "Serial");
    if (strlen(h->nonce) > WXPAY_NONCE_MAX || !token_ok(h->nonce, strlen(h->nonce)))
        return fail(err, errlen, WXPAY_E_HEADERS, "Wechatpay-Nonce malformed");
    if (h->signature_type != NULL && strcmp(h->signature_type, WXPAY_SIGNATURE_TYPE) != 0)
        return fail(err, errlen, WXPAY_E_SIGNATURE_TYPE, "Wechatpay-Signature-Type not %s", WXPAY_SIGNATURE_TYPE);
    if (parse_timestamp(h->timestamp, &ts) != 0)
        return fail(err, errlen, WXPAY_E_HEADERS, "Wechatpay-Timestamp is not Unix seconds");
    if (ts < now_s - WXPAY_SKEW_S || ts > now_s + WXPAY_SKEW_S)
        return fail(err, errlen, WXPAY_E_STALE, "Wechatpay-Timestamp %lld is %lld s from now", (long long)ts,
                    (long long)(ts - now_s));
    return WXPAY_OK;
}

int wxpay_verify_signature(const wxpay_keys_t *keys, const wxpay_headers_t *h, const char *body, size_t len,
                           int64_t now_s, char *err, size_t errlen)
{
    unsigned char sig[WXPAY_SIG_LEN];
    size_t siglen = 0;
    int rc = check_envelope(h, body, len, now_s, err, errlen);
    if (rc != WXPAY_OK)
        return rc;
    EVP_PKEY *pub = wxpay_keys_find(keys, h->serial);
    if (pub == NULL)
        return fail(err, errlen, WXPAY_E_SERIAL, "no platform key with serial %.64s",
                    token_ok(h->serial, strlen(h->serial)) ? h->serial : "(not printable)"); /* it goes to a log */
    /* Exactly 256 bytes: a lenient decoder hands 258 for 344 characters, which never verifies. */
    if (b64_decode(h->signature, strlen(h->signature), sig, sizeof(sig), &siglen) != B64_OK || siglen != sizeof(sig))
        return fail(err, errlen, WXPAY_E_SIGNATURE, "Wechatpay-Signature is not base64 of %d bytes", WXPAY_SIG_LEN);
    part_t parts[] = {{h->timestamp, strlen(h->timestamp)}, {h->nonce, strlen(h->nonce)}, {body, len}};
    rc = verify_parts(pub, parts, 3, sig, siglen);
    if (rc != WXPAY_OK)
        return fail(err, errlen, rc, "Wechatpay-Signature does not verify with key %.64s", h->serial);
    return WXPAY_OK;
}

/* Copies obj[key] into dst (cap bytes). Absent: "" if optional, else -1. Present: a string
 * shorter than cap without NUL or control bytes, printable ASCII without spaces if ascii. */
static int take(const json_t *obj, const char *key, char *dst, size_t cap, int required, int ascii)
{
    const json_t *v = json_object_get(obj, key);
    dst[0] = '\0';
    if (v == NULL)
        return required ? -1 : 0;
    const char *s = json_string_value(v);
    size_t n = json_string_length(v);
    if (s == NULL || n >= cap || strlen(s) != n || (required && n == 0))
        return -1;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f || (ascii && !token_ok(s + i, 1)))
            return -1;
    memcpy(dst, s, n + 1);
    return 0;
}

/* obj[key] as a non-negative integer (fen), never a real; -1 if not. */
static int take_fen(const json_t *obj, const char *key, int64_t *fen)
{
    const json_t *v = json_object_get(obj, key);
    if (!json_is_integer(v) || json_integer_value(v) < 0)
        return -1;
    *fen = (int64_t)json_integer_value(v);
    return 0;
}

static int take_payment(const json_t *pt, wxpay_notify_t *out)
{
    const json_t *amount = json_object_get(pt, "amount"), *payer = json_object_get(pt, "payer");
    if (take(pt, "trade_state", out->trade_state, sizeof(out->trade_state), 1, 1) != 0 ||
        take(amount, "currency", out->currency, sizeof(out->currency), 1, 1) != 0 ||
        take(payer, "openid", out->openid, sizeof(out->openid), 0, 1) != 0)
        return -1;
    return 0;
}

static int take_refund(const json_t *pt, wxpay_notify_t *out)
{
    const json_t *amount = json_object_get(pt, "amount");
    if (take(pt, "out_refund_no", out->out_refund_no, sizeof(out->out_refund_no), 1, 1) != 0 ||
        take(pt, "refund_id", out->refund_id, sizeof(out->refund_id), 1, 1) != 0 ||
        take(pt, "refund_status", out->refund_status, sizeof(out->refund_status), 1, 1) != 0 ||
        take_fen(amount, "refund", &out->refund_fen) != 0)
        return -1;
    return 0;
}

/* The decrypted resource: ours (mchid, appid for payments), then its fields. */
static int read_plaintext(const wxpay_merchant_t *m, const unsigned char *pt, size_t n, wxpay_notify_t *out, char *err,
                          size_t errlen)
{
    int rc = WXPAY_E_PLAINTEXT;
    json_t *doc = json_loadb((const char *)pt, n, JSON_REJECT_DUPLICATES, NULL);
    const char *mchid = json_string_value(json_object_get(doc, "mchid"));
    const char *appid = json_string_value(json_object_get(doc, "appid"));
    if (!json_is_object(doc)) {
        rc = fail(err, errlen, rc, "resource is not a JSON object");
    } else if (mchid == NULL || strcmp(mchid, m->mchid) != 0) {
        rc = fail(err, errlen, WXPAY_E_MCHID, "resource mchid %.32s is not ours", mchid != NULL ? mchid : "(none)");
    } else if (out->kind == WXPAY_KIND_PAYMENT && (appid == NULL || strcmp(appid, m->appid) != 0)) {
        rc = fail(err, errlen, WXPAY_E_APPID, "resource appid %.32s is not ours", appid != NULL ? appid : "(none)");
    } else if (take(doc, "out_trade_no", out->out_trade_no, sizeof(out->out_trade_no), 1, 1) != 0 ||
               take(doc, "transaction_id", out->transaction_id, sizeof(out->transaction_id), 1, 1) != 0 ||
               take(doc, "success_time", out->success_time, sizeof(out->success_time), 0, 0) != 0 ||
               take_fen(json_object_get(doc, "amount"), "total", &out->total_fen) != 0 ||
               (out->kind == WXPAY_KIND_PAYMENT ? take_payment(doc, out) : take_refund(doc, out)) != 0) {
        rc = fail(err, errlen, rc, "resource lacks a field of a %s or has one malformed", out->event_type);
    } else {
        rc = WXPAY_OK;
    }
    json_decref(doc);
    return rc;
}

static wxpay_kind_t event_kind(const char *event_type)
{
    if (strcmp(event_type, "TRANSACTION.SUCCESS") == 0)
        return WXPAY_KIND_PAYMENT;
    if (strcmp(event_type, "REFUND.SUCCESS") == 0 || strcmp(event_type, "REFUND.ABNORMAL") == 0 ||
        strcmp(event_type, "REFUND.CLOSED") == 0)
        return WXPAY_KIND_REFUND;
    return 0;
}

/* The verified body: the envelope's id, algorithm and event type, then the resource opened. */
static int read_body(const wxpay_merchant_t *m, const json_t *doc, wxpay_notify_t *out, char *err, size_t errlen)
{
    const json_t *res = json_object_get(doc, "resource"), *aad = json_object_get(res, "associated_data");
    const char *alg = json_string_value(json_object_get(res, "algorithm"));
    const char *nonce = json_string_value(json_object_get(res, "nonce"));
    const json_t *ct = json_object_get(res, "ciphertext");
    unsigned char *pt = NULL;
    size_t ptlen = 0;
    if (!json_is_object(doc) || take(doc, "id", out->id, sizeof(out->id), 1, 1) != 0 ||
        take(doc, "event_type", out->event_type, sizeof(out->event_type), 1, 1) != 0 ||
        take(doc, "create_time", out->create_time, sizeof(out->create_time), 0, 0) != 0 || !json_is_object(res))
        return fail(err, errlen, WXPAY_E_FORMAT, "body is not a notification (id, event_type, resource)");
    if (alg == NULL || strcmp(alg, ALGORITHM) != 0)
        return fail(err, errlen, WXPAY_E_ALGORITHM, "resource.algorithm is not " ALGORITHM);
    if ((out->kind = event_kind(out->event_type)) == 0)
        return fail(err, errlen, WXPAY_E_EVENT, "event_type %s is not one we handle", out->event_type);
    if (nonce == NULL || !json_is_string(ct) || (aad != NULL && !json_is_string(aad)))
        return fail(err, errlen, WXPAY_E_FORMAT, "resource lacks nonce, ciphertext or associated_data");
    int rc = wxpay_aead_open(m->apiv3_key, nonce, aad != NULL ? json_string_value(aad) : "", json_string_value(ct),
                             json_string_length(ct), &pt, &ptlen);
    if (rc != WXPAY_OK)
        return fail(err, errlen, rc, "resource does not decrypt (key, nonce, associated_data or tag)");
    rc = read_plaintext(m, pt, ptlen, out, err, errlen);
    OPENSSL_cleanse(pt, ptlen);
    free(pt);
    return rc;
}

static void notify_clear(wxpay_notify_t *n)
{
    memset(n, 0, sizeof(*n));
    n->total_fen = -1;
    n->refund_fen = -1;
}

int wxpay_verify_notify(const wxpay_keys_t *keys, const wxpay_merchant_t *m, const wxpay_headers_t *h, const char *body,
                        size_t len, int64_t now_s, wxpay_notify_t *out, char *err, size_t errlen)
{
    notify_clear(out);
    int rc = wxpay_verify_signature(keys, h, body, len, now_s, err, errlen);
    if (rc != WXPAY_OK)
        return rc;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES, NULL);
    rc = read_body(m, doc, out, err, errlen);
    json_decref(doc);
    if (rc != WXPAY_OK)
        notify_clear(out);
    return rc;
}

/* ======================== AES-256-GCM ======================== */

static EVP_CIPHER_CTX *gcm_ctx(int enc, const unsigned char *key, const char *nonce, const char *aad)
{
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    int outl = 0, aadlen = (int)strlen(aad);
    int ok = ctx != NULL && EVP_CipherInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL, enc) == 1 &&
             EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, WXPAY_GCM_NONCE_LEN, NULL) == 1 &&
             EVP_CipherInit_ex(ctx, NULL, NULL, key, (const unsigned char *)nonce, enc) == 1 &&
             (aadlen == 0 || EVP_CipherUpdate(ctx, NULL, &outl, (const unsigned char *)aad, aadlen) == 1);
    if (!ok) {
        EVP_CIPHER_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

int wxpay_aead_seal(const unsigned char *key, const char *nonce, const char *aad, const unsigned char *plaintext,
                    size_t len, char **b64)
{
    int rc = WXPAY_E_ARGUMENT, n = 0, fin = 0;
    unsigned char *buf = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    *b64 = NULL;
    if (strlen(nonce) != WXPAY_GCM_NONCE_LEN || len > WXPAY_BODY_MAX || strlen(aad) > WXPAY_BODY_MAX)
        goto out;
    rc = WXPAY_E_INTERNAL;
    buf = malloc(len + WXPAY_GCM_TAG_LEN);
    *b64 = malloc(B64_ENCODED_LEN(len + WXPAY_GCM_TAG_LEN) + 1);
    if (buf == NULL || *b64 == NULL || (ctx = gcm_ctx(1, key, nonce, aad)) == NULL)
        goto out;
    if (EVP_EncryptUpdate(ctx, buf, &n, plaintext, (int)len) != 1 || EVP_EncryptFinal_ex(ctx, buf + n, &fin) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, WXPAY_GCM_TAG_LEN, buf + n + fin) != 1)
        goto out;
    b64_encode(buf, (size_t)(n + fin) + WXPAY_GCM_TAG_LEN, *b64, B64_ENCODED_LEN(len + WXPAY_GCM_TAG_LEN) + 1, NULL);
    rc = WXPAY_OK;
out:
    if (rc != WXPAY_OK) {
        free(*b64);
        *b64 = NULL;
    }
    EVP_CIPHER_CTX_free(ctx);
    free(buf);
    return rc;
}

/* Decrypts ct (the tag at its end) into *plaintext; the output is discarded unless
 * EVP_DecryptFinal_ex says exactly 1, i.e. the tag checked. */
static int gcm_open(EVP_CIPHER_CTX *ctx, unsigned char *ct, size_t n, unsigned char **plaintext, size_t *len)
{
    int outl = 0, fin = 0;
    size_t body = n - WXPAY_GCM_TAG_LEN;
    unsigned char *pt = malloc(body + 1);
    if (pt == NULL)
        return WXPAY_E_INTERNAL;
    if (EVP_DecryptUpdate(ctx, pt, &outl, ct, (int)body) != 1 ||
        EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, WXPAY_GCM_TAG_LEN, ct + body) != 1 ||
        EVP_DecryptFinal_ex(ctx, pt + outl, &fin) != 1) {
        OPENSSL_cleanse(pt, body);
        free(pt);
        return WXPAY_E_DECRYPT;
    }
    pt[outl + fin] = '\0';
    *plaintext = pt;
    *len = (size_t)(outl + fin);
    return WXPAY_OK;
}

int wxpay_aead_open(const unsigned char *key, const char *nonce, const char *aad, const char *b64, size_t b64len,
                    unsigned char **plaintext, size_t *len)
{
    int rc = WXPAY_E_DECRYPT;
    size_t n = 0;
    unsigned char *ct = NULL;
    EVP_CIPHER_CTX *ctx = NULL;
    *plaintext = NULL;
    *len = 0;
    if (strlen(nonce) != WXPAY_GCM_NONCE_LEN || b64len > WXPAY_BODY_MAX || strlen(aad) > WXPAY_BODY_MAX)
        goto out;
    if ((ct = malloc(B64_DECODED_MAX(b64len) + 1)) == NULL) {
        rc = WXPAY_E_INTERNAL;
        goto out;
    }
    /* At least the tag: otherwise the "tag" would be read from before the buffer. */
    if (b64_decode(b64, b64len, ct, B64_DECODED_MAX(b64len) + 1, &n) != B64_OK || n < WXPAY_GCM_TAG_LEN)
        goto out;
    if ((ctx = gcm_ctx(0, key, nonce, aad)) == NULL) {
        rc = WXPAY_E_INTERNAL;
        goto out;
    }
    rc = gcm_open(ctx, ct, n, plaintext, len);
out:
    EVP_CIPHER_CTX_free(ctx);
    free(ct);
    return rc;
}

/* ======================== a notification, as WeChat writes it ======================== */

/* obj[key] = v (stolen); a NULL v (a json_string of bad UTF-8, out of memory) sets *bad. */
static void put(json_t *obj, const char *key, json_t *v, int *bad)
{
    if (v == NULL || json_object_set_new(obj, key, v) != 0)
        *bad = 1;
}

/* obj[key] = s unless s is "" (WeChat leaves out what it does not have). */
static void put_text(json_t *obj, const char *key, const char *s, int *bad)
{
    if (s[0] != '\0')
        put(obj, key, json_string(s), bad);
}

static json_t *payment_plaintext(const wxpay_merchant_t *m, const wxpay_notify_t *ev, int *bad)
{
    json_t *pt = json_object(), *amount = json_object(), *payer = json_object();
    put(pt, "mchid", json_string(m->mchid), bad);
    put(pt, "appid", json_string(m->appid), bad);
    put(pt, "out_trade_no", json_string(ev->out_trade_no), bad);
    put(pt, "transaction_id", json_string(ev->transaction_id), bad);
    put(pt, "trade_type", json_string("JSAPI"), bad);
    put(pt, "trade_state", json_string(ev->trade_state), bad);
    put(pt, "trade_state_desc", json_string(strcmp(ev->trade_state, "SUCCESS") == 0 ? "支付成功" : ""), bad);
    put(pt, "bank_type", json_string("OTHERS"), bad);
    put(pt, "attach", json_string(""), bad);
    put_text(pt, "success_time", ev->success_time, bad);
    put_text(payer, "openid", ev->openid, bad);
    put(pt, "payer", payer, bad);
    put(amount, "total", json_integer(ev->total_fen), bad);
    put(amount, "payer_total", json_integer(ev->total_fen), bad);
    put(amount, "currency", json_string(ev->currency), bad);
    put(amount, "payer_currency", json_string(ev->currency), bad);
    put(pt, "amount", amount, bad);
    return pt;
}

static json_t *refund_plaintext(const wxpay_merchant_t *m, const wxpay_notify_t *ev, int *bad)
{
    json_t *pt = json_object(), *amount = json_object();
    put(pt, "mchid", json_string(m->mchid), bad);
    put(pt, "out_trade_no", json_string(ev->out_trade_no), bad);
    put(pt, "transaction_id", json_string(ev->transaction_id), bad);
    put(pt, "out_refund_no", json_string(ev->out_refund_no), bad);
    put(pt, "refund_id", json_string(ev->refund_id), bad);
    put(pt, "refund_status", json_string(ev->refund_status), bad);
    put_text(pt, "success_time", ev->success_time, bad);
    put(pt, "user_received_account", json_string("支付用户零钱"), bad);
    put(amount, "total", json_integer(ev->total_fen), bad);
    put(amount, "refund", json_integer(ev->refund_fen), bad);
    put(amount, "payer_total", json_integer(ev->total_fen), bad);
    put(amount, "payer_refund", json_integer(ev->refund_fen), bad);
    put(pt, "amount", amount, bad);
    return pt;
}

static const char *summary_of(const char *event_type)
{
    if (strcmp(event_type, "TRANSACTION.SUCCESS") == 0)
        return "支付成功";
    if (strcmp(event_type, "REFUND.SUCCESS") == 0)
        return "退款成功";
    if (strcmp(event_type, "REFUND.ABNORMAL") == 0)
        return "退款异常";
    if (strcmp(event_type, "REFUND.CLOSED") == 0)
        return "退款关闭";
    return "";
}

/* The envelope around an already encrypted resource, keys in WeChat's order. */
static json_t *envelope(const wxpay_notify_t *ev, const char *kind, const char *ciphertext, const char *nonce, int *bad)
{
    json_t *doc = json_object(), *res = json_object();
    put(doc, "id", json_string(ev->id), bad);
    put(doc, "create_time", json_string(ev->create_time), bad);
    put(doc, "resource_type", json_string("encrypt-resource"), bad);
    put(doc, "event_type", json_string(ev->event_type), bad);
    put(doc, "summary", json_string(summary_of(ev->event_type)), bad);
    put(res, "original_type", json_string(kind), bad);
    put(res, "algorithm", json_string(ALGORITHM), bad);
    put(res, "ciphertext", json_string(ciphertext), bad);
    put(res, "associated_data", json_string(kind), bad);
    put(res, "nonce", json_string(nonce), bad);
    put(doc, "resource", res, bad);
    return doc;
}

int wxpay_notify_body(const wxpay_merchant_t *m, const wxpay_notify_t *ev, char **body, size_t *len)
{
    int bad = 0, rc = WXPAY_E_INTERNAL;
    const char *kind = ev->kind == WXPAY_KIND_PAYMENT ? "transaction" : "refund";
    char nonce[WXPAY_GCM_NONCE_LEN + 1], *ct = NULL, *pt = NULL;
    json_t *plain = ev->kind == WXPAY_KIND_PAYMENT ? payment_plaintext(m, ev, &bad) : refund_plaintext(m, ev, &bad);
    json_t *doc = NULL;
    *body = NULL;
    if (bad || plain == NULL || (pt = json_dumps(plain, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
        rc = WXPAY_E_ARGUMENT;
        goto out;
    }
    if (wxpay_nonce(nonce, WXPAY_GCM_NONCE_LEN) != WXPAY_OK ||
        (rc = wxpay_aead_seal(m->apiv3_key, nonce, kind, (const unsigned char *)pt, strlen(pt), &ct)) != WXPAY_OK)
        goto out;
    doc = envelope(ev, kind, ct, nonce, &bad);
    if (bad || (*body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER)) == NULL) {
        rc = WXPAY_E_ARGUMENT;
        goto out;
    }
    *len = strlen(*body);
    rc = WXPAY_OK;
out:
    if (pt != NULL)
        OPENSSL_cleanse(pt, strlen(pt));
    free(pt);
    free(ct);
    json_decref(plain);
    json_decref(doc);
    return rc;
}

/* ======================== signing ======================== */

int wxpay_nonce(char *out, size_t n)
{
    static const char alphabet[] = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    unsigned char r[64];
    size_t done = 0;
    while (done < n) {
        if (RAND_bytes(r, sizeof(r)) != 1)
            return WXPAY_E_INTERNAL;
        /* 248 = 4 * 62: bytes above it are dropped so every character is equally likely. */
        for (size_t i = 0; i < sizeof(r) && done < n; i++)
            if (r[i] < 248)
                out[done++] = alphabet[r[i] % 62];
    }
    out[n] = '\0';
    return WXPAY_OK;
}

void wxpay_signed_free(wxpay_signed_t *s)
{
    if (s == NULL)
        return;
    free(s->body);
    s->body = NULL;
    s->body_len = 0;
}

void wxpay_signed_headers(const wxpay_signed_t *s, wxpay_headers_t *h)
{
    h->timestamp = s->timestamp;
    h->nonce = s->nonce;
    h->signature = s->signature;
    h->serial = s->serial;
    h->signature_type = WXPAY_SIGNATURE_TYPE;
}

int wxpay_sign_message(EVP_PKEY *platform_private, const char *serial, int64_t now_s, const char *nonce,
                       const char *body, size_t len, wxpay_signed_t *out)
{
    memset(out, 0, sizeof(*out));
    if (strlen(serial) > WXPAY_SERIAL_MAX || !token_ok(serial, strlen(serial)) || len > WXPAY_BODY_MAX ||
        (nonce != NULL && (strlen(nonce) > WXPAY_NONCE_MAX || !token_ok(nonce, strlen(nonce)))))
        return WXPAY_E_ARGUMENT;
    snprintf(out->timestamp, sizeof(out->timestamp), "%lld", (long long)now_s);
    snprintf(out->serial, sizeof(out->serial), "%s", serial);
    if (nonce != NULL)
        snprintf(out->nonce, sizeof(out->nonce), "%s", nonce);
    else if (wxpay_nonce(out->nonce, NONCE_LEN) != WXPAY_OK)
        return WXPAY_E_INTERNAL;
    if ((out->body = malloc(len + 1)) == NULL)
        return WXPAY_E_INTERNAL;
    memcpy(out->body, body, len);
    out->body[len] = '\0';
    out->body_len = len;
    part_t parts[] = {{out->timestamp, strlen(out->timestamp)}, {out->nonce, strlen(out->nonce)}, {body, len}};
    int rc = sign_parts(platform_private, parts, 3, out->signature, sizeof(out->signature));
    if (rc != WXPAY_OK)
        wxpay_signed_free(out);
    return rc;
}

int wxpay_sign_notify(EVP_PKEY *platform_private, const char *serial, const wxpay_merchant_t *m,
                      const wxpay_notify_t *ev, int64_t now_s, const char *nonce, wxpay_signed_t *out)
{
    char *body = NULL;
    size_t len = 0;
    memset(out, 0, sizeof(*out));
    int rc = wxpay_notify_body(m, ev, &body, &len);
    if (rc == WXPAY_OK)
        rc = wxpay_sign_message(platform_private, serial, now_s, nonce, body, len, out);
    free(body);
    return rc;
}

/* ======================== outbound calls ======================== */

int wxpay_authorization(EVP_PKEY *merchant_private, const char *mchid, const char *serial_no, const char *method,
                        const char *path_and_query, const char *body, int64_t timestamp, const char *nonce, char *out,
                        size_t outlen)
{
    char ts[24], sig[WXPAY_SIG_B64_MAX + 1], rnd[NONCE_LEN + 1];
    if (nonce == NULL) {
        if (wxpay_nonce(rnd, NONCE_LEN) != WXPAY_OK)
            return WXPAY_E_INTERNAL;
        nonce = rnd;
    }
    /* Everything but the body ends up in the header or splits the message at "\n". */
    if (!token_ok(mchid, strlen(mchid)) || !token_ok(serial_no, strlen(serial_no)) ||
        !token_ok(method, strlen(method)) || !token_ok(path_and_query, strlen(path_and_query)) ||
        !token_ok(nonce, strlen(nonce)) || path_and_query[0] != '/' || timestamp < 0)
        return WXPAY_E_ARGUMENT;
    snprintf(ts, sizeof(ts), "%lld", (long long)timestamp);
    const char *parts[] = {method, path_and_query, ts, nonce, body != NULL ? body : ""};
    int rc = wxpay_sign(merchant_private, parts, 5, sig, sizeof(sig));
    if (rc != WXPAY_OK)
        return rc;
    int n = snprintf(out, outlen,
                     WXPAY_SIGNATURE_TYPE
                     " mchid=\"%s\",nonce_str=\"%s\",timestamp=\"%s\",serial_no=\"%s\",signature=\"%s\"",
                     mchid, nonce, ts, serial_no, sig);
    return n > 0 && (size_t)n < outlen ? WXPAY_OK : WXPAY_E_ARGUMENT;
}

int wxpay_pay_sign(EVP_PKEY *merchant_private, const char *appid, const char *timestamp, const char *noncestr,
                   const char *package, char *out, size_t outlen)
{
    if (!token_ok(appid, strlen(appid)) || !token_ok(timestamp, strlen(timestamp)) ||
        !token_ok(noncestr, strlen(noncestr)) || !token_ok(package, strlen(package)))
        return WXPAY_E_ARGUMENT;
    const char *parts[] = {appid, timestamp, noncestr, package};
    return wxpay_sign(merchant_private, parts, 4, out, outlen);
}
