/*
 * Catalogue versions in Redis (see cachever.h): key cat:ver:<market>, channel
 * CACHEVER_CHANNEL with the message "<market>:<version>".
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include "models/cachever.h"

void cachever_key(char *buf, size_t len, int64_t market_id)
{
    snprintf(buf, len, "cat:ver:%lld", (long long)market_id);
}

int cachever_get(redis_t *r, int64_t market_id, uint64_t *ver)
{
    redisReply *rep = redis_cmd(r, "GET cat:ver:%lld", (long long)market_id);
    if (rep == NULL || (rep->type != REDIS_REPLY_STRING && rep->type != REDIS_REPLY_NIL)) {
        if (rep != NULL)
            freeReplyObject(rep);
        return -1;
    }
    *ver = rep->type == REDIS_REPLY_STRING ? strtoull(rep->str, NULL, 10) : 0;
    freeReplyObject(rep);
    return 0;
}

int64_t cachever_tag(redis_t *r, int64_t market_id, uint64_t *ver)
{
    return cachever_get(r, market_id, ver) == 0 ? market_id : 0;
}

int cachever_bump(redis_t *r, int64_t market_id, uint64_t *version)
{
    redisReply *rep = redis_cmd(r, "INCR cat:ver:%lld", (long long)market_id);
    if (rep == NULL || rep->type != REDIS_REPLY_INTEGER) {
        if (rep != NULL)
            freeReplyObject(rep);
        return -1;
    }
    long long ver = rep->integer;
    freeReplyObject(rep);
    if (version != NULL)
        *version = (uint64_t)ver;
    rep = redis_cmd(r, "PUBLISH %s %lld:%lld", CACHEVER_CHANNEL, (long long)market_id, ver);
    if (rep == NULL)
        return -1;
    freeReplyObject(rep);
    return 0;
}
