/*
 * Database test helpers (see dbtest.h). Called from Check tests, so failures are Check
 * assertions; each call uses only what it is given.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/support/dbtest.h"
#include "tests/support/testutil.h"

const char *const t_db_env[] = {"STALLFRONT_DB_HOST",     "STALLFRONT_DB_PORT", "STALLFRONT_DB_USER",
                                "STALLFRONT_DB_PASSWORD", "STALLFRONT_DB_NAME", NULL};

int t_env_present(const char *const *names, const char *who)
{
    int ok = 1;
    for (size_t i = 0; names[i] != NULL; i++)
        if (getenv(names[i]) == NULL) {
            fprintf(stderr, "%s: %s is not set (run through scripts/dev test)\n", who, names[i]);
            ok = 0;
        }
    return ok;
}

void t_load_cfg(config_t *cfg)
{
    char err[256];
    ck_assert_msg(config_load(cfg, NULL, err, sizeof err) == 0, "config_load: %s", err);
}

void t_db_script(db_t *db, const char *sql)
{
    ck_assert_msg(db_exec_script(db, sql, strlen(sql)) == DB_OK, "script `%s`: %s", sql, db->err);
}

int64_t t_db_i64(db_t *db, const char *sql, const db_param_t *p, size_t n)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, sql, p, n, &rows);
    ck_assert_msg(rc == DB_OK, "`%s` gave %d: %s", sql, rc, db->err);
    int64_t v = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return v;
}

void t_db_scratch_open(db_t *db, config_t *cfg, const char *prefix, const char *tag)
{
    char name[96], sql[256], err[256];
    db_t boot;
    t_load_cfg(cfg);
    ck_assert_msg(db_open(&boot, cfg) == DB_OK, "connecting to %s: %s", cfg->db_name, boot.err);
    snprintf(name, sizeof name, "%s_%s", prefix, tag);
    snprintf(sql, sizeof sql, "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET utf8mb4", name, name);
    t_db_script(&boot, sql);
    db_close(&boot);
    ck_assert_msg(config_set(cfg, "db.name", name, err, sizeof err) == 0, "%s", err);
    ck_assert_msg(db_open(db, cfg) == DB_OK, "connecting to %s: %s", name, db->err);
}

void t_db_scratch_close(db_t *db, config_t *cfg)
{
    char sql[160];
    snprintf(sql, sizeof sql, "DROP DATABASE %s", cfg->db_name);
    t_db_script(db, sql);
    db_close(db);
    config_free(cfg);
    db_thread_end();
}

void t_db_sweep(const char *prefix)
{
    config_t cfg;
    db_t db;
    db_rows_t *rows = NULL;
    char err[256], like[96], sql[160];
    if (config_load(&cfg, NULL, err, sizeof err) != 0)
        return;
    if (db_open(&db, &cfg) == DB_OK) {
        snprintf(like, sizeof like, "%s\\_%%", prefix);
        if (db_query(&db, "SELECT SCHEMA_NAME FROM information_schema.SCHEMATA WHERE SCHEMA_NAME LIKE ?",
                     (db_param_t[]){DB_STR(like)}, 1, &rows) == DB_OK) {
            while (db_rows_next(rows)) {
                snprintf(sql, sizeof sql, "DROP DATABASE %s", db_rows_str(rows, 0, NULL));
                db_exec_script(&db, sql, strlen(sql));
            }
            db_rows_free(rows);
        }
    }
    db_close(&db);
    config_free(&cfg);
}

int64_t t_db_insert(db_t *db, const char *sql, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(db, sql, p, n, NULL, &id) == DB_OK, "`%s`: %s", sql, db->err);
    return (int64_t)id;
}

/* Runs sql on a connection to the configured server (not inside a test: no assertion). */
static int admin_sql(const char *sql)
{
    config_t cfg;
    db_t db;
    char err[256];
    if (config_load(&cfg, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "isolate: config: %s\n", err);
        return -1;
    }
    int rc = db_open(&db, &cfg) == DB_OK && db_exec_script(&db, sql, strlen(sql)) == DB_OK ? 0 : -1;
    if (rc != 0)
        fprintf(stderr, "isolate: `%s`: %s\n", sql, db.err);
    db_close(&db);
    config_free(&cfg);
    return rc;
}

int t_isolate(t_iso_t *iso, const char *name)
{
    char sql[256], port[16];
    const char *password = getenv("STALLFRONT_REDIS_PASSWORD");
    memset(iso, 0, sizeof(*iso));
    snprintf(iso->db, sizeof(iso->db), "sf_iso_%s_%ld", name, (long)getpid());
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET utf8mb4", iso->db,
             iso->db);
    if (admin_sql(sql) != 0)
        return -1;
    int p = t_free_port();
    iso->redis = (int)t_redis_start(p, password != NULL && password[0] != '\0' ? password : NULL);
    if (iso->redis <= 0) {
        fprintf(stderr, "isolate: no redis-server on port %d\n", p);
        t_isolate_end(iso);
        return -1;
    }
    snprintf(port, sizeof(port), "%d", p);
    setenv("STALLFRONT_DB_NAME", iso->db, 1);
    setenv("STALLFRONT_REDIS_HOST", "127.0.0.1", 1);
    setenv("STALLFRONT_REDIS_PORT", port, 1);
    return 0;
}

void t_isolate_end(t_iso_t *iso)
{
    char sql[160];
    if (iso->db[0] != '\0') {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s", iso->db);
        admin_sql(sql);
    }
    if (iso->redis > 0)
        t_redis_stop((pid_t)iso->redis);
    iso->db[0] = '\0';
    iso->redis = 0;
}
