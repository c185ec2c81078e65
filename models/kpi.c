/*
 * The online-sales KPIs (see kpi.h), the one implementation of API.md's definitions. Lines
 * are folded as they come into one summary per (order, paid_day), found through the interned
 * order number; a day's figures count its summaries, the total merges each order's summaries
 * of every day first. Order numbers, consumers and stalls are interned (ids), so distinct
 * consumers and stalls are counted by sorting or marking integers. Integer arithmetic
 * throughout; only the final ratios and minutes become JSON reals.
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

#define NONE UINT32_MAX /* no summary, no id */

static int by_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static int by_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return (x > y) - (x < y);
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

/* *p holds at least need items of size bytes (*cap of them); 0 or -1. */
static int reserve(void *p, size_t *cap, size_t need, size_t size)
{
    void **pp = p;
    if (need <= *cap)
        return 0;
    size_t c = *cap > 0 ? *cap : 256;
    while (c < need) {
        if (c > SIZE_MAX / 2 / size)
            return -1;
        c *= 2;
    }
    void *q = realloc(*pp, c * size);
    if (q == NULL)
        return -1;
    *pp = q;
    *cap = c;
    return 0;
}

/* Fibonacci hashing: the top `bits` bits of h times 2^64/phi. */
static size_t slot_of(uint64_t h, unsigned bits)
{
    return (size_t)((h * 0x9E3779B97F4A7C15ULL) >> (64 - bits));
}

static uint64_t hash_str(const char *s)
{
    uint64_t h = 1469598103934665603ULL; /* FNV-1a */
    for (; *s != '\0'; s++) {
        h ^= (unsigned char)*s;
        h *= 1099511628211ULL;
    }
    return h;
}

/* Interned strings: ids 0 .. n-1, each string stored once, NUL-terminated, back to back in
 * text; an open-addressed table (linear probing, at most half full) of id + 1 (0: empty). */
typedef struct pool {
    char *text;
    size_t len, cap;
    size_t *off; /* by id: where its string starts in text */
    size_t off_cap;
    uint32_t n;
    uint32_t *slot;
    unsigned bits;
} pool_t;

static int pool_rehash(pool_t *p, unsigned bits)
{
    uint32_t *slot = calloc((size_t)1 << bits, sizeof(*slot));
    if (slot == NULL)
        return -1;
    size_t mask = ((size_t)1 << bits) - 1;
    for (uint32_t id = 0; id < p->n; id++) {
        size_t i = slot_of(hash_str(p->text + p->off[id]), bits);
        while (slot[i] != 0)
            i = (i + 1) & mask;
        slot[i] = id + 1;
    }
    free(p->slot);
    p->slot = slot;
    p->bits = bits;
    return 0;
}

/* The id of s, added if new (*added 1). 0 or -1. */
static int pool_id(pool_t *p, const char *s, uint32_t *id, int *added)
{
    if (((size_t)p->n + 1) * 2 > ((size_t)1 << p->bits) && pool_rehash(p, p->bits + 1) != 0)
        return -1;
    size_t mask = ((size_t)1 << p->bits) - 1;
    for (size_t i = slot_of(hash_str(s), p->bits);; i = (i + 1) & mask) {
        uint32_t v = p->slot[i];
        if (v == 0) {
            size_t len = strlen(s) + 1;
            if (p->n >= NONE - 1 || reserve(&p->text, &p->cap, p->len + len, 1) != 0 ||
                reserve(&p->off, &p->off_cap, (size_t)p->n + 1, sizeof(*p->off)) != 0)
                return -1;
            memcpy(p->text + p->len, s, len);
            p->off[p->n] = p->len;
            p->len += len;
            p->slot[i] = p->n + 1;
            *id = p->n++;
            *added = 1;
            return 0;
        }
        if (strcmp(p->text + p->off[v - 1], s) == 0) {
            *id = v - 1;
            *added = 0;
            return 0;
        }
    }
}

static int pool_init(pool_t *p)
{
    memset(p, 0, sizeof(*p));
    return pool_rehash(p, 8);
}

static void pool_free(pool_t *p)
{
    free(p->text);
    free(p->off);
    free(p->slot);
}

/* The summary of an order's lines of one paid_day (or, merged, of all its lines). */
typedef struct ord {
    int64_t first_event;                     /* the smallest event_id: its line's consumer counts */
    int64_t paid, ready, delivered;          /* earliest paid; latest ready (non-void), delivered */
    int64_t lines, voids;                    /* lines, void lines */
    int64_t gmv, refunds, qty_g, qty_pieces; /* sums (quantities of non-void lines) */
    int32_t day;
    uint32_t consumer; /* id in the consumers' pool */
    uint32_t next;     /* the same order's summary of another day, or NONE */
} ord_t;

/* The distinct (day, stall id) pairs, as day << 32 | stall id in an open-addressed table. */
#define PAIR_EMPTY UINT64_MAX

struct kpi_acc {
    int64_t stalls_total;
    pool_t orders, consumers, stalls;
    uint32_t *head; /* by order id: its latest summary */
    size_t head_cap;
    ord_t *ord;
    size_t nord, ord_cap;
    uint64_t *pair;
    size_t npair;
    unsigned pair_bits;
};

static int pairs_rehash(kpi_acc_t *a, unsigned bits)
{
    size_t n = (size_t)1 << bits, mask = n - 1;
    uint64_t *pair = malloc(n * sizeof(*pair));
    if (pair == NULL)
        return -1;
    for (size_t i = 0; i < n; i++)
        pair[i] = PAIR_EMPTY;
    for (size_t j = 0; a->pair != NULL && j < ((size_t)1 << a->pair_bits); j++) {
        if (a->pair[j] == PAIR_EMPTY)
            continue;
        size_t i = slot_of(a->pair[j], bits);
        while (pair[i] != PAIR_EMPTY)
            i = (i + 1) & mask;
        pair[i] = a->pair[j];
    }
    free(a->pair);
    a->pair = pair;
    a->pair_bits = bits;
    return 0;
}

static int pairs_add(kpi_acc_t *a, int32_t day, uint32_t stall)
{
    uint64_t key = (uint64_t)(uint32_t)day << 32 | stall; /* never PAIR_EMPTY: stall < NONE */
    if ((a->npair + 1) * 2 > ((size_t)1 << a->pair_bits) && pairs_rehash(a, a->pair_bits + 1) != 0)
        return -1;
    size_t mask = ((size_t)1 << a->pair_bits) - 1;
    for (size_t i = slot_of(key, a->pair_bits);; i = (i + 1) & mask) {
        if (a->pair[i] == key)
            return 0;
        if (a->pair[i] == PAIR_EMPTY) {
            a->pair[i] = key;
            a->npair++;
            return 0;
        }
    }
}

void kpi_acc_free(kpi_acc_t *a)
{
    if (a == NULL)
        return;
    pool_free(&a->orders);
    pool_free(&a->consumers);
    pool_free(&a->stalls);
    free(a->head);
    free(a->ord);
    free(a->pair);
    free(a);
}

kpi_acc_t *kpi_acc_new(int64_t stalls_total)
{
    kpi_acc_t *a = calloc(1, sizeof(*a));
    if (a == NULL)
        return NULL;
    a->stalls_total = stalls_total;
    if (pool_init(&a->orders) != 0 || pool_init(&a->consumers) != 0 || pool_init(&a->stalls) != 0 ||
        pairs_rehash(a, 8) != 0) {
        kpi_acc_free(a);
        return NULL;
    }
    return a;
}

/* The line r into the summary of its order and day (new if there is none yet). */
static int add_line(kpi_acc_t *a, const sale_rec_t *r)
{
    uint32_t oid, id;
    int added;
    if (pool_id(&a->orders, r->order_no, &oid, &added) != 0)
        return -1;
    if (added) {
        if (reserve(&a->head, &a->head_cap, (size_t)oid + 1, sizeof(*a->head)) != 0)
            return -1;
        a->head[oid] = NONE;
    }
    uint32_t k = a->head[oid];
    while (k != NONE && a->ord[k].day != r->paid_day)
        k = a->ord[k].next;
    if (k == NONE) {
        if (a->nord >= NONE || reserve(&a->ord, &a->ord_cap, a->nord + 1, sizeof(*a->ord)) != 0 ||
            pool_id(&a->consumers, r->consumer_ref, &id, &added) != 0)
            return -1;
        k = (uint32_t)a->nord++;
        ord_t *o = &a->ord[k];
        memset(o, 0, sizeof(*o));
        o->first_event = r->event_id;
        o->paid = r->paid_ms;
        o->ready = o->delivered = KPI_NO_TIME;
        o->day = r->paid_day;
        o->consumer = id;
        o->next = a->head[oid];
        a->head[oid] = k;
    } else if (r->event_id < a->ord[k].first_event) {
        if (pool_id(&a->consumers, r->consumer_ref, &id, &added) != 0)
            return -1;
        a->ord[k].first_event = r->event_id;
        a->ord[k].consumer = id;
    }
    ord_t *o = &a->ord[k];
    o->lines++;
    o->gmv += r->amount_fen;
    o->refunds += r->refunded_fen;
    if (r->paid_ms < o->paid)
        o->paid = r->paid_ms;
    if (r->delivered_ms != KPI_NO_TIME && r->delivered_ms > o->delivered)
        o->delivered = r->delivered_ms;
    if (r->is_void) {
        o->voids++;
        return 0;
    }
    int64_t q = r->qty_actual != KPI_NO_TIME ? r->qty_actual : r->qty;
    if (r->is_weight)
        o->qty_g += q;
    else
        o->qty_pieces += q;
    if (r->ready_ms != KPI_NO_TIME && r->ready_ms > o->ready)
        o->ready = r->ready_ms;
    if (pool_id(&a->stalls, r->stall_no, &id, &added) != 0 || pairs_add(a, r->paid_day, id) != 0)
        return -1;
    return 0;
}

int kpi_acc_add(kpi_acc_t *a, const sale_rec_t *recs, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (add_line(a, &recs[i]) != 0)
            return -1;
    return 0;
}

/* The KPIs of a set of orders being counted: their consumers and their times in whole seconds
 * (arrays of as many items as there are orders). */
typedef struct fold {
    kpi_t *k;
    uint32_t *cons;
    int64_t *p2r, *r2d, *p2d;
    size_t ncons, np2r, nr2d, np2d;
} fold_t;

static void fold_start(fold_t *f, kpi_t *k, int64_t stalls_total)
{
    memset(k, 0, sizeof(*k));
    k->stalls_total = stalls_total;
    k->median_s_paid_to_ready = k->median_s_ready_to_delivered = k->p90_s_paid_to_delivered = -1;
    f->k = k;
    f->ncons = f->np2r = f->nr2d = f->np2d = 0;
}

static void fold_order(fold_t *f, const ord_t *o)
{
    kpi_t *k = f->k;
    k->orders_paid++;
    k->lines += o->lines;
    k->gmv_fen += o->gmv;
    k->refunds_fen += o->refunds;
    k->items_qty_g += o->qty_g;
    k->items_qty_pieces += o->qty_pieces;
    f->cons[f->ncons++] = o->consumer; /* an order has one consumer */
    if (o->voids == o->lines)
        k->orders_cancelled++;
    else
        k->rejected_lines += o->voids;
    if (o->delivered != KPI_NO_TIME) {
        k->orders_delivered++;
        /* whole seconds, the millisecond difference truncated toward zero */
        f->p2d[f->np2d++] = (o->delivered - o->paid) / 1000;
        if (o->ready != KPI_NO_TIME) {
            f->p2r[f->np2r++] = (o->ready - o->paid) / 1000;
            f->r2d[f->nr2d++] = (o->delivered - o->ready) / 1000;
        }
    }
}

/* Net sales, the distinct consumers and those with two orders or more, the medians. */
static void fold_end(fold_t *f)
{
    kpi_t *k = f->k;
    k->net_sales_fen = k->gmv_fen - k->refunds_fen;
    qsort(f->cons, f->ncons, sizeof(*f->cons), by_u32);
    for (size_t i = 0; i < f->ncons;) {
        size_t j = i + 1;
        while (j < f->ncons && f->cons[j] == f->cons[i])
            j++;
        k->consumers++;
        k->repeat_consumers += j - i >= 2;
        i = j;
    }
    k->median_s_paid_to_ready = nearest_rank(f->p2r, f->np2r, 1, 2);
    k->median_s_ready_to_delivered = nearest_rank(f->r2d, f->nr2d, 1, 2);
    k->p90_s_paid_to_delivered = nearest_rank(f->p2d, f->np2d, 9, 10);
}

static int fold_alloc(fold_t *f, size_t n)
{
    n = n > 0 ? n : 1;
    f->cons = malloc(n * sizeof(*f->cons));
    f->p2r = malloc(n * sizeof(*f->p2r));
    f->r2d = malloc(n * sizeof(*f->r2d));
    f->p2d = malloc(n * sizeof(*f->p2d));
    return f->cons != NULL && f->p2r != NULL && f->r2d != NULL && f->p2d != NULL ? 0 : -1;
}

static void fold_free(fold_t *f)
{
    free(f->cons), free(f->p2r), free(f->r2d), free(f->p2d);
}

int kpi_acc_days(const kpi_acc_t *a, int32_t d0, size_t ndays, kpi_t *days)
{
    fold_t f = {0};
    for (size_t d = 0; d < ndays; d++)
        fold_start(&f, &days[d], a->stalls_total);
    if (ndays == 0)
        return 0;
    /* the summaries of the range by day (a counting sort): day d's are idx[at[d] .. at[d+1]) */
    size_t *at = calloc(ndays + 1, sizeof(*at)), *fill = calloc(ndays, sizeof(*fill)), most = 0;
    uint32_t *idx = NULL;
    int rc = -1;
    if (at == NULL || fill == NULL)
        goto done;
    for (size_t k = 0; k < a->nord; k++) {
        int64_t d = (int64_t)a->ord[k].day - d0;
        if (d >= 0 && (uint64_t)d < ndays)
            at[d + 1]++;
    }
    for (size_t d = 0; d < ndays; d++) {
        most = at[d + 1] > most ? at[d + 1] : most;
        at[d + 1] += at[d];
    }
    if ((idx = malloc((at[ndays] > 0 ? at[ndays] : 1) * sizeof(*idx))) == NULL || fold_alloc(&f, most) != 0)
        goto done;
    for (size_t k = 0; k < a->nord; k++) {
        int64_t d = (int64_t)a->ord[k].day - d0;
        if (d >= 0 && (uint64_t)d < ndays)
            idx[at[d] + fill[d]++] = (uint32_t)k;
    }
    for (size_t d = 0; d < ndays; d++) {
        fold_start(&f, &days[d], a->stalls_total);
        for (size_t i = at[d]; i < at[d + 1]; i++)
            fold_order(&f, &a->ord[idx[i]]);
        fold_end(&f);
    }
    for (size_t j = 0; j < ((size_t)1 << a->pair_bits); j++) {
        if (a->pair[j] == PAIR_EMPTY)
            continue;
        int64_t d = (int64_t)(int32_t)(uint32_t)(a->pair[j] >> 32) - d0;
        if (d >= 0 && (uint64_t)d < ndays)
            days[d].active_stalls++;
    }
    rc = 0;
done:
    fold_free(&f);
    free(at), free(fill), free(idx);
    return rc;
}

int kpi_acc_day(const kpi_acc_t *a, int32_t day, kpi_t *out)
{
    return kpi_acc_days(a, day, 1, out);
}

int kpi_acc_total(const kpi_acc_t *a, kpi_t *out)
{
    fold_t f = {0};
    uint32_t n = a->orders.n;
    unsigned char *seen = calloc(a->stalls.n > 0 ? a->stalls.n : 1, 1);
    fold_start(&f, out, a->stalls_total);
    if (seen == NULL || fold_alloc(&f, n) != 0) {
        fold_free(&f);
        free(seen);
        return -1;
    }
    /* each order whole: its summaries of every day merged */
    for (uint32_t oid = 0; oid < n; oid++) {
        uint32_t k = a->head[oid];
        ord_t m = a->ord[k];
        for (k = m.next; k != NONE; k = a->ord[k].next) {
            const ord_t *o = &a->ord[k];
            m.lines += o->lines;
            m.voids += o->voids;
            m.gmv += o->gmv;
            m.refunds += o->refunds;
            m.qty_g += o->qty_g;
            m.qty_pieces += o->qty_pieces;
            if (o->paid < m.paid)
                m.paid = o->paid;
            if (o->ready != KPI_NO_TIME && o->ready > m.ready)
                m.ready = o->ready;
            if (o->delivered != KPI_NO_TIME && o->delivered > m.delivered)
                m.delivered = o->delivered;
            if (o->first_event < m.first_event) {
                m.first_event = o->first_event;
                m.consumer = o->consumer;
            }
        }
        fold_order(&f, &m);
    }
    fold_end(&f);
    for (size_t j = 0; j < ((size_t)1 << a->pair_bits); j++) {
        if (a->pair[j] == PAIR_EMPTY)
            continue;
        uint32_t stall = (uint32_t)(a->pair[j] & 0xFFFFFFFFu);
        out->active_stalls += !seen[stall];
        seen[stall] = 1;
    }
    fold_free(&f);
    free(seen);
    return 0;
}

int kpi_compute(sale_rec_t *recs, size_t n, int64_t stalls_total, kpi_t *out)
{
    kpi_acc_t *a = kpi_acc_new(stalls_total);
    int rc = a != NULL && kpi_acc_add(a, recs, n) == 0 && kpi_acc_total(a, out) == 0 ? 0 : -1;
    kpi_acc_free(a);
    if (rc != 0) {
        memset(out, 0, sizeof(*out));
        out->stalls_total = stalls_total;
        out->median_s_paid_to_ready = out->median_s_ready_to_delivered = out->p90_s_paid_to_delivered = -1;
    }
    return rc;
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
