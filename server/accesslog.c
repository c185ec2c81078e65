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
#include "accesslog.h"

#define ACCESSLOG_BUF      (64 * 1024) /* one write per this much */
#define ACCESSLOG_FLUSH_AT (48 * 1024)
#define ACCESSLOG_LINE_MAX 4096 /* a line is a few hundred bytes; a longer one is dropped */

int accesslog_open(accesslog_t *log, const char *target)
{
    memset(log, 0, sizeof(*log));
    log->fd = -1;
    if (strcmp(target, "off") == 0)
        return 0;
    if (strcmp(target, "-") == 0)
        log->fd = dup(STDOUT_FILENO);
    else
        log->fd = open(target, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0640);
    if (log->fd < 0)
        return -1;
    if ((log->buf = malloc(ACCESSLOG_BUF)) == NULL) {
        close(log->fd);
        log->fd = -1;
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

static void timestamp(char *out, size_t outlen)
{
    struct timeval tv;
    struct tm tm;
    gettimeofday(&tv, NULL);
    gmtime_r(&tv.tv_sec, &tm);
    size_t n = strftime(out, outlen, "%Y-%m-%dT%H:%M:%S", &tm);
    snprintf(out + n, outlen - n, ".%03ldZ", (long)(tv.tv_usec / 1000));
}

void accesslog_write(accesslog_t *log, const accesslog_entry_t *e)
{
    if (log->fd < 0)
        return;
    char ts[40];
    timestamp(ts, sizeof(ts));
    /* Paths come from the network: json_stringn_nocheck would let invalid UTF-8 through, so
     * the path goes in through the checking constructor and is left out if it fails. */
    json_t *doc = json_pack("{s:s, s:s, s:s, s:s*, s:s, s:s, s:i, s:f, s:s*}", "time", ts, "request_id", e->request_id,
                            "method", e->method, "route", e->route, "protocol", e->protocol, "peer", e->peer, "status",
                            e->status, "duration_ms", (double)e->duration_us / 1000.0, "error", e->error);
    if (doc == NULL) {
        log->dropped++;
        return;
    }
    json_t *path = json_stringn(e->path, strlen(e->path) > 512 ? 512 : strlen(e->path));
    if (path != NULL)
        json_object_set_new(doc, "path", path);
    char line[ACCESSLOG_LINE_MAX];
    size_t n = json_dumpb(doc, line, sizeof(line) - 1, JSON_COMPACT | JSON_REAL_PRECISION(6));
    json_decref(doc);
    if (n == 0 || n >= sizeof(line) - 1) {
        log->dropped++;
        return;
    }
    line[n++] = '\n';
    if (log->len + n > log->cap)
        accesslog_flush(log);
    memcpy(log->buf + log->len, line, n);
    log->len += n;
    if (log->len >= ACCESSLOG_FLUSH_AT)
        accesslog_flush(log);
}

void accesslog_close(accesslog_t *log)
{
    if (log->fd >= 0) {
        accesslog_flush(log);
        close(log->fd);
    }
    free(log->buf);
    memset(log, 0, sizeof(*log));
    log->fd = -1;
}
