/*
 * Worker pool: a mutex-protected ring of job pointers and a condition variable. The ring
 * is bounded (pool.queue); workers block on the condition only when it is empty. Each
 * worker initialises the MySQL thread state and owns its db_t and redis_t for its lifetime.
 */
#include <stdlib.h>
#include <string.h>
#include "server/http/pool.h"

struct pool {
    const config_t *cfg;
    pthread_mutex_t mu;
    pthread_cond_t nonempty;
    pool_job_t **ring;
    size_t cap, head, count;
    size_t busy;
    int stopping;
    int sync_ready; /* mutex and condition initialised */
    size_t nworkers, started;
    pthread_t *threads;
    worker_t *workers;
};

pool_t *pool_new(const config_t *cfg, size_t nworkers, size_t queue_cap)
{
    pool_t *p = calloc(1, sizeof(*p));
    if (p == NULL)
        return NULL;
    p->cfg = cfg;
    p->cap = queue_cap;
    p->nworkers = nworkers;
    p->ring = calloc(queue_cap, sizeof(*p->ring));
    p->threads = calloc(nworkers, sizeof(*p->threads));
    p->workers = calloc(nworkers, sizeof(*p->workers));
    if (p->ring == NULL || p->threads == NULL || p->workers == NULL) {
        pool_free(p);
        return NULL;
    }
    pthread_mutex_init(&p->mu, NULL);
    pthread_cond_init(&p->nonempty, NULL);
    p->sync_ready = 1;
    return p;
}

static pool_job_t *take(pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    while (p->count == 0 && !p->stopping)
        pthread_cond_wait(&p->nonempty, &p->mu);
    pool_job_t *job = NULL;
    if (p->count > 0) {
        job = p->ring[p->head];
        p->head = (p->head + 1) % p->cap;
        p->count--;
        p->busy++;
    }
    pthread_mutex_unlock(&p->mu);
    return job;
}

static void *worker_main(void *arg)
{
    pool_t *p = ((void **)arg)[0];
    worker_t *w = ((void **)arg)[1];
    free(arg);
    db_thread_init();
    db_open(&w->db, p->cfg); /* failure is fine: the first job reconnects */
    redis_open(&w->redis, p->cfg);
    pool_job_t *job;
    while ((job = take(p)) != NULL) {
        if (!pool_job_is_cancelled(job)) {
            job->ran = 1;
            job->run(job, w);
        }
        pthread_mutex_lock(&p->mu);
        p->busy--;
        pthread_mutex_unlock(&p->mu);
        job->done(job); /* may free the job: not touched after this */
    }
    redis_close(&w->redis);
    db_close(&w->db);
    db_thread_end();
    return NULL;
}

int pool_start(pool_t *p)
{
    for (size_t i = 0; i < p->nworkers; i++) {
        void **arg = malloc(2 * sizeof(void *));
        if (arg == NULL)
            return -1;
        p->workers[i].id = i;
        arg[0] = p;
        arg[1] = &p->workers[i];
        if (pthread_create(&p->threads[i], NULL, worker_main, arg) != 0) {
            free(arg);
            return -1;
        }
        p->started++;
    }
    return 0;
}

int pool_submit(pool_t *p, pool_job_t *job)
{
    int rc = -1;
    pthread_mutex_lock(&p->mu);
    if (!p->stopping && p->count < p->cap) {
        p->ring[(p->head + p->count) % p->cap] = job;
        p->count++;
        rc = 0;
        pthread_cond_signal(&p->nonempty);
    }
    pthread_mutex_unlock(&p->mu);
    return rc;
}

void pool_job_cancel(pool_job_t *job)
{
    __atomic_store_n(&job->cancelled, 1, __ATOMIC_RELEASE);
}

int pool_job_is_cancelled(pool_job_t *job)
{
    return __atomic_load_n(&job->cancelled, __ATOMIC_ACQUIRE);
}

size_t pool_depth(const pool_t *p)
{
    pthread_mutex_lock((pthread_mutex_t *)&p->mu);
    size_t n = p->count;
    pthread_mutex_unlock((pthread_mutex_t *)&p->mu);
    return n;
}

size_t pool_busy(const pool_t *p)
{
    pthread_mutex_lock((pthread_mutex_t *)&p->mu);
    size_t n = p->busy;
    pthread_mutex_unlock((pthread_mutex_t *)&p->mu);
    return n;
}

size_t pool_size(const pool_t *p)
{
    return p->nworkers;
}

void pool_stop(pool_t *p)
{
    pthread_mutex_lock(&p->mu);
    p->stopping = 1;
    pthread_cond_broadcast(&p->nonempty);
    pthread_mutex_unlock(&p->mu);
    for (size_t i = 0; i < p->started; i++)
        pthread_join(p->threads[i], NULL);
    p->started = 0;
}

void pool_free(pool_t *p)
{
    if (p == NULL)
        return;
    if (p->started > 0)
        pool_stop(p);
    if (p->sync_ready) {
        pthread_mutex_destroy(&p->mu);
        pthread_cond_destroy(&p->nonempty);
    }
    free(p->ring);
    free(p->threads);
    free(p->workers);
    free(p);
}
