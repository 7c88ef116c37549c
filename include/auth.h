/* auth.h: who may call hookd. Webhook signature schemes (x-signature, hub,
 * Standard Webhooks) with several active secrets, bearer tokens and HS256
 * JWTs for readers. Pure functions over bytes: no connection, no config,
 * no I/O; every cryptographic primitive is libsodium's.
 *
 * Files: src/auth/hmac.cc (HMAC, signing), keys.cc (secret and token
 * lists), signature.cc (the webhook schemes), bearer.cc (Authorization,
 * static tokens), jwt.cc (HS256 JWTs). */
#ifndef HOOKD_AUTH_H
#define HOOKD_AUTH_H

#include <stddef.h>
#include <stdint.h>

#include "defs.h"

#define AUTH_MAC_LEN 32           /* HMAC-SHA256 digest bytes */
#define AUTH_HEX_LEN 64           /* hex digest length */
#define AUTH_B64_LEN 44           /* base64 of a 32-byte digest, padded */
#define AUTH_MAX_SECRETS 16       /* active webhook secrets (rotation) */
#define AUTH_MAX_TOKENS 64        /* static bearer tokens */
#define AUTH_MAX_LIST_BYTES 65536 /* a secret or token list (env or file) */
#define AUTH_STD_KEY_MIN 24       /* Standard Webhooks: decoded whsec_ key bytes */
#define AUTH_STD_KEY_MAX 64
#define AUTH_MAX_SIG_ENTRIES 64 /* webhook-signature entries examined */
#define AUTH_MIN_TOKEN_LEN 16   /* a configured static token is at least this long */
#define AUTH_MIN_JWT_KEY 32     /* RFC 7518 3.2: an HS256 key has >= 256 bits */

/* Signature schemes (SIGNATURE_SCHEMES), a bit each. */
enum auth_scheme {
  AUTH_SCHEME_XSIG = 1,     /* X-Signature: <hex> ("sha256=" prefix accepted) */
  AUTH_SCHEME_HUB = 2,      /* X-Hub-Signature-256: sha256=<hex> */
  AUTH_SCHEME_STANDARD = 4, /* webhook-id, webhook-timestamp, webhook-signature */
};

/* Why a webhook signature was refused; the `reason` label of
 * hookd_signature_failures_total. Ordered by how far the request got: when
 * every enabled scheme fails, the highest reason is reported. */
#define AUTH_SIG_REASON_MAP(X) \
  X(MISSING, "missing")        \
  X(MISMATCH, "mismatch")      \
  X(TOO_OLD, "too_old")        \
  X(TOO_NEW, "too_new")        \
  X(MALFORMED, "malformed")    \
  X(DUPLICATE, "duplicate_header")

enum auth_sig_reason {
  AUTH_SIG_OK = 0,
#define X(name, label) AUTH_SIG_##name,
  AUTH_SIG_REASON_MAP(X)
#undef X
      AUTH_SIG_COUNT
};

/* Why a bearer token was refused; the `reason` label of
 * hookd_token_failures_total. */
#define AUTH_TOKEN_REASON_MAP(X)    \
  X(MISSING, "missing")             \
  X(MALFORMED, "malformed")         \
  X(MISMATCH, "mismatch")           \
  X(BAD_ALG, "bad_alg")             \
  X(EXPIRED, "expired")             \
  X(NOT_YET_VALID, "not_yet_valid") \
  X(CLAIMS, "claims")

enum auth_token_reason {
  AUTH_TOKEN_OK = 0,
#define X(name, label) AUTH_TOKEN_##name,
  AUTH_TOKEN_REASON_MAP(X)
#undef X
      AUTH_TOKEN_COUNT
};

const char *auth_sig_reason_label(int reason); /* "missing", ...; "ok" for 0 */
const char *auth_token_reason_label(int reason);

/* One request header as the HTTP layer captured it. */
enum auth_hdr_state {
  AUTH_HDR_ABSENT = 0,
  AUTH_HDR_PRESENT,   /* v holds the value, surrounding whitespace removed */
  AUTH_HDR_DUPLICATE, /* sent more than once: refused, never "last one wins" */
  AUTH_HDR_TOO_LONG,  /* longer than hookd keeps */
};

struct auth_hdr {
  str v;
  int state; /* auth_hdr_state */
};

struct auth_sig_headers {
  auth_hdr xsig; /* X-Signature */
  auth_hdr hub;  /* X-Hub-Signature-256 */
  auth_hdr id;   /* webhook-id */
  auth_hdr ts;   /* webhook-timestamp */
  auth_hdr sig;  /* webhook-signature */
};

/* One webhook secret. `key` is the secret exactly as configured (the HMAC
 * key of the hex schemes); a secret written whsec_<base64> also has its
 * decoded bytes in std (the Standard Webhooks key). */
struct auth_secret {
  const char *key; /* points into auth_secrets.text */
  size_t len;
  unsigned char std[AUTH_STD_KEY_MAX];
  size_t std_len; /* 0: not a whsec_ secret, unused by `standard` */
};

/* The active secrets; immutable once built, replaced whole on reload. */
struct auth_secrets {
  char *text; /* owned copy of the list the entries point into */
  size_t text_len;
  int n;
  auth_secret e[AUTH_MAX_SECRETS];
};

/* Static bearer tokens, kept only as SHA-256 digests so a comparison
 * takes the same time whatever the presented token's length or bytes. */
struct auth_tokens {
  int n;
  unsigned char d[AUTH_MAX_TOKENS][32];
};

struct auth_webhook_cfg {
  unsigned schemes;     /* auth_scheme bits */
  uint32_t tolerance_s; /* replay window, both ways */
  const auth_secrets *secrets;
};

struct auth_jwt_cfg {
  const char *key; /* JWT_SECRET; NULL: JWTs not accepted */
  size_t key_len;
  const char *iss; /* JWT_ISSUER or NULL */
  const char *aud; /* JWT_AUDIENCE or NULL */
  uint32_t leeway_s;
};

/* ---- hmac.cc */
/* Must be called once before any other auth_ call (sodium_init). 0 or -1. */
int auth_init(void);
/* HMAC-SHA256 under key of parts[0..nparts) concatenated into mac; the
 * hash state, which holds the key's pads, is wiped. */
void auth_hmac(const void *key, size_t keylen, const str *parts, int nparts,
               unsigned char mac[AUTH_MAC_LEN]);
/* hex(HMAC-SHA256(key, body)) into out (64 chars + NUL). */
void auth_sign_hex(const char *key, size_t keylen, const char *body, size_t len,
                   char out[AUTH_HEX_LEN + 1]);
/* HMAC-SHA256(key, id "." ts "." body): the Standard Webhooks signed content. */
void auth_hmac_standard(const unsigned char *key, size_t keylen, str id, str ts, const char *body,
                        size_t len, unsigned char mac[AUTH_MAC_LEN]);
/* base64(HMAC-SHA256(key, id "." ts "." body)), the Standard Webhooks v1
 * signature, into out (44 chars + NUL). */
void auth_sign_standard(const unsigned char *key, size_t keylen, str id, str ts, const char *body,
                        size_t len, char out[AUTH_B64_LEN + 1]);

/* ---- keys.cc */
/* Parses a list of secrets separated by sep (',' for WEBHOOK_SECRET, '\n'
 * for a file; '\r' before '\n' dropped), entries trimmed of spaces and tabs,
 * empty entries skipped. A whsec_ entry that decodes to 24-64 bytes is a
 * Standard Webhooks key too. need_std (the standard scheme is enabled):
 * every whsec_ entry must decode, and one must exist. Returns 0 with a new
 * *out (at least one secret), or -1 with a reason in err. */
int auth_secrets_parse(const char *text, size_t len, char sep, int need_std, auth_secrets **out,
                       char *err, size_t errlen);
void auth_secrets_free(auth_secrets *s);
/* The same for bearer tokens: each 16+ characters of RFC 6750's b64token
 * (auth_is_b64token). */
int auth_tokens_parse(const char *text, size_t len, char sep, auth_tokens **out, char *err,
                      size_t errlen);
void auth_tokens_free(auth_tokens *t);
/* 1 when tok is one of t's tokens. Digests every entry (no early exit). */
int auth_tokens_match(const auth_tokens *t, const char *tok, size_t len);

/* ---- signature.cc */
/* Checks a webhook against every enabled scheme and every secret. Returns
 * AUTH_SIG_OK when one scheme is satisfied by one secret, else the reason.
 * now_s is the wall clock (Unix seconds) for the replay window. */
int auth_webhook_verify(const auth_webhook_cfg *cfg, const auth_sig_headers *h, const char *body,
                        size_t len, int64_t now_s);
/* Parses a SIGNATURE_SCHEMES list ("x-signature,hub,standard"). Returns the
 * bits, or 0 when empty or an entry is unknown. */
unsigned auth_schemes_parse(const char *list);
/* Parses a strict decimal Unix timestamp (1-19 digits, no sign, no space)
 * into *out. 0 or -1. */
int auth_parse_timestamp(str s, int64_t *out);

/* ---- bearer.cc */
/* The token of an "Authorization: Bearer <token>" header (scheme matched
 * case-insensitively). Returns AUTH_TOKEN_OK, MISSING (no header, or
 * another scheme) or MALFORMED. */
int auth_bearer_token(const auth_hdr *authz, str *token);
/* RFC 6750 b64token: 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" )
 * *"=". 1 or 0. */
int auth_is_b64token(const char *s, size_t n);
/* A token however it arrived (header, or ?access_token= for streams): a
 * static token from `tokens` (may be NULL) or a JWT accepted by jwt (key
 * NULL: none). Returns AUTH_TOKEN_OK or the reason. */
int auth_token_check(const auth_tokens *tokens, const auth_jwt_cfg *jwt, str tok, int64_t now_s);
/* A reader's credential: a static token from `tokens` (may be NULL) or a JWT
 * accepted by jwt (key NULL: none). Returns AUTH_TOKEN_OK or the reason. */
int auth_bearer_check(const auth_tokens *tokens, const auth_jwt_cfg *jwt, const auth_hdr *authz,
                      int64_t now_s);

/* ---- jwt.cc */
/* Verifies a compact HS256 JWT: alg exactly "HS256", HMAC-SHA256 over
 * header.payload, exp required (now < exp + leeway), nbf and iat honoured,
 * iss and aud checked when configured. Returns AUTH_TOKEN_OK or the reason. */
int auth_jwt_verify(const auth_jwt_cfg *cfg, const char *tok, size_t len, int64_t now_s);

#endif
