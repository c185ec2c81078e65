/*
 * Payments and refunds: one payment row per attempt (our out_trade_no), the provider's
 * transaction id recorded once, refunds with our out_refund_no, and every notification kept
 * raw with its verdict. An order is paid exactly once; refunded_fen never exceeds paid_fen;
 * the same refund is never issued twice. No HTTP here; worker threads with their own db_t.
 *
 * (The core engineer writes payment.c; the contract below is fixed first because the
 * notification handlers and the workers are written at the same time.)
 */
#ifndef SF_PAYMENT_H
#define SF_PAYMENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "db.h"

typedef enum pay_provider { PAY_WECHAT = 1, PAY_ALIPAY = 2 } pay_provider_t;

/* "wechat" / "alipay" and back (0 for an unknown name). */
const char *payment_provider_name(pay_provider_t p);
pay_provider_t payment_provider_parse(const char *name);

/* A verified "this was paid" from a provider (a notification, or a query during
 * reconciliation). Strings are borrowed. */
typedef struct pay_paid {
    pay_provider_t provider;
    const char *out_trade_no;
    const char *transaction_id;
    int64_t amount_fen;
} pay_paid_t;

typedef enum pay_outcome {
    PAY_RECORDED = 1,      /* the order is paid now: pending_payment → paid, vendor orders → new */
    PAY_DUPLICATE,         /* this transaction was recorded before: nothing changed */
    PAY_REFUNDED_LATE,     /* the order was cancelled: recorded, and a full refund requested */
    PAY_REFUNDED_DOUBLE,   /* the order was already paid by another attempt: recorded, refunded */
    PAY_UNKNOWN_TRADE,     /* no payment with this out_trade_no (nothing written) */
    PAY_AMOUNT_MISMATCH,   /* the amount is not our payment's (nothing written) */
} pay_outcome_t;

/* Records a verified payment and moves the order, all inside the caller's transaction:
 * the payment row created → paid with the transaction id (unique: a duplicate is
 * PAY_DUPLICATE), the order's paid_fen and paid_at, the order pending_payment → paid and each
 * vendor order pending_payment → new (events), an outbox row 'order.paid'; a late or double
 * payment is recorded and refunded in full (payment_refund_tx). DB_OK with *outcome, or a db
 * status (then roll back and let the provider retry). */
int payment_record_paid_tx(db_t *db, const pay_paid_t *paid, pay_outcome_t *outcome);

/* Requests a refund of amount_fen of a payment (reason e.g. "cancelled", "late_payment",
 * "double_payment", "rejected", "weight_difference"), inside the caller's transaction: a
 * refunds row 'pending' with a new out_refund_no, the order's refunded_fen raised (refused
 * with ORDER_E_STATE-like DB_ERR if it would exceed paid_fen), an outbox row
 * 'refund.requested' for the refund worker. DB_OK with *refund_id. */
int payment_refund_tx(db_t *db, int64_t payment_id, int64_t amount_fen, const char *reason, int64_t *refund_id);

/* Settles a refund the provider reports (REFUND.SUCCESS or the adapter's answer):
 * pending → succeeded or failed, once. DB_OK, DB_NOROW for an unknown out_refund_no. */
int payment_refund_settle_tx(db_t *db, const char *out_refund_no, const char *provider_refund_id, int succeeded);

/* Keeps a notification as received (its own statement, outside any transaction, so a
 * refused one is kept too). event_id NULL for one that never verified; a repeated
 * (provider, event_id) raises times_seen instead of adding a row. */
int payment_notification_log(db_t *db, pay_provider_t provider, const char *event_id, const json_t *headers,
                             const char *body, size_t len, const char *verdict, const char *out_trade_no);

#endif
