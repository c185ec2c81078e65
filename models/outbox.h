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
#include "db.h"

#define OUTBOX_TOPIC_MAX 64

/* Inserts a row (payload, a JSON object, is borrowed and serialised here). Must run inside
 * the caller's transaction. DB_OK with *id (may be NULL), or a db status. */
int outbox_add(db_t *db, int64_t market_id, const char *topic, const json_t *payload, int64_t *id);

#endif
