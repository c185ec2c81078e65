/*
 * The public product catalogue: a market's products on sale (filtered, searched, sorted,
 * keyset-paged) and one product with the day's guide price for its commodity code. No
 * token. Worker threads; ROUTE_CACHED like handlers/markets.c: the market's catalogue
 * version is read before the data, and req->cache_market stays 0 when the answer must not
 * be cached. Queries go through models/product.c and models/market.c. Each route reads its
 * inputs with the validation kit, then the data, and replies once at its end.
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

/* A category code in a query: the characters of categories.code. */
static const valid_text_t category_code = {0, PRODUCT_CATEGORY_MAX, valid_c_token, "A-Z, a-z, 0-9, ., _ and -", 0};

/* ?sort=, then ?limit= and ?cursor= (a cursor of that sort). */
static sf_status_t page(const api_req_t *req, product_query_t *pq, status_detail_t *d)
{
    static const char *const sorts[] = {"price", "sales", NULL}; /* absent: by id */
    static const product_sort_t as_sort[] = {PRODUCT_SORT_PRICE, PRODUCT_SORT_SALES};
    int s = -1, rc;
    if (valid_query_enum(req, "sort", sorts, &s, d) < 0 ||
        valid_query_limit(req, PRODUCT_LIST_DEFAULT, PRODUCT_LIST_MAX, &pq->limit, d) != 0)
        return SF_E_INVALID;
    pq->sort = s >= 0 ? as_sort[s] : PRODUCT_SORT_ID;
    if ((rc = valid_query_cursor(req, product_sort_kind(pq->sort), &pq->after_key, &pq->after_id, d)) < 0)
        return status_field(d, SF_E_INVALID, "cursor", "is not a cursor of this list and sort");
    pq->has_after = rc == 1;
    return SF_OK;
}

/* ?category=, ?stall_id= and ?q=; empty values are no filter. */
static sf_status_t filters(const api_req_t *req, product_query_t *pq, char *category, size_t catlen, char *q,
                           size_t qlen, status_detail_t *d)
{
    if (valid_query_text(req, "category", &category_code, category, catlen, d) < 0 ||
        valid_query_id(req, "stall_id", &pq->stall_id, d) < 0 ||
        valid_query_search(req, "q", PRODUCT_SEARCH_MAX, q, qlen, d) < 0)
        return SF_E_INVALID;
    pq->category = category[0] != '\0' ? category : NULL;
    pq->q = q[0] != '\0' ? q : NULL;
    return SF_OK;
}

/* ---------------------------------------------------------------- routes */

static void list_products(api_req_t *req, worker_t *w)
{
    char next[CURSOR_MAX], category[PRODUCT_CATEGORY_MAX + 1] = "", q[PRODUCT_SEARCH_MAX * 4 + 1] = "";
    status_detail_t d = {0};
    product_query_t pq = {.on_sale_only = 1};
    json_t *items = NULL;
    sf_status_t rc = valid_path_id(req, 0, &pq.market_id) == 0 ? SF_OK : SF_E_NOT_FOUND;
    if (rc == SF_OK && (rc = page(req, &pq, &d)) == SF_OK)
        rc = filters(req, &pq, category, sizeof(category), q, sizeof(q), &d);
    if (rc == SF_OK) {
        req->cache_market = cachever_tag(&w->redis, pq.market_id, &req->cache_version);
        rc = market_exists(&w->db, pq.market_id);
    }
    if (rc == SF_OK)
        rc = product_list(&w->db, &pq, &items, next, sizeof(next));
    if (rc == SF_E_NOT_FOUND)
        status_field(&d, rc, NULL, "no such market");
    api_reply_page(req, w, rc, &d, items, next);
}

/* One on-sale product with today's guide price of its commodity code, or null. */
static void get_product(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t id = 0, market_id = 0;
    char today[MARKET_DATE_LEN];
    json_t *doc = NULL, *guide = NULL;
    sf_status_t rc = valid_path_id(req, 0, &id) == 0 ? product_market_of(&w->db, id, &market_id) : SF_E_NOT_FOUND;
    if (rc == SF_OK) {
        req->cache_market = cachever_tag(&w->redis, market_id, &req->cache_version);
        req->cache_product = id; /* its buyer reads its stock back at once (api_cache_stock_bumped) */
        rc = product_get(&w->db, id, 0, 0, &doc);
    }
    if (rc == SF_E_NOT_FOUND)
        status_field(&d, rc, NULL, "no such product");
    if (rc == SF_OK) {
        market_date(0, today);
        const char *code = json_string_value(json_object_get(doc, "commodity_code"));
        rc = market_guide_price(&w->db, market_id, code, today, &guide);
        if (rc == SF_E_NOT_FOUND)
            rc = SF_OK; /* no guide price today: null */
    }
    if (rc == SF_OK)
        json_object_set_new(doc, "guide_price", guide != NULL ? guide : json_null());
    api_reply_result(req, w, rc, &d, 200, doc);
}

int products_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/markets/{id}/products", ROUTE_CACHED, list_products) != 0 ||
        router_add(r, "GET", "/v1/products/{id}", ROUTE_CACHED, get_product) != 0)
        return -1;
    return 0;
}
