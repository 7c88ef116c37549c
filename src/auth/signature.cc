/* auth/signature.cc: the webhook signature schemes.
 *
 *   x-signature  X-Signature: <hex>            HMAC-SHA256(secret, body)
 *   hub          X-Hub-Signature-256: sha256=<hex>   (GitHub, Meta)
 *   standard     webhook-id / webhook-timestamp / webhook-signature: v1,<base64> ...
 *                HMAC-SHA256(base64-decoded whsec_ secret, id "." ts "." body)
 *
 * Every enabled scheme is checked against every secret, and every digest
 * comparison runs to the end (sodium_memcmp, results OR-ed), so timing
 * says neither which secret nor which entry matched. Parsing is strict
 * and bounded: values are capped by the HTTP layer, entries by
 * AUTH_MAX_SIG_ENTRIES. */
#include <sodium.h>
#include <string.h>

#include "auth.h"

#define DIGEST crypto_auth_hmacsha256_BYTES

static int worse(int a, int b) { return a > b ? a : b; }

unsigned auth_schemes_parse(const char *list) {
  unsigned bits = 0;
  const char *p = list;
  for (;;) {
    while (*p == ' ' || *p == '\t') p++;
    const char *e = p;
    while (*e && *e != ',') e++;
    const char *t = e;
    while (t > p && (t[-1] == ' ' || t[-1] == '\t')) t--;
    size_t n = (size_t)(t - p);
    if (n == 11 && !memcmp(p, "x-signature", 11))
      bits |= AUTH_SCHEME_XSIG;
    else if (n == 3 && !memcmp(p, "hub", 3))
      bits |= AUTH_SCHEME_HUB;
    else if (n == 8 && !memcmp(p, "standard", 8))
      bits |= AUTH_SCHEME_STANDARD;
    else
      return 0;
    if (!*e) return bits;
    p = e + 1;
  }
}

int auth_parse_timestamp(str s, int64_t *out) {
  if (s.len == 0 || s.len > 19) return -1;
  uint64_t v = 0;
  for (size_t i = 0; i < s.len; i++) {
    char c = s.base[i];
    if (c < '0' || c > '9') return -1;
    v = v * 10 + (uint64_t)(c - '0');
  }
  if (v > (uint64_t)INT64_MAX) return -1;
  *out = (int64_t)v;
  return 0;
}

/* A header's reason before its value is looked at; AUTH_SIG_OK means
 * "present, go on". */
static int header_reason(const auth_hdr *h) {
  switch (h->state) {
    case AUTH_HDR_PRESENT: return h->v.len ? AUTH_SIG_OK : AUTH_SIG_MALFORMED;
    case AUTH_HDR_DUPLICATE: return AUTH_SIG_DUPLICATE;
    case AUTH_HDR_TOO_LONG: return AUTH_SIG_MALFORMED;
    default: return AUTH_SIG_MISSING;
  }
}

/* "<hex>" or "sha256=<hex>" (the prefix required when need_prefix). */
static int parse_hex(str v, int need_prefix, unsigned char out[DIGEST]) {
  const char *s = v.base;
  size_t n = v.len;
  if (n > 7 && memcmp(s, "sha256=", 7) == 0) {
    s += 7;
    n -= 7;
  } else if (need_prefix) {
    return -1;
  }
  if (n != AUTH_HEX_LEN) return -1;
  size_t got = 0;
  const char *end = NULL;
  if (sodium_hex2bin(out, DIGEST, s, n, NULL, &got, &end) != 0 || got != DIGEST || end != s + n)
    return -1;
  return 0;
}

/* x-signature and hub share one HMAC of the body per secret. */
static int verify_hex(const auth_webhook_cfg *cfg, const auth_sig_headers *h, const char *body,
                      size_t len, int *reason) {
  unsigned char want[2][DIGEST];
  int use[2] = {0, 0};
  const auth_hdr *hdr[2] = {&h->xsig, &h->hub};
  const unsigned bit[2] = {AUTH_SCHEME_XSIG, AUTH_SCHEME_HUB};
  for (int k = 0; k < 2; k++) {
    if (!(cfg->schemes & bit[k])) continue;
    int r = header_reason(hdr[k]);
    if (r == AUTH_SIG_OK && parse_hex(hdr[k]->v, k == 1, want[k]) != 0) r = AUTH_SIG_MALFORMED;
    if (r == AUTH_SIG_OK)
      use[k] = 1;
    else
      *reason = worse(*reason, r);
  }
  if (!use[0] && !use[1]) return 0;
  int ok = 0;
  for (int i = 0; i < cfg->secrets->n; i++) {
    const auth_secret *e = &cfg->secrets->e[i];
    unsigned char mac[DIGEST];
    const str part = {body, len};
    auth_hmac(e->key, e->len, &part, 1, mac);
    for (int k = 0; k < 2; k++)
      if (use[k]) ok |= sodium_memcmp(mac, want[k], DIGEST) == 0;
  }
  if (!ok) *reason = worse(*reason, AUTH_SIG_MISMATCH);
  return ok;
}

/* Standard Webhooks: space-separated "v1,<base64>" entries; other
 * versions (v1a, ...) are skipped as the spec says. */
static int verify_standard(const auth_webhook_cfg *cfg, const auth_sig_headers *h, const char *body,
                           size_t len, int64_t now_s, int *reason) {
  int r = worse(worse(header_reason(&h->id), header_reason(&h->ts)), header_reason(&h->sig));
  if (r == AUTH_SIG_MISSING && (h->id.state || h->ts.state || h->sig.state))
    r = AUTH_SIG_MALFORMED; /* some of the three, not all */
  int64_t ts = 0;
  if (r == AUTH_SIG_OK && auth_parse_timestamp(h->ts.v, &ts) != 0) r = AUTH_SIG_MALFORMED;
  if (r != AUTH_SIG_OK) {
    *reason = worse(*reason, r);
    return 0;
  }
  unsigned char want[AUTH_MAX_SIG_ENTRIES][DIGEST];
  int n = 0, bad = 0;
  const char *p = h->sig.v.base, *end = p + h->sig.v.len;
  while (p < end) {
    while (p < end && *p == ' ') p++;
    const char *e = p;
    while (e < end && *e != ' ') e++;
    if (e - p >= 3 && memcmp(p, "v1,", 3) == 0) {
      size_t got = 0;
      const char *stop = NULL;
      if (n == AUTH_MAX_SIG_ENTRIES) {
        bad = 1;
        break;
      }
      if (sodium_base642bin(want[n], DIGEST, p + 3, (size_t)(e - p - 3), NULL, &got, &stop,
                            sodium_base64_VARIANT_ORIGINAL) == 0 &&
          got == DIGEST && stop == e)
        n++;
      else
        bad = 1;
    } else if (e > p && (e - p < 3 || memchr(p, ',', (size_t)(e - p)) == NULL)) {
      bad = 1; /* not "<version>,<signature>" at all */
    }
    p = e;
  }
  if (bad || n == 0) {
    *reason = worse(*reason, AUTH_SIG_MALFORMED);
    return 0;
  }
  int ok = 0;
  for (int i = 0; i < cfg->secrets->n; i++) {
    const auth_secret *s = &cfg->secrets->e[i];
    if (!s->std_len) continue;
    unsigned char mac[DIGEST];
    auth_hmac_standard(s->std, s->std_len, h->id.v, h->ts.v, body, len, mac);
    for (int k = 0; k < n; k++) ok |= sodium_memcmp(mac, want[k], DIGEST) == 0;
  }
  if (!ok) {
    *reason = worse(*reason, AUTH_SIG_MISMATCH);
    return 0;
  }
  /* Checked after the signature, so too_old / too_new count only
   * correctly signed requests: replays and clock skew, not noise. */
  if (now_s - ts > (int64_t)cfg->tolerance_s)
    r = AUTH_SIG_TOO_OLD;
  else if (ts - now_s > (int64_t)cfg->tolerance_s)
    r = AUTH_SIG_TOO_NEW;
  if (r != AUTH_SIG_OK) {
    *reason = worse(*reason, r);
    return 0;
  }
  return 1;
}

int auth_webhook_verify(const auth_webhook_cfg *cfg, const auth_sig_headers *h, const char *body,
                        size_t len, int64_t now_s) {
  if (!cfg->secrets || cfg->secrets->n == 0 || !cfg->schemes) return AUTH_SIG_MISMATCH;
  int reason = AUTH_SIG_MISSING;
  /* An enabled scheme's header sent twice makes the request ambiguous:
   * refused whatever else it carries. */
  const auth_hdr *dups[5] = {&h->xsig, &h->hub, &h->id, &h->ts, &h->sig};
  const unsigned owner[5] = {AUTH_SCHEME_XSIG, AUTH_SCHEME_HUB, AUTH_SCHEME_STANDARD,
                             AUTH_SCHEME_STANDARD, AUTH_SCHEME_STANDARD};
  for (int i = 0; i < 5; i++)
    if ((cfg->schemes & owner[i]) && dups[i]->state == AUTH_HDR_DUPLICATE)
      return AUTH_SIG_DUPLICATE;
  int ok = 0;
  if (cfg->schemes & (AUTH_SCHEME_XSIG | AUTH_SCHEME_HUB))
    ok |= verify_hex(cfg, h, body, len, &reason);
  if (cfg->schemes & AUTH_SCHEME_STANDARD) ok |= verify_standard(cfg, h, body, len, now_s, &reason);
  return ok ? AUTH_SIG_OK : reason;
}
