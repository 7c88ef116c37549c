/* prom.h: writing the Prometheus text exposition format (prom.cc). Labels
 * are passed already rendered and escaped: `{key="value"}` for a sample,
 * `key="value"` (no braces) or NULL for a histogram. */
#ifndef HOOKD_PROM_H
#define HOOKD_PROM_H

#include <stddef.h>
#include <stdint.h>

#include "buf.h"

void prom_family(buf *b, const char *name, const char *type, const char *help);
void prom_sample_u(buf *b, const char *name, const char *labels, uint64_t v);
void prom_sample_d(buf *b, const char *name, const char *labels, double v);
/* buckets[0..n] are per-bucket counts (buckets[n] the +Inf one) for the
 * upper bounds bounds[0..n-1]; rendered cumulatively. */
void prom_hist(buf *b, const char *name, const char *label, const uint64_t *buckets, uint64_t count,
               double sum, const double *bounds, size_t n);

#endif
