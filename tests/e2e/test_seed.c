/*
 * `stallfront seed`: the real binary loads the demo market into a scratch database of this
 * run (sf_seed_<pid>, migrated by the binary), then the tests read it back with SQL, run the
 * seed again (nothing duplicated, the credentials file kept or rewritten so that it works),
 * break a run half-way (nothing left behind), and sign the demo accounts in over HTTP.
 * The tests run in order against one seeded database; each one that needs the market seeds
 * it first if it is not there, so any of them also runs alone.
 */
#include <check.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "models/cachever.h"
#include "models/kpi.h"
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/platclient.h"
#include "models/store/migrate.h"
#include "models/user.h"
#include "tests/support/testutil.h"

static char dbname[64]; /* the scratch database */
static char dir[512];   /* this run's directory under STALLFRONT_TEST_VAR: the seeds' cwd */
static char cred[640];  /* the credentials file the tests pass with --credentials */
static char outpath[640];

/* ---------------------------------------------------------------- helpers */

/* Runs `stallfront seed args` in dir against db (default: the scratch database) with extra
 * environment env; output into outpath. Returns the exit status. */
static int seed_in(const char *db, const char *env, const char *args)
{
    return t_sh("cd %s && STALLFRONT_DB_NAME=%s %s %s seed %s >%s 2>&1", dir, db, env, SF_BINARY, args, outpath);
}

static int seed(const char *args)
{
    return seed_in(dbname, "", args);
}

static char *slurp(const char *path)
{
    FILE *f = fopen(path, "r");
    if (f == NULL)
        return NULL;
    char *buf = calloc(1, 1 << 17);
    size_t n = buf != NULL ? fread(buf, 1, (1 << 17) - 1, f) : 0;
    (void)n;
    fclose(f);
    return buf;
}

static int output_has(const char *text)
{
    char *buf = slurp(outpath);
    int has = buf != NULL && strstr(buf, text) != NULL;
    free(buf);
    return has;
}

static void show_output(void)
{
    char *buf = slurp(outpath);
    fprintf(stderr, "--- stallfront seed said:\n%s---\n", buf ? buf : "(nothing)");
    free(buf);
}

static void open_db(db_t *db, config_t *cfg, const char *name)
{
    char err[256];
    t_load_cfg(cfg);
    ck_assert_msg(config_set(cfg, "db.name", name, err, sizeof(err)) == 0, "%s", err);
    db_thread_init();
    ck_assert_msg(db_open(db, cfg) == DB_OK, "connecting to %s: %s", name, db->err);
}

static void close_db(db_t *db, config_t *cfg)
{
    db_close(db);
    config_free(cfg);
    db_thread_end();
}

/* Today in +08:00, as the seed and the API count days. */
static void today(char out[11])
{
    time_t t = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

static int64_t q1(db_t *db, const char *sql, int64_t market_id)
{
    return t_db_i64(db, sql, (db_param_t[]){DB_I64(market_id)}, 1);
}

static int64_t demo_market_id(db_t *db)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT id FROM markets WHERE code = 'zz-demo-01'", NULL, 0, &rows);
    int64_t id = rc == DB_OK ? db_rows_i64(rows, 0) : 0;
    db_rows_free(rows);
    return id;
}

/* Seeds the scratch database unless the demo market is already there. */
static void ensure_seeded(void)
{
    config_t cfg;
    db_t db;
    open_db(&db, &cfg, dbname);
    int64_t id = demo_market_id(&db);
    close_db(&db, &cfg);
    if (id == 0) {
        char args[700];
        snprintf(args, sizeof(args), "--credentials %s", cred);
        int rc = seed(args);
        if (rc != 0)
            show_output();
        ck_assert_int_eq(rc, 0);
    }
}

static json_t *load_json(const char *path)
{
    json_error_t e;
    json_t *doc = json_load_file(path, 0, &e);
    ck_assert_msg(doc != NULL, "%s: %s (line %d)", path, e.text, e.line);
    return doc;
}

static int64_t jint(json_t *obj, const char *key)
{
    json_t *v = json_object_get(obj, key);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", key);
    return json_integer_value(v);
}

static const char *jstr(json_t *obj, const char *key)
{
    const char *v = json_string_value(json_object_get(obj, key));
    ck_assert_msg(v != NULL, "%s is not a string", key);
    return v;
}

/* 1 if password matches the stored hash of username. */
static int password_works(db_t *db, const char *username, const char *password)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT password_hash FROM users WHERE username = ?", (db_param_t[]){DB_STR(username)}, 1,
                          &rows);
    ck_assert_msg(rc == DB_OK, "no user %s: %d", username, rc);
    int ok = user_verify_password(password, db_rows_str(rows, 0, NULL)) == 1;
    db_rows_free(rows);
    return ok;
}

/* Checks a sample of the file's logins against the database: the operator, every seventh
 * vendor, every courier (each check is an scrypt, so not all 49). */
static void assert_logins_work(db_t *db, json_t *doc)
{
    json_t *op = json_object_get(doc, "operator");
    ck_assert_msg(password_works(db, jstr(op, "username"), jstr(op, "password")), "operator password");
    json_t *vendors = json_object_get(doc, "vendors"), *couriers = json_object_get(doc, "couriers");
    for (size_t i = 0; i < json_array_size(vendors); i += 7) {
        json_t *v = json_array_get(vendors, i);
        ck_assert_msg(password_works(db, jstr(v, "username"), jstr(v, "password")), "%s", jstr(v, "username"));
    }
    for (size_t i = 0; i < json_array_size(couriers); i++) {
        json_t *c = json_array_get(couriers, i);
        ck_assert_msg(password_works(db, jstr(c, "username"), jstr(c, "password")), "%s", jstr(c, "username"));
    }
}

typedef struct snapshot {
    int64_t v[21];
} snapshot_t;

static void take_snapshot(db_t *db, int64_t m, snapshot_t *s)
{
    char day[11];
    today(day);
    static const char *const sql[] = {
        "SELECT COUNT(*) FROM markets WHERE ? > 0",
        "SELECT COUNT(*) FROM categories WHERE market_id = ?",
        "SELECT COUNT(*) FROM stalls WHERE market_id = ?",
        "SELECT COUNT(*) FROM vendors WHERE market_id = ?",
        "SELECT COUNT(*) FROM vendor_licences WHERE market_id = ?",
        "SELECT COUNT(*) FROM vendor_staff WHERE market_id = ?",
        "SELECT COUNT(*) FROM products WHERE market_id = ?",
        "SELECT COUNT(*) FROM couriers WHERE market_id = ?",
        "SELECT COUNT(*) FROM notices WHERE market_id = ?",
        "SELECT COUNT(*) FROM users WHERE market_id = ?",
        "SELECT COALESCE(SUM(CRC32(password_hash)), 0) FROM users WHERE market_id = ?",
        "SELECT COALESCE(SUM(price_fen * 7 + stock), 0) FROM products WHERE market_id = ?",
        /* the history: made once */
        "SELECT COUNT(*) FROM orders WHERE market_id = ?",
        "SELECT COALESCE(SUM(paid_fen - refunded_fen), 0) FROM orders WHERE market_id = ?",
        "SELECT COUNT(*) FROM order_events WHERE market_id = ?",
        "SELECT COUNT(*) FROM refunds WHERE market_id = ?",
        "SELECT COUNT(*) FROM deliveries WHERE market_id = ?",
        "SELECT COUNT(*) FROM sale_line_versions WHERE market_id = ?",
        /* the second market */
        "SELECT COUNT(*) FROM orders WHERE market_id = (SELECT id FROM markets WHERE code = 'zz-demo-02') AND ? > 0",
        "SELECT COUNT(*) FROM users WHERE market_id = (SELECT id FROM markets WHERE code = 'zz-demo-02') AND ? > 0",
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++)
        s->v[i] = q1(db, sql[i], m);
    s->v[20] = t_db_i64(db, "SELECT COUNT(*) FROM guide_prices WHERE market_id = ? AND date = ?",
                        (db_param_t[]){DB_I64(m), DB_STR(day)}, 2);
}

/* ---------------------------------------------------------------- the first run */

START_TEST(test_first_seed_loads_the_market_and_writes_a_private_credentials_file)
{
    char args[700], day[11], line[64], tmp[700];
    struct stat st;
    config_t cfg;
    db_t db;
    snprintf(args, sizeof(args), "--credentials %s", cred);
    unlink(cred);
    int rc = seed(args);
    if (rc != 0)
        show_output();
    ck_assert_int_eq(rc, 0);
    ck_assert(output_has("seed: market 郑州市"));
    ck_assert(output_has("): created"));
    today(day);
    snprintf(line, sizeof(line), "seed: guide prices for %s: ", day);
    ck_assert(output_has(line));
    ck_assert(output_has("seed: wrote "));

    ck_assert_int_eq(stat(cred, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    snprintf(tmp, sizeof(tmp), "%s.tmp", cred);
    ck_assert_int_ne(access(tmp, F_OK), 0);

    open_db(&db, &cfg, dbname);
    int64_t m = demo_market_id(&db);
    ck_assert_int_gt(m, 0);
    json_t *doc = load_json(cred);
    ck_assert_int_eq(jint(doc, "market_id"), m);
    json_t *op = json_object_get(doc, "operator");
    ck_assert_str_eq(jstr(op, "username"), "operator");
    ck_assert_int_eq(strlen(jstr(op, "password")), 12);
    json_t *vendors = json_object_get(doc, "vendors"), *couriers = json_object_get(doc, "couriers");
    ck_assert_int_eq((int64_t)json_array_size(vendors), q1(&db, "SELECT COUNT(*) FROM vendors WHERE market_id = ?", m));
    ck_assert_int_ge(json_array_size(couriers), 5);
    for (size_t i = 0; i < json_array_size(vendors); i++) {
        json_t *v = json_array_get(vendors, i), *stalls = json_object_get(v, "stall_ids");
        ck_assert_int_eq(strlen(jstr(v, "password")), 12);
        ck_assert_msg(json_array_size(stalls) >= 1, "%s has no stalls", jstr(v, "username"));
        for (size_t k = 0; k < json_array_size(stalls); k++) {
            int64_t sid = json_integer_value(json_array_get(stalls, k));
            int64_t owner = t_db_i64(&db, "SELECT vendor_id FROM stalls WHERE id = ? AND market_id = ?",
                                     (db_param_t[]){DB_I64(sid), DB_I64(m)}, 2);
            ck_assert_int_eq(owner, jint(v, "vendor_id"));
        }
    }
    for (size_t i = 0; i < json_array_size(couriers); i++) {
        json_t *c = json_array_get(couriers, i);
        int64_t n = t_db_i64(&db, "SELECT COUNT(*) FROM couriers WHERE id = ? AND market_id = ?",
                             (db_param_t[]){DB_I64(jint(c, "courier_id")), DB_I64(m)}, 2);
        ck_assert_int_eq(n, 1);
    }
    assert_logins_work(&db, doc);
    json_decref(doc);
    close_db(&db, &cfg);
}
END_TEST

/* ---------------------------------------------------------------- what the market holds */

START_TEST(test_the_market_has_the_stalls_vendors_and_couriers_api_md_promises)
{
    config_t cfg;
    db_t db;
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    int64_t m = demo_market_id(&db);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM stalls WHERE market_id = ?", m), 40);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM stalls WHERE market_id = ? AND vendor_id IS NULL", m), 0);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM vendors WHERE market_id = ?", m), 40);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM couriers WHERE market_id = ?", m), 5);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM notices WHERE market_id = ?", m), 2);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(DISTINCT zone) FROM stalls WHERE market_id = ?", m), 6);
    /* No two stalls on the same spot of the map. */
    ck_assert_int_eq(q1(&db, "SELECT COUNT(DISTINCT map_x, map_y) FROM stalls WHERE market_id = ?", m),
                     q1(&db, "SELECT COUNT(*) FROM stalls WHERE market_id = ?", m));
    /* Every vendor trades at a stall and signs in; every courier signs in; one operator. */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM vendors v WHERE v.market_id = ? AND (NOT EXISTS (SELECT 1 FROM stalls s"
                        " WHERE s.vendor_id = v.id) OR NOT EXISTS (SELECT 1 FROM users u WHERE u.vendor_id = v.id"
                        " AND u.role = 'vendor' AND u.market_id = v.market_id AND u.password_hash IS NOT NULL))",
                        m),
                     0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM couriers c WHERE c.market_id = ? AND NOT EXISTS (SELECT 1 FROM users u"
                        " WHERE u.courier_id = c.id AND u.role = 'courier' AND u.market_id = c.market_id)",
                        m),
                     0);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM users WHERE market_id = ? AND role = 'operator'", m), 1);
    /* Vendors' public records: phones, 1-2 licences, 1-3 staff, credit levels spread. */
    ck_assert_int_eq(
        q1(&db, "SELECT COUNT(*) FROM vendors WHERE market_id = ? AND contact_phone NOT REGEXP '^1[3-9][0-9]{9}$'", m),
        0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM vendors v WHERE v.market_id = ? AND (SELECT COUNT(*) FROM"
                        " vendor_licences l WHERE l.vendor_id = v.id) NOT BETWEEN 1 AND 2",
                        m),
                     0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM vendors v WHERE v.market_id = ? AND (SELECT COUNT(*) FROM"
                        " vendor_staff s WHERE s.vendor_id = v.id) NOT BETWEEN 1 AND 3",
                        m),
                     0);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(DISTINCT credit_level) FROM vendors WHERE market_id = ?", m), 3);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM vendor_licences WHERE market_id = ? AND NOT ((type = 'business_licence'"
                        " AND number REGEXP '^9[12]410103[0-9A-Z]{10}$') OR (type = 'food_business_licence' AND"
                        " number REGEXP '^JY1410103[0-9]{7}$'))",
                        m),
                     0);
    /* Some certificates have lapsed, most have not; some licences run out within a month. */
    char day[11];
    today(day);
    db_param_t p[] = {DB_I64(m), DB_STR(day)};
    ck_assert_int_ge(t_db_i64(&db, "SELECT COUNT(*) FROM vendor_staff WHERE market_id = ? AND valid_until < ?", p, 2),
                     2);
    ck_assert_int_ge(t_db_i64(&db, "SELECT COUNT(*) FROM vendor_staff WHERE market_id = ? AND valid_until >= ?", p, 2),
                     40);
    ck_assert_int_ge(t_db_i64(&db,
                              "SELECT COUNT(*) FROM vendor_licences WHERE market_id = ? AND valid_until"
                              " BETWEEN ? AND ? + INTERVAL 30 DAY",
                              (db_param_t[]){DB_I64(m), DB_STR(day), DB_STR(day)}, 3),
                     1);
    close_db(&db, &cfg);
}
END_TEST

START_TEST(test_the_market_profile_is_a_zhengzhou_market_with_a_six_branch_category_tree)
{
    config_t cfg;
    db_t db;
    db_rows_t *rows = NULL;
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    int64_t m = demo_market_id(&db);
    ck_assert_int_eq(db_query_row(&db,
                                  "SELECT name, address, lat, lng, area_code, intro, honours, rules, open_hours"
                                  " FROM markets WHERE id = ?",
                                  (db_param_t[]){DB_I64(m)}, 1, &rows),
                     DB_OK);
    ck_assert_ptr_nonnull(strstr(db_rows_str(rows, 0, NULL), "郑州市"));
    ck_assert_ptr_nonnull(strstr(db_rows_str(rows, 1, NULL), "郑州市"));
    double lat = strtod(db_rows_str(rows, 2, NULL), NULL), lng = strtod(db_rows_str(rows, 3, NULL), NULL);
    ck_assert(lat > 34.6 && lat < 34.9 && lng > 113.5 && lng < 113.8);
    ck_assert_str_eq(db_rows_str(rows, 4, NULL), "410103");
    ck_assert_int_gt(strlen(db_rows_str(rows, 5, NULL)), 60);
    json_t *honours = json_loads(db_rows_str(rows, 6, NULL), 0, NULL);
    ck_assert_msg(json_is_array(honours) && json_array_size(honours) >= 1, "honours is a JSON array");
    for (size_t i = 0; i < json_array_size(honours); i++)
        ck_assert(json_is_string(json_array_get(honours, i)));
    json_decref(honours);
    ck_assert_int_gt(strlen(db_rows_str(rows, 7, NULL)), 20);
    ck_assert_str_eq(db_rows_str(rows, 8, NULL), "06:00-20:00");
    db_rows_free(rows);

    static const char *const tops[] = {"蔬菜", "水果", "肉类", "蛋类", "水产品", "粮油"};
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM categories WHERE market_id = ? AND parent_code IS NULL", m), 6);
    for (size_t i = 0; i < 6; i++)
        ck_assert_msg(t_db_i64(&db, "SELECT COUNT(*) FROM categories WHERE market_id = ? AND name = ?",
                               (db_param_t[]){DB_I64(m), DB_STR(tops[i])}, 2) == 1,
                      "category %s", tops[i]);
    static const char *const subs[] = {"叶菜类", "根茎类", "茄果类", "菌菇类", "猪肉", "牛羊肉", "禽肉"};
    for (size_t i = 0; i < sizeof(subs) / sizeof(subs[0]); i++)
        ck_assert_msg(t_db_i64(&db,
                               "SELECT COUNT(*) FROM categories WHERE market_id = ? AND name = ? AND parent_code"
                               " IS NOT NULL",
                               (db_param_t[]){DB_I64(m), DB_STR(subs[i])}, 2) == 1,
                      "category %s", subs[i]);
    /* Every parent exists; every child's commodity class lies within its parent's. */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM categories c WHERE c.market_id = ? AND c.parent_code IS NOT NULL AND"
                        " NOT EXISTS (SELECT 1 FROM categories p WHERE p.market_id = c.market_id AND"
                        " p.code = c.parent_code AND p.parent_code IS NULL)",
                        m),
                     0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM categories WHERE market_id = ? AND commodity_code NOT REGEXP"
                        " '^[0-9]{2,6}$'",
                        m),
                     0);
    close_db(&db, &cfg);
}
END_TEST

START_TEST(test_every_product_fits_its_category_its_pricing_mode_and_its_stalls_zone)
{
    config_t cfg;
    db_t db;
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    int64_t m = demo_market_id(&db);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ? AND status = 'on_sale'", m), 300);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM products p WHERE p.market_id = ? AND NOT EXISTS (SELECT 1 FROM"
                        " categories c WHERE c.market_id = p.market_id AND c.code = p.category)",
                        m),
                     0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM products p JOIN categories c ON c.market_id = p.market_id AND"
                        " c.code = p.category WHERE p.market_id = ? AND (p.commodity_code NOT REGEXP '^[0-9]{13}$'"
                        " OR p.commodity_code NOT LIKE CONCAT(c.commodity_code, '%'))",
                        m),
                     0);
    /* Weight products have per_g and no unit; count products a unit and no per_g. */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM products WHERE market_id = ? AND NOT ((pricing_mode = 'weight' AND"
                        " per_g > 0 AND unit IS NULL) OR (pricing_mode = 'count' AND unit <> '' AND per_g IS NULL))",
                        m),
                     0);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ? AND per_g = 500", m), 200);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ? AND per_g = 1000", m), 5);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ? AND pricing_mode = 'count'", m), 20);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ? AND (stock <= 0 OR price_fen <= 0)", m),
                     0);
    /* The product's vendor is its stall's; its category is one its zone sells. */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM products p JOIN stalls s ON s.id = p.stall_id WHERE p.market_id = ?"
                        " AND (s.vendor_id <> p.vendor_id OR s.market_id <> p.market_id)",
                        m),
                     0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM products p JOIN stalls s ON s.id = p.stall_id WHERE p.market_id = ?"
                        " AND NOT ((s.zone = '蔬菜区' AND (p.category LIKE 'veg-%' OR p.category = 'grain-soy'))"
                        " OR (s.zone = '水果区' AND p.category LIKE 'fruit-%')"
                        " OR (s.zone = '肉类区' AND p.category IN ('meat-pork', 'meat-beef-mutton'))"
                        " OR (s.zone = '水产区' AND p.category LIKE 'aquatic-%')"
                        " OR (s.zone = '粮油区' AND p.category LIKE 'grain-%')"
                        " OR (s.zone = '蛋禽区' AND (p.category LIKE 'egg-%' OR p.category = 'meat-poultry')))",
                        m),
                     0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM stalls s WHERE s.market_id = ? AND (SELECT COUNT(*) FROM products p"
                        " WHERE p.stall_id = s.id) < 5",
                        m),
                     0);
    /* Origins are GB/T 2260 codes; trace codes on some. */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM products WHERE market_id = ? AND (origin IS NULL OR origin NOT REGEXP"
                        " '^[1-6][0-9]{5}$')",
                        m),
                     0);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ? AND trace_code IS NOT NULL", m), 50);
    /* Real names at believable prices: 西红柿 3-5 yuan a jin (the odd anomaly aside). */
    static const char *const names[] = {"西红柿", "黄瓜", "大白菜", "土豆", "香菇", "香蕉", "猪五花肉",
                                        "排骨",   "鸡蛋", "草鱼",   "鲤鱼", "面粉", "豆腐"};
    for (size_t i = 0; i < sizeof(names) / sizeof(names[0]); i++)
        ck_assert_msg(t_db_i64(&db, "SELECT COUNT(*) FROM products WHERE market_id = ? AND name = ?",
                               (db_param_t[]){DB_I64(m), DB_STR(names[i])}, 2) >= 1,
                      "nobody sells %s", names[i]);
    ck_assert_int_le(q1(&db,
                        "SELECT COUNT(*) FROM products WHERE market_id = ? AND name = '西红柿' AND price_fen * 500 /"
                        " per_g NOT BETWEEN 300 AND 600",
                        m),
                     1);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ? AND name = '香蕉' AND unit <> '把'", m),
                     0);
    close_db(&db, &cfg);
}
END_TEST

START_TEST(test_guide_prices_cover_today_and_a_few_products_stray_far_from_them)
{
    config_t cfg;
    db_t db;
    char day[11];
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    int64_t m = demo_market_id(&db);
    today(day);
    db_param_t p[] = {DB_I64(m), DB_STR(day)};
    ck_assert_int_ge(t_db_i64(&db, "SELECT COUNT(*) FROM guide_prices WHERE market_id = ? AND date = ?", p, 2), 40);
    ck_assert_int_eq(t_db_i64(&db,
                              "SELECT COUNT(*) FROM guide_prices WHERE market_id = ? AND date = ? AND (per_g <> 500"
                              " OR price_fen <= 0)",
                              p, 2),
                     0);
    /* Every guide price is for something the market sells. */
    ck_assert_int_eq(t_db_i64(&db,
                              "SELECT COUNT(*) FROM guide_prices g WHERE g.market_id = ? AND g.date = ? AND NOT EXISTS"
                              " (SELECT 1 FROM products p WHERE p.market_id = g.market_id AND"
                              " p.commodity_code = g.commodity_code)",
                              p, 2),
                     0);
    /* Beyond the default band of 50 %: a few, not many. */
    const char *far = "SELECT COUNT(*) FROM products p JOIN guide_prices g ON g.market_id = p.market_id AND"
                      " g.commodity_code = p.commodity_code AND g.date = ? WHERE p.market_id = ? AND"
                      " p.pricing_mode = 'weight' AND ABS(p.price_fen * g.per_g / p.per_g - g.price_fen) >"
                      " g.price_fen * 0.5";
    int64_t n = t_db_i64(&db, far, (db_param_t[]){DB_STR(day), DB_I64(m)}, 2);
    ck_assert_int_ge(n, 2);
    ck_assert_int_le(n, 10);
    close_db(&db, &cfg);
}
END_TEST

/* ---------------------------------------------------------------- the history */

/* The +08:00 date `days` days from today. */
static void day_of(char out[11], int days)
{
    time_t t = time(NULL) + 8 * 3600 + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(out, 11, "%Y-%m-%d", &tm);
}

/* Orders of market m paid on date (+08:00). */
static int64_t orders_on(db_t *db, int64_t m, const char *date)
{
    return t_db_i64(db, "SELECT COUNT(*) FROM orders WHERE market_id = ? AND DATE(paid_at + INTERVAL 8 HOUR) = ?",
                    (db_param_t[]){DB_I64(m), DB_STR(date)}, 2);
}

/* Every finished order's money adds up: what the consumer paid less what was refunded is the
 * goods handed over (at their picked amounts) plus the delivery fee, or nothing for a
 * cancelled order; and the orders' money columns equal their payments and refunds rows. */
static void assert_money_adds_up(db_t *db, int64_t m)
{
    ck_assert_int_eq(q1(db,
                        "SELECT COUNT(*) FROM orders o WHERE o.market_id = ? AND o.paid_fen - o.refunded_fen <>"
                        " IF(o.status = 'cancelled', 0, o.delivery_fee_fen + (SELECT COALESCE(SUM(l.amount_actual_fen),"
                        " -1000000) FROM order_lines l JOIN vendor_orders v ON v.id = l.vendor_order_id"
                        " WHERE l.order_id = o.id AND v.status = 'handed_over'))",
                        m),
                     0);
    /* and in total: what the market took is the goods handed over plus the delivery fees */
    ck_assert_int_eq(t_db_i64(db,
                              "SELECT COALESCE(SUM(o.paid_fen - o.refunded_fen), 0) - (SELECT"
                              " COALESCE(SUM(l.amount_actual_fen), 0) FROM order_lines l JOIN vendor_orders v"
                              " ON v.id = l.vendor_order_id WHERE l.market_id = ? AND v.status = 'handed_over')"
                              " - (SELECT COALESCE(SUM(delivery_fee_fen), 0) FROM orders WHERE market_id = ?"
                              " AND status = 'delivered') FROM orders o WHERE o.market_id = ?",
                              (db_param_t[]){DB_I64(m), DB_I64(m), DB_I64(m)}, 3),
                     0);
    ck_assert_int_gt(q1(db, "SELECT COALESCE(SUM(paid_fen), 0) FROM orders WHERE market_id = ?", m), 0);
    ck_assert_int_eq(q1(db,
                        "SELECT COUNT(*) FROM orders o WHERE o.market_id = ? AND (o.paid_fen <> (SELECT"
                        " COALESCE(SUM(amount_fen), 0) FROM payments p WHERE p.order_id = o.id AND p.status = 'paid')"
                        " OR o.refunded_fen <> (SELECT COALESCE(SUM(amount_fen), 0) FROM refunds r WHERE r.order_id ="
                        " o.id AND r.status = 'succeeded'))",
                        m),
                     0);
    /* Every refund was settled, as the refund worker settles them. */
    ck_assert_int_eq(q1(db, "SELECT COUNT(*) FROM refunds WHERE market_id = ? AND status <> 'succeeded'", m), 0);
}

/* Every delivered order was paid, then ready (its last stall), then delivered by a courier,
 * in realistic minutes. */
static void assert_delivery_times(db_t *db, int64_t m)
{
    static const char ready[] = "(SELECT MAX(e.created_at) FROM order_events e WHERE e.order_id = o.id"
                                " AND e.vendor_order_id IS NOT NULL AND e.to_status = 'ready')";
    char sql[2048];
    snprintf(sql, sizeof(sql),
             "SELECT COUNT(*) FROM orders o LEFT JOIN deliveries d ON d.order_id = o.id WHERE o.market_id = ?"
             " AND o.status = 'delivered' AND NOT (d.status = 'delivered' AND d.courier_id IS NOT NULL"
             " AND d.delivered_at > %s AND %s > o.paid_at AND o.paid_at > o.created_at"
             " AND TIMESTAMPDIFF(SECOND, o.paid_at, %s) BETWEEN 600 AND 2460"
             " AND TIMESTAMPDIFF(SECOND, %s, d.delivered_at) BETWEEN 900 AND 3720"
             " AND d.picked_up_at BETWEEN %s AND d.delivered_at)",
             ready, ready, ready, ready, ready);
    ck_assert_int_eq(q1(db, sql, m), 0);
    /* the event log says the same as the rows */
    ck_assert_int_eq(q1(db,
                        "SELECT COUNT(*) FROM orders o JOIN deliveries d ON d.order_id = o.id WHERE o.market_id = ?"
                        " AND NOT EXISTS (SELECT 1 FROM order_events e WHERE e.order_id = o.id AND e.delivery_id = d.id"
                        " AND e.to_status = 'delivered' AND e.created_at = d.delivered_at)",
                        m),
                     0);
}

START_TEST(test_the_demo_market_has_a_week_of_realistic_completed_orders)
{
    config_t cfg;
    db_t db;
    char day[11];
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    int64_t m = demo_market_id(&db);
    /* A believable day of orders on each of the last 7 days, more at the weekend; none today. */
    for (int d = 1; d <= 7; d++) {
        day_of(day, -d);
        int64_t n = orders_on(&db, m, day);
        ck_assert_msg(n >= 40 && n <= 120, "%s: %" PRId64 " orders", day, n);
    }
    day_of(day, -8);
    ck_assert_int_eq(orders_on(&db, m, day), 0);
    day_of(day, 0);
    ck_assert_int_eq(orders_on(&db, m, day), 0);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM orders WHERE market_id = ? AND paid_at IS NULL", m), 0);
    /* Every order is finished: delivered, or cancelled (the consumer, or every stall rejecting). */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM orders WHERE market_id = ? AND status NOT IN ('delivered',"
                        " 'cancelled')",
                        m),
                     0);
    int64_t all = q1(&db, "SELECT COUNT(*) FROM orders WHERE market_id = ?", m);
    int64_t cancelled = q1(&db, "SELECT COUNT(*) FROM orders WHERE market_id = ? AND status = 'cancelled'", m);
    ck_assert_int_gt(cancelled, 0);
    ck_assert_int_lt(cancelled * 100, all * 8);
    ck_assert_int_gt(q1(&db,
                        "SELECT COUNT(*) FROM order_events WHERE market_id = ? AND to_status = 'cancelled'"
                        " AND actor LIKE 'consumer:%' AND vendor_order_id IS NULL",
                        m),
                     0);
    /* 1-4 stalls and 1-6 lines an order; a few rejections and lighter picks. */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM (SELECT order_id FROM vendor_orders WHERE market_id = ?"
                        " GROUP BY order_id HAVING COUNT(*) > 4) x",
                        m),
                     0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM (SELECT order_id FROM order_lines WHERE market_id = ?"
                        " GROUP BY order_id HAVING COUNT(*) > 6) x",
                        m),
                     0);
    ck_assert_int_gt(q1(&db,
                        "SELECT COUNT(*) FROM (SELECT order_id FROM vendor_orders WHERE market_id = ?"
                        " GROUP BY order_id HAVING COUNT(*) >= 3) x",
                        m),
                     0);
    int64_t vos = q1(&db, "SELECT COUNT(*) FROM vendor_orders WHERE market_id = ?", m);
    int64_t rejected = q1(&db, "SELECT COUNT(*) FROM vendor_orders WHERE market_id = ? AND status = 'rejected'", m);
    ck_assert_msg(rejected > 0 && rejected * 100 < vos * 6, "%" PRId64 " of %" PRId64 " rejected", rejected, vos);
    ck_assert_int_gt(q1(&db, "SELECT COUNT(*) FROM refunds WHERE market_id = ? AND reason = 'weight_difference'", m),
                     0);
    ck_assert_int_gt(q1(&db,
                        "SELECT COUNT(*) FROM order_lines WHERE market_id = ? AND pricing_mode = 'weight'"
                        " AND qty_actual < qty",
                        m),
                     0);
    /* weights in realistic grams */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM order_lines WHERE market_id = ? AND pricing_mode = 'weight'"
                        " AND (qty < 150 OR qty > 5000 OR qty % 50 <> 0)",
                        m),
                     0);
    /* A few consumers come back again and again. */
    ck_assert_int_ge(q1(&db,
                        "SELECT COUNT(*) FROM (SELECT COUNT(*) n FROM orders WHERE market_id = ?"
                        " GROUP BY consumer_id HAVING n >= 7) x",
                        m),
                     5);
    /* Every demo courier carried some. */
    ck_assert_int_eq(q1(&db, "SELECT COUNT(DISTINCT courier_id) FROM deliveries WHERE market_id = ?", m),
                     q1(&db, "SELECT COUNT(*) FROM couriers WHERE market_id = ?", m));
    assert_delivery_times(&db, m);
    assert_money_adds_up(&db, m);
    /* A few ratings, two or three complaints (one resolved). */
    ck_assert_int_gt(q1(&db, "SELECT COUNT(*) FROM order_ratings WHERE market_id = ?", m), 5);
    int64_t complaints = q1(&db, "SELECT COUNT(*) FROM complaints WHERE market_id = ? AND order_id IS NOT NULL", m);
    ck_assert_msg(complaints >= 2 && complaints <= 3, "%" PRId64 " complaints", complaints);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM complaints WHERE market_id = ? AND status = 'resolved'"
                        " AND resolved_at > created_at",
                        m),
                     1);
    /* The workers have nothing left to do about the history, the couriers are off shift, and
     * the shop was restocked (nothing sold out by the history). */
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM outbox WHERE market_id = ? AND published_at IS NULL", m), 0);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM couriers WHERE market_id = ? AND on_shift = 1", m), 0);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ? AND stock <= 0", m), 0);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM fulfilment_alerts WHERE market_id = ?", m), 0);
    /* Order numbers carry the day the order was placed. */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM orders WHERE market_id = ? AND SUBSTRING(order_no, 3, 8) <>"
                        " DATE_FORMAT(created_at + INTERVAL 8 HOUR, '%Y%m%d')",
                        m),
                     0);
    /* The sales change log (the salelog hooks in order.c / payment.c): a sale line for every
     * paid order line, on the day it was paid; its newest version says what happened. */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM order_lines l JOIN orders o ON o.id = l.order_id"
                        " WHERE l.market_id = ? AND o.paid_at IS NOT NULL AND NOT EXISTS (SELECT 1 FROM sale_lines s"
                        " WHERE s.event_id = l.id AND s.paid_date = DATE(o.paid_at + INTERVAL 8 HOUR))",
                        m),
                     0);
    ck_assert_int_gt(q1(&db, "SELECT COUNT(*) FROM sale_lines WHERE market_id = ?", m), 0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM sale_lines s JOIN orders o ON o.id = s.order_id"
                        " WHERE s.market_id = ? AND o.status = 'delivered' AND s.op = 'upsert'"
                        " AND (s.delivered_at IS NULL OR s.ready_at IS NULL OR s.qty_actual IS NULL)",
                        m),
                     0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM sale_lines s JOIN vendor_orders v ON v.id = s.vendor_order_id"
                        " WHERE s.market_id = ? AND v.status IN ('rejected', 'cancelled')"
                        " AND (s.op <> 'void' OR s.refunded_fen <> s.amount_fen)",
                        m),
                     0);
    close_db(&db, &cfg);
}
END_TEST

START_TEST(test_the_second_market_has_its_own_operator_stalls_and_two_days_of_orders)
{
    config_t cfg;
    db_t db;
    char day[11];
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    int64_t m1 = demo_market_id(&db);
    int64_t m2 = t_db_i64(&db, "SELECT COALESCE(MAX(id), 0) FROM markets WHERE code = 'zz-demo-02'", NULL, 0);
    ck_assert_int_gt(m2, 0);
    ck_assert_int_ne(m2, m1);
    db_rows_t *rows = NULL;
    ck_assert_int_eq(db_query_row(&db, "SELECT name, address, area_code FROM markets WHERE id = ?",
                                  (db_param_t[]){DB_I64(m2)}, 1, &rows),
                     DB_OK);
    ck_assert_ptr_nonnull(strstr(db_rows_str(rows, 0, NULL), "郑州市"));
    ck_assert_ptr_nonnull(strstr(db_rows_str(rows, 0, NULL), "农贸市场"));
    ck_assert_ptr_nonnull(strstr(db_rows_str(rows, 1, NULL), "郑州市"));
    ck_assert_str_eq(db_rows_str(rows, 2, NULL), "410105");
    db_rows_free(rows);
    int64_t stalls = q1(&db, "SELECT COUNT(*) FROM stalls WHERE market_id = ? AND vendor_id IS NOT NULL", m2);
    ck_assert_msg(stalls >= 8 && stalls <= 10, "%" PRId64 " stalls", stalls);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM vendors WHERE market_id = ?", m2), stalls);
    int64_t products = q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ?", m2);
    ck_assert_msg(products >= 35 && products <= 45, "%" PRId64 " products", products);
    /* every stall sells, and only its own market's goods */
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM stalls s WHERE s.market_id = ? AND NOT EXISTS (SELECT 1 FROM"
                        " products p WHERE p.stall_id = s.id AND p.market_id = s.market_id)",
                        m2),
                     0);
    int64_t couriers = q1(&db, "SELECT COUNT(*) FROM couriers WHERE market_id = ?", m2);
    ck_assert(couriers >= 1 && couriers <= 2);
    ck_assert_int_eq(q1(&db, "SELECT COUNT(*) FROM users WHERE market_id = ? AND role = 'operator'", m2), 1);
    today(day);
    ck_assert_int_gt(t_db_i64(&db, "SELECT COUNT(*) FROM guide_prices WHERE market_id = ? AND date = ?",
                              (db_param_t[]){DB_I64(m2), DB_STR(day)}, 2),
                     30);
    /* Its operator is its own: another account than the first market's, of this market only. */
    json_t *doc = load_json(cred);
    json_t *second = json_object_get(doc, "second_market");
    ck_assert(json_is_object(second));
    ck_assert_int_eq(jint(second, "market_id"), m2);
    json_t *op = json_object_get(second, "operator");
    ck_assert_str_ne(jstr(op, "username"), jstr(json_object_get(doc, "operator"), "username"));
    ck_assert_int_eq(t_db_i64(&db, "SELECT market_id FROM users WHERE username = ? AND role = 'operator'",
                              (db_param_t[]){DB_STR(jstr(op, "username"))}, 1),
                     m2);
    ck_assert(password_works(&db, jstr(op, "username"), jstr(op, "password")));
    json_t *vendors = json_object_get(second, "vendors");
    ck_assert_int_eq((int64_t)json_array_size(vendors), stalls);
    for (size_t i = 0; i < json_array_size(vendors); i++) {
        json_t *v = json_array_get(vendors, i), *ids = json_object_get(v, "stall_ids");
        ck_assert_int_eq(json_array_size(ids), 1);
        ck_assert_int_eq(
            t_db_i64(&db, "SELECT market_id FROM stalls WHERE id = ? AND vendor_id = ?",
                     (db_param_t[]){DB_I64(json_integer_value(json_array_get(ids, 0))), DB_I64(jint(v, "vendor_id"))},
                     2),
            m2);
    }
    ck_assert(password_works(&db, jstr(json_array_get(vendors, 0), "username"),
                             jstr(json_array_get(vendors, 0), "password")));
    json_t *cs = json_object_get(second, "couriers");
    ck_assert_int_eq((int64_t)json_array_size(cs), couriers);
    ck_assert_int_eq(t_db_i64(&db, "SELECT market_id FROM couriers WHERE id = ?",
                              (db_param_t[]){DB_I64(jint(json_array_get(cs, 0), "courier_id"))}, 1),
                     m2);
    json_decref(doc);
    /* A day or two of orders there too, delivered by its own couriers. */
    for (int d = 1; d <= 2; d++) {
        day_of(day, -d);
        ck_assert_int_ge(orders_on(&db, m2, day), 8);
    }
    day_of(day, -3);
    ck_assert_int_eq(orders_on(&db, m2, day), 0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM deliveries d JOIN couriers c ON c.id = d.courier_id"
                        " WHERE d.market_id = ? AND c.market_id <> d.market_id",
                        m2),
                     0);
    ck_assert_int_eq(q1(&db,
                        "SELECT COUNT(*) FROM order_lines l JOIN products p ON p.id = l.product_id"
                        " WHERE l.market_id = ? AND p.market_id <> l.market_id",
                        m2),
                     0);
    assert_delivery_times(&db, m2);
    assert_money_adds_up(&db, m2);
    close_db(&db, &cfg);
}
END_TEST

/* ---------------------------------------------------------------- running it again */

START_TEST(test_seeding_again_changes_nothing_and_keeps_a_working_credentials_file)
{
    config_t cfg;
    db_t db;
    redis_t r;
    snapshot_t before, after;
    char args[700];
    uint64_t v0 = 0, v1 = 0;
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    int64_t m = demo_market_id(&db);
    take_snapshot(&db, m, &before);
    char *file_before = slurp(cred);
    ck_assert_ptr_nonnull(file_before);
    redis_open(&r, &cfg);
    ck_assert_int_eq(cachever_get(&r, m, &v0), 0);

    snprintf(args, sizeof(args), "--credentials %s", cred);
    int rc = seed(args);
    if (rc != 0)
        show_output();
    ck_assert_int_eq(rc, 0);
    ck_assert(output_has("already there"));
    ck_assert(output_has("kept it"));
    ck_assert(output_has("already has its demo history"));
    ck_assert(!output_has("making"));
    ck_assert(!output_has("seed: wrote"));

    take_snapshot(&db, m, &after);
    for (size_t i = 0; i < sizeof(before.v) / sizeof(before.v[0]); i++)
        ck_assert_msg(before.v[i] == after.v[i], "count %zu changed: %" PRId64 " -> %" PRId64, i, before.v[i],
                      after.v[i]);
    char *file_after = slurp(cred);
    ck_assert_ptr_nonnull(file_after);
    ck_assert_str_eq(file_before, file_after);
    /* Guide prices were refreshed, so cached catalogue answers must go. */
    ck_assert_int_eq(cachever_get(&r, m, &v1), 0);
    ck_assert_uint_gt(v1, v0);
    free(file_before);
    free(file_after);
    redis_close(&r);
    close_db(&db, &cfg);
}
END_TEST

START_TEST(test_a_missing_credentials_file_gets_new_passwords_that_work)
{
    config_t cfg;
    db_t db;
    snapshot_t before, after;
    char args[700], old_pw[64];
    struct stat st;
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    int64_t m = demo_market_id(&db);
    json_t *old = load_json(cred);
    snprintf(old_pw, sizeof(old_pw), "%s", jstr(json_object_get(old, "operator"), "password"));
    json_decref(old);
    take_snapshot(&db, m, &before);

    ck_assert_int_eq(unlink(cred), 0);
    snprintf(args, sizeof(args), "--credentials %s", cred);
    int rc = seed(args);
    if (rc != 0)
        show_output();
    ck_assert_int_eq(rc, 0);
    ck_assert(output_has("missing or stale"));
    ck_assert(output_has("seed: wrote"));
    ck_assert_int_eq(stat(cred, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);

    json_t *doc = load_json(cred);
    ck_assert_int_eq(jint(doc, "market_id"), m);
    ck_assert_str_ne(jstr(json_object_get(doc, "operator"), "password"), old_pw);
    ck_assert(!password_works(&db, "operator", old_pw));
    assert_logins_work(&db, doc);
    json_decref(doc);

    take_snapshot(&db, m, &after);
    ck_assert_int_ne(before.v[10], after.v[10]); /* the hashes changed ... */
    before.v[10] = after.v[10];
    for (size_t i = 0; i < sizeof(before.v) / sizeof(before.v[0]); i++) /* ... and nothing else */
        ck_assert_msg(before.v[i] == after.v[i], "count %zu changed", i);
    close_db(&db, &cfg);
}
END_TEST

START_TEST(test_a_stale_credentials_file_is_replaced_by_one_that_works)
{
    config_t cfg;
    db_t db;
    char args[700];
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    snprintf(args, sizeof(args), "--credentials %s", cred);

    /* The right accounts with a password that no longer matches (reset since). */
    json_t *doc = load_json(cred);
    json_object_set_new(json_object_get(doc, "operator"), "password", json_string("nottheone234"));
    ck_assert_int_eq(json_dump_file(doc, cred, 0), 0);
    json_decref(doc);
    ck_assert_int_eq(seed(args), 0);
    ck_assert(output_has("missing or stale"));
    doc = load_json(cred);
    assert_logins_work(&db, doc);
    json_decref(doc);

    /* Not even JSON. */
    FILE *f = fopen(cred, "w");
    ck_assert_ptr_nonnull(f);
    fputs("{\"market_id\": ", f);
    fclose(f);
    ck_assert_int_eq(seed(args), 0);
    ck_assert(output_has("missing or stale"));
    doc = load_json(cred);
    assert_logins_work(&db, doc);
    json_decref(doc);
    close_db(&db, &cfg);
}
END_TEST

START_TEST(test_without_the_option_the_logins_go_to_var_demo_credentials_json)
{
    char path[700], vdir[600];
    struct stat st;
    ensure_seeded();
    snprintf(vdir, sizeof(vdir), "%s/var", dir);
    snprintf(path, sizeof(path), "%s/var/demo-credentials.json", dir);
    unlink(path);
    rmdir(vdir);
    ck_assert_int_eq(seed(""), 0);
    ck_assert(output_has("seed: wrote var/demo-credentials.json"));
    ck_assert_int_eq(stat(vdir, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0700);
    ck_assert_int_eq(stat(path, &st), 0);
    ck_assert_int_eq(st.st_mode & 0777, 0600);
    json_t *doc = load_json(path);
    ck_assert(json_is_integer(json_object_get(doc, "market_id")));
    json_decref(doc);
    unlink(path);
    rmdir(vdir);
}
END_TEST

START_TEST(test_seed_completes_without_redis_and_says_so)
{
    char env[64], args[700];
    ensure_seeded();
    snprintf(env, sizeof(env), "STALLFRONT_REDIS_PORT=%d", t_free_port());
    snprintf(args, sizeof(args), "--credentials %s", cred);
    ck_assert_int_eq(seed_in(dbname, env, args), 0);
    ck_assert(output_has("warning: could not bump the catalogue version"));
    ck_assert(output_has("seed: guide prices for"));
}
END_TEST

START_TEST(test_seed_refuses_bad_arguments)
{
    ck_assert_int_eq(seed("--credentials"), 2);
    ck_assert(output_has("unexpected argument '--credentials'"));
    ck_assert_int_eq(seed("--credentials ''"), 2);
    ck_assert_int_eq(seed("--bogus"), 2);
    ck_assert(output_has("unexpected argument '--bogus'"));
    ck_assert_int_eq(seed("--help"), 0);
    ck_assert(output_has("var/demo-credentials.json"));
}
END_TEST

/* ---------------------------------------------------------------- a run that fails half-way */

START_TEST(test_a_run_that_fails_half_way_leaves_nothing_and_the_next_run_completes)
{
    char other[96], args[760], path[700];
    config_t cfg;
    db_t db;
    snprintf(other, sizeof(other), "%s_half", dbname);
    snprintf(path, sizeof(path), "%s/half.json", dir);
    snprintf(args, sizeof(args), "--credentials %s", path);
    open_db(&db, &cfg, dbname);
    char sql[256];
    snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET utf8mb4", other, other);
    t_db_script(&db, sql);
    close_db(&db, &cfg);

    ck_assert_int_eq(seed_in(other, "", "--credentials x.json"), 1); /* not migrated yet */
    ck_assert(output_has("run `stallfront migrate` first"));
    snprintf(path, sizeof(path), "%s/x.json", dir);
    ck_assert_int_ne(access(path, F_OK), 0);
    snprintf(path, sizeof(path), "%s/half.json", dir);
    ck_assert_int_eq(t_sh("STALLFRONT_DB_NAME=%s %s migrate >/dev/null 2>&1", other, SF_BINARY), 0);

    /* Another market already uses the username of the 20th vendor: the run stops there. */
    open_db(&db, &cfg, other);
    t_db_script(&db, "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules,"
                     " open_hours) VALUES ('other', '别的市场', '郑州市', 34.7, 113.6, '410102', '', '[]', '',"
                     " '06:00-20:00')");
    t_db_script(&db, "INSERT INTO users (market_id, role, username) SELECT id, 'vendor', 'vendor20' FROM markets"
                     " WHERE code = 'other'");
    int rc = seed_in(other, "", args);
    ck_assert_int_eq(rc, 1);
    ck_assert(output_has("vendor20"));
    ck_assert_int_ne(access(path, F_OK), 0);
    ck_assert_int_eq(demo_market_id(&db), 0);
    static const char *const tables[] = {"markets",      "categories", "stalls",   "vendors", "vendor_licences",
                                         "vendor_staff", "products",   "couriers", "notices", "users"};
    for (size_t i = 0; i < sizeof(tables) / sizeof(tables[0]); i++) {
        char q[128];
        snprintf(q, sizeof(q), "SELECT COUNT(*) FROM %s", tables[i]);
        int64_t want = strcmp(tables[i], "markets") == 0 || strcmp(tables[i], "users") == 0 ? 1 : 0;
        ck_assert_msg(t_db_i64(&db, q, NULL, 0) == want, "%s holds rows of the failed run", tables[i]);
    }

    /* The obstacle gone, the next run makes all of it; without Redis (dispatch needs the
     * couriers' positions) it says there is no history yet and makes none. */
    t_db_script(&db, "DELETE FROM users WHERE username = 'vendor20'");
    char env[64];
    snprintf(env, sizeof(env), "STALLFRONT_REDIS_PORT=%d", t_free_port());
    rc = seed_in(other, env, args);
    if (rc != 0)
        show_output();
    ck_assert_int_eq(rc, 0);
    ck_assert(output_has("created"));
    ck_assert(output_has("warning: no demo history for"));
    int64_t m = demo_market_id(&db);
    ck_assert_int_gt(m, 0);
    ck_assert_int_ge(q1(&db, "SELECT COUNT(*) FROM products WHERE market_id = ?", m), 300);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM orders", NULL, 0), 0);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM markets WHERE code = 'zz-demo-02'", NULL, 0), 1);
    json_t *doc = load_json(path);
    ck_assert_int_eq(jint(doc, "market_id"), m);
    json_decref(doc);
    unlink(path);
    snprintf(sql, sizeof(sql), "DROP DATABASE %s", other);
    t_db_script(&db, sql);
    close_db(&db, &cfg);
}
END_TEST

/* ---------------------------------------------------------------- over HTTP */

static long login(const tserver_t *s, const char *user, const char *pass, json_t **answer)
{
    char url[128];
    tresp_t r;
    json_t *body = json_pack("{s:s, s:s}", "username", user, "password", pass);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    const char *h[] = {"Content-Type: application/json", NULL};
    snprintf(url, sizeof(url), "%s/v1/auth/login", s->base);
    ck_assert_int_eq(t_request(T_H2C, "POST", url, h, text, strlen(text), &r), 0);
    free(text);
    long status = r.status;
    if (answer != NULL)
        *answer = t_json(&r);
    t_resp_free(&r);
    return status;
}

static json_t *get_json(const tserver_t *s, const char *path, const char *token, long want)
{
    char url[256], auth[600];
    tresp_t r;
    snprintf(url, sizeof(url), "%s%s", s->base, path);
    snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token ? token : "");
    const char *h[] = {auth, NULL};
    ck_assert_int_eq(t_request(T_H2C, "GET", url, token ? h : NULL, NULL, 0, &r), 0);
    ck_assert_msg(r.status == want, "GET %s: %ld %s", path, r.status, r.body ? r.body : "");
    json_t *doc = t_json(&r);
    t_resp_free(&r);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

static json_t *items_of(json_t *doc)
{
    return json_is_array(doc) ? doc : json_object_get(doc, "items");
}

START_TEST(test_the_demo_logins_sign_in_and_the_operator_sees_price_anomalies)
{
    char env_db[96], path[160], token[512];
    tserver_t srv;
    config_t cfg;
    db_t db;
    ensure_seeded();
    open_db(&db, &cfg, dbname);
    int64_t m = demo_market_id(&db);
    /* A stall whose staff includes a lapsed health certificate. */
    char day[11];
    today(day);
    int64_t stall = t_db_i64(&db,
                             "SELECT MIN(s.id) FROM stalls s JOIN vendor_staff f ON f.vendor_id = s.vendor_id"
                             " WHERE s.market_id = ? AND f.valid_until < ?",
                             (db_param_t[]){DB_I64(m), DB_STR(day)}, 2);
    close_db(&db, &cfg);
    json_t *cred_doc = load_json(cred);
    snprintf(env_db, sizeof(env_db), "STALLFRONT_DB_NAME=%s", dbname);
    /* Other suites' wrong passwords count against 127.0.0.1 in the shared Redis too. */
    const char *const env[] = {env_db, "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000", NULL};
    ck_assert_msg(tserver_start(&srv, env) == 0, "server did not start");

    json_t *op = json_object_get(cred_doc, "operator"), *ans = NULL;
    ck_assert_int_eq(login(&srv, jstr(op, "username"), jstr(op, "password"), &ans), 200);
    json_t *user = json_object_get(ans, "user");
    ck_assert_str_eq(jstr(user, "role"), "operator");
    ck_assert_int_eq(jint(user, "market_id"), m);
    snprintf(token, sizeof(token), "%s", jstr(ans, "token"));
    json_decref(ans);

    json_t *v = json_array_get(json_object_get(cred_doc, "vendors"), 0);
    ck_assert_int_eq(login(&srv, jstr(v, "username"), jstr(v, "password"), &ans), 200);
    ck_assert_int_eq(jint(json_object_get(ans, "user"), "vendor_id"), jint(v, "vendor_id"));
    json_decref(ans);
    json_t *c = json_array_get(json_object_get(cred_doc, "couriers"), 0);
    ck_assert_int_eq(login(&srv, jstr(c, "username"), jstr(c, "password"), &ans), 200);
    ck_assert_int_eq(jint(json_object_get(ans, "user"), "courier_id"), jint(c, "courier_id"));
    json_decref(ans);

    json_t *alerts = get_json(&srv, "/v1/admin/alerts", token, 200);
    ck_assert_msg(json_array_size(items_of(alerts)) >= 1, "the operator's anomaly list is empty");
    json_decref(alerts);

    snprintf(path, sizeof(path), "/v1/markets/%" PRId64, m);
    json_t *market = get_json(&srv, path, NULL, 200);
    ck_assert_ptr_nonnull(strstr(jstr(market, "name"), "郑州市"));
    ck_assert_int_ge(jint(market, "stall_count"), 40);
    json_decref(market);

    snprintf(path, sizeof(path), "/v1/markets/%" PRId64 "/guide-prices?date=%s", m, day);
    json_t *guide = get_json(&srv, path, NULL, 200);
    ck_assert_int_ge(json_array_size(items_of(guide)), 1);
    json_decref(guide);

    snprintf(path, sizeof(path), "/v1/stalls/%" PRId64, stall);
    json_t *st = get_json(&srv, path, NULL, 200);
    char *text = json_dumps(st, JSON_COMPACT);
    ck_assert_ptr_nonnull(strstr(text, "\"valid\":false"));
    free(text);
    json_decref(st);

    json_decref(cred_doc);
    ck_assert_int_eq(tserver_stop(&srv, SIGTERM), 0);
}
END_TEST

/* ---------------------------------------------------------------- the run */

static int make_scratch(void)
{
    config_t cfg;
    db_t db;
    char err[256], sql[200];
    int rc = -1;
    if (config_load(&cfg, NULL, err, sizeof(err)) != 0) {
        fprintf(stderr, "test_seed: %s\n", err);
        return -1;
    }
    db_thread_init();
    if (db_open(&db, &cfg) == DB_OK) {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s; CREATE DATABASE %s CHARACTER SET utf8mb4", dbname,
                 dbname);
        rc = db_exec_script(&db, sql, strlen(sql)) == DB_OK ? 0 : -1;
    }
    if (rc != 0)
        fprintf(stderr, "test_seed: cannot create %s: %s\n", dbname, db.err);
    db_close(&db);
    config_free(&cfg);
    db_thread_end();
    return rc;
}

static void drop_scratch(void)
{
    config_t cfg;
    db_t db;
    char err[256], sql[200];
    if (config_load(&cfg, NULL, err, sizeof(err)) != 0)
        return;
    db_thread_init();
    if (db_open(&db, &cfg) == DB_OK) {
        snprintf(sql, sizeof(sql), "DROP DATABASE IF EXISTS %s; DROP DATABASE IF EXISTS %s_half", dbname, dbname);
        db_exec_script(&db, sql, strlen(sql));
    }
    db_close(&db);
    config_free(&cfg);
    db_thread_end();
}

/* Issue 10's "done when", on the demo itself: the operator of the first demo market makes a
 * district platform client; `stallfront platform pull --verify` pulls the feed and finds
 * every KPI and the reconcile checksum of yesterday (a seeded day) equal to the server's;
 * the same client is refused the second demo market. */
START_TEST(test_a_platform_client_verifies_a_demo_day_and_is_refused_the_second_market)
{
    char env_db[96], token[512], secret_file[700], feed[700], log[700], day[11];
    tserver_t srv;
    t_platform_t pc;
    ensure_seeded();
    json_t *cred_doc = load_json(cred), *ans = NULL;
    int64_t m = jint(cred_doc, "market_id");
    int64_t m2 = jint(json_object_get(cred_doc, "second_market"), "market_id");
    snprintf(env_db, sizeof(env_db), "STALLFRONT_DB_NAME=%s", dbname);
    const char *const env[] = {env_db, "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000", NULL};
    ck_assert_msg(tserver_start(&srv, env) == 0, "server did not start");
    json_t *op = json_object_get(cred_doc, "operator");
    ck_assert_int_eq(login(&srv, jstr(op, "username"), jstr(op, "password"), &ans), 200);
    snprintf(token, sizeof(token), "%s", jstr(ans, "token"));
    json_decref(ans);
    t_platform_create(&srv, token, "district", &m, 1, &pc);

    snprintf(secret_file, sizeof(secret_file), "%s/platform.secret", dir);
    snprintf(feed, sizeof(feed), "%s/feed.jsonl", dir);
    snprintf(log, sizeof(log), "%s/pull.log", dir);
    unlink(feed);
    FILE *f = fopen(secret_file, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n", pc.secret);
    fclose(f);
    ck_assert_int_eq(chmod(secret_file, 0600), 0);
    kpi_day_name(kpi_day_of((int64_t)time(NULL) * 1000) - 1, day, sizeof(day)); /* yesterday, +08:00 */

    int rc = t_sh("%s platform pull --url %s --app-key %s --secret-file %s --market %" PRId64
                  " --out %s --limit 1000 --verify %s >%s 2>&1",
                  SF_BINARY, t_base(&srv, T_H2C), pc.app_key, secret_file, m, feed, day, log);
    char *out = slurp(log);
    ck_assert_msg(rc == 0 && out != NULL && strstr(out, "verified") != NULL && strstr(out, "DIFF") == NULL,
                  "pull --verify %s exited %d:\n%s", day, rc, out != NULL ? out : "");
    /* the day is not empty: the seed made 40 to 120 orders on it */
    ck_assert_msg(strstr(out, "orders_paid ") != NULL, "%s", out);
    free(out);
    ck_assert_int_gt(t_sh("grep -c '\"paid_at\":\"%s' %s >/dev/null", day, feed) == 0, 0);

    rc = t_sh("%s platform pull --url %s --app-key %s --secret-file %s --market %" PRId64 " --out %s.other >%s 2>&1",
              SF_BINARY, t_base(&srv, T_H2C), pc.app_key, secret_file, m2, feed, log);
    out = slurp(log);
    ck_assert_msg(rc != 0 && out != NULL && strstr(out, "market_not_granted") != NULL,
                  "the second market was not refused (exit %d):\n%s", rc, out != NULL ? out : "");
    free(out);
    json_decref(cred_doc);
    tserver_stop(&srv, SIGTERM);
}
END_TEST

int main(void)
{
    const char *var = getenv("STALLFRONT_TEST_VAR");
    if (!t_env_present(t_db_env, "test_seed") || var == NULL) {
        fprintf(stderr, "test_seed: STALLFRONT_TEST_VAR and the STALLFRONT_DB_* variables must be set\n");
        return 1;
    }
    snprintf(dbname, sizeof(dbname), "sf_seed_%d", (int)getpid());
    snprintf(dir, sizeof(dir), "%s/seed-%d", var, (int)getpid());
    snprintf(cred, sizeof(cred), "%s/demo-credentials.json", dir);
    snprintf(outpath, sizeof(outpath), "%s/seed.out", dir);
    if (mkdir(dir, 0700) != 0 && errno != EEXIST) {
        fprintf(stderr, "test_seed: cannot make %s\n", dir);
        return 1;
    }
    if (make_scratch() != 0 ||
        t_sh("STALLFRONT_DB_NAME=%s %s migrate >%s/migrate.out 2>&1", dbname, SF_BINARY, dir) != 0) {
        fprintf(stderr, "test_seed: cannot prepare the scratch database %s\n", dbname);
        drop_scratch();
        return 1;
    }

    Suite *su = suite_create("seed");
    TCase *tc = tcase_create("seed");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_first_seed_loads_the_market_and_writes_a_private_credentials_file);
    tcase_add_test(tc, test_the_market_has_the_stalls_vendors_and_couriers_api_md_promises);
    tcase_add_test(tc, test_the_market_profile_is_a_zhengzhou_market_with_a_six_branch_category_tree);
    tcase_add_test(tc, test_every_product_fits_its_category_its_pricing_mode_and_its_stalls_zone);
    tcase_add_test(tc, test_guide_prices_cover_today_and_a_few_products_stray_far_from_them);
    tcase_add_test(tc, test_the_demo_market_has_a_week_of_realistic_completed_orders);
    tcase_add_test(tc, test_the_second_market_has_its_own_operator_stalls_and_two_days_of_orders);
    tcase_add_test(tc, test_seeding_again_changes_nothing_and_keeps_a_working_credentials_file);
    tcase_add_test(tc, test_a_missing_credentials_file_gets_new_passwords_that_work);
    tcase_add_test(tc, test_a_stale_credentials_file_is_replaced_by_one_that_works);
    tcase_add_test(tc, test_without_the_option_the_logins_go_to_var_demo_credentials_json);
    tcase_add_test(tc, test_seed_completes_without_redis_and_says_so);
    tcase_add_test(tc, test_seed_refuses_bad_arguments);
    tcase_add_test(tc, test_a_run_that_fails_half_way_leaves_nothing_and_the_next_run_completes);
    tcase_add_test(tc, test_the_demo_logins_sign_in_and_the_operator_sees_price_anomalies);
    tcase_add_test(tc, test_a_platform_client_verifies_a_demo_day_and_is_refused_the_second_market);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    drop_scratch();
    t_sh("rm -rf %s", dir);
    return failed == 0 ? 0 : 1;
}
