/* auth.cc: HMAC-SHA256 signing and constant-time verification. */
#include "auth.h"

#include <sodium.h>
#include <string.h>

int auth_init(void) { return sodium_init() < 0 ? -1 : 0; }

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

int auth_verify(const char *key, size_t keylen, const char *body, size_t len,
                const char *sig, size_t siglen) {
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
