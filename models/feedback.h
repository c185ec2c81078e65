/*
 * Ratings and complaints (API.md "Orders", "Operator"): once an order is delivered its
 * consumer rates the stalls that served it (1 to 5, with an optional text) and the courier
 * who carried it, once per order; a stall's average and count live on the stall row
 * (stalls.rating_sum / rating_count) so the public catalogue shows them without a join, and
 * its ratings are listed publicly without the consumer. A consumer complains about a stall
 * (optionally about one of their orders) to the market centre, which resolves it with a note.
 *
 * Tables: order_ratings, stall_ratings, complaints (sql/0006_fulfilment.sql), and the two
 * rating columns of stalls. Worker threads (or tests) with their own db_t; no HTTP here. The
 * handler reads and checks the request's shape (types, ranges, lengths, duplicates); this
 * model checks everything that needs the database. Every function returns an outcome of
 * models/base/status.h; every json_t ** result belongs to the caller. Deliberately not here:
 * the catalogue version bump after a rating (the caller, after the commit: models/cachever.h).
 */
#ifndef SF_FEEDBACK_H
#define SF_FEEDBACK_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

#define FEEDBACK_SCORE_MIN      1
#define FEEDBACK_SCORE_MAX      5
#define FEEDBACK_RATING_TEXT    500  /* code points of a stall rating's text (stall_ratings.text) */
#define FEEDBACK_COMPLAINT_TEXT 1000 /* code points of a complaint (complaints.text) */
#define FEEDBACK_NOTE_TEXT      1000 /* code points of a resolution note (complaints.resolution) */
#define FEEDBACK_STALLS_MAX     100  /* stalls of one rating: an order has at most one per cart line */
#define FEEDBACK_LIST_DEFAULT   20
#define FEEDBACK_LIST_MAX       100
#define FEEDBACK_CURSOR_MAX     64 /* an encoded cursor with its NUL (models/base/cursor.h) */

/* The cursor kinds of the three lists (models/base/cursor.h): one list refuses another's. */
#define FEEDBACK_KIND_RATINGS 'r' /* a stall's ratings: key = created_at in ms, id = order id */
#define FEEDBACK_KIND_MINE    'j' /* a consumer's complaints, by id */
#define FEEDBACK_KIND_ADMIN   'a' /* a market's complaints, by id */
#define FEEDBACK_KIND_VENDOR  'q' /* a vendor's complaints, by id */

/* One stall's part of a rating. */
typedef struct feedback_stall_score {
    int64_t stall_id;
    int score;        /* FEEDBACK_SCORE_MIN..MAX */
    const char *text; /* NULL: none; at most FEEDBACK_RATING_TEXT code points (checked by the caller) */
} feedback_stall_score_t;

/* A rating of a delivered order: each stall at most once (checked by the caller). */
typedef struct feedback_rating {
    int64_t consumer_id;
    int64_t order_id;
    const feedback_stall_score_t *stalls;
    size_t nstalls;    /* 1..FEEDBACK_STALLS_MAX */
    int courier_score; /* 0: not given */
} feedback_rating_t;

/* Rates a delivered order in one transaction (db_tx): the order_ratings row (its primary key
 * makes a second rating, even a racing one, SF_E_ALREADY_RATED), one stall_ratings row per
 * stall in one statement, and every rated stall's rating_sum / rating_count raised in one
 * statement. DB_OK with *out the rating as stored ({order_id, market_id, stalls: [{stall_id,
 * score, text}], courier_id, courier_score, created_at}) and *market_id; SF_E_NOT_FOUND (none,
 * or another consumer's: nothing written); SF_E_NOT_DELIVERED; SF_E_ALREADY_RATED;
 * SF_E_INVALID with d's field "stalls[i].stall_id" (not a stall of the order, or one that
 * rejected it) or "courier_score" (no courier carried the order); or a db status. Nothing is
 * written unless DB_OK. */
sf_status_t feedback_rate(db_t *db, const feedback_rating_t *in, int64_t *market_id, json_t **out, status_detail_t *d);

/* A page of a stall's ratings, newest first: [{score, text, created_at}] (no consumer, no
 * order). after_ms / after_order (0, 0: from the newest) come from the previous page's cursor;
 * next_cursor gets the next page's, or "" on the last. DB_OK or a db status. */
sf_status_t feedback_stall_ratings(db_t *db, int64_t stall_id, int64_t after_ms, int64_t after_order, size_t limit,
                                   json_t **items, char *next_cursor, size_t len);

/* A complaint to write. */
typedef struct feedback_complaint {
    int64_t consumer_id;
    int64_t order_id; /* 0: about no order */
    int64_t stall_id;
    const char *text; /* 1..FEEDBACK_COMPLAINT_TEXT code points (checked by the caller) */
} feedback_complaint_t;

/* Files a complaint in the stall's market. DB_OK with *out the complaint (as rendered below);
 * SF_E_UNKNOWN_STALL (field stall_id: no such stall, or with an order not one of its stalls);
 * SF_E_NOT_FOUND (the order is none of the consumer's); or a db status. */
sf_status_t feedback_complain(db_t *db, const feedback_complaint_t *in, json_t **out, status_detail_t *d);

/* A page of a consumer's complaints, newest first. A complaint is rendered {id, market_id,
 * order_id, order_no (null with no order), stall_id, stall_no, text, status, resolution,
 * created_at, resolved_at}: never the consumer. after_id 0:
 * from the newest; next_cursor gets the next page's cursor or "". DB_OK or a db status. */
sf_status_t feedback_complaints_of(db_t *db, int64_t consumer_id, int64_t after_id, size_t limit, json_t **items,
                                   char *next_cursor, size_t len);

/* The same for a market's complaints (vendor_id 0, cursor kind FEEDBACK_KIND_ADMIN), or only
 * those about the stalls vendor_id holds now in that market (cursor kind
 * FEEDBACK_KIND_VENDOR); status "open", "resolved" or NULL (any). One statement. */
sf_status_t feedback_complaints_in(db_t *db, int64_t market_id, int64_t vendor_id, const char *status, int64_t after_id,
                                   size_t limit, json_t **items, char *next_cursor, size_t len);

/* Resolves an open complaint of the market with the operator's note (a conditional UPDATE on
 * status = 'open'). DB_OK with *out the complaint as stored now; SF_E_NOT_FOUND (none, or
 * another market's: nothing changed); SF_E_ALREADY_RESOLVED; or a db status. */
sf_status_t feedback_resolve(db_t *db, int64_t market_id, int64_t operator_id, int64_t complaint_id, const char *note,
                             json_t **out, status_detail_t *d);

#endif
