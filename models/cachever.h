/*
 * Catalogue versions: one counter per market in Redis. Every write to what the public
 * catalogue shows (markets, stalls, vendors' public records, categories, products, guide
 * prices, notices) bumps its market's version after it commits; the bump is published on
 * the CACHEVER_CHANNEL channel, and each server's loop threads drop their cached answers
 * for that market (server/cache.c). A bump is of one of two kinds (server/http/cache.h):
 * hard (cachever_bump: "<market>:<version>"), older answers stale at once; or stock
 * (cachever_bump_stock: "<market>:<version>:s"), only the stock of the order flow moved
 * (checkout, cancel, expiry, reject, pick), older answers served a little longer
 * (cache.stock_stale_ms). One counter for both. A cached read records the version it read *before*
 * querying, so an answer computed while a write races it is already stale when stored.
 * Worker threads only (they own the redis_t).
 */
#ifndef SF_CACHEVER_H
#define SF_CACHEVER_H

#include <stddef.h>
#include <stdint.h>
#include "models/store/redis.h"

#define CACHEVER_CHANNEL "stallfront:catalogue"

/* The Redis key of the market's version, "cat:ver:<market>", into buf (len >= 32). */
void cachever_key(char *buf, size_t len, int64_t market_id);

/* The market's current version into *ver (0 if never bumped). 0, or -1 if Redis failed. */
int cachever_get(redis_t *r, int64_t market_id, uint64_t *ver);

/* For a ROUTE_CACHED read, before querying: the market's version into *ver, and market_id
 * to tag the answer with; 0 (do not cache; the answer is still given) if Redis failed. */
int64_t cachever_tag(redis_t *r, int64_t market_id, uint64_t *ver);

/* Bumps and publishes the market's version; *version (may be NULL) gets the new one, which a
 * handler passes on with api_cache_bumped() so that this server stops serving older answers
 * before it replies. 0, or -1 if Redis failed: then cached answers may stay stale for up to
 * CACHE_MAX_AGE_S (server/cache.h), never longer. */
int cachever_bump(redis_t *r, int64_t market_id, uint64_t *version);

/* The same for a stock bump (published "<market>:<version>:s"); the handler passes the new
 * version on with api_cache_stock_bumped(). */
int cachever_bump_stock(redis_t *r, int64_t market_id, uint64_t *version);

/* A CACHEVER_CHANNEL message: "<market>:<version>" (hard), "<market>:<version>:s" (stock),
 * "<market>:<version>:h" (hard). 0 with the fields filled, *stock 1 for a stock bump; -1 if
 * it is none of these (or the market is not positive). */
int cachever_parse(const char *msg, size_t len, int64_t *market_id, uint64_t *version, int *stock);

#endif
