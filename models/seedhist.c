/*
 * The demo's history (seed.h, seed_history): a market's last days of online orders, each
 * driven through the real model functions with the session clock set to the moment the
 * step is simulated at (SET timestamp), so the orders, events, payments, refunds,
 * deliveries, offers, ratings, complaints and the sales change log are what production
 * would have written at those moments. Every choice comes from a fixed PRNG (splitmix64)
 * seeded per market and day, so two machines seeding on the same date get the same orders
 * (order numbers, trade numbers and delivery codes stay random: they come from RAND_bytes
 * inside the models). Single-threaded CLI use.
 */
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/address.h"
#include "models/courier.h"
#include "models/delivery.h"
#include "models/feedback.h"
#include "models/fulfil.h"
#include "models/order.h"
#include "models/payment.h"
#include "models/seed.h"
#include "models/user.h"

#define NELEM(a) (sizeof(a) / sizeof((a)[0]))

#define HIST_SEED      0x5eed2026d3a0b1c7ULL /* the PRNG's seed: change it and the demo changes */
#define MAX_PRODUCTS   512
#define MAX_STALLS     64
#define MAX_COURIERS   16
#define MAX_CONSUMERS  128
#define MAX_VOS        4      /* stalls of one order */
#define MAX_LINES      6      /* lines of one order */
#define RESTOCK_G      500000 /* grams (or pieces / 250) added for the run, taken back after */
#define COMPLAINTS_MAX 3

/* ---------------------------------------------------------------- the PRNG */

typedef struct rng {
    uint64_t s;
} rng_t;

static uint64_t next(rng_t *r) /* splitmix64 */
{
    uint64_t x = (r->s += 0x9e3779b97f4a7c15ULL);
    x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
    x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
    return x ^ (x >> 31);
}

/* lo..hi inclusive. */
static int64_t between(rng_t *r, int64_t lo, int64_t hi)
{
    return hi <= lo ? lo : lo + (int64_t)(next(r) % (uint64_t)(hi - lo + 1));
}

/* 1 with probability per_mille / 1000. */
static int chance(rng_t *r, int per_mille)
{
    return (int)(next(r) % 1000) < per_mille;
}

/* ---------------------------------------------------------------- what a market offers */

typedef struct product {
    int64_t id, stall_id, price_fen, per_g;
    int weight;
    char category[32];
} product_t;

typedef struct stall {
    int64_t id, vendor_id;
    size_t first, n; /* its products in world.products */
} stall_t;

typedef struct consumer {
    int64_t id, address_id;
    int weight; /* how often this one orders, relative */
} consumer_t;

typedef struct world {
    db_t *db;
    redis_t *r;
    const seed_t *s;
    double lat, lng;
    product_t products[MAX_PRODUCTS];
    size_t nproducts;
    stall_t stalls[MAX_STALLS];
    size_t nstalls;
    int64_t couriers[MAX_COURIERS];
    size_t ncouriers;
    consumer_t consumers[MAX_CONSUMERS];
    size_t nconsumers;
    int total_weight;
    int64_t operator_id;
    time_t located; /* wall clock of the couriers' last location */
    /* what was made */
    int orders, delivered, cancelled, rejected, lighter, rated, complained;
    int64_t complaint_ids[COMPLAINTS_MAX];
    int64_t complaint_at[COMPLAINTS_MAX]; /* simulated ms */
    char *err;
    size_t errlen;
} world_t;

static int failed(world_t *w, sf_status_t rc, const char *what, int64_t order_id)
{
    snprintf(w->err, w->errlen, "demo history of %s: %s (order %" PRId64 "): status %d: %s", seed_market_code(w->s),
             what, order_id, (int)rc, w->db->err);
    return -1;
}

/* The session clock (NOW(3), CURRENT_TIMESTAMP(3) and the column defaults) at ms since the
 * epoch; 0: back to the real clock. */
static sf_status_t clock_at(db_t *db, int64_t ms)
{
    if (ms == 0)
        return db_exec(db, "SET timestamp = DEFAULT", NULL, 0, NULL, NULL);
    return db_exec(db, "SET timestamp = ? / 1000", (db_param_t[]){DB_I64(ms)}, 1, NULL, NULL);
}

static int load_products(world_t *w)
{
    db_rows_t *rows = NULL;
    sf_status_t rc = db_query(w->db,
                              "SELECT p.id, p.stall_id, s.vendor_id, p.pricing_mode = 'weight', p.price_fen,"
                              " COALESCE(p.per_g, 0), p.category FROM products p JOIN stalls s ON s.id = p.stall_id"
                              " JOIN vendors v ON v.id = p.vendor_id WHERE p.market_id = ? AND p.status = 'on_sale'"
                              " AND v.status = 'active' ORDER BY s.stall_no, p.id",
                              (db_param_t[]){DB_I64(w->s->market_id)}, 1, &rows);
    while (rc == DB_OK && db_rows_next(rows) && w->nproducts < MAX_PRODUCTS) {
        product_t *p = &w->products[w->nproducts];
        p->id = db_rows_i64(rows, 0);
        p->stall_id = db_rows_i64(rows, 1);
        p->weight = (int)db_rows_i64(rows, 3);
        p->price_fen = db_rows_i64(rows, 4);
        p->per_g = db_rows_i64(rows, 5);
        db_rows_copy(rows, 6, p->category, sizeof(p->category));
        if (w->nstalls == 0 || w->stalls[w->nstalls - 1].id != p->stall_id) {
            if (w->nstalls == MAX_STALLS)
                break;
            w->stalls[w->nstalls++] =
                (stall_t){.id = p->stall_id, .vendor_id = db_rows_i64(rows, 2), .first = w->nproducts};
        }
        w->stalls[w->nstalls - 1].n++;
        w->nproducts++;
    }
    db_rows_free(rows);
    if (rc != DB_OK)
        return failed(w, rc, "reading the products", 0);
    rows = NULL;
    rc = db_query(w->db, "SELECT id FROM couriers WHERE market_id = ? AND status = 'active' ORDER BY id",
                  (db_param_t[]){DB_I64(w->s->market_id)}, 1, &rows);
    while (rc == DB_OK && db_rows_next(rows) && w->ncouriers < MAX_COURIERS)
        w->couriers[w->ncouriers++] = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (rc != DB_OK)
        return failed(w, rc, "reading the couriers", 0);
    if (w->nstalls == 0 || w->ncouriers == 0) {
        snprintf(w->err, w->errlen, "demo history of %s: no products or no couriers", seed_market_code(w->s));
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- the consumers */

static const char *const family[] = {"王", "李", "张", "刘", "陈", "杨", "赵", "黄", "周", "吴", "徐", "孙",
                                     "马", "朱", "胡", "郭", "何", "高", "林", "罗", "郑", "梁", "谢", "宋"};
static const char *const given[] = {"女士", "先生", "阿姨", "大爷", "老师", "姐"};
static const char *const estates[] = {"兴华小区",       "航海东路佳苑",     "大学路铁路家属院", "福华街锦绣花园",
                                      "连云路幸福里",   "京广南路政通小区", "淮河路金色港湾",   "嵩山南路绿城百合",
                                      "政通路建设家园", "长江路幸福人家",   "兴华南街电力小区", "勤劳街和美家园"};
static const char *const estates2[] = {"丰乐路电力小区", "文化路农科院家属院", "红专路同乐小区",
                                       "丰产路华林都市", "东风路锦艺城",       "农业路省委家属院"};

/* The market's demo consumers, made once (their WeChat openids are the key), each with an
 * address within a few kilometres of the market. A few order much more often than the rest. */
static int make_consumers(world_t *w, rng_t *g, size_t n)
{
    const char *code = seed_market_code(w->s);
    int first = w->s->which == 0;
    for (size_t i = 0; i < n && i < MAX_CONSUMERS; i++) {
        char openid[64], name[32], text[160], phone[16];
        user_auth_t u;
        snprintf(openid, sizeof(openid), "seed-%s-%02zu", code, i + 1);
        snprintf(name, sizeof(name), "%s%s", family[(i * 7 + (size_t)w->s->which) % NELEM(family)],
                 given[i % NELEM(given)]);
        sf_status_t rc = user_upsert_wechat(w->db, openid, name, &u);
        if (rc != DB_OK)
            return failed(w, rc, "a demo consumer", 0);
        consumer_t *c = &w->consumers[w->nconsumers++];
        c->id = u.id;
        c->weight = i < 8 ? 3 : i < 32 ? 2 : 1;
        w->total_weight += c->weight;
        db_rows_t *rows = NULL;
        rc = db_query_row(w->db, "SELECT id FROM addresses WHERE user_id = ? ORDER BY id LIMIT 1",
                          (db_param_t[]){DB_I64(c->id)}, 1, &rows);
        if (rc == DB_OK)
            c->address_id = db_rows_i64(rows, 0);
        db_rows_free(rows);
        if (rc == DB_OK)
            continue;
        if (rc != DB_NOROW)
            return failed(w, rc, "a demo consumer's address", 0);
        double dist = (double)between(g, 200, 2600), angle = (double)between(g, 0, 359) * M_PI / 180.0;
        const char *estate =
            first ? estates[between(g, 0, NELEM(estates) - 1)] : estates2[between(g, 0, NELEM(estates2) - 1)];
        snprintf(text, sizeof(text), "%s%d号楼%d单元%d", estate, (int)between(g, 1, 18), (int)between(g, 1, 4),
                 (int)between(g, 1, 18) * 100 + (int)between(g, 1, 4));
        snprintf(phone, sizeof(phone), "1%c%09" PRId64, "35789"[between(g, 0, 4)], between(g, 0, 999999999));
        address_input_t in = {.name = name,
                              .phone = phone,
                              .text = text,
                              .lat = w->lat + dist * cos(angle) / 111000.0,
                              .lng = w->lng + dist * sin(angle) / (111000.0 * cos(w->lat * M_PI / 180.0))};
        if ((rc = address_create(w->db, c->id, &in, &c->address_id)) != DB_OK)
            return failed(w, rc, "a demo consumer's address", 0);
    }
    return 0;
}

static const consumer_t *pick_consumer(world_t *w, rng_t *g)
{
    int64_t k = between(g, 0, w->total_weight - 1);
    for (size_t i = 0; i < w->nconsumers; i++) {
        k -= w->consumers[i].weight;
        if (k < 0)
            return &w->consumers[i];
    }
    return &w->consumers[0];
}

/* ---------------------------------------------------------------- one order */

/* Grams a household buys of a weighed product of this category, in 50 g steps. */
static int64_t grams(rng_t *g, const product_t *p)
{
    int64_t lo = 300, hi = 1500;
    if (strncmp(p->category, "meat", 4) == 0 || strncmp(p->category, "aquatic", 7) == 0)
        lo = 250, hi = 1250;
    else if (strncmp(p->category, "fruit", 5) == 0)
        lo = 500, hi = 2500;
    else if (strncmp(p->category, "grain", 5) == 0)
        lo = 500, hi = 5000;
    else if (strcmp(p->category, "veg-fungi") == 0 || strcmp(p->category, "veg-allium") == 0)
        lo = 150, hi = 750;
    return between(g, lo / 50, hi / 50) * 50;
}

typedef struct vo {
    int64_t id, vendor_id, stall_id;
    int reject;
    int64_t accept_ms, pick_ms, ready_ms;
} vo_t;

typedef struct plan {
    const consumer_t *c;
    cart_line_t lines[MAX_LINES];
    size_t nlines;
    int64_t checkout_ms, pay_ms;
    int cancel;
    pay_provider_t provider;
} plan_t;

/* The lines of an order: 1-4 stalls (most often one or two), 1-3 products at each. */
static void plan_lines(world_t *w, rng_t *g, plan_t *p)
{
    int64_t roll = between(g, 0, 99);
    size_t nst = roll < 40 ? 1 : roll < 73 ? 2 : roll < 92 ? 3 : 4, used[MAX_VOS];
    if (nst > w->nstalls)
        nst = w->nstalls;
    p->nlines = 0;
    for (size_t k = 0; k < nst; k++) {
        size_t si;
        int again;
        do {
            si = (size_t)between(g, 0, (int64_t)w->nstalls - 1);
            again = 0;
            for (size_t j = 0; j < k; j++)
                again |= used[j] == si;
        } while (again);
        used[k] = si;
        const stall_t *st = &w->stalls[si];
        size_t want = (size_t)between(g, 1, 3), start = (size_t)between(g, 0, (int64_t)st->n - 1);
        if (want > st->n)
            want = st->n;
        for (size_t j = 0; j < want && p->nlines < MAX_LINES - (nst - k - 1); j++) {
            const product_t *pr = &w->products[st->first + (start + j) % st->n];
            int64_t qty = pr->weight ? grams(g, pr) : pr->price_fen < 300 ? between(g, 4, 12) : between(g, 1, 3);
            p->lines[p->nlines++] = (cart_line_t){.product_id = pr->id, .qty = qty};
        }
    }
}

/* ---------------------------------------------------------------- transactions of _tx steps */

typedef struct settle_ctx {
    const char *out_refund_no, *provider_id;
} settle_ctx_t;

static sf_status_t settle_tx(db_t *db, void *ctx)
{
    const settle_ctx_t *c = ctx;
    return payment_refund_settle_tx(db, c->out_refund_no, c->provider_id, 1);
}

typedef struct paid_ctx {
    const pay_paid_t *paid;
    pay_outcome_t outcome;
} paid_ctx_t;

static sf_status_t paid_tx(db_t *db, void *ctx)
{
    paid_ctx_t *c = ctx;
    return payment_record_paid_tx(db, c->paid, &c->outcome);
}

typedef struct dispatch_ctx {
    redis_t *r;
    int64_t order_id, delivery_id;
    delivery_step_t st;
} dispatch_ctx_t;

/* What the dispatch worker does with an order to carry: its delivery, then one step. */
static sf_status_t dispatch_tx(db_t *db, void *ctx)
{
    dispatch_ctx_t *c = ctx;
    sf_status_t rc = delivery_ensure_tx(db, c->order_id, &c->delivery_id);
    return rc == DB_OK ? delivery_drive_tx(db, c->r, c->delivery_id, &c->st) : rc;
}

/* Settles the order's pending refunds as the refund worker does once the provider answers. */
static int settle_refunds(world_t *w, int64_t order_id, int64_t at_ms)
{
    db_rows_t *rows = NULL;
    char nos[16][PAY_OUT_REFUND_NO_LEN + 8];
    size_t n = 0;
    sf_status_t rc =
        db_query(w->db, "SELECT out_refund_no FROM refunds WHERE order_id = ? AND status = 'pending' ORDER BY id",
                 (db_param_t[]){DB_I64(order_id)}, 1, &rows);
    while (rc == DB_OK && db_rows_next(rows) && n < NELEM(nos))
        db_rows_copy(rows, 0, nos[n++], sizeof(nos[0]));
    db_rows_free(rows);
    if (rc != DB_OK)
        return failed(w, rc, "reading refunds", order_id);
    for (size_t i = 0; i < n; i++) {
        char provider_id[48];
        snprintf(provider_id, sizeof(provider_id), "5030%08" PRId64 "%s", order_id, nos[i] + 1);
        settle_ctx_t c = {.out_refund_no = nos[i], .provider_id = provider_id};
        if ((rc = clock_at(w->db, at_ms + (int64_t)i * 1000)) != DB_OK || (rc = db_tx(w->db, settle_tx, &c)) != DB_OK)
            return failed(w, rc, "settling a refund", order_id);
    }
    return 0;
}

/* The couriers on shift at the market, heard from recently enough for dispatch. */
static int locate_couriers(world_t *w)
{
    for (size_t i = 0; i < w->ncouriers; i++) {
        courier_held_t held[COURIER_HELD_MAX];
        size_t nheld = 0;
        sf_status_t rc = courier_locate(w->db, w->r, w->s->market_id, w->couriers[i], w->lat + 0.0002 * (double)i,
                                        w->lng, held, &nheld);
        if (rc != SF_OK)
            return failed(w, rc, "a courier's location", 0);
    }
    w->located = time(NULL);
    return 0;
}

static int shifts(world_t *w, int on)
{
    for (size_t i = 0; i < w->ncouriers; i++) {
        json_t *out = NULL;
        sf_status_t rc = courier_set_shift(w->db, w->r, w->s->market_id, w->couriers[i], on, &out);
        json_decref(out);
        if (rc != SF_OK)
            return failed(w, rc, "a courier's shift", 0);
    }
    return on ? locate_couriers(w) : 0;
}

/* Dispatch, the courier's accept, pickup and delivery with the consumer's code. */
static int deliver(world_t *w, rng_t *g, int64_t order_id, int64_t ready_ms, int64_t *delivered_ms)
{
    int64_t oid = 0;
    json_t *out = NULL;
    if (time(NULL) - w->located >= w->db->cfg->courier_heartbeat_s / 2 && locate_couriers(w) != 0)
        return -1;
    int64_t at = ready_ms + between(g, 5, 40) * 1000;
    dispatch_ctx_t dc = {.r = w->r, .order_id = order_id};
    sf_status_t rc = clock_at(w->db, at);
    if (rc != DB_OK || (rc = db_tx(w->db, dispatch_tx, &dc)) != DB_OK)
        return failed(w, rc, "dispatch", order_id);
    if (dc.st.result != DRIVE_OFFERED) {
        snprintf(w->err, w->errlen, "demo history: the delivery of order %" PRId64 " was offered to nobody (%d)",
                 order_id, (int)dc.st.result);
        return -1;
    }
    int64_t ttl = w->db->cfg->dispatch_offer_ttl_s, courier = dc.st.courier_id, delivery_id = dc.delivery_id;
    at += between(g, 3, ttl > 25 ? 20 : ttl - 2) * 1000;
    if ((rc = clock_at(w->db, at)) != DB_OK ||
        (rc = delivery_accept(w->db, w->s->market_id, courier, delivery_id, &out, &oid)) != SF_OK)
        return failed(w, rc, "the courier's accept", order_id);
    json_decref(out);
    out = NULL;
    int64_t pickup = ready_ms + between(g, 3, 10) * 60000 + between(g, 0, 59) * 1000;
    if ((rc = clock_at(w->db, pickup)) != DB_OK ||
        (rc = delivery_pickup(w->db, courier, delivery_id, &out, &oid)) != SF_OK)
        return failed(w, rc, "the pickup", order_id);
    json_decref(out);
    out = NULL;
    db_rows_t *rows = NULL;
    char code[8] = "";
    rc = db_query_row(w->db, "SELECT code FROM deliveries WHERE id = ?", (db_param_t[]){DB_I64(delivery_id)}, 1, &rows);
    if (rc == DB_OK)
        db_rows_copy(rows, 0, code, sizeof(code));
    db_rows_free(rows);
    *delivered_ms = ready_ms + between(g, 15, 60) * 60000 + between(g, 0, 59) * 1000;
    if (*delivered_ms < pickup + 5 * 60000)
        *delivered_ms = pickup + 5 * 60000 + between(g, 0, 120) * 1000;
    if (rc != DB_OK || (rc = clock_at(w->db, *delivered_ms)) != DB_OK ||
        (rc = delivery_deliver(w->db, courier, delivery_id, code, NULL, &out, &oid)) != SF_OK)
        return failed(w, rc, "the delivery", order_id);
    json_decref(out);
    return 0;
}

static const char *const reject_reasons[] = {"这个品种今天卖完了，抱歉", "摊位临时有事，今天不接线上单",
                                             "货不太新鲜了，不卖给您了，抱歉"};
static const char *const rating_texts[] = {
    "菜很新鲜，分量足", "称重准确，下次还来", "送得很快，包装仔细", "肉质不错，老板人好", NULL, NULL, NULL};
static const char *const complaint_texts[] = {"称重少了二两，希望市场核实一下电子秤。", "送到的青菜有点蔫，不太新鲜。",
                                              "订单里的一样东西没收到，也没有说明。"};

/* The vendor orders of an order, in id order, with their plan. */
static int load_vos(world_t *w, int64_t order_id, vo_t *vos, size_t *n)
{
    db_rows_t *rows = NULL;
    *n = 0;
    sf_status_t rc = db_query(w->db, "SELECT id, vendor_id, stall_id FROM vendor_orders WHERE order_id = ? ORDER BY id",
                              (db_param_t[]){DB_I64(order_id)}, 1, &rows);
    while (rc == DB_OK && db_rows_next(rows) && *n < MAX_VOS) {
        vos[*n] =
            (vo_t){.id = db_rows_i64(rows, 0), .vendor_id = db_rows_i64(rows, 1), .stall_id = db_rows_i64(rows, 2)};
        (*n)++;
    }
    db_rows_free(rows);
    return rc == DB_OK ? 0 : failed(w, rc, "reading vendor orders", order_id);
}

/* Picks a vendor order: most weighed lines come out right or a little heavier (no charge),
 * about one in twenty lighter (the difference is refunded). */
static int pick(world_t *w, rng_t *g, int64_t order_id, const vo_t *v, const fulfil_actor_t *who)
{
    db_rows_t *rows = NULL;
    fulfil_pick_line_t lines[MAX_LINES];
    size_t n = 0;
    int lighter = 0;
    sf_status_t rc = db_query(w->db,
                              "SELECT id, pricing_mode = 'weight', qty FROM order_lines WHERE vendor_order_id = ?"
                              " ORDER BY id",
                              (db_param_t[]){DB_I64(v->id)}, 1, &rows);
    while (rc == DB_OK && db_rows_next(rows) && n < MAX_LINES) {
        int64_t qty = db_rows_i64(rows, 2), actual = qty;
        if (db_rows_i64(rows, 1)) {
            int64_t roll = between(g, 0, 99);
            if (roll < 5) {
                actual = qty * between(g, 85, 97) / 100;
                lighter = 1;
            } else if (roll < 30) {
                actual = qty * between(g, 100, 106) / 100;
            }
        }
        lines[n++] = (fulfil_pick_line_t){.line_id = db_rows_i64(rows, 0), .qty_actual = actual};
    }
    db_rows_free(rows);
    if (rc != DB_OK)
        return failed(w, rc, "reading order lines", order_id);
    fulfil_result_t res;
    rc = fulfil_pick(w->db, who, v->id, lines, n, &res, NULL, NULL);
    if (rc != DB_OK)
        return failed(w, rc, "the pick", order_id);
    w->lighter += lighter;
    return res.refund_fen > 0 ? 1 : 0;
}

typedef enum step_kind { STEP_ACCEPT, STEP_REJECT, STEP_PICK, STEP_READY } step_kind_t;

typedef struct step {
    int64_t at;
    step_kind_t kind;
    size_t vo;
} step_t;

static int by_time(const void *a, const void *b)
{
    const step_t *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* One consumer's order from checkout to delivery (or its cancel, or every stall rejecting). */
static int one_order(world_t *w, rng_t *g, const plan_t *p, int *complaint_due)
{
    int64_t order_id = 0, market = 0;
    sf_status_t rc = clock_at(w->db, p->checkout_ms);
    order_checkout_t in = {.user_id = p->c->id,
                           .market_id = w->s->market_id,
                           .address_id = p->c->address_id,
                           .lines = p->lines,
                           .nlines = p->nlines,
                           .delivery_fee_fen = w->db->cfg->order_delivery_fee_fen,
                           .free_delivery_from_fen = w->db->cfg->order_free_delivery_from_fen,
                           .radius_m = w->db->cfg->order_delivery_radius_m,
                           .unpaid_timeout_s = w->db->cfg->order_unpaid_timeout_s};
    if (rc != DB_OK || (rc = order_checkout(w->db, &in, &order_id, NULL)) != DB_OK)
        return failed(w, rc, "checkout", 0);
    w->orders++;

    /* The payment, recorded as the notification path records a sandbox payment. */
    pay_attempt_t a;
    char txid[40];
    if ((rc = clock_at(w->db, p->checkout_ms + between(g, 5, 15) * 1000)) != DB_OK ||
        (rc = payment_create(w->db, p->c->id, order_id, p->provider, &a)) != DB_OK)
        return failed(w, rc, "the payment attempt", order_id);
    snprintf(txid, sizeof(txid), "%s%010" PRId64 "%014" PRIu64, p->provider == PAY_WECHAT ? "4200" : "2026", order_id,
             (uint64_t)(next(g) % 100000000000000ULL));
    pay_paid_t paid = {
        .provider = p->provider, .out_trade_no = a.out_trade_no, .transaction_id = txid, .amount_fen = a.amount_fen};
    paid_ctx_t pc = {.paid = &paid};
    if ((rc = clock_at(w->db, p->pay_ms)) != DB_OK || (rc = db_tx(w->db, paid_tx, &pc)) != DB_OK ||
        pc.outcome != PAY_RECORDED)
        return failed(w, rc, "recording the payment", order_id);

    if (p->cancel) {
        int64_t at = p->pay_ms + between(g, 60, 360) * 1000;
        if ((rc = clock_at(w->db, at)) != DB_OK ||
            (rc = payment_cancel_by_consumer(w->db, p->c->id, order_id, &market)) != DB_OK)
            return failed(w, rc, "the consumer's cancel", order_id);
        w->cancelled++;
        return settle_refunds(w, order_id, at + between(g, 30, 150) * 1000);
    }

    /* The stalls: accept (or, rarely, reject), pick, ready, in the order of their moments. */
    vo_t vos[MAX_VOS];
    size_t nvo = 0, nsteps = 0, live = 0;
    step_t steps[MAX_VOS * 3];
    if (load_vos(w, order_id, vos, &nvo) != 0)
        return -1;
    int64_t ready_max = 0;
    for (size_t i = 0; i < nvo; i++) {
        vo_t *v = &vos[i];
        v->accept_ms = p->pay_ms + between(g, 40, 480) * 1000;
        v->reject = chance(g, 30);
        if (v->reject) {
            steps[nsteps++] = (step_t){v->accept_ms, STEP_REJECT, i};
            continue;
        }
        live++;
        v->ready_ms = p->pay_ms + between(g, 10, 40) * 60000 + between(g, 0, 59) * 1000;
        if (v->ready_ms < v->accept_ms + 6 * 60000)
            v->ready_ms = v->accept_ms + 6 * 60000 + between(g, 0, 120) * 1000;
        v->pick_ms = v->ready_ms - between(g, 60, 240) * 1000;
        if (v->ready_ms > ready_max)
            ready_max = v->ready_ms;
        steps[nsteps++] = (step_t){v->accept_ms, STEP_ACCEPT, i};
        steps[nsteps++] = (step_t){v->pick_ms, STEP_PICK, i};
        steps[nsteps++] = (step_t){v->ready_ms, STEP_READY, i};
    }
    qsort(steps, nsteps, sizeof(steps[0]), by_time);
    for (size_t k = 0; k < nsteps; k++) {
        const vo_t *v = &vos[steps[k].vo];
        char actor[FULFIL_ACTOR_MAX];
        snprintf(actor, sizeof(actor), "vendor:%" PRId64, v->vendor_id);
        fulfil_actor_t who = {.market_id = w->s->market_id, .vendor_id = v->vendor_id, .name = actor};
        fulfil_result_t res;
        json_t *out = NULL;
        int refund = 0;
        if ((rc = clock_at(w->db, steps[k].at)) != DB_OK)
            return failed(w, rc, "the clock", order_id);
        switch (steps[k].kind) {
        case STEP_ACCEPT: rc = fulfil_accept(w->db, &who, v->id, &res, NULL); break;
        case STEP_REJECT:
            rc =
                fulfil_reject(w->db, &who, v->id, reject_reasons[between(g, 0, NELEM(reject_reasons) - 1)], &res, NULL);
            refund = rc == DB_OK;
            w->rejected += rc == DB_OK;
            break;
        case STEP_PICK:
            if ((refund = pick(w, g, order_id, v, &who)) < 0)
                return -1;
            break;
        case STEP_READY: rc = fulfil_ready(w->db, &who, v->id, &res, NULL); break;
        }
        json_decref(out);
        if (rc != DB_OK)
            return failed(w, rc, "a vendor's step", order_id);
        if (refund && settle_refunds(w, order_id, steps[k].at + between(g, 30, 150) * 1000) != 0)
            return -1;
    }
    if (live == 0) {
        w->cancelled++; /* every stall rejected it: cancelled and refunded in full by the model */
        return 0;
    }

    int64_t delivered_ms = 0;
    if (deliver(w, g, order_id, ready_max, &delivered_ms) != 0)
        return -1;
    w->delivered++;

    /* Now and then a rating; a complaint where one is due. */
    if (chance(g, 150)) {
        feedback_stall_score_t scores[MAX_VOS];
        size_t ns = 0;
        for (size_t i = 0; i < nvo; i++)
            if (!vos[i].reject)
                scores[ns++] = (feedback_stall_score_t){.stall_id = vos[i].stall_id,
                                                        .score = chance(g, 800)   ? 5
                                                                 : chance(g, 800) ? 4
                                                                                  : 3,
                                                        .text = rating_texts[between(g, 0, NELEM(rating_texts) - 1)]};
        feedback_rating_t fr = {.consumer_id = p->c->id,
                                .order_id = order_id,
                                .stalls = scores,
                                .nstalls = ns,
                                .courier_score = chance(g, 850) ? 5 : 4};
        json_t *out = NULL;
        if ((rc = clock_at(w->db, delivered_ms + between(g, 10, 150) * 60000)) != DB_OK ||
            (rc = feedback_rate(w->db, &fr, &market, &out, NULL)) != DB_OK)
            return failed(w, rc, "a rating", order_id);
        json_decref(out);
        w->rated++;
    }
    if (*complaint_due && w->complained < COMPLAINTS_MAX) {
        feedback_complaint_t fc = {.consumer_id = p->c->id,
                                   .order_id = order_id,
                                   .stall_id = vos[0].reject && nvo > 1 ? vos[1].stall_id : vos[0].stall_id,
                                   .text = complaint_texts[w->complained % NELEM(complaint_texts)]};
        json_t *out = NULL;
        int64_t at = delivered_ms + between(g, 20, 120) * 60000;
        if ((rc = clock_at(w->db, at)) != DB_OK || (rc = feedback_complain(w->db, &fc, &out, NULL)) != DB_OK)
            return failed(w, rc, "a complaint", order_id);
        w->complaint_ids[w->complained] = json_integer_value(json_object_get(out, "id"));
        w->complaint_at[w->complained++] = at;
        json_decref(out);
        *complaint_due = 0;
    }
    return 0;
}

/* ---------------------------------------------------------------- a day */

/* Minutes after midnight (+08:00) of an online order: a morning peak before work, a small
 * one at noon, the evening peak after work; the shop takes orders 06:30-19:00. */
static int64_t minute_of_day(rng_t *g)
{
    int64_t roll = between(g, 0, 99);
    if (roll < 42)
        return between(g, 6 * 60 + 30, 9 * 60 + 45);
    if (roll < 55)
        return between(g, 9 * 60 + 45, 13 * 60 + 30);
    if (roll < 65)
        return between(g, 13 * 60 + 30, 16 * 60 + 30);
    return between(g, 16 * 60 + 30, 19 * 60);
}

static int by_checkout(const void *a, const void *b)
{
    const plan_t *x = a, *y = b;
    return x->checkout_ms < y->checkout_ms ? -1 : x->checkout_ms > y->checkout_ms;
}

/* day0_ms: midnight (+08:00) of the day, in ms since the epoch; weekday 0 = Sunday. */
static int one_day(world_t *w, int day_index, int64_t day0_ms, int weekday)
{
    rng_t g = {.s = HIST_SEED ^ ((uint64_t)w->s->which << 32) ^ (uint64_t)day_index * 0x100000001b3ULL};
    int weekend = weekday == 0 || weekday == 6, first = w->s->which == 0;
    int64_t n = first ? (weekend ? between(&g, 95, 120) : between(&g, 42, 78))
                      : (weekend ? between(&g, 18, 26) : between(&g, 10, 18));
    plan_t *plans = calloc((size_t)n, sizeof(*plans));
    if (plans == NULL) {
        snprintf(w->err, w->errlen, "out of memory");
        return -1;
    }
    for (int64_t i = 0; i < n; i++) {
        plan_t *p = &plans[i];
        p->c = pick_consumer(w, &g);
        p->checkout_ms = day0_ms + minute_of_day(&g) * 60000 + between(&g, 0, 59999);
        p->pay_ms = p->checkout_ms + between(&g, 20, 150) * 1000;
        p->cancel = chance(&g, 20);
        p->provider = chance(&g, 700) ? PAY_WECHAT : PAY_ALIPAY;
        plan_lines(w, &g, p);
    }
    qsort(plans, (size_t)n, sizeof(*plans), by_checkout);
    /* A complaint on the first market's days 6, 4 and 2 before today: about the first
     * delivered order after noon. */
    int complaint_due = first && (day_index == 6 || day_index == 4 || day_index == 2), rc = 0;
    for (int64_t i = 0; rc == 0 && i < n; i++) {
        int afternoon = plans[i].checkout_ms >= day0_ms + 12 * 3600000LL, due = complaint_due && afternoon;
        rc = one_order(w, &g, &plans[i], &due);
        if (complaint_due && afternoon && !due)
            complaint_due = 0; /* made */
    }
    free(plans);
    return rc;
}

/* ---------------------------------------------------------------- the run */

static int64_t count_orders(world_t *w, const char *code, sf_status_t *rc)
{
    char like[48];
    snprintf(like, sizeof(like), "seed-%s-%%", code);
    db_rows_t *rows = NULL;
    int64_t n = 0;
    *rc = db_query_row(w->db,
                       "SELECT COUNT(*) FROM orders o JOIN users u ON u.id = o.consumer_id"
                       " WHERE o.market_id = ? AND u.wechat_openid LIKE ?",
                       (db_param_t[]){DB_I64(w->s->market_id), DB_STR(like)}, 2, &rows);
    if (*rc == DB_OK)
        n = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return n;
}

/* The stock as it was and the outbox rows of the history marked handled (their work is long
 * done: the workers must not replay a week), in one transaction (db_tx). The orders carry the
 * day they were placed in their numbers already (the database dates them under the session's
 * SET timestamp), and so do their sale lines. */
typedef struct finish_ctx {
    int64_t market_id, outbox_from;
} finish_ctx_t;

static sf_status_t finish_tx(db_t *db, void *ctx)
{
    const finish_ctx_t *c = ctx;
    static const char *const sql[] = {
        "UPDATE products p JOIN seed_stock s ON s.id = p.id SET p.stock = s.stock WHERE p.market_id = ?",
        "UPDATE outbox SET published_at = created_at WHERE market_id = ? AND id > ? AND published_at IS NULL",
    };
    sf_status_t rc = DB_OK;
    for (size_t i = 0; rc == DB_OK && i < NELEM(sql); i++) {
        db_param_t p[] = {DB_I64(c->market_id), DB_I64(c->outbox_from)};
        rc = db_exec(db, sql[i], p, i == 1 ? 2 : 1, NULL, NULL);
    }
    return rc;
}

static int finish(world_t *w, int64_t outbox_from)
{
    finish_ctx_t c = {.market_id = w->s->market_id, .outbox_from = outbox_from};
    sf_status_t rc = db_tx(w->db, finish_tx, &c);
    return rc == DB_OK ? 0 : failed(w, rc, "the last touches", 0);
}

/* The complaints: the oldest resolved by the operator the next morning. */
static int resolve_first(world_t *w)
{
    if (w->complained == 0 || w->operator_id == 0)
        return 0;
    json_t *out = NULL;
    int64_t at = w->complaint_at[0] + 16 * 3600000LL;
    sf_status_t rc = clock_at(w->db, at);
    if (rc == DB_OK)
        rc = feedback_resolve(w->db, w->s->market_id, w->operator_id, w->complaint_ids[0],
                              "已联系摊主核实，电子秤经复检合格；差额已按实际重量退款，并向顾客致歉。", &out, NULL);
    json_decref(out);
    return rc == DB_OK ? 0 : failed(w, rc, "resolving a complaint", 0);
}

static int run_days(world_t *w, int days)
{
    time_t now = time(NULL);
    int64_t local = (int64_t)now + 8 * 3600;
    int64_t midnight_ms = (local - local % 86400 - 8 * 3600) * 1000; /* today's, +08:00 */
    for (int d = days; d >= 1; d--) {
        int64_t day0 = midnight_ms - (int64_t)d * 86400000LL;
        time_t t = (time_t)(day0 / 1000) + 8 * 3600;
        struct tm tm;
        gmtime_r(&t, &tm);
        if (one_day(w, d, day0, tm.tm_wday) != 0)
            return -1;
    }
    return resolve_first(w);
}

int seed_history(db_t *db, redis_t *r, const seed_t *s, int days, FILE *out, FILE *err_out, char *err, size_t errlen)
{
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    world_t *w = calloc(1, sizeof(*w));
    if (w == NULL) {
        snprintf(err, errlen, "out of memory");
        return -1;
    }
    *w = (world_t){.db = db, .r = r, .s = s, .err = err, .errlen = errlen};
    seed_market_point(s, &w->lat, &w->lng);
    for (size_t i = 0; i < s->nlogins; i++)
        if (strcmp(s->logins[i].role, "operator") == 0)
            w->operator_id = s->logins[i].user_id;
    sf_status_t rc;
    int ret = -1, on_shift = 0, stocked = 0;
    int64_t had = count_orders(w, seed_market_code(s), &rc);
    if (rc != DB_OK) {
        failed(w, rc, "looking for its orders", 0);
        goto out;
    }
    if (had > 0) {
        fprintf(out, "seed: %s already has its demo history (%" PRId64 " orders); left as it is\n", s->market_name,
                had);
        ret = 0;
        goto out;
    }
    if (load_products(w) != 0)
        goto out;
    if (r == NULL || redis_ping(r) != 0) {
        fprintf(err_out,
                "seed: warning: no demo history for %s: dispatch needs Redis (%s); the next seed with Redis up "
                "makes it\n",
                s->market_name, r != NULL && r->err[0] ? r->err : "not connected");
        ret = 0;
        goto out;
    }
    on_shift = 1;
    if (shifts(w, 1) != 0)
        goto out;
    fprintf(out, "seed: %s: making %d days of completed orders\n", s->market_name, days);
    fflush(out);
    rng_t g = {.s = HIST_SEED ^ (0xc0ffeeULL + (uint64_t)s->which)};
    if (make_consumers(w, &g, s->which == 0 ? 120 : 24) != 0)
        goto out;

    /* The stall keepers restock for the run; the stock is put back as it was after it. */
    db_rows_t *rows = NULL;
    int64_t outbox_from = 0;
    rc = db_query_row(db, "SELECT COALESCE(MAX(id), 0) FROM outbox", NULL, 0, &rows);
    if (rc == DB_OK)
        outbox_from = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (rc == DB_OK)
        rc = db_exec(db, "DROP TEMPORARY TABLE IF EXISTS seed_stock", NULL, 0, NULL, NULL);
    if (rc == DB_OK)
        rc = db_exec(db,
                     "CREATE TEMPORARY TABLE seed_stock (id BIGINT NOT NULL PRIMARY KEY, stock BIGINT NOT NULL)"
                     " SELECT id, stock FROM products WHERE market_id = ?",
                     (db_param_t[]){DB_I64(s->market_id)}, 1, NULL, NULL);
    if (rc == DB_OK)
        rc = db_exec(
            db, "UPDATE products SET stock = stock + IF(pricing_mode = 'weight', ?, ? DIV 250) WHERE market_id = ?",
            (db_param_t[]){DB_I64(RESTOCK_G), DB_I64(RESTOCK_G), DB_I64(s->market_id)}, 3, NULL, NULL);
    if (rc != DB_OK) {
        failed(w, rc, "the restock", 0);
        goto out;
    }
    stocked = 1;
    if (run_days(w, days) != 0)
        goto out;
    if ((rc = clock_at(db, 0)) != DB_OK || finish(w, outbox_from) != 0) {
        if (rc != DB_OK)
            failed(w, rc, "the clock", 0);
        goto out;
    }
    stocked = 0;
    clock_gettime(CLOCK_MONOTONIC, &t1);
    fprintf(out,
            "seed: %s: %d orders over %d days (%d delivered, %d cancelled, %d vendor orders rejected, %d with a "
            "lighter weight, %d rated, %d complaints) in %.1f s\n",
            s->market_name, w->orders, days, w->delivered, w->cancelled, w->rejected, w->lighter, w->rated,
            w->complained, (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9);
    ret = 0;
out:
    clock_at(db, 0);
    if (stocked) /* a failed run still leaves the stock as it was */
        db_exec(db, "UPDATE products p JOIN seed_stock s ON s.id = p.id SET p.stock = s.stock WHERE p.market_id = ?",
                (db_param_t[]){DB_I64(s->market_id)}, 1, NULL, NULL);
    db_exec(db, "DROP TEMPORARY TABLE IF EXISTS seed_stock", NULL, 0, NULL, NULL);
    if (on_shift)
        shifts(w, 0);
    free(w);
    return ret;
}
