/*
 * Reply helpers and input accessors for handlers. Runs on whichever thread the handler
 * runs on; touches only the api_req_t it is given (and the log, for a failed model call).
 */
#include <assert.h>
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "server/http/api.h"
#include "models/base/log.h"

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

/* Every reply goes through here. A handler replies once, at its end: a second reply means
 * some path forgot to stop after the first, which debug builds (the sanitizer run) catch.
 * The HTTP layer's own replies (router, limits, timeouts) use api_req_reset_reply(). */
static void begin_reply(api_req_t *req)
{
    assert(req->status == 0 && "a second reply to the same request");
    clear_reply(req);
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

char *api_json_text(const json_t *doc, size_t *len)
{
    /* 15 digits: a DECIMAL like 34.7477 comes out as written, not as 34.747700000000002 */
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(15)) : NULL;
    *len = text != NULL ? strlen(text) : 0;
    return text;
}

void api_reply_json(api_req_t *req, int status, json_t *doc)
{
    size_t len = 0;
    begin_reply(req);
    char *text = api_json_text(doc, &len);
    json_decref(doc);
    if (text == NULL) {
        set_fallback(req);
        return;
    }
    req->status = status;
    req->out = text;
    req->out_len = len;
    req->content_type = "application/json";
}

void api_reply_error(api_req_t *req, sf_status_t err, const char *code, const char *message, json_t *details)
{
    begin_reply(req);
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
    if (status_kind(err) == SF_E_UNAVAILABLE || status_kind(err) == SF_E_RATE_LIMITED)
        req->retry_after = 1;
}

void api_reply_status(api_req_t *req, const worker_t *w, sf_status_t rc, status_detail_t *d)
{
    const char *where = req->route != NULL ? req->route->pattern : "?";
    sf_status_t kind = status_kind(rc);
    json_t *details = d != NULL && d->details != NULL ? json_incref(d->details) : json_object();
    const char *field = d != NULL ? d->field : "";
    const char *reason = d != NULL && d->reason[0] != '\0' ? d->reason : NULL;
    char msg[224];         /* a longer field and reason are cut here, still whole in details */
    req->cache_market = 0; /* a failure is never cached */
    if (kind == SF_E_INTERNAL)
        log_error("%s: %s: %s", where, status_reason(rc), w != NULL && w->db.err[0] != '\0' ? w->db.err : "-");
    else if (rc == SF_E_DB_GONE || rc == SF_E_DEADLOCK)
        log_warn("%s: %s", where, w != NULL ? w->db.err : "-");
    /* a plain invalid value always names its field ("" for the body as a whole) */
    int named = field[0] != '\0' || rc == SF_E_INVALID;
    if (named && details != NULL)
        json_object_set_new(details, "field", json_string(field));
    if (named && kind == SF_E_INVALID) {
        if (reason == NULL)
            reason = status_message(rc);
        if (details != NULL)
            json_object_set_new(details, "reason", json_string(reason));
        snprintf(msg, sizeof(msg), "%s%s%s", field, field[0] != '\0' ? ": " : "", reason);
        reason = msg;
    }
    api_reply_error(req, rc, NULL, reason, details);
    if (d != NULL)
        status_detail_clear(d);
}

void api_reply_result(api_req_t *req, const worker_t *w, sf_status_t rc, status_detail_t *d, int status, json_t *doc)
{
    if (rc == SF_OK) {
        api_reply_json(req, status, doc);
        if (d != NULL)
            status_detail_clear(d);
    } else {
        json_decref(doc);
        api_reply_status(req, w, rc, d);
    }
}

void api_reply_static(api_req_t *req, int status, const char *content_type, const char *text)
{
    begin_reply(req);
    req->status = status;
    req->out = (char *)text;
    req->out_len = strlen(text);
    req->out_static = 1;
    req->content_type = content_type;
}

void api_reply_stream(api_req_t *req, const char *party, const char *after)
{
    api_reply_static(req, 200, "text/event-stream", "");
    snprintf(req->stream_party, sizeof(req->stream_party), "%s", party);
    snprintf(req->stream_after, sizeof(req->stream_after), "%s", after != NULL ? after : "");
}

void api_reply_text(api_req_t *req, int status, const char *content_type, char *text, size_t len)
{
    begin_reply(req);
    req->status = status;
    req->out = text;
    req->out_len = len;
    req->content_type = content_type;
}

void api_req_reset_reply(api_req_t *req)
{
    clear_reply(req);
    req->status = 0;
}

void api_reply_list(api_req_t *req, json_t *items, const char *next_cursor)
{
    const char *next = next_cursor != NULL && next_cursor[0] != '\0' ? next_cursor : NULL;
    api_reply_json(req, 200, json_pack("{s:o, s:s?}", "items", items, "next_cursor", next));
}

void api_reply_page(api_req_t *req, const worker_t *w, sf_status_t rc, status_detail_t *d, json_t *items,
                    const char *next_cursor)
{
    if (rc == SF_OK) {
        api_reply_list(req, items, next_cursor);
        return;
    }
    json_decref(items);
    api_reply_status(req, w, rc, d);
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
    req->bumped_stock = 0;
}

void api_cache_stock_bumped(api_req_t *req, int64_t market_id, uint64_t version, const int64_t *products, size_t n)
{
    req->bumped_market = market_id;
    req->bumped_version = version;
    req->bumped_stock = 1;
    free(req->bumped_products);
    req->bumped_products = NULL;
    req->nbumped_products = 0;
    if (n > 0 && (req->bumped_products = malloc(n * sizeof(*products))) != NULL) {
        memcpy(req->bumped_products, products, n * sizeof(*products));
        req->nbumped_products = n;
    } else if (n > 0) {
        req->bumped_stock = 0; /* out of memory: a hard bump keeps the writer's read right */
    }
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
    free(req->raw_path);
    json_decref(req->body);
    free(req->raw_body);
    free(req->authorization);
    free(req->if_none_match);
    free(req->idempotency_key);
    for (size_t i = 0; i < req->nheaders; i++) {
        free(req->hname[i]);
        free(req->hvalue[i]);
    }
    for (size_t i = 0; i < API_SIGNED_N; i++)
        free(req->signed_hdr[i]);
    clear_reply(req);
    free(req->etag);
    free(req->bumped_products);
    free(req);
}
