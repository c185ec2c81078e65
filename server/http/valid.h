/*
 * The validation kit: every handler reads its inputs (body fields, path parameters, query
 * parameters) through these, so an id, a cursor, a piece of text, an amount of money or an
 * enumeration is accepted or refused the same way on every route, with the same reason.
 * Models take the typed values that come out; they never see a JSON body.
 *
 * Convention: a field reader returns 1 when the value is there and valid (*out set), 0 when
 * it is absent and not required (*out untouched), -1 when it is invalid or required and
 * absent; then d holds SF_E_INVALID's field and reason (the first bad field wins: a caller
 * stops at the first -1 and replies api_reply_status(req, w, SF_E_INVALID, d)). A query
 * reader that copies into a buffer leaves "" there when the value is absent. `field` names
 * the value in that reply; NULL means the key itself (pass "licences[2].type" for a nested
 * one). Body readers take the JSON object that holds the key. Pure: any thread.
 */
#ifndef SF_VALID_H
#define SF_VALID_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/status.h"
#include "server/http/api.h"

/* Ids are JSON integers from 1 to 2^53 (JavaScript clients hold them as doubles). */
#define VALID_ID_MAX 9007199254740992LL

/* The rules of a piece of text: length in code points (jansson only lets valid UTF-8 in),
 * which bytes are allowed, and whether it may start or end with a space. */
typedef struct valid_text {
    size_t min, max;
    int (*ok)(int c); /* every ASCII byte; NULL: any character but control characters */
    const char *what; /* the allowed characters in words, for the reason ("A-Z and 0-9") */
    int trimmed;      /* refuse a leading or trailing space */
} valid_text_t;

/* Free text a person writes (a note, a complaint, a rating): min..max code points, line breaks
 * and tabs allowed, no other control characters, any other character. */
#define VALID_PROSE(min, max)                                                                                          \
    {                                                                                                                  \
        (min), (max), valid_c_text, "no control characters but line breaks and tabs", 0                                \
    }

/* Character classes for valid_text_t.ok. valid_c_line and valid_c_text let any non-ASCII
 * character through (Chinese text); the others are ASCII only. */
int valid_c_line(int c);  /* one line: no control characters */
int valid_c_text(int c);  /* several lines: also \n, \r and \t */
int valid_c_code(int c);  /* A-Z and 0-9 */
int valid_c_slug(int c);  /* A-Z, a-z, 0-9 and - */
int valid_c_name(int c);  /* A-Z, a-z, 0-9, _, . and - (login names) */
int valid_c_lower(int c); /* a-z and _ */
int valid_c_phone(int c); /* 0-9, + and - */
int valid_c_token(int c); /* A-Z, a-z, 0-9, ., _ and - (codes in a query: categories) */
int valid_c_any(int c);   /* any byte at all (a password is what its owner typed) */

/* ---------------------------------------------------------------- body fields */

/* Records SF_E_INVALID's field and reason in d and returns -1, for a handler's own rule
 * (`return valid_refuse(d, "items", "must be an array of 1 to 500 guide prices");`). */
int valid_refuse(status_detail_t *d, const char *field, const char *reason);

/* Refuses any key of obj that is not in the NULL-ended list: a typo never passes as "not
 * given". prefix is put before the key in the field name ("" for the body). 0 or -1. */
int valid_only_keys(const json_t *obj, const char *const *keys, const char *prefix, status_detail_t *d);

/* An id: a JSON integer from 1 to VALID_ID_MAX. */
int valid_id(const json_t *obj, const char *key, const char *field, int need, int64_t *out, status_detail_t *d);

/* A JSON integer (not a real, not a string) from min to max. */
int valid_int(const json_t *obj, const char *key, const char *field, int need, int64_t min, int64_t max, int64_t *out,
              status_detail_t *d);

/* Money: an integer number of fen from min to max (never a real: 0.1 yuan is 10). */
int valid_money(const json_t *obj, const char *key, const char *field, int need, int64_t min, int64_t max, int64_t *fen,
                status_detail_t *d);

/* Text by spec; *out borrows the body's string. JSON null counts as absent when nullable. */
int valid_str(const json_t *obj, const char *key, const char *field, int need, int nullable, const valid_text_t *spec,
              const char **out, status_detail_t *d);

/* One of the NULL-ended names; *idx is its index. */
int valid_enum(const json_t *obj, const char *key, const char *field, int need, const char *const *names, int *idx,
               status_detail_t *d);

/* A real calendar date YYYY-MM-DD (years 1000-9999); *days counts from 1970-01-01. */
int valid_date(const json_t *obj, const char *key, const char *field, int need, const char **out, int64_t *days,
               status_detail_t *d);

/* ---------------------------------------------------------------- plain strings */

/* A decimal id from 1 to VALID_ID_MAX, no sign, no leading zero. 0 or -1. */
int valid_parse_id(const char *s, int64_t *id);

/* A real date YYYY-MM-DD. 0 with *days (may be NULL), or -1. */
int valid_parse_date(const char *s, int64_t *days);

/* A Redis stream entry id "<ms>-<seq>" (what Last-Event-ID carries): two runs of 1 to 19
 * digits joined by '-', the n bytes at s (no NUL needed). 0 with *ms and *seq (either may be
 * NULL), or -1. */
int valid_parse_event_id(const char *s, size_t n, uint64_t *ms, uint64_t *seq);

/* Checks s against spec: NULL, or the reason (written into why, whylen bytes). */
const char *valid_check_text(const char *s, const valid_text_t *spec, char *why, size_t whylen);

/* Today's date in the market's time (+08:00) as days since 1970-01-01; buf (may be NULL)
 * gets YYYY-MM-DD. */
int64_t valid_today(char *buf, size_t len);

/* ---------------------------------------------------------------- path and query */

/* Path parameter i as an id. 0, or -1 (the caller answers 404: a path that names nothing). */
int valid_path_id(const api_req_t *req, size_t i, int64_t *id);

/* ?name= as an id. */
int valid_query_id(const api_req_t *req, const char *name, int64_t *id, status_detail_t *d);

/* ?name= as one of the NULL-ended names. */
int valid_query_enum(const api_req_t *req, const char *name, const char *const *names, int *idx, status_detail_t *d);

/* ?name= as text by spec, copied into buf. */
int valid_query_text(const api_req_t *req, const char *name, const valid_text_t *spec, char *buf, size_t len,
                     status_detail_t *d);

/* ?name= as a search term: surrounding spaces dropped, then 1..max code points of one line
 * of UTF-8 copied into buf. 0 when absent or blank (no filter). */
int valid_query_search(const api_req_t *req, const char *name, size_t max, char *buf, size_t len, status_detail_t *d);

/* ?name= as a date YYYY-MM-DD, copied into buf (11 bytes). */
int valid_query_date(const api_req_t *req, const char *name, char *buf, size_t len, int64_t *days, status_detail_t *d);

/* ?from= and ?to= as a range of real dates YYYY-MM-DD (buffers of 11 bytes), from <= to and
 * spanning at most max_days days (from and to included). With need both are required;
 * without, an absent one is today (+08:00). 1, or -1 with d naming the parameter at fault. */
int valid_query_range(const api_req_t *req, int need, int max_days, char *from, char *to, status_detail_t *d);

/* An array of distinct ids in a body field (`name`: "stall_ids"; `what`: "stall id"), with
 * min..max entries, into ids (room for max). 0 with *n, or -1 with d naming the field or the
 * entry at fault ("stall_ids[2]": not an id, or listed twice). */
int valid_id_array(const json_t *arr, const char *name, const char *what, size_t min, size_t max, int64_t *ids,
                   size_t *n, status_detail_t *d);

/* ?cursor= of a list of that kind (models/base/cursor.h): *key and *after_id. */
int valid_query_cursor(const api_req_t *req, char kind, int64_t *key, int64_t *after_id, status_detail_t *d);

/* ?cursor= of a change log (the platforms' feed): like valid_query_cursor, except that an
 * empty one (`?cursor=`) means the beginning, as an absent one does (*after_id 0): a
 * platform's first request carries the parameter it will fill later. */
int valid_query_log_cursor(const api_req_t *req, char kind, int64_t *key, int64_t *after_id, status_detail_t *d);

/* ?limit=: dflt when absent, else a decimal from 1 to max. 0 or -1 (never "absent"). */
int valid_query_limit(const api_req_t *req, size_t dflt, size_t max, size_t *limit, status_detail_t *d);

/* ?name= as a whole number from 0 to max (decimal digits, no sign, at most as many as max
 * has, as ?limit=): dflt when absent. 0, or -1 with d naming the parameter. */
int valid_query_count(const api_req_t *req, const char *name, int64_t dflt, int64_t max, int64_t *out,
                      status_detail_t *d);

/* The query of a page of a list: the optional filter ?<filter>= (one of filters; the list has
 * none when filter is NULL), ?limit= (dflt when absent, 1..max) and ?cursor= of that kind. */
typedef struct valid_page {
    int filter; /* index into filters, -1 when absent */
    size_t limit;
    int64_t after_key, after_id; /* both 0 without a cursor */
} valid_page_t;

/* Reads them all into *p. SF_OK, or SF_E_INVALID with d naming the parameter at fault. */
sf_status_t valid_query_page(const api_req_t *req, const char *filter, const char *const *filters, size_t dflt,
                             size_t max, char kind, valid_page_t *p, status_detail_t *d);

#endif
