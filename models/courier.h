/*
 * Couriers of a market: the courier record (name, phone, status) and its sign-in account.
 * This file creates and lists them (the operator's /v1/admin/couriers); shifts, positions
 * and deliveries belong to the courier and delivery models. Scoped by market_id.
 *
 * Worker threads (or tests) with their own db_t; input already validated by the caller.
 * Rendered JSON (*out) is the caller's to decref. No HTTP here.
 */
#ifndef SF_COURIER_H
#define SF_COURIER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"
#include "models/store/redis.h"

/* Outcomes (models/base/status.h): SF_OK; SF_E_USERNAME_TAKEN (field username);
 * SF_E_DB_GONE or SF_E_DEADLOCK (nothing written, try again); SF_E_INTERNAL. */

typedef struct courier_new {
    const char *name;     /* 1-64 characters */
    const char *phone;    /* ^[0-9+-]{5,20}$ */
    const char *username; /* 3-64 of [A-Za-z0-9_.-] */
    const char *password; /* 8-128 */
} courier_new_t;

/* Creates the courier and its user (role courier) in one transaction; nothing is written on
 * failure. *out: {id, market_id, name, phone, status, user_id, username}. d may be NULL. */
sf_status_t courier_create(db_t *db, int64_t market_id, const courier_new_t *c, json_t **out, status_detail_t *d);

/* A page of the market's couriers by id, each {id, name, phone, status}: those after
 * after_id (0: from the first), at most limit (1-100). *items is the caller's; *next_after
 * is the last id shown when more follow, else 0. */
sf_status_t courier_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items,
                         int64_t *next_after);

/* ---- shifts, positions, candidates (issue 9) ----
 *
 * Positions live in Redis, per market: the GEO set COURIER_GEO_KEY and the heartbeat sorted
 * set COURIER_HB_KEY (score: the wall-clock ms of the last location). The row's on_shift says
 * whether the courier works now; off shift the courier is taken out of both sets, so is never
 * offered work, and on shift the courier is offered work only once a location arrived. */

#define COURIER_GEO_KEY        "sf:couriers:geo:%lld" /* the market's id */
#define COURIER_HB_KEY         "sf:couriers:hb:%lld"
#define COURIER_CANDIDATES_MAX 32  /* couriers considered for one offer */
#define COURIER_BAND_M         200 /* distances in the same band count as equal: then load, then fairness */
#define COURIER_HELD_MAX       20  /* deliveries a courier may hold at once, for the position events */
#define COURIER_REDRIVE_TOPIC  "delivery.redrive" /* outbox: the dispatcher asks the next courier now */

/* One courier who may be offered a delivery. */
typedef struct courier_candidate {
    int64_t id;
    int64_t distance_m; /* from the market */
    int64_t load;       /* deliveries assigned or picked up */
    int64_t idle_key;   /* unix ms of the last offer made to the courier; 0: never */
} courier_candidate_t;

/* A delivery a courier holds (assigned or picked up), for the position events. */
typedef struct courier_held {
    int64_t delivery_id, order_id, consumer_id;
} courier_held_t;

/* Shift on or off: couriers.on_shift (and shift_changed_at), in one transaction with, going
 * off, the courier's open offers withdrawn and each of those deliveries handed back to the
 * dispatcher at once (an outbox row, as a refusal); then off also removes the courier's
 * position and heartbeat from Redis. *out {id, on_shift, offers_withdrawn} and the shift as
 * courier_shift_get renders it (on, since; going on, the position if one is known: one more
 * Redis script). SF_OK;
 * SF_E_NOT_FOUND (no such active courier in the market); a db status; SF_E_UNAVAILABLE when
 * Redis failed after the row changed (the next shift call fixes it; the row already keeps the
 * courier from being offered work). */
sf_status_t courier_set_shift(db_t *db, redis_t *r, int64_t market_id, int64_t courier_id, int on, json_t **out);

/* The courier's shift now, for a page that reloads: {id, on, on_shift (= on), since (when
 * the shift last changed, absent if never), and when on and a position is known lat, lng and
 * location_at (the time of the last location)}. One statement (couriers), then, only on
 * shift, one Redis script (GEOPOS and ZSCORE). SF_OK, SF_E_NOT_FOUND (no such active
 * courier in the market), a db status, SF_E_UNAVAILABLE (Redis). */
sf_status_t courier_shift_get(db_t *db, redis_t *r, int64_t market_id, int64_t courier_id, json_t **out);

/* A location, also the heartbeat: refused (SF_E_OFF_SHIFT) off shift, else GEOADD plus ZADD
 * in one script. held[] (at most COURIER_HELD_MAX) gets the deliveries the courier holds, for
 * the caller's events. SF_OK, SF_E_NOT_FOUND, SF_E_OFF_SHIFT, a db status, SF_E_UNAVAILABLE. */
sf_status_t courier_locate(db_t *db, redis_t *r, int64_t market_id, int64_t courier_id, double lat, double lng,
                           courier_held_t *held, size_t *nheld);

/* Who may be offered delivery_id now, best first: within cfg->dispatch_radius_m of the
 * market, heard from within cfg->courier_heartbeat_s (one Redis script), then on shift,
 * active and (with exclude_offered) never offered this delivery (one query), ordered by
 * distance band (COURIER_BAND_M), then load, then who waited longest. At most max (<=
 * COURIER_CANDIDATES_MAX). SF_OK (maybe *n 0), a db status, SF_E_UNAVAILABLE (Redis). */
sf_status_t courier_candidates(db_t *db, redis_t *r, int64_t market_id, int64_t delivery_id, int exclude_offered,
                               courier_candidate_t *out, size_t max, size_t *n);

/* The courier's last position: 1 with *lat, *lng; 0 unknown; -1 Redis failed. */
int courier_position(redis_t *r, int64_t market_id, int64_t courier_id, double *lat, double *lng);

/* Fills delivery.courier.lat/lng of an order (object) or of each order of an array (a
 * page: at most 100) from Redis, for deliveries assigned or picked up: one pipelined round
 * trip for the whole page. A Redis failure leaves them null. */
void courier_fill_positions(redis_t *r, json_t *orders);

#endif
