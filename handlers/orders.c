/*
 * The consumer's orders: checkout (POST /v1/orders, honouring Idempotency-Key), the list and
 * one order, and the cancel before payment. Consumer tokens only (the route flags have the
 * token checked before a handler runs); every query is scoped by the caller's user id, so
 * another consumer's order is simply not found (404). Worker threads.
 *
 * After a checkout or a cancel commits, the market's catalogue version is bumped (product
 * stock is part of the cached catalogue answers) and, after a checkout, the cart emptied (both
 * in one Redis call, cart_checked_out); failing then leaves the order standing and is only
 * logged.
 *
 * Each route reads its inputs with the validation kit, calls the models, and replies once
 * at the end; a refusal is the model's outcome, rendered by api_reply_status().
 */
#include <stdlib.h>
#include <string.h>
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/cachever.h"
#include "models/cart.h"
#include "models/courier.h"
#include "models/events.h"
#include "models/order.h"
#include "models/payment.h"
#include "server/http/api.h"
#include "server/http/idemkey.h"
#include "server/http/valid.h"

/* A checkout note: 0..ORDER_NOTE_MAX code points of one line, no space at either end. */
static const valid_text_t note_text = {.min = 0, .max = ORDER_NOTE_MAX, .trimmed = 1};

/* ---------------------------------------------------------------- helpers */

/* An order that is not found is "no such order" (another consumer's is not found either). */
static sf_status_t order_outcome(sf_status_t rc, status_detail_t *d)
{
    if (rc == SF_E_NOT_FOUND && d->reason[0] == '\0')
        status_field(d, rc, NULL, "no such order");
    return rc;
}

/* Bumps the catalogue version after the stock of the lines of order doc (may be NULL) came
 * back (a stock bump: models/cachever.h); a failure only delays the public caches (never
 * beyond their max age), so the write still succeeded. */
static void bump(api_req_t *req, worker_t *w, int64_t market_id, const json_t *doc)
{
    int64_t ids[CART_MAX_LINES];
    size_t n = 0;
    json_t *vos = json_object_get(doc, "vendor_orders");
    for (size_t i = 0; i < json_array_size(vos); i++) {
        json_t *lines = json_object_get(json_array_get(vos, i), "lines");
        for (size_t j = 0; j < json_array_size(lines) && n < CART_MAX_LINES; j++)
            ids[n++] = json_integer_value(json_object_get(json_array_get(lines, j), "product_id"));
    }
    uint64_t version;
    if (cachever_bump_stock(&w->redis, market_id, &version) != 0)
        log_warn("catalogue version of market %lld not bumped: %s", (long long)market_id, w->redis.err);
    else
        api_cache_stock_bumped(req, market_id, version, ids, n);
}

/* Reads {"market_id", "address_id", "note"?} into in. SF_OK, or SF_E_INVALID with d. */
static sf_status_t parse_checkout(const api_req_t *req, order_checkout_t *in, status_detail_t *d)
{
    static const char *const keys[] = {"market_id", "address_id", "note", NULL};
    in->note = NULL;
    if (valid_only_keys(req->body, keys, "", d) != 0 ||
        valid_id(req->body, "market_id", NULL, 1, &in->market_id, d) < 0 ||
        valid_id(req->body, "address_id", NULL, 1, &in->address_id, d) < 0 ||
        valid_str(req->body, "note", NULL, 0, 1, &note_text, &in->note, d) < 0)
        return SF_E_INVALID;
    if (in->note != NULL && in->note[0] == '\0')
        in->note = NULL;
    return SF_OK;
}

/* The order as stored now, for the answer. */
static sf_status_t render(worker_t *w, int64_t consumer_id, int64_t id, json_t **doc, status_detail_t *d)
{
    sf_status_t rc = order_outcome(order_render(&w->db, id, consumer_id, doc), d);
    if (rc == SF_OK)
        courier_fill_positions(&w->redis, *doc); /* the courier's last position, from Redis */
    return rc;
}

/* ---------------------------------------------------------------- checkout */

/* The checkout itself: the cart, the model's transaction, then the cart emptied and the
 * catalogue bumped; *doc the order as the transaction wrote it (no read after it). With an
 * Idempotency-Key the transaction also kept the answer's bytes for the key: k replies with
 * them. *committed tells whether an order now exists. */
static sf_status_t run_checkout(api_req_t *req, worker_t *w, order_checkout_t *in, idemkey_t *k, json_t **doc,
                                int *committed, status_detail_t *d)
{
    cart_line_t lines[CART_MAX_LINES];
    int64_t order_id = 0;
    char *text = NULL;
    size_t len = 0;
    order_idem_t idem = {.scope = k->scope, .key = k->claimed ? k->key : NULL, .dump = api_json_text};
    if (cart_load(&w->redis, in->user_id, in->market_id, lines, &in->nlines) != 0) {
        log_warn("checkout: cart of user %lld not read: %s", (long long)in->user_id, w->redis.err);
        return status_field(d, SF_E_UNAVAILABLE, NULL, "the cart cannot be read now");
    }
    in->lines = lines;
    sf_status_t rc = order_checkout_answer(&w->db, in, &idem, &order_id, doc, &text, &len, d);
    if (rc != SF_OK)
        return rc;
    *committed = 1;
    if (text != NULL)
        idemkey_kept(k, 201, text, len);
    uint64_t version;
    int64_t ids[CART_MAX_LINES];
    for (size_t i = 0; i < in->nlines; i++)
        ids[i] = lines[i].product_id;
    if (cart_checked_out(&w->redis, in->user_id, in->market_id, &version) != 0)
        log_warn("order %lld placed but the cart of user %lld not emptied nor the catalogue of market %lld bumped: %s",
                 (long long)order_id, (long long)in->user_id, (long long)in->market_id, w->redis.err);
    else
        api_cache_stock_bumped(req, in->market_id, version, ids, in->nlines);
    return SF_OK;
}

static void checkout(api_req_t *req, worker_t *w)
{
    const config_t *cfg = req->cfg;
    status_detail_t d = {0};
    idemkey_t k = {0};
    json_t *doc = NULL;
    int committed = 0;
    order_checkout_t in = {.user_id = req->who.user_id,
                           .delivery_fee_fen = cfg->order_delivery_fee_fen,
                           .free_delivery_from_fen = cfg->order_free_delivery_from_fen,
                           .radius_m = cfg->order_delivery_radius_m,
                           .unpaid_timeout_s = cfg->order_unpaid_timeout_s};
    sf_status_t rc = parse_checkout(req, &in, &d);
    if (rc == SF_OK)
        rc = idemkey_begin(req, w, &k, "checkout", req->body, &d);
    if (rc == SF_OK && !idemkey_replays(&k))
        rc = run_checkout(req, w, &in, &k, &doc, &committed, &d);
    if (idemkey_reply(req, &k))
        json_decref(doc); /* a first answer, or the one this checkout kept */
    else
        api_reply_result(req, w, rc, &d, 201, doc);
    idemkey_settle(req, w, &k, committed);
}

/* ---------------------------------------------------------------- queries and cancel */

static void list(api_req_t *req, worker_t *w)
{
    char next[ORDER_CURSOR_MAX];
    const char *const *statuses = order_status_names();
    status_detail_t d = {0};
    valid_page_t pg;
    json_t *items = NULL;
    sf_status_t rc =
        valid_query_page(req, "status", statuses, ORDER_LIST_DEFAULT, ORDER_LIST_MAX, ORDER_CURSOR_KIND, &pg, &d);
    if (rc == SF_OK)
        rc = order_list(&w->db, req->who.user_id, pg.filter >= 0 ? statuses[pg.filter] : NULL, pg.limit, pg.after_id,
                        &items, next, sizeof(next));
    if (rc == SF_OK)
        courier_fill_positions(&w->redis, items); /* the couriers' last positions, from Redis */
    api_reply_page(req, w, rc, &d, items, next);
}

static void get(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t id = 0;
    sf_status_t rc = order_outcome(SF_E_NOT_FOUND, &d);
    if (valid_path_id(req, 0, &id) == 0)
        rc = render(w, req->who.user_id, id, &doc, &d);
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* The cancel is the payment model's: a paid order is refunded in the same transaction. */
static void cancel(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t id = 0, market_id = 0;
    sf_status_t rc = order_outcome(SF_E_NOT_FOUND, &d);
    if (valid_path_id(req, 0, &id) == 0)
        rc = order_outcome(payment_cancel_by_consumer(&w->db, req->who.user_id, id, &market_id), &d);
    if (rc == SF_OK) {
        if (events_order_changed(&w->db, &w->redis, req->cfg->events_keep, id) != 0)
            log_warn("cancel %s: order %lld cancelled, events not emitted: %s", req->request_id, (long long)id,
                     w->redis.err);
        rc = render(w, req->who.user_id, id, &doc, &d);
        bump(req, w, market_id, doc); /* the stock of its lines came back */
    }
    api_reply_result(req, w, rc, &d, 200, doc);
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
