/*
 * The online-sales KPIs (see kpi.h), the one implementation of API.md's definitions. The
 * records are sorted by order_no so that one pass sees each order whole; distinct stalls and
 * consumers are counted by sorting pointers to their names. Integer arithmetic throughout;
 * only the final ratios and minutes become JSON reals.
 */
#include <openssl/evp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/kpi.h"

#define DAY_MS  86400000LL
#define HOUR_MS 3600000LL

int32_t kpi_day_of(int64_t ms)
{
    int64_t t = ms + 8 * HOUR_MS;
    int64_t d = t / DAY_MS;
    if (t % DAY_MS < 0)
        d--; /* floor, also before 1970 */
    return (int32_t)d;
}

void kpi_day_name(int32_t day, char *buf, size_t len)
{
    struct tm tm;
    time_t t = (time_t)day * 86400;
    gmtime_r(&t, &tm);
    strftime(buf, len, "%Y-%m-%d", &tm);
}

/* Days since 1970-01-01 of a proleptic Gregorian date (m 1..12). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

int kpi_day_parse(const char *s, int32_t *day)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (s == NULL || strlen(s) != 10 || s[4] != '-' || s[7] != '-')
        return -1;
    for (int i = 0; i < 10; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0');
    int d = (s[8] - '0') * 10 + (s[9] - '0');
    if (y < 1000 || m < 1 || m > 12 || d < 1)
        return -1;
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (d > mdays[m - 1] + (m == 2 && leap))
        return -1;
    *day = (int32_t)days_from_civil(y, m, d);
    return 0;
}

/* ---------------------------------------------------------------- compute */

static int by_order(const void *a, const void *b)
{
    const sale_rec_t *x = a, *y = b;
    int c = strcmp(x->order_no, y->order_no);
    return c != 0 ? c : (x->event_id > y->event_id) - (x->event_id < y->event_id);
}

static int by_str(const void *a, const void *b)
{
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

static int by_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Distinct strings among n (sorted here); *repeats (may be NULL): how many of them occur
 * two or more times. */
static int64_t distinct(const char **v, size_t n, int64_t *repeats)
{
    int64_t count = 0, rep = 0;
    qsort(v, n, sizeof(*v), by_str);
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

/* The ceil(num/den · n)-th smallest of n values (sorted here), or -1 when n is 0. */
static int64_t nearest_rank(int64_t *v, size_t n, int64_t num, int64_t den)
{
    if (n == 0)
        return -1;
    qsort(v, n, sizeof(*v), by_i64);
    size_t rank = (size_t)(((int64_t)n * num + den - 1) / den);
    if (rank < 1)
        rank = 1;
    return v[rank - 1];
}

int kpi_compute(sale_rec_t *recs, size_t n, int64_t stalls_total, kpi_t *out)
{
    memset(out, 0, sizeof(*out));
    out->stalls_total = stalls_total;
    out->median_s_paid_to_ready = out->median_s_ready_to_delivered = out->p90_s_paid_to_delivered = -1;
    if (n == 0)
        return 0;
    const char **stalls = malloc(n * sizeof(*stalls));
    const char **consumers = malloc(n * sizeof(*consumers));
    int64_t *p2r = malloc(n * sizeof(*p2r)), *r2d = malloc(n * sizeof(*r2d)), *p2d = malloc(n * sizeof(*p2d));
    if (stalls == NULL || consumers == NULL || p2r == NULL || r2d == NULL || p2d == NULL) {
        free(stalls), free(consumers), free(p2r), free(r2d), free(p2d);
        return -1;
    }
    size_t nstalls = 0, nconsumers = 0, np2r = 0, nr2d = 0, np2d = 0;
    qsort(recs, n, sizeof(*recs), by_order);
    for (size_t i = 0; i < n;) {
        size_t j = i;
        int64_t voids = 0, paid = recs[i].paid_ms, ready = KPI_NO_TIME, delivered = KPI_NO_TIME;
        for (; j < n && strcmp(recs[j].order_no, recs[i].order_no) == 0; j++) {
            const sale_rec_t *r = &recs[j];
            out->lines++;
            out->gmv_fen += r->amount_fen;
            out->refunds_fen += r->refunded_fen;
            if (r->paid_ms < paid)
                paid = r->paid_ms;
            if (r->delivered_ms != KPI_NO_TIME && r->delivered_ms > delivered)
                delivered = r->delivered_ms;
            if (r->is_void) {
                voids++;
                continue;
            }
            int64_t q = r->qty_actual != KPI_NO_TIME ? r->qty_actual : r->qty;
            if (r->is_weight)
                out->items_qty_g += q;
            else
                out->items_qty_pieces += q;
            stalls[nstalls++] = r->stall_no;
            if (r->ready_ms != KPI_NO_TIME && r->ready_ms > ready)
                ready = r->ready_ms;
        }
        int64_t nlines = (int64_t)(j - i);
        out->orders_paid++;
        consumers[nconsumers++] = recs[i].consumer_ref; /* an order has one consumer */
        if (voids == nlines)
            out->orders_cancelled++;
        else
            out->rejected_lines += voids;
        if (delivered != KPI_NO_TIME) {
            out->orders_delivered++;
            /* whole seconds, the millisecond difference truncated toward zero */
            p2d[np2d++] = (delivered - paid) / 1000;
            if (ready != KPI_NO_TIME) {
                p2r[np2r++] = (ready - paid) / 1000;
                r2d[nr2d++] = (delivered - ready) / 1000;
            }
        }
        i = j;
    }
    out->net_sales_fen = out->gmv_fen - out->refunds_fen;
    out->active_stalls = distinct(stalls, nstalls, NULL);
    out->consumers = distinct(consumers, nconsumers, &out->repeat_consumers);
    out->median_s_paid_to_ready = nearest_rank(p2r, np2r, 1, 2);
    out->median_s_ready_to_delivered = nearest_rank(r2d, nr2d, 1, 2);
    out->p90_s_paid_to_delivered = nearest_rank(p2d, np2d, 9, 10);
    free(stalls), free(consumers), free(p2r), free(r2d), free(p2d);
    return 0;
}

/* ---------------------------------------------------------------- JSON */

/* num/den with 4 decimals, rounded half up; null when den is 0. */
json_t *kpi_ratio(int64_t num, int64_t den)
{
    if (den <= 0 || num < 0)
        return json_null();
    __int128 q = ((__int128)num * 20000 + den) / ((__int128)den * 2);
    return json_real((double)q / 10000.0);
}

/* Whole seconds as minutes with 2 decimals, rounded half up; null for -1 (none). */
static json_t *minutes(int64_t s)
{
    if (s < 0)
        return json_null();
    /* floor(s * 100 / 60 + 1/2) = floor((10 s + 3) / 6) */
    return json_real((double)((s * 10 + 3) / 6) / 100.0);
}

json_t *kpi_json(const kpi_t *k)
{
    json_t *o = json_object();
    if (o == NULL)
        return NULL;
    struct {
        const char *name;
        json_t *v;
    } f[] = {
        {"orders_paid", json_integer(k->orders_paid)},
        {"orders_delivered", json_integer(k->orders_delivered)},
        {"orders_cancelled", json_integer(k->orders_cancelled)},
        {"gmv_fen", json_integer(k->gmv_fen)},
        {"refunds_fen", json_integer(k->refunds_fen)},
        {"net_sales_fen", json_integer(k->net_sales_fen)},
        {"items_qty_g", json_integer(k->items_qty_g)},
        {"items_qty_pieces", json_integer(k->items_qty_pieces)},
        {"active_stalls", json_integer(k->active_stalls)},
        {"stalls_total", json_integer(k->stalls_total)},
        {"active_stall_ratio", kpi_ratio(k->active_stalls, k->stalls_total)},
        {"consumers", json_integer(k->consumers)},
        {"repeat_consumers", json_integer(k->repeat_consumers)},
        {"delivered_ratio", kpi_ratio(k->orders_delivered, k->orders_paid)},
        {"median_minutes_paid_to_ready", minutes(k->median_s_paid_to_ready)},
        {"median_minutes_ready_to_delivered", minutes(k->median_s_ready_to_delivered)},
        {"p90_minutes_paid_to_delivered", minutes(k->p90_s_paid_to_delivered)},
        {"reject_ratio", kpi_ratio(k->rejected_lines, k->lines)},
        {"lines", json_integer(k->lines)},
        {"rejected_lines", json_integer(k->rejected_lines)},
        {"complaint_count", json_integer(k->complaint_count)},
    };
    int bad = 0;
    for (size_t i = 0; i < sizeof(f) / sizeof(f[0]); i++)
        if (f[i].v == NULL || json_object_set_new(o, f[i].name, f[i].v) != 0)
            bad = 1;
    if (bad) {
        json_decref(o);
        return NULL;
    }
    return o;
}

/* ---------------------------------------------------------------- checksum */

#define LINE_MAX_LEN 48 /* "<int64>:<int64>" */

static int by_line(const void *a, const void *b)
{
    return strcmp((const char *)a, (const char *)b);
}

int kpi_checksum(sale_rec_t *recs, size_t n, char hex[65])
{
    static const char digits[] = "0123456789abcdef";
    char(*lines)[LINE_MAX_LEN] = n > 0 ? malloc(n * sizeof(*lines)) : NULL;
    EVP_MD_CTX *ctx = EVP_MD_CTX_new();
    unsigned char md[32];
    unsigned mdlen = 0;
    int rc = -1;
    if ((n > 0 && lines == NULL) || ctx == NULL || EVP_DigestInit_ex(ctx, EVP_sha256(), NULL) != 1)
        goto done;
    for (size_t i = 0; i < n; i++)
        snprintf(lines[i], LINE_MAX_LEN, "%lld:%lld", (long long)recs[i].event_id, (long long)recs[i].version);
    if (n > 0)
        qsort(lines, n, sizeof(*lines), by_line);
    for (size_t i = 0; i < n; i++)
        if ((i > 0 && EVP_DigestUpdate(ctx, "\n", 1) != 1) || EVP_DigestUpdate(ctx, lines[i], strlen(lines[i])) != 1)
            goto done;
    if (EVP_DigestFinal_ex(ctx, md, &mdlen) != 1 || mdlen != 32)
        goto done;
    for (unsigned i = 0; i < 32; i++) {
        hex[2 * i] = digits[md[i] >> 4];
        hex[2 * i + 1] = digits[md[i] & 15];
    }
    hex[64] = '\0';
    rc = 0;
done:
    EVP_MD_CTX_free(ctx);
    free(lines);
    return rc;
}
