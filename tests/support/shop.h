/*
 * Test support for the end-to-end tests of the shop (cart, checkout, orders, payments): a
 * test's world (fixture markets, vendors, stalls, products and addresses made with SQL, its
 * own database and Redis connections), consumers signed in with sandbox WeChat codes, and
 * requests over h2c to a running server with the API's error shape checked. Everything runs
 * on the test's thread and fails the running Check test on error, except shop_request, which
 * worker threads of a test may call too. The caller owns and frees what it is given.
 */
#ifndef SF_SHOP_H
#define SF_SHOP_H
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/fixture.h"
#include "models/store/redis.h"
#include "tests/support/testutil.h"

typedef struct shop_consumer {
    char token[128];
    int64_t id;
    int64_t address; /* near the market, tied to none */
} shop_consumer_t;

typedef struct shop_world {
    t_market_t m, other; /* the market of the test, and a second one */
    config_t cfg;
    db_t db;
    redis_t redis;
    int64_t vendor[3], stall[3], other_stall, other_vendor; /* set by shop_world_up only */
    int64_t other_product; /* shop_world_up: 小白菜 at other_stall, weighed, 300 fen / 500 g, 50 kg in stock */
} shop_world_t;

/* Runs an INSERT (or any write) with params; the new row's id. */
int64_t shop_sql(db_t *db, const char *text, const db_param_t *p, size_t n);
/* The first column of the first row of a query with one integer parameter. */
int64_t shop_i64(db_t *db, const char *text, int64_t id);
/* Makes a vendor (张三, credit A) and its stall `no` in a market; their ids. */
void shop_stall(db_t *db, int64_t market, const char *no, int64_t *vendor, int64_t *stall);
/* Zeroes w, makes the fixture market w->m and opens w's configuration, database and Redis. */
void shop_world_open(shop_world_t *w);
/* shop_world_open, then a second market w->other and stalls, B-01 in w->m and A-01 in w->other
 * (with its vendor w->other_vendor and a product on sale, w->other_product, so a test can sell there). */
void shop_world_up(shop_world_t *w);
/* Closes what shop_world_open opened. */
void shop_world_down(shop_world_t *w);
/* A product of stall s of w->m: weighed (price per per_g grams) or, with per_g 0, counted. */
int64_t shop_product(shop_world_t *w, int s, const char *name, int64_t price, int64_t per_g, int64_t stock);
/* The same at w->other's stall A-01 (w->other_stall, w->other_vendor). */
int64_t shop_other_product(shop_world_t *w, const char *name, int64_t price, int64_t per_g, int64_t stock);
/* An address (王五) of user at lat/lng, tied to market unless market is 0; its id. */
int64_t shop_address(db_t *db, int64_t user, int64_t market, const char *lat, const char *lng);
/* Signs in sandbox-<prefix><pid>_<seq> (seq: the caller's counter) as c, with an address 150 m from the market. */
void shop_consumer(const tserver_t *s, db_t *db, const char *prefix, int seq, shop_consumer_t *c);
/* One request over h2c; the status (-1: no answer), and the body (malloc'd) in *text unless text is NULL. */
long shop_request(const tserver_t *s, const char *method, const char *path, const char *token, const char *body,
                  const char *idem, char **text);
/* A request whose answer must be JSON; the document (caller decrefs), its status in *status. */
json_t *shop_call(const tserver_t *s, const char *method, const char *path, const char *token, const char *body,
                  const char *idem, long *status);
/* error.code of an error answer, or NULL. */
const char *shop_error_code(const json_t *doc);
/* error.details.field of an error answer, or NULL. */
const char *shop_error_field(const json_t *doc);
/* Asserts doc is the error shape with *status == want and this code; frees doc. */
void shop_expect_error(json_t *doc, const long *status, long want, const char *code);
/* PUT /v1/cart/items/{product_id} with this qty as c; must answer 200. */
void shop_put_cart(const tserver_t *s, const shop_consumer_t *c, int64_t product_id, int64_t qty);
/* Writes the checkout body {"market_id":…,"address_id":…} into buf. */
void shop_checkout_body(char *buf, size_t len, int64_t market, int64_t address_id);
/* POST /v1/orders as c to c's own address; the answer (caller decrefs), its status in *status. */
json_t *shop_checkout(const tserver_t *s, const shop_consumer_t *c, int64_t market, long *status);
/* The integer member k of o (0 if absent). */
int64_t shop_jint(const json_t *o, const char *k);
/* The stock of a product, read from the database. */
int64_t shop_stock(db_t *db, int64_t product_id);
#endif
