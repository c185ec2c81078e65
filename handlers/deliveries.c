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
    valid_page_t pg;
    json_t *items = NULL;
    sf_status_t rc = operator_of(req, &d);
    if (rc == SF_OK)
        rc = valid_query_page(req, "status", names, DELIVERY_LIST_DEFAULT, DELIVERY_LIST_MAX, DELIVERY_CURSOR_KIND, &pg,
                              &d);
    if (rc == SF_OK)
        rc = delivery_list(&w->db, req->who.market_id, 0, pg.filter >= 0 ? names[pg.filter] : NULL, pg.after_id,
                           pg.limit, &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
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
    const char *const *kinds = alert_kind_names(), *const *states = alert_state_names();
    char next[CURSOR_MAX];
    status_detail_t d = {0};
    valid_page_t pg;
    int st = -1;
    json_t *items = NULL;
    sf_status_t rc = operator_of(req, &d);
    if (rc == SF_OK && valid_query_enum(req, "status", states, &st, &d) < 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = valid_query_page(req, "kind", kinds, ALERT_LIST_DEFAULT, ALERT_LIST_MAX, ALERT_CURSOR_KIND, &pg, &d);
    if (rc == SF_OK)
        rc = alert_list(&w->db, req->who.market_id, pg.filter >= 0 ? kinds[pg.filter] : NULL,
                        st >= 0 ? states[st] : NULL, pg.after_id, pg.limit, &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
}

static const valid_text_t T_RESOLUTION = VALID_PROSE(1, ALERT_RESOLUTION_MAX);

/* The centre dealt with an alert: {"note"} says how. */
static void resolve_alert(api_req_t *req, worker_t *w)
{
    static const char *const keys[] = {"note", NULL};
    status_detail_t d = {0};
    const char *note = NULL;
    int64_t id = 0;
    json_t *doc = NULL;
    sf_status_t rc = operator_of(req, &d);
    if (rc == SF_OK && valid_path_id(req, 0, &id) != 0)
        rc = SF_E_NOT_FOUND;
    if (rc == SF_OK && (valid_only_keys(req->body, keys, "", &d) != 0 ||
                        valid_str(req->body, "note", NULL, 1, 0, &T_RESOLUTION, &note, &d) < 0))
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = alert_resolve(&w->db, req->who.market_id, id, req->who.user_id, note, &doc);
    if (rc == SF_E_NOT_FOUND)
        status_field(&d, rc, NULL, "no such alert");
    api_reply_result(req, w, rc, &d, 200, doc);
}

int deliveries_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/admin/deliveries", ROUTE_OPERATOR, list) != 0 ||
        router_add(r, "POST", "/v1/admin/deliveries/{id}/unlock", ROUTE_OPERATOR, unlock) != 0 ||
        router_add(r, "GET", "/v1/admin/fulfilment-alerts", ROUTE_OPERATOR, alerts) != 0 ||
        router_add(r, "POST", "/v1/admin/fulfilment-alerts/{id}/resolve", ROUTE_OPERATOR | ROUTE_BODY_JSON,
                   resolve_alert) != 0)
        return -1;
    return 0;
}
