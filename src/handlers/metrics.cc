/* handlers/metrics.cc: GET /metrics (Prometheus text format 0.0.4).
 *
 * The loop owns the counters; file sizes and /proc figures are read by a
 * small job on the threadpool, then the loop renders everything at once. */
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "handlers.h"
#include "log.h"
#include "metrics.h"
#include "server.h"

struct sample_job {
  uv_work_t work;       /* must stay first */
  metrics_sample sample;
  char db_path[1024];
  conn *c;              /* loop side only */
};

static void sample_work(uv_work_t *w) {
  sample_job *j = (sample_job *)w;
  metrics_sample_process(&j->sample, j->db_path);
}

static void sample_done(uv_work_t *w, int) {
  sample_job *j = (sample_job *)w;
  conn *c = j->c;
  server *s = c->srv;
  buf_reset(&c->out);
  metrics_render(&c->out, &j->sample, store_queue_depth(s->st), store_db_errors(s->st),
                 log_dropped(), s->started_ms);
  free(j);
  c->resp.content_type = "text/plain; version=0.0.4; charset=utf-8";
  conn_respond(c, HTTP_OK);
  conn_release(c);
}

void handle_metrics(conn *c) {
  sample_job *j = (sample_job *)calloc(1, sizeof(sample_job));
  if (!j) {
    conn_respond_detail(c, HTTP_UNAVAILABLE, "out of memory");
    return;
  }
  j->c = c;
  strncpy(j->db_path, store_path(c->srv->st), sizeof(j->db_path) - 1);
  conn_hold(c);
  uv_queue_work(c->srv->loop, &j->work, sample_work, sample_done);
}
