/*
 * End to end: the routes the web dashboards added (issue 12), on the real server, made
 * through the operator's own API in two markets A and B:
 *   GET /v1/admin/expiring?within_days=   licences and health certificates to renew
 *   GET /v1/vendor/profile                the vendor's own record
 *   GET /v1/vendor/complaints             complaints about the vendor's own stalls
 *   GET /v1/courier/shift                 the courier's shift now (and POST's same shape)
 * with their roles, confinement to the caller's market, vendor or courier (the other's
 * names never appear in a body), empty cases and bad parameters.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "tests/support/fixture.h"
#include "tests/support/testutil.h"

static const char *const test_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox", "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000",
                                       NULL};

static tserver_t srv;
static int srv_exit = 0;
static t_market_t mkt_a, mkt_b;
static char tok_a[128], tok_b[128], tok_consumer[128], tok_v1[128], tok_v2[128], tok_vb[128];
static int64_t s1, s2, s3, v1, v2, v3, vb;
static int seq;

/* ---------------------------------------------------------------- helpers */

static const char *uniq(char *buf, size_t len, const char *prefix)
{
    snprintf(buf, len, "%s%d_%d", prefix, (int)getpid(), seq++);
    return buf;
}

/* Today (+08:00) shifted by `days`, as YYYY-MM-DD. */
static const char *day(char *buf, size_t len, int days)
{
    time_t t = time(NULL) + 8 * 3600 + (time_t)days * 86400;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
    return buf;
}

/* method path as token with doc (stolen, may be NULL): the answer's document, its status. */
static json_t *call(const char *token, const char *method, const char *path, json_t *doc, long *status)
{
    char *text = doc != NULL ? json_dumps(doc, JSON_COMPACT) : NULL;
    tresp_t r;
    json_decref(doc);
    t_call(&srv, method, path, token, text, &r);
    free(text);
    *status = r.status;
    json_t *out = t_json(&r);
    t_resp_free(&r);
    return out;
}

/* Must answer want; the document. */
static json_t *expect(const char *token, const char *method, const char *path, json_t *doc, long want)
{
    long st = 0;
    json_t *out = call(token, method, path, doc, &st);
    char *text = json_dumps(out, JSON_COMPACT);
    ck_assert_msg(st == want, "%s %s: %ld, want %ld: %s", method, path, st, want, text != NULL ? text : "");
    free(text);
    return out;
}

/* GET path must be refused with want and this code (and field when not NULL). */
static void refused(const char *token, const char *path, long want, const char *code, const char *field)
{
    json_t *doc = expect(token, "GET", path, NULL, want), *err = json_object_get(doc, "error");
    ck_assert_msg(json_is_object(err), "%s: no error object", path);
    ck_assert_str_eq(json_string_value(json_object_get(err, "code")), code);
    if (field != NULL)
        ck_assert_str_eq(json_string_value(json_object_get(json_object_get(err, "details"), "field")), field);
    json_decref(doc);
}

static int64_t jint(const json_t *o, const char *k)
{
    const json_t *v = json_object_get(o, k);
    ck_assert_msg(json_is_integer(v), "%s is not an integer", k);
    return json_integer_value(v);
}

static const char *jstr(const json_t *o, const char *k)
{
    const char *s = json_string_value(json_object_get(o, k));
    ck_assert_msg(s != NULL, "%s is not a string", k);
    return s;
}

/* Whether the document's text holds s anywhere. */
static int mentions(const json_t *doc, const char *s)
{
    char *text = json_dumps(doc, JSON_COMPACT);
    int found = strstr(text, s) != NULL;
    free(text);
    return found;
}

static int64_t make_stall(const char *token, const char *no)
{
    json_t *doc =
        expect(token, "POST", "/v1/admin/stalls",
               json_pack("{s:s, s:s, s:{s:i, s:i}}", "stall_no", no, "zone", "B区", "map", "x", 3, "y", 4), 201);
    int64_t id = jint(doc, "id");
    json_decref(doc);
    return id;
}

/* A vendor on `stall` (0: none) with one licence valid until `until`; its id, and its token
 * signed in when token is not NULL. */
static int64_t make_vendor(const char *op, int64_t stall, const char *name, const char *licence_no, const char *until,
                           char *token)
{
    char user[64];
    json_t *body = json_pack("{s:s, s:s, s:[], s:s, s:[{s:s, s:s, s:s}], s:s, s:s, s:s}", "name", name, "contact_phone",
                             "13800138000", "stall_ids", "business_scope", "蔬菜零售", "licences", "type",
                             "food_business_licence", "number", licence_no, "valid_until", until, "credit_level", "B",
                             "username", uniq(user, sizeof(user), "dv"), "password", "vendor-pass-1");
    if (stall > 0)
        json_array_append_new(json_object_get(body, "stall_ids"), json_integer(stall));
    json_t *doc = expect(op, "POST", "/v1/admin/vendors", body, 201);
    int64_t id = jint(doc, "id");
    json_decref(doc);
    if (token != NULL)
        ck_assert_int_eq(t_login(&srv, user, "vendor-pass-1", token, 128), 0);
    return id;
}

static void add_staff(const char *op, int64_t vendor, const char *name, const char *cert, const char *until)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/admin/vendors/%lld/staff", (long long)vendor);
    json_decref(expect(op, "POST", path,
                       json_pack("{s:s, s:s, s:s}", "name", name, "certificate", cert, "valid_until", until), 201));
}

static void set_status(const char *op, int64_t vendor, const char *status)
{
    char path[96];
    snprintf(path, sizeof(path), "/v1/admin/vendors/%lld", (long long)vendor);
    json_decref(expect(op, "PATCH", path, json_pack("{s:s}", "status", status), 200));
}

/* ---------------------------------------------------------------- set-up */

static void shared_up(void)
{
    char user[64], d[16];
    t_migrate();
    t_fixture_market(&mkt_a);
    t_fixture_market(&mkt_b);
    ck_assert_msg(tserver_start(&srv, test_env) == 0, "server did not start");
    ck_assert_int_eq(t_login(&srv, mkt_a.op_user, mkt_a.op_pass, tok_a, sizeof(tok_a)), 0);
    ck_assert_int_eq(t_login(&srv, mkt_b.op_user, mkt_b.op_pass, tok_b, sizeof(tok_b)), 0);
    ck_assert_int_eq(t_login_wechat(&srv, uniq(user, sizeof(user), "dc"), tok_consumer, sizeof(tok_consumer)), 0);
    s1 = make_stall(tok_a, "D-1");
    s2 = make_stall(tok_a, "D-2");
    s3 = make_stall(tok_a, "D-3");
    int64_t sb = make_stall(tok_b, "D-1");
    /* A: 赵记 (D-1, D-3) licence in 10 days, a certificate expired 5 days ago and one valid
     * for years; 钱记 (D-2) suspended, licence in 20 days; 孙记 closed, licence expired. B:
     * 周记, licence expired. */
    v1 = make_vendor(tok_a, s1, "赵记", "LIC-V1", day(d, sizeof(d), 10), tok_v1);
    {
        char path[96];
        snprintf(path, sizeof(path), "/v1/admin/vendors/%lld", (long long)v1);
        json_decref(
            expect(tok_a, "PATCH", path, json_pack("{s:[I, I]}", "stall_ids", (json_int_t)s1, (json_int_t)s3), 200));
    }
    add_staff(tok_a, v1, "赵大", "HC-OLD", day(d, sizeof(d), -5));
    add_staff(tok_a, v1, "赵二", "HC-NEW", "2099-12-31");
    v2 = make_vendor(tok_a, s2, "钱记", "LIC-V2", day(d, sizeof(d), 20), tok_v2);
    set_status(tok_a, v2, "suspended");
    v3 = make_vendor(tok_a, 0, "孙记", "LIC-V3", day(d, sizeof(d), -1), NULL);
    set_status(tok_a, v3, "closed");
    vb = make_vendor(tok_b, sb, "周记", "LIC-VB", day(d, sizeof(d), -2), tok_vb);
}

static void shared_down(void)
{
    srv_exit = tserver_stop(&srv, SIGTERM);
}

/* ---------------------------------------------------------------- what expires */

static void expect_item(const json_t *it, int64_t vendor, const char *kind, const char *label, const char *number,
                        int days_left)
{
    char d[16];
    ck_assert_int_eq(jint(it, "vendor_id"), vendor);
    ck_assert_str_eq(jstr(it, "kind"), kind);
    ck_assert_str_eq(jstr(it, "label"), label);
    ck_assert_str_eq(jstr(it, "number"), number);
    ck_assert_str_eq(jstr(it, "valid_until"), day(d, sizeof(d), days_left));
    ck_assert_int_eq(jint(it, "days_left"), days_left);
}

START_TEST(test_the_centre_lists_what_expires_in_its_own_market_soonest_first)
{
    json_t *doc = expect(tok_a, "GET", "/v1/admin/expiring", NULL, 200), *items = json_object_get(doc, "items");
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    ck_assert_int_eq(json_array_size(items), 3);
    expect_item(json_array_get(items, 0), v1, "health_certificate", "赵大", "HC-OLD", -5);
    expect_item(json_array_get(items, 1), v1, "licence", "food_business_licence", "LIC-V1", 10);
    expect_item(json_array_get(items, 2), v2, "licence", "food_business_licence", "LIC-V2", 20);
    json_t *first = json_array_get(items, 0), *nos = json_object_get(first, "stall_nos");
    ck_assert_str_eq(jstr(first, "vendor_name"), "赵记");
    ck_assert_str_eq(jstr(first, "vendor_status"), "active");
    ck_assert_int_eq(json_array_size(nos), 2);
    ck_assert_str_eq(json_string_value(json_array_get(nos, 0)), "D-1");
    ck_assert_str_eq(json_string_value(json_array_get(nos, 1)), "D-3");
    ck_assert_str_eq(jstr(json_array_get(items, 2), "vendor_status"), "suspended"); /* still listed */
    ck_assert(!mentions(doc, "孙记"));                                              /* closed: left out */
    ck_assert(!mentions(doc, "周记"));                                              /* market B's */
    ck_assert(!mentions(doc, "HC-NEW"));
    json_decref(doc);
    /* the window: 0 is what has expired or expires today; 15 stops before 钱记's */
    doc = expect(tok_a, "GET", "/v1/admin/expiring?within_days=0", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    json_decref(doc);
    doc = expect(tok_a, "GET", "/v1/admin/expiring?within_days=15", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 2);
    json_decref(doc);
    doc = expect(tok_a, "GET", "/v1/admin/expiring?within_days=365", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 3);
    json_decref(doc);
    /* market B sees its own only */
    doc = expect(tok_b, "GET", "/v1/admin/expiring", NULL, 200);
    items = json_object_get(doc, "items");
    ck_assert_int_eq(json_array_size(items), 1);
    expect_item(json_array_get(items, 0), vb, "licence", "food_business_licence", "LIC-VB", -2);
    ck_assert(!mentions(doc, "赵记"));
    json_decref(doc);
    /* an empty market: an empty list */
    t_market_t empty;
    char tok[128];
    t_fixture_market(&empty);
    ck_assert_int_eq(t_login(&srv, empty.op_user, empty.op_pass, tok, sizeof(tok)), 0);
    doc = expect(tok, "GET", "/v1/admin/expiring", NULL, 200);
    ck_assert(json_is_array(json_object_get(doc, "items")));
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    /* bad windows, roles */
    static const char *const bad[] = {"-1", "366", "abc", "1.5", "", "0030", "+30", "99999999999999999999", "1e2", NULL};
    for (int i = 0; bad[i] != NULL; i++) {
        char path[96];
        snprintf(path, sizeof(path), "/v1/admin/expiring?within_days=%s", bad[i]);
        refused(tok_a, path, 422, "invalid", "within_days");
    }
    refused(NULL, "/v1/admin/expiring", 401, "unauthorized", NULL);
    refused(tok_v1, "/v1/admin/expiring", 403, "forbidden", NULL);
    refused(tok_consumer, "/v1/admin/expiring", 403, "forbidden", NULL);
}
END_TEST

/* ---------------------------------------------------------------- a vendor's own record */

START_TEST(test_a_vendor_reads_its_own_profile_only)
{
    json_t *doc = expect(tok_v1, "GET", "/v1/vendor/profile", NULL, 200), *stalls = json_object_get(doc, "stalls");
    ck_assert_int_eq(jint(doc, "vendor_id"), v1);
    ck_assert_int_eq(jint(doc, "id"), v1);
    ck_assert_int_eq(jint(doc, "market_id"), mkt_a.market_id);
    ck_assert_str_eq(jstr(doc, "name"), "赵记");
    ck_assert_str_eq(jstr(doc, "credit_level"), "B");
    ck_assert_int_eq(json_array_size(stalls), 2);
    ck_assert_int_eq(jint(json_array_get(stalls, 0), "id"), s1);
    ck_assert_str_eq(jstr(json_array_get(stalls, 0), "stall_no"), "D-1");
    ck_assert_str_eq(jstr(json_array_get(stalls, 0), "zone"), "B区");
    ck_assert_str_eq(jstr(json_array_get(stalls, 1), "stall_no"), "D-3");
    ck_assert_int_eq(json_array_size(json_object_get(doc, "stall_ids")), 2);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "licences")), 1);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "staff")), 2);
    ck_assert_ptr_null(json_object_get(doc, "password"));
    ck_assert(!mentions(doc, "钱记") && !mentions(doc, "周记"));
    json_decref(doc);
    /* the same record the operator reads, plus vendor_id and stalls */
    char path[96];
    snprintf(path, sizeof(path), "/v1/admin/vendors/%lld", (long long)v1);
    json_t *admin = expect(tok_a, "GET", path, NULL, 200);
    doc = expect(tok_v1, "GET", "/v1/vendor/profile", NULL, 200);
    json_object_del(doc, "vendor_id");
    json_object_del(doc, "stalls");
    ck_assert(json_equal(doc, admin));
    json_decref(admin);
    json_decref(doc);
    /* the other market's vendor: its own */
    doc = expect(tok_vb, "GET", "/v1/vendor/profile", NULL, 200);
    ck_assert_int_eq(jint(doc, "vendor_id"), vb);
    ck_assert_str_eq(jstr(doc, "name"), "周记");
    ck_assert(!mentions(doc, "赵记"));
    json_decref(doc);
    refused(NULL, "/v1/vendor/profile", 401, "unauthorized", NULL);
    refused(tok_a, "/v1/vendor/profile", 403, "forbidden", NULL);
    refused(tok_consumer, "/v1/vendor/profile", 403, "forbidden", NULL);
}
END_TEST

/* ---------------------------------------------------------------- a vendor's complaints */

static int64_t complain(int64_t stall, const char *text)
{
    json_t *doc = expect(tok_consumer, "POST", "/v1/complaints",
                         json_pack("{s:I, s:s}", "stall_id", (json_int_t)stall, "text", text), 201);
    int64_t id = jint(doc, "id");
    json_decref(doc);
    return id;
}

START_TEST(test_a_vendor_sees_the_complaints_about_its_own_stalls_only)
{
    char path[160];
    /* none yet: an empty page */
    json_t *doc = expect(tok_v2, "GET", "/v1/vendor/complaints", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    int64_t c1 = complain(s1, "秤不准"), c2 = complain(s2, "钱记的菜不新鲜"), c3 = complain(s3, "态度差");
    /* 赵记 holds D-1 and D-3: two, newest first, without the consumer */
    doc = expect(tok_v1, "GET", "/v1/vendor/complaints", NULL, 200);
    json_t *items = json_object_get(doc, "items");
    ck_assert_int_eq(json_array_size(items), 2);
    ck_assert_int_eq(jint(json_array_get(items, 0), "id"), c3);
    ck_assert_int_eq(jint(json_array_get(items, 1), "id"), c1);
    ck_assert_str_eq(jstr(json_array_get(items, 0), "stall_no"), "D-3");
    ck_assert_str_eq(jstr(json_array_get(items, 0), "status"), "open");
    ck_assert(json_is_null(json_object_get(json_array_get(items, 0), "order_no")));
    ck_assert_ptr_null(json_object_get(json_array_get(items, 0), "consumer_id"));
    ck_assert(!mentions(doc, "钱记的菜不新鲜"));
    json_decref(doc);
    /* paged by a cursor of its own kind */
    doc = expect(tok_v1, "GET", "/v1/vendor/complaints?limit=1", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    snprintf(path, sizeof(path), "/v1/vendor/complaints?limit=1&cursor=%s", jstr(doc, "next_cursor"));
    json_decref(doc);
    doc = expect(tok_v1, "GET", path, NULL, 200);
    ck_assert_int_eq(jint(json_array_get(json_object_get(doc, "items"), 0), "id"), c1);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    /* resolved by the centre: the filter follows */
    snprintf(path, sizeof(path), "/v1/admin/complaints/%lld/resolve", (long long)c1);
    json_decref(expect(tok_a, "POST", path, json_pack("{s:s}", "note", "已校秤"), 200));
    doc = expect(tok_v1, "GET", "/v1/vendor/complaints?status=resolved", NULL, 200);
    items = json_object_get(doc, "items");
    ck_assert_int_eq(json_array_size(items), 1);
    ck_assert_str_eq(jstr(json_array_get(items, 0), "resolution"), "已校秤");
    ck_assert(json_is_string(json_object_get(json_array_get(items, 0), "resolved_at")));
    json_decref(doc);
    doc = expect(tok_v1, "GET", "/v1/vendor/complaints?status=open", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    json_decref(doc);
    /* 钱记 its one; the other market's vendor none */
    doc = expect(tok_v2, "GET", "/v1/vendor/complaints", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 1);
    ck_assert_int_eq(jint(json_array_get(json_object_get(doc, "items"), 0), "id"), c2);
    json_decref(doc);
    doc = expect(tok_vb, "GET", "/v1/vendor/complaints", NULL, 200);
    ck_assert_int_eq(json_array_size(json_object_get(doc, "items")), 0);
    json_decref(doc);
    /* bad parameters: the admin list's cursor is not this list's */
    doc = expect(tok_a, "GET", "/v1/admin/complaints?limit=1", NULL, 200);
    snprintf(path, sizeof(path), "/v1/vendor/complaints?cursor=%s", jstr(doc, "next_cursor"));
    json_decref(doc);
    refused(tok_v1, path, 422, "invalid", "cursor");
    refused(tok_v1, "/v1/vendor/complaints?status=closed", 422, "invalid", "status");
    refused(tok_v1, "/v1/vendor/complaints?limit=0", 422, "invalid", "limit");
    refused(tok_v1, "/v1/vendor/complaints?limit=101", 422, "invalid", "limit");
    refused(tok_v1, "/v1/vendor/complaints?cursor=zzz", 422, "invalid", "cursor");
    refused(NULL, "/v1/vendor/complaints", 401, "unauthorized", NULL);
    refused(tok_a, "/v1/vendor/complaints", 403, "forbidden", NULL);
    refused(tok_consumer, "/v1/vendor/complaints", 403, "forbidden", NULL);
}
END_TEST

/* ---------------------------------------------------------------- a courier's shift */

static void make_courier(const char *op, char *token)
{
    char user[64];
    json_decref(expect(op, "POST", "/v1/admin/couriers",
                       json_pack("{s:s, s:s, s:s, s:s}", "name", "骑手甲", "phone", "13700000000", "username",
                                 uniq(user, sizeof(user), "dk"), "password", "courier-pass-1"),
                       201));
    ck_assert_int_eq(t_login(&srv, user, "courier-pass-1", token, 128), 0);
}

START_TEST(test_a_courier_reads_its_own_shift_as_post_answers_it)
{
    char tok_c[128], tok_c2[128];
    make_courier(tok_a, tok_c);
    make_courier(tok_b, tok_c2);
    /* never on shift: off, no since, no position */
    json_t *doc = expect(tok_c, "GET", "/v1/courier/shift", NULL, 200);
    ck_assert(json_is_false(json_object_get(doc, "on")));
    ck_assert_ptr_null(json_object_get(doc, "since"));
    ck_assert_ptr_null(json_object_get(doc, "lat"));
    json_decref(doc);
    /* on: POST and GET answer the same shift */
    json_t *post = expect(tok_c, "POST", "/v1/courier/shift", json_pack("{s:b}", "on", 1), 200);
    ck_assert(json_is_true(json_object_get(post, "on")));
    ck_assert(json_is_true(json_object_get(post, "on_shift")));
    ck_assert_int_eq(jint(post, "offers_withdrawn"), 0);
    ck_assert_int_eq(strlen(jstr(post, "since")), 29); /* 2026-11-30T08:14:05.123+08:00 */
    ck_assert_ptr_null(json_object_get(post, "lat"));
    doc = expect(tok_c, "GET", "/v1/courier/shift", NULL, 200);
    ck_assert(json_is_true(json_object_get(doc, "on")));
    ck_assert_str_eq(jstr(doc, "since"), jstr(post, "since"));
    ck_assert_int_eq(jint(doc, "id"), jint(post, "id"));
    ck_assert_ptr_null(json_object_get(doc, "location_at"));
    json_decref(doc);
    json_decref(post);
    /* a position: GET shows it with its time */
    json_decref(
        expect(tok_c, "PUT", "/v1/courier/location", json_pack("{s:f, s:f}", "lat", 34.7512, "lng", 113.6201), 200));
    doc = expect(tok_c, "GET", "/v1/courier/shift", NULL, 200);
    ck_assert(json_real_value(json_object_get(doc, "lat")) > 34.7511 &&
              json_real_value(json_object_get(doc, "lat")) < 34.7513);
    ck_assert(json_real_value(json_object_get(doc, "lng")) > 113.6200 &&
              json_real_value(json_object_get(doc, "lng")) < 113.6202);
    const char *at = jstr(doc, "location_at");
    ck_assert_int_eq(strlen(at), 29);
    ck_assert_str_eq(at + 23, "+08:00");
    json_decref(doc);
    /* on again while on: the position is kept and shown */
    post = expect(tok_c, "POST", "/v1/courier/shift", json_pack("{s:b}", "on", 1), 200);
    ck_assert(json_is_real(json_object_get(post, "lat")));
    json_decref(post);
    /* the other market's courier: its own, off */
    doc = expect(tok_c2, "GET", "/v1/courier/shift", NULL, 200);
    ck_assert(json_is_false(json_object_get(doc, "on")));
    ck_assert_ptr_null(json_object_get(doc, "lat"));
    json_decref(doc);
    /* off: no position any more */
    post = expect(tok_c, "POST", "/v1/courier/shift", json_pack("{s:b}", "on", 0), 200);
    ck_assert(json_is_false(json_object_get(post, "on")));
    ck_assert_ptr_null(json_object_get(post, "lat"));
    doc = expect(tok_c, "GET", "/v1/courier/shift", NULL, 200);
    ck_assert(json_is_false(json_object_get(doc, "on")));
    ck_assert_str_eq(jstr(doc, "since"), jstr(post, "since"));
    ck_assert_ptr_null(json_object_get(doc, "lat"));
    ck_assert_ptr_null(json_object_get(doc, "location_at"));
    json_decref(doc);
    json_decref(post);
    refused(NULL, "/v1/courier/shift", 401, "unauthorized", NULL);
    refused(tok_v1, "/v1/courier/shift", 403, "forbidden", NULL);
    refused(tok_a, "/v1/courier/shift", 403, "forbidden", NULL);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *su = suite_create("dashboards");
    TCase *tc = tcase_create("dashboards");
    tcase_set_timeout(tc, 60);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_test(tc, test_the_centre_lists_what_expires_in_its_own_market_soonest_first);
    tcase_add_test(tc, test_a_vendor_reads_its_own_profile_only);
    tcase_add_test(tc, test_a_vendor_sees_the_complaints_about_its_own_stalls_only);
    tcase_add_test(tc, test_a_courier_reads_its_own_shift_as_post_answers_it);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    curl_global_cleanup();
    if (srv_exit != 0) {
        fprintf(stderr, "the server exited with %d: see %s\n", srv_exit, srv.log_path);
        failed++;
    }
    return failed == 0 ? 0 : 1;
}
