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
#include "server/http/api.h"
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/idempotency.h"
#include "models/payment.h"
#include "models/providers/payprov.h"

#define SCOPE "payment"

/* {"provider": "wechat" | "alipay"} and nothing else; 0, or -1 after replying 422. */
static int parse(api_req_t *req, pay_provider_t *provider)
{
    const char *key;
    json_t *v;
    json_object_foreach(req->body, key, v)
    {
        if (strcmp(key, "provider") != 0) {
            api_reply_invalid(req, key, "unknown field");
            return -1;
        }
    }
    v = json_object_get(req->body, "provider");
    if (v == NULL) {
        api_reply_invalid(req, "provider", "is required");
        return -1;
    }
    if (!json_is_string(v) || (*provider = payment_provider_parse(json_string_value(v))) == 0) {
        api_reply_invalid(req, "provider", "must be \"wechat\" or \"alipay\"");
        return -1;
    }
    return 0;
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

/* Claims the key, or answers from it. 1: go on and run; 0: answered. */
static int claim_key(api_req_t *req, worker_t *w, int64_t order_id, const char *key)
{
    char hash[IDEMPOTENCY_HASH_LEN], *text = NULL;
    int status = 0;
    size_t len = 0;
    if (!idempotency_key_valid(key)) {
        api_reply_invalid(req, "Idempotency-Key", "must be 1 to 128 printable ASCII characters");
        return 0;
    }
    if (request_hash(req, order_id, hash) != 0) {
        api_reply_error(req, SF_E_INTERNAL, NULL, NULL, NULL);
        return 0;
    }
    int rc = idempotency_begin(&w->db, req->who.user_id, SCOPE, key, hash, &status, &text, &len);
    switch (rc) {
    case IDEMPOTENCY_RUN: return 1;
    case IDEMPOTENCY_REPLAY: api_reply_text(req, status, "application/json", text, len); return 0;
    case IDEMPOTENCY_E_KEY:
        api_reply_invalid(req, "Idempotency-Key", "must be 1 to 128 printable ASCII characters");
        return 0;
    case IDEMPOTENCY_E_REUSED:
        api_reply_error(req, SF_E_INVALID, "idempotency_key_reused", "the key was used with another request", NULL);
        return 0;
    case IDEMPOTENCY_E_IN_PROGRESS:
        api_reply_error(req, SF_E_CONFLICT, "idempotency_in_progress", "a request with this key is still running",
                        NULL);
        return 0;
    default: api_reply_db_failure(req, &w->db, rc, NULL); return 0;
    }
}

/* Keeps every business answer for the key; a 5xx releases it (a retry runs again and finds
 * the same attempt). */
static void settle_key(api_req_t *req, worker_t *w, const char *key)
{
    int rc = req->status < 500
                 ? idempotency_finish(&w->db, req->who.user_id, SCOPE, key, req->status, req->out, req->out_len)
                 : idempotency_abort(&w->db, req->who.user_id, SCOPE, key);
    if (rc != DB_OK)
        log_warn("payments: idempotency key of user %lld not settled: %s", (long long)req->who.user_id, w->db.err);
}

/* The attempt row, then the provider's create, then the answer. */
static void run(api_req_t *req, worker_t *w, int64_t order_id, pay_provider_t provider)
{
    pay_attempt_t a;
    json_t *params = NULL;
    char prepay[PAY_PREPAY_MAX], err[PAYPROV_ERR_MAX] = "";
    int rc = payment_create(&w->db, req->who.user_id, order_id, provider, &a);
    if (rc == PAY_E_NOT_PAYABLE) {
        api_reply_error(req, SF_E_CONFLICT, "not_payable", "the order is not waiting for payment", NULL);
        return;
    }
    if (rc != DB_OK) {
        api_reply_db_failure(req, &w->db, rc, "no such order");
        return;
    }
    const payprov_ops_t *ops = payprov_for(req->cfg, provider);
    payprov_ctx_t pc = {.cfg = req->cfg, .db = &w->db};
    int st = ops->create(&pc, &a, &params, prepay, sizeof(prepay), err, sizeof(err));
    if (st != PAYPROV_OK) {
        log_warn("payments: %s create of %s (order %lld) failed: %s: %s", ops->name, a.out_trade_no,
                 (long long)order_id, payprov_status_str(st), err);
        api_reply_error(req, SF_E_UNAVAILABLE, "provider_unavailable", "the payment provider cannot be reached now",
                        NULL);
        req->retry_after = 1;
        return;
    }
    if (prepay[0] != '\0' && strcmp(prepay, a.prepay_id) != 0 && payment_set_prepay(&w->db, a.id, prepay) != DB_OK)
        log_warn("payments: prepay id of %s not kept: %s", a.out_trade_no, w->db.err); /* informational only */
    api_reply_json(req, a.created ? 201 : 200,
                   json_pack("{s:I, s:s, s:s, s:I, s:o}", "payment_id", (json_int_t)a.id, "provider",
                             payment_provider_name(provider), "out_trade_no", a.out_trade_no, "amount_fen",
                             (json_int_t)a.amount_fen, "params", params));
}

static void create(api_req_t *req, worker_t *w)
{
    int64_t order_id;
    pay_provider_t provider = 0;
    const char *key = req->idempotency_key;
    if (api_param_id(req, 0, &order_id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such order", NULL);
        return;
    }
    if (parse(req, &provider) != 0)
        return;
    if (key != NULL && !claim_key(req, w, order_id, key))
        return;
    run(req, w, order_id, provider);
    if (key != NULL)
        settle_key(req, w, key);
}

int payments_register(router_t *r)
{
    return router_add(r, "POST", "/v1/orders/{id}/payments", ROUTE_CONSUMER | ROUTE_BODY_JSON, create);
}
