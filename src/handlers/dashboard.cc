/* handlers/dashboard.cc: GET / serves the live dashboard, a single page
 * (static/index.html, embedded at build time) that polls /stats, /messages,
 * /health/ready and /metrics. */
#include "conn.h"
#include "handlers.h"

#include "dashboard_html.h"

void handle_dashboard(conn *c) {
  buf_reset(&c->out);
  buf_append(&c->out, dashboard_html, dashboard_html_len);
  c->resp.content_type = "text/html; charset=utf-8";
  c->resp.cache = "no-cache";
  conn_respond(c, HTTP_OK);
}
