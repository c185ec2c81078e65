/*
 * The outbound HTTP client over libcurl (see httpc.h). The only file that includes curl.
 *
 * A call owns one easy handle, one header list and one answer buffer of answer_max + 1
 * bytes, allocated up front: answers are small (at most 64 KiB from a provider), and a
 * buffer that cannot grow cannot be grown past its bound. The write callback either refuses
 * the byte past the bound (libcurl then stops with CURLE_WRITE_ERROR) or drops it, as the
 * caller asked.
 */
#include <curl/curl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "models/providers/httpc.h"

#define HTTPC_H2_BUFFER 524288L /* CURL_MAX_READ_SIZE: see set_options */

/* What the callbacks see. */
typedef struct call {
    const httpc_req_t *req;
    httpc_resp_t *resp;
    int over; /* the answer was longer than answer_max */
} call_t;

void httpc_global_init(void)
{
    curl_global_init(CURL_GLOBAL_DEFAULT);
}

void httpc_global_cleanup(void)
{
    curl_global_cleanup();
}

void httpc_resp_free(httpc_resp_t *resp)
{
    free(resp->body);
    memset(resp, 0, sizeof(*resp));
}

char *httpc_escape(const char *s)
{
    char *e = curl_easy_escape(NULL, s, 0);
    char *copy = e != NULL ? strdup(e) : NULL; /* the caller frees with free(), not curl_free() */
    curl_free(e);
    return copy;
}

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    call_t *c = ud;
    httpc_resp_t *r = c->resp;
    size_t add = size * n, room = c->req->answer_max - r->len;
    if (add > room) {
        c->over = 1;
        if (!c->req->truncate)
            return 0; /* libcurl stops with CURLE_WRITE_ERROR */
    }
    size_t take = add < room ? add : room;
    memcpy(r->body + r->len, ptr, take);
    r->len += take;
    r->body[r->len] = '\0';
    return add;
}

/* Copies the value of header line [line, line+n) into out if its name is `name`. */
static void take_header(const char *line, size_t n, const char *name, char *out, size_t outlen)
{
    size_t nl = strlen(name);
    if (n <= nl + 1 || strncasecmp(line, name, nl) != 0 || line[nl] != ':')
        return;
    const char *v = line + nl + 1, *end = line + n;
    while (v < end && (*v == ' ' || *v == '\t'))
        v++;
    while (end > v && (end[-1] == '\r' || end[-1] == '\n' || end[-1] == ' '))
        end--;
    if ((size_t)(end - v) < outlen)
        snprintf(out, outlen, "%.*s", (int)(end - v), v);
}

static size_t on_header(char *ptr, size_t size, size_t n, void *ud)
{
    call_t *c = ud;
    const char *const *keep = c->req->keep_headers;
    for (size_t i = 0; keep != NULL && keep[i] != NULL && i < HTTPC_KEEP_MAX; i++)
        take_header(ptr, size * n, keep[i], c->resp->kept[i], sizeof(c->resp->kept[i]));
    return size * n;
}

/* The options every call shares, then this request's; h2_open: the handle's connection spoke
 * HTTP/2 on its last call (it is reused if still open). */
static void set_options(CURL *h, const httpc_req_t *req, struct curl_slist *list, call_t *c, int h2_open)
{
    long connect_s = req->connect_timeout_s > 0             ? req->connect_timeout_s
                     : req->timeout_s < HTTPC_CONNECT_S_MAX ? req->timeout_s
                                                            : HTTPC_CONNECT_S_MAX;
    curl_easy_setopt(h, CURLOPT_URL, req->url);
    if (req->body != NULL) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, req->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)req->body_len);
    } else {
        curl_easy_setopt(h, CURLOPT_HTTPGET, 1L);
    }
    /* A method other than the one the body implies (GET without, POST with) is named. */
    if (strcmp(req->method, req->body != NULL ? "POST" : "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, req->method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, list);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, req->timeout_s);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, connect_s);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* worker threads: no SIGALRM for DNS timeouts */
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 1L);
    curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 2L);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, c);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, c);
    /* HTTP/2 without the h2c Upgrade: prior knowledge over http (the peer must speak h2c),
     * ALPN over https (HTTP/1.1 if the peer offers no h2). libcurl 7.88 (Debian 12) has two
     * bugs here, worked around: a connection opened with prior knowledge fails when reused
     * with prior knowledge again ("Error in the HTTP2 framing layer", curl issue #10634,
     * fixed in 8.0), so a reused h2 connection is asked for plain HTTP/2 (it is h2 already:
     * no Upgrade is sent on it); and an answer longer than the receive buffer (16 KiB by
     * default) leaves its end unnoticed in the HTTP/2 layer until the next timer, 0.2 to 1 s
     * per answer, so the buffer is libcurl's largest (an answer that fits is done at once). */
    if (req->http2 > 0) {
        curl_easy_setopt(h, CURLOPT_BUFFERSIZE, HTTPC_H2_BUFFER);
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
                         strncmp(req->url, "http://", 7) != 0 ? (long)CURL_HTTP_VERSION_2TLS
                         : h2_open                            ? (long)CURL_HTTP_VERSION_2_0
                                                              : (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    } else if (req->http2 < 0)
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
}

struct httpc_conn {
    CURL *h;
    int h2_open; /* the last call on h spoke HTTP/2 (see set_options) */
};

httpc_conn_t *httpc_conn_new(void)
{
    httpc_conn_t *conn = calloc(1, sizeof(*conn));
    if (conn != NULL && (conn->h = curl_easy_init()) == NULL) {
        free(conn);
        conn = NULL;
    }
    return conn;
}

void httpc_conn_free(httpc_conn_t *conn)
{
    if (conn != NULL)
        curl_easy_cleanup(conn->h);
    free(conn);
}

/* One call on handle h (NULL: out of memory), its options reset first; h is the caller's. */
static sf_status_t call_on(CURL *h, const httpc_req_t *req, httpc_resp_t *resp, char *err, size_t errlen, int *h2_open)
{
    struct curl_slist *list = NULL;
    sf_status_t rc = SF_E_UNAVAILABLE;
    call_t c = {.req = req, .resp = resp};
    memset(resp, 0, sizeof(*resp));
    resp->body = calloc(1, req->answer_max + 1);
    if (h == NULL || resp->body == NULL) {
        snprintf(err, errlen, "out of memory");
        goto out;
    }
    for (size_t i = 0; req->headers != NULL && req->headers[i] != NULL; i++) {
        struct curl_slist *l = curl_slist_append(list, req->headers[i]);
        if (l == NULL) {
            snprintf(err, errlen, "out of memory");
            goto out;
        }
        list = l;
    }
    set_options(h, req, list, &c, h2_open != NULL && *h2_open);
    CURLcode cc = curl_easy_perform(h);
    if (cc != CURLE_OK) {
        if (c.over)
            snprintf(err, errlen, "the answer is longer than %zu bytes", req->answer_max);
        else
            snprintf(err, errlen, "%s", curl_easy_strerror(cc));
        goto out;
    }
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &resp->status);
    long version = 0;
    curl_easy_getinfo(h, CURLINFO_HTTP_VERSION, &version);
    if (h2_open != NULL)
        *h2_open = version == CURL_HTTP_VERSION_2_0;
    rc = SF_OK;
out:
    if (h != NULL) /* the header list goes: the handle must not point at it */
        curl_easy_setopt(h, CURLOPT_HTTPHEADER, NULL);
    curl_slist_free_all(list);
    return rc;
}

sf_status_t httpc_call(const httpc_req_t *req, httpc_resp_t *resp, char *err, size_t errlen)
{
    CURL *h = curl_easy_init();
    sf_status_t rc = call_on(h, req, resp, err, errlen, NULL);
    curl_easy_cleanup(h);
    return rc;
}

sf_status_t httpc_call_on(httpc_conn_t *conn, const httpc_req_t *req, httpc_resp_t *resp, char *err, size_t errlen)
{
    curl_easy_reset(conn->h); /* the options go, the connection stays */
    sf_status_t rc = call_on(conn->h, req, resp, err, errlen, &conn->h2_open);
    if (rc != SF_OK)
        conn->h2_open = 0;
    return rc;
}
