/* metrics.cc: loop-thread counters, histograms and what GET /metrics says
 * of them (the text format is written by prom.cc; the system figures a
 * scrape also shows are read by metrics_sample.cc). */
#include "metrics.h"

#include <stdio.h>
#include <string.h>

#include "auth.h"
#include "defs.h"
#include "prom.h"
#include "store.h"

static const double latency_bounds[] = {0.1, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000};
#define NLAT (sizeof(latency_bounds) / sizeof(latency_bounds[0]))
static const double batch_bounds[] = {1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024};
#define NBATCH (sizeof(batch_bounds) / sizeof(batch_bounds[0]))
static const double ibatch_bounds[] = {1, 4, 16, 64, 256, 1024, 4096, 16384, 65536};
#define NIBATCH (sizeof(ibatch_bounds) / sizeof(ibatch_bounds[0]))
static const double ims_bounds[] = {1, 5, 10, 25, 50, 100, 250, 500, 1000, 2500, 5000, 10000};
#define NIMS (sizeof(ims_bounds) / sizeof(ims_bounds[0]))

static const int status_codes[] = {
#define X(code, name, phrase) code,
    HOOKD_STATUS_MAP(X)
#undef X
};
#define NSTATUS (sizeof(status_codes) / sizeof(status_codes[0]))
#define NPATH (METRICS_MAX_ROUTES + 1) /* + "other" */

struct histogram {
  uint64_t buckets[16]; /* non-cumulative; rendered cumulatively */
  uint64_t count;
  double sum;
};

static struct {
  uint64_t requests[NPATH][NSTATUS];
  histogram latency[NPATH];
  uint64_t webhook[WH_COUNT];
  int64_t conns_open;
  uint64_t conns_total;
  int64_t inflight;
  uint64_t timeouts;
  histogram batch;
  histogram commit_ms;
  uint64_t commits_failed;
  histogram index_batch;
  histogram index_ms;
  uint64_t refused[METRICS_REFUSED_N];
  uint64_t sig_failures[AUTH_SIG_COUNT];
  uint64_t token_failures[METRICS_TOKEN_CLASSES][AUTH_TOKEN_COUNT];
} g_m;

const char *webhook_result_label(int result) {
  static const char *const labels[WH_COUNT] = {
#define X(name, label) label,
      WEBHOOK_RESULT_MAP(X)
#undef X
  };
  return result >= 0 && result < WH_COUNT ? labels[result] : "unknown";
}

static void observe(histogram *h, const double *bounds, size_t n, double v) {
  size_t i = 0;
  while (i < n && v > bounds[i]) i++;
  h->buckets[i]++; /* i == n is the +Inf bucket */
  h->count++;
  h->sum += v;
}

/* The route labels, registered once by main (the router's paths): metrics
 * does not know the route table, so neither calls the other. */
static const char *const *route_labels;
static int nroutes;

void metrics_set_routes(const char *const *labels, int n) {
  route_labels = labels;
  nroutes = n < METRICS_MAX_ROUTES ? n : METRICS_MAX_ROUTES;
}

void metrics_request(int route, int status, double latency_ms) {
  int p = route >= 0 && route < nroutes ? route : nroutes; /* nroutes: "other" */
  for (size_t i = 0; i < NSTATUS; i++) {
    if (status_codes[i] == status) {
      g_m.requests[p][i]++;
      break;
    }
  }
  observe(&g_m.latency[p], latency_bounds, NLAT, latency_ms);
}

void metrics_webhook(int result) {
  if (result >= 0 && result < WH_COUNT) g_m.webhook[result]++;
}
void metrics_conn_opened(void) {
  g_m.conns_open++;
  g_m.conns_total++;
}
void metrics_conn_closed(void) { g_m.conns_open--; }
void metrics_conn_refused(int reason) {
  if (reason >= 0 && reason < METRICS_REFUSED_N) g_m.refused[reason]++;
}
void metrics_inflight(int delta) { g_m.inflight += delta; }
void metrics_timeout(void) { g_m.timeouts++; }

void metrics_commit(int batch, uint64_t duration_ns, int ok) {
  observe(&g_m.batch, batch_bounds, NBATCH, (double)batch);
  observe(&g_m.commit_ms, latency_bounds, NLAT, (double)duration_ns / 1e6);
  if (!ok) g_m.commits_failed++;
}

void metrics_index(int batch, uint64_t duration_ns, int ok) {
  if (!ok) return; /* counted in hookd_db_errors_total */
  observe(&g_m.index_batch, ibatch_bounds, NIBATCH, (double)batch);
  observe(&g_m.index_ms, ims_bounds, NIMS, (double)duration_ns / 1e6);
}

/* ---- For the console ----------------------------------------------- */

static_assert(NLAT + 1 == METRICS_LAT_BUCKETS, "latency bucket count");

void metrics_latency_buckets(int route, uint64_t out[METRICS_LAT_BUCKETS]) {
  int p = route >= 0 && route < nroutes ? route : nroutes;
  memcpy(out, g_m.latency[p].buckets, sizeof(uint64_t) * METRICS_LAT_BUCKETS);
}

double metrics_quantile(const uint64_t counts[METRICS_LAT_BUCKETS], double q) {
  uint64_t total = 0;
  for (size_t i = 0; i <= NLAT; i++) total += counts[i];
  if (total == 0) return -1;
  double rank = q * (double)total, cum = 0;
  for (size_t i = 0; i <= NLAT; i++) {
    if (cum + (double)counts[i] >= rank && counts[i]) {
      if (i == NLAT) return latency_bounds[NLAT - 1]; /* +Inf: the highest bound */
      double lo = i ? latency_bounds[i - 1] : 0, hi = latency_bounds[i];
      return lo + (hi - lo) * (rank - cum) / (double)counts[i];
    }
    cum += (double)counts[i];
  }
  return latency_bounds[NLAT - 1];
}

uint64_t metrics_webhook_count(int result) {
  return result >= 0 && result < WH_COUNT ? g_m.webhook[result] : 0;
}
int64_t metrics_inflight_now(void) { return g_m.inflight; }

void metrics_sig_failure(int reason) {
  if (reason > 0 && reason < AUTH_SIG_COUNT) g_m.sig_failures[reason]++;
}

void metrics_token_failure(int cls, int reason) {
  if (cls >= 0 && cls < METRICS_TOKEN_CLASSES && reason > 0 && reason < AUTH_TOKEN_COUNT)
    g_m.token_failures[cls][reason]++;
}

/* ---- Exposition (the text format itself is prom.cc) ------------------- */

static void render_hist(buf *b, const char *name, const char *label, const histogram *h,
                        const double *bounds, size_t n) {
  prom_hist(b, name, label, h->buckets, h->count, h->sum, bounds, n);
}

static const char *path_label(int p) { return p < nroutes ? route_labels[p] : "other"; }

void metrics_render(buf *b, const metrics_sample *s, const store_gauges *st, uint64_t log_dropped,
                    int64_t started_ms) {
  char lbl[160];
  prom_family(b, "http_requests_total", "counter", "HTTP requests answered, by route and status.");
  for (int p = 0; p <= nroutes; p++) {
    for (size_t i = 0; i < NSTATUS; i++) {
      if (!g_m.requests[p][i]) continue;
      snprintf(lbl, sizeof(lbl), "{path=\"%s\",status=\"%d\"}", path_label(p), status_codes[i]);
      prom_sample_u(b, "http_requests_total", lbl, g_m.requests[p][i]);
    }
  }
  prom_family(b, "webhook_requests_total", "counter", "POST /webhook outcomes.");
  for (int r = 0; r < WH_COUNT; r++) {
    snprintf(lbl, sizeof(lbl), "{result=\"%s\"}", webhook_result_label(r));
    prom_sample_u(b, "webhook_requests_total", lbl, g_m.webhook[r]);
  }
  prom_family(b, "hookd_signature_failures_total", "counter",
              "Webhooks refused 401 by the signature check, by reason.");
  for (int r = 1; r < AUTH_SIG_COUNT; r++) {
    snprintf(lbl, sizeof(lbl), "{reason=\"%s\"}", auth_sig_reason_label(r));
    prom_sample_u(b, "hookd_signature_failures_total", lbl, g_m.sig_failures[r]);
  }
  prom_family(b, "hookd_token_failures_total", "counter",
              "Requests refused 401 for a missing or invalid bearer credential, by route class and "
              "reason.");
  for (int k = 0; k < METRICS_TOKEN_CLASSES; k++) {
    for (int r = 1; r < AUTH_TOKEN_COUNT; r++) {
      snprintf(lbl, sizeof(lbl), "{class=\"%s\",reason=\"%s\"}",
               k == METRICS_TOKEN_READ ? "read" : "metrics", auth_token_reason_label(r));
      prom_sample_u(b, "hookd_token_failures_total", lbl, g_m.token_failures[k][r]);
    }
  }
  prom_family(b, "request_latency_ms", "histogram",
              "Time from the first byte of a request to its response, in milliseconds, by route.");
  for (int p = 0; p <= nroutes; p++) {
    if (!g_m.latency[p].count) continue;
    snprintf(lbl, sizeof(lbl), "path=\"%s\"", path_label(p));
    render_hist(b, "request_latency_ms", lbl, &g_m.latency[p], latency_bounds, NLAT);
  }
  prom_family(b, "hookd_connections_open", "gauge", "Client connections open now.");
  prom_sample_u(b, "hookd_connections_open", NULL, (uint64_t)g_m.conns_open);
  prom_family(b, "hookd_connections_total", "counter", "Client connections accepted.");
  prom_sample_u(b, "hookd_connections_total", NULL, g_m.conns_total);
  prom_family(b, "hookd_connections_refused_total", "counter",
              "Connections refused: past MAX_CONNECTIONS (answered 503, or served one health "
              "check), or out of descriptors.");
  prom_sample_u(b, "hookd_connections_refused_total", "{reason=\"max_connections\"}",
                g_m.refused[METRICS_REFUSED_MAX_CONNECTIONS]);
  prom_sample_u(b, "hookd_connections_refused_total", "{reason=\"descriptors\"}",
                g_m.refused[METRICS_REFUSED_DESCRIPTORS]);
  prom_family(b, "hookd_requests_in_flight", "gauge", "Webhooks waiting for their commit.");
  prom_sample_u(b, "hookd_requests_in_flight", NULL, (uint64_t)g_m.inflight);
  prom_family(b, "hookd_request_timeouts_total", "counter",
              "Requests answered 408 (slow clients).");
  prom_sample_u(b, "hookd_request_timeouts_total", NULL, g_m.timeouts);
  prom_family(b, "hookd_writer_queue_depth", "gauge", "Webhooks queued or committing.");
  prom_sample_u(b, "hookd_writer_queue_depth", NULL, st->queue_depth);
  prom_family(b, "hookd_commit_batch_size", "histogram", "Webhooks per group commit.");
  render_hist(b, "hookd_commit_batch_size", NULL, &g_m.batch, batch_bounds, NBATCH);
  prom_family(b, "hookd_commit_duration_ms", "histogram",
              "Duration of one group-commit transaction, in milliseconds.");
  render_hist(b, "hookd_commit_duration_ms", NULL, &g_m.commit_ms, latency_bounds, NLAT);
  prom_family(b, "hookd_db_errors_total", "counter", "Failed database transactions and reads.");
  prom_sample_u(b, "hookd_db_errors_total", NULL, st->db_errors);
  if (st->index_lag_rows >= 0) {
    prom_family(b, "hookd_index_lag_rows", "gauge",
                "Committed rows the indexer has not reached yet (reads scan them directly).");
    prom_sample_u(b, "hookd_index_lag_rows", NULL, (uint64_t)st->index_lag_rows);
    prom_family(b, "hookd_index_batch_size", "histogram", "Rows per indexer batch.");
    render_hist(b, "hookd_index_batch_size", NULL, &g_m.index_batch, ibatch_bounds, NIBATCH);
    prom_family(b, "hookd_index_duration_ms", "histogram",
                "Duration of one indexer batch, in milliseconds.");
    render_hist(b, "hookd_index_duration_ms", NULL, &g_m.index_ms, ims_bounds, NIMS);
    prom_family(b, "hookd_storage_write_bytes_total", "counter",
                "Bytes written to storage: the rows (acknowledging path) and the derived index.");
    prom_sample_u(b, "hookd_storage_write_bytes_total", "{part=\"rows\"}", st->rows_write_bytes);
    prom_sample_u(b, "hookd_storage_write_bytes_total", "{part=\"index\"}", st->index_write_bytes);
  }
  prom_family(b, "hookd_log_lines_dropped_total", "counter",
              "Log lines dropped because stdout was stuck.");
  prom_sample_u(b, "hookd_log_lines_dropped_total", NULL, log_dropped);
  if (s->db_bytes >= 0) {
    prom_family(b, "hookd_db_size_bytes", "gauge", "Database files plus their WALs, in bytes.");
    prom_sample_u(b, "hookd_db_size_bytes", NULL, (uint64_t)s->db_bytes);
  }
  if (s->rss_bytes >= 0) {
    prom_family(b, "process_resident_memory_bytes", "gauge", "Resident memory size in bytes.");
    prom_sample_u(b, "process_resident_memory_bytes", NULL, (uint64_t)s->rss_bytes);
    prom_family(b, "process_virtual_memory_bytes", "gauge", "Virtual memory size in bytes.");
    prom_sample_u(b, "process_virtual_memory_bytes", NULL, (uint64_t)s->vsize_bytes);
    prom_family(b, "process_cpu_seconds_total", "counter", "User and system CPU time in seconds.");
    prom_sample_d(b, "process_cpu_seconds_total", NULL, s->cpu_seconds);
  }
  if (s->open_fds >= 0) {
    prom_family(b, "process_open_fds", "gauge", "Open file descriptors.");
    prom_sample_u(b, "process_open_fds", NULL, (uint64_t)s->open_fds);
  }
  if (s->max_fds >= 0) {
    prom_family(b, "process_max_fds", "gauge", "Maximum number of open file descriptors.");
    prom_sample_u(b, "process_max_fds", NULL, (uint64_t)s->max_fds);
  }
  prom_family(b, "process_start_time_seconds", "gauge",
              "Start time since the Unix epoch, in seconds.");
  prom_sample_d(b, "process_start_time_seconds", NULL, (double)started_ms / 1000.0);
  prom_family(b, "hookd_build_info", "gauge", "Always 1; the label carries the version.");
  prom_sample_u(b, "hookd_build_info", "{version=\"" HOOKD_VERSION "\"}", 1);
}
