/*
 * The HTTP server: N event-loop threads (libh2o-evloop), each with its own SO_REUSEPORT
 * listeners for plain HTTP (HTTP/1.1, h2c by prior knowledge and by Upgrade) and TLS (ALPN
 * h2 and http/1.1). A loop thread parses, routes, checks sizes and limits, and either runs
 * an inline handler or hands a copy of the request to the worker pool; the answer comes
 * back through the thread's multithread queue and only that thread writes it, if the
 * client is still there (see the guard in http.c).
 *
 * Lifecycle, all from the main thread: http_server_new → http_server_start → (signal) →
 * http_server_shutdown (stop accepting, GOAWAY, drain in-flight work, join) → free.
 */
#ifndef SF_HTTP_H
#define SF_HTTP_H

#include <stddef.h>
#include "models/base/config.h"
#include "server/http/pool.h"
#include "server/http/router.h"
#include "server/http/statpoll.h"

typedef struct api_server http_server_t;

/* Binds the listeners and loads TLS. NULL with errbuf on failure (port in use, bad cert). */
http_server_t *http_server_new(const config_t *cfg, const router_t *routes, pool_t *pool, char *errbuf, size_t errlen);

/* Adds a poller's text to /metrics (call before http_server_start; the poller must outlive
 * the server). */
void http_server_set_stats(http_server_t *s, statpoll_t *stats);

/* Starts the loop threads and waits until each is ready. 0, or -1 if a thread could not be
 * started (then call http_server_shutdown() to stop those that did). */
int http_server_start(http_server_t *s);

/* Stops accepting, lets in-flight requests finish (up to shutdown.grace_s), joins the loop
 * threads. Returns the number of requests that were still unanswered when time ran out. */
size_t http_server_shutdown(http_server_t *s);

/* Frees the server. Returns 0 if connections were still open after the shutdown: then their
 * memory is left for the process exit to reclaim (freeing it under them would be a crash). */
int http_server_free(http_server_t *s);

#endif
