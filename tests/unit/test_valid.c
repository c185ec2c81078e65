/* The validation kit (server/http/valid.c): the same input is refused the same way everywhere. */
#include <check.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/cursor.h"
#include "server/http/valid.h"
#include "tests/support/testutil.h"

START_TEST(test_ids_are_json_integers_a_client_can_hold)
{
    static const struct {
        const char *json;
        int rc;
        const char *reason;
    } cases[] = {
        {"{\"id\": 1}", 1, NULL},
        {"{\"id\": 9007199254740992}", 1, NULL},
        {"{\"id\": 9007199254740993}", -1, "must be a positive id"},
        {"{\"id\": 0}", -1, "must be a positive id"},
        {"{\"id\": -5}", -1, "must be a positive id"},
        {"{\"id\": 1.0}", -1, "must be an integer"},
        {"{\"id\": \"7\"}", -1, "must be an integer"},
        {"{\"id\": null}", -1, "must be an integer"},
        {"{}", -1, "is required"},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        json_t *b = t_json_text(cases[i].json);
        status_detail_t d = {0};
        int64_t v = 0;
        int rc = valid_id(b, "id", NULL, 1, &v, &d);
        ck_assert_msg(rc == cases[i].rc, "%s: %d", cases[i].json, rc);
        if (rc < 0) {
            ck_assert_str_eq(d.field, "id");
            ck_assert_str_eq(d.reason, cases[i].reason);
        }
        json_decref(b);
    }
    json_t *b = t_json_text("{}");
    int64_t v = 42;
    ck_assert_int_eq(valid_id(b, "id", NULL, 0, &v, NULL), 0); /* absent and optional */
    ck_assert_int_eq(v, 42);
    json_decref(b);
}
END_TEST

START_TEST(test_text_is_measured_in_characters_and_refuses_control_characters)
{
    static const valid_text_t name = {1, 4, NULL, NULL, 1};
    static const valid_text_t code = {1, 8, valid_c_code, "A-Z and 0-9", 0};
    static const struct {
        const char *text;
        const valid_text_t *spec;
        const char *reason; /* NULL: accepted */
    } cases[] = {
        {"西红柿", &name, NULL},
        {"西红柿鸡蛋", &name, "must be 1 to 4 characters"},
        {"", &name, "must not be empty"},
        {" ab", &name, "must not start or end with a space"},
        {"a\tb", &name, "must not contain control characters"},
        {"a\xc2\x85", &name, "must not contain control characters"}, /* U+0085, a C1 control */
        {"AB12", &code, NULL},
        {"ab12", &code, "may hold only A-Z and 0-9"},
        {"西", &code, "may hold only A-Z and 0-9"},
    };
    char why[96];
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        const char *got = valid_check_text(cases[i].text, cases[i].spec, why, sizeof(why));
        if (cases[i].reason == NULL)
            ck_assert_msg(got == NULL, "'%s' refused: %s", cases[i].text, got);
        else
            ck_assert_msg(got != NULL && strcmp(got, cases[i].reason) == 0, "'%s': %s", cases[i].text,
                          got != NULL ? got : "accepted");
    }
}
END_TEST

START_TEST(test_money_is_whole_fen_in_range)
{
    json_t *b = t_json_text("{\"a\": 1500, \"b\": 15.5, \"c\": -1, \"d\": 10000001, \"e\": \"15\"}");
    status_detail_t d = {0};
    int64_t fen = 0;
    ck_assert_int_eq(valid_money(b, "a", NULL, 1, 0, 10000000, &fen, &d), 1);
    ck_assert_int_eq(fen, 1500);
    ck_assert_int_eq(valid_money(b, "b", NULL, 1, 0, 10000000, &fen, &d), -1);
    ck_assert_str_eq(d.reason, "must be an integer number of fen");
    ck_assert_int_eq(valid_money(b, "c", NULL, 1, 0, 10000000, &fen, &d), -1);
    ck_assert_str_eq(d.reason, "must be from 0 to 10000000");
    ck_assert_int_eq(valid_money(b, "d", "pricing.price_fen", 1, 0, 10000000, &fen, &d), -1);
    ck_assert_str_eq(d.field, "pricing.price_fen");
    ck_assert_int_eq(valid_money(b, "e", NULL, 1, 0, 10000000, &fen, &d), -1);
    json_decref(b);
}
END_TEST

START_TEST(test_enumerations_dates_and_unknown_keys)
{
    static const char *const modes[] = {"per_weight", "per_item", NULL};
    static const char *const keys[] = {"mode", "day", NULL};
    json_t *b = t_json_text("{\"mode\": \"per_item\", \"day\": \"2024-02-29\", \"bad\": \"2023-02-29\"}");
    status_detail_t d = {0};
    int idx = -1;
    const char *s;
    int64_t days;
    ck_assert_int_eq(valid_enum(b, "mode", NULL, 1, modes, &idx, &d), 1);
    ck_assert_int_eq(idx, 1);
    ck_assert_int_eq(valid_enum(b, "day", NULL, 1, modes, &idx, &d), -1);
    ck_assert_str_eq(d.reason, "must be one of per_weight, per_item");
    ck_assert_int_eq(valid_date(b, "day", NULL, 1, &s, &days, &d), 1);
    ck_assert_int_eq(days, 19782); /* 2024-02-29 */
    ck_assert_int_eq(valid_date(b, "bad", NULL, 1, &s, &days, &d), -1);
    ck_assert_int_eq(valid_only_keys(b, keys, "", &d), -1);
    ck_assert_str_eq(d.field, "bad");
    ck_assert_str_eq(d.reason, "is not a field of this request");
    json_decref(b);
}
END_TEST

START_TEST(test_id_arrays_are_distinct_ids_within_their_bounds)
{
    struct {
        const char *json;
        size_t min, max;
        const char *field; /* NULL: accepted */
    } v[] = {
        {"[3, 1, 2]", 1, 4, NULL},
        {"[]", 0, 4, NULL},
        {"[]", 1, 4, "ids"},
        {"[1, 2, 3, 4, 5]", 1, 4, "ids"},
        {"{}", 0, 4, "ids"},
        {"[1, \"2\"]", 0, 4, "ids[1]"},
        {"[1, 0]", 0, 4, "ids[1]"},
        {"[-5]", 0, 4, "ids[0]"},
        {"[1.5]", 0, 4, "ids[0]"},
        {"[7, 8, 7]", 0, 4, "ids[2]"},
        {"[9007199254740993]", 0, 4, "ids[0]"},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        json_t *a = json_loads(v[i].json, JSON_DECODE_ANY, NULL);
        int64_t ids[4] = {0};
        size_t n = 99;
        status_detail_t d = {0};
        ck_assert_ptr_nonnull(a);
        int rc = valid_id_array(a, "ids", "thing id", v[i].min, v[i].max, ids, &n, &d);
        if (v[i].field == NULL) {
            ck_assert_msg(rc == 0, "%s refused: %s %s", v[i].json, d.field, d.reason);
            ck_assert_uint_eq(n, json_array_size(a));
        } else {
            ck_assert_msg(rc == -1, "%s accepted", v[i].json);
            ck_assert_str_eq(d.field, v[i].field);
        }
        status_detail_clear(&d);
        json_decref(a);
    }
}
END_TEST

static api_req_t req_with(const char *query)
{
    api_req_t r = {0};
    r.query = (char *)query;
    return r;
}

START_TEST(test_query_ids_cursors_and_limits)
{
    status_detail_t d = {0};
    int64_t id = 0, key = 0;
    size_t limit = 0;
    api_req_t r = req_with("market_id=12&bad=012&limit=50&big=1000");
    ck_assert_int_eq(valid_query_id(&r, "market_id", &id, &d), 1);
    ck_assert_int_eq(id, 12);
    ck_assert_int_eq(valid_query_id(&r, "bad", &id, &d), -1);
    ck_assert_int_eq(valid_query_id(&r, "absent", &id, &d), 0);
    ck_assert_int_eq(valid_query_limit(&r, 20, 100, &limit, &d), 0);
    ck_assert_uint_eq(limit, 50);
    r = req_with("limit=1000");
    ck_assert_int_eq(valid_query_limit(&r, 20, 100, &limit, &d), -1);
    ck_assert_str_eq(d.reason, "must be an integer from 1 to 100");
    /* a cursor of one list is refused by another */
    char cur[CURSOR_MAX], q[CURSOR_MAX + 8];
    ck_assert_int_eq(cursor_encode('o', 0, 77, cur, sizeof(cur)), 0);
    snprintf(q, sizeof(q), "cursor=%s", cur);
    r = req_with(q);
    ck_assert_int_eq(valid_query_cursor(&r, 'o', &key, &id, &d), 1);
    ck_assert_int_eq(id, 77);
    ck_assert_int_eq(valid_query_cursor(&r, 'p', &key, &id, &d), -1);
    ck_assert_str_eq(d.reason, "is not a cursor of this list");
    r = req_with("cursor=%%%");
    ck_assert_int_eq(valid_query_cursor(&r, 'o', &key, &id, &d), -1);
}
END_TEST

START_TEST(test_a_page_query_reads_filter_limit_and_cursor_or_names_the_one_at_fault)
{
    static const char *const statuses[] = {"open", "resolved", NULL};
    status_detail_t d = {0};
    valid_page_t pg;
    char cur[CURSOR_MAX], q[CURSOR_MAX + 64];
    /* nothing given: no filter, the default limit, no cursor */
    api_req_t r = req_with("");
    ck_assert_int_eq(valid_query_page(&r, "status", statuses, 20, 100, 'c', &pg, &d), SF_OK);
    ck_assert_int_eq(pg.filter, -1);
    ck_assert_uint_eq(pg.limit, 20);
    ck_assert(pg.after_key == 0 && pg.after_id == 0);
    /* all three */
    ck_assert_int_eq(cursor_encode('c', 5, 77, cur, sizeof(cur)), 0);
    snprintf(q, sizeof(q), "status=resolved&limit=7&cursor=%s", cur);
    r = req_with(q);
    ck_assert_int_eq(valid_query_page(&r, "status", statuses, 20, 100, 'c', &pg, &d), SF_OK);
    ck_assert_int_eq(pg.filter, 1);
    ck_assert_uint_eq(pg.limit, 7);
    ck_assert(pg.after_key == 5 && pg.after_id == 77);
    /* each one wrong, named */
    r = req_with("status=closed");
    ck_assert_int_eq(valid_query_page(&r, "status", statuses, 20, 100, 'c', &pg, &d), SF_E_INVALID);
    ck_assert_str_eq(d.field, "status");
    r = req_with("limit=0");
    ck_assert_int_eq(valid_query_page(&r, "status", statuses, 20, 100, 'c', &pg, &d), SF_E_INVALID);
    ck_assert_str_eq(d.field, "limit");
    r = req_with(q);
    ck_assert_int_eq(valid_query_page(&r, "status", statuses, 20, 100, 'x', &pg, &d), SF_E_INVALID);
    ck_assert_str_eq(d.field, "cursor");
    /* a list without a filter ignores ?status= like any unknown parameter */
    r = req_with("status=closed");
    ck_assert_int_eq(valid_query_page(&r, NULL, NULL, 20, 100, 'c', &pg, &d), SF_OK);
    ck_assert_int_eq(pg.filter, -1);
}
END_TEST

START_TEST(test_cursors_round_trip_and_refuse_forgeries)
{
    char cur[CURSOR_MAX];
    int64_t key, id;
    ck_assert_int_eq(cursor_encode('p', 999999999999999999LL, 42, cur, sizeof(cur)), 0);
    ck_assert_int_eq(cursor_decode(cur, 'p', &key, &id), 0);
    ck_assert_int_eq(key, 999999999999999999LL);
    ck_assert_int_eq(id, 42);
    ck_assert_int_eq(cursor_decode("cDowOjA", 'p', &key, &id), -1);  /* "p:0:0": id 0 */
    ck_assert_int_eq(cursor_decode("cDowMTox", 'p', &key, &id), -1); /* "p:01:1": a leading zero */
    ck_assert_int_eq(cursor_decode("", 'p', &key, &id), -1);
}
END_TEST

START_TEST(test_dates_are_real_calendar_dates)
{
    static const char *const good[] = {"2024-02-29", "2026-12-31", "1000-01-01", "9999-12-31"};
    static const char *const bad[] = {"2023-02-29", "2026-13-01", "2026-00-10",  "2026-01-32", "2026-1-01",
                                      "26-01-01",   "2026/01/01", "2026-01-01x", "",           "0999-12-31"};
    for (size_t i = 0; i < sizeof(good) / sizeof(good[0]); i++)
        ck_assert_msg(valid_parse_date(good[i], NULL) == 0, "refused %s", good[i]);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        ck_assert_msg(valid_parse_date(bad[i], NULL) == -1, "accepted %s", bad[i]);
}
END_TEST

START_TEST(test_limits_are_plain_decimals_in_range)
{
    static const char *const bad[] = {"limit=0",   "limit=101",   "limit=-1",  "limit=",
                                      "limit=1e2", "limit=20%20", "limit=abc", "limit=9999999999999999999"};
    status_detail_t d = {0};
    size_t limit = 0;
    api_req_t r = req_with("limit=100");
    ck_assert_int_eq(valid_query_limit(&r, 20, 100, &limit, &d), 0);
    ck_assert_uint_eq(limit, 100);
    r = req_with("");
    ck_assert_int_eq(valid_query_limit(&r, 20, 100, &limit, &d), 0);
    ck_assert_uint_eq(limit, 20);
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = req_with(bad[i]);
        ck_assert_msg(valid_query_limit(&r, 20, 100, &limit, &d) == -1, "accepted %s", bad[i]);
    }
}
END_TEST

START_TEST(test_search_terms_are_trimmed_and_checked)
{
    char out[50 * 4 + 1], q[1024];
    status_detail_t d = {0};
    api_req_t r = req_with("q=%20%20%E8%A5%BF%E7%BA%A2%E6%9F%BF%20");
    ck_assert_int_eq(valid_query_search(&r, "q", 50, out, sizeof(out), &d), 1);
    ck_assert_str_eq(out, "西红柿");
    static const char *const none[] = {"q=%20%20%20", "q=", "other=1"}; /* blank or absent: no filter */
    for (size_t i = 0; i < sizeof(none) / sizeof(none[0]); i++) {
        r = req_with(none[i]);
        ck_assert_msg(valid_query_search(&r, "q", 50, out, sizeof(out), &d) == 0, "%s", none[i]);
    }
    static const char *const bad[] = {"q=a%09b", "q=%FF%FE", "q=%E8%A5" /* truncated UTF-8 */, "q=%C2%85"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        r = req_with(bad[i]);
        ck_assert_msg(valid_query_search(&r, "q", 50, out, sizeof(out), &d) == -1, "accepted %s", bad[i]);
        ck_assert_str_eq(d.field, "q");
    }
    /* 50 characters pass, 51 do not */
    strcpy(q, "q=");
    for (int i = 0; i < 50; i++)
        strcat(q, "%E8%8F%9C"); /* 菜 */
    r = req_with(q);
    ck_assert_int_eq(valid_query_search(&r, "q", 50, out, sizeof(out), &d), 1);
    strcat(q, "%E8%8F%9C");
    r = req_with(q);
    ck_assert_int_eq(valid_query_search(&r, "q", 50, out, sizeof(out), &d), -1);
}
END_TEST

START_TEST(test_date_ranges_are_ordered_and_bounded)
{
    static const struct {
        const char *query;
        int need, max, rc;
        const char *field, *from, *to;
    } v[] = {
        {"from=2026-11-01&to=2026-11-30", 1, 30, 1, "", "2026-11-01", "2026-11-30"}, /* 30 days, both in */
        {"from=2026-11-01&to=2026-12-01", 1, 30, -1, "to", NULL, NULL},              /* 31 */
        {"from=2026-11-30&to=2026-11-30", 1, 1, 1, "", "2026-11-30", "2026-11-30"},  /* one day */
        {"from=2026-12-01&to=2026-11-30", 1, 92, -1, "from", NULL, NULL},            /* from after to */
        {"from=2026-11-31&to=2026-12-01", 1, 92, -1, "from", NULL, NULL},            /* no such day */
        {"from=2026-11-01&to=11/30/2026", 1, 92, -1, "to", NULL, NULL},
        {"to=2026-11-30", 1, 92, -1, "from", NULL, NULL}, /* required */
        {"from=2026-11-30", 1, 92, -1, "to", NULL, NULL},
        {"from=2024-02-28&to=2024-03-01", 0, 3, 1, "", "2024-02-28", "2024-03-01"}, /* leap day counted */
        {"from=2024-02-28&to=2024-03-01", 0, 2, -1, "to", NULL, NULL},
    };
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        status_detail_t d = {0};
        char from[11], to[11];
        api_req_t r = req_with(v[i].query);
        int rc = valid_query_range(&r, v[i].need, v[i].max, from, to, &d);
        ck_assert_msg(rc == v[i].rc, "%s: %d", v[i].query, rc);
        ck_assert_msg(strcmp(d.field, v[i].field) == 0, "%s: field %s", v[i].query, d.field);
        if (rc == 1) {
            ck_assert_str_eq(from, v[i].from);
            ck_assert_str_eq(to, v[i].to);
        }
    }
    /* not required: an absent one is today */
    status_detail_t d = {0};
    char from[11], to[11], today[11];
    valid_today(today, sizeof(today));
    api_req_t r = req_with("");
    ck_assert_int_eq(valid_query_range(&r, 0, 1, from, to, &d), 1);
    ck_assert_str_eq(from, today);
    ck_assert_str_eq(to, today);
    r = req_with("from=2000-01-01");
    ck_assert_int_eq(valid_query_range(&r, 0, 92, from, to, &d), -1);
    ck_assert_str_eq(d.field, "to");
}
END_TEST

int main(void)
{
    Suite *s = suite_create("valid");
    TCase *tc = tcase_create("valid");
    tcase_add_test(tc, test_ids_are_json_integers_a_client_can_hold);
    tcase_add_test(tc, test_text_is_measured_in_characters_and_refuses_control_characters);
    tcase_add_test(tc, test_money_is_whole_fen_in_range);
    tcase_add_test(tc, test_enumerations_dates_and_unknown_keys);
    tcase_add_test(tc, test_query_ids_cursors_and_limits);
    tcase_add_test(tc, test_a_page_query_reads_filter_limit_and_cursor_or_names_the_one_at_fault);
    tcase_add_test(tc, test_cursors_round_trip_and_refuse_forgeries);
    tcase_add_test(tc, test_dates_are_real_calendar_dates);
    tcase_add_test(tc, test_limits_are_plain_decimals_in_range);
    tcase_add_test(tc, test_search_terms_are_trimmed_and_checked);
    tcase_add_test(tc, test_date_ranges_are_ordered_and_bounded);
    tcase_add_test(tc, test_id_arrays_are_distinct_ids_within_their_bounds);
    suite_add_tcase(s, tc);
    return t_run(s, 0) == 0 ? 0 : 1;
}
