/*
 * One Redis connection, owned by one thread. hiredis 0.14 neither reconnects nor times out
 * by itself: this wrapper connects with the configured timeout, sets the same timeout on
 * every command, and on any I/O or protocol error frees the context so that the next call
 * connects again (at most one attempt per REDIS_RETRY_MS, so a dead server is not hammered).
 *
 * Replies are hiredis' own: the caller frees them with freeReplyObject(). A reply of type
 * REDIS_REPLY_ERROR (a command error, e.g. WRONGTYPE) is returned as it is: the connection
 * is fine.
 */
#ifndef SF_REDIS_H
#define SF_REDIS_H

#include <stddef.h>
#include <stdint.h>
#include <hiredis/hiredis.h>
#include "models/base/config.h"

/* A dead server is tried again at most this often per connection: one worker per
 * request would otherwise spend its whole deadline connecting. */
#define REDIS_RETRY_MS 200

typedef struct redis {
    redisContext *c; /* NULL while disconnected */
    const config_t *cfg;
    uint64_t next_try_ms; /* monotonic ms before which no reconnect is attempted */
    char err[160];        /* what went wrong last */
    uint64_t reconnects;
} redis_t;

/* Prepares the wrapper and tries to connect. 0, or -1 with r->err (the next call tries again). */
int redis_open(redis_t *r, const config_t *cfg);
void redis_close(redis_t *r);

/* Runs one command, formatted as redisCommand() does. NULL on a connection failure (r->err
 * says why; the context was dropped). */
redisReply *redis_cmd(redis_t *r, const char *fmt, ...);

/* The same with an argument vector (binary safe). */
redisReply *redis_cmdargv(redis_t *r, int argc, const char **argv, const size_t *argvlen);

/* One command of a pipeline: an argument vector (binary safe). */
typedef struct redis_argv {
    int argc;
    const char **argv;
    const size_t *argvlen;
} redis_argv_t;

/* Sends n commands at once and reads their n replies (one round trip) into replies[0..n),
 * each the caller's to free (a command error is a REDIS_REPLY_ERROR reply). 0; or -1 on a
 * connection failure (r->err; the context was dropped; every replies[i] is NULL). */
int redis_pipeline(redis_t *r, size_t n, const redis_argv_t *cmds, redisReply **replies);

/* PING; 0 when the answer is PONG. */
int redis_ping(redis_t *r);

/* 1 if rep is Redis saying it does not know the function or script called (it restarted
 * without its data files, or the library was never loaded there): load it, call again. */
int redis_function_missing(const redisReply *rep);

#endif
