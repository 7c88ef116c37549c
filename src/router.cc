/* router.cc: static route table; 404 and 405 are decided here, once. */
#include "router.h"

#include <string.h>

#include "conn.h"
#include "handlers.h"
#include "history.h"
#include "rejections.h"

#define M(m) (1u << (m))

const route router_table[ROUTE_COUNT] = {
    /* ROUTE_WEBHOOK */ {"/webhook", M(HTTP_POST), "POST", handle_webhook},
    /* ROUTE_MESSAGES */ {"/messages", M(HTTP_GET), "GET", handle_messages},
    /* ROUTE_STATS */ {"/stats", M(HTTP_GET), "GET", handle_stats},
    /* ROUTE_LIVE */ {"/health/live", M(HTTP_GET), "GET", handle_live},
    /* ROUTE_READY */ {"/health/ready", M(HTTP_GET), "GET", handle_ready},
    /* ROUTE_METRICS */ {"/metrics", M(HTTP_GET), "GET", handle_metrics},
    /* ROUTE_DASHBOARD */ {"/", M(HTTP_GET), "GET", handle_dashboard},
    /* ROUTE_UI */ {"/ui", M(HTTP_GET), "GET", handle_dashboard},
    /* ROUTE_APP_JS */ {"/ui/app.js", M(HTTP_GET), "GET", handle_dashboard},
    /* ROUTE_FAVICON */ {"/favicon.ico", M(HTTP_GET), "GET", handle_dashboard},
    /* ROUTE_EVENTS */ {"/events", M(HTTP_GET), "GET", handle_events},
    /* ROUTE_SNAPSHOT */ {"/snapshot", M(HTTP_GET), "GET", handle_snapshot},
    /* ROUTE_REJECTIONS */ {"/rejections", M(HTTP_GET), "GET", handle_rejections},
};

int router_route_id(const conn *c) {
  str path = http_req_path(&c->req);
  for (int i = 0; i < ROUTE_COUNT; i++) {
    const char *p = router_table[i].path;
    if (strlen(p) == path.len && memcmp(p, path.base, path.len) == 0) return i;
  }
  return ROUTE_OTHER;
}

const char *router_label(int id) {
  return id >= 0 && id < ROUTE_COUNT ? router_table[id].path : "other";
}

void router_dispatch(conn *c) {
  int id = router_route_id(c);
  c->route = id;
  if ((c->flags & CF_OVERFLOW) && id != ROUTE_LIVE && id != ROUTE_READY) {
    /* Accepted past MAX_CONNECTIONS for health checks only. */
    c->resp.retry_after = 1;
    conn_respond_detail(c, HTTP_UNAVAILABLE, "too many connections");
    return;
  }
  if (id == ROUTE_OTHER) {
    conn_respond_detail(c, HTTP_NOT_FOUND, "not found");
    return;
  }
  const route *r = &router_table[id];
  if (!(r->methods & M(c->req.method))) {
    c->resp.allow = r->allow;
    conn_respond_detail(c, HTTP_METHOD_NOT_ALLOWED, "method not allowed");
    return;
  }
  r->handler(c);
}

/* The console's own requests (the page, its stream and its reads, which
 * send X-Request-ID: console-...) are not traffic on the console's charts. */
static int console_request(const conn *c) {
  static const char tag[] = "console-";
  if (c->route == ROUTE_EVENTS || c->route == ROUTE_SNAPSHOT || c->route == ROUTE_REJECTIONS ||
      c->route == ROUTE_DASHBOARD || c->route == ROUTE_UI || c->route == ROUTE_APP_JS ||
      c->route == ROUTE_FAVICON)
    return 1;
  return c->req.has_rid && !c->req.rid_bad && c->req.rid_len >= sizeof(tag) - 1 &&
         memcmp(c->req.rid, tag, sizeof(tag) - 1) == 0;
}

/* The log's `result` of a webhook answered before (or without) its handler
 * saying one: a fixed word per status, so every POST /webhook line has one. */
static const char *webhook_status_result(int status) {
  switch (status) {
    case HTTP_BAD_REQUEST: return "bad_request";
    case HTTP_METHOD_NOT_ALLOWED: return "method_not_allowed";
    case HTTP_REQUEST_TIMEOUT: return "timeout";
    case HTTP_PAYLOAD_TOO_LARGE: return "too_large";
    case HTTP_URI_TOO_LONG: return "uri_too_long";
    case HTTP_EXPECTATION_FAILED: return "expectation_failed";
    case HTTP_HEADERS_TOO_LARGE: return "headers_too_large";
    case HTTP_UNAVAILABLE: return "unavailable";
    case HTTP_VERSION_NOT_SUPPORTED: return "bad_version";
    default: return status >= 500 ? "error" : "rejected";
  }
}

void router_answered(conn *c, int status) {
  if (c->route == ROUTE_WEBHOOK) { /* every webhook line says dup and result */
    if (c->log.dup < 0) c->log.dup = 0;
    if (!c->log.result) c->log.result = webhook_status_result(status);
  }
  history_response(status, c->route == ROUTE_WEBHOOK, c->log.dup, console_request(c));
  if (c->route == ROUTE_WEBHOOK && status != HTTP_OK) rejections_record(c, status);
}
