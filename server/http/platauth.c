/*
 * Signed platform requests (see platauth.h). Per request: one SQL query (platform_lookup)
 * and one Redis round trip (EVAL of NONCE_RATE_LUA); the seal key is read once per process.
 */
#include <openssl/crypto.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/base/log.h"
#include "models/base/platsig.h"
#include "models/platform.h"
#include "server/http/platauth.h"
#include "server/http/valid.h"

#define NONCE_MIN 8
#define NONCE_MAX 64
#define TS_MAX    12 /* digits: well past the year 33000 */
#define SIG_LEN   44 /* Base64 of an HMAC-SHA256 */

/* The one answer of every refusal that is not about the market or the rate. */
static const char REFUSED[] = "the request's signature, key, timestamp or nonce was refused";

/* KEYS[1] the nonce, KEYS[2] the client's rate counter; ARGV: nonce seconds, window seconds,
 * the limit. {0} a nonce seen before; {2, ttl} over the rate (the nonce stays spent: a retry
 * is signed afresh); {1} admitted. One atomic call: a counter never lives without its expiry. */
static const char NONCE_RATE_LUA[] =
    "if not redis.call('SET', KEYS[1], '1', 'NX', 'EX', ARGV[1]) then return {0, 0} end "
    "local c = redis.call('INCR', KEYS[2]) "
    "if c == 1 then redis.call('EXPIRE', KEYS[2], ARGV[2]) end "
    "if c > tonumber(ARGV[3]) then "
    "local t = redis.call('TTL', KEYS[2]) if t < 1 then t = 1 end return {2, t} end "
    "return {1, 0}";

/* What an unknown key's signature is computed with, so that it costs what a known one does. */
static const char DUMMY_SECRET[] = "unknown-key-unknown-key-unknown-key-unknown";

static int is_b64url(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' || c == '_';
}

/* Printable ASCII but the space (a Base64 nonce too). */
static int nonce_char(char c)
{
    return c >= 0x21 && c <= 0x7e;
}

static int is_b64(char c)
{
    return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '+' || c == '/' ||
           c == '=';
}

/* "pk_" and 21 base64url characters. */
static int app_key_ok(const char *s)
{
    if (s == NULL || strlen(s) != PLATFORM_APP_KEY_LEN || strncmp(s, "pk_", 3) != 0)
        return 0;
    for (size_t i = 3; i < PLATFORM_APP_KEY_LEN; i++)
        if (!is_b64url(s[i]))
            return 0;
    return 1;
}

/* Decimal seconds, 1 to TS_MAX digits, no sign. */
static int timestamp_ok(const char *s, long long *t)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n == 0 || n > TS_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] < '0' || s[i] > '9')
            return 0;
    *t = strtoll(s, NULL, 10);
    return 1;
}

static int nonce_ok(const char *s)
{
    size_t n = s != NULL ? strlen(s) : 0;
    if (n < NONCE_MIN || n > NONCE_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (!nonce_char(s[i]))
            return 0;
    return 1;
}

static int signature_ok(const char *s)
{
    if (s == NULL || strlen(s) != SIG_LEN)
        return 0;
    for (size_t i = 0; i < SIG_LEN; i++)
        if (!is_b64(s[i]))
            return 0;
    return 1;
}

/* Replies the one 401 and logs why. -1. */
static int refuse(api_req_t *req, const char *app_key, const char *why)
{
    log_info("platauth: refused %s (%s): %s", app_key_ok(app_key) ? app_key : "a malformed app key", req->request_id,
             why);
    api_reply_error(req, SF_E_BAD_SIGNATURE, NULL, REFUSED, NULL);
    return -1;
}

/* 1 if sig is the signature of the request under secret ("" never matches). */
static int signed_with(const api_req_t *req, const char *secret, const char *ts, const char *nonce, const char *sig)
{
    char want[PLATSIG_B64_MAX];
    if (secret[0] == '\0')
        return 0;
    const char *method = req->route->method;
    if (platsig_sign(secret, method, req->raw_path, req->query, req->raw_body, req->raw_body_len, ts, nonce, want,
                     sizeof(want)) != 0)
        return 0;
    int ok = strlen(want) == SIG_LEN && CRYPTO_memcmp(want, sig, SIG_LEN) == 0;
    OPENSSL_cleanse(want, sizeof(want));
    return ok;
}

/* The nonce and the rate, in one call: 1 admitted, 0 a replayed nonce, 2 over the rate
 * (*retry_after set), -1 Redis failed. */
static int nonce_and_rate(worker_t *w, int64_t client, const char *nonce, int per_min, int *retry_after)
{
    char knonce[128], krate[64], a1[16], a2[16], a3[16];
    snprintf(knonce, sizeof(knonce), "pn:%lld:%s", (long long)client, nonce);
    snprintf(krate, sizeof(krate), "pr:%lld", (long long)client);
    snprintf(a1, sizeof(a1), "%d", PLATAUTH_NONCE_S);
    snprintf(a2, sizeof(a2), "%d", 60);
    snprintf(a3, sizeof(a3), "%d", per_min);
    const char *argv[] = {"EVAL", NONCE_RATE_LUA, "2", knonce, krate, a1, a2, a3};
    size_t lens[8];
    for (size_t i = 0; i < 8; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = redis_cmdargv(&w->redis, 8, argv, lens);
    int rc = -1;
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
        rep->element[0]->type == REDIS_REPLY_INTEGER && rep->element[1]->type == REDIS_REPLY_INTEGER) {
        rc = (int)rep->element[0]->integer;
        *retry_after = (int)rep->element[1]->integer;
    }
    if (rep != NULL)
        freeReplyObject(rep);
    return rc;
}

int platauth_check(api_req_t *req, worker_t *w)
{
    const char *key = req->signed_hdr[API_SIGNED_APP_KEY], *ts = req->signed_hdr[API_SIGNED_TIMESTAMP];
    const char *nonce = req->signed_hdr[API_SIGNED_NONCE], *sig = req->signed_hdr[API_SIGNED_SIGNATURE];
    long long t = 0;
    int64_t market = 0;
    platform_client_t c;
    if (req->signed_bad != NULL)
        return refuse(req, key, req->signed_bad);
    if (key == NULL || ts == NULL || nonce == NULL || sig == NULL)
        return refuse(req, key, "a signed header is missing");
    if (!app_key_ok(key) || !timestamp_ok(ts, &t) || !nonce_ok(nonce) || !signature_ok(sig))
        return refuse(req, key, "a signed header is malformed");
    if (platsig_query_repeats(req->query) != 0)
        return refuse(req, key, "a query parameter is repeated");
    long long now = (long long)time(NULL);
    if (t < now - PLATAUTH_SKEW_S || t > now + PLATAUTH_SKEW_S)
        return refuse(req, key, "the timestamp is more than 300 s from the server's clock");
    int path_market = req->nparams > 0 && valid_path_id(req, 0, &market) == 0;
    sf_status_t rc = platform_lookup(&w->db, key, market, &c);
    if (rc == SF_E_BAD_SIGNATURE) {
        (void)signed_with(req, DUMMY_SECRET, ts, nonce, sig); /* the work a known key costs */
        return refuse(req, key, "unknown app key");
    }
    if (rc != SF_OK) {
        log_warn("platauth: %s: the client cannot be looked up: %s", req->request_id, w->db.err);
        api_reply_error(req, rc == SF_E_DB_GONE || rc == SF_E_DEADLOCK ? SF_E_UNAVAILABLE : SF_E_INTERNAL, NULL,
                        "signatures cannot be checked right now", NULL);
        return -1;
    }
    if (c.unopened) {
        int64_t id = c.id;
        platform_client_cleanse(&c);
        log_error("platauth: %s (%s): client %lld's sealed secret does not open (another seal key, or a changed row)",
                  key, req->request_id, (long long)id);
        return refuse(req, key, "the client's secret does not open (an internal error, logged)");
    }
    int active = c.active, granted = c.granted;
    int ok = signed_with(req, c.secret, ts, nonce, sig) || signed_with(req, c.prev_secret, ts, nonce, sig);
    int64_t client = c.id;
    platform_client_cleanse(&c);
    if (!ok)
        return refuse(req, key, "the signature does not match");
    if (!active)
        return refuse(req, key, "the client is disabled");
    int retry_after = 0;
    int nr = nonce_and_rate(w, client, nonce, req->cfg->platform_rate_per_min, &retry_after);
    if (nr < 0) {
        log_warn("platauth: %s: nonces cannot be checked: %s", req->request_id, w->redis.err);
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "signatures cannot be checked right now", NULL);
        return -1;
    }
    if (nr == 0)
        return refuse(req, key, "the nonce was used before");
    if (nr == 2) {
        log_info("platauth: %s (%s): over %d requests a minute", key, req->request_id, req->cfg->platform_rate_per_min);
        api_reply_error(req, SF_E_RATE_LIMITED, NULL, "too many requests from this client; try again later", NULL);
        req->retry_after = retry_after;
        return -1;
    }
    if (req->nparams > 0 && !path_market) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such market", NULL);
        return -1;
    }
    if (req->nparams > 0 && !granted) {
        log_info("platauth: %s (%s): market %lld not granted", key, req->request_id, (long long)market);
        api_reply_error(req, SF_E_MARKET_NOT_GRANTED, NULL, NULL, NULL);
        return -1;
    }
    req->who = (principal_t){.role = ROLE_PLATFORM, .user_id = client, .market_id = market};
    return 0;
}
