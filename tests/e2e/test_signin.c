/*
 * End to end: sign-in (POST /v1/auth/login, /v1/auth/wechat, /v1/auth/logout) against the
 * real binary, the test MariaDB, and a PRIVATE Redis of this test (so its failure counters
 * and the flushes between tests never touch other suites sharing the test Redis); WeChat's
 * code2session is a fake HTTP/1.1 server on a thread of the test; and `stallfront operator
 * add` on the command line.
 */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <hiredis/hiredis.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/fixture.h"
#include "models/providers/wechat.h"
#include "tests/support/testutil.h"

#define MAX_FAILURES             "3" /* per username */
#define MAX_FAILURES_PER_ADDRESS "7" /* per client address: more than two usernames' worth */

static int redis_port;
static pid_t redis_pid;
static char redis_port_env[48];
static const char *const env_sandbox[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                          "STALLFRONT_AUTH_LOGIN_MAX_FAILURES=" MAX_FAILURES,
                                          "STALLFRONT_AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS=" MAX_FAILURES_PER_ADDRESS,
                                          "STALLFRONT_AUTH_LOGIN_WINDOW_S=60",
                                          "STALLFRONT_REDIS_PASSWORD=",
                                          redis_port_env,
                                          NULL};
static tserver_t shared;
static int shared_exit;
static t_market_t market;

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* Runs a command on the private Redis; returns its integer answer (or -1). */
static long long redis_int(const char *fmt, const char *arg)
{
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    ck_assert_msg(c != NULL && c->err == 0, "private redis on %d", redis_port);
    redisReply *rep = redisCommand(c, fmt, arg);
    long long v = rep != NULL && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep != NULL)
        freeReplyObject(rep);
    redisFree(c);
    return v;
}

static void flush_private_redis(void)
{
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    ck_assert_msg(c != NULL && c->err == 0, "private redis on %d", redis_port);
    freeReplyObject(redisCommand(c, "FLUSHDB"));
    redisFree(c);
}

static void shared_up(void)
{
    redis_port = t_free_port();
    snprintf(redis_port_env, sizeof(redis_port_env), "STALLFRONT_REDIS_PORT=%d", redis_port);
    redis_pid = t_redis_start(redis_port, NULL);
    ck_assert_msg(redis_pid > 0, "the private redis-server did not start");
    t_migrate();
    t_fixture_market(&market);
    ck_assert_msg(tserver_start(&shared, env_sandbox) == 0, "server did not start");
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
    t_redis_stop(redis_pid);
}

/* POST path with a literal body (content type JSON). */
static void post(const tserver_t *s, const char *path, const char *body, tresp_t *r)
{
    t_call(s, "POST", path, NULL, body, r);
}

static void assert_error(tresp_t *r, long status, const char *code)
{
    ck_assert_msg(r->status == status, "status %ld, wanted %ld: %s", r->status, status, r->body);
    ck_assert_msg(t_is_error(r, code), "not the error %s: %s", code, r->body);
}

/* Logs in with a raw JSON body; the status. */
static long login_status(const tserver_t *s, const char *user, const char *pass, tresp_t *r)
{
    json_t *b = json_pack("{s:s, s:s}", "username", user, "password", pass);
    char *text = json_dumps(b, JSON_COMPACT);
    json_decref(b);
    post(s, "/v1/auth/login", text, r);
    free(text);
    return r->status;
}

/* ---- login ----------------------------------------------------------------------------- */

START_TEST(test_an_operator_logs_in_and_gets_a_token_and_their_market)
{
    tresp_t r;
    ck_assert_int_eq(login_status(&shared, market.op_user, market.op_pass, &r), 200);
    json_t *doc = t_json(&r);
    const char *token = json_string_value(json_object_get(doc, "token"));
    ck_assert_ptr_nonnull(token);
    ck_assert_uint_eq(strlen(token), 43);
    ck_assert_uint_eq(strspn(token, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"), 43);
    json_t *user = json_object_get(doc, "user");
    ck_assert(json_integer_value(json_object_get(user, "id")) > 0);
    ck_assert_str_eq(json_string_value(json_object_get(user, "role")), "operator");
    ck_assert_int_eq(json_integer_value(json_object_get(user, "market_id")), market.market_id);
    ck_assert_ptr_null(json_object_get(user, "vendor_id"));
    ck_assert_ptr_null(json_object_get(user, "courier_id"));
    json_decref(doc);
    t_resp_free(&r);
    char token2[64];
    ck_assert_int_eq(t_login(&shared, market.op_user, market.op_pass, token2, sizeof(token2)), 0);
}
END_TEST

START_TEST(test_a_wrong_password_and_an_unknown_user_get_the_same_401)
{
    tresp_t a, b;
    ck_assert_int_eq(login_status(&shared, market.op_user, "not-the-password", &a), 401);
    ck_assert_int_eq(login_status(&shared, "nobody-at-all-here", "not-the-password", &b), 401);
    assert_error(&a, 401, "invalid_credentials");
    assert_error(&b, 401, "invalid_credentials");
    ck_assert_str_eq(a.body, b.body);
    t_resp_free(&a);
    t_resp_free(&b);
}
END_TEST

START_TEST(test_login_bodies_of_the_wrong_shape_are_422_naming_the_field)
{
    static const struct {
        const char *body, *field;
    } cases[] = {
        {"{}", "username"},
        {"{\"username\": \"a\"}", "password"},
        {"{\"username\": 5, \"password\": \"x\"}", "username"},
        {"{\"username\": \"a\", \"password\": null}", "password"},
        {"{\"username\": \"\", \"password\": \"x\"}", "username"},
        {"{\"username\": [\"a\"], \"password\": \"x\"}", "username"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tresp_t r;
        post(&shared, "/v1/auth/login", cases[i].body, &r);
        assert_error(&r, 422, "invalid");
        json_t *doc = t_json(&r);
        const char *f =
            json_string_value(json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "field"));
        ck_assert_msg(f != NULL && strcmp(f, cases[i].field) == 0, "%s: %s", cases[i].body, r.body);
        json_decref(doc);
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(test_ten_kilobyte_usernames_and_passwords_are_422)
{
    char *big = malloc(10241);
    memset(big, 'a', 10240);
    big[10240] = '\0';
    tresp_t r;
    login_status(&shared, big, "password", &r);
    assert_error(&r, 422, "invalid");
    t_resp_free(&r);
    login_status(&shared, market.op_user, big, &r);
    assert_error(&r, 422, "invalid");
    t_resp_free(&r);
    big[129] = '\0'; /* one over the password bound */
    login_status(&shared, market.op_user, big, &r);
    assert_error(&r, 422, "invalid");
    t_resp_free(&r);
    free(big);
    /* bad requests count no failure: the right password still works */
    ck_assert_int_eq(login_status(&shared, market.op_user, market.op_pass, &r), 200);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_failures_per_username_turn_into_429_before_the_password_is_checked)
{
    tresp_t r;
    for (int i = 0; i < atoi(MAX_FAILURES); i++) {
        ck_assert_int_eq(login_status(&shared, market.op_user, "wrong-password", &r), 401);
        t_resp_free(&r);
    }
    /* even the right password is refused now, with the time left */
    login_status(&shared, market.op_user, market.op_pass, &r);
    assert_error(&r, 429, "too_many_attempts");
    char ra[16];
    ck_assert_ptr_nonnull(t_header(&r, "retry-after", ra, sizeof(ra)));
    ck_assert_msg(atoi(ra) > 1 && atoi(ra) <= 60, "Retry-After %s", ra);
    t_resp_free(&r);
    /* another spelling of the same username counts with it (the column ignores case) */
    char upper[sizeof(market.op_user) + 2];
    snprintf(upper, sizeof(upper), "OP%.61s", market.op_user + 2);
    login_status(&shared, upper, market.op_pass, &r);
    assert_error(&r, 429, "too_many_attempts");
    t_resp_free(&r);
    /* when the window is gone, the right password works and clears the counter */
    char key[128];
    snprintf(key, sizeof(key), "login:fail:u:%s", market.op_user);
    ck_assert_int_eq(redis_int("DEL %s", key), 1);
    redis_int("DEL %s", "login:fail:ip:127.0.0.1");
    ck_assert_int_eq(login_status(&shared, market.op_user, "wrong-password", &r), 401);
    t_resp_free(&r);
    ck_assert_int_eq(redis_int("EXISTS %s", key), 1);
    ck_assert_int_eq(login_status(&shared, market.op_user, market.op_pass, &r), 200);
    t_resp_free(&r);
    ck_assert_int_eq(redis_int("EXISTS %s", key), 0);
}
END_TEST

/* One wrong password each for n fresh usernames (none near its per-username limit). */
static void ghost_failures(int from, int n)
{
    tresp_t r;
    char user[64];
    for (int i = from; i < from + n; i++) {
        snprintf(user, sizeof(user), "ghost-%d-%d", (int)getpid(), i);
        ck_assert_int_eq(login_status(&shared, user, "whatever", &r), 401);
        t_resp_free(&r);
    }
}

START_TEST(test_failures_from_one_address_across_usernames_turn_into_429)
{
    tresp_t r;
    char user[64];
    int limit = atoi(MAX_FAILURES_PER_ADDRESS);
    /* one short of the per-address limit (and past the per-username one in total): still open */
    ghost_failures(0, limit - 1);
    ck_assert_int_eq(login_status(&shared, market.op_user, market.op_pass, &r), 200);
    t_resp_free(&r);
    ghost_failures(limit - 1, 1);
    ck_assert_int_eq(redis_int("TTL %s", "login:fail:ip:127.0.0.1") > 0, 1);
    /* a fresh username from the same address: refused before anything is checked */
    login_status(&shared, market.op_user, market.op_pass, &r);
    assert_error(&r, 429, "too_many_attempts");
    ck_assert_ptr_nonnull(t_header(&r, "retry-after", user, sizeof(user)));
    t_resp_free(&r);
}
END_TEST

START_TEST(test_one_username_at_its_limit_does_not_lock_out_another_from_the_same_address)
{
    tresp_t r;
    t_market_t other;
    t_fixture_market(&other);
    /* vendor A (here: the operator of one market) runs out of attempts ... */
    for (int i = 0; i < atoi(MAX_FAILURES); i++) {
        ck_assert_int_eq(login_status(&shared, market.op_user, "wrong-password", &r), 401);
        t_resp_free(&r);
    }
    login_status(&shared, market.op_user, market.op_pass, &r);
    assert_error(&r, 429, "too_many_attempts");
    t_resp_free(&r);
    /* ... and B, behind the same address, still signs in, and may mistype a couple of times */
    ck_assert_int_eq(login_status(&shared, other.op_user, other.op_pass, &r), 200);
    t_resp_free(&r);
    for (int i = 0; i < atoi(MAX_FAILURES) - 1; i++) {
        ck_assert_int_eq(login_status(&shared, other.op_user, "wrong-password", &r), 401);
        t_resp_free(&r);
    }
    ck_assert_int_eq(login_status(&shared, other.op_user, other.op_pass, &r), 200);
    t_resp_free(&r);
    /* A stays refused on its own counter */
    login_status(&shared, market.op_user, market.op_pass, &r);
    assert_error(&r, 429, "too_many_attempts");
    t_resp_free(&r);
    /* once the address as a whole reaches its limit, B is refused too */
    int used = 2 * atoi(MAX_FAILURES) - 1;
    ck_assert_int_lt(used, atoi(MAX_FAILURES_PER_ADDRESS));
    ghost_failures(0, atoi(MAX_FAILURES_PER_ADDRESS) - used);
    login_status(&shared, other.op_user, other.op_pass, &r);
    assert_error(&r, 429, "too_many_attempts");
    t_resp_free(&r);
}
END_TEST

START_TEST(test_a_disabled_account_cannot_log_in)
{
    t_market_t m;
    t_fixture_market(&m);
    config_t cfg;
    db_t db;
    char err[256];
    ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), 0);
    ck_assert_int_eq(db_open(&db, &cfg), DB_OK);
    db_param_t p[] = {DB_STR(m.op_user)};
    ck_assert_int_eq(db_exec(&db, "UPDATE users SET status = 'disabled' WHERE username = ?", p, 1, NULL, NULL), DB_OK);
    db_close(&db);
    config_free(&cfg);
    tresp_t r;
    login_status(&shared, m.op_user, m.op_pass, &r);
    assert_error(&r, 401, "invalid_credentials");
    t_resp_free(&r);
}
END_TEST

/* ---- tokens ---------------------------------------------------------------------------- */

START_TEST(test_logout_answers_204_and_the_token_is_refused_after)
{
    char token[64];
    tresp_t r;
    ck_assert_int_eq(t_login(&shared, market.op_user, market.op_pass, token, sizeof(token)), 0);
    t_call(&shared, "POST", "/v1/auth/logout", token, NULL, &r);
    ck_assert_msg(r.status == 204, "%ld %s", r.status, r.body);
    ck_assert_uint_eq(r.len, 0);
    t_resp_free(&r);
    t_call(&shared, "POST", "/v1/auth/logout", token, NULL, &r);
    assert_error(&r, 401, "unauthorized");
    t_resp_free(&r);
    /* over HTTP/1.1 as well, with a body the route ignores */
    ck_assert_int_eq(t_login(&shared, market.op_user, market.op_pass, token, sizeof(token)), 0);
    char url[128], auth[128];
    snprintf(url, sizeof(url), "%s/v1/auth/logout", shared.base);
    snprintf(auth, sizeof(auth), "authorization: bearer %s", token); /* the scheme ignores case */
    const char *h[] = {auth, NULL};
    ck_assert_int_eq(t_request(T_HTTP1, "POST", url, h, "{}", 2, &r), 0);
    ck_assert_int_eq(r.status, 204);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_logout_without_a_token_is_401)
{
    tresp_t r;
    t_call(&shared, "POST", "/v1/auth/logout", NULL, NULL, &r);
    assert_error(&r, 401, "unauthorized");
    t_resp_free(&r);
}
END_TEST

START_TEST(test_malformed_authorization_headers_are_401)
{
    char token[64];
    ck_assert_int_eq(t_login(&shared, market.op_user, market.op_pass, token, sizeof(token)), 0);
    char *big = malloc(10 * 1024 + 32);
    strcpy(big, "Authorization: Bearer ");
    memset(big + strlen(big), 'A', 10 * 1024);
    big[22 + 10 * 1024] = '\0';
    char basic[128], twospace[128], tab[128], badchar[128], padded[128], nospace[128], shorter[128];
    snprintf(basic, sizeof(basic), "Authorization: Basic %s", token);
    snprintf(twospace, sizeof(twospace), "Authorization: Bearer  %s", token);
    snprintf(tab, sizeof(tab), "Authorization: Bearer\t%s", token);
    snprintf(badchar, sizeof(badchar), "Authorization: Bearer %.42s+", token);
    snprintf(padded, sizeof(padded), "Authorization: Bearer %s=", token);
    snprintf(nospace, sizeof(nospace), "Authorization: Bearer%s", token);
    snprintf(shorter, sizeof(shorter), "Authorization: Bearer %.42s", token);
    const char *cases[] = {"Authorization: Bearer",
                           "Authorization: Bearer ",
                           "Authorization: Token abc",
                           "Authorization: BearerX",
                           big,
                           basic,
                           twospace,
                           tab,
                           badchar,
                           padded,
                           nospace,
                           shorter,
                           "Authorization: Bearer 0000000000000000000000000000000000000000000"};
    char url[128];
    snprintf(url, sizeof(url), "%s/v1/auth/logout", shared.base);
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        tresp_t r;
        const char *h[] = {cases[i], NULL};
        ck_assert_int_eq(t_request(T_H2C, "POST", url, h, NULL, 0, &r), 0);
        ck_assert_msg(r.status == 401 && t_is_error(&r, "unauthorized"), "case %zu: %ld %s", i, r.status, r.body);
        t_resp_free(&r);
    }
    free(big);
    /* none of that revoked the real token */
    tresp_t r;
    t_call(&shared, "POST", "/v1/auth/logout", token, NULL, &r);
    ck_assert_int_eq(r.status, 204);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_sessions_live_in_redis_under_the_hash_with_the_configured_ttl)
{
    redisContext *c = redisConnect("127.0.0.1", redis_port);
    ck_assert(c != NULL && c->err == 0);
    redisReply *keys = redisCommand(c, "KEYS sess:*");
    ck_assert_int_eq(keys->type, REDIS_REPLY_ARRAY);
    size_t before = keys->elements;
    freeReplyObject(keys);
    char token[64];
    ck_assert_int_eq(t_login(&shared, market.op_user, market.op_pass, token, sizeof(token)), 0);
    keys = redisCommand(c, "KEYS sess:*");
    ck_assert_uint_eq(keys->elements, before + 1);
    for (size_t i = 0; i < keys->elements; i++) {
        const char *k = keys->element[i]->str;
        ck_assert_uint_eq(strlen(k), 5 + 64);
        ck_assert_ptr_null(strstr(k, token)); /* the token itself is never stored */
        redisReply *ttl = redisCommand(c, "TTL %s", k);
        ck_assert_msg(ttl->integer > 604800 - 60 && ttl->integer <= 604800, "TTL %lld", ttl->integer);
        freeReplyObject(ttl);
        redisReply *role = redisCommand(c, "HGET %s role", k);
        ck_assert_str_eq(role->str, "operator");
        freeReplyObject(role);
    }
    freeReplyObject(keys);
    redisFree(c);
}
END_TEST

START_TEST(test_a_token_expires_after_its_ttl)
{
    tserver_t s;
    const char *const env[] = {"STALLFRONT_AUTH_TOKEN_TTL_S=1", "STALLFRONT_REDIS_PASSWORD=", redis_port_env, NULL};
    ck_assert_int_eq(tserver_start(&s, env), 0);
    char token[64];
    ck_assert_int_eq(t_login(&s, market.op_user, market.op_pass, token, sizeof(token)), 0);
    sleep_ms(2100);
    tresp_t r;
    t_call(&s, "POST", "/v1/auth/logout", token, NULL, &r);
    assert_error(&r, 401, "unauthorized");
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_a_role_guarded_route_is_503_when_redis_is_down)
{
    tserver_t s;
    char port[48];
    snprintf(port, sizeof(port), "STALLFRONT_REDIS_PORT=%d", t_free_port());
    const char *const env[] = {"STALLFRONT_REDIS_PASSWORD=", port, NULL};
    ck_assert_int_eq(tserver_start(&s, env), 0);
    tresp_t r;
    t_call(&s, "POST", "/v1/auth/logout", "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", NULL, &r);
    assert_error(&r, 503, "unavailable");
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

/* ---- WeChat, sandbox ------------------------------------------------------------------- */

START_TEST(test_a_sandbox_code_signs_in_the_same_consumer_each_time)
{
    char name[48], code[64], body[128];
    snprintf(name, sizeof(name), "li-%d_x", (int)getpid());
    snprintf(code, sizeof(code), "sandbox-%s", name);
    snprintf(body, sizeof(body), "{\"code\": \"%s\"}", code);
    tresp_t r;
    int64_t ids[2];
    for (int i = 0; i < 2; i++) {
        post(&shared, "/v1/auth/wechat", body, &r);
        ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
        json_t *doc = t_json(&r);
        ck_assert_uint_eq(strlen(json_string_value(json_object_get(doc, "token"))), 43);
        json_t *user = json_object_get(doc, "user");
        ck_assert_str_eq(json_string_value(json_object_get(user, "role")), "consumer");
        ids[i] = json_integer_value(json_object_get(user, "id"));
        json_decref(doc);
        t_resp_free(&r);
    }
    ck_assert(ids[0] > 0);
    ck_assert_int_eq(ids[0], ids[1]);
    char token[64];
    ck_assert_int_eq(t_login_wechat(&shared, name, token, sizeof(token)), 0);
    /* a consumer token is a token: logout takes it */
    t_call(&shared, "POST", "/v1/auth/logout", token, NULL, &r);
    ck_assert_int_eq(r.status, 204);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_codes_that_are_not_sandbox_codes_are_401_invalid_code)
{
    static const char *const bodies[] = {
        "{\"code\": \"sandbox-\"}",
        "{\"code\": \"sandbox-a b\"}",
        "{\"code\": \"sandbox-li.wei\"}",
        "{\"code\": \"sandbox-\\u674e\"}",
        "{\"code\": \"sandbox-123456789012345678901234567890123\"}", /* 33 characters */
        "{\"code\": \"0a1b2c3d4e5f\"}",
        "{\"code\": \"SANDBOX-li\"}",
    };
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        tresp_t r;
        post(&shared, "/v1/auth/wechat", bodies[i], &r);
        ck_assert_msg(r.status == 401 && t_is_error(&r, "invalid_code"), "%s: %ld %s", bodies[i], r.status, r.body);
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(test_wechat_bodies_of_the_wrong_shape_are_422)
{
    char *big = malloc(10 * 1024 + 32);
    strcpy(big, "{\"code\": \"sandbox-");
    memset(big + strlen(big), 'a', 10 * 1024);
    strcpy(big + 18 + 10 * 1024, "\"}");
    const char *bodies[] = {
        "{}", "{\"code\": 42}", "{\"code\": null}", "{\"code\": \"\"}", "{\"code\": [\"x\"]}", "{\"code\": {}}", big};
    for (size_t i = 0; i < sizeof(bodies) / sizeof(bodies[0]); i++) {
        tresp_t r;
        post(&shared, "/v1/auth/wechat", bodies[i], &r);
        ck_assert_msg(r.status == 422 && t_is_error(&r, "invalid"), "case %zu: %ld %s", i, r.status, r.body);
        t_resp_free(&r);
    }
    free(big);
    tresp_t r;
    post(&shared, "/v1/auth/wechat", "{\"code\": ", &r);
    ck_assert_int_eq(r.status, 400);
    t_resp_free(&r);
}
END_TEST

/* ---- WeChat, live, against a fake ------------------------------------------------------ */

typedef struct fake {
    int fd, port;
    size_t n;               /* canned answers, one per connection */
    const char *answers[4]; /* whole HTTP responses */
    char requests[4][1024]; /* the request lines received */
    pthread_t th;
} fake_t;

static void *fake_run(void *arg)
{
    fake_t *f = arg;
    for (size_t i = 0; i < f->n; i++) {
        int c = accept(f->fd, NULL, NULL);
        if (c < 0)
            break;
        char buf[4096];
        size_t len = 0;
        while (len < sizeof(buf) - 1) { /* up to the end of the headers */
            ssize_t got = recv(c, buf + len, sizeof(buf) - 1 - len, 0);
            if (got <= 0)
                break;
            len += (size_t)got;
            buf[len] = '\0';
            if (strstr(buf, "\r\n\r\n") != NULL)
                break;
        }
        buf[len] = '\0';
        snprintf(f->requests[i], sizeof(f->requests[i]), "%.*s", (int)strcspn(buf, "\r\n"), buf);
        ssize_t w = send(c, f->answers[i], strlen(f->answers[i]), MSG_NOSIGNAL);
        (void)w;
        close(c);
    }
    return NULL;
}

static void fake_start(fake_t *f)
{
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    f->fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0); /* not inherited by the server we fork */
    ck_assert(f->fd >= 0);
    ck_assert(bind(f->fd, (struct sockaddr *)&sa, sizeof(sa)) == 0);
    ck_assert(listen(f->fd, 8) == 0);
    ck_assert(getsockname(f->fd, (struct sockaddr *)&sa, &len) == 0);
    f->port = ntohs(sa.sin_port);
    ck_assert(pthread_create(&f->th, NULL, fake_run, f) == 0);
}

static void fake_stop(fake_t *f)
{
    pthread_join(f->th, NULL);
    close(f->fd);
}

static const char ans_good[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                               "{\"session_key\":\"c2Vzc2lvbg==\",\"openid\":\"oFAKE_live-openid_0001\"}";
static const char ans_bad_code[] = "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"
                                   "{\"errcode\":40029,\"errmsg\":\"invalid code, rid: 1\"}";
static const char ans_500[] = "HTTP/1.1 500 Internal Server Error\r\nConnection: close\r\nContent-Length: 0\r\n\r\n";
static const char ans_garbage[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n<html>busy</html>";

START_TEST(test_live_sign_in_asks_code2session_and_maps_its_answers)
{
    fake_t f = {.n = 3, .answers = {ans_good, ans_bad_code, ans_500}};
    fake_start(&f);
    char base[96], basevar[128];
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", f.port);
    snprintf(basevar, sizeof(basevar), "STALLFRONT_WECHAT_API_BASE=%s", base);
    const char *const env[] = {"STALLFRONT_AUTH_WECHAT_MODE=live",
                               "STALLFRONT_WECHAT_APPID=wxapp01",
                               "STALLFRONT_WECHAT_SECRET=s&cret",
                               basevar,
                               "STALLFRONT_REDIS_PASSWORD=",
                               redis_port_env,
                               NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    tresp_t r;
    post(&s, "/v1/auth/wechat", "{\"code\": \"081a2b3c+/=\"}", &r);
    ck_assert_msg(r.status == 200, "%ld %s", r.status, r.body);
    json_t *doc = t_json(&r);
    ck_assert_str_eq(json_string_value(json_object_get(json_object_get(doc, "user"), "role")), "consumer");
    json_decref(doc);
    t_resp_free(&r);
    post(&s, "/v1/auth/wechat", "{\"code\": \"expired\"}", &r);
    assert_error(&r, 401, "invalid_code");
    t_resp_free(&r);
    post(&s, "/v1/auth/wechat", "{\"code\": \"any\"}", &r);
    assert_error(&r, 503, "unavailable");
    t_resp_free(&r);
    fake_stop(&f);
    ck_assert_str_eq(f.requests[0], "GET /sns/jscode2session?appid=wxapp01&secret=s%26cret&js_code=081a2b3c%2B%2F%3D"
                                    "&grant_type=authorization_code HTTP/1.1");
    /* the fake is gone: nobody answers */
    post(&s, "/v1/auth/wechat", "{\"code\": \"any\"}", &r);
    assert_error(&r, 503, "unavailable");
    t_resp_free(&r);
    /* a sandbox code means nothing in live mode */
    post(&s, "/v1/auth/wechat", "{\"code\": \"sandbox-li\"}", &r);
    ck_assert_int_eq(r.status, 503);
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_a_code2session_that_never_answers_is_503_within_the_timeout)
{
    fake_t f = {.n = 0}; /* listens, never accepts: the connection waits in the backlog */
    fake_start(&f);
    char basevar[128];
    snprintf(basevar, sizeof(basevar), "STALLFRONT_WECHAT_API_BASE=http://127.0.0.1:%d", f.port);
    const char *const env[] = {"STALLFRONT_AUTH_WECHAT_MODE=live", basevar,
                               "STALLFRONT_REDIS_PASSWORD=", redis_port_env, NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    tresp_t r;
    post(&s, "/v1/auth/wechat", "{\"code\": \"slow\"}", &r);
    clock_gettime(CLOCK_MONOTONIC, &b);
    assert_error(&r, 503, "unavailable");
    t_resp_free(&r);
    long ms = (b.tv_sec - a.tv_sec) * 1000 + (b.tv_nsec - a.tv_nsec) / 1000000;
    ck_assert_msg(ms >= WECHAT_TIMEOUT_S * 1000 - 100 && ms < WECHAT_TIMEOUT_S * 1000 + 3000, "%ld ms", ms);
    fake_stop(&f);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_code2session_refuses_answers_that_are_not_wechats)
{
    config_t cfg;
    char err[256], openid[WECHAT_OPENID_MAX + 1], base[64];
    static char big[8192];
    snprintf(big, sizeof(big), "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"openid\":\"");
    memset(big + strlen(big), 'x', 6000);
    static const char no_openid[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"session_key\":\"k\"}";
    static const char long_openid[] =
        "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"openid\":\"o12345678901234567890123456789012345678901234567890"
        "12345678901234567890\"}";
    static const char errcode_string[] = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n{\"errcode\":\"x\"}";
    fake_t f = {.n = 4, .answers = {ans_garbage, big, no_openid, long_openid}};
    fake_start(&f);
    ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), 0);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", f.port);
    ck_assert_int_eq(config_set(&cfg, "wechat.api_base", base, err, sizeof(err)), 0);
    for (int i = 0; i < 4; i++)
        ck_assert_msg(wechat_code2session(&cfg, "c", openid, sizeof(openid), err, sizeof(err)) == WECHAT_E_UNAVAILABLE,
                      "answer %d", i);
    fake_stop(&f);
    fake_t g = {.n = 2, .answers = {errcode_string, ans_good}};
    fake_start(&g);
    snprintf(base, sizeof(base), "http://127.0.0.1:%d", g.port);
    ck_assert_int_eq(config_set(&cfg, "wechat.api_base", base, err, sizeof(err)), 0);
    ck_assert_int_eq(wechat_code2session(&cfg, "c", openid, sizeof(openid), err, sizeof(err)), WECHAT_E_CODE);
    ck_assert_int_eq(wechat_code2session(&cfg, "c", openid, sizeof(openid), NULL, 0), WECHAT_OK);
    ck_assert_str_eq(openid, "oFAKE_live-openid_0001");
    fake_stop(&g);
    config_free(&cfg);
}
END_TEST

/* ---- the command line ------------------------------------------------------------------ */

static char cli_out[512];

static int cli(const char *args, const char *password)
{
    char pwfile[512];
    snprintf(cli_out, sizeof(cli_out), "%s/signin-cli-%d.out", t_env("STALLFRONT_TEST_VAR"), (int)getpid());
    snprintf(pwfile, sizeof(pwfile), "%s/signin-cli-%d.pw", t_env("STALLFRONT_TEST_VAR"), (int)getpid());
    FILE *f = fopen(pwfile, "w");
    ck_assert_ptr_nonnull(f);
    fprintf(f, "%s\n", password);
    fclose(f);
    return t_sh("%s operator %s --password-file %s >%s 2>&1", SF_BINARY, args, pwfile, cli_out);
}

static int cli_said(const char *text)
{
    static char buf[4096];
    FILE *f = fopen(cli_out, "r");
    size_t n = f != NULL ? fread(buf, 1, sizeof(buf) - 1, f) : 0;
    if (f != NULL)
        fclose(f);
    buf[n] = '\0';
    return strstr(buf, text) != NULL;
}

START_TEST(test_operator_add_creates_an_operator_who_can_log_in)
{
    char args[256], user[64], token[64];
    snprintf(user, sizeof(user), "cliop%d", (int)getpid());
    snprintf(args, sizeof(args), "add --market-id %lld --username %s", (long long)market.market_id, user);
    ck_assert_int_eq(cli(args, "a long enough password"), 0);
    ck_assert(cli_said("created operator"));
    ck_assert_int_eq(t_login(&shared, user, "a long enough password", token, sizeof(token)), 0);
    /* from stdin too */
    snprintf(user, sizeof(user), "cliop%d_stdin", (int)getpid());
    ck_assert_int_eq(t_sh("printf 'stdin-password\\n' | %s operator add --market-id %lld --username %s "
                          "--password-file - >/dev/null 2>&1",
                          SF_BINARY, (long long)market.market_id, user),
                     0);
    ck_assert_int_eq(t_login(&shared, user, "stdin-password", token, sizeof(token)), 0);
}
END_TEST

START_TEST(test_operator_add_refuses_bad_input_with_the_right_exit_status)
{
    char args[256], user[64];
    snprintf(user, sizeof(user), "cliop%d_bad", (int)getpid());
    snprintf(args, sizeof(args), "add --market-id 999999999999 --username %s", user);
    ck_assert_int_eq(cli(args, "password-ok"), 1);
    ck_assert(cli_said("no market 999999999999"));
    snprintf(args, sizeof(args), "add --market-id %lld --username %s", (long long)market.market_id, market.op_user);
    ck_assert_int_eq(cli(args, "password-ok"), 1);
    ck_assert(cli_said("taken"));
    snprintf(args, sizeof(args), "add --market-id %lld --username %s", (long long)market.market_id, user);
    ck_assert_int_eq(cli(args, "short7!"), 2);
    ck_assert(cli_said("at least 8"));
    ck_assert_int_eq(cli("add --market-id 0 --username x", "password-ok"), 2);
    ck_assert_int_eq(cli("add --market-id abc --username x", "password-ok"), 2);
    ck_assert_int_eq(cli("add --username x", "password-ok"), 2);
    ck_assert_int_eq(cli("remove --username x", "password-ok"), 2);
    ck_assert_int_eq(t_sh("%s operator >/dev/null 2>&1", SF_BINARY), 2);
    ck_assert_int_eq(t_sh("%s operator --help >/dev/null 2>&1", SF_BINARY), 0);
    /* nothing was made by the refusals: the unused username still cannot log in */
    char token[64];
    ck_assert_int_eq(t_login(&shared, user, "short7!", token, sizeof(token)), 401);
}
END_TEST

static void each_up(void)
{
    flush_private_redis(); /* failure counters and sessions of the tests before */
}

int main(void)
{
    Suite *su = suite_create("signin");
    TCase *tc = tcase_create("signin");
    tcase_set_timeout(tc, 120);
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_add_checked_fixture(tc, each_up, NULL);
    tcase_add_test(tc, test_an_operator_logs_in_and_gets_a_token_and_their_market);
    tcase_add_test(tc, test_a_wrong_password_and_an_unknown_user_get_the_same_401);
    tcase_add_test(tc, test_login_bodies_of_the_wrong_shape_are_422_naming_the_field);
    tcase_add_test(tc, test_ten_kilobyte_usernames_and_passwords_are_422);
    tcase_add_test(tc, test_failures_per_username_turn_into_429_before_the_password_is_checked);
    tcase_add_test(tc, test_failures_from_one_address_across_usernames_turn_into_429);
    tcase_add_test(tc, test_one_username_at_its_limit_does_not_lock_out_another_from_the_same_address);
    tcase_add_test(tc, test_a_disabled_account_cannot_log_in);
    tcase_add_test(tc, test_logout_answers_204_and_the_token_is_refused_after);
    tcase_add_test(tc, test_logout_without_a_token_is_401);
    tcase_add_test(tc, test_malformed_authorization_headers_are_401);
    tcase_add_test(tc, test_sessions_live_in_redis_under_the_hash_with_the_configured_ttl);
    tcase_add_test(tc, test_a_token_expires_after_its_ttl);
    tcase_add_test(tc, test_a_role_guarded_route_is_503_when_redis_is_down);
    tcase_add_test(tc, test_a_sandbox_code_signs_in_the_same_consumer_each_time);
    tcase_add_test(tc, test_codes_that_are_not_sandbox_codes_are_401_invalid_code);
    tcase_add_test(tc, test_wechat_bodies_of_the_wrong_shape_are_422);
    tcase_add_test(tc, test_live_sign_in_asks_code2session_and_maps_its_answers);
    tcase_add_test(tc, test_a_code2session_that_never_answers_is_503_within_the_timeout);
    tcase_add_test(tc, test_code2session_refuses_answers_that_are_not_wechats);
    tcase_add_test(tc, test_operator_add_creates_an_operator_who_can_log_in);
    tcase_add_test(tc, test_operator_add_refuses_bad_input_with_the_right_exit_status);
    suite_add_tcase(su, tc);
    return t_main_shared(su, NULL, &shared, &shared_exit);
}
