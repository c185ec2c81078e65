/*
 * The market centre's routes (role operator), everything scoped to the operator's own
 * market (req->who.market_id): an id of another market is 404, never a change there.
 *   POST  /v1/admin/stalls               a stall, without a vendor
 *   POST  /v1/admin/vendors              a vendor, its licences, stalls and login, at once
 *   PATCH /v1/admin/vendors/{id}         change any of those but the login, and the status
 *   POST  /v1/admin/vendors/{id}/staff   a staff member with a health certificate
 *   POST  /v1/admin/couriers             a courier and its login
 *   PUT   /v1/admin/guide-prices         the day's guide prices, upserted
 *   POST  /v1/admin/notices              a notice
 *   GET   /v1/admin/alerts?date=         price anomalies against the day's guide prices
 *   GET   /v1/admin/vendors?status=&q=   the market's vendors, by id, a page at a time
 *   GET   /v1/admin/vendors/{id}         one vendor
 *   GET   /v1/admin/stalls               the market's stalls, a page at a time
 *   GET   /v1/admin/couriers             the market's couriers, a page at a time
 * Worker threads. Each handler validates the whole body first (first bad field → 422 with
 * details {field, reason}; unknown fields are refused too, so a typo never passes as "not
 * given"), then calls one model function, then bumps the catalogue version when the public
 * catalogue shows what changed. The body belongs to the request; the models borrow its
 * strings. Complaints, stats and platform clients are not here yet.
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include "server/http/api.h"
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/cachever.h"
#include "models/courier.h"
#include "models/base/b64.h"
#include "models/guide.h"
#include "models/product.h"
#include "models/vendor.h"

#define ID_MAX          9007199254740992LL /* 2^53: ids are JSON integers held as doubles */
#define MAP_MAX         100000             /* stall map coordinates, in the map's own units */
#define GUIDE_PRICE_MAX 10000000           /* fen, as a product's price (models/product.h) */
#define GUIDE_PER_G_MAX 100000             /* grams, as a product's per_g */
#define GUIDE_DAYS      366                /* a guide price is for a day within a year of today */
#define DATE_LEN        10                 /* YYYY-MM-DD */
#define LIST_DEFAULT    20                 /* ?limit= when absent */
#define CURSOR_MAX      32                 /* a cursor: base64url of an id in decimal */
#define Q_MAX           100                /* ?q= in code points, as a vendor's name */

/* The first thing wrong with a body. */
typedef struct bad {
    char field[64];
    char reason[96];
} bad_t;

static int fail(bad_t *bad, const char *field, const char *reason)
{
    snprintf(bad->field, sizeof(bad->field), "%s", field);
    snprintf(bad->reason, sizeof(bad->reason), "%s", reason);
    return -1;
}

/* ---------------------------------------------------------------- characters */

static int c_stall_no(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || c == '-';
}

static int c_phone(int c)
{
    return (c >= '0' && c <= '9') || c == '+' || c == '-';
}

static int c_licence_type(int c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

static int c_username(int c)
{
    return c_stall_no(c) || c == '_' || c == '.';
}

static int c_code(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

static int c_line(int c) /* one line of text: no control characters */
{
    return (unsigned char)c >= 0x20 && c != 0x7f;
}

static int c_text(int c) /* several lines */
{
    return c_line(c) || c == '\n' || c == '\r' || c == '\t';
}

/* Code points of a valid UTF-8 string (jansson only lets valid UTF-8 in). */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---------------------------------------------------------------- fields */

typedef struct strspec {
    size_t min, max;  /* code points */
    int (*ok)(int c); /* every byte; c_line and c_text let any non-ASCII character in */
    const char *what; /* the charset, for the reason */
} strspec_t;

static const strspec_t S_NAME = {1, 100, c_line, "no control characters"};
static const strspec_t S_NAME64 = {1, 64, c_line, "no control characters"};
static const strspec_t S_PHONE = {5, 20, c_phone, "digits, + and -"};
static const strspec_t S_SCOPE = {1, 500, c_text, "no control characters"};
static const strspec_t S_USERNAME = {3, 64, c_username, "A-Z, a-z, 0-9, _, . and -"};
static const strspec_t S_PASSWORD = {8, 128, NULL, NULL};
static const strspec_t S_STALL_NO = {1, 16, c_stall_no, "A-Z, a-z, 0-9 and -"};
static const strspec_t S_ZONE = {1, 32, c_line, "no control characters"};
static const strspec_t S_LIC_TYPE = {1, 32, c_licence_type, "a-z and _"};
static const strspec_t S_LIC_NUMBER = {1, 64, c_line, "printable characters"};
static const strspec_t S_CODE = {1, 16, c_code, "A-Z and 0-9"};
static const strspec_t S_TITLE = {1, 200, c_line, "no control characters"};
static const strspec_t S_BODY = {1, 10000, c_text, "no control characters but line breaks and tabs"};

static int chars_ok(const char *s, int (*ok)(int c))
{
    for (; ok != NULL && *s != '\0'; s++) {
        int c = (unsigned char)*s;
        if (c >= 0x80 && (ok == c_line || ok == c_text)) /* any non-ASCII character is text */
            continue;
        if (!ok(c)) /* the restricted sets are ASCII only */
            return 0;
    }
    return 1;
}

/* obj[key] as a string of spec. 1 with *out, 0 if absent (or JSON null when nullable is
 * not asked: then it is wrong), -1 if invalid. field names it in the error. */
static int get_str(const json_t *obj, const char *key, const char *field, const strspec_t *spec, const char **out,
                   bad_t *bad)
{
    char reason[96];
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return 0;
    if (!json_is_string(v))
        return fail(bad, field, "must be a string");
    const char *s = json_string_value(v);
    size_t n = utf8_len(s);
    if (n < spec->min || n > spec->max) {
        snprintf(reason, sizeof(reason), "must be %zu to %zu characters", spec->min, spec->max);
        return fail(bad, field, reason);
    }
    if (!chars_ok(s, spec->ok)) {
        snprintf(reason, sizeof(reason), "may hold only %s", spec->what);
        return fail(bad, field, reason);
    }
    *out = s;
    return 1;
}

/* The same for a field that must be there. 0 or -1. */
static int need_str(const json_t *obj, const char *key, const char *field, const strspec_t *spec, const char **out,
                    bad_t *bad)
{
    int rc = get_str(obj, key, field, spec, out, bad);
    return rc > 0 ? 0 : rc < 0 ? -1 : fail(bad, field, "is required");
}

/* A JSON integer (not a real, not a string) from min to max, required. 0 or -1. */
static int need_int(const json_t *obj, const char *key, const char *field, int64_t min, int64_t max, int64_t *out,
                    bad_t *bad)
{
    char reason[96];
    json_t *v = json_object_get(obj, key);
    if (v == NULL)
        return fail(bad, field, "is required");
    if (!json_is_integer(v))
        return fail(bad, field, "must be an integer");
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        snprintf(reason, sizeof(reason), "must be from %lld to %lld", (long long)min, (long long)max);
        return fail(bad, field, reason);
    }
    *out = i;
    return 0;
}

/* Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
static int64_t days_from_civil(int64_t y, int64_t m, int64_t d)
{
    y -= m <= 2;
    int64_t era = (y >= 0 ? y : y - 399) / 400;
    int64_t yoe = y - era * 400;
    int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
    int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    return era * 146097 + doe - 719468;
}

/* A real calendar date written YYYY-MM-DD (years 1000-9999, what a DATE column holds). 0
 * with *days, or -1. */
static int parse_date(const char *s, int64_t *days)
{
    static const int mdays[] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
    if (strlen(s) != DATE_LEN || s[4] != '-' || s[7] != '-')
        return -1;
    for (size_t i = 0; i < DATE_LEN; i++)
        if (i != 4 && i != 7 && (s[i] < '0' || s[i] > '9'))
            return -1;
    int y = (s[0] - '0') * 1000 + (s[1] - '0') * 100 + (s[2] - '0') * 10 + (s[3] - '0');
    int m = (s[5] - '0') * 10 + (s[6] - '0'), d = (s[8] - '0') * 10 + (s[9] - '0');
    int leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    if (y < 1000 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1] + (m == 2 && leap))
        return -1;
    *days = days_from_civil(y, m, d);
    return 0;
}

/* Today in the market's time (+08:00): days since 1970-01-01, and as YYYY-MM-DD. */
static int64_t today(char *buf, size_t len)
{
    time_t t = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (buf != NULL)
        strftime(buf, len, "%Y-%m-%d", &tm);
    return (int64_t)(t / 86400);
}

static int need_date(const json_t *obj, const char *key, const char *field, const char **out, int64_t *days, bad_t *bad)
{
    static const strspec_t spec = {DATE_LEN, DATE_LEN, NULL, NULL};
    if (need_str(obj, key, field, &spec, out, bad) != 0)
        return -1;
    return parse_date(*out, days) == 0 ? 0 : fail(bad, field, "must be a real date YYYY-MM-DD");
}

/* Refuses keys not in the NULL-ended list. prefix names the object ("" for the body). */
static int only_keys(const json_t *obj, const char *const *keys, const char *prefix, bad_t *bad)
{
    const char *key;
    json_t *v;
    char field[64];
    json_object_foreach((json_t *)obj, key, v)
    {
        size_t i = 0;
        while (keys[i] != NULL && strcmp(keys[i], key) != 0)
            i++;
        if (keys[i] == NULL) {
            snprintf(field, sizeof(field), "%s%.40s", prefix, key);
            return fail(bad, field, "is not a field of this request");
        }
    }
    return 0;
}

/* ---------------------------------------------------------------- model outcomes */

/* The models' *_E_BUSY and *_E_DB are DB_GONE and DB_ERR, so api_reply_db_failure() answers
 * them: 503 with Retry-After, and 500. */
_Static_assert((int)VENDOR_E_BUSY == (int)DB_GONE && (int)COURIER_E_BUSY == (int)DB_GONE &&
                   (int)GUIDE_E_BUSY == (int)DB_GONE,
               "busy is DB_GONE");
_Static_assert((int)VENDOR_E_DB == (int)DB_ERR && (int)COURIER_E_DB == (int)DB_ERR && (int)GUIDE_E_DB == (int)DB_ERR,
               "db is DB_ERR");

static void reply_vendor_rc(api_req_t *req, worker_t *w, int rc, int64_t bad_id)
{
    switch (rc) {
    case VENDOR_E_NOT_FOUND: api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such vendor in this market", NULL); break;
    case VENDOR_E_STALL_NO_TAKEN:
        api_reply_error(req, SF_E_CONFLICT, "stall_no_taken", "this market already has a stall with that number",
                        json_pack("{s:s}", "field", "stall_no"));
        break;
    case VENDOR_E_STALL_TAKEN:
        api_reply_error(req, SF_E_CONFLICT, "stall_taken", "the stall already has a vendor",
                        json_pack("{s:s, s:I}", "field", "stall_ids", "stall_id", (json_int_t)bad_id));
        break;
    case VENDOR_E_UNKNOWN_STALL:
        api_reply_error(req, SF_E_INVALID, "unknown_stall", "no such stall in this market",
                        json_pack("{s:s, s:I}", "field", "stall_ids", "stall_id", (json_int_t)bad_id));
        break;
    case VENDOR_E_USERNAME_TAKEN:
        api_reply_error(req, SF_E_CONFLICT, "username_taken", "that username is taken",
                        json_pack("{s:s}", "field", "username"));
        break;
    case VENDOR_E_STALL_HAS_PRODUCTS:
        api_reply_error(req, SF_E_CONFLICT, "stall_has_products", "the vendor still has products at that stall",
                        json_pack("{s:s, s:I}", "field", "stall_ids", "stall_id", (json_int_t)bad_id));
        break;
    case VENDOR_E_TOO_MANY_STAFF:
        api_reply_error(req, SF_E_CONFLICT, "too_many_staff", "the vendor has the most staff records allowed",
                        json_pack("{s:i}", "max", VENDOR_MAX_STAFF));
        break;
    default: api_reply_db_failure(req, &w->db, rc, NULL); break;
    }
}

/* The answer of a successful catalogue write: bump the market's version, then reply. */
static void reply_written(api_req_t *req, worker_t *w, int status, json_t *doc)
{
    uint64_t version;
    if (cachever_bump(&w->redis, req->who.market_id, &version) != 0)
        log_warn("operator: catalogue version of market %lld not bumped: %s", (long long)req->who.market_id,
                 w->redis.err);
    else
        api_cache_bumped(req, req->who.market_id, version);
    api_reply_json(req, status, doc);
}

/* ---------------------------------------------------------------- stalls */

static int parse_stall(const json_t *b, const char **no, const char **zone, int64_t *x, int64_t *y, bad_t *bad)
{
    static const char *const keys[] = {"stall_no", "zone", "map", NULL};
    static const char *const map_keys[] = {"x", "y", NULL};
    json_t *map = json_object_get(b, "map");
    if (only_keys(b, keys, "", bad) != 0 || need_str(b, "stall_no", "stall_no", &S_STALL_NO, no, bad) != 0 ||
        need_str(b, "zone", "zone", &S_ZONE, zone, bad) != 0)
        return -1;
    if (map == NULL)
        return fail(bad, "map", "is required");
    if (!json_is_object(map))
        return fail(bad, "map", "must be an object {x, y}");
    if (only_keys(map, map_keys, "map.", bad) != 0 || need_int(map, "x", "map.x", 0, MAP_MAX, x, bad) != 0 ||
        need_int(map, "y", "map.y", 0, MAP_MAX, y, bad) != 0)
        return -1;
    return 0;
}

static void stall_create(api_req_t *req, worker_t *w)
{
    bad_t bad;
    const char *no = NULL, *zone = NULL;
    int64_t x = 0, y = 0;
    json_t *doc = NULL;
    if (parse_stall(req->body, &no, &zone, &x, &y, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    int rc = vendor_stall_create(&w->db, req->who.market_id, no, zone, x, y, &doc);
    if (rc != VENDOR_OK) {
        reply_vendor_rc(req, w, rc, 0);
        return;
    }
    reply_written(req, w, 201, doc);
}

/* ---------------------------------------------------------------- vendors */

static int parse_stall_ids(const json_t *arr, vendor_input_t *in, bad_t *bad)
{
    char field[64], reason[64];
    size_t i;
    json_t *v;
    if (!json_is_array(arr))
        return fail(bad, "stall_ids", "must be an array of stall ids");
    if (json_array_size(arr) > VENDOR_MAX_STALLS) {
        snprintf(reason, sizeof(reason), "may list at most %d stalls", VENDOR_MAX_STALLS);
        return fail(bad, "stall_ids", reason);
    }
    json_array_foreach(arr, i, v)
    {
        snprintf(field, sizeof(field), "stall_ids[%zu]", i);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > ID_MAX)
            return fail(bad, field, "must be a stall id");
        for (size_t j = 0; j < i; j++)
            if (in->stall_ids[j] == json_integer_value(v))
                return fail(bad, field, "is listed twice");
        in->stall_ids[i] = json_integer_value(v);
    }
    in->nstalls = json_array_size(arr);
    in->has_stalls = 1;
    return 0;
}

static int parse_licence(const json_t *o, size_t i, vendor_licence_t *l, bad_t *bad)
{
    static const char *const keys[] = {"type", "number", "valid_until", NULL};
    char prefix[32], f1[48], f2[48], f3[48];
    int64_t days;
    snprintf(prefix, sizeof(prefix), "licences[%zu].", i);
    snprintf(f1, sizeof(f1), "%stype", prefix);
    snprintf(f2, sizeof(f2), "%snumber", prefix);
    snprintf(f3, sizeof(f3), "%svalid_until", prefix);
    if (!json_is_object(o))
        return fail(bad, prefix, "must be an object {type, number, valid_until}");
    if (only_keys(o, keys, prefix, bad) != 0 || need_str(o, "type", f1, &S_LIC_TYPE, &l->type, bad) != 0 ||
        need_str(o, "number", f2, &S_LIC_NUMBER, &l->number, bad) != 0 ||
        need_date(o, "valid_until", f3, &l->valid_until, &days, bad) != 0)
        return -1;
    return 0;
}

static int parse_licences(const json_t *arr, vendor_input_t *in, bad_t *bad)
{
    char reason[64];
    size_t i;
    json_t *v;
    if (!json_is_array(arr))
        return fail(bad, "licences", "must be an array of licences");
    if (json_array_size(arr) > VENDOR_MAX_LICENCES) {
        snprintf(reason, sizeof(reason), "may list at most %d licences", VENDOR_MAX_LICENCES);
        return fail(bad, "licences", reason);
    }
    json_array_foreach(arr, i, v)
    {
        if (parse_licence(v, i, &in->licences[i], bad) != 0)
            return -1;
    }
    in->nlicences = json_array_size(arr);
    in->has_licences = 1;
    return 0;
}

static int parse_credit_status(const json_t *b, vendor_input_t *in, bad_t *bad)
{
    static const strspec_t credit = {1, 1, NULL, NULL}, status = {1, 16, NULL, NULL};
    if (get_str(b, "credit_level", "credit_level", &credit, &in->credit_level, bad) < 0)
        return -1;
    if (in->credit_level != NULL && strchr("ABCD", in->credit_level[0]) == NULL)
        return fail(bad, "credit_level", "must be one of A, B, C, D");
    if (get_str(b, "status", "status", &status, &in->status, bad) < 0)
        return -1;
    if (in->status != NULL && strcmp(in->status, "active") != 0 && strcmp(in->status, "suspended") != 0 &&
        strcmp(in->status, "closed") != 0)
        return fail(bad, "status", "must be one of active, suspended, closed");
    return 0;
}

/* The fields a create and a change share; each may be absent here. */
static int parse_vendor_fields(const json_t *b, vendor_input_t *in, bad_t *bad)
{
    json_t *stalls = json_object_get(b, "stall_ids"), *lic = json_object_get(b, "licences");
    if (get_str(b, "name", "name", &S_NAME, &in->name, bad) < 0 ||
        get_str(b, "contact_phone", "contact_phone", &S_PHONE, &in->contact_phone, bad) < 0 ||
        get_str(b, "business_scope", "business_scope", &S_SCOPE, &in->business_scope, bad) < 0 ||
        parse_credit_status(b, in, bad) != 0)
        return -1;
    if (stalls != NULL && parse_stall_ids(stalls, in, bad) != 0)
        return -1;
    if (lic != NULL && parse_licences(lic, in, bad) != 0)
        return -1;
    return 0;
}

static int parse_vendor_new(const json_t *b, vendor_input_t *in, bad_t *bad)
{
    static const char *const keys[] = {"name",           "contact_phone", "stall_ids",
                                       "business_scope", "licences",      "credit_level",
                                       "username",       "password",      NULL};
    static const char *const required[] = {"name", "contact_phone", "business_scope", "credit_level", NULL};
    if (only_keys(b, keys, "", bad) != 0 || parse_vendor_fields(b, in, bad) != 0)
        return -1;
    for (size_t i = 0; required[i] != NULL; i++)
        if (json_object_get(b, required[i]) == NULL)
            return fail(bad, required[i], "is required");
    if (need_str(b, "username", "username", &S_USERNAME, &in->username, bad) != 0 ||
        need_str(b, "password", "password", &S_PASSWORD, &in->password, bad) != 0)
        return -1;
    return 0;
}

static void vendor_create_h(api_req_t *req, worker_t *w)
{
    bad_t bad;
    vendor_input_t in = {0};
    json_t *doc = NULL;
    int64_t bad_id = 0;
    if (parse_vendor_new(req->body, &in, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    int rc = vendor_create(&w->db, req->who.market_id, &in, &doc, &bad_id);
    if (rc != VENDOR_OK) {
        reply_vendor_rc(req, w, rc, bad_id);
        return;
    }
    reply_written(req, w, 201, doc);
}

static int parse_vendor_change(const json_t *b, vendor_input_t *in, bad_t *bad)
{
    static const char *const keys[] = {"name",     "contact_phone", "stall_ids", "business_scope",
                                       "licences", "credit_level",  "status",    NULL};
    if (json_object_get(b, "username") != NULL || json_object_get(b, "password") != NULL)
        return fail(bad, json_object_get(b, "username") != NULL ? "username" : "password", "cannot be changed here");
    if (only_keys(b, keys, "", bad) != 0 || parse_vendor_fields(b, in, bad) != 0)
        return -1;
    if (json_object_size(b) == 0)
        return fail(bad, "", "name at least one field to change");
    return 0;
}

static void vendor_update_h(api_req_t *req, worker_t *w)
{
    bad_t bad;
    vendor_input_t in = {0};
    json_t *doc = NULL;
    int64_t id = 0, bad_id = 0;
    if (api_param_id(req, 0, &id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such vendor in this market", NULL);
        return;
    }
    if (parse_vendor_change(req->body, &in, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    int rc = vendor_update(&w->db, req->who.market_id, id, &in, &doc, &bad_id);
    if (rc != VENDOR_OK) {
        reply_vendor_rc(req, w, rc, bad_id);
        return;
    }
    reply_written(req, w, 200, doc);
}

static void staff_add_h(api_req_t *req, worker_t *w)
{
    static const char *const keys[] = {"name", "certificate", "valid_until", NULL};
    bad_t bad;
    vendor_staff_new_t s = {0};
    json_t *doc = NULL;
    int64_t id = 0, days = 0;
    if (api_param_id(req, 0, &id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such vendor in this market", NULL);
        return;
    }
    if (only_keys(req->body, keys, "", &bad) != 0 ||
        need_str(req->body, "name", "name", &S_NAME64, &s.name, &bad) != 0 ||
        need_str(req->body, "certificate", "certificate", &S_LIC_NUMBER, &s.certificate, &bad) != 0 ||
        need_date(req->body, "valid_until", "valid_until", &s.valid_until, &days, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    int rc = vendor_staff_add(&w->db, req->who.market_id, id, &s, &doc);
    if (rc != VENDOR_OK) {
        reply_vendor_rc(req, w, rc, 0);
        return;
    }
    reply_written(req, w, 201, doc);
}

/* ---------------------------------------------------------------- couriers */

static void courier_create_h(api_req_t *req, worker_t *w)
{
    static const char *const keys[] = {"name", "phone", "username", "password", NULL};
    bad_t bad;
    courier_new_t c = {0};
    json_t *doc = NULL;
    const json_t *b = req->body;
    if (only_keys(b, keys, "", &bad) != 0 || need_str(b, "name", "name", &S_NAME64, &c.name, &bad) != 0 ||
        need_str(b, "phone", "phone", &S_PHONE, &c.phone, &bad) != 0 ||
        need_str(b, "username", "username", &S_USERNAME, &c.username, &bad) != 0 ||
        need_str(b, "password", "password", &S_PASSWORD, &c.password, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    int rc = courier_create(&w->db, req->who.market_id, &c, &doc);
    if (rc == COURIER_E_USERNAME_TAKEN)
        api_reply_error(req, SF_E_CONFLICT, "username_taken", "that username is taken",
                        json_pack("{s:s}", "field", "username"));
    else if (rc != COURIER_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        api_reply_json(req, 201, doc); /* couriers are not in the public catalogue */
}

/* ---------------------------------------------------------------- guide prices */

static int parse_guide_item(const json_t *o, size_t i, guide_item_t *it, bad_t *bad)
{
    static const char *const keys[] = {"commodity_code", "name", "price_fen", "per_g", NULL};
    char prefix[32], f1[56], f2[56], f3[56], f4[56];
    snprintf(prefix, sizeof(prefix), "items[%zu].", i);
    snprintf(f1, sizeof(f1), "%scommodity_code", prefix);
    snprintf(f2, sizeof(f2), "%sname", prefix);
    snprintf(f3, sizeof(f3), "%sprice_fen", prefix);
    snprintf(f4, sizeof(f4), "%sper_g", prefix);
    if (!json_is_object(o))
        return fail(bad, prefix, "must be an object {commodity_code, name, price_fen, per_g}");
    if (only_keys(o, keys, prefix, bad) != 0 ||
        need_str(o, "commodity_code", f1, &S_CODE, &it->commodity_code, bad) != 0 ||
        need_str(o, "name", f2, &S_NAME64, &it->name, bad) != 0 ||
        need_int(o, "price_fen", f3, 1, GUIDE_PRICE_MAX, &it->price_fen, bad) != 0 ||
        need_int(o, "per_g", f4, 1, GUIDE_PER_G_MAX, &it->per_g, bad) != 0)
        return -1;
    return 0;
}

/* 0 unless items[i] repeats an earlier commodity code (compared as the column does:
 * case-insensitively), -1 then. */
static int guide_item_repeated(const guide_item_t *items, size_t i, bad_t *bad)
{
    char field[56];
    for (size_t j = 0; j < i; j++)
        if (strcasecmp(items[j].commodity_code, items[i].commodity_code) == 0) {
            snprintf(field, sizeof(field), "items[%zu].commodity_code", i);
            return fail(bad, field, "is listed twice");
        }
    return 0;
}

static int parse_guide(const json_t *b, const char **date, guide_item_t *items, size_t *n, bad_t *bad)
{
    static const char *const keys[] = {"date", "items", NULL};
    json_t *arr = json_object_get(b, "items"), *v;
    int64_t days = 0, now = today(NULL, 0);
    size_t i;
    if (only_keys(b, keys, "", bad) != 0 || need_date(b, "date", "date", date, &days, bad) != 0)
        return -1;
    if (days < now - GUIDE_DAYS || days > now + GUIDE_DAYS)
        return fail(bad, "date", "must be within 366 days of today");
    if (arr == NULL)
        return fail(bad, "items", "is required");
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > GUIDE_MAX_ITEMS)
        return fail(bad, "items", "must be an array of 1 to 500 guide prices");
    json_array_foreach(arr, i, v)
    {
        if (parse_guide_item(v, i, &items[i], bad) != 0 || guide_item_repeated(items, i, bad) != 0)
            return -1;
    }
    *n = json_array_size(arr);
    return 0;
}

static void guide_put_h(api_req_t *req, worker_t *w)
{
    bad_t bad;
    const char *date = NULL;
    guide_item_t *items = calloc(GUIDE_MAX_ITEMS, sizeof(*items));
    size_t n = 0;
    json_t *doc = NULL;
    if (items == NULL) {
        api_reply_error(req, SF_E_INTERNAL, NULL, NULL, NULL);
        return;
    }
    if (parse_guide(req->body, &date, items, &n, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        goto out;
    }
    int rc = guide_put(&w->db, req->who.market_id, date, items, n, &doc);
    if (rc != GUIDE_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        reply_written(req, w, 200, doc);
out:
    free(items);
}

/* ---------------------------------------------------------------- notices and alerts */

static void notice_create_h(api_req_t *req, worker_t *w)
{
    static const char *const keys[] = {"title", "body", NULL};
    bad_t bad;
    const char *title = NULL, *body = NULL;
    json_t *doc = NULL;
    if (only_keys(req->body, keys, "", &bad) != 0 ||
        need_str(req->body, "title", "title", &S_TITLE, &title, &bad) != 0 ||
        need_str(req->body, "body", "body", &S_BODY, &body, &bad) != 0) {
        api_reply_invalid(req, bad.field, bad.reason);
        return;
    }
    int rc = guide_notice_create(&w->db, req->who.market_id, req->who.user_id, title, body, &doc);
    if (rc != GUIDE_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        reply_written(req, w, 201, doc);
}

static void alerts_h(api_req_t *req, worker_t *w)
{
    char date[DATE_LEN + 2];
    int64_t days;
    json_t *doc = NULL;
    int q = api_query(req, "date", date, sizeof(date));
    if (q == 0)
        today(date, sizeof(date));
    else if (q < 0 || parse_date(date, &days) != 0) {
        api_reply_invalid(req, "date", "must be a real date YYYY-MM-DD");
        return;
    }
    int rc = guide_alerts(&w->db, req->who.market_id, date, req->cfg->alerts_price_band_pct, &doc);
    if (rc != GUIDE_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        api_reply_json(req, 200, doc);
}

/* ---------------------------------------------------------------- lists */

/* A cursor: the base64url of the last id shown, in decimal. buf holds CURSOR_MAX + 1. */
static int cursor_encode(int64_t id, char *buf, size_t len)
{
    char dec[24];
    int n = snprintf(dec, sizeof(dec), "%lld", (long long)id);
    return b64url_encode((const unsigned char *)dec, (size_t)n, buf, len, NULL) == B64_OK ? 0 : -1;
}

/* 0 with *id, or -1 if s is not a cursor cursor_encode made. */
static int cursor_decode(const char *s, int64_t *id)
{
    unsigned char dec[24];
    size_t n = 0;
    int64_t v = 0;
    if (b64url_decode(s, strlen(s), dec, sizeof(dec) - 1, &n) != B64_OK || n < 1 || n > 16 || dec[0] == '0')
        return -1;
    for (size_t i = 0; i < n; i++) {
        if (dec[i] < '0' || dec[i] > '9')
            return -1;
        v = v * 10 + (dec[i] - '0');
    }
    if (v < 1 || v > ID_MAX)
        return -1;
    *id = v;
    return 0;
}

/* ?limit= and ?cursor=. 0, or -1 after replying 422. */
static int page_params(api_req_t *req, size_t *limit, int64_t *after_id)
{
    char buf[CURSOR_MAX + 1];
    *after_id = 0;
    if (api_query_limit(req, LIST_DEFAULT, VENDOR_LIST_MAX, limit) != 0)
        return -1;
    int rc = api_query(req, "cursor", buf, sizeof(buf));
    if (rc < 0 || (rc == 1 && cursor_decode(buf, after_id) != 0)) {
        api_reply_invalid(req, "cursor", "is not a cursor of this list");
        return -1;
    }
    return 0;
}

/* The page (items stolen), with the cursor of the next one when next_after is not 0. */
static void reply_page(api_req_t *req, json_t *items, int64_t next_after)
{
    char cursor[CURSOR_MAX + 1] = "";
    if (next_after != 0 && cursor_encode(next_after, cursor, sizeof(cursor)) != 0) {
        json_decref(items);
        api_reply_error(req, SF_E_INTERNAL, NULL, NULL, NULL);
        return;
    }
    api_reply_list(req, items, cursor);
}

/* ?status= (NULL when absent) and ?q= as a LIKE pattern (NULL when absent or empty). 0, or
 * -1 after replying 422. */
static int vendor_filters(api_req_t *req, char *status, size_t slen, const char **st, char *like, size_t llen,
                          const char **lk)
{
    char q[Q_MAX * 4 + 1];
    int rc = api_query(req, "status", status, slen);
    *st = NULL;
    *lk = NULL;
    if (rc < 0 || (rc == 1 && strcmp(status, "active") != 0 && strcmp(status, "suspended") != 0 &&
                   strcmp(status, "closed") != 0)) {
        api_reply_invalid(req, "status", "must be active, suspended or closed");
        return -1;
    }
    *st = rc == 1 ? status : NULL;
    rc = api_query(req, "q", q, sizeof(q));
    if (rc < 0 || (rc == 1 && (utf8_len(q) > Q_MAX || !chars_ok(q, c_line)))) {
        api_reply_invalid(req, "q", "must be at most 100 characters without control characters");
        return -1;
    }
    if (rc == 1 && q[0] != '\0') {
        if (product_like_pattern(q, like, llen) != 0) {
            api_reply_invalid(req, "q", "is too long");
            return -1;
        }
        *lk = like;
    }
    return 0;
}

static void vendor_list_h(api_req_t *req, worker_t *w)
{
    char status[16], like[Q_MAX * 8 + 8];
    const char *st = NULL, *lk = NULL;
    size_t limit = 0;
    int64_t after_id = 0, next_after = 0;
    json_t *items = NULL;
    if (vendor_filters(req, status, sizeof(status), &st, like, sizeof(like), &lk) != 0 ||
        page_params(req, &limit, &after_id) != 0)
        return;
    int rc = vendor_list(&w->db, req->who.market_id, st, lk, after_id, limit, &items, &next_after);
    if (rc != VENDOR_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        reply_page(req, items, next_after);
}

static void vendor_get_h(api_req_t *req, worker_t *w)
{
    int64_t id = 0;
    json_t *doc = NULL;
    if (api_param_id(req, 0, &id) != 0) {
        api_reply_error(req, SF_E_NOT_FOUND, NULL, "no such vendor in this market", NULL);
        return;
    }
    int rc = vendor_render(&w->db, req->who.market_id, id, &doc);
    if (rc != VENDOR_OK)
        reply_vendor_rc(req, w, rc, 0);
    else
        api_reply_json(req, 200, doc);
}

static void stall_list_h(api_req_t *req, worker_t *w)
{
    size_t limit = 0;
    int64_t after_id = 0, next_after = 0;
    json_t *items = NULL;
    if (page_params(req, &limit, &after_id) != 0)
        return;
    int rc = vendor_stall_list(&w->db, req->who.market_id, after_id, limit, &items, &next_after);
    if (rc != VENDOR_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        reply_page(req, items, next_after);
}

static void courier_list_h(api_req_t *req, worker_t *w)
{
    size_t limit = 0;
    int64_t after_id = 0, next_after = 0;
    json_t *items = NULL;
    if (page_params(req, &limit, &after_id) != 0)
        return;
    int rc = courier_list(&w->db, req->who.market_id, after_id, limit, &items, &next_after);
    if (rc != COURIER_OK)
        api_reply_db_failure(req, &w->db, rc, NULL);
    else
        reply_page(req, items, next_after);
}

int operator_register(router_t *r)
{
    const int op = ROUTE_OPERATOR, body = ROUTE_OPERATOR | ROUTE_BODY_JSON;
    if (router_add(r, "POST", "/v1/admin/stalls", body, stall_create) != 0 ||
        router_add(r, "POST", "/v1/admin/vendors", body, vendor_create_h) != 0 ||
        router_add(r, "PATCH", "/v1/admin/vendors/{id}", body, vendor_update_h) != 0 ||
        router_add(r, "POST", "/v1/admin/vendors/{id}/staff", body, staff_add_h) != 0 ||
        router_add(r, "POST", "/v1/admin/couriers", body, courier_create_h) != 0 ||
        router_add(r, "PUT", "/v1/admin/guide-prices", body, guide_put_h) != 0 ||
        router_add(r, "POST", "/v1/admin/notices", body, notice_create_h) != 0 ||
        router_add(r, "GET", "/v1/admin/alerts", op, alerts_h) != 0 ||
        router_add(r, "GET", "/v1/admin/vendors", op, vendor_list_h) != 0 ||
        router_add(r, "GET", "/v1/admin/vendors/{id}", op, vendor_get_h) != 0 ||
        router_add(r, "GET", "/v1/admin/stalls", op, stall_list_h) != 0 ||
        router_add(r, "GET", "/v1/admin/couriers", op, courier_list_h) != 0)
        return -1;
    return 0;
}
