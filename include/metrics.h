/* metrics.h: counters and histograms on the loop thread, and their
 * Prometheus text exposition (format 0.0.4).
 *
 * Everything here is touched only by the loop thread; workers hand their
 * numbers over through job results (store's commit hook, the /metrics
 * sampling job). No locks, no atomics. */
#ifndef HOOKD_METRICS_H
#define HOOKD_METRICS_H

#include <stdint.h>

#include "buf.h"

/* Webhook outcomes: the `result` label of webhook_requests_total and the
 * `result` field of request log lines. */
#define WEBHOOK_RESULT_MAP(X)               \
  X(CREATED, "created")                     \
  X(DUPLICATE, "duplicate")                 \
  X(INVALID_SIGNATURE, "invalid_signature") \
  X(VALIDATION_ERROR, "validation_error")   \
  X(DB_ERROR, "db_error")                   \
  X(OVERLOADED, "overloaded")               \
  X(NOT_CONFIGURED, "not_configured")

enum webhook_result {
#define X(name, label) WH_##name,
  WEBHOOK_RESULT_MAP(X)
#undef X
      WH_COUNT
};

const char *webhook_result_label(int result);

/* Process and database figures sampled off the loop for a scrape. */
struct metrics_sample {
  int64_t db_bytes;  /* database + WAL file size, -1 unknown */
  int64_t rss_bytes; /* -1 unknown */
  int64_t vsize_bytes;
  double cpu_seconds; /* user + system */
  int64_t open_fds;
  int64_t max_fds;
};

struct store_gauges; /* store.h: what the store reports at a scrape */

#define METRICS_MAX_ROUTES 31

/* Registers the `path` label of each route id (start-up; labels static).
 * Ids outside [0, n) are counted as "other". */
void metrics_set_routes(const char *const *labels, int n);
/* One answered request; route is a route id (anything else: "other"). */
void metrics_request(int route, int status, double latency_ms);
void metrics_webhook(int result);
void metrics_conn_opened(void);
/* A connection refused (or accepted for health checks only) when full. */
enum { METRICS_REFUSED_MAX_CONNECTIONS = 0, METRICS_REFUSED_DESCRIPTORS, METRICS_REFUSED_N };
void metrics_conn_refused(int reason);
void metrics_conn_closed(void);
void metrics_inflight(int delta);
void metrics_timeout(void);
void metrics_commit(int batch, uint64_t duration_ns, int ok);
void metrics_index(int batch, uint64_t duration_ns, int ok);
/* Fills s (blocking reads of /proc and stat: call on a worker thread).
 * db_files: NULL-ended list of database files (each with its -wal), or NULL. */
void metrics_sample_process(metrics_sample *s, const char *const *db_files);
/* Every figure of s unknown (-1): what a scrape shows without a sample. */
void metrics_sample_unknown(metrics_sample *s);
/* Appends the whole exposition. st and log_dropped are read by the caller
 * from their owners; started_ms is the process start. */
void metrics_render(buf *out, const metrics_sample *s, const store_gauges *st, uint64_t log_dropped,
                    int64_t started_ms);
/* For the console (history.cc, events.cc). */
#define METRICS_LAT_BUCKETS 13 /* request_latency_ms buckets, +Inf included */
/* Copies the non-cumulative latency bucket counts of a route. */
void metrics_latency_buckets(int route, uint64_t out[METRICS_LAT_BUCKETS]);
/* The q-quantile (0..1) of bucket counts, interpolated within the bucket
 * like Prometheus' histogram_quantile; -1 when the counts are all 0. */
double metrics_quantile(const uint64_t counts[METRICS_LAT_BUCKETS], double q);
uint64_t metrics_webhook_count(int result); /* webhook_requests_total{result} */
int64_t metrics_inflight_now(void);         /* hookd_requests_in_flight */
/* A refused webhook signature (auth_sig_reason), and a refused bearer
 * credential (cls: METRICS_TOKEN_READ or METRICS_TOKEN_METRICS; reason:
 * auth_token_reason). Fixed label sets, every pair present from start-up. */
enum { METRICS_TOKEN_READ = 0, METRICS_TOKEN_METRICS, METRICS_TOKEN_CLASSES };
void metrics_sig_failure(int reason);
void metrics_token_failure(int cls, int reason);

#endif
