/* buf.cc: growable byte buffer, JSON string escaping and UTF-8 helpers. */
#include "buf.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void buf_free(buf *b) {
  free(b->data);
  b->data = NULL;
  b->len = b->cap = 0;
  b->oom = 0;
}

void buf_reset(buf *b) {
  b->len = 0;
  b->oom = 0;
}

int buf_reserve(buf *b, size_t n) {
  if (b->oom) return -1;
  if (b->cap - b->len >= n) return 0;
  size_t need = b->len + n;
  size_t cap = b->cap ? b->cap : 256;
  while (cap < need) cap *= 2;
  char *p = (char *)realloc(b->data, cap);
  if (!p) {
    b->oom = 1;
    return -1;
  }
  b->data = p;
  b->cap = cap;
  return 0;
}

void buf_append(buf *b, const void *p, size_t n) {
  if (n == 0 || buf_reserve(b, n) != 0) return;
  memcpy(b->data + b->len, p, n);
  b->len += n;
}

void buf_puts(buf *b, const char *s) { buf_append(b, s, strlen(s)); }

void buf_putc(buf *b, char c) {
  if (buf_reserve(b, 1) != 0) return;
  b->data[b->len++] = c;
}

void buf_put_u64(buf *b, uint64_t v) {
  char tmp[24];
  int i = sizeof(tmp);
  do {
    tmp[--i] = (char)('0' + v % 10);
    v /= 10;
  } while (v);
  buf_append(b, tmp + i, sizeof(tmp) - i);
}

void buf_put_i64(buf *b, int64_t v) {
  if (v < 0) {
    buf_putc(b, '-');
    buf_put_u64(b, (uint64_t)0 - (uint64_t)v);
  } else {
    buf_put_u64(b, (uint64_t)v);
  }
}

void buf_put_fixed3(buf *b, double v) {
  if (!(v >= 0 && v < 1e12)) { /* negative, huge or NaN: rare, let printf do it */
    buf_put_double(b, v, 3);
    return;
  }
  uint64_t milli = (uint64_t)(v * 1000.0 + 0.5);
  buf_put_u64(b, milli / 1000);
  char frac[4] = {'.', (char)('0' + milli / 100 % 10), (char)('0' + milli / 10 % 10),
                  (char)('0' + milli % 10)};
  buf_append(b, frac, 4);
}

void buf_put_double(buf *b, double v, int decimals) {
  char tmp[64];
  int n = snprintf(tmp, sizeof(tmp), "%.*f", decimals, v);
  if (n > 0) buf_append(b, tmp, (size_t)n < sizeof(tmp) ? (size_t)n : sizeof(tmp) - 1);
}

/* Decodes one UTF-8 sequence at s (n bytes available). Returns its length
 * and stores the code point, or returns 0 if the sequence is invalid. */
static size_t utf8_decode(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len;
  uint32_t v, min;
  if ((c & 0xE0) == 0xC0) {
    len = 2, v = c & 0x1F, min = 0x80;
  } else if ((c & 0xF0) == 0xE0) {
    len = 3, v = c & 0x0F, min = 0x800;
  } else if ((c & 0xF8) == 0xF0) {
    len = 4, v = c & 0x07, min = 0x10000;
  } else {
    return 0;
  }
  if (n < len) return 0;
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  if (v < min || v > 0x10FFFF || (v >= 0xD800 && v <= 0xDFFF)) return 0;
  *cp = v;
  return len;
}

long utf8_count(const char *s, size_t n) {
  const unsigned char *p = (const unsigned char *)s;
  long count = 0;
  size_t i = 0;
  while (i < n) {
    if (p[i] < 0x80) {
      i++;
    } else {
      uint32_t cp;
      size_t k = utf8_decode(p + i, n - i, &cp);
      if (!k) return -1;
      i += k;
    }
    count++;
  }
  return count;
}

size_t utf8_truncate(const char *s, size_t n, size_t max) {
  if (n <= max) return n;
  size_t i = max;
  /* Step back over continuation bytes to the start of a character. */
  while (i > 0 && ((unsigned char)s[i] & 0xC0) == 0x80) i--;
  return i;
}

void json_put_str(buf *b, const char *s, size_t n) {
  static const char hex[] = "0123456789abcdef";
  /* Worst case every byte becomes \u00XX (6 bytes); reserve once. */
  if (buf_reserve(b, n * 6 + 2) != 0) return;
  char *o = b->data + b->len;
  const unsigned char *p = (const unsigned char *)s;
  *o++ = '"';
  size_t i = 0;
  while (i < n) {
    unsigned c = p[i];
    if (c >= 0x20 && c < 0x80 && c != '"' && c != '\\') {
      *o++ = (char)c;
      i++;
      continue;
    }
    if (c >= 0x80) {
      uint32_t cp;
      size_t k = utf8_decode(p + i, n - i, &cp);
      if (k) {
        memcpy(o, p + i, k);
        o += k;
        i += k;
      } else {
        memcpy(o, "\\ufffd", 6);
        o += 6;
        i++;
      }
      continue;
    }
    *o++ = '\\';
    switch (c) {
      case '"': *o++ = '"'; break;
      case '\\': *o++ = '\\'; break;
      case '\n': *o++ = 'n'; break;
      case '\r': *o++ = 'r'; break;
      case '\t': *o++ = 't'; break;
      case '\b': *o++ = 'b'; break;
      case '\f': *o++ = 'f'; break;
      default:
        *o++ = 'u';
        *o++ = '0';
        *o++ = '0';
        *o++ = hex[c >> 4];
        *o++ = hex[c & 15];
    }
    i++;
  }
  *o++ = '"';
  b->len = (size_t)(o - b->data);
}

void json_put_detail(buf *b, const char *msg) {
  buf_puts(b, "{\"detail\":");
  json_put_cstr(b, msg);
  buf_putc(b, '}');
}
