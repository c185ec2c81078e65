/*
 * models/kpi.c: every KPI of API.md "Online-sales KPIs" on hand-computed vectors (voids, an
 * order all void, rejected lines, repeat consumers, nearest-rank medians and p90 over
 * N = 1, 2, 3, 10), the rounding of ratios (4 decimals) and minutes (2 decimals) half up,
 * undefined figures as null, the +08:00 day of a time, and the reconcile checksum against
 * digests computed with sha256sum; the streaming form (kpi_acc_*) against the definition as
 * first written (one sorted pass over every record, kept here as the reference) on random
 * lines over several days, fed shuffled in batches of random sizes, per day and in total.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/kpi.h"
#include "tests/support/testutil.h"

#define NO KPI_NO_TIME
#define P0 1764489600000LL /* 2025-11-30T08:00:00.000Z = 16:00 +08:00 */

static sale_rec_t rec(int64_t event, int is_void, int weight, const char *order, const char *stall,
                      const char *consumer, int64_t qty, int64_t qty_actual, int64_t amount, int64_t refunded,
                      int64_t paid, int64_t ready, int64_t delivered)
{
    sale_rec_t r;
    memset(&r, 0, sizeof(r));
    r.event_id = event;
    r.version = 1;
    r.is_void = is_void;
    r.is_weight = weight;
    snprintf(r.order_no, sizeof(r.order_no), "%s", order);
    snprintf(r.stall_no, sizeof(r.stall_no), "%s", stall);
    snprintf(r.consumer_ref, sizeof(r.consumer_ref), "%s", consumer);
    r.qty = qty;
    r.qty_actual = qty_actual;
    r.amount_fen = amount;
    r.refunded_fen = refunded;
    r.paid_ms = paid;
    r.ready_ms = ready;
    r.delivered_ms = delivered;
    r.paid_day = kpi_day_of(paid);
    return r;
}

/* The JSON text of member k of o, as the server writes reals (JSON_REAL_PRECISION(15)). */
static char *text_of(const json_t *o, const char *k)
{
    static char buf[64];
    json_t *v = json_object_get(o, k);
    ck_assert_msg(v != NULL, "%s missing", k);
    char *s = json_dumps(v, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
    snprintf(buf, sizeof(buf), "%s", s);
    free(s);
    return buf;
}

#define EXPECT_TEXT(o, k, want) ck_assert_str_eq(text_of((o), (k)), (want))
#define EXPECT_INT(o, k, want)                                                                                         \
    do {                                                                                                               \
        ck_assert_msg(json_is_integer(json_object_get((o), (k))), "%s is not an integer", (k));                        \
        ck_assert_int_eq(json_integer_value(json_object_get((o), (k))), (want));                                       \
    } while (0)

START_TEST(test_every_kpi_of_a_hand_computed_day)
{
    const int64_t P1 = P0, P2 = P0 + 3600000, P3 = P0 + 7200000, P4 = P0 + 9000000;
    sale_rec_t r[] = {
        /* O1, C1: weighed lighter (480 of 500 g, 24 fen back) and counted; delivered */
        rec(1, 0, 1, "O1", "A-01", "C1", 500, 480, 600, 24, P1, P1 + 600000, P1 + 2700900),
        rec(2, 0, 0, "O1", "A-01", "C1", 3, NO, 300, 0, P1, P1 + 900500, P1 + 2700900),
        /* O2, C1 again: a rejected weighed line at B-01 (its late ready_at must not count), a
         * counted line at A-01; delivered */
        rec(3, 1, 1, "O2", "B-01", "C1", 1000, NO, 1200, 1200, P2, P2 + 5000000, NO),
        rec(4, 0, 0, "O2", "A-01", "C1", 2, NO, 200, 0, P2, P2 + 300000, P2 + 1800000),
        /* O3, C2: cancelled after payment, every line void */
        rec(5, 1, 1, "O3", "B-01", "C2", 700, NO, 500, 500, P3, NO, NO),
        rec(6, 1, 0, "O3", "B-01", "C2", 1, NO, 100, 100, P3, NO, NO),
        /* O4, C3: paid, not delivered yet */
        rec(7, 0, 0, "O4", "C-01", "C3", 5, NO, 250, 0, P4, NO, NO),
    };
    kpi_t k;
    ck_assert_int_eq(kpi_compute(r, 7, 10, &k), 0);
    ck_assert_int_eq(k.orders_paid, 4);
    ck_assert_int_eq(k.orders_delivered, 2);
    ck_assert_int_eq(k.orders_cancelled, 1);
    ck_assert_int_eq(k.gmv_fen, 3150);
    ck_assert_int_eq(k.refunds_fen, 1824);
    ck_assert_int_eq(k.net_sales_fen, 1326);
    ck_assert_int_eq(k.items_qty_g, 480); /* qty_actual of O1's line; the void 1000 g not */
    ck_assert_int_eq(k.items_qty_pieces, 10);
    ck_assert_int_eq(k.active_stalls, 2); /* A-01, C-01: B-01 has only void lines */
    ck_assert_int_eq(k.stalls_total, 10);
    ck_assert_int_eq(k.consumers, 3);
    ck_assert_int_eq(k.repeat_consumers, 1);
    ck_assert_int_eq(k.lines, 7);
    ck_assert_int_eq(k.rejected_lines, 1); /* O3's voids belong to a cancelled order */
    /* O1: ready 900.5 s → 900 s, delivered 2700.9 s → 2700 s, ready→delivered 1800.4 s → 1800 s;
     * O2: 300 s, 1800 s, 1500 s. Medians of 2: the 1st; p90 of 2: the 2nd. */
    ck_assert_int_eq(k.median_s_paid_to_ready, 300);
    ck_assert_int_eq(k.median_s_ready_to_delivered, 1500);
    ck_assert_int_eq(k.p90_s_paid_to_delivered, 2700);
    ck_assert_int_eq(k.complaint_count, 0);

    k.complaint_count = 3;
    json_t *o = kpi_json(&k);
    ck_assert_ptr_nonnull(o);
    EXPECT_INT(o, "orders_paid", 4);
    EXPECT_INT(o, "orders_delivered", 2);
    EXPECT_INT(o, "orders_cancelled", 1);
    EXPECT_INT(o, "gmv_fen", 3150);
    EXPECT_INT(o, "refunds_fen", 1824);
    EXPECT_INT(o, "net_sales_fen", 1326);
    EXPECT_INT(o, "items_qty_g", 480);
    EXPECT_INT(o, "items_qty_pieces", 10);
    EXPECT_INT(o, "active_stalls", 2);
    EXPECT_INT(o, "stalls_total", 10);
    EXPECT_TEXT(o, "active_stall_ratio", "0.2");
    EXPECT_INT(o, "consumers", 3);
    EXPECT_INT(o, "repeat_consumers", 1);
    EXPECT_TEXT(o, "delivered_ratio", "0.5");
    EXPECT_TEXT(o, "median_minutes_paid_to_ready", "5.0");
    EXPECT_TEXT(o, "median_minutes_ready_to_delivered", "25.0");
    EXPECT_TEXT(o, "p90_minutes_paid_to_delivered", "45.0");
    EXPECT_TEXT(o, "reject_ratio", "0.1429"); /* 1/7 = 0.142857 */
    EXPECT_INT(o, "complaint_count", 3);
    ck_assert(json_is_real(json_object_get(o, "delivered_ratio")));
    ck_assert(json_is_real(json_object_get(o, "p90_minutes_paid_to_delivered")));
    json_decref(o);
}
END_TEST

START_TEST(test_nothing_sold_gives_zeros_and_null_for_what_is_undefined)
{
    kpi_t k;
    ck_assert_int_eq(kpi_compute(NULL, 0, 0, &k), 0);
    json_t *o = kpi_json(&k);
    EXPECT_INT(o, "orders_paid", 0);
    EXPECT_INT(o, "gmv_fen", 0);
    EXPECT_INT(o, "stalls_total", 0);
    EXPECT_TEXT(o, "active_stall_ratio", "null"); /* no stall */
    EXPECT_TEXT(o, "delivered_ratio", "null");    /* no order */
    EXPECT_TEXT(o, "reject_ratio", "null");       /* no line */
    EXPECT_TEXT(o, "median_minutes_paid_to_ready", "null");
    EXPECT_TEXT(o, "median_minutes_ready_to_delivered", "null");
    EXPECT_TEXT(o, "p90_minutes_paid_to_delivered", "null");
    json_decref(o);
    /* stalls but no sale: 0 of them active is a ratio of 0 */
    ck_assert_int_eq(kpi_compute(NULL, 0, 5, &k), 0);
    o = kpi_json(&k);
    EXPECT_TEXT(o, "active_stall_ratio", "0.0");
    json_decref(o);
    /* orders but none delivered: the ratio is 0, the times undefined */
    sale_rec_t r[] = {rec(1, 0, 0, "O1", "A", "C1", 1, NO, 100, 0, P0, P0 + 1000, NO)};
    ck_assert_int_eq(kpi_compute(r, 1, 1, &k), 0);
    o = kpi_json(&k);
    EXPECT_TEXT(o, "delivered_ratio", "0.0");
    EXPECT_TEXT(o, "reject_ratio", "0.0");
    EXPECT_TEXT(o, "median_minutes_paid_to_ready", "null");
    EXPECT_TEXT(o, "p90_minutes_paid_to_delivered", "null");
    json_decref(o);
}
END_TEST

START_TEST(test_an_order_all_void_is_cancelled_and_its_voids_are_no_rejects)
{
    sale_rec_t r[] = {
        rec(1, 1, 1, "O1", "A", "C1", 500, NO, 600, 600, P0, NO, NO),
        rec(2, 1, 0, "O1", "B", "C1", 2, NO, 200, 200, P0, NO, NO),
        rec(3, 1, 0, "O2", "A", "C2", 2, NO, 200, 200, P0, NO, NO), /* O2: one void ... */
        rec(4, 0, 0, "O2", "B", "C2", 1, NO, 100, 0, P0, NO, NO),   /* ... one not */
    };
    kpi_t k;
    ck_assert_int_eq(kpi_compute(r, 4, 2, &k), 0);
    ck_assert_int_eq(k.orders_paid, 2);
    ck_assert_int_eq(k.orders_cancelled, 1);
    ck_assert_int_eq(k.rejected_lines, 1);
    ck_assert_int_eq(k.lines, 4);
    ck_assert_int_eq(k.items_qty_g, 0);
    ck_assert_int_eq(k.items_qty_pieces, 1);
    ck_assert_int_eq(k.active_stalls, 1);
    ck_assert_int_eq(k.gmv_fen, 1100);
    ck_assert_int_eq(k.refunds_fen, 1000);
    ck_assert_int_eq(k.net_sales_fen, 100);
    json_t *o = kpi_json(&k);
    EXPECT_TEXT(o, "reject_ratio", "0.25");
    EXPECT_TEXT(o, "active_stall_ratio", "0.5");
    json_decref(o);
}
END_TEST

START_TEST(test_repeat_consumers_count_distinct_orders_not_lines)
{
    sale_rec_t r[] = {
        rec(1, 0, 0, "O1", "A", "C1", 1, NO, 1, 0, P0, NO, NO), rec(2, 0, 0, "O1", "B", "C1", 1, NO, 1, 0, P0, NO, NO),
        rec(3, 0, 0, "O1", "C", "C1", 1, NO, 1, 0, P0, NO, NO), /* C1: three lines, one order */
        rec(4, 0, 0, "O2", "A", "C2", 1, NO, 1, 0, P0, NO, NO), rec(5, 0, 0, "O3", "A", "C2", 1, NO, 1, 0, P0, NO, NO),
        rec(6, 1, 0, "O4", "A", "C3", 1, NO, 1, 1, P0, NO, NO), /* C3: a cancelled order counts */
        rec(7, 0, 0, "O5", "A", "C3", 1, NO, 1, 0, P0, NO, NO), rec(8, 0, 0, "O6", "A", "C3", 1, NO, 1, 0, P0, NO, NO),
    };
    kpi_t k;
    ck_assert_int_eq(kpi_compute(r, 8, 3, &k), 0);
    ck_assert_int_eq(k.consumers, 3);
    ck_assert_int_eq(k.repeat_consumers, 2);
    ck_assert_int_eq(k.orders_paid, 6);
    ck_assert_int_eq(k.active_stalls, 3);
}
END_TEST

/* n delivered orders, paid at P0, ready after ready_s[i] s and delivered after deliv_s[i] s. */
static void timed(size_t n, const int64_t *ready_s, const int64_t *deliv_s, kpi_t *k)
{
    sale_rec_t *r = calloc(n, sizeof(*r));
    for (size_t i = 0; i < n; i++) {
        char order[8];
        snprintf(order, sizeof(order), "O%zu", i);
        r[i] = rec((int64_t)i + 1, 0, 0, order, "A", order, 1, NO, 100, 0, P0, P0 + ready_s[i] * 1000,
                   P0 + deliv_s[i] * 1000);
    }
    ck_assert_int_eq(kpi_compute(r, n, 1, k), 0);
    free(r);
}

START_TEST(test_medians_and_p90_take_the_nearest_rank)
{
    kpi_t k;
    /* N = 1 */
    timed(1, (int64_t[]){120}, (int64_t[]){600}, &k);
    ck_assert_int_eq(k.median_s_paid_to_ready, 120);
    ck_assert_int_eq(k.median_s_ready_to_delivered, 480);
    ck_assert_int_eq(k.p90_s_paid_to_delivered, 600);
    /* N = 2: the median is the 1st (ceil 1.0), p90 the 2nd (ceil 1.8) */
    timed(2, (int64_t[]){300, 100}, (int64_t[]){900, 1000}, &k);
    ck_assert_int_eq(k.median_s_paid_to_ready, 100);
    ck_assert_int_eq(k.median_s_ready_to_delivered, 600); /* {600, 900} */
    ck_assert_int_eq(k.p90_s_paid_to_delivered, 1000);
    /* N = 3: the median is the 2nd, p90 the 3rd (ceil 2.7) */
    timed(3, (int64_t[]){50, 10, 30}, (int64_t[]){1000, 700, 800}, &k);
    ck_assert_int_eq(k.median_s_paid_to_ready, 30);
    ck_assert_int_eq(k.median_s_ready_to_delivered, 770); /* {690, 770, 950} */
    ck_assert_int_eq(k.p90_s_paid_to_delivered, 1000);
    /* N = 10, given out of order: the median is the 5th, p90 the 9th */
    timed(10, (int64_t[]){10, 20, 30, 40, 50, 60, 70, 80, 90, 100},
          (int64_t[]){1000, 900, 800, 700, 600, 500, 400, 300, 200, 1100}, &k);
    ck_assert_int_eq(k.median_s_paid_to_ready, 50);
    ck_assert_int_eq(k.p90_s_paid_to_delivered, 1000);
    /* r→d: {990, 880, 770, 660, 550, 440, 330, 220, 110, 1000}: the 5th smallest is 550 */
    ck_assert_int_eq(k.median_s_ready_to_delivered, 550);
}
END_TEST

START_TEST(test_whole_seconds_truncate_and_minutes_round_half_up)
{
    static const struct {
        int64_t ms;      /* paid → delivered */
        const char *min; /* p90 as JSON */
    } v[] = {
        {0, "0.0"},         {999, "0.0"}, /* 0.999 s is 0 whole seconds */
        {1000, "0.02"},                   /* 1 s = 0.01667 min */
        {30000, "0.5"},                   /* 30 s */
        {59999, "0.98"},                  /* 59 s = 0.98333 */
        {89995, "1.48"},                  /* 89.995 s is 89 whole seconds = 1.48333 min (not 90 s: truncated) */
        {90000, "1.5"},                   /* 90 s */
        {91000, "1.52"},                  /* 1.51667 */
        {92000, "1.53"},                  /* 1.53333 */
        {3599999, "59.98"}, {3600000, "60.0"}, {86400000, "1440.0"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        sale_rec_t r = rec(1, 0, 0, "O1", "A", "C1", 1, NO, 1, 0, P0, P0, P0 + v[i].ms);
        kpi_t k;
        ck_assert_int_eq(kpi_compute(&r, 1, 1, &k), 0);
        json_t *o = kpi_json(&k);
        ck_assert_msg(strcmp(text_of(o, "p90_minutes_paid_to_delivered"), v[i].min) == 0, "%lld ms: %s, want %s",
                      (long long)v[i].ms, text_of(o, "p90_minutes_paid_to_delivered"), v[i].min);
        json_decref(o);
    }
}
END_TEST

START_TEST(test_ratios_round_half_up_to_four_places)
{
    static const struct {
        int64_t num, den;
        const char *want;
    } v[] = {
        {2, 3, "0.6667"},     {1, 3, "0.3333"},        {1, 8, "0.125"},       {1, 32, "0.0313"}, /* 0.03125: half up */
        {1, 7, "0.1429"},     {1, 16, "0.0625"},       {5, 5, "1.0"},         {0, 9, "0.0"},
        {1, 20000, "0.0001"},                                                 /* 0.00005: half up */
        {1, 20001, "0.0"},    {9999, 10000, "0.9999"}, {19999, 20000, "1.0"}, /* 0.99995 */
        {1, 0, "null"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        json_t *r = kpi_ratio(v[i].num, v[i].den);
        char *s = json_dumps(r, JSON_ENCODE_ANY | JSON_REAL_PRECISION(15));
        ck_assert_msg(strcmp(s, v[i].want) == 0, "%lld/%lld: %s, want %s", (long long)v[i].num, (long long)v[i].den, s,
                      v[i].want);
        free(s);
        json_decref(r);
    }
    /* the same through the KPIs: 1 of 8 orders delivered, 2 of 3 stalls active */
    sale_rec_t r[8];
    for (int i = 0; i < 8; i++) {
        char order[4];
        snprintf(order, sizeof(order), "O%d", i);
        r[i] = rec(i + 1, 0, 0, order, i % 2 ? "A" : "B", "C1", 1, NO, 1, 0, P0, NO, i == 0 ? P0 + 60000 : NO);
    }
    kpi_t k;
    ck_assert_int_eq(kpi_compute(r, 8, 3, &k), 0);
    json_t *o = kpi_json(&k);
    EXPECT_TEXT(o, "delivered_ratio", "0.125");
    EXPECT_TEXT(o, "active_stall_ratio", "0.6667");
    json_decref(o);
}
END_TEST

START_TEST(test_days_are_plus_eight_hours)
{
    /* 2026-11-30T15:59:59.999Z is 23:59:59.999 on the 30th; 16:00:00.000Z is the 1st */
    int32_t a = kpi_day_of(1796054399999LL), b = kpi_day_of(1796054400000LL), d;
    char name[16];
    ck_assert_int_eq(b, a + 1);
    kpi_day_name(a, name, sizeof(name));
    ck_assert_str_eq(name, "2026-11-30");
    kpi_day_name(b, name, sizeof(name));
    ck_assert_str_eq(name, "2026-12-01");
    ck_assert_int_eq(kpi_day_of(0), 0);            /* 08:00 on 1970-01-01 */
    ck_assert_int_eq(kpi_day_of(-8 * 3600000), 0); /* midnight +08:00 */
    ck_assert_int_eq(kpi_day_of(-8 * 3600000 - 1), -1);
    ck_assert_int_eq(kpi_day_parse("2026-11-30", &d), 0);
    ck_assert_int_eq(d, a);
    ck_assert_int_eq(kpi_day_parse("1970-01-01", &d), 0);
    ck_assert_int_eq(d, 0);
    ck_assert_int_eq(kpi_day_parse("2024-02-29", &d), 0);
    ck_assert_int_eq(kpi_day_parse("2025-02-29", &d), -1);
    ck_assert_int_eq(kpi_day_parse("2026-13-01", &d), -1);
    ck_assert_int_eq(kpi_day_parse("2026-11-31", &d), -1);
    ck_assert_int_eq(kpi_day_parse("2026-1-01", &d), -1);
    ck_assert_int_eq(kpi_day_parse("2026-11-30x", &d), -1);
    ck_assert_int_eq(kpi_day_parse("0999-01-01", &d), -1);
}
END_TEST

START_TEST(test_the_checksum_is_sha256_of_sorted_event_version_lines)
{
    /* printf '100:3\n10:2\n9:1' | sha256sum (sorted byte-wise: "100:3" < "10:2" < "9:1") */
    sale_rec_t r[3] = {0};
    r[0].event_id = 9, r[0].version = 1;
    r[1].event_id = 100, r[1].version = 3;
    r[2].event_id = 10, r[2].version = 2;
    char hex[65];
    ck_assert_int_eq(kpi_checksum(r, 3, hex), 0);
    ck_assert_str_eq(hex, "6084b1e87177e26d8ea26e74f10f895d6a09fe36a3d6d48af2b0cb1652004d53");
    /* printf '7:1' | sha256sum: one line, no newline */
    r[0].event_id = 7;
    ck_assert_int_eq(kpi_checksum(r, 1, hex), 0);
    ck_assert_str_eq(hex, "d7a0cee7b61eb0e3e4776e245cfafbfba1cbce2b59a1f2c20626e3e46bbaf745");
    /* printf '' | sha256sum */
    ck_assert_int_eq(kpi_checksum(NULL, 0, hex), 0);
    ck_assert_str_eq(hex, "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
    /* a new version changes it */
    r[0].version = 2;
    ck_assert_int_eq(kpi_checksum(r, 1, hex), 0);
    ck_assert_str_ne(hex, "d7a0cee7b61eb0e3e4776e245cfafbfba1cbce2b59a1f2c20626e3e46bbaf745");
}
END_TEST

/* ---- the streaming form against the definition, on random data ------------------------ */

/* The reference: kpi_compute as it was written before the streaming form, one sorted pass over
 * the records held whole (sorted by order_no, then event_id: an order's consumer is that of
 * its first event). The streaming form must give exactly its figures. */
static int ref_by_order(const void *a, const void *b)
{
    const sale_rec_t *x = a, *y = b;
    int c = strcmp(x->order_no, y->order_no);
    return c != 0 ? c : (x->event_id > y->event_id) - (x->event_id < y->event_id);
}

static int ref_by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int ref_by_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int64_t ref_distinct(const char **v, size_t n, int64_t *repeats)
{
    int64_t count = 0, rep = 0;
    qsort(v, n, sizeof(*v), ref_by_str);
    for (size_t i = 0; i < n;) {
        size_t j = i + 1;
        while (j < n && strcmp(v[j], v[i]) == 0)
            j++;
        count++;
        rep += j - i >= 2;
        i = j;
    }
    if (repeats != NULL)
        *repeats = rep;
    return count;
}

static int64_t ref_rank(int64_t *v, size_t n, int64_t num, int64_t den)
{
    if (n == 0)
        return -1;
    qsort(v, n, sizeof(*v), ref_by_i64);
    size_t rank = (size_t)(((int64_t)n * num + den - 1) / den);
    return v[(rank < 1 ? 1 : rank) - 1];
}

static void ref_compute(sale_rec_t *recs, size_t n, int64_t stalls_total, kpi_t *out)
{
    memset(out, 0, sizeof(*out));
    out->stalls_total = stalls_total;
    out->median_s_paid_to_ready = out->median_s_ready_to_delivered = out->p90_s_paid_to_delivered = -1;
    if (n == 0)
        return;
    const char **stalls = malloc(n * sizeof(*stalls)), **consumers = malloc(n * sizeof(*consumers));
    int64_t *p2r = malloc(n * sizeof(*p2r)), *r2d = malloc(n * sizeof(*r2d)), *p2d = malloc(n * sizeof(*p2d));
    size_t nstalls = 0, nconsumers = 0, np2r = 0, nr2d = 0, np2d = 0;
    qsort(recs, n, sizeof(*recs), ref_by_order);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int64_t voids = 0, paid = recs[i].paid_ms, ready = NO, delivered = NO;
        for (; j < n && strcmp(recs[j].order_no, recs[i].order_no) == 0; j++) {
            const sale_rec_t *r = &recs[j];
            out->lines++;
            out->gmv_fen += r->amount_fen;
            out->refunds_fen += r->refunded_fen;
            if (r->paid_ms < paid)
                paid = r->paid_ms;
            if (r->delivered_ms != NO && r->delivered_ms > delivered)
                delivered = r->delivered_ms;
            if (r->is_void) {
                voids++;
                continue;
            }
            int64_t q = r->qty_actual != NO ? r->qty_actual : r->qty;
            if (r->is_weight)
                out->items_qty_g += q;
            else
                out->items_qty_pieces += q;
            stalls[nstalls++] = r->stall_no;
            if (r->ready_ms != NO && r->ready_ms > ready)
                ready = r->ready_ms;
        }
        out->orders_paid++;
        consumers[nconsumers++] = recs[i].consumer_ref;
        if (voids == (int64_t)(j - i))
            out->orders_cancelled++;
        else
            out->rejected_lines += voids;
        if (delivered != NO) {
            out->orders_delivered++;
            p2d[np2d++] = (delivered - paid) / 1000;
            if (ready != NO) {
                p2r[np2r++] = (ready - paid) / 1000;
                r2d[nr2d++] = (delivered - ready) / 1000;
            }
        }
        i = j;
    }
    out->net_sales_fen = out->gmv_fen - out->refunds_fen;
    out->active_stalls = ref_distinct(stalls, nstalls, NULL);
    out->consumers = ref_distinct(consumers, nconsumers, &out->repeat_consumers);
    out->median_s_paid_to_ready = ref_rank(p2r, np2r, 1, 2);
    out->median_s_ready_to_delivered = ref_rank(r2d, nr2d, 1, 2);
    out->p90_s_paid_to_delivered = ref_rank(p2d, np2d, 9, 10);
    free(stalls), free(consumers), free(p2r), free(r2d), free(p2d);
}

#define SAME(f)                                                                                                        \
    ck_assert_msg(got->f == want->f, "%s: %s = %lld, the definition gives %lld", what, #f, (long long)got->f,          \
                  (long long)want->f)

static void expect_same_kpis(const kpi_t *got, const kpi_t *want, const char *what)
{
    SAME(orders_paid), SAME(orders_delivered), SAME(orders_cancelled);
    SAME(gmv_fen), SAME(refunds_fen), SAME(net_sales_fen);
    SAME(items_qty_g), SAME(items_qty_pieces);
    SAME(active_stalls), SAME(stalls_total);
    SAME(consumers), SAME(repeat_consumers);
    SAME(lines), SAME(rejected_lines), SAME(complaint_count);
    SAME(median_s_paid_to_ready), SAME(median_s_ready_to_delivered), SAME(p90_s_paid_to_delivered);
}

static uint64_t seed;

static uint32_t rnd(uint32_t n)
{
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(seed >> 33) % n;
}

#define RDAYS 6

/* Random lines of orders paid over RDAYS days from P0's: 1 to 5 lines an order, one order in
 * 8 all void, a line void one time in 7, a consumer among 40 (one order in 20 with a second
 * consumer on some line), a stall among 25, ready/delivered often unset, now and then before
 * paid (negative whole seconds truncate toward zero), and one order in 15 with lines paid on
 * the next day too. Unique event ids, shuffled. */
static size_t random_lines(sale_rec_t *r, size_t max)
{
    size_t n = 0;
    int32_t day0 = kpi_day_of(P0);
    for (int64_t order = 1; n + 10 < max; order++) {
        int nlines = 1 + (int)rnd(5), cancelled = rnd(8) == 0, split = rnd(15) == 0, two = rnd(20) == 0;
        int64_t paid = ((int64_t)(day0 + (int32_t)rnd(RDAYS)) * 86400000LL - 8 * 3600000LL) +
                       (int64_t)rnd(86400) * 1000 + rnd(1000);
        int64_t deliv = rnd(3) == 0 ? NO : paid + (int64_t)rnd(7200) * 1000 - 60000 + rnd(1000);
        uint32_t cons = rnd(40);
        for (int i = 0; i < nlines; i++) {
            char o[32], s[8], c[40];
            snprintf(o, sizeof(o), "N%lld", (long long)order);
            snprintf(s, sizeof(s), "S-%02u", rnd(25));
            snprintf(c, sizeof(c), "%032u", two && i > 0 && rnd(2) == 0 ? 1000 + rnd(40) : cons);
            int v = cancelled || rnd(7) == 0, weight = rnd(2);
            int64_t p = split && i > 0 && rnd(2) == 0 ? paid + 86400000LL + (int64_t)rnd(100000) : paid + rnd(3) * 7;
            int64_t ready = v || rnd(4) == 0 ? NO : p + (int64_t)rnd(3600) * 1000 - 30000 + rnd(1000);
            int64_t amount = 10 + rnd(5000);
            r[n] = rec(0, v, weight, o, s, c, weight ? 100 + rnd(900) : 1 + rnd(9),
                       weight && rnd(3) == 0 ? (int64_t)(50 + rnd(900)) : NO, amount,
                       v             ? amount
                       : rnd(3) == 0 ? rnd(20)
                                     : 0,
                       p, ready, v && rnd(2) == 0 ? NO : deliv);
            n++;
        }
    }
    for (size_t i = 0; i < n; i++)
        r[i].event_id = 1000 + (int64_t)i * 3 + rnd(3); /* unique, increasing within an order */
    for (size_t i = n; i > 1; i--) {                    /* shuffle */
        size_t j = rnd((uint32_t)i);
        sale_rec_t t = r[i - 1];
        r[i - 1] = r[j];
        r[j] = t;
    }
    return n;
}

START_TEST(test_the_streaming_form_equals_the_definition_per_day_and_in_total)
{
    enum { MAXR = 6000 };
    sale_rec_t *r = malloc(MAXR * sizeof(*r)), *copy = malloc(MAXR * sizeof(*r)), *batch = malloc(MAXR * sizeof(*r));
    int32_t day0 = kpi_day_of(P0);
    int split_orders = 0;
    for (int round = 0; round < 6; round++) {
        seed = 20261130 + (uint64_t)round;
        size_t n = random_lines(r, round == 0 ? 40 : MAXR - round * 500);
        kpi_acc_t *a = kpi_acc_new(30);
        ck_assert_ptr_nonnull(a);
        /* batches of random sizes (1 at a time now and then), each overwritten once added: the
         * accumulator keeps nothing of the caller's records */
        for (size_t i = 0; i < n;) {
            size_t b = rnd(4) == 0 ? 1 : 1 + rnd(round == 0 ? 7 : 700);
            if (b > n - i)
                b = n - i;
            memcpy(batch, r + i, b * sizeof(*r));
            ck_assert_int_eq(kpi_acc_add(a, batch, b), 0);
            memset(batch, 0x5a, b * sizeof(*r));
            i += b;
        }
        ck_assert_int_eq(kpi_acc_add(a, NULL, 0), 0);
        /* the days around the range too (nothing paid: zeros) */
        kpi_t days[RDAYS + 3], want, got;
        ck_assert_int_eq(kpi_acc_days(a, day0 - 1, RDAYS + 3, days), 0);
        for (int d = 0; d < RDAYS + 3; d++) {
            int32_t day = day0 - 1 + d;
            size_t m = 0;
            for (size_t i = 0; i < n; i++)
                if (r[i].paid_day == day)
                    copy[m++] = r[i];
            ref_compute(copy, m, 30, &want);
            char what[64];
            snprintf(what, sizeof(what), "round %d, day %+d (%zu lines)", round, d - 1, m);
            expect_same_kpis(&days[d], &want, what);
            ck_assert_int_eq(kpi_acc_day(a, day, &got), 0);
            expect_same_kpis(&got, &want, what);
            if (round > 0 && d >= 1 && d <= RDAYS)
                ck_assert_int_gt(want.orders_delivered, 10); /* the data is not degenerate */
        }
        memcpy(copy, r, n * sizeof(*r));
        ref_compute(copy, n, 30, &want);
        ck_assert_int_eq(kpi_acc_total(a, &got), 0);
        expect_same_kpis(&got, &want, "the total");
        /* kpi_compute (over the streaming form) too */
        memcpy(copy, r, n * sizeof(*r));
        ck_assert_int_eq(kpi_compute(copy, n, 30, &got), 0);
        expect_same_kpis(&got, &want, "kpi_compute's total");
        /* an order whose lines were paid on two days counts on each, once in the total */
        int64_t sum = 0;
        for (int d = 0; d < RDAYS + 3; d++)
            sum += days[d].orders_paid;
        ck_assert_int_ge(sum, want.orders_paid);
        split_orders += sum > want.orders_paid;
        kpi_acc_free(a);
    }
    ck_assert_int_ge(split_orders, 4); /* the split orders did occur */
    free(r), free(copy), free(batch);
}
END_TEST

START_TEST(test_an_empty_accumulator_gives_zeros_and_no_times)
{
    kpi_acc_t *a = kpi_acc_new(7);
    kpi_t k[2], want;
    ref_compute(NULL, 0, 7, &want);
    ck_assert_int_eq(kpi_acc_total(a, &k[0]), 0);
    expect_same_kpis(&k[0], &want, "the total");
    ck_assert_int_eq(kpi_acc_days(a, 100, 2, k), 0);
    expect_same_kpis(&k[1], &want, "a day");
    ck_assert_int_eq(k[1].median_s_paid_to_ready, -1);
    ck_assert_int_eq(kpi_acc_days(a, 100, 0, k), 0);
    kpi_acc_free(a);
    kpi_acc_free(NULL);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("kpi");
    TCase *tc = tcase_create("kpi");
    tcase_add_test(tc, test_every_kpi_of_a_hand_computed_day);
    tcase_add_test(tc, test_nothing_sold_gives_zeros_and_null_for_what_is_undefined);
    tcase_add_test(tc, test_an_order_all_void_is_cancelled_and_its_voids_are_no_rejects);
    tcase_add_test(tc, test_repeat_consumers_count_distinct_orders_not_lines);
    tcase_add_test(tc, test_medians_and_p90_take_the_nearest_rank);
    tcase_add_test(tc, test_whole_seconds_truncate_and_minutes_round_half_up);
    tcase_add_test(tc, test_ratios_round_half_up_to_four_places);
    tcase_add_test(tc, test_days_are_plus_eight_hours);
    tcase_add_test(tc, test_the_checksum_is_sha256_of_sorted_event_version_lines);
    tcase_add_test(tc, test_the_streaming_form_equals_the_definition_per_day_and_in_total);
    tcase_add_test(tc, test_an_empty_accumulator_gives_zeros_and_no_times);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
