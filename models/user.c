/*
 * Users (see user.h): password hashing, and the rows sign-in reads and writes and the demo
 * seed resets passwords in.
 *
 * Stored hash: "scrypt$N$r$p$<salt>$<key>" with standard base64 (models/b64, strict) salt and
 * key. New hashes use N=16384, r=8, p=1 (16 MiB, tens of milliseconds on one core of a
 * small box: a worker can afford it per login, an attacker pays it per guess), a 16-byte
 * salt from RAND_bytes and a 32-byte key. Verification takes the parameters from the
 * stored string but refuses any outside sane bounds, so a tampered row cannot make a
 * login burn gigabytes, and keys shorter than 32 bytes (a truncated row would otherwise
 * still match on its prefix). Any thread; nothing here keeps state between calls.
 */
#include <inttypes.h>
#include <mysqld_error.h>
#include <openssl/crypto.h>
#include <openssl/core_names.h>
#include <openssl/evp.h>
#include <openssl/kdf.h>
#include <openssl/params.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/b64.h"
#include "models/user.h"

#define SCRYPT_N      16384u
#define SCRYPT_R      8u
#define SCRYPT_P      1u
#define SALT_LEN      16
#define KEY_LEN       32
#define B64_MAX       96          /* base64 of the longest salt or key we accept (64 bytes) */
#define SCRYPT_MAXMEM (64u << 20) /* a stored hash asking for more than this is refused */
#define SCRYPT_N_MAX  (1u << 20)
#define SCRYPT_R_MAX  32u
#define SCRYPT_P_MAX  16u

typedef struct scrypt_params {
    uint64_t n;
    uint32_t r, p;
    unsigned char salt[64];
    size_t salt_len;
    unsigned char key[64];
    size_t key_len;
} scrypt_params_t;

/* ---- scrypt ---------------------------------------------------------------------------- */

static int derive(const char *password, const scrypt_params_t *sp, unsigned char *out, size_t outlen)
{
    int rc = -1;
    uint64_t n = sp->n, maxmem = SCRYPT_MAXMEM + (1u << 20);
    uint32_t r = sp->r, p = sp->p;
    EVP_KDF *kdf = EVP_KDF_fetch(NULL, "SCRYPT", NULL);
    EVP_KDF_CTX *ctx = kdf != NULL ? EVP_KDF_CTX_new(kdf) : NULL;
    if (ctx == NULL)
        goto out;
    OSSL_PARAM params[] = {
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_PASSWORD, (void *)password, strlen(password)),
        OSSL_PARAM_construct_octet_string(OSSL_KDF_PARAM_SALT, (void *)sp->salt, sp->salt_len),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_N, &n),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_R, &r),
        OSSL_PARAM_construct_uint32(OSSL_KDF_PARAM_SCRYPT_P, &p),
        OSSL_PARAM_construct_uint64(OSSL_KDF_PARAM_SCRYPT_MAXMEM, &maxmem),
        OSSL_PARAM_construct_end(),
    };
    if (EVP_KDF_derive(ctx, out, outlen, params) == 1)
        rc = 0;
out:
    EVP_KDF_CTX_free(ctx);
    EVP_KDF_free(kdf);
    return rc;
}

/* ---- the stored form ------------------------------------------------------------------- */

/* A decimal field of the stored form, in [lo, hi], ending at '$'. Advances *s past the '$'. */
static int parse_u64(const char **s, uint64_t lo, uint64_t hi, uint64_t *v)
{
    const char *p = *s;
    uint64_t x = 0;
    if (*p < '1' || *p > '9')
        return -1;
    for (; *p >= '0' && *p <= '9'; p++) {
        x = x * 10 + (uint64_t)(*p - '0');
        if (x > hi)
            return -1;
    }
    if (*p != '$' || x < lo)
        return -1;
    *s = p + 1;
    *v = x;
    return 0;
}

static int parse_stored(const char *stored, scrypt_params_t *sp)
{
    uint64_t n, r, p;
    const char *s = stored;
    if (strncmp(s, "scrypt$", 7) != 0)
        return -1;
    s += 7;
    if (parse_u64(&s, 2, SCRYPT_N_MAX, &n) != 0 || (n & (n - 1)) != 0 || parse_u64(&s, 1, SCRYPT_R_MAX, &r) != 0 ||
        parse_u64(&s, 1, SCRYPT_P_MAX, &p) != 0 || 128 * r * n > SCRYPT_MAXMEM)
        return -1;
    const char *dollar = strchr(s, '$');
    if (dollar == NULL || b64_decode(s, (size_t)(dollar - s), sp->salt, sizeof(sp->salt), &sp->salt_len) != 0 ||
        b64_decode(dollar + 1, strlen(dollar + 1), sp->key, sizeof(sp->key), &sp->key_len) != 0 || sp->salt_len < 8 ||
        sp->key_len < KEY_LEN)
        return -1;
    sp->n = n;
    sp->r = (uint32_t)r;
    sp->p = (uint32_t)p;
    return 0;
}

int user_hash_password(const char *password, char *out, size_t outlen)
{
    int rc = -1;
    scrypt_params_t sp = {.n = SCRYPT_N, .r = SCRYPT_R, .p = SCRYPT_P, .salt_len = SALT_LEN};
    unsigned char key[KEY_LEN];
    char salt64[B64_MAX + 1], key64[B64_MAX + 1];
    if (password == NULL || RAND_bytes(sp.salt, SALT_LEN) != 1 || derive(password, &sp, key, KEY_LEN) != 0)
        goto out;
    if (b64_encode(sp.salt, SALT_LEN, salt64, sizeof(salt64), NULL) != B64_OK ||
        b64_encode(key, KEY_LEN, key64, sizeof(key64), NULL) != B64_OK)
        goto out;
    int n = snprintf(out, outlen, "scrypt$%u$%u$%u$%s$%s", SCRYPT_N, SCRYPT_R, SCRYPT_P, salt64, key64);
    if (n > 0 && (size_t)n < outlen)
        rc = 0;
out:
    OPENSSL_cleanse(key, sizeof(key));
    return rc;
}

int user_verify_password(const char *password, const char *stored)
{
    scrypt_params_t sp;
    unsigned char key[64];
    int ok = 0;
    if (password == NULL || stored == NULL || parse_stored(stored, &sp) != 0)
        return 0;
    if (derive(password, &sp, key, sp.key_len) == 0)
        ok = CRYPTO_memcmp(key, sp.key, sp.key_len) == 0;
    OPENSSL_cleanse(key, sizeof(key));
    return ok;
}

void user_verify_dummy(const char *password)
{
    /* A fixed salt is fine: the result is thrown away, only the time spent matters. */
    scrypt_params_t sp = {.n = SCRYPT_N, .r = SCRYPT_R, .p = SCRYPT_P, .salt_len = SALT_LEN};
    unsigned char key[KEY_LEN];
    derive(password != NULL ? password : "", &sp, key, KEY_LEN);
    OPENSSL_cleanse(key, sizeof(key));
}

/* ---- rows ------------------------------------------------------------------------------ */

sf_status_t user_create(db_t *db, const user_new_t *u, int64_t *id)
{
    char hash[USER_HASH_MAX];
    uint64_t insert_id = 0;
    if (u->password != NULL && user_hash_password(u->password, hash, sizeof(hash)) != 0) {
        snprintf(db->err, sizeof(db->err), "could not hash the password");
        return DB_ERR;
    }
    db_param_t p[] = {
        u->market_id > 0 ? DB_I64(u->market_id) : DB_NULL,
        DB_STR(u->role),
        u->username != NULL ? DB_STR(u->username) : DB_NULL,
        u->password != NULL ? DB_STR(hash) : DB_NULL,
        u->wechat_openid != NULL ? DB_STR(u->wechat_openid) : DB_NULL,
        DB_STR(u->display_name != NULL ? u->display_name : ""),
        u->vendor_id > 0 ? DB_I64(u->vendor_id) : DB_NULL,
        u->courier_id > 0 ? DB_I64(u->courier_id) : DB_NULL,
    };
    int rc = db_exec(db,
                     "INSERT INTO users (market_id, role, username, password_hash, wechat_openid, display_name, "
                     "vendor_id, courier_id) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                     p, sizeof(p) / sizeof(p[0]), NULL, &insert_id);
    OPENSSL_cleanse(hash, sizeof(hash));
    if (rc == DB_ERR && (db->last_errno == ER_NO_REFERENCED_ROW_2 || db->last_errno == ER_NO_REFERENCED_ROW))
        return SF_E_NO_MARKET;
    if (rc == DB_OK)
        *id = (int64_t)insert_id;
    return rc;
}

#define AUTH_COLUMNS "id, role, market_id, vendor_id, courier_id, status, password_hash, username"

/* Fills out from a row of AUTH_COLUMNS. */
static void auth_from_row(const db_rows_t *rows, user_auth_t *out)
{
    size_t len;
    const char *s;
    memset(out, 0, sizeof(*out));
    out->id = db_rows_i64(rows, 0);
    s = db_rows_str(rows, 1, &len);
    snprintf(out->role, sizeof(out->role), "%.*s", (int)len, s != NULL ? s : "");
    out->market_id = db_rows_i64(rows, 2);
    out->vendor_id = db_rows_i64(rows, 3);
    out->courier_id = db_rows_i64(rows, 4);
    s = db_rows_str(rows, 5, &len);
    out->active = s != NULL && len == 6 && memcmp(s, "active", 6) == 0;
    s = db_rows_str(rows, 6, &len);
    if (s != NULL && len < sizeof(out->password_hash)) {
        memcpy(out->password_hash, s, len);
        out->password_hash[len] = '\0';
    }
    s = db_rows_str(rows, 7, &len);
    if (s != NULL && len < sizeof(out->username)) {
        memcpy(out->username, s, len);
        out->username[len] = '\0';
    }
}

sf_status_t user_find_login(db_t *db, const char *username, user_auth_t *out)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_STR(username)};
    int rc =
        db_query_row(db, "SELECT " AUTH_COLUMNS " FROM users WHERE username = ? AND role <> 'consumer'", p, 1, &rows);
    if (rc == DB_OK)
        auth_from_row(rows, out);
    db_rows_free(rows);
    return rc;
}

static int find_openid(db_t *db, const char *openid, user_auth_t *out)
{
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_STR(openid)};
    int rc = db_query_row(db, "SELECT " AUTH_COLUMNS " FROM users WHERE wechat_openid = ?", p, 1, &rows);
    if (rc == DB_OK)
        auth_from_row(rows, out);
    db_rows_free(rows);
    return rc;
}

sf_status_t user_upsert_wechat(db_t *db, const char *openid, const char *display_name, user_auth_t *out)
{
    int rc = find_openid(db, openid, out);
    if (rc == DB_NOROW) {
        user_new_t u = {.role = "consumer", .wechat_openid = openid, .display_name = display_name};
        int64_t id;
        rc = user_create(db, &u, &id);
        if (rc == DB_OK || rc == DB_DUP) /* DB_DUP: a concurrent first sign-in made it */
            rc = find_openid(db, openid, out);
        else if (rc == SF_E_NO_MARKET)
            rc = DB_ERR;
    }
    if (rc == DB_OK && strcmp(out->role, "consumer") != 0)
        rc = DB_NOROW;
    return rc;
}

sf_status_t user_set_password_hash(db_t *db, int64_t market_id, int64_t user_id, const char *hash)
{
    db_param_t p[] = {DB_STR(hash), DB_I64(user_id), DB_I64(market_id)};
    return db_exec(db, "UPDATE users SET password_hash = ? WHERE id = ? AND market_id = ?", p, sizeof(p) / sizeof(p[0]),
                   NULL, NULL);
}

sf_status_t user_touch_login(db_t *db, int64_t id)
{
    db_param_t p[] = {DB_I64(id)};
    return db_exec(db, "UPDATE users SET last_login_at = CURRENT_TIMESTAMP(3) WHERE id = ?", p, 1, NULL, NULL);
}

sf_status_t user_market_operator(db_t *db, int64_t market_id, user_market_operator_t *out)
{
    memset(out, 0, sizeof(*out));
    db_rows_t *rows = NULL;
    db_param_t p[] = {DB_I64(market_id), DB_I64(market_id)};
    int rc = db_query(db,
                      "SELECT m.id, (SELECT MIN(u.id) FROM users u WHERE u.market_id = m.id AND u.role = 'operator'"
                      " AND u.status = 'active') FROM markets m WHERE ? = 0 OR m.id = ? ORDER BY m.id LIMIT 2",
                      p, 2, &rows);
    if (rc != DB_OK)
        return rc;
    while (db_rows_next(rows)) {
        if (++out->markets == 1) {
            out->market_id = db_rows_i64(rows, 0);
            out->operator_id = db_rows_i64(rows, 1);
        }
    }
    db_rows_free(rows);
    return DB_OK;
}
