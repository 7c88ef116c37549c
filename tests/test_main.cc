/* test_main.cc: runs every registered case; see test.h. */
#include "test.h"

#include <stdlib.h>

static test_case cases[256];
static int ncases;
int test_failures;

int test_register(const char *name, test_fn fn) {
  if (ncases == 256) abort();
  cases[ncases++] = test_case{name, fn};
  return ncases;
}

int main(int argc, char **argv) {
  int passed = 0, failed = 0;
  for (int i = 0; i < ncases; i++) {
    if (argc > 1 && strstr(cases[i].name, argv[1]) == NULL) continue;
    test_failures = 0;
    cases[i].fn();
    if (test_failures) {
      failed++;
      printf("FAIL %s\n", cases[i].name);
    } else {
      passed++;
      printf("ok   %s\n", cases[i].name);
    }
  }
  printf("%d passed, %d failed\n", passed, failed);
  return failed ? 1 : 0;
}
