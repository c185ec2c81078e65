/*
 * SHA256withRSA (PKCS#1 v1.5) over a message given in parts: the one signature algorithm of
 * WeChat Pay API v3 and of Alipay RSA2, shared by models/wxpay.c and models/alipay.c so the
 * OpenSSL calls (and the rule that only a verdict of exactly 1 means valid) live once.
 *
 * Pure: any thread, nothing kept. Keys are borrowed; signatures go into caller buffers as
 * padded base64. Callers map the statuses onto their own (a bad signature is theirs to name).
 */
#ifndef SF_RSASIG_H
#define SF_RSASIG_H

#include <openssl/evp.h>
#include <stddef.h>

/* The largest signature written, in bytes: keys up to 6144 bits (1024 base64 characters). */
#define RSASIG_RAW_MAX 768

typedef enum rsasig_status {
    RSASIG_OK = 0,
    RSASIG_E_INVALID = -1,  /* the signature does not verify (OpenSSL said 0, or an error on the data) */
    RSASIG_E_SPACE = -2,    /* signing: the signature or its base64 does not fit */
    RSASIG_E_INTERNAL = -3, /* no key, out of memory, or OpenSSL failed before any verdict */
} rsasig_status_t;

/* A piece of the signed message. */
typedef struct rsasig_part {
    const char *p;
    size_t n;
} rsasig_part_t;

/* Verifies sig (siglen raw bytes) over the parts, each followed by `after` (NULL: nothing):
 * WeChat's "part\n" messages pass "\n", Alipay's single signing string NULL. RSASIG_OK only
 * when EVP_DigestVerifyFinal returns exactly 1. */
int rsasig_verify(EVP_PKEY *pub, const rsasig_part_t *parts, size_t n, const char *after, const unsigned char *sig,
                  size_t siglen);

/* Signs the same message shape with key, writing padded base64 and a NUL into out (outlen
 * bytes). RSASIG_OK, RSASIG_E_SPACE, or RSASIG_E_INTERNAL. */
int rsasig_sign(EVP_PKEY *key, const rsasig_part_t *parts, size_t n, const char *after, char *out, size_t outlen);

#endif
