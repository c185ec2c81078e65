/* Strict base64 and base64url: RFC 4648 vectors, the padding trap, every way to be malformed,
 * and round trips across every length class and the internal chunk boundaries. */
#include <check.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <string.h>
#include "models/base/b64.h"
#include "tests/support/testutil.h"

static const struct {
    const char *raw, *std, *url;
} rfc4648[] = {
    {"", "", ""},
    {"f", "Zg==", "Zg"},
    {"fo", "Zm8=", "Zm8"},
    {"foo", "Zm9v", "Zm9v"},
    {"foob", "Zm9vYg==", "Zm9vYg"},
    {"fooba", "Zm9vYmE=", "Zm9vYmE"},
    {"foobar", "Zm9vYmFy", "Zm9vYmFy"},
};

START_TEST(test_rfc4648_vectors_encode_for_every_length_class)
{
    char out[32];
    size_t n = 99;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        size_t len = strlen(rfc4648[i].raw);
        ck_assert_int_eq(b64_encode((const unsigned char *)rfc4648[i].raw, len, out, sizeof(out), &n), B64_OK);
        ck_assert_str_eq(out, rfc4648[i].std);
        ck_assert_uint_eq(n, strlen(rfc4648[i].std));
        ck_assert_uint_eq(B64_ENCODED_LEN(len), strlen(rfc4648[i].std));
        ck_assert_int_eq(b64url_encode((const unsigned char *)rfc4648[i].raw, len, out, sizeof(out), &n), B64_OK);
        ck_assert_str_eq(out, rfc4648[i].url);
        ck_assert_uint_eq(n, strlen(rfc4648[i].url));
        ck_assert_uint_eq(B64URL_ENCODED_LEN(len), strlen(rfc4648[i].url));
    }
}
END_TEST

START_TEST(test_rfc4648_vectors_decode_to_their_exact_length)
{
    unsigned char out[16];
    size_t n;
    for (size_t i = 0; i < sizeof(rfc4648) / sizeof(rfc4648[0]); i++) {
        size_t len = strlen(rfc4648[i].raw);
        memset(out, 0xAA, sizeof(out));
        n = 99;
        /* The buffer is exactly as large as the answer: nothing may be written past it. */
        ck_assert_int_eq(b64_decode(rfc4648[i].std, strlen(rfc4648[i].std), out, len, &n), B64_OK);
        ck_assert_uint_eq(n, len);
        ck_assert(memcmp(out, rfc4648[i].raw, len) == 0);
        ck_assert_uint_eq(out[len], 0xAA);
        n = 99;
        ck_assert_int_eq(b64url_decode(rfc4648[i].url, strlen(rfc4648[i].url), out, len, &n), B64_OK);
        ck_assert_uint_eq(n, len);
        ck_assert(memcmp(out, rfc4648[i].raw, len) == 0);
        ck_assert_uint_eq(out[len], 0xAA);
    }
}
END_TEST

START_TEST(test_url_alphabet_maps_minus_and_underscore)
{
    static const unsigned char raw[] = {0xfb, 0xff, 0xbf};
    unsigned char back[3];
    char out[8];
    size_t n;
    ck_assert_int_eq(b64_encode(raw, 3, out, sizeof(out), NULL), B64_OK);
    ck_assert_str_eq(out, "+/+/");
    ck_assert_int_eq(b64url_encode(raw, 3, out, sizeof(out), NULL), B64_OK);
    ck_assert_str_eq(out, "-_-_");
    ck_assert_int_eq(b64url_decode("-_-_", 4, back, 3, &n), B64_OK);
    ck_assert_uint_eq(n, 3);
    ck_assert(memcmp(back, raw, 3) == 0);
    ck_assert_int_eq(b64url_encode(raw, 2, out, sizeof(out), NULL), B64_OK);
    ck_assert_str_eq(out, "-_8");
    /* Each alphabet refuses the other's two characters. */
    ck_assert_int_eq(b64_decode("-_-_", 4, back, 3, &n), B64_E_CHAR);
    ck_assert_int_eq(b64url_decode("+/+/", 4, back, 3, &n), B64_E_CHAR);
}
END_TEST

START_TEST(test_a_344_character_rsa_signature_decodes_to_256_bytes_not_258)
{
    unsigned char sig[256], back[256], evp[260];
    char text[345];
    size_t n = 0;
    ck_assert_int_eq(RAND_bytes(sig, sizeof(sig)), 1);
    ck_assert_int_eq(b64_encode(sig, sizeof(sig), text, sizeof(text), &n), B64_OK);
    ck_assert_uint_eq(n, 344);
    /* 256 = 3 * 85 + 1: the last quantum carries one byte, so two '='. */
    ck_assert_int_eq(text[343], '=');
    ck_assert_int_eq(text[342], '=');
    ck_assert_int_ne(text[341], '=');
    /* The trap itself: OpenSSL counts the padding as two more bytes. */
    ck_assert_int_eq(EVP_DecodeBlock(evp, (const unsigned char *)text, 344), 258);
    ck_assert_int_eq(b64_decode(text, 344, back, sizeof(back), &n), B64_OK);
    ck_assert_uint_eq(n, 256);
    ck_assert(memcmp(back, sig, 256) == 0);
    /* One byte short of room: refused, not truncated. */
    ck_assert_int_eq(b64_decode(text, 344, back, 255, &n), B64_E_SPACE);
    /* 343 and 345 characters are not base64 at all. */
    ck_assert_int_eq(b64_decode(text, 343, back, sizeof(back), &n), B64_E_LENGTH);
    text[344] = 'A';
    ck_assert_int_eq(b64_decode(text, 345, back, sizeof(back), &n), B64_E_LENGTH);
}
END_TEST

START_TEST(test_lengths_that_are_not_base64_are_refused)
{
    static const char *bad_std[] = {"Z", "Zg", "Zg=", "Zm9", "Zm9vY", "Zm9vYg=", "Zm9vYmFy=", "Zg===="};
    static const char *bad_url[] = {"Z", "Zm9vY", "Zm9vYmFyZ"};
    unsigned char out[16];
    size_t n;
    for (size_t i = 0; i < sizeof(bad_std) / sizeof(bad_std[0]); i++) {
        int rc = b64_decode(bad_std[i], strlen(bad_std[i]), out, sizeof(out), &n);
        ck_assert_msg(rc == B64_E_LENGTH || (strlen(bad_std[i]) % 4 == 0 && rc == B64_E_PADDING), "%s: %d", bad_std[i],
                      rc);
    }
    for (size_t i = 0; i < sizeof(bad_url) / sizeof(bad_url[0]); i++)
        ck_assert_int_eq(b64url_decode(bad_url[i], strlen(bad_url[i]), out, sizeof(out), &n), B64_E_LENGTH);
}
END_TEST

START_TEST(test_characters_outside_the_alphabet_are_refused)
{
    static const char *bad[] = {"Zm9v\n", " Zm9", "Zm9 ", "Zm\t9", "Zm9.", "Zm9!", "Zm\x80v", "Zm9v\r\nZg=="};
    unsigned char out[16];
    size_t n;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        size_t len = strlen(bad[i]);
        int rc = b64_decode(bad[i], len, out, sizeof(out), &n);
        ck_assert_msg(rc == (len % 4 == 0 ? B64_E_CHAR : B64_E_LENGTH), "%zu: %d", i, rc);
        if (len % 4 != 1) {
            rc = b64url_decode(bad[i], len, out, sizeof(out), &n);
            ck_assert_msg(rc == B64_E_CHAR, "url %zu: %d", i, rc);
        }
    }
    /* A NUL inside the text is a character like any other, not its end. */
    ck_assert_int_eq(b64_decode("Zm\0v", 4, out, sizeof(out), &n), B64_E_CHAR);
    ck_assert_int_eq(b64url_decode("Zm\0v", 4, out, sizeof(out), &n), B64_E_CHAR);
}
END_TEST

START_TEST(test_padding_only_at_the_end_and_over_zero_bits)
{
    static const char *bad[] = {"Zg==Zg==", "=Zg=", "Z=g=", "Z===", "====", "Zm=v", "Zh==", "Zm9=", "Zm9vYh=="};
    unsigned char out[16];
    size_t n;
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(b64_decode(bad[i], strlen(bad[i]), out, sizeof(out), &n) == B64_E_PADDING, "%s", bad[i]);
    /* base64url has no padding at all; its last character carries no stray bits either. */
    ck_assert_int_eq(b64url_decode("Zg==", 4, out, sizeof(out), &n), B64_E_PADDING);
    ck_assert_int_eq(b64url_decode("Zm8=", 4, out, sizeof(out), &n), B64_E_PADDING);
    ck_assert_int_eq(b64url_decode("Zh", 2, out, sizeof(out), &n), B64_E_PADDING);
    ck_assert_int_eq(b64url_decode("Zm9", 3, out, sizeof(out), &n), B64_E_PADDING);
}
END_TEST

START_TEST(test_encoding_refuses_a_buffer_without_room_for_the_nul)
{
    char out[16];
    memset(out, 'x', sizeof(out));
    ck_assert_int_eq(b64_encode((const unsigned char *)"foo", 3, out, 4, NULL), B64_E_SPACE);
    ck_assert_int_eq(out[0], 'x');
    ck_assert_int_eq(b64_encode((const unsigned char *)"foo", 3, out, 5, NULL), B64_OK);
    ck_assert_str_eq(out, "Zm9v");
    ck_assert_int_eq(b64url_encode((const unsigned char *)"fo", 2, out, 3, NULL), B64_E_SPACE);
    ck_assert_int_eq(b64url_encode((const unsigned char *)"fo", 2, out, 4, NULL), B64_OK);
    ck_assert_str_eq(out, "Zm8");
    ck_assert_int_eq(b64_encode((const unsigned char *)"", 0, out, 0, NULL), B64_E_SPACE);
    ck_assert_int_eq(b64_encode((const unsigned char *)"", 0, out, 1, NULL), B64_OK);
    ck_assert_str_eq(out, "");
}
END_TEST

/* Encodes n random bytes both ways with exact buffers and decodes them back. */
static void round_trip(size_t n)
{
    unsigned char raw[1100], back[1100];
    char text[1500];
    size_t len = 0, got = 0;
    ck_assert(n <= sizeof(raw));
    if (n > 0)
        ck_assert_int_eq(RAND_bytes(raw, (int)n), 1);
    ck_assert_int_eq(b64_encode(raw, n, text, B64_ENCODED_LEN(n) + 1, &len), B64_OK);
    ck_assert_uint_eq(len, B64_ENCODED_LEN(n));
    ck_assert_uint_eq(strlen(text), len);
    ck_assert_int_eq(b64_decode(text, len, back, n, &got), B64_OK);
    ck_assert_msg(got == n && memcmp(raw, back, n) == 0, "std length %zu", n);
    ck_assert_int_eq(b64url_encode(raw, n, text, B64URL_ENCODED_LEN(n) + 1, &len), B64_OK);
    ck_assert_uint_eq(len, B64URL_ENCODED_LEN(n));
    ck_assert(strchr(text, '=') == NULL && strchr(text, '+') == NULL && strchr(text, '/') == NULL);
    ck_assert_uint_eq(B64_DECODED_MAX(len), n);
    ck_assert_int_eq(b64url_decode(text, len, back, n, &got), B64_OK);
    ck_assert_msg(got == n && memcmp(raw, back, n) == 0, "url length %zu", n);
}

START_TEST(test_random_bytes_of_every_length_to_70_round_trip)
{
    for (size_t n = 0; n <= 70; n++)
        for (int k = 0; k < 8; k++)
            round_trip(n);
}
END_TEST

START_TEST(test_lengths_around_the_chunk_boundaries_round_trip)
{
    static const size_t lens[] = {190, 191, 192, 193, 194, 383, 384, 385, 386, 575, 576, 577, 1000, 1099};
    for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++)
        round_trip(lens[i]);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("b64");
    TCase *tc = tcase_create("b64");
    tcase_add_test(tc, test_rfc4648_vectors_encode_for_every_length_class);
    tcase_add_test(tc, test_rfc4648_vectors_decode_to_their_exact_length);
    tcase_add_test(tc, test_url_alphabet_maps_minus_and_underscore);
    tcase_add_test(tc, test_a_344_character_rsa_signature_decodes_to_256_bytes_not_258);
    tcase_add_test(tc, test_lengths_that_are_not_base64_are_refused);
    tcase_add_test(tc, test_characters_outside_the_alphabet_are_refused);
    tcase_add_test(tc, test_padding_only_at_the_end_and_over_zero_bits);
    tcase_add_test(tc, test_encoding_refuses_a_buffer_without_room_for_the_nul);
    tcase_add_test(tc, test_random_bytes_of_every_length_to_70_round_trip);
    tcase_add_test(tc, test_lengths_around_the_chunk_boundaries_round_trip);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
