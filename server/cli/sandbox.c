/*
 * `stallfront sandbox pay`: the sandbox provider paying an order, for development and demos.
 * Finds (or makes) the order's payment attempt, has models/providers/sandbox.h sign the
 * notification the provider would send, POSTs it to our own server through the one client
 * (models/providers/httpc.h) and prints both ways. Exits 0 iff the server acknowledged.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/payment.h"
#include "models/providers/httpc.h"
#include "models/providers/paykeys.h"
#include "models/providers/sandbox.h"
#include "models/store/db.h"
#include "server/cli/cli.h"

#define ANSWER_MAX 4096 /* bytes of the server's answer kept for printing */
#define TIMEOUT_S  10

typedef struct args {
    int64_t order_id;
    pay_provider_t provider;
    const char *url; /* NULL: http://<http.listen> */
} args_t;

/* Parses `pay ORDER_ID [--provider wechat|alipay] [--url BASE]`. 0, or 2 after a message. */
static int parse(int argc, char **argv, args_t *a)
{
    *a = (args_t){0, PAY_WECHAT, NULL};
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
            return cli_usage_error("sandbox", argv[i]);
        i++;
    }
    return 0;
}

/* The order's newest 'created' attempt for the provider, or a new one made as POST
 * /v1/orders/{id}/payments makes it. 0, or 1 after a message. */
static int attempt_for(db_t *db, const args_t *a, pay_attempt_t *out)
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
    if (rc == SF_E_NOT_PAYABLE)
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

/* POSTs the notice to url, printing what it sends and what comes back. 0 with *ans (the
 * caller frees it), or 1 when no answer came. */
static int post(const char *url, const sandbox_notice_t *n, httpc_resp_t *ans)
{
    char why[HTTPC_ERR_MAX];
    httpc_req_t req = {.method = "POST",
                       .url = url,
                       .headers = n->headers,
                       .body = n->body,
                       .body_len = n->len,
                       .timeout_s = TIMEOUT_S,
                       .answer_max = ANSWER_MAX,
                       .truncate = 1}; /* the answer is only printed */
    printf("POST %s\n", url);
    for (size_t i = 0; n->headers[i] != NULL; i++)
        printf("%s\n", n->headers[i]);
    printf("\n%.*s\n\n", (int)n->len, n->body);
    if (httpc_call(&req, ans, why, sizeof(why)) != SF_OK) {
        fprintf(stderr, "sandbox pay: no answer from %s: %s\n", url, why);
        return 1;
    }
    printf("answer: %ld %s\n", ans->status, ans->body);
    return 0;
}

/* Signs p's successful-payment notification as its provider does and sends it to url. 0 iff
 * the server acknowledged it as the provider would read the answer. */
static int pay(const config_t *cfg, const pay_attempt_t *p, const char *url)
{
    sandbox_notice_t n;
    httpc_resp_t *ans = calloc(1, sizeof(*ans));
    char err[PAYKEYS_ERR_MAX];
    sandbox_payment_t sp = {
        .out_trade_no = p->out_trade_no, .order_no = p->order_no, .openid = p->openid, .amount_fen = p->amount_fen};
    int64_t now = (int64_t)time(NULL);
    int wechat = p->provider == PAY_WECHAT, rc = 1;
    sf_status_t st = wechat ? sandbox_wechat_notice(cfg, &sp, now, &n, err, sizeof(err))
                            : sandbox_alipay_notice(cfg, &sp, now, &n, err, sizeof(err));
    if (ans == NULL)
        fprintf(stderr, "sandbox pay: out of memory\n");
    else if (st != SF_OK)
        fprintf(stderr, "sandbox pay: %s\n", err);
    else if (post(url, &n, ans) == 0)
        rc = (wechat ? sandbox_wechat_acknowledged : sandbox_alipay_acknowledged)(ans->status, ans->body) ? 0 : 1;
    sandbox_notice_free(&n);
    if (ans != NULL)
        httpc_resp_free(ans);
    free(ans);
    return rc;
}

/* Where the notification goes: BASE + the provider's callback path. 0, or 2 after a message. */
static int notify_url(const config_t *cfg, const args_t *a, char *url, size_t len)
{
    char host[256];
    int port = 0;
    const char *path = a->provider == PAY_WECHAT ? "/v1/pay/wechat/notify" : "/v1/pay/alipay/notify";
    size_t n = a->url != NULL ? strlen(a->url) : 0;
    if (a->url != NULL) /* "http://host:port" or "http://host:port/" */
        snprintf(url, len, "%.*s%s", (int)(n - (a->url[n - 1] == '/')), a->url, path);
    else if (config_split_hostport(cfg->http_listen, host, sizeof(host), &port) == 0)
        snprintf(url, len, "http://%s:%d%s", host[0] == '\0' || strcmp(host, "0.0.0.0") == 0 ? "127.0.0.1" : host, port,
                 path);
    else {
        fprintf(stderr, "sandbox pay: http.listen '%s' is not host:port; pass --url\n", cfg->http_listen);
        return 2;
    }
    return 0;
}

static int run(const config_t *cfg, int argc, char **argv)
{
    args_t a;
    pay_attempt_t p = {0};
    char url[1024];
    int rc = parse(argc, argv, &a);
    if (rc != 0)
        return rc;
    if (!paykeys_is_sandbox(cfg)) {
        fprintf(stderr, "sandbox pay: payments.mode is %s, not sandbox: the server would refuse sandbox keys\n",
                cfg->payments_mode);
        return 1;
    }
    if ((rc = notify_url(cfg, &a, url, sizeof(url))) != 0)
        return rc;
    db_t db;
    rc = 1;
    if (cli_db_open("sandbox pay", cfg, &db) == 0 && attempt_for(&db, &a, &p) == 0)
        rc = pay(cfg, &p, url);
    cli_db_close(&db);
    if (rc == 0)
        printf("paid: the server acknowledged the %s payment of %s\n", payment_provider_name(a.provider),
               p.out_trade_no);
    return rc;
}

const cli_command_t cli_sandbox = {
    .name = "sandbox",
    .summary = "play the sandbox payment provider (development, demos)",
    .usage = "  pay ORDER_ID [--provider wechat|alipay] [--url BASE]\n"
             "      pays order ORDER_ID as the provider would: takes the order's newest unpaid payment\n"
             "      attempt for the provider (wechat by default), or makes one as POST\n"
             "      /v1/orders/{id}/payments does, signs a successful-payment callback exactly as the\n"
             "      provider does with the sandbox keys under payments.sandbox_dir, and POSTs it to\n"
             "      BASE (default http://<http.listen>) + /v1/pay/<provider>/notify. Prints what it\n"
             "      sent and the server's answer; exits 0 iff the server acknowledged the payment, 1\n"
             "      otherwise. Needs payments.mode = sandbox.\n",
    .run = run,
};
