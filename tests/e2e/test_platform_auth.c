/*
 * End to end: supervision-platform clients and their signed requests, on the real server,
 * MariaDB and Redis. A client made by the market's operator (its secret shown once, never in
 * a list or a log), a signed GET of the market profile, and every refusal: each part of the
 * signature, the clock, the nonce (any printable ASCII, kept longer than the clock window),
 * the headers (each exactly once, found behind any number of others), a repeated query
 * parameter, unknown, disabled and wrongly cased keys and a secret that does not open (all
 * one identical 401), a market not granted (403), the rate (429 with Retry-After, on a server
 * with a limit of 5 a minute; the refused nonce stays spent), rotation with and without a
 * grace period, refused within the grace unless it revokes the previous secret, another
 * market's operator (404, nothing changed) and the operator's bad bodies.
 */
#include <check.h>
#include <curl/curl.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/platsig.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/platclient.h"
#include "tests/support/shop.h"
#include "tests/support/testutil.h"

static const char *const test_env[] = {"STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000", "STALLFRONT_AUTH_LOGIN_WINDOW_S=1",
                                       NULL};
static const char *const tight_env[] = {"STALLFRONT_AUTH_LOGIN_MAX_FAILURES=1000", "STALLFRONT_AUTH_LOGIN_WINDOW_S=1",
                                        "STALLFRONT_PLATFORM_RATE_PER_MIN=5", "STALLFRONT_PLATFORM_ROTATION_GRACE_S=0",
                                        NULL};

static tserver_t srv;
static int srv_exit;
static shop_world_t w;
static char op[128], op_other[128];

static void shared_up(void)
{
    t_migrate();
    ck_assert_msg(tserver_start(&srv, test_env) == 0, "server did not start");
    shop_world_up(&w);
    ck_assert_int_eq(t_login(&srv, w.m.op_user, w.m.op_pass, op, sizeof(op)), 0);
    ck_assert_int_eq(t_login(&srv, w.other.op_user, w.other.op_pass, op_other, sizeof(op_other)), 0);
    db_close(&w.db); /* each test (a forked child) opens its own: see dbh() */
}

static void shared_down(void)
{
    srv_exit = tserver_stop(&srv, SIGTERM);
    shop_world_down(&w);
}

/* ---------------------------------------------------------------- helpers */

/* The test's own database connection (never one shared across forks). */
static db_t *dbh(void)
{
    if (w.db.mysql == NULL)
        ck_assert_msg(db_open(&w.db, &w.cfg) == DB_OK, "%s", w.db.err);
    return &w.db;
}

static void random_nonce(char *out)
{
    unsigned char raw[12];
    ck_assert_int_eq(RAND_bytes(raw, sizeof(raw)), 1);
    for (size_t i = 0; i < sizeof(raw); i++)
        snprintf(out + 2 * i, 3, "%02x", raw[i]);
}

static void profile_path(char *buf, size_t len, int64_t market)
{
    snprintf(buf, len, "/v1/platform/markets/%lld", (long long)market);
}

/* What a request signs and what it sends; NULL send_* fields send what was signed. */
typedef struct sreq {
    const char *secret;    /* NULL: the client's */
    const char *path;      /* signed path */
    const char *query;     /* signed query ("" none) */
    const char *send_path; /* NULL: path */
    const char *send_query;
    const char *body, *send_body;
    long long ts_off;     /* seconds added to now */
    const char *nonce;    /* NULL: a fresh one */
    const char *key;      /* NULL: the client's */
    int drop;             /* 1..4: leave out X-App-Key, X-Timestamp, X-Nonce, X-Signature */
    const char *send_sig; /* NULL: the computed one */
    int twice;            /* 1..4: send that signed header twice (the second time as `again`) */
    const char *again;    /* NULL: the same value again */
    int junk_before;      /* this many other headers before the signed ones */
} sreq_t;

/* Sends the request itself (not through t_platform_request) when it needs headers that one
 * cannot send: a signed header twice, or other headers before the signed ones. */
static long send_raw(const tserver_t *s, const char *pq, const char *body, const char *const vals[4], const sreq_t *q,
                     tresp_t *r)
{
    static const char *const names[4] = {"X-App-Key", "X-Timestamp", "X-Nonce", "X-Signature"};
    char url[2048], lines[80][300];
    const char *h[82];
    size_t nh = 0;
    snprintf(url, sizeof(url), "%s%s", t_base(s, T_H2C), pq);
    for (int i = 0; i < q->junk_before && i < 70; i++) {
        snprintf(lines[nh], sizeof(lines[nh]), "X-Other-%02d: value %d", i, i);
        h[nh] = lines[nh];
        nh++;
    }
    for (int k = 0; k < 4; k++) {
        if (vals[k] == NULL)
            continue;
        snprintf(lines[nh], sizeof(lines[nh]), "%s: %s", names[k], vals[k]);
        h[nh] = lines[nh];
        nh++;
        if (q->twice == k + 1) {
            snprintf(lines[nh], sizeof(lines[nh]), "%s: %s", names[k], q->again != NULL ? q->again : vals[k]);
            h[nh] = lines[nh];
            nh++;
        }
    }
    if (body != NULL)
        h[nh++] = "Content-Type: application/json";
    h[nh] = NULL;
    memset(r, 0, sizeof(*r));
    if (t_request(T_H2C, "GET", url, h, body, body != NULL ? strlen(body) : 0, r) != 0)
        return -1;
    return r->status;
}

static long send_signed(const tserver_t *s, const t_platform_t *c, const sreq_t *q, tresp_t *r)
{
    char ts[32], nonce[80], sig[PLATSIG_B64_MAX], pq[1024];
    snprintf(ts, sizeof(ts), "%lld", (long long)time(NULL) + q->ts_off);
    if (q->nonce != NULL)
        snprintf(nonce, sizeof(nonce), "%s", q->nonce);
    else
        random_nonce(nonce);
    const char *body = q->body;
    ck_assert_int_eq(platsig_sign(q->secret != NULL ? q->secret : c->secret, "GET", q->path, q->query, body,
                                  body != NULL ? strlen(body) : 0, ts, nonce, sig, sizeof(sig)),
                     0);
    const char *sp = q->send_path != NULL ? q->send_path : q->path;
    const char *sq = q->send_query != NULL ? q->send_query : q->query;
    snprintf(pq, sizeof(pq), "%s%s%s", sp, sq[0] != '\0' ? "?" : "", sq);
    const char *sb = q->send_body != NULL ? q->send_body : body;
    const char *vals[4] = {q->drop == 1     ? NULL
                           : q->key != NULL ? q->key
                                            : c->app_key,
                           q->drop == 2 ? NULL : ts, q->drop == 3 ? NULL : nonce,
                           q->drop == 4          ? NULL
                           : q->send_sig != NULL ? q->send_sig
                                                 : sig};
    if (q->twice != 0 || q->junk_before != 0)
        return send_raw(s, pq, sb, vals, q, r);
    return t_platform_request(s, "GET", pq, sb, vals[0], vals[1], vals[2], vals[3], r);
}

/* Sends q and expects status; for 401 the body must equal *first401 (set by the first one). */
static void expect(const tserver_t *s, const t_platform_t *c, const sreq_t *q, long status, char **first401,
                   const char *what)
{
    tresp_t r = {0};
    long got = send_signed(s, c, q, &r);
    ck_assert_msg(got == status, "%s: %ld, not %ld: %s", what, got, status, r.body != NULL ? r.body : "");
    if (status == 401) {
        ck_assert_msg(t_is_error(&r, "invalid_signature"), "%s: %s", what, r.body);
        if (*first401 == NULL)
            *first401 = strdup(r.body);
        else
            ck_assert_msg(strcmp(*first401, r.body) == 0, "%s: another 401 body: %s vs %s", what, r.body, *first401);
    }
    t_resp_free(&r);
}

/* 1 if the file has the text anywhere. */
static int file_has(const char *path, const char *text)
{
    FILE *f = fopen(path, "r");
    ck_assert_ptr_nonnull(f);
    size_t cap = 1 << 16, n = 0;
    char *buf = malloc(cap + 1);
    size_t got;
    while ((got = fread(buf + n, 1, cap - n, f)) > 0) {
        n += got;
        if (n == cap) {
            cap *= 2;
            buf = realloc(buf, cap + 1);
        }
    }
    fclose(f);
    buf[n] = '\0';
    int found = strstr(buf, text) != NULL;
    free(buf);
    return found;
}

static json_t *call(const char *token, const char *method, const char *path, const char *body, long *status)
{
    tresp_t r = {0};
    t_call(&srv, method, path, token, body, &r);
    *status = r.status;
    json_t *doc = t_json(&r);
    t_resp_free(&r);
    ck_assert_ptr_nonnull(doc);
    return doc;
}

static int64_t count_clients(int64_t market)
{
    return t_db_i64(dbh(),
                    "SELECT COUNT(*) * 1000 + COALESCE(SUM(status = 'active'), 0) + COALESCE(SUM(CRC32(secret_sealed)"
                    " % 97), 0) * 100000 FROM platform_clients WHERE market_id = ?",
                    (db_param_t[]){DB_I64(market)}, 1);
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_a_client_is_shown_its_secret_once_and_signs_a_profile_read)
{
    t_platform_t c;
    int64_t ids[] = {w.m.market_id};
    t_platform_create(&srv, op, "district", ids, 1, &c);
    ck_assert_int_eq((int)strlen(c.app_key), 24);
    ck_assert(strncmp(c.app_key, "pk_", 3) == 0);
    ck_assert_int_eq((int)strlen(c.secret), 43);

    char path[128];
    json_t *doc = NULL;
    profile_path(path, sizeof(path), w.m.market_id);
    ck_assert_int_eq(t_platform_get(&srv, &c, path, &doc), 200);
    ck_assert_int_eq(shop_jint(doc, "id"), w.m.market_id);
    ck_assert_int_eq(shop_jint(doc, "stall_count"), 3);
    ck_assert_int_eq(shop_jint(doc, "stalls_occupied"), 3);
    ck_assert_int_eq(shop_jint(doc, "vendor_count"), 3);
    ck_assert_int_eq(shop_jint(doc, "active_vendor_count"), 3);
    json_decref(doc);

    /* the list shows the client, never a secret */
    long st = 0;
    doc = call(op, "GET", "/v1/admin/platform-clients?limit=100", NULL, &st);
    ck_assert_int_eq(st, 200);
    json_t *items = json_object_get(doc, "items"), *v, *found = NULL;
    size_t i;
    json_array_foreach(items, i, v)
    {
        ck_assert_ptr_null(json_object_get(v, "secret"));
        if (json_integer_value(json_object_get(v, "id")) == c.id)
            found = v;
    }
    ck_assert_ptr_nonnull(found);
    ck_assert_str_eq(json_string_value(json_object_get(found, "app_key")), c.app_key);
    ck_assert_str_eq(json_string_value(json_object_get(found, "status")), "active");
    ck_assert_str_eq(json_string_value(json_object_get(found, "scope")), "district");
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(found, "market_ids"), 0)), w.m.market_id);
    char *text = json_dumps(doc, 0);
    ck_assert_ptr_null(strstr(text, c.secret));
    free(text);
    json_decref(doc);

    /* sealed at rest: the row does not hold the secret's text */
    ck_assert_int_eq(t_db_i64(dbh(),
                              "SELECT LOCATE(?, secret_sealed) + LENGTH(secret_sealed) FROM platform_clients"
                              " WHERE id = ?",
                              (db_param_t[]){DB_STR(c.secret), DB_I64(c.id)}, 2),
                     12 + 43 + 16);

    /* a refusal is logged with the key, and nothing anywhere in the logs has the secret */
    tresp_t r = {0};
    sreq_t q = {.secret = "not-the-secret-at-all", .path = path, .query = ""};
    ck_assert_int_eq(send_signed(&srv, &c, &q, &r), 401);
    t_resp_free(&r);
    usleep(300 * 1000); /* the access log is flushed every 100 ms */
    ck_assert(file_has(srv.log_path, c.app_key));
    ck_assert(!file_has(srv.log_path, c.secret));
}
END_TEST

START_TEST(test_every_refusal_is_the_same_401)
{
    t_platform_t c;
    int64_t ids[] = {w.m.market_id};
    t_platform_create(&srv, op, "city", ids, 1, &c);
    char path[128], *first = NULL;
    profile_path(path, sizeof(path), w.m.market_id);

    expect(&srv, &c, &(sreq_t){.path = path, .query = ""}, 200, &first, "good");
    expect(&srv, &c, &(sreq_t){.secret = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", .path = path, .query = ""}, 401,
           &first, "wrong secret");
    /* the body is signed */
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .body = "{\"a\":1}"}, 200, &first, "signed body");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .body = "{\"a\":1}", .send_body = "{\"a\":2}"}, 401, &first,
           "changed body");
    /* the query: order does not matter, values and their encoding do */
    expect(&srv, &c, &(sreq_t){.path = path, .query = "a=1&b=2", .send_query = "b=2&a=1"}, 200, &first, "reordered");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "a=1&b=2", .send_query = "a=1&b=3"}, 401, &first,
           "changed value");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "x=%7E", .send_query = "x=~"}, 401, &first, "%7E vs ~");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "x=%7E"}, 200, &first, "%7E as signed");
    /* the path as sent */
    char upper[160];
    snprintf(upper, sizeof(upper), "%s/", path);
    expect(&srv, &c, &(sreq_t){.path = upper, .query = "", .send_path = path}, 401, &first, "another path");
    /* the clock */
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .ts_off = -301}, 401, &first, "301 s stale");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .ts_off = 301}, 401, &first, "301 s ahead");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .ts_off = -299}, 200, &first, "299 s stale");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .ts_off = 299}, 200, &first, "299 s ahead");
    /* nonces: once, 8 to 64 characters of [A-Za-z0-9._~-] */
    char nonce[40];
    random_nonce(nonce);
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = nonce}, 200, &first, "first use");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = nonce}, 401, &first, "second use");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = nonce, .ts_off = 5}, 401, &first,
           "second use, another time");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = "Ab1.~_-x"}, 200, &first, "8 characters");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = "Ab1.~_-"}, 401, &first, "7 characters");
    char n64[66], n65[67];
    random_nonce(n64); /* 24 random characters, then padding to 64 */
    memset(n64 + 24, 'n', 40);
    n64[64] = '\0';
    memset(n65, 'q', 65);
    n65[65] = '\0';
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = n64}, 200, &first, "64 characters");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = n65}, 401, &first, "65 characters");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = "abcd efgh"}, 401, &first, "a space");
    expect(&srv, &c,
           &(sreq_t){.path = path,
                     .query = "",
                     .nonce = "abcd\xc3\xa9"
                              "fgh"},
           401, &first, "not ASCII");
    /* any printable ASCII: a Base64 nonce, and the rest of the punctuation */
    char b64n[40];
    random_nonce(b64n);
    memcpy(b64n, "+/=A", 4);
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = b64n}, 200, &first, "a Base64 nonce");
    char punct[64];
    random_nonce(b64n);
    snprintf(punct, sizeof(punct), "!\"#$%%&'()*,:;<>?@[\\]^`{|}%.8s", b64n);
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = punct}, 200, &first, "punctuation");
    /* a repeated query parameter name is ambiguous, whatever its values */
    expect(&srv, &c, &(sreq_t){.path = path, .query = "a=1&a=2"}, 401, &first, "a repeated parameter");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "a=1&b=2&a=1"}, 401, &first, "a repeated equal parameter");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "a&a="}, 401, &first, "a repeated bare name");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "a=1&ab=2&&b=a"}, 200, &first, "no name repeated");
    /* each signed header exactly once, and at most 256 bytes */
    for (int h = 1; h <= 4; h++)
        expect(&srv, &c, &(sreq_t){.path = path, .query = "", .twice = h}, 401, &first, "a header twice");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .twice = 3, .again = "another-nonce"}, 401, &first,
           "two nonces");
    char big[300];
    memset(big, 'A', 280);
    big[280] = '\0';
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .send_sig = big}, 401, &first, "a 280-byte signature");
    /* other headers first do not hide the signed ones */
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .junk_before = 40}, 200, &first, "40 other headers first");
    /* the key is byte for byte: another letter case is an unknown key, the same 401 */
    char other_case[64];
    snprintf(other_case, sizeof(other_case), "%s", c.app_key);
    for (size_t i = 3; other_case[i] != '\0'; i++)
        if ((other_case[i] | 0x20) >= 'a' && (other_case[i] | 0x20) <= 'z') {
            other_case[i] ^= 0x20;
            break;
        }
    ck_assert_str_ne(other_case, c.app_key);
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .key = other_case}, 401, &first, "the key in another case");
    /* headers */
    for (int h = 1; h <= 4; h++)
        expect(&srv, &c, &(sreq_t){.path = path, .query = "", .drop = h}, 401, &first, "a missing header");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .send_sig = "not base64 at all"}, 401, &first,
           "a malformed signature");
    /* keys */
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .key = "pk_AAAAAAAAAAAAAAAAAAAAA"}, 401, &first,
           "an unknown key");
    expect(&srv, &c, &(sreq_t){.path = path, .query = "", .key = "pk_short"}, 401, &first, "a malformed key");
    char p[160];
    long st = 0;
    snprintf(p, sizeof(p), "/v1/admin/platform-clients/%lld/disable", (long long)c.id);
    json_t *doc = call(op, "POST", p, NULL, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "disabled");
    json_decref(doc);
    expect(&srv, &c, &(sreq_t){.path = path, .query = ""}, 401, &first, "disabled");
    doc = call(op, "POST", p, NULL, &st);
    shop_expect_error(doc, &st, 409, "conflict");
    snprintf(p, sizeof(p), "/v1/admin/platform-clients/%lld/enable", (long long)c.id);
    doc = call(op, "POST", p, NULL, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "status")), "active");
    json_decref(doc);
    expect(&srv, &c, &(sreq_t){.path = path, .query = ""}, 200, &first, "enabled again");
    free(first);
}
END_TEST

START_TEST(test_a_market_not_granted_is_403)
{
    t_platform_t c;
    int64_t ids[] = {w.m.market_id};
    t_platform_create(&srv, op, "district", ids, 1, &c);
    char path[128];
    json_t *doc = NULL;
    profile_path(path, sizeof(path), w.other.market_id);
    long st = t_platform_get(&srv, &c, path, &doc);
    shop_expect_error(doc, &st, 403, "market_not_granted");
    profile_path(path, sizeof(path), 999999999);
    st = t_platform_get(&srv, &c, path, &doc);
    shop_expect_error(doc, &st, 403, "market_not_granted");
    /* a bad signature on another market is still the 401: nothing is said about grants */
    tresp_t r = {0};
    profile_path(path, sizeof(path), w.other.market_id);
    ck_assert_int_eq(send_signed(&srv, &c, &(sreq_t){.secret = "x", .path = path, .query = ""}, &r), 401);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_rotation_keeps_the_old_secret_for_the_grace_period)
{
    t_platform_t c, old;
    int64_t ids[] = {w.m.market_id};
    t_platform_create(&srv, op, "city", ids, 1, &c);
    old = c;
    char path[128], p[160];
    profile_path(path, sizeof(path), w.m.market_id);
    snprintf(p, sizeof(p), "/v1/admin/platform-clients/%lld/rotate", (long long)c.id);
    long st = 0;
    json_t *doc = call(op, "POST", p, NULL, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq(shop_jint(doc, "id"), c.id);
    ck_assert_str_eq(json_string_value(json_object_get(doc, "app_key")), c.app_key);
    const char *secret = json_string_value(json_object_get(doc, "secret"));
    ck_assert_ptr_nonnull(secret);
    ck_assert_int_eq((int)strlen(secret), 43);
    ck_assert_str_ne(secret, old.secret);
    ck_assert_ptr_nonnull(json_string_value(json_object_get(doc, "previous_valid_until")));
    snprintf(c.secret, sizeof(c.secret), "%s", secret);
    json_decref(doc);
    ck_assert_int_eq(t_platform_get(&srv, &c, path, NULL), 200);
    ck_assert_int_eq(t_platform_get(&srv, &old, path, NULL), 200);
    /* a second rotation within the grace would cut the deployed secret off: 409, nothing changed */
    int64_t before = count_clients(w.m.market_id);
    doc = call(op, "POST", p, NULL, &st);
    const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
    ck_assert_msg(msg != NULL && strstr(msg, "valid until 20") != NULL && strstr(msg, "revoke_previous") != NULL, "%s",
                  msg != NULL ? msg : "(none)");
    shop_expect_error(doc, &st, 409, "conflict");
    shop_expect_error(call(op, "POST", p, "{}", &st), &st, 409, "conflict");
    shop_expect_error(call(op, "POST", p, "{\"revoke_previous\": false}", &st), &st, 409, "conflict");
    /* bad bodies: 422 naming the field, 400, 415; nothing changed */
    static const struct {
        const char *body, *field;
    } bad[] = {{"{\"revoke_previous\": 1}", "revoke_previous"},
               {"{\"revoke_previous\": \"true\"}", "revoke_previous"},
               {"{\"revoke_previous\": null}", "revoke_previous"},
               {"{\"revoke_previous\": true, \"grace_s\": 0}", "grace_s"},
               {"{\"revoke\": true}", "revoke"}};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        doc = call(op, "POST", p, bad[i].body, &st);
        const char *f = shop_error_field(doc);
        ck_assert_msg(f != NULL && strcmp(f, bad[i].field) == 0, "%s: field %s", bad[i].body, f ? f : "(none)");
        shop_expect_error(doc, &st, 422, "invalid");
    }
    shop_expect_error(call(op, "POST", p, "[true]", &st), &st, 422, "invalid");
    shop_expect_error(call(op, "POST", p, "{\"revoke_previous\": tru", &st), &st, 400, "malformed_json");
    ck_assert_int_eq(count_clients(w.m.market_id), before);
    ck_assert_int_eq(t_platform_get(&srv, &c, path, NULL), 200);
    ck_assert_int_eq(t_platform_get(&srv, &old, path, NULL), 200);
    /* revoke_previous: a new secret, and neither earlier one signs any more */
    doc = call(op, "POST", p, "{\"revoke_previous\": true}", &st);
    ck_assert_int_eq(st, 200);
    ck_assert(json_is_null(json_object_get(doc, "previous_valid_until")));
    t_platform_t third = c;
    snprintf(third.secret, sizeof(third.secret), "%s", json_string_value(json_object_get(doc, "secret")));
    json_decref(doc);
    ck_assert_str_ne(third.secret, c.secret);
    ck_assert_int_eq(t_platform_get(&srv, &old, path, NULL), 401);
    ck_assert_int_eq(t_platform_get(&srv, &c, path, NULL), 401);
    ck_assert_int_eq(t_platform_get(&srv, &third, path, NULL), 200);
    /* with no previous secret left, a rotation (here with {}) keeps the grace again */
    doc = call(op, "POST", p, "{}", &st);
    ck_assert_int_eq(st, 200);
    ck_assert(json_is_string(json_object_get(doc, "previous_valid_until")));
    old = third;
    snprintf(c.secret, sizeof(c.secret), "%s", json_string_value(json_object_get(doc, "secret")));
    json_decref(doc);
    ck_assert_int_eq(t_platform_get(&srv, &c, path, NULL), 200);
    ck_assert_int_eq(t_platform_get(&srv, &old, path, NULL), 200);
    /* the grace ends: only the new one */
    shop_sql(dbh(), "UPDATE platform_clients SET prev_valid_until = NOW(3) - INTERVAL 1 SECOND WHERE id = ?",
             (db_param_t[]){DB_I64(c.id)}, 1);
    ck_assert_int_eq(t_platform_get(&srv, &old, path, NULL), 401);
    ck_assert_int_eq(t_platform_get(&srv, &c, path, NULL), 200);
    /* the secret is never in the list */
    doc = call(op, "GET", "/v1/admin/platform-clients?limit=100", NULL, &st);
    char *text = json_dumps(doc, 0);
    ck_assert_ptr_null(strstr(text, c.secret));
    ck_assert_ptr_null(strstr(text, old.secret));
    free(text);
    json_decref(doc);
}
END_TEST

START_TEST(test_the_rate_and_a_rotation_without_grace)
{
    tserver_t tight;
    ck_assert_msg(tserver_start(&tight, tight_env) == 0, "server did not start");
    t_platform_t c;
    int64_t ids[] = {w.m.market_id};
    t_platform_create(&tight, op, "district", ids, 1, &c);
    char path[128];
    profile_path(path, sizeof(path), w.m.market_id);
    for (int i = 0; i < 5; i++)
        ck_assert_int_eq(t_platform_get(&tight, &c, path, NULL), 200);
    /* the sixth in the minute: 429 with the seconds left, and its nonce is not spent */
    char nonce[40];
    random_nonce(nonce);
    tresp_t r = {0};
    ck_assert_int_eq(send_signed(&tight, &c, &(sreq_t){.path = path, .query = "", .nonce = nonce}, &r), 429);
    ck_assert(t_is_error(&r, "rate_limited"));
    char ra[16];
    ck_assert_ptr_nonnull(t_header(&r, "retry-after", ra, sizeof(ra)));
    ck_assert_int_ge(atoi(ra), 1);
    ck_assert_int_le(atoi(ra), 60);
    t_resp_free(&r);
    /* the refused request's nonce stays spent: sent again, it is a replay (a retry is signed afresh) */
    ck_assert_int_eq(send_signed(&tight, &c, &(sreq_t){.path = path, .query = "", .nonce = nonce}, &r), 401);
    ck_assert(t_is_error(&r, "invalid_signature"));
    t_resp_free(&r);
    /* the count is the client's: another client still gets in */
    t_platform_t c2;
    t_platform_create(&tight, op, "district", ids, 1, &c2);
    ck_assert_int_eq(t_platform_get(&tight, &c2, path, NULL), 200);
    /* grace 0: the old secret stops at once, the new one works at once */
    char p[160];
    snprintf(p, sizeof(p), "/v1/admin/platform-clients/%lld/rotate", (long long)c2.id);
    t_call(&tight, "POST", p, op, NULL, &r);
    ck_assert_int_eq(r.status, 200);
    json_t *doc = t_json(&r);
    t_resp_free(&r);
    t_platform_t fresh = c2;
    snprintf(fresh.secret, sizeof(fresh.secret), "%s", json_string_value(json_object_get(doc, "secret")));
    json_decref(doc);
    ck_assert_int_eq(t_platform_get(&tight, &c2, path, NULL), 401);
    ck_assert_int_eq(t_platform_get(&tight, &fresh, path, NULL), 200);
    ck_assert_int_eq(tserver_stop(&tight, SIGTERM), 0);
}
END_TEST

START_TEST(test_another_markets_operator_cannot_touch_the_client)
{
    t_platform_t c;
    int64_t ids[] = {w.m.market_id};
    t_platform_create(&srv, op, "district", ids, 1, &c);
    int64_t before = count_clients(w.m.market_id);
    char p[160];
    long st = 0;
    static const char *const actions[] = {"rotate", "disable", "enable"};
    for (size_t i = 0; i < 3; i++) {
        snprintf(p, sizeof(p), "/v1/admin/platform-clients/%lld/%s", (long long)c.id, actions[i]);
        json_t *doc = call(op_other, "POST", p, NULL, &st);
        shop_expect_error(doc, &st, 404, "not_found");
    }
    snprintf(p, sizeof(p), "/v1/admin/platform-clients/abc/rotate");
    shop_expect_error(call(op, "POST", p, NULL, &st), &st, 404, "not_found");
    snprintf(p, sizeof(p), "/v1/admin/platform-clients/999999999999/disable");
    shop_expect_error(call(op, "POST", p, NULL, &st), &st, 404, "not_found");
    json_t *doc = call(op_other, "GET", "/v1/admin/platform-clients?limit=100", NULL, &st);
    ck_assert_int_eq(st, 200);
    json_t *v;
    size_t i;
    json_array_foreach(json_object_get(doc, "items"), i, v)
    {
        ck_assert_int_ne(json_integer_value(json_object_get(v, "id")), c.id);
    }
    json_decref(doc);
    ck_assert_int_eq(count_clients(w.m.market_id), before);
    char path[128];
    profile_path(path, sizeof(path), w.m.market_id);
    ck_assert_int_eq(t_platform_get(&srv, &c, path, NULL), 200);
}
END_TEST

START_TEST(test_the_list_pages_by_cursor)
{
    /* a market of its own, so every row is known */
    t_market_t m;
    char tok[128];
    t_fixture_market(&m);
    ck_assert_int_eq(t_login(&srv, m.op_user, m.op_pass, tok, sizeof(tok)), 0);
    t_platform_t c[3];
    for (int i = 0; i < 3; i++)
        t_platform_create(&srv, tok, "city", &m.market_id, 1, &c[i]);
    long st = 0;
    json_t *doc = call(tok, "GET", "/v1/admin/platform-clients?limit=2", NULL, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq((int)json_array_size(json_object_get(doc, "items")), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "id")),
                     c[0].id);
    const char *cur = json_string_value(json_object_get(doc, "next_cursor"));
    ck_assert_ptr_nonnull(cur);
    char p[256];
    snprintf(p, sizeof(p), "/v1/admin/platform-clients?limit=2&cursor=%s", cur);
    json_decref(doc);
    doc = call(tok, "GET", p, NULL, &st);
    ck_assert_int_eq(st, 200);
    ck_assert_int_eq((int)json_array_size(json_object_get(doc, "items")), 1);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(json_object_get(doc, "items"), 0), "id")),
                     c[2].id);
    ck_assert(json_is_null(json_object_get(doc, "next_cursor")));
    json_decref(doc);
    shop_expect_error(call(tok, "GET", "/v1/admin/platform-clients?limit=0", NULL, &st), &st, 422, "invalid");
    shop_expect_error(call(tok, "GET", "/v1/admin/platform-clients?cursor=zzz", NULL, &st), &st, 422, "invalid");
}
END_TEST

START_TEST(test_bad_bodies_are_refused_and_write_nothing)
{
    int64_t before = count_clients(w.m.market_id);
    char mine[64], other[64], big[512], longname[256];
    long st = 0;
    snprintf(mine, sizeof(mine), "%lld", (long long)w.m.market_id);
    snprintf(other, sizeof(other), "%lld", (long long)w.other.market_id);
    static const struct {
        const char *fmt; /* %s: the market id */
        const char *field;
    } cases[] = {
        {"{\"name\": 5, \"scope\": \"city\", \"market_ids\": [%s]}", "name"},
        {"{\"name\": \"\", \"scope\": \"city\", \"market_ids\": [%s]}", "name"},
        {"{\"scope\": \"city\", \"market_ids\": [%s]}", "name"},
        {"{\"name\": \"n\", \"scope\": \"town\", \"market_ids\": [%s]}", "scope"},
        {"{\"name\": \"n\", \"scope\": 1, \"market_ids\": [%s]}", "scope"},
        {"{\"name\": \"n\", \"market_ids\": [%s]}", "scope"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": \"%s\"}", "market_ids"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": []}", "market_ids"},
        {"{\"name\": \"n\", \"scope\": \"city\"}", "market_ids"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [-%s]}", "market_ids[0]"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [0]}", "market_ids[0]"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [%s.5]}", "market_ids[0]"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [\"%s\"]}", "market_ids[0]"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [%s, %s]}", "market_ids[1]"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [9007199254740993]}", "market_ids[0]"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [%s], \"secret\": \"x\"}", "secret"},
        {"{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [999999999]}", "market_ids[0]"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        char body[512];
        snprintf(body, sizeof(body), cases[i].fmt, mine, mine);
        json_t *doc = call(op, "POST", "/v1/admin/platform-clients", body, &st);
        ck_assert_msg(st == 422, "%s: %ld", body, st);
        const char *f = shop_error_field(doc);
        ck_assert_msg(f != NULL && strcmp(f, cases[i].field) == 0, "%s: field %s", body, f ? f : "(none)");
        shop_expect_error(doc, &st, 422, "invalid");
    }
    /* 101 characters, 17 markets */
    memset(longname, 'x', 101);
    longname[101] = '\0';
    snprintf(big, sizeof(big), "{\"name\": \"%s\", \"scope\": \"city\", \"market_ids\": [%s]}", longname, mine);
    shop_expect_error(call(op, "POST", "/v1/admin/platform-clients", big, &st), &st, 422, "invalid");
    size_t o = (size_t)snprintf(big, sizeof(big), "{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [");
    for (int i = 1; i <= 17; i++)
        o += (size_t)snprintf(big + o, sizeof(big) - o, "%s%d", i > 1 ? ", " : "", i);
    snprintf(big + o, sizeof(big) - o, "]}");
    shop_expect_error(call(op, "POST", "/v1/admin/platform-clients", big, &st), &st, 422, "invalid");
    /* malformed JSON, not an object */
    shop_expect_error(call(op, "POST", "/v1/admin/platform-clients", "{\"name\": ", &st), &st, 400, "malformed_json");
    shop_expect_error(call(op, "POST", "/v1/admin/platform-clients", "[1]", &st), &st, 422, "invalid");
    /* another market: not the operator's to grant */
    snprintf(big, sizeof(big), "{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [%s, %s]}", mine, other);
    json_t *doc = call(op, "POST", "/v1/admin/platform-clients", big, &st);
    ck_assert_str_eq(shop_error_field(doc), "market_ids[1]");
    shop_expect_error(doc, &st, 403, "market_not_granted");
    /* other roles */
    snprintf(big, sizeof(big), "{\"name\": \"n\", \"scope\": \"city\", \"market_ids\": [%s]}", mine);
    shop_expect_error(call(NULL, "POST", "/v1/admin/platform-clients", big, &st), &st, 401, "unauthorized");
    ck_assert_int_eq(count_clients(w.m.market_id), before);
    ck_assert_int_eq(count_clients(w.other.market_id), 0);
}
END_TEST

START_TEST(test_redis_down_is_503)
{
    int port = t_free_port();
    pid_t redis = t_redis_start(port, NULL);
    ck_assert_int_gt(redis, 0);
    char env_port[64];
    snprintf(env_port, sizeof(env_port), "STALLFRONT_REDIS_PORT=%d", port);
    const char *const env[] = {env_port, NULL};
    tserver_t s;
    ck_assert_msg(tserver_start(&s, env) == 0, "server did not start");
    t_platform_t c;
    int64_t ids[] = {w.m.market_id};
    t_platform_create(&srv, op, "district", ids, 1, &c); /* on the shared server: the token lives in its Redis */
    char path[128];
    json_t *doc = NULL;
    profile_path(path, sizeof(path), w.m.market_id);
    ck_assert_int_eq(t_platform_get(&s, &c, path, NULL), 200);
    t_redis_stop(redis);
    long st = t_platform_get(&s, &c, path, &doc);
    shop_expect_error(doc, &st, 503, "unavailable");
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_a_nonce_outlives_the_clock_window)
{
    t_platform_t c;
    int64_t ids[] = {w.m.market_id};
    t_platform_create(&srv, op, "district", ids, 1, &c);
    char path[128], nonce[40], key[160];
    profile_path(path, sizeof(path), w.m.market_id);
    random_nonce(nonce);
    tresp_t r = {0};
    /* stamped 299 s ahead: accepted until 599 s from now, so its nonce must be kept longer */
    ck_assert_int_eq(send_signed(&srv, &c, &(sreq_t){.path = path, .query = "", .nonce = nonce, .ts_off = 299}, &r),
                     200);
    t_resp_free(&r);
    redis_t rd;
    ck_assert_int_eq(redis_open(&rd, &w.cfg), 0);
    snprintf(key, sizeof(key), "pn:%lld:%s", (long long)c.id, nonce);
    redisReply *rep = redis_cmd(&rd, "PTTL %s", key);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_INTEGER);
    ck_assert_msg(rep->integer > 600 * 1000 && rep->integer <= 602 * 1000, "the nonce is kept %lld ms",
                  (long long)rep->integer);
    freeReplyObject(rep);
    redis_close(&rd);
}
END_TEST

START_TEST(test_a_secret_that_does_not_open_is_the_same_401_and_logged)
{
    t_platform_t c, good;
    int64_t ids[] = {w.m.market_id};
    t_platform_create(&srv, op, "district", ids, 1, &c);
    t_platform_create(&srv, op, "district", ids, 1, &good);
    char path[128], *first = NULL;
    profile_path(path, sizeof(path), w.m.market_id);
    expect(&srv, &good, &(sreq_t){.path = path, .query = "", .secret = "wrong"}, 401, &first, "a wrong secret");
    shop_sql(dbh(),
             "UPDATE platform_clients SET secret_sealed = INSERT(secret_sealed, 20, 1,"
             " IF(SUBSTRING(secret_sealed, 20, 1) = 'A', 'B', 'A')) WHERE id = ?",
             (db_param_t[]){DB_I64(c.id)}, 1);
    expect(&srv, &c, &(sreq_t){.path = path, .query = ""}, 401, &first, "a sealed secret that does not open");
    free(first);
    usleep(300 * 1000);
    ck_assert(file_has(srv.log_path, "sealed secret does not open"));
    ck_assert_int_eq(t_platform_get(&srv, &good, path, NULL), 200);
}
END_TEST

static Suite *platform_auth_suite(void)
{
    Suite *s = suite_create("platform_auth");
    TCase *tc = tcase_create("platform_auth");
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_a_client_is_shown_its_secret_once_and_signs_a_profile_read);
    tcase_add_test(tc, test_every_refusal_is_the_same_401);
    tcase_add_test(tc, test_a_market_not_granted_is_403);
    tcase_add_test(tc, test_rotation_keeps_the_old_secret_for_the_grace_period);
    tcase_add_test(tc, test_the_rate_and_a_rotation_without_grace);
    tcase_add_test(tc, test_another_markets_operator_cannot_touch_the_client);
    tcase_add_test(tc, test_the_list_pages_by_cursor);
    tcase_add_test(tc, test_bad_bodies_are_refused_and_write_nothing);
    tcase_add_test(tc, test_redis_down_is_503);
    tcase_add_test(tc, test_a_nonce_outlives_the_clock_window);
    tcase_add_test(tc, test_a_secret_that_does_not_open_is_the_same_401_and_logged);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    int failed = t_run(platform_auth_suite(), 0);
    curl_global_cleanup();
    if (srv_exit != 0) {
        fprintf(stderr, "the shared server exited with %d: see %s\n", srv_exit, srv.log_path);
        failed++;
    }
    return failed == 0 ? 0 : 1;
}
