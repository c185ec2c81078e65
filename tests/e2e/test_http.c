/*
 * End to end: the real `stallfront serve` binary, its real MariaDB and Redis, and libcurl
 * speaking HTTP/1.1, h2c (prior knowledge and Upgrade) and TLS h2 to it.
 */
#include <check.h>
#include <curl/curl.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tests/support/fixture.h"
#include "tests/support/testutil.h"

static const char *const test_env[] = {"STALLFRONT_TEST_ROUTES=1", NULL};
static tserver_t shared;
static int shared_exit = 0; /* the shared server's exit status, checked by main */

static const tproto_t all_protos[] = {T_HTTP1, T_H2C, T_H2TLS};
static const char *const proto_names[] = {"HTTP/1.1", "h2c", "TLS h2"};

static void shared_up(void)
{
    t_migrate(); /* /metrics reports the outbox backlog from the schema */
    ck_assert_msg(tserver_start(&shared, test_env) == 0, "server did not start");
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

/* GET base+path over proto; fails the test if no answer at all. */
static void get(const tserver_t *s, tproto_t proto, const char *path, tresp_t *r)
{
    char url[256];
    snprintf(url, sizeof(url), "%s%s", t_base(s, proto), path);
    ck_assert_msg(t_request(proto, "GET", url, NULL, NULL, 0, r) == 0, "no answer for %s", url);
}

static void post(const tserver_t *s, tproto_t proto, const char *path, const char *ctype, const char *body, size_t len,
                 tresp_t *r)
{
    char url[256], ct[128];
    snprintf(url, sizeof(url), "%s%s", t_base(s, proto), path);
    snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
    const char *h[] = {ct, NULL};
    ck_assert_msg(t_request(proto, "POST", url, h, body, len, r) == 0, "no answer for %s", url);
}

/* ---- protocols and the error shape (one shared server) ---- */

START_TEST(test_healthz_answers_over_http1_h2c_and_tls_h2)
{
    for (size_t i = 0; i < 3; i++) {
        tresp_t r;
        char buf[64];
        get(&shared, all_protos[i], "/healthz", &r);
        ck_assert_msg(r.status == 200, "%s: %ld", proto_names[i], r.status);
        ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
        ck_assert_int_eq(r.version, all_protos[i] == T_HTTP1 ? CURL_HTTP_VERSION_1_1 : CURL_HTTP_VERSION_2_0);
        ck_assert_str_eq(t_header(&r, "content-type", buf, sizeof(buf)), "application/json");
        ck_assert_ptr_nonnull(t_header(&r, "x-request-id", buf, sizeof(buf)));
        if (all_protos[i] == T_HTTP1) { /* Content-Length always, never chunked */
            ck_assert_str_eq(t_header(&r, "content-length", buf, sizeof(buf)), "15");
            ck_assert_ptr_null(t_header(&r, "transfer-encoding", buf, sizeof(buf)));
        }
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(test_h2c_upgrade_from_http1_is_answered_over_http2)
{
    tresp_t r;
    get(&shared, T_H2UPGRADE, "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.version, CURL_HTTP_VERSION_2_0);
    ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    t_resp_free(&r);
}
END_TEST

START_TEST(test_tls_also_speaks_http1_through_alpn)
{
    tresp_t r;
    get(&shared, T_H1TLS, "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_int_eq(r.version, CURL_HTTP_VERSION_1_1);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_readyz_is_200_when_mariadb_and_redis_answer)
{
    tresp_t r;
    get(&shared, T_H2C, "/readyz", &r);
    ck_assert_msg(r.status == 200, "readyz: %ld %s", r.status, r.body);
    json_t *doc = t_json(&r);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "mariadb")), "ok");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "redis")), "ok");
    json_decref(doc);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_unknown_path_is_404_in_the_error_shape_on_every_protocol)
{
    for (size_t i = 0; i < 3; i++) {
        tresp_t r;
        get(&shared, all_protos[i], "/v1/no/such/thing?x=1", &r);
        ck_assert_msg(r.status == 404, "%s: %ld", proto_names[i], r.status);
        ck_assert_msg(t_is_error(&r, "not_found"), "%s: %s", proto_names[i], r.body);
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(test_wrong_method_is_405_with_allow_in_the_error_shape)
{
    for (size_t i = 0; i < 3; i++) {
        tresp_t r;
        char buf[64];
        post(&shared, all_protos[i], "/healthz", "application/json", "{}", 2, &r);
        ck_assert_int_eq(r.status, 405);
        ck_assert(t_is_error(&r, "method_not_allowed"));
        ck_assert_str_eq(t_header(&r, "allow", buf, sizeof(buf)), "GET");
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(test_json_body_is_echoed_with_chinese_text_intact)
{
    static const char body[] = "{\"name\":\"西红柿\",\"qty\":500}";
    tresp_t r;
    post(&shared, T_H2C, "/_test/echo", "application/json; charset=utf-8", body, strlen(body), &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    json_t *doc = t_json(&r);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "body"), "name")), "西红柿");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "body"), "qty")), 500);
    json_decref(doc);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_bad_bodies_get_400_415_422_in_the_error_shape)
{
    static const struct {
        const char *ctype;
        const char *body;
        size_t len;
        long status;
        const char *code;
    } cases[] = {
        {"application/json", "{\"a\":", 5, 400, "malformed_json"},
        {"application/json", "{'a':1}", 7, 400, "malformed_json"},
        {"application/json", "", 0, 400, "malformed_json"},
        {"application/json", "{\"a\":1,\"a\":2}", 13, 400, "malformed_json"},    /* duplicate key */
        {"application/json", "{\"a\":\"\xff\xfe\"}", 10, 400, "malformed_json"}, /* invalid UTF-8 */
        {"application/json", "{\"a\":\"\xe8\xa5\"}", 9, 400, "malformed_json"},  /* truncated UTF-8 */
        {"application/json", "{\"a\":1} trailing", 16, 400, "malformed_json"},
        {"application/json", "[1,2]", 5, 422, "invalid"},
        {"application/json", "\"text\"", 6, 422, "invalid"},
        {"text/plain", "{}", 2, 415, "unsupported_media_type"},
        {"application/x-www-form-urlencoded", "a=1", 3, 415, "unsupported_media_type"},
        {"application/jsonp", "{}", 2, 415, "unsupported_media_type"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        for (size_t p = 0; p < 2; p++) {
            tresp_t r;
            post(&shared, all_protos[p], "/_test/echo", cases[i].ctype, cases[i].body, cases[i].len, &r);
            ck_assert_msg(r.status == cases[i].status, "case %zu over %s: %ld %s", i, proto_names[p], r.status, r.body);
            ck_assert_msg(t_is_error(&r, cases[i].code), "case %zu: %s", i, r.body);
            t_resp_free(&r);
        }
}
END_TEST

START_TEST(test_deeply_nested_json_is_refused_without_harm)
{
    size_t depth = 5000, n = 0;
    char *body = malloc(depth * 2 + 1);
    for (size_t i = 0; i < depth; i++)
        body[n++] = '[';
    for (size_t i = 0; i < depth; i++)
        body[n++] = ']';
    tresp_t r;
    post(&shared, T_H2C, "/_test/echo", "application/json", body, n, &r);
    ck_assert_int_eq(r.status, 400);
    ck_assert(t_is_error(&r, "malformed_json"));
    t_resp_free(&r);
    free(body);
    get(&shared, T_H2C, "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_body_over_the_limit_is_413)
{
    size_t len = 100 * 1024; /* over http.max_body (64 KiB), under h2o's own hard limit */
    char *body = malloc(len);
    memset(body, ' ', len);
    body[0] = '{';
    body[len - 1] = '}';
    for (size_t p = 0; p < 3; p++) {
        tresp_t r;
        post(&shared, all_protos[p], "/_test/echo", "application/json", body, len, &r);
        ck_assert_msg(r.status == 413, "%s: %ld", proto_names[p], r.status);
        ck_assert_msg(t_is_error(&r, "body_too_large"), "%s: %s", proto_names[p], r.body);
        t_resp_free(&r);
    }
    free(body);
    /* Far over: h2o refuses it before reading it all (HTTP/1.1 413). With the body sent
     * regardless, the refusal races the upload: the server closes with bytes unread, the
     * kernel resets the connection and the client may never read the 413. A client that asks
     * first (Expect: 100-continue, as curl does for large bodies) always gets it. */
    len = 1024 * 1024;
    body = calloc(1, len);
    memset(body, 'x', len);
    tresp_t r;
    char url[256];
    const char *h[] = {"Content-Type: application/json", "Expect: 100-continue", NULL};
    snprintf(url, sizeof(url), "%s/_test/echo", t_base(&shared, T_HTTP1));
    ck_assert_msg(t_request(T_HTTP1, "POST", url, h, body, len, &r) == 0, "no answer for %s", url);
    ck_assert_int_eq(r.status, 413);
    t_resp_free(&r);
    free(body);
    get(&shared, T_HTTP1, "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_request_id_is_echoed_and_logged_with_route_and_status)
{
    char url[128], buf[128];
    snprintf(url, sizeof(url), "%s/readyz", shared.base);
    const char *h[] = {"X-Request-Id: trace-e2e-4711", NULL};
    tresp_t r;
    ck_assert_int_eq(t_request(T_H2C, "GET", url, h, NULL, 0, &r), 0);
    ck_assert_str_eq(t_header(&r, "x-request-id", buf, sizeof(buf)), "trace-e2e-4711");
    t_resp_free(&r);
    /* An id that could forge log lines is replaced by our own. */
    const char *bad[] = {"X-Request-Id: a\"b", NULL};
    ck_assert_int_eq(t_request(T_H2C, "GET", url, bad, NULL, 0, &r), 0);
    ck_assert_str_ne(t_header(&r, "x-request-id", buf, sizeof(buf)), "a\"b");
    t_resp_free(&r);
    /* The access log is flushed every 100 ms. */
    int found = 0;
    for (int i = 0; i < 50 && !found; i++) {
        sleep_ms(100);
        FILE *f = fopen(shared.log_path, "r");
        char line[4096];
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            json_t *doc = json_loads(line, 0, NULL);
            const char *id = json_string_value(json_object_get(doc, "request_id"));
            if (id != NULL && strcmp(id, "trace-e2e-4711") == 0) {
                ck_assert_str_eq(json_string_value(json_object_get(doc, "route")), "/readyz");
                ck_assert_int_eq(json_integer_value(json_object_get(doc, "status")), 200);
                ck_assert_str_eq(json_string_value(json_object_get(doc, "protocol")), "HTTP/2");
                ck_assert(json_is_integer(json_object_get(doc, "duration_us")));
                found = 1;
            }
            json_decref(doc);
        }
        if (f != NULL)
            fclose(f);
    }
    ck_assert_msg(found, "no access log line for the request id in %s", shared.log_path);
}
END_TEST

/* The value of one Prometheus sample line, or -1. */
static double sample(const char *text, const char *series)
{
    char want[512];
    snprintf(want, sizeof(want), "\n%s ", series);
    const char *p = strstr(text, want);
    return p != NULL ? strtod(p + strlen(want), NULL) : -1;
}

START_TEST(test_metrics_count_requests_by_route_and_status)
{
    tresp_t r;
    for (int i = 0; i < 3; i++) {
        get(&shared, T_H2C, "/v1/nothing-here", &r);
        t_resp_free(&r);
    }
    get(&shared, T_H2C, "/readyz", &r);
    t_resp_free(&r);
    get(&shared, T_HTTP1, "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    char buf[128];
    ck_assert_ptr_nonnull(strstr(t_header(&r, "content-type", buf, sizeof(buf)), "text/plain"));
    ck_assert_double_ge(
        sample(r.body, "stallfront_http_requests_total{method=\"\",route=\"unmatched\",status=\"404\"}"), 3);
    ck_assert_double_ge(
        sample(r.body, "stallfront_http_requests_total{method=\"GET\",route=\"/readyz\",status=\"200\"}"), 1);
    ck_assert_double_ge(
        sample(r.body, "stallfront_http_request_duration_seconds_count{method=\"GET\",route=\"/readyz\"}"), 1);
    ck_assert_double_eq(sample(r.body, "stallfront_pool_workers"), 4);
    ck_assert_double_ge(sample(r.body, "stallfront_pool_queue_depth"), 0);
    ck_assert_double_ge(sample(r.body, "stallfront_http_in_flight"), 0);
    t_resp_free(&r);
    /* the queue figures come from the poller thread, rendered at start and every 5 s */
    double backlog = -1;
    for (int i = 0; i < 50 && backlog < 0; i++) {
        get(&shared, T_HTTP1, "/metrics", &r);
        backlog = sample(r.body, "stallfront_queue_outbox_unpublished");
        if (backlog >= 0)
            ck_assert_double_ge(sample(r.body, "stallfront_statpoll_age_seconds"), 0);
        t_resp_free(&r);
        if (backlog < 0)
            sleep_ms(100);
    }
    ck_assert_msg(backlog >= 0, "no outbox backlog in /metrics");
}
END_TEST

/* ---- limits, failures and shutdown (a server each) ---- */

typedef struct {
    const tserver_t *s;
    tproto_t proto;
    char path[128];
    tresp_t r;
    int rc;
} call_t;

static void *call_thread(void *arg)
{
    call_t *c = arg;
    char url[256];
    snprintf(url, sizeof(url), "%s%s", t_base(c->s, c->proto), c->path);
    c->rc = t_request(c->proto, "GET", url, NULL, NULL, 0, &c->r);
    return NULL;
}

START_TEST(test_deadline_answers_504_in_the_error_shape)
{
    static const char *const env[] = {"STALLFRONT_TEST_ROUTES=1", "STALLFRONT_HTTP_DEADLINE_MS=300", NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    tresp_t r;
    double t0 = now_s();
    get(&s, T_H2C, "/_test/sleep?ms=2000", &r);
    ck_assert_int_eq(r.status, 504);
    ck_assert(t_is_error(&r, "timeout"));
    ck_assert_double_lt(now_s() - t0, 1.9); /* answered at the deadline, not after the work */
    t_resp_free(&r);
    /* The late result is dropped, and the worker is free again afterwards. */
    sleep_ms(2000);
    get(&s, T_H2C, "/readyz", &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_full_pool_answers_503_with_retry_after)
{
    static const char *const env[] = {"STALLFRONT_TEST_ROUTES=1", "STALLFRONT_POOL_WORKERS=1",
                                      "STALLFRONT_POOL_QUEUE=1", NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    call_t c[4];
    pthread_t th[4];
    for (int i = 0; i < 4; i++) {
        c[i] = (call_t){.s = &s, .proto = T_HTTP1};
        snprintf(c[i].path, sizeof(c[i].path), "/_test/sleep?ms=1000");
        pthread_create(&th[i], NULL, call_thread, &c[i]);
        sleep_ms(50);
    }
    int ok = 0, busy = 0;
    for (int i = 0; i < 4; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(c[i].rc, 0);
        if (c[i].r.status == 200)
            ok++;
        if (c[i].r.status == 503) {
            char buf[16];
            busy++;
            ck_assert(t_is_error(&c[i].r, "overloaded"));
            ck_assert_str_eq(t_header(&c[i].r, "retry-after", buf, sizeof(buf)), "1");
        }
        t_resp_free(&c[i].r);
    }
    ck_assert_int_eq(ok, 2); /* one running, one queued */
    ck_assert_int_eq(busy, 2);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

typedef struct {
    const tserver_t *s;
    volatile int *stop;
    int ok, other;
} second_client_t;

static void *second_client(void *arg)
{
    second_client_t *sc = arg;
    while (!*sc->stop) {
        tresp_t r;
        char url[128];
        snprintf(url, sizeof(url), "%s/readyz", sc->s->base);
        if (t_request(T_H2C, "GET", url, NULL, NULL, 0, &r) == 0 && r.status == 200)
            sc->ok++;
        else
            sc->other++;
        t_resp_free(&r);
        sleep_ms(20);
    }
    return NULL;
}

static size_t discard(char *p, size_t s, size_t n, void *ud)
{
    return s * n;
}

typedef struct {
    int ok, limited, other;
    long connects;
    double elapsed;
} burst_t;

/* Sends n GETs of url at once over at most `conns` TLS h2 connections, multiplexed. TLS,
 * because Debian's curl 7.88 cannot multiplex over h2c with prior knowledge (it fails the
 * same way against Debian's own h2o), and real clients come over TLS anyway. */
static burst_t burst(const char *url, int n, long conns)
{
    burst_t b = {0};
    CURLM *m = curl_multi_init();
    curl_multi_setopt(m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    curl_multi_setopt(m, CURLMOPT_MAX_HOST_CONNECTIONS, conns);
    CURL **e = calloc((size_t)n, sizeof(CURL *));
    for (int i = 0; i < n; i++) {
        e[i] = curl_easy_init();
        curl_easy_setopt(e[i], CURLOPT_URL, url);
        curl_easy_setopt(e[i], CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2TLS);
        curl_easy_setopt(e[i], CURLOPT_SSL_VERIFYPEER, 0L);
        curl_easy_setopt(e[i], CURLOPT_SSL_VERIFYHOST, 0L);
        curl_easy_setopt(e[i], CURLOPT_PIPEWAIT, 1L);
        curl_easy_setopt(e[i], CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(e[i], CURLOPT_TIMEOUT, 120L);
        curl_multi_add_handle(m, e[i]);
    }
    int running = 1;
    double t0 = now_s();
    while (running) {
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 100, NULL);
    }
    b.elapsed = now_s() - t0;
    CURLMsg *msg;
    int left, reported = 0;
    while ((msg = curl_multi_info_read(m, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE && msg->data.result != CURLE_OK && reported++ < 3)
            fprintf(stderr, "burst: transfer failed: %s\n", curl_easy_strerror(msg->data.result));
    for (int i = 0; i < n; i++) {
        long status = 0, nc = 0;
        curl_easy_getinfo(e[i], CURLINFO_RESPONSE_CODE, &status);
        curl_easy_getinfo(e[i], CURLINFO_NUM_CONNECTS, &nc);
        b.connects += nc;
        if (status == 200)
            b.ok++;
        else if (status == 429)
            b.limited++;
        else if (b.other++ == 0)
            fprintf(stderr, "burst: first odd answer: status %ld\n", status);
        curl_multi_remove_handle(m, e[i]);
        curl_easy_cleanup(e[i]);
    }
    free(e);
    curl_multi_cleanup(m);
    return b;
}

START_TEST(test_flood_on_one_h2_connection_is_bounded_while_another_client_is_served)
{
    static const char *const env[] = {"STALLFRONT_TEST_ROUTES=1", "STALLFRONT_HTTP_CONN_RPS=50",
                                      "STALLFRONT_HTTP_CONN_INFLIGHT=4", NULL};
    enum { N = 400 };
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    volatile int stop = 0;
    second_client_t sc = {.s = &s, .stop = &stop};
    pthread_t th;
    pthread_create(&th, NULL, second_client, &sc);
    char url[128];
    snprintf(url, sizeof(url), "%s/_test/sleep?ms=20", s.tls_base);
    burst_t b = burst(url, N, 1);
    stop = 1;
    pthread_join(th, NULL);

    ck_assert_msg(b.connects == 1, "the flood used %ld connections, not one", b.connects);
    ck_assert_msg(b.other == 0, "%d answers were neither 200 nor 429", b.other);
    /* At most 50 requests a second get through, and never more than 4 at once. */
    int cap = 50 * ((int)b.elapsed + 2);
    ck_assert_msg(b.ok >= 1 && b.ok <= cap, "%d served in %.2f s", b.ok, b.elapsed);
    ck_assert_msg(b.limited >= N - cap, "only %d of %d limited", b.limited, N);
    ck_assert_msg(sc.ok >= 1 && sc.other == 0, "second client: %d ok, %d not", sc.ok, sc.other);

    tresp_t r;
    get(&s, T_HTTP1, "/metrics", &r);
    ck_assert_double_ge(sample(r.body, "stallfront_http_rate_limited_total"), b.limited);
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

/* Thousands of pool round trips at once across loop threads and connections: a context
 * built on the wrong thread once corrupted h2o's buffer recycling under exactly this. */
START_TEST(test_thousands_of_concurrent_pool_requests_are_all_answered)
{
    static const char *const env[] = {"STALLFRONT_HTTP_CONN_RPS=1000000", "STALLFRONT_HTTP_CONN_INFLIGHT=100000", NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    char url[128];
    snprintf(url, sizeof(url), "%s/readyz", s.tls_base);
    for (int round = 0; round < 3; round++) {
        burst_t b = burst(url, 2000, 8);
        ck_assert_msg(b.ok == 2000, "round %d: %d ok, %d limited, %d other", round, b.ok, b.limited, b.other);
    }
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_a_client_that_leaves_is_never_answered_and_the_server_goes_on)
{
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, test_env), 0);
    for (int i = 0; i < 5; i++) {
        CURL *c = curl_easy_init();
        char url[128];
        snprintf(url, sizeof(url), "%s/_test/sleep?ms=500", s.base);
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
        curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 100L);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
        ck_assert_int_eq(curl_easy_perform(c), CURLE_OPERATION_TIMEDOUT);
        curl_easy_cleanup(c);
    }
    sleep_ms(1500); /* the abandoned jobs finish and are dropped */
    tresp_t r;
    get(&s, T_HTTP1, "/metrics", &r);
    ck_assert_double_eq(sample(r.body, "stallfront_http_client_gone_total"), 5);
    ck_assert_double_eq(sample(r.body, "stallfront_http_in_flight"), 0);
    t_resp_free(&r);
    get(&s, T_H2C, "/readyz", &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_sigterm_drains_in_flight_requests_and_exits_zero)
{
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, test_env), 0);
    call_t c[2] = {{.s = &s, .proto = T_H2C}, {.s = &s, .proto = T_HTTP1}};
    pthread_t th[2];
    for (int i = 0; i < 2; i++) {
        snprintf(c[i].path, sizeof(c[i].path), "/_test/sleep?ms=1500");
        pthread_create(&th[i], NULL, call_thread, &c[i]);
    }
    sleep_ms(400);
    kill(s.pid, SIGTERM);
    sleep_ms(300);
    tresp_t r; /* no longer accepting */
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", s.base);
    ck_assert_int_ne(t_request(T_HTTP1, "GET", url, NULL, NULL, 0, &r), 0);
    t_resp_free(&r);
    for (int i = 0; i < 2; i++) {
        pthread_join(th[i], NULL);
        ck_assert_int_eq(c[i].rc, 0);
        ck_assert_msg(c[i].r.status == 200, "in-flight request %d got %ld", i, c[i].r.status);
        t_resp_free(&c[i].r);
    }
    ck_assert_int_eq(tserver_stop(&s, 0), 0);
}
END_TEST

static long readyz_until(const tserver_t *s, long want, tresp_t *last)
{
    for (int i = 0; i < 100; i++) {
        get(s, T_H2C, "/readyz", last);
        if (last->status == want)
            return want;
        t_resp_free(last);
        sleep_ms(100);
    }
    get(s, T_H2C, "/readyz", last);
    return last->status;
}

START_TEST(test_readyz_turns_503_naming_redis_when_it_stops_and_200_when_it_is_back)
{
    int port = t_free_port();
    pid_t redis = t_redis_start(port, NULL);
    ck_assert_int_gt(redis, 0);
    char env_port[64];
    snprintf(env_port, sizeof(env_port), "STALLFRONT_REDIS_PORT=%d", port);
    const char *env[] = {"STALLFRONT_REDIS_TIMEOUT_MS=500", env_port, NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    tresp_t r;
    ck_assert_int_eq(readyz_until(&s, 200, &r), 200);
    t_resp_free(&r);

    t_redis_stop(redis);
    ck_assert_int_eq(readyz_until(&s, 503, &r), 503);
    ck_assert(t_is_error(&r, "not_ready"));
    json_t *doc = t_json(&r);
    json_t *err = json_object_get(doc, "error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "message")), "redis is not answering");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(err, "details"), "mariadb")), "ok");
    ck_assert_str_ne(json_string_value(json_object_get(json_object_get(err, "details"), "redis")), "ok");
    json_decref(doc);
    t_resp_free(&r);

    redis = t_redis_start(port, NULL); /* the same port: a restart */
    ck_assert_int_gt(redis, 0);
    ck_assert_int_eq(readyz_until(&s, 200, &r), 200);
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
    t_redis_stop(redis);
}
END_TEST

START_TEST(test_readyz_names_mariadb_when_it_cannot_be_reached)
{
    char env_port[64];
    snprintf(env_port, sizeof(env_port), "STALLFRONT_DB_PORT=%d", t_free_port()); /* nobody listens there */
    const char *env[] = {env_port, "STALLFRONT_DB_CONNECT_TIMEOUT_S=1", NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0); /* a database down at start-up is not fatal */
    tresp_t r;
    get(&s, T_H2C, "/readyz", &r);
    ck_assert_int_eq(r.status, 503);
    ck_assert(t_is_error(&r, "not_ready"));
    json_t *doc = t_json(&r);
    json_t *err = json_object_get(doc, "error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "message")), "mariadb is not answering");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(err, "details"), "redis")), "ok");
    json_decref(doc);
    t_resp_free(&r);
    get(&s, T_H2C, "/healthz", &r); /* alive, though not ready */
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_a_second_server_on_a_busy_port_refuses_to_start)
{
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, test_env), 0);
    int rc =
        t_sh("STALLFRONT_HTTP_LISTEN=127.0.0.1:%d STALLFRONT_TLS_LISTEN=127.0.0.1:%d %s serve >%s/busy-port.log 2>&1",
             s.port, t_free_port(), SF_BINARY, t_env("STALLFRONT_TEST_VAR"));
    ck_assert_int_ne(rc, 0);
    tresp_t r;
    get(&s, T_HTTP1, "/healthz", &r);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *su = suite_create("http");
    TCase *tc = tcase_create("protocols");
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_healthz_answers_over_http1_h2c_and_tls_h2);
    tcase_add_test(tc, test_h2c_upgrade_from_http1_is_answered_over_http2);
    tcase_add_test(tc, test_tls_also_speaks_http1_through_alpn);
    tcase_add_test(tc, test_readyz_is_200_when_mariadb_and_redis_answer);
    tcase_add_test(tc, test_unknown_path_is_404_in_the_error_shape_on_every_protocol);
    tcase_add_test(tc, test_wrong_method_is_405_with_allow_in_the_error_shape);
    tcase_add_test(tc, test_json_body_is_echoed_with_chinese_text_intact);
    tcase_add_test(tc, test_bad_bodies_get_400_415_422_in_the_error_shape);
    tcase_add_test(tc, test_deeply_nested_json_is_refused_without_harm);
    tcase_add_test(tc, test_body_over_the_limit_is_413);
    tcase_add_test(tc, test_request_id_is_echoed_and_logged_with_route_and_status);
    tcase_add_test(tc, test_metrics_count_requests_by_route_and_status);
    suite_add_tcase(su, tc);
    TCase *lim = tcase_create("limits");
    tcase_set_timeout(lim, 120);
    tcase_add_test(lim, test_deadline_answers_504_in_the_error_shape);
    tcase_add_test(lim, test_full_pool_answers_503_with_retry_after);
    tcase_add_test(lim, test_flood_on_one_h2_connection_is_bounded_while_another_client_is_served);
    tcase_add_test(lim, test_thousands_of_concurrent_pool_requests_are_all_answered);
    tcase_add_test(lim, test_a_client_that_leaves_is_never_answered_and_the_server_goes_on);
    tcase_add_test(lim, test_sigterm_drains_in_flight_requests_and_exits_zero);
    tcase_add_test(lim, test_readyz_turns_503_naming_redis_when_it_stops_and_200_when_it_is_back);
    tcase_add_test(lim, test_readyz_names_mariadb_when_it_cannot_be_reached);
    tcase_add_test(lim, test_a_second_server_on_a_busy_port_refuses_to_start);
    suite_add_tcase(su, lim);
    int failed = t_run(su, 0);
    curl_global_cleanup();
    if (shared_exit != 0) { /* a crash, or a sanitizer report at exit */
        fprintf(stderr, "the shared server exited with %d: see %s\n", shared_exit, shared.log_path);
        failed++;
    }
    return failed == 0 ? 0 : 1;
}
