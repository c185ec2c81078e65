/*
 * models/platform.c against the test database: the lookup that verification runs is one
 * SQL statement (counted with the session's Com_stmt_execute), it unseals the current secret
 * and, only while its grace lasts, the previous one, says whether a market is granted and
 * whether the client is active; the key is matched byte for byte, and a sealed secret that
 * does not open is flagged, never an error; a rotation within the grace is refused unless it
 * revokes the previous secret; create refuses another market's grant; the profile is one
 * statement too.
 */
#include <check.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/platform.h"
#include "models/store/db.h"
#include "tests/support/dbtest.h"
#include "tests/support/fixture.h"
#include "tests/support/testutil.h"

static config_t cfg;
static db_t db;
static t_market_t m, other;

static void up(void)
{
    t_migrate();
    t_load_cfg(&cfg);
    db_thread_init();
    ck_assert_msg(db_open(&db, &cfg) == DB_OK, "%s", db.err);
    t_fixture_market(&m);
    t_fixture_market(&other);
}

static void down(void)
{
    db_close(&db);
    config_free(&cfg);
}

/* The session's count of executed prepared statements (this query counts itself). */
static int64_t executed(void)
{
    db_rows_t *rows = NULL;
    ck_assert_int_eq(db_query_row(&db, "SHOW SESSION STATUS LIKE 'Com_stmt_execute'", NULL, 0, &rows), DB_OK);
    int64_t n = strtoll(db_rows_str(rows, 1, NULL), NULL, 10);
    db_rows_free(rows);
    return n;
}

static void make(int64_t market, json_t **doc, char *key, char *secret, int64_t *id)
{
    int64_t ids[] = {market};
    platform_new_t in = {"测试平台", "district", ids, 1};
    status_detail_t d = {0};
    ck_assert_int_eq(platform_create(&db, market, 1, &in, doc, &d), SF_OK);
    snprintf(key, 32, "%s", json_string_value(json_object_get(*doc, "app_key")));
    snprintf(secret, 64, "%s", json_string_value(json_object_get(*doc, "secret")));
    *id = json_integer_value(json_object_get(*doc, "id"));
}

START_TEST(test_the_lookup_is_one_statement_and_unseals_what_it_may)
{
    json_t *doc = NULL;
    char key[32], secret[64];
    int64_t id = 0;
    platform_client_t c;
    make(m.market_id, &doc, key, secret, &id);
    json_decref(doc);
    ck_assert_int_eq(platform_lookup(&db, key, m.market_id, &c), SF_OK); /* the seal key is read once, here */
    int64_t before = executed();
    ck_assert_int_eq(platform_lookup(&db, key, m.market_id, &c), SF_OK);
    ck_assert_int_eq(executed() - before, 2); /* the lookup and the second count */
    ck_assert_int_eq(c.id, id);
    ck_assert(c.active && c.granted);
    ck_assert_str_eq(c.secret, secret);
    ck_assert_str_eq(c.prev_secret, "");
    ck_assert_int_eq(platform_lookup(&db, key, other.market_id, &c), SF_OK);
    ck_assert(!c.granted);
    ck_assert_int_eq(platform_lookup(&db, "pk_AAAAAAAAAAAAAAAAAAAAA", m.market_id, &c), SF_E_BAD_SIGNATURE);
    ck_assert_str_eq(c.secret, "");

    /* rotation: the previous secret while the grace lasts; a second rotation within it is
     * refused (it would cut the deployed secret off), unless it revokes the previous one */
    status_detail_t d = {0};
    ck_assert_int_eq(platform_rotate(&db, other.market_id, id, 60, 0, &doc, &d), SF_E_NOT_FOUND);
    status_detail_clear(&d);
    ck_assert_int_eq(platform_rotate(&db, m.market_id, id, 60, 0, &doc, &d), SF_OK);
    ck_assert(json_is_string(json_object_get(doc, "previous_valid_until")));
    char fresh[64];
    snprintf(fresh, sizeof(fresh), "%s", json_string_value(json_object_get(doc, "secret")));
    json_decref(doc);
    ck_assert_int_eq(platform_lookup(&db, key, m.market_id, &c), SF_OK);
    ck_assert_str_eq(c.secret, fresh);
    ck_assert_str_eq(c.prev_secret, secret);
    ck_assert_int_eq(platform_rotate(&db, m.market_id, id, 60, 0, &doc, &d), SF_E_CLIENT_STATE);
    ck_assert_ptr_null(doc);
    ck_assert_msg(strstr(d.reason, "valid until 20") != NULL && strstr(d.reason, "+08:00") != NULL, "%s", d.reason);
    status_detail_clear(&d);
    ck_assert_int_eq(platform_lookup(&db, key, m.market_id, &c), SF_OK); /* nothing changed */
    ck_assert_str_eq(c.secret, fresh);
    ck_assert_str_eq(c.prev_secret, secret);
    ck_assert_int_eq(platform_rotate(&db, m.market_id, id, 60, 1, &doc, &d), SF_OK);
    ck_assert(json_is_null(json_object_get(doc, "previous_valid_until")));
    char third[64];
    snprintf(third, sizeof(third), "%s", json_string_value(json_object_get(doc, "secret")));
    json_decref(doc);
    ck_assert_int_eq(platform_lookup(&db, key, m.market_id, &c), SF_OK);
    ck_assert_str_eq(c.prev_secret, ""); /* neither the first nor the second signs any more */
    ck_assert_str_eq(c.secret, third);
    ck_assert_str_ne(c.secret, fresh);
    /* with no previous secret valid, a rotation keeps today's grace again */
    ck_assert_int_eq(platform_rotate(&db, m.market_id, id, 0, 0, &doc, &d), SF_OK);
    json_decref(doc);
    ck_assert_int_eq(platform_lookup(&db, key, m.market_id, &c), SF_OK);
    ck_assert_str_eq(c.prev_secret, ""); /* a grace of 0 ends at once */
    ck_assert_str_ne(c.secret, third);

    /* disabled: found, not active; twice is a conflict; another market's is not found */
    ck_assert_int_eq(platform_set_status(&db, other.market_id, id, 0, &doc), SF_E_NOT_FOUND);
    ck_assert_int_eq(platform_set_status(&db, m.market_id, id, 0, &doc), SF_OK);
    json_decref(doc);
    ck_assert_int_eq(platform_set_status(&db, m.market_id, id, 0, &doc), SF_E_CLIENT_STATE);
    ck_assert_ptr_null(doc);
    ck_assert_int_eq(platform_lookup(&db, key, m.market_id, &c), SF_OK);
    ck_assert(!c.active);
    platform_client_cleanse(&c);
}
END_TEST

/* The key with the case of its first letter after "pk_" swapped. */
static void swap_case(const char *key, char *out)
{
    snprintf(out, 32, "%s", key);
    for (size_t i = 3; out[i] != '\0'; i++)
        if ((out[i] >= 'a' && out[i] <= 'z') || (out[i] >= 'A' && out[i] <= 'Z')) {
            out[i] ^= 0x20;
            return;
        }
    ck_abort_msg("no letter in %s", key);
}

START_TEST(test_a_key_in_another_case_is_unknown_and_a_secret_that_does_not_open_is_flagged)
{
    json_t *doc = NULL;
    char key[32], secret[64], other_case[32];
    int64_t id = 0;
    platform_client_t c;
    make(m.market_id, &doc, key, secret, &id);
    json_decref(doc);
    swap_case(key, other_case);
    ck_assert_int_eq(platform_lookup(&db, other_case, m.market_id, &c), SF_E_BAD_SIGNATURE);
    ck_assert_int_eq(platform_lookup(&db, key, m.market_id, &c), SF_OK);
    ck_assert(!c.unopened);
    ck_assert_str_eq(c.secret, secret);
    /* a changed byte of the sealed secret: found, flagged, and no secret comes out */
    ck_assert_int_eq(db_exec(&db,
                             "UPDATE platform_clients SET secret_sealed = INSERT(secret_sealed, 20, 1,"
                             " IF(SUBSTRING(secret_sealed, 20, 1) = 'A', 'B', 'A')) WHERE id = ?",
                             (db_param_t[]){DB_I64(id)}, 1, NULL, NULL),
                     DB_OK);
    ck_assert_int_eq(platform_lookup(&db, key, m.market_id, &c), SF_OK);
    ck_assert(c.unopened);
    ck_assert_int_eq(c.id, id);
    ck_assert_str_eq(c.secret, "");
    ck_assert_str_eq(c.prev_secret, "");
}
END_TEST

START_TEST(test_only_the_operators_market_may_be_granted)
{
    int64_t ids[] = {m.market_id, other.market_id};
    platform_new_t in = {"测试平台", "city", ids, 2};
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t before = t_db_i64(&db, "SELECT COUNT(*) FROM platform_clients", NULL, 0);
    ck_assert_int_eq(platform_create(&db, m.market_id, 1, &in, &doc, &d), SF_E_MARKET_NOT_GRANTED);
    ck_assert_str_eq(d.field, "market_ids[1]");
    status_detail_clear(&d);
    ids[1] = 999999999;
    ck_assert_int_eq(platform_create(&db, m.market_id, 1, &in, &doc, &d), SF_E_INVALID);
    ck_assert_str_eq(d.field, "market_ids[1]");
    status_detail_clear(&d);
    ck_assert_ptr_null(doc);
    ck_assert_int_eq(t_db_i64(&db, "SELECT COUNT(*) FROM platform_clients", NULL, 0), before);
}
END_TEST

START_TEST(test_the_profile_is_one_statement)
{
    json_t *doc = NULL;
    int64_t before = executed();
    ck_assert_int_eq(platform_market_profile(&db, m.market_id, &doc), SF_OK);
    ck_assert_int_eq(executed() - before, 2);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "id")), m.market_id);
    ck_assert_int_eq(json_integer_value(json_object_get(doc, "stall_count")), 0);
    json_decref(doc);
    ck_assert_int_eq(platform_market_profile(&db, 999999999, &doc), SF_E_NOT_FOUND);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("platform");
    TCase *tc = tcase_create("platform");
    tcase_add_checked_fixture(tc, up, down);
    tcase_add_test(tc, test_the_lookup_is_one_statement_and_unseals_what_it_may);
    tcase_add_test(tc, test_a_key_in_another_case_is_unknown_and_a_secret_that_does_not_open_is_flagged);
    tcase_add_test(tc, test_only_the_operators_market_may_be_granted);
    tcase_add_test(tc, test_the_profile_is_one_statement);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
