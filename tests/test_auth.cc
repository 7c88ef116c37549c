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

TEST(verify_accepts_right_signature_any_case) {
  const char *sig = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const char *up = "5BDCC146BF60754E6A042426089575C75A003F089D2739839DEC58B964EC3843";
  const char *data = "what do ya want for nothing?";
  CHECK(auth_verify("Jefe", 4, data, strlen(data), sig, 64));
  CHECK(auth_verify("Jefe", 4, data, strlen(data), up, 64));
  char pre[80] = "sha256=";
  strcat(pre, sig);
  CHECK(auth_verify("Jefe", 4, data, strlen(data), pre, strlen(pre)));
}

TEST(verify_rejects_wrong_signatures) {
  const char *sig = "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843";
  const char *data = "what do ya want for nothing?";
  size_t n = strlen(data);
  char flip[65];
  memcpy(flip, sig, 65);
  flip[10] = flip[10] == '0' ? '1' : '0';
  CHECK(!auth_verify("Jefe", 4, data, n, flip, 64));
  CHECK(!auth_verify("Jefe", 4, data, n, sig, 63));           /* truncated */
  CHECK(!auth_verify("Jefe", 4, data, n - 1, sig, 64));       /* other body */
  CHECK(!auth_verify("Jeff", 4, data, n, sig, 64));           /* other key */
  CHECK(!auth_verify("Jefe", 4, data, n, "", 0));             /* empty */
  char bad[65];
  memcpy(bad, sig, 65);
  bad[0] = 'g';
  CHECK(!auth_verify("Jefe", 4, data, n, bad, 64));           /* not hex */
  char spaced[66] = " ";
  strcat(spaced, sig);
  CHECK(!auth_verify("Jefe", 4, data, n, spaced, 65));
}
