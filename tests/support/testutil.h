/*
 * Test support: start the real `stallfront` binary on free ports and talk to it over real
 * HTTP (HTTP/1.1, h2c with prior knowledge, TLS h2) through libcurl. The database and Redis
 * coordinates come from the STALLFRONT_* environment that `scripts/dev test` exports; a
 * test that needs them and finds them missing fails (it never skips silently).
 */
#ifndef SF_TESTUTIL_H
#define SF_TESTUTIL_H

#include <check.h>
#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

typedef struct tserver {
    pid_t pid;
    int port, tls_port;
    char base[64];      /* http://127.0.0.1:PORT */
    char tls_base[64];  /* https://127.0.0.1:PORT */
    char log_path[512]; /* the server's stderr and access log */
} tserver_t;

/* T_H2UPGRADE: HTTP/1.1 with `Upgrade: h2c`, answered over HTTP/2. */
typedef enum { T_HTTP1, T_H2C, T_H2TLS, T_H1TLS, T_H2UPGRADE } tproto_t;

typedef struct tresp {
    long status;
    long version; /* CURL_HTTP_VERSION_* of the answer: 2 = HTTP/1.1, 3 = HTTP/2 */
    char *body;
    size_t len;
    char *headers; /* raw header block, lower-cased names */
} tresp_t;

/* Fails the running Check test unless the variable is set; returns its value. */
const char *t_env(const char *name);

/* A TCP port nobody listens on right now. */
int t_free_port(void);

/* Sleeps ms milliseconds; the monotonic clock in milliseconds (for polling with a bound,
 * never for asserting speed). */
void t_sleep_ms(long ms);
uint64_t t_mono_ms(void);

/* Starts `stallfront serve` with the test environment plus `env` ("KEY=VALUE", NULL-ended),
 * on fresh ports, and waits (bounded) until /healthz answers. 0 or -1. */
int tserver_start(tserver_t *s, const char *const *env);

/* Sends sig (0: none) and waits for the exit; returns the exit status (or 128+signal). */
int tserver_stop(tserver_t *s, int sig);

/* One request. headers: NULL-ended "Name: value" lines (may be NULL). body may be NULL.
 * An answer from a server that tserver_start started in this process is also recorded
 * under $STALLFRONT_TEST_VAR/responses/ for the response-schema check (testutil.c). */
int t_request(tproto_t proto, const char *method, const char *url, const char *const *headers, const char *body,
              size_t len, tresp_t *out);

/* Header value of the answer (first match, case-insensitive name), copied into buf; NULL if absent. */
const char *t_header(const tresp_t *r, const char *name, char *buf, size_t buflen);

/* A test's own JSON text parsed (NUL escapes allowed, so bodies can carry them); fails the
 * test on a typo in it. The caller decrefs. */
json_t *t_json_text(const char *text);

/* The answer parsed as JSON (caller decrefs), or NULL. */
json_t *t_json(const tresp_t *r);

/* 1 if the body is the API's error shape with this code. */
int t_is_error(const tresp_t *r, const char *code);

void t_resp_free(tresp_t *r);

/* The base URL of a server for a protocol. */
const char *t_base(const tserver_t *s, tproto_t proto);

/* Starts a private redis-server on port (no persistence; password may be NULL) as a child
 * that dies with this process, and waits (bounded) until it accepts connections. Returns
 * its pid, or -1. */
pid_t t_redis_start(int port, const char *password);

/* 1 if something accepts TCP connections on 127.0.0.1:port. */
int t_can_connect(int port);

/* Stops it (SIGTERM) and reaps it. */
void t_redis_stop(pid_t pid);

/* The main() of an end-to-end binary whose tests share one server, started and stopped by an
 * unchecked fixture that records its exit status in *shared_exit: runs su (with curl set up),
 * in a world of its own when isolate names one (t_isolate in dbtest.h: for the binaries that
 * run `stallfront work`), and fails when a test failed or the shared server did not exit
 * cleanly (naming its log). The process's exit status. */
int t_main_shared(Suite *su, const char *isolate, const tserver_t *shared, const int *shared_exit);

/* Runs a suite (in Check's default fork mode unless nofork) and frees it; returns the
 * number of failed tests. */
int t_run(Suite *s, int nofork);

/* Runs a shell command, returns its exit status. */
int t_sh(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* A running `stallfront work` (see t_work_start). */
typedef struct twork {
    pid_t pid;
    char log_path[512]; /* its stderr */
} twork_t;

/* Starts `stallfront work` with the test environment plus `env` ("KEY=VALUE", NULL-ended,
 * may be NULL) and the extra arguments `args` (NULL-ended, may be NULL, e.g. "--only",
 * "sweep"), as a child that dies with this process, and waits (bounded) until it logs that
 * its jobs run. 0 or -1. */
int t_work_start(twork_t *w, const char *const *env, const char *const *args);

/* Sends sig (0: none) and waits for the exit; the exit status (or 128+signal). */
int t_work_stop(twork_t *w, int sig);

/* 1 if the work's log has a line containing text. */
int t_work_logged(const twork_t *w, const char *text);

#endif
