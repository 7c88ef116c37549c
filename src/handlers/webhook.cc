/* handlers/webhook.cc: POST /webhook.
 *
 * Order matters: the router's policy has already checked that a secret is
 * configured and the signature over the raw bytes (router.cc); here (1)
 * JSON validation, (2) queued for the next group commit; the answer is
 * sent from the commit callback, after the transaction is durable. */
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "events.h"
#include "handlers.h"
#include "log.h"
#include "message.h"
#include "metrics.h"
#include "server.h"

static void respond_ok(conn *c) {
  static const char body[] = "{\"status\":\"ok\"}";
  conn_respond_static(c, HTTP_OK, body, sizeof(body) - 1);
}

static void set_result(conn *c, int result) {
  c->log.result = webhook_result_label(result);
  metrics_webhook(result);
}

static void remember_message_id(conn *c, str mid) {
  if (!mid.base) return;
  size_t n = utf8_truncate(mid.base, mid.len, LOG_MAX_MESSAGE_ID);
  memcpy(c->log.mid, mid.base, n);
  c->log.mid_len = (uint32_t)n;
  c->log.has_mid = 1;
}

/* Commit callback (loop thread): the batch holding this message is done. */
static void on_stored(void *arg, int result, const char *err) {
  conn *c = (conn *)arg;
  metrics_inflight(-1);
  if (result == STORE_CREATED || result == STORE_DUPLICATE) {
    c->log.dup = result == STORE_DUPLICATE;
    set_result(c, result == STORE_CREATED ? WH_CREATED : WH_DUPLICATE);
    if (result == STORE_CREATED) events_publish_message(&c->msg); /* durable now */
    respond_ok(c);
  } else {
    log_event(LOG_ERROR, "db_error", err ? err : "unknown");
    set_result(c, WH_DB_ERROR);
    if (result == STORE_BUSY) {
      c->resp.retry_after = 1;
      conn_respond_detail(c, HTTP_UNAVAILABLE, "database busy, retry later");
    } else {
      conn_respond_detail(c, HTTP_INTERNAL_ERROR, "database error");
    }
  }
  conn_release(c);
}

void handle_webhook(conn *c) {
  server *s = c->srv;
  http_req *r = &c->req;
  message m;
  msg_errors errs;
  if (message_parse(r->body.data, r->body.len, &m, &errs) != 0) {
    remember_message_id(c, m.message_id);
    set_result(c, WH_VALIDATION_ERROR);
    buf_reset(&c->out);
    msg_errors_json(&errs, &c->out);
    c->log.invalid = &errs; /* the console's rejection reason */
    conn_respond(c, HTTP_UNPROCESSABLE);
    c->log.invalid = NULL;
    return;
  }
  remember_message_id(c, m.message_id);
  c->msg = m; /* for the live console once it is committed (points into req.body) */
  /* During shutdown a request that was already arriving is still stored:
   * the server waits for the store to go idle before it stops. */
  /* Held before the submit: on_stored releases, whenever it runs. */
  conn_hold(c);
  metrics_inflight(1);
  int rc = store_submit(s->st, &m, clock_wall_ms(), on_stored, c);
  if (rc != 0) {
    metrics_inflight(-1);
    set_result(c, WH_OVERLOADED);
    handle_refused(c, rc);
    conn_release(c);
  }
}
