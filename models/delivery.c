/*
 * Deliveries (see delivery.h). Every move: the row locked or one conditional UPDATE with the
 * version, an order_events row (delivery_id set), order_sync_status_tx. Worker threads; only
 * the db_t and redis_t given are used.
 */
#include <openssl/crypto.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/alert.h"
#include "models/base/cursor.h"
#include "models/base/geo.h"
#include "models/base/sqltime.h"
#include "models/delivery.h"
#include "models/order.h"
#include "models/outbox.h"

#define ACTOR_LEN 40

static const char *const statuses[] = {"waiting", "offered", "assigned", "picked_up", "delivered", "failed", NULL};

const char *const *delivery_status_names(void)
{
    return statuses;
}

static sf_status_t db_fail(sf_status_t rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK || rc == DB_NOROW ? rc : SF_E_INTERNAL;
}

static db_param_t str_or_null(const char *s)
{
    return s != NULL ? DB_STR(s) : DB_NULL;
}

/* The event row of a move of the delivery (written after its UPDATE). */
static sf_status_t event(db_t *db, int64_t delivery_id, const char *from, const char *to, const char *actor,
                         const char *reason)
{
    db_param_t p[] = {str_or_null(from), DB_STR(to), DB_STR(actor), str_or_null(reason), DB_I64(delivery_id)};
    return db_exec(db,
                   "INSERT INTO order_events (market_id, order_id, vendor_order_id, delivery_id, from_status,"
                   " to_status, actor, reason) SELECT market_id, order_id, NULL, id, ?, ?, LEFT(?, 32), LEFT(?, 200)"
                   " FROM deliveries WHERE id = ?",
                   p, 5, NULL, NULL);
}

static void actor_of(char *buf, const char *role, int64_t id)
{
    snprintf(buf, ACTOR_LEN, "%s:%lld", role, (long long)id);
}

/* ================================================================ creating and driving */

sf_status_t delivery_ensure_tx(db_t *db, int64_t order_id, int64_t *delivery_id)
{
    unsigned char rnd[4];
    char code[5];
    uint64_t n = 0, id = 0;
    db_rows_t *rows = NULL;
    sf_status_t rc =
        db_query_row(db, "SELECT id FROM deliveries WHERE order_id = ?", (db_param_t[]){DB_I64(order_id)}, 1, &rows);
    if (rc == DB_OK)
        *delivery_id = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (rc != DB_NOROW)
        return rc;
    if (RAND_bytes(rnd, sizeof(rnd)) != 1)
        return SF_E_INTERNAL;
    snprintf(code, sizeof(code), "%04u",
             (unsigned)(((uint32_t)rnd[0] << 24 | (uint32_t)rnd[1] << 16 | (uint32_t)rnd[2] << 8 | rnd[3]) % 10000u));
    rc = db_exec(db,
                 "INSERT IGNORE INTO deliveries (market_id, order_id, code) SELECT market_id, id, ? FROM orders"
                 " WHERE id = ? AND status IN ('paid', 'fulfilling', 'ready')",
                 (db_param_t[]){DB_STR(code), DB_I64(order_id)}, 2, &n, &id);
    if (rc != DB_OK)
        return rc;
    if (n == 0) { /* not dispatchable, or made meanwhile by another step */
        rc = db_query_row(db, "SELECT id FROM deliveries WHERE order_id = ?", (db_param_t[]){DB_I64(order_id)}, 1,
                          &rows);
        if (rc == DB_OK)
            *delivery_id = db_rows_i64(rows, 0);
        db_rows_free(rows);
        return rc;
    }
    *delivery_id = (int64_t)id;
    return event(db, *delivery_id, NULL, "waiting", "system:dispatch", NULL);
}

/* Expires the delivery's open offers whose time passed; notes their couriers in st. *open
 * gets whether one still runs, *left_ms its remaining time. */
static sf_status_t expire_open(db_t *db, int64_t delivery_id, delivery_step_t *st, int *open, int64_t *left_ms)
{
    db_rows_t *rows = NULL;
    *open = 0;
    sf_status_t rc = db_query(db,
                              "SELECT courier_id, expires_at <= NOW(3),"
                              " GREATEST(0, TIMESTAMPDIFF(MICROSECOND, NOW(3), expires_at) DIV 1000)"
                              " FROM delivery_offers WHERE delivery_id = ? AND status = 'open' LIMIT 4 FOR UPDATE",
                              (db_param_t[]){DB_I64(delivery_id)}, 1, &rows);
    while (rc == DB_OK && db_rows_next(rows)) {
        if (db_rows_i64(rows, 1) == 0) {
            *open = 1;
            *left_ms = db_rows_i64(rows, 2);
        } else if (st->ngone < 4)
            st->gone[st->ngone++] = db_rows_i64(rows, 0);
    }
    db_rows_free(rows);
    if (rc == DB_OK && st->ngone > 0)
        rc = db_exec(db,
                     "UPDATE delivery_offers SET status = 'expired', answered_at = NOW(3)"
                     " WHERE delivery_id = ? AND status = 'open' AND expires_at <= NOW(3)",
                     (db_param_t[]){DB_I64(delivery_id)}, 1, NULL, NULL);
    return rc;
}

/* Grab mode: every courier on shift in range may accept; they are told (st->grab). */
static sf_status_t open_grab(db_t *db, redis_t *r, delivery_step_t *st, const char *from)
{
    uint64_t n = 0;
    sf_status_t rc =
        db_exec(db,
                "UPDATE deliveries SET status = 'offered', grab = 1, version = version + 1,"
                " offered_at = COALESCE(offered_at, NOW(3)), next_try_at = NULL WHERE id = ? AND version = ?",
                (db_param_t[]){DB_I64(st->delivery_id), DB_I64(st->version)}, 2, &n, NULL);
    if (rc != DB_OK)
        return rc;
    if (n == 0)
        return SF_E_INTERNAL; /* moved under our own FOR UPDATE lock: a broken invariant */
    st->version++;
    if ((rc = event(db, st->delivery_id, from, "offered", "system:dispatch", "grab")) != DB_OK)
        return rc;
    courier_candidate_t c[COURIER_CANDIDATES_MAX];
    size_t nc = 0;
    if (courier_candidates(db, r, st->market_id, st->delivery_id, 0, c, COURIER_CANDIDATES_MAX, &nc) == SF_OK)
        for (size_t i = 0; i < nc; i++)
            st->grab[st->ngrab++] = c[i].id;
    st->result = DRIVE_GRAB;
    return DB_OK;
}

/* Nobody to ask: back to waiting, retried after 2^tries s (capped). */
static sf_status_t back_off(db_t *db, delivery_step_t *st, const char *from, int64_t tries)
{
    uint64_t n = 0;
    int64_t wait = 1, cap = db->cfg->dispatch_retry_max_s;
    for (int64_t i = 0; i <= tries && wait < cap; i++)
        wait *= 2;
    if (wait > cap)
        wait = cap;
    sf_status_t rc = db_exec(db,
                             "UPDATE deliveries SET status = 'waiting', no_courier_tries = no_courier_tries + 1,"
                             " next_try_at = NOW(3) + INTERVAL ? SECOND, version = version + 1"
                             " WHERE id = ? AND version = ?",
                             (db_param_t[]){DB_I64(wait), DB_I64(st->delivery_id), DB_I64(st->version)}, 3, &n, NULL);
    if (rc != DB_OK)
        return rc;
    if (n == 0)
        return SF_E_INTERNAL; /* moved under our own lock: a broken invariant */
    st->version++;
    if (strcmp(from, "waiting") != 0 &&
        (rc = event(db, st->delivery_id, from, "waiting", "system:dispatch", "no courier")) != DB_OK)
        return rc;
    rc = alert_raise(db, st->market_id, ALERT_NO_COURIER, st->delivery_id, st->order_id, "no courier on shift in range",
                     &st->no_courier_alert);
    st->result = DRIVE_NO_COURIER;
    st->due_ms = wait * 1000;
    return rc;
}

/* The offer itself: a delivery_offers row (the key refuses a second offer to one courier),
 * the delivery offered with version + 1, an event. */
static sf_status_t make_offer(db_t *db, delivery_step_t *st, const char *from, int64_t round,
                              const courier_candidate_t *c)
{
    uint64_t n = 0;
    db_rows_t *rows = NULL;
    int64_t ttl = db->cfg->dispatch_offer_ttl_s;
    char reason[ACTOR_LEN];
    db_param_t ins[] = {DB_I64(st->delivery_id), DB_I64(c->id),         DB_I64(st->market_id),
                        DB_I64(round + 1),       DB_I64(c->distance_m), DB_I64(ttl)};
    sf_status_t rc = db_exec(db,
                             "INSERT INTO delivery_offers (delivery_id, courier_id, market_id, round, distance_m,"
                             " expires_at) VALUES (?, ?, ?, ?, ?, NOW(3) + INTERVAL ? SECOND)",
                             ins, 6, NULL, NULL);
    if (rc != DB_OK)
        return rc;
    rc = db_exec(db,
                 "UPDATE deliveries SET status = 'offered', round = round + 1, version = version + 1,"
                 " offered_at = COALESCE(offered_at, NOW(3)), next_try_at = NOW(3) + INTERVAL ? SECOND"
                 " WHERE id = ? AND version = ?",
                 (db_param_t[]){DB_I64(ttl), DB_I64(st->delivery_id), DB_I64(st->version)}, 3, &n, NULL);
    if (rc != DB_OK)
        return rc;
    if (n == 0)
        return SF_E_INTERNAL; /* moved under our own lock: a broken invariant */
    st->version++;
    actor_of(reason, "courier", c->id);
    if ((rc = event(db, st->delivery_id, from, "offered", "system:dispatch", reason)) != DB_OK)
        return rc;
    rc = db_query_row(
        db, "SELECT " SQL_AT_0800("expires_at") " FROM delivery_offers WHERE delivery_id = ? AND courier_id = ?",
        (db_param_t[]){DB_I64(st->delivery_id), DB_I64(c->id)}, 2, &rows);
    if (rc == DB_OK)
        db_rows_copy(rows, 0, st->expires_at, sizeof(st->expires_at));
    db_rows_free(rows);
    st->result = DRIVE_OFFERED;
    st->courier_id = c->id;
    st->due_ms = ttl * 1000;
    return rc;
}

sf_status_t delivery_drive_tx(db_t *db, redis_t *r, int64_t delivery_id, delivery_step_t *st)
{
    db_rows_t *rows = NULL;
    char status[16];
    int open = 0;
    int64_t left = 0;
    memset(st, 0, sizeof(*st));
    st->delivery_id = delivery_id;
    sf_status_t rc = db_query_row(db,
                                  "SELECT market_id, order_id, status, version, round, grab, no_courier_tries,"
                                  " COALESCE(TIMESTAMPDIFF(MICROSECOND, NOW(3), next_try_at) DIV 1000, 0)"
                                  " FROM deliveries WHERE id = ? FOR UPDATE",
                                  (db_param_t[]){DB_I64(delivery_id)}, 1, &rows);
    if (rc == DB_NOROW)
        return DB_OK; /* st->result DRIVE_IDLE */
    if (rc != DB_OK)
        return rc;
    st->market_id = db_rows_i64(rows, 0);
    st->order_id = db_rows_i64(rows, 1);
    db_rows_copy(rows, 2, status, sizeof(status));
    st->version = db_rows_i64(rows, 3);
    int64_t round = db_rows_i64(rows, 4), grab = db_rows_i64(rows, 5), tries = db_rows_i64(rows, 6);
    int64_t retry_in = db_rows_i64(rows, 7);
    db_rows_free(rows);
    if ((strcmp(status, "waiting") != 0 && strcmp(status, "offered") != 0) || grab)
        return DB_OK;
    if ((rc = expire_open(db, delivery_id, st, &open, &left)) != DB_OK)
        return rc;
    if (open) {
        st->result = DRIVE_NOT_DUE;
        st->due_ms = left;
        return DB_OK;
    }
    if (strcmp(status, "waiting") == 0 && retry_in > 0) {
        st->result = DRIVE_NOT_DUE;
        st->due_ms = retry_in;
        return DB_OK;
    }
    if (round >= db->cfg->dispatch_rounds)
        return open_grab(db, r, st, status);
    courier_candidate_t c[1];
    size_t nc = 0;
    if ((rc = courier_candidates(db, r, st->market_id, delivery_id, 1, c, 1, &nc)) != SF_OK)
        return rc;
    if (nc == 1)
        return make_offer(db, st, status, round, &c[0]);
    if (round > 0) { /* only couriers who had it are left near: let them grab it */
        if ((rc = courier_candidates(db, r, st->market_id, delivery_id, 0, c, 1, &nc)) != SF_OK)
            return rc;
        if (nc > 0)
            return open_grab(db, r, st, status);
    }
    return back_off(db, st, status, tries);
}

sf_status_t delivery_fail_tx(db_t *db, int64_t order_id, const char *reason, delivery_step_t *st)
{
    db_rows_t *rows = NULL;
    uint64_t n = 0;
    memset(st, 0, sizeof(*st));
    sf_status_t rc = db_query_row(db,
                                  "SELECT id, market_id, status, version, COALESCE(courier_id, 0) FROM deliveries"
                                  " WHERE order_id = ? FOR UPDATE",
                                  (db_param_t[]){DB_I64(order_id)}, 1, &rows);
    if (rc == DB_NOROW)
        return DB_OK;
    if (rc != DB_OK)
        return rc;
    char status[16];
    st->delivery_id = db_rows_i64(rows, 0);
    st->market_id = db_rows_i64(rows, 1);
    st->order_id = order_id;
    db_rows_copy(rows, 2, status, sizeof(status));
    st->version = db_rows_i64(rows, 3);
    st->courier_id = db_rows_i64(rows, 4);
    db_rows_free(rows);
    rows = NULL;
    if (strcmp(status, "waiting") != 0 && strcmp(status, "offered") != 0 && strcmp(status, "assigned") != 0)
        return DB_OK;
    rc = db_query(db, "SELECT courier_id FROM delivery_offers WHERE delivery_id = ? AND status = 'open' LIMIT 4",
                  (db_param_t[]){DB_I64(st->delivery_id)}, 1, &rows);
    while (rc == DB_OK && db_rows_next(rows))
        st->gone[st->ngone++] = db_rows_i64(rows, 0);
    db_rows_free(rows);
    if (rc != DB_OK)
        return rc;
    db_param_t p[] = {str_or_null(reason), DB_I64(st->delivery_id), DB_I64(st->version)};
    rc = db_exec(db,
                 "UPDATE deliveries SET status = 'failed', fail_reason = LEFT(?, 64), version = version + 1,"
                 " next_try_at = NULL WHERE id = ? AND version = ?",
                 p, 3, &n, NULL);
    if (rc == DB_OK && n == 0)
        rc = SF_E_INTERNAL; /* moved under our own lock: a broken invariant */
    if (rc == DB_OK)
        rc = db_exec(db,
                     "UPDATE delivery_offers SET status = 'withdrawn', answered_at = NOW(3)"
                     " WHERE delivery_id = ? AND status = 'open'",
                     (db_param_t[]){DB_I64(st->delivery_id)}, 1, NULL, NULL);
    if (rc == DB_OK)
        rc = event(db, st->delivery_id, status, "failed", "system:dispatch", reason);
    if (rc == DB_OK) {
        st->version++;
        st->result = DRIVE_FAILED;
    }
    return rc;
}

sf_status_t delivery_overdue(db_t *db, int64_t max, db_rows_t **rows)
{
    return db_query(db,
                    "SELECT d.id, d.market_id, d.version FROM deliveries d WHERE"
                    " (d.status = 'waiting' AND (d.next_try_at IS NULL OR d.next_try_at < NOW(3) - INTERVAL ? SECOND))"
                    " OR (d.status = 'offered' AND d.grab = 0 AND NOT EXISTS (SELECT 1 FROM delivery_offers o"
                    " WHERE o.delivery_id = d.id AND o.status = 'open' AND o.expires_at >= NOW(3) - INTERVAL ? SECOND))"
                    " ORDER BY d.id LIMIT ?",
                    (db_param_t[]){DB_I64(DELIVERY_SWEEP_GRACE_S), DB_I64(DELIVERY_SWEEP_GRACE_S), DB_I64(max)}, 3,
                    rows);
}

/* ================================================================ rendering */

/* The columns of a delivery as the courier and the operator see it. */
#define DCOLS                                                                                                          \
    "d.id, d.order_id, o.order_no, d.status, o.addr_text, o.addr_lat, o.addr_lng, d.code_failures, d.locked,"          \
    " d.round, d.grab, d.no_courier_tries, d.courier_id, c.name, c.phone, " SQL_AT_0800(                               \
        "d.created_at") ", " SQL_AT_0800("d.offered_at") ", " SQL_AT_0800("d.assigned_at") ", " SQL_AT_0800("d."       \
                                                                                                            "picked_"  \
                                                                                                            "up_at") ", " SQL_AT_0800("d.delivered_at") ", d.market_id"
#define DFROM " FROM deliveries d JOIN orders o ON o.id = d.order_id LEFT JOIN couriers c ON c.id = d.courier_id"

/* One delivery; operator adds the dispatch figures and the courier. */
static json_t *delivery_json(const db_rows_t *r, int operator)
{
    json_t *d = json_pack("{s:I, s:I, s:o, s:o, s:[], s:{s:o, s:o, s:o}, s:I, s:b, s:o, s:o, s:o, s:o}", "id",
                          (json_int_t)db_rows_i64(r, 0), "order_id", (json_int_t)db_rows_i64(r, 1), "order_no",
                          db_rows_json_str(r, 2), "status", db_rows_json_str(r, 3), "pickups", "dropoff", "text",
                          db_rows_json_str(r, 4), "lat", db_rows_json_real(r, 5), "lng", db_rows_json_real(r, 6),
                          "code_failures", (json_int_t)db_rows_i64(r, 7), "locked", db_rows_i64(r, 8) != 0,
                          "created_at", db_rows_json_str(r, 15), "assigned_at", db_rows_json_str(r, 17), "picked_up_at",
                          db_rows_json_str(r, 18), "delivered_at", db_rows_json_str(r, 19));
    if (d == NULL || !operator)
        return d;
    json_t *courier = db_rows_isnull(r, 12) ? json_null()
                                            : json_pack("{s:I, s:o, s:o}", "id", (json_int_t)db_rows_i64(r, 12), "name",
                                                        db_rows_json_str(r, 13), "phone", db_rows_json_str(r, 14));
    if (json_object_set_new(d, "courier", courier) != 0 ||
        json_object_set_new(d, "rounds", json_integer(db_rows_i64(r, 9))) != 0 ||
        json_object_set_new(d, "grab", json_boolean(db_rows_i64(r, 10) != 0)) != 0 ||
        json_object_set_new(d, "no_courier_tries", json_integer(db_rows_i64(r, 11))) != 0 ||
        json_object_set_new(d, "offered_at", db_rows_json_str(r, 16)) != 0 ||
        json_object_set_new(d, "alerts", json_array()) != 0) {
        json_decref(d);
        return NULL;
    }
    return d;
}

/* The item of items whose key equals id, or NULL. */
static json_t *find(json_t *items, const char *key, int64_t id)
{
    size_t i;
    json_t *v;
    json_array_foreach(items, i, v) if (json_integer_value(json_object_get(v, key)) == id) return v;
    return NULL;
}

/* The pickups of every item (one query over their orders): {stall_id, stall_no, status}. */
/* An IN list of a page: DELIVERY_LIST_MAX (100) placeholders, filled by page_ids(). */
#define IN_PAGE                                                                                                        \
    "(?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,"            \
    "?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

/* The integer `key` of each item into p (0 for the places past the page: no id is 0). */
static void page_ids(const json_t *items, const char *key, db_param_t *p)
{
    size_t n = json_array_size(items);
    for (size_t i = 0; i < DELIVERY_LIST_MAX; i++)
        p[i] = DB_I64(i < n ? json_integer_value(json_object_get(json_array_get(items, i), key)) : 0);
}

static sf_status_t attach_pickups(db_t *db, json_t *items)
{
    db_param_t p[DELIVERY_LIST_MAX];
    db_rows_t *rows = NULL;
    if (json_array_size(items) == 0)
        return DB_OK;
    page_ids(items, "order_id", p);
    sf_status_t rc = db_query(db,
                              "SELECT v.order_id, v.stall_id, s.stall_no, v.status FROM vendor_orders v"
                              " JOIN stalls s ON s.id = v.stall_id WHERE v.order_id IN " IN_PAGE " ORDER BY v.id",
                              p, DELIVERY_LIST_MAX, &rows);
    while (rc == DB_OK && db_rows_next(rows)) {
        int64_t order_id = db_rows_i64(rows, 0);
        size_t i;
        json_t *v;
        json_array_foreach(items, i, v)
        {
            if (json_integer_value(json_object_get(v, "order_id")) != order_id)
                continue;
            json_t *pk = json_pack("{s:I, s:o, s:o}", "stall_id", (json_int_t)db_rows_i64(rows, 1), "stall_no",
                                   db_rows_json_str(rows, 2), "status", db_rows_json_str(rows, 3));
            if (pk == NULL || json_array_append_new(json_object_get(v, "pickups"), pk) != 0)
                rc = DB_ERR;
        }
    }
    db_rows_free(rows);
    return rc;
}

/* The delivery alerts of the operator's items (one query; at most one of each kind a
 * delivery: the unique key). */
static sf_status_t attach_alerts(db_t *db, int64_t market_id, json_t *items)
{
    db_rows_t *rows = NULL;
    db_param_t p[DELIVERY_LIST_MAX + 1] = {DB_I64(market_id)};
    page_ids(items, "id", p + 1);
    sf_status_t rc = db_query(db,
                              "SELECT subject_id, kind FROM fulfilment_alerts WHERE market_id = ?"
                              " AND kind IN ('offer_expired', 'no_courier', 'pickup_overdue', 'transit_overdue',"
                              " 'delivery_locked') AND subject_id IN " IN_PAGE " ORDER BY id",
                              p, DELIVERY_LIST_MAX + 1, &rows);
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *d = find(items, "id", db_rows_i64(rows, 0));
        if (d != NULL && json_array_append_new(json_object_get(d, "alerts"), db_rows_json_str(rows, 1)) != 0)
            rc = DB_ERR;
    }
    db_rows_free(rows);
    return rc;
}

/* Runs a query of DCOLS rows into *items (newest first) and attaches pickups (and alerts for
 * the operator). With limit > 0 the next cursor is written when the page is full. */
static sf_status_t query_items(db_t *db, const char *sql, const db_param_t *p, size_t np, int operator,
                               int64_t market_id, size_t limit, json_t **items, char *next_cursor, size_t len)
{
    db_rows_t *rows = NULL;
    int64_t lo = 0;
    if (next_cursor != NULL)
        next_cursor[0] = '\0';
    *items = json_array();
    sf_status_t rc = *items != NULL ? db_query(db, sql, p, np, &rows) : DB_ERR;
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *d = delivery_json(rows, operator);
        int64_t id = db_rows_i64(rows, 0);
        lo = lo == 0 || id < lo ? id : lo;
        if (d == NULL || json_array_append_new(*items, d) != 0)
            rc = DB_ERR;
    }
    if (rc == DB_OK)
        rc = attach_pickups(db, *items);
    if (rc == DB_OK && operator&& json_array_size(*items) > 0)
        rc = attach_alerts(db, market_id, *items);
    if (rc == DB_OK && next_cursor != NULL && limit > 0 && rows->nrows == limit &&
        cursor_encode(DELIVERY_CURSOR_KIND, 0, lo, next_cursor, len) != 0)
        rc = DB_ERR;
    db_rows_free(rows);
    if (rc != DB_OK) {
        json_decref(*items);
        *items = NULL;
        rc = db_fail(rc);
    }
    return rc;
}

/* One delivery as it is now (inside or outside a transaction): the courier's own
 * (courier_id > 0; market_id 0: the courier's market, whichever), or the operator's view of
 * one of the market's (courier_id 0). */
static sf_status_t render_one(db_t *db, int64_t market_id, int64_t courier_id, int64_t delivery_id, json_t **out)
{
    json_t *items = NULL;
    db_param_t p[] = {DB_I64(delivery_id), DB_I64(market_id), DB_I64(market_id), DB_I64(courier_id),
                      DB_I64(courier_id)};
    *out = NULL;
    if (market_id == 0 && courier_id == 0)
        return SF_E_NOT_FOUND; /* nobody's view */
    sf_status_t rc = query_items(db,
                                 "SELECT " DCOLS DFROM " WHERE d.id = ? AND (? = 0 OR d.market_id = ?)"
                                 " AND (? = 0 OR d.courier_id = ?)",
                                 p, 5, courier_id == 0, market_id, 0, &items, NULL, 0);
    if (rc == DB_OK && json_array_size(items) == 0)
        rc = SF_E_NOT_FOUND;
    if (rc == DB_OK)
        *out = json_incref(json_array_get(items, 0));
    json_decref(items);
    return rc;
}

/* ================================================================ the courier's side */

/* An offer item: API.md's fields from a delivery row. */
static json_t *offer_item(json_t *d, int64_t distance_m, int has_distance, json_t *expires_at, int grab)
{
    json_t *o =
        json_pack("{s:O, s:O, s:O, s:O, s:O, s:O, s:o, s:o, s:b}", "id", json_object_get(d, "id"), "order_id",
                  json_object_get(d, "order_id"), "order_no", json_object_get(d, "order_no"), "status",
                  json_object_get(d, "status"), "pickups", json_object_get(d, "pickups"), "dropoff",
                  json_object_get(d, "dropoff"), "distance_m", has_distance ? json_integer(distance_m) : json_null(),
                  "expires_at", expires_at, "grab", grab != 0);
    return o;
}

sf_status_t delivery_offers_for(db_t *db, redis_t *r, int64_t market_id, int64_t courier_id, json_t **items)
{
    json_t *open = NULL, *grabs = NULL;
    db_rows_t *rows = NULL;
    *items = json_array();
    if (*items == NULL)
        return SF_E_INTERNAL;
    /* the open offers made to this courier, with their distance and deadline */
    db_param_t p[] = {DB_I64(courier_id), DB_I64(market_id), DB_I64(DELIVERY_LIST_MAX)};
    sf_status_t rc =
        db_query(db,
                 "SELECT x.delivery_id, x.distance_m, " SQL_AT_0800(
                     "x.expires_at") " FROM delivery_offers x JOIN deliveries d ON d.id = x.delivery_id"
                                     " WHERE x.courier_id = ? AND x.status = 'open' AND x.expires_at > NOW(3)"
                                     " AND d.status = 'offered' AND d.market_id = ? ORDER BY x.delivery_id LIMIT ?",
                 p, 3, &rows);
    if (rc == DB_OK)
        rc = query_items(db,
                         "SELECT " DCOLS DFROM " JOIN delivery_offers x ON x.delivery_id = d.id AND x.courier_id = ?"
                         " WHERE x.status = 'open' AND x.expires_at > NOW(3) AND d.status = 'offered'"
                         " AND d.market_id = ? ORDER BY d.id LIMIT ?",
                         p, 3, 0, 0, 0, &open, NULL, 0);
    while (rc == DB_OK && db_rows_next(rows)) {
        json_t *d = find(open, "id", db_rows_i64(rows, 0)), *o = NULL;
        if (d != NULL && ((o = offer_item(d, db_rows_i64(rows, 1), 1, db_rows_json_str(rows, 2), 0)) == NULL ||
                          json_array_append_new(*items, o) != 0))
            rc = DB_ERR;
    }
    db_rows_free(rows);
    rows = NULL;
    /* grab: the market's open deliveries, while the courier is on shift within range */
    double lat, lng;
    int pos = 0;
    if (rc == DB_OK)
        rc = db_query_row(db,
                          "SELECT m.lat, m.lng FROM couriers c JOIN markets m ON m.id = c.market_id"
                          " WHERE c.id = ? AND c.market_id = ? AND c.on_shift = 1 AND c.status = 'active'",
                          (db_param_t[]){DB_I64(courier_id), DB_I64(market_id)}, 2, &rows);
    if (rc == DB_NOROW) {
        rc = DB_OK; /* off shift: no grab */
    } else if (rc == DB_OK && (pos = courier_position(r, market_id, courier_id, &lat, &lng)) < 0) {
        rc = SF_E_UNAVAILABLE; /* Redis: where the courier is is not known now */
    } else if (rc == DB_OK && pos == 1) {
        int64_t dist = geo_distance_m(lat, lng, strtod(db_rows_str(rows, 0, NULL), NULL),
                                      strtod(db_rows_str(rows, 1, NULL), NULL));
        if (dist <= db->cfg->dispatch_radius_m)
            rc = query_items(db,
                             "SELECT " DCOLS DFROM " WHERE d.market_id = ? AND d.status = 'offered' AND d.grab = 1"
                             " ORDER BY d.id LIMIT ?",
                             (db_param_t[]){DB_I64(market_id), DB_I64(DELIVERY_LIST_MAX)}, 2, 0, 0, 0, &grabs, NULL, 0);
        size_t i;
        json_t *d;
        json_array_foreach(grabs, i, d)
        {
            json_t *o = offer_item(d, dist, 1, json_null(), 1);
            if (o == NULL || json_array_append_new(*items, o) != 0)
                rc = DB_ERR;
        }
    }
    db_rows_free(rows);
    json_decref(open);
    json_decref(grabs);
    if (rc != DB_OK) {
        json_decref(*items);
        *items = NULL;
        return rc == SF_E_UNAVAILABLE ? rc : db_fail(rc);
    }
    return SF_OK;
}

typedef struct answer {
    int64_t market_id, courier_id, delivery_id;
    const char *code;
    json_t *out;
    int64_t order_id;
    sf_status_t result;    /* an outcome committed with the transaction (a wrong code) */
    int64_t attempts_left; /* after a wrong code: how many more the courier may try */
} answer_t;

static void answer_reset(answer_t *a)
{
    json_decref(a->out);
    a->out = NULL;
    a->result = SF_OK;
}

/* Runs body in db_tx and hands back its outcome and answer. */
static sf_status_t run(db_t *db, db_tx_body_t body, answer_t *a, json_t **out, int64_t *order_id)
{
    sf_status_t rc = db_tx(db, body, a);
    if (rc == SF_OK)
        rc = a->result;
    if (rc != SF_OK || out == NULL) {
        json_decref(a->out);
        a->out = NULL;
    }
    if (out != NULL)
        *out = a->out;
    if (order_id != NULL)
        *order_id = a->order_id;
    return rc;
}

static sf_status_t accept_tx(db_t *db, void *ctx)
{
    answer_t *a = ctx;
    db_rows_t *rows = NULL;
    uint64_t n = 0;
    char actor[ACTOR_LEN];
    answer_reset(a);
    /* the version the courier saw, and whether they may take it at all */
    sf_status_t rc =
        db_query_row(db,
                     "SELECT d.version, d.order_id, d.grab, (SELECT COUNT(*) FROM delivery_offers x"
                     " WHERE x.delivery_id = d.id AND x.courier_id = ?) FROM deliveries d"
                     " WHERE d.id = ? AND d.market_id = ?",
                     (db_param_t[]){DB_I64(a->courier_id), DB_I64(a->delivery_id), DB_I64(a->market_id)}, 3, &rows);
    if (rc == DB_NOROW)
        return SF_E_NOT_FOUND;
    if (rc != DB_OK)
        return rc;
    int64_t version = db_rows_i64(rows, 0), grab = db_rows_i64(rows, 2), had = db_rows_i64(rows, 3);
    a->order_id = db_rows_i64(rows, 1);
    db_rows_free(rows);
    if (!grab && had == 0)
        return SF_E_NOT_FOUND;
    /* THE decision: one conditional UPDATE */
    db_param_t p[] = {DB_I64(a->courier_id), DB_I64(a->delivery_id), DB_I64(version), DB_I64(a->courier_id),
                      DB_I64(a->courier_id)};
    rc = db_exec(db,
                 "UPDATE deliveries d SET d.status = 'assigned', d.courier_id = ?, d.version = d.version + 1,"
                 " d.assigned_at = NOW(3), d.next_try_at = NULL"
                 " WHERE d.id = ? AND d.version = ? AND d.status = 'offered' AND ("
                 " EXISTS (SELECT 1 FROM delivery_offers x WHERE x.delivery_id = d.id AND x.courier_id = ?"
                 " AND x.status = 'open' AND x.expires_at > NOW(3))"
                 " OR (d.grab = 1 AND EXISTS (SELECT 1 FROM couriers c WHERE c.id = ? AND c.market_id = d.market_id"
                 " AND c.on_shift = 1 AND c.status = 'active')))",
                 p, 5, &n, NULL);
    if (rc != DB_OK)
        return rc;
    if (n == 0)
        return SF_E_OFFER_GONE;
    /* the offer row: the open one accepted; a grab by a courier whose own offer expired or was
     * refused keeps that row as it was (the watchdog and the statistics read it); a grab by
     * one never offered it adds an accepted row */
    db_param_t up[] = {DB_I64(a->delivery_id), DB_I64(a->courier_id), DB_I64(a->market_id)};
    if ((rc = db_exec(db,
                      "INSERT INTO delivery_offers (delivery_id, courier_id, market_id, round, status, distance_m,"
                      " expires_at, answered_at) SELECT id, ?, ?, round, 'accepted', 0, NOW(3), NOW(3)"
                      " FROM deliveries WHERE id = ?"
                      " ON DUPLICATE KEY UPDATE answered_at = IF(delivery_offers.status = 'open', NOW(3),"
                      " delivery_offers.answered_at),"
                      " status = IF(delivery_offers.status = 'open', 'accepted', delivery_offers.status)",
                      (db_param_t[]){up[1], up[2], up[0]}, 3, NULL, NULL)) != DB_OK ||
        (rc = db_exec(db,
                      "UPDATE delivery_offers SET status = 'withdrawn', answered_at = NOW(3)"
                      " WHERE delivery_id = ? AND status = 'open'",
                      up, 1, NULL, NULL)) != DB_OK)
        return rc;
    actor_of(actor, "courier", a->courier_id);
    if ((rc = event(db, a->delivery_id, "offered", "assigned", actor, NULL)) != DB_OK ||
        (rc = order_sync_status_tx(db, a->order_id, actor, NULL, 0)) != DB_OK)
        return rc;
    return render_one(db, a->market_id, a->courier_id, a->delivery_id, &a->out);
}

json_t *delivery_offer_event(int64_t delivery_id, int64_t order_id, const char *expires_at, int grab)
{
    return json_pack("{s:I, s:I, s:s?, s:b}", "delivery_id", (json_int_t)delivery_id, "order_id", (json_int_t)order_id,
                     "expires_at", expires_at, "grab", grab != 0);
}

sf_status_t delivery_grab_others(db_t *db, int64_t market_id, int64_t delivery_id, int64_t winner, int64_t *ids,
                                 size_t max, size_t *n)
{
    db_rows_t *rows = NULL;
    *n = 0;
    sf_status_t rc = db_query(
        db,
        "SELECT c.id FROM deliveries d JOIN couriers c ON c.market_id = d.market_id"
        " WHERE d.id = ? AND d.market_id = ? AND d.grab = 1 AND c.on_shift = 1"
        " AND c.status = 'active' AND c.id <> ? ORDER BY c.id LIMIT ?",
        (db_param_t[]){DB_I64(delivery_id), DB_I64(market_id), DB_I64(winner), DB_I64((int64_t)max)}, 4, &rows);
    while (rc == DB_OK && db_rows_next(rows) && *n < max)
        ids[(*n)++] = db_rows_i64(rows, 0);
    db_rows_free(rows);
    return rc;
}

sf_status_t delivery_accept(db_t *db, int64_t market_id, int64_t courier_id, int64_t delivery_id, json_t **out,
                            int64_t *order_id)
{
    answer_t a = {.market_id = market_id, .courier_id = courier_id, .delivery_id = delivery_id};
    return run(db, accept_tx, &a, out, order_id);
}

static sf_status_t refuse_tx(db_t *db, void *ctx)
{
    answer_t *a = ctx;
    uint64_t n = 0;
    db_rows_t *rows = NULL;
    answer_reset(a);
    db_param_t p[] = {DB_I64(a->delivery_id), DB_I64(a->courier_id), DB_I64(a->market_id)};
    /* the delivery's row first, as the dispatcher locks it (then its offers): no deadlock */
    sf_status_t rc = db_query_row(db,
                                  "SELECT x.status FROM deliveries d JOIN delivery_offers x ON x.delivery_id = d.id"
                                  " AND x.courier_id = ? WHERE d.id = ? AND d.market_id = ? FOR UPDATE",
                                  (db_param_t[]){p[1], p[0], p[2]}, 3, &rows);
    db_rows_free(rows);
    if (rc == DB_NOROW)
        return SF_E_NOT_FOUND;
    if (rc != DB_OK)
        return rc;
    rc = db_exec(db,
                 "UPDATE delivery_offers SET status = 'refused', answered_at = NOW(3)"
                 " WHERE delivery_id = ? AND courier_id = ? AND market_id = ? AND status = 'open'"
                 " AND expires_at > NOW(3)",
                 p, 3, &n, NULL);
    if (rc != DB_OK)
        return rc;
    if (n == 0)
        return SF_E_OFFER_GONE;
    /* the version moves too, so a due job of the old offer is a no-op, and the next courier
     * is asked at once through the outbox */
    if ((rc = db_exec(db, "UPDATE deliveries SET version = version + 1, next_try_at = NOW(3) WHERE id = ?", p, 1, NULL,
                      NULL)) != DB_OK)
        return rc;
    json_t *payload = json_pack("{s:I}", "delivery_id", (json_int_t)a->delivery_id);
    rc = payload != NULL ? outbox_add(db, a->market_id, DELIVERY_REDRIVE_TOPIC, payload, NULL) : DB_ERR;
    json_decref(payload);
    if (rc != DB_OK)
        return rc;
    a->out = json_pack("{s:I, s:s}", "delivery_id", (json_int_t)a->delivery_id, "status", "refused");
    return a->out != NULL ? DB_OK : DB_ERR;
}

sf_status_t delivery_refuse(db_t *db, int64_t market_id, int64_t courier_id, int64_t delivery_id, json_t **out)
{
    answer_t a = {.market_id = market_id, .courier_id = courier_id, .delivery_id = delivery_id};
    return run(db, refuse_tx, &a, out, NULL);
}

sf_status_t delivery_list(db_t *db, int64_t market_id, int64_t courier_id, const char *status, int64_t after_id,
                          size_t limit, json_t **items, char *next_cursor, size_t len)
{
#define LIST_TAIL " AND (? IS NULL OR d.status = ?) AND (? = 0 OR d.id < ?) ORDER BY d.id DESC LIMIT ?"
    int op = courier_id == 0;
    db_param_t p[] = {DB_I64(op ? market_id : courier_id),
                      str_or_null(status),
                      str_or_null(status),
                      DB_I64(after_id),
                      DB_I64(after_id),
                      DB_I64(limit)};
    return query_items(db,
                       op ? "SELECT " DCOLS DFROM " WHERE d.market_id = ?" LIST_TAIL
                          : "SELECT " DCOLS DFROM " WHERE d.courier_id = ?" LIST_TAIL,
                       p, 6, op, market_id, limit, items, next_cursor, len);
#undef LIST_TAIL
}

/* The courier's delivery locked: its status, version, order, locked flag, code, failures. */
static sf_status_t lock_own(db_t *db, answer_t *a, char *status, int64_t *version, int64_t *locked, char *code,
                            int64_t *failures)
{
    db_rows_t *rows = NULL;
    sf_status_t rc = db_query_row(db,
                                  "SELECT status, version, order_id, locked, code, code_failures FROM deliveries"
                                  " WHERE id = ? AND courier_id = ? FOR UPDATE",
                                  (db_param_t[]){DB_I64(a->delivery_id), DB_I64(a->courier_id)}, 2, &rows);
    if (rc == DB_NOROW)
        return SF_E_NOT_FOUND;
    if (rc != DB_OK)
        return rc;
    db_rows_copy(rows, 0, status, 16);
    *version = db_rows_i64(rows, 1);
    a->order_id = db_rows_i64(rows, 2);
    *locked = db_rows_i64(rows, 3);
    db_rows_copy(rows, 4, code, 5);
    *failures = db_rows_i64(rows, 5);
    db_rows_free(rows);
    return DB_OK;
}

/* Moves the locked delivery from → to with its version (to's timestamp set), plus the event
 * and the order's status. */
static sf_status_t move(db_t *db, answer_t *a, int64_t version, const char *from, const char *to)
{
    uint64_t n = 0;
    char actor[ACTOR_LEN];
    db_param_t p[] = {DB_STR(to), DB_STR(to), DB_STR(to), DB_I64(a->delivery_id), DB_I64(version), DB_STR(from)};
    sf_status_t rc = db_exec(db,
                             "UPDATE deliveries SET status = ?, version = version + 1,"
                             " picked_up_at = IF(? = 'picked_up', NOW(3), picked_up_at),"
                             " delivered_at = IF(? = 'delivered', NOW(3), delivered_at)"
                             " WHERE id = ? AND version = ? AND status = ?",
                             p, 6, &n, NULL);
    if (rc != DB_OK)
        return rc;
    if (n == 0)
        return SF_E_DELIVERY_STATE;
    actor_of(actor, "courier", a->courier_id);
    if ((rc = event(db, a->delivery_id, from, to, actor, NULL)) != DB_OK ||
        (rc = order_sync_status_tx(db, a->order_id, actor, NULL, 0)) != DB_OK)
        return rc;
    return render_one(db, a->market_id, a->courier_id, a->delivery_id, &a->out);
}

static sf_status_t pickup_tx(db_t *db, void *ctx)
{
    answer_t *a = ctx;
    char status[16], code[5], actor[ACTOR_LEN];
    int64_t version, locked, failures;
    db_rows_t *rows = NULL;
    answer_reset(a);
    sf_status_t rc = lock_own(db, a, status, &version, &locked, code, &failures);
    if (rc != DB_OK)
        return rc;
    if (strcmp(status, "assigned") != 0)
        return SF_E_DELIVERY_STATE;
    rc = db_query(db,
                  "SELECT id, status FROM vendor_orders WHERE order_id = ?"
                  " AND status NOT IN ('rejected', 'cancelled') ORDER BY id LIMIT 100 FOR UPDATE",
                  (db_param_t[]){DB_I64(a->order_id)}, 1, &rows);
    int64_t ids[100];
    size_t n = 0, ready = 0;
    while (rc == DB_OK && db_rows_next(rows) && n < 100) {
        ids[n++] = db_rows_i64(rows, 0);
        ready += strcmp(db_rows_str(rows, 1, NULL), "ready") == 0;
    }
    db_rows_free(rows);
    if (rc == DB_OK && (ready == 0 || ready != n))
        rc = SF_E_NOT_READY;
    actor_of(actor, "courier", a->courier_id);
    for (size_t i = 0; rc == DB_OK && i < n; i++)
        rc = vendor_order_transition_tx(db, ids[i], "ready", "handed_over", actor, NULL);
    if (rc != DB_OK)
        return rc;
    return move(db, a, version, "assigned", "picked_up");
}

sf_status_t delivery_pickup(db_t *db, int64_t courier_id, int64_t delivery_id, json_t **out, int64_t *order_id)
{
    answer_t a = {.courier_id = courier_id, .delivery_id = delivery_id};
    return run(db, pickup_tx, &a, out, order_id);
}

static sf_status_t deliver_tx(db_t *db, void *ctx)
{
    answer_t *a = ctx;
    char status[16], code[5] = "";
    int64_t version, locked, failures;
    uint64_t n = 0;
    answer_reset(a);
    sf_status_t rc = lock_own(db, a, status, &version, &locked, code, &failures);
    if (rc != DB_OK)
        return rc;
    if (locked)
        return SF_E_DELIVERY_LOCKED;
    if (strcmp(status, "picked_up") != 0)
        return SF_E_DELIVERY_STATE;
    if (strlen(a->code) == 4 && CRYPTO_memcmp(a->code, code, 4) == 0)
        return move(db, a, version, "picked_up", "delivered");
    /* wrong: counted and committed; the last allowed failure locks it for the operator */
    int lock = failures + 1 >= db->cfg->delivery_code_attempts;
    rc = db_exec(db,
                 "UPDATE deliveries SET code_failures = code_failures + 1, locked = ?, version = version + 1"
                 " WHERE id = ? AND version = ?",
                 (db_param_t[]){DB_I64(lock), DB_I64(a->delivery_id), DB_I64(version)}, 3, &n, NULL);
    if (rc == DB_OK && n == 0)
        rc = SF_E_DELIVERY_STATE;
    if (rc == DB_OK && lock) {
        db_rows_t *rows = NULL;
        rc = db_query_row(db, "SELECT market_id FROM deliveries WHERE id = ?", (db_param_t[]){DB_I64(a->delivery_id)},
                          1, &rows);
        if (rc == DB_OK)
            rc = alert_raise(db, db_rows_i64(rows, 0), ALERT_LOCKED, a->delivery_id, a->order_id,
                             "too many wrong delivery codes", NULL);
        db_rows_free(rows);
    }
    if (rc == DB_OK) {
        a->result = SF_E_WRONG_CODE;
        a->attempts_left = lock ? 0 : db->cfg->delivery_code_attempts - (failures + 1);
    }
    return rc;
}

sf_status_t delivery_deliver(db_t *db, int64_t courier_id, int64_t delivery_id, const char *code, status_detail_t *d,
                             json_t **out, int64_t *order_id)
{
    answer_t a = {.courier_id = courier_id, .delivery_id = delivery_id, .code = code};
    sf_status_t rc = run(db, deliver_tx, &a, out, order_id);
    if (rc == SF_E_WRONG_CODE)
        status_details(
            d, rc,
            json_pack("{s:I, s:b}", "attempts_left", (json_int_t)a.attempts_left, "locked", a.attempts_left == 0));
    return rc;
}

/* ================================================================ the operator's side */

sf_status_t delivery_unlock(db_t *db, int64_t market_id, int64_t delivery_id, json_t **out)
{
    uint64_t n = 0;
    db_rows_t *rows = NULL;
    *out = NULL;
    db_param_t p[] = {DB_I64(delivery_id), DB_I64(market_id)};
    sf_status_t rc = db_exec(db,
                             "UPDATE deliveries SET locked = 0, code_failures = 0, version = version + 1"
                             " WHERE id = ? AND market_id = ? AND locked = 1",
                             p, 2, &n, NULL);
    if (rc != DB_OK)
        return db_fail(rc);
    if (n == 0) {
        rc = db_query_row(db, "SELECT id FROM deliveries WHERE id = ? AND market_id = ?", p, 2, &rows);
        db_rows_free(rows);
        return rc == DB_OK ? SF_E_DELIVERY_STATE : rc == DB_NOROW ? SF_E_NOT_FOUND : db_fail(rc);
    }
    return render_one(db, market_id, 0, delivery_id, out);
}

/* ================================================================ the watchdog */

/* Raises kind, once, for every delivery `from_where` finds (FROM ... WHERE over deliveries d
 * not yet flagged with it); *raised grows by the new ones. Two statements: a plain read
 * (a consistent read: it locks nothing and waits for nothing), then one INSERT IGNORE of the
 * rows it found. Never an INSERT ... SELECT over the deliveries: under REPEATABLE READ that
 * takes a shared lock on every row it reads, so the watchdog held hundreds of deliveries
 * while it waited for one a courier held, and the couriers' pickups and deliveries queued
 * behind it past the request deadline (504 after 10 s under the load driver). */
static sf_status_t flag_all(db_t *db, const char *kind, const char *note, const char *from_where, int64_t seconds,
                            size_t *raised)
{
    char sql[768];
    uint64_t n = 0;
    db_rows_t *rows = NULL;
    json_t *found = json_array();
    char *text = NULL;
    snprintf(sql, sizeof(sql), "SELECT DISTINCT d.market_id, d.id, d.order_id %s LIMIT 500", from_where);
    sf_status_t rc =
        found != NULL ? db_query(db, sql, (db_param_t[]){DB_STR(kind), DB_I64(seconds)}, 2, &rows) : DB_ERR;
    while (rc == DB_OK && db_rows_next(rows))
        if (json_array_append_new(found,
                                  json_pack("[III]", (json_int_t)db_rows_i64(rows, 0), (json_int_t)db_rows_i64(rows, 1),
                                            (json_int_t)db_rows_i64(rows, 2))) != 0)
            rc = DB_ERR;
    if (rc == DB_OK && json_array_size(found) > 0 && (text = json_dumps(found, JSON_COMPACT)) == NULL)
        rc = DB_ERR;
    if (rc == DB_OK && text != NULL)
        rc = db_exec(db,
                     "INSERT IGNORE INTO fulfilment_alerts (market_id, kind, subject_id, order_id, note)"
                     " SELECT j.market_id, ?, j.id, j.order_id, ? FROM JSON_TABLE(?, '$[*]' COLUMNS ("
                     " market_id BIGINT PATH '$[0]', id BIGINT PATH '$[1]', order_id BIGINT PATH '$[2]')) j",
                     (db_param_t[]){DB_STR(kind), DB_STR(note), DB_STR(text)}, 3, &n, NULL);
    *raised += (size_t)n;
    free(text);
    json_decref(found);
    db_rows_free(rows);
    return rc;
}

/* Not flagged yet with the kind (the ? after the note). */
#define NOT_FLAGGED " LEFT JOIN fulfilment_alerts a ON a.kind = ? AND a.subject_id = d.id WHERE a.id IS NULL"

sf_status_t delivery_watch(db_t *db, size_t *raised)
{
    const config_t *cfg = db->cfg;
    *raised = 0;
    /* offers expired unanswered within the last day (older ones were seen by earlier runs) */
    sf_status_t rc = flag_all(db, ALERT_OFFER_EXPIRED, "an offer expired without an answer",
                              "FROM delivery_offers x JOIN deliveries d ON d.id = x.delivery_id" NOT_FLAGGED
                              " AND (x.status = 'expired' OR x.status = 'open') AND x.expires_at < NOW(3)"
                              " AND x.expires_at > NOW(3) - INTERVAL ? SECOND",
                              86400, raised);
    if (rc == DB_OK)
        rc = flag_all(db, ALERT_PICKUP_LATE, "assigned and not picked up in time",
                      "FROM deliveries d" NOT_FLAGGED " AND d.status = 'assigned'"
                      " AND d.assigned_at < NOW(3) - INTERVAL ? SECOND",
                      cfg->delivery_pickup_alert_s, raised);
    if (rc == DB_OK)
        rc = flag_all(db, ALERT_TRANSIT_LATE, "picked up and not delivered in time",
                      "FROM deliveries d" NOT_FLAGGED " AND d.status = 'picked_up'"
                      " AND d.picked_up_at < NOW(3) - INTERVAL ? SECOND",
                      cfg->delivery_transit_alert_s, raised);
    return rc;
}

sf_status_t delivery_counts(db_t *db, json_t **out)
{
    db_rows_t *rows = NULL;
    json_t *by = json_object();
    *out = NULL;
    for (size_t i = 0; by != NULL && statuses[i] != NULL; i++)
        json_object_set_new(by, statuses[i], json_integer(0));
    sf_status_t rc = by != NULL ? db_query(db,
                                           "SELECT status, COUNT(*), SUM(status = 'waiting' AND no_courier_tries > 0)"
                                           " FROM deliveries GROUP BY status",
                                           NULL, 0, &rows)
                                : DB_ERR;
    int64_t waiting = 0;
    while (rc == DB_OK && db_rows_next(rows)) {
        json_object_set_new(by, db_rows_str(rows, 0, NULL), json_integer(db_rows_i64(rows, 1)));
        waiting += db_rows_i64(rows, 2);
    }
    db_rows_free(rows);
    if (rc == DB_OK)
        *out = json_pack("{s:o, s:I}", "by_status", by, "waiting_no_courier", (json_int_t)waiting);
    else
        json_decref(by);
    return rc == DB_OK && *out == NULL ? DB_ERR : rc;
}
