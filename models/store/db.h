/*
 * One MariaDB connection, owned by one thread (a pool worker, the migrator, a worker
 * process loop). Prepared statements only: every query goes through db_exec()/db_query()
 * with `?` placeholders; the statements are prepared once per connection and cached by
 * their SQL text.
 *
 * Reconnection: when the server has gone away (CR_SERVER_GONE_ERROR, CR_SERVER_LOST,
 * ER_CONNECTION_KILLED, a failed ping) the handle is closed, the statement cache dropped,
 * and the next call connects again. Outside a transaction a statement that failed that way
 * is retried once on a fresh connection; inside one the caller gets DB_GONE and must start
 * the transaction again (nothing half-written: MariaDB rolled it back).
 *
 * Timeouts: connect, read and write timeouts from the config apply to every call.
 * Only calls of the MySQL C API are used (no MariaDB-only extensions), so this also builds
 * against MySQL's Connector/C.
 *
 * Call db_thread_init() once per thread before using a connection there and
 * db_thread_end() before the thread exits; db_library_init() once in main before threads.
 */
#ifndef SF_DB_H
#define SF_DB_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h> /* strlen, for DB_STR */
#include <mysql.h>
#include "models/base/config.h"
#include "models/base/status.h"

/* The data layer speaks the one outcome contract (models/base/status.h); these names say
 * which outcomes it produces, so a model may pass any of them on as they are. */
#define DB_OK       SF_OK          /* done */
#define DB_ERR      SF_E_INTERNAL  /* any other error; db->err says what */
#define DB_GONE     SF_E_DB_GONE   /* connection lost (and not retried: inside a transaction, or twice) */
#define DB_DUP      SF_E_DUPLICATE /* duplicate key (ER_DUP_ENTRY) */
#define DB_DEADLOCK SF_E_DEADLOCK  /* deadlock or lock wait timeout: the transaction was rolled back */
#define DB_NOROW    SF_E_NOT_FOUND /* db_query_row found nothing */

typedef enum db_ptype { DB_P_NULL, DB_P_I64, DB_P_STR } db_ptype_t;

/* One `?` parameter. Strings are not copied and need not be NUL-terminated. */
typedef struct db_param {
    db_ptype_t type;
    int64_t i;
    const char *s;
    size_t len;
} db_param_t;

#define DB_I64(v)     ((db_param_t){.type = DB_P_I64, .i = (int64_t)(v)})
#define DB_STR(v)     ((db_param_t){.type = DB_P_STR, .s = (v), .len = strlen(v)})
#define DB_STRN(v, n) ((db_param_t){.type = DB_P_STR, .s = (v), .len = (n)})
#define DB_NULL       ((db_param_t){.type = DB_P_NULL})

typedef struct db_stmt_cache db_stmt_cache_t;

typedef struct db {
    MYSQL *mysql; /* NULL while disconnected; never moved once connected */
    const config_t *cfg;
    db_stmt_cache_t *stmts; /* prepared statements by SQL text */
    int in_tx;              /* inside db_begin() ... db_commit()/db_rollback() */
    unsigned last_errno;    /* MySQL error number of the last failure */
    char err[256];          /* message of the last failure */
    uint64_t reconnects;    /* how many times the connection was rebuilt */
} db_t;

/* A fully buffered result: every value as text (NULL for SQL NULL), walked row by row.
 * Freed with db_rows_free(). Bounded by the caller's LIMIT, not here. */
typedef struct db_rows {
    size_t ncols;
    size_t nrows;
    size_t cur;   /* index of the current row, after db_rows_next() */
    char **cells; /* nrows * ncols, row-major; NULL for SQL NULL */
    size_t *lens; /* byte lengths of the cells */
} db_rows_t;

void db_library_init(void);
void db_library_end(void);
void db_thread_init(void);
void db_thread_end(void);

/* Prepares the handle and connects. DB_OK, or DB_ERR with db->err (the handle stays usable:
 * the next call tries to connect again). */
int db_open(db_t *db, const config_t *cfg);
void db_close(db_t *db);

/* Checks the server answers, reconnecting if it went away. DB_OK or DB_ERR/DB_GONE. */
int db_ping(db_t *db);

/* Runs a statement that returns no rows. *affected (may be NULL) gets the affected row
 * count, *insert_id (may be NULL) the AUTO_INCREMENT id. */
int db_exec(db_t *db, const char *sql, const db_param_t *params, size_t nparams, uint64_t *affected,
            uint64_t *insert_id);

/* An "IN (?,?,...)" list of n ids (1..max, max >= 64) with few prepared texts: writes "(?,...,?)"
 * and the tail into sql, after the head (the statement's text up to "IN"), and the ids
 * into p (max slots), the list padded to the next of 1, 2, 4, ... 64, then to max, with the
 * last id repeated (which changes nothing). The count of parameters; 0 (nothing written) if
 * n is 0 or above max or the text does not fit in len. */
size_t db_in_list(char *sql, size_t len, const char *head, const char *tail, db_param_t *p, const int64_t *ids,
                  size_t n, size_t max);

/* Runs a query and buffers its rows into *rows (freed by the caller with db_rows_free). */
int db_query(db_t *db, const char *sql, const db_param_t *params, size_t nparams, db_rows_t **rows);

/* The same for a query expected to find a row: on DB_OK *rows is already on the first row;
 * DB_NOROW (and *rows NULL) when the result is empty. */
int db_query_row(db_t *db, const char *sql, const db_param_t *params, size_t nparams, db_rows_t **rows);

/* Row walking: db_rows_next() is 1 while there is a row, 0 at the end. */
int db_rows_next(db_rows_t *rows);
/* Back before the first row: the next db_rows_next() gives the first again. */
void db_rows_rewind(db_rows_t *rows);
const char *db_rows_str(const db_rows_t *rows, size_t col, size_t *len); /* NULL for SQL NULL */
int64_t db_rows_i64(const db_rows_t *rows, size_t col);                  /* 0 for SQL NULL */
int db_rows_isnull(const db_rows_t *rows, size_t col);
/* A column as a JSON value for an answer: a string (its exact bytes) or an integer, and JSON
 * null for SQL NULL; NULL only when out of memory. */
json_t *db_rows_json_str(const db_rows_t *rows, size_t col);
json_t *db_rows_json_int(const db_rows_t *rows, size_t col);
json_t *db_rows_json_real(const db_rows_t *rows, size_t col); /* a DECIMAL as a JSON number */
/* A JSON array a statement built (JSON_ARRAYAGG in a subquery: one column for a list of
 * values), parsed; SQL NULL (no rows to aggregate) is []. NULL when out of memory or the
 * column is not a JSON array. */
json_t *db_rows_json_array(const db_rows_t *rows, size_t col);
/* A text column into buf (len >= 1), "" for SQL NULL, cut to fit on a UTF-8 character boundary. */
void db_rows_copy(const db_rows_t *rows, size_t col, char *buf, size_t len);
void db_rows_free(db_rows_t *rows);

/* Transactions (InnoDB, REPEATABLE READ). db_rollback() is safe to call after a failure.
 * Models do not call these three: they call db_tx(), which owns the retry policy. (Only the
 * migrator and the tests, which hold a transaction open on purpose, call them directly.) */
int db_begin(db_t *db);
int db_commit(db_t *db);
void db_rollback(db_t *db);

/* How many times db_tx() runs a transaction in all when it deadlocks or loses its
 * connection, and the back-off between runs (a random 5..24 ms times the attempt). */
#define DB_TX_TRIES 5

/* The body of a transaction: runs inside BEGIN, returns DB_OK to commit, anything else to
 * roll back (the status is handed back to db_tx's caller as it is). It may run more than
 * once, each time from nothing, so it must leave its outputs in ctx only once it ran whole
 * (or reset them first). */
typedef sf_status_t (*db_tx_body_t)(db_t *db, void *ctx);

/* The one transaction helper, called only by models: BEGIN, body, COMMIT; on SF_E_DEADLOCK
 * or SF_E_DB_GONE from any of them, ROLLBACK and run it all again, up to DB_TX_TRIES in all.
 * Any other failure rolls back and is returned. Returns DB_OK once committed. */
sf_status_t db_tx(db_t *db, db_tx_body_t body, void *ctx);

/* The same with another number of runs in all: 1 for a transaction whose caller retries by
 * other means (a queue message is delivered again rather than run again at once). */
sf_status_t db_tx_tries(db_t *db, int tries, db_tx_body_t body, void *ctx);

/* Runs trusted text that is not a prepared statement: only the migrator's files (DDL,
 * several statements separated by `;`). Never with input from a request. */
int db_exec_script(db_t *db, const char *sql, size_t len);

#endif
