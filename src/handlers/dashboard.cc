/* handlers/dashboard.cc: the console's page and its assets, embedded at
 * build time (static/, scripts/embed.cc): nothing is read from disk.
 *   GET / and GET /ui   static/index.html
 *   GET /ui/app.js      static/app.js
 *   GET /favicon.ico    static/favicon.svg (an SVG icon; browsers take it) */
#include "conn.h"
#include "handlers.h"
#include "routes.h"

#include "dashboard_assets.h"

void handle_dashboard(conn *c) {
  const unsigned char *body = index_html;
  unsigned long len = index_html_len;
  c->resp.content_type = "text/html; charset=utf-8";
  c->resp.cache = "no-cache";
  if (c->route == ROUTE_APP_JS) {
    body = app_js;
    len = app_js_len;
    c->resp.content_type = "text/javascript; charset=utf-8";
  } else if (c->route == ROUTE_FAVICON) {
    body = favicon_svg;
    len = favicon_svg_len;
    c->resp.content_type = "image/svg+xml";
    c->resp.cache = "max-age=86400";
  }
  conn_respond_static(c, HTTP_OK, body, len);
}
