/*
 * What the market centre publishes: the day's guide prices per commodity code (商品指导价),
 * notices (news, rules, penalties), and the price anomalies found against the guide prices.
 * Scoped by market_id.
 *
 * The anomaly rule lives here, once, in integer arithmetic: a weighed product's price per
 * gram, price_fen / per_g, is compared with the guide price's, guide_fen / guide_per_g, by
 * cross-multiplying (128-bit, so no stored value can overflow): above the band when
 * price_fen * guide_per_g * 100 > guide_fen * per_g * (100 + band), below it when
 * price_fen * guide_per_g * 100 < guide_fen * per_g * (100 - band). Exactly on the edge is
 * not an anomaly. Products priced by count have no price per gram and are never compared.
 *
 * Worker threads (or tests) with their own db_t; input already validated by the caller.
 * Rendered JSON (*out) is the caller's to decref. No HTTP here, no cache bump.
 */
#ifndef SF_GUIDE_H
#define SF_GUIDE_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

#define GUIDE_MAX_ITEMS  500 /* guide prices in one PUT */
#define GUIDE_MAX_ALERTS 500 /* anomalies in one answer: the worst ones */

/* Outcomes of the writes and reads below (models/base/status.h): SF_OK; SF_E_DB_GONE or
 * SF_E_DEADLOCK (nothing written, try again); SF_E_INTERNAL (the db_t says why). */

typedef struct guide_item {
    const char *commodity_code; /* NY/T 2137 code */
    const char *name;
    int64_t price_fen; /* > 0 */
    int64_t per_g;     /* > 0 */
} guide_item_t;

/* Where a price lies against a guide price: GUIDE_ABOVE or GUIDE_BELOW the band, or
 * GUIDE_WITHIN it (also for values that cannot be compared: a price or weight <= 0, a
 * weight above INT32_MAX). *deviation_bp (may be NULL) gets the signed deviation of the
 * price per gram from the guide's, in basis points of the guide price (1 bp = 0.01 %),
 * rounded half away from zero and saturated to the int64 range. */
typedef enum guide_dir { GUIDE_BELOW = -1, GUIDE_WITHIN = 0, GUIDE_ABOVE = 1 } guide_dir_t;
guide_dir_t guide_compare(int64_t price_fen, int64_t per_g, int64_t guide_fen, int64_t guide_per_g, int band_pct,
                          int64_t *deviation_bp);

/* price_fen per per_g grams as fen per 500 g, rounded half up, saturated at INT64_MAX; 0 if
 * per_g <= 0. */
int64_t guide_per_500g(int64_t price_fen, int64_t per_g);

/* Inserts or replaces the guide prices of `date` (YYYY-MM-DD) for the given commodity codes
 * (distinct), all in one transaction (db_tx). *out: {date, items: [{commodity_code, name,
 * price_fen, per_g}]}, the items as written. */
sf_status_t guide_put(db_t *db, int64_t market_id, const char *date, const guide_item_t *items, size_t n, json_t **out);

/* Publishes a notice now. *out: {id, market_id, title, body, published_at}. */
sf_status_t guide_notice_create(db_t *db, int64_t market_id, int64_t user_id, const char *title, const char *body,
                                json_t **out);

/* The market's on-sale weighed products priced outside band_pct around the guide price of
 * `date` for their commodity code, worst first (by the size of the deviation, then product
 * id), at most GUIDE_MAX_ALERTS. *out: {items: [...], next_cursor: null}. */
sf_status_t guide_alerts(db_t *db, int64_t market_id, const char *date, int band_pct, json_t **out);

#endif
