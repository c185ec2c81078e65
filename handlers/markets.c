/*
 * The public market information: markets, a market's profile, its stalls, a stall with its
 * vendor's public record, the category tree, the day's guide prices and the sales ranking.
 * No token. Worker threads; the answers are ROUTE_CACHED: each handler reads its market's
 * catalogue version before the data (models/cachever.h) and leaves req->cache_market 0
 * when the answer must not be cached (Redis down, an error, or no single market).
 * Queries go through models/market.c (the ranking through models/report.c: sales move no
 * catalogue version, so a cached ranking is up to CACHE_MAX_AGE_S old). Each route reads its inputs with the validation
 * kit, then the data, and replies once at its end.
 */
#include <string.h>
#include "models/base/cursor.h"
#include "server/http/api.h"
#include "server/http/valid.h"
#include "models/cachever.h"
#include "handlers/handlers.h"
#include "models/market.h"
#include "models/product.h"
#include "models/report.h"

#define CATEGORY_MAX 32 /* categories.code */

/* ---------------------------------------------------------------- helpers */

/* A category code in a query: the characters of categories.code. */
static const valid_text_t category_code = {0, CATEGORY_MAX, valid_c_token, "A-Z, a-z, 0-9, ., _ and -", 0};

/* ?limit= and ?cursor= (of cursor kind `kind`). */
static sf_status_t page(const api_req_t *req, char kind, size_t *limit, int64_t *after_id, status_detail_t *d)
{
    valid_page_t pg;
    sf_status_t rc = valid_query_page(req, NULL, NULL, PRODUCT_LIST_DEFAULT, PRODUCT_LIST_MAX, kind, &pg, d);
    *limit = pg.limit;
    *after_id = pg.after_id;
    return rc;
}

/* A market that is not found is "no such market". */
static sf_status_t no_market(sf_status_t rc, status_detail_t *d)
{
    return rc == SF_E_NOT_FOUND ? status_field(d, rc, NULL, "no such market") : rc;
}

/* The market of the path: SF_OK with *id, or "no such market". */
static sf_status_t path_market(const api_req_t *req, int64_t *id, status_detail_t *d)
{
    return valid_path_id(req, 0, id) == 0 ? SF_OK : no_market(SF_E_NOT_FOUND, d);
}

/* Tags the answer with the market's catalogue version (read before the data), then checks
 * that the market exists. */
static sf_status_t market_known(api_req_t *req, worker_t *w, int64_t id, status_detail_t *d)
{
    req->cache_market = cachever_tag(&w->redis, id, &req->cache_version);
    return no_market(market_exists(&w->db, id), d);
}

/* ---------------------------------------------------------------- markets */

static void list_markets(api_req_t *req, worker_t *w)
{
    char next[CURSOR_MAX];
    status_detail_t d = {0};
    size_t limit;
    int64_t after;
    json_t *items = NULL;
    req->cache_market = 0; /* spans markets: no one version to key it on */
    sf_status_t rc = page(req, 'm', &limit, &after, &d);
    if (rc == SF_OK)
        rc = market_list(&w->db, limit, after, &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
}

static void get_market(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t id = 0;
    json_t *doc = NULL;
    sf_status_t rc = path_market(req, &id, &d);
    if (rc == SF_OK) {
        req->cache_market = cachever_tag(&w->redis, id, &req->cache_version);
        rc = no_market(market_get(&w->db, id, &doc), &d);
    }
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* ---------------------------------------------------------------- stalls */

static void list_stalls(api_req_t *req, worker_t *w)
{
    char next[CURSOR_MAX], category[CATEGORY_MAX + 1] = "", q[PRODUCT_SEARCH_MAX * 4 + 1] = "";
    status_detail_t d = {0};
    market_stall_query_t sq = {0};
    json_t *items = NULL;
    sf_status_t rc = path_market(req, &sq.market_id, &d);
    if (rc == SF_OK && (page(req, 't', &sq.limit, &sq.after_id, &d) != SF_OK ||
                        valid_query_text(req, "category", &category_code, category, sizeof(category), &d) < 0 ||
                        valid_query_search(req, "q", PRODUCT_SEARCH_MAX, q, sizeof(q), &d) < 0))
        rc = SF_E_INVALID;
    sq.category = category[0] != '\0' ? category : NULL;
    sq.q = q[0] != '\0' ? q : NULL;
    if (rc == SF_OK)
        rc = market_known(req, w, sq.market_id, &d);
    if (rc == SF_OK)
        rc = market_stalls(&w->db, &sq, &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
}

static void get_stall(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t id = 0, market_id = 0;
    char today[MARKET_DATE_LEN];
    json_t *doc = NULL;
    sf_status_t rc = valid_path_id(req, 0, &id) == 0 ? market_stall_market(&w->db, id, &market_id) : SF_E_NOT_FOUND;
    if (rc == SF_OK) {
        req->cache_market = cachever_tag(&w->redis, market_id, &req->cache_version);
        market_date(0, today);
        rc = market_stall_get(&w->db, id, today, &doc);
    }
    if (rc == SF_E_NOT_FOUND)
        status_field(&d, rc, NULL, "no such stall");
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* ---------------------------------------------------------------- categories, guide prices, rankings */

static void categories(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t id = 0;
    json_t *tree = NULL;
    sf_status_t rc = path_market(req, &id, &d);
    if (rc == SF_OK)
        rc = market_known(req, w, id, &d);
    if (rc == SF_OK)
        rc = market_categories(&w->db, id, &tree);
    api_reply_result(req, w, rc, &d, 200, tree);
}

static void guide_prices(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t id = 0;
    char date[MARKET_DATE_LEN] = "";
    json_t *items = NULL;
    sf_status_t rc = path_market(req, &id, &d);
    if (rc == SF_OK && valid_query_date(req, "date", date, sizeof(date), NULL, &d) < 0)
        rc = SF_E_INVALID;
    if (date[0] == '\0')
        market_date(0, date);
    if (rc == SF_OK)
        rc = market_known(req, w, id, &d);
    if (rc == SF_OK)
        rc = market_guide_prices(&w->db, id, date, &items);
    api_reply_page(req, w, rc, &d, items, NULL);
}

static void rankings(api_req_t *req, worker_t *w)
{
    static const char *const periods[] = {"day", "week", "month", NULL};
    static const int period_days[] = {1, 7, 30};
    static const char *const bys[] = {"sales", "volume", NULL};
    status_detail_t d = {0};
    int64_t id = 0;
    int p = 0, by = 0;
    char today[MARKET_DATE_LEN];
    json_t *items = NULL;
    sf_status_t rc = path_market(req, &id, &d);
    if (rc == SF_OK &&
        (valid_query_enum(req, "period", periods, &p, &d) < 0 || valid_query_enum(req, "by", bys, &by, &d) < 0))
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = market_known(req, w, id, &d);
    /* Sales do not move the catalogue version: a cached ranking is at most CACHE_MAX_AGE_S old. */
    valid_today(today, sizeof(today));
    if (rc == SF_OK)
        rc = report_rankings(&w->db, id, today, period_days[p], by, &items);
    api_reply_page(req, w, rc, &d, items, NULL);
}

int markets_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/markets", ROUTE_CACHED, list_markets) != 0 ||
        router_add(r, "GET", "/v1/markets/{id}", ROUTE_CACHED, get_market) != 0 ||
        router_add(r, "GET", "/v1/markets/{id}/stalls", ROUTE_CACHED, list_stalls) != 0 ||
        router_add(r, "GET", "/v1/stalls/{id}", ROUTE_CACHED, get_stall) != 0 ||
        router_add(r, "GET", "/v1/markets/{id}/categories", ROUTE_CACHED, categories) != 0 ||
        router_add(r, "GET", "/v1/markets/{id}/guide-prices", ROUTE_CACHED, guide_prices) != 0 ||
        router_add(r, "GET", "/v1/markets/{id}/rankings", ROUTE_CACHED, rankings) != 0)
        return -1;
    return 0;
}
