/*
 * End to end: the courier's routes and the dispatch worker over HTTP/2 against the real
 * binaries (`stallfront serve` shared, `stallfront work` per test). Orders are checked out
 * over the API and paid with SQL plus the 'order.paid' outbox row (as the payment model
 * writes them); vendor orders are made ready with SQL (the fulfilment routes are another
 * part's). Offers expire after 5 s (STALLFRONT_DISPATCH_OFFER_TTL_S). Covers: the best
 * courier offered first, an off-shift or silent courier never, expiry → the next one, a
 * refusal never offered again, grab once only those who had it are left, accept races, the
 * pickup refused until every vendor order is ready, wrong codes (422, then locked after 5,
 * the operator unlocks), the right code delivering the order, another courier's delivery
 * 404 with nothing changed, bad bodies; and `stallfront work` SIGKILLed at any moment of
 * dispatch: never two open offers of a delivery, and every delivery offered again after the
 * restart.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/order.h"
#include "models/outbox.h"
#include "models/store/db.h"
#include "models/store/redis.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/shop.h"
#include "tests/support/testutil.h"

static const char *test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                 "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000",
                                 "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                                 "STALLFRONT_DISPATCH_OFFER_TTL_S=5",
                                 "STALLFRONT_DISPATCH_RADIUS_M=5000",
                                 "STALLFRONT_ORDER_SWEEP_INTERVAL_S=1",
                                 "STALLFRONT_WATCHDOG_INTERVAL_S=1",
                                 "STALLFRONT_QUEUE_LEASE_MS=1000",
                                 NULL};
static tserver_t shared;
static int shared_exit;

static void shared_up(void)
{
    t_migrate();
    ck_assert_msg(tserver_start(&shared, test_env) == 0, "server did not start");
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
}

/* ---------------------------------------------------------------- the world of a test */

typedef struct courier {
    char token[128];
    int64_t id;
} courier_t;

typedef struct world {
    shop_world_t s;
    char op[128];
    int64_t product[2];
    shop_consumer_t c;
} world_t;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static void world_up(world_t *w)
{
    static int seq; /* test-only: unique consumer names within the process */
    shop_world_open(&w->s);
    shop_stall(&w->s.db, w->s.m.market_id, "A-01", &w->s.vendor[0], &w->s.stall[0]);
    shop_stall(&w->s.db, w->s.m.market_id, "A-02", &w->s.vendor[1], &w->s.stall[1]);
    w->product[0] = shop_product(&w->s, 0, "土鸡蛋", 350, 0, 100);
    w->product[1] = shop_product(&w->s, 1, "白菜", 300, 500, 100000);
    ck_assert_int_eq(t_login(&shared, w->s.m.op_user, w->s.m.op_pass, w->op, sizeof(w->op)), 0);
    shop_consumer(&shared, &w->s.db, "dlv", seq++, &w->c);
}

static json_t *call(const char *method, const char *path, const char *token, const char *body, long *status)
{
    return shop_call(&shared, method, path, token, body, NULL, status);
}

/* Expects status want; frees the answer unless keep. */
static json_t *expect(const char *method, const char *path, const char *token, const char *body, long want)
{
    long status;
    json_t *doc = call(method, path, token, body, &status);
    char *text = json_dumps(doc, 0);
    ck_assert_msg(status == want, "%s %s: %ld, wanted %ld: %s", method, path, status, want, text);
    free(text);
    return doc;
}

static void expect_error(const char *method, const char *path, const char *token, const char *body, long want,
                         const char *code)
{
    long status;
    shop_expect_error(call(method, path, token, body, &status), &status, want, code);
}

/* A courier made by the operator, signed in, on shift at (lat, lng). */
static void courier(world_t *w, const char *name, double lat, double lng, courier_t *c)
{
    static int seq;
    char body[512], user[64], path[64];
    snprintf(user, sizeof(user), "k%d_%d_%ld", (int)getpid(), seq++, (long)time(NULL) % 100000);
    snprintf(body, sizeof(body),
             "{\"name\":\"%s\",\"phone\":\"13700000000\",\"username\":\"%s\",\"password\":\"courier-pass-1\"}", name,
             user);
    json_t *doc = expect("POST", "/v1/admin/couriers", w->op, body, 201);
    c->id = shop_jint(doc, "id");
    json_decref(doc);
    ck_assert_int_eq(t_login(&shared, user, "courier-pass-1", c->token, sizeof(c->token)), 0);
    json_decref(expect("POST", "/v1/courier/shift", c->token, "{\"on\":true}", 200));
    snprintf(body, sizeof(body), "{\"lat\":%.6f,\"lng\":%.6f}", lat, lng);
    snprintf(path, sizeof(path), "/v1/courier/location");
    json_decref(expect("PUT", path, c->token, body, 200));
}

/* The consumer checks out both products and the order is paid (SQL and the outbox row the
 * payment model writes). */
static int64_t paid_order_with(world_t *w, int outbox)
{
    long status;
    shop_put_cart(&shared, &w->c, w->product[0], 2);
    shop_put_cart(&shared, &w->c, w->product[1], 500);
    json_t *doc = shop_checkout(&shared, &w->c, w->s.m.market_id, &status);
    ck_assert_int_eq(status, 201);
    int64_t order = shop_jint(doc, "id");
    json_decref(doc);
    db_t *db = &w->s.db;
    ck_assert_int_eq(db_begin(db), DB_OK);
    ck_assert_int_eq(db_exec(db,
                             "UPDATE orders SET status = 'paid', paid_at = NOW(3), paid_fen = payable_fen WHERE id = ?",
                             (db_param_t[]){DB_I64(order)}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(db_exec(db, "UPDATE vendor_orders SET status = 'new', new_at = NOW(3) WHERE order_id = ?",
                             (db_param_t[]){DB_I64(order)}, 1, NULL, NULL),
                     DB_OK);
    json_t *payload = json_pack("{s:I, s:I}", "order_id", (json_int_t)order, "market_id", (json_int_t)w->s.m.market_id);
    ck_assert_int_eq(outbox ? outbox_add(db, w->s.m.market_id, "order.paid", payload, NULL) : DB_OK, DB_OK);
    json_decref(payload);
    ck_assert_int_eq(db_commit(db), DB_OK);
    return order;
}

static int64_t paid_order(world_t *w)
{
    return paid_order_with(w, 1);
}

static int64_t delivery_of(world_t *w, int64_t order)
{
    return shop_i64(&w->s.db, "SELECT COALESCE(MAX(id), 0) FROM deliveries WHERE order_id = ?", order);
}

static int64_t open_offers(world_t *w, int64_t delivery)
{
    return shop_i64(&w->s.db, "SELECT COUNT(*) FROM delivery_offers WHERE delivery_id = ? AND status = 'open'",
                    delivery);
}

/* The courier's offers now (the list's items, caller decrefs). */
static json_t *offers(const courier_t *c)
{
    json_t *doc = expect("GET", "/v1/courier/offers", c->token, NULL, 200);
    json_t *items = json_incref(json_object_get(doc, "items"));
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    return items;
}

/* Waits (up to ms) until the courier is offered delivery; the offer (caller decrefs) or NULL. */
static json_t *wait_offer(const courier_t *c, int64_t delivery, long ms, world_t *w)
{
    for (long t = 0; t <= ms; t += 100) {
        json_t *items = offers(c), *v;
        size_t i;
        json_array_foreach(items, i, v) if (shop_jint(v, "id") == delivery || delivery == 0)
        {
            json_incref(v);
            json_decref(items);
            return v;
        }
        json_decref(items);
        if (delivery > 0)
            ck_assert_int_le(open_offers(w, delivery), 1);
        sleep_ms(100);
    }
    return NULL;
}

static void action(char *path, size_t len, const char *what, int64_t id, const char *verb)
{
    snprintf(path, len, "/v1/courier/%s/%lld/%s", what, (long long)id, verb);
}

/* ---------------------------------------------------------------- the walk */

/* 1 if the newest event of courier c's stream is `type` about delivery d. */
static int last_event_is(world_t *w, int64_t c, const char *type, int64_t d)
{
    char key[64];
    snprintf(key, sizeof(key), "events:courier:%lld", (long long)c);
    redisReply *r = redis_cmd(&w->s.redis, "XREVRANGE %s + - COUNT 1", key);
    ck_assert_msg(r != NULL && r->type == REDIS_REPLY_ARRAY, "XREVRANGE %s", key);
    int hit = 0;
    if (r->elements == 1 && r->element[0]->elements == 2) {
        const redisReply *f = r->element[0]->element[1]; /* type <type> data <json> */
        if (f->elements == 4 && strcmp(f->element[1]->str, type) == 0) {
            json_t *data = t_json_text(f->element[3]->str);
            hit = data != NULL && json_integer_value(json_object_get(data, "delivery_id")) == d;
            json_decref(data);
        }
    }
    freeReplyObject(r);
    return hit;
}

START_TEST(test_offers_expiry_refusal_grab_pickup_and_delivery_over_http)
{
    world_t w;
    courier_t near, next, off, silent;
    twork_t wk;
    char path[128], body[64];
    world_up(&w);
    courier(&w, "近", 34.7245, 113.6254, &near);   /* ~45 m from the market */
    courier(&w, "次", 34.7290, 113.6254, &next);   /* ~540 m */
    courier(&w, "休", 34.7242, 113.6254, &off);    /* nearest, but off shift */
    courier(&w, "静", 34.7243, 113.6254, &silent); /* near, but silent for a minute */
    json_t *doc = expect("POST", "/v1/courier/shift", off.token, "{\"on\":false}", 200);
    ck_assert(json_is_false(json_object_get(doc, "on_shift")));
    json_decref(doc);
    redisReply *rep = redis_cmd(&w.s.redis, "ZADD sf:couriers:hb:%lld %lld %lld", (long long)w.s.m.market_id,
                                (long long)(time(NULL) - 60) * 1000, (long long)silent.id);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    int64_t order = paid_order(&w);
    ck_assert_int_eq(t_work_start(&wk, test_env, NULL), 0);
    /* the nearest courier on shift and heard from is offered it first */
    json_t *offer = wait_offer(&near, 0, 10000, &w);
    ck_assert_msg(offer != NULL, "no offer came");
    int64_t d = shop_jint(offer, "id");
    ck_assert_int_eq(d, delivery_of(&w, order));
    ck_assert_int_eq(shop_jint(offer, "order_id"), order);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(offer, "order_no")));
    ck_assert_int_eq(json_array_size(json_object_get(offer, "pickups")), 2);
    ck_assert_ptr_nonnull(
        json_string_value(json_object_get(json_array_get(json_object_get(offer, "pickups"), 0), "stall_no")));
    ck_assert_ptr_nonnull(json_string_value(json_object_get(json_object_get(offer, "dropoff"), "text")));
    ck_assert(json_is_number(json_object_get(json_object_get(offer, "dropoff"), "lat")));
    ck_assert_int_gt(shop_jint(offer, "distance_m"), 0);
    ck_assert_int_lt(shop_jint(offer, "distance_m"), 100);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(offer, "expires_at")));
    ck_assert(json_is_false(json_object_get(offer, "grab")));
    json_decref(offer);
    ck_assert_int_eq(open_offers(&w, d), 1);
    json_t *none = offers(&next);
    ck_assert_int_eq(json_array_size(none), 0);
    json_decref(none);
    /* another courier cannot take it */
    action(path, sizeof(path), "offers", d, "accept");
    expect_error("POST", path, next.token, NULL, 404, "not_found");
    /* near lets it expire: the next courier, never the one off shift or silent */
    offer = wait_offer(&next, d, 12000, &w);
    ck_assert_msg(offer != NULL, "the offer did not move on after expiry");
    json_decref(offer);
    expect_error("POST", path, near.token, NULL, 409, "offer_gone");
    /* next refuses: only couriers who had it are left, so it opens to grab */
    action(path, sizeof(path), "offers", d, "refuse");
    json_decref(expect("POST", path, next.token, NULL, 200));
    expect_error("POST", path, next.token, NULL, 409, "offer_gone");
    int grab = 0;
    for (int i = 0; i < 100 && !grab; i++) {
        grab = shop_i64(&w.s.db, "SELECT grab FROM deliveries WHERE id = ?", d) == 1;
        if (!grab)
            sleep_ms(100);
    }
    ck_assert_msg(grab, "no grab after the refusal");
    ck_assert_int_eq(t_db_i64(&w.s.db,
                              "SELECT COUNT(*) FROM delivery_offers WHERE delivery_id = ? AND courier_id IN (?, ?)",
                              (db_param_t[]){DB_I64(d), DB_I64(off.id), DB_I64(silent.id)}, 3),
                     0);
    offer = wait_offer(&near, d, 1000, &w);
    ck_assert_ptr_nonnull(offer);
    ck_assert(json_is_true(json_object_get(offer, "grab")));
    json_decref(offer);
    none = offers(&off);
    ck_assert_int_eq(json_array_size(none), 0);
    json_decref(none);
    /* grab: near takes it, next is too late */
    action(path, sizeof(path), "offers", d, "accept");
    doc = expect("POST", path, near.token, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "assigned");
    ck_assert_ptr_null(json_object_get(doc, "code"));
    json_decref(doc);
    expect_error("POST", path, next.token, NULL, 409, "offer_gone");
    /* the others who were told it was open hear that it is gone; the taker does not */
    ck_assert(last_event_is(&w, next.id, "offer.gone", d));
    ck_assert(!last_event_is(&w, near.id, "offer.gone", d));
    /* near's own offer stays expired in the record: the grab is the holder's only trace */
    ck_assert_int_eq(t_db_i64(&w.s.db,
                              "SELECT status = 'expired' FROM delivery_offers WHERE delivery_id = ? AND courier_id = ?",
                              (db_param_t[]){DB_I64(d), DB_I64(near.id)}, 2),
                     1);
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT courier_id FROM deliveries WHERE id = ?", d), near.id);
    /* pickup only when every vendor order is ready; not by another courier */
    action(path, sizeof(path), "deliveries", d, "pickup");
    expect_error("POST", path, next.token, NULL, 404, "not_found");
    expect_error("POST", path, near.token, NULL, 409, "not_ready");
    ck_assert_int_eq(db_exec(&w.s.db,
                             "UPDATE vendor_orders SET status = 'ready' WHERE order_id = ? ORDER BY id LIMIT 1",
                             (db_param_t[]){DB_I64(order)}, 1, NULL, NULL),
                     DB_OK);
    expect_error("POST", path, near.token, NULL, 409, "not_ready");
    ck_assert_int_eq(db_exec(&w.s.db, "UPDATE vendor_orders SET status = 'ready' WHERE order_id = ?",
                             (db_param_t[]){DB_I64(order)}, 1, NULL, NULL),
                     DB_OK);
    doc = expect("POST", path, near.token, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "picked_up");
    json_decref(doc);
    ck_assert_int_eq(
        shop_i64(&w.s.db, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status = 'handed_over'", order),
        2);
    /* the consumer sees the courier, where they are, and the code */
    json_decref(expect("PUT", "/v1/courier/location", near.token, "{\"lat\":34.7300,\"lng\":113.6300}", 200));
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)order);
    doc = expect("GET", path, w.c.token, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "delivering");
    json_t *dl = json_object_get(doc, "delivery"), *cr = json_object_get(dl, "courier");
    ck_assert_str_eq(json_string_value(json_object_get(dl, "status")), "picked_up");
    ck_assert_int_eq(shop_jint(cr, "id"), near.id);
    ck_assert(json_real_value(json_object_get(cr, "lat")) > 34.7299 &&
              json_real_value(json_object_get(cr, "lat")) < 34.7301);
    ck_assert(json_real_value(json_object_get(cr, "lng")) > 113.6299);
    char code[8], wrong[8];
    snprintf(code, sizeof(code), "%s", json_string_value(json_object_get(dl, "code")));
    ck_assert_int_eq(strlen(code), 4);
    snprintf(wrong, sizeof(wrong), "%04d", (atoi(code) + 1) % 10000);
    json_decref(doc);
    /* wrong codes: 422 five times, then locked; another courier's: 404 and nothing counted */
    action(path, sizeof(path), "deliveries", d, "deliver");
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    expect_error("POST", path, next.token, body, 404, "not_found");
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", wrong);
    for (int i = 0; i < 5; i++) { /* each says how many tries are left; the fifth locks */
        long st = 0;
        json_t *e = call("POST", path, near.token, body, &st);
        ck_assert_int_eq(st, 422);
        json_t *err = json_object_get(e, "error");
        ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "wrong_code");
        json_t *det = json_object_get(err, "details");
        ck_assert_int_eq(json_integer_value(json_object_get(det, "attempts_left")), 4 - i);
        ck_assert(json_boolean_value(json_object_get(det, "locked")) == (i == 4));
        json_decref(e);
    }
    snprintf(body, sizeof(body), "{\"code\":\"%s\"}", code);
    expect_error("POST", path, near.token, body, 409, "delivery_locked");
    doc = expect("GET", "/v1/admin/deliveries?status=picked_up", w.op, NULL, 200);
    json_t *item = json_array_get(json_object_get(doc, "items"), 0);
    ck_assert_int_eq(shop_jint(item, "id"), d);
    ck_assert(json_is_true(json_object_get(item, "locked")));
    ck_assert_int_eq(shop_jint(item, "code_failures"), 5);
    ck_assert_int_eq(shop_jint(json_object_get(item, "courier"), "id"), near.id);
    json_decref(doc);
    doc = expect("GET", "/v1/admin/fulfilment-alerts?kind=delivery_locked&status=open", w.op, NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    json_t *alert = json_array_get(json_object_get(doc, "items"), 0);
    ck_assert_int_eq(shop_jint(alert, "subject_id"), d);
    ck_assert(json_is_null(json_object_get(alert, "resolved_at")));
    int64_t alert_id = shop_jint(alert, "id");
    json_decref(doc);
    /* the centre deals with it: resolved once, then off the open list */
    snprintf(path, sizeof(path), "/v1/admin/fulfilment-alerts/%lld/resolve", (long long)alert_id);
    expect_error("POST", path, w.op, "{\"note\":\"\"}", 422, "invalid");
    expect_error("POST", path, w.op, "{\"note\":\"ok\",\"by\":1}", 422, "invalid");
    expect_error("POST", path, near.token, "{\"note\":\"ok\"}", 403, "forbidden");
    doc = expect("POST", path, w.op, "{\"note\":\"打电话给顾客核对了取货码\"}", 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "resolution")), "打电话给顾客核对了取货码");
    ck_assert(json_is_string(json_object_get(doc, "resolved_at")));
    json_decref(doc);
    expect_error("POST", path, w.op, "{\"note\":\"again\"}", 409, "already_resolved");
    expect_error("POST", "/v1/admin/fulfilment-alerts/999999999/resolve", w.op, "{\"note\":\"x\"}", 404, "not_found");
    doc = expect("GET", "/v1/admin/fulfilment-alerts?kind=delivery_locked&status=open", w.op, NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    doc = expect("GET", "/v1/admin/fulfilment-alerts?kind=delivery_locked&status=resolved", w.op, NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    json_decref(doc);
    expect_error("GET", "/v1/admin/fulfilment-alerts?status=done", w.op, NULL, 422, "invalid");
    snprintf(path, sizeof(path), "/v1/admin/deliveries/%lld/unlock", (long long)d);
    doc = expect("POST", path, w.op, NULL, 200);
    ck_assert(json_is_false(json_object_get(doc, "locked")));
    json_decref(doc);
    expect_error("POST", path, w.op, NULL, 409, "delivery_state");
    action(path, sizeof(path), "deliveries", d, "deliver");
    doc = expect("POST", path, near.token, body, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "delivered");
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/orders/%lld", (long long)order);
    doc = expect("GET", path, w.c.token, NULL, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "delivered");
    json_decref(doc);
    doc = expect("GET", "/v1/courier/deliveries?status=delivered", near.token, NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    json_decref(doc);
    doc = expect("GET", "/v1/courier/deliveries", next.token, NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    /* the watchdog flagged the unanswered offer, once */
    int flagged = 0;
    for (int i = 0; i < 50 && !flagged; i++) {
        flagged =
            shop_i64(&w.s.db, "SELECT COUNT(*) FROM fulfilment_alerts WHERE kind = 'offer_expired' AND subject_id = ?",
                     d) == 1;
        if (!flagged)
            sleep_ms(100);
    }
    ck_assert(flagged);
    /* /metrics shows the deliveries and the alerts (polled by serve every 5 s) */
    int shown = 0;
    for (int i = 0; i < 80 && !shown; i++) {
        char *text = NULL;
        ck_assert_int_eq(shop_request(&shared, "GET", "/metrics", NULL, NULL, NULL, &text), 200);
        const char *dl = strstr(text, "stallfront_deliveries{status=\"delivered\"} ");
        shown = dl != NULL && atoll(dl + strlen("stallfront_deliveries{status=\"delivered\"} ")) >= 1 &&
                strstr(text, "stallfront_fulfilment_alerts{kind=\"delivery_locked\"} ") != NULL &&
                strstr(text, "stallfront_fulfilment_alerts_open{kind=\"offer_expired\"} ") != NULL &&
                strstr(text, "stallfront_deliveries_waiting_no_courier ") != NULL;
        free(text);
        if (!shown)
            sleep_ms(100);
    }
    ck_assert_msg(shown, "/metrics does not show the deliveries and alerts");
    ck_assert_int_eq(t_work_stop(&wk, SIGTERM), 0);
    /* every step an event */
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT COUNT(DISTINCT to_status) FROM order_events WHERE delivery_id = ?", d),
                     5);
    shop_world_down(&w.s);
}
END_TEST

/* ---------------------------------------------------------------- bad requests */

START_TEST(test_bad_requests_are_refused_and_change_nothing)
{
    world_t w;
    courier_t c;
    char *text = NULL;
    world_up(&w);
    courier(&w, "甲", 34.7245, 113.6254, &c);
    static const char *const shifts[] = {"{\"on\":\"yes\"}", "{}", "{\"on\":1}", "{\"on\":null}"};
    for (size_t i = 0; i < sizeof(shifts) / sizeof(shifts[0]); i++)
        expect_error("POST", "/v1/courier/shift", c.token, shifts[i], 422, "invalid");
    long status;
    json_t *doc = call("POST", "/v1/courier/shift", c.token, "{\"on\":true,\"x\":1}", &status);
    ck_assert_str_eq(shop_error_field(doc), "x");
    shop_expect_error(doc, &status, 422, "invalid");
    ck_assert_int_eq(shop_request(&shared, "POST", "/v1/courier/shift", c.token, "{\"on\":", NULL, &text), 400);
    free(text);
    static const char *const places[] = {"{\"lat\":91,\"lng\":113}",
                                         "{\"lat\":34.7,\"lng\":-180.5}",
                                         "{\"lat\":\"34.7\",\"lng\":113}",
                                         "{\"lat\":34.7}",
                                         "{\"lat\":34.7,\"lng\":113,\"alt\":3}",
                                         "{\"lat\":1e400,\"lng\":113}",
                                         "{\"lat\":null,\"lng\":113}",
                                         "{\"lat\":[1],\"lng\":113}"};
    for (size_t i = 0; i < sizeof(places) / sizeof(places[0]); i++) {
        int st = (int)shop_request(&shared, "PUT", "/v1/courier/location", c.token, places[i], NULL, &text);
        ck_assert_msg(st == 422 || (i == 5 && st == 400), "%s: %d %s", places[i], st, text);
        free(text);
    }
    /* deliver bodies, ids */
    expect_error("POST", "/v1/courier/deliveries/999999999/deliver", c.token, "{\"code\":\"1234\"}", 404, "not_found");
    expect_error("POST", "/v1/courier/deliveries/1/deliver", c.token, "{\"code\":\"12a4\"}", 422, "invalid");
    expect_error("POST", "/v1/courier/deliveries/1/deliver", c.token, "{\"code\":1234}", 422, "invalid");
    expect_error("POST", "/v1/courier/deliveries/1/deliver", c.token, "{\"code\":\"12345\"}", 422, "invalid");
    expect_error("POST", "/v1/courier/deliveries/abc/pickup", c.token, NULL, 404, "not_found");
    expect_error("POST", "/v1/courier/offers/0/accept", c.token, NULL, 404, "not_found");
    expect_error("POST", "/v1/courier/offers/999999999/refuse", c.token, NULL, 404, "not_found");
    expect_error("GET", "/v1/courier/deliveries?status=lost", c.token, NULL, 422, "invalid");
    expect_error("GET", "/v1/courier/deliveries?limit=0", c.token, NULL, 422, "invalid");
    expect_error("GET", "/v1/admin/deliveries?status=x", w.op, NULL, 422, "invalid");
    expect_error("GET", "/v1/admin/fulfilment-alerts?kind=x", w.op, NULL, 422, "invalid");
    expect_error("POST", "/v1/admin/deliveries/999999999/unlock", w.op, NULL, 404, "not_found");
    /* roles */
    expect_error("GET", "/v1/courier/offers", w.c.token, NULL, 403, "forbidden");
    expect_error("GET", "/v1/admin/deliveries", c.token, NULL, 403, "forbidden");
    ck_assert_int_eq(shop_request(&shared, "GET", "/v1/courier/offers", NULL, NULL, NULL, &text), 401);
    free(text);
    /* off shift: no location taken, never offered */
    json_decref(expect("POST", "/v1/courier/shift", c.token, "{\"on\":false}", 200));
    expect_error("PUT", "/v1/courier/location", c.token, "{\"lat\":34.72,\"lng\":113.62}", 409, "off_shift");
    redisReply *rep =
        redis_cmd(&w.s.redis, "ZSCORE sf:couriers:hb:%lld %lld", (long long)w.s.m.market_id, (long long)c.id);
    ck_assert(rep != NULL && rep->type == REDIS_REPLY_NIL);
    freeReplyObject(rep);
    ck_assert_int_eq(shop_i64(&w.s.db, "SELECT on_shift FROM couriers WHERE id = ?", c.id), 0);
    shop_world_down(&w.s);
}
END_TEST

/* ---------------------------------------------------------------- kill -9 */

START_TEST(test_work_killed_at_any_moment_never_offers_twice_and_forgets_nothing)
{
    world_t w;
    courier_t a, b, c;
    twork_t wk;
    int64_t orders[5], ds[5];
    world_up(&w);
    courier(&w, "甲", 34.7245, 113.6254, &a);
    courier(&w, "乙", 34.7290, 113.6254, &b);
    courier(&w, "丙", 34.7340, 113.6254, &c);
    srand((unsigned)getpid());
    /* killed between the payment and the first offer, at random moments */
    for (int i = 0; i < 4; i++) {
        orders[i] = paid_order(&w);
        ck_assert_int_eq(t_work_start(&wk, test_env, NULL), 0);
        sleep_ms(rand() % 400);
        ck_assert_int_eq(t_work_stop(&wk, SIGKILL), 128 + SIGKILL);
        for (int j = 0; j <= i; j++)
            ck_assert_int_le(open_offers(&w, delivery_of(&w, orders[j])), 1);
    }
    /* a delivery made and committed with no offer and no message left (as a crash right after
     * creating it, with Redis losing its last second, would leave it): only the sweep finds it */
    orders[4] = paid_order_with(&w, 0);
    ck_assert_int_eq(db_exec(&w.s.db, "INSERT INTO deliveries (market_id, order_id, code) VALUES (?, ?, '0000')",
                             (db_param_t[]){DB_I64(w.s.m.market_id), DB_I64(orders[4])}, 2, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(t_work_start(&wk, test_env, NULL), 0);
    int all = 0;
    for (int t = 0; t < 100 && !all; t++) {
        all = 1;
        for (int i = 0; i < 5; i++) {
            ds[i] = delivery_of(&w, orders[i]);
            int64_t open = ds[i] > 0 ? open_offers(&w, ds[i]) : 0;
            ck_assert_int_le(open, 1);
            all &= open == 1;
        }
        if (!all)
            sleep_ms(100);
    }
    ck_assert_msg(all, "not every delivery was offered after the restart");
    /* killed while the offers run: after the restart they expire and move on, one at a time */
    int64_t first[5];
    for (int i = 0; i < 5; i++)
        first[i] = t_db_i64(&w.s.db, "SELECT courier_id FROM delivery_offers WHERE delivery_id = ? AND status = 'open'",
                            (db_param_t[]){DB_I64(ds[i])}, 1);
    ck_assert_int_eq(t_work_stop(&wk, SIGKILL), 128 + SIGKILL);
    sleep_ms(5500); /* the offers expire while nobody runs */
    ck_assert_int_eq(t_work_start(&wk, test_env, NULL), 0);
    int moved = 0;
    for (int t = 0; t < 100 && !moved; t++) {
        moved = 1;
        for (int i = 0; i < 5; i++) {
            ck_assert_int_le(open_offers(&w, ds[i]), 1);
            moved &= t_db_i64(&w.s.db,
                              "SELECT COUNT(*) FROM delivery_offers WHERE delivery_id = ? AND status = 'open'"
                              " AND courier_id <> ?",
                              (db_param_t[]){DB_I64(ds[i]), DB_I64(first[i])}, 2) == 1;
        }
        if (!moved)
            sleep_ms(100);
    }
    ck_assert_msg(moved, "the expired offers did not move on after the restart");
    ck_assert_int_eq(t_work_stop(&wk, SIGTERM), 0);
    for (int i = 0; i < 5; i++) {
        ck_assert_int_eq(shop_i64(&w.s.db, "SELECT COUNT(*) FROM deliveries WHERE order_id = ?", orders[i]), 1);
        ck_assert_int_eq(shop_i64(&w.s.db,
                                  "SELECT MAX(n) FROM (SELECT COUNT(*) n FROM delivery_offers"
                                  " WHERE delivery_id = ? GROUP BY courier_id) x",
                                  ds[i]),
                         1);
    }
    (void)c;
    shop_world_down(&w.s);
}
END_TEST

/* ---------------------------------------------------------------- dispatch.trigger = ready */

START_TEST(test_with_the_ready_trigger_dispatch_waits_for_the_last_vendor_order)
{
    world_t w;
    courier_t a;
    twork_t wk;
    char trigger_env[] = "STALLFRONT_DISPATCH_TRIGGER=ready";
    const char *env[16];
    size_t n = 0;
    for (; test_env[n] != NULL; n++)
        env[n] = test_env[n];
    env[n++] = trigger_env;
    env[n] = NULL;
    world_up(&w);
    courier(&w, "甲", 34.7245, 113.6254, &a);
    int64_t order = paid_order(&w);
    ck_assert_int_eq(t_work_start(&wk, env, NULL), 0);
    sleep_ms(1500);
    ck_assert_int_eq(delivery_of(&w, order), 0); /* paid is not enough */
    /* the vendors make it ready (as the fulfilment part does: the derived status writes order.ready) */
    db_t *db = &w.s.db;
    ck_assert_int_eq(db_begin(db), DB_OK);
    ck_assert_int_eq(db_exec(db, "UPDATE vendor_orders SET status = 'ready' WHERE order_id = ?",
                             (db_param_t[]){DB_I64(order)}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(order_sync_status_tx(db, order, "test", NULL, 0), DB_OK);
    ck_assert_int_eq(db_commit(db), DB_OK);
    json_t *offer = wait_offer(&a, 0, 10000, &w);
    ck_assert_msg(offer != NULL, "no offer after the order became ready");
    ck_assert_int_eq(shop_jint(offer, "order_id"), order);
    json_decref(offer);
    ck_assert_int_eq(t_work_stop(&wk, SIGTERM), 0);
    shop_world_down(&w.s);
}
END_TEST

static Suite *courier_suite(void)
{
    Suite *s = suite_create("courier");
    TCase *tc = tcase_create("courier");
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_offers_expiry_refusal_grab_pickup_and_delivery_over_http);
    tcase_add_test(tc, test_bad_requests_are_refused_and_change_nothing);
    tcase_add_test(tc, test_work_killed_at_any_moment_never_offers_twice_and_forgets_nothing);
    tcase_add_test(tc, test_with_the_ready_trigger_dispatch_waits_for_the_last_vendor_order);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    /* a database and a Redis of its own: its `work` must not do its neighbours' work */
    return t_main_shared(courier_suite(), "courier", &shared, &shared_exit);
}
