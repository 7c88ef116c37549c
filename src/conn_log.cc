/* conn_log.cc: what identifies and records an answered request: its
 * request id (the client's X-Request-ID when sane, else a generated one)
 * and its one JSON log line. Part of the conn module; loop thread. */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "log.h"

/* Picks the request id: the client's when sane, else a generated one. */
void conn_assign_request_id(conn *c) {
  if (c->req.has_rid && !c->req.rid_bad && c->req.rid_len > 0) {
    memcpy(c->rid, c->req.rid, c->req.rid_len);
    c->rid_len = c->req.rid_len;
    return;
  }
  conn_set *s = c->set;
  int n =
      snprintf(c->rid, sizeof(c->rid), "%s-%llx", s->rid_prefix, (unsigned long long)++s->rid_seq);
  c->rid_len = (uint32_t)n;
}

void conn_log_request(conn *c, int status, double latency_ms) {
  int level = status >= 500 || status == 401 ? LOG_ERROR : status >= 400 ? LOG_WARN : LOG_INFO;
  buf *b = log_begin(level);
  if (!b) return;
  str path = http_req_path(&c->req);
  buf_puts(b, ",\"event\":\"request\",\"request_id\":");
  json_put_str(b, c->rid, c->rid_len);
  buf_puts(b, ",\"method\":");
  const char *method = c->req.headers_done ? http_method_name(c->req.method) : NULL;
  json_put_opt(b, method, method ? strlen(method) : 0);
  buf_puts(b, ",\"path\":");
  json_put_opt(b, c->req.url_len ? path.base : NULL, path.len);
  buf_puts(b, ",\"status\":");
  buf_put_u64(b, (uint64_t)status);
  buf_puts(b, ",\"latency_ms\":");
  buf_put_fixed3(b, latency_ms);
  if (c->log.has_mid) {
    buf_puts(b, ",\"message_id\":");
    json_put_str(b, c->log.mid, c->log.mid_len);
  }
  if (c->log.dup >= 0) buf_puts(b, c->log.dup ? ",\"dup\":true" : ",\"dup\":false");
  if (c->log.result) {
    buf_puts(b, ",\"result\":");
    json_put_cstr(b, c->log.result);
  }
  if (c->log.detail) {
    buf_puts(b, ",\"detail\":");
    json_put_cstr(b, c->log.detail);
  }
  log_end(b);
}
