/*
 * The role matrix, for every route the server registers, read from the route table itself
 * (so a route added later is covered the day it lands): no token → 401; a token of a role
 * the route does not admit → 403; a token of a role it admits → neither 401 nor 403. A
 * public route answers the same without a token as with one. The tokens are real: an
 * operator from the fixture, and a vendor and a courier that operator creates through the
 * API, a consumer signed in with a sandbox code.
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "tests/support/fixture.h"
#include "handlers/handlers.h"

enum { R_NONE, R_CONSUMER, R_VENDOR, R_COURIER, R_OPERATOR, R__COUNT };
static const char *const role_names[R__COUNT] = {"nobody", "consumer", "vendor", "courier", "operator"};
static const int role_bits[R__COUNT] = {0, ROUTE_CONSUMER, ROUTE_VENDOR, ROUTE_COURIER, ROUTE_OPERATOR};

static tserver_t srv;
static char tokens[R__COUNT][80];

/* "/v1/x/{id}/y" → "/v1/x/1/y" */
static void fill_params(const char *pattern, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = pattern; *p != '\0' && o + 2 < outlen; p++) {
        if (*p == '{') {
            out[o++] = '1';
            while (*p != '\0' && *p != '}')
                p++;
            if (*p == '\0')
                break;
            continue;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

static json_t *call_json(const char *method, const char *path, const char *token, const char *body, long want)
{
    tresp_t r;
    t_call(&srv, method, path, token, body, &r);
    ck_assert_msg(r.status == want, "%s %s: %ld %s", method, path, r.status, r.body);
    json_t *doc = t_json(&r);
    t_resp_free(&r);
    return doc;
}

/* The operator makes a stall, a vendor on it and a courier; everyone signs in. */
static void make_tokens(void)
{
    t_market_t m;
    char body[512], user[64];
    t_fixture_market(&m);
    ck_assert_int_eq(t_login(&srv, m.op_user, m.op_pass, tokens[R_OPERATOR], sizeof(tokens[0])), 0);
    const char *op = tokens[R_OPERATOR];
    snprintf(body, sizeof(body), "{\"stall_no\":\"R%d\",\"zone\":\"蔬菜区\",\"map\":{\"x\":1,\"y\":2}}",
             (int)getpid() % 1000);
    json_t *stall = call_json("POST", "/v1/admin/stalls", op, body, 201);
    snprintf(user, sizeof(user), "rv%d", (int)getpid());
    snprintf(body, sizeof(body),
             "{\"name\":\"张三\",\"contact_phone\":\"13800138000\",\"stall_ids\":[%lld],\"business_scope\":\"蔬菜\","
             "\"licences\":[],\"credit_level\":\"A\",\"username\":\"%s\",\"password\":\"vendor-pass-1\"}",
             (long long)json_integer_value(json_object_get(stall, "id")), user);
    json_decref(stall);
    json_decref(call_json("POST", "/v1/admin/vendors", op, body, 201));
    ck_assert_int_eq(t_login(&srv, user, "vendor-pass-1", tokens[R_VENDOR], sizeof(tokens[0])), 0);
    snprintf(user, sizeof(user), "rc%d", (int)getpid());
    snprintf(body, sizeof(body),
             "{\"name\":\"李四\",\"phone\":\"13900139000\",\"username\":\"%s\",\"password\":\"courier-pass-1\"}", user);
    json_decref(call_json("POST", "/v1/admin/couriers", op, body, 201));
    ck_assert_int_eq(t_login(&srv, user, "courier-pass-1", tokens[R_COURIER], sizeof(tokens[0])), 0);
    char name[32];
    snprintf(name, sizeof(name), "roles%d", (int)getpid());
    ck_assert_int_eq(t_login_wechat(&srv, name, tokens[R_CONSUMER], sizeof(tokens[0])), 0);
}

START_TEST(test_every_route_admits_exactly_its_roles)
{
    static const char *const env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox", NULL};
    t_migrate();
    ck_assert_int_eq(tserver_start(&srv, env), 0);
    make_tokens();
    config_t cfg;
    char err[256];
    ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), 0);
    router_t r;
    router_init(&r);
    ck_assert_int_eq(handlers_register_all(&r, &cfg), 0);
    size_t guarded = 0;
    for (size_t i = 0; i < r.n; i++) {
        const route_t *rt = r.routes[i];
        if (strcmp(rt->pattern, "/v1/auth/logout") == 0)
            continue; /* it would revoke the tokens: tests/e2e/test_signin.c covers it */
        int roles = rt->flags & ROUTE_ROLES;
        char path[256];
        fill_params(rt->pattern, path, sizeof(path));
        if (rt->flags & ROUTE_STREAM) /* refused after the role check (422), so no stream stays open */
            strncat(path, "?last_event_id=x", sizeof(path) - strlen(path) - 1);
        const char *body = strcmp(rt->method, "GET") != 0 && strcmp(rt->method, "DELETE") != 0 ? "{}" : NULL;
        guarded += roles != 0;
        for (int who = 0; who < R__COUNT; who++) {
            tresp_t resp;
            t_call(&srv, rt->method, path, who == R_NONE ? NULL : tokens[who], body, &resp);
            if (roles == ROUTE_PLATFORM) /* signed, never a bearer token: tests/e2e/test_platform_auth.c */
                ck_assert_msg(resp.status == 401 && t_is_error(&resp, "invalid_signature"), "%s %s as %s: %ld %s",
                              rt->method, rt->pattern, role_names[who], resp.status, resp.body);
            else if (roles == 0)
                ck_assert_msg(resp.status != 401 && resp.status != 403, "public %s %s refused %s: %ld", rt->method,
                              rt->pattern, role_names[who], resp.status);
            else if (who == R_NONE)
                ck_assert_msg(resp.status == 401 && t_is_error(&resp, "unauthorized"), "%s %s without a token: %ld",
                              rt->method, rt->pattern, resp.status);
            else if (!(roles & role_bits[who]))
                ck_assert_msg(resp.status == 403 && t_is_error(&resp, "forbidden"), "%s %s as %s: %ld %s", rt->method,
                              rt->pattern, role_names[who], resp.status, resp.body);
            else
                ck_assert_msg(resp.status != 401 && resp.status != 403, "%s %s as %s: %ld %s", rt->method, rt->pattern,
                              role_names[who], resp.status, resp.body);
            t_resp_free(&resp);
        }
    }
    ck_assert_msg(guarded >= 10, "only %zu role-guarded routes: is the route table complete?", guarded);
    router_free(&r);
    config_free(&cfg);
    ck_assert_int_eq(tserver_stop(&srv, SIGTERM), 0);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("roles");
    TCase *tc = tcase_create("roles");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_route_admits_exactly_its_roles);
    suite_add_tcase(su, tc);
    return t_run(su, 0) == 0 ? 0 : 1;
}
