/*
 * `stallfront platform pull` (the real binary) against a scripted feed in this process: a
 * loopback HTTP/1.1 server (the pull runs with --http1.1) that checks every request's signature with
 * models/base/platsig.h and answers as the contract says (API.md "Supervision platforms"), including the refusals the
 * real server is hard to drive into on demand:
 *   - 429 with Retry-After and a 503 on the way are waited out and retried, every attempt
 *     signed anew (no nonce is ever sent twice), and the pull still writes every line;
 *   - the resume cursor is saved beside the file; a rerun without --since continues there,
 *     and a line a crash left half-written is cut and its page read again, nothing doubled;
 *   - a server that keeps failing ends the pull with exit 1 after the retries;
 *   - --verify keeps the newest version of each event_id from every pull and only the lines
 *     paid that +08:00 day, recomputes through models/kpi.h and agrees; a server figure that
 *     differs gives DIFF and exit 1.
 * No database: the feed's semantics are scripted here, the real server's are e2e's.
 */
#include <arpa/inet.h>
#include <check.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "models/base/platsig.h"
#include "models/kpi.h"
#include "tests/support/testutil.h"

#define APP_KEY "pk_fake_client_000000001"
#define SECRET  "fake-secret-Qw3Er5Ty7Ui9Op1As3Df5Gh7Jk9Lz1X"
#define DAY     "2026-12-07"
#define NONCES  512

typedef struct fake {
    int fd, port, stop;
    pthread_t th;
    pthread_mutex_t mu;
    int throttle, unavailable; /* answers 429 / 503 to the next transactions requests */
    int always_503;
    int gmv_delta; /* added to the served gmv_fen */
    int grow;      /* online-sales answers left that append a new version of the day after answering */
    int grown;
    int refuse_after; /* > 0: transactions pages served before every later one is refused (401) */
    int requests, bad_signatures;
    char nonces[NONCES][81];
    int nn, nonce_reused;
    json_t *items; /* the log, in position order */
} fake_t;

static fake_t fk;
static char dir[512], out[600], secret_file[600], log_file[600];

/* ---------------------------------------------------------------- the log */

static void add_item(int64_t event, int64_t version, const char *op, const char *order, int64_t amount,
                     int64_t refunded, const char *paid_at)
{
    json_t *it = json_pack(
        "{s:I, s:I, s:s, s:s, s:I, s:s, s:I, s:s, s:s, s:n, s:n, s:{s:s, s:i, s:i}, s:i, s:n, "
        "s:I, s:I, s:s, s:s, s:s, s:n, s:n}",
        "event_id", (json_int_t)event, "version", (json_int_t)version, "op", op, "order_no", order, "line_id",
        (json_int_t)event, "stall_no", event % 2 ? "A-01" : "A-02", "vendor_id", (json_int_t)1, "commodity_code",
        "A010101", "name", "菠菜", "origin", "trace_code", "pricing", "mode", "weight", "price_fen", 600, "per_g", 500,
        "qty", 500, "qty_actual", "amount_fen", (json_int_t)amount, "refunded_fen", (json_int_t)refunded, "channel",
        "online", "consumer_ref", "0123456789abcdef0123456789abcdef", "paid_at", paid_at, "ready_at", "delivered_at");
    pthread_mutex_lock(&fk.mu);
    json_array_append_new(fk.items, it);
    pthread_mutex_unlock(&fk.mu);
}

/* The day's sale lines as the server would count them: the newest version of each event_id
 * in the log, paid that day. *n records (malloc'd). */
static sale_rec_t *server_day(size_t *n)
{
    size_t cnt = json_array_size(fk.items), k = 0, i;
    sale_rec_t *recs = calloc(cnt + 1, sizeof(*recs));
    json_t *it;
    json_array_foreach(fk.items, i, it)
    {
        int64_t e = json_integer_value(json_object_get(it, "event_id"));
        int64_t v = json_integer_value(json_object_get(it, "version"));
        int newer = 0;
        size_t j;
        json_t *o;
        json_array_foreach(fk.items, j, o) newer |= json_integer_value(json_object_get(o, "event_id")) == e &&
                                                    json_integer_value(json_object_get(o, "version")) > v;
        const char *paid = json_string_value(json_object_get(it, "paid_at"));
        if (newer || strncmp(paid, DAY, 10) != 0)
            continue;
        sale_rec_t *r = &recs[k++];
        r->event_id = e;
        r->version = v;
        r->is_void = strcmp(json_string_value(json_object_get(it, "op")), "void") == 0;
        r->is_weight = 1;
        snprintf(r->order_no, sizeof(r->order_no), "%s", json_string_value(json_object_get(it, "order_no")));
        snprintf(r->stall_no, sizeof(r->stall_no), "%s", json_string_value(json_object_get(it, "stall_no")));
        snprintf(r->consumer_ref, sizeof(r->consumer_ref), "%s",
                 json_string_value(json_object_get(it, "consumer_ref")));
        r->qty = 500;
        r->qty_actual = KPI_NO_TIME;
        r->amount_fen = json_integer_value(json_object_get(it, "amount_fen"));
        r->refunded_fen = json_integer_value(json_object_get(it, "refunded_fen"));
        int hh = atoi(paid + 11); /* "2026-12-07THH:..+08:00" */
        r->paid_ms = (1796601600LL - 8 * 3600 + hh * 3600LL) * 1000;
        r->ready_ms = KPI_NO_TIME;
        r->delivered_ms = KPI_NO_TIME;
        r->paid_day = kpi_day_of(r->paid_ms);
    }
    *n = k;
    return recs;
}

/* ---------------------------------------------------------------- the fake server */

static void reply(int c, int status, const char *extra, json_t *doc)
{
    char *body = json_dumps(doc, JSON_COMPACT);
    char head[512];
    int n = snprintf(head, sizeof(head),
                     "HTTP/1.1 %d X\r\nContent-Type: application/json\r\nContent-Length: %zu\r\n%sConnection: "
                     "close\r\n\r\n",
                     status, strlen(body), extra);
    if (write(c, head, (size_t)n) < 0 || write(c, body, strlen(body)) < 0)
        perror("fake feed: write");
    free(body);
    json_decref(doc);
}

static void error_reply(int c, int status, const char *code, const char *extra)
{
    reply(c, status, extra, json_pack("{s:{s:s, s:s, s:{}}}", "error", "code", code, "message", code, "details"));
}

/* The value of header name in the request head (NUL-terminated), into out. */
static void header(const char *req, const char *name, char *out, size_t len)
{
    char want[64];
    snprintf(want, sizeof(want), "\r\n%s:", name);
    const char *p = strcasestr(req, want);
    out[0] = '\0';
    if (p == NULL)
        return;
    p += strlen(want);
    p += strspn(p, " ");
    snprintf(out, len, "%.*s", (int)strcspn(p, "\r\n"), p);
}

/* The query parameter's value (as sent) into out; "" when absent. */
static void param(const char *query, const char *name, char *out, size_t len)
{
    size_t nl = strlen(name);
    out[0] = '\0';
    for (const char *p = query; p != NULL && *p; p = strchr(p, '&') ? strchr(p, '&') + 1 : NULL)
        if (strncmp(p, name, nl) == 0 && p[nl] == '=') {
            snprintf(out, len, "%.*s", (int)strcspn(p + nl + 1, "&"), p + nl + 1);
            return;
        }
}

static void serve_one(int c)
{
    char req[8192], path[2048], query[2048] = "", key[128], ts[32], nonce[80], sig[80], want[PLATSIG_B64_MAX];
    size_t n = 0;
    while (n < sizeof(req) - 1) {
        ssize_t r = read(c, req + n, sizeof(req) - 1 - n);
        if (r <= 0)
            break;
        n += (size_t)r;
        req[n] = '\0';
        if (strstr(req, "\r\n\r\n") != NULL)
            break;
    }
    req[n] = '\0';
    char target[2048];
    if (sscanf(req, "GET %2047s HTTP/1.1", target) != 1)
        return error_reply(c, 400, "malformed", "");
    char *q = strchr(target, '?');
    if (q != NULL) {
        *q = '\0';
        snprintf(query, sizeof(query), "%s", q + 1);
    }
    snprintf(path, sizeof(path), "%s", target);
    header(req, "X-App-Key", key, sizeof(key));
    header(req, "X-Timestamp", ts, sizeof(ts));
    header(req, "X-Nonce", nonce, sizeof(nonce));
    header(req, "X-Signature", sig, sizeof(sig));
    pthread_mutex_lock(&fk.mu);
    fk.requests++;
    for (int i = 0; i < fk.nn; i++)
        fk.nonce_reused |= strcmp(fk.nonces[i], nonce) == 0;
    if (fk.nn < NONCES)
        snprintf(fk.nonces[fk.nn++], sizeof(fk.nonces[0]), "%s", nonce);
    int ok = platsig_sign(SECRET, "GET", path, query, NULL, 0, ts, nonce, want, sizeof(want)) == 0 &&
             strcmp(want, sig) == 0 && strcmp(key, APP_KEY) == 0 && labs(atol(ts) - (long)time(NULL)) <= 300 &&
             strlen(nonce) >= 8;
    fk.bad_signatures += !ok;
    int tx = strstr(path, "/transactions") != NULL;
    if (!ok) {
        pthread_mutex_unlock(&fk.mu);
        return error_reply(c, 401, "invalid_signature", "");
    }
    if (strncmp(path, "/v1/platform/markets/1", 22) != 0) {
        pthread_mutex_unlock(&fk.mu);
        return error_reply(c, 403, "market_not_granted", "");
    }
    if (tx && fk.refuse_after > 0 && fk.refuse_after-- == 1)
        fk.refuse_after = -1;
    else if (tx && fk.refuse_after < 0) {
        pthread_mutex_unlock(&fk.mu);
        return error_reply(c, 401, "invalid_signature", "");
    }
    if (tx && fk.throttle > 0) {
        fk.throttle--;
        pthread_mutex_unlock(&fk.mu);
        return error_reply(c, 429, "rate_limited", "Retry-After: 1\r\n");
    }
    if (tx && (fk.unavailable > 0 || fk.always_503)) {
        fk.unavailable -= fk.unavailable > 0;
        pthread_mutex_unlock(&fk.mu);
        return error_reply(c, 503, "unavailable", "");
    }
    json_t *doc = NULL;
    char v[128], v2[128];
    if (strcmp(path, "/v1/platform/markets/1") == 0)
        doc = json_pack("{s:i, s:s, s:i, s:i}", "id", 1, "name", "fake", "stall_count", 12, "vendor_count", 10);
    else if (tx) {
        param(query, "cursor", v, sizeof(v));
        param(query, "limit", v2, sizeof(v2));
        size_t from = (size_t)atol(v), limit = (size_t)atol(v2), total = json_array_size(fk.items), i;
        json_t *items = json_array();
        for (i = from; i < total && i < from + limit; i++)
            json_array_append(items, json_array_get(fk.items, i));
        snprintf(v, sizeof(v), "%zu", i);
        doc = json_pack("{s:o, s:o, s:s}", "items", items, "next_cursor",
                        json_array_size(items) == limit ? json_string(v) : json_null(), "resume_cursor", v);
    } else if (strcmp(path, "/v1/platform/markets/1/online-sales") == 0 ||
               strcmp(path, "/v1/platform/markets/1/reconcile") == 0) {
        size_t nrec;
        sale_rec_t *recs = server_day(&nrec);
        kpi_t k;
        char sum[65];
        ck_assert_int_eq(kpi_compute(recs, nrec, 12, &k), 0);
        ck_assert_int_eq(kpi_checksum(recs, nrec, sum), 0);
        free(recs);
        k.complaint_count = 2;
        k.gmv_fen += fk.gmv_delta;
        if (strstr(path, "reconcile") != NULL)
            doc = json_pack("{s:s, s:I, s:I, s:s}", "date", DAY, "count", (json_int_t)nrec, "sales_fen",
                            (json_int_t)(k.gmv_fen - fk.gmv_delta), "checksum", sum);
        else {
            json_t *day = kpi_json(&k);
            json_object_set_new(day, "date", json_string(DAY));
            doc = json_pack("{s:s, s:s, s:[O], s:O}", "from", DAY, "to", DAY, "days", day, "total", day);
            json_decref(day);
        }
    }
    int grow = fk.grow > 0 && strstr(path, "online-sales") != NULL;
    fk.grow -= grow;
    pthread_mutex_unlock(&fk.mu);
    if (grow) /* the day goes on: a sale committed right after the figures were read */
        add_item(300 + fk.grown++, 1, "upsert", "O-late", 777, 0, DAY "T20:00:00.000+08:00");
    if (doc == NULL)
        return error_reply(c, 404, "not_found", "");
    reply(c, 200, "", doc);
}

static void *serve(void *arg)
{
    (void)arg;
    while (!fk.stop) {
        struct pollfd p = {.fd = fk.fd, .events = POLLIN};
        if (poll(&p, 1, 50) <= 0)
            continue;
        int c = accept(fk.fd, NULL, NULL);
        if (c >= 0) {
            serve_one(c);
            close(c);
        }
    }
    return NULL;
}

static void fake_up(void)
{
    memset(&fk, 0, sizeof(fk));
    pthread_mutex_init(&fk.mu, NULL);
    fk.items = json_array();
    fk.fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(a);
    ck_assert_int_eq(bind(fk.fd, (struct sockaddr *)&a, sizeof(a)), 0);
    ck_assert_int_eq(listen(fk.fd, 16), 0);
    ck_assert_int_eq(getsockname(fk.fd, (struct sockaddr *)&a, &len), 0);
    fk.port = ntohs(a.sin_port);
    ck_assert_int_eq(pthread_create(&fk.th, NULL, serve, NULL), 0);

    snprintf(dir, sizeof(dir), "/tmp/sf-pull-client-%d", (int)getpid());
    ck_assert_int_eq(t_sh("rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    snprintf(out, sizeof(out), "%s/feed.jsonl", dir);
    snprintf(secret_file, sizeof(secret_file), "%s/secret", dir);
    snprintf(log_file, sizeof(log_file), "%s/log", dir);
    FILE *f = fopen(secret_file, "w");
    fputs(SECRET "\n", f);
    fclose(f);
    chmod(secret_file, 0600);
}

static void fake_down(void)
{
    fk.stop = 1;
    pthread_join(fk.th, NULL);
    close(fk.fd);
    json_decref(fk.items);
    t_sh("rm -rf '%s'", dir);
}

/* ---------------------------------------------------------------- the client */

static int pull(const char *extra)
{
    return t_sh(
        "%s platform pull --http1.1 --url http://127.0.0.1:%d --app-key %s --secret-file '%s' --market 1 --out '%s' %s "
        ">'%s' 2>&1",
        SF_BINARY, fk.port, APP_KEY, secret_file, out, extra, log_file);
}

static int log_has(const char *text)
{
    char cmd[1024];
    snprintf(cmd, sizeof(cmd), "grep -qF -- '%s' '%s'", text, log_file);
    int has = t_sh("%s", cmd) == 0;
    if (!has)
        t_sh("echo '--- no \"%s\" in:' >&2; cat '%s' >&2", text, log_file);
    return has;
}

static int log_lacks(const char *text)
{
    return t_sh("grep -qF -- '%s' '%s'", text, log_file) != 0;
}

/* The out file's lines: each must be a JSON object; their count, and the count of (event, version). */
static int lines_of(int64_t event, int64_t version, int *total)
{
    FILE *f = fopen(out, "r");
    char *line = NULL;
    size_t cap = 0;
    int n = 0;
    *total = 0;
    while (f != NULL && getline(&line, &cap, f) > 0) {
        json_t *o = json_loads(line, 0, NULL);
        ck_assert_msg(json_is_object(o), "not a JSON line: %s", line);
        (*total)++;
        n += json_integer_value(json_object_get(o, "event_id")) == event &&
             json_integer_value(json_object_get(o, "version")) == version;
        json_decref(o);
    }
    free(line);
    if (f != NULL)
        fclose(f);
    return n;
}

/* 23 lines on DAY (a few orders of 2), then corrections and a line of the day before. */
static void fill_log(void)
{
    char order[16], paid[40];
    for (int i = 1; i <= 23; i++) {
        snprintf(order, sizeof(order), "O%d", i / 2);
        snprintf(paid, sizeof(paid), DAY "T%02d:00:00.000+08:00", 7 + i % 12);
        add_item(i, 1, "upsert", order, 100 * i, 0, paid);
    }
}

/* ---------------------------------------------------------------- the tests */

START_TEST(test_throttled_and_unavailable_answers_are_waited_out_and_every_line_arrives)
{
    fake_up();
    fill_log();
    fk.throttle = 1;
    fk.unavailable = 1;
    ck_assert_int_eq(pull("--limit 5"), 0);
    ck_assert(log_has("rate limited (429): waiting 1 s"));
    ck_assert(log_has("the server answered 503: retrying"));
    ck_assert(log_has("23 lines"));
    int total;
    for (int i = 1; i <= 23; i++)
        ck_assert_int_eq(lines_of(i, 1, &total), 1);
    ck_assert_int_eq(total, 23);
    ck_assert_int_eq(fk.bad_signatures, 0);
    ck_assert_msg(!fk.nonce_reused, "a nonce was sent twice");
    ck_assert_int_eq(fk.requests, 2 + 5); /* the 429, the 503, then 5 pages (the last one short) */
    char cur[700];
    snprintf(cur, sizeof(cur), "%s.cursor", out);
    json_t *c = json_load_file(cur, 0, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(json_string_value(json_object_get(c, "cursor")), "23");
    ck_assert_int_eq(json_integer_value(json_object_get(c, "market")), 1);
    ck_assert_str_eq(json_string_value(json_object_get(c, "app_key")), APP_KEY);
    ck_assert(json_is_string(json_object_get(c, "url")));
    json_decref(c);
    struct stat st;
    ck_assert_int_eq(stat(cur, &st), 0);
    ck_assert_int_eq(st.st_mode & 077, 0);
    fake_down();
}
END_TEST

START_TEST(test_a_rerun_resumes_at_the_saved_cursor_and_a_half_written_line_is_cut)
{
    fake_up();
    fill_log();
    ck_assert_int_eq(pull("--limit 10"), 0);
    int total;
    lines_of(0, 0, &total);
    ck_assert_int_eq(total, 23);
    /* corrections arrive as new versions; a crash left half a line behind */
    add_item(3, 2, "void", "O1", 300, 300, DAY "T10:00:00.000+08:00");
    add_item(4, 2, "upsert", "O2", 400, 40, DAY "T11:00:00.000+08:00");
    t_sh("printf '{\"event_id\":7,\"vers' >>'%s'", out);
    int before = fk.requests;
    ck_assert_int_eq(pull("--limit 10"), 0);
    ck_assert(log_has("half-written line"));
    ck_assert_int_eq(lines_of(3, 2, &total), 1);
    ck_assert_int_eq(lines_of(4, 2, &total), 1);
    ck_assert_int_eq(lines_of(3, 1, &total), 1); /* nothing read twice */
    ck_assert_int_eq(total, 25);
    ck_assert_int_eq(fk.requests - before, 1); /* one page, from the saved cursor */
    /* --since '' starts again from the beginning: the versions come again, harmlessly */
    ck_assert_int_eq(pull("--limit 10 --since ''"), 0);
    ck_assert_int_eq(lines_of(3, 1, &total), 2);
    ck_assert_int_eq(total, 50);
    /* another market's cursor file is not used for this one */
    ck_assert_int_eq(
        t_sh("%s platform pull --http1.1 --url http://127.0.0.1:%d --app-key %s --secret-file '%s' --market 2 "
             "--out '%s' >'%s' 2>&1",
             SF_BINARY, fk.port, APP_KEY, secret_file, out, log_file),
        2);
    ck_assert(log_has("holds the feed of market 1, not 2"));
    fake_down();
}
END_TEST

START_TEST(test_a_server_that_keeps_failing_ends_the_pull_with_exit_1)
{
    fake_up();
    fill_log();
    fk.always_503 = 1;
    ck_assert_int_eq(pull(""), 1);
    ck_assert(log_has("the server answered 503"));
    ck_assert_int_eq(fk.requests, 5); /* the first attempt and 4 retries */
    struct stat st;
    char cur[700];
    snprintf(cur, sizeof(cur), "%s.cursor", out);
    ck_assert_int_ne(stat(cur, &st), 0);
    fake_down();
}
END_TEST

START_TEST(test_verify_recomputes_from_the_newest_versions_of_the_day_and_reports_a_difference)
{
    fake_up();
    fill_log();
    ck_assert_int_eq(pull("--limit 7"), 0);
    /* later: a line voided, one refunded in part, and a line of the day before */
    add_item(5, 2, "void", "O2", 500, 500, DAY "T12:00:00.000+08:00");
    add_item(6, 2, "upsert", "O3", 600, 60, DAY "T07:00:00.000+08:00");
    add_item(99, 1, "upsert", "O99", 12345, 0, "2026-12-06T23:59:59.999+08:00");
    ck_assert_int_eq(pull("--limit 7 --verify " DAY), 0);
    ck_assert(log_has("verified: every figure of " DAY " agrees"));
    ck_assert(log_has("23 sale lines recomputed"));
    ck_assert(log_lacks("DIFF"));
    fk.gmv_delta = 1;
    ck_assert_int_eq(pull("--verify " DAY), 1);
    ck_assert(log_has("DIFF"));
    ck_assert(log_has("1 figure of " DAY " differs"));
    fake_down();
}
END_TEST

START_TEST(test_verify_reads_the_servers_figures_first_then_pulls_again_while_the_day_changes)
{
    fake_up();
    fill_log();
    ck_assert_int_eq(pull("--limit 7"), 0);
    /* a sale of the day lands right after the server's figures are read, once: the pull after
     * them brings it, so the figures are read again, and then everything agrees */
    fk.grow = 1;
    ck_assert_int_eq(pull("--limit 7 --verify " DAY), 0);
    ck_assert(log_has("changed while verifying: the server") && log_has("figures were read 2 times"));
    ck_assert(log_has("24 sale lines recomputed"));
    ck_assert(log_has("verified: every figure of " DAY " agrees"));
    ck_assert(log_lacks("still changing"));
    /* a day that never stands still: 3 rounds, then the comparison says so */
    fk.grow = 10;
    ck_assert_int_eq(pull("--limit 7 --verify " DAY), 1);
    ck_assert(log_has(DAY " was still changing: after the server"));
    ck_assert(log_has("(3 rounds), the pull brought 1 new version of it"));
    ck_assert(log_has("27 sale lines recomputed"));
    ck_assert(log_has("DIFF"));
    ck_assert_int_eq(fk.grow, 7);
    fake_down();
}
END_TEST

/* The cursor file's "url", "app_key" and "market". */
static void cursor_is(const char *url, const char *key, int market)
{
    char cur[700];
    snprintf(cur, sizeof(cur), "%s.cursor", out);
    json_t *c = json_load_file(cur, 0, NULL);
    ck_assert_ptr_nonnull(c);
    ck_assert_str_eq(json_string_value(json_object_get(c, "url")), url);
    ck_assert_str_eq(json_string_value(json_object_get(c, "app_key")), key);
    ck_assert_int_eq(json_integer_value(json_object_get(c, "market")), market);
    json_decref(c);
}

/* A pull into out with this URL host, app key and market, and extra args. */
static int pull_as(const char *host, const char *key, int market, const char *extra)
{
    return t_sh("%s platform pull --http1.1 --url http://%s:%d --app-key %s --secret-file '%s' --market %d --out '%s' "
                "%s >'%s' 2>&1",
                SF_BINARY, host, fk.port, key, secret_file, market, out, extra, log_file);
}

START_TEST(test_the_cursor_file_names_its_feed_and_another_feed_is_refused_unless_since)
{
    char url[64], other[64];
    fake_up();
    fill_log();
    snprintf(url, sizeof(url), "http://127.0.0.1:%d", fk.port);
    snprintf(other, sizeof(other), "http://localhost:%d", fk.port);
    ck_assert_int_eq(pull_as("127.0.0.1", APP_KEY, 1, "--limit 10"), 0);
    cursor_is(url, APP_KEY, 1);
    int total, before = fk.requests;
    /* another server, another client, another market: refused before any request */
    ck_assert_int_eq(pull_as("localhost", APP_KEY, 1, ""), 2);
    ck_assert(log_has("was pulled from http://127.0.0.1:"));
    ck_assert(log_has("pass --since to start over"));
    ck_assert_int_eq(pull_as("127.0.0.1", "pk_other", 1, ""), 2);
    ck_assert(log_has("with app key " APP_KEY ", not from"));
    ck_assert_int_eq(pull_as("127.0.0.1", APP_KEY, 2, ""), 2);
    ck_assert(log_has("holds the feed of market 1, not 2"));
    ck_assert(log_has("refusing to mix two markets"));
    ck_assert_int_eq(fk.requests, before);
    lines_of(0, 0, &total);
    ck_assert_int_eq(total, 23);
    cursor_is(url, APP_KEY, 1);
    /* --since starts over: the same market from another URL keeps the lines (the same feed) */
    ck_assert_int_eq(pull_as("localhost", APP_KEY, 1, "--since ''"), 0);
    cursor_is(other, APP_KEY, 1);
    lines_of(0, 0, &total);
    ck_assert_int_eq(total, 46);
    /* another market with --since: the file is emptied first, never mixed (market 2 is then
     * refused by this server, after the cursor file was rewritten for it) */
    ck_assert_int_eq(pull_as("localhost", APP_KEY, 2, "--since ''"), 1);
    ck_assert(log_has("held another market"));
    ck_assert(log_has("403 market_not_granted"));
    lines_of(0, 0, &total);
    ck_assert_int_eq(total, 0);
    cursor_is(other, APP_KEY, 2);
    ck_assert_int_eq(pull_as("localhost", APP_KEY, 1, ""), 2);
    fake_down();
}
END_TEST

START_TEST(test_on_a_tty_the_progress_line_is_ended_before_anything_else)
{
    char cmd[2048];
    fake_up();
    fill_log();
    /* two pages, then a refusal: the 401 message starts a line of its own */
    fk.refuse_after = 2;
    snprintf(cmd, sizeof(cmd),
             "%s platform pull --http1.1 --url http://127.0.0.1:%d --app-key %s --secret-file %s --market 1 "
             "--out %s --limit 5",
             SF_BINARY, fk.port, APP_KEY, secret_file, out);
    ck_assert_int_eq(t_sh("script -qec \"%s\" /dev/null >'%s' 2>&1", cmd, log_file), 1);
    ck_assert(log_has("pulled 2 pages, 10 lines"));
    ck_assert(log_has("401 invalid_signature"));
    ck_assert_msg(t_sh("grep -a 'lines/s.*platform pull' '%s'", log_file) != 0,
                  "the refusal was written on the progress line");
    /* a pull that ends well ends its progress line */
    fk.refuse_after = 0;
    ck_assert_int_eq(t_sh("script -qec \"%s\" /dev/null >'%s' 2>&1", cmd, log_file), 0);
    ck_assert(log_has("lines/s"));
    ck_assert_int_eq(t_sh("tail -c 1 '%s' | od -An -c | grep -q '\\\\n'", log_file), 0);
    fake_down();
}
END_TEST

START_TEST(test_a_wrong_key_stops_with_the_401_message_and_another_market_with_403)
{
    fake_up();
    fill_log();
    ck_assert_int_eq(
        t_sh("%s platform pull --http1.1 --url http://127.0.0.1:%d --app-key pk_other --secret-file '%s' --market 1 "
             ">'%s' 2>&1",
             SF_BINARY, fk.port, secret_file, log_file),
        1);
    ck_assert(log_has("401 invalid_signature: the server refused the signature"));
    ck_assert_int_eq(fk.requests, 1); /* a refusal is not retried */
    ck_assert_int_eq(
        t_sh("%s platform pull --http1.1 --url http://127.0.0.1:%d --app-key %s --secret-file '%s' --market 2 "
             ">'%s' 2>&1",
             SF_BINARY, fk.port, APP_KEY, secret_file, log_file),
        1);
    ck_assert(log_has("403 market_not_granted: market 2 is not granted"));
    fake_down();
}
END_TEST

int main(void)
{
    Suite *s = suite_create("platform_pull_client");
    TCase *tc = tcase_create("platform_pull_client");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_throttled_and_unavailable_answers_are_waited_out_and_every_line_arrives);
    tcase_add_test(tc, test_a_rerun_resumes_at_the_saved_cursor_and_a_half_written_line_is_cut);
    tcase_add_test(tc, test_a_server_that_keeps_failing_ends_the_pull_with_exit_1);
    tcase_add_test(tc, test_verify_recomputes_from_the_newest_versions_of_the_day_and_reports_a_difference);
    tcase_add_test(tc, test_a_wrong_key_stops_with_the_401_message_and_another_market_with_403);
    tcase_add_test(tc, test_verify_reads_the_servers_figures_first_then_pulls_again_while_the_day_changes);
    tcase_add_test(tc, test_the_cursor_file_names_its_feed_and_another_feed_is_refused_unless_since);
    tcase_add_test(tc, test_on_a_tty_the_progress_line_is_ended_before_anything_else);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
