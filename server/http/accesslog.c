/*
 * Buffered JSON-lines access log, one per loop thread (see accesslog.h). O_APPEND writes
 * of whole lines keep lines from several threads sharing one file from interleaving.
 */
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <sys/time.h>
#include <time.h>
#include <unistd.h>
#include "server/http/accesslog.h"

#define ACCESSLOG_BUF      (64 * 1024) /* one write per this much */
#define ACCESSLOG_FLUSH_AT (48 * 1024)
#define ACCESSLOG_LINE_MAX 4096 /* a line is a few hundred bytes; a longer one is dropped */

/* The fields of a line, in the order they are written. */
enum { F_TIME, F_ID, F_METHOD, F_PATH, F_ROUTE, F_PROTO, F_PEER, F_STATUS, F_DURATION, F_ERROR, F__COUNT };
static const char *const field_names[F__COUNT] = {"time",     "request_id", "method", "path",        "route",
                                                  "protocol", "peer",       "status", "duration_us", "error"};

static int make_line(accesslog_t *log)
{
    if ((log->line = json_object()) == NULL)
        return -1;
    for (int f = 0; f < F__COUNT; f++) {
        json_t *v = f == F_STATUS || f == F_DURATION ? json_integer(0) : json_string("");
        if (v == NULL || json_object_set_new(log->line, field_names[f], v) != 0)
            return -1;
        log->v[f] = v; /* borrowed: the object holds the reference */
    }
    return 0;
}

int accesslog_open(accesslog_t *log, const char *target)
{
    memset(log, 0, sizeof(*log));
    log->fd = -1;
    log->stamp_sec = -1;
    if (strcmp(target, "off") == 0)
        return 0;
    if (strcmp(target, "-") == 0)
        log->fd = dup(STDOUT_FILENO);
    else
        log->fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log->fd < 0)
        return -1;
    if ((log->buf = malloc(ACCESSLOG_BUF)) == NULL || make_line(log) != 0) {
        accesslog_close(log);
        errno = ENOMEM;
        return -1;
    }
    log->cap = ACCESSLOG_BUF;
    return 0;
}

void accesslog_flush(accesslog_t *log)
{
    size_t off = 0;
    while (off < log->len) {
        ssize_t n = write(log->fd, log->buf + off, log->len - off);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            log->dropped++;
            break;
        }
        off += (size_t)n;
    }
    log->len = 0;
}

/* UTC time with milliseconds; the calendar part is formatted once per second. */
static void timestamp(accesslog_t *log, char *out, size_t outlen)
{
    struct timeval tv;
    gettimeofday(&tv, NULL);
    if (tv.tv_sec != log->stamp_sec) {
        struct tm tm;
        gmtime_r(&tv.tv_sec, &tm);
        strftime(log->stamp, sizeof(log->stamp), "%Y-%m-%dT%H:%M:%S", &tm);
        log->stamp_sec = tv.tv_sec;
    }
    snprintf(out, outlen, "%s.%03ldZ", log->stamp, (long)(tv.tv_usec / 1000));
}

/* Network text (the path, the request id) goes through the checking setter: a value that
 * is not UTF-8 is replaced, never written raw. */
static void set_text(json_t *v, const char *s, size_t max)
{
    size_t n = strlen(s);
    if (json_string_setn(v, s, n > max ? max : n) != 0)
        json_string_set(v, "(not utf-8)");
}

void accesslog_write(accesslog_t *log, const accesslog_entry_t *e)
{
    if (log->fd < 0)
        return;
    char ts[64];
    timestamp(log, ts, sizeof(ts));
    json_string_set_nocheck(log->v[F_TIME], ts);
    set_text(log->v[F_ID], e->request_id, 128);
    set_text(log->v[F_METHOD], e->method, 16);
    set_text(log->v[F_PATH], e->path, 512);
    set_text(log->v[F_ROUTE], e->route != NULL ? e->route : "", 256);
    json_string_set_nocheck(log->v[F_PROTO], e->protocol);
    set_text(log->v[F_PEER], e->peer, 64);
    json_integer_set(log->v[F_STATUS], e->status);
    json_integer_set(log->v[F_DURATION], (json_int_t)e->duration_us);
    set_text(log->v[F_ERROR], e->error != NULL ? e->error : "", 64);
    if (log->cap - log->len < ACCESSLOG_LINE_MAX)
        accesslog_flush(log);
    size_t n = json_dumpb(log->line, log->buf + log->len, ACCESSLOG_LINE_MAX - 1, JSON_COMPACT);
    if (n == 0 || n >= ACCESSLOG_LINE_MAX - 1) { /* did not fit: nothing was kept */
        log->dropped++;
        return;
    }
    log->buf[log->len + n] = '\n';
    log->len += n + 1;
    if (log->len >= ACCESSLOG_FLUSH_AT)
        accesslog_flush(log);
}

void accesslog_close(accesslog_t *log)
{
    if (log->fd >= 0) {
        if (log->buf != NULL)
            accesslog_flush(log);
        close(log->fd);
    }
    free(log->buf);
    json_decref(log->line);
    memset(log, 0, sizeof(*log));
    log->fd = -1;
}
