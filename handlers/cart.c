/*
 * The consumer's cart (GET/DELETE /v1/cart, PUT/DELETE /v1/cart/items/{id}) and addresses
 * (GET/POST /v1/addresses). Consumer tokens only (the route flags have the token checked
 * before a handler runs); everything is keyed by the caller's user id, so another
 * consumer's cart or address is simply never found. Worker threads.
 *
 * The cart lives in Redis (models/cart.h) and is priced from MariaDB on every answer: each
 * cart route answers with the whole cart as GET shows it. Redis down is 503 with
 * Retry-After, as MariaDB down is. Each route's steps return outcomes, and the route replies
 * once at its end.
 */
#include <string.h>
#include "server/http/api.h"
#include "server/http/valid.h"
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/address.h"
#include "models/cart.h"
#include "models/market.h"

/* ---------------------------------------------------------------- helpers */

/* A consumer token always names its user; one that does not is refused, not trusted. */
static sf_status_t consumer(const api_req_t *req, status_detail_t *d)
{
    return req->who.user_id > 0 ? SF_OK : status_field(d, SF_E_FORBIDDEN, NULL, "not a consumer account");
}

/* Redis failed: logged here (w->redis.err), answered 503 with Retry-After. */
static sf_status_t redis_failed(const api_req_t *req, worker_t *w)
{
    log_warn("%s: redis: %s", req->route != NULL ? req->route->pattern : "?", w->redis.err);
    return SF_E_UNAVAILABLE;
}

/* ?market_id= of an existing market: SF_OK with *id (*id 0 when absent and not required). */
static sf_status_t query_market(const api_req_t *req, worker_t *w, int need, int64_t *id, status_detail_t *d)
{
    int rc = valid_query_id(req, "market_id", id, d);
    if (rc < 0)
        return status_field(d, SF_E_INVALID, "market_id", "must be a market id");
    if (rc == 0)
        return need ? status_field(d, SF_E_INVALID, "market_id", "is required") : SF_OK;
    sf_status_t st = market_exists(&w->db, *id);
    return st == SF_E_NOT_FOUND ? status_field(d, st, NULL, "no such market") : st;
}

/* The caller's cart of a market, priced now, into *doc. */
static sf_status_t priced_cart(const api_req_t *req, worker_t *w, int64_t market_id, json_t **doc)
{
    cart_line_t lines[CART_MAX_LINES];
    size_t n = 0;
    cart_fees_t fees = {.delivery_fee_fen = req->cfg->order_delivery_fee_fen,
                        .free_delivery_from_fen = req->cfg->order_free_delivery_from_fen};
    if (cart_load(&w->redis, req->who.user_id, market_id, lines, &n) != 0)
        return redis_failed(req, w);
    return cart_render(&w->db, market_id, lines, n, &fees, doc);
}

/* A cart change (PUT or DELETE of a line) made and the cart rendered, in one model call. */
static sf_status_t change(const api_req_t *req, worker_t *w, cart_change_t *c, json_t **doc, status_detail_t *d)
{
    cart_fees_t fees = {.delivery_fee_fen = req->cfg->order_delivery_fee_fen,
                        .free_delivery_from_fen = req->cfg->order_free_delivery_from_fen};
    c->user_id = req->who.user_id;
    sf_status_t rc = cart_change(&w->db, &w->redis, c, &fees, doc, d);
    return rc == SF_E_UNAVAILABLE ? redis_failed(req, w) : rc;
}

/* ---------------------------------------------------------------- cart routes */

static void show(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t market_id = 0;
    json_t *doc = NULL;
    sf_status_t rc = consumer(req, &d);
    if (rc == SF_OK)
        rc = query_market(req, w, 1, &market_id, &d);
    if (rc == SF_OK)
        rc = priced_cart(req, w, market_id, &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* Reads {"qty", "market_id"?}: SF_OK, or SF_E_INVALID with d. */
static sf_status_t parse_put(const api_req_t *req, int64_t *qty, int64_t *market_id, status_detail_t *d)
{
    cart_invalid_t bad;
    if (cart_parse_put(req->body, qty, market_id, &bad) == 0)
        return SF_OK;
    return status_field(d, SF_E_INVALID, bad.field, bad.reason);
}

static void put_item(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    cart_change_t c = {.checked = 1};
    json_t *doc = NULL;
    sf_status_t rc = consumer(req, &d);
    if (rc == SF_OK && valid_path_id(req, 0, &c.product_id) != 0)
        rc = status_field(&d, SF_E_NOT_FOUND, NULL, "no such product");
    if (rc == SF_OK)
        rc = parse_put(req, &c.qty, &c.market_id, &d);
    if (rc == SF_OK)
        rc = change(req, w, &c, &doc, &d);
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* The product may be gone from the catalogue while its line is still in the cart, so the
 * cart is found by ?market_id= when given, by the product's market otherwise. */
static void delete_item(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    cart_change_t c = {.checked = 0};
    json_t *doc = NULL;
    sf_status_t rc = consumer(req, &d);
    if (rc == SF_OK && valid_path_id(req, 0, &c.product_id) != 0)
        rc = status_field(&d, SF_E_NOT_FOUND, NULL, "no such product");
    if (rc == SF_OK)
        rc = query_market(req, w, 0, &c.market_id, &d);
    if (rc == SF_OK)
        rc = change(req, w, &c, &doc, &d);
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void empty(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t market_id = 0;
    json_t *doc = NULL;
    sf_status_t rc = consumer(req, &d);
    if (rc == SF_OK)
        rc = query_market(req, w, 1, &market_id, &d);
    if (rc == SF_OK && cart_clear(&w->redis, req->who.user_id, market_id) != 0)
        rc = redis_failed(req, w);
    if (rc == SF_OK)
        rc = priced_cart(req, w, market_id, &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* ---------------------------------------------------------------- address routes */

static void create_address(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    address_input_t in;
    address_invalid_t bad;
    address_t a;
    int64_t id = 0;
    sf_status_t rc = consumer(req, &d);
    if (rc == SF_OK && address_parse(req->body, &in, &bad) != 0)
        rc = status_field(&d, SF_E_INVALID, bad.field, bad.reason);
    if (rc == SF_OK)
        rc = address_create(&w->db, req->who.user_id, &in, &id);
    if (rc == SF_OK)
        rc = address_get_for_order(&w->db, req->who.user_id, id, &a);
    if (rc == SF_E_TOO_MANY_ADDRESSES)
        status_details(&d, rc, json_pack("{s:i}", "max", ADDRESS_PER_USER));
    if (rc == SF_E_NO_MARKET)
        status_field(&d, rc, "market_id", NULL);
    api_reply_result(req, w, rc, &d, 201, rc == SF_OK ? address_json(&a) : NULL);
}

static void list_addresses(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t market_id = 0;
    json_t *items = NULL;
    sf_status_t rc = consumer(req, &d);
    if (rc == SF_OK)
        rc = query_market(req, w, 0, &market_id, &d);
    if (rc == SF_OK)
        rc = address_list(&w->db, req->who.user_id, market_id, &items);
    api_reply_page(req, w, rc, &d, items, NULL);
}

int cart_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/cart", ROUTE_CONSUMER, show) != 0 ||
        router_add(r, "DELETE", "/v1/cart", ROUTE_CONSUMER, empty) != 0 ||
        router_add(r, "PUT", "/v1/cart/items/{product_id}", ROUTE_CONSUMER | ROUTE_BODY_JSON, put_item) != 0 ||
        router_add(r, "DELETE", "/v1/cart/items/{product_id}", ROUTE_CONSUMER, delete_item) != 0 ||
        router_add(r, "GET", "/v1/addresses", ROUTE_CONSUMER, list_addresses) != 0 ||
        router_add(r, "POST", "/v1/addresses", ROUTE_CONSUMER | ROUTE_BODY_JSON, create_address) != 0)
        return -1;
    return 0;
}
