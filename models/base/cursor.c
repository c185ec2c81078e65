/*
 * List cursors: "k:<key>:<id>" in base64url. Decimal numbers are parsed strictly (no sign,
 * no leading zeros), so one page has exactly one cursor.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "models/base/b64.h"
#include "models/base/cursor.h"

int cursor_encode(char kind, int64_t key, int64_t id, char *out, size_t outlen)
{
    char text[64];
    int n = snprintf(text, sizeof(text), "%c:%lld:%lld", kind, (long long)key, (long long)id);
    if (n < 0 || (size_t)n >= sizeof(text))
        return -1;
    return b64url_encode((const unsigned char *)text, (size_t)n, out, outlen, NULL) == B64_OK ? 0 : -1;
}

/* A decimal of 1..18 digits (no sign, no leading zeros beyond "0") ending at `end`. */
static int parse_num(const char **p, char end, int64_t *out)
{
    const char *s = *p;
    size_t n = strspn(s, "0123456789");
    if (n == 0 || n > 18 || s[n] != end || (n > 1 && s[0] == '0'))
        return -1;
    *out = strtoll(s, NULL, 10);
    *p = s + n;
    return 0;
}

int cursor_decode(const char *s, char kind, int64_t *key, int64_t *id)
{
    unsigned char text[CURSOR_MAX];
    size_t n = strlen(s), m = 0;
    if (n == 0 || n > CURSOR_MAX - 1 || b64url_decode(s, n, text, sizeof(text) - 1, &m) != B64_OK || m < 5)
        return -1;
    text[m] = '\0';
    const char *p = (const char *)text;
    if (p[0] != kind || p[1] != ':')
        return -1;
    p += 2;
    if (parse_num(&p, ':', key) != 0)
        return -1;
    p++;
    if (parse_num(&p, '\0', id) != 0 || *id < 1)
        return -1;
    return 0;
}
