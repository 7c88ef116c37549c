/* fuzz_sig_headers.cc: libFuzzer target for the authentication header
 * parsers: the HTTP layer's capture of the signature and Authorization
 * headers (bounds, whitespace, repeats), the three webhook signature
 * schemes, bearer tokens and JWTs.
 *
 * Input: lines separated by '\n': body, X-Signature, X-Hub-Signature-256,
 * webhook-id, webhook-timestamp, webhook-signature, Authorization. The
 * fields go (1) straight to the auth parsers and (2) into a real request
 * through llhttp and hookd's callbacks, whose captured values go to the
 * same parsers. Everything is real hookd code; this file only routes bytes. */
#include <stdint.h>
#include <string.h>

#include <string>

#include <sodium.h>

#include "auth.h"
#include "http.h"

enum { F_BODY, F_XSIG, F_HUB, F_ID, F_TS, F_SIG, F_AUTHZ, F_COUNT };

static const char *const names[F_COUNT] = {"",
                                           "X-Signature",
                                           "X-Hub-Signature-256",
                                           "webhook-id",
                                           "webhook-timestamp",
                                           "webhook-signature",
                                           "Authorization"};

struct keys {
  auth_secrets *secrets;
  auth_tokens *tokens;
  auth_jwt_cfg jwt;
};

static const keys *setup(void) {
  static keys k;
  static int done;
  if (done) return &k;
  done = 1;
  auth_init();
  char err[300];
  const char secrets[] = "plain-secret,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
  const char tokens[] = "reader-token-0123456789";
  if (auth_secrets_parse(secrets, sizeof(secrets) - 1, ',', 1, &k.secrets, err, sizeof(err)) ||
      auth_tokens_parse(tokens, sizeof(tokens) - 1, ',', &k.tokens, err, sizeof(err)))
    __builtin_trap();
  static const char jkey[] = "jwt-secret-0123456789-0123456789-0123456789";
  k.jwt = auth_jwt_cfg{jkey, sizeof(jkey) - 1, "idp", "hookd", 60};
  return &k;
}

static void check(const keys *k, const auth_sig_headers *h, const auth_hdr *authz, str body) {
  const int64_t now = 1614265330;
  auth_webhook_cfg all = {AUTH_SCHEME_XSIG | AUTH_SCHEME_HUB | AUTH_SCHEME_STANDARD, 300,
                          k->secrets};
  int r = auth_webhook_verify(&all, h, body.base, body.len, now);
  if (r < 0 || r >= AUTH_SIG_COUNT) __builtin_trap();
  r = auth_bearer_check(k->tokens, &k->jwt, authz, now);
  if (r < 0 || r >= AUTH_TOKEN_COUNT) __builtin_trap();
}

static auth_hdr captured(const http_req *req, int hdr) {
  auth_hdr h;
  int st = http_req_header(req, hdr, &h.v);
  h.state = st == HV_PRESENT     ? AUTH_HDR_PRESENT
            : st == HV_DUPLICATE ? AUTH_HDR_DUPLICATE
            : st == HV_TOO_LONG  ? AUTH_HDR_TOO_LONG
                                 : AUTH_HDR_ABSENT;
  if (h.state == AUTH_HDR_PRESENT && h.v.len &&
      (h.v.base[0] == ' ' || h.v.base[h.v.len - 1] == ' '))
    __builtin_trap(); /* whitespace must have been trimmed */
  return h;
}

/* The fuzzer cannot forge an HMAC, so what lies behind a good signature
 * (JWT claims, the replay window) is reached by signing the input here. */
static void check_signed(const keys *k, str f[F_COUNT]) {
  const int64_t now = 1614265330;
  str a = f[F_AUTHZ];
  const char *d2 = a.len ? (const char *)memrchr(a.base, '.', a.len) : NULL;
  if (d2) {
    unsigned char mac[32];
    char b64[64];
    crypto_auth_hmacsha256_state st;
    crypto_auth_hmacsha256_init(&st, (const unsigned char *)k->jwt.key, k->jwt.key_len);
    crypto_auth_hmacsha256_update(&st, (const unsigned char *)a.base, (size_t)(d2 - a.base));
    crypto_auth_hmacsha256_final(&st, mac);
    sodium_bin2base64(b64, sizeof(b64), mac, sizeof(mac), sodium_base64_VARIANT_URLSAFE_NO_PADDING);
    std::string tok = std::string(a.base, (size_t)(d2 - a.base) + 1) + b64;
    int r = auth_jwt_verify(&k->jwt, tok.data(), tok.size(), now);
    if (r < 0 || r >= AUTH_TOKEN_COUNT) __builtin_trap();
  }
  char sig[AUTH_B64_LEN + 1];
  const auth_secret *e = &k->secrets->e[1];
  auth_sign_standard(e->std, e->std_len, f[F_ID], f[F_TS], f[F_BODY].base, f[F_BODY].len, sig);
  std::string list = std::string(f[F_SIG].base, f[F_SIG].len) + " v1," + sig;
  auth_sig_headers h = {{str{"", 0}, AUTH_HDR_ABSENT},
                        {str{"", 0}, AUTH_HDR_ABSENT},
                        {f[F_ID], AUTH_HDR_PRESENT},
                        {f[F_TS], AUTH_HDR_PRESENT},
                        {str{list.data(), list.size()}, AUTH_HDR_PRESENT}};
  auth_hdr none = {str{"", 0}, AUTH_HDR_ABSENT};
  check(k, &h, &none, f[F_BODY]);
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  const keys *k = setup();
  str f[F_COUNT];
  for (int i = 0; i < F_COUNT; i++) f[i] = str{"", 0};
  int n = 0;
  const char *p = (const char *)data, *end = p + size;
  while (n < F_COUNT) {
    const char *nl = (const char *)memchr(p, '\n', (size_t)(end - p));
    f[n++] = str{p, (size_t)((nl ? nl : end) - p)};
    if (!nl) break;
    p = nl + 1;
  }

  /* (1) The parsers on the raw fields. */
  auth_hdr h[F_COUNT];
  for (int i = 1; i < F_COUNT; i++)
    h[i] = auth_hdr{f[i], i < n ? AUTH_HDR_PRESENT : AUTH_HDR_ABSENT};
  auth_sig_headers sh = {h[F_XSIG], h[F_HUB], h[F_ID], h[F_TS], h[F_SIG]};
  check(k, &sh, &h[F_AUTHZ], f[F_BODY]);
  check_signed(k, f);

  /* (2) The same fields as a request through the HTTP layer. */
  std::string req = "POST /webhook HTTP/1.1\r\n";
  for (int i = 1; i < n; i++)
    req += std::string(names[i]) + ": " + std::string(f[i].base, f[i].len) + "\r\n";
  req += "Content-Length: " + std::to_string(f[F_BODY].len) + "\r\n\r\n";
  req.append(f[F_BODY].base, f[F_BODY].len);
  static llhttp_t parser;
  static http_req hreq;
  static const http_limits lim = {1u << 20, 1u << 20};
  http_parser_init(&parser, &hreq, &lim);
  if (llhttp_execute(&parser, req.data(), req.size()) == HPE_PAUSED && hreq.complete) {
    auth_sig_headers ch = {captured(&hreq, HDR_SIGNATURE), captured(&hreq, HDR_HUB_SIGNATURE),
                           captured(&hreq, HDR_WEBHOOK_ID), captured(&hreq, HDR_WEBHOOK_TIMESTAMP),
                           captured(&hreq, HDR_WEBHOOK_SIGNATURE)};
    auth_hdr authz = captured(&hreq, HDR_AUTHORIZATION);
    check(k, &ch, &authz, str{hreq.body.data, hreq.body.len});
  }
  http_req_reset(&hreq);
  return 0;
}
