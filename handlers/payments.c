/*
 * POST /v1/orders/{id}/payments: the consumer starts (or resumes) paying an order with
 * WeChat Pay or Alipay. Consumer tokens only; the order is looked up with the caller's user
 * id, so another consumer's order is not found (404). Worker threads.
 *
 * Idempotent twice over: a second call for the same order and provider while an attempt is
 * 'created' gets that attempt (same out_trade_no, 200), and an Idempotency-Key (scope
 * "payment", hashed with the order id) replays the first answer. The attempt row is written
 * (own transaction) before the provider's create is called, outside any transaction; a
 * provider failure answers 503 and leaves the row 'created', which a retry picks up again.
 */
#include <string.h>
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/idempotency.h"
#include "models/payment.h"
#include "models/providers/payprov.h"
#include "server/http/api.h"
#include "server/http/valid.h"

#define SCOPE "payment"

/* The answer the idempotency key may have kept. */
typedef struct replay {
    idempotency_claim_t claim;
    int status;
    char *text;
    size_t len;
} replay_t;

/* {"provider": "wechat" | "alipay"} and nothing else. SF_OK, or SF_E_INVALID with d. */
static sf_status_t parse(const api_req_t *req, pay_provider_t *provider, status_detail_t *d)
{
    static const char *const keys[] = {"provider", NULL};
    static const char *const names[] = {"wechat", "alipay", NULL};
    int idx = -1;
    if (valid_only_keys(req->body, keys, "", d) != 0 || valid_enum(req->body, "provider", NULL, 1, names, &idx, d) < 0)
        return SF_E_INVALID;
    *provider = payment_provider_parse(names[idx]);
    return SF_OK;
}

/* The request's hash for the Idempotency-Key: the order id with the body, so one key cannot
 * replay another order's answer. */
static int request_hash(const api_req_t *req, int64_t order_id, char hash[IDEMPOTENCY_HASH_LEN])
{
    json_t *doc = json_pack("{s:I, s:O}", "order_id", (json_int_t)order_id, "body", req->body);
    int rc = doc != NULL ? idempotency_hash(doc, hash) : -1;
    json_decref(doc);
    return rc;
}

/* Claims the key, or finds the answer it kept (r->claim IDEMPOTENCY_REPLAY). */
static sf_status_t claim_key(const api_req_t *req, worker_t *w, int64_t order_id, const char *key, replay_t *r,
                             status_detail_t *d)
{
    char hash[IDEMPOTENCY_HASH_LEN];
    if (!idempotency_key_valid(key))
        return status_field(d, SF_E_IDEMPOTENCY_KEY, "Idempotency-Key", NULL);
    if (request_hash(req, order_id, hash) != 0)
        return SF_E_INTERNAL;
    return idempotency_begin(&w->db, req->who.user_id, SCOPE, key, hash, &r->claim, &r->status, &r->text, &r->len, d);
}

/* Keeps every business answer for the key; a 5xx releases it (a retry runs again and finds
 * the same attempt). Reads the reply already set; replies nothing. */
static void settle_key(api_req_t *req, worker_t *w, const char *key)
{
    sf_status_t rc = req->status < 500
                         ? idempotency_finish(&w->db, req->who.user_id, SCOPE, key, req->status, req->out, req->out_len)
                         : idempotency_abort(&w->db, req->who.user_id, SCOPE, key);
    if (rc != DB_OK)
        log_warn("payments: idempotency key of user %lld not settled: %s", (long long)req->who.user_id, w->db.err);
}

/* The attempt row, then the provider's create: *doc the answer, *created whether the
 * attempt is new. */
static sf_status_t run(api_req_t *req, worker_t *w, int64_t order_id, pay_provider_t provider, json_t **doc,
                       int *created, status_detail_t *d)
{
    pay_attempt_t a;
    json_t *params = NULL;
    char prepay[PAY_PREPAY_MAX], err[PAYPROV_ERR_MAX] = "";
    sf_status_t rc = payment_create(&w->db, req->who.user_id, order_id, provider, &a);
    if (rc == SF_E_NOT_FOUND)
        status_field(d, rc, NULL, "no such order");
    if (rc != SF_OK)
        return rc;
    const payprov_ops_t *ops = payprov_for(req->cfg, provider);
    payprov_ctx_t pc = {.cfg = req->cfg, .db = &w->db};
    int st = ops->create(&pc, &a, &params, prepay, sizeof(prepay), err, sizeof(err));
    if (st != PAYPROV_OK) {
        log_warn("payments: %s create of %s (order %lld) failed: %s: %s", ops->name, a.out_trade_no,
                 (long long)order_id, payprov_status_str(st), err);
        return SF_E_PROVIDER_UNAVAILABLE;
    }
    if (prepay[0] != '\0' && strcmp(prepay, a.prepay_id) != 0 && payment_set_prepay(&w->db, a.id, prepay) != DB_OK)
        log_warn("payments: prepay id of %s not kept: %s", a.out_trade_no, w->db.err); /* informational only */
    *created = a.created;
    *doc = json_pack("{s:I, s:s, s:s, s:I, s:o}", "payment_id", (json_int_t)a.id, "provider",
                     payment_provider_name(provider), "out_trade_no", a.out_trade_no, "amount_fen",
                     (json_int_t)a.amount_fen, "params", params);
    return SF_OK;
}

static void create(api_req_t *req, worker_t *w)
{
    int64_t order_id = 0;
    pay_provider_t provider = 0;
    const char *key = req->idempotency_key;
    status_detail_t d = {0};
    replay_t r = {.claim = IDEMPOTENCY_RUN};
    json_t *doc = NULL;
    int created = 0, claimed = 0;
    sf_status_t rc = status_field(&d, SF_E_NOT_FOUND, NULL, "no such order");
    if (valid_path_id(req, 0, &order_id) == 0) {
        status_detail_clear(&d);
        rc = parse(req, &provider, &d);
    }
    if (rc == SF_OK && key != NULL && (rc = claim_key(req, w, order_id, key, &r, &d)) == SF_OK)
        claimed = r.claim == IDEMPOTENCY_RUN;
    if (rc == SF_OK && r.claim == IDEMPOTENCY_RUN)
        rc = run(req, w, order_id, provider, &doc, &created, &d);
    if (rc == SF_OK && r.claim == IDEMPOTENCY_REPLAY)
        api_reply_text(req, r.status, "application/json", r.text, r.len);
    else if (rc == SF_OK)
        api_reply_json(req, created ? 201 : 200, doc);
    else
        api_reply_status(req, w, rc, &d);
    if (claimed)
        settle_key(req, w, key);
}

int payments_register(router_t *r)
{
    return router_add(r, "POST", "/v1/orders/{id}/payments", ROUTE_CONSUMER | ROUTE_BODY_JSON, create);
}
