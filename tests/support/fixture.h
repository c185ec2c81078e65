/*
 * Fixtures for end-to-end tests of the API: a migrated test database, a fresh market with
 * its operator, and sign-in over HTTP. Each call makes names unique to the process and a
 * counter, so test binaries running at once (ctest -j) never collide.
 */
#ifndef SF_FIXTURE_H
#define SF_FIXTURE_H

#include <stddef.h>
#include <stdint.h>
#include "tests/support/testutil.h"

typedef struct t_market {
    int64_t market_id;
    char op_user[64]; /* the operator's username and password */
    char op_pass[64];
} t_market_t;

/* Applies the built-in migrations to the test database (STALLFRONT_DB_*); idempotent. Fails
 * the running test on error. */
void t_migrate(void);

/* Creates a market (code t<pid>_<n>) with this category tree (code: name, NY/T 2137-style
 * commodity code, parent):
 *   veg        蔬菜    "A01"
 *   veg-leafy  叶菜类  "A010101"  veg
 *   veg-root   根茎类  "A010201"  veg
 *   fruit      水果    "A02"
 *   meat       畜禽肉  "A03"
 *   eggs       禽蛋    "A04"
 *   aquatic    水产品  "A05"
 *   grain-oil  粮油    "A06"
 * and an operator account for it (username op<pid>_<n>, a random 24-character password).
 * Fails the test on error. */
void t_fixture_market(t_market_t *m);

/* POST /v1/auth/login over h2c; writes the bearer token. 0, or the HTTP status on failure. */
long t_login(const tserver_t *s, const char *user, const char *pass, char *token, size_t len);

/* POST /v1/auth/wechat with code sandbox-<name> (the server must run with
 * STALLFRONT_AUTH_WECHAT_MODE=sandbox). 0, or the HTTP status on failure. */
long t_login_wechat(const tserver_t *s, const char *name, char *token, size_t len);

/* A request with `Authorization: Bearer <token>` (token may be NULL) and, when body is not
 * NULL, `Content-Type: application/json`. Fails the test if no answer comes. */
void t_call(const tserver_t *s, const char *method, const char *path, const char *token, const char *body, tresp_t *r);

#endif
