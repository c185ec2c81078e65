/*
 * The housekeeping job (see housekeeping.h). No SQL here: the purges are models/outbox.c's
 * and models/idempotency.c's, the stuck refunds models/payment.c's. Runs on one `work`
 * thread with its own connections; replies are freed here; nothing is kept between runs.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "workers/housekeeping.h"
#include "models/base/log.h"
#include "models/idempotency.h"
#include "models/outbox.h"
#include "models/payment.h"

#define DAY_MS    (86400LL * 1000)
#define SCANS_MAX 10000 /* SCAN calls per run: a bound even if the cursor never came back to 0 */

/* A stream entry id: milliseconds and sequence. */
typedef struct sid {
    uint64_t ms, seq;
} sid_t;

/* Parses "ms-seq" (or "ms"); 0, or -1 if it is not one. */
static int sid_parse(const char *s, sid_t *out)
{
    char *end;
    if (s == NULL || *s < '0' || *s > '9')
        return -1;
    out->ms = strtoull(s, &end, 10);
    out->seq = 0;
    if (*end == '-') {
        const char *q = end + 1;
        if (*q < '0' || *q > '9')
            return -1;
        out->seq = strtoull(q, &end, 10);
    }
    return *end == '\0' ? 0 : -1;
}

static int sid_less(sid_t a, sid_t b)
{
    return a.ms < b.ms || (a.ms == b.ms && a.seq < b.seq);
}

/* The value after name in a flat field list (XINFO's RESP2 map), or NULL. */
static const redisReply *field(const redisReply *map, const char *name)
{
    if (map == NULL || map->type != REDIS_REPLY_ARRAY)
        return NULL;
    for (size_t i = 0; i + 1 < map->elements; i += 2)
        if (map->element[i]->type == REDIS_REPLY_STRING && strcmp(map->element[i]->str, name) == 0)
            return map->element[i + 1];
    return NULL;
}

/* The lowest id one group may still need: its lowest pending id (XPENDING summary) if it
 * has pending entries, else its last-delivered id. 0; 1 when the group's answer is not
 * understood (the stream is left alone); -1 when Redis failed. */
static int group_floor(redis_t *r, const char *key, const redisReply *g, sid_t *floor)
{
    const redisReply *name = field(g, "name"), *pending = field(g, "pending"), *last = field(g, "last-delivered-id");
    if (name == NULL || name->type != REDIS_REPLY_STRING || pending == NULL || pending->type != REDIS_REPLY_INTEGER ||
        last == NULL || last->type != REDIS_REPLY_STRING || sid_parse(last->str, floor) != 0)
        return 1;
    if (pending->integer == 0)
        return 0;
    redisReply *rep = redis_cmd(r, "XPENDING %s %s", key, name->str);
    if (rep == NULL)
        return -1;
    sid_t low;
    int rc = 1;
    if (rep->type == REDIS_REPLY_ARRAY && rep->elements == 4 && rep->element[1]->type == REDIS_REPLY_STRING &&
        sid_parse(rep->element[1]->str, &low) == 0) {
        if (sid_less(low, *floor))
            *floor = low;
        rc = 0;
    }
    freeReplyObject(rep);
    return rc;
}

/* The lowest id any group of the stream may still need into *floor. 0; 1 when the stream
 * has no group or a group could not be read (leave it alone); -1 when Redis failed. */
static int stream_floor(redis_t *r, const char *key, sid_t *floor)
{
    redisReply *rep = redis_cmd(r, "XINFO GROUPS %s", key);
    if (rep == NULL)
        return -1;
    int rc = rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 ? 0 : 1;
    for (size_t i = 0; rc == 0 && i < rep->elements; i++) {
        sid_t g;
        rc = group_floor(r, key, rep->element[i], &g);
        if (rc == 0 && (i == 0 || sid_less(g, *floor)))
            *floor = g;
    }
    freeReplyObject(rep);
    return rc;
}

int housekeeping_trim_stream(redis_t *r, const char *key, int64_t bound_ms, size_t *removed)
{
    sid_t floor = {0, 0}, bound = {bound_ms > 0 ? (uint64_t)bound_ms : 0, 0};
    char minid[48];
    if (removed != NULL)
        *removed = 0;
    int rc = stream_floor(r, key, &floor);
    if (rc != 0)
        return rc < 0 ? -1 : 0;
    if (sid_less(bound, floor))
        floor = bound;
    if (floor.ms == 0 && floor.seq == 0)
        return 0;
    snprintf(minid, sizeof(minid), "%" PRIu64 "-%" PRIu64, floor.ms, floor.seq);
    redisReply *rep = redis_cmd(r, "XTRIM %s MINID %s", key, minid);
    if (rep == NULL)
        return -1;
    if (rep->type == REDIS_REPLY_INTEGER && removed != NULL)
        *removed = (size_t)rep->integer;
    else if (rep->type == REDIS_REPLY_ERROR)
        log_warn("work: housekeeping: XTRIM %s MINID %s refused: %s", key, minid, rep->str);
    freeReplyObject(rep);
    return 0;
}

/* Deletes, atomically, the consumers of group KEYS[1] ARGV[1] with no pending message and
 * idle more than ARGV[2] ms, at most ARGV[3]; answers how many went. Atomic so that no
 * consumer can be handed a message between the check and the delete. */
static const char prune_lua[] =
    "local n = 0\n"
    "for _, c in ipairs(redis.call('XINFO', 'CONSUMERS', KEYS[1], ARGV[1])) do\n"
    "  local f = {}\n"
    "  for i = 1, #c, 2 do f[c[i]] = c[i + 1] end\n"
    "  if n < tonumber(ARGV[3]) and f['pending'] == 0 and f['idle'] > tonumber(ARGV[2]) then\n"
    "    redis.call('XGROUP', 'DELCONSUMER', KEYS[1], ARGV[1], f['name'])\n"
    "    n = n + 1\n"
    "  end\n"
    "end\n"
    "return n\n";

/* Deletes the idle consumers without pending messages of one group; *deleted how many. A
 * refusal (the group went meanwhile) is logged and skipped. 0, or -1 when Redis failed. */
static int prune_group(redis_t *r, const char *key, const char *group, int64_t idle_ms, size_t *deleted)
{
    redisReply *rep =
        redis_cmd(r, "EVAL %s 1 %s %s %lld %d", prune_lua, key, group, (long long)idle_ms, HOUSEKEEPING_CONSUMERS_MAX);
    if (rep == NULL)
        return -1;
    if (rep->type == REDIS_REPLY_INTEGER && rep->integer > 0)
        *deleted += (size_t)rep->integer;
    else if (rep->type == REDIS_REPLY_ERROR)
        log_warn("work: housekeeping: deleting idle consumers of %s %s refused: %s", key, group, rep->str);
    freeReplyObject(rep);
    return 0;
}

/* Deletes the idle consumers without pending messages of every group of the stream at
 * key; *deleted how many. 0, or -1 when Redis failed. */
static int prune_consumers(redis_t *r, const char *key, int64_t idle_ms, size_t *deleted)
{
    redisReply *rep = redis_cmd(r, "XINFO GROUPS %s", key);
    if (rep == NULL)
        return -1;
    int rc = 0;
    for (size_t i = 0; rc == 0 && rep->type == REDIS_REPLY_ARRAY && i < rep->elements; i++) {
        const redisReply *name = field(rep->element[i], "name");
        if (name != NULL && name->type == REDIS_REPLY_STRING)
            rc = prune_group(r, key, name->str, idle_ms, deleted);
    }
    freeReplyObject(rep);
    return rc;
}

/* Trims one stream and deletes its idle consumers, adding to *c. 0 or -1. */
static int tidy_stream(redis_t *r, const char *key, int64_t bound_ms, int64_t idle_ms, housekeeping_counts_t *c)
{
    size_t n = 0;
    if (housekeeping_trim_stream(r, key, bound_ms, &n) != 0)
        return -1;
    c->entries += n;
    c->streams += n > 0;
    return prune_consumers(r, key, idle_ms, &c->consumers);
}

/* Trims every stream:* stream (at most HOUSEKEEPING_STREAMS_MAX) and deletes its idle
 * consumers. 0 or -1. */
static int tidy_streams(redis_t *r, int64_t bound_ms, int64_t idle_ms, housekeeping_counts_t *c)
{
    char cursor[32] = "0";
    size_t seen = 0, scans = 0;
    do {
        redisReply *rep = redis_cmd(r, "SCAN %s MATCH stream:* COUNT 500 TYPE stream", cursor);
        if (rep == NULL || rep->type != REDIS_REPLY_ARRAY || rep->elements != 2 ||
            rep->element[0]->type != REDIS_REPLY_STRING || rep->element[0]->len >= sizeof(cursor) ||
            rep->element[1]->type != REDIS_REPLY_ARRAY) {
            if (rep != NULL)
                freeReplyObject(rep);
            return -1;
        }
        snprintf(cursor, sizeof(cursor), "%s", rep->element[0]->str);
        const redisReply *keys = rep->element[1];
        for (size_t i = 0; i < keys->elements && seen < HOUSEKEEPING_STREAMS_MAX; i++, seen++) {
            if (keys->element[i]->type != REDIS_REPLY_STRING)
                continue;
            if (tidy_stream(r, keys->element[i]->str, bound_ms, idle_ms, c) != 0) {
                freeReplyObject(rep);
                return -1;
            }
        }
        freeReplyObject(rep);
    } while (strcmp(cursor, "0") != 0 && seen < HOUSEKEEPING_STREAMS_MAX && ++scans < SCANS_MAX);
    return 0;
}

typedef int (*purge_fn)(db_t *db, int64_t older_than_s, size_t limit, size_t *deleted);

static int purge_idempotency(db_t *db, int64_t older_than_s, size_t limit, size_t *deleted)
{
    return idempotency_purge(db, limit, deleted);
}

/* Up to HOUSEKEEPING_STATEMENTS statements of one purge, stopping at a short batch. */
static int purge_batches(db_t *db, purge_fn fn, int64_t older_than_s, size_t *total)
{
    size_t n = HOUSEKEEPING_BATCH;
    for (int i = 0; i < HOUSEKEEPING_STATEMENTS && n == HOUSEKEEPING_BATCH; i++) {
        int rc = fn(db, older_than_s, HOUSEKEEPING_BATCH, &n);
        if (rc != DB_OK)
            return rc;
        *total += n;
    }
    return DB_OK;
}

/* Asks again for the refunds stuck pending, each logged. DB_OK or a db status. */
static int redrive_refunds(db_t *db, int64_t stuck_s, housekeeping_counts_t *c)
{
    int64_t ids[PAY_STUCK_MAX];
    size_t n = 0;
    int rc = payment_refunds_stuck(db, stuck_s, ids, PAY_STUCK_MAX, &n);
    for (size_t i = 0; rc == DB_OK && i < n; i++) {
        pay_refund_t rf;
        int64_t event_id = 0;
        int one = payment_refund_redrive(db, ids[i], &rf, &event_id);
        if (one == DB_OK) {
            c->refunds++;
            log_info("work: housekeeping: refund %" PRId64 " (%s, order %" PRId64 ", %" PRId64
                     " fen) pending for more than %" PRId64 " s: asked for again (event %" PRId64 ")",
                     rf.id, rf.out_refund_no, rf.order_id, rf.amount_fen, stuck_s, event_id);
        } else if (one != DB_NOROW && one != SF_E_PAYMENT_STATE) {
            rc = one; /* settled or gone meanwhile is fine; a database failure is not */
        }
    }
    return rc;
}

int housekeeping_once(db_t *db, redis_t *r, const config_t *cfg, housekeeping_counts_t *counts)
{
    return housekeeping_run(db, r, cfg, HOUSEKEEPING_CONSUMER_IDLE_MS, counts);
}

int housekeeping_run(db_t *db, redis_t *r, const config_t *cfg, int64_t consumer_idle_ms, housekeeping_counts_t *counts)
{
    housekeeping_counts_t c = {0};
    int64_t keep_s = (int64_t)cfg->housekeeping_retention_days * 86400;
    int rc = purge_batches(db, outbox_purge_published, keep_s, &c.outbox);
    if (rc == DB_OK)
        rc = purge_batches(db, outbox_processed_purge, keep_s, &c.processed);
    if (rc == DB_OK)
        rc = purge_batches(db, purge_idempotency, 0, &c.idempotency);
    int64_t bound_ms = queue_now_ms() - (int64_t)cfg->housekeeping_retention_days * DAY_MS;
    int redis_rc = tidy_streams(r, bound_ms, consumer_idle_ms, &c);
    /* Last, and only after a clean run so far: a failed run is retried within seconds, and
     * each try would otherwise ask for the same refunds again. */
    if (rc == DB_OK && redis_rc == 0)
        rc = redrive_refunds(db, cfg->housekeeping_refund_stuck_s, &c);
    if (counts != NULL)
        *counts = c;
    return rc != DB_OK ? -2 : redis_rc != 0 ? -1 : 0;
}

int housekeeping_step(queue_env_t *env, void *arg)
{
    housekeeping_counts_t c;
    int rc = housekeeping_once(&env->db, &env->redis, env->cfg, &c);
    if (c.outbox + c.processed + c.idempotency + c.entries + c.consumers + c.refunds > 0)
        log_info("work: housekeeping: deleted %zu outbox, %zu processed, %zu idempotency rows; trimmed %zu entries "
                 "from %zu streams; deleted %zu idle consumers; asked again for %zu stuck refunds",
                 c.outbox, c.processed, c.idempotency, c.entries, c.streams, c.consumers, c.refunds);
    if (rc != 0)
        return queue_step_failed(env, rc);
    return env->cfg->housekeeping_interval_s * 1000;
}
