/*
 * Live updates (see events.h): a party's capped Redis stream `events:<party>` and the
 * pub/sub notice of each entry, written together by one Lua script, so a subscriber never
 * hears of an entry the stream does not hold (nor the reverse).
 *
 * Threads: any thread, on its own db_t and redis_t (a handler's worker, a queue consumer).
 * Ownership: events_read's array is the caller's; everything else is freed here.
 *
 * Deliberately not done: retrying. An event that could not be emitted is lost to the fast
 * path only; the party's lists stay the truth, and the caller logs the failure.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/log.h"
#include "models/events.h"
#include "models/order.h"

#define KEY_MAX 64 /* "events:" + a party */

/* Vendor orders of one order read per call: one per stall of a cart, and a cart has at
 * most CART_MAX_LINES lines. */
#define VENDOR_ORDERS_MAX 100

/* An order emits to its consumer, its courier and one event per vendor order. */
#define ORDER_EVENTS_MAX (VENDOR_ORDERS_MAX + 2)

/* KEYS[1] the party's stream; ARGV: keep, type, data, channel, party. XADD then PUBLISH of
 * "<party>\n<id>\n<type>\n<data>"; the entry id back. One script: both or neither. */
static const char emit_lua[] =
    "local id = redis.call('XADD', KEYS[1], 'MAXLEN', '~', ARGV[1], '*', 'type', ARGV[2], 'data', ARGV[3])\n"
    "redis.call('PUBLISH', ARGV[4], ARGV[5] .. '\\n' .. id .. '\\n' .. ARGV[2] .. '\\n' .. ARGV[3])\n"
    "return id\n";

int events_party(char *buf, size_t len, const char *role, int64_t id)
{
    int n = snprintf(buf, len, "%s:%lld", role, (long long)id);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

/* A party or a type goes into the notice between newlines: none inside, and bounded. */
static int plain(const char *s, size_t max)
{
    size_t n = s != NULL ? strnlen(s, max) : max;
    return n > 0 && n < max && strchr(s, '\n') == NULL;
}

/* ---------------------------------------------------------------- emitting */

/* One emit as a command of a pipeline. The strings are the caller's until it ran. */
typedef struct emit_cmd {
    char key[KEY_MAX], keep[16];
    const char *argv[9];
    size_t lens[9];
    char *data; /* malloc'd by json_dumps */
} emit_cmd_t;

static int emit_prepare(emit_cmd_t *c, int keep, const char *party, const char *type, const json_t *data)
{
    memset(c, 0, sizeof(*c));
    if (!plain(party, EVENTS_PARTY_MAX) || !plain(type, EVENTS_TYPE_MAX) || !json_is_object(data))
        return -1;
    snprintf(c->key, sizeof(c->key), "events:%s", party);
    snprintf(c->keep, sizeof(c->keep), "%d", keep > 0 ? keep : 1);
    if ((c->data = json_dumps(data, JSON_COMPACT)) == NULL) /* one line: JSON escapes newlines */
        return -1;
    const char *argv[9] = {"EVAL", emit_lua, "1", c->key, c->keep, type, c->data, EVENTS_CHANNEL, party};
    for (int i = 0; i < 9; i++) {
        c->argv[i] = argv[i];
        c->lens[i] = strlen(argv[i]);
    }
    return 0;
}

/* The entry id of a script's reply into id (may be NULL). 0 or -1. */
static int emit_reply(redis_t *r, const redisReply *rep, char *id, size_t idlen)
{
    if (rep == NULL || rep->type != REDIS_REPLY_STRING || rep->len == 0 || rep->len >= EVENTS_ID_MAX) {
        snprintf(r->err, sizeof(r->err), "events: %s",
                 rep != NULL && rep->type == REDIS_REPLY_ERROR ? rep->str : "unexpected reply to the emit script");
        return -1;
    }
    if (id != NULL && idlen > 0)
        snprintf(id, idlen, "%s", rep->str);
    return 0;
}

int events_emit(redis_t *r, int keep, const char *party, const char *type, const json_t *data, char *id, size_t idlen)
{
    emit_cmd_t c;
    if (id != NULL && idlen > 0)
        id[0] = '\0';
    if (emit_prepare(&c, keep, party, type, data) != 0) {
        free(c.data);
        snprintf(r->err, sizeof(r->err), "events: a malformed party, type or data");
        return -1;
    }
    redisReply *rep = redis_cmdargv(r, 9, c.argv, c.lens);
    free(c.data);
    int rc = rep != NULL ? emit_reply(r, rep, id, idlen) : -1;
    if (rep != NULL)
        freeReplyObject(rep);
    return rc;
}

/* ---------------------------------------------------------------- an order's parties */

/* What one query reads of an order: the order, its vendor orders, its delivery. */
typedef struct order_view {
    int64_t id, consumer_id;
    char order_no[ORDER_NO_MAX];
    char status[ORDER_STATUS_NAME_MAX];
    int paid; /* paid_at set: vendors saw it */
    size_t nvo;
    struct {
        int64_t id, vendor_id;
        char status[ORDER_STATUS_NAME_MAX];
    } vo[VENDOR_ORDERS_MAX];
    int64_t delivery_id, courier_id;
    char delivery_status[ORDER_STATUS_NAME_MAX];
} order_view_t;

static int order_view(db_t *db, int64_t order_id, order_view_t *v)
{
    db_rows_t *rows = NULL;
    int rc = db_query(db,
                      "SELECT o.status, o.consumer_id, o.paid_at IS NOT NULL, vo.id, vo.vendor_id, vo.status,"
                      " d.id, d.status, d.courier_id, o.order_no"
                      " FROM orders o LEFT JOIN vendor_orders vo ON vo.order_id = o.id"
                      " LEFT JOIN deliveries d ON d.order_id = o.id"
                      " WHERE o.id = ? ORDER BY vo.id LIMIT ?",
                      (db_param_t[]){DB_I64(order_id), DB_I64(VENDOR_ORDERS_MAX)}, 2, &rows);
    memset(v, 0, sizeof(*v));
    v->id = order_id;
    while (rc == DB_OK && db_rows_next(rows)) {
        db_rows_copy(rows, 0, v->status, sizeof(v->status));
        v->consumer_id = db_rows_i64(rows, 1);
        v->paid = db_rows_i64(rows, 2) != 0;
        if (!db_rows_isnull(rows, 3)) {
            v->vo[v->nvo].id = db_rows_i64(rows, 3);
            v->vo[v->nvo].vendor_id = db_rows_i64(rows, 4);
            db_rows_copy(rows, 5, v->vo[v->nvo].status, sizeof(v->vo[v->nvo].status));
            v->nvo++;
        }
        v->delivery_id = db_rows_i64(rows, 6);
        db_rows_copy(rows, 7, v->delivery_status, sizeof(v->delivery_status));
        v->courier_id = db_rows_i64(rows, 8);
        db_rows_copy(rows, 9, v->order_no, sizeof(v->order_no));
    }
    if (rc == DB_OK && rows->nrows == 0)
        rc = DB_NOROW;
    db_rows_free(rows);
    return rc;
}

/* The events of an order as it is now: (party, type, data) into the arrays; how many. */
static size_t order_events(const order_view_t *v, char parties[][EVENTS_PARTY_MAX], const char **types, json_t **data)
{
    size_t n = 0;
    json_t *vos = json_array();
    for (size_t i = 0; i < v->nvo; i++) {
        json_array_append_new(vos, json_pack("{s:I, s:s}", "id", (json_int_t)v->vo[i].id, "status", v->vo[i].status));
        if (!v->paid) /* never paid: its vendors never saw it */
            continue;
        events_party(parties[n], EVENTS_PARTY_MAX, "vendor", v->vo[i].vendor_id);
        types[n] = strcmp(v->vo[i].status, "new") == 0 ? "vendor_order.new" : "vendor_order.changed";
        data[n++] =
            json_pack("{s:I, s:s, s:I, s:s, s:s}", "order_id", (json_int_t)v->id, "order_no", v->order_no,
                      "vendor_order_id", (json_int_t)v->vo[i].id, "status", v->vo[i].status, "order_status", v->status);
    }
    /* the consumer's event and the courier's each take a reference of their own (json_pack's
     * "o" drops it even when packing fails) */
    if (v->courier_id > 0)
        json_incref(vos);
    events_party(parties[n], EVENTS_PARTY_MAX, "consumer", v->consumer_id);
    types[n] = "order.changed";
    data[n++] =
        json_pack("{s:I, s:s, s:s, s:s?, s:o}", "order_id", (json_int_t)v->id, "order_no", v->order_no, "status",
                  v->status, "delivery_status", v->delivery_id > 0 ? v->delivery_status : NULL, "vendor_orders", vos);
    if (v->courier_id > 0) {
        events_party(parties[n], EVENTS_PARTY_MAX, "courier", v->courier_id);
        types[n] = "delivery.changed";
        data[n++] =
            json_pack("{s:I, s:I, s:s, s:s, s:o}", "delivery_id", (json_int_t)v->delivery_id, "order_id",
                      (json_int_t)v->id, "order_no", v->order_no, "status", v->delivery_status, "vendor_orders", vos);
    }
    return n;
}

/* Emits n prepared events in one pipelined round trip. 0 or -1 (r->err). */
static int emit_all(redis_t *r, emit_cmd_t *cmds, size_t n)
{
    redis_argv_t argv[ORDER_EVENTS_MAX] = {{0}};
    redisReply *replies[ORDER_EVENTS_MAX];
    for (size_t i = 0; i < n; i++)
        argv[i] = (redis_argv_t){9, cmds[i].argv, cmds[i].lens};
    if (redis_pipeline(r, n, argv, replies) != 0)
        return -1;
    int rc = 0;
    for (size_t i = 0; i < n; i++) {
        if (emit_reply(r, replies[i], NULL, 0) != 0)
            rc = -1;
        freeReplyObject(replies[i]);
    }
    return rc;
}

int events_emit_all(redis_t *r, int keep, const events_out_t *ev, size_t n)
{
    emit_cmd_t cmds[ORDER_EVENTS_MAX];
    int rc = 0;
    for (size_t at = 0; rc == 0 && at < n; at += ORDER_EVENTS_MAX) {
        size_t k = 0, chunk = n - at < ORDER_EVENTS_MAX ? n - at : ORDER_EVENTS_MAX;
        for (; rc == 0 && k < chunk; k++) {
            const events_out_t *e = &ev[at + k];
            if (emit_prepare(&cmds[k], keep, e->party, e->type, e->data) != 0) {
                snprintf(r->err, sizeof(r->err), "events: a malformed party, type or data");
                rc = -1;
            }
        }
        if (rc == 0)
            rc = emit_all(r, cmds, chunk);
        for (size_t i = 0; i < k; i++)
            free(cmds[i].data);
    }
    return rc;
}

int events_order_changed(db_t *db, redis_t *r, int keep, int64_t order_id)
{
    order_view_t v; /* ~3.5 KB */
    char parties[ORDER_EVENTS_MAX][EVENTS_PARTY_MAX];
    const char *types[ORDER_EVENTS_MAX];
    json_t *data[ORDER_EVENTS_MAX] = {0};
    emit_cmd_t *cmds = NULL;
    size_t n = 0;
    int rc = -1;
    int st = order_view(db, order_id, &v);
    if (st != DB_OK) {
        snprintf(r->err, sizeof(r->err), "events: order %" PRId64 ": %.100s", order_id,
                 st == DB_NOROW ? "no such order" : db->err);
        return -1;
    }
    n = order_events(&v, parties, types, data);
    if ((cmds = calloc(n, sizeof(*cmds))) == NULL)
        goto out;
    for (size_t i = 0; i < n; i++)
        if (data[i] == NULL || emit_prepare(&cmds[i], keep, parties[i], types[i], data[i]) != 0) {
            snprintf(r->err, sizeof(r->err), "events: order %" PRId64 ": out of memory", order_id);
            goto out;
        }
    rc = emit_all(r, cmds, n);
out:
    for (size_t i = 0; i < n; i++) {
        json_decref(data[i]);
        if (cmds != NULL)
            free(cmds[i].data);
    }
    free(cmds);
    return rc;
}

/* ---------------------------------------------------------------- reading */

/* One XRANGE entry [id, [field, value, ...]] as {id, type, data}, or NULL. */
static json_t *entry_doc(const redisReply *e)
{
    if (e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[1]->type != REDIS_REPLY_ARRAY)
        return NULL;
    const redisReply *f = e->element[1];
    const char *type = NULL;
    json_t *data = NULL;
    for (size_t i = 0; i + 1 < f->elements; i += 2) {
        const redisReply *k = f->element[i], *val = f->element[i + 1];
        if (k->type != REDIS_REPLY_STRING || val->type != REDIS_REPLY_STRING)
            continue;
        if (strcmp(k->str, "type") == 0)
            type = val->str;
        else if (strcmp(k->str, "data") == 0 && data == NULL)
            data = json_loadb(val->str, val->len, 0, NULL);
    }
    if (type == NULL || !json_is_object(data)) {
        json_decref(data);
        return NULL;
    }
    return json_pack("{s:s, s:s, s:o}", "id", e->element[0]->str, "type", type, "data", data);
}

int events_read(redis_t *r, const char *party, const char *after, int from_start, size_t max, json_t **out)
{
    char key[KEY_MAX], start[EVENTS_ID_MAX + 1], count[24];
    *out = json_array();
    if (*out == NULL || !plain(party, EVENTS_PARTY_MAX))
        goto fail;
    int have_after = after != NULL && after[0] != '\0';
    if ((!have_after && !from_start) || max == 0)
        return 0;
    if (have_after && strlen(after) >= EVENTS_ID_MAX)
        goto fail;
    snprintf(key, sizeof(key), "events:%s", party);
    if (have_after) /* "(": an exclusive start (Redis >= 6.2) */
        snprintf(start, sizeof(start), "(%s", after);
    else
        snprintf(start, sizeof(start), "-");
    snprintf(count, sizeof(count), "%zu", max);
    const char *argv[] = {"XRANGE", key, start, "+", "COUNT", count};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = redis_cmdargv(r, 6, argv, lens);
    if (rep == NULL)
        goto fail;
    if (rep->type != REDIS_REPLY_ARRAY) {
        snprintf(r->err, sizeof(r->err), "events: XRANGE: %s", rep->type == REDIS_REPLY_ERROR ? rep->str : "?");
        freeReplyObject(rep);
        goto fail;
    }
    for (size_t i = 0; i < rep->elements; i++) {
        json_t *doc = entry_doc(rep->element[i]);
        if (doc != NULL) /* an entry not of ours (written by hand) is skipped */
            json_array_append_new(*out, doc);
    }
    freeReplyObject(rep);
    return 0;
fail:
    json_decref(*out);
    *out = NULL;
    return -1;
}

int events_newest(redis_t *r, const char *party, char *id, size_t idlen)
{
    char key[KEY_MAX];
    if (idlen == 0 || !plain(party, EVENTS_PARTY_MAX))
        return -1;
    id[0] = '\0';
    snprintf(key, sizeof(key), "events:%s", party);
    const char *argv[] = {"XREVRANGE", key, "+", "-", "COUNT", "1"};
    size_t lens[6];
    for (int i = 0; i < 6; i++)
        lens[i] = strlen(argv[i]);
    redisReply *rep = redis_cmdargv(r, 6, argv, lens);
    if (rep == NULL)
        return -1;
    int rc = rep->type == REDIS_REPLY_ARRAY ? 0 : -1;
    if (rc == 0 && rep->elements == 1 && rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 2 &&
        rep->element[0]->element[0]->type == REDIS_REPLY_STRING)
        snprintf(id, idlen, "%s", rep->element[0]->element[0]->str);
    freeReplyObject(rep);
    return rc;
}
