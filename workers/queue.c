/*
 * The queue machinery (see queue.h): consuming, acknowledging after commit, reaping, dead
 * letters, delayed jobs, and the loop every worker thread runs. Called on worker threads
 * with their own connections; every Redis reply and parsed payload is freed before return.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/base/log.h"
#include "models/outbox.h"
#include "workers/queue.h"

#define MSG_ID_MAX       48 /* "<ms>-<seq>" of a stream entry, with its NUL */
#define DLQ_FIELDS_MAX   16 /* field/value pairs copied from a message into its dead letter */
#define REAP_PAGES       4  /* XAUTOCLAIM pages per kind per reaper step */
#define BACKOFF_FIRST_MS 200

/* A stream entry as the runner sees it: parsed fields, and the raw entry for dead letters. */
typedef struct msg {
    char id[MSG_ID_MAX];
    int64_t event_id;
    int64_t market_id;
    json_t *payload;          /* owned */
    const redisReply *fields; /* the entry's field/value array, borrowed */
} msg_t;

/* ---------------------------------------------------------------- keys and time */

int queue_stream_key(char *buf, size_t len, const char *topic)
{
    int n = snprintf(buf, len, "stream:%s", topic);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int queue_delayed_key(char *buf, size_t len, const char *topic)
{
    int n = snprintf(buf, len, "delayed:%s", topic);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int queue_dlq_key(char *buf, size_t len, const char *topic, const char *group)
{
    int n = snprintf(buf, len, "dlq:%s:%s", topic, group);
    return n > 0 && (size_t)n < len ? 0 : -1;
}

int64_t queue_now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---------------------------------------------------------------- small helpers */

/* 1 if rep is an error reply whose text contains what. */
static int is_error(const redisReply *rep, const char *what)
{
    return rep != NULL && rep->type == REDIS_REPLY_ERROR && rep->str != NULL && strstr(rep->str, what) != NULL;
}

/* A whole decimal int64 of len bytes; -1 if it is not one. */
static int parse_i64(const char *s, size_t len, int64_t *out)
{
    char buf[24];
    if (s == NULL || len == 0 || len >= sizeof(buf))
        return -1;
    memcpy(buf, s, len);
    buf[len] = '\0';
    char *end;
    errno = 0;
    long long v = strtoll(buf, &end, 10);
    if (errno != 0 || *end != '\0' || buf[0] == '+' || buf[0] == ' ')
        return -1;
    *out = v;
    return 0;
}

static int reply_ok(redisReply *rep)
{
    int ok = rep != NULL && rep->type != REDIS_REPLY_ERROR;
    if (rep != NULL)
        freeReplyObject(rep);
    return ok ? 0 : -1;
}

static int ack(redis_t *r, const char *key, const queue_kind_t *k, const char *id)
{
    return reply_ok(redis_cmd(r, "XACK %s %s %s", key, k->group, id));
}

int queue_group_ensure(redis_t *r, const char *topic, const char *group)
{
    char key[QUEUE_KEY_MAX];
    if (queue_stream_key(key, sizeof(key), topic) != 0)
        return -1;
    redisReply *rep = redis_cmd(r, "XGROUP CREATE %s %s 0 MKSTREAM", key, group);
    if (rep == NULL)
        return -1;
    int rc = rep->type != REDIS_REPLY_ERROR || is_error(rep, "BUSYGROUP") ? 0 : -1;
    if (rc != 0)
        log_warn("queue: XGROUP CREATE %s %s: %s", key, group, rep->str);
    freeReplyObject(rep);
    return rc;
}

/* ---------------------------------------------------------------- parsing */

/* The value of field name in an entry's field/value array, or NULL. */
static const redisReply *field(const redisReply *fields, const char *name)
{
    for (size_t i = 0; i + 1 < fields->elements; i += 2) {
        const redisReply *f = fields->element[i];
        if (f->type == REDIS_REPLY_STRING && f->len == strlen(name) && memcmp(f->str, name, f->len) == 0)
            return fields->element[i + 1]->type == REDIS_REPLY_STRING ? fields->element[i + 1] : NULL;
    }
    return NULL;
}

/* Takes event_id, market_id and payload from a {"event_id","market_id","payload"} object. */
static int parse_job(const redisReply *job, msg_t *m)
{
    json_t *doc = json_loadb(job->str, job->len, JSON_REJECT_DUPLICATES, NULL);
    json_t *ev = json_object_get(doc, "event_id"), *mk = json_object_get(doc, "market_id");
    json_t *pl = json_object_get(doc, "payload");
    int rc = -1;
    if (json_is_integer(ev) && json_is_integer(mk) && json_is_object(pl)) {
        m->event_id = json_integer_value(ev);
        m->market_id = json_integer_value(mk);
        m->payload = json_incref(pl);
        rc = 0;
    }
    json_decref(doc);
    return rc;
}

/* Parses an entry [id, [field, value, ...]]. 0, or -1 for a malformed message (m->id is
 * still set when the id was readable). */
static int parse_entry(const redisReply *e, msg_t *m)
{
    memset(m, 0, sizeof(*m));
    if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING ||
        e->element[0]->len >= MSG_ID_MAX)
        return -1;
    memcpy(m->id, e->element[0]->str, e->element[0]->len);
    m->id[e->element[0]->len] = '\0';
    const redisReply *fields = e->element[1];
    if (fields->type != REDIS_REPLY_ARRAY)
        return -1;
    m->fields = fields;
    const redisReply *job = field(fields, "job");
    if (job != NULL)
        return parse_job(job, m);
    const redisReply *ev = field(fields, "event_id"), *mk = field(fields, "market_id");
    const redisReply *pl = field(fields, "payload");
    if (ev == NULL || mk == NULL || pl == NULL || parse_i64(ev->str, ev->len, &m->event_id) != 0 ||
        parse_i64(mk->str, mk->len, &m->market_id) != 0)
        return -1;
    m->payload = json_loadb(pl->str, pl->len, JSON_REJECT_DUPLICATES, NULL);
    if (!json_is_object(m->payload)) {
        json_decref(m->payload);
        m->payload = NULL;
        return -1;
    }
    return 0;
}

/* ---------------------------------------------------------------- dead letters */

/* XADD dlq:<topic>:<group> with the message's own fields plus reason, original_id and
 * deliveries, then XACK. Not one atomic step: a crash in between leaves the message
 * pending, and the next reaper writes its dead letter again (a duplicate, never a loss). */
static int dead_letter(redis_t *r, const queue_kind_t *k, const char *stream, const char *id, const redisReply *fields,
                       const char *reason, long long deliveries)
{
    char dlq[QUEUE_KEY_MAX], dbuf[24];
    const char *argv[3 + 2 * DLQ_FIELDS_MAX + 6];
    size_t lens[3 + 2 * DLQ_FIELDS_MAX + 6], n = 0;
    if (queue_dlq_key(dlq, sizeof(dlq), k->topic, k->group) != 0)
        return -1;
    snprintf(dbuf, sizeof(dbuf), "%lld", deliveries);
#define ARG(s, l) (argv[n] = (s), lens[n] = (l), n++)
    ARG("XADD", 4);
    ARG(dlq, strlen(dlq));
    ARG("*", 1);
    for (size_t i = 0; fields != NULL && i + 1 < fields->elements && i < 2 * DLQ_FIELDS_MAX; i += 2) {
        const redisReply *f = fields->element[i], *v = fields->element[i + 1];
        if (f->type == REDIS_REPLY_STRING && v->type == REDIS_REPLY_STRING) {
            ARG(f->str, f->len);
            ARG(v->str, v->len);
        }
    }
    ARG("reason", 6);
    ARG(reason, strlen(reason));
    ARG("original_id", 11);
    ARG(id, strlen(id));
    ARG("deliveries", 10);
    ARG(dbuf, strlen(dbuf));
#undef ARG
    if (reply_ok(redis_cmdargv(r, (int)n, argv, lens)) != 0)
        return -1;
    log_warn("queue: %s message %s of %s went to %s (%s)", k->group, id, stream, dlq, reason);
    return ack(r, stream, k, id);
}

/* ---------------------------------------------------------------- handling */

/* The handler of a kind, run inside the consumer's transaction (outbox_consume). */
typedef struct effect {
    redis_t *r;
    const queue_kind_t *k;
    int64_t event_id, market_id;
    const json_t *payload;
    queue_result_t res;
} effect_t;

static sf_status_t run_effect(db_t *db, void *arg)
{
    effect_t *e = arg;
    e->res = e->k->handle(db, e->r, e->event_id, e->market_id, e->payload, e->k->ctx);
    return e->res == QUEUE_DONE ? SF_OK : SF_E_CONFLICT; /* anything but done rolls back */
}

/* processed row → handler → commit (one transaction, owned by the outbox model) →
 * after_commit. *dbfail is set when MariaDB failed (not when the handler chose to retry).
 * A duplicate is QUEUE_DONE. */
static queue_result_t apply(db_t *db, redis_t *r, const queue_kind_t *k, int64_t event_id, int64_t market_id,
                            const json_t *payload, int *dbfail)
{
    effect_t e = {r, k, event_id, market_id, payload, QUEUE_RETRY};
    *dbfail = 0;
    if (k->redis_only) {
        e.res = k->handle(db, r, event_id, market_id, payload, k->ctx);
        if (e.res == QUEUE_DONE && k->after_commit != NULL)
            k->after_commit(db, r, event_id, market_id, payload, k->ctx);
        return e.res;
    }
    sf_status_t st = outbox_consume(db, k->group, event_id, run_effect, &e);
    if (st == DB_DUP)
        return QUEUE_DONE;
    if (st == SF_E_CONFLICT && e.res != QUEUE_DONE)
        return e.res; /* the handler's own verdict: retry later, or dead */
    if (st != SF_OK) {
        log_warn("queue: %s event %" PRId64 ": %s", k->group, event_id, db->err);
        *dbfail = st != DB_DEADLOCK;
        return QUEUE_RETRY;
    }
    if (k->after_commit != NULL)
        k->after_commit(db, r, event_id, market_id, payload, k->ctx);
    return QUEUE_DONE;
}

queue_result_t queue_apply(db_t *db, redis_t *r, const queue_kind_t *k, int64_t event_id, int64_t market_id,
                           const json_t *payload)
{
    int dbfail;
    return apply(db, r, k, event_id, market_id, payload, &dbfail);
}

/* Acknowledgements kept for one XACK of a whole read: ids borrowed from its reply. */
typedef struct acks {
    const char *ids[QUEUE_BATCH];
    size_t n;
} acks_t;

/* One XACK of every kept id (nothing when none). 0, or -1 (Redis). */
static int ack_all(redis_t *r, const char *stream, const queue_kind_t *k, acks_t *a)
{
    const char *argv[3 + QUEUE_BATCH];
    size_t lens[3 + QUEUE_BATCH];
    if (a->n == 0)
        return 0;
    argv[0] = "XACK";
    argv[1] = stream;
    argv[2] = k->group;
    for (size_t i = 0; i < a->n; i++)
        argv[3 + i] = a->ids[i];
    for (size_t i = 0; i < 3 + a->n; i++)
        lens[i] = strlen(argv[i]);
    int rc = reply_ok(redis_cmdargv(r, (int)(3 + a->n), argv, lens));
    a->n = 0;
    return rc;
}

/* Handles one delivered entry and acknowledges per the outcome: at once, or, with a (not
 * NULL), by keeping its id (the entry's own, so valid while e is) for ack_all. 0, -1 (Redis)
 * or -2 (MariaDB). */
static int handle_entry(db_t *db, redis_t *r, const queue_kind_t *k, const char *stream, const redisReply *e,
                        long long deliveries, acks_t *a)
{
    msg_t m;
    int rc = 0, dbfail = 0;
    if (parse_entry(e, &m) != 0) {
        if (m.id[0] != '\0')
            rc = dead_letter(r, k, stream, m.id, m.fields, "malformed", deliveries);
        goto out;
    }
    switch (apply(db, r, k, m.event_id, m.market_id, m.payload, &dbfail)) {
    case QUEUE_DONE:
    case QUEUE_REQUEUED:
        if (a != NULL && a->n < QUEUE_BATCH)
            a->ids[a->n++] = e->element[0]->str;
        else
            rc = ack(r, stream, k, m.id);
        break;
    case QUEUE_POISON: rc = dead_letter(r, k, stream, m.id, m.fields, "poison", deliveries); break;
    case QUEUE_RETRY: rc = dbfail ? -2 : 0; break;
    }
out:
    json_decref(m.payload);
    return rc;
}

int queue_consume_once(db_t *db, redis_t *r, const queue_kind_t *k, const char *consumer, int block_ms, size_t *handled)
{
    char key[QUEUE_KEY_MAX];
    int rc = 0;
    if (handled != NULL)
        *handled = 0;
    if (queue_stream_key(key, sizeof(key), k->topic) != 0)
        return -1;
    redisReply *rep = redis_cmd(r, "XREADGROUP GROUP %s %s COUNT %d BLOCK %d STREAMS %s >", k->group, consumer,
                                QUEUE_BATCH, block_ms, key);
    if (rep == NULL)
        return -1;
    if (is_error(rep, "NOGROUP")) {
        rc = queue_group_ensure(r, k->topic, k->group);
        goto out;
    }
    if (rep->type == REDIS_REPLY_ERROR) {
        log_warn("queue: XREADGROUP %s %s: %s", key, k->group, rep->str);
        rc = -1;
        goto out;
    }
    /* nil on timeout; else [[key, [entry, ...]]] */
    if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 1 || rep->element[0]->elements != 2)
        goto out;
    /* The done entries of the read are acknowledged together, in one XACK after the last one
     * (or the first failure): each was acknowledged only after its transaction committed,
     * as before; a crash before the XACK leaves them pending, the reaper delivers them
     * again, and their processed rows make that a no-op. */
    const redisReply *entries = rep->element[0]->element[1];
    acks_t acks = {.n = 0};
    for (size_t i = 0; i < entries->elements && rc == 0; i++) {
        rc = handle_entry(db, r, k, key, entries->element[i], 1, &acks);
        if (handled != NULL)
            (*handled)++;
    }
    if (ack_all(r, key, k, &acks) != 0 && rc == 0)
        rc = -1;
out:
    freeReplyObject(rep);
    return rc;
}

/* How many times the pending message id was delivered (XPENDING extended form); 0 if it is
 * no longer pending, -1 on failure. */
static long long deliveries_of(redis_t *r, const char *stream, const char *group, const char *id)
{
    redisReply *rep = redis_cmd(r, "XPENDING %s %s %s %s 1", stream, group, id, id);
    long long n = -1;
    if (rep != NULL && rep->type == REDIS_REPLY_ARRAY) {
        n = 0;
        if (rep->elements == 1 && rep->element[0]->type == REDIS_REPLY_ARRAY && rep->element[0]->elements == 4 &&
            rep->element[0]->element[3]->type == REDIS_REPLY_INTEGER)
            n = rep->element[0]->element[3]->integer;
    }
    if (rep != NULL)
        freeReplyObject(rep);
    return n;
}

/* Handles one claimed entry: to the dead letters when delivered too often, else again. */
static int reap_entry(db_t *db, redis_t *r, const queue_kind_t *k, const char *stream, const redisReply *e,
                      int max_deliveries)
{
    if (e == NULL || e->type != REDIS_REPLY_ARRAY || e->elements != 2 || e->element[0]->type != REDIS_REPLY_STRING)
        return 0; /* deleted from the stream meanwhile (Redis < 7 answers nil) */
    long long n = deliveries_of(r, stream, k->group, e->element[0]->str);
    if (n < 0)
        return -1;
    if (n > max_deliveries)
        return dead_letter(r, k, stream, e->element[0]->str, e->element[1], "max_deliveries", n);
    return handle_entry(db, r, k, stream, e, n, NULL);
}

int queue_reap_once(db_t *db, redis_t *r, const queue_kind_t *k, const char *consumer, int lease_ms, int max_deliveries,
                    size_t *claimed)
{
    char key[QUEUE_KEY_MAX], cursor[MSG_ID_MAX] = "0-0";
    int rc = 0;
    if (claimed != NULL)
        *claimed = 0;
    if (queue_stream_key(key, sizeof(key), k->topic) != 0)
        return -1;
    for (int page = 0; page < REAP_PAGES && rc == 0; page++) {
        redisReply *rep =
            redis_cmd(r, "XAUTOCLAIM %s %s %s %d %s COUNT %d", key, k->group, consumer, lease_ms, cursor, QUEUE_BATCH);
        if (rep == NULL)
            return -1;
        if (rep->type != REDIS_REPLY_ARRAY || rep->elements < 2 || rep->element[0]->type != REDIS_REPLY_STRING ||
            rep->element[0]->len >= sizeof(cursor)) {
            /* NOGROUP: nothing was ever consumed; the consumer creates the group */
            rc = is_error(rep, "NOGROUP") ? 0 : -1;
            freeReplyObject(rep);
            return rc;
        }
        const redisReply *entries = rep->element[1];
        for (size_t i = 0; i < entries->elements && rc == 0; i++) {
            rc = reap_entry(db, r, k, key, entries->element[i], max_deliveries);
            if (claimed != NULL)
                (*claimed)++;
        }
        memcpy(cursor, rep->element[0]->str, rep->element[0]->len);
        cursor[rep->element[0]->len] = '\0';
        freeReplyObject(rep);
        if (strcmp(cursor, "0-0") == 0)
            break;
    }
    return rc;
}

/* ---------------------------------------------------------------- delayed jobs */

/* The library: moves the jobs of KEYS[1] (delayed:<topic>) scored <= ARGV[1] (now, ms), at
 * most ARGV[2] of them, to KEYS[2] (stream:<topic>) as one field `job`, and removes them;
 * one function call, so atomic: a job is either still delayed or in the stream. */
static const char move_due_lua[] =
    "#!lua name=" QUEUE_FUNCTION_LIB "\n"
    "redis.register_function('sf_move_due', function(keys, args)\n"
    "  local due = redis.call('ZRANGEBYSCORE', keys[1], '-inf', args[1], 'LIMIT', 0, tonumber(args[2]))\n"
    "  for _, job in ipairs(due) do\n"
    "    redis.call('XADD', keys[2], '*', 'job', job)\n"
    "    redis.call('ZREM', keys[1], job)\n"
    "  end\n"
    "  return #due\n"
    "end)\n";

int queue_functions_load(redis_t *r)
{
    redisReply *rep = redis_cmd(r, "FUNCTION LOAD REPLACE %s", move_due_lua);
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
        log_error("queue: FUNCTION LOAD of %s: %s", QUEUE_FUNCTION_LIB, rep->str);
    return reply_ok(rep);
}

int queue_delay(redis_t *r, const char *topic, int64_t event_id, int64_t market_id, const json_t *payload,
                int64_t due_ms)
{
    char key[QUEUE_KEY_MAX];
    if (queue_delayed_key(key, sizeof(key), topic) != 0)
        return -1;
    json_t *job = json_pack("{s:I, s:I, s:O}", "event_id", (json_int_t)event_id, "market_id", (json_int_t)market_id,
                            "payload", (json_t *)payload);
    char *text = job != NULL ? json_dumps(job, JSON_COMPACT | JSON_SORT_KEYS) : NULL;
    json_decref(job);
    if (text == NULL)
        return -1;
    int rc = reply_ok(redis_cmd(r, "ZADD %s %lld %s", key, (long long)due_ms, text));
    free(text);
    return rc;
}

static redisReply *fcall_move(redis_t *r, const char *dkey, const char *skey, int64_t now_ms)
{
    return redis_cmd(r, "FCALL sf_move_due 2 %s %s %lld %d", dkey, skey, (long long)now_ms, QUEUE_MOVE_MAX);
}

int queue_move_due(redis_t *r, const char *topic, int64_t now_ms, size_t *moved)
{
    char dkey[QUEUE_KEY_MAX], skey[QUEUE_KEY_MAX];
    if (moved != NULL)
        *moved = 0;
    if (queue_delayed_key(dkey, sizeof(dkey), topic) != 0 || queue_stream_key(skey, sizeof(skey), topic) != 0)
        return -1;
    redisReply *rep = fcall_move(r, dkey, skey, now_ms);
    if (redis_function_missing(rep)) {
        /* Redis restarted without the library (functions live in its data files) */
        freeReplyObject(rep);
        log_info("queue: Redis lost the %s functions; loading them again", QUEUE_FUNCTION_LIB);
        rep = queue_functions_load(r) == 0 ? fcall_move(r, dkey, skey, now_ms) : NULL;
    }
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
        if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
            log_warn("queue: sf_move_due %s: %s", topic, rep->str);
        if (rep != NULL)
            freeReplyObject(rep);
        return -1;
    }
    if (moved != NULL)
        *moved = (size_t)rep->integer;
    freeReplyObject(rep);
    return 0;
}

/* ---------------------------------------------------------------- running */

int queue_sleep(const atomic_int *stop, int ms)
{
    while (ms > 0 && !atomic_load(stop)) {
        int slice = ms < 100 ? ms : 100;
        struct timespec ts = {0, (long)slice * 1000000L};
        nanosleep(&ts, NULL);
        ms -= slice;
    }
    return atomic_load(stop) ? 1 : 0;
}

void queue_loop(queue_env_t *env, queue_step_fn step, void *arg)
{
    int backoff = 0, down = 0;
    db_thread_init();
    if (db_open(&env->db, env->cfg) != DB_OK)
        log_debug("work: %s: MariaDB not reachable yet: %s", env->name, env->db.err);
    if (redis_open(&env->redis, env->cfg) != 0)
        log_debug("work: %s: Redis not reachable yet: %s", env->name, env->redis.err);
    while (!atomic_load(env->stop)) {
        env->failed[0] = '\0';
        int wait = step(env, arg);
        if (wait < 0) {
            if (!down)
                log_warn("work: %s: %s; retrying with back-off", env->name,
                         env->failed[0] ? env->failed : "a step failed");
            down = 1;
            backoff = backoff == 0 ? BACKOFF_FIRST_MS : backoff * 2;
            if (backoff > QUEUE_BACKOFF_MAX)
                backoff = QUEUE_BACKOFF_MAX;
            wait = backoff;
        } else if (down) {
            log_info("work: %s: recovered", env->name);
            down = 0;
            backoff = 0;
        }
        if (wait > 0)
            queue_sleep(env->stop, wait);
    }
    redis_close(&env->redis);
    db_close(&env->db);
    db_thread_end();
}

int queue_step_failed(queue_env_t *env, int rc)
{
    if (rc == -2)
        snprintf(env->failed, sizeof(env->failed), "MariaDB failed: %.256s", env->db.err);
    else
        snprintf(env->failed, sizeof(env->failed), "Redis failed: %.160s",
                 env->redis.err[0] ? env->redis.err : "error reply");
    return -1;
}

int queue_consumer_step(queue_env_t *env, void *kind)
{
    const queue_kind_t *k = kind;
    int block = QUEUE_BLOCK_MS;
    if (block > env->cfg->redis_timeout_ms / 2) /* the read must end before the command timeout */
        block = env->cfg->redis_timeout_ms / 2 > 0 ? env->cfg->redis_timeout_ms / 2 : 1;
    int rc = queue_consume_once(&env->db, &env->redis, k, env->consumer, block, NULL);
    return rc == 0 ? 0 : queue_step_failed(env, rc);
}

int queue_reaper_step(queue_env_t *env, void *kinds)
{
    const queue_kinds_t *ks = kinds;
    for (size_t i = 0; i < ks->n; i++) {
        int rc = queue_reap_once(&env->db, &env->redis, ks->kinds[i], env->consumer, env->cfg->queue_lease_ms,
                                 env->cfg->queue_max_deliveries, NULL);
        if (rc != 0)
            return queue_step_failed(env, rc);
    }
    int wait = env->cfg->queue_lease_ms / 2;
    return wait < 100 ? 100 : wait > 1000 ? 1000 : wait;
}

int queue_mover_step(queue_env_t *env, void *topics)
{
    const queue_topics_t *ts = topics;
    for (size_t i = 0; i < ts->n; i++)
        if (queue_move_due(&env->redis, ts->topics[i], queue_now_ms(), NULL) != 0)
            return queue_step_failed(env, -1);
    return ts->interval_ms;
}
