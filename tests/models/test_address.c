/*
 * models/address.c: the body's rules as table-driven vectors, distances against known
 * ones, and the table against a scratch database of its own (sf_taddr_<pid>_<tag>, swept by
 * main): create and read back exactly, the market filter, the cap of 50 (also under
 * concurrent writers), another consumer's address never found.
 */
#include <check.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include "models/base/config.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "models/store/migrate.h"
#include "models/address.h"
#include "models/base/geo.h"
#include "tests/support/testutil.h"

static char run_prefix[48];

/* ================================================================ validation */

#define NAME  "\"name\":\"王小明\""
#define PHONE "\"phone\":\"+86-13800000000\""
#define TEXT  "\"text\":\"郑州市二七区大学路 12 号 3 单元 402\""
#define LAT   "\"lat\":34.7477"
#define LNG   "\"lng\":113.6254"

START_TEST(test_an_address_is_read_field_by_field)
{
    json_t *b = t_json_text("{" NAME "," PHONE "," TEXT "," LAT "," LNG ",\"market_id\":3}");
    address_input_t in;
    address_invalid_t bad;
    ck_assert_int_eq(address_parse(b, &in, &bad), 0);
    ck_assert_str_eq(in.name, "王小明");
    ck_assert_str_eq(in.phone, "+86-13800000000");
    ck_assert_str_eq(in.text, "郑州市二七区大学路 12 号 3 单元 402");
    ck_assert_double_eq_tol(in.lat, 34.7477, 1e-9);
    ck_assert_double_eq_tol(in.lng, 113.6254, 1e-9);
    ck_assert_int_eq(in.market_id, 3);
    json_decref(b);
    /* integers are numbers too; market_id null or absent is "any market"; the bounds hold */
    b = t_json_text("{" NAME "," PHONE "," TEXT ",\"lat\":-90,\"lng\":180,\"market_id\":null}");
    ck_assert_int_eq(address_parse(b, &in, &bad), 0);
    ck_assert_double_eq(in.lat, -90);
    ck_assert_double_eq(in.lng, 180);
    ck_assert_int_eq(in.market_id, 0);
    json_decref(b);
    b = t_json_text("{" NAME ",\"phone\":\"12345\"," TEXT ",\"lat\":90,\"lng\":-180}");
    ck_assert_int_eq(address_parse(b, &in, &bad), 0);
    ck_assert_int_eq(in.market_id, 0);
    json_decref(b);
}
END_TEST

static const struct {
    const char *body, *field;
} bad_bodies[] = {
    {"{}", "name"},
    {"{" PHONE "," TEXT "," LAT "," LNG "}", "name"},
    {"{" NAME "," TEXT "," LAT "," LNG "}", "phone"},
    {"{" NAME "," PHONE "," LAT "," LNG "}", "text"},
    {"{" NAME "," PHONE "," TEXT "," LNG "}", "lat"},
    {"{" NAME "," PHONE "," TEXT "," LAT "}", "lng"},
    {"{\"name\":\"\"," PHONE "," TEXT "," LAT "," LNG "}", "name"},
    {"{\"name\":7," PHONE "," TEXT "," LAT "," LNG "}", "name"},
    {"{\"name\":\" 王\"," PHONE "," TEXT "," LAT "," LNG "}", "name"},
    {"{\"name\":\"王\\n明\"," PHONE "," TEXT "," LAT "," LNG "}", "name"},
    {"{\"name\":\"王\\u0000明\"," PHONE "," TEXT "," LAT "," LNG "}", "name"},
    {"{\"name\":\"12345678901234567890123456789012345678901234567890123456789012345\"," PHONE "," TEXT "," LAT "," LNG
     "}",
     "name"},
    {"{" NAME ",\"phone\":\"1234\"," TEXT "," LAT "," LNG "}", "phone"},
    {"{" NAME ",\"phone\":\"123456789012345678901\"," TEXT "," LAT "," LNG "}", "phone"},
    {"{" NAME ",\"phone\":\"138 0000 0000\"," TEXT "," LAT "," LNG "}", "phone"},
    {"{" NAME ",\"phone\":\"1380000000a\"," TEXT "," LAT "," LNG "}", "phone"},
    {"{" NAME ",\"phone\":13800000000," TEXT "," LAT "," LNG "}", "phone"},
    {"{" NAME "," PHONE ",\"text\":\"\"," LAT "," LNG "}", "text"},
    {"{" NAME "," PHONE ",\"text\":[]," LAT "," LNG "}", "text"},
    {"{" NAME "," PHONE "," TEXT ",\"lat\":\"34.7\"," LNG "}", "lat"},
    {"{" NAME "," PHONE "," TEXT ",\"lat\":90.0000001," LNG "}", "lat"},
    {"{" NAME "," PHONE "," TEXT ",\"lat\":-91," LNG "}", "lat"},
    {"{" NAME "," PHONE "," TEXT ",\"lat\":null," LNG "}", "lat"},
    {"{" NAME "," PHONE "," TEXT "," LAT ",\"lng\":180.5}", "lng"},
    {"{" NAME "," PHONE "," TEXT "," LAT ",\"lng\":true}", "lng"},
    {"{" NAME "," PHONE "," TEXT "," LAT "," LNG ",\"market_id\":0}", "market_id"},
    {"{" NAME "," PHONE "," TEXT "," LAT "," LNG ",\"market_id\":1.5}", "market_id"},
    {"{" NAME "," PHONE "," TEXT "," LAT "," LNG ",\"market_id\":\"1\"}", "market_id"},
    {"{" NAME "," PHONE "," TEXT "," LAT "," LNG ",\"zip\":\"450000\"}", "zip"},
    {"[]", ""},
};

START_TEST(test_a_bad_address_names_its_field)
{
    json_t *b = t_json_text(bad_bodies[_i].body);
    address_input_t in;
    address_invalid_t bad;
    ck_assert_msg(address_parse(b, &in, &bad) == -1, "%s accepted", bad_bodies[_i].body);
    ck_assert_msg(strcmp(bad.field, bad_bodies[_i].field) == 0, "%s: field %s (%s)", bad_bodies[_i].body, bad.field,
                  bad.reason);
    ck_assert_ptr_nonnull(bad.reason);
    json_decref(b);
}
END_TEST

START_TEST(test_a_text_of_255_characters_passes_and_256_do_not)
{
    char body[4096];
    char text[256 * 3 + 1] = "";
    for (int i = 0; i < 255; i++)
        strcat(text, "路");
    address_input_t in;
    address_invalid_t bad;
    snprintf(body, sizeof(body), "{" NAME "," PHONE ",\"text\":\"%s\"," LAT "," LNG "}", text);
    json_t *b = t_json_text(body);
    ck_assert_int_eq(address_parse(b, &in, &bad), 0);
    json_decref(b);
    strcat(text, "路");
    snprintf(body, sizeof(body), "{" NAME "," PHONE ",\"text\":\"%s\"," LAT "," LNG "}", text);
    b = t_json_text(body);
    ck_assert_int_eq(address_parse(b, &in, &bad), -1);
    ck_assert_str_eq(bad.field, "text");
    json_decref(b);
}
END_TEST

START_TEST(test_distances_are_great_circle_metres)
{
    ck_assert_int_eq(geo_distance_m(34.7477, 113.6254, 34.7477, 113.6254), 0);
    /* one degree of latitude: pi * R / 180 = 111195 m */
    ck_assert_int_eq(geo_distance_m(0, 0, 1, 0), 111195);
    ck_assert_int_eq(geo_distance_m(34, 113, 35, 113), 111195);
    /* a degree of longitude shrinks with cos(lat): at 60° half of it */
    int64_t d = geo_distance_m(60, 10, 60, 11);
    ck_assert_int_eq(d, 55597);
    /* two points of Zhengzhou about 10.7 km apart */
    ck_assert_int_eq(geo_distance_m(34.7539, 113.6603, 34.7600, 113.7770), 10683);
    /* symmetric, and antipodes are half the circumference */
    ck_assert_int_eq(geo_distance_m(1, 2, 3, 4), geo_distance_m(3, 4, 1, 2));
    ck_assert_int_eq(geo_distance_m(0, 0, 0, 180), 20015114);
}
END_TEST

/* ================================================================ storage */

typedef struct {
    config_t cfg;
    db_t db;
    int64_t market, other_market, alice, bob;
} world_t;

static int64_t exec_id(db_t *db, const char *sql, const db_param_t *p, size_t n)
{
    uint64_t id = 0;
    ck_assert_msg(db_exec(db, sql, p, n, NULL, &id) == DB_OK, "%s: %s", sql, db->err);
    return (int64_t)id;
}

static int64_t add_market(db_t *db, const char *code)
{
    return exec_id(db,
                   "INSERT INTO markets (code, name, address, lat, lng, area_code, intro, honours, rules, open_hours)"
                   " VALUES (?, '市场', '郑州市', 34.747700, 113.625400, '410103', '', '[]', '', '06:00-20:00')",
                   (db_param_t[]){DB_STR(code)}, 1);
}

static int64_t add_consumer(db_t *db, const char *openid)
{
    return exec_id(db, "INSERT INTO users (role, wechat_openid, display_name) VALUES ('consumer', ?, '')",
                   (db_param_t[]){DB_STR(openid)}, 1);
}

static void world_open(world_t *w, const char *tag)
{
    char err[256];
    memset(w, 0, sizeof(*w));
    t_db_scratch_open(&w->db, &w->cfg, run_prefix, tag);
    ck_assert_msg(migrate_run(&w->db, migrations_builtin, migrations_builtin_count, NULL, NULL, err, sizeof(err)) == 0,
                  "migrate: %s", err);
    w->market = add_market(&w->db, "m1");
    w->other_market = add_market(&w->db, "m2");
    w->alice = add_consumer(&w->db, "o-alice");
    w->bob = add_consumer(&w->db, "o-bob");
}

static void world_close(world_t *w)
{
    t_db_scratch_close(&w->db, &w->cfg);
}

static int64_t create(world_t *w, int64_t user, const char *body_text)
{
    json_t *b = t_json_text(body_text);
    address_input_t in;
    address_invalid_t bad;
    int64_t id = 0;
    ck_assert_msg(address_parse(b, &in, &bad) == 0, "%s: %s", bad.field, bad.reason);
    int rc = address_create(&w->db, user, &in, &id);
    json_decref(b);
    ck_assert_msg(rc == DB_OK, "create: %d %s", rc, w->db.err);
    return id;
}

static int64_t count_of(world_t *w, int64_t user)
{
    return t_db_i64(&w->db, "SELECT COUNT(*) FROM addresses WHERE user_id = ?", (db_param_t[]){DB_I64(user)}, 1);
}

START_TEST(test_an_address_is_stored_and_read_back_exactly_by_its_consumer_only)
{
    world_t w;
    world_open(&w, "get");
    char body[512];
    snprintf(body, sizeof(body),
             "{" NAME "," PHONE "," TEXT ",\"lat\":34.7477004,\"lng\":-0.0000004,\"market_id\":%lld}",
             (long long)w.market);
    int64_t id = create(&w, w.alice, body);
    address_t a;
    ck_assert_int_eq(address_get_for_order(&w.db, w.alice, id, &a), DB_OK);
    ck_assert_int_eq(a.id, id);
    ck_assert_int_eq(a.user_id, w.alice);
    ck_assert_int_eq(a.market_id, w.market);
    ck_assert_str_eq(a.name, "王小明");
    ck_assert_str_eq(a.phone, "+86-13800000000");
    ck_assert_str_eq(a.text, "郑州市二七区大学路 12 号 3 单元 402");
    ck_assert_str_eq(a.lat_text, "34.747700"); /* 6 decimals, rounded */
    ck_assert_double_eq_tol(a.lat, 34.7477, 1e-9);
    ck_assert_double_eq_tol(a.lng, 0, 1e-9);
    json_t *j = address_json(&a);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "id")), id);
    ck_assert_int_eq(json_integer_value(json_object_get(j, "market_id")), w.market);
    ck_assert_double_eq_tol(json_number_value(json_object_get(j, "lat")), 34.7477, 1e-9);
    ck_assert_str_eq(json_string_value(json_object_get(j, "phone")), "+86-13800000000");
    json_decref(j);
    /* bob does not see it; an unknown id is not found either */
    ck_assert_int_eq(address_get_for_order(&w.db, w.bob, id, &a), DB_NOROW);
    ck_assert_int_eq(address_get_for_order(&w.db, w.alice, id + 1000, &a), DB_NOROW);
    world_close(&w);
}
END_TEST

START_TEST(test_the_list_filtered_by_market_keeps_the_addresses_usable_there)
{
    world_t w;
    world_open(&w, "list");
    char body[512];
    int64_t any = create(&w, w.alice, "{" NAME "," PHONE "," TEXT "," LAT "," LNG "}");
    snprintf(body, sizeof(body), "{" NAME "," PHONE "," TEXT "," LAT "," LNG ",\"market_id\":%lld}",
             (long long)w.market);
    int64_t here = create(&w, w.alice, body);
    snprintf(body, sizeof(body), "{" NAME "," PHONE "," TEXT "," LAT "," LNG ",\"market_id\":%lld}",
             (long long)w.other_market);
    int64_t there = create(&w, w.alice, body);
    create(&w, w.bob, "{" NAME "," PHONE "," TEXT "," LAT "," LNG "}");
    json_t *items;
    ck_assert_int_eq(address_list(&w.db, w.alice, 0, &items), DB_OK);
    ck_assert_uint_eq(json_array_size(items), 3);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), any);
    ck_assert(json_is_null(json_object_get(json_array_get(items, 0), "market_id")));
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 2), "id")), there);
    json_decref(items);
    ck_assert_int_eq(address_list(&w.db, w.alice, w.market, &items), DB_OK);
    ck_assert_uint_eq(json_array_size(items), 2);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 0), "id")), any);
    ck_assert_int_eq(json_integer_value(json_object_get(json_array_get(items, 1), "id")), here);
    json_decref(items);
    ck_assert_int_eq(address_list(&w.db, w.bob, 0, &items), DB_OK);
    ck_assert_uint_eq(json_array_size(items), 1);
    json_decref(items);
    world_close(&w);
}
END_TEST

START_TEST(test_an_unknown_market_and_the_51st_address_are_refused_and_nothing_written)
{
    world_t w;
    world_open(&w, "cap");
    char body[512];
    address_input_t in;
    address_invalid_t bad;
    int64_t id = 0;
    snprintf(body, sizeof(body), "{" NAME "," PHONE "," TEXT "," LAT "," LNG ",\"market_id\":%lld}",
             (long long)w.other_market + 100);
    json_t *b = t_json_text(body);
    ck_assert_int_eq(address_parse(b, &in, &bad), 0);
    ck_assert_int_eq(address_create(&w.db, w.alice, &in, &id), SF_E_NO_MARKET);
    json_decref(b);
    ck_assert_int_eq(count_of(&w, w.alice), 0);
    for (int i = 0; i < ADDRESS_PER_USER; i++)
        create(&w, w.alice, "{" NAME "," PHONE "," TEXT "," LAT "," LNG "}");
    b = t_json_text("{" NAME "," PHONE "," TEXT "," LAT "," LNG "}");
    ck_assert_int_eq(address_parse(b, &in, &bad), 0);
    ck_assert_int_eq(address_create(&w.db, w.alice, &in, &id), SF_E_TOO_MANY_ADDRESSES);
    ck_assert_int_eq(count_of(&w, w.alice), ADDRESS_PER_USER);
    /* the cap is each consumer's own */
    ck_assert_int_eq(address_create(&w.db, w.bob, &in, &id), DB_OK);
    json_decref(b);
    json_t *items;
    ck_assert_int_eq(address_list(&w.db, w.alice, 0, &items), DB_OK);
    ck_assert_uint_eq(json_array_size(items), ADDRESS_PER_USER);
    json_decref(items);
    world_close(&w);
}
END_TEST

/* Concurrent writers of one consumer: each thread its own connection to the scratch db. */
typedef struct {
    const config_t *cfg;
    int64_t user;
    int ok, too_many, other;
} racer_t;

static void *race(void *arg)
{
    racer_t *r = arg;
    db_t db;
    address_input_t in = {.name = "王", .phone = "13800000000", .text = "大学路", .lat = 34.7, .lng = 113.6};
    db_thread_init();
    if (db_open(&db, r->cfg) != DB_OK) {
        r->other = 100;
        db_thread_end();
        return NULL;
    }
    for (int i = 0; i < 10; i++) {
        int64_t id;
        int rc = address_create(&db, r->user, &in, &id);
        if (rc == DB_OK)
            r->ok++;
        else if (rc == SF_E_TOO_MANY_ADDRESSES)
            r->too_many++;
        else if (rc != DB_DEADLOCK) /* a lost lock wait is retried by the client; not counted */
            r->other++;
    }
    db_close(&db);
    db_thread_end();
    return NULL;
}

START_TEST(test_concurrent_writers_never_pass_the_cap)
{
    world_t w;
    world_open(&w, "race");
    enum { N = 8 };
    pthread_t t[N];
    racer_t r[N];
    for (int i = 0; i < N; i++) {
        r[i] = (racer_t){.cfg = &w.cfg, .user = w.alice};
        ck_assert_int_eq(pthread_create(&t[i], NULL, race, &r[i]), 0);
    }
    int ok = 0, too_many = 0;
    for (int i = 0; i < N; i++) {
        pthread_join(t[i], NULL);
        ck_assert_int_eq(r[i].other, 0);
        ok += r[i].ok;
        too_many += r[i].too_many;
    }
    ck_assert_int_eq(ok, ADDRESS_PER_USER);
    ck_assert_int_ge(too_many, 1);
    ck_assert_int_eq(count_of(&w, w.alice), ADDRESS_PER_USER);
    world_close(&w);
}
END_TEST

static Suite *address_suite(void)
{
    Suite *s = suite_create("address");
    TCase *tc = tcase_create("address");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_an_address_is_read_field_by_field);
    tcase_add_loop_test(tc, test_a_bad_address_names_its_field, 0, (int)(sizeof(bad_bodies) / sizeof(bad_bodies[0])));
    tcase_add_test(tc, test_a_text_of_255_characters_passes_and_256_do_not);
    tcase_add_test(tc, test_distances_are_great_circle_metres);
    tcase_add_test(tc, test_an_address_is_stored_and_read_back_exactly_by_its_consumer_only);
    tcase_add_test(tc, test_the_list_filtered_by_market_keeps_the_addresses_usable_there);
    tcase_add_test(tc, test_an_unknown_market_and_the_51st_address_are_refused_and_nothing_written);
    tcase_add_test(tc, test_concurrent_writers_never_pass_the_cap);
    suite_add_tcase(s, tc);
    return s;
}

int main(void)
{
    if (!t_env_present(t_db_env, "test_address"))
        return EXIT_FAILURE;
    snprintf(run_prefix, sizeof(run_prefix), "sf_taddr_%d", (int)getpid());
    db_library_init();
    int failed = t_run(address_suite(), 0);
    t_db_sweep(run_prefix);
    db_thread_end();
    db_library_end();
    return failed == 0 ? EXIT_SUCCESS : EXIT_FAILURE;
}
