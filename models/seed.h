/*
 * The demo that `stallfront seed` loads: a Zhengzhou farmers' market (郑州市二七区兴华
 * 农贸市场, code SEED_MARKET_CODE) with its category tree, 44 stalls and 42 vendors (licences,
 * staff with health certificates), about 350 products, 6 couriers, an operator, notices, and
 * the day's guide prices; and a second, smaller one (郑州市金水区丰乐农贸市场, code
 * SEED_MARKET2_CODE: 9 stalls, 9 vendors, 40 products, 2 couriers, its own operator; usernames
 * prefixed SEED_MARKET2_PREFIX). Each market is made in one transaction, so a failed run leaves
 * nothing of it behind and the next run starts over; a market that already exists is never
 * touched again except for today's guide prices (upserted on every run) and, when the
 * credentials file is missing or no longer matches, the demo accounts' passwords. The data is
 * fixed (derived from tables in seed.c through a hash of each row's index, not from a random
 * source); only the passwords are random (RAND_bytes). Then, once per market, its history of
 * completed orders (seed_history, models/seedhist.c).
 *
 * Commodity codes. NY/T 2137-2012 classifies agricultural products in six levels, 2+2+2+2+2+3
 * digits (大类 中类 小类 细类 品类 品名). The demo follows that structure with its own
 * numbers (it does not copy the standard's tables):
 *   level 1  01 种植业产品, 02 畜牧业产品, 03 渔业产品
 *   level 2  0101 粮食, 0102 油料, 0103 果品, 0104 蔬菜, 0106 食用菌, 0107 豆制品,
 *            0201 畜禽肉, 0202 禽蛋, 0301 淡水产品, 0302 海水产品
 *   level 3  e.g. 010409 叶菜类, 010301 仁果类, 020101 猪肉, 030101 淡水鱼
 *   product  13 digits, e.g. 0104050101001 西红柿, 0201010101001 猪五花肉
 * A category carries the code of its class (2, 4 or 6 digits) and every product's code
 * begins with its category's code. The same commodity has the same code at every stall;
 * guide prices are keyed by it.
 *
 * Single-threaded CLI use: the caller owns the db_t and redis_t. No HTTP here.
 */
#ifndef SF_SEED_H
#define SF_SEED_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include "models/store/db.h"
#include "models/store/redis.h"

#define SEED_MARKET_CODE         "zz-demo-01"
#define SEED_MARKET2_CODE        "zz-demo-02" /* the second, smaller market (郑州市金水区丰乐农贸市场) */
#define SEED_MARKET2_PREFIX      "fengle."    /* of its usernames: fengle.operator, fengle.vendor01, ... */
#define SEED_MARKETS             2
#define SEED_SECOND_KEY          "second_market" /* its object in the credentials file */
#define SEED_HISTORY_DAYS        7               /* days of completed orders before today in the first market */
#define SEED_HISTORY_DAYS2       2               /* ... and in the second */
#define SEED_OPERATOR_USERNAME   "operator"
#define SEED_DEFAULT_CREDENTIALS "var/demo-credentials.json"
#define SEED_PASSWORD_LEN        12 /* characters of SEED_PASSWORD_ALPHABET: about 69 bits */
#define SEED_PASSWORD_ALPHABET   "23456789abcdefghjkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ"
#define SEED_MAX_LOGINS          64 /* the operator, 42 vendors, 6 couriers, with room */
#define SEED_MAX_LOGIN_STALLS    4

/* One demo account, as the credentials file lists it. */
typedef struct seed_login {
    char role[12]; /* "operator", "vendor" or "courier" */
    char username[32];
    char password[SEED_PASSWORD_LEN + 1]; /* empty when this run did not choose it */
    int64_t user_id;
    int64_t vendor_id;  /* vendors only */
    int64_t courier_id; /* couriers only */
    int64_t stall_ids[SEED_MAX_LOGIN_STALLS];
    size_t nstalls;
} seed_login_t;

typedef struct seed_counts {
    int64_t categories, stalls, vendors, products, couriers, notices, users;
} seed_counts_t;

/* What a run found or made. */
typedef struct seed {
    int which; /* 0: the demo market, 1: the second one */
    int64_t market_id;
    char market_name[128];
    int created; /* 1 if this run made the market */
    seed_login_t logins[SEED_MAX_LOGINS];
    size_t nlogins;
} seed_t;

/* Loads the two demo markets into db (migrated to the current schema), refreshes today's
 * guide prices, bumps each market's catalogue version through r (may be NULL or down: a
 * warning), makes sure cred_path holds working logins, and gives each market its history of
 * completed orders once (seed_history; it needs r). One progress line per step on out.
 * 0, or -1 with a message on err_out. */
int seed_run(db_t *db, redis_t *r, const char *cred_path, FILE *out, FILE *err_out);

/* Finds the demo market s->which by its code: DB_OK with s->market_id and s->market_name, DB_NOROW,
 * or another db status. */
int seed_market_find(db_t *db, seed_t *s);

/* Creates all of the demo market in one transaction; then s->created is 1 and s->logins
 * carry their new passwords. DB_OK, or a db status with err (nothing was written; DB_DUP
 * when another run made the market first). */
int seed_market_create(db_t *db, seed_t *s, char *err, size_t errlen);

/* Fills s->logins from the database for an existing market (passwords left empty). */
int seed_logins_load(db_t *db, seed_t *s, char *err, size_t errlen);

/* Upserts the guide prices of market_id for date ("YYYY-MM-DD"); *n gets how many. */
int seed_guide_prices(db_t *db, int64_t market_id, const char *date, size_t *n, char *err, size_t errlen);

/* Counts what the market holds. DB_OK or a db status. */
int seed_count(db_t *db, int64_t market_id, seed_counts_t *c);

/* 1 if the file at path lists exactly the accounts of both markets s[0] and s[1] (same
 * markets, usernames and ids) and their operators' passwords match the stored hashes; 0
 * otherwise (missing, unreadable, stale). */
int seed_credentials_current(db_t *db, const seed_t s[SEED_MARKETS], const char *path);

/* Gives every login of s a new random password and stores the hashes, in one transaction. */
int seed_passwords_reset(db_t *db, seed_t *s, char *err, size_t errlen);

/* Writes the logins as API.md describes to path (through path.tmp, mode 0600, renamed): the
 * first market's at the top, the second's in an object SEED_SECOND_KEY of the same shape
 * ({market_id, market_code, operator, vendors, couriers}). 0 or -1 with err. */
int seed_credentials_write(const seed_t s[SEED_MARKETS], const char *path, char *err, size_t errlen);

/* A random password of SEED_PASSWORD_LEN characters into out (SEED_PASSWORD_LEN + 1 bytes).
 * 0, or -1 if the random source failed. */
int seed_password(char *out);

/* Today's date in +08:00, "YYYY-MM-DD", shifted by days. */
void seed_date(char out[11], int days);

/* The code and the map point of market s->which. */
const char *seed_market_code(const seed_t *s);
int seed_market_point(const seed_t *s, double *lat, double *lng);

/* ---- the demo's history (models/seedhist.c) ----
 *
 * A market's last `days` days (+08:00) before today of online orders, made once: when the
 * demo consumers (WeChat openids "seed-<market code>-NN") have no order in the market yet.
 * Every order goes through the real model functions (checkout, the sandbox payment recorded
 * as the notification path records it, accept or reject, pick, ready, dispatch, the
 * courier's accept, pickup and deliver, the consumer's cancel, refunds settled as the refund
 * worker settles them, ratings, complaints) with the session clock (@@timestamp) set to the
 * simulated moment of each step, so every row is what production would have written then.
 * The outbox rows this writes are marked published (the workers never replay a week-old
 * history); the products' stock is given back as it was (a restock); the couriers end off
 * shift. Deterministic: a fixed PRNG seed and the date. Needs Redis (courier positions for
 * dispatch): without it, a warning and nothing is made (the next run makes it). 0, or -1
 * with err. */
int seed_history(db_t *db, redis_t *r, const seed_t *s, int days, FILE *out, FILE *err_out, char *err, size_t errlen);

#endif
