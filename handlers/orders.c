/*
 * The consumer's orders: checkout (POST /v1/orders, honouring Idempotency-Key), the list and
 * one order, and the cancel before payment. Consumer tokens only (the route flags have the
 * token checked before a handler runs); every query is scoped by the caller's user id, so
 * another consumer's order is simply not found (404). Worker threads.
 *
 * After a checkout or a cancel commits, the market's catalogue version is bumped (product
 * stock is part of the cached catalogue answers) and, after a checkout, the cart emptied;
 * either failing then leaves the order standing and is only logged.
 */
#include <stdlib.h>
#include <string.h>
#include "server/http/api.h"
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/cachever.h"
#include "models/cart.h"
#include "models/idempotency.h"
#include "models/order.h"
#include "models/product.h"

#define ID_MAX 9007199254740992LL /* 2^53: ids are JSON integers JavaScript can hold */

/* ---------------------------------------------------------------- helpers */

/* Replies for a model status that is not DB_OK: the order model's refusals, then the
 * database's. details (stolen, may be NULL) names the refused lines. */
static void fail(api_req_t *req, worker_t *w, int rc, json_t *details)
{
    switch (rc) {
    case ORDER_E_EMPTY:
        api_reply_error(req, SF_E_INVALID, "empty_cart", "the cart of this market is empty", details);
        return;
    case ORDER_E_MARKET:
        json_decref(details);
        api_reply_invalid(req, "market_id", "no such market");
        return;
    case ORDER_E_ADDRESS:
        api_reply_error(req, SF_E_INVALID, "unknown_address", "not one of your addresses", details);
        return;
    case ORDER_E_ADDRESS_MARKET:
        api_reply_error(req, SF_E_INVALID, "address_wrong_market", "the address is for another market", details);
        return;
    case ORDER_E_ADDRESS_RANGE:
        api_reply_error(req, SF_E_INVALID, "address_out_of_range", "the address is beyond the delivery radius",
                        details);
        return;
    case ORDER_E_UNAVAILABLE:
        api_reply_error(req, SF_E_INVALID, "unavailable", "some lines cannot be sold now", details);
        return;
    case ORDER_E_OUT_OF_STOCK:
        api_reply_error(req, SF_E_CONFLICT, "out_of_stock", "some lines are short of stock", details);
        return;
    case ORDER_E_CANCELLED:
        api_reply_error(req, SF_E_CONFLICT, "already_cancelled", "the order is already cancelled", details);
        return;
    case ORDER_E_TOO_LATE:
        api_reply_error(req, SF_E_CONFLICT, "too_late", "a vendor has accepted the order", details);
        return;
    case ORDER_E_STATE: api_reply_error(req, SF_E_CONFLICT, NULL, "the order changed meanwhile", details); return;
    default: json_decref(details); api_reply_db_failure(req, &w->db, rc, "no such order");
    }
}

/* Bumps the catalogue version after stock changed; a failure only delays the public caches
 * (never beyond their max age), so the write still succeeded. */
static void bump(api_req_t *req, worker_t *w, int64_t market_id)
{
    uint64_t version;
    if (cachever_bump(&w->redis, market_id, &version) != 0)
        log_warn("catalogue version of market %lld not bumped: %s", (long long)market_id, w->redis.err);
    else
        api_cache_bumped(req, market_id, version);
}

/* An id field of a body: a JSON integer from 1 to 2^53. NULL or the reason. */
static const char *check_id(const json_t *v, int64_t *out)
{
    if (v == NULL)
        return "is required";
    if (!json_is_integer(v))
        return "must be an integer";
    json_int_t i = json_integer_value(v);
    if (i < 1 || i > ID_MAX)
        return "must be a positive id";
    *out = (int64_t)i;
    return NULL;
}

/* Reads {"market_id", "address_id", "note"?} into in; 0, or -1 after replying 422. */
static int parse_checkout(api_req_t *req, order_checkout_t *in)
{
    const char *key, *why;
    json_t *v;
    json_object_foreach(req->body, key, v)
    {
        if (strcmp(key, "market_id") != 0 && strcmp(key, "address_id") != 0 && strcmp(key, "note") != 0) {
            api_reply_invalid(req, key, "unknown field");
            return -1;
        }
    }
    if ((why = check_id(json_object_get(req->body, "market_id"), &in->market_id)) != NULL) {
        api_reply_invalid(req, "market_id", why);
        return -1;
    }
    if ((why = check_id(json_object_get(req->body, "address_id"), &in->address_id)) != NULL) {
        api_reply_invalid(req, "address_id", why);
        return -1;
    }
    v = json_object_get(req->body, "note");
    in->note = NULL;
    if (v != NULL && !json_is_null(v) && (why = product_check_text(v, 0, ORDER_NOTE_MAX, &in->note)) != NULL) {
        api_reply_invalid(req, "note", why);
        return -1;
    }
    if (in->note != NULL && in->note[0] == '\0')
        in->note = NULL;
    return 0;
}

/* Answers with the order as stored now. */
static void reply_order(api_req_t *req, worker_t *w, int status, int64_t id)
{
    json_t *doc = NULL;
    int rc = order_render(&w->db, id, req->who.user_id, &doc);
    if (rc != DB_OK)
        fail(req, w, rc, NULL);
    else
        api_reply_json(req, status, doc);
}

/* ---------------------------------------------------------------- checkout */

/* The checkout itself: the cart, the model's transaction, then the cart emptied and the
 * catalogue bumped. Sets the reply; *committed tells whether an order now exists. */
static void run_checkout(api_req_t *req, worker_t *w, order_checkout_t *in, int *committed)
{
    cart_line_t lines[CART_MAX_LINES];
    json_t *details = NULL;
    int64_t order_id = 0;
    if (cart_load(&w->redis, in->user_id, in->market_id, lines, &in->nlines) != 0) {
        log_warn("checkout: cart of user %lld not read: %s", (long long)in->user_id, w->redis.err);
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "the cart cannot be read now", NULL);
        return;
    }
    in->lines = lines;
    int rc = order_checkout(&w->db, in, &order_id, &details);
    if (rc != DB_OK) {
        fail(req, w, rc, details);
        return;
    }
    *committed = 1;
    if (cart_clear(&w->redis, in->user_id, in->market_id) != 0)
        log_warn("order %lld placed but the cart of user %lld not emptied: %s", (long long)order_id,
                 (long long)in->user_id, w->redis.err);
    bump(req, w, in->market_id);
    reply_order(req, w, 201, order_id);
}

/* Claims the Idempotency-Key, or answers from it. 1: go on and run; 0: answered. */
static int claim_key(api_req_t *req, worker_t *w, const char *key)
{
    char hash[IDEMPOTENCY_HASH_LEN], *text = NULL;
    int status = 0;
    size_t len = 0;
    if (!idempotency_key_valid(key)) {
        api_reply_invalid(req, "Idempotency-Key", "must be 1 to 128 printable ASCII characters");
        return 0;
    }
    if (idempotency_hash(req->body, hash) != 0) {
        api_reply_error(req, SF_E_INTERNAL, NULL, NULL, NULL);
        return 0;
    }
    int rc = idempotency_begin(&w->db, req->who.user_id, "checkout", key, hash, &status, &text, &len);
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

/* Keeps the answer for the key: every business outcome; a failure worth retrying (5xx)
 * releases the key instead, unless an order was placed (then the claim stays, and a retry
 * waits rather than ordering twice; a stale claim is dropped after IDEMPOTENCY_STALE_S). */
static void settle_key(api_req_t *req, worker_t *w, const char *key, int committed)
{
    int rc;
    if (req->status < 500)
        rc = idempotency_finish(&w->db, req->who.user_id, "checkout", key, req->status, req->out, req->out_len);
    else if (!committed)
        rc = idempotency_abort(&w->db, req->who.user_id, "checkout", key);
    else
        rc = DB_OK;
    if (rc != DB_OK)
        log_warn("checkout: idempotency key of user %lld not settled: %s", (long long)req->who.user_id, w->db.err);
}

static void checkout(api_req_t *req, worker_t *w)
{
    const config_t *cfg = req->cfg;
    const char *key = req->idempotency_key;
    int committed = 0;
    order_checkout_t in = {.user_id = req->who.user_id,
                           .delivery_fee_fen = cfg->order_delivery_fee_fen,
                           .free_delivery_from_fen = cfg->order_free_delivery_from_fen,
                           .radius_m = cfg->order_delivery_radius_m,
                           .unpaid_timeout_s = cfg->order_unpaid_timeout_s};
    if (parse_checkout(req, &in) != 0)
        return;
    if (key != NULL && !claim_key(req, w, key))
        return;
    run_checkout(req, w, &in, &committed);
    if (key != NULL)
        settle_key(req, w, key, committed);
}

/* ---------------------------------------------------------------- queries and cancel */

static void list(api_req_t *req, worker_t *w)
{
    char status[ORDER_STATUS_NAME_MAX], buf[ORDER_CURSOR_MAX], next[ORDER_CURSOR_MAX];
    size_t limit;
    int64_t after_id = 0;
    json_t *items = NULL;
    int rc = api_query(req, "status", status, sizeof(status));
    if (rc < 0 || (rc == 1 && !order_status_valid(status))) {
        api_reply_invalid(req, "status", "must be an order status");
        return;
    }
    const char *filter = rc == 1 ? status : NULL;
    if (api_query_limit(req, ORDER_LIST_DEFAULT, ORDER_LIST_MAX, &limit) != 0)
        return;
    rc = api_query(req, "cursor", buf, sizeof(buf));
    if (rc < 0 || (rc == 1 && order_cursor_decode(buf, &after_id) != 0)) {
        api_reply_invalid(req, "cursor", "is not a cursor of this list");
        return;
    }
    if ((rc = order_list(&w->db, req->who.user_id, filter, limit, after_id, &items, next, sizeof(next))) != DB_OK)
        fail(req, w, rc, NULL);
    else
        api_reply_list(req, items, next);
}

static void get(api_req_t *req, worker_t *w)
{
    int64_t id;
    if (api_param_id(req, 0, &id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such order", NULL);
        return;
    }
    reply_order(req, w, 200, id);
}

static void cancel(api_req_t *req, worker_t *w)
{
    int64_t id, market_id = 0;
    if (api_param_id(req, 0, &id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such order", NULL);
        return;
    }
    int rc = order_cancel_by_consumer(&w->db, req->who.user_id, id, &market_id);
    if (rc != DB_OK) {
        fail(req, w, rc, NULL);
        return;
    }
    bump(req, w, market_id); /* the stock came back */
    reply_order(req, w, 200, id);
}

int orders_register(router_t *r)
{
    if (router_add(r, "POST", "/v1/orders", ROUTE_CONSUMER | ROUTE_BODY_JSON, checkout) != 0 ||
        router_add(r, "GET", "/v1/orders", ROUTE_CONSUMER, list) != 0 ||
        router_add(r, "GET", "/v1/orders/{id}", ROUTE_CONSUMER, get) != 0 ||
        router_add(r, "POST", "/v1/orders/{id}/cancel", ROUTE_CONSUMER, cancel) != 0)
        return -1;
    return 0;
}
