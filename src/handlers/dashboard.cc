/* handlers/dashboard.cc: GET / serves the live dashboard, a single page
 * (static/index.html, embedded at build time) that polls /stats, /messages,
 * /health/ready and /metrics. */
#include "conn.h"
#include "handlers.h"

#include "dashboard_html.h"

void handle_dashboard(conn *c) {
  c->resp.content_type = "text/html; charset=utf-8";
  c->resp.cache = "no-cache";
  conn_respond_body(c, HTTP_OK, dashboard_html, dashboard_html_len);
}
