/*
 * The sandbox's files for a test process (see sandboxkeys.h).
 */
#include <check.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>
#include <stdio.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/support/sandboxkeys.h"
#include "tests/support/testutil.h"

static void write_key(const t_sandbox_t *s, EVP_PKEY *k, const char *name, int private)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s", path);
    ck_assert(private ? PEM_write_PrivateKey(f, k, NULL, NULL, 0, NULL, NULL) : PEM_write_PUBKEY(f, k));
    fclose(f);
}

static void write_text(const t_sandbox_t *s, const char *name, const char *text)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", s->dir, name);
    FILE *f = fopen(path, "w");
    ck_assert_msg(f != NULL, "%s", path);
    fputs(text, f);
    fclose(f);
}

void t_sandbox_make(t_sandbox_t *s, const char *tag)
{
    snprintf(s->dir, sizeof(s->dir), "%s/%s-%d", t_env("STALLFRONT_TEST_VAR"), tag, (int)getpid());
    mkdir(t_env("STALLFRONT_TEST_VAR"), 0700);
    mkdir(s->dir, 0700);
    snprintf(s->env, sizeof(s->env), "STALLFRONT_PAYMENTS_SANDBOX_DIR=%s", s->dir);
    EVP_PKEY *platform = EVP_RSA_gen(2048), *alipay = EVP_RSA_gen(2048), *app = EVP_RSA_gen(2048);
    s->merchant = EVP_RSA_gen(2048);
    ck_assert(platform && alipay && app && s->merchant);
    write_key(s, platform, "wechat_platform_private.pem", 1);
    write_key(s, platform, "wechat_platform_public.pem", 0);
    write_text(s, "wechat_platform_serial", "5157F09EFDC096DE15EBE81A47057A7232F1B8E1");
    write_text(s, "wechat_apiv3.key", "0123456789abcdefghijklmnopqrstuv");
    write_key(s, alipay, "alipay_private.pem", 1);
    write_key(s, alipay, "alipay_public.pem", 0);
    write_key(s, s->merchant, "wechat_merchant_private.pem", 1);
    write_key(s, app, "alipay_app_private.pem", 1);
    EVP_PKEY_free(platform);
    EVP_PKEY_free(alipay);
    EVP_PKEY_free(app);
}

void t_sandbox_remove(t_sandbox_t *s)
{
    EVP_PKEY_free(s->merchant);
    s->merchant = NULL;
    if (s->dir[0] != '\0')
        t_sh("rm -rf '%s'", s->dir);
}
