/*
 * Carts (see cart.h): the Redis hash of a consumer's lines in one market, and the view of
 * it priced from MariaDB.
 *
 * Why MULTI/EXEC for every change: HSET and EXPIRE queued in one transaction run together
 * or not at all (a connection lost before EXEC discards both), so no cart key ever lives
 * without its TTL, and the TTL restarts on every change as "7 days since its last change"
 * wants. A read does not touch the TTL: looking at a cart is not changing it.
 *
 * Why WATCH when a line is set: the cap (CART_MAX_LINES) is checked with HEXISTS and HLEN
 * before HSET; WATCH makes the EXEC fail if another request of the same consumer changed
 * the cart in between, and the check runs again (CART_SET_TRIES times at most). Lua would
 * do it in one round trip too, but a script is one more thing to load on every Redis the
 * server meets; two more round trips on a consumer's click are cheap.
 *
 * Why the IN list is padded: the product query has one `?` per line, and the db layer
 * caches a prepared statement per SQL text. Padding the list to the next of a few sizes
 * (repeating the last id, which changes nothing) keeps that to 8 statements per
 * connection, not 100. The SQL text is built from the count only, never from input.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/cart.h"
#include "models/product.h"
#include "models/base/money.h"

#define CART_SET_TRIES 5  /* WATCH rounds before giving up with SF_E_BUSY */
#define CART_RACED     1  /* exec(): a WATCHed key changed, nothing ran */
#define KEY_MAX        64 /* "cart:<id>:<id>" */
#define SQL_MAX        1024

/* ================================================================ validation */

static int invalid(cart_invalid_t *bad, const char *field, const char *reason)
{
    size_t n = strlen(field);
    if (n >= sizeof(bad->field)) { /* a key from the input: cut on a code point boundary */
        n = sizeof(bad->field) - 1;
        while (n > 0 && ((unsigned char)field[n] & 0xC0) == 0x80)
            n--;
    }
    snprintf(bad->field, sizeof(bad->field), "%.*s", (int)n, field);
    bad->reason = reason;
    return -1;
}

int cart_parse_put(const json_t *body, int64_t *qty, int64_t *market_id, cart_invalid_t *bad)
{
    const char *key;
    json_t *v;
    *qty = 0;
    *market_id = 0;
    if (!json_is_object(body))
        return invalid(bad, "", "must be a JSON object");
    json_object_foreach((json_t *)body, key, v)
    {
        if (strcmp(key, "qty") != 0 && strcmp(key, "market_id") != 0)
            return invalid(bad, key, "unknown field");
    }
    v = json_object_get(body, "qty");
    if (v == NULL)
        return invalid(bad, "qty", "is required");
    if (!json_is_integer(v))
        return invalid(bad, "qty", "must be an integer (grams or pieces)");
    if (json_integer_value(v) < 0)
        return invalid(bad, "qty", "must be >= 0");
    if (json_integer_value(v) > CART_QTY_MAX)
        return invalid(bad, "qty", "too large");
    *qty = (int64_t)json_integer_value(v);
    v = json_object_get(body, "market_id");
    if (v == NULL || json_is_null(v))
        return 0;
    if (!json_is_integer(v) || json_integer_value(v) < 1 || json_integer_value(v) > (INT64_C(1) << 53))
        return invalid(bad, "market_id", "must be a market id");
    *market_id = (int64_t)json_integer_value(v);
    return 0;
}

/* ================================================================ Redis */

static void cart_key(char *key, int64_t user_id, int64_t market_id)
{
    snprintf(key, KEY_MAX, "cart:%lld:%lld", (long long)user_id, (long long)market_id);
}

/* Keeps a reply of the expected type; otherwise frees it, notes why in r->err, NULL. */
static redisReply *expect(redis_t *r, redisReply *rep, int type, const char *what)
{
    if (rep == NULL)
        return NULL; /* r->err already says why */
    if (rep->type == type)
        return rep;
    snprintf(r->err, sizeof(r->err), "%s: %s", what,
             rep->type == REDIS_REPLY_ERROR && rep->str != NULL ? rep->str : "unexpected reply");
    freeReplyObject(rep);
    return NULL;
}

/* 1..max as written by cart_set (decimal, no sign, no leading zero); -1 otherwise. */
static int64_t parse_pos(const char *s, size_t len, int64_t max)
{
    int64_t v = 0;
    if (len == 0 || len > 16 || s[0] == '0')
        return -1;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v <= max ? v : -1;
}

static int by_product(const void *a, const void *b)
{
    const cart_line_t *x = a, *y = b;
    return (x->product_id > y->product_id) - (x->product_id < y->product_id);
}

int cart_load(redis_t *r, int64_t user_id, int64_t market_id, cart_line_t *lines, size_t *n)
{
    char key[KEY_MAX];
    int rc = -1;
    cart_line_t *all = NULL;
    size_t k = 0;
    *n = 0;
    cart_key(key, user_id, market_id);
    redisReply *rep = expect(r, redis_cmd(r, "HGETALL %s", key), REDIS_REPLY_ARRAY, "cart HGETALL");
    if (rep == NULL)
        goto out;
    if (rep->elements > 0 && (all = calloc(rep->elements / 2, sizeof(*all))) == NULL)
        goto out;
    for (size_t i = 0; i + 1 < rep->elements; i += 2) {
        redisReply *f = rep->element[i], *v = rep->element[i + 1];
        if (f->type != REDIS_REPLY_STRING || v->type != REDIS_REPLY_STRING)
            continue;
        int64_t id = parse_pos(f->str, f->len, INT64_C(1) << 53), qty = parse_pos(v->str, v->len, CART_QTY_MAX);
        if (id > 0 && qty > 0)
            all[k++] = (cart_line_t){.product_id = id, .qty = qty};
    }
    if (k > 0)
        qsort(all, k, sizeof(*all), by_product);
    *n = k < CART_MAX_LINES ? k : CART_MAX_LINES; /* cart_set keeps it there; bounded anyway */
    if (*n > 0)
        memcpy(lines, all, *n * sizeof(*all));
    rc = 0;
out:
    free(all);
    if (rep != NULL)
        freeReplyObject(rep);
    return rc;
}

int cart_clear(redis_t *r, int64_t user_id, int64_t market_id)
{
    char key[KEY_MAX];
    cart_key(key, user_id, market_id);
    redisReply *rep = expect(r, redis_cmd(r, "DEL %s", key), REDIS_REPLY_INTEGER, "cart DEL");
    if (rep == NULL)
        return -1;
    freeReplyObject(rep);
    return 0;
}

/* Runs a command whose reply must be of a type, and forgets the reply. 0 or -1. */
static int run(redis_t *r, redisReply *rep, int type, const char *what)
{
    if ((rep = expect(r, rep, type, what)) == NULL)
        return -1;
    freeReplyObject(rep);
    return 0;
}

/* An integer reply into *v. 0 or -1. */
static int run_int(redis_t *r, redisReply *rep, const char *what, long long *v)
{
    if ((rep = expect(r, rep, REDIS_REPLY_INTEGER, what)) == NULL)
        return -1;
    *v = rep->integer;
    freeReplyObject(rep);
    return 0;
}

/* EXEC of a MULTI whose queued commands must all have succeeded. 0; CART_RACED when a
 * WATCHed key changed (nil reply: nothing ran); -1 otherwise. */
static int exec(redis_t *r)
{
    redisReply *rep = redis_cmd(r, "EXEC");
    int rc = -1;
    if (rep == NULL)
        return -1;
    if (rep->type == REDIS_REPLY_NIL) {
        rc = CART_RACED;
    } else if (rep->type == REDIS_REPLY_ARRAY) {
        rc = 0;
        for (size_t i = 0; i < rep->elements; i++)
            if (rep->element[i]->type == REDIS_REPLY_ERROR) {
                snprintf(r->err, sizeof(r->err), "cart EXEC: %s", rep->element[i]->str);
                rc = -1;
            }
    } else {
        snprintf(r->err, sizeof(r->err), "cart EXEC: %s",
                 rep->type == REDIS_REPLY_ERROR && rep->str != NULL ? rep->str : "unexpected reply");
    }
    freeReplyObject(rep);
    return rc;
}

/* Sends a command whose answer does not matter (UNWATCH, DISCARD): on a dropped connection
 * the server forgot the WATCH or the MULTI anyway. */
static void quietly(redis_t *r, const char *cmd)
{
    redisReply *rep = redis_cmd(r, "%s", cmd);
    if (rep != NULL)
        freeReplyObject(rep);
}

/* Ends a MULTI whose change was queued (queued 1) with the EXPIRE that keeps the key from
 * outliving its TTL, and runs both; DISCARDs instead if anything failed to queue. */
static int commit(redis_t *r, const char *key, int queued)
{
    if (!queued || run(r, redis_cmd(r, "EXPIRE %s %d", key, CART_TTL_S), REDIS_REPLY_STATUS, "cart EXPIRE") != 0) {
        quietly(r, "DISCARD");
        return -1;
    }
    return exec(r);
}

/* One round of cart_set: WATCH, check the cap, MULTI/HSET/EXPIRE/EXEC. */
static sf_status_t set_once(redis_t *r, const char *key, int64_t product_id, int64_t qty)
{
    long long exists = 0, len = 0;
    if (run(r, redis_cmd(r, "WATCH %s", key), REDIS_REPLY_STATUS, "cart WATCH") != 0)
        return SF_E_UNAVAILABLE;
    if (run_int(r, redis_cmd(r, "HEXISTS %s %lld", key, (long long)product_id), "cart HEXISTS", &exists) != 0 ||
        run_int(r, redis_cmd(r, "HLEN %s", key), "cart HLEN", &len) != 0) {
        quietly(r, "UNWATCH");
        return SF_E_UNAVAILABLE;
    }
    if (!exists && len >= CART_MAX_LINES) {
        quietly(r, "UNWATCH");
        return SF_E_CART_FULL;
    }
    if (run(r, redis_cmd(r, "MULTI"), REDIS_REPLY_STATUS, "cart MULTI") != 0) {
        quietly(r, "UNWATCH");
        return SF_E_UNAVAILABLE;
    }
    int queued = run(r, redis_cmd(r, "HSET %s %lld %lld", key, (long long)product_id, (long long)qty),
                     REDIS_REPLY_STATUS, "cart HSET") == 0;
    int rc = commit(r, key, queued); /* EXEC and DISCARD both end the WATCH */
    return rc == 0 ? SF_OK : rc == CART_RACED ? SF_E_BUSY : SF_E_UNAVAILABLE;
}

sf_status_t cart_set(redis_t *r, int64_t user_id, int64_t market_id, int64_t product_id, int64_t qty)
{
    char key[KEY_MAX];
    if (qty == 0)
        return cart_remove(r, user_id, market_id, product_id) == 0 ? SF_OK : SF_E_UNAVAILABLE;
    if (qty < 0 || qty > CART_QTY_MAX || product_id <= 0) {
        snprintf(r->err, sizeof(r->err), "cart_set: quantity %lld out of range", (long long)qty);
        return SF_E_INVALID;
    }
    cart_key(key, user_id, market_id);
    for (int i = 0; i < CART_SET_TRIES; i++) {
        sf_status_t rc = set_once(r, key, product_id, qty);
        if (rc != SF_E_BUSY)
            return rc;
    }
    snprintf(r->err, sizeof(r->err), "cart_set: the cart kept changing");
    return SF_E_BUSY;
}

int cart_remove(redis_t *r, int64_t user_id, int64_t market_id, int64_t product_id)
{
    char key[KEY_MAX];
    cart_key(key, user_id, market_id);
    if (run(r, redis_cmd(r, "MULTI"), REDIS_REPLY_STATUS, "cart MULTI") != 0)
        return -1;
    /* EXPIRE on a key HDEL just emptied (and so deleted) is a no-op: fine. */
    int queued = run(r, redis_cmd(r, "HDEL %s %lld", key, (long long)product_id), REDIS_REPLY_STATUS, "cart HDEL") == 0;
    return commit(r, key, queued) == 0 ? 0 : -1;
}

/* ================================================================ MariaDB */

int cart_product_get(db_t *db, int64_t product_id, cart_product_t *out)
{
    db_rows_t *rows = NULL;
    int rc = db_query_row(db,
                          "SELECT p.id, p.market_id, p.stock, p.status = 'on_sale', v.status = 'active'"
                          " FROM products p JOIN vendors v ON v.id = p.vendor_id WHERE p.id = ?",
                          (db_param_t[]){DB_I64(product_id)}, 1, &rows);
    if (rc == DB_OK)
        *out = (cart_product_t){.id = db_rows_i64(rows, 0),
                                .market_id = db_rows_i64(rows, 1),
                                .stock = db_rows_i64(rows, 2),
                                .on_sale = db_rows_i64(rows, 3) == 1,
                                .vendor_active = db_rows_i64(rows, 4) == 1};
    db_rows_free(rows);
    return rc;
}

/* Columns of the view query, in this order. */
enum { C_ID, C_NAME, C_STALL, C_MODE, C_PRICE, C_PER_G, C_UNIT, C_STOCK, C_ON_SALE, C_VENDOR_ACTIVE };

#define VIEW_SQL                                                                                                       \
    "SELECT p.id, p.name, p.stall_id, p.pricing_mode, p.price_fen, p.per_g, p.unit, p.stock,"                          \
    " p.status = 'on_sale', v.status = 'active'"                                                                       \
    " FROM products p JOIN vendors v ON v.id = p.vendor_id WHERE p.market_id = ? AND p.id IN ("

/* The IN list's length for n ids: the next of 1, 2, 4, ... 64, then CART_MAX_LINES. */
static size_t padded(size_t n)
{
    size_t k = 1;
    while (k < n && k < 64)
        k *= 2;
    return n > k ? CART_MAX_LINES : k;
}

/* Reads the products of the lines (sorted, 1..CART_MAX_LINES of them) in one query. */
static int read_products(db_t *db, int64_t market_id, const cart_line_t *lines, size_t n, db_rows_t **rows)
{
    char sql[SQL_MAX];
    db_param_t p[CART_MAX_LINES + 1];
    size_t k = padded(n), off = (size_t)snprintf(sql, sizeof(sql), "%s", VIEW_SQL);
    p[0] = DB_I64(market_id);
    for (size_t i = 0; i < k; i++) {
        p[i + 1] = DB_I64(lines[i < n ? i : n - 1].product_id);
        off += (size_t)snprintf(sql + off, sizeof(sql) - off, i == 0 ? "?" : ",?");
    }
    snprintf(sql + off, sizeof(sql) - off, ") ORDER BY p.id");
    return db_query(db, sql, p, k + 1, rows);
}

/* The amount of a line at the product's current price. MONEY_OK or a money status. */
static int line_amount(const db_rows_t *r, int64_t qty, int64_t *amount)
{
    int64_t price = db_rows_i64(r, C_PRICE);
    if (strcmp(db_rows_str(r, C_MODE, NULL), "weight") == 0)
        return money_line_weight(price, db_rows_i64(r, C_PER_G), qty, amount);
    return money_line_count(price, qty, amount);
}

/* Why a line cannot be bought now, or NULL. The vendor first: a suspended stall takes all
 * its goods off at once, whatever each product says. */
static const char *unavailable(const db_rows_t *r, int64_t qty)
{
    if (db_rows_i64(r, C_VENDOR_ACTIVE) != 1)
        return "vendor_suspended";
    if (db_rows_i64(r, C_ON_SALE) != 1)
        return "off_sale";
    if (db_rows_i64(r, C_STOCK) < qty)
        return "out_of_stock";
    return NULL;
}

/* The JSON of a line whose product row is r (NULL: gone); adds an available line's amount
 * to *items_fen. NULL if out of memory or the amount overflows. */
static json_t *line_json(const db_rows_t *r, const cart_line_t *l, int64_t *items_fen)
{
    int64_t amount;
    if (r == NULL)
        return json_pack("{s:I, s:n, s:n, s:I, s:n, s:n, s:b, s:s}", "product_id", (json_int_t)l->product_id, "name",
                         "stall_id", "qty", (json_int_t)l->qty, "pricing", "amount_fen", "available", 0, "reason",
                         "gone");
    const char *why = unavailable(r, l->qty);
    if (line_amount(r, l->qty, &amount) != MONEY_OK || (why == NULL && money_add(*items_fen, amount, items_fen) != 0))
        return NULL;
    json_t *line = json_pack("{s:I, s:s?, s:I, s:I, s:o, s:I, s:b}", "product_id", (json_int_t)l->product_id, "name",
                             db_rows_str(r, C_NAME, NULL), "stall_id", (json_int_t)db_rows_i64(r, C_STALL), "qty",
                             (json_int_t)l->qty, "pricing", product_pricing_json(r, C_MODE), "amount_fen",
                             (json_int_t)amount, "available", why == NULL);
    if (line != NULL && why != NULL && json_object_set_new(line, "reason", json_string(why)) != 0) {
        json_decref(line);
        return NULL;
    }
    return line;
}

/* The lines in order, merged with the product rows (both by product id). */
static int lines_json(db_rows_t *rows, const cart_line_t *lines, size_t n, json_t *items, int64_t *items_fen)
{
    int have = rows != NULL && db_rows_next(rows);
    for (size_t i = 0; i < n; i++) {
        while (have && db_rows_i64(rows, C_ID) < lines[i].product_id)
            have = db_rows_next(rows);
        int found = have && db_rows_i64(rows, C_ID) == lines[i].product_id;
        if (json_array_append_new(items, line_json(found ? rows : NULL, &lines[i], items_fen)) != 0)
            return -1;
    }
    return 0;
}

int cart_render(db_t *db, int64_t market_id, const cart_line_t *lines, size_t n, const cart_fees_t *fees, json_t **out)
{
    cart_line_t sorted[CART_MAX_LINES];
    db_rows_t *rows = NULL;
    json_t *items = json_array();
    int64_t items_fen = 0, fee, payable;
    int rc = DB_ERR;
    *out = NULL;
    if (n > CART_MAX_LINES || items == NULL) {
        snprintf(db->err, sizeof(db->err), "cart_render: %zu lines", n);
        goto out;
    }
    if (n > 0) {
        memcpy(sorted, lines, n * sizeof(*lines));
        qsort(sorted, n, sizeof(*sorted), by_product);
        if ((rc = read_products(db, market_id, sorted, n, &rows)) != DB_OK)
            goto out;
    }
    rc = DB_ERR;
    if (lines_json(rows, sorted, n, items, &items_fen) != 0) {
        snprintf(db->err, sizeof(db->err), "cart_render: out of memory or an amount overflowed");
        goto out;
    }
    /* Nothing to buy, nothing to deliver: the fee only applies to goods that can be bought. */
    fee = items_fen == 0 ? 0 : money_delivery_fee(items_fen, fees->delivery_fee_fen, fees->free_delivery_from_fen);
    if (money_add(items_fen, fee, &payable) != MONEY_OK)
        goto out;
    *out = json_pack("{s:I, s:O, s:I, s:I, s:I}", "market_id", (json_int_t)market_id, "items", items, "items_fen",
                     (json_int_t)items_fen, "delivery_fee_fen", (json_int_t)fee, "payable_fen", (json_int_t)payable);
    rc = *out != NULL ? DB_OK : DB_ERR;
out:
    json_decref(items);
    db_rows_free(rows);
    return rc;
}
