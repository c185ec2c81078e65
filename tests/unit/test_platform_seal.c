/* Sealing of the platform clients' secrets (models/platform.h): AES-256-GCM with a random
 * nonce, the app key as associated data; opens only with the same key and app key, and not
 * after any byte changed. */
#include <check.h>
#include <string.h>
#include "models/platform.h"
#include "tests/support/testutil.h"

#define SECRET "Zm9vYmFyLWJhei1xdXV4LTAxMjM0NTY3ODktYWJjZGVm"
#define KEY    "pk_AAAAAAAAAAAAAAAAAAAAA"

static const unsigned char k1[32] = {1,  2,  3,  4,  5,  6,  7,  8,  9,  10, 11, 12, 13, 14, 15, 16,
                                     17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31, 32};

START_TEST(test_a_sealed_secret_opens_with_its_key_and_app_key)
{
    unsigned char sealed[128];
    size_t n = 0;
    char out[64];
    ck_assert_int_eq(platform_seal(k1, KEY, SECRET, sealed, sizeof(sealed), &n), 0);
    ck_assert_uint_eq(n, 12 + strlen(SECRET) + 16);
    ck_assert_ptr_null(memmem(sealed, n, SECRET, 8)); /* not the text */
    ck_assert_int_eq(platform_unseal(k1, KEY, sealed, n, out, sizeof(out)), 0);
    ck_assert_str_eq(out, SECRET);
}
END_TEST

START_TEST(test_two_seals_of_one_secret_differ)
{
    unsigned char a[128], b[128];
    size_t na = 0, nb = 0;
    ck_assert_int_eq(platform_seal(k1, KEY, SECRET, a, sizeof(a), &na), 0);
    ck_assert_int_eq(platform_seal(k1, KEY, SECRET, b, sizeof(b), &nb), 0);
    ck_assert_uint_eq(na, nb);
    ck_assert(memcmp(a, b, na) != 0);
}
END_TEST

START_TEST(test_it_does_not_open_with_another_key_app_key_or_a_changed_byte)
{
    unsigned char sealed[128], k2[32];
    size_t n = 0;
    char out[64];
    memcpy(k2, k1, sizeof(k2));
    k2[31] ^= 1;
    ck_assert_int_eq(platform_seal(k1, KEY, SECRET, sealed, sizeof(sealed), &n), 0);
    ck_assert_int_eq(platform_unseal(k2, KEY, sealed, n, out, sizeof(out)), -1);
    ck_assert_int_eq(platform_unseal(k1, "pk_BAAAAAAAAAAAAAAAAAAAA", sealed, n, out, sizeof(out)), -1);
    for (size_t i = 0; i < n; i++) {
        sealed[i] ^= 0x40;
        ck_assert_msg(platform_unseal(k1, KEY, sealed, n, out, sizeof(out)) == -1, "byte %zu", i);
        sealed[i] ^= 0x40;
    }
    ck_assert_int_eq(platform_unseal(k1, KEY, sealed, n - 1, out, sizeof(out)), -1);
    ck_assert_int_eq(platform_unseal(k1, KEY, sealed, 20, out, sizeof(out)), -1);
    ck_assert_int_eq(platform_unseal(k1, KEY, sealed, n, out, 10), -1); /* no room: refused, not cut */
    ck_assert_int_eq(platform_unseal(k1, KEY, sealed, n, out, sizeof(out)), 0);
}
END_TEST

START_TEST(test_a_buffer_too_small_to_seal_is_refused)
{
    unsigned char small[40];
    size_t n = 0;
    ck_assert_int_eq(platform_seal(k1, KEY, SECRET, small, sizeof(small), &n), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("platform_seal");
    TCase *tc = tcase_create("platform_seal");
    tcase_add_test(tc, test_a_sealed_secret_opens_with_its_key_and_app_key);
    tcase_add_test(tc, test_two_seals_of_one_secret_differ);
    tcase_add_test(tc, test_it_does_not_open_with_another_key_app_key_or_a_changed_byte);
    tcase_add_test(tc, test_a_buffer_too_small_to_seal_is_refused);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
