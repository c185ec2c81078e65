/*
 * End to end: `stallfront serve` serving the built web app under /app/ from http.web_root
 * (server/http/http.c, app_on_req), over HTTP/1.1, h2c and TLS h2. The web root is a
 * directory this test writes: index.html, a hashed script with its gzip sibling (made by
 * /bin/gzip -k -n), a stylesheet with a stand-in .br sibling, favicon.svg, and beside the
 * root a secret file no request may reach.
 *
 * The requests go through a libcurl helper of this file rather than t_request: HEAD needs
 * CURLOPT_NOBODY, traversal needs CURLOPT_PATH_AS_IS (else curl removes the dot segments
 * itself), and compressed bodies are compared both raw and decoded. /app answers are not
 * recorded for the openapi check anyway (tests/schema/check_openapi.py skips /app); the
 * API's answers here go through t_request and are.
 */
#include <check.h>
#include <curl/curl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include "tests/support/fixture.h"
#include "tests/support/testutil.h"

#define JS_NAME  "app-3f2a1b.js"
#define CSS_NAME "app-9c8d7e.css"
#define CSP                                                                                                            \
    "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; "           \
    "media-src 'self' data:; frame-ancestors 'none'; base-uri 'self'; form-action 'self'"
#define SECRET "top-secret-beside-the-web-root"

static tserver_t shared;
static int shared_exit = 0;
static char dir[512];  /* the test's directory: web root, secret, bad roots */
static char root[600]; /* <dir>/root */
static char js[8192];  /* the script's text */
static char index_html[] = "<!doctype html><html><head><title>stallfront</title>"
                           "<script type=\"module\" src=\"/app/assets/" JS_NAME "\"></script></head>"
                           "<body><div id=\"app\"></div></body></html>\n";

static const tproto_t protos[] = {T_HTTP1, T_H2C, T_H2TLS, T_H1TLS};
static const char *const proto_names[] = {"HTTP/1.1", "h2c", "TLS h2", "TLS HTTP/1.1"};
#define NPROTOS (sizeof(protos) / sizeof(protos[0]))

static void write_file(const char *path, const char *text, size_t len)
{
    FILE *f = fopen(path, "wb");
    ck_assert_msg(f != NULL, "cannot write %s", path);
    ck_assert_uint_eq(fwrite(text, 1, len, f), len);
    fclose(f);
}

/* The whole file, malloc'd, *len set. */
static char *read_file(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    ck_assert_msg(f != NULL, "cannot read %s", path);
    char *buf = malloc(1 << 20);
    *len = fread(buf, 1, 1 << 20, f);
    fclose(f);
    return buf;
}

static void make_web_root(void)
{
    snprintf(dir, sizeof(dir), "%s/webapp-%d", t_env("STALLFRONT_TEST_VAR"), (int)getpid());
    snprintf(root, sizeof(root), "%s/root", dir);
    ck_assert_int_eq(t_sh("rm -rf '%s' && mkdir -p '%s/assets' '%s/noindex'", dir, root, dir), 0);
    char path[800];
    snprintf(path, sizeof(path), "%s/index.html", root);
    write_file(path, index_html, strlen(index_html));
    size_t n = 0; /* repetitive enough that gzip shrinks it a lot */
    for (int i = 0; n + 80 < sizeof(js); i++)
        n += (size_t)snprintf(js + n, sizeof(js) - n, "export const line%d = 'stallfront dashboards';\n", i);
    snprintf(path, sizeof(path), "%s/assets/" JS_NAME, root);
    write_file(path, js, n);
    ck_assert_int_eq(t_sh("/bin/gzip -k -n '%s'", path), 0);
    snprintf(path, sizeof(path), "%s/assets/" CSS_NAME, root);
    write_file(path, "body{margin:0}\n", 15);
    snprintf(path, sizeof(path), "%s/assets/" CSS_NAME ".br", root); /* a stand-in: only its bytes are compared */
    write_file(path, "BROTLI-STAND-IN", 15);
    snprintf(path, sizeof(path), "%s/favicon.svg", root);
    write_file(path, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n", 43);
    snprintf(path, sizeof(path), "%s/secret.txt", dir);
    write_file(path, SECRET "\n", strlen(SECRET) + 1);
    snprintf(path, sizeof(path), "%s/noindex/readme.txt", dir);
    write_file(path, "no index here\n", 14);
}

static void shared_up(void)
{
    t_migrate(); /* the API's catalogue answers below read the schema */
    make_web_root();
    static char env_root[700];
    snprintf(env_root, sizeof(env_root), "STALLFRONT_HTTP_WEB_ROOT=%s", root);
    const char *env[] = {env_root, NULL};
    ck_assert_msg(tserver_start(&shared, env) == 0, "server did not start: see %s", shared.log_path);
}

static void shared_down(void)
{
    shared_exit = tserver_stop(&shared, SIGTERM);
}

/* ---- the request helper ---- */

enum { RAW = 0, HEAD = 1, AS_IS = 2, GUNZIP = 4 };

typedef struct {
    char *p;
    size_t len;
} buf_t;

static size_t on_data(char *ptr, size_t size, size_t n, void *ud)
{
    buf_t *b = ud;
    char *np = realloc(b->p, b->len + size * n + 1);
    if (np == NULL)
        return 0;
    memcpy(np + b->len, ptr, size * n);
    b->p = np;
    b->len += size * n;
    b->p[b->len] = '\0';
    return size * n;
}

static long curl_version_of(tproto_t proto)
{
    return proto == T_H2C     ? CURL_HTTP_VERSION_2_PRIOR_KNOWLEDGE
           : proto == T_H2TLS ? CURL_HTTP_VERSION_2TLS
                              : CURL_HTTP_VERSION_1_1;
}

/* One request to s; HEAD: CURLOPT_NOBODY; AS_IS: the path as written (dot segments too);
 * GUNZIP: curl asks for gzip and decodes the body. Fails the test without an answer. */
static void call_on(CURL *c, const tserver_t *s, tproto_t proto, const char *method, const char *path,
                    const char *const *headers, int flags, tresp_t *r)
{
    char url[1024];
    snprintf(url, sizeof(url), "%s%s", t_base(s, proto), path);
    memset(r, 0, sizeof(*r));
    buf_t b = {0}, h = {0};
    struct curl_slist *hl = NULL;
    for (size_t i = 0; headers != NULL && headers[i] != NULL; i++)
        hl = curl_slist_append(hl, headers[i]);
    curl_easy_setopt(c, CURLOPT_URL, url);
    if (flags & HEAD)
        curl_easy_setopt(c, CURLOPT_NOBODY, 1L);
    else
        curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, hl);
    curl_easy_setopt(c, CURLOPT_PATH_AS_IS, (flags & AS_IS) ? 1L : 0L);
    if (flags & GUNZIP)
        curl_easy_setopt(c, CURLOPT_ACCEPT_ENCODING, "gzip");
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &b);
    curl_easy_setopt(c, CURLOPT_HEADERFUNCTION, on_data);
    curl_easy_setopt(c, CURLOPT_HEADERDATA, &h);
    curl_easy_setopt(c, CURLOPT_TIMEOUT, 30L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    curl_easy_setopt(c, CURLOPT_HTTP_VERSION, curl_version_of(proto));
    CURLcode rc = curl_easy_perform(c);
    curl_slist_free_all(hl);
    r->body = b.p != NULL ? b.p : strdup("");
    r->len = b.len;
    r->headers = h.p != NULL ? h.p : strdup("");
    ck_assert_msg(rc == CURLE_OK, "%s %s: %s", method, url, curl_easy_strerror(rc));
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &r->status);
    curl_easy_getinfo(c, CURLINFO_HTTP_VERSION, &r->version);
}

static void call(const tserver_t *s, tproto_t proto, const char *method, const char *path, const char *const *headers,
                 int flags, tresp_t *r)
{
    CURL *c = curl_easy_init();
    ck_assert_ptr_nonnull(c);
    call_on(c, s, proto, method, path, headers, flags, r);
    curl_easy_cleanup(c);
}

static void get(tproto_t proto, const char *path, tresp_t *r)
{
    call(&shared, proto, "GET", path, NULL, RAW, r);
}

/* The header's value, "" when absent (so that comparisons fail with a message). */
static const char *hdr(const tresp_t *r, const char *name)
{
    static char buf[1024];
    return t_header(r, name, buf, sizeof(buf)) != NULL ? buf : "";
}

static int has_header(const tresp_t *r, const char *name)
{
    char buf[8];
    return t_header(r, name, buf, sizeof(buf)) != NULL;
}

static void assert_security_headers(const tresp_t *r, const char *what)
{
    ck_assert_msg(strcmp(hdr(r, "x-content-type-options"), "nosniff") == 0, "%s: x-content-type-options", what);
    ck_assert_msg(strcmp(hdr(r, "referrer-policy"), "no-referrer") == 0, "%s: referrer-policy", what);
    ck_assert_msg(strcmp(hdr(r, "x-frame-options"), "DENY") == 0, "%s: x-frame-options", what);
    ck_assert_msg(strcmp(hdr(r, "content-security-policy"), CSP) == 0, "%s: content-security-policy '%s'", what,
                  hdr(r, "content-security-policy"));
}

static void assert_index(const tresp_t *r, const char *what)
{
    ck_assert_msg(r->status == 200, "%s: status %ld", what, r->status);
    ck_assert_msg(r->len == strlen(index_html) && memcmp(r->body, index_html, r->len) == 0,
                  "%s: not index.html: %.200s", what, r->body);
    ck_assert_str_eq(hdr(r, "content-type"), "text/html; charset=utf-8");
    ck_assert_str_eq(hdr(r, "cache-control"), "no-cache");
    assert_security_headers(r, what);
}

/* The error shape with this code, the security headers, and no-store. */
static void assert_app_error(const tresp_t *r, long status, const char *code, const char *what)
{
    ck_assert_msg(r->status == status, "%s: status %ld, want %ld: %.200s", what, r->status, status, r->body);
    ck_assert_msg(t_is_error(r, code), "%s: not the error shape with %s: %.200s", what, code, r->body);
    ck_assert_str_eq(hdr(r, "content-type"), "application/json");
    ck_assert_str_eq(hdr(r, "cache-control"), "no-store");
    assert_security_headers(r, what);
}

/* ---- the shared server, web root set ---- */

START_TEST(test_index_is_served_with_security_headers_on_every_protocol)
{
    for (size_t i = 0; i < NPROTOS; i++) {
        tresp_t r;
        get(protos[i], "/app/", &r);
        assert_index(&r, proto_names[i]);
        ck_assert_int_eq(r.version,
                         protos[i] == T_H2C || protos[i] == T_H2TLS ? CURL_HTTP_VERSION_2_0 : CURL_HTTP_VERSION_1_1);
        ck_assert(has_header(&r, "etag"));
        ck_assert(has_header(&r, "last-modified"));
        ck_assert(has_header(&r, "x-request-id"));
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(test_asset_is_immutable_and_precompressed_when_the_client_takes_gzip)
{
    size_t gz_len;
    char path[800];
    snprintf(path, sizeof(path), "%s/assets/" JS_NAME ".gz", root);
    char *gz = read_file(path, &gz_len);
    const char *const gzip[] = {"Accept-Encoding: gzip", NULL};
    for (size_t i = 0; i < NPROTOS; i++) {
        tresp_t r;
        call(&shared, protos[i], "GET", "/app/assets/" JS_NAME, NULL, RAW, &r); /* curl asks for no encoding */
        ck_assert_int_eq(r.status, 200);
        ck_assert_msg(r.len == strlen(js) && memcmp(r.body, js, r.len) == 0, "%s: plain body differs", proto_names[i]);
        ck_assert(!has_header(&r, "content-encoding"));
        ck_assert_str_eq(hdr(&r, "vary"), "accept-encoding");
        ck_assert_str_eq(hdr(&r, "cache-control"), "public, max-age=31536000, immutable");
        ck_assert_str_eq(hdr(&r, "content-type"), "text/javascript; charset=utf-8");
        assert_security_headers(&r, proto_names[i]);
        t_resp_free(&r);

        call(&shared, protos[i], "GET", "/app/assets/" JS_NAME, gzip, RAW, &r); /* the bytes as sent */
        ck_assert_int_eq(r.status, 200);
        ck_assert_str_eq(hdr(&r, "content-encoding"), "gzip");
        ck_assert_str_eq(hdr(&r, "vary"), "accept-encoding");
        ck_assert_str_eq(hdr(&r, "content-type"), "text/javascript; charset=utf-8");
        ck_assert_msg(r.len == gz_len && memcmp(r.body, gz, gz_len) == 0,
                      "%s: not the .gz sibling (%zu bytes, want %zu)", proto_names[i], r.len, gz_len);
        ck_assert_uint_lt(r.len, strlen(js) / 4);
        t_resp_free(&r);

        call(&shared, protos[i], "GET", "/app/assets/" JS_NAME, NULL, GUNZIP, &r); /* decoded by curl */
        ck_assert_str_eq(hdr(&r, "content-encoding"), "gzip");
        ck_assert_msg(r.len == strlen(js) && memcmp(r.body, js, r.len) == 0, "%s: decoded body differs",
                      proto_names[i]);
        t_resp_free(&r);
    }
    free(gz);
    /* brotli first when both are taken and there is a .br; no gzip sibling: plain */
    const char *const both[] = {"Accept-Encoding: gzip, br", NULL};
    tresp_t r;
    call(&shared, T_H2C, "GET", "/app/assets/" CSS_NAME, both, RAW, &r);
    ck_assert_str_eq(hdr(&r, "content-encoding"), "br");
    ck_assert_int_eq(r.len, 15);
    ck_assert(memcmp(r.body, "BROTLI-STAND-IN", 15) == 0);
    ck_assert_str_eq(hdr(&r, "content-type"), "text/css; charset=utf-8");
    t_resp_free(&r);
    call(&shared, T_H2C, "GET", "/app/assets/" CSS_NAME, gzip, RAW, &r);
    ck_assert(!has_header(&r, "content-encoding"));
    ck_assert_int_eq(r.len, 15);
    ck_assert(memcmp(r.body, "body{margin:0}\n", 15) == 0);
    t_resp_free(&r);
}
END_TEST

START_TEST(test_the_apps_own_routes_get_index_html_and_top_level_files_are_files)
{
    static const char *const routes[] = {
        "/app/vendor",           "/app/courier",    "/app/centre", "/app/report?from=2026-12-01&to=2026-12-07",
        "/app/vendor/orders/12", "/app/index.html", "/app/?tab=1", "/app/no-such-file.txt"};
    for (size_t p = 0; p < NPROTOS; p += 1)
        for (size_t i = 0; i < sizeof(routes) / sizeof(routes[0]); i++) {
            tresp_t r;
            char what[256];
            snprintf(what, sizeof(what), "%s %s", proto_names[p], routes[i]);
            get(protos[p], routes[i], &r);
            assert_index(&r, what);
            t_resp_free(&r);
        }
    tresp_t r;
    get(T_H2TLS, "/app/favicon.svg", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "<svg xmlns=\"http://www.w3.org/2000/svg\"/>\n");
    ck_assert_str_eq(hdr(&r, "content-type"), "image/svg+xml");
    ck_assert_str_eq(hdr(&r, "cache-control"), "public, max-age=300");
    assert_security_headers(&r, "favicon");
    t_resp_free(&r);
}
END_TEST

START_TEST(test_a_missing_asset_is_404_in_the_error_shape_never_index_html)
{
    static const char *const paths[] = {"/app/assets/app-000000.js", "/app/assets/", "/app/assets/sub/x.js",
                                        "/app/assets/" JS_NAME "%00.png", "/app/assets/" JS_NAME "/x"};
    for (size_t p = 0; p < NPROTOS; p++)
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            tresp_t r;
            char what[256];
            snprintf(what, sizeof(what), "%s %s", proto_names[p], paths[i]);
            get(protos[p], paths[i], &r);
            assert_app_error(&r, 404, "not_found", what);
            ck_assert_ptr_null(strstr(r.body, "<!doctype"));
            t_resp_free(&r);
        }
}
END_TEST

START_TEST(test_path_traversal_never_reaches_outside_the_web_root)
{
    static const char *const paths[] = {
        "/app/../secret.txt",
        "/app/assets/../../secret.txt",
        "/app/assets/../../../secret.txt",
        "/app/%2e%2e/secret.txt",
        "/app/%2E%2E/secret.txt",
        "/app/assets/%2e%2e/%2e%2e/secret.txt",
        "/app/..%2fsecret.txt",
        "/app/..%2Fsecret.txt",
        "/app/assets/..%2f..%2fsecret.txt",
        "/app/%2e%2e%2fsecret.txt",
        "/app/assets/%2e%2e%2f%2e%2e%2fsecret.txt",
        "/app//../secret.txt",
        "/app/./../secret.txt",
        "/app/assets/..%5c..%5csecret.txt",
        "/app/%252e%252e/secret.txt",
        "/app/../../../../../../../../../etc/passwd",
        "/app/assets/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/%2e%2e/etc/passwd",
    };
    for (size_t p = 0; p < NPROTOS; p++)
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            tresp_t r;
            call(&shared, protos[p], "GET", paths[i], NULL, AS_IS, &r);
            ck_assert_msg(strstr(r.body, SECRET) == NULL && strstr(r.body, "root:") == NULL,
                          "%s %s reached a file outside the web root", proto_names[p], paths[i]);
            /* what climbs out of /app is the API's path, answered by its router; what stays
             * inside is a missing file or one of the app's routes */
            int api_404 = r.status == 404 && t_is_error(&r, "not_found");
            int index = r.status == 200 && r.len == strlen(index_html) && memcmp(r.body, index_html, r.len) == 0;
            ck_assert_msg(api_404 || index, "%s %s: %ld %.200s", proto_names[p], paths[i], r.status, r.body);
            t_resp_free(&r);
        }
    /* the proof that h2o normalised the path rather than us refusing it: a dot segment
     * that leaves /app lands on the API, one that stays inside lands on the app */
    tresp_t r;
    call(&shared, T_H2C, "GET", "/app/%2e%2e/healthz", NULL, AS_IS, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(r.body, "{\"status\":\"ok\"}");
    t_resp_free(&r);
    call(&shared, T_HTTP1, "GET", "/app/assets/%2e%2e/favicon.svg", NULL, AS_IS, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(hdr(&r, "content-type"), "image/svg+xml");
    t_resp_free(&r);
}
END_TEST

START_TEST(test_methods_other_than_get_and_head_are_405_with_allow)
{
    static const char *const methods[] = {"POST", "PUT", "DELETE", "PATCH", "OPTIONS"};
    static const char *const paths[] = {"/app/", "/app/assets/" JS_NAME, "/app/vendor", "/app"};
    const char *const json[] = {"Content-Type: application/json", NULL};
    for (size_t m = 0; m < sizeof(methods) / sizeof(methods[0]); m++)
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            tresp_t r;
            char what[256];
            snprintf(what, sizeof(what), "%s %s", methods[m], paths[i]);
            call(&shared, protos[(m + i) % NPROTOS], methods[m], paths[i], json, RAW, &r);
            assert_app_error(&r, 405, "method_not_allowed", what);
            ck_assert_str_eq(hdr(&r, "allow"), "GET, HEAD");
            json_t *doc = t_json(&r);
            ck_assert_str_eq(
                json_string_value(json_object_get(json_object_get(json_object_get(doc, "error"), "details"), "allow")),
                "GET, HEAD");
            json_decref(doc);
            t_resp_free(&r);
        }
}
END_TEST

START_TEST(test_head_answers_the_headers_of_get_without_a_body)
{
    for (size_t p = 0; p < NPROTOS; p++) {
        tresp_t r;
        call(&shared, protos[p], "HEAD", "/app/report?from=2026-12-01&to=2026-12-07", NULL, HEAD, &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(r.len, 0);
        ck_assert_int_eq(atol(hdr(&r, "content-length")), (long)strlen(index_html));
        ck_assert_str_eq(hdr(&r, "cache-control"), "no-cache");
        assert_security_headers(&r, proto_names[p]);
        t_resp_free(&r);
        call(&shared, protos[p], "HEAD", "/app/assets/" JS_NAME, NULL, HEAD, &r);
        ck_assert_int_eq(r.status, 200);
        ck_assert_int_eq(r.len, 0);
        ck_assert_int_eq(atol(hdr(&r, "content-length")), (long)strlen(js));
        t_resp_free(&r);
        call(&shared, protos[p], "HEAD", "/app/assets/app-000000.js", NULL, HEAD, &r);
        ck_assert_int_eq(r.status, 404);
        ck_assert_int_eq(r.len, 0);
        t_resp_free(&r);
    }
}
END_TEST

START_TEST(test_if_none_match_with_the_etag_is_304)
{
    static const char *const paths[] = {"/app/", "/app/vendor", "/app/assets/" JS_NAME, "/app/favicon.svg"};
    for (size_t p = 0; p < NPROTOS; p++)
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            tresp_t r;
            get(protos[p], paths[i], &r);
            ck_assert_int_eq(r.status, 200);
            char etag[1024], cc[1024], inm[1100];
            snprintf(etag, sizeof(etag), "%s", hdr(&r, "etag"));
            snprintf(cc, sizeof(cc), "%s", hdr(&r, "cache-control"));
            ck_assert_int_gt(strlen(etag), 2);
            t_resp_free(&r);
            snprintf(inm, sizeof(inm), "If-None-Match: %s", etag);
            const char *const h[] = {inm, NULL};
            call(&shared, protos[p], "GET", paths[i], h, RAW, &r);
            ck_assert_msg(r.status == 304, "%s %s: %ld", proto_names[p], paths[i], r.status);
            ck_assert_int_eq(r.len, 0);
            ck_assert_str_eq(hdr(&r, "etag"), etag);
            ck_assert_str_eq(hdr(&r, "cache-control"), cc);
            assert_security_headers(&r, paths[i]);
            t_resp_free(&r);
            const char *const other[] = {"If-None-Match: \"0-0\"", NULL};
            call(&shared, protos[p], "GET", paths[i], other, RAW, &r);
            ck_assert_int_eq(r.status, 200);
            t_resp_free(&r);
        }
}
END_TEST

START_TEST(test_app_without_the_slash_is_redirected_and_apple_is_not_the_app)
{
    for (size_t p = 0; p < NPROTOS; p++) {
        tresp_t r;
        get(protos[p], "/app", &r);
        ck_assert_int_eq(r.status, 301);
        ck_assert_str_eq(hdr(&r, "location"), "/app/");
        assert_security_headers(&r, "/app");
        t_resp_free(&r);
        get(protos[p], "/app?from=2026-12-01", &r);
        ck_assert_int_eq(r.status, 301);
        ck_assert_str_eq(hdr(&r, "location"), "/app/?from=2026-12-01");
        t_resp_free(&r);
    }
    tresp_t r; /* a path that only starts with the letters is the API's */
    char url[256];
    snprintf(url, sizeof(url), "%s/apple", shared.base);
    ck_assert_int_eq(t_request(T_H2C, "GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert(t_is_error(&r, "not_found"));
    ck_assert(!has_header(&r, "content-security-policy"));
    t_resp_free(&r);
}
END_TEST

START_TEST(test_the_api_is_unaffected)
{
    static const char *const paths[] = {"/healthz", "/v1/markets"};
    for (size_t p = 0; p < NPROTOS; p++)
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            char url[256];
            snprintf(url, sizeof(url), "%s%s", t_base(&shared, protos[p]), paths[i]);
            tresp_t r;
            ck_assert_int_eq(t_request(protos[p], "GET", url, NULL, NULL, 0, &r), 0);
            ck_assert_msg(r.status == 200, "%s %s: %ld %.200s", proto_names[p], paths[i], r.status, r.body);
            ck_assert_str_eq(hdr(&r, "content-type"), "application/json");
            ck_assert(!has_header(&r, "content-security-policy"));
            t_resp_free(&r);
        }
    char url[256];
    snprintf(url, sizeof(url), "%s/v1/app/", shared.base);
    tresp_t r;
    ck_assert_int_eq(t_request(T_HTTP1, "GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 404);
    ck_assert(t_is_error(&r, "not_found"));
    t_resp_free(&r);
}
END_TEST

/* The access-log line with this request id (polled: the log is flushed every 100 ms), or NULL. */
static json_t *log_line(const char *request_id)
{
    for (int i = 0; i < 50; i++) {
        FILE *f = fopen(shared.log_path, "r");
        char line[4096];
        while (f != NULL && fgets(line, sizeof(line), f) != NULL) {
            json_t *doc = json_loads(line, 0, NULL);
            const char *id = json_string_value(json_object_get(doc, "request_id"));
            if (id != NULL && strcmp(id, request_id) == 0) {
                fclose(f);
                return doc;
            }
            json_decref(doc);
        }
        if (f != NULL)
            fclose(f);
        t_sleep_ms(100);
    }
    return NULL;
}

/* The value of one Prometheus sample, or -1. */
static double sample(const char *text, const char *series)
{
    char want[512];
    snprintf(want, sizeof(want), "\n%s ", series);
    const char *p = strstr(text, want);
    return p != NULL ? strtod(p + strlen(want), NULL) : -1;
}

START_TEST(test_app_answers_are_in_the_access_log_and_the_metrics)
{
    const char *const ok[] = {"X-Request-Id: webapp-log-ok", NULL};
    const char *const missing[] = {"X-Request-Id: webapp-log-missing", NULL};
    tresp_t r;
    call(&shared, T_H2TLS, "GET", "/app/vendor?x=1", ok, RAW, &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_str_eq(hdr(&r, "x-request-id"), "webapp-log-ok");
    t_resp_free(&r);
    call(&shared, T_HTTP1, "GET", "/app/assets/app-000000.js", missing, RAW, &r);
    ck_assert_int_eq(r.status, 404);
    ck_assert_str_eq(hdr(&r, "x-request-id"), "webapp-log-missing");
    t_resp_free(&r);

    json_t *line = log_line("webapp-log-ok");
    ck_assert_msg(line != NULL, "no access-log line for webapp-log-ok in %s", shared.log_path);
    ck_assert_str_eq(json_string_value(json_object_get(line, "route")), "/app/*");
    ck_assert_str_eq(json_string_value(json_object_get(line, "method")), "GET");
    ck_assert_str_eq(json_string_value(json_object_get(line, "path")), "/app/vendor?x=1");
    ck_assert_str_eq(json_string_value(json_object_get(line, "protocol")), "HTTP/2");
    ck_assert_int_eq(json_integer_value(json_object_get(line, "status")), 200);
    ck_assert(json_is_integer(json_object_get(line, "duration_us")));
    json_decref(line);
    line = log_line("webapp-log-missing");
    ck_assert_msg(line != NULL, "no access-log line for webapp-log-missing");
    ck_assert_str_eq(json_string_value(json_object_get(line, "route")), "/app/*");
    ck_assert_int_eq(json_integer_value(json_object_get(line, "status")), 404);
    ck_assert_str_eq(json_string_value(json_object_get(line, "error")), "not_found");
    json_decref(line);

    get(T_HTTP1, "/app", &r); /* a 301 has its own series, not "other" */
    t_resp_free(&r);
    get(T_HTTP1, "/metrics", &r);
    ck_assert_int_eq(r.status, 200);
    ck_assert_double_ge(
        sample(r.body, "stallfront_http_requests_total{method=\"GET\",route=\"/app/*\",status=\"200\"}"), 1);
    ck_assert_double_ge(
        sample(r.body, "stallfront_http_requests_total{method=\"GET\",route=\"/app/*\",status=\"404\"}"), 1);
    ck_assert_double_ge(
        sample(r.body, "stallfront_http_requests_total{method=\"GET\",route=\"/app/*\",status=\"301\"}"), 1);
    ck_assert_double_ge(
        sample(r.body, "stallfront_http_request_duration_seconds_count{method=\"GET\",route=\"/app/*\"}"), 3);
    t_resp_free(&r);
}
END_TEST

/* ---- a server each ---- */

START_TEST(test_without_web_root_every_app_path_is_404_naming_the_setting)
{
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, NULL), 0);
    static const char *const paths[] = {"/app/", "/app/vendor", "/app/assets/" JS_NAME, "/app"};
    for (size_t p = 0; p < NPROTOS; p++)
        for (size_t i = 0; i < sizeof(paths) / sizeof(paths[0]); i++) {
            tresp_t r;
            call(&s, protos[p], "GET", paths[i], NULL, RAW, &r);
            assert_app_error(&r, 404, "not_found", paths[i]);
            ck_assert_ptr_nonnull(strstr(r.body, "http.web_root"));
            t_resp_free(&r);
        }
    tresp_t r;
    char url[256];
    snprintf(url, sizeof(url), "%s/healthz", s.base);
    ck_assert_int_eq(t_request(T_HTTP1, "GET", url, NULL, NULL, 0, &r), 0);
    ck_assert_int_eq(r.status, 200);
    t_resp_free(&r);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

START_TEST(test_a_web_root_that_is_not_the_built_app_stops_serve)
{
    char missing[700], noindex[700], file[700];
    snprintf(missing, sizeof(missing), "%s/no-such-dir", dir);
    snprintf(noindex, sizeof(noindex), "%s/noindex", dir);
    snprintf(file, sizeof(file), "%s/secret.txt", dir);
    const char *const bad[] = {missing, noindex, file};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char env_root[800];
        snprintf(env_root, sizeof(env_root), "STALLFRONT_HTTP_WEB_ROOT=%s", bad[i]);
        const char *env[] = {env_root, NULL};
        tserver_t s;
        int rc = tserver_start(&s, env);
        if (rc == 0)
            tserver_stop(&s, SIGKILL);
        ck_assert_msg(rc != 0, "serve started with http.web_root %s", bad[i]);
        size_t len;
        char *log = read_file(s.log_path, &len);
        char want[800];
        snprintf(want, sizeof(want), "http.web_root '%s'", bad[i]);
        ck_assert_msg(strstr(log, want) != NULL, "the log %s does not name %s", s.log_path, want);
        free(log);
    }
    /* and the exit status says so (timeout: a serve that started anyway ends the test) */
    int rc =
        t_sh("STALLFRONT_HTTP_WEB_ROOT='%s' STALLFRONT_HTTP_LISTEN=127.0.0.1:%d STALLFRONT_TLS_LISTEN=127.0.0.1:%d "
             "timeout 30 %s serve >%s/bad-root.log 2>&1",
             noindex, t_free_port(), t_free_port(), SF_BINARY, dir);
    ck_assert_int_eq(rc, 1);
}
END_TEST

START_TEST(test_the_connection_rate_bound_applies_to_the_app)
{
    char env_root[700];
    snprintf(env_root, sizeof(env_root), "STALLFRONT_HTTP_WEB_ROOT=%s", root);
    const char *env[] = {env_root, "STALLFRONT_HTTP_CONN_RPS=2", NULL};
    tserver_t s;
    ck_assert_int_eq(tserver_start(&s, env), 0);
    /* one keep-alive connection (one curl handle keeps it; HTTP/1.1: curl 7.88 fails to reuse
     * an h2c prior-knowledge connection, for the API's paths too), many requests: more than 2
     * in a second get 429; 40 requests cannot all fall in different seconds' first two */
    CURL *c = curl_easy_init();
    int limited = 0, served = 0;
    for (int i = 0; i < 40; i++) {
        tresp_t r;
        call_on(c, &s, T_HTTP1, "GET", "/app/assets/" JS_NAME, NULL, RAW, &r);
        if (r.status == 429) {
            assert_app_error(&r, 429, "rate_limited", "429");
            limited++;
        } else {
            ck_assert_int_eq(r.status, 200);
            served++;
        }
        t_resp_free(&r);
    }
    curl_easy_cleanup(c);
    ck_assert_int_gt(limited, 0);
    ck_assert_int_gt(served, 0);
    ck_assert_int_eq(tserver_stop(&s, SIGTERM), 0);
}
END_TEST

int main(void)
{
    curl_global_init(CURL_GLOBAL_ALL);
    Suite *su = suite_create("webapp");
    TCase *tc = tcase_create("served");
    tcase_add_unchecked_fixture(tc, shared_up, shared_down);
    tcase_set_timeout(tc, 60);
    tcase_add_test(tc, test_index_is_served_with_security_headers_on_every_protocol);
    tcase_add_test(tc, test_asset_is_immutable_and_precompressed_when_the_client_takes_gzip);
    tcase_add_test(tc, test_the_apps_own_routes_get_index_html_and_top_level_files_are_files);
    tcase_add_test(tc, test_a_missing_asset_is_404_in_the_error_shape_never_index_html);
    tcase_add_test(tc, test_path_traversal_never_reaches_outside_the_web_root);
    tcase_add_test(tc, test_methods_other_than_get_and_head_are_405_with_allow);
    tcase_add_test(tc, test_head_answers_the_headers_of_get_without_a_body);
    tcase_add_test(tc, test_if_none_match_with_the_etag_is_304);
    tcase_add_test(tc, test_app_without_the_slash_is_redirected_and_apple_is_not_the_app);
    tcase_add_test(tc, test_the_api_is_unaffected);
    tcase_add_test(tc, test_app_answers_are_in_the_access_log_and_the_metrics);
    tcase_add_test(tc, test_without_web_root_every_app_path_is_404_naming_the_setting);
    tcase_add_test(tc, test_a_web_root_that_is_not_the_built_app_stops_serve);
    tcase_add_test(tc, test_the_connection_rate_bound_applies_to_the_app);
    suite_add_tcase(su, tc);
    int failed = t_run(su, 0);
    curl_global_cleanup();
    if (shared_exit != 0) {
        fprintf(stderr, "the shared server exited with %d: see %s\n", shared_exit, shared.log_path);
        failed++;
    }
    return failed == 0 ? 0 : 1;
}
