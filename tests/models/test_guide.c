/*
 * models/guide.c: the price-anomaly rule as table-driven vectors (band edges, per_g 500
 * against 1000, prices that would overflow 64 bits), the per-500 g normalisation, and the
 * guide-price upsert, notices and the anomaly query against a scratch database of its own
 * (sf_tguide_<pid>_<tag>, swept by main).
 */
#include <check.h>
#include <regex.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "models/guide.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

/* ---- the rule -------------------------------------------------------------------------- */

static const struct {
    int64_t p, pg, g, gg;
    int band;
    guide_dir_t dir;
    int64_t bp;
} cmp_vectors[] = {
    /* same unit, band 50 */
    {100, 500, 100, 500, 50, GUIDE_WITHIN, 0},
    {150, 500, 100, 500, 50, GUIDE_WITHIN, 5000}, /* exactly on the upper edge */
    {151, 500, 100, 500, 50, GUIDE_ABOVE, 5100},
    {50, 500, 100, 500, 50, GUIDE_WITHIN, -5000}, /* exactly on the lower edge */
    {49, 500, 100, 500, 50, GUIDE_BELOW, -5100},
    /* per_g 1000 against a guide per 500 g: 1000 fen/kg is 500 fen/jin */
    {1000, 1000, 500, 500, 50, GUIDE_WITHIN, 0},
    {1500, 1000, 500, 500, 50, GUIDE_WITHIN, 5000},
    {1501, 1000, 500, 500, 50, GUIDE_ABOVE, 5010},
    {500, 1000, 500, 500, 50, GUIDE_WITHIN, -5000},
    {499, 1000, 500, 500, 50, GUIDE_BELOW, -5010},
    {600, 500, 1000, 1000, 10, GUIDE_ABOVE, 2000}, /* 600/jin is 1200/kg: +20 % */
    {600, 500, 1000, 1000, 20, GUIDE_WITHIN, 2000},
    /* band edges with per_g that do not divide: 7 fen/3 g against 2 fen/1 g is +16.67 % */
    {7, 3, 2, 1, 16, GUIDE_ABOVE, 1667},
    {7, 3, 2, 1, 17, GUIDE_WITHIN, 1667},
    /* deviation rounds half away from zero */
    {100005, 500, 100000, 500, 50, GUIDE_WITHIN, 1},
    {99995, 500, 100000, 500, 50, GUIDE_WITHIN, -1},
    {100004, 500, 100000, 500, 50, GUIDE_WITHIN, 0},
    /* a band of 100 % or more has no lower side: a price can't go below zero */
    {1, 1000000, 10000000, 1, 100, GUIDE_WITHIN, -10000},
    {1, 1000000, 10000000, 1, 99, GUIDE_BELOW, -10000},
    {1100, 500, 100, 500, 1000, GUIDE_WITHIN, 100000},
    {1101, 500, 100, 500, 1000, GUIDE_ABOVE, 100100},
    /* values that overflow 64 bits when cross-multiplied */
    {INT64_MAX, 1, 1, INT32_MAX, 50, GUIDE_ABOVE, INT64_MAX},
    {1, INT32_MAX, INT64_MAX, 1, 50, GUIDE_BELOW, -10000},
    {INT64_MAX, INT32_MAX, INT64_MAX, INT32_MAX, 50, GUIDE_WITHIN, 0},
    {INT64_MAX, 1000, INT64_MAX / 2, 500, 1000, GUIDE_WITHIN, 0},
    /* what cannot be compared */
    {0, 500, 100, 500, 50, GUIDE_WITHIN, 0},
    {-100, 500, 100, 500, 50, GUIDE_WITHIN, 0},
    {100, 0, 100, 500, 50, GUIDE_WITHIN, 0},
    {100, 500, 0, 500, 50, GUIDE_WITHIN, 0},
    {100, 500, 100, -1, 50, GUIDE_WITHIN, 0},
    {100, (int64_t)INT32_MAX + 1, 100, 500, 50, GUIDE_WITHIN, 0},
};

START_TEST(test_a_price_is_an_anomaly_only_strictly_beyond_the_band)
{
    for (size_t i = 0; i < sizeof(cmp_vectors) / sizeof(cmp_vectors[0]); i++) {
        int64_t bp = 42;
        guide_dir_t d = guide_compare(cmp_vectors[i].p, cmp_vectors[i].pg, cmp_vectors[i].g, cmp_vectors[i].gg,
                                      cmp_vectors[i].band, &bp);
        ck_assert_msg(d == cmp_vectors[i].dir, "vector %zu: direction %d, want %d", i, d, cmp_vectors[i].dir);
        ck_assert_msg(bp == cmp_vectors[i].bp, "vector %zu: deviation %lld bp, want %lld", i, (long long)bp,
                      (long long)cmp_vectors[i].bp);
        ck_assert_int_eq(guide_compare(cmp_vectors[i].p, cmp_vectors[i].pg, cmp_vectors[i].g, cmp_vectors[i].gg,
                                       cmp_vectors[i].band, NULL),
                         d);
    }
}
END_TEST

START_TEST(test_prices_normalise_to_500_grams_rounding_half_up)
{
    static const struct {
        int64_t p, g, want;
    } v[] = {
        {600, 500, 600},
        {1000, 1000, 500},
        {333, 1000, 167},
        {332, 1000, 166},
        {1, 3, 167},
        {1, 1000, 1},
        {1, 1001, 0},
        {7, 1, 3500},
        {INT64_MAX, 1, INT64_MAX},
        {INT64_MAX, 1000, INT64_MAX / 2 + 1},
        {100, 0, 0},
        {100, -5, 0},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++)
        ck_assert_msg(guide_per_500g(v[i].p, v[i].g) == v[i].want, "vector %zu: %lld", i,
                      (long long)guide_per_500g(v[i].p, v[i].g));
}
END_TEST

/* ---- against the database -------------------------------------------------------------- */

static void scratch(db_t *db, config_t *cfg, const char *tag)
{
    char err[512];
    t_db_scratch_open(db, cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
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
    return (int64_t)id;
}

/* A stall with a vendor; returns the stall id, *vendor the vendor's. */
static int64_t add_stall(db_t *db, int64_t market, const char *no, int64_t *vendor)
{
    uint64_t v = 0, s = 0;
    exec(db,
         "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
         " VALUES (?, '张三', '13800000000', '蔬菜', 'A')",
         (db_param_t[]){DB_I64(market)}, 1, &v);
    exec(db, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 1, 1, ?)",
         (db_param_t[]){DB_I64(market), DB_STR(no), DB_I64((int64_t)v)}, 3, &s);
    *vendor = (int64_t)v;
    return (int64_t)s;
}

/* A product; per_g 0 makes it a count product. */
static int64_t add_product(db_t *db, int64_t market, int64_t stall, int64_t vendor, const char *code, int64_t price,
                           int64_t per_g, const char *status)
{
    uint64_t id = 0;
    exec(db,
         "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name, pricing_mode,"
         " price_fen, per_g, unit, stock, status) VALUES (?, ?, ?, 'veg-leafy', ?, '菠菜', ?, ?, ?, ?, 1000, ?)",
         (db_param_t[]){DB_I64(market), DB_I64(stall), DB_I64(vendor), DB_STR(code),
                        DB_STR(per_g > 0 ? "weight" : "count"), DB_I64(price), per_g > 0 ? DB_I64(per_g) : DB_NULL,
                        per_g > 0 ? DB_NULL : DB_STR("个"), DB_STR(status)},
         9, &id);
    return (int64_t)id;
}

START_TEST(test_guide_prices_are_upserted_by_date_and_commodity_code)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    scratch(&db, &cfg, "put");
    int64_t m = add_market(&db, "m1");
    guide_item_t items[] = {{"A010101", "菠菜", 300, 500}, {"A010201", "土豆", 200, 500}};
    ck_assert_int_eq(guide_put(&db, m, "2026-03-01", items, 2, &out), SF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "date")), "2026-03-01");
    ck_assert_int_eq(json_array_size(json_object_get(out, "items")), 2);
    json_t *first = json_array_get(json_object_get(out, "items"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(first, "commodity_code")), "A010101");
    ck_assert_int_eq(json_integer_value(json_object_get(first, "price_fen")), 300);
    json_decref(out);

    guide_item_t again[] = {{"A010101", "菠菜(新)", 360, 1000}};
    ck_assert_int_eq(guide_put(&db, m, "2026-03-01", again, 1, &out), SF_OK);
    json_decref(out);
    ck_assert_int_eq(guide_put(&db, m, "2026-03-02", again, 1, &out), SF_OK);
    json_decref(out);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM guide_prices", NULL, 0), 3);
    ck_assert_int_eq(t_db_i64(&db,
                              "SELECT price_fen * 10000 + per_g FROM guide_prices WHERE date = '2026-03-01'"
                              " AND commodity_code = 'A010101'",
                              NULL, 0),
                     360 * 10000 + 1000);
    ck_assert_int_eq(
        t_db_i64(&db, "SELECT price_fen FROM guide_prices WHERE date = '2026-03-01' AND commodity_code = 'A010201'",
                 NULL, 0),
        200);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_a_failed_guide_price_upsert_writes_nothing)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    scratch(&db, &cfg, "putfail");
    int64_t m = add_market(&db, "m1");
    /* the second item breaks the CHECK constraint: the first must not stay */
    guide_item_t items[] = {{"A010101", "菠菜", 300, 500}, {"A010201", "土豆", -1, 500}};
    ck_assert_int_eq(guide_put(&db, m, "2026-03-01", items, 2, &out), SF_E_INTERNAL);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM guide_prices", NULL, 0), 0);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_a_notice_is_published_now_in_rfc3339_at_plus_eight)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    regex_t re;
    scratch(&db, &cfg, "notice");
    int64_t m = add_market(&db, "m1");
    ck_assert_int_eq(guide_notice_create(&db, m, 7, "春节营业时间", "除夕 6:00-14:00\n初一休市", &out), SF_OK);
    ck_assert_int_gt(json_integer_value(json_object_get(out, "id")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(out, "title")), "春节营业时间");
    ck_assert_str_eq(json_string_value(json_object_get(out, "body")), "除夕 6:00-14:00\n初一休市");
    ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}\\+08:00$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    const char *at = json_string_value(json_object_get(out, "published_at"));
    ck_assert_msg(at != NULL && regexec(&re, at, 0, NULL, 0) == 0, "published_at %s", at ? at : "(none)");
    regfree(&re);
    ck_assert_int_eq(t_db_i64(&db, "SELECT created_by FROM notices", NULL, 0), 7);
    /* the +08:00 time is the stored UTC time plus eight hours */
    ck_assert_int_eq(
        t_db_i64(&db, "SELECT ABS(TIMESTAMPDIFF(SECOND, published_at, UTC_TIMESTAMP())) < 60 FROM notices", NULL, 0),
        1);
    json_decref(out);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

static json_t *item_by_product(json_t *items, int64_t id)
{
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v)
    {
        if (json_integer_value(json_object_get(v, "product_id")) == id)
            return v;
    }
    return NULL;
}

START_TEST(test_alerts_list_on_sale_weighed_products_beyond_the_band_worst_first)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    int64_t v1, v2, vo;
    scratch(&db, &cfg, "alerts");
    int64_t m = add_market(&db, "m1"), other = add_market(&db, "m2");
    int64_t s1 = add_stall(&db, m, "A-01", &v1), s2 = add_stall(&db, m, "A-02", &v2);
    int64_t so = add_stall(&db, other, "A-01", &vo);
    guide_item_t g[] = {{"A010101", "菠菜", 500, 500}, {"A010201", "土豆", 400, 1000}};
    ck_assert_int_eq(guide_put(&db, m, "2026-03-01", g, 2, &out), SF_OK);
    json_decref(out);
    ck_assert_int_eq(guide_put(&db, other, "2026-03-01", g, 2, &out), SF_OK);
    json_decref(out);

    int64_t high = add_product(&db, m, s1, v1, "A010101", 1600, 1000, "on_sale");   /* 800/jin: +60 % */
    int64_t edge = add_product(&db, m, s1, v1, "A010101", 750, 500, "on_sale");     /* +50 %: on the edge */
    int64_t low = add_product(&db, m, s2, v2, "A010201", 50, 500, "on_sale");       /* 100/kg: -75 % */
    int64_t worst = add_product(&db, m, s2, v2, "A010201", 5000, 500, "on_sale");   /* 10000/kg: +2400 % */
    int64_t off = add_product(&db, m, s1, v1, "A010101", 100000, 500, "off_sale");  /* off sale */
    int64_t count = add_product(&db, m, s1, v1, "A010101", 100000, 0, "on_sale");   /* by count */
    int64_t noguide = add_product(&db, m, s1, v1, "A0301", 100000, 500, "on_sale"); /* no guide price */
    int64_t foreign = add_product(&db, other, so, vo, "A010101", 100000, 500, "on_sale");

    ck_assert_int_eq(guide_alerts(&db, m, "2026-03-01", 50, &out), SF_OK);
    json_t *items = json_object_get(out, "items");
    ck_assert_msg(json_array_size(items) == 3, "%zu alerts", json_array_size(items));
    ck_assert(json_is_null(json_object_get(out, "next_cursor")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "product_id")), worst);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 1), "product_id")), low);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 2), "product_id")), high);
    int64_t absent[] = {edge, off, count, noguide, foreign};
    for (size_t i = 0; i < sizeof(absent) / sizeof(absent[0]); i++)
        ck_assert_msg(item_by_product(items, absent[i]) == NULL, "product %lld listed", (long long)absent[i]);
    json_t *h = item_by_product(items, high);
    ck_assert_str_eq(json_string_value(json_object_get(h, "direction")), "above");
    ck_assert_int_eq(json_integer_value(json_object_get(h, "unit_price_fen_per_500g")), 800);
    ck_assert_int_eq(json_integer_value(json_object_get(h, "guide_price_fen_per_500g")), 500);
    ck_assert(json_real_value(json_object_get(h, "deviation_pct")) == 60.0);
    ck_assert_str_eq(json_string_value(json_object_get(h, "stall_no")), "A-01");
    ck_assert_int_eq(json_integer_value(json_object_get(h, "stall_id")), s1);
    ck_assert_int_eq(json_integer_value(json_object_get(h, "vendor_id")), v1);
    ck_assert_int_eq(json_integer_value(json_object_get(h, "per_g")), 1000);
    json_t *l = item_by_product(items, low);
    ck_assert_str_eq(json_string_value(json_object_get(l, "direction")), "below");
    ck_assert(json_real_value(json_object_get(l, "deviation_pct")) == -75.0);
    json_decref(out);

    /* another day has no guide prices: no alerts; a wider band drops the smaller ones */
    ck_assert_int_eq(guide_alerts(&db, m, "2026-03-02", 50, &out), SF_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "items")), 0);
    json_decref(out);
    ck_assert_int_eq(guide_alerts(&db, m, "2026-03-01", 100, &out), SF_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "items")), 1);
    json_decref(out);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_alerts_handle_the_largest_stored_prices_without_overflow)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    int64_t v;
    scratch(&db, &cfg, "huge");
    int64_t m = add_market(&db, "m1");
    int64_t s = add_stall(&db, m, "B-1", &v);
    exec(&db,
         "INSERT INTO guide_prices (market_id, date, commodity_code, name, price_fen, per_g)"
         " VALUES (?, '2026-03-01', 'A010101', '菠菜', 9223372036854775807, 1)",
         (db_param_t[]){DB_I64(m)}, 1, NULL);
    int64_t cheap = add_product(&db, m, s, v, "A010101", 1, 2147483647, "on_sale");
    int64_t dear = add_product(&db, m, s, v, "A010101", INT64_MAX, 1, "on_sale");
    ck_assert_int_eq(guide_alerts(&db, m, "2026-03-01", 50, &out), SF_OK);
    json_t *items = json_object_get(out, "items");
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "product_id")), cheap);
    ck_assert_ptr_null(item_by_product(items, dear)); /* exactly the guide price */
    json_decref(out);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

static Suite *guide_suite(void)
{
    Suite *s = suite_create("guide");
    TCase *rule = tcase_create("rule");
    tcase_add_test(rule, test_a_price_is_an_anomaly_only_strictly_beyond_the_band);
    tcase_add_test(rule, test_prices_normalise_to_500_grams_rounding_half_up);
    suite_add_tcase(s, rule);
    TCase *db = tcase_create("db");
    tcase_set_timeout(db, 60);
    tcase_add_test(db, test_guide_prices_are_upserted_by_date_and_commodity_code);
    tcase_add_test(db, test_a_failed_guide_price_upsert_writes_nothing);
    tcase_add_test(db, test_a_notice_is_published_now_in_rfc3339_at_plus_eight);
    tcase_add_test(db, test_alerts_list_on_sale_weighed_products_beyond_the_band_worst_first);
    tcase_add_test(db, test_alerts_handle_the_largest_stored_prices_without_overflow);
    suite_add_tcase(s, db);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_guide"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tguide_%d", (int)getpid());
    db_library_init();
    int failed = t_run(guide_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
