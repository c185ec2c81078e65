/*
 * Statistics from the sales change log (models/salelog.h): the platforms' feed reads
 * (summary, online-sales KPIs, reconcile) and the people's (rankings, a
 * vendor's own stats, the market centre's). Every figure is computed from the latest
 * versions in `sale_lines` (plus `complaints` for complaint_count), through models/kpi.h
 * for the KPIs, so that it equals what a platform recomputes from the feed.
 *
 * Days are "YYYY-MM-DD" in +08:00; a range is from..to inclusive, at most cfg stats.max_days
 * (the handler checks). Markets are known to exist (the handler or the signature checked).
 */
#ifndef SF_STATS_H
#define SF_STATS_H

#include <jansson.h>
#include <stdint.h>
#include "models/base/status.h"
#include "models/kpi.h"
#include "models/store/db.h"

/* The latest versions of the market's sale lines paid from..to, as records. *recs malloc'd. */
sf_status_t stats_sale_recs(db_t *db, int64_t market_id, const char *from, const char *to, sale_rec_t **recs,
                            size_t *n);

/* The feed's cursor kind (models/base/cursor.h): key 0, id = the position of the last item. */
#define STATS_FEED_KIND 'x'

/* GET .../transactions: positions what was committed (salelog_sequence), then reads the page
 * of versions above after_pos (0: from the start), at most limit (1..SALELOG_FEED_MAX)
 * (salelog_feed). *out: {items, next_cursor (null unless the page was full), resume_cursor
 * (always a string: the position after the last item; when there is none, after_pos's cursor,
 * "" for 0, the beginning of the log, as an empty ?cursor= reads)}. */
sf_status_t stats_feed_page(db_t *db, int64_t market_id, int64_t after_pos, size_t limit, json_t **out);

/* GET .../online-sales: {from, to, days: [{date, <kpis>}...] (every day of the range),
 * total: {<kpis>}}. */
sf_status_t stats_online_sales(db_t *db, int64_t market_id, const char *from, const char *to, json_t **out);

/* GET .../summary: {date, by, items: [{stall_id, stall_no | commodity_code, orders, lines,
 * qty_g, qty_pieces, sales_fen, refunds_fen}], total: {the same figures over the day}}. */
sf_status_t stats_summary(db_t *db, int64_t market_id, const char *date, int by_category, json_t **out);

/* GET .../reconcile: {date, count, sales_fen, checksum} (kpi_checksum). */
sf_status_t stats_reconcile(db_t *db, int64_t market_id, const char *date, json_t **out);

#endif
