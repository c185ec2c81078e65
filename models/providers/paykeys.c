/*
 * Loading the payment providers' keys and ids (see paykeys.h). Banners separate the file
 * reading, WeChat's side (theirs and our merchant's), Alipay's side (theirs and our app's)
 * and the sandbox signers.
 *
 * Every file is read whole into a bounded buffer (PAYKEYS_FILE_MAX) and parsed by the
 * crypto layer (models/wxpay.c, models/alipay.c); nothing here interprets PEM or base64
 * itself. Buffers that held secrets (the APIv3 key, private keys) are cleansed before they
 * are freed. Each loader either fills its struct completely or leaves nothing to use.
 */
#include <errno.h>
#include <limits.h>
#include <openssl/crypto.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>
#include "models/providers/paykeys.h"

#define SERIAL_FILE      "wechat_platform_serial"
#define WX_PUBLIC_FILE   "wechat_platform_public.pem"
#define WX_PRIVATE_FILE  "wechat_platform_private.pem"
#define APIV3_FILE       "wechat_apiv3.key"
#define ALI_PUBLIC_FILE  "alipay_public.pem"
#define ALI_PRIVATE_FILE "alipay_private.pem"
#define WX_MERCHANT_FILE "wechat_merchant_private.pem"
#define ALI_APP_FILE     "alipay_app_private.pem"
#define SPEC_MAX         4096 /* wechat.platform_keys: WXPAY_KEYS_MAX entries of serial and path */

__attribute__((format(printf, 3, 4))) static int fail(char *err, size_t errlen, const char *fmt, ...)
{
    if (err != NULL && errlen > 0) {
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(err, errlen, fmt, ap);
        va_end(ap);
    }
    return -1;
}

int paykeys_is_sandbox(const config_t *cfg)
{
    return cfg->payments_mode != NULL && strcmp(cfg->payments_mode, "sandbox") == 0;
}

/* ======================== files ======================== */

/* The whole of path (at most max bytes) into *text (malloc'd, NUL-terminated; the caller
 * cleanses it if it was secret) and *len. 0, or -1 with err naming what (a setting). */
static int read_file(const char *what, const char *path, size_t max, char **text, size_t *len, char *err, size_t errlen)
{
    *text = NULL;
    *len = 0;
    FILE *f = fopen(path, "rb");
    if (f == NULL)
        return fail(err, errlen, "%s: cannot read %s: %s", what, path, strerror(errno));
    char *buf = malloc(max + 1);
    size_t n = buf != NULL ? fread(buf, 1, max + 1, f) : 0;
    int bad = buf == NULL || ferror(f) || n > max;
    fclose(f);
    if (bad) {
        if (buf != NULL)
            OPENSSL_cleanse(buf, max + 1);
        free(buf);
        return fail(err, errlen, "%s: %s is unreadable or larger than %zu bytes", what, path, max);
    }
    buf[n] = '\0';
    *text = buf;
    *len = n;
    return 0;
}

static void free_secret(char *text, size_t len)
{
    if (text != NULL)
        OPENSSL_cleanse(text, len);
    free(text);
}

/* <payments.sandbox_dir>/name into buf. */
static int sandbox_path(const config_t *cfg, const char *name, char *buf, size_t buflen, char *err, size_t errlen)
{
    int n = snprintf(buf, buflen, "%s/%s", cfg->payments_sandbox_dir, name);
    if (n < 0 || (size_t)n >= buflen)
        return fail(err, errlen, "payments.sandbox_dir: the path is too long");
    return 0;
}

/* An id setting, or in sandbox mode its default (if any) when unset, copied into out. */
static int take_id(const config_t *cfg, const char *key, const char *value, const char *sandbox_default, char *out,
                   size_t outlen, char *err, size_t errlen)
{
    const char *v = value != NULL && value[0] != '\0' ? value : paykeys_is_sandbox(cfg) ? sandbox_default : NULL;
    if (v == NULL)
        return fail(err, errlen, "%s is not set%s", key, paykeys_is_sandbox(cfg) ? "" : " (payments.mode is live)");
    if (strlen(v) >= outlen)
        return fail(err, errlen, "%s is longer than %zu bytes", key, outlen - 1);
    memcpy(out, v, strlen(v) + 1);
    return 0;
}

/* The file a setting names, or in sandbox mode when it is unset the sandbox's file name (path
 * then points into buf). */
static int file_setting(const config_t *cfg, const char *key, const char *value, const char *sandbox_name,
                        const char **path, char *buf, size_t buflen, char *err, size_t errlen)
{
    *path = value;
    if (value != NULL && value[0] != '\0')
        return 0;
    if (!paykeys_is_sandbox(cfg))
        return fail(err, errlen, "%s is not set (payments.mode is live)", key);
    *path = buf;
    return sandbox_path(cfg, sandbox_name, buf, buflen, err, errlen);
}

/* A key file through parse (e.g. alipay_public_key, wxpay_private_key_pem); the text is
 * cleansed. */
static EVP_PKEY *key_file(const char *what, const char *path, EVP_PKEY *(*parse)(const char *, size_t), char *err,
                          size_t errlen)
{
    char *text = NULL;
    size_t len = 0;
    if (read_file(what, path, ALIPAY_KEY_TEXT_MAX, &text, &len, err, errlen) != 0)
        return NULL;
    EVP_PKEY *key = parse(text, len);
    free_secret(text, len);
    if (key == NULL)
        fail(err, errlen, "%s: %s is not an RSA key as PEM or bare base64", what, path);
    return key;
}

/* One of our own private keys: the setting key (value), or in sandbox mode sandbox_name. */
static int own_key(const config_t *cfg, const char *key, const char *value, const char *sandbox_name,
                   EVP_PKEY *(*parse)(const char *, size_t), EVP_PKEY **out, char *err, size_t errlen)
{
    char buf[PATH_MAX];
    const char *path = NULL;
    if (file_setting(cfg, key, value, sandbox_name, &path, buf, sizeof(buf), err, errlen) != 0)
        return -1;
    *out = key_file(key, path, parse, err, errlen);
    return *out != NULL ? 0 : -1;
}

/* ======================== WeChat Pay ======================== */

/* "1A2b" and "0001a2B" name the same certificate serial. */
static int same_serial(const char *a, const char *b)
{
    while (*a == '0')
        a++;
    while (*b == '0')
        b++;
    return strcasecmp(a, b) == 0;
}

/* Adds the key in path (a public key PEM, or a platform certificate whose serial must be
 * serial) to the map. */
static int add_platform_file(wxpay_keys_t *keys, const char *serial, const char *path, char *err, size_t errlen)
{
    char *text = NULL, got[WXPAY_SERIAL_MAX + 1] = "";
    size_t len = 0;
    if (read_file("wechat.platform_keys", path, PAYKEYS_FILE_MAX, &text, &len, err, errlen) != 0)
        return -1;
    int rc = 0;
    if (strstr(text, "-----BEGIN CERTIFICATE-----") != NULL) {
        if (wxpay_keys_add_cert(keys, text, len, got, sizeof(got)) != WXPAY_OK)
            rc = fail(err, errlen, "wechat.platform_keys: %s is not a usable RSA-2048 certificate", path);
        else if (!same_serial(got, serial))
            rc = fail(err, errlen, "wechat.platform_keys: %s is the certificate of serial %s, not %s", path, got,
                      serial);
    } else if (wxpay_keys_add_pem(keys, serial, text, len) != WXPAY_OK)
        rc = fail(err, errlen,
                  "wechat.platform_keys: %s under %s: not an RSA-2048 public key PEM, a bad serial,"
                  " or a serial given twice",
                  path, serial);
    free(text);
    return rc;
}

static char *trim(char *s)
{
    while (*s == ' ' || *s == '\t')
        s++;
    size_t n = strlen(s);
    while (n > 0 && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        s[--n] = '\0';
    return s;
}

/* wechat.platform_keys: "SERIAL=file.pem,SERIAL=file.pem". */
static int add_platform_spec(wxpay_keys_t *keys, const char *spec, char *err, size_t errlen)
{
    char buf[SPEC_MAX], *save = NULL;
    if (strlen(spec) >= sizeof(buf))
        return fail(err, errlen, "wechat.platform_keys is longer than %d bytes", SPEC_MAX - 1);
    memcpy(buf, spec, strlen(spec) + 1);
    int n = 0;
    for (char *item = strtok_r(buf, ",", &save); item != NULL; item = strtok_r(NULL, ",", &save)) {
        char *eq = strchr(item, '=');
        if (eq == NULL)
            return fail(err, errlen, "wechat.platform_keys: '%s' is not SERIAL=file.pem", trim(item));
        *eq = '\0';
        char *serial = trim(item), *path = trim(eq + 1);
        if (serial[0] == '\0' || path[0] == '\0')
            return fail(err, errlen, "wechat.platform_keys: an entry without a serial or a file");
        if (add_platform_file(keys, serial, path, err, errlen) != 0)
            return -1;
        n++;
    }
    return n > 0 ? 0 : fail(err, errlen, "wechat.platform_keys names no key");
}

/* The first line of the sandbox's serial file, without surrounding whitespace. */
static int sandbox_serial(const config_t *cfg, char *out, size_t outlen, char *err, size_t errlen)
{
    char path[PATH_MAX], *text = NULL;
    size_t len = 0;
    if (sandbox_path(cfg, SERIAL_FILE, path, sizeof(path), err, errlen) != 0 ||
        read_file("payments.sandbox_dir", path, PAYKEYS_FILE_MAX, &text, &len, err, errlen) != 0)
        return -1;
    text[strcspn(text, "\r\n")] = '\0';
    char *s = trim(text);
    int rc = s[0] != '\0' && strlen(s) < outlen ? 0 : fail(err, errlen, "%s: not a serial", path);
    if (rc == 0)
        memcpy(out, s, strlen(s) + 1);
    free(text);
    return rc;
}

/* The sandbox's platform key: its public file, or the public half of its private file. */
static int add_sandbox_platform(const config_t *cfg, wxpay_keys_t *keys, char *err, size_t errlen)
{
    char serial[WXPAY_SERIAL_MAX + 1], path[PATH_MAX];
    if (sandbox_serial(cfg, serial, sizeof(serial), err, errlen) != 0 ||
        sandbox_path(cfg, WX_PUBLIC_FILE, path, sizeof(path), err, errlen) != 0)
        return -1;
    if (access(path, F_OK) == 0)
        return add_platform_file(keys, serial, path, err, errlen);
    paykeys_signer_t s;
    if (paykeys_sandbox_wechat_signer(cfg, &s, err, errlen) != 0)
        return -1;
    int rc = wxpay_keys_add(keys, serial, s.private_key) == WXPAY_OK
                 ? 0
                 : fail(err, errlen, "%s: not an RSA-2048 key", WX_PRIVATE_FILE);
    paykeys_signer_free(&s);
    return rc;
}

/* The APIv3 key: exactly WXPAY_APIV3_KEY_LEN printable ASCII bytes, after dropping one
 * trailing newline ("\n" or "\r\n"): editors add one, and a key that is one byte off would
 * otherwise fail every GCM tag check with no hint why. */
static int load_apiv3(const config_t *cfg, unsigned char *key, char *err, size_t errlen)
{
    char sbox[PATH_MAX], *text = NULL;
    size_t len = 0;
    const char *path = NULL;
    if (file_setting(cfg, "wechat.apiv3_key_file", cfg->wechat_apiv3_key_file, APIV3_FILE, &path, sbox, sizeof(sbox),
                     err, errlen) != 0 ||
        read_file("wechat.apiv3_key_file", path, PAYKEYS_FILE_MAX, &text, &len, err, errlen) != 0)
        return -1;
    size_t n = len;
    if (n > 0 && text[n - 1] == '\n')
        n -= n > 1 && text[n - 2] == '\r' ? 2 : 1;
    int rc = n == WXPAY_APIV3_KEY_LEN ? 0 : -1;
    for (size_t i = 0; rc == 0 && i < n; i++)
        if ((unsigned char)text[i] < 0x21 || (unsigned char)text[i] > 0x7e)
            rc = -1;
    if (rc == 0)
        memcpy(key, text, WXPAY_APIV3_KEY_LEN);
    else
        fail(err, errlen, "wechat.apiv3_key_file: %s must hold exactly %d printable ASCII bytes", path,
             WXPAY_APIV3_KEY_LEN);
    free_secret(text, len);
    return rc;
}

int paykeys_wechat_platform_load(const config_t *cfg, wxpay_keys_t **keys, char *err, size_t errlen)
{
    const char *spec = cfg->wechat_platform_keys;
    int set = spec != NULL && spec[0] != '\0';
    *keys = NULL;
    if (!set && !paykeys_is_sandbox(cfg))
        return 0;
    wxpay_keys_t *map = wxpay_keys_new();
    if (map == NULL)
        return fail(err, errlen, "out of memory");
    if ((set ? add_platform_spec(map, spec, err, errlen) : add_sandbox_platform(cfg, map, err, errlen)) != 0) {
        wxpay_keys_free(map);
        return -1;
    }
    *keys = map;
    return 0;
}

int paykeys_wechat_load(const config_t *cfg, paykeys_wechat_t *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    if (take_id(cfg, "wechat.mchid", cfg->wechat_mchid, PAYKEYS_SANDBOX_MCHID, k->mchid, sizeof(k->mchid), err,
                errlen) != 0 ||
        take_id(cfg, "wechat.appid", cfg->wechat_appid, PAYKEYS_SANDBOX_APPID, k->appid, sizeof(k->appid), err,
                errlen) != 0 ||
        load_apiv3(cfg, k->apiv3_key, err, errlen) != 0 ||
        paykeys_wechat_platform_load(cfg, &k->platform, err, errlen) != 0)
        goto fail;
    if (k->platform == NULL) {
        fail(err, errlen, "wechat.platform_keys is not set (payments.mode is live)");
        goto fail;
    }
    k->merchant = (wxpay_merchant_t){k->mchid, k->appid, k->apiv3_key};
    return 0;
fail:
    paykeys_wechat_free(k);
    return -1;
}

void paykeys_wechat_free(paykeys_wechat_t *k)
{
    wxpay_keys_free(k->platform);
    OPENSSL_cleanse(k, sizeof(*k));
}

int paykeys_wechat_merchant_load(const config_t *cfg, paykeys_wechat_merchant_t *m, char *err, size_t errlen)
{
    memset(m, 0, sizeof(*m));
    int appid_set = cfg->wechat_appid != NULL && cfg->wechat_appid[0] != '\0';
    if (take_id(cfg, "wechat.mchid", cfg->wechat_mchid, PAYKEYS_SANDBOX_MCHID, m->mchid, sizeof(m->mchid), err,
                errlen) != 0 ||
        ((appid_set || paykeys_is_sandbox(cfg)) &&
         take_id(cfg, "wechat.appid", cfg->wechat_appid, PAYKEYS_SANDBOX_APPID, m->appid, sizeof(m->appid), err,
                 errlen) != 0) ||
        take_id(cfg, "wechat.merchant_serial", cfg->wechat_merchant_serial, NULL, m->serial, sizeof(m->serial), err,
                errlen) != 0 ||
        own_key(cfg, "wechat.merchant_key_file", cfg->wechat_merchant_key_file, WX_MERCHANT_FILE, wxpay_private_key_pem,
                &m->private_key, err, errlen) != 0) {
        paykeys_wechat_merchant_free(m);
        return -1;
    }
    return 0;
}

void paykeys_wechat_merchant_free(paykeys_wechat_merchant_t *m)
{
    EVP_PKEY_free(m->private_key);
    memset(m, 0, sizeof(*m));
}

/* ======================== Alipay ======================== */

static EVP_PKEY *alipay_public_file(const config_t *cfg, char *err, size_t errlen)
{
    char path[PATH_MAX];
    const char *set = cfg->alipay_public_key_file;
    if (set != NULL && set[0] != '\0')
        return key_file("alipay.public_key_file", set, alipay_public_key, err, errlen);
    if (!paykeys_is_sandbox(cfg)) {
        fail(err, errlen, "alipay.public_key_file is not set (payments.mode is live)");
        return NULL;
    }
    if (sandbox_path(cfg, ALI_PUBLIC_FILE, path, sizeof(path), err, errlen) != 0)
        return NULL;
    if (access(path, F_OK) == 0)
        return key_file("payments.sandbox_dir", path, alipay_public_key, err, errlen);
    /* The sandbox's private key verifies as well as its public half would. */
    if (sandbox_path(cfg, ALI_PRIVATE_FILE, path, sizeof(path), err, errlen) != 0)
        return NULL;
    return key_file("payments.sandbox_dir", path, alipay_private_key, err, errlen);
}

int paykeys_alipay_load(const config_t *cfg, paykeys_alipay_t *k, char *err, size_t errlen)
{
    memset(k, 0, sizeof(*k));
    if (take_id(cfg, "alipay.app_id", cfg->alipay_app_id, PAYKEYS_SANDBOX_APPID, k->app_id, sizeof(k->app_id), err,
                errlen) != 0 ||
        take_id(cfg, "alipay.seller_id", cfg->alipay_seller_id, PAYKEYS_SANDBOX_SELLER, k->seller_id,
                sizeof(k->seller_id), err, errlen) != 0 ||
        (k->alipay_public = alipay_public_file(cfg, err, errlen)) == NULL) {
        paykeys_alipay_free(k);
        return -1;
    }
    k->expect = (alipay_expect_t){k->app_id, k->seller_id};
    return 0;
}

void paykeys_alipay_free(paykeys_alipay_t *k)
{
    EVP_PKEY_free(k->alipay_public);
    memset(k, 0, sizeof(*k));
}

int paykeys_alipay_public_load(const config_t *cfg, EVP_PKEY **key, char *err, size_t errlen)
{
    const char *set = cfg->alipay_public_key_file;
    *key = NULL;
    if ((set == NULL || set[0] == '\0') && !paykeys_is_sandbox(cfg))
        return 0;
    *key = alipay_public_file(cfg, err, errlen);
    return *key != NULL ? 0 : -1;
}

int paykeys_alipay_app_load(const config_t *cfg, paykeys_alipay_app_t *a, char *err, size_t errlen)
{
    memset(a, 0, sizeof(*a));
    if (take_id(cfg, "alipay.app_id", cfg->alipay_app_id, PAYKEYS_SANDBOX_APPID, a->app_id, sizeof(a->app_id), err,
                errlen) != 0 ||
        own_key(cfg, "alipay.app_key_file", cfg->alipay_app_key_file, ALI_APP_FILE, alipay_private_key, &a->private_key,
                err, errlen) != 0) {
        paykeys_alipay_app_free(a);
        return -1;
    }
    return 0;
}

void paykeys_alipay_app_free(paykeys_alipay_app_t *a)
{
    EVP_PKEY_free(a->private_key);
    memset(a, 0, sizeof(*a));
}

/* ======================== the sandbox's signers ======================== */

static int sandbox_key(const config_t *cfg, const char *name, EVP_PKEY *(*parse)(const char *, size_t),
                       paykeys_signer_t *s, char *err, size_t errlen)
{
    char path[PATH_MAX];
    memset(s, 0, sizeof(*s));
    if (!paykeys_is_sandbox(cfg))
        return fail(err, errlen, "payments.mode is not sandbox: the sandbox provider signs nothing");
    if (sandbox_path(cfg, name, path, sizeof(path), err, errlen) != 0)
        return -1;
    s->private_key = key_file("payments.sandbox_dir", path, parse, err, errlen);
    return s->private_key != NULL ? 0 : -1;
}

int paykeys_sandbox_wechat_signer(const config_t *cfg, paykeys_signer_t *s, char *err, size_t errlen)
{
    if (sandbox_key(cfg, WX_PRIVATE_FILE, wxpay_private_key_pem, s, err, errlen) != 0)
        return -1;
    if (sandbox_serial(cfg, s->serial, sizeof(s->serial), err, errlen) != 0) {
        paykeys_signer_free(s);
        return -1;
    }
    return 0;
}

int paykeys_sandbox_alipay_signer(const config_t *cfg, paykeys_signer_t *s, char *err, size_t errlen)
{
    return sandbox_key(cfg, ALI_PRIVATE_FILE, alipay_private_key, s, err, errlen);
}

void paykeys_signer_free(paykeys_signer_t *s)
{
    EVP_PKEY_free(s->private_key);
    memset(s, 0, sizeof(*s));
}
