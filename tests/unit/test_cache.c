/* The loop-thread read cache: versions, age, bounds, LRU, entity tags. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include "server/http/cache.h"
#include "tests/support/testutil.h"

#define K(s) s, strlen(s)

START_TEST(test_an_answer_is_served_until_its_market_moves_on)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    ck_assert_int_eq(cache_get(c, K("/v1/markets/1/products"), 1000, &h), 0);
    cache_put(c, K("/v1/markets/1/products"), "[1]", 3, "\"e1\"", 1, 5, 1000);
    ck_assert_int_eq(cache_get(c, K("/v1/markets/1/products"), 1001, &h), 1);
    ck_assert_int_eq(h.len, 3);
    ck_assert_int_eq(memcmp(h.body, "[1]", 3), 0);
    ck_assert_str_eq(h.etag, "\"e1\"");
    cache_set_version(c, 2, 9); /* another market: no effect */
    ck_assert_int_eq(cache_get(c, K("/v1/markets/1/products"), 1002, &h), 1);
    cache_set_version(c, 1, 6);
    ck_assert_int_eq(cache_get(c, K("/v1/markets/1/products"), 1003, &h), 0);
    ck_assert_int_eq(cache_entries(c), 0); /* dropped on the failed lookup */
    cache_free(c);
}
END_TEST

START_TEST(test_an_answer_computed_before_a_write_is_not_stored)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    cache_set_version(c, 1, 7);
    cache_put(c, K("/a"), "old", 3, NULL, 1, 6, 0); /* read version 6, but 7 is known */
    ck_assert_int_eq(cache_get(c, K("/a"), 1, &h), 0);
    cache_put(c, K("/a"), "new", 3, NULL, 1, 7, 0);
    ck_assert_int_eq(cache_get(c, K("/a"), 1, &h), 1);
    /* a newer entry raises the market's version: older entries of it go stale */
    cache_put(c, K("/b"), "b8", 2, NULL, 1, 8, 0);
    ck_assert_int_eq(cache_get(c, K("/a"), 1, &h), 0);
    ck_assert_int_eq(cache_get(c, K("/b"), 1, &h), 1);
    cache_free(c);
}
END_TEST

START_TEST(test_no_entry_outlives_the_maximum_age)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    cache_put(c, K("/a"), "x", 1, NULL, 1, 1, 10000);
    ck_assert_int_eq(cache_get(c, K("/a"), 10000 + CACHE_MAX_AGE_S * 1000, &h), 1);
    ck_assert_int_eq(cache_get(c, K("/a"), 10001 + CACHE_MAX_AGE_S * 1000, &h), 0);
    cache_free(c);
}
END_TEST

START_TEST(test_bounds_evict_the_least_recently_used)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    char key[32];
    for (int i = 0; i < CACHE_MAX_ENTRIES + 10; i++) {
        if (i == CACHE_MAX_ENTRIES) /* full: touch /k0 so that /k1.. go first */
            ck_assert_int_eq(cache_get(c, K("/k0"), 0, &h), 1);
        snprintf(key, sizeof(key), "/k%d", i);
        cache_put(c, key, strlen(key), "v", 1, NULL, 1, 1, 0);
    }
    ck_assert_int_eq(cache_entries(c), CACHE_MAX_ENTRIES);
    ck_assert_int_eq(cache_get(c, K("/k0"), 0, &h), 1);
    ck_assert_int_eq(cache_get(c, K("/k1"), 0, &h), 0);
    ck_assert_int_eq(cache_get(c, K("/k10"), 0, &h), 0);
    ck_assert_int_eq(cache_get(c, K("/k11"), 0, &h), 1);
    ck_assert_int_eq(cache_get(c, K("/k4105"), 0, &h), 1);
    cache_clear(c);
    ck_assert_int_eq(cache_entries(c), 0);
    ck_assert_int_eq(cache_bytes(c), 0);
    /* too big for one entry: not stored */
    static char big[CACHE_MAX_ENTRY + 1];
    cache_put(c, K("/big"), big, sizeof(big), NULL, 1, 1, 0);
    ck_assert_int_eq(cache_get(c, K("/big"), 0, &h), 0);
    /* byte bound: entries of 256 KiB, at most CACHE_MAX_BYTES of them */
    static char quarter[256 << 10];
    for (int i = 0; i < 200; i++) {
        snprintf(key, sizeof(key), "/q%d", i);
        cache_put(c, key, strlen(key), quarter, sizeof(quarter), NULL, 1, 1, 0);
    }
    ck_assert_uint_le(cache_bytes(c), CACHE_MAX_BYTES);
    ck_assert_int_eq(cache_get(c, K("/q199"), 0, &h), 1);
    ck_assert_int_eq(cache_get(c, K("/q0"), 0, &h), 0);
    cache_free(c);
}
END_TEST

START_TEST(test_a_replaced_answer_is_the_one_served)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    cache_put(c, K("/a"), "one", 3, "\"1\"", 1, 1, 0);
    cache_put(c, K("/a"), "two!", 4, "\"2\"", 1, 1, 0);
    ck_assert_int_eq(cache_entries(c), 1);
    ck_assert_int_eq(cache_get(c, K("/a"), 0, &h), 1);
    ck_assert_int_eq(h.len, 4);
    ck_assert_str_eq(h.etag, "\"2\"");
    cache_free(c);
}
END_TEST

START_TEST(test_if_none_match_lists_and_weak_tags_match)
{
    static const struct {
        const char *header;
        int match;
    } cases[] = {
        {"\"abc\"", 1}, {"W/\"abc\"", 1}, {"\"x\", \"abc\"", 1}, {" \"x\" ,W/\"abc\" ", 1}, {"*", 1}, {"\"abcd\"", 0},
        {"abc", 0},     {"", 0},          {"\"ab\", \"c\"", 0},  {"W/\"ab\"", 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
        ck_assert_msg(cache_etag_matches(cases[i].header, strlen(cases[i].header), "\"abc\"") == cases[i].match, "'%s'",
                      cases[i].header);
    ck_assert_int_eq(cache_etag_matches("*", 1, NULL), 0);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("cache");
    TCase *tc = tcase_create("cache");
    tcase_add_test(tc, test_an_answer_is_served_until_its_market_moves_on);
    tcase_add_test(tc, test_an_answer_computed_before_a_write_is_not_stored);
    tcase_add_test(tc, test_no_entry_outlives_the_maximum_age);
    tcase_add_test(tc, test_bounds_evict_the_least_recently_used);
    tcase_add_test(tc, test_a_replaced_answer_is_the_one_served);
    tcase_add_test(tc, test_if_none_match_lists_and_weak_tags_match);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
