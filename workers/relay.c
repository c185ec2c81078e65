/*
 * The outbox relay (see relay.h). One thread; the rows read are freed before return.
 */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include "models/base/log.h"
#include "models/outbox.h"
#include "workers/relay.h"

#define XADD_ARGS 9 /* XADD <key> * event_id <id> market_id <market> payload <payload> */

/* One row's XADD, its arguments pointing into rows (valid until rows is freed) and key. 0, or
 * -1 when a column is missing or the topic too long. */
static int xadd_of(const db_rows_t *rows, char *key, const char **argv, size_t *lens)
{
    size_t idlen, mlen, tlen, plen;
    const char *id = db_rows_str(rows, 0, &idlen), *market = db_rows_str(rows, 1, &mlen);
    const char *topic = db_rows_str(rows, 2, &tlen), *payload = db_rows_str(rows, 3, &plen);
    int klen = topic != NULL ? snprintf(key, QUEUE_KEY_MAX, "stream:%.*s", (int)tlen, topic) : -1;
    if (id == NULL || market == NULL || payload == NULL || klen < 0 || klen >= QUEUE_KEY_MAX)
        return -1;
    const char *a[XADD_ARGS] = {"XADD", key, "*", "event_id", id, "market_id", market, "payload", payload};
    const size_t l[XADD_ARGS] = {4, (size_t)klen, 1, 8, idlen, 9, mlen, 7, plen};
    memcpy(argv, a, sizeof(a));
    memcpy(lens, l, sizeof(l));
    return 0;
}

/*
 * The batch's XADDs go in one pipeline (one round trip, not one per row); each row is marked
 * when its own XADD was answered with an entry id. A row whose XADD failed (or could not be
 * formed) stays unpublished and goes out with the next batch, possibly after rows of its
 * topic that came later: the same as a relay that died half-way, which consumers already
 * take (they skip copies; order between retries is not promised).
 */
/* relay_publish_batch; with session not NULL, only on the session *session names (the one
 * the caller took the lock on): when the read had to rebuild the connection (db.c retries a
 * statement on a fresh one), nothing is published and 1 is returned. */
static int publish(db_t *db, redis_t *r, size_t *published, const uint64_t *session)
{
    char keys[OUTBOX_BATCH_MAX][QUEUE_KEY_MAX];
    const char *argv[OUTBOX_BATCH_MAX][XADD_ARGS];
    size_t lens[OUTBOX_BATCH_MAX][XADD_ARGS];
    redis_argv_t cmds[OUTBOX_BATCH_MAX];
    redisReply *replies[OUTBOX_BATCH_MAX];
    int64_t row_ids[OUTBOX_BATCH_MAX], ids[OUTBOX_BATCH_MAX];
    size_t n = 0, ncmds = 0, nmarked = 0;
    int rc = 0;
    db_rows_t *rows = NULL;
    *published = 0;
    if (outbox_unpublished(db, OUTBOX_BATCH_MAX, &rows) != DB_OK)
        return -2;
    if (session != NULL && db->reconnects != *session) {
        db_rows_free(rows);
        return 1;
    }
    for (; n < OUTBOX_BATCH_MAX && db_rows_next(rows); n++) {
        if (xadd_of(rows, keys[ncmds], argv[ncmds], lens[ncmds]) != 0) {
            rc = -1;
            snprintf(r->err, sizeof(r->err), "outbox row %lld: topic too long or a column missing",
                     (long long)db_rows_i64(rows, 0));
            continue;
        }
        row_ids[ncmds] = db_rows_i64(rows, 0);
        cmds[ncmds] = (redis_argv_t){XADD_ARGS, argv[ncmds], lens[ncmds]};
        ncmds++;
    }
    if (ncmds > 0 && redis_pipeline(r, ncmds, cmds, replies) != 0) {
        db_rows_free(rows);
        return -1; /* nothing known to be published: all of it goes again */
    }
    for (size_t i = 0; i < ncmds; i++) {
        if (replies[i]->type == REDIS_REPLY_STRING)
            ids[nmarked++] = row_ids[i];
        else {
            rc = -1;
            if (replies[i]->type == REDIS_REPLY_ERROR)
                snprintf(r->err, sizeof(r->err), "XADD %.64s: %.80s", keys[i], replies[i]->str);
        }
        freeReplyObject(replies[i]);
    }
    db_rows_free(rows);
    if (nmarked > 0 && outbox_mark_published(db, ids, nmarked) != DB_OK)
        return -2; /* published, not marked: they go out again, and consumers skip them */
    *published = nmarked;
    return rc;
}

int relay_publish_batch(db_t *db, redis_t *r, size_t *published)
{
    return publish(db, r, published, NULL);
}

/*
 * The lock is a session's (GET_LOCK): it is held for as long as the session that took it
 * lives, and this relay never releases it. So once taken it is not asked for again while the
 * connection is the same one (db.reconnects unchanged, still connected): the poll is one
 * statement, not two. A connection that was lost and rebuilt is a new session, which may not
 * hold it: then it is asked for again before anything is published, whether the loss shows
 * before the step or during its read (publish() checks the session after it).
 */
int relay_step(queue_env_t *env, void *arg)
{
    size_t n = 0;
    int same = env->state == 1 && env->db.mysql != NULL && env->db.reconnects == env->state_since;
    int held = same ? 1 : outbox_relay_lock(&env->db);
    if (held < 0) {
        env->state = 0;
        return queue_step_failed(env, -2);
    }
    if ((held ? 1 : 2) != env->state) /* state: 0 unknown, 1 holding, 2 standing by */
        log_info("work: relay: %s",
                 held ? "holds the relay lock; publishing the outbox" : "another relay holds the lock; standing by");
    env->state = held ? 1 : 2;
    env->state_since = env->db.reconnects;
    if (!held)
        return RELAY_STANDBY_MS;
    int rc = publish(&env->db, &env->redis, &n, &env->state_since);
    if (rc == 1) { /* a new session: it asks for the lock before publishing */
        env->state = 0;
        return 0;
    }
    if (rc != 0)
        return queue_step_failed(env, rc);
    if (n > 0)
        log_debug("work: relay: published %zu outbox rows", n);
    return n == OUTBOX_BATCH_MAX ? 0 : RELAY_IDLE_MS;
}
