/*
 * models/vendor.c and models/courier.c against a scratch database of their own
 * (sf_tvendor_<pid>_<tag>, swept by main): stalls, vendors created in one transaction (a
 * taken or unknown stall, or a taken username, leaves no vendor, licence, user or stall
 * assignment behind), changes that replace stalls and licences, staff with their validity,
 * couriers with their logins, and every call confined to its market.
 */
#include <check.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "models/courier.h"
#include "models/user.h"
#include "models/vendor.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

static void scratch(db_t *db, config_t *cfg, const char *tag)
{
    char err[512];
    t_db_scratch_open(db, cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
}

static int64_t add_market(db_t *db, const char *code)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(db,
                          "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules,"
                          " open_hours) VALUES (?, '市场', 'addr', 34.75, 113.62, '410103', '', '[]', '', '6-20')",
                          (db_param_t[]){DB_STR(code)}, 1, NULL, &id) == DB_OK,
                  "%s", db->err);
    return (int64_t)id;
}

static int64_t add_stall(db_t *db, int64_t market, const char *no)
{
    json_t *out = NULL;
    ck_assert_int_eq(vendor_stall_create(db, market, no, "蔬菜区", 10, 20, &out, NULL), SF_OK);
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    return id;
}

static int64_t count(db_t *db, const char *sql)
{
    return t_db_i64(db, sql, NULL, 0);
}

/* A valid vendor to create, holding the given stalls. */
static void vendor_in(vendor_input_t *in, const char *username, const int64_t *stalls, size_t n)
{
    memset(in, 0, sizeof(*in));
    in->name = "李四";
    in->contact_phone = "+86-13800000000";
    in->business_scope = "蔬菜、水果零售";
    in->credit_level = "A";
    in->nstalls = n;
    in->has_stalls = 1;
    for (size_t i = 0; i < n; i++)
        in->stall_ids[i] = stalls[i];
    in->nlicences = 2;
    in->has_licences = 1;
    in->licences[0] = (vendor_licence_t){"business_licence", "91410100MA44XXXX1Q", "2030-12-31"};
    in->licences[1] = (vendor_licence_t){"food_business_licence", "JY14101000000001", "2027-06-30"};
    in->username = username;
    in->password = "vendor-pass-1";
}

/* ---- stalls ---------------------------------------------------------------------------- */

START_TEST(test_a_stall_is_created_without_a_vendor_and_its_number_is_unique_per_market)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    scratch(&db, &cfg, "stall");
    int64_t m = add_market(&db, "m1"), other = add_market(&db, "m2");
    ck_assert_int_eq(vendor_stall_create(&db, m, "A-01", "蔬菜区", 0, 100000, &out, NULL), SF_OK);
    ck_assert_int_gt(json_integer_value(json_object_get(out, "id")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(out, "stall_no")), "A-01");
    ck_assert_str_eq(json_string_value(json_object_get(out, "zone")), "蔬菜区");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(out, "map"), "y")), 100000);
    ck_assert(json_is_null(json_object_get(out, "vendor_id")));
    json_decref(out);
    out = NULL;
    ck_assert_int_eq(vendor_stall_create(&db, m, "A-01", "x", 1, 1, &out, NULL), SF_E_STALL_NO_TAKEN);
    ck_assert_int_eq(vendor_stall_create(&db, m, "a-01", "x", 1, 1, &out, NULL), SF_E_STALL_NO_TAKEN);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(vendor_stall_create(&db, other, "A-01", "x", 1, 1, &out, NULL), SF_OK); /* another market */
    json_decref(out);
    ck_assert_int_eq(count(&db, "SELECT COUNT(*) FROM stalls"), 2);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

/* ---- create ---------------------------------------------------------------------------- */

START_TEST(test_a_vendor_is_created_with_licences_stalls_and_a_login)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    vendor_input_t in;
    status_detail_t bad = {0};
    user_auth_t ua;
    scratch(&db, &cfg, "create");
    int64_t m = add_market(&db, "m1");
    int64_t stalls[] = {add_stall(&db, m, "A-01"), add_stall(&db, m, "A-02")};
    vendor_in(&in, "lisi", stalls, 2);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_OK);
    int64_t id = json_integer_value(json_object_get(out, "id"));
    ck_assert_int_gt(id, 0);
    ck_assert_str_eq(json_string_value(json_object_get(out, "name")), "李四");
    ck_assert_str_eq(json_string_value(json_object_get(out, "status")), "active");
    ck_assert_str_eq(json_string_value(json_object_get(out, "credit_level")), "A");
    ck_assert_str_eq(json_string_value(json_object_get(out, "username")), "lisi");
    ck_assert_ptr_null(json_object_get(out, "password"));
    ck_assert_int_eq(json_array_size(json_object_get(out, "stall_ids")), 2);
    ck_assert_int_eq(json_integer_value(json_array_get(json_object_get(out, "stall_ids"), 0)), stalls[0]);
    json_t *lic = json_object_get(out, "licences");
    ck_assert_int_eq(json_array_size(lic), 2);
    ck_assert_int_gt(json_integer_value(json_object_get(json_array_get(lic, 0), "id")), 0);
    ck_assert_str_eq(json_string_value(json_object_get(json_array_get(lic, 1), "valid_until")), "2027-06-30");
    ck_assert_int_eq(json_array_size(json_object_get(out, "staff")), 0);
    ck_assert_int_eq(strlen(json_string_value(json_object_get(out, "created_at"))), 29);
    json_decref(out);

    ck_assert_int_eq(user_find_login(&db, "lisi", &ua), DB_OK);
    ck_assert_str_eq(ua.role, "vendor");
    ck_assert_int_eq(ua.vendor_id, id);
    ck_assert_int_eq(ua.market_id, m);
    ck_assert_int_eq(user_verify_password("vendor-pass-1", ua.password_hash), 1);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM stalls WHERE vendor_id = ?", (db_param_t[]){DB_I64(id)}, 1),
                     2);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

/* Nothing of a refused vendor may remain. */
static void assert_nothing_written(db_t *db, int64_t vendors, int64_t users)
{
    ck_assert_int_eq(count(db, "SELECT COUNT(*) FROM vendors"), vendors);
    ck_assert_int_eq(count(db, "SELECT COUNT(*) FROM users"), users);
    ck_assert_int_eq(count(db, "SELECT COUNT(*) FROM vendor_licences"), 2 * vendors);
    ck_assert_int_eq(count(db, "SELECT COUNT(*) FROM stalls WHERE vendor_id IS NOT NULL"), vendors);
}

START_TEST(test_a_vendor_with_a_taken_stall_writes_nothing)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    vendor_input_t in;
    status_detail_t bad = {0};
    scratch(&db, &cfg, "taken");
    int64_t m = add_market(&db, "m1");
    int64_t a = add_stall(&db, m, "A-01"), b = add_stall(&db, m, "A-02");
    vendor_in(&in, "first", &a, 1);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_OK);
    json_decref(out);
    out = NULL;
    int64_t both[] = {b, a}; /* b is free and is taken first; a belongs to "first" */
    vendor_in(&in, "second", both, 2);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_E_STALL_TAKEN);
    ck_assert_int_eq(json_integer_value(json_object_get(bad.details, "stall_id")), a);
    status_detail_clear(&bad);
    ck_assert_ptr_null(out);
    assert_nothing_written(&db, 1, 1);
    ck_assert_int_eq(t_db_i64(&db, "SELECT vendor_id IS NULL FROM stalls WHERE id = ?", (db_param_t[]){DB_I64(b)}, 1),
                     1);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_a_vendor_with_a_stall_of_another_market_or_none_writes_nothing)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    vendor_input_t in;
    status_detail_t bad = {0};
    scratch(&db, &cfg, "unknown");
    int64_t m = add_market(&db, "m1"), other = add_market(&db, "m2");
    int64_t mine = add_stall(&db, m, "A-01"), theirs = add_stall(&db, other, "A-01");
    int64_t ids[] = {mine, theirs};
    vendor_in(&in, "third", ids, 2);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_E_UNKNOWN_STALL);
    ck_assert_int_eq(json_integer_value(json_object_get(bad.details, "stall_id")), theirs);
    status_detail_clear(&bad);
    int64_t none[] = {mine, 999999};
    vendor_in(&in, "third", none, 2);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_E_UNKNOWN_STALL);
    ck_assert_int_eq(json_integer_value(json_object_get(bad.details, "stall_id")), 999999);
    status_detail_clear(&bad);
    ck_assert_ptr_null(out);
    assert_nothing_written(&db, 0, 0);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_a_vendor_with_a_taken_username_writes_nothing)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    vendor_input_t in;
    status_detail_t bad = {0};
    scratch(&db, &cfg, "username");
    int64_t m = add_market(&db, "m1");
    int64_t a = add_stall(&db, m, "A-01"), b = add_stall(&db, m, "A-02");
    vendor_in(&in, "same", &a, 1);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_OK);
    json_decref(out);
    out = NULL;
    vendor_in(&in, "same", &b, 1);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_E_USERNAME_TAKEN);
    ck_assert_ptr_null(out);
    assert_nothing_written(&db, 1, 1);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

/* ---- update ---------------------------------------------------------------------------- */

START_TEST(test_a_change_replaces_stalls_and_licences_and_keeps_the_rest)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    vendor_input_t in, ch;
    status_detail_t bad = {0};
    scratch(&db, &cfg, "update");
    int64_t m = add_market(&db, "m1");
    int64_t a = add_stall(&db, m, "A-01"), b = add_stall(&db, m, "A-02"), c = add_stall(&db, m, "A-03");
    int64_t ab[] = {a, b};
    vendor_in(&in, "upd", ab, 2);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_OK);
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);

    memset(&ch, 0, sizeof(ch));
    ch.credit_level = "C";
    ch.status = "suspended";
    ch.has_stalls = 1;
    ch.nstalls = 2;
    ch.stall_ids[0] = c;
    ch.stall_ids[1] = b;
    ch.has_licences = 1;
    ch.nlicences = 1;
    ch.licences[0] = (vendor_licence_t){"health_permit", "HP-1", "2028-02-29"};
    ck_assert_int_eq(vendor_update(&db, m, id, &ch, &out, &bad), SF_OK);
    ck_assert_str_eq(json_string_value(json_object_get(out, "name")), "李四"); /* untouched */
    ck_assert_str_eq(json_string_value(json_object_get(out, "credit_level")), "C");
    ck_assert_str_eq(json_string_value(json_object_get(out, "status")), "suspended");
    json_t *st = json_object_get(out, "stall_ids");
    ck_assert_int_eq(json_array_size(st), 2);
    ck_assert_int_eq(json_integer_value(json_array_get(st, 0)), b);
    ck_assert_int_eq(json_integer_value(json_array_get(st, 1)), c);
    ck_assert_int_eq(json_array_size(json_object_get(out, "licences")), 1);
    json_decref(out);
    ck_assert_int_eq(t_db_i64(&db, "SELECT vendor_id IS NULL FROM stalls WHERE id = ?", (db_param_t[]){DB_I64(a)}, 1),
                     1);
    ck_assert_int_eq(count(&db, "SELECT COUNT(*) FROM vendor_licences"), 1);

    /* an empty list releases every stall */
    memset(&ch, 0, sizeof(ch));
    ch.has_stalls = 1;
    ck_assert_int_eq(vendor_update(&db, m, id, &ch, &out, &bad), SF_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "stall_ids")), 0);
    json_decref(out);
    ck_assert_int_eq(count(&db, "SELECT COUNT(*) FROM stalls WHERE vendor_id IS NOT NULL"), 0);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_releasing_a_stall_with_products_is_refused_and_changes_nothing)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    vendor_input_t in, ch;
    status_detail_t bad = {0};
    scratch(&db, &cfg, "products");
    int64_t m = add_market(&db, "m1");
    int64_t a = add_stall(&db, m, "A-01"), b = add_stall(&db, m, "A-02");
    vendor_in(&in, "prod", &a, 1);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_OK);
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    out = NULL;
    ck_assert_int_eq(db_exec(&db,
                             "INSERT INTO products (market_id, stall_id, vendor_id, category, commodity_code, name,"
                             " pricing_mode, price_fen, per_g, stock) VALUES (?, ?, ?, 'veg', 'A01', '白菜', 'weight',"
                             " 300, 500, 1000)",
                             (db_param_t[]){DB_I64(m), DB_I64(a), DB_I64(id)}, 3, NULL, NULL),
                     DB_OK);
    memset(&ch, 0, sizeof(ch));
    ch.name = "改名";
    ch.has_stalls = 1;
    ch.nstalls = 1;
    ch.stall_ids[0] = b;
    ck_assert_int_eq(vendor_update(&db, m, id, &ch, &out, &bad), SF_E_STALL_HAS_PRODUCTS);
    ck_assert_int_eq(json_integer_value(json_object_get(bad.details, "stall_id")), a);
    status_detail_clear(&bad);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(count(&db, "SELECT COUNT(*) FROM vendors WHERE name = '李四'"), 1);
    ck_assert_int_eq(t_db_i64(&db, "SELECT vendor_id FROM stalls WHERE id = ?", (db_param_t[]){DB_I64(a)}, 1), id);
    ck_assert_int_eq(t_db_i64(&db, "SELECT vendor_id IS NULL FROM stalls WHERE id = ?", (db_param_t[]){DB_I64(b)}, 1),
                     1);
    /* keeping the stall and adding another is fine */
    ch.nstalls = 2;
    ch.stall_ids[1] = a;
    ck_assert_int_eq(vendor_update(&db, m, id, &ch, &out, &bad), SF_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "stall_ids")), 2);
    json_decref(out);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_another_markets_vendor_is_not_found_and_unchanged)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    vendor_input_t in, ch;
    vendor_staff_new_t s = {"王五", "HC-1", "2030-01-01"};
    status_detail_t bad = {0};
    scratch(&db, &cfg, "scope");
    int64_t m = add_market(&db, "m1"), other = add_market(&db, "m2");
    int64_t a = add_stall(&db, m, "A-01");
    vendor_in(&in, "scoped", &a, 1);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_OK);
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    out = NULL;
    memset(&ch, 0, sizeof(ch));
    ch.status = "closed";
    ck_assert_int_eq(vendor_update(&db, other, id, &ch, &out, &bad), SF_E_NOT_FOUND);
    ck_assert_int_eq(vendor_staff_add(&db, other, id, &s, &out, NULL), SF_E_NOT_FOUND);
    ck_assert_int_eq(vendor_render(&db, other, id, &out, NULL), SF_E_NOT_FOUND);
    ck_assert_int_eq(vendor_update(&db, m, id + 1000, &ch, &out, &bad), SF_E_NOT_FOUND);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(count(&db, "SELECT COUNT(*) FROM vendors WHERE status = 'active'"), 1);
    ck_assert_int_eq(count(&db, "SELECT COUNT(*) FROM vendor_staff"), 0);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

/* ---- staff ----------------------------------------------------------------------------- */

START_TEST(test_staff_carry_whether_their_certificate_is_still_valid)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    vendor_input_t in;
    status_detail_t bad = {0};
    scratch(&db, &cfg, "staff");
    int64_t m = add_market(&db, "m1");
    vendor_in(&in, "staffed", NULL, 0);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_OK);
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);

    vendor_staff_new_t good = {"王五", "HC-2030", "2099-12-31"}, old = {"赵六", "HC-2020", "2020-01-01"};
    ck_assert_int_eq(vendor_staff_add(&db, m, id, &good, &out, NULL), SF_OK);
    ck_assert_int_gt(json_integer_value(json_object_get(out, "id")), 0);
    ck_assert_int_eq(json_integer_value(json_object_get(out, "vendor_id")), id);
    ck_assert_str_eq(json_string_value(json_object_get(out, "certificate")), "HC-2030");
    ck_assert_str_eq(json_string_value(json_object_get(out, "valid_until")), "2099-12-31");
    ck_assert(json_is_true(json_object_get(out, "valid")));
    json_decref(out);
    ck_assert_int_eq(vendor_staff_add(&db, m, id, &old, &out, NULL), SF_OK);
    ck_assert(json_is_false(json_object_get(out, "valid")));
    json_decref(out);
    ck_assert_int_eq(vendor_render(&db, m, id, &out, NULL), SF_OK);
    ck_assert_int_eq(json_array_size(json_object_get(out, "staff")), 2);
    json_decref(out);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

START_TEST(test_staff_stop_at_the_limit)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    vendor_input_t in;
    status_detail_t bad = {0};
    vendor_staff_new_t s = {"王五", "HC", "2099-12-31"};
    scratch(&db, &cfg, "staffmax");
    int64_t m = add_market(&db, "m1");
    vendor_in(&in, "many", NULL, 0);
    ck_assert_int_eq(vendor_create(&db, m, &in, &out, &bad), SF_OK);
    int64_t id = json_integer_value(json_object_get(out, "id"));
    json_decref(out);
    for (int i = 0; i < VENDOR_MAX_STAFF; i++) {
        ck_assert_int_eq(vendor_staff_add(&db, m, id, &s, &out, NULL), SF_OK);
        json_decref(out);
    }
    out = NULL;
    ck_assert_int_eq(vendor_staff_add(&db, m, id, &s, &out, NULL), SF_E_TOO_MANY_STAFF);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(count(&db, "SELECT COUNT(*) FROM vendor_staff"), VENDOR_MAX_STAFF);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

/* ---- couriers -------------------------------------------------------------------------- */

START_TEST(test_a_courier_is_created_with_a_login_and_a_taken_username_writes_nothing)
{
    config_t cfg;
    db_t db;
    json_t *out = NULL;
    user_auth_t ua;
    scratch(&db, &cfg, "courier");
    int64_t m = add_market(&db, "m1");
    courier_new_t c = {"骑手小王", "13900000000", "rider1", "rider-pass-1"};
    ck_assert_int_eq(courier_create(&db, m, &c, &out, NULL), SF_OK);
    int64_t id = json_integer_value(json_object_get(out, "id"));
    ck_assert_int_gt(id, 0);
    ck_assert_str_eq(json_string_value(json_object_get(out, "status")), "active");
    ck_assert_str_eq(json_string_value(json_object_get(out, "phone")), "13900000000");
    ck_assert_ptr_null(json_object_get(out, "password"));
    json_decref(out);
    out = NULL;
    ck_assert_int_eq(user_find_login(&db, "rider1", &ua), DB_OK);
    ck_assert_str_eq(ua.role, "courier");
    ck_assert_int_eq(ua.courier_id, id);
    ck_assert_int_eq(ua.market_id, m);

    courier_new_t dup = {"另一个", "13900000001", "rider1", "rider-pass-2"};
    ck_assert_int_eq(courier_create(&db, m, &dup, &out, NULL), SF_E_USERNAME_TAKEN);
    ck_assert_ptr_null(out);
    ck_assert_int_eq(count(&db, "SELECT COUNT(*) FROM couriers"), 1);
    ck_assert_int_eq(count(&db, "SELECT COUNT(*) FROM users"), 1);
    t_db_scratch_close(&db, &cfg);
}
END_TEST

static Suite *vendor_suite(void)
{
    Suite *s = suite_create("vendor");
    TCase *tc = tcase_create("vendor");
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_a_stall_is_created_without_a_vendor_and_its_number_is_unique_per_market);
    tcase_add_test(tc, test_a_vendor_is_created_with_licences_stalls_and_a_login);
    tcase_add_test(tc, test_a_vendor_with_a_taken_stall_writes_nothing);
    tcase_add_test(tc, test_a_vendor_with_a_stall_of_another_market_or_none_writes_nothing);
    tcase_add_test(tc, test_a_vendor_with_a_taken_username_writes_nothing);
    tcase_add_test(tc, test_a_change_replaces_stalls_and_licences_and_keeps_the_rest);
    tcase_add_test(tc, test_releasing_a_stall_with_products_is_refused_and_changes_nothing);
    tcase_add_test(tc, test_another_markets_vendor_is_not_found_and_unchanged);
    tcase_add_test(tc, test_staff_carry_whether_their_certificate_is_still_valid);
    tcase_add_test(tc, test_staff_stop_at_the_limit);
    tcase_add_test(tc, test_a_courier_is_created_with_a_login_and_a_taken_username_writes_nothing);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_vendor"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_tvendor_%d", (int)getpid());
    db_library_init();
    int failed = t_run(vendor_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
