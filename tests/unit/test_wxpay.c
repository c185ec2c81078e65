/* WeChat Pay API v3: notifications verify and decrypt only when every check of PAYMENTS.md
 * passes, each failure answers its own status, and the signing side produces what WeChat
 * sends. Fixed vectors come from outside this code (the openssl CLI, Python's cryptography);
 * the other keys are generated once per run. */
#include <check.h>
#include <jansson.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/b64.h"
#include "models/providers/wxpay.h"
#include "tests/support/testutil.h"
#include "tests/support/testkeys.h"

/* The fixed test key (tests/support/testkeys.c) plays platform key A. */
#define FIXED_PEM T_FIXED_RSA_PEM

/* SHA256withRSA of "1764461645\nkVAbmTc8DhqmXKdWNyKx7Fc3YPi5bsQa\n{"id":"EV-1"}\n" by FIXED_PEM,
 * made with `openssl dgst -sha256 -sign`. */
static const char FIXED_SIG[] =
    "uzomgbmILgdnG6bzNiY1rzaMQw1VUfDmx91Tls/vvDLFaOC6YYfQ2F4/TPv8NHbdsIZOcFD/Ftt4qzpjK4sys7eJqhL8FBSGojveeiX6PODWt5"
    "NgVHxDwaFp+V1yenA5+P9PfcnxWo1C9O0jAdu44gS/J/cf0vB8yVOSZITr9RCH2UaR7kPUX/QgKkQqRd+WaTD/o9aduJU0GUK/HFHxR815Qwgb"
    "KwlKGIjNEnaw3hm1q3O22Yilh400PY2E3SMCiCkzt70gw6D4QAi7WZWO+vGbqPrTZsEBXTZtzyCxmUJLr9OeQ8n13hmw18ZI327JEh49Gc3q0I"
    "mNoi47r1gl3A==";

/* AES-256-GCM of FIXED_PLAIN under the APIv3 key below, nonce "fixedNonce12", AAD
 * "transaction", made with Python's cryptography (AESGCM). */
static const char FIXED_PLAIN[] =
    "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"SF20261130000001\","
    "\"transaction_id\":\"4200001234202611300000000001\",\"trade_state\":\"SUCCESS\",\"success_time\":\"2026-11-30T08:"
    "14:05+08:00\",\"payer\":{\"openid\":\"oUpF8uMuAJO_M2pxb1Q9zNjWeS6o\"},\"amount\":{\"total\":1230,\"currency\":"
    "\"CNY\"}}";
static const char FIXED_CT[] =
    "Zif8h79WzeBB1hXB1QMVgZZIU+oNbw4c0+mn8SYr7BLPbrMfV0NtPJz9wCmis6isIm9mV9ThtT817UOmXmGp2EI/KExYu3ANKL7RMADzfjpN1F"
    "+RhAMha+tzGB0w1EeTft4fR0qJGrCDDafY5e7DIrNtTvFudpsNebtXWYedhOpJjLpH3MTf22pCETgBEf6ZhWUVe/LQ9pCEn+gOWB5pH/dj8KWX5"
    "/TcTKuuYg202mGhDXq4xuDWIfblsNQGqYlJdpdv3YCbLetD0AQXn4TxOR3U+ncVK4nphHKYAHHuWXsCnYuMvPbVdGVSQLihwz4OwBmCQ/Snd3u"
    "Y88u/YitPOLpjoyrA1yFpMgjvZy4sov4kKtUn7xZxMj+WJoTIKUOW2h3JHtgyt4sx8J8W/DiRVQ0qgA==";

#define SERIAL_A "5157F09EFDC096DE15EBE81A47057A7232F1B8E1"
#define SERIAL_B "PUB_KEY_ID_0114232134912410000000000000000000"
#define NOW      1764461645LL

static const unsigned char APIV3[] = "0123456789abcdefghijklmnopqrstuv";
static const unsigned char OTHER_APIV3[] = "vutsrqponmlkjihgfedcba9876543210";
static const wxpay_merchant_t OURS = {"1900000100", "wxd678efh567hg6787", APIV3};

/* Made once before the tests fork: A (fixed) and B are the platform's keys during a
 * rotation, C is nobody's platform key (it plays the merchant's own key and an attacker). */
static EVP_PKEY *key_a, *key_b, *key_c;
static wxpay_keys_t *keys;

/* The public half of key as PEM text (malloc'd). */
static char *public_pem(EVP_PKEY *key)
{
    BIO *bio = BIO_new(BIO_s_mem());
    char *data = NULL, *copy;
    ck_assert_int_eq(PEM_write_bio_PUBKEY(bio, key), 1);
    long n = BIO_get_mem_data(bio, &data);
    copy = strndup(data, (size_t)n);
    BIO_free(bio);
    return copy;
}

static void setup(void)
{
    key_a = wxpay_private_key_pem(FIXED_PEM, strlen(FIXED_PEM));
    key_b = EVP_RSA_gen(2048);
    key_c = EVP_RSA_gen(2048);
    keys = wxpay_keys_new();
    ck_assert(key_a != NULL && key_b != NULL && key_c != NULL && keys != NULL);
    char *pa = public_pem(key_a), *pb = public_pem(key_b);
    ck_assert_int_eq(wxpay_keys_add_pem(keys, SERIAL_A, pa, strlen(pa)), WXPAY_OK);
    ck_assert_int_eq(wxpay_keys_add_pem(keys, SERIAL_B, pb, strlen(pb)), WXPAY_OK);
    free(pa);
    free(pb);
}

static void teardown(void)
{
    wxpay_keys_free(keys);
    EVP_PKEY_free(key_a);
    EVP_PKEY_free(key_b);
    EVP_PKEY_free(key_c);
}

static wxpay_notify_t payment(void)
{
    wxpay_notify_t ev;
    memset(&ev, 0, sizeof(ev));
    ev.kind = WXPAY_KIND_PAYMENT;
    snprintf(ev.id, sizeof(ev.id), "EV-2018022511223320873");
    snprintf(ev.event_type, sizeof(ev.event_type), "TRANSACTION.SUCCESS");
    snprintf(ev.create_time, sizeof(ev.create_time), "2026-11-30T08:14:06+08:00");
    snprintf(ev.out_trade_no, sizeof(ev.out_trade_no), "SF20261130000001");
    snprintf(ev.transaction_id, sizeof(ev.transaction_id), "4200001234202611300000000001");
    snprintf(ev.trade_state, sizeof(ev.trade_state), "SUCCESS");
    snprintf(ev.success_time, sizeof(ev.success_time), "2026-11-30T08:14:05+08:00");
    snprintf(ev.currency, sizeof(ev.currency), "CNY");
    snprintf(ev.openid, sizeof(ev.openid), "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    ev.total_fen = 1230;
    ev.refund_fen = -1;
    return ev;
}

static wxpay_notify_t refund(const char *event_type, const char *status, const char *success_time)
{
    wxpay_notify_t ev = payment();
    ev.kind = WXPAY_KIND_REFUND;
    snprintf(ev.id, sizeof(ev.id), "EV-2018022511223320874");
    snprintf(ev.event_type, sizeof(ev.event_type), "%s", event_type);
    snprintf(ev.out_refund_no, sizeof(ev.out_refund_no), "SFR20261130000001");
    snprintf(ev.refund_id, sizeof(ev.refund_id), "50200207182018070300011301001");
    snprintf(ev.refund_status, sizeof(ev.refund_status), "%s", status);
    snprintf(ev.success_time, sizeof(ev.success_time), "%s", success_time);
    ev.trade_state[0] = ev.currency[0] = ev.openid[0] = '\0';
    ev.refund_fen = 500;
    return ev;
}

static void sign_as(EVP_PKEY *key, const char *serial, const wxpay_merchant_t *m, const wxpay_notify_t *ev,
                    wxpay_signed_t *s)
{
    ck_assert_int_eq(wxpay_sign_notify(key, serial, m, ev, NOW, NULL, s), WXPAY_OK);
}

static int verify_h(const wxpay_headers_t *h, const char *body, size_t len, int64_t now, wxpay_notify_t *out)
{
    char err[256] = "";
    int rc = wxpay_verify_notify(keys, &OURS, h, body, len, now, out, err, sizeof(err));
    ck_assert_msg((rc == WXPAY_OK) == (err[0] == '\0'), "an error line exactly when refused: %d %s", rc, err);
    if (rc != WXPAY_OK) /* a refusal leaves nothing to act on */
        ck_assert_msg(out->id[0] == '\0' && out->total_fen == -1 && out->kind == 0, "out cleared");
    return rc;
}

static int verify_at(const wxpay_signed_t *s, int64_t now, wxpay_notify_t *out)
{
    wxpay_headers_t h;
    wxpay_signed_headers(s, &h);
    return verify_h(&h, s->body, s->body_len, now, out);
}

/* Replaces s's body by doc (stolen) and signs it again with key, same time and nonce: a
 * message the platform really signed, with a body that is wrong in some other way. */
static void resign(wxpay_signed_t *s, EVP_PKEY *key, json_t *doc)
{
    char *body = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER), serial[WXPAY_SERIAL_MAX + 1],
         nonce[WXPAY_NONCE_MAX + 1];
    int64_t ts = strtoll(s->timestamp, NULL, 10);
    ck_assert_ptr_nonnull(body);
    snprintf(serial, sizeof(serial), "%s", s->serial);
    snprintf(nonce, sizeof(nonce), "%s", s->nonce);
    wxpay_signed_free(s);
    ck_assert_int_eq(wxpay_sign_message(key, serial, ts, nonce, body, strlen(body), s), WXPAY_OK);
    free(body);
    json_decref(doc);
}

/* Sets (or with NULL, deletes) resource[field] or, top-level, doc[field], and re-signs. */
static void rewrite(wxpay_signed_t *s, int in_resource, const char *field, json_t *value)
{
    json_t *doc = json_loads(s->body, 0, NULL);
    json_t *obj = in_resource ? json_object_get(doc, "resource") : doc;
    ck_assert_ptr_nonnull(obj);
    if (value != NULL)
        ck_assert_int_eq(json_object_set_new(obj, field, value), 0);
    else
        ck_assert_int_eq(json_object_del(obj, field), 0);
    resign(s, key_a, doc);
}

/* The decoded resource.ciphertext of s (malloc'd) and its length. */
static unsigned char *ciphertext_of(const wxpay_signed_t *s, size_t *n)
{
    json_t *doc = json_loads(s->body, 0, NULL);
    const char *ct = json_string_value(json_object_get(json_object_get(doc, "resource"), "ciphertext"));
    ck_assert_ptr_nonnull(ct);
    unsigned char *raw = malloc(B64_DECODED_MAX(strlen(ct)));
    ck_assert_int_eq(b64_decode(ct, strlen(ct), raw, B64_DECODED_MAX(strlen(ct)), n), B64_OK);
    json_decref(doc);
    return raw;
}

static json_t *b64_json(const unsigned char *raw, size_t n)
{
    char *text = malloc(B64_ENCODED_LEN(n) + 1);
    ck_assert_int_eq(b64_encode(raw, n, text, B64_ENCODED_LEN(n) + 1, NULL), B64_OK);
    json_t *v = json_string(text);
    free(text);
    return v;
}

/* Replaces the resource by plaintext sealed under APIV3 with AAD "transaction", re-signs. */
static void replace_plaintext(wxpay_signed_t *s, const char *plaintext)
{
    char *ct = NULL;
    ck_assert_int_eq(
        wxpay_aead_seal(APIV3, "abcdefghijkl", "transaction", (const unsigned char *)plaintext, strlen(plaintext), &ct),
        WXPAY_OK);
    json_t *doc = json_loads(s->body, 0, NULL);
    json_t *res = json_object_get(doc, "resource");
    json_object_set_new(res, "ciphertext", json_string(ct));
    json_object_set_new(res, "nonce", json_string("abcdefghijkl"));
    free(ct);
    resign(s, key_a, doc);
}

/* Verifies b64sig over msg with key using OpenSSL directly, not through wxpay.c. */
static int openssl_verifies(EVP_PKEY *key, const char *msg, const char *b64sig)
{
    unsigned char sig[600];
    size_t n = strlen(b64sig), pad = n > 0 && b64sig[n - 1] == '=' ? 1 + (n > 1 && b64sig[n - 2] == '=') : 0;
    int len = EVP_DecodeBlock(sig, (const unsigned char *)b64sig, (int)n) - (int)pad;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    int ok = EVP_DigestVerifyInit_ex(ctx, NULL, "SHA256", NULL, NULL, key, NULL) == 1 &&
             EVP_DigestVerify(ctx, sig, (size_t)len, (const unsigned char *)msg, strlen(msg)) == 1;
    EVP_MD_CTX_free(ctx);
    return ok;
}

/* ---------------------------------------------------------------- */

START_TEST(test_a_valid_payment_notification_verifies_and_decrypts)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    ck_assert_int_eq(out.kind, WXPAY_KIND_PAYMENT);
    ck_assert_str_eq(out.id, "EV-2018022511223320873");
    ck_assert_str_eq(out.event_type, "TRANSACTION.SUCCESS");
    ck_assert_str_eq(out.create_time, "2026-11-30T08:14:06+08:00");
    ck_assert_str_eq(out.out_trade_no, "SF20261130000001");
    ck_assert_str_eq(out.transaction_id, "4200001234202611300000000001");
    ck_assert_str_eq(out.trade_state, "SUCCESS");
    ck_assert_str_eq(out.success_time, "2026-11-30T08:14:05+08:00");
    ck_assert_str_eq(out.currency, "CNY");
    ck_assert_str_eq(out.openid, "oUpF8uMuAJO_M2pxb1Q9zNjWeS6o");
    ck_assert_int_eq(out.total_fen, 1230);
    ck_assert_int_eq(out.refund_fen, -1);
    ck_assert_str_eq(out.out_refund_no, "");
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_refund_notifications_of_every_kind_verify_and_decrypt)
{
    static const struct {
        const char *event, *status, *time;
    } v[] = {{"REFUND.SUCCESS", "SUCCESS", "2026-11-30T09:00:00+08:00"},
             {"REFUND.ABNORMAL", "ABNORMAL", ""},
             {"REFUND.CLOSED", "CLOSED", ""}};
    for (size_t i = 0; i < 3; i++) {
        wxpay_notify_t ev = refund(v[i].event, v[i].status, v[i].time), out;
        wxpay_signed_t s;
        sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
        ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
        ck_assert_int_eq(out.kind, WXPAY_KIND_REFUND);
        ck_assert_str_eq(out.event_type, v[i].event);
        ck_assert_str_eq(out.refund_status, v[i].status);
        ck_assert_str_eq(out.success_time, v[i].time);
        ck_assert_str_eq(out.out_refund_no, "SFR20261130000001");
        ck_assert_str_eq(out.refund_id, "50200207182018070300011301001");
        ck_assert_str_eq(out.out_trade_no, "SF20261130000001");
        ck_assert_int_eq(out.refund_fen, 500);
        ck_assert_int_eq(out.total_fen, 1230);
        ck_assert_str_eq(out.trade_state, "");
        wxpay_signed_free(&s);
    }
}
END_TEST

START_TEST(test_a_notification_built_outside_this_code_verifies)
{
    /* The resource comes from Python's AES-GCM, the signature check from the openssl CLI
     * vector: the formats agree with the standard, not only with themselves. */
    unsigned char *pt = NULL;
    size_t n = 0;
    char sig[WXPAY_SIG_B64_MAX + 1];
    const char *parts[] = {"1764461645", "kVAbmTc8DhqmXKdWNyKx7Fc3YPi5bsQa", "{\"id\":\"EV-1\"}"};
    ck_assert_int_eq(wxpay_sign(key_a, parts, 3, sig, sizeof(sig)), WXPAY_OK);
    ck_assert_str_eq(sig, FIXED_SIG);
    wxpay_headers_t h = {"1764461645", "kVAbmTc8DhqmXKdWNyKx7Fc3YPi5bsQa", FIXED_SIG, SERIAL_A, NULL};
    ck_assert_int_eq(wxpay_verify_signature(keys, &h, "{\"id\":\"EV-1\"}", 13, NOW, NULL, 0), WXPAY_OK);
    ck_assert_int_eq(wxpay_aead_open(APIV3, "fixedNonce12", "transaction", FIXED_CT, strlen(FIXED_CT), &pt, &n),
                     WXPAY_OK);
    ck_assert_uint_eq(n, strlen(FIXED_PLAIN));
    ck_assert_str_eq((char *)pt, FIXED_PLAIN);
    free(pt);
    char *again = NULL;
    ck_assert_int_eq(wxpay_aead_seal(APIV3, "fixedNonce12", "transaction", (const unsigned char *)FIXED_PLAIN,
                                     strlen(FIXED_PLAIN), &again),
                     WXPAY_OK);
    ck_assert_str_eq(again, FIXED_CT);
    free(again);

    json_t *doc =
        json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:s, s:s, s:s, s:s, s:s}}", "id", "EV-1", "create_time",
                  "2026-11-30T08:14:06+08:00", "resource_type", "encrypt-resource", "event_type", "TRANSACTION.SUCCESS",
                  "summary", "支付成功", "resource", "original_type", "transaction", "algorithm", "AEAD_AES_256_GCM",
                  "ciphertext", FIXED_CT, "associated_data", "transaction", "nonce", "fixedNonce12");
    char *body = json_dumps(doc, JSON_COMPACT);
    wxpay_signed_t s;
    wxpay_notify_t out;
    ck_assert_int_eq(wxpay_sign_message(key_a, SERIAL_A, NOW, NULL, body, strlen(body), &s), WXPAY_OK);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    ck_assert_str_eq(out.out_trade_no, "SF20261130000001");
    ck_assert_int_eq(out.total_fen, 1230);
    wxpay_signed_free(&s);
    free(body);
    json_decref(doc);
}
END_TEST

START_TEST(test_the_signed_notification_is_in_wechats_layout)
{
    wxpay_notify_t ev = payment();
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    const char *b = s.body;
    ck_assert_msg(strncmp(b,
                          "{\"id\":\"EV-2018022511223320873\",\"create_time\":\"2026-11-30T08:14:06+08:00\","
                          "\"resource_type\":\"encrypt-resource\",\"event_type\":\"TRANSACTION.SUCCESS\","
                          "\"summary\":\"支付成功\",\"resource\":{\"original_type\":\"transaction\","
                          "\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"",
                          strlen("{\"id\":\"EV-2018022511223320873\",\"create_time\":\"2026-11-30T08:14:06+08:00\","
                                 "\"resource_type\":\"encrypt-resource\",\"event_type\":\"TRANSACTION.SUCCESS\","
                                 "\"summary\":\"支付成功\",\"resource\":{\"original_type\":\"transaction\","
                                 "\"algorithm\":\"AEAD_AES_256_GCM\",\"ciphertext\":\"")) == 0,
                  "%s", b);
    ck_assert_ptr_nonnull(strstr(b, "\",\"associated_data\":\"transaction\",\"nonce\":\""));
    ck_assert_uint_eq(s.body_len, strlen(b));
    ck_assert_str_eq(s.timestamp, "1764461645");
    ck_assert_uint_eq(strlen(s.nonce), 32);
    ck_assert_str_eq(s.serial, SERIAL_A);
    ck_assert_uint_eq(strlen(s.signature), 344);
    /* OpenSSL itself agrees that it signs TIMESTAMP\nNONCE\nBODY\n. */
    size_t mlen = strlen(s.timestamp) + strlen(s.nonce) + s.body_len + 4;
    char *msg = malloc(mlen);
    snprintf(msg, mlen, "%s\n%s\n%s\n", s.timestamp, s.nonce, s.body);
    ck_assert(openssl_verifies(key_a, msg, s.signature));
    free(msg);
    /* The resource nonce is 12 random characters, different each time. */
    json_t *doc = json_loads(b, 0, NULL);
    const char *nonce = json_string_value(json_object_get(json_object_get(doc, "resource"), "nonce"));
    ck_assert_uint_eq(strlen(nonce), 12);
    wxpay_signed_t t;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &t);
    ck_assert_str_ne(s.nonce, t.nonce);
    ck_assert_str_ne(s.body, t.body);
    json_decref(doc);
    wxpay_signed_free(&s);
    wxpay_signed_free(&t);
}
END_TEST

START_TEST(test_a_body_tampered_in_one_byte_is_refused)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    size_t at[] = {0, 10, s.body_len / 2, s.body_len - 2, s.body_len - 1};
    for (size_t i = 0; i < sizeof(at) / sizeof(at[0]); i++) {
        s.body[at[i]] ^= 0x01;
        ck_assert_msg(verify_at(&s, NOW, &out) == WXPAY_E_SIGNATURE, "byte %zu", at[i]);
        s.body[at[i]] ^= 0x01;
    }
    /* The signed message ends in "\n": the body without its last byte, or with one more, fails. */
    ck_assert_int_eq(verify_h(&(wxpay_headers_t){s.timestamp, s.nonce, s.signature, s.serial, NULL}, s.body,
                              s.body_len - 1, NOW, &out),
                     WXPAY_E_SIGNATURE);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_tampered_timestamp_and_nonce_headers_are_refused)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    wxpay_headers_t h;
    wxpay_signed_headers(&s, &h);
    h.timestamp = "1764461646"; /* one second later: still fresh, no longer signed */
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    wxpay_signed_headers(&s, &h);
    h.nonce = "kVAbmTc8DhqmXKdWNyKx7Fc3YPi5bsQa";
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_another_keys_signature_is_refused)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_c, SERIAL_A, &OURS, &ev, &s); /* claims A's serial, signed by C */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_SIGNATURE);
    wxpay_signed_free(&s);
    sign_as(key_b, SERIAL_A, &OURS, &ev, &s); /* B is a platform key, but not A */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_SIGNATURE);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_timestamps_more_than_five_minutes_off_are_stale)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    ck_assert_int_eq(verify_at(&s, NOW + 600, &out), WXPAY_E_STALE); /* 10 minutes old */
    ck_assert_int_eq(verify_at(&s, NOW - 600, &out), WXPAY_E_STALE); /* 10 minutes ahead */
    ck_assert_int_eq(verify_at(&s, NOW + 300, &out), WXPAY_OK);
    ck_assert_int_eq(verify_at(&s, NOW - 300, &out), WXPAY_OK);
    ck_assert_int_eq(verify_at(&s, NOW + 301, &out), WXPAY_E_STALE);
    ck_assert_int_eq(verify_at(&s, NOW - 301, &out), WXPAY_E_STALE);
    ck_assert_int_eq(verify_at(&s, 0, &out), WXPAY_E_STALE);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_a_signtest_probe_fails_like_any_bad_signature)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    wxpay_headers_t h;
    wxpay_signed_headers(&s, &h);
    /* WeChat's probe: its prefix is base64 alphabet, so the whole is 344 valid characters. */
    char probe[345];
    snprintf(probe, sizeof(probe), "WECHATPAY/SIGNTEST/%.325s", s.signature + 19);
    ck_assert_uint_eq(strlen(probe), 344);
    h.signature = probe;
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    h.signature = "WECHATPAY/SIGNTEST/MIGNAzOzNdwN1+LjkOt9pA==";
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    /* Valid base64 of 31 bytes: refused for its length before RSA is asked. */
    h.signature = "WECHATPAY/SIGNTEST/MIGNAzOzNdwN1+LjkOt9pAQ==";
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    char err[256] = "";
    ck_assert_int_eq(wxpay_verify_signature(keys, &h, s.body, s.body_len, NOW, err, sizeof(err)), WXPAY_E_SIGNATURE);
    ck_assert_msg(strstr(err, "base64 of 256 bytes") != NULL, "%s", err);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_serials_are_looked_up_case_insensitively_and_unknown_ones_refused)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, "5157f09efdc096de15ebe81a47057a7232f1b8e1", &OURS, &ev, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    wxpay_signed_free(&s);
    sign_as(key_a, "005157F09EFDC096DE15EBE81A47057A7232F1B8E1", &OURS, &ev, &s); /* leading zeros */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    wxpay_signed_free(&s);
    sign_as(key_a, "5157F09EFDC096DE15EBE81A47057A7232F1B8E2", &OURS, &ev, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_SERIAL);
    wxpay_signed_free(&s);
    sign_as(key_b, "pub_key_id_0114232134912410000000000000000000", &OURS, &ev, &s); /* ids are exact */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_SERIAL);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_two_platform_keys_are_valid_at_once_during_rotation)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    wxpay_signed_free(&s);
    sign_as(key_b, SERIAL_B, &OURS, &ev, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    wxpay_signed_free(&s);
    sign_as(key_a, SERIAL_B, &OURS, &ev, &s); /* the serial picks the key: A's signature under B's id */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_SIGNATURE);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_a_corrupted_ciphertext_or_tag_does_not_decrypt)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    size_t n;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    unsigned char *ct = ciphertext_of(&s, &n);
    ct[n / 2] ^= 0x80; /* in the ciphertext */
    rewrite(&s, 1, "ciphertext", b64_json(ct, n));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    ct[n / 2] ^= 0x80;
    ct[n - 1] ^= 0x01; /* in the tag */
    rewrite(&s, 1, "ciphertext", b64_json(ct, n));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    ct[n - 1] ^= 0x01;
    rewrite(&s, 1, "ciphertext", b64_json(ct, n)); /* restored: the rewriting itself is sound */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    rewrite(&s, 1, "ciphertext", json_string("not base64!"));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    free(ct);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_a_ciphertext_without_its_tag_does_not_decrypt)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    size_t n;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    unsigned char *ct = ciphertext_of(&s, &n);
    rewrite(&s, 1, "ciphertext", b64_json(ct, n - 16)); /* tag cut off */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    rewrite(&s, 1, "ciphertext", b64_json(ct, 15)); /* shorter than a tag */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    rewrite(&s, 1, "ciphertext", json_string(""));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    /* Exactly a tag, and a true one: decrypts to nothing, which is no resource. */
    replace_plaintext(&s, "");
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_PLAINTEXT);
    free(ct);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_the_wrong_apiv3_key_does_not_decrypt)
{
    wxpay_merchant_t theirs = {OURS.mchid, OURS.appid, OTHER_APIV3};
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &theirs, &ev, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_the_wrong_associated_data_or_nonce_does_not_decrypt)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    rewrite(&s, 1, "associated_data", json_string("refund"));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    rewrite(&s, 1, "associated_data", NULL); /* absent is empty, which is not what was sealed */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    rewrite(&s, 1, "associated_data", json_string("transaction"));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    rewrite(&s, 1, "nonce", json_string("abcdefghijk")); /* 11 bytes */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    rewrite(&s, 1, "nonce", json_string("abcdefghijkl")); /* 12, not the one used */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_DECRYPT);
    rewrite(&s, 1, "nonce", json_integer(12));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_FORMAT);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_empty_associated_data_is_accepted_when_sealed_empty)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    char *ct = NULL, *pt = NULL;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    json_t *doc = json_loads(s.body, 0, NULL), *res = json_object_get(doc, "resource");
    json_t *plain = json_pack("{s:s, s:s, s:s, s:s, s:s, s:{s:I, s:s}}", "mchid", OURS.mchid, "appid", OURS.appid,
                              "out_trade_no", "SF1", "transaction_id", "42001", "trade_state", "SUCCESS", "amount",
                              "total", (json_int_t)1, "currency", "CNY");
    pt = json_dumps(plain, JSON_COMPACT | JSON_PRESERVE_ORDER);
    json_decref(plain);
    ck_assert_ptr_nonnull(pt);
    ck_assert_int_eq(wxpay_aead_seal(APIV3, "123456789012", "", (unsigned char *)pt, strlen(pt), &ct), WXPAY_OK);
    json_object_set_new(res, "ciphertext", json_string(ct));
    json_object_set_new(res, "nonce", json_string("123456789012"));
    json_object_set_new(res, "associated_data", json_string(""));
    resign(&s, key_a, doc);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    ck_assert_str_eq(out.out_trade_no, "SF1");
    ck_assert_str_eq(out.openid, ""); /* payer absent: optional */
    free(ct);
    free(pt);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_another_merchants_notification_is_refused)
{
    wxpay_merchant_t other_mch = {"1900000999", OURS.appid, APIV3},
                     other_app = {OURS.mchid, "wx0000000000000000", APIV3};
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &other_mch, &ev, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_MCHID);
    wxpay_signed_free(&s);
    sign_as(key_a, SERIAL_A, &other_app, &ev, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_APPID);
    wxpay_signed_free(&s);
    /* A refund's resource has no appid: only the mchid is ours to check. */
    wxpay_notify_t r = refund("REFUND.SUCCESS", "SUCCESS", "2026-11-30T09:00:00+08:00");
    sign_as(key_a, SERIAL_A, &other_app, &r, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_OK);
    wxpay_signed_free(&s);
    sign_as(key_a, SERIAL_A, &other_mch, &r, &s);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_MCHID);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_unknown_event_types_and_algorithms_are_refused)
{
    static const char *events[] = {"TRANSACTION.FAIL", "transaction.success", "REFUND.PROCESSING", "PING"};
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    for (size_t i = 0; i < sizeof(events) / sizeof(events[0]); i++) {
        snprintf(ev.event_type, sizeof(ev.event_type), "%s", events[i]);
        sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
        ck_assert_msg(verify_at(&s, NOW, &out) == WXPAY_E_EVENT, "%s", events[i]);
        wxpay_signed_free(&s);
    }
    ev = payment();
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    rewrite(&s, 1, "algorithm", json_string("AEAD_AES_128_GCM"));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_ALGORITHM);
    rewrite(&s, 1, "algorithm", NULL);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_ALGORITHM);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_a_signed_body_that_is_not_a_notification_is_refused)
{
    static const char *bodies[] = {"not json", "[]", "{\"id\":\"EV-1\"}", "{\"id\":\"EV-1\",\"id\":\"EV-2\"}",
                                   "{\"event_type\":\"TRANSACTION.SUCCESS\",\"resource\":{}}"};
    wxpay_notify_t out;
    wxpay_signed_t s;
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        ck_assert_int_eq(wxpay_sign_message(key_a, SERIAL_A, NOW, NULL, bodies[i], strlen(bodies[i]), &s), WXPAY_OK);
        ck_assert_msg(verify_at(&s, NOW, &out) == WXPAY_E_FORMAT, "%s", bodies[i]);
        wxpay_signed_free(&s);
    }
    wxpay_notify_t ev = payment();
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    rewrite(&s, 0, "id", json_integer(7));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_FORMAT);
    rewrite(&s, 0, "id", json_string("EV-1"));
    rewrite(&s, 0, "resource", json_string("x"));
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_FORMAT);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_a_resource_with_missing_or_malformed_fields_is_refused)
{
    static const char *bad[] = {
        "not json",
        "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"transaction_id\":\"42\",\"trade_state\":"
        "\"SUCCESS\",\"amount\":{\"total\":1,\"currency\":\"CNY\"}}", /* no out_trade_no */
        "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"SF1\",\"transaction_id\":"
        "\"42\",\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":12.3,\"currency\":\"CNY\"}}", /* a real */
        "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"SF1\",\"transaction_id\":"
        "\"42\",\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":-1,\"currency\":\"CNY\"}}",
        "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"SF1\",\"transaction_id\":"
        "\"42\",\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":\"1\",\"currency\":\"CNY\"}}",
        "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"SF1\",\"transaction_id\":"
        "\"42\",\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":1}}", /* no currency */
        "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"SF 1\",\"transaction_id\":"
        "\"42\",\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":1,\"currency\":\"CNY\"}}", /* a space in an id */
        "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"SF1\",\"transaction_id\":"
        "\"42\",\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":1,\"currency\":\"CNY\"},\"out_trade_no\":\"SF2\"}",
        "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"SF1\",\"transaction_id\":"
        "\"42\",\"trade_state\":\"SUCCESS\",\"payer\":{\"openid\":\"a\\nb\"},\"amount\":{\"total\":1,\"currency\":"
        "\"CNY\"}}",
    };
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        replace_plaintext(&s, bad[i]);
        ck_assert_msg(verify_at(&s, NOW, &out) == WXPAY_E_PLAINTEXT, "case %zu", i);
    }
    /* Long ids do not overflow anything: refused, not truncated. */
    char big[600];
    snprintf(big, sizeof(big),
             "{\"mchid\":\"1900000100\",\"appid\":\"wxd678efh567hg6787\",\"out_trade_no\":\"%0300d\","
             "\"transaction_id\":\"42\",\"trade_state\":\"SUCCESS\",\"amount\":{\"total\":1,\"currency\":\"CNY\"}}",
             7);
    replace_plaintext(&s, big);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_PLAINTEXT);
    replace_plaintext(&s, "{\"appid\":\"wxd678efh567hg6787\"}"); /* no mchid: not ours */
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_MCHID);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_empty_and_oversized_bodies_are_refused)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    wxpay_headers_t h;
    wxpay_signed_headers(&s, &h);
    ck_assert_int_eq(verify_h(&h, NULL, 0, NOW, &out), WXPAY_E_BODY);
    ck_assert_int_eq(verify_h(&h, "", 0, NOW, &out), WXPAY_E_BODY);
    /* The cap is inclusive: a body of exactly 64 KiB (JSON padded with spaces) is read. */
    char *big = malloc(WXPAY_BODY_MAX + 2);
    memset(big, ' ', WXPAY_BODY_MAX + 1);
    memcpy(big, s.body, s.body_len);
    big[WXPAY_BODY_MAX + 1] = '\0';
    wxpay_signed_t t;
    ck_assert_int_eq(wxpay_sign_message(key_a, SERIAL_A, NOW, NULL, big, WXPAY_BODY_MAX, &t), WXPAY_OK);
    ck_assert_int_eq(verify_at(&t, NOW, &out), WXPAY_OK);
    wxpay_signed_headers(&t, &h);
    ck_assert_int_eq(verify_h(&h, big, WXPAY_BODY_MAX + 1, NOW, &out), WXPAY_E_BODY);
    wxpay_signed_free(&s); /* out is overwritten, not freed, by signing */
    ck_assert_int_eq(wxpay_sign_message(key_a, SERIAL_A, NOW, NULL, big, WXPAY_BODY_MAX + 1, &s), WXPAY_E_ARGUMENT);
    free(big);
    wxpay_signed_free(&s);
    wxpay_signed_free(&t);
}
END_TEST

START_TEST(test_each_missing_or_malformed_header_is_refused)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    wxpay_headers_t h;
    for (int i = 0; i < 8; i++) {
        wxpay_signed_headers(&s, &h);
        const char *gone = i < 4 ? NULL : "";
        switch (i % 4) {
        case 0: h.timestamp = gone; break;
        case 1: h.nonce = gone; break;
        case 2: h.signature = gone; break;
        case 3: h.serial = gone; break;
        }
        ck_assert_msg(verify_h(&h, s.body, s.body_len, NOW, &out) == WXPAY_E_HEADERS, "header %d", i);
    }
    static const char *bad_ts[] = {"-1764461645", "+1764461645", "1764461645 ", "1.7e9", "17644616450000", "0x69"};
    for (size_t i = 0; i < sizeof(bad_ts) / sizeof(bad_ts[0]); i++) {
        wxpay_signed_headers(&s, &h);
        h.timestamp = bad_ts[i];
        ck_assert_msg(verify_h(&h, s.body, s.body_len, NOW, &out) == WXPAY_E_HEADERS, "%s", bad_ts[i]);
    }
    wxpay_signed_headers(&s, &h);
    h.nonce = "abc\ndef"; /* a newline would let the nonce forge the message's framing */
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_HEADERS);
    wxpay_signed_headers(&s, &h);
    h.signature_type = NULL; /* may be absent */
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_OK);
    h.signature_type = "WECHATPAY2-SM2-WITH-SM3";
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE_TYPE);
    h.signature_type = "";
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE_TYPE);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_signatures_of_the_wrong_length_or_padding_are_refused)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    char sig[400];
    sign_as(key_a, SERIAL_A, &OURS, &ev, &s);
    wxpay_headers_t h;
    wxpay_signed_headers(&s, &h);
    h.signature = sig;
    snprintf(sig, sizeof(sig), "%.343s", s.signature); /* 343 */
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    snprintf(sig, sizeof(sig), "%.344sA", s.signature); /* 345 */
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    snprintf(sig, sizeof(sig), "%.344sAAAA", s.signature); /* 348: 259 bytes */
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    snprintf(sig, sizeof(sig), "%.342sA=", s.signature); /* 257 bytes */
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    snprintf(sig, sizeof(sig), "%.340sAA=A", s.signature); /* '=' not at the end */
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    /* right shape, wrong bytes: two characters that differ from the real ones (a fixed "AA"
     * matched them once in 4096 runs) */
    snprintf(sig, sizeof(sig), "%.340s%s==", s.signature, strncmp(s.signature + 340, "AA", 2) == 0 ? "BA" : "AA");
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    snprintf(sig, sizeof(sig), "%.100s\n%.244s", s.signature, s.signature + 100); /* a line break inside */
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SIGNATURE);
    h.signature = s.signature;
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_OK);
    wxpay_signed_free(&s);
}
END_TEST

START_TEST(test_checks_run_in_the_documented_order)
{
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    sign_as(key_c, "ABCDEF", &OURS, &ev, &s); /* unknown serial and a bad signature */
    wxpay_headers_t h;
    wxpay_signed_headers(&s, &h);
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW, &out), WXPAY_E_SERIAL);
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW + 1000, &out), WXPAY_E_STALE);
    h.signature_type = "RSA";
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW + 1000, &out), WXPAY_E_SIGNATURE_TYPE);
    h.nonce = NULL;
    ck_assert_int_eq(verify_h(&h, s.body, s.body_len, NOW + 1000, &out), WXPAY_E_HEADERS);
    ck_assert_int_eq(verify_h(&h, s.body, 0, NOW + 1000, &out), WXPAY_E_BODY);
    wxpay_signed_free(&s);
    /* Bad JSON inside a bad signature is a signature failure: the body is not read first. */
    ck_assert_int_eq(wxpay_sign_message(key_c, SERIAL_A, NOW, NULL, "not json", 8, &s), WXPAY_OK);
    ck_assert_int_eq(verify_at(&s, NOW, &out), WXPAY_E_SIGNATURE);
    wxpay_signed_free(&s);
}
END_TEST

/* A self-signed certificate for key with the serial given in hex, as PEM (malloc'd). */
static char *certificate(EVP_PKEY *key, const char *serial_hex)
{
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    ck_assert_int_gt(BN_hex2bn(&bn, serial_hex), 0);
    ASN1_INTEGER *serial = BN_to_ASN1_INTEGER(bn, NULL);
    X509_set_version(x, 2);
    X509_set_serialNumber(x, serial);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"Tenpay", -1, -1,
                               0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    X509_set_pubkey(x, key);
    ck_assert_int_gt(X509_sign(x, key, EVP_sha256()), 0);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_X509(bio, x);
    char *data = NULL;
    long n = BIO_get_mem_data(bio, &data);
    char *pem = strndup(data, (size_t)n);
    BIO_free(bio);
    ASN1_INTEGER_free(serial);
    BN_free(bn);
    X509_free(x);
    return pem;
}

START_TEST(test_keys_load_from_certificates_under_their_serial)
{
    wxpay_keys_t *k = wxpay_keys_new();
    char serial[WXPAY_SERIAL_MAX + 1];
    char *pem = certificate(key_b, "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567");
    ck_assert_int_eq(wxpay_keys_add_cert(k, pem, strlen(pem), serial, sizeof(serial)), WXPAY_OK);
    ck_assert_str_eq(serial, "0A1B2C3D4E5F60718293A4B5C6D7E8F901234567");
    ck_assert_ptr_nonnull(wxpay_keys_find(k, "0a1b2c3d4e5f60718293a4b5c6d7e8f901234567"));
    ck_assert_ptr_nonnull(wxpay_keys_find(k, "A1B2C3D4E5F60718293A4B5C6D7E8F901234567")); /* as Go prints it */
    ck_assert_ptr_null(wxpay_keys_find(k, "0A1B2C3D4E5F60718293A4B5C6D7E8F901234568"));
    ck_assert_ptr_null(wxpay_keys_find(k, SERIAL_A));
    ck_assert_int_eq(wxpay_keys_add_cert(k, pem, strlen(pem), NULL, 0), WXPAY_E_KEY); /* already there */
    ck_assert_int_eq(wxpay_keys_add_cert(k, pem, 40, NULL, 0), WXPAY_E_KEY);          /* cut short */
    ck_assert_int_eq(wxpay_keys_add_cert(k, FIXED_PEM, strlen(FIXED_PEM), NULL, 0), WXPAY_E_KEY);
    free(pem);
    /* The key really is the certificate's: B's notification verifies under that serial. */
    wxpay_notify_t ev = payment(), out;
    wxpay_signed_t s;
    wxpay_headers_t h;
    sign_as(key_b, "a1b2c3d4e5f60718293a4b5c6d7e8f901234567", &OURS, &ev, &s);
    wxpay_signed_headers(&s, &h);
    ck_assert_int_eq(wxpay_verify_notify(k, &OURS, &h, s.body, s.body_len, NOW, &out, NULL, 0), WXPAY_OK);
    wxpay_signed_free(&s);
    wxpay_keys_free(k);
}
END_TEST

START_TEST(test_unusable_keys_and_serials_are_refused_at_loading)
{
    wxpay_keys_t *k = wxpay_keys_new();
    EVP_PKEY *ec = EVP_EC_gen("P-256"), *small = EVP_RSA_gen(1024);
    static const char *bad_serials[] = {"",
                                        "XYZ",
                                        "PUB_KEY_ID_",
                                        "PUB_KEY_ID_12-3",
                                        "12 34",
                                        "-1234",
                                        "00000000000000000000000000000000000000000000000000000000000000001"};
    for (size_t i = 0; i < sizeof(bad_serials) / sizeof(bad_serials[0]); i++)
        ck_assert_msg(wxpay_keys_add(k, bad_serials[i], key_a) == WXPAY_E_KEY, "%s", bad_serials[i]);
    ck_assert_int_eq(wxpay_keys_add(k, NULL, key_a), WXPAY_E_KEY);
    ck_assert_int_eq(wxpay_keys_add(k, "01", ec), WXPAY_E_KEY);
    ck_assert_int_eq(wxpay_keys_add(k, "01", small), WXPAY_E_KEY);
    ck_assert_int_eq(wxpay_keys_add_pem(k, "01", "-----BEGIN PUBLIC KEY-----\nAAAA\n-----END PUBLIC KEY-----\n", 58),
                     WXPAY_E_KEY);
    ck_assert_int_eq(wxpay_keys_add(k, "ab", key_a), WXPAY_OK);
    ck_assert_int_eq(wxpay_keys_add(k, "AB", key_b), WXPAY_E_KEY); /* the same serial */
    for (int i = 1; i < WXPAY_KEYS_MAX; i++) {
        char serial[8];
        snprintf(serial, sizeof(serial), "%d", i);
        ck_assert_int_eq(wxpay_keys_add(k, serial, key_b), WXPAY_OK);
    }
    ck_assert_int_eq(wxpay_keys_add(k, "99", key_b), WXPAY_E_KEY); /* full */
    ck_assert_ptr_eq(wxpay_keys_find(k, "Ab"), key_a);
    ck_assert_ptr_null(wxpay_private_key_pem("garbage", 7));
    EVP_PKEY_free(ec);
    EVP_PKEY_free(small);
    wxpay_keys_free(k); /* drops its references: the keys stay usable */
    ck_assert_int_eq(EVP_PKEY_get_bits(key_a), 2048);
    wxpay_keys_free(NULL);
}
END_TEST

/* The value of name="..." in an Authorization header, into out. */
static void auth_field(const char *auth, const char *name, char *out, size_t len)
{
    char key[32];
    snprintf(key, sizeof(key), "%s=\"", name);
    const char *p = strstr(auth, key);
    ck_assert_ptr_nonnull(p);
    p += strlen(key);
    const char *q = strchr(p, '"');
    ck_assert_ptr_nonnull(q);
    snprintf(out, len, "%.*s", (int)(q - p), p);
}

START_TEST(test_the_authorization_header_signs_the_request)
{
    static const char body[] =
        "{\"appid\":\"wxd678efh567hg6787\",\"mchid\":\"1900000100\",\"amount\":{\"total\":1230}}";
    char auth[1024], sig[700], msg[512];
    ck_assert_int_eq(wxpay_authorization(key_c, "1900000100", "3775B6A45ACD588826D15E583A95F5DD", "POST",
                                         "/v3/pay/transactions/jsapi", body, NOW, "593BEC0C930BF1AFEB40B4A08C8FB242",
                                         auth, sizeof(auth)),
                     WXPAY_OK);
    static const char prefix[] =
        "WECHATPAY2-SHA256-RSA2048 mchid=\"1900000100\",nonce_str=\"593BEC0C930BF1AFEB40B4A08C8"
        "FB242\",timestamp=\"1764461645\",serial_no=\"3775B6A45ACD588826D15E583A95F5DD\","
        "signature=\"";
    ck_assert_msg(strncmp(auth, prefix, strlen(prefix)) == 0, "%s", auth);
    ck_assert_int_eq(auth[strlen(auth) - 1], '"');
    auth_field(auth, "signature", sig, sizeof(sig));
    ck_assert_uint_eq(strlen(sig), 344);
    snprintf(msg, sizeof(msg), "POST\n/v3/pay/transactions/jsapi\n1764461645\n593BEC0C930BF1AFEB40B4A08C8FB242\n%s\n",
             body);
    ck_assert(openssl_verifies(key_c, msg, sig));
    ck_assert(!openssl_verifies(key_a, msg, sig));
    /* A GET signs an empty body: the message ends in two newlines. */
    ck_assert_int_eq(wxpay_authorization(key_c, "1900000100", "3775B6A4", "GET",
                                         "/v3/pay/transactions/out-trade-no/SF1?mchid=1900000100", NULL, NOW, "n1",
                                         auth, sizeof(auth)),
                     WXPAY_OK);
    auth_field(auth, "signature", sig, sizeof(sig));
    ck_assert(openssl_verifies(key_c, "GET\n/v3/pay/transactions/out-trade-no/SF1?mchid=1900000100\n1764461645\nn1\n\n",
                               sig));
    /* A random nonce when none is given. */
    ck_assert_int_eq(wxpay_authorization(key_c, "1900000100", "AB", "GET", "/v3/x", "", NOW, NULL, auth, sizeof(auth)),
                     WXPAY_OK);
    auth_field(auth, "nonce_str", msg, sizeof(msg));
    ck_assert_uint_eq(strlen(msg), 32);
    /* Nothing that could break out of the quotes or the message framing. */
    ck_assert_int_eq(wxpay_authorization(key_c, "19\"00", "AB", "GET", "/v3/x", "", NOW, "n", auth, sizeof(auth)),
                     WXPAY_E_ARGUMENT);
    ck_assert_int_eq(wxpay_authorization(key_c, "1900", "AB", "GET", "/v3/x\n", "", NOW, "n", auth, sizeof(auth)),
                     WXPAY_E_ARGUMENT);
    ck_assert_int_eq(wxpay_authorization(key_c, "1900", "AB", "GET", "v3/x", "", NOW, "n", auth, sizeof(auth)),
                     WXPAY_E_ARGUMENT);
    ck_assert_int_eq(wxpay_authorization(key_c, "1900", "AB", "GET", "/v3/x", "", NOW, "a b", auth, sizeof(auth)),
                     WXPAY_E_ARGUMENT);
    ck_assert_int_eq(wxpay_authorization(key_c, "1900", "AB", "GET", "/v3/x", "", NOW, "n", auth, 100),
                     WXPAY_E_ARGUMENT);
}
END_TEST

START_TEST(test_pay_sign_signs_appid_timestamp_nonce_and_package)
{
    char sig[WXPAY_SIG_B64_MAX + 1];
    ck_assert_int_eq(wxpay_pay_sign(key_c, "wxd678efh567hg6787", "1764461645", "5K8264ILTKCH16CQ2502SI8ZNMTM67VS",
                                    "prepay_id=wx201410272009395522657a690389285100", sig, sizeof(sig)),
                     WXPAY_OK);
    ck_assert(openssl_verifies(key_c,
                               "wxd678efh567hg6787\n1764461645\n5K8264ILTKCH16CQ2502SI8ZNMTM67VS\n"
                               "prepay_id=wx201410272009395522657a690389285100\n",
                               sig));
    ck_assert_int_eq(wxpay_pay_sign(key_c, "wx", "1", "n\n", "prepay_id=1", sig, sizeof(sig)), WXPAY_E_ARGUMENT);
    ck_assert_int_eq(wxpay_pay_sign(key_c, "wx", "1", "n", "prepay_id=1", sig, 300), WXPAY_E_ARGUMENT);
}
END_TEST

START_TEST(test_nonces_are_random_letters_and_digits)
{
    char a[33], b[33];
    ck_assert_int_eq(wxpay_nonce(a, 32), WXPAY_OK);
    ck_assert_int_eq(wxpay_nonce(b, 32), WXPAY_OK);
    ck_assert_uint_eq(strlen(a), 32);
    ck_assert_uint_eq(strspn(a, "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"), 32);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(wxpay_nonce(a, 0), WXPAY_OK);
    ck_assert_str_eq(a, "");
}
END_TEST

START_TEST(test_every_status_has_a_name)
{
    for (int rc = WXPAY_OK; rc >= WXPAY_E_INTERNAL; rc--)
        ck_assert_str_ne(wxpay_status_str(rc), "unknown status");
    ck_assert_str_eq(wxpay_status_str(1), "unknown status");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("wxpay");
    TCase *tc = tcase_create("wxpay");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_a_valid_payment_notification_verifies_and_decrypts);
    tcase_add_test(tc, test_refund_notifications_of_every_kind_verify_and_decrypt);
    tcase_add_test(tc, test_a_notification_built_outside_this_code_verifies);
    tcase_add_test(tc, test_the_signed_notification_is_in_wechats_layout);
    tcase_add_test(tc, test_a_body_tampered_in_one_byte_is_refused);
    tcase_add_test(tc, test_tampered_timestamp_and_nonce_headers_are_refused);
    tcase_add_test(tc, test_another_keys_signature_is_refused);
    tcase_add_test(tc, test_timestamps_more_than_five_minutes_off_are_stale);
    tcase_add_test(tc, test_a_signtest_probe_fails_like_any_bad_signature);
    tcase_add_test(tc, test_serials_are_looked_up_case_insensitively_and_unknown_ones_refused);
    tcase_add_test(tc, test_two_platform_keys_are_valid_at_once_during_rotation);
    tcase_add_test(tc, test_a_corrupted_ciphertext_or_tag_does_not_decrypt);
    tcase_add_test(tc, test_a_ciphertext_without_its_tag_does_not_decrypt);
    tcase_add_test(tc, test_the_wrong_apiv3_key_does_not_decrypt);
    tcase_add_test(tc, test_the_wrong_associated_data_or_nonce_does_not_decrypt);
    tcase_add_test(tc, test_empty_associated_data_is_accepted_when_sealed_empty);
    tcase_add_test(tc, test_another_merchants_notification_is_refused);
    tcase_add_test(tc, test_unknown_event_types_and_algorithms_are_refused);
    tcase_add_test(tc, test_a_signed_body_that_is_not_a_notification_is_refused);
    tcase_add_test(tc, test_a_resource_with_missing_or_malformed_fields_is_refused);
    tcase_add_test(tc, test_empty_and_oversized_bodies_are_refused);
    tcase_add_test(tc, test_each_missing_or_malformed_header_is_refused);
    tcase_add_test(tc, test_signatures_of_the_wrong_length_or_padding_are_refused);
    tcase_add_test(tc, test_checks_run_in_the_documented_order);
    tcase_add_test(tc, test_keys_load_from_certificates_under_their_serial);
    tcase_add_test(tc, test_unusable_keys_and_serials_are_refused_at_loading);
    tcase_add_test(tc, test_the_authorization_header_signs_the_request);
    tcase_add_test(tc, test_pay_sign_signs_appid_timestamp_nonce_and_package);
    tcase_add_test(tc, test_nonces_are_random_letters_and_digits);
    tcase_add_test(tc, test_every_status_has_a_name);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
