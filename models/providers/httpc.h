/*
 * The one HTTP client for every outbound call: WeChat Pay, Alipay, WeChat sign-in, and the
 * sandbox payer posting to our own server. One blocking request per call, on its own libcurl
 * easy handle, made and freed inside the call: calls are rare (a payment attempt, a refund, a
 * sign-in) next to their network round trip, so nothing is pooled and nothing is shared
 * between threads. The same options hold for every call: HTTPS certificates and host names
 * verified, http and https only, no redirects followed, no signals (worker threads), the
 * answer buffered up to a maximum the caller sets, the connect and total timeouts the caller
 * sets.
 *
 * Callers: worker threads, CLI commands and tests; never an event-loop thread. The answer
 * (httpc_resp_t) is the caller's: free it with httpc_resp_free. No HTTP server types here,
 * and nothing about what an answer means: each provider reads its own.
 */
#ifndef SF_HTTPC_H
#define SF_HTTPC_H

#include <stddef.h>
#include "models/base/status.h"

#define HTTPC_KEEP_MAX      8    /* answer headers a call may ask to keep */
#define HTTPC_KEEP_VALUE    1100 /* bytes of a kept header's value (a base64 RSA-6144 signature fits) */
#define HTTPC_ERR_MAX       256  /* room for the reason a call got no answer */
#define HTTPC_CONNECT_S_MAX 10   /* the connect timeout when the caller gives none (the total bounds it too) */

typedef struct httpc_req {
    const char *method;              /* "GET", "POST", ... */
    const char *url;                 /* http:// or https:// only */
    const char *const *headers;      /* NULL-ended "Name: value" lines, or NULL */
    const char *body;                /* NULL: no body (GET) */
    size_t body_len;                 /* bytes of body */
    long timeout_s;                  /* the whole call, connect included; > 0 */
    long connect_timeout_s;          /* 0: min(timeout_s, HTTPC_CONNECT_S_MAX) */
    size_t answer_max;               /* bytes of the answer body kept; > 0 */
    int truncate;                    /* 1: a longer answer keeps its first answer_max bytes;
                                        0: a longer answer is no answer (not the peer we expect) */
    const char *const *keep_headers; /* NULL-ended names of answer headers to keep (≤ HTTPC_KEEP_MAX), or NULL */
    int http2;                       /* 1: HTTP/2: over http with prior knowledge (h2c; the server
                                        must speak it, no Upgrade), over https by ALPN h2 (else
                                        HTTP/1.1); -1: HTTP/1.1 only; 0: libcurl's default */
} httpc_req_t;

typedef struct httpc_resp {
    long status;                                 /* the HTTP status of the answer */
    char *body;                                  /* NUL-terminated; never NULL after SF_OK */
    size_t len;                                  /* bytes of body */
    char kept[HTTPC_KEEP_MAX][HTTPC_KEEP_VALUE]; /* values of keep_headers, in their order; "" if absent */
} httpc_resp_t;

/* Once per process, before any thread starts (libcurl's global state). */
void httpc_global_init(void);
void httpc_global_cleanup(void);

/* Sends the request and reads the answer into *resp (whatever its HTTP status). SF_OK once
 * an answer came; SF_E_UNAVAILABLE when none did (no connection, timeout, an answer over
 * answer_max without truncate, out of memory), with the reason in err. resp is filled or
 * emptied either way: free it with httpc_resp_free. */
sf_status_t httpc_call(const httpc_req_t *req, httpc_resp_t *resp, char *err, size_t errlen);

/* A libcurl handle kept between calls, so that they share one connection (a CLI paging
 * through a feed). One thread at a time; NULL when out of memory. */
typedef struct httpc_conn httpc_conn_t;
httpc_conn_t *httpc_conn_new(void);
void httpc_conn_free(httpc_conn_t *conn);

/* httpc_call on conn's connection (opened, or reopened, as needed). */
sf_status_t httpc_call_on(httpc_conn_t *conn, const httpc_req_t *req, httpc_resp_t *resp, char *err, size_t errlen);

/* Frees resp's body and empties it (resp itself is the caller's). */
void httpc_resp_free(httpc_resp_t *resp);

/* s percent-encoded for a URL's query or path (malloc'd; free()), or NULL if out of memory. */
char *httpc_escape(const char *s);

#endif
