/*
 * The public product catalogue: a market's products on sale (filtered, searched, sorted,
 * keyset-paged) and one product with the day's guide price for its commodity code. No
 * token. Worker threads; ROUTE_CACHED like handlers/markets.c: the market's catalogue
 * version is read before the data, and req->cache_market stays 0 when the answer must not
 * be cached. Queries go through models/product.c and models/market.c.
 */
#include <string.h>
#include "models/base/cursor.h"
#include "server/http/api.h"
#include "server/http/valid.h"
#include "models/cachever.h"
#include "handlers/handlers.h"
#include "models/market.h"
#include "models/product.h"

/* ---------------------------------------------------------------- helpers */

/* Replies 422 naming the field; -1, for the parsers to return. */
static int bad_param(api_req_t *req, const char *field, const char *reason)
{
    api_reply_invalid(req, field, reason);
    return -1;
}

/* ?sort=, then ?limit= and ?cursor= (a cursor of that sort). 0, or -1 after replying 422. */
static int page(api_req_t *req, product_query_t *pq)
{
    char buf[16];
    status_detail_t d = {0};
    int rc = api_query(req, "sort", buf, sizeof(buf));
    pq->sort = PRODUCT_SORT_ID;
    if (rc == 1 && strcmp(buf, "price") == 0)
        pq->sort = PRODUCT_SORT_PRICE;
    else if (rc == 1 && strcmp(buf, "sales") == 0)
        pq->sort = PRODUCT_SORT_SALES;
    else if (rc != 0)
        return bad_param(req, "sort", "must be price or sales");
    if (valid_query_limit(req, PRODUCT_LIST_DEFAULT, PRODUCT_LIST_MAX, &pq->limit, &d) != 0)
        return bad_param(req, d.field, d.reason);
    rc = valid_query_cursor(req, product_sort_kind(pq->sort), &pq->after_key, &pq->after_id, &d);
    if (rc < 0)
        return bad_param(req, "cursor", "is not a cursor of this list and sort");
    pq->has_after = rc == 1;
    return 0;
}

/* ?category=, ?stall_id= and ?q=; empty values are no filter. 0, or -1 after replying 422. */
static int filters(api_req_t *req, product_query_t *pq, char *category, size_t catlen, char *q, size_t qlen)
{
    char raw[PRODUCT_SEARCH_MAX * 4 * 3 + 1], id[24];
    const char *why;
    int rc = api_query(req, "category", category, catlen);
    size_t n = rc == 1 ? strlen(category) : 0;
    if (rc < 0 || strspn(category, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n)
        return bad_param(req, "category", "is not a category code");
    pq->category = n > 0 ? category : NULL;
    rc = api_query(req, "stall_id", id, sizeof(id));
    if (rc < 0 || (rc == 1 && valid_parse_id(id, &pq->stall_id) != 0))
        return bad_param(req, "stall_id", "must be an id");
    rc = api_query(req, "q", raw, sizeof(raw));
    if (rc < 0)
        return bad_param(req, "q", "too long");
    if (rc == 1 && strspn(raw, " ") != strlen(raw)) {
        if ((why = product_check_search(raw, q, qlen)) != NULL)
            return bad_param(req, "q", why);
        pq->q = q;
    }
    return 0;
}

/* ---------------------------------------------------------------- routes */

static void list_products(api_req_t *req, worker_t *w)
{
    char next[CURSOR_MAX], category[PRODUCT_CATEGORY_MAX + 1] = "", q[PRODUCT_SEARCH_MAX * 4 + 1];
    product_query_t pq = {.on_sale_only = 1};
    json_t *items = NULL;
    if (valid_path_id(req, 0, &pq.market_id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such market", NULL);
        return;
    }
    if (page(req, &pq) != 0 || filters(req, &pq, category, sizeof(category), q, sizeof(q)) != 0)
        return;
    req->cache_market = cachever_tag(&w->redis, pq.market_id, &req->cache_version);
    int rc = market_exists(&w->db, pq.market_id);
    if (rc == DB_OK)
        rc = product_list(&w->db, &pq, &items, next, sizeof(next));
    if (rc != DB_OK)
        api_reply_db_failure(req, &w->db, rc, "no such market");
    else
        api_reply_list(req, items, next);
}

/* One on-sale product with today's guide price of its commodity code, or null. */
static void get_product(api_req_t *req, worker_t *w)
{
    int64_t id, market_id;
    char today[MARKET_DATE_LEN];
    json_t *doc = NULL, *guide = NULL;
    if (valid_path_id(req, 0, &id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such product", NULL);
        return;
    }
    int rc = product_market_of(&w->db, id, &market_id);
    if (rc == DB_OK) {
        req->cache_market = cachever_tag(&w->redis, market_id, &req->cache_version);
        rc = product_get(&w->db, id, 0, 0, &doc);
    }
    if (rc == DB_OK) {
        market_date(0, today);
        rc = market_guide_price(&w->db, market_id, json_string_value(json_object_get(doc, "commodity_code")), today,
                                &guide);
        if (rc == DB_NOROW)
            rc = DB_OK;
    }
    if (rc != DB_OK) {
        json_decref(doc);
        api_reply_db_failure(req, &w->db, rc, "no such product");
        return;
    }
    json_object_set_new(doc, "guide_price", guide != NULL ? guide : json_null());
    api_reply_json(req, 200, doc);
}

int products_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/markets/{id}/products", ROUTE_CACHED, list_products) != 0 ||
        router_add(r, "GET", "/v1/products/{id}", ROUTE_CACHED, get_product) != 0)
        return -1;
    return 0;
}
