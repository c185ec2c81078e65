/* Payment keys from the configuration: the sandbox defaults, the live settings, the APIv3
 * key file's exact length, platform keys as public keys or certificates by serial, Alipay's
 * key as PEM or bare base64, and every refusal naming what is wrong. Keys are made per run
 * into a scratch directory (/tmp/sf-paykeys-<pid>). */
#include <check.h>
#include <openssl/bn.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/providers/paykeys.h"
#include "tests/support/testutil.h"

#define SERIAL "4F1A0C2B3D4E5F60718293A4B5C6D7E8F9000102"
#define APIV3  "0123456789abcdefghijklmnopqrstuv"

static char dir[64];
static EVP_PKEY *platform, *other, *ali;

static char *at(const char *name)
{
    static char path[2][160];
    static int i;
    i ^= 1;
    snprintf(path[i], sizeof(path[i]), "%s/%s", dir, name);
    return path[i];
}

static void put(const char *name, const char *text, size_t len)
{
    FILE *f = fopen(at(name), "wb");
    ck_assert_ptr_nonnull(f);
    ck_assert_int_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

static void put_key(const char *name, EVP_PKEY *key, int private_half)
{
    BIO *b = BIO_new_file(at(name), "w");
    ck_assert(b != NULL && (private_half ? PEM_write_bio_PrivateKey(b, key, NULL, NULL, 0, NULL, NULL)
                                         : PEM_write_bio_PUBKEY(b, key)) == 1);
    BIO_free(b);
}

/* A self-signed certificate of key with this serial (hex), as PEM in name. */
static void put_cert(const char *name, EVP_PKEY *key, const char *serial_hex)
{
    X509 *x = X509_new();
    BIGNUM *bn = NULL;
    ck_assert(x != NULL && BN_hex2bn(&bn, serial_hex) > 0);
    ck_assert_ptr_nonnull(BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x)));
    BN_free(bn);
    X509_gmtime_adj(X509_getm_notBefore(x), 0);
    X509_gmtime_adj(X509_getm_notAfter(x), 86400);
    X509_NAME_add_entry_by_txt(X509_get_subject_name(x), "CN", MBSTRING_ASC, (const unsigned char *)"wechatpay", -1, -1,
                               0);
    X509_set_issuer_name(x, X509_get_subject_name(x));
    ck_assert_int_eq(X509_set_pubkey(x, key), 1);
    ck_assert(X509_sign(x, key, EVP_sha256()) > 0);
    BIO *b = BIO_new_file(at(name), "w");
    ck_assert(b != NULL && PEM_write_bio_X509(b, x) == 1);
    BIO_free(b);
    X509_free(x);
}

/* The sandbox directory as scripts/dev writes it. */
static void setup(void)
{
    snprintf(dir, sizeof(dir), "/tmp/sf-paykeys-%d", (int)getpid());
    ck_assert_int_eq(t_sh("rm -rf %s && mkdir -p %s", dir, dir), 0);
    platform = EVP_RSA_gen(2048);
    other = EVP_RSA_gen(2048);
    ali = EVP_RSA_gen(2048);
    ck_assert(platform != NULL && other != NULL && ali != NULL);
    put_key("wechat_platform_private.pem", platform, 1);
    put_key("wechat_platform_public.pem", platform, 0);
    put_key("alipay_private.pem", ali, 1);
    put_key("alipay_public.pem", ali, 0);
    put("wechat_platform_serial", SERIAL, strlen(SERIAL));
    put("wechat_apiv3.key", APIV3, 32);
}

static void teardown(void)
{
    t_sh("rm -rf %s", dir);
    EVP_PKEY_free(platform);
    EVP_PKEY_free(other);
    EVP_PKEY_free(ali);
}

static void load(config_t *c, const char *mode)
{
    char err[256];
    extern char **environ;
    /* scripts/dev test's STALLFRONT_* must not steer these */
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e != NULL; e++)
            if (strncmp(*e, "STALLFRONT_", 11) == 0) {
                char name[128];
                snprintf(name, sizeof(name), "%.*s", (int)strcspn(*e, "="), *e);
                unsetenv(name);
                again = 1;
                break;
            }
    }
    ck_assert_int_eq(config_load(c, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(c, "payments.mode", mode, err, sizeof(err)), 0);
    ck_assert_int_eq(config_set(c, "payments.sandbox_dir", dir, err, sizeof(err)), 0);
}

static void set(config_t *c, const char *key, const char *value)
{
    char err[256];
    ck_assert_int_eq(config_set(c, key, value, err, sizeof(err)), 0);
}

/* A message signed by key under serial verifies with the loaded map (and only then). */
static int verifies(const paykeys_wechat_t *k, EVP_PKEY *key, const char *serial)
{
    wxpay_signed_t s;
    wxpay_headers_t h;
    ck_assert_int_eq(wxpay_sign_message(key, serial, 1764461645, NULL, "{}", 2, &s), WXPAY_OK);
    wxpay_signed_headers(&s, &h);
    int rc = wxpay_verify_signature(k->platform, &h, s.body, s.body_len, 1764461645, NULL, 0);
    wxpay_signed_free(&s);
    return rc == WXPAY_OK;
}

START_TEST(test_sandbox_mode_defaults_to_the_sandbox_keys_and_ids)
{
    config_t c;
    paykeys_wechat_t k;
    paykeys_alipay_t a;
    paykeys_signer_t s;
    char err[PAYKEYS_ERR_MAX];
    load(&c, "sandbox");
    ck_assert_int_eq(paykeys_is_sandbox(&c), 1);
    ck_assert_msg(paykeys_wechat_load(&c, &k, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(k.merchant.mchid, "sandbox-mch");
    ck_assert_str_eq(k.merchant.appid, "sandbox-app");
    ck_assert_int_eq(memcmp(k.merchant.apiv3_key, APIV3, 32), 0);
    ck_assert(verifies(&k, platform, SERIAL));
    ck_assert(verifies(&k, platform, "4f1a0c2b3d4e5f60718293a4b5c6d7e8f9000102")); /* hex in any case */
    ck_assert(!verifies(&k, other, SERIAL));
    paykeys_wechat_free(&k);
    ck_assert_msg(paykeys_alipay_load(&c, &a, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(a.expect.app_id, "sandbox-app");
    ck_assert_str_eq(a.expect.seller_id, "sandbox-seller");
    ck_assert_int_eq(EVP_PKEY_eq(a.alipay_public, ali), 1);
    paykeys_alipay_free(&a);
    ck_assert_msg(paykeys_sandbox_wechat_signer(&c, &s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(s.serial, SERIAL);
    ck_assert_int_eq(EVP_PKEY_eq(s.private_key, platform), 1);
    paykeys_signer_free(&s);
    ck_assert_msg(paykeys_sandbox_alipay_signer(&c, &s, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(EVP_PKEY_eq(s.private_key, ali), 1);
    paykeys_signer_free(&s);
    /* explicit settings still win in sandbox mode */
    set(&c, "wechat.mchid", "1900000100");
    set(&c, "alipay.seller_id", "2088000000000001");
    ck_assert_int_eq(paykeys_wechat_load(&c, &k, err, sizeof(err)), 0);
    ck_assert_str_eq(k.merchant.mchid, "1900000100");
    paykeys_wechat_free(&k);
    ck_assert_int_eq(paykeys_alipay_load(&c, &a, err, sizeof(err)), 0);
    ck_assert_str_eq(a.expect.seller_id, "2088000000000001");
    paykeys_alipay_free(&a);
    config_free(&c);
}
END_TEST

START_TEST(test_sandbox_public_keys_are_derived_from_the_private_ones_when_missing)
{
    config_t c;
    paykeys_wechat_t k;
    paykeys_alipay_t a;
    char err[PAYKEYS_ERR_MAX];
    ck_assert_int_eq(unlink(at("wechat_platform_public.pem")), 0);
    ck_assert_int_eq(unlink(at("alipay_public.pem")), 0);
    load(&c, "sandbox");
    ck_assert_msg(paykeys_wechat_load(&c, &k, err, sizeof(err)) == 0, "%s", err);
    ck_assert(verifies(&k, platform, SERIAL));
    paykeys_wechat_free(&k);
    ck_assert_msg(paykeys_alipay_load(&c, &a, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(EVP_PKEY_eq(a.alipay_public, ali), 1);
    paykeys_alipay_free(&a);
    config_free(&c);
}
END_TEST

START_TEST(test_the_apiv3_key_must_be_exactly_32_bytes_after_one_newline)
{
    static const struct {
        const char *text;
        size_t len;
        int ok;
    } cases[] = {
        {APIV3, 32, 1},
        {APIV3 "\n", 33, 1},
        {APIV3 "\r\n", 34, 1},
        {APIV3 "\n\n", 34, 0},
        {APIV3 " ", 33, 0},
        {APIV3 "x", 33, 0},
        {APIV3, 31, 0},
        {"0123456789abcdef 123456789abcdef", 32, 0},
        {"0123456789abcdef\0"
         "123456789abcdef",
         32, 0},
        {"", 0, 0},
        {"\n", 1, 0},
    };
    config_t c;
    paykeys_wechat_t k;
    char err[PAYKEYS_ERR_MAX];
    load(&c, "sandbox");
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        put("wechat_apiv3.key", cases[i].text, cases[i].len);
        err[0] = '\0';
        int rc = paykeys_wechat_load(&c, &k, err, sizeof(err));
        ck_assert_msg((rc == 0) == cases[i].ok, "case %zu: %d %s", i, rc, err);
        if (rc == 0)
            ck_assert_int_eq(memcmp(k.apiv3_key, APIV3, 32), 0);
        else
            ck_assert_msg(strstr(err, "wechat.apiv3_key_file") != NULL && strstr(err, "32") != NULL, "%s", err);
        if (rc != 0)
            ck_assert_ptr_null(k.platform); /* a refusal leaves nothing to use */
        paykeys_wechat_free(&k);
    }
    set(&c, "wechat.apiv3_key_file", at("no-such-file"));
    ck_assert_int_eq(paykeys_wechat_load(&c, &k, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "no-such-file"));
    config_free(&c);
}
END_TEST

START_TEST(test_live_mode_takes_only_the_explicit_settings)
{
    config_t c;
    paykeys_wechat_t k;
    paykeys_alipay_t a;
    paykeys_signer_t s;
    char err[PAYKEYS_ERR_MAX], spec[512];
    load(&c, "live");
    ck_assert_int_eq(paykeys_is_sandbox(&c), 0);
    ck_assert_int_eq(paykeys_wechat_load(&c, &k, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "wechat.mchid") != NULL, "%s", err);
    ck_assert_int_eq(paykeys_alipay_load(&c, &a, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "alipay.app_id") != NULL, "%s", err);
    ck_assert_int_eq(paykeys_sandbox_wechat_signer(&c, &s, err, sizeof(err)), -1);
    ck_assert_int_eq(paykeys_sandbox_alipay_signer(&c, &s, err, sizeof(err)), -1);
    set(&c, "wechat.mchid", "1900000100");
    set(&c, "wechat.appid", "wxd678efh567hg6787");
    ck_assert_int_eq(paykeys_wechat_load(&c, &k, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "wechat.apiv3_key_file") != NULL, "%s", err);
    set(&c, "wechat.apiv3_key_file", at("wechat_apiv3.key"));
    ck_assert_int_eq(paykeys_wechat_load(&c, &k, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "wechat.platform_keys") != NULL, "%s", err);
    /* two keys during a rotation: a public key, and a certificate under its own serial */
    put_cert("rotated.crt", other, "00ABCDEF0123");
    snprintf(spec, sizeof(spec), " %s = %s , abcdef0123=%s", SERIAL, at("wechat_platform_public.pem"),
             at("rotated.crt"));
    set(&c, "wechat.platform_keys", spec);
    ck_assert_msg(paykeys_wechat_load(&c, &k, err, sizeof(err)) == 0, "%s", err);
    ck_assert_str_eq(k.merchant.mchid, "1900000100");
    ck_assert(verifies(&k, platform, SERIAL));
    ck_assert(verifies(&k, other, "ABCDEF0123"));
    ck_assert(!verifies(&k, other, SERIAL));
    paykeys_wechat_free(&k);
    /* Alipay's key as the console hands it out: bare base64, on one line */
    set(&c, "alipay.app_id", "2021000000000000");
    set(&c, "alipay.seller_id", "2088000000000000");
    ck_assert_int_eq(paykeys_alipay_load(&c, &a, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "alipay.public_key_file") != NULL, "%s", err);
    ck_assert_int_eq(t_sh("grep -v -- ----- %s | tr -d '\\n' > %s", at("alipay_public.pem"), at("alipay.b64")), 0);
    set(&c, "alipay.public_key_file", at("alipay.b64"));
    ck_assert_msg(paykeys_alipay_load(&c, &a, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(EVP_PKEY_eq(a.alipay_public, ali), 1);
    ck_assert_str_eq(a.expect.app_id, "2021000000000000");
    paykeys_alipay_free(&a);
    set(&c, "alipay.public_key_file", at("wechat_apiv3.key"));
    ck_assert_int_eq(paykeys_alipay_load(&c, &a, err, sizeof(err)), -1);
    ck_assert_ptr_null(a.alipay_public);
    config_free(&c);
}
END_TEST

START_TEST(test_bad_platform_key_settings_are_refused_with_a_reason)
{
    config_t c;
    paykeys_wechat_t k;
    char err[PAYKEYS_ERR_MAX], spec[512];
    load(&c, "live");
    set(&c, "wechat.mchid", "1900000100");
    set(&c, "wechat.appid", "wxd678efh567hg6787");
    set(&c, "wechat.apiv3_key_file", at("wechat_apiv3.key"));
    put_cert("rotated.crt", other, "ABCDEF0123");
    put("garbage.pem", "not a key\n", 10);
    const char *bad[][2] = {
        {"%s", "not SERIAL=file.pem"},            /* no '=' */
        {"=%s", "without a serial"},              /* no serial */
        {"ABC=", "without a serial or a file"},   /* no file */
        {"ABC=%s/none.pem", "cannot read"},       /* missing */
        {"FFFF=%s", "certificate of serial"},     /* cert under another serial */
        {"ABC=%s", "not an RSA-2048 public key"}, /* garbage */
        {"AB=%s,ab=%s", "given twice"},           /* duplicate serial */
        {",", "names no key"},                    /* nothing */
        {"not hex!=%s", "bad serial"},            /* serial not hex nor PUB_KEY_ID_ */
    };
    /* the file each case names, under dir ("." for dir itself) */
    const char *files[] = {"wechat_platform_public.pem",
                           "wechat_platform_public.pem",
                           "",
                           ".",
                           "rotated.crt",
                           "garbage.pem",
                           "wechat_platform_public.pem",
                           "",
                           "wechat_platform_public.pem"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char f[200];
        snprintf(f, sizeof(f), "%s/%s", dir, files[i]);
        if (strcmp(files[i], ".") == 0)
            snprintf(f, sizeof(f), "%s", dir);
        snprintf(spec, sizeof(spec), bad[i][0], f, f);
        set(&c, "wechat.platform_keys", spec);
        err[0] = '\0';
        ck_assert_msg(paykeys_wechat_load(&c, &k, err, sizeof(err)) == -1, "accepted %s", spec);
        ck_assert_msg(strstr(err, bad[i][1]) != NULL, "%s: %s", spec, err);
        ck_assert_ptr_null(k.platform);
    }
    config_free(&c);
}
END_TEST

/* What payprov needs for its own calls: our keys and ids, with the providers' keys optional in
 * live mode (answers unverified) and the sandbox defaults in sandbox mode. */
START_TEST(test_our_own_keys_resolve_here_and_answer_keys_are_optional_in_live_mode)
{
    config_t c;
    paykeys_wechat_merchant_t m;
    paykeys_alipay_app_t a;
    wxpay_keys_t *map = NULL;
    EVP_PKEY *pub = NULL;
    char err[PAYKEYS_ERR_MAX];
    load(&c, "live");
    ck_assert_int_eq(paykeys_wechat_platform_load(&c, &map, err, sizeof(err)), 0);
    ck_assert_ptr_null(map);
    ck_assert_int_eq(paykeys_alipay_public_load(&c, &pub, err, sizeof(err)), 0);
    ck_assert_ptr_null(pub);
    ck_assert_int_eq(paykeys_wechat_merchant_load(&c, &m, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "wechat.mchid") != NULL, "%s", err);
    set(&c, "wechat.mchid", "1900000100");
    ck_assert_int_eq(paykeys_wechat_merchant_load(&c, &m, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "wechat.merchant_serial") != NULL, "%s", err);
    set(&c, "wechat.merchant_serial", "MERCHANTSERIAL01");
    ck_assert_int_eq(paykeys_wechat_merchant_load(&c, &m, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "wechat.merchant_key_file") != NULL, "%s", err);
    ck_assert_ptr_null(m.private_key);
    set(&c, "wechat.merchant_key_file", at("wechat_platform_private.pem"));
    ck_assert_msg(paykeys_wechat_merchant_load(&c, &m, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(EVP_PKEY_eq(m.private_key, platform), 1);
    ck_assert_str_eq(m.mchid, "1900000100");
    ck_assert_str_eq(m.serial, "MERCHANTSERIAL01");
    ck_assert_str_eq(m.appid, ""); /* unset in live mode: only a create needs it */
    paykeys_wechat_merchant_free(&m);
    set(&c, "wechat.platform_keys", "ABC=/nonexistent.pem");
    ck_assert_int_eq(paykeys_wechat_platform_load(&c, &map, err, sizeof(err)), -1);
    ck_assert_ptr_null(map);
    set(&c, "alipay.public_key_file", "/nonexistent.pem");
    ck_assert_int_eq(paykeys_alipay_public_load(&c, &pub, err, sizeof(err)), -1);
    ck_assert_ptr_null(pub);
    ck_assert_int_eq(paykeys_alipay_app_load(&c, &a, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "alipay.app_id") != NULL, "%s", err);
    set(&c, "alipay.app_id", "2021000000000000");
    ck_assert_int_eq(paykeys_alipay_app_load(&c, &a, err, sizeof(err)), -1);
    ck_assert_msg(strstr(err, "alipay.app_key_file") != NULL, "%s", err);
    config_free(&c);

    /* sandbox: our keys from the sandbox directory, the ids from the sandbox defaults */
    put_key("wechat_merchant_private.pem", other, 1);
    put_key("alipay_app_private.pem", ali, 1);
    load(&c, "sandbox");
    ck_assert_int_eq(paykeys_wechat_merchant_load(&c, &m, err, sizeof(err)), -1); /* no sandbox serial */
    ck_assert_msg(strstr(err, "wechat.merchant_serial") != NULL, "%s", err);
    set(&c, "wechat.merchant_serial", "MERCHANTSERIAL01");
    ck_assert_msg(paykeys_wechat_merchant_load(&c, &m, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(EVP_PKEY_eq(m.private_key, other), 1);
    ck_assert_str_eq(m.mchid, PAYKEYS_SANDBOX_MCHID);
    ck_assert_str_eq(m.appid, PAYKEYS_SANDBOX_APPID);
    paykeys_wechat_merchant_free(&m);
    ck_assert_msg(paykeys_alipay_app_load(&c, &a, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(EVP_PKEY_eq(a.private_key, ali), 1);
    ck_assert_str_eq(a.app_id, PAYKEYS_SANDBOX_APPID);
    paykeys_alipay_app_free(&a);
    ck_assert_msg(paykeys_wechat_platform_load(&c, &map, err, sizeof(err)) == 0, "%s", err);
    ck_assert_ptr_nonnull(map);
    wxpay_keys_free(map);
    ck_assert_msg(paykeys_alipay_public_load(&c, &pub, err, sizeof(err)) == 0, "%s", err);
    ck_assert_int_eq(EVP_PKEY_eq(pub, ali), 1);
    EVP_PKEY_free(pub);
    config_free(&c);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("paykeys");
    TCase *tc = tcase_create("paykeys");
    tcase_set_timeout(tc, 60);
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_sandbox_mode_defaults_to_the_sandbox_keys_and_ids);
    tcase_add_test(tc, test_sandbox_public_keys_are_derived_from_the_private_ones_when_missing);
    tcase_add_test(tc, test_the_apiv3_key_must_be_exactly_32_bytes_after_one_newline);
    tcase_add_test(tc, test_live_mode_takes_only_the_explicit_settings);
    tcase_add_test(tc, test_bad_platform_key_settings_are_refused_with_a_reason);
    tcase_add_test(tc, test_our_own_keys_resolve_here_and_answer_keys_are_optional_in_live_mode);
    suite_add_tcase(su, tc);
    return t_run(su, 0) == 0 ? 0 : 1;
}
