/*
 * What the payment model and the provider adapters both speak of: the providers, a payment
 * attempt and a refund as stored, and the sizes of their strings. Defined here, below the
 * payment model, so that the adapters (payprov.h) need nothing of the aggregates; the payment
 * model (models/payment.h) includes this and owns the rows. Pure declarations.
 */
#ifndef SF_PAYTYPES_H
#define SF_PAYTYPES_H

#include <stdint.h>

typedef enum pay_provider { PAY_WECHAT = 1, PAY_ALIPAY = 2 } pay_provider_t;

#define PAY_NO_MAX     33  /* a trade or refund number with its NUL (columns hold 32 / 40) */
#define PAY_PREPAY_MAX 129 /* payments.prepay_id with its NUL */
#define PAY_TXID_MAX   65  /* payments.transaction_id with its NUL */
#define PAY_OPENID_MAX 65  /* users.wechat_openid with its NUL */

/* One payment attempt as stored (strings NUL-terminated copies). */
typedef struct pay_attempt {
    int64_t id, order_id, market_id, amount_fen;
    pay_provider_t provider;
    char out_trade_no[PAY_NO_MAX];
    char status[8];                    /* created, paid, closed */
    char transaction_id[PAY_TXID_MAX]; /* "" until paid */
    char prepay_id[PAY_PREPAY_MAX];    /* "" unless WeChat gave one */
    char order_no[PAY_NO_MAX];         /* the order's, for the provider's description */
    char openid[PAY_OPENID_MAX];       /* the consumer's WeChat openid ("" if none): JSAPI's payer */
    int created;                       /* payment_create: 1 if this call inserted it */
} pay_attempt_t;

/* One refund with what the provider needs to issue it. */
typedef struct pay_refund {
    int64_t id, payment_id, order_id, market_id, amount_fen, payment_amount_fen;
    pay_provider_t provider;
    char status[12]; /* pending, succeeded, failed */
    char reason[65];
    char out_refund_no[PAY_NO_MAX + 8];
    char out_trade_no[PAY_NO_MAX];
    char transaction_id[PAY_TXID_MAX];
} pay_refund_t;

#endif
