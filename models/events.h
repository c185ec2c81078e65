/*
 * Live updates (DESIGN.md "Live updates"): every event for a party (a vendor, a courier, a
 * consumer) is appended to that party's capped Redis stream `events:<party>` (XADD MAXLEN ~
 * cfg->events_keep) and announced on the pub/sub channel EVENTS_CHANNEL in the same Redis
 * call (a script: both or neither), so `GET /v1/events` can replay from Last-Event-ID (the
 * stream entry id) and push what comes next without polling.
 *
 * A party is "<role>:<id>": "vendor:<vendors.id>", "courier:<couriers.id>",
 * "consumer:<users.id>". An event has a type (e.g. "vendor_order.new") and a JSON object.
 *
 * Emitting happens after the change committed, on the thread that committed it (a handler or
 * a worker), on that thread's own connections. A failure to emit is logged and never undoes
 * the change: the party's lists (GET /v1/vendor/orders, /v1/courier/offers, /v1/orders) stay
 * the truth; the stream is the fast path.
 */
#ifndef SF_EVENTS_H
#define SF_EVENTS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"
#include "models/store/redis.h"

#define EVENTS_CHANNEL   "sf:events" /* message: "<party>\n<id>\n<type>\n<json>" */
#define EVENTS_PARTY_MAX 48          /* bytes of "<role>:<id>", with its NUL */
#define EVENTS_ID_MAX    48          /* bytes of a stream entry id, with its NUL */
#define EVENTS_TYPE_MAX  48          /* bytes of an event type, with its NUL */

/* "<role>:<id>" into buf. 0, or -1 when it does not fit. */
int events_party(char *buf, size_t len, const char *role, int64_t id);

/* Emits one event: XADD events:<party> MAXLEN ~ keep * type <type> data <json>, then PUBLISH
 * on EVENTS_CHANNEL, in one round trip. id (may be NULL) gets the entry id. 0 or -1 (r->err). */
int events_emit(redis_t *r, int keep, const char *party, const char *type, const json_t *data, char *id, size_t idlen);

/* One event of a batch: to party, of type, with data (borrowed). */
typedef struct events_out {
    char party[EVENTS_PARTY_MAX];
    const char *type;
    const json_t *data;
} events_out_t;

/* Emits n events, pipelined: a few round trips however many (events_emit's script each).
 * 0 or -1 (r->err; the ones before the failure may have gone out). */
int events_emit_all(redis_t *r, int keep, const events_out_t *ev, size_t n);

/* After any change of an order (payment, a vendor order's move, the delivery's move): reads
 * the order's parties with one query and emits, in one pipelined round trip,
 *   to each vendor of its vendor orders, once the order was paid (the vendors of an order
 *     never paid never saw it): "vendor_order.new" (status new) or
 *     "vendor_order.changed", data {order_id, order_no, vendor_order_id, status, order_status};
 *   to the consumer: "order.changed", data {order_id, order_no, status, delivery_status, vendor_orders:
 *     [{id, status}]};
 *   to the delivery's courier, if one holds it: "delivery.changed", data {delivery_id,
 *     order_id, order_no, status, vendor_orders: [{id, status}]} (so a stall's move reaches it too).
 * 0 or -1 (logged by the caller). */
int events_order_changed(db_t *db, redis_t *r, int keep, int64_t order_id);

/* Reads a party's events after `after` (an entry id, exclusive; NULL or "": none, from the
 * oldest kept when from_start, else nothing), at most max, into *out: a JSON array of
 * {id, type, data (object)} in order. 0 or -1. */
int events_read(redis_t *r, const char *party, const char *after, int from_start, size_t max, json_t **out);

/* The newest entry id of a party's stream into id ("" when it holds none): where a stream
 * opened without Last-Event-ID stands, to catch up from later. 0 or -1. */
int events_newest(redis_t *r, const char *party, char *id, size_t idlen);

#endif
