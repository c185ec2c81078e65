/*
 * Ratings and complaints (API.md "Orders", "Operator"):
 *   POST /v1/orders/{id}/rating              consumer: rate a delivered order, once
 *   GET  /v1/stalls/{id}/ratings             public: a stall's ratings, newest first (cached)
 *   POST /v1/complaints                      consumer: complain about a stall (and an order)
 *   GET  /v1/complaints                      consumer: their own complaints, newest first
 *   GET  /v1/admin/complaints?status=        operator: the market's complaints, newest first
 *   POST /v1/admin/complaints/{id}/resolve   operator: resolve one with a note
 *   GET  /v1/vendor/complaints?status=       vendor: those about its own stalls, newest first
 * Worker threads. Each route reads its whole input with the validation kit (unknown fields
 * refused, the first bad field named), calls one model function (models/feedback.h), and
 * replies once. Every query is scoped by the caller: another consumer's order and another
 * market's complaint are not found (404) and nothing changes. A rating changes what the
 * public stall answers show, so the market's catalogue version is bumped after it commits.
 */
#include <stdio.h>
#include <string.h>
#include "handlers/handlers.h"
#include "models/base/log.h"
#include "models/cachever.h"
#include "models/feedback.h"
#include "models/market.h"
#include "server/http/api.h"
#include "server/http/valid.h"

static const valid_text_t T_RATING = VALID_PROSE(0, FEEDBACK_RATING_TEXT);
static const valid_text_t T_COMPLAINT = VALID_PROSE(1, FEEDBACK_COMPLAINT_TEXT);
static const valid_text_t T_NOTE = VALID_PROSE(1, FEEDBACK_NOTE_TEXT);

static const char *const COMPLAINT_STATUSES[] = {"open", "resolved", NULL};

/* ---------------------------------------------------------------- helpers */

/* Bumps the market's catalogue version after a committed rating; a failure only delays the
 * public caches (never beyond their max age), so the rating still stands. */
static void bump(api_req_t *req, worker_t *w, int64_t market_id)
{
    uint64_t version;
    if (cachever_bump(&w->redis, market_id, &version) != 0)
        log_warn("rating: catalogue version of market %lld not bumped: %s", (long long)market_id, w->redis.err);
    else
        api_cache_bumped(req, market_id, version);
}

/* An optional score or id that may also be JSON null (= not given): what valid_int says,
 * with null read as absent. */
static int optional_int(const json_t *o, const char *key, int64_t min, int64_t max, int64_t *out, status_detail_t *d)
{
    const json_t *v = json_object_get(o, key);
    return v == NULL || json_is_null(v) ? 0 : valid_int(o, key, NULL, 1, min, max, out, d);
}

/* ?limit= and ?cursor= of a list of that kind (and ?status= when statuses is not NULL). */
static sf_status_t page(const api_req_t *req, const char *const *statuses, char kind, valid_page_t *pg,
                        status_detail_t *d)
{
    return valid_query_page(req, statuses != NULL ? "status" : NULL, statuses, FEEDBACK_LIST_DEFAULT, FEEDBACK_LIST_MAX,
                            kind, pg, d);
}

/* ---------------------------------------------------------------- rating */

/* stalls[i]: {"stall_id", "score", "text"?}, each stall once. 0, or -1 with d set. */
static int parse_stall_score(const json_t *o, size_t i, feedback_stall_score_t *all, status_detail_t *d)
{
    static const char *const keys[] = {"stall_id", "score", "text", NULL};
    char prefix[40], f_id[56], f_score[56], f_text[56];
    int64_t score = 0;
    feedback_stall_score_t *s = &all[i];
    snprintf(prefix, sizeof(prefix), "stalls[%zu].", i);
    snprintf(f_id, sizeof(f_id), "%sstall_id", prefix);
    snprintf(f_score, sizeof(f_score), "%sscore", prefix);
    snprintf(f_text, sizeof(f_text), "%stext", prefix);
    s->text = NULL;
    if (!json_is_object(o))
        return valid_refuse(d, prefix, "must be an object {stall_id, score, text}");
    if (valid_only_keys(o, keys, prefix, d) != 0 || valid_id(o, "stall_id", f_id, 1, &s->stall_id, d) < 0 ||
        valid_int(o, "score", f_score, 1, FEEDBACK_SCORE_MIN, FEEDBACK_SCORE_MAX, &score, d) < 0 ||
        valid_str(o, "text", f_text, 0, 1, &T_RATING, &s->text, d) < 0)
        return -1;
    s->score = (int)score;
    if (s->text != NULL && s->text[0] == '\0')
        s->text = NULL;
    for (size_t j = 0; j < i; j++)
        if (all[j].stall_id == s->stall_id)
            return valid_refuse(d, f_id, "is listed twice");
    return 0;
}

static int parse_rating(const json_t *b, feedback_rating_t *in, feedback_stall_score_t *scores, status_detail_t *d)
{
    static const char *const keys[] = {"stalls", "courier_score", NULL};
    const json_t *arr = json_object_get(b, "stalls"), *v;
    int64_t courier = 0;
    size_t i;
    if (valid_only_keys(b, keys, "", d) != 0)
        return -1;
    if (arr == NULL)
        return valid_refuse(d, "stalls", "is required");
    if (!json_is_array(arr) || json_array_size(arr) < 1 || json_array_size(arr) > FEEDBACK_STALLS_MAX)
        return valid_refuse(d, "stalls", "must be an array of 1 to 100 stall ratings");
    json_array_foreach(arr, i, v)
    {
        if (parse_stall_score(v, i, scores, d) != 0)
            return -1;
    }
    if (optional_int(b, "courier_score", FEEDBACK_SCORE_MIN, FEEDBACK_SCORE_MAX, &courier, d) < 0)
        return -1;
    in->stalls = scores;
    in->nstalls = json_array_size(arr);
    in->courier_score = (int)courier;
    return 0;
}

static void rate(api_req_t *req, worker_t *w)
{
    feedback_stall_score_t scores[FEEDBACK_STALLS_MAX];
    feedback_rating_t in = {.consumer_id = req->who.user_id};
    status_detail_t d = {0};
    json_t *doc = NULL;
    int64_t market_id = 0;
    sf_status_t rc =
        valid_path_id(req, 0, &in.order_id) == 0 ? SF_OK : status_field(&d, SF_E_NOT_FOUND, NULL, "no such order");
    if (rc == SF_OK && parse_rating(req->body, &in, scores, &d) != 0)
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = feedback_rate(&w->db, &in, &market_id, &doc, &d);
    if (rc == SF_OK)
        bump(req, w, market_id); /* the stalls' public rating changed */
    api_reply_result(req, w, rc, &d, 200, doc);
}

/* ---------------------------------------------------------------- a stall's ratings */

static void stall_ratings(api_req_t *req, worker_t *w)
{
    char next[FEEDBACK_CURSOR_MAX];
    status_detail_t d = {0};
    valid_page_t pg;
    int64_t id = 0, market_id = 0;
    json_t *items = NULL;
    sf_status_t rc = valid_path_id(req, 0, &id) == 0 ? SF_OK : SF_E_NOT_FOUND;
    if (rc == SF_OK)
        rc = page(req, NULL, FEEDBACK_KIND_RATINGS, &pg, &d);
    if (rc == SF_OK && (rc = market_stall_market(&w->db, id, &market_id)) == SF_OK) {
        /* the version is read before the data: a rating racing this read leaves it stale */
        req->cache_market = cachever_tag(&w->redis, market_id, &req->cache_version);
        rc = feedback_stall_ratings(&w->db, id, pg.after_key, pg.after_id, pg.limit, &items, next, sizeof(next));
    }
    if (rc == SF_E_NOT_FOUND)
        status_field(&d, rc, NULL, "no such stall");
    api_reply_page(req, w, rc, &d, items, next);
}

/* ---------------------------------------------------------------- complaints */

static int parse_complaint(const json_t *b, feedback_complaint_t *in, status_detail_t *d)
{
    static const char *const keys[] = {"order_id", "stall_id", "text", NULL};
    if (valid_only_keys(b, keys, "", d) != 0 || optional_int(b, "order_id", 1, VALID_ID_MAX, &in->order_id, d) < 0 ||
        valid_id(b, "stall_id", NULL, 1, &in->stall_id, d) < 0 ||
        valid_str(b, "text", NULL, 1, 0, &T_COMPLAINT, &in->text, d) < 0)
        return -1;
    return 0;
}

static void complain(api_req_t *req, worker_t *w)
{
    feedback_complaint_t in = {.consumer_id = req->who.user_id};
    status_detail_t d = {0};
    json_t *doc = NULL;
    sf_status_t rc = parse_complaint(req->body, &in, &d) == 0 ? SF_OK : SF_E_INVALID;
    if (rc == SF_OK)
        rc = feedback_complain(&w->db, &in, &doc, &d);
    api_reply_result(req, w, rc, &d, 201, doc);
}

static void my_complaints(api_req_t *req, worker_t *w)
{
    char next[FEEDBACK_CURSOR_MAX];
    status_detail_t d = {0};
    valid_page_t pg;
    json_t *items = NULL;
    sf_status_t rc = page(req, NULL, FEEDBACK_KIND_MINE, &pg, &d);
    if (rc == SF_OK)
        rc = feedback_complaints_of(&w->db, req->who.user_id, pg.after_id, pg.limit, &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
}

static void market_complaints(api_req_t *req, worker_t *w)
{
    char next[FEEDBACK_CURSOR_MAX];
    status_detail_t d = {0};
    valid_page_t pg;
    json_t *items = NULL;
    sf_status_t rc = page(req, COMPLAINT_STATUSES, FEEDBACK_KIND_ADMIN, &pg, &d);
    if (rc == SF_OK)
        rc =
            feedback_complaints_in(&w->db, req->who.market_id, 0, pg.filter >= 0 ? COMPLAINT_STATUSES[pg.filter] : NULL,
                                   pg.after_id, pg.limit, &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
}

/* The market's list narrowed to the stalls the calling vendor holds: a vendor token always
 * names its vendor (one that does not is refused, never read as "every vendor"). */
static void vendor_complaints(api_req_t *req, worker_t *w)
{
    char next[FEEDBACK_CURSOR_MAX];
    status_detail_t d = {0};
    valid_page_t pg;
    json_t *items = NULL;
    sf_status_t rc = req->who.vendor_id > 0 && req->who.market_id > 0
                         ? SF_OK
                         : status_field(&d, SF_E_FORBIDDEN, NULL, "not a vendor account");
    if (rc == SF_OK)
        rc = page(req, COMPLAINT_STATUSES, FEEDBACK_KIND_VENDOR, &pg, &d);
    if (rc == SF_OK)
        rc = feedback_complaints_in(&w->db, req->who.market_id, req->who.vendor_id,
                                    pg.filter >= 0 ? COMPLAINT_STATUSES[pg.filter] : NULL, pg.after_id, pg.limit,
                                    &items, next, sizeof(next));
    api_reply_page(req, w, rc, &d, items, next);
}

static void resolve(api_req_t *req, worker_t *w)
{
    static const char *const keys[] = {"note", NULL};
    status_detail_t d = {0};
    const char *note = NULL;
    int64_t id = 0;
    json_t *doc = NULL;
    sf_status_t rc =
        valid_path_id(req, 0, &id) == 0 ? SF_OK : status_field(&d, SF_E_NOT_FOUND, NULL, "no such complaint");
    if (rc == SF_OK && (valid_only_keys(req->body, keys, "", &d) != 0 ||
                        valid_str(req->body, "note", NULL, 1, 0, &T_NOTE, &note, &d) < 0))
        rc = SF_E_INVALID;
    if (rc == SF_OK)
        rc = feedback_resolve(&w->db, req->who.market_id, req->who.user_id, id, note, &doc, &d);
    api_reply_result(req, w, rc, &d, 200, doc);
}

int feedback_register(router_t *r)
{
    const int consumer = ROUTE_CONSUMER | ROUTE_BODY_JSON, op = ROUTE_OPERATOR | ROUTE_BODY_JSON;
    if (router_add(r, "POST", "/v1/orders/{id}/rating", consumer, rate) != 0 ||
        router_add(r, "GET", "/v1/stalls/{id}/ratings", ROUTE_CACHED, stall_ratings) != 0 ||
        router_add(r, "POST", "/v1/complaints", consumer, complain) != 0 ||
        router_add(r, "GET", "/v1/complaints", ROUTE_CONSUMER, my_complaints) != 0 ||
        router_add(r, "GET", "/v1/admin/complaints", ROUTE_OPERATOR, market_complaints) != 0 ||
        router_add(r, "POST", "/v1/admin/complaints/{id}/resolve", op, resolve) != 0 ||
        router_add(r, "GET", "/v1/vendor/complaints", ROUTE_VENDOR, vendor_complaints) != 0)
        return -1;
    return 0;
}
