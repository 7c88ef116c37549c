/* embed.cc: build-time tool. Writes a C header holding a file's bytes:
 *   embed INPUT OUTPUT NAME  ->  static const char NAME[] = {...};
 *                                static const unsigned NAME_len = N; */
#include <stdio.h>

int main(int argc, char **argv) {
  if (argc != 4) {
    fprintf(stderr, "usage: embed INPUT OUTPUT NAME\n");
    return 2;
  }
  FILE *in = fopen(argv[1], "rb");
  FILE *out = fopen(argv[2], "w");
  if (!in || !out) {
    perror("embed");
    return 1;
  }
  fprintf(out, "/* Generated from %s by scripts/embed.cc. */\nstatic const unsigned char %s[] = {", argv[1],
          argv[3]);
  unsigned long n = 0;
  int c;
  while ((c = fgetc(in)) != EOF) {
    fprintf(out, "%s%d", n == 0 ? "\n" : (n % 24 ? "," : ",\n"), c);
    n++;
  }
  fprintf(out, "%s0};\nstatic const unsigned long %s_len = %lu;\n", n ? "," : "", argv[3], n);
  fclose(in);
  return fclose(out) == 0 ? 0 : 1;
}
