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
#include "models/payment.h"
#include "models/providers/payprov.h"
#include "server/http/api.h"
#include "server/http/idemkey.h"
#include "server/http/valid.h"

#define SCOPE "payment"

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

/* What the Idempotency-Key's first use asked: the order id with the body, so one key
 * cannot replay another order's answer. */
static json_t *key_request(const api_req_t *req, int64_t order_id)
{
    return json_pack("{s:I, s:O}", "order_id", (json_int_t)order_id, "body", req->body);
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
    status_detail_t d = {0};
    idemkey_t k = {0};
    json_t *doc = NULL, *asked = NULL;
    int created = 0;
    sf_status_t rc = status_field(&d, SF_E_NOT_FOUND, NULL, "no such order");
    if (valid_path_id(req, 0, &order_id) == 0) {
        status_detail_clear(&d);
        rc = parse(req, &provider, &d);
    }
    if (rc == SF_OK)
        rc = (asked = key_request(req, order_id)) != NULL ? idemkey_begin(req, w, &k, SCOPE, asked, &d) : SF_E_INTERNAL;
    json_decref(asked);
    if (rc == SF_OK && !idemkey_replays(&k))
        rc = run(req, w, order_id, provider, &doc, &created, &d);
    if (!idemkey_reply(req, &k))
        api_reply_result(req, w, rc, &d, created ? 201 : 200, doc);
    idemkey_settle(req, w, &k, 0); /* a retry after a 5xx finds the same attempt */
}

int payments_register(router_t *r)
{
    return router_add(r, "POST", "/v1/orders/{id}/payments", ROUTE_CONSUMER | ROUTE_BODY_JSON, create);
}
