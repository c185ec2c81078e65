/* Configuration: defaults, file, environment precedence, bad values, and the docs. */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "tests/support/testutil.h"

static char path[64];

static void write_file(const char *text)
{
    snprintf(path, sizeof(path), "/tmp/sf-config-test-%d.conf", (int)getpid());
    FILE *f = fopen(path, "w");
    ck_assert_ptr_nonnull(f);
    fputs(text, f);
    fclose(f);
}

/* The tests run inside scripts/dev test, whose STALLFRONT_* would otherwise steer them. */
static void clear_env(void)
{
    extern char **environ;
    for (int again = 1; again;) {
        again = 0;
        for (char **e = environ; *e != NULL; e++)
            if (strncmp(*e, "STALLFRONT_", 11) == 0) {
                char name[128];
                snprintf(name, sizeof(name), "%.*s", (int)(strcspn(*e, "=")), *e);
                unsetenv(name);
                again = 1;
                break;
            }
    }
}

START_TEST(test_defaults_apply_without_file_or_environment)
{
    config_t c;
    char err[256];
    clear_env();
    ck_assert_int_eq(config_load(&c, NULL, err, sizeof(err)), 0);
    ck_assert_str_eq(c.http_listen, "127.0.0.1:8080");
    ck_assert_str_eq(c.tls_listen, "127.0.0.1:8443");
    ck_assert_int_eq(c.http_max_body, 65536);
    ck_assert_int_eq(c.db_port, 3306);
    ck_assert_ptr_null(c.file);
    config_free(&c);
}
END_TEST

START_TEST(test_environment_overrides_file_which_overrides_defaults)
{
    config_t c;
    char err[256];
    clear_env();
    write_file("# comment\n\n  db.port = 13306  \nhttp.listen=127.0.0.1:9000\npool.workers = 3\n");
    setenv("STALLFRONT_DB_PORT", "23306", 1);
    ck_assert_int_eq(config_load(&c, path, err, sizeof(err)), 0);
    ck_assert_int_eq(c.db_port, 23306);
    ck_assert_str_eq(c.http_listen, "127.0.0.1:9000");
    ck_assert_int_eq(c.pool_workers, 3);
    ck_assert_str_eq(c.file, path);
    config_free(&c);
    setenv("STALLFRONT_CONFIG", path, 1);
    unsetenv("STALLFRONT_DB_PORT");
    ck_assert_int_eq(config_load(&c, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(c.db_port, 13306);
    config_free(&c);
    clear_env();
    unlink(path);
}
END_TEST

START_TEST(test_bad_values_are_refused_with_the_key_named)
{
    config_t c;
    char err[256];
    static const char *const bad[] = {
        "db.port = 70000\n", "db.port = -1\n",     "db.port = 12ab\n",
        "db.port =\n",       "pool.workers = 0\n", "http.max_body = 99999999999999999999\n",
        "no.such.key = 1\n", "just a line\n",
    };
    clear_env();
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        write_file(bad[i]);
        err[0] = '\0';
        ck_assert_msg(config_load(&c, path, err, sizeof(err)) == -1, "accepted: %s", bad[i]);
        ck_assert_msg(strstr(err, ":1:") != NULL, "no line number in '%s'", err);
    }
    setenv("STALLFRONT_POOL_WORKERS", "many", 1);
    ck_assert_int_eq(config_load(&c, NULL, err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "STALLFRONT_POOL_WORKERS"));
    clear_env();
    ck_assert_int_eq(config_load(&c, "/nonexistent/stallfront.conf", err, sizeof(err)), -1);
    ck_assert_ptr_nonnull(strstr(err, "/nonexistent/stallfront.conf"));
    unlink(path);
}
END_TEST

START_TEST(test_every_key_has_a_default_that_loads_and_reads_back)
{
    config_t c;
    char err[256], val[512];
    clear_env();
    ck_assert_int_eq(config_load(&c, NULL, err, sizeof(err)), 0);
    for (const config_key_t *k = config_keys; k->name != NULL; k++) {
        ck_assert_int_eq(config_get(&c, k->name, val, sizeof(val)), 0);
        ck_assert_str_eq(val, k->def);
        ck_assert_int_eq(config_set(&c, k->name, k->def, err, sizeof(err)), 0);
    }
    ck_assert_int_eq(config_get(&c, "nope", val, sizeof(val)), -1);
    config_free(&c);
}
END_TEST

START_TEST(test_every_key_is_documented)
{
    char p[512];
    snprintf(p, sizeof(p), "%s/docs/configuration.md", SF_SOURCE_DIR);
    FILE *f = fopen(p, "r");
    ck_assert_msg(f != NULL, "docs/configuration.md is missing");
    static char doc[1 << 16];
    size_t n = fread(doc, 1, sizeof(doc) - 1, f);
    doc[n] = '\0';
    fclose(f);
    for (const config_key_t *k = config_keys; k->name != NULL; k++) {
        char want[96], env[96];
        snprintf(want, sizeof(want), "`%s`", k->name);
        ck_assert_msg(strstr(doc, want) != NULL, "docs/configuration.md does not document %s", k->name);
        size_t e = (size_t)snprintf(env, sizeof(env), "STALLFRONT_");
        for (const char *q = k->name; *q; q++)
            env[e++] = *q == '.' ? '_' : (char)(*q >= 'a' && *q <= 'z' ? *q - 32 : *q);
        env[e] = '\0';
        ck_assert_msg(strstr(doc, env) != NULL, "docs/configuration.md does not name %s", env);
    }
}
END_TEST

START_TEST(test_hostport_splits_and_refuses_garbage)
{
    char host[64];
    int port;
    ck_assert_int_eq(config_split_hostport("127.0.0.1:8080", host, sizeof(host), &port), 0);
    ck_assert_str_eq(host, "127.0.0.1");
    ck_assert_int_eq(port, 8080);
    ck_assert_int_eq(config_split_hostport("127.0.0.1", host, sizeof(host), &port), -1);
    ck_assert_int_eq(config_split_hostport(":80", host, sizeof(host), &port), -1);
    ck_assert_int_eq(config_split_hostport("h:99999", host, sizeof(host), &port), -1);
    ck_assert_int_eq(config_split_hostport("h:8x", host, sizeof(host), &port), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("config");
    TCase *tc = tcase_create("load");
    tcase_add_test(tc, test_defaults_apply_without_file_or_environment);
    tcase_add_test(tc, test_environment_overrides_file_which_overrides_defaults);
    tcase_add_test(tc, test_bad_values_are_refused_with_the_key_named);
    tcase_add_test(tc, test_every_key_has_a_default_that_loads_and_reads_back);
    tcase_add_test(tc, test_every_key_is_documented);
    tcase_add_test(tc, test_hostport_splits_and_refuses_garbage);
    suite_add_tcase(s, tc);
    int failed = t_run(s, 1); /* the tests set environment variables in turn */
    return failed == 0 ? 0 : 1;
}
