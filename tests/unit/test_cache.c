/* The loop-thread read cache: versions of both kinds, age, bounds, LRU, entity tags; the
 * version messages of models/cachever.h. */
#include <check.h>
#include <stdio.h>
#include <string.h>
#include "server/http/cache.h"
#include "models/cachever.h"
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

/* A stock bump (only the stock of the order flow moved) leaves older entries servable until
 * they are stock_stale_ms old counted from their birth, not a moment longer. */
START_TEST(test_a_stock_bump_leaves_answers_served_within_the_bound)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    cache_set_stock_stale_ms(c, 1000);
    cache_put(c, K("/p"), "p5", 2, "\"5\"", 1, 5, 10000); /* born at 10000 */
    cache_set_stock_version(c, 1, 6);
    cache_set_stock_version(c, 1, 7);
    ck_assert_int_eq(cache_get(c, K("/p"), 10999, &h), 1);
    ck_assert_uint_eq(h.version, 5);
    ck_assert_str_eq(h.etag, "\"5\"");
    ck_assert_int_eq(h.stock_stale, 1);
    ck_assert_int_eq(cache_get(c, K("/p"), 11000, &h), 0); /* age 1000: not younger than the bound */
    ck_assert_int_eq(cache_entries(c), 0);
    /* the newest version is served as before: the bound is for older ones only */
    cache_put(c, K("/p"), "p7", 2, NULL, 1, 7, 11000);
    ck_assert_int_eq(cache_get(c, K("/p"), 11000 + 5000, &h), 1);
    ck_assert_uint_eq(h.version, 7);
    ck_assert_int_eq(h.stock_stale, 0);
    /* another market's stock bump: nothing here */
    cache_set_stock_version(c, 2, 99);
    ck_assert_int_eq(cache_get(c, K("/p"), 11000 + 5001, &h), 1);
    cache_free(c);
}
END_TEST

/* A hard bump (anything else a page shows) makes older entries stale at once, also those a
 * stock bump had left servable; the bound changes nothing there. */
START_TEST(test_a_hard_bump_makes_older_answers_stale_at_once)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    cache_set_stock_stale_ms(c, 1000);
    cache_put(c, K("/a"), "a5", 2, NULL, 1, 5, 10000);
    cache_put(c, K("/b"), "b5", 2, NULL, 1, 5, 10000);
    cache_set_stock_version(c, 1, 6);
    ck_assert_int_eq(cache_get(c, K("/a"), 10001, &h), 1);
    cache_set_version(c, 1, 7);
    ck_assert_int_eq(cache_get(c, K("/a"), 10002, &h), 0);
    ck_assert_int_eq(cache_get(c, K("/b"), 10002, &h), 0);
    /* a stock bump after it does not bring them back: the hard version stays */
    cache_put(c, K("/c"), "c7", 2, NULL, 1, 7, 10003);
    cache_set_stock_version(c, 1, 8);
    ck_assert_int_eq(cache_get(c, K("/c"), 10004, &h), 1);
    cache_set_version(c, 1, 9);
    ck_assert_int_eq(cache_get(c, K("/c"), 10005, &h), 0);
    cache_free(c);
}
END_TEST

/* Under checkout load the newest version moves on while an answer is being computed: it is
 * still stored if no hard bump came after its version was read, and refused otherwise. */
START_TEST(test_an_answer_older_than_a_stock_bump_is_stored_and_older_than_a_hard_one_is_not)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    cache_set_stock_stale_ms(c, 1000);
    cache_set_version(c, 1, 4);
    cache_set_stock_version(c, 1, 5);
    cache_set_stock_version(c, 1, 6);
    cache_put(c, K("/a"), "a4", 2, NULL, 1, 4, 20000); /* read at 4 >= hard 4, before 5 and 6 */
    ck_assert_int_eq(cache_get(c, K("/a"), 20500, &h), 1);
    ck_assert_uint_eq(h.version, 4);
    ck_assert_int_eq(cache_get(c, K("/a"), 21000, &h), 0);
    cache_put(c, K("/b"), "b3", 2, NULL, 1, 3, 20000); /* read at 3, before the hard 4 */
    ck_assert_int_eq(cache_get(c, K("/b"), 20000, &h), 0);
    /* an older answer coming back after a newer one does not replace it */
    cache_put(c, K("/c"), "c6", 2, NULL, 1, 6, 20000);
    cache_put(c, K("/c"), "c5", 2, NULL, 1, 5, 20001);
    ck_assert_int_eq(cache_get(c, K("/c"), 20002, &h), 1);
    ck_assert_int_eq(memcmp(h.body, "c6", 2), 0);
    /* a stored answer at a newer version raises the newest: older ones then live by the bound */
    cache_put(c, K("/d"), "d6", 2, NULL, 1, 6, 20000);
    cache_put(c, K("/e"), "e7", 2, NULL, 1, 7, 20000);
    ck_assert_int_eq(cache_get(c, K("/d"), 20999, &h), 1);
    ck_assert_int_eq(cache_get(c, K("/d"), 21000, &h), 0);
    cache_free(c);
}
END_TEST

/* stock_stale_ms 0 (and a new cache): a stock bump is a hard one, as before the two kinds. */
START_TEST(test_without_a_bound_a_stock_bump_is_hard)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    cache_put(c, K("/a"), "a5", 2, NULL, 1, 5, 10000);
    cache_set_stock_version(c, 1, 6);
    ck_assert_int_eq(cache_get(c, K("/a"), 10000, &h), 0);
    cache_put(c, K("/a"), "a5", 2, NULL, 1, 5, 10000); /* computed before 6: refused */
    ck_assert_int_eq(cache_get(c, K("/a"), 10000, &h), 0);
    cache_set_stock_stale_ms(c, 0);
    cache_put(c, K("/b"), "b6", 2, NULL, 1, 6, 10000);
    cache_set_stock_version(c, 1, 7);
    ck_assert_int_eq(cache_get(c, K("/b"), 10000, &h), 0);
    cache_free(c);
}
END_TEST

/* The maximum age holds whatever the kind of bump, and for the newest version too. */
START_TEST(test_the_maximum_age_holds_within_the_stock_bound)
{
    cache_t *c = cache_new();
    cache_hit_t h;
    cache_set_stock_stale_ms(c, 10000);
    cache_put(c, K("/a"), "a", 1, NULL, 1, 1, 10000);
    ck_assert_int_eq(cache_get(c, K("/a"), 10000 + CACHE_MAX_AGE_S * 1000, &h), 1);
    ck_assert_int_eq(cache_get(c, K("/a"), 10001 + CACHE_MAX_AGE_S * 1000, &h), 0);
    cache_set_stock_stale_ms(c, (CACHE_MAX_AGE_S + 10) * 1000); /* a bound past the age: the age wins */
    cache_put(c, K("/b"), "b", 1, NULL, 1, 1, 10000);
    cache_set_stock_version(c, 1, 2);
    ck_assert_int_eq(cache_get(c, K("/b"), 10000 + CACHE_MAX_AGE_S * 1000, &h), 1);
    ck_assert_int_eq(cache_get(c, K("/b"), 10001 + CACHE_MAX_AGE_S * 1000, &h), 0);
    cache_free(c);
}
END_TEST

/* The pub/sub message: the old format is a hard bump, ":s" a stock one, anything else none. */
START_TEST(test_version_messages_say_their_kind_and_the_old_format_is_hard)
{
    int64_t m = -1;
    uint64_t v = 0;
    int stock = -1;
    ck_assert_int_eq(cachever_parse(K("12:345"), &m, &v, &stock), 0);
    ck_assert_int_eq(m, 12);
    ck_assert_uint_eq(v, 345);
    ck_assert_int_eq(stock, 0);
    ck_assert_int_eq(cachever_parse(K("12:346:s"), &m, &v, &stock), 0);
    ck_assert_uint_eq(v, 346);
    ck_assert_int_eq(stock, 1);
    ck_assert_int_eq(cachever_parse(K("7:1:h"), &m, &v, &stock), 0);
    ck_assert_int_eq(m, 7);
    ck_assert_int_eq(stock, 0);
    static const char *const bad[] = {"",
                                      "12",
                                      "12:",
                                      ":5",
                                      "0:5",
                                      "-1:5",
                                      "12:-5",
                                      "12:5:",
                                      "12:5:x",
                                      "12:5:ss",
                                      "12:5 ",
                                      "a:5",
                                      "12:5:s:1",
                                      "99999999999999999999:1",
                                      "1:99999999999999999999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cachever_parse(bad[i], strlen(bad[i]), &m, &v, &stock) == -1, "'%s'", bad[i]);
    /* the length counts, not a NUL */
    ck_assert_int_eq(cachever_parse("3:4:s", 3, &m, &v, &stock), 0);
    ck_assert_int_eq(stock, 0);
    ck_assert_uint_eq(v, 4);
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
    tcase_add_test(tc, test_a_stock_bump_leaves_answers_served_within_the_bound);
    tcase_add_test(tc, test_a_hard_bump_makes_older_answers_stale_at_once);
    tcase_add_test(tc, test_an_answer_older_than_a_stock_bump_is_stored_and_older_than_a_hard_one_is_not);
    tcase_add_test(tc, test_without_a_bound_a_stock_bump_is_hard);
    tcase_add_test(tc, test_the_maximum_age_holds_within_the_stock_bound);
    tcase_add_test(tc, test_version_messages_say_their_kind_and_the_old_format_is_hard);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
