/*
 * The check of a supervision platform's signed request (API.md "Supervision platforms"), for
 * ROUTE_PLATFORM routes: run_job calls it instead of auth_check. Worker threads.
 *
 * Order: the four headers (X-App-Key, X-Timestamp in Unix seconds, X-Nonce of 8 to 64
 * printable ASCII characters 0x21-0x7E, X-Signature) each sent exactly once, at most 256
 * bytes and well-formed (found by the HTTP layer in the whole request: api_req_t.signed_hdr)
 * → no query parameter name repeated (the canonical query would sign both values, a handler
 * reads the first) → the timestamp within ±300 s of now → the client and whether the path's
 * market is granted (one SQL query, platform_lookup; an unknown key computes a signature with
 * a dummy secret all the same) → the signature (models/base/platsig.h over the method, the
 * raw path, the raw query, the raw body) against the current secret and, while valid, the
 * previous one, compared in constant time → only then, in one Redis call (a script), the
 * nonce (once per client for PLATAUTH_NONCE_S) and the client's rate
 * (platform.rate_per_min per minute, from its first request).
 *
 * Every refusal of the key, the time, the nonce, the headers, the query or the signature is
 * the same 401 invalid_signature, with the same message; the server log says which at info
 * level (with the app key, never the secret or the signature). A found client whose sealed
 * secret does not open is logged as an error and refused with that same 401. A request
 * refused for its rate has spent its nonce: a retry is signed afresh.
 */
#ifndef SF_PLATAUTH_H
#define SF_PLATAUTH_H

#include "server/http/api.h"
#include "server/http/pool.h"

#define PLATAUTH_SKEW_S 300 /* the most a timestamp may differ from the server's clock */
#define PLATAUTH_NONCE_S                                                                                               \
    (2 * PLATAUTH_SKEW_S + 2) /* how long a nonce is remembered: longer than a                                         \
                              timestamp is accepted, from either edge */

/* 0 with req->who filled (role ROLE_PLATFORM, user_id the client id, market_id the path's
 * market); or -1 after replying 401 (invalid_signature), 403 (market_not_granted), 404 (a
 * path market that is not an id), 429 (with Retry-After) or 503 (the database or Redis). */
int platauth_check(api_req_t *req, worker_t *w);

#endif
