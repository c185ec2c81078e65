/*
 * Users: consumers (signed in through WeChat), and the vendor, courier, operator and
 * platform accounts that sign in with a username and password. Passwords are hashed with
 * scrypt through OpenSSL's EVP_KDF; the stored form names its parameters, so they can be
 * raised later without invalidating old hashes. Worker threads (or the CLI) with their own
 * db_t. No HTTP here.
 */
#ifndef SF_USER_H
#define SF_USER_H

#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

/* Longest stored hash, with its NUL. */
#define USER_HASH_MAX 160

/* Longest username and password a login may carry (bytes): the column holds 64, and a
 * longer password only costs the KDF more without adding anything. */
#define USER_USERNAME_MAX 64
#define USER_PASSWORD_MAX 128

typedef struct user_new {
    const char *role;          /* "vendor", "courier", "operator", "platform" or "consumer" */
    int64_t market_id;         /* 0 for consumers */
    const char *username;      /* NULL for consumers */
    const char *password;      /* NULL for consumers */
    const char *wechat_openid; /* consumers */
    const char *display_name;
    int64_t vendor_id;  /* 0 unless a vendor */
    int64_t courier_id; /* 0 unless a courier */
} user_new_t;

/* What sign-in needs to know about a user (0 for the ids the row leaves NULL). */
typedef struct user_auth {
    int64_t id;
    char role[16];                        /* as stored: "consumer", "vendor", ... */
    char username[USER_USERNAME_MAX + 1]; /* as stored ("" for consumers) */
    int64_t market_id;
    int64_t vendor_id;
    int64_t courier_id;
    int active;                        /* status = 'active' */
    char password_hash[USER_HASH_MAX]; /* "" if none, or if the stored one is too long to be ours */
} user_auth_t;

/* Hashes a password into out ("scrypt$N$r$p$<salt b64>$<hash b64>"). 0 or -1. */
int user_hash_password(const char *password, char *out, size_t outlen);

/* 1 if password matches the stored hash, 0 if not (or the hash is malformed). Constant
 * time in the comparison. */
int user_verify_password(const char *password, const char *stored);

/* Does the same scrypt work as verifying against a hash with today's parameters, and
 * throws it away: a login for an unknown username takes as long as one with a wrong
 * password, so timing does not tell which usernames exist. */
void user_verify_dummy(const char *password);

/* Inserts a user (hashing the password if given). DB_OK with *id, DB_DUP if the username
 * or openid is taken, SF_E_NO_MARKET if market_id names no market, DB_ERR otherwise.
 * Runs inside the caller's transaction if any. */
sf_status_t user_create(db_t *db, const user_new_t *u, int64_t *id);

/* The password account with this username (any role but consumer). DB_OK with *out,
 * DB_NOROW if there is none, or a DB_ error. */
sf_status_t user_find_login(db_t *db, const char *username, user_auth_t *out);

/* The consumer whose WeChat openid this is, created (with display_name, may be NULL) on
 * first sign-in. DB_OK with *out (password_hash empty), DB_NOROW if the openid belongs to
 * an account that is not a consumer's, or a DB_ error. */
sf_status_t user_upsert_wechat(db_t *db, const char *openid, const char *display_name, user_auth_t *out);

/* Stores hash (from user_hash_password) as the password of user user_id of market_id; a
 * user of another market is left alone. Hashing is the caller's, so a transaction setting
 * several passwords holds no row lock through the KDF. DB_OK or a DB_ error. */
sf_status_t user_set_password_hash(db_t *db, int64_t market_id, int64_t user_id, const char *hash);

/* Records a successful sign-in (last_login_at = now). DB_OK or a DB_ error. */
sf_status_t user_touch_login(db_t *db, int64_t id);

/* The market a one-shot command acts for, and an operator of it (`stallfront report`). */
typedef struct user_market_operator {
    int markets;         /* markets that matched: 0, 1, or 2 for "more than one" */
    int64_t market_id;   /* the market, when markets == 1 */
    int64_t operator_id; /* its active operator with the lowest id, 0 if it has none */
} user_market_operator_t;

/* market_id given (> 0): that market; 0: the only market there is. One statement. DB_OK with
 * *out (out->markets says whether the market was found, or whether there are several), or a
 * DB_ error. */
sf_status_t user_market_operator(db_t *db, int64_t market_id, user_market_operator_t *out);

#endif
