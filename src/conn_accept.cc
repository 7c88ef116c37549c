/* conn_accept.cc: admission. A new connection is accepted from the
 * listener into the set; past MAX_CONNECTIONS it is answered 503 and
 * closed, except up to CONN_HEALTH_RESERVE more that are served one health
 * check (router_dispatch enforces that), and every refusal is counted and
 * logged at most once a second. Part of the conn module; loop thread. */
#include <stdio.h>
#include <stdlib.h>

#include "clock.h"
#include "conn.h"
#include "log.h"
#include "metrics.h"

/* Counts a refusal and logs it, at most once a second (with how many were
 * not logged), so a flood cannot flood the log. */
void conn_refused(conn_set *s, int reason) {
  metrics_conn_refused(reason);
  s->refused_unlogged++;
  int64_t now = clock_wall_ms();
  if (now - s->refused_logged_ms < 1000) return;
  char msg[160];
  snprintf(msg, sizeof(msg), "%s: %llu connection(s) refused since the last line",
           reason == METRICS_REFUSED_DESCRIPTORS
               ? "out of file descriptors"
               : "MAX_CONNECTIONS reached (health checks still served)",
           (unsigned long long)s->refused_unlogged);
  log_event(LOG_WARN, "connection_refused", msg);
  s->refused_logged_ms = now;
  s->refused_unlogged = 0;
}

int conn_accept(conn_set *s, uv_stream_t *listener, server *srv) {
  conn *c = (conn *)calloc(1, sizeof(conn));
  if (!c) return UV_ENOMEM;
  int rc = uv_tcp_init(s->loop, &c->tcp);
  if (rc != 0) {
    free(c);
    return rc;
  }
  c->tcp.data = c;
  c->set = s;
  c->srv = srv;
  c->refs = 2;                                 /* tcp + timer */
  int trc = uv_timer_init(s->loop, &c->timer); /* cannot fail on a live loop */
  c->timer.data = c;
  rc = uv_accept(listener, (uv_stream_t *)&c->tcp);
  if (rc == 0) rc = trc;
  c->next = s->head;
  if (s->head) s->head->prev = c;
  s->head = c;
  s->n++;
  metrics_conn_opened();
  if (rc != 0) {
    conn_close(c);
    return rc;
  }
  /* Without TCP_NODELAY answers may wait for an ACK (latency, not
   * correctness): keep the connection if it fails. */
  if (uv_tcp_nodelay(&c->tcp, 1) != 0) log_event(LOG_DEBUG, "tcp_nodelay_failed", NULL);
  http_parser_init(&c->parser, &c->req, &s->limits);
  c->log.dup = -1;
  c->route = -1;
  if (s->n > s->cfg->max_connections && !s->draining &&
      s->n <= s->cfg->max_connections + CONN_HEALTH_RESERVE) {
    /* Full, but a health check still gets its answer (router_dispatch
     * serves only the health checks on such a connection, then closes it). */
    conn_refused(s, METRICS_REFUSED_MAX_CONNECTIONS);
    c->flags |= CF_OVERFLOW | CF_CLOSE_AFTER;
  } else if (s->n > s->cfg->max_connections || s->draining) {
    /* Over the limit: say so and close, rather than leave the client hanging. */
    if (!s->draining) conn_refused(s, METRICS_REFUSED_MAX_CONNECTIONS);
    c->state = CS_BUSY;
    c->flags |= CF_CLOSE_AFTER;
    c->start_ns = clock_mono_ns();
    c->resp.retry_after = 1;
    conn_respond_detail(c, HTTP_UNAVAILABLE,
                        s->draining ? "server is shutting down" : "too many connections");
    return 0;
  }
  conn_begin(c);
  return 0;
}
