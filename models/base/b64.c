/*
 * Strict base64 and base64url over OpenSSL (see b64.h). The text is validated completely
 * before OpenSSL sees it, because EVP_DecodeBlock is lenient where we must not be (it skips
 * leading and trailing whitespace) and silent where we need to know (it counts padding as
 * data). Both directions work in chunks through small stack buffers so that the caller's
 * buffer only ever receives the real bytes: base64url is mapped to the standard alphabet and
 * padded inside the chunk, and the decoded chunk is cleansed afterwards.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <string.h>
#include "models/base/b64.h"

#define CHUNK_TEXT  256 /* characters per EVP call: a multiple of 4 */
#define CHUNK_BYTES 192 /* the bytes CHUNK_TEXT characters carry */

/* The 6-bit value of c in the standard (url 0) or url alphabet, or -1. */
static int sextet(unsigned char c, int url)
{
    if (c >= 'A' && c <= 'Z')
        return c - 'A';
    if (c >= 'a' && c <= 'z')
        return c - 'a' + 26;
    if (c >= '0' && c <= '9')
        return c - '0' + 52;
    if (c == (url ? '-' : '+'))
        return 62;
    if (c == (url ? '_' : '/'))
        return 63;
    return -1;
}

/* The last data character before the padding must not carry bits beyond the real bytes:
 * with one byte in the last quantum its low 4 bits are zero, with two bytes its low 2. */
static int pad_bits_zero(const char *data, size_t ndata, size_t pad, int url)
{
    if (pad == 0)
        return 1;
    int v = sextet((unsigned char)data[ndata - 1], url);
    return (v & (pad == 2 ? 0x0f : 0x03)) == 0;
}

/* Validates padded base64; *pad gets the number of trailing '='. */
static int check_std(const char *in, size_t len, size_t *pad)
{
    size_t p = 0;
    if (len % 4 != 0 || len > B64_TEXT_MAX)
        return B64_E_LENGTH;
    while (p < 2 && p < len && in[len - 1 - p] == '=')
        p++;
    for (size_t i = 0; i < len - p; i++) {
        if (in[i] == '=')
            return B64_E_PADDING;
        if (sextet((unsigned char)in[i], 0) < 0)
            return B64_E_CHAR;
    }
    if (!pad_bits_zero(in, len - p, p, 0))
        return B64_E_PADDING;
    *pad = p;
    return B64_OK;
}

/* Validates unpadded base64url; *pad gets the '=' the decoder must add. */
static int check_url(const char *in, size_t len, size_t *pad)
{
    if (len % 4 == 1 || len > B64_TEXT_MAX)
        return B64_E_LENGTH;
    for (size_t i = 0; i < len; i++) {
        if (in[i] == '=')
            return B64_E_PADDING;
        if (sextet((unsigned char)in[i], 1) < 0)
            return B64_E_CHAR;
    }
    *pad = (4 - len % 4) % 4;
    if (!pad_bits_zero(in, len, *pad, 1))
        return B64_E_PADDING;
    return B64_OK;
}

/* Decodes validated text chunk by chunk; pad is how many '=' the whole text has or lacks. */
static int decode_checked(const char *in, size_t len, size_t pad, int url, unsigned char *out, size_t outlen,
                          size_t *written)
{
    unsigned char text[CHUNK_TEXT + 4], bytes[CHUNK_BYTES + 3];
    size_t total = (len + pad) / 4 * 3 - pad, done = 0;
    int rc = B64_OK;
    if (total > outlen)
        return B64_E_SPACE;
    for (size_t i = 0; i < len;) {
        size_t n = len - i < CHUNK_TEXT ? len - i : CHUNK_TEXT, m, eq = 0;
        for (m = 0; m < n; m++) {
            unsigned char c = (unsigned char)in[i + m];
            text[m] = !url ? c : c == '-' ? '+' : c == '_' ? '/' : c;
        }
        while (m % 4 != 0)
            text[m++] = '=';
        while (eq < 2 && eq < m && text[m - 1 - eq] == '=')
            eq++;
        int got = EVP_DecodeBlock(bytes, text, (int)m);
        if (got < (int)eq || done + (size_t)got - eq > total) {
            rc = B64_E_CHAR; /* cannot happen after validation; refuse rather than trust it */
            goto out;
        }
        memcpy(out + done, bytes, (size_t)got - eq);
        done += (size_t)got - eq;
        i += n;
    }
    if (written != NULL)
        *written = done;
out:
    OPENSSL_cleanse(bytes, sizeof(bytes));
    return rc;
}

int b64_decode(const char *in, size_t len, unsigned char *out, size_t outlen, size_t *written)
{
    size_t pad = 0;
    int rc = check_std(in, len, &pad);
    return rc != B64_OK ? rc : decode_checked(in, len, pad, 0, out, outlen, written);
}

int b64url_decode(const char *in, size_t len, unsigned char *out, size_t outlen, size_t *written)
{
    size_t pad = 0;
    int rc = check_url(in, len, &pad);
    return rc != B64_OK ? rc : decode_checked(in, len, pad, 1, out, outlen, written);
}

/* Encodes in chunks; base64url maps the alphabet and drops the padding of the last chunk. */
static int encode(const unsigned char *in, size_t len, int url, char *out, size_t outlen, size_t *written)
{
    unsigned char text[CHUNK_TEXT + 1];
    size_t done = 0;
    if (len > B64_TEXT_MAX)
        return B64_E_LENGTH;
    if ((url ? B64URL_ENCODED_LEN(len) : B64_ENCODED_LEN(len)) + 1 > outlen)
        return B64_E_SPACE;
    for (size_t i = 0; i < len; i += CHUNK_BYTES) {
        size_t n = len - i < CHUNK_BYTES ? len - i : CHUNK_BYTES;
        size_t m = (size_t)EVP_EncodeBlock(text, in + i, (int)n);
        for (size_t j = 0; j < m; j++) {
            unsigned char c = text[j];
            if (url && c == '=')
                break; /* only the last chunk has any, and only at its end */
            out[done++] = (char)(!url ? c : c == '+' ? '-' : c == '/' ? '_' : c);
        }
    }
    out[done] = '\0';
    if (written != NULL)
        *written = done;
    return B64_OK;
}

int b64_encode(const unsigned char *in, size_t len, char *out, size_t outlen, size_t *written)
{
    return encode(in, len, 0, out, outlen, written);
}

int b64url_encode(const unsigned char *in, size_t len, char *out, size_t outlen, size_t *written)
{
    return encode(in, len, 1, out, outlen, written);
}

const char *b64_status_str(int status)
{
    switch (status) {
    case B64_OK: return "ok";
    case B64_E_LENGTH: return "bad length";
    case B64_E_CHAR: return "character outside the alphabet";
    case B64_E_PADDING: return "misplaced padding";
    case B64_E_SPACE: return "output buffer too small";
    default: return "unknown base64 status";
    }
}
