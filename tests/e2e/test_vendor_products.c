/*
 * End to end: a vendor keeps its products (GET/POST /v1/vendor/products, PATCH
 * /v1/vendor/products/{id}) on the real binary over h2c, and the public catalogue shows
 * the result. Each test makes its own market, vendors and stalls with SQL and the user
 * model (the operator's endpoints are tested elsewhere), signs the vendors in over HTTP,
 * and after every refused write reads the database back to see that nothing changed.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "models/user.h"
#include "tests/support/testutil.h"

/* Sign-in failures of other suites from 127.0.0.1, counted in the shared Redis, must not
 * throttle this suite's logins. */
static const char *const test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox", "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                                       "STALLFRONT_AUTH_LOGIN_WINDOW_S=1", NULL};
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
    int64_t va, vb, vsus, vnone; /* vendors: two trading, one suspended, one without a stall */
    int64_t sa1, sa2, sb;
    char ta[128], tb[128], tsus[128], tnone[128]; /* their tokens */
} world_t;

static int64_t sql(world_t *w, const char *text, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(&w->db, text, p, n, NULL, &id) == DB_OK, "%s: %s", text, w->db.err);
    return (int64_t)id;
}

static int64_t i64(world_t *w, const char *text, int64_t id)
{
    return t_db_i64(&w->db, text, (db_param_t[]){DB_I64(id)}, 1);
}

/* A vendor with a signed-in account; its token into token. */
static int64_t vendor(world_t *w, const char *name, const char *status, char *token, size_t len)
{
    static int seq;
    char user[64];
    int64_t id = sql(w,
                     "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level, status)"
                     " VALUES (?, ?, '13900000000', '蔬菜', 'A', ?)",
                     (db_param_t[]){DB_I64(w->m.market_id), DB_STR(name), DB_STR(status)}, 3);
    snprintf(user, sizeof(user), "v%d_%d_%lld", (int)getpid(), seq++, (long long)id);
    user_new_t u = {.role = "vendor",
                    .market_id = w->m.market_id,
                    .username = user,
                    .password = "stall-owner-pass-1",
                    .display_name = name,
                    .vendor_id = id};
    int64_t uid = 0;
    ck_assert_msg(user_create(&w->db, &u, &uid) == DB_OK, "user: %s", w->db.err);
    ck_assert_int_eq(t_login(&shared, user, "stall-owner-pass-1", token, len), 0);
    return id;
}

static int64_t stall(world_t *w, const char *no, int64_t vendor_id)
{
    return sql(w, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 1, 2, ?)",
               (db_param_t[]){DB_I64(w->m.market_id), DB_STR(no), DB_I64(vendor_id)}, 3);
}

static void world_up(world_t *w)
{
    memset(w, 0, sizeof(*w));
    t_fixture_market(&w->m);
    t_load_cfg(&w->cfg);
    db_thread_init();
    ck_assert_msg(db_open(&w->db, &w->cfg) == DB_OK, "db: %s", w->db.err);
    w->va = vendor(w, "张三蔬菜", "active", w->ta, sizeof(w->ta));
    w->vb = vendor(w, "李四水果", "active", w->tb, sizeof(w->tb));
    w->vsus = vendor(w, "王五", "suspended", w->tsus, sizeof(w->tsus));
    w->vnone = vendor(w, "赵六", "active", w->tnone, sizeof(w->tnone));
    w->sa1 = stall(w, "A-01", w->va);
    w->sa2 = stall(w, "A-02", w->va);
    w->sb = stall(w, "B-01", w->vb);
    stall(w, "C-01", w->vsus);
}

static void world_down(world_t *w)
{
    db_close(&w->db);
    config_free(&w->cfg);
}

static int64_t products_of_market(world_t *w)
{
    return i64(w, "SELECT COUNT(*) FROM products WHERE market_id = ?", w->m.market_id);
}

/* ---------------------------------------------------------------- HTTP helpers */

/* A request over h2c with a bearer token (may be NULL) and a body of a content type. */
static void call(const char *method, const char *path, const char *token, const char *ctype, const char *body,
                 size_t len, tresp_t *r)
{
    char url[1024], auth[256], ct[128];
    const char *h[3] = {NULL, NULL, NULL};
    size_t nh = 0;
    snprintf(url, sizeof(url), "%s%s", t_base(&shared, T_H2C), path);
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h[nh++] = auth;
    }
    if (body != NULL) {
        snprintf(ct, sizeof(ct), "Content-Type: %s", ctype);
        h[nh++] = ct;
    }
    ck_assert_msg(t_request(T_H2C, method, url, h, body, len, r) == 0, "no answer for %s %s", method, path);
    ck_assert_int_eq(r->version, CURL_HTTP_VERSION_2_0);
}

/* POST or PATCH a JSON text; the answer's JSON (caller decrefs), the status in *status. */
static json_t *send_json(const char *method, const char *path, const char *token, const char *body, long *status)
{
    tresp_t r;
    call(method, path, token, "application/json", body, strlen(body), &r);
    *status = r.status;
    json_t *doc = t_json(&r);
    ck_assert_msg(doc != NULL, "%s %s: not JSON: %s", method, path, r.body);
    t_resp_free(&r);
    return doc;
}

static json_t *get(const char *path, const char *token, long *status)
{
    tresp_t r;
    call("GET", path, token, NULL, NULL, 0, &r);
    *status = r.status;
    json_t *doc = t_json(&r);
    ck_assert_msg(doc != NULL, "GET %s: not JSON: %s", path, r.body);
    t_resp_free(&r);
    return doc;
}

static const char *error_code(json_t *doc)
{
    return json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
}

static const char *error_field(json_t *doc)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "field"));
}

static int has_id(json_t *doc, int64_t id)
{
    size_t i;
    json_t *it;
    json_array_foreach(json_object_get(doc, "items"), i,
                       it) if (json_integer_value(json_object_get(it, "id")) == id) return 1;
    return 0;
}

static const char spinach[] = "{\"name\":\"菠菜\",\"category\":\"veg-leafy\",\"commodity_code\":\"A010101\","
                              "\"pricing\":{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":500},\"stock\":20000,"
                              "\"origin\":\"410122\",\"trace_code\":\"ZZ-20261130-01\"}";

/* Creates a product as vendor token; its id. */
static int64_t create(const char *token, const char *body)
{
    long status;
    json_t *doc = send_json("POST", "/v1/vendor/products", token, body, &status);
    char *text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(status == 201, "create: %ld %s", status, text);
    free(text);
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    json_decref(doc);
    ck_assert_int_gt(id, 0);
    return id;
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_a_vendor_puts_a_weighed_product_on_sale_and_an_anonymous_client_finds_it_over_http2)
{
    world_t w;
    world_up(&w);
    char path[128];
    long status;
    /* the public list is read (and may be cached) before the product exists */
    snprintf(path, sizeof(path), "/v1/markets/%lld/products", (long long)w.m.market_id);
    json_t *doc = get(path, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);

    doc = send_json("POST", "/v1/vendor/products", w.ta, spinach, &status);
    ck_assert_int_eq(status, 201);
    int64_t id = json_integer_value(json_object_get(doc, "id"));
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "stall_id")), w.sa1); /* the vendor's first stall */
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "vendor_id")), w.va);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "name")), "菠菜");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "on_sale");
    ck_assert_str_eq(json_string_value(json_object_get(doc, "trace_code")), "ZZ-20261130-01");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "pricing"), "per_g")), 500);
    json_decref(doc);

    doc = get(path, NULL, &status); /* anonymous, over HTTP/2 (call() checks the version) */
    ck_assert_int_eq(status, 200);
    ck_assert_msg(has_id(doc, id), "the new product is not listed");
    json_t *p = json_array_get(json_object_get(doc, "items"), 0);
    ck_assert_str_eq(json_string_value(json_object_get(p, "name")), "菠菜");
    ck_assert_str_eq(json_string_value(json_object_get(p, "commodity_code")), "A010101");
    ck_assert_str_eq(json_string_value(json_object_get(p, "origin")), "410122");
    ck_assert_int_eq(json_integer_value(json_object_get(p, "stock")), 20000);
    json_decref(doc);
    snprintf(path, sizeof(path), "/v1/products/%lld", (long long)id);
    doc = get(path, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert(json_is_null(json_object_get(doc, "guide_price")));
    json_decref(doc);

    /* with a stall_id: that stall; count pricing */
    char body[512];
    snprintf(body, sizeof(body),
             "{\"name\":\"土鸡蛋\",\"category\":\"eggs\",\"commodity_code\":\"A04\",\"stall_id\":%lld,"
             "\"pricing\":{\"mode\":\"count\",\"price_fen\":350,\"unit\":\"盒\"},\"stock\":30}",
             (long long)w.sa2);
    id = create(w.ta, body);
    ck_assert_int_eq(i64(&w, "SELECT stall_id FROM products WHERE id = ?", id), w.sa2);
    ck_assert_int_eq(i64(&w, "SELECT price_fen FROM products WHERE id = ?", id), 350);
    world_down(&w);
}
END_TEST

START_TEST(test_vendor_routes_admit_vendors_only)
{
    world_t w;
    world_up(&w);
    char consumer[128], op[128], path[128];
    static int n;
    snprintf(path, sizeof(path), "c%d_%d", (int)getpid(), n++);
    ck_assert_int_eq(t_login_wechat(&shared, path, consumer, sizeof(consumer)), 0);
    ck_assert_int_eq(t_login(&shared, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);
    int64_t id = create(w.ta, spinach);
    snprintf(path, sizeof(path), "/v1/vendor/products/%lld", (long long)id);
    const struct {
        const char *method, *path, *body;
    } routes[] = {
        {"GET", "/v1/vendor/products", NULL},
        {"POST", "/v1/vendor/products", spinach},
        {"PATCH", path, "{\"stock\":1}"},
    };
    const struct {
        const char *token;
        long status;
        const char *code;
    } who[] = {
        {NULL, 401, "unauthorized"},
        {"not-a-token", 401, "unauthorized"},
        {consumer, 403, "forbidden"},
        {op, 403, "forbidden"},
    };
    for (size_t i = 0; i < 3; i++)
        for (size_t k = 0; k < 4; k++) {
            tresp_t r;
            const char *b = routes[i].body;
            call(routes[i].method, routes[i].path, who[k].token, "application/json", b, b ? strlen(b) : 0, &r);
            ck_assert_msg(r.status == who[k].status, "%s %s as %zu: %ld %s", routes[i].method, routes[i].path, k,
                          r.status, r.body);
            ck_assert_msg(t_is_error(&r, who[k].code), "%s", r.body);
            t_resp_free(&r);
        }
    ck_assert_int_eq(products_of_market(&w), 1);
    ck_assert_int_eq(i64(&w, "SELECT stock FROM products WHERE id = ?", id), 20000);
    /* and the vendor itself may */
    long status;
    json_t *doc = get("/v1/vendor/products", w.ta, &status);
    ck_assert_int_eq(status, 200);
    ck_assert(has_id(doc, id));
    json_decref(doc);
    world_down(&w);
}
END_TEST

/* A create body with one field replaced or added (`extra` goes last: a duplicate key is
 * malformed JSON, so callers only add fields the base lacks). */
#define BASE_NO_PRICING "\"name\":\"菠菜\",\"category\":\"veg-leafy\",\"commodity_code\":\"A010101\",\"stock\":100"
#define BASE            BASE_NO_PRICING ",\"pricing\":{\"mode\":\"weight\",\"price_fen\":600,\"per_g\":500}"

START_TEST(test_bad_create_bodies_are_refused_in_the_error_shape_and_nothing_is_written)
{
    world_t w;
    world_up(&w);
    char other_stall[256];
    snprintf(other_stall, sizeof(other_stall), "{" BASE ",\"stall_id\":%lld}", (long long)w.sb);
    const struct {
        const char *ctype, *body;
        long status;
        const char *code, *field;
    } cases[] = {
        {"application/json", "{\"name\":", 400, "malformed_json", NULL},
        {"application/json", "", 400, "malformed_json", NULL},
        {"application/json", "{\"name\":\"\xff\xfe\"}", 400, "malformed_json", NULL},
        {"application/json", "{\"name\":\"\xe8\xa5\"}", 400, "malformed_json", NULL},
        {"text/plain", "{" BASE "}", 415, "unsupported_media_type", NULL},
        {"application/json", "[1]", 422, "invalid", NULL},
        {"application/json", "{}", 422, "invalid", "name"},
        {"application/json", "{\"name\":\"菠菜\"}", 422, "invalid", "category"},
        {"application/json", "{" BASE_NO_PRICING "}", 422, "invalid", "pricing"},
        {"application/json", "{" BASE ",\"colour\":\"green\"}", 422, "invalid", "colour"},
        {"application/json", "{" BASE ",\"status\":\"off_sale\"}", 422, "invalid", "status"},
        {"application/json", "{" BASE ",\"origin\":410122}", 422, "invalid", "origin"},
        {"application/json", "{" BASE ",\"origin\":\"4101\"}", 422, "invalid", "origin"},
        {"application/json", "{" BASE ",\"trace_code\":\"批次\"}", 422, "invalid", "trace_code"},
        {"application/json", "{" BASE ",\"stall_id\":\"1\"}", 422, "invalid", "stall_id"},
        {"application/json", other_stall, 422, "invalid", "stall_id"},
        {"application/json", "{" BASE ",\"stall_id\":9007199254740000}", 422, "invalid", "stall_id"},
        {"application/json", "{" BASE_NO_PRICING ",\"pricing\":{\"mode\":\"weight\",\"price_fen\":-1,\"per_g\":500}}",
         422, "invalid", "pricing.price_fen"},
        {"application/json",
         "{" BASE_NO_PRICING ",\"pricing\":{\"mode\":\"weight\",\"price_fen\":9223372036854775807,\"per_g\":500}}", 422,
         "invalid", "pricing.price_fen"},
        {"application/json", "{" BASE_NO_PRICING ",\"pricing\":{\"mode\":\"weight\",\"price_fen\":6.5,\"per_g\":500}}",
         422, "invalid", "pricing.price_fen"},
        {"application/json", "{" BASE_NO_PRICING ",\"pricing\":{\"mode\":\"weight\",\"price_fen\":600}}", 422,
         "invalid", "pricing.per_g"},
        {"application/json", "{" BASE_NO_PRICING ",\"pricing\":{\"mode\":\"count\",\"price_fen\":600}}", 422, "invalid",
         "pricing.unit"},
        {"application/json", "{" BASE_NO_PRICING ",\"pricing\":{\"mode\":\"kg\",\"price_fen\":600}}", 422, "invalid",
         "pricing.mode"},
        {"application/json", "{" BASE_NO_PRICING ",\"pricing\":\"6元\"}", 422, "invalid", "pricing"},
        {"application/json",
         "{\"name\":\"菠菜\",\"category\":\"dairy\",\"commodity_code\":\"A010101\",\"stock\":1,"
         "\"pricing\":{\"mode\":\"count\",\"price_fen\":1,\"unit\":\"个\"}}",
         422, "invalid", "category"},
        {"application/json",
         "{\"name\":\"菠菜\",\"category\":\"veg\",\"commodity_code\":\"a-1\",\"stock\":1,"
         "\"pricing\":{\"mode\":\"count\",\"price_fen\":1,\"unit\":\"个\"}}",
         422, "invalid", "commodity_code"},
        {"application/json",
         "{\"name\":\"菠菜\",\"category\":\"veg\",\"commodity_code\":\"A01\",\"stock\":-1,"
         "\"pricing\":{\"mode\":\"count\",\"price_fen\":1,\"unit\":\"个\"}}",
         422, "invalid", "stock"},
        {"application/json",
         "{\"name\":\"菠菜\",\"category\":\"veg\",\"commodity_code\":\"A01\",\"stock\":1e12,"
         "\"pricing\":{\"mode\":\"count\",\"price_fen\":1,\"unit\":\"个\"}}",
         422, "invalid", "stock"},
        {"application/json",
         "{\"name\":\"\\u0007菠菜\",\"category\":\"veg\",\"commodity_code\":\"A01\",\"stock\":1,"
         "\"pricing\":{\"mode\":\"count\",\"price_fen\":1,\"unit\":\"个\"}}",
         422, "invalid", "name"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tresp_t r;
        call("POST", "/v1/vendor/products", w.ta, cases[i].ctype, cases[i].body, strlen(cases[i].body), &r);
        ck_assert_msg(r.status == cases[i].status, "case %zu: %ld %s", i, r.status, r.body);
        ck_assert_msg(t_is_error(&r, cases[i].code), "case %zu: %s", i, r.body);
        if (cases[i].field != NULL) {
            json_t *doc = t_json(&r);
            ck_assert_msg(error_field(doc) != NULL && strcmp(error_field(doc), cases[i].field) == 0,
                          "case %zu: field %s, want %s", i, error_field(doc), cases[i].field);
            json_decref(doc);
        }
        t_resp_free(&r);
    }
    /* 10 KB strings: as the name, as a value and as a key */
    char *big = malloc(12 * 1024);
    static const char *const shapes[] = {
        "{\"name\":\"%s\",\"category\":\"veg\",\"commodity_code\":\"A01\",\"stock\":1,"
        "\"pricing\":{\"mode\":\"count\",\"price_fen\":1,\"unit\":\"个\"}}",
        "{" BASE ",\"trace_code\":\"%s\"}",
        "{" BASE ",\"%s\":1}",
    };
    static const char *const fields[] = {"name", "trace_code", NULL};
    char x[10241];
    memset(x, 'x', 10240);
    x[10240] = '\0';
    for (size_t i = 0; i < 3; i++) {
        snprintf(big, 12 * 1024, shapes[i], x);
        long status;
        json_t *doc = send_json("POST", "/v1/vendor/products", w.ta, big, &status);
        ck_assert_msg(status == 422, "10 KB case %zu: %ld", i, status);
        ck_assert_str_eq(error_code(doc), "invalid");
        if (fields[i] != NULL)
            ck_assert_str_eq(error_field(doc), fields[i]);
        json_decref(doc);
    }
    free(big);
    ck_assert_int_eq(products_of_market(&w), 0);
    world_down(&w);
}
END_TEST

START_TEST(test_a_vendor_without_a_stall_gets_409_and_a_suspended_one_403)
{
    world_t w;
    world_up(&w);
    long status;
    json_t *doc = send_json("POST", "/v1/vendor/products", w.tnone, spinach, &status);
    ck_assert_int_eq(status, 409);
    ck_assert_str_eq(error_code(doc), "no_stall");
    json_decref(doc);
    doc = send_json("POST", "/v1/vendor/products", w.tsus, spinach, &status);
    ck_assert_int_eq(status, 403);
    ck_assert_str_eq(error_code(doc), "vendor_suspended");
    json_decref(doc);
    ck_assert_int_eq(products_of_market(&w), 0);
    /* a vendor suspended after listing a product cannot change it either */
    int64_t id = create(w.ta, spinach);
    sql(&w, "UPDATE vendors SET status = 'suspended' WHERE id = ?", (db_param_t[]){DB_I64(w.va)}, 1);
    char path[128];
    snprintf(path, sizeof(path), "/v1/vendor/products/%lld", (long long)id);
    doc = send_json("PATCH", path, w.ta, "{\"stock\":1}", &status);
    ck_assert_int_eq(status, 403);
    ck_assert_str_eq(error_code(doc), "vendor_suspended");
    json_decref(doc);
    ck_assert_int_eq(i64(&w, "SELECT stock FROM products WHERE id = ?", id), 20000);
    world_down(&w);
}
END_TEST

START_TEST(test_a_patch_changes_only_what_it_names_and_another_vendors_product_is_404)
{
    world_t w;
    world_up(&w);
    char path[128];
    long status;
    int64_t id = create(w.ta, spinach), theirs = create(w.tb, spinach);
    snprintf(path, sizeof(path), "/v1/vendor/products/%lld", (long long)id);
    json_t *doc = send_json("PATCH", path, w.ta,
                            "{\"stock\":1500,\"pricing\":{\"mode\":\"weight\",\"price_fen\":1100,\"per_g\":1000},"
                            "\"trace_code\":null}",
                            &status);
    ck_assert_int_eq(status, 200);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "stock")), 1500);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "pricing"), "price_fen")), 1100);
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(doc, "pricing"), "per_g")), 1000);
    ck_assert(json_is_null(json_object_get(doc, "trace_code")));
    ck_assert_str_eq(json_string_value(json_object_get(doc, "origin")), "410122"); /* untouched */
    ck_assert_str_eq(json_string_value(json_object_get(doc, "name")), "菠菜");
    json_decref(doc);
    ck_assert_int_eq(i64(&w, "SELECT price_fen FROM products WHERE id = ?", id), 1100);

    /* refused patches change nothing */
    const struct {
        const char *body;
        long status;
        const char *field;
    } bad[] = {
        {"{}", 422, "body"},
        {"{\"name\":\"菠菜2\"}", 422, "name"},
        {"{\"category\":\"fruit\"}", 422, "category"},
        {"{\"stock\":-1}", 422, "stock"},
        {"{\"stock\":1,\"status\":\"gone\"}", 422, "status"},
        {"{\"stock\":\"1\"}", 422, "stock"},
        {"{\"pricing\":{\"mode\":\"weight\",\"price_fen\":0,\"per_g\":500}}", 422, "pricing.price_fen"},
        {"{\"vendor_id\":2}", 422, "vendor_id"},
        {"{\"stock\":", 400, NULL},
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        doc = send_json("PATCH", path, w.ta, bad[i].body, &status);
        ck_assert_msg(status == bad[i].status, "case %zu: %ld", i, status);
        if (bad[i].field != NULL)
            ck_assert_msg(error_field(doc) != NULL && strcmp(error_field(doc), bad[i].field) == 0, "case %zu: %s", i,
                          error_field(doc));
        json_decref(doc);
    }
    ck_assert_int_eq(i64(&w, "SELECT stock FROM products WHERE id = ?", id), 1500);

    /* another vendor's product, an unknown id and a malformed id: 404, and nothing changes */
    snprintf(path, sizeof(path), "/v1/vendor/products/%lld", (long long)theirs);
    doc = send_json("PATCH", path, w.ta, "{\"stock\":1,\"status\":\"off_sale\"}", &status);
    ck_assert_int_eq(status, 404);
    ck_assert_str_eq(error_code(doc), "not_found");
    json_decref(doc);
    ck_assert_int_eq(i64(&w, "SELECT stock FROM products WHERE id = ?", theirs), 20000);
    ck_assert_int_eq(i64(&w, "SELECT status = 'on_sale' FROM products WHERE id = ?", theirs), 1);
    static const char *const nowhere[] = {"/v1/vendor/products/9007199254740000", "/v1/vendor/products/abc",
                                          "/v1/vendor/products/0"};
    for (size_t i = 0; i < 3; i++) {
        doc = send_json("PATCH", nowhere[i], w.ta, "{\"stock\":1}", &status);
        ck_assert_msg(status == 404, "%s: %ld", nowhere[i], status);
        json_decref(doc);
    }
    /* a patch that changes nothing still answers the product */
    snprintf(path, sizeof(path), "/v1/vendor/products/%lld", (long long)id);
    doc = send_json("PATCH", path, w.ta, "{\"stock\":1500}", &status);
    ck_assert_int_eq(status, 200);
    json_decref(doc);
    world_down(&w);
}
END_TEST

START_TEST(test_off_sale_is_hidden_from_the_public_but_listed_for_its_vendor)
{
    world_t w;
    world_up(&w);
    char path[128], pub[128], one[128];
    long status;
    int64_t id = create(w.ta, spinach), other = create(w.ta, spinach), theirs = create(w.tb, spinach);
    snprintf(pub, sizeof(pub), "/v1/markets/%lld/products", (long long)w.m.market_id);
    snprintf(one, sizeof(one), "/v1/products/%lld", (long long)id);
    json_t *doc = get(pub, NULL, &status);
    ck_assert(has_id(doc, id) && has_id(doc, other) && has_id(doc, theirs));
    json_decref(doc);
    doc = get(one, NULL, &status);
    ck_assert_int_eq(status, 200);
    json_decref(doc);

    snprintf(path, sizeof(path), "/v1/vendor/products/%lld", (long long)id);
    doc = send_json("PATCH", path, w.ta, "{\"status\":\"off_sale\"}", &status);
    ck_assert_int_eq(status, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "off_sale");
    json_decref(doc);

    doc = get(pub, NULL, &status);
    ck_assert_int_eq(status, 200);
    ck_assert(!has_id(doc, id) && has_id(doc, other));
    json_decref(doc);
    doc = get(one, NULL, &status);
    ck_assert_int_eq(status, 404);
    json_decref(doc);

    doc = get("/v1/vendor/products", w.ta, &status);
    ck_assert_int_eq(status, 200);
    ck_assert(has_id(doc, id) && has_id(doc, other) && !has_id(doc, theirs)); /* own products only */
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), 2);
    json_decref(doc);

    /* the vendor's list pages too */
    doc = get("/v1/vendor/products?limit=1", w.ta, &status);
    ck_assert_int_eq(status, 200);
    ck_assert_uint_eq(json_array_size(json_object_get(doc, "items")), 1);
    const char *next = json_string_value(json_object_get(doc, "next_cursor"));
    ck_assert_ptr_nonnull(next);
    snprintf(path, sizeof(path), "/v1/vendor/products?limit=1&cursor=%s", next);
    json_decref(doc);
    doc = get(path, w.ta, &status);
    ck_assert_int_eq(status, 200);
    ck_assert(has_id(doc, other));
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    static const char *const bad[] = {"/v1/vendor/products?limit=0", "/v1/vendor/products?limit=101",
                                      "/v1/vendor/products?cursor=zzz"};
    for (size_t i = 0; i < 3; i++) {
        doc = get(bad[i], w.ta, &status);
        ck_assert_msg(status == 422, "%s: %ld", bad[i], status);
        json_decref(doc);
    }

    /* back on sale: public again */
    snprintf(path, sizeof(path), "/v1/vendor/products/%lld", (long long)id);
    doc = send_json("PATCH", path, w.ta, "{\"status\":\"on_sale\"}", &status);
    ck_assert_int_eq(status, 200);
    json_decref(doc);
    doc = get(one, NULL, &status);
    ck_assert_int_eq(status, 200);
    json_decref(doc);
    world_down(&w);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("vendor_products");
    TCase *tc = tcase_create("vendor_products");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_a_vendor_puts_a_weighed_product_on_sale_and_an_anonymous_client_finds_it_over_http2);
    tcase_add_test(tc, test_vendor_routes_admit_vendors_only);
    tcase_add_test(tc, test_bad_create_bodies_are_refused_in_the_error_shape_and_nothing_is_written);
    tcase_add_test(tc, test_a_vendor_without_a_stall_gets_409_and_a_suspended_one_403);
    tcase_add_test(tc, test_a_patch_changes_only_what_it_names_and_another_vendors_product_is_404);
    tcase_add_test(tc, test_off_sale_is_hidden_from_the_public_but_listed_for_its_vendor);
    suite_add_tcase(su, tc);
    return t_main_shared(su, NULL, &shared, &shared_exit);
}
