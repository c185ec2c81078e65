/*
 * The signature of a supervision platform's request (API.md "Supervision platforms"):
 *
 *   X-Signature = Base64(HMAC-SHA256(secret, METHOD "\n" PATH "\n" CANONICAL_QUERY "\n"
 *                                            HEX(SHA256(body)) "\n" TIMESTAMP "\n" NONCE))
 *
 * CANONICAL_QUERY: the query's parameters exactly as received (percent-encoding untouched),
 * sorted by name and then by value, byte-wise, written "name=value" and joined by "&"; a
 * parameter without "=" is written "name="; empty pieces ("a=1&&b=2") are dropped. The HMAC
 * key is the secret's text as it was shown (its ASCII bytes). The one implementation: the
 * server verifies with it, `stallfront platform pull` signs with it. Pure, any thread.
 */
#ifndef SF_PLATSIG_H
#define SF_PLATSIG_H

#include <stddef.h>

#define PLATSIG_B64_MAX 48 /* a Base64 HMAC-SHA256 (44 characters) with its NUL */

/* The canonical query of a raw query string (without '?'; NULL or "" for none), malloc'd;
 * NULL when out of memory. */
char *platsig_canonical_query(const char *query);

/* 1 if a parameter name comes twice in the raw query (compared as sent: the canonical query
 * would sign both values, a handler reads the first), 0 if not, -1 if out of memory. Sorts,
 * as the canonical query does: n log n, whatever the query an unauthenticated client sends. */
int platsig_query_repeats(const char *query);

/* The string to sign, malloc'd (NULL when out of memory). body may be NULL when body_len is 0. */
char *platsig_string(const char *method, const char *path, const char *query, const void *body, size_t body_len,
                     const char *timestamp, const char *nonce);

/* The signature of the request into out (>= PLATSIG_B64_MAX bytes). 0, or -1. */
int platsig_sign(const char *secret, const char *method, const char *path, const char *query, const void *body,
                 size_t body_len, const char *timestamp, const char *nonce, char *out, size_t outlen);

#endif
