/*
 * Products: what a stall sells, priced by weight (price_fen per per_g grams, stock in grams)
 * or by count (price_fen per unit, stock in pieces). This file owns the products table: its
 * rules (the validation of what a vendor sends), its SQL and its JSON encoding, and the list
 * cursors of the catalogue (models/market.c pages with them too).
 *
 * Worker threads (or tests) with their own db_t; no HTTP here. JSON documents returned
 * through json_t ** belong to the caller. Strings in a product_input_t are borrowed from the
 * JSON body they were read from and live as long as it does.
 *
 * Deliberately not here: the cache version bump after a write (the caller does it after the
 * model returned, see models/cachever.h), guide prices (models/market.c), stock reservation
 * (the orders' model, with a conditional UPDATE).
 */
#ifndef SF_PRODUCT_H
#define SF_PRODUCT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include "models/store/db.h"

/* Bounds of what a vendor may send. Prices stop at 100,000 yuan: far above any stall's
 * goods, far below any overflow of price_fen * qty. */
#define PRODUCT_NAME_MAX     100        /* code points */
#define PRODUCT_UNIT_MAX     8          /* code points: 个, 把, 盒, bunch, ... */
#define PRODUCT_PRICE_MAX    10000000   /* fen */
#define PRODUCT_PER_G_MAX    100000     /* grams a weight price is quoted for */
#define PRODUCT_STOCK_MAX    1000000000 /* grams or pieces */
#define PRODUCT_TRACE_MAX    64         /* bytes of [A-Za-z0-9._-] */
#define PRODUCT_CODE_MAX     16         /* commodity code: bytes of [A-Z0-9] */
#define PRODUCT_CATEGORY_MAX 32         /* categories.code */
#define PRODUCT_SEARCH_MAX   50         /* code points of a ?q= search */
#define PRODUCT_LIST_MAX     100        /* ?limit= */
#define PRODUCT_LIST_DEFAULT 20

typedef enum product_mode { PRODUCT_WEIGHT = 1, PRODUCT_COUNT = 2 } product_mode_t;

typedef struct product_pricing {
    product_mode_t mode;
    int64_t price_fen;
    int64_t per_g;                       /* weight only, else 0 */
    char unit[PRODUCT_UNIT_MAX * 4 + 1]; /* count only, else "" */
} product_pricing_t;

/* Which fields a create or patch body carried (bits of product_input_t.set). */
enum {
    PRODUCT_F_NAME = 1 << 0,
    PRODUCT_F_CATEGORY = 1 << 1,
    PRODUCT_F_CODE = 1 << 2,
    PRODUCT_F_PRICING = 1 << 3,
    PRODUCT_F_STOCK = 1 << 4,
    PRODUCT_F_ORIGIN = 1 << 5,
    PRODUCT_F_TRACE = 1 << 6,
    PRODUCT_F_STALL = 1 << 7,
    PRODUCT_F_STATUS = 1 << 8,
};

typedef struct product_input {
    unsigned set; /* PRODUCT_F_* */
    const char *name;
    const char *category;
    const char *commodity_code;
    product_pricing_t pricing;
    int64_t stock;
    const char *origin;     /* NULL: none (JSON null) */
    const char *trace_code; /* NULL: none */
    int64_t stall_id;       /* 0: the vendor's first stall */
    int on_sale;
} product_input_t;

/* Why an input was refused: the field's path ("pricing.per_g") and the reason. */
typedef struct product_invalid {
    char field[48];
    const char *reason; /* a string literal */
} product_invalid_t;

typedef enum product_sort { PRODUCT_SORT_ID = 0, PRODUCT_SORT_PRICE, PRODUCT_SORT_SALES } product_sort_t;

/* A page of products. Filters that are NULL or 0 do not apply. */
typedef struct product_query {
    int64_t market_id;
    int64_t vendor_id;    /* 0: every vendor */
    int on_sale_only;     /* the public lists */
    const char *category; /* this category and those below it */
    int64_t stall_id;
    const char *q; /* a substring of the name, taken literally (% and _ too) */
    product_sort_t sort;
    size_t limit;  /* 1..PRODUCT_LIST_MAX */
    int has_after; /* the cursor: after (key, id) in the sort order */
    int64_t after_key, after_id;
} product_query_t;

/* ---- validation (pure, no database) ---- */

/* NULL if v is a JSON string of min..max code points without control characters (or NUL);
 * else the reason. *s (may be NULL) gets the text.
 * Used by the models that still read JSON bodies (product.c, address.c); handlers read text
 * with the validation kit (server/http/valid.h). */
const char *product_check_text(const json_t *v, size_t min, size_t max, const char **s);

/* A LIKE pattern matching q anywhere, with ! % _ escaped for `LIKE ? ESCAPE '!'`. 0, or -1
 * if it does not fit in outlen. */
int product_like_pattern(const char *q, char *out, size_t outlen);

/* Reads and checks a pricing object. 0, or -1 with *bad set. */
int product_check_pricing(const json_t *v, product_pricing_t *out, product_invalid_t *bad);

/* Reads and checks a POST /v1/vendor/products body (unknown fields refused). 0 or -1. */
int product_parse_create(const json_t *body, product_input_t *in, product_invalid_t *bad);

/* Reads and checks a PATCH body: at least one of pricing, stock, status, origin, trace_code,
 * nothing else. 0 or -1. */
int product_parse_patch(const json_t *body, product_input_t *in, product_invalid_t *bad);

/* ---- cursors: models/base/cursor.h is the one codec ---- */

/* The cursor kind of a sort. */
char product_sort_kind(product_sort_t sort);

/* ---- storage ---- */

/* One page (q->limit items) into *items (a JSON array); next_cursor gets the cursor of the
 * next page, or "" at the end. DB_OK or a db error. */
int product_list(db_t *db, const product_query_t *q, json_t **items, char *next_cursor, size_t len);

/* The market of an on-sale product, for the cache version read before the full query.
 * DB_OK, DB_NOROW, or a db error. */
int product_market_of(db_t *db, int64_t id, int64_t *market_id);

/* One product as JSON. With vendor_id 0 only an on-sale product is found (the public view);
 * else only that vendor's of that market, any status. DB_OK, DB_NOROW or a db error. */
int product_get(db_t *db, int64_t id, int64_t market_id, int64_t vendor_id, json_t **out);

/* Creates a vendor's product (the input checked by product_parse_create) in one
 * transaction (db_tx): the vendor must be active, the stall theirs, the category the
 * market's. SF_OK with *id; SF_E_VENDOR_SUSPENDED, SF_E_NO_STALL, SF_E_NOT_YOUR_STALL (field
 * stall_id), SF_E_UNKNOWN_CATEGORY (field category); or a db error. Nothing is written
 * unless SF_OK. d may be NULL. */
sf_status_t product_create(db_t *db, int64_t market_id, int64_t vendor_id, const product_input_t *in, int64_t *id,
                           status_detail_t *d);

/* Applies a patch (checked by product_parse_patch) with one UPDATE scoped by id, vendor and
 * market, in one transaction. SF_OK; SF_E_NOT_FOUND ("no such product") if no such product
 * of this vendor; SF_E_VENDOR_SUSPENDED; or a db error. d may be NULL. */
sf_status_t product_update(db_t *db, int64_t market_id, int64_t vendor_id, int64_t id, const product_input_t *in,
                           status_detail_t *d);

/* The API's pricing object of a row whose columns mode, price_fen, per_g, unit stand at
 * mode_col, mode_col+1, +2, +3: {"mode":"weight","price_fen","per_g"} or
 * {"mode":"count","price_fen","unit"}. The one rendering of pricing (products, carts,
 * order lines). NULL if out of memory. */
json_t *product_pricing_json(const db_rows_t *r, size_t mode_col);

#endif
