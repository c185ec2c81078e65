/*
 * Payments and refunds (see payment.h): the attempts with our out_trade_no, recording a
 * verified payment exactly once, the late and double payments refunded automatically, the
 * refunds with our out_refund_no and their settlement, the raw notification log, and the
 * balance every test checks (orders.paid_fen = Σ paid attempts, orders.refunded_fen = Σ
 * refunds not failed, refunded_fen <= paid_fen).
 *
 * Lock order, the same as models/order.c's: the orders row first (FOR UPDATE), then the
 * payment or refund row. A payment or refund is therefore first read without a lock to find
 * its order, and read again under the lock.
 *
 * This model depends on the order model (the transitions a payment causes, the order side of
 * the consumer's cancel), never the reverse. The functions that own a transaction
 * (payment_create, payment_cancel_by_consumer, payment_notify) run it through db_tx().
 *
 * A refund raises orders.refunded_fen when it is requested (so two requests can never exceed
 * what was paid); a refund the provider reports failed gives the amount back to the balance
 * (refunded_fen lowered) and stays 'failed' for people to act on.
 *
 * Worker threads (or tests) with their own db_t; nothing here keeps state between calls and
 * nothing allocated here outlives a call except the caller's json_t.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/log.h"
#include "models/base/money.h"
#include "models/order.h"
#include "models/outbox.h"
#include "models/payment.h"
#include "models/providers/wxpay.h"
#include "models/salelog.h"

#define ACTOR      "system:payment"
#define REASON_MAX 64 /* refunds.reason */
#define ATTEMPT_COLS                                                                                                   \
    "p.id, p.order_id, p.market_id, p.amount_fen, p.provider, p.out_trade_no, p.status, p.transaction_id,"             \
    " p.prepay_id"

/* ================================================================ names */

const char *payment_provider_name(pay_provider_t p)
{
    return p == PAY_WECHAT ? "wechat" : p == PAY_ALIPAY ? "alipay" : NULL;
}

pay_provider_t payment_provider_parse(const char *name)
{
    if (name != NULL && strcmp(name, "wechat") == 0)
        return PAY_WECHAT;
    if (name != NULL && strcmp(name, "alipay") == 0)
        return PAY_ALIPAY;
    return 0;
}

/* ================================================================ helpers */

/* Fills an attempt from a row of ATTEMPT_COLS. */
static void attempt_from_row(const db_rows_t *r, pay_attempt_t *a)
{
    memset(a, 0, sizeof(*a));
    a->id = db_rows_i64(r, 0);
    a->order_id = db_rows_i64(r, 1);
    a->market_id = db_rows_i64(r, 2);
    a->amount_fen = db_rows_i64(r, 3);
    a->provider = payment_provider_parse(db_rows_str(r, 4, NULL));
    db_rows_copy(r, 5, a->out_trade_no, sizeof(a->out_trade_no));
    db_rows_copy(r, 6, a->status, sizeof(a->status));
    db_rows_copy(r, 7, a->transaction_id, sizeof(a->transaction_id));
    db_rows_copy(r, 8, a->prepay_id, sizeof(a->prepay_id));
}

/* A new number: the letter, then 20 random letters and digits. */
static int new_number(char letter, char *buf, size_t len)
{
    if (len < PAY_OUT_TRADE_NO_LEN + 1)
        return DB_ERR;
    buf[0] = letter;
    return wxpay_nonce(buf + 1, PAY_OUT_TRADE_NO_LEN - 1) == WXPAY_OK ? DB_OK : DB_ERR;
}

/* Locks the order row (the first lock of every money change): its status, paid_fen,
 * refunded_fen, market_id, consumer_id. */
static int lock_order(db_t *db, int64_t order_id, db_rows_t **rows)
{
    return db_query_row(db,
                        "SELECT status, paid_fen, refunded_fen, market_id, consumer_id FROM orders"
                        " WHERE id = ? FOR UPDATE",
                        (db_param_t[]){DB_I64(order_id)}, 1, rows);
}

/* ================================================================ attempts */

sf_status_t payment_find(db_t *db, const char *out_trade_no, pay_attempt_t *out)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT " ATTEMPT_COLS " FROM payments p WHERE p.out_trade_no = ?",
                          (db_param_t[]){DB_STR(out_trade_no)}, 1, &rows);
    if (rc == DB_OK)
        attempt_from_row(rows, out);
    db_rows_free(rows);
    return rc;
}

sf_status_t payment_created_attempts(db_t *db, int64_t order_id, pay_attempt_t *out, size_t max, size_t *n)
{
    db_rows_t *rows = NULL;
    *n = 0;
    int rc = db_query(db,
                      "SELECT " ATTEMPT_COLS " FROM payments p WHERE p.order_id = ? AND p.status = 'created'"
                      " ORDER BY p.id LIMIT ?",
                      (db_param_t[]){DB_I64(order_id), DB_I64(max)}, 2, &rows);
    while (rc == DB_OK && db_rows_next(rows) && *n < max)
        attempt_from_row(rows, &out[(*n)++]);
    db_rows_free(rows);
    return rc;
}

/* The consumer's openid (JSAPI's payer), "" when none. */
static int read_openid(db_t *db, int64_t consumer_id, pay_attempt_t *a)
{
    db_rows_t *rows = NULL;
    int rc =
        db_query_row(db, "SELECT wechat_openid FROM users WHERE id = ?", (db_param_t[]){DB_I64(consumer_id)}, 1, &rows);
    if (rc == DB_OK)
        db_rows_copy(rows, 0, a->openid, sizeof(a->openid));
    db_rows_free(rows);
    return rc == DB_NOROW ? DB_OK : rc;
}

/* Inserts a new attempt for the locked order, drawing numbers until one is unique. */
static int insert_attempt(db_t *db, pay_attempt_t *a)
{
    uint64_t id = 0;
    int rc = DB_DUP;
    const char *provider = payment_provider_name(a->provider);
    for (int i = 0; i < PAY_NO_TRIES && rc == DB_DUP; i++) {
        if ((rc = new_number('P', a->out_trade_no, sizeof(a->out_trade_no))) != DB_OK)
            return rc;
        db_param_t p[] = {DB_I64(a->market_id), DB_I64(a->order_id), DB_STR(provider), DB_STR(a->out_trade_no),
                          DB_I64(a->amount_fen)};
        rc = db_exec(db,
                     "INSERT INTO payments (market_id, order_id, provider, out_trade_no, amount_fen)"
                     " VALUES (?, ?, ?, ?, ?)",
                     p, 5, NULL, &id);
    }
    a->id = (int64_t)id;
    snprintf(a->status, sizeof(a->status), "created");
    a->created = 1;
    return rc;
}

/* What payment_create's transaction works on. */
typedef struct create_work {
    int64_t consumer_id, order_id;
    pay_provider_t provider;
    pay_attempt_t *out;
} create_work_t;

/* The body of payment_create (a db_tx body: it starts from an empty *out each run). */
static sf_status_t create_tx(db_t *db, void *ctx)
{
    create_work_t *cw = ctx;
    int64_t consumer_id = cw->consumer_id, order_id = cw->order_id;
    pay_provider_t provider = cw->provider;
    pay_attempt_t *out = cw->out;
    db_rows_t *rows = NULL;
    memset(out, 0, sizeof(*out));
    db_param_t p[] = {DB_I64(order_id), DB_I64(consumer_id), DB_I64(consumer_id)};
    sf_status_t rc = db_query_row(db,
                                  "SELECT status, payable_fen, market_id, order_no, consumer_id FROM orders"
                                  " WHERE id = ? AND (? = 0 OR consumer_id = ?) FOR UPDATE",
                                  p, 3, &rows);
    if (rc != DB_OK)
        goto out;
    consumer_id = db_rows_i64(rows, 4); /* 0 asked for any consumer's: the order's own */
    if (strcmp(db_rows_str(rows, 0, NULL), "pending_payment") != 0) {
        rc = SF_E_NOT_PAYABLE;
        goto out;
    }
    int64_t payable = db_rows_i64(rows, 1), market_id = db_rows_i64(rows, 2);
    char order_no[PAY_NO_MAX];
    db_rows_copy(rows, 3, order_no, sizeof(order_no));
    db_rows_free(rows);
    rows = NULL;
    db_param_t q[] = {DB_I64(order_id), DB_STR(payment_provider_name(provider))};
    rc = db_query_row(db,
                      "SELECT " ATTEMPT_COLS " FROM payments p WHERE p.order_id = ? AND p.provider = ?"
                      " AND p.status = 'created' ORDER BY p.id DESC LIMIT 1",
                      q, 2, &rows);
    if (rc == DB_OK) {
        attempt_from_row(rows, out);
    } else if (rc == DB_NOROW) {
        *out =
            (pay_attempt_t){.order_id = order_id, .market_id = market_id, .amount_fen = payable, .provider = provider};
        rc = insert_attempt(db, out);
    }
    snprintf(out->order_no, sizeof(out->order_no), "%s", order_no);
    if (rc == DB_OK)
        rc = read_openid(db, consumer_id, out);
out:
    db_rows_free(rows);
    return rc;
}

sf_status_t payment_create(db_t *db, int64_t consumer_id, int64_t order_id, pay_provider_t provider, pay_attempt_t *out)
{
    create_work_t cw = {.consumer_id = consumer_id, .order_id = order_id, .provider = provider, .out = out};
    memset(out, 0, sizeof(*out));
    if (payment_provider_name(provider) == NULL)
        return SF_E_INVALID;
    return db_tx(db, create_tx, &cw);
}

sf_status_t payment_set_prepay(db_t *db, int64_t payment_id, const char *prepay_id)
{
    if (prepay_id == NULL || strlen(prepay_id) >= PAY_PREPAY_MAX)
        return SF_E_INVALID;
    return db_exec(db, "UPDATE payments SET prepay_id = ? WHERE id = ? AND status = 'created'",
                   (db_param_t[]){DB_STR(prepay_id), DB_I64(payment_id)}, 2, NULL, NULL);
}

sf_status_t payment_close_tx(db_t *db, int64_t payment_id)
{
    uint64_t n = 0;
    int rc =
        db_exec(db, "UPDATE payments SET status = 'closed', closed_at = NOW(3) WHERE id = ? AND status = 'created'",
                (db_param_t[]){DB_I64(payment_id)}, 1, &n, NULL);
    return rc == DB_OK && n == 0 ? SF_E_PAYMENT_STATE : rc;
}

/* ================================================================ recording a payment */

/* Moves the locked order forward: pending_payment → paid, each vendor order → new, its sale
 * lines (models/salelog.h), and the 'order.paid' outbox row. */
static int order_paid(db_t *db, int64_t order_id, int64_t market_id, int64_t consumer_id)
{
    db_rows_t *rows = NULL;
    int rc = order_transition_tx(db, order_id, "pending_payment", "paid", ACTOR, NULL);
    if (rc == DB_OK)
        rc = db_query(db,
                      "SELECT id FROM vendor_orders WHERE order_id = ? AND status = 'pending_payment'"
                      " ORDER BY id LIMIT ? FOR UPDATE",
                      (db_param_t[]){DB_I64(order_id), DB_I64(CART_MAX_LINES)}, 2, &rows);
    while (rc == DB_OK && db_rows_next(rows))
        rc = vendor_order_transition_tx(db, db_rows_i64(rows, 0), "pending_payment", "new", ACTOR, NULL);
    db_rows_free(rows);
    if (rc == DB_OK)
        rc = salelog_paid_tx(db, order_id, market_id, consumer_id);
    if (rc != DB_OK)
        return rc;
    json_t *payload = json_pack("{s:I, s:I}", "order_id", (json_int_t)order_id, "market_id", (json_int_t)market_id);
    if (payload == NULL)
        return DB_ERR;
    rc = outbox_add(db, market_id, "order.paid", payload, NULL);
    json_decref(payload);
    return rc;
}

/* The attempt row under the order's lock: its status and amount. */
static int lock_attempt(db_t *db, int64_t payment_id, char *status, size_t len, int64_t *amount)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT status, amount_fen FROM payments WHERE id = ? FOR UPDATE",
                          (db_param_t[]){DB_I64(payment_id)}, 1, &rows);
    if (rc == DB_OK) {
        db_rows_copy(rows, 0, status, len);
        *amount = db_rows_i64(rows, 1);
    }
    db_rows_free(rows);
    return rc;
}

/* created/closed → paid with the provider's transaction id; *dup when it was recorded before
 * (by this attempt, or the transaction id by another). */
static int mark_paid(db_t *db, const pay_attempt_t *a, const char *transaction_id, int *dup)
{
    uint64_t n = 0;
    int rc = db_exec(db,
                     "UPDATE payments SET status = 'paid', transaction_id = ?, paid_at = NOW(3)"
                     " WHERE id = ? AND status IN ('created', 'closed')",
                     (db_param_t[]){DB_STR(transaction_id), DB_I64(a->id)}, 2, &n, NULL);
    *dup = rc == DB_DUP || (rc == DB_OK && n == 0);
    if (rc == DB_DUP)
        return DB_OK;
    if (rc != DB_OK || *dup)
        return rc;
    return db_exec(db, "UPDATE orders SET paid_fen = paid_fen + ? WHERE id = ?",
                   (db_param_t[]){DB_I64(a->amount_fen), DB_I64(a->order_id)}, 2, NULL, NULL);
}

/* The body of payment_record_paid_tx once the attempt was found: locks, checks, records. */
static int record_locked(db_t *db, const pay_attempt_t *a, const pay_paid_t *paid, pay_outcome_t *outcome)
{
    db_rows_t *rows = NULL;
    char pstatus[8] = "", ostatus[ORDER_STATUS_NAME_MAX] = "";
    int64_t amount = 0, refund_id = 0, consumer_id = 0;
    int dup = 0;
    int rc = lock_order(db, a->order_id, &rows);
    if (rc == DB_OK) {
        db_rows_copy(rows, 0, ostatus, sizeof(ostatus));
        consumer_id = db_rows_i64(rows, 4);
    }
    db_rows_free(rows);
    if (rc != DB_OK || (rc = lock_attempt(db, a->id, pstatus, sizeof(pstatus), &amount)) != DB_OK)
        return rc;
    if (strcmp(pstatus, "paid") == 0) {
        *outcome = PAY_DUPLICATE;
        return DB_OK;
    }
    if (paid->amount_fen != amount) {
        *outcome = PAY_AMOUNT_MISMATCH;
        return DB_OK;
    }
    if ((rc = mark_paid(db, a, paid->transaction_id, &dup)) != DB_OK || dup) {
        *outcome = PAY_DUPLICATE;
        return rc;
    }
    if (strcmp(ostatus, "pending_payment") == 0) {
        *outcome = PAY_RECORDED;
        return order_paid(db, a->order_id, a->market_id, consumer_id);
    }
    int late = strcmp(ostatus, "cancelled") == 0;
    *outcome = late ? PAY_REFUNDED_LATE : PAY_REFUNDED_DOUBLE;
    return payment_refund_tx(db, a->id, amount, late ? "late_payment" : "double_payment", &refund_id);
}

/* payment_record_paid_tx, telling also the order of the attempt (0 when not ours). */
static sf_status_t record_paid(db_t *db, const pay_paid_t *paid, pay_outcome_t *outcome, int64_t *order_id)
{
    pay_attempt_t a;
    *outcome = PAY_UNKNOWN_TRADE;
    *order_id = 0;
    if (paid == NULL || paid->out_trade_no == NULL || paid->transaction_id == NULL || paid->transaction_id[0] == '\0' ||
        strlen(paid->transaction_id) >= PAY_TXID_MAX)
        return SF_E_INVALID;
    int rc = payment_find(db, paid->out_trade_no, &a);
    if (rc == DB_NOROW || (rc == DB_OK && a.provider != paid->provider))
        return DB_OK; /* not ours: PAY_UNKNOWN_TRADE, nothing written */
    if (rc != DB_OK)
        return rc;
    *order_id = a.order_id;
    return record_locked(db, &a, paid, outcome);
}

sf_status_t payment_record_paid_tx(db_t *db, const pay_paid_t *paid, pay_outcome_t *outcome)
{
    int64_t order_id;
    return record_paid(db, paid, outcome, &order_id);
}

/* ================================================================ refunds */

/* Σ of the attempt's refunds not failed. */
static int refunded_of(db_t *db, int64_t payment_id, int64_t *sum)
{
    db_rows_t *rows = NULL;
    int rc =
        db_query_row(db, "SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE payment_id = ? AND status <> 'failed'",
                     (db_param_t[]){DB_I64(payment_id)}, 1, &rows);
    if (rc == DB_OK)
        *sum = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return rc;
}

/* Inserts the refund row with a fresh out_refund_no (vendor_order_id 0: order-wide). */
static int insert_refund(db_t *db, const pay_attempt_t *a, int64_t vendor_order_id, int64_t amount, const char *reason,
                         int64_t *refund_id, char *no, size_t len)
{
    uint64_t id = 0;
    int rc = DB_DUP;
    for (int i = 0; i < PAY_NO_TRIES && rc == DB_DUP; i++) {
        if ((rc = new_number('R', no, len)) != DB_OK)
            return rc;
        db_param_t p[] = {DB_I64(a->market_id), DB_I64(a->order_id),
                          DB_I64(a->id),        vendor_order_id > 0 ? DB_I64(vendor_order_id) : DB_NULL,
                          DB_STR(no),           DB_I64(amount),
                          DB_STR(reason)};
        rc = db_exec(db,
                     "INSERT INTO refunds (market_id, order_id, payment_id, vendor_order_id, out_refund_no,"
                     " amount_fen, reason) VALUES (?, ?, ?, ?, ?, ?, ?)",
                     p, 7, NULL, &id);
    }
    *refund_id = (int64_t)id;
    return rc;
}

/* The outbox row 'refund.requested' that asks the refund worker to issue a refund (the
 * same payload whether first requested or asked again by housekeeping). */
static int refund_requested_add(db_t *db, int64_t refund_id, const char *no, int64_t payment_id, int64_t order_id,
                                int64_t market_id, int64_t *event_id)
{
    json_t *payload =
        json_pack("{s:I, s:s, s:I, s:I, s:I}", "refund_id", (json_int_t)refund_id, "out_refund_no", no, "payment_id",
                  (json_int_t)payment_id, "order_id", (json_int_t)order_id, "market_id", (json_int_t)market_id);
    if (payload == NULL)
        return DB_ERR;
    int rc = outbox_add(db, market_id, "refund.requested", payload, event_id);
    json_decref(payload);
    return rc;
}

/* Raises refunded_fen, never past paid_fen, and asks the refund worker to issue it. */
static int request_refund(db_t *db, const pay_attempt_t *a, int64_t amount, int64_t refund_id, const char *no)
{
    uint64_t n = 0;
    db_param_t p[] = {DB_I64(amount), DB_I64(a->order_id), DB_I64(amount)};
    int rc =
        db_exec(db, "UPDATE orders SET refunded_fen = refunded_fen + ? WHERE id = ? AND refunded_fen + ? <= paid_fen",
                p, 3, &n, NULL);
    if (rc != DB_OK)
        return rc;
    if (n == 0)
        return SF_E_REFUND_EXCEEDS;
    return refund_requested_add(db, refund_id, no, a->id, a->order_id, a->market_id, NULL);
}

/* Whether amount more may be refunded of the attempt and of its order (both locked). */
static int refund_fits(db_t *db, const pay_attempt_t *a, int64_t attempt_amount, int64_t amount, int64_t paid_fen,
                       int64_t refunded_fen)
{
    int64_t before = 0, after = 0, order_after = 0;
    int rc = refunded_of(db, a->id, &before);
    if (rc != DB_OK)
        return rc;
    if (money_add(before, amount, &after) != MONEY_OK || after > attempt_amount ||
        money_add(refunded_fen, amount, &order_after) != MONEY_OK || order_after > paid_fen)
        return SF_E_REFUND_EXCEEDS;
    return DB_OK;
}

/* payment_refund_tx, the refund naming the vendor order that caused it (0: none). */
static sf_status_t refund_tx(db_t *db, int64_t payment_id, int64_t vendor_order_id, int64_t amount_fen,
                             const char *reason, int64_t *refund_id)
{
    db_rows_t *rows = NULL;
    pay_attempt_t a;
    char pstatus[8] = "", no[PAY_NO_MAX];
    int64_t attempt_amount = 0, paid_fen, refunded_fen;
    if (amount_fen <= 0 || reason == NULL || reason[0] == '\0' || strlen(reason) > REASON_MAX)
        return SF_E_INVALID;
    int rc = db_query_row(db, "SELECT " ATTEMPT_COLS " FROM payments p WHERE p.id = ?",
                          (db_param_t[]){DB_I64(payment_id)}, 1, &rows);
    if (rc == DB_OK)
        attempt_from_row(rows, &a);
    db_rows_free(rows);
    rows = NULL;
    if (rc != DB_OK || (rc = lock_order(db, a.order_id, &rows)) != DB_OK)
        goto out;
    paid_fen = db_rows_i64(rows, 1);
    refunded_fen = db_rows_i64(rows, 2);
    if ((rc = lock_attempt(db, a.id, pstatus, sizeof(pstatus), &attempt_amount)) != DB_OK)
        goto out;
    if (strcmp(pstatus, "paid") != 0) {
        rc = SF_E_PAYMENT_STATE;
        goto out;
    }
    if ((rc = refund_fits(db, &a, attempt_amount, amount_fen, paid_fen, refunded_fen)) != DB_OK ||
        (rc = insert_refund(db, &a, vendor_order_id, amount_fen, reason, refund_id, no, sizeof(no))) != DB_OK)
        goto out;
    rc = request_refund(db, &a, amount_fen, *refund_id, no);
out:
    db_rows_free(rows);
    return rc;
}

sf_status_t payment_refund_tx(db_t *db, int64_t payment_id, int64_t amount_fen, const char *reason, int64_t *refund_id)
{
    return refund_tx(db, payment_id, 0, amount_fen, reason, refund_id);
}

/* Refunds up to cap (INT64_MAX: everything left) of the order's paid attempts, oldest
 * first, each attempt at most what is left of it (its amount less its refunds not failed),
 * the refunds naming vendor_order_id (0: none). *total the sum requested, *first_id the first
 * refund's id (0: none). */
static sf_status_t refund_up_to(db_t *db, int64_t order_id, int64_t vendor_order_id, int64_t cap, const char *reason,
                                int64_t *total, int64_t *first_id)
{
    db_rows_t *rows = NULL;
    int64_t left = cap, id = 0;
    *total = 0;
    *first_id = 0;
    int rc = db_query(db,
                      "SELECT p.id, p.amount_fen - COALESCE((SELECT SUM(r.amount_fen) FROM refunds r"
                      " WHERE r.payment_id = p.id AND r.status <> 'failed'), 0) FROM payments p"
                      " WHERE p.order_id = ? AND p.status = 'paid' ORDER BY p.id LIMIT ?",
                      (db_param_t[]){DB_I64(order_id), DB_I64(PAY_ATTEMPTS_MAX)}, 2, &rows);
    while (rc == DB_OK && left > 0 && db_rows_next(rows)) {
        int64_t part = db_rows_i64(rows, 1) < left ? db_rows_i64(rows, 1) : left;
        if (part <= 0)
            continue;
        rc = refund_tx(db, db_rows_i64(rows, 0), vendor_order_id, part, reason, &id);
        if (rc == DB_OK && *first_id == 0)
            *first_id = id;
        left -= part;
        *total += part;
    }
    db_rows_free(rows);
    return rc;
}

sf_status_t payment_refund_vendor_tx(db_t *db, int64_t vendor_order_id, int64_t amount_fen, const char *reason,
                                     int64_t *refund_id)
{
    db_rows_t *rows = NULL;
    int64_t total = 0;
    *refund_id = 0;
    if (amount_fen <= 0)
        return SF_E_INVALID;
    int rc = db_query_row(db, "SELECT order_id FROM vendor_orders WHERE id = ?",
                          (db_param_t[]){DB_I64(vendor_order_id)}, 1, &rows);
    if (rc == DB_OK)
        rc = refund_up_to(db, db_rows_i64(rows, 0), vendor_order_id, amount_fen, reason, &total, refund_id);
    db_rows_free(rows);
    return rc == DB_OK && total < amount_fen ? SF_E_REFUND_EXCEEDS : rc;
}

sf_status_t payment_refund_all_tx(db_t *db, int64_t order_id, const char *reason, int64_t *total)
{
    int64_t sum = 0, first = 0;
    sf_status_t rc = refund_up_to(db, order_id, 0, INT64_MAX, reason, &sum, &first);
    if (total != NULL)
        *total = rc == DB_OK ? sum : 0;
    return rc;
}

sf_status_t payment_refund_settle_tx(db_t *db, const char *out_refund_no, const char *provider_refund_id, int succeeded)
{
    db_rows_t *rows = NULL, *lock = NULL;
    uint64_t n = 0;
    if (out_refund_no == NULL)
        return DB_NOROW;
    int rc = db_query_row(db, "SELECT id, order_id, amount_fen FROM refunds WHERE out_refund_no = ?",
                          (db_param_t[]){DB_STR(out_refund_no)}, 1, &rows);
    if (rc != DB_OK || (rc = lock_order(db, db_rows_i64(rows, 1), &lock)) != DB_OK)
        goto out;
    db_param_t p[] = {DB_STR(succeeded ? "succeeded" : "failed"),
                      provider_refund_id != NULL && provider_refund_id[0] != '\0' ? DB_STR(provider_refund_id)
                                                                                  : DB_NULL,
                      DB_I64(db_rows_i64(rows, 0))};
    rc = db_exec(db,
                 "UPDATE refunds SET status = ?, provider_refund_id = COALESCE(LEFT(?, 64), provider_refund_id),"
                 " settled_at = NOW(3) WHERE id = ? AND status = 'pending'",
                 p, 3, &n, NULL);
    if (rc == DB_OK && n == 1 && !succeeded) /* the money stayed with us: the balance says so */
        rc = db_exec(db, "UPDATE orders SET refunded_fen = refunded_fen - ? WHERE id = ?",
                     (db_param_t[]){DB_I64(db_rows_i64(rows, 2)), DB_I64(db_rows_i64(rows, 1))}, 2, NULL, NULL);
out:
    db_rows_free(rows);
    db_rows_free(lock);
    return rc;
}

sf_status_t payment_refund_get(db_t *db, int64_t refund_id, pay_refund_t *out)
{
    db_rows_t *rows = NULL;
    memset(out, 0, sizeof(*out));
    int rc = db_query_row(db,
                          "SELECT r.id, r.payment_id, r.order_id, r.market_id, r.amount_fen, p.amount_fen, p.provider,"
                          " r.status, r.reason, r.out_refund_no, p.out_trade_no, p.transaction_id"
                          " FROM refunds r JOIN payments p ON p.id = r.payment_id WHERE r.id = ?",
                          (db_param_t[]){DB_I64(refund_id)}, 1, &rows);
    if (rc == DB_OK) {
        out->id = db_rows_i64(rows, 0);
        out->payment_id = db_rows_i64(rows, 1);
        out->order_id = db_rows_i64(rows, 2);
        out->market_id = db_rows_i64(rows, 3);
        out->amount_fen = db_rows_i64(rows, 4);
        out->payment_amount_fen = db_rows_i64(rows, 5);
        out->provider = payment_provider_parse(db_rows_str(rows, 6, NULL));
        db_rows_copy(rows, 7, out->status, sizeof(out->status));
        db_rows_copy(rows, 8, out->reason, sizeof(out->reason));
        db_rows_copy(rows, 9, out->out_refund_no, sizeof(out->out_refund_no));
        db_rows_copy(rows, 10, out->out_trade_no, sizeof(out->out_trade_no));
        db_rows_copy(rows, 11, out->transaction_id, sizeof(out->transaction_id));
    }
    db_rows_free(rows);
    return rc;
}

/* ================================================================ queries */

sf_status_t payment_balance(db_t *db, int64_t order_id, int64_t *paid, int64_t *refunded)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(order_id), DB_I64(order_id)};
    int rc = db_query_row(
        db,
        "SELECT (SELECT COALESCE(SUM(amount_fen), 0) FROM payments WHERE order_id = ? AND status = 'paid'),"
        " (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds WHERE order_id = ? AND status <> 'failed')",
        p, 2, &rows);
    if (rc == DB_OK) {
        if (paid != NULL)
            *paid = db_rows_i64(rows, 0);
        if (refunded != NULL)
            *refunded = db_rows_i64(rows, 1);
    }
    db_rows_free(rows);
    return rc;
}

sf_status_t payment_order_due(db_t *db, int64_t order_id, char *status, size_t len, int *due)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT status, expires_at <= NOW(3) FROM orders WHERE id = ?",
                          (db_param_t[]){DB_I64(order_id)}, 1, &rows);
    if (rc == DB_OK) {
        db_rows_copy(rows, 0, status, len);
        *due = db_rows_i64(rows, 1) == 1;
    }
    db_rows_free(rows);
    return rc;
}

/* ================================================================ notifications */

/* The body as stored: the text when it is UTF-8 (jansson checks it), else lower-case hex. */
static char *body_text(const char *body, size_t len)
{
    static const char hex[] = "0123456789abcdef";
    json_t *s = body != NULL ? json_stringn(body, len) : NULL;
    char *out = NULL;
    if (body == NULL)
        return strdup("");
    if (s != NULL && memchr(body, '\0', len) == NULL) {
        out = strndup(body, len);
    } else if ((out = malloc(len * 2 + 1)) != NULL) {
        for (size_t i = 0; i < len; i++) {
            out[2 * i] = hex[(unsigned char)body[i] >> 4];
            out[2 * i + 1] = hex[(unsigned char)body[i] & 15];
        }
        out[len * 2] = '\0';
    }
    json_decref(s);
    return out;
}

sf_status_t payment_notification_log(db_t *db, pay_provider_t provider, const char *event_id, const json_t *headers,
                                     const char *body, size_t len, const char *verdict, const char *out_trade_no)
{
    const char *name = payment_provider_name(provider);
    if (name == NULL || verdict == NULL)
        return SF_E_INVALID;
    if (len > PAY_NOTIFY_BODY_MAX)
        len = PAY_NOTIFY_BODY_MAX;
    char *h = headers != NULL ? json_dumps(headers, JSON_COMPACT | JSON_SORT_KEYS) : strdup("{}");
    char *text = body_text(body, len);
    int rc = DB_ERR;
    if (h != NULL && text != NULL) {
        db_param_t p[] = {DB_STR(name),    event_id != NULL ? DB_STR(event_id) : DB_NULL,
                          DB_STR(h),       DB_STR(text),
                          DB_STR(verdict), out_trade_no != NULL ? DB_STR(out_trade_no) : DB_NULL};
        rc = db_exec(db,
                     "INSERT INTO payment_notifications (provider, event_id, headers, body, verdict, out_trade_no)"
                     " VALUES (?, LEFT(?, 128), ?, ?, LEFT(?, 32), LEFT(?, 32))"
                     " ON DUPLICATE KEY UPDATE times_seen = times_seen + 1",
                     p, 6, NULL, NULL);
    }
    free(h);
    free(text);
    return rc;
}

/* ================================================================ stuck refunds */

sf_status_t payment_refunds_stuck(db_t *db, int64_t older_than_s, int64_t *ids, size_t max, size_t *n)
{
    db_rows_t *rows = NULL;
    *n = 0;
    if (older_than_s < 0 || max == 0 || max > PAY_STUCK_MAX)
        return SF_E_INVALID;
    db_param_t p[] = {DB_I64(older_than_s), DB_I64((int64_t)max)};
    int rc = db_query(db,
                      "SELECT id FROM refunds WHERE status = 'pending' AND created_at < NOW(3) - INTERVAL ? SECOND"
                      " ORDER BY id LIMIT ?",
                      p, 2, &rows);
    while (rc == DB_OK && *n < max && db_rows_next(rows))
        ids[(*n)++] = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return rc;
}

sf_status_t payment_refund_redrive(db_t *db, int64_t refund_id, pay_refund_t *rf, int64_t *event_id)
{
    int rc = payment_refund_get(db, refund_id, rf);
    if (rc != DB_OK)
        return rc;
    if (strcmp(rf->status, "pending") != 0)
        return SF_E_PAYMENT_STATE;
    return refund_requested_add(db, rf->id, rf->out_refund_no, rf->payment_id, rf->order_id, rf->market_id, event_id);
}

/* ================================================================ the consumer's cancel */

typedef struct cancel_work {
    int64_t consumer_id, order_id, market_id;
} cancel_work_t;

/* The order side (models/order.c), then the refund of a paid order, in one transaction. */
static sf_status_t cancel_tx(db_t *db, void *ctx)
{
    cancel_work_t *cw = ctx;
    int was_paid = 0;
    sf_status_t rc = order_cancel_by_consumer_tx(db, cw->consumer_id, cw->order_id, &cw->market_id, &was_paid);
    if (rc == DB_OK && was_paid)
        rc = payment_refund_all_tx(db, cw->order_id, "cancelled", NULL);
    return rc;
}

sf_status_t payment_cancel_by_consumer(db_t *db, int64_t consumer_id, int64_t order_id, int64_t *market_id)
{
    cancel_work_t cw = {.consumer_id = consumer_id, .order_id = order_id};
    sf_status_t rc = db_tx(db, cancel_tx, &cw);
    if (rc == DB_OK)
        *market_id = cw.market_id;
    return rc;
}

/* ================================================================ provider notifications */

/* What one notification's transaction found: its verdict, and whether it is acknowledged. */
typedef struct notify_work {
    const pay_notice_t *n;
    pay_outcome_t outcome;
    int64_t order_id;    /* the order of the attempt paid */
    const char *verdict; /* a string literal */
    sf_status_t refusal; /* SF_OK: acknowledged */
    const char *message; /* the refusal's sentence for the provider */
} notify_work_t;

/* Settles the refund a notification reports, inside the transaction. WeChat names a refund
 * of ours or is refused; Alipay's report may name none (then it is only logged). */
static sf_status_t notify_refund(db_t *db, notify_work_t *nw)
{
    const pay_notice_t *n = nw->n;
    int alipay = n->provider == PAY_ALIPAY;
    sf_status_t rc = n->out_refund_no != NULL && n->out_refund_no[0] != '\0'
                         ? payment_refund_settle_tx(db, n->out_refund_no, n->provider_refund_id, n->refund_succeeded)
                         : DB_NOROW;
    if (rc == DB_NOROW && alipay) {
        nw->verdict = "refund_unmatched";
        return DB_OK;
    }
    if (rc == DB_NOROW) {
        nw->verdict = "refused:unknown_refund";
        nw->refusal = SF_E_MALFORMED;
        nw->message = "unknown out_refund_no";
        return DB_OK;
    }
    nw->verdict = alipay ? "refund_settled" : n->refund_succeeded ? "refund_succeeded" : "refund_failed";
    return rc;
}

/* The verdict of a recorded payment, and the refusal when it is not ours. */
static void paid_verdict(notify_work_t *nw)
{
    switch (nw->outcome) {
    case PAY_RECORDED: nw->verdict = "recorded"; return;
    case PAY_DUPLICATE: nw->verdict = "duplicate"; return;
    case PAY_REFUNDED_LATE: nw->verdict = "refunded_late"; return;
    case PAY_REFUNDED_DOUBLE: nw->verdict = "refunded_double"; return;
    case PAY_UNKNOWN_TRADE:
        nw->message = "unknown out_trade_no";
        nw->verdict = "refused:unknown_trade";
        break;
    case PAY_AMOUNT_MISMATCH:
        nw->message = "amount does not match";
        nw->verdict = "refused:amount_mismatch";
        break;
    default:
        nw->message = "outcome";
        nw->verdict = "refused:outcome";
        break;
    }
    nw->refusal = SF_E_MALFORMED;
}

/* The body of payment_notify (a db_tx body: it starts over from the notice each run). A
 * refusal rolls back: an outcome that refuses wrote nothing that may stay. */
static sf_status_t notify_tx(db_t *db, void *ctx)
{
    notify_work_t *nw = ctx;
    const pay_notice_t *n = nw->n;
    nw->outcome = 0;
    nw->refusal = SF_OK;
    nw->message = NULL;
    if (n->kind == PAY_NOTICE_REFUND)
        return notify_refund(db, nw);
    sf_status_t rc = record_paid(db, &n->paid, &nw->outcome, &nw->order_id);
    if (rc != DB_OK)
        return rc;
    paid_verdict(nw);
    if (nw->refusal != SF_OK)
        return nw->refusal;
    if (n->has_refund) /* Alipay: a later copy of the payment that also reports a refund */
        return notify_refund(db, nw);
    return DB_OK;
}

/* Keeps the notification with its verdict (its own statement, after the transaction); the
 * provider's event id only with an acknowledged one, so that a retry that succeeds later
 * gets its own row. A failure to log is logged, never answered. */
static void notify_log(db_t *db, const pay_notice_t *n, const char *verdict, int acknowledged)
{
    const char *no =
        n->out_trade_no != NULL && n->out_trade_no[0] != '\0' && strlen(n->out_trade_no) <= 32 ? n->out_trade_no : NULL;
    const char *body = n->body != NULL ? n->body : "";
    if (payment_notification_log(db, n->provider, acknowledged ? n->event_id : NULL, n->headers, body, n->len, verdict,
                                 no) != DB_OK)
        log_error("%s notify %s: could not log verdict %s: %s", payment_provider_name(n->provider), n->request_id,
                  verdict, db->err);
}

/* A refusal: logged, and d says it to the provider. */
static sf_status_t notify_refused(db_t *db, const pay_notice_t *n, sf_status_t rc, const char *verdict,
                                  const char *message, status_detail_t *d)
{
    notify_log(db, n, verdict, 0);
    status_details(d, rc, json_pack("{s:s}", "verdict", verdict));
    return status_field(d, rc, NULL, message);
}

/* Runs the transaction and logs; a failure of ours answers the provider internal (it calls
 * again), whatever the database said. */
static sf_status_t notify_run(db_t *db, const pay_notice_t *n, status_detail_t *d, int64_t *paid_order)
{
    notify_work_t nw = {.n = n};
    const char *what = n->kind == PAY_NOTICE_REFUND ? "settling" : "recording";
    sf_status_t rc = db_tx(db, notify_tx, &nw);
    if (rc == nw.refusal && rc != SF_OK) {
        log_warn("%s notify %s: %s for out_trade_no %s (%lld fen)", payment_provider_name(n->provider), n->request_id,
                 nw.verdict, n->out_trade_no != NULL ? n->out_trade_no : "-", (long long)n->paid.amount_fen);
        return notify_refused(db, n, rc, nw.verdict, nw.message, d);
    }
    if (rc != DB_OK) {
        log_error("%s notify %s: %s %s failed: %s", payment_provider_name(n->provider), n->request_id, what,
                  n->kind == PAY_NOTICE_REFUND ? n->out_refund_no : n->out_trade_no, db->err);
        return notify_refused(
            db, n, SF_E_INTERNAL, "error:database",
            n->kind == PAY_NOTICE_REFUND ? "could not settle the refund" : "could not record the payment", d);
    }
    if (nw.refusal != SF_OK)
        return notify_refused(db, n, nw.refusal, nw.verdict, nw.message, d);
    notify_log(db, n, nw.verdict, 1);
    if (nw.outcome == PAY_RECORDED)
        *paid_order = nw.order_id;
    return SF_OK;
}

sf_status_t payment_notify(db_t *db, const pay_notice_t *n, status_detail_t *d, int64_t *paid_order)
{
    int64_t ignored;
    if (paid_order == NULL)
        paid_order = &ignored;
    *paid_order = 0;
    switch (n->kind) {
    case PAY_NOTICE_REFUSED: return notify_refused(db, n, n->refusal, n->verdict, n->message, d);
    case PAY_NOTICE_IGNORED: notify_log(db, n, n->verdict, 1); return SF_OK;
    default: return notify_run(db, n, d, paid_order);
    }
}
