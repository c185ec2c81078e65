/*
 * Route table and matcher. A linear scan over at most ROUTER_MAX_ROUTES pre-split patterns:
 * the API has a few dozen routes, and a scan over pre-split segments costs less than the
 * hashing a trie would need at this size. Read-only once the loop threads start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include "server/http/router.h"

void router_init(router_t *r)
{
    memset(r, 0, sizeof(*r));
}

static void route_free(route_t *rt)
{
    for (size_t i = 0; i < rt->nseg; i++)
        free(rt->seg[i]);
    free(rt->pattern);
    free(rt);
}

void router_free(router_t *r)
{
    for (size_t i = 0; i < r->n; i++)
        route_free(r->routes[i]);
    r->n = 0;
}

/* Splits "/a/{b}/c" into segments; -1 if the pattern is not of that form. */
static int split_pattern(route_t *rt, const char *pattern)
{
    size_t nparams = 0;
    const char *p = pattern;
    if (*p != '/')
        return -1;
    if (p[1] == '\0')
        return 0; /* "/": no segments */
    while (*p == '/') {
        const char *start = ++p;
        while (*p != '\0' && *p != '/')
            p++;
        size_t len = (size_t)(p - start);
        if (len == 0 || rt->nseg == ROUTER_MAX_SEGMENTS)
            return -1;
        int param = start[0] == '{';
        if (param && (len < 3 || start[len - 1] != '}' || ++nparams > ROUTER_MAX_PARAMS))
            return -1;
        rt->is_param[rt->nseg] = (unsigned char)param;
        rt->seg[rt->nseg] = param ? strndup(start + 1, len - 2) : strndup(start, len);
        if (rt->seg[rt->nseg] == NULL)
            return -1;
        rt->nseg++;
    }
    return *p == '\0' ? 0 : -1;
}

int router_add(router_t *r, const char *method, const char *pattern, int flags, route_fn fn)
{
    if (r->n == ROUTER_MAX_ROUTES || strlen(method) >= sizeof(((route_t *)0)->method) || fn == NULL)
        return -1;
    for (size_t i = 0; i < r->n; i++)
        if (strcmp(r->routes[i]->method, method) == 0 && strcmp(r->routes[i]->pattern, pattern) == 0)
            return -1;
    route_t *rt = calloc(1, sizeof(*rt));
    if (rt == NULL)
        return -1;
    snprintf(rt->method, sizeof(rt->method), "%s", method);
    rt->flags = flags;
    rt->fn = fn;
    rt->index = r->n;
    if ((rt->pattern = strdup(pattern)) == NULL || split_pattern(rt, pattern) != 0) {
        route_free(rt);
        return -1;
    }
    r->routes[r->n++] = rt;
    return 0;
}

/* Cuts a path into at most ROUTER_MAX_SEGMENTS slices; -1 if it has more or is not absolute. */
static int split_path(const char *path, size_t plen, const char **seg, size_t *seglen, size_t *nseg)
{
    size_t n = 0, i = 0;
    if (plen == 0 || path[0] != '/')
        return -1;
    if (plen == 1) {
        *nseg = 0;
        return 0;
    }
    while (i < plen) {
        size_t start = ++i;
        while (i < plen && path[i] != '/')
            i++;
        if (n == ROUTER_MAX_SEGMENTS)
            return -1;
        seg[n] = path + start;
        seglen[n] = i - start;
        n++;
    }
    *nseg = n;
    return 0;
}

/* 0 if no match; otherwise 1 + the number of literal segments, so the most literal wins. */
static size_t score(const route_t *rt, const char **seg, const size_t *seglen, size_t nseg)
{
    if (rt->nseg != nseg)
        return 0;
    size_t literals = 0;
    for (size_t i = 0; i < nseg; i++) {
        if (rt->is_param[i]) {
            if (seglen[i] == 0)
                return 0;
            continue;
        }
        if (strlen(rt->seg[i]) != seglen[i] || memcmp(rt->seg[i], seg[i], seglen[i]) != 0)
            return 0;
        literals++;
    }
    return literals + 1;
}

static void append_allow(char *allow, size_t allowlen, const char *method)
{
    size_t used = strlen(allow);
    if (strstr(allow, method) != NULL)
        return;
    snprintf(allow + used, allowlen - used, "%s%s", used ? ", " : "", method);
}

router_result_t router_match(const router_t *r, const char *method, size_t mlen, const char *path, size_t plen,
                             const route_t **route, router_params_t *params, char *allow, size_t allowlen)
{
    const char *seg[ROUTER_MAX_SEGMENTS];
    size_t seglen[ROUTER_MAX_SEGMENTS], nseg;
    const route_t *best = NULL;
    size_t best_score = 0;
    int other_method = 0;

    if (allowlen > 0)
        allow[0] = '\0';
    if (split_path(path, plen, seg, seglen, &nseg) != 0)
        return ROUTER_NOT_FOUND;
    for (size_t i = 0; i < r->n; i++) {
        const route_t *rt = r->routes[i];
        size_t s = score(rt, seg, seglen, nseg);
        if (s == 0)
            continue;
        if (strlen(rt->method) != mlen || memcmp(rt->method, method, mlen) != 0) {
            other_method = 1;
            continue;
        }
        if (s > best_score) {
            best = rt;
            best_score = s;
        }
    }
    if (best == NULL) {
        if (!other_method)
            return ROUTER_NOT_FOUND;
        /* Allow lists every method of every pattern matching this path. */
        for (size_t i = 0; i < r->n; i++)
            if (score(r->routes[i], seg, seglen, nseg) != 0)
                append_allow(allow, allowlen, r->routes[i]->method);
        return ROUTER_METHOD;
    }
    params->n = 0;
    for (size_t i = 0; i < nseg; i++)
        if (best->is_param[i]) {
            params->name[params->n] = best->seg[i];
            params->val[params->n] = seg[i];
            params->len[params->n] = seglen[i];
            params->n++;
        }
    *route = best;
    return ROUTER_FOUND;
}
