/*
 * The operator's view of deliveries (issue 9): the market's deliveries with their courier,
 * dispatch tries, lock and alerts; unlocking a delivery locked by wrong codes; the
 * fulfilment alerts. Operator tokens only, scoped by the token's market (another market's
 * delivery is not found). Worker threads.
 */
#include "handlers/handlers.h"
#include "models/alert.h"
#include "models/base/cursor.h"
#include "models/delivery.h"
#include "server/http/api.h"
#include "server/http/valid.h"

static sf_status_t operator_of(const api_req_t *req, status_detail_t *d)
{
    if (req->who.market_id > 0)
        return SF_OK;
    return status_field(d, SF_E_FORBIDDEN, NULL, "not an operator of a market");
}

static void list(api_req_t *req, worker_t *w)
{
    const char *const *names = delivery_status_names();
    char next[CURSOR_MAX];
    status_detail_t d = {0};
    size_t limit = 0;
    int64_t key = 0, after_id = 0;
    int st = -1;
    json_t *items = NULL;
    sf_status_t rc = operator_of(req, &d);
    if (rc == SF_OK && (valid_query_enum(req, "status", names, &st, &d) < 0 ||
                        valid_query_limit(req, DELIVERY_LIST_DEFAULT, DELIVERY_LIST_MAX, &limit, &d) < 0 ||
                        valid_query_cursor(req, DELIVERY_CURSOR_KIND, &key, &after_id, &d) < 0))
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = delivery_list_market(&w->db, req->who.market_id, st >= 0 ? names[st] : NULL, after_id, limit, &items, next,
                                  sizeof(next));
    if (rc == SF_OK)
        api_reply_list(req, items, next);
    else
        api_reply_status(req, w, rc, &d);
}

static void unlock(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t id = 0;
    sf_status_t rc = operator_of(req, &d);
    if (rc == SF_OK && valid_path_id(req, 0, &id) != 0)
        rc = SF_E_NOT_FOUND;
    if (rc == SF_OK)
        rc = delivery_unlock(&w->db, req->who.market_id, id, &doc);
    if (rc == SF_E_NOT_FOUND)
        status_field(&d, rc, NULL, "no such delivery");
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void alerts(api_req_t *req, worker_t *w)
{
    static const char *const kinds[] = {ALERT_UNACCEPTED,  ALERT_AUTO_REJECTED, ALERT_OFFER_EXPIRED, ALERT_NO_COURIER,
                                        ALERT_PICKUP_LATE, ALERT_TRANSIT_LATE,  ALERT_LOCKED,        NULL};
    char next[CURSOR_MAX] = "";
    status_detail_t d = {0};
    size_t limit = 0;
    int64_t key = 0, after_id = 0, next_after = 0;
    int k = -1;
    json_t *items = NULL;
    sf_status_t rc = operator_of(req, &d);
    if (rc == SF_OK && (valid_query_enum(req, "kind", kinds, &k, &d) < 0 ||
                        valid_query_limit(req, ALERT_LIST_DEFAULT, ALERT_LIST_MAX, &limit, &d) < 0 ||
                        valid_query_cursor(req, ALERT_CURSOR_KIND, &key, &after_id, &d) < 0))
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = alert_list(&w->db, req->who.market_id, k >= 0 ? kinds[k] : NULL, after_id, limit, &items, &next_after);
    if (rc == SF_OK && next_after != 0 && cursor_encode(ALERT_CURSOR_KIND, 0, next_after, next, sizeof(next)) != 0)
        rc = SF_E_INTERNAL;
    if (rc == SF_OK)
        api_reply_list(req, items, next);
    else {
        json_decref(items);
        api_reply_status(req, w, rc, &d);
    }
}

int deliveries_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/admin/deliveries", ROUTE_OPERATOR, list) != 0 ||
        router_add(r, "POST", "/v1/admin/deliveries/{id}/unlock", ROUTE_OPERATOR, unlock) != 0 ||
        router_add(r, "GET", "/v1/admin/fulfilment-alerts", ROUTE_OPERATOR, alerts) != 0)
        return -1;
    return 0;
}
