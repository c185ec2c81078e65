/*
 * The online-sales KPIs (API.md "Online-sales KPIs"), computed from sale lines: the one
 * implementation of their definitions. The server feeds it the latest versions it reads from
 * `sale_lines` (models/stats.h); `stallfront platform pull --verify` feeds it the latest
 * versions it pulled from the feed. Pure: no SQL, no I/O.
 */
#ifndef SF_KPI_H
#define SF_KPI_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#define KPI_NO_TIME (-1) /* a ready_ms / delivered_ms / qty_actual that is not set */

/* The latest version of one sale line, as far as the KPIs need it. */
typedef struct sale_rec {
    int64_t event_id;
    int64_t version;
    int is_void;   /* op "void" */
    int is_weight; /* pricing mode weight (qty in grams); else count (pieces) */
    char order_no[33];
    char stall_no[17];
    char consumer_ref[33];
    int64_t qty;
    int64_t qty_actual; /* KPI_NO_TIME when not set */
    int64_t amount_fen;
    int64_t refunded_fen;
    int64_t paid_ms;      /* Unix milliseconds */
    int64_t ready_ms;     /* KPI_NO_TIME when not set */
    int64_t delivered_ms; /* KPI_NO_TIME when not set */
    int32_t paid_day;     /* the +08:00 day of paid_ms, as days since 1970-01-01 (kpi_day_of) */
} sale_rec_t;

typedef struct kpi {
    int64_t orders_paid, orders_delivered, orders_cancelled;
    int64_t gmv_fen, refunds_fen, net_sales_fen;
    int64_t items_qty_g, items_qty_pieces;
    int64_t active_stalls, stalls_total;
    int64_t consumers, repeat_consumers;
    int64_t lines, rejected_lines; /* all lines; void lines of orders not cancelled */
    int64_t complaint_count;       /* not from sale lines: the caller sets it */
    /* whole seconds, nearest rank over the delivered orders; -1 when there is none */
    int64_t median_s_paid_to_ready, median_s_ready_to_delivered, p90_s_paid_to_delivered;
} kpi_t;

/* The +08:00 day of a Unix time in milliseconds, as days since 1970-01-01. */
int32_t kpi_day_of(int64_t ms);

/* "YYYY-MM-DD" of such a day into buf (>= 11 bytes). */
void kpi_day_name(int32_t day, char *buf, size_t len);

/* The day of a real calendar date "YYYY-MM-DD" (years 1000-9999), as days since 1970-01-01:
 * 0 with *day, or -1 if s is not one. */
int kpi_day_parse(const char *s, int32_t *day);

/* The KPIs of the n records (every one counted: the caller chose the period), with the
 * market's stalls_total; complaint_count 0. May reorder recs. 0, or -1 out of memory.
 * (kpi_acc_total over one batch of the n records.) */
int kpi_compute(sale_rec_t *recs, size_t n, int64_t stalls_total, kpi_t *out);

/* The same KPIs over records fed in batches, for ranges too large to hold as records: every
 * batch is folded into one compact summary per (order, +08:00 paid_day) (its first event's
 * consumer, earliest paid, latest ready of its non-void lines, latest delivered, its line and
 * void counts, gmv, refunds and quantities) plus the distinct (paid_day, stall) pairs, with
 * the order numbers, consumers and stalls interned once. Memory grows with the orders and
 * the distinct names, not with the lines, and nothing points into the caller's records.
 * Batches come in any order and any size; an order's lines may be spread over several.
 * A day's figures are those kpi_compute gives for the records of that paid_day; the total,
 * those it gives for every record added (an order whose lines were paid on two days counts on
 * each of the days, once in the total; consumers and active stalls are distinct over all). */
typedef struct kpi_acc kpi_acc_t;

/* An empty accumulator for a market of stalls_total stalls; NULL out of memory. */
kpi_acc_t *kpi_acc_new(int64_t stalls_total);

/* Folds n records in (recs is not changed nor kept). 0, or -1 out of memory (the accumulator
 * is then unusable: only kpi_acc_free). */
int kpi_acc_add(kpi_acc_t *acc, const sale_rec_t *recs, size_t n);

/* The KPIs of every day d0 .. d0 + ndays - 1 into days[0 .. ndays - 1] (records of other days
 * count in none of them), in one pass; complaint_count 0. 0, or -1 out of memory. */
int kpi_acc_days(const kpi_acc_t *acc, int32_t d0, size_t ndays, kpi_t *days);

/* The KPIs of one day (kpi_acc_days of that day alone). 0 or -1. */
int kpi_acc_day(const kpi_acc_t *acc, int32_t day, kpi_t *out);

/* The KPIs of every record added; complaint_count 0. 0, or -1 out of memory. */
int kpi_acc_total(const kpi_acc_t *acc, kpi_t *out);

void kpi_acc_free(kpi_acc_t *acc);

/* The KPIs as the API's JSON object (every field API.md lists; ratios with 4 decimals and
 * minutes with 2, rounded half up; null when undefined: no order, no stall, no delivery). */
json_t *kpi_json(const kpi_t *k);

/* num/den as a JSON real with 4 decimals, rounded half up (the KPIs' ratios); null when den
 * is 0. NULL out of memory. */
json_t *kpi_ratio(int64_t num, int64_t den);

/* The checksum of reconcile: hex SHA-256 over one "event_id:version" line per record,
 * sorted byte-wise, joined by "\n" (no trailing newline). Reorders recs. 0 or -1. */
int kpi_checksum(sale_rec_t *recs, size_t n, char hex[65]);

#endif
