/*
 * Carts (see cart.h): the Redis hash of a consumer's lines in one market, and the view of
 * it priced from MariaDB.
 *
 * Why a Redis function for every change: sf_cart_set checks the cap (CART_MAX_LINES), sets or
 * removes the line, restarts the TTL and returns the lines in one atomic call, so the cap
 * holds under concurrent adds without WATCH rounds, no cart key ever lives without its TTL,
 * the TTL restarts on every change as "7 days since its last change" wants, and the answer
 * needs no second read: one round trip where WATCH/HEXISTS/HLEN/MULTI/HSET/EXPIRE/EXEC and an
 * HGETALL took eight. The library is loaded when Redis says it does not have it (a Redis that
 * restarted, or one this server never met), and the call made again once. A read does not
 * touch the TTL: looking at a cart is not changing it.
 *
 * Why the IN list is padded: the product query has one `?` per line, and the db layer
 * caches a prepared statement per SQL text. Padding the list to the next of a few sizes
 * (repeating the last id, which changes nothing) keeps that to 8 statements per
 * connection, not 101. The SQL text is built from the count only, never from input.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/cart.h"
#include "models/cachever.h"
#include "models/product.h"
#include "models/base/money.h"
#include "models/base/log.h"

#define KEY_MAX 64 /* "cart:<id>:<id>" */
#define SQL_MAX 1024

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

/* The lines of an HGETALL reply, sorted, at most CART_MAX_LINES. 0, or -1 if out of memory. */
static int lines_of(const redisReply *rep, cart_line_t *lines, size_t *n)
{
    cart_line_t *all = NULL;
    size_t k = 0;
    *n = 0;
    if (rep->elements > 0 && (all = calloc(rep->elements / 2 + 1, sizeof(*all))) == NULL)
        return -1;
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
    *n = k < CART_MAX_LINES ? k : CART_MAX_LINES; /* sf_cart_set keeps it there; bounded anyway */
    if (*n > 0)
        memcpy(lines, all, *n * sizeof(*all));
    free(all);
    return 0;
}

int cart_load(redis_t *r, int64_t user_id, int64_t market_id, cart_line_t *lines, size_t *n)
{
    char key[KEY_MAX];
    *n = 0;
    cart_key(key, user_id, market_id);
    redisReply *rep = expect(r, redis_cmd(r, "HGETALL %s", key), REDIS_REPLY_ARRAY, "cart HGETALL");
    if (rep == NULL)
        return -1;
    int rc = lines_of(rep, lines, n);
    if (rc != 0)
        snprintf(r->err, sizeof(r->err), "cart HGETALL: out of memory");
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

/* The library of cart functions. sf_cart_set KEYS[1] = the cart, ARGV = product id, qty
 * (decimal; "0" removes the line), the cap, the TTL in seconds. One function call, so atomic:
 * the cap is checked and the line set with nothing in between, the TTL restarts with every
 * change (EXPIRE of a key the HDEL emptied, and so deleted, does nothing), and the lines come
 * back as they are after the change. Returns {1, lines} when changed, {0, lines} when the
 * cart was full and nothing changed (the TTL untouched: refusing is not changing). Its own
 * library, not queue's `stallfront`: each FUNCTION LOAD REPLACE then only ever replaces
 * itself. sf_cart_done KEYS[1] = the cart, KEYS[2] = the market's catalogue version (cachever.h),
 * ARGV = the channel, the market id: after a checkout, the cart deleted and the version
 * bumped and published as a stock bump ("<market>:<version>:s", as cachever_bump_stock does)
 * in one call; returns {version} (the library before stock bumps returned the bare version
 * and published a hard bump: a Redis still holding it gets this one loaded). */
static const char set_lua[] =
    "#!lua name=" CART_FUNCTION_LIB "\n"
    "redis.register_function('sf_cart_set', function(keys, args)\n"
    "  local key, id, qty = keys[1], args[1], args[2]\n"
    "  if qty == '0' then\n"
    "    redis.call('HDEL', key, id)\n"
    "  elseif redis.call('HEXISTS', key, id) == 0 and redis.call('HLEN', key) >= tonumber(args[3]) then\n"
    "    return {0, redis.call('HGETALL', key)}\n"
    "  else\n"
    "    redis.call('HSET', key, id, qty)\n"
    "  end\n"
    "  redis.call('EXPIRE', key, args[4])\n"
    "  return {1, redis.call('HGETALL', key)}\n"
    "end)\n"
    "redis.register_function('sf_cart_done', function(keys, args)\n"
    "  redis.call('DEL', keys[1])\n"
    "  local ver = redis.call('INCR', keys[2])\n"
    "  redis.call('PUBLISH', args[1], args[2] .. ':' .. ver .. ':s')\n"
    "  return {ver}\n"
    "end)\n";

int cart_functions_load(redis_t *r)
{
    redisReply *rep =
        expect(r, redis_cmd(r, "FUNCTION LOAD REPLACE %s", set_lua), REDIS_REPLY_STRING, "cart FUNCTION LOAD");
    if (rep == NULL)
        return -1;
    freeReplyObject(rep);
    return 0;
}

static redisReply *fcall_set(redis_t *r, const char *key, int64_t product_id, int64_t qty)
{
    return redis_cmd(r, "FCALL sf_cart_set 1 %s %lld %lld %d %d", key, (long long)product_id, (long long)qty,
                     CART_MAX_LINES, CART_TTL_S);
}

static redisReply *fcall_done(redis_t *r, const char *key, const char *ver_key, int64_t market_id)
{
    return redis_cmd(r, "FCALL sf_cart_done 2 %s %s %s %lld", key, ver_key, CACHEVER_CHANNEL, (long long)market_id);
}

int cart_checked_out(redis_t *r, int64_t user_id, int64_t market_id, uint64_t *version)
{
    char key[KEY_MAX], ver_key[KEY_MAX];
    cart_key(key, user_id, market_id);
    cachever_key(ver_key, sizeof(ver_key), market_id);
    redisReply *rep = fcall_done(r, key, ver_key, market_id);
    if (redis_function_missing(rep)) {
        freeReplyObject(rep);
        log_info("cart: Redis does not have the %s functions; loading them", CART_FUNCTION_LIB);
        rep = cart_functions_load(r) == 0 ? fcall_done(r, key, ver_key, market_id) : NULL;
    }
    if (rep != NULL && rep->type == REDIS_REPLY_INTEGER) { /* the old library: done, as a hard bump */
        if (version != NULL)
            *version = (uint64_t)rep->integer;
        freeReplyObject(rep);
        log_info("cart: Redis has an older %s library; loading this one", CART_FUNCTION_LIB);
        if (cart_functions_load(r) != 0)
            log_warn("cart: %s not loaded: %s", CART_FUNCTION_LIB, r->err);
        return 0;
    }
    if ((rep = expect(r, rep, REDIS_REPLY_ARRAY, "cart FCALL sf_cart_done")) == NULL)
        return -1;
    if (rep->elements != 1 || rep->element[0]->type != REDIS_REPLY_INTEGER) {
        snprintf(r->err, sizeof(r->err), "cart FCALL sf_cart_done: unexpected reply");
        freeReplyObject(rep);
        return -1;
    }
    if (version != NULL)
        *version = (uint64_t)rep->element[0]->integer;
    freeReplyObject(rep);
    return 0;
}

/* The change in one round trip (two, plus the load, the first time a Redis meets it): SF_OK
 * or SF_E_CART_FULL with the lines as they are into lines/n; SF_E_UNAVAILABLE (r->err). */
static sf_status_t change_lines(redis_t *r, int64_t user_id, int64_t market_id, int64_t product_id, int64_t qty,
                                cart_line_t *lines, size_t *n)
{
    char key[KEY_MAX];
    *n = 0;
    if (qty < 0 || qty > CART_QTY_MAX || product_id <= 0 || product_id > (INT64_C(1) << 53)) {
        snprintf(r->err, sizeof(r->err), "cart: quantity %lld or product %lld out of range", (long long)qty,
                 (long long)product_id);
        return SF_E_INVALID;
    }
    cart_key(key, user_id, market_id);
    redisReply *rep = fcall_set(r, key, product_id, qty);
    if (redis_function_missing(rep)) {
        freeReplyObject(rep);
        log_info("cart: Redis does not have the %s functions; loading them", CART_FUNCTION_LIB);
        rep = cart_functions_load(r) == 0 ? fcall_set(r, key, product_id, qty) : NULL;
    }
    if ((rep = expect(r, rep, REDIS_REPLY_ARRAY, "cart FCALL sf_cart_set")) == NULL)
        return SF_E_UNAVAILABLE;
    sf_status_t rc = SF_E_UNAVAILABLE;
    if (rep->elements != 2 || rep->element[0]->type != REDIS_REPLY_INTEGER ||
        rep->element[1]->type != REDIS_REPLY_ARRAY)
        snprintf(r->err, sizeof(r->err), "cart FCALL sf_cart_set: unexpected reply");
    else if (lines_of(rep->element[1], lines, n) != 0)
        snprintf(r->err, sizeof(r->err), "cart FCALL sf_cart_set: out of memory");
    else
        rc = rep->element[0]->integer == 1 ? SF_OK : SF_E_CART_FULL;
    freeReplyObject(rep);
    return rc;
}

sf_status_t cart_set(redis_t *r, int64_t user_id, int64_t market_id, int64_t product_id, int64_t qty)
{
    cart_line_t lines[CART_MAX_LINES];
    size_t n;
    return change_lines(r, user_id, market_id, product_id, qty, lines, &n);
}

int cart_remove(redis_t *r, int64_t user_id, int64_t market_id, int64_t product_id)
{
    return cart_set(r, user_id, market_id, product_id, 0) == SF_OK ? 0 : -1;
}

/* ================================================================ MariaDB */

/* Columns of the view query, in this order. */
enum { C_ID, C_NAME, C_STALL, C_MODE, C_PRICE, C_PER_G, C_UNIT, C_STOCK, C_ON_SALE, C_VENDOR_ACTIVE, C_MARKET };

#define VIEW_SQL                                                                                                       \
    "SELECT p.id, p.name, p.stall_id, p.pricing_mode, p.price_fen, p.per_g, p.unit, p.stock,"                          \
    " p.status = 'on_sale', v.status = 'active', p.market_id"                                                          \
    " FROM products p JOIN vendors v ON v.id = p.vendor_id WHERE p.id IN "

#define IDS_MAX (CART_MAX_LINES + 1) /* a cart's lines and the product being added */

/* Reads the products of 1..IDS_MAX ids (sorted) in one query, ordered by id, whatever their
 * market (the rows say it: a line of a product of another market is shown as gone). */
static int read_products(db_t *db, const int64_t *ids, size_t n, db_rows_t **rows)
{
    char sql[SQL_MAX];
    db_param_t p[IDS_MAX];
    size_t k = db_in_list(sql, sizeof(sql), VIEW_SQL, " ORDER BY p.id", p, ids, n, IDS_MAX);
    if (k == 0) {
        snprintf(db->err, sizeof(db->err), "cart: %zu products to read", n);
        return DB_ERR;
    }
    return db_query(db, sql, p, k, rows);
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

/* The lines in order, merged with the product rows (both by product id; rows of products
 * that are not lines are passed over, a product of another market is not found). */
static int lines_json(db_rows_t *rows, int64_t market_id, const cart_line_t *lines, size_t n, json_t *items,
                      int64_t *items_fen)
{
    if (rows != NULL)
        db_rows_rewind(rows);
    int have = rows != NULL && db_rows_next(rows);
    for (size_t i = 0; i < n; i++) {
        while (have && db_rows_i64(rows, C_ID) < lines[i].product_id)
            have = db_rows_next(rows);
        int found = have && db_rows_i64(rows, C_ID) == lines[i].product_id && db_rows_i64(rows, C_MARKET) == market_id;
        if (json_array_append_new(items, line_json(found ? rows : NULL, &lines[i], items_fen)) != 0)
            return -1;
    }
    return 0;
}

/* The answer of lines (sorted, at most CART_MAX_LINES) from rows holding at least every
 * product of them that exists (NULL when there are no lines). DB_OK or DB_ERR (db->err). */
static int render_rows(db_t *db, int64_t market_id, const cart_line_t *lines, size_t n, db_rows_t *rows,
                       const cart_fees_t *fees, json_t **out)
{
    json_t *items = json_array();
    int64_t items_fen = 0, fee, payable;
    *out = NULL;
    if (items == NULL || lines_json(rows, market_id, lines, n, items, &items_fen) != 0) {
        snprintf(db->err, sizeof(db->err), "cart_render: out of memory or an amount overflowed");
        json_decref(items);
        return DB_ERR;
    }
    /* Nothing to buy, nothing to deliver: the fee only applies to goods that can be bought. */
    fee = items_fen == 0 ? 0 : money_delivery_fee(items_fen, fees->delivery_fee_fen, fees->free_delivery_from_fen);
    if (money_add(items_fen, fee, &payable) == MONEY_OK)
        *out =
            json_pack("{s:I, s:O, s:I, s:I, s:I}", "market_id", (json_int_t)market_id, "items", items, "items_fen",
                      (json_int_t)items_fen, "delivery_fee_fen", (json_int_t)fee, "payable_fen", (json_int_t)payable);
    json_decref(items);
    if (*out == NULL)
        snprintf(db->err, sizeof(db->err), "cart_render: out of memory or an amount overflowed");
    return *out != NULL ? DB_OK : DB_ERR;
}

/* Reads the products of lines (sorted) and renders them. */
static int read_and_render(db_t *db, int64_t market_id, const cart_line_t *lines, size_t n, const cart_fees_t *fees,
                           json_t **out)
{
    int64_t ids[CART_MAX_LINES];
    db_rows_t *rows = NULL;
    int rc;
    *out = NULL;
    for (size_t i = 0; i < n; i++)
        ids[i] = lines[i].product_id;
    if (n > 0 && (rc = read_products(db, ids, n, &rows)) != DB_OK)
        return rc;
    rc = render_rows(db, market_id, lines, n, rows, fees, out);
    db_rows_free(rows);
    return rc;
}

int cart_render(db_t *db, int64_t market_id, const cart_line_t *lines, size_t n, const cart_fees_t *fees, json_t **out)
{
    cart_line_t sorted[CART_MAX_LINES];
    *out = NULL;
    if (n > CART_MAX_LINES) {
        snprintf(db->err, sizeof(db->err), "cart_render: %zu lines", n);
        return DB_ERR;
    }
    if (n > 0)
        memcpy(sorted, lines, n * sizeof(*lines));
    qsort(sorted, n, sizeof(*sorted), by_product);
    return read_and_render(db, market_id, sorted, n, fees, out);
}

/* ================================================================ a change as the API makes it */

/* The ids of the lines each consumer's cart held after their last change in this process,
 * so that a change can read them with the changed product, before Redis says what the lines
 * are: a hint that saves a statement, never trusted for an answer. A slot per user id hash;
 * another user in the slot, or lines that changed elsewhere, only cost the statement back. */
#define HINT_SLOTS 1024

typedef struct cart_hint {
    int64_t user_id;
    size_t n;
    int64_t ids[CART_MAX_LINES];
} cart_hint_t;

static cart_hint_t hints[HINT_SLOTS];
static pthread_mutex_t hints_lock = PTHREAD_MUTEX_INITIALIZER;

static cart_hint_t *hint_slot(int64_t user_id)
{
    return &hints[((uint64_t)user_id * UINT64_C(0x9E3779B97F4A7C15)) >> 54]; /* 64 - log2(HINT_SLOTS) */
}

/* The user's hinted ids into ids (room for CART_MAX_LINES); how many. */
static size_t hint_get(int64_t user_id, int64_t *ids)
{
    cart_hint_t *h = hint_slot(user_id);
    size_t n = 0;
    pthread_mutex_lock(&hints_lock);
    if (h->user_id == user_id) {
        n = h->n;
        memcpy(ids, h->ids, n * sizeof(*ids));
    }
    pthread_mutex_unlock(&hints_lock);
    return n;
}

static void hint_put(int64_t user_id, const cart_line_t *lines, size_t n)
{
    cart_hint_t *h = hint_slot(user_id);
    pthread_mutex_lock(&hints_lock);
    h->user_id = user_id;
    h->n = n;
    for (size_t i = 0; i < n; i++)
        h->ids[i] = lines[i].product_id;
    pthread_mutex_unlock(&hints_lock);
}

static int by_id(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

/* Sorts ids and drops repeats; the new count. */
static size_t sort_unique(int64_t *ids, size_t n)
{
    size_t k = 0;
    qsort(ids, n, sizeof(*ids), by_id);
    for (size_t i = 0; i < n; i++)
        if (k == 0 || ids[k - 1] != ids[i])
            ids[k++] = ids[i];
    return k;
}

/* Whether every line's product was among the ids read (sorted). */
static int covered(const int64_t *ids, size_t nids, const cart_line_t *lines, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (bsearch(&lines[i].product_id, ids, nids, sizeof(*ids), by_id) == NULL)
            return 0;
    return 1;
}

/* Puts rows on the product's row: 1, or 0 when it is not there. */
static int find_row(db_rows_t *rows, int64_t product_id)
{
    db_rows_rewind(rows);
    while (db_rows_next(rows))
        if (db_rows_i64(rows, C_ID) == product_id)
            return 1;
    return 0;
}

/* The checks of a PUT on the product's row (as the handler made them before: the market
 * first, then a removal is always allowed, then sale and stock). */
static sf_status_t may_buy(const db_rows_t *p, const cart_change_t *c, status_detail_t *d)
{
    int64_t market = db_rows_i64(p, C_MARKET), stock = db_rows_i64(p, C_STOCK);
    if (c->market_id != 0 && c->market_id != market)
        return status_details(d, SF_E_WRONG_MARKET, json_pack("{s:I}", "market_id", (json_int_t)market));
    if (c->qty == 0)
        return SF_OK;
    if (db_rows_i64(p, C_ON_SALE) != 1 || db_rows_i64(p, C_VENDOR_ACTIVE) != 1)
        return SF_E_OFF_SALE;
    if (c->qty > stock)
        return status_details(d, SF_E_INSUFFICIENT_STOCK, json_pack("{s:I}", "available", (json_int_t)stock));
    return SF_OK;
}

/*
 * The product has to be read before Redis is written (its market names the cart, and a PUT
 * is refused before anything changes), and the answer needs the products of the lines Redis
 * returns. So the one statement reads the product together with the ids the consumer's cart
 * held after their last change here (the hint): when the lines Redis returns are all among
 * them, as they are unless the cart changed elsewhere, the answer is rendered from those
 * rows; otherwise one more statement reads the lines. A DELETE that names its market reads
 * nothing before Redis, and its lines after.
 */
sf_status_t cart_change(db_t *db, redis_t *r, const cart_change_t *c, const cart_fees_t *fees, json_t **out,
                        status_detail_t *d)
{
    int64_t ids[IDS_MAX];
    size_t nids = 0, n = 0;
    cart_line_t lines[CART_MAX_LINES];
    db_rows_t *rows = NULL;
    int64_t market = c->market_id;
    sf_status_t rc = SF_OK;
    *out = NULL;
    if (c->qty < 0 || c->qty > CART_QTY_MAX)
        return status_field(d, SF_E_INVALID, "qty", "out of range");
    if (c->checked || market == 0) {
        ids[0] = c->product_id;
        nids = sort_unique(ids, 1 + hint_get(c->user_id, ids + 1));
        if ((rc = read_products(db, ids, nids, &rows)) != DB_OK)
            goto out;
        if (!find_row(rows, c->product_id)) {
            rc = status_field(d, SF_E_NOT_FOUND, NULL, "no such product");
            goto out;
        }
        if (c->checked && (rc = may_buy(rows, c, d)) != SF_OK)
            goto out;
        market = db_rows_i64(rows, C_MARKET);
    }
    rc = change_lines(r, c->user_id, market, c->product_id, c->qty, lines, &n);
    if (rc == SF_E_CART_FULL)
        status_details(d, rc, json_pack("{s:i}", "max_lines", CART_MAX_LINES));
    if (rc != SF_OK)
        goto out;
    hint_put(c->user_id, lines, n);
    if (rows != NULL && covered(ids, nids, lines, n))
        rc = render_rows(db, market, lines, n, n > 0 ? rows : NULL, fees, out);
    else
        rc = read_and_render(db, market, lines, n, fees, out);
out:
    db_rows_free(rows);
    return rc;
}
