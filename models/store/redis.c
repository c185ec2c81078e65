/*
 * One Redis connection (redis.h): connect with the configured timeout, the same timeout on
 * every command, TCP keepalive, optional AUTH; on an I/O or protocol failure the context is
 * freed and the next call after REDIS_RETRY_MS connects again.
 *
 * Thread: a redis_t belongs to the thread that opened it. Ownership: the redis_t owns its
 * context (redis_close frees it); every reply belongs to the caller (freeReplyObject).
 *
 * Deliberately not done: retrying a command that failed (it may have run: the caller knows
 * whether it is idempotent), and SIGPIPE handling: hiredis writes with write(2), so the
 * process must ignore SIGPIPE (main does it before starting threads) or a write to a
 * connection the server closed kills it.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include "models/store/redis.h"

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static struct timeval timeout_of(const config_t *cfg)
{
    int ms = cfg->redis_timeout_ms > 0 ? cfg->redis_timeout_ms : 1;
    struct timeval tv = {.tv_sec = ms / 1000, .tv_usec = (ms % 1000) * 1000};
    return tv;
}

/* Frees the context after a failure, remembering why and when to try again. */
static void drop(redis_t *r, const char *why)
{
    if (r->c != NULL) {
        snprintf(r->err, sizeof r->err, "%s: %s", why, r->c->errstr[0] ? r->c->errstr : "connection lost");
        redisFree(r->c);
        r->c = NULL;
    }
    r->next_try_ms = now_ms() + REDIS_RETRY_MS;
}

/* AUTH on a fresh context; 0, or -1 with r->err (the caller frees the context). */
static int auth(redis_t *r, redisContext *c)
{
    const char *pw = r->cfg->redis_password;
    if (pw == NULL || pw[0] == '\0')
        return 0;
    redisReply *rep = redisCommand(c, "AUTH %s", pw);
    int rc = -1;
    if (rep == NULL)
        snprintf(r->err, sizeof r->err, "redis AUTH: %s", c->errstr);
    else if (rep->type == REDIS_REPLY_ERROR)
        snprintf(r->err, sizeof r->err, "redis AUTH refused: %s", rep->str);
    else
        rc = 0;
    if (rep != NULL)
        freeReplyObject(rep);
    return rc;
}

static int connect_redis(redis_t *r)
{
    const config_t *cfg = r->cfg;
    struct timeval tv = timeout_of(cfg);
    int rc = -1;
    redisContext *c = redisConnectWithTimeout(cfg->redis_host, cfg->redis_port, tv);
    if (c == NULL) {
        snprintf(r->err, sizeof r->err, "redis connect: out of memory");
        goto out;
    }
    if (c->err != 0) {
        snprintf(r->err, sizeof r->err, "redis connect %s:%d: %s", cfg->redis_host, cfg->redis_port, c->errstr);
        goto out;
    }
    if (redisSetTimeout(c, tv) != REDIS_OK || redisEnableKeepAlive(c) != REDIS_OK) {
        snprintf(r->err, sizeof r->err, "redis socket options: %s", c->errstr);
        goto out;
    }
    if (auth(r, c) != 0)
        goto out;
    r->c = c;
    c = NULL;
    rc = 0;
out:
    if (c != NULL)
        redisFree(c);
    if (rc != 0)
        r->next_try_ms = now_ms() + REDIS_RETRY_MS;
    return rc;
}

/* Connects on demand, at most once per REDIS_RETRY_MS; r->err keeps the last reason. */
static int ensure(redis_t *r)
{
    if (r->c != NULL)
        return 0;
    if (now_ms() < r->next_try_ms)
        return -1;
    if (connect_redis(r) != 0)
        return -1;
    r->reconnects++;
    return 0;
}

int redis_open(redis_t *r, const config_t *cfg)
{
    memset(r, 0, sizeof *r);
    r->cfg = cfg;
    return connect_redis(r);
}

void redis_close(redis_t *r)
{
    if (r->c != NULL)
        redisFree(r->c);
    r->c = NULL;
}

redisReply *redis_cmd(redis_t *r, const char *fmt, ...)
{
    if (ensure(r) != 0)
        return NULL;
    va_list ap;
    va_start(ap, fmt);
    redisReply *rep = redisvCommand(r->c, fmt, ap);
    va_end(ap);
    if (rep == NULL)
        drop(r, "redis command");
    return rep;
}

redisReply *redis_cmdargv(redis_t *r, int argc, const char **argv, const size_t *argvlen)
{
    if (ensure(r) != 0)
        return NULL;
    redisReply *rep = redisCommandArgv(r->c, argc, argv, argvlen);
    if (rep == NULL)
        drop(r, "redis command");
    return rep;
}

int redis_pipeline(redis_t *r, size_t n, const redis_argv_t *cmds, redisReply **replies)
{
    for (size_t i = 0; i < n; i++)
        replies[i] = NULL;
    if (ensure(r) != 0)
        return -1;
    for (size_t i = 0; i < n; i++)
        if (redisAppendCommandArgv(r->c, cmds[i].argc, cmds[i].argv, cmds[i].argvlen) != REDIS_OK)
            goto fail;
    for (size_t i = 0; i < n; i++) {
        void *rep = NULL;
        if (redisGetReply(r->c, &rep) != REDIS_OK || rep == NULL)
            goto fail;
        replies[i] = rep;
    }
    return 0;
fail:
    /* Replies not read are lost with the context: it cannot be reused in step. */
    for (size_t i = 0; i < n; i++) {
        if (replies[i] != NULL)
            freeReplyObject(replies[i]);
        replies[i] = NULL;
    }
    drop(r, "redis pipeline");
    return -1;
}

int redis_ping(redis_t *r)
{
    redisReply *rep = redis_cmd(r, "PING");
    if (rep == NULL)
        return -1;
    int ok = rep->type == REDIS_REPLY_STATUS && rep->str != NULL && strcmp(rep->str, "PONG") == 0;
    if (!ok)
        snprintf(r->err, sizeof r->err, "redis PING: unexpected reply");
    freeReplyObject(rep);
    return ok ? 0 : -1;
}

int redis_function_missing(const redisReply *rep)
{
    return rep != NULL && rep->type == REDIS_REPLY_ERROR && rep->str != NULL &&
           (strstr(rep->str, "Function not found") != NULL || strstr(rep->str, "NOSCRIPT") != NULL);
}
