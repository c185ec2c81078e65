/*
 * Base64 (RFC 4648 section 4, with '=' padding) and base64url (section 5, without padding),
 * strictly, on top of OpenSSL's EVP_EncodeBlock/EVP_DecodeBlock. Strict means: a padded text's
 * length is a multiple of 4, every character is in the alphabet, '=' appears only as the last
 * one or two characters, and the bits under the padding are zero, so every byte string has
 * exactly one accepted encoding. EVP_DecodeBlock's own trap (it returns 3*(n/4) bytes, counting
 * the zero bytes it makes for '=') is handled here: the length returned is the real one, and
 * nothing is ever written past it, so a 256-byte buffer holds a 344-character RSA signature.
 * Pure functions on caller buffers: any thread, nothing allocated, nothing to free. Decoded
 * bytes pass through a stack buffer that is cleansed before return (they may be key material).
 */
#ifndef SF_B64_H
#define SF_B64_H

#include <stddef.h>

/* Characters (without the NUL) that n bytes encode to. */
#define B64_ENCODED_LEN(n)    ((((n) + 2) / 3) * 4)
#define B64URL_ENCODED_LEN(n) (((n)*4 + 2) / 3)
/* The most bytes n characters can decode to. */
#define B64_DECODED_MAX(n) (((n) / 4) * 3 + ((n) % 4 * 3) / 4)
/* Texts longer than this are refused (EVP_DecodeBlock counts in int; nothing of ours is
 * remotely this big). */
#define B64_TEXT_MAX (64u * 1024 * 1024)

typedef enum b64_status {
    B64_OK = 0,
    B64_E_LENGTH = -1,  /* padded: not a multiple of 4; url: 1 more than a multiple of 4; too long */
    B64_E_CHAR = -2,    /* a character outside the alphabet (whitespace included) */
    B64_E_PADDING = -3, /* '=' not only at the end, more than two, '=' in base64url, or non-zero pad bits */
    B64_E_SPACE = -4,   /* the output buffer is too small: nothing useful was written */
} b64_status_t;

/* Encodes len bytes into out as padded base64 with a terminating NUL; out holds outlen bytes
 * and needs B64_ENCODED_LEN(len) + 1. *written (may be NULL) gets the characters written. */
int b64_encode(const unsigned char *in, size_t len, char *out, size_t outlen, size_t *written);

/* Decodes len characters of padded base64 into out (outlen bytes; the exact decoded length is
 * enough). *written (may be NULL) gets the byte count. B64_OK or a B64_E_* status; on error out holds
 * nothing meaningful. */
int b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen, size_t *written);

/* base64url without padding ('-' and '_' for '+' and '/'): the same contracts, for tokens and
 * cursors. B64URL_ENCODED_LEN(len) + 1 bytes of out are needed to encode. */
int b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen, size_t *written);
int b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen, size_t *written);

/* A short English name of a status, for logs. */
const char *b64_status_str(int status);

#endif
