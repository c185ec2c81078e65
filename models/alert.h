/*
 * Fulfilment alerts: what the dispatcher and the watchdog tell the market centre (a vendor
 * order nobody accepted, an offer nobody answered, no courier to be found, a delivery stuck
 * before pickup or in transit, a delivery locked by wrong codes). One row per (kind,
 * subject): a condition seen again is not flagged again. Scoped by market_id.
 *
 * Worker threads (or tests) with their own db_t. Every function returns an outcome of
 * models/base/status.h.
 */
#ifndef SF_ALERT_H
#define SF_ALERT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

#define ALERT_LIST_MAX     100
#define ALERT_LIST_DEFAULT 20
#define ALERT_CURSOR_KIND  'f'

/* The kinds there are (`kind` below is one of these). */
#define ALERT_UNACCEPTED    "vendor_order_unaccepted"    /* subject: the vendor order */
#define ALERT_AUTO_REJECTED "vendor_order_auto_rejected" /* subject: the vendor order */
#define ALERT_OFFER_EXPIRED "offer_expired"              /* subject: the delivery (its first expiry) */
#define ALERT_NO_COURIER    "no_courier"                 /* subject: the delivery */
#define ALERT_PICKUP_LATE   "pickup_overdue"             /* subject: the delivery */
#define ALERT_TRANSIT_LATE  "transit_overdue"            /* subject: the delivery */
#define ALERT_LOCKED        "delivery_locked"            /* subject: the delivery */

/* Raises an alert once (INSERT IGNORE on (kind, subject_id)), in the caller's transaction or
 * on its own. *raised (may be NULL) is 1 when it is new. note may be NULL. DB_OK or a db status. */
sf_status_t alert_raise(db_t *db, int64_t market_id, const char *kind, int64_t subject_id, int64_t order_id,
                        const char *note, int *raised);

/* The kinds above, and the states an alert is in ("open", "resolved"), NULL-ended (for the
 * validation kit's enumerations). */
const char *const *alert_kind_names(void);
const char *const *alert_state_names(void);

#define ALERT_RESOLUTION_MAX 200 /* code points of what the operator did */

/* A page of the market's alerts, newest first: {id, kind, subject_id, order_id, note,
 * created_at, resolved_at, resolution}. kind, state NULL: any. after_id 0: from the newest;
 * next gets the next page's cursor (kind ALERT_CURSOR_KIND) or "" at the end. DB_OK or a db
 * status; *items is the caller's. */
sf_status_t alert_list(db_t *db, int64_t market_id, const char *kind, const char *state, int64_t after_id, size_t limit,
                       json_t **items, char *next, size_t len);

/* The operator marks an alert of the market dealt with (one conditional UPDATE): *out the
 * alert as stored. DB_OK; SF_E_NOT_FOUND (none of this market's); SF_E_ALREADY_RESOLVED; or a
 * db status. resolution 1..ALERT_RESOLUTION_MAX code points (checked by the caller). */
sf_status_t alert_resolve(db_t *db, int64_t market_id, int64_t alert_id, int64_t user_id, const char *resolution,
                          json_t **out);

/* How many alerts of each kind there are, over every market, and how many are still open:
 * *out {"<kind>": {"total": n, "open": m}, ...} (for /metrics). DB_OK or a db status. */
sf_status_t alert_counts(db_t *db, json_t **out);

#endif
