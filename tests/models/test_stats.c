/*
 * models/stats.c and models/report.c against a scratch database of their own
 * (sf_tstats_<pid>_<tag>, swept by main): sale_lines rows are written directly (the salelog
 * engineer's code writes them in the product), generated from a fixed seed with void lines,
 * cancelled orders, weight and count, days around the +08:00 midnight, repeat consumers and a
 * second market whose stall numbers collide with the first's. Every figure is checked against
 * what the test computes itself from the rows it generated (in C: kpi_compute over its own
 * records, and sums by hand) and, for the KPIs, against SQL aggregates written here.
 */
#include <check.h>
#include <openssl/evp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/kpi.h"
#include "models/report.h"
#include "models/stats.h"
#include "models/store/db.h"
#include "models/store/migrate.h"
#include "tests/support/dbtest.h"
#include "tests/support/testutil.h"

#define NO      KPI_NO_TIME
#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL
#define MAXL    2000

static char run_prefix[48];

/* ---- the world ------------------------------------------------------------------------- */

typedef struct stall {
    int64_t id, vendor;
    const char *no, *vendor_name;
} stall_t;

typedef struct line {
    int64_t event, version, market;
    int stall; /* index into the market's stalls */
    int is_void, weight;
    char order_no[33], consumer[33];
    int64_t order_id, qty, qty_actual, amount, refunded, paid, ready, delivered, product;
    const char *category, *code;
} line_t;

typedef struct world {
    config_t cfg;
    db_t db;
    int64_t m, n;      /* the market of the test, the other one */
    stall_t ms[4], ns; /* M, B-01, C-01 (never sells); N: A-01 */
    line_t l[MAXL];
    size_t nl;
    int64_t next_event, next_order;
    uint64_t seed;
} world_t;

static uint32_t rnd(world_t *w, uint32_t n)
{
    w->seed = w->seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(w->seed >> 33) % n;
}

static void exec(db_t *db, const char *sql, const db_param_t *p, size_t n, uint64_t *id)
{
    ck_assert_msg(db_exec(db, sql, p, n, NULL, id) == DB_OK, "`%s`: %s", sql, db->err);
}

static int64_t add_market(db_t *db, const char *code)
{
    uint64_t id = 0;
    exec(db,
         "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
         " VALUES (?, '市场', 'addr', 34.75, 113.62, '410103', '', '[]', '', '6:00-20:00')",
         (db_param_t[]){DB_STR(code)}, 1, &id);
    exec(db,
         "INSERT INTO categories (market_id, code, name, commodity_code) VALUES (?, 'veg', '蔬菜', 'A01'),"
         " (?, 'meat', '肉类', 'B01'), (?, 'egg', '蛋类', 'C01')",
         (db_param_t[]){DB_I64(id), DB_I64(id), DB_I64(id)}, 3, NULL);
    return (int64_t)id;
}

static void add_stall(db_t *db, int64_t market, const char *no, const char *vendor, stall_t *s)
{
    uint64_t v = 0, id = 0;
    exec(db,
         "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
         " VALUES (?, ?, '13800000000', '蔬菜', 'A')",
         (db_param_t[]){DB_I64(market), DB_STR(vendor)}, 2, &v);
    exec(db, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 1, 1, ?)",
         (db_param_t[]){DB_I64(market), DB_STR(no), DB_I64((int64_t)v)}, 3, &id);
    s->id = (int64_t)id;
    s->vendor = (int64_t)v;
    s->no = no;
    s->vendor_name = vendor;
}

static world_t *world_up(const char *tag)
{
    char err[512];
    world_t *w = calloc(1, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    w->m = add_market(&w->db, "m");
    w->n = add_market(&w->db, "n");
    add_stall(&w->db, w->m, "A-01", "张三", &w->ms[0]);
    add_stall(&w->db, w->m, "A-02", "李四", &w->ms[1]);
    add_stall(&w->db, w->m, "B-01", "王五", &w->ms[2]);
    add_stall(&w->db, w->m, "C-01", "赵六", &w->ms[3]);
    add_stall(&w->db, w->n, "A-01", "钱七", &w->ns);
    w->next_event = 1000;
    w->next_order = 1;
    w->seed = 20261130;
    return w;
}

static void world_down(world_t *w)
{
    t_db_scratch_close(&w->db, &w->cfg);
    free(w);
}

static const stall_t *stall_of(const world_t *w, const line_t *l)
{
    return l->market == w->m ? &w->ms[l->stall] : &w->ns;
}

/* UTC 'YYYY-MM-DD HH:MM:SS.mmm' of Unix ms, or NULL for NO. */
static const char *sqltime(int64_t ms, char *buf)
{
    if (ms == NO)
        return NULL;
    time_t t = (time_t)(ms / 1000);
    struct tm tm;
    gmtime_r(&t, &tm);
    size_t k = strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(buf + k, 32 - k, ".%03lld", (long long)(ms % 1000));
    return buf;
}

static db_param_t opt_time(int64_t ms, char *buf)
{
    return ms == NO ? DB_NULL : DB_STR(sqltime(ms, buf));
}

static void insert_line(world_t *w, const line_t *l)
{
    char p[32], r[32], d[32];
    const stall_t *s = stall_of(w, l);
    exec(&w->db,
         "INSERT INTO sale_lines (event_id, market_id, paid_date, version, op, order_id, order_no, vendor_order_id,"
         " stall_id, stall_no, vendor_id, product_id, category, commodity_code, name, pricing_mode, price_fen, per_g,"
         " unit, qty, qty_actual, amount_fen, refunded_fen, consumer_ref, paid_at, ready_at, delivered_at, changed_at)"
         " VALUES (?, ?, DATE(CAST(? AS DATETIME(3)) + INTERVAL 8 HOUR), ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, '菜', ?, 100,"
         " ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NOW(3))",
         (db_param_t[]){DB_I64(l->event),
                        DB_I64(l->market),
                        DB_STR(sqltime(l->paid, p)),
                        DB_I64(l->version),
                        DB_STR(l->is_void ? "void" : "upsert"),
                        DB_I64(l->order_id),
                        DB_STR(l->order_no),
                        DB_I64(l->order_id * 10 + l->stall),
                        DB_I64(s->id),
                        DB_STR(s->no),
                        DB_I64(s->vendor),
                        DB_I64(l->product),
                        DB_STR(l->category),
                        DB_STR(l->code),
                        DB_STR(l->weight ? "weight" : "count"),
                        l->weight ? DB_I64(500) : DB_NULL,
                        l->weight ? DB_NULL : DB_STR("个"),
                        DB_I64(l->qty),
                        l->qty_actual == NO ? DB_NULL : DB_I64(l->qty_actual),
                        DB_I64(l->amount),
                        DB_I64(l->refunded),
                        DB_STR(l->consumer),
                        DB_STR(sqltime(l->paid, p)),
                        opt_time(l->ready, r),
                        opt_time(l->delivered, d)},
         25, NULL);
}

/* The Unix ms of 00:00 +08:00 of a day. */
static int64_t day_start(int32_t day)
{
    return (int64_t)day * DAY_MS - 8 * HOUR_MS;
}

/* One order of `market` paid at `paid`, 1 to 3 lines, of a consumer among 6 (so some order
 * again); cancelled (every line void) one time in 8, a line rejected one time in 8, delivered
 * one time in 2 (and then ready before), weighed lines lighter now and then. */
static void gen_order(world_t *w, int64_t market, int64_t paid)
{
    static const char *const cats[3][2] = {{"veg", "A01"}, {"meat", "B01"}, {"egg", "C01"}};
    int nlines = 1 + (int)rnd(w, 3), cancelled = rnd(w, 8) == 0, delivered = !cancelled && rnd(w, 2) == 0;
    int64_t order = w->next_order++;
    char consumer[33];
    snprintf(consumer, sizeof(consumer), "%016llx%016llx", (unsigned long long)market, (unsigned long long)rnd(w, 6));
    int64_t deliv = paid + 600000 + rnd(w, 9000) * 1000 + rnd(w, 1000);
    for (int i = 0; i < nlines && w->nl < MAXL; i++) {
        line_t *l = &w->l[w->nl++];
        memset(l, 0, sizeof(*l));
        l->event = w->next_event++;
        l->version = 1 + rnd(w, 4);
        l->market = market;
        l->stall = market == w->m ? (int)rnd(w, 3) : 0;
        l->weight = rnd(w, 2);
        l->is_void = cancelled || rnd(w, 8) == 0;
        snprintf(l->order_no, sizeof(l->order_no), "N%lld", (long long)order);
        snprintf(l->consumer, sizeof(l->consumer), "%s", consumer);
        l->order_id = order;
        l->qty = l->weight ? 100 + rnd(w, 2000) : 1 + rnd(w, 9);
        l->qty_actual = l->weight && rnd(w, 3) == 0 ? l->qty - (int64_t)rnd(w, 50) : NO;
        l->amount = 50 + rnd(w, 5000);
        l->refunded = l->is_void ? l->amount : l->qty_actual != NO ? (int64_t)rnd(w, 30) : 0;
        l->paid = paid;
        l->ready =
            !l->is_void && (delivered || rnd(w, 2) == 0) ? paid + 60000 + rnd(w, 1800) * 1000 + rnd(w, 1000) : NO;
        if (l->ready != NO && l->ready > deliv)
            l->ready = deliv;
        l->delivered = delivered && !l->is_void ? deliv : NO;
        int c = (int)rnd(w, 3);
        l->category = cats[c][0];
        l->code = cats[c][1];
        l->product = 100 + c * 10 + l->stall;
        insert_line(w, l);
    }
}

/* The test's own records of market's lines paid on days d0..d1. */
static size_t recs_of(const world_t *w, int64_t market, int32_t d0, int32_t d1, sale_rec_t *out)
{
    size_t n = 0;
    for (size_t i = 0; i < w->nl; i++) {
        const line_t *l = &w->l[i];
        int32_t day = kpi_day_of(l->paid);
        if (l->market != market || day < d0 || day > d1)
            continue;
        sale_rec_t *r = &out[n++];
        memset(r, 0, sizeof(*r));
        r->event_id = l->event;
        r->version = l->version;
        r->is_void = l->is_void;
        r->is_weight = l->weight;
        snprintf(r->order_no, sizeof(r->order_no), "%s", l->order_no);
        snprintf(r->stall_no, sizeof(r->stall_no), "%s", stall_of(w, l)->no);
        snprintf(r->consumer_ref, sizeof(r->consumer_ref), "%s", l->consumer);
        r->qty = l->qty;
        r->qty_actual = l->qty_actual;
        r->amount_fen = l->amount;
        r->refunded_fen = l->refunded;
        r->paid_ms = l->paid;
        r->ready_ms = l->ready;
        r->delivered_ms = l->delivered;
        r->paid_day = day;
    }
    return n;
}

static void add_complaint(world_t *w, int64_t market, int64_t stall, int64_t ms)
{
    char t[32];
    exec(&w->db, "INSERT INTO complaints (market_id, consumer_id, stall_id, text, created_at) VALUES (?, 1, ?, 'x', ?)",
         (db_param_t[]){DB_I64(market), DB_I64(stall), DB_STR(sqltime(ms, t))}, 3, NULL);
}

/* 2026-11-29, -30 and 12-01 (+08:00), and the two lines either side of the midnight that
 * starts the 30th: 2026-11-29T15:59:59.999Z and 16:00:00.000Z. */
#define D1 "2026-11-29"
#define D3 "2026-12-01"

static int32_t d1(void)
{
    int32_t d;
    kpi_day_parse(D1, &d);
    return d;
}

static void gen_days(world_t *w)
{
    int32_t d = d1();
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 25; i++)
            gen_order(w, w->m, day_start(d + k) + rnd(w, (uint32_t)(DAY_MS / 1000)) * 1000 + rnd(w, 1000));
    for (int k = 0; k < 3; k++)
        for (int i = 0; i < 6; i++)
            gen_order(w, w->n, day_start(d + k) + rnd(w, (uint32_t)(DAY_MS / 1000)) * 1000);
    gen_order(w, w->m, day_start(d + 1) - 1); /* 2026-11-29T15:59:59.999Z: the 29th */
    gen_order(w, w->m, day_start(d + 1));     /* 2026-11-29T16:00:00.000Z: the 30th */
    /* complaints: 2 on the 29th (one at its last millisecond), 1 on the 30th (its first), 1
     * on 12-01 (its last), 1 the day before the range and 1 the day after, and the other
     * market's */
    add_complaint(w, w->m, w->ms[0].id, day_start(d) + 5 * HOUR_MS);
    add_complaint(w, w->m, w->ms[1].id, day_start(d + 1) - 1);
    add_complaint(w, w->m, w->ms[1].id, day_start(d + 1));
    add_complaint(w, w->m, w->ms[1].id, day_start(d) - 1);
    add_complaint(w, w->m, w->ms[2].id, day_start(d + 3) - 1); /* the last millisecond of 12-01 */
    add_complaint(w, w->m, w->ms[2].id, day_start(d + 3));     /* the first of 12-02: after the range */
    add_complaint(w, w->n, w->ns.id, day_start(d + 1) + HOUR_MS);
}

static void expect_same_json(json_t *got, json_t *want, const char *what)
{
    char *g = json_dumps(got, JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    char *e = json_dumps(want, JSON_SORT_KEYS | JSON_REAL_PRECISION(15));
    ck_assert_msg(json_equal(got, want), "%s:\n got  %s\n want %s", what, g, e);
    free(g);
    free(e);
}

static int64_t jint(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
}

/* ---- online sales ---------------------------------------------------------------------- */

START_TEST(test_online_sales_per_day_and_total_equal_kpi_compute_and_sql)
{
    world_t *w = world_up("online");
    gen_days(w);
    static sale_rec_t recs[MAXL];
    json_t *doc = NULL;
    int32_t d = d1();
    ck_assert_int_eq(stats_online_sales(&w->db, w->m, D1, D3, &doc), SF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "from")), D1);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "to")), D3);
    json_t *days = json_object_get(doc, "days");
    ck_assert_int_eq(json_array_size(days), 3);
    static const int64_t complaints[3] = {2, 1, 1};
    for (int k = 0; k < 3; k++) {
        json_t *day = json_array_get(days, k);
        char name[16];
        kpi_day_name(d + k, name, sizeof(name));
        ck_assert_str_eq(json_string_value(json_object_get(day, "date")), name);
        /* == kpi_compute over the test's own records of that day */
        kpi_t kp;
        size_t n = recs_of(w, w->m, d + k, d + k, recs);
        ck_assert_int_gt(n, 20);
        ck_assert_int_eq(kpi_compute(recs, n, 4, &kp), 0);
        kp.complaint_count = complaints[k];
        json_t *want = kpi_json(&kp);
        json_object_set_new(want, "date", json_string(name));
        expect_same_json(day, want, name);
        json_decref(want);
        /* == SQL aggregates written here */
        db_rows_t *rows = NULL;
        ck_assert_int_eq(
            db_query_row(&w->db,
                         "SELECT COUNT(DISTINCT order_no), SUM(amount_fen), SUM(refunded_fen),"
                         " SUM(IF(op = 'upsert' AND pricing_mode = 'weight', IFNULL(qty_actual, qty), 0)),"
                         " SUM(IF(op = 'upsert' AND pricing_mode = 'count', IFNULL(qty_actual, qty), 0)),"
                         " COUNT(DISTINCT IF(op = 'upsert', stall_no, NULL)), COUNT(DISTINCT consumer_ref),"
                         " COUNT(DISTINCT IF(delivered_at IS NOT NULL, order_no, NULL)), COUNT(*)"
                         " FROM sale_lines WHERE market_id = ? AND paid_date = ? GROUP BY paid_date",
                         (db_param_t[]){DB_I64(w->m), DB_STR(name)}, 2, &rows),
            DB_OK);
        ck_assert_int_eq(jint(day, "orders_paid"), db_rows_i64(rows, 0));
        ck_assert_int_eq(jint(day, "gmv_fen"), db_rows_i64(rows, 1));
        ck_assert_int_eq(jint(day, "refunds_fen"), db_rows_i64(rows, 2));
        ck_assert_int_eq(jint(day, "net_sales_fen"), db_rows_i64(rows, 1) - db_rows_i64(rows, 2));
        ck_assert_int_eq(jint(day, "items_qty_g"), db_rows_i64(rows, 3));
        ck_assert_int_eq(jint(day, "items_qty_pieces"), db_rows_i64(rows, 4));
        ck_assert_int_eq(jint(day, "active_stalls"), db_rows_i64(rows, 5));
        ck_assert_int_eq(jint(day, "consumers"), db_rows_i64(rows, 6));
        ck_assert_int_eq(jint(day, "orders_delivered"), db_rows_i64(rows, 7));
        ck_assert_int_eq(jint(day, "lines"), db_rows_i64(rows, 8));
        ck_assert_int_eq(jint(day, "stalls_total"), 4);
        db_rows_free(rows);
        /* orders all of whose lines are void, and repeat consumers, in SQL */
        ck_assert_int_eq(jint(day, "orders_cancelled"),
                         t_db_i64(&w->db,
                                  "SELECT COUNT(*) FROM (SELECT order_no FROM sale_lines WHERE market_id = ? AND"
                                  " paid_date = ? GROUP BY order_no HAVING SUM(op = 'upsert') = 0) o",
                                  (db_param_t[]){DB_I64(w->m), DB_STR(name)}, 2));
        ck_assert_int_eq(jint(day, "repeat_consumers"),
                         t_db_i64(&w->db,
                                  "SELECT COUNT(*) FROM (SELECT consumer_ref FROM sale_lines WHERE market_id = ? AND"
                                  " paid_date = ? GROUP BY consumer_ref HAVING COUNT(DISTINCT order_no) >= 2) c",
                                  (db_param_t[]){DB_I64(w->m), DB_STR(name)}, 2));
        ck_assert_int_eq(jint(day, "complaint_count"), complaints[k]);
    }
    /* the total is over the whole range: distinct orders, consumers and stalls are not sums */
    kpi_t kp;
    size_t n = recs_of(w, w->m, d, d + 2, recs);
    ck_assert_int_eq(kpi_compute(recs, n, 4, &kp), 0);
    kp.complaint_count = 4;
    json_t *want = kpi_json(&kp);
    expect_same_json(json_object_get(doc, "total"), want, "total");
    json_decref(want);
    ck_assert_int_eq(jint(json_object_get(doc, "total"), "consumers"),
                     t_db_i64(&w->db,
                              "SELECT COUNT(DISTINCT consumer_ref) FROM sale_lines WHERE market_id = ?"
                              " AND paid_date BETWEEN ? AND ?",
                              (db_param_t[]){DB_I64(w->m), DB_STR(D1), DB_STR(D3)}, 3));
    json_decref(doc);

    /* a range with no sale: every day there, zeros, nulls */
    ck_assert_int_eq(stats_online_sales(&w->db, w->m, "2026-10-01", "2026-10-02", &doc), SF_OK);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "days")), 2);
    json_t *t = json_object_get(doc, "total");
    ck_assert_int_eq(jint(t, "orders_paid"), 0);
    ck_assert(json_is_null(json_object_get(t, "delivered_ratio")));
    ck_assert(json_is_real(json_object_get(t, "active_stall_ratio")));
    json_decref(doc);
    ck_assert_int_eq(stats_online_sales(&w->db, w->m, D3, D1, &doc), SF_E_INVALID);
    world_down(w);
}
END_TEST

/* models/stats.c's batch of lines (20000 in the product), set lower here */
extern size_t stats_batch_lines;

/* How many statements this connection has executed (this one included). */
static int64_t statements(world_t *w)
{
    return t_db_i64(&w->db,
                    "SELECT VARIABLE_VALUE FROM information_schema.SESSION_STATUS WHERE VARIABLE_NAME ="
                    " 'COM_STMT_EXECUTE'",
                    NULL, 0);
}

START_TEST(test_online_sales_read_in_batches_give_the_figures_of_one_read)
{
    world_t *w = world_up("batches");
    gen_days(w);
    int64_t n = t_db_i64(&w->db, "SELECT COUNT(*) FROM sale_lines WHERE market_id = ? AND paid_date BETWEEN ? AND ?",
                         (db_param_t[]){DB_I64(w->m), DB_STR(D1), DB_STR(D3)}, 3);
    ck_assert_int_gt(n, 100);
    size_t saved = stats_batch_lines;
    ck_assert_uint_eq(saved, 20000);
    /* the ranges: the three days; a range that starts on days without a line; one that ends
     * before the last day with lines (nothing after `to` is read) */
    static const char *const range[3][2] = {{D1, D3}, {"2026-11-26", D3}, {D1, "2026-11-30"}};
    for (int r = 0; r < 3; r++) {
        json_t *one = NULL;
        ck_assert_int_eq(stats_online_sales(&w->db, w->m, range[r][0], range[r][1], &one), SF_OK);
        /* batches of 1 line, 2, 7 (orders cut across batches), n - 1, n (one more, empty
         * statement) and n + 1: orders cut across batches and days, the key's cursor across
         * the other market's rows */
        size_t sizes[] = {1, 2, 7, (size_t)n - 1, (size_t)n, (size_t)n + 1};
        for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
            json_t *doc = NULL;
            stats_batch_lines = sizes[i];
            int64_t before = statements(w);
            ck_assert_int_eq(stats_online_sales(&w->db, w->m, range[r][0], range[r][1], &doc), SF_OK);
            int64_t used = statements(w) - before - 1;
            stats_batch_lines = saved;
            char what[80];
            snprintf(what, sizeof(what), "%s..%s in batches of %zu", range[r][0], range[r][1], sizes[i]);
            expect_same_json(doc, one, what);
            if (r == 0) /* the stalls and complaints, then floor(n / batch) + 1 batches */
                ck_assert_int_eq(used, 1 + n / (int64_t)sizes[i] + 1);
            json_decref(doc);
        }
        json_decref(one);
    }
    world_down(w);
}
END_TEST

START_TEST(test_a_paid_at_either_side_of_midnight_plus_eight_falls_on_its_own_day)
{
    world_t *w = world_up("midnight");
    int32_t d = d1();
    gen_order(w, w->m, day_start(d + 1) - 1); /* 2026-11-29T15:59:59.999Z */
    size_t first = w->nl;
    gen_order(w, w->m, day_start(d + 1)); /* 2026-11-29T16:00:00.000Z */
    sale_rec_t *recs = NULL;
    size_t n = 0;
    ck_assert_int_eq(stats_sale_recs(&w->db, w->m, D1, D1, &recs, &n), SF_OK);
    ck_assert_int_eq(n, first);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(recs[i].paid_ms, day_start(d + 1) - 1);
        ck_assert_int_eq(recs[i].paid_day, d);
    }
    free(recs);
    ck_assert_int_eq(stats_sale_recs(&w->db, w->m, "2026-11-30", "2026-11-30", &recs, &n), SF_OK);
    ck_assert_int_eq(n, w->nl - first);
    for (size_t i = 0; i < n; i++) {
        ck_assert_int_eq(recs[i].paid_ms, day_start(d + 1));
        ck_assert_int_eq(recs[i].paid_day, d + 1);
        ck_assert_str_eq(recs[i].order_no, w->l[first].order_no);
    }
    free(recs);
    /* and the record carries every field as written */
    ck_assert_int_eq(stats_sale_recs(&w->db, w->m, D1, D1, &recs, &n), SF_OK);
    for (size_t i = 0; i < n; i++) {
        const line_t *l = NULL;
        for (size_t j = 0; j < w->nl; j++)
            if (w->l[j].event == recs[i].event_id)
                l = &w->l[j];
        ck_assert_ptr_nonnull(l);
        ck_assert_int_eq(recs[i].version, l->version);
        ck_assert_int_eq(recs[i].is_void, l->is_void);
        ck_assert_int_eq(recs[i].is_weight, l->weight);
        ck_assert_int_eq(recs[i].qty, l->qty);
        ck_assert_int_eq(recs[i].qty_actual, l->qty_actual);
        ck_assert_int_eq(recs[i].amount_fen, l->amount);
        ck_assert_int_eq(recs[i].refunded_fen, l->refunded);
        ck_assert_int_eq(recs[i].ready_ms, l->ready);
        ck_assert_int_eq(recs[i].delivered_ms, l->delivered);
        ck_assert_str_eq(recs[i].consumer_ref, l->consumer);
        ck_assert_str_eq(recs[i].stall_no, w->ms[l->stall].no);
    }
    free(recs);
    world_down(w);
}
END_TEST

/* ---- summary and reconcile ------------------------------------------------------------- */

/* The test's own figures of the lines of market m on day `day` whose stall (by_code 0) or
 * commodity code (1) is `key`; NULL key: every line. */
static void own_figures(const world_t *w, int32_t day, int by_code, const char *key, int64_t f[6])
{
    char seen[MAXL][33];
    size_t nseen = 0;
    memset(f, 0, 6 * sizeof(int64_t));
    for (size_t i = 0; i < w->nl; i++) {
        const line_t *l = &w->l[i];
        if (l->market != w->m || kpi_day_of(l->paid) != day)
            continue;
        if (key != NULL && strcmp(by_code ? l->code : w->ms[l->stall].no, key) != 0)
            continue;
        size_t j = 0;
        while (j < nseen && strcmp(seen[j], l->order_no) != 0)
            j++;
        if (j == nseen)
            snprintf(seen[nseen++], 33, "%s", l->order_no);
        f[1]++;
        if (!l->is_void)
            f[l->weight ? 2 : 3] += l->qty_actual != NO ? l->qty_actual : l->qty;
        f[4] += l->amount;
        f[5] += l->refunded;
    }
    f[0] = (int64_t)nseen;
}

static void expect_figures(const json_t *o, const int64_t f[6], const char *what)
{
    static const char *const names[6] = {"orders", "lines", "qty_g", "qty_pieces", "sales_fen", "refunds_fen"};
    for (int i = 0; i < 6; i++)
        ck_assert_msg(jint(o, names[i]) == f[i], "%s %s: %lld, want %lld", what, names[i], (long long)jint(o, names[i]),
                      (long long)f[i]);
}

START_TEST(test_summaries_by_stall_and_by_code_add_up_to_the_day)
{
    world_t *w = world_up("summary");
    gen_days(w);
    int32_t d = d1() + 1;
    for (int by = 0; by < 2; by++) {
        json_t *doc = NULL, *os = NULL;
        int64_t f[6], sum[6] = {0};
        ck_assert_int_eq(stats_summary(&w->db, w->m, "2026-11-30", by, &doc), SF_OK);
        ck_assert_str_eq(json_string_value(json_object_get(doc, "by")), by ? "category" : "stall");
        json_t *items = json_object_get(doc, "items"), *it;
        size_t i;
        ck_assert_int_eq(json_array_size(items), 3); /* B-01 / A01, B01, C01; C-01 sold nothing */
        json_array_foreach(items, i, it)
        {
            const char *key = json_string_value(json_object_get(it, by ? "commodity_code" : "stall_no"));
            ck_assert_ptr_nonnull(key);
            if (!by)
                ck_assert_int_eq(jint(it, "stall_id"), w->ms[i].id);
            own_figures(w, d, by, key, f);
            expect_figures(it, f, key);
            for (int k = 1; k < 6; k++)
                sum[k] += f[k];
        }
        json_t *total = json_object_get(doc, "total");
        own_figures(w, d, by, NULL, f);
        expect_figures(total, f, "total");
        for (int k = 1; k < 6; k++)
            ck_assert_int_eq(sum[k], f[k]); /* the items add up to the total */
        ck_assert_int_eq(stats_online_sales(&w->db, w->m, "2026-11-30", "2026-11-30", &os), SF_OK);
        json_t *kp = json_object_get(os, "total");
        ck_assert_int_eq(jint(total, "orders"), jint(kp, "orders_paid"));
        ck_assert_int_eq(jint(total, "sales_fen"), jint(kp, "gmv_fen"));
        ck_assert_int_eq(jint(total, "refunds_fen"), jint(kp, "refunds_fen"));
        ck_assert_int_eq(jint(total, "qty_g"), jint(kp, "items_qty_g"));
        ck_assert_int_eq(jint(total, "qty_pieces"), jint(kp, "items_qty_pieces"));
        ck_assert_int_eq(jint(total, "lines"), jint(kp, "lines"));
        json_decref(os);
        json_decref(doc);
    }
    /* a day without a sale: no items, a total of zeros */
    json_t *doc = NULL;
    ck_assert_int_eq(stats_summary(&w->db, w->m, "2026-10-01", 0, &doc), SF_OK);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    ck_assert_int_eq(jint(json_object_get(doc, "total"), "orders"), 0);
    json_decref(doc);
    world_down(w);
}
END_TEST

START_TEST(test_reconcile_counts_sums_and_checksums_the_days_latest_versions)
{
    world_t *w = world_up("reconcile");
    gen_days(w);
    int32_t d = d1() + 1;
    char(*lines)[48] = calloc(MAXL, 48);
    size_t n = 0;
    int64_t sales = 0;
    for (size_t i = 0; i < w->nl; i++)
        if (w->l[i].market == w->m && kpi_day_of(w->l[i].paid) == d) {
            snprintf(lines[n++], 48, "%lld:%lld", (long long)w->l[i].event, (long long)w->l[i].version);
            sales += w->l[i].amount;
        }
    qsort(lines, n, 48, (int (*)(const void *, const void *))strcmp);
    unsigned char md[32];
    unsigned mdlen = 0;
    char hex[65];
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    EVP_DigestInit_ex(ctx, EVP_sha256(), NULL);
    for (size_t i = 0; i < n; i++) {
        if (i > 0)
            EVP_DigestUpdate(ctx, "\n", 1);
        EVP_DigestUpdate(ctx, lines[i], strlen(lines[i]));
    }
    EVP_DigestFinal_ex(ctx, md, &mdlen);
    EVP_MD_CTX_free(ctx);
    for (int i = 0; i < 32; i++)
        snprintf(hex + 2 * i, 3, "%02x", md[i]);
    json_t *doc = NULL;
    ck_assert_int_eq(stats_reconcile(&w->db, w->m, "2026-11-30", &doc), SF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "date")), "2026-11-30");
    ck_assert_int_eq(jint(doc, "count"), (int64_t)n);
    ck_assert_int_eq(jint(doc, "sales_fen"), sales);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "checksum")), hex);
    json_decref(doc);
    /* a new version of one line changes the checksum, not the count */
    exec(&w->db, "UPDATE sale_lines SET version = version + 1 WHERE market_id = ? AND paid_date = ? LIMIT 1",
         (db_param_t[]){DB_I64(w->m), DB_STR("2026-11-30")}, 2, NULL);
    ck_assert_int_eq(stats_reconcile(&w->db, w->m, "2026-11-30", &doc), SF_OK);
    ck_assert_int_eq(jint(doc, "count"), (int64_t)n);
    ck_assert_str_ne(json_string_value(json_object_get(doc, "checksum")), hex);
    json_decref(doc);
    free(lines);
    world_down(w);
}
END_TEST

START_TEST(test_the_other_markets_rows_never_count)
{
    world_t *w = world_up("other");
    gen_days(w);
    /* the other market alone: its own lines, its one stall, its one complaint */
    static sale_rec_t recs[MAXL];
    json_t *doc = NULL;
    int32_t d = d1();
    size_t n = recs_of(w, w->n, d, d + 2, recs);
    ck_assert_int_gt(n, 0);
    kpi_t kp;
    ck_assert_int_eq(kpi_compute(recs, n, 1, &kp), 0);
    kp.complaint_count = 1;
    json_t *want = kpi_json(&kp);
    ck_assert_int_eq(stats_online_sales(&w->db, w->n, D1, D3, &doc), SF_OK);
    expect_same_json(json_object_get(doc, "total"), want, "other market");
    json_decref(want);
    json_decref(doc);
    /* and a market that sold nothing sees nothing */
    uint64_t empty = 0;
    exec(&w->db,
         "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
         " VALUES ('e', 'e', 'a', 34.75, 113.62, '410103', '', '[]', '', '')",
         NULL, 0, &empty);
    ck_assert_int_eq(stats_online_sales(&w->db, (int64_t)empty, D1, D3, &doc), SF_OK);
    ck_assert_int_eq(jint(json_object_get(doc, "total"), "orders_paid"), 0);
    ck_assert_int_eq(jint(json_object_get(doc, "total"), "complaint_count"), 0);
    json_decref(doc);
    ck_assert_int_eq(stats_reconcile(&w->db, (int64_t)empty, "2026-11-30", &doc), SF_OK);
    ck_assert_int_eq(jint(doc, "count"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "checksum")),
                     "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    json_decref(doc);
    ck_assert_int_eq(stats_summary(&w->db, (int64_t)empty, "2026-11-30", 1, &doc), SF_OK);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    json_t *items = NULL;
    ck_assert_int_eq(report_rankings(&w->db, (int64_t)empty, "2026-11-30", 30, 0, &items), SF_OK);
    ck_assert_int_eq(json_array_size(items), 0);
    json_decref(items);
    world_down(w);
}
END_TEST

/* ---- rankings -------------------------------------------------------------------------- */

typedef struct rank_row {
    int64_t stall_id, orders, sales, qg, qp, key;
    const char *no, *vendor;
} rank_row_t;

static int by_key(const void *a, const void *b)
{
    const rank_row_t *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? 1 : -1;
    return (x->stall_id > y->stall_id) - (x->stall_id < y->stall_id);
}

START_TEST(test_rankings_equal_a_group_by_over_the_rows_for_each_period_and_order)
{
    world_t *w = world_up("rankings");
    int32_t today = kpi_day_of((int64_t)time(NULL) * 1000);
    static const int back[] = {0, 0, 0, 1, 3, 6, 7, 12, 29, 30, 45};
    for (size_t k = 0; k < sizeof(back) / sizeof(back[0]); k++)
        for (int i = 0; i < 6; i++)
            gen_order(w, k % 4 == 3 ? w->n : w->m, day_start(today - back[k]) + rnd(w, 86400) * 1000);
    /* a stall whose only line today was rejected: not listed */
    line_t *l = &w->l[w->nl++];
    memset(l, 0, sizeof(*l));
    *l = w->l[0];
    l->event = w->next_event++;
    l->stall = 3;
    l->is_void = 1;
    l->refunded = l->amount;
    l->ready = l->delivered = NO;
    l->paid = day_start(today) + 1000;
    insert_line(w, l);
    char to[16];
    kpi_day_name(today, to, sizeof(to));
    static const int periods[] = {1, 7, 30};
    for (int p = 0; p < 3; p++)
        for (int by = 0; by < 2; by++) {
            rank_row_t rows[4] = {0};
            for (int s = 0; s < 4; s++) {
                rows[s].stall_id = w->ms[s].id;
                rows[s].no = w->ms[s].no;
                rows[s].vendor = w->ms[s].vendor_name;
                char seen[MAXL][33];
                size_t nseen = 0, nonvoid = 0;
                for (size_t i = 0; i < w->nl; i++) {
                    const line_t *x = &w->l[i];
                    int32_t day = kpi_day_of(x->paid);
                    if (x->market != w->m || x->stall != s || day < today - periods[p] + 1 || day > today)
                        continue;
                    rows[s].sales += x->amount - x->refunded;
                    if (x->is_void)
                        continue;
                    nonvoid++;
                    rows[s].qg += x->weight ? (x->qty_actual != NO ? x->qty_actual : x->qty) : 0;
                    rows[s].qp += x->weight ? 0 : (x->qty_actual != NO ? x->qty_actual : x->qty);
                    size_t j = 0;
                    while (j < nseen && strcmp(seen[j], x->order_no) != 0)
                        j++;
                    if (j == nseen)
                        snprintf(seen[nseen++], 33, "%s", x->order_no);
                }
                rows[s].orders = (int64_t)nseen;
                rows[s].key = nonvoid == 0 ? -1 : by ? rows[s].orders : rows[s].sales;
            }
            qsort(rows, 4, sizeof(rows[0]), by_key);
            json_t *items = NULL;
            ck_assert_int_eq(report_rankings(&w->db, w->m, to, periods[p], by, &items), SF_OK);
            size_t listed = 0;
            for (int s = 0; s < 4; s++)
                listed += rows[s].key >= 0;
            ck_assert_msg(json_array_size(items) == listed, "period %d by %d: %zu items, want %zu", periods[p], by,
                          json_array_size(items), listed);
            ck_assert_int_ge(listed, 3); /* C-01 never (its one line is void) */
            int64_t rank = 0;
            for (size_t i = 0; i < listed; i++) {
                json_t *it = json_array_get(items, i);
                ck_assert_int_eq(jint(it, "stall_id"), rows[i].stall_id);
                ck_assert_str_eq(json_string_value(json_object_get(it, "stall_no")), rows[i].no);
                ck_assert_str_eq(json_string_value(json_object_get(it, "vendor_name")), rows[i].vendor);
                ck_assert_int_eq(jint(it, "orders"), rows[i].orders);
                ck_assert_int_eq(jint(it, "sales_fen"), rows[i].sales);
                ck_assert_int_eq(jint(it, "qty_g"), rows[i].qg);
                ck_assert_int_eq(jint(it, "qty_pieces"), rows[i].qp);
                if (i == 0 || rows[i].key != rows[i - 1].key)
                    rank = (int64_t)i + 1;
                ck_assert_int_eq(jint(it, "rank"), rank);
            }
            json_decref(items);
        }
    world_down(w);
}
END_TEST

/* ---- a vendor's own, the market centre's ----------------------------------------------- */

START_TEST(test_a_vendors_stats_are_its_own_lines_by_product_and_by_day)
{
    world_t *w = world_up("vendor");
    gen_days(w);
    int32_t d = d1();
    const stall_t *s = &w->ms[1];
    json_t *doc = NULL;
    ck_assert_int_eq(report_vendor_stats(&w->db, w->m, s->vendor, D1, D3, &doc), SF_OK);
    int64_t orders = 0, sales = 0, refunds = 0, qg = 0, qp = 0, day_sales[3] = {0};
    char seen[MAXL][33];
    size_t nseen = 0;
    for (size_t i = 0; i < w->nl; i++) {
        const line_t *l = &w->l[i];
        if (l->market != w->m || l->stall != 1)
            continue;
        sales += l->amount;
        refunds += l->refunded;
        day_sales[kpi_day_of(l->paid) - d] += l->amount;
        if (!l->is_void)
            *(l->weight ? &qg : &qp) += l->qty_actual != NO ? l->qty_actual : l->qty;
        size_t j = 0;
        while (j < nseen && strcmp(seen[j], l->order_no) != 0)
            j++;
        if (j == nseen)
            snprintf(seen[nseen++], 33, "%s", l->order_no);
    }
    orders = (int64_t)nseen;
    ck_assert_int_eq(jint(doc, "orders"), orders);
    ck_assert_int_eq(jint(doc, "sales_fen"), sales);
    ck_assert_int_eq(jint(doc, "refunds_fen"), refunds);
    ck_assert_int_eq(jint(doc, "net_sales_fen"), sales - refunds);
    ck_assert_int_eq(jint(doc, "items_qty_g"), qg);
    ck_assert_int_eq(jint(doc, "items_qty_pieces"), qp);
    json_t *bd = json_object_get(doc, "by_day"), *bp = json_object_get(doc, "by_product"), *it;
    ck_assert_int_eq(json_array_size(bd), 3);
    int64_t sum_orders = 0, sum_sales = 0, sum_lines = 0, prev = INT64_MAX;
    size_t i;
    json_array_foreach(bd, i, it)
    {
        ck_assert_int_eq(jint(it, "sales_fen"), day_sales[i]);
        sum_orders += jint(it, "orders");
    }
    ck_assert_int_eq(sum_orders, orders); /* an order is paid on one day */
    ck_assert_int_ge(json_array_size(bp), 2);
    json_array_foreach(bp, i, it)
    {
        sum_sales += jint(it, "sales_fen");
        sum_lines += jint(it, "lines");
        ck_assert_int_le(jint(it, "sales_fen"), prev);
        prev = jint(it, "sales_fen");
        ck_assert_int_eq(jint(it, "product_id") % 10, 1); /* stall 1's products only */
        ck_assert_ptr_nonnull(json_string_value(json_object_get(it, "commodity_code")));
    }
    ck_assert_int_eq(sum_sales, sales);
    ck_assert_int_eq(sum_lines, t_db_i64(&w->db, "SELECT COUNT(*) FROM sale_lines WHERE vendor_id = ?",
                                         (db_param_t[]){DB_I64(s->vendor)}, 1));
    json_decref(doc);
    /* another market's id with this vendor reads nothing */
    ck_assert_int_eq(report_vendor_stats(&w->db, w->n, s->vendor, D1, D3, &doc), SF_OK);
    ck_assert_int_eq(jint(doc, "orders"), 0);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "by_product")), 0);
    json_decref(doc);
    world_down(w);
}
END_TEST

/* The stalls of report_admin_stats: every stall of market m, each with the figures the test
 * computes from its own lines paid D1..D3 (grouping by stall_no, as a platform would), by
 * sales descending then stall_no; none of the other market's. */
static void expect_admin_stalls(world_t *w, const json_t *stalls, int64_t gmv)
{
    int32_t d0 = d1();
    int64_t sum = 0, prev_sales = INT64_MAX;
    const char *prev_no = "";
    ck_assert_int_eq(json_array_size(stalls), 4);
    for (size_t k = 0; k < json_array_size(stalls); k++) {
        const json_t *it = json_array_get(stalls, k);
        const char *no = json_string_value(json_object_get(it, "stall_no"));
        const stall_t *s = NULL;
        for (int i = 0; i < 4; i++)
            if (w->ms[i].id == jint(it, "stall_id"))
                s = &w->ms[i];
        ck_assert_msg(s != NULL, "stall %lld is not one of the market's", (long long)jint(it, "stall_id"));
        ck_assert_str_eq(no, s->no);
        ck_assert_str_eq(json_string_value(json_object_get(it, "zone")), "A");
        ck_assert_int_eq(jint(json_object_get(it, "map"), "x"), 1);
        ck_assert_int_eq(jint(json_object_get(it, "vendor"), "id"), s->vendor);
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(it, "vendor"), "name")), s->vendor_name);
        int64_t lines = 0, sales = 0, refunds = 0, orders = 0;
        for (size_t a = 0; a < w->nl; a++) {
            const line_t *l = &w->l[a];
            int32_t day = kpi_day_of(l->paid);
            if (l->market != w->m || strcmp(stall_of(w, l)->no, no) != 0 || day < d0 || day > d0 + 2)
                continue;
            lines++, sales += l->amount, refunds += l->refunded;
            int first = 1; /* distinct order_no of the stall */
            for (size_t b = 0; b < a; b++)
                if (w->l[b].market == w->m && strcmp(w->l[b].order_no, l->order_no) == 0 &&
                    strcmp(stall_of(w, &w->l[b])->no, no) == 0 && kpi_day_of(w->l[b].paid) >= d0 &&
                    kpi_day_of(w->l[b].paid) <= d0 + 2)
                    first = 0;
            orders += first;
        }
        ck_assert_int_eq(jint(it, "lines"), lines);
        ck_assert_int_eq(jint(it, "orders"), orders);
        ck_assert_int_eq(jint(it, "sales_fen"), sales);
        ck_assert_int_eq(jint(it, "refunds_fen"), refunds);
        ck_assert_int_eq(jint(it, "net_sales_fen"), sales - refunds);
        ck_assert_msg(sales < prev_sales || (sales == prev_sales && strcmp(prev_no, no) < 0), "%s out of order", no);
        if (s == &w->ms[3])
            ck_assert_int_eq(lines, 0); /* C-01 never sells, and is listed */
        else
            ck_assert_int_gt(lines, 0);
        prev_sales = sales;
        prev_no = no;
        sum += sales;
    }
    ck_assert_int_eq(sum, gmv);
}

START_TEST(test_the_market_centres_stats_agree_with_the_kpis)
{
    world_t *w = world_up("admin");
    gen_days(w);
    json_t *doc = NULL, *os = NULL, *it;
    int64_t before = statements(w);
    ck_assert_int_eq(report_admin_stats(&w->db, w->m, D1, D3, 50, &doc), SF_OK);
    /* the stall count and complaints, one batch of lines (fewer than stats_batch_lines here),
     * the categories, histogram and stalls together, the price alerts */
    ck_assert_int_eq(statements(w) - before - 1, 4);
    expect_admin_stalls(w, json_object_get(doc, "stalls"), jint(json_object_get(doc, "kpis"), "gmv_fen"));
    ck_assert_int_eq(stats_online_sales(&w->db, w->m, D1, D3, &os), SF_OK);
    expect_same_json(json_object_get(doc, "kpis"), json_object_get(os, "total"), "kpis");
    expect_same_json(json_object_get(doc, "days"), json_object_get(os, "days"), "days");
    json_t *kp = json_object_get(os, "total");
    size_t i;
    int64_t sum = 0, orders = 0, prev = INT64_MAX;
    json_array_foreach(json_object_get(doc, "categories"), i, it)
    {
        sum += jint(it, "sales_fen");
        ck_assert_int_le(jint(it, "sales_fen"), prev);
        prev = jint(it, "sales_fen");
        ck_assert_ptr_nonnull(json_string_value(json_object_get(it, "name")));
        double share = json_real_value(json_object_get(it, "share"));
        ck_assert(share > 0 && share <= 1);
    }
    ck_assert_int_eq(json_array_size(json_object_get(doc, "categories")), 3);
    ck_assert_int_eq(sum, jint(kp, "gmv_fen"));
    json_t *hist = json_object_get(doc, "delivery_minutes");
    ck_assert_int_eq(json_array_size(hist), 6);
    json_array_foreach(hist, i, it) orders += jint(it, "orders");
    ck_assert_int_eq(orders, jint(kp, "orders_delivered"));
    ck_assert(json_is_null(json_object_get(json_array_get(hist, 5), "to_min")));
    ck_assert_int_eq(jint(json_array_get(hist, 1), "from_min"), 30);
    ck_assert_int_eq(jint(json_array_get(hist, 1), "to_min"), 45);
    /* the histogram counts each delivered order in its bucket, as the test computes it */
    static const int64_t edge_s[] = {0, 1800, 2700, 3600, 5400, 7200, INT64_MAX};
    int64_t want[6] = {0};
    for (size_t a = 0; a < w->nl; a++) {
        const line_t *l = &w->l[a];
        if (l->market != w->m || l->delivered == NO)
            continue;
        int first = 1;
        for (size_t b = 0; b < a; b++)
            if (strcmp(w->l[b].order_no, l->order_no) == 0 && w->l[b].delivered != NO)
                first = 0;
        if (!first)
            continue;
        int64_t s = (l->delivered - l->paid) / 1000;
        for (int k = 0; k < 6; k++)
            if (s >= edge_s[k] && s < edge_s[k + 1])
                want[k]++;
    }
    for (int k = 0; k < 6; k++)
        ck_assert_int_eq(jint(json_array_get(hist, k), "orders"), want[k]);
    ck_assert(json_is_array(json_object_get(doc, "price_alerts")));
    json_decref(os);
    json_decref(doc);
    world_down(w);
}
END_TEST

static Suite *stats_suite(void)
{
    Suite *s = suite_create("stats");
    TCase *tc = tcase_create("db");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_online_sales_per_day_and_total_equal_kpi_compute_and_sql);
    tcase_add_test(tc, test_online_sales_read_in_batches_give_the_figures_of_one_read);
    tcase_add_test(tc, test_a_paid_at_either_side_of_midnight_plus_eight_falls_on_its_own_day);
    tcase_add_test(tc, test_summaries_by_stall_and_by_code_add_up_to_the_day);
    tcase_add_test(tc, test_reconcile_counts_sums_and_checksums_the_days_latest_versions);
    tcase_add_test(tc, test_the_other_markets_rows_never_count);
    tcase_add_test(tc, test_rankings_equal_a_group_by_over_the_rows_for_each_period_and_order);
    tcase_add_test(tc, test_a_vendors_stats_are_its_own_lines_by_product_and_by_day);
    tcase_add_test(tc, test_the_market_centres_stats_agree_with_the_kpis);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_stats"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tstats_%d", (int)getpid());
    db_library_init();
    int failed = t_run(stats_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
