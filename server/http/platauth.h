/*
 * The check of a supervision platform's signed request (API.md "Supervision platforms"), for
 * ROUTE_PLATFORM routes: run_job calls it instead of auth_check. Worker threads.
 *
 * Order: the four headers well-formed (X-App-Key, X-Timestamp in Unix seconds, X-Nonce of 8
 * to 64 characters of [A-Za-z0-9._~-], X-Signature) → the timestamp within ±300 s of now →
 * the client and whether the path's market is granted (one SQL query, platform_lookup) →
 * the signature (models/base/platsig.h over the method, the raw path, the raw query, the raw
 * body) against the current secret and, while valid, the previous one, compared in constant
 * time → only then, in one Redis call (a script), the nonce (once per client in 10 minutes)
 * and the client's rate (platform.rate_per_min per minute, from its first request).
 *
 * Every refusal of the key, the time, the nonce or the signature is the same 401
 * invalid_signature, with the same message; the server log says which at info level (with
 * the app key, never the secret or the signature). A client refused for its rate does not
 * spend its nonce, so the same signed request may be sent again after Retry-After.
 */
#ifndef SF_PLATAUTH_H
#define SF_PLATAUTH_H

#include "server/http/api.h"
#include "server/http/pool.h"

#define PLATAUTH_SKEW_S  300 /* the most a timestamp may differ from the server's clock */
#define PLATAUTH_NONCE_S 600 /* how long a nonce is remembered (twice the skew) */

/* 0 with req->who filled (role ROLE_PLATFORM, user_id the client id, market_id the path's
 * market); or -1 after replying 401 (invalid_signature), 403 (market_not_granted), 404 (a
 * path market that is not an id), 429 (with Retry-After) or 503 (the database or Redis). */
int platauth_check(api_req_t *req, worker_t *w);

#endif
