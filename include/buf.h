/* buf.h: a growable byte buffer and the JSON *writer* helpers on top of it.
 *
 * A buf owns its memory (malloc/realloc/free). Appends never fail silently:
 * on allocation failure the buf is marked `oom` and further appends are
 * no-ops, so a caller checks once at the end. Buffers are meant to be reused
 * (buf_reset keeps the capacity), so steady-state appends do not allocate. */
#ifndef HOOKD_BUF_H
#define HOOKD_BUF_H

#include <stddef.h>
#include <stdint.h>

#include "defs.h"

struct buf {
  char *data; /* owned; NULL until the first append */
  size_t len; /* bytes used */
  size_t cap; /* bytes allocated */
  int oom;    /* an allocation failed; contents are incomplete */
};

void buf_free(buf *b);
void buf_reset(buf *b); /* len = 0, keeps the memory */
/* Makes room for n more bytes; 0 or -1 (and oom set). */
int buf_reserve(buf *b, size_t n);
void buf_append(buf *b, const void *p, size_t n);
void buf_puts(buf *b, const char *s);
void buf_putc(buf *b, char c);
void buf_put_u64(buf *b, uint64_t v);
void buf_put_i64(buf *b, int64_t v);
void buf_put_double(buf *b, double v, int decimals);
/* v with exactly three decimals ("12.345"), without printf. */
void buf_put_fixed3(buf *b, double v);

/* JSON string literal with quotes. Input bytes that are not valid UTF-8 are
 * written as U+FFFD, so the output is always valid JSON and valid UTF-8. */
void json_put_str(buf *b, const char *s, size_t n);
static inline void json_put_cstr(buf *b, const char *s);
/* json_put_str, or `null` when s is NULL (an absent value). */
static inline void json_put_opt(buf *b, const char *s, size_t n);
/* `{"detail":"<msg>"}` */
void json_put_detail(buf *b, const char *msg);

/* Length of the longest prefix of s (at most max bytes) that ends on a UTF-8
 * character boundary; used to truncate strings for logs. */
size_t utf8_truncate(const char *s, size_t n, size_t max);

/* Validates UTF-8 (no overlongs, no surrogates, <= U+10FFFF). Returns the
 * number of code points, or -1 if invalid. */
long utf8_count(const char *s, size_t n);

#include <string.h>
static inline void json_put_cstr(buf *b, const char *s) { json_put_str(b, s, strlen(s)); }
static inline void json_put_opt(buf *b, const char *s, size_t n) {
  if (s)
    json_put_str(b, s, n);
  else
    buf_puts(b, "null");
}

#endif
