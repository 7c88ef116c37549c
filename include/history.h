/* history.h: the last hour of traffic, one point per second, in memory.
 *
 * Fixed-size rings on the loop thread (HISTORY_SECONDS points of
 * history_point, 48 bytes each, 169 KiB in all; nothing grows). Responses are
 * counted as they are sent; history_tick closes the current second once a
 * second and computes that second's webhook latency p50/p99 from the
 * request_latency_ms histogram (metrics.cc), as Prometheus'
 * histogram_quantile would. The console's own requests (its page, stream
 * and reads) are counted apart, so they never show up as traffic. */
#ifndef HOOKD_HISTORY_H
#define HOOKD_HISTORY_H

#include <stdint.h>

#include "buf.h"

#define HISTORY_SECONDS 3600

struct history_point {
  int64_t t;        /* Unix second this point covers */
  uint32_t req_2xx; /* requests answered, by status class (not the console's) */
  uint32_t req_4xx;
  uint32_t req_5xx;
  uint32_t created;   /* webhooks: new rows committed */
  uint32_t duplicate; /* webhooks: message_id already stored */
  uint32_t rejected;  /* webhooks answered anything but 200 */
  uint32_t console;   /* the console's own requests */
  float p50_ms;       /* webhook latency quantiles this second, -1 if none */
  float p99_ms;
};

/* One response sent: webhook says it was POST /webhook; dup is conn_log.dup
 * (-1 unknown, 0 created, 1 duplicate); console marks the console's own. */
void history_response(int status, int webhook, int dup, int console);
/* Closes the seconds up to now_ms (loop timer, once a second). */
void history_tick(int64_t now_ms);
/* Appends `"history":{...}` with the last n points (n <= HISTORY_SECONDS),
 * one array per series, oldest first. */
void history_json(buf *b, int n);
/* Totals since start: requests by class (not the console's), console. */
void history_totals(uint64_t *req_2xx, uint64_t *req_4xx, uint64_t *req_5xx, uint64_t *console);

#endif
