/*
 * Reply helpers and input accessors for handlers. Runs on whichever thread the handler
 * runs on; touches only the api_req_t it is given.
 */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include "api.h"

/* Ids above this do not survive a JavaScript client (doubles hold integers to 2^53). */
#define API_ID_MAX 9007199254740992LL

static const char fallback_500[] =
    "{\"error\":{\"code\":\"internal\",\"message\":\"an internal error occurred\",\"details\":{}}}";

static void clear_reply(api_req_t *req)
{
    if (!req->out_static)
        free(req->out);
    req->out = NULL;
    req->out_len = 0;
    req->out_static = 0;
}

static void set_fallback(api_req_t *req)
{
    clear_reply(req);
    req->status = 500;
    req->err = SF_E_INTERNAL;
    req->err_code = "internal";
    req->out = (char *)fallback_500;
    req->out_len = sizeof(fallback_500) - 1;
    req->out_static = 1;
    req->content_type = "application/json";
}

void api_reply_json(api_req_t *req, int status, json_t *doc)
{
    clear_reply(req);
    /* 15 digits: a DECIMAL like 34.7477 comes out as written, not as 34.747700000000002 */
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    json_decref(doc);
    if (text == NULL) {
        set_fallback(req);
        return;
    }
    req->status = status;
    req->out = text;
    req->out_len = strlen(text);
    req->content_type = "application/json";
}

void api_reply_error(api_req_t *req, sf_err_t err, const char *code, const char *message, json_t *details)
{
    clear_reply(req);
    size_t len = 0;
    char *text = error_render(err, code, message, details, &len);
    json_decref(details);
    if (text == NULL) {
        set_fallback(req);
        return;
    }
    req->status = error_status(err);
    req->err = err;
    req->err_code = code != NULL ? code : error_code(err);
    req->out = text;
    req->out_len = len;
    req->content_type = "application/json";
    if (err == SF_E_UNAVAILABLE || err == SF_E_RATE_LIMITED)
        req->retry_after = 1;
}

void api_reply_static(api_req_t *req, int status, const char *content_type, const char *text)
{
    clear_reply(req);
    req->status = status;
    req->out = (char *)text;
    req->out_len = strlen(text);
    req->out_static = 1;
    req->content_type = content_type;
}

void api_reply_text(api_req_t *req, int status, const char *content_type, char *text, size_t len)
{
    clear_reply(req);
    req->status = status;
    req->out = text;
    req->out_len = len;
    req->content_type = content_type;
}

int api_param_id(const api_req_t *req, size_t i, int64_t *out)
{
    if (i >= req->nparams)
        return -1;
    const char *s = req->params[i];
    if (*s == '\0' || *s == '0' || strlen(s) > 16)
        return -1;
    int64_t v = 0;
    for (; *s != '\0'; s++) {
        if (!isdigit((unsigned char)*s))
            return -1;
        v = v * 10 + (*s - '0');
    }
    if (v > API_ID_MAX)
        return -1;
    *out = v;
    return 0;
}

static int hexval(int c)
{
    if (c >= '0' && c <= '9')
        return c - '0';
    c = tolower(c);
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int api_decode(const char *s, size_t n, char *buf, size_t buflen, int plus_is_space)
{
    size_t o = 0;
    for (size_t i = 0; i < n; i++) {
        int c = (unsigned char)s[i];
        if (c == '%') {
            int hi, lo;
            if (i + 2 >= n || (hi = hexval(s[i + 1])) < 0 || (lo = hexval(s[i + 2])) < 0)
                return -1;
            c = hi * 16 + lo;
            i += 2;
        } else if (c == '+' && plus_is_space) {
            c = ' ';
        }
        if (c == '\0' || o + 1 >= buflen)
            return -1;
        buf[o++] = (char)c;
    }
    buf[o] = '\0';
    return 0;
}

int api_query(const api_req_t *req, const char *name, char *buf, size_t buflen)
{
    size_t nlen = strlen(name);
    const char *p = req->query != NULL ? req->query : "";
    while (*p != '\0') {
        const char *end = strchr(p, '&');
        size_t len = end != NULL ? (size_t)(end - p) : strlen(p);
        const char *eq = memchr(p, '=', len);
        size_t klen = eq != NULL ? (size_t)(eq - p) : len;
        if (klen == nlen && memcmp(p, name, nlen) == 0) {
            const char *v = eq != NULL ? eq + 1 : p + len;
            return api_decode(v, (size_t)(p + len - v), buf, buflen, 1) == 0 ? 1 : -1;
        }
        if (end == NULL)
            break;
        p = end + 1;
    }
    return 0;
}

void api_req_free(api_req_t *req)
{
    if (req == NULL)
        return;
    for (size_t i = 0; i < req->nparams; i++)
        free(req->params[i]);
    free(req->query);
    json_decref(req->body);
    free(req->raw_body);
    free(req->authorization);
    free(req->if_none_match);
    clear_reply(req);
    free(req->etag);
    free(req);
}
