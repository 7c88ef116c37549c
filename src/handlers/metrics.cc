/* handlers/metrics.cc: GET /metrics (Prometheus text format 0.0.4).
 *
 * The loop owns the counters; file sizes and /proc figures are read by a
 * small job on the threadpool, then the loop renders everything at once.
 * One such job at a time: the threadpool is sized so that a commit never
 * waits for a thread (main.cc), and scrapes must not change that. A scrape
 * that arrives while one samples is answered at once with the last
 * sample's figures. */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "handlers.h"
#include "job.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

static struct {
  int running; /* a sample job is out */
  int have;    /* last holds a finished sample */
  metrics_sample last;
} g_sample;

static void render(conn *c, const metrics_sample *sample) {
  server *s = c->srv;
  store_gauges g;
  store_gauges_get(s->st, &g);
  buf_reset(&c->out);
  metrics_render(&c->out, sample, &g, log_dropped(), s->started_ms);
  c->resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
  conn_respond(c, HTTP_OK);
}

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
  g_sample.running = 0;
  if (cancelled) { /* no figures: render the loop's counters alone */
    metrics_sample_unknown(&sj->sample);
  } else {
    g_sample.last = sj->sample;
    g_sample.have = 1;
  }
  render(c, &sj->sample);
  free(sj);
  conn_release(c);
}

void handle_metrics(conn *c) {
  if (g_sample.running) {
    metrics_sample unknown;
    metrics_sample_unknown(&unknown);
    render(c, g_sample.have ? &g_sample.last : &unknown);
    return;
  }
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
  g_sample.running = 1;
  conn_hold(c); /* released by sample_done */
}
