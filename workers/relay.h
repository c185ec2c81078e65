/*
 * The outbox relay (DESIGN.md "Queues"): publishes unpublished outbox rows in id order to
 * `stream:<topic>` (fields event_id, market_id, payload) and marks them published. A crash
 * between XADD and the UPDATE publishes the rows again after the restart (consumers are
 * idempotent by event_id); with Redis down the rows wait in MariaDB. Runs on one `work`
 * thread with its own connections.
 *
 * One relay publishes at a time: the lock is MariaDB's GET_LOCK("stallfront.relay.<db>")
 * on the relay's own connection (models/outbox.c). It lives exactly as long as the session
 * that reads the outbox: a relay that dies or loses its connection drops it with no lease
 * to wait out and no clock to trust, and it is scoped to the database whose outbox it
 * guards (test databases on one server do not block each other). A relay that lost its
 * connection mid-batch may publish rows a second time; that is a duplicate, never a loss.
 */
#ifndef SF_RELAY_H
#define SF_RELAY_H

#include <stddef.h>
#include "models/store/db.h"
#include "workers/queue.h"
#include "models/store/redis.h"

#define RELAY_IDLE_MS    200  /* poll interval while the outbox is empty (MariaDB has no LISTEN) */
#define RELAY_STANDBY_MS 1000 /* how often a relay without the lock tries again */

/* Publishes one batch (up to OUTBOX_BATCH_MAX rows) without taking the lock (the caller
 * holds it, or a test): their XADDs in one pipeline, then one UPDATE marking each row whose
 * XADD succeeded. *published gets how many were published and marked. 0; -1 when Redis
 * failed for some or all rows (those it took are marked); -2 when MariaDB failed. */
int relay_publish_batch(db_t *db, redis_t *r, size_t *published);

/* queue_loop step (arg unused): takes or confirms the lock, publishes a batch; at once again
 * after a full batch, RELAY_IDLE_MS after a short one. */
int relay_step(queue_env_t *env, void *arg);

#endif
