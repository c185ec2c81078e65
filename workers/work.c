/*
 * The `stallfront work` runner (see work.h). The job table lives on the main thread's stack
 * for the whole run; each thread gets a queue_env_t of its own, allocated and freed here on
 * the main thread; the stop flag is the only thing the threads share, written once by the
 * main thread.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "workers/acceptance.h"
#include "workers/dispatch.h"
#include "workers/housekeeping.h"
#include "models/base/log.h"
#include "workers/queue.h"
#include "workers/refund.h"
#include "workers/relay.h"
#include "workers/salelog.h"
#include "workers/timeout.h"
#include "workers/work.h"

#define NJOBS    13
#define ONLY_MAX 512 /* bytes of an --only list */

typedef struct job {
    const char *name;
    queue_step_fn step;
    void *arg; /* the step's argument, read-only */
} job_t;

typedef struct thread {
    pthread_t tid;
    int started;
    const job_t *job;
    queue_env_t env;
} thread_t;

static const char *const job_names[NJOBS] = {
    "relay",        "timeout-scheduler", "mover",          "order-timeout", "reaper",     "sweep",  "refund",
    "housekeeping", "dispatch",          "dispatch-sweep", "watchdog",      "acceptance", "salelog"};

/* 1 if name is in the comma-separated list (NULL: every name is). */
static int listed(const char *list, const char *name)
{
    size_t n = strlen(name);
    for (const char *p = list; p != NULL && *p != '\0';) {
        size_t len = strcspn(p, ",");
        if (len == n && strncmp(p, name, n) == 0)
            return 1;
        p += len + (p[len] == ',');
    }
    return list == NULL;
}

int work_check_only(const char *only, char *bad, size_t badlen)
{
    if (only == NULL)
        return 0;
    if (*only == '\0' || strlen(only) > ONLY_MAX) {
        snprintf(bad, badlen, "%.40s", only);
        return -1;
    }
    for (const char *p = only; *p != '\0';) {
        size_t len = strcspn(p, ",");
        int known = 0;
        for (size_t i = 0; i < NJOBS; i++)
            known |= strlen(job_names[i]) == len && strncmp(p, job_names[i], len) == 0;
        if (!known) {
            snprintf(bad, badlen, "%.*s", (int)(len < 64 ? len : 64), p);
            return -1;
        }
        p += len + (p[len] == ',');
    }
    return 0;
}

static void *thread_main(void *arg)
{
    thread_t *t = arg;
    queue_loop(&t->env, t->job->step, t->job->arg);
    return NULL;
}

/* Loads sf_move_due once at start; if Redis is not there, the mover loads it later. */
static void load_functions(const config_t *cfg)
{
    redis_t r;
    if (redis_open(&r, cfg) != 0 || queue_functions_load(&r) != 0)
        log_warn("work: could not load the Redis functions now (%s); the mover loads them when Redis answers",
                 r.err[0] ? r.err : "error reply");
    redis_close(&r);
}

static int start(thread_t *t, const job_t *job, const config_t *cfg, const atomic_int *stop, const char *host)
{
    t->job = job;
    t->env.cfg = cfg;
    t->env.stop = stop;
    snprintf(t->env.name, sizeof(t->env.name), "%s", job->name);
    snprintf(t->env.consumer, sizeof(t->env.consumer), "%.24s-%ld-%s", host, (long)getpid(), job->name);
    if (pthread_create(&t->tid, NULL, thread_main, t) != 0) {
        log_error("work: cannot start the %s thread", job->name);
        return -1;
    }
    t->started = 1;
    return 0;
}

int work_run(const config_t *cfg, const char *only, const sigset_t *signals)
{
    const queue_kind_t *kinds[] = {timeout_scheduler_kind(),   timeout_consumer_kind(), refund_kind(),
                                   dispatch_trigger_kind(cfg), dispatch_due_kind(),     dispatch_redrive_kind(),
                                   dispatch_cancel_kind()};
    const queue_kinds_t all = {.kinds = kinds, .n = 7};
    const queue_kinds_t dispatch = {.kinds = kinds + 3, .n = 4};
    static const char *const timeout_topics[] = {TIMEOUT_TOPIC, DISPATCH_DUE_TOPIC};
    const queue_topics_t movers = {.topics = timeout_topics, .n = 2, .interval_ms = DISPATCH_MOVE_MS};
    const job_t jobs[NJOBS] = {
        {job_names[0], relay_step, NULL},
        {job_names[1], queue_consumer_step, (void *)kinds[0]},
        {job_names[2], queue_mover_step, (void *)&movers},
        {job_names[3], queue_consumer_step, (void *)kinds[1]},
        {job_names[4], queue_reaper_step, (void *)&all},
        {job_names[5], timeout_sweep_step, NULL},
        {job_names[6], queue_consumer_step, (void *)kinds[2]},
        {job_names[7], housekeeping_step, NULL},
        {job_names[8], dispatch_step, (void *)&dispatch},
        {job_names[9], dispatch_sweep_step, NULL},
        {job_names[10], watchdog_step, NULL},
        {job_names[11], acceptance_step, NULL},
        {job_names[12], salelog_step, NULL},
    };
    atomic_int stop = 0;
    char host[64] = "host", names[256] = "";
    int sig, rc = 0;
    thread_t *threads = calloc(NJOBS, sizeof(*threads));
    if (threads == NULL)
        return 1;
    gethostname(host, sizeof(host) - 1);
    load_functions(cfg);
    for (size_t i = 0; i < NJOBS && rc == 0; i++) {
        if (!listed(only, jobs[i].name))
            continue;
        rc = start(&threads[i], &jobs[i], cfg, &stop, host);
        snprintf(names + strlen(names), sizeof(names) - strlen(names), "%s%s", names[0] ? ", " : "", jobs[i].name);
    }
    if (rc == 0) {
        log_info("work: running %s (lease %d ms, %d deliveries before the dead letters, sweep every %d s)", names,
                 cfg->queue_lease_ms, cfg->queue_max_deliveries, cfg->order_sweep_interval_s);
        sigwait(signals, &sig);
        log_info("work: received %s: stopping", sig == SIGTERM ? "SIGTERM" : "SIGINT");
    }
    atomic_store(&stop, 1);
    for (size_t i = 0; i < NJOBS; i++)
        if (threads[i].started)
            pthread_join(threads[i].tid, NULL);
    free(threads);
    if (rc == 0)
        log_info("work: stopped cleanly");
    return rc == 0 ? 0 : 1;
}
