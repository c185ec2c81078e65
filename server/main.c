/*
 * The stallfront binary: one executable, one subcommand per role (serve, work, migrate,
 * seed, config), one configuration for all. Each subcommand parses its own options, has
 * --help, and returns a process exit status: 0 ok, 1 failure, 2 usage error.
 */
#include <curl/curl.h>
#include <getopt.h>
#include <openssl/crypto.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "config.h"
#include "db.h"
#include "handlers/handlers.h"
#include "http.h"
#include "log.h"
#include "migrate.h"
#include "models/seed.h"
#include "models/user.h"
#include "pool.h"
#include "redis.h"
#include "router.h"
#include "statpoll.h"
#include "workers/qstats.h"
#include "workers/work.h"

/* How often serve refreshes the queue figures /metrics shows. */
#define STATS_INTERVAL_MS 5000

typedef struct command {
    const char *name;
    const char *summary;
    const char *usage; /* the rest of the --help text */
    int (*run)(const config_t *cfg, int argc, char **argv);
} command_t;

static const command_t *find_command(const char *name);

static void usage_all(FILE *out)
{
    fprintf(out, "usage: stallfront COMMAND [--config FILE] [options]\n\ncommands:\n");
    for (const command_t *c = find_command(NULL); c->name != NULL; c++)
        fprintf(out, "  %-8s %s\n", c->name, c->summary);
    fprintf(out, "\nEvery command takes --config FILE (or $STALLFRONT_CONFIG) and STALLFRONT_* environment\n"
                 "overrides; `stallfront COMMAND --help` says more. Keys: docs/configuration.md.\n");
}

/* Blocks the shutdown signals in this thread and every thread it starts, so that they can
 * be taken synchronously with sigwait() on the main thread. */
static void block_signals(sigset_t *set)
{
    sigemptyset(set);
    sigaddset(set, SIGTERM);
    sigaddset(set, SIGINT);
    pthread_sigmask(SIG_BLOCK, set, NULL);
    signal(SIGPIPE, SIG_IGN);
}

static int usage_error(const char *cmd, const char *arg)
{
    fprintf(stderr, "stallfront %s: unexpected argument '%s' (see stallfront %s --help)\n", cmd, arg, cmd);
    return 2;
}

static int cmd_serve(const config_t *cfg, int argc, char **argv)
{
    sigset_t set;
    int sig, rc = 1;
    char err[512];
    router_t routes;
    pool_t *pool = NULL;
    http_server_t *srv = NULL;
    statpoll_t *stats = NULL;

    if (argc > 0)
        return usage_error("serve", argv[0]);
    block_signals(&set);
    router_init(&routes);
    if (handlers_register_all(&routes, cfg) != 0) {
        log_error("route table is invalid (a duplicate or malformed pattern)");
        goto out;
    }
    if ((pool = pool_new(cfg, (size_t)cfg->pool_workers, (size_t)cfg->pool_queue)) == NULL || pool_start(pool) != 0) {
        log_error("cannot start the worker pool");
        goto out;
    }
    if ((srv = http_server_new(cfg, &routes, pool, err, sizeof(err))) == NULL) {
        log_error("%s", err);
        goto out;
    }
    /* Queue lag, dead letters and the outbox backlog for /metrics, off the loop threads. */
    if ((stats = statpoll_start(cfg, qstats_render_all, STATS_INTERVAL_MS)) != NULL)
        http_server_set_stats(srv, stats);
    if (http_server_start(srv) != 0) {
        log_error("cannot start the loop threads");
        http_server_shutdown(srv);
        goto out;
    }
    log_info("serving http (HTTP/1.1, h2c) on %s%s%s; %d workers", cfg->http_listen,
             cfg->tls_listen[0] ? " and TLS (h2, http/1.1) on " : "", cfg->tls_listen, cfg->pool_workers);
    sigwait(&set, &sig);
    log_info("received %s: draining (up to %d s)", sig == SIGTERM ? "SIGTERM" : "SIGINT", cfg->shutdown_grace_s);
    size_t left = http_server_shutdown(srv);
    statpoll_stop(stats); /* after the loops: /metrics reads it */
    stats = NULL;
    if (left > 0)
        log_warn("%zu requests were still unanswered when the grace period ended", left);
    rc = 0;
out:
    statpoll_stop(stats); /* only set here when start-up failed after starting it */
    if (srv != NULL && http_server_free(srv) == 0) {
        /* Connections were still open: their memory belongs to h2o until the process ends. */
        log_info("stopped with connections still open");
        pool_free(pool);
        router_free(&routes);
        fflush(NULL);
        _exit(rc);
    }
    pool_free(pool);
    router_free(&routes);
    if (rc == 0)
        log_info("stopped cleanly");
    return rc;
}

static int cmd_work(const config_t *cfg, int argc, char **argv)
{
    sigset_t set;
    const char *only = NULL;
    char bad[72];
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--only") == 0 && i + 1 < argc)
            only = argv[++i];
        else if (strncmp(argv[i], "--only=", 7) == 0)
            only = argv[i] + 7;
        else
            return usage_error("work", argv[i]);
    }
    if (work_check_only(only, bad, sizeof(bad)) != 0) {
        fprintf(stderr, "stallfront work: --only: '%s' is not one of %s\n", bad, WORK_JOB_NAMES);
        return 2;
    }
    block_signals(&set); /* before any thread starts: they all inherit the mask */
    return work_run(cfg, only, &set);
}

static int cmd_migrate(const config_t *cfg, int argc, char **argv)
{
    int status_only = 0, rc = 1, applied = 0, version = 0;
    char err[512];
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--status") != 0)
            return usage_error("migrate", argv[i]);
        status_only = 1;
    }
    db_t db;
    db_thread_init();
    if (db_open(&db, cfg) != DB_OK) {
        fprintf(stderr, "migrate: cannot connect to MariaDB at %s:%d: %s\n", cfg->db_host, cfg->db_port, db.err);
        goto out;
    }
    if (status_only) {
        if (migrate_current(&db, &version, err, sizeof(err)) != 0) {
            fprintf(stderr, "migrate: %s\n", err);
            goto out;
        }
        printf("database is at schema %d; this binary knows up to %d\n", version,
               migrations_builtin_count ? migrations_builtin[migrations_builtin_count - 1].version : 0);
        rc = 0;
        goto out;
    }
    if (migrate_run(&db, migrations_builtin, migrations_builtin_count, stdout, &applied, err, sizeof(err)) != 0) {
        fprintf(stderr, "migrate: %s\n", err);
        goto out;
    }
    rc = 0;
out:
    db_close(&db);
    db_thread_end();
    return rc;
}

static int cmd_seed(const config_t *cfg, int argc, char **argv)
{
    int version = 0, rc = 1;
    char err[512];
    const char *cred_path = SEED_DEFAULT_CREDENTIALS;
    for (int i = 0; i < argc; i++) {
        if (strcmp(argv[i], "--credentials") == 0 && i + 1 < argc && argv[i + 1][0] != '\0')
            cred_path = argv[++i];
        else
            return usage_error("seed", argv[i]);
    }
    db_t db;
    redis_t r;
    db_thread_init();
    if (db_open(&db, cfg) != DB_OK) {
        fprintf(stderr, "seed: cannot connect to MariaDB at %s:%d: %s\n", cfg->db_host, cfg->db_port, db.err);
        goto out;
    }
    int want = migrations_builtin_count ? migrations_builtin[migrations_builtin_count - 1].version : 0;
    if (migrate_current(&db, &version, err, sizeof(err)) != 0 || version != want) {
        fprintf(stderr, "seed: the database is at schema %d, this binary expects %d: run `stallfront migrate` first\n",
                version, want);
        goto out;
    }
    /* Redis only carries the catalogue version: without it the seed still completes (and
     * seed_run says so). */
    redis_open(&r, cfg);
    rc = seed_run(&db, &r, cred_path, stdout, stderr) == 0 ? 0 : 1;
    redis_close(&r);
out:
    db_close(&db);
    db_thread_end();
    return rc;
}

/* Reads the first line of path ("-": stdin) into buf, without its line end. 0, or -1 with
 * a message on stderr (unreadable, or longer than buflen - 1). */
static int read_password(const char *path, char *buf, size_t buflen)
{
    FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "r");
    if (f == NULL) {
        fprintf(stderr, "operator: cannot read %s\n", path);
        return -1;
    }
    int rc = -1;
    if (fgets(buf, (int)buflen, f) == NULL)
        buf[0] = '\0';
    size_t n = strcspn(buf, "\r\n");
    if (n == strlen(buf) && n == buflen - 1)
        fprintf(stderr, "operator: the password is longer than %d bytes\n", USER_PASSWORD_MAX);
    else
        rc = 0;
    buf[n] = '\0';
    if (f != stdin)
        fclose(f);
    return rc;
}

/* Parses `add --market-id N --username U --password-file F`. 0, or 2 after a message. */
static int operator_args(int argc, char **argv, int64_t *market_id, const char **username, const char **pwfile)
{
    if (argc < 1) {
        fprintf(stderr, "operator: missing subcommand (see stallfront operator --help)\n");
        return 2;
    }
    if (strcmp(argv[0], "add") != 0)
        return usage_error("operator", argv[0]);
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--market-id") == 0 && v != NULL) {
            char *end;
            long long id = strtoll(v, &end, 10);
            if (*v < '1' || *v > '9' || *end != '\0' || id <= 0 || id > (1LL << 53)) {
                fprintf(stderr, "operator: --market-id '%s' is not a market id\n", v);
                return 2;
            }
            *market_id = id;
        } else if (strcmp(argv[i], "--username") == 0 && v != NULL)
            *username = v;
        else if (strcmp(argv[i], "--password-file") == 0 && v != NULL)
            *pwfile = v;
        else
            return usage_error("operator", argv[i]);
        i++;
    }
    if (*market_id == 0 || *username == NULL || *pwfile == NULL) {
        fprintf(stderr, "operator add: --market-id, --username and --password-file are required\n");
        return 2;
    }
    size_t ulen = strlen(*username);
    for (size_t i = 0; i < ulen; i++)
        if ((unsigned char)(*username)[i] <= ' ' || (*username)[i] == 0x7f)
            ulen = 0;
    if (ulen == 0 || ulen > USER_USERNAME_MAX) {
        fprintf(stderr, "operator add: the username must be 1 to %d bytes without spaces\n", USER_USERNAME_MAX);
        return 2;
    }
    return 0;
}

static int cmd_operator(const config_t *cfg, int argc, char **argv)
{
    int64_t market_id = 0, id = 0;
    const char *username = NULL, *pwfile = NULL;
    char password[USER_PASSWORD_MAX + 2];
    int rc = operator_args(argc, argv, &market_id, &username, &pwfile);
    if (rc != 0)
        return rc;
    if (read_password(pwfile, password, sizeof(password)) != 0)
        return 2;
    if (strlen(password) < 8) {
        fprintf(stderr, "operator add: the password must have at least 8 characters\n");
        return 2;
    }
    rc = 1;
    db_t db;
    db_thread_init();
    if (db_open(&db, cfg) != DB_OK) {
        fprintf(stderr, "operator: cannot connect to MariaDB at %s:%d: %s\n", cfg->db_host, cfg->db_port, db.err);
        goto out;
    }
    user_new_t u = {.role = "operator", .market_id = market_id, .username = username, .password = password};
    int st = user_create(&db, &u, &id);
    if (st == DB_OK) {
        printf("operator: created operator %s (user %lld) for market %lld\n", username, (long long)id,
               (long long)market_id);
        rc = 0;
    } else if (st == USER_E_NO_MARKET)
        fprintf(stderr, "operator add: there is no market %lld\n", (long long)market_id);
    else if (st == DB_DUP)
        fprintf(stderr, "operator add: the username %s is taken\n", username);
    else
        fprintf(stderr, "operator add: %s\n", db.err);
out:
    OPENSSL_cleanse(password, sizeof(password));
    db_close(&db);
    db_thread_end();
    return rc;
}

static int cmd_config(const config_t *cfg, int argc, char **argv)
{
    if (argc > 0)
        return usage_error("config", argv[0]);
    printf("# effective configuration%s%s (passwords hidden)\n", cfg->file ? " from " : "", cfg->file ? cfg->file : "");
    for (const config_key_t *k = config_keys; k->name != NULL; k++) {
        char value[1024];
        config_get(cfg, k->name, value, sizeof(value));
        int secret = strstr(k->name, "password") != NULL && value[0] != '\0';
        printf("# %s\n%s = %s\n", k->help, k->name, secret ? "(hidden)" : value);
    }
    return 0;
}

static const command_t commands[] = {
    {"serve", "serve the HTTP API (HTTP/1.1, h2c, TLS h2) until SIGTERM",
     "Runs the event-loop threads and the worker pool. SIGTERM or SIGINT stops accepting, lets\n"
     "in-flight requests finish (shutdown.grace_s) and exits 0.\n",
     cmd_serve},
    {"work", "run the background workers until SIGTERM",
     "Runs the outbox relay, the queue consumers and the periodic jobs, each on its own thread\n"
     "with its own MariaDB and Redis connections: " WORK_JOB_NAMES ".\n"
     "Survives MariaDB or Redis going away (retries with back-off). SIGTERM or SIGINT stops\n"
     "every job within a second or so and exits 0.\n"
     "  --only NAME,...   run only these jobs\n",
     cmd_work},
    {"migrate", "apply the schema migrations compiled into this binary",
     "Applies sql/NNNN_*.sql in order and records them; safe to run twice; refuses a database\n"
     "newer than this binary.\n  --status   print the database's schema version and exit\n",
     cmd_migrate},
    {"seed", "load the demo market (idempotent)",
     "Loads the demo Zhengzhou market (code zz-demo-01: stalls, vendors, products, couriers, an\n"
     "operator, notices) in one transaction, then upserts today's guide prices. Safe to run again:\n"
     "an existing market is left as it is, and the logins file is kept while its passwords still\n"
     "work; when it is missing or stale, the demo accounts get new passwords and it is rewritten.\n"
     "Needs a database migrated to this binary's schema.\n"
     "  --credentials FILE   where the demo logins go (JSON, mode 0600; default\n"
     "                       var/demo-credentials.json, relative to the current directory)\n",
     cmd_seed},
    {"operator", "add an operator account to a market",
     "  add --market-id N --username U --password-file F\n"
     "      creates an operator of market N; the password is the first line of F (\"-\": stdin),\n"
     "      at least 8 characters. Exits 1 for an unknown market or a taken username.\n",
     cmd_operator},
    {"config", "print the configuration keys", "Prints every configuration key with its meaning.\n", cmd_config},
    {NULL, NULL, NULL, NULL},
};

static const command_t *find_command(const char *name)
{
    if (name == NULL)
        return commands;
    for (const command_t *c = commands; c->name != NULL; c++)
        if (strcmp(c->name, name) == 0)
            return c;
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 || strcmp(argv[1], "help") == 0) {
        usage_all(argc < 2 ? stderr : stdout);
        return argc < 2 ? 2 : 0;
    }
    const command_t *cmd = find_command(argv[1]);
    if (cmd == NULL) {
        fprintf(stderr, "stallfront: unknown command '%s'\n\n", argv[1]);
        usage_all(stderr);
        return 2;
    }
    const char *config_path = NULL;
    int rest_argc = 0;
    char **rest = calloc((size_t)argc, sizeof(char *));
    if (rest == NULL)
        return 1;
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--help") == 0 || strcmp(argv[i], "-h") == 0) {
            printf("usage: stallfront %s [--config FILE] [options]\n\n%s.\n\n%s", cmd->name, cmd->summary, cmd->usage);
            printf("  --config FILE   configuration file (default: $STALLFRONT_CONFIG); STALLFRONT_* override it\n");
            free(rest);
            return 0;
        }
        if (strcmp(argv[i], "--config") == 0 && i + 1 < argc)
            config_path = argv[++i];
        else if (strncmp(argv[i], "--config=", 9) == 0)
            config_path = argv[i] + 9;
        else
            rest[rest_argc++] = argv[i];
    }
    config_t cfg;
    char err[512];
    if (config_load(&cfg, config_path, err, sizeof(err)) != 0) {
        fprintf(stderr, "stallfront: %s\n", err);
        free(rest);
        return 2;
    }
    if (log_set_level(cfg.log_level) != 0) {
        fprintf(stderr, "stallfront: log.level '%s' is not debug, info, warn or error\n", cfg.log_level);
        config_free(&cfg);
        free(rest);
        return 2;
    }
    db_library_init();
    curl_global_init(CURL_GLOBAL_DEFAULT); /* before any thread: WeChat sign-in uses libcurl */
    int rc = cmd->run(&cfg, rest_argc, rest);
    curl_global_cleanup();
    db_library_end();
    config_free(&cfg);
    free(rest);
    return rc;
}
