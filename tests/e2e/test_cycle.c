/*
 * The Redis commands of one checkout cycle (issue 11): 3 cart PUTs of lines from 2 stalls,
 * then POST /v1/orders with an Idempotency-Key, against a real `stallfront serve` and
 * `stallfront work` (relay and the order.created consumer), counted with MONITOR on the
 * test's own Redis from before the first PUT until the worker has scheduled the unpaid timeout
 * (the job in the delayed set, the message acknowledged).
 * Counts, never times. The worker's idle polling (its blocking reads, the reaper's claims,
 * the mover's calls) is not the cycle's and is not counted; the read that delivers the
 * order.created message is (one XREADGROUP).
 *
 * With STALLFRONT_TEST_CYCLE_PRINT=1 it prints every command of the cycle (the measurement
 * the figures come from).
 */
#include <check.h>
#include <hiredis/hiredis.h>
#include <pthread.h>
#include <signal.h>
#include <sys/wait.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "models/store/redis.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/shop.h"
#include "tests/support/testutil.h"

#define LOG_MAX 4096

/* What MONITOR showed between the start and the end marks. */
typedef struct monitor {
    redisContext *c;
    char *line[LOG_MAX];
    size_t n;
    char end_mark[64];
} monitor_t;

static void *monitor_main(void *arg)
{
    monitor_t *m = arg;
    redisReply *rep;
    while (redisGetReply(m->c, (void **)&rep) == REDIS_OK && rep != NULL) {
        int done = rep->type == REDIS_REPLY_STATUS && strstr(rep->str, m->end_mark) != NULL;
        if (!done && rep->type == REDIS_REPLY_STATUS && m->n < LOG_MAX)
            m->line[m->n++] = strdup(rep->str);
        freeReplyObject(rep);
        if (done)
            break;
    }
    return NULL;
}

static void monitor_start(monitor_t *m, const config_t *cfg, pthread_t *tid)
{
    memset(m, 0, sizeof(*m));
    snprintf(m->end_mark, sizeof(m->end_mark), "cycle-end-%d", (int)getpid());
    m->c = redisConnect(cfg->redis_host, cfg->redis_port);
    ck_assert_msg(m->c != NULL && m->c->err == 0, "monitor connection");
    redisReply *rep = redisCommand(m->c, "MONITOR");
    ck_assert_msg(rep != NULL && rep->type == REDIS_REPLY_STATUS, "MONITOR");
    freeReplyObject(rep);
    ck_assert_int_eq(pthread_create(tid, NULL, monitor_main, m), 0);
}

static void monitor_stop(monitor_t *m, redis_t *r, pthread_t tid)
{
    redisReply *rep = redis_cmd(r, "ECHO %s", m->end_mark);
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);
    pthread_join(tid, NULL);
    redisFree(m->c);
}

static void monitor_free(monitor_t *m)
{
    for (size_t i = 0; i < m->n; i++)
        free(m->line[i]);
}

/* The command word of a MONITOR line (`<time> [<db> <addr>] "CMD" "arg" ...`), upper case as
 * sent, into buf; the first argument into arg. */
static void command_of(const char *line, char *buf, size_t len, char *arg, size_t arglen)
{
    const char *q = strstr(line, "] \"");
    buf[0] = arg[0] = '\0';
    if (q == NULL)
        return;
    q += 3;
    size_t k = strcspn(q, "\"");
    snprintf(buf, len, "%.*s", (int)k, q);
    for (char *p = buf; *p; p++)
        if (*p >= 'a' && *p <= 'z')
            *p = (char)(*p - 'a' + 'A');
    q += k;
    if (q[0] == '"' && q[1] == ' ' && q[2] == '"') {
        q += 3;
        k = strcspn(q, "\"");
        snprintf(arg, arglen, "%.*s", (int)k, q);
    }
}

/* Whether a line is the worker's idle polling, this test's own traffic (from self, its
 * connection's "[<db> <addr>]"), or a command a function ran inside its call. */
static int not_cycle(const char *cmd, const char *arg, const char *line, const char *self)
{
    if (strstr(line, " lua]") != NULL || strstr(line, self) != NULL)
        return 1;
    if (strcmp(cmd, "XAUTOCLAIM") == 0 || strcmp(cmd, "XPENDING") == 0 || strcmp(cmd, "ECHO") == 0)
        return 1;
    if ((strcmp(cmd, "FCALL") == 0 && strcmp(arg, "sf_move_due") == 0))
        return 1;
    /* a blocking read of a stream the cycle put nothing in */
    if (strcmp(cmd, "XREADGROUP") == 0 && strstr(line, "\"stream:order.created\"") == NULL)
        return 1;
    return 0;
}

#define TALLY_MAX 32 /* kinds of command told apart */

typedef struct tally {
    char name[64];
    int n;
} tally_t;

/* Counts the cycle's commands by name (FCALL by function) into t; the total. */
static int count_cycle(const monitor_t *m, const char *self, tally_t *t, size_t *nt, int print)
{
    int total = 0, reads = 0;
    *nt = 0;
    for (size_t i = 0; i < m->n; i++) {
        char cmd[32], arg[64], name[64];
        command_of(m->line[i], cmd, sizeof(cmd), arg, sizeof(arg));
        if (cmd[0] == '\0' || not_cycle(cmd, arg, m->line[i], self))
            continue;
        if (strcmp(cmd, "XREADGROUP") == 0 && reads++ > 0)
            continue; /* the read that delivered; the next one blocks idle */
        snprintf(name, sizeof(name), "%.31s%s%.31s", cmd, strcmp(cmd, "FCALL") == 0 ? " " : "",
                 strcmp(cmd, "FCALL") == 0 ? arg : "");
        size_t j = 0;
        while (j < *nt && strcmp(t[j].name, name) != 0)
            j++;
        if (j == *nt) {
            ck_assert_msg(*nt < TALLY_MAX, "more than %d kinds of command in the cycle", TALLY_MAX);
            snprintf(t[(*nt)++].name, sizeof(t[0].name), "%s", name);
        }
        t[j].n++;
        total++;
        if (print)
            printf("cycle: %s\n", m->line[i]);
    }
    return total;
}

static int tally_of(const tally_t *t, size_t nt, const char *name)
{
    for (size_t i = 0; i < nt; i++)
        if (strcmp(t[i].name, name) == 0)
            return t[i].n;
    return 0;
}

/* " <addr>]" of this test's own Redis connection, as MONITOR shows it. */
static void self_addr(redis_t *r, char *buf, size_t len)
{
    redisReply *rep = redis_cmd(r, "CLIENT INFO");
    ck_assert_msg(rep != NULL && rep->type == REDIS_REPLY_STRING, "CLIENT INFO");
    const char *a = strstr(rep->str, "addr=");
    ck_assert_ptr_nonnull(a);
    a += 5;
    snprintf(buf, len, " %.*s]", (int)strcspn(a, " "), a);
    freeReplyObject(rep);
}

/* Whether the order.created consumer is done with the order: the unpaid timeout scheduled
 * and nothing left pending. */
static int scheduled(shop_world_t *w, int64_t order_id)
{
    /* the job in the delayed set (its member is the sorted JSON of event_id = the order id,
     * market_id, payload), and nothing pending in the group: acknowledged */
    char match[64];
    snprintf(match, sizeof(match), "*\"event_id\":%lld,*", (long long)order_id);
    redisReply *rep = redis_cmd(&w->redis, "ZSCAN delayed:order.timeout 0 MATCH %s COUNT 1000", match);
    int found = rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements == 2 &&
                rep->element[1]->type == REDIS_REPLY_ARRAY && rep->element[1]->elements > 0;
    if (rep != NULL)
        freeReplyObject(rep);
    if (!found)
        return 0;
    rep = redis_cmd(&w->redis, "XPENDING stream:order.created timeout-scheduler");
    int idle = rep != NULL && rep->type == REDIS_REPLY_ARRAY && rep->elements > 0 &&
               rep->element[0]->type == REDIS_REPLY_INTEGER && rep->element[0]->integer == 0;
    if (rep != NULL)
        freeReplyObject(rep);
    return idle;
}

/* One cycle as consumer c: 3 PUTs (2 stalls), the checkout with a key; the order's id. */
static int64_t cycle(shop_world_t *w, const tserver_t *s, const shop_consumer_t *c, const int64_t *p, int seq)
{
    char body[128], key[64];
    long status = 0;
    shop_put_cart(s, c, p[0], 1);
    shop_put_cart(s, c, p[1], 2);
    shop_put_cart(s, c, p[2], 1);
    shop_checkout_body(body, sizeof(body), w->m.market_id, c->address);
    snprintf(key, sizeof(key), "cycle-%d-%d", (int)getpid(), seq);
    json_t *order = shop_call(s, "POST", "/v1/orders", c->token, body, key, &status);
    ck_assert_int_eq(status, 201);
    int64_t id = shop_jint(order, "id");
    json_decref(order);
    ck_assert_int_gt(id, 0);
    return id;
}

static const char *const serve_env[] = {"STALLFRONT_AUTH_WECHAT_MODE=sandbox",
                                        "STALLFRONT_ORDER_DELIVERY_RADIUS_M=5000", NULL};

START_TEST(one_cycle_redis_commands)
{
    shop_world_t w;
    tserver_t s;
    twork_t wk;
    shop_consumer_t c;
    monitor_t m;
    pthread_t tid;
    tally_t t[TALLY_MAX];
    size_t nt;
    char self[64];
    int print = getenv("STALLFRONT_TEST_CYCLE_PRINT") != NULL;
    const char *const work_args[] = {"--only", "relay,timeout-scheduler,mover,order-timeout,reaper", NULL};
    t_migrate();
    shop_world_up(&w);
    int64_t p[3] = {shop_product(&w, 0, "青菜", 300, 500, 50000), shop_product(&w, 0, "土豆", 200, 0, 100),
                    shop_product(&w, 1, "鸡蛋", 100, 0, 100)};
    ck_assert_int_eq(tserver_start(&s, serve_env), 0);
    ck_assert_int_eq(t_work_start(&wk, NULL, work_args), 0);
    shop_consumer(&s, &w.db, "cyc", 0, &c);

    /* a first cycle: functions loaded, groups made, statements prepared */
    int64_t first = cycle(&w, &s, &c, p, 0);
    for (int i = 0; i < 100 && !scheduled(&w, first); i++)
        t_sleep_ms(50);
    ck_assert_msg(scheduled(&w, first), "the first order's timeout was not scheduled");

    self_addr(&w.redis, self, sizeof(self));
    monitor_start(&m, &w.cfg, &tid);
    int64_t id = cycle(&w, &s, &c, p, 1);
    for (int i = 0; i < 100 && !scheduled(&w, id); i++)
        t_sleep_ms(50);
    ck_assert_msg(scheduled(&w, id), "the order's timeout was not scheduled");
    monitor_stop(&m, &w.redis, tid);

    int total = count_cycle(&m, self, t, &nt, print);
    for (size_t i = 0; i < nt; i++)
        printf("cycle: %-28s %d\n", t[i].name, t[i].n);
    printf("cycle: total %d Redis commands\n", total);
    /* serve: the session check of each request, the cart changes, the cart read and, after
     * the commit, one call that empties the cart and bumps the catalogue */
    ck_assert_int_eq(tally_of(t, nt, "FCALL sf_cart_set"), 3);
    ck_assert_int_eq(tally_of(t, nt, "FCALL sf_cart_done"), 1);
    ck_assert_int_eq(tally_of(t, nt, "DEL"), 0);
    ck_assert_int_eq(tally_of(t, nt, "INCR"), 0);
    ck_assert_int_eq(tally_of(t, nt, "PUBLISH"), 0);
    /* work: the relay's XADD, the delivering read, the timeout's ZADD, the XACK (a late
     * acknowledgement of the warm-up cycle's read can fall inside the window: at least one
     * each, and the total below bounds them all) */
    ck_assert_int_eq(tally_of(t, nt, "XADD"), 1);
    ck_assert_int_ge(tally_of(t, nt, "XREADGROUP"), 1);
    ck_assert_int_eq(tally_of(t, nt, "ZADD"), 1);
    ck_assert_int_ge(tally_of(t, nt, "XACK"), 1);
    ck_assert_int_le(total, 14);
    /* the scheduler's effect is one idempotent ZADD: no transaction, no processed row */
    ck_assert_int_eq(
        shop_i64(&w.db, "SELECT COUNT(*) FROM processed WHERE consumer = 'timeout-scheduler' AND ? > 0", 1), 0);
    monitor_free(&m);

    ck_assert_int_eq(t_work_stop(&wk, SIGTERM), 0);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
    shop_world_down(&w);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("cycle");
    TCase *tc = tcase_create("counts");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, one_cycle_redis_commands);
    suite_add_tcase(su, tc);
    /* a Redis of its own (MONITOR would count the neighbours' commands) and a database of
     * its own (any `work` beside it relays every market's outbox rows of its database) */
    t_iso_t iso;
    if (t_isolate(&iso, "cycle") != 0)
        return 1;
    int failed = t_run(su, 0);
    t_isolate_end(&iso);
    return failed == 0 ? 0 : 1;
}
