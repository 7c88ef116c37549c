/* test_buf.cc: buffers, JSON string escaping, UTF-8 helpers. */
#include "buf.h"
#include "test.h"

static void check_json(const char *in, size_t n, const char *want) {
  buf b = {};
  json_put_str(&b, in, n);
  CHECK_STR(b.data, b.len, want);
  buf_free(&b);
}

TEST(json_escapes_quotes_backslashes_controls) {
  check_json("a\"b\\c", 5, "\"a\\\"b\\\\c\"");
  check_json("\n\r\t\b\f", 5, "\"\\n\\r\\t\\b\\f\"");
  check_json("\x01\x1f", 2, "\"\\u0001\\u001f\"");
  check_json("\0x", 2, "\"\\u0000x\"");
}

TEST(json_keeps_valid_utf8_and_replaces_invalid) {
  check_json("\xc3\xa9t\xc3\xa9", 5, "\"\xc3\xa9t\xc3\xa9\""); /* été */
  check_json("\xf0\x9f\x98\x80", 4, "\"\xf0\x9f\x98\x80\"");   /* emoji */
  check_json("\xff", 1, "\"\\ufffd\"");                        /* bad byte */
  check_json("\xc0\xaf", 2, "\"\\ufffd\\ufffd\"");             /* overlong */
  check_json("\xed\xa0\x80", 3, "\"\\ufffd\\ufffd\\ufffd\"");  /* surrogate */
  check_json("\xe2\x82", 2, "\"\\ufffd\\ufffd\"");             /* truncated */
}

TEST(utf8_count_validates) {
  CHECK_EQ_INT(utf8_count("abc", 3), 3);
  CHECK_EQ_INT(utf8_count("\xc3\xa9\xe4\xb8\xad\xf0\x9f\x98\x80", 9), 3);
  CHECK_EQ_INT(utf8_count("\xc3", 1), -1);
  CHECK_EQ_INT(utf8_count("\xc0\x80", 2), -1);
  CHECK_EQ_INT(utf8_count("\xf4\x90\x80\x80", 4), -1); /* > U+10FFFF */
  CHECK_EQ_INT(utf8_count("", 0), 0);
}

TEST(utf8_truncate_on_boundary) {
  const char *s = "a\xc3\xa9"; /* 3 bytes, 2 chars */
  CHECK_EQ_INT(utf8_truncate(s, 3, 2), 1);
  CHECK_EQ_INT(utf8_truncate(s, 3, 3), 3);
  CHECK_EQ_INT(utf8_truncate(s, 3, 1), 1);
}

TEST(buf_numbers_and_growth) {
  buf b = {};
  buf_put_u64(&b, 0);
  buf_putc(&b, ' ');
  buf_put_u64(&b, 18446744073709551615ull);
  buf_putc(&b, ' ');
  buf_put_i64(&b, -9223372036854775807ll - 1);
  CHECK_STR(b.data, b.len, "0 18446744073709551615 -9223372036854775808");
  buf_reset(&b);
  for (int i = 0; i < 100000; i++) buf_putc(&b, 'x');
  CHECK_EQ_INT(b.len, 100000);
  CHECK(!b.oom);
  buf_free(&b);
}
