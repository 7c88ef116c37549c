/* test_auth.cc: HMAC-SHA256 against RFC 4231 vectors; verification rules. */
#include <string.h>

#include "auth.h"
#include "test.h"

static int init = auth_init();

TEST(rfc4231_case1) {
  char key[20];
  memset(key, 0x0b, sizeof(key));
  char hex[AUTH_HEX_LEN + 1];
  auth_sign_hex(key, sizeof(key), "Hi There", 8, hex);
  CHECK_STR(hex, strlen(hex), "b0344c61d8db38535ca8afceaf0bf12b881dc200c9833da726e9376c2e32cff7");
  CHECK_EQ_INT(init, 0);
}

TEST(rfc4231_case2) {
  char hex[AUTH_HEX_LEN + 1];
  const char *data = "what do ya want for nothing?";
  auth_sign_hex("Jefe", 4, data, strlen(data), hex);
  CHECK_STR(hex, strlen(hex), "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843");
}

TEST(rfc4231_case6_long_key) {
  char key[131];
  memset(key, 0xaa, sizeof(key));
  const char *data = "Test Using Larger Than Block-Size Key - Hash Key First";
  char hex[AUTH_HEX_LEN + 1];
  auth_sign_hex(key, sizeof(key), data, strlen(data), hex);
  CHECK_STR(hex, strlen(hex), "60e431591ee0b67f0d8a26aacbf5b77f8e0bc6213728c5140546040f0ee37f54");
}

/* The X-Signature check as a request meets it (auth_webhook_verify). */
static int verify_hex(const char *key, const char *data, size_t n, const char *sig, size_t siglen) {
  auth_secrets *s = NULL;
  char err[300];
  if (auth_secrets_parse(key, strlen(key), ',', 0, &s, err, sizeof(err)) != 0) return -1;
  auth_webhook_cfg cfg = {AUTH_SCHEME_XSIG | AUTH_SCHEME_HUB, 300, s};
  auth_sig_headers h = {};
  h.xsig = auth_hdr{str{sig, siglen}, AUTH_HDR_PRESENT};
  int r = auth_webhook_verify(&cfg, &h, data, n, 0);
  auth_secrets_free(s);
  return r == AUTH_SIG_OK;
}

TEST(verify_accepts_right_signature_any_case) {
  const char *sig = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const char *up = "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843";
  const char *data = "what do ya want for nothing?";
  CHECK_EQ_INT(verify_hex("Jefe", data, strlen(data), sig, 64), 1);
  CHECK_EQ_INT(verify_hex("Jefe", data, strlen(data), up, 64), 1);
  char pre[80] = "sha256=";
  strcat(pre, sig);
  CHECK_EQ_INT(verify_hex("Jefe", data, strlen(data), pre, strlen(pre)), 1);
}

TEST(verify_rejects_wrong_signatures) {
  const char *sig = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const char *data = "what do ya want for nothing?";
  size_t n = strlen(data);
  CHECK_EQ_INT(verify_hex("Jefe", data, n, sig, 64), 1); /* the baseline holds */
  char flip[65];
  memcpy(flip, sig, 65);
  flip[10] = flip[10] == '0' ? '1' : '0';
  CHECK_EQ_INT(verify_hex("Jefe", data, n, flip, 64), 0);
  CHECK_EQ_INT(verify_hex("Jefe", data, n, sig, 63), 0);     /* truncated */
  CHECK_EQ_INT(verify_hex("Jefe", data, n - 1, sig, 64), 0); /* other body */
  CHECK_EQ_INT(verify_hex("Jeff", data, n, sig, 64), 0);     /* other key */
  CHECK_EQ_INT(verify_hex("Jefe", data, n, "", 0), 0);       /* empty */
  char bad[65];
  memcpy(bad, sig, 65);
  bad[0] = 'g';
  CHECK_EQ_INT(verify_hex("Jefe", data, n, bad, 64), 0); /* not hex */
  char spaced[66] = " ";
  strcat(spaced, sig);
  CHECK_EQ_INT(verify_hex("Jefe", data, n, spaced, 65), 0);
}

TEST(b64token_rule) {
  CHECK_EQ_INT(auth_is_b64token("abc-._~+/09==", 13), 1);
  CHECK_EQ_INT(auth_is_b64token("", 0), 0);
  CHECK_EQ_INT(auth_is_b64token("==", 2), 0); /* '=' only at the end, after one char */
  CHECK_EQ_INT(auth_is_b64token("a=b", 3), 0);
  CHECK_EQ_INT(auth_is_b64token("a b", 3), 0);
  CHECK_EQ_INT(auth_is_b64token("a!", 2), 0);
}

/* ---- Secret and token lists ------------------------------------------- */

#include <sodium.h>

#include <string>

static auth_secrets *secrets(const char *list, char sep = ',', int need_std = 0) {
  auth_secrets *s = NULL;
  char err[300] = "";
  if (auth_secrets_parse(list, strlen(list), sep, need_std, &s, err, sizeof(err)) != 0) return NULL;
  return s;
}

TEST(secret_lists_split_trim_and_skip_empty_entries) {
  auth_secrets *s = secrets(" a , b,,\tc\t,");
  CHECK(s != NULL);
  if (!s) return;
  CHECK_EQ_INT(s->n, 3);
  CHECK_STR(s->e[0].key, s->e[0].len, "a");
  CHECK_STR(s->e[1].key, s->e[1].len, "b");
  CHECK_STR(s->e[2].key, s->e[2].len, "c");
  auth_secrets_free(s);
  s = secrets("one\r\ntwo\n\nthree\n", '\n');
  CHECK(s && s->n == 3);
  if (s) CHECK_STR(s->e[1].key, s->e[1].len, "two");
  auth_secrets_free(s);
  CHECK(secrets(" , ,") == NULL);
  std::string many;
  for (int i = 0; i <= AUTH_MAX_SECRETS; i++) many += "k" + std::to_string(i) + ",";
  CHECK(secrets(many.c_str()) == NULL);
}

TEST(whsec_secrets_decode_24_to_64_bytes) {
  auth_secrets *s = secrets("whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", ',', 1);
  CHECK(s && s->e[0].std_len == 24);
  auth_secrets_free(s);
  /* 23 and 65 bytes: refused when the standard scheme is on, ignored otherwise. */
  unsigned char raw[65];
  memset(raw, 7, sizeof(raw));
  char b64[200];
  sodium_bin2base64(b64, sizeof(b64), raw, 23, sodium_base64_VARIANT_ORIGINAL);
  std::string short_key = std::string("whsec_") + b64;
  sodium_bin2base64(b64, sizeof(b64), raw, 65, sodium_base64_VARIANT_ORIGINAL);
  std::string long_key = std::string("whsec_") + b64;
  sodium_bin2base64(b64, sizeof(b64), raw, 64, sodium_base64_VARIANT_ORIGINAL);
  std::string max_key = std::string("whsec_") + b64;
  CHECK(secrets(short_key.c_str(), ',', 1) == NULL);
  CHECK(secrets(long_key.c_str(), ',', 1) == NULL);
  CHECK(secrets("whsec_not*base64", ',', 1) == NULL);
  CHECK(secrets("plain-secret", ',', 1) == NULL); /* standard needs one whsec_ */
  s = secrets(max_key.c_str(), ',', 1);
  CHECK(s && s->e[0].std_len == 64);
  auth_secrets_free(s);
  s = secrets(short_key.c_str(), ',', 0);
  CHECK(s && s->e[0].std_len == 0);
  auth_secrets_free(s);
}

TEST(token_lists_and_constant_time_match) {
  auth_tokens *t = NULL;
  char err[300];
  const char *list = "reader-token-0123456789, other-token-abcdefghij==";
  CHECK_EQ_INT(auth_tokens_parse(list, strlen(list), ',', &t, err, sizeof(err)), 0);
  CHECK(t && t->n == 2);
  CHECK(auth_tokens_match(t, "reader-token-0123456789", 23));
  CHECK(auth_tokens_match(t, "other-token-abcdefghij==", 24));
  CHECK(!auth_tokens_match(t, "reader-token-012345678", 22));
  CHECK(!auth_tokens_match(t, "reader-token-0123456789x", 24));
  CHECK(!auth_tokens_match(t, "", 0));
  CHECK(!auth_tokens_match(NULL, "reader-token-0123456789", 23));
  auth_tokens_free(t);
  const char *bad[] = {"short", "has space inside-1234", "=leading-equals-123456",
                       "tok!en-0123456789"};
  for (const char *b : bad) {
    t = NULL;
    CHECK_EQ_INT(auth_tokens_parse(b, strlen(b), ',', &t, err, sizeof(err)), -1);
    CHECK(t == NULL);
  }
}

/* ---- Webhook schemes ---------------------------------------------------- */

static auth_hdr hdr(const char *v) { return auth_hdr{str{v, strlen(v)}, AUTH_HDR_PRESENT}; }
static const auth_hdr none = {str{"", 0}, AUTH_HDR_ABSENT};

/* The official Standard Webhooks test vector. */
static const char std_secret[] = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw";
static const char std_id[] = "msg_p5jXN8AQM9LWM0D4loKWxJek";
static const char std_ts[] = "1614265330";
static const char std_body[] = "{\"test\": 2432232314}";
static const char std_sig[] = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=";

static int verify_std(unsigned schemes, const char *secrets_list, const char *sig, int64_t now,
                      const char *ts = std_ts) {
  auth_secrets *s = secrets(secrets_list);
  auth_webhook_cfg cfg = {schemes, 300, s};
  auth_sig_headers h = {none, none, hdr(std_id), hdr(ts), hdr(sig)};
  int r = auth_webhook_verify(&cfg, &h, std_body, strlen(std_body), now);
  auth_secrets_free(s);
  return r;
}

TEST(standard_webhooks_official_vector) {
  auth_secrets *s = secrets(std_secret);
  char out[AUTH_B64_LEN + 1];
  auth_sign_standard(s->e[0].std, s->e[0].std_len, STR_LIT(std_id), STR_LIT(std_ts), std_body,
                     strlen(std_body), out);
  CHECK_STR(out, strlen(out), std_sig + 3);
  auth_secrets_free(s);
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, std_sig, 1614265330), AUTH_SIG_OK);
}

TEST(standard_tolerance_edges_both_ways) {
  const int64_t t = 1614265330;
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, std_sig, t + 300), AUTH_SIG_OK);
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, std_sig, t - 300), AUTH_SIG_OK);
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, std_sig, t + 301), AUTH_SIG_TOO_OLD);
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, std_sig, t - 301), AUTH_SIG_TOO_NEW);
}

TEST(standard_signature_lists) {
  const int64_t t = 1614265330;
  const char *wrong = "v1,AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA=";
  std::string two = std::string(wrong) + "  " + std_sig;
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, two.c_str(), t), AUTH_SIG_OK);
  std::string other_version = std::string("v1a,bm90IGNoZWNrZWQ= ") + std_sig;
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, other_version.c_str(), t), AUTH_SIG_OK);
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, wrong, t), AUTH_SIG_MISMATCH);
  /* Rotation: the right key second in the list. */
  std::string keys = std::string("whsec_") + "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA," + std_secret;
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, keys.c_str(), std_sig, t), AUTH_SIG_OK);
  const char *malformed[] = {"v1,",
                             "v1,not base64!",
                             "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE",
                             "g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=",
                             "v1,Zm9v",
                             ""};
  for (const char *m : malformed)
    CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, m, t), AUTH_SIG_MALFORMED);
  std::string lots;
  for (int i = 0; i < AUTH_MAX_SIG_ENTRIES; i++) lots += std::string(wrong) + " ";
  CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, (lots + std_sig).c_str(), t),
               AUTH_SIG_MALFORMED);
  const char *bad_ts[] = {"",           "-1614265330", "1614265330.5",
                          "16142653x0", " 1614265330", "99999999999999999999",
                          "0x1"};
  for (const char *ts : bad_ts)
    CHECK_EQ_INT(verify_std(AUTH_SCHEME_STANDARD, std_secret, std_sig, t, ts), AUTH_SIG_MALFORMED);
}

static int verify_hex(unsigned schemes, const char *list, auth_hdr xsig, auth_hdr hub) {
  auth_secrets *s = secrets(list);
  auth_webhook_cfg cfg = {schemes, 300, s};
  auth_sig_headers h = {xsig, hub, none, none, none};
  const char *data = "what do ya want for nothing?";
  int r = auth_webhook_verify(&cfg, &h, data, strlen(data), 0);
  auth_secrets_free(s);
  return r;
}

TEST(hex_schemes_any_secret_any_scheme) {
  const char *sig = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const char *pre = "sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const unsigned X = AUTH_SCHEME_XSIG, H = AUTH_SCHEME_HUB;
  CHECK_EQ_INT(verify_hex(X, "Jefe", hdr(sig), none), AUTH_SIG_OK);
  CHECK_EQ_INT(verify_hex(X, "Jefe", hdr(pre), none), AUTH_SIG_OK);
  CHECK_EQ_INT(verify_hex(X, "old,Jefe", hdr(sig), none), AUTH_SIG_OK);
  CHECK_EQ_INT(verify_hex(X, "Jefe,new", hdr(sig), none), AUTH_SIG_OK);
  CHECK_EQ_INT(verify_hex(X, "old,new", hdr(sig), none), AUTH_SIG_MISMATCH);
  CHECK_EQ_INT(verify_hex(X, "Jefe", none, none), AUTH_SIG_MISSING);
  CHECK_EQ_INT(verify_hex(X, "Jefe", none, hdr(pre)), AUTH_SIG_MISSING); /* hub not enabled */
  CHECK_EQ_INT(verify_hex(H, "Jefe", none, hdr(pre)), AUTH_SIG_OK);
  CHECK_EQ_INT(verify_hex(H, "Jefe", none, hdr(sig)), AUTH_SIG_MALFORMED); /* prefix required */
  CHECK_EQ_INT(verify_hex(X | H, "Jefe", hdr("0000"), hdr(pre)), AUTH_SIG_OK);
  CHECK_EQ_INT(verify_hex(X | H, "Jefe", hdr(sig), none), AUTH_SIG_OK);
  auth_hdr dup = {str{"", 0}, AUTH_HDR_DUPLICATE}, lng = {str{"", 0}, AUTH_HDR_TOO_LONG};
  CHECK_EQ_INT(verify_hex(X, "Jefe", dup, none), AUTH_SIG_DUPLICATE);
  CHECK_EQ_INT(verify_hex(X | H, "Jefe", dup, hdr(pre)), AUTH_SIG_DUPLICATE); /* ambiguous */
  CHECK_EQ_INT(verify_hex(H, "Jefe", dup, hdr(pre)), AUTH_SIG_OK); /* x-signature not enabled */
  CHECK_EQ_INT(verify_hex(X, "Jefe", lng, none), AUTH_SIG_MALFORMED);
  CHECK_EQ_INT(verify_hex(X, "Jefe", hdr(""), none), AUTH_SIG_MALFORMED);
}

TEST(scheme_lists_and_timestamps) {
  CHECK_EQ_INT(auth_schemes_parse("x-signature"), AUTH_SCHEME_XSIG);
  CHECK_EQ_INT(auth_schemes_parse("hub, standard"), AUTH_SCHEME_HUB | AUTH_SCHEME_STANDARD);
  CHECK_EQ_INT(auth_schemes_parse("x-signature,hub,standard"), 7);
  CHECK_EQ_INT(auth_schemes_parse(""), 0);
  CHECK_EQ_INT(auth_schemes_parse("hub,"), 0);
  CHECK_EQ_INT(auth_schemes_parse("HUB"), 0);
  CHECK_EQ_INT(auth_schemes_parse("github"), 0);
  int64_t v = -1;
  CHECK_EQ_INT(auth_parse_timestamp(STR_LIT("0"), &v), 0);
  CHECK_EQ_INT(v, 0);
  CHECK_EQ_INT(auth_parse_timestamp(STR_LIT("9223372036854775807"), &v), 0);
  CHECK_EQ_INT(auth_parse_timestamp(STR_LIT("9223372036854775808"), &v), -1);
  CHECK_EQ_INT(auth_parse_timestamp(STR_LIT("+1"), &v), -1);
}

/* ---- Bearer tokens and JWTs ------------------------------------------- */

TEST(bearer_header_forms) {
  str t;
  CHECK_EQ_INT(auth_bearer_token(&none, &t), AUTH_TOKEN_MISSING);
  auth_hdr ok = hdr("Bearer abc.def-_~+/==");
  CHECK_EQ_INT(auth_bearer_token(&ok, &t), AUTH_TOKEN_OK);
  CHECK_STR(t.base, t.len, "abc.def-_~+/==");
  auth_hdr lower = hdr("bearer   tok");
  CHECK_EQ_INT(auth_bearer_token(&lower, &t), AUTH_TOKEN_OK);
  CHECK_STR(t.base, t.len, "tok");
  const char *missing[] = {"Basic dXNlcjpwYXNz", "Bearerx tok", "Token tok"};
  for (const char *m : missing) {
    auth_hdr h = hdr(m);
    CHECK_EQ_INT(auth_bearer_token(&h, &t), AUTH_TOKEN_MISSING);
  }
  const char *bad[] = {"Bearer",      "Bearer ",    "Bearer a b",
                       "Bearer =abc", "Bearer a=b", "Bearer t\"k"};
  for (const char *b : bad) {
    auth_hdr h = hdr(b);
    CHECK_EQ_INT(auth_bearer_token(&h, &t), AUTH_TOKEN_MALFORMED);
  }
  auth_hdr dup = {str{"", 0}, AUTH_HDR_DUPLICATE};
  CHECK_EQ_INT(auth_bearer_token(&dup, &t), AUTH_TOKEN_MALFORMED);
}

static std::string b64url(const std::string &s) {
  char out[4096];
  sodium_bin2base64(out, sizeof(out), (const unsigned char *)s.data(), s.size(),
                    sodium_base64_VARIANT_URLSAFE_NO_PADDING);
  return out;
}

/* A JWT signed with libsodium's HMAC (the black-box tests sign with
 * Python's hmac instead). */
static std::string jwt(const std::string &header, const std::string &claims, const char *key) {
  std::string in = b64url(header) + "." + b64url(claims);
  unsigned char mac[32];
  crypto_auth_hmacsha256_state st;
  crypto_auth_hmacsha256_init(&st, (const unsigned char *)key, strlen(key));
  crypto_auth_hmacsha256_update(&st, (const unsigned char *)in.data(), in.size());
  crypto_auth_hmacsha256_final(&st, mac);
  return in + "." + b64url(std::string((const char *)mac, 32));
}

static const char jkey[] = "jwt-secret-0123456789-0123456789-0123456789";
static const char HS[] = "{\"alg\":\"HS256\",\"typ\":\"JWT\"}";

static int check_jwt(const std::string &tok, int64_t now, const char *iss = NULL,
                     const char *aud = NULL, uint32_t leeway = 0) {
  auth_jwt_cfg cfg = {jkey, strlen(jkey), iss, aud, leeway};
  return auth_jwt_verify(&cfg, tok.data(), tok.size(), now);
}

TEST(jwt_rfc7515_appendix_a1_vector) {
  /* RFC 7515 A.1: an HS256 JWS with a 64-byte key given as a JWK. */
  const char *k64 =
      "AyM1SysPpbyDfgZld3umj1qzKObwVMkoqQ-EstJQLr_T-1qS0gZH75aKtMN3Yj0iPS4hcgUuTwjAzZr1Z9CAow";
  unsigned char key[64];
  size_t klen = 0;
  CHECK_EQ_INT(sodium_base642bin(key, sizeof(key), k64, strlen(k64), NULL, &klen, NULL,
                                 sodium_base64_VARIANT_URLSAFE_NO_PADDING),
               0);
  const char *tok =
      "eyJ0eXAiOiJKV1QiLA0KICJhbGciOiJIUzI1NiJ9."
      "eyJpc3MiOiJqb2UiLA0KICJleHAiOjEzMDA4MTkzODAsDQogImh0dHA6Ly9leGFtcGxlLmNvbS9pc19yb290Ijp0cnVl"
      "fQ."
      "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk";
  auth_jwt_cfg cfg = {(const char *)key, klen, "joe", NULL, 0};
  CHECK_EQ_INT(auth_jwt_verify(&cfg, tok, strlen(tok), 1300819379), AUTH_TOKEN_OK);
  CHECK_EQ_INT(auth_jwt_verify(&cfg, tok, strlen(tok), 1300819380), AUTH_TOKEN_EXPIRED);
  cfg.iss = "jane";
  CHECK_EQ_INT(auth_jwt_verify(&cfg, tok, strlen(tok), 1300819379), AUTH_TOKEN_CLAIMS);
}

TEST(jwt_claims_and_algorithms) {
  const int64_t now = 1700000000;
  std::string good = jwt(HS, "{\"exp\":1700000100,\"iat\":1699999000}", jkey);
  CHECK_EQ_INT(check_jwt(good, now), AUTH_TOKEN_OK);
  CHECK_EQ_INT(check_jwt(good, 1700000100), AUTH_TOKEN_EXPIRED);
  CHECK_EQ_INT(check_jwt(good, 1700000100, NULL, NULL, 60), AUTH_TOKEN_OK);
  CHECK_EQ_INT(check_jwt(jwt(HS, "{\"iat\":1}", jkey), now), AUTH_TOKEN_CLAIMS); /* no exp */
  CHECK_EQ_INT(check_jwt(jwt(HS, "{\"exp\":\"9999999999\"}", jkey), now), AUTH_TOKEN_CLAIMS);
  CHECK_EQ_INT(check_jwt(jwt(HS, "{\"exp\":1800000000,\"nbf\":1700000001}", jkey), now),
               AUTH_TOKEN_NOT_YET_VALID);
  CHECK_EQ_INT(check_jwt(jwt(HS, "{\"exp\":1800000000,\"nbf\":1700000000}", jkey), now),
               AUTH_TOKEN_OK);
  CHECK_EQ_INT(check_jwt(jwt(HS, "{\"exp\":1800000000,\"iat\":1700000500}", jkey), now),
               AUTH_TOKEN_NOT_YET_VALID);
  CHECK_EQ_INT(check_jwt(jwt(HS, "{\"exp\":1.8e9}", jkey), now), AUTH_TOKEN_OK);
  /* Algorithms other than HS256, whatever the signature. */
  const char *algs[] = {"{\"alg\":\"none\"}",  "{\"alg\":\"HS512\"}", "{\"alg\":\"hs256\"}",
                        "{\"alg\":\"RS256\"}", "{\"typ\":\"JWT\"}",   "{\"alg\":null}"};
  for (const char *h : algs)
    CHECK_EQ_INT(check_jwt(jwt(h, "{\"exp\":1800000000}", jkey), now), AUTH_TOKEN_BAD_ALG);
  std::string none_alg = b64url("{\"alg\":\"none\"}") + "." + b64url("{\"exp\":1800000000}") + ".";
  CHECK(check_jwt(none_alg, now) != AUTH_TOKEN_OK);
  /* Wrong key, tampered payload, structure. */
  CHECK_EQ_INT(check_jwt(jwt(HS, "{\"exp\":1800000000}", "another-key-0123456789-0123456789"), now),
               AUTH_TOKEN_MISMATCH);
  std::string tampered = good;
  size_t d1 = tampered.find('.'), d2 = tampered.rfind('.');
  tampered.replace(d1 + 1, d2 - d1 - 1, b64url("{\"exp\":1900000000,\"iat\":1699999000}"));
  CHECK_EQ_INT(check_jwt(tampered, now), AUTH_TOKEN_MISMATCH);
  CHECK_EQ_INT(check_jwt(good + ".x", now), AUTH_TOKEN_MALFORMED);
  CHECK_EQ_INT(check_jwt("a.b", now), AUTH_TOKEN_MALFORMED);
  CHECK_EQ_INT(
      check_jwt(jwt("{\"alg\":\"HS256\",\"crit\":[\"x\"]}", "{\"exp\":1800000000}", jkey), now),
      AUTH_TOKEN_MALFORMED);
  CHECK_EQ_INT(
      check_jwt(jwt("{\"alg\":\"HS256\",\"alg\":\"none\"}", "{\"exp\":1800000000}", jkey), now),
      AUTH_TOKEN_MALFORMED);
  CHECK_EQ_INT(check_jwt(jwt(HS, "[1,2]", jkey), now), AUTH_TOKEN_MALFORMED);
  CHECK_EQ_INT(check_jwt(jwt(HS, "{\"exp\":1800000000,\"exp\":1}", jkey), now),
               AUTH_TOKEN_MALFORMED);
}

TEST(jwt_issuer_and_audience) {
  const int64_t now = 1700000000;
  std::string t = jwt(HS, "{\"exp\":1800000000,\"iss\":\"idp\",\"aud\":[\"x\",\"hookd\"]}", jkey);
  CHECK_EQ_INT(check_jwt(t, now, "idp", "hookd"), AUTH_TOKEN_OK);
  CHECK_EQ_INT(check_jwt(t, now, "other", NULL), AUTH_TOKEN_CLAIMS);
  CHECK_EQ_INT(check_jwt(t, now, NULL, "nope"), AUTH_TOKEN_CLAIMS);
  std::string s = jwt(HS, "{\"exp\":1800000000,\"aud\":\"hookd\"}", jkey);
  CHECK_EQ_INT(check_jwt(s, now, NULL, "hookd"), AUTH_TOKEN_OK);
  CHECK_EQ_INT(check_jwt(s, now, "idp", NULL), AUTH_TOKEN_CLAIMS); /* iss missing */
  std::string n = jwt(HS, "{\"exp\":1800000000}", jkey);
  CHECK_EQ_INT(check_jwt(n, now, NULL, "hookd"), AUTH_TOKEN_CLAIMS);
  std::string bad = jwt(HS, "{\"exp\":1800000000,\"aud\":[\"hookd\",1]}", jkey);
  CHECK_EQ_INT(check_jwt(bad, now, NULL, "hookd"), AUTH_TOKEN_CLAIMS);
  const char *odd[] = {"{\"exp\":1800000000,\"aud\":[\"hookd\",{\"a\":\"hookd\"}]}",
                       "{\"exp\":1800000000,\"aud\":[[\"hookd\"]]}",
                       "{\"exp\":1800000000,\"aud\":{\"hookd\":1}}",
                       "{\"exp\":1800000000,\"aud\":null}"};
  for (const char *o : odd)
    CHECK_EQ_INT(check_jwt(jwt(HS, o, jkey), now, NULL, "hookd"), AUTH_TOKEN_CLAIMS);
}

TEST(bearer_check_tokens_then_jwt) {
  auth_tokens *t = NULL;
  char err[300];
  const char *list = "reader-token-0123456789";
  CHECK_EQ_INT(auth_tokens_parse(list, strlen(list), ',', &t, err, sizeof(err)), 0);
  auth_jwt_cfg cfg = {jkey, strlen(jkey), NULL, NULL, 0};
  auth_jwt_cfg off = {NULL, 0, NULL, NULL, 0};
  auth_hdr a = hdr("Bearer reader-token-0123456789");
  CHECK_EQ_INT(auth_bearer_check(t, &off, &a, 0), AUTH_TOKEN_OK);
  auth_hdr b = hdr("Bearer reader-token-012345678");
  CHECK_EQ_INT(auth_bearer_check(t, &cfg, &b, 0), AUTH_TOKEN_MISMATCH);
  std::string h = "Bearer " + jwt(HS, "{\"exp\":1800000000}", jkey);
  auth_hdr j = hdr(h.c_str());
  CHECK_EQ_INT(auth_bearer_check(t, &cfg, &j, 1700000000), AUTH_TOKEN_OK);
  CHECK_EQ_INT(auth_bearer_check(t, &off, &j, 1700000000), AUTH_TOKEN_MISMATCH);
  CHECK_EQ_INT(auth_bearer_check(NULL, &cfg, &j, 1800000000), AUTH_TOKEN_EXPIRED);
  CHECK_EQ_INT(auth_bearer_check(t, &cfg, &none, 0), AUTH_TOKEN_MISSING);
  auth_tokens_free(t);
}

TEST(token_check_without_a_header) {
  auth_tokens *t = NULL;
  char err[300];
  const char *list = "reader-token-0123456789";
  CHECK_EQ_INT(auth_tokens_parse(list, strlen(list), ',', &t, err, sizeof(err)), 0);
  auth_jwt_cfg cfg = {jkey, strlen(jkey), NULL, NULL, 0};
  CHECK_EQ_INT(auth_token_check(t, &cfg, STR_LIT("reader-token-0123456789"), 0), AUTH_TOKEN_OK);
  CHECK_EQ_INT(auth_token_check(t, &cfg, STR_LIT("reader-token-0123456780"), 0),
               AUTH_TOKEN_MISMATCH);
  CHECK_EQ_INT(auth_token_check(t, &cfg, STR_LIT("with space"), 0), AUTH_TOKEN_MALFORMED);
  CHECK_EQ_INT(auth_token_check(t, &cfg, STR_LIT(""), 0), AUTH_TOKEN_MALFORMED);
  std::string j = jwt(HS, "{\"exp\":1800000000}", jkey);
  CHECK_EQ_INT(auth_token_check(t, &cfg, str{j.data(), j.size()}, 1700000000), AUTH_TOKEN_OK);
  auth_tokens_free(t);
}
