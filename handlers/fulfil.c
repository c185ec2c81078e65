/*
 * The vendor's orders (API.md "Vendor"): the list of its own vendor orders and the moves
 * accept, reject, pick and ready. Vendor tokens only (the route flags have the token checked
 * before a handler runs); every query is scoped by the caller's vendor and market, so
 * another vendor's vendor order is simply not found (404) and nothing changes. Worker
 * threads.
 *
 * After a move commits: the live update is emitted (models/events.h) and, when stock moved
 * (a rejection, a pick), the market's catalogue version is bumped; either failing is only
 * logged, the move stands. Each move answers the vendor order as the list shows it, read in
 * the move's own transaction.
 */
#include <stdio.h>
#include <string.h>
#include "handlers/handlers.h"
#include "models/base/cursor.h"
#include "models/base/log.h"
#include "models/cachever.h"
#include "models/events.h"
#include "models/fulfil.h"
#include "server/http/api.h"
#include "server/http/valid.h"

#define NO_VENDOR_ORDER "no such vendor order"

/* A rejection reason: 1..FULFIL_REASON_MAX code points of one line, no space at either end. */
static const valid_text_t reason_text = {.min = 1, .max = FULFIL_REASON_MAX, .trimmed = 1};

/* ---------------------------------------------------------------- helpers */

/* A vendor token always names its vendor; one that does not is refused, not trusted. */
static sf_status_t vendor_of(const api_req_t *req, status_detail_t *d)
{
    if (req->who.vendor_id > 0 && req->who.market_id > 0)
        return SF_OK;
    return status_field(d, SF_E_FORBIDDEN, NULL, "not a vendor account");
}

/* The vendor order named by the path, as the caller. SF_OK, or the refusal. */
static sf_status_t target(const api_req_t *req, fulfil_actor_t *who, char *actor, size_t len, int64_t *id,
                          status_detail_t *d)
{
    sf_status_t rc = vendor_of(req, d);
    if (rc != SF_OK)
        return rc;
    if (valid_path_id(req, 0, id) != 0)
        return status_field(d, SF_E_NOT_FOUND, NULL, NO_VENDOR_ORDER);
    snprintf(actor, len, "vendor:%lld", (long long)req->who.vendor_id);
    *who = (fulfil_actor_t){.market_id = req->who.market_id, .vendor_id = req->who.vendor_id, .name = actor};
    return SF_OK;
}

/* A vendor order that is not found is "no such vendor order" (another vendor's is not found
 * either). */
static sf_status_t outcome(sf_status_t rc, status_detail_t *d)
{
    if (rc == SF_E_NOT_FOUND && d->reason[0] == '\0')
        status_field(d, rc, NULL, NO_VENDOR_ORDER);
    return rc;
}

/* After a committed move: the parties are told, and the catalogue shows the stock. */
static void after(api_req_t *req, worker_t *w, const fulfil_result_t *res)
{
    uint64_t version;
    if (events_order_changed(&w->db, &w->redis, req->cfg->events_keep, res->order_id) != 0)
        log_warn("order %lld: live update not emitted: %s", (long long)res->order_id, w->redis.err);
    if (!res->stock_moved)
        return;
    if (cachever_bump_stock(&w->redis, res->market_id, &version) != 0)
        log_warn("catalogue version of market %lld not bumped: %s", (long long)res->market_id, w->redis.err);
    else
        api_cache_stock_bumped(req, res->market_id, version, NULL, 0);
}

/* Reads {"reason"}. */
static sf_status_t parse_reject(const api_req_t *req, const char **reason, status_detail_t *d)
{
    static const char *const keys[] = {"reason", NULL};
    if (valid_only_keys(req->body, keys, "", d) != 0 ||
        valid_str(req->body, "reason", NULL, 1, 0, &reason_text, reason, d) < 0)
        return SF_E_INVALID;
    return SF_OK;
}

/* Reads {"lines": [{"line_id", "qty_actual"}, ...]} (1..FULFIL_PICK_LINES_MAX lines) into
 * lines; which lines they must be is the model's to say. */
static sf_status_t parse_pick(const api_req_t *req, fulfil_pick_line_t *lines, size_t *n, status_detail_t *d)
{
    static const char *const keys[] = {"lines", NULL}, *const line_keys[] = {"line_id", "qty_actual", NULL};
    const json_t *arr = json_object_get(req->body, "lines");
    char prefix[32], field[48];
    if (valid_only_keys(req->body, keys, "", d) != 0)
        return SF_E_INVALID;
    if (!json_is_array(arr) || json_array_size(arr) == 0 || json_array_size(arr) > FULFIL_PICK_LINES_MAX) {
        valid_refuse(d, "lines", "must be an array of 1 to 100 lines {line_id, qty_actual}");
        return SF_E_INVALID;
    }
    *n = json_array_size(arr);
    for (size_t i = 0; i < *n; i++) {
        const json_t *l = json_array_get(arr, i);
        int64_t id = 0, qty = 0;
        snprintf(prefix, sizeof(prefix), "lines[%zu].", i);
        if (!json_is_object(l)) {
            snprintf(field, sizeof(field), "lines[%zu]", i);
            valid_refuse(d, field, "must be an object {line_id, qty_actual}");
            return SF_E_INVALID;
        }
        if (valid_only_keys(l, line_keys, prefix, d) != 0)
            return SF_E_INVALID;
        snprintf(field, sizeof(field), "lines[%zu].line_id", i);
        if (valid_id(l, "line_id", field, 1, &id, d) < 0)
            return SF_E_INVALID;
        snprintf(field, sizeof(field), "lines[%zu].qty_actual", i);
        if (valid_int(l, "qty_actual", field, 1, 0, FULFIL_QTY_MAX, &qty, d) < 0)
            return SF_E_INVALID;
        lines[i] = (fulfil_pick_line_t){.line_id = id, .qty_actual = qty};
    }
    return SF_OK;
}

/* ---------------------------------------------------------------- routes */

static void list_own(api_req_t *req, worker_t *w)
{
    char next[CURSOR_MAX];
    const char *const *statuses = fulfil_status_names();
    status_detail_t d = {0};
    valid_page_t pg;
    json_t *items = NULL;
    sf_status_t rc = vendor_of(req, &d);
    if (rc == SF_OK)
        rc = valid_query_page(req, "status", statuses, FULFIL_LIST_DEFAULT, FULFIL_LIST_MAX, FULFIL_CURSOR_KIND, &pg,
                              &d);
    if (rc == SF_OK)
        rc = fulfil_list(&w->db, req->who.market_id, req->who.vendor_id, pg.filter >= 0 ? statuses[pg.filter] : NULL,
                         pg.limit, pg.after_id, &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
}

/* A move that takes no body (accept, ready): fn with the vendor order of the path. */
typedef sf_status_t (*plain_move_fn)(db_t *db, const fulfil_actor_t *who, int64_t id, fulfil_result_t *res,
                                     json_t **doc);

static void plain_move(api_req_t *req, worker_t *w, plain_move_fn fn)
{
    fulfil_actor_t who;
    fulfil_result_t res;
    char actor[FULFIL_ACTOR_MAX];
    status_detail_t d = {0};
    int64_t id = 0;
    json_t *doc = NULL;
    sf_status_t rc = target(req, &who, actor, sizeof(actor), &id, &d);
    if (rc == SF_OK)
        rc = outcome(fn(&w->db, &who, id, &res, &doc), &d);
    if (rc == SF_OK)
        after(req, w, &res);
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void accept_vo(api_req_t *req, worker_t *w)
{
    plain_move(req, w, fulfil_accept);
}

static void reject_vo(api_req_t *req, worker_t *w)
{
    fulfil_actor_t who;
    fulfil_result_t res;
    char actor[FULFIL_ACTOR_MAX];
    status_detail_t d = {0};
    const char *reason = NULL;
    int64_t id = 0;
    json_t *doc = NULL;
    sf_status_t rc = target(req, &who, actor, sizeof(actor), &id, &d);
    if (rc == SF_OK)
        rc = parse_reject(req, &reason, &d);
    if (rc == SF_OK)
        rc = outcome(fulfil_reject(&w->db, &who, id, reason, &res, &doc), &d);
    if (rc == SF_OK)
        after(req, w, &res);
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void pick_vo(api_req_t *req, worker_t *w)
{
    fulfil_actor_t who;
    fulfil_result_t res;
    fulfil_pick_line_t lines[FULFIL_PICK_LINES_MAX];
    char actor[FULFIL_ACTOR_MAX];
    status_detail_t d = {0};
    size_t n = 0;
    int64_t id = 0;
    json_t *doc = NULL;
    sf_status_t rc = target(req, &who, actor, sizeof(actor), &id, &d);
    if (rc == SF_OK)
        rc = parse_pick(req, lines, &n, &d);
    if (rc == SF_OK)
        rc = outcome(fulfil_pick(&w->db, &who, id, lines, n, &res, &doc, &d), &d);
    if (rc == SF_OK)
        after(req, w, &res);
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void ready_vo(api_req_t *req, worker_t *w)
{
    plain_move(req, w, fulfil_ready);
}

int fulfil_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/vendor/orders", ROUTE_VENDOR, list_own) != 0 ||
        router_add(r, "POST", "/v1/vendor/orders/{id}/accept", ROUTE_VENDOR, accept_vo) != 0 ||
        router_add(r, "POST", "/v1/vendor/orders/{id}/reject", ROUTE_VENDOR | ROUTE_BODY_JSON, reject_vo) != 0 ||
        router_add(r, "POST", "/v1/vendor/orders/{id}/pick", ROUTE_VENDOR | ROUTE_BODY_JSON, pick_vo) != 0 ||
        router_add(r, "POST", "/v1/vendor/orders/{id}/ready", ROUTE_VENDOR, ready_vo) != 0)
        return -1;
    return 0;
}
