/*
 * The vendor's own products: list (every status), create, patch; and its own record
 * (GET /v1/vendor/profile: name, stalls, licences, staff). Vendor tokens only (the
 * route flags have the token checked before a handler runs); every query is scoped by the
 * caller's vendor and market, so another vendor's product is simply not found (404) and
 * nothing changes. After a write commits, the market's catalogue version is bumped so the
 * public answers cached from it are dropped (models/cachever.h). Worker threads.
 */
#include <string.h>
#include "models/base/cursor.h"
#include "server/http/api.h"
#include "server/http/valid.h"
#include "models/cachever.h"
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/product.h"
#include "models/vendor.h"

#define NO_PRODUCT "no such product"

/* ---------------------------------------------------------------- helpers */

/* A vendor token always names its vendor; one that does not is refused, not trusted. */
static sf_status_t vendor_of(const api_req_t *req, status_detail_t *d)
{
    if (req->who.vendor_id > 0 && req->who.market_id > 0)
        return SF_OK;
    return status_field(d, SF_E_FORBIDDEN, NULL, "not a vendor account");
}

/* The model's "first bad field" as the outcome of a refused body. */
static sf_status_t refused(status_detail_t *d, const product_invalid_t *bad)
{
    return status_field(d, SF_E_INVALID, bad->field, bad->reason);
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

/* After a committed write: bump, then read the vendor's product as stored now. */
static sf_status_t written(api_req_t *req, worker_t *w, int64_t id, json_t **doc, status_detail_t *d)
{
    bump(req, w);
    sf_status_t rc = product_get(&w->db, id, req->who.market_id, req->who.vendor_id, doc);
    return rc == DB_NOROW ? status_field(d, SF_E_NOT_FOUND, NULL, NO_PRODUCT) : rc;
}

/* ---------------------------------------------------------------- routes */

static void list_own(api_req_t *req, worker_t *w)
{
    char next[CURSOR_MAX];
    product_query_t pq = {.limit = PRODUCT_LIST_DEFAULT, .sort = PRODUCT_SORT_ID};
    status_detail_t d = {0};
    json_t *items = NULL;
    sf_status_t rc = vendor_of(req, &d);
    int has = 0;
    pq.market_id = req->who.market_id;
    pq.vendor_id = req->who.vendor_id;
    if (rc == SF_OK && (valid_query_limit(req, PRODUCT_LIST_DEFAULT, PRODUCT_LIST_MAX, &pq.limit, &d) != 0 ||
                        (has = valid_query_cursor(req, 'i', &pq.after_key, &pq.after_id, &d)) < 0))
        rc = SF_E_INVALID;
    pq.has_after = has == 1;
    if (rc == SF_OK)
        rc = product_list(&w->db, &pq, &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
}

static void create(api_req_t *req, worker_t *w)
{
    product_input_t in;
    product_invalid_t bad;
    status_detail_t d = {0};
    int64_t id = 0;
    json_t *doc = NULL;
    sf_status_t rc = vendor_of(req, &d);
    if (rc == SF_OK && product_parse_create(req->body, &in, &bad) != 0)
        rc = refused(&d, &bad);
    if (rc == SF_OK)
        rc = product_create(&w->db, req->who.market_id, req->who.vendor_id, &in, &id, &d);
    if (rc == SF_OK)
        rc = written(req, w, id, &doc, &d);
    api_reply_result(req, w, rc, &d, 201, doc);
}

static void patch(api_req_t *req, worker_t *w)
{
    product_input_t in;
    product_invalid_t bad;
    status_detail_t d = {0};
    int64_t id = 0;
    json_t *doc = NULL;
    sf_status_t rc = vendor_of(req, &d);
    if (rc == SF_OK && valid_path_id(req, 0, &id) != 0)
        rc = status_field(&d, SF_E_NOT_FOUND, NULL, NO_PRODUCT);
    if (rc == SF_OK && product_parse_patch(req->body, &in, &bad) != 0)
        rc = refused(&d, &bad);
    if (rc == SF_OK)
        rc = product_update(&w->db, req->who.market_id, req->who.vendor_id, id, &in, &d);
    if (rc == SF_OK)
        rc = written(req, w, id, &doc, &d);
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* GET /v1/vendor/profile: the vendor's own record, for its dashboard. */
static void profile(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = vendor_of(req, &d);
    if (rc == SF_OK)
        rc = vendor_profile(&w->db, req->who.market_id, req->who.vendor_id, &doc, &d);
    api_reply_result(req, w, rc, &d, 200, doc);
}

int vendor_register(router_t *r)
{
    if (router_add(r, "GET", "/v1/vendor/profile", ROUTE_VENDOR, profile) != 0 ||
        router_add(r, "GET", "/v1/vendor/products", ROUTE_VENDOR, list_own) != 0 ||
        router_add(r, "POST", "/v1/vendor/products", ROUTE_VENDOR | ROUTE_BODY_JSON, create) != 0 ||
        router_add(r, "PATCH", "/v1/vendor/products/{id}", ROUTE_VENDOR | ROUTE_BODY_JSON, patch) != 0)
        return -1;
    return 0;
}
