/*
 * The unpaid-order timeout (see timeout.h). The kinds below are immutable; the handlers
 * run on the consumers' threads inside the transaction queue.c opened. No SQL here: the
 * orders' queries are models/order.c's.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "models/base/log.h"
#include "models/cachever.h"
#include "models/events.h"
#include "models/order.h"
#include "models/payment.h"
#include "models/providers/payprov.h"
#include "workers/timeout.h"

typedef struct timeout_hooks {
    timeout_reconcile_fn reconcile; /* NULL: no payment provider to ask */
} timeout_hooks_t;

/* One 'created' attempt of an order at its deadline (PAYMENTS.md "Reconciliation"): asks the
 * provider; paid → recorded (the order becomes paid, or a second payment is refunded);
 * not paid → closed at the provider, so it cannot be paid later, then here. 1 paid, 0 not
 * paid, -1 unknown (the provider did not answer, or answered what we cannot take). */
static int reconcile_attempt(db_t *db, const pay_attempt_t *a)
{
    payprov_query_t q;
    pay_outcome_t outcome = 0;
    char err[PAYPROV_ERR_MAX] = "";
    const payprov_ops_t *ops = payprov_for(db->cfg, a->provider);
    payprov_ctx_t pc = {.cfg = db->cfg, .db = db};
    if (ops == NULL)
        return -1;
    int st = ops->query(&pc, a, &q, err, sizeof(err));
    if (st == PAYPROV_OK && q.paid) {
        pay_paid_t paid = {.provider = a->provider,
                           .out_trade_no = a->out_trade_no,
                           .transaction_id = q.transaction_id,
                           .amount_fen = q.amount_fen};
        if (payment_record_paid_tx(db, &paid, &outcome) != DB_OK || outcome == PAY_AMOUNT_MISMATCH ||
            outcome == PAY_UNKNOWN_TRADE) {
            log_error("work: payment %s was paid at %s but could not be recorded (outcome %d): left for people",
                      a->out_trade_no, ops->name, (int)outcome);
            return -1;
        }
        log_info("work: payment %s found paid at %s at the order's deadline: recorded", a->out_trade_no, ops->name);
        return 1;
    }
    if (st == PAYPROV_OK)
        st = ops->close(&pc, a, err, sizeof(err));
    if (st != PAYPROV_OK) {
        log_warn("work: order %" PRId64 ": payment %s not reconciled with %s: %s", a->order_id, a->out_trade_no,
                 ops->name, err);
        return -1;
    }
    int rc = payment_close_tx(db, a->id);
    return rc == DB_OK || rc == SF_E_PAYMENT_STATE ? 0 : -1;
}

/* The hook: every 'created' attempt of a pending order that is due is reconciled. */
static int reconcile(db_t *db, redis_t *r, int64_t order_id)
{
    pay_attempt_t attempts[PAY_ATTEMPTS_MAX];
    char status[ORDER_STATUS_NAME_MAX];
    size_t n = 0;
    int due = 0, paid = 0;
    int rc = payment_order_due(db, order_id, status, sizeof(status), &due);
    if (rc == DB_NOROW || (rc == DB_OK && (strcmp(status, "pending_payment") != 0 || !due)))
        return 0; /* the cancel below decides: gone, paid or cancelled meanwhile, or not due yet */
    if (rc != DB_OK || payment_created_attempts(db, order_id, attempts, PAY_ATTEMPTS_MAX, &n) != DB_OK)
        return -1;
    for (size_t i = 0; i < n; i++) {
        int one = reconcile_attempt(db, &attempts[i]);
        if (one < 0)
            return -1;
        paid |= one;
    }
    return paid;
}

/* THE place where the payments issue plugs payment reconciliation in. */
static const timeout_hooks_t hooks = {.reconcile = reconcile};

/* The order id a payload names ("order_id", a positive integer), or 0. */
static int64_t payload_order(const json_t *payload)
{
    json_t *v = json_object_get(payload, "order_id");
    return json_is_integer(v) && json_integer_value(v) > 0 ? json_integer_value(v) : 0;
}

/* order.created carries order_id and expires_at_ms (models/order.c): the job is due then.
 * An order paid or cancelled by then is left alone by the cancel below. */
static queue_result_t schedule(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload,
                               void *ctx)
{
    int64_t order_id = payload_order(payload);
    json_t *due = json_object_get(payload, "expires_at_ms");
    if (order_id == 0 || !json_is_integer(due) || json_integer_value(due) < 0)
        return QUEUE_POISON;
    json_t *job = json_pack("{s:I}", "order_id", (json_int_t)order_id);
    int rc = queue_delay(r, TIMEOUT_TOPIC, order_id, market_id, job, json_integer_value(due));
    json_decref(job);
    return rc == 0 ? QUEUE_DONE : QUEUE_RETRY;
}

/* Whether the last job on this thread changed the order (cancelled it, or found it paid at
 * its deadline), for after_commit: an order paid or cancelled meanwhile is not announced
 * again. */
static __thread int changed;

/* The job's event_id is the order id: each order times out once. */
static queue_result_t cancel(db_t *db, redis_t *r, int64_t order_id, int64_t market_id, const json_t *payload,
                             void *ctx)
{
    changed = 0;
    if (hooks.reconcile != NULL) {
        int paid = hooks.reconcile(db, r, order_id);
        changed = paid > 0;
        if (paid != 0)
            return paid > 0 ? QUEUE_DONE : QUEUE_RETRY;
    }
    int st = order_cancel_unpaid_tx(db, order_id, "system:timeout", "unpaid", 1);
    if (st == DB_OK) {
        changed = 1;
        log_info("work: order %" PRId64 " was not paid in time: cancelled, stock returned", order_id);
        return QUEUE_DONE;
    }
    if (st == SF_E_ORDER_CHANGED || st == DB_NOROW)
        return QUEUE_DONE;  /* paid or cancelled meanwhile, or gone: nothing to do */
    if (st == SF_E_NOT_DUE) /* our clock ran ahead of the database's: a little later */
        return queue_delay(r, TIMEOUT_TOPIC, order_id, market_id, payload, queue_now_ms() + TIMEOUT_REDELAY_MS) == 0
                   ? QUEUE_REQUEUED
                   : QUEUE_RETRY;
    return QUEUE_RETRY;
}

/* Stock came back: the catalogue shows it after the bump. The order was cancelled (or found
 * paid at its deadline): its parties hear of it. Not after "nothing to do" (paid or
 * cancelled meanwhile): those changes announced themselves. */
static void after_commit(db_t *db, redis_t *r, int64_t event_id, int64_t market_id, const json_t *payload, void *ctx)
{
    if (!changed)
        return;
    changed = 0;
    if (cachever_bump_stock(r, market_id, NULL) != 0)
        log_warn("work: order %" PRId64 ": catalogue version of market %" PRId64 " not bumped", event_id, market_id);
    if (events_order_changed(db, r, db->cfg->events_keep, event_id) != 0)
        log_warn("work: order %" PRId64 ": events not emitted: %s", event_id, r->err);
}

static const queue_kind_t scheduler_kind = {
    .group = TIMEOUT_SCHEDULER_GROUP, .topic = TIMEOUT_CREATED_TOPIC, .handle = schedule, .redis_only = 1};
static const queue_kind_t consumer_kind = {
    .group = TIMEOUT_GROUP, .topic = TIMEOUT_TOPIC, .handle = cancel, .after_commit = after_commit};

const queue_kind_t *timeout_scheduler_kind(void)
{
    return &scheduler_kind;
}

const queue_kind_t *timeout_consumer_kind(void)
{
    return &consumer_kind;
}

int timeout_sweep_once(db_t *db, redis_t *r, size_t *handled)
{
    db_rows_t *rows = NULL;
    if (handled != NULL)
        *handled = 0;
    int rc = order_overdue_unpaid(db, TIMEOUT_SWEEP_GRACE_S, TIMEOUT_SWEEP_MAX, &rows);
    if (rc != DB_OK)
        return -2;
    while (db_rows_next(rows)) {
        int64_t order_id = db_rows_i64(rows, 0);
        json_t *payload = json_pack("{s:I}", "order_id", (json_int_t)order_id);
        queue_result_t res = queue_apply(db, r, &consumer_kind, order_id, db_rows_i64(rows, 1), payload);
        json_decref(payload);
        if (res == QUEUE_DONE && handled != NULL)
            (*handled)++;
    }
    db_rows_free(rows);
    return 0;
}

int timeout_sweep_step(queue_env_t *env, void *arg)
{
    size_t n = 0;
    if (timeout_sweep_once(&env->db, &env->redis, &n) != 0)
        return queue_step_failed(env, -2);
    if (n > 0)
        log_info("work: sweep: %zu overdue unpaid orders handled", n);
    return env->cfg->order_sweep_interval_s * 1000;
}
