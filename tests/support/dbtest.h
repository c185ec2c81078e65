/*
 * Helpers for tests against the real MariaDB: the coordinates come from the STALLFRONT_DB_*
 * environment (scripts/dev test); each test works in a scratch database of its own, named
 * after the run's prefix, so runs and tests never see each other's rows.
 */
#ifndef SF_DBTEST_H
#define SF_DBTEST_H

#include <stddef.h>
#include <stdint.h>
#include "models/base/config.h"
#include "models/store/db.h"

/* Every STALLFRONT_DB_* variable the database tests need. */
extern const char *const t_db_env[];

/* 1 if every name is set; otherwise lists the missing ones on stderr (naming `who`) and 0. */
int t_env_present(const char *const *names, const char *who);

/* The configuration from the environment; fails the test if it does not load. */
void t_load_cfg(config_t *cfg);

/* Runs trusted SQL text; fails the test on an error. */
void t_db_script(db_t *db, const char *sql);

/* The first column of the first row as an integer; fails the test on an error. */
int64_t t_db_i64(db_t *db, const char *sql, const db_param_t *p, size_t n);

/* Runs an INSERT (or any write) with params; the new row's id (0 when none). Fails the test
 * on an error. */
int64_t t_db_insert(db_t *db, const char *sql, const db_param_t *p, size_t n);

/* Creates a fresh database <prefix>_<tag> (utf8mb4) and opens db on it; cfg is loaded here
 * and must outlive db. */
void t_db_scratch_open(db_t *db, config_t *cfg, const char *prefix, const char *tag);

/* Drops the scratch database, closes db, frees cfg, ends the thread's MySQL state. */
void t_db_scratch_close(db_t *db, config_t *cfg);

/* Drops every database named <prefix>_* (what failed tests left behind). */
void t_db_sweep(const char *prefix);

/* A test binary with a world of its own: a scratch database sf_iso_<name>_<pid> (t_migrate
 * migrates it as usual) and a private Redis, named in STALLFRONT_DB_NAME and
 * STALLFRONT_REDIS_PORT for every server and `work` its tests start. For the binaries that run
 * `work`: a worker relays every market's outbox rows of its database and consumes every
 * message of its Redis with its own settings, so two of them on the suite's shared stack did
 * each other's work (test_courier's 5 s offers expired by test_lifecycle's worker after 45 s).
 * Called from main before the suite runs, outside any test: 0, or -1 with the reason on
 * stderr. t_isolate_end drops the database and stops the Redis. */
typedef struct t_iso {
    char db[64];
    int redis; /* its pid */
} t_iso_t;
int t_isolate(t_iso_t *iso, const char *name);
void t_isolate_end(t_iso_t *iso);

#endif
