/*
 * The operator's routes for supervision-platform clients (role operator), scoped to the
 * operator's own market: another market's client id is 404 and nothing changes.
 *   POST /v1/admin/platform-clients               {name, scope, market_ids} → 201 with the secret, shown once
 *   GET  /v1/admin/platform-clients               the market's clients, a page at a time, no secrets
 *   POST /v1/admin/platform-clients/{id}/rotate   a new secret; the old one valid for the grace period
 *        (409 while an earlier one still is), or, with {"revoke_previous": true}, none
 *   POST /v1/admin/platform-clients/{id}/disable  refused from then on (401 for its requests)
 *   POST /v1/admin/platform-clients/{id}/enable   admitted again
 * Worker threads. Each validates its whole input first (server/http/valid.h), calls one
 * model function (models/platform.h), and replies once.
 */
#include <jansson.h>
#include <stdio.h>
#include "handlers/handlers.h"
#include "models/base/cursor.h"
#include "models/platform.h"
#include "server/http/api.h"
#include "server/http/valid.h"

#define LIST_DEFAULT 20
#define NO_CLIENT    "no such platform client in this market"

static const valid_text_t T_NAME = VALID_PROSE(1, 100);
static const char *const SCOPES[] = {"district", "city", NULL};

static int parse_market_ids(const json_t *arr, int64_t *ids, size_t *n, status_detail_t *d)
{
    if (arr == NULL)
        return valid_refuse(d, "market_ids", "is required");
    return valid_id_array(arr, "market_ids", "market id", 1, PLATFORM_MAX_MARKETS, ids, n, d);
}

static int parse_client(const json_t *b, platform_new_t *in, int64_t *ids, status_detail_t *d)
{
    static const char *const keys[] = {"name", "scope", "market_ids", NULL};
    int scope = 0;
    if (valid_only_keys(b, keys, "", d) != 0 || valid_str(b, "name", NULL, 1, 0, &T_NAME, &in->name, d) < 0 ||
        valid_enum(b, "scope", NULL, 1, SCOPES, &scope, d) < 0 ||
        parse_market_ids(json_object_get(b, "market_ids"), ids, &in->nmarkets, d) != 0)
        return -1;
    in->scope = SCOPES[scope];
    in->market_ids = ids;
    return 0;
}

static void create_h(api_req_t *req, worker_t *w)
{
    int64_t ids[PLATFORM_MAX_MARKETS];
    platform_new_t in = {0};
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = parse_client(req->body, &in, ids, &d) == 0 ? SF_OK : SF_E_INVALID;
    if (rc == SF_OK)
        rc = platform_create(&w->db, req->who.market_id, req->who.user_id, &in, &doc, &d);
    api_reply_result(req, w, rc, &d, 201, doc);
}

static void list_h(api_req_t *req, worker_t *w)
{
    valid_page_t pg;
    status_detail_t d = {0};
    json_t *items = NULL;
    int64_t next_after = 0;
    char cursor[CURSOR_MAX] = "";
    sf_status_t rc = valid_query_page(req, NULL, NULL, LIST_DEFAULT, PLATFORM_LIST_MAX, PLATFORM_CURSOR_KIND, &pg, &d);
    if (rc == SF_OK)
        rc = platform_list(&w->db, req->who.market_id, pg.after_id, pg.limit, &items, &next_after);
    if (rc == SF_OK && next_after != 0 &&
        cursor_encode(PLATFORM_CURSOR_KIND, 0, next_after, cursor, sizeof(cursor)) != 0)
        rc = SF_E_INTERNAL;
    api_reply_page(req, w, rc, &d, items, cursor);
}

/* The client named by the path: SF_OK, or SF_E_NOT_FOUND for a path that names nothing. */
static sf_status_t path_client(const api_req_t *req, int64_t *id, status_detail_t *d)
{
    return valid_path_id(req, 0, id) == 0 ? SF_OK : status_field(d, SF_E_NOT_FOUND, NULL, NO_CLIENT);
}

/* The rotation's optional body: none, {} or {"revoke_previous": true|false}. 0 or -1. */
static int parse_rotation(const json_t *b, int *revoke, status_detail_t *d)
{
    static const char *const keys[] = {"revoke_previous", NULL};
    *revoke = 0;
    if (b == NULL)
        return 0;
    if (valid_only_keys(b, keys, "", d) != 0)
        return -1;
    const json_t *v = json_object_get(b, "revoke_previous");
    if (v != NULL && !json_is_boolean(v))
        return valid_refuse(d, "revoke_previous", "must be true or false");
    *revoke = json_is_true(v);
    return 0;
}

static void rotate_h(api_req_t *req, worker_t *w)
{
    int64_t id = 0;
    int revoke = 0;
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = path_client(req, &id, &d);
    if (rc == SF_OK && parse_rotation(req->body, &revoke, &d) != 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = platform_rotate(&w->db, req->who.market_id, id, req->cfg->platform_rotation_grace_s, revoke, &doc, &d);
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void set_status(api_req_t *req, worker_t *w, int enable)
{
    int64_t id = 0;
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = path_client(req, &id, &d);
    if (rc == SF_OK)
        rc = platform_set_status(&w->db, req->who.market_id, id, enable, &doc);
    if (rc == SF_E_NOT_FOUND)
        status_field(&d, rc, NULL, NO_CLIENT);
    else if (rc == SF_E_CLIENT_STATE)
        status_field(&d, rc, NULL, enable ? "the client is already enabled" : "the client is already disabled");
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void disable_h(api_req_t *req, worker_t *w)
{
    set_status(req, w, 0);
}

static void enable_h(api_req_t *req, worker_t *w)
{
    set_status(req, w, 1);
}

int platform_clients_register(router_t *r)
{
    const int op = ROUTE_OPERATOR;
    if (router_add(r, "POST", "/v1/admin/platform-clients", op | ROUTE_BODY_JSON, create_h) != 0 ||
        router_add(r, "GET", "/v1/admin/platform-clients", op, list_h) != 0 ||
        router_add(r, "POST", "/v1/admin/platform-clients/{id}/rotate", op | ROUTE_BODY_JSON_OPT, rotate_h) != 0 ||
        router_add(r, "POST", "/v1/admin/platform-clients/{id}/disable", op, disable_h) != 0 ||
        router_add(r, "POST", "/v1/admin/platform-clients/{id}/enable", op, enable_h) != 0)
        return -1;
    return 0;
}
