/*
 * Configuration loading: defaults, then a `key = value` file, then STALLFRONT_* variables.
 * Runs once on the main thread before any other thread starts; the result is read-only
 * afterwards. Every key is described once, in config_keys[], which drives the loader,
 * `stallfront config` and the test that keeps docs/configuration.md true.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/config.h"

/* Longest line accepted in a config file: a value is a path or a password, never a blob. */
#define CONFIG_LINE_MAX 4096

const config_key_t config_keys[] = {
    {"http.listen", "127.0.0.1:8080", "address of HTTP/1.1 and h2c (prior knowledge and Upgrade)"},
    {"tls.listen", "127.0.0.1:8443", "address of TLS with ALPN h2 and http/1.1; empty disables TLS"},
    {"tls.cert", "var/tls/server.crt", "PEM certificate chain for TLS"},
    {"tls.key", "var/tls/server.key", "PEM private key for TLS"},
    {"http.threads", "0", "event-loop threads; 0 means one per core"},
    {"http.max_body", "65536", "largest request body in bytes; larger gets 413"},
    {"http.deadline_ms", "10000", "a request not answered by the worker pool within this gets 504"},
    {"http.conn_rps", "20000",
     "requests one connection may start per second; more get 429 (a bound for a runaway or hostile connection, not for "
     "a busy proxy)"},
    {"http.conn_inflight", "32", "worker-pool jobs one connection may have outstanding; more get 429"},
    {"http.public_max_age_s", "10",
     "how long a client or CDN may reuse a public catalogue answer without asking (Cache-Control max-age; the ETag "
     "revalidates it after), seconds; 0: no-cache"},
    {"cache.stock_stale_ms", "1000",
     "how long a cached catalogue answer may still be served after only the stock of the order flow changed (checkout, "
     "cancel, expiry, reject, pick), ms; 0: at once stale, as after any other change"},
    {"http.idle_timeout_s", "30", "idle connections are closed after this many seconds"},
    {"http.web_root", "",
     "directory of the built web app (index.html, assets/) served under /app/; empty: no web app, /app answers 404"},
    {"pool.workers", "16", "worker threads, each owning one MariaDB and one Redis connection"},
    {"pool.queue", "1024", "jobs that may wait for a worker; when full the server answers 503"},
    {"db.host", "127.0.0.1", "MariaDB host"},
    {"db.port", "3306", "MariaDB port"},
    {"db.user", "stallfront", "MariaDB user"},
    {"db.password", "", "MariaDB password"},
    {"db.name", "stallfront", "MariaDB database"},
    {"db.connect_timeout_s", "2", "MariaDB connect timeout, seconds"},
    {"db.rw_timeout_s", "10", "MariaDB read and write timeout of every statement, seconds (row lock waits: half)"},
    {"redis.host", "127.0.0.1", "Redis host"},
    {"redis.port", "6379", "Redis port"},
    {"redis.password", "", "Redis password (AUTH); empty for none"},
    {"redis.timeout_ms", "2000", "Redis connect and command timeout, milliseconds"},
    {"log.access", "-", "JSON-lines access log: - for stdout, a file path, or off"},
    {"log.level", "info", "least severe diagnostic written to stderr: debug, info, warn, error"},
    {"shutdown.grace_s", "10", "on SIGTERM, how long in-flight requests may take to finish"},
    {"test.routes", "0", "1 adds the /_test/ routes (echo, sleep) used by the end-to-end tests; never in production"},
    {"auth.wechat_mode", "live", "live: WeChat code2session; sandbox: a code sandbox-<name> signs in consumer <name>"},
    {"wechat.appid", "", "the mini-program's app id (live sign-in)"},
    {"wechat.secret", "", "the mini-program's app secret (live sign-in)"},
    {"wechat.api_base", "https://api.weixin.qq.com", "base URL of WeChat's API (tests point it at a local fake)"},
    {"auth.token_ttl_s", "604800", "how long a sign-in token lives, seconds"},
    {"auth.login_max_failures", "5", "wrong passwords for one username before 429"},
    {"auth.login_max_failures_per_address", "50", "wrong passwords from one client address, any usernames, before 429"},
    {"auth.login_window_s", "900", "the window the failures are counted in, seconds"},
    {"order.delivery_fee_fen", "500", "flat delivery fee of an order, fen"},
    {"order.free_delivery_from_fen", "5000", "orders whose goods are worth this much ship free, fen; 0: never"},
    {"order.delivery_radius_m", "10000", "the farthest a delivery address may be from its market, metres"},
    {"order.unpaid_timeout_s", "900", "an unpaid order is cancelled and its stock returned this long after checkout"},
    {"order.sweep_interval_s", "60", "how often stallfront work sweeps MariaDB for orders stuck past their deadline"},
    {"queue.lease_ms", "30000", "a stream message not acknowledged this long is claimed again by the reaper"},
    {"queue.max_deliveries", "5", "a message delivered this many times goes to the dead-letter stream"},
    {"housekeeping.interval_s", "300", "how often stallfront work's housekeeping job runs, seconds"},
    {"housekeeping.retention_days", "14",
     "published outbox rows, processed rows and stream entries kept this long, days"},
    {"housekeeping.refund_stuck_s", "600", "a refund still pending this long is asked for again, seconds"},
    {"payments.mode", "live", "live: WeChat Pay and Alipay APIs; sandbox: no outbound calls, sandbox-signed callbacks"},
    {"payments.sandbox_dir", "var/sandbox", "where the sandbox provider's keys are (scripts/dev writes them)"},
    {"wechat.mchid", "", "WeChat Pay merchant id (sandbox: sandbox-mch)"},
    {"wechat.apiv3_key_file", "", "file holding the 32-byte APIv3 key (sandbox: <sandbox_dir>/wechat_apiv3.key)"},
    {"wechat.platform_keys", "", "WeChat Pay platform public keys valid now: SERIAL=file.pem, comma-separated"},
    {"wechat.merchant_key_file", "", "our WeChat Pay merchant private key (PEM), signs outbound requests"},
    {"wechat.merchant_serial", "", "serial number of our merchant certificate"},
    {"wechat.pay_api_base", "https://api.mch.weixin.qq.com", "base URL of WeChat Pay's API (tests point it at a fake)"},
    {"wechat.notify_url", "", "the URL WeChat Pay calls back (…/v1/pay/wechat/notify)"},
    {"alipay.app_id", "", "Alipay app id (sandbox: sandbox-app)"},
    {"alipay.seller_id", "", "Alipay seller id (sandbox: sandbox-seller)"},
    {"alipay.public_key_file", "", "Alipay's public key, PEM or bare base64 (sandbox: derived from the sandbox key)"},
    {"alipay.app_key_file", "", "our Alipay app private key (PEM), signs outbound requests"},
    {"alipay.gateway", "https://openapi.alipay.com/gateway.do", "Alipay's gateway URL (tests point it at a fake)"},
    {"alipay.notify_url", "", "the URL Alipay calls back (…/v1/pay/alipay/notify)"},
    {"alerts.price_band_pct", "50",
     "a product priced this many percent above or below the day's guide price is an anomaly"},
    {"dispatch.trigger", "paid",
     "paid: a delivery is dispatched when the order is paid; ready: when its last vendor order is ready"},
    {"fulfil.accept_alert_s", "300",
     "a paid vendor order nobody accepted this long is flagged to the operator, seconds"},
    {"fulfil.accept_timeout_s", "1200",
     "a paid vendor order nobody accepted this long is rejected automatically and refunded, seconds"},
    {"dispatch.offer_ttl_s", "45", "how long a courier has to answer an offer, seconds"},
    {"dispatch.rounds", "3", "offer rounds before a delivery opens to every courier on shift in range (grab)"},
    {"dispatch.radius_m", "5000", "couriers farther than this from the market are not offered its deliveries, metres"},
    {"dispatch.retry_max_s", "60",
     "longest wait between tries to find a courier (the back-off doubles up to it), seconds"},
    {"courier.heartbeat_s", "30", "a courier whose last location is older than this is not offered work, seconds"},
    {"delivery.code_attempts", "5", "wrong delivery codes before the delivery is locked for the operator"},
    {"delivery.speed_kmh", "15",
     "a courier's average speed from the market to the drop-off, for the order's eta, km/h"},
    {"delivery.pickup_alert_s", "1800",
     "an assigned delivery not picked up this long is flagged to the operator, seconds"},
    {"delivery.transit_alert_s", "3600", "a delivery in transit this long is flagged to the operator, seconds"},
    {"watchdog.interval_s", "15",
     "how often stallfront work's watchdog looks for stuck vendor orders, offers and deliveries, seconds"},
    {"events.heartbeat_s", "20", "an event stream with nothing to say gets a comment this often, seconds"},
    {"events.buffer_bytes", "262144", "bytes an event stream may have unsent before its reader is dropped as too slow"},
    {"events.keep", "1000", "events kept per party for Last-Event-ID to resume from"},
    {"platform.rate_per_min", "600",
     "signed requests one supervision-platform client may make per minute (429 beyond)"},
    {"platform.rotation_grace_s", "86400",
     "how long a platform client's previous secret stays valid after a rotation, seconds"},
    {"salelog.interval_s", "1", "how often stallfront work gives feed positions to new sale-line versions, seconds"},
    {"stats.max_days", "92", "the longest date range (days) a statistics or KPI request may ask for"},
    {NULL, NULL, NULL},
};

typedef enum { T_STR, T_INT, T_I64 } vtype_t;

typedef struct {
    const char *name;
    vtype_t type;
    size_t off;
    int64_t min, max;
} slot_t;

#define S(n, f)                                                                                                        \
    {                                                                                                                  \
        n, T_STR, offsetof(config_t, f), 0, 0                                                                          \
    }
#define I(n, f, lo, hi)                                                                                                \
    {                                                                                                                  \
        n, T_INT, offsetof(config_t, f), lo, hi                                                                        \
    }
#define L(n, f, lo, hi)                                                                                                \
    {                                                                                                                  \
        n, T_I64, offsetof(config_t, f), lo, hi                                                                        \
    }

/* Where each key lands and the range it must fall in. The ranges refuse values that would
 * make the server useless or unsafe (a zero pool, a body limit above what h2o should buffer). */
static const slot_t slots[] = {
    S("http.listen", http_listen),
    S("tls.listen", tls_listen),
    S("tls.cert", tls_cert),
    S("tls.key", tls_key),
    I("http.threads", http_threads, 0, 256),
    L("http.max_body", http_max_body, 1024, 16 * 1024 * 1024),
    I("http.deadline_ms", http_deadline_ms, 10, 600000),
    I("http.conn_rps", http_conn_rps, 1, 1000000),
    I("http.conn_inflight", http_conn_inflight, 1, 100000),
    I("http.public_max_age_s", http_public_max_age_s, 0, 3600),
    I("cache.stock_stale_ms", cache_stock_stale_ms, 0, 10000),
    I("http.idle_timeout_s", http_idle_timeout_s, 1, 3600),
    S("http.web_root", http_web_root),
    I("pool.workers", pool_workers, 1, 1024),
    I("pool.queue", pool_queue, 1, 1000000),
    S("db.host", db_host),
    I("db.port", db_port, 1, 65535),
    S("db.user", db_user),
    S("db.password", db_password),
    S("db.name", db_name),
    I("db.connect_timeout_s", db_connect_timeout_s, 1, 600),
    I("db.rw_timeout_s", db_rw_timeout_s, 1, 3600),
    S("redis.host", redis_host),
    I("redis.port", redis_port, 1, 65535),
    S("redis.password", redis_password),
    I("redis.timeout_ms", redis_timeout_ms, 1, 600000),
    S("log.access", log_access),
    S("log.level", log_level),
    I("shutdown.grace_s", shutdown_grace_s, 0, 3600),
    I("test.routes", test_routes, 0, 1),
    S("auth.wechat_mode", auth_wechat_mode),
    S("wechat.appid", wechat_appid),
    S("wechat.secret", wechat_secret),
    S("wechat.api_base", wechat_api_base),
    I("auth.token_ttl_s", auth_token_ttl_s, 1, 90 * 24 * 3600),
    I("auth.login_max_failures", auth_login_max_failures, 1, 1000),
    I("auth.login_max_failures_per_address", auth_login_max_failures_per_address, 1, 100000),
    I("auth.login_window_s", auth_login_window_s, 1, 86400),
    I("alerts.price_band_pct", alerts_price_band_pct, 1, 1000),
    S("payments.mode", payments_mode),
    S("payments.sandbox_dir", payments_sandbox_dir),
    S("wechat.mchid", wechat_mchid),
    S("wechat.apiv3_key_file", wechat_apiv3_key_file),
    S("wechat.platform_keys", wechat_platform_keys),
    S("wechat.merchant_key_file", wechat_merchant_key_file),
    S("wechat.merchant_serial", wechat_merchant_serial),
    S("wechat.pay_api_base", wechat_pay_api_base),
    S("wechat.notify_url", wechat_notify_url),
    S("alipay.app_id", alipay_app_id),
    S("alipay.seller_id", alipay_seller_id),
    S("alipay.public_key_file", alipay_public_key_file),
    S("alipay.app_key_file", alipay_app_key_file),
    S("alipay.gateway", alipay_gateway),
    S("alipay.notify_url", alipay_notify_url),
    L("order.delivery_fee_fen", order_delivery_fee_fen, 0, 100000000),
    L("order.free_delivery_from_fen", order_free_delivery_from_fen, 0, 100000000000),
    I("order.delivery_radius_m", order_delivery_radius_m, 100, 200000),
    I("order.unpaid_timeout_s", order_unpaid_timeout_s, 1, 86400),
    I("order.sweep_interval_s", order_sweep_interval_s, 1, 3600),
    I("queue.lease_ms", queue_lease_ms, 100, 3600000),
    I("queue.max_deliveries", queue_max_deliveries, 1, 100),
    I("housekeeping.interval_s", housekeeping_interval_s, 1, 86400),
    I("housekeeping.retention_days", housekeeping_retention_days, 1, 3650),
    I("housekeeping.refund_stuck_s", housekeeping_refund_stuck_s, 60, 86400),
    S("dispatch.trigger", dispatch_trigger),
    I("fulfil.accept_alert_s", fulfil_accept_alert_s, 30, 86400),
    I("fulfil.accept_timeout_s", fulfil_accept_timeout_s, 60, 172800),
    I("dispatch.offer_ttl_s", dispatch_offer_ttl_s, 5, 3600),
    I("dispatch.rounds", dispatch_rounds, 1, 100),
    I("dispatch.radius_m", dispatch_radius_m, 100, 200000),
    I("dispatch.retry_max_s", dispatch_retry_max_s, 1, 3600),
    I("courier.heartbeat_s", courier_heartbeat_s, 5, 3600),
    I("delivery.code_attempts", delivery_code_attempts, 1, 100),
    I("delivery.speed_kmh", delivery_speed_kmh, 1, 200),
    I("delivery.pickup_alert_s", delivery_pickup_alert_s, 60, 86400),
    I("delivery.transit_alert_s", delivery_transit_alert_s, 60, 86400),
    I("watchdog.interval_s", watchdog_interval_s, 1, 3600),
    I("events.heartbeat_s", events_heartbeat_s, 1, 300),
    I("events.buffer_bytes", events_buffer_bytes, 4096, 16777216),
    I("events.keep", events_keep, 10, 100000),
    I("platform.rate_per_min", platform_rate_per_min, 1, 1000000),
    I("platform.rotation_grace_s", platform_rotation_grace_s, 0, 2592000),
    I("salelog.interval_s", salelog_interval_s, 1, 3600),
    I("stats.max_days", stats_max_days, 1, 3660),
};

static const slot_t *find_slot(const char *key)
{
    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
        if (strcmp(slots[i].name, key) == 0)
            return &slots[i];
    return NULL;
}

static int parse_int(const char *v, int64_t *out)
{
    char *end;
    errno = 0;
    long long n = strtoll(v, &end, 10);
    if (errno != 0 || end == v || *end != '\0')
        return -1;
    *out = n;
    return 0;
}

int config_set(config_t *cfg, const char *key, const char *value, char *errbuf, size_t errlen)
{
    const slot_t *s = find_slot(key);
    if (s == NULL) {
        snprintf(errbuf, errlen, "unknown configuration key '%s'", key);
        return -1;
    }
    char *base = (char *)cfg + s->off;
    if (strcmp(key, "dispatch.trigger") == 0 && strcmp(value, "paid") != 0 && strcmp(value, "ready") != 0) {
        snprintf(errbuf, errlen, "%s: '%s' is neither paid nor ready", key, value);
        return -1;
    }
    if (s->type == T_STR) {
        char *copy = strdup(value);
        if (copy == NULL) {
            snprintf(errbuf, errlen, "out of memory");
            return -1;
        }
        free(*(char **)base);
        *(char **)base = copy;
        return 0;
    }
    int64_t n;
    if (parse_int(value, &n) != 0 || n < s->min || n > s->max) {
        snprintf(errbuf, errlen, "%s: '%s' is not a whole number from %lld to %lld", key, value, (long long)s->min,
                 (long long)s->max);
        return -1;
    }
    if (s->type == T_INT)
        *(int *)base = (int)n;
    else
        *(int64_t *)base = n;
    return 0;
}

int config_get(const config_t *cfg, const char *key, char *buf, size_t buflen)
{
    const slot_t *s = find_slot(key);
    if (s == NULL)
        return -1;
    const char *base = (const char *)cfg + s->off;
    if (s->type == T_STR)
        snprintf(buf, buflen, "%s", *(char *const *)base ? *(char *const *)base : "");
    else if (s->type == T_INT)
        snprintf(buf, buflen, "%d", *(const int *)base);
    else
        snprintf(buf, buflen, "%lld", (long long)*(const int64_t *)base);
    return 0;
}

static char *trim(char *s)
{
    while (isspace((unsigned char)*s))
        s++;
    char *e = s + strlen(s);
    while (e > s && isspace((unsigned char)e[-1]))
        *--e = '\0';
    return s;
}

static int load_file(config_t *cfg, const char *path, char *errbuf, size_t errlen)
{
    FILE *f = fopen(path, "r");
    if (f == NULL) {
        snprintf(errbuf, errlen, "%s: %s", path, strerror(errno));
        return -1;
    }
    char line[CONFIG_LINE_MAX];
    int lineno = 0, rc = 0;
    while (rc == 0 && fgets(line, sizeof(line), f) != NULL) {
        lineno++;
        if (strchr(line, '\n') == NULL && !feof(f)) {
            snprintf(errbuf, errlen, "%s:%d: line longer than %d bytes", path, lineno, CONFIG_LINE_MAX);
            rc = -1;
            break;
        }
        char *p = trim(line);
        if (*p == '\0' || *p == '#')
            continue;
        char *eq = strchr(p, '=');
        if (eq == NULL) {
            snprintf(errbuf, errlen, "%s:%d: expected 'key = value'", path, lineno);
            rc = -1;
            break;
        }
        *eq = '\0';
        char msg[256];
        if (config_set(cfg, trim(p), trim(eq + 1), msg, sizeof(msg)) != 0) {
            snprintf(errbuf, errlen, "%s:%d: %s", path, lineno, msg);
            rc = -1;
        }
    }
    fclose(f);
    return rc;
}

/* STALLFRONT_DB_PORT for db.port. */
static void env_name(const char *key, char *out, size_t outlen)
{
    size_t n = snprintf(out, outlen, "STALLFRONT_");
    for (const char *k = key; *k != '\0' && n + 1 < outlen; k++)
        out[n++] = *k == '.' ? '_' : (char)toupper((unsigned char)*k);
    out[n] = '\0';
}

int config_load(config_t *cfg, const char *path, char *errbuf, size_t errlen)
{
    memset(cfg, 0, sizeof(*cfg));
    for (const config_key_t *k = config_keys; k->name != NULL; k++)
        if (config_set(cfg, k->name, k->def, errbuf, errlen) != 0)
            goto fail;
    if (path == NULL)
        path = getenv("STALLFRONT_CONFIG");
    if (path != NULL && *path != '\0') {
        if (load_file(cfg, path, errbuf, errlen) != 0)
            goto fail;
        if ((cfg->file = strdup(path)) == NULL)
            goto fail;
    }
    for (const config_key_t *k = config_keys; k->name != NULL; k++) {
        char name[64];
        env_name(k->name, name, sizeof(name));
        const char *v = getenv(name);
        if (v == NULL)
            continue;
        char msg[256];
        if (config_set(cfg, k->name, v, msg, sizeof(msg)) != 0) {
            snprintf(errbuf, errlen, "%s: %s", name, msg);
            goto fail;
        }
    }
    return 0;
fail:
    config_free(cfg);
    return -1;
}

void config_free(config_t *cfg)
{
    for (size_t i = 0; i < sizeof(slots) / sizeof(slots[0]); i++)
        if (slots[i].type == T_STR) {
            char **p = (char **)((char *)cfg + slots[i].off);
            free(*p);
            *p = NULL;
        }
    free(cfg->file);
    cfg->file = NULL;
}

int config_split_hostport(const char *hp, char *host, size_t hostlen, int *port)
{
    const char *colon = strrchr(hp, ':');
    if (colon == NULL || colon == hp || (size_t)(colon - hp) >= hostlen)
        return -1;
    int64_t n;
    if (parse_int(colon + 1, &n) != 0 || n < 0 || n > 65535)
        return -1;
    memcpy(host, hp, colon - hp);
    host[colon - hp] = '\0';
    *port = (int)n;
    return 0;
}
