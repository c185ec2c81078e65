/*
 * Statistics for people (the public ranking is in markets.c):
 *   GET /v1/vendor/stats?from=&to=   a vendor's own sales (ROUTE_VENDOR: its own vendor only)
 *   GET /v1/admin/stats?from=&to=    the market centre's view of its online sales
 *                                    (ROUTE_OPERATOR: its own market only)
 * from and to default to today (+08:00); a range is at most stats.max_days days. Worker
 * threads; each route reads its query with the validation kit, calls one model function of
 * models/report.h and replies once.
 */
#include "handlers/handlers.h"
#include "models/report.h"
#include "server/http/api.h"
#include "server/http/valid.h"

static void vendor_stats(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    char from[12], to[12];
    json_t *doc = NULL;
    sf_status_t rc = SF_OK;
    if (valid_query_range(req, 0, req->cfg->stats_max_days, from, to, &d) < 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = report_vendor_stats(&w->db, req->who.market_id, req->who.vendor_id, from, to, &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void admin_stats(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    char from[12], to[12];
    json_t *doc = NULL;
    sf_status_t rc = SF_OK;
    if (valid_query_range(req, 0, req->cfg->stats_max_days, from, to, &d) < 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = report_admin_stats(&w->db, req->who.market_id, from, to, req->cfg->alerts_price_band_pct, &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

int stats_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/vendor/stats", ROUTE_VENDOR, vendor_stats) != 0 ||
        router_add(r, "GET", "/v1/admin/stats", ROUTE_OPERATOR, admin_stats) != 0)
        return -1;
    return 0;
}
