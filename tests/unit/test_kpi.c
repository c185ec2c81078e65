/*
 * models/kpi.c: every KPI of API.md "Online-sales KPIs" on hand-computed vectors (voids, an
 * order all void, rejected lines, repeat consumers, nearest-rank medians and p90 over
 * N = 1, 2, 3, 10), the rounding of ratios (4 decimals) and minutes (2 decimals) half up,
 * undefined figures as null, the +08:00 day of a time, and the reconcile checksum against
 * digests computed with sha256sum.
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
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
