/*
 * Failure counters in Redis for throttling guesses (wrong passwords): one integer key per
 * thing counted (a username, a client address), living a fixed window from its first
 * failure. Worker threads only (they own the redis_t). Generic: the caller names the keys.
 */
#ifndef SF_THROTTLE_H
#define SF_THROTTLE_H

#include "models/store/redis.h"

/* 1 if key has counted max or more failures (*retry_after: seconds until the window ends,
 * at least 1), 0 if not, -1 if Redis failed. */
int throttle_over(redis_t *r, const char *key, int max, int *retry_after);

/* Counts one failure; a key's first failure starts its window of window_s seconds. 0 or -1. */
int throttle_fail(redis_t *r, const char *key, int window_s);

/* Forgets the key's failures. 0 or -1. */
int throttle_clear(redis_t *r, const char *key);

#endif
