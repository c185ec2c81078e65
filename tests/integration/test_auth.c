/*
 * server/auth.c against a real Redis (the test Redis, STALLFRONT_REDIS_*; every key this
 * makes is a fresh random session, deleted at the end): issuing, checking roles (403 for a
 * role the route does not admit), revoking, malformed headers, and Redis being away (503).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/http/api.h"
#include "server/http/auth.h"
#include "models/base/config.h"
#include "tests/support/dbtest.h"
#include "tests/support/testutil.h"

static config_t cfg;
static worker_t w;

static void up(void)
{
    t_load_cfg(&cfg);
    memset(&w, 0, sizeof(w));
    redis_open(&w.redis, &cfg); /* a failure shows in the tests */
}

static void down(void)
{
    redis_close(&w.redis);
    config_free(&cfg);
}

/* A request carrying `Authorization: <header>` (NULL: none); api_req_free frees it. */
static api_req_t *req_with(const char *header)
{
    api_req_t *req = calloc(1, sizeof(*req));
    ck_assert_ptr_nonnull(req);
    req->cfg = &cfg;
    req->authorization = header != NULL ? strdup(header) : NULL;
    return req;
}

/* auth_check's result and the reply's status (0 if none). */
static int check(const char *header, int roles, int *status, principal_t *who)
{
    api_req_t *req = req_with(header);
    int rc = auth_check(req, &w, roles);
    *status = req->status;
    if (who != NULL)
        *who = req->who;
    if (rc != 0)
        ck_assert_msg(req->out != NULL && strstr(req->out, "\"error\"") != NULL, "no error shape");
    api_req_free(req);
    return rc;
}

START_TEST(test_an_issued_token_admits_its_role_with_its_scope)
{
    principal_t who = {.role = ROLE_VENDOR, .user_id = 41, .market_id = 7, .vendor_id = 9}, got;
    char token[64], header[96];
    int status;
    ck_assert_int_eq(auth_issue(&w.redis, &who, token, sizeof(token)), 0);
    ck_assert_uint_eq(strlen(token), 43);
    snprintf(header, sizeof(header), "Bearer %s", token);
    ck_assert_int_eq(check(header, ROUTE_VENDOR, &status, &got), 0);
    ck_assert_int_eq(status, 0); /* no reply: the handler runs */
    ck_assert_int_eq(got.role, ROLE_VENDOR);
    ck_assert_int_eq(got.user_id, 41);
    ck_assert_int_eq(got.market_id, 7);
    ck_assert_int_eq(got.vendor_id, 9);
    ck_assert_int_eq(got.courier_id, 0);
    ck_assert_uint_eq(strlen(got.token_hash), 64);
    ck_assert_int_eq(check(header, ROUTE_ANY_USER, &status, NULL), 0);
    ck_assert_int_eq(auth_revoke(&w.redis, got.token_hash), 0);
    ck_assert_int_eq(check(header, ROUTE_VENDOR, &status, NULL), -1);
    ck_assert_int_eq(status, 401);
}
END_TEST

START_TEST(test_a_role_the_route_does_not_admit_is_403)
{
    principal_t who = {.role = ROLE_CONSUMER, .user_id = 5}, got;
    char token[64], header[96];
    int status;
    ck_assert_int_eq(auth_issue(&w.redis, &who, token, sizeof(token)), 0);
    snprintf(header, sizeof(header), "Bearer %s", token);
    ck_assert_int_eq(check(header, ROUTE_OPERATOR, &status, NULL), -1);
    ck_assert_int_eq(status, 403);
    ck_assert_int_eq(check(header, ROUTE_VENDOR | ROUTE_COURIER, &status, NULL), -1);
    ck_assert_int_eq(status, 403);
    ck_assert_int_eq(check(header, ROUTE_CONSUMER, &status, &got), 0);
    ck_assert_int_eq(auth_revoke(&w.redis, got.token_hash), 0);
}
END_TEST

START_TEST(test_malformed_or_missing_headers_are_401)
{
    static const char *const bad[] = {
        NULL,
        "",
        "Bearer",
        "Bearer ",
        "Basic abc",
        "Bearer  AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
        "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",   /* 42 */
        "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* 44 */
        "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=",
        "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA/",
        "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA ",
        "Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", /* unknown */
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        int status;
        ck_assert_msg(check(bad[i], ROUTE_ANY_USER, &status, NULL) == -1, "case %zu admitted", i);
        ck_assert_msg(status == 401, "case %zu: %d", i, status);
    }
}
END_TEST

START_TEST(test_redis_away_is_503_and_issuing_fails)
{
    char err[128], port[16], token[64];
    int status;
    snprintf(port, sizeof(port), "%d", t_free_port());
    redis_close(&w.redis);
    ck_assert_int_eq(config_set(&cfg, "redis.port", port, err, sizeof(err)), 0);
    redis_open(&w.redis, &cfg);
    ck_assert_int_eq(check("Bearer AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA", ROUTE_ANY_USER, &status, NULL), -1);
    ck_assert_int_eq(status, 503);
    principal_t who = {.role = ROLE_OPERATOR, .user_id = 1, .market_id = 1};
    ck_assert_int_eq(auth_issue(&w.redis, &who, token, sizeof(token)), -1);
    ck_assert_int_eq(auth_revoke(&w.redis, "00"), -1);
}
END_TEST

START_TEST(test_issuing_refuses_a_principal_without_a_role_or_a_small_buffer)
{
    principal_t none = {.user_id = 1};
    principal_t ok = {.role = ROLE_COURIER, .user_id = 1, .market_id = 1, .courier_id = 3};
    char token[64], tiny[43];
    ck_assert_int_eq(auth_issue(&w.redis, &none, token, sizeof(token)), -1);
    ck_assert_int_eq(auth_issue(&w.redis, &ok, tiny, sizeof(tiny)), -1);
    ck_assert_int_eq(auth_issue_for(&w.redis, &ok, 0, token, sizeof(token)), -1);
}
END_TEST

START_TEST(test_a_session_of_its_own_lifetime_ends_when_its_token_is_revoked)
{
    principal_t who = {.role = ROLE_OPERATOR, .user_id = 2, .market_id = 4}, got;
    char token[64], header[96];
    int status;
    ck_assert_int_eq(auth_issue_for(&w.redis, &who, 300, token, sizeof(token)), 0);
    snprintf(header, sizeof(header), "Bearer %s", token);
    ck_assert_int_eq(check(header, ROUTE_OPERATOR, &status, &got), 0);
    redisReply *ttl = redis_cmd(&w.redis, "TTL sess:%s", got.token_hash);
    ck_assert_ptr_nonnull(ttl);
    ck_assert(ttl->type == REDIS_REPLY_INTEGER && ttl->integer > 0 && ttl->integer <= 300);
    freeReplyObject(ttl);
    ck_assert_int_eq(auth_revoke_token(&w.redis, "not-a-token"), -1);
    ck_assert_int_eq(check(header, ROUTE_OPERATOR, &status, NULL), 0); /* untouched by that */
    ck_assert_int_eq(auth_revoke_token(&w.redis, token), 0);
    ck_assert_int_eq(check(header, ROUTE_OPERATOR, &status, NULL), -1);
    ck_assert_int_eq(status, 401);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("auth");
    TCase *tc = tcase_create("auth");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, test_an_issued_token_admits_its_role_with_its_scope);
    tcase_add_test(tc, test_a_session_of_its_own_lifetime_ends_when_its_token_is_revoked);
    tcase_add_test(tc, test_a_role_the_route_does_not_admit_is_403);
    tcase_add_test(tc, test_malformed_or_missing_headers_are_401);
    tcase_add_test(tc, test_redis_away_is_503_and_issuing_fails);
    tcase_add_test(tc, test_issuing_refuses_a_principal_without_a_role_or_a_small_buffer);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
