/* clock.h: wall-clock and monotonic time, ISO-8601 formatting. */
#ifndef HOOKD_CLOCK_H
#define HOOKD_CLOCK_H

#include <stddef.h>
#include <stdint.h>

#define CLOCK_ISO_LEN 24 /* "2025-01-15T10:00:00.123Z" */

uint64_t clock_mono_ns(void); /* monotonic, for latencies */
int64_t clock_wall_ms(void);  /* milliseconds since the Unix epoch */
/* Writes "YYYY-MM-DDTHH:MM:SS.mmmZ" (CLOCK_ISO_LEN bytes + NUL) into out. */
void clock_iso_ms(int64_t wall_ms, char out[CLOCK_ISO_LEN + 1]);

#endif
