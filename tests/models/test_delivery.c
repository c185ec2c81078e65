/*
 * models/delivery.c and the courier half of models/courier.c against a scratch database of
 * its own (sf_tdlv_<pid>_<tag>) and the test Redis: two couriers (or one courier twice)
 * accepting the same delivery at the same instant, each on its own thread and connection,
 * 200 times: exactly one wins, the other is told the offer is gone; an expired offer cannot
 * be accepted; a refusal is never offered again to the same courier; grab after the rounds;
 * offline and off-shift couriers never offered; no courier → back-off, counted, alerted once;
 * pickup only when every live vendor order is ready; wrong codes counted and locking; the
 * order follows the delivery; another courier's delivery not found and unchanged; a
 * cancelled order fails its delivery; the watchdog flags once.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/alert.h"
#include "models/base/config.h"
#include "models/courier.h"
#include "models/delivery.h"
#include "models/order.h"
#include "models/store/db.h"
#include "models/store/migrate.h"
#include "models/store/redis.h"
#include "tests/support/dbtest.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

typedef struct world {
    config_t cfg;
    db_t db;
    redis_t redis;
    int64_t market, user, address, stall[2], vendor[2], product[2];
} world_t;

static void exec(world_t *w, const char *sql, int64_t arg)
{
    db_param_t p[] = {DB_I64(arg)};
    ck_assert_msg(db_exec(&w->db, sql, p, strstr(sql, "?") != NULL ? 1 : 0, NULL, NULL) == DB_OK, "`%s`: %s", sql,
                  w->db.err);
}

static int64_t q1(world_t *w, const char *sql, int64_t arg)
{
    db_param_t p[] = {DB_I64(arg)};
    return t_db_i64(&w->db, sql, p, strstr(sql, "?") != NULL ? 1 : 0);
}

static void set(world_t *w, const char *key, const char *value)
{
    char err[256];
    ck_assert_msg(config_set(&w->cfg, key, value, err, sizeof(err)) == 0, "%s", err);
}

static void world_open(world_t *w, const char *tag)
{
    char err[512];
    memset(w, 0, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    set(w, "dispatch.rounds", "3");
    set(w, "dispatch.radius_m", "5000");
    set(w, "courier.heartbeat_s", "30");
    set(w, "delivery.code_attempts", "5");
    ck_assert_int_eq(redis_open(&w->redis, &w->cfg), 0);
    w->market = t_db_insert(&w->db,
                            "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules,"
                            " open_hours) VALUES ('m1', '市场', 'addr', 34.750000, 113.620000, '410103', '', '[]', '',"
                            " '6-20')",
                            NULL, 0);
    /* the scratch market's id repeats across the tests of this binary: its Redis sets are fresh */
    redisReply *rep = redis_cmd(&w->redis, "DEL sf:couriers:geo:%lld sf:couriers:hb:%lld", (long long)w->market,
                                (long long)w->market);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    w->user = t_db_insert(
        &w->db, "INSERT INTO users (role, wechat_openid, display_name) VALUES ('consumer', 'o-1', 'c')", NULL, 0);
    w->address = t_db_insert(&w->db,
                             "INSERT INTO addresses (market_id, user_id, name, phone, text, lat, lng)"
                             " VALUES (NULL, ?, '王五', '13800000000', '郑州市二七区', 34.751000, 113.621000)",
                             (db_param_t[]){DB_I64(w->user)}, 1);
    for (int i = 0; i < 2; i++) {
        char no[8];
        snprintf(no, sizeof(no), "A-%02d", i + 1);
        w->vendor[i] = t_db_insert(&w->db,
                                   "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                                   " VALUES (?, '李四', '13900000000', '蔬菜', 'A')",
                                   (db_param_t[]){DB_I64(w->market)}, 1);
        w->stall[i] = t_db_insert(&w->db,
                                  "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id)"
                                  " VALUES (?, ?, 'z', 1, 1, ?)",
                                  (db_param_t[]){DB_I64(w->market), DB_STR(no), DB_I64(w->vendor[i])}, 3);
        db_param_t p[] = {DB_I64(w->market), DB_I64(w->stall[i]), DB_I64(w->vendor[i]), DB_STR(i ? "白菜" : "鸡蛋")};
        w->product[i] =
            t_db_insert(&w->db,
                        "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                        " pricing_mode, price_fen, per_g, unit, stock, origin, trace_code) VALUES (?, ?, ?,"
                        " 'veg-leafy', 'A010101', ?, 'count', 350, NULL, '个', 1000, '410122', 'TR-1')",
                        p, 4);
    }
}

static void world_close(world_t *w)
{
    redis_close(&w->redis);
    t_db_scratch_close(&w->db, &w->cfg);
}

/* A paid order of two stalls (SQL stands in for the payment). */
static int64_t paid_order(world_t *w)
{
    int64_t id = 0;
    status_detail_t details = {0};
    cart_line_t lines[] = {{w->product[0], 2}, {w->product[1], 3}};
    order_checkout_t in = {.user_id = w->user,
                           .market_id = w->market,
                           .address_id = w->address,
                           .lines = lines,
                           .nlines = 2,
                           .delivery_fee_fen = 500,
                           .free_delivery_from_fen = 5000,
                           .radius_m = 5000,
                           .unpaid_timeout_s = 900};
    ck_assert_int_eq(order_checkout(&w->db, &in, &id, &details), DB_OK);
    exec(w, "UPDATE orders SET status = 'paid', paid_at = NOW(3) WHERE id = ?", id);
    exec(w, "UPDATE vendor_orders SET status = 'new', new_at = NOW(3) WHERE order_id = ?", id);
    return id;
}

/* A courier on shift at (lat, lng), heard from now. */
static int64_t courier(world_t *w, const char *lat, const char *lng)
{
    courier_held_t held[COURIER_HELD_MAX];
    size_t n;
    int64_t id =
        t_db_insert(&w->db, "INSERT INTO couriers (market_id, name, phone, on_shift) VALUES (?, '赵六', '139', 1)",
                    (db_param_t[]){DB_I64(w->market)}, 1);
    ck_assert_int_eq(courier_locate(&w->db, &w->redis, w->market, id, strtod(lat, NULL), strtod(lng, NULL), held, &n),
                     SF_OK);
    return id;
}

/* One dispatch step in a transaction of its own (as the queue's). */
static delivery_step_t drive(world_t *w, int64_t delivery)
{
    delivery_step_t st;
    ck_assert_int_eq(db_begin(&w->db), DB_OK);
    sf_status_t rc = delivery_drive_tx(&w->db, &w->redis, delivery, &st);
    ck_assert_msg(rc == DB_OK, "drive: %d %s", rc, w->db.err);
    ck_assert_int_eq(db_commit(&w->db), DB_OK);
    return st;
}

static int64_t new_delivery(world_t *w, int64_t order)
{
    int64_t id = 0;
    ck_assert_int_eq(db_begin(&w->db), DB_OK);
    ck_assert_int_eq(delivery_ensure_tx(&w->db, order, &id), DB_OK);
    ck_assert_int_eq(db_commit(&w->db), DB_OK);
    return id;
}

/* The offer's deadline moved into the past. */
static void expire(world_t *w, int64_t delivery)
{
    exec(w,
         "UPDATE delivery_offers SET expires_at = NOW(3) - INTERVAL 1 SECOND WHERE delivery_id = ? AND status = 'open'",
         delivery);
}

static int64_t open_offers(world_t *w, int64_t delivery)
{
    return q1(w, "SELECT COUNT(*) FROM delivery_offers WHERE delivery_id = ? AND status = 'open'", delivery);
}

/* ================================================================ the race */

typedef struct racer {
    const config_t *cfg;
    int64_t market, courier, delivery;
    pthread_barrier_t *gate;
    sf_status_t rc;
    db_t db;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    json_t *out = NULL;
    int64_t order = 0;
    db_thread_init();
    pthread_barrier_wait(r->gate);
    r->rc = delivery_accept(&r->db, r->market, r->courier, r->delivery, &out, &order);
    json_decref(out);
    db_thread_end();
    return NULL;
}

/* Two accepts at once, each on a thread and connection of its own; their outcomes. */
static void accept_twice(world_t *w, int64_t delivery, int64_t c1, int64_t c2, racer_t *rs)
{
    pthread_t t[2];
    pthread_barrier_t gate;
    pthread_barrier_init(&gate, NULL, 2);
    rs[0].courier = c1;
    rs[1].courier = c2;
    for (int i = 0; i < 2; i++) {
        rs[i].gate = &gate;
        rs[i].delivery = delivery;
        rs[i].market = w->market;
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &rs[i]), 0);
    }
    for (int i = 0; i < 2; i++)
        pthread_join(t[i], NULL);
    pthread_barrier_destroy(&gate);
}

START_TEST(test_two_couriers_accepting_at_once_one_wins_200_times)
{
    world_t w;
    racer_t rs[2];
    world_open(&w, "race");
    int64_t order = paid_order(&w);
    int64_t a = courier(&w, "34.751000", "113.620000"), b = courier(&w, "34.752000", "113.620000");
    int64_t d = new_delivery(&w, order);
    for (int i = 0; i < 2; i++) {
        memset(&rs[i], 0, sizeof(rs[i]));
        ck_assert_int_eq(db_open(&rs[i].db, &w.cfg), DB_OK);
    }
    int wins[2] = {0, 0};
    for (int round = 0; round < 200; round++) {
        /* open to both (grab), or offered to a alone who taps twice */
        int grab = round % 2 == 0;
        exec(&w, "DELETE FROM delivery_offers WHERE delivery_id = ?", d);
        exec(&w,
             "UPDATE deliveries SET status = 'offered', courier_id = NULL, round = 0, grab = 0,"
             " version = version + 1 WHERE id = ?",
             d);
        if (grab)
            exec(&w, "UPDATE deliveries SET grab = 1, round = 3 WHERE id = ?", d);
        else
            t_db_insert(
                &w.db,
                "INSERT INTO delivery_offers (delivery_id, courier_id, market_id, round, distance_m, expires_at)"
                " VALUES (?, ?, ?, 1, 100, NOW(3) + INTERVAL 60 SECOND)",
                (db_param_t[]){DB_I64(d), DB_I64(a), DB_I64(w.market)}, 3);
        accept_twice(&w, d, a, grab ? b : a, rs);
        int ok = (rs[0].rc == SF_OK) + (rs[1].rc == SF_OK);
        ck_assert_msg(ok == 1, "round %d: %d winners (%d, %d)", round, ok, rs[0].rc, rs[1].rc);
        ck_assert_int_eq(rs[rs[0].rc == SF_OK ? 1 : 0].rc, SF_E_OFFER_GONE);
        int64_t holder = rs[0].rc == SF_OK ? rs[0].courier : rs[1].courier;
        ck_assert_int_eq(q1(&w, "SELECT courier_id FROM deliveries WHERE id = ?", d), holder);
        ck_assert_int_eq(
            q1(&w, "SELECT COUNT(*) FROM delivery_offers WHERE delivery_id = ? AND status = 'accepted'", d), 1);
        ck_assert_int_eq(open_offers(&w, d), 0);
        if (grab)
            wins[holder == a ? 0 : 1]++;
    }
    /* the assigned events: one per round */
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_events WHERE delivery_id = ? AND to_status = 'assigned'", d),
                     200);
    ck_assert_int_eq(wins[0] + wins[1], 100);
    for (int i = 0; i < 2; i++)
        db_close(&rs[i].db);
    world_close(&w);
}
END_TEST

/* ================================================================ offers */

START_TEST(test_an_expired_offer_cannot_be_accepted_and_goes_to_the_next_courier)
{
    world_t w;
    json_t *out = NULL;
    int64_t oid = 0;
    world_open(&w, "expiry");
    int64_t order = paid_order(&w);
    int64_t near = courier(&w, "34.750500", "113.620000"), far = courier(&w, "34.770000", "113.620000");
    int64_t d = new_delivery(&w, order);
    delivery_step_t st = drive(&w, d);
    ck_assert_int_eq(st.result, DRIVE_OFFERED);
    ck_assert_int_eq(st.courier_id, near);
    ck_assert_int_gt(st.due_ms, 0);
    ck_assert_int_eq(q1(&w, "SELECT round FROM deliveries WHERE id = ?", d), 1);
    /* not due yet: a second step changes nothing */
    st = drive(&w, d);
    ck_assert_int_eq(st.result, DRIVE_NOT_DUE);
    ck_assert_int_eq(open_offers(&w, d), 1);
    /* the other courier has no offer: not found, nothing changed */
    ck_assert_int_eq(delivery_accept(&w.db, w.market, far, d, &out, &oid), SF_E_NOT_FOUND);
    expire(&w, d);
    ck_assert_int_eq(delivery_accept(&w.db, w.market, near, d, &out, &oid), SF_E_OFFER_GONE);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(q1(&w, "SELECT status = 'offered' AND courier_id IS NULL FROM deliveries WHERE id = ?", d), 1);
    st = drive(&w, d);
    ck_assert_int_eq(st.result, DRIVE_OFFERED);
    ck_assert_int_eq(st.courier_id, far);
    ck_assert_int_eq(st.ngone, 1);
    ck_assert_int_eq(st.gone[0], near);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM delivery_offers WHERE delivery_id = ? AND status = 'expired'", d), 1);
    ck_assert_int_eq(open_offers(&w, d), 1);
    ck_assert_int_eq(delivery_accept(&w.db, w.market, far, d, &out, &oid), SF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "status")), "assigned");
    ck_assert_int_eq(oid, order);
    json_decref(out);
    /* the events the statistics read */
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_events WHERE delivery_id = ? AND to_status = 'offered'", d), 2);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM order_events WHERE delivery_id = ? AND to_status = 'assigned'", d),
                     1);
    world_close(&w);
}
END_TEST

START_TEST(test_a_refusal_is_never_offered_again_and_grab_follows_the_rounds)
{
    world_t w;
    json_t *out = NULL, *items = NULL;
    int64_t oid = 0;
    world_open(&w, "refuse");
    int64_t order = paid_order(&w);
    int64_t c[4];
    c[0] = courier(&w, "34.750500", "113.620000");
    c[1] = courier(&w, "34.755000", "113.620000");
    c[2] = courier(&w, "34.760000", "113.620000");
    c[3] = courier(&w, "34.765000", "113.620000");
    int64_t d = new_delivery(&w, order);
    ck_assert_int_eq(drive(&w, d).courier_id, c[0]);
    ck_assert_int_eq(delivery_offers_for(&w.db, &w.redis, w.market, c[0], &items), SF_OK);
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), d);
    ck_assert(json_is_false(json_object_get(json_array_get(items, 0), "grab")));
    ck_assert_int_eq(json_array_size(json_object_get(json_array_get(items, 0), "pickups")), 2);
    json_decref(items);
    ck_assert_int_eq(delivery_refuse(&w.db, w.market, c[0], d, &out), SF_OK);
    json_decref(out);
    ck_assert_int_eq(delivery_refuse(&w.db, w.market, c[0], d, &out), SF_E_OFFER_GONE);
    ck_assert_int_eq(delivery_refuse(&w.db, w.market, c[1], d, &out), SF_E_NOT_FOUND);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'delivery.redrive'", 0), 1);
    ck_assert_int_eq(drive(&w, d).courier_id, c[1]); /* at once: no wait for the old deadline */
    expire(&w, d);
    ck_assert_int_eq(drive(&w, d).courier_id, c[2]);
    ck_assert_int_eq(delivery_refuse(&w.db, w.market, c[2], d, &out), SF_OK);
    json_decref(out);
    /* three rounds: grab, offered to every courier on shift in range */
    delivery_step_t st = drive(&w, d);
    ck_assert_int_eq(st.result, DRIVE_GRAB);
    ck_assert_int_eq(st.ngrab, 4);
    ck_assert_int_eq(q1(&w, "SELECT grab FROM deliveries WHERE id = ?", d), 1);
    ck_assert_int_eq(open_offers(&w, d), 0);
    /* each courier had it at most once; c[3] never before grab */
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM delivery_offers WHERE delivery_id = ?", d), 3);
    ck_assert_int_eq(q1(&w,
                        "SELECT MAX(n) FROM (SELECT COUNT(*) n FROM delivery_offers WHERE delivery_id = ?"
                        " GROUP BY courier_id) x",
                        d),
                     1);
    ck_assert_int_eq(drive(&w, d).result, DRIVE_IDLE);
    ck_assert_int_eq(delivery_offers_for(&w.db, &w.redis, w.market, c[0], &items), SF_OK);
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert(json_is_true(json_object_get(json_array_get(items, 0), "grab")));
    json_decref(items);
    /* the one who refused may grab it now: any courier on shift */
    ck_assert_int_eq(delivery_accept(&w.db, w.market, c[3], d, &out, &oid), SF_OK);
    json_decref(out);
    ck_assert_int_eq(delivery_accept(&w.db, w.market, c[0], d, &out, &oid), SF_E_OFFER_GONE);
    world_close(&w);
}
END_TEST

START_TEST(test_offline_and_off_shift_couriers_are_never_offered_and_nobody_means_back_off)
{
    world_t w;
    json_t *out = NULL;
    world_open(&w, "offline");
    int64_t order = paid_order(&w);
    int64_t silent = courier(&w, "34.750500", "113.620000"), off = courier(&w, "34.750600", "113.620000");
    int64_t far = courier(&w, "34.850000", "113.620000"); /* 11 km: out of range */
    redisReply *rep = redis_cmd(&w.redis, "ZADD sf:couriers:hb:%lld 1000 %lld", (long long)w.market, (long long)silent);
    freeReplyObject(rep);
    ck_assert_int_eq(courier_set_shift(&w.db, &w.redis, w.market, off, 0, &out), SF_OK);
    json_decref(out);
    /* off shift: no location taken either */
    courier_held_t held[COURIER_HELD_MAX];
    size_t n;
    ck_assert_int_eq(courier_locate(&w.db, &w.redis, w.market, off, 34.75, 113.62, held, &n), SF_E_OFF_SHIFT);
    (void)far;
    int64_t d = new_delivery(&w, order);
    delivery_step_t st = drive(&w, d);
    ck_assert_int_eq(st.result, DRIVE_NO_COURIER);
    ck_assert_int_eq(st.due_ms, 2000);
    ck_assert(st.no_courier_alert);
    ck_assert_int_eq(q1(&w, "SELECT no_courier_tries FROM deliveries WHERE id = ?", d), 1);
    ck_assert_int_eq(drive(&w, d).result, DRIVE_NOT_DUE);
    exec(&w, "UPDATE deliveries SET next_try_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?", d);
    st = drive(&w, d);
    ck_assert_int_eq(st.result, DRIVE_NO_COURIER);
    ck_assert_int_eq(st.due_ms, 4000);
    ck_assert(!st.no_courier_alert);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM fulfilment_alerts WHERE kind = 'no_courier' AND subject_id = ?", d),
                     1);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM delivery_offers WHERE delivery_id = ?", d), 0);
    /* the silent courier speaks, the one off shift comes back with a location: the nearest wins */
    ck_assert_int_eq(courier_set_shift(&w.db, &w.redis, w.market, off, 1, &out), SF_OK);
    json_decref(out);
    ck_assert_int_eq(courier_locate(&w.db, &w.redis, w.market, off, 34.7502, 113.62, held, &n), SF_OK);
    exec(&w, "UPDATE deliveries SET next_try_at = NOW(3) - INTERVAL 1 SECOND WHERE id = ?", d);
    st = drive(&w, d);
    ck_assert_int_eq(st.result, DRIVE_OFFERED);
    ck_assert_int_eq(st.courier_id, off);
    /* going off shift withdraws the open offer and hands the delivery back at once */
    ck_assert_int_eq(courier_set_shift(&w.db, &w.redis, w.market, off, 0, &out), SF_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "offers_withdrawn")), 1);
    json_decref(out);
    ck_assert_int_eq(open_offers(&w, d), 0);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM outbox WHERE topic = 'delivery.redrive'", 0), 1);
    ck_assert_int_eq(drive(&w, d).result, DRIVE_NO_COURIER); /* nobody else is near and heard from */
    ck_assert_int_eq(courier_set_shift(&w.db, &w.redis, w.market, off + 1000, 0, &out), SF_E_NOT_FOUND);
    world_close(&w);
}
END_TEST

/* ================================================================ pickup and delivery */

START_TEST(test_pickup_waits_for_every_vendor_order_and_the_code_locks_after_five_failures)
{
    world_t w;
    json_t *out = NULL;
    int64_t oid = 0;
    world_open(&w, "deliver");
    int64_t order = paid_order(&w);
    int64_t a = courier(&w, "34.750500", "113.620000"), b = courier(&w, "34.760000", "113.620000");
    int64_t d = new_delivery(&w, order);
    ck_assert_int_eq(drive(&w, d).courier_id, a);
    ck_assert_int_eq(delivery_accept(&w.db, w.market, a, d, &out, &oid), SF_OK);
    json_decref(out);
    ck_assert_int_eq(delivery_pickup(&w.db, b, d, &out, &oid), SF_E_NOT_FOUND);
    ck_assert_int_eq(delivery_pickup(&w.db, a, d, &out, &oid), SF_E_NOT_READY);
    exec(&w, "UPDATE vendor_orders SET status = 'ready' WHERE order_id = ? ORDER BY id LIMIT 1", order);
    ck_assert_int_eq(delivery_pickup(&w.db, a, d, &out, &oid), SF_E_NOT_READY);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status = 'handed_over'", order),
                     0);
    /* the other one rejected: only the live one counts */
    exec(&w, "UPDATE vendor_orders SET status = 'rejected' WHERE order_id = ? AND status <> 'ready'", order);
    ck_assert_int_eq(delivery_pickup(&w.db, a, d, &out, &oid), SF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "status")), "picked_up");
    ck_assert_ptr_null(json_object_get(out, "code")); /* the courier never sees the code */
    json_decref(out);
    ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ? AND status = 'handed_over'", order),
                     1);
    ck_assert_int_eq(q1(&w, "SELECT status = 'delivering' FROM orders WHERE id = ?", order), 1);
    ck_assert_int_eq(delivery_pickup(&w.db, a, d, &out, &oid), SF_E_DELIVERY_STATE);
    /* wrong codes */
    char code[8], wrong[8];
    snprintf(code, sizeof(code), "%04lld",
             (long long)q1(&w, "SELECT CAST(code AS UNSIGNED) FROM deliveries WHERE id = ?", d));
    snprintf(wrong, sizeof(wrong), "%04d", (atoi(code) + 1) % 10000);
    ck_assert_int_eq(delivery_deliver(&w.db, b, d, code, NULL, &out, &oid), SF_E_NOT_FOUND);
    for (int i = 0; i < 5; i++) { /* delivery.code_attempts is 5: the courier is told what is left */
        status_detail_t det = {0};
        ck_assert_int_eq(delivery_deliver(&w.db, a, d, wrong, &det, &out, &oid), SF_E_WRONG_CODE);
        ck_assert_int_eq(json_integer_value(json_object_get(det.details, "attempts_left")), 4 - i);
        ck_assert(json_boolean_value(json_object_get(det.details, "locked")) == (i == 4));
        status_detail_clear(&det);
    }
    ck_assert_int_eq(q1(&w, "SELECT code_failures * 10 + locked FROM deliveries WHERE id = ?", d), 51);
    ck_assert_int_eq(delivery_deliver(&w.db, a, d, code, NULL, &out, &oid), SF_E_DELIVERY_LOCKED);
    ck_assert_int_eq(
        q1(&w, "SELECT COUNT(*) FROM fulfilment_alerts WHERE kind = 'delivery_locked' AND subject_id = ?", d), 1);
    ck_assert_int_eq(delivery_unlock(&w.db, w.market + 1, d, &out), SF_E_NOT_FOUND);
    ck_assert_int_eq(delivery_unlock(&w.db, w.market, d, &out), SF_OK);
    ck_assert(json_is_false(json_object_get(out, "locked")));
    json_decref(out);
    ck_assert_int_eq(delivery_unlock(&w.db, w.market, d, &out), SF_E_DELIVERY_STATE);
    ck_assert_int_eq(delivery_deliver(&w.db, a, d, code, NULL, &out, &oid), SF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "status")), "delivered");
    json_decref(out);
    ck_assert_int_eq(q1(&w, "SELECT status = 'delivered' FROM orders WHERE id = ?", order), 1);
    ck_assert_int_eq(delivery_deliver(&w.db, a, d, code, NULL, &out, &oid), SF_E_DELIVERY_STATE);
    /* every move an event: waiting, offered, assigned, picked_up, delivered */
    ck_assert_int_eq(q1(&w, "SELECT COUNT(DISTINCT to_status) FROM order_events WHERE delivery_id = ?", d), 5);
    world_close(&w);
}
END_TEST

START_TEST(test_a_cancelled_order_fails_its_delivery_and_the_watchdog_flags_once)
{
    world_t w;
    json_t *out = NULL, *counts = NULL;
    int64_t oid = 0;
    size_t raised = 0;
    world_open(&w, "fail");
    set(&w, "delivery.pickup_alert_s", "60");
    int64_t order = paid_order(&w), other = paid_order(&w);
    int64_t a = courier(&w, "34.750500", "113.620000"),
            b = courier(&w, "34.753000", "113.620000"); /* another 200 m band */
    int64_t d = new_delivery(&w, order), e = new_delivery(&w, other);
    ck_assert_int_eq(drive(&w, d).courier_id, a);
    ck_assert_int_eq(drive(&w, e).courier_id, a); /* a holds nothing yet: the nearest band wins */
    expire(&w, e);
    ck_assert_int_eq(drive(&w, e).courier_id, b);
    ck_assert_int_eq(delivery_accept(&w.db, w.market, b, e, &out, &oid), SF_OK);
    json_decref(out);
    exec(&w, "UPDATE deliveries SET assigned_at = NOW(3) - INTERVAL 2 MINUTE WHERE id = ?", e);
    ck_assert_int_eq(delivery_watch(&w.db, &raised), DB_OK);
    ck_assert_int_eq(raised, 2); /* e: its first offer expired, and not picked up in time */
    ck_assert_int_eq(delivery_watch(&w.db, &raised), DB_OK);
    ck_assert_int_eq(raised, 0);
    /* the order cancelled: the delivery fails, the open offer withdrawn */
    delivery_step_t st;
    ck_assert_int_eq(db_begin(&w.db), DB_OK);
    ck_assert_int_eq(delivery_fail_tx(&w.db, order, "order cancelled", &st), DB_OK);
    ck_assert_int_eq(db_commit(&w.db), DB_OK);
    ck_assert_int_eq(st.result, DRIVE_FAILED);
    ck_assert_int_eq(st.ngone, 1);
    ck_assert_int_eq(q1(&w, "SELECT status = 'failed' FROM deliveries WHERE id = ?", d), 1);
    ck_assert_int_eq(open_offers(&w, d), 0);
    ck_assert_int_eq(delivery_accept(&w.db, w.market, a, d, &out, &oid), SF_E_OFFER_GONE);
    ck_assert_int_eq(delivery_counts(&w.db, &counts), DB_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(counts, "by_status"), "failed")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(counts, "by_status"), "assigned")), 1);
    json_decref(counts);
    world_close(&w);
}
END_TEST

START_TEST(test_candidates_come_by_distance_band_then_load_then_who_waited_longest)
{
    world_t w;
    courier_candidate_t c[COURIER_CANDIDATES_MAX];
    size_t n = 0;
    world_open(&w, "fair");
    int64_t o1 = paid_order(&w), o2 = paid_order(&w);
    int64_t busy = courier(&w, "34.750100", "113.620000"), recent = courier(&w, "34.750200", "113.620000");
    int64_t idle = courier(&w, "34.750300", "113.620000"), far = courier(&w, "34.760000", "113.620000");
    int64_t d1 = new_delivery(&w, o1), d2 = new_delivery(&w, o2);
    /* busy holds a delivery; recent was offered one a moment ago; idle never */
    ck_assert_int_eq(db_exec(&w.db, "UPDATE deliveries SET status = 'assigned', courier_id = ? WHERE id = ?",
                             (db_param_t[]){DB_I64(busy), DB_I64(d1)}, 2, NULL, NULL),
                     DB_OK);
    t_db_insert(
        &w.db,
        "INSERT INTO delivery_offers (delivery_id, courier_id, market_id, round, status, distance_m, expires_at)"
        " VALUES (?, ?, ?, 1, 'refused', 10, NOW(3))",
        (db_param_t[]){DB_I64(d1), DB_I64(recent), DB_I64(w.market)}, 3);
    ck_assert_int_eq(courier_candidates(&w.db, &w.redis, w.market, d2, 1, c, COURIER_CANDIDATES_MAX, &n), SF_OK);
    ck_assert_int_eq(n, 4);
    ck_assert_int_eq(c[0].id, idle);
    ck_assert_int_eq(c[1].id, recent);
    ck_assert_int_eq(c[2].id, busy);
    ck_assert_int_eq(c[3].id, far);
    ck_assert_int_eq(c[2].load, 1);
    ck_assert_int_gt(c[3].distance_m, 1000);
    /* one never offered d1 but recent: d1 excludes recent */
    ck_assert_int_eq(courier_candidates(&w.db, &w.redis, w.market, d1, 1, c, COURIER_CANDIDATES_MAX, &n), SF_OK);
    ck_assert_int_eq(n, 3);
    for (size_t i = 0; i < n; i++)
        ck_assert_int_ne(c[i].id, recent);
    world_close(&w);
}
END_TEST

static Suite *delivery_suite(void)
{
    Suite *s = suite_create("delivery");
    TCase *tc = tcase_create("delivery");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_two_couriers_accepting_at_once_one_wins_200_times);
    tcase_add_test(tc, test_an_expired_offer_cannot_be_accepted_and_goes_to_the_next_courier);
    tcase_add_test(tc, test_a_refusal_is_never_offered_again_and_grab_follows_the_rounds);
    tcase_add_test(tc, test_offline_and_off_shift_couriers_are_never_offered_and_nobody_means_back_off);
    tcase_add_test(tc, test_pickup_waits_for_every_vendor_order_and_the_code_locks_after_five_failures);
    tcase_add_test(tc, test_a_cancelled_order_fails_its_delivery_and_the_watchdog_flags_once);
    tcase_add_test(tc, test_candidates_come_by_distance_band_then_load_then_who_waited_longest);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_delivery"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tdlv_%d", (int)getpid());
    db_library_init();
    int failed = t_run(delivery_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
