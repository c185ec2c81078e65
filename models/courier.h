/*
 * Couriers of a market: the courier record (name, phone, status) and its sign-in account.
 * This file creates and lists them (the operator's /v1/admin/couriers); shifts, positions
 * and deliveries belong to the courier and delivery models. Scoped by market_id.
 *
 * Worker threads (or tests) with their own db_t; input already validated by the caller.
 * Rendered JSON (*out) is the caller's to decref. No HTTP here.
 */
#ifndef SF_COURIER_H
#define SF_COURIER_H

#include <jansson.h>
#include <stdint.h>
#include "models/store/db.h"

/* Outcomes (models/base/status.h): SF_OK; SF_E_USERNAME_TAKEN (field username);
 * SF_E_DB_GONE or SF_E_DEADLOCK (nothing written, try again); SF_E_INTERNAL. */

typedef struct courier_new {
    const char *name;     /* 1-64 characters */
    const char *phone;    /* ^[0-9+-]{5,20}$ */
    const char *username; /* 3-64 of [A-Za-z0-9_.-] */
    const char *password; /* 8-128 */
} courier_new_t;

/* Creates the courier and its user (role courier) in one transaction; nothing is written on
 * failure. *out: {id, market_id, name, phone, status, user_id, username}. d may be NULL. */
sf_status_t courier_create(db_t *db, int64_t market_id, const courier_new_t *c, json_t **out, status_detail_t *d);

/* A page of the market's couriers by id, each {id, name, phone, status}: those after
 * after_id (0: from the first), at most limit (1-100). *items is the caller's; *next_after
 * is the last id shown when more follow, else 0. */
sf_status_t courier_list(db_t *db, int64_t market_id, int64_t after_id, size_t limit, json_t **items,
                         int64_t *next_after);

#endif
