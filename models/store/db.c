/*
 * One MariaDB connection (db.h): connecting with the configured timeouts and session
 * settings, prepared statements cached per connection by their SQL text, fully buffered
 * results copied into db_rows_t, transactions, and rebuilding the connection when the server
 * has gone away.
 *
 * Thread: a db_t belongs to the one thread that opened it; nothing here is shared.
 * Ownership: the db_t owns its MYSQL handle and every cached MYSQL_STMT (freed by db_close or
 * when the connection is dropped); a db_rows_t belongs to the caller (db_rows_free).
 *
 * Deliberately not done: multiple result sets from a prepared statement (CALL of a procedure
 * that selects), and telling whether a statement that lost its connection mid-flight had
 * already run. A statement outside a transaction is retried once on a fresh connection, as
 * db.h promises, so an autocommitted write whose reply was lost could run twice; callers that
 * cannot tolerate that run the write inside db_begin()/db_commit().
 */
#include <errno.h>
#include <limits.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <openssl/rand.h>
#include <errmsg.h>
#include <mysqld_error.h>
#include "models/store/db.h"

/* MariaDB's "Connection was killed" (KILL CONNECTION of an idle session); MySQL lacks it. */
#ifndef ER_CONNECTION_KILLED
#define ER_CONNECTION_KILLED 1927
#endif

/* Prepared statements kept per connection. A model has a few dozen distinct statements;
 * past this the least recently used one is closed (the server caps them per session too). */
#define STMT_CACHE_MAX 256
/* The protocol cannot carry more `?` parameters than this. */
#define MAX_PARAMS 65535
/* A column's first buffer; longer values are fetched again with their exact length. */
#define COL_BUF_MIN 64

/* Strict mode: a bad value is an error, never a silent truncation or a zero date. Only
 * modes both MariaDB 10.11 and MySQL 8 know. A row lock is waited for at most half the read
 * timeout (%d): a statement that waits too long then fails as a lock wait, which ends the
 * transaction and is retried, instead of the client giving up on the read, dropping the
 * connection, and leaving the server's session waiting (and holding the transaction's
 * locks) for InnoDB's default 50 s. */
static const char session_fmt[] =
    "SET time_zone = '+00:00', sql_mode = 'STRICT_ALL_TABLES,NO_ZERO_DATE,NO_ZERO_IN_DATE,"
    "ERROR_FOR_DIVISION_BY_ZERO,NO_ENGINE_SUBSTITUTION', innodb_lock_wait_timeout = %d";

/* The flag type of MYSQL_BIND.is_null/error: my_bool in MariaDB, bool in MySQL 8. */
typedef __typeof__(*((MYSQL_BIND *)0)->is_null) flag_t;

typedef struct stmt_entry {
    struct stmt_entry *prev, *next; /* most recently used first */
    uint64_t hash;
    char *sql;
    MYSQL_STMT *stmt;
} stmt_entry_t;

struct db_stmt_cache {
    stmt_entry_t *head, *tail;
    size_t n;
};

/* ---------------------------------------------------------------- errors */

static void set_err(db_t *db, unsigned no, const char *msg)
{
    db->last_errno = no;
    snprintf(db->err, sizeof db->err, "%s", msg != NULL && msg[0] != '\0' ? msg : "unknown error");
}

static int is_gone(unsigned no)
{
    return no == CR_SERVER_GONE_ERROR || no == CR_SERVER_LOST || no == ER_CONNECTION_KILLED ||
           no == CR_CONNECTION_ERROR || no == CR_CONN_HOST_ERROR;
}

static void drop_stmts(db_stmt_cache_t *c);

/* Closes the handle first: statements of a closed handle are then freed without a round
 * trip to a server that is not there. */
static void disconnect(db_t *db)
{
    if (db->mysql != NULL) {
        mysql_close(db->mysql);
        db->mysql = NULL;
    }
    if (db->stmts != NULL)
        drop_stmts(db->stmts);
}

/* Maps a recorded MySQL failure to a db_status_t and applies its consequences: a lost
 * connection is dropped (and any transaction with it); a deadlock or lock wait timeout ends
 * the transaction. */
static int classify(db_t *db, unsigned no)
{
    if (is_gone(no)) {
        disconnect(db);
        db->in_tx = 0;
        return DB_GONE;
    }
    if (no == ER_DUP_ENTRY || no == ER_DUP_ENTRY_WITH_KEY_NAME)
        return DB_DUP;
    if (no == ER_LOCK_DEADLOCK || no == ER_LOCK_WAIT_TIMEOUT) {
        /* A deadlock victim's transaction is already rolled back; a lock wait timeout only
         * undid the statement, so finish the job. */
        if (db->in_tx && no == ER_LOCK_WAIT_TIMEOUT && db->mysql != NULL)
            mysql_real_query(db->mysql, "ROLLBACK", 8);
        db->in_tx = 0;
        return DB_DEADLOCK;
    }
    return DB_ERR;
}

static int fail(db_t *db, unsigned no, const char *msg)
{
    set_err(db, no, msg);
    return classify(db, no);
}

static int fail_mysql(db_t *db)
{
    return fail(db, mysql_errno(db->mysql), mysql_error(db->mysql));
}

static int fail_stmt(db_t *db, MYSQL_STMT *st)
{
    return fail(db, mysql_stmt_errno(st), mysql_stmt_error(st));
}

/* ---------------------------------------------------------------- statement cache */

static uint64_t fnv1a(const char *s)
{
    uint64_t h = 14695981039346656037ULL;
    for (; *s != '\0'; s++)
        h = (h ^ (unsigned char)*s) * 1099511628211ULL;
    return h;
}

static void unlink_entry(db_stmt_cache_t *c, stmt_entry_t *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
    c->n--;
}

static void push_front(db_stmt_cache_t *c, stmt_entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
    c->n++;
}

static void free_entry(stmt_entry_t *e)
{
    mysql_stmt_close(e->stmt);
    free(e->sql);
    free(e);
}

static void drop_stmts(db_stmt_cache_t *c)
{
    while (c->head != NULL) {
        stmt_entry_t *e = c->head;
        unlink_entry(c, e);
        free_entry(e);
    }
}

static stmt_entry_t *cache_find(db_stmt_cache_t *c, const char *sql, uint64_t hash)
{
    for (stmt_entry_t *e = c->head; e != NULL; e = e->next) {
        if (e->hash == hash && strcmp(e->sql, sql) == 0) {
            unlink_entry(c, e);
            push_front(c, e);
            return e;
        }
    }
    return NULL;
}

/* Closes and forgets one cached statement (a statement whose result ended in an error is
 * not run again: see collect()). */
static void forget_stmt(db_stmt_cache_t *c, MYSQL_STMT *st)
{
    for (stmt_entry_t *e = c->head; e != NULL; e = e->next) {
        if (e->stmt == st) {
            unlink_entry(c, e);
            free_entry(e);
            return;
        }
    }
}

/* Prepares sql on the live connection, or returns the cached statement. NULL with the
 * failure recorded (*rc) otherwise. */
static MYSQL_STMT *get_stmt(db_t *db, const char *sql, int *rc)
{
    uint64_t hash = fnv1a(sql);
    stmt_entry_t *e = cache_find(db->stmts, sql, hash);
    if (e != NULL)
        return e->stmt;

    MYSQL_STMT *st = mysql_stmt_init(db->mysql);
    if (st == NULL) {
        *rc = fail_mysql(db);
        return NULL;
    }
    if (mysql_stmt_prepare(st, sql, strlen(sql)) != 0) {
        *rc = fail_stmt(db, st);
        mysql_stmt_close(st);
        return NULL;
    }
    bool one = true; /* so max_length is known after mysql_stmt_store_result() */
    mysql_stmt_attr_set(st, STMT_ATTR_UPDATE_MAX_LENGTH, &one);

    e = calloc(1, sizeof *e);
    if (e == NULL || (e->sql = strdup(sql)) == NULL) {
        free(e);
        mysql_stmt_close(st);
        set_err(db, CR_OUT_OF_MEMORY, "out of memory caching a statement");
        *rc = DB_ERR;
        return NULL;
    }
    e->hash = hash;
    e->stmt = st;
    if (db->stmts->n >= STMT_CACHE_MAX) {
        stmt_entry_t *old = db->stmts->tail;
        unlink_entry(db->stmts, old);
        free_entry(old);
    }
    push_front(db->stmts, e);
    return st;
}

/* ---------------------------------------------------------------- connecting */

/* Builds a new handle; db->mysql is set only once the session is fully configured. */
static int connect_db(db_t *db)
{
    const config_t *cfg = db->cfg;
    unsigned int ct = (unsigned int)cfg->db_connect_timeout_s;
    unsigned int rw = (unsigned int)cfg->db_rw_timeout_s;

    char session_sql[sizeof(session_fmt) + 16];
    int session_len = snprintf(session_sql, sizeof(session_sql), session_fmt, rw > 1 ? (int)rw / 2 : 1);

    MYSQL *m = mysql_init(NULL);
    if (m == NULL) {
        set_err(db, CR_OUT_OF_MEMORY, "mysql_init failed: out of memory");
        return DB_ERR;
    }
    mysql_options(m, MYSQL_OPT_CONNECT_TIMEOUT, &ct);
    mysql_options(m, MYSQL_OPT_READ_TIMEOUT, &rw);
    mysql_options(m, MYSQL_OPT_WRITE_TIMEOUT, &rw);
    mysql_options(m, MYSQL_SET_CHARSET_NAME, "utf8mb4");
    if (mysql_real_connect(m, cfg->db_host, cfg->db_user, cfg->db_password, cfg->db_name, (unsigned int)cfg->db_port,
                           NULL, 0) == NULL ||
        mysql_real_query(m, session_sql, (unsigned long)session_len) != 0) {
        /* unreachable is DB_GONE; refused (a wrong password, no such database) DB_ERR */
        set_err(db, mysql_errno(m), mysql_error(m));
        mysql_close(m);
        return is_gone(db->last_errno) ? DB_GONE : DB_ERR;
    }
    db->mysql = m;
    return DB_OK;
}

/* Connects on demand: every call after a lost connection starts here. */
static int ensure(db_t *db)
{
    if (db->mysql != NULL)
        return DB_OK;
    int rc = connect_db(db);
    if (rc == DB_OK)
        db->reconnects++;
    return rc;
}

void db_library_init(void)
{
    mysql_library_init(0, NULL, NULL);
}

void db_library_end(void)
{
    mysql_library_end();
}

void db_thread_init(void)
{
    mysql_thread_init();
}

void db_thread_end(void)
{
    mysql_thread_end();
}

int db_open(db_t *db, const config_t *cfg)
{
    memset(db, 0, sizeof *db);
    db->cfg = cfg;
    db->stmts = calloc(1, sizeof *db->stmts);
    if (db->stmts == NULL) {
        set_err(db, CR_OUT_OF_MEMORY, "out of memory");
        return DB_ERR;
    }
    return connect_db(db) == DB_OK ? DB_OK : DB_ERR;
}

void db_close(db_t *db)
{
    disconnect(db);
    free(db->stmts);
    db->stmts = NULL;
    db->in_tx = 0;
}

int db_ping(db_t *db)
{
    int tx = db->in_tx;
    int rc = ensure(db);
    if (rc != DB_OK)
        return rc;
    if (mysql_ping(db->mysql) == 0)
        return DB_OK;
    /* Whatever the reason, a handle that does not answer a ping is rebuilt. */
    set_err(db, mysql_errno(db->mysql), mysql_error(db->mysql));
    disconnect(db);
    db->in_tx = 0;
    return tx ? DB_GONE : ensure(db);
}

/* ---------------------------------------------------------------- results */

static void rows_free_cells(db_rows_t *r, size_t upto)
{
    for (size_t i = 0; i < upto; i++)
        free(r->cells[i]);
}

void db_rows_free(db_rows_t *rows)
{
    if (rows == NULL)
        return;
    if (rows->cells != NULL)
        rows_free_cells(rows, rows->nrows * rows->ncols);
    free(rows->cells);
    free(rows->lens);
    free(rows);
}

static db_rows_t *rows_new(size_t nrows, size_t ncols)
{
    db_rows_t *r = calloc(1, sizeof *r);
    if (r == NULL)
        return NULL;
    r->nrows = nrows;
    r->ncols = ncols;
    r->cur = SIZE_MAX; /* before the first row */
    size_t n = nrows * ncols;
    if (ncols != 0 && n / ncols != nrows)
        goto fail;
    if (n == 0)
        return r;
    r->cells = calloc(n, sizeof *r->cells);
    r->lens = calloc(n, sizeof *r->lens);
    if (r->cells == NULL || r->lens == NULL)
        goto fail;
    return r;
fail:
    free(r->cells);
    free(r->lens);
    free(r);
    return NULL;
}

/* The per-column buffers one fetch writes into. */
typedef struct colbufs {
    size_t n;
    MYSQL_BIND *bind;
    unsigned long *len;
    flag_t *isnull;
    flag_t *trunc;
} colbufs_t;

static void colbufs_free(colbufs_t *b)
{
    if (b->bind != NULL)
        for (size_t i = 0; i < b->n; i++)
            free(b->bind[i].buffer);
    free(b->bind);
    free(b->len);
    free(b->isnull);
    free(b->trunc);
}

/* Binds every column as a string buffer sized from the metadata's max_length. */
static int colbufs_init(colbufs_t *b, MYSQL_RES *meta)
{
    b->n = mysql_num_fields(meta);
    b->bind = calloc(b->n, sizeof *b->bind);
    b->len = calloc(b->n, sizeof *b->len);
    b->isnull = calloc(b->n, sizeof *b->isnull);
    b->trunc = calloc(b->n, sizeof *b->trunc);
    if (b->bind == NULL || b->len == NULL || b->isnull == NULL || b->trunc == NULL)
        return -1;
    MYSQL_FIELD *f = mysql_fetch_fields(meta);
    for (size_t i = 0; i < b->n; i++) {
        unsigned long sz = f[i].max_length < COL_BUF_MIN ? COL_BUF_MIN : f[i].max_length + 1;
        b->bind[i].buffer_type = MYSQL_TYPE_STRING;
        b->bind[i].buffer = malloc(sz);
        b->bind[i].buffer_length = sz;
        b->bind[i].length = &b->len[i];
        b->bind[i].is_null = &b->isnull[i];
        b->bind[i].error = &b->trunc[i];
        if (b->bind[i].buffer == NULL)
            return -1;
    }
    return 0;
}

/* Copies column i of the fetched row into a cell, fetching it again in full if the buffer
 * was too small. */
static int copy_cell(MYSQL_STMT *st, colbufs_t *b, size_t i, char **cell, size_t *cell_len)
{
    if (b->isnull[i]) {
        *cell = NULL;
        *cell_len = 0;
        return 0;
    }
    unsigned long n = b->len[i];
    char *c = malloc((size_t)n + 1);
    if (c == NULL)
        return -1;
    if (n <= b->bind[i].buffer_length) {
        memcpy(c, b->bind[i].buffer, n);
    } else {
        MYSQL_BIND one = {0};
        unsigned long got = 0;
        one.buffer_type = MYSQL_TYPE_STRING;
        one.buffer = c;
        one.buffer_length = n;
        one.length = &got;
        if (mysql_stmt_fetch_column(st, &one, (unsigned int)i, 0) != 0) {
            free(c);
            return -1;
        }
    }
    c[n] = '\0';
    *cell = c;
    *cell_len = n;
    return 0;
}

/* Fetches every stored row of st into a new db_rows_t. A failure is recorded in db but not
 * yet classified: the caller still holds the metadata (see collect()). */
static int fetch_all(db_t *db, MYSQL_STMT *st, MYSQL_RES *meta, db_rows_t **out)
{
    colbufs_t b = {0};
    int rc = DB_ERR;
    db_rows_t *r = rows_new((size_t)mysql_stmt_num_rows(st), mysql_num_fields(meta));
    if (r == NULL || colbufs_init(&b, meta) != 0 || mysql_stmt_bind_result(st, b.bind) != 0) {
        set_err(db, CR_OUT_OF_MEMORY, "out of memory buffering a result");
        goto out;
    }
    for (size_t row = 0; row < r->nrows; row++) {
        int f = mysql_stmt_fetch(st);
        if (f != 0 && f != MYSQL_DATA_TRUNCATED) {
            set_err(db, mysql_stmt_errno(st), mysql_stmt_error(st));
            goto out;
        }
        for (size_t i = 0; i < r->ncols; i++) {
            size_t k = row * r->ncols + i;
            if (copy_cell(st, &b, i, &r->cells[k], &r->lens[k]) != 0) {
                set_err(db, CR_OUT_OF_MEMORY, "out of memory copying a value");
                goto out;
            }
        }
    }
    *out = r;
    r = NULL;
    rc = DB_OK;
out:
    colbufs_free(&b);
    db_rows_free(r);
    return rc;
}

/* ---------------------------------------------------------------- statements */

/* Binds the caller's parameters; the MYSQL_BIND array and lengths are the caller's. */
static void bind_params(MYSQL_BIND *pb, unsigned long *lens, long long *ints, const db_param_t *p, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        switch (p[i].type) {
        case DB_P_I64:
            ints[i] = (long long)p[i].i;
            pb[i].buffer_type = MYSQL_TYPE_LONGLONG;
            pb[i].buffer = &ints[i];
            break;
        case DB_P_STR:
            lens[i] = (unsigned long)p[i].len;
            pb[i].buffer_type = MYSQL_TYPE_STRING;
            pb[i].buffer = (void *)(p[i].s != NULL ? p[i].s : "");
            pb[i].buffer_length = lens[i];
            pb[i].length = &lens[i];
            break;
        default: pb[i].buffer_type = MYSQL_TYPE_NULL; break;
        }
    }
}

static int execute(db_t *db, MYSQL_STMT *st, const db_param_t *params, size_t n)
{
    int rc = DB_ERR;
    MYSQL_BIND *pb = calloc(n ? n : 1, sizeof *pb);
    unsigned long *lens = calloc(n ? n : 1, sizeof *lens);
    long long *ints = calloc(n ? n : 1, sizeof *ints);
    if (pb == NULL || lens == NULL || ints == NULL) {
        set_err(db, CR_OUT_OF_MEMORY, "out of memory binding parameters");
        goto out;
    }
    bind_params(pb, lens, ints, params, n);
    if (n > 0 && mysql_stmt_bind_param(st, pb) != 0) {
        rc = fail_stmt(db, st);
        goto out;
    }
    rc = mysql_stmt_execute(st) == 0 ? DB_OK : fail_stmt(db, st);
out:
    free(pb);
    free(lens);
    free(ints);
    return rc;
}

/* What one statement run hands back. */
typedef struct outcome {
    db_rows_t **rows; /* NULL: the caller wants no rows (db_exec) */
    uint64_t affected;
    uint64_t insert_id;
} outcome_t;

/* Collects the result of an executed statement: its rows (buffered, then released so the
 * statement can run again) or its counts. */
static int collect(db_t *db, MYSQL_STMT *st, outcome_t *o)
{
    int rc = DB_OK;
    MYSQL_RES *meta = mysql_stmt_result_metadata(st);
    if (meta == NULL) {
        o->affected = (uint64_t)mysql_stmt_affected_rows(st);
        o->insert_id = (uint64_t)mysql_stmt_insert_id(st);
        if (o->rows != NULL && (*o->rows = rows_new(0, 0)) == NULL) {
            set_err(db, CR_OUT_OF_MEMORY, "out of memory");
            rc = DB_ERR;
        }
        return rc;
    }
    if (mysql_stmt_store_result(st) != 0) {
        set_err(db, mysql_stmt_errno(st), mysql_stmt_error(st));
        rc = DB_ERR;
    } else if (o->rows != NULL) {
        rc = fetch_all(db, st, meta, o->rows);
    }
    mysql_stmt_free_result(st);
    mysql_free_result(meta);
    if (rc == DB_OK)
        return DB_OK;
    /* An error in the middle of the rows (a lock wait timeout or a deadlock met at the second
     * row of a FOR UPDATE read): Connector/C leaves that statement expecting the rest of a
     * result the server will never send, and its next execution waited for the read timeout
     * (10 s) and lost the connection. It is closed and prepared again on its next use. */
    forget_stmt(db->stmts, st);
    /* Classified only now: a lost connection closes st, and the metadata must go first. */
    return classify(db, db->last_errno);
}

/* One attempt on the current connection (connecting first if there is none). */
static int run_once(db_t *db, const char *sql, const db_param_t *params, size_t n, outcome_t *o)
{
    int rc = ensure(db);
    if (rc != DB_OK)
        return rc;
    MYSQL_STMT *st = get_stmt(db, sql, &rc);
    if (st == NULL)
        return rc;
    if (mysql_stmt_param_count(st) != n) {
        snprintf(db->err, sizeof db->err, "statement has %lu parameters, %zu given", mysql_stmt_param_count(st), n);
        db->last_errno = 0;
        return DB_ERR;
    }
    rc = execute(db, st, params, n);
    return rc == DB_OK ? collect(db, st, o) : rc;
}

/* Runs a statement, retrying once on a fresh connection when the old one had gone away
 * and no transaction was open (a transaction is lost with its connection). */
static int run(db_t *db, const char *sql, const db_param_t *params, size_t n, outcome_t *o)
{
    if (db->stmts == NULL) {
        set_err(db, 0, "db_t used without db_open");
        return DB_ERR;
    }
    if (sql == NULL || n > MAX_PARAMS || (n > 0 && params == NULL)) {
        set_err(db, 0, "bad statement or parameters");
        return DB_ERR;
    }
    int tx = db->in_tx;
    int had_conn = db->mysql != NULL;
    int rc = run_once(db, sql, params, n, o);
    if (rc == DB_GONE && !tx && had_conn)
        rc = run_once(db, sql, params, n, o);
    return rc;
}

int db_exec(db_t *db, const char *sql, const db_param_t *params, size_t nparams, uint64_t *affected,
            uint64_t *insert_id)
{
    outcome_t o = {0};
    int rc = run(db, sql, params, nparams, &o);
    if (rc == DB_OK) {
        if (affected != NULL)
            *affected = o.affected;
        if (insert_id != NULL)
            *insert_id = o.insert_id;
    }
    return rc;
}

int db_query(db_t *db, const char *sql, const db_param_t *params, size_t nparams, db_rows_t **rows)
{
    db_rows_t *r = NULL;
    outcome_t o = {.rows = &r};
    *rows = NULL;
    int rc = run(db, sql, params, nparams, &o);
    if (rc == DB_OK)
        *rows = r;
    else
        db_rows_free(r);
    return rc;
}

int db_query_row(db_t *db, const char *sql, const db_param_t *params, size_t nparams, db_rows_t **rows)
{
    int rc = db_query(db, sql, params, nparams, rows);
    if (rc != DB_OK)
        return rc;
    if (db_rows_next(*rows))
        return DB_OK;
    db_rows_free(*rows);
    *rows = NULL;
    return DB_NOROW;
}

/* ---------------------------------------------------------------- row walking */

void db_rows_rewind(db_rows_t *rows)
{
    if (rows != NULL)
        rows->cur = SIZE_MAX;
}

int db_rows_next(db_rows_t *rows)
{
    if (rows == NULL)
        return 0;
    if (rows->cur == SIZE_MAX)
        rows->cur = 0;
    else if (rows->cur < rows->nrows)
        rows->cur++;
    return rows->cur < rows->nrows;
}

static int in_range(const db_rows_t *rows, size_t col)
{
    return rows != NULL && rows->cur < rows->nrows && col < rows->ncols;
}

const char *db_rows_str(const db_rows_t *rows, size_t col, size_t *len)
{
    if (!in_range(rows, col)) {
        if (len != NULL)
            *len = 0;
        return NULL;
    }
    size_t k = rows->cur * rows->ncols + col;
    if (len != NULL)
        *len = rows->lens[k];
    return rows->cells[k];
}

int64_t db_rows_i64(const db_rows_t *rows, size_t col)
{
    const char *s = db_rows_str(rows, col, NULL);
    if (s == NULL)
        return 0;
    char *end;
    errno = 0;
    long long v = strtoll(s, &end, 10);
    if (errno != 0 || end == s)
        return 0;
    return (int64_t)v;
}

int db_rows_isnull(const db_rows_t *rows, size_t col)
{
    return db_rows_str(rows, col, NULL) == NULL;
}

size_t db_in_list(char *sql, size_t len, const char *head, const char *tail, db_param_t *p, const int64_t *ids,
                  size_t n, size_t max)
{
    size_t k = 1;
    if (n == 0 || n > max)
        return 0;
    while (k < n && k < 64)
        k *= 2;
    if (n > k)
        k = max;
    int off = snprintf(sql, len, "%s(", head);
    for (size_t i = 0; i < k && off > 0 && (size_t)off < len; i++) {
        p[i] = DB_I64(ids[i < n ? i : n - 1]);
        off += snprintf(sql + off, len - (size_t)off, i == 0 ? "?" : ",?");
    }
    if (off > 0 && (size_t)off < len)
        off += snprintf(sql + off, len - (size_t)off, ")%s", tail);
    return off > 0 && (size_t)off < len ? k : 0;
}

json_t *db_rows_json_str(const db_rows_t *rows, size_t col)
{
    size_t len;
    const char *s = db_rows_str(rows, col, &len);
    return s != NULL ? json_stringn(s, len) : json_null();
}

json_t *db_rows_json_array(const db_rows_t *rows, size_t col)
{
    size_t len;
    const char *s = db_rows_str(rows, col, &len);
    if (s == NULL)
        return json_array();
    json_t *a = json_loadb(s, len, 0, NULL);
    if (!json_is_array(a)) {
        json_decref(a);
        return NULL;
    }
    return a;
}

void db_rows_copy(const db_rows_t *rows, size_t col, char *buf, size_t len)
{
    size_t n = 0;
    const char *s = db_rows_str(rows, col, &n);
    if (s == NULL)
        n = 0;
    if (n >= len) { /* cut to fit, never inside a UTF-8 character */
        n = len - 1;
        while (n > 0 && ((unsigned char)s[n] & 0xC0) == 0x80)
            n--;
    }
    memcpy(buf, s != NULL ? s : "", n);
    buf[n] = '\0';
}

json_t *db_rows_json_int(const db_rows_t *rows, size_t col)
{
    return db_rows_isnull(rows, col) ? json_null() : json_integer(db_rows_i64(rows, col));
}

json_t *db_rows_json_real(const db_rows_t *rows, size_t col)
{
    const char *s = db_rows_str(rows, col, NULL);
    return s != NULL ? json_real(strtod(s, NULL)) : json_null();
}

/* ---------------------------------------------------------------- transactions */

/* Runs fixed text (never input) on the connection, without a prepared statement. */
static int plain(db_t *db, const char *sql)
{
    int rc = ensure(db);
    if (rc != DB_OK)
        return rc;
    return mysql_real_query(db->mysql, sql, strlen(sql)) == 0 ? DB_OK : fail_mysql(db);
}

int db_begin(db_t *db)
{
    if (db->in_tx) {
        set_err(db, 0, "db_begin inside a transaction");
        return DB_ERR;
    }
    int had_conn = db->mysql != NULL;
    int rc = plain(db, "START TRANSACTION");
    if (rc == DB_GONE && had_conn) /* nothing was open yet: a fresh connection is fine */
        rc = plain(db, "START TRANSACTION");
    if (rc == DB_OK)
        db->in_tx = 1;
    return rc;
}

int db_commit(db_t *db)
{
    if (!db->in_tx) {
        set_err(db, 0, "db_commit outside a transaction");
        return DB_ERR;
    }
    if (db->mysql == NULL) {
        db->in_tx = 0;
        set_err(db, CR_SERVER_GONE_ERROR, "connection lost inside the transaction");
        return DB_GONE;
    }
    int rc = plain(db, "COMMIT");
    db->in_tx = 0;
    return rc;
}

void db_rollback(db_t *db)
{
    int tx = db->in_tx;
    db->in_tx = 0;
    if (tx && db->mysql != NULL && mysql_real_query(db->mysql, "ROLLBACK", 8) != 0)
        fail_mysql(db);
}

/* ---------------------------------------------------------------- scripts */

/* Reads every result of a multi-statement run; the first failure wins. Every result must be
 * read before the connection can take another command. */
static int drain(db_t *db)
{
    int rc = DB_OK;
    for (;;) {
        MYSQL_RES *res = mysql_store_result(db->mysql);
        if (res != NULL)
            mysql_free_result(res);
        else if (mysql_field_count(db->mysql) != 0)
            return fail_mysql(db);
        int next = mysql_next_result(db->mysql);
        if (next == -1)
            break;
        if (next > 0) {
            if (mysql_errno(db->mysql) != ER_EMPTY_QUERY) /* text after the last `;` */
                rc = fail_mysql(db);
            break;
        }
    }
    return rc;
}

/* Multi-statement mode is switched on for this call only, so the pool's connections never
 * accept `;`-joined text. An empty script (only comments) is not an error. */
int db_exec_script(db_t *db, const char *sql, size_t len)
{
    int rc = ensure(db);
    if (rc != DB_OK)
        return rc;
    if (mysql_set_server_option(db->mysql, MYSQL_OPTION_MULTI_STATEMENTS_ON) != 0)
        return fail_mysql(db);
    if (mysql_real_query(db->mysql, sql, (unsigned long)len) != 0) {
        unsigned no = mysql_errno(db->mysql);
        rc = no == ER_EMPTY_QUERY ? DB_OK : fail_mysql(db);
    } else {
        rc = drain(db);
    }
    if (db->mysql != NULL && mysql_set_server_option(db->mysql, MYSQL_OPTION_MULTI_STATEMENTS_OFF) != 0) {
        int off = fail_mysql(db);
        if (rc == DB_OK)
            rc = off;
    }
    return rc;
}

/* A random 5..24 ms times the attempt: two transactions that deadlocked each other should
 * not meet again at the same instant. */
static void tx_backoff(int attempt)
{
    unsigned char r = 0;
    RAND_bytes(&r, 1);
    long ms = (5 + r % 20) * (long)attempt;
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

sf_status_t db_tx(db_t *db, db_tx_body_t body, void *ctx)
{
    return db_tx_tries(db, DB_TX_TRIES, body, ctx);
}

sf_status_t db_tx_tries(db_t *db, int tries, db_tx_body_t body, void *ctx)
{
    sf_status_t rc = DB_DEADLOCK;
    for (int attempt = 1; attempt <= tries; attempt++) {
        if (attempt > 1)
            tx_backoff(attempt - 1);
        rc = (sf_status_t)db_begin(db);
        if (rc == DB_OK)
            rc = body(db, ctx);
        if (rc == DB_OK)
            rc = (sf_status_t)db_commit(db);
        if (rc == DB_OK)
            return DB_OK;
        db_rollback(db);
        if (rc != DB_DEADLOCK && rc != DB_GONE)
            return rc;
    }
    return rc;
}
