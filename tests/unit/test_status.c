/* The outcome table (models/base/status.c): every outcome is complete and of a known kind. */
#include <check.h>
#include <string.h>
#include "models/base/status.h"
#include "tests/support/testutil.h"

START_TEST(test_every_outcome_has_a_kind_a_reason_and_a_message)
{
    for (int i = 0; i < SF_E__COUNT; i++) {
        sf_status_t s = (sf_status_t)i, k = status_kind(s);
        const char *reason = status_reason(s), *msg = status_message(s);
        /* a kind is one of the generic outcomes, and is its own kind */
        ck_assert_msg(k <= SF_E_TIMEOUT && status_kind(k) == k, "outcome %d: kind %d is not generic", i, k);
        ck_assert_msg(reason != NULL && reason[0] != '\0', "outcome %d has no reason", i);
        ck_assert_msg(strspn(reason, "abcdefghijklmnopqrstuvwxyz_") == strlen(reason), "reason '%s' is not snake_case",
                      reason);
        ck_assert_msg(msg != NULL && msg[0] != '\0', "outcome %d has no message", i);
        if (i > 0 && i <= SF_E_TIMEOUT)
            ck_assert_int_eq(k, s);
    }
}
END_TEST

START_TEST(test_an_unknown_value_is_internal)
{
    ck_assert_int_eq(status_kind((sf_status_t)SF_E__COUNT), SF_E_INTERNAL);
    ck_assert_int_eq(status_kind((sf_status_t)-1), SF_E_INTERNAL);
    ck_assert_str_eq(status_reason((sf_status_t)12345), "internal");
}
END_TEST

START_TEST(test_only_unavailable_and_timeout_kinds_are_worth_retrying)
{
    ck_assert(status_retryable(SF_E_DEADLOCK));
    ck_assert(status_retryable(SF_E_DB_GONE));
    ck_assert(status_retryable(SF_E_PROVIDER_UNAVAILABLE));
    ck_assert(status_retryable(SF_E_TIMEOUT));
    ck_assert(!status_retryable(SF_E_OUT_OF_STOCK));
    ck_assert(!status_retryable(SF_E_INTERNAL));
    ck_assert(!status_retryable(SF_OK));
}
END_TEST

START_TEST(test_details_are_owned_and_cleared)
{
    status_detail_t d = {0};
    ck_assert_int_eq(status_field(&d, SF_E_INVALID, "note", "too long"), SF_E_INVALID);
    ck_assert_str_eq(d.field, "note");
    ck_assert_str_eq(d.reason, "too long");
    ck_assert_int_eq(status_details(&d, SF_E_OUT_OF_STOCK, json_pack("{s:i}", "n", 1)), SF_E_OUT_OF_STOCK);
    /* replacing details frees the earlier ones (the sanitizer run would see a leak) */
    status_details(&d, SF_E_OUT_OF_STOCK, json_pack("{s:i}", "n", 2));
    ck_assert_int_eq(json_integer_value(json_object_get(d.details, "n")), 2);
    status_detail_clear(&d);
    ck_assert_ptr_null(d.details);
    ck_assert_str_eq(d.field, "");
    /* without a detail to fill, the details are freed and the outcome still returned */
    ck_assert_int_eq(status_details(NULL, SF_E_CONFLICT, json_object()), SF_E_CONFLICT);
    ck_assert_int_eq(status_field(NULL, SF_E_INVALID, "x", "y"), SF_E_INVALID);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("status");
    TCase *tc = tcase_create("status");
    tcase_add_test(tc, test_every_outcome_has_a_kind_a_reason_and_a_message);
    tcase_add_test(tc, test_an_unknown_value_is_internal);
    tcase_add_test(tc, test_only_unavailable_and_timeout_kinds_are_worth_retrying);
    tcase_add_test(tc, test_details_are_owned_and_cleared);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
