/*
 * The consumer's cart (GET/DELETE /v1/cart, PUT/DELETE /v1/cart/items/{id}) and addresses
 * (GET/POST /v1/addresses). Consumer tokens only (the route flags have the token checked
 * before a handler runs); everything is keyed by the caller's user id, so another
 * consumer's cart or address is simply never found. Worker threads.
 *
 * The cart lives in Redis (models/cart.h) and is priced from MariaDB on every answer: each
 * cart route answers with the whole cart as GET shows it. Redis down is 503 with
 * Retry-After, as MariaDB down is.
 */
#include <string.h>
#include "server/http/api.h"
#include "server/http/valid.h"
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/address.h"
#include "models/cart.h"
#include "models/market.h"
#include "models/product.h"

/* ---------------------------------------------------------------- helpers */

/* A consumer token always names its user; one that does not is refused, not trusted. */
static int is_consumer(api_req_t *req)
{
    if (req->who.user_id > 0)
        return 1;
    api_reply_error(req, SF_E_FORBIDDEN, NULL, "not a consumer account", NULL);
    return 0;
}

static void redis_failure(api_req_t *req, worker_t *w)
{
    log_warn("%s: redis: %s", req->route != NULL ? req->route->pattern : "?", w->redis.err);
    api_reply_error(req, SF_E_UNAVAILABLE, NULL, NULL, NULL);
    req->retry_after = 1;
}

/* ?market_id=: 1 with *id when present, 0 when absent, -1 after replying 422. */
static int query_market(api_req_t *req, int64_t *id)
{
    char buf[24];
    int rc = api_query(req, "market_id", buf, sizeof(buf));
    if (rc == 0)
        return 0;
    if (rc < 0 || product_parse_id(buf, id) != 0) {
        api_reply_invalid(req, "market_id", "must be a market id");
        return -1;
    }
    return 1;
}

/* 0 if the market exists; -1 after replying 404 (or the db failure). */
static int market_known(api_req_t *req, worker_t *w, int64_t id)
{
    int rc = market_exists(&w->db, id);
    if (rc == DB_OK)
        return 0;
    api_reply_db_failure(req, &w->db, rc, "no such market");
    return -1;
}

/* ?market_id=, required, of an existing market. 0 with *id, or -1 after replying. */
static int required_market(api_req_t *req, worker_t *w, int64_t *id)
{
    int rc = query_market(req, id);
    if (rc == 0)
        api_reply_invalid(req, "market_id", "is required");
    if (rc != 1)
        return -1;
    return market_known(req, w, *id);
}

/* Answers 200 with the caller's cart of a market, priced now. */
static void reply_cart(api_req_t *req, worker_t *w, int64_t market_id)
{
    cart_line_t lines[CART_MAX_LINES];
    size_t n = 0;
    json_t *doc = NULL;
    cart_fees_t fees = {.delivery_fee_fen = req->cfg->order_delivery_fee_fen,
                        .free_delivery_from_fen = req->cfg->order_free_delivery_from_fen};
    if (cart_load(&w->redis, req->who.user_id, market_id, lines, &n) != 0) {
        redis_failure(req, w);
        return;
    }
    int rc = cart_render(&w->db, market_id, lines, n, &fees, &doc);
    if (rc != DB_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        api_reply_json(req, 200, doc);
}

/* The product of path parameter 0, whatever its status. 0, or -1 after replying 404. */
static int path_product(api_req_t *req, worker_t *w, cart_product_t *p)
{
    int64_t id;
    if (valid_path_id(req, 0, &id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such product", NULL);
        return -1;
    }
    int rc = cart_product_get(&w->db, id, p);
    if (rc == DB_OK)
        return 0;
    api_reply_db_failure(req, &w->db, rc, "no such product");
    return -1;
}

/* Whether qty of the product may go in a cart of market_id (0: the product's). 0, or -1
 * after replying 422. A quantity of 0 (removal) is always allowed. */
static int may_buy(api_req_t *req, const cart_product_t *p, int64_t qty, int64_t market_id)
{
    if (market_id != 0 && market_id != p->market_id) {
        api_reply_error(req, SF_E_INVALID, "wrong_market", "the product is sold in another market",
                        json_pack("{s:I}", "market_id", (json_int_t)p->market_id));
        return -1;
    }
    if (qty == 0)
        return 0;
    if (!p->on_sale || !p->vendor_active) {
        api_reply_error(req, SF_E_INVALID, "off_sale", "the product is not on sale", NULL);
        return -1;
    }
    if (qty > p->stock) {
        api_reply_error(req, SF_E_INVALID, "insufficient_stock", "not that much in stock",
                        json_pack("{s:I}", "available", (json_int_t)p->stock));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- cart routes */

static void show(api_req_t *req, worker_t *w)
{
    int64_t market_id;
    if (!is_consumer(req) || required_market(req, w, &market_id) != 0)
        return;
    reply_cart(req, w, market_id);
}

static void put_item(api_req_t *req, worker_t *w)
{
    cart_product_t p;
    cart_invalid_t bad;
    int64_t qty, market_id;
    if (!is_consumer(req) || path_product(req, w, &p) != 0)
        return;
    if (cart_parse_put(req->body, &qty, &market_id, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    if (may_buy(req, &p, qty, market_id) != 0)
        return;
    status_detail_t d = {0};
    sf_status_t rc = cart_set(&w->redis, req->who.user_id, p.market_id, p.id, qty);
    if (rc == SF_E_CART_FULL)
        status_details(&d, rc, json_pack("{s:i}", "max_lines", CART_MAX_LINES));
    else if (rc != SF_OK)
        log_warn("%s: redis: %s", req->route != NULL ? req->route->pattern : "?", w->redis.err);
    if (rc == SF_OK)
        reply_cart(req, w, p.market_id);
    else
        api_reply_status(req, w, rc, &d);
}

/* The product may be gone from the catalogue while its line is still in the cart, so the
 * cart is found by ?market_id= when given, by the product's market otherwise. */
static void delete_item(api_req_t *req, worker_t *w)
{
    int64_t product_id, market_id;
    cart_product_t p;
    if (!is_consumer(req))
        return;
    if (valid_path_id(req, 0, &product_id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such product", NULL);
        return;
    }
    int rc = query_market(req, &market_id);
    if (rc < 0 || (rc == 1 && market_known(req, w, market_id) != 0))
        return;
    if (rc == 0) {
        if (path_product(req, w, &p) != 0)
            return;
        market_id = p.market_id;
    }
    if (cart_remove(&w->redis, req->who.user_id, market_id, product_id) != 0) {
        redis_failure(req, w);
        return;
    }
    reply_cart(req, w, market_id);
}

static void empty(api_req_t *req, worker_t *w)
{
    int64_t market_id;
    if (!is_consumer(req) || required_market(req, w, &market_id) != 0)
        return;
    if (cart_clear(&w->redis, req->who.user_id, market_id) != 0) {
        redis_failure(req, w);
        return;
    }
    reply_cart(req, w, market_id);
}

/* ---------------------------------------------------------------- address routes */

static void create_address(api_req_t *req, worker_t *w)
{
    address_input_t in;
    address_invalid_t bad;
    address_t a;
    int64_t id = 0;
    if (!is_consumer(req))
        return;
    if (address_parse(req->body, &in, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    status_detail_t d = {0};
    sf_status_t rc = address_create(&w->db, req->who.user_id, &in, &id);
    if (rc == DB_OK)
        rc = address_get_for_order(&w->db, req->who.user_id, id, &a);
    if (rc == SF_E_TOO_MANY_ADDRESSES)
        status_details(&d, rc, json_pack("{s:i}", "max", ADDRESS_PER_USER));
    if (rc == SF_E_NO_MARKET)
        status_field(&d, rc, "market_id", NULL);
    if (rc == SF_OK)
        api_reply_json(req, 201, address_json(&a));
    else
        api_reply_status(req, w, rc, &d);
}

static void list_addresses(api_req_t *req, worker_t *w)
{
    int64_t market_id = 0;
    json_t *items = NULL;
    if (!is_consumer(req))
        return;
    int rc = query_market(req, &market_id);
    if (rc < 0 || (rc == 1 && market_known(req, w, market_id) != 0))
        return;
    if ((rc = address_list(&w->db, req->who.user_id, market_id, &items)) != DB_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        api_reply_list(req, items, NULL);
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
