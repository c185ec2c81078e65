/*
 * Payments and refunds: one payment row per attempt (our out_trade_no), the provider's
 * transaction id recorded once, refunds with our out_refund_no, and every notification kept
 * raw with its verdict. An order is paid exactly once; refunded_fen never exceeds paid_fen;
 * the same refund is never issued twice. No HTTP here; worker threads with their own db_t.
 * Every function returns an outcome of models/base/status.h. This model depends on the order
 * model (models/order.h), never the reverse.
 *
 * (The core engineer writes payment.c; the contract below is fixed first because the
 * notification handlers and the workers are written at the same time.)
 */
#ifndef SF_PAYMENT_H
#define SF_PAYMENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/providers/paytypes.h"
#include "models/store/db.h"

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
    PAY_RECORDED = 1,    /* the order is paid now: pending_payment → paid, vendor orders → new */
    PAY_DUPLICATE,       /* this transaction was recorded before: nothing changed */
    PAY_REFUNDED_LATE,   /* the order was cancelled: recorded, and a full refund requested */
    PAY_REFUNDED_DOUBLE, /* the order was already paid by another attempt: recorded, refunded */
    PAY_UNKNOWN_TRADE,   /* no payment with this out_trade_no (nothing written) */
    PAY_AMOUNT_MISMATCH, /* the amount is not our payment's (nothing written) */
} pay_outcome_t;

/* Records a verified payment and moves the order, all inside the caller's transaction:
 * the payment row created → paid with the transaction id (unique: a duplicate is
 * PAY_DUPLICATE), the order's paid_fen and paid_at, the order pending_payment → paid and each
 * vendor order pending_payment → new (events), an outbox row 'order.paid'; a late or double
 * payment is recorded and refunded in full (payment_refund_tx). DB_OK with *outcome, or a db
 * status (then roll back and let the provider retry). */
sf_status_t payment_record_paid_tx(db_t *db, const pay_paid_t *paid, pay_outcome_t *outcome);

/* Requests a refund of amount_fen of a payment (reason e.g. "cancelled", "late_payment",
 * "double_payment", "rejected", "weight_difference"), inside the caller's transaction: a
 * refunds row 'pending' with a new out_refund_no, the order's refunded_fen raised (refused
 * with SF_E_REFUND_EXCEEDS if it would exceed paid_fen), an outbox row
 * 'refund.requested' for the refund worker. DB_OK with *refund_id. */
sf_status_t payment_refund_tx(db_t *db, int64_t payment_id, int64_t amount_fen, const char *reason, int64_t *refund_id);

/* Settles a refund the provider reports (REFUND.SUCCESS or the adapter's answer):
 * pending → succeeded or failed, once. DB_OK, DB_NOROW for an unknown out_refund_no. */
sf_status_t payment_refund_settle_tx(db_t *db, const char *out_refund_no, const char *provider_refund_id,
                                     int succeeded);

/* Keeps a notification as received (its own statement, outside any transaction, so a
 * refused one is kept too). event_id NULL for one that never verified; a repeated
 * (provider, event_id) raises times_seen instead of adding a row. */
sf_status_t payment_notification_log(db_t *db, pay_provider_t provider, const char *event_id, const json_t *headers,
                                     const char *body, size_t len, const char *verdict, const char *out_trade_no);

/* ==== additions by the core (payment.c): beyond the fixed contract above ==== */

#define PAY_OUT_TRADE_NO_LEN  21            /* "P" and 20 letters and digits */
#define PAY_OUT_REFUND_NO_LEN 21            /* "R" and 20 letters and digits */
#define PAY_NO_TRIES          5             /* numbers drawn before giving up on a duplicate (62^20 each) */
#define PAY_ATTEMPTS_MAX      20            /* attempts of one order looked at by reconciliation and refunds */
#define PAY_NOTIFY_BODY_MAX   (1024 * 1024) /* bytes of a notification kept (the callers cap far lower) */

/* Refusals (models/base/status.h): SF_E_NOT_PAYABLE (payment_create: the order is not
 * pending_payment), SF_E_REFUND_EXCEEDS (payment_refund_tx: refunded_fen would exceed
 * paid_fen, nothing written), SF_E_PAYMENT_STATE (payment_refund_tx: the payment is not
 * paid; payment_close_tx: not created), SF_E_INVALID (an amount <= 0, an unknown provider, a
 * reason too long: a caller's bug). */

/* The consumer's payment attempt for an order (own transaction, db_tx, order row locked): the
 * attempt of this provider still 'created' if there is one (a retry gets the same
 * out_trade_no), else a new one for the order's payable_fen. consumer_id 0 means any
 * consumer's (the command line's `sandbox pay`). DB_OK with *out; DB_NOROW (no such order of
 * this consumer's); SF_E_NOT_PAYABLE; SF_E_INVALID; or a db status. */
sf_status_t payment_create(db_t *db, int64_t consumer_id, int64_t order_id, pay_provider_t provider,
                           pay_attempt_t *out);

/* Keeps WeChat's prepay id on a created attempt (own statement). DB_OK or a db status. */
sf_status_t payment_set_prepay(db_t *db, int64_t payment_id, const char *prepay_id);

/* The attempt with this out_trade_no. DB_OK, DB_NOROW, or a db status. */
sf_status_t payment_find(db_t *db, const char *out_trade_no, pay_attempt_t *out);

/* The order's attempts still 'created' (oldest first, at most PAY_ATTEMPTS_MAX) into out;
 * *n how many. DB_OK or a db status. */
sf_status_t payment_created_attempts(db_t *db, int64_t order_id, pay_attempt_t *out, size_t max, size_t *n);

/* created → closed (closed at the provider), inside the caller's transaction. DB_OK;
 * SF_E_PAYMENT_STATE when it was not 'created' (paid meanwhile, or closed before). */
sf_status_t payment_close_tx(db_t *db, int64_t payment_id);

/* Refunds, inside the caller's transaction, what is left of every paid attempt of the order
 * (each attempt's amount less its refunds not failed), with this reason; *total (may be NULL)
 * the sum requested. DB_OK (also when nothing was left) or a status of payment_refund_tx. */
sf_status_t payment_refund_all_tx(db_t *db, int64_t order_id, const char *reason, int64_t *total);

/* Refunds amount_fen caused by one vendor order (a rejection, a lighter weight), inside the
 * caller's transaction: as payment_refund_tx, the refunds row naming vendor_order_id, taken
 * from the order's paid attempts in id order (one row, unless an attempt has less left than
 * that). *refund_id the (first) refund. DB_OK; SF_E_REFUND_EXCEEDS when the paid attempts
 * have less left (nothing may be kept: roll back); SF_E_INVALID for an amount <= 0; or a
 * status of payment_refund_tx. */
sf_status_t payment_refund_vendor_tx(db_t *db, int64_t vendor_order_id, int64_t amount_fen, const char *reason,
                                     int64_t *refund_id);

/* The refund by id (a plain read). DB_OK, DB_NOROW, or a db status. */
sf_status_t payment_refund_get(db_t *db, int64_t refund_id, pay_refund_t *out);

/* What an order's money is, from the payments and refunds rows: *paid the sum of its paid
 * attempts, *refunded the sum of its refunds not failed. Either may be NULL. The orders row's
 * paid_fen and refunded_fen always equal these. DB_OK or a db status. */
sf_status_t payment_balance(db_t *db, int64_t order_id, int64_t *paid, int64_t *refunded);

/* The order's status and whether its expires_at has passed (a plain read), for the timeout's
 * reconciliation. DB_OK, DB_NOROW, or a db status. */
sf_status_t payment_order_due(db_t *db, int64_t order_id, char *status, size_t len, int *due);

/* ---- refunds stuck pending (workers/housekeeping.c) ---- */

#define PAY_STUCK_MAX 100 /* stuck refunds asked again per call */

/* The ids of refunds still 'pending' more than older_than_s seconds after they were
 * requested, oldest first, at most max (<= PAY_STUCK_MAX) into ids; *n how many. DB_OK,
 * SF_E_INVALID, or a db status. */
sf_status_t payment_refunds_stuck(db_t *db, int64_t older_than_s, int64_t *ids, size_t max, size_t *n);

/* Asks the refund worker again to issue a refund still 'pending': a new outbox row
 * 'refund.requested' with the payload payment_refund_tx wrote (its own statement). The
 * provider keys the refund on out_refund_no and settling is idempotent, so asking twice
 * refunds once. *rf gets the refund (for the log); *event_id (may be NULL) the new row's id.
 * DB_OK; DB_NOROW; SF_E_PAYMENT_STATE when it is no longer pending; or a db status. */
sf_status_t payment_refund_redrive(db_t *db, int64_t refund_id, pay_refund_t *rf, int64_t *event_id);

/* ---- the consumer's cancel ---- */

/* The consumer's cancel (API.md), in its own transaction (db_tx): the order side is
 * order_cancel_by_consumer_tx (an unpaid order cancelled, its stock back; a paid one no
 * vendor accepted yet cancelled, the stock of its vendor orders still new back), and a paid
 * order's payment is refunded in full in the same transaction (payment_refund_all_tx,
 * reason "cancelled"). DB_OK with *market_id (for the catalogue bump); DB_NOROW (none, or
 * another consumer's); SF_E_ALREADY_CANCELLED; SF_E_TOO_LATE (a vendor accepted); or a db
 * status. */
sf_status_t payment_cancel_by_consumer(db_t *db, int64_t consumer_id, int64_t order_id, int64_t *market_id);

/* ---- the providers' notifications (handlers/paynotify.c) ---- */

typedef enum pay_notice_kind {
    PAY_NOTICE_REFUSED = 1, /* refused before it said anything (keys, signature, fields): refusal set */
    PAY_NOTICE_IGNORED,     /* verified, and nothing to do (a state that pays nothing): acknowledged */
    PAY_NOTICE_PAID,        /* verified "this was paid": paid set (and has_refund: a refund reported too) */
    PAY_NOTICE_REFUND,      /* verified refund report: out_refund_no, provider_refund_id, refund_succeeded */
} pay_notice_kind_t;

/* One notification as the handler read it. Strings are borrowed. */
typedef struct pay_notice {
    pay_notice_kind_t kind;
    pay_provider_t provider;
    const char *request_id;    /* for the log lines */
    const char *event_id;      /* the provider's id of the notification, or NULL (kept once acknowledged) */
    const char *out_trade_no;  /* for the log of the notification, or NULL */
    pay_paid_t paid;           /* PAY_NOTICE_PAID */
    int has_refund;            /* PAY_NOTICE_PAID: Alipay's later copy that reports a refund too */
    const char *out_refund_no; /* the refund reported; NULL or "": none named */
    const char *provider_refund_id;
    int refund_succeeded;
    sf_status_t refusal;   /* PAY_NOTICE_REFUSED: SF_E_MALFORMED, SF_E_UNAUTHORIZED or SF_E_INTERNAL */
    const char *verdict;   /* PAY_NOTICE_REFUSED and _IGNORED: "refused:<why>", "ignored:<state>" */
    const char *message;   /* PAY_NOTICE_REFUSED: the sentence for the provider */
    const json_t *headers; /* the request's headers, for the log */
    const char *body;      /* the body as received, for the log */
    size_t len;
} pay_notice_t;

/* What a provider's callback asks of us, whole: a payment recorded (payment_record_paid_tx)
 * and, for Alipay, the refund it also reports settled, or a refund settled
 * (payment_refund_settle_tx), in one transaction (db_tx) that a refusal rolls back; then the
 * notification kept with its verdict (payment_notification_log, its own statement). SF_OK
 * when the provider is to be told it was received; otherwise the refusal: SF_E_MALFORMED
 * (not one of our payments or refunds, an amount that does not match, or the notice's own
 * refusal), SF_E_UNAUTHORIZED (the notice's), or SF_E_INTERNAL (our failure: the provider
 * calls again), with d->reason the sentence for the provider and d->details {"verdict"}.
 * *paid_order (may be NULL) gets the order this notification moved to paid, 0 if none (a
 * duplicate, a late or double payment, a refund), so the caller can announce it. */
sf_status_t payment_notify(db_t *db, const pay_notice_t *n, status_detail_t *d, int64_t *paid_order);

#endif
