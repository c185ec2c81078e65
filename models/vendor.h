/*
 * Vendors as the market centre keeps them: the vendor record (经营者, contact, business
 * scope, credit level, status), its licences, its staff with their health certificates, the
 * stalls of the market and which vendor trades at each, and the vendor's sign-in account.
 * Every function is scoped by market_id: a row of another market is "not found".
 *
 * Worker threads (or tests) with their own db_t. Input is already validated by the caller
 * (handlers/operator.c); this file enforces what only the database can tell: a stall number
 * taken, a stall held by another vendor, a username taken. Multi-row writes run in one
 * transaction (db_tx): on any failure nothing is written. Rendered JSON (*out) is the caller's to
 * decref. No HTTP here, and no cache bump: the caller bumps after a successful return.
 */
#ifndef SF_VENDOR_H
#define SF_VENDOR_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

#define VENDOR_MAX_STALLS   16  /* stalls one vendor may hold: a big vendor has a few */
#define VENDOR_MAX_LICENCES 10  /* business licence, food licence, ... */
#define VENDOR_MAX_STAFF    100 /* staff records per vendor, so the public record stays small */
#define VENDOR_LIST_MAX     100 /* most items on a page of a list */

/* Outcomes (models/base/status.h): SF_OK; SF_E_NOT_FOUND (no such vendor in this market);
 * SF_E_STALL_NO_TAKEN, SF_E_STALL_TAKEN, SF_E_UNKNOWN_STALL, SF_E_USERNAME_TAKEN,
 * SF_E_STALL_HAS_PRODUCTS, SF_E_TOO_MANY_STAFF; SF_E_DB_GONE or SF_E_DEADLOCK (nothing
 * written, try again); SF_E_INTERNAL (the db_t says why). A refusal about one stall carries
 * details {"field": "stall_ids", "stall_id": id} in the status_detail_t (d may be NULL). */

typedef struct vendor_licence {
    const char *type;        /* 1-32 of [a-z_] */
    const char *number;      /* 1-64 printable */
    const char *valid_until; /* YYYY-MM-DD, a real date */
} vendor_licence_t;

/* A vendor to create, or the fields of a change (NULL / has_* = 0: not given). */
typedef struct vendor_input {
    const char *name;
    const char *contact_phone;
    const char *business_scope;
    const char *credit_level; /* "A".."D" */
    const char *status;       /* change only: "active", "suspended", "closed" */
    int has_stalls;           /* stall_ids given: the vendor holds exactly these */
    size_t nstalls;
    int64_t stall_ids[VENDOR_MAX_STALLS]; /* distinct */
    int has_licences;                     /* licences given: they replace the old list */
    size_t nlicences;
    vendor_licence_t licences[VENDOR_MAX_LICENCES];
    const char *username; /* create only */
    const char *password; /* create only */
} vendor_input_t;

typedef struct vendor_staff_new {
    const char *name;
    const char *certificate;
    const char *valid_until; /* YYYY-MM-DD */
} vendor_staff_new_t;

/* Creates a stall without a vendor. *out: {id, stall_no, zone, map{x,y}, vendor_id: null}.
 * SF_E_STALL_NO_TAKEN (field stall_no) if the number is used in the market (compared
 * case-insensitively). */
sf_status_t vendor_stall_create(db_t *db, int64_t market_id, const char *stall_no, const char *zone, int64_t x,
                                int64_t y, json_t **out, status_detail_t *d);

/* Creates the vendor, its licences, its stall assignments and its user (role vendor) in one
 * transaction. *out: the vendor record (vendor_render). On SF_E_STALL_TAKEN or
 * SF_E_UNKNOWN_STALL d names the stall. Nothing is written on failure. */
sf_status_t vendor_create(db_t *db, int64_t market_id, const vendor_input_t *in, json_t **out, status_detail_t *d);

/* Changes the given fields in one transaction; stall_ids and licences replace what the
 * vendor had. A stall no longer listed is released unless it still holds products of this
 * vendor (SF_E_STALL_HAS_PRODUCTS). *out: the vendor record after the change. */
sf_status_t vendor_update(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_input_t *in, json_t **out,
                          status_detail_t *d);

/* Adds a staff member. *out: {id, vendor_id, name, certificate, valid_until, valid}, where
 * valid is whether valid_until is today (+08:00) or later. */
sf_status_t vendor_staff_add(db_t *db, int64_t market_id, int64_t vendor_id, const vendor_staff_new_t *s, json_t **out,
                             status_detail_t *d);

/* The vendor record: {id, market_id, name, contact_phone, business_scope, credit_level,
 * status, stall_ids[], licences[{id, type, number, valid_until}], staff[...], user_id,
 * username, created_at}. Never the password. SF_E_NOT_FOUND outside the market (d's reason
 * says "no such vendor in this market"). */
sf_status_t vendor_render(db_t *db, int64_t market_id, int64_t vendor_id, json_t **out, status_detail_t *d);

/* The vendor's own record for its dashboard: vendor_render's record plus vendor_id (= id)
 * and stalls [{id, stall_no, zone}] (the stalls of stall_ids), in the same four statements. */
sf_status_t vendor_profile(db_t *db, int64_t market_id, int64_t vendor_id, json_t **out, status_detail_t *d);

#define VENDOR_EXPIRING_DAYS_MAX 365
#define VENDOR_EXPIRING_MAX      1000 /* items of vendor_expiring: the soonest ones */

/* What the market centre must have renewed: the licences of the market's vendors and their
 * staff's health certificates whose valid_until is at most within_days (0..365) after today
 * (+08:00), those already expired included. Vendors active or suspended (a suspended vendor
 * needs valid papers to reopen); closed ones are left out. [{vendor_id, vendor_name,
 * vendor_status, stall_nos [...], kind "licence" | "health_certificate", label (the licence's
 * type, or the staff member's name), number (the licence's or the certificate's), valid_until,
 * days_left (negative once expired)}], by valid_until, then vendor, licences before
 * certificates, then id; at most VENDOR_EXPIRING_MAX. One statement. */
sf_status_t vendor_expiring(db_t *db, int64_t market_id, int within_days, json_t **items);

/* A page of the market's vendors by id: those after after_id (0: from the first), at most
 * limit (1-VENDOR_LIST_MAX), each as vendor_render makes it. status ("active", "suspended", "closed")
 * and like (a LIKE pattern on the name, ESCAPE '!') are filters when not NULL. *items is the
 * caller's; *next_after is the last id shown when more follow, else 0. */
sf_status_t vendor_list(db_t *db, int64_t market_id, const char *status, const char *like, int64_t after_id,
                        size_t limit, json_t **items, int64_t *next_after);

/* A page of the market's stalls by id, as vendor_stall_create answers them (vendor_id null
 * when free); the same paging as vendor_list. */
sf_status_t vendor_stall_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items,
                              int64_t *next_after);

#endif
