/*
 * Test support for the shop's end-to-end tests (see shop.h): a test's world made with SQL
 * and the fixtures, consumers, and requests over h2c. No state of its own: the server and
 * the world come from the caller, who frees what it is given (shop_world_down, json_decref,
 * free).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "tests/support/dbtest.h"
#include "tests/support/shop.h"

int64_t shop_sql(db_t *db, const char *text, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(db, text, p, n, NULL, &id) == DB_OK, "%s: %s", text, db->err);
    return (int64_t)id;
}

int64_t shop_i64(db_t *db, const char *text, int64_t id)
{
    return t_db_i64(db, text, (db_param_t[]){DB_I64(id)}, 1);
}

void shop_stall(db_t *db, int64_t market, const char *no, int64_t *vendor, int64_t *stall)
{
    *vendor = shop_sql(db,
                       "INSERT INTO vendors (market_id, name, contact_phone, business_scope, credit_level)"
                       " VALUES (?, '张三', '13900000000', '蔬菜', 'A')",
                       (db_param_t[]){DB_I64(market)}, 1);
    *stall = shop_sql(
        db, "INSERT INTO stalls (market_id, stall_no, zone, map_x, map_y, vendor_id) VALUES (?, ?, 'A', 1, 2, ?)",
        (db_param_t[]){DB_I64(market), DB_STR(no), DB_I64(*vendor)}, 3);
}

void shop_world_open(shop_world_t *w)
{
    memset(w, 0, sizeof(*w));
    t_fixture_market(&w->m);
    t_load_cfg(&w->cfg);
    db_thread_init();
    ck_assert_msg(db_open(&w->db, &w->cfg) == DB_OK, "db: %s", w->db.err);
    ck_assert_msg(redis_open(&w->redis, &w->cfg) == 0, "redis: %s", w->redis.err);
}

void shop_world_up(shop_world_t *w)
{
    shop_world_open(w);
    t_fixture_market(&w->other);
    shop_stall(&w->db, w->m.market_id, "A-01", &w->vendor[0], &w->stall[0]);
    shop_stall(&w->db, w->m.market_id, "A-02", &w->vendor[1], &w->stall[1]);
    shop_stall(&w->db, w->m.market_id, "B-01", &w->vendor[2], &w->stall[2]);
    shop_stall(&w->db, w->other.market_id, "A-01", &w->other_vendor, &w->other_stall);
    w->other_product = shop_other_product(w, "小白菜", 300, 500, 50000);
}

void shop_world_down(shop_world_t *w)
{
    redis_close(&w->redis);
    db_close(&w->db);
    config_free(&w->cfg);
}

/* A product of the stall (of the market, with the vendor). */
static int64_t product_at(shop_world_t *w, int64_t market, int64_t stall, int64_t vendor, const char *name,
                          int64_t price, int64_t per_g, int64_t stock)
{
    db_param_t p[] = {DB_I64(market),
                      DB_I64(stall),
                      DB_I64(vendor),
                      DB_STR(name),
                      DB_STR(per_g > 0 ? "weight" : "count"),
                      DB_I64(price),
                      per_g > 0 ? DB_I64(per_g) : DB_NULL,
                      per_g > 0 ? DB_NULL : DB_STR("个"),
                      DB_I64(stock)};
    return shop_sql(&w->db,
                    "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                    " pricing_mode, price_fen, per_g, unit, stock, origin, trace_code) VALUES (?, ?, ?, 'veg-leafy',"
                    " 'A010101', ?, ?, ?, ?, ?, ?, '410122', 'ZZ-1')",
                    p, 9);
}

int64_t shop_product(shop_world_t *w, int s, const char *name, int64_t price, int64_t per_g, int64_t stock)
{
    return product_at(w, w->m.market_id, w->stall[s], w->vendor[s], name, price, per_g, stock);
}

int64_t shop_other_product(shop_world_t *w, const char *name, int64_t price, int64_t per_g, int64_t stock)
{
    return product_at(w, w->other.market_id, w->other_stall, w->other_vendor, name, price, per_g, stock);
}

int64_t shop_address(db_t *db, int64_t user, int64_t market, const char *lat, const char *lng)
{
    db_param_t p[] = {market != 0 ? DB_I64(market) : DB_NULL, DB_I64(user), DB_STR(lat), DB_STR(lng)};
    return shop_sql(db,
                    "INSERT INTO addresses (market_id, user_id, name, phone, text, lat, lng)"
                    " VALUES (?, ?, '王五', '13800000000', '郑州市二七区', ?, ?)",
                    p, 4);
}

void shop_consumer(const tserver_t *s, db_t *db, const char *prefix, int seq, shop_consumer_t *c)
{
    char name[48], openid[64];
    snprintf(name, sizeof(name), "%s%d_%d", prefix, (int)getpid(), seq);
    ck_assert_int_eq(t_login_wechat(s, name, c->token, sizeof(c->token)), 0);
    snprintf(openid, sizeof(openid), "sandbox-%s", name);
    c->id = t_db_i64(db, "SELECT id FROM users WHERE wechat_openid = ?", (db_param_t[]){DB_STR(openid)}, 1);
    c->address = shop_address(db, c->id, 0, "34.725000", "113.626500");
}

/* No Check assertions here: threads call it too. */
long shop_request(const tserver_t *s, const char *method, const char *path, const char *token, const char *body,
                  const char *idem, char **text)
{
    char url[512], auth[256], key[512];
    const char *h[4] = {NULL, NULL, NULL, NULL};
    size_t nh = 0;
    tresp_t r;
    snprintf(url, sizeof(url), "%s%s", t_base(s, T_H2C), path);
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h[nh++] = auth;
    }
    if (body != NULL)
        h[nh++] = "Content-Type: application/json";
    if (idem != NULL) {
        snprintf(key, sizeof(key), "Idempotency-Key: %s", idem);
        h[nh++] = key;
    }
    if (text != NULL)
        *text = NULL;
    if (t_request(T_H2C, method, url, h, body, body != NULL ? strlen(body) : 0, &r) != 0)
        return -1;
    long status = r.status;
    if (text != NULL)
        *text = strndup(r.body != NULL ? r.body : "", r.len);
    t_resp_free(&r);
    return status;
}

json_t *shop_call(const tserver_t *s, const char *method, const char *path, const char *token, const char *body,
                  const char *idem, long *status)
{
    char *text = NULL;
    *status = shop_request(s, method, path, token, body, idem, &text);
    ck_assert_msg(*status > 0, "no answer for %s %s", method, path);
    json_t *doc = json_loads(text, 0, NULL);
    ck_assert_msg(doc != NULL, "%s %s: not JSON: %s", method, path, text);
    free(text);
    return doc;
}

const char *shop_error_code(const json_t *doc)
{
    return json_string_value(json_object_get(json_object_get(doc, "error"), "code"));
}

const char *shop_error_field(const json_t *doc)
{
    return json_string_value(json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "field"));
}

void shop_expect_error(json_t *doc, const long *status, long want, const char *code)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    ck_assert_msg(*status == want && shop_error_code(doc) != NULL && strcmp(shop_error_code(doc), code) == 0 &&
                      json_is_string(json_object_get(json_object_get(doc, "error"), "message")),
                  "want %ld %s, got %ld %s", want, code, *status, text);
    free(text);
    json_decref(doc);
}

void shop_put_cart(const tserver_t *s, const shop_consumer_t *c, int64_t product_id, int64_t qty)
{
    char path[96], body[64];
    snprintf(path, sizeof(path), "/v1/cart/items/%lld", (long long)product_id);
    snprintf(body, sizeof(body), "{\"qty\":%lld}", (long long)qty);
    long status = shop_request(s, "PUT", path, c->token, body, NULL, NULL);
    ck_assert_msg(status == 200, "PUT %s: %ld", path, status);
}

void shop_checkout_body(char *buf, size_t len, int64_t market, int64_t address_id)
{
    snprintf(buf, len, "{\"market_id\":%lld,\"address_id\":%lld}", (long long)market, (long long)address_id);
}

json_t *shop_checkout(const tserver_t *s, const shop_consumer_t *c, int64_t market, long *status)
{
    char body[128];
    shop_checkout_body(body, sizeof(body), market, c->address);
    return shop_call(s, "POST", "/v1/orders", c->token, body, NULL, status);
}

int64_t shop_jint(const json_t *o, const char *k)
{
    return json_integer_value(json_object_get(o, k));
}

int64_t shop_stock(db_t *db, int64_t product_id)
{
    return shop_i64(db, "SELECT stock FROM products WHERE id = ?", product_id);
}
