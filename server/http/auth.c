/*
 * Bearer tokens and their sessions (see auth.h). Worker threads only: every call uses the
 * calling worker's own Redis connection and keeps nothing between calls.
 *
 * A token is 32 bytes from RAND_bytes, written as base64url without padding (43 chars).
 * Redis holds the session under `sess:<hex SHA-256 of the token>`, a hash of user_id, role,
 * market_id, vendor_id and courier_id, expiring after auth.token_ttl_s: a copy of Redis (or
 * its log) does not hand out working tokens.
 *
 * A session is a snapshot of the user at sign-in. Disabling a user refuses their next
 * login, but a session they already hold lives until its TTL (or logout): whoever disables
 * an account and needs it out at once must also delete its sessions.
 */
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "server/http/auth.h"
#include "models/base/b64.h"

#define TOKEN_BYTES 32
#define TOKEN_LEN   43 /* base64url of 32 bytes, no padding: every token we issue */

static const struct {
    const char *name;
    role_t role;
} role_names[] = {
    {"consumer", ROLE_CONSUMER}, {"vendor", ROLE_VENDOR},     {"courier", ROLE_COURIER},
    {"operator", ROLE_OPERATOR}, {"platform", ROLE_PLATFORM},
};

static role_t role_of(const char *name, size_t len)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (strlen(role_names[i].name) == len && memcmp(role_names[i].name, name, len) == 0)
            return role_names[i].role;
    return ROLE_NONE;
}

static const char *role_name(role_t role)
{
    for (size_t i = 0; i < sizeof(role_names) / sizeof(role_names[0]); i++)
        if (role_names[i].role == role)
            return role_names[i].name;
    return NULL;
}

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Hex SHA-256 of [token, token+len) into hex (65 bytes). 0 or -1. */
static int token_hash(const char *token, size_t len, char *hex)
{
    unsigned char md[32];
    unsigned int mdlen = 0;
    if (EVP_Digest(token, len, md, &mdlen, EVP_sha256(), NULL) != 1 || mdlen != sizeof(md))
        return -1;
    for (size_t i = 0; i < sizeof(md); i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    return 0;
}

/* The token of `Authorization: Bearer <token>`: scheme case-insensitive, one space, then
 * exactly TOKEN_LEN base64url characters. NULL for anything else. */
static const char *bearer_token(const char *header)
{
    if (header == NULL || strncasecmp(header, "Bearer ", 7) != 0)
        return NULL;
    const char *t = header + 7;
    size_t n = 0;
    while (n <= TOKEN_LEN && t[n] != '\0') {
        if (!is_b64url(t[n]))
            return NULL;
        n++;
    }
    return n == TOKEN_LEN && t[n] == '\0' ? t : NULL;
}

/* ---- reading a session ----------------------------------------------------------------- */

static int64_t field_i64(const redisReply *v)
{
    if (v->type != REDIS_REPLY_STRING || v->len == 0 || v->len > 18)
        return 0;
    char buf[20];
    memcpy(buf, v->str, v->len);
    buf[v->len] = '\0';
    return strtoll(buf, NULL, 10);
}

/* Fills who from an HGETALL answer. 0, or -1 if it is empty (unknown or expired) or odd. */
static int session_parse(const redisReply *rep, principal_t *who)
{
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements == 0 || rep->elements % 2 != 0)
        return -1;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        const redisReply *k = rep->element[i], *v = rep->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            return -1;
        if (strcmp(k->str, "user_id") == 0)
            who->user_id = field_i64(v);
        else if (strcmp(k->str, "role") == 0)
            who->role = role_of(v->str, v->len);
        else if (strcmp(k->str, "market_id") == 0)
            who->market_id = field_i64(v);
        else if (strcmp(k->str, "vendor_id") == 0)
            who->vendor_id = field_i64(v);
        else if (strcmp(k->str, "courier_id") == 0)
            who->courier_id = field_i64(v);
    }
    return who->user_id > 0 && who->role != ROLE_NONE ? 0 : -1;
}

int auth_check(api_req_t *req, worker_t *w, int roles)
{
    principal_t who = {0};
    const char *token = bearer_token(req->authorization);
    if (req->authorization == NULL) {
        api_reply_error(req, SF_E_UNAUTHORIZED, NULL, "a bearer token is required", NULL);
        return -1;
    }
    if (token == NULL || token_hash(token, TOKEN_LEN, who.token_hash) != 0) {
        api_reply_error(req, SF_E_UNAUTHORIZED, NULL, "the Authorization header is not `Bearer <token>`", NULL);
        return -1;
    }
    redisReply *rep = redis_cmd(&w->redis, "HGETALL sess:%s", who.token_hash);
    if (rep == NULL || rep->type == REDIS_REPLY_ERROR) {
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "sessions cannot be checked right now", NULL);
        goto fail;
    }
    if (session_parse(rep, &who) != 0) {
        api_reply_error(req, SF_E_UNAUTHORIZED, NULL, "the token is unknown or has expired", NULL);
        goto fail;
    }
    if (((int)who.role & roles) == 0) {
        api_reply_error(req, SF_E_FORBIDDEN, NULL, "this route does not admit your role", NULL);
        goto fail;
    }
    freeReplyObject(rep);
    req->who = who;
    return 0;
fail:
    if (rep != NULL)
        freeReplyObject(rep);
    return -1;
}

/* ---- writing a session ----------------------------------------------------------------- */

/* Runs one command of a MULTI block; 0 if Redis queued (or ran) it. */
static int queued(redisReply *rep)
{
    int ok = rep != NULL && rep->type != REDIS_REPLY_ERROR;
    if (rep != NULL)
        freeReplyObject(rep);
    return ok ? 0 : -1;
}

int auth_issue(redis_t *r, const principal_t *who, char *token, size_t tokenlen)
{
    return auth_issue_for(r, who, r->cfg->auth_token_ttl_s, token, tokenlen);
}

int auth_issue_for(redis_t *r, const principal_t *who, int ttl_s, char *token, size_t tokenlen)
{
    unsigned char raw[TOKEN_BYTES];
    char b64[64], hash[65];
    const char *role = role_name(who->role);
    if (role == NULL || ttl_s < 1 || tokenlen <= TOKEN_LEN || RAND_bytes(raw, sizeof(raw)) != 1)
        return -1;
    size_t n = 0;
    if (b64url_encode(raw, sizeof(raw), b64, sizeof(b64), &n) != B64_OK || n != TOKEN_LEN)
        return -1;
    if (token_hash(b64, TOKEN_LEN, hash) != 0)
        return -1;
    /* MULTI: the session and its expiry exist together or not at all (a dropped connection
     * discards the block), so no session outlives its TTL. */
    redisReply *exec = NULL;
    int rc = -1;
    if (queued(redis_cmd(r, "MULTI")) != 0)
        goto out;
    if (queued(redis_cmd(r, "HSET sess:%s user_id %lld role %s market_id %lld vendor_id %lld courier_id %lld", hash,
                         (long long)who->user_id, role, (long long)who->market_id, (long long)who->vendor_id,
                         (long long)who->courier_id)) != 0 ||
        queued(redis_cmd(r, "EXPIRE sess:%s %d", hash, ttl_s)) != 0) {
        queued(redis_cmd(r, "DISCARD"));
        goto out;
    }
    exec = redis_cmd(r, "EXEC");
    if (exec == NULL || exec->type != REDIS_REPLY_ARRAY || exec->elements != 2 ||
        exec->element[0]->type == REDIS_REPLY_ERROR || exec->element[1]->type != REDIS_REPLY_INTEGER ||
        exec->element[1]->integer != 1)
        goto out;
    snprintf(token, tokenlen, "%s", b64);
    rc = 0;
out:
    if (exec != NULL)
        freeReplyObject(exec);
    OPENSSL_cleanse(raw, sizeof(raw));
    OPENSSL_cleanse(b64, sizeof(b64));
    return rc;
}

int auth_revoke_token(redis_t *r, const char *token)
{
    char hash[65];
    size_t len = strlen(token);
    if (len != TOKEN_LEN || token_hash(token, len, hash) != 0)
        return -1;
    return auth_revoke(r, hash);
}

int auth_revoke(redis_t *r, const char *token_hash)
{
    redisReply *rep = redis_cmd(r, "DEL sess:%s", token_hash);
    int rc = rep != NULL && rep->type == REDIS_REPLY_INTEGER ? 0 : -1;
    if (rep != NULL)
        freeReplyObject(rep);
    return rc;
}
