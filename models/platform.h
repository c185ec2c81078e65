/*
 * Supervision-platform clients (sql/0007_sales.sql platform_clients): made by a market's
 * operator with a scope and the markets granted (only the operator's own market may be
 * granted), disabled and enabled, rotated. The secret is 32 random bytes as base64url (43
 * characters), shown once; it is kept sealed with AES-256-GCM under server_keys 'seal'
 * (12-byte nonce || ciphertext || 16-byte tag, the app key as associated data, so a sealed
 * secret moved to another row does not open) and unsealed only to verify a signature.
 * Nothing here logs or returns a secret except the answers of create and rotate.
 *
 * The seal key is read from the database once per process (the first call that needs it,
 * under a lock) and kept for the life of the process. Worker threads: each call uses the
 * caller's own connection.
 */
#ifndef SF_PLATFORM_H
#define SF_PLATFORM_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/base/status.h"
#include "models/store/db.h"

#define PLATFORM_SECRET_LEN  43 /* base64url of 32 bytes */
#define PLATFORM_APP_KEY_LEN 24 /* "pk_" and 21 base64url characters */
#define PLATFORM_MAX_MARKETS 16 /* market_ids of one client */
#define PLATFORM_LIST_MAX    100
#define PLATFORM_CURSOR_KIND 'k' /* the operator's list, in models/base/cursor.h's codec */

/* What the operator gives to make a client (validated by the handler: name 1..100, scope
 * "district" or "city", 1..PLATFORM_MAX_MARKETS distinct positive ids). */
typedef struct platform_new {
    const char *name;
    const char *scope;
    const int64_t *market_ids;
    size_t nmarkets;
} platform_new_t;

/* The client, as verification needs it (platform_lookup). */
typedef struct platform_client {
    int64_t id;
    int active;                                /* status 'active' */
    int granted;                               /* the market asked about is granted */
    char secret[PLATFORM_SECRET_LEN + 1];      /* unsealed; cleanse after use */
    char prev_secret[PLATFORM_SECRET_LEN + 1]; /* "" when none is valid now */
    int unopened;                              /* a stored secret did not open (another seal key, a changed row): both
                                                  secrets are then "", nothing matches; the caller logs it as an error */
} platform_client_t;

/* Makes a client of the operator's market with its grants, in one transaction. Every id of
 * in->market_ids must be market_id: another existing market is SF_E_MARKET_NOT_GRANTED, an
 * unknown one SF_E_INVALID (d names market_ids[i] either way). *doc: {id, app_key, secret,
 * name, scope, market_ids, status, created_at}, the only answer that shows the secret. */
sf_status_t platform_create(db_t *db, int64_t market_id, int64_t operator_id, const platform_new_t *in, json_t **doc,
                            status_detail_t *d);

/* The market's clients by id after after_id, at most limit (1..PLATFORM_LIST_MAX): each
 * {id, app_key, name, scope, market_ids, status, created_at, rotated_at, disabled_at,
 * previous_valid_until}, never a secret. *next_after: the id to continue after, 0 at the end. */
sf_status_t platform_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items,
                          int64_t *next_after);

/* Disables (enable 0) or enables (1) a client of the market: SF_E_NOT_FOUND for another
 * market's or an unknown id, SF_E_CLIENT_STATE when it already is. *doc: the client as listed. */
sf_status_t platform_set_status(db_t *db, int64_t market_id, int64_t id, int enable, json_t **doc);

/* Gives a client of the market a new secret. revoke_previous 0: the current one stays valid
 * grace_s seconds more as the previous one; refused with SF_E_CLIENT_STATE (d's reason says
 * until when) while an earlier previous secret is still valid, since replacing it would cut
 * the platform's deployed secret off at once. revoke_previous 1: no previous secret stays
 * valid (the current one and any previous one stop now: the cut-off for a leaked secret).
 * *doc: {id, app_key, secret, previous_valid_until} (null when revoked). SF_E_NOT_FOUND for
 * another market's or an unknown id. */
sf_status_t platform_rotate(db_t *db, int64_t market_id, int64_t id, int grace_s, int revoke_previous, json_t **doc,
                            status_detail_t *d);

/* Verification's one query: the client of app_key (any status: c->active says), its secrets
 * unsealed (the previous one only while valid), and whether market_id is granted to it.
 * app_key is compared byte for byte (the column is ascii_bin). SF_E_BAD_SIGNATURE when the
 * key is unknown; SF_OK with c->unopened set when a stored secret does not open. c is cleansed on every outcome but
 * SF_OK; on SF_OK the caller cleanses it (platform_client_cleanse). */
sf_status_t platform_lookup(db_t *db, const char *app_key, int64_t market_id, platform_client_t *c);

/* Wipes the secrets of c. */
void platform_client_cleanse(platform_client_t *c);

/* The market as a platform sees it, from one query: {id, code, name, address, lat, lng,
 * area_code, open_hours, stall_count, stalls_occupied, vendor_count, active_vendor_count}.
 * SF_E_NOT_FOUND for no such market. */
sf_status_t platform_market_profile(db_t *db, int64_t market_id, json_t **doc);

/* Sealing, exposed for the unit tests: seals the NUL-terminated secret under the 32-byte key
 * with aad into out (outlen >= 12 + strlen + 16); *outn gets the length. 0 or -1. */
int platform_seal(const unsigned char key[32], const char *aad, const char *secret, unsigned char *out, size_t outlen,
                  size_t *outn);

/* Opens what platform_seal made into secret (secretlen > the plaintext), NUL-terminated.
 * 0, or -1 when it does not open (wrong key, aad, or a changed byte). */
int platform_unseal(const unsigned char key[32], const char *aad, const unsigned char *in, size_t inn, char *secret,
                    size_t secretlen);

#endif
