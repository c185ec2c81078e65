/*
 * Idempotency-Key around a route's work (idemkey.h). The replayed answer is handed to the
 * reply (stolen), so nothing is left to free when it was used.
 */
#include <stdlib.h>
#include "models/base/log.h"
#include "server/http/idemkey.h"

sf_status_t idemkey_begin(const api_req_t *req, worker_t *w, idemkey_t *k, const char *scope, const json_t *request,
                          status_detail_t *d)
{
    char hash[IDEMPOTENCY_HASH_LEN];
    *k = (idemkey_t){.scope = scope, .key = req->idempotency_key, .ans.claim = IDEMPOTENCY_RUN};
    if (k->key == NULL)
        return SF_OK;
    if (idempotency_hash(request, hash) != 0)
        return SF_E_INTERNAL;
    sf_status_t rc = idempotency_begin(&w->db, req->who.user_id, scope, k->key, hash, &k->ans, d);
    k->claimed = rc == SF_OK && k->ans.claim == IDEMPOTENCY_RUN;
    return rc;
}

void idemkey_kept(idemkey_t *k, int status, char *text, size_t len)
{
    free(k->ans.text);
    k->ans = (idempotency_answer_t){.claim = IDEMPOTENCY_REPLAY, .status = status, .text = text, .len = len};
    k->claimed = 0;
}

int idemkey_replays(const idemkey_t *k)
{
    return k->ans.claim == IDEMPOTENCY_REPLAY;
}

int idemkey_reply(api_req_t *req, idemkey_t *k)
{
    if (!idemkey_replays(k))
        return 0;
    api_reply_text(req, k->ans.status, "application/json", k->ans.text, k->ans.len);
    k->ans.text = NULL;
    return 1;
}

void idemkey_settle(const api_req_t *req, worker_t *w, idemkey_t *k, int committed)
{
    sf_status_t rc = DB_OK;
    if (!k->claimed)
        return;
    if (req->status < 500)
        rc = idempotency_finish(&w->db, req->who.user_id, k->scope, k->key, req->status, req->out, req->out_len);
    else if (!committed)
        rc = idempotency_abort(&w->db, req->who.user_id, k->scope, k->key);
    if (rc != DB_OK)
        log_warn("%s: idempotency key of user %lld not settled: %s", k->scope, (long long)req->who.user_id, w->db.err);
}
