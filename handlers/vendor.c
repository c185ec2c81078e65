/*
 * The vendor's own products: list (every status), create, patch. Vendor tokens only (the
 * route flags have the token checked before a handler runs); every query is scoped by the
 * caller's vendor and market, so another vendor's product is simply not found (404) and
 * nothing changes. After a write commits, the market's catalogue version is bumped so the
 * public answers cached from it are dropped (models/cachever.h). Worker threads.
 */
#include <string.h>
#include "server/http/api.h"
#include "models/cachever.h"
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/product.h"

/* ---------------------------------------------------------------- helpers */

/* Replies for a model status that is not DB_OK: the product model's own refusals, then
 * the database's. */
static void fail(api_req_t *req, worker_t *w, int rc)
{
    switch (rc) {
    case PRODUCT_SUSPENDED:
        api_reply_error(req, SF_E_FORBIDDEN, "vendor_suspended", "the vendor may not trade now", NULL);
        return;
    case PRODUCT_NO_STALL:
        api_reply_error(req, SF_E_CONFLICT, "no_stall", "the vendor has no stall to sell from", NULL);
        return;
    case PRODUCT_BAD_STALL: api_reply_invalid(req, "stall_id", "not one of your stalls"); return;
    case PRODUCT_BAD_CATEGORY: api_reply_invalid(req, "category", "no such category"); return;
    default: api_reply_db_failure(req, &w->db, rc, "no such product");
    }
}

/* A vendor token always names its vendor; one that does not is refused, not trusted. */
static int is_vendor(api_req_t *req)
{
    if (req->who.vendor_id > 0 && req->who.market_id > 0)
        return 1;
    api_reply_error(req, SF_E_FORBIDDEN, NULL, "not a vendor account", NULL);
    return 0;
}

/* Bumps the catalogue version after a committed write; a failure only delays the public
 * caches (never beyond their max age), so the write still succeeded. */
static void bump(api_req_t *req, worker_t *w)
{
    uint64_t version;
    if (cachever_bump(&w->redis, req->who.market_id, &version) != 0)
        log_warn("catalogue version of market %lld not bumped: %s", (long long)req->who.market_id, w->redis.err);
    else
        api_cache_bumped(req, req->who.market_id, version);
}

/* Answers with the vendor's product as stored now. */
static void reply_product(api_req_t *req, worker_t *w, int status, int64_t id)
{
    json_t *doc = NULL;
    int rc = product_get(&w->db, id, req->who.market_id, req->who.vendor_id, &doc);
    if (rc != DB_OK)
        fail(req, w, rc);
    else
        api_reply_json(req, status, doc);
}

/* ---------------------------------------------------------------- routes */

static void list_own(api_req_t *req, worker_t *w)
{
    char buf[PRODUCT_CURSOR_MAX], next[PRODUCT_CURSOR_MAX];
    product_query_t pq = {.limit = PRODUCT_LIST_DEFAULT, .sort = PRODUCT_SORT_ID};
    json_t *items = NULL;
    if (!is_vendor(req))
        return;
    pq.market_id = req->who.market_id;
    pq.vendor_id = req->who.vendor_id;
    if (api_query_limit(req, PRODUCT_LIST_DEFAULT, PRODUCT_LIST_MAX, &pq.limit) != 0)
        return;
    int rc = api_query(req, "cursor", buf, sizeof(buf));
    if (rc < 0 || (rc == 1 && product_cursor_decode(buf, 'i', &pq.after_key, &pq.after_id) != 0)) {
        api_reply_invalid(req, "cursor", "is not a cursor of this list");
        return;
    }
    pq.has_after = rc == 1;
    if ((rc = product_list(&w->db, &pq, &items, next, sizeof(next))) != DB_OK)
        fail(req, w, rc);
    else
        api_reply_list(req, items, next);
}

static void create(api_req_t *req, worker_t *w)
{
    product_input_t in;
    product_invalid_t bad;
    int64_t id = 0;
    if (!is_vendor(req))
        return;
    if (product_parse_create(req->body, &in, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    int rc = product_create(&w->db, req->who.market_id, req->who.vendor_id, &in, &id);
    if (rc != DB_OK) {
        fail(req, w, rc);
        return;
    }
    bump(req, w);
    reply_product(req, w, 201, id);
}

static void patch(api_req_t *req, worker_t *w)
{
    product_input_t in;
    product_invalid_t bad;
    int64_t id;
    if (!is_vendor(req))
        return;
    if (api_param_id(req, 0, &id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such product", NULL);
        return;
    }
    if (product_parse_patch(req->body, &in, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    int rc = product_update(&w->db, req->who.market_id, req->who.vendor_id, id, &in);
    if (rc != DB_OK) {
        fail(req, w, rc);
        return;
    }
    bump(req, w);
    reply_product(req, w, 200, id);
}

int vendor_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/vendor/products", ROUTE_VENDOR, list_own) != 0 ||
        router_add(r, "POST", "/v1/vendor/products", ROUTE_VENDOR | ROUTE_BODY_JSON, create) != 0 ||
        router_add(r, "PATCH", "/v1/vendor/products/{id}", ROUTE_VENDOR | ROUTE_BODY_JSON, patch) != 0)
        return -1;
    return 0;
}
