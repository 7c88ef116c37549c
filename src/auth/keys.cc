/* auth/keys.cc: lists of webhook secrets and bearer tokens, as configured
 * in the environment (comma-separated) or in a file (one per line).
 *
 * Lists are built whole and never changed: a SIGHUP reload builds new ones
 * off the loop, and the loop swaps the pointer. Runs on any thread. */
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth.h"

/* Calls fn(entry) for each trimmed, non-empty entry of text split at sep;
 * stops at the first non-zero return. */
template <typename F>
static int split_list(const char *text, size_t len, char sep, F fn) {
  size_t i = 0;
  while (i <= len) {
    size_t j = i;
    while (j < len && text[j] != sep) j++;
    size_t a = i, b = j;
    while (a < b && (text[a] == ' ' || text[a] == '\t')) a++;
    while (b > a && (text[b - 1] == ' ' || text[b - 1] == '\t' || text[b - 1] == '\r')) b--;
    if (b > a) {
      int rc = fn(a, b - a);
      if (rc) return rc;
    }
    i = j + 1;
  }
  return 0;
}

static int has_prefix(const char *s, size_t n, const char *p) {
  size_t k = strlen(p);
  return n >= k && memcmp(s, p, k) == 0;
}

int auth_secrets_parse(const char *text, size_t len, char sep, int need_std, auth_secrets **out,
                       char *err, size_t errlen) {
  *out = NULL;
  if (len > AUTH_MAX_LIST_BYTES) {
    snprintf(err, errlen, "the list is longer than %d bytes", AUTH_MAX_LIST_BYTES);
    return -1;
  }
  auth_secrets *s = (auth_secrets *)calloc(1, sizeof(*s));
  char *copy = (char *)malloc(len + 1);
  if (!s || !copy) {
    free(s);
    free(copy);
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  memcpy(copy, text, len);
  copy[len] = 0;
  s->text = copy;
  s->text_len = len;
  int rc = split_list(copy, len, sep, [&](size_t off, size_t n) {
    if (s->n >= AUTH_MAX_SECRETS) {
      snprintf(err, errlen, "more than %d secrets", AUTH_MAX_SECRETS);
      return -1;
    }
    auth_secret *e = &s->e[s->n];
    e->key = copy + off;
    e->len = n;
    if (has_prefix(e->key, n, "whsec_")) {
      const char *b64 = e->key + 6, *end = NULL;
      size_t got = 0;
      if (sodium_base642bin(e->std, sizeof(e->std), b64, n - 6, NULL, &got, &end,
                            sodium_base64_VARIANT_ORIGINAL) != 0 ||
          end != e->key + n || got < AUTH_STD_KEY_MIN) {
        got = 0;
        sodium_memzero(e->std, sizeof(e->std));
      }
      e->std_len = got;
      if (need_std && !got) {
        snprintf(err, errlen, "secret %d: a whsec_ secret must be base64 of %d to %d bytes",
                 s->n + 1, AUTH_STD_KEY_MIN, AUTH_STD_KEY_MAX);
        return -1;
      }
    }
    s->n++;
    return 0;
  });
  if (rc == 0 && s->n == 0) {
    snprintf(err, errlen, "no secret in the list");
    rc = -1;
  }
  int nstd = 0;
  for (int i = 0; i < s->n; i++) nstd += s->e[i].std_len > 0;
  if (rc == 0 && need_std && nstd == 0) {
    snprintf(err, errlen, "the standard scheme needs a whsec_<base64> secret");
    rc = -1;
  }
  if (rc) {
    auth_secrets_free(s);
    return -1;
  }
  *out = s;
  return 0;
}

void auth_secrets_free(auth_secrets *s) {
  if (!s) return;
  if (s->text) sodium_memzero(s->text, s->text_len); /* the secrets themselves */
  free(s->text);
  sodium_memzero(s, sizeof(*s));
  free(s);
}

/* SHA-256, which the signature schemes link anyway: BLAKE2b would bring
 * libsodium's three BLAKE2b implementations into the static binary (57 KB)
 * for the same purpose, a fixed-length value to compare in constant time. */
static void digest(const char *tok, size_t len, unsigned char out[32]) {
  crypto_hash_sha256(out, (const unsigned char *)tok, len);
}

int auth_tokens_parse(const char *text, size_t len, char sep, auth_tokens **out, char *err,
                      size_t errlen) {
  *out = NULL;
  if (len > AUTH_MAX_LIST_BYTES) {
    snprintf(err, errlen, "the list is longer than %d bytes", AUTH_MAX_LIST_BYTES);
    return -1;
  }
  auth_tokens *t = (auth_tokens *)calloc(1, sizeof(*t));
  if (!t) {
    snprintf(err, errlen, "out of memory");
    return -1;
  }
  int rc = split_list(text, len, sep, [&](size_t off, size_t n) {
    if (t->n >= AUTH_MAX_TOKENS) {
      snprintf(err, errlen, "more than %d tokens", AUTH_MAX_TOKENS);
      return -1;
    }
    if (n < AUTH_MIN_TOKEN_LEN || n > HTTP_MAX_AUTHORIZATION - 7 ||
        !auth_is_b64token(text + off, n)) {
      snprintf(err, errlen,
               "token %d: expected %d to %d characters of A-Z a-z 0-9 - . _ ~ + / (then =)",
               t->n + 1, AUTH_MIN_TOKEN_LEN, HTTP_MAX_AUTHORIZATION - 7);
      return -1;
    }
    digest(text + off, n, t->d[t->n++]);
    return 0;
  });
  if (rc == 0 && t->n == 0) {
    snprintf(err, errlen, "no token in the list");
    rc = -1;
  }
  if (rc) {
    auth_tokens_free(t);
    return -1;
  }
  *out = t;
  return 0;
}

void auth_tokens_free(auth_tokens *t) {
  if (!t) return;
  sodium_memzero(t, sizeof(*t));
  free(t);
}

int auth_tokens_match(const auth_tokens *t, const char *tok, size_t len) {
  if (!t) return 0;
  unsigned char d[32];
  digest(tok, len, d);
  int match = 0;
  for (int i = 0; i < t->n; i++) match |= sodium_memcmp(d, t->d[i], 32) == 0;
  return match;
}
