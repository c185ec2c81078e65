/*
 * Sign-in: POST /v1/auth/wechat (consumers), POST /v1/auth/login (vendors, couriers,
 * operators), POST /v1/auth/logout (anyone signed in). Worker threads; each handler parses,
 * validates, calls the models (users in MariaDB, sessions and failure counters in Redis,
 * WeChat through models/providers) and replies once at its end.
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
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/providers/wechat.h"
#include "models/throttle.h"
#include "models/user.h"
#include "server/http/api.h"
#include "server/http/auth.h"
#include "server/http/valid.h"

#define CODE_MAX         128 /* wx.login codes are 32 characters */
#define SANDBOX_PREFIX   "sandbox-"
#define SANDBOX_NAME_MAX 32
#define THROTTLE_KEY_MAX (32 + USER_USERNAME_MAX + 64)
#define BAD_CREDENTIALS  "wrong username or password"

/* ---- shared ---------------------------------------------------------------------------- */

/* The string member `key` of the body, 1..max characters of anything: what the person typed
 * is checked against the account, not against rules. */
static sf_status_t body_string(const api_req_t *req, const char *key, size_t max, const char **out, status_detail_t *d)
{
    const valid_text_t any = {1, max, valid_c_any, NULL, 0};
    return valid_str(req->body, key, NULL, 1, 0, &any, out, d) < 0 ? SF_E_INVALID : SF_OK;
}

/* Issues a session for who and renders {token, user} (user stolen) into *doc. */
static sf_status_t issue(worker_t *w, const principal_t *who, json_t *user, json_t **doc, status_detail_t *d)
{
    char token[64];
    if (user == NULL || auth_issue(&w->redis, who, token, sizeof(token)) != 0) {
        json_decref(user);
        return status_field(d, SF_E_UNAVAILABLE, NULL, "sessions cannot be created right now");
    }
    if (user_touch_login(&w->db, who->user_id) != DB_OK) /* bookkeeping only: the sign-in stands */
        log_warn("signin: last_login_at of user %lld: %s", (long long)who->user_id, w->db.err);
    *doc = json_pack("{s:s, s:o}", "token", token, "user", user);
    return SF_OK;
}

/* ---- WeChat ------------------------------------------------------------------------------ */

/* A sandbox code: "sandbox-<name>", name of 1..SANDBOX_NAME_MAX [A-Za-z0-9_-]; the openid
 * is the code itself. 0, or -1. */
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

/* The openid of a wx.login code: the sandbox's, or WeChat's code2session. */
static sf_status_t openid_for(const api_req_t *req, const char *code, char *openid, size_t len, status_detail_t *d)
{
    char err[256];
    if (strcmp(req->cfg->auth_wechat_mode, "sandbox") == 0)
        return sandbox_openid(code, openid, len) == 0
                   ? SF_OK
                   : status_field(d, SF_E_INVALID_CODE, NULL, "sandbox codes look like sandbox-<name>");
    sf_status_t rc = wechat_code2session(req->cfg, code, openid, len, err, sizeof(err));
    if (rc != SF_OK)
        log_warn("signin: %s", err);
    if (rc == SF_E_INVALID_CODE)
        return status_field(d, rc, NULL, "WeChat did not accept the code");
    return rc == SF_OK ? SF_OK : status_field(d, SF_E_UNAVAILABLE, NULL, "WeChat cannot be reached right now");
}

/* The consumer of an openid, created on first sign-in. */
static sf_status_t consumer_of(worker_t *w, const char *openid, user_auth_t *u, status_detail_t *d)
{
    const char *name =
        strncmp(openid, SANDBOX_PREFIX, strlen(SANDBOX_PREFIX)) == 0 ? openid + strlen(SANDBOX_PREFIX) : NULL;
    sf_status_t rc = user_upsert_wechat(&w->db, openid, name, u);
    if (rc == SF_E_NOT_FOUND) /* the openid belongs to an account that is not a consumer's */
        return status_field(d, SF_E_INVALID_CODE, NULL, "this WeChat account cannot sign in here");
    if (rc != SF_OK) {
        log_warn("signin: consumer %s: %s", openid, w->db.err);
        return status_field(d, SF_E_UNAVAILABLE, NULL, "accounts cannot be read right now");
    }
    return u->active ? SF_OK : status_field(d, SF_E_ACCOUNT_DISABLED, NULL, "this account is disabled");
}

static void wechat_signin(api_req_t *req, worker_t *w)
{
    char openid[WECHAT_OPENID_MAX + 1];
    status_detail_t d = {0};
    user_auth_t u;
    const char *code = NULL;
    json_t *doc = NULL;
    sf_status_t rc = body_string(req, "code", CODE_MAX, &code, &d);
    if (rc == SF_OK)
        rc = openid_for(req, code, openid, sizeof(openid), &d);
    if (rc == SF_OK)
        rc = consumer_of(w, openid, &u, &d);
    if (rc == SF_OK) {
        principal_t who = {.role = ROLE_CONSUMER, .user_id = u.id};
        rc = issue(w, &who, json_pack("{s:I, s:s}", "id", (json_int_t)u.id, "role", "consumer"), &doc, &d);
    }
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* ---- username and password --------------------------------------------------------------- */

static role_t password_role(const char *role)
{
    return strcmp(role, "vendor") == 0     ? ROLE_VENDOR
           : strcmp(role, "courier") == 0  ? ROLE_COURIER
           : strcmp(role, "operator") == 0 ? ROLE_OPERATOR
                                           : ROLE_NONE;
}

/* The failure counters' keys: per username (case-folded: the lookup ignores case) and per
 * client address. */
static void throttle_keys(const api_req_t *req, const char *username, const user_auth_t *u, int found, char *ukey,
                          char *ipkey)
{
    int n = snprintf(ukey, THROTTLE_KEY_MAX, "login:fail:u:%s", found ? u->username : username);
    for (int i = 13; i < n && i < THROTTLE_KEY_MAX; i++)
        ukey[i] = (char)tolower((unsigned char)ukey[i]);
    snprintf(ipkey, THROTTLE_KEY_MAX, "login:fail:ip:%s", req->peer);
}

/* SF_OK while under both limits; SF_E_TOO_MANY_ATTEMPTS with *retry_after (seconds) past one. */
static sf_status_t check_throttle(const api_req_t *req, worker_t *w, const char *ukey, const char *ipkey,
                                  int *retry_after, status_detail_t *d)
{
    int retry_u = 0, retry_ip = 0;
    int over_u = throttle_over(&w->redis, ukey, req->cfg->auth_login_max_failures, &retry_u);
    int over_ip =
        over_u < 0 ? -1 : throttle_over(&w->redis, ipkey, req->cfg->auth_login_max_failures_per_address, &retry_ip);
    if (over_u < 0 || over_ip < 0)
        return status_field(d, SF_E_UNAVAILABLE, NULL, "sign-in cannot be checked right now");
    if (over_u == 0 && over_ip == 0)
        return SF_OK;
    *retry_after = retry_u > retry_ip ? retry_u : retry_ip;
    return status_field(d, SF_E_TOO_MANY_ATTEMPTS, NULL, "too many failed sign-ins: try again later");
}

static void count_failure(const api_req_t *req, worker_t *w, const char *ukey, const char *ipkey)
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

/* The account of a username and password, under the throttle: an unknown username costs
 * the same scrypt work as a wrong password, and a disabled account answers as one too. */
static sf_status_t check_login(const api_req_t *req, worker_t *w, const char *username, const char *password,
                               user_auth_t *u, int *retry_after, status_detail_t *d)
{
    char ukey[THROTTLE_KEY_MAX], ipkey[THROTTLE_KEY_MAX];
    sf_status_t rc = user_find_login(&w->db, username, u);
    if (rc != SF_OK && rc != SF_E_NOT_FOUND) {
        log_warn("signin: user %s: %s", username, w->db.err);
        return status_field(d, SF_E_UNAVAILABLE, NULL, "accounts cannot be read right now");
    }
    int found = rc == SF_OK && password_role(u->role) != ROLE_NONE && u->password_hash[0] != '\0';
    throttle_keys(req, username, u, found, ukey, ipkey);
    if ((rc = check_throttle(req, w, ukey, ipkey, retry_after, d)) != SF_OK)
        return rc;
    int ok = found ? user_verify_password(password, u->password_hash) : (user_verify_dummy(password), 0);
    if (!ok || !u->active) {
        count_failure(req, w, ukey, ipkey);
        return status_field(d, SF_E_INVALID_CREDENTIALS, NULL, BAD_CREDENTIALS);
    }
    if (throttle_clear(&w->redis, ukey) != 0)
        log_warn("signin: could not clear the failures of %s: %s", u->username, w->redis.err);
    return SF_OK;
}

static void login(api_req_t *req, worker_t *w)
{
    status_detail_t d = {0};
    user_auth_t u = {0};
    const char *username = NULL, *password = NULL;
    json_t *doc = NULL;
    int retry_after = 0;
    sf_status_t rc = body_string(req, "username", USER_USERNAME_MAX, &username, &d);
    if (rc == SF_OK)
        rc = body_string(req, "password", USER_PASSWORD_MAX, &password, &d);
    if (rc == SF_OK)
        rc = check_login(req, w, username, password, &u, &retry_after, &d);
    if (rc == SF_OK) {
        principal_t who = {.role = password_role(u.role),
                           .user_id = u.id,
                           .market_id = u.market_id,
                           .vendor_id = u.vendor_id,
                           .courier_id = u.courier_id};
        rc = issue(w, &who, login_user_json(&u), &doc, &d);
    }
    api_reply_result(req, w, rc, &d, 200, doc);
    if (retry_after > 0)
        req->retry_after = retry_after;
}

/* ---- sign-out ---------------------------------------------------------------------------- */

static void logout(api_req_t *req, worker_t *w)
{
    if (auth_revoke(&w->redis, req->who.token_hash) == 0)
        api_reply_static(req, 204, NULL, "");
    else
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "sessions cannot be revoked right now", NULL);
}

int signin_register(router_t *r)
{
    if (router_add(r, "POST", "/v1/auth/wechat", ROUTE_BODY_JSON, wechat_signin) != 0 ||
        router_add(r, "POST", "/v1/auth/login", ROUTE_BODY_JSON, login) != 0 ||
        router_add(r, "POST", "/v1/auth/logout", ROUTE_ANY_USER, logout) != 0)
        return -1;
    return 0;
}
