/*
 * The platforms' request signature (platsig.h): the canonical string, then OpenSSL's HMAC.
 */
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <stdlib.h>
#include <string.h>
#include <sys/types.h>
#include "models/base/b64.h"
#include "models/base/platsig.h"

typedef struct piece {
    const char *s; /* "name" or "name=value", not NUL-terminated */
    size_t len;
    size_t name_len; /* bytes before '=' (len when there is none) */
} piece_t;

/* Byte-wise: by name, then by value. */
static int piece_cmp(const void *a, const void *b)
{
    const piece_t *x = a, *y = b;
    size_t n = x->name_len < y->name_len ? x->name_len : y->name_len;
    int c = memcmp(x->s, y->s, n);
    if (c != 0 || x->name_len != y->name_len)
        return c != 0 ? c : (x->name_len < y->name_len ? -1 : 1);
    const char *xv = x->s + x->name_len + (x->name_len < x->len), *yv = y->s + y->name_len + (y->name_len < y->len);
    size_t xl = x->len - (size_t)(xv - x->s), yl = y->len - (size_t)(yv - y->s);
    n = xl < yl ? xl : yl;
    c = memcmp(xv, yv, n);
    return c != 0 ? c : (xl < yl ? -1 : xl > yl);
}

/* The query's non-empty pieces, sorted by name then value, into *out (the caller frees it);
 * the count, or -1 if out of memory. */
static ssize_t split_sorted(const char *query, piece_t **out)
{
    size_t qlen = query != NULL ? strlen(query) : 0, n = 0, cap = 1;
    for (size_t i = 0; i < qlen; i++)
        cap += query[i] == '&';
    piece_t *p = calloc(cap, sizeof(*p));
    if ((*out = p) == NULL)
        return -1;
    for (const char *s = query; qlen > 0 && s <= query + qlen;) {
        const char *amp = memchr(s, '&', (size_t)(query + qlen - s));
        size_t len = amp != NULL ? (size_t)(amp - s) : (size_t)(query + qlen - s);
        if (len > 0) {
            const char *eq = memchr(s, '=', len);
            p[n++] = (piece_t){s, len, eq != NULL ? (size_t)(eq - s) : len};
        }
        if (amp == NULL)
            break;
        s = amp + 1;
    }
    qsort(p, n, sizeof(*p), piece_cmp);
    return (ssize_t)n;
}

char *platsig_canonical_query(const char *query)
{
    piece_t *p = NULL;
    size_t qlen = query != NULL ? strlen(query) : 0;
    ssize_t n = split_sorted(query, &p);
    char *out = n >= 0 ? malloc(2 * qlen + (size_t)n + 1) : NULL; /* every piece may gain a '=' */
    if (out == NULL) {
        free(p);
        return NULL;
    }
    size_t o = 0;
    for (ssize_t i = 0; i < n; i++) {
        if (i > 0)
            out[o++] = '&';
        memcpy(out + o, p[i].s, p[i].len);
        o += p[i].len;
        if (p[i].name_len == p[i].len)
            out[o++] = '=';
    }
    out[o] = '\0';
    free(p);
    return out;
}

int platsig_query_repeats(const char *query)
{
    piece_t *p = NULL;
    ssize_t n = split_sorted(query, &p);
    int rep = n < 0 ? -1 : 0;
    for (ssize_t i = 1; i < n && rep == 0; i++) /* sorted by name: a repeated one is a neighbour */
        rep = p[i].name_len == p[i - 1].name_len && memcmp(p[i].s, p[i - 1].s, p[i].name_len) == 0;
    free(p);
    return rep;
}

char *platsig_string(const char *method, const char *path, const char *query, const void *body, size_t body_len,
                     const char *timestamp, const char *nonce)
{
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char hex[2 * EVP_MAX_MD_SIZE + 1];
    if (EVP_Digest(body_len > 0 ? body : "", body_len, md, &mdlen, EVP_sha256(), NULL) != 1)
        return NULL;
    static const char digits[] = "0123456789abcdef";
    for (unsigned int i = 0; i < mdlen; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[2 * mdlen] = '\0';
    char *cq = platsig_canonical_query(query);
    if (cq == NULL)
        return NULL;
    size_t len = strlen(method) + strlen(path) + strlen(cq) + strlen(hex) + strlen(timestamp) + strlen(nonce) + 6;
    char *s = malloc(len);
    if (s != NULL)
        snprintf(s, len, "%s\n%s\n%s\n%s\n%s\n%s", method, path, cq, hex, timestamp, nonce);
    free(cq);
    return s;
}

int platsig_sign(const char *secret, const char *method, const char *path, const char *query, const void *body,
                 size_t body_len, const char *timestamp, const char *nonce, char *out, size_t outlen)
{
    unsigned char mac[EVP_MAX_MD_SIZE];
    unsigned int maclen = 0;
    size_t written = 0;
    char *s = platsig_string(method, path, query, body, body_len, timestamp, nonce);
    if (s == NULL)
        return -1;
    int ok = HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)s, strlen(s), mac, &maclen) != NULL;
    free(s);
    ok = ok && b64_encode(mac, maclen, out, outlen, &written) == B64_OK;
    return ok ? 0 : -1;
}
