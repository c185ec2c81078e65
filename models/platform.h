/*
 * Supervision-platform clients (sql/0007_sales.sql platform_clients): made by a market's
 * operator with a scope and the markets granted (only the operator's own market may be
 * granted), disabled, rotated. The secret is 32 random bytes as base64url (43 characters),
 * shown once; it is kept sealed with AES-256-GCM under server_keys 'seal' and unsealed only
 * to verify a signature. Nothing here logs or returns a secret except the answer of create
 * and rotate.
 */
#ifndef SF_PLATFORM_H
#define SF_PLATFORM_H

#include <jansson.h>
#include <stdint.h>
#include "models/base/status.h"
#include "models/store/db.h"

#define PLATFORM_SECRET_LEN  43 /* base64url of 32 bytes */
#define PLATFORM_APP_KEY_LEN 24 /* "pk_" and 21 base64url characters */

/* The client, as verification needs it (platform_lookup). */
typedef struct platform_client {
    int64_t id;
    int active;
    char secret[PLATFORM_SECRET_LEN + 1];      /* unsealed; cleanse after use */
    char prev_secret[PLATFORM_SECRET_LEN + 1]; /* "" when none is valid now */
} platform_client_t;

/* Looks the app key up; SF_E_BAD_SIGNATURE when unknown. Fills c (the caller cleanses it). */
sf_status_t platform_lookup(db_t *db, const char *app_key, platform_client_t *c);

/* Whether the client is granted the market: SF_OK, or SF_E_MARKET_NOT_GRANTED. */
sf_status_t platform_granted(db_t *db, int64_t client_id, int64_t market_id);

#endif
