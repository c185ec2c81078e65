/*
 * The pub/sub subscriber (see cachesub.h). hiredis 0.14's blocking API: the thread
 * blocks in redisGetReply without a read timeout (a subscriber is silent most of the time);
 * cachesub_stop() unblocks it by shutting the socket down under it, then joins it.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <hiredis/hiredis.h>
#include "server/http/cachesub.h"
#include "models/base/log.h"

#define BACKOFF_MIN_MS 100
#define BACKOFF_MAX_MS 5000

struct cachesub {
    const config_t *cfg;
    cachesub_channel_t channels[CACHESUB_MAX_CHANNELS];
    size_t nchannels;
    void *ctx;
    pthread_t tid;
    pthread_mutex_t mu;
    redisContext *c; /* under mu: cachesub_stop shuts its socket down */
    int stopping;    /* under mu */
};

static void sleep_ms(long ms)
{
    struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

static int stopping(cachesub_t *s)
{
    pthread_mutex_lock(&s->mu);
    int v = s->stopping;
    pthread_mutex_unlock(&s->mu);
    return v;
}

/* Connects and subscribes; the context, or NULL. */
static redisContext *subscribe(cachesub_t *s)
{
    struct timeval tv = {s->cfg->redis_timeout_ms / 1000, (s->cfg->redis_timeout_ms % 1000) * 1000};
    redisContext *c = redisConnectWithTimeout(s->cfg->redis_host, s->cfg->redis_port, tv);
    if (c == NULL || c->err) {
        if (c != NULL)
            redisFree(c);
        return NULL;
    }
    redisReply *r = NULL;
    if (s->cfg->redis_password[0] != '\0') {
        r = redisCommand(c, "AUTH %s", s->cfg->redis_password);
        if (r == NULL || r->type == REDIS_REPLY_ERROR)
            goto fail;
        freeReplyObject(r);
    }
    /* One confirmation per channel. */
    for (size_t i = 0; i < s->nchannels; i++)
        if (redisAppendCommand(c, "SUBSCRIBE %s", s->channels[i].name) != REDIS_OK)
            goto fail;
    for (size_t i = 0; i < s->nchannels; i++) {
        if (redisGetReply(c, (void **)&r) != REDIS_OK || r == NULL || r->type != REDIS_REPLY_ARRAY)
            goto fail;
        freeReplyObject(r);
        r = NULL;
    }
    /* Messages may come at any time now: no read timeout. */
    struct timeval none = {0, 0};
    redisSetTimeout(c, none);
    return c;
fail:
    if (r != NULL)
        freeReplyObject(r);
    redisFree(c);
    return NULL;
}

/* A "message" push → its channel's callback; anything else is ignored. */
static void deliver(cachesub_t *s, const redisReply *r)
{
    if (r->type != REDIS_REPLY_ARRAY || r->elements != 3 || r->element[1]->type != REDIS_REPLY_STRING ||
        r->element[2]->type != REDIS_REPLY_STRING)
        return;
    for (size_t i = 0; i < s->nchannels; i++)
        if (strcmp(r->element[1]->str, s->channels[i].name) == 0) {
            s->channels[i].on_message(s->ctx, r->element[2]->str, r->element[2]->len);
            return;
        }
}

static void *run(void *arg)
{
    cachesub_t *s = arg;
    long backoff = BACKOFF_MIN_MS;
    while (!stopping(s)) {
        redisContext *c = subscribe(s);
        if (c == NULL) {
            sleep_ms(backoff);
            backoff = backoff * 2 > BACKOFF_MAX_MS ? BACKOFF_MAX_MS : backoff * 2;
            continue;
        }
        backoff = BACKOFF_MIN_MS;
        pthread_mutex_lock(&s->mu);
        s->c = c;
        int stop = s->stopping;
        pthread_mutex_unlock(&s->mu);
        for (size_t i = 0; !stop && i < s->nchannels; i++) /* whatever was published while away is lost */
            if (s->channels[i].on_connect != NULL)
                s->channels[i].on_connect(s->ctx);
        void *reply;
        while (!stop && redisGetReply(c, &reply) == REDIS_OK) {
            deliver(s, reply);
            freeReplyObject(reply);
            stop = stopping(s);
        }
        if (!stopping(s))
            log_warn("pubsub: lost the Redis subscription (%s); reconnecting", c->errstr);
        pthread_mutex_lock(&s->mu);
        s->c = NULL;
        pthread_mutex_unlock(&s->mu);
        redisFree(c);
    }
    return NULL;
}

cachesub_t *cachesub_start(const config_t *cfg, const cachesub_channel_t *channels, size_t n, void *ctx)
{
    if (n == 0 || n > CACHESUB_MAX_CHANNELS)
        return NULL;
    cachesub_t *s = calloc(1, sizeof(*s));
    if (s == NULL)
        return NULL;
    s->cfg = cfg;
    memcpy(s->channels, channels, n * sizeof(*channels));
    s->nchannels = n;
    s->ctx = ctx;
    pthread_mutex_init(&s->mu, NULL);
    if (pthread_create(&s->tid, NULL, run, s) != 0) {
        pthread_mutex_destroy(&s->mu);
        free(s);
        return NULL;
    }
    return s;
}

void cachesub_stop(cachesub_t *s)
{
    if (s == NULL)
        return;
    pthread_mutex_lock(&s->mu);
    s->stopping = 1;
    if (s->c != NULL)
        shutdown(s->c->fd, SHUT_RDWR); /* wakes the blocked read; the thread frees c */
    pthread_mutex_unlock(&s->mu);
    pthread_join(s->tid, NULL);
    pthread_mutex_destroy(&s->mu);
    free(s);
}
