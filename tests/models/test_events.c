/*
 * models/events.c against the real MariaDB and Redis of the test stack: an emit appends to
 * the party's stream and announces the same entry on EVENTS_CHANNEL in one call; reading
 * after an id is exclusive, ordered and bounded; an order's change reaches each vendor of a
 * paid order, its consumer and its courier with the data events.h promises, and the vendors
 * of an order never paid hear nothing; failures are reported, not hidden.
 *
 * Orders are written with SQL in the fixture market (no server runs); consumer ids are made
 * up per process (orders.consumer_id has no foreign key), so the parties are this run's own.
 */
#include <check.h>
#include <hiredis/hiredis.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <unistd.h>
#include "models/events.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/shop.h"

/* A party of this run: "<role>:<big number unique to the process and n>". */
static void party(char *buf, const char *role, int n, int64_t *id)
{
    int64_t v = 9000000000000LL + (int64_t)getpid() * 1000 + n;
    if (id != NULL)
        *id = v;
    ck_assert_int_eq(events_party(buf, EVENTS_PARTY_MAX, role, v), 0);
}

static void forget(redis_t *r, const char *p)
{
    redisReply *rep = redis_cmd(r, "DEL events:%s", p);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
}

/* A separate connection subscribed to EVENTS_CHANNEL, with a read timeout. */
static redisContext *subscriber(const config_t *cfg)
{
    redisContext *c = redisConnect(cfg->redis_host, cfg->redis_port);
    ck_assert(c != NULL && c->err == 0);
    if (cfg->redis_password[0] != '\0')
        freeReplyObject(redisCommand(c, "AUTH %s", cfg->redis_password));
    redisReply *rep = redisCommand(c, "SUBSCRIBE %s", EVENTS_CHANNEL);
    ck_assert(rep != NULL && rep->type == REDIS_REPLY_ARRAY);
    freeReplyObject(rep);
    struct timeval tv = {5, 0};
    redisSetTimeout(c, tv);
    return c;
}

/* The next message on the subscription for party p (others' are skipped), malloc'd. */
static char *next_notice(redisContext *c, const char *p)
{
    for (int i = 0; i < 10000; i++) {
        redisReply *rep = NULL;
        ck_assert_msg(redisGetReply(c, (void **)&rep) == REDIS_OK, "no notice came: %s", c->errstr);
        char *text = NULL;
        if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 && strncmp(rep->element[2]->str, p, strlen(p)) == 0 &&
            rep->element[2]->str[strlen(p)] == '\n')
            text = strdup(rep->element[2]->str);
        freeReplyObject(rep);
        if (text != NULL)
            return text;
    }
    ck_abort_msg("no notice for %s", p);
    return NULL;
}

START_TEST(test_an_emit_appends_to_the_stream_and_announces_the_same_entry)
{
    shop_world_t w;
    char p[EVENTS_PARTY_MAX], id[EVENTS_ID_MAX], want[256];
    shop_world_open(&w);
    party(p, "vendor", 1, NULL);
    forget(&w.redis, p);
    redisContext *sub = subscriber(&w.cfg);
    json_t *data = json_pack("{s:s, s:i}", "text", "two\nlines \"quoted\"", "n", 7);
    ck_assert_int_eq(events_emit(&w.redis, 100, p, "test.thing", data, id, sizeof(id)), 0);
    ck_assert_msg(strchr(id, '-') != NULL, "id %s", id);
    char *notice = next_notice(sub, p);
    snprintf(want, sizeof(want), "%s\n%s\ntest.thing\n{\"text\":\"two\\nlines \\\"quoted\\\"\",\"n\":7}", p, id);
    ck_assert_str_eq(notice, want);
    free(notice);
    json_t *items = NULL;
    ck_assert_int_eq(events_read(&w.redis, p, NULL, 1, 10, &items), 0);
    ck_assert_int_eq(json_array_size(items), 1);
    json_t *e = json_array_get(items, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(e, "type")), "test.thing");
    ck_assert(json_equal(json_object_get(e, "data"), data));
    json_decref(items);
    char newest[EVENTS_ID_MAX];
    ck_assert_int_eq(events_newest(&w.redis, p, newest, sizeof(newest)), 0);
    ck_assert_str_eq(newest, id);
    /* refused before Redis: a type or party with a newline, data that is not an object */
    json_t *arr = json_array();
    ck_assert_int_eq(events_emit(&w.redis, 100, p, "a\nb", data, id, sizeof(id)), -1);
    ck_assert_str_eq(id, "");
    ck_assert_int_eq(events_emit(&w.redis, 100, "vendor:1\nx", "t", data, NULL, 0), -1);
    ck_assert_int_eq(events_emit(&w.redis, 100, p, "t", arr, NULL, 0), -1);
    ck_assert_int_eq(events_read(&w.redis, p, NULL, 1, 10, &items), 0);
    ck_assert_int_eq(json_array_size(items), 1); /* none of them written */
    json_decref(items);
    json_decref(arr);
    json_decref(data);
    redisFree(sub);
    forget(&w.redis, p);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_reading_after_an_id_is_exclusive_ordered_and_bounded)
{
    shop_world_t w;
    char p[EVENTS_PARTY_MAX], ids[6][EVENTS_ID_MAX];
    json_t *items = NULL;
    shop_world_open(&w);
    party(p, "courier", 2, NULL);
    forget(&w.redis, p);
    char newest[EVENTS_ID_MAX] = "x";
    ck_assert_int_eq(events_newest(&w.redis, p, newest, sizeof(newest)), 0);
    ck_assert_str_eq(newest, ""); /* nothing yet */
    for (int i = 0; i < 6; i++) {
        json_t *d = json_pack("{s:i}", "i", i);
        ck_assert_int_eq(events_emit(&w.redis, 100, p, "test.n", d, ids[i], sizeof(ids[i])), 0);
        json_decref(d);
    }
    ck_assert_int_eq(events_read(&w.redis, p, ids[1], 0, 100, &items), 0);
    ck_assert_int_eq(json_array_size(items), 4);
    for (size_t i = 0; i < 4; i++) {
        json_t *e = json_array_get(items, i);
        ck_assert_str_eq(json_string_value(json_object_get(e, "id")), ids[i + 2]);
        ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(e, "data"), "i")), (json_int_t)i + 2);
    }
    json_decref(items);
    ck_assert_int_eq(events_read(&w.redis, p, ids[1], 0, 2, &items), 0); /* bounded */
    ck_assert_int_eq(json_array_size(items), 2);
    json_decref(items);
    ck_assert_int_eq(events_read(&w.redis, p, ids[5], 0, 100, &items), 0); /* nothing after the newest */
    ck_assert_int_eq(json_array_size(items), 0);
    json_decref(items);
    ck_assert_int_eq(events_read(&w.redis, p, "", 0, 100, &items), 0); /* no id, not from the start: none */
    ck_assert_int_eq(json_array_size(items), 0);
    json_decref(items);
    ck_assert_int_eq(events_read(&w.redis, p, NULL, 1, 100, &items), 0); /* from the oldest kept */
    ck_assert_int_eq(json_array_size(items), 6);
    json_decref(items);
    ck_assert_int_eq(events_read(&w.redis, "a\nb", NULL, 1, 100, &items), -1);
    ck_assert_ptr_null(items);
    /* the stream is capped near `keep` */
    for (int i = 0; i < 400; i++) {
        json_t *d = json_pack("{s:i}", "i", i);
        ck_assert_int_eq(events_emit(&w.redis, 10, p, "test.n", d, NULL, 0), 0);
        json_decref(d);
    }
    redisReply *len = redis_cmd(&w.redis, "XLEN events:%s", p);
    ck_assert(len != NULL && len->type == REDIS_REPLY_INTEGER);
    ck_assert_int_lt(len->integer, 400);
    freeReplyObject(len);
    forget(&w.redis, p);
    shop_world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- an order's parties */

typedef struct order_fix {
    int64_t order, consumer, vo[2], courier, delivery;
    char consumer_p[EVENTS_PARTY_MAX], vendor_p[2][EVENTS_PARTY_MAX], courier_p[EVENTS_PARTY_MAX];
    char no[40]; /* its order_no */
} order_fix_t;

/* An order of a made-up consumer with vendor orders at stalls 0 and 1 in these states. */
static void make_order(shop_world_t *w, int n, const char *status, int paid, const char *vo0, const char *vo1,
                       order_fix_t *o)
{
    memset(o, 0, sizeof(*o));
    party(o->consumer_p, "consumer", n, &o->consumer);
    snprintf(o->no, sizeof(o->no), "EV%d-%d", (int)getpid(), n);
    o->order = shop_sql(
        &w->db,
        "INSERT INTO orders (order_no, market_id, consumer_id, status, items_fen, delivery_fee_fen,"
        " payable_fen, address_id, addr_name, addr_phone, addr_text, addr_lat, addr_lng, expires_at,"
        " paid_at) VALUES (?, ?, ?, ?, 100, 0, 100, 1, 'n', '1', 't', 34.7, 113.6,"
        " NOW(3) + INTERVAL 15 MINUTE, IF(?, NOW(3), NULL))",
        (db_param_t[]){DB_STR(o->no), DB_I64(w->m.market_id), DB_I64(o->consumer), DB_STR(status), DB_I64(paid)}, 5);
    const char *st[2] = {vo0, vo1};
    for (int i = 0; i < 2; i++) {
        o->vo[i] = shop_sql(&w->db,
                            "INSERT INTO vendor_orders (order_id, market_id, stall_id, vendor_id, status, items_fen)"
                            " VALUES (?, ?, ?, ?, ?, 50)",
                            (db_param_t[]){DB_I64(o->order), DB_I64(w->m.market_id), DB_I64(w->stall[i]),
                                           DB_I64(w->vendor[i]), DB_STR(st[i])},
                            5);
        ck_assert_int_eq(events_party(o->vendor_p[i], EVENTS_PARTY_MAX, "vendor", w->vendor[i]), 0);
        forget(&w->redis, o->vendor_p[i]);
    }
    forget(&w->redis, o->consumer_p);
}

static void add_delivery(shop_world_t *w, order_fix_t *o)
{
    o->courier = shop_sql(&w->db, "INSERT INTO couriers (market_id, name, phone) VALUES (?, '李四', '13700000000')",
                          (db_param_t[]){DB_I64(w->m.market_id)}, 1);
    o->delivery = shop_sql(&w->db,
                           "INSERT INTO deliveries (market_id, order_id, status, courier_id, code)"
                           " VALUES (?, ?, 'assigned', ?, '1234')",
                           (db_param_t[]){DB_I64(w->m.market_id), DB_I64(o->order), DB_I64(o->courier)}, 3);
    ck_assert_int_eq(events_party(o->courier_p, EVENTS_PARTY_MAX, "courier", o->courier), 0);
    forget(&w->redis, o->courier_p);
}

/* The party's only event: its type and data (caller decrefs), asserting there is one. */
static json_t *only_event(shop_world_t *w, const char *p, const char *type)
{
    json_t *items = NULL;
    ck_assert_int_eq(events_read(&w->redis, p, NULL, 1, 10, &items), 0);
    ck_assert_msg(json_array_size(items) == 1, "%s has %zu events", p, json_array_size(items));
    json_t *e = json_array_get(items, 0);
    ck_assert_str_eq(json_string_value(json_object_get(e, "type")), type);
    json_t *data = json_incref(json_object_get(e, "data"));
    json_decref(items);
    return data;
}

static size_t count_events(shop_world_t *w, const char *p)
{
    json_t *items = NULL;
    ck_assert_int_eq(events_read(&w->redis, p, NULL, 1, 100, &items), 0);
    size_t n = json_array_size(items);
    json_decref(items);
    return n;
}

START_TEST(test_an_order_change_reaches_its_vendors_consumer_and_courier)
{
    shop_world_t w;
    order_fix_t o;
    shop_world_up(&w);
    make_order(&w, 10, "fulfilling", 1, "new", "accepted", &o);
    add_delivery(&w, &o);
    char other[EVENTS_PARTY_MAX];
    ck_assert_int_eq(events_party(other, sizeof(other), "vendor", w.vendor[2]), 0);
    forget(&w.redis, other);
    ck_assert_int_eq(events_order_changed(&w.db, &w.redis, 100, o.order), 0);

    json_t *d = only_event(&w, o.vendor_p[0], "vendor_order.new");
    json_t *want = json_pack("{s:I, s:s, s:I, s:s, s:s}", "order_id", (json_int_t)o.order, "order_no", o.no,
                             "vendor_order_id", (json_int_t)o.vo[0], "status", "new", "order_status", "fulfilling");
    ck_assert(json_equal(d, want));
    json_decref(d);
    json_decref(want);

    d = only_event(&w, o.vendor_p[1], "vendor_order.changed");
    want = json_pack("{s:I, s:s, s:I, s:s, s:s}", "order_id", (json_int_t)o.order, "order_no", o.no, "vendor_order_id",
                     (json_int_t)o.vo[1], "status", "accepted", "order_status", "fulfilling");
    ck_assert(json_equal(d, want));
    json_decref(d);
    json_decref(want);

    d = only_event(&w, o.consumer_p, "order.changed");
    want = json_pack("{s:I, s:s, s:s, s:s, s:[{s:I, s:s}, {s:I, s:s}]}", "order_id", (json_int_t)o.order, "order_no",
                     o.no, "status", "fulfilling", "delivery_status", "assigned", "vendor_orders", "id",
                     (json_int_t)o.vo[0], "status", "new", "id", (json_int_t)o.vo[1], "status", "accepted");
    ck_assert_msg(json_equal(d, want), "%s", json_dumps(d, JSON_COMPACT));
    json_decref(d);
    json_decref(want);

    d = only_event(&w, o.courier_p, "delivery.changed"); /* with each stall's progress */
    want = json_pack("{s:I, s:I, s:s, s:s, s:[{s:I, s:s}, {s:I, s:s}]}", "delivery_id", (json_int_t)o.delivery,
                     "order_id", (json_int_t)o.order, "order_no", o.no, "status", "assigned", "vendor_orders", "id",
                     (json_int_t)o.vo[0], "status", "new", "id", (json_int_t)o.vo[1], "status", "accepted");
    ck_assert_msg(json_equal(d, want), "%s", json_dumps(d, JSON_COMPACT));
    json_decref(d);
    json_decref(want);
    ck_assert_int_eq(count_events(&w, other), 0); /* a vendor not in the order hears nothing */
    shop_world_down(&w);
}
END_TEST

START_TEST(test_the_vendors_of_an_order_never_paid_hear_nothing)
{
    shop_world_t w;
    order_fix_t o;
    shop_world_up(&w);
    make_order(&w, 20, "cancelled", 0, "cancelled", "cancelled", &o);
    ck_assert_int_eq(events_order_changed(&w.db, &w.redis, 100, o.order), 0);
    json_t *d = only_event(&w, o.consumer_p, "order.changed");
    ck_assert_str_eq(json_string_value(json_object_get(d, "status")), "cancelled");
    ck_assert(json_is_null(json_object_get(d, "delivery_status")));
    ck_assert_int_eq(json_array_size(json_object_get(d, "vendor_orders")), 2);
    json_decref(d);
    ck_assert_int_eq(count_events(&w, o.vendor_p[0]), 0);
    ck_assert_int_eq(count_events(&w, o.vendor_p[1]), 0);
    shop_world_down(&w);
}
END_TEST

START_TEST(test_failures_are_reported)
{
    shop_world_t w;
    shop_world_open(&w);
    /* no such order: nothing emitted, -1 with the reason */
    ck_assert_int_eq(events_order_changed(&w.db, &w.redis, 100, 9000000000000000LL), -1);
    ck_assert_msg(strstr(w.redis.err, "no such order") != NULL, "%s", w.redis.err);
    /* Redis away */
    config_t cfg = w.cfg;
    cfg.redis_port = t_free_port();
    redis_t down;
    redis_open(&down, &cfg);
    json_t *d = json_object();
    char id[EVENTS_ID_MAX] = "x", p[EVENTS_PARTY_MAX];
    party(p, "vendor", 30, NULL);
    ck_assert_int_eq(events_emit(&down, 100, p, "t", d, id, sizeof(id)), -1);
    ck_assert_str_eq(id, "");
    json_t *items = NULL;
    ck_assert_int_eq(events_read(&down, p, "1-1", 0, 10, &items), -1);
    ck_assert_ptr_null(items);
    json_decref(d);
    redis_close(&down);
    shop_world_down(&w);
}
END_TEST

int main(void)
{
    if (!t_env_present(t_db_env, "test_events"))
        return 1;
    Suite *s = suite_create("events");
    TCase *tc = tcase_create("events");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, t_migrate, NULL);
    tcase_add_test(tc, test_an_emit_appends_to_the_stream_and_announces_the_same_entry);
    tcase_add_test(tc, test_reading_after_an_id_is_exclusive_ordered_and_bounded);
    tcase_add_test(tc, test_an_order_change_reaches_its_vendors_consumer_and_courier);
    tcase_add_test(tc, test_the_vendors_of_an_order_never_paid_hear_nothing);
    tcase_add_test(tc, test_failures_are_reported);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
