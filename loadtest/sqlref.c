/*
 * sf-sqlref: the limit the benchmark (loadtest/bench) sets beside the server's figures: the
 * same SQL driven directly against the same MariaDB, with the same client wrapper the server
 * uses (models/store/db.h: Connector/C prepared statements cached per connection), one
 * connection per thread, closed loop, no HTTP, no Redis, no JSON parsing of requests.
 *
 * Modes:
 *   --checkout   one checkout cycle per iteration, as the server issues it for the cycle of
 *                issue 11 (3 cart PUTs of lines from 2 stalls, then POST /v1/orders):
 *                  3 x the read of a cart PUT (the product and the cart's others, one
 *                  statement), the market and the address (one statement), the
 *                  idempotency claim, then in one transaction
 *                  (db_tx, BEGIN ... COMMIT): the products locked and read in one statement,
 *                  the stock taken, INSERT orders ... RETURNING, INSERT vendor_orders ...
 *                  RETURNING, INSERT order_events, INSERT order_lines ... RETURNING, the
 *                  outbox row, the idempotency row answered.
 *                Its orders are numbered SR..., its idempotency rows have scope `sqlref`, its
 *                outbox rows are written already published (no worker acts on them); the
 *                bench deletes them and gives their stock back afterwards
 *                (`sf-sqlref --cleanup`). Prints `tps=` (orders/s).
 *   --pk         one primary-key SELECT of a random product of the market per iteration.
 *                Prints `tps=` (selects/s) and the latency p50/p99.
 *   --cleanup    deletes what --checkout wrote (orders SR..., their lines, vendor orders,
 *                events, the idempotency rows of scope sqlref) and gives the stock back.
 *
 *   --idle-h2 N --port P [--hold S]: no database; opens N TCP connections to 127.0.0.1:P
 *                (non-blocking, 500 connecting at a time), sends each the HTTP/2 client
 *                preface and an empty SETTINGS frame, prints `idle-h2: N open` and holds
 *                them S seconds (600) or until killed (the bench reads serve's RSS then).
 *                Raises its open-file limit to the hard limit.
 *
 * Options: --config FILE (the server's: db.*; STALLFRONT_* as the server reads them)
 *   --market ID (required)  --threads N (50)  --duration S (10)
 *
 * Consumers: the newest N consumer addresses usable in the market (the load driver's signed-in consumers
 * have made them); products: on sale, of an active vendor, with stock to spare.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <unistd.h>
#include <jansson.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/base/config.h"
#include "models/store/db.h"

#define MAX_THREADS  512
#define MAX_PRODUCTS 4096

typedef struct prod {
    int64_t id, stall_id, vendor_id, price_fen, per_g;
    int weight;
} prod_t;

typedef struct addr {
    int64_t id, user_id;
} addr_t;

static config_t g_cfg;
static int64_t g_market;
static int g_mode_pk;
static double g_duration = 10;
static prod_t g_prod[MAX_PRODUCTS];
static size_t g_nprod;
static addr_t g_addr[MAX_THREADS];
static size_t g_naddr;
static volatile int g_go, g_stop;
static pthread_mutex_t g_mu = PTHREAD_MUTEX_INITIALIZER;
static int g_ready;

typedef struct worker {
    pthread_t th;
    int idx;
    uint64_t done, failed, short_;
    uint32_t *lat_us;
    size_t nlat, cap;
    unsigned rnd;
} worker_t;

static void die(const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "sf-sqlref: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static unsigned rndn(worker_t *w, unsigned n)
{
    return (unsigned)rand_r(&w->rnd) % n;
}

static void keep_latency(worker_t *w, double secs)
{
    if (w->nlat == w->cap) {
        w->cap = w->cap ? w->cap * 2 : 4096;
        w->lat_us = realloc(w->lat_us, w->cap * sizeof(*w->lat_us));
        if (w->lat_us == NULL)
            die("out of memory");
    }
    w->lat_us[w->nlat++] = (uint32_t)(secs * 1e6);
}

/* ---- the checkout cycle ---- */

typedef struct cycle {
    worker_t *w;
    const addr_t *a;
    const prod_t *p[3];
    int64_t qty[3], amount[3], items;
    char key[40];
    int64_t order_id;
    int short_;
} cycle_t;

/* A cart PUT's read: the product and the cart's other products in one statement (n ids, the
 * IN list padded as models/cart.c pads it: 1, 2, 4), as models/cart.c's cart_change() reads
 * them when it knows the cart's lines (its per-process hint). */
static int cart_put_reads(db_t *db, cycle_t *c, size_t n)
{
    db_rows_t *rows = NULL;
    int rc;
    static const char *const view[] = {
        NULL,
        "SELECT p.id, p.name, p.stall_id, p.pricing_mode, p.price_fen, p.per_g, p.unit, p.stock,"
        " p.status = 'on_sale', v.status = 'active', p.market_id FROM products p JOIN vendors v ON v.id = p.vendor_id"
        " WHERE p.id IN (?) ORDER BY p.id",
        "SELECT p.id, p.name, p.stall_id, p.pricing_mode, p.price_fen, p.per_g, p.unit, p.stock,"
        " p.status = 'on_sale', v.status = 'active', p.market_id FROM products p JOIN vendors v ON v.id = p.vendor_id"
        " WHERE p.id IN (?,?) ORDER BY p.id",
        "SELECT p.id, p.name, p.stall_id, p.pricing_mode, p.price_fen, p.per_g, p.unit, p.stock,"
        " p.status = 'on_sale', v.status = 'active', p.market_id FROM products p JOIN vendors v ON v.id = p.vendor_id"
        " WHERE p.id IN (?,?,?,?) ORDER BY p.id",
    };
    db_param_t p[4];
    size_t k = n == 3 ? 4 : n;
    for (size_t i = 0; i < k; i++)
        p[i] = DB_I64(c->p[i < n ? i : n - 1]->id);
    rc = db_query(db, view[n], p, k, &rows);
    db_rows_free(rows);
    return rc;
}

static char *json_text(json_t *j)
{
    char *t = j != NULL ? json_dumps(j, JSON_COMPACT) : NULL;
    json_decref(j);
    if (t == NULL)
        die("out of memory");
    return t;
}

static sf_status_t checkout_tx(db_t *db, void *ctx)
{
    cycle_t *c = ctx;
    db_rows_t *rows = NULL;
    int64_t ids[3];
    for (int i = 0; i < 3; i++)
        ids[i] = c->p[i]->id;
    /* lock order: by product id */
    for (int i = 0; i < 3; i++)
        for (int j = i + 1; j < 3; j++)
            if (ids[j] < ids[i]) {
                int64_t t = ids[i];
                ids[i] = ids[j];
                ids[j] = t;
            }
    char *text = json_text(json_pack("[I, I, I]", (json_int_t)ids[0], (json_int_t)ids[1], (json_int_t)ids[2]));
    int rc = db_query(db,
                      "SELECT p.id, p.market_id, p.stall_id, p.vendor_id, p.name, p.pricing_mode, p.price_fen, p.per_g,"
                      " p.stock, p.status, (SELECT v.status = 'active' FROM vendors v WHERE v.id = p.vendor_id)"
                      " FROM JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) j STRAIGHT_JOIN products p"
                      " ON p.id = j.id ORDER BY p.id FOR UPDATE",
                      (db_param_t[]){DB_STR(text)}, 1, &rows);
    free(text);
    db_rows_free(rows);
    if (rc != DB_OK)
        return rc;

    json_t *moves = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(moves, json_pack("[I, I]", (json_int_t)c->p[i]->id, (json_int_t)c->qty[i]));
    text = json_text(moves);
    uint64_t changed = 0;
    rc = db_exec(db,
                 "UPDATE JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$[0]', qty BIGINT PATH '$[1]')) j"
                 " STRAIGHT_JOIN products p ON p.id = j.id"
                 " SET p.stock = p.stock - j.qty, p.sales_qty = p.sales_qty + j.qty WHERE p.stock >= j.qty",
                 (db_param_t[]){DB_STR(text)}, 1, &changed, NULL);
    free(text);
    if (rc != DB_OK)
        return rc;
    if (changed != 3) {
        c->short_ = 1;
        return SF_E_OUT_OF_STOCK; /* rolled back */
    }

    uint64_t r = 0;
    char order_no[33];
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        die("RAND_bytes failed");
    snprintf(order_no, sizeof(order_no), "SR%08d%010llu", c->w->idx, (unsigned long long)(r % 10000000000ULL));
    int64_t fee = c->items >= 3000 ? 0 : 300;
    db_param_t po[] = {
        DB_STR(order_no),       DB_I64(g_market), DB_I64(c->a->user_id), DB_I64(c->items), DB_I64(fee),
        DB_I64(c->items + fee), DB_NULL,          DB_I64(900),           DB_I64(c->a->id), DB_I64(c->a->user_id)};
    rc = db_query(db,
                  "INSERT INTO orders (order_no, market_id, consumer_id, status, items_fen, delivery_fee_fen,"
                  " payable_fen, address_id, addr_name, addr_phone, addr_text, addr_lat, addr_lng, note,"
                  " expires_at) SELECT ?, ?, ?, 'pending_payment', ?, ?, ?, a.id, a.name, a.phone, a.text, a.lat,"
                  " a.lng, ?, NOW(3) + INTERVAL ? SECOND FROM addresses a WHERE a.id = ? AND a.user_id = ?"
                  " RETURNING id, order_no, market_id, status, items_fen, delivery_fee_fen, payable_fen, paid_fen,"
                  " refunded_fen, CONCAT(LEFT(DATE_FORMAT(created_at + INTERVAL 8 HOUR, '%Y-%m-%dT%H:%i:%s.%f'), 23),"
                  " '+08:00'), CONCAT(LEFT(DATE_FORMAT(expires_at + INTERVAL 8 HOUR, '%Y-%m-%dT%H:%i:%s.%f'), 23),"
                  " '+08:00'), paid_at, note, addr_name, addr_phone, addr_text, addr_lat, addr_lng, cancelled_at,"
                  " cancel_reason, CAST(ROUND(UNIX_TIMESTAMP(expires_at) * 1000) AS SIGNED)",
                  po, 10, &rows);
    if (rc == DB_OK && !db_rows_next(rows))
        rc = DB_ERR;
    if (rc == DB_OK)
        c->order_id = db_rows_i64(rows, 0);
    json_t *doc = rc == DB_OK ? json_pack("{s:I, s:s, s:s?, s:[]}", "id", (json_int_t)c->order_id, "order_no", order_no,
                                          "created_at", db_rows_str(rows, 9, NULL), "vendor_orders")
                              : NULL;
    int64_t expires_ms = rc == DB_OK ? db_rows_i64(rows, 20) : 0;
    db_rows_free(rows);
    if (rc != DB_OK)
        return rc;

    /* vendor orders: stall of p[0] (lines 0 and 1), stall of p[2] */
    text = json_text(json_pack("[[I, I, I], [I, I, I]]", (json_int_t)c->p[0]->stall_id, (json_int_t)c->p[0]->vendor_id,
                               (json_int_t)(c->amount[0] + c->amount[1]), (json_int_t)c->p[2]->stall_id,
                               (json_int_t)c->p[2]->vendor_id, (json_int_t)c->amount[2]));
    rc = db_query(db,
                  "INSERT INTO vendor_orders (order_id, market_id, stall_id, vendor_id, status, items_fen)"
                  " SELECT ?, ?, j.stall_id, j.vendor_id, 'pending_payment', j.items FROM JSON_TABLE(?, '$[*]'"
                  " COLUMNS (stall_id BIGINT PATH '$[0]', vendor_id BIGINT PATH '$[1]', items BIGINT PATH '$[2]')) j"
                  " RETURNING id, order_id, stall_id, vendor_id, status, items_fen",
                  (db_param_t[]){DB_I64(c->order_id), DB_I64(g_market), DB_STR(text)}, 3, &rows);
    free(text);
    int64_t vo[2] = {0, 0};
    for (int i = 0; rc == DB_OK && i < 2 && db_rows_next(rows); i++) {
        vo[i] = db_rows_i64(rows, 0);
        json_array_append_new(json_object_get(doc, "vendor_orders"),
                              json_pack("{s:I, s:I, s:s, s:[]}", "id", (json_int_t)vo[i], "stall_id",
                                        (json_int_t)db_rows_i64(rows, 2), "status", "pending_payment", "lines"));
    }
    db_rows_free(rows);
    if (rc == DB_OK && vo[1] == 0)
        rc = DB_ERR;
    if (rc != DB_OK) {
        json_decref(doc);
        return rc;
    }

    char actor[48];
    snprintf(actor, sizeof(actor), "consumer:%" PRId64, c->a->user_id);
    text = json_text(json_pack("[I, I, I]", (json_int_t)0, (json_int_t)vo[0], (json_int_t)vo[1]));
    rc = db_exec(db,
                 "INSERT INTO order_events (market_id, order_id, vendor_order_id, from_status, to_status, actor)"
                 " SELECT m.market_id, m.order_id, NULLIF(j.id, 0), NULL, 'pending_payment', m.actor FROM"
                 " JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) j"
                 " JOIN (SELECT ? AS market_id, ? AS order_id, ? AS actor) m",
                 (db_param_t[]){DB_STR(text), DB_I64(g_market), DB_I64(c->order_id), DB_STR(actor)}, 4, NULL, NULL);
    free(text);
    if (rc != DB_OK) {
        json_decref(doc);
        return rc;
    }

    json_t *lines = json_array();
    for (int i = 0; i < 3; i++)
        json_array_append_new(lines, json_pack("[I, I, I, I]", (json_int_t)c->p[i]->id, (json_int_t)vo[i < 2 ? 0 : 1],
                                               (json_int_t)c->qty[i], (json_int_t)c->amount[i]));
    text = json_text(lines);
    rc = db_query(
        db,
        "INSERT INTO order_lines (order_id, vendor_order_id, market_id, product_id, name, category,"
        " commodity_code, pricing_mode, price_fen, per_g, unit, qty, amount_fen, origin, trace_code)"
        " SELECT ?, j.vo, p.market_id, p.id, p.name, p.category, p.commodity_code, p.pricing_mode, p.price_fen,"
        " p.per_g, p.unit, j.qty, j.amount, p.origin, p.trace_code FROM JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT"
        " PATH '$[0]', vo BIGINT PATH '$[1]', qty BIGINT PATH '$[2]', amount BIGINT PATH '$[3]')) j"
        " STRAIGHT_JOIN products p ON p.id = j.id RETURNING vendor_order_id, id, product_id, name,"
        " commodity_code, pricing_mode, price_fen, per_g, unit, qty, qty_actual, amount_fen,"
        " amount_actual_fen, origin, trace_code, category",
        (db_param_t[]){DB_I64(c->order_id), DB_STR(text)}, 2, &rows);
    free(text);
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *v = json_array_get(json_object_get(doc, "vendor_orders"), db_rows_i64(rows, 0) == vo[0] ? 0 : 1);
        json_array_append_new(json_object_get(v, "lines"),
                              json_pack("{s:I, s:I, s:s?, s:s?, s:I}", "id", (json_int_t)db_rows_i64(rows, 1),
                                        "product_id", (json_int_t)db_rows_i64(rows, 2), "name",
                                        db_rows_str(rows, 3, NULL), "commodity_code", db_rows_str(rows, 4, NULL),
                                        "amount_fen", (json_int_t)db_rows_i64(rows, 11)));
    }
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(doc);
        return rc;
    }

    text = json_text(json_pack("{s:I, s:s, s:I, s:I}", "order_id", (json_int_t)c->order_id, "order_no", order_no,
                               "market_id", (json_int_t)g_market, "expires_at_ms", (json_int_t)expires_ms));
    rc = db_exec(db,
                 "INSERT INTO outbox (market_id, topic, payload, published_at) VALUES (?, 'order.created', ?, NOW(3))",
                 (db_param_t[]){DB_I64(g_market), DB_STR(text)}, 2, NULL, NULL);
    free(text);
    if (rc != DB_OK) {
        json_decref(doc);
        return rc;
    }

    text = json_text(doc);
    rc = db_exec(db,
                 "UPDATE idempotency_keys SET status = ?, response = ? WHERE user_id = ? AND scope = ?"
                 " AND idem_key = ? AND status IS NULL",
                 (db_param_t[]){DB_I64(201), DB_STR(text), DB_I64(c->a->user_id), DB_STR("sqlref"), DB_STR(c->key)}, 5,
                 NULL, NULL);
    free(text);
    return rc;
}

static int one_cycle(db_t *db, worker_t *w)
{
    cycle_t c = {.w = w, .a = &g_addr[(size_t)w->idx % g_naddr]};
    /* two products of one stall, one of another */
    for (int tries = 0; tries < 1000; tries++) {
        size_t i = rndn(w, (unsigned)g_nprod), k = rndn(w, (unsigned)g_nprod);
        size_t j = i + 1 < g_nprod && g_prod[i + 1].stall_id == g_prod[i].stall_id ? i + 1 : i - 1;
        if (j >= g_nprod || g_prod[j].stall_id != g_prod[i].stall_id || g_prod[k].stall_id == g_prod[i].stall_id)
            continue;
        c.p[0] = &g_prod[i], c.p[1] = &g_prod[j], c.p[2] = &g_prod[k];
        break;
    }
    if (c.p[0] == NULL)
        die("no two stalls with two and one products on sale in market %" PRId64, g_market);
    for (int i = 0; i < 3; i++) {
        c.qty[i] = c.p[i]->weight ? 100 : 1;
        c.amount[i] = c.p[i]->weight ? (c.p[i]->price_fen * c.qty[i] + c.p[i]->per_g / 2) / c.p[i]->per_g
                                     : c.p[i]->price_fen * c.qty[i];
        c.items += c.amount[i];
    }
    for (size_t n = 1; n <= 3; n++)
        if (cart_put_reads(db, &c, n) != DB_OK)
            return -1;

    db_rows_t *rows = NULL;
    int rc = db_query_row(db,
                          "SELECT m.lat, m.lng, a.id IS NOT NULL, COALESCE(a.market_id, 0), a.lat, a.lng"
                          " FROM markets m LEFT JOIN addresses a ON a.id = ? AND a.user_id = ? WHERE m.id = ?",
                          (db_param_t[]){DB_I64(c.a->id), DB_I64(c.a->user_id), DB_I64(g_market)}, 3, &rows);
    db_rows_free(rows);
    if (rc != DB_OK)
        return -1;

    unsigned char b[16];
    if (RAND_bytes(b, sizeof(b)) != 1)
        die("RAND_bytes failed");
    for (int i = 0; i < 16; i++)
        snprintf(c.key + 2 * i, 3, "%02x", b[i]);
    char hash[65];
    snprintf(hash, sizeof(hash), "%.32s%.32s", c.key, c.key);
    rc = db_exec(db,
                 "INSERT INTO idempotency_keys (user_id, scope, idem_key, request_hash) VALUES (?, ?, ?, ?)"
                 " ON DUPLICATE KEY UPDATE request_hash = IF(created_at < NOW(3) - INTERVAL ? SECOND,"
                 " VALUES(request_hash), request_hash)",
                 (db_param_t[]){DB_I64(c.a->user_id), DB_STR("sqlref"), DB_STR(c.key), DB_STR(hash), DB_I64(86400)}, 5,
                 NULL, NULL);
    if (rc != DB_OK)
        return -1;
    rc = db_tx(db, checkout_tx, &c);
    if (rc == DB_OK)
        return 0;
    if (c.short_) {
        w->short_++;
        return 1;
    }
    return -1;
}

static int one_pk(db_t *db, worker_t *w)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db,
                          "SELECT id, market_id, stall_id, vendor_id, name, category, commodity_code, pricing_mode,"
                          " price_fen, per_g, unit, stock, status, origin, trace_code FROM products WHERE id = ?",
                          (db_param_t[]){DB_I64(g_prod[rndn(w, (unsigned)g_nprod)].id)}, 1, &rows);
    db_rows_free(rows);
    return rc == DB_OK ? 0 : -1;
}

static void *run(void *arg)
{
    worker_t *w = arg;
    db_t db;
    db_thread_init();
    if (db_open(&db, &g_cfg) != DB_OK)
        die("connection %d: %s", w->idx, db.err);
    pthread_mutex_lock(&g_mu);
    g_ready++;
    pthread_mutex_unlock(&g_mu);
    while (!g_go)
        ;
    while (!g_stop) {
        double t0 = now_s();
        int rc = g_mode_pk ? one_pk(&db, w) : one_cycle(&db, w);
        if (g_stop)
            break; /* finished after the window: not counted */
        if (rc < 0) {
            w->failed++;
            if (w->failed <= 3)
                fprintf(stderr, "sf-sqlref: connection %d: %s\n", w->idx, db.err);
        } else if (rc == 0) {
            w->done++;
            keep_latency(w, now_s() - t0);
        }
    }
    db_close(&db);
    db_thread_end();
    return NULL;
}

static int by_u32(const void *a, const void *b)
{
    uint32_t x = *(const uint32_t *)a, y = *(const uint32_t *)b;
    return x < y ? -1 : x > y;
}

static void load_world(db_t *db, size_t threads)
{
    db_rows_t *rows = NULL;
    if (db_query(db,
                 "SELECT p.id, p.stall_id, p.vendor_id, p.pricing_mode = 'weight', p.price_fen, COALESCE(p.per_g, 1)"
                 " FROM products p JOIN vendors v ON v.id = p.vendor_id WHERE p.market_id = ? AND p.status = 'on_sale'"
                 " AND v.status = 'active' AND p.stock >= 1000 ORDER BY p.stall_id, p.id LIMIT 4096",
                 (db_param_t[]){DB_I64(g_market)}, 1, &rows) != DB_OK)
        die("products: %s", db->err);
    while (db_rows_next(rows) && g_nprod < MAX_PRODUCTS)
        g_prod[g_nprod++] = (prod_t){.id = db_rows_i64(rows, 0),
                                     .stall_id = db_rows_i64(rows, 1),
                                     .vendor_id = db_rows_i64(rows, 2),
                                     .weight = db_rows_i64(rows, 3) == 1,
                                     .price_fen = db_rows_i64(rows, 4),
                                     .per_g = db_rows_i64(rows, 5)};
    db_rows_free(rows);
    if (g_nprod < 3)
        die("market %" PRId64 ": fewer than 3 products on sale with a stock of 1000 or more", g_market);
    if (g_mode_pk)
        return;
    if (db_query(db,
                 "SELECT a.id, a.user_id FROM addresses a JOIN users u ON u.id = a.user_id WHERE u.role = 'consumer'"
                 " AND (a.market_id IS NULL OR a.market_id = ?) ORDER BY a.id DESC LIMIT ?",
                 (db_param_t[]){DB_I64(g_market), DB_I64((int64_t)threads)}, 2, &rows) != DB_OK)
        die("addresses: %s", db->err);
    while (db_rows_next(rows) && g_naddr < MAX_THREADS)
        g_addr[g_naddr++] = (addr_t){.id = db_rows_i64(rows, 0), .user_id = db_rows_i64(rows, 1)};
    db_rows_free(rows);
    if (g_naddr == 0)
        die("market %" PRId64 ": no consumer address (run the load driver first: it makes them)", g_market);
}

static sf_status_t cleanup_tx(db_t *db, void *ctx)
{
    uint64_t *n = ctx;
    static const char *const sql[] = {
        /* the stock back first, from the lines */
        "UPDATE products p JOIN (SELECT l.product_id, SUM(l.qty) AS qty FROM order_lines l JOIN orders o"
        " ON o.id = l.order_id WHERE o.market_id = ? AND o.order_no LIKE 'SR%' GROUP BY l.product_id) r"
        " ON r.product_id = p.id SET p.stock = p.stock + r.qty, p.sales_qty = p.sales_qty - r.qty",
        "DELETE e FROM order_events e JOIN orders o ON o.id = e.order_id WHERE o.market_id = ? AND o.order_no LIKE "
        "'SR%'",
        "DELETE l FROM order_lines l JOIN orders o ON o.id = l.order_id WHERE o.market_id = ? AND o.order_no LIKE "
        "'SR%'",
        "DELETE v FROM vendor_orders v JOIN orders o ON o.id = v.order_id WHERE o.market_id = ? AND o.order_no LIKE "
        "'SR%'",
        "DELETE FROM orders WHERE market_id = ? AND order_no LIKE 'SR%'",
    };
    for (size_t i = 0; i < sizeof(sql) / sizeof(sql[0]); i++) {
        uint64_t k = 0;
        sf_status_t rc = db_exec(db, sql[i], (db_param_t[]){DB_I64(g_market)}, 1, &k, NULL);
        if (rc != DB_OK)
            return rc;
        if (i == 4)
            *n = k;
    }
    return db_exec(db, "DELETE FROM idempotency_keys WHERE scope = 'sqlref'", NULL, 0, NULL, NULL);
}

/* ---- idle HTTP/2 connections ---- */

static int idle_h2(int n, int port, double hold)
{
    static const char hello[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"
                                "\x00\x00\x00\x04\x00\x00\x00\x00\x00"; /* preface + SETTINGS, empty */
    const size_t hello_len = sizeof(hello) - 1;
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_NOFILE, &rl);
    }
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    struct pollfd *fds = calloc((size_t)n, sizeof(*fds));
    if (fds == NULL)
        die("out of memory");
    int open_ = 0;
    for (int base = 0; base < n; base += 500) {
        int k = n - base < 500 ? n - base : 500;
        for (int i = 0; i < k; i++) {
            int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
            if (fd < 0)
                die("socket (%d open): %s", open_, strerror(errno));
            if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 && errno != EINPROGRESS)
                die("connect (%d open): %s", open_, strerror(errno));
            fds[base + i] = (struct pollfd){.fd = fd, .events = POLLOUT};
        }
        int left = k;
        double give_up = now_s() + 10;
        while (left > 0 && now_s() < give_up) {
            if (poll(fds + base, (nfds_t)k, 100) < 0 && errno != EINTR)
                die("poll: %s", strerror(errno));
            for (int i = 0; i < k; i++) {
                struct pollfd *f = &fds[base + i];
                if (f->events == 0 || f->revents == 0)
                    continue;
                int soerr = 0;
                socklen_t sl = sizeof(soerr);
                getsockopt(f->fd, SOL_SOCKET, SO_ERROR, &soerr, &sl);
                if (soerr != 0 || (f->revents & (POLLERR | POLLHUP)))
                    die("connection %d: %s", base + i, strerror(soerr ? soerr : ECONNRESET));
                if (write(f->fd, hello, hello_len) != (ssize_t)hello_len)
                    die("connection %d: the preface not written", base + i);
                f->events = 0;
                left--;
                open_++;
            }
        }
        if (left > 0)
            die("%d connections not established in 10 s", left);
    }
    printf("idle-h2: %d open\n", open_);
    fflush(stdout);
    /* hold them; drain what the server sends (its SETTINGS) so nothing backs up */
    char buf[4096];
    double end = now_s() + hold;
    int closed = 0;
    while (now_s() < end && closed < n) {
        for (int i = 0; i < n; i++)
            fds[i].events = POLLIN;
        int r = poll(fds, (nfds_t)n, 1000);
        for (int i = 0; r > 0 && i < n; i++) {
            if (fds[i].fd < 0 || !(fds[i].revents & (POLLIN | POLLHUP | POLLERR)))
                continue;
            ssize_t got;
            while ((got = read(fds[i].fd, buf, sizeof(buf))) > 0)
                ;
            if (got == 0 || (got < 0 && errno != EAGAIN && errno != EWOULDBLOCK)) {
                /* the server closed it: out of the poll set (an EOF stays readable), and said */
                close(fds[i].fd);
                fds[i].fd = -1;
                printf("idle-h2: %d closed\n", ++closed);
                fflush(stdout);
            }
        }
    }
    for (int i = 0; i < n; i++)
        if (fds[i].fd >= 0)
            close(fds[i].fd);
    free(fds);
    return 0;
}

int main(int argc, char **argv)
{
    const char *config_path = NULL;
    int threads = 50, cleanup = 0, mode = 0, idle = 0, port = 0;
    double hold = 600;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--checkout") == 0)
            mode = 1;
        else if (strcmp(a, "--pk") == 0)
            mode = 2;
        else if (strcmp(a, "--cleanup") == 0)
            cleanup = 1;
        else if (v != NULL && strcmp(a, "--config") == 0)
            config_path = v, i++;
        else if (v != NULL && strcmp(a, "--market") == 0)
            g_market = atoll(v), i++;
        else if (v != NULL && strcmp(a, "--threads") == 0)
            threads = atoi(v), i++;
        else if (v != NULL && strcmp(a, "--duration") == 0)
            g_duration = atof(v), i++;
        else if (v != NULL && strcmp(a, "--idle-h2") == 0)
            idle = atoi(v), i++;
        else if (v != NULL && strcmp(a, "--port") == 0)
            port = atoi(v), i++;
        else if (v != NULL && strcmp(a, "--hold") == 0)
            hold = atof(v), i++;
        else
            die("usage: sf-sqlref (--checkout | --pk | --cleanup) --market ID [--config FILE] [--threads N] | "
                "--idle-h2 N --port P"
                " [--duration S]");
    }
    if (idle > 0 && port > 0)
        return idle_h2(idle, port, hold);
    if (g_market <= 0 || (mode == 0 && !cleanup) || threads < 1 || threads > MAX_THREADS || g_duration <= 0)
        die("usage: sf-sqlref (--checkout | --pk | --cleanup) --market ID [--config FILE] [--threads N] | --idle-h2 N "
            "--port P"
            " [--duration S]");
    g_mode_pk = mode == 2;
    char err[512];
    if (config_load(&g_cfg, config_path, err, sizeof(err)) != 0)
        die("configuration: %s", err);
    db_library_init();
    db_t db;
    if (db_open(&db, &g_cfg) != DB_OK)
        die("%s", db.err);
    if (cleanup) {
        uint64_t n = 0;
        if (db_tx(&db, cleanup_tx, &n) != DB_OK)
            die("cleanup: %s", db.err);
        printf("sqlref: %" PRIu64 " orders deleted, their stock given back\n", n);
        db_close(&db);
        db_library_end();
        return 0;
    }
    load_world(&db, (size_t)threads);
    db_close(&db);

    worker_t *w = calloc((size_t)threads, sizeof(*w));
    unsigned seed;
    if (w == NULL || RAND_bytes((unsigned char *)&seed, sizeof(seed)) != 1)
        die("setup failed");
    for (int i = 0; i < threads; i++) {
        w[i].idx = i;
        w[i].rnd = seed + (unsigned)i * 7919u;
        if (pthread_create(&w[i].th, NULL, run, &w[i]) != 0)
            die("pthread_create failed");
    }
    for (;;) {
        pthread_mutex_lock(&g_mu);
        int r = g_ready;
        pthread_mutex_unlock(&g_mu);
        if (r == threads)
            break;
        struct timespec ts = {0, 10000000};
        nanosleep(&ts, NULL);
    }
    double t0 = now_s();
    g_go = 1;
    struct timespec ts = {(time_t)g_duration, (long)((g_duration - (double)(time_t)g_duration) * 1e9)};
    nanosleep(&ts, NULL);
    g_stop = 1;
    double secs = now_s() - t0;
    uint64_t done = 0, failed = 0, short_ = 0;
    size_t nlat = 0;
    for (int i = 0; i < threads; i++) {
        pthread_join(w[i].th, NULL);
        done += w[i].done, failed += w[i].failed, short_ += w[i].short_, nlat += w[i].nlat;
    }
    uint32_t *all = malloc((nlat ? nlat : 1) * sizeof(*all));
    if (all == NULL)
        die("out of memory");
    size_t k = 0;
    for (int i = 0; i < threads; i++) {
        memcpy(all + k, w[i].lat_us, w[i].nlat * sizeof(*all));
        k += w[i].nlat;
        free(w[i].lat_us);
    }
    qsort(all, nlat, sizeof(*all), by_u32);
    double p50 = nlat ? all[nlat / 2] / 1000.0 : 0, p99 = nlat ? all[(size_t)(nlat * 0.99)] / 1000.0 : 0;
    printf("sqlref %s: %d connections, %.1f s: %" PRIu64 " done, %" PRIu64 " short of stock, %" PRIu64
           " failed; tps=%.1f p50_ms=%.2f p99_ms=%.2f\n",
           g_mode_pk ? "pk" : "checkout", threads, secs, done, short_, failed, done / secs, p50, p99);
    free(all);
    free(w);
    db_library_end();
    return failed > 0 ? 1 : 0;
}
