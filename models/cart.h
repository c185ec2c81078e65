/*
 * Carts: one per consumer and market, in Redis (hash cart:<user>:<market>, product id →
 * quantity in grams or pieces), living 7 days from its last change. Redis holds only what
 * the consumer chose; prices and availability are always read from MariaDB when the cart is
 * shown or checked out. Worker threads, with their own redis_t and db_t.
 *
 * Every change is one call of the Redis function sf_cart_set (library stallfront_cart): the
 * cap check, the line, the key's expiry and the lines as they now are, atomically and in one
 * round trip, so no cart key ever exists without a TTL; reading a cart does not extend its
 * life ("7 days since its last change").
 *
 * Ownership: json_t ** results belong to the caller. Nothing here knows HTTP.
 */
#ifndef SF_CART_H
#define SF_CART_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"
#include "models/store/redis.h"

#define CART_MAX_LINES    100
#define CART_FUNCTION_LIB "stallfront_cart" /* the Redis function library of sf_cart_set, sf_cart_done */
#define CART_TTL_S        (7 * 24 * 3600)
#define CART_QTY_MAX      1000000000 /* = PRODUCT_STOCK_MAX: no line can ask for more than any stock */

typedef struct cart_line {
    int64_t product_id;
    int64_t qty; /* grams or pieces, > 0 */
} cart_line_t;

/* Fees of a market's orders, from the configuration. */
typedef struct cart_fees {
    int64_t delivery_fee_fen;
    int64_t free_delivery_from_fen; /* 0: never free */
} cart_fees_t;

/* Why a PUT body was refused: the field and the reason (a string literal). */
typedef struct cart_invalid {
    char field[48];
    const char *reason;
} cart_invalid_t;

/* ---- validation (pure) ---- */

/* Reads a PUT /v1/cart/items/{id} body {"qty": 0..CART_QTY_MAX, "market_id"?: id}: both JSON
 * integers (1.5, "3", true are refused), unknown fields refused. *market_id is 0 when
 * absent or null. 0, or -1 with *bad set. */
int cart_parse_put(const json_t *body, int64_t *qty, int64_t *market_id, cart_invalid_t *bad);

/* ---- Redis ---- */

/* The lines of a cart, ordered by product id, at most CART_MAX_LINES (lines that cannot be
 * read back as positive integers are skipped). 0, or -1 if Redis failed (r->err). */
int cart_load(redis_t *r, int64_t user_id, int64_t market_id, cart_line_t *lines, size_t *n);

/* Empties a cart. 0, or -1 if Redis failed. */
int cart_clear(redis_t *r, int64_t user_id, int64_t market_id);

/* After a checkout committed: empties the cart and bumps and publishes the market's catalogue
 * version (cachever.h; the order took stock, which the cached catalogue shows) in one round
 * trip (FCALL sf_cart_done, loaded as sf_cart_set is), a stock bump. *version gets the new version, for
 * api_cache_stock_bumped(). 0, or -1 if Redis failed (r->err): then neither may have happened. */
int cart_checked_out(redis_t *r, int64_t user_id, int64_t market_id, uint64_t *version);

/* Sets a line to qty (1..CART_QTY_MAX; 0 removes it) and restarts the cart's TTL, in one
 * round trip (FCALL sf_cart_set; the library is loaded and the call made again once if Redis
 * does not have it). SF_OK; SF_E_CART_FULL when adding a line to a cart holding
 * CART_MAX_LINES others (nothing changed); SF_E_INVALID for a quantity or id out of range;
 * SF_E_UNAVAILABLE if Redis failed (r->err). */
sf_status_t cart_set(redis_t *r, int64_t user_id, int64_t market_id, int64_t product_id, int64_t qty);

/* Removes a line (a line not in the cart is no error). 0, or -1 if Redis failed. */
int cart_remove(redis_t *r, int64_t user_id, int64_t market_id, int64_t product_id);

/* FUNCTION LOAD REPLACE of the stallfront_cart library (sf_cart_set, sf_cart_done). 0, or -1
 * (r->err). */
int cart_functions_load(redis_t *r);

/* ---- MariaDB ---- */

/* The cart as the API shows it: {"market_id", "items": [{product_id, name, stall_id, qty,
 * pricing, amount_fen, available, reason?}], "items_fen", "delivery_fee_fen", "payable_fen"},
 * reading every product of the lines in one query. Lines whose product is gone, off sale,
 * of a vendor not active, or short of stock are shown with available false and a reason;
 * items_fen sums the available lines only. DB_OK or a db error (DB_ERR also if an amount
 * overflowed, which the bounds on price and quantity rule out). */
int cart_render(db_t *db, int64_t market_id, const cart_line_t *lines, size_t n, const cart_fees_t *fees, json_t **out);

/* ---- a change as the API makes it (MariaDB and Redis) ---- */

/* One line set or removed, as PUT or DELETE /v1/cart/items/{id} ask. */
typedef struct cart_change {
    int64_t user_id;
    int64_t product_id;
    int64_t qty;       /* 0..CART_QTY_MAX; 0 removes the line */
    int64_t market_id; /* the cart's market; 0: the product's */
    int checked;       /* 1 (PUT): the product must exist, be of market_id when given and, for a qty
                        * above 0, be on sale from an active vendor with the stock; 0 (DELETE): no
                        * check, the product is read only to find the market when market_id is 0 */
} cart_change_t;

/* Makes the change and renders the cart as it then is (cart_render's shape) into *out: one
 * Redis call, and on the usual path one SQL statement that reads the changed product (its
 * checks) and every product of the answer together (see cart.c for how the ids are known
 * before Redis answers). A refused change changes nothing. SF_OK; SF_E_NOT_FOUND (d: "no
 * such product"); SF_E_WRONG_MARKET (d: the product's market_id); SF_E_OFF_SALE;
 * SF_E_INSUFFICIENT_STOCK (d: available); SF_E_CART_FULL (d: max_lines); SF_E_INVALID for a
 * quantity out of range; SF_E_UNAVAILABLE if Redis failed (r->err); or a db error (db->err). */
sf_status_t cart_change(db_t *db, redis_t *r, const cart_change_t *c, const cart_fees_t *fees, json_t **out,
                        status_detail_t *d);

#endif
