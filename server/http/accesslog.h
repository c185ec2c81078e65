/*
 * The JSON-lines access log: one line per answered request with its request id, route,
 * status and duration. Each loop thread owns one accesslog_t and buffers lines in it,
 * writing them out when the buffer passes a threshold or on the periodic flush, so a
 * request never waits on a disk. Lines are built with jansson, from one object per thread
 * whose values are overwritten in place, so a line costs no allocation and no format
 * parsing: the log is written on every request and must not halve the throughput.
 */
#ifndef SF_ACCESSLOG_H
#define SF_ACCESSLOG_H

#include <stddef.h>
#include <stdint.h>

typedef struct accesslog {
    int fd; /* -1 when logging is off */
    char *buf;
    size_t len, cap;
    uint64_t dropped;     /* lines lost to a failed write (counted, not retried forever) */
    struct json_t *line;  /* the line's object, reused: values are set in place */
    struct json_t *v[10]; /* its values, by field */
    long long stamp_sec;  /* the second the cached time prefix is for */
    char stamp[24];       /* "2026-11-30T08:14:05" of that second */
} accesslog_t;

typedef struct accesslog_entry {
    const char *request_id;
    const char *method;
    const char *path;
    const char *route;    /* the pattern matched, or NULL */
    const char *protocol; /* "HTTP/1.1", "HTTP/2" */
    const char *peer;
    int status; /* 0 when the client left before the answer */
    uint64_t duration_us;
    const char *error; /* the error code replied, or NULL */
} accesslog_entry_t;

/* target: "-" for stdout, "off", or a path opened for appending. 0, or -1 (errno set). */
int accesslog_open(accesslog_t *log, const char *target);
void accesslog_write(accesslog_t *log, const accesslog_entry_t *e);
void accesslog_flush(accesslog_t *log);
void accesslog_close(accesslog_t *log);

#endif
