/*
 * Routes for the end-to-end tests only, registered when test.routes = 1 (never in
 * production): POST /_test/echo sends back the JSON object it was given, so the body
 * checks (size, type, JSON) can be driven through a real route; GET /_test/sleep?ms=N holds
 * a worker for N ms (at most 10 s), so deadlines, a full pool and a draining shutdown can be
 * made to happen on purpose; GET /_test/cached?market=N is a cacheable read whose body
 * counts how often a worker computed it, and POST /_test/bump?market=N bumps that market's
 * catalogue version, so the loop-thread cache can be watched from outside.
 */
#include <jansson.h>
#include <stdlib.h>
#include <time.h>
#include "server/http/api.h"
#include "handlers/handlers.h"
#include "models/cachever.h"

#define TEST_SLEEP_MAX_MS 10000

static void echo(api_req_t *req, worker_t *w)
{
    api_reply_json(req, 200, json_pack("{s:O}", "body", req->body));
}

static void sleep_for(api_req_t *req, worker_t *w)
{
    char buf[16];
    long ms = 0;
    if (api_query(req, "ms", buf, sizeof(buf)) == 1) {
        char *end;
        ms = strtol(buf, &end, 10);
        if (*end != '\0' || ms < 0 || ms > TEST_SLEEP_MAX_MS) {
            api_reply_error(req, SF_E_INVALID, NULL, "ms must be 0 to 10000", NULL);
            return;
        }
    }
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
    api_reply_json(req, 200, json_pack("{s:i}", "slept_ms", (int)ms));
}

static int market_of(api_req_t *req, int64_t *market)
{
    char buf[24];
    char *end;
    if (api_query(req, "market", buf, sizeof(buf)) != 1 || (*market = strtoll(buf, &end, 10)) <= 0 || *end != '\0') {
        api_reply_error(req, SF_E_INVALID, NULL, "market must be a positive integer", NULL);
        return -1;
    }
    return 0;
}

static void cached(api_req_t *req, worker_t *w)
{
    int64_t market;
    if (market_of(req, &market) != 0)
        return;
    if (cachever_get(&w->redis, market, &req->cache_version) == 0)
        req->cache_market = market;
    redisReply *rep = redis_cmd(&w->redis, "INCR test:cached:%lld", (long long)market);
    long long computed = rep != NULL && rep->type == REDIS_REPLY_INTEGER ? rep->integer : -1;
    if (rep != NULL)
        freeReplyObject(rep);
    api_reply_json(req, 200, json_pack("{s:I, s:I}", "market", (json_int_t)market, "computed", (json_int_t)computed));
}

static void bump(api_req_t *req, worker_t *w)
{
    int64_t market;
    if (market_of(req, &market) != 0)
        return;
    uint64_t version;
    if (cachever_bump(&w->redis, market, &version) != 0) {
        api_reply_error(req, SF_E_UNAVAILABLE, NULL, "redis is not answering", NULL);
        return;
    }
    api_cache_bumped(req, market, version);
    api_reply_json(req, 200, json_pack("{s:I}", "market", (json_int_t)market));
}

int testing_register(router_t *r)
{
    if (router_add(r, "POST", "/_test/echo", ROUTE_BODY_JSON, echo) != 0 ||
        router_add(r, "GET", "/_test/sleep", 0, sleep_for) != 0 ||
        router_add(r, "GET", "/_test/cached", ROUTE_CACHED, cached) != 0 ||
        router_add(r, "POST", "/_test/bump", 0, bump) != 0)
        return -1;
    return 0;
}
