/*
 * Addresses: where a consumer wants goods delivered. This file owns the addresses table:
 * the rules of what a consumer may send, its SQL, its JSON, and the straight-line distance
 * checkout uses for the delivery radius. An address belongs to one consumer; it may be tied
 * to one market (usable only for that market's orders) or to none (usable anywhere).
 *
 * Worker threads (or tests) with their own db_t; no HTTP here. json_t ** results belong to
 * the caller; strings in an address_input_t are borrowed from the JSON body they came from.
 *
 * Coordinates are degrees (WGS-84) stored as DECIMAL(9,6): floating point is fine for
 * geography (never for money). address_t carries both the double and the column's exact
 * text, so a snapshot (an order's addr_lat) copies the text and never re-rounds.
 */
#ifndef SF_ADDRESS_H
#define SF_ADDRESS_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

#define ADDRESS_PER_USER  50 /* addresses one consumer may keep */
#define ADDRESS_NAME_MAX  64 /* code points: the addressee */
#define ADDRESS_PHONE_MIN 5  /* bytes of [0-9+-] */
#define ADDRESS_PHONE_MAX 20
#define ADDRESS_TEXT_MAX  255 /* code points: the address as written */

typedef struct address {
    int64_t id;
    int64_t user_id;
    int64_t market_id; /* 0: usable in any market */
    char name[ADDRESS_NAME_MAX * 4 + 1];
    char phone[ADDRESS_PHONE_MAX + 1];
    char text[ADDRESS_TEXT_MAX * 4 + 1];
    double lat, lng;
    char lat_text[16], lng_text[16]; /* the DECIMAL(9,6) columns as MariaDB wrote them */
} address_t;

typedef struct address_input {
    const char *name, *phone, *text;
    double lat, lng;
    int64_t market_id; /* 0: none */
} address_input_t;

/* Why an input was refused: the field and the reason (a string literal). */
typedef struct address_invalid {
    char field[48];
    const char *reason;
} address_invalid_t;

/* Reads and checks a POST /v1/addresses body: name 1..64 code points, phone
 * ^[0-9+-]{5,20}$, text 1..255 code points (no control characters, no leading or trailing
 * space), lat -90..90 and lng -180..180 as JSON numbers, market_id an id or null or
 * absent; unknown fields refused. 0, or -1 with *bad set. */
int address_parse(const json_t *body, address_input_t *in, address_invalid_t *bad);

/* Creates an address in one transaction (db_tx) that holds the consumer's row, so the cap
 * holds under concurrent requests. DB_OK with *id; SF_E_TOO_MANY_ADDRESSES (the consumer
 * already keeps ADDRESS_PER_USER); SF_E_NO_MARKET (market_id names no market); or a db
 * error. Nothing is written unless DB_OK. */
sf_status_t address_create(db_t *db, int64_t user_id, const address_input_t *in, int64_t *id);

/* The consumer's addresses by id (at most ADDRESS_PER_USER) as a JSON array; with
 * market_id > 0 only those usable there (tied to no market, or to that one). DB_OK or a db
 * error. */
int address_list(db_t *db, int64_t user_id, int64_t market_id, json_t **items);

/* One of the consumer's addresses, for checkout. DB_OK; DB_NOROW if it is unknown or
 * another consumer's; or a db error. */
int address_get_for_order(db_t *db, int64_t user_id, int64_t address_id, address_t *out);

/* {id, name, phone, text, lat, lng, market_id|null}; NULL if out of memory. */
json_t *address_json(const address_t *a);

#endif
