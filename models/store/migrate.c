/*
 * Schema migrations (migrate.h): checks what the database recorded in `schema_migrations`
 * against the compiled list, refuses a database that is newer or was migrated with different
 * files, and applies the missing migrations in version order, each recorded with the SHA-256
 * of its text.
 *
 * Thread: the caller's, with the caller's db_t. The named lock `stallfront.migrate.<database>` is held
 * for the whole run so two migrators (two hosts starting at once) take turns; it belongs to
 * the session, so a run whose connection was rebuilt midway stops rather than continue
 * unlocked.
 *
 * Deliberately not done: atomicity of a migration with its record. MariaDB commits DDL
 * implicitly, so a crash between a migration and its INSERT leaves it applied but not
 * recorded; the next run then fails on it and a human looks. Keep each file small.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <openssl/evp.h>
#include "models/store/migrate.h"

/* MySQL's "Table doesn't exist". */
#define ER_NO_SUCH_TABLE_NO 1146
/* Seconds a migrator waits for another one to finish. */
#define LOCK_WAIT_S "60"
/* Hex SHA-256 plus its NUL. */
#define SUM_LEN 65

static const char create_sql[] = "CREATE TABLE IF NOT EXISTS schema_migrations ("
                                 " version INT PRIMARY KEY,"
                                 " name VARCHAR(255) NOT NULL,"
                                 " checksum CHAR(64) NOT NULL,"
                                 " applied_at DATETIME(3) NOT NULL"
                                 ") ENGINE=InnoDB DEFAULT CHARSET=utf8mb4";

typedef struct recorded {
    int version;
    char sum[SUM_LEN];
} recorded_t;

__attribute__((format(printf, 3, 4))) static int refuse(char *errbuf, size_t errlen, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    if (errbuf != NULL && errlen > 0)
        vsnprintf(errbuf, errlen, fmt, ap);
    va_end(ap);
    return -1;
}

static int checksum(const migration_t *m, char out[SUM_LEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    if (EVP_Digest(m->sql, m->len, md, &n, EVP_sha256(), NULL) != 1 || n * 2 + 1 > SUM_LEN)
        return -1;
    for (unsigned int i = 0; i < n; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * n] = '\0';
    return 0;
}

/* The list must be in strictly increasing version order, as the generator writes it. */
static int check_list(const migration_t *list, size_t n, char *errbuf, size_t errlen)
{
    for (size_t i = 0; i < n; i++) {
        if (list[i].version <= 0 || list[i].sql == NULL || list[i].name == NULL)
            return refuse(errbuf, errlen, "migration %zu of the list is malformed", i);
        if (i > 0 && list[i].version <= list[i - 1].version)
            return refuse(errbuf, errlen, "migrations %s and %s are out of order", list[i - 1].name, list[i].name);
    }
    return 0;
}

/* The migration lock is per database, as the relay's is: migrators of one database queue,
 * those of two databases on one server (the test suites' scratch databases) never wait for
 * each other. Named locks are at most 64 characters. */
#define LOCK_NAME "LEFT(CONCAT('stallfront.migrate.', DATABASE()), 64)"

static int lock(db_t *db, char *errbuf, size_t errlen)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT GET_LOCK(" LOCK_NAME ", " LOCK_WAIT_S ")", NULL, 0, &rows);
    if (rc != DB_OK)
        return refuse(errbuf, errlen, "taking the migration lock: %s", db->err);
    int got = db_rows_i64(rows, 0) == 1;
    db_rows_free(rows);
    if (!got)
        return refuse(errbuf, errlen, "another migrator held the lock for " LOCK_WAIT_S " s");
    return 0;
}

static void unlock(db_t *db)
{
    db_rows_t *rows = NULL;
    if (db_query(db, "SELECT RELEASE_LOCK(" LOCK_NAME ")", NULL, 0, &rows) == DB_OK)
        db_rows_free(rows);
}

/* Reads schema_migrations into a new array (*out, freed by the caller). */
static int read_recorded(db_t *db, recorded_t **out, size_t *n, char *errbuf, size_t errlen)
{
    db_rows_t *rows = NULL;
    *out = NULL;
    *n = 0;
    if (db_query(db, "SELECT version, checksum FROM schema_migrations ORDER BY version", NULL, 0, &rows) != DB_OK)
        return refuse(errbuf, errlen, "reading schema_migrations: %s", db->err);
    recorded_t *rec = calloc(rows->nrows ? rows->nrows : 1, sizeof *rec);
    if (rec == NULL) {
        db_rows_free(rows);
        return refuse(errbuf, errlen, "out of memory");
    }
    for (size_t i = 0; db_rows_next(rows); i++) {
        const char *sum = db_rows_str(rows, 1, NULL);
        rec[i].version = (int)db_rows_i64(rows, 0);
        snprintf(rec[i].sum, sizeof rec[i].sum, "%s", sum != NULL ? sum : "");
    }
    *n = rows->nrows;
    *out = rec;
    db_rows_free(rows);
    return 0;
}

static const migration_t *find(const migration_t *list, size_t n, int version)
{
    for (size_t i = 0; i < n; i++)
        if (list[i].version == version)
            return &list[i];
    return NULL;
}

/* Refuses a database this binary must not touch: newer than the list, a recorded migration
 * the list lacks, or one whose file changed since it was applied. */
static int verify(const recorded_t *rec, size_t nrec, const migration_t *list, size_t n, char *errbuf, size_t errlen)
{
    int known = n > 0 ? list[n - 1].version : 0;
    if (nrec > 0 && rec[nrec - 1].version > known)
        return refuse(errbuf, errlen,
                      "database is at schema %d but this binary knows only up to %d: upgrade the binary",
                      rec[nrec - 1].version, known);
    for (size_t i = 0; i < nrec; i++) {
        const migration_t *m = find(list, n, rec[i].version);
        char sum[SUM_LEN];
        if (m == NULL)
            return refuse(errbuf, errlen, "database records migration %d, which this binary does not have",
                          rec[i].version);
        if (checksum(m, sum) != 0)
            return refuse(errbuf, errlen, "cannot compute the checksum of %s", m->name);
        if (strcmp(sum, rec[i].sum) != 0)
            return refuse(errbuf, errlen,
                          "%s was changed after it was applied (checksum %.12s... recorded, %.12s... compiled)",
                          m->name, rec[i].sum, sum);
    }
    return 0;
}

static int is_recorded(const recorded_t *rec, size_t nrec, int version)
{
    for (size_t i = 0; i < nrec; i++)
        if (rec[i].version == version)
            return 1;
    return 0;
}

/* Runs one migration and records it. */
static int apply(db_t *db, const migration_t *m, char *errbuf, size_t errlen)
{
    char sum[SUM_LEN];
    if (checksum(m, sum) != 0)
        return refuse(errbuf, errlen, "cannot compute the checksum of %s", m->name);
    if (db_exec_script(db, m->sql, m->len) != DB_OK)
        return refuse(errbuf, errlen, "%s failed: %s", m->name, db->err);
    db_param_t p[] = {DB_I64(m->version), DB_STR(m->name), DB_STR(sum)};
    if (db_exec(db,
                "INSERT INTO schema_migrations (version, name, checksum, applied_at)"
                " VALUES (?, ?, ?, UTC_TIMESTAMP(3))",
                p, 3, NULL, NULL) != DB_OK)
        return refuse(errbuf, errlen, "recording %s: %s", m->name, db->err);
    return 0;
}

/* Applies what is missing, in list order; *applied counts them as they succeed. */
static int apply_missing(db_t *db, const recorded_t *rec, size_t nrec, const migration_t *list, size_t n, FILE *out,
                         int *applied, char *errbuf, size_t errlen)
{
    uint64_t reconnects = db->reconnects;
    for (size_t i = 0; i < n; i++) {
        if (is_recorded(rec, nrec, list[i].version))
            continue;
        if (apply(db, &list[i], errbuf, errlen) != 0)
            return -1;
        (*applied)++;
        if (out != NULL)
            fprintf(out, "applied %s\n", list[i].name);
        if (db->reconnects != reconnects)
            return refuse(errbuf, errlen, "connection lost after %s: the migration lock went with it", list[i].name);
    }
    return 0;
}

int migrate_run(db_t *db, const migration_t *list, size_t n, FILE *out, int *applied, char *errbuf, size_t errlen)
{
    int count = 0, rc = -1, locked = 0;
    recorded_t *rec = NULL;
    size_t nrec = 0;

    if (check_list(list, n, errbuf, errlen) != 0)
        goto out;
    if (lock(db, errbuf, errlen) != 0)
        goto out;
    locked = 1;
    if (db_exec(db, create_sql, NULL, 0, NULL, NULL) != DB_OK) {
        refuse(errbuf, errlen, "creating schema_migrations: %s", db->err);
        goto out;
    }
    if (read_recorded(db, &rec, &nrec, errbuf, errlen) != 0 || verify(rec, nrec, list, n, errbuf, errlen) != 0 ||
        apply_missing(db, rec, nrec, list, n, out, &count, errbuf, errlen) != 0)
        goto out;
    if (count == 0 && out != NULL)
        fprintf(out, "database is up to date at schema %d\n", nrec > 0 ? rec[nrec - 1].version : 0);
    rc = 0;
out:
    if (locked)
        unlock(db);
    free(rec);
    if (applied != NULL)
        *applied = count;
    return rc;
}

int migrate_current(db_t *db, int *version, char *errbuf, size_t errlen)
{
    db_rows_t *rows = NULL;
    *version = 0;
    int rc = db_query_row(db, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations", NULL, 0, &rows);
    if (rc == DB_ERR && db->last_errno == ER_NO_SUCH_TABLE_NO)
        return 0;
    if (rc != DB_OK)
        return refuse(errbuf, errlen, "reading the schema version: %s", db->err);
    *version = (int)db_rows_i64(rows, 0);
    db_rows_free(rows);
    return 0;
}
