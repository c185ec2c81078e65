/*
 * Reply helpers and input accessors for handlers. Runs on whichever thread the handler
 * runs on; touches only the api_req_t it is given (and the log, for a failed model call).
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "server/http/api.h"
#include "models/base/log.h"

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

void api_reply_invalid(api_req_t *req, const char *field, const char *reason)
{
    char msg[192]; /* a longer field and reason are cut here, still whole in details */
    snprintf(msg, sizeof(msg), "%s%s%s", field, field[0] != '\0' ? ": " : "", reason);
    api_reply_error(req, SF_E_INVALID, NULL, msg, json_pack("{s:s, s:s}", "field", field, "reason", reason));
}

void api_reply_db_failure(api_req_t *req, const db_t *db, int rc, const char *not_found)
{
    const char *where = req->route != NULL ? req->route->pattern : "?";
    req->cache_market = 0;
    if (rc == DB_NOROW) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, not_found, NULL);
    } else if (rc == DB_GONE || rc == DB_DEADLOCK) {
        log_warn("%s: %s", where, db->err);
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, NULL, NULL);
        req->retry_after = 1;
    } else {
        log_error("%s: %s", where, db->err);
        api_reply_error(req, SF_E_INTERNAL, NULL, NULL, NULL);
    }
}

void api_reply_list(api_req_t *req, json_t *items, const char *next_cursor)
{
    const char *next = next_cursor != NULL && next_cursor[0] != '\0' ? next_cursor : NULL;
    api_reply_json(req, 200, json_pack("{s:o, s:s?}", "items", items, "next_cursor", next));
}

int api_query_limit(api_req_t *req, size_t dflt, size_t max, size_t *limit)
{
    char buf[24], reason[64];
    int rc = api_query(req, "limit", buf, sizeof(buf));
    size_t n = rc == 1 ? strlen(buf) : 0;
    *limit = dflt;
    if (rc == 0)
        return 0;
    /* as many digits as max has at most: no overflow, and "0100" is as wrong as "1000" */
    int max_digits = snprintf(NULL, 0, "%zu", max);
    unsigned long long v = 0;
    if (rc == 1 && n > 0 && n <= (size_t)max_digits && strspn(buf, "0123456789") == n)
        v = strtoull(buf, NULL, 10);
    if (v < 1 || v > max) {
        snprintf(reason, sizeof(reason), "must be an integer from 1 to %zu", max);
        api_reply_invalid(req, "limit", reason);
        return -1;
    }
    *limit = (size_t)v;
    return 0;
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

void api_cache_bumped(api_req_t *req, int64_t market_id, uint64_t version)
{
    req->bumped_market = market_id;
    req->bumped_version = version;
}

const char *api_header(const api_req_t *req, const char *name)
{
    for (size_t i = 0; i < req->nheaders; i++)
        if (strcasecmp(req->hname[i], name) == 0)
            return req->hvalue[i];
    return NULL;
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
    free(req->idempotency_key);
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->hname[i]);
        free(req->hvalue[i]);
    }
    clear_reply(req);
    free(req->etag);
    free(req);
}
