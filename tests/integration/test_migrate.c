/*
 * Integration tests of server/migrate.c against a real MariaDB: applying, skipping what is
 * applied, refusing a newer or edited database, stopping at a failing migration, and the
 * migrations compiled from sql/. Needs STALLFRONT_DB_{HOST,PORT,USER,PASSWORD,NAME}; each test
 * works in its own scratch database `sf_itmig_<pid of the runner>_<tag>`, and main drops
 * whatever a failed test left behind.
 */
#include <check.h>
#include <pthread.h>
#include <time.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "tests/support/testutil.h"

/* The migration lock of the connection's database (models/store/migrate.c). */
#define LOCK_NAME "LEFT(CONCAT('stallfront.migrate.', DATABASE()), 64)"

/* Prefix of this run's scratch databases; written once by main before any test runs. */
static char run_prefix[48];

#define M(v, name, text)                                                                                               \
    {                                                                                                                  \
        v, name, text, sizeof text - 1                                                                                 \
    }

static const migration_t three[] = {
    M(1, "0001_a.sql", "CREATE TABLE a (id INT PRIMARY KEY) ENGINE=InnoDB;\n"),
    M(2, "0002_b.sql", "-- two statements\nCREATE TABLE b (id INT PRIMARY KEY);\nINSERT INTO b VALUES (1), (2);\n"),
    M(3, "0003_c.sql", "CREATE TABLE c (name VARCHAR(20) NOT NULL);\nINSERT INTO c VALUES ('西红柿');\n"),
};

/* ---------------------------------------------------------------- helpers */

static int table_exists(db_t *db, const char *name)
{
    return (int)t_db_i64(db,
                         "SELECT COUNT(*) FROM information_schema.TABLES"
                         " WHERE TABLE_SCHEMA = DATABASE() AND TABLE_NAME = ?",
                         (db_param_t[]){DB_STR(name)}, 1);
}

static int current(db_t *db)
{
    int v = -1;
    char err[256];
    ck_assert_msg(migrate_current(db, &v, err, sizeof err) == 0, "migrate_current: %s", err);
    return v;
}

/* migrate_run with its report captured in out (at most outlen bytes). */
static int run(db_t *db, const migration_t *list, size_t n, int *applied, char *err, size_t errlen, char *out,
               size_t outlen)
{
    FILE *f = fmemopen(out, outlen, "w");
    ck_assert_ptr_nonnull(f);
    err[0] = '\0';
    int rc = migrate_run(db, list, n, f, applied, err, errlen);
    fclose(f);
    return rc;
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_missing_migrations_are_applied_once_in_order)
{
    config_t cfg;
    db_t db;
    char err[256], out[1024];
    int applied = -1;
    t_db_scratch_open(&db, &cfg, run_prefix, "apply");
    ck_assert_int_eq(current(&db), 0); /* no schema_migrations yet */

    ck_assert_msg(run(&db, three, 2, &applied, err, sizeof err, out, sizeof out) == 0, "%s", err);
    ck_assert_int_eq(applied, 2);
    ck_assert_str_eq(out, "applied 0001_a.sql\napplied 0002_b.sql\n");
    ck_assert(table_exists(&db, "a") && table_exists(&db, "b") && !table_exists(&db, "c"));
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM b", NULL, 0), 2);
    ck_assert_int_eq(current(&db), 2);

    ck_assert_msg(run(&db, three, 2, &applied, err, sizeof err, out, sizeof out) == 0, "%s", err);
    ck_assert_int_eq(applied, 0);
    ck_assert_str_eq(out, "database is up to date at schema 2\n");

    ck_assert_msg(run(&db, three, 3, &applied, err, sizeof err, out, sizeof out) == 0, "%s", err);
    ck_assert_int_eq(applied, 1);
    ck_assert_str_eq(out, "applied 0003_c.sql\n");
    ck_assert_int_eq(current(&db), 3);
    ck_assert_int_eq(t_db_i64(&db, "SELECT CHAR_LENGTH(name) FROM c", NULL, 0), 3);

    /* the record: names, SHA-256 checksums, times */
    ck_assert_int_eq(t_db_i64(&db,
                              "SELECT COUNT(*) FROM schema_migrations WHERE CHAR_LENGTH(checksum) = 64"
                              " AND checksum REGEXP '^[0-9a-f]+$' AND applied_at IS NOT NULL",
                              NULL, 0),
                     3);
    db_rows_t *rows = NULL;
    ck_assert_int_eq(
        db_query_row(&db, "SELECT name, checksum FROM schema_migrations WHERE version = 1", NULL, 0, &rows), DB_OK);
    ck_assert_str_eq(db_rows_str(rows, 0, NULL), "0001_a.sql");
    /* sha256sum of "CREATE TABLE a (id INT PRIMARY KEY) ENGINE=InnoDB;\n" */
    ck_assert_str_eq(db_rows_str(rows, 1, NULL), "c134830e8a5df90c9093931302b65ef891161f2305a1cad3b4269e317ece4cff");
    db_rows_free(rows);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_a_newer_database_is_refused)
{
    config_t cfg;
    db_t db;
    char err[256], out[1024];
    int applied = -1;
    t_db_scratch_open(&db, &cfg, run_prefix, "newer");
    ck_assert_msg(run(&db, three, 2, &applied, err, sizeof err, out, sizeof out) == 0, "%s", err);
    t_db_script(&db, "INSERT INTO schema_migrations VALUES (7, '0007_future.sql', REPEAT('0', 64),"
                     " UTC_TIMESTAMP(3))");

    ck_assert_int_eq(run(&db, three, 3, &applied, err, sizeof err, out, sizeof out), -1);
    ck_assert_int_eq(applied, 0);
    ck_assert_msg(strstr(err, "schema 7") != NULL && strstr(err, "up to 3") != NULL, "message: %s", err);
    ck_assert(!table_exists(&db, "c"));
    ck_assert_int_eq(current(&db), 7);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_an_edited_migration_is_refused)
{
    config_t cfg;
    db_t db;
    char err[256], out[1024];
    int applied = -1;
    t_db_scratch_open(&db, &cfg, run_prefix, "edited");
    ck_assert_msg(run(&db, three, 2, &applied, err, sizeof err, out, sizeof out) == 0, "%s", err);

    migration_t edited[3] = {three[0], three[1], three[2]};
    edited[1].sql = "-- two statements\nCREATE TABLE b (id BIGINT PRIMARY KEY);\nINSERT INTO b VALUES (1), (2);\n";
    edited[1].len = strlen(edited[1].sql);
    ck_assert_int_eq(run(&db, edited, 3, &applied, err, sizeof err, out, sizeof out), -1);
    ck_assert_int_eq(applied, 0);
    ck_assert_msg(strstr(err, "0002_b.sql") != NULL && strstr(err, "changed") != NULL, "message: %s", err);
    ck_assert(!table_exists(&db, "c"));

    /* a recorded version the list lacks is refused too */
    const migration_t gap[] = {three[0], three[2]};
    ck_assert_int_eq(run(&db, gap, 2, &applied, err, sizeof err, out, sizeof out), -1);
    ck_assert_msg(strstr(err, "migration 2") != NULL, "message: %s", err);
    ck_assert(!table_exists(&db, "c"));
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_a_failing_migration_stops_the_run_and_is_not_recorded)
{
    config_t cfg;
    db_t db;
    char err[512], out[1024];
    int applied = -1;
    t_db_scratch_open(&db, &cfg, run_prefix, "failing");
    const migration_t list[] = {
        three[0],
        three[1],
        M(3, "0003_broken.sql", "CREATE TABLE d (id INT PRIMARY KEY);\nINSERT INTO no_such_table VALUES (1);\n"),
        M(4, "0004_never.sql", "CREATE TABLE e (id INT);\n"),
    };
    ck_assert_int_eq(run(&db, list, 4, &applied, err, sizeof err, out, sizeof out), -1);
    ck_assert_int_eq(applied, 2);
    ck_assert_msg(strstr(err, "0003_broken.sql") != NULL && strstr(err, "no_such_table") != NULL, "message: %s", err);
    ck_assert_str_eq(out, "applied 0001_a.sql\napplied 0002_b.sql\n");
    ck_assert_int_eq(current(&db), 2);
    ck_assert(!table_exists(&db, "e"));

    /* the lock was released: a fixed list can run now */
    const migration_t fixed[] = {three[0], three[1],
                                 M(3, "0003_fixed.sql", "CREATE TABLE IF NOT EXISTS d (id INT PRIMARY KEY);\n")};
    ck_assert_msg(run(&db, fixed, 3, &applied, err, sizeof err, out, sizeof out) == 0, "%s", err);
    ck_assert_int_eq(applied, 1);
    ck_assert_int_eq(t_db_i64(&db, "SELECT IS_FREE_LOCK(" LOCK_NAME ")", NULL, 0), 1);

    const migration_t syntax[] = {three[0], three[1], fixed[2], M(4, "0004_typo.sql", "CREAT TABLE x (id INT);")};
    ck_assert_int_eq(run(&db, syntax, 4, &applied, err, sizeof err, out, sizeof out), -1);
    ck_assert_int_eq(applied, 0);
    ck_assert_msg(strstr(err, "0004_typo.sql") != NULL, "message: %s", err);
    ck_assert_int_eq(current(&db), 3);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

/* Holds the migration lock on its own connection for a moment, as a second migrator would. */
static void *release_later(void *arg)
{
    db_t *holder = arg;
    struct timespec ts = {.tv_sec = 0, .tv_nsec = 500 * 1000000L};
    db_thread_init();
    nanosleep(&ts, NULL);
    db_rows_t *rows = NULL;
    if (db_query(holder, "SELECT RELEASE_LOCK(" LOCK_NAME ")", NULL, 0, &rows) == DB_OK)
        db_rows_free(rows);
    db_thread_end();
    return NULL;
}

START_TEST(test_a_second_migrator_waits_for_the_first)
{
    config_t cfg;
    db_t db, holder;
    char err[256], out[1024];
    int applied = -1;
    pthread_t t;
    struct timespec t0, t1;
    t_db_scratch_open(&db, &cfg, run_prefix, "lock");
    ck_assert_int_eq(db_open(&holder, &cfg), DB_OK);
    ck_assert_int_eq(t_db_i64(&holder, "SELECT GET_LOCK(" LOCK_NAME ", 0)", NULL, 0), 1);
    ck_assert_int_eq(pthread_create(&t, NULL, release_later, &holder), 0);
    clock_gettime(CLOCK_MONOTONIC, &t0);
    ck_assert_msg(run(&db, three, 1, &applied, err, sizeof err, out, sizeof out) == 0, "%s", err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    pthread_join(t, NULL);
    long waited_ms = (t1.tv_sec - t0.tv_sec) * 1000 + (t1.tv_nsec - t0.tv_nsec) / 1000000;
    ck_assert_int_ge(waited_ms, 400);
    ck_assert_int_eq(applied, 1);
    db_close(&holder);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_an_unordered_list_is_refused)
{
    config_t cfg;
    db_t db;
    char err[256], out[256];
    int applied = -1;
    t_db_scratch_open(&db, &cfg, run_prefix, "order");
    const migration_t list[] = {three[1], three[0]};
    ck_assert_int_eq(run(&db, list, 2, &applied, err, sizeof err, out, sizeof out), -1);
    ck_assert_int_eq(applied, 0);
    ck_assert_ptr_nonnull(strstr(err, "out of order"));
    ck_assert(!table_exists(&db, "a") && !table_exists(&db, "b"));
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_the_builtin_migrations_apply_cleanly_and_twice_is_a_no_op)
{
    config_t cfg;
    db_t db;
    char err[512], out[4096];
    int applied = -1;
    ck_assert_uint_gt(migrations_builtin_count, 0);
    ck_assert_ptr_null(migrations_builtin[migrations_builtin_count].sql); /* terminator */
    t_db_scratch_open(&db, &cfg, run_prefix, "builtin");
    ck_assert_msg(run(&db, migrations_builtin, migrations_builtin_count, &applied, err, sizeof err, out, sizeof out) ==
                      0,
                  "%s", err);
    ck_assert_int_eq(applied, (int)migrations_builtin_count);
    ck_assert_int_eq(current(&db), migrations_builtin[migrations_builtin_count - 1].version);
    ck_assert_ptr_nonnull(strstr(out, "applied 0001_init.sql\n"));

    ck_assert_msg(run(&db, migrations_builtin, migrations_builtin_count, &applied, err, sizeof err, out, sizeof out) ==
                      0,
                  "%s", err);
    ck_assert_int_eq(applied, 0);
    ck_assert_ptr_nonnull(strstr(out, "database is up to date"));
    t_db_scratch_close(&db, &cfg);
}
END_TEST

/* ---------------------------------------------------------------- runner */

static Suite *migrate_suite(void)
{
    Suite *s = suite_create("migrate");
    TCase *tc = tcase_create("migrate");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_missing_migrations_are_applied_once_in_order);
    tcase_add_test(tc, test_a_newer_database_is_refused);
    tcase_add_test(tc, test_an_edited_migration_is_refused);
    tcase_add_test(tc, test_a_failing_migration_stops_the_run_and_is_not_recorded);
    tcase_add_test(tc, test_a_second_migrator_waits_for_the_first);
    tcase_add_test(tc, test_an_unordered_list_is_refused);
    tcase_add_test(tc, test_the_builtin_migrations_apply_cleanly_and_twice_is_a_no_op);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_migrate"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof run_prefix, "sf_itmig_%ld", (long)getpid());
    db_library_init();
    int failed = t_run(migrate_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
