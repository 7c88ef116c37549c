/* handlers/metrics.cc: GET /metrics (Prometheus text format 0.0.4).
 *
 * The loop owns the counters; file sizes and /proc figures are read by a
 * small job on the threadpool, then the loop renders everything at once. */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "handlers.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

struct sample_job {
  job j; /* must stay first */
  metrics_sample sample;
  const char *const *db_files; /* the store's; valid while it is open */
  conn *c;                     /* loop side only */
};

static void sample_work(job *j) {
  sample_job *sj = (sample_job *)j;
  metrics_sample_process(&sj->sample, sj->db_files);
}

static void sample_done(job *j, int cancelled) {
  sample_job *sj = (sample_job *)j;
  conn *c = sj->c;
  server *s = c->srv;
  if (cancelled) { /* no figures: render the loop's counters alone */
    memset(&sj->sample, 0, sizeof(sj->sample));
    sj->sample.db_bytes = sj->sample.rss_bytes = sj->sample.open_fds = sj->sample.max_fds = -1;
  }
  store_gauges g;
  store_gauges_get(s->st, &g);
  metrics_store ms = {g.queue_depth, g.db_errors, g.index_lag_rows, g.rows_write_bytes,
                      g.index_write_bytes};
  buf_reset(&c->out);
  metrics_render(&c->out, &sj->sample, &ms, log_dropped(), s->started_ms);
  free(sj);
  c->resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
  conn_respond(c, HTTP_OK);
  conn_release(c);
}

void handle_metrics(conn *c) {
  sample_job *sj = (sample_job *)calloc(1, sizeof(sample_job));
  if (!sj) {
    handle_refused(c, STORE_E_NOMEM);
    return;
  }
  sj->c = c;
  sj->db_files = store_files(c->srv->st);
  if (job_submit(c->srv->loop, &sj->j, sample_work, sample_done) != 0) {
    free(sj);
    handle_refused(c, STORE_E_FULL);
    return;
  }
  conn_hold(c); /* released by sample_done */
}
