/* casefold.cc: simple Unicode case folding from a generated run table. */
#include "casefold.h"

#include <string.h>

struct fold_run {
  uint32_t first, last;
  int32_t delta;
  uint32_t stride;
};

static const fold_run runs[] = {
#include "casefold_table.inc"
};

uint32_t casefold_cp(uint32_t cp) {
  if (cp < 0x80) return (cp >= 'A' && cp <= 'Z') ? cp + 32 : cp;
  size_t lo = 0, hi = sizeof(runs) / sizeof(runs[0]);
  while (lo < hi) { /* last run with first <= cp */
    size_t mid = (lo + hi) / 2;
    if (runs[mid].first <= cp)
      lo = mid + 1;
    else
      hi = mid;
  }
  if (lo == 0) return cp;
  const fold_run *r = &runs[lo - 1];
  if (cp > r->last || (cp - r->first) % r->stride) return cp;
  return (uint32_t)((int32_t)cp + r->delta);
}

/* Decodes one code point (input assumed mostly valid); returns its length,
 * or 0 for an invalid byte. */
static size_t decode(const unsigned char *s, size_t n, uint32_t *cp) {
  unsigned c = s[0];
  if (c < 0x80) {
    *cp = c;
    return 1;
  }
  size_t len = (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
  if (!len || len > n) return 0;
  uint32_t v = c & (0x7F >> len);
  for (size_t i = 1; i < len; i++) {
    if ((s[i] & 0xC0) != 0x80) return 0;
    v = (v << 6) | (s[i] & 0x3F);
  }
  *cp = v;
  return len;
}

static size_t encode(uint32_t cp, char *o) {
  if (cp < 0x80) {
    o[0] = (char)cp;
    return 1;
  }
  if (cp < 0x800) {
    o[0] = (char)(0xC0 | (cp >> 6));
    o[1] = (char)(0x80 | (cp & 0x3F));
    return 2;
  }
  if (cp < 0x10000) {
    o[0] = (char)(0xE0 | (cp >> 12));
    o[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
    o[2] = (char)(0x80 | (cp & 0x3F));
    return 3;
  }
  o[0] = (char)(0xF0 | (cp >> 18));
  o[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
  o[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
  o[3] = (char)(0x80 | (cp & 0x3F));
  return 4;
}

void casefold_utf8(const char *s, size_t n, buf *out) {
  /* A fold changes a character's UTF-8 length by at most one byte. */
  if (buf_reserve(out, n * 2) != 0) return;
  const unsigned char *p = (const unsigned char *)s;
  char *o = out->data + out->len;
  size_t i = 0;
  while (i < n) {
    uint32_t cp;
    size_t k = decode(p + i, n - i, &cp);
    if (!k) {
      *o++ = (char)p[i++];
      continue;
    }
    o += encode(casefold_cp(cp), o);
    i += k;
  }
  out->len = (size_t)(o - out->data);
}

int casefold_contains(const char *hay, size_t hlen, const char *needle, size_t nlen) {
  if (nlen == 0) return 1;
  /* Fold the haystack into a stack buffer in pieces would complicate
   * matching across pieces; texts are at most 4096 characters (16 KiB),
   * so one bounded buffer does. */
  char stack[2 * 16384 + 8];
  buf tmp = {};
  const char *h;
  size_t hl;
  if (hlen * 2 <= sizeof(stack)) {
    buf view = {stack, 0, sizeof(stack), 0};
    casefold_utf8(hay, hlen, &view);
    h = stack;
    hl = view.len;
  } else {
    casefold_utf8(hay, hlen, &tmp);
    h = tmp.data;
    hl = tmp.len;
  }
  int found = h && memmem(h, hl, needle, nlen) != NULL;
  buf_free(&tmp);
  return found;
}
