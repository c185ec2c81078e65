/*
 * Integration tests of server/redis.c: round trips against the configured Redis
 * (STALLFRONT_REDIS_HOST/PORT, set by scripts/dev test), and the failure cases against a
 * redis-server this test starts, kills and restarts itself on a free loopback port, and a
 * listening socket that never answers. Keys are prefixed with the runner's pid.
 */
#include <check.h>
#include <errno.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/redis.h"
#include "tests/support/testutil.h"

static const char *const required_env[] = {"STALLFRONT_REDIS_HOST", "STALLFRONT_REDIS_PORT", NULL};

/* ---------------------------------------------------------------- helpers */

static void load_cfg(config_t *cfg)
{
    char err[256];
    ck_assert_msg(config_load(cfg, NULL, err, sizeof err) == 0, "config_load: %s", err);
}

static void set_key(config_t *cfg, const char *key, const char *value)
{
    char err[256];
    ck_assert_msg(config_set(cfg, key, value, err, sizeof err) == 0, "%s", err);
}

static uint64_t now_ms(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

static void sleep_ms(long ms)
{
    struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = (ms % 1000) * 1000000L};
    nanosleep(&ts, NULL);
}

/* A loopback socket bound to a port the kernel chose; listening if asked. */
static int bound_socket(int *port, int listening)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t alen = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    ck_assert_int_ge(fd, 0);
    ck_assert_int_eq(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    ck_assert_int_eq(getsockname(fd, (struct sockaddr *)&a, &alen), 0);
    if (listening)
        ck_assert_int_eq(listen(fd, 8), 0);
    *port = ntohs(a.sin_port);
    return fd;
}

/* A port nothing listens on (free a moment ago). */
/* A private redis-server (tests/support: it dies with this process if a test fails). */
static pid_t start_redis(int port, const char *password)
{
    pid_t pid = t_redis_start(port, password);
    ck_assert_msg(pid > 0, "redis-server on port %d did not start", port);
    return pid;
}

/* A config pointing at a private server on port. */
static void private_cfg(config_t *cfg, int port, const char *timeout_ms)
{
    char portstr[16];
    load_cfg(cfg);
    snprintf(portstr, sizeof portstr, "%d", port);
    set_key(cfg, "redis.host", "127.0.0.1");
    set_key(cfg, "redis.port", portstr);
    set_key(cfg, "redis.timeout_ms", timeout_ms);
}

/* ---------------------------------------------------------------- tests */

START_TEST(test_set_and_get_round_trip_binary_safe_values)
{
    config_t cfg;
    redis_t r;
    char key[64];
    load_cfg(&cfg);
    ck_assert_msg(redis_open(&r, &cfg) == 0, "redis_open: %s", r.err);
    int klen = snprintf(key, sizeof key - 4, "sf:it:%ld:bin\n", (long)getpid());
    memcpy(key + klen, "\0key", 4); /* a NUL inside the key */
    klen += 4;
    static const char value[] = "西红柿\0\r\n$3\r\nend";
    const char *set[] = {"SET", key, value};
    size_t setlen[] = {3, (size_t)klen, sizeof value - 1};
    redisReply *rep = redis_cmdargv(&r, 3, set, setlen);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);

    const char *get[] = {"GET", key};
    size_t getlen[] = {3, (size_t)klen};
    rep = redis_cmdargv(&r, 2, get, getlen);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STRING);
    ck_assert_uint_eq(rep->len, sizeof value - 1);
    ck_assert(memcmp(rep->str, value, sizeof value - 1) == 0);
    freeReplyObject(rep);

    /* the same key without its tail is another key */
    rep = redis_cmd(&r, "EXISTS %b", key, (size_t)klen - 4);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->integer, 0);
    freeReplyObject(rep);
    rep = redis_cmd(&r, "DEL %b", key, (size_t)klen);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->integer, 1);
    freeReplyObject(rep);
    ck_assert_int_eq(redis_ping(&r), 0);
    ck_assert_uint_eq(r.reconnects, 0);
    redis_close(&r);
    config_free(&cfg);
}
END_TEST

START_TEST(test_command_error_is_a_reply_and_the_connection_stays)
{
    config_t cfg;
    redis_t r;
    char key[64];
    load_cfg(&cfg);
    ck_assert_msg(redis_open(&r, &cfg) == 0, "redis_open: %s", r.err);
    snprintf(key, sizeof key, "sf:it:%ld:str", (long)getpid());
    redisReply *rep = redis_cmd(&r, "SET %s %s", key, "not a number");
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);

    rep = redis_cmd(&r, "INCR %s", key);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ERROR);
    ck_assert_ptr_nonnull(strstr(rep->str, "not an integer"));
    freeReplyObject(rep);
    ck_assert_ptr_nonnull(r.c);

    rep = redis_cmd(&r, "NOSUCHCOMMAND");
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->type, REDIS_REPLY_ERROR);
    freeReplyObject(rep);

    rep = redis_cmd(&r, "DEL %s", key);
    ck_assert_ptr_nonnull(rep);
    ck_assert_int_eq(rep->integer, 1);
    freeReplyObject(rep);
    ck_assert_uint_eq(r.reconnects, 0);
    redis_close(&r);
    config_free(&cfg);
}
END_TEST

START_TEST(test_a_restarted_server_is_reconnected_after_the_retry_interval)
{
    config_t cfg;
    redis_t r;
    int port = t_free_port();
    pid_t pid = start_redis(port, NULL);
    private_cfg(&cfg, port, "1000");
    ck_assert_msg(redis_open(&r, &cfg) == 0, "redis_open: %s", r.err);
    redisReply *rep = redis_cmd(&r, "SET k before");
    ck_assert_ptr_nonnull(rep);
    freeReplyObject(rep);

    t_redis_stop(pid);
    uint64_t t0 = now_ms();
    ck_assert_ptr_null(redis_cmd(&r, "GET k"));
    ck_assert_uint_le(now_ms() - t0, 1000 + 500);
    ck_assert_ptr_null(r.c);
    ck_assert_str_ne(r.err, "");
    /* within the retry interval no connection is attempted: still down, still fast */
    ck_assert_int_eq(redis_ping(&r), -1);
    ck_assert_uint_eq(r.reconnects, 0);

    uint64_t failed_at = now_ms();
    pid = start_redis(port, NULL);
    if (now_ms() - failed_at < REDIS_RETRY_MS / 2) {
        /* the server is back but the interval has not passed: no attempt yet (checked only
         * when the restart was quick enough for that to be certain) */
        ck_assert_ptr_null(redis_cmd(&r, "PING"));
        ck_assert_uint_eq(r.reconnects, 0);
    }
    sleep_ms(REDIS_RETRY_MS + 50);
    rep = redis_cmd(&r, "SET k after");
    ck_assert_msg(rep != NULL, "after restart: %s", r.err);
    ck_assert_int_eq(rep->type, REDIS_REPLY_STATUS);
    freeReplyObject(rep);
    ck_assert_uint_eq(r.reconnects, 1);
    ck_assert_int_eq(redis_ping(&r), 0);
    redis_close(&r);
    t_redis_stop(pid);
    config_free(&cfg);
}
END_TEST

START_TEST(test_a_closed_port_fails_fast_and_is_not_hammered)
{
    config_t cfg;
    redis_t r;
    int port = t_free_port();
    private_cfg(&cfg, port, "500");
    uint64_t t0 = now_ms();
    ck_assert_int_eq(redis_open(&r, &cfg), -1);
    ck_assert_uint_le(now_ms() - t0, 500 + 500);
    ck_assert_ptr_null(r.c);
    ck_assert_ptr_nonnull(strstr(r.err, "refused"));
    ck_assert_ptr_null(redis_cmd(&r, "PING"));
    ck_assert_int_eq(redis_ping(&r), -1);

    /* once the server is there and the interval has passed, the next call connects */
    pid_t pid = start_redis(port, NULL);
    sleep_ms(REDIS_RETRY_MS + 50);
    ck_assert_msg(redis_ping(&r) == 0, "ping: %s", r.err);
    ck_assert_uint_eq(r.reconnects, 1);
    redis_close(&r);
    t_redis_stop(pid);
    config_free(&cfg);
}
END_TEST

START_TEST(test_a_server_that_never_answers_times_out)
{
    config_t cfg;
    redis_t r;
    int port;
    int fd = bound_socket(&port, 1); /* the kernel completes the handshake; nobody replies */
    private_cfg(&cfg, port, "300");
    ck_assert_msg(redis_open(&r, &cfg) == 0, "redis_open: %s", r.err);
    uint64_t t0 = now_ms();
    ck_assert_ptr_null(redis_cmd(&r, "PING"));
    uint64_t took = now_ms() - t0;
    ck_assert_uint_ge(took, 250);
    ck_assert_uint_le(took, 300 + 700);
    ck_assert_ptr_null(r.c);
    ck_assert_str_ne(r.err, "");
    redis_close(&r);
    close(fd);
    config_free(&cfg);
}
END_TEST

START_TEST(test_auth_uses_the_configured_password)
{
    config_t cfg;
    redis_t r;
    int port = t_free_port();
    pid_t pid = start_redis(port, "s3cret");
    private_cfg(&cfg, port, "1000");
    set_key(&cfg, "redis.password", "wrong");
    ck_assert_int_eq(redis_open(&r, &cfg), -1);
    ck_assert_ptr_nonnull(strstr(r.err, "AUTH"));
    ck_assert_ptr_null(r.c);
    redis_close(&r);

    set_key(&cfg, "redis.password", "s3cret");
    ck_assert_msg(redis_open(&r, &cfg) == 0, "redis_open: %s", r.err);
    ck_assert_int_eq(redis_ping(&r), 0);
    redis_close(&r);
    t_redis_stop(pid);
    config_free(&cfg);
}
END_TEST

/* ---------------------------------------------------------------- runner */

static int env_present(void)
{
    int ok = 1;
    for (size_t i = 0; required_env[i] != NULL; i++) {
        if (getenv(required_env[i]) == NULL) {
            fprintf(stderr, "test_redis: %s is not set (run through scripts/dev test)\n", required_env[i]);
            ok = 0;
        }
    }
    return ok;
}

static Suite *redis_suite(void)
{
    Suite *s = suite_create("redis");
    TCase *tc = tcase_create("redis");
    tcase_set_timeout(tc, 30);
    tcase_add_test(tc, test_set_and_get_round_trip_binary_safe_values);
    tcase_add_test(tc, test_command_error_is_a_reply_and_the_connection_stays);
    tcase_add_test(tc, test_a_restarted_server_is_reconnected_after_the_retry_interval);
    tcase_add_test(tc, test_a_closed_port_fails_fast_and_is_not_hammered);
    tcase_add_test(tc, test_a_server_that_never_answers_times_out);
    tcase_add_test(tc, test_auth_uses_the_configured_password);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!env_present())
        return EXIT_FAILURE;
    /* a write to a connection the server closed must be an error, not a signal */
    signal(SIGPIPE, SIG_IGN);
    int failed = t_run(redis_suite(), 0);
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
