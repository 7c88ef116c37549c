/* query.cc: query-string splitting and strict percent-decoding. */
#include "query.h"

#include <string.h>

#include "buf.h"

int query_next(str *qs, str *key, str *val) {
  while (qs->len) {
    const char *amp = (const char *)memchr(qs->base, '&', qs->len);
    size_t n = amp ? (size_t)(amp - qs->base) : qs->len;
    str pair = {qs->base, n};
    qs->base += amp ? n + 1 : n;
    qs->len -= amp ? n + 1 : n;
    if (n == 0) continue; /* "a=1&&b=2" */
    const char *eq = (const char *)memchr(pair.base, '=', pair.len);
    *key = str{pair.base, eq ? (size_t)(eq - pair.base) : pair.len};
    *val = eq ? str{eq + 1, pair.len - (size_t)(eq + 1 - pair.base)} : str{pair.base + pair.len, 0};
    return 1;
  }
  return 0;
}

static int hexval(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

long query_decode(str in, int plus_is_space, char *out, size_t cap) {
  size_t o = 0;
  for (size_t i = 0; i < in.len; i++) {
    char c = in.base[i];
    if (c == '%') {
      if (i + 2 >= in.len) return -1; /* needs two hex digits */
      int hi = hexval(in.base[i + 1]), lo = hexval(in.base[i + 2]);
      if (hi < 0 || lo < 0) return -1;
      c = (char)(hi * 16 + lo);
      i += 2;
    } else if (c == '+' && plus_is_space) {
      c = ' ';
    }
    if (c == 0 || o >= cap) return -1;
    out[o++] = c;
  }
  return utf8_count(out, o) < 0 ? -1 : (long)o;
}

long query_find(str qs, const char *name, int plus_is_space, char *out, size_t cap, int *count) {
  str key, val;
  size_t nl = strlen(name);
  char k[32];
  long found = QUERY_ABSENT;
  int n = 0;
  while (query_next(&qs, &key, &val)) {
    long kl = query_decode(key, 1, k, sizeof(k));
    if (kl < 0 || (size_t)kl != nl || memcmp(k, name, nl) != 0) continue;
    n++;
    found = query_decode(val, plus_is_space, out, cap);
    if (found < 0) found = QUERY_BAD;
  }
  if (count) *count = n;
  return found;
}
