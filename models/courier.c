/*
 * Couriers (see courier.h): one transaction (db_tx) writes the courier row and its user, so a
 * taken username leaves no courier behind. Worker threads; uses only the db_t it is given.
 */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/base/sqltime.h"
#include "models/courier.h"
#include "models/outbox.h"
#include "models/store/redis.h"
#include "models/user.h"

/* A failed statement: a lost connection or a deadlock passes on as it is (db_tx runs the
 * transaction again); anything else is an internal failure. */
static sf_status_t db_fail(sf_status_t rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK ? rc : SF_E_INTERNAL;
}

typedef struct create {
    int64_t market_id;
    const courier_new_t *c;
    status_detail_t *d;
    json_t *out;
} create_t;

/* The writes, inside the transaction. */
static sf_status_t create_rows(db_t *db, int64_t market_id, const courier_new_t *c, int64_t *courier_id,
                               int64_t *user_id, status_detail_t *d)
{
    uint64_t id = 0;
    db_param_t p[] = {DB_I64(market_id), DB_STR(c->name), DB_STR(c->phone)};
    sf_status_t rc = db_exec(db, "INSERT INTO couriers (market_id, name, phone) VALUES (?, ?, ?)", p, 3, NULL, &id);
    if (rc != DB_OK)
        return db_fail(rc);
    *courier_id = (int64_t)id;
    user_new_t u = {
        .role = "courier",
        .market_id = market_id,
        .username = c->username,
        .password = c->password,
        .display_name = c->name, /* both are at most 64 characters */
        .courier_id = *courier_id,
    };
    rc = user_create(db, &u, user_id);
    if (rc == DB_DUP)
        return status_field(d, SF_E_USERNAME_TAKEN, "username", NULL);
    return rc == DB_OK ? SF_OK : db_fail(rc);
}

/* The transaction: the answer is made before the commit, so out of memory writes nothing. */
static sf_status_t create_tx(db_t *db, void *ctx)
{
    create_t *k = ctx;
    int64_t courier_id = 0, user_id = 0;
    json_decref(k->out);
    k->out = NULL;
    sf_status_t rc = create_rows(db, k->market_id, k->c, &courier_id, &user_id, k->d);
    if (rc != SF_OK)
        return rc;
    k->out = json_pack("{s:I, s:I, s:s, s:s, s:s, s:I, s:s}", "id", (json_int_t)courier_id, "market_id",
                       (json_int_t)k->market_id, "name", k->c->name, "phone", k->c->phone, "status", "active",
                       "user_id", (json_int_t)user_id, "username", k->c->username);
    return k->out != NULL ? SF_OK : SF_E_INTERNAL;
}

sf_status_t courier_create(db_t *db, int64_t market_id, const courier_new_t *c, json_t **out, status_detail_t *d)
{
    create_t k = {.market_id = market_id, .c = c, .d = d};
    sf_status_t rc = db_tx(db, create_tx, &k);
    if (rc != SF_OK) {
        json_decref(k.out);
        k.out = NULL;
    }
    *out = k.out;
    return rc;
}

static json_t *list_json(const db_rows_t *rows)
{
    size_t nlen, plen, slen;
    const char *n = db_rows_str(rows, 1, &nlen), *p = db_rows_str(rows, 2, &plen), *s = db_rows_str(rows, 3, &slen);
    return json_pack("{s:I, s:s#, s:s#, s:s#}", "id", (json_int_t)db_rows_i64(rows, 0), "name", n != NULL ? n : "",
                     n != NULL ? nlen : 0, "phone", p != NULL ? p : "", p != NULL ? plen : 0, "status",
                     s != NULL ? s : "", s != NULL ? slen : 0);
}

sf_status_t courier_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items,
                         int64_t *next_after)
{
    db_rows_t *rows = NULL;
    size_t n = 0;
    int64_t last = 0;
    db_param_t p[] = {DB_I64(market_id), DB_I64(after_id), DB_I64((int64_t)limit + 1)};
    *next_after = 0;
    *items = json_array();
    if (*items == NULL)
        return SF_E_INTERNAL;
    sf_status_t rc = db_query(db,
                              "SELECT id, name, phone, status FROM couriers WHERE market_id = ? AND id > ?"
                              " ORDER BY id LIMIT ?",
                              p, 3, &rows);
    if (rc != DB_OK) {
        rc = db_fail(rc);
        goto out;
    }
    while (rc == SF_OK && db_rows_next(rows)) {
        if (n++ == limit) { /* one more row than asked: another page follows */
            *next_after = last;
            break;
        }
        json_t *v = list_json(rows);
        last = db_rows_i64(rows, 0);
        if (v == NULL || json_array_append_new(*items, v) != 0)
            rc = SF_E_INTERNAL;
    }
out:
    db_rows_free(rows);
    if (rc != SF_OK) {
        json_decref(*items);
        *items = NULL;
    }
    return rc;
}

/* ================================================================ shifts and positions */

static void key_of(char *buf, size_t len, const char *fmt, int64_t market_id)
{
    snprintf(buf, len, fmt, (long long)market_id);
}

/* EVAL script with the two keys of the market and args. The reply (caller frees) or NULL. */
static redisReply *eval2(redis_t *r, const char *script, int64_t market_id, const char *const *args, size_t nargs)
{
    char geo[64], hb[64];
    const char *argv[12];
    size_t lens[12], n = 0;
    key_of(geo, sizeof(geo), COURIER_GEO_KEY, market_id);
    key_of(hb, sizeof(hb), COURIER_HB_KEY, market_id);
    argv[n++] = "EVAL";
    argv[n++] = script;
    argv[n++] = "2";
    argv[n++] = geo;
    argv[n++] = hb;
    for (size_t i = 0; i < nargs && n < 12; i++)
        argv[n++] = args[i];
    for (size_t i = 0; i < n; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = redis_cmdargv(r, (int)n, argv, lens);
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR) {
        snprintf(r->err, sizeof(r->err), "%.150s", rep->str);
        freeReplyObject(rep);
        return NULL;
    }
    return rep;
}

static int64_t wall_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static const char forget_lua[] = "redis.call('ZREM', KEYS[1], ARGV[1]) redis.call('ZREM', KEYS[2], ARGV[1]) return 1";

static const char locate_lua[] = "redis.call('GEOADD', KEYS[1], ARGV[2], ARGV[3], ARGV[1])"
                                 " redis.call('ZADD', KEYS[2], ARGV[4], ARGV[1]) return 1";

/* Couriers within ARGV[3] m of (ARGV[1] lng, ARGV[2] lat) whose heartbeat is at least
 * ARGV[4] (ms), nearest first: a flat [id, dist, id, dist ...], at most ARGV[5]. */
static const char nearby_lua[] =
    "local out = {} local found = redis.call('GEOSEARCH', KEYS[1], 'FROMLONLAT', ARGV[1], ARGV[2],"
    " 'BYRADIUS', ARGV[3], 'm', 'ASC', 'WITHDIST')"
    " for _, e in ipairs(found) do local hb = redis.call('ZSCORE', KEYS[2], e[1])"
    " if hb and tonumber(hb) >= tonumber(ARGV[4]) then out[#out + 1] = e[1] out[#out + 1] = e[2]"
    " if #out >= 2 * tonumber(ARGV[5]) then break end end end return out";

/* The courier's position and the time of it: {lng, lat, heartbeat ms ('' if none)}, or an
 * empty array when the courier has no position. */
static const char where_lua[] = "local p = redis.call('GEOPOS', KEYS[1], ARGV[1])[1]"
                                " if not p then return {} end"
                                " return {p[1], p[2], redis.call('ZSCORE', KEYS[2], ARGV[1]) or ''}";

typedef struct shift {
    int64_t market_id, courier_id;
    int on;
    size_t withdrawn;
    char now[32];   /* NOW(3) as MariaDB writes it, for the row */
    char since[40]; /* the same at +08:00, for the answer */
} shift_t;

#define SHIFT_BATCH 100 /* open offers withdrawn per statement when a courier goes off shift */

/* Withdraws up to SHIFT_BATCH of the courier's open offers, each delivery asked of the next
 * courier at once (an outbox row for the dispatcher, as a refusal). The deliveries are locked
 * first, as the dispatcher and an accept lock them. *n how many. */
static sf_status_t withdraw_batch(db_t *db, int64_t courier_id, size_t *n)
{
    db_rows_t *rows = NULL;
    *n = 0;
    sf_status_t rc =
        db_query(db,
                 "SELECT d.id, d.market_id FROM deliveries d JOIN delivery_offers x ON x.delivery_id = d.id"
                 " WHERE x.courier_id = ? AND x.status = 'open' ORDER BY d.id LIMIT ? FOR UPDATE",
                 (db_param_t[]){DB_I64(courier_id), DB_I64(SHIFT_BATCH)}, 2, &rows);
    while (rc == DB_OK && db_rows_next(rows)) {
        int64_t id = db_rows_i64(rows, 0);
        json_t *payload = json_pack("{s:I}", "delivery_id", (json_int_t)id);
        if ((rc = db_exec(db, "UPDATE deliveries SET version = version + 1, next_try_at = NOW(3) WHERE id = ?",
                          (db_param_t[]){DB_I64(id)}, 1, NULL, NULL)) == DB_OK &&
            (rc = db_exec(db,
                          "UPDATE delivery_offers SET status = 'withdrawn', answered_at = NOW(3)"
                          " WHERE delivery_id = ? AND courier_id = ? AND status = 'open'",
                          (db_param_t[]){DB_I64(id), DB_I64(courier_id)}, 2, NULL, NULL)) == DB_OK)
            rc = payload != NULL ? outbox_add(db, db_rows_i64(rows, 1), COURIER_REDRIVE_TOPIC, payload, NULL) : DB_ERR;
        json_decref(payload);
        (*n)++;
    }
    db_rows_free(rows);
    return rc;
}

/* The shift's row. Going off also withdraws every open offer of the courier: the deliveries
 * first, the courier's row last, the order an accept takes them in (delivery, then courier). */
static sf_status_t shift_tx(db_t *db, void *ctx)
{
    shift_t *k = ctx;
    size_t n = 0;
    db_rows_t *rows = NULL;
    k->withdrawn = 0;
    db_param_t p[] = {DB_I64(k->on ? 1 : 0), DB_NULL, DB_I64(k->courier_id), DB_I64(k->market_id)};
    sf_status_t rc =
        db_query_row(db,
                     "SELECT NOW(3), " SQL_AT_0800("NOW(3)") " FROM couriers"
                                                             " WHERE id = ? AND market_id = ? AND status = 'active'",
                     p + 2, 2, &rows);
    if (rc == DB_OK) {
        db_rows_copy(rows, 0, k->now, sizeof(k->now));
        db_rows_copy(rows, 1, k->since, sizeof(k->since));
        p[1] = DB_STR(k->now);
    }
    db_rows_free(rows);
    if (rc == DB_NOROW)
        return SF_E_NOT_FOUND;
    do {
        if (rc == DB_OK && !k->on && (rc = withdraw_batch(db, k->courier_id, &n)) == DB_OK)
            k->withdrawn += n;
    } while (rc == DB_OK && !k->on && n == SHIFT_BATCH);
    if (rc == DB_OK)
        rc = db_exec(db, "UPDATE couriers SET on_shift = ?, shift_changed_at = ? WHERE id = ? AND market_id = ?", p, 4,
                     NULL, NULL);
    return rc;
}

static json_t *coord(double v);

/* Adds lat, lng and location_at (when the heartbeat is known) to the shift from Redis, in
 * one script; nothing when the courier has no position. 0, or -1 when Redis failed. */
static int add_position(redis_t *r, int64_t market_id, int64_t courier_id, json_t *doc)
{
    char id[24], at[40];
    snprintf(id, sizeof(id), "%lld", (long long)courier_id);
    const char *args[] = {id};
    redisReply *rep = eval2(r, where_lua, market_id, args, 1);
    if (rep == NULL)
        return -1;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 3 && rep->element[0]->type == REDIS_REPLY_STRING &&
        rep->element[1]->type == REDIS_REPLY_STRING) {
        json_object_set_new(doc, "lng", coord(strtod(rep->element[0]->str, NULL)));
        json_object_set_new(doc, "lat", coord(strtod(rep->element[1]->str, NULL)));
        if (rep->element[2]->type == REDIS_REPLY_STRING && rep->element[2]->len > 0) {
            sqltime_ms_0800(strtoll(rep->element[2]->str, NULL, 10), at, sizeof(at));
            json_object_set_new(doc, "location_at", json_string(at));
        }
    }
    freeReplyObject(rep);
    return 0;
}

/* The shift as both routes answer it: {id, on, on_shift, since?} (since absent when the
 * shift never changed), with the position when on. NULL out of memory. */
static json_t *shift_doc(int64_t courier_id, int on, const char *since)
{
    json_t *doc = json_pack("{s:I, s:b, s:b}", "id", (json_int_t)courier_id, "on", on != 0, "on_shift", on != 0);
    if (doc != NULL && since != NULL && since[0] != '\0' &&
        json_object_set_new(doc, "since", json_string(since)) != 0) {
        json_decref(doc);
        doc = NULL;
    }
    return doc;
}

sf_status_t courier_shift_get(db_t *db, redis_t *r, int64_t market_id, int64_t courier_id, json_t **out)
{
    db_rows_t *rows = NULL;
    *out = NULL;
    sf_status_t rc = db_query_row(
        db,
        "SELECT on_shift, " SQL_AT_0800("shift_changed_at") " FROM couriers"
                                                            " WHERE id = ? AND market_id = ? AND status = 'active'",
        (db_param_t[]){DB_I64(courier_id), DB_I64(market_id)}, 2, &rows);
    if (rc == DB_NOROW)
        return SF_E_NOT_FOUND;
    if (rc != DB_OK)
        return db_fail(rc);
    int on = db_rows_i64(rows, 0) != 0;
    json_t *doc = shift_doc(courier_id, on, db_rows_str(rows, 1, NULL));
    db_rows_free(rows);
    if (doc == NULL)
        return SF_E_INTERNAL;
    if (on && add_position(r, market_id, courier_id, doc) != 0) {
        json_decref(doc);
        return SF_E_UNAVAILABLE;
    }
    *out = doc;
    return SF_OK;
}

sf_status_t courier_set_shift(db_t *db, redis_t *r, int64_t market_id, int64_t courier_id, int on, json_t **out)
{
    shift_t k = {.market_id = market_id, .courier_id = courier_id, .on = on};
    *out = NULL;
    sf_status_t rc = db_tx(db, shift_tx, &k);
    if (rc != SF_OK)
        return rc == SF_E_NOT_FOUND || rc == DB_GONE || rc == DB_DEADLOCK ? rc : db_fail(rc);
    if (!on) {
        char id[24];
        snprintf(id, sizeof(id), "%lld", (long long)courier_id);
        const char *args[] = {id};
        redisReply *rep = eval2(r, forget_lua, market_id, args, 1);
        if (rep == NULL)
            return SF_E_UNAVAILABLE;
        freeReplyObject(rep);
    }
    json_t *doc = shift_doc(courier_id, on, k.since);
    if (doc == NULL || json_object_set_new(doc, "offers_withdrawn", json_integer((json_int_t)k.withdrawn)) != 0) {
        json_decref(doc);
        return SF_E_INTERNAL;
    }
    if (on && add_position(r, market_id, courier_id, doc) != 0) { /* on again while on: where it was */
        json_decref(doc);
        return SF_E_UNAVAILABLE;
    }
    *out = doc;
    return SF_OK;
}

sf_status_t courier_locate(db_t *db, redis_t *r, int64_t market_id, int64_t courier_id, double lat, double lng,
                           courier_held_t *held, size_t *nheld)
{
    db_rows_t *rows = NULL;
    *nheld = 0;
    db_param_t p[] = {DB_I64(courier_id), DB_I64(market_id), DB_I64(COURIER_HELD_MAX)};
    sf_status_t rc = db_query(db,
                              "SELECT c.on_shift, d.id, d.order_id, o.consumer_id FROM couriers c"
                              " LEFT JOIN deliveries d ON d.courier_id = c.id AND d.status IN ('assigned', 'picked_up')"
                              " LEFT JOIN orders o ON o.id = d.order_id"
                              " WHERE c.id = ? AND c.market_id = ? AND c.status = 'active' ORDER BY d.id LIMIT ?",
                              p, 3, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    int on = -1;
    while (db_rows_next(rows)) {
        on = (int)db_rows_i64(rows, 0);
        if (!db_rows_isnull(rows, 1) && *nheld < COURIER_HELD_MAX)
            held[(*nheld)++] = (courier_held_t){db_rows_i64(rows, 1), db_rows_i64(rows, 2), db_rows_i64(rows, 3)};
    }
    db_rows_free(rows);
    if (on < 0)
        return SF_E_NOT_FOUND;
    if (on == 0)
        return SF_E_OFF_SHIFT;
    char id[24], slat[32], slng[32], now[24];
    snprintf(id, sizeof(id), "%lld", (long long)courier_id);
    snprintf(slat, sizeof(slat), "%.6f", lat);
    snprintf(slng, sizeof(slng), "%.6f", lng);
    snprintf(now, sizeof(now), "%lld", (long long)wall_ms());
    const char *args[] = {id, slng, slat, now};
    redisReply *rep = eval2(r, locate_lua, market_id, args, 4);
    if (rep == NULL)
        return SF_E_UNAVAILABLE;
    freeReplyObject(rep);
    return SF_OK;
}

/* The Redis half of courier_candidates: up to max couriers near (lat, lng) heard from lately. */
static int nearby(redis_t *r, int64_t market_id, double lat, double lng, courier_candidate_t *out, size_t max,
                  size_t *n)
{
    char slat[32], slng[32], radius[24], since[24], smax[16];
    const config_t *cfg = r->cfg;
    *n = 0;
    snprintf(slat, sizeof(slat), "%.6f", lat);
    snprintf(slng, sizeof(slng), "%.6f", lng);
    snprintf(radius, sizeof(radius), "%d", cfg->dispatch_radius_m);
    snprintf(since, sizeof(since), "%lld", (long long)(wall_ms() - (int64_t)cfg->courier_heartbeat_s * 1000));
    snprintf(smax, sizeof(smax), "%zu", max);
    const char *args[] = {slng, slat, radius, since, smax};
    redisReply *rep = eval2(r, nearby_lua, market_id, args, 5);
    if (rep == NULL)
        return -1;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i + 1 < rep->elements && *n < max; i += 2) {
        const redisReply *id = rep->element[i], *dist = rep->element[i + 1];
        if (id->type != REDIS_REPLY_STRING || dist->type != REDIS_REPLY_STRING)
            continue;
        int64_t cid = strtoll(id->str, NULL, 10);
        if (cid > 0)
            out[(*n)++] = (courier_candidate_t){.id = cid, .distance_m = (int64_t)llround(strtod(dist->str, NULL))};
    }
    freeReplyObject(rep);
    return 0;
}

static int by_merit(const void *a, const void *b)
{
    const courier_candidate_t *x = a, *y = b;
    int64_t bx = x->distance_m / COURIER_BAND_M, by = y->distance_m / COURIER_BAND_M;
    if (bx != by)
        return bx < by ? -1 : 1;
    if (x->load != y->load)
        return x->load < y->load ? -1 : 1;
    if (x->idle_key != y->idle_key)
        return x->idle_key < y->idle_key ? -1 : 1;
    return x->distance_m < y->distance_m ? -1 : x->distance_m > y->distance_m;
}

/* The MariaDB half: keeps those on shift, active, of the market (and never offered this
 * delivery), with their load and last offer; in the fixed-size IN list unused slots are 0.
 * Each figure is index dives, whatever a courier's history: the load two equality lookups of
 * ix_deliveries_courier (an IN list there read all of the courier's deliveries), the last
 * offer the last entry of ix_offers_courier_time (sql/0008; a MAX() in a correlated
 * subquery read them all). */
#define CAND_SQL                                                                                                       \
    "SELECT c.id, (SELECT COUNT(*) FROM deliveries d WHERE d.courier_id = c.id AND d.status = 'assigned')"             \
    " + (SELECT COUNT(*) FROM deliveries d WHERE d.courier_id = c.id AND d.status = 'picked_up'),"                     \
    " COALESCE(FLOOR(UNIX_TIMESTAMP((SELECT o.offered_at FROM delivery_offers o WHERE o.courier_id = c.id"             \
    " ORDER BY o.offered_at DESC LIMIT 1)) * 1000), 0)"                                                                \
    " FROM couriers c WHERE c.market_id = ? AND c.on_shift = 1 AND c.status = 'active'"                                \
    " AND (? = 0 OR NOT EXISTS (SELECT 1 FROM delivery_offers x WHERE x.delivery_id = ? AND x.courier_id = c.id))"     \
    " AND c.id IN (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)"

sf_status_t courier_candidates(db_t *db, redis_t *r, int64_t market_id, int64_t delivery_id, int exclude_offered,
                               courier_candidate_t *out, size_t max, size_t *n)
{
    courier_candidate_t near[COURIER_CANDIDATES_MAX];
    size_t nnear = 0;
    db_rows_t *rows = NULL;
    *n = 0;
    if (max > COURIER_CANDIDATES_MAX)
        max = COURIER_CANDIDATES_MAX;
    sf_status_t rc =
        db_query_row(db, "SELECT lat, lng FROM markets WHERE id = ?", (db_param_t[]){DB_I64(market_id)}, 1, &rows);
    if (rc != DB_OK)
        return rc == DB_NOROW ? SF_E_NOT_FOUND : db_fail(rc);
    double lat = strtod(db_rows_str(rows, 0, NULL), NULL), lng = strtod(db_rows_str(rows, 1, NULL), NULL);
    db_rows_free(rows);
    rows = NULL;
    if (nearby(r, market_id, lat, lng, near, COURIER_CANDIDATES_MAX, &nnear) != 0)
        return SF_E_UNAVAILABLE;
    if (nnear == 0)
        return SF_OK;
    db_param_t p[3 + COURIER_CANDIDATES_MAX];
    p[0] = DB_I64(market_id);
    p[1] = DB_I64(exclude_offered ? 1 : 0);
    p[2] = DB_I64(delivery_id);
    for (size_t i = 0; i < COURIER_CANDIDATES_MAX; i++)
        p[3 + i] = DB_I64(i < nnear ? near[i].id : 0);
    rc = db_query(db, CAND_SQL, p, 3 + COURIER_CANDIDATES_MAX, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    courier_candidate_t keep[COURIER_CANDIDATES_MAX];
    size_t nkeep = 0;
    while (db_rows_next(rows)) {
        int64_t id = db_rows_i64(rows, 0);
        for (size_t i = 0; i < nnear && nkeep < COURIER_CANDIDATES_MAX; i++)
            if (near[i].id == id) {
                keep[nkeep] = near[i];
                keep[nkeep].load = db_rows_i64(rows, 1);
                keep[nkeep++].idle_key = db_rows_i64(rows, 2);
                break;
            }
    }
    db_rows_free(rows);
    qsort(keep, nkeep, sizeof(*keep), by_merit);
    for (size_t i = 0; i < nkeep && *n < max; i++)
        out[(*n)++] = keep[i];
    return SF_OK;
}

/* The position in a GEOPOS reply of one member: 1 (and lat, lng), or 0 when it has none. */
static int geopos_of(const redisReply *rep, double *lat, double *lng)
{
    if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 1 ||
        rep->element[0]->type != REDIS_REPLY_ARRAY || rep->element[0]->elements != 2 ||
        rep->element[0]->element[0]->type != REDIS_REPLY_STRING ||
        rep->element[0]->element[1]->type != REDIS_REPLY_STRING)
        return 0;
    *lng = strtod(rep->element[0]->element[0]->str, NULL);
    *lat = strtod(rep->element[0]->element[1]->str, NULL);
    return 1;
}

int courier_position(redis_t *r, int64_t market_id, int64_t courier_id, double *lat, double *lng)
{
    char geo[64], id[24];
    key_of(geo, sizeof(geo), COURIER_GEO_KEY, market_id);
    snprintf(id, sizeof(id), "%lld", (long long)courier_id);
    redisReply *rep = redis_cmd(r, "GEOPOS %s %s", geo, id);
    if (rep == NULL)
        return -1;
    int found = geopos_of(rep, lat, lng);
    freeReplyObject(rep);
    return found;
}

/* Rounds to 6 places, as addresses are stored. */
static json_t *coord(double v)
{
    return json_real(round(v * 1e6) / 1e6);
}

/* The courier object of an order's delivery while a courier carries it, else NULL. */
static json_t *carried_by(json_t *order)
{
    json_t *delivery = json_object_get(order, "delivery"), *courier = json_object_get(delivery, "courier");
    const char *status = json_string_value(json_object_get(delivery, "status"));
    if (!json_is_object(courier) || status == NULL ||
        (strcmp(status, "assigned") != 0 && strcmp(status, "picked_up") != 0))
        return NULL;
    return courier;
}

/* One GEOPOS: every order of the page carried now, in one pipelined round trip. */
#define FILL_MAX 100 /* a page of orders */

void courier_fill_positions(redis_t *r, json_t *orders)
{
    json_t *courier[FILL_MAX];
    char geo[FILL_MAX][64], id[FILL_MAX][24];
    const char *argv[FILL_MAX][3];
    size_t lens[FILL_MAX][3], n = 0, count = json_is_array(orders) ? json_array_size(orders) : 1;
    redis_argv_t cmds[FILL_MAX];
    redisReply *rep[FILL_MAX];
    for (size_t i = 0; i < count && n < FILL_MAX; i++) {
        json_t *order = json_is_array(orders) ? json_array_get(orders, i) : orders;
        if ((courier[n] = carried_by(order)) == NULL)
            continue;
        key_of(geo[n], sizeof(geo[n]), COURIER_GEO_KEY, json_integer_value(json_object_get(order, "market_id")));
        snprintf(id[n], sizeof(id[n]), "%lld", (long long)json_integer_value(json_object_get(courier[n], "id")));
        const char *a[3] = {"GEOPOS", geo[n], id[n]};
        for (int k = 0; k < 3; k++) {
            argv[n][k] = a[k];
            lens[n][k] = strlen(a[k]);
        }
        cmds[n] = (redis_argv_t){3, argv[n], lens[n]};
        n++;
    }
    if (n == 0 || redis_pipeline(r, n, cmds, rep) != 0)
        return; /* a Redis failure leaves the positions null */
    for (size_t i = 0; i < n; i++) {
        double lat, lng;
        if (geopos_of(rep[i], &lat, &lng)) {
            json_object_set_new(courier[i], "lat", coord(lat));
            json_object_set_new(courier[i], "lng", coord(lng));
        }
        freeReplyObject(rep[i]);
    }
}
