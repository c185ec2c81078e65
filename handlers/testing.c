/*
 * Routes for the end-to-end tests only, registered when test.routes = 1 (never in
 * production): POST /_test/echo sends back the JSON object it was given, so the body
 * checks (size, type, JSON) can be driven through a real route; GET /_test/sleep?ms=N holds
 * a worker for N ms (at most 10 s), so deadlines, a full pool and a draining shutdown can be
 * made to happen on purpose.
 */
#include <jansson.h>
#include <stdlib.h>
#include <time.h>
#include "api.h"
#include "handlers.h"

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

int testing_register(router_t *r)
{
    if (router_add(r, "POST", "/_test/echo", ROUTE_BODY_JSON, echo) != 0 ||
        router_add(r, "GET", "/_test/sleep", 0, sleep_for) != 0)
        return -1;
    return 0;
}
