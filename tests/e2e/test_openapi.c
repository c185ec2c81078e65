/*
 * docs/openapi.yaml stays true: every route the server registers is documented, every
 * documented operation is registered, and every documented path reaches a handler on the
 * running server (anything but the router's own "no such path" 404).
 *
 * The operations come from tests/schema/check_openapi.py, which parses the document with
 * a strict YAML parser (Debian's /usr/bin/python3 with python3-yaml), so what is compared
 * is what every other tool reads; that script also validates the document as OpenAPI 3.1
 * and the recorded answers against it (the schema/ tests in CMakeLists.txt).
 */
#include <check.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/config.h"
#include "handlers/handlers.h"
#include "tests/support/testutil.h"

#define MAX_OPS 512

typedef struct {
    char method[8]; /* upper case */
    char path[256];
} op_t;

static op_t ops[MAX_OPS];
static size_t nops;

/* Reads "METHOD /path" lines from the strict parse of docs/openapi.yaml. */
static void load_document(void)
{
    char cmd[1024], line[1024];
    snprintf(cmd, sizeof(cmd), "/usr/bin/python3 %s/tests/schema/check_openapi.py operations %s/docs/openapi.yaml",
             SF_SOURCE_DIR, SF_SOURCE_DIR);
    fflush(NULL);
    FILE *f = popen(cmd, "r");
    ck_assert_msg(f != NULL, "cannot run %s", cmd);
    nops = 0;
    while (fgets(line, sizeof(line), f) != NULL) {
        line[strcspn(line, "\r\n")] = '\0';
        char *sp = strchr(line, ' ');
        ck_assert_msg(sp != NULL && sp - line < (long)sizeof(ops[0].method), "unexpected line: %s", line);
        ck_assert_int_lt(nops, MAX_OPS);
        snprintf(ops[nops].method, sizeof(ops[nops].method), "%.*s", (int)(sp - line), line);
        snprintf(ops[nops].path, sizeof(ops[nops].path), "%s", sp + 1);
        nops++;
    }
    int st = pclose(f);
    ck_assert_msg(st == 0, "%s failed (%d): docs/openapi.yaml is not strict YAML, or python3-yaml is missing", cmd, st);
    ck_assert_msg(nops > 0, "no operations found under paths: in docs/openapi.yaml");
}

static int documented(const char *method, const char *path)
{
    for (size_t i = 0; i < nops; i++)
        if (strcmp(ops[i].method, method) == 0 && strcmp(ops[i].path, path) == 0)
            return 1;
    return 0;
}

START_TEST(test_every_registered_route_is_documented_and_every_documented_one_registered)
{
    config_t cfg;
    char err[256];
    ck_assert_int_eq(config_load(&cfg, NULL, err, sizeof(err)), 0);
    cfg.test_routes = 0; /* the /_test/ routes are not part of the API */
    router_t r;
    router_init(&r);
    ck_assert_int_eq(handlers_register_all(&r, &cfg), 0);
    load_document();
    for (size_t i = 0; i < r.n; i++)
        ck_assert_msg(documented(r.routes[i]->method, r.routes[i]->pattern), "%s %s is not in docs/openapi.yaml",
                      r.routes[i]->method, r.routes[i]->pattern);
    for (size_t i = 0; i < nops; i++) {
        int found = 0;
        for (size_t j = 0; j < r.n && !found; j++)
            found = strcmp(r.routes[j]->method, ops[i].method) == 0 && strcmp(r.routes[j]->pattern, ops[i].path) == 0;
        ck_assert_msg(found, "docs/openapi.yaml documents %s %s, which the server does not register", ops[i].method,
                      ops[i].path);
    }
    router_free(&r);
    config_free(&cfg);
}
END_TEST

/* "/v1/orders/{id}/cancel" → "/v1/orders/1/cancel" */
static void fill_params(const char *pattern, char *out, size_t outlen)
{
    size_t o = 0;
    for (const char *p = pattern; *p != '\0' && o + 2 < outlen; p++) {
        if (*p == '{') {
            out[o++] = '1';
            while (*p != '\0' && *p != '}')
                p++;
            if (*p == '\0')
                break;
            continue;
        }
        out[o++] = *p;
    }
    out[o] = '\0';
}

START_TEST(test_every_documented_path_reaches_a_handler)
{
    load_document();
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, NULL), 0);
    for (size_t i = 0; i < nops; i++) {
        char path[256], url[384];
        fill_params(ops[i].path, path, sizeof(path));
        snprintf(url, sizeof(url), "%s%s", s.base, path);
        const char *h[] = {"Content-Type: application/json", NULL};
        int has_body = strcmp(ops[i].method, "GET") != 0 && strcmp(ops[i].method, "DELETE") != 0;
        tresp_t r;
        ck_assert_int_eq(t_request(T_H2C, ops[i].method, url, h, has_body ? "{}" : NULL, has_body ? 2 : 0, &r), 0);
        json_t *doc = t_json(&r);
        const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
        int router_miss = (r.status == 404 && msg != NULL && strcmp(msg, "no such path") == 0) || r.status == 405;
        ck_assert_msg(!router_miss, "%s %s: the router found no handler (%ld)", ops[i].method, path, r.status);
        json_decref(doc);
        t_resp_free(&r);
    }
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

int main(void)
{
    Suite *su = suite_create("openapi");
    TCase *tc = tcase_create("document");
    tcase_set_timeout(tc, 120);
    tcase_add_test(tc, test_every_registered_route_is_documented_and_every_documented_one_registered);
    tcase_add_test(tc, test_every_documented_path_reaches_a_handler);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    return failed == 0 ? 0 : 1;
}
