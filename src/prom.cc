/* prom.cc: the Prometheus text exposition format (version 0.0.4): a
 * family's HELP and TYPE lines, samples, and histograms rendered
 * cumulatively with their _sum and _count. Knows no metric of hookd's. */
#include "prom.h"

#include <stdio.h>

void prom_family(buf *b, const char *name, const char *type, const char *help) {
  buf_puts(b, "# HELP ");
  buf_puts(b, name);
  buf_putc(b, ' ');
  buf_puts(b, help);
  buf_puts(b, "\n# TYPE ");
  buf_puts(b, name);
  buf_putc(b, ' ');
  buf_puts(b, type);
  buf_putc(b, '\n');
}

static void put_num(buf *b, double v) {
  char tmp[64];
  int n = snprintf(tmp, sizeof(tmp), "%.15g", v);
  buf_append(b, tmp, (size_t)n);
}

void prom_sample_u(buf *b, const char *name, const char *labels, uint64_t v) {
  buf_puts(b, name);
  if (labels) buf_puts(b, labels);
  buf_putc(b, ' ');
  buf_put_u64(b, v);
  buf_putc(b, '\n');
}

void prom_sample_d(buf *b, const char *name, const char *labels, double v) {
  buf_puts(b, name);
  if (labels) buf_puts(b, labels);
  buf_putc(b, ' ');
  put_num(b, v);
  buf_putc(b, '\n');
}

void prom_hist(buf *b, const char *name, const char *label, const uint64_t *buckets, uint64_t count,
               double sum, const double *bounds, size_t n) {
  uint64_t cum = 0;
  char lbl[168]; /* the caller's label (< 160 bytes) in braces */
  for (size_t i = 0; i <= n; i++) {
    cum += buckets[i];
    buf_puts(b, name);
    buf_puts(b, "_bucket{");
    if (label) {
      buf_puts(b, label);
      buf_putc(b, ',');
    }
    buf_puts(b, "le=\"");
    if (i == n)
      buf_puts(b, "+Inf");
    else
      put_num(b, bounds[i]);
    buf_puts(b, "\"} ");
    buf_put_u64(b, cum);
    buf_putc(b, '\n');
  }
  snprintf(lbl, sizeof(lbl), "%s%s%s", label ? "{" : "", label ? label : "", label ? "}" : "");
  buf_puts(b, name);
  buf_puts(b, "_sum");
  buf_puts(b, lbl);
  buf_putc(b, ' ');
  put_num(b, sum);
  buf_putc(b, '\n');
  buf_puts(b, name);
  buf_puts(b, "_count");
  buf_puts(b, lbl);
  buf_putc(b, ' ');
  buf_put_u64(b, count);
  buf_putc(b, '\n');
}
