/*
 * Orders (see order.h): the state machines as data, the transitions (conditional UPDATE plus
 * an event row, inside the caller's transaction), the unpaid-order cancel the timeout worker
 * and the consumer share, the order side of the consumer's cancel (models/payment.c adds the
 * refund and owns that transaction), checkout, and the order's JSON (with its refunds).
 * Stock moves are models/stock.c's; nothing here writes the products table.
 *
 * Lock order, so that concurrent transactions queue instead of deadlocking: products by id
 * (checkout, and the stock given back by a cancel) after the order row (cancel). A deadlock
 * that happens anyway is rolled back by InnoDB and run again by db_tx().
 *
 * Worker threads (or tests) with their own db_t; nothing here keeps state between calls.
 */
#include <openssl/rand.h> /* order numbers */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/address.h"
#include "models/base/cursor.h"
#include "models/base/geo.h"
#include "models/base/money.h"
#include "models/base/sqltime.h"
#include "models/idempotency.h"
#include "models/order.h"
#include "models/outbox.h"
#include "models/product.h"
#include "models/salelog.h"
#include "models/stock.h"

/* A UTC DATETIME(3) column as RFC 3339 in +08:00 (as models/market.c writes them; NULL
 * stays NULL because CONCAT of NULL is NULL). */

#define ORDER_NO_TRIES 5 /* order numbers drawn before giving up on a duplicate (10^10 each) */
#define ACTOR_MAX      32

/* ================================================================ state machines */

typedef struct move {
    const char *from, *to;
} move_t;

/* API.md "Orders": the only moves there are. */
static const move_t order_moves[] = {
    {"pending_payment", "paid"}, {"paid", "fulfilling"},           {"fulfilling", "ready"}, {"ready", "delivering"},
    {"delivering", "delivered"}, {"pending_payment", "cancelled"}, {"paid", "cancelled"},   {NULL, NULL},
};

static const move_t vendor_order_moves[] = {
    {"pending_payment", "new"},
    {"new", "accepted"},
    {"accepted", "picked"},
    {"picked", "ready"},
    {"ready", "handed_over"},
    {"new", "rejected"},
    {"pending_payment", "cancelled"},
    {"new", "cancelled"},
    {NULL, NULL},
};

static const char *const order_statuses[] = {"pending_payment", "paid",      "fulfilling", "ready",
                                             "delivering",      "delivered", "cancelled",  NULL};

static int in_table(const move_t *t, const char *from, const char *to)
{
    if (from == NULL || to == NULL)
        return 0;
    for (; t->from != NULL; t++)
        if (strcmp(t->from, from) == 0 && strcmp(t->to, to) == 0)
            return 1;
    return 0;
}

int order_move_legal(const char *from, const char *to)
{
    return in_table(order_moves, from, to);
}

int vendor_order_move_legal(const char *from, const char *to)
{
    return in_table(vendor_order_moves, from, to);
}

const char *const *order_status_names(void)
{
    return order_statuses;
}

int order_status_valid(const char *s)
{
    for (size_t i = 0; s != NULL && order_statuses[i] != NULL; i++)
        if (strcmp(order_statuses[i], s) == 0)
            return 1;
    return 0;
}

static db_param_t str_or_null(const char *s)
{
    return s != NULL ? DB_STR(s) : DB_NULL;
}

sf_status_t order_transition_tx(db_t *db, int64_t order_id, const char *from, const char *to, const char *actor,
                                const char *reason)
{
    uint64_t n = 0;
    if (!order_move_legal(from, to))
        return SF_E_ORDER_CHANGED;
    db_param_t up[] = {DB_STR(to), DB_STR(to),       DB_STR(to),  str_or_null(reason),
                       DB_STR(to), DB_I64(order_id), DB_STR(from)};
    int rc = db_exec(db,
                     "UPDATE orders SET status = ?,"
                     " cancelled_at = IF(? = 'cancelled', NOW(3), cancelled_at),"
                     " cancel_reason = IF(? = 'cancelled', LEFT(?, 32), cancel_reason),"
                     " paid_at = IF(? = 'paid', COALESCE(paid_at, NOW(3)), paid_at)"
                     " WHERE id = ? AND status = ?",
                     up, 7, &n, NULL);
    if (rc != DB_OK)
        return rc;
    if (n == 0)
        return SF_E_ORDER_CHANGED;
    db_param_t ev[] = {DB_STR(from), DB_STR(to), DB_STR(actor), str_or_null(reason), DB_I64(order_id)};
    rc = db_exec(db,
                 "INSERT INTO order_events (market_id, order_id, vendor_order_id, from_status, to_status, actor,"
                 " reason) SELECT market_id, id, NULL, ?, ?, LEFT(?, 32), LEFT(?, 200) FROM orders WHERE id = ?",
                 ev, 5, NULL, NULL);
    /* the sales change log: the goods were handed to the consumer */
    if (rc == DB_OK && strcmp(to, "delivered") == 0)
        rc = salelog_delivered_tx(db, order_id);
    return rc;
}

sf_status_t vendor_order_transition_tx(db_t *db, int64_t vendor_order_id, const char *from, const char *to,
                                       const char *actor, const char *reason)
{
    uint64_t n = 0;
    if (!vendor_order_move_legal(from, to))
        return SF_E_ORDER_CHANGED;
    db_param_t up[] = {DB_STR(to), DB_STR(to), str_or_null(reason), DB_STR(to), DB_I64(vendor_order_id), DB_STR(from)};
    int rc = db_exec(db,
                     "UPDATE vendor_orders SET status = ?,"
                     " reject_reason = IF(? = 'rejected', LEFT(?, 200), reject_reason),"
                     " new_at = IF(? = 'new', NOW(3), new_at)"
                     " WHERE id = ? AND status = ?",
                     up, 6, &n, NULL);
    if (rc != DB_OK)
        return rc;
    if (n == 0)
        return SF_E_ORDER_CHANGED;
    db_param_t ev[] = {DB_STR(from), DB_STR(to), DB_STR(actor), str_or_null(reason), DB_I64(vendor_order_id)};
    rc = db_exec(db,
                 "INSERT INTO order_events (market_id, order_id, vendor_order_id, from_status, to_status, actor,"
                 " reason) SELECT market_id, order_id, id, ?, ?, LEFT(?, 32), LEFT(?, 200) FROM vendor_orders"
                 " WHERE id = ?",
                 ev, 5, NULL, NULL);
    /* the sales change log, once paid (a vendor order cancelled unpaid has no sale lines):
     * picked, ready, and the void of a rejected or cancelled one */
    if (rc == DB_OK && strcmp(from, "pending_payment") != 0 &&
        (strcmp(to, "picked") == 0 || strcmp(to, "ready") == 0 || strcmp(to, "rejected") == 0 ||
         strcmp(to, "cancelled") == 0))
        rc = salelog_vendor_tx(db, vendor_order_id, to);
    return rc;
}

/* ================================================================ cancel */

/* Cancels the order's vendor orders that are still in `from` (pending_payment, or new after
 * payment). */
static int cancel_vendor_orders(db_t *db, int64_t order_id, const char *from, const char *actor, const char *reason)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(order_id), DB_STR(from), DB_I64(CART_MAX_LINES)};
    int rc = db_query(db,
                      "SELECT id FROM vendor_orders WHERE order_id = ? AND status = ?"
                      " ORDER BY id LIMIT ? FOR UPDATE",
                      p, 3, &rows);
    while (rc == DB_OK && db_rows_next(rows))
        rc = vendor_order_transition_tx(db, db_rows_i64(rows, 0), from, "cancelled", actor, reason);
    db_rows_free(rows);
    return rc;
}

/* An outbox row {order_id, market_id, reason?} on topic. */
static int outbox_order(db_t *db, int64_t order_id, int64_t market_id, const char *topic, const char *reason)
{
    json_t *payload = json_pack("{s:I, s:I, s:s?}", "order_id", (json_int_t)order_id, "market_id",
                                (json_int_t)market_id, "reason", reason);
    if (payload == NULL)
        return DB_ERR;
    int rc = outbox_add(db, market_id, topic, payload, NULL);
    json_decref(payload);
    return rc;
}

static int outbox_cancelled(db_t *db, int64_t order_id, int64_t market_id, const char *reason)
{
    return outbox_order(db, order_id, market_id, "order.cancelled", reason);
}

sf_status_t order_cancel_unpaid_tx(db_t *db, int64_t order_id, const char *actor, const char *reason, int only_if_due)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(order_id)};
    int rc = db_query_row(db, "SELECT status, market_id, expires_at <= NOW(3) FROM orders WHERE id = ? FOR UPDATE", p,
                          1, &rows);
    if (rc != DB_OK)
        goto out;
    int64_t market_id = db_rows_i64(rows, 1);
    if (strcmp(db_rows_str(rows, 0, NULL), "pending_payment") != 0) {
        rc = SF_E_ORDER_CHANGED;
        goto out;
    }
    if (only_if_due && db_rows_i64(rows, 2) == 0) {
        rc = SF_E_NOT_DUE;
        goto out;
    }
    if ((rc = order_transition_tx(db, order_id, "pending_payment", "cancelled", actor, reason)) != DB_OK ||
        (rc = cancel_vendor_orders(db, order_id, "pending_payment", actor, reason)) != DB_OK ||
        (rc = stock_return_order(db, order_id, NULL)) != DB_OK)
        goto out;
    rc = outbox_cancelled(db, order_id, market_id, reason);
out:
    db_rows_free(rows);
    return rc;
}

/* ================================================================ rendering */

/* The order's columns as order_json() reads them, from orders aliased o (ORDER_COLS_OF("")
 * names them unqualified, for the checkout's RETURNING). */
#define ORDER_COLS_OF(o)                                                                                               \
    o "id, " o "order_no, " o "market_id, " o "status, " o "items_fen, " o "delivery_fee_fen, " o "payable_fen, " o    \
      "paid_fen, " o "refunded_fen, " SQL_AT_0800(o "created_at") ", " SQL_AT_0800(o "expires_at") ", " SQL_AT_0800(   \
          o "paid_at") ", " o "note, " o "addr_name, " o "addr_phone, " o "addr_text, " o "addr_lat, " o               \
                       "addr_lng, " SQL_AT_0800(o "cancelled_at") ", " o "cancel_reason"
#define ORDER_COLS ORDER_COLS_OF("o.")

/* Which orders a render covers: ids lo..hi of one consumer (0: any) with one status (NULL:
 * any). A page is exactly the matching orders between its last and first id. */
#define RANGE_WHERE " o.id BETWEEN ? AND ? AND (? = 0 OR o.consumer_id = ?) AND (? IS NULL OR o.status = ?)"

/* Rows a render may read: a page of orders, each with at most a cart's lines. */
#define RENDER_ROWS_MAX (ORDER_LIST_MAX * CART_MAX_LINES)

/* An object by id, for attaching children to their parents. */
typedef struct node {
    int64_t id;
    json_t *obj;
} node_t;

typedef struct range {
    int64_t lo, hi, consumer_id;
    const char *status;
} range_t;

static int by_node(const void *a, const void *b)
{
    const node_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static json_t *find_node(const node_t *nodes, size_t n, int64_t id)
{
    node_t key = {.id = id};
    const node_t *hit = bsearch(&key, nodes, n, sizeof(*nodes), by_node);
    return hit != NULL ? hit->obj : NULL;
}

static json_t *order_json(const db_rows_t *r)
{
    return json_pack(
        "{s:I, s:o, s:I, s:o, s:I, s:I, s:I, s:I, s:I, s:o, s:o, s:o, s:o, s:{s:o, s:o, s:o, s:o, s:o},"
        " s:o, s:o, s:[], s:n, s:[]}",
        "id", (json_int_t)db_rows_i64(r, 0), "order_no", db_rows_json_str(r, 1), "market_id",
        (json_int_t)db_rows_i64(r, 2), "status", db_rows_json_str(r, 3), "items_fen", (json_int_t)db_rows_i64(r, 4),
        "delivery_fee_fen", (json_int_t)db_rows_i64(r, 5), "payable_fen", (json_int_t)db_rows_i64(r, 6), "paid_fen",
        (json_int_t)db_rows_i64(r, 7), "refunded_fen", (json_int_t)db_rows_i64(r, 8), "created_at",
        db_rows_json_str(r, 9), "expires_at", db_rows_json_str(r, 10), "paid_at", db_rows_json_str(r, 11), "note",
        db_rows_json_str(r, 12), "address", "name", db_rows_json_str(r, 13), "phone", db_rows_json_str(r, 14), "text",
        db_rows_json_str(r, 15), "lat", db_rows_json_real(r, 16), "lng", db_rows_json_real(r, 17), "cancelled_at",
        db_rows_json_str(r, 18), "cancel_reason", db_rows_json_str(r, 19), "vendor_orders", "delivery", "refunds");
}

static json_t *vendor_order_json(const db_rows_t *r)
{
    return json_pack("{s:I, s:I, s:I, s:o, s:I, s:[]}", "id", (json_int_t)db_rows_i64(r, 0), "stall_id",
                     (json_int_t)db_rows_i64(r, 2), "vendor_id", (json_int_t)db_rows_i64(r, 3), "status",
                     db_rows_json_str(r, 4), "items_fen", (json_int_t)db_rows_i64(r, 5), "lines");
}

json_t *order_line_json(const db_rows_t *r, size_t at)
{
    json_t *pricing = product_pricing_json(r, at + 4);
    return json_pack("{s:I, s:I, s:o, s:o, s:o, s:o, s:I, s:o, s:I, s:o, s:o, s:o}", "id",
                     (json_int_t)db_rows_i64(r, at), "product_id", (json_int_t)db_rows_i64(r, at + 1), "name",
                     db_rows_json_str(r, at + 2), "category", db_rows_json_str(r, at + 14), "commodity_code",
                     db_rows_json_str(r, at + 3), "pricing", pricing, "qty", (json_int_t)db_rows_i64(r, at + 8),
                     "qty_actual", db_rows_json_int(r, at + 9), "amount_fen", (json_int_t)db_rows_i64(r, at + 10),
                     "amount_actual_fen", db_rows_json_int(r, at + 11), "origin", db_rows_json_str(r, at + 12),
                     "trace_code", db_rows_json_str(r, at + 13));
}

/* Reads the vendor orders of the range and files them under their orders; *vos gets them
 * by id (ascending, as read) for the lines. */
static int attach_vendor_orders(db_t *db, const range_t *g, const node_t *orders, size_t norders, node_t **vos,
                                size_t *nvos)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(g->lo),          DB_I64(g->hi),          DB_I64(g->consumer_id), DB_I64(g->consumer_id),
                      str_or_null(g->status), str_or_null(g->status), DB_I64(RENDER_ROWS_MAX)};
    int rc = db_query(db,
                      "SELECT v.id, v.order_id, v.stall_id, v.vendor_id, v.status, v.items_fen FROM vendor_orders v"
                      " JOIN orders o ON o.id = v.order_id WHERE" RANGE_WHERE " ORDER BY v.id LIMIT ?",
                      p, 7, &rows);
    *vos = NULL;
    *nvos = 0;
    if (rc != DB_OK)
        return rc;
    *vos = calloc(rows->nrows > 0 ? rows->nrows : 1, sizeof(**vos));
    if (*vos == NULL)
        rc = DB_ERR;
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *order = find_node(orders, norders, db_rows_i64(rows, 1));
        json_t *vo = vendor_order_json(rows);
        if (order == NULL) /* cannot be: the same range was read */
            json_decref(vo);
        if (order == NULL || vo == NULL || json_array_append_new(json_object_get(order, "vendor_orders"), vo) != 0) {
            rc = DB_ERR; /* append_new took vo, even when it failed */
            break;
        }
        (*vos)[(*nvos)++] = (node_t){.id = db_rows_i64(rows, 0), .obj = vo};
    }
    db_rows_free(rows);
    return rc;
}

static int attach_lines(db_t *db, const range_t *g, const node_t *vos, size_t nvos)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(g->lo),          DB_I64(g->hi),          DB_I64(g->consumer_id), DB_I64(g->consumer_id),
                      str_or_null(g->status), str_or_null(g->status), DB_I64(RENDER_ROWS_MAX)};
    int rc = db_query(db,
                      "SELECT l.vendor_order_id, " ORDER_LINE_COLS " FROM order_lines l"
                      " JOIN orders o ON o.id = l.order_id WHERE" RANGE_WHERE " ORDER BY l.id LIMIT ?",
                      p, 7, &rows);
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *vo = find_node(vos, nvos, db_rows_i64(rows, 0));
        json_t *line = order_line_json(rows, 1);
        if (vo == NULL)
            json_decref(line);
        if (vo == NULL || line == NULL || json_array_append_new(json_object_get(vo, "lines"), line) != 0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    return rc;
}

/* Files the refunds of the range under their orders: {id, amount_fen, reason, status}. */
static int attach_refunds(db_t *db, const range_t *g, const node_t *orders, size_t norders)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(g->lo),          DB_I64(g->hi),          DB_I64(g->consumer_id), DB_I64(g->consumer_id),
                      str_or_null(g->status), str_or_null(g->status), DB_I64(RENDER_ROWS_MAX)};
    int rc = db_query(db,
                      "SELECT r.id, r.order_id, r.amount_fen, r.reason, r.status FROM refunds r"
                      " JOIN orders o ON o.id = r.order_id WHERE" RANGE_WHERE " ORDER BY r.id LIMIT ?",
                      p, 7, &rows);
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *order = find_node(orders, norders, db_rows_i64(rows, 1));
        json_t *refund = json_pack("{s:I, s:I, s:o, s:o}", "id", (json_int_t)db_rows_i64(rows, 0), "amount_fen",
                                   (json_int_t)db_rows_i64(rows, 2), "reason", db_rows_json_str(rows, 3), "status",
                                   db_rows_json_str(rows, 4));
        if (order == NULL)
            json_decref(refund);
        if (order == NULL || refund == NULL || json_array_append_new(json_object_get(order, "refunds"), refund) != 0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    return rc;
}

/* The delivery's eta: once delivered, when it was; once picked up, the pickup time plus the
 * straight line from the market to the drop-off at delivery.speed_kmh (the parameter: metres
 * an hour); before that nobody knows when the stalls will be done: NULL. */
#define ETA_EXPR                                                                                                       \
    "CASE d.status WHEN 'delivered' THEN " SQL_AT_0800("d.delivered_at") " WHEN 'picked_up' THEN " SQL_AT_0800(        \
        "d.picked_up_at + INTERVAL ROUND(ST_Distance_Sphere(POINT(m.lng, m.lat), POINT(o.addr_lng, "                   \
        "o.addr_lat), " GEO_EARTH_RADIUS_S ")"                                                                         \
        " * 3600 / ?) SECOND") " END"

/* Sets each order's delivery: {id, status, courier {id, name, phone, lat, lng} | null, code,
 * eta, locked}. The courier's position is Redis's: lat and lng are null here and filled by
 * the caller that can ask (models/courier.h). */
static int attach_deliveries(db_t *db, const range_t *g, const node_t *orders, size_t norders)
{
    db_rows_t *rows = NULL;
    int64_t speed = db->cfg != NULL && db->cfg->delivery_speed_kmh > 0 ? db->cfg->delivery_speed_kmh : 15;
    db_param_t p[] = {DB_I64(speed * 1000),   DB_I64(g->lo),          DB_I64(g->hi),          DB_I64(g->consumer_id),
                      DB_I64(g->consumer_id), str_or_null(g->status), str_or_null(g->status), DB_I64(ORDER_LIST_MAX)};
    int rc = db_query(db,
                      "SELECT d.id, d.order_id, d.status, d.code, d.locked, c.id, c.name, c.phone, " ETA_EXPR
                      " FROM deliveries d JOIN orders o ON o.id = d.order_id JOIN markets m ON m.id = o.market_id"
                      " LEFT JOIN couriers c ON c.id = d.courier_id"
                      " WHERE" RANGE_WHERE " ORDER BY d.id LIMIT ?",
                      p, 8, &rows);
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *order = find_node(orders, norders, db_rows_i64(rows, 1));
        json_t *courier = db_rows_isnull(rows, 5)
                              ? json_null()
                              : json_pack("{s:I, s:o, s:o, s:n, s:n}", "id", (json_int_t)db_rows_i64(rows, 5), "name",
                                          db_rows_json_str(rows, 6), "phone", db_rows_json_str(rows, 7), "lat", "lng");
        json_t *delivery = json_pack("{s:I, s:o, s:o, s:o, s:o, s:b}", "id", (json_int_t)db_rows_i64(rows, 0), "status",
                                     db_rows_json_str(rows, 2), "courier", courier, "code", db_rows_json_str(rows, 3),
                                     "eta", db_rows_json_str(rows, 8), "locked", db_rows_i64(rows, 4) != 0);
        if (order == NULL || delivery == NULL || json_object_set_new(order, "delivery", delivery) != 0)
            rc = DB_ERR;
        if (order == NULL)
            json_decref(delivery);
    }
    db_rows_free(rows);
    return rc;
}

/* Fills the orders of `rows` (already read, newest first) into items with their vendor
 * orders, lines and refunds: three more queries over the range the rows span. */
static int render_rows(db_t *db, db_rows_t *rows, range_t *g, json_t *items)
{
    node_t *orders = calloc(rows->nrows > 0 ? rows->nrows : 1, sizeof(*orders)), *vos = NULL;
    size_t n = 0, nvos = 0;
    int rc = orders != NULL ? DB_OK : DB_ERR;
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *o = order_json(rows);
        if (o == NULL || json_array_append_new(items, o) != 0)
            rc = DB_ERR;
        else
            orders[n++] = (node_t){.id = db_rows_i64(rows, 0), .obj = o};
    }
    if (rc != DB_OK || n == 0)
        goto out;
    g->lo = orders[n - 1].id;
    g->hi = orders[0].id;
    qsort(orders, n, sizeof(*orders), by_node);
    if ((rc = attach_vendor_orders(db, g, orders, n, &vos, &nvos)) == DB_OK &&
        (rc = attach_lines(db, g, vos, nvos)) == DB_OK && (rc = attach_refunds(db, g, orders, n)) == DB_OK)
        rc = attach_deliveries(db, g, orders, n);
out:
    free(orders);
    free(vos);
    return rc;
}

sf_status_t order_render(db_t *db, int64_t order_id, int64_t consumer_id, json_t **out)
{
    db_rows_t *rows = NULL;
    json_t *items = json_array();
    range_t g = {.lo = order_id, .hi = order_id, .consumer_id = consumer_id};
    db_param_t p[] = {DB_I64(order_id), DB_I64(order_id), DB_I64(consumer_id), DB_I64(consumer_id), DB_NULL, DB_NULL};
    *out = NULL;
    int rc =
        items != NULL ? db_query(db, "SELECT " ORDER_COLS " FROM orders o WHERE" RANGE_WHERE, p, 6, &rows) : DB_ERR;
    if (rc == DB_OK)
        rc = render_rows(db, rows, &g, items);
    if (rc == DB_OK && json_array_size(items) == 0)
        rc = DB_NOROW;
    if (rc == DB_OK)
        *out = json_incref(json_array_get(items, 0));
    db_rows_free(rows);
    json_decref(items);
    return rc;
}

sf_status_t order_list(db_t *db, int64_t consumer_id, const char *status, size_t limit, int64_t after_id,
                       json_t **items, char *next_cursor, size_t len)
{
    db_rows_t *rows = NULL;
    range_t g = {.consumer_id = consumer_id, .status = status};
    next_cursor[0] = '\0';
    *items = json_array();
    db_param_t p[] = {DB_I64(consumer_id), str_or_null(status), str_or_null(status),
                      DB_I64(after_id),    DB_I64(after_id),    DB_I64(limit)};
    int rc = *items != NULL ? db_query(db,
                                       "SELECT " ORDER_COLS " FROM orders o WHERE o.consumer_id = ?"
                                       " AND (? IS NULL OR o.status = ?) AND (? = 0 OR o.id < ?)"
                                       " ORDER BY o.id DESC LIMIT ?",
                                       p, 6, &rows)
                            : DB_ERR;
    if (rc == DB_OK)
        rc = render_rows(db, rows, &g, *items);
    if (rc == DB_OK && rows->nrows == limit && limit > 0 &&
        cursor_encode(ORDER_CURSOR_KIND, 0, g.lo, next_cursor, len) != 0)
        rc = DB_ERR;
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

/* ================================================================ checkout */

/* One cart line as the locked product row says it stands. */
typedef struct co_line {
    int64_t product_id, qty;
    int found, on_sale, vendor_active, weight;
    int64_t market_id, stall_id, vendor_id, price_fen, per_g, stock;
    int64_t amount_fen;
    int64_t vendor_order_id;
    char name[PRODUCT_NAME_MAX * 4 + 1];
} co_line_t;

/* The work of one checkout: the sorted lines and what the transaction found out and wrote. */
typedef struct co_work {
    const order_checkout_t *in;
    const order_idem_t *idem;
    co_line_t *lines;
    size_t n;
    int64_t items_fen, delivery_fee_fen, payable_fen;
    int64_t order_id, expires_at_ms;
    char order_no[ORDER_NO_MAX];
    json_t *details; /* the refused lines, for SF_E_LINES_UNAVAILABLE / SF_E_OUT_OF_STOCK */
    json_t *doc;     /* the answer, built from the rows the INSERTs returned */
    char *text;      /* with an idempotency key: the answer as kept and sent */
    size_t len;
} co_work_t;

/* The market exists, the address is the consumer's, usable in this market and in range: one
 * statement reads both (the market's row, the address joined when it is the consumer's). */
static sf_status_t check_address(db_t *db, const order_checkout_t *in, status_detail_t *d)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(in->address_id), DB_I64(in->user_id), DB_I64(in->market_id)};
    sf_status_t rc = db_query_row(db,
                                  "SELECT m.lat, m.lng, a.id IS NOT NULL, COALESCE(a.market_id, 0), a.lat, a.lng"
                                  " FROM markets m LEFT JOIN addresses a ON a.id = ? AND a.user_id = ? WHERE m.id = ?",
                                  p, 3, &rows);
    if (rc == DB_NOROW)
        rc = status_field(d, SF_E_NO_MARKET, "market_id", NULL);
    if (rc != DB_OK)
        goto out;
    if (db_rows_i64(rows, 2) == 0) {
        rc = SF_E_UNKNOWN_ADDRESS;
        goto out;
    }
    int64_t market = db_rows_i64(rows, 3);
    if (market != 0 && market != in->market_id) {
        rc = SF_E_ADDRESS_WRONG_MARKET;
        goto out;
    }
    int64_t m = geo_distance_m(strtod(db_rows_str(rows, 0, NULL), NULL), strtod(db_rows_str(rows, 1, NULL), NULL),
                               strtod(db_rows_str(rows, 4, NULL), NULL), strtod(db_rows_str(rows, 5, NULL), NULL));
    if (m > in->radius_m)
        rc = SF_E_ADDRESS_OUT_OF_RANGE;
out:
    db_rows_free(rows);
    return rc;
}

static int by_product(const void *a, const void *b)
{
    const co_line_t *x = a, *y = b;
    return x->product_id < y->product_id ? -1 : x->product_id > y->product_id;
}

/* A parameter array that could not be completed (out of memory) is dropped whole: a part of
 * it would lock, insert or record only some of the lines. NULL, which json_param refuses. */
static json_t *json_incomplete(json_t *a)
{
    json_decref(a);
    return NULL;
}

/* Serialises a JSON array built by the caller (a statement's JSON_TABLE parameter) and
 * frees it; NULL if out of memory (db->err says so). */
static char *json_param(db_t *db, json_t *a)
{
    char *text = a != NULL ? json_dumps(a, JSON_COMPACT) : NULL;
    json_decref(a);
    if (text == NULL)
        snprintf(db->err, sizeof(db->err), "checkout: out of memory");
    return text;
}

/* The JSON_TABLE of a statement's first parameter, rows in document order. Joined to a table
 * by primary key with STRAIGHT_JOIN, so that the table is read (and locked) row by row in
 * that order, never scanned. */
#define IDS_TABLE "JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) j"

/* Copies one locked product row (the columns of lock_lines) into its line. */
static void read_line(const db_rows_t *r, co_line_t *l)
{
    l->found = 1;
    l->market_id = db_rows_i64(r, 1);
    l->stall_id = db_rows_i64(r, 2);
    l->vendor_id = db_rows_i64(r, 3);
    db_rows_copy(r, 4, l->name, sizeof(l->name));
    l->weight = strcmp(db_rows_str(r, 5, NULL), "weight") == 0;
    l->price_fen = db_rows_i64(r, 6);
    l->per_g = db_rows_i64(r, 7);
    l->stock = db_rows_i64(r, 8);
    l->on_sale = strcmp(db_rows_str(r, 9, NULL), "on_sale") == 0;
    l->vendor_active = db_rows_i64(r, 10) == 1;
}

/* Why a locked line cannot be sold now, or NULL; computes its amount when it can. */
static const char *line_refusal(const order_checkout_t *in, co_line_t *l)
{
    if (!l->found)
        return "gone";
    if (l->market_id != in->market_id)
        return "another_market";
    if (!l->on_sale)
        return "off_sale";
    if (!l->vendor_active)
        return "vendor_inactive";
    if (l->qty <= 0 || l->qty > CART_QTY_MAX)
        return "bad_qty";
    int rc = l->weight ? money_line_weight(l->price_fen, l->per_g, l->qty, &l->amount_fen)
                       : money_line_count(l->price_fen, l->qty, &l->amount_fen);
    return rc == MONEY_OK ? NULL : "bad_qty";
}

/* Appends {"product_id", "name", "qty", more...} to w->details.lines. */
static int add_detail(co_work_t *w, const co_line_t *l, json_t *more)
{
    if (w->details == NULL)
        w->details = json_pack("{s:[]}", "lines");
    json_t *d = json_pack("{s:I, s:s?, s:I}", "product_id", (json_int_t)l->product_id, "name",
                          l->found ? l->name : NULL, "qty", (json_int_t)l->qty);
    if (w->details == NULL || d == NULL || more == NULL || json_object_update(d, more) != 0 ||
        json_array_append_new(json_object_get(w->details, "lines"), d) != 0) {
        json_decref(d);
        json_decref(more);
        return DB_ERR;
    }
    json_decref(more);
    return DB_OK;
}

/* Locks and reads every product in id order, with its vendor's standing, in ONE statement,
 * and refuses the lines that cannot be sold. The vendor is a scalar subquery: a plain read
 * (vendor rows are shared by every checkout of their stalls, never locked; FOR UPDATE does
 * not reach into it). */
static int lock_lines(db_t *db, co_work_t *w)
{
    db_rows_t *rows = NULL;
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < w->n; i++)
        if (json_array_append_new(ids, json_integer(w->lines[i].product_id)) != 0)
            ids = json_incomplete(ids);
    char *text = json_param(db, ids);
    if (text == NULL)
        return DB_ERR;
    int rc = db_query(db,
                      "SELECT p.id, p.market_id, p.stall_id, p.vendor_id, p.name, p.pricing_mode, p.price_fen, p.per_g,"
                      " p.stock, p.status, (SELECT v.status = 'active' FROM vendors v WHERE v.id = p.vendor_id)"
                      " FROM " IDS_TABLE " STRAIGHT_JOIN products p ON p.id = j.id ORDER BY p.id FOR UPDATE",
                      (db_param_t[]){DB_STR(text)}, 1, &rows);
    free(text);
    /* both in product-id order: walk them together (a product on two lines is read for both) */
    size_t i = 0;
    while (rc == DB_OK && db_rows_next(rows)) {
        int64_t id = db_rows_i64(rows, 0);
        while (i < w->n && w->lines[i].product_id < id)
            i++;
        for (; i < w->n && w->lines[i].product_id == id; i++)
            read_line(rows, &w->lines[i]);
    }
    db_rows_free(rows);
    for (size_t k = 0; k < w->n && rc == DB_OK; k++) {
        const char *why = line_refusal(w->in, &w->lines[k]);
        if (why != NULL)
            rc = add_detail(w, &w->lines[k], json_pack("{s:s}", "reason", why));
    }
    return rc == DB_OK && w->details != NULL ? SF_E_LINES_UNAVAILABLE : rc;
}

/* Takes every line's quantity from stock (models/stock.c: decided from the locked rows, then
 * one statement); a line short of stock is named with what is available, and then nothing is
 * written. */
static sf_status_t take_stock(db_t *db, co_work_t *w)
{
    stock_move_t moves[CART_MAX_LINES];
    int64_t stock[CART_MAX_LINES];
    int short_[CART_MAX_LINES];
    for (size_t i = 0; i < w->n; i++) {
        moves[i] = (stock_move_t){.product_id = w->lines[i].product_id, .qty = w->lines[i].qty};
        stock[i] = w->lines[i].stock;
    }
    sf_status_t rc = stock_take(db, moves, stock, w->n, short_);
    for (size_t i = 0; i < w->n && rc == DB_OK; i++)
        if (short_[i])
            rc = add_detail(w, &w->lines[i], json_pack("{s:I}", "available", (json_int_t)w->lines[i].stock));
    return rc == DB_OK && w->details != NULL ? SF_E_OUT_OF_STOCK : rc;
}

/* Sums the lines, and the delivery fee on top. */
static int compute_totals(co_work_t *w)
{
    w->items_fen = 0;
    for (size_t i = 0; i < w->n; i++)
        if (money_add(w->items_fen, w->lines[i].amount_fen, &w->items_fen) != MONEY_OK)
            return DB_ERR;
    w->delivery_fee_fen = money_delivery_fee(w->items_fen, w->in->delivery_fee_fen, w->in->free_delivery_from_fen);
    return money_add(w->items_fen, w->delivery_fee_fen, &w->payable_fen) == MONEY_OK ? DB_OK : DB_ERR;
}

/* The 10 random digits of an order number; "SF" and the +08:00 date are the database's
 * (insert_order), so an order is numbered by the day its row says it was made, whatever the
 * clock of this process (the demo's history is placed under the session's SET timestamp). */
static int order_no_digits(char *out, size_t len)
{
    uint64_t r;
    if (RAND_bytes((unsigned char *)&r, sizeof(r)) != 1)
        return -1;
    snprintf(out, len, "%010llu", (unsigned long long)(r % 10000000000ULL));
    return 0;
}

/* The order row, with the address copied as it is now; retries a duplicate order number.
 * RETURNING gives the row as order_render() reads it (ORDER_COLS), plus expires_at in ms for
 * the outbox: w->doc is started from it. */
static int insert_order(db_t *db, co_work_t *w)
{
    const order_checkout_t *in = w->in;
    int rc = DB_DUP;
    for (int i = 0; i < ORDER_NO_TRIES && rc == DB_DUP; i++) {
        db_rows_t *rows = NULL;
        char digits[16];
        if (order_no_digits(digits, sizeof(digits)) != 0)
            return DB_ERR;
        db_param_t p[] = {DB_STR(digits),        DB_I64(in->market_id),        DB_I64(in->user_id),
                          DB_I64(w->items_fen),  DB_I64(w->delivery_fee_fen),  DB_I64(w->payable_fen),
                          str_or_null(in->note), DB_I64(in->unpaid_timeout_s), DB_I64(in->address_id),
                          DB_I64(in->user_id)};
        rc = db_query(db,
                      "INSERT INTO orders (order_no, market_id, consumer_id, status, items_fen, delivery_fee_fen,"
                      " payable_fen, address_id, addr_name, addr_phone, addr_text, addr_lat, addr_lng, note,"
                      " expires_at) SELECT CONCAT('SF', DATE_FORMAT(NOW(3) + INTERVAL 8 HOUR, '%Y%m%d'), ?), ?, ?,"
                      " 'pending_payment', ?, ?, ?, a.id, a.name, a.phone, a.text, a.lat,"
                      " a.lng, ?, NOW(3) + INTERVAL ? SECOND FROM addresses a WHERE a.id = ? AND a.user_id = ?"
                      " RETURNING " ORDER_COLS_OF("") ", CAST(ROUND(UNIX_TIMESTAMP(expires_at) * 1000) AS SIGNED)",
                      p, 10, &rows);
        if (rc == DB_OK && !db_rows_next(rows))
            rc = SF_E_UNKNOWN_ADDRESS; /* deleted since it was checked */
        if (rc == DB_OK) {
            w->order_id = db_rows_i64(rows, 0);
            db_rows_copy(rows, 1, w->order_no, sizeof(w->order_no));
            w->expires_at_ms = db_rows_i64(rows, 20);
            if ((w->doc = order_json(rows)) == NULL)
                rc = DB_ERR;
        }
        db_rows_free(rows);
    }
    return rc;
}

/* The events of a new order: the order's, then one per vendor order (vos: their ids, in
 * insertion order), in one statement. */
static int insert_events(db_t *db, const co_work_t *w, const int64_t *vos, size_t nvos, const char *actor)
{
    json_t *ids = json_pack("[I]", (json_int_t)0); /* 0: the order's own */
    for (size_t i = 0; ids != NULL && i < nvos; i++)
        if (json_array_append_new(ids, json_integer(vos[i])) != 0)
            ids = json_incomplete(ids);
    char *text = json_param(db, ids);
    if (text == NULL)
        return DB_ERR;
    db_param_t p[] = {DB_STR(text), DB_I64(w->in->market_id), DB_I64(w->order_id), DB_STR(actor)};
    int rc =
        db_exec(db,
                "INSERT INTO order_events (market_id, order_id, vendor_order_id, from_status, to_status, actor)"
                " SELECT m.market_id, m.order_id, NULLIF(j.id, 0), NULL, 'pending_payment', m.actor FROM " IDS_TABLE
                " JOIN (SELECT ? AS market_id, ? AS order_id, ? AS actor) m",
                p, 4, NULL, NULL);
    free(text);
    return rc;
}

/* One vendor order per stall (and its vendor), in the order the stalls first appear, in one
 * statement; RETURNING gives their ids (filed on their lines) and their JSON; then their
 * events. */
static int insert_vendor_orders(db_t *db, co_work_t *w, const char *actor)
{
    db_rows_t *rows = NULL;
    json_t *vos = json_array();
    for (size_t i = 0; vos != NULL && i < w->n; i++) {
        const co_line_t *l = &w->lines[i];
        int first = 1;
        for (size_t j = 0; j < i && first; j++)
            first = !(w->lines[j].stall_id == l->stall_id && w->lines[j].vendor_id == l->vendor_id);
        if (!first)
            continue;
        int64_t items = 0;
        for (size_t j = i; j < w->n; j++)
            if (w->lines[j].stall_id == l->stall_id && w->lines[j].vendor_id == l->vendor_id &&
                money_add(items, w->lines[j].amount_fen, &items) != MONEY_OK) {
                json_decref(vos);
                return DB_ERR;
            }
        if (json_array_append_new(vos, json_pack("[I, I, I]", (json_int_t)l->stall_id, (json_int_t)l->vendor_id,
                                                 (json_int_t)items)) != 0) {
            vos = json_incomplete(vos);
            break;
        }
    }
    char *text = json_param(db, vos);
    if (text == NULL)
        return DB_ERR;
    db_param_t p[] = {DB_I64(w->order_id), DB_I64(w->in->market_id), DB_STR(text)};
    int rc =
        db_query(db,
                 "INSERT INTO vendor_orders (order_id, market_id, stall_id, vendor_id, status, items_fen)"
                 " SELECT ?, ?, j.stall_id, j.vendor_id, 'pending_payment', j.items FROM JSON_TABLE(?, '$[*]'"
                 " COLUMNS (stall_id BIGINT PATH '$[0]', vendor_id BIGINT PATH '$[1]', items BIGINT PATH '$[2]')) j"
                 " RETURNING id, order_id, stall_id, vendor_id, status, items_fen",
                 p, 3, &rows);
    free(text);
    int64_t ids[CART_MAX_LINES];
    size_t nids = 0;
    while (rc == DB_OK && db_rows_next(rows) && nids < CART_MAX_LINES) {
        int64_t id = db_rows_i64(rows, 0), stall = db_rows_i64(rows, 2), vendor = db_rows_i64(rows, 3);
        json_t *vo = vendor_order_json(rows);
        if (vo == NULL || json_array_append_new(json_object_get(w->doc, "vendor_orders"), vo) != 0)
            rc = DB_ERR;
        for (size_t j = 0; j < w->n; j++)
            if (w->lines[j].stall_id == stall && w->lines[j].vendor_id == vendor)
                w->lines[j].vendor_order_id = id;
        ids[nids++] = id;
    }
    db_rows_free(rows);
    for (size_t j = 0; j < w->n && rc == DB_OK; j++)
        if (w->lines[j].vendor_order_id == 0) {
            snprintf(db->err, sizeof(db->err), "checkout: a line without its vendor order");
            rc = DB_ERR;
        }
    return rc == DB_OK ? insert_events(db, w, ids, nids, actor) : rc;
}

/* The vendor order object of w->doc with this id, or NULL. */
static json_t *doc_vendor_order(const co_work_t *w, int64_t id)
{
    size_t i;
    json_t *vo;
    json_array_foreach(json_object_get(w->doc, "vendor_orders"), i, vo)
    {
        if (json_integer_value(json_object_get(vo, "id")) == id)
            return vo;
    }
    return NULL;
}

/* The lines, in one statement, snapshotting each product from its locked row (what was read
 * is what is kept); RETURNING gives them as order_render() reads them, filed under their
 * vendor orders in w->doc. */
static int insert_lines(db_t *db, co_work_t *w)
{
    db_rows_t *rows = NULL;
    json_t *a = json_array();
    for (size_t i = 0; a != NULL && i < w->n; i++) {
        const co_line_t *l = &w->lines[i];
        if (json_array_append_new(a,
                                  json_pack("[I, I, I, I]", (json_int_t)l->product_id, (json_int_t)l->vendor_order_id,
                                            (json_int_t)l->qty, (json_int_t)l->amount_fen)) != 0)
            a = json_incomplete(a);
    }
    char *text = json_param(db, a);
    if (text == NULL)
        return DB_ERR;
    db_param_t p[] = {DB_I64(w->order_id), DB_STR(text)};
    int rc = db_query(
        db,
        "INSERT INTO order_lines (order_id, vendor_order_id, market_id, product_id, name, category,"
        " commodity_code, pricing_mode, price_fen, per_g, unit, qty, amount_fen, origin, trace_code)"
        " SELECT ?, j.vo, p.market_id, p.id, p.name, p.category, p.commodity_code, p.pricing_mode, p.price_fen,"
        " p.per_g, p.unit, j.qty, j.amount, p.origin, p.trace_code FROM JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH"
        " '$[0]', vo BIGINT PATH '$[1]', qty BIGINT PATH '$[2]', amount BIGINT PATH '$[3]')) j"
        " STRAIGHT_JOIN products p ON p.id = j.id RETURNING vendor_order_id, " ORDER_LINE_COLS_OF(""),
        p, 2, &rows);
    free(text);
    size_t n = 0;
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *vo = doc_vendor_order(w, db_rows_i64(rows, 0));
        json_t *line = order_line_json(rows, 1);
        if (vo == NULL)
            json_decref(line);
        if (vo == NULL || line == NULL || json_array_append_new(json_object_get(vo, "lines"), line) != 0)
            rc = DB_ERR;
        n++;
    }
    db_rows_free(rows);
    if (rc == DB_OK && n != w->n) {
        snprintf(db->err, sizeof(db->err), "checkout: %zu of %zu lines written", n, w->n);
        rc = DB_ERR;
    }
    return rc;
}

static int outbox_created(db_t *db, const co_work_t *w)
{
    json_t *payload =
        json_pack("{s:I, s:s, s:I, s:I}", "order_id", (json_int_t)w->order_id, "order_no", w->order_no, "market_id",
                  (json_int_t)w->in->market_id, "expires_at_ms", (json_int_t)w->expires_at_ms);
    int rc = payload != NULL ? outbox_add(db, w->in->market_id, "order.created", payload, NULL) : DB_ERR;
    json_decref(payload);
    return rc;
}

/* With an idempotency key: the answer as it will be sent, kept for the key in this
 * transaction (the claim's row, made before by the caller). */
static int keep_answer(db_t *db, co_work_t *w)
{
    const order_idem_t *k = w->idem;
    if (k == NULL || k->key == NULL)
        return DB_OK;
    if (k->dump == NULL || (w->text = k->dump(w->doc, &w->len)) == NULL) {
        snprintf(db->err, sizeof(db->err), "checkout: the answer not serialised");
        return DB_ERR;
    }
    return idempotency_finish(db, w->in->user_id, k->scope, k->key, 201, w->text, w->len);
}

/* Forgets what an earlier run of the transaction left in w. */
static void co_reset(co_work_t *w)
{
    for (size_t i = 0; i < w->n; i++) {
        w->lines[i].vendor_order_id = 0;
        w->lines[i].found = 0;
    }
    json_decref(w->details);
    json_decref(w->doc);
    free(w->text);
    w->details = w->doc = NULL;
    w->text = NULL;
    w->len = 0;
}

/* The checkout's one transaction (a db_tx body: it may run again from nothing, so it
 * resets what an earlier run left in w first). */
static sf_status_t checkout_tx(db_t *db, void *ctx)
{
    co_work_t *w = ctx;
    char actor[ACTOR_MAX];
    sf_status_t rc;
    snprintf(actor, sizeof(actor), "consumer:%lld", (long long)w->in->user_id);
    co_reset(w);
    if ((rc = lock_lines(db, w)) != DB_OK || (rc = take_stock(db, w)) != DB_OK || (rc = compute_totals(w)) != DB_OK ||
        (rc = insert_order(db, w)) != DB_OK || (rc = insert_vendor_orders(db, w, actor)) != DB_OK ||
        (rc = insert_lines(db, w)) != DB_OK || (rc = outbox_created(db, w)) != DB_OK)
        return rc;
    return keep_answer(db, w);
}

sf_status_t order_checkout_answer(db_t *db, const order_checkout_t *in, const order_idem_t *idem, int64_t *order_id,
                                  json_t **doc, char **text, size_t *len, status_detail_t *d)
{
    co_work_t w = {.in = in, .idem = idem};
    *doc = NULL;
    if (text != NULL)
        *text = NULL;
    if (len != NULL)
        *len = 0;
    if (in->nlines == 0)
        return SF_E_EMPTY_CART;
    if (in->nlines > CART_MAX_LINES)
        return DB_ERR;
    sf_status_t rc = check_address(db, in, d);
    if (rc != DB_OK)
        return rc;
    w.lines = calloc(in->nlines, sizeof(*w.lines));
    if (w.lines == NULL)
        return DB_ERR;
    w.n = in->nlines;
    for (size_t i = 0; i < w.n; i++) {
        w.lines[i].product_id = in->lines[i].product_id;
        w.lines[i].qty = in->lines[i].qty;
    }
    qsort(w.lines, w.n, sizeof(*w.lines), by_product); /* the lock order */
    rc = db_tx(db, checkout_tx, &w);
    if (rc == DB_OK) {
        *order_id = w.order_id;
        *doc = w.doc;
        w.doc = NULL;
        if (text != NULL && len != NULL) {
            *text = w.text;
            *len = w.len;
            w.text = NULL;
        }
    }
    if (rc == SF_E_LINES_UNAVAILABLE || rc == SF_E_OUT_OF_STOCK) {
        status_details(d, rc, w.details);
        w.details = NULL;
    }
    co_reset(&w);
    free(w.lines);
    return rc;
}

sf_status_t order_checkout(db_t *db, const order_checkout_t *in, int64_t *order_id, status_detail_t *d)
{
    json_t *doc = NULL;
    sf_status_t rc = order_checkout_answer(db, in, NULL, order_id, &doc, NULL, NULL, d);
    json_decref(doc);
    return rc;
}

/* ================================================================ the derived status */

/* The main path of an order, in order: the derived status only ever moves along it. */
static const char *const main_path[] = {"paid", "fulfilling", "ready", "delivering", "delivered", NULL};

static int path_index(const char *s)
{
    for (int i = 0; main_path[i] != NULL; i++)
        if (strcmp(main_path[i], s) == 0)
            return i;
    return -1;
}

const char *order_derive_status(const char *current, const order_parts_t *p)
{
    int64_t live = p->total - p->rejected - p->cancelled;
    if (path_index(current) < 0)
        return current; /* pending_payment, cancelled: payment and cancels move those */
    if (live <= 0)
        return "cancelled";
    const char *to = "fulfilling";
    if (p->delivery != NULL && strcmp(p->delivery, "delivered") == 0)
        to = "delivered";
    else if ((p->delivery != NULL && strcmp(p->delivery, "picked_up") == 0) || p->handed_over == live)
        to = "delivering";
    else if (p->ready + p->handed_over == live)
        to = "ready";
    else if (p->fresh == live)
        to = "paid";
    /* never backwards: a status already further along stays */
    return path_index(to) > path_index(current) ? main_path[path_index(to)] : current;
}

sf_status_t order_sync_status_tx(db_t *db, int64_t order_id, const char *actor, char *status, size_t len)
{
    db_rows_t *rows = NULL;
    order_parts_t parts = {0};
    char cur[ORDER_STATUS_NAME_MAX], dstatus[16];
    int64_t market_id;
    sf_status_t rc = db_query_row(
        db,
        "SELECT o.status, o.market_id, (SELECT status FROM deliveries WHERE order_id = o.id),"
        " COUNT(v.id), COALESCE(SUM(v.status = 'new'), 0), COALESCE(SUM(v.status = 'ready'), 0),"
        " COALESCE(SUM(v.status = 'handed_over'), 0), COALESCE(SUM(v.status = 'rejected'), 0),"
        " COALESCE(SUM(v.status = 'cancelled'), 0)"
        " FROM orders o LEFT JOIN vendor_orders v ON v.order_id = o.id WHERE o.id = ? GROUP BY o.id FOR UPDATE",
        (db_param_t[]){DB_I64(order_id)}, 1, &rows);
    if (rc != DB_OK)
        goto out;
    db_rows_copy(rows, 0, cur, sizeof(cur));
    market_id = db_rows_i64(rows, 1);
    if (!db_rows_isnull(rows, 2)) {
        db_rows_copy(rows, 2, dstatus, sizeof(dstatus));
        parts.delivery = dstatus;
    }
    parts.total = db_rows_i64(rows, 3);
    parts.fresh = db_rows_i64(rows, 4);
    parts.ready = db_rows_i64(rows, 5);
    parts.handed_over = db_rows_i64(rows, 6);
    parts.rejected = db_rows_i64(rows, 7);
    parts.cancelled = db_rows_i64(rows, 8);
    const char *to = order_derive_status(cur, &parts);
    if (strcmp(to, "cancelled") == 0 && strcmp(cur, "cancelled") != 0) {
        if ((rc = order_transition_tx(db, order_id, cur, "cancelled", actor, "rejected")) == DB_OK)
            rc = outbox_cancelled(db, order_id, market_id, "rejected");
    } else if (strcmp(to, cur) != 0) {
        /* along the main path one step at a time, an event for each */
        for (int i = path_index(cur); rc == DB_OK && i < path_index(to); i++) {
            rc = order_transition_tx(db, order_id, main_path[i], main_path[i + 1], actor, NULL);
            if (rc == DB_OK && strcmp(main_path[i + 1], "ready") == 0)
                rc = outbox_order(db, order_id, market_id, "order.ready", NULL);
        }
    }
    if (rc == DB_OK && status != NULL)
        snprintf(status, len, "%s", to);
out:
    db_rows_free(rows);
    return rc;
}

/* ================================================================ the consumer's cancel */

/* A paid order no vendor accepted yet: paid → cancelled, its stock back for the vendor orders
 * still new (a rejected one gave its stock back already), those new → cancelled. The refund
 * is the caller's (models/payment.c), in the same transaction. */
static sf_status_t cancel_paid_tx(db_t *db, int64_t order_id, int64_t market_id, const char *actor)
{
    db_rows_t *rows = NULL;
    sf_status_t rc = db_query_row(db,
                                  "SELECT COUNT(*) FROM vendor_orders WHERE order_id = ?"
                                  " AND status IN ('accepted', 'picked', 'ready', 'handed_over')",
                                  (db_param_t[]){DB_I64(order_id)}, 1, &rows);
    if (rc == DB_OK && db_rows_i64(rows, 0) != 0)
        rc = SF_E_TOO_LATE;
    db_rows_free(rows);
    if (rc != DB_OK)
        return rc;
    if ((rc = order_transition_tx(db, order_id, "paid", "cancelled", actor, "consumer")) != DB_OK ||
        (rc = stock_return_order(db, order_id, "new")) != DB_OK ||
        (rc = cancel_vendor_orders(db, order_id, "new", actor, "consumer")) != DB_OK)
        return rc;
    return outbox_cancelled(db, order_id, market_id, "consumer");
}

sf_status_t order_cancel_by_consumer_tx(db_t *db, int64_t consumer_id, int64_t order_id, int64_t *market_id,
                                        int *was_paid)
{
    db_rows_t *rows = NULL;
    char actor[ACTOR_MAX];
    db_param_t p[] = {DB_I64(order_id), DB_I64(consumer_id)};
    *was_paid = 0;
    sf_status_t rc = db_query_row(
        db, "SELECT status, market_id FROM orders WHERE id = ? AND consumer_id = ? FOR UPDATE", p, 2, &rows);
    if (rc != DB_OK)
        goto out;
    const char *status = db_rows_str(rows, 0, NULL);
    *market_id = db_rows_i64(rows, 1);
    snprintf(actor, sizeof(actor), "consumer:%lld", (long long)consumer_id);
    if (strcmp(status, "pending_payment") == 0) {
        rc = order_cancel_unpaid_tx(db, order_id, actor, "consumer", 0);
    } else if (strcmp(status, "cancelled") == 0) {
        rc = SF_E_ALREADY_CANCELLED;
    } else if (strcmp(status, "paid") == 0) {
        rc = cancel_paid_tx(db, order_id, *market_id, actor);
        *was_paid = rc == DB_OK;
    } else {
        rc = SF_E_TOO_LATE;
    }
out:
    db_rows_free(rows);
    return rc;
}

sf_status_t order_overdue_unpaid(db_t *db, int64_t grace_s, int64_t max, db_rows_t **rows)
{
    return db_query(db,
                    "SELECT id, market_id FROM orders WHERE status = 'pending_payment'"
                    " AND expires_at < NOW(3) - INTERVAL ? SECOND ORDER BY expires_at LIMIT ?",
                    (db_param_t[]){DB_I64(grace_s), DB_I64(max)}, 2, rows);
}
