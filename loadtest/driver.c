/*
 * sf-loadtest: the scenario driver (issue 11 item 2). One process, one thread, one libcurl
 * multi handle speaking HTTP/2 over h2c to a running stallfront (serve + work), playing:
 *
 *   consumers  signed in with sandbox WeChat codes `sandbox-lt-<n>`, each with an address,
 *              running the mix: ~85% catalogue and search (market page, stalls, products by
 *              category, search q=, one product), 8% cart PUT, 4% order status (GET
 *              /v1/orders or one order), 2% checkout (POST /v1/orders with an
 *              Idempotency-Key), 1% paid (POST /v1/orders/{id}/payments, then the sandbox
 *              WeChat Pay callback signed in-process with models/providers/sandbox.h, exactly
 *              as `stallfront sandbox pay` signs it);
 *   vendors    (--fulfil) the demo vendors: poll new vendor orders, accept, pick (a weighed
 *              line sometimes comes out up to 10% lighter), ready;
 *   couriers   (--fulfil) the demo couriers: shift on, location heartbeat every 3 s next to
 *              the market, take offers, pick up (retried until every stall is ready),
 *              deliver with the consumer's code (read from the consumer's order);
 *              deliveries an earlier run left assigned or picked up are finished first.
 *
 * Modes:
 *   --closed N          N consumers, each waits for its answer before its next request
 *                       (default: --closed 50). Without multiplexing: N connections.
 *   --open RATE         requests started on schedule at RATE/s over --consumers (default
 *                       200) signed-in consumers, each request by an idle consumer (when all
 *                       wait, an anonymous catalogue read on a new connection); latency is
 *                       measured from the intended start, so a slow server cannot hide
 *                       behind a slow driver.
 * No multiplexing: each request in flight has a connection of its own, as the mini-program's
 * many users do (and the server bounds what one connection may hold: http.conn_inflight).
 *   --checkout-cycle    issue 11 item 1's cycle, closed loop over N consumers: 3 cart PUTs of
 *                       lines from 2 stalls, then POST /v1/orders with an Idempotency-Key;
 *                       prints orders/s and the POST's p50/p99.
 * Options:
 *   --duration S (15)  --url BASE (http://127.0.0.1:8080)  --market ID (the credentials')
 *   --credentials FILE (var/demo-credentials.json)  --config FILE (for the sandbox keys:
 *   payments.sandbox_dir; also $STALLFRONT_CONFIG and STALLFRONT_* as the server reads them)
 *   --fulfil  --seed N (the mix's random sequence; default from RAND_bytes)
 *   --checkout-cycle --fulfil: whole orders; each consumer pays its last order (sandbox
 *                       WeChat Pay, as the mix's paid step) before its next cycle, vendors
 *                       and couriers take them to delivered; --orders N stops placing orders
 *                       at N and ends the run once N are delivered (--duration still bounds it)
 *   --at-start CMD, --at-end CMD: run by system() right before the measured window starts
 *                       (everyone signed in) and right after its last answer arrived, before
 *                       the report (loadtest/bench samples CPU and statement counters there)
 *
 * A progress line each second on stderr; at the end on stdout: throughput, errors by status,
 * p50/p90/p99/p99.9/max per operation (every latency kept, sorted at the end), checkout's
 * 201 vs 409 out_of_stock, and with --fulfil the orders paid and delivered.
 *
 *   build/h/sf-loadtest --url http://127.0.0.1:8080 --config var/stallfront.conf --duration 15
 *   build/h/sf-loadtest --open 2000 --fulfil
 *   build/h/sf-loadtest --checkout-cycle --closed 50
 *
 * libcurl 7.88 (Debian 12): a connection opened with HTTP/2 prior knowledge fails when reused
 * with prior knowledge again (curl #10634), so each actor's first request opens a fresh
 * connection with prior knowledge and later ones ask for plain HTTP/2 (the pooled
 * connections are h2 already); the receive buffer is 512 KiB, as in models/providers/httpc.c,
 * so an answer's end is never left waiting for a timer. Not installed, not run by the tests.
 */
#include <curl/curl.h>
#include <errno.h>
#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <openssl/rand.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/base/config.h"
#include "models/providers/sandbox.h"

#define RECV_BUFFER   (512 * 1024)
#define CART_MAX      8   /* lines a consumer keeps in its cart before it changes existing ones */
#define ORDERS_KEPT   32  /* a consumer's newest orders it remembers */
#define HEARTBEAT_S   3.0 /* courier location */
#define POLL_IDLE_S   0.5 /* a vendor or courier with nothing to do looks again after this */
#define REQ_TIMEOUT_S 30L

/* ---- operations and their statistics ---- */
enum {
    OP_MARKET,
    OP_STALLS,
    OP_CATEGORY,
    OP_SEARCH,
    OP_PRODUCT,
    OP_CART,
    OP_ORDERS,
    OP_ORDER,
    OP_CHECKOUT,
    OP_PAY,
    OP_PAY_NOTIFY,
    OP_CART_CLEAR,
    OP_SIGNIN,
    OP_ADDRESS,
    OP_V_LIST,
    OP_V_ACCEPT,
    OP_V_PICK,
    OP_V_READY,
    OP_C_SHIFT,
    OP_C_MINE,
    OP_C_LOCATION,
    OP_C_OFFERS,
    OP_C_ACCEPT,
    OP_C_PICKUP,
    OP_C_CODE,
    OP_C_DELIVER,
    OP_N
};
static const char *op_name[OP_N] = {
    "market",     "stalls",     "category",   "search",   "product",  "cart_put", "orders",   "order",    "checkout",
    "pay_create", "pay_notify", "cart_clear", "signin",   "address",  "v_list",   "v_accept", "v_pick",   "v_ready",
    "c_shift",    "c_mine",     "c_location", "c_offers", "c_accept", "c_pickup", "c_code",   "c_deliver"};

typedef struct stat {
    uint32_t *lat_us; /* every latency, µs */
    size_t n, cap;
    uint64_t status[600]; /* [0]: no answer (transport error) */
} stat_t;
static stat_t g_stat[OP_N];
static uint64_t g_co_201, g_co_409_oos, g_co_other, g_h1; /* checkout outcomes; answers not over h2 */
static uint64_t g_paid, g_delivered, g_skipped;
static int g_measuring; /* the answer being handled is of a request started in the measured window */

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

__attribute__((noreturn, format(printf, 1, 2))) static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sf-loadtest: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void stat_add(int op, long status, double secs)
{
    stat_t *s = &g_stat[op];
    s->status[status >= 100 && status < 600 ? status : 0]++;
    if (s->n == s->cap) {
        s->cap = s->cap ? s->cap * 2 : 4096;
        if ((s->lat_us = realloc(s->lat_us, s->cap * sizeof(*s->lat_us))) == NULL)
            die("out of memory");
    }
    double us = secs * 1e6;
    s->lat_us[s->n++] = us < 0 ? 0 : us > 4e9 ? 4000000000u : (uint32_t)us;
}

static int cmp_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (nearest rank) of sorted samples, in ms. */
static double quantile_ms(const stat_t *s, double q)
{
    if (s->n == 0)
        return 0;
    size_t i = (size_t)ceil(q * (double)s->n);
    return s->lat_us[i == 0 ? 0 : i - 1] / 1000.0;
}

/* ---- random: a libc generator seeded from OpenSSL (the mix, not secrets) ---- */
static struct drand48_data g_rand;
static double rnd(void)
{
    double d;
    drand48_r(&g_rand, &d);
    return d;
}
static size_t rndn(size_t n)
{
    return n ? (size_t)(rnd() * (double)n) % n : 0;
}

static void idem_key(char out[33])
{
    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        die("RAND_bytes failed");
    for (int i = 0; i < 16; i++)
        sprintf(out + 2 * i, "%02x", b[i]);
}

/* ---- the world as loaded at the start ---- */
typedef struct product {
    int64_t id, stall_id;
    int weight; /* sold by weight (qty in grams) */
    int gone;   /* a cart PUT of it was refused (sold out): not chosen again */
    const char *category, *name;
} product_t;
typedef struct stall {
    int64_t id;
    size_t *prod; /* indexes into g_products */
    size_t n;
} stall_t;
static product_t *g_products;
static size_t g_nproducts;
static stall_t *g_stalls;
static size_t g_nstalls;
static const char **g_categories;
static size_t g_ncategories;
static double g_lat, g_lng;
static const char *g_url;
static int64_t g_market;
static config_t g_cfg;
static int g_cfg_ok;

/* ---- actors and transfers ---- */
enum kind { CONSUMER, VENDOR, COURIER };
typedef struct order_ref {
    int64_t id;
    char no[40];
    int paid;
} order_ref_t;
typedef struct actor {
    int kind, idx, busy, connected, ready;
    double wake_at; /* > 0: sleeping until then */
    char token[256];
    /* consumer */
    int64_t address_id, cart[CART_MAX];
    int ncart, clear_cart, cycle_step;
    size_t cycle_pick[3]; /* the cycle's three products */
    order_ref_t orders[ORDERS_KEPT];
    int norders;
    int64_t paying; /* order being paid */
    char pay_no[64];
    int64_t pay_amount;
    /* vendor */
    json_t *todo; /* vendor orders left to work on, and where each is */
    /* courier */
    double next_beat;
    int64_t delivery, order_id;
    char code[16];
    int phase;  /* 0 offers, 1 pickup, 2 code, 3 deliver */
    int resume; /* at the start: 0 look for an assigned delivery, 1 for a picked-up one */
    const char *user, *pass;
} actor_t;

typedef struct xfer {
    CURL *h;
    struct curl_slist *hdrs;
    char *body;
    char *ans;
    size_t len, cap;
    int op;
    actor_t *a;
    double t0;   /* intended start */
    int64_t arg; /* an id the answer's handler needs */
    struct xfer *next_free;
} xfer_t;
static CURLM *g_multi;
static xfer_t *g_free;
static int g_inflight;
static actor_t *g_actors;
static size_t g_nactors, g_nconsumers;
static int g_cycle, g_fulfil, g_open;
static uint64_t g_orders_max;   /* --orders: with --checkout-cycle --fulfil, stop at this many delivered */
static actor_t **g_order_owner; /* order id -> consumer (for the courier's code) */
static size_t g_order_owner_n;

static size_t on_data(char *p, size_t size, size_t n, void *ud)
{
    xfer_t *x = ud;
    size_t add = size * n;
    if (x->len + add + 1 > x->cap) {
        size_t cap = x->cap ? x->cap : 8192;
        while (cap < x->len + add + 1)
            cap *= 2;
        char *b = realloc(x->ans, cap);
        if (b == NULL)
            return 0;
        x->ans = b;
        x->cap = cap;
    }
    memcpy(x->ans + x->len, p, add);
    x->len += add;
    x->ans[x->len] = '\0';
    return add;
}

/* Starts METHOD path for actor a (NULL: anonymous) with body (malloc'd, taken; NULL: none) of
 * len bytes, extra header lines (NULL-ended, may be NULL), intended start t0. */
static xfer_t *start_raw(actor_t *a, int op, const char *method, const char *path, char *body, size_t len,
                         const char *const *extra, double t0)
{
    xfer_t *x = g_free;
    if (x != NULL)
        g_free = x->next_free;
    else if ((x = calloc(1, sizeof(*x))) == NULL || (x->h = curl_easy_init()) == NULL)
        die("out of memory");
    CURL *h = x->h;
    curl_easy_reset(h);
    x->len = 0;
    x->op = op;
    x->a = a;
    x->t0 = t0;
    x->arg = 0;
    x->hdrs = NULL;
    x->body = NULL;
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", g_url, path);
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_PRIVATE, x);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
    curl_easy_setopt(h, CURLOPT_BUFFERSIZE, (long)RECV_BUFFER);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, REQ_TIMEOUT_S);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    int fresh = a != NULL && !a->connected;
    if (fresh) {
        a->connected = 1;
        curl_easy_setopt(h, CURLOPT_FRESH_CONNECT, 1L);
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE);
    } else
        curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_2_0);
    if (a != NULL && a->token[0] != '\0') {
        char auth[300];
        snprintf(auth, sizeof(auth), "Authorization: Bearer %s", a->token);
        x->hdrs = curl_slist_append(x->hdrs, auth);
    }
    for (size_t i = 0; extra != NULL && extra[i] != NULL; i++)
        x->hdrs = curl_slist_append(x->hdrs, extra[i]);
    if (body != NULL) {
        x->body = body;
        curl_easy_setopt(h, CURLOPT_POSTFIELDS, x->body);
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE, (long)len);
    }
    if (strcmp(method, body != NULL ? "POST" : "GET") != 0)
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs);
    if (a != NULL)
        a->busy = 1;
    g_inflight++;
    if (curl_multi_add_handle(g_multi, h) != CURLM_OK)
        die("curl_multi_add_handle failed");
    return x;
}

/* The same with a JSON body (taken; NULL: none). */
static xfer_t *start(actor_t *a, int op, const char *method, const char *path, json_t *body, const char *const *extra,
                     double t0)
{
    const char *with_type[8] = {"Content-Type: application/json"};
    char *text = NULL;
    if (body != NULL) {
        text = json_dumps(body, JSON_COMPACT);
        json_decref(body);
        if (text == NULL)
            die("out of memory");
        for (size_t i = 0; extra != NULL && extra[i] != NULL && i < 6; i++)
            with_type[i + 1] = extra[i];
        extra = with_type;
    }
    return start_raw(a, op, method, path, text, text ? strlen(text) : 0, extra, t0);
}

static void release(xfer_t *x)
{
    curl_multi_remove_handle(g_multi, x->h);
    curl_slist_free_all(x->hdrs);
    free(x->body);
    x->hdrs = NULL;
    x->body = NULL;
    x->next_free = g_free;
    g_free = x;
    g_inflight--;
}

static json_t *answer_json(const xfer_t *x)
{
    return x->len ? json_loadb(x->ans, x->len, 0, NULL) : NULL;
}

static void sleep_for(actor_t *a, double s)
{
    a->wake_at = now_s() + s;
}

/* ---- consumers ---- */
static void remember_owner(int64_t order_id, actor_t *c)
{
    if (order_id <= 0 || order_id > (1 << 26))
        return;
    if ((size_t)order_id >= g_order_owner_n) {
        size_t n = g_order_owner_n ? g_order_owner_n : 1024;
        while (n <= (size_t)order_id)
            n *= 2;
        if ((g_order_owner = realloc(g_order_owner, n * sizeof(*g_order_owner))) == NULL)
            die("out of memory");
        memset(g_order_owner + g_order_owner_n, 0, (n - g_order_owner_n) * sizeof(*g_order_owner));
        g_order_owner_n = n;
    }
    g_order_owner[order_id] = c;
}

/* A product still in stock as far as the driver knows, at random. */
static size_t live_product(void)
{
    for (int tries = 0; tries < 1000; tries++) {
        size_t i = rndn(g_nproducts);
        if (!g_products[i].gone)
            return i;
    }
    die("the market is sold out (every product refused): seed a fresh one");
}

/* A live product of stall s, other than not (SIZE_MAX: any); SIZE_MAX when none. */
static size_t live_of_stall(const stall_t *s, size_t not )
{
    size_t k = rndn(s->n);
    for (size_t i = 0; i < s->n; i++) {
        size_t p = s->prod[(k + i) % s->n];
        if (!g_products[p].gone && p != not )
            return p;
    }
    return SIZE_MAX;
}

static void cart_put(actor_t *c, const product_t *p, double t0)
{
    char path[128];
    /* the cycle takes little, so the seeded stock lasts */
    int64_t qty = g_cycle ? (p->weight ? 100 : 1) : p->weight ? 250 * (1 + (int64_t)rndn(4)) : 1 + (int64_t)rndn(3);
    snprintf(path, sizeof(path), "/v1/cart/items/%" PRId64, p->id);
    xfer_t *x = start(c, OP_CART, "PUT", path, json_pack("{sI}", "qty", (json_int_t)qty), NULL, t0);
    x->arg = p - g_products;
}

static void checkout(actor_t *c, double t0)
{
    char key[33], hdr[64];
    idem_key(key);
    snprintf(hdr, sizeof(hdr), "Idempotency-Key: %s", key);
    const char *extra[] = {hdr, NULL};
    start(c, OP_CHECKOUT, "POST", "/v1/orders",
          json_pack("{sIsI}", "market_id", (json_int_t)g_market, "address_id", (json_int_t)c->address_id), extra, t0);
}

static int unpaid_order(actor_t *c)
{
    for (int i = c->norders - 1; i >= 0; i--)
        if (!c->orders[i].paid)
            return i;
    return -1;
}

/* Starts paying the consumer's newest unpaid order: 1, or 0 when it has none. */
static int pay_unpaid(actor_t *c, double t0)
{
    char path[96];
    int i = unpaid_order(c);
    if (i < 0)
        return 0;
    snprintf(path, sizeof(path), "/v1/orders/%" PRId64 "/payments", c->orders[i].id);
    c->paying = c->orders[i].id;
    snprintf(c->pay_no, sizeof(c->pay_no), "%s", c->orders[i].no);
    start(c, OP_PAY, "POST", path, json_pack("{ss}", "provider", "wechat"), NULL, t0);
    return 1;
}

static void browse(actor_t *c, double r, double t0);

/* The consumer's next request of the mix (or of the cycle). */
static void consumer_next(actor_t *c, double t0)
{
    char path[512];
    if (c->clear_cart) {
        snprintf(path, sizeof(path), "/v1/cart?market_id=%" PRId64, g_market);
        start(c, OP_CART_CLEAR, "DELETE", path, NULL, NULL, t0);
        return;
    }
    if (g_cycle) {                            /* 3 PUTs: two lines of one stall, one of another; then checkout */
        if (g_fulfil && c->cycle_step == 0) { /* whole orders: pay the last one first */
            if (pay_unpaid(c, t0))
                return;
            if (g_orders_max > 0 && g_co_201 >= g_orders_max) { /* placed enough: wait for them */
                c->wake_at = t0 + POLL_IDLE_S;
                return;
            }
        }
        if (c->cycle_step == 0) {
            const stall_t *s1 = NULL, *s2 = NULL;
            for (int tries = 0; tries < 10000 && s2 == NULL; tries++) {
                const stall_t *a = &g_stalls[rndn(g_nstalls)], *b = &g_stalls[rndn(g_nstalls)];
                size_t p0 = live_of_stall(a, SIZE_MAX), p1 = p0 == SIZE_MAX ? p0 : live_of_stall(a, p0);
                size_t p2 = live_of_stall(b, SIZE_MAX);
                if (a != b && p1 != SIZE_MAX && p2 != SIZE_MAX) {
                    s1 = a, s2 = b;
                    c->cycle_pick[0] = p0, c->cycle_pick[1] = p1, c->cycle_pick[2] = p2;
                }
            }
            if (s1 == NULL)
                die("no two stalls with products in stock left: seed a fresh market");
        }
        if (c->cycle_step < 3)
            cart_put(c, &g_products[c->cycle_pick[c->cycle_step]], t0);
        else
            checkout(c, t0);
        return;
    }
    double r = rnd() * 100;
    if (r >= 85 && r < 93) {
        if (c->ncart >= CART_MAX) { /* a full cart: change a line's quantity */
            cart_put(c, &g_products[c->cart[rndn(c->ncart)]], t0);
            return;
        }
        cart_put(c, &g_products[live_product()], t0);
        return;
    }
    if (r >= 93 && r < 97) {
        if (c->norders > 0 && rnd() < 0.5) {
            snprintf(path, sizeof(path), "/v1/orders/%" PRId64, c->orders[rndn(c->norders)].id);
            start(c, OP_ORDER, "GET", path, NULL, NULL, t0);
        } else
            start(c, OP_ORDERS, "GET", "/v1/orders", NULL, NULL, t0);
        return;
    }
    if (r >= 97 && r < 99) {
        if (c->ncart > 0) {
            checkout(c, t0);
            return;
        }
        cart_put(c, &g_products[live_product()], t0); /* nothing to check out yet */
        return;
    }
    if (r >= 99) {
        if (pay_unpaid(c, t0))
            return;
        r = rnd() * 85; /* nothing to pay: browse */
    }
    browse(c, r, t0);
}

/* A catalogue read, r in [0, 85): market 10, stalls 10, category 25, search 15, product 25. */
static void browse(actor_t *c, double r, double t0)
{
    char path[512];
    /* catalogue: market 10, stalls 10, category 25, search 15, product 25 (of 85) */
    if (r < 10) {
        snprintf(path, sizeof(path), "/v1/markets/%" PRId64, g_market);
        start(c, OP_MARKET, "GET", path, NULL, NULL, t0);
    } else if (r < 20) {
        snprintf(path, sizeof(path), "/v1/markets/%" PRId64 "/stalls", g_market);
        start(c, OP_STALLS, "GET", path, NULL, NULL, t0);
    } else if (r < 45) {
        snprintf(path, sizeof(path), "/v1/markets/%" PRId64 "/products?category=%s", g_market,
                 g_categories[rndn(g_ncategories)]);
        start(c, OP_CATEGORY, "GET", path, NULL, NULL, t0);
    } else if (r < 60) {
        char *q = curl_easy_escape(NULL, g_products[rndn(g_nproducts)].name, 0);
        snprintf(path, sizeof(path), "/v1/markets/%" PRId64 "/products?q=%s", g_market, q ? q : "");
        curl_free(q);
        start(c, OP_SEARCH, "GET", path, NULL, NULL, t0);
    } else {
        snprintf(path, sizeof(path), "/v1/products/%" PRId64, g_products[rndn(g_nproducts)].id);
        start(c, OP_PRODUCT, "GET", path, NULL, NULL, t0);
    }
}

static void pay_notify(actor_t *c, const char *out_trade_no, int64_t amount, double t0)
{
    sandbox_payment_t sp = {.out_trade_no = out_trade_no, .order_no = c->pay_no, .openid = NULL, .amount_fen = amount};
    sandbox_notice_t n;
    char err[256];
    if (!g_cfg_ok || sandbox_wechat_notice(&g_cfg, &sp, (int64_t)time(NULL), &n, err, sizeof(err)) != SF_OK) {
        static int said;
        if (!said++)
            fprintf(stderr, "sf-loadtest: cannot sign a sandbox payment (%s): pass --config\n",
                    g_cfg_ok ? err : "no configuration");
        c->paying = 0;
        return;
    }
    /* the provider's call: no bearer token, the notice's own headers and body as signed */
    char tok[sizeof(c->token)];
    memcpy(tok, c->token, sizeof(tok));
    c->token[0] = '\0';
    xfer_t *x = start_raw(c, OP_PAY_NOTIFY, "POST", "/v1/pay/wechat/notify", n.body, n.len, n.headers, t0);
    memcpy(c->token, tok, sizeof(tok));
    n.body = NULL; /* the transfer's now */
    x->arg = c->paying;
    sandbox_notice_free(&n);
}

/* What a consumer learns from an answer. Returns 1 when it went on with a follow-up request. */
static int consumer_done(actor_t *c, xfer_t *x, long st)
{
    json_t *j;
    switch (x->op) {
    case OP_SIGNIN:
        if (st == 200 && (j = answer_json(x)) != NULL) {
            snprintf(c->token, sizeof(c->token), "%s", json_string_value(json_object_get(j, "token")));
            json_decref(j);
            /* an address of an earlier run if it has one (a consumer may keep 50), else a new one */
            char path[64];
            snprintf(path, sizeof(path), "/v1/addresses?market_id=%" PRId64, g_market);
            start(c, OP_ADDRESS, "GET", path, NULL, NULL, now_s());
            return 1;
        }
        die("sign-in of consumer %d: HTTP %ld %.200s", c->idx, st, x->ans ? x->ans : "");
        return 0;
    case OP_ADDRESS:
        if ((st == 200 || st == 201) && (j = answer_json(x)) != NULL) {
            json_t *items = json_object_get(j, "items"), *a = items != NULL ? json_array_get(items, 0) : j;
            if (a == NULL) { /* none yet */
                json_decref(j);
                start(c, OP_ADDRESS, "POST", "/v1/addresses",
                      json_pack("{sssssssfsf}", "name", "压测", "phone", "13800000000", "text", "市场东门外 100 米",
                                "lat", g_lat + 0.001, "lng", g_lng + 0.001),
                      NULL, now_s());
                return 1;
            }
            c->address_id = json_integer_value(json_object_get(a, "id"));
            json_decref(j);
            if (g_fulfil) { /* its orders from earlier runs, whose codes the couriers will ask for */
                start(c, OP_ORDERS, "GET", "/v1/orders?limit=100", NULL, NULL, now_s());
                return 1;
            }
            c->ready = 1;
            return 0;
        }
        die("address of consumer %d: HTTP %ld %.200s", c->idx, st, x->ans ? x->ans : "");
        return 0;
    case OP_ORDERS:
        if (!c->ready) {
            json_t *o;
            size_t i;
            if (st == 200 && (j = answer_json(x)) != NULL) {
                json_array_foreach(json_object_get(j, "items"), i, o)
                    remember_owner(json_integer_value(json_object_get(o, "id")), c);
                json_decref(j);
            }
            c->ready = 1;
        }
        return 0;
    case OP_CART:
        if (st == 422)
            g_products[x->arg].gone = 1;
        if (st == 200) {
            int have = 0;
            for (int i = 0; i < c->ncart; i++)
                have |= c->cart[i] == x->arg;
            if (!have && c->ncart < CART_MAX)
                c->cart[c->ncart++] = x->arg;
        }
        if (g_cycle)
            c->cycle_step = st == 200 ? c->cycle_step + 1 : 0;
        if (g_cycle && st != 200)
            c->clear_cart = 1;
        return 0;
    case OP_CART_CLEAR:
        if (st >= 200 && st < 300)
            c->clear_cart = 0, c->ncart = 0;
        return 0;
    case OP_CHECKOUT:
        c->cycle_step = 0;
        if (st == 201 && (j = answer_json(x)) != NULL) {
            if (g_measuring)
                g_co_201++;
            if (c->norders == ORDERS_KEPT) /* keep the newest */
                memmove(c->orders, c->orders + 1, (ORDERS_KEPT - 1) * sizeof(c->orders[0])), c->norders--;
            order_ref_t *o = &c->orders[c->norders++];
            o->id = json_integer_value(json_object_get(j, "id"));
            snprintf(o->no, sizeof(o->no), "%s", json_string_value(json_object_get(j, "order_no")) ?: "");
            o->paid = 0;
            remember_owner(o->id, c);
            c->ncart = 0;
            json_decref(j);
        } else {
            int oos = 0;
            if (st == 409 && (j = answer_json(x)) != NULL) {
                const char *code = json_string_value(json_object_get(json_object_get(j, "error"), "code"));
                oos = code != NULL && strcmp(code, "out_of_stock") == 0;
                json_decref(j);
            }
            if (g_measuring)
                oos ? g_co_409_oos++ : g_co_other++;
            c->clear_cart = 1; /* the consumer gives up this cart */
        }
        return 0;
    case OP_PAY:
        if ((st == 200 || st == 201) && (j = answer_json(x)) != NULL) {
            const char *otn = json_string_value(json_object_get(j, "out_trade_no"));
            int64_t amount = json_integer_value(json_object_get(j, "amount_fen"));
            char no[80];
            snprintf(no, sizeof(no), "%s", otn ? otn : "");
            json_decref(j);
            if (no[0] != '\0') {
                pay_notify(c, no, amount, now_s());
                return c->busy;
            }
        }
        for (int i = 0; i < c->norders; i++) /* not payable (cancelled, paid): forget it */
            if (c->orders[i].id == c->paying)
                c->orders[i].paid = 1;
        c->paying = 0;
        return 0;
    case OP_PAY_NOTIFY:
        for (int i = 0; i < c->norders; i++)
            if (c->orders[i].id == x->arg)
                c->orders[i].paid = 1;
        if ((st == 200 || st == 204) && g_measuring)
            g_paid++;
        c->paying = 0;
        return 0;
    default: return 0;
    }
}

/* ---- vendors ---- */
static void vendor_next(actor_t *v)
{
    char path[128];
    json_t *vo;
    while ((vo = json_array_get(v->todo, 0)) != NULL) {
        int64_t id = json_integer_value(json_object_get(vo, "id"));
        const char *status = json_string_value(json_object_get(vo, "status"));
        if (status != NULL && strcmp(status, "new") == 0) {
            snprintf(path, sizeof(path), "/v1/vendor/orders/%" PRId64 "/accept", id);
            start(v, OP_V_ACCEPT, "POST", path, NULL, NULL, now_s());
        } else if (status != NULL && strcmp(status, "accepted") == 0) {
            json_t *lines = json_array(), *l;
            size_t i;
            json_array_foreach(json_object_get(vo, "lines"), i, l)
            {
                int64_t qty = json_integer_value(json_object_get(l, "qty"));
                const char *mode = json_string_value(json_object_get(json_object_get(l, "pricing"), "mode"));
                if (mode != NULL && strcmp(mode, "weight") == 0 && rnd() < 0.3)
                    qty = qty - (int64_t)(rnd() * 0.1 * (double)qty); /* the scale says a little less */
                json_array_append_new(lines,
                                      json_pack("{sIsI}", "line_id", json_integer_value(json_object_get(l, "id")),
                                                "qty_actual", (json_int_t)qty));
            }
            snprintf(path, sizeof(path), "/v1/vendor/orders/%" PRId64 "/pick", id);
            start(v, OP_V_PICK, "POST", path, json_pack("{so}", "lines", lines), NULL, now_s());
        } else if (status != NULL && strcmp(status, "picked") == 0) {
            snprintf(path, sizeof(path), "/v1/vendor/orders/%" PRId64 "/ready", id);
            start(v, OP_V_READY, "POST", path, NULL, NULL, now_s());
        } else {
            json_array_remove(v->todo, 0);
            continue;
        }
        return;
    }
    start(v, OP_V_LIST, "GET", "/v1/vendor/orders?status=new&limit=100", NULL, NULL, now_s());
}

static void vendor_done(actor_t *v, xfer_t *x, long st)
{
    json_t *vo = json_array_get(v->todo, 0);
    switch (x->op) {
    case OP_SIGNIN: {
        json_t *j = answer_json(x);
        if (st != 200 || j == NULL)
            die("vendor %s sign-in: HTTP %ld", v->user, st);
        snprintf(v->token, sizeof(v->token), "%s", json_string_value(json_object_get(j, "token")));
        json_decref(j);
        v->ready = 1;
        return;
    }
    case OP_V_LIST: {
        json_t *j = answer_json(x);
        json_array_clear(v->todo);
        if (st == 200 && j != NULL)
            json_array_extend(v->todo, json_object_get(j, "items"));
        json_decref(j);
        if (json_array_size(v->todo) == 0)
            sleep_for(v, POLL_IDLE_S);
        return;
    }
    case OP_V_ACCEPT:
    case OP_V_PICK:
        if (st == 200 && vo != NULL)
            json_object_set_new(vo, "status", json_string(x->op == OP_V_ACCEPT ? "accepted" : "picked"));
        else
            json_array_remove(v->todo, 0);
        return;
    case OP_V_READY: json_array_remove(v->todo, 0); return;
    }
}

/* ---- couriers ---- */
static void courier_next(actor_t *k)
{
    char path[128];
    double t = now_s();
    if (t >= k->next_beat) {
        k->next_beat = t + HEARTBEAT_S;
        start(k, OP_C_LOCATION, "PUT", "/v1/courier/location", json_pack("{sfsf}", "lat", g_lat, "lng", g_lng), NULL,
              t);
        return;
    }
    switch (k->phase) {
    case 0:
        /* deliveries an earlier run left with this courier are finished first: a courier
         * carrying them is offered nothing more */
        if (k->resume < 2) {
            start(k, OP_C_MINE, "GET",
                  k->resume == 0 ? "/v1/courier/deliveries?status=assigned&limit=1"
                                 : "/v1/courier/deliveries?status=picked_up&limit=1",
                  NULL, NULL, t);
            return;
        }
        start(k, OP_C_OFFERS, "GET", "/v1/courier/offers", NULL, NULL, t);
        return;
    case 1:
        snprintf(path, sizeof(path), "/v1/courier/deliveries/%" PRId64 "/pickup", k->delivery);
        start(k, OP_C_PICKUP, "POST", path, NULL, NULL, t);
        return;
    case 2: { /* the consumer reads the code off the order and tells it */
        actor_t *c = k->order_id > 0 && (size_t)k->order_id < g_order_owner_n ? g_order_owner[k->order_id] : NULL;
        if (c == NULL) { /* not one of ours: no code to be had (and no more resuming) */
            k->phase = 0;
            k->resume = 2;
            sleep_for(k, POLL_IDLE_S);
            return;
        }
        snprintf(path, sizeof(path), "/v1/orders/%" PRId64, k->order_id);
        /* the consumer's token, on the courier's turn (the consumer may be busy) */
        char tok[256];
        memcpy(tok, k->token, sizeof(tok));
        memcpy(k->token, c->token, sizeof(tok));
        start(k, OP_C_CODE, "GET", path, NULL, NULL, t);
        memcpy(k->token, tok, sizeof(tok));
        return;
    }
    case 3:
        snprintf(path, sizeof(path), "/v1/courier/deliveries/%" PRId64 "/deliver", k->delivery);
        start(k, OP_C_DELIVER, "POST", path, json_pack("{ss}", "code", k->code), NULL, t);
        return;
    }
}

static void courier_done(actor_t *k, xfer_t *x, long st)
{
    json_t *j = NULL;
    switch (x->op) {
    case OP_SIGNIN:
        if (st != 200 || (j = answer_json(x)) == NULL)
            die("courier %s sign-in: HTTP %ld", k->user, st);
        snprintf(k->token, sizeof(k->token), "%s", json_string_value(json_object_get(j, "token")));
        json_decref(j);
        start(k, OP_C_SHIFT, "POST", "/v1/courier/shift", json_pack("{sb}", "on", 1), NULL, now_s());
        return;
    case OP_C_SHIFT: k->ready = 1; return;
    case OP_C_MINE: {
        json_t *o = st == 200 && (j = answer_json(x)) != NULL ? json_array_get(json_object_get(j, "items"), 0) : NULL;
        if (o != NULL) {
            k->delivery = json_integer_value(json_object_get(o, "id"));
            k->order_id = json_integer_value(json_object_get(o, "order_id"));
            k->phase = k->resume == 0 ? 1 : 2;
        } else if (st == 200) {
            k->resume++; /* none left in this status: the next, then offers */
        } else {
            k->resume = 2;
        }
        json_decref(j);
        return;
    }
    case OP_C_OFFERS:
        if (st == 200 && (j = answer_json(x)) != NULL) {
            json_t *o = json_array_get(json_object_get(j, "items"), 0);
            if (o != NULL) {
                char path[128];
                k->delivery = json_integer_value(json_object_get(o, "id"));
                k->order_id = json_integer_value(json_object_get(o, "order_id"));
                json_decref(j);
                snprintf(path, sizeof(path), "/v1/courier/offers/%" PRId64 "/accept", k->delivery);
                start(k, OP_C_ACCEPT, "POST", path, NULL, NULL, now_s());
                return;
            }
            json_decref(j);
        }
        sleep_for(k, POLL_IDLE_S);
        return;
    case OP_C_ACCEPT: k->phase = st == 200 ? 1 : 0; return;
    case OP_C_PICKUP:
        if (st == 200)
            k->phase = 2;
        else if (st == 409 && k->resume >= 2)
            sleep_for(k, POLL_IDLE_S); /* a stall is not ready yet */
        else /* an earlier run's delivery its stalls never readied: left, on to the picked-up ones */
            k->phase = 0, k->resume = k->resume == 0 ? 1 : 2;
        return;
    case OP_C_CODE:
        if (st == 200 && (j = answer_json(x)) != NULL) {
            const char *code = json_string_value(json_object_get(json_object_get(j, "delivery"), "code"));
            snprintf(k->code, sizeof(k->code), "%s", code ? code : "");
            k->phase = code ? 3 : 0;
            json_decref(j);
        } else
            k->phase = 0;
        return;
    case OP_C_DELIVER:
        if (st == 200 && g_measuring)
            g_delivered++;
        k->phase = 0;
        return;
    }
}

/* ---- the loop ---- */
static double g_t_start, g_t_end;
static actor_t g_anon = {.kind = -1}; /* open loop's anonymous browsing */

static void on_done(xfer_t *x, CURLcode cc)
{
    long st = 0, ver = 0;
    double t = now_s();
    if (cc == CURLE_OK)
        curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
    curl_easy_getinfo(x->h, CURLINFO_HTTP_VERSION, &ver);
    if (cc == CURLE_OK && ver != CURL_HTTP_VERSION_2_0 && x->t0 >= g_t_start && g_t_start > 0)
        g_h1++;
    if (cc != CURLE_OK && x->t0 >= g_t_start && g_t_start > 0) {
        static int said;
        if (said++ < 5)
            fprintf(stderr, "sf-loadtest: %s: %s\n", op_name[x->op], curl_easy_strerror(cc));
    }
    g_measuring = g_t_start > 0 && x->t0 >= g_t_start && x->t0 < g_t_end;
    if (g_measuring)
        stat_add(x->op, st, t - x->t0);
    actor_t *a = x->a;
    if (a != NULL && a->kind < 0)
        a->busy = 0;
    else if (a != NULL) {
        a->busy = 0;
        if (a->kind == CONSUMER)
            consumer_done(a, x, st);
        else if (a->kind == VENDOR)
            vendor_done(a, x, st);
        else
            courier_done(a, x, st);
    }
    release(x);
}

static void pump(int timeout_ms)
{
    int running;
    curl_multi_poll(g_multi, NULL, 0, timeout_ms, NULL);
    curl_multi_perform(g_multi, &running);
    CURLMsg *m;
    int left;
    while ((m = curl_multi_info_read(g_multi, &left)) != NULL)
        if (m->msg == CURLMSG_DONE) {
            xfer_t *x;
            curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&x);
            on_done(x, m->data.result);
        }
}

/* A blocking GET during setup (the catalogue). */
static json_t *get_json(const char *path)
{
    static actor_t setup = {.kind = -1}; /* its first request opens the connection */
    xfer_t *x = start(&setup, OP_PRODUCT, "GET", path, NULL, NULL, now_s());
    x->a = NULL;
    int was = g_inflight;
    while (g_inflight >= was) {
        int running;
        curl_multi_poll(g_multi, NULL, 0, 100, NULL);
        curl_multi_perform(g_multi, &running);
        CURLMsg *m;
        int left;
        while ((m = curl_multi_info_read(g_multi, &left)) != NULL)
            if (m->msg == CURLMSG_DONE && m->easy_handle == x->h) {
                long st = 0;
                curl_easy_getinfo(x->h, CURLINFO_RESPONSE_CODE, &st);
                if (m->data.result != CURLE_OK || st != 200)
                    die("GET %s: %s, HTTP %ld", path, curl_easy_strerror(m->data.result), st);
                json_t *j = answer_json(x);
                release(x);
                return j;
            }
    }
    return NULL;
}

static void load_world(void)
{
    char path[256];
    json_t *m;
    snprintf(path, sizeof(path), "/v1/markets/%" PRId64, g_market);
    m = get_json(path);
    g_lat = json_number_value(json_object_get(m, "lat"));
    g_lng = json_number_value(json_object_get(m, "lng"));
    json_decref(m);
    char cursor[256] = "";
    size_t cap = 0;
    do {
        snprintf(path, sizeof(path), "/v1/markets/%" PRId64 "/products?limit=100%s%s", g_market,
                 cursor[0] ? "&cursor=" : "", cursor);
        json_t *j = get_json(path), *p;
        size_t i;
        json_array_foreach(json_object_get(j, "items"), i, p)
        {
            if (json_integer_value(json_object_get(p, "stock")) <= 0)
                continue;
            if (g_nproducts == cap &&
                (g_products = realloc(g_products, (cap = cap ? cap * 2 : 256) * sizeof(*g_products))) == NULL)
                die("out of memory");
            product_t *q = &g_products[g_nproducts++];
            q->id = json_integer_value(json_object_get(p, "id"));
            q->stall_id = json_integer_value(json_object_get(p, "stall_id"));
            q->weight =
                strcmp(json_string_value(json_object_get(json_object_get(p, "pricing"), "mode")) ?: "", "weight") == 0;
            q->name = strdup(json_string_value(json_object_get(p, "name")) ?: "菜");
            q->category = strdup(json_string_value(json_object_get(p, "category")) ?: "veg");
        }
        const char *next = json_string_value(json_object_get(j, "next_cursor"));
        snprintf(cursor, sizeof(cursor), "%s", next ? next : "");
        json_decref(j);
    } while (cursor[0] != '\0');
    if (g_nproducts == 0)
        die("market %" PRId64 " has no product in stock: seed it (stallfront seed)", g_market);
    for (size_t i = 0; i < g_nproducts; i++) {
        size_t s = 0, c = 0;
        while (s < g_nstalls && g_stalls[s].id != g_products[i].stall_id)
            s++;
        if (s == g_nstalls) {
            g_stalls = realloc(g_stalls, ++g_nstalls * sizeof(*g_stalls));
            g_stalls[s] = (stall_t){.id = g_products[i].stall_id};
        }
        g_stalls[s].prod = realloc(g_stalls[s].prod, (g_stalls[s].n + 1) * sizeof(size_t));
        g_stalls[s].prod[g_stalls[s].n++] = i;
        while (c < g_ncategories && strcmp(g_categories[c], g_products[i].category) != 0)
            c++;
        if (c == g_ncategories) {
            g_categories = realloc(g_categories, ++g_ncategories * sizeof(*g_categories));
            g_categories[c] = g_products[i].category;
        }
    }
    fprintf(stderr, "sf-loadtest: market %" PRId64 ": %zu products in stock, %zu stalls, %zu categories\n", g_market,
            g_nproducts, g_nstalls, g_ncategories);
}

static void signin(actor_t *a)
{
    if (a->kind == CONSUMER) {
        char code[64];
        snprintf(code, sizeof(code), "sandbox-lt-%d", a->idx);
        start(a, OP_SIGNIN, "POST", "/v1/auth/wechat", json_pack("{ss}", "code", code), NULL, now_s());
    } else {
        a->todo = json_array();
        start(a, OP_SIGNIN, "POST", "/v1/auth/login", json_pack("{ssss}", "username", a->user, "password", a->pass),
              NULL, now_s());
    }
}

static volatile sig_atomic_t g_stop;
static void on_sigint(int sig)
{
    g_stop = 1;
}

static void usage(void)
{
    fprintf(stderr, "usage: sf-loadtest [--closed N | --open RATE [--consumers N] | --checkout-cycle [--closed N]]\n"
                    "                   [--fulfil] [--duration S] [--url BASE] [--market ID]\n"
                    "                   [--credentials FILE] [--config FILE] [--seed N]\n"
                    "                   [--orders N (with --checkout-cycle --fulfil)] [--at-start CMD] [--at-end CMD]\n"
                    "(see the comment at the top of loadtest/driver.c)\n");
    exit(2);
}

static void report(double secs)
{
    uint64_t total = 0, errs = 0, by_status[600] = {0};
    printf("\n%-11s %9s %9s %8s %8s %8s %8s %8s  %s\n", "op", "count", "per s", "p50 ms", "p90", "p99", "p99.9", "max",
           "statuses");
    for (int op = 0; op < OP_N; op++) {
        stat_t *s = &g_stat[op];
        if (s->n == 0)
            continue;
        qsort(s->lat_us, s->n, sizeof(*s->lat_us), cmp_u32);
        char sts[256] = "";
        size_t used = 0;
        for (int k = 0; k < 600; k++)
            if (s->status[k]) {
                used += snprintf(sts + used, sizeof(sts) - used, "%s%d:%" PRIu64, used ? " " : "", k, s->status[k]);
                by_status[k] += s->status[k];
                if (k < 200 || k >= 400)
                    errs += s->status[k];
                if (used >= sizeof(sts))
                    break;
            }
        total += s->n;
        printf("%-11s %9zu %9.1f %8.2f %8.2f %8.2f %8.2f %8.2f  %s\n", op_name[op], s->n, s->n / secs,
               quantile_ms(s, 0.5), quantile_ms(s, 0.9), quantile_ms(s, 0.99), quantile_ms(s, 0.999),
               s->lat_us[s->n - 1] / 1000.0, sts);
    }
    printf("\ntotal: %" PRIu64 " requests in %.1f s: %.1f req/s; errors (no answer, or 1xx/4xx/5xx): %" PRIu64 "\n",
           total, secs, total / secs, errs);
    printf("by status:");
    for (int k = 0; k < 600; k++)
        if (by_status[k])
            printf(" %s%d=%" PRIu64, k == 0 ? "no-answer" : "", k == 0 ? 0 : k, by_status[k]);
    printf("\n");
    if (g_h1)
        printf("answers not over HTTP/2: %" PRIu64 "\n", g_h1);
    if (g_skipped)
        printf("open loop: %" PRIu64 " consumer requests started as browsing (every consumer busy)\n", g_skipped);
    printf("checkout: 201=%" PRIu64 " 409 out_of_stock=%" PRIu64 " other=%" PRIu64 "\n", g_co_201, g_co_409_oos,
           g_co_other);
    if (g_cycle)
        printf("checkout cycle: %.1f orders/s, POST /v1/orders p50 %.2f ms p99 %.2f ms\n", g_co_201 / secs,
               quantile_ms(&g_stat[OP_CHECKOUT], 0.5), quantile_ms(&g_stat[OP_CHECKOUT], 0.99));
    if (!g_cycle)
        printf("paid (acknowledged callbacks): %" PRIu64 "\n", g_paid);
    if (g_fulfil)
        printf("delivered: %" PRIu64 "\n", g_delivered);
}

int main(int argc, char **argv)
{
    int closed = 50, consumers = 0;
    double rate = 0, duration = 15;
    const char *creds_path = "var/demo-credentials.json", *config_path = NULL, *at_start = NULL, *at_end = NULL;
    long seed = -1;
    g_url = "http://127.0.0.1:8080";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--fulfil") == 0)
            g_fulfil = 1;
        else if (strcmp(a, "--checkout-cycle") == 0)
            g_cycle = 1;
        else if (v == NULL)
            usage();
        else if (strcmp(a, "--closed") == 0)
            closed = atoi(v), i++;
        else if (strcmp(a, "--open") == 0)
            rate = atof(v), i++;
        else if (strcmp(a, "--consumers") == 0)
            consumers = atoi(v), i++;
        else if (strcmp(a, "--duration") == 0)
            duration = atof(v), i++;
        else if (strcmp(a, "--url") == 0)
            g_url = v, i++;
        else if (strcmp(a, "--market") == 0)
            g_market = atoll(v), i++;
        else if (strcmp(a, "--credentials") == 0)
            creds_path = v, i++;
        else if (strcmp(a, "--config") == 0)
            config_path = v, i++;
        else if (strcmp(a, "--seed") == 0)
            seed = atol(v), i++;
        else if (strcmp(a, "--orders") == 0)
            g_orders_max = strtoull(v, NULL, 10), i++;
        else if (strcmp(a, "--at-start") == 0)
            at_start = v, i++;
        else if (strcmp(a, "--at-end") == 0)
            at_end = v, i++;
        else
            usage();
    }
    g_open = rate > 0;
    if (closed < 1 || duration <= 0 || rate < 0 || (g_open && g_cycle) || (g_orders_max > 0 && !(g_cycle && g_fulfil)))
        usage();
    g_nconsumers = g_open ? (size_t)(consumers > 0 ? consumers : 200) : (size_t)closed;
    if (seed < 0 && RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
        die("RAND_bytes failed");
    srand48_r(seed, &g_rand);

    char err[512];
    g_cfg_ok = config_load(&g_cfg, config_path, err, sizeof(err)) == 0;
    if (!g_cfg_ok)
        fprintf(stderr, "sf-loadtest: configuration: %s (paying needs the sandbox keys)\n", err);

    json_error_t jerr;
    json_t *creds = json_load_file(creds_path, 0, &jerr);
    if (creds == NULL && (g_fulfil || g_market == 0))
        die("%s: %s", creds_path, jerr.text);
    if (g_market == 0)
        g_market = json_integer_value(json_object_get(creds, "market_id"));
    if (g_market <= 0)
        die("no market: pass --market");
    json_t *mcreds = creds; /* the credentials of --market */
    if (creds != NULL && json_integer_value(json_object_get(creds, "market_id")) != g_market)
        mcreds = json_object_get(creds, "second_market");
    if (g_fulfil && json_integer_value(json_object_get(mcreds, "market_id")) != g_market)
        die("%s has no vendors or couriers of market %" PRId64, creds_path, g_market);

    curl_global_init(CURL_GLOBAL_DEFAULT);
    signal(SIGPIPE, SIG_IGN);
    signal(SIGINT, on_sigint);
    g_multi = curl_multi_init();
    /* No multiplexing: as a mini-program's users, each request in flight has a connection of
     * its own (the server bounds what one connection may have outstanding: http.conn_inflight) */
    curl_multi_setopt(g_multi, CURLMOPT_PIPELINING, (long)CURLPIPE_NOTHING);
    size_t nv = g_fulfil ? json_array_size(json_object_get(mcreds, "vendors")) : 0;
    size_t nk = g_fulfil ? json_array_size(json_object_get(mcreds, "couriers")) : 0;
    g_nactors = g_nconsumers + nv + nk;
    curl_multi_setopt(g_multi, CURLMOPT_MAXCONNECTS, (long)(g_nactors + 64));
    g_actors = calloc(g_nactors, sizeof(*g_actors));

    load_world();
    for (size_t i = 0; i < g_nactors; i++) {
        actor_t *a = &g_actors[i];
        if (i < g_nconsumers)
            *a = (actor_t){.kind = CONSUMER, .idx = (int)i + 1};
        else {
            int vend = i < g_nconsumers + nv;
            json_t *c = json_array_get(json_object_get(mcreds, vend ? "vendors" : "couriers"),
                                       vend ? i - g_nconsumers : i - g_nconsumers - nv);
            *a = (actor_t){.kind = vend ? VENDOR : COURIER, .idx = (int)i};
            a->user = json_string_value(json_object_get(c, "username"));
            a->pass = json_string_value(json_object_get(c, "password"));
        }
    }
    /* setup: sign everyone in (at most 50 at once), then the measured run */
    size_t next = 0, ready = 0;
    double t_setup = now_s();
    while (ready < g_nactors && !g_stop) {
        while (next < g_nactors && g_inflight < 50)
            signin(&g_actors[next++]);
        pump(50);
        ready = 0;
        for (size_t i = 0; i < g_nactors; i++)
            ready += g_actors[i].ready;
    }
    fprintf(stderr, "sf-loadtest: %zu consumers, %zu vendors, %zu couriers signed in (%.1f s); running %.0f s %s\n",
            g_nconsumers, nv, nk, now_s() - t_setup, duration,
            g_cycle  ? "of the checkout cycle"
            : g_open ? "open loop"
                     : "closed loop");

    if (at_start != NULL && system(at_start) != 0)
        die("--at-start %s failed", at_start);
    g_t_start = now_s();
    g_t_end = g_t_start + duration;
    double next_tick = g_t_start + 1;
    uint64_t started = 0, last_total = 0;
    size_t rr = 0;
    while (!g_stop) {
        double t = now_s();
        if (t >= g_t_end || (g_orders_max > 0 && g_delivered >= g_orders_max))
            break;
        if (g_open) { /* every request due by now, each at its intended time */
            uint64_t due = (uint64_t)((t - g_t_start) * rate);
            for (; started < due; started++) {
                double t0 = g_t_start + (double)started / rate;
                actor_t *c = NULL;
                for (size_t k = 0; k < g_nconsumers && c == NULL; k++, rr++)
                    if (!g_actors[rr % g_nconsumers].busy)
                        c = &g_actors[rr % g_nconsumers];
                if (c != NULL)
                    consumer_next(c, t0);
                else { /* every consumer waits on an answer: an anonymous catalogue read */
                    g_skipped++;
                    g_anon.connected = 0; /* a new visitor, on a connection of its own */
                    browse(&g_anon, rnd() * 85, t0);
                }
            }
        }
        for (size_t i = 0; i < g_nactors; i++) {
            actor_t *a = &g_actors[i];
            if (a->busy || (a->kind == CONSUMER && g_open))
                continue;
            if (a->wake_at > 0 && t < a->wake_at)
                continue;
            a->wake_at = 0;
            if (a->kind == CONSUMER)
                consumer_next(a, t);
            else if (a->kind == VENDOR)
                vendor_next(a);
            else
                courier_next(a);
        }
        int wait = 1;
        if (g_open) {
            double nt = g_t_start + (double)(started + 1) / rate - now_s();
            wait = nt <= 0 ? 0 : (int)(nt * 1000);
        }
        pump(wait);
        if (now_s() >= next_tick) {
            uint64_t total = 0, errs = 0;
            for (int op = 0; op < OP_N; op++) {
                total += g_stat[op].n;
                for (int k = 0; k < 600; k++)
                    if (k < 200 || k >= 400)
                        errs += g_stat[op].status[k];
            }
            fprintf(stderr,
                    "t=%3.0fs  %7.0f req/s  total %" PRIu64 "  errors %" PRIu64 "  in flight %d  orders %" PRIu64
                    "  409 %" PRIu64 "  paid %" PRIu64 "  delivered %" PRIu64 "\n",
                    next_tick - g_t_start, (double)(total - last_total), total, errs, g_inflight, g_co_201,
                    g_co_409_oos, g_paid, g_delivered);
            last_total = total;
            next_tick += 1;
        }
    }
    double secs = now_s() - g_t_start;
    g_t_end = g_t_start + secs;
    /* the answers still on their way count (the slowest among them): wait for them, up to the
     * request timeout; nothing new starts */
    double give_up = now_s() + REQ_TIMEOUT_S + 1;
    while (g_inflight > 0 && now_s() < give_up) {
        for (size_t i = 0; i < g_nactors; i++)
            g_actors[i].wake_at = 1e18;
        pump(20);
    }
    if (at_end != NULL && system(at_end) != 0)
        die("--at-end %s failed", at_end);
    report(secs);
    if (g_fulfil)
        for (size_t i = g_nconsumers + nv; i < g_nactors; i++) {
            actor_t *k = &g_actors[i];
            if (k->busy)
                continue;
            start(k, OP_C_SHIFT, "POST", "/v1/courier/shift", json_pack("{sb}", "on", 0), NULL, now_s());
        }
    give_up = now_s() + 5;
    while (g_inflight > 0 && now_s() < give_up)
        pump(20);
    curl_multi_cleanup(g_multi);
    json_decref(creds);
    return 0;
}
