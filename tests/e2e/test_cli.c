/*
 * The binary's command line: help on every subcommand, usage errors, and migrate / seed
 * against a scratch database of their own on the test MariaDB.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/support/testutil.h"

static char out[512];

/* Runs the binary with args, stdout and stderr into `out`; returns its exit status. */
static int run(const char *env, const char *args)
{
    snprintf(out, sizeof(out), "%s/cli-%d.out", t_env("STALLFRONT_TEST_VAR"), (int)getpid());
    return t_sh("%s %s %s >%s 2>&1", env, SF_BINARY, args, out);
}

static int output_has(const char *text)
{
    FILE *f = fopen(out, "r");
    static char buf[1 << 16];
    size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

START_TEST(test_every_subcommand_has_help)
{
    static const char *const cmds[] = {"serve", "work", "migrate", "seed", "config", "platform"};
    for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
        char args[64];
        snprintf(args, sizeof(args), "%s --help", cmds[i]);
        ck_assert_int_eq(run("", args), 0);
        ck_assert_msg(output_has("usage: stallfront"), "%s --help", cmds[i]);
        ck_assert_msg(output_has("--config FILE"), "%s --help", cmds[i]);
    }
    ck_assert_int_eq(run("", "--help"), 0);
    ck_assert(output_has("migrate"));
}
END_TEST

START_TEST(test_usage_errors_exit_2_and_say_why)
{
    ck_assert_int_eq(run("", ""), 2);
    ck_assert_int_eq(run("", "fly"), 2);
    ck_assert(output_has("unknown command 'fly'"));
    ck_assert_int_eq(run("", "serve --bogus"), 2);
    ck_assert(output_has("unexpected argument '--bogus'"));
    ck_assert_int_eq(run("STALLFRONT_DB_PORT=99999", "config"), 2);
    ck_assert(output_has("STALLFRONT_DB_PORT"));
    ck_assert_int_eq(run("STALLFRONT_LOG_LEVEL=loud", "config"), 2);
    ck_assert_int_eq(run("", "config --config /nonexistent.conf"), 2);
    ck_assert(output_has("/nonexistent.conf"));
}
END_TEST

START_TEST(test_config_shows_settings_but_hides_passwords)
{
    ck_assert_int_eq(run("STALLFRONT_DB_PASSWORD=hunter2 STALLFRONT_POOL_WORKERS=7", "config"), 0);
    ck_assert(output_has("pool.workers = 7"));
    ck_assert(output_has("db.password = (hidden)"));
    ck_assert(!output_has("hunter2"));
}
END_TEST

START_TEST(test_migrate_twice_then_seed_on_a_fresh_database)
{
    char db[64], env[128];
    snprintf(db, sizeof(db), "sf_cli_%d", (int)getpid());
    snprintf(env, sizeof(env), "STALLFRONT_DB_NAME=%s", db);
    ck_assert_int_eq(t_sh("mariadb --no-defaults -h127.0.0.1 -P%s -u%s -p%s -e 'CREATE DATABASE %s'",
                          t_env("STALLFRONT_DB_PORT"), t_env("STALLFRONT_DB_USER"), t_env("STALLFRONT_DB_PASSWORD"),
                          db),
                     0);
    ck_assert_int_eq(run(env, "seed"), 1); /* not migrated yet */
    ck_assert(output_has("run `stallfront migrate` first"));
    ck_assert_int_eq(run(env, "migrate"), 0);
    ck_assert(output_has("applied 0001_init.sql"));
    ck_assert_int_eq(run(env, "migrate"), 0);
    ck_assert(output_has("up to date"));
    ck_assert_int_eq(run(env, "migrate --status"), 0);
    ck_assert(output_has("database is at schema"));
    char seed[256];
    snprintf(seed, sizeof(seed), "seed --credentials %s/cli-%d-credentials.json", t_env("STALLFRONT_TEST_VAR"),
             (int)getpid());
    ck_assert_int_eq(run(env, seed), 0);
    ck_assert(output_has("seed: wrote"));
    ck_assert_int_eq(run(env, seed), 0);
    t_sh("mariadb --no-defaults -h127.0.0.1 -P%s -u%s -p%s -e 'DROP DATABASE %s'", t_env("STALLFRONT_DB_PORT"),
         t_env("STALLFRONT_DB_USER"), t_env("STALLFRONT_DB_PASSWORD"), db);
}
END_TEST

START_TEST(test_migrate_fails_cleanly_without_a_database)
{
    char env[64];
    snprintf(env, sizeof(env), "STALLFRONT_DB_PORT=%d", t_free_port());
    ck_assert_int_eq(run(env, "migrate"), 1);
    ck_assert(output_has("cannot connect to MariaDB"));
}
END_TEST

int main(void)
{
    Suite *su = suite_create("cli");
    TCase *tc = tcase_create("cli");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_every_subcommand_has_help);
    tcase_add_test(tc, test_usage_errors_exit_2_and_say_why);
    tcase_add_test(tc, test_config_shows_settings_but_hides_passwords);
    tcase_add_test(tc, test_migrate_twice_then_seed_on_a_fresh_database);
    tcase_add_test(tc, test_migrate_fails_cleanly_without_a_database);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    return failed == 0 ? 0 : 1;
}
