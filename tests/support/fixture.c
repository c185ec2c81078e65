/*
 * Fixtures for end-to-end tests (see fixture.h). Each call opens its own connection to the
 * test database (STALLFRONT_DB_*), does its work with the models (or plain SQL: tests are
 * not the product) and closes it again, so a test may call them from its main thread in
 * any order. Names carry the pid and a per-process counter: binaries running at once never
 * collide, and nothing here deletes what other tests made.
 */
#include <check.h>
#include <openssl/rand.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "models/store/migrate.h"
#include "models/user.h"

static atomic_int fixture_seq; /* test-only: makes names unique within the process */

void t_migrate(void)
{
    config_t cfg;
    db_t db;
    char err[512];
    int applied = 0;
    t_load_cfg(&cfg);
    db_thread_init();
    ck_assert_msg(db_open(&db, &cfg) == DB_OK, "connecting to %s: %s", cfg.db_name, db.err);
    int rc = migrate_run(&db, migrations_builtin, migrations_builtin_count, NULL, &applied, err, sizeof(err));
    db_close(&db);
    config_free(&cfg);
    ck_assert_msg(rc == 0, "migrate: %s", err);
}

/* The category tree of every fixture market: see fixture.h for the codes. */
static const struct {
    const char *code, *name, *commodity_code, *parent;
} categories[] = {
    {"veg", "蔬菜", "A01", NULL},
    {"veg-leafy", "叶菜类", "A010101", "veg"},
    {"veg-root", "根茎类", "A010201", "veg"},
    {"fruit", "水果", "A02", NULL},
    {"meat", "畜禽肉", "A03", NULL},
    {"eggs", "禽蛋", "A04", NULL},
    {"aquatic", "水产品", "A05", NULL},
    {"grain-oil", "粮油", "A06", NULL},
};

static void insert_market(db_t *db, const char *code, int64_t *id)
{
    uint64_t insert_id = 0;
    db_param_t p[] = {DB_STR(code)};
    int rc =
        db_exec(db,
                "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours) "
                "VALUES (?, '测试农贸市场', '河南省郑州市二七区测试路1号', 34.724100, 113.625400, '410103', "
                "'a market made by the tests', '[]', 'be fair', '06:00-20:00')",
                p, 1, NULL, &insert_id);
    ck_assert_msg(rc == DB_OK, "insert market %s: %s", code, db->err);
    *id = (int64_t)insert_id;
}

static void insert_categories(db_t *db, int64_t market_id)
{
    for (size_t i = 0; i < sizeof(categories) / sizeof(categories[0]); i++) {
        db_param_t p[] = {DB_I64(market_id),
                          DB_STR(categories[i].code),
                          DB_STR(categories[i].name),
                          DB_STR(categories[i].commodity_code),
                          categories[i].parent != NULL ? DB_STR(categories[i].parent) : DB_NULL,
                          DB_I64((int64_t)i)};
        int rc = db_exec(db,
                         "INSERT INTO categories (market_id, code, name, commodity_code, parent_code, sort) "
                         "VALUES (?, ?, ?, ?, ?, ?)",
                         p, 6, NULL, NULL);
        ck_assert_msg(rc == DB_OK, "insert category %s: %s", categories[i].code, db->err);
    }
}

/* A random password of 24 base64url-ish characters (alphanumerics only, to keep it simple to
 * put into JSON and shell commands). */
static void random_password(char *out, size_t len)
{
    static const char alphabet[] = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789";
    unsigned char raw[24];
    ck_assert(len > sizeof(raw));
    ck_assert(RAND_bytes(raw, sizeof(raw)) == 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        out[i] = alphabet[raw[i] % (sizeof(alphabet) - 1)];
    out[sizeof(raw)] = '\0';
}

void t_fixture_market(t_market_t *m)
{
    config_t cfg;
    db_t db;
    char code[32];
    int n = atomic_fetch_add(&fixture_seq, 1);
    memset(m, 0, sizeof(*m));
    /* pid, counter and the clock: a pid reused by a later run must not meet its markets */
    unsigned stamp = (unsigned)time(NULL) & 0xffffff;
    snprintf(code, sizeof(code), "t%d_%d_%x", (int)getpid(), n, stamp);
    snprintf(m->op_user, sizeof(m->op_user), "op%d_%d_%x", (int)getpid(), n, stamp);
    random_password(m->op_pass, sizeof(m->op_pass));
    t_load_cfg(&cfg);
    db_thread_init();
    ck_assert_msg(db_open(&db, &cfg) == DB_OK, "connecting to %s: %s", cfg.db_name, db.err);
    ck_assert_msg(db_begin(&db) == DB_OK, "begin: %s", db.err);
    insert_market(&db, code, &m->market_id);
    insert_categories(&db, m->market_id);
    int64_t uid = 0;
    user_new_t u = {.role = "operator",
                    .market_id = m->market_id,
                    .username = m->op_user,
                    .password = m->op_pass,
                    .display_name = "测试运营"};
    int rc = user_create(&db, &u, &uid);
    ck_assert_msg(rc == DB_OK, "create operator %s: %d %s", m->op_user, rc, db.err);
    ck_assert_msg(db_commit(&db) == DB_OK, "commit: %s", db.err);
    db_close(&db);
    config_free(&cfg);
}

/* Takes "token" out of a sign-in answer. 0, or the status (or -1 if 200 without a token). */
static long token_of(const tresp_t *r, char *token, size_t len)
{
    if (r->status != 200)
        return r->status;
    json_t *doc = t_json(r);
    const char *t = json_string_value(json_object_get(doc, "token"));
    long rc = t != NULL && strlen(t) < len ? 0 : -1;
    if (rc == 0)
        snprintf(token, len, "%s", t);
    json_decref(doc);
    return rc;
}

long t_login(const tserver_t *s, const char *user, const char *pass, char *token, size_t len)
{
    tresp_t r;
    json_t *body = json_pack("{s:s, s:s}", "username", user, "password", pass);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    ck_assert_ptr_nonnull(text);
    t_call(s, "POST", "/v1/auth/login", NULL, text, &r);
    free(text);
    long rc = token_of(&r, token, len);
    t_resp_free(&r);
    return rc;
}

long t_login_wechat(const tserver_t *s, const char *name, char *token, size_t len)
{
    tresp_t r;
    char code[128];
    snprintf(code, sizeof(code), "sandbox-%s", name);
    json_t *body = json_pack("{s:s}", "code", code);
    char *text = json_dumps(body, JSON_COMPACT);
    json_decref(body);
    ck_assert_ptr_nonnull(text);
    t_call(s, "POST", "/v1/auth/wechat", NULL, text, &r);
    free(text);
    long rc = token_of(&r, token, len);
    t_resp_free(&r);
    return rc;
}

void t_call(const tserver_t *s, const char *method, const char *path, const char *token, const char *body, tresp_t *r)
{
    char url[1024], auth[1024];
    const char *h[3] = {NULL, NULL, NULL};
    size_t nh = 0;
    snprintf(url, sizeof(url), "%s%s", t_base(s, T_H2C), path);
    if (token != NULL) {
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", token);
        h[nh++] = auth;
    }
    if (body != NULL)
        h[nh++] = "Content-Type: application/json";
    int rc = t_request(T_H2C, method, url, h, body, body != NULL ? strlen(body) : 0, r);
    ck_assert_msg(rc == 0, "no answer for %s %s", method, url);
}
