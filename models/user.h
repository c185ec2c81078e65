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
#include "db.h"

/* Longest stored hash, with its NUL. */
#define USER_HASH_MAX 160

typedef struct user_new {
    const char *role;         /* "vendor", "courier", "operator", "platform" or "consumer" */
    int64_t market_id;        /* 0 for consumers */
    const char *username;     /* NULL for consumers */
    const char *password;     /* NULL for consumers */
    const char *wechat_openid;/* consumers */
    const char *display_name;
    int64_t vendor_id;        /* 0 unless a vendor */
    int64_t courier_id;       /* 0 unless a courier */
} user_new_t;

/* Hashes a password into out ("scrypt$N$r$p$<salt b64>$<hash b64>"). 0 or -1. */
int user_hash_password(const char *password, char *out, size_t outlen);

/* 1 if password matches the stored hash, 0 if not (or the hash is malformed). Constant
 * time in the comparison. */
int user_verify_password(const char *password, const char *stored);

/* Inserts a user (hashing the password if given). DB_OK with *id, DB_DUP if the username
 * or openid is taken, DB_ERR otherwise. Runs inside the caller's transaction if any. */
int user_create(db_t *db, const user_new_t *u, int64_t *id);

#endif
