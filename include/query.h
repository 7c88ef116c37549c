/* query.h: strict parsing of URL query strings (key=value&...). */
#ifndef HOOKD_QUERY_H
#define HOOKD_QUERY_H

#include <stddef.h>

#include "defs.h"

/* Splits off the next `key=value` pair from *qs (advancing it). Returns 0
 * when no pair is left. Pieces are still percent-encoded. */
int query_next(str *qs, str *key, str *val);

/* Percent-decodes in into out (cap bytes). `+` becomes a space when
 * plus_is_space, else stays `+`. Returns the decoded length, or -1 for a
 * bad escape, a decoded NUL, invalid UTF-8, or no room. */
long query_decode(str in, int plus_is_space, char *out, size_t cap);

/* Finds parameter `name` in qs and decodes its last value into out (as
 * query_decode). Returns the decoded length, QUERY_ABSENT, or QUERY_BAD
 * when that value does not decode. *count (when not NULL) gets how many
 * times the name occurs, for callers that refuse a repeated parameter. */
#define QUERY_ABSENT (-1)
#define QUERY_BAD (-2)
long query_find(str qs, const char *name, int plus_is_space, char *out, size_t cap, int *count);

#endif
