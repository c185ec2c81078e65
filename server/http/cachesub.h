/*
 * The pub/sub subscriber: one thread per `serve` process holding one Redis connection
 * SUBSCRIBEd to a fixed set of channels (the catalogue versions of models/cachever.h, the
 * live updates of models/events.h). Each message is handed to its channel's on_message;
 * after every (re)connection each channel's on_connect runs first, meaning "messages may
 * have been missed while away". It reconnects with a back-off while Redis is away. Knows
 * nothing of HTTP: the callbacks (called on the subscriber's thread) must be thread-safe.
 */
#ifndef SF_CACHESUB_H
#define SF_CACHESUB_H

#include <stddef.h>
#include "models/base/config.h"

#define CACHESUB_MAX_CHANNELS 4

typedef struct cachesub cachesub_t;

typedef struct cachesub_channel {
    const char *name;                                           /* a string literal */
    void (*on_message)(void *ctx, const char *msg, size_t len); /* msg is NUL-terminated, borrowed */
    void (*on_connect)(void *ctx);                              /* may be NULL */
} cachesub_channel_t;

/* Starts the thread for n (<= CACHESUB_MAX_CHANNELS) channels, copied; NULL if it cannot. */
cachesub_t *cachesub_start(const config_t *cfg, const cachesub_channel_t *channels, size_t n, void *ctx);

/* Stops and joins the thread, then frees it. */
void cachesub_stop(cachesub_t *s);

#endif
