/*
 * WeChat code2session through libcurl (see wechat.h). Each call makes and frees its own
 * easy handle; the answer is buffered up to WECHAT_ANSWER_MAX and parsed with jansson.
 * WeChat answers HTTP 200 with {"openid", "session_key", ...} or {"errcode", "errmsg"}; its
 * Content-Type is not always JSON, so it is not checked. session_key is not kept: this
 * backend needs only who the user is.
 */
#include <curl/curl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/providers/wechat.h"

typedef struct answer {
    char buf[WECHAT_ANSWER_MAX];
    size_t len;
} answer_t;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    answer_t *a = ud;
    size_t add = size * n;
    if (add > sizeof(a->buf) - a->len)
        return 0; /* too long: libcurl stops with CURLE_WRITE_ERROR */
    memcpy(a->buf + a->len, ptr, add);
    a->len += add;
    return add;
}

/* The code2session URL with every value percent-encoded; NULL if out of memory or too long. */
static char *build_url(CURL *c, const config_t *cfg, const char *code)
{
    char *appid = curl_easy_escape(c, cfg->wechat_appid, 0);
    char *secret = curl_easy_escape(c, cfg->wechat_secret, 0);
    char *jscode = curl_easy_escape(c, code, 0);
    char *url = NULL;
    if (appid != NULL && secret != NULL && jscode != NULL) {
        size_t n = strlen(cfg->wechat_api_base) + strlen(appid) + strlen(secret) + strlen(jscode) + 96;
        url = malloc(n);
        if (url != NULL)
            snprintf(url, n, "%s/sns/jscode2session?appid=%s&secret=%s&js_code=%s&grant_type=authorization_code",
                     cfg->wechat_api_base, appid, secret, jscode);
    }
    curl_free(appid);
    curl_free(secret);
    curl_free(jscode);
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

static int parse_answer(const answer_t *a, char *openid, size_t len, char *err, size_t errlen)
{
    int rc = WECHAT_E_UNAVAILABLE;
    json_t *doc = json_loadb(a->buf, a->len, 0, NULL);
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

int wechat_code2session(const config_t *cfg, const char *code, char *openid, size_t len, char *err, size_t errlen)
{
    char discard[8];
    if (err == NULL) {
        err = discard;
        errlen = sizeof(discard);
    }
    err[0] = '\0';
    int rc = WECHAT_E_UNAVAILABLE;
    answer_t *a = calloc(1, sizeof(*a));
    CURL *c = curl_easy_init();
    char *url = c != NULL ? build_url(c, cfg, code) : NULL;
    long status = 0;
    if (a == NULL || url == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPGET, 1L);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)WECHAT_TIMEOUT_S);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L); /* worker threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, a);
    CURLcode cc = curl_easy_perform(c);
    if (cc != CURLE_OK) {
        snprintf(err, errlen, "code2session: %s", curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    if (status != 200) {
        snprintf(err, errlen, "code2session answered HTTP %ld", status);
        goto out;
    }
    rc = parse_answer(a, openid, len, err, errlen);
out:
    free(url);
    curl_easy_cleanup(c);
    free(a);
    return rc;
}
