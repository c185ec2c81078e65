/*
 * The table of outcomes: kind, machine reason and default message of each. Adding an
 * outcome is one line here and one in status.h; the HTTP layer needs no change unless a
 * new kind is added (there are none to add: the kinds are HTTP's own vocabulary).
 */
#include <stdio.h>
#include "models/base/status.h"

static const struct {
    sf_status_t kind;
    const char *reason;
    const char *message;
} table[SF_E__COUNT] = {
    [SF_OK] = {SF_OK, "ok", "ok"},
    [SF_E_MALFORMED] = {SF_E_MALFORMED, "malformed_request", "the request could not be read"},
    [SF_E_UNAUTHORIZED] = {SF_E_UNAUTHORIZED, "unauthorized", "a valid bearer token is required"},
    [SF_E_FORBIDDEN] = {SF_E_FORBIDDEN, "forbidden", "this account may not do that"},
    [SF_E_NOT_FOUND] = {SF_E_NOT_FOUND, "not_found", "no such resource"},
    [SF_E_METHOD] = {SF_E_METHOD, "method_not_allowed", "this path does not accept that method"},
    [SF_E_CONFLICT] = {SF_E_CONFLICT, "conflict", "the current state does not allow that"},
    [SF_E_TOO_LARGE] = {SF_E_TOO_LARGE, "body_too_large", "the request body is too large"},
    [SF_E_MEDIA_TYPE] = {SF_E_MEDIA_TYPE, "unsupported_media_type", "the body must be application/json"},
    [SF_E_INVALID] = {SF_E_INVALID, "invalid", "the request has invalid values"},
    [SF_E_RATE_LIMITED] = {SF_E_RATE_LIMITED, "rate_limited", "too many requests; slow down"},
    [SF_E_INTERNAL] = {SF_E_INTERNAL, "internal", "an internal error occurred"},
    [SF_E_UNAVAILABLE] = {SF_E_UNAVAILABLE, "unavailable", "the service is overloaded or a dependency is down"},
    [SF_E_TIMEOUT] = {SF_E_TIMEOUT, "timeout", "the request took too long"},

    [SF_E_DB_GONE] = {SF_E_UNAVAILABLE, "unavailable", "the service is overloaded or a dependency is down"},
    [SF_E_DEADLOCK] = {SF_E_UNAVAILABLE, "unavailable", "the service is overloaded or a dependency is down"},
    [SF_E_DUPLICATE] = {SF_E_CONFLICT, "conflict", "that already exists"},
    [SF_E_BUSY] = {SF_E_UNAVAILABLE, "unavailable", "the data kept changing; try again"},

    [SF_E_INVALID_CREDENTIALS] = {SF_E_UNAUTHORIZED, "invalid_credentials", "wrong username or password"},
    [SF_E_ACCOUNT_DISABLED] = {SF_E_UNAUTHORIZED, "account_disabled", "this account may not sign in"},
    [SF_E_INVALID_CODE] = {SF_E_UNAUTHORIZED, "invalid_code", "the sign-in code was refused"},
    [SF_E_TOO_MANY_ATTEMPTS] = {SF_E_RATE_LIMITED, "too_many_attempts", "too many failed sign-ins; wait"},
    [SF_E_USERNAME_TAKEN] = {SF_E_CONFLICT, "username_taken", "that username is taken"},
    [SF_E_NO_MARKET] = {SF_E_INVALID, "invalid", "no such market"},

    [SF_E_VENDOR_SUSPENDED] = {SF_E_FORBIDDEN, "vendor_suspended", "the vendor may not trade now"},
    [SF_E_NO_STALL] = {SF_E_CONFLICT, "no_stall", "the vendor has no stall to sell from"},
    [SF_E_NOT_YOUR_STALL] = {SF_E_INVALID, "invalid", "not one of your stalls"},
    [SF_E_UNKNOWN_CATEGORY] = {SF_E_INVALID, "invalid", "no such category"},
    [SF_E_STALL_NO_TAKEN] = {SF_E_CONFLICT, "stall_no_taken", "this market already has a stall with that number"},
    [SF_E_STALL_TAKEN] = {SF_E_CONFLICT, "stall_taken", "the stall already has a vendor"},
    [SF_E_UNKNOWN_STALL] = {SF_E_INVALID, "unknown_stall", "no such stall in this market"},
    [SF_E_STALL_HAS_PRODUCTS] = {SF_E_CONFLICT, "stall_has_products", "the vendor still has products at that stall"},
    [SF_E_TOO_MANY_STAFF] = {SF_E_CONFLICT, "too_many_staff", "the vendor has the most staff records allowed"},

    [SF_E_CART_FULL] = {SF_E_INVALID, "cart_full", "the cart holds as many lines as it may"},
    [SF_E_TOO_MANY_ADDRESSES] = {SF_E_INVALID, "too_many_addresses", "no more addresses may be kept"},
    [SF_E_OFF_SALE] = {SF_E_INVALID, "off_sale", "the product is not on sale"},
    [SF_E_INSUFFICIENT_STOCK] = {SF_E_INVALID, "insufficient_stock", "not that much in stock"},
    [SF_E_WRONG_MARKET] = {SF_E_INVALID, "wrong_market", "the product is sold in another market"},

    [SF_E_EMPTY_CART] = {SF_E_INVALID, "empty_cart", "the cart of this market is empty"},
    [SF_E_UNKNOWN_ADDRESS] = {SF_E_INVALID, "unknown_address", "not one of your addresses"},
    [SF_E_ADDRESS_WRONG_MARKET] = {SF_E_INVALID, "address_wrong_market", "the address is for another market"},
    [SF_E_ADDRESS_OUT_OF_RANGE] = {SF_E_INVALID, "address_out_of_range", "the address is beyond the delivery radius"},
    [SF_E_LINES_UNAVAILABLE] = {SF_E_INVALID, "unavailable", "some lines cannot be sold now"},
    [SF_E_OUT_OF_STOCK] = {SF_E_CONFLICT, "out_of_stock", "some lines are short of stock"},
    [SF_E_ALREADY_CANCELLED] = {SF_E_CONFLICT, "already_cancelled", "the order is already cancelled"},
    [SF_E_TOO_LATE] = {SF_E_CONFLICT, "too_late", "a vendor has accepted the order"},
    [SF_E_ORDER_CHANGED] = {SF_E_CONFLICT, "conflict", "the order changed meanwhile"},
    [SF_E_NOT_DUE] = {SF_E_CONFLICT, "conflict", "the order's deadline has not passed yet"},

    [SF_E_IDEMPOTENCY_KEY] = {SF_E_INVALID, "invalid", "must be 1 to 128 printable ASCII characters"},
    [SF_E_IDEMPOTENCY_REUSED] = {SF_E_INVALID, "idempotency_key_reused", "the key was used with another request"},
    [SF_E_IDEMPOTENCY_IN_PROGRESS] = {SF_E_CONFLICT, "idempotency_in_progress",
                                      "a request with this key is still running"},

    [SF_E_NOT_PAYABLE] = {SF_E_CONFLICT, "not_payable", "the order is not waiting for payment"},
    [SF_E_REFUND_EXCEEDS] = {SF_E_CONFLICT, "refund_exceeds", "the refunds would exceed what was paid"},
    [SF_E_PAYMENT_STATE] = {SF_E_CONFLICT, "conflict", "the payment is not in a state that allows it"},
    [SF_E_PROVIDER_UNAVAILABLE] = {SF_E_UNAVAILABLE, "provider_unavailable",
                                   "the payment provider cannot be reached now"},
    [SF_E_PROVIDER_REFUSED] = {SF_E_CONFLICT, "provider_refused", "the payment provider refused"},
    [SF_E_PROVIDER_CONFIG] = {SF_E_INTERNAL, "internal", "an internal error occurred"},
    [SF_PROVIDER_PROCESSING] = {SF_OK, "processing", "the provider accepted it and settles it later"},

    [SF_E_VENDOR_ORDER_STATE] = {SF_E_CONFLICT, "vendor_order_state",
                                 "the vendor order is not in a state that allows it"},
    [SF_E_PICK_LINES] = {SF_E_INVALID, "invalid", "name every line of the vendor order once"},
    [SF_E_PICK_MORE] = {SF_E_INVALID, "invalid", "a counted line may only go down"},

    [SF_E_OFF_SHIFT] = {SF_E_CONFLICT, "off_shift", "the courier is not on shift"},
    [SF_E_OFFER_GONE] = {SF_E_CONFLICT, "offer_gone", "the offer was taken by another courier or has expired"},
    [SF_E_DELIVERY_STATE] = {SF_E_CONFLICT, "delivery_state", "the delivery is not in a state that allows it"},
    [SF_E_NOT_READY] = {SF_E_CONFLICT, "not_ready", "not every vendor order is ready for pickup"},
    [SF_E_WRONG_CODE] = {SF_E_INVALID, "wrong_code", "the delivery code is wrong"},
    [SF_E_DELIVERY_LOCKED] = {SF_E_CONFLICT, "delivery_locked",
                              "too many wrong codes: the market centre must unlock the delivery"},

    [SF_E_NOT_DELIVERED] = {SF_E_CONFLICT, "not_delivered", "the order has not been delivered yet"},
    [SF_E_ALREADY_RATED] = {SF_E_CONFLICT, "already_rated", "the order was rated before"},
    [SF_E_ALREADY_RESOLVED] = {SF_E_CONFLICT, "already_resolved", "it was resolved before"},

    [SF_E_BAD_SIGNATURE] = {SF_E_UNAUTHORIZED, "invalid_signature",
                            "the request is not signed as API.md says by an active client"},
    [SF_E_MARKET_NOT_GRANTED] = {SF_E_FORBIDDEN, "market_not_granted", "this client is not granted that market"},
    [SF_E_CLIENT_STATE] = {SF_E_CONFLICT, "conflict", "the platform client is not in a state that allows it"},
};

static int known(sf_status_t s)
{
    return (int)s >= 0 && s < SF_E__COUNT && table[s].reason != NULL;
}

sf_status_t status_kind(sf_status_t s)
{
    return known(s) ? table[s].kind : SF_E_INTERNAL;
}

const char *status_reason(sf_status_t s)
{
    return known(s) ? table[s].reason : "internal";
}

const char *status_message(sf_status_t s)
{
    return known(s) ? table[s].message : table[SF_E_INTERNAL].message;
}

int status_retryable(sf_status_t s)
{
    sf_status_t k = status_kind(s);
    return k == SF_E_UNAVAILABLE || k == SF_E_TIMEOUT;
}

sf_status_t status_field(status_detail_t *d, sf_status_t s, const char *field, const char *reason)
{
    if (d != NULL) {
        snprintf(d->field, sizeof(d->field), "%s", field != NULL ? field : "");
        snprintf(d->reason, sizeof(d->reason), "%s", reason != NULL ? reason : "");
    }
    return s;
}

sf_status_t status_details(status_detail_t *d, sf_status_t s, json_t *details)
{
    if (d == NULL) {
        json_decref(details);
        return s;
    }
    json_decref(d->details);
    d->details = details;
    return s;
}

void status_detail_clear(status_detail_t *d)
{
    json_decref(d->details);
    d->details = NULL;
    d->field[0] = '\0';
    d->reason[0] = '\0';
}
