/*
 * Test support (see testutil.h). Used from the test's main thread, or from threads that
 * each make their own requests: nothing here is shared between calls, except the table of
 * the ports of the servers this process started (below), which only decides what is
 * recorded.
 *
 * Every answer that t_request gets from one of our own servers is appended as one JSON
 * line to $STALLFRONT_TEST_VAR/responses/<test binary>-<pid>.jsonl; after the e2e tests,
 * tests/schema/check_openapi.py validates each against docs/openapi.yaml, so a drift
 * between the server and the document fails the run. Answers from the tests' fake
 * providers (other ports) are not ours to check and are not recorded.
 */
#include <arpa/inet.h>
#include <check.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdint.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "tests/support/dbtest.h"
#include "tests/support/testutil.h"

extern char **environ;

#define T_BODY_MAX (16u << 20) /* no answer in these tests comes near this */

/* The ports (plain and TLS) of the servers this process started and has not stopped: the
 * answers recorded for the schema check are those from these ports. A forked Check test
 * inherits its parent's table; threads that make requests only read it. */
#define T_OUR_PORTS_MAX 64
static int our_ports[T_OUR_PORTS_MAX];
static pthread_mutex_t our_ports_lock = PTHREAD_MUTEX_INITIALIZER;

static void our_ports_set(int port, int add)
{
    pthread_mutex_lock(&our_ports_lock);
    for (size_t i = 0; i < T_OUR_PORTS_MAX; i++) {
        if (add ? our_ports[i] == 0 : our_ports[i] == port) {
            our_ports[i] = add ? port : 0;
            break;
        }
    }
    pthread_mutex_unlock(&our_ports_lock);
}

static int our_port(int port)
{
    int found = 0;
    pthread_mutex_lock(&our_ports_lock);
    for (size_t i = 0; i < T_OUR_PORTS_MAX && !found; i++)
        found = port > 0 && our_ports[i] == port;
    pthread_mutex_unlock(&our_ports_lock);
    return found;
}

const char *t_env(const char *name)
{
    const char *v = getenv(name);
    ck_assert_msg(v != NULL && *v != '\0', "%s is not set: run the tests through scripts/dev test", name);
    return v;
}

int t_free_port(void)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof(sa);
    if (fd < 0 || bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(fd, (struct sockaddr *)&sa, &len) != 0) {
        if (fd >= 0)
            close(fd);
        return -1;
    }
    close(fd);
    return ntohs(sa.sin_port);
}

const char *t_base(const tserver_t *s, tproto_t proto)
{
    return proto == T_H2TLS || proto == T_H1TLS ? s->tls_base : s->base;
}

void t_sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

uint64_t t_mono_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int tserver_start(tserver_t *s, const char *const *env)
{
    memset(s, 0, sizeof(*s));
    s->port = t_free_port();
    s->tls_port = t_free_port();
    snprintf(s->base, sizeof(s->base), "http://127.0.0.1:%d", s->port);
    snprintf(s->tls_base, sizeof(s->tls_base), "https://127.0.0.1:%d", s->tls_port);
    const char *var = t_env("STALLFRONT_TEST_VAR");
    snprintf(s->log_path, sizeof(s->log_path), "%s/server-%d-%d.log", var, (int)getpid(), s->port);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char listen[64], tls[64];
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test never leaves a server behind */
        snprintf(listen, sizeof(listen), "127.0.0.1:%d", s->port);
        snprintf(tls, sizeof(tls), "127.0.0.1:%d", s->tls_port);
        setenv("STALLFRONT_HTTP_LISTEN", listen, 1);
        setenv("STALLFRONT_TLS_LISTEN", tls, 1);
        setenv("STALLFRONT_LOG_ACCESS", s->log_path, 1);
        setenv("STALLFRONT_HTTP_THREADS", "2", 0);
        setenv("STALLFRONT_POOL_WORKERS", "4", 0);
        /* Test binaries run side by side, all from 127.0.0.1, on one Redis: the per-address
         * sign-in throttle would let one suite's wrong passwords lock out another's. Suites
         * that test the throttle set their own limit (and use a private Redis). */
        setenv("STALLFRONT_AUTH_LOGIN_MAX_FAILURES", "1000", 0);
        setenv("STALLFRONT_AUTH_LOGIN_MAX_FAILURES_PER_ADDRESS", "100000", 0);
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        FILE *f = freopen(s->log_path, "a", stderr);
        (void)f;
        execl(SF_BINARY, SF_BINARY, "serve", (char *)NULL);
        _exit(127);
    }
    s->pid = pid;
    char url[128];
    snprintf(url, sizeof(url), "%s/healthz", s->base);
    for (int i = 0; i < 200; i++) { /* up to 20 s: slow under the sanitizers */
        tresp_t r;
        if (t_request(T_HTTP1, "GET", url, NULL, NULL, 0, &r) == 0 && r.status == 200) {
            t_resp_free(&r);
            our_ports_set(s->port, 1);
            our_ports_set(s->tls_port, 1);
            return 0;
        }
        t_resp_free(&r);
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            s->pid = 0;
            return -1;
        }
        t_sleep_ms(100);
    }
    tserver_stop(s, SIGKILL);
    return -1;
}

int tserver_stop(tserver_t *s, int sig)
{
    if (s->pid <= 0)
        return -1;
    our_ports_set(s->port, 0);
    our_ports_set(s->tls_port, 0);
    if (sig != 0)
        kill(s->pid, sig);
    int st = 0;
    while (waitpid(s->pid, &st, 0) < 0 && errno == EINTR)
        ;
    s->pid = 0;
    if (WIFEXITED(st))
        return WEXITSTATUS(st);
    return 128 + WTERMSIG(st);
}

typedef struct {
    char *p;
    size_t len;
} buf_t;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    buf_t *b = ud;
    size_t add = size * n;
    if (b->len + add > T_BODY_MAX)
        return 0;
    char *np = realloc(b->p, b->len + add + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->len, ptr, add);
    b->p = np;
    b->len += add;
    b->p[b->len] = '\0';
    return add;
}

/* The port and the path (with its query) of an http(s)://127.0.0.1:PORT/... URL; -1 for
 * any other URL. */
static int split_url(const char *url, const char **path)
{
    const char *p = strstr(url, "://");
    if (p == NULL || strncmp(p + 3, "127.0.0.1:", 10) != 0)
        return -1;
    char *end;
    long port = strtol(p + 13, &end, 10);
    if (end == p + 13 || port <= 0 || port > 65535)
        return -1;
    *path = *end == '\0' ? "/" : end;
    return *end == '\0' || *end == '/' ? (int)port : -1;
}

/* Appends one line with O_APPEND and a single write, so threads and forked tests that
 * share the file never interleave their lines. */
static void append_line(const char *path, const char *line)
{
    int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
    if (fd < 0)
        return;
    size_t len = strlen(line);
    ssize_t n = write(fd, line, len);
    (void)n; /* a lost record shows as a missing one; it never hides a drift */
    close(fd);
}

/* Records the answer to a request to one of our servers (see the top of this file). The
 * body goes as a JSON string, or null (with body_utf8: false) when it is not UTF-8. */
static void record_response(const char *method, const char *url, const tresp_t *r)
{
    const char *var = getenv("STALLFRONT_TEST_VAR"), *path = NULL;
    if (var == NULL || *var == '\0' || !our_port(split_url(url, &path)))
        return;
    char dir[512], file[768], ctype[256];
    snprintf(dir, sizeof(dir), "%s/responses", var);
    if (mkdir(dir, 0755) != 0 && errno != EEXIST)
        return;
    snprintf(file, sizeof(file), "%s/%s-%d.jsonl", dir, program_invocation_short_name, (int)getpid());
    json_t *body = json_stringn(r->body, r->len);
    const char *ct = t_header(r, "content-type", ctype, sizeof(ctype));
    json_t *rec =
        json_pack("{s:s, s:s, s:I, s:s?, s:o, s:b}", "method", method, "path", path, "status", (json_int_t)r->status,
                  "content_type", ct, "body", body != NULL ? body : json_null(), "body_utf8", body != NULL);
    char *line = rec != NULL ? json_dumps(rec, JSON_COMPACT) : NULL;
    if (line != NULL) {
        size_t n = strlen(line);
        char *nl = realloc(line, n + 2);
        if (nl != NULL) {
            memcpy(nl + n, "\n", 2);
            append_line(file, nl);
            line = nl;
        }
    }
    free(line);
    json_decref(rec);
}

int t_request(tproto_t proto, const char *method, const char *url, const char *const *headers, const char *body,
              size_t len, tresp_t *out)
{
    memset(out, 0, sizeof(*out));
    CURL *c = curl_easy_init();
    if (c == NULL)
        return -1;
    buf_t b = {0}, h = {0};
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hl = curl_slist_append(hl, headers[i]);
    hl = curl_slist_append(hl, "Expect:");
    curl_easy_setopt(c, CURLOPT_URL, url);
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    long ver = proto == T_H2C         ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
               : proto == T_H2TLS     ? CURL_HTTP_VERSION_2TLS
               : proto == T_H2UPGRADE ? CURL_HTTP_VERSION_2_0
                                      : CURL_HTTP_VERSION_1_1;
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, ver);
    if (body != NULL) {
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
    }
    CURLcode rc = curl_easy_perform(c);
    if (rc == CURLE_OK) {
        curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
        curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &out->version);
    }
    out->body = b.p != NULL ? b.p : strdup("");
    out->len = b.len;
    out->headers = h.p != NULL ? h.p : strdup("");
    curl_slist_free_all(hl);
    curl_easy_cleanup(c);
    if (rc == CURLE_OK)
        record_response(method, url, out);
    return rc == CURLE_OK ? 0 : -1;
}

const char *t_header(const tresp_t *r, const char *name, char *buf, size_t buflen)
{
    size_t n = strlen(name);
    for (const char *line = r->headers; line != NULL && *line != '\0';) {
        const char *eol = strchr(line, '\n');
        size_t len = eol != NULL ? (size_t)(eol - line) : strlen(line);
        if (len > n && line[n] == ':' && strncasecmp(line, name, n) == 0) {
            const char *v = line + n + 1;
            while (*v == ' ')
                v++;
            size_t vlen = (size_t)(line + len - v);
            while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == ' '))
                vlen--;
            snprintf(buf, buflen, "%.*s", (int)vlen, v);
            return buf;
        }
        line = eol != NULL ? eol + 1 : NULL;
    }
    return NULL;
}

json_t *t_json_text(const char *text)
{
    json_error_t err;
    json_t *v = json_loads(text, JSON_ALLOW_NUL, &err);
    ck_assert_msg(v != NULL, "bad test JSON %s: %s", text, err.text);
    return v;
}

json_t *t_json(const tresp_t *r)
{
    return json_loadb(r->body, r->len, 0, NULL);
}

int t_is_error(const tresp_t *r, const char *code)
{
    json_t *doc = t_json(r);
    json_t *err = json_object_get(doc, "error");
    int ok = json_is_object(err) && json_is_string(json_object_get(err, "message")) &&
             json_is_object(json_object_get(err, "details")) && json_is_string(json_object_get(err, "code")) &&
             (code == NULL || strcmp(json_string_value(json_object_get(err, "code")), code) == 0);
    json_decref(doc);
    return ok;
}

void t_resp_free(tresp_t *r)
{
    free(r->body);
    free(r->headers);
    r->body = r->headers = NULL;
}

int t_can_connect(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = {
        .sin_family = AF_INET, .sin_port = htons((uint16_t)port), .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    int ok = fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0;
    if (fd >= 0)
        close(fd);
    return ok;
}

pid_t t_redis_start(int port, const char *password)
{
    char portbuf[16], dir[512], logfile[600];
    snprintf(portbuf, sizeof(portbuf), "%d", port);
    const char *var = getenv("STALLFRONT_TEST_VAR"); /* no assertion: t_isolate calls this outside any test */
    snprintf(dir, sizeof(dir), "%s", var != NULL && var[0] != '\0' ? var : "/tmp");
    snprintf(logfile, sizeof(logfile), "%s/redis-%d.log", dir, port);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test never leaves a Redis behind */
        execlp("redis-server", "redis-server", "--port", portbuf, "--bind", "127.0.0.1", "--save", "", "--appendonly",
               "no", "--dir", dir, "--logfile", logfile, password != NULL ? "--requirepass" : NULL, password,
               (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 200; i++) {
        if (t_can_connect(port))
            return pid;
        t_sleep_ms(25);
    }
    t_redis_stop(pid);
    return -1;
}

void t_redis_stop(pid_t pid)
{
    if (pid <= 0)
        return;
    kill(pid, SIGTERM);
    while (waitpid(pid, NULL, 0) < 0 && errno == EINTR)
        ;
}

int t_run(Suite *s, int nofork)
{
    SRunner *sr = srunner_create(s);
    if (nofork)
        srunner_set_fork_status(sr, CK_NOFORK);
    srunner_run_all(sr, CK_NORMAL);
    int failed = srunner_ntests_failed(sr);
    srunner_free(sr);
    return failed;
}

int t_sh(const char *fmt, ...)
{
    char cmd[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(cmd, sizeof(cmd), fmt, ap);
    va_end(ap);
    fflush(NULL);
    int st = system(cmd);
    return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

int t_work_logged(const twork_t *w, const char *text)
{
    char line[2048];
    int found = 0;
    FILE *f = fopen(w->log_path, "r");
    while (f != NULL && !found && fgets(line, sizeof(line), f) != NULL)
        found = strstr(line, text) != NULL;
    if (f != NULL)
        fclose(f);
    return found;
}

int t_work_start(twork_t *w, const char *const *env, const char *const *args)
{
    const char *argv[16] = {SF_BINARY, "work"};
    size_t argc = 2;
    for (size_t i = 0; args != NULL && args[i] != NULL && argc < 15; i++)
        argv[argc++] = args[i];
    memset(w, 0, sizeof(*w));
    const char *var = t_env("STALLFRONT_TEST_VAR");
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0)
        return -1;
    if (pid == 0) {
        char path[512];
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* a failed test never leaves a worker behind */
        snprintf(path, sizeof(path), "%s/work-%d.log", var, (int)getpid());
        for (size_t i = 0; env != NULL && env[i] != NULL; i++)
            putenv((char *)env[i]);
        FILE *f = freopen(path, "w", stderr);
        (void)f;
        execv(SF_BINARY, (char *const *)argv);
        _exit(127);
    }
    w->pid = pid;
    snprintf(w->log_path, sizeof(w->log_path), "%s/work-%d.log", var, (int)pid);
    for (int i = 0; i < 200; i++) { /* up to 20 s: slow under the sanitizers */
        if (t_work_logged(w, "work: running"))
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            w->pid = 0;
            return -1;
        }
        t_sleep_ms(100);
    }
    t_work_stop(w, SIGKILL);
    return -1;
}

int t_work_stop(twork_t *w, int sig)
{
    if (w->pid <= 0)
        return -1;
    if (sig != 0)
        kill(w->pid, sig);
    int st = 0;
    while (waitpid(w->pid, &st, 0) < 0 && errno == EINTR)
        ;
    w->pid = 0;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

int t_main_shared(Suite *su, const char *isolate, const tserver_t *shared, const int *shared_exit)
{
    t_iso_t iso = {0};
    if (isolate != NULL && t_isolate(&iso, isolate) != 0) {
        srunner_free(srunner_create(su)); /* frees the suite */
        return 1;
    }
    curl_global_init(CURL_GLOBAL_ALL);
    int failed = t_run(su, 0);
    curl_global_cleanup();
    if (*shared_exit != 0) {
        fprintf(stderr, "the shared server exited with %d: see %s\n", *shared_exit, shared->log_path);
        failed++;
    }
    if (isolate != NULL)
        t_isolate_end(&iso);
    return failed == 0 ? 0 : 1;
}
