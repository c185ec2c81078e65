/*
 * WeChat code2session through the one client (see wechat.h and httpc.h); the answer is
 * buffered up to WECHAT_ANSWER_MAX and parsed with jansson.
 * WeChat answers HTTP 200 with {"openid", "session_key", ...} or {"errcode", "errmsg"}; its
 * Content-Type is not always JSON, so it is not checked. session_key is not kept: this
 * backend needs only who the user is.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/providers/httpc.h"
#include "models/providers/wechat.h"

/* The code2session URL with every value percent-encoded; NULL if out of memory. */
static char *build_url(const config_t *cfg, const char *code)
{
    char *appid = httpc_escape(cfg->wechat_appid);
    char *secret = httpc_escape(cfg->wechat_secret);
    char *jscode = httpc_escape(code);
    char *url = NULL;
    if (appid != NULL && secret != NULL && jscode != NULL) {
        size_t n = strlen(cfg->wechat_api_base) + strlen(appid) + strlen(secret) + strlen(jscode) + 96;
        url = malloc(n);
        if (url != NULL)
            snprintf(url, n, "%s/sns/jscode2session?appid=%s&secret=%s&js_code=%s&grant_type=authorization_code",
                     cfg->wechat_api_base, appid, secret, jscode);
    }
    free(appid);
    free(secret);
    free(jscode);
    return url;
}

/* An openid we are willing to store: 1..WECHAT_OPENID_MAX printable ASCII, no spaces. */
static int openid_ok(const char *s)
{
    size_t n = strlen(s);
    if (n == 0 || n > WECHAT_OPENID_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if (s[i] <= ' ' || s[i] > '~')
            return 0;
    return 1;
}

static sf_status_t parse_answer(const httpc_resp_t *a, char *openid, size_t len, char *err, size_t errlen)
{
    sf_status_t rc = WECHAT_E_UNAVAILABLE;
    json_t *doc = json_loadb(a->body, a->len, 0, NULL);
    json_t *errcode = json_object_get(doc, "errcode");
    const char *id = json_string_value(json_object_get(doc, "openid"));
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "code2session answered something that is not a JSON object");
    } else if (errcode != NULL && (!json_is_integer(errcode) || json_integer_value(errcode) != 0)) {
        const char *msg = json_string_value(json_object_get(doc, "errmsg"));
        snprintf(err, errlen, "code2session refused the code: errcode %lld %s",
                 json_is_integer(errcode) ? (long long)json_integer_value(errcode) : -1LL, msg != NULL ? msg : "");
        rc = WECHAT_E_CODE;
    } else if (id == NULL || !openid_ok(id) || strlen(id) >= len) {
        snprintf(err, errlen, "code2session answered without a usable openid");
    } else {
        snprintf(openid, len, "%s", id);
        rc = WECHAT_OK;
    }
    json_decref(doc);
    return rc;
}

sf_status_t wechat_code2session(const config_t *cfg, const char *code, char *openid, size_t len, char *err,
                                size_t errlen)
{
    char discard[8], why[HTTPC_ERR_MAX];
    httpc_resp_t *a = calloc(1, sizeof(*a)); /* ~9 KiB of kept headers: off the worker's stack */
    if (err == NULL) {
        err = discard;
        errlen = sizeof(discard);
    }
    err[0] = '\0';
    sf_status_t rc = WECHAT_E_UNAVAILABLE;
    char *url = build_url(cfg, code);
    if (a == NULL || url == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    httpc_req_t req = {.method = "GET", .url = url, .timeout_s = WECHAT_TIMEOUT_S, .answer_max = WECHAT_ANSWER_MAX};
    if (httpc_call(&req, a, why, sizeof(why)) != SF_OK) {
        snprintf(err, errlen, "code2session: %s", why);
        goto out;
    }
    if (a->status != 200) {
        snprintf(err, errlen, "code2session answered HTTP %ld", a->status);
        goto out;
    }
    rc = parse_answer(a, openid, len, err, errlen);
out:
    free(url);
    if (a != NULL)
        httpc_resp_free(a);
    free(a);
    return rc;
}
