/*
 * Health and operations: /healthz (the process runs), /readyz (MariaDB and Redis answer),
 * /metrics (Prometheus text). No auth: they are for the load balancer and the monitoring.
 * /healthz and /metrics run inline on the loop thread; /readyz needs the connections and
 * runs on a worker, so it also proves the pool turns over.
 */
#include <jansson.h>
#include <string.h>
#include "server/http/api.h"
#include "handlers/handlers.h"

static void healthz(api_req_t *req, worker_t *w)
{
    api_reply_static(req, 200, "application/json", "{\"status\":\"ok\"}");
}

static void readyz(api_req_t *req, worker_t *w)
{
    int db_ok = db_ping(&w->db) == DB_OK;
    int redis_ok = redis_ping(&w->redis) == 0;
    if (db_ok && redis_ok) {
        api_reply_json(req, 200, json_pack("{s:s, s:s, s:s}", "status", "ready", "mariadb", "ok", "redis", "ok"));
        return;
    }
    const char *down = !db_ok && !redis_ok ? "mariadb and redis are" : !db_ok ? "mariadb is" : "redis is";
    char msg[96];
    snprintf(msg, sizeof(msg), "%s not answering", down);
    json_t *details = json_pack("{s:s, s:s}", "mariadb",
                                db_ok          ? "ok"
                                : w->db.err[0] ? w->db.err
                                               : "down",
                                "redis",
                                redis_ok          ? "ok"
                                : w->redis.err[0] ? w->redis.err
                                                  : "down");
    if (details == NULL) /* an error text that is not UTF-8 */
        details = json_pack("{s:s, s:s}", "mariadb", db_ok ? "ok" : "down", "redis", redis_ok ? "ok" : "down");
    api_reply_error(req, SF_E_UNAVAILABLE, "not_ready", msg, details);
    req->retry_after = 1;
}

static void metrics(api_req_t *req, worker_t *w)
{
    size_t len;
    char *text = api_server_metrics(req->server, &len);
    if (text == NULL) {
        api_reply_error(req, SF_E_INTERNAL, NULL, "could not render the metrics", NULL);
        return;
    }
    api_reply_text(req, 200, "text/plain; version=0.0.4; charset=utf-8", text, len);
}

int health_register(router_t *r)
{
    if (router_add(r, "GET", "/healthz", ROUTE_INLINE, healthz) != 0 ||
        router_add(r, "GET", "/readyz", 0, readyz) != 0 || router_add(r, "GET", "/metrics", ROUTE_INLINE, metrics) != 0)
        return -1;
    return 0;
}
