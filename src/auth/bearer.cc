/* auth/bearer.cc: "Authorization: Bearer <token>" for readers (RFC 6750):
 * a static token (READ_TOKENS, METRICS_TOKEN) or an HS256 JWT. */
#include <string.h>
#include <strings.h>

#include "auth.h"

static int b64token_char(char c) {
  return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '-' ||
         c == '.' || c == '_' || c == '~' || c == '+' || c == '/';
}

int auth_is_b64token(const char *s, size_t n) {
  size_t i = 0;
  while (i < n && b64token_char(s[i])) i++;
  if (i == 0) return 0;
  while (i < n && s[i] == '=') i++;
  return i == n;
}

int auth_bearer_token(const auth_hdr *authz, str *token) {
  if (authz->state == AUTH_HDR_ABSENT) return AUTH_TOKEN_MISSING;
  if (authz->state != AUTH_HDR_PRESENT) return AUTH_TOKEN_MALFORMED; /* twice, or too long */
  const char *s = authz->v.base;
  size_t n = authz->v.len;
  /* Another scheme (Basic, ...) carries no bearer credentials at all. */
  if (n < 6 || strncasecmp(s, "bearer", 6) != 0) return AUTH_TOKEN_MISSING;
  if (n > 6 && s[6] != ' ') return AUTH_TOKEN_MISSING; /* "Bearerish" */
  size_t i = 6;
  while (i < n && s[i] == ' ') i++;
  if (!auth_is_b64token(s + i, n - i)) return AUTH_TOKEN_MALFORMED;
  *token = str{s + i, n - i};
  return AUTH_TOKEN_OK;
}

int auth_token_check(const auth_tokens *tokens, const auth_jwt_cfg *jwt, str tok, int64_t now_s) {
  if (!auth_is_b64token(tok.base, tok.len)) return AUTH_TOKEN_MALFORMED;
  if (tokens && auth_tokens_match(tokens, tok.base, tok.len)) return AUTH_TOKEN_OK;
  if (jwt && jwt->key && memchr(tok.base, '.', tok.len))
    return auth_jwt_verify(jwt, tok.base, tok.len, now_s);
  return AUTH_TOKEN_MISMATCH;
}

int auth_bearer_check(const auth_tokens *tokens, const auth_jwt_cfg *jwt, const auth_hdr *authz,
                      int64_t now_s) {
  str tok;
  int r = auth_bearer_token(authz, &tok);
  if (r != AUTH_TOKEN_OK) return r;
  return auth_token_check(tokens, jwt, tok, now_s);
}
