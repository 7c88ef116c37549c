/* handlers/read.cc: what every read endpoint shares. Answer from the
 * response cache when the store has not changed since; otherwise run the
 * endpoint's query on a reader (its JSON body is built on the worker),
 * cache the result, and send it. */
#include "cache.h"
#include "conn.h"
#include "handlers.h"
#include "log.h"
#include "server.h"

/* Loop thread: hand the body built by the worker to the response. */
static void read_done(store_read *r) {
  conn *c = (conn *)r->arg;
  if (r->rc == 0) {
    cache_put(c->route, http_req_query(&c->req), r->gen, &r->out);
    buf tmp = c->out; /* swap: both buffers stay allocated for reuse */
    c->out = r->out;
    r->out = tmp;
    conn_respond(c, HTTP_OK);
  } else {
    log_event(LOG_ERROR, "db_error", r->err);
    conn_respond_detail(c, HTTP_INTERNAL_ERROR, "database error");
  }
  conn_release(c);
}

void handle_read(conn *c, store_read_fn run) {
  const buf *hit = cache_get(c->route, http_req_query(&c->req), store_generation(c->srv->st));
  if (hit) {
    conn_respond_body(c, HTTP_OK, hit->data, hit->len);
    return;
  }
  store_read *r = &c->job;
  r->run = run;
  r->done = read_done;
  r->arg = c;
  if (store_read_submit(c->srv->st, r) != 0) {
    c->resp.retry_after = 1;
    conn_respond_detail(c, HTTP_UNAVAILABLE, "server overloaded, retry later");
    return;
  }
  conn_hold(c);
}
