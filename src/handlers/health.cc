/* handlers/health.cc: GET /health/live and GET /health/ready. */
#include <stdio.h>

#include "clock.h"
#include "conn.h"
#include "handlers.h"
#include "log.h"
#include "server.h"

void handle_live(conn *c) {
  static const char body[] = "{\"status\":\"alive\"}";
  conn_respond_static(c, HTTP_OK, body, sizeof(body) - 1);
}

static void not_ready(conn *c, const char *reason) {
  buf_reset(&c->out);
  buf_puts(&c->out, "{\"status\":\"not ready\",\"detail\":");
  json_put_cstr(&c->out, reason);
  buf_putc(&c->out, '}');
  conn_respond(c, HTTP_UNAVAILABLE);
}

static void on_ready_checked(store_read *r) {
  conn *c = (conn *)r->arg;
  if (r->rc == 0) {
    static const char body[] = "{\"status\":\"ready\"}";
    conn_respond_static(c, HTTP_OK, body, sizeof(body) - 1);
  } else {
    char reason[320];
    snprintf(reason, sizeof(reason), "database: %s", r->err);
    log_event(LOG_ERROR, "ready_check_failed", reason);
    not_ready(c, reason);
  }
  conn_release(c);
}

void handle_ready(conn *c) {
  server *s = c->srv;
  if (s->conns.draining) {
    not_ready(c, "shutting down");
    return;
  }
  if (!s->cfg->secrets) {
    not_ready(c, "webhook secret not configured");
    return;
  }
  const char *why = store_unready(s->st, clock_wall_ms());
  if (why) {
    char reason[320];
    snprintf(reason, sizeof(reason), "database: %s", why);
    not_ready(c, reason);
    return;
  }
  store_read *r = handle_job(c);
  if (!r) {
    not_ready(c, "out of memory");
    return;
  }
  r->kind = STORE_READ_READY;
  r->render = NULL;
  r->done = on_ready_checked;
  r->arg = c;
  if (handle_submit_read(c, r) != 0) not_ready(c, "database queue full");
}
