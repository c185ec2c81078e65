/*
 * Integration tests of server/db.c against a real MariaDB: parameters and UTF-8 round
 * trips, error mapping, transactions, the statement cache, and rebuilding a connection the
 * server killed. Needs STALLFRONT_DB_{HOST,PORT,USER,PASSWORD,NAME} (scripts/dev test sets
 * them) and a user allowed to create databases: each test works in its own scratch database
 * `sf_itdb_<pid of the runner>_<tag>`, and main drops whatever a failed test left behind.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/testutil.h"

/* Prefix of this run's scratch databases; written once by main before any test runs. */
static char run_prefix[48];

/* ---------------------------------------------------------------- helpers */

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Kills victim's session from killer and waits until the server has really let it go. */
static void kill_session(db_t *killer, db_t *victim)
{
    char sql[64];
    int64_t id = t_db_i64(victim, "SELECT CONNECTION_ID()", NULL, 0);
    snprintf(sql, sizeof sql, "KILL CONNECTION %lld", (long long)id);
    t_db_script(killer, sql);
    for (int i = 0; i < 100; i++) {
        db_param_t p[] = {DB_I64(id)};
        if (t_db_i64(killer, "SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ?", p, 1) == 0)
            return;
        sleep_ms(50);
    }
    ck_abort_msg("session %lld still alive 5 s after KILL", (long long)id);
}

static const char table_sql[] = "CREATE TABLE t (id BIGINT AUTO_INCREMENT PRIMARY KEY, n BIGINT NULL,"
                                " s VARCHAR(64) NULL, UNIQUE KEY (s)) ENGINE=InnoDB";

/* ---------------------------------------------------------------- tests */

START_TEST(test_round_trip_keeps_ints_strings_nulls_and_chinese)
{
    config_t cfg;
    db_t db;
    uint64_t affected = 0, id = 0;
    db_rows_t *rows = NULL;
    t_db_scratch_open(&db, &cfg, run_prefix, "rt");
    t_db_script(&db, table_sql);

    db_param_t p1[] = {DB_I64(-9007199254740993LL), DB_STR("西红柿")};
    ck_assert_int_eq(db_exec(&db, "INSERT INTO t (n, s) VALUES (?, ?)", p1, 2, &affected, &id), DB_OK);
    ck_assert_uint_eq(affected, 1);
    ck_assert_uint_gt(id, 0);
    db_param_t p2[] = {DB_NULL, DB_STRN("a\0b", 3)};
    ck_assert_int_eq(db_exec(&db, "INSERT INTO t (n, s) VALUES (?, ?)", p2, 2, NULL, NULL), DB_OK);
    db_param_t p3[] = {DB_NULL, DB_NULL};
    ck_assert_int_eq(db_exec(&db, "INSERT INTO t (n, s) VALUES (?, ?)", p3, 2, NULL, NULL), DB_OK);

    ck_assert_int_eq(db_query(&db, "SELECT id, n, s FROM t ORDER BY id", NULL, 0, &rows), DB_OK);
    ck_assert_uint_eq(rows->nrows, 3);
    ck_assert_uint_eq(rows->ncols, 3);
    size_t len = 0;
    ck_assert(db_rows_next(rows));
    ck_assert_uint_eq((uint64_t)db_rows_i64(rows, 0), id);
    ck_assert(db_rows_i64(rows, 1) == -9007199254740993LL);
    ck_assert_str_eq(db_rows_str(rows, 2, &len), "西红柿");
    ck_assert_uint_eq(len, 9);
    ck_assert(db_rows_next(rows));
    ck_assert(db_rows_isnull(rows, 1));
    ck_assert_int_eq(db_rows_i64(rows, 1), 0);
    ck_assert_ptr_nonnull(db_rows_str(rows, 2, &len));
    ck_assert_uint_eq(len, 3);
    ck_assert(memcmp(db_rows_str(rows, 2, NULL), "a\0b", 3) == 0);
    ck_assert(db_rows_next(rows));
    ck_assert(db_rows_isnull(rows, 2));
    ck_assert_ptr_null(db_rows_str(rows, 2, &len));
    ck_assert(!db_rows_next(rows));
    ck_assert(!db_rows_next(rows));
    ck_assert_ptr_null(db_rows_str(rows, 0, NULL)); /* past the end */

    /* copies into fixed buffers and JSON values: NULL is "" (and JSON null), a long text is cut */
    char buf[8];
    json_t *v;
    db_rows_rewind(rows);
    ck_assert(db_rows_next(rows));
    db_rows_copy(rows, 2, buf, sizeof(buf));
    ck_assert_str_eq(buf, "西红"); /* 9 bytes in 7: cut before the character that does not fit */
    db_rows_copy(rows, 2, buf, 4);
    ck_assert_str_eq(buf, "西");
    v = db_rows_json_str(rows, 2);
    ck_assert_str_eq(json_string_value(v), "西红柿");
    json_decref(v);
    ck_assert(db_rows_next(rows) && db_rows_next(rows));
    strcpy(buf, "x");
    db_rows_copy(rows, 2, buf, sizeof(buf));
    ck_assert_str_eq(buf, "");
    v = db_rows_json_str(rows, 2);
    ck_assert(json_is_null(v));
    json_decref(v);
    v = db_rows_json_int(rows, 1);
    ck_assert(json_is_null(v));
    json_decref(v);
    db_rows_free(rows);

    /* a parameter travels as utf8mb4: three characters, and a four-byte one survives */
    ck_assert_int_eq(t_db_i64(&db, "SELECT CHAR_LENGTH(?)", (db_param_t[]){DB_STR("西红柿")}, 1), 3);
    ck_assert_int_eq(db_query_row(&db, "SELECT CONCAT(?, '🍅')", (db_param_t[]){DB_STR("番茄")}, 1, &rows), DB_OK);
    ck_assert_str_eq(db_rows_str(rows, 0, NULL), "番茄🍅");
    db_rows_free(rows);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_session_is_utc_strict_and_utf8mb4)
{
    config_t cfg;
    db_t db;
    db_rows_t *rows = NULL;
    t_db_scratch_open(&db, &cfg, run_prefix, "sess");
    ck_assert_int_eq(db_query_row(&db,
                                  "SELECT @@session.time_zone, @@session.sql_mode,"
                                  " @@session.character_set_connection",
                                  NULL, 0, &rows),
                     DB_OK);
    ck_assert_str_eq(db_rows_str(rows, 0, NULL), "+00:00");
    ck_assert_ptr_nonnull(strstr(db_rows_str(rows, 1, NULL), "STRICT_ALL_TABLES"));
    ck_assert_ptr_nonnull(strstr(db_rows_str(rows, 1, NULL), "NO_ZERO_DATE"));
    ck_assert_str_eq(db_rows_str(rows, 2, NULL), "utf8mb4");
    db_rows_free(rows);
    /* a row lock is waited for half the read timeout, so the wait ends before the read does */
    ck_assert_int_eq(t_db_i64(&db, "SELECT @@session.innodb_lock_wait_timeout", NULL, 0), cfg.db_rw_timeout_s / 2);

    /* strict: too long a value is an error, not a silent truncation */
    t_db_script(&db, "CREATE TABLE short (s VARCHAR(3) NOT NULL)");
    ck_assert_int_eq(db_exec(&db, "INSERT INTO short VALUES (?)", (db_param_t[]){DB_STR("abcdef")}, 1, NULL, NULL),
                     DB_ERR);
    ck_assert_uint_eq(db.last_errno, 1406); /* ER_DATA_TOO_LONG */
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM short", NULL, 0), 0);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_long_values_and_non_string_types_come_back_as_text)
{
    config_t cfg;
    db_t db;
    db_rows_t *rows = NULL;
    char big[20000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    t_db_scratch_open(&db, &cfg, run_prefix, "types");
    t_db_script(&db, "CREATE TABLE v (id INT PRIMARY KEY, body MEDIUMTEXT, price DECIMAL(10,2),"
                     " at DATETIME(3))");
    db_param_t p[] = {DB_I64(1), DB_STR(big), DB_STR("12.50"), DB_STR("2024-02-29 23:59:58.123")};
    ck_assert_int_eq(db_exec(&db, "INSERT INTO v VALUES (?, ?, ?, ?)", p, 4, NULL, NULL), DB_OK);
    ck_assert_int_eq(db_query_row(&db, "SELECT body, price, at, id * 1000000000000 FROM v", NULL, 0, &rows), DB_OK);
    size_t len = 0;
    ck_assert_str_eq(db_rows_str(rows, 0, &len), big);
    ck_assert_uint_eq(len, sizeof big - 1);
    ck_assert_str_eq(db_rows_str(rows, 1, NULL), "12.50");
    ck_assert_str_eq(db_rows_str(rows, 2, NULL), "2024-02-29 23:59:58.123");
    ck_assert(db_rows_i64(rows, 3) == 1000000000000LL);
    db_rows_free(rows);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_duplicate_key_is_db_dup)
{
    config_t cfg;
    db_t db;
    t_db_scratch_open(&db, &cfg, run_prefix, "dup");
    t_db_script(&db, table_sql);
    db_param_t p[] = {DB_STR("白菜")};
    ck_assert_int_eq(db_exec(&db, "INSERT INTO t (s) VALUES (?)", p, 1, NULL, NULL), DB_OK);
    ck_assert_int_eq(db_exec(&db, "INSERT INTO t (s) VALUES (?)", p, 1, NULL, NULL), DB_DUP);
    ck_assert_uint_eq(db.last_errno, 1062);
    ck_assert_ptr_nonnull(strstr(db.err, "Duplicate"));
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM t", NULL, 0), 1);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_commit_is_seen_by_others_and_rollback_is_not)
{
    config_t cfg;
    db_t db, other;
    t_db_scratch_open(&db, &cfg, run_prefix, "tx");
    ck_assert_int_eq(db_open(&other, &cfg), DB_OK);
    t_db_script(&db, table_sql);
    const char *count = "SELECT COUNT(*) FROM t WHERE s = ?";

    ck_assert_int_eq(db_begin(&db), DB_OK);
    ck_assert_int_eq(db.in_tx, 1);
    ck_assert_int_eq(db_begin(&db), DB_ERR); /* no nesting */
    ck_assert_int_eq(db_exec(&db, "INSERT INTO t (s) VALUES (?)", (db_param_t[]){DB_STR("kept")}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(t_db_i64(&other, count, (db_param_t[]){DB_STR("kept")}, 1), 0);
    ck_assert_int_eq(db_commit(&db), DB_OK);
    ck_assert_int_eq(db.in_tx, 0);
    ck_assert_int_eq(t_db_i64(&other, count, (db_param_t[]){DB_STR("kept")}, 1), 1);

    ck_assert_int_eq(db_begin(&db), DB_OK);
    ck_assert_int_eq(db_exec(&db, "INSERT INTO t (s) VALUES (?)", (db_param_t[]){DB_STR("undone")}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(t_db_i64(&db, count, (db_param_t[]){DB_STR("undone")}, 1), 1);
    db_rollback(&db);
    ck_assert_int_eq(db.in_tx, 0);
    db_rollback(&db); /* harmless twice */
    ck_assert_int_eq(t_db_i64(&db, count, (db_param_t[]){DB_STR("undone")}, 1), 0);
    ck_assert_int_eq(t_db_i64(&other, count, (db_param_t[]){DB_STR("undone")}, 1), 0);
    ck_assert_int_eq(db_commit(&db), DB_ERR); /* nothing open */
    db_close(&other);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_killed_connection_is_rebuilt_outside_a_transaction)
{
    config_t cfg;
    db_t db, killer;
    t_db_scratch_open(&db, &cfg, run_prefix, "kill");
    ck_assert_int_eq(db_open(&killer, &cfg), DB_OK);
    t_db_script(&db, table_sql);
    int64_t before_id = t_db_i64(&db, "SELECT CONNECTION_ID()", NULL, 0);
    uint64_t before = db.reconnects;

    kill_session(&killer, &db);
    int64_t after_id = t_db_i64(&db, "SELECT CONNECTION_ID()", NULL, 0);
    ck_assert_uint_eq(db.reconnects, before + 1);
    ck_assert_int_ne(after_id, before_id);

    /* the new session has the same settings and the statements are prepared again */
    kill_session(&killer, &db);
    ck_assert_int_eq(db_exec(&db, "INSERT INTO t (s) VALUES (?)", (db_param_t[]){DB_STR("after")}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_uint_eq(db.reconnects, before + 2);
    ck_assert_int_eq(t_db_i64(&killer, "SELECT COUNT(*) FROM t", NULL, 0), 1);
    db_rows_t *rows = NULL;
    ck_assert_int_eq(db_query_row(&db, "SELECT @@session.time_zone", NULL, 0, &rows), DB_OK);
    ck_assert_str_eq(db_rows_str(rows, 0, NULL), "+00:00");
    db_rows_free(rows);
    db_close(&killer);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_killed_connection_inside_a_transaction_is_db_gone_and_writes_nothing)
{
    config_t cfg;
    db_t db, killer;
    t_db_scratch_open(&db, &cfg, run_prefix, "killtx");
    ck_assert_int_eq(db_open(&killer, &cfg), DB_OK);
    t_db_script(&db, table_sql);
    const char *ins = "INSERT INTO t (s) VALUES (?)";

    ck_assert_int_eq(db_begin(&db), DB_OK);
    ck_assert_int_eq(db_exec(&db, ins, (db_param_t[]){DB_STR("first")}, 1, NULL, NULL), DB_OK);
    uint64_t before = db.reconnects;
    kill_session(&killer, &db);
    ck_assert_int_eq(db_exec(&db, ins, (db_param_t[]){DB_STR("second")}, 1, NULL, NULL), DB_GONE);
    ck_assert_int_eq(db.in_tx, 0);
    ck_assert_ptr_null(db.mysql);
    ck_assert_uint_ne(db.last_errno, 0);
    ck_assert_str_ne(db.err, "");
    ck_assert_uint_eq(db.reconnects, before); /* not retried */
    ck_assert_int_eq(db_commit(&db), DB_ERR); /* the transaction is gone */
    db_rollback(&db);

    ck_assert_int_eq(t_db_i64(&killer, "SELECT COUNT(*) FROM t", NULL, 0), 0);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM t", NULL, 0), 0); /* connects again */
    ck_assert_uint_eq(db.reconnects, before + 1);

    /* a commit that finds the connection gone is DB_GONE too */
    ck_assert_int_eq(db_begin(&db), DB_OK);
    ck_assert_int_eq(db_exec(&db, ins, (db_param_t[]){DB_STR("third")}, 1, NULL, NULL), DB_OK);
    kill_session(&killer, &db);
    ck_assert_int_eq(db_commit(&db), DB_GONE);
    ck_assert_int_eq(db.in_tx, 0);
    ck_assert_int_eq(t_db_i64(&killer, "SELECT COUNT(*) FROM t", NULL, 0), 0);
    db_close(&killer);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_ping_rebuilds_a_killed_connection)
{
    config_t cfg;
    db_t db, killer;
    t_db_scratch_open(&db, &cfg, run_prefix, "ping");
    ck_assert_int_eq(db_open(&killer, &cfg), DB_OK);
    ck_assert_int_eq(db_ping(&db), DB_OK);
    uint64_t before = db.reconnects;
    kill_session(&killer, &db);
    ck_assert_int_eq(db_ping(&db), DB_OK);
    ck_assert_uint_eq(db.reconnects, before + 1);
    ck_assert_ptr_nonnull(db.mysql);
    ck_assert_int_eq(t_db_i64(&db, "SELECT 41 + 1", NULL, 0), 42);
    db_close(&killer);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_lock_wait_timeout_ends_the_transaction)
{
    config_t cfg;
    db_t db, holder;
    t_db_scratch_open(&db, &cfg, run_prefix, "lockwait");
    ck_assert_int_eq(db_open(&holder, &cfg), DB_OK);
    t_db_script(&db, "CREATE TABLE acct (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB;"
                     " INSERT INTO acct VALUES (1, 0)");
    ck_assert_int_eq(db_exec(&db, "SET SESSION innodb_lock_wait_timeout = 1", NULL, 0, NULL, NULL), DB_OK);

    ck_assert_int_eq(db_begin(&holder), DB_OK);
    ck_assert_int_eq(db_exec(&holder, "UPDATE acct SET v = 1 WHERE id = 1", NULL, 0, NULL, NULL), DB_OK);
    ck_assert_int_eq(db_begin(&db), DB_OK);
    ck_assert_int_eq(db_exec(&db, "INSERT INTO acct VALUES (2, 2)", NULL, 0, NULL, NULL), DB_OK);
    ck_assert_int_eq(db_exec(&db, "UPDATE acct SET v = 2 WHERE id = 1", NULL, 0, NULL, NULL), DB_DEADLOCK);
    ck_assert_uint_eq(db.last_errno, 1205);
    ck_assert_int_eq(db.in_tx, 0);
    db_rollback(&holder);
    /* the whole transaction was rolled back, not only the statement that waited */
    ck_assert_int_eq(t_db_i64(&holder, "SELECT COUNT(*) FROM acct", NULL, 0), 1);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM acct", NULL, 0), 1);
    db_close(&holder);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

/* A row lock that times out in the middle of a SELECT ... FOR UPDATE's rows (the server has
 * sent the metadata and the first row, then an error instead of the next): the statement is
 * refused as a lock wait, and the same cached statement then runs again on the same
 * connection at once. (Found under load: a pickup's FOR UPDATE read waited for an answer the
 * server never owed it, until the read timeout.) */
START_TEST(test_lock_wait_inside_the_rows_leaves_the_statement_reusable)
{
    config_t cfg;
    db_t db, holder;
    db_rows_t *rows = NULL;
    const char *sel = "SELECT id FROM acct WHERE id >= ? ORDER BY id FOR UPDATE";
    t_db_scratch_open(&db, &cfg, run_prefix, "lockrows");
    ck_assert_int_eq(db_open(&holder, &cfg), DB_OK);
    t_db_script(&db, "CREATE TABLE acct (id INT PRIMARY KEY, v INT NOT NULL) ENGINE=InnoDB;"
                     " INSERT INTO acct VALUES (1, 0), (2, 0), (3, 0)");
    ck_assert_int_eq(db_exec(&db, "SET SESSION innodb_lock_wait_timeout = 1", NULL, 0, NULL, NULL), DB_OK);
    int64_t conn = t_db_i64(&db, "SELECT CONNECTION_ID()", NULL, 0);
    for (int round = 0; round < 3; round++) {
        ck_assert_int_eq(db_begin(&holder), DB_OK);
        ck_assert_int_eq(db_exec(&holder, "UPDATE acct SET v = v + 1 WHERE id = 2", NULL, 0, NULL, NULL), DB_OK);
        ck_assert_int_eq(db_begin(&db), DB_OK);
        ck_assert_int_eq(db_query(&db, sel, (db_param_t[]){DB_I64(1)}, 1, &rows), DB_DEADLOCK);
        ck_assert_uint_eq(db.last_errno, 1205);
        ck_assert_int_eq(db.in_tx, 0);
        db_rows_free(rows);
        rows = NULL;
        db_rollback(&holder);
        /* the same statement, the same connection: answered, not lost to the read timeout
         * (which failed it with 2006 and rebuilt the connection) */
        ck_assert_int_eq(db_begin(&db), DB_OK);
        int qrc = db_query(&db, sel, (db_param_t[]){DB_I64(1)}, 1, &rows);
        ck_assert_msg(qrc == DB_OK, "rc %d errno %u %s", qrc, db.last_errno, db.err);
        ck_assert_uint_eq(rows->nrows, 3);
        db_rows_free(rows);
        rows = NULL;
        ck_assert_int_eq(db_commit(&db), DB_OK);
        ck_assert_int_eq(t_db_i64(&db, "SELECT CONNECTION_ID()", NULL, 0), conn); /* never rebuilt */
    }
    db_close(&holder);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

/* The padded IN list: few texts, the last id repeated, nothing written when it cannot be. */
START_TEST(test_an_in_list_is_padded_to_a_few_lengths)
{
    char sql[512];
    db_param_t p[100];
    int64_t ids[100];
    for (int i = 0; i < 100; i++)
        ids[i] = 10 + i;
    ck_assert_uint_eq(db_in_list(sql, sizeof(sql), "SELECT 1 FROM t WHERE id IN ", " ORDER BY id", p, ids, 3, 100), 4);
    ck_assert_str_eq(sql, "SELECT 1 FROM t WHERE id IN (?,?,?,?) ORDER BY id");
    ck_assert_int_eq(p[2].i, 12);
    ck_assert_int_eq(p[3].i, 12); /* the last repeated */
    ck_assert_uint_eq(db_in_list(sql, sizeof(sql), "IN ", "", p, ids, 1, 100), 1);
    ck_assert_str_eq(sql, "IN (?)");
    ck_assert_uint_eq(db_in_list(sql, sizeof(sql), "IN ", "", p, ids, 64, 100), 64);
    ck_assert_uint_eq(db_in_list(sql, sizeof(sql), "IN ", "", p, ids, 65, 100), 100);
    ck_assert_int_eq(p[99].i, 10 + 64);
    ck_assert_uint_eq(db_in_list(sql, sizeof(sql), "IN ", "", p, ids, 0, 100), 0);
    ck_assert_uint_eq(db_in_list(sql, sizeof(sql), "IN ", "", p, ids, 101, 100), 0);
    ck_assert_uint_eq(db_in_list(sql, 40, "IN ", "", p, ids, 30, 100), 0); /* does not fit */
}
END_TEST

/* Server-wide count of prepared statements (all sessions). */
static int64_t prepared_count(db_t *db)
{
    return t_db_i64(db,
                    "SELECT VARIABLE_VALUE FROM information_schema.GLOBAL_STATUS"
                    " WHERE VARIABLE_NAME = 'PREPARED_STMT_COUNT'",
                    NULL, 0);
}

START_TEST(test_statement_cache_survives_many_distinct_statements)
{
    config_t cfg;
    db_t db, observer;
    char sql[64];
    t_db_scratch_open(&db, &cfg, run_prefix, "cache");
    ck_assert_int_eq(db_open(&observer, &cfg), DB_OK);
    int64_t before = prepared_count(&observer);
    for (int round = 0; round < 2; round++) {
        for (int i = 0; i < 700; i++) {
            snprintf(sql, sizeof sql, "SELECT ? + %d", i);
            ck_assert_int_eq(t_db_i64(&db, sql, (db_param_t[]){DB_I64(round)}, 1), i + round);
        }
    }
    /* bounded: 700 distinct statements do not stay prepared (slack for other sessions) */
    ck_assert_int_le(prepared_count(&observer) - before, 256 + 100);
    /* a recently used statement is still cached: its text reused works the same */
    ck_assert_int_eq(t_db_i64(&db, "SELECT ? + 699", (db_param_t[]){DB_I64(1)}, 1), 700);
    db_close(&observer);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_bad_sql_is_db_err_with_a_message)
{
    config_t cfg;
    db_t db;
    db_rows_t *rows = (db_rows_t *)&cfg; /* must be reset to NULL on failure */
    t_db_scratch_open(&db, &cfg, run_prefix, "bad");
    ck_assert_int_eq(db_query(&db, "SELEC 1", NULL, 0, &rows), DB_ERR);
    ck_assert_ptr_null(rows);
    ck_assert_uint_eq(db.last_errno, 1064);
    ck_assert_ptr_nonnull(strstr(db.err, "SQL syntax"));
    ck_assert_int_eq(db_exec(&db, "SELECT * FROM no_such_table", NULL, 0, NULL, NULL), DB_ERR);
    ck_assert_uint_eq(db.last_errno, 1146);
    /* parameter count mismatch is refused before the server sees it */
    ck_assert_int_eq(db_query(&db, "SELECT ?, ?", (db_param_t[]){DB_I64(1)}, 1, &rows), DB_ERR);
    ck_assert_ptr_nonnull(strstr(db.err, "parameters"));
    ck_assert_int_eq(db_query_row(&db, "SELECT 1 FROM DUAL WHERE 1 = 0", NULL, 0, &rows), DB_NOROW);
    ck_assert_ptr_null(rows);
    /* and the connection is as good as before */
    ck_assert_int_eq(t_db_i64(&db, "SELECT 7", NULL, 0), 7);
    ck_assert_uint_eq(db.reconnects, 0);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_script_runs_every_statement_and_reports_the_first_error)
{
    config_t cfg;
    db_t db;
    t_db_scratch_open(&db, &cfg, run_prefix, "script");
    const char *ok = "-- comment\nCREATE TABLE a (id INT PRIMARY KEY);\n"
                     "INSERT INTO a VALUES (1); /* two */ INSERT INTO a VALUES (2);\n-- trailing\n";
    ck_assert_int_eq(db_exec_script(&db, ok, strlen(ok)), DB_OK);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM a", NULL, 0), 2);
    ck_assert_int_eq(db_exec_script(&db, "-- nothing\n", 11), DB_OK);

    const char *bad = "INSERT INTO a VALUES (3); INSERT INTO a VALUES (1); INSERT INTO a VALUES (4)";
    ck_assert_int_eq(db_exec_script(&db, bad, strlen(bad)), DB_DUP);
    ck_assert_uint_eq(db.last_errno, 1062);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM a", NULL, 0), 3); /* stopped at the error */
    const char *syntax = "SELECT 1; SELEKT 2";
    ck_assert_int_eq(db_exec_script(&db, syntax, strlen(syntax)), DB_ERR);
    ck_assert_uint_eq(db.last_errno, 1064);

    /* multi-statement mode was switched off again */
    ck_assert_int_ne(mysql_real_query(db.mysql, "SELECT 1; SELECT 2", 18), 0);
    ck_assert_uint_eq(mysql_errno(db.mysql), 1064);
    ck_assert_int_eq(t_db_i64(&db, "SELECT 5", NULL, 0), 5);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_wrong_password_fails_to_open_without_crashing)
{
    config_t cfg;
    db_t db;
    char err[256];
    db_rows_t *rows = NULL;
    t_load_cfg(&cfg);
    ck_assert_int_eq(config_set(&cfg, "db.password", "definitely-not-the-password", err, sizeof err), 0);
    ck_assert_int_eq(db_open(&db, &cfg), DB_ERR);
    ck_assert_ptr_null(db.mysql);
    ck_assert_uint_eq(db.last_errno, 1045);
    ck_assert_ptr_nonnull(strstr(db.err, "Access denied"));
    /* every call on the unconnected handle fails cleanly */
    ck_assert_int_ne(db_query(&db, "SELECT 1", NULL, 0, &rows), DB_OK);
    ck_assert_ptr_null(rows);
    ck_assert_int_ne(db_ping(&db), DB_OK);
    ck_assert_int_ne(db_begin(&db), DB_OK);
    ck_assert_int_eq(db.in_tx, 0);
    ck_assert_int_ne(db_exec_script(&db, "SELECT 1", 8), DB_OK);
    ck_assert_uint_eq(db.reconnects, 0);
    db_close(&db);
    config_free(&cfg);
    db_thread_end();
}
END_TEST

START_TEST(test_closed_port_fails_within_the_connect_timeout)
{
    config_t cfg;
    db_t db;
    char err[256];
    t_load_cfg(&cfg);
    /* port 1 on loopback: nothing listens, the connect is refused at once */
    ck_assert_int_eq(config_set(&cfg, "db.port", "1", err, sizeof err), 0);
    time_t start = time(NULL);
    ck_assert_int_eq(db_open(&db, &cfg), DB_ERR);
    ck_assert(db.last_errno == 2002 || db.last_errno == 2003);
    ck_assert_int_le(time(NULL) - start, cfg.db_connect_timeout_s + 1);
    db_close(&db);
    config_free(&cfg);
    db_thread_end();
}
END_TEST

/* ---------------------------------------------------------------- runner */

static Suite *db_suite(void)
{
    Suite *s = suite_create("db");
    TCase *tc = tcase_create("mariadb");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_round_trip_keeps_ints_strings_nulls_and_chinese);
    tcase_add_test(tc, test_session_is_utc_strict_and_utf8mb4);
    tcase_add_test(tc, test_long_values_and_non_string_types_come_back_as_text);
    tcase_add_test(tc, test_duplicate_key_is_db_dup);
    tcase_add_test(tc, test_commit_is_seen_by_others_and_rollback_is_not);
    tcase_add_test(tc, test_killed_connection_is_rebuilt_outside_a_transaction);
    tcase_add_test(tc, test_killed_connection_inside_a_transaction_is_db_gone_and_writes_nothing);
    tcase_add_test(tc, test_ping_rebuilds_a_killed_connection);
    tcase_add_test(tc, test_lock_wait_timeout_ends_the_transaction);
    tcase_add_test(tc, test_lock_wait_inside_the_rows_leaves_the_statement_reusable);
    tcase_add_test(tc, test_an_in_list_is_padded_to_a_few_lengths);
    tcase_add_test(tc, test_statement_cache_survives_many_distinct_statements);
    tcase_add_test(tc, test_bad_sql_is_db_err_with_a_message);
    tcase_add_test(tc, test_script_runs_every_statement_and_reports_the_first_error);
    tcase_add_test(tc, test_wrong_password_fails_to_open_without_crashing);
    tcase_add_test(tc, test_closed_port_fails_within_the_connect_timeout);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_db"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof run_prefix, "sf_itdb_%ld", (long)getpid());
    db_library_init();
    int failed = t_run(db_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
