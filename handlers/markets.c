/*
 * The public market information: markets, a market's profile, its stalls, a stall with its
 * vendor's public record, the category tree, the day's guide prices and the sales ranking.
 * No token. Worker threads; the answers are ROUTE_CACHED: each handler reads its market's
 * catalogue version before the data (models/cachever.h) and leaves req->cache_market 0
 * when the answer must not be cached (Redis down, an error, or no single market).
 * Queries go through models/market.c.
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

/* ?limit= and ?cursor= (of cursor kind `kind`). 0, or -1 after replying 422. */
static int page(api_req_t *req, char kind, size_t *limit, int64_t *after_id)
{
    status_detail_t d = {0};
    int64_t key;
    *after_id = 0;
    if (valid_query_limit(req, PRODUCT_LIST_DEFAULT, PRODUCT_LIST_MAX, limit, &d) != 0 ||
        valid_query_cursor(req, kind, &key, after_id, &d) < 0) {
        api_reply_invalid(req, d.field, d.reason);
        return -1;
    }
    return 0;
}

/* The market id of the path, or -1 after replying 404. */
static int market_param(api_req_t *req, int64_t *id)
{
    if (valid_path_id(req, 0, id) == 0)
        return 0;
    api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such market", NULL);
    return -1;
}

/* ---------------------------------------------------------------- markets */

static void list_markets(api_req_t *req, worker_t *w)
{
    char next[CURSOR_MAX];
    size_t limit;
    int64_t after;
    json_t *items = NULL;
    req->cache_market = 0; /* spans markets: no one version to key it on */
    if (page(req, 'm', &limit, &after) != 0)
        return;
    int rc = market_list(&w->db, limit, after, &items, next, sizeof(next));
    if (rc != DB_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        api_reply_list(req, items, next);
}

static void get_market(api_req_t *req, worker_t *w)
{
    int64_t id;
    json_t *doc = NULL;
    if (market_param(req, &id) != 0)
        return;
    req->cache_market = cachever_tag(&w->redis, id, &req->cache_version);
    int rc = market_get(&w->db, id, &doc);
    if (rc != DB_OK)
        api_reply_db_failure(req, &w->db, rc, "no such market");
    else
        api_reply_json(req, 200, doc);
}

/* ---------------------------------------------------------------- stalls */

/* ?category= (a category code) and ?q= of the stall and product lists. 0, or -1 after
 * replying 422. An empty value is no filter. */
static int filters(api_req_t *req, char *category, size_t catlen, int *has_cat, char *q, size_t qlen, int *has_q)
{
    char raw[PRODUCT_SEARCH_MAX * 4 * 3 + 1];
    const char *why;
    int rc = api_query(req, "category", category, catlen);
    size_t n = rc == 1 ? strlen(category) : 0;
    if (rc < 0 || strspn(category, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._-") != n) {
        api_reply_invalid(req, "category", "is not a category code");
        return -1;
    }
    *has_cat = n > 0;
    rc = api_query(req, "q", raw, sizeof(raw));
    *has_q = 0;
    if (rc < 0) {
        api_reply_invalid(req, "q", "too long");
        return -1;
    }
    if (rc == 1 && strspn(raw, " ") != strlen(raw)) {
        if ((why = product_check_search(raw, q, qlen)) != NULL) {
            api_reply_invalid(req, "q", why);
            return -1;
        }
        *has_q = 1;
    }
    return 0;
}

static void list_stalls(api_req_t *req, worker_t *w)
{
    char next[CURSOR_MAX], category[PRODUCT_CATEGORY_MAX + 1] = "", q[PRODUCT_SEARCH_MAX * 4 + 1];
    int has_cat, has_q;
    market_stall_query_t sq = {0};
    json_t *items = NULL;
    if (market_param(req, &sq.market_id) != 0 || page(req, 't', &sq.limit, &sq.after_id) != 0 ||
        filters(req, category, sizeof(category), &has_cat, q, sizeof(q), &has_q) != 0)
        return;
    sq.category = has_cat ? category : NULL;
    sq.q = has_q ? q : NULL;
    req->cache_market = cachever_tag(&w->redis, sq.market_id, &req->cache_version);
    int rc = market_exists(&w->db, sq.market_id);
    if (rc == DB_OK)
        rc = market_stalls(&w->db, &sq, &items, next, sizeof(next));
    if (rc != DB_OK)
        api_reply_db_failure(req, &w->db, rc, "no such market");
    else
        api_reply_list(req, items, next);
}

static void get_stall(api_req_t *req, worker_t *w)
{
    int64_t id, market_id;
    char today[MARKET_DATE_LEN];
    json_t *doc = NULL;
    if (valid_path_id(req, 0, &id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such stall", NULL);
        return;
    }
    int rc = market_stall_market(&w->db, id, &market_id);
    if (rc == DB_OK) {
        req->cache_market = cachever_tag(&w->redis, market_id, &req->cache_version);
        market_date(0, today);
        rc = market_stall_get(&w->db, id, today, &doc);
    }
    if (rc != DB_OK)
        api_reply_db_failure(req, &w->db, rc, "no such stall");
    else
        api_reply_json(req, 200, doc);
}

/* ---------------------------------------------------------------- categories, guide prices, rankings */

static void categories(api_req_t *req, worker_t *w)
{
    int64_t id;
    json_t *tree = NULL;
    if (market_param(req, &id) != 0)
        return;
    req->cache_market = cachever_tag(&w->redis, id, &req->cache_version);
    int rc = market_exists(&w->db, id);
    if (rc == DB_OK)
        rc = market_categories(&w->db, id, &tree);
    if (rc != DB_OK)
        api_reply_db_failure(req, &w->db, rc, "no such market");
    else
        api_reply_json(req, 200, tree);
}

static void guide_prices(api_req_t *req, worker_t *w)
{
    int64_t id;
    char date[16];
    json_t *items = NULL;
    if (market_param(req, &id) != 0)
        return;
    int rc = api_query(req, "date", date, sizeof(date));
    if (rc < 0 || (rc == 1 && !market_date_valid(date))) {
        api_reply_invalid(req, "date", "must be a date YYYY-MM-DD");
        return;
    }
    if (rc == 0)
        market_date(0, date);
    req->cache_market = cachever_tag(&w->redis, id, &req->cache_version);
    if ((rc = market_exists(&w->db, id)) == DB_OK)
        rc = market_guide_prices(&w->db, id, date, &items);
    if (rc != DB_OK)
        api_reply_db_failure(req, &w->db, rc, "no such market");
    else
        api_reply_list(req, items, NULL);
}

static void rankings(api_req_t *req, worker_t *w)
{
    int64_t id;
    char period[8];
    market_period_t p = MARKET_DAY;
    json_t *items = NULL;
    if (market_param(req, &id) != 0)
        return;
    int rc = api_query(req, "period", period, sizeof(period));
    if (rc == 1)
        p = strcmp(period, "day") == 0     ? MARKET_DAY
            : strcmp(period, "week") == 0  ? MARKET_WEEK
            : strcmp(period, "month") == 0 ? MARKET_MONTH
                                           : 0;
    if (rc < 0 || p == 0) {
        api_reply_invalid(req, "period", "must be day, week or month");
        return;
    }
    req->cache_market = cachever_tag(&w->redis, id, &req->cache_version);
    if ((rc = market_exists(&w->db, id)) == DB_OK)
        rc = market_rankings(&w->db, id, p, &items);
    if (rc != DB_OK)
        api_reply_db_failure(req, &w->db, rc, "no such market");
    else
        api_reply_list(req, items, NULL);
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
