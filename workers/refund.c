/*
 * The refund worker kind (see refund.h). No SQL here: the refunds' queries are
 * models/payment.c's; the provider calls models/payprov.c's.
 */
#include <inttypes.h>
#include <string.h>
#include "models/base/log.h"
#include "models/payment.h"
#include "models/providers/payprov.h"
#include "workers/refund.h"

/* Issues one refund; the message names it by refund_id (a positive integer). */
static queue_result_t issue(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload, void *ctx)
{
    pay_refund_t rf;
    char provider_id[PAY_TXID_MAX], err[PAYPROV_ERR_MAX] = "";
    json_t *v = json_object_get(payload, "refund_id");
    if (!json_is_integer(v) || json_integer_value(v) <= 0)
        return QUEUE_POISON;
    int rc = payment_refund_get(db, json_integer_value(v), &rf);
    if (rc == DB_NOROW)
        return QUEUE_POISON;
    if (rc != DB_OK)
        return QUEUE_RETRY;
    if (strcmp(rf.status, "pending") != 0)
        return QUEUE_DONE; /* settled meanwhile (a notification, or an earlier delivery) */
    const payprov_ops_t *ops = payprov_for(db->cfg, rf.provider);
    if (ops == NULL)
        return QUEUE_POISON;
    payprov_ctx_t pc = {.cfg = db->cfg, .db = db};
    int st = ops->refund(&pc, &rf, provider_id, sizeof(provider_id), err, sizeof(err));
    if (st == PAYPROV_PROCESSING)
        return QUEUE_DONE;
    if (st == PAYPROV_E_UNAVAILABLE || st == PAYPROV_E_CONFIG) {
        log_warn("work: refund %" PRId64 " (%s) not issued yet: %s", rf.id, rf.out_refund_no, err);
        return QUEUE_RETRY;
    }
    if (st != PAYPROV_OK)
        log_error("work: refund %" PRId64 " (%s) of %" PRId64 " fen refused by %s: %s; settled as failed", rf.id,
                  rf.out_refund_no, rf.amount_fen, ops->name, err);
    rc = payment_refund_settle_tx(db, rf.out_refund_no, provider_id, st == PAYPROV_OK);
    return rc == DB_OK ? QUEUE_DONE : QUEUE_RETRY;
}

static const queue_kind_t kind = {.group = REFUND_GROUP, .topic = REFUND_TOPIC, .handle = issue};

const queue_kind_t *refund_kind(void)
{
    return &kind;
}
