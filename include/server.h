/* server.h: the listening socket, the set of connections, graceful shutdown.
 *
 * One server per process, owned by main and used on the loop thread only. */
#ifndef HOOKD_SERVER_H
#define HOOKD_SERVER_H

#include <stdint.h>
#include <uv.h>

#include "config.h"
#include "conn.h"
#include "http.h"

struct conn;
struct store;

struct server {
  uv_loop_t *loop;
  uv_tcp_t listener;
  uv_timer_t grace; /* shutdown deadline for in-flight work */
  config *cfg;      /* owned by main; the secret may be reloaded */
  conn_set conns;   /* the open connections, limits, routing (conn.h) */
  store *st;
  int port; /* the port actually bound */
  int listening;
  int stopped;                  /* on_stopped already called */
  int64_t started_ms;           /* wall clock at start */
  void (*on_stopped)(server *); /* every connection closed, store idle */
};

/* Binds and listens on cfg->host:cfg->port. 0, or -1 with err. */
int server_listen(server *s, char *err, size_t errlen);
/* Starts a graceful shutdown: close the listener and idle connections,
 * let in-flight requests finish (at most SHUTDOWN_GRACE_MS), then call
 * s->on_stopped once. */
void server_shutdown(server *s);
/* Called by conn when a connection is gone, and by store when idle. */
void server_check_stopped(server *s);

#endif
