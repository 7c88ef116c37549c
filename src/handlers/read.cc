/* handlers/read.cc: what every read endpoint shares. Answer from the
 * response cache when the store has not changed since; otherwise run the
 * read on the store (the endpoint's render function builds the JSON body
 * on the worker), cache the result, and send it. The connection is held
 * while its read is in flight and released when it comes back. */
#include <stdlib.h>

#include "cache.h"
#include "conn.h"
#include "handlers.h"
#include "log.h"
#include "server.h"

static void job_free(void *p) { store_read_free((store_read *)p); }

store_read *handle_job(conn *c) {
  if (!c->job) {
    c->job = calloc(1, sizeof(store_read));
    if (c->job) c->job_free = job_free;
  }
  return (store_read *)c->job;
}

/* Answers a refused store operation (no callback follows). */
void handle_refused(conn *c, int refusal) {
  c->resp.retry_after = 1;
  conn_respond_detail(c, HTTP_UNAVAILABLE,
                      refusal == STORE_E_LAG     ? "indexing behind, retry later"
                      : refusal == STORE_E_DOWN  ? "database unavailable, retry later"
                      : refusal == STORE_E_NOMEM ? "out of memory, retry later"
                                                 : "server overloaded, retry later");
}

/* Answers a failed read (rc from the engine): 503 (busy) or 500, logged. */
static void read_failed(conn *c, const store_read *r) {
  log_event(LOG_ERROR, "db_error", r->err);
  if (r->rc == STORE_BUSY) {
    c->resp.retry_after = 1;
    conn_respond_detail(c, HTTP_UNAVAILABLE, "database busy, retry later");
  } else {
    conn_respond_detail(c, HTTP_INTERNAL_ERROR, "database error");
  }
}

/* Loop thread: hand the body built by the worker to the response. */
static void read_done(store_read *r) {
  conn *c = (conn *)r->arg;
  if (r->rc == 0) {
    if (store_cacheable(c->srv->st)) cache_put(c->route, http_req_query(&c->req), r->gen, &r->out);
    buf tmp = c->out; /* swap: both buffers stay allocated for reuse */
    c->out = r->out;
    r->out = tmp;
    conn_respond(c, HTTP_OK);
  } else {
    read_failed(c, r);
  }
  conn_release(c);
}

int handle_submit_read(conn *c, store_read *r) {
  int rc = store_read_submit(c->srv->st, r);
  if (rc != 0) return rc;
  conn_hold(c);
  return 0;
}

void handle_read(conn *c, store_read *r, store_render_fn render) {
  if (store_cacheable(c->srv->st)) {
    const buf *hit = cache_get(c->route, http_req_query(&c->req), store_generation(c->srv->st));
    if (hit) {
      conn_respond_body(c, HTTP_OK, hit->data, hit->len);
      return;
    }
  }
  r->render = render;
  r->done = read_done;
  r->arg = c;
  int rc = handle_submit_read(c, r);
  if (rc != 0) handle_refused(c, rc);
}
