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
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "handlers/handlers.h"
#include "server/http/http.h"
#include "models/base/log.h"
#include "models/store/migrate.h"
#include "models/providers/alipay.h"
#include "models/base/money.h"
#include "models/payment.h"
#include "models/providers/paykeys.h"
#include "models/seed.h"
#include "models/user.h"
#include "models/providers/wxpay.h"
#include "server/http/pool.h"
#include "models/store/redis.h"
#include "server/http/router.h"
#include "server/http/statpoll.h"
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

/* ---- stallfront sandbox pay: the sandbox provider paying an order ---- */

#define SANDBOX_ANSWER_MAX 4096 /* bytes of the server's answer kept for printing */
#define SANDBOX_TIMEOUT_S  10

typedef struct sandbox_args {
    int64_t order_id;
    pay_provider_t provider;
    const char *url; /* NULL: http://<http.listen> */
} sandbox_args_t;

typedef struct sandbox_answer {
    long status;
    char body[SANDBOX_ANSWER_MAX + 1];
    size_t len;
} sandbox_answer_t;

/* Parses `pay ORDER_ID [--provider wechat|alipay] [--url BASE]`. 0, or 2 after a message. */
static int sandbox_parse(int argc, char **argv, sandbox_args_t *a)
{
    *a = (sandbox_args_t){0, PAY_WECHAT, NULL};
    if (argc < 2 || strcmp(argv[0], "pay") != 0) {
        fprintf(stderr, "sandbox: expected `pay ORDER_ID` (see stallfront sandbox --help)\n");
        return 2;
    }
    char *end;
    long long id = strtoll(argv[1], &end, 10);
    if (argv[1][0] < '1' || argv[1][0] > '9' || *end != '\0' || id <= 0 || id > (1LL << 53)) {
        fprintf(stderr, "sandbox pay: '%s' is not an order id\n", argv[1]);
        return 2;
    }
    a->order_id = id;
    for (int i = 2; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(argv[i], "--provider") == 0 && v != NULL && payment_provider_parse(v) != 0)
            a->provider = payment_provider_parse(v);
        else if (strcmp(argv[i], "--url") == 0 && v != NULL && v[0] != '\0')
            a->url = v;
        else if (strcmp(argv[i], "--provider") == 0 && v != NULL) {
            fprintf(stderr, "sandbox pay: --provider '%s' is not wechat or alipay\n", v);
            return 2;
        } else
            return usage_error("sandbox", argv[i]);
        i++;
    }
    return 0;
}

/* The order's newest 'created' attempt for the provider, or a new one made as POST
 * /v1/orders/{id}/payments makes it. 0, or 1 after a message. */
static int sandbox_attempt(db_t *db, const sandbox_args_t *a, pay_attempt_t *out)
{
    pay_attempt_t all[PAY_ATTEMPTS_MAX];
    size_t n = 0;
    int rc = payment_created_attempts(db, a->order_id, all, PAY_ATTEMPTS_MAX, &n);
    for (size_t i = n; rc == DB_OK && i > 0; i--)
        if (all[i - 1].provider == a->provider) {
            *out = all[i - 1];
            return 0;
        }
    if (rc == DB_OK)
        rc = payment_create(db, 0, a->order_id, a->provider, out); /* consumer 0: the order's own */
    if (rc == DB_OK) {
        printf("created payment %lld (%s) for order %lld\n", (long long)out->id, out->out_trade_no,
               (long long)a->order_id);
        return 0;
    }
    if (rc == PAY_E_NOT_PAYABLE)
        fprintf(stderr, "sandbox pay: order %lld is not pending_payment: nothing to pay\n", (long long)a->order_id);
    else if (rc == DB_NOROW)
        fprintf(stderr,
                "sandbox pay: no order %lld, or no %s payment attempt for it: create one with POST "
                "/v1/orders/%lld/payments first\n",
                (long long)a->order_id, payment_provider_name(a->provider), (long long)a->order_id);
    else
        fprintf(stderr, "sandbox pay: %s\n", db->err);
    return 1;
}

static size_t sandbox_keep(char *data, size_t size, size_t nmemb, void *userp)
{
    sandbox_answer_t *ans = userp;
    size_t n = size * nmemb, room = SANDBOX_ANSWER_MAX - ans->len;
    memcpy(ans->body + ans->len, data, n < room ? n : room);
    ans->len += n < room ? n : room;
    ans->body[ans->len] = '\0';
    return n;
}

/* POSTs body to url with the headers (NULL-ended "Name: value"); prints both ways. 0 with
 * *ans, or 1 when no answer came. */
static int sandbox_post(const char *url, const char *const *headers, const char *body, size_t len,
                        sandbox_answer_t *ans)
{
    struct curl_slist *list = NULL;
    CURL *c = curl_easy_init();
    memset(ans, 0, sizeof(*ans));
    printf("POST %s\n", url);
    for (size_t i = 0; headers[i] != NULL; i++) {
        printf("%s\n", headers[i]);
        list = curl_slist_append(list, headers[i]);
    }
    printf("\n%.*s\n\n", (int)len, body);
    CURLcode rc = CURLE_FAILED_INIT;
    if (c != NULL) {
        curl_easy_setopt(c, CURLOPT_URL, url);
        curl_easy_setopt(c, CURLOPT_HTTPHEADER, list);
        curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
        curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
        curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sandbox_keep);
        curl_easy_setopt(c, CURLOPT_WRITEDATA, ans);
        curl_easy_setopt(c, CURLOPT_TIMEOUT, (long)SANDBOX_TIMEOUT_S);
        curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
        if ((rc = curl_easy_perform(c)) == CURLE_OK)
            curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &ans->status);
    }
    curl_slist_free_all(list);
    curl_easy_cleanup(c);
    if (rc != CURLE_OK) {
        fprintf(stderr, "sandbox pay: no answer from %s: %s\n", url, curl_easy_strerror(rc));
        return 1;
    }
    printf("answer: %ld %s\n", ans->status, ans->body);
    return 0;
}

/* Beijing time now in fmt (strftime). */
static void sandbox_time(char *buf, size_t len, const char *fmt)
{
    time_t t = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(buf, len, fmt, &tm);
}

/* A provider transaction id: prefix and random letters and digits. */
static int sandbox_txid(const char *prefix, char *buf, size_t len)
{
    char rnd[25];
    if (wxpay_nonce(rnd, 24) != WXPAY_OK)
        return -1;
    snprintf(buf, len, "%s%s", prefix, rnd);
    return 0;
}

/* Signs a TRADE.SUCCESS notification as WeChat Pay does and sends it. 0 iff acknowledged. */
static int sandbox_wechat(const config_t *cfg, const pay_attempt_t *p, const char *url)
{
    paykeys_wechat_t keys;
    paykeys_signer_t signer;
    wxpay_signed_t s = {0};
    wxpay_notify_t ev = {.kind = WXPAY_KIND_PAYMENT, .total_fen = p->amount_fen, .refund_fen = -1};
    sandbox_answer_t ans;
    char err[PAYKEYS_ERR_MAX], h[5][WXPAY_SIG_B64_MAX + 40];
    int rc = 1;
    if (paykeys_wechat_load(cfg, &keys, err, sizeof(err)) != 0 ||
        paykeys_sandbox_wechat_signer(cfg, &signer, err, sizeof(err)) != 0) {
        fprintf(stderr, "sandbox pay: %s\n", err);
        paykeys_wechat_free(&keys);
        return 1;
    }
    snprintf(ev.event_type, sizeof(ev.event_type), "TRANSACTION.SUCCESS");
    snprintf(ev.out_trade_no, sizeof(ev.out_trade_no), "%s", p->out_trade_no);
    snprintf(ev.trade_state, sizeof(ev.trade_state), "SUCCESS");
    snprintf(ev.currency, sizeof(ev.currency), "CNY");
    snprintf(ev.openid, sizeof(ev.openid), "%s", p->openid[0] != '\0' ? p->openid : "sandbox-payer");
    sandbox_time(ev.create_time, sizeof(ev.create_time), "%Y-%m-%dT%H:%M:%S+08:00");
    snprintf(ev.success_time, sizeof(ev.success_time), "%s", ev.create_time);
    if (sandbox_txid("EV-", ev.id, sizeof(ev.id)) != 0 ||
        sandbox_txid("4200", ev.transaction_id, sizeof(ev.transaction_id)) != 0 ||
        wxpay_sign_notify(signer.private_key, signer.serial, &keys.merchant, &ev, (int64_t)time(NULL), NULL, &s) !=
            WXPAY_OK) {
        fprintf(stderr, "sandbox pay: could not sign the notification\n");
        goto out;
    }
    snprintf(h[0], sizeof(h[0]), "Wechatpay-Timestamp: %s", s.timestamp);
    snprintf(h[1], sizeof(h[1]), "Wechatpay-Nonce: %s", s.nonce);
    snprintf(h[2], sizeof(h[2]), "Wechatpay-Signature: %s", s.signature);
    snprintf(h[3], sizeof(h[3]), "Wechatpay-Serial: %s", s.serial);
    snprintf(h[4], sizeof(h[4]), "Wechatpay-Signature-Type: %s", WXPAY_SIGNATURE_TYPE);
    const char *headers[] = {"Content-Type: application/json", h[0], h[1], h[2], h[3], h[4], NULL};
    if (sandbox_post(url, headers, s.body, s.body_len, &ans) == 0)
        rc = ans.status == 200 || ans.status == 204 ? 0 : 1;
out:
    wxpay_signed_free(&s);
    paykeys_signer_free(&signer);
    paykeys_wechat_free(&keys);
    return rc;
}

/* Signs a TRADE_SUCCESS notification as Alipay does and sends it. 0 iff answered `success`. */
static int sandbox_alipay(const config_t *cfg, const pay_attempt_t *p, const char *url)
{
    paykeys_alipay_t keys;
    paykeys_signer_t signer;
    sandbox_answer_t ans;
    char err[PAYKEYS_ERR_MAX], when[32], yuan[32], trade_no[40], notify_id[40], *body = NULL;
    size_t len = 0;
    int rc = 1;
    if (paykeys_alipay_load(cfg, &keys, err, sizeof(err)) != 0 ||
        paykeys_sandbox_alipay_signer(cfg, &signer, err, sizeof(err)) != 0) {
        fprintf(stderr, "sandbox pay: %s\n", err);
        paykeys_alipay_free(&keys);
        return 1;
    }
    sandbox_time(when, sizeof(when), "%Y-%m-%d %H:%M:%S");
    if (money_format_yuan(p->amount_fen, yuan, sizeof(yuan)) != 0 || sandbox_txid("2026", trade_no, 40) != 0 ||
        sandbox_txid("sbx", notify_id, 40) != 0)
        goto out;
    const alipay_kv_t kv[] = {{"notify_time", when},
                              {"notify_type", "trade_status_sync"},
                              {"notify_id", notify_id},
                              {"app_id", keys.app_id},
                              {"version", "1.0"},
                              {"trade_no", trade_no},
                              {"out_trade_no", p->out_trade_no},
                              {"buyer_id", "2088000000000000"},
                              {"seller_id", keys.seller_id},
                              {"trade_status", "TRADE_SUCCESS"},
                              {"total_amount", yuan},
                              {"receipt_amount", yuan},
                              {"gmt_payment", when},
                              {"subject", p->order_no}};
    if (alipay_sign_params(signer.private_key, kv, sizeof(kv) / sizeof(kv[0]), "utf-8", &body, &len) != ALIPAY_OK) {
        fprintf(stderr, "sandbox pay: could not sign the notification\n");
        goto out;
    }
    const char *headers[] = {"Content-Type: application/x-www-form-urlencoded; charset=utf-8", NULL};
    if (sandbox_post(url, headers, body, len, &ans) == 0)
        rc = ans.status == 200 && strcmp(ans.body, "success") == 0 ? 0 : 1;
out:
    free(body);
    paykeys_signer_free(&signer);
    paykeys_alipay_free(&keys);
    return rc;
}

static int cmd_sandbox(const config_t *cfg, int argc, char **argv)
{
    sandbox_args_t a;
    pay_attempt_t p = {0};
    char url[1024], host[256];
    int port = 0, rc = sandbox_parse(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (!paykeys_is_sandbox(cfg)) {
        fprintf(stderr, "sandbox pay: payments.mode is %s, not sandbox: the server would refuse sandbox keys\n",
                cfg->payments_mode);
        return 1;
    }
    const char *path = a.provider == PAY_WECHAT ? "/v1/pay/wechat/notify" : "/v1/pay/alipay/notify";
    size_t n = a.url != NULL ? strlen(a.url) : 0;
    if (a.url != NULL) /* "http://host:port" or "http://host:port/" */
        snprintf(url, sizeof(url), "%.*s%s", (int)(n - (a.url[n - 1] == '/')), a.url, path);
    else if (config_split_hostport(cfg->http_listen, host, sizeof(host), &port) == 0)
        snprintf(url, sizeof(url), "http://%s:%d%s",
                 host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, port, path);
    else {
        fprintf(stderr, "sandbox pay: http.listen '%s' is not host:port; pass --url\n", cfg->http_listen);
        return 2;
    }
    db_t db;
    rc = 1;
    db_thread_init();
    if (db_open(&db, cfg) != DB_OK)
        fprintf(stderr, "sandbox pay: cannot connect to MariaDB at %s:%d: %s\n", cfg->db_host, cfg->db_port, db.err);
    else if (sandbox_attempt(&db, &a, &p) == 0)
        rc = a.provider == PAY_WECHAT ? sandbox_wechat(cfg, &p, url) : sandbox_alipay(cfg, &p, url);
    db_close(&db);
    db_thread_end();
    if (rc == 0)
        printf("paid: the server acknowledged the %s payment of %s\n", payment_provider_name(a.provider),
               p.out_trade_no);
    return rc;
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
    {"sandbox", "play the sandbox payment provider (development, demos)",
     "  pay ORDER_ID [--provider wechat|alipay] [--url BASE]\n"
     "      pays order ORDER_ID as the provider would: takes the order's newest unpaid payment\n"
     "      attempt for the provider (wechat by default), or makes one as POST\n"
     "      /v1/orders/{id}/payments does, signs a successful-payment callback exactly as the\n"
     "      provider does with the sandbox keys under payments.sandbox_dir, and POSTs it to\n"
     "      BASE (default http://<http.listen>) + /v1/pay/<provider>/notify. Prints what it\n"
     "      sent and the server's answer; exits 0 iff the server acknowledged the payment, 1\n"
     "      otherwise. Needs payments.mode = sandbox.\n",
     cmd_sandbox},
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
