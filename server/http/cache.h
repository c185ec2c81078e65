/*
 * The read cache of one loop thread: answers of public catalogue reads (ROUTE_CACHED),
 * keyed by their path and query, each tagged with the market it belongs to and that
 * market's catalogue version when it was computed (models/cachever.h). An entry is served
 * only while its version is still the newest the thread knows for its market and it is
 * younger than CACHE_MAX_AGE_S; versions arrive from the pub/sub subscriber
 * (server/cachesub.c) and from the entries themselves.
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
} cache_hit_t;

cache_t *cache_new(void);
void cache_free(cache_t *c);

/* Looks key up; 1 and *hit filled when a fresh entry exists, else 0. now_ms: monotonic. */
int cache_get(cache_t *c, const char *key, size_t keylen, uint64_t now_ms, cache_hit_t *hit);

/* Stores (copies) an answer. Ignored when it is already stale (its version is older than the
 * newest known for the market) or too big. Raises the market's known version to `version`. */
void cache_put(cache_t *c, const char *key, size_t keylen, const char *body, size_t len, const char *etag,
               int64_t market, uint64_t version, uint64_t now_ms);

/* A market's catalogue moved on to `version`: its older entries are stale from now on. */
void cache_set_version(cache_t *c, int64_t market, uint64_t version);

/* Forgets everything (after missed invalidations, e.g. a subscriber reconnect). */
void cache_clear(cache_t *c);

/* For /metrics. */
size_t cache_entries(const cache_t *c);
size_t cache_bytes(const cache_t *c);

/* 1 if an If-None-Match header value (a list of entity tags, or "*") matches etag. */
int cache_etag_matches(const char *if_none_match, size_t len, const char *etag);

#endif
