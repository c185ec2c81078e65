/*
 * The courier's routes (API.md "Courier"): shift, location (also the heartbeat), offers and
 * their answers, own deliveries, pickup and delivery with the consumer's code. Courier
 * tokens only; every query is scoped by the token's courier and market, so another courier's
 * delivery is not found (404) and nothing changes. After a committed change the parties are
 * told (models/events.h); a failure to tell is logged, never undoes the change. Worker threads.
 */
#include <math.h>
#include <string.h>
#include "handlers/handlers.h"
#include "models/base/cursor.h"
#include "models/base/log.h"
#include "models/courier.h"
#include "models/delivery.h"
#include "models/events.h"
#include "server/http/api.h"
#include "server/http/valid.h"

#define NO_DELIVERY "no such delivery"

/* A courier token always names its courier; one that does not is refused, not trusted. */
static sf_status_t courier_of(const api_req_t *req, status_detail_t *d)
{
    if (req->who.courier_id > 0 && req->who.market_id > 0)
        return SF_OK;
    return status_field(d, SF_E_FORBIDDEN, NULL, "not a courier account");
}

/* The delivery id of the path; a path that names nothing is 404. */
static sf_status_t path_delivery(const api_req_t *req, int64_t *id, status_detail_t *d)
{
    return valid_path_id(req, 0, id) == 0 ? SF_OK : status_field(d, SF_E_NOT_FOUND, NULL, NO_DELIVERY);
}

static sf_status_t not_found(sf_status_t rc, status_detail_t *d)
{
    if (rc == SF_E_NOT_FOUND && d->reason[0] == '\0')
        status_field(d, rc, NULL, NO_DELIVERY);
    return rc;
}

/* After a committed move of the delivery: the order's parties are told. */
static void order_changed(worker_t *w, const config_t *cfg, int64_t order_id)
{
    if (order_id > 0 && events_order_changed(&w->db, &w->redis, cfg->events_keep, order_id) != 0)
        log_warn("order %lld changed but its events were not emitted", (long long)order_id);
}

/* A coordinate: a JSON number (integer or real) in -limit..limit. 1, or -1 with d. */
static int degrees(const json_t *body, const char *key, double limit, double *out, status_detail_t *d)
{
    json_t *v = json_object_get(body, key);
    if (v == NULL)
        return valid_refuse(d, key, "is required");
    if (!json_is_number(v))
        return valid_refuse(d, key, "must be a number");
    double x = json_number_value(v);
    if (!isfinite(x) || x < -limit || x > limit)
        return valid_refuse(d, key, limit > 90 ? "must be from -180 to 180" : "must be from -90 to 90");
    *out = x;
    return 1;
}

/* ---------------------------------------------------------------- shift and location */

static void shift(api_req_t *req, worker_t *w)
{
    static const char *const keys[] = {"on", NULL};
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = courier_of(req, &d);
    json_t *on = json_object_get(req->body, "on");
    if (rc == SF_OK && valid_only_keys(req->body, keys, "", &d) != 0)
        rc = SF_E_INVALID;
    else if (rc == SF_OK && !json_is_boolean(on))
        rc = status_field(&d, SF_E_INVALID, "on", on == NULL ? "is required" : "must be true or false");
    if (rc == SF_OK)
        rc = courier_set_shift(&w->db, &w->redis, req->who.market_id, req->who.courier_id, json_is_true(on), &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* GET /v1/courier/shift: whether the courier is on shift, since when, and where. */
static void shift_get(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = courier_of(req, &d);
    if (rc == SF_OK)
        rc = courier_shift_get(&w->db, &w->redis, req->who.market_id, req->who.courier_id, &doc);
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* delivery.position to the consumer of each order the courier carries, in one batch. */
static void tell_position(worker_t *w, const config_t *cfg, const courier_held_t *held, size_t n, double lat,
                          double lng)
{
    events_out_t ev[COURIER_HELD_MAX];
    json_t *data[COURIER_HELD_MAX];
    size_t k = 0;
    for (size_t i = 0; i < n && i < COURIER_HELD_MAX; i++) {
        data[k] = json_pack("{s:I, s:I, s:f, s:f}", "order_id", (json_int_t)held[i].order_id, "delivery_id",
                            (json_int_t)held[i].delivery_id, "lat", lat, "lng", lng);
        if (data[k] == NULL)
            continue;
        if (events_party(ev[k].party, sizeof(ev[k].party), "consumer", held[i].consumer_id) != 0) {
            json_decref(data[k]);
            continue;
        }
        ev[k].type = "delivery.position";
        ev[k].data = data[k];
        k++;
    }
    if (k > 0 && events_emit_all(&w->redis, cfg->events_keep, ev, k) != 0)
        log_warn("delivery.position not emitted: %s", w->redis.err);
    for (size_t i = 0; i < k; i++)
        json_decref(data[i]);
}

static void location(api_req_t *req, worker_t *w)
{
    static const char *const keys[] = {"lat", "lng", NULL};
    courier_held_t held[COURIER_HELD_MAX];
    size_t nheld = 0;
    status_detail_t d = {0};
    double lat = 0, lng = 0;
    sf_status_t rc = courier_of(req, &d);
    if (rc == SF_OK && (valid_only_keys(req->body, keys, "", &d) != 0 || degrees(req->body, "lat", 90, &lat, &d) < 0 ||
                        degrees(req->body, "lng", 180, &lng, &d) < 0))
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = courier_locate(&w->db, &w->redis, req->who.market_id, req->who.courier_id, lat, lng, held, &nheld);
    if (rc == SF_OK)
        tell_position(w, req->cfg, held, nheld, lat, lng);
    api_reply_result(
        req, w, rc, &d, 200,
        rc == SF_OK ? json_pack("{s:f, s:f, s:i}", "lat", lat, "lng", lng, "heartbeat_s", req->cfg->courier_heartbeat_s)
                    : NULL);
}

/* ---------------------------------------------------------------- offers */

static void offers(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    json_t *items = NULL;
    sf_status_t rc = courier_of(req, &d);
    if (rc == SF_OK)
        rc = delivery_offers_for(&w->db, &w->redis, req->who.market_id, req->who.courier_id, &items);
    api_reply_page(req, w, rc, &d, items, NULL);
}

/* A grab delivery was taken: offer.gone to the other couriers who were told it was open. */
static void grab_gone(worker_t *w, const config_t *cfg, int64_t market_id, int64_t delivery_id, int64_t order_id,
                      int64_t winner)
{
    int64_t ids[DELIVERY_GRAB_TELL_MAX];
    events_out_t ev[DELIVERY_GRAB_TELL_MAX];
    size_t n = 0, k = 0;
    if (delivery_grab_others(&w->db, market_id, delivery_id, winner, ids, DELIVERY_GRAB_TELL_MAX, &n) != SF_OK) {
        log_warn("delivery %lld taken: the other couriers could not be read: %s", (long long)delivery_id, w->db.err);
        return;
    }
    json_t *data = delivery_offer_event(delivery_id, order_id, NULL, 1);
    for (size_t i = 0; data != NULL && i < n; i++)
        if (events_party(ev[k].party, sizeof(ev[k].party), "courier", ids[i]) == 0) {
            ev[k].type = "offer.gone";
            ev[k++].data = data;
        }
    if (k > 0 && events_emit_all(&w->redis, cfg->events_keep, ev, k) != 0)
        log_warn("delivery %lld taken: offer.gone not emitted to every courier", (long long)delivery_id);
    json_decref(data);
}

static void accept(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t id = 0, order_id = 0;
    sf_status_t rc = courier_of(req, &d);
    if (rc == SF_OK)
        rc = path_delivery(req, &id, &d);
    if (rc == SF_OK)
        rc = not_found(delivery_accept(&w->db, req->who.market_id, req->who.courier_id, id, &doc, &order_id), &d);
    if (rc == SF_OK) {
        order_changed(w, req->cfg, order_id);
        grab_gone(w, req->cfg, req->who.market_id, id, order_id, req->who.courier_id);
    }
    api_reply_result(req, w, rc, &d, 200, doc);
}

static void refuse(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t id = 0;
    sf_status_t rc = courier_of(req, &d);
    if (rc == SF_OK)
        rc = path_delivery(req, &id, &d);
    if (rc == SF_OK)
        rc = not_found(delivery_refuse(&w->db, req->who.market_id, req->who.courier_id, id, &doc), &d);
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* ---------------------------------------------------------------- deliveries */

static void list(api_req_t *req, worker_t *w)
{
    const char *const *names = delivery_status_names();
    char next[CURSOR_MAX];
    status_detail_t d = {0};
    valid_page_t pg;
    json_t *items = NULL;
    sf_status_t rc = courier_of(req, &d);
    if (rc == SF_OK)
        rc = valid_query_page(req, "status", names, DELIVERY_LIST_DEFAULT, DELIVERY_LIST_MAX, DELIVERY_CURSOR_KIND, &pg,
                              &d);
    if (rc == SF_OK)
        rc = delivery_list(&w->db, req->who.market_id, req->who.courier_id, pg.filter >= 0 ? names[pg.filter] : NULL,
                           pg.after_id, pg.limit, &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
}

static void pickup(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t id = 0, order_id = 0;
    sf_status_t rc = courier_of(req, &d);
    if (rc == SF_OK)
        rc = path_delivery(req, &id, &d);
    if (rc == SF_OK)
        rc = not_found(delivery_pickup(&w->db, req->who.courier_id, id, &doc, &order_id), &d);
    if (rc == SF_OK)
        order_changed(w, req->cfg, order_id);
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* The consumer's code: exactly 4 digits. */
static int digit(int c)
{
    return c >= '0' && c <= '9';
}
static const valid_text_t T_CODE = {4, 4, digit, "4 digits", 0};

static void deliver(api_req_t *req, worker_t *w)
{
    static const char *const keys[] = {"code", NULL};
    status_detail_t d = {0};
    json_t *doc = NULL;
    const char *code = NULL;
    int64_t id = 0, order_id = 0;
    sf_status_t rc = courier_of(req, &d);
    if (rc == SF_OK)
        rc = path_delivery(req, &id, &d);
    if (rc == SF_OK && (valid_only_keys(req->body, keys, "", &d) != 0 ||
                        valid_str(req->body, "code", NULL, 1, 0, &T_CODE, &code, &d) < 0))
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = not_found(delivery_deliver(&w->db, req->who.courier_id, id, code, &d, &doc, &order_id), &d);
    if (rc == SF_OK)
        order_changed(w, req->cfg, order_id);
    api_reply_result(req, w, rc, &d, 200, doc);
}

int courier_register(router_t *r)
{
    if (router_add(r, "POST", "/v1/courier/shift", ROUTE_COURIER | ROUTE_BODY_JSON, shift) != 0 ||
        router_add(r, "GET", "/v1/courier/shift", ROUTE_COURIER, shift_get) != 0 ||
        router_add(r, "PUT", "/v1/courier/location", ROUTE_COURIER | ROUTE_BODY_JSON, location) != 0 ||
        router_add(r, "GET", "/v1/courier/offers", ROUTE_COURIER, offers) != 0 ||
        router_add(r, "POST", "/v1/courier/offers/{delivery_id}/accept", ROUTE_COURIER, accept) != 0 ||
        router_add(r, "POST", "/v1/courier/offers/{delivery_id}/refuse", ROUTE_COURIER, refuse) != 0 ||
        router_add(r, "GET", "/v1/courier/deliveries", ROUTE_COURIER, list) != 0 ||
        router_add(r, "POST", "/v1/courier/deliveries/{id}/pickup", ROUTE_COURIER, pickup) != 0 ||
        router_add(r, "POST", "/v1/courier/deliveries/{id}/deliver", ROUTE_COURIER | ROUTE_BODY_JSON, deliver) != 0)
        return -1;
    return 0;
}
