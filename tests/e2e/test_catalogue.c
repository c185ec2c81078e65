/*
 * End to end: the public catalogue (markets, stalls with the vendor's public record,
 * categories, products, guide prices, rankings) from the real binary over h2c, against the
 * test MariaDB and Redis. Each test makes its own market (t_fixture_market) and fills it
 * with SQL before its first read, so the server's catalogue cache never holds an answer
 * older than the data; a test that changes rows after reading bumps the market's version,
 * as every writer in the product does.
 */
#include <check.h>
#include <curl/curl.h>
#include <regex.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <time.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "models/cachever.h"
#include "models/market.h"
#include "models/store/redis.h"
#include "tests/support/testutil.h"

static const char *const test_env[] = {NULL};
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

typedef struct {
    t_market_t m;
    config_t cfg;
    db_t db;
    int64_t va, vb;                  /* vendors: 张三蔬菜, 李四水果 */
    int64_t sa, sb, sfree;           /* stalls: va's, vb's, nobody's */
    int64_t tomato, cucumber, apple; /* products on sale */
    int64_t eggs;                    /* by count */
    int64_t hidden;                  /* off sale */
    char today[MARKET_DATE_LEN];
} world_t;

static int64_t sql(world_t *w, const char *text, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(&w->db, text, p, n, NULL, &id) == DB_OK, "%s: %s", text, w->db.err);
    return (int64_t)id;
}

static int64_t vendor(world_t *w, const char *name, const char *credit)
{
    return sql(w,
               "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level) VALUES (?, ?,"
               " '13800000001', '蔬菜、水果零售', ?)",
               (db_param_t[]){DB_I64(w->m.market_id), DB_STR(name), DB_STR(credit)}, 3);
}

static int64_t stall(world_t *w, const char *no, int64_t vendor_id, int64_t rsum, int64_t rcount)
{
    return sql(w,
               "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id, rating_sum, rating_count)"
               " VALUES (?, ?, '蔬菜区', 12, 34, ?, ?, ?)",
               (db_param_t[]){DB_I64(w->m.market_id), DB_STR(no), vendor_id ? DB_I64(vendor_id) : DB_NULL, DB_I64(rsum),
                              DB_I64(rcount)},
               5);
}

static int64_t product(world_t *w, int64_t stall_id, int64_t vendor_id, const char *name, const char *category,
                       const char *code, int64_t price, int64_t sales, const char *status)
{
    return sql(w,
               "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name, pricing_mode,"
               " price_fen, per_g, stock, sales_qty, status, origin) VALUES (?, ?, ?, ?, ?, ?, 'weight', ?, 500,"
               " 10000, ?, ?, '410122')",
               (db_param_t[]){DB_I64(w->m.market_id), DB_I64(stall_id), DB_I64(vendor_id), DB_STR(category),
                              DB_STR(code), DB_STR(name), DB_I64(price), DB_I64(sales), DB_STR(status)},
               9);
}

static void world_up(world_t *w)
{
    memset(w, 0, sizeof(*w));
    t_fixture_market(&w->m);
    t_load_cfg(&w->cfg);
    db_thread_init();
    ck_assert_msg(db_open(&w->db, &w->cfg) == DB_OK, "db: %s", w->db.err);
    market_date(0, w->today);
    w->va = vendor(w, "张三蔬菜", "A");
    w->vb = vendor(w, "李四水果", "B");
    w->sa = stall(w, "A-01", w->va, 14, 3);
    w->sb = stall(w, "B-01", w->vb, 0, 0);
    w->sfree = stall(w, "C-01", 0, 0, 0);
    w->tomato = product(w, w->sa, w->va, "西红柿", "veg-leafy", "A010101", 600, 5, "on_sale");
    w->cucumber = product(w, w->sa, w->va, "黄瓜", "veg-root", "A010201", 400, 9, "on_sale");
    w->apple = product(w, w->sb, w->vb, "红富士苹果", "fruit", "A02", 800, 9, "on_sale");
    w->hidden = product(w, w->sb, w->vb, "西红柿(下架)", "veg-leafy", "A010101", 500, 0, "off_sale");
    w->eggs = sql(w,
                  "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                  " pricing_mode, price_fen, unit, stock) VALUES (?, ?, ?, 'eggs', 'A04', '土鸡蛋', 'count', 350,"
                  " '盒', 20)",
                  (db_param_t[]){DB_I64(w->m.market_id), DB_I64(w->sb), DB_I64(w->vb)}, 3);
    sql(w,
        "INSERT INTO guide_prices (market_id, date, commodity_code, name, price_fen, per_g) VALUES"
        " (?, ?, 'A010101', '西红柿', 550, 500), (?, '2020-01-01', 'A02', '苹果', 700, 500)",
        (db_param_t[]){DB_I64(w->m.market_id), DB_STR(w->today), DB_I64(w->m.market_id)}, 3);
}

static void world_down(world_t *w)
{
    db_close(&w->db);
    config_free(&w->cfg);
}

/* Bumps the market's catalogue version, as a writer does after changing rows. */
static void bump(world_t *w)
{
    redis_t r;
    ck_assert_int_eq(redis_open(&r, &w->cfg), 0);
    ck_assert_int_eq(cachever_bump(&r, w->m.market_id, NULL), 0);
    redis_close(&r);
}

/* ---------------------------------------------------------------- HTTP helpers */

/* GET a path (printf-style) anonymously over h2c; the answer as JSON, status in *status. */
static json_t *get(long *status, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static json_t *get(long *status, const char *fmt, ...)
{
    char path[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(path, sizeof(path), fmt, ap);
    va_end(ap);
    tresp_t r;
    t_call(&shared, "GET", path, NULL, NULL, &r);
    ck_assert_int_eq(r.version, CURL_HTTP_VERSION_2_0);
    *status = r.status;
    json_t *doc = t_json(&r);
    ck_assert_msg(doc != NULL, "GET %s: not JSON: %s", path, r.body);
    if (r.status >= 400)
        ck_assert_msg(t_is_error(&r, r.status == 404   ? "not_found"
                                     : r.status == 422 ? "invalid"
                                                       : "internal"),
                      "GET %s: not the error shape: %s", path, r.body);
    t_resp_free(&r);
    return doc;
}

static json_t *get_ok(const char *path)
{
    long status;
    json_t *doc = get(&status, "%s", path);
    char *text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(status == 200, "GET %s: %ld %s", path, status, text);
    free(text);
    return doc;
}

/* GET that must fail with 422 naming `field`. */
static void get_invalid(const char *path, const char *field)
{
    long status;
    json_t *doc = get(&status, "%s", path);
    ck_assert_msg(status == 422, "GET %s: %ld", path, status);
    const char *f =
        json_string_value(json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "field"));
    ck_assert_msg(f != NULL && strcmp(f, field) == 0, "GET %s: field %s, want %s", path, f ? f : "(none)", field);
    json_decref(doc);
}

static void get_404(const char *path)
{
    long status;
    json_t *doc = get(&status, "%s", path);
    ck_assert_msg(status == 404, "GET %s: %ld", path, status);
    json_decref(doc);
}

/* Percent-encodes UTF-8 text for a query string. */
static void urlenc(const char *s, char *out, size_t outlen)
{
    size_t o = 0;
    for (; *s != '\0' && o + 4 < outlen; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '.')
            out[o++] = (char)c;
        else
            o += (size_t)snprintf(out + o, outlen - o, "%%%02X", c);
    }
    out[o] = '\0';
}

static json_t *items_of(json_t *doc)
{
    json_t *items = json_object_get(doc, "items");
    ck_assert_msg(json_is_array(items), "no items");
    ck_assert(json_object_get(doc, "next_cursor") != NULL);
    return items;
}

static int has_id(json_t *items, int64_t id)
{
    size_t i;
    json_t *it;
    json_array_foreach(items, i, it) if (json_integer_value(json_object_get(it, "id")) == id) return 1;
    return 0;
}

/* ---------------------------------------------------------------- markets */

START_TEST(test_a_market_is_listed_and_its_profile_has_honours_notices_and_stall_count)
{
    world_t w;
    world_up(&w);
    sql(&w, "UPDATE markets SET honours = '[\"郑州市标准化农贸市场\"]' WHERE id = ?",
        (db_param_t[]){DB_I64(w.m.market_id)}, 1);
    for (int i = 0; i < 12; i++)
        sql(&w,
            "INSERT INTO notices (market_id, title, body, created_by, published_at) VALUES (?, CONCAT('通知', ?),"
            " '今日休市', 1, UTC_TIMESTAMP(3) - INTERVAL ? MINUTE)",
            (db_param_t[]){DB_I64(w.m.market_id), DB_I64(i), DB_I64(100 - i)}, 3);
    /* walk the market list until ours turns up */
    char path[256] = "/v1/markets?limit=100";
    json_t *found = NULL;
    for (int pages = 0; pages < 1000 && found == NULL; pages++) {
        json_t *doc = get_ok(path), *it;
        size_t i;
        json_array_foreach(items_of(doc), i, it) if (json_integer_value(json_object_get(it, "id")) == w.m.market_id)
            found = json_incref(it);
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        ck_assert_msg(found != NULL || next != NULL, "market %lld not listed", (long long)w.m.market_id);
        if (next != NULL)
            snprintf(path, sizeof(path), "/v1/markets?limit=100&cursor=%s", next);
        json_decref(doc);
    }
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(json_string_value(json_object_get(found, "name")), "测试农贸市场");
    ck_assert(json_is_number(json_object_get(found, "lat")));
    ck_assert_double_eq_tol(json_number_value(json_object_get(found, "lat")), 34.7241, 1e-9);
    ck_assert_double_eq_tol(json_number_value(json_object_get(found, "lng")), 113.6254, 1e-9);
    ck_assert_str_eq(json_string_value(json_object_get(found, "area_code")), "410103");
    json_decref(found);

    snprintf(path, sizeof(path), "/v1/markets/%lld", (long long)w.m.market_id);
    json_t *m = get_ok(path);
    ck_assert_int_eq(json_integer_value(json_object_get(m, "stall_count")), 3);
    ck_assert_str_eq(json_string_value(json_array_get(json_object_get(m, "honours"), 0)), "郑州市标准化农贸市场");
    ck_assert_str_eq(json_string_value(json_object_get(m, "rules")), "be fair");
    ck_assert_str_eq(json_string_value(json_object_get(m, "open_hours")), "06:00-20:00");
    ck_assert_ptr_nonnull(json_string_value(json_object_get(m, "intro")));
    json_t *n = json_object_get(m, "notices");
    ck_assert_uint_eq(json_array_size(n), 10);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(n, 0), "title")), "通知11"); /* the latest */
    regex_t re;
    ck_assert_int_eq(regcomp(&re, "^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}\\.[0-9]{3}\\+08:00$",
                             REG_EXTENDED | REG_NOSUB),
                     0);
    const char *at = json_string_value(json_object_get(json_array_get(n, 0), "published_at"));
    ck_assert_msg(at != NULL && regexec(&re, at, 0, NULL, 0) == 0, "published_at %s", at);
    regfree(&re);
    json_decref(m);
    world_down(&w);
}
END_TEST

START_TEST(test_unknown_ids_are_404_on_every_public_read)
{
    world_t w;
    world_up(&w);
    static const char *const paths[] = {
        "/v1/markets/9007199254740000",
        "/v1/markets/abc",
        "/v1/markets/0",
        "/v1/markets/-1",
        "/v1/markets/99999999999999999999",
        "/v1/markets/9007199254740000/stalls",
        "/v1/markets/9007199254740000/categories",
        "/v1/markets/9007199254740000/products",
        "/v1/markets/9007199254740000/guide-prices",
        "/v1/markets/9007199254740000/rankings",
        "/v1/stalls/9007199254740000",
        "/v1/stalls/x",
        "/v1/products/9007199254740000",
        "/v1/products/1e3",
    };
    for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++)
        get_404(paths[i]);
    char path[128];
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)w.hidden); /* off sale: not public */
    get_404(path);
    world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- stalls */

START_TEST(test_stalls_are_listed_with_vendor_and_rating_and_filtered_by_category_and_name)
{
    world_t w;
    world_up(&w);
    char path[512], q[128];
    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls", (long long)w.m.market_id);
    json_t *doc = get_ok(path), *items = items_of(doc);
    ck_assert_uint_eq(json_array_size(items), 3);
    json_t *a = json_array_get(items, 0), *c = json_array_get(items, 2);
    ck_assert_str_eq(json_string_value(json_object_get(a, "stall_no")), "A-01");
    ck_assert_str_eq(json_string_value(json_object_get(a, "zone")), "蔬菜区");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(a, "map"), "x")), 12);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(a, "map"), "y")), 34);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(a, "vendor"), "id")), w.va);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "vendor"), "name")), "张三蔬菜");
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(a, "vendor"), "credit_level")), "A");
    ck_assert_double_eq_tol(json_number_value(json_object_get(a, "rating")), 4.7, 1e-9); /* 14 / 3 */
    ck_assert(json_is_null(json_object_get(c, "vendor")));
    ck_assert(json_is_null(json_object_get(c, "rating")));
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);

    /* veg covers veg-leafy and veg-root: only A-01 sells them on sale (B-01's is off sale) */
    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?category=veg", (long long)w.m.market_id);
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 1);
    ck_assert(has_id(items_of(doc), w.sa));
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?category=eggs", (long long)w.m.market_id);
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 1);
    ck_assert(has_id(items_of(doc), w.sb));
    json_decref(doc);
    urlenc("李四", q, sizeof(q));
    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?q=%s", (long long)w.m.market_id, q);
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 1);
    ck_assert(has_id(items_of(doc), w.sb));
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?q=C-0", (long long)w.m.market_id);
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 1);
    ck_assert(has_id(items_of(doc), w.sfree));
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?q=%%25", (long long)w.m.market_id); /* a literal % */
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 0);
    json_decref(doc);

    /* paging: one at a time, every stall once */
    char cursor[128] = "";
    int64_t seen[3];
    size_t n = 0;
    for (int page = 0; page < 5; page++) {
        snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?limit=1%s%s", (long long)w.m.market_id,
                 cursor[0] ? "&cursor=" : "", cursor);
        doc = get_ok(path);
        items = items_of(doc);
        ck_assert_uint_le(json_array_size(items), 1);
        if (json_array_size(items) == 1) {
            ck_assert_uint_lt(n, 3);
            seen[n++] = json_integer_value(json_object_get(json_array_get(items, 0), "id"));
        }
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        snprintf(cursor, sizeof(cursor), "%s", next ? next : "");
        json_decref(doc);
        if (cursor[0] == '\0')
            break;
    }
    ck_assert_uint_eq(n, 3);
    ck_assert(seen[0] == w.sa && seen[1] == w.sb && seen[2] == w.sfree);

    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?limit=0", (long long)w.m.market_id);
    get_invalid(path, "limit");
    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?cursor=bm90LWEtY3Vyc29y", (long long)w.m.market_id);
    get_invalid(path, "cursor");
    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?q=%%FF%%FE", (long long)w.m.market_id);
    get_invalid(path, "q");
    snprintf(path, sizeof(path), "/v1/markets/%lld/stalls?category=%%27%%20OR%%201", (long long)w.m.market_id);
    get_invalid(path, "category");
    world_down(&w);
}
END_TEST

START_TEST(test_a_stall_page_shows_the_vendor_record_and_which_certificates_are_valid)
{
    world_t w;
    world_up(&w);
    char yesterday[MARKET_DATE_LEN], path[128];
    market_date(time(NULL) - 24 * 3600, yesterday);
    sql(&w,
        "INSERT INTO vendor_licences (market_id, vendor_id, type, number, valid_until) VALUES"
        " (?, ?, 'business_licence', '91410103MA44XXXX1A', '2030-12-31'),"
        " (?, ?, 'food_business_licence', 'JY14101030001234', '2029-06-30')",
        (db_param_t[]){DB_I64(w.m.market_id), DB_I64(w.va), DB_I64(w.m.market_id), DB_I64(w.va)}, 4);
    sql(&w,
        "INSERT INTO vendor_staff (market_id, vendor_id, name, certificate, valid_until) VALUES"
        " (?, ?, '张三', 'HC-001', ?), (?, ?, '张小三', 'HC-002', ?)",
        (db_param_t[]){DB_I64(w.m.market_id), DB_I64(w.va), DB_STR(w.today), DB_I64(w.m.market_id), DB_I64(w.va),
                       DB_STR(yesterday)},
        6);
    snprintf(path, sizeof(path), "/v1/stalls/%lld", (long long)w.sa);
    json_t *s = get_ok(path), *v = json_object_get(s, "vendor");
    ck_assert_str_eq(json_string_value(json_object_get(s, "stall_no")), "A-01");
    ck_assert_str_eq(json_string_value(json_object_get(v, "name")), "张三蔬菜");
    ck_assert_str_eq(json_string_value(json_object_get(v, "contact_phone")), "13800000001");
    ck_assert_str_eq(json_string_value(json_object_get(v, "business_scope")), "蔬菜、水果零售");
    ck_assert_str_eq(json_string_value(json_object_get(v, "credit_level")), "A");
    json_t *lic = json_object_get(v, "licences");
    ck_assert_uint_eq(json_array_size(lic), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lic, 1), "type")), "food_business_licence");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lic, 1), "number")), "JY14101030001234");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lic, 1), "valid_until")), "2029-06-30");
    json_t *staff = json_object_get(v, "staff");
    ck_assert_uint_eq(json_array_size(staff), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(staff, 0), "certificate")), "HC-001");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(staff, 0), "valid_until")), w.today);
    ck_assert(json_is_true(json_object_get(json_array_get(staff, 0), "valid"))); /* valid through today */
    ck_assert(json_is_false(json_object_get(json_array_get(staff, 1), "valid")));
    json_decref(s);
    snprintf(path, sizeof(path), "/v1/stalls/%lld", (long long)w.sfree);
    s = get_ok(path);
    ck_assert(json_is_null(json_object_get(s, "vendor")));
    json_decref(s);
    world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- categories, guide prices, rankings */

START_TEST(test_categories_come_as_a_tree)
{
    world_t w;
    world_up(&w);
    char path[128];
    snprintf(path, sizeof(path), "/v1/markets/%lld/categories", (long long)w.m.market_id);
    json_t *tree = get_ok(path);
    ck_assert(json_is_array(tree));
    json_t *veg = json_array_get(tree, 0);
    ck_assert_str_eq(json_string_value(json_object_get(veg, "code")), "veg");
    ck_assert_str_eq(json_string_value(json_object_get(veg, "name")), "蔬菜");
    ck_assert_str_eq(json_string_value(json_object_get(veg, "commodity_code")), "A01");
    json_t *kids = json_object_get(veg, "children");
    ck_assert_uint_eq(json_array_size(kids), 2);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(kids, 0), "code")), "veg-leafy");
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(kids, 0), "commodity_code")), "A010101");
    ck_assert_uint_eq(json_array_size(json_object_get(json_array_get(kids, 0), "children")), 0);
    ck_assert_uint_eq(json_array_size(tree), 6); /* veg, fruit, meat, eggs, aquatic, grain-oil */
    json_decref(tree);
    world_down(&w);
}
END_TEST

START_TEST(test_guide_prices_are_the_days_and_a_bad_date_is_422)
{
    world_t w;
    world_up(&w);
    char path[128];
    snprintf(path, sizeof(path), "/v1/markets/%lld/guide-prices", (long long)w.m.market_id);
    json_t *doc = get_ok(path), *items = items_of(doc);
    ck_assert_uint_eq(json_array_size(items), 1);
    json_t *g = json_array_get(items, 0);
    ck_assert_str_eq(json_string_value(json_object_get(g, "commodity_code")), "A010101");
    ck_assert_str_eq(json_string_value(json_object_get(g, "name")), "西红柿");
    ck_assert_int_eq(json_integer_value(json_object_get(g, "price_fen")), 550);
    ck_assert_int_eq(json_integer_value(json_object_get(g, "per_g")), 500);
    ck_assert_str_eq(json_string_value(json_object_get(g, "date")), w.today);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/markets/%lld/guide-prices?date=2020-01-01", (long long)w.m.market_id);
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items_of(doc), 0), "price_fen")), 700);
    json_decref(doc);
    static const char *const bad[] = {"2020-02-30", "yesterday", "2020-1-1", "%27", "2020-01-01T00:00"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        snprintf(path, sizeof(path), "/v1/markets/%lld/guide-prices?date=%s", (long long)w.m.market_id, bad[i]);
        get_invalid(path, "date");
    }
    world_down(&w);
}
END_TEST

START_TEST(test_rankings_check_the_period_and_are_empty_before_any_order)
{
    world_t w;
    world_up(&w);
    char path[128];
    static const char *const ok[] = {"", "?period=day", "?period=week", "?period=month"};
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof(path), "/v1/markets/%lld/rankings%s", (long long)w.m.market_id, ok[i]);
        json_t *doc = get_ok(path);
        ck_assert_uint_eq(json_array_size(items_of(doc)), 0);
        json_decref(doc);
    }
    snprintf(path, sizeof(path), "/v1/markets/%lld/rankings?period=year", (long long)w.m.market_id);
    get_invalid(path, "period");
    snprintf(path, sizeof(path), "/v1/markets/%lld/rankings?period=", (long long)w.m.market_id);
    get_invalid(path, "period");
    world_down(&w);
}
END_TEST

/* ---------------------------------------------------------------- products */

/* Walks /v1/markets/{id}/products?<query> with `limit` per page; the ids in order. */
static size_t walk(world_t *w, const char *query, int limit, int64_t *ids, size_t max)
{
    char path[512], cursor[128] = "";
    size_t n = 0;
    for (int page = 0; page < 50; page++) {
        snprintf(path, sizeof(path), "/v1/markets/%lld/products?limit=%d%s%s%s%s", (long long)w->m.market_id, limit,
                 query[0] ? "&" : "", query, cursor[0] ? "&cursor=" : "", cursor);
        json_t *doc = get_ok(path), *it;
        size_t i;
        ck_assert_uint_le(json_array_size(items_of(doc)), (size_t)limit);
        json_array_foreach(items_of(doc), i, it)
        {
            int64_t id = json_integer_value(json_object_get(it, "id"));
            for (size_t k = 0; k < n; k++)
                ck_assert_msg(ids[k] != id, "%s: id %lld twice", query, (long long)id);
            ck_assert_uint_lt(n, max);
            ids[n++] = id;
        }
        const char *next = json_string_value(json_object_get(doc, "next_cursor"));
        snprintf(cursor, sizeof(cursor), "%s", next ? next : "");
        json_decref(doc);
        if (cursor[0] == '\0')
            return n;
    }
    ck_abort_msg("too many pages");
    return 0;
}

START_TEST(test_product_pages_visit_every_product_once_in_each_sort)
{
    world_t w;
    world_up(&w);
    int64_t ids[64];
    /* on sale: tomato 600/sales 5, cucumber 400/9, apple 800/9, eggs 350/0 */
    ck_assert_uint_eq(walk(&w, "", 2, ids, 64), 4);
    ck_assert(ids[0] == w.tomato && ids[1] == w.cucumber && ids[2] == w.apple && ids[3] == w.eggs);
    ck_assert_uint_eq(walk(&w, "sort=price", 1, ids, 64), 4);
    ck_assert(ids[0] == w.eggs && ids[1] == w.cucumber && ids[2] == w.tomato && ids[3] == w.apple);
    ck_assert_uint_eq(walk(&w, "sort=sales", 3, ids, 64), 4);
    ck_assert(ids[0] == w.cucumber && ids[1] == w.apple && ids[2] == w.tomato && ids[3] == w.eggs);
    ck_assert_uint_eq(walk(&w, "sort=price", 100, ids, 64), 4);
    for (size_t i = 0; i < 4; i++)
        ck_assert(ids[i] != w.hidden);

    /* many more, so pages really turn: 40 products with tied prices and sales */
    for (int i = 0; i < 40; i++) {
        char name[32];
        snprintf(name, sizeof(name), "青菜%d", i);
        product(&w, w.sa, w.va, name, "veg-leafy", "A010101", 100 + i % 3, i % 4, "on_sale");
    }
    bump(&w);
    static const char *const sorts[] = {"", "sort=price", "sort=sales"};
    for (size_t s = 0; s < 3; s++)
        ck_assert_uint_eq(walk(&w, sorts[s], 7, ids, 64), 44);
    world_down(&w);
}
END_TEST

START_TEST(test_product_list_parameters_are_checked)
{
    world_t w;
    world_up(&w);
    char path[256], c[128];
    const long long m = (long long)w.m.market_id;
    static const char *const limits[] = {"0", "101", "-1", "abc", "1.5", "", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(limits) / sizeof(limits[0]); i++) {
        snprintf(path, sizeof(path), "/v1/markets/%lld/products?limit=%s", m, limits[i]);
        get_invalid(path, "limit");
    }
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?limit=100", m);
    json_decref(get_ok(path));
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?limit=1", m);
    json_decref(get_ok(path));
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?sort=name", m);
    get_invalid(path, "sort");
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?sort=", m);
    get_invalid(path, "sort");
    static const char *const stalls[] = {"0", "x", "-3", "1e2", "99999999999999999999"};
    for (size_t i = 0; i < sizeof(stalls) / sizeof(stalls[0]); i++) {
        snprintf(path, sizeof(path), "/v1/markets/%lld/products?stall_id=%s", m, stalls[i]);
        get_invalid(path, "stall_id");
    }
    static const char *const cursors[] = {"garbage!", "%00", "AAAA", "aTow", ""};
    for (size_t i = 0; i < sizeof(cursors) / sizeof(cursors[0]); i++) {
        snprintf(path, sizeof(path), "/v1/markets/%lld/products?cursor=%s", m, cursors[i]);
        get_invalid(path, "cursor");
    }
    /* a cursor of one sort is refused by another */
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?limit=1&sort=price", m);
    json_t *doc = get_ok(path);
    snprintf(c, sizeof(c), "%s", json_string_value(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?sort=sales&cursor=%s", m, c);
    get_invalid(path, "cursor");
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?cursor=%s", m, c);
    get_invalid(path, "cursor");
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?sort=price&cursor=%s", m, c);
    json_decref(get_ok(path));
    /* a 10 KB query value */
    char *big = malloc(10300);
    int n = snprintf(big, 10300, "/v1/markets/%lld/products?q=", m);
    memset(big + n, 'x', 10240);
    big[n + 10240] = '\0';
    get_invalid(big, "q");
    free(big);
    world_down(&w);
}
END_TEST

START_TEST(test_chinese_search_and_filters_find_exactly_what_they_name)
{
    world_t w;
    world_up(&w);
    char path[512], q[128];
    const long long m = (long long)w.m.market_id;
    urlenc("西红柿", q, sizeof(q));
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?q=%s", m, q);
    json_t *doc = get_ok(path), *items = items_of(doc);
    ck_assert_uint_eq(json_array_size(items), 1); /* not 黄瓜, not the off-sale 西红柿(下架) */
    ck_assert(has_id(items, w.tomato));
    json_decref(doc);
    urlenc("红", q, sizeof(q));
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?q=%s&sort=price", m, q);
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 2); /* 西红柿, 红富士苹果 */
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items_of(doc), 0), "id")), w.tomato);
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?q=%%25", m); /* % is literal */
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 0);
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?category=veg", m);
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 2);
    ck_assert(has_id(items_of(doc), w.tomato) && has_id(items_of(doc), w.cucumber));
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?category=veg-root", m);
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 1);
    ck_assert(has_id(items_of(doc), w.cucumber));
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/markets/%lld/products?stall_id=%lld", m, (long long)w.sb);
    doc = get_ok(path);
    ck_assert_uint_eq(json_array_size(items_of(doc)), 2); /* apple and eggs; the hidden one is not shown */
    ck_assert(has_id(items_of(doc), w.apple) && has_id(items_of(doc), w.eggs));
    json_decref(doc);
    world_down(&w);
}
END_TEST

START_TEST(test_a_product_carries_pricing_traceability_and_the_days_guide_price)
{
    world_t w;
    world_up(&w);
    char path[128];
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)w.tomato);
    json_t *p = get_ok(path);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "id")), w.tomato);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "stall_id")), w.sa);
    ck_assert_int_eq(json_integer_value(json_object_get(p, "vendor_id")), w.va);
    ck_assert_str_eq(json_string_value(json_object_get(p, "name")), "西红柿");
    ck_assert_str_eq(json_string_value(json_object_get(p, "category")), "veg-leafy");
    ck_assert_str_eq(json_string_value(json_object_get(p, "commodity_code")), "A010101");
    ck_assert_str_eq(json_string_value(json_object_get(p, "origin")), "410122");
    ck_assert(json_is_null(json_object_get(p, "trace_code")));
    ck_assert_str_eq(json_string_value(json_object_get(p, "status")), "on_sale");
    ck_assert_int_eq(json_integer_value(json_object_get(p, "stock")), 10000);
    json_t *pr = json_object_get(p, "pricing");
    ck_assert_str_eq(json_string_value(json_object_get(pr, "mode")), "weight");
    ck_assert_int_eq(json_integer_value(json_object_get(pr, "price_fen")), 600);
    ck_assert_int_eq(json_integer_value(json_object_get(pr, "per_g")), 500);
    json_t *g = json_object_get(p, "guide_price");
    ck_assert_int_eq(json_integer_value(json_object_get(g, "price_fen")), 550);
    ck_assert_int_eq(json_integer_value(json_object_get(g, "per_g")), 500);
    ck_assert_str_eq(json_string_value(json_object_get(g, "date")), w.today);
    json_decref(p);
    /* the apple's guide price is of 2020: not today's */
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)w.apple);
    p = get_ok(path);
    ck_assert(json_is_null(json_object_get(p, "guide_price")));
    json_decref(p);
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)w.eggs);
    p = get_ok(path);
    pr = json_object_get(p, "pricing");
    ck_assert_str_eq(json_string_value(json_object_get(pr, "mode")), "count");
    ck_assert_int_eq(json_integer_value(json_object_get(pr, "price_fen")), 350);
    ck_assert_str_eq(json_string_value(json_object_get(pr, "unit")), "盒");
    ck_assert_ptr_null(json_object_get(pr, "per_g"));
    json_decref(p);
    /* taken off sale (and the version bumped): gone from the public view */
    sql(&w, "UPDATE products SET status = 'off_sale' WHERE id = ?", (db_param_t[]){DB_I64(w.eggs)}, 1);
    bump(&w);
    /* the new version reaches every loop thread by pub/sub: within milliseconds, not at once */
    long status = 200;
    for (int i = 0; i < 50 && status == 200; i++) {
        json_t *doc = get(&status, "%s", path);
        json_decref(doc);
        if (status == 200)
            usleep(20000);
    }
    ck_assert_int_eq(status, 404);
    world_down(&w);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("catalogue");
    TCase *tc = tcase_create("catalogue");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_a_market_is_listed_and_its_profile_has_honours_notices_and_stall_count);
    tcase_add_test(tc, test_unknown_ids_are_404_on_every_public_read);
    tcase_add_test(tc, test_stalls_are_listed_with_vendor_and_rating_and_filtered_by_category_and_name);
    tcase_add_test(tc, test_a_stall_page_shows_the_vendor_record_and_which_certificates_are_valid);
    tcase_add_test(tc, test_categories_come_as_a_tree);
    tcase_add_test(tc, test_guide_prices_are_the_days_and_a_bad_date_is_422);
    tcase_add_test(tc, test_rankings_check_the_period_and_are_empty_before_any_order);
    tcase_add_test(tc, test_product_pages_visit_every_product_once_in_each_sort);
    tcase_add_test(tc, test_product_list_parameters_are_checked);
    tcase_add_test(tc, test_chinese_search_and_filters_find_exactly_what_they_name);
    tcase_add_test(tc, test_a_product_carries_pricing_traceability_and_the_days_guide_price);
    suite_add_tcase(su, tc);
    return t_main_shared(su, NULL, &shared, &shared_exit);
}
