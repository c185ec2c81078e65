/* docs/platform-feed.md "A worked example" cannot drift: its inputs are the ones
 * tests/unit/test_platsig.c checks, and its string to sign, its signature, the request's
 * X-Signature header and the openssl one-liner are exactly what models/base/platsig.h
 * computes from them (the one-liner is also run when openssl is on PATH). */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/platsig.h"
#include "tests/support/testutil.h"

/* The same values as tests/unit/test_platsig.c. */
#define EX_SECRET "sk-demo-7Yq2fVn4Lx9Rb3Tg8Wm1Kc5Pd0Hs6Jz"
#define EX_PATH   "/v1/platform/markets/1/transactions"
#define EX_QUERY  "limit=500&cursor="
#define EX_TS     "1796601600"
#define EX_NONCE  "n0nce-2026-12-07-0001"
#define EX_SIG    "6tq9INKHzK3M4h55WtyyOsqACcsdT827GGpC+dzec4E="

static char doc[1 << 17];

/* The doc's "### A worked example" section, up to the next "## " heading (NUL put there). */
static char *example_section(void)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/docs/platform-feed.md", SF_SOURCE_DIR);
    FILE *f = fopen(p, "r");
    ck_assert_msg(f != NULL, "docs/platform-feed.md is missing");
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    fclose(f);
    doc[n] = '\0';
    char *s = strstr(doc, "\n### A worked example\n");
    ck_assert_msg(s != NULL, "docs/platform-feed.md has no \"### A worked example\" section");
    char *end = strstr(s + 1, "\n## ");
    if (end != NULL)
        *end = '\0';
    return s;
}

/* The value of the section's line "KEY   value", into out. */
static void value_of(const char *sec, const char *key, char *out, size_t len)
{
    char want[64];
    snprintf(want, sizeof(want), "\n%s ", key);
    const char *p = strstr(sec, want);
    ck_assert_msg(p != NULL, "the worked example has no line \"%s ...\"", key);
    p += strlen(want);
    p += strspn(p, " ");
    size_t n = strcspn(p, "\n");
    ck_assert_uint_lt(n, len);
    memcpy(out, p, n);
    out[n] = '\0';
}

START_TEST(test_the_worked_example_is_what_platsig_computes)
{
    char *sec = example_section();
    char secret[128], method[16], path[128], query[128], ts[32], nonce[80], sig_doc[80], sig[PLATSIG_B64_MAX];
    value_of(sec, "secret", secret, sizeof(secret));
    value_of(sec, "method", method, sizeof(method));
    value_of(sec, "path", path, sizeof(path));
    value_of(sec, "query", query, sizeof(query));
    value_of(sec, "timestamp", ts, sizeof(ts));
    value_of(sec, "nonce", nonce, sizeof(nonce));
    value_of(sec, "signature", sig_doc, sizeof(sig_doc));
    /* the example is the one the signature's own test checks */
    ck_assert_str_eq(secret, EX_SECRET);
    ck_assert_str_eq(method, "GET");
    ck_assert_str_eq(path, EX_PATH);
    ck_assert_str_eq(query, EX_QUERY);
    ck_assert_str_eq(ts, EX_TS);
    ck_assert_str_eq(nonce, EX_NONCE);

    /* the string to sign, as a ```text block of its own */
    char *s = platsig_string(method, path, query, NULL, 0, ts, nonce);
    ck_assert_ptr_nonnull(s);
    char block[1024];
    snprintf(block, sizeof(block), "```text\n%s\n```", s);
    ck_assert_msg(strstr(sec, block) != NULL, "the doc's string to sign is not:\n%s", block);

    /* the signature, in the example and in the request's header */
    ck_assert_int_eq(platsig_sign(secret, method, path, query, NULL, 0, ts, nonce, sig, sizeof(sig)), 0);
    ck_assert_str_eq(sig_doc, sig);
    ck_assert_str_eq(sig, EX_SIG);
    char header[512];
    snprintf(header, sizeof(header), "\nX-Signature: %s\n", sig);
    ck_assert_msg(strstr(sec, header) != NULL, "the request's X-Signature is not %s", sig);
    snprintf(header, sizeof(header), "\nGET %s?%s\n", path, query);
    ck_assert_msg(strstr(sec, header) != NULL, "the request line is not GET %s?%s", path, query);

    /* the openssl one-liner signs those very fields with that secret */
    char printf_part[1024], hmac_part[256];
    char *esc = malloc(strlen(s) * 2 + 1), *q = esc;
    for (const char *c = s; *c; c++) /* the string with "\n" spelled out and the body hash as %s */
        if (*c == '\n') {
            *q++ = '\\';
            *q++ = 'n';
        } else
            *q++ = *c;
    *q = '\0';
    char *hash = strstr(esc, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    ck_assert_ptr_nonnull(hash);
    snprintf(printf_part, sizeof(printf_part), "printf '%.*s%%s%s'", (int)(hash - esc), esc, hash + 64);
    snprintf(hmac_part, sizeof(hmac_part), "openssl dgst -sha256 -hmac '%s' -binary", secret);
    const char *line = strstr(sec, printf_part);
    ck_assert_msg(line != NULL, "the one-liner does not start %s", printf_part);
    size_t len = strcspn(line, "\n");
    char oneliner[2048];
    ck_assert_uint_lt(len, sizeof(oneliner));
    memcpy(oneliner, line, len);
    oneliner[len] = '\0';
    ck_assert_msg(strstr(oneliner, hmac_part) != NULL, "the one-liner does not key the HMAC with the secret");
    ck_assert_msg(strstr(oneliner, "openssl base64 -A") != NULL, "the one-liner does not print base64");

    if (system("command -v openssl >/dev/null 2>&1") == 0) {
        FILE *p = popen(oneliner, "r");
        char out[128] = "";
        ck_assert_ptr_nonnull(p);
        if (fgets(out, sizeof(out), p) == NULL)
            out[0] = '\0';
        pclose(p);
        out[strcspn(out, "\r\n")] = '\0';
        ck_assert_str_eq(out, sig);
    }
    free(esc);
    free(s);
}
END_TEST

START_TEST(test_the_doc_is_linked_from_the_readme_and_the_architecture)
{
    const char *files[] = {"README.md", "docs/architecture.md"};
    for (size_t i = 0; i < 2; i++) {
        char p[512];
        snprintf(p, sizeof(p), "%s/%s", SF_SOURCE_DIR, files[i]);
        FILE *f = fopen(p, "r");
        ck_assert_ptr_nonnull(f);
        size_t n = fread(doc, 1, sizeof(doc) - 1, f);
        fclose(f);
        doc[n] = '\0';
        ck_assert_msg(strstr(doc, "platform-feed.md") != NULL, "%s does not link docs/platform-feed.md", files[i]);
    }
}
END_TEST

int main(void)
{
    Suite *s = suite_create("platform_doc");
    TCase *tc = tcase_create("platform_doc");
    tcase_add_test(tc, test_the_worked_example_is_what_platsig_computes);
    tcase_add_test(tc, test_the_doc_is_linked_from_the_readme_and_the_architecture);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
