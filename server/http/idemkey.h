/*
 * The Idempotency-Key header of a money-bearing write (API.md "Conventions"), around the
 * route's own work, the same for every route that honours it:
 *
 *     idemkey_t k;
 *     rc = idemkey_begin(req, w, &k, "checkout", req->body, &d);   claim, or find the answer
 *     if (rc == SF_OK && !idemkey_replays(&k)) rc = ...the work...;
 *     if (!idemkey_reply(req, &k)) api_reply_result(...);          the kept answer, or ours
 *     idemkey_settle(req, w, &k, committed);                       keep our answer for the key
 *
 * A request without the header runs as usual and keeps nothing. The key's rows and rules
 * are models/idempotency.h's. Worker threads, on the request's own worker.
 */
#ifndef SF_IDEMKEY_H
#define SF_IDEMKEY_H

#include <jansson.h>
#include "models/idempotency.h"
#include "server/http/api.h"

typedef struct idemkey {
    const char *scope;        /* the route's scope: one key may serve one route */
    const char *key;          /* the header, or NULL */
    idempotency_answer_t ans; /* claim IDEMPOTENCY_RUN, or IDEMPOTENCY_REPLAY with the answer */
    int claimed;              /* this request holds the key: settle it */
} idemkey_t;

/* Claims the request's key for `request` (what the key's first use must have asked: the
 * body, or the body with the path's ids) or finds the answer it kept. SF_OK (see
 * idemkey_replays()), or the refusal of idempotency_begin() with d. */
sf_status_t idemkey_begin(const api_req_t *req, worker_t *w, idemkey_t *k, const char *scope, const json_t *request,
                          status_detail_t *d);

/* The work kept its own answer for the key, in its own transaction (text malloc'd, len
 * bytes, taken): idemkey_reply() sends exactly those bytes with status, and there is nothing
 * left to settle. */
void idemkey_kept(idemkey_t *k, int status, char *text, size_t len);

/* 1 when the key holds a first answer: the work must not run again. */
int idemkey_replays(const idemkey_t *k);

/* Replies with the kept answer, byte for byte (1), or does nothing (0: reply as usual). */
int idemkey_reply(api_req_t *req, idemkey_t *k);

/* After the reply: keeps every business answer (below 500) for the key; a failure worth
 * retrying releases the key, unless `committed` (the work was done: then the claim stays, so
 * a retry waits rather than doing it twice, until IDEMPOTENCY_STALE_S drops it). Logs a
 * failure; replies nothing. */
void idemkey_settle(const api_req_t *req, worker_t *w, idemkey_t *k, int committed);

#endif
