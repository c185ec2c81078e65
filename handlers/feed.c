/*
 * The supervision platforms' statistics routes (API.md "Supervision platforms"), read-only:
 *   GET /v1/platform/markets/{id}/transactions?cursor=&limit=   the sale-line versions, a page
 *   GET /v1/platform/markets/{id}/summary?date=&by=stall|category
 *   GET /v1/platform/markets/{id}/online-sales?from=&to=        the KPIs per day and in total
 *   GET /v1/platform/markets/{id}/reconcile?date=               count, sales and checksum
 * ROUTE_PLATFORM: the request's signature and the client's grant of the path's market were
 * checked before the handler runs (server/http/platauth.c), so the path's id is the market.
 * Worker threads; each route reads its query with the validation kit, calls one model
 * function of models/stats.h and replies once.
 */
#include "handlers/handlers.h"
#include "models/salelog.h"
#include "models/stats.h"
#include "server/http/api.h"
#include "server/http/valid.h"

#define FEED_LIMIT_DEFAULT 100

/* The market of the path: SF_OK with *id, or "no such market". */
static sf_status_t path_market(const api_req_t *req, int64_t *id, status_detail_t *d)
{
    return valid_path_id(req, 0, id) == 0 ? SF_OK : status_field(d, SF_E_NOT_FOUND, NULL, "no such market");
}

/* ?date=, required. */
static sf_status_t need_date(const api_req_t *req, char date[12], status_detail_t *d)
{
    int q = valid_query_date(req, "date", date, 12, NULL, d);
    if (q == 0)
        valid_refuse(d, "date", "is required: a date YYYY-MM-DD");
    return q == 1 ? SF_OK : SF_E_INVALID;
}

static void transactions(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t id = 0, key = 0, after = 0;
    size_t limit = FEED_LIMIT_DEFAULT;
    json_t *doc = NULL;
    sf_status_t rc = path_market(req, &id, &d);
    if (rc == SF_OK && (valid_query_limit(req, FEED_LIMIT_DEFAULT, SALELOG_FEED_MAX, &limit, &d) < 0 ||
                        valid_query_log_cursor(req, STATS_FEED_KIND, &key, &after, &d) < 0))
        rc = SF_E_INVALID;
    if (rc == SF_OK && key != 0)
        rc = status_field(&d, SF_E_INVALID, "cursor", "is not a cursor of this list");
    if (rc == SF_OK)
        rc = stats_feed_page(&w->db, id, after, limit, &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void summary(api_req_t *req, worker_t *w)
{
    static const char *const bys[] = {"stall", "category", NULL};
    status_detail_t d = {0};
    int64_t id = 0;
    int by = 0;
    char date[12];
    json_t *doc = NULL;
    sf_status_t rc = path_market(req, &id, &d);
    if (rc == SF_OK)
        rc = need_date(req, date, &d);
    if (rc == SF_OK && valid_query_enum(req, "by", bys, &by, &d) < 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = stats_summary(&w->db, id, date, by == 1, &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void online_sales(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t id = 0;
    char from[12], to[12];
    json_t *doc = NULL;
    sf_status_t rc = path_market(req, &id, &d);
    if (rc == SF_OK && valid_query_range(req, 1, req->cfg->stats_max_days, from, to, &d) < 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = stats_online_sales(&w->db, id, from, to, &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void reconcile(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t id = 0;
    char date[12];
    json_t *doc = NULL;
    sf_status_t rc = path_market(req, &id, &d);
    if (rc == SF_OK)
        rc = need_date(req, date, &d);
    if (rc == SF_OK)
        rc = stats_reconcile(&w->db, id, date, &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

int feed_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/platform/markets/{id}/transactions", ROUTE_PLATFORM, transactions) != 0 ||
        router_add(r, "GET", "/v1/platform/markets/{id}/summary", ROUTE_PLATFORM, summary) != 0 ||
        router_add(r, "GET", "/v1/platform/markets/{id}/online-sales", ROUTE_PLATFORM, online_sales) != 0 ||
        router_add(r, "GET", "/v1/platform/markets/{id}/reconcile", ROUTE_PLATFORM, reconcile) != 0)
        return -1;
    return 0;
}
