/*
 * Catalogue versions in Redis (see cachever.h): key cat:ver:<market>, channel
 * CACHEVER_CHANNEL with the message "<market>:<version>" (hard) or "<market>:<version>:s"
 * (stock). A hard bump keeps the format older servers read.
 */
#include <inttypes.h>
#include <stdio.h>
#include <stdint.h>
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

static int bump(redis_t *r, int64_t market_id, uint64_t *version, const char *suffix)
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
    rep = redis_cmd(r, "PUBLISH %s %lld:%lld%s", CACHEVER_CHANNEL, (long long)market_id, ver, suffix);
    if (rep == NULL)
        return -1;
    freeReplyObject(rep);
    return 0;
}

int cachever_bump(redis_t *r, int64_t market_id, uint64_t *version)
{
    return bump(r, market_id, version, "");
}

int cachever_bump_stock(redis_t *r, int64_t market_id, uint64_t *version)
{
    return bump(r, market_id, version, ":s");
}

/* Digits only, at least one, no overflow past INT64_MAX: the value into *v, the end returned. */
static const char *digits(const char *p, const char *end, uint64_t *v)
{
    const char *start = p;
    *v = 0;
    for (; p < end && *p >= '0' && *p <= '9'; p++) {
        if (*v > ((uint64_t)INT64_MAX - (uint64_t)(*p - '0')) / 10)
            return NULL;
        *v = *v * 10 + (uint64_t)(*p - '0');
    }
    return p > start ? p : NULL;
}

int cachever_parse(const char *msg, size_t len, int64_t *market_id, uint64_t *version, int *stock)
{
    const char *end = msg + len;
    uint64_t m, v;
    const char *p = digits(msg, end, &m);
    if (p == NULL || m == 0 || p == end || *p != ':' || (p = digits(p + 1, end, &v)) == NULL)
        return -1;
    if (p == end)
        *stock = 0;
    else if (end - p == 2 && p[0] == ':' && (p[1] == 's' || p[1] == 'h'))
        *stock = p[1] == 's';
    else
        return -1;
    *market_id = (int64_t)m;
    *version = v;
    return 0;
}
