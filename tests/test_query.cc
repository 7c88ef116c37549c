/* test_query.cc: query-string splitting, strict percent-decoding, and
 * Unicode simple case folding. */
#include <string.h>

#include "casefold.h"
#include "query.h"
#include "test.h"

static long decode(const char *in, int plus, char *out, size_t cap) {
  return query_decode(str{in, strlen(in)}, plus, out, cap);
}

TEST(query_next_splits_pairs) {
  const char *qs = "a=1&&b=&c&d=x%3Dy";
  str s = {qs, strlen(qs)}, k, v;
  CHECK(query_next(&s, &k, &v));
  CHECK_STR(k.base, k.len, "a");
  CHECK_STR(v.base, v.len, "1");
  CHECK(query_next(&s, &k, &v));
  CHECK_STR(k.base, k.len, "b");
  CHECK_EQ_INT(v.len, 0);
  CHECK(query_next(&s, &k, &v));
  CHECK_STR(k.base, k.len, "c");
  CHECK_EQ_INT(v.len, 0);
  CHECK(query_next(&s, &k, &v));
  CHECK_STR(k.base, k.len, "d");
  CHECK_STR(v.base, v.len, "x%3Dy");
  CHECK(!query_next(&s, &k, &v));
}

TEST(decode_percent_and_plus) {
  char out[64];
  long n = decode("%2B91%20a+b", 1, out, sizeof(out));
  CHECK_STR(out, (size_t)n, "+91 a b");
  n = decode("+919876543210", 0, out, sizeof(out));
  CHECK_STR(out, (size_t)n, "+919876543210");
  n = decode("%C3%89T%C3%89", 1, out, sizeof(out));
  CHECK_STR(out, (size_t)n, "\xc3\x89T\xc3\x89");
  n = decode("%25%5F%5c", 1, out, sizeof(out));
  CHECK_STR(out, (size_t)n, "%_\\");
}

TEST(decode_rejects_bad_input) {
  char out[8];
  CHECK_EQ_INT(decode("%", 1, out, sizeof(out)), -1);
  CHECK_EQ_INT(decode("%4", 1, out, sizeof(out)), -1);
  CHECK_EQ_INT(decode("%G0", 1, out, sizeof(out)), -1);
  CHECK_EQ_INT(decode("%00", 1, out, sizeof(out)), -1);       /* NUL */
  CHECK_EQ_INT(decode("%FF", 1, out, sizeof(out)), -1);       /* invalid UTF-8 */
  CHECK_EQ_INT(decode("%C3", 1, out, sizeof(out)), -1);       /* truncated UTF-8 */
  CHECK_EQ_INT(decode("%ED%A0%80", 1, out, sizeof(out)), -1); /* surrogate */
  CHECK_EQ_INT(decode("123456789", 1, out, sizeof(out)), -1); /* no room */
}

static long find(const char *qs, const char *name, int plus, char *out, size_t cap, int *n) {
  return query_find(str{qs, strlen(qs)}, name, plus, out, cap, n);
}

TEST(query_find_last_value_and_count) {
  char out[16];
  int n = -1;
  CHECK_EQ_INT(find("a=1&history=2&b", "history", 1, out, sizeof(out), &n), 1);
  CHECK_STR(out, 1, "2");
  CHECK_EQ_INT(n, 1);
  CHECK_EQ_INT(find("x=1&x=22", "x", 1, out, sizeof(out), &n), 2); /* the last one */
  CHECK_STR(out, 2, "22");
  CHECK_EQ_INT(n, 2);
  CHECK_EQ_INT(find("xx=1&%78=a+b", "x", 1, out, sizeof(out), &n), 3); /* decoded key */
  CHECK_STR(out, 3, "a b");
  CHECK_EQ_INT(find("t=a+b", "t", 0, out, sizeof(out), NULL), 3); /* '+' kept */
  CHECK_STR(out, 3, "a+b");
  CHECK_EQ_INT(find("y=1", "x", 1, out, sizeof(out), &n), QUERY_ABSENT);
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(find("x=%zz", "x", 1, out, sizeof(out), &n), QUERY_BAD);
  CHECK_EQ_INT(find("x=0123456789abcdefg", "x", 1, out, sizeof(out), &n), QUERY_BAD);
  CHECK_EQ_INT(find("x=", "x", 1, out, sizeof(out), &n), 0); /* present, empty */
}

static void check_fold(const char *in, const char *want) {
  buf b = {};
  casefold_utf8(in, strlen(in), &b);
  CHECK_STR(b.data, b.len, want);
  buf_free(&b);
}

TEST(casefold_simple_mappings) {
  check_fold("ABC xyz", "abc xyz");
  check_fold("\xc3\x89T\xc3\x89", "\xc3\xa9t\xc3\xa9");                       /* ÉTÉ -> été */
  check_fold("\xd0\x9f\xd0\xa0\xd0\x98\xd0\x92\xd0\x95\xd0\xa2",              /* ПРИВЕТ */
             "\xd0\xbf\xd1\x80\xd0\xb8\xd0\xb2\xd0\xb5\xd1\x82");             /* привет */
  check_fold("\xce\xa3\xcf\x82", "\xcf\x83\xcf\x83");                         /* Σς -> σσ */
  check_fold("\xc3\x9f", "\xc3\x9f");                                         /* ß stays */
  check_fold("\xe4\xb8\xad\xf0\x9f\x98\x80", "\xe4\xb8\xad\xf0\x9f\x98\x80"); /* no case */
  check_fold("\xc4\x80\xc4\x81", "\xc4\x81\xc4\x81");                         /* Āā, stride 2 */
  CHECK_EQ_INT(casefold_cp(0x10400), 0x10428);                                /* Deseret */
}

TEST(casefold_contains_matches_across_case) {
  const char *hay = "Un \xc3\xa9t\xc3\xa9 CHAUD";
  /* Lengths come from strlen: a literal length shorter than the needle
   * would only test a prefix of it. */
  const char *whole = "\xc3\xa9t\xc3\xa9 chaud"; /* 11 bytes */
  CHECK_EQ_INT(strlen(whole), 11);
  CHECK(casefold_contains(hay, strlen(hay), whole, strlen(whole)));
  /* The last byte counts: one more than the text has does not match. */
  const char *longer = "\xc3\xa9t\xc3\xa9 chauds";
  CHECK(!casefold_contains(hay, strlen(hay), longer, strlen(longer)));
  CHECK(casefold_contains(hay, strlen(hay), "un", strlen("un")));
  CHECK(!casefold_contains(hay, strlen(hay), "ete", strlen("ete")));
  CHECK(casefold_contains(hay, strlen(hay), "", 0));
}
