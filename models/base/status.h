/*
 * The one contract for outcomes. Every model, provider and data-layer call that can fail in
 * a way a caller must tell apart returns an sf_status_t; the HTTP layer (server/http/errors.c)
 * is the only place that turns one into a status code. An outcome has:
 *   - a kind: one of the generic outcomes (SF_E_INVALID, SF_E_CONFLICT, ...), which is all
 *     the HTTP layer looks at to choose the status code;
 *   - a machine reason: the snake_case "code" of the API's error shape ("out_of_stock");
 *   - a default message, in a sentence, for people.
 * Details (which lines, which field) travel beside the status, as a jansson object the
 * caller owns: see status_detail_t.
 *
 * The generic outcomes come first and are their own kind. The data layer's outcomes
 * (connection lost, deadlock, duplicate key) are kinds of "unavailable" or "conflict" so
 * that a model may simply pass them on. Domain outcomes follow, grouped by the aggregate
 * that produces them. Pure data: safe from any thread. Nothing here knows about HTTP.
 */
#ifndef SF_STATUS_H
#define SF_STATUS_H

#include <jansson.h>

typedef enum sf_status {
    SF_OK = 0,
    /* the generic outcomes: each is its own kind */
    SF_E_MALFORMED,    /* the request cannot be read (bad JSON, bad query syntax) */
    SF_E_UNAUTHORIZED, /* no token, or a bad one; a callback whose signature fails */
    SF_E_FORBIDDEN,    /* wrong role or scope */
    SF_E_NOT_FOUND,    /* no such thing, or not the caller's */
    SF_E_METHOD,       /* the path exists, the method does not */
    SF_E_CONFLICT,     /* the state does not allow it (someone else won) */
    SF_E_TOO_LARGE,    /* the body is over the limit */
    SF_E_MEDIA_TYPE,   /* the body is not application/json */
    SF_E_INVALID,      /* readable, but invalid values */
    SF_E_RATE_LIMITED, /* too many requests */
    SF_E_INTERNAL,     /* a bug or an unexpected failure; details are logged, not shown */
    SF_E_UNAVAILABLE,  /* overloaded, or a dependency is down: try again */
    SF_E_TIMEOUT,      /* the deadline passed before the work finished */

    /* the data layer (models/store): a model passes these on as they are */
    SF_E_DB_GONE,   /* unavailable: the connection was lost inside a transaction, or twice */
    SF_E_DEADLOCK,  /* unavailable: deadlock or lock wait timeout, the transaction rolled back */
    SF_E_DUPLICATE, /* conflict: a unique key already holds that value */
    SF_E_BUSY,      /* unavailable: the value kept changing under us (optimistic retries ran out) */

    /* accounts and sign-in (models/user, models/vendor, models/courier) */
    SF_E_INVALID_CREDENTIALS, /* unauthorized: wrong username or password */
    SF_E_ACCOUNT_DISABLED,    /* unauthorized: the login exists but may not sign in */
    SF_E_INVALID_CODE,        /* unauthorized: WeChat refused the sign-in code */
    SF_E_TOO_MANY_ATTEMPTS,   /* rate limited: too many wrong passwords */
    SF_E_USERNAME_TAKEN,      /* conflict */
    SF_E_NO_MARKET,           /* invalid: market_id names no market */

    /* catalogue, stalls and vendors (models/product, models/vendor, models/guide) */
    SF_E_VENDOR_SUSPENDED,   /* forbidden: the vendor may not trade now */
    SF_E_NO_STALL,           /* conflict: the vendor has no stall to sell from */
    SF_E_NOT_YOUR_STALL,     /* invalid: stall_id is not one of the vendor's stalls */
    SF_E_UNKNOWN_CATEGORY,   /* invalid: no such category in the market */
    SF_E_STALL_NO_TAKEN,     /* conflict: the market already has a stall with that number */
    SF_E_STALL_TAKEN,        /* conflict: the stall already has a vendor */
    SF_E_UNKNOWN_STALL,      /* invalid: no such stall in this market */
    SF_E_STALL_HAS_PRODUCTS, /* conflict: releasing a stall that holds the vendor's products */
    SF_E_TOO_MANY_STAFF,     /* conflict: the vendor has the most staff records allowed */

    /* cart and addresses (models/cart, models/address) */
    SF_E_CART_FULL,          /* invalid: the cart holds as many lines as it may */
    SF_E_TOO_MANY_ADDRESSES, /* invalid: no more addresses may be kept */
    SF_E_OFF_SALE,           /* invalid: the product is not on sale (or its vendor may not trade) */
    SF_E_INSUFFICIENT_STOCK, /* invalid: more than the stock (details: what is available) */
    SF_E_WRONG_MARKET,       /* invalid: the product is sold in another market */

    /* orders (models/order) */
    SF_E_EMPTY_CART,           /* invalid: the cart of this market is empty */
    SF_E_UNKNOWN_ADDRESS,      /* invalid: not one of the consumer's addresses */
    SF_E_ADDRESS_WRONG_MARKET, /* invalid: the address is tied to another market */
    SF_E_ADDRESS_OUT_OF_RANGE, /* invalid: the address is beyond the delivery radius */
    SF_E_LINES_UNAVAILABLE,    /* invalid: some lines cannot be sold now (details: the lines) */
    SF_E_OUT_OF_STOCK,         /* conflict: some lines are short of stock (details: the lines) */
    SF_E_ALREADY_CANCELLED,    /* conflict */
    SF_E_TOO_LATE,             /* conflict: a vendor has accepted the order */
    SF_E_ORDER_CHANGED,        /* conflict: the order changed meanwhile */
    SF_E_NOT_DUE,              /* conflict: the order's deadline has not passed yet */

    /* idempotency keys (models/idempotency) */
    SF_E_IDEMPOTENCY_KEY,         /* invalid: the key is not 1..128 printable ASCII */
    SF_E_IDEMPOTENCY_REUSED,      /* invalid: the key came with another request */
    SF_E_IDEMPOTENCY_IN_PROGRESS, /* conflict: the first request with the key still runs */

    /* payments and refunds (models/payment, models/providers) */
    SF_E_NOT_PAYABLE,          /* conflict: the order is not waiting for payment */
    SF_E_REFUND_EXCEEDS,       /* conflict: refunded would exceed paid */
    SF_E_PAYMENT_STATE,        /* conflict: the payment is not in a state that allows it */
    SF_E_PROVIDER_UNAVAILABLE, /* unavailable: the payment provider did not answer usably */
    SF_E_PROVIDER_REFUSED,     /* conflict: the payment provider said no for good */
    SF_E_PROVIDER_CONFIG,      /* internal: a key, id or URL the provider needs is missing */
    SF_PROVIDER_PROCESSING,    /* ok: the provider accepted it and settles it later (a refund) */

    /* vendor fulfilment (models/fulfil) */
    SF_E_VENDOR_ORDER_STATE, /* conflict: the vendor order is not in a state that allows it */
    SF_E_PICK_LINES,         /* invalid: the picked lines are not the vendor order's, each once */
    SF_E_PICK_MORE,          /* invalid: a counted line may only go down */

    /* couriers and deliveries (models/courier, models/delivery) */
    SF_E_OFF_SHIFT,       /* conflict: the courier is not on shift */
    SF_E_OFFER_GONE,      /* conflict: the offer was taken by another courier, or expired */
    SF_E_DELIVERY_STATE,  /* conflict: the delivery is not in a state that allows it */
    SF_E_NOT_READY,       /* conflict: not every vendor order is ready for pickup */
    SF_E_WRONG_CODE,      /* invalid: the consumer's delivery code is wrong */
    SF_E_DELIVERY_LOCKED, /* conflict: too many wrong codes; the market centre must unlock it */

    /* ratings and complaints (models/feedback) */
    SF_E_NOT_DELIVERED,    /* conflict: the order has not been delivered */
    SF_E_ALREADY_RATED,    /* conflict: the order was rated before */
    SF_E_ALREADY_RESOLVED, /* conflict: the complaint (or the alert) was resolved before */

    /* statistics and the supervision platforms (models/stats, models/platform) */
    SF_E_BAD_SIGNATURE,      /* unauthorized: a platform request's key, time, nonce or signature was refused
                                (which one is never said) */
    SF_E_MARKET_NOT_GRANTED, /* forbidden: the platform client is not granted that market */
    SF_E_CLIENT_STATE,       /* conflict: the platform client is disabled (or already in that state) */

    SF_E__COUNT
} sf_status_t;

/* The generic outcome that `s` is a kind of (SF_OK for SF_OK; SF_E_INTERNAL for a value
 * outside the enum). The HTTP layer maps only these. */
sf_status_t status_kind(sf_status_t s);

/* The machine reason of the error shape ("out_of_stock"); "ok" for SF_OK. */
const char *status_reason(sf_status_t s);

/* The default message, a sentence for people. */
const char *status_message(sf_status_t s);

/* Whether trying the same thing again may succeed (the kinds unavailable and timeout). */
int status_retryable(sf_status_t s);

/*
 * What a refusal needs besides its status: the field at fault and the sentence that says
 * what is wrong with it (for SF_E_INVALID and its kinds), or a JSON object of details
 * (owned here: status_detail_clear() frees it). A caller that needs none passes NULL.
 */
typedef struct status_detail {
    char field[64];   /* "" when the refusal is not about one field */
    char reason[128]; /* what is wrong with the field, or a message overriding the default */
    json_t *details;  /* NULL or a JSON object, owned */
} status_detail_t;

/* Records the field and reason (either may be NULL) and returns s, so a model can write
 * `return status_field(d, SF_E_INVALID, "stall_id", "not one of your stalls");`.
 * d may be NULL. */
sf_status_t status_field(status_detail_t *d, sf_status_t s, const char *field, const char *reason);

/* Records details (stolen; replaces earlier ones) and returns s. d may be NULL (then the
 * details are freed). */
sf_status_t status_details(status_detail_t *d, sf_status_t s, json_t *details);

/* Frees the details and empties d. */
void status_detail_clear(status_detail_t *d);

#endif
