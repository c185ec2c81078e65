/*
 * Money and quantity arithmetic, in one place: every amount is int64 fen, every weight
 * int64 grams, no floating point anywhere. Each rounding rule of the trade is written here
 * once (API.md "Products and quantities", DOMAIN.md "weighed goods"), and every operation
 * refuses to overflow instead of wrapping. Pure functions: any thread.
 */
#ifndef SF_MONEY_H
#define SF_MONEY_H

#include <stddef.h>
#include <stdint.h>

typedef enum money_status {
    MONEY_OK = 0,
    MONEY_OVERFLOW = -1, /* the result does not fit in int64 */
    MONEY_INVALID = -2,  /* a negative amount or quantity, a zero divisor, malformed text */
} money_status_t;

/* A weighed line: price_fen per per_g grams, qty_g grams, rounded half up to a whole fen:
 * amount = floor((price_fen * qty_g * 2 + per_g) / (2 * per_g)). */
int money_line_weight(int64_t price_fen, int64_t per_g, int64_t qty_g, int64_t *amount);

/* A counted line: price_fen per piece, qty pieces. */
int money_line_count(int64_t price_fen, int64_t qty, int64_t *amount);

/* a + b, both non-negative. */
int money_add(int64_t a, int64_t b, int64_t *sum);

/* The delivery fee for goods worth items_fen: flat_fen, or 0 from free_from_fen up
 * (free_from_fen 0: never free). */
int64_t money_delivery_fee(int64_t items_fen, int64_t flat_fen, int64_t free_from_fen);

/* What a weighed line costs once weighed ("多退少补", bounded): the amount of qty_actual_g,
 * but never more than the amount agreed for qty_g. *refund is what goes back. */
int money_line_weighed(int64_t price_fen, int64_t per_g, int64_t qty_g, int64_t qty_actual_g, int64_t *amount_actual,
                       int64_t *refund);

/* Parses a decimal yuan amount as payment providers write it ("12", "12.3", "12.30") into
 * fen, exactly: no sign, no exponent, no spaces, at most two decimals, at most 15 integer
 * digits. */
int money_parse_yuan(const char *s, size_t len, int64_t *fen);

/* Writes fen as yuan with two decimals ("12.30") into buf. MONEY_OK, or MONEY_INVALID for a
 * negative amount or a buffer that is too small. */
int money_format_yuan(int64_t fen, char *buf, size_t buflen);

#endif
