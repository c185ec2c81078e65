/*
 * Markets as the public sees them: the market profile with its latest notices, its stalls
 * with the public record of the vendor trading there (licences, staff health certificates,
 * credit), the category tree and the day's guide prices (the sales ranking is in
 * models/report.h). Read-only: the operator's writes to these tables live with the operator's
 * models.
 *
 * Worker threads (or tests) with their own db_t; no HTTP here. Every json_t ** result
 * belongs to the caller. Times come out as RFC 3339 in +08:00, dates as YYYY-MM-DD of the
 * +08:00 day (the database holds UTC).
 */
#ifndef SF_MARKET_H
#define SF_MARKET_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>
#include "models/store/db.h"

#define MARKET_NOTICES        10   /* notices on the market page */
#define MARKET_CATEGORIES_MAX 2000 /* categories read for a tree */
#define MARKET_GUIDE_MAX      1000 /* guide prices of one day */
#define MARKET_RECORD_MAX     100  /* licences, staff of one vendor */
#define MARKET_DATE_LEN       11   /* "YYYY-MM-DD" with its NUL */

/* A page of a market's stalls. NULL filters do not apply. */
typedef struct market_stall_query {
    int64_t market_id;
    const char *category; /* stalls with an on-sale product in this category or below it */
    const char *q;        /* a substring of the stall number or of the vendor's name */
    size_t limit;
    int64_t after_id; /* 0: from the start */
} market_stall_query_t;

/* The +08:00 date of a time (0: now) as YYYY-MM-DD. */
void market_date(time_t t, char out[MARKET_DATE_LEN]);

/* A page of markets by id. next_cursor gets the next page's cursor or "". DB_OK or a db error. */
int market_list(db_t *db, size_t limit, int64_t after_id, json_t **items, char *next_cursor, size_t len);

/* DB_OK if the market exists, DB_NOROW if not, or a db error. */
int market_exists(db_t *db, int64_t id);

/* The market profile with stall_count and its latest notices. DB_OK, DB_NOROW or a db error. */
int market_get(db_t *db, int64_t id, json_t **out);

/* A page of stalls. DB_OK or a db error. */
int market_stalls(db_t *db, const market_stall_query_t *q, json_t **items, char *next_cursor, size_t len);

/* The market of a stall, for the cache version read before the full query. */
int market_stall_market(db_t *db, int64_t stall_id, int64_t *market_id);

/* A stall with its vendor's public record (vendor null when nobody trades there); staff
 * certificates are `valid` through their valid_until date of `today`. DB_OK, DB_NOROW, or
 * a db error. */
int market_stall_get(db_t *db, int64_t stall_id, const char *today, json_t **out);

/* The category tree of a market (a JSON array of roots). DB_OK or a db error. */
int market_categories(db_t *db, int64_t market_id, json_t **tree);

/* The guide prices of a market for a date, by commodity code. DB_OK or a db error. */
int market_guide_prices(db_t *db, int64_t market_id, const char *date, json_t **items);

/* The guide price of one commodity code on a date. DB_OK, DB_NOROW or a db error. */
int market_guide_price(db_t *db, int64_t market_id, const char *commodity_code, const char *date, json_t **out);

#endif
