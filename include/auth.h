/* auth.h: webhook signatures, HMAC-SHA256 over the raw body (libsodium). */
#ifndef HOOKD_AUTH_H
#define HOOKD_AUTH_H

#include <stddef.h>

#define AUTH_HEX_LEN 64 /* hex digest length */

/* Must be called once before any other auth_ call (sodium_init). 0 or -1. */
int auth_init(void);
/* hex(HMAC-SHA256(key, body)) into out (64 chars + NUL). */
void auth_sign_hex(const char *key, size_t keylen, const char *body, size_t len,
                   char out[AUTH_HEX_LEN + 1]);
/* 1 when sig (hex, either case, optionally prefixed "sha256=") is the HMAC
 * of body under key; 0 otherwise. The digest comparison is constant-time. */
int auth_verify(const char *key, size_t keylen, const char *body, size_t len,
                const char *sig, size_t siglen);

#endif
