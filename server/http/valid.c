/*
 * The validation kit (valid.h). Every reason a client can read is written here once, so the
 * same mistake reads the same on every route.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include "models/base/cursor.h"
#include "models/kpi.h"
#include "server/http/valid.h"

/* ---------------------------------------------------------------- character classes */

int valid_c_line(int c)
{
    return (unsigned char)c >= 0x20 && c != 0x7f;
}

int valid_c_text(int c)
{
    return valid_c_line(c) || c == '\n' || c == '\r' || c == '\t';
}

int valid_c_code(int c)
{
    return (c >= '0' && c <= '9') || (c >= 'A' && c <= 'Z');
}

int valid_c_slug(int c)
{
    return valid_c_code(c) || (c >= 'a' && c <= 'z') || c == '-';
}

int valid_c_name(int c)
{
    return valid_c_slug(c) || c == '_' || c == '.';
}

int valid_c_lower(int c)
{
    return (c >= 'a' && c <= 'z') || c == '_';
}

int valid_c_phone(int c)
{
    return (c >= '0' && c <= '9') || c == '+' || c == '-';
}

int valid_c_token(int c)
{
    return valid_c_slug(c) || c == '.' || c == '_';
}

int valid_c_any(int c)
{
    (void)c;
    return 1;
}

/* ---------------------------------------------------------------- helpers */

static int bad(status_detail_t *d, const char *key, const char *field, const char *reason)
{
    status_field(d, SF_E_INVALID, field != NULL ? field : key, reason);
    return -1;
}

int valid_refuse(status_detail_t *d, const char *field, const char *reason)
{
    return bad(d, field, NULL, reason);
}

/* obj[key], or NULL when absent (a JSON null too when nullable). *rc is what an absent
 * value makes the reader return: 0, or -1 when it is required. */
static const json_t *get(const json_t *obj, const char *key, const char *field, int need, int nullable,
                         status_detail_t *d, int *rc)
{
    const json_t *v = json_object_get(obj, key);
    if (v != NULL && !(nullable && json_is_null(v)))
        return v;
    *rc = need ? bad(d, key, field, "is required") : 0;
    return NULL;
}

/* Code points of a valid UTF-8 string. */
static size_t utf8_len(const char *s)
{
    size_t n = 0;
    for (; *s != '\0'; s++)
        n += ((unsigned char)*s & 0xC0) != 0x80;
    return n;
}

/* ---------------------------------------------------------------- plain strings */

const char *valid_check_text(const char *s, const valid_text_t *spec, char *why, size_t whylen)
{
    const unsigned char *p = (const unsigned char *)s;
    size_t len = strlen(s), n = utf8_len(s);
    for (size_t i = 0; i < len; i++) {
        /* C0, DEL, and C1 (U+0080..U+009F, encoded C2 80..C2 9F) are control characters */
        int c1 = p[i] == 0xC2 && i + 1 < len && p[i + 1] >= 0x80 && p[i + 1] <= 0x9F;
        int allowed = spec->ok != NULL ? spec->ok(p[i]) : valid_c_line(p[i]);
        if (p[i] >= 0x80 && (spec->ok == NULL || spec->ok == valid_c_line || spec->ok == valid_c_text))
            allowed = !c1; /* any other non-ASCII character is text */
        if (!allowed) {
            if (spec->what != NULL)
                snprintf(why, whylen, "may hold only %s", spec->what);
            else
                snprintf(why, whylen, "must not contain control characters");
            return why;
        }
    }
    if (n < spec->min || n > spec->max) {
        if (spec->min == 1 && n == 0)
            snprintf(why, whylen, "must not be empty");
        else
            snprintf(why, whylen, "must be %zu to %zu characters", spec->min, spec->max);
        return why;
    }
    if (spec->trimmed && len > 0 && (s[0] == ' ' || s[len - 1] == ' ')) {
        snprintf(why, whylen, "must not start or end with a space");
        return why;
    }
    return NULL;
}

int valid_parse_id(const char *s, int64_t *id)
{
    size_t n = strlen(s);
    if (n == 0 || n > 16 || s[0] == '0' || strspn(s, "0123456789") != n)
        return -1;
    long long v = strtoll(s, NULL, 10);
    if (v > VALID_ID_MAX)
        return -1;
    *id = (int64_t)v;
    return 0;
}

int valid_parse_event_id(const char *s, size_t n, uint64_t *ms, uint64_t *seq)
{
    uint64_t a = 0, b = 0;
    size_t i = 0, da = 0, db = 0;
    for (; i < n && s[i] >= '0' && s[i] <= '9' && da < 19; i++, da++)
        a = a * 10 + (uint64_t)(s[i] - '0');
    if (da == 0 || i >= n || s[i] != '-')
        return -1;
    for (i++; i < n && s[i] >= '0' && s[i] <= '9' && db < 19; i++, db++)
        b = b * 10 + (uint64_t)(s[i] - '0');
    if (db == 0 || i != n)
        return -1;
    if (ms != NULL)
        *ms = a;
    if (seq != NULL)
        *seq = b;
    return 0;
}

int valid_parse_date(const char *s, int64_t *days)
{
    int32_t day = 0;
    if (kpi_day_parse(s, &day) != 0)
        return -1;
    if (days != NULL)
        *days = day;
    return 0;
}

int64_t valid_today(char *buf, size_t len)
{
    time_t t = time(NULL) + 8 * 3600;
    struct tm tm;
    gmtime_r(&t, &tm);
    if (buf != NULL)
        strftime(buf, len, "%Y-%m-%d", &tm);
    return (int64_t)(t / 86400);
}

/* ---------------------------------------------------------------- body fields */

int valid_only_keys(const json_t *obj, const char *const *keys, const char *prefix, status_detail_t *d)
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
            size_t n = strlen(key) > 40 ? 40 : strlen(key);
            while (n > 0 && ((unsigned char)key[n] & 0xC0) == 0x80) /* never cut a character */
                n--;
            snprintf(field, sizeof(field), "%s%.*s", prefix, (int)n, key);
            return bad(d, field, NULL, "is not a field of this request");
        }
    }
    return 0;
}

/* A JSON integer from min to max: not_int when it is not one (a real, a string), the range
 * in words (or `range` when given) when it is outside. The one reader of ids, counts and
 * money. */
static int read_int(const json_t *obj, const char *key, const char *field, int need, int64_t min, int64_t max,
                    int64_t *out, status_detail_t *d, const char *not_int, const char *range)
{
    char why[96];
    int rc;
    const json_t *v = get(obj, key, field, need, 0, d, &rc);
    if (v == NULL)
        return rc;
    if (!json_is_integer(v))
        return bad(d, key, field, not_int);
    json_int_t i = json_integer_value(v);
    if (i < min || i > max) {
        if (range == NULL)
            snprintf(why, sizeof(why), "must be from %lld to %lld", (long long)min, (long long)max);
        return bad(d, key, field, range != NULL ? range : why);
    }
    *out = (int64_t)i;
    return 1;
}

int valid_int(const json_t *obj, const char *key, const char *field, int need, int64_t min, int64_t max, int64_t *out,
              status_detail_t *d)
{
    return read_int(obj, key, field, need, min, max, out, d, "must be an integer", NULL);
}

int valid_id(const json_t *obj, const char *key, const char *field, int need, int64_t *out, status_detail_t *d)
{
    return read_int(obj, key, field, need, 1, VALID_ID_MAX, out, d, "must be an integer", "must be a positive id");
}

int valid_money(const json_t *obj, const char *key, const char *field, int need, int64_t min, int64_t max, int64_t *fen,
                status_detail_t *d)
{
    return read_int(obj, key, field, need, min, max, fen, d, "must be an integer number of fen", NULL);
}

int valid_str(const json_t *obj, const char *key, const char *field, int need, int nullable, const valid_text_t *spec,
              const char **out, status_detail_t *d)
{
    char why[96];
    int rc;
    const json_t *v = get(obj, key, field, need, nullable, d, &rc);
    if (v == NULL)
        return rc;
    if (!json_is_string(v))
        return bad(d, key, field, "must be a string");
    const char *s = json_string_value(v);
    if (strlen(s) != json_string_length(v))
        return bad(d, key, field, "must not contain NUL");
    if (valid_check_text(s, spec, why, sizeof(why)) != NULL)
        return bad(d, key, field, why);
    *out = s;
    return 1;
}

/* "must be one of a, b, c" (cut short if the list is long). */
static void one_of(const char *const *names, char *why, size_t len)
{
    size_t used = (size_t)snprintf(why, len, "must be one of");
    for (size_t i = 0; names[i] != NULL && used < len; i++)
        used += (size_t)snprintf(why + used, len - used, "%s %s", i == 0 ? "" : ",", names[i]);
}

static int find_name(const char *s, const char *const *names)
{
    for (int i = 0; names[i] != NULL; i++)
        if (strcmp(names[i], s) == 0)
            return i;
    return -1;
}

int valid_enum(const json_t *obj, const char *key, const char *field, int need, const char *const *names, int *idx,
               status_detail_t *d)
{
    char why[128];
    int rc;
    const json_t *v = get(obj, key, field, need, 0, d, &rc);
    if (v == NULL)
        return rc;
    int i = json_is_string(v) ? find_name(json_string_value(v), names) : -1;
    if (i < 0) {
        one_of(names, why, sizeof(why));
        return bad(d, key, field, why);
    }
    *idx = i;
    return 1;
}

int valid_date(const json_t *obj, const char *key, const char *field, int need, const char **out, int64_t *days,
               status_detail_t *d)
{
    int rc;
    const json_t *v = get(obj, key, field, need, 0, d, &rc);
    if (v == NULL)
        return rc;
    if (!json_is_string(v) || valid_parse_date(json_string_value(v), days) != 0)
        return bad(d, key, field, "must be a real date YYYY-MM-DD");
    *out = json_string_value(v);
    return 1;
}

/* ---------------------------------------------------------------- path and query */

int valid_path_id(const api_req_t *req, size_t i, int64_t *id)
{
    return i < req->nparams && valid_parse_id(req->params[i], id) == 0 ? 0 : -1;
}

/* ?name= into buf: 1, 0 when absent, -1 (d set) when malformed or too long. */
static int query(const api_req_t *req, const char *name, char *buf, size_t len, const char *why, status_detail_t *d)
{
    int rc = api_query(req, name, buf, len);
    return rc < 0 ? bad(d, name, NULL, why) : rc;
}

int valid_query_id(const api_req_t *req, const char *name, int64_t *id, status_detail_t *d)
{
    char buf[24];
    int rc = query(req, name, buf, sizeof(buf), "must be an id", d);
    if (rc == 1 && valid_parse_id(buf, id) != 0)
        return bad(d, name, NULL, "must be an id");
    return rc;
}

int valid_query_enum(const api_req_t *req, const char *name, const char *const *names, int *idx, status_detail_t *d)
{
    char buf[64], why[128];
    one_of(names, why, sizeof(why));
    int rc = query(req, name, buf, sizeof(buf), why, d);
    if (rc != 1)
        return rc;
    int i = find_name(buf, names);
    if (i < 0)
        return bad(d, name, NULL, why);
    *idx = i;
    return 1;
}

int valid_query_text(const api_req_t *req, const char *name, const valid_text_t *spec, char *buf, size_t len,
                     status_detail_t *d)
{
    if (len > 0)
        buf[0] = '\0'; /* absent or blank reads as "" */
    char why[96];
    int rc = query(req, name, buf, len, "is too long or not UTF-8 text", d);
    if (rc != 1)
        return rc;
    json_t *utf8 = json_string(buf); /* NULL unless valid UTF-8 */
    json_decref(utf8);
    if (utf8 == NULL)
        return bad(d, name, NULL, "must be UTF-8");
    if (valid_check_text(buf, spec, why, sizeof(why)) != NULL)
        return bad(d, name, NULL, why);
    return 1;
}

int valid_query_search(const api_req_t *req, const char *name, size_t max, char *buf, size_t len, status_detail_t *d)
{
    if (len > 0)
        buf[0] = '\0';       /* absent or blank reads as "" */
    char raw[1024], why[96]; /* a term of max code points, 4 bytes each, with spaces around it */
    const valid_text_t spec = {1, max, NULL, NULL, 0};
    int rc = query(req, name, raw, sizeof(raw), "too long", d);
    if (rc != 1)
        return rc;
    const char *s = raw + strspn(raw, " ");
    size_t n = strlen(s);
    while (n > 0 && s[n - 1] == ' ')
        n--;
    if (n == 0)
        return 0;
    if (n >= len)
        return bad(d, name, NULL, "too long");
    memcpy(buf, s, n);
    buf[n] = '\0';
    json_t *utf8 = json_string(buf); /* NULL unless valid UTF-8 */
    json_decref(utf8);
    if (utf8 == NULL)
        return bad(d, name, NULL, "must be UTF-8");
    if (valid_check_text(buf, &spec, why, sizeof(why)) != NULL)
        return bad(d, name, NULL, why);
    return 1;
}

int valid_query_date(const api_req_t *req, const char *name, char *buf, size_t len, int64_t *days, status_detail_t *d)
{
    if (len > 0)
        buf[0] = '\0'; /* absent or blank reads as "" */
    int rc = query(req, name, buf, len, "must be a real date YYYY-MM-DD", d);
    if (rc == 1 && valid_parse_date(buf, days) != 0)
        return bad(d, name, NULL, "must be a real date YYYY-MM-DD");
    return rc;
}

int valid_query_range(const api_req_t *req, int need, int max_days, char *from, char *to, status_detail_t *d)
{
    static const char *const names[2] = {"from", "to"};
    char *bufs[2] = {from, to}, why[128];
    int64_t days[2];
    for (int i = 0; i < 2; i++) {
        int rc = valid_query_date(req, names[i], bufs[i], 11, &days[i], d);
        if (rc < 0)
            return -1;
        if (rc == 0 && need)
            return bad(d, names[i], NULL, "is required: a date YYYY-MM-DD");
        if (rc == 0)
            days[i] = valid_today(bufs[i], 11);
    }
    if (days[0] > days[1])
        return bad(d, "from", NULL, "must not be after to");
    if (days[1] - days[0] + 1 > max_days) {
        snprintf(why, sizeof(why), "the range from..to may span at most %d days", max_days);
        return bad(d, "to", NULL, why);
    }
    return 1;
}

int valid_query_cursor(const api_req_t *req, char kind, int64_t *key, int64_t *after_id, status_detail_t *d)
{
    char buf[CURSOR_MAX];
    int rc = query(req, "cursor", buf, sizeof(buf), "is not a cursor of this list", d);
    if (rc == 1 && cursor_decode(buf, kind, key, after_id) != 0)
        return bad(d, "cursor", NULL, "is not a cursor of this list");
    return rc;
}

int valid_id_array(const json_t *arr, const char *name, const char *what, size_t min, size_t max, int64_t *ids,
                   size_t *n, status_detail_t *d)
{
    char field[64], reason[96];
    size_t i;
    json_t *v;
    if (!json_is_array(arr) || json_array_size(arr) < min) {
        snprintf(reason, sizeof(reason), "must be %s array of %ss", min > 0 ? "a non-empty" : "an", what);
        return valid_refuse(d, name, reason);
    }
    if (json_array_size(arr) > max) {
        snprintf(reason, sizeof(reason), "may list at most %zu %ss", max, what);
        return valid_refuse(d, name, reason);
    }
    json_array_foreach(arr, i, v)
    {
        snprintf(field, sizeof(field), "%s[%zu]", name, i);
        snprintf(reason, sizeof(reason), "must be a %s", what);
        if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > VALID_ID_MAX)
            return valid_refuse(d, field, reason);
        for (size_t j = 0; j < i; j++)
            if (ids[j] == json_integer_value(v))
                return valid_refuse(d, field, "is listed twice");
        ids[i] = json_integer_value(v);
    }
    *n = json_array_size(arr);
    return 0;
}

int valid_query_log_cursor(const api_req_t *req, char kind, int64_t *key, int64_t *after_id, status_detail_t *d)
{
    char buf[CURSOR_MAX];
    int rc = query(req, "cursor", buf, sizeof(buf), "is not a cursor of this list", d);
    if (rc == 1 && buf[0] == '\0')
        return 0;
    if (rc == 1 && cursor_decode(buf, kind, key, after_id) != 0)
        return bad(d, "cursor", NULL, "is not a cursor of this list");
    return rc;
}

/* The query parameter `name` as a whole number from lo to hi (dflt when absent): decimal
 * digits only, at most as many as hi has (no overflow, and "0100" is as wrong as "1000"). */
static int query_whole(const api_req_t *req, const char *name, int64_t dflt, int64_t lo, int64_t hi, int64_t *out,
                       status_detail_t *d)
{
    char buf[24], why[64];
    *out = dflt;
    int rc = api_query(req, name, buf, sizeof(buf));
    if (rc == 0)
        return 0;
    size_t n = rc == 1 ? strlen(buf) : 0;
    int max_digits = snprintf(NULL, 0, "%lld", (long long)hi);
    long long v = -1;
    if (rc == 1 && n > 0 && n <= (size_t)max_digits && strspn(buf, "0123456789") == n)
        v = strtoll(buf, NULL, 10);
    if (v < lo || v > hi) {
        snprintf(why, sizeof(why), "must be an integer from %lld to %lld", (long long)lo, (long long)hi);
        return bad(d, name, NULL, why);
    }
    *out = (int64_t)v;
    return 0;
}

int valid_query_limit(const api_req_t *req, size_t dflt, size_t max, size_t *limit, status_detail_t *d)
{
    int64_t v = 0;
    int rc = query_whole(req, "limit", (int64_t)dflt, 1, (int64_t)max, &v, d);
    *limit = (size_t)v;
    return rc;
}

int valid_query_count(const api_req_t *req, const char *name, int64_t dflt, int64_t max, int64_t *out,
                      status_detail_t *d)
{
    return query_whole(req, name, dflt, 0, max, out, d);
}

sf_status_t valid_query_page(const api_req_t *req, const char *filter, const char *const *filters, size_t dflt,
                             size_t max, char kind, valid_page_t *p, status_detail_t *d)
{
    *p = (valid_page_t){.filter = -1};
    if ((filter != NULL && valid_query_enum(req, filter, filters, &p->filter, d) < 0) ||
        valid_query_limit(req, dflt, max, &p->limit, d) < 0 ||
        valid_query_cursor(req, kind, &p->after_key, &p->after_id, d) < 0)
        return SF_E_INVALID;
    return SF_OK;
}
