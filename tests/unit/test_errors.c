/* Error mapping and the error shape; reply helpers, query and id parsing (server/api.c). */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/http/api.h"
#include "server/http/errors.h"
#include "server/http/valid.h"
#include "tests/support/testutil.h"

START_TEST(test_every_error_maps_to_its_status_and_code)
{
    static const struct {
        sf_status_t e;
        int status;
        const char *code;
    } want[] = {
        {SF_E_MALFORMED, 400, "malformed_request"},
        {SF_E_UNAUTHORIZED, 401, "unauthorized"},
        {SF_E_FORBIDDEN, 403, "forbidden"},
        {SF_E_NOT_FOUND, 404, "not_found"},
        {SF_E_METHOD, 405, "method_not_allowed"},
        {SF_E_CONFLICT, 409, "conflict"},
        {SF_E_TOO_LARGE, 413, "body_too_large"},
        {SF_E_MEDIA_TYPE, 415, "unsupported_media_type"},
        {SF_E_INVALID, 422, "invalid"},
        {SF_E_RATE_LIMITED, 429, "rate_limited"},
        {SF_E_INTERNAL, 500, "internal"},
        {SF_E_UNAVAILABLE, 503, "unavailable"},
        {SF_E_TIMEOUT, 504, "timeout"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        ck_assert_int_eq(error_status(want[i].e), want[i].status);
        ck_assert_str_eq(error_code(want[i].e), want[i].code);
        ck_assert_str_ne(error_reason(want[i].status), "Unknown");
    }
    ck_assert_int_eq(error_status((sf_status_t)999), 500);
    ck_assert_int_eq(error_status((sf_status_t)-3), 500);
    ck_assert_str_eq(error_code((sf_status_t)999), "internal");
}
END_TEST

START_TEST(test_error_renders_the_one_shape)
{
    size_t len = 0;
    json_t *d = json_pack("{s:i}", "line", 3);
    char *text = error_render(SF_E_CONFLICT, "out_of_stock", "short lines", d, &len);
    ck_assert_ptr_nonnull(text);
    ck_assert_int_eq(len, strlen(text));
    json_t *doc = json_loads(text, 0, NULL);
    ck_assert_ptr_nonnull(doc);
    json_t *err = json_object_get(doc, "error");
    ck_assert_str_eq(json_string_value(json_object_get(err, "code")), "out_of_stock");
    ck_assert_str_eq(json_string_value(json_object_get(err, "message")), "short lines");
    ck_assert_int_eq(json_integer_value(json_object_get(json_object_get(err, "details"), "line")), 3);
    ck_assert_int_eq(json_object_size(doc), 1);
    json_decref(doc);
    free(text);
    /* details are borrowed: still ours */
    ck_assert_int_eq(d->refcount, 1);
    json_decref(d);
    text = error_render(SF_E_NOT_FOUND, NULL, NULL, NULL, &len);
    ck_assert_str_eq(text, "{\"error\":{\"code\":\"not_found\",\"message\":\"no such resource\",\"details\":{}}}");
    free(text);
}
END_TEST

static api_req_t *new_req(const char *query)
{
    api_req_t *r = calloc(1, sizeof(*r));
    r->query = strdup(query);
    return r;
}

START_TEST(test_reply_helpers_set_status_body_and_retry_after)
{
    api_req_t *r = new_req("");
    api_reply_json(r, 201, json_pack("{s:I}", "id", (json_int_t)7));
    ck_assert_int_eq(r->status, 201);
    ck_assert_str_eq(r->out, "{\"id\":7}");
    ck_assert_str_eq(r->content_type, "application/json");
    /* the HTTP layer may replace a reply (a deadline overtaking the handler) without leaking it */
    api_req_reset_reply(r);
    api_reply_error(r, SF_E_UNAVAILABLE, "not_ready", "redis is not answering", json_pack("{s:s}", "redis", "down"));
    ck_assert_int_eq(r->status, 503);
    ck_assert_int_eq(r->retry_after, 1);
    ck_assert_str_eq(r->err_code, "not_ready");
    ck_assert_ptr_nonnull(strstr(r->out, "\"redis\":\"down\""));
    api_req_reset_reply(r);
    api_reply_json(r, 200, NULL); /* a failed document becomes a 500 in the error shape */
    ck_assert_int_eq(r->status, 500);
    ck_assert_ptr_nonnull(strstr(r->out, "\"code\":\"internal\""));
    api_req_reset_reply(r);
    api_reply_static(r, 200, "text/plain", "ok");
    ck_assert_int_eq(r->out_static, 1);
    api_req_free(r);
}
END_TEST

#ifndef NDEBUG
/* A handler replies once; a second reply is a path that forgot to stop (debug builds). */
START_TEST(test_a_second_reply_aborts_in_debug_builds)
{
    api_req_t *r = new_req("");
    api_reply_json(r, 200, json_object());
    api_reply_json(r, 200, json_object());
}
END_TEST
#endif

static const char *detail_of(const api_req_t *r, const char *key)
{
    json_t *doc = json_loads(r->out, 0, NULL);
    static char buf[256];
    json_t *v = json_object_get(json_object_get(json_object_get(doc, "error"), "details"), key);
    snprintf(buf, sizeof(buf), "%s", json_is_string(v) ? json_string_value(v) : json_is_integer(v) ? "(int)" : "");
    json_decref(doc);
    return buf;
}

START_TEST(test_an_outcome_replies_its_kind_reason_and_details)
{
    static const struct {
        sf_status_t s;
        int status;
        const char *code;
    } want[] = {
        {SF_E_OUT_OF_STOCK, 409, "out_of_stock"},
        {SF_E_EMPTY_CART, 422, "empty_cart"},
        {SF_E_NOT_PAYABLE, 409, "not_payable"},
        {SF_E_VENDOR_SUSPENDED, 403, "vendor_suspended"},
        {SF_E_DB_GONE, 503, "unavailable"},
        {SF_E_DEADLOCK, 503, "unavailable"},
        {SF_E_TOO_MANY_ATTEMPTS, 429, "too_many_attempts"},
        {SF_E_PROVIDER_CONFIG, 500, "internal"},
        {SF_E_TOO_MANY_STAFF, 409, "too_many_staff"},
        {SF_E_INVALID_CREDENTIALS, 401, "invalid_credentials"},
    };
    for (size_t i = 0; i < sizeof(want) / sizeof(want[0]); i++) {
        api_req_t *r = new_req("");
        r->cache_market = 3;
        api_reply_status(r, NULL, want[i].s, NULL);
        ck_assert_int_eq(r->status, want[i].status);
        ck_assert_str_eq(r->err_code, want[i].code);
        ck_assert_int_eq(r->cache_market, 0); /* a failure is never cached */
        ck_assert_int_eq(r->retry_after, want[i].status == 503 || want[i].status == 429);
        api_req_free(r);
    }
    /* an invalid value names its field and reason */
    status_detail_t d = {0};
    api_req_t *r = new_req("");
    api_reply_status(r, NULL, status_field(&d, SF_E_INVALID, "stall_id", "not one of your stalls"), &d);
    ck_assert_int_eq(r->status, 422);
    ck_assert_ptr_nonnull(strstr(r->out, "\"message\":\"stall_id: not one of your stalls\""));
    ck_assert_str_eq(detail_of(r, "field"), "stall_id");
    ck_assert_str_eq(detail_of(r, "reason"), "not one of your stalls");
    ck_assert_str_eq(d.field, ""); /* emptied */
    api_req_free(r);
    /* a plain invalid without a field is about the body as a whole: field "" */
    r = new_req("");
    api_reply_status(r, NULL, status_field(&d, SF_E_INVALID, NULL, "name at least one field to change"), &d);
    ck_assert_ptr_nonnull(strstr(r->out, "\"message\":\"name at least one field to change\""));
    ck_assert_str_eq(detail_of(r, "field"), "");
    ck_assert_str_eq(detail_of(r, "reason"), "name at least one field to change");
    api_req_free(r);
    /* a domain outcome with a field and details keeps both, with its own message */
    r = new_req("");
    status_field(&d, SF_E_STALL_TAKEN, "stall_ids", NULL);
    api_reply_status(r, NULL, status_details(&d, SF_E_STALL_TAKEN, json_pack("{s:i}", "stall_id", 7)), &d);
    ck_assert_int_eq(r->status, 409);
    ck_assert_str_eq(detail_of(r, "field"), "stall_ids");
    ck_assert_str_eq(detail_of(r, "stall_id"), "(int)");
    ck_assert_ptr_nonnull(strstr(r->out, "the stall already has a vendor"));
    ck_assert_ptr_null(d.details);
    api_req_free(r);
    /* an invalid-kind outcome with a field and no reason reads its own message as the reason */
    r = new_req("");
    api_reply_status(r, NULL, status_field(&d, SF_E_UNKNOWN_CATEGORY, "category", NULL), &d);
    ck_assert_ptr_nonnull(strstr(r->out, "category: no such category"));
    api_req_free(r);
}
END_TEST

START_TEST(test_query_parameters_are_found_and_decoded)
{
    api_req_t *r = new_req("limit=20&q=%E8%A5%BF%E7%BA%A2%E6%9F%BF&sort=price+asc&flag&empty=&cursor=a%2Fb");
    char buf[64];
    ck_assert_int_eq(api_query(r, "limit", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "20");
    ck_assert_int_eq(api_query(r, "q", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "西红柿");
    ck_assert_int_eq(api_query(r, "sort", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "price asc");
    ck_assert_int_eq(api_query(r, "flag", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "");
    ck_assert_int_eq(api_query(r, "empty", buf, sizeof(buf)), 1);
    ck_assert_int_eq(api_query(r, "cursor", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "a/b");
    ck_assert_int_eq(api_query(r, "lim", buf, sizeof(buf)), 0);
    ck_assert_int_eq(api_query(r, "missing", buf, sizeof(buf)), 0);
    ck_assert_int_eq(api_query(r, "q", buf, 4), -1); /* does not fit */
    api_req_free(r);
    r = new_req("a=%zz&b=%4&c=%00&d=%41");
    ck_assert_int_eq(api_query(r, "a", buf, sizeof(buf)), -1);
    ck_assert_int_eq(api_query(r, "b", buf, sizeof(buf)), -1);
    ck_assert_int_eq(api_query(r, "c", buf, sizeof(buf)), -1);
    ck_assert_int_eq(api_query(r, "d", buf, sizeof(buf)), 1);
    ck_assert_str_eq(buf, "A");
    api_req_free(r);
}
END_TEST

START_TEST(test_ids_are_positive_integers_a_client_can_hold)
{
    static const struct {
        const char *text;
        int ok;
        int64_t v;
    } cases[] = {
        {"1", 1, 1},
        {"42", 1, 42},
        {"9007199254740992", 1, 9007199254740992LL},
        {"9007199254740993", 0, 0},
        {"0", 0, 0},
        {"007", 0, 0},
        {"-1", 0, 0},
        {"1e3", 0, 0},
        {"", 0, 0},
        {"12a", 0, 0},
        {"99999999999999999999", 0, 0},
        {" 1", 0, 0},
    };
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        api_req_t r = {.nparams = 1};
        r.params[0] = (char *)cases[i].text;
        int64_t v = 0;
        int rc = valid_path_id(&r, 0, &v);
        ck_assert_msg((rc == 0) == cases[i].ok, "'%s'", cases[i].text);
        if (cases[i].ok)
            ck_assert_int_eq(v, cases[i].v);
    }
    api_req_t r = {.nparams = 0};
    int64_t v;
    ck_assert_int_eq(valid_path_id(&r, 0, &v), -1);
}
END_TEST

int main(void)
{
    Suite *s = suite_create("errors");
    TCase *tc = tcase_create("errors");
    tcase_add_test(tc, test_every_error_maps_to_its_status_and_code);
    tcase_add_test(tc, test_error_renders_the_one_shape);
    tcase_add_test(tc, test_reply_helpers_set_status_body_and_retry_after);
#ifndef NDEBUG
    tcase_add_test_raise_signal(tc, test_a_second_reply_aborts_in_debug_builds, SIGABRT);
#endif
    tcase_add_test(tc, test_an_outcome_replies_its_kind_reason_and_details);
    tcase_add_test(tc, test_query_parameters_are_found_and_decoded);
    tcase_add_test(tc, test_ids_are_positive_integers_a_client_can_hold);
    suite_add_tcase(s, tc);
    int failed = t_run(s, 0);
    return failed == 0 ? 0 : 1;
}
