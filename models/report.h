/*
 * Statistics for people, from the same `sale_lines` as the platforms' (models/stats.h): the
 * public sales ranking of a market's stalls, a vendor's own sales, and the market centre's
 * view of its online sales. Days are "YYYY-MM-DD" in +08:00, ranges from..to inclusive and
 * already checked by the caller (real dates, from <= to, not longer than stats.max_days).
 *
 * Worker threads (or tests) with their own db_t; read-only; *out / *items belong to the
 * caller. Outcomes: SF_OK, or a database failure (SF_E_INTERNAL, SF_E_DB_GONE).
 */
#ifndef SF_REPORT_H
#define SF_REPORT_H

#include <jansson.h>
#include <stdint.h>
#include "models/base/status.h"
#include "models/store/db.h"

#define REPORT_RANKING_MAX 100 /* stalls in a ranking: the best ones */

/* The stalls ranked by their sales of the `days` days ending `to` (1: that day only):
 * [{stall_id, stall_no, vendor_name, orders, sales_fen, qty_g, qty_pieces, rank}], by
 * sales_fen (net of refunds) or, by_volume, by orders, descending, then stall_id; equal
 * figures share a rank (1, 2, 2, 4). orders: distinct order_no with a non-void line of the
 * stall; stalls without one are not listed. One statement. */
sf_status_t report_rankings(db_t *db, int64_t market_id, const char *to, int days, int by_volume, json_t **items);

/* A vendor's own sales from..to: {from, to, orders, sales_fen, refunds_fen, net_sales_fen,
 * items_qty_g, items_qty_pieces, by_product: [...], by_day: [{date, orders, sales_fen,
 * refunds_fen}] (every day of the range)}. One statement. */
sf_status_t report_vendor_stats(db_t *db, int64_t market_id, int64_t vendor_id, const char *from, const char *to,
                                json_t **out);

/* The market centre's view from..to: {from, to, kpis (online-sales total), days (online-sales
 * days), categories: [{category, name, sales_fen, share}], delivery_minutes: [{from_min,
 * to_min, orders}], stalls: [{stall_id, stall_no, zone, map: {x, y}, vendor: {id, name} |
 * null, orders, lines, sales_fen, refunds_fen, net_sales_fen}] (every stall of the market,
 * those without a line too, by sales_fen descending, then stall_no), price_alerts: the
 * guide-price anomalies of `to` (guide_alerts with band_pct)}. Statements: those of
 * stats_online_sales, one for the categories, the histogram and the stalls together, and
 * guide_alerts's. */
sf_status_t report_admin_stats(db_t *db, int64_t market_id, const char *from, const char *to, int band_pct,
                               json_t **out);

#endif
