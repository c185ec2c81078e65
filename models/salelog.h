/*
 * The sales change log (sql/0007_sales.sql): every paid order line is a sale line, and every
 * change to it is a new version of its event_id, written in the transaction of the change.
 * The statistics read the latest versions (`sale_lines`); the supervision platforms page
 * through every version (`sale_line_versions`) by a position that the sequencer gives once
 * a version is committed, never by a clock time.
 *
 * The *_tx functions run inside the caller's transaction (db_tx or a queue consumer's), after
 * the change itself; each is two statements however many lines it touches: the UPDATE (or
 * INSERT ... SELECT) of `sale_lines`, and the INSERT ... SELECT of the new versions.
 *
 * Where they are called (one place each):
 *   salelog_paid_tx       payment.c order_paid(): the order became paid
 *   salelog_vendor_tx     order.c vendor_order_transition_tx(): a paid vendor order moved to
 *                         picked (qty_actual, refunded_fen of a lighter line; a line
 *                         picked to 0 becomes void), ready
 *                         (ready_at), rejected or cancelled (op void, refunded_fen = amount)
 *   salelog_delivered_tx  order.c order_transition_tx(): the order was delivered
 *                         (delivered_at on its non-void lines)
 */
#ifndef SF_SALELOG_H
#define SF_SALELOG_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/status.h"
#include "models/store/db.h"

#define SALELOG_REF_LEN   32   /* hex characters of a consumer_ref */
#define SALELOG_FEED_MAX  1000 /* the most versions on one feed page */
#define SALELOG_SEQ_BATCH 5000 /* the most versions one sequencer run positions */

/* The consumer's stable pseudonym in a market: the first 16 bytes, in hex, of
 * HMAC-SHA256(server_keys 'consumer_ref', "<market_id>:<consumer_id>"). The key is read
 * from the database once per process. 0, or -1 (database failure). */
int salelog_consumer_ref(db_t *db, int64_t market_id, int64_t consumer_id, char out[SALELOG_REF_LEN + 1]);

/* The order just became paid: one sale line (version 1, op upsert) per order line. */
sf_status_t salelog_paid_tx(db_t *db, int64_t order_id, int64_t market_id, int64_t consumer_id);

/* A paid vendor order moved to `to` ("picked", "ready", "rejected", "cancelled"; any other
 * status writes nothing): the next version of each of its lines. */
sf_status_t salelog_vendor_tx(db_t *db, int64_t vendor_order_id, const char *to);

/* The order was delivered: the next version of each of its non-void lines, with delivered_at. */
sf_status_t salelog_delivered_tx(db_t *db, int64_t order_id);

/* The sequencer: gives positions, in id order, to up to SALELOG_SEQ_BATCH committed versions
 * that have none, in one transaction under the lock of sale_log_head (when another run holds
 * it, this one does nothing: *n 0, SF_OK, without waiting). *n (may be NULL): how
 * many. Run by the `salelog` job of `work` and before every feed page. */
sf_status_t salelog_sequence(db_t *db, size_t *n);

/* One feed page: the versions of the market with a position above `after_pos`, in position
 * order, at most `limit` (1..SALELOG_FEED_MAX), as the feed's items (API.md "Supervision
 * platforms": event_id, version, op, order_no, line_id, stall_no, vendor_id, commodity_code,
 * name, origin, trace_code, pricing, qty, qty_actual, amount_fen, refunded_fen, channel,
 * consumer_ref, paid_at, ready_at, delivered_at). *last_pos: the position of the last item
 * (after_pos when there is none); *more: 1 when the page was full. */
sf_status_t salelog_feed(db_t *db, int64_t market_id, int64_t after_pos, size_t limit, json_t **items,
                         int64_t *last_pos, int *more);

#endif
