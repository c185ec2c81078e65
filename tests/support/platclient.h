/*
 * Test support for the supervision platforms' API: a platform client made by a market's
 * operator over HTTP (POST /v1/admin/platform-clients), and requests signed with
 * models/base/platsig.h as a platform would sign them (h2c). Fails the running Check test on
 * error, except t_platform_request, which returns what came back.
 */
#ifndef SF_PLATCLIENT_H
#define SF_PLATCLIENT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "tests/support/testutil.h"

typedef struct t_platform {
    int64_t id;
    char app_key[64];
    char secret[64];
} t_platform_t;

/* Makes a client through the API with the operator's token, granted market_ids[0..n). */
void t_platform_create(const tserver_t *s, const char *operator_token, const char *scope, const int64_t *market_ids,
                       size_t n, t_platform_t *out);

/* A correctly signed GET of path_query ("/v1/platform/markets/1/transactions?limit=7"), now,
 * with a fresh random nonce. The status; *doc (may be NULL) the parsed answer (decref). */
long t_platform_get(const tserver_t *s, const t_platform_t *c, const char *path_query, json_t **doc);

/* A request with every signed header given as is (NULL: the header is not sent), for the
 * refusal tests. *out is the answer (t_resp_free it). The status. */
long t_platform_request(const tserver_t *s, const char *method, const char *path_query, const char *body,
                        const char *app_key, const char *timestamp, const char *nonce, const char *signature,
                        tresp_t *out);

#endif
