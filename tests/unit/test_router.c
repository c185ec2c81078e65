/* Router: literal and parameter segments, precedence, 405 with Allow, bad patterns. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/http/router.h"
#include "tests/support/testutil.h"

static void h1(struct api_req *r, struct worker *w)
{
    (void)r;
    (void)w;
}
static void h2(struct api_req *r, struct worker *w)
{
    (void)r;
    (void)w;
}

static router_t R;

static void setup(void)
{
    router_init(&R);
    ck_assert_int_eq(router_add(&R, "GET", "/healthz", ROUTE_INLINE, h1), 0);
    ck_assert_int_eq(router_add(&R, "GET", "/v1/orders/{id}", 0, h1), 0);
    ck_assert_int_eq(router_add(&R, "POST", "/v1/orders/{id}/cancel", ROUTE_BODY_JSON, h2), 0);
    ck_assert_int_eq(router_add(&R, "GET", "/v1/orders/mine", 0, h2), 0);
    ck_assert_int_eq(router_add(&R, "PUT", "/v1/cart/items/{product_id}", 0, h1), 0);
    ck_assert_int_eq(router_add(&R, "DELETE", "/v1/cart/items/{product_id}", 0, h2), 0);
    ck_assert_int_eq(router_add(&R, "GET", "/", 0, h2), 0);
}

static void teardown(void)
{
    router_free(&R);
}

static router_result_t match(const char *method, const char *path, const route_t **rt, router_params_t *p, char *allow)
{
    return router_match(&R, method, strlen(method), path, strlen(path), rt, p, allow, 128);
}

START_TEST(test_literal_route_matches_exactly)
{
    const route_t *rt = NULL;
    router_params_t p;
    char allow[128];
    ck_assert_int_eq(match("GET", "/healthz", &rt, &p, allow), ROUTER_FOUND);
    ck_assert_str_eq(rt->pattern, "/healthz");
    ck_assert_int_eq(p.n, 0);
    ck_assert_int_eq(match("GET", "/healthz/", &rt, &p, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/health", &rt, &p, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/healthzz", &rt, &p, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/", &rt, &p, allow), ROUTER_FOUND);
    ck_assert_str_eq(rt->pattern, "/");
}
END_TEST

START_TEST(test_parameters_come_back_as_slices_of_the_path)
{
    const route_t *rt = NULL;
    router_params_t p;
    char allow[128];
    ck_assert_int_eq(match("POST", "/v1/orders/42/cancel", &rt, &p, allow), ROUTER_FOUND);
    ck_assert_ptr_eq(rt->fn, h2);
    ck_assert_int_eq(p.n, 1);
    ck_assert_str_eq(p.name[0], "id");
    ck_assert_int_eq(p.len[0], 2);
    ck_assert_int_eq(memcmp(p.val[0], "42", 2), 0);
    ck_assert_int_eq(rt->flags & ROUTE_BODY_JSON, ROUTE_BODY_JSON);
}
END_TEST

START_TEST(test_literal_segment_wins_over_parameter)
{
    const route_t *rt = NULL;
    router_params_t p;
    char allow[128];
    ck_assert_int_eq(match("GET", "/v1/orders/mine", &rt, &p, allow), ROUTER_FOUND);
    ck_assert_str_eq(rt->pattern, "/v1/orders/mine");
    ck_assert_int_eq(match("GET", "/v1/orders/7", &rt, &p, allow), ROUTER_FOUND);
    ck_assert_str_eq(rt->pattern, "/v1/orders/{id}");
}
END_TEST

START_TEST(test_wrong_method_gives_405_with_every_allowed_method)
{
    const route_t *rt = NULL;
    router_params_t p;
    char allow[128];
    ck_assert_int_eq(match("POST", "/healthz", &rt, &p, allow), ROUTER_METHOD);
    ck_assert_str_eq(allow, "GET");
    ck_assert_int_eq(match("GET", "/v1/cart/items/9", &rt, &p, allow), ROUTER_METHOD);
    ck_assert_str_eq(allow, "PUT, DELETE");
    ck_assert_int_eq(match("PATCH", "/v1/orders/1/cancel", &rt, &p, allow), ROUTER_METHOD);
    ck_assert_str_eq(allow, "POST");
}
END_TEST

START_TEST(test_empty_parameter_and_odd_paths_do_not_match)
{
    const route_t *rt = NULL;
    router_params_t p;
    char allow[128];
    ck_assert_int_eq(match("GET", "/v1/orders/", &rt, &p, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/v1/orders//cancel", &rt, &p, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "", &rt, &p, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "v1/orders/1", &rt, &p, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("GET", "/a/b/c/d/e/f/g/h/i/j/k/l/m/n/o", &rt, &p, allow), ROUTER_NOT_FOUND);
    ck_assert_int_eq(match("get", "/healthz", &rt, &p, allow), ROUTER_METHOD); /* methods are case-sensitive */
}
END_TEST

START_TEST(test_bad_patterns_and_duplicates_are_refused)
{
    ck_assert_int_eq(router_add(&R, "GET", "/healthz", 0, h1), -1);
    ck_assert_int_eq(router_add(&R, "GET", "healthz", 0, h1), -1);
    ck_assert_int_eq(router_add(&R, "GET", "/a//b", 0, h1), -1);
    ck_assert_int_eq(router_add(&R, "GET", "/a/{}", 0, h1), -1);
    ck_assert_int_eq(router_add(&R, "GET", "/a/{x", 0, h1), -1);
    ck_assert_int_eq(router_add(&R, "GET", "/{a}/{b}/{c}/{d}/{e}", 0, h1), -1);
    ck_assert_int_eq(router_add(&R, "GET", "/ok", 0, NULL), -1);
    ck_assert_int_eq(router_add(&R, "VERYLONGMETHOD", "/ok", 0, h1), -1);
    size_t n = R.n;
    ck_assert_int_eq(router_add(&R, "HEAD", "/healthz", 0, h1), 0);
    ck_assert_int_eq(R.n, n + 1);
    ck_assert_int_eq(R.routes[n]->index, n);
}
END_TEST

START_TEST(test_table_has_a_hard_bound)
{
    char pat[32];
    int added = 0;
    for (int i = 0; i < ROUTER_MAX_ROUTES + 10; i++) {
        snprintf(pat, sizeof(pat), "/r%d", i);
        if (router_add(&R, "GET", pat, 0, h1) == 0)
            added++;
    }
    ck_assert_int_eq(R.n, ROUTER_MAX_ROUTES);
    ck_assert_int_lt(added, ROUTER_MAX_ROUTES + 10);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("router");
    TCase *tc = tcase_create("match");
    tcase_add_checked_fixture(tc, setup, teardown);
    tcase_add_test(tc, test_literal_route_matches_exactly);
    tcase_add_test(tc, test_parameters_come_back_as_slices_of_the_path);
    tcase_add_test(tc, test_literal_segment_wins_over_parameter);
    tcase_add_test(tc, test_wrong_method_gives_405_with_every_allowed_method);
    tcase_add_test(tc, test_empty_parameter_and_odd_paths_do_not_match);
    tcase_add_test(tc, test_bad_patterns_and_duplicates_are_refused);
    tcase_add_test(tc, test_table_has_a_hard_bound);
    suite_add_tcase(s, tc);
    int failed = t_run(s, 0);
    return failed == 0 ? 0 : 1;
}
