/* conn.cc: the life of one client connection.
 *
 *   accept -> IDLE --bytes--> READING --message complete--> BUSY (handler/job)
 *        ^                                                    |
 *        +------------- response written <--- WRITING <-------+
 *
 * Timeouts (one uv_timer per conn): IDLE waits idle_timeout_ms for the next
 * request; READING gets header_timeout_ms until the headers are complete and
 * then body_timeout_ms for the body (408 and close); WRITING gets
 * idle_timeout_ms for the client to take the response; BUSY has none (the
 * server owns the work). A response that closes the connection sends FIN
 * and keeps reading (discarding) for a moment, so the client sees the
 * response instead of a reset ("lingering close").
 *
 * A streaming response (GET /events) leaves the machine at BUSY for STREAM:
 * the head is out, stream.cc owns the body queue, no timer runs until
 * stream_end arms STREAM_END_MS for the stream's last words, and reading
 * continues only to see the client leave; it ends in LINGER or a plain
 * close. Writing a response is in conn_respond.cc. */
#include "conn.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "log.h"
#include "metrics.h"
#include "stream.h"

#define LINGER_MS 2000

static char read_buffer[HTTP_READ_CHUNK]; /* loop thread: parsed before the next read */

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b);
static void conn_run(conn *c, const char *data, size_t n);

static void conn_unref(conn *c) {
  if (--c->refs > 0) return;
  conn_set *s = c->set;
  if (c->prev)
    c->prev->next = c->next;
  else
    s->head = c->next;
  if (c->next) c->next->prev = c->prev;
  s->n--;
  metrics_conn_closed();
  if (c->stream) stream_free(c);
  http_req_free(&c->req);
  buf_free(&c->pending);
  buf_free(&c->out);
  if (c->job_free) c->job_free(c->job);
  free(c);
  if (s->on_gone) s->on_gone(s);
}

static void on_close(uv_handle_t *h) { conn_unref((conn *)h->data); }

void conn_close(conn *c) {
  if (c->flags & CF_CLOSING) return;
  c->flags |= CF_CLOSING;
  uv_close((uv_handle_t *)&c->tcp, on_close);
  uv_close((uv_handle_t *)&c->timer, on_close);
}

void conn_hold(conn *c) { c->refs++; }
void conn_release(conn *c) { conn_unref(c); }

static void alloc_cb(uv_handle_t *, size_t, uv_buf_t *b) {
  b->base = read_buffer;
  b->len = sizeof(read_buffer);
}

void conn_read_start(conn *c) {
  if ((c->flags & (CF_READING | CF_CLOSING)) == 0) {
    if (uv_read_start((uv_stream_t *)&c->tcp, alloc_cb, on_read) == 0)
      c->flags |= CF_READING;
    else
      conn_close(c);
  }
}

static void read_stop(conn *c) {
  if (c->flags & CF_READING) {
    uv_read_stop((uv_stream_t *)&c->tcp);
    c->flags &= ~CF_READING;
  }
}

static void on_timer(uv_timer_t *t);

/* uv_timer_start fails only on a closing handle: then the conn is going. */
static void timer_set(conn *c, uint32_t ms) {
  if (uv_timer_start(&c->timer, on_timer, ms, 0) != 0) conn_close(c);
}

/* ---- Lingering close -------------------------------------------------- */

static void on_shutdown(uv_shutdown_t *, int) {}

void conn_timeout(conn *c, uint32_t ms) {
  if (!(c->flags & CF_CLOSING)) timer_set(c, ms);
}

void conn_linger(conn *c) {
  if (c->flags & CF_CLOSING) return;
  c->state = CS_LINGER;
  if (uv_shutdown(&c->sreq, (uv_stream_t *)&c->tcp, on_shutdown) != 0) {
    conn_close(c);
    return;
  }
  timer_set(c, LINGER_MS);
  conn_read_start(c);
}

/* ---- Timeouts --------------------------------------------------------- */

static void on_timer(uv_timer_t *t) {
  conn *c = (conn *)t->data;
  switch (c->state) {
    case CS_READING:
      metrics_timeout();
      read_stop(c);
      c->flags |= CF_CLOSE_AFTER;
      c->state = CS_BUSY;
      conn_respond_detail(c, HTTP_REQUEST_TIMEOUT, "request timeout: the client was too slow");
      break;
    case CS_BUSY: /* never armed while busy */ break;
    default: /* idle keep-alive, stuck write, linger, ended stream: close */ conn_close(c);
  }
}

/* A new connection waits for its first request (conn_accept.cc). */
void conn_begin(conn *c) {
  c->state = CS_IDLE;
  timer_set(c, c->set->cfg->idle_timeout_ms);
  conn_read_start(c);
}

/* ---- Reading and parsing ---------------------------------------------- */

static void on_read(uv_stream_t *stream, ssize_t nread, const uv_buf_t *b) {
  conn *c = (conn *)stream->data;
  if (nread < 0) {
    /* EOF or error. A client that half-closes after a complete request is
     * not reading anymore in a way we can serve: close. */
    conn_close(c);
    return;
  }
  if (nread == 0) return;
  if (c->state == CS_LINGER || c->state == CS_STREAM) return; /* discard */
  conn_run(c, b->base, (size_t)nread);
}

static void send_continue(conn *c) {
  static const char msg[] = "HTTP/1.1 100 Continue\r\n\r\n";
  uv_buf_t b = uv_buf_init((char *)msg, sizeof(msg) - 1);
  /* 25 bytes on an idle socket: a try-write is enough; if the kernel buffer
   * is full the client will send the body after its own timeout. Part of it
   * written would put a cut interim response before the real one: close. */
  int rc = uv_try_write((uv_stream_t *)&c->tcp, &b, 1);
  if (rc > 0 && rc < (int)b.len) conn_close(c);
  c->flags |= CF_CONTINUE_SENT;
}

/* Keeps the unparsed tail [from, end) in c->pending. data may point into
 * pending itself. */
static void keep_pending(conn *c, const char *from, const char *end) {
  size_t n = (size_t)(end - from);
  if (from >= c->pending.data && from <= c->pending.data + c->pending.len && c->pending.data) {
    c->pending_off = (size_t)(from - c->pending.data);
    if (n == 0) c->pending.len = c->pending_off = 0;
    return;
  }
  buf_reset(&c->pending);
  c->pending_off = 0;
  buf_append(&c->pending, from, n);
  if (c->pending.oom) conn_close(c);
}

/* Feeds bytes to the parser; on a complete request hands it to the router. */
static void conn_execute(conn *c, const char *data, size_t n) {
  conn_set *s = c->set;
  if (c->state == CS_IDLE) {
    c->state = CS_READING;
    c->start_ns = clock_mono_ns();
    timer_set(c, s->cfg->header_timeout_ms);
  }
  llhttp_errno_t err = llhttp_execute(&c->parser, data, n);
  if (err == HPE_OK) {
    if (c->pending.data && data >= c->pending.data && data < c->pending.data + c->pending.len)
      c->pending.len = c->pending_off = 0; /* all of pending consumed */
    if (c->req.headers_done && !(c->flags & CF_BODY_TIMER)) {
      c->flags |= CF_BODY_TIMER;
      timer_set(c, s->cfg->body_timeout_ms);
    }
    if (c->req.expect_continue && c->req.headers_done && !(c->flags & CF_CONTINUE_SENT))
      send_continue(c);
    return;
  }
  read_stop(c);
  uv_timer_stop(&c->timer);
  c->state = CS_BUSY;
  if (err == HPE_PAUSED || err == HPE_PAUSED_UPGRADE) {
    keep_pending(c, llhttp_get_error_pos(&c->parser), data + n);
    if (c->flags & CF_CLOSING) return; /* no memory for the pipelined rest */
    if (!llhttp_should_keep_alive(&c->parser) || err == HPE_PAUSED_UPGRADE || s->draining)
      c->flags |= CF_CLOSE_AFTER;
    s->dispatch(c);
    return;
  }
  /* A malformed stream cannot be trusted past this point: answer and close. */
  c->flags |= CF_CLOSE_AFTER;
  if (c->req.error_status) {
    conn_respond_detail(c, c->req.error_status, c->req.error_detail);
  } else {
    char detail[160];
    snprintf(detail, sizeof(detail), "malformed HTTP request: %s",
             llhttp_get_error_reason(&c->parser));
    conn_respond_detail(c, HTTP_BAD_REQUEST, detail);
  }
}

/* Parses data, then any pipelined requests left in pending, for as long as
 * responses complete synchronously. Iterative, so a burst of pipelined
 * requests cannot grow the stack. */
static void conn_run(conn *c, const char *data, size_t n) {
  c->flags |= CF_IN_RUN;
  if (data) conn_execute(c, data, n);
  while (!(c->flags & CF_CLOSING) && c->state == CS_IDLE && c->pending_off < c->pending.len)
    conn_execute(c, c->pending.data + c->pending_off, c->pending.len - c->pending_off);
  c->flags &= ~CF_IN_RUN;
  if (!(c->flags & CF_CLOSING) && (c->state == CS_IDLE || c->state == CS_READING))
    conn_read_start(c);
}

/* The response is out: close, or get ready for the next request. */
void conn_response_done(conn *c) {
  if (c->flags & CF_CLOSING) return;
  if (c->flags & CF_CLOSE_AFTER) {
    conn_linger(c);
    return;
  }
  http_req_reset(&c->req);
  llhttp_resume(&c->parser);
  c->state = CS_IDLE;
  c->flags &= ~(CF_CONTINUE_SENT | CF_BODY_TIMER);
  c->route = -1;
  c->log.result = NULL;
  c->log.has_mid = 0;
  c->log.dup = -1;
  memset(&c->resp, 0, sizeof(c->resp));
  timer_set(c, c->set->cfg->idle_timeout_ms);
  if (!(c->flags & CF_IN_RUN)) conn_run(c, NULL, 0);
}

void conn_drain(conn *c) {
  if (c->flags & CF_CLOSING) return;
  if (c->state == CS_STREAM) {
    stream_end(c, NULL);
    return;
  }
  if (c->state == CS_IDLE && c->pending_off >= c->pending.len)
    conn_close(c);
  else
    c->flags |= CF_CLOSE_AFTER;
}
