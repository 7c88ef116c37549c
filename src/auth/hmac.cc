/* auth/hmac.cc: the one HMAC-SHA256 (libsodium) every scheme, the JWT
 * check and `--sign` go through, the signing helpers, and the reason
 * labels. */
#include <sodium.h>
#include <string.h>

#include "auth.h"

int auth_init(void) { return sodium_init() < 0 ? -1 : 0; }

const char *auth_sig_reason_label(int reason) {
  static const char *const labels[AUTH_SIG_COUNT] = {"ok",
#define X(name, label) label,
                                                     AUTH_SIG_REASON_MAP(X)
#undef X
  };
  return reason >= 0 && reason < AUTH_SIG_COUNT ? labels[reason] : "unknown";
}

const char *auth_token_reason_label(int reason) {
  static const char *const labels[AUTH_TOKEN_COUNT] = {"ok",
#define X(name, label) label,
                                                       AUTH_TOKEN_REASON_MAP(X)
#undef X
  };
  return reason >= 0 && reason < AUTH_TOKEN_COUNT ? labels[reason] : "unknown";
}

void auth_hmac(const void *key, size_t keylen, const str *parts, int nparts,
               unsigned char mac[AUTH_MAC_LEN]) {
  static_assert(AUTH_MAC_LEN == crypto_auth_hmacsha256_BYTES, "HMAC-SHA256 size");
  crypto_auth_hmacsha256_state st; /* holds the key's pads: wiped below */
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, keylen);
  for (int i = 0; i < nparts; i++)
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)parts[i].base, parts[i].len);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof(st));
}

void auth_sign_hex(const char *key, size_t keylen, const char *body, size_t len,
                   char out[AUTH_HEX_LEN + 1]) {
  unsigned char mac[AUTH_MAC_LEN];
  str part = {body, len};
  auth_hmac(key, keylen, &part, 1, mac);
  sodium_bin2hex(out, AUTH_HEX_LEN + 1, mac, sizeof(mac));
}

void auth_hmac_standard(const unsigned char *key, size_t keylen, str id, str ts, const char *body,
                        size_t len, unsigned char mac[AUTH_MAC_LEN]) {
  const str parts[5] = {id, {".", 1}, ts, {".", 1}, {body, len}};
  auth_hmac(key, keylen, parts, 5, mac);
}

void auth_sign_standard(const unsigned char *key, size_t keylen, str id, str ts, const char *body,
                        size_t len, char out[AUTH_B64_LEN + 1]) {
  unsigned char mac[AUTH_MAC_LEN];
  auth_hmac_standard(key, keylen, id, ts, body, len, mac);
  sodium_bin2base64(out, AUTH_B64_LEN + 1, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
}
