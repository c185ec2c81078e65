/*
 * Supervision-platform clients (platform.h): making, listing, disabling, rotating, and the
 * one query that verification needs. Secrets are sealed with AES-256-GCM (OpenSSL EVP)
 * under the process's copy of server_keys 'seal'; sealed bytes go to the database as hex
 * (UNHEX(?)) so that no text conversion can touch them.
 */
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/base/b64.h"
#include "models/base/sqltime.h"
#include "models/platform.h"

#define SEAL_KEY_LEN   32
#define SEAL_NONCE_LEN 12
#define SEAL_TAG_LEN   16
#define SEALED_MAX     (SEAL_NONCE_LEN + PLATFORM_SECRET_LEN + SEAL_TAG_LEN)
#define TIME_LEN       40 /* "2026-11-30 00:14:05.123" or "2026-11-30T08:14:05.123+08:00" */

static const char NO_CLIENT[] = "no such platform client in this market";

static sf_status_t db_fail(sf_status_t rc)
{
    return rc == DB_GONE || rc == DB_DEADLOCK ? rc : SF_E_INTERNAL;
}

/* ---------------------------------------------------------------- the seal key */

static pthread_mutex_t key_mu = PTHREAD_MUTEX_INITIALIZER;
static unsigned char seal_key[SEAL_KEY_LEN];
static int seal_loaded; /* read under key_mu, or with an acquire load once set */

/* The seal key into key: read from the database by the first caller, kept afterwards. */
static sf_status_t load_key(db_t *db, unsigned char key[SEAL_KEY_LEN])
{
    if (!__atomic_load_n(&seal_loaded, __ATOMIC_ACQUIRE)) {
        pthread_mutex_lock(&key_mu);
        if (!seal_loaded) {
            db_rows_t *rows = NULL;
            size_t len = 0;
            int rc = db_query_row(db, "SELECT secret FROM server_keys WHERE name = 'seal'", NULL, 0, &rows);
            const char *s = rc == DB_OK ? db_rows_str(rows, 0, &len) : NULL;
            if (s != NULL && len == SEAL_KEY_LEN) {
                memcpy(seal_key, s, SEAL_KEY_LEN);
                __atomic_store_n(&seal_loaded, 1, __ATOMIC_RELEASE);
            }
            if (rows != NULL) {
                for (size_t i = 0; i < rows->nrows * rows->ncols; i++)
                    if (rows->cells[i] != NULL)
                        OPENSSL_cleanse(rows->cells[i], rows->lens[i]);
                db_rows_free(rows);
            }
            if (!seal_loaded) {
                pthread_mutex_unlock(&key_mu);
                return rc == DB_GONE ? DB_GONE : SF_E_INTERNAL; /* a missing or odd key is a broken install */
            }
        }
        pthread_mutex_unlock(&key_mu);
    }
    memcpy(key, seal_key, SEAL_KEY_LEN);
    return SF_OK;
}

/* ---------------------------------------------------------------- sealing */

int platform_seal(const unsigned char key[32], const char *aad, const char *secret, unsigned char *out, size_t outlen,
                  size_t *outn)
{
    size_t n = strlen(secret);
    int len = 0, fin = 0, ok = 0;
    if (outlen < SEAL_NONCE_LEN + n + SEAL_TAG_LEN || n > 1024)
        return -1;
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return -1;
    ok = RAND_bytes(out, SEAL_NONCE_LEN) == 1 && EVP_EncryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) == 1 &&
         EVP_EncryptInit_ex(ctx, NULL, NULL, key, out) == 1 &&
         EVP_EncryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         EVP_EncryptUpdate(ctx, out + SEAL_NONCE_LEN, &len, (const unsigned char *)secret, (int)n) == 1 &&
         EVP_EncryptFinal_ex(ctx, out + SEAL_NONCE_LEN + len, &fin) == 1 && (size_t)(len + fin) == n &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_GET_TAG, SEAL_TAG_LEN, out + SEAL_NONCE_LEN + n) == 1;
    EVP_CIPHER_CTX_free(ctx);
    if (ok)
        *outn = SEAL_NONCE_LEN + n + SEAL_TAG_LEN;
    return ok ? 0 : -1;
}

int platform_unseal(const unsigned char key[32], const char *aad, const unsigned char *in, size_t inn, char *secret,
                    size_t secretlen)
{
    int len = 0, fin = 0, ok = 0;
    unsigned char tag[SEAL_TAG_LEN];
    if (inn < SEAL_NONCE_LEN + SEAL_TAG_LEN || inn - SEAL_NONCE_LEN - SEAL_TAG_LEN >= secretlen)
        return -1;
    size_t n = inn - SEAL_NONCE_LEN - SEAL_TAG_LEN;
    memcpy(tag, in + SEAL_NONCE_LEN + n, SEAL_TAG_LEN);
    EVP_CIPHER_CTX *ctx = EVP_CIPHER_CTX_new();
    if (ctx == NULL)
        return -1;
    ok = EVP_DecryptInit_ex(ctx, EVP_aes_256_gcm(), NULL, NULL, NULL) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_IVLEN, SEAL_NONCE_LEN, NULL) == 1 &&
         EVP_DecryptInit_ex(ctx, NULL, NULL, key, in) == 1 &&
         EVP_DecryptUpdate(ctx, NULL, &len, (const unsigned char *)aad, (int)strlen(aad)) == 1 &&
         EVP_DecryptUpdate(ctx, (unsigned char *)secret, &len, in + SEAL_NONCE_LEN, (int)n) == 1 &&
         EVP_CIPHER_CTX_ctrl(ctx, EVP_CTRL_GCM_SET_TAG, SEAL_TAG_LEN, tag) == 1 &&
         EVP_DecryptFinal_ex(ctx, (unsigned char *)secret + len, &fin) == 1 && (size_t)(len + fin) == n;
    EVP_CIPHER_CTX_free(ctx);
    if (!ok) {
        OPENSSL_cleanse(secret, secretlen);
        return -1;
    }
    secret[n] = '\0';
    return 0;
}

/* Hex of n bytes into hex (2n + 1). */
static void to_hex(const unsigned char *in, size_t n, char *hex)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        hex[2 * i] = digits[in[i] >> 4];
        hex[2 * i + 1] = digits[in[i] & 15];
    }
    hex[2 * n] = '\0';
}

/* A fresh secret into secret (PLATFORM_SECRET_LEN + 1) and its sealing as hex into hex
 * (2 * SEALED_MAX + 1), with app_key as the associated data. 0 or -1. */
static int new_secret(const unsigned char key[SEAL_KEY_LEN], const char *app_key, char *secret, char *hex)
{
    unsigned char raw[32], sealed[SEALED_MAX];
    size_t n = 0, sn = 0;
    int rc = RAND_bytes(raw, sizeof(raw)) == 1 &&
                     b64url_encode(raw, sizeof(raw), secret, PLATFORM_SECRET_LEN + 1, &n) == B64_OK &&
                     n == PLATFORM_SECRET_LEN && platform_seal(key, app_key, secret, sealed, sizeof(sealed), &sn) == 0
                 ? 0
                 : -1;
    if (rc == 0)
        to_hex(sealed, sn, hex);
    OPENSSL_cleanse(raw, sizeof(raw));
    return rc;
}

/* "pk_" and 21 base64url characters (126 random bits). 0 or -1. */
static int new_app_key(char *key)
{
    unsigned char raw[16];
    char b64[32];
    size_t n = 0;
    if (RAND_bytes(raw, sizeof(raw)) != 1 || b64url_encode(raw, sizeof(raw), b64, sizeof(b64), &n) != B64_OK ||
        n < PLATFORM_APP_KEY_LEN - 3)
        return -1;
    snprintf(key, PLATFORM_APP_KEY_LEN + 1, "pk_%.*s", PLATFORM_APP_KEY_LEN - 3, b64);
    return 0;
}

/* The time now plus add_s seconds: as a UTC DATETIME(3) value for the database, and as the
 * API shows it (+08:00), the same instant to the millisecond. */
static void times_at(int64_t add_s, char *utc, char *shown)
{
    struct timespec ts;
    struct tm tm;
    clock_gettime(CLOCK_REALTIME, &ts);
    time_t t = ts.tv_sec + (time_t)add_s;
    int ms = (int)(ts.tv_nsec / 1000000);
    char buf[24];
    gmtime_r(&t, &tm);
    strftime(buf, sizeof(buf), "%Y-%m-%d %H:%M:%S", &tm);
    snprintf(utc, TIME_LEN, "%s.%03d", buf, ms);
    sqltime_ms_0800((int64_t)t * 1000 + ms, shown, TIME_LEN);
}

/* ---------------------------------------------------------------- create */

typedef struct create_ctx {
    int64_t market_id, operator_id;
    const platform_new_t *in;
    const char *app_key, *hex, *created;
    int64_t id; /* out */
} create_ctx_t;

static sf_status_t create_tx(db_t *db, void *p)
{
    create_ctx_t *c = p;
    uint64_t id = 0;
    int rc = db_exec(db,
                     "INSERT INTO platform_clients (market_id, app_key, name, scope, secret_sealed, created_by,"
                     " created_at) VALUES (?, ?, ?, ?, UNHEX(?), ?, ?)",
                     (db_param_t[]){DB_I64(c->market_id), DB_STR(c->app_key), DB_STR(c->in->name), DB_STR(c->in->scope),
                                    DB_STR(c->hex), DB_I64(c->operator_id), DB_STR(c->created)},
                     7, NULL, &id);
    if (rc != DB_OK)
        return rc;
    /* the grants, in one statement */
    char sql[64 + PLATFORM_MAX_MARKETS * 8];
    db_param_t p2[2 * PLATFORM_MAX_MARKETS];
    size_t o = (size_t)snprintf(sql, sizeof(sql), "INSERT INTO platform_client_markets (client_id, market_id) VALUES ");
    for (size_t i = 0; i < c->in->nmarkets; i++) {
        o += (size_t)snprintf(sql + o, sizeof(sql) - o, "%s(?, ?)", i > 0 ? ", " : "");
        p2[2 * i] = DB_I64(id);
        p2[2 * i + 1] = DB_I64(c->in->market_ids[i]);
    }
    rc = db_exec(db, sql, p2, 2 * c->in->nmarkets, NULL, NULL);
    if (rc != DB_OK)
        return rc;
    c->id = (int64_t)id;
    return DB_OK;
}

/* Every granted id must be the operator's market: another existing one is not theirs to
 * grant, an unknown one is a mistake. SF_OK or the refusal, with the field. */
static sf_status_t check_grants(db_t *db, int64_t market_id, const platform_new_t *in, status_detail_t *d)
{
    char field[32];
    for (size_t i = 0; i < in->nmarkets; i++) {
        if (in->market_ids[i] == market_id)
            continue;
        db_rows_t *rows = NULL;
        int rc =
            db_query_row(db, "SELECT 1 FROM markets WHERE id = ?", (db_param_t[]){DB_I64(in->market_ids[i])}, 1, &rows);
        db_rows_free(rows);
        snprintf(field, sizeof(field), "market_ids[%zu]", i);
        if (rc == DB_OK)
            return status_field(d, SF_E_MARKET_NOT_GRANTED, field, "only your own market may be granted");
        if (rc == DB_NOROW)
            return status_field(d, SF_E_INVALID, field, "no such market");
        return db_fail(rc);
    }
    return SF_OK;
}

sf_status_t platform_create(db_t *db, int64_t market_id, int64_t operator_id, const platform_new_t *in, json_t **doc,
                            status_detail_t *d)
{
    unsigned char key[SEAL_KEY_LEN];
    char app_key[PLATFORM_APP_KEY_LEN + 1], secret[PLATFORM_SECRET_LEN + 1], hex[2 * SEALED_MAX + 1];
    char created[TIME_LEN], shown[TIME_LEN];
    *doc = NULL;
    if (in->nmarkets < 1 || in->nmarkets > PLATFORM_MAX_MARKETS)
        return SF_E_INTERNAL;
    sf_status_t rc = check_grants(db, market_id, in, d);
    if (rc != SF_OK)
        return rc;
    if ((rc = load_key(db, key)) != SF_OK)
        return rc;
    if (new_app_key(app_key) != 0 || new_secret(key, app_key, secret, hex) != 0) {
        rc = SF_E_INTERNAL;
        goto out;
    }
    times_at(0, created, shown);
    create_ctx_t c = {market_id, operator_id, in, app_key, hex, created, 0};
    rc = db_tx(db, create_tx, &c);
    if (rc != SF_OK) {
        rc = db_fail(rc); /* a repeated app key (126 random bits) is a failure, not a conflict */
        goto out;
    }
    json_t *ids = json_array();
    for (size_t i = 0; ids != NULL && i < in->nmarkets; i++)
        json_array_append_new(ids, json_integer(in->market_ids[i]));
    *doc = json_pack("{s:I, s:s, s:s, s:s, s:s, s:o, s:s, s:s}", "id", (json_int_t)c.id, "app_key", app_key, "secret",
                     secret, "name", in->name, "scope", in->scope, "market_ids", ids, "status", "active", "created_at",
                     shown);
    rc = *doc != NULL ? SF_OK : SF_E_INTERNAL;
out:
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(secret, sizeof(secret));
    return rc;
}

/* ---------------------------------------------------------------- list and render */

/* Columns of a client as listed; the grants as a JSON array of market ids. (Not formatted:
 * clang-format cuts a macro's strings into pieces a column wide.) */
// clang-format off
#define CLIENT_COLS                                                                                   \
    "pc.id, pc.app_key, pc.name, pc.scope, pc.status, " SQL_AT_0800("pc.created_at") ", "             \
    SQL_AT_0800("pc.rotated_at") ", " SQL_AT_0800("pc.disabled_at") ","                               \
    " IF(pc.prev_valid_until > NOW(3), " SQL_AT_0800("pc.prev_valid_until") ", NULL),"                \
    " (SELECT JSON_ARRAYAGG(m.market_id ORDER BY m.market_id) FROM platform_client_markets m"         \
    " WHERE m.client_id = pc.id)"
// clang-format on

static json_t *client_json(const db_rows_t *r)
{
    json_t *ids = db_rows_json_array(r, 9);
    if (ids == NULL)
        return NULL;
    return json_pack("{s:I, s:s?, s:s?, s:s?, s:o, s:s?, s:s?, s:s?, s:s?, s:s?}", "id", (json_int_t)db_rows_i64(r, 0),
                     "app_key", db_rows_str(r, 1, NULL), "name", db_rows_str(r, 2, NULL), "scope",
                     db_rows_str(r, 3, NULL), "market_ids", ids, "status", db_rows_str(r, 4, NULL), "created_at",
                     db_rows_str(r, 5, NULL), "rotated_at", db_rows_str(r, 6, NULL), "disabled_at",
                     db_rows_str(r, 7, NULL), "previous_valid_until", db_rows_str(r, 8, NULL));
}

sf_status_t platform_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items,
                          int64_t *next_after)
{
    db_rows_t *rows = NULL;
    *items = NULL;
    *next_after = 0;
    if (limit < 1 || limit > PLATFORM_LIST_MAX)
        return SF_E_INTERNAL;
    int rc = db_query(db,
                      "SELECT " CLIENT_COLS " FROM platform_clients pc WHERE pc.market_id = ? AND pc.id > ?"
                      " ORDER BY pc.id LIMIT ?",
                      (db_param_t[]){DB_I64(market_id), DB_I64(after_id), DB_I64((int64_t)limit + 1)}, 3, &rows);
    if (rc != DB_OK)
        return db_fail(rc);
    *items = json_array();
    sf_status_t out = *items != NULL ? SF_OK : SF_E_INTERNAL;
    for (size_t k = 0; out == SF_OK && k < limit && db_rows_next(rows); k++) {
        json_t *v = client_json(rows);
        if (v == NULL || json_array_append_new(*items, v) != 0)
            out = SF_E_INTERNAL;
        else if (k + 1 == limit && rows->nrows > limit)
            *next_after = db_rows_i64(rows, 0);
    }
    db_rows_free(rows);
    if (out != SF_OK) {
        json_decref(*items);
        *items = NULL;
        *next_after = 0;
    }
    return out;
}

/* One client of the market as listed: SF_OK, SF_E_NOT_FOUND, or a failure. */
static sf_status_t client_render(db_t *db, int64_t market_id, int64_t id, json_t **doc)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db, "SELECT " CLIENT_COLS " FROM platform_clients pc WHERE pc.id = ? AND pc.market_id = ?",
                          (db_param_t[]){DB_I64(id), DB_I64(market_id)}, 2, &rows);
    if (rc == DB_NOROW)
        return status_field(NULL, SF_E_NOT_FOUND, NULL, NO_CLIENT);
    if (rc != DB_OK)
        return db_fail(rc);
    *doc = client_json(rows);
    db_rows_free(rows);
    return *doc != NULL ? SF_OK : SF_E_INTERNAL;
}

/* ---------------------------------------------------------------- disable, enable */

typedef struct status_ctx {
    int64_t market_id, id;
    int enable;
    json_t *doc; /* out */
} status_ctx_t;

static sf_status_t status_tx(db_t *db, void *p)
{
    status_ctx_t *c = p;
    uint64_t n = 0;
    json_decref(c->doc);
    c->doc = NULL;
    int rc = db_exec(db,
                     c->enable ? "UPDATE platform_clients SET status = 'active', disabled_at = NULL"
                                 " WHERE id = ? AND market_id = ? AND status = 'disabled'"
                               : "UPDATE platform_clients SET status = 'disabled', disabled_at = NOW(3)"
                                 " WHERE id = ? AND market_id = ? AND status = 'active'",
                     (db_param_t[]){DB_I64(c->id), DB_I64(c->market_id)}, 2, &n, NULL);
    if (rc != DB_OK)
        return rc;
    sf_status_t r = client_render(db, c->market_id, c->id, &c->doc);
    if (r == SF_OK && n == 0) { /* it exists, in the other state already */
        json_decref(c->doc);
        c->doc = NULL;
        return SF_E_CLIENT_STATE;
    }
    return r;
}

sf_status_t platform_set_status(db_t *db, int64_t market_id, int64_t id, int enable, json_t **doc)
{
    status_ctx_t c = {market_id, id, enable, NULL};
    sf_status_t rc = db_tx(db, status_tx, &c);
    *doc = rc == SF_OK ? c.doc : NULL;
    if (rc != SF_OK)
        json_decref(c.doc);
    return rc == SF_OK || rc == SF_E_NOT_FOUND || rc == SF_E_CLIENT_STATE ? rc : db_fail(rc);
}

/* ---------------------------------------------------------------- rotate */

typedef struct rotate_ctx {
    int64_t market_id, id;
    const unsigned char *key;
    const char *until; /* UTC; NULL when the previous secret is revoked */
    const char *rotated;
    int revoke;
    char app_key[PLATFORM_APP_KEY_LEN + 8]; /* out */
    char secret[PLATFORM_SECRET_LEN + 1];   /* out */
    char valid_until[TIME_LEN];             /* out: until when a previous secret still signs (SF_E_CLIENT_STATE) */
} rotate_ctx_t;

static sf_status_t rotate_tx(db_t *db, void *p)
{
    rotate_ctx_t *c = p;
    db_rows_t *rows = NULL;
    char hex[2 * SEALED_MAX + 1];
    size_t len = 0;
    int rc = db_query_row(db,
                          "SELECT app_key, IF(prev_valid_until > NOW(3), " SQL_AT_0800(
                              "prev_valid_until") ", NULL)"
                                                  " FROM platform_clients WHERE id = ? AND market_id = ? FOR UPDATE",
                          (db_param_t[]){DB_I64(c->id), DB_I64(c->market_id)}, 2, &rows);
    if (rc == DB_NOROW)
        return SF_E_NOT_FOUND;
    if (rc != DB_OK)
        return rc;
    const char *k = db_rows_str(rows, 0, &len), *prev_until = db_rows_str(rows, 1, NULL);
    snprintf(c->app_key, sizeof(c->app_key), "%.*s", (int)(k != NULL && len < sizeof(c->app_key) ? len : 0),
             k != NULL ? k : "");
    if (prev_until != NULL && !c->revoke) { /* replacing it would cut the deployed secret off */
        snprintf(c->valid_until, sizeof(c->valid_until), "%s", prev_until);
        db_rows_free(rows);
        return SF_E_CLIENT_STATE;
    }
    db_rows_free(rows);
    if (new_secret(c->key, c->app_key, c->secret, hex) != 0)
        return SF_E_INTERNAL;
    if (c->revoke)
        return db_exec(db,
                       "UPDATE platform_clients SET prev_secret_sealed = NULL, prev_valid_until = NULL,"
                       " secret_sealed = UNHEX(?), rotated_at = ? WHERE id = ? AND market_id = ?",
                       (db_param_t[]){DB_STR(hex), DB_STR(c->rotated), DB_I64(c->id), DB_I64(c->market_id)}, 4, NULL,
                       NULL);
    /* MariaDB assigns left to right: the previous secret is the current one before it changes */
    return db_exec(
        db,
        "UPDATE platform_clients SET prev_secret_sealed = secret_sealed, prev_valid_until = ?,"
        " secret_sealed = UNHEX(?), rotated_at = ? WHERE id = ? AND market_id = ?",
        (db_param_t[]){DB_STR(c->until), DB_STR(hex), DB_STR(c->rotated), DB_I64(c->id), DB_I64(c->market_id)}, 5, NULL,
        NULL);
}

sf_status_t platform_rotate(db_t *db, int64_t market_id, int64_t id, int grace_s, int revoke_previous, json_t **doc,
                            status_detail_t *d)
{
    unsigned char key[SEAL_KEY_LEN];
    char until[TIME_LEN], until_shown[TIME_LEN], rotated[TIME_LEN], rotated_shown[TIME_LEN], why[160];
    *doc = NULL;
    sf_status_t rc = load_key(db, key);
    if (rc != SF_OK)
        return rc;
    times_at(grace_s, until, until_shown);
    times_at(0, rotated, rotated_shown);
    rotate_ctx_t c = {.market_id = market_id,
                      .id = id,
                      .key = key,
                      .until = until,
                      .rotated = rotated,
                      .revoke = revoke_previous != 0};
    rc = db_tx(db, rotate_tx, &c);
    if (rc == SF_OK) {
        *doc = json_pack("{s:I, s:s, s:s, s:s?}", "id", (json_int_t)id, "app_key", c.app_key, "secret", c.secret,
                         "previous_valid_until", c.revoke ? NULL : until_shown);
        rc = *doc != NULL ? SF_OK : SF_E_INTERNAL;
    } else if (rc == SF_E_NOT_FOUND) {
        rc = status_field(d, SF_E_NOT_FOUND, NULL, NO_CLIENT);
    } else if (rc == SF_E_CLIENT_STATE) {
        snprintf(why, sizeof(why),
                 "the previous secret is valid until %s; rotate with {\"revoke_previous\": true} to end it now",
                 c.valid_until);
        rc = status_field(d, SF_E_CLIENT_STATE, NULL, why);
    } else {
        rc = db_fail(rc);
    }
    OPENSSL_cleanse(key, sizeof(key));
    OPENSSL_cleanse(c.secret, sizeof(c.secret));
    return rc;
}

/* ---------------------------------------------------------------- verification */

void platform_client_cleanse(platform_client_t *c)
{
    OPENSSL_cleanse(c, sizeof(*c));
}

sf_status_t platform_lookup(db_t *db, const char *app_key, int64_t market_id, platform_client_t *c)
{
    unsigned char key[SEAL_KEY_LEN];
    db_rows_t *rows = NULL;
    size_t n1 = 0, n2 = 0;
    memset(c, 0, sizeof(*c));
    sf_status_t rc = load_key(db, key);
    if (rc != SF_OK)
        return rc;
    int q = db_query_row(db,
                         "SELECT pc.id, pc.status = 'active', pc.secret_sealed,"
                         " IF(pc.prev_valid_until > NOW(3), pc.prev_secret_sealed, NULL),"
                         " EXISTS (SELECT 1 FROM platform_client_markets m WHERE m.client_id = pc.id"
                         " AND m.market_id = ?)"
                         " FROM platform_clients pc WHERE pc.app_key = ?",
                         (db_param_t[]){DB_I64(market_id), DB_STR(app_key)}, 2, &rows);
    if (q == DB_NOROW) {
        rc = SF_E_BAD_SIGNATURE;
        goto out;
    }
    if (q != DB_OK) {
        rc = db_fail(q);
        goto out;
    }
    const unsigned char *cur = (const unsigned char *)db_rows_str(rows, 2, &n1);
    const unsigned char *prev = (const unsigned char *)db_rows_str(rows, 3, &n2);
    c->id = db_rows_i64(rows, 0);
    c->active = db_rows_i64(rows, 1) == 1;
    c->granted = db_rows_i64(rows, 4) == 1;
    rc = SF_OK;
    if (cur == NULL || platform_unseal(key, app_key, cur, n1, c->secret, sizeof(c->secret)) != 0 ||
        (prev != NULL && platform_unseal(key, app_key, prev, n2, c->prev_secret, sizeof(c->prev_secret)) != 0)) {
        /* another seal key, or a changed row: nothing of this client may sign */
        OPENSSL_cleanse(c->secret, sizeof(c->secret));
        OPENSSL_cleanse(c->prev_secret, sizeof(c->prev_secret));
        c->unopened = 1;
    }
out:
    db_rows_free(rows);
    OPENSSL_cleanse(key, sizeof(key));
    if (rc != SF_OK)
        platform_client_cleanse(c);
    return rc;
}

/* ---------------------------------------------------------------- the market profile */

sf_status_t platform_market_profile(db_t *db, int64_t market_id, json_t **doc)
{
    db_rows_t *rows = NULL;
    *doc = NULL;
    int rc = db_query_row(db,
                          "SELECT m.id, m.code, m.name, m.address, m.lat, m.lng, m.area_code, m.open_hours,"
                          " (SELECT COUNT(*) FROM stalls s WHERE s.market_id = m.id),"
                          " (SELECT COUNT(*) FROM stalls s WHERE s.market_id = m.id AND s.vendor_id IS NOT NULL),"
                          " (SELECT COUNT(*) FROM vendors v WHERE v.market_id = m.id),"
                          " (SELECT COUNT(*) FROM vendors v WHERE v.market_id = m.id AND v.status = 'active')"
                          " FROM markets m WHERE m.id = ?",
                          (db_param_t[]){DB_I64(market_id)}, 1, &rows);
    if (rc == DB_NOROW)
        return status_field(NULL, SF_E_NOT_FOUND, NULL, "no such market");
    if (rc != DB_OK)
        return db_fail(rc);
    const char *lat = db_rows_str(rows, 4, NULL), *lng = db_rows_str(rows, 5, NULL);
    *doc = json_pack(
        "{s:I, s:s?, s:s?, s:s?, s:f, s:f, s:s?, s:s?, s:I, s:I, s:I, s:I}", "id", (json_int_t)db_rows_i64(rows, 0),
        "code", db_rows_str(rows, 1, NULL), "name", db_rows_str(rows, 2, NULL), "address", db_rows_str(rows, 3, NULL),
        "lat", lat != NULL ? strtod(lat, NULL) : 0.0, "lng", lng != NULL ? strtod(lng, NULL) : 0.0, "area_code",
        db_rows_str(rows, 6, NULL), "open_hours", db_rows_str(rows, 7, NULL), "stall_count",
        (json_int_t)db_rows_i64(rows, 8), "stalls_occupied", (json_int_t)db_rows_i64(rows, 9), "vendor_count",
        (json_int_t)db_rows_i64(rows, 10), "active_vendor_count", (json_int_t)db_rows_i64(rows, 11));
    db_rows_free(rows);
    return *doc != NULL ? SF_OK : SF_E_INTERNAL;
}
