/* Money arithmetic: table-driven vectors for every rule and edge. */
#include <check.h>
#include <stdint.h>
#include <string.h>
#include "models/base/money.h"
#include "tests/support/testutil.h"

START_TEST(test_weighed_lines_round_half_up_to_the_fen)
{
    static const struct {
        int64_t price, per_g, qty, want;
        int rc;
    } v[] = {
        {600, 500, 500, 600, MONEY_OK},   /* one jin at 6.00/jin */
        {600, 500, 1000, 1200, MONEY_OK}, /* two jin */
        {600, 500, 1, 1, MONEY_OK},       /* 1.2 fen → 1 */
        {600, 500, 2, 2, MONEY_OK},       /* 2.4 → 2 */
        {500, 1000, 1, 1, MONEY_OK},      /* exactly 0.5 fen rounds up */
        {499, 1000, 1, 0, MONEY_OK},      /* 0.499 → 0 */
        {333, 500, 750, 500, MONEY_OK},   /* 499.5 → 500 */
        {333, 500, 749, 499, MONEY_OK},   /* 498.834 → 499 */
        {1, 1, 1, 1, MONEY_OK},           /* per_g 1 */
        {1, 1, 1000000000, 1000000000, MONEY_OK},
        {10000000, 500, 1000000000, 20000000000000, MONEY_OK}, /* the largest a product allows */
        {0, 500, 100, 0, MONEY_OK},
        {600, 500, 0, 0, MONEY_OK},
        {INT64_MAX, 500, 2, 0, MONEY_OVERFLOW},
        {4611686018427387904LL, 1, 1, 0, MONEY_OVERFLOW}, /* price*qty fits, *2 does not */
        {600, 0, 500, 0, MONEY_INVALID},
        {600, -500, 500, 0, MONEY_INVALID},
        {-600, 500, 500, 0, MONEY_INVALID},
        {600, 500, -1, 0, MONEY_INVALID},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        int64_t amount = -7;
        int rc = money_line_weight(v[i].price, v[i].per_g, v[i].qty, &amount);
        ck_assert_msg(rc == v[i].rc, "case %zu: rc %d", i, rc);
        if (rc == MONEY_OK)
            ck_assert_msg(amount == v[i].want, "case %zu: %lld, want %lld", i, (long long)amount, (long long)v[i].want);
    }
}
END_TEST

START_TEST(test_counted_lines_multiply_without_overflow)
{
    int64_t a;
    ck_assert_int_eq(money_line_count(350, 3, &a), MONEY_OK);
    ck_assert_int_eq(a, 1050);
    ck_assert_int_eq(money_line_count(350, 0, &a), MONEY_OK);
    ck_assert_int_eq(a, 0);
    ck_assert_int_eq(money_line_count(INT64_MAX / 2 + 1, 2, &a), MONEY_OVERFLOW);
    ck_assert_int_eq(money_line_count(-1, 2, &a), MONEY_INVALID);
    ck_assert_int_eq(money_line_count(1, -2, &a), MONEY_INVALID);
    ck_assert_int_eq(money_add(INT64_MAX, 1, &a), MONEY_OVERFLOW);
    ck_assert_int_eq(money_add(INT64_MAX - 1, 1, &a), MONEY_OK);
    ck_assert_int_eq(a, INT64_MAX);
    ck_assert_int_eq(money_add(-1, 1, &a), MONEY_INVALID);
}
END_TEST

START_TEST(test_delivery_is_free_from_the_threshold_up)
{
    ck_assert_int_eq(money_delivery_fee(4999, 500, 5000), 500);
    ck_assert_int_eq(money_delivery_fee(5000, 500, 5000), 0);
    ck_assert_int_eq(money_delivery_fee(900000, 500, 0), 500); /* no threshold: never free */
    ck_assert_int_eq(money_delivery_fee(0, 0, 5000), 0);
}
END_TEST

START_TEST(test_a_lighter_weighing_is_refunded_and_a_heavier_one_costs_nothing_more)
{
    static const struct {
        int64_t price, per_g, qty, actual, amount, refund;
    } v[] = {
        {600, 500, 1000, 1000, 1200, 0},  /* exact */
        {600, 500, 1000, 1200, 1200, 0},  /* heavier: vendor absorbs */
        {600, 500, 1000, 900, 1080, 120}, /* lighter: the difference back */
        {600, 500, 1000, 0, 0, 1200},     /* nothing there */
        {333, 500, 750, 749, 499, 1},     /* the rounding of both sides */
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        int64_t amount, refund;
        ck_assert_int_eq(money_line_weighed(v[i].price, v[i].per_g, v[i].qty, v[i].actual, &amount, &refund), MONEY_OK);
        ck_assert_msg(amount == v[i].amount && refund == v[i].refund, "case %zu: %lld/%lld", i, (long long)amount,
                      (long long)refund);
        int64_t agreed;
        money_line_weight(v[i].price, v[i].per_g, v[i].qty, &agreed);
        ck_assert_int_eq(amount + refund, agreed); /* nothing lost, nothing made */
    }
    int64_t a, r;
    ck_assert_int_eq(money_line_weighed(600, 500, 1000, -1, &a, &r), MONEY_INVALID);
}
END_TEST

START_TEST(test_yuan_text_parses_exactly_or_not_at_all)
{
    static const struct {
        const char *s;
        int64_t fen;
        int rc;
    } v[] = {
        {"12", 1200, MONEY_OK},     {"12.3", 1230, MONEY_OK},     {"12.30", 1230, MONEY_OK},
        {"0.01", 1, MONEY_OK},      {"0", 0, MONEY_OK},           {"999999999999999.99", 99999999999999999, MONEY_OK},
        {"0.1", 10, MONEY_OK},      {"12.345", 0, MONEY_INVALID}, {"12.", 0, MONEY_INVALID},
        {".5", 0, MONEY_INVALID},   {"-1.00", 0, MONEY_INVALID},  {"+1.00", 0, MONEY_INVALID},
        {"1e3", 0, MONEY_INVALID},  {" 1.00", 0, MONEY_INVALID},  {"1.00 ", 0, MONEY_INVALID},
        {"", 0, MONEY_INVALID},     {"1,00", 0, MONEY_INVALID},   {"1000000000000000.00", 0, MONEY_INVALID},
        {"0x10", 0, MONEY_INVALID}, {"1.0.0", 0, MONEY_INVALID},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        int64_t fen = -1;
        int rc = money_parse_yuan(v[i].s, strlen(v[i].s), &fen);
        ck_assert_msg(rc == v[i].rc, "'%s': rc %d", v[i].s, rc);
        if (rc == MONEY_OK)
            ck_assert_msg(fen == v[i].fen, "'%s': %lld", v[i].s, (long long)fen);
    }
    int64_t fen;
    ck_assert_int_eq(money_parse_yuan("12.30xyz", 5, &fen), MONEY_OK); /* only len bytes are read */
    ck_assert_int_eq(fen, 1230);
}
END_TEST

START_TEST(test_fen_formats_as_yuan_with_two_decimals)
{
    char buf[32];
    ck_assert_int_eq(money_format_yuan(1230, buf, sizeof(buf)), MONEY_OK);
    ck_assert_str_eq(buf, "12.30");
    ck_assert_int_eq(money_format_yuan(5, buf, sizeof(buf)), MONEY_OK);
    ck_assert_str_eq(buf, "0.05");
    ck_assert_int_eq(money_format_yuan(0, buf, sizeof(buf)), MONEY_OK);
    ck_assert_str_eq(buf, "0.00");
    ck_assert_int_eq(money_format_yuan(INT64_MAX, buf, sizeof(buf)), MONEY_OK);
    ck_assert_str_eq(buf, "92233720368547758.07");
    ck_assert_int_eq(money_format_yuan(-1, buf, sizeof(buf)), MONEY_INVALID);
    ck_assert_int_eq(money_format_yuan(123456, buf, 5), MONEY_INVALID);
    int64_t back;
    ck_assert_int_eq(money_format_yuan(99999999999999999, buf, sizeof(buf)), MONEY_OK);
    ck_assert_int_eq(money_parse_yuan(buf, strlen(buf), &back), MONEY_OK);
    ck_assert_int_eq(back, 99999999999999999);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("money");
    TCase *tc = tcase_create("money");
    tcase_add_test(tc, test_weighed_lines_round_half_up_to_the_fen);
    tcase_add_test(tc, test_counted_lines_multiply_without_overflow);
    tcase_add_test(tc, test_delivery_is_free_from_the_threshold_up);
    tcase_add_test(tc, test_a_lighter_weighing_is_refunded_and_a_heavier_one_costs_nothing_more);
    tcase_add_test(tc, test_yuan_text_parses_exactly_or_not_at_all);
    tcase_add_test(tc, test_fen_formats_as_yuan_with_two_decimals);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
