/*
 * Sign-in: POST /v1/auth/wechat (consumers), POST /v1/auth/login (vendors, couriers,
 * operators), POST /v1/auth/logout (anyone signed in). Worker threads; each handler parses,
 * validates, calls the models (users in MariaDB, sessions and failure counters in Redis,
 * WeChat over libcurl) and sets one reply.
 *
 * Password guessing is throttled per username and per client address, with two limits:
 * auth.login_max_failures wrong answers for one username, or auth.login_max_failures_per_address
 * from one address (higher: the vendors behind a market's Wi-Fi share one address and must not
 * lock each other out), inside auth.login_window_s, and further attempts get 429 before any
 * password is checked. An unknown username costs the same scrypt work as a wrong password, and
 * both answer the same 401, so neither timing nor wording tells which usernames exist.
 */
#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <string.h>
#include "server/http/api.h"
#include "server/http/auth.h"
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/throttle.h"
#include "models/user.h"
#include "models/providers/wechat.h"

#define CODE_MAX         128 /* wx.login codes are 32 characters */
#define SANDBOX_PREFIX   "sandbox-"
#define SANDBOX_NAME_MAX 32
#define THROTTLE_KEY_MAX (32 + USER_USERNAME_MAX + 64)
#define BAD_CREDENTIALS  "wrong username or password"

/* ---- shared ---------------------------------------------------------------------------- */

/* The string member `field` of the body, 1..max bytes; NULL after replying 422. */
static const char *body_string(api_req_t *req, const char *field, size_t max)
{
    json_t *v = json_object_get(req->body, field);
    if (v == NULL) {
        api_reply_invalid(req, field, "is required");
        return NULL;
    }
    if (!json_is_string(v)) {
        api_reply_invalid(req, field, "must be a string");
        return NULL;
    }
    size_t n = json_string_length(v);
    if (n == 0 || n > max || strlen(json_string_value(v)) != n) {
        api_reply_invalid(req, field, n == 0 ? "must not be empty" : "is too long");
        return NULL;
    }
    return json_string_value(v);
}

/* Creates the session and replies 200 {"token", "user": user} (user stolen). */
static void issue_and_reply(api_req_t *req, worker_t *w, const principal_t *who, json_t *user)
{
    char token[64];
    if (user == NULL || auth_issue(&w->redis, who, token, sizeof(token)) != 0) {
        json_decref(user);
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "sessions cannot be created right now", NULL);
        return;
    }
    if (user_touch_login(&w->db, who->user_id) != DB_OK) /* bookkeeping only: the sign-in stands */
        log_warn("signin: last_login_at of user %lld: %s", (long long)who->user_id, w->db.err);
    api_reply_json(req, 200, json_pack("{s:s, s:o}", "token", token, "user", user));
}

/* ---- WeChat ---------------------------------------------------------------------------- */

/* In sandbox mode: the openid of a code sandbox-<name> (name 1..32 of [A-Za-z0-9_-]), which
 * is the code itself; -1 for any other code. */
static int sandbox_openid(const char *code, char *openid, size_t len)
{
    size_t plen = strlen(SANDBOX_PREFIX), n = strlen(code);
    if (strncmp(code, SANDBOX_PREFIX, plen) != 0 || n == plen || n - plen > SANDBOX_NAME_MAX || n >= len)
        return -1;
    for (size_t i = plen; i < n; i++)
        if (!isalnum((unsigned char)code[i]) && code[i] != '_' && code[i] != '-')
            return -1;
    memcpy(openid, code, n + 1);
    return 0;
}

/* The openid for code, by the configured mode; -1 after replying 401 or 503. */
static int openid_for(api_req_t *req, const char *code, char *openid, size_t len)
{
    if (strcmp(req->cfg->auth_wechat_mode, "sandbox") == 0) {
        if (sandbox_openid(code, openid, len) == 0)
            return 0;
        api_reply_error(req, SF_E_UNAUTHORIZED, "invalid_code", "sandbox codes look like sandbox-<name>", NULL);
        return -1;
    }
    char err[256];
    int rc = wechat_code2session(req->cfg, code, openid, len, err, sizeof(err));
    if (rc == WECHAT_OK)
        return 0;
    log_warn("signin: %s", err);
    if (rc == WECHAT_E_CODE)
        api_reply_error(req, SF_E_UNAUTHORIZED, "invalid_code", "WeChat did not accept the code", NULL);
    else
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "WeChat cannot be reached right now", NULL);
    return -1;
}

static void wechat_signin(api_req_t *req, worker_t *w)
{
    char openid[WECHAT_OPENID_MAX + 1];
    user_auth_t u;
    const char *code = body_string(req, "code", CODE_MAX);
    if (code == NULL || openid_for(req, code, openid, sizeof(openid)) != 0)
        return;
    const char *name =
        strncmp(openid, SANDBOX_PREFIX, strlen(SANDBOX_PREFIX)) == 0 ? openid + strlen(SANDBOX_PREFIX) : NULL;
    int rc = user_upsert_wechat(&w->db, openid, name, &u);
    if (rc == DB_NOROW) { /* the openid belongs to an account that is not a consumer's */
        api_reply_error(req, SF_E_UNAUTHORIZED, "invalid_code", "this WeChat account cannot sign in here", NULL);
        return;
    }
    if (rc != DB_OK) {
        log_warn("signin: consumer %s: %s", openid, w->db.err);
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "accounts cannot be read right now", NULL);
        return;
    }
    if (!u.active) {
        api_reply_error(req, SF_E_UNAUTHORIZED, "account_disabled", "this account is disabled", NULL);
        return;
    }
    principal_t who = {.role = ROLE_CONSUMER, .user_id = u.id};
    issue_and_reply(req, w, &who, json_pack("{s:I, s:s}", "id", (json_int_t)u.id, "role", "consumer"));
}

/* ---- username and password ------------------------------------------------------------- */

/* The roles that sign in with a password (API.md: vendor, courier, operator). */
static role_t password_role(const char *role)
{
    return strcmp(role, "vendor") == 0     ? ROLE_VENDOR
           : strcmp(role, "courier") == 0  ? ROLE_COURIER
           : strcmp(role, "operator") == 0 ? ROLE_OPERATOR
                                           : ROLE_NONE;
}

/* The failure counter keys. The username is the stored one when it exists (the column's
 * collation is case- and accent-insensitive, so "OP1" is "op1") and lower-cased ASCII either
 * way: spelling a username differently does not get a fresh counter. */
static void throttle_keys(const api_req_t *req, const char *username, const user_auth_t *u, int found, char *ukey,
                          char *ipkey)
{
    int n = snprintf(ukey, THROTTLE_KEY_MAX, "login:fail:u:%s", found ? u->username : username);
    for (int i = 13; i < n && i < THROTTLE_KEY_MAX; i++)
        ukey[i] = (char)tolower((unsigned char)ukey[i]);
    snprintf(ipkey, THROTTLE_KEY_MAX, "login:fail:ip:%s", req->peer);
}

/* 0 if neither counter is over the limit; -1 after replying 429 (or 503). */
static int check_throttle(api_req_t *req, worker_t *w, const char *ukey, const char *ipkey)
{
    int retry_u = 0, retry_ip = 0;
    int over_u = throttle_over(&w->redis, ukey, req->cfg->auth_login_max_failures, &retry_u);
    int over_ip =
        over_u < 0 ? -1 : throttle_over(&w->redis, ipkey, req->cfg->auth_login_max_failures_per_address, &retry_ip);
    if (over_u < 0 || over_ip < 0) {
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "sign-in cannot be checked right now", NULL);
        return -1;
    }
    if (over_u == 0 && over_ip == 0)
        return 0;
    api_reply_error(req, SF_E_RATE_LIMITED, "too_many_attempts", "too many failed sign-ins: try again later", NULL);
    req->retry_after = retry_u > retry_ip ? retry_u : retry_ip;
    return -1;
}

static void count_failure(api_req_t *req, worker_t *w, const char *ukey, const char *ipkey)
{
    int window = req->cfg->auth_login_window_s;
    if (throttle_fail(&w->redis, ukey, window) != 0 || throttle_fail(&w->redis, ipkey, window) != 0)
        log_warn("signin: could not count a failed login: %s", w->redis.err);
}

static json_t *login_user_json(const user_auth_t *u)
{
    json_t *user =
        json_pack("{s:I, s:s, s:I}", "id", (json_int_t)u->id, "role", u->role, "market_id", (json_int_t)u->market_id);
    if (user != NULL && u->vendor_id > 0)
        json_object_set_new(user, "vendor_id", json_integer(u->vendor_id));
    if (user != NULL && u->courier_id > 0)
        json_object_set_new(user, "courier_id", json_integer(u->courier_id));
    return user;
}

static void login(api_req_t *req, worker_t *w)
{
    char ukey[THROTTLE_KEY_MAX], ipkey[THROTTLE_KEY_MAX];
    user_auth_t u = {0};
    const char *username = body_string(req, "username", USER_USERNAME_MAX);
    const char *password = username != NULL ? body_string(req, "password", USER_PASSWORD_MAX) : NULL;
    if (password == NULL)
        return;
    int rc = user_find_login(&w->db, username, &u);
    if (rc != DB_OK && rc != DB_NOROW) {
        log_warn("signin: user %s: %s", username, w->db.err);
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "accounts cannot be read right now", NULL);
        return;
    }
    int found = rc == DB_OK && password_role(u.role) != ROLE_NONE && u.password_hash[0] != '\0';
    throttle_keys(req, username, &u, found, ukey, ipkey);
    if (check_throttle(req, w, ukey, ipkey) != 0)
        return;
    int ok = found ? user_verify_password(password, u.password_hash) : (user_verify_dummy(password), 0);
    if (!ok || !u.active) { /* a disabled account answers as a wrong password does */
        count_failure(req, w, ukey, ipkey);
        api_reply_error(req, SF_E_UNAUTHORIZED, "invalid_credentials", BAD_CREDENTIALS, NULL);
        return;
    }
    if (throttle_clear(&w->redis, ukey) != 0)
        log_warn("signin: could not clear the failures of %s: %s", u.username, w->redis.err);
    principal_t who = {.role = password_role(u.role),
                       .user_id = u.id,
                       .market_id = u.market_id,
                       .vendor_id = u.vendor_id,
                       .courier_id = u.courier_id};
    issue_and_reply(req, w, &who, login_user_json(&u));
}

/* ---- logout ---------------------------------------------------------------------------- */

static void logout(api_req_t *req, worker_t *w)
{
    if (auth_revoke(&w->redis, req->who.token_hash) != 0) {
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "sessions cannot be revoked right now", NULL);
        return;
    }
    api_reply_static(req, 204, NULL, "");
}

int signin_register(router_t *r)
{
    if (router_add(r, "POST", "/v1/auth/wechat", ROUTE_BODY_JSON, wechat_signin) != 0 ||
        router_add(r, "POST", "/v1/auth/login", ROUTE_BODY_JSON, login) != 0 ||
        router_add(r, "POST", "/v1/auth/logout", ROUTE_ANY_USER, logout) != 0)
        return -1;
    return 0;
}
