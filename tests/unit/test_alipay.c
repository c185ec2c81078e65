/* Alipay RSA2: the form decodes into the bytes Alipay signed, the signing string follows
 * Alipay's rule, notifications verify in utf-8 and gbk, and every tampering, escaping and
 * decoding mistake listed in PAYMENTS.md is refused. The fixed vectors were signed with the
 * openssl CLI, not with this code. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/providers/alipay.h"
#include "models/base/b64.h"
#include "tests/support/testutil.h"
#include "tests/support/testkeys.h"

/* The fixed test key (tests/support/testkeys.c) plays Alipay's key. */
#define FIXED_PEM T_FIXED_RSA_PEM

#define APP_ID    "2021000000000001"
#define SELLER_ID "2088000000000001"

/* A gbk notification signed by `openssl dgst -sha256 -sign` over the GBK bytes of its
 * signing string (subject is 买菜, C2 F2 B2 CB in GBK), form-encoded by hand. */
static const char GBK_BODY[] =
    "notify_time=2026-11-30+08%3A14%3A06&notify_type=trade_status_sync&notify_id=N20261130001&app_id=" APP_ID
    "&charset=gbk&version=1.0&sign_type=RSA2&sign=QtrH%2BImjHh9y2XkJBQSyf8tCpBoP0Qljij5BQZCDorjxXfi5u1dKXtqOBeUexPvFzn"
    "3r7Bys5oovFEtJ3rwG4bcCEPoWSknwde3Rbs8%2BvpA%2FE398QJ1N6Je0K5Cj6GHX6wiEr5AmO5Mh9xkQx95eZve7osXKHmWQkKK8paexKL5D90"
    "AP2sC90I9UVZuN5pzTvnRxuTSWoWKHyVV531ILucUk6U48hVYdlVz0IsqRbYhLXRxgbRUYgfvNdOnCF66o0tQ0ebiZ6KOEecpodSO7l%2BeWxAIU"
    "tgfii6kbG2FK%2BbMbLj3SkDxvUk8SzTjjOJPotJOKUSxk3NH30TOXXGFuzw%3D%3D&trade_no=2026113022001400001&out_trade_no="
    "SF20261130000001&seller_id=" SELLER_ID "&trade_status=TRADE_SUCCESS&total_amount=12.30&gmt_payment=2026-11-30+08%"
    "3A14%3A05&subject=%C2%F2%B2%CB";

/* The sign of a request with these parameters, by the openssl CLI over
 * app_id=...&biz_content=...&charset=utf-8&method=alipay.trade.query&sign_type=RSA2&... */
static const char REQUEST_SIGN[] =
    "u6ZQJXJSv5EyKBzEroQ5BqiyfQFjBNdyJU+jKJNe7x1LElN5jzi1CWuX/w2avPfoJU6jKDIwyEgJftavMsrdBbLsNKvJHmtR7YvqvcIe/8IDiRQw"
    "BN50RDUhfmjWzteV0tbTPG43/26m5tFUqa3iXyrgiEnUppamna8m0DX2ezZg/h3VjauChu3gXEn8D41hAqkqyHlvbL9fgPdxLh3ysDXVCec3TY2QP"
    "rd6fASlyuT1S4KLI1L/7yf1jz0Dg4s8hQZFTWynFCZJlXtIWjC9QbhTgDJFM4kLTi8J03e8BLG3C1khPNgk6NgJJdYKVlngQiyXyGRq13+Wx8GgIjR"
    "sBg==";

static const alipay_expect_t EXPECT = {APP_ID, SELLER_ID};

/* Made before the tests fork: Alipay's key pair (its public half loaded from bare base64, as
 * Alipay's console hands it out) and another key (the app's own, or an attacker's). */
static EVP_PKEY *alipay_priv, *alipay_pub, *other_key;

/* The bare base64 of key's public DER (malloc'd). */
static char *bare_public(EVP_PKEY *key)
{
    unsigned char *der = NULL;
    int n = i2d_PUBKEY(key, &der);
    ck_assert_int_gt(n, 0);
    char *b64 = malloc(B64_ENCODED_LEN((size_t)n) + 1);
    ck_assert_int_eq(b64_encode(der, (size_t)n, b64, B64_ENCODED_LEN((size_t)n) + 1, NULL), B64_OK);
    OPENSSL_free(der);
    return b64;
}

static void setup(void)
{
    alipay_priv = alipay_private_key(FIXED_PEM, strlen(FIXED_PEM));
    ck_assert_ptr_nonnull(alipay_priv);
    char *bare = bare_public(alipay_priv);
    alipay_pub = alipay_public_key(bare, strlen(bare));
    free(bare);
    other_key = EVP_RSA_gen(2048);
    ck_assert(alipay_pub != NULL && other_key != NULL);
}

static void teardown(void)
{
    EVP_PKEY_free(alipay_priv);
    EVP_PKEY_free(alipay_pub);
    EVP_PKEY_free(other_key);
}

/* A trade_status_sync as Alipay sends it; subject in UTF-8, body empty (so not signed). */
static const alipay_kv_t BASE[] = {
    {"notify_time", "2026-11-30 08:14:06"},
    {"notify_type", "trade_status_sync"},
    {"notify_id", "N20261130001"},
    {"app_id", APP_ID},
    {"version", "1.0"},
    {"trade_no", "2026113022001400001"},
    {"out_trade_no", "SF20261130000001"},
    {"buyer_id", "2088102177846880"},
    {"seller_id", SELLER_ID},
    {"trade_status", "TRADE_SUCCESS"},
    {"total_amount", "12.30"},
    {"receipt_amount", "12.30"},
    {"gmt_payment", "2026-11-30 08:14:05"},
    {"subject", "买菜"},
    {"body", ""},
};
#define NBASE (sizeof(BASE) / sizeof(BASE[0]))

/* BASE with key set to value (appended if new; removed if value is NULL), signed with
 * signer in charset: the form body (malloc'd). */
static char *notify_with(EVP_PKEY *signer, const char *charset, const char *key, const char *value)
{
    alipay_kv_t kv[NBASE + 1];
    size_t n = 0;
    int found = 0;
    for (size_t i = 0; i < NBASE; i++) {
        if (key != NULL && strcmp(BASE[i].key, key) == 0) {
            found = 1;
            if (value == NULL)
                continue;
            kv[n++] = (alipay_kv_t){key, value};
        } else {
            kv[n++] = BASE[i];
        }
    }
    if (key != NULL && !found && value != NULL)
        kv[n++] = (alipay_kv_t){key, value};
    char *body = NULL;
    size_t len = 0;
    ck_assert_int_eq(alipay_sign_params(signer, kv, n, charset, &body, &len), ALIPAY_OK);
    ck_assert_uint_eq(len, strlen(body));
    return body;
}

static char *notify(void)
{
    return notify_with(alipay_priv, "utf-8", NULL, NULL);
}

static int verify(const char *body, alipay_notify_t *out)
{
    char err[256] = "";
    int rc = alipay_verify_notify(alipay_pub, body, strlen(body), &EXPECT, out, err, sizeof(err));
    ck_assert_msg((rc == ALIPAY_OK) == (err[0] == '\0'), "an error line exactly when refused: %d %s", rc, err);
    if (rc != ALIPAY_OK)
        ck_assert_msg(out->out_trade_no[0] == '\0' && out->total_fen == -1, "out cleared");
    return rc;
}

/* s with the first `from` replaced by `to` (malloc'd); from must be there. */
static char *replace(const char *s, const char *from, const char *to)
{
    const char *at = strstr(s, from);
    ck_assert_msg(at != NULL, "%s not in %s", from, s);
    size_t n = strlen(s) - strlen(from) + strlen(to) + 1;
    char *r = malloc(n);
    snprintf(r, n, "%.*s%s%s", (int)(at - s), s, to, at + strlen(from));
    return r;
}

/* body with the pair key=... given raw_value (still encoded), or removed if NULL (malloc'd). */
static char *set_raw(const char *body, const char *key, const char *raw_value)
{
    size_t klen = strlen(key), n = strlen(body);
    const char *p = body;
    while (p != NULL && !(strncmp(p, key, klen) == 0 && p[klen] == '=')) {
        p = strchr(p, '&');
        p = p != NULL ? p + 1 : NULL;
    }
    ck_assert_msg(p != NULL, "%s not in body", key);
    const char *end = strchr(p, '&');
    char *r = malloc(n + (raw_value != NULL ? strlen(raw_value) : 0) + klen + 2);
    if (raw_value != NULL)
        sprintf(r, "%.*s%s=%s%s", (int)(p - body), body, key, raw_value, end != NULL ? end : "");
    else if (end != NULL)
        sprintf(r, "%.*s%s", (int)(p - body), body, end + 1);
    else
        sprintf(r, "%.*s", p > body ? (int)(p - body - 1) : 0, body);
    return r;
}

/* The decoded value of key in a form body, or "(absent)". */
static void form_value(const char *body, const char *key, char *out, size_t len)
{
    alipay_form_t f;
    ck_assert_int_eq(alipay_form_parse(body, strlen(body), &f), ALIPAY_OK);
    const alipay_param_t *p = alipay_form_get(&f, key);
    snprintf(out, len, "%s", p != NULL ? p->value : "(absent)");
    alipay_form_free(&f);
}

/* ---------------------------------------------------------------- */

START_TEST(test_a_valid_utf8_notification_verifies)
{
    alipay_notify_t out;
    char *body = notify();
    ck_assert_int_eq(verify(body, &out), ALIPAY_OK);
    ck_assert_str_eq(out.notify_id, "N20261130001");
    ck_assert_str_eq(out.notify_type, "trade_status_sync");
    ck_assert_str_eq(out.notify_time, "2026-11-30 08:14:06");
    ck_assert_str_eq(out.charset, "utf-8");
    ck_assert_str_eq(out.out_trade_no, "SF20261130000001");
    ck_assert_str_eq(out.trade_no, "2026113022001400001");
    ck_assert_str_eq(out.trade_status, "TRADE_SUCCESS");
    ck_assert_str_eq(out.buyer_id, "2088102177846880");
    ck_assert_str_eq(out.gmt_payment, "2026-11-30 08:14:05");
    ck_assert_str_eq(out.gmt_refund, "");
    ck_assert_int_eq(out.total_fen, 1230);
    ck_assert_int_eq(out.has_refund, 0);
    ck_assert_int_eq(out.refund_fen, -1);
    /* What went over the wire: a space as '+', the rest %XX, the sign with its '=' escaped. */
    ck_assert_ptr_nonnull(strstr(body, "gmt_payment=2026-11-30+08%3A14%3A05"));
    ck_assert_ptr_nonnull(strstr(body, "subject=%E4%B9%B0%E8%8F%9C"));
    ck_assert_ptr_nonnull(strstr(body, "sign_type=RSA2"));
    ck_assert_ptr_nonnull(strstr(body, "charset=utf-8"));
    free(body);
}
END_TEST

START_TEST(test_a_gbk_notification_verifies_over_its_raw_bytes)
{
    alipay_notify_t out;
    ck_assert_int_eq(verify(GBK_BODY, &out), ALIPAY_OK);
    ck_assert_str_eq(out.charset, "gbk");
    ck_assert_int_eq(out.total_fen, 1230);
    /* The signing string carries the GBK bytes themselves. */
    alipay_form_t f;
    char *s = NULL;
    size_t n = 0;
    ck_assert_int_eq(alipay_form_parse(GBK_BODY, strlen(GBK_BODY), &f), ALIPAY_OK);
    ck_assert_int_eq(alipay_signing_string(&f, &s, &n), ALIPAY_OK);
    ck_assert_ptr_nonnull(strstr(s, "&subject=\xc2\xf2\xb2\xcb&"));
    ck_assert_ptr_null(strstr(s, "sign"));
    free(s);
    alipay_form_free(&f);
    /* Transcoded to UTF-8 before verifying (the mistake others made): refused. */
    char *utf8 = replace(GBK_BODY, "subject=%C2%F2%B2%CB", "subject=%E4%B9%B0%E8%8F%9C");
    ck_assert_int_eq(verify(utf8, &out), ALIPAY_E_SIGNATURE);
    free(utf8);
    /* Our signer signs gbk bytes the same way. */
    char *ours = notify_with(alipay_priv, "gbk", "subject", "\xc2\xf2\xb2\xcb");
    ck_assert_int_eq(verify(ours, &out), ALIPAY_OK);
    ck_assert_ptr_nonnull(strstr(ours, "subject=%C2%F2%B2%CB"));
    free(ours);
}
END_TEST

START_TEST(test_a_tampered_amount_is_refused)
{
    alipay_notify_t out;
    char *body = notify();
    char *t = replace(body, "total_amount=12.30", "total_amount=0.01");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGNATURE);
    free(t);
    t = replace(body, "out_trade_no=SF20261130000001", "out_trade_no=SF20261130000002");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGNATURE);
    free(t);
    t = replace(body, "subject=%E4%B9%B0", "subject=%E5%B9%B0");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGNATURE);
    free(t);
    /* An empty parameter is not signed, so adding or dropping one changes nothing... */
    t = replace(body, "&body=", "&extra=&body=");
    ck_assert_int_eq(verify(t, &out), ALIPAY_OK);
    free(t);
    /* ...but giving it a value does. */
    t = replace(body, "&body=", "&body=x");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGNATURE);
    free(t);
    free(body);
}
END_TEST

START_TEST(test_a_value_html_escaped_after_signing_is_refused)
{
    alipay_notify_t out;
    char *body = notify_with(alipay_priv, "utf-8", "subject", "A&B");
    ck_assert_int_eq(verify(body, &out), ALIPAY_OK);
    char *t = replace(body, "subject=A%26B", "subject=A%26amp%3BB");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGNATURE);
    free(t);
    t = replace(body, "subject=A%26B", "subject=A&amp;B");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGNATURE);
    free(t);
    free(body);
}
END_TEST

START_TEST(test_a_plus_is_decoded_as_a_space)
{
    alipay_notify_t out;
    char v[64];
    /* Signed with a space; the body carries '+': a verifier that did not decode it fails. */
    char *body = notify_with(alipay_priv, "utf-8", "subject", "buy vegetables");
    ck_assert_ptr_nonnull(strstr(body, "subject=buy+vegetables"));
    form_value(body, "subject", v, sizeof(v));
    ck_assert_str_eq(v, "buy vegetables");
    ck_assert_int_eq(verify(body, &out), ALIPAY_OK);
    free(body);
    /* Signed with a real '+': it must travel as %2B; sent raw it decodes to a space. */
    body = notify_with(alipay_priv, "utf-8", "subject", "a+b");
    ck_assert_ptr_nonnull(strstr(body, "subject=a%2Bb"));
    ck_assert_int_eq(verify(body, &out), ALIPAY_OK);
    char *t = replace(body, "subject=a%2Bb", "subject=a+b");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGNATURE);
    free(t);
    free(body);
}
END_TEST

START_TEST(test_an_equals_sign_inside_the_sign_is_kept)
{
    alipay_notify_t out;
    char *body = notify(), sign[600];
    form_value(body, "sign", sign, sizeof(sign));
    ck_assert_uint_eq(strlen(sign), 344);
    ck_assert_str_eq(sign + 342, "=="); /* 256 bytes of signature end in two '=' */
    /* Senders that leave '=' unescaped: split on the first '=' only, and it still verifies. */
    char *raw = replace(body, "%3D%3D", "==");
    ck_assert_int_eq(verify(raw, &out), ALIPAY_OK);
    /* A sign that lost its padding, or has it in the middle, is not base64. */
    char *lost = replace(body, "%3D%3D", "");
    ck_assert_int_eq(verify(lost, &out), ALIPAY_E_SIGNATURE);
    char *moved = replace(raw, "==", "");
    char *mid = replace(moved, "sign=", "sign==="); /* value "==..." */
    ck_assert_int_eq(verify(mid, &out), ALIPAY_E_SIGNATURE);
    free(raw);
    free(lost);
    free(moved);
    free(mid);
    free(body);
}
END_TEST

START_TEST(test_another_app_or_seller_is_refused)
{
    alipay_notify_t out;
    char *body = notify_with(alipay_priv, "utf-8", "app_id", "2021000000000002");
    ck_assert_int_eq(verify(body, &out), ALIPAY_E_APP_ID);
    free(body);
    body = notify_with(alipay_priv, "utf-8", "app_id", NULL);
    ck_assert_int_eq(verify(body, &out), ALIPAY_E_APP_ID);
    free(body);
    body = notify_with(alipay_priv, "utf-8", "seller_id", "2088000000000002");
    ck_assert_int_eq(verify(body, &out), ALIPAY_E_SELLER_ID);
    free(body);
    body = notify_with(alipay_priv, "utf-8", "seller_id", NULL);
    ck_assert_int_eq(verify(body, &out), ALIPAY_E_SELLER_ID);
    free(body);
    body = notify_with(alipay_priv, "utf-8", "seller_id", SELLER_ID "0"); /* a prefix is not equal */
    ck_assert_int_eq(verify(body, &out), ALIPAY_E_SELLER_ID);
    free(body);
}
END_TEST

START_TEST(test_a_signature_by_another_key_is_refused)
{
    /* E.g. the app's own key instead of Alipay's. */
    alipay_notify_t out;
    char *body = notify_with(other_key, "utf-8", NULL, NULL);
    ck_assert_int_eq(verify(body, &out), ALIPAY_E_SIGNATURE);
    free(body);
}
END_TEST

START_TEST(test_only_utf8_and_gbk_charsets_are_accepted)
{
    alipay_notify_t out;
    char *body = notify_with(alipay_priv, "big5", NULL, NULL);
    ck_assert_int_eq(verify(body, &out), ALIPAY_E_CHARSET);
    free(body);
    body = notify_with(alipay_priv, "UTF-8", NULL, NULL);
    ck_assert_int_eq(verify(body, &out), ALIPAY_OK);
    free(body);
    body = notify();
    char *t = replace(body, "charset=utf-8&", "");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_CHARSET);
    free(t);
    t = replace(body, "charset=utf-8", "charset=utf-8%00");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_CHARSET);
    free(t);
    free(body);
}
END_TEST

START_TEST(test_a_missing_or_unusable_sign_is_refused)
{
    static const char *bad[] = {NULL, "", "%21%21%21%21", "AAAA", "QUJD%0A"};
    alipay_notify_t out;
    char *body = notify(), *t;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        t = set_raw(body, "sign", bad[i]);
        ck_assert_msg(verify(t, &out) == ALIPAY_E_SIGNATURE, "sign %s", bad[i] != NULL ? bad[i] : "(absent)");
        free(t);
    }
    t = set_raw(body, "sign_type", "RSA");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGN_TYPE);
    free(t);
    t = set_raw(body, "sign_type", "rsa2");
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGN_TYPE);
    free(t);
    t = set_raw(body, "sign_type", NULL);
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_SIGN_TYPE);
    free(t);
    t = set_raw(body, "sign_type", "RSA2"); /* unchanged: the helper itself is sound */
    ck_assert_int_eq(verify(t, &out), ALIPAY_OK);
    free(t);
    free(body);
}
END_TEST

START_TEST(test_a_duplicated_parameter_is_refused)
{
    alipay_notify_t out;
    char *body = notify();
    size_t n = strlen(body) + 32;
    char *t = malloc(n);
    snprintf(t, n, "%s&total_amount=0.01", body);
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_DUPLICATE);
    snprintf(t, n, "total_amount=12.30&%s", body); /* the same value twice: still ambiguous */
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_DUPLICATE);
    snprintf(t, n, "%s&sign=x", body);
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_DUPLICATE);
    snprintf(t, n, "%s&%%73ign=x", body); /* "sign" percent-encoded is the same key */
    ck_assert_int_eq(verify(t, &out), ALIPAY_E_DUPLICATE);
    free(t);
    free(body);
}
END_TEST

START_TEST(test_amounts_parse_exactly_into_fen)
{
    static const struct {
        const char *yuan;
        int64_t fen;
        int rc;
    } v[] = {
        {"12.30", 1230, ALIPAY_OK},     {"0.01", 1, ALIPAY_OK},        {"12.3", 1230, ALIPAY_OK},
        {"12", 1200, ALIPAY_OK},        {"0.00", 0, ALIPAY_OK},        {"99999999.99", 9999999999, ALIPAY_OK},
        {"12.345", 0, ALIPAY_E_FIELDS}, {"-1.00", 0, ALIPAY_E_FIELDS}, {"1e3", 0, ALIPAY_E_FIELDS},
        {" 12.30", 0, ALIPAY_E_FIELDS}, {"12.", 0, ALIPAY_E_FIELDS},   {".5", 0, ALIPAY_E_FIELDS},
        {"12,30", 0, ALIPAY_E_FIELDS},  {"0x10", 0, ALIPAY_E_FIELDS},  {"", 0, ALIPAY_E_FIELDS},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        alipay_notify_t out;
        char *body = notify_with(alipay_priv, "utf-8", "total_amount", v[i].yuan);
        int rc = verify(body, &out);
        ck_assert_msg(rc == v[i].rc, "%s: %d", v[i].yuan, rc);
        if (rc == ALIPAY_OK)
            ck_assert_msg(out.total_fen == v[i].fen, "%s: %lld", v[i].yuan, (long long)out.total_fen);
        free(body);
    }
}
END_TEST

START_TEST(test_a_refund_fee_is_reported_in_fen)
{
    alipay_notify_t out;
    char *body = notify_with(alipay_priv, "utf-8", "refund_fee", "5.00");
    ck_assert_int_eq(verify(body, &out), ALIPAY_OK);
    ck_assert_int_eq(out.has_refund, 1);
    ck_assert_int_eq(out.refund_fen, 500);
    ck_assert_int_eq(out.total_fen, 1230);
    free(body);
    body = notify_with(alipay_priv, "utf-8", "refund_fee", "5.001");
    ck_assert_int_eq(verify(body, &out), ALIPAY_E_FIELDS);
    free(body);
}
END_TEST

START_TEST(test_missing_or_malformed_fields_are_refused_after_the_signature)
{
    static const struct {
        const char *key, *value;
    } v[] = {{"out_trade_no", NULL}, {"trade_no", NULL},         {"trade_status", NULL},      {"notify_id", NULL},
             {"total_amount", NULL}, {"out_trade_no", "SF\x01"}, {"trade_no", "\xe4\xb9\xb0"}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        alipay_notify_t out;
        char *body = notify_with(alipay_priv, "utf-8", v[i].key, v[i].value);
        ck_assert_msg(verify(body, &out) == ALIPAY_E_FIELDS, "%s", v[i].key);
        free(body);
    }
    char big[200];
    memset(big, '7', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    alipay_notify_t out;
    char *body = notify_with(alipay_priv, "utf-8", "out_trade_no", big); /* refused, not truncated */
    ck_assert_int_eq(verify(body, &out), ALIPAY_E_FIELDS);
    free(body);
}
END_TEST

START_TEST(test_empty_oversized_and_malformed_bodies_are_refused)
{
    alipay_notify_t out;
    ck_assert_int_eq(alipay_verify_notify(alipay_pub, NULL, 0, &EXPECT, &out, NULL, 0), ALIPAY_E_BODY);
    ck_assert_int_eq(alipay_verify_notify(alipay_pub, "", 0, &EXPECT, &out, NULL, 0), ALIPAY_E_BODY);
    char *big = malloc(ALIPAY_BODY_MAX + 2);
    memset(big, 'a', ALIPAY_BODY_MAX + 1);
    big[ALIPAY_BODY_MAX + 1] = '\0';
    ck_assert_int_eq(verify(big, &out), ALIPAY_E_BODY);
    big[ALIPAY_BODY_MAX] = '\0'; /* exactly the cap: read, and found wanting */
    ck_assert_int_eq(verify(big, &out), ALIPAY_E_CHARSET);
    free(big);
    ck_assert_int_eq(verify("a=%zz", &out), ALIPAY_E_FORM);
    ck_assert_int_eq(verify("charset=utf-8&=x", &out), ALIPAY_E_FORM);
}
END_TEST

START_TEST(test_forms_decode_into_raw_bytes)
{
    static const char body[] = "&a=1&&b=x%3Dy&c=&d&e=%E4%B9%B0+%2B&f=a=b=&g=%00z&h%5B%5D=%7e&";
    alipay_form_t f;
    ck_assert_int_eq(alipay_form_parse(body, strlen(body), &f), ALIPAY_OK);
    ck_assert_uint_eq(f.n, 8);
    static const struct {
        const char *key, *value;
        size_t len;
    } want[] = {{"a", "1", 1},    {"b", "x=y", 3},  {"c", "", 0},    {"d", "", 0},
                {"e", "买 +", 5}, {"f", "a=b=", 4}, {"g", "\0z", 2}, {"h[]", "~", 1}};
    for (size_t i = 0; i < 8; i++) {
        const alipay_param_t *p = alipay_form_get(&f, want[i].key);
        ck_assert_msg(p != NULL, "%s", want[i].key);
        ck_assert_uint_eq(p->value_len, want[i].len);
        ck_assert_msg(memcmp(p->value, want[i].value, want[i].len) == 0, "%s", want[i].key);
        ck_assert_int_eq(p->value[p->value_len], '\0');
    }
    ck_assert_ptr_null(alipay_form_get(&f, "z"));
    alipay_form_free(&f);
    alipay_form_free(&f); /* twice is harmless */
}
END_TEST

START_TEST(test_malformed_forms_are_refused)
{
    static const struct {
        const char *body;
        int rc;
    } v[] = {{"a=%", ALIPAY_E_FORM},    {"a=%4", ALIPAY_E_FORM},         {"a=%G1", ALIPAY_E_FORM},
             {"a=%%41", ALIPAY_E_FORM}, {"=v", ALIPAY_E_FORM},           {"a=1&=v", ALIPAY_E_FORM},
             {"a%zz=1", ALIPAY_E_FORM}, {"a=1&a=1", ALIPAY_E_DUPLICATE}, {"a=1&b=2&a", ALIPAY_E_DUPLICATE},
             {"a%3D=1&a=", ALIPAY_OK}, /* "a=" and "a" are two keys */
             {"", ALIPAY_E_BODY}};
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        alipay_form_t f;
        int rc = alipay_form_parse(v[i].body, strlen(v[i].body), &f);
        ck_assert_msg(rc == v[i].rc, "%s: %d", v[i].body, rc);
        alipay_form_free(&f);
    }
    /* At most ALIPAY_PARAMS_MAX parameters. */
    char body[2048];
    size_t w = 0;
    for (int i = 0; i <= ALIPAY_PARAMS_MAX; i++)
        w += (size_t)snprintf(body + w, sizeof(body) - w, "%sk%d=v", i > 0 ? "&" : "", i);
    alipay_form_t f;
    ck_assert_int_eq(alipay_form_parse(body, w, &f), ALIPAY_E_FORM);
    alipay_form_free(&f);
    char *last = strrchr(body, '&');
    ck_assert_int_eq(alipay_form_parse(body, (size_t)(last - body), &f), ALIPAY_OK);
    ck_assert_uint_eq(f.n, ALIPAY_PARAMS_MAX);
    alipay_form_free(&f);
}
END_TEST

START_TEST(test_the_signing_string_sorts_bytes_and_drops_sign_sign_type_and_empties)
{
    static const char body[] = "sign=abc&b=2&a_b=3&ab=4&A=5&a=1&B=6&sign_type=RSA2&empty=&charset=gbk&z=%C2%F2";
    alipay_form_t f;
    char *s = NULL;
    size_t n = 0;
    ck_assert_int_eq(alipay_form_parse(body, strlen(body), &f), ALIPAY_OK);
    ck_assert_int_eq(alipay_signing_string(&f, &s, &n), ALIPAY_OK);
    ck_assert_str_eq(s, "A=5&B=6&a=1&a_b=3&ab=4&b=2&charset=gbk&z=\xc2\xf2"); /* bytes: B before a */
    ck_assert_uint_eq(n, strlen(s));
    free(s);
    alipay_form_free(&f);
}
END_TEST

START_TEST(test_request_signing_matches_the_openssl_cli_and_signs_sign_type)
{
    const alipay_kv_t p[] = {{"method", "alipay.trade.query"},
                             {"app_id", APP_ID},
                             {"charset", "utf-8"},
                             {"sign_type", "RSA2"},
                             {"timestamp", "2026-11-30 08:14:05"},
                             {"version", "1.0"},
                             {"notify_url", ""},
                             {"biz_content", "{\"out_trade_no\":\"SF1\"}"}};
    char sign[ALIPAY_SIG_B64_MAX + 1];
    ck_assert_int_eq(alipay_sign_request(alipay_priv, p, 8, sign, sizeof(sign)), ALIPAY_OK);
    ck_assert_str_eq(sign, REQUEST_SIGN);
    const alipay_kv_t with_sign[] = {{"app_id", APP_ID}, {"sign", "x"}};
    ck_assert_int_eq(alipay_sign_request(alipay_priv, with_sign, 2, sign, sizeof(sign)), ALIPAY_E_ARGUMENT);
    const alipay_kv_t dup[] = {{"app_id", APP_ID}, {"app_id", APP_ID}};
    ck_assert_int_eq(alipay_sign_request(alipay_priv, dup, 2, sign, sizeof(sign)), ALIPAY_E_ARGUMENT);
    ck_assert_int_eq(alipay_sign_request(alipay_priv, p, 8, sign, 300), ALIPAY_E_ARGUMENT); /* no room */
}
END_TEST

START_TEST(test_notification_signing_refuses_reserved_and_duplicate_names)
{
    char *body = NULL;
    size_t len = 0;
    static const char *reserved[] = {"sign", "sign_type", "charset"};
    for (size_t i = 0; i < 3; i++) {
        const alipay_kv_t p[] = {{"app_id", APP_ID}, {reserved[i], "x"}};
        ck_assert_int_eq(alipay_sign_params(alipay_priv, p, 2, "utf-8", &body, &len), ALIPAY_E_ARGUMENT);
        ck_assert_ptr_null(body);
    }
    const alipay_kv_t dup[] = {{"app_id", APP_ID}, {"app_id", "2"}};
    ck_assert_int_eq(alipay_sign_params(alipay_priv, dup, 2, "utf-8", &body, &len), ALIPAY_E_ARGUMENT);
    const alipay_kv_t empty_key[] = {{"", "x"}};
    ck_assert_int_eq(alipay_sign_params(alipay_priv, empty_key, 1, "utf-8", &body, &len), ALIPAY_E_ARGUMENT);
}
END_TEST

START_TEST(test_form_encoding_is_what_java_sends)
{
    const alipay_kv_t p[] = {{"a b", "x y"}, {"safe", "AZaz09-._*"}, {"other", "~!'()+/=&%"}, {"zh", "买"}};
    char *body = NULL;
    size_t len = 0;
    ck_assert_int_eq(alipay_form_encode(p, 4, &body, &len), ALIPAY_OK);
    ck_assert_str_eq(body, "a+b=x+y&safe=AZaz09-._*&other=%7E%21%27%28%29%2B%2F%3D%26%25&zh=%E4%B9%B0");
    ck_assert_uint_eq(len, strlen(body));
    /* And it decodes back to the same bytes. */
    alipay_form_t f;
    ck_assert_int_eq(alipay_form_parse(body, len, &f), ALIPAY_OK);
    ck_assert_str_eq(alipay_form_get(&f, "other")->value, "~!'()+/=&%");
    ck_assert_str_eq(alipay_form_get(&f, "a b")->value, "x y");
    alipay_form_free(&f);
    free(body);
}
END_TEST

/* key's private half as DER: PKCS#8 (pkcs8) or PKCS#1, in bare base64 (malloc'd). */
static char *bare_private(EVP_PKEY *key, int pkcs8)
{
    BIO *bio = BIO_new(BIO_s_mem());
    ck_assert_int_eq(
        pkcs8 ? i2d_PKCS8PrivateKey_bio(bio, key, NULL, NULL, 0, NULL, NULL) : i2d_PrivateKey_bio(bio, key), 1);
    unsigned char *der = NULL;
    long n = BIO_get_mem_data(bio, &der);
    char *b64 = malloc(B64_ENCODED_LEN((size_t)n) + 1);
    ck_assert_int_eq(b64_encode(der, (size_t)n, b64, B64_ENCODED_LEN((size_t)n) + 1, NULL), B64_OK);
    BIO_free(bio);
    return b64;
}

/* 1 if priv signs what pub verifies, through the module itself. */
static int pair_works(EVP_PKEY *priv, EVP_PKEY *pub)
{
    const alipay_kv_t p[] = {{"app_id", APP_ID},      {"seller_id", SELLER_ID}, {"notify_id", "N1"},
                             {"out_trade_no", "SF1"}, {"trade_no", "T1"},       {"trade_status", "TRADE_SUCCESS"},
                             {"total_amount", "0.01"}};
    char *body = NULL;
    size_t len = 0;
    alipay_notify_t out;
    ck_assert_int_eq(alipay_sign_params(priv, p, 7, "utf-8", &body, &len), ALIPAY_OK);
    int rc = alipay_verify_notify(pub, body, len, &EXPECT, &out, NULL, 0);
    free(body);
    return rc == ALIPAY_OK;
}

START_TEST(test_keys_load_from_pem_and_bare_base64)
{
    char *bare = bare_public(alipay_priv);
    /* Line-wrapped, as it is often pasted. */
    size_t n = strlen(bare);
    char *wrapped = malloc(n * 2);
    size_t w = 0;
    for (size_t i = 0; i < n; i++) {
        wrapped[w++] = bare[i];
        if (i % 64 == 63)
            wrapped[w++] = '\n';
    }
    wrapped[w++] = '\r';
    wrapped[w++] = '\n';
    EVP_PKEY *pub = alipay_public_key(wrapped, w);
    ck_assert_ptr_nonnull(pub);
    ck_assert(pair_works(alipay_priv, pub));
    EVP_PKEY_free(pub);
    BIO *bio = BIO_new(BIO_s_mem());
    PEM_write_bio_PUBKEY(bio, alipay_priv);
    char *pem = NULL;
    long pn = BIO_get_mem_data(bio, &pem);
    pub = alipay_public_key(pem, (size_t)pn);
    ck_assert_ptr_nonnull(pub);
    ck_assert(pair_works(alipay_priv, pub));
    ck_assert(!pair_works(other_key, pub));
    EVP_PKEY_free(pub);
    BIO_free(bio);
    for (int pkcs8 = 0; pkcs8 <= 1; pkcs8++) {
        char *b = bare_private(other_key, pkcs8);
        EVP_PKEY *priv = alipay_private_key(b, strlen(b));
        ck_assert_msg(priv != NULL, "pkcs8 %d", pkcs8);
        ck_assert(pair_works(priv, other_key));
        EVP_PKEY_free(priv);
        free(b);
    }
    /* Not keys. */
    ck_assert_ptr_null(alipay_public_key("", 0));
    ck_assert_ptr_null(alipay_public_key("MIIB", 4));
    ck_assert_ptr_null(alipay_public_key("not base64 at all!", 18));
    ck_assert_ptr_null(alipay_private_key("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", 58));
    ck_assert_ptr_null(alipay_private_key(bare, strlen(bare))); /* a public key is no private key */
    /* Trailing bytes after the DER: not the key we were given. */
    size_t bn = strlen(bare);
    char *longer = malloc(bn + 5);
    snprintf(longer, bn + 5, "%.*sAAAA", (int)bn, bare);
    if (bare[bn - 1] != '=')
        ck_assert_ptr_null(alipay_public_key(longer, strlen(longer)));
    free(longer);
    /* Only RSA signs RSA2. */
    EVP_PKEY *ec = EVP_EC_gen("P-256");
    char *ecb = bare_public(ec);
    ck_assert_ptr_null(alipay_public_key(ecb, strlen(ecb)));
    free(ecb);
    EVP_PKEY_free(ec);
    free(wrapped);
    free(bare);
}
END_TEST

START_TEST(test_every_status_has_a_name)
{
    for (int rc = ALIPAY_OK; rc >= ALIPAY_E_INTERNAL; rc--)
        ck_assert_str_ne(alipay_status_str(rc), "unknown status");
    ck_assert_str_eq(alipay_status_str(1), "unknown status");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("alipay");
    TCase *tc = tcase_create("alipay");
    tcase_add_unchecked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_a_valid_utf8_notification_verifies);
    tcase_add_test(tc, test_a_gbk_notification_verifies_over_its_raw_bytes);
    tcase_add_test(tc, test_a_tampered_amount_is_refused);
    tcase_add_test(tc, test_a_value_html_escaped_after_signing_is_refused);
    tcase_add_test(tc, test_a_plus_is_decoded_as_a_space);
    tcase_add_test(tc, test_an_equals_sign_inside_the_sign_is_kept);
    tcase_add_test(tc, test_another_app_or_seller_is_refused);
    tcase_add_test(tc, test_a_signature_by_another_key_is_refused);
    tcase_add_test(tc, test_only_utf8_and_gbk_charsets_are_accepted);
    tcase_add_test(tc, test_a_missing_or_unusable_sign_is_refused);
    tcase_add_test(tc, test_a_duplicated_parameter_is_refused);
    tcase_add_test(tc, test_amounts_parse_exactly_into_fen);
    tcase_add_test(tc, test_a_refund_fee_is_reported_in_fen);
    tcase_add_test(tc, test_missing_or_malformed_fields_are_refused_after_the_signature);
    tcase_add_test(tc, test_empty_oversized_and_malformed_bodies_are_refused);
    tcase_add_test(tc, test_forms_decode_into_raw_bytes);
    tcase_add_test(tc, test_malformed_forms_are_refused);
    tcase_add_test(tc, test_the_signing_string_sorts_bytes_and_drops_sign_sign_type_and_empties);
    tcase_add_test(tc, test_request_signing_matches_the_openssl_cli_and_signs_sign_type);
    tcase_add_test(tc, test_notification_signing_refuses_reserved_and_duplicate_names);
    tcase_add_test(tc, test_form_encoding_is_what_java_sends);
    tcase_add_test(tc, test_keys_load_from_pem_and_bare_base64);
    tcase_add_test(tc, test_every_status_has_a_name);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
