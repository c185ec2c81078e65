/*
 * `stallfront report` around chromium: its usage errors (exit 2), the markets it refuses
 * (unknown, ambiguous, without an operator: exit 1), a missing chromium (exit 1, naming
 * Debian's package), and, with a stand-in chromium (a shell script as STALLFRONT_CHROMIUM that
 * records its arguments, uses the token it was handed against the real server and answers as
 * the mode the test sets), the session it opens: a working operator token of the right market
 * with a life of at most 300 s while chromium runs, passed in the URL's fragment, and revoked
 * afterwards whether the print worked, the page showed an error, no PDF came out or chromium
 * hung past --timeout. The real chromium and the real page are the browser test's
 * (tests/browser/test_centre.mjs).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/support/fixture.h"
#include "tests/support/testutil.h"

static tserver_t shared;
static int shared_exit;
static t_market_t market, other;
static char dir[512], fake[600], out[600], log_path[600];

/* The stand-in chromium. FAKE_MODE: ready (the page is ready, the print writes a PDF), error
 * (the page shows an error), nopdf (the print writes nothing), hang (never ends). It appends
 * every argument to $FAKE_DIR/args, and what GET /v1/admin/complaints answers with the token
 * and the session's TTL in Redis to $FAKE_DIR/seen. */
static const char *const FAKE =
    "#!/bin/sh\n"
    "for a in \"$@\"; do printf '%s\\n' \"$a\"; done >> \"$FAKE_DIR/args\"\n"
    "url=; pdf=; dump=0\n"
    "for a in \"$@\"; do case \"$a\" in http*) url=\"$a\";; --print-to-pdf=*) pdf=\"${a#--print-to-pdf=}\";; "
    "--dump-dom) dump=1;; esac; done\n"
    "tok=\"${url#*#token=}\"\n"
    "code=$(curl -s -o /dev/null -w '%{http_code}' -H \"Authorization: Bearer $tok\" "
    "\"$FAKE_BASE/v1/admin/complaints?limit=1\")\n"
    "ttl=$(redis-cli --no-auth-warning -h \"$STALLFRONT_REDIS_HOST\" -p \"$STALLFRONT_REDIS_PORT\" "
    "${STALLFRONT_REDIS_PASSWORD:+-a \"$STALLFRONT_REDIS_PASSWORD\"} TTL \"sess:$(printf %s \"$tok\" | sha256sum | "
    "cut -c1-64)\")\n"
    "echo \"$code $ttl\" >> \"$FAKE_DIR/seen\"\n"
    "case \"$FAKE_MODE\" in hang) sleep 30;; esac\n"
    "if [ $dump = 1 ]; then\n"
    "  case \"$FAKE_MODE\" in error) echo '<html><body data-ready=\"error\"><div class=\"report\"><div "
    "data-test=\"report-error\" class=\"error\">数据加载失败：boom</div></div></body></html>';;\n"
    "  *) echo '<html><body data-ready=\"1\"><div>ok</div></body></html>';; esac\n"
    "  exit 0\n"
    "fi\n"
    "[ \"$FAKE_MODE\" = nopdf ] || printf '%%PDF-1.4\\n%% stand-in\\n' > \"$pdf\"\n"
    "exit 0\n";

static void shared_up(void)
{
    t_migrate();
    ck_assert_msg(tserver_start(&shared, NULL) == 0, "server did not start");
    t_fixture_market(&market);
    t_fixture_market(&other);
    snprintf(dir, sizeof(dir), "%s/report-cli-%d", t_env("STALLFRONT_TEST_VAR"), (int)getpid());
    ck_assert_int_eq(t_sh("rm -rf '%s' && mkdir -p '%s'", dir, dir), 0);
    snprintf(fake, sizeof(fake), "%s/chromium", dir);
    snprintf(out, sizeof(out), "%s/report.pdf", dir);
    snprintf(log_path, sizeof(log_path), "%s/out.log", dir);
    FILE *f = fopen(fake, "w");
    ck_assert_ptr_nonnull(f);
    fputs(FAKE, f);
    fclose(f);
    chmod(fake, 0700);
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
    t_sh("rm -rf '%s'", dir);
}

/* Runs `stallfront report ARGS` with the stand-in in MODE (NULL: STALLFRONT_CHROMIUM as env
 * says), output into log_path; its exit status. */
static int report(const char *mode, const char *env, const char *args)
{
    t_sh("rm -f '%s/args' '%s/seen' '%s'", dir, dir, out);
    if (mode == NULL)
        return t_sh("%s %s report %s >'%s' 2>&1", env, SF_BINARY, args, log_path);
    return t_sh("FAKE_DIR='%s' FAKE_BASE='%s' FAKE_MODE=%s STALLFRONT_CHROMIUM='%s' %s report --url %s %s >'%s' 2>&1",
                dir, shared.base, mode, fake, SF_BINARY, shared.base, args, log_path);
}

/* 1 if the last run's output holds text. */
static int said(const char *text)
{
    static char buf[1 << 16];
    FILE *f = fopen(log_path, "r");
    size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

/* Reads the first line of dir/name into buf ("" if none). */
static void first_line(const char *name, char *buf, size_t len)
{
    char path[700];
    snprintf(path, sizeof(path), "%s/%s", dir, name);
    FILE *f = fopen(path, "r");
    buf[0] = '\0';
    if (f != NULL) {
        if (fgets(buf, (int)len, f) == NULL)
            buf[0] = '\0';
        fclose(f);
    }
    buf[strcspn(buf, "\n")] = '\0';
}

/* The token the stand-in was handed (from the URL's fragment), into tok. */
static void handed_token(char *tok, size_t len)
{
    char path[700], line[4096];
    snprintf(path, sizeof(path), "%s/args", dir);
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    tok[0] = '\0';
    while (fgets(line, sizeof(line), f) != NULL) {
        char *t = strstr(line, "#token=");
        if (t != NULL) {
            snprintf(tok, len, "%s", t + 7);
            tok[strcspn(tok, "\n")] = '\0';
        }
    }
    fclose(f);
    ck_assert_msg(tok[0] != '\0', "no #token= in chromium's URL");
}

/* The session the stand-in was handed worked while it ran (200 with a TTL of 1..300 s) and
 * no longer does. */
static void session_was_short_and_is_revoked(void)
{
    char seen[128], tok[128];
    int code = 0, ttl = 0;
    first_line("seen", seen, sizeof(seen));
    ck_assert_msg(sscanf(seen, "%d %d", &code, &ttl) == 2, "seen: '%s'", seen);
    ck_assert_int_eq(code, 200);
    ck_assert_msg(ttl > 0 && ttl <= 300, "the report's session lives %d s", ttl);
    handed_token(tok, sizeof(tok));
    tresp_t r;
    t_call(&shared, "GET", "/v1/admin/complaints", tok, NULL, &r);
    ck_assert_int_eq(r.status, 401);
    t_resp_free(&r);
}

START_TEST(test_usage_errors_exit_2_and_say_why)
{
    ck_assert_int_eq(report(NULL, "", "--from 2026-12-01 --to 2026-12-07"), 2);
    ck_assert(said("--from, --to and --out are required"));
    ck_assert_int_eq(report(NULL, "", "--from 2026-02-30 --to 2026-03-01 --out x.pdf"), 2);
    ck_assert(said("must be real dates"));
    ck_assert_int_eq(report(NULL, "", "--from 2026-12-1 --to 2026-12-07 --out x.pdf"), 2);
    ck_assert_int_eq(report(NULL, "", "--from 2026-12-08 --to 2026-12-07 --out x.pdf"), 2);
    ck_assert(said("--from 2026-12-08 is after --to 2026-12-07"));
    ck_assert_int_eq(report(NULL, "", "--from 2026-12-07 --to 2026-12-07 --out x.pdf --market abc"), 2);
    ck_assert(said("is not a market id"));
    ck_assert_int_eq(report(NULL, "", "--from 2026-12-07 --to 2026-12-07 --out x.pdf --timeout 0"), 2);
    ck_assert_int_eq(report(NULL, "", "--from 2026-12-07 --to 2026-12-07 --out x.pdf --url ftp://x"), 2);
    ck_assert(said("is not http[s]://host[:port]"));
    ck_assert_int_eq(report(NULL, "", "--from 2026-12-07 --to 2026-12-07 --out x.pdf --bogus 1"), 2);
    ck_assert(said("unexpected argument '--bogus'"));
    ck_assert_int_eq(report(NULL, "", "--from 2026-12-07"), 2);
    ck_assert_int_eq(t_sh("%s report --help >'%s' 2>&1", SF_BINARY, log_path), 0);
    ck_assert(said("--virtual") || said("--from YYYY-MM-DD --to YYYY-MM-DD --out FILE.pdf"));
}
END_TEST

START_TEST(test_no_chromium_is_a_failure_naming_the_package)
{
    char args[800];
    snprintf(args, sizeof(args), "--from 2026-12-07 --to 2026-12-07 --out '%s' --market %lld", out,
             (long long)market.market_id);
    ck_assert_int_eq(report(NULL, "STALLFRONT_CHROMIUM=/nonexistent", args), 1);
    ck_assert(said("/nonexistent"));
    ck_assert(said("Debian's package chromium"));
    ck_assert_int_ne(access(out, F_OK), 0);
}
END_TEST

START_TEST(test_unknown_ambiguous_and_operatorless_markets_are_refused)
{
    char args[256];
    ck_assert_int_eq(report("ready", "", "--from 2026-12-07 --to 2026-12-07 --out x.pdf --market 999999999999"), 1);
    ck_assert(said("there is no market 999999999999"));
    /* two markets at least (the fixture made two): which one must be said */
    ck_assert_int_eq(report("ready", "", "--from 2026-12-07 --to 2026-12-07 --out x.pdf"), 1);
    ck_assert(said("more than one market"));
    ck_assert_int_eq(t_sh("test -e '%s/args'", dir), 1); /* chromium never ran */
    /* a market whose only operator is disabled */
    ck_assert_int_eq(
        t_sh(
            "MYSQL_PWD=\"$STALLFRONT_DB_PASSWORD\" mariadb --no-defaults -h \"$STALLFRONT_DB_HOST\" -P "
            "\"$STALLFRONT_DB_PORT\" -u \"$STALLFRONT_DB_USER\" \"$STALLFRONT_DB_NAME\" -e \"UPDATE users SET status = "
            "'disabled' WHERE market_id = %lld AND role = 'operator'\"",
            (long long)other.market_id),
        0);
    snprintf(args, sizeof(args), "--from 2026-12-07 --to 2026-12-07 --out x.pdf --market %lld",
             (long long)other.market_id);
    ck_assert_int_eq(report("ready", "", args), 1);
    ck_assert(said("has no active operator"));
}
END_TEST

START_TEST(test_prints_with_a_short_session_in_the_fragment_then_revokes_it)
{
    char args[700], want[256];
    snprintf(args, sizeof(args), "--from 2026-12-01 --to 2026-12-07 --out '%s' --market %lld", out,
             (long long)market.market_id);
    ck_assert_int_eq(report("ready", "", args), 0);
    ck_assert(said("report: wrote"));
    ck_assert_int_eq(t_sh("head -c 5 '%s' | grep -q '%%PDF-'", out), 0);
    ck_assert_int_eq(t_sh("ls '%s' | grep -q -e '\\.part$' -e '\\.dom$'", dir), 1); /* nothing left behind */
    /* chromium: headless, the page's URL with the period and the market, the token after '#' */
    snprintf(want, sizeof(want), "%s/app/report?from=2026-12-01&to=2026-12-07&market=%lld#token=", shared.base,
             (long long)market.market_id);
    ck_assert_int_eq(t_sh("grep -qF -- '%s' '%s/args'", want, dir), 0);
    ck_assert_int_eq(t_sh("grep -qx -- '--headless' '%s/args'", dir), 0);
    ck_assert_int_eq(t_sh("grep -qx -- '--dump-dom' '%s/args'", dir), 0);
    ck_assert_int_eq(t_sh("grep -q -- '^--print-to-pdf=' '%s/args'", dir), 0);
    /* both runs saw a working session */
    ck_assert_int_eq(t_sh("test $(grep -c '^200 ' '%s/seen') -eq 2", dir), 0);
    session_was_short_and_is_revoked();
    /* the token never reached the server's access log (only the stand-in's own API call,
     * which carries it in a header) */
    char tok[128];
    handed_token(tok, sizeof(tok));
    ck_assert_int_eq(t_sh("grep -qF -- '%s' '%s'", tok, shared.log_path), 1);
}
END_TEST

START_TEST(test_a_page_error_no_pdf_and_a_hang_fail_and_still_revoke)
{
    char args[700];
    snprintf(args, sizeof(args), "--from 2026-12-07 --to 2026-12-07 --out '%s' --market %lld", out,
             (long long)market.market_id);
    ck_assert_int_eq(report("error", "", args), 1);
    ck_assert(said("the report page says: 数据加载失败：boom"));
    ck_assert_int_ne(access(out, F_OK), 0);
    session_was_short_and_is_revoked();

    ck_assert_int_eq(report("nopdf", "", args), 1);
    ck_assert(said("did not write a PDF"));
    ck_assert_int_ne(access(out, F_OK), 0);
    session_was_short_and_is_revoked();

    char hang[800];
    snprintf(hang, sizeof(hang), "%s --timeout 2", args);
    ck_assert_int_eq(report("hang", "", hang), 1);
    ck_assert(said("did not finish within 2 s"));
    session_was_short_and_is_revoked();
}
END_TEST

static Suite *report_suite(void)
{
    Suite *s = suite_create("report_cli");
    TCase *tc = tcase_create("report_cli");
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_usage_errors_exit_2_and_say_why);
    tcase_add_test(tc, test_no_chromium_is_a_failure_naming_the_package);
    tcase_add_test(tc, test_unknown_ambiguous_and_operatorless_markets_are_refused);
    tcase_add_test(tc, test_prints_with_a_short_session_in_the_fragment_then_revokes_it);
    tcase_add_test(tc, test_a_page_error_no_pdf_and_a_hang_fail_and_still_revoke);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    return t_main_shared(report_suite(), NULL, &shared, &shared_exit);
}
