/* Metrics: counts by route and status, histogram buckets, Prometheus text. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "server/http/metrics.h"
#include "tests/support/testutil.h"

START_TEST(test_counts_sum_over_threads_by_route_and_status)
{
    const char *labels[] = {"GET /healthz", "POST /v1/orders"};
    metrics_t *m = metrics_new(2, labels, 3);
    ck_assert_ptr_nonnull(m);
    metrics_observe(m, 0, 0, 200, 100);
    metrics_observe(m, 1, 0, 200, 3000);
    metrics_observe(m, 2, 1, 409, 20000);
    metrics_observe(m, 2, 99, 404, 10); /* unknown route: counted as unmatched */
    metrics_observe(m, 7, 0, 200, 10);  /* no such thread: ignored */
    ck_assert_int_eq(metrics_count(m, 0, 200), 2);
    ck_assert_int_eq(metrics_count(m, 1, 409), 1);
    ck_assert_int_eq(metrics_count(m, 2, 404), 1);
    ck_assert_int_eq(metrics_count(m, 1, 200), 0);
    metrics_event(m, 1, METRICS_RATE_LIMITED);
    metrics_gauge_t g = {"stallfront_pool_queue_depth", "jobs waiting", "gauge", 5};
    size_t len;
    char *text = metrics_render(m, &g, 1, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(len, strlen(text));
    ck_assert_ptr_nonnull(
        strstr(text, "stallfront_http_requests_total{method=\"GET\",route=\"/healthz\",status=\"200\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "stallfront_http_requests_total{method=\"POST\",route=\"/v1/orders\",status=\"409\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "route=\"unmatched\",status=\"404\"} 1\n"));
    /* 100 us and 3 ms: one in the first bucket, both by 5 ms, count 2, sum 0.0031 s */
    ck_assert_ptr_nonnull(strstr(
        text, "stallfront_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.00025\"} 1\n"));
    ck_assert_ptr_nonnull(strstr(
        text, "stallfront_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"0.005\"} 2\n"));
    ck_assert_ptr_nonnull(strstr(
        text, "stallfront_http_request_duration_seconds_bucket{method=\"GET\",route=\"/healthz\",le=\"+Inf\"} 2\n"));
    ck_assert_ptr_nonnull(
        strstr(text, "stallfront_http_request_duration_seconds_sum{method=\"GET\",route=\"/healthz\"} 0.003100\n"));
    ck_assert_ptr_nonnull(strstr(text, "stallfront_http_rate_limited_total 1\n"));
    ck_assert_ptr_nonnull(strstr(text, "# TYPE stallfront_pool_queue_depth gauge\nstallfront_pool_queue_depth 5\n"));
    /* a route never called has no lines */
    ck_assert_ptr_null(strstr(text, "route=\"/v1/orders\",status=\"200\""));
    free(text);
    metrics_free(m);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("metrics");
    TCase *tc = tcase_create("metrics");
    tcase_add_test(tc, test_counts_sum_over_threads_by_route_and_status);
    suite_add_tcase(s, tc);
    int failed = t_run(s, 0);
    return failed == 0 ? 0 : 1;
}
