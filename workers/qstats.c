/*
 * Queue statistics (see qstats.h). SCAN ... TYPE stream finds the streams; XINFO GROUPS
 * gives each group's pending count; its lag is counted with XRANGE after the group's
 * last-delivered-id (see undelivered()), Redis's own lag used only past that count. Text goes into a
 * bounded buffer; every reply is freed here.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "workers/qstats.h"
#include "models/alert.h"
#include "models/delivery.h"
#include "models/outbox.h"
#include "workers/queue.h"

#define NAME_MAX_ 128 /* bytes of a topic or group label kept */

typedef struct row {
    char topic[NAME_MAX_], group[NAME_MAX_];
    long long lag; /* -1: unknown */
    long long pending;
    long long dead;
} row_t;

typedef struct rows {
    row_t *v;
    size_t n, cap;
    int truncated;
} rows_t;

typedef struct buf {
    char *p;
    size_t len, cap;
    int full;
} buf_t;

static void put(buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(buf_t *b, const char *fmt, ...)
{
    va_list ap;
    for (int tries = 0; tries < 2 && !b->full; tries++) {
        va_start(ap, fmt);
        int n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
        va_end(ap);
        if (n < 0) {
            b->full = 1;
            return;
        }
        if ((size_t)n < b->cap - b->len) {
            b->len += (size_t)n;
            return;
        }
        size_t cap = b->cap * 2 + (size_t)n;
        char *np = cap <= QSTATS_TEXT_MAX ? realloc(b->p, cap) : NULL;
        if (np == NULL) {
            b->full = 1;
            return;
        }
        b->p = np;
        b->cap = cap;
    }
}

/* A label value with \, " and newlines escaped as Prometheus wants. */
static void label(char *out, size_t outlen, const char *s)
{
    size_t o = 0;
    for (; *s != '\0' && o + 3 < outlen; s++) {
        if (*s == '\\' || *s == '"' || *s == '\n') {
            out[o++] = '\\';
            out[o++] = *s == '\n' ? 'n' : *s;
        } else
            out[o++] = *s;
    }
    out[o] = '\0';
}

/* The value of key in a flat [k, v, k, v ...] reply, or NULL. */
static const redisReply *kv(const redisReply *a, const char *key)
{
    for (size_t i = 0; a->type == REDIS_REPLY_ARRAY && i + 1 < a->elements; i += 2)
        if (a->element[i]->type == REDIS_REPLY_STRING && strcmp(a->element[i]->str, key) == 0)
            return a->element[i + 1];
    return NULL;
}

static long long int_of(const redisReply *v, long long def)
{
    return v != NULL && v->type == REDIS_REPLY_INTEGER ? v->integer : def;
}

static long long xlen(redis_t *r, const char *key)
{
    redisReply *rep = redis_cmd(r, "XLEN %s", key);
    long long n = int_of(rep, 0);
    if (rep != NULL)
        freeReplyObject(rep);
    return n;
}

static int add_row(rows_t *rs, const row_t *row)
{
    if (rs->n == rs->cap) {
        size_t cap = rs->cap ? rs->cap * 2 : 16;
        row_t *nv = realloc(rs->v, cap * sizeof(*nv));
        if (nv == NULL)
            return -1;
        rs->v = nv;
        rs->cap = cap;
    }
    rs->v[rs->n++] = *row;
    return 0;
}

/* The entries of the stream after the group's last-delivered-id. Counted, up to
 * LAG_COUNT_MAX, rather than taken from XINFO's lag: Redis 7.0 derives that from the group's
 * entries-read, which a restart from the append-only file left wrong for good on the dev
 * stack (a lag of 21199 on a group that had read everything). Past the bound: Redis's figure
 * (or XLEN minus entries-read), never above XLEN, never below the bound. -1: unknown. */
#define LAG_COUNT_MAX 100
static long long undelivered(redis_t *r, const char *key, const redisReply *g, long long len)
{
    const redisReply *last = kv(g, "last-delivered-id");
    long long read = int_of(kv(g, "entries-read"), -1);
    long long est = int_of(kv(g, "lag"), read >= 0 && len >= read ? len - read : -1);
    if (last == NULL || last->type != REDIS_REPLY_STRING)
        return est;
    redisReply *rep = redis_cmd(r, "XRANGE %s (%s + COUNT %d", key, last->str, LAG_COUNT_MAX);
    long long n = rep != NULL && rep->type == REDIS_REPLY_ARRAY ? (long long)rep->elements : -1;
    if (rep != NULL)
        freeReplyObject(rep);
    if (n < 0)
        return est;
    if (n < LAG_COUNT_MAX)
        return n;
    if (est > len)
        est = len;
    return est > n ? est : n;
}

/* The groups of one stream into rs. 0, or -1 when Redis failed. */
static int stream_groups(redis_t *r, const char *key, rows_t *rs)
{
    redisReply *rep = redis_cmd(r, "XINFO GROUPS %s", key);
    if (rep == NULL)
        return -1;
    long long len = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 ? xlen(r, key) : 0;
    for (size_t i = 0; rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *g = rep->element[i], *name = kv(g, "name");
        if (name == NULL || name->type != REDIS_REPLY_STRING)
            continue;
        row_t row = {.pending = int_of(kv(g, "pending"), 0)};
        snprintf(row.topic, sizeof(row.topic), "%s", key + strlen("stream:"));
        snprintf(row.group, sizeof(row.group), "%s", name->str);
        row.lag = undelivered(r, key, g, len);
        char dlq[QUEUE_KEY_MAX];
        row.dead = queue_dlq_key(dlq, sizeof(dlq), row.topic, row.group) == 0 ? xlen(r, dlq) : 0;
        if (add_row(rs, &row) != 0)
            break;
    }
    freeReplyObject(rep);
    return 0;
}

/* Every stream:* stream's groups, at most QSTATS_STREAMS_MAX streams. */
static int collect(redis_t *r, rows_t *rs)
{
    char cursor[32] = "0";
    size_t streams = 0;
    do {
        redisReply *rep = redis_cmd(r, "SCAN %s MATCH stream:* COUNT 500 TYPE stream", cursor);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING || rep->element[0]->len >= sizeof(cursor)) {
            if (rep != NULL)
                freeReplyObject(rep);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        const redisReply *keys = rep->element[1];
        for (size_t i = 0; i < keys->elements; i++) {
            if (streams >= QSTATS_STREAMS_MAX) {
                rs->truncated = 1;
                break;
            }
            streams++;
            if (keys->element[i]->type == REDIS_REPLY_STRING && stream_groups(r, keys->element[i]->str, rs) != 0) {
                freeReplyObject(rep);
                return -1;
            }
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0 && !rs->truncated);
    return 0;
}

static int by_name(const void *a, const void *b)
{
    const row_t *x = a, *y = b;
    int c = strcmp(x->topic, y->topic);
    return c != 0 ? c : strcmp(x->group, y->group);
}

static void render(buf_t *b, const rows_t *rs, const char *metric, const char *help, int which)
{
    put(b, "# HELP %s %s\n# TYPE %s gauge\n", metric, help, metric);
    for (size_t i = 0; i < rs->n; i++) {
        const row_t *row = &rs->v[i];
        long long v = which == 0 ? row->lag : which == 1 ? row->pending : row->dead;
        char t[NAME_MAX_ * 2], g[NAME_MAX_ * 2];
        if (v < 0)
            continue;
        label(t, sizeof(t), row->topic);
        label(g, sizeof(g), row->group);
        put(b, "%s{topic=\"%s\",group=\"%s\"} %lld\n", metric, t, g, v);
    }
}

char *qstats_render(redis_t *r, size_t *len)
{
    rows_t rs = {0};
    buf_t b = {.cap = 4096};
    *len = 0;
    if (collect(r, &rs) != 0 || (b.p = malloc(b.cap)) == NULL) {
        free(rs.v);
        return NULL;
    }
    b.p[0] = '\0';
    if (rs.n > 1)
        qsort(rs.v, rs.n, sizeof(*rs.v), by_name);
    render(&b, &rs, "stallfront_queue_lag", "Stream entries not yet delivered to the consumer group.", 0);
    render(&b, &rs, "stallfront_queue_pending", "Messages delivered to the group and not yet acknowledged.", 1);
    render(&b, &rs, "stallfront_queue_dead_letters", "Messages in the group's dead-letter stream.", 2);
    if (rs.truncated)
        put(&b, "# more than %d streams: the rest are not shown\n", QSTATS_STREAMS_MAX);
    free(rs.v);
    if (b.full) {
        free(b.p);
        return NULL;
    }
    *len = b.len;
    return b.p;
}

/* The deliveries by status, those waiting without a courier, and the fulfilment alerts by
 * kind (issue 9), appended to b. Nothing when MariaDB does not answer. */
static void fulfilment(db_t *db, buf_t *b)
{
    json_t *d = NULL, *a = NULL, *v;
    const char *k;
    if (delivery_counts(db, &d) == DB_OK) {
        put(b, "# HELP stallfront_deliveries deliveries by status\n# TYPE stallfront_deliveries gauge\n");
        json_object_foreach(json_object_get(d, "by_status"), k, v)
            put(b, "stallfront_deliveries{status=\"%s\"} %lld\n", k, (long long)json_integer_value(v));
        put(b,
            "# HELP stallfront_deliveries_waiting_no_courier deliveries waiting: no courier to offer them to\n"
            "# TYPE stallfront_deliveries_waiting_no_courier gauge\nstallfront_deliveries_waiting_no_courier %lld\n",
            (long long)json_integer_value(json_object_get(d, "waiting_no_courier")));
    }
    if (alert_counts(db, &a) == DB_OK) {
        char l[NAME_MAX_ * 2];
        put(b, "# HELP stallfront_fulfilment_alerts fulfilment alerts raised, by kind\n"
               "# TYPE stallfront_fulfilment_alerts gauge\n");
        json_object_foreach(a, k, v)
        {
            label(l, sizeof(l), k);
            put(b, "stallfront_fulfilment_alerts{kind=\"%s\"} %lld\n", l,
                (long long)json_integer_value(json_object_get(v, "total")));
        }
        put(b, "# HELP stallfront_fulfilment_alerts_open fulfilment alerts nobody resolved yet, by kind\n"
               "# TYPE stallfront_fulfilment_alerts_open gauge\n");
        json_object_foreach(a, k, v)
        {
            label(l, sizeof(l), k);
            put(b, "stallfront_fulfilment_alerts_open{kind=\"%s\"} %lld\n", l,
                (long long)json_integer_value(json_object_get(v, "open")));
        }
    }
    json_decref(d);
    json_decref(a);
}

char *qstats_render_all(db_t *db, redis_t *r, size_t *len)
{
    char *text = qstats_render(r, len);
    if (text != NULL) {
        buf_t b = {.p = text, .len = *len, .cap = *len + 1};
        fulfilment(db, &b);
        if (b.full) {
            free(b.p);
            return NULL;
        }
        text = b.p;
        *len = b.len;
    }
    int64_t count, age_ms;
    if (text == NULL || outbox_backlog(db, &count, &age_ms) != DB_OK)
        return text;
    char extra[512];
    int n =
        snprintf(extra, sizeof(extra),
                 "# HELP stallfront_queue_outbox_unpublished outbox rows waiting for the relay\n"
                 "# TYPE stallfront_queue_outbox_unpublished gauge\nstallfront_queue_outbox_unpublished %lld\n"
                 "# HELP stallfront_queue_outbox_oldest_seconds age of the oldest unpublished outbox row\n"
                 "# TYPE stallfront_queue_outbox_oldest_seconds gauge\nstallfront_queue_outbox_oldest_seconds %.3f\n",
                 (long long)count, (double)age_ms / 1000.0);
    char *joined = n > 0 && (size_t)n < sizeof(extra) ? realloc(text, *len + (size_t)n + 1) : NULL;
    if (joined == NULL)
        return text;
    memcpy(joined + *len, extra, (size_t)n + 1);
    *len += (size_t)n;
    return joined;
}
