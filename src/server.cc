/* server.cc: listening socket, accept, graceful shutdown. */
#include "server.h"

#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "store.h"

static void on_connection(uv_stream_t *listener, int status) {
  server *s = (server *)listener->data;
  if (status == UV_EMFILE || status == UV_ENFILE) {
    conn_refused(&s->conns, METRICS_REFUSED_DESCRIPTORS);
    return;
  }
  if (status < 0) {
    log_event(LOG_ERROR, "accept_failed", uv_strerror(status));
    return;
  }
  int rc = conn_accept(&s->conns, (uv_stream_t *)&s->listener, s);
  if (rc == UV_EMFILE || rc == UV_ENFILE)
    conn_refused(&s->conns, METRICS_REFUSED_DESCRIPTORS);
  else if (rc != 0 && rc != UV_ECONNABORTED)
    log_event(LOG_ERROR, "accept_failed", uv_strerror(rc));
}

int server_listen(server *s, char *err, size_t errlen) {
  struct sockaddr_storage addr;
  int rc;
  if (strchr(s->cfg->host, ':'))
    rc = uv_ip6_addr(s->cfg->host, s->cfg->port, (struct sockaddr_in6 *)&addr);
  else
    rc = uv_ip4_addr(s->cfg->host, s->cfg->port, (struct sockaddr_in *)&addr);
  if (rc != 0) {
    snprintf(err, errlen, "HOST: '%s' is not an IPv4 or IPv6 address", s->cfg->host);
    return -1;
  }
  rc = uv_tcp_init(s->loop, &s->listener);
  if (rc != 0) {
    snprintf(err, errlen, "cannot create the listening socket: %s", uv_strerror(rc));
    return -1;
  }
  s->listener.data = s;
  rc = uv_tcp_bind(&s->listener, (const struct sockaddr *)&addr, 0);
  if (rc == 0) rc = uv_listen((uv_stream_t *)&s->listener, 1024, on_connection);
  if (rc != 0) {
    snprintf(err, errlen, "PORT: cannot listen on %s:%d: %s", s->cfg->host, s->cfg->port,
             uv_strerror(rc));
    uv_close((uv_handle_t *)&s->listener, NULL);
    return -1;
  }
  struct sockaddr_storage bound;
  int len = sizeof(bound);
  rc = uv_tcp_getsockname(&s->listener, (struct sockaddr *)&bound, &len);
  if (rc == 0) rc = uv_timer_init(s->loop, &s->grace);
  if (rc != 0) {
    snprintf(err, errlen, "PORT: %s", uv_strerror(rc));
    uv_close((uv_handle_t *)&s->listener, NULL);
    return -1;
  }
  s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                              : ((struct sockaddr_in *)&bound)->sin_port);
  s->listening = 1;
  s->grace.data = s;
  return 0;
}

static void on_grace(uv_timer_t *t) {
  server *s = (server *)t->data;
  log_event(LOG_WARN, "shutdown_grace_expired", "closing connections with work in flight");
  store_expire(s->st);
  for (conn *c = s->conns.head; c; c = c->next) conn_close(c);
}

void server_shutdown(server *s) {
  if (s->conns.draining) return;
  s->conns.draining = 1;
  if (s->listening) {
    uv_close((uv_handle_t *)&s->listener, NULL);
    s->listening = 0;
  }
  conn *next;
  for (conn *c = s->conns.head; c; c = next) {
    next = c->next;
    conn_drain(c);
  }
  if (uv_timer_start(&s->grace, on_grace, SHUTDOWN_GRACE_MS, 0) != 0)
    log_event(LOG_WARN, "shutdown", "no grace timer: waiting for in-flight work unbounded");
  server_check_stopped(s);
}

void server_check_stopped(server *s) {
  if (!s->conns.draining || s->stopped || s->conns.n > 0 || !store_idle(s->st)) return;
  s->stopped = 1;
  uv_timer_stop(&s->grace);
  uv_close((uv_handle_t *)&s->grace, NULL);
  if (s->on_stopped) s->on_stopped(s);
}
