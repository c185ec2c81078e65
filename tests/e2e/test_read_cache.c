/*
 * The loop-thread read cache, end to end, through the test routes: /_test/cached answers
 * with how many times a worker computed it, /_test/bump moves a market's catalogue version
 * (as every catalogue write does), so a hit, an ETag, a 304 and an invalidation are all
 * visible from outside.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tests/support/testutil.h"

static int64_t market_no; /* a market id no other test uses */

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* GET /_test/cached for the market: the "computed" count, and the ETag into etag. */
static long long cached_get(const tserver_t *s, tproto_t proto, const char *inm, long *status, char *etag,
                            size_t etaglen)
{
    char url[160], hdr[160];
    snprintf(url, sizeof(url), "%s/_test/cached?market=%lld", t_base(s, proto), (long long)market_no);
    snprintf(hdr, sizeof(hdr), "If-None-Match: %s", inm != NULL ? inm : "");
    const char *h[] = {hdr, NULL};
    tresp_t r;
    ck_assert_int_eq(t_request(proto, "GET", url, inm != NULL ? h : NULL, NULL, 0, &r), 0);
    *status = r.status;
    if (etag != NULL && t_header(&r, "etag", etag, etaglen) == NULL)
        etag[0] = '\0';
    long long computed = -1;
    json_t *doc = t_json(&r);
    if (doc != NULL)
        computed = json_integer_value(json_object_get(doc, "computed"));
    json_decref(doc);
    if (r.status == 304)
        ck_assert_int_eq(r.len, 0);
    t_resp_free(&r);
    return computed;
}

static void bump(const tserver_t *s, int64_t market)
{
    char url[160];
    snprintf(url, sizeof(url), "%s/_test/bump?market=%lld", s->base, (long long)market);
    tresp_t r;
    ck_assert_int_eq(t_request(T_H2C, "POST", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
}

static double sample(const tserver_t *s, const char *series)
{
    char url[128], want[256];
    snprintf(url, sizeof(url), "%s/metrics", s->base);
    tresp_t r;
    ck_assert_int_eq(t_request(T_HTTP1, "GET", url, NULL, NULL, 0, &r), 0);
    snprintf(want, sizeof(want), "\n%s ", series);
    const char *p = strstr(r.body, want);
    double v = p != NULL ? strtod(p + strlen(want), NULL) : -1;
    t_resp_free(&r);
    return v;
}

START_TEST(test_a_read_is_computed_once_then_served_from_the_cache_with_an_etag)
{
    static const char *const env[] = {"STALLFRONT_TEST_ROUTES=1", "STALLFRONT_HTTP_THREADS=1", NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    market_no = (int64_t)getpid() * 100 + 1;
    long status;
    char etag[80], etag2[80];
    long long first = cached_get(&s, T_H2C, NULL, &status, etag, sizeof(etag));
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(first, 1);
    ck_assert_msg(etag[0] == '"' && strlen(etag) == 34, "etag %s", etag);
    for (int i = 0; i < 3; i++) { /* every protocol, same answer, no new computation */
        tproto_t p = i == 0 ? T_HTTP1 : i == 1 ? T_H2C : T_H2TLS;
        ck_assert_int_eq(cached_get(&s, p, NULL, &status, etag2, sizeof(etag2)), 1);
        ck_assert_int_eq(status, 200);
        ck_assert_str_eq(etag2, etag);
    }
    ck_assert_double_ge(sample(&s, "stallfront_cache_hits_total"), 3);

    /* If-None-Match: 304 without a body when it matches, the answer when it does not */
    cached_get(&s, T_H2C, etag, &status, etag2, sizeof(etag2));
    ck_assert_int_eq(status, 304);
    ck_assert_str_eq(etag2, etag);
    ck_assert_int_eq(cached_get(&s, T_H2C, "\"something-else\"", &status, NULL, 0), 1);
    ck_assert_int_eq(status, 200);

    /* a write to another market changes nothing here */
    bump(&s, market_no + 1);
    sleep_ms(300);
    ck_assert_int_eq(cached_get(&s, T_H2C, NULL, &status, NULL, 0), 1);

    /* a write to this market: the next read is computed again, with a new tag */
    bump(&s, market_no);
    long long after = -1;
    for (int i = 0; i < 50 && after != 2; i++) {
        sleep_ms(50);
        after = cached_get(&s, T_H2C, etag, &status, etag2, sizeof(etag2));
    }
    ck_assert_int_eq(after, 2);
    ck_assert_int_eq(status, 200); /* the old tag no longer matches */
    ck_assert_str_ne(etag2, etag);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_a_write_is_read_back_at_once_on_every_loop_thread)
{
    static const char *const env[] = {"STALLFRONT_TEST_ROUTES=1", "STALLFRONT_HTTP_THREADS=2", NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    market_no = (int64_t)getpid() * 100 + 2;
    long status;
    long long before = 0, c;
    for (int i = 0; i < 20; i++) { /* new connections land on both loops: each computes once */
        c = cached_get(&s, T_HTTP1, NULL, &status, NULL, 0);
        ck_assert_int_eq(status, 200);
        before = c > before ? c : before;
    }
    ck_assert_int_le(before, 2);
    bump(&s, market_no);
    /* No waiting: a write answered by this server is seen by all its loops before its reply
     * goes out (the pub/sub relay is for the other servers). */
    for (int i = 0; i < 20; i++) {
        c = cached_get(&s, T_HTTP1, NULL, &status, NULL, 0);
        ck_assert_msg(c > before, "a loop served an answer from before the write (%lld <= %lld)", c, before);
    }
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_without_redis_reads_are_answered_but_not_cached)
{
    char env_port[64];
    snprintf(env_port, sizeof(env_port), "STALLFRONT_REDIS_PORT=%d", t_free_port());
    const char *env[] = {"STALLFRONT_TEST_ROUTES=1", "STALLFRONT_HTTP_THREADS=1", "STALLFRONT_REDIS_TIMEOUT_MS=200",
                         env_port, NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    market_no = (int64_t)getpid() * 100 + 3;
    long status;
    for (int i = 0; i < 3; i++) {
        cached_get(&s, T_H2C, NULL, &status, NULL, 0);
        ck_assert_int_eq(status, 200);
    }
    ck_assert_double_eq(sample(&s, "stallfront_cache_hits_total"), 0);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

/* The Cache-Control of one GET (with If-None-Match inm, may be NULL) into cc; the status. */
static long cache_control(const tserver_t *s, const char *path, const char *inm, char *cc, size_t len)
{
    char url[200], hdr[160];
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    snprintf(hdr, sizeof(hdr), "If-None-Match: %s", inm != NULL ? inm : "");
    const char *h[] = {hdr, NULL};
    tresp_t r;
    ck_assert_int_eq(t_request(T_H2C, "GET", url, inm != NULL ? h : NULL, NULL, 0, &r), 0);
    if (t_header(&r, "cache-control", cc, len) == NULL)
        cc[0] = '\0';
    long status = r.status;
    t_resp_free(&r);
    return status;
}

START_TEST(test_public_answers_may_be_kept_a_little_and_everything_else_never)
{
    /* one loop thread: the test route's body (and so its ETag) changes with every
     * computation, so the 304 below must come from the entry the first read cached */
    const char *env[] = {"STALLFRONT_TEST_ROUTES=1", "STALLFRONT_HTTP_THREADS=1", NULL};
    tserver_t s;
    char cc[80], etag[80], path[96];
    long status;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    market_no = (int64_t)getpid() * 100 + 4;
    snprintf(path, sizeof(path), "/_test/cached?market=%lld", (long long)market_no);
    cached_get(&s, T_H2C, NULL, &status, etag, sizeof(etag));
    ck_assert_int_eq(status, 200);
    /* a public catalogue answer, and its 304: kept 10 s by default, then revalidated */
    ck_assert_int_eq(cache_control(&s, path, NULL, cc, sizeof(cc)), 200);
    ck_assert_str_eq(cc, "public, max-age=10");
    ck_assert_int_eq(cache_control(&s, path, etag, cc, sizeof(cc)), 304);
    ck_assert_str_eq(cc, "public, max-age=10");
    /* an error of a public route, a private route, an unknown path: never kept */
    ck_assert_int_eq(cache_control(&s, "/v1/markets/999999999", NULL, cc, sizeof(cc)), 404);
    ck_assert_str_eq(cc, "no-store");
    ck_assert_int_eq(cache_control(&s, "/v1/orders", NULL, cc, sizeof(cc)), 401);
    ck_assert_str_eq(cc, "no-store");
    ck_assert_int_eq(cache_control(&s, "/healthz", NULL, cc, sizeof(cc)), 200);
    ck_assert_str_eq(cc, "no-store");
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);

    /* configured: 0 means revalidate every time */
    const char *env0[] = {"STALLFRONT_TEST_ROUTES=1", "STALLFRONT_HTTP_THREADS=1", "STALLFRONT_HTTP_PUBLIC_MAX_AGE_S=0",
                          NULL};
    ck_assert_int_eq(tserver_start(&s, env0), 0);
    ck_assert_int_eq(cache_control(&s, path, NULL, cc, sizeof(cc)), 200);
    ck_assert_str_eq(cc, "public, no-cache");
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("read_cache");
    TCase *tc = tcase_create("read_cache");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_a_read_is_computed_once_then_served_from_the_cache_with_an_etag);
    tcase_add_test(tc, test_a_write_is_read_back_at_once_on_every_loop_thread);
    tcase_add_test(tc, test_without_redis_reads_are_answered_but_not_cached);
    tcase_add_test(tc, test_public_answers_may_be_kept_a_little_and_everything_else_never);
    suite_add_tcase(su, tc);
    return t_run(su, 0) == 0 ? 0 : 1;
}
