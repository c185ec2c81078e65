/*
 * Bearer-token authentication for routes that admit roles (router.h ROUTE_<ROLE> flags).
 * Runs on a worker thread before the handler: reads `Authorization: Bearer <token>`, looks
 * the session up in Redis by the token's SHA-256 (the token itself is never stored), and
 * fills req->who. Tokens are opaque random 256-bit values, base64url, issued by
 * auth_issue(); a session expires after its TTL and is revoked by auth_revoke().
 */
#ifndef SF_AUTH_H
#define SF_AUTH_H

#include <stddef.h>
#include "server/http/api.h"
#include "server/http/pool.h"

/* A session lives auth.token_ttl_s seconds (config.h; 7 days by default) and is not renewed. */

/* Checks the caller against `roles` (ROUTE_<ROLE> bits). 0 with req->who filled; or -1
 * after replying 401 (no, malformed, unknown or expired token) or 403 (a role the route
 * does not admit), or 503 if Redis cannot be asked. */
int auth_check(api_req_t *req, worker_t *w, int roles);

/* Creates a session for `who` and writes its token (NUL-terminated, at most 64 chars) into
 * token. 0, or -1 if Redis failed. */
int auth_issue(redis_t *r, const principal_t *who, char *token, size_t tokenlen);

/* The same with a lifetime of its own (ttl_s ≥ 1 seconds), for a session a command hands to
 * a program for minutes (stallfront report). */
int auth_issue_for(redis_t *r, const principal_t *who, int ttl_s, char *token, size_t tokenlen);

/* Deletes the session with this token hash. 0, or -1 if Redis failed. */
int auth_revoke(redis_t *r, const char *token_hash);

/* Deletes the session of this token (as auth_issue wrote it). 0, or -1 if it is not such a
 * token or Redis failed. */
int auth_revoke_token(redis_t *r, const char *token);

#endif
