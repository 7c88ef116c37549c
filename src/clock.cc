/* clock.cc: time sources and ISO-8601 UTC formatting (thread-safe). */
#include "clock.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t clock_mono_ns(void) {
  struct timespec ts;
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

int64_t clock_wall_ms(void) {
  struct timespec ts;
  clock_gettime(CLOCK_REALTIME, &ts);
  return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

void clock_iso_ms(int64_t wall_ms, char out[CLOCK_ISO_LEN + 1]) {
  /* Most calls fall in the same second as the previous one on this thread:
   * reuse its "YYYY-MM-DDTHH:MM:SS." and write only the milliseconds. */
  static thread_local int64_t cached_secs = -1;
  static thread_local char cached[CLOCK_ISO_LEN + 1];
  int ms = (int)(wall_ms % 1000);
  if (wall_ms / 1000 == cached_secs) {
    memcpy(out, cached, 20);
    out[20] = (char)('0' + ms / 100);
    out[21] = (char)('0' + ms / 10 % 10);
    out[22] = (char)('0' + ms % 10);
    out[23] = 'Z';
    out[24] = 0;
    return;
  }
  time_t secs = (time_t)(wall_ms / 1000);
  struct tm tm;
  gmtime_r(&secs, &tm);
  char tmp[64]; /* roomy: the compiler cannot prove the fields are 2 digits */
  snprintf(tmp, sizeof(tmp), "%04d-%02d-%02dT%02d:%02d:%02d.%03dZ", (tm.tm_year + 1900) % 10000,
           tm.tm_mon + 1, tm.tm_mday, tm.tm_hour, tm.tm_min, tm.tm_sec, (int)(wall_ms % 1000));
  memcpy(out, tmp, CLOCK_ISO_LEN);
  out[CLOCK_ISO_LEN] = 0;
  memcpy(cached, out, sizeof(cached));
  cached_secs = wall_ms / 1000;
}
