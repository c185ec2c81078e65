/*
 * Idempotency-Key of money-bearing writes (API.md "Conventions"): the same key and body
 * within 24 h gets the first answer again without the work being done again; the same key
 * with another body is refused. The idempotency_keys table holds one row per (user, scope,
 * key): inserted (status NULL) before the work starts, so a second request with the key
 * waits for the first instead of doing the work twice, and completed with the answer after
 * it. Rows older than IDEMPOTENCY_TTL_S count as absent.
 *
 * Worker threads with their own db_t. A response handed out by idempotency_begin() is
 * malloc'd and belongs to the caller.
 */
#ifndef SF_IDEMPOTENCY_H
#define SF_IDEMPOTENCY_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

#define IDEMPOTENCY_KEY_MAX  128         /* bytes of printable ASCII */
#define IDEMPOTENCY_HASH_LEN 65          /* hex SHA-256 with its NUL */
#define IDEMPOTENCY_TTL_S    (24 * 3600) /* how long a first answer is kept */
#define IDEMPOTENCY_POLL_MS  50          /* how often a second request looks at the first */
#define IDEMPOTENCY_WAIT_MS  5000        /* how long it waits for the first to finish */
#define IDEMPOTENCY_STALE_S  120         /* an unanswered claim this old was abandoned (a crash) */

/* What idempotency_begin found when it succeeded (not an outcome: both are SF_OK). */
typedef enum idempotency_claim {
    IDEMPOTENCY_RUN = 1,    /* the key is ours: do the work, then finish or abort */
    IDEMPOTENCY_REPLAY = 2, /* answered before: *status and *response are that answer */
} idempotency_claim_t;

/* What idempotency_begin found: the claim, and with IDEMPOTENCY_REPLAY the first answer
 * (text malloc'd, the caller's). */
typedef struct idempotency_answer {
    idempotency_claim_t claim;
    int status;
    char *text;
    size_t len;
} idempotency_answer_t;

/* 1 if key is 1..IDEMPOTENCY_KEY_MAX bytes of printable ASCII (0x21..0x7e and space). */
int idempotency_key_valid(const char *key);

/* The hex SHA-256 of the canonical request: the body with sorted keys, compact (OpenSSL
 * EVP). 0, or -1 if it could not be serialised. */
int idempotency_hash(const json_t *body, char out[IDEMPOTENCY_HASH_LEN]);

/* Claims (user_id, scope, key) for a request with this hash, or finds its first answer:
 * SF_OK with ans->claim IDEMPOTENCY_RUN, or IDEMPOTENCY_REPLAY with the answer in *ans;
 * SF_E_IDEMPOTENCY_KEY (d names the field
 * Idempotency-Key); SF_E_IDEMPOTENCY_REUSED; SF_E_IDEMPOTENCY_IN_PROGRESS after waiting up
 * to IDEMPOTENCY_WAIT_MS for a first request that is still running; or a db status. d may be
 * NULL. Each statement is its own transaction: call outside any. */
sf_status_t idempotency_begin(db_t *db, int64_t user_id, const char *scope, const char *key, const char *hash,
                              idempotency_answer_t *ans, status_detail_t *d);

/* Stores the answer of a claimed key (status and body as sent). DB_OK or a db status. */
sf_status_t idempotency_finish(db_t *db, int64_t user_id, const char *scope, const char *key, int status,
                               const char *response, size_t len);

/* Releases a claimed key without an answer (the work failed for a reason worth retrying),
 * so that the next request with it runs. DB_OK or a db status. */
sf_status_t idempotency_abort(db_t *db, int64_t user_id, const char *scope, const char *key);

#define IDEMPOTENCY_PURGE_MAX 10000 /* rows one purge statement may delete */

/* Deletes, in one statement, up to limit (1..IDEMPOTENCY_PURGE_MAX) keys created more than
 * IDEMPOTENCY_TTL_S ago, oldest first (they already count as absent). For housekeeping.
 * DB_OK with *deleted (may be NULL), or a db status. */
sf_status_t idempotency_purge(db_t *db, size_t limit, size_t *deleted);

#endif
