/*
 * `stallfront serve`: the HTTP API. Starts the worker pool, the loop threads and the queue
 * figures /metrics shows, then waits for SIGTERM or SIGINT on this thread and drains.
 */
#include <signal.h>
#include <unistd.h>
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "server/cli/cli.h"
#include "server/http/http.h"
#include "server/http/pool.h"
#include "server/http/router.h"
#include "server/http/statpoll.h"
#include "workers/qstats.h"

/* How often serve refreshes the queue figures /metrics shows. */
#define STATS_INTERVAL_MS 5000

static int run(const config_t *cfg, int argc, char **argv)
{
    sigset_t set;
    int sig, rc = 1;
    char err[512];
    router_t routes;
    pool_t *pool = NULL;
    http_server_t *srv = NULL;
    statpoll_t *stats = NULL;

    if (argc > 0)
        return cli_usage_error("serve", argv[0]);
    cli_block_signals(&set);
    router_init(&routes);
    if (handlers_register_all(&routes, cfg) != 0) {
        log_error("route table is invalid (a duplicate or malformed pattern)");
        goto out;
    }
    if ((pool = pool_new(cfg, (size_t)cfg->pool_workers, (size_t)cfg->pool_queue)) == NULL || pool_start(pool) != 0) {
        log_error("cannot start the worker pool");
        goto out;
    }
    if ((srv = http_server_new(cfg, &routes, pool, err, sizeof(err))) == NULL) {
        log_error("%s", err);
        goto out;
    }
    /* Queue lag, dead letters and the outbox backlog for /metrics, off the loop threads. */
    if ((stats = statpoll_start(cfg, qstats_render_all, STATS_INTERVAL_MS)) != NULL)
        http_server_set_stats(srv, stats);
    if (http_server_start(srv) != 0) {
        log_error("cannot start the loop threads");
        http_server_shutdown(srv);
        goto out;
    }
    log_info("serving http (HTTP/1.1, h2c) on %s%s%s; %d workers", cfg->http_listen,
             cfg->tls_listen[0] ? " and TLS (h2, http/1.1) on " : "", cfg->tls_listen, cfg->pool_workers);
    sigwait(&set, &sig);
    log_info("received %s: draining (up to %d s)", sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg->shutdown_grace_s);
    size_t left = http_server_shutdown(srv);
    statpoll_stop(stats); /* after the loops: /metrics reads it */
    stats = NULL;
    if (left > 0)
        log_warn("%zu requests were still unanswered when the grace period ended", left);
    rc = 0;
out:
    statpoll_stop(stats); /* only set here when start-up failed after starting it */
    if (srv != NULL && http_server_free(srv) == 0) {
        /* Connections were still open: their memory belongs to h2o until the process ends. */
        log_info("stopped with connections still open");
        pool_free(pool);
        router_free(&routes);
        fflush(NULL);
        _exit(rc);
    }
    pool_free(pool);
    router_free(&routes);
    if (rc == 0)
        log_info("stopped cleanly");
    return rc;
}

const cli_command_t cli_serve = {
    .name = "serve",
    .summary = "serve the HTTP API (HTTP/1.1, h2c, TLS h2) until SIGTERM",
    .usage = "Runs the event-loop threads and the worker pool. SIGTERM or SIGINT stops accepting, lets\n"
             "in-flight requests finish (shutdown.grace_s) and exits 0.\n",
    .run = run,
};
