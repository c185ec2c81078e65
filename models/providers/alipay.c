/*
 * Alipay RSA2 (see alipay.h). Banners separate the form, the signing string, verification,
 * the signing side and key loading.
 *
 * The form is decoded once into one buffer of raw bytes and everything after works on those
 * bytes with explicit lengths: the signing string is built from them exactly (no charset
 * conversion: a gbk notification is verified over its gbk bytes), and fields are copied out
 * only after the signature verified. Signatures are checked by OpenSSL (exactly 1 means
 * valid); nothing here compares secrets. Private key text is cleansed after decoding.
 */
#include <openssl/crypto.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <openssl/x509.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "models/providers/alipay.h"
#include "models/base/b64.h"
#include "models/base/money.h"
#include "models/providers/rsasig.h"

#define RAW_SIG_MAX (ALIPAY_SIG_B64_MAX / 4 * 3)

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

const char *alipay_status_str(int status)
{
    switch (status) {
    case ALIPAY_OK: return "ok";
    case ALIPAY_E_BODY: return "body missing or too large";
    case ALIPAY_E_FORM: return "malformed form body";
    case ALIPAY_E_DUPLICATE: return "duplicate parameter";
    case ALIPAY_E_CHARSET: return "unsupported charset";
    case ALIPAY_E_SIGN_TYPE: return "unsupported sign_type";
    case ALIPAY_E_SIGNATURE: return "signature does not verify";
    case ALIPAY_E_APP_ID: return "app_id is not ours";
    case ALIPAY_E_SELLER_ID: return "seller_id is not ours";
    case ALIPAY_E_FIELDS: return "fields missing or malformed";
    case ALIPAY_E_KEY: return "key unusable";
    case ALIPAY_E_ARGUMENT: return "argument unusable";
    case ALIPAY_E_INTERNAL: return "internal error";
    default: return "unknown status";
    }
}

/* ======================== the form ======================== */

static int hexval(char c)
{
    return c >= '0' && c <= '9'   ? c - '0'
           : c >= 'a' && c <= 'f' ? c - 'a' + 10
           : c >= 'A' && c <= 'F' ? c - 'A' + 10
                                  : -1;
}

/* Percent-decodes n bytes of s into out (at most n bytes, then a NUL); *outn the length. */
static int pct_decode(const char *s, size_t n, char *out, size_t *outn)
{
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '+') {
            out[w++] = ' ';
        } else if (s[i] == '%') {
            int hi = i + 2 < n ? hexval(s[i + 1]) : -1;
            int lo = i + 2 < n ? hexval(s[i + 2]) : -1;
            if (hi < 0 || lo < 0)
                return ALIPAY_E_FORM;
            out[w++] = (char)(hi << 4 | lo);
            i += 2;
        } else {
            out[w++] = s[i];
        }
    }
    out[w] = '\0';
    *outn = w;
    return ALIPAY_OK;
}

const alipay_param_t *alipay_form_get(const alipay_form_t *f, const char *key)
{
    size_t n = strlen(key);
    for (size_t i = 0; i < f->n; i++)
        if (f->p[i].key_len == n && memcmp(f->p[i].key, key, n) == 0)
            return &f->p[i];
    return NULL;
}

/* Decodes one non-empty "k=v" pair of n bytes at s into the form, writing at *w. */
static int add_pair(alipay_form_t *f, const char *s, size_t n, char **w)
{
    const char *eq = memchr(s, '=', n); /* the FIRST '=': base64 values end in '=' */
    size_t klen = eq != NULL ? (size_t)(eq - s) : n;
    alipay_param_t *p = &f->p[f->n];
    if (klen == 0 || f->n == ALIPAY_PARAMS_MAX)
        return ALIPAY_E_FORM;
    p->key = *w;
    if (pct_decode(s, klen, *w, &p->key_len) != ALIPAY_OK)
        return ALIPAY_E_FORM;
    *w += p->key_len + 1;
    p->value = *w;
    if (pct_decode(eq != NULL ? eq + 1 : s + n, eq != NULL ? n - klen - 1 : 0, *w, &p->value_len) != ALIPAY_OK)
        return ALIPAY_E_FORM;
    *w += p->value_len + 1;
    for (size_t i = 0; i < f->n; i++)
        if (f->p[i].key_len == p->key_len && memcmp(f->p[i].key, p->key, p->key_len) == 0)
            return ALIPAY_E_DUPLICATE;
    f->n++;
    return ALIPAY_OK;
}

int alipay_form_parse(const char *body, size_t len, alipay_form_t *f)
{
    memset(f, 0, sizeof(*f));
    if (body == NULL || len == 0 || len > ALIPAY_BODY_MAX)
        return ALIPAY_E_BODY;
    /* A pair decodes to at most its own length plus two NULs. */
    if ((f->buf = malloc(len + 2 * ALIPAY_PARAMS_MAX + 2)) == NULL)
        return ALIPAY_E_INTERNAL;
    char *w = f->buf;
    for (size_t i = 0; i <= len;) {
        const char *amp = memchr(body + i, '&', len - i);
        size_t end = amp != NULL ? (size_t)(amp - body) : len;
        if (end > i) {
            int rc = add_pair(f, body + i, end - i, &w);
            if (rc != ALIPAY_OK)
                return rc;
        }
        i = end + 1;
    }
    return ALIPAY_OK;
}

void alipay_form_free(alipay_form_t *f)
{
    if (f == NULL)
        return;
    free(f->buf);
    f->buf = NULL;
    f->n = 0;
}

/* ======================== the signing string ======================== */

static int by_key_bytes(const void *a, const void *b)
{
    const alipay_param_t *x = *(const alipay_param_t *const *)a, *y = *(const alipay_param_t *const *)b;
    size_t n = x->key_len < y->key_len ? x->key_len : y->key_len;
    int c = memcmp(x->key, y->key, n);
    return c != 0 ? c : x->key_len < y->key_len ? -1 : x->key_len > y->key_len ? 1 : 0;
}

static int is_key(const alipay_param_t *p, const char *key)
{
    return p->key_len == strlen(key) && memcmp(p->key, key, p->key_len) == 0;
}

/* Sorted "k=v&..." of the non-empty parameters except sign (and sign_type unless keep). */
static int join_sorted(const alipay_param_t *p, size_t n, int keep_sign_type, char **out, size_t *len)
{
    const alipay_param_t *use[ALIPAY_PARAMS_MAX];
    size_t m = 0, total = 0, w = 0;
    *out = NULL;
    if (n > ALIPAY_PARAMS_MAX)
        return ALIPAY_E_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (p[i].value_len > 0 && !is_key(&p[i], "sign") && (keep_sign_type || !is_key(&p[i], "sign_type"))) {
            use[m++] = &p[i];
            total += p[i].key_len + p[i].value_len + 2;
        }
    qsort(use, m, sizeof(use[0]), by_key_bytes);
    if ((*out = malloc(total + 1)) == NULL)
        return ALIPAY_E_INTERNAL;
    for (size_t i = 0; i < m; i++) {
        if (i > 0)
            (*out)[w++] = '&';
        memcpy(*out + w, use[i]->key, use[i]->key_len);
        w += use[i]->key_len;
        (*out)[w++] = '=';
        memcpy(*out + w, use[i]->value, use[i]->value_len);
        w += use[i]->value_len;
    }
    (*out)[w] = '\0';
    *len = w;
    return ALIPAY_OK;
}

int alipay_signing_string(const alipay_form_t *f, char **out, size_t *len)
{
    return join_sorted(f->p, f->n, 0, out, len);
}

/* ======================== SHA256withRSA ======================== */

/* The algorithm itself is models/rsasig.c's; these name its verdicts in Alipay's terms. */
static int rsa_verify(EVP_PKEY *pub, const char *msg, size_t len, const unsigned char *sig, size_t siglen)
{
    rsasig_part_t part = {msg, len};
    int rc = rsasig_verify(pub, &part, 1, NULL, sig, siglen);
    return rc == RSASIG_OK ? ALIPAY_OK : rc == RSASIG_E_INVALID ? ALIPAY_E_SIGNATURE : ALIPAY_E_INTERNAL;
}

static int rsa_sign(EVP_PKEY *key, const char *msg, size_t len, char *sig, size_t siglen)
{
    rsasig_part_t part = {msg, len};
    int rc = rsasig_sign(key, &part, 1, NULL, sig, siglen);
    return rc == RSASIG_OK ? ALIPAY_OK : rc == RSASIG_E_SPACE ? ALIPAY_E_ARGUMENT : ALIPAY_E_INTERNAL;
}

/* ======================== verifying a notification ======================== */

/* f[key] into dst (cap bytes): printable ASCII (spaces allowed), shorter than cap. Absent or
 * empty: "" if optional, else -1. */
static int take(const alipay_form_t *f, const char *key, char *dst, size_t cap, int required)
{
    const alipay_param_t *p = alipay_form_get(f, key);
    dst[0] = '\0';
    if (p == NULL || p->value_len == 0)
        return required ? -1 : 0;
    if (p->value_len >= cap)
        return -1;
    for (size_t i = 0; i < p->value_len; i++)
        if ((unsigned char)p->value[i] < 0x20 || (unsigned char)p->value[i] > 0x7e)
            return -1;
    memcpy(dst, p->value, p->value_len + 1);
    return 0;
}

static int value_is(const alipay_param_t *p, const char *want)
{
    return p != NULL && want != NULL && p->value_len == strlen(want) && memcmp(p->value, want, p->value_len) == 0;
}

/* Checks charset, sign_type and the signature itself. */
static int check_signature(EVP_PKEY *pub, const alipay_form_t *f, char *err, size_t errlen)
{
    const alipay_param_t *cs = alipay_form_get(f, "charset"), *sign = alipay_form_get(f, "sign");
    unsigned char sig[RAW_SIG_MAX];
    size_t siglen = 0, len = 0;
    char *msg = NULL;
    if (cs == NULL || cs->value_len != strlen(cs->value) ||
        (strcasecmp(cs->value, "utf-8") != 0 && strcasecmp(cs->value, "gbk") != 0))
        return fail(err, errlen, ALIPAY_E_CHARSET, "charset missing or not utf-8/gbk");
    if (!value_is(alipay_form_get(f, "sign_type"), "RSA2"))
        return fail(err, errlen, ALIPAY_E_SIGN_TYPE, "sign_type missing or not RSA2");
    if (sign == NULL || sign->value_len == 0 || sign->value_len > ALIPAY_SIG_B64_MAX ||
        b64_decode(sign->value, sign->value_len, sig, sizeof(sig), &siglen) != B64_OK)
        return fail(err, errlen, ALIPAY_E_SIGNATURE, "sign missing or not base64");
    int rc = join_sorted(f->p, f->n, 0, &msg, &len);
    if (rc == ALIPAY_OK)
        rc = rsa_verify(pub, msg, len, sig, siglen);
    free(msg);
    if (rc != ALIPAY_OK)
        return fail(err, errlen, rc, "sign does not verify with Alipay's key");
    return ALIPAY_OK;
}

/* An amount field parsed exactly; absent is -1 when optional. */
static int take_fen(const alipay_form_t *f, const char *key, int64_t *fen, int required)
{
    const alipay_param_t *p = alipay_form_get(f, key);
    *fen = -1;
    if (p == NULL || p->value_len == 0)
        return required ? -1 : 0;
    return money_parse_yuan(p->value, p->value_len, fen) == MONEY_OK ? 0 : -1;
}

static int take_fields(const alipay_form_t *f, alipay_notify_t *out)
{
    if (take(f, "notify_id", out->notify_id, sizeof(out->notify_id), 1) != 0 ||
        take(f, "notify_type", out->notify_type, sizeof(out->notify_type), 0) != 0 ||
        take(f, "notify_time", out->notify_time, sizeof(out->notify_time), 0) != 0 ||
        take(f, "charset", out->charset, sizeof(out->charset), 1) != 0 ||
        take(f, "out_trade_no", out->out_trade_no, sizeof(out->out_trade_no), 1) != 0 ||
        take(f, "trade_no", out->trade_no, sizeof(out->trade_no), 1) != 0 ||
        take(f, "trade_status", out->trade_status, sizeof(out->trade_status), 1) != 0 ||
        take(f, "buyer_id", out->buyer_id, sizeof(out->buyer_id), 0) != 0 ||
        take(f, "gmt_payment", out->gmt_payment, sizeof(out->gmt_payment), 0) != 0 ||
        take(f, "gmt_refund", out->gmt_refund, sizeof(out->gmt_refund), 0) != 0 ||
        take(f, "out_biz_no", out->out_biz_no, sizeof(out->out_biz_no), 0) != 0 ||
        take_fen(f, "total_amount", &out->total_fen, 1) != 0 || take_fen(f, "refund_fee", &out->refund_fen, 0) != 0)
        return -1;
    out->has_refund = out->refund_fen >= 0;
    return 0;
}

static void notify_clear(alipay_notify_t *n)
{
    memset(n, 0, sizeof(*n));
    n->total_fen = -1;
    n->refund_fen = -1;
}

int alipay_verify_notify(EVP_PKEY *alipay_public, const char *body, size_t len, const alipay_expect_t *e,
                         alipay_notify_t *out, char *err, size_t errlen)
{
    alipay_form_t f;
    notify_clear(out);
    int rc = alipay_form_parse(body, len, &f);
    if (rc != ALIPAY_OK) {
        fail(err, errlen, rc, "body is not a usable form: %s", alipay_status_str(rc));
    } else if ((rc = check_signature(alipay_public, &f, err, errlen)) != ALIPAY_OK) {
        /* err written */
    } else if (!value_is(alipay_form_get(&f, "app_id"), e->app_id)) {
        rc = fail(err, errlen, ALIPAY_E_APP_ID, "app_id is not ours");
    } else if (!value_is(alipay_form_get(&f, "seller_id"), e->seller_id)) {
        rc = fail(err, errlen, ALIPAY_E_SELLER_ID, "seller_id is not ours");
    } else if (take_fields(&f, out) != 0) {
        rc = fail(err, errlen, ALIPAY_E_FIELDS, "a field is missing or malformed (ids, trade_status, amounts)");
    }
    if (rc != ALIPAY_OK)
        notify_clear(out);
    alipay_form_free(&f);
    return rc;
}

/* ======================== signing ======================== */

/* kv as parameters (lengths from strlen); ALIPAY_E_ARGUMENT on a duplicate or empty key. */
static int to_params(const alipay_kv_t *kv, size_t n, alipay_param_t *p)
{
    for (size_t i = 0; i < n; i++) {
        p[i] = (alipay_param_t){kv[i].key, kv[i].value, strlen(kv[i].key), strlen(kv[i].value)};
        if (p[i].key_len == 0)
            return ALIPAY_E_ARGUMENT;
        for (size_t j = 0; j < i; j++)
            if (p[j].key_len == p[i].key_len && memcmp(p[j].key, p[i].key, p[i].key_len) == 0)
                return ALIPAY_E_ARGUMENT;
    }
    return ALIPAY_OK;
}

static int unreserved(unsigned char c)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.' ||
           c == '_' || c == '*';
}

/* Appends s form-encoded at out + *w (out is large enough). */
static void pct_encode(const char *s, char *out, size_t *w)
{
    static const char hex[] = "0123456789ABCDEF";
    for (const unsigned char *c = (const unsigned char *)s; *c != '\0'; c++) {
        if (unreserved(*c)) {
            out[(*w)++] = (char)*c;
        } else if (*c == ' ') {
            out[(*w)++] = '+';
        } else {
            out[(*w)++] = '%';
            out[(*w)++] = hex[*c >> 4];
            out[(*w)++] = hex[*c & 15];
        }
    }
}

int alipay_form_encode(const alipay_kv_t *params, size_t n, char **body, size_t *len)
{
    size_t cap = 1, w = 0;
    for (size_t i = 0; i < n; i++)
        cap += 3 * (strlen(params[i].key) + strlen(params[i].value)) + 2;
    if ((*body = malloc(cap)) == NULL)
        return ALIPAY_E_INTERNAL;
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            (*body)[w++] = '&';
        pct_encode(params[i].key, *body, &w);
        (*body)[w++] = '=';
        pct_encode(params[i].value, *body, &w);
    }
    (*body)[w] = '\0';
    *len = w;
    return ALIPAY_OK;
}

static int reserved_in(const alipay_kv_t *params, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (strcmp(params[i].key, "sign") == 0 || strcmp(params[i].key, "sign_type") == 0 ||
            strcmp(params[i].key, "charset") == 0)
            return 1;
    return 0;
}

int alipay_sign_params(EVP_PKEY *private_key, const alipay_kv_t *params, size_t n, const char *charset, char **body,
                       size_t *len)
{
    alipay_kv_t kv[ALIPAY_PARAMS_MAX];
    alipay_param_t p[ALIPAY_PARAMS_MAX];
    char sig[ALIPAY_SIG_B64_MAX + 1], *msg = NULL;
    size_t msglen = 0;
    *body = NULL;
    if (n + 3 > ALIPAY_PARAMS_MAX || reserved_in(params, n))
        return ALIPAY_E_ARGUMENT;
    memcpy(kv, params, n * sizeof(*params));
    kv[n] = (alipay_kv_t){"charset", charset};
    kv[n + 1] = (alipay_kv_t){"sign_type", "RSA2"};
    int rc = to_params(kv, n + 2, p);
    if (rc == ALIPAY_OK)
        rc = join_sorted(p, n + 2, 0, &msg, &msglen);
    if (rc == ALIPAY_OK)
        rc = rsa_sign(private_key, msg, msglen, sig, sizeof(sig));
    free(msg);
    if (rc != ALIPAY_OK)
        return rc;
    kv[n + 2] = (alipay_kv_t){"sign", sig};
    return alipay_form_encode(kv, n + 3, body, len);
}

int alipay_sign_request(EVP_PKEY *private_key, const alipay_kv_t *params, size_t n, char *sign, size_t signlen)
{
    alipay_param_t p[ALIPAY_PARAMS_MAX];
    char *msg = NULL;
    size_t msglen = 0;
    if (n > ALIPAY_PARAMS_MAX)
        return ALIPAY_E_ARGUMENT;
    for (size_t i = 0; i < n; i++)
        if (strcmp(params[i].key, "sign") == 0)
            return ALIPAY_E_ARGUMENT;
    int rc = to_params(params, n, p);
    if (rc == ALIPAY_OK)
        rc = join_sorted(p, n, 1, &msg, &msglen);
    if (rc == ALIPAY_OK)
        rc = rsa_sign(private_key, msg, msglen, sign, signlen);
    free(msg);
    return rc;
}

/* ======================== keys ======================== */

static int no_passphrase(char *buf, int size, int rwflag, void *u)
{
    return 0;
}

/* The DER under bare base64 text (whitespace dropped) into a malloc'd *der; 0 or -1 (then
 * nothing to free). The caller cleanses and frees *der. */
static int bare_der(const char *text, size_t len, unsigned char **der, size_t *derlen)
{
    char *b64 = malloc(len + 1);
    size_t n = 0;
    int rc = -1;
    *der = NULL;
    if (b64 == NULL)
        return -1;
    for (size_t i = 0; i < len; i++)
        if (text[i] != ' ' && text[i] != '\t' && text[i] != '\r' && text[i] != '\n')
            b64[n++] = text[i];
    if (n >= 4 && (*der = malloc(B64_DECODED_MAX(n))) != NULL)
        rc = b64_decode(b64, n, *der, B64_DECODED_MAX(n), derlen) == B64_OK ? 0 : -1;
    if (rc != 0 && *der != NULL) {
        OPENSSL_cleanse(*der, B64_DECODED_MAX(n));
        free(*der);
        *der = NULL;
    }
    OPENSSL_cleanse(b64, len);
    free(b64);
    return rc;
}

static int is_pem(const char *text, size_t len)
{
    return memmem(text, len, "-----BEGIN ", 11) != NULL;
}

/* Only RSA keys sign RSA2. */
static EVP_PKEY *rsa_only(EVP_PKEY *key)
{
    if (key != NULL && !EVP_PKEY_is_a(key, "RSA")) {
        EVP_PKEY_free(key);
        return NULL;
    }
    return key;
}

EVP_PKEY *alipay_public_key(const char *text, size_t len)
{
    EVP_PKEY *key = NULL;
    unsigned char *der = NULL;
    size_t derlen = 0;
    if (text == NULL || len == 0 || len > ALIPAY_KEY_TEXT_MAX)
        return NULL;
    if (is_pem(text, len)) {
        BIO *bio = BIO_new_mem_buf(text, (int)len);
        key = bio != NULL ? PEM_read_bio_PUBKEY(bio, NULL, no_passphrase, NULL) : NULL;
        BIO_free(bio);
    } else if (bare_der(text, len, &der, &derlen) == 0) {
        const unsigned char *p = der;
        key = d2i_PUBKEY(NULL, &p, (long)derlen);
        if (key != NULL && p != der + derlen) { /* trailing bytes: not what we were given */
            EVP_PKEY_free(key);
            key = NULL;
        }
    }
    free(der);
    return rsa_only(key);
}

EVP_PKEY *alipay_private_key(const char *text, size_t len)
{
    EVP_PKEY *key = NULL;
    unsigned char *der = NULL;
    size_t derlen = 0;
    if (text == NULL || len == 0 || len > ALIPAY_KEY_TEXT_MAX)
        return NULL;
    if (is_pem(text, len)) {
        BIO *bio = BIO_new_mem_buf(text, (int)len);
        key = bio != NULL ? PEM_read_bio_PrivateKey(bio, NULL, no_passphrase, NULL) : NULL;
        BIO_free(bio);
    } else if (bare_der(text, len, &der, &derlen) == 0) {
        const unsigned char *p = der;
        key = d2i_AutoPrivateKey(NULL, &p, (long)derlen); /* PKCS#8 or PKCS#1 */
    }
    if (der != NULL)
        OPENSSL_cleanse(der, derlen);
    free(der);
    return rsa_only(key);
}
