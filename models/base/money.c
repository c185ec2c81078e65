/*
 * Money arithmetic (see money.h). Overflow is detected with the compiler's checked
 * builtins, never assumed away: a cart line of 10^9 grams at 10^7 fen per gram would
 * otherwise wrap silently.
 */
#include <stdio.h>
#include "models/base/money.h"

int money_line_weight(int64_t price_fen, int64_t per_g, int64_t qty_g, int64_t *amount)
{
    int64_t num, den;
    if (price_fen < 0 || per_g <= 0 || qty_g < 0)
        return MONEY_INVALID;
    /* (price * qty * 2 + per_g) / (2 * per_g): half a fen rounds up, in integers. */
    if (__builtin_mul_overflow(price_fen, qty_g, &num) || __builtin_mul_overflow(num, 2, &num) ||
        __builtin_add_overflow(num, per_g, &num) || __builtin_mul_overflow(per_g, 2, &den))
        return MONEY_OVERFLOW;
    *amount = num / den;
    return MONEY_OK;
}

int money_line_count(int64_t price_fen, int64_t qty, int64_t *amount)
{
    if (price_fen < 0 || qty < 0)
        return MONEY_INVALID;
    return __builtin_mul_overflow(price_fen, qty, amount) ? MONEY_OVERFLOW : MONEY_OK;
}

int money_add(int64_t a, int64_t b, int64_t *sum)
{
    if (a < 0 || b < 0)
        return MONEY_INVALID;
    return __builtin_add_overflow(a, b, sum) ? MONEY_OVERFLOW : MONEY_OK;
}

int64_t money_delivery_fee(int64_t items_fen, int64_t flat_fen, int64_t free_from_fen)
{
    return free_from_fen > 0 && items_fen >= free_from_fen ? 0 : flat_fen;
}

int money_line_weighed(int64_t price_fen, int64_t per_g, int64_t qty_g, int64_t qty_actual_g, int64_t *amount_actual,
                       int64_t *refund)
{
    int64_t agreed, weighed;
    int rc;
    if (qty_actual_g < 0)
        return MONEY_INVALID;
    if ((rc = money_line_weight(price_fen, per_g, qty_g, &agreed)) != MONEY_OK)
        return rc;
    if (qty_actual_g >= qty_g) { /* heavier: the vendor absorbs it */
        *amount_actual = agreed;
        *refund = 0;
        return MONEY_OK;
    }
    if ((rc = money_line_weight(price_fen, per_g, qty_actual_g, &weighed)) != MONEY_OK)
        return rc;
    *amount_actual = weighed;
    *refund = agreed - weighed;
    return MONEY_OK;
}

int money_parse_yuan(const char *s, size_t len, int64_t *fen)
{
    int64_t yuan = 0, cents = 0;
    size_t i = 0, digits = 0, decimals = 0;
    while (i < len && s[i] >= '0' && s[i] <= '9') {
        if (++digits > 15)
            return MONEY_INVALID;
        yuan = yuan * 10 + (s[i++] - '0');
    }
    if (digits == 0)
        return MONEY_INVALID;
    if (i < len && s[i] == '.') {
        i++;
        while (i < len && s[i] >= '0' && s[i] <= '9') {
            if (++decimals > 2)
                return MONEY_INVALID;
            cents = cents * 10 + (s[i++] - '0');
        }
        if (decimals == 0)
            return MONEY_INVALID; /* "12." */
        if (decimals == 1)
            cents *= 10;
    }
    if (i != len)
        return MONEY_INVALID;
    *fen = yuan * 100 + cents; /* 15 digits of yuan: well inside int64 */
    return MONEY_OK;
}

int money_format_yuan(int64_t fen, char *buf, size_t buflen)
{
    if (fen < 0)
        return MONEY_INVALID;
    int n = snprintf(buf, buflen, "%lld.%02lld", (long long)(fen / 100), (long long)(fen % 100));
    return n > 0 && (size_t)n < buflen ? MONEY_OK : MONEY_INVALID;
}
