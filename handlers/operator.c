/*
 * The market centre's routes (role operator), everything scoped to the operator's own
 * market (req->who.market_id): an id of another market is 404, never a change there.
 *   POST  /v1/admin/stalls               a stall, without a vendor
 *   POST  /v1/admin/vendors              a vendor, its licences, stalls and login, at once
 *   PATCH /v1/admin/vendors/{id}         change any of those but the login, and the status
 *   POST  /v1/admin/vendors/{id}/staff   a staff member with a health certificate
 *   POST  /v1/admin/couriers             a courier and its login
 *   PUT   /v1/admin/guide-prices         the day's guide prices, upserted
 *   POST  /v1/admin/notices              a notice
 *   GET   /v1/admin/alerts?date=         price anomalies against the day's guide prices
 *   GET   /v1/admin/vendors?status=&q=   the market's vendors, by id, a page at a time
 *   GET   /v1/admin/vendors/{id}         one vendor
 *   GET   /v1/admin/stalls               the market's stalls, a page at a time
 *   GET   /v1/admin/couriers             the market's couriers, a page at a time
 * Worker threads. Each handler validates the whole body first with the validation kit
 * (server/http/valid.h: first bad field → 422 with details {field, reason}; unknown fields
 * are refused too, so a typo never passes as "not given"), then calls one model function,
 * then bumps the catalogue version when the public catalogue shows what changed, and ends
 * with one reply. The body belongs to the request; the models borrow its
 * strings. Complaints are in feedback.c, the market's statistics in stats.c and the
 * platform clients in platform_clients.c.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include "handlers/handlers.h"
#include "models/base/cursor.h"
#include "models/base/log.h"
#include "models/cachever.h"
#include "models/courier.h"
#include "models/guide.h"
#include "models/product.h"
#include "models/vendor.h"
#include "server/http/api.h"
#include "server/http/valid.h"

#define MAP_MAX      100000 /* stall map coordinates, in the map's own units */
#define GUIDE_DAYS   366    /* a guide price is for a day within a year of today */
#define LIST_DEFAULT 20     /* ?limit= when absent */
#define Q_MAX        100    /* ?q= in code points, as a vendor's name */
#define NO_VENDOR    "no such vendor in this market"

/* The kinds of this file's list cursors (models/base/cursor.h): one list refuses another's. */
#define KIND_VENDORS  'v'
#define KIND_STALLS   'l'
#define KIND_COURIERS 'c'

/* ---------------------------------------------------------------- the rules of each text */

static const valid_text_t T_NAME = {1, 100, valid_c_line, "no control characters", 0};
static const valid_text_t T_NAME64 = {1, 64, valid_c_line, "no control characters", 0};
static const valid_text_t T_PHONE = {5, 20, valid_c_phone, "digits, + and -", 0};
static const valid_text_t T_SCOPE = {1, 500, valid_c_text, "no control characters", 0};
static const valid_text_t T_USERNAME = {3, 64, valid_c_name, "A-Z, a-z, 0-9, _, . and -", 0};
static const valid_text_t T_PASSWORD = {8, 128, valid_c_any, NULL, 0};
static const valid_text_t T_STALL_NO = {1, 16, valid_c_slug, "A-Z, a-z, 0-9 and -", 0};
static const valid_text_t T_ZONE = {1, 32, valid_c_line, "no control characters", 0};
static const valid_text_t T_LIC_TYPE = {1, 32, valid_c_lower, "a-z and _", 0};
static const valid_text_t T_LIC_NUMBER = {1, 64, valid_c_line, "printable characters", 0};
static const valid_text_t T_CODE = {1, 16, valid_c_code, "A-Z and 0-9", 0};
static const valid_text_t T_TITLE = {1, 200, valid_c_line, "no control characters", 0};
static const valid_text_t T_BODY = VALID_PROSE(1, 10000);
static const valid_text_t T_QUERY = {0, Q_MAX, valid_c_line, NULL, 0};

static const char *const CREDIT_LEVELS[] = {"A", "B", "C", "D", NULL};
static const char *const VENDOR_STATUSES[] = {"active", "suspended", "closed", NULL};

/* A required text field: 0, or -1 with d set. */
static int need(const json_t *o, const char *key, const char *field, const valid_text_t *t, const char **out,
                status_detail_t *d)
{
    return valid_str(o, key, field, 1, 0, t, out, d) < 0 ? -1 : 0;
}

/* An optional one: 0 (absent or read), or -1 with d set. */
static int maybe(const json_t *o, const char *key, const valid_text_t *t, const char **out, status_detail_t *d)
{
    return valid_str(o, key, NULL, 0, 0, t, out, d) < 0 ? -1 : 0;
}

/* ---------------------------------------------------------------- the reply */

/* Bumps the market's catalogue version after a committed write; a failure only delays the
 * public caches (never beyond their max age), so the write still succeeded. */
static void bump(api_req_t *req, worker_t *w)
{
    uint64_t version;
    if (cachever_bump(&w->redis, req->who.market_id, &version) != 0)
        log_warn("operator: catalogue version of market %lld not bumped: %s", (long long)req->who.market_id,
                 w->redis.err);
    else
        api_cache_bumped(req, req->who.market_id, version);
}

/* The one reply of a route: doc (stolen) with status when rc is SF_OK, after bumping the
 * catalogue version when the write shows there; else the outcome. */
static void reply(api_req_t *req, worker_t *w, sf_status_t rc, status_detail_t *d, int status, json_t *doc, int bumps)
{
    if (rc == SF_OK && bumps)
        bump(req, w);
    api_reply_result(req, w, rc, d, status, doc);
}

/* The vendor named by the path: SF_OK, or SF_E_NOT_FOUND for a path that names nothing. */
static sf_status_t path_vendor(const api_req_t *req, int64_t *id, status_detail_t *d)
{
    return valid_path_id(req, 0, id) == 0 ? SF_OK : status_field(d, SF_E_NOT_FOUND, NULL, NO_VENDOR);
}

/* ---------------------------------------------------------------- stalls */

typedef struct stall_in {
    const char *no, *zone;
    int64_t x, y;
} stall_in_t;

static int parse_stall(const json_t *b, stall_in_t *s, status_detail_t *d)
{
    static const char *const keys[] = {"stall_no", "zone", "map", NULL};
    static const char *const map_keys[] = {"x", "y", NULL};
    const json_t *map = json_object_get(b, "map");
    if (valid_only_keys(b, keys, "", d) != 0 || need(b, "stall_no", NULL, &T_STALL_NO, &s->no, d) != 0 ||
        need(b, "zone", NULL, &T_ZONE, &s->zone, d) != 0)
        return -1;
    if (map == NULL)
        return valid_refuse(d, "map", "is required");
    if (!json_is_object(map))
        return valid_refuse(d, "map", "must be an object {x, y}");
    if (valid_only_keys(map, map_keys, "map.", d) != 0 || valid_int(map, "x", "map.x", 1, 0, MAP_MAX, &s->x, d) < 0 ||
        valid_int(map, "y", "map.y", 1, 0, MAP_MAX, &s->y, d) < 0)
        return -1;
    return 0;
}

static void stall_create(api_req_t *req, worker_t *w)
{
    stall_in_t s = {0};
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = parse_stall(req->body, &s, &d) == 0 ? SF_OK : SF_E_INVALID;
    if (rc == SF_OK)
        rc = vendor_stall_create(&w->db, req->who.market_id, s.no, s.zone, s.x, s.y, &doc, &d);
    reply(req, w, rc, &d, 201, doc, 1);
}

/* ---------------------------------------------------------------- vendors */

static int parse_stall_ids(const json_t *arr, vendor_input_t *in, status_detail_t *d)
{
    if (valid_id_array(arr, "stall_ids", "stall id", 0, VENDOR_MAX_STALLS, in->stall_ids, &in->nstalls, d) != 0)
        return -1;
    in->has_stalls = 1;
    return 0;
}

static int parse_licence(const json_t *o, size_t i, vendor_licence_t *l, status_detail_t *d)
{
    static const char *const keys[] = {"type", "number", "valid_until", NULL};
    char prefix[32], f1[48], f2[48], f3[48];
    int64_t days;
    snprintf(prefix, sizeof(prefix), "licences[%zu].", i);
    snprintf(f1, sizeof(f1), "%stype", prefix);
    snprintf(f2, sizeof(f2), "%snumber", prefix);
    snprintf(f3, sizeof(f3), "%svalid_until", prefix);
    if (!json_is_object(o))
        return valid_refuse(d, prefix, "must be an object {type, number, valid_until}");
    if (valid_only_keys(o, keys, prefix, d) != 0 || need(o, "type", f1, &T_LIC_TYPE, &l->type, d) != 0 ||
        need(o, "number", f2, &T_LIC_NUMBER, &l->number, d) != 0 ||
        valid_date(o, "valid_until", f3, 1, &l->valid_until, &days, d) < 0)
        return -1;
    return 0;
}

static int parse_licences(const json_t *arr, vendor_input_t *in, status_detail_t *d)
{
    char reason[64];
    size_t i;
    json_t *v;
    if (!json_is_array(arr))
        return valid_refuse(d, "licences", "must be an array of licences");
    if (json_array_size(arr) > VENDOR_MAX_LICENCES) {
        snprintf(reason, sizeof(reason), "may list at most %d licences", VENDOR_MAX_LICENCES);
        return valid_refuse(d, "licences", reason);
    }
    json_array_foreach(arr, i, v)
    {
        if (parse_licence(v, i, &in->licences[i], d) != 0)
            return -1;
    }
    in->nlicences = json_array_size(arr);
    in->has_licences = 1;
    return 0;
}

static int parse_credit_status(const json_t *b, vendor_input_t *in, status_detail_t *d)
{
    int credit = 0, status = 0, rc;
    if ((rc = valid_enum(b, "credit_level", NULL, 0, CREDIT_LEVELS, &credit, d)) < 0)
        return -1;
    if (rc == 1)
        in->credit_level = CREDIT_LEVELS[credit];
    if ((rc = valid_enum(b, "status", NULL, 0, VENDOR_STATUSES, &status, d)) < 0)
        return -1;
    if (rc == 1)
        in->status = VENDOR_STATUSES[status];
    return 0;
}

/* The fields a create and a change share; each may be absent here. */
static int parse_vendor_fields(const json_t *b, vendor_input_t *in, status_detail_t *d)
{
    json_t *stalls = json_object_get(b, "stall_ids"), *lic = json_object_get(b, "licences");
    if (maybe(b, "name", &T_NAME, &in->name, d) != 0 ||
        maybe(b, "contact_phone", &T_PHONE, &in->contact_phone, d) != 0 ||
        maybe(b, "business_scope", &T_SCOPE, &in->business_scope, d) != 0 || parse_credit_status(b, in, d) != 0)
        return -1;
    if (stalls != NULL && parse_stall_ids(stalls, in, d) != 0)
        return -1;
    if (lic != NULL && parse_licences(lic, in, d) != 0)
        return -1;
    return 0;
}

static int parse_vendor_new(const json_t *b, vendor_input_t *in, status_detail_t *d)
{
    static const char *const keys[] = {"name",           "contact_phone", "stall_ids",
                                       "business_scope", "licences",      "credit_level",
                                       "username",       "password",      NULL};
    static const char *const required[] = {"name", "contact_phone", "business_scope", "credit_level", NULL};
    if (valid_only_keys(b, keys, "", d) != 0 || parse_vendor_fields(b, in, d) != 0)
        return -1;
    for (size_t i = 0; required[i] != NULL; i++)
        if (json_object_get(b, required[i]) == NULL)
            return valid_refuse(d, required[i], "is required");
    if (need(b, "username", NULL, &T_USERNAME, &in->username, d) != 0 ||
        need(b, "password", NULL, &T_PASSWORD, &in->password, d) != 0)
        return -1;
    return 0;
}

static void vendor_create_h(api_req_t *req, worker_t *w)
{
    vendor_input_t in = {0};
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = parse_vendor_new(req->body, &in, &d) == 0 ? SF_OK : SF_E_INVALID;
    if (rc == SF_OK)
        rc = vendor_create(&w->db, req->who.market_id, &in, &doc, &d);
    reply(req, w, rc, &d, 201, doc, 1);
}

static int parse_vendor_change(const json_t *b, vendor_input_t *in, status_detail_t *d)
{
    static const char *const keys[] = {"name",     "contact_phone", "stall_ids", "business_scope",
                                       "licences", "credit_level",  "status",    NULL};
    if (json_object_get(b, "username") != NULL || json_object_get(b, "password") != NULL)
        return valid_refuse(d, json_object_get(b, "username") != NULL ? "username" : "password",
                            "cannot be changed here");
    if (valid_only_keys(b, keys, "", d) != 0 || parse_vendor_fields(b, in, d) != 0)
        return -1;
    if (json_object_size(b) == 0)
        return valid_refuse(d, "", "name at least one field to change");
    return 0;
}

static void vendor_update_h(api_req_t *req, worker_t *w)
{
    vendor_input_t in = {0};
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t id = 0;
    sf_status_t rc = path_vendor(req, &id, &d);
    if (rc == SF_OK && parse_vendor_change(req->body, &in, &d) != 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = vendor_update(&w->db, req->who.market_id, id, &in, &doc, &d);
    reply(req, w, rc, &d, 200, doc, 1);
}

static int parse_staff(const json_t *b, vendor_staff_new_t *s, status_detail_t *d)
{
    static const char *const keys[] = {"name", "certificate", "valid_until", NULL};
    int64_t days = 0;
    if (valid_only_keys(b, keys, "", d) != 0 || need(b, "name", NULL, &T_NAME64, &s->name, d) != 0 ||
        need(b, "certificate", NULL, &T_LIC_NUMBER, &s->certificate, d) != 0 ||
        valid_date(b, "valid_until", NULL, 1, &s->valid_until, &days, d) < 0)
        return -1;
    return 0;
}

static void staff_add_h(api_req_t *req, worker_t *w)
{
    vendor_staff_new_t s = {0};
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t id = 0;
    sf_status_t rc = path_vendor(req, &id, &d);
    if (rc == SF_OK && parse_staff(req->body, &s, &d) != 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = vendor_staff_add(&w->db, req->who.market_id, id, &s, &doc, &d);
    reply(req, w, rc, &d, 201, doc, 1);
}

/* ---------------------------------------------------------------- couriers */

static int parse_courier(const json_t *b, courier_new_t *c, status_detail_t *d)
{
    static const char *const keys[] = {"name", "phone", "username", "password", NULL};
    if (valid_only_keys(b, keys, "", d) != 0 || need(b, "name", NULL, &T_NAME64, &c->name, d) != 0 ||
        need(b, "phone", NULL, &T_PHONE, &c->phone, d) != 0 ||
        need(b, "username", NULL, &T_USERNAME, &c->username, d) != 0 ||
        need(b, "password", NULL, &T_PASSWORD, &c->password, d) != 0)
        return -1;
    return 0;
}

static void courier_create_h(api_req_t *req, worker_t *w)
{
    courier_new_t c = {0};
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = parse_courier(req->body, &c, &d) == 0 ? SF_OK : SF_E_INVALID;
    if (rc == SF_OK)
        rc = courier_create(&w->db, req->who.market_id, &c, &doc, &d);
    reply(req, w, rc, &d, 201, doc, 0); /* couriers are not in the public catalogue */
}

/* ---------------------------------------------------------------- guide prices */

static int parse_guide_item(const json_t *o, size_t i, guide_item_t *it, status_detail_t *d)
{
    static const char *const keys[] = {"commodity_code", "name", "price_fen", "per_g", NULL};
    char prefix[32], f1[56], f2[56], f3[56], f4[56];
    snprintf(prefix, sizeof(prefix), "items[%zu].", i);
    snprintf(f1, sizeof(f1), "%scommodity_code", prefix);
    snprintf(f2, sizeof(f2), "%sname", prefix);
    snprintf(f3, sizeof(f3), "%sprice_fen", prefix);
    snprintf(f4, sizeof(f4), "%sper_g", prefix);
    if (!json_is_object(o))
        return valid_refuse(d, prefix, "must be an object {commodity_code, name, price_fen, per_g}");
    if (valid_only_keys(o, keys, prefix, d) != 0 ||
        need(o, "commodity_code", f1, &T_CODE, &it->commodity_code, d) != 0 ||
        need(o, "name", f2, &T_NAME64, &it->name, d) != 0 ||
        valid_money(o, "price_fen", f3, 1, 1, PRODUCT_PRICE_MAX, &it->price_fen, d) < 0 || /* as a product's */
        valid_int(o, "per_g", f4, 1, 1, PRODUCT_PER_G_MAX, &it->per_g, d) < 0)
        return -1;
    return 0;
}

/* 0 unless items[i] repeats an earlier commodity code (compared as the column does:
 * case-insensitively), -1 then. */
static int guide_item_repeated(const guide_item_t *items, size_t i, status_detail_t *d)
{
    char field[56];
    for (size_t j = 0; j < i; j++)
        if (strcasecmp(items[j].commodity_code, items[i].commodity_code) == 0) {
            snprintf(field, sizeof(field), "items[%zu].commodity_code", i);
            return valid_refuse(d, field, "is listed twice");
        }
    return 0;
}

static int parse_guide(const json_t *b, const char **date, guide_item_t *items, size_t *n, status_detail_t *d)
{
    static const char *const keys[] = {"date", "items", NULL};
    json_t *arr = json_object_get(b, "items"), *v;
    int64_t days = 0, now = valid_today(NULL, 0);
    size_t i;
    if (valid_only_keys(b, keys, "", d) != 0 || valid_date(b, "date", NULL, 1, date, &days, d) < 0)
        return -1;
    if (days < now - GUIDE_DAYS || days > now + GUIDE_DAYS)
        return valid_refuse(d, "date", "must be within 366 days of today");
    if (arr == NULL)
        return valid_refuse(d, "items", "is required");
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > GUIDE_MAX_ITEMS)
        return valid_refuse(d, "items", "must be an array of 1 to 500 guide prices");
    json_array_foreach(arr, i, v)
    {
        if (parse_guide_item(v, i, &items[i], d) != 0 || guide_item_repeated(items, i, d) != 0)
            return -1;
    }
    *n = json_array_size(arr);
    return 0;
}

static void guide_put_h(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    const char *date = NULL;
    guide_item_t *items = calloc(GUIDE_MAX_ITEMS, sizeof(*items));
    size_t n = 0;
    json_t *doc = NULL;
    sf_status_t rc = items != NULL ? SF_OK : SF_E_INTERNAL;
    if (rc == SF_OK && parse_guide(req->body, &date, items, &n, &d) != 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = guide_put(&w->db, req->who.market_id, date, items, n, &doc);
    reply(req, w, rc, &d, 200, doc, 1);
    free(items);
}

/* ---------------------------------------------------------------- notices and alerts */

static void notice_create_h(api_req_t *req, worker_t *w)
{
    static const char *const keys[] = {"title", "body", NULL};
    status_detail_t d = {0};
    const char *title = NULL, *body = NULL;
    json_t *doc = NULL;
    sf_status_t rc = SF_OK;
    if (valid_only_keys(req->body, keys, "", &d) != 0 || need(req->body, "title", NULL, &T_TITLE, &title, &d) != 0 ||
        need(req->body, "body", NULL, &T_BODY, &body, &d) != 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = guide_notice_create(&w->db, req->who.market_id, req->who.user_id, title, body, &doc);
    reply(req, w, rc, &d, 201, doc, 1);
}

static void alerts_h(api_req_t *req, worker_t *w)
{
    char date[12];
    int64_t days = 0;
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = SF_OK;
    int q = valid_query_date(req, "date", date, sizeof(date), &days, &d);
    if (q == 0)
        valid_today(date, sizeof(date));
    else if (q < 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = guide_alerts(&w->db, req->who.market_id, date, req->cfg->alerts_price_band_pct, &doc);
    reply(req, w, rc, &d, 200, doc, 0);
}

/* ---------------------------------------------------------------- lists */

/* ?limit= and ?cursor= of a list of that kind. 0, or -1 with d set. */
static int page_params(const api_req_t *req, char kind, size_t *limit, int64_t *after_id, status_detail_t *d)
{
    valid_page_t pg;
    int rc = valid_query_page(req, NULL, NULL, LIST_DEFAULT, VENDOR_LIST_MAX, kind, &pg, d) == SF_OK ? 0 : -1;
    *limit = pg.limit;
    *after_id = pg.after_id;
    return rc;
}

/* The one reply of a list: the page (items stolen) with the cursor of the next one when
 * next_after is not 0, or the outcome. */
static void reply_page(api_req_t *req, worker_t *w, sf_status_t rc, status_detail_t *d, char kind, json_t *items,
                       int64_t next_after)
{
    char cursor[CURSOR_MAX] = "";
    if (rc == SF_OK && next_after != 0 && cursor_encode(kind, 0, next_after, cursor, sizeof(cursor)) != 0)
        rc = SF_E_INTERNAL;
    api_reply_page(req, w, rc, d, items, cursor);
}

/* ?status= (NULL when absent) and ?q= as a LIKE pattern (NULL when absent or empty). 0, or
 * -1 with d set. */
static int vendor_filters(const api_req_t *req, const char **st, char *like, size_t llen, const char **lk,
                          status_detail_t *d)
{
    char q[Q_MAX * 4 + 1];
    int status = 0;
    int rc = valid_query_enum(req, "status", VENDOR_STATUSES, &status, d);
    *st = NULL;
    *lk = NULL;
    if (rc < 0)
        return -1;
    *st = rc == 1 ? VENDOR_STATUSES[status] : NULL;
    rc = valid_query_text(req, "q", &T_QUERY, q, sizeof(q), d);
    if (rc < 0)
        return -1;
    if (rc == 1 && q[0] != '\0') {
        if (product_like_pattern(q, like, llen) != 0)
            return valid_refuse(d, "q", "is too long");
        *lk = like;
    }
    return 0;
}

static void vendor_list_h(api_req_t *req, worker_t *w)
{
    char like[Q_MAX * 8 + 8];
    const char *st = NULL, *lk = NULL;
    size_t limit = 0;
    int64_t after_id = 0, next_after = 0;
    status_detail_t d = {0};
    json_t *items = NULL;
    sf_status_t rc = SF_OK;
    if (vendor_filters(req, &st, like, sizeof(like), &lk, &d) != 0 ||
        page_params(req, KIND_VENDORS, &limit, &after_id, &d) != 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = vendor_list(&w->db, req->who.market_id, st, lk, after_id, limit, &items, &next_after);
    reply_page(req, w, rc, &d, KIND_VENDORS, items, next_after);
}

static void vendor_get_h(api_req_t *req, worker_t *w)
{
    int64_t id = 0;
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = path_vendor(req, &id, &d);
    if (rc == SF_OK)
        rc = vendor_render(&w->db, req->who.market_id, id, &doc, &d);
    reply(req, w, rc, &d, 200, doc, 0);
}

/* GET /v1/admin/expiring?within_days= (0..365, 30 when absent): one list, no further page. */
static void expiring_h(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    int64_t days = 0;
    json_t *items = NULL;
    sf_status_t rc =
        valid_query_count(req, "within_days", 30, VENDOR_EXPIRING_DAYS_MAX, &days, &d) == 0 ? SF_OK : SF_E_INVALID;
    if (rc == SF_OK)
        rc = vendor_expiring(&w->db, req->who.market_id, (int)days, &items);
    api_reply_page(req, w, rc, &d, items, NULL);
}

static void stall_list_h(api_req_t *req, worker_t *w)
{
    size_t limit = 0;
    int64_t after_id = 0, next_after = 0;
    status_detail_t d = {0};
    json_t *items = NULL;
    sf_status_t rc = page_params(req, KIND_STALLS, &limit, &after_id, &d) == 0 ? SF_OK : SF_E_INVALID;
    if (rc == SF_OK)
        rc = vendor_stall_list(&w->db, req->who.market_id, after_id, limit, &items, &next_after);
    reply_page(req, w, rc, &d, KIND_STALLS, items, next_after);
}

static void courier_list_h(api_req_t *req, worker_t *w)
{
    size_t limit = 0;
    int64_t after_id = 0, next_after = 0;
    status_detail_t d = {0};
    json_t *items = NULL;
    sf_status_t rc = page_params(req, KIND_COURIERS, &limit, &after_id, &d) == 0 ? SF_OK : SF_E_INVALID;
    if (rc == SF_OK)
        rc = courier_list(&w->db, req->who.market_id, after_id, limit, &items, &next_after);
    reply_page(req, w, rc, &d, KIND_COURIERS, items, next_after);
}

int operator_register(router_t *r)
{
    const int op = ROUTE_OPERATOR, body = ROUTE_OPERATOR | ROUTE_BODY_JSON;
    if (router_add(r, "POST", "/v1/admin/stalls", body, stall_create) != 0 ||
        router_add(r, "POST", "/v1/admin/vendors", body, vendor_create_h) != 0 ||
        router_add(r, "PATCH", "/v1/admin/vendors/{id}", body, vendor_update_h) != 0 ||
        router_add(r, "POST", "/v1/admin/vendors/{id}/staff", body, staff_add_h) != 0 ||
        router_add(r, "POST", "/v1/admin/couriers", body, courier_create_h) != 0 ||
        router_add(r, "PUT", "/v1/admin/guide-prices", body, guide_put_h) != 0 ||
        router_add(r, "POST", "/v1/admin/notices", body, notice_create_h) != 0 ||
        router_add(r, "GET", "/v1/admin/alerts", op, alerts_h) != 0 ||
        router_add(r, "GET", "/v1/admin/vendors", op, vendor_list_h) != 0 ||
        router_add(r, "GET", "/v1/admin/vendors/{id}", op, vendor_get_h) != 0 ||
        router_add(r, "GET", "/v1/admin/stalls", op, stall_list_h) != 0 ||
        router_add(r, "GET", "/v1/admin/expiring", op, expiring_h) != 0 ||
        router_add(r, "GET", "/v1/admin/couriers", op, courier_list_h) != 0)
        return -1;
    return 0;
}
