/*
 * The outbox relay (see relay.h). One thread; the rows read are freed before return.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "models/base/log.h"
#include "models/outbox.h"
#include "workers/relay.h"

/* XADD of one outbox row. 0, or -1 when Redis failed or refused. */
static int publish_row(redis_t *r, const db_rows_t *rows)
{
    char key[QUEUE_KEY_MAX];
    size_t idlen, mlen, tlen, plen;
    const char *id = db_rows_str(rows, 0, &idlen), *market = db_rows_str(rows, 1, &mlen);
    const char *topic = db_rows_str(rows, 2, &tlen), *payload = db_rows_str(rows, 3, &plen);
    if (id == NULL || market == NULL || topic == NULL || payload == NULL ||
        snprintf(key, sizeof(key), "stream:%.*s", (int)tlen, topic) >= (int)sizeof(key))
        return -1;
    redisReply *rep =
        redis_cmd(r, "XADD %s * event_id %b market_id %b payload %b", key, id, idlen, market, mlen, payload, plen);
    int ok = rep != NULL && rep->type == REDIS_REPLY_STRING;
    if (rep != NULL && rep->type == REDIS_REPLY_ERROR)
        snprintf(r->err, sizeof(r->err), "XADD %.64s: %.80s", key, rep->str);
    if (rep != NULL)
        freeReplyObject(rep);
    return ok ? 0 : -1;
}

int relay_publish_batch(db_t *db, redis_t *r, size_t *published)
{
    int64_t ids[OUTBOX_BATCH_MAX];
    size_t n = 0;
    db_rows_t *rows = NULL;
    int rc = 0;
    *published = 0;
    if (outbox_unpublished(db, OUTBOX_BATCH_MAX, &rows) != DB_OK)
        return -2;
    while (n < OUTBOX_BATCH_MAX && db_rows_next(rows)) {
        if (publish_row(r, rows) != 0) {
            rc = -1;
            break;
        }
        ids[n++] = db_rows_i64(rows, 0);
    }
    db_rows_free(rows);
    if (n > 0 && outbox_mark_published(db, ids, n) != DB_OK)
        return -2; /* published, not marked: they go out again, and consumers skip them */
    *published = n;
    return rc;
}

int relay_step(queue_env_t *env, void *arg)
{
    size_t n = 0;
    int held = outbox_relay_lock(&env->db);
    if (held < 0) {
        env->state = 0;
        return queue_step_failed(env, -2);
    }
    if ((held ? 1 : 2) != env->state) /* state: 0 unknown, 1 holding, 2 standing by */
        log_info("work: relay: %s",
                 held ? "holds the relay lock; publishing the outbox" : "another relay holds the lock; standing by");
    env->state = held ? 1 : 2;
    if (!held)
        return RELAY_STANDBY_MS;
    int rc = relay_publish_batch(&env->db, &env->redis, &n);
    if (rc != 0)
        return queue_step_failed(env, rc);
    if (n > 0)
        log_debug("work: relay: published %zu outbox rows", n);
    return n == OUTBOX_BATCH_MAX ? 0 : RELAY_IDLE_MS;
}
