/*
 * The transactional outbox (DESIGN.md "Queues"): a transaction that must cause later work
 * inserts an outbox row in the same transaction; the relay (workers/relay.c) publishes the
 * rows in id order to the Redis stream "stream:<topic>" and marks them published. A crash
 * or a Redis outage between COMMIT and publish loses nothing: the row waits. Consumers key
 * their idempotency on the row id (the message's event_id).
 */
#ifndef SF_OUTBOX_H
#define SF_OUTBOX_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

#define OUTBOX_TOPIC_MAX 64

/* Inserts a row (payload, a JSON object, is borrowed and serialised here). Must run inside
 * the caller's transaction. DB_OK with *id (may be NULL), or a db status. */
int outbox_add(db_t *db, int64_t market_id, const char *topic, const json_t *payload, int64_t *id);

/* ---- for the relay and the consumers (workers/relay.c, workers/queue.c) ---- */

#define OUTBOX_BATCH_MAX 100 /* rows the relay reads at a time */

/* Up to limit (<= OUTBOX_BATCH_MAX) unpublished rows in id order: columns id, market_id,
 * topic, payload. DB_OK with *rows (the caller's, db_rows_free), or a db status. */
int outbox_unpublished(db_t *db, size_t limit, db_rows_t **rows);

/* The backlog: how many rows wait for the relay, and the age of the oldest in ms (0 when
 * none). DB_OK or a db status. */
int outbox_backlog(db_t *db, int64_t *count, int64_t *oldest_age_ms);

/* Marks the rows published (published_at = NOW(3)) in one statement, UPDATE ... WHERE id IN
 * (the ids): never a range, since a row with an id inside the range may have committed after
 * the read and is not published yet. One statement is atomic on its own (no BEGIN/COMMIT).
 * At most OUTBOX_BATCH_MAX ids. DB_OK or a db status. */
int outbox_mark_published(db_t *db, const int64_t *ids, size_t n);

/* Takes (or confirms) the relay's named lock on this connection: GET_LOCK of
 * "stallfront.relay.<database>", so one relay publishes a database's outbox at a time. 1
 * held, 0 held by another session, or a db status (< 0). The lock goes with the session:
 * a relay that crashes or loses its connection releases it. */
int outbox_relay_lock(db_t *db);

/* Records that consumer handled event_id (the `processed` table), inside the caller's
 * transaction. DB_OK; DB_DUP when it was already recorded (the event is done); or a db status. */
int outbox_processed_add(db_t *db, const char *consumer, int64_t event_id);

/* Consumes event_id for consumer in one transaction (run once: a failed message is delivered
 * again, not run again at once): records it as processed, then runs effect(db, ctx), whose
 * SF_OK commits both. DB_DUP when the consumer already handled it (nothing run); effect's
 * own status, or a db status, after a rollback otherwise. */
sf_status_t outbox_consume(db_t *db, const char *consumer, int64_t event_id, db_tx_body_t effect, void *ctx);

/* ---- for housekeeping (workers/housekeeping.c) ---- */

#define OUTBOX_PURGE_MAX 10000 /* rows one purge statement may delete */

/* Deletes, in one statement, up to limit (<= OUTBOX_PURGE_MAX) outbox rows published more
 * than older_than_s seconds ago, oldest first. A row not yet published is never deleted,
 * however old. DB_OK with *deleted (may be NULL), or a db status. */
int outbox_purge_published(db_t *db, int64_t older_than_s, size_t limit, size_t *deleted);

/* Deletes, in one statement, up to limit (<= OUTBOX_PURGE_MAX) processed rows recorded more
 * than older_than_s seconds ago (an event that old is never delivered again). The table has
 * no index on processed_at: the statement scans the primary key until it has found limit
 * rows. DB_OK with *deleted (may be NULL), or a db status. */
int outbox_processed_purge(db_t *db, int64_t older_than_s, size_t limit, size_t *deleted);

#endif
