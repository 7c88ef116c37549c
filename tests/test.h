/* test.h: a minimal test harness. TEST(name) registers a case; CHECK and
 * friends record failures without stopping the case; main() runs every
 * case and ends with "N passed, N failed" (cases), exit 1 on failure. */
#ifndef HOOKD_TEST_H
#define HOOKD_TEST_H

#include <stdio.h>
#include <string.h>

typedef void (*test_fn)(void);
struct test_case {
  const char *name;
  test_fn fn;
};

int test_register(const char *name, test_fn fn);
extern int test_failures; /* failures in the running case */

#define TEST(name)                                              \
  static void test_##name(void);                                \
  static int test_reg_##name = test_register(#name, test_##name); \
  static void test_##name(void)

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      test_failures++;                                                       \
      fprintf(stderr, "  %s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond); \
    }                                                                        \
  } while (0)

#define CHECK_EQ_INT(a, b)                                                     \
  do {                                                                         \
    long long a_ = (long long)(a), b_ = (long long)(b);                        \
    if (a_ != b_) {                                                            \
      test_failures++;                                                         \
      fprintf(stderr, "  %s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, \
              a_, b_);                                                         \
    }                                                                          \
  } while (0)

#define CHECK_STR(got, glen, want)                                              \
  do {                                                                          \
    const char *g_ = (got);                                                     \
    size_t gl_ = (glen);                                                        \
    const char *w_ = (want);                                                    \
    if (gl_ != strlen(w_) || memcmp(g_, w_, gl_) != 0) {                        \
      test_failures++;                                                          \
      fprintf(stderr, "  %s:%d: got '%.*s', want '%s'\n", __FILE__, __LINE__, (int)gl_, g_, w_); \
    }                                                                           \
  } while (0)

#endif
