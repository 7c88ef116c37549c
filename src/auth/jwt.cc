/* auth/jwt.cc: compact HS256 JSON Web Tokens (RFC 7519) for readers.
 *
 * Order: split into three base64url parts, read the header (alg must be
 * exactly "HS256"; "none" and everything else refused; "crit" refused),
 * check HMAC-SHA256(JWT_SECRET, header "." payload) in constant time, and
 * only then read the claims. JSON is parsed by RapidJSON's SAX reader
 * (iterative, UTF-8 validating, in situ in a stack buffer); a repeated
 * known member is refused rather than guessed at. Loop thread only (the
 * reader is static and reused). */
#include <rapidjson/reader.h>
#include <sodium.h>
#include <string.h>

#include "auth.h"

#define JWT_MAX_PART (HTTP_MAX_AUTHORIZATION / 4 * 3 + 4) /* decoded bytes */

enum jkey { J_NONE = -1, J_ALG, J_CRIT, J_EXP, J_NBF, J_IAT, J_ISS, J_AUD, J_COUNT };
static const char *const jkey_names[J_COUNT] = {"alg", "crit", "exp", "nbf", "iat", "iss", "aud"};
enum jkind { JK_ABSENT = 0, JK_STRING, JK_NUMBER, JK_ARRAY, JK_OTHER };

/* Collects the members hookd looks at, at the top level of one object. */
struct jwt_sax {
  const char *want_aud; /* configured audience, matched against aud */
  int depth;
  int root_object;
  int cur;    /* member whose value comes next (depth 1) */
  int in_aud; /* inside the aud array (depth 2) */
  int dup;    /* a known member appeared twice */
  int aud_match;
  int aud_bad; /* a non-string inside aud */
  int kind[J_COUNT];
  str s[J_COUNT];
  double num[J_COUNT];

  void value(int k, const char *p, size_t n, double d) {
    if (depth == 1 && cur != J_NONE) {
      kind[cur] = k;
      s[cur] = str{p, n};
      num[cur] = d;
    } else if (in_aud && depth == 2) {
      if (k != JK_STRING)
        aud_bad = 1;
      else if (want_aud && strlen(want_aud) == n && memcmp(want_aud, p, n) == 0)
        aud_match = 1;
    }
    cur = J_NONE;
  }
  bool Null() {
    value(JK_OTHER, NULL, 0, 0);
    return true;
  }
  bool Bool(bool) {
    value(JK_OTHER, NULL, 0, 0);
    return true;
  }
  bool Int(int i) {
    value(JK_NUMBER, NULL, 0, i);
    return true;
  }
  bool Uint(unsigned u) {
    value(JK_NUMBER, NULL, 0, u);
    return true;
  }
  bool Int64(int64_t i) {
    value(JK_NUMBER, NULL, 0, (double)i);
    return true;
  }
  bool Uint64(uint64_t u) {
    value(JK_NUMBER, NULL, 0, (double)u);
    return true;
  }
  bool Double(double d) {
    value(JK_NUMBER, NULL, 0, d);
    return true;
  }
  bool RawNumber(const char *, rapidjson::SizeType, bool) { return false; }
  bool String(const char *p, rapidjson::SizeType n, bool) {
    value(JK_STRING, p, n, 0);
    return true;
  }
  bool Key(const char *p, rapidjson::SizeType n, bool) {
    cur = J_NONE;
    if (depth != 1) return true;
    for (int k = 0; k < J_COUNT; k++) {
      if (strlen(jkey_names[k]) == n && memcmp(jkey_names[k], p, n) == 0) {
        if (kind[k] != JK_ABSENT) dup = 1;
        kind[k] = JK_OTHER; /* until its value says otherwise */
        cur = k;
      }
    }
    return true;
  }
  bool StartObject() {
    if (depth == 0) root_object = 1;
    if (depth == 1 && cur != J_NONE) kind[cur] = JK_OTHER;
    if (in_aud && depth == 2) aud_bad = 1;
    cur = J_NONE;
    depth++;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    depth--;
    return true;
  }
  bool StartArray() {
    if (depth == 1 && cur == J_AUD) {
      kind[J_AUD] = JK_ARRAY;
      in_aud = 1;
    } else if (depth == 1 && cur != J_NONE) {
      kind[cur] = JK_OTHER;
    } else if (in_aud && depth == 2) {
      aud_bad = 1;
    }
    cur = J_NONE;
    depth++;
    return true;
  }
  bool EndArray(rapidjson::SizeType) {
    depth--;
    if (depth == 1) in_aud = 0;
    return true;
  }
};

/* base64url without padding -> out (NUL-terminated for the in-situ parser). */
static int decode_part(const char *p, size_t n, char *out, size_t cap, size_t *len) {
  const char *end = NULL;
  if (n == 0 ||
      sodium_base642bin((unsigned char *)out, cap - 1, p, n, NULL, len, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != p + n)
    return -1;
  out[*len] = 0;
  return 0;
}

static int parse_json(char *text, size_t len, jwt_sax *h) {
  static rapidjson::Reader reader;
  rapidjson::InsituStringStream is(text);
  constexpr unsigned flags = rapidjson::kParseInsituFlag | rapidjson::kParseValidateEncodingFlag |
                             rapidjson::kParseIterativeFlag;
  if (!reader.Parse<flags>(is, *h)) return -1;
  if (is.Tell() != len || !h->root_object || h->dup) return -1; /* NUL inside, not an object */
  return 0;
}

int auth_jwt_verify(const auth_jwt_cfg *cfg, const char *tok, size_t len, int64_t now_s) {
  const char *d1 = (const char *)memchr(tok, '.', len);
  const char *d2 = d1 ? (const char *)memchr(d1 + 1, '.', (size_t)(tok + len - d1 - 1)) : NULL;
  if (!d2 || memchr(d2 + 1, '.', (size_t)(tok + len - d2 - 1))) return AUTH_TOKEN_MALFORMED;
  char part[JWT_MAX_PART];
  size_t n = 0;

  /* Header. */
  if (decode_part(tok, (size_t)(d1 - tok), part, sizeof(part), &n) != 0)
    return AUTH_TOKEN_MALFORMED;
  jwt_sax hh = {};
  hh.cur = J_NONE;
  if (parse_json(part, n, &hh) != 0) return AUTH_TOKEN_MALFORMED;
  if (hh.kind[J_ALG] != JK_STRING || hh.s[J_ALG].len != 5 ||
      memcmp(hh.s[J_ALG].base, "HS256", 5) != 0)
    return AUTH_TOKEN_BAD_ALG;
  if (hh.kind[J_CRIT] != JK_ABSENT) return AUTH_TOKEN_MALFORMED; /* no extension understood */

  /* Signature over the ASCII of header "." payload. */
  unsigned char want[crypto_auth_hmacsha256_BYTES], mac[crypto_auth_hmacsha256_BYTES];
  size_t got = 0;
  const char *end = NULL;
  const char *sig = d2 + 1;
  size_t siglen = (size_t)(tok + len - sig);
  if (sodium_base642bin(want, sizeof(want), sig, siglen, NULL, &got, &end,
                        sodium_base64_VARIANT_URLSAFE_NO_PADDING) != 0 ||
      end != sig + siglen || got != sizeof(want))
    return AUTH_TOKEN_MALFORMED;
  const str signed_part = {tok, (size_t)(d2 - tok)};
  auth_hmac(cfg->key, cfg->key_len, &signed_part, 1, mac);
  if (sodium_memcmp(mac, want, sizeof(mac)) != 0) return AUTH_TOKEN_MISMATCH;

  /* Claims: only now, from a payload hookd's key signed. */
  if (decode_part(d1 + 1, (size_t)(d2 - d1 - 1), part, sizeof(part), &n) != 0)
    return AUTH_TOKEN_MALFORMED;
  jwt_sax c = {};
  c.cur = J_NONE;
  c.want_aud = cfg->aud;
  if (parse_json(part, n, &c) != 0) return AUTH_TOKEN_MALFORMED;
  for (int k = J_EXP; k <= J_IAT; k++)
    if (c.kind[k] != JK_ABSENT && c.kind[k] != JK_NUMBER) return AUTH_TOKEN_CLAIMS;
  if (c.kind[J_EXP] != JK_NUMBER) return AUTH_TOKEN_CLAIMS; /* exp is required */
  double now = (double)now_s, leeway = (double)cfg->leeway_s;
  if (now >= c.num[J_EXP] + leeway) return AUTH_TOKEN_EXPIRED;
  if (c.kind[J_NBF] == JK_NUMBER && now + leeway < c.num[J_NBF]) return AUTH_TOKEN_NOT_YET_VALID;
  if (c.kind[J_IAT] == JK_NUMBER && now + leeway < c.num[J_IAT]) return AUTH_TOKEN_NOT_YET_VALID;
  if (cfg->iss) {
    size_t k = strlen(cfg->iss);
    if (c.kind[J_ISS] != JK_STRING || c.s[J_ISS].len != k || memcmp(c.s[J_ISS].base, cfg->iss, k))
      return AUTH_TOKEN_CLAIMS;
  }
  if (cfg->aud) {
    size_t k = strlen(cfg->aud);
    int ok = c.kind[J_AUD] == JK_STRING
                 ? c.s[J_AUD].len == k && memcmp(c.s[J_AUD].base, cfg->aud, k) == 0
                 : c.kind[J_AUD] == JK_ARRAY && c.aud_match && !c.aud_bad;
    if (!ok) return AUTH_TOKEN_CLAIMS;
  }
  return AUTH_TOKEN_OK;
}
