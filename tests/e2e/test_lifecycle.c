/*
 * The whole lifecycle of an order, end to end over HTTP/2 (h2c), against the API contract
 * only (API.md "Operator", "Vendor", "Courier", "Orders"): a real `stallfront serve`
 * (payments.mode=sandbox, auth.wechat_mode=sandbox) and a real `stallfront work` (relay,
 * refund worker, dispatch, ...), every step through the routes a client would call:
 *
 *   the operator makes 3 stalls, 3 vendors with logins and a courier with a login;
 *   each vendor lists a product (two weighed, one counted);
 *   a consumer signs in, adds an address, fills the cart from the 3 stalls and checks out;
 *   pays: POST /v1/orders/{id}/payments, then `stallfront sandbox pay` signs and sends the
 *     provider's callback; the order becomes `paid`, each vendor order `new`;
 *   the 3 vendors see their orders, accept, pick (one weighed line lighter: the exact
 *     difference in fen is refunded, and the sandbox settles it through the refund worker:
 *     refunds[].status `succeeded`), mark ready;
 *   the courier goes on shift near the market, gets the offer, accepts, picks up, is refused
 *     a wrong code, delivers with the order's delivery.code; the order is `delivered`;
 *   money: paid_fen − refunded_fen = Σ picked amounts + delivery fee, refunds sum to
 *     refunded_fen; stock: each product's stock = start − what was sold (the lighter line's
 *     unsold grams went back to stock);
 *   the consumer rates the order; the stalls' public ratings change.
 *
 * Waits are polls with a bound (nothing asserts how fast anything is). The vendor, courier
 * and delivery routes come with issue 9's other parts; until they are merged this test
 * compiles but fails at the first of them.
 */
#include <check.h>
#include <curl/curl.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/shop.h"
#include "tests/support/sandboxkeys.h"
#include "tests/support/testutil.h"

#define POLL_MS      100   /* between two looks at something that happens elsewhere */
#define WAIT_MS      30000 /* the most any one step may take before the test gives up */
#define DELIVERY_FEE 500

static t_sandbox_t sandbox; /* the sandbox provider's files of this run */
static const char *const test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                       "STALLFRONT_PAYMENTS_MODE=sandbox",
                                       "STALLFRONT_ORDER_DELIVERY_FEE_FEN=500",
                                       "STALLFRONT_ORDER_FREE_DELIVERY_FROM_FEN=1000000",
                                       "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000",
                                       "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                                       "STALLFRONT_QUEUE_LEASE_MS=1000",
                                       "STALLFRONT_DISPATCH_RETRY_MAX_S=1",
                                       sandbox.env,
                                       NULL};
static tserver_t shared;
static int shared_exit;

/* ---------------------------------------------------------------- the sandbox provider's keys */

static void shared_up(void)
{
    t_sandbox_make(&sandbox, "lifecycle");
    t_migrate();
    ck_assert_msg(tserver_start(&shared, test_env) == 0, "server did not start");
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
    t_sandbox_remove(&sandbox);
}

/* ---------------------------------------------------------------- calls */

/* A request whose answer must have status want; the document (caller decrefs). */
static json_t *call(const char *method, const char *token, const char *body, long want, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static json_t *call(const char *method, const char *token, const char *body, long want, const char *fmt, ...)
{
    char path[512];
    long status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    json_t *doc = shop_call(&shared, method, path, token, body, NULL, &status);
    if (status != want) {
        char *text = json_dumps(doc, JSON_COMPACT);
        ck_abort_msg("%s %s: want %ld, got %ld %s", method, path, want, status, text);
    }
    return doc;
}

/* The same for a JSON body built with json_pack (stolen). */
static json_t *call_json(const char *method, const char *token, json_t *body, long want, const char *path)
{
    ck_assert_ptr_nonnull(body);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    json_t *doc = call(method, token, text, want, "%s", path);
    free(text);
    return doc;
}

static int64_t jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

static const char *jstr(const json_t *o, const char *k)
{
    return json_string_value(json_object_get(o, k));
}

static void sleep_ms(int ms)
{
    struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* The consumer's view of the order. */
static json_t *order_view(const char *token, int64_t order)
{
    return call("GET", token, NULL, 200, "/v1/orders/%lld", (long long)order);
}

/* Polls the order until its status is `status`, within WAIT_MS; the last view. */
static json_t *await_order_status(const char *token, int64_t order, const char *status)
{
    json_t *doc = NULL;
    for (int waited = 0; waited <= WAIT_MS; waited += POLL_MS) {
        json_decref(doc);
        doc = order_view(token, order);
        if (jstr(doc, "status") != NULL && strcmp(jstr(doc, "status"), status) == 0)
            return doc;
        sleep_ms(POLL_MS);
    }
    ck_abort_msg("order %lld never became %s (it is %s)", (long long)order, status, jstr(doc, "status"));
    return NULL;
}

/* ---------------------------------------------------------------- money */

/* API.md "Products and quantities": weight: price_fen × qty / per_g rounded half up. */
static int64_t weighed_fen(int64_t price_fen, int64_t per_g, int64_t grams)
{
    return (price_fen * grams * 2 + per_g) / (per_g * 2);
}

/* ---------------------------------------------------------------- the world, through the API */

typedef struct party {
    char token[128];
    int64_t id; /* the vendor's or courier's id, or the stall's */
    int64_t stall;
} party_t;

typedef struct product_spec {
    const char *name;
    int64_t price_fen, per_g; /* per_g 0: counted */
    int64_t stock, qty, qty_actual;
} product_spec_t;

/* The three stalls' products and what happens to them: spinach weighed lighter at picking
 * (733 g of 750 g), eggs counted and picked as ordered, pork weighed as ordered. */
static const product_spec_t spec[3] = {
    {"菠菜", 600, 500, 5000, 750, 733},
    {"土鸡蛋", 350, 0, 100, 6, 6},
    {"猪肉", 1800, 500, 10000, 1000, 1000},
};

/* The operator makes stall i, a vendor trading there with a login, and the vendor signs in. */
static void make_vendor(const char *op, int i, party_t *v)
{
    char no[16], user[64];
    snprintf(no, sizeof(no), "L-%02d", i + 1);
    json_t *doc =
        call_json("POST", op,
                  json_pack("{s:s, s:s, s:{s:i, s:i}}", "stall_no", no, "zone", "蔬菜区", "map", "x", 10 * i, "y", 20),
                  201, "/v1/admin/stalls");
    v->stall = jint(doc, "id");
    json_decref(doc);
    snprintf(user, sizeof(user), "lv%d_%d_%ld", (int)getpid(), i, (long)time(NULL) % 100000);
    doc = call_json("POST", op,
                    json_pack("{s:s, s:s, s:[I], s:s, s:[], s:s, s:s, s:s}", "name", "李四", "contact_phone",
                              "13900000001", "stall_ids", (json_int_t)v->stall, "business_scope", "蔬菜、肉、蛋零售",
                              "licences", "credit_level", "A", "username", user, "password", "vendor-pass-1"),
                    201, "/v1/admin/vendors");
    v->id = jint(doc, "id");
    json_decref(doc);
    ck_assert_int_eq(t_login(&shared, user, "vendor-pass-1", v->token, sizeof(v->token)), 0);
}

/* Vendor v lists product s; its id. */
static int64_t make_product(const party_t *v, const product_spec_t *s)
{
    json_t *pricing = s->per_g > 0 ? json_pack("{s:s, s:I, s:I}", "mode", "weight", "price_fen",
                                               (json_int_t)s->price_fen, "per_g", (json_int_t)s->per_g)
                                   : json_pack("{s:s, s:I, s:s}", "mode", "count", "price_fen",
                                               (json_int_t)s->price_fen, "unit", "个");
    json_t *doc = call_json("POST", v->token,
                            json_pack("{s:s, s:s, s:s, s:o, s:I, s:s}", "name", s->name, "category", "veg-leafy",
                                      "commodity_code", "A010101", "pricing", pricing, "stock", (json_int_t)s->stock,
                                      "origin", "410122"),
                            201, "/v1/vendor/products");
    int64_t id = jint(doc, "id");
    json_decref(doc);
    return id;
}

/* A product's stock as its vendor sees it (GET /v1/vendor/products: not cached). */
static int64_t stock_of(const party_t *v, int64_t product)
{
    json_t *doc = call("GET", v->token, NULL, 200, "/v1/vendor/products?limit=100");
    json_t *items = json_object_get(doc, "items");
    int64_t stock = -1;
    for (size_t i = 0; i < json_array_size(items); i++)
        if (jint(json_array_get(items, i), "id") == product)
            stock = jint(json_array_get(items, i), "stock");
    json_decref(doc);
    ck_assert_msg(stock >= 0, "product %lld is not listed by its vendor", (long long)product);
    return stock;
}

/* The vendor order of stall `stall` in the consumer's view of the order. */
static json_t *vendor_order_of(json_t *order, int64_t stall)
{
    json_t *vos = json_object_get(order, "vendor_orders");
    for (size_t i = 0; i < json_array_size(vos); i++)
        if (jint(json_array_get(vos, i), "stall_id") == stall)
            return json_array_get(vos, i);
    ck_abort_msg("no vendor order of stall %lld", (long long)stall);
    return NULL;
}

/* Polls the vendor's list of new orders until vendor order vo is there. */
static void await_vendor_sees(const party_t *v, int64_t vo)
{
    for (int waited = 0; waited <= WAIT_MS; waited += POLL_MS) {
        json_t *doc = call("GET", v->token, NULL, 200, "/v1/vendor/orders?status=new&limit=100");
        json_t *items = json_object_get(doc, "items");
        int seen = 0;
        for (size_t i = 0; i < json_array_size(items); i++)
            seen |= jint(json_array_get(items, i), "id") == vo;
        json_decref(doc);
        if (seen)
            return;
        sleep_ms(POLL_MS);
    }
    ck_abort_msg("vendor %lld never saw its new vendor order %lld", (long long)v->id, (long long)vo);
}

/* The vendor picks every line of its vendor order at qty_actual. */
static void pick(const party_t *v, json_t *vo, int64_t qty_actual)
{
    char path[96];
    json_t *lines = json_array();
    json_t *ordered = json_object_get(vo, "lines");
    for (size_t i = 0; i < json_array_size(ordered); i++)
        json_array_append_new(lines,
                              json_pack("{s:I, s:I}", "line_id", (json_int_t)jint(json_array_get(ordered, i), "id"),
                                        "qty_actual", (json_int_t)qty_actual));
    snprintf(path, sizeof(path), "/v1/vendor/orders/%lld/pick", (long long)jint(vo, "id"));
    json_decref(call_json("POST", v->token, json_pack("{s:o}", "lines", lines), 200, path));
}

/* The courier, on shift at (lat, lng), polls its offers (sending its position each time: the
 * heartbeat) until the order's delivery is offered; the delivery's id. */
static int64_t await_offer(const party_t *c, double lat, double lng, int64_t order)
{
    for (int waited = 0; waited <= WAIT_MS; waited += POLL_MS) {
        json_decref(
            call_json("PUT", c->token, json_pack("{s:f, s:f}", "lat", lat, "lng", lng), 200, "/v1/courier/location"));
        json_t *doc = call("GET", c->token, NULL, 200, "/v1/courier/offers");
        json_t *items = json_object_get(doc, "items");
        if (items == NULL && json_is_array(doc))
            items = doc;
        int64_t delivery = 0;
        for (size_t i = 0; i < json_array_size(items); i++)
            if (jint(json_array_get(items, i), "order_id") == order) {
                json_t *offer = json_array_get(items, i);
                delivery = jint(offer, "id");
                ck_assert_int_eq(json_array_size(json_object_get(offer, "pickups")), 3);
                ck_assert_ptr_nonnull(json_object_get(offer, "dropoff"));
            }
        json_decref(doc);
        if (delivery != 0)
            return delivery;
        sleep_ms(POLL_MS);
    }
    ck_abort_msg("the courier was never offered order %lld", (long long)order);
    return 0;
}

/* Polls the order until every refund it lists has succeeded and there are n of them. */
static json_t *await_refunds_settled(const char *token, int64_t order, size_t n)
{
    json_t *doc = NULL;
    for (int waited = 0; waited <= WAIT_MS; waited += POLL_MS) {
        json_decref(doc);
        doc = order_view(token, order);
        json_t *refunds = json_object_get(doc, "refunds");
        size_t done = 0;
        for (size_t i = 0; i < json_array_size(refunds); i++)
            done += jstr(json_array_get(refunds, i), "status") != NULL &&
                    strcmp(jstr(json_array_get(refunds, i), "status"), "succeeded") == 0;
        if (json_array_size(refunds) == n && done == n)
            return doc;
        sleep_ms(POLL_MS);
    }
    char *text = json_dumps(json_object_get(doc, "refunds"), JSON_COMPACT);
    ck_abort_msg("the refunds of order %lld never all succeeded: %s", (long long)order, text);
    return NULL;
}

/* `stallfront sandbox pay ORDER` against the shared server, as the consumer paying. */
static void sandbox_pay(int64_t order)
{
    char out[700];
    snprintf(out, sizeof(out), "%s/sandbox-pay-%lld.out", sandbox.dir, (long long)order);
    int rc = t_sh("STALLFRONT_PAYMENTS_MODE=sandbox STALLFRONT_PAYMENTS_SANDBOX_DIR='%s' %s sandbox pay %lld --url %s"
                  " >'%s' 2>&1",
                  sandbox.dir, SF_BINARY, (long long)order, t_base(&shared, T_H2C), out);
    if (rc != 0)
        t_sh("cat '%s' >&2", out);
    ck_assert_msg(rc == 0, "stallfront sandbox pay %lld exited %d", (long long)order, rc);
}

/* ---------------------------------------------------------------- the test */

START_TEST(test_an_order_goes_from_checkout_to_delivered_and_rated)
{
    shop_world_t w;
    twork_t wk;
    char op[128], buf[128];
    party_t vendor[3], rider;
    int64_t product[3];
    shop_world_open(&w); /* the fixture market and its operator */
    const char *work_env[] = {"STALLFRONT_PAYMENTS_MODE=sandbox", sandbox.env, "STALLFRONT_QUEUE_LEASE_MS=1000",
                              "STALLFRONT_DISPATCH_RETRY_MAX_S=1", NULL};
    ck_assert_int_eq(t_work_start(&wk, work_env, NULL), 0);
    ck_assert_int_eq(t_login(&shared, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);

    /* ---- the market: 3 vendors with a product each, a courier */
    for (int i = 0; i < 3; i++) {
        make_vendor(op, i, &vendor[i]);
        product[i] = make_product(&vendor[i], &spec[i]);
        ck_assert_int_eq(stock_of(&vendor[i], product[i]), spec[i].stock);
    }
    snprintf(buf, sizeof(buf), "lc%d_%ld", (int)getpid(), (long)time(NULL) % 100000);
    json_t *doc = call_json("POST", op,
                            json_pack("{s:s, s:s, s:s, s:s}", "name", "骑手小王", "phone", "13700000000", "username",
                                      buf, "password", "courier-pass-1"),
                            201, "/v1/admin/couriers");
    rider.id = jint(doc, "id");
    json_decref(doc);
    ck_assert_int_eq(t_login(&shared, buf, "courier-pass-1", rider.token, sizeof(rider.token)), 0);
    doc = call("GET", NULL, NULL, 200, "/v1/markets/%lld", (long long)w.m.market_id);
    double lat = json_number_value(json_object_get(doc, "lat")), lng = json_number_value(json_object_get(doc, "lng"));
    json_decref(doc);

    /* ---- the consumer: sign in, an address ~110 m away, the cart from 3 stalls, checkout */
    char consumer[128], name[48];
    snprintf(name, sizeof(name), "life%d_%ld", (int)getpid(), (long)time(NULL) % 100000);
    ck_assert_int_eq(t_login_wechat(&shared, name, consumer, sizeof(consumer)), 0);
    doc = call_json("POST", consumer,
                    json_pack("{s:s, s:s, s:s, s:f, s:f}", "name", "王五", "phone", "13800000000", "text",
                              "郑州市二七区某小区 3 号楼", "lat", lat + 0.001, "lng", lng),
                    201, "/v1/addresses");
    int64_t address = jint(doc, "id");
    json_decref(doc);
    int64_t items_fen = 0;
    for (int i = 0; i < 3; i++) {
        snprintf(buf, sizeof(buf), "/v1/cart/items/%lld", (long long)product[i]);
        json_decref(call_json("PUT", consumer, json_pack("{s:I}", "qty", (json_int_t)spec[i].qty), 200, buf));
        items_fen += spec[i].per_g > 0 ? weighed_fen(spec[i].price_fen, spec[i].per_g, spec[i].qty)
                                       : spec[i].price_fen * spec[i].qty;
    }
    doc = call_json("POST", consumer,
                    json_pack("{s:I, s:I}", "market_id", (json_int_t)w.m.market_id, "address_id", (json_int_t)address),
                    201, "/v1/orders");
    int64_t order = jint(doc, "id");
    ck_assert_str_eq(jstr(doc, "status"), "pending_payment");
    ck_assert_int_eq(jint(doc, "items_fen"), items_fen);
    ck_assert_int_eq(jint(doc, "delivery_fee_fen"), DELIVERY_FEE);
    ck_assert_int_eq(jint(doc, "payable_fen"), items_fen + DELIVERY_FEE);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "vendor_orders")), 3);
    json_decref(doc);
    for (int i = 0; i < 3; i++)
        ck_assert_int_eq(stock_of(&vendor[i], product[i]), spec[i].stock - spec[i].qty);

    /* ---- payment: the attempt, then the sandbox provider's signed callback */
    snprintf(buf, sizeof(buf), "/v1/orders/%lld/payments", (long long)order);
    doc = call_json("POST", consumer, json_pack("{s:s}", "provider", "wechat"), 201, buf);
    ck_assert_int_eq(jint(doc, "amount_fen"), items_fen + DELIVERY_FEE);
    json_decref(doc);
    sandbox_pay(order);
    doc = await_order_status(consumer, order, "paid");
    ck_assert_int_eq(jint(doc, "paid_fen"), items_fen + DELIVERY_FEE);
    ck_assert_int_eq(jint(doc, "refunded_fen"), 0);
    for (int i = 0; i < 3; i++)
        ck_assert_str_eq(jstr(vendor_order_of(doc, vendor[i].stall), "status"), "new");

    /* ---- the vendors: accept, pick (spinach lighter), ready */
    int64_t picked_fen = 0, refund_fen = 0;
    for (int i = 0; i < 3; i++) {
        json_t *vo = vendor_order_of(doc, vendor[i].stall);
        int64_t id = jint(vo, "id");
        ck_assert_int_eq(jint(vo, "vendor_id"), vendor[i].id);
        await_vendor_sees(&vendor[i], id);
        snprintf(buf, sizeof(buf), "/v1/vendor/orders/%lld/accept", (long long)id);
        json_decref(call("POST", vendor[i].token, NULL, 200, "%s", buf));
        pick(&vendor[i], vo, spec[i].qty_actual);
        snprintf(buf, sizeof(buf), "/v1/vendor/orders/%lld/ready", (long long)id);
        json_decref(call("POST", vendor[i].token, NULL, 200, "%s", buf));
        int64_t ordered = jint(json_array_get(json_object_get(vo, "lines"), 0), "amount_fen");
        int64_t actual = spec[i].per_g > 0 ? weighed_fen(spec[i].price_fen, spec[i].per_g, spec[i].qty_actual)
                                           : spec[i].price_fen * spec[i].qty_actual;
        picked_fen += actual < ordered ? actual : ordered; /* heavier costs nothing more */
        refund_fen += actual < ordered ? ordered - actual : 0;
    }
    json_decref(doc);
    ck_assert_int_eq(refund_fen, 900 - 880); /* 600 fen a jin: 750 g is 900, 733 g is 879.6 → 880 */
    /* the lighter line's refund, settled by the sandbox through the refund worker */
    doc = await_refunds_settled(consumer, order, 1);
    json_t *refund = json_array_get(json_object_get(doc, "refunds"), 0);
    ck_assert_int_eq(jint(refund, "amount_fen"), refund_fen);
    ck_assert_int_eq(jint(doc, "refunded_fen"), refund_fen);
    json_t *spinach = json_array_get(json_object_get(vendor_order_of(doc, vendor[0].stall), "lines"), 0);
    ck_assert_int_eq(jint(spinach, "qty_actual"), spec[0].qty_actual);
    ck_assert_int_eq(jint(spinach, "amount_actual_fen"), 880);
    ck_assert_str_eq(jstr(doc, "status"), "ready");
    json_decref(doc);

    /* ---- the courier: on shift near the market, the offer, accept, pickup, deliver */
    json_decref(call_json("POST", rider.token, json_pack("{s:b}", "on", 1), 200, "/v1/courier/shift"));
    int64_t delivery = await_offer(&rider, lat, lng, order);
    snprintf(buf, sizeof(buf), "/v1/courier/offers/%lld/accept", (long long)delivery);
    json_decref(call("POST", rider.token, NULL, 200, "%s", buf));
    snprintf(buf, sizeof(buf), "/v1/courier/deliveries/%lld/pickup", (long long)delivery);
    json_decref(call("POST", rider.token, NULL, 200, "%s", buf));
    doc = await_order_status(consumer, order, "delivering");
    json_t *dv = json_object_get(doc, "delivery");
    ck_assert_int_eq(jint(dv, "id"), delivery);
    ck_assert_int_eq(jint(json_object_get(dv, "courier"), "id"), rider.id);
    char code[8];
    ck_assert_ptr_nonnull(jstr(dv, "code"));
    ck_assert_int_eq(strlen(jstr(dv, "code")), 4);
    snprintf(code, sizeof(code), "%s", jstr(dv, "code"));
    json_decref(doc);
    snprintf(buf, sizeof(buf), "/v1/courier/deliveries/%lld/deliver", (long long)delivery);
    json_t *wrong =
        call_json("POST", rider.token, json_pack("{s:s}", "code", strcmp(code, "0000") ? "0000" : "1111"), 422, buf);
    ck_assert_str_eq(shop_error_code(wrong), "wrong_code");
    json_decref(wrong);
    json_decref(call_json("POST", rider.token, json_pack("{s:s}", "code", code), 200, buf));

    /* ---- delivered: the money and the stock balance */
    doc = await_order_status(consumer, order, "delivered");
    ck_assert_str_eq(jstr(json_object_get(doc, "delivery"), "status"), "delivered");
    int64_t lines_actual = 0, refunds = 0;
    json_t *vos = json_object_get(doc, "vendor_orders");
    for (size_t i = 0; i < json_array_size(vos); i++) {
        json_t *vo = json_array_get(vos, i);
        ck_assert_str_eq(jstr(vo, "status"), "handed_over");
        json_t *lines = json_object_get(vo, "lines");
        for (size_t j = 0; j < json_array_size(lines); j++)
            lines_actual += jint(json_array_get(lines, j), "amount_actual_fen");
    }
    json_t *rs = json_object_get(doc, "refunds");
    for (size_t i = 0; i < json_array_size(rs); i++) {
        ck_assert_str_eq(jstr(json_array_get(rs, i), "status"), "succeeded");
        refunds += jint(json_array_get(rs, i), "amount_fen");
    }
    ck_assert_int_eq(jint(doc, "paid_fen"), items_fen + DELIVERY_FEE);
    ck_assert_int_eq(jint(doc, "refunded_fen"), refunds);
    ck_assert_int_eq(lines_actual, picked_fen);
    ck_assert_int_eq(jint(doc, "paid_fen") - jint(doc, "refunded_fen"), picked_fen + DELIVERY_FEE);
    json_decref(doc);
    /* sold is what was picked, at most what was ordered: the unsold grams came back */
    for (int i = 0; i < 3; i++) {
        int64_t sold = spec[i].qty_actual < spec[i].qty ? spec[i].qty_actual : spec[i].qty;
        ck_assert_msg(stock_of(&vendor[i], product[i]) == spec[i].stock - sold, "%s: stock %lld, want %lld",
                      spec[i].name, (long long)stock_of(&vendor[i], product[i]), (long long)(spec[i].stock - sold));
    }

    /* ---- the rating: the stalls' public ratings change */
    for (int i = 0; i < 3; i++) {
        doc = call("GET", NULL, NULL, 200, "/v1/stalls/%lld", (long long)vendor[i].stall);
        ck_assert(json_is_null(json_object_get(doc, "rating")));
        ck_assert_int_eq(jint(doc, "rating_count"), 0);
        json_decref(doc);
    }
    json_t *stalls = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(stalls, json_pack("{s:I, s:i, s:s}", "stall_id", (json_int_t)vendor[i].stall, "score",
                                                5 - i, "text", i == 0 ? "称重少了一点，但已退差价" : "好"));
    snprintf(buf, sizeof(buf), "/v1/orders/%lld/rating", (long long)order);
    doc = call_json("POST", consumer, json_pack("{s:o, s:i}", "stalls", stalls, "courier_score", 5), 200, buf);
    ck_assert_int_eq(jint(doc, "courier_id"), rider.id);
    json_decref(doc);
    for (int i = 0; i < 3; i++) {
        doc = call("GET", NULL, NULL, 200, "/v1/stalls/%lld", (long long)vendor[i].stall);
        ck_assert_double_eq_tol(json_number_value(json_object_get(doc, "rating")), 5.0 - i, 1e-9);
        ck_assert_int_eq(jint(doc, "rating_count"), 1);
        json_decref(doc);
    }
    json_t *again = call_json(
        "POST", consumer, json_pack("{s:[{s:I, s:i}]}", "stalls", "stall_id", (json_int_t)vendor[0].stall, "score", 1),
        409, buf);
    ck_assert_str_eq(shop_error_code(again), "already_rated");
    json_decref(again);

    ck_assert_int_eq(t_work_stop(&wk, SIGTERM), 0);
    shop_world_down(&w);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("lifecycle");
    TCase *tc = tcase_create("lifecycle");
    tcase_set_timeout(tc, 240);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_an_order_goes_from_checkout_to_delivered_and_rated);
    suite_add_tcase(su, tc);
    /* a database and a Redis of its own: its `work` must not do its neighbours' work */
    return t_main_shared(su, "lifecycle", &shared, &shared_exit);
}
