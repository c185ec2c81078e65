/*
 * Queue statistics for /metrics, in Prometheus text format: for every Redis stream
 * `stream:<topic>` and each of its consumer groups, the lag (entries not yet delivered to
 * the group), the pending count (delivered, not acknowledged) and the dead letters
 * (XLEN dlq:<topic>:<group>). The outbox backlog is MariaDB's and is not here.
 * Called on a thread that owns r (the server's metrics poller); the text is the caller's.
 */
#ifndef SF_QSTATS_H
#define SF_QSTATS_H

#include <stddef.h>
#include "models/store/db.h"
#include "models/store/redis.h"

#define QSTATS_STREAMS_MAX 256       /* streams looked at; more are left out (and a comment says so) */
#define QSTATS_TEXT_MAX    (1 << 20) /* bytes of rendered text */

/* The metrics text (malloc'd, NUL-terminated, *len without the NUL), or NULL when Redis did
 * not answer (or out of memory). No streams: the HELP/TYPE lines only. */
char *qstats_render(redis_t *r, size_t *len);

/* The same plus the outbox backlog from MariaDB (stallfront_queue_outbox_unpublished and
 * stallfront_queue_outbox_oldest_seconds), for the server's metrics poller (statpoll_fn).
 * Without MariaDB the outbox lines are left out; without Redis, NULL. */
char *qstats_render_all(db_t *db, redis_t *r, size_t *len);

#endif
