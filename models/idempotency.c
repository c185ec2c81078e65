/*
 * Idempotency keys (see idempotency.h). The primary key (user_id, scope, idem_key) decides
 * which of several concurrent requests runs: the one whose INSERT succeeds; the others read
 * the row and wait, polling, until it holds an answer. Worker threads; no state between
 * calls.
 */
#include <openssl/evp.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/idempotency.h"

int idempotency_key_valid(const char *key)
{
    size_t n = key != NULL ? strlen(key) : 0;
    if (n == 0 || n > IDEMPOTENCY_KEY_MAX)
        return 0;
    for (size_t i = 0; i < n; i++)
        if ((unsigned char)key[i] < 0x20 || (unsigned char)key[i] > 0x7e)
            return 0;
    return 1;
}

int idempotency_hash(const json_t *body, char out[IDEMPOTENCY_HASH_LEN])
{
    static const char hex[] = "0123456789abcdef";
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int mdlen = 0;
    char *text = json_dumps(body, JSON_SORT_KEYS | JSON_COMPACT | JSON_ENCODE_ANY);
    if (text == NULL)
        return -1;
    int ok = EVP_Digest(text, strlen(text), md, &mdlen, EVP_sha256(), NULL) == 1 && mdlen == 32;
    free(text);
    if (!ok)
        return -1;
    for (unsigned i = 0; i < mdlen; i++) {
        out[2 * i] = hex[md[i] >> 4];
        out[2 * i + 1] = hex[md[i] & 15];
    }
    out[2 * mdlen] = '\0';
    return 0;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The claim, in one statement: a new row; or, over a row that counts as absent (a first
 * answer older than the TTL, or a claim left unanswered far longer than any request runs:
 * its server died in the middle), a fresh claim in its place. Either changes a row (affected
 * 1 or 2); a live row is left as it is (0: someone else's, look at it). Every assignment is
 * conditioned on the same test, which the earlier assignments cannot turn (status becomes
 * NULL only when the test already holds); created_at, which it reads, is set last. */
#define CLAIM_FRESH                                                                                                    \
    "(created_at < NOW(3) - INTERVAL ? SECOND OR (status IS NULL AND created_at < NOW(3) - INTERVAL ? SECOND))"
static int claim(db_t *db, int64_t user_id, const char *scope, const char *key, const char *hash, int *won)
{
    uint64_t n = 0;
    db_param_t p[] = {DB_I64(user_id),
                      DB_STR(scope),
                      DB_STR(key),
                      DB_STR(hash),
                      DB_I64(IDEMPOTENCY_TTL_S),
                      DB_I64(IDEMPOTENCY_STALE_S),
                      DB_I64(IDEMPOTENCY_TTL_S),
                      DB_I64(IDEMPOTENCY_STALE_S),
                      DB_I64(IDEMPOTENCY_TTL_S),
                      DB_I64(IDEMPOTENCY_STALE_S),
                      DB_I64(IDEMPOTENCY_TTL_S),
                      DB_I64(IDEMPOTENCY_STALE_S)};
    int rc = db_exec(db,
                     "INSERT INTO idempotency_keys (user_id, scope, idem_key, request_hash) VALUES (?, ?, ?, ?)"
                     " ON DUPLICATE KEY UPDATE request_hash = IF(" CLAIM_FRESH ", VALUES(request_hash), request_hash),"
                     " response = IF(" CLAIM_FRESH ", NULL, response), status = IF(" CLAIM_FRESH ", NULL, status),"
                     " created_at = IF(" CLAIM_FRESH ", NOW(3), created_at)",
                     p, 12, &n, NULL);
    *won = rc == DB_OK && n > 0;
    return rc;
}

/* Looks at the row of someone else's claim: the answer (ans->claim IDEMPOTENCY_REPLAY), a
 * mismatch, or "still running" (IDEMPOTENCY_RUN: absent or unanswered, look again). */
static sf_status_t look(db_t *db, int64_t user_id, const char *scope, const char *key, const char *hash,
                        idempotency_answer_t *ans)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(user_id), DB_STR(scope), DB_STR(key)};
    sf_status_t rc = db_query_row(db,
                                  "SELECT request_hash, status, response FROM idempotency_keys"
                                  " WHERE user_id = ? AND scope = ? AND idem_key = ?",
                                  p, 3, &rows);
    ans->claim = IDEMPOTENCY_RUN;
    if (rc == DB_NOROW)
        return DB_OK; /* released meanwhile: claim it again */
    if (rc != DB_OK)
        return rc;
    size_t n = 0;
    const char *body = db_rows_str(rows, 2, &n);
    if (strcmp(db_rows_str(rows, 0, NULL), hash) != 0) {
        rc = SF_E_IDEMPOTENCY_REUSED;
    } else if (db_rows_isnull(rows, 1) || body == NULL) {
        rc = DB_OK;
    } else if ((ans->text = malloc(n + 1)) == NULL) {
        rc = DB_ERR;
    } else {
        memcpy(ans->text, body, n);
        ans->text[n] = '\0';
        ans->len = n;
        ans->status = (int)db_rows_i64(rows, 1);
        ans->claim = IDEMPOTENCY_REPLAY;
    }
    db_rows_free(rows);
    return rc;
}

sf_status_t idempotency_begin(db_t *db, int64_t user_id, const char *scope, const char *key, const char *hash,
                              idempotency_answer_t *ans, status_detail_t *d)
{
    memset(ans, 0, sizeof(*ans));
    ans->claim = IDEMPOTENCY_RUN;
    if (!idempotency_key_valid(key))
        return status_field(d, SF_E_IDEMPOTENCY_KEY, "Idempotency-Key", NULL);
    sf_status_t rc = DB_OK;
    for (long waited = 0; rc == DB_OK; waited += IDEMPOTENCY_POLL_MS) {
        int won = 0;
        rc = claim(db, user_id, scope, key, hash, &won);
        if (rc != DB_OK)
            return rc;
        if (won)
            return DB_OK; /* claimed: IDEMPOTENCY_RUN */
        rc = look(db, user_id, scope, key, hash, ans);
        if (rc != DB_OK || ans->claim == IDEMPOTENCY_REPLAY)
            return rc;
        if (waited >= IDEMPOTENCY_WAIT_MS)
            return SF_E_IDEMPOTENCY_IN_PROGRESS;
        sleep_ms(IDEMPOTENCY_POLL_MS);
        rc = DB_OK;
    }
    return rc;
}

sf_status_t idempotency_finish(db_t *db, int64_t user_id, const char *scope, const char *key, int status,
                               const char *response, size_t len)
{
    db_param_t p[] = {DB_I64(status), DB_STRN(response, len), DB_I64(user_id), DB_STR(scope), DB_STR(key)};
    return db_exec(db,
                   "UPDATE idempotency_keys SET status = ?, response = ? WHERE user_id = ? AND scope = ?"
                   " AND idem_key = ? AND status IS NULL",
                   p, 5, NULL, NULL);
}

sf_status_t idempotency_abort(db_t *db, int64_t user_id, const char *scope, const char *key)
{
    db_param_t p[] = {DB_I64(user_id), DB_STR(scope), DB_STR(key)};
    return db_exec(db,
                   "DELETE FROM idempotency_keys WHERE user_id = ? AND scope = ? AND idem_key = ? AND status IS NULL",
                   p, 3, NULL, NULL);
}

sf_status_t idempotency_purge(db_t *db, size_t limit, size_t *deleted)
{
    uint64_t n = 0;
    if (deleted != NULL)
        *deleted = 0;
    if (limit == 0 || limit > IDEMPOTENCY_PURGE_MAX)
        return DB_ERR;
    db_param_t p[] = {DB_I64(IDEMPOTENCY_TTL_S), DB_I64((int64_t)limit)};
    int rc = db_exec(
        db, "DELETE FROM idempotency_keys WHERE created_at < NOW(3) - INTERVAL ? SECOND ORDER BY created_at LIMIT ?", p,
        2, &n, NULL);
    if (rc == DB_OK && deleted != NULL)
        *deleted = (size_t)n;
    return rc;
}
