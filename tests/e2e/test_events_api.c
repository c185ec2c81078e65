/*
 * End to end: GET /v1/events on the real binary (payments.mode=sandbox), read by a small
 * server-sent-events client on libcurl running in a thread of the test (HTTP/1.1 chunked,
 * h2c, TLS h2), and by a raw socket that never reads.
 *
 * Covers: a vendor's open stream hears `vendor_order.new` for an order paid through the real
 * callback (`stallfront sandbox pay`), with the right ids, and the consumer's cancel after;
 * other vendors and other consumers hear nothing; a stream resumed with Last-Event-ID (or
 * ?last_event_id=) gets exactly the events after it, none missed and none twice, across a
 * disconnect in the middle of a burst; a reader that never reads is dropped, counted in
 * /metrics, while the server's memory stays bounded; 401, 403 and 422 in the error shape;
 * streams outliving http.deadline_ms with heartbeats; SIGTERM ending open streams at once.
 *
 * Events for parties of made-up vendors are emitted by the test itself with events_emit, and
 * their tokens issued with auth_issue, so these parties are this run's own.
 */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <netinet/in.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "models/events.h"
#include "server/http/auth.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/shop.h"
#include "tests/support/sandboxkeys.h"
#include "tests/support/testutil.h"

#define WAIT_MS 5000 /* the failure bound for anything the server should push at once */

static t_sandbox_t sandbox; /* the sandbox provider's files of this run */
static const char *test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                 "STALLFRONT_PAYMENTS_MODE=sandbox",
                                 "STALLFRONT_ORDER_DELIVERY_FEE_FEN=500",
                                 "STALLFRONT_ORDER_FREE_DELIVERY_FROM_FEN=5000",
                                 "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000",
                                 "STALLFRONT_EVENTS_HEARTBEAT_S=1",
                                 "STALLFRONT_HTTP_DEADLINE_MS=1000", /* streams must outlive it */
                                 "STALLFRONT_HTTP_THREADS=2",
                                 sandbox.env,
                                 NULL};
static tserver_t shared;
static int shared_exit;

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void shared_up(void)
{
    t_sandbox_make(&sandbox, "events");
    t_migrate();
    ck_assert_msg(tserver_start(&shared, test_env) == 0, "server did not start");
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
    t_sandbox_remove(&sandbox);
}

/* ---------------------------------------------------------------- an event-stream client */

#define SSE_BUF_MAX (8u << 20)

typedef struct sse {
    pthread_t tid;
    pthread_mutex_t mu;
    char *buf; /* what arrived, under mu */
    size_t len;
    int done;      /* under mu: the transfer ended */
    long status;   /* under mu, once done */
    int stop;      /* atomic: abort the transfer */
    long protocol; /* CURL_HTTP_VERSION_* of the answer, once done */
    tproto_t proto;
    char url[512], auth[256], last_id[128];
} sse_t;

static size_t on_data(char *p, size_t size, size_t n, void *arg)
{
    sse_t *s = arg;
    size_t len = size * n;
    if (__atomic_load_n(&s->stop, __ATOMIC_ACQUIRE))
        return 0; /* aborts */
    pthread_mutex_lock(&s->mu);
    if (s->len + len < SSE_BUF_MAX) {
        char *nb = realloc(s->buf, s->len + len + 1);
        if (nb != NULL) {
            memcpy(nb + s->len, p, len);
            s->buf = nb;
            s->len += len;
            s->buf[s->len] = '\0';
        }
    }
    pthread_mutex_unlock(&s->mu);
    return len;
}

static int on_progress(void *arg, curl_off_t a, curl_off_t b, curl_off_t c, curl_off_t d)
{
    return __atomic_load_n(&((sse_t *)arg)->stop, __ATOMIC_ACQUIRE) ? 1 : 0;
}

static void *sse_run(void *arg)
{
    sse_t *s = arg;
    CURL *c = curl_easy_init();
    struct curl_slist *h = NULL;
    if (s->auth[0] != '\0')
        h = curl_slist_append(h, s->auth);
    if (s->last_id[0] != '\0')
        h = curl_slist_append(h, s->last_id);
    curl_easy_setopt(c, CURLOPT_URL, s->url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, s);
    curl_easy_setopt(c, CURLOPT_NOPROGRESS, 0L);
    curl_easy_setopt(c, CURLOPT_XFERINFOFUNCTION, on_progress);
    curl_easy_setopt(c, CURLOPT_XFERINFODATA, s);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION,
                     s->proto == T_HTTP1   ? CURL_HTTP_VERSION_1_1
                     : s->proto == T_H2TLS ? CURL_HTTP_VERSION_2TLS
                                           : CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    curl_easy_perform(c);
    long status = 0, version = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &status);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &version);
    curl_slist_free_all(h);
    curl_easy_cleanup(c);
    pthread_mutex_lock(&s->mu);
    s->status = status;
    s->protocol = version;
    s->done = 1;
    pthread_mutex_unlock(&s->mu);
    return NULL;
}

/* Opens GET /v1/events<query> with this token and Last-Event-ID (last_id may be NULL), and
 * waits until the stream began (its first line came). */
static sse_t *sse_open(const tserver_t *srv, tproto_t proto, const char *token, const char *last_id, const char *query)
{
    sse_t *s = calloc(1, sizeof(*s));
    ck_assert_ptr_nonnull(s);
    pthread_mutex_init(&s->mu, NULL);
    s->proto = proto;
    snprintf(s->url, sizeof(s->url), "%s/v1/events%s", t_base(srv, proto), query != NULL ? query : "");
    snprintf(s->auth, sizeof(s->auth), "Authorization: Bearer %s", token);
    if (last_id != NULL)
        snprintf(s->last_id, sizeof(s->last_id), "Last-Event-ID: %s", last_id);
    ck_assert_int_eq(pthread_create(&s->tid, NULL, sse_run, s), 0);
    uint64_t until = now_ms() + WAIT_MS;
    for (;;) {
        pthread_mutex_lock(&s->mu);
        int begun = s->buf != NULL && strstr(s->buf, "retry: ") != NULL, done = s->done;
        pthread_mutex_unlock(&s->mu);
        if (begun)
            return s;
        ck_assert_msg(!done && now_ms() < until, "the stream %s did not begin (status %ld)", s->url, s->status);
        sleep_ms(10);
    }
}

/* Stops the transfer (if still running) and frees it. */
static void sse_close(sse_t *s)
{
    __atomic_store_n(&s->stop, 1, __ATOMIC_RELEASE);
    pthread_join(s->tid, NULL);
    pthread_mutex_destroy(&s->mu);
    free(s->buf);
    free(s);
}

static int sse_done(sse_t *s)
{
    pthread_mutex_lock(&s->mu);
    int d = s->done;
    pthread_mutex_unlock(&s->mu);
    return d;
}

/* The complete events received so far: [{id, type, data}] (caller decrefs). Comments
 * (heartbeats) and the retry field are skipped; a frame still arriving is left out. */
static json_t *sse_events(sse_t *s, size_t *heartbeats)
{
    json_t *out = json_array();
    pthread_mutex_lock(&s->mu);
    char *text = s->buf != NULL ? strdup(s->buf) : strdup("");
    pthread_mutex_unlock(&s->mu);
    if (heartbeats != NULL)
        *heartbeats = 0;
    char *frame = text, *end;
    while ((end = strstr(frame, "\n\n")) != NULL) {
        *end = '\0';
        char *id = NULL, *type = NULL, *data = NULL, *save = NULL;
        for (char *line = strtok_r(frame, "\n", &save); line != NULL; line = strtok_r(NULL, "\n", &save)) {
            if (strncmp(line, "id: ", 4) == 0)
                id = line + 4;
            else if (strncmp(line, "event: ", 7) == 0)
                type = line + 7;
            else if (strncmp(line, "data: ", 6) == 0)
                data = line + 6;
            else if (strcmp(line, ": hb") == 0 && heartbeats != NULL)
                (*heartbeats)++;
        }
        if (id != NULL && type != NULL && data != NULL) {
            json_t *d = json_loads(data, 0, NULL);
            ck_assert_msg(d != NULL, "data is not JSON: %s", data);
            json_array_append_new(out, json_pack("{s:s, s:s, s:o}", "id", id, "type", type, "data", d));
        } else {
            ck_assert_msg(id == NULL && type == NULL && data == NULL, "a partial event: %s", frame);
        }
        frame = end + 2;
    }
    free(text);
    return out;
}

/* Waits (bounded) until the stream holds an event of this type; its data (caller decrefs).
 * *waited_ms (may be NULL) gets how long it took. */
static json_t *sse_wait_type(sse_t *s, const char *type, uint64_t *waited_ms)
{
    uint64_t t0 = now_ms();
    for (;;) {
        json_t *evs = sse_events(s, NULL);
        for (size_t i = 0; i < json_array_size(evs); i++) {
            json_t *e = json_array_get(evs, i);
            if (strcmp(json_string_value(json_object_get(e, "type")), type) == 0) {
                json_t *d = json_incref(json_object_get(e, "data"));
                json_decref(evs);
                if (waited_ms != NULL)
                    *waited_ms = now_ms() - t0;
                return d;
            }
        }
        json_decref(evs);
        ck_assert_msg(now_ms() - t0 < WAIT_MS, "no %s event came within %d ms", type, WAIT_MS);
        sleep_ms(5);
    }
}

/* Waits (bounded) until the stream holds an event with this id. */
static void sse_wait_id(sse_t *s, const char *id)
{
    uint64_t t0 = now_ms();
    for (;;) {
        json_t *evs = sse_events(s, NULL);
        int found = 0;
        for (size_t i = 0; i < json_array_size(evs) && !found; i++)
            found = strcmp(json_string_value(json_object_get(json_array_get(evs, i), "id")), id) == 0;
        json_decref(evs);
        if (found)
            return;
        ck_assert_msg(now_ms() - t0 < WAIT_MS, "event %s did not come within %d ms", id, WAIT_MS);
        sleep_ms(5);
    }
}

static size_t sse_count(sse_t *s)
{
    json_t *evs = sse_events(s, NULL);
    size_t n = json_array_size(evs);
    json_decref(evs);
    return n;
}

/* ---------------------------------------------------------------- parties of this run */

/* A token for a made-up vendor (or courier) id, issued straight into Redis. */
static void party_token(redis_t *r, role_t role, int n, char *token, size_t len, char *party)
{
    int64_t id = 8000000000000LL + (int64_t)getpid() * 1000 + n;
    principal_t who = {.role = role, .user_id = id, .market_id = 1};
    if (role == ROLE_VENDOR)
        who.vendor_id = id;
    else
        who.courier_id = id;
    ck_assert_int_eq(auth_issue(r, &who, token, len), 0);
    ck_assert_int_eq(events_party(party, EVENTS_PARTY_MAX, role == ROLE_VENDOR ? "vendor" : "courier", id), 0);
    redisReply *rep = redis_cmd(r, "DEL events:%s", party);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
}

static void emit(redis_t *r, const char *party, int i, char *id)
{
    json_t *d = json_pack("{s:i}", "i", i);
    ck_assert_int_eq(events_emit(r, 1000, party, "test.n", d, id, EVENTS_ID_MAX), 0);
    json_decref(d);
}

/* A metric's value from /metrics (a line "<name> <value>"). */
static double metric(const char *name)
{
    tresp_t r;
    char url[128], want[128];
    snprintf(url, sizeof(url), "%s/metrics", shared.base);
    ck_assert_int_eq(t_request(T_H2C, "GET", url, NULL, NULL, 0, &r), 0);
    snprintf(want, sizeof(want), "\n%s ", name);
    const char *p = strstr(r.body, want);
    ck_assert_msg(p != NULL, "no metric %s", name);
    double v = strtod(p + strlen(want), NULL);
    t_resp_free(&r);
    return v;
}

/* ---------------------------------------------------------------- a paid order */

START_TEST(test_a_vendor_hears_of_a_paid_order_and_nobody_else_does)
{
    shop_world_t w;
    shop_consumer_t c, stranger;
    char vtok[3][128], vparty[EVENTS_PARTY_MAX], out[700];
    long status;
    shop_world_up(&w);
    int64_t eggs = shop_product(&w, 0, "土鸡蛋", 350, 0, 20), cabbage = shop_product(&w, 1, "白菜", 300, 0, 20);
    shop_consumer(&shared, &w.db, "ev", 1, &c);
    shop_consumer(&shared, &w.db, "ev", 2, &stranger);
    for (int i = 0; i < 3; i++) {
        principal_t who = {
            .role = ROLE_VENDOR, .user_id = w.vendor[i], .market_id = w.m.market_id, .vendor_id = w.vendor[i]};
        ck_assert_int_eq(auth_issue(&w.redis, &who, vtok[i], sizeof(vtok[i])), 0);
    }
    shop_put_cart(&shared, &c, eggs, 2);
    shop_put_cart(&shared, &c, cabbage, 1);
    json_t *doc = shop_checkout(&shared, &c, w.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    int64_t order = shop_jint(doc, "id");
    json_decref(doc);
    int64_t vo0 = t_db_i64(&w.db, "SELECT id FROM vendor_orders WHERE order_id = ? AND vendor_id = ?",
                           (db_param_t[]){DB_I64(order), DB_I64(w.vendor[0])}, 2);

    sse_t *v0 = sse_open(&shared, T_H2C, vtok[0], NULL, NULL);
    sse_t *v1 = sse_open(&shared, T_H2TLS, vtok[1], NULL, NULL);
    sse_t *v2 = sse_open(&shared, T_HTTP1, vtok[2], NULL, NULL); /* not in the order */
    sse_t *mine = sse_open(&shared, T_HTTP1, c.token, NULL, NULL);
    sse_t *theirs = sse_open(&shared, T_H2C, stranger.token, NULL, NULL);
    sleep_ms(1500); /* past http.deadline_ms: the streams are still open */

    /* the real callback path: the sandbox signs a WeChat notification and posts it */
    snprintf(out, sizeof(out), "%s/sandbox-pay-%lld.out", sandbox.dir, (long long)order);
    int rc = t_sh("STALLFRONT_PAYMENTS_MODE=sandbox STALLFRONT_PAYMENTS_SANDBOX_DIR='%s' %s sandbox pay %lld"
                  " --provider wechat --url %s >'%s' 2>&1",
                  sandbox.dir, SF_BINARY, (long long)order, t_base(&shared, T_H2C), out);
    ck_assert_msg(rc == 0, "sandbox pay: exit %d, see %s", rc, out);
    uint64_t waited = 0;
    json_t *d = sse_wait_type(v0, "vendor_order.new", &waited);
    fprintf(stderr, "test_events: vendor_order.new arrived %llu ms after the callback was answered\n",
            (unsigned long long)waited);
    ck_assert_int_eq(shop_jint(d, "order_id"), order);
    ck_assert_int_eq(shop_jint(d, "vendor_order_id"), vo0);
    ck_assert_str_eq(json_string_value(json_object_get(d, "status")), "new");
    ck_assert_str_eq(json_string_value(json_object_get(d, "order_status")), "paid");
    json_decref(d);
    d = sse_wait_type(v1, "vendor_order.new", NULL); /* over TLS h2 too */
    ck_assert_int_eq(shop_jint(d, "order_id"), order);
    json_decref(d);
    d = sse_wait_type(mine, "order.changed", NULL);
    ck_assert_int_eq(shop_jint(d, "order_id"), order);
    ck_assert_str_eq(json_string_value(json_object_get(d, "status")), "paid");
    ck_assert_int_eq(json_array_size(json_object_get(d, "vendor_orders")), 2);
    json_decref(d);

    /* the consumer cancels (nobody accepted yet): the vendors hear it, and so does the consumer */
    char path[64];
    snprintf(path, sizeof(path), "/v1/orders/%lld/cancel", (long long)order);
    doc = shop_call(&shared, "POST", path, c.token, NULL, NULL, &status);
    ck_assert_int_eq(status, 200);
    json_decref(doc);
    d = sse_wait_type(v0, "vendor_order.changed", NULL);
    ck_assert_int_eq(shop_jint(d, "vendor_order_id"), vo0);
    ck_assert_str_eq(json_string_value(json_object_get(d, "status")), "cancelled");
    ck_assert_str_eq(json_string_value(json_object_get(d, "order_status")), "cancelled");
    json_decref(d);
    sleep_ms(300); /* what else was going to come has come: all were published together */
    ck_assert_int_eq(sse_count(v0), 2);
    ck_assert_int_eq(sse_count(mine), 2);
    ck_assert_int_eq(sse_count(v2), 0);
    ck_assert_int_eq(sse_count(theirs), 0);
    size_t hb = 0;
    json_decref(sse_events(v2, &hb));
    ck_assert_int_ge(hb, 1); /* idle streams get heartbeats (events.heartbeat_s = 1) */
    ck_assert(!sse_done(v0) && !sse_done(v2) && !sse_done(mine) && !sse_done(theirs));
    sse_close(v0);
    sse_close(v1);
    sse_close(v2);
    sse_close(mine);
    sse_close(theirs);
    (void)vparty;
    shop_world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- resuming */

#define BURST 60

typedef struct emitter {
    redis_t *r;
    const char *party;
    char (*ids)[EVENTS_ID_MAX];
    int from, to;
} emitter_t;

static void *emit_burst(void *arg)
{
    emitter_t *e = arg;
    for (int i = e->from; i < e->to; i++) {
        json_t *d = json_pack("{s:i}", "i", i);
        if (events_emit(e->r, 1000, e->party, "test.n", d, e->ids[i], EVENTS_ID_MAX) != 0)
            e->ids[i][0] = '\0';
        json_decref(d);
        sleep_ms(3);
    }
    return NULL;
}

START_TEST(test_a_resumed_stream_gets_exactly_the_events_after_its_last_id)
{
    shop_world_t w;
    char token[128], party[EVENTS_PARTY_MAX], ids[BURST][EVENTS_ID_MAX];
    shop_world_open(&w);
    party_token(&w.redis, ROLE_VENDOR, 1, token, sizeof(token), party);
    for (int i = 0; i < 10; i++) /* before anyone listens */
        emit(&w.redis, party, i, ids[i]);

    /* A over HTTP/1.1 resumes after event 4, and is cut off in the middle of a burst */
    sse_t *a = sse_open(&shared, T_HTTP1, token, ids[4], NULL);
    redis_t r2;
    ck_assert_int_eq(redis_open(&r2, &w.cfg), 0);
    emitter_t em = {&r2, party, ids, 10, BURST};
    pthread_t tid;
    ck_assert_int_eq(pthread_create(&tid, NULL, emit_burst, &em), 0);
    uint64_t t0 = now_ms();
    while (sse_count(a) < 20) {
        ck_assert_msg(now_ms() - t0 < WAIT_MS, "A got %zu events", sse_count(a));
        sleep_ms(2);
    }
    __atomic_store_n(&a->stop, 1, __ATOMIC_RELEASE);
    pthread_join(a->tid, NULL);
    a->tid = pthread_self(); /* joined: sse_close must not join again */
    json_t *got_a = sse_events(a, NULL);
    ck_assert_int_ge(json_array_size(got_a), 20);
    const char *last = json_string_value(json_object_get(json_array_get(got_a, json_array_size(got_a) - 1), "id"));

    /* B over h2c resumes from A's last complete event while the burst goes on */
    sse_t *b = sse_open(&shared, T_H2C, token, last, NULL);
    pthread_join(tid, NULL);
    redis_close(&r2);
    for (int i = 10; i < BURST; i++)
        ck_assert_msg(ids[i][0] != '\0', "emit %d failed", i);
    sse_wait_id(b, ids[BURST - 1]);
    json_t *got_b = sse_events(b, NULL);

    /* A then B: events 5 .. BURST-1, each once, in order */
    size_t na = json_array_size(got_a), nb = json_array_size(got_b);
    ck_assert_int_eq(na + nb, BURST - 5);
    for (size_t k = 0; k < na + nb; k++) {
        json_t *e = k < na ? json_array_get(got_a, k) : json_array_get(got_b, k - na);
        ck_assert_str_eq(json_string_value(json_object_get(e, "id")), ids[5 + k]);
        ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "test.n");
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e, "data"), "i")), (json_int_t)(5 + k));
    }
    json_decref(got_a);
    json_decref(got_b);

    /* C names its resume point in the query (clients that cannot set headers) */
    char query[80];
    snprintf(query, sizeof(query), "?last_event_id=%s", ids[50]);
    sse_t *c = sse_open(&shared, T_H2C, token, NULL, query);
    sse_wait_id(c, ids[BURST - 1]);
    json_t *got_c = sse_events(c, NULL);
    ck_assert_int_eq(json_array_size(got_c), BURST - 51);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(got_c, 0), "id")), ids[51]);
    json_decref(got_c);

    /* D without an id hears only what comes next */
    sse_t *dd = sse_open(&shared, T_HTTP1, token, NULL, NULL);
    sleep_ms(200);
    ck_assert_int_eq(sse_count(dd), 0);
    char next[EVENTS_ID_MAX];
    emit(&w.redis, party, 99, next);
    sse_wait_id(dd, next);
    ck_assert_int_eq(sse_count(dd), 1);
    sse_wait_id(b, next); /* and B, still open, hears it too */

    free(a->buf);
    pthread_mutex_destroy(&a->mu);
    free(a);
    sse_close(b);
    sse_close(c);
    sse_close(dd);
    shop_world_down(&w);
}
END_TEST

/* A client away long enough that its backlog is larger than a stream may hold unsent gets it
 * page by page, each page ending the stream, each resume going on from its end: every event
 * once, in order, nobody dropped as a slow reader, over HTTP/1.1 and HTTP/2 in turn (with
 * libcurl's default buffer, the case where a page's end used to be lost over HTTP/2). */
#define FAR_EVENTS 600

START_TEST(test_a_backlog_larger_than_the_buffer_comes_page_by_page)
{
    shop_world_t w;
    char token[128], party[EVENTS_PARTY_MAX], last[EVENTS_ID_MAX], first[EVENTS_ID_MAX];
    static char ids[FAR_EVENTS][EVENTS_ID_MAX];
    char pad[1001];
    shop_world_open(&w);
    party_token(&w.redis, ROLE_COURIER, 11, token, sizeof(token), party);
    memset(pad, 'x', sizeof(pad) - 1);
    pad[sizeof(pad) - 1] = '\0';
    emit(&w.redis, party, -1, first);      /* the client saw this one, then went away */
    for (int i = 0; i < FAR_EVENTS; i++) { /* ~640 KB: over 2 x events.buffer_bytes (256 KiB) */
        json_t *d = json_pack("{s:i, s:s}", "i", i, "pad", pad);
        ck_assert_int_eq(events_emit(&w.redis, 1000, party, "test.n", d, ids[i], EVENTS_ID_MAX), 0);
        json_decref(d);
    }
    double slow0 = metric("stallfront_events_slow_readers_dropped_total");
    int got = 0, pages = 0;
    snprintf(last, sizeof(last), "%s", first);
    while (got < FAR_EVENTS) {
        ck_assert_msg(pages < 20, "%d pages and only %d of %d events", pages, got, FAR_EVENTS);
        sse_t *s = sse_open(&shared, pages % 2 ? T_H2C : T_HTTP1, token, last, NULL);
        uint64_t t0 = now_ms();
        while (!sse_done(s) && sse_count(s) < (size_t)(FAR_EVENTS - got)) {
            ck_assert_msg(now_ms() - t0 < WAIT_MS, "page %d: stuck at %zu events", pages, sse_count(s));
            sleep_ms(5);
        }
        json_t *evs = sse_events(s, NULL);
        ck_assert_msg(json_array_size(evs) > 0, "page %d brought nothing", pages);
        for (size_t k = 0; k < json_array_size(evs); k++, got++) {
            const char *id = json_string_value(json_object_get(json_array_get(evs, k), "id"));
            ck_assert_msg(got < FAR_EVENTS && strcmp(id, ids[got]) == 0, "page %d event %zu: %s", pages, k, id);
            snprintf(last, sizeof(last), "%s", id);
        }
        json_decref(evs);
        sse_close(s);
        pages++;
    }
    ck_assert_int_ge(pages, 3); /* it did come in pages */
    ck_assert(metric("stallfront_events_slow_readers_dropped_total") == slow0);
    shop_world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- the subscriber reconnects */

/* The ids of the events a stream holds, in order, must be exactly these. */
static void assert_ids(sse_t *s, char (*ids)[EVENTS_ID_MAX], int from, int to)
{
    json_t *evs = sse_events(s, NULL);
    ck_assert_int_eq(json_array_size(evs), to - from);
    for (int i = from; i < to; i++)
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(evs, (size_t)(i - from)), "id")), ids[i]);
    json_decref(evs);
}

START_TEST(test_streams_catch_up_after_the_subscriber_reconnects)
{
    shop_world_t w;
    char t1[128], t2[128], p1[EVENTS_PARTY_MAX], p2[EVENTS_PARTY_MAX], a[8][EVENTS_ID_MAX], b[8][EVENTS_ID_MAX];
    shop_world_open(&w);
    party_token(&w.redis, ROLE_VENDOR, 5, t1, sizeof(t1), p1);
    party_token(&w.redis, ROLE_COURIER, 6, t2, sizeof(t2), p2);
    emit(&w.redis, p1, 0, a[0]); /* s1 opens after it (anchored there); p2 is empty when s2 opens */
    sse_t *s1 = sse_open(&shared, T_H2C, t1, NULL, NULL), *s2 = sse_open(&shared, T_HTTP1, t2, NULL, NULL);
    sleep_ms(200);
    /* Every pub/sub connection of this Redis is cut: the server's subscriber reconnects, and
     * what is published meanwhile reaches the streams only through their catch-up. Then
     * twice more with nothing new: a catch-up must not send anything twice. */
    for (int round = 0; round < 3; round++) {
        /* event 1 of each party is appended in the same pipeline as the kill: Redis runs the
         * three back to back, so no subscriber can be listening when it is written */
        char k1[64], k2[64];
        snprintf(k1, sizeof(k1), "events:%s", p1);
        snprintf(k2, sizeof(k2), "events:%s", p2);
        const char *kill[] = {"CLIENT", "KILL", "TYPE", "pubsub"};
        const char *x1[] = {"XADD", k1, "*", "type", "test.n", "data", "{\"i\":1}"};
        const char *x2[] = {"XADD", k2, "*", "type", "test.n", "data", "{\"i\":1}"};
        size_t lk[] = {6, 4, 4, 6}, l1[7], l2[7];
        for (int i = 0; i < 7; i++) {
            l1[i] = strlen(x1[i]);
            l2[i] = strlen(x2[i]);
        }
        redis_argv_t cmds[] = {{4, kill, lk}, {7, x1, l1}, {7, x2, l2}};
        redisReply *rep[3];
        ck_assert_int_eq(redis_pipeline(&w.redis, round == 0 ? 3 : 1, cmds, rep), 0);
        ck_assert(rep[0]->type == REDIS_REPLY_INTEGER);
        for (int i = 1; round == 0 && i < 3; i++) {
            ck_assert(rep[i]->type == REDIS_REPLY_STRING);
            snprintf(i == 1 ? a[1] : b[1], EVENTS_ID_MAX, "%s", rep[i]->str);
        }
        for (int i = 0; i < (round == 0 ? 3 : 1); i++)
            freeReplyObject(rep[i]);
        for (int i = 2; round == 0 && i < 8; i++) {
            emit(&w.redis, p1, i, a[i]);
            emit(&w.redis, p2, i, b[i]);
        }
        sleep_ms(150);
    }
    sse_wait_id(s1, a[7]);
    sse_wait_id(s2, b[7]);
    sleep_ms(300); /* a late duplicate would have come by now */
    assert_ids(s1, a, 1, 8);
    assert_ids(s2, b, 1, 8);
    sse_close(s1);
    sse_close(s2);
    shop_world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- a reader that never reads */

static long rss_kb(pid_t pid)
{
    char path[64], line[256];
    long kb = -1;
    snprintf(path, sizeof(path), "/proc/%d/status", (int)pid);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    while (fgets(line, sizeof(line), f) != NULL)
        if (sscanf(line, "VmRSS: %ld kB", &kb) == 1)
            break;
    fclose(f);
    return kb;
}

START_TEST(test_a_reader_that_never_reads_is_dropped_and_memory_stays_bounded)
{
    shop_world_t w;
    char token[128], party[EVENTS_PARTY_MAX], req[512];
    shop_world_open(&w);
    party_token(&w.redis, ROLE_COURIER, 2, token, sizeof(token), party);
    double open0 = metric("stallfront_events_streams_open"),
           slow0 = metric("stallfront_events_slow_readers_dropped_total");

    int fd = socket(AF_INET, SOCK_STREAM, 0), small = 4096;
    ck_assert_int_ge(fd, 0);
    setsockopt(fd, SOL_SOCKET, SO_RCVBUF, &small, sizeof(small)); /* before connect: a small window */
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)shared.port)};
    inet_pton(AF_INET, "127.0.0.1", &sa.sin_addr);
    ck_assert_int_eq(connect(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
    int n = snprintf(req, sizeof(req), "GET /v1/events HTTP/1.1\r\nHost: t\r\nAuthorization: Bearer %s\r\n\r\n", token);
    ck_assert_int_eq(send(fd, req, (size_t)n, 0), n);
    uint64_t t0 = now_ms();
    while (metric("stallfront_events_streams_open") < open0 + 1) {
        ck_assert_msg(now_ms() - t0 < WAIT_MS, "the stream did not open");
        sleep_ms(10);
    }
    sleep_ms(300); /* its catch-up read is back: it is live */
    long before = rss_kb(shared.pid);

    /* 20 MB of events to its party, and it reads none of them */
    size_t pad = 8000, total = 0;
    char *text = malloc(pad + 1);
    memset(text, 'x', pad);
    text[pad] = '\0';
    json_t *d = json_pack("{s:s}", "pad", text);
    free(text);
    for (int i = 0; total < (20u << 20); i++, total += pad)
        ck_assert_int_eq(events_emit(&w.redis, 1000, party, "test.pad", d, NULL, 0), 0);
    json_decref(d);

    t0 = now_ms();
    while (metric("stallfront_events_slow_readers_dropped_total") < slow0 + 1 ||
           metric("stallfront_events_streams_open") > open0) {
        ck_assert_msg(now_ms() - t0 < 2 * WAIT_MS, "the slow reader was not dropped and freed");
        sleep_ms(20);
    }
    long after = rss_kb(shared.pid);
    fprintf(stderr, "test_events: server VmRSS %ld kB before, %ld kB after 20 MB to a reader that never reads\n",
            before, after);
    /* bounded: the server held at most events.buffer_bytes (256 KB) of it at a time, plus
     * what the allocator keeps; nothing near the 20 MB that went by. (Under AddressSanitizer
     * freed memory waits in its quarantine, so RSS says nothing there: the drop and the
     * gauge above still hold, and the leak check at exit covers the freeing.) */
#ifndef __SANITIZE_ADDRESS__
    ck_assert_int_lt(after - before, 8 * 1024);
#endif
    close(fd);
    shop_world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- refusals */

static void expect(tproto_t proto, const char *path, const char *token, const char *header, long want, const char *code)
{
    tresp_t r;
    char url[256], auth[200];
    const char *h[3] = {NULL, NULL, NULL};
    size_t nh = 0;
    snprintf(url, sizeof(url), "%s%s", t_base(&shared, proto), path);
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h[nh++] = auth;
    }
    if (header != NULL)
        h[nh++] = header;
    ck_assert_int_eq(t_request(proto, "GET", url, h, NULL, 0, &r), 0);
    ck_assert_msg(r.status == want, "%s: %ld, want %ld: %s", path, r.status, want, r.body);
    ck_assert_msg(t_is_error(&r, code), "%s: not the error shape with %s: %s", path, code, r.body);
    t_resp_free(&r);
}

START_TEST(test_refusals_401_403_422_in_the_error_shape)
{
    shop_world_t w;
    char token[128], party[EVENTS_PARTY_MAX], op[128];
    shop_world_open(&w);
    party_token(&w.redis, ROLE_VENDOR, 3, token, sizeof(token), party);
    expect(T_H2C, "/v1/events", NULL, NULL, 401, "unauthorized");
    expect(T_HTTP1, "/v1/events", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, 401, "unauthorized");
    expect(T_H2C, "/v1/events", token, "Last-Event-ID: abc", 422, "invalid");
    expect(T_HTTP1, "/v1/events", token, "Last-Event-ID: 12-", 422, "invalid");
    expect(T_H2C, "/v1/events", token, "Last-Event-ID: 1-2-3", 422, "invalid");
    expect(T_H2C, "/v1/events?last_event_id=-5", token, NULL, 422, "invalid");
    expect(T_H2C, "/v1/events?last_event_id=99999999999999999999-1", token, NULL, 422, "invalid");
    ck_assert_int_eq(t_login(&shared, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);
    expect(T_H2C, "/v1/events", op, NULL, 403, "forbidden"); /* an operator has no party */
    /* a well-formed id of nothing yet is fine: the stream opens and waits */
    sse_t *s = sse_open(&shared, T_H2C, token, "1-0", NULL);
    ck_assert_int_eq(sse_count(s), 0);
    sse_close(s);
    shop_world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- one connection, many streams */

typedef struct grow {
    char buf[65536];
    size_t len;
} grow_t;

static size_t grow_data(char *p, size_t size, size_t n, void *arg)
{
    grow_t *g = arg;
    size_t len = size * n, room = sizeof(g->buf) - 1 - g->len;
    memcpy(g->buf + g->len, p, len < room ? len : room);
    g->len += len < room ? len : room;
    g->buf[g->len] = '\0';
    return len;
}

/* Drives the multi handle until cond(ctx) holds or WAIT_MS passes; 1 if it held. */
static int drive(CURLM *m, int (*cond)(void *), void *ctx)
{
    uint64_t until = now_ms() + WAIT_MS;
    while (!cond(ctx) && now_ms() < until) {
        int running = 0;
        curl_multi_perform(m, &running);
        curl_multi_poll(m, NULL, 0, 50, NULL);
    }
    return cond(ctx);
}

typedef struct mux {
    grow_t ev, other;
    CURLM *m;
    CURL *other_handle;
    int other_done;
    CURLcode other_result;
} mux_t;

static int stream_begun(void *arg)
{
    return strstr(((mux_t *)arg)->ev.buf, "retry: ") != NULL;
}

static int other_done(void *arg)
{
    mux_t *x = arg;
    CURLMsg *msg;
    int left;
    while ((msg = curl_multi_info_read(x->m, &left)) != NULL)
        if (msg->msg == CURLMSG_DONE && msg->easy_handle == x->other_handle) {
            x->other_done = 1;
            x->other_result = msg->data.result;
        }
    return x->other_done;
}

static int event_seen(void *arg)
{
    return strstr(((mux_t *)arg)->ev.buf, "event: test.n") != NULL;
}

static CURL *h2c_handle(const char *url, struct curl_slist *h, grow_t *g)
{
    CURL *c = curl_easy_init();
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, grow_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, g);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    curl_easy_setopt(c, CURLOPT_PIPEWAIT, 1L);
    return c;
}

/* Over HTTP/2 the event stream is one stream of the connection: other requests go over the
 * same connection while it is open, and an event still arrives after them. */
START_TEST(test_over_http2_the_stream_shares_its_connection_with_other_requests)
{
    shop_world_t w;
    char token[128], party[EVENTS_PARTY_MAX], auth[200], url[256];
    mux_t x = {0};
    shop_world_open(&w);
    party_token(&w.redis, ROLE_COURIER, 7, token, sizeof(token), party);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
    struct curl_slist *h = curl_slist_append(NULL, auth);
    x.m = curl_multi_init();
    curl_multi_setopt(x.m, CURLMOPT_PIPELINING, (long)CURLPIPE_MULTIPLEX);
    snprintf(url, sizeof(url), "%s/v1/events", t_base(&shared, T_H2C));
    CURL *ev = h2c_handle(url, h, &x.ev);
    curl_multi_add_handle(x.m, ev);
    ck_assert_msg(drive(x.m, stream_begun, &x), "the stream did not begin");
    /* a second request while the stream is open: answered, over the same connection */
    snprintf(url, sizeof(url), "%s/healthz", t_base(&shared, T_H2C));
    x.other_handle = h2c_handle(url, NULL, &x.other);
    /* libcurl 7.88 fails a prior-knowledge handle put on a connection already multiplexing
     * ("Error in the HTTP2 framing layer", client-side: nghttp and the curl tool share the
     * connection fine); plain HTTP/2 takes the open connection as it is */
    curl_easy_setopt(x.other_handle, CURLOPT_HTTP_VERSION, CURL_HTTP_VERSION_2_0);
    curl_multi_add_handle(x.m, x.other_handle);
    ck_assert_msg(drive(x.m, other_done, &x), "the request beside the stream was not answered");
    long code = 0, connects = -1, version = 0;
    curl_easy_getinfo(x.other_handle, CURLINFO_RESPONSE_CODE, &code);
    curl_easy_getinfo(x.other_handle, CURLINFO_NUM_CONNECTS, &connects);
    curl_easy_getinfo(x.other_handle, CURLINFO_HTTP_VERSION, &version);
    ck_assert_msg(x.other_result == CURLE_OK, "the request beside the stream failed: %s",
                  curl_easy_strerror(x.other_result));
    ck_assert_int_eq(code, 200);
    ck_assert_int_eq(version, CURL_HTTP_VERSION_2_0);
    ck_assert_msg(connects == 0, "the second request opened %ld connection(s) of its own", connects);
    ck_assert_ptr_nonnull(strstr(x.other.buf, "\"ok\""));
    /* and the stream still delivers */
    emit(&w.redis, party, 1, NULL);
    ck_assert_msg(drive(x.m, event_seen, &x), "no event after the other request: %s", x.ev.buf);
    curl_multi_remove_handle(x.m, x.other_handle);
    curl_multi_remove_handle(x.m, ev);
    curl_easy_cleanup(x.other_handle);
    curl_easy_cleanup(ev);
    curl_multi_cleanup(x.m);
    curl_slist_free_all(h);
    shop_world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- shutdown */

START_TEST(test_sigterm_ends_open_streams_instead_of_waiting_out_the_grace_period)
{
    shop_world_t w;
    tserver_t s;
    char token[128], party[EVENTS_PARTY_MAX];
    static const char *env[] = {"STALLFRONT_SHUTDOWN_GRACE_S=30", "STALLFRONT_EVENTS_HEARTBEAT_S=60", NULL};
    shop_world_open(&w);
    party_token(&w.redis, ROLE_VENDOR, 4, token, sizeof(token), party);
    ck_assert_int_eq(tserver_start(&s, env), 0);
    sse_t *h1 = sse_open(&s, T_HTTP1, token, NULL, NULL);
    sse_t *h2 = sse_open(&s, T_H2C, token, NULL, NULL);
    uint64_t t0 = now_ms();
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
    uint64_t took = now_ms() - t0;
    fprintf(stderr, "test_events: SIGTERM with two open streams: exited in %llu ms\n", (unsigned long long)took);
    ck_assert_msg(took < 20000, "shutdown waited %llu ms: the streams held it", (unsigned long long)took);
    while (!sse_done(h1) || !sse_done(h2)) {
        ck_assert_msg(now_ms() - t0 < 25000, "a client did not see its stream end");
        sleep_ms(10);
    }
    sse_close(h1);
    sse_close(h2);
    shop_world_down(&w);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *su = suite_create("events");
    TCase *tc = tcase_create("events");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_a_vendor_hears_of_a_paid_order_and_nobody_else_does);
    tcase_add_test(tc, test_a_resumed_stream_gets_exactly_the_events_after_its_last_id);
    tcase_add_test(tc, test_a_backlog_larger_than_the_buffer_comes_page_by_page);
    tcase_add_test(tc, test_streams_catch_up_after_the_subscriber_reconnects);
    tcase_add_test(tc, test_a_reader_that_never_reads_is_dropped_and_memory_stays_bounded);
    tcase_add_test(tc, test_refusals_401_403_422_in_the_error_shape);
    tcase_add_test(tc, test_over_http2_the_stream_shares_its_connection_with_other_requests);
    tcase_add_test(tc, test_sigterm_ends_open_streams_instead_of_waiting_out_the_grace_period);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    curl_global_cleanup();
    return failed == 0 && shared_exit == 0 ? 0 : 1;
}
