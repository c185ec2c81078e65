/*
 * Carts: one per consumer and market, in Redis (hash cart:<user>:<market>, product id →
 * quantity in grams or pieces), living 7 days from its last change. Redis holds only what
 * the consumer chose; prices and availability are always read from MariaDB when the cart is
 * shown or checked out. Worker threads, with their own redis_t.
 *
 * (Written in full by the cart engineer; the functions below are the ones checkout relies
 * on, fixed here first.)
 */
#ifndef SF_CART_H
#define SF_CART_H

#include <stddef.h>
#include <stdint.h>
#include "redis.h"

#define CART_MAX_LINES 100
#define CART_TTL_S (7 * 24 * 3600)

typedef struct cart_line {
    int64_t product_id;
    int64_t qty; /* grams or pieces, > 0 */
} cart_line_t;

/* The lines of a cart, ordered by product id, at most CART_MAX_LINES. 0, or -1 if Redis
 * failed (r->err). */
int cart_load(redis_t *r, int64_t user_id, int64_t market_id, cart_line_t *lines, size_t *n);

/* Empties a cart. 0, or -1 if Redis failed. */
int cart_clear(redis_t *r, int64_t user_id, int64_t market_id);

#endif
