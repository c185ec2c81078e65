/*
 * A background poller for metrics that cost a round trip (queue lag from Redis, the
 * outbox backlog from MariaDB): one thread with its own connections renders them every
 * interval into Prometheus text, and /metrics (on a loop thread, which must not block)
 * copies the latest text. A render that fails leaves the previous text in place, marked
 * with its age by stallfront_statpoll_age_seconds.
 */
#ifndef SF_STATPOLL_H
#define SF_STATPOLL_H

#include <stddef.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "models/store/redis.h"

/* Renders Prometheus text (malloc'd, *len set), or NULL when it cannot right now. */
typedef char *(*statpoll_fn)(db_t *db, redis_t *r, size_t *len);

typedef struct statpoll statpoll_t;

statpoll_t *statpoll_start(const config_t *cfg, statpoll_fn fn, int interval_ms);

/* A copy of the latest text with the age line appended (malloc'd), or NULL if none yet. */
char *statpoll_copy(statpoll_t *p, size_t *len);

void statpoll_stop(statpoll_t *p);

#endif
