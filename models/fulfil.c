/*
 * Vendor fulfilment (see fulfil.h): the vendor's list, and the moves of a vendor order
 * (accept, reject, pick, ready) each in one db_tx transaction, plus the acceptance
 * deadlines' flag and automatic rejection.
 *
 * Lock order, the same as models/order.c's and models/payment.c's: the orders row first
 * (FOR UPDATE), then the vendor order (its conditional UPDATE), then products (stock, in
 * product-id order). Every move of one order's vendor orders therefore queues on the order
 * row, so the derived status is computed from a stable picture. A deadlock that happens
 * anyway is rolled back by InnoDB and run again by db_tx(): the bodies below reset what an
 * earlier run left in their context first.
 *
 * Worker threads (or tests) with their own db_t; nothing here keeps state between calls.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/alert.h"
#include "models/base/cursor.h"
#include "models/base/money.h"
#include "models/base/sqltime.h"
#include "models/cart.h"
#include "models/fulfil.h"
#include "models/order.h"
#include "models/payment.h"
#include "models/stock.h"

#define AUTO_ACTOR  "system:acceptance"
#define AUTO_REASON "not accepted in time"

/* The statuses, then FULFIL_ACTIVE: the list's filter for "still the stall's to do". */
static const char *const vo_statuses[] = {"pending_payment", "new",      "accepted",  "picked",      "ready",
                                          "handed_over",     "rejected", "cancelled", FULFIL_ACTIVE, NULL};

const char *const *fulfil_status_names(void)
{
    return vo_statuses;
}

/* ================================================================ rendering */

/* The columns of a vendor order as the vendor sees it (VO_FROM's aliases). */
#define VO_COLS                                                                                                        \
    "v.id, v.order_id, o.order_no, v.stall_id, v.status, v.items_fen,"                                                 \
    " IF(v.status IN ('picked', 'ready', 'handed_over'),"                                                              \
    " (SELECT SUM(l.amount_actual_fen) FROM order_lines l WHERE l.vendor_order_id = v.id), NULL),"                     \
    " (SELECT COALESCE(SUM(r.amount_fen), 0) FROM refunds r WHERE r.vendor_order_id = v.id AND r.status <> 'failed')," \
    " " SQL_AT_0800("v.created_at") ", " SQL_AT_0800("v.new_at") ", v.reject_reason, o.note, d.status"

#define VO_FROM                                                                                                        \
    " FROM vendor_orders v JOIN orders o ON o.id = v.order_id LEFT JOIN deliveries d ON d.order_id = v.order_id"

/* An object by id, for attaching lines to their vendor orders. */
typedef struct node {
    int64_t id;
    json_t *obj;
} node_t;

static int by_node(const void *a, const void *b)
{
    const node_t *x = a, *y = b;
    return x->id < y->id ? -1 : x->id > y->id;
}

static json_t *vo_json(const db_rows_t *r)
{
    return json_pack("{s:I, s:I, s:o, s:I, s:o, s:I, s:o, s:I, s:o, s:o, s:o, s:o, s:o, s:[]}", "id",
                     (json_int_t)db_rows_i64(r, 0), "order_id", (json_int_t)db_rows_i64(r, 1), "order_no",
                     db_rows_json_str(r, 2), "stall_id", (json_int_t)db_rows_i64(r, 3), "status",
                     db_rows_json_str(r, 4), "items_fen", (json_int_t)db_rows_i64(r, 5), "items_actual_fen",
                     db_rows_json_int(r, 6), "refund_fen", (json_int_t)db_rows_i64(r, 7), "created_at",
                     db_rows_json_str(r, 8), "new_at", db_rows_json_str(r, 9), "reject_reason", db_rows_json_str(r, 10),
                     "note", db_rows_json_str(r, 11), "delivery_status", db_rows_json_str(r, 12), "lines");
}

/* Reads the lines of the vendor orders in nodes (sorted by id) with one query and files
 * them under their vendor orders. */
static sf_status_t attach_lines(db_t *db, const node_t *nodes, size_t n)
{
    db_rows_t *rows = NULL;
    json_t *ids = json_array();
    char *text = NULL;
    sf_status_t rc = ids != NULL ? DB_OK : DB_ERR;
    for (size_t i = 0; i < n && rc == DB_OK; i++)
        if (json_array_append_new(ids, json_integer(nodes[i].id)) != 0)
            rc = DB_ERR;
    if (rc == DB_OK && (text = json_dumps(ids, JSON_COMPACT)) == NULL)
        rc = DB_ERR;
    if (rc == DB_OK)
        rc = db_query(db,
                      "SELECT l.vendor_order_id, " ORDER_LINE_COLS
                      " FROM JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$')) j"
                      " JOIN order_lines l ON l.vendor_order_id = j.id ORDER BY l.id LIMIT ?",
                      (db_param_t[]){DB_STR(text), DB_I64((int64_t)(n * CART_MAX_LINES))}, 2, &rows);
    while (rc == DB_OK && db_rows_next(rows)) {
        node_t key = {.id = db_rows_i64(rows, 0)};
        const node_t *vo = bsearch(&key, nodes, n, sizeof(*nodes), by_node);
        json_t *line = order_line_json(rows, 1);
        if (vo == NULL)
            json_decref(line);
        if (vo == NULL || line == NULL || json_array_append_new(json_object_get(vo->obj, "lines"), line) != 0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    free(text);
    json_decref(ids);
    return rc;
}

/* Appends the vendor orders of rows (at most max of them, in id order) to items with their
 * lines. */
static sf_status_t render_rows(db_t *db, db_rows_t *rows, size_t max, json_t *items)
{
    node_t *nodes = calloc(rows->nrows > 0 ? rows->nrows : 1, sizeof(*nodes));
    size_t n = 0;
    sf_status_t rc = nodes != NULL ? DB_OK : DB_ERR;
    while (rc == DB_OK && n < max && db_rows_next(rows)) {
        json_t *vo = vo_json(rows);
        if (vo == NULL || json_array_append_new(items, vo) != 0)
            rc = DB_ERR;
        else
            nodes[n++] = (node_t){.id = db_rows_i64(rows, 0), .obj = vo};
    }
    if (rc == DB_OK && n > 0)
        rc = attach_lines(db, nodes, n); /* read in id order: already sorted */
    free(nodes);
    return rc;
}

sf_status_t fulfil_render(db_t *db, int64_t market_id, int64_t vendor_id, int64_t vendor_order_id, json_t **out)
{
    db_rows_t *rows = NULL;
    json_t *items = json_array();
    db_param_t p[] = {DB_I64(vendor_order_id), DB_I64(vendor_id), DB_I64(vendor_id), DB_I64(market_id)};
    *out = NULL;
    sf_status_t rc = items != NULL ? db_query(db,
                                              "SELECT " VO_COLS VO_FROM " WHERE v.id = ?"
                                              " AND (? = 0 OR (v.vendor_id = ? AND v.market_id = ?))",
                                              p, 4, &rows)
                                   : DB_ERR;
    if (rc == DB_OK)
        rc = render_rows(db, rows, 1, items);
    if (rc == DB_OK && json_array_size(items) == 0)
        rc = DB_NOROW;
    if (rc == DB_OK)
        *out = json_incref(json_array_get(items, 0));
    db_rows_free(rows);
    json_decref(items);
    return rc;
}

sf_status_t fulfil_list(db_t *db, int64_t market_id, int64_t vendor_id, const char *status, size_t limit,
                        int64_t after_id, json_t **items, char *next_cursor, size_t len)
{
    db_rows_t *rows = NULL;
    sf_status_t rc;
    next_cursor[0] = '\0';
    if ((*items = json_array()) == NULL)
        return DB_ERR;
    /* one more than the page, to know whether another follows; one statement for one status
     * and for the four of FULFIL_ACTIVE (a single status is given four times) */
    static const char *const active[] = {"new", "accepted", "picked", "ready"};
    if (status != NULL) {
        int all = strcmp(status, FULFIL_ACTIVE) == 0;
        rc = db_query(db,
                      "SELECT " VO_COLS VO_FROM " WHERE v.vendor_id = ? AND v.status IN (?, ?, ?, ?) AND v.id > ?"
                      " AND v.market_id = ? ORDER BY v.id LIMIT ?",
                      (db_param_t[]){DB_I64(vendor_id), DB_STR(all ? active[0] : status),
                                     DB_STR(all ? active[1] : status), DB_STR(all ? active[2] : status),
                                     DB_STR(all ? active[3] : status), DB_I64(after_id), DB_I64(market_id),
                                     DB_I64((int64_t)limit + 1)},
                      8, &rows);
    } else
        rc =
            db_query(db,
                     "SELECT " VO_COLS VO_FROM " WHERE v.vendor_id = ? AND v.new_at IS NOT NULL AND v.id > ?"
                     " AND v.market_id = ? ORDER BY v.id LIMIT ?",
                     (db_param_t[]){DB_I64(vendor_id), DB_I64(after_id), DB_I64(market_id), DB_I64((int64_t)limit + 1)},
                     4, &rows);
    if (rc == DB_OK)
        rc = render_rows(db, rows, limit, *items);
    if (rc == DB_OK && rows->nrows > limit && limit > 0) {
        json_t *last = json_array_get(*items, limit - 1);
        if (cursor_encode(FULFIL_CURSOR_KIND, 0, json_integer_value(json_object_get(last, "id")), next_cursor, len) !=
            0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

/* ================================================================ the moves */

/* The work of one move (a db_tx body's context). */
typedef struct move {
    const fulfil_actor_t *who;
    int64_t vo_id;
    const char *reason;              /* reject */
    const fulfil_pick_line_t *lines; /* pick */
    size_t nlines;
    int64_t older_than_s; /* auto-reject: only when paid this long ago */
    int want_doc;
    /* found out by the transaction */
    int64_t items_fen;
    char order_before[ORDER_STATUS_NAME_MAX];
    fulfil_result_t res;
    json_t *doc;
    json_t *details; /* SF_E_PICK_LINES */
    char field[48];  /* SF_E_PICK_MORE */
} move_t;

/* Resets what an earlier run of the transaction left. */
static void move_reset(move_t *m)
{
    json_decref(m->doc);
    json_decref(m->details);
    m->doc = m->details = NULL;
    m->field[0] = '\0';
    memset(&m->res, 0, sizeof(m->res));
    m->order_before[0] = '\0';
}

/* Finds the vendor order (the vendor's own, unless the system acts) and locks its order row,
 * the first lock of every move. With older_than_s, only a vendor order paid that long ago. */
static sf_status_t find_and_lock(db_t *db, move_t *m)
{
    db_rows_t *rows = NULL;
    const fulfil_actor_t *w = m->who;
    db_param_t p[] = {DB_I64(m->older_than_s), DB_I64(m->vo_id), DB_I64(w->vendor_id), DB_I64(w->vendor_id),
                      DB_I64(w->market_id)};
    sf_status_t rc = db_query_row(db,
                                  "SELECT v.order_id, v.market_id, v.items_fen,"
                                  " COALESCE(v.new_at < NOW(3) - INTERVAL ? SECOND, 0) FROM vendor_orders v"
                                  " WHERE v.id = ? AND (? = 0 OR (v.vendor_id = ? AND v.market_id = ?))",
                                  p, 5, &rows);
    if (rc != DB_OK)
        goto out;
    m->res.order_id = db_rows_i64(rows, 0);
    m->res.market_id = db_rows_i64(rows, 1);
    m->items_fen = db_rows_i64(rows, 2);
    if (m->older_than_s > 0 && db_rows_i64(rows, 3) == 0) {
        rc = SF_E_VENDOR_ORDER_STATE; /* not due (yet): nothing to do */
        goto out;
    }
    db_rows_free(rows);
    rows = NULL;
    rc = db_query_row(db, "SELECT status FROM orders WHERE id = ? FOR UPDATE", (db_param_t[]){DB_I64(m->res.order_id)},
                      1, &rows);
    if (rc == DB_OK)
        db_rows_copy(rows, 0, m->order_before, sizeof(m->order_before));
out:
    db_rows_free(rows);
    return rc;
}

/* The vendor order from → to (an event row), as the actor. */
static sf_status_t move_vo(db_t *db, const move_t *m, const char *from, const char *to, const char *reason)
{
    sf_status_t rc = vendor_order_transition_tx(db, m->vo_id, from, to, m->who->name, reason);
    return rc == SF_E_ORDER_CHANGED ? SF_E_VENDOR_ORDER_STATE : rc;
}

/* The order follows its vendor orders; then the answer, read inside the transaction (what it
 * wrote). */
static sf_status_t finish(db_t *db, move_t *m)
{
    sf_status_t rc =
        order_sync_status_tx(db, m->res.order_id, m->who->name, m->res.order_status, sizeof(m->res.order_status));
    if (rc == DB_OK && m->want_doc)
        rc = fulfil_render(db, m->who->market_id, m->who->vendor_id, m->vo_id, &m->doc);
    return rc;
}

static sf_status_t accept_tx(db_t *db, void *ctx)
{
    move_t *m = ctx;
    sf_status_t rc;
    move_reset(m);
    if ((rc = find_and_lock(db, m)) != DB_OK || (rc = move_vo(db, m, "new", "accepted", NULL)) != DB_OK)
        return rc;
    return finish(db, m);
}

static sf_status_t ready_tx(db_t *db, void *ctx)
{
    move_t *m = ctx;
    sf_status_t rc;
    move_reset(m);
    if ((rc = find_and_lock(db, m)) != DB_OK || (rc = move_vo(db, m, "picked", "ready", NULL)) != DB_OK)
        return rc;
    return finish(db, m);
}

/* new → rejected, its stock back, its amount refunded; the order cancelled and refunded in
 * full when no live vendor order is left. */
static sf_status_t reject_tx(db_t *db, void *ctx)
{
    move_t *m = ctx;
    sf_status_t rc;
    int64_t refund_id = 0, rest = 0;
    move_reset(m);
    if ((rc = find_and_lock(db, m)) != DB_OK || (rc = move_vo(db, m, "new", "rejected", m->reason)) != DB_OK ||
        (rc = stock_return_vendor_order(db, m->vo_id)) != DB_OK)
        return rc;
    m->res.stock_moved = 1;
    if (m->items_fen > 0 &&
        (rc = payment_refund_vendor_tx(db, m->vo_id, m->items_fen, "rejected", &refund_id)) != DB_OK)
        return rc;
    m->res.refund_fen = m->items_fen;
    if ((rc = finish(db, m)) != DB_OK)
        return rc;
    if (strcmp(m->res.order_status, "cancelled") == 0 && strcmp(m->order_before, "cancelled") != 0) {
        if ((rc = payment_refund_all_tx(db, m->res.order_id, "rejected", &rest)) != DB_OK)
            return rc;
        m->res.refund_fen += rest;
    }
    if (m->older_than_s > 0)
        rc = alert_raise(db, m->res.market_id, ALERT_AUTO_REJECTED, m->vo_id, m->res.order_id, AUTO_REASON, NULL);
    return rc;
}

/* ---------------------------------------------------------------- pick */

/* A line of the vendor order as stored. */
typedef struct pline {
    int64_t id, price_fen, per_g, qty, amount_fen;
    int weight;
    int named; /* times the body named it */
    int64_t qty_actual, amount_actual;
} pline_t;

/* Appends id to details[key]. */
static int detail_id(json_t **details, const char *key, int64_t id)
{
    if (*details == NULL && (*details = json_pack("{s:[], s:[], s:[]}", "unknown", "duplicate", "missing")) == NULL)
        return -1;
    return json_array_append_new(json_object_get(*details, key), json_integer(id));
}

/* Matches the body's lines to the stored ones: each stored line named exactly once, no other. */
static sf_status_t match_lines(move_t *m, pline_t *pl, size_t n)
{
    for (size_t i = 0; i < m->nlines; i++) {
        pline_t *hit = NULL;
        for (size_t j = 0; j < n && hit == NULL; j++)
            if (pl[j].id == m->lines[i].line_id)
                hit = &pl[j];
        if (hit == NULL) {
            if (detail_id(&m->details, "unknown", m->lines[i].line_id) != 0)
                return DB_ERR;
            continue;
        }
        if (hit->named++ == 1 && detail_id(&m->details, "duplicate", hit->id) != 0)
            return DB_ERR;
        hit->qty_actual = m->lines[i].qty_actual;
    }
    for (size_t j = 0; j < n; j++)
        if (pl[j].named == 0 && detail_id(&m->details, "missing", pl[j].id) != 0)
            return DB_ERR;
    return m->details != NULL ? SF_E_PICK_LINES : DB_OK;
}

/* What each line costs once picked; *refund the sum of the differences. */
static sf_status_t price_lines(move_t *m, pline_t *pl, size_t n, int64_t *refund)
{
    *refund = 0;
    for (size_t j = 0; j < n; j++) {
        pline_t *l = &pl[j];
        int64_t back = 0, agreed = l->amount_fen;
        if (l->weight) {
            /* the one rounding of the trade: the amount of what was weighed, half up, but never
             * more than what was agreed (money_line_weighed; its difference is taken again
             * below, against the amount stored and paid) */
            if (money_line_weighed(l->price_fen, l->per_g, l->qty, l->qty_actual, &l->amount_actual, &back) != MONEY_OK)
                return SF_E_INTERNAL;
        } else {
            if (l->qty_actual > l->qty) {
                for (size_t i = 0; i < m->nlines; i++)
                    if (m->lines[i].line_id == l->id)
                        snprintf(m->field, sizeof(m->field), "lines[%zu].qty_actual", i);
                json_decref(m->details);
                m->details = json_pack("{s:[I]}", "line_ids", (json_int_t)l->id);
                return m->details != NULL ? SF_E_PICK_MORE : DB_ERR;
            }
            if (money_line_count(l->price_fen, l->qty_actual, &l->amount_actual) != MONEY_OK)
                return SF_E_INTERNAL;
        }
        /* the stored amount is the one paid: never charge beyond it, never refund below 0 */
        if (l->amount_actual > agreed)
            l->amount_actual = agreed;
        back = agreed - l->amount_actual;
        if (money_add(*refund, back, refund) != MONEY_OK)
            return SF_E_INTERNAL;
    }
    return DB_OK;
}

/* Reads the vendor order's lines into *pl (caller frees); SF_E_VENDOR_ORDER_STATE when the
 * vendor order is not accepted as read (the move's conditional UPDATE has the last word). */
static sf_status_t read_lines(db_t *db, int64_t vo_id, pline_t **pl, size_t *n)
{
    db_rows_t *rows = NULL;
    *pl = NULL;
    *n = 0;
    sf_status_t rc =
        db_query(db,
                 "SELECT l.id, l.pricing_mode = 'weight', l.price_fen, COALESCE(l.per_g, 0), l.qty, l.amount_fen,"
                 " v.status = 'accepted' FROM vendor_orders v JOIN order_lines l ON l.vendor_order_id = v.id"
                 " WHERE v.id = ? ORDER BY l.id LIMIT ?",
                 (db_param_t[]){DB_I64(vo_id), DB_I64(CART_MAX_LINES)}, 2, &rows);
    if (rc == DB_OK && (*pl = calloc(rows->nrows > 0 ? rows->nrows : 1, sizeof(**pl))) == NULL)
        rc = DB_ERR;
    while (rc == DB_OK && db_rows_next(rows))
        if (db_rows_i64(rows, 6) != 1)
            rc = SF_E_VENDOR_ORDER_STATE;
    db_rows_rewind(rows);
    while (rc == DB_OK && db_rows_next(rows))
        (*pl)[(*n)++] = (pline_t){.id = db_rows_i64(rows, 0),
                                  .weight = db_rows_i64(rows, 1) == 1,
                                  .price_fen = db_rows_i64(rows, 2),
                                  .per_g = db_rows_i64(rows, 3),
                                  .qty = db_rows_i64(rows, 4),
                                  .amount_fen = db_rows_i64(rows, 5)};
    db_rows_free(rows);
    return rc;
}

/* Writes qty_actual and amount_actual_fen of every line in one statement. */
static sf_status_t write_lines(db_t *db, int64_t vo_id, const pline_t *pl, size_t n)
{
    json_t *arr = json_array();
    char *text = NULL;
    sf_status_t rc = arr != NULL ? DB_OK : DB_ERR;
    for (size_t j = 0; j < n && rc == DB_OK; j++)
        if (json_array_append_new(arr, json_pack("[I, I, I]", (json_int_t)pl[j].id, (json_int_t)pl[j].qty_actual,
                                                 (json_int_t)pl[j].amount_actual)) != 0)
            rc = DB_ERR;
    if (rc == DB_OK && (text = json_dumps(arr, JSON_COMPACT)) == NULL)
        rc = DB_ERR;
    if (rc == DB_OK)
        rc = db_exec(db,
                     "UPDATE order_lines l JOIN JSON_TABLE(?, '$[*]' COLUMNS (id BIGINT PATH '$[0]',"
                     " q BIGINT PATH '$[1]', a BIGINT PATH '$[2]')) j ON j.id = l.id"
                     " SET l.qty_actual = j.q, l.amount_actual_fen = j.a WHERE l.vendor_order_id = ?",
                     (db_param_t[]){DB_STR(text), DB_I64(vo_id)}, 2, NULL, NULL);
    free(text);
    json_decref(arr);
    return rc;
}

static sf_status_t pick_tx(db_t *db, void *ctx)
{
    move_t *m = ctx;
    pline_t *pl = NULL;
    size_t n = 0;
    int64_t refund = 0, refund_id = 0;
    sf_status_t rc;
    move_reset(m);
    /* a second pick waits on the order's row, then its move finds the vendor order picked and
     * everything is rolled back; the lines are written before the move, so that the sales
     * change log the move writes (models/salelog.h) has what was picked and what each line
     * refunds (its amount less amount_actual_fen: the refund below is their sum) */
    if ((rc = find_and_lock(db, m)) != DB_OK || (rc = read_lines(db, m->vo_id, &pl, &n)) != DB_OK ||
        (rc = match_lines(m, pl, n)) != DB_OK || (rc = price_lines(m, pl, n, &refund)) != DB_OK ||
        (rc = write_lines(db, m->vo_id, pl, n)) != DB_OK ||
        (rc = move_vo(db, m, "accepted", "picked", NULL)) != DB_OK || (rc = stock_settle_pick(db, m->vo_id)) != DB_OK)
        goto out;
    m->res.stock_moved = 1;
    if (refund > 0 && (rc = payment_refund_vendor_tx(db, m->vo_id, refund, "weight_difference", &refund_id)) != DB_OK)
        goto out;
    m->res.refund_fen = refund;
    rc = finish(db, m);
out:
    free(pl);
    return rc;
}

/* ---------------------------------------------------------------- the public moves */

/* Hands the answer and the result of a finished transaction to the caller. */
static sf_status_t done(move_t *m, sf_status_t rc, fulfil_result_t *res, json_t **out)
{
    if (rc == DB_OK && res != NULL)
        *res = m->res;
    if (out != NULL) {
        *out = rc == DB_OK ? m->doc : NULL;
        if (rc == DB_OK)
            m->doc = NULL;
    }
    json_decref(m->doc);
    json_decref(m->details);
    return rc;
}

/* Runs a move's transaction. */
static sf_status_t run(db_t *db, db_tx_body_t body, move_t *m, fulfil_result_t *res, json_t **out)
{
    m->want_doc = out != NULL;
    return done(m, db_tx(db, body, m), res, out);
}

sf_status_t fulfil_accept(db_t *db, const fulfil_actor_t *who, int64_t vendor_order_id, fulfil_result_t *res,
                          json_t **out)
{
    move_t m = {.who = who, .vo_id = vendor_order_id};
    return run(db, accept_tx, &m, res, out);
}

sf_status_t fulfil_ready(db_t *db, const fulfil_actor_t *who, int64_t vendor_order_id, fulfil_result_t *res,
                         json_t **out)
{
    move_t m = {.who = who, .vo_id = vendor_order_id};
    return run(db, ready_tx, &m, res, out);
}

sf_status_t fulfil_reject(db_t *db, const fulfil_actor_t *who, int64_t vendor_order_id, const char *reason,
                          fulfil_result_t *res, json_t **out)
{
    move_t m = {.who = who, .vo_id = vendor_order_id, .reason = reason};
    if (reason == NULL || reason[0] == '\0')
        return SF_E_INVALID;
    return run(db, reject_tx, &m, res, out);
}

sf_status_t fulfil_pick(db_t *db, const fulfil_actor_t *who, int64_t vendor_order_id, const fulfil_pick_line_t *lines,
                        size_t n, fulfil_result_t *res, json_t **out, status_detail_t *d)
{
    move_t m = {.who = who, .vo_id = vendor_order_id, .lines = lines, .nlines = n, .want_doc = out != NULL};
    int any = 0;
    for (size_t i = 0; i < n; i++) {
        if (lines[i].qty_actual < 0 || lines[i].qty_actual > FULFIL_QTY_MAX)
            return SF_E_INVALID;
        any = any || lines[i].qty_actual > 0;
    }
    /* a stall with nothing to give rejects (its stock and money go back, and the order is
     * cancelled when it was the last): a courier is never sent to collect nothing */
    if (n > 0 && !any)
        return status_field(d, SF_E_INVALID, "lines", "nothing was picked: reject the vendor order instead");
    sf_status_t rc = db_tx(db, pick_tx, &m);
    if (rc == SF_E_PICK_LINES || rc == SF_E_PICK_MORE) {
        status_field(d, rc, rc == SF_E_PICK_LINES ? "lines" : m.field,
                     rc == SF_E_PICK_LINES ? "name every line of the vendor order exactly once"
                                           : "a counted line may only go down");
        status_details(d, rc, m.details); /* d may be NULL: then freed there */
        m.details = NULL;
    }
    return done(&m, rc, res, out);
}

/* ================================================================ the acceptance deadlines */

sf_status_t fulfil_waiting(db_t *db, int64_t older_than_s, int unflagged_only, int64_t *ids, size_t max, size_t *n)
{
    db_rows_t *rows = NULL;
    *n = 0;
    sf_status_t rc =
        db_query(db,
                 "SELECT id FROM vendor_orders WHERE status = 'new' AND new_at < NOW(3) - INTERVAL ? SECOND"
                 " AND (? = 0 OR flagged_at IS NULL) ORDER BY new_at, id LIMIT ?",
                 (db_param_t[]){DB_I64(older_than_s), DB_I64(unflagged_only), DB_I64((int64_t)max)}, 3, &rows);
    while (rc == DB_OK && db_rows_next(rows) && *n < max)
        ids[(*n)++] = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return rc;
}

typedef struct flag_work {
    int64_t vo_id, older_than_s;
    int flagged;
} flag_work_t;

static sf_status_t flag_tx(db_t *db, void *ctx)
{
    flag_work_t *f = ctx;
    db_rows_t *rows = NULL;
    uint64_t n = 0;
    char note[64];
    f->flagged = 0;
    sf_status_t rc = db_exec(db,
                             "UPDATE vendor_orders SET flagged_at = NOW(3) WHERE id = ? AND status = 'new'"
                             " AND flagged_at IS NULL AND new_at < NOW(3) - INTERVAL ? SECOND",
                             (db_param_t[]){DB_I64(f->vo_id), DB_I64(f->older_than_s)}, 2, &n, NULL);
    if (rc != DB_OK || n == 0)
        return rc; /* someone else flagged it, or it moved on: nothing to say */
    rc = db_query_row(db, "SELECT market_id, order_id FROM vendor_orders WHERE id = ?",
                      (db_param_t[]){DB_I64(f->vo_id)}, 1, &rows);
    snprintf(note, sizeof(note), "not accepted within %lld s", (long long)f->older_than_s);
    if (rc == DB_OK)
        rc = alert_raise(db, db_rows_i64(rows, 0), ALERT_UNACCEPTED, f->vo_id, db_rows_i64(rows, 1), note, NULL);
    db_rows_free(rows);
    f->flagged = rc == DB_OK;
    return rc;
}

sf_status_t fulfil_flag_unaccepted(db_t *db, int64_t vendor_order_id, int64_t older_than_s, int *flagged)
{
    flag_work_t f = {.vo_id = vendor_order_id, .older_than_s = older_than_s};
    sf_status_t rc = db_tx(db, flag_tx, &f);
    *flagged = rc == DB_OK && f.flagged;
    return rc;
}

sf_status_t fulfil_auto_reject(db_t *db, int64_t vendor_order_id, int64_t older_than_s, fulfil_result_t *res)
{
    static const fulfil_actor_t system = {.name = AUTO_ACTOR};
    move_t m = {.who = &system, .vo_id = vendor_order_id, .reason = AUTO_REASON, .older_than_s = older_than_s};
    if (older_than_s <= 0)
        return SF_E_INVALID;
    return run(db, reject_tx, &m, res, NULL);
}
