/* The platforms' request signature: the worked example of docs/platform-feed.md (computed
 * independently with `openssl dgst -sha256 -hmac`), the canonical query's ordering rules,
 * and that every part of the request changes the signature. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/platsig.h"
#include "tests/support/testutil.h"

/* docs/platform-feed.md "A worked example": keep both in step. */
#define EX_SECRET "sk-demo-7Yq2fVn4Lx9Rb3Tg8Wm1Kc5Pd0Hs6Jz"
#define EX_PATH   "/v1/platform/markets/1/transactions"
#define EX_QUERY  "limit=500&cursor="
#define EX_TS     "1796601600"
#define EX_NONCE  "n0nce-2026-12-07-0001"
#define EX_SIG    "6tq9INKHzK3M4h55WtyyOsqACcsdT827GGpC+dzec4E="

START_TEST(test_the_documented_example_gives_the_documented_signature)
{
    char sig[PLATSIG_B64_MAX];
    char *s = platsig_string("GET", EX_PATH, EX_QUERY, NULL, 0, EX_TS, EX_NONCE);
    ck_assert_str_eq(s, "GET\n" EX_PATH "\ncursor=&limit=500\n"
                        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\n" EX_TS "\n" EX_NONCE);
    free(s);
    ck_assert_int_eq(platsig_sign(EX_SECRET, "GET", EX_PATH, EX_QUERY, NULL, 0, EX_TS, EX_NONCE, sig, sizeof(sig)), 0);
    ck_assert_str_eq(sig, EX_SIG);
}
END_TEST

static void canon_is(const char *query, const char *want)
{
    char *c = platsig_canonical_query(query);
    ck_assert_ptr_nonnull(c);
    ck_assert_msg(strcmp(c, want) == 0, "canonical(%s) = %s, want %s", query ? query : "(null)", c, want);
    free(c);
}

START_TEST(test_the_canonical_query_sorts_by_name_then_value_bytewise_as_received)
{
    canon_is(NULL, "");
    canon_is("", "");
    canon_is("b=2&a=1", "a=1&b=2");
    canon_is("a=2&a=10&a=1", "a=1&a=10&a=2");           /* values byte-wise, not numerically */
    canon_is("ab=1&a=2&a_=3", "a=2&a_=3&ab=1");         /* a shorter name first */
    canon_is("Z=1&a=1", "Z=1&a=1");                     /* upper case sorts before lower */
    canon_is("q=%E8%8F%9C&b=%20", "b=%20&q=%E8%8F%9C"); /* percent-encoding kept as received */
    canon_is("flag&x=1", "flag=&x=1");                  /* no '=': an empty value */
    canon_is("a=1&&b=2&", "a=1&b=2");                   /* empty pieces dropped */
    canon_is("a=x=y", "a=x=y");                         /* only the first '=' separates */
}
END_TEST

START_TEST(test_every_part_of_the_request_changes_the_signature)
{
    char base[PLATSIG_B64_MAX], other[PLATSIG_B64_MAX];
    const char *body = "{\"a\":1}";
    ck_assert_int_eq(
        platsig_sign(EX_SECRET, "GET", EX_PATH, EX_QUERY, body, strlen(body), EX_TS, EX_NONCE, base, sizeof(base)), 0);
    struct {
        const char *secret, *method, *path, *query, *body, *ts, *nonce;
    } v[] = {
        {EX_SECRET "x", "GET", EX_PATH, EX_QUERY, body, EX_TS, EX_NONCE},
        {EX_SECRET, "POST", EX_PATH, EX_QUERY, body, EX_TS, EX_NONCE},
        {EX_SECRET, "GET", EX_PATH "/", EX_QUERY, body, EX_TS, EX_NONCE},
        {EX_SECRET, "GET", EX_PATH, "limit=501&cursor=", body, EX_TS, EX_NONCE},
        {EX_SECRET, "GET", EX_PATH, "limit=%35%30%30&cursor=", body, EX_TS, EX_NONCE},
        {EX_SECRET, "GET", EX_PATH, EX_QUERY, "{\"a\":2}", EX_TS, EX_NONCE},
        {EX_SECRET, "GET", EX_PATH, EX_QUERY, body, "1796601601", EX_NONCE},
        {EX_SECRET, "GET", EX_PATH, EX_QUERY, body, EX_TS, EX_NONCE "x"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        ck_assert_int_eq(platsig_sign(v[i].secret, v[i].method, v[i].path, v[i].query, v[i].body, strlen(v[i].body),
                                      v[i].ts, v[i].nonce, other, sizeof(other)),
                         0);
        ck_assert_msg(strcmp(base, other) != 0, "variant %zu signs the same", i);
    }
    /* the order of the parameters as sent does not matter: the canonical query sorts them */
    ck_assert_int_eq(platsig_sign(EX_SECRET, "GET", EX_PATH, "cursor=&limit=500", body, strlen(body), EX_TS, EX_NONCE,
                                  other, sizeof(other)),
                     0);
    ck_assert_str_eq(base, other);
}
END_TEST

/* A repeated name is found whatever stands between the two, compared as sent; a query of
 * 100,000 distinct names (a request head h2o accepts) has none, and one repeat at its end is
 * found: the check sorts, it does not compare every pair. */
START_TEST(test_a_repeated_parameter_name_is_found_in_any_query)
{
    ck_assert_int_eq(platsig_query_repeats(NULL), 0);
    ck_assert_int_eq(platsig_query_repeats(""), 0);
    ck_assert_int_eq(platsig_query_repeats("a=1&a=2"), 1);
    ck_assert_int_eq(platsig_query_repeats("a=1&b=2&a=1"), 1);
    ck_assert_int_eq(platsig_query_repeats("a&a="), 1);
    ck_assert_int_eq(platsig_query_repeats("a=1&ab=2&&b=a"), 0);
    ck_assert_int_eq(platsig_query_repeats("a%20=1&a+=2"), 0); /* as sent: not decoded */
    size_t n = 100000;
    char *q = malloc(n * 8 + 16);
    ck_assert_ptr_nonnull(q);
    size_t o = 0;
    for (size_t i = 0; i < n; i++)
        o += (size_t)sprintf(q + o, "%sp%zu", i > 0 ? "&" : "", i);
    ck_assert_int_eq(platsig_query_repeats(q), 0);
    strcpy(q + o, "&p7=x");
    ck_assert_int_eq(platsig_query_repeats(q), 1);
    free(q);
}
END_TEST

START_TEST(test_a_buffer_too_small_for_the_signature_is_refused)
{
    char small[20];
    ck_assert_int_eq(platsig_sign(EX_SECRET, "GET", EX_PATH, "", NULL, 0, EX_TS, EX_NONCE, small, sizeof(small)), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("platsig");
    TCase *tc = tcase_create("platsig");
    tcase_add_test(tc, test_the_documented_example_gives_the_documented_signature);
    tcase_add_test(tc, test_the_canonical_query_sorts_by_name_then_value_bytewise_as_received);
    tcase_add_test(tc, test_every_part_of_the_request_changes_the_signature);
    tcase_add_test(tc, test_a_buffer_too_small_for_the_signature_is_refused);
    tcase_add_test(tc, test_a_repeated_parameter_name_is_found_in_any_query);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
