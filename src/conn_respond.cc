/* conn_respond.cc: writing one response on a connection. The head and the
 * body go out in one uv_try_write when the socket takes them (the common
 * case: no allocation, no callback); what is left is queued with uv_write
 * under the idle timeout (CS_WRITING). Every answered request is accounted
 * here once: request id, metrics, the console's callback, the log line. */

#include "clock.h"
#include "config.h"
#include "conn.h"
#include "metrics.h"

static void on_write(uv_write_t *w, int status) {
  conn *c = (conn *)w->data;
  if (status != 0) {
    conn_close(c);
    return;
  }
  conn_response_done(c);
}

/* Everything that counts an answered request: id, metrics, log, console. */
static void account(conn *c, int status) {
  c->resp.status = status;
  if (c->route < 0) c->route = c->set->route_of(c); /* errors before routing */
  double latency_ms = (double)(clock_mono_ns() - c->start_ns) / 1e6;
  conn_assign_request_id(c);
  metrics_request(c->route, status, latency_ms);
  if (c->set->on_answered) c->set->on_answered(c, status);
  conn_log_request(c, status, latency_ms);
}

size_t conn_respond_stream(conn *c, int status) {
  c->resp.stream = 1;
  c->flags |= CF_CLOSE_AFTER;
  account(c, status);
  int http10 = llhttp_get_http_major(&c->parser) == 1 && llhttp_get_http_minor(&c->parser) == 0;
  size_t hlen = response_head(c->head, &c->resp, 0, str{c->rid, c->rid_len}, 0, http10);
  c->state = CS_STREAM;
  uv_timer_stop(&c->timer);
  conn_read_start(c);
  return hlen;
}

void conn_respond(conn *c, int status) {
  if (!c->static_body.base && c->out.oom) {
    /* A body cut short by a failed allocation is never sent, whichever
     * handler built it: the client hears a transient refusal instead. */
    static const char oom[] = "{\"detail\":\"out of memory\"}";
    buf_reset(&c->out);
    c->static_body = str{oom, sizeof(oom) - 1};
    c->resp.retry_after = 1;
    status = HTTP_UNAVAILABLE;
  }
  account(c, status);
  if (c->flags & CF_CLOSING) return;

  int keep_alive = !(c->flags & CF_CLOSE_AFTER);
  int http10 = llhttp_get_http_major(&c->parser) == 1 && llhttp_get_http_minor(&c->parser) == 0;
  str body = c->static_body.base ? c->static_body : str{c->out.data, c->out.len};
  c->static_body = str{NULL, 0};
  size_t hlen =
      response_head(c->head, &c->resp, body.len, str{c->rid, c->rid_len}, keep_alive, http10);
  c->wbufs[0] = uv_buf_init(c->head, (unsigned)hlen);
  c->wbufs[1] = uv_buf_init((char *)body.base, (unsigned)body.len); /* libuv only reads it */
  int nbufs = body.len ? 2 : 1;
  size_t total = hlen + body.len;
  int rc = uv_try_write((uv_stream_t *)&c->tcp, c->wbufs, (unsigned)nbufs);
  if (rc == (int)total) {
    conn_response_done(c);
    return;
  }
  if (rc < 0 && rc != UV_EAGAIN) {
    conn_close(c);
    return;
  }
  /* Partial: queue the rest and wait. */
  size_t done = rc > 0 ? (size_t)rc : 0;
  uv_buf_t *bufs = c->wbufs;
  if (done >= hlen) {
    bufs = &c->wbufs[1];
    bufs->base += done - hlen;
    bufs->len -= (unsigned)(done - hlen);
    nbufs = 1;
  } else {
    bufs->base += done;
    bufs->len -= (unsigned)done;
  }
  c->state = CS_WRITING;
  c->wreq.data = c;
  conn_timeout(c, c->set->cfg->idle_timeout_ms);
  if (uv_write(&c->wreq, (uv_stream_t *)&c->tcp, bufs, (unsigned)nbufs, on_write) != 0)
    conn_close(c);
}

void conn_respond_body(conn *c, int status, const void *body, size_t len) {
  buf_reset(&c->out);
  buf_append(&c->out, body, len);
  conn_respond(c, status);
}

void conn_respond_static(conn *c, int status, const void *body, size_t len) {
  buf_reset(&c->out);
  c->static_body = str{(const char *)body, len};
  conn_respond(c, status);
  c->static_body = str{NULL, 0}; /* also when account() found c closing */
}

void conn_respond_detail(conn *c, int status, const char *detail) {
  buf_reset(&c->out);
  json_put_detail(&c->out, detail);
  c->log.detail = detail;
  conn_respond(c, status);
  c->log.detail = NULL;
}
