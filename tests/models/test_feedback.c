/*
 * models/feedback.c against a scratch database of its own (sf_tfeedback_<pid>_<tag>, swept
 * by main). Orders are written with SQL in the state a test needs (delivered, with or
 * without a courier, a stall that rejected it), as the fulfilment and delivery parts will
 * leave them. Covers: a rating written whole (rows, stall sums, the answer as stored) and only
 * once, also when ratings race; every refusal leaving nothing behind (not delivered, another
 * consumer's, a stall that did not serve the order, a courier score without a courier); text
 * kept as written; a stall's ratings paged newest first with ties; complaints filed, listed
 * per consumer and per market, resolved once, and confined to their market.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/base/cursor.h"
#include "models/base/sqltime.h"
#include "models/feedback.h"
#include "models/store/db.h"
#include "models/store/migrate.h"
#include "tests/support/dbtest.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

/* ================================================================ fixtures */

/* Two markets; three stalls with vendors in the first, one in the second; a courier. */
typedef struct world {
    config_t cfg;
    db_t db;
    int64_t market, other_market, stall[3], other_stall, courier;
    int seq; /* order numbers */
} world_t;

/* The row was written at the time the answer shows. */
#define SQL_CREATED_AT_IS SQL_AT_0800("created_at") " = ?"

enum { ME = 501, YOU = 502 }; /* consumers: orders and ratings refer to users by id only */

static int64_t q1(world_t *w, const char *sql, int64_t arg)
{
    return t_db_i64(&w->db, sql, (db_param_t[]){DB_I64(arg)}, strstr(sql, "?") != NULL ? 1 : 0);
}

static int64_t add_market(db_t *db, const char *code)
{
    return t_db_insert(
        db,
        "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
        " VALUES (?, '市场', 'addr', 34.750000, 113.620000, '410103', '', '[]', '', '6-20')",
        (db_param_t[]){DB_STR(code)}, 1);
}

static int64_t add_stall(db_t *db, int64_t market, const char *no)
{
    int64_t vendor = t_db_insert(db,
                                 "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                                 " VALUES (?, '张三', '13900000000', '蔬菜', 'A')",
                                 (db_param_t[]){DB_I64(market)}, 1);
    return t_db_insert(
        db, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 1, 2, ?)",
        (db_param_t[]){DB_I64(market), DB_STR(no), DB_I64(vendor)}, 3);
}

static void world_open(world_t *w, const char *tag)
{
    char err[512];
    memset(w, 0, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    w->market = add_market(&w->db, "m1");
    w->other_market = add_market(&w->db, "m2");
    w->stall[0] = add_stall(&w->db, w->market, "A-01");
    w->stall[1] = add_stall(&w->db, w->market, "A-02");
    w->stall[2] = add_stall(&w->db, w->market, "B-01");
    w->other_stall = add_stall(&w->db, w->other_market, "A-01");
    w->courier = t_db_insert(&w->db, "INSERT INTO couriers (market_id, name, phone) VALUES (?, '骑手', '13700000000')",
                             (db_param_t[]){DB_I64(w->market)}, 1);
}

static void world_close(world_t *w)
{
    t_db_scratch_close(&w->db, &w->cfg);
}

/* An order of `consumer` from stalls[0..n) of the market, in `status`, its vendor orders in
 * vo_status (the first stall's in first_status when not NULL), with a delivery (status
 * delivery, held by the courier when courier is set) unless delivery is NULL. Its id. */
typedef struct order_spec {
    int64_t consumer;
    const int64_t *stalls;
    size_t n;
    const char *status, *vo_status, *first_status, *delivery;
    int courier;
} order_spec_t;

static int64_t add_order(world_t *w, const order_spec_t *s)
{
    char no[32];
    snprintf(no, sizeof(no), "SF%d", ++w->seq);
    int64_t id =
        t_db_insert(&w->db,
                    "INSERT INTO orders (order_no, market_id, consumer_id, status, items_fen, delivery_fee_fen,"
                    " payable_fen, paid_fen, address_id, addr_name, addr_phone, addr_text, addr_lat, addr_lng,"
                    " expires_at) VALUES (?, ?, ?, ?, 1000, 500, 1500, 1500, 1, '王五', '138', '郑州', 34.75,"
                    " 113.62, NOW(3))",
                    (db_param_t[]){DB_STR(no), DB_I64(w->market), DB_I64(s->consumer), DB_STR(s->status)}, 4);
    for (size_t i = 0; i < s->n; i++) {
        const char *st = i == 0 && s->first_status != NULL ? s->first_status : s->vo_status;
        t_db_insert(&w->db,
                    "INSERT INTO vendor_orders (order_id, market_id, stall_id, vendor_id, status, items_fen)"
                    " SELECT ?, market_id, id, vendor_id, ?, 1000 FROM stalls WHERE id = ?",
                    (db_param_t[]){DB_I64(id), DB_STR(st), DB_I64(s->stalls[i])}, 3);
    }
    if (s->delivery != NULL)
        t_db_insert(
            &w->db,
            "INSERT INTO deliveries (market_id, order_id, status, courier_id, code) VALUES (?, ?, ?, ?, '1234')",
            (db_param_t[]){DB_I64(w->market), DB_I64(id), DB_STR(s->delivery),
                           s->courier ? DB_I64(w->courier) : DB_NULL},
            4);
    return id;
}

/* A delivered order of `consumer` from the market's three stalls, carried by the courier. */
static int64_t delivered(world_t *w, int64_t consumer)
{
    order_spec_t s = {consumer, w->stall, 3, "delivered", "handed_over", NULL, "delivered", 1};
    return add_order(w, &s);
}

static feedback_rating_t rating(int64_t consumer, int64_t order, const feedback_stall_score_t *s, size_t n, int courier)
{
    return (feedback_rating_t){
        .consumer_id = consumer, .order_id = order, .stalls = s, .nstalls = n, .courier_score = courier};
}

static int64_t rows_in(world_t *w, const char *table)
{
    char sql[96];
    snprintf(sql, sizeof(sql), "SELECT COUNT(*) FROM %s", table);
    return q1(w, sql, 0);
}

static int64_t stall_sum(world_t *w, int64_t stall)
{
    return q1(w, "SELECT rating_sum FROM stalls WHERE id = ?", stall);
}

static int64_t stall_count(world_t *w, int64_t stall)
{
    return q1(w, "SELECT rating_count FROM stalls WHERE id = ?", stall);
}

/* Nothing of any rating was written, and no stall's sums moved. */
static void no_rating_written(world_t *w)
{
    ck_assert_int_eq(rows_in(w, "order_ratings"), 0);
    ck_assert_int_eq(rows_in(w, "stall_ratings"), 0);
    ck_assert_int_eq(q1(w, "SELECT COUNT(*) FROM stalls WHERE rating_sum <> 0 OR rating_count <> 0", 0), 0);
}

/* ================================================================ rating */

START_TEST(test_a_delivered_order_is_rated_once_and_the_stall_sums_rise)
{
    world_t w;
    status_detail_t d = {0};
    json_t *out = NULL;
    int64_t market = 0;
    world_open(&w, "rate");
    int64_t order = delivered(&w, ME);
    feedback_stall_score_t s[] = {{w.stall[2], 4, "新鲜"}, {w.stall[0], 5, NULL}};
    feedback_rating_t in = rating(ME, order, s, 2, 3);
    ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_OK);
    ck_assert_int_eq(market, w.market);
    /* the answer is what is stored */
    ck_assert_int_eq(json_integer_value(json_object_get(out, "order_id")), order);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "courier_score")), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "courier_id")), w.courier);
    json_t *stalls = json_object_get(out, "stalls");
    ck_assert_int_eq(json_array_size(stalls), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(stalls, 0), "stall_id")), w.stall[2]);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(stalls, 0), "score")), 4);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(stalls, 0), "text")), "新鲜");
    ck_assert(json_is_null(json_object_get(json_array_get(stalls, 1), "text")));
    const char *at = json_string_value(json_object_get(out, "created_at"));
    ck_assert_ptr_nonnull(at);
    ck_assert_int_eq(strlen(at), 29); /* 2026-11-30T08:14:05.123+08:00 */
    ck_assert_ptr_nonnull(strstr(at, "+08:00"));
    ck_assert_int_eq(
        t_db_i64(&w.db,
                 "SELECT COUNT(*) FROM order_ratings WHERE order_id = ? AND consumer_id = ? AND courier_id = ?"
                 " AND courier_score = 3 AND market_id = ? AND " SQL_CREATED_AT_IS,
                 (db_param_t[]){DB_I64(order), DB_I64(ME), DB_I64(w.courier), DB_I64(w.market), DB_STR(at)}, 5),
        1);
    ck_assert_int_eq(
        t_db_i64(&w.db,
                 "SELECT COUNT(*) FROM stall_ratings WHERE order_id = ? AND consumer_id = ? AND market_id = ?"
                 " AND ((stall_id = ? AND score = 4 AND text = '新鲜') OR (stall_id = ? AND score = 5 AND"
                 " text IS NULL)) AND " SQL_CREATED_AT_IS,
                 (db_param_t[]){DB_I64(order), DB_I64(ME), DB_I64(w.market), DB_I64(w.stall[2]), DB_I64(w.stall[0]),
                                DB_STR(at)},
                 6),
        2);
    ck_assert_int_eq(stall_sum(&w, w.stall[2]), 4);
    ck_assert_int_eq(stall_count(&w, w.stall[2]), 1);
    ck_assert_int_eq(stall_sum(&w, w.stall[0]), 5);
    ck_assert_int_eq(stall_count(&w, w.stall[0]), 1);
    ck_assert_int_eq(stall_count(&w, w.stall[1]), 0); /* not rated */
    json_decref(out);
    /* a second rating, even of the third stall only, is refused and moves nothing */
    feedback_stall_score_t again[] = {{w.stall[1], 1, NULL}};
    in = rating(ME, order, again, 1, 0);
    ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_E_ALREADY_RATED);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(rows_in(&w, "stall_ratings"), 2);
    ck_assert_int_eq(stall_count(&w, w.stall[1]), 0);
    ck_assert_int_eq(stall_sum(&w, w.stall[2]), 4);
    /* a second order adds to the sums */
    order = delivered(&w, ME);
    feedback_stall_score_t more[] = {{w.stall[2], 1, ""}};
    in = rating(ME, order, more, 1, 0);
    ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_OK);
    ck_assert(json_is_null(json_object_get(out, "courier_score")));
    json_decref(out);
    ck_assert_int_eq(stall_sum(&w, w.stall[2]), 5);
    ck_assert_int_eq(stall_count(&w, w.stall[2]), 2);
    ck_assert(q1(&w, "SELECT courier_score IS NULL FROM order_ratings WHERE order_id = ?", order));
    status_detail_clear(&d);
    world_close(&w);
}
END_TEST

START_TEST(test_an_order_not_delivered_is_not_rated_and_nothing_is_written)
{
    static const struct {
        const char *order, *vo, *delivery;
    } states[] = {{"pending_payment", "pending_payment", NULL},
                  {"paid", "new", NULL},
                  {"fulfilling", "accepted", NULL},
                  {"ready", "ready", "assigned"},
                  {"delivering", "handed_over", "picked_up"},
                  {"cancelled", "cancelled", NULL},
                  {"delivering", "handed_over", "delivered"}}; /* the order's status decides */
    world_t w;
    status_detail_t d = {0};
    json_t *out = NULL;
    int64_t market = 0;
    world_open(&w, "early");
    feedback_stall_score_t s[] = {{0, 5, NULL}};
    s[0].stall_id = w.stall[0];
    for (size_t i = 0; i < sizeof(states) / sizeof(states[0]); i++) {
        order_spec_t spec = {ME, w.stall, 2, states[i].order, states[i].vo, NULL, states[i].delivery, 1};
        int64_t order = add_order(&w, &spec);
        feedback_rating_t in = rating(ME, order, s, 1, 0);
        ck_assert_msg(feedback_rate(&w.db, &in, &market, &out, &d) == SF_E_NOT_DELIVERED, "%s", states[i].order);
        ck_assert_ptr_null(out);
    }
    no_rating_written(&w);
    status_detail_clear(&d);
    world_close(&w);
}
END_TEST

START_TEST(test_another_consumers_order_is_not_found_and_nothing_is_written)
{
    world_t w;
    status_detail_t d = {0};
    json_t *out = NULL;
    int64_t market = 0;
    world_open(&w, "foreign");
    int64_t order = delivered(&w, ME);
    feedback_stall_score_t s[] = {{0, 5, NULL}};
    s[0].stall_id = w.stall[0];
    feedback_rating_t in = rating(YOU, order, s, 1, 0);
    ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_E_NOT_FOUND);
    in = rating(ME, order + 1000, s, 1, 0); /* no such order */
    ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_E_NOT_FOUND);
    ck_assert_ptr_null(out);
    no_rating_written(&w);
    /* its consumer still may */
    in = rating(ME, order, s, 1, 0);
    ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_OK);
    json_decref(out);
    status_detail_clear(&d);
    world_close(&w);
}
END_TEST

START_TEST(test_a_stall_that_did_not_serve_the_order_is_refused_by_its_place)
{
    world_t w;
    status_detail_t d = {0};
    json_t *out = NULL;
    int64_t market = 0;
    world_open(&w, "stalls");
    /* stalls 0 and 1; stall 0 rejected its part */
    order_spec_t spec = {ME, w.stall, 2, "delivered", "handed_over", "rejected", "delivered", 0};
    int64_t order = add_order(&w, &spec);
    const int64_t wrong[] = {w.stall[0], w.stall[2], w.other_stall, 99999};
    for (size_t i = 0; i < 4; i++) {
        feedback_stall_score_t s[] = {{w.stall[1], 5, NULL}, {wrong[i], 3, NULL}};
        feedback_rating_t in = rating(ME, order, s, 2, 0);
        ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_E_INVALID);
        ck_assert_str_eq(d.field, "stalls[1].stall_id");
        status_detail_clear(&d);
    }
    /* a courier score when no courier carried it */
    feedback_stall_score_t ok[] = {{w.stall[1], 5, NULL}};
    feedback_rating_t in = rating(ME, order, ok, 1, 4);
    ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_E_INVALID);
    ck_assert_str_eq(d.field, "courier_score");
    status_detail_clear(&d);
    /* no stalls at all, or too many */
    in = rating(ME, order, ok, 0, 0);
    ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_E_INVALID);
    status_detail_clear(&d);
    ck_assert_ptr_null(out);
    no_rating_written(&w);
    in = rating(ME, order, ok, 1, 0);
    ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_OK);
    ck_assert(json_is_null(json_object_get(out, "courier_id")));
    json_decref(out);
    world_close(&w);
}
END_TEST

/* ---------------------------------------------------------------- racing ratings */

typedef struct racer {
    world_t *w;
    int64_t order;
    int score;
    sf_status_t rc;
} racer_t;

static pthread_barrier_t start;

static void *race(void *arg)
{
    racer_t *r = arg;
    db_t db;
    json_t *out = NULL;
    int64_t market = 0;
    status_detail_t d = {0};
    feedback_stall_score_t s[] = {{r->w->stall[0], r->score, NULL}, {r->w->stall[1], r->score, NULL}};
    feedback_rating_t in = rating(ME, r->order, s, 2, r->score);
    db_thread_init();
    r->rc = db_open(&db, &r->w->cfg);
    pthread_barrier_wait(&start);
    if (r->rc == DB_OK) {
        r->rc = feedback_rate(&db, &in, &market, &out, &d);
        json_decref(out);
        status_detail_clear(&d);
        db_close(&db);
    }
    db_thread_end();
    return NULL;
}

#define RACERS 4
#define ROUNDS 10

START_TEST(test_ratings_racing_for_one_order_commit_exactly_one)
{
    world_t w;
    world_open(&w, "race");
    int64_t sum = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int64_t order = delivered(&w, ME);
        racer_t r[RACERS];
        pthread_t t[RACERS];
        ck_assert_int_eq(pthread_barrier_init(&start, NULL, RACERS), 0);
        for (int i = 0; i < RACERS; i++) {
            r[i] = (racer_t){.w = &w, .order = order, .score = i + 1};
            ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
        }
        int won = 0, lost = 0, score = 0;
        for (int i = 0; i < RACERS; i++) {
            pthread_join(t[i], NULL);
            ck_assert_msg(r[i].rc == SF_OK || r[i].rc == SF_E_ALREADY_RATED, "racer %d: %d", i, r[i].rc);
            if (r[i].rc == SF_OK) {
                won++;
                score = r[i].score;
            }
            lost += r[i].rc == SF_E_ALREADY_RATED;
        }
        pthread_barrier_destroy(&start);
        ck_assert_int_eq(won, 1);
        ck_assert_int_eq(lost, RACERS - 1);
        sum += score;
        /* the winner's rows only */
        ck_assert_int_eq(q1(&w, "SELECT COUNT(*) FROM stall_ratings WHERE order_id = ?", order), 2);
        ck_assert_int_eq(q1(&w, "SELECT SUM(score) FROM stall_ratings WHERE order_id = ?", order), 2 * score);
        ck_assert_int_eq(q1(&w, "SELECT courier_score FROM order_ratings WHERE order_id = ?", order), score);
    }
    ck_assert_int_eq(stall_count(&w, w.stall[0]), ROUNDS);
    ck_assert_int_eq(stall_count(&w, w.stall[1]), ROUNDS);
    ck_assert_int_eq(stall_sum(&w, w.stall[0]), sum);
    ck_assert_int_eq(stall_sum(&w, w.stall[1]), sum);
    ck_assert_int_eq(stall_count(&w, w.stall[2]), 0);
    world_close(&w);
}
END_TEST

/* ---------------------------------------------------------------- a stall's ratings */

/* Reads a whole page; *cursor gets the next one's ("" at the end). */
static json_t *ratings_page(world_t *w, int64_t stall, char *cursor, size_t limit)
{
    int64_t ms = 0, order = 0;
    json_t *items = NULL;
    char next[FEEDBACK_CURSOR_MAX];
    if (cursor[0] != '\0')
        ck_assert_int_eq(cursor_decode(cursor, FEEDBACK_KIND_RATINGS, &ms, &order), 0);
    ck_assert_int_eq(feedback_stall_ratings(&w->db, stall, ms, order, limit, &items, next, sizeof(next)), SF_OK);
    snprintf(cursor, FEEDBACK_CURSOR_MAX, "%s", next);
    return items;
}

START_TEST(test_a_stalls_ratings_are_paged_newest_first_without_the_consumer)
{
    static const char *const texts[] = {"第一", "line one\nline two\ttab", "引号 \"q\" 和 \\ 反斜杠", "emoji 🍅🥬",
                                        NULL};
    world_t w;
    status_detail_t d = {0};
    json_t *out = NULL;
    int64_t market = 0, orders[5];
    world_open(&w, "page");
    for (int i = 0; i < 5; i++) {
        orders[i] = delivered(&w, i % 2 ? ME : YOU);
        feedback_stall_score_t s[] = {{w.stall[0], i + 1, texts[i]}};
        feedback_rating_t in = rating(i % 2 ? ME : YOU, orders[i], s, 1, 0);
        ck_assert_int_eq(feedback_rate(&w.db, &in, &market, &out, &d), SF_OK);
        json_decref(out);
    }
    /* orders 1 and 2 were rated at the same millisecond: the later order comes first */
    ck_assert_int_eq(
        db_exec(&w.db,
                "UPDATE stall_ratings SET created_at = '2026-12-01 10:00:00.000' + INTERVAL order_id SECOND"
                " WHERE order_id IN (?, ?, ?, ?, ?)",
                (db_param_t[]){DB_I64(orders[0]), DB_I64(orders[1]), DB_I64(orders[2]), DB_I64(orders[3]),
                               DB_I64(orders[4])},
                5, NULL, NULL),
        DB_OK);
    ck_assert_int_eq(db_exec(&w.db,
                             "UPDATE stall_ratings SET created_at = '2026-12-01 09:00:00.123' WHERE order_id IN (?, ?)",
                             (db_param_t[]){DB_I64(orders[1]), DB_I64(orders[2])}, 2, NULL, NULL),
                     DB_OK);
    /* expected: 4, 3, 0 (by time), then 2, 1 (tied, by order) */
    const int want[] = {4, 3, 0, 2, 1};
    char cursor[FEEDBACK_CURSOR_MAX] = "";
    int seen = 0;
    for (int page = 0; page < 4 && (page == 0 || cursor[0] != '\0'); page++) {
        json_t *items = ratings_page(&w, w.stall[0], cursor, 2);
        for (size_t i = 0; i < json_array_size(items); i++, seen++) {
            json_t *o = json_array_get(items, i);
            ck_assert_int_lt(seen, 5);
            ck_assert_int_eq(json_integer_value(json_object_get(o, "score")), want[seen] + 1);
            if (texts[want[seen]] != NULL)
                ck_assert_str_eq(json_string_value(json_object_get(o, "text")), texts[want[seen]]);
            else
                ck_assert(json_is_null(json_object_get(o, "text")));
            ck_assert_ptr_nonnull(json_string_value(json_object_get(o, "created_at")));
            ck_assert_int_eq(json_object_size(o), 3); /* no consumer, no order */
        }
        json_decref(items);
    }
    ck_assert_int_eq(seen, 5);
    ck_assert_str_eq(cursor, "");
    /* a stall without ratings, and one page holding all */
    json_t *items = ratings_page(&w, w.stall[1], cursor, 20);
    ck_assert_int_eq(json_array_size(items), 0);
    json_decref(items);
    items = ratings_page(&w, w.stall[0], cursor, 5);
    ck_assert_int_eq(json_array_size(items), 5);
    ck_assert_str_eq(cursor, "");
    json_decref(items);
    status_detail_clear(&d);
    world_close(&w);
}
END_TEST

/* ================================================================ complaints */

static feedback_complaint_t complaint(int64_t consumer, int64_t order, int64_t stall, const char *text)
{
    return (feedback_complaint_t){.consumer_id = consumer, .order_id = order, .stall_id = stall, .text = text};
}

START_TEST(test_a_complaint_is_filed_in_the_stalls_market_and_checked_against_the_order)
{
    world_t w;
    status_detail_t d = {0};
    json_t *out = NULL;
    world_open(&w, "complain");
    order_spec_t spec = {ME, w.stall, 2, "cancelled", "rejected", NULL, NULL, 0};
    int64_t order = add_order(&w, &spec);
    feedback_complaint_t in = complaint(ME, order, w.stall[1], "缺斤少两\n第二行");
    ck_assert_int_eq(feedback_complain(&w.db, &in, &out, &d), SF_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "order_id")), order);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "stall_id")), w.stall[1]);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "market_id")), w.market);
    ck_assert_str_eq(json_string_value(json_object_get(out, "stall_no")), "A-02");
    ck_assert_str_eq(json_string_value(json_object_get(out, "text")), "缺斤少两\n第二行");
    ck_assert_str_eq(json_string_value(json_object_get(out, "status")), "open");
    ck_assert(json_is_null(json_object_get(out, "resolution")));
    ck_assert(json_is_null(json_object_get(out, "resolved_at")));
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    /* the stored row is what was answered */
    json_t *items = NULL;
    char next[FEEDBACK_CURSOR_MAX];
    ck_assert_int_eq(feedback_complaints_of(&w.db, ME, 0, 10, &items, next, sizeof(next)), SF_OK);
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), id);
    json_decref(items);
    /* without an order: the stall's own market, also another market's stall */
    in = complaint(YOU, 0, w.other_stall, "态度差");
    ck_assert_int_eq(feedback_complain(&w.db, &in, &out, &d), SF_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "market_id")), w.other_market);
    ck_assert(json_is_null(json_object_get(out, "order_id")));
    json_decref(out);
    /* refusals, nothing written */
    in = complaint(YOU, order, w.stall[1], "x"); /* not YOU's order */
    ck_assert_int_eq(feedback_complain(&w.db, &in, &out, &d), SF_E_NOT_FOUND);
    in = complaint(ME, order + 99, w.stall[1], "x"); /* no such order */
    ck_assert_int_eq(feedback_complain(&w.db, &in, &out, &d), SF_E_NOT_FOUND);
    in = complaint(ME, order, w.stall[2], "x"); /* not a stall of the order */
    ck_assert_int_eq(feedback_complain(&w.db, &in, &out, &d), SF_E_UNKNOWN_STALL);
    ck_assert_str_eq(d.field, "stall_id");
    status_detail_clear(&d);
    in = complaint(ME, 0, 999999, "x"); /* no such stall */
    ck_assert_int_eq(feedback_complain(&w.db, &in, &out, &d), SF_E_UNKNOWN_STALL);
    ck_assert_str_eq(d.field, "stall_id");
    status_detail_clear(&d);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(rows_in(&w, "complaints"), 2);
    world_close(&w);
}
END_TEST

START_TEST(test_complaints_are_listed_per_consumer_and_per_market_and_resolved_once)
{
    world_t w;
    status_detail_t d = {0};
    json_t *out = NULL, *items = NULL;
    char next[FEEDBACK_CURSOR_MAX];
    int64_t ids[5], key = 0, after = 0;
    world_open(&w, "resolve");
    for (int i = 0; i < 5; i++) {
        feedback_complaint_t in = complaint(i < 3 ? ME : YOU, 0, w.stall[i % 3], "问题");
        ck_assert_int_eq(feedback_complain(&w.db, &in, &out, &d), SF_OK);
        ids[i] = json_integer_value(json_object_get(out, "id"));
        json_decref(out);
    }
    feedback_complaint_t elsewhere = complaint(ME, 0, w.other_stall, "别处");
    ck_assert_int_eq(feedback_complain(&w.db, &elsewhere, &out, &d), SF_OK);
    int64_t other_id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    /* mine, newest first, in pages of two */
    ck_assert_int_eq(feedback_complaints_of(&w.db, ME, 0, 2, &items, next, sizeof(next)), SF_OK);
    ck_assert_int_eq(json_array_size(items), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), other_id);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 1), "id")), ids[2]);
    json_decref(items);
    ck_assert_int_eq(cursor_decode(next, FEEDBACK_KIND_MINE, &key, &after), 0);
    ck_assert_int_eq(feedback_complaints_of(&w.db, ME, after, 2, &items, next, sizeof(next)), SF_OK);
    ck_assert_int_eq(json_array_size(items), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 1), "id")), ids[0]);
    json_decref(items);
    ck_assert_str_eq(next, ""); /* the last page says so: no empty page after it */
    /* the market's: five, not the other market's */
    ck_assert_int_eq(feedback_complaints_in(&w.db, w.market, 0, NULL, 0, 100, &items, next, sizeof(next)), SF_OK);
    ck_assert_int_eq(json_array_size(items), 5);
    ck_assert_str_eq(next, "");
    json_decref(items);
    /* resolve one: another market cannot, twice is refused */
    ck_assert_int_eq(feedback_resolve(&w.db, w.other_market, 77, ids[1], "不是你的", &out, &d), SF_E_NOT_FOUND);
    ck_assert_int_eq(feedback_resolve(&w.db, w.market, 77, ids[4] + 1000, "none", &out, &d), SF_E_NOT_FOUND);
    ck_assert_int_eq(q1(&w, "SELECT status = 'open' AND resolution IS NULL FROM complaints WHERE id = ?", ids[1]), 1);
    ck_assert_int_eq(feedback_resolve(&w.db, w.market, 77, ids[1], "已退款并警告摊主", &out, &d), SF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "status")), "resolved");
    ck_assert_str_eq(json_string_value(json_object_get(out, "resolution")), "已退款并警告摊主");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(out, "resolved_at")));
    ck_assert_str_eq(json_string_value(json_object_get(out, "stall_no")), "A-02");
    json_decref(out);
    ck_assert_int_eq(q1(&w, "SELECT resolved_by FROM complaints WHERE id = ?", ids[1]), 77);
    ck_assert_int_eq(feedback_resolve(&w.db, w.market, 78, ids[1], "again", &out, &d), SF_E_ALREADY_RESOLVED);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(q1(&w, "SELECT resolved_by FROM complaints WHERE id = ?", ids[1]), 77);
    /* the filter */
    ck_assert_int_eq(feedback_complaints_in(&w.db, w.market, 0, "resolved", 0, 100, &items, next, sizeof(next)), SF_OK);
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), ids[1]);
    json_decref(items);
    ck_assert_int_eq(feedback_complaints_in(&w.db, w.market, 0, "open", 0, 100, &items, next, sizeof(next)), SF_OK);
    ck_assert_int_eq(json_array_size(items), 4);
    json_decref(items);
    status_detail_clear(&d);
    world_close(&w);
}
END_TEST

static Suite *feedback_suite(void)
{
    Suite *s = suite_create("feedback");
    TCase *tc = tcase_create("feedback");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_a_delivered_order_is_rated_once_and_the_stall_sums_rise);
    tcase_add_test(tc, test_an_order_not_delivered_is_not_rated_and_nothing_is_written);
    tcase_add_test(tc, test_another_consumers_order_is_not_found_and_nothing_is_written);
    tcase_add_test(tc, test_a_stall_that_did_not_serve_the_order_is_refused_by_its_place);
    tcase_add_test(tc, test_ratings_racing_for_one_order_commit_exactly_one);
    tcase_add_test(tc, test_a_stalls_ratings_are_paged_newest_first_without_the_consumer);
    tcase_add_test(tc, test_a_complaint_is_filed_in_the_stalls_market_and_checked_against_the_order);
    tcase_add_test(tc, test_complaints_are_listed_per_consumer_and_per_market_and_resolved_once);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_feedback"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tfeedback_%d", (int)getpid());
    db_library_init();
    int failed = t_run(feedback_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
