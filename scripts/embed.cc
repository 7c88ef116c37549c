/* embed.cc: build-time tool. Writes one C header holding files' bytes:
 *   embed OUTPUT NAME INPUT [NAME INPUT ...]  ->  for each pair:
 *     static const unsigned char NAME[] = {...};  (NUL-terminated)
 *     static const unsigned long NAME_len = N;    (without the NUL) */
#include <stdio.h>

static int embed_one(FILE *out, const char *name, const char *path) {
  FILE *in = fopen(path, "rb");
  if (!in) {
    perror(path);
    return 1;
  }
  fprintf(out, "/* Generated from %s by scripts/embed.cc. */\nstatic const unsigned char %s[] = {",
          path, name);
  unsigned long n = 0;
  int c;
  while ((c = fgetc(in)) != EOF) {
    fprintf(out, "%s%d", n == 0 ? "\n" : (n % 24 ? "," : ",\n"), c);
    n++;
  }
  int err = ferror(in);
  fclose(in);
  fprintf(out, "%s0};\nstatic const unsigned long %s_len = %lu;\n", n ? "," : "", name, n);
  return err ? 1 : 0;
}

int main(int argc, char **argv) {
  if (argc < 4 || argc % 2 != 0) {
    fprintf(stderr, "usage: embed OUTPUT NAME INPUT [NAME INPUT ...]\n");
    return 2;
  }
  FILE *out = fopen(argv[1], "w");
  if (!out) {
    perror(argv[1]);
    return 1;
  }
  int rc = 0;
  for (int i = 2; i + 1 < argc && rc == 0; i += 2) rc = embed_one(out, argv[i], argv[i + 1]);
  if (fclose(out) != 0) rc = 1;
  if (rc) remove(argv[1]);
  return rc;
}
