/*
 * SHA256withRSA for the payment providers (see rsasig.h): one digest context per call, the
 * padding set explicitly to PKCS#1 v1.5 (never PSS, whatever the key's defaults), the message
 * fed part by part so no caller has to join it into a buffer first.
 */
#include <openssl/rsa.h>
#include <string.h>
#include "models/base/b64.h"
#include "models/providers/rsasig.h"

/* A digest-sign or digest-verify context for key with SHA-256 and PKCS#1 v1.5 padding. */
static EVP_MD_CTX *rsa_ctx(EVP_PKEY *key, int sign)
{
    EVP_MD_CTX *ctx = key != NULL ? EVP_MD_CTX_new() : NULL;
    EVP_PKEY_CTX *pctx = NULL;
    int ok = ctx != NULL && (sign ? EVP_DigestSignInit_ex(ctx, &pctx, "SHA256", NULL, NULL, key, NULL)
                                  : EVP_DigestVerifyInit_ex(ctx, &pctx, "SHA256", NULL, NULL, key, NULL)) == 1;
    if (ok && EVP_PKEY_CTX_set_rsa_padding(pctx, RSA_PKCS1_PADDING) != 1)
        ok = 0;
    if (!ok) {
        EVP_MD_CTX_free(ctx);
        return NULL;
    }
    return ctx;
}

static int feed(EVP_MD_CTX *ctx, int sign, const rsasig_part_t *parts, size_t n, const char *after)
{
    size_t alen = after != NULL ? strlen(after) : 0;
    for (size_t i = 0; i < n; i++) {
        int a = sign ? EVP_DigestSignUpdate(ctx, parts[i].p, parts[i].n)
                     : EVP_DigestVerifyUpdate(ctx, parts[i].p, parts[i].n);
        int b = alen == 0 ? 1
                : sign    ? EVP_DigestSignUpdate(ctx, after, alen)
                          : EVP_DigestVerifyUpdate(ctx, after, alen);
        if (a != 1 || b != 1)
            return -1;
    }
    return 0;
}

int rsasig_verify(EVP_PKEY *pub, const rsasig_part_t *parts, size_t n, const char *after, const unsigned char *sig,
                  size_t siglen)
{
    EVP_MD_CTX *ctx = rsa_ctx(pub, 0);
    if (ctx == NULL)
        return RSASIG_E_INTERNAL;
    /* 0 is "invalid", a negative value an error: neither is a valid signature. */
    int rc = feed(ctx, 0, parts, n, after) == 0 && EVP_DigestVerifyFinal(ctx, sig, siglen) == 1 ? RSASIG_OK
                                                                                                : RSASIG_E_INVALID;
    EVP_MD_CTX_free(ctx);
    return rc;
}

int rsasig_sign(EVP_PKEY *key, const rsasig_part_t *parts, size_t n, const char *after, char *out, size_t outlen)
{
    unsigned char raw[RSASIG_RAW_MAX];
    size_t rawlen = 0;
    int rc = RSASIG_E_INTERNAL;
    EVP_MD_CTX *ctx = rsa_ctx(key, 1);
    if (ctx == NULL || feed(ctx, 1, parts, n, after) != 0 || EVP_DigestSignFinal(ctx, NULL, &rawlen) != 1)
        goto out;
    if (rawlen > sizeof(raw)) {
        rc = RSASIG_E_SPACE;
        goto out;
    }
    if (EVP_DigestSignFinal(ctx, raw, &rawlen) != 1)
        goto out;
    rc = b64_encode(raw, rawlen, out, outlen, NULL) == B64_OK ? RSASIG_OK : RSASIG_E_SPACE;
out:
    EVP_MD_CTX_free(ctx);
    return rc;
}
