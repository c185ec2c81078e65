/*
 * models/product.c and models/market.c: the validation of vendor input as table-driven
 * vectors (every field, wrong types, bounds, unknown fields), the list cursors, and the
 * queries against a scratch database of their own (sf_tprod_<pid>_<tag>, swept by main):
 * create and update scoped to the vendor, keyset pages that visit every product exactly
 * once in each sort, filters and Chinese search, the category tree, the stall's public
 * record, guide prices and the market profile.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "models/market.h"
#include "models/base/cursor.h"
#include "models/product.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

/* ================================================================ validation */

START_TEST(test_a_weighed_product_is_read_field_by_field)
{
    json_t *b = t_json_text("{\"name\":\"西红柿\",\"category\":\"veg-leafy\",\"commodity_code\":\"A010101\","
                            "\"pricing\":{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":500},\"stock\":20000,"
                            "\"origin\":\"410122\",\"trace_code\":\"ZZ-2026.11_01\",\"stall_id\":7}");
    product_input_t in;
    product_invalid_t bad;
    ck_assert_int_eq(product_parse_create(b, &in, &bad), 0);
    ck_assert_str_eq(in.name, "西红柿");
    ck_assert_str_eq(in.category, "veg-leafy");
    ck_assert_str_eq(in.commodity_code, "A010101");
    ck_assert_int_eq(in.pricing.mode, PRODUCT_WEIGHT);
    ck_assert_int_eq(in.pricing.price_fen, 600);
    ck_assert_int_eq(in.pricing.per_g, 500);
    ck_assert_str_eq(in.pricing.unit, "");
    ck_assert_int_eq(in.stock, 20000);
    ck_assert_str_eq(in.origin, "410122");
    ck_assert_str_eq(in.trace_code, "ZZ-2026.11_01");
    ck_assert_int_eq(in.stall_id, 7);
    json_decref(b);

    b = t_json_text("{\"name\":\"鸡蛋\",\"category\":\"eggs\",\"commodity_code\":\"A04\",\"origin\":null,"
                    "\"pricing\":{\"mode\":\"count\",\"price_fen\":350,\"unit\":\"盒\"},\"stock\":0}");
    ck_assert_int_eq(product_parse_create(b, &in, &bad), 0);
    ck_assert_int_eq(in.pricing.mode, PRODUCT_COUNT);
    ck_assert_str_eq(in.pricing.unit, "盒");
    ck_assert_int_eq(in.pricing.per_g, 0);
    ck_assert_ptr_null(in.origin);
    ck_assert_ptr_null(in.trace_code);
    ck_assert_int_eq(in.stall_id, 0);
    ck_assert_int_eq(in.stock, 0);
    json_decref(b);
}
END_TEST

/* A valid body with one field replaced: {"name":..., <field>} */
#define BASE_NAME   "\"name\":\"菠菜\""
#define BASE_CAT    "\"category\":\"veg-leafy\""
#define BASE_CODE   "\"commodity_code\":\"A010101\""
#define BASE_PRICE  "\"pricing\":{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":500}"
#define BASE_STOCK  "\"stock\":100"
#define WITH(extra) "{" BASE_NAME "," BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK "," extra "}"
#define PRICED(p)   "{" BASE_NAME "," BASE_CAT "," BASE_CODE "," BASE_STOCK ",\"pricing\":" p "}"

static const struct {
    const char *body, *field;
} bad_creates[] = {
    {"{}", "name"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_CODE "," BASE_STOCK "}", "pricing"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_CODE "," BASE_PRICE "}", "stock"},
    {"{" BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK ",\"name\":\"\"}", "name"},
    {"{" BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK ",\"name\":123}", "name"},
    {"{" BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK ",\"name\":null}", "name"},
    {"{" BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK ",\"name\":\"a\\u0001b\"}", "name"},
    {"{" BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK ",\"name\":\"a\\u0000b\"}", "name"},
    {"{" BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK ",\"name\":\"a\\u0085b\"}", "name"},
    {"{" BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK ",\"name\":\" 菠菜\"}", "name"},
    {"{" BASE_NAME "," BASE_CODE "," BASE_PRICE "," BASE_STOCK ",\"category\":7}", "category"},
    {"{" BASE_NAME "," BASE_CODE "," BASE_PRICE "," BASE_STOCK ",\"category\":\"veg leafy\"}", "category"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_PRICE "," BASE_STOCK ",\"commodity_code\":\"a010101\"}", "commodity_code"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_PRICE "," BASE_STOCK ",\"commodity_code\":\"A0101010101010101\"}",
     "commodity_code"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_PRICE "," BASE_STOCK ",\"commodity_code\":\"\"}", "commodity_code"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_PRICE "," BASE_STOCK ",\"commodity_code\":101}", "commodity_code"},
    {PRICED("\"weight\""), "pricing"},
    {PRICED("[]"), "pricing"},
    {PRICED("{\"mode\":\"kg\",\"price_fen\":600,\"per_g\":500}"), "pricing.mode"},
    {PRICED("{\"price_fen\":600,\"per_g\":500}"), "pricing.mode"},
    {PRICED("{\"mode\":\"weight\",\"per_g\":500}"), "pricing.price_fen"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":0,\"per_g\":500}"), "pricing.price_fen"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":-600,\"per_g\":500}"), "pricing.price_fen"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":10000001,\"per_g\":500}"), "pricing.price_fen"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":9223372036854775807,\"per_g\":500}"), "pricing.price_fen"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":600.0,\"per_g\":500}"), "pricing.price_fen"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":\"600\",\"per_g\":500}"), "pricing.price_fen"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":true,\"per_g\":500}"), "pricing.price_fen"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":600}"), "pricing.per_g"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":0}"), "pricing.per_g"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":100001}"), "pricing.per_g"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":500,\"unit\":\"个\"}"), "pricing.unit"},
    {PRICED("{\"mode\":\"count\",\"price_fen\":350}"), "pricing.unit"},
    {PRICED("{\"mode\":\"count\",\"price_fen\":350,\"unit\":\"\"}"), "pricing.unit"},
    {PRICED("{\"mode\":\"count\",\"price_fen\":350,\"unit\":\"一二三四五六七八九\"}"), "pricing.unit"},
    {PRICED("{\"mode\":\"count\",\"price_fen\":350,\"unit\":\"个\",\"per_g\":500}"), "pricing.per_g"},
    {PRICED("{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":500,\"discount\":1}"), "pricing.discount"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_CODE "," BASE_PRICE ",\"stock\":-1}", "stock"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_CODE "," BASE_PRICE ",\"stock\":1000000001}", "stock"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_CODE "," BASE_PRICE ",\"stock\":1.5}", "stock"},
    {"{" BASE_NAME "," BASE_CAT "," BASE_CODE "," BASE_PRICE ",\"stock\":\"5\"}", "stock"},
    {WITH("\"origin\":\"41012\""), "origin"},
    {WITH("\"origin\":\"010000\""), "origin"},
    {WITH("\"origin\":410122"), "origin"},
    {WITH("\"origin\":\"41012x\""), "origin"},
    {WITH("\"trace_code\":\"\""), "trace_code"},
    {WITH("\"trace_code\":\"a b\""), "trace_code"},
    {WITH("\"trace_code\":\"批次1\""), "trace_code"},
    {WITH("\"trace_code\":\"12345678901234567890123456789012345678901234567890123456789012345\""), "trace_code"},
    {WITH("\"stall_id\":0"), "stall_id"},
    {WITH("\"stall_id\":-3"), "stall_id"},
    {WITH("\"stall_id\":\"3\""), "stall_id"},
    {WITH("\"prise_fen\":600"), "prise_fen"},
    {WITH("\"status\":\"off_sale\""), "status"},
};

START_TEST(test_each_bad_create_body_names_the_field_at_fault)
{
    for (size_t i = 0; i < sizeof(bad_creates) / sizeof(bad_creates[0]); i++) {
        json_t *b = t_json_text(bad_creates[i].body);
        product_input_t in;
        product_invalid_t bad = {"", NULL};
        ck_assert_msg(product_parse_create(b, &in, &bad) == -1, "case %zu accepted: %s", i, bad_creates[i].body);
        ck_assert_msg(strcmp(bad.field, bad_creates[i].field) == 0, "case %zu: field %s, want %s", i, bad.field,
                      bad_creates[i].field);
        ck_assert_ptr_nonnull(bad.reason);
        json_decref(b);
    }
}
END_TEST

START_TEST(test_names_are_bounded_in_code_points_not_bytes)
{
    char body[4096], name[1024];
    product_input_t in;
    product_invalid_t bad;
    /* 100 Chinese characters (300 bytes) pass; 101 do not; nor do 10 KB of ASCII. */
    name[0] = '\0';
    for (int i = 0; i < 100; i++)
        strcat(name, "菜");
    snprintf(body, sizeof(body), "{\"name\":\"%s\"," BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK "}", name);
    json_t *b = t_json_text(body);
    ck_assert_int_eq(product_parse_create(b, &in, &bad), 0);
    json_decref(b);
    strcat(name, "菜");
    snprintf(body, sizeof(body), "{\"name\":\"%s\"," BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK "}", name);
    b = t_json_text(body);
    ck_assert_int_eq(product_parse_create(b, &in, &bad), -1);
    ck_assert_str_eq(bad.field, "name");
    json_decref(b);
    char *big = malloc(10240 + 1);
    memset(big, 'x', 10240);
    big[10240] = '\0';
    b = t_json_text("{" BASE_CAT "," BASE_CODE "," BASE_PRICE "," BASE_STOCK "}");
    json_object_set_new(b, "name", json_string(big));
    ck_assert_int_eq(product_parse_create(b, &in, &bad), -1);
    ck_assert_str_eq(bad.field, "name");
    ck_assert_str_eq(bad.reason, "too long");
    /* an unknown key of 10 KB is named, cut to fit, and stays UTF-8 */
    json_object_set_new(b, "name", json_string("菠菜"));
    memcpy(big, "键键键", 9);
    json_object_set_new(b, big, json_integer(1));
    ck_assert_int_eq(product_parse_create(b, &in, &bad), -1);
    json_t *field = json_string(bad.field); /* NULL unless valid UTF-8 */
    ck_assert_ptr_nonnull(field);
    json_decref(field);
    ck_assert(strncmp(bad.field, "键键键xx", 11) == 0);
    json_decref(b);
    free(big);
}
END_TEST

static const struct {
    const char *body, *field; /* field NULL: accepted */
    unsigned set;
} patches[] = {
    {"{}", "body", 0},
    {"{\"name\":\"别的\"}", "name", 0},
    {"{\"category\":\"fruit\"}", "category", 0},
    {"{\"commodity_code\":\"A02\"}", "commodity_code", 0},
    {"{\"stall_id\":2}", "stall_id", 0},
    {"{\"colour\":\"red\"}", "colour", 0},
    {"{\"status\":\"sold_out\"}", "status", 0},
    {"{\"status\":1}", "status", 0},
    {"{\"stock\":-5}", "stock", 0},
    {"{\"stock\":5,\"pricing\":{\"mode\":\"weight\",\"price_fen\":0,\"per_g\":500}}", "pricing.price_fen", 0},
    {"{\"stock\":5}", NULL, PRODUCT_F_STOCK},
    {"{\"status\":\"off_sale\"}", NULL, PRODUCT_F_STATUS},
    {"{\"origin\":null,\"trace_code\":null}", NULL, PRODUCT_F_ORIGIN | PRODUCT_F_TRACE},
    {"{\"pricing\":{\"mode\":\"count\",\"price_fen\":350,\"unit\":\"把\"},\"stock\":3}", NULL,
     PRODUCT_F_PRICING | PRODUCT_F_STOCK},
};

START_TEST(test_a_patch_takes_only_the_changeable_fields)
{
    for (size_t i = 0; i < sizeof(patches) / sizeof(patches[0]); i++) {
        json_t *b = t_json_text(patches[i].body);
        product_input_t in;
        product_invalid_t bad = {"", NULL};
        int rc = product_parse_patch(b, &in, &bad);
        if (patches[i].field == NULL) {
            ck_assert_msg(rc == 0, "case %zu refused: %s %s", i, bad.field, bad.reason);
            ck_assert_uint_eq(in.set, patches[i].set);
        } else {
            ck_assert_msg(rc == -1, "case %zu accepted", i);
            ck_assert_msg(strcmp(bad.field, patches[i].field) == 0, "case %zu: %s", i, bad.field);
        }
        json_decref(b);
    }
}
END_TEST

START_TEST(test_a_cursor_round_trips_and_a_tampered_one_is_refused)
{
    char c[CURSOR_MAX];
    int64_t key = -1, id = -1;
    ck_assert_int_eq(cursor_encode('p', 600, 12345, c, sizeof(c)), 0);
    ck_assert_int_eq(strspn(c, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), strlen(c));
    ck_assert_int_eq(cursor_decode(c, 'p', &key, &id), 0);
    ck_assert_int_eq(key, 600);
    ck_assert_int_eq(id, 12345);
    ck_assert_int_eq(cursor_decode(c, 's', &key, &id), -1); /* another sort's cursor */
    ck_assert_int_eq(cursor_encode('s', 999999999999LL, 9007199254740992LL, c, sizeof(c)), 0);
    ck_assert_int_eq(cursor_decode(c, 's', &key, &id), 0);
    ck_assert_int_eq(key, 999999999999LL);
    ck_assert_int_eq(id, 9007199254740992LL);
    static const char *const bad[] = {"",
                                      "=",
                                      "!!!!",
                                      "aQ==",
                                      "a",
                                      "cDo2MDA",
                                      /* p:600 */ "cDo2MDA6", /* p:600: */
                                      "cDotNjAwOjE",
                                      /* p:-600:1 */ "cDo2MDA6MA", /* p:600:0 */
                                      "cDo2MDA6MXg",
                                      /* p:600:1x */ "cDowNjAwOjE" /* p:0600:1 */};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(cursor_decode(bad[i], 'p', &key, &id) == -1, "accepted %s", bad[i]);
    char longer[200];
    memset(longer, 'A', sizeof(longer) - 1);
    longer[sizeof(longer) - 1] = '\0';
    ck_assert_int_eq(cursor_decode(longer, 'p', &key, &id), -1);
}
END_TEST

START_TEST(test_like_patterns_escape_the_wildcards)
{
    char like[64];
    ck_assert_int_eq(product_like_pattern("50%_off!", like, sizeof(like)), 0);
    ck_assert_str_eq(like, "%50!%!_off!!%");
}
END_TEST

START_TEST(test_dates_are_plus_eight_days)
{
    char d[MARKET_DATE_LEN];
    market_date(1700063999, d); /* 2023-11-15T15:59:59Z = 23:59:59 +08:00 */
    ck_assert_str_eq(d, "2023-11-15");
    market_date(1700064000, d); /* 16:00:00Z = midnight +08:00 */
    ck_assert_str_eq(d, "2023-11-16");
}
END_TEST

/* ================================================================ the database */

typedef struct {
    config_t cfg;
    db_t db;
    int64_t market, other_market;
    int64_t va, vb, vsus, vnostall; /* vendors: two active, one suspended, one without a stall */
    int64_t sa1, sa2, sb;           /* stalls: va has two, vb one */
} world_t;

static void exec(db_t *db, const char *sql, const db_param_t *p, size_t n, int64_t *id)
{
    uint64_t new_id = 0;
    ck_assert_msg(db_exec(db, sql, p, n, NULL, &new_id) == DB_OK, "%s: %s", sql, db->err);
    if (id != NULL)
        *id = (int64_t)new_id;
}

static int64_t add_market(db_t *db, const char *code)
{
    int64_t id;
    exec(db,
         "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
         " VALUES (?, '二七测试市场', '郑州市', 34.747700, 113.625400, '410103', '简介',"
         " '[\"郑州市标准化农贸市场\",\"放心市场\"]', '公平交易', '06:00-20:00')",
         (db_param_t[]){DB_STR(code)}, 1, &id);
    static const char *const cats[][4] = {
        {"veg", "蔬菜", "A01", NULL},
        {"veg-leafy", "叶菜类", "A010101", "veg"},
        {"veg-root", "根茎类", "A010201", "veg"},
        {"fruit", "水果", "A02", NULL},
        {"eggs", "禽蛋", "A04", NULL},
    };
    for (size_t i = 0; i < sizeof(cats) / sizeof(cats[0]); i++)
        exec(db,
             "INSERT INTO categories (market_id, code, name, commodity_code, parent_code, sort)"
             " VALUES (?, ?, ?, ?, ?, ?)",
             (db_param_t[]){DB_I64(id), DB_STR(cats[i][0]), DB_STR(cats[i][1]), DB_STR(cats[i][2]),
                            cats[i][3] ? DB_STR(cats[i][3]) : DB_NULL, DB_I64((int64_t)i)},
             6, NULL);
    return id;
}

static int64_t add_vendor(db_t *db, int64_t market, const char *name, const char *status)
{
    int64_t id;
    exec(db,
         "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level, status)"
         " VALUES (?, ?, '13800000000', '蔬菜零售', 'A', ?)",
         (db_param_t[]){DB_I64(market), DB_STR(name), DB_STR(status)}, 3, &id);
    return id;
}

static int64_t add_stall(db_t *db, int64_t market, const char *no, int64_t vendor)
{
    int64_t id;
    exec(db, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 3, 4, ?)",
         (db_param_t[]){DB_I64(market), DB_STR(no), vendor ? DB_I64(vendor) : DB_NULL}, 3, &id);
    return id;
}

static void world_open(world_t *w, const char *tag)
{
    char err[256];
    memset(w, 0, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    w->market = add_market(&w->db, "m1");
    w->other_market = add_market(&w->db, "m2");
    w->va = add_vendor(&w->db, w->market, "张三蔬菜", "active");
    w->vb = add_vendor(&w->db, w->market, "李四水果", "active");
    w->vsus = add_vendor(&w->db, w->market, "王五", "suspended");
    w->vnostall = add_vendor(&w->db, w->market, "赵六", "active");
    w->sa1 = add_stall(&w->db, w->market, "A01", w->va);
    w->sa2 = add_stall(&w->db, w->market, "A02", w->va);
    w->sb = add_stall(&w->db, w->market, "B01", w->vb);
    add_stall(&w->db, w->market, "C01", w->vsus);
    add_stall(&w->db, w->market, "D01", 0);
}

static void world_close(world_t *w)
{
    t_db_scratch_close(&w->db, &w->cfg);
}

/* Creates a product through the model; returns its id. */
static int64_t make(world_t *w, int64_t vendor, const char *body_text)
{
    json_t *b = t_json_text(body_text);
    product_input_t in;
    product_invalid_t bad;
    int64_t id = 0;
    ck_assert_msg(product_parse_create(b, &in, &bad) == 0, "%s: %s", bad.field, bad.reason);
    int rc = product_create(&w->db, w->market, vendor, &in, &id, NULL);
    ck_assert_msg(rc == DB_OK, "create: %d %s", rc, w->db.err);
    json_decref(b);
    return id;
}

static int64_t count_products(world_t *w)
{
    return t_db_i64(&w->db, "SELECT COUNT(*) FROM products", NULL, 0);
}

START_TEST(test_create_refuses_a_suspended_vendor_a_foreign_stall_and_an_unknown_category)
{
    world_t w;
    world_open(&w, "create");
    static const char ok[] = "{\"name\":\"菠菜\",\"category\":\"veg-leafy\",\"commodity_code\":\"A010101\","
                             "\"pricing\":{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":500},\"stock\":100}";
    char body[512];
    product_input_t in;
    product_invalid_t bad;
    int64_t id = 0;
    json_t *b = t_json_text(ok);
    ck_assert_int_eq(product_parse_create(b, &in, &bad), 0);
    ck_assert_int_eq(product_create(&w.db, w.market, w.vsus, &in, &id, NULL), SF_E_VENDOR_SUSPENDED);
    ck_assert_int_eq(product_create(&w.db, w.market, w.vnostall, &in, &id, NULL), SF_E_NO_STALL);
    ck_assert_int_eq(product_create(&w.db, w.other_market, w.va, &in, &id, NULL),
                     SF_E_VENDOR_SUSPENDED); /* not its market */
    in.stall_id = w.sb;                      /* vb's */
    ck_assert_int_eq(product_create(&w.db, w.market, w.va, &in, &id, NULL), SF_E_NOT_YOUR_STALL);
    in.stall_id = 0;
    in.category = "dairy";
    ck_assert_int_eq(product_create(&w.db, w.market, w.va, &in, &id, NULL), SF_E_UNKNOWN_CATEGORY);
    ck_assert_int_eq(count_products(&w), 0);
    ck_assert_int_eq(w.db.in_tx, 0);
    json_decref(b);

    /* Without stall_id: the vendor's first stall; with one: that stall. */
    id = make(&w, w.va, ok);
    json_t *p = NULL;
    ck_assert_int_eq(product_get(&w.db, id, w.market, w.va, &p), DB_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "stall_id")), w.sa1);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "vendor_id")), w.va);
    ck_assert_str_eq(json_string_value(json_object_get(p, "status")), "on_sale");
    ck_assert(json_is_null(json_object_get(p, "origin")));
    json_t *pr = json_object_get(p, "pricing");
    ck_assert_str_eq(json_string_value(json_object_get(pr, "mode")), "weight");
    ck_assert_int_eq(json_integer_value(json_object_get(pr, "price_fen")), 600);
    ck_assert_int_eq(json_integer_value(json_object_get(pr, "per_g")), 500);
    ck_assert_ptr_null(json_object_get(pr, "unit"));
    json_decref(p);
    snprintf(body, sizeof(body),
             "{\"name\":\"鸡蛋\",\"category\":\"eggs\",\"commodity_code\":\"A04\",\"stall_id\":%lld,"
             "\"pricing\":{\"mode\":\"count\",\"price_fen\":350,\"unit\":\"盒\"},\"stock\":12,"
             "\"origin\":\"410122\",\"trace_code\":\"T-1\"}",
             (long long)w.sa2);
    id = make(&w, w.va, body);
    ck_assert_int_eq(product_get(&w.db, id, w.market, w.va, &p), DB_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "stall_id")), w.sa2);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "pricing"), "unit")), "盒");
    ck_assert_ptr_null(json_object_get(json_object_get(p, "pricing"), "per_g"));
    ck_assert_str_eq(json_string_value(json_object_get(p, "origin")), "410122");
    ck_assert_str_eq(json_string_value(json_object_get(p, "trace_code")), "T-1");
    json_decref(p);
    /* another vendor does not see it */
    ck_assert_int_eq(product_get(&w.db, id, w.market, w.vb, &p), DB_NOROW);
    world_close(&w);
}
END_TEST

static void patch(world_t *w, int64_t vendor, int64_t id, const char *text, int want)
{
    json_t *b = t_json_text(text);
    product_input_t in;
    product_invalid_t bad;
    ck_assert_msg(product_parse_patch(b, &in, &bad) == 0, "%s: %s", bad.field, bad.reason);
    int rc = product_update(&w->db, w->market, vendor, id, &in, NULL);
    ck_assert_msg(rc == want, "patch %s: %d, want %d (%s)", text, rc, want, w->db.err);
    json_decref(b);
}

START_TEST(test_update_is_scoped_to_the_vendor_and_changes_only_what_it_names)
{
    world_t w;
    world_open(&w, "update");
    int64_t id =
        make(&w, w.va,
             "{\"name\":\"菠菜\",\"category\":\"veg-leafy\",\"commodity_code\":\"A010101\",\"origin\":\"410122\","
             "\"pricing\":{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":500},\"stock\":100}");
    patch(&w, w.vb, id, "{\"stock\":1,\"status\":\"off_sale\"}", DB_NOROW); /* another vendor */
    patch(&w, w.va, id + 1000, "{\"stock\":1}", DB_NOROW);                  /* no such product */
    patch(&w, w.vsus, id, "{\"stock\":1}", SF_E_VENDOR_SUSPENDED);
    json_t *p = NULL;
    ck_assert_int_eq(product_get(&w.db, id, w.market, w.va, &p), DB_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "stock")), 100);
    ck_assert_str_eq(json_string_value(json_object_get(p, "status")), "on_sale");
    json_decref(p);

    patch(&w, w.va, id, "{\"stock\":100}", DB_OK); /* changes nothing, still found */
    patch(&w, w.va, id, "{\"stock\":7,\"status\":\"off_sale\",\"origin\":null}", DB_OK);
    ck_assert_int_eq(product_get(&w.db, id, w.market, w.va, &p), DB_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "stock")), 7);
    ck_assert_str_eq(json_string_value(json_object_get(p, "status")), "off_sale");
    ck_assert(json_is_null(json_object_get(p, "origin")));
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(p, "pricing"), "mode")), "weight");
    json_decref(p);
    ck_assert_int_eq(product_get(&w.db, id, 0, 0, &p), DB_NOROW); /* off sale: not public */
    int64_t m = 0;
    ck_assert_int_eq(product_market_of(&w.db, id, &m), DB_NOROW);

    patch(&w, w.va, id, "{\"pricing\":{\"mode\":\"count\",\"price_fen\":250,\"unit\":\"把\"},\"status\":\"on_sale\"}",
          DB_OK);
    ck_assert_int_eq(product_get(&w.db, id, 0, 0, &p), DB_OK);
    json_t *pr = json_object_get(p, "pricing");
    ck_assert_str_eq(json_string_value(json_object_get(pr, "mode")), "count");
    ck_assert_int_eq(json_integer_value(json_object_get(pr, "price_fen")), 250);
    ck_assert_str_eq(json_string_value(json_object_get(pr, "unit")), "把");
    ck_assert_ptr_null(json_object_get(pr, "per_g"));
    ck_assert_int_eq(t_db_i64(&w.db, "SELECT COUNT(*) FROM products WHERE per_g IS NULL", NULL, 0), 1);
    json_decref(p);
    ck_assert_int_eq(product_market_of(&w.db, id, &m), DB_OK);
    ck_assert_int_eq(m, w.market);
    world_close(&w);
}
END_TEST

/* Inserts n products straight into the table (names 菜0..), prices with ties, sales too. */
static void fill(world_t *w, int n)
{
    for (int i = 0; i < n; i++) {
        char name[32];
        snprintf(name, sizeof(name), "菜%d", i);
        exec(&w->db,
             "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name, pricing_mode,"
             " price_fen, per_g, stock, sales_qty, status) VALUES (?, ?, ?, 'veg-leafy', 'A010101', ?, 'weight', ?,"
             " 500, 10, ?, 'on_sale')",
             (db_param_t[]){DB_I64(w->market), DB_I64(w->sa1), DB_I64(w->va), DB_STR(name), DB_I64(100 + (i * 7) % 5),
                            DB_I64((i * 3) % 4)},
             6, NULL);
    }
}

/* Walks every page of q; checks the order by the sort and that each id comes once. */
static size_t walk(world_t *w, product_query_t q)
{
    char cursor[CURSOR_MAX];
    int64_t seen[256], prev_key = -1, prev_id = 0;
    size_t n = 0;
    for (int pages = 0; pages < 100; pages++) {
        json_t *items = NULL;
        ck_assert_int_eq(product_list(&w->db, &q, &items, cursor, sizeof(cursor)), DB_OK);
        ck_assert_uint_le(json_array_size(items), q.limit);
        size_t i;
        json_t *it;
        json_array_foreach(items, i, it)
        {
            int64_t id = json_integer_value(json_object_get(it, "id"));
            int64_t key = q.sort == PRODUCT_SORT_PRICE
                              ? json_integer_value(json_object_get(json_object_get(it, "pricing"), "price_fen"))
                          : q.sort == PRODUCT_SORT_SALES ? -json_integer_value(json_object_get(it, "sales_qty"))
                                                         : 0;
            if (n > 0)
                ck_assert_msg(key > prev_key || (key == prev_key && id > prev_id), "out of order at %lld",
                              (long long)id);
            for (size_t k = 0; k < n; k++)
                ck_assert_msg(seen[k] != id, "id %lld twice", (long long)id);
            ck_assert_uint_lt(n, 256);
            seen[n++] = id;
            prev_key = key;
            prev_id = id;
        }
        json_decref(items);
        if (cursor[0] == '\0')
            return n;
        ck_assert_int_eq(cursor_decode(cursor, product_sort_kind(q.sort), &q.after_key, &q.after_id), 0);
        q.has_after = 1;
    }
    ck_abort_msg("more than 100 pages");
    return 0;
}

START_TEST(test_pages_visit_every_product_once_in_each_sort)
{
    world_t w;
    world_open(&w, "pages");
    fill(&w, 23);
    product_query_t q = {.market_id = w.market, .on_sale_only = 1, .limit = 5};
    for (product_sort_t s = PRODUCT_SORT_ID; s <= PRODUCT_SORT_SALES; s++) {
        q.sort = s;
        ck_assert_uint_eq(walk(&w, q), 23);
    }
    q.limit = 23; /* exactly one full page: no next cursor */
    q.sort = PRODUCT_SORT_PRICE;
    ck_assert_uint_eq(walk(&w, q), 23);
    q.limit = 100;
    ck_assert_uint_eq(walk(&w, q), 23);
    q.limit = 1;
    q.sort = PRODUCT_SORT_SALES;
    ck_assert_uint_eq(walk(&w, q), 23);
    q.market_id = w.other_market;
    ck_assert_uint_eq(walk(&w, q), 0);
    world_close(&w);
}
END_TEST

static size_t count_list(world_t *w, const product_query_t *q, const char *want_first)
{
    json_t *items = NULL;
    char cursor[CURSOR_MAX];
    ck_assert_int_eq(product_list(&w->db, q, &items, cursor, sizeof(cursor)), DB_OK);
    size_t n = json_array_size(items);
    if (want_first != NULL) {
        ck_assert_uint_gt(n, 0);
        ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "name")), want_first);
    }
    json_decref(items);
    return n;
}

START_TEST(test_filters_and_chinese_search_find_exactly_what_they_name)
{
    world_t w;
    world_open(&w, "filters");
    char body[512];
    static const char *const fmt = "{\"name\":\"%s\",\"category\":\"%s\",\"commodity_code\":\"A01\",\"stall_id\":%lld,"
                                   "\"pricing\":{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":500},\"stock\":5}";
    snprintf(body, sizeof(body), fmt, "西红柿", "veg-leafy", (long long)w.sa1);
    make(&w, w.va, body);
    snprintf(body, sizeof(body), fmt, "黄瓜", "veg-root", (long long)w.sa2);
    make(&w, w.va, body);
    snprintf(body, sizeof(body), fmt, "苹果", "fruit", (long long)w.sb);
    make(&w, w.vb, body);
    snprintf(body, sizeof(body), fmt, "五折_100%特价", "fruit", (long long)w.sb);
    int64_t off = make(&w, w.vb, body);
    snprintf(body, sizeof(body), fmt, "五折1100x特价", "fruit", (long long)w.sb);
    make(&w, w.vb, body);
    patch(&w, w.vb, off, "{\"status\":\"off_sale\"}", DB_OK);

    product_query_t q = {.market_id = w.market, .on_sale_only = 1, .limit = 20};
    ck_assert_uint_eq(count_list(&w, &q, NULL), 4); /* the off-sale one is hidden */
    q.q = "西红柿";
    ck_assert_uint_eq(count_list(&w, &q, "西红柿"), 1);
    q.q = "红";
    ck_assert_uint_eq(count_list(&w, &q, "西红柿"), 1);
    q.q = "%";
    ck_assert_uint_eq(count_list(&w, &q, NULL), 0); /* % is a character, not a wildcard */
    q.q = "_1";
    ck_assert_uint_eq(count_list(&w, &q, NULL), 0);
    q.on_sale_only = 0;
    q.q = "_100%";
    ck_assert_uint_eq(count_list(&w, &q, "五折_100%特价"), 1);
    q.q = NULL;
    q.on_sale_only = 1;
    q.category = "veg";
    ck_assert_uint_eq(count_list(&w, &q, "西红柿"), 2); /* veg and what is below it */
    q.category = "veg-root";
    ck_assert_uint_eq(count_list(&w, &q, "黄瓜"), 1);
    q.category = "nothing";
    ck_assert_uint_eq(count_list(&w, &q, NULL), 0);
    q.category = NULL;
    q.stall_id = w.sb;
    ck_assert_uint_eq(count_list(&w, &q, "苹果"), 2);
    q.stall_id = 0;
    q.vendor_id = w.vb;
    q.on_sale_only = 0;
    ck_assert_uint_eq(count_list(&w, &q, "苹果"), 3); /* the vendor sees its off-sale product */

    /* stalls: by category (products on sale below it), by stall number or vendor name */
    market_stall_query_t sq = {.market_id = w.market, .limit = 20};
    json_t *items = NULL;
    char cursor[CURSOR_MAX];
    ck_assert_int_eq(market_stalls(&w.db, &sq, &items, cursor, sizeof(cursor)), DB_OK);
    ck_assert_uint_eq(json_array_size(items), 5);
    json_t *last = json_array_get(items, 4); /* D01: nobody trades there */
    ck_assert_str_eq(json_string_value(json_object_get(last, "stall_no")), "D01");
    ck_assert(json_is_null(json_object_get(last, "vendor")));
    ck_assert(json_is_null(json_object_get(last, "rating")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(last, "map"), "x")), 3);
    json_decref(items);
    sq.category = "veg";
    ck_assert_int_eq(market_stalls(&w.db, &sq, &items, cursor, sizeof(cursor)), DB_OK);
    ck_assert_uint_eq(json_array_size(items), 2);
    json_decref(items);
    sq.category = NULL;
    sq.q = "李四";
    ck_assert_int_eq(market_stalls(&w.db, &sq, &items, cursor, sizeof(cursor)), DB_OK);
    ck_assert_uint_eq(json_array_size(items), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(json_array_get(items, 0), "vendor"), "name")),
                     "李四水果");
    json_decref(items);
    sq.q = "A0";
    sq.limit = 1;
    ck_assert_int_eq(market_stalls(&w.db, &sq, &items, cursor, sizeof(cursor)), DB_OK);
    ck_assert_uint_eq(json_array_size(items), 1);
    ck_assert_str_ne(cursor, "");
    json_decref(items);
    world_close(&w);
}
END_TEST

START_TEST(test_the_stall_record_shows_licences_and_flags_expired_certificates)
{
    world_t w;
    world_open(&w, "stall");
    exec(&w.db,
         "INSERT INTO vendor_licences (market_id, vendor_id, type, number, valid_until) VALUES (?, ?,"
         " 'business_licence', '91410100MA000001', '2030-01-01')",
         (db_param_t[]){DB_I64(w.market), DB_I64(w.va)}, 2, NULL);
    static const char *const staff[][2] = {{"张三", "2026-11-30"}, {"李四", "2026-11-29"}, {"王五", "2026-12-01"}};
    for (size_t i = 0; i < 3; i++)
        exec(&w.db,
             "INSERT INTO vendor_staff (market_id, vendor_id, name, certificate, valid_until) VALUES (?, ?, ?,"
             " 'JK-1', ?)",
             (db_param_t[]){DB_I64(w.market), DB_I64(w.va), DB_STR(staff[i][0]), DB_STR(staff[i][1])}, 4, NULL);
    exec(&w.db, "UPDATE stalls SET rating_sum = 14, rating_count = 3 WHERE id = ?", (db_param_t[]){DB_I64(w.sa1)}, 1,
         NULL);
    json_t *s = NULL;
    ck_assert_int_eq(market_stall_get(&w.db, w.sa1, "2026-11-30", &s), DB_OK);
    ck_assert_double_eq_tol(json_real_value(json_object_get(s, "rating")), 4.7, 1e-9); /* 4.666... */
    json_t *v = json_object_get(s, "vendor");
    ck_assert_str_eq(json_string_value(json_object_get(v, "name")), "张三蔬菜");
    ck_assert_str_eq(json_string_value(json_object_get(v, "contact_phone")), "13800000000");
    ck_assert_str_eq(json_string_value(json_object_get(v, "business_scope")), "蔬菜零售");
    ck_assert_str_eq(json_string_value(json_object_get(v, "credit_level")), "A");
    json_t *lic = json_object_get(v, "licences");
    ck_assert_uint_eq(json_array_size(lic), 1);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lic, 0), "valid_until")), "2030-01-01");
    json_t *st = json_object_get(v, "staff");
    ck_assert_uint_eq(json_array_size(st), 3);
    ck_assert(json_is_true(json_object_get(json_array_get(st, 0), "valid"))); /* through its last day */
    ck_assert(json_is_false(json_object_get(json_array_get(st, 1), "valid")));
    ck_assert(json_is_true(json_object_get(json_array_get(st, 2), "valid")));
    json_decref(s);
    int64_t m = 0;
    ck_assert_int_eq(market_stall_market(&w.db, w.sa1, &m), DB_OK);
    ck_assert_int_eq(m, w.market);
    ck_assert_int_eq(market_stall_get(&w.db, w.sa1 + 1000, "2026-11-30", &s), DB_NOROW);
    world_close(&w);
}
END_TEST

START_TEST(test_the_category_tree_nests_children_and_survives_a_cycle)
{
    world_t w;
    world_open(&w, "tree");
    json_t *tree = NULL;
    ck_assert_int_eq(market_categories(&w.db, w.market, &tree), DB_OK);
    char *text = json_dumps(tree, JSON_COMPACT);
    ck_assert_str_eq(text,
                     "[{\"code\":\"veg\",\"name\":\"蔬菜\",\"commodity_code\":\"A01\",\"children\":["
                     "{\"code\":\"veg-leafy\",\"name\":\"叶菜类\",\"commodity_code\":\"A010101\",\"children\":[]},"
                     "{\"code\":\"veg-root\",\"name\":\"根茎类\",\"commodity_code\":\"A010201\",\"children\":[]}]},"
                     "{\"code\":\"fruit\",\"name\":\"水果\",\"commodity_code\":\"A02\",\"children\":[]},"
                     "{\"code\":\"eggs\",\"name\":\"禽蛋\",\"commodity_code\":\"A04\",\"children\":[]}]");
    free(text);
    json_decref(tree);
    /* bad data: veg under veg-root under veg. Both surface as roots; nothing loops. */
    exec(&w.db, "UPDATE categories SET parent_code = 'veg-root' WHERE market_id = ? AND code = 'veg'",
         (db_param_t[]){DB_I64(w.market)}, 1, NULL);
    ck_assert_int_eq(market_categories(&w.db, w.market, &tree), DB_OK);
    ck_assert_uint_eq(json_array_size(tree), 5);
    json_decref(tree);
    product_query_t q = {.market_id = w.market, .on_sale_only = 1, .limit = 5, .category = "veg"};
    ck_assert_uint_eq(count_list(&w, &q, NULL), 0); /* the recursive filter ends too */
    world_close(&w);
}
END_TEST

START_TEST(test_the_market_profile_has_honours_stall_count_and_the_latest_notices)
{
    world_t w;
    world_open(&w, "profile");
    for (int i = 0; i < 12; i++) {
        char title[32];
        snprintf(title, sizeof(title), "通知%d", i);
        exec(&w.db,
             "INSERT INTO notices (market_id, title, body, created_by, published_at) VALUES (?, ?, '内容', 1,"
             " TIMESTAMP('2026-11-30 00:00:00.123') + INTERVAL ? MINUTE)",
             (db_param_t[]){DB_I64(w.market), DB_STR(title), DB_I64(i)}, 3, NULL);
    }
    json_t *m = NULL;
    ck_assert_int_eq(market_get(&w.db, w.market, &m), DB_OK);
    ck_assert_str_eq(json_string_value(json_object_get(m, "name")), "二七测试市场");
    ck_assert_double_eq_tol(json_real_value(json_object_get(m, "lat")), 34.7477, 1e-9);
    ck_assert_double_eq_tol(json_real_value(json_object_get(m, "lng")), 113.6254, 1e-9);
    ck_assert_str_eq(json_string_value(json_object_get(m, "area_code")), "410103");
    ck_assert_int_eq(json_integer_value(json_object_get(m, "stall_count")), 5);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "honours"), 1)), "放心市场");
    json_t *n = json_object_get(m, "notices");
    ck_assert_uint_eq(json_array_size(n), 10);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(n, 0), "title")), "通知11");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(n, 0), "published_at")),
                     "2026-11-30T08:11:00.123+08:00");
    json_decref(m);
    ck_assert_int_eq(market_get(&w.db, w.market + 1000, &m), DB_NOROW);
    ck_assert_int_eq(market_exists(&w.db, w.market + 1000), DB_NOROW);
    ck_assert_int_eq(market_exists(&w.db, w.other_market), DB_OK);

    exec(&w.db,
         "INSERT INTO guide_prices (market_id, date, commodity_code, name, price_fen, per_g) VALUES"
         " (?, '2026-11-30', 'A010101', '菠菜', 500, 500), (?, '2026-11-29', 'A010101', '菠菜', 450, 500),"
         " (?, '2026-11-30', 'A02', '苹果', 800, 500)",
         (db_param_t[]){DB_I64(w.market), DB_I64(w.market), DB_I64(w.market)}, 3, NULL);
    json_t *items = NULL, *g = NULL;
    ck_assert_int_eq(market_guide_prices(&w.db, w.market, "2026-11-30", &items), DB_OK);
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "commodity_code")), "A010101");
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "price_fen")), 500);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(items, 0), "date")), "2026-11-30");
    json_decref(items);
    ck_assert_int_eq(market_guide_price(&w.db, w.market, "A010101", "2026-11-29", &g), DB_OK);
    ck_assert_int_eq(json_integer_value(json_object_get(g, "price_fen")), 450);
    json_decref(g);
    ck_assert_int_eq(market_guide_price(&w.db, w.other_market, "A010101", "2026-11-29", &g), DB_NOROW);

    ck_assert_int_eq(market_list(&w.db, 1, 0, &items, (char[CURSOR_MAX]){0}, CURSOR_MAX), DB_OK);
    ck_assert_uint_eq(json_array_size(items), 1);
    json_decref(items);
    world_close(&w);
}
END_TEST

static Suite *product_suite(void)
{
    Suite *s = suite_create("product");
    TCase *pure = tcase_create("validation");
    tcase_add_test(pure, test_a_weighed_product_is_read_field_by_field);
    tcase_add_test(pure, test_each_bad_create_body_names_the_field_at_fault);
    tcase_add_test(pure, test_names_are_bounded_in_code_points_not_bytes);
    tcase_add_test(pure, test_a_patch_takes_only_the_changeable_fields);
    tcase_add_test(pure, test_a_cursor_round_trips_and_a_tampered_one_is_refused);
    tcase_add_test(pure, test_like_patterns_escape_the_wildcards);
    tcase_add_test(pure, test_dates_are_plus_eight_days);
    suite_add_tcase(s, pure);
    TCase *db = tcase_create("database");
    tcase_set_timeout(db, 60);
    tcase_add_test(db, test_create_refuses_a_suspended_vendor_a_foreign_stall_and_an_unknown_category);
    tcase_add_test(db, test_update_is_scoped_to_the_vendor_and_changes_only_what_it_names);
    tcase_add_test(db, test_pages_visit_every_product_once_in_each_sort);
    tcase_add_test(db, test_filters_and_chinese_search_find_exactly_what_they_name);
    tcase_add_test(db, test_the_stall_record_shows_licences_and_flags_expired_certificates);
    tcase_add_test(db, test_the_category_tree_nests_children_and_survives_a_cycle);
    tcase_add_test(db, test_the_market_profile_has_honours_stall_count_and_the_latest_notices);
    suite_add_tcase(s, db);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_product"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tprod_%d", (int)getpid());
    db_library_init();
    int failed = t_run(product_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
