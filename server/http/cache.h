/*
 * The read cache of one loop thread: answers of public catalogue reads (ROUTE_CACHED),
 * keyed by their path and query, each tagged with the market it belongs to, that market's
 * catalogue version when it was computed (models/cachever.h) and the time it was born (at or
 * before its data was read). Versions arrive from the pub/sub subscriber (server/cachesub.c),
 * from this server's writes and from the entries themselves, each of one of two kinds:
 * - hard: what a page shows changed (a product, a price, a stall, a notice, a vendor's own
 *   stock edit): older entries of the market are stale at once;
 * - stock: only the stock of the order flow moved (checkout, cancel, expiry, reject, pick):
 *   older entries stay servable until they are stock_stale_ms old, so that a busy market's
 *   checkouts do not empty the cache hundreds of times a second.
 * An entry is served while its version is at least the market's newest hard version, and it
 * is either the newest version or younger than stock_stale_ms, and never after
 * CACHE_MAX_AGE_S. With stock_stale_ms 0 every stock bump is a hard one.
 *
 * Owned by one loop thread: no locks, no sharing. Bounded in entries, bytes and entry size;
 * the least recently used entry goes first. Knows nothing of HTTP.
 */
#ifndef SF_CACHE_H
#define SF_CACHE_H

#include <stddef.h>
#include <stdint.h>

#define CACHE_MAX_ENTRIES 4096
#define CACHE_MAX_BYTES   (32u << 20)  /* per loop thread */
#define CACHE_MAX_ENTRY   (512u << 10) /* a bigger answer is not cached */
/* The safety net for a lost invalidation (a subscriber that was disconnected while a write
 * happened): no entry is served after this, whatever the versions say. */
#define CACHE_MAX_AGE_S 30

typedef struct cache cache_t;

typedef struct cache_hit {
    const char *body; /* valid until the next call on this cache */
    size_t len;
    const char *etag;
    int64_t market; /* the market the answer belongs to, and its version then */
    uint64_t version;
    int64_t product; /* the one product the answer is about (GET /v1/products/{id}), else 0 */
    int stock_stale; /* older than the market's newest version: served within stock_stale_ms */
} cache_hit_t;

cache_t *cache_new(void);
void cache_free(cache_t *c);

/* How long an entry older than a stock bump may still be served, ms (0: not at all, every
 * bump is hard). cache_new() starts with 0. */
void cache_set_stock_stale_ms(cache_t *c, uint64_t ms);

/* Looks key up; 1 and *hit filled when a fresh entry exists, else 0. now_ms: monotonic, the
 * clock of the born_ms given to cache_put. */
int cache_get(cache_t *c, const char *key, size_t keylen, uint64_t now_ms, cache_hit_t *hit);

/* Stores (copies) an answer read at `version`, born at born_ms (at or before its data was
 * read). Ignored when too big, when its version is older than the market's newest hard one,
 * when it is older than the newest and no younger than stock_stale_ms, or when the entry
 * already there is newer. Raises the market's newest version to `version`. */
void cache_put(cache_t *c, const char *key, size_t keylen, const char *body, size_t len, const char *etag,
               int64_t market, uint64_t version, uint64_t born_ms);

/* cache_put of the answer about one product (tagged on its hits, for the HTTP layer's
 * read-your-writes of that product's stock). */
void cache_put_product(cache_t *c, const char *key, size_t keylen, const char *body, size_t len, const char *etag,
                       int64_t market, uint64_t version, uint64_t born_ms, int64_t product);

/* A market's catalogue moved on to `version` by a hard bump: its older entries are stale
 * from now on. */
void cache_set_version(cache_t *c, int64_t market, uint64_t version);

/* A market's catalogue moved on to `version` by a stock bump: its older entries are served
 * until they are stock_stale_ms old (a hard bump when that is 0). */
void cache_set_stock_version(cache_t *c, int64_t market, uint64_t version);

/* Forgets everything (after missed invalidations, e.g. a subscriber reconnect). */
void cache_clear(cache_t *c);

/* For /metrics. */
size_t cache_entries(const cache_t *c);
size_t cache_bytes(const cache_t *c);

/* 1 if an If-None-Match header value (a list of entity tags, or "*") matches etag. */
int cache_etag_matches(const char *if_none_match, size_t len, const char *etag);

#endif
