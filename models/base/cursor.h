/*
 * The one codec of list cursors: an opaque token (base64url) that carries the kind of list
 * it belongs to (one letter), the sort key of the last item shown (0 when the list is in id
 * order) and that item's id. A cursor of one list is refused by another. Models encode the
 * next page's cursor; the validation kit (server/http/valid.h) decodes ?cursor=. Pure.
 */
#ifndef SF_CURSOR_H
#define SF_CURSOR_H

#include <stddef.h>
#include <stdint.h>

/* Bytes of a cursor with its NUL: base64url of "k:<key>:<id>" (two numbers of up to 18 digits: 54 characters). */
#define CURSOR_MAX 64

/* Writes the cursor into out (outlen >= CURSOR_MAX is always enough). 0, or -1. */
int cursor_encode(char kind, int64_t key, int64_t id, char *out, size_t outlen);

/* 0 with *key and *id (id >= 1, key >= 0), or -1 if s is not a cursor of that kind. */
int cursor_decode(const char *s, char kind, int64_t *key, int64_t *id);

#endif
