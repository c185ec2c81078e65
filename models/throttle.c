/*
 * Failure counters (see throttle.h). A failure runs `SET key 0 EX window NX` and `INCR key`
 * in one MULTI block, so a counter never exists without its expiry (INCR keeps the TTL of
 * the key, and the block cannot be cut between the two).
 */
#include <stdlib.h>
#include "models/throttle.h"

static int64_t reply_int(const redisReply *rep)
{
    if (rep->type == REDIS_REPLY_INTEGER)
        return rep->integer;
    if (rep->type == REDIS_REPLY_STRING)
        return strtoll(rep->str, NULL, 10);
    return 0;
}

int throttle_over(redis_t *r, const char *key, int max, int *retry_after)
{
    redisReply *rep = redis_cmd(r, "GET %s", key);
    int rc = -1;
    if (rep == NULL || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL))
        goto out;
    rc = rep->type == REDIS_REPLY_STRING && reply_int(rep) >= max;
    if (rc == 1) {
        freeReplyObject(rep);
        rep = redis_cmd(r, "TTL %s", key);
        if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
            rc = -1;
            goto out;
        }
        *retry_after = rep->integer > 0 ? (int)rep->integer : 1;
    }
out:
    if (rep != NULL)
        freeReplyObject(rep);
    return rc;
}

static int ok_reply(redisReply *rep)
{
    int ok = rep != NULL && rep->type != REDIS_REPLY_ERROR;
    if (rep != NULL)
        freeReplyObject(rep);
    return ok ? 0 : -1;
}

int throttle_fail(redis_t *r, const char *key, int window_s)
{
    if (ok_reply(redis_cmd(r, "MULTI")) != 0)
        return -1;
    if (ok_reply(redis_cmd(r, "SET %s 0 EX %d NX", key, window_s)) != 0 ||
        ok_reply(redis_cmd(r, "INCR %s", key)) != 0) {
        ok_reply(redis_cmd(r, "DISCARD"));
        return -1;
    }
    redisReply *exec = redis_cmd(r, "EXEC");
    int rc = exec != NULL && exec->type == REDIS_REPLY_ARRAY && exec->elements == 2 &&
                     exec->element[1]->type == REDIS_REPLY_INTEGER
                 ? 0
                 : -1;
    if (exec != NULL)
        freeReplyObject(exec);
    return rc;
}

int throttle_clear(redis_t *r, const char *key)
{
    return ok_reply(redis_cmd(r, "DEL %s", key));
}
