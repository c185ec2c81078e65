/*
 * One loop thread's read cache (see cache.h): a chained hash table of entries on an LRU
 * list, and a small table of the newest catalogue version and the newest hard version known
 * per market. Stale entries
 * are not hunted down when a version moves: they fail the check on their next lookup and
 * are dropped then, or age out of the LRU.
 */
#include <stdlib.h>
#include <string.h>
#include "server/http/cache.h"

#define NBUCKETS    8192 /* a power of two, twice CACHE_MAX_ENTRIES */
#define MAX_MARKETS 4096

typedef struct entry {
    struct entry *hnext;       /* bucket chain */
    struct entry *prev, *next; /* LRU list, most recent first */
    uint64_t hash;
    char *key;
    size_t keylen;
    char *body;
    size_t len;
    char *etag;
    int64_t market;
    uint64_t version;
    uint64_t born_ms; /* at or before its data was read */
    int64_t product;
} entry_t;

typedef struct market_ver {
    int64_t market;
    uint64_t version; /* the newest, of either kind */
    uint64_t hard;    /* the newest hard one: nothing older is ever served */
} market_ver_t;

struct cache {
    entry_t *buckets[NBUCKETS];
    entry_t *head, *tail;
    size_t n, bytes;
    market_ver_t *markets;
    size_t nmarkets, capmarkets;
    uint64_t stock_stale_ms;
};

/* FNV-1a: keys are short paths; collisions only cost a string compare. */
static uint64_t hash_key(const char *k, size_t n)
{
    uint64_t h = 1469598103934665603ULL;
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)k[i]) * 1099511628211ULL;
    return h;
}

cache_t *cache_new(void)
{
    return calloc(1, sizeof(cache_t));
}

static size_t entry_bytes(const entry_t *e)
{
    return sizeof(*e) + e->keylen + e->len + (e->etag != NULL ? strlen(e->etag) : 0);
}

static void lru_unlink(cache_t *c, entry_t *e)
{
    if (e->prev != NULL)
        e->prev->next = e->next;
    else
        c->head = e->next;
    if (e->next != NULL)
        e->next->prev = e->prev;
    else
        c->tail = e->prev;
    e->prev = e->next = NULL;
}

static void lru_push_front(cache_t *c, entry_t *e)
{
    e->prev = NULL;
    e->next = c->head;
    if (c->head != NULL)
        c->head->prev = e;
    c->head = e;
    if (c->tail == NULL)
        c->tail = e;
}

static void entry_remove(cache_t *c, entry_t *e)
{
    entry_t **pp = &c->buckets[e->hash & (NBUCKETS - 1)];
    while (*pp != e)
        pp = &(*pp)->hnext;
    *pp = e->hnext;
    lru_unlink(c, e);
    c->n--;
    c->bytes -= entry_bytes(e);
    free(e->key);
    free(e->body);
    free(e->etag);
    free(e);
}

static entry_t *find(const cache_t *c, const char *key, size_t keylen, uint64_t h)
{
    for (entry_t *e = c->buckets[h & (NBUCKETS - 1)]; e != NULL; e = e->hnext)
        if (e->hash == h && e->keylen == keylen && memcmp(e->key, key, keylen) == 0)
            return e;
    return NULL;
}

static market_ver_t *market_slot(cache_t *c, int64_t market, int create)
{
    for (size_t i = 0; i < c->nmarkets; i++)
        if (c->markets[i].market == market)
            return &c->markets[i];
    if (!create || c->nmarkets == MAX_MARKETS)
        return NULL;
    if (c->nmarkets == c->capmarkets) {
        size_t ncap = c->capmarkets ? c->capmarkets * 2 : 8;
        market_ver_t *nm = realloc(c->markets, ncap * sizeof(*nm));
        if (nm == NULL)
            return NULL;
        c->markets = nm;
        c->capmarkets = ncap;
    }
    c->markets[c->nmarkets] = (market_ver_t){market, 0, 0};
    return &c->markets[c->nmarkets++];
}

void cache_set_stock_stale_ms(cache_t *c, uint64_t ms)
{
    c->stock_stale_ms = ms;
}

static void raise_version(cache_t *c, int64_t market, uint64_t version, int hard)
{
    market_ver_t *m = market_slot(c, market, 1);
    if (m == NULL)
        return;
    if (version > m->version)
        m->version = version;
    if (hard && version > m->hard)
        m->hard = version;
}

void cache_set_version(cache_t *c, int64_t market, uint64_t version)
{
    raise_version(c, market, version, 1);
}

void cache_set_stock_version(cache_t *c, int64_t market, uint64_t version)
{
    raise_version(c, market, version, c->stock_stale_ms == 0);
}

/* Whether an answer of `market` at `version`, born at born_ms, may be served at now_ms: 0 no,
 * 1 yes (the newest), 2 yes but only stock bumps came after it (within the bound). */
static int servable(cache_t *c, int64_t market, uint64_t version, uint64_t born_ms, uint64_t now_ms)
{
    uint64_t age = now_ms > born_ms ? now_ms - born_ms : 0;
    if (age > CACHE_MAX_AGE_S * 1000u)
        return 0;
    market_ver_t *m = market_slot(c, market, 0);
    if (m == NULL || version >= m->version)
        return 1;
    return version >= m->hard && age < c->stock_stale_ms ? 2 : 0;
}

int cache_get(cache_t *c, const char *key, size_t keylen, uint64_t now_ms, cache_hit_t *hit)
{
    entry_t *e = find(c, key, keylen, hash_key(key, keylen));
    if (e == NULL)
        return 0;
    int ok = servable(c, e->market, e->version, e->born_ms, now_ms);
    if (ok == 0) {
        entry_remove(c, e);
        return 0;
    }
    lru_unlink(c, e);
    lru_push_front(c, e);
    *hit = (cache_hit_t){e->body, e->len, e->etag, e->market, e->version, e->product, ok == 2};
    return 1;
}

void cache_put(cache_t *c, const char *key, size_t keylen, const char *body, size_t len, const char *etag,
               int64_t market, uint64_t version, uint64_t born_ms)
{
    cache_put_product(c, key, keylen, body, len, etag, market, version, born_ms, 0);
}

void cache_put_product(cache_t *c, const char *key, size_t keylen, const char *body, size_t len, const char *etag,
                       int64_t market, uint64_t version, uint64_t born_ms, int64_t product)
{
    /* judged as if just born: whether it is still young enough is checked when it is read */
    if (len > CACHE_MAX_ENTRY || !servable(c, market, version, born_ms, born_ms))
        return;
    uint64_t h = hash_key(key, keylen);
    entry_t *old = find(c, key, keylen, h);
    if (old != NULL && (old->version > version || (old->version == version && old->born_ms > born_ms)))
        return; /* a newer answer came back first: keep it */
    raise_version(c, market, version, 0);
    if (old != NULL)
        entry_remove(c, old);
    entry_t *e = calloc(1, sizeof(*e));
    if (e == NULL)
        return;
    e->key = malloc(keylen);
    e->body = malloc(len > 0 ? len : 1);
    e->etag = etag != NULL ? strdup(etag) : NULL;
    if (e->key == NULL || e->body == NULL || (etag != NULL && e->etag == NULL)) {
        free(e->key);
        free(e->body);
        free(e->etag);
        free(e);
        return;
    }
    memcpy(e->key, key, keylen);
    memcpy(e->body, body, len);
    *e = (entry_t){.hash = h,
                   .key = e->key,
                   .keylen = keylen,
                   .body = e->body,
                   .len = len,
                   .etag = e->etag,
                   .market = market,
                   .version = version,
                   .born_ms = born_ms,
                   .product = product};
    while (c->tail != NULL && (c->n >= CACHE_MAX_ENTRIES || c->bytes + entry_bytes(e) > CACHE_MAX_BYTES))
        entry_remove(c, c->tail);
    e->hnext = c->buckets[h & (NBUCKETS - 1)];
    c->buckets[h & (NBUCKETS - 1)] = e;
    lru_push_front(c, e);
    c->n++;
    c->bytes += entry_bytes(e);
}

void cache_clear(cache_t *c)
{
    while (c->head != NULL)
        entry_remove(c, c->head);
}

void cache_free(cache_t *c)
{
    if (c == NULL)
        return;
    cache_clear(c);
    free(c->markets);
    free(c);
}

size_t cache_entries(const cache_t *c)
{
    return c->n;
}

size_t cache_bytes(const cache_t *c)
{
    return c->bytes;
}

int cache_etag_matches(const char *v, size_t len, const char *etag)
{
    size_t elen = etag != NULL ? strlen(etag) : 0;
    size_t i = 0;
    if (elen == 0)
        return 0;
    while (i < len) {
        while (i < len && (v[i] == ' ' || v[i] == '\t' || v[i] == ','))
            i++;
        size_t start = i;
        while (i < len && v[i] != ',')
            i++;
        size_t end = i;
        while (end > start && (v[end - 1] == ' ' || v[end - 1] == '\t'))
            end--;
        if (end - start == 1 && v[start] == '*')
            return 1;
        if (end - start >= 2 && v[start] == 'W' && v[start + 1] == '/')
            start += 2; /* weak comparison, as RFC 9110 prescribes for If-None-Match */
        if (end - start == elen && memcmp(v + start, etag, elen) == 0)
            return 1;
    }
    return 0;
}
