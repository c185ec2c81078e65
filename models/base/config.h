/*
 * Configuration: one frozen struct, read once at start-up from an optional file plus
 * STALLFRONT_* environment overrides, then shared read-only by every thread.
 *
 * The file format is one `key = value` per line, `#` starts a comment, blank lines are
 * ignored; the keys are the dotted names below (docs/configuration.md lists them all).
 * The environment variable of a key is STALLFRONT_ followed by the key in upper case with
 * dots turned into underscores: `db.port` is STALLFRONT_DB_PORT. The environment wins over
 * the file, the file over the defaults.
 *
 * Nothing here allocates after config_load() returns; config_free() releases the strings.
 */
#ifndef SF_CONFIG_H
#define SF_CONFIG_H

#include <stddef.h>
#include <stdint.h>

typedef struct config {
    /* HTTP */
    char *http_listen;      /* host:port of HTTP/1.1 and h2c */
    char *tls_listen;       /* host:port of TLS (h2, http/1.1); empty disables TLS */
    char *tls_cert;         /* PEM certificate chain */
    char *tls_key;          /* PEM private key */
    int http_threads;       /* event-loop threads; 0 means one per core */
    int64_t http_max_body;  /* bytes; larger bodies are refused with 413 */
    int http_deadline_ms;   /* a request waiting on the pool longer than this gets 504 */
    int http_conn_rps;      /* requests a connection may start per second before 429 */
    int http_conn_inflight; /* pool jobs one connection may have outstanding before 429 */
    int http_public_max_age_s; /* Cache-Control max-age of public catalogue answers */
    int cache_stock_stale_ms;  /* a cached answer older than a stock-only bump is served this long */
    int http_idle_timeout_s;
    char *http_web_root; /* the built web app served under /app/ (index.html, assets/); empty: none */
    /* worker pool */
    int pool_workers; /* threads, each with one MariaDB and one Redis connection */
    int pool_queue;   /* jobs waiting for a worker before 503 */
    /* MariaDB */
    char *db_host;
    int db_port;
    char *db_user;
    char *db_password;
    char *db_name;
    int db_connect_timeout_s;
    int db_rw_timeout_s; /* read and write timeout of every statement */
    /* Redis */
    char *redis_host;
    int redis_port;
    char *redis_password;
    int redis_timeout_ms; /* connect and command timeout */
    /* logging */
    char *log_access; /* "-" for stdout, a path, or "off" */
    char *log_level;  /* "debug", "info", "warn", "error" */
    /* lifecycle */
    int shutdown_grace_s; /* how long SIGTERM waits for in-flight requests */
    int test_routes;      /* 1 registers the /_test/ routes the end-to-end tests need */
    /* sign-in */
    char *auth_wechat_mode; /* "live": code2session with WeChat; "sandbox": sandbox-<name> codes */
    char *wechat_appid;
    char *wechat_secret;
    char *wechat_api_base; /* https://api.weixin.qq.com; tests point it at a local fake */
    int auth_token_ttl_s;
    int auth_login_max_failures;             /* wrong passwords for one username before 429 */
    int auth_login_max_failures_per_address; /* wrong passwords from one client address before 429 */
    int auth_login_window_s;
    /* orders and queues */
    int64_t order_delivery_fee_fen;       /* flat delivery fee of an order */
    int64_t order_free_delivery_from_fen; /* goods worth this much ship free; 0: never */
    int order_delivery_radius_m;          /* farthest delivery address from the market */
    int order_unpaid_timeout_s;           /* an unpaid order is cancelled this long after checkout */
    int order_sweep_interval_s;           /* how often work's MariaDB safety-net sweep runs */
    int queue_lease_ms;                   /* a message unacknowledged this long is claimed again */
    int queue_max_deliveries;             /* after this many, a message goes to the dead letters */
    int housekeeping_interval_s;          /* how often work's housekeeping job runs */
    int housekeeping_retention_days;      /* published outbox, processed rows and stream entries kept this long */
    int housekeeping_refund_stuck_s;      /* a refund pending this long is asked for again */
    /* payments */
    char *payments_mode;        /* "live": the providers' APIs; "sandbox": no outbound calls */
    char *payments_sandbox_dir; /* the sandbox provider's keys (scripts/dev writes them) */
    char *wechat_mchid;
    char *wechat_apiv3_key_file; /* 32 ASCII bytes */
    char *wechat_platform_keys;  /* "SERIAL=path.pem,SERIAL=path.pem": keys valid at once */
    char *wechat_merchant_key_file;
    char *wechat_merchant_serial;
    char *wechat_pay_api_base; /* https://api.mch.weixin.qq.com; tests point it at a fake */
    char *wechat_notify_url;
    char *alipay_app_id;
    char *alipay_seller_id;
    char *alipay_public_key_file; /* Alipay's public key (PEM, or bare base64) */
    char *alipay_app_key_file;    /* our app private key */
    char *alipay_gateway;         /* https://openapi.alipay.com/gateway.do */
    char *alipay_notify_url;
    /* catalogue */
    int alerts_price_band_pct; /* a price this far from the day's guide price is an anomaly */
    /* fulfilment, dispatch, delivery, live updates */
    char *dispatch_trigger; /* "paid" or "ready" */
    int fulfil_accept_alert_s;
    int fulfil_accept_timeout_s;
    int dispatch_offer_ttl_s;
    int dispatch_rounds;
    int dispatch_radius_m;
    int dispatch_retry_max_s;
    int courier_heartbeat_s;
    int delivery_code_attempts;
    int delivery_speed_kmh;
    int delivery_pickup_alert_s;
    int delivery_transit_alert_s;
    int watchdog_interval_s;
    int events_heartbeat_s;
    int events_buffer_bytes;
    int events_keep;
    /* statistics and the supervision platforms */
    int platform_rate_per_min;    /* signed requests a platform client may make per minute */
    int platform_rotation_grace_s; /* a rotated-out secret stays valid this long */
    int salelog_interval_s;       /* how often `work` positions new sale-line versions */
    int stats_max_days;           /* the longest date range a statistics request may ask for */
    char *file;                /* the file the values came from, or NULL */
} config_t;

/* Describes one key, for the loader, `--help` and the documentation test. */
typedef struct config_key {
    const char *name; /* dotted name, e.g. "db.port" */
    const char *def;  /* default as text */
    const char *help; /* one line */
} config_key_t;

/* The table of every key, terminated by a {NULL} entry. */
extern const config_key_t config_keys[];

/* Loads defaults, then `path` (may be NULL: then $STALLFRONT_CONFIG, if set), then the
 * environment. Returns 0, or -1 with a message in errbuf (unknown key, bad number, value
 * out of range, unreadable file). On failure cfg holds nothing to free. */
int config_load(config_t *cfg, const char *path, char *errbuf, size_t errlen);

/* Sets one key from text, as the loader does; -1 with errbuf on an unknown key or bad value. */
int config_set(config_t *cfg, const char *key, const char *value, char *errbuf, size_t errlen);

/* Writes the value of `key` as text into buf; -1 for an unknown key. */
int config_get(const config_t *cfg, const char *key, char *buf, size_t buflen);

/* Frees the strings of a loaded config. */
void config_free(config_t *cfg);

/* Splits "host:port" into its parts; -1 if malformed. host must hold hostlen bytes. */
int config_split_hostport(const char *hp, char *host, size_t hostlen, int *port);

#endif
