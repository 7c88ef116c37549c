/* auth/hmac.cc: HMAC-SHA256 signing and constant-time hex verification
 * (libsodium), and the reason labels. */
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

static void hmac(const char *key, size_t keylen, const char *body, size_t len,
                 unsigned char mac[crypto_auth_hmacsha256_BYTES]) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, keylen);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof(st));
}

void auth_sign_hex(const char *key, size_t keylen, const char *body, size_t len,
                   char out[AUTH_HEX_LEN + 1]) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  hmac(key, keylen, body, len, mac);
  sodium_bin2hex(out, AUTH_HEX_LEN + 1, mac, sizeof(mac));
}

void auth_hmac_standard(const unsigned char *key, size_t keylen, str id, str ts, const char *body,
                        size_t len, unsigned char mac[32]) {
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, key, keylen);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)id.base, id.len);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)ts.base, ts.len);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)".", 1);
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)body, len);
  crypto_auth_hmacsha256_final(&st, mac);
  sodium_memzero(&st, sizeof(st));
}

void auth_sign_standard(const unsigned char *key, size_t keylen, str id, str ts, const char *body,
                        size_t len, char out[AUTH_B64_LEN + 1]) {
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  auth_hmac_standard(key, keylen, id, ts, body, len, mac);
  sodium_bin2base64(out, AUTH_B64_LEN + 1, mac, sizeof(mac), sodium_base64_VARIANT_ORIGINAL);
}

int auth_verify(const char *key, size_t keylen, const char *body, size_t len, const char *sig,
                size_t siglen) {
  if (siglen > 7 && memcmp(sig, "sha256=", 7) == 0) {
    sig += 7;
    siglen -= 7;
  }
  if (siglen != AUTH_HEX_LEN) return 0;
  unsigned char want[crypto_auth_hmacsha256_BYTES];
  size_t got = 0;
  const char *end = NULL;
  if (sodium_hex2bin(want, sizeof(want), sig, siglen, NULL, &got, &end) != 0 ||
      got != sizeof(want) || end != sig + siglen)
    return 0;
  unsigned char mac[crypto_auth_hmacsha256_BYTES];
  hmac(key, keylen, body, len, mac);
  return sodium_memcmp(mac, want, sizeof(mac)) == 0;
}
