/*
 * models/user.c: scrypt hashes (vectors of right, wrong, tampered and malformed stored
 * forms) and the users rows sign-in reads and writes, in a scratch database of its own
 * (sf_tuser_<pid>_<tag>, swept by main).
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "models/user.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

/* ---- hashing --------------------------------------------------------------------------- */

START_TEST(test_a_hash_verifies_its_password_and_no_other)
{
    char h[USER_HASH_MAX];
    ck_assert_int_eq(user_hash_password("correct horse", h, sizeof(h)), 0);
    ck_assert_msg(strncmp(h, "scrypt$16384$8$1$", 17) == 0, "stored form: %s", h);
    ck_assert_int_eq(user_verify_password("correct horse", h), 1);
    ck_assert_int_eq(user_verify_password("correct horsE", h), 0);
    ck_assert_int_eq(user_verify_password("correct horse ", h), 0);
    ck_assert_int_eq(user_verify_password("", h), 0);
    ck_assert_int_eq(user_verify_password(NULL, h), 0);
}
END_TEST

START_TEST(test_two_hashes_of_one_password_differ_by_their_salt)
{
    char a[USER_HASH_MAX], b[USER_HASH_MAX];
    ck_assert_int_eq(user_hash_password("菜市场-密码", a, sizeof(a)), 0);
    ck_assert_int_eq(user_hash_password("菜市场-密码", b, sizeof(b)), 0);
    ck_assert_str_ne(a, b);
    ck_assert_int_eq(user_verify_password("菜市场-密码", a), 1);
    ck_assert_int_eq(user_verify_password("菜市场-密码", b), 1);
}
END_TEST

START_TEST(test_hashing_refuses_a_buffer_too_small)
{
    char h[40];
    ck_assert_int_eq(user_hash_password("password1", h, sizeof(h)), -1);
}
END_TEST

/* Known answers: RFC 7914's second scrypt vector (N=16384, r=8, p=1, 64-byte key) in our
 * stored form, and one with other parameters (N=1024, r=8, p=16) computed with Python's
 * hashlib.scrypt: verification must use the parameters the string names. */
static const struct {
    const char *password, *stored;
    int ok;
} vectors[] = {
    {"pleaseletmein",
     "scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/"
     "2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw==",
     1},
    {"pleaseletmeiN",
     "scrypt$16384$8$1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/"
     "2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw==",
     0},
    {"pleaseletmein", /* the same salt and key under another N */
     "scrypt$8192$8$1$U29kaXVtQ2hsb3JpZGU=$cCO9yzr9c0hGHAbNgf046/"
     "2o+7qQT44+qbVD9lRdofLVQylVYT8Pz2LUlwUkKpr55h6F3A1lHkDfzwF7RVdYhw==",
     0},
    {"password", "scrypt$1024$8$16$TmFDbE5hQ2w=$XsC2ZTdXJ4zsfzVdRtTQNNSXMToqf+tcSxiTF5U/EW4=", 1},
    {"password", "scrypt$1024$8$15$TmFDbE5hQ2w=$XsC2ZTdXJ4zsfzVdRtTQNNSXMToqf+tcSxiTF5U/EW4=", 0},
    {"password", "scrypt$1024$4$16$TmFDbE5hQ2w=$XsC2ZTdXJ4zsfzVdRtTQNNSXMToqf+tcSxiTF5U/EW4=", 0},
    {"password", "scrypt$1024$8$16$TmFDbE5hQ2x4$XsC2ZTdXJ4zsfzVdRtTQNNSXMToqf+tcSxiTF5U/EW4=", 0}, /* other salt */
};

START_TEST(test_known_answer_vectors_verify_by_their_own_parameters)
{
    for (size_t i = 0; i < sizeof(vectors) / sizeof(vectors[0]); i++)
        ck_assert_msg(user_verify_password(vectors[i].password, vectors[i].stored) == vectors[i].ok, "vector %zu", i);
}
END_TEST

START_TEST(test_a_tampered_hash_verifies_nothing)
{
    char h[USER_HASH_MAX];
    ck_assert_int_eq(user_hash_password("tamper-me", h, sizeof(h)), 0);
    size_t n = strlen(h);
    /* flip one character of the key, then of the salt */
    char t[USER_HASH_MAX];
    memcpy(t, h, n + 1);
    t[n - 3] = t[n - 3] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(user_verify_password("tamper-me", t), 0);
    memcpy(t, h, n + 1);
    t[18] = t[18] == 'A' ? 'B' : 'A';
    ck_assert_int_eq(user_verify_password("tamper-me", t), 0);
    /* a truncated key (30 bytes): shorter than any key we write, refused */
    memcpy(t, h, n + 1);
    t[n - 4] = '\0';
    ck_assert_int_eq(user_verify_password("tamper-me", t), 0);
}
END_TEST

static const char *const malformed[] = {
    "",
    "scrypt",
    "scrypt$",
    "bcrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16383$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",    /* N not a power of 2 */
    "scrypt$0$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",        /* N zero */
    "scrypt$016384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",   /* leading zero */
    "scrypt$1048576$32$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=", /* 4 GiB */
    "scrypt$99999999999999999999999$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16384$0$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16384$8$0$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16384$8$-1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",
    "scrypt$16384$8$1$$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",                         /* no salt */
    "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$",                                         /* no key */
    "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==",                                          /* no key field */
    "scrypt$16384$8$1$c2FsdHNh!HRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=", /* bad char */
    "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA=$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",  /* not quads */
    "scrypt$16384$8$1$c2Fs=HNhbHRzYWx0c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=", /* inner pad */
    "scrypt$16384$8$1$ c2FsdHNhbHRzYWx0c2FsdA=$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=", /* space */
    "scrypt$16384$8$1$c2FsdA==$a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2V5a2U=",                 /* 4-byte salt */
    "scrypt$16384$8$1$c2FsdHNhbHRzYWx0c2FsdA==$a2V5$extra",
};

START_TEST(test_malformed_stored_hashes_verify_nothing)
{
    for (size_t i = 0; i < sizeof(malformed) / sizeof(malformed[0]); i++)
        ck_assert_msg(user_verify_password("password", malformed[i]) == 0, "accepted: %s", malformed[i]);
    ck_assert_int_eq(user_verify_password("password", NULL), 0);
    char big[8192];
    memset(big, 'A', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    memcpy(big, "scrypt$16384$8$1$", 17);
    ck_assert_int_eq(user_verify_password("password", big), 0);
}
END_TEST

START_TEST(test_the_dummy_verification_costs_about_a_real_one)
{
    char h[USER_HASH_MAX];
    struct timespec a, b, c;
    ck_assert_int_eq(user_hash_password("timing", h, sizeof(h)), 0);
    clock_gettime(CLOCK_MONOTONIC, &a);
    user_verify_password("wrong", h);
    clock_gettime(CLOCK_MONOTONIC, &b);
    user_verify_dummy("wrong");
    clock_gettime(CLOCK_MONOTONIC, &c);
    double real = (double)(b.tv_sec - a.tv_sec) + (b.tv_nsec - a.tv_nsec) / 1e9;
    double dummy = (double)(c.tv_sec - b.tv_sec) + (c.tv_nsec - b.tv_nsec) / 1e9;
    ck_assert_msg(dummy > real / 3 && dummy < real * 3, "real %.4f s, dummy %.4f s", real, dummy);
}
END_TEST

/* ---- rows ------------------------------------------------------------------------------ */

static db_t db;
static config_t cfg;
static int64_t market_id;

static void rows_up(void)
{
    char tag[32], err[256];
    snprintf(tag, sizeof(tag), "t%d", (int)getpid());
    t_db_scratch_open(&db, &cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "%s", err);
    t_db_script(&db, "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, "
                     "open_hours) VALUES ('m1', 'M', 'A', 34.7, 113.6, '410103', '', '[]', '', '')");
    market_id = t_db_i64(&db, "SELECT id FROM markets WHERE code = 'm1'", NULL, 0);
}

static void rows_down(void)
{
    t_db_scratch_close(&db, &cfg);
}

START_TEST(test_user_create_stores_a_hash_and_login_finds_it)
{
    int64_t id = 0;
    user_auth_t u;
    user_new_t n = {.role = "operator", .market_id = market_id, .username = "Op.One", .password = "s3cret-pw"};
    ck_assert_int_eq(user_create(&db, &n, &id), DB_OK);
    ck_assert_int_gt(id, 0);
    ck_assert_int_eq(user_find_login(&db, "Op.One", &u), DB_OK);
    ck_assert_int_eq(u.id, id);
    ck_assert_str_eq(u.role, "operator");
    ck_assert_str_eq(u.username, "Op.One");
    ck_assert_int_eq(u.market_id, market_id);
    ck_assert_int_eq(u.vendor_id, 0);
    ck_assert_int_eq(u.active, 1);
    ck_assert_int_eq(user_verify_password("s3cret-pw", u.password_hash), 1);
    /* the collation is case-insensitive: the stored spelling comes back */
    ck_assert_int_eq(user_find_login(&db, "op.one", &u), DB_OK);
    ck_assert_str_eq(u.username, "Op.One");
    ck_assert_int_eq(user_find_login(&db, "nobody", &u), DB_NOROW);
}
END_TEST

START_TEST(test_user_create_refuses_a_taken_username)
{
    int64_t id = 0;
    user_new_t n = {.role = "operator", .market_id = market_id, .username = "dup", .password = "password1"};
    ck_assert_int_eq(user_create(&db, &n, &id), DB_OK);
    ck_assert_int_eq(user_create(&db, &n, &id), DB_DUP);
    n.username = "DUP";
    ck_assert_int_eq(user_create(&db, &n, &id), DB_DUP);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM users WHERE username = 'dup'", NULL, 0), 1);
}
END_TEST

START_TEST(test_user_create_refuses_an_unknown_market)
{
    int64_t id = 0;
    user_new_t n = {
        .role = "operator", .market_id = market_id + 1000, .username = "nomarket", .password = "pw12345678"};
    ck_assert_int_eq(user_create(&db, &n, &id), SF_E_NO_MARKET);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM users", NULL, 0), 0);
}
END_TEST

START_TEST(test_wechat_upsert_creates_once_and_finds_after)
{
    user_auth_t a, b;
    ck_assert_int_eq(user_upsert_wechat(&db, "sandbox-li", "li", &a), DB_OK);
    ck_assert_int_eq(user_upsert_wechat(&db, "sandbox-li", "li", &b), DB_OK);
    ck_assert_int_eq(a.id, b.id);
    ck_assert_str_eq(a.role, "consumer");
    ck_assert_int_eq(a.market_id, 0);
    ck_assert_int_eq(a.active, 1);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM users WHERE wechat_openid = 'sandbox-li'", NULL, 0), 1);
    /* a consumer never logs in with a password */
    ck_assert_int_eq(user_find_login(&db, "sandbox-li", &b), DB_NOROW);
    ck_assert_int_eq(user_touch_login(&db, a.id), DB_OK);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM users WHERE last_login_at IS NOT NULL", NULL, 0), 1);
}
END_TEST

START_TEST(test_wechat_upsert_reports_a_disabled_consumer)
{
    user_auth_t a;
    ck_assert_int_eq(user_upsert_wechat(&db, "oDisabled", NULL, &a), DB_OK);
    t_db_script(&db, "UPDATE users SET status = 'disabled' WHERE wechat_openid = 'oDisabled'");
    ck_assert_int_eq(user_upsert_wechat(&db, "oDisabled", NULL, &a), DB_OK);
    ck_assert_int_eq(a.active, 0);
}
END_TEST

static Suite *suite(void)
{
    Suite *s = suite_create("user");
    TCase *h = tcase_create("hash");
    tcase_set_timeout(h, 60);
    tcase_add_test(h, test_a_hash_verifies_its_password_and_no_other);
    tcase_add_test(h, test_two_hashes_of_one_password_differ_by_their_salt);
    tcase_add_test(h, test_hashing_refuses_a_buffer_too_small);
    tcase_add_test(h, test_known_answer_vectors_verify_by_their_own_parameters);
    tcase_add_test(h, test_a_tampered_hash_verifies_nothing);
    tcase_add_test(h, test_malformed_stored_hashes_verify_nothing);
    tcase_add_test(h, test_the_dummy_verification_costs_about_a_real_one);
    suite_add_tcase(s, h);
    TCase *r = tcase_create("rows");
    tcase_set_timeout(r, 60);
    tcase_add_checked_fixture(r, rows_up, rows_down);
    tcase_add_test(r, test_user_create_stores_a_hash_and_login_finds_it);
    tcase_add_test(r, test_user_create_refuses_a_taken_username);
    tcase_add_test(r, test_user_create_refuses_an_unknown_market);
    tcase_add_test(r, test_wechat_upsert_creates_once_and_finds_after);
    tcase_add_test(r, test_wechat_upsert_reports_a_disabled_consumer);
    suite_add_tcase(s, r);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_user"))
        return 1;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tuser_%d", (int)getpid());
    db_library_init();
    int failed = t_run(suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? 0 : 1;
}
