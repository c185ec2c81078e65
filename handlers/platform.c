/*
 * The supervision platforms' market profile (ROUTE_PLATFORM: the request was signed and the
 * market is granted to the client before this runs; see server/http/platauth.h):
 *   GET /v1/platform/markets/{id}   the market with its stall and vendor counts
 * The feed routes under it are in handlers/feed.c. Worker threads.
 */
#include <jansson.h>
#include "handlers/handlers.h"
#include "models/platform.h"
#include "server/http/api.h"

static void profile_h(api_req_t *req, worker_t *w)
{
    json_t *doc = NULL;
    sf_status_t rc = platform_market_profile(&w->db, req->who.market_id, &doc);
    api_reply_result(req, w, rc, NULL, 200, doc);
}

int platform_register(router_t *r)
{
    return router_add(r, "GET", "/v1/platform/markets/{id}", ROUTE_PLATFORM, profile_h);
}
