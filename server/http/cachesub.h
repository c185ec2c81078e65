/*
 * The catalogue-version subscriber: one thread per `serve` process holding a Redis
 * SUBSCRIBE on CACHEVER_CHANNEL (models/cachever.h). Each "<market>:<version>" message is
 * handed to on_version; after every (re)connection it calls on_version(ctx, 0, 0) first,
 * meaning "invalidations may have been missed: forget everything". It reconnects with a
 * back-off while Redis is away. Knows nothing of HTTP: the callback (called on the
 * subscriber's thread) must be thread-safe.
 */
#ifndef SF_CACHESUB_H
#define SF_CACHESUB_H

#include <stdint.h>
#include "models/base/config.h"

typedef struct cachesub cachesub_t;

typedef void (*cachesub_cb)(void *ctx, int64_t market, uint64_t version);

/* Starts the thread; NULL if it cannot. */
cachesub_t *cachesub_start(const config_t *cfg, cachesub_cb on_version, void *ctx);

/* Stops and joins the thread, then frees it. */
void cachesub_stop(cachesub_t *s);

#endif
