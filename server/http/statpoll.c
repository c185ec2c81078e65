/*
 * Background metrics poller (see statpoll.h). The text is swapped under a mutex; readers
 * copy it, so a slow reader never holds the poller back for long.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "server/http/statpoll.h"

struct statpoll {
    const config_t *cfg;
    statpoll_fn fn;
    int interval_ms;
    pthread_t tid;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    int stopping;       /* under mu */
    char *text;         /* under mu */
    size_t len;         /* under mu */
    time_t rendered_at; /* under mu */
};

static void *run(void *arg)
{
    statpoll_t *p = arg;
    db_t db;
    redis_t r;
    db_thread_init();
    db_open(&db, p->cfg); /* failures are retried by the next render */
    redis_open(&r, p->cfg);
    pthread_mutex_lock(&p->mu);
    while (!p->stopping) {
        pthread_mutex_unlock(&p->mu);
        size_t len = 0;
        char *text = p->fn(&db, &r, &len);
        pthread_mutex_lock(&p->mu);
        if (text != NULL) {
            free(p->text);
            p->text = text;
            p->len = len;
            p->rendered_at = time(NULL);
        }
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_sec += p->interval_ms / 1000;
        until.tv_nsec += (long)(p->interval_ms % 1000) * 1000000L;
        if (until.tv_nsec >= 1000000000L) {
            until.tv_sec++;
            until.tv_nsec -= 1000000000L;
        }
        while (!p->stopping && pthread_cond_timedwait(&p->wake, &p->mu, &until) == 0)
            ;
    }
    pthread_mutex_unlock(&p->mu);
    redis_close(&r);
    db_close(&db);
    db_thread_end();
    return NULL;
}

statpoll_t *statpoll_start(const config_t *cfg, statpoll_fn fn, int interval_ms)
{
    statpoll_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    *p = (statpoll_t){.cfg = cfg, .fn = fn, .interval_ms = interval_ms};
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->wake, NULL);
    if (pthread_create(&p->tid, NULL, run, p) != 0) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->wake);
        free(p);
        return NULL;
    }
    return p;
}

char *statpoll_copy(statpoll_t *p, size_t *len)
{
    char *out = NULL;
    pthread_mutex_lock(&p->mu);
    if (p->text != NULL) {
        char age[160];
        int n = snprintf(age, sizeof(age),
                         "# HELP stallfront_statpoll_age_seconds age of the queue figures above\n"
                         "# TYPE stallfront_statpoll_age_seconds gauge\nstallfront_statpoll_age_seconds %lld\n",
                         (long long)(time(NULL) - p->rendered_at));
        if (n > 0 && (size_t)n < sizeof(age) && (out = malloc(p->len + (size_t)n + 1)) != NULL) {
            memcpy(out, p->text, p->len);
            memcpy(out + p->len, age, (size_t)n + 1);
            *len = p->len + (size_t)n;
        }
    }
    pthread_mutex_unlock(&p->mu);
    return out;
}

void statpoll_stop(statpoll_t *p)
{
    if (p == NULL)
        return;
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->wake);
    pthread_mutex_unlock(&p->mu);
    pthread_join(p->tid, NULL);
    pthread_mutex_destroy(&p->mu);
    pthread_cond_destroy(&p->wake);
    free(p->text);
    free(p);
}
