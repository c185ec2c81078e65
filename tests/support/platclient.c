/*
 * Test support for the supervision platforms' API (platclient.h): clients made over HTTP by
 * a market's operator, and requests signed with models/base/platsig.h as a platform signs
 * them, over h2c.
 */
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/platsig.h"
#include "tests/support/fixture.h"
#include "tests/support/platclient.h"

static int seq; /* per process: unique client names */

void t_platform_create(const tserver_t *s, const char *operator_token, const char *scope, const int64_t *market_ids,
                       size_t n, t_platform_t *out)
{
    char name[64];
    snprintf(name, sizeof(name), "平台 %d-%d", (int)getpid(), seq++);
    json_t *ids = json_array();
    for (size_t i = 0; i < n; i++)
        json_array_append_new(ids, json_integer(market_ids[i]));
    json_t *body = json_pack("{s:s, s:s, s:o}", "name", name, "scope", scope, "market_ids", ids);
    ck_assert_ptr_nonnull(body);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    ck_assert_ptr_nonnull(text);
    tresp_t r = {0};
    t_call(s, "POST", "/v1/admin/platform-clients", operator_token, text, &r);
    free(text);
    ck_assert_msg(r.status == 201, "POST /v1/admin/platform-clients: %ld %s", r.status, r.body ? r.body : "");
    json_t *doc = t_json(&r);
    ck_assert_ptr_nonnull(doc);
    const char *key = json_string_value(json_object_get(doc, "app_key"));
    const char *secret = json_string_value(json_object_get(doc, "secret"));
    ck_assert_msg(key != NULL && secret != NULL, "no app_key or secret in %s", r.body);
    memset(out, 0, sizeof(*out));
    out->id = json_integer_value(json_object_get(doc, "id"));
    ck_assert_int_gt(out->id, 0);
    snprintf(out->app_key, sizeof(out->app_key), "%s", key);
    snprintf(out->secret, sizeof(out->secret), "%s", secret);
    json_decref(doc);
    t_resp_free(&r);
}

/* Splits "/path?query" into path (malloc'd) and the query after '?' ("" for none). */
static char *split(const char *path_query, const char **query)
{
    const char *q = strchr(path_query, '?');
    *query = q != NULL ? q + 1 : "";
    char *path = strndup(path_query, q != NULL ? (size_t)(q - path_query) : strlen(path_query));
    ck_assert_ptr_nonnull(path);
    return path;
}

long t_platform_get(const tserver_t *s, const t_platform_t *c, const char *path_query, json_t **doc)
{
    unsigned char raw[16];
    char ts[32], nonce[40], sig[PLATSIG_B64_MAX];
    ck_assert_int_eq(RAND_bytes(raw, sizeof(raw)), 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(nonce + 2 * i, 3, "%02x", raw[i]);
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL));
    const char *query;
    char *path = split(path_query, &query);
    ck_assert_int_eq(platsig_sign(c->secret, "GET", path, query, NULL, 0, ts, nonce, sig, sizeof(sig)), 0);
    free(path);
    tresp_t r = {0};
    long status = t_platform_request(s, "GET", path_query, NULL, c->app_key, ts, nonce, sig, &r);
    ck_assert_msg(status > 0, "no answer for GET %s", path_query);
    if (doc != NULL)
        *doc = t_json(&r);
    t_resp_free(&r);
    return status;
}

long t_platform_request(const tserver_t *s, const char *method, const char *path_query, const char *body,
                        const char *app_key, const char *timestamp, const char *nonce, const char *signature,
                        tresp_t *out)
{
    char url[2048], hk[256], ht[256], hn[256], hs[256];
    const char *h[6] = {NULL};
    size_t nh = 0;
    snprintf(url, sizeof(url), "%s%s", t_base(s, T_H2C), path_query);
    if (app_key != NULL) {
        snprintf(hk, sizeof(hk), "X-App-Key: %s", app_key);
        h[nh++] = hk;
    }
    if (timestamp != NULL) {
        snprintf(ht, sizeof(ht), "X-Timestamp: %s", timestamp);
        h[nh++] = ht;
    }
    if (nonce != NULL) {
        snprintf(hn, sizeof(hn), "X-Nonce: %s", nonce);
        h[nh++] = hn;
    }
    if (signature != NULL) {
        snprintf(hs, sizeof(hs), "X-Signature: %s", signature);
        h[nh++] = hs;
    }
    if (body != NULL)
        h[nh++] = "Content-Type: application/json";
    memset(out, 0, sizeof(*out));
    if (t_request(T_H2C, method, url, h, body, body != NULL ? strlen(body) : 0, out) != 0)
        return -1;
    return out->status;
}
