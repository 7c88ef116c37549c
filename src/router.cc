/* router.cc: the static route table and the policy every request passes
 * before its handler: 404, 405, then the route's auth class (401, or 503
 * for webhooks without a secret). Authentication happens here and only
 * here; handlers run only for requests that passed. */
#include "router.h"

#include <string.h>

#include "auth.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "handlers.h"
#include "history.h"
#include "metrics.h"
#include "query.h"
#include "rejections.h"
#include "server.h"

#define M(m) (1u << (m))

/* The console's page, script and icon are shells without data (the page
 * asks for a token and sends it with each data request), so they are open;
 * the data they read is not. EventSource cannot send headers: /events also
 * takes the token as ?access_token= (AUTH_READ_STREAM). */
constexpr route router_table[ROUTE_COUNT] = {
    /* ROUTE_WEBHOOK */ {"/webhook", M(HTTP_POST), "POST", AUTH_WEBHOOK, handle_webhook},
    /* ROUTE_MESSAGES */ {"/messages", M(HTTP_GET), "GET", AUTH_READ, handle_messages},
    /* ROUTE_STATS */ {"/stats", M(HTTP_GET), "GET", AUTH_READ, handle_stats},
    /* ROUTE_LIVE */ {"/health/live", M(HTTP_GET), "GET", AUTH_OPEN, handle_live},
    /* ROUTE_READY */ {"/health/ready", M(HTTP_GET), "GET", AUTH_OPEN, handle_ready},
    /* ROUTE_METRICS */ {"/metrics", M(HTTP_GET), "GET", AUTH_METRICS, handle_metrics},
    /* ROUTE_DASHBOARD */ {"/", M(HTTP_GET), "GET", AUTH_OPEN, handle_dashboard},
    /* ROUTE_UI */ {"/ui", M(HTTP_GET), "GET", AUTH_OPEN, handle_dashboard},
    /* ROUTE_APP_JS */ {"/ui/app.js", M(HTTP_GET), "GET", AUTH_OPEN, handle_dashboard},
    /* ROUTE_FAVICON */ {"/favicon.ico", M(HTTP_GET), "GET", AUTH_OPEN, handle_dashboard},
    /* ROUTE_EVENTS */ {"/events", M(HTTP_GET), "GET", AUTH_READ_STREAM, handle_events},
    /* ROUTE_SNAPSHOT */ {"/snapshot", M(HTTP_GET), "GET", AUTH_READ, handle_snapshot},
    /* ROUTE_REJECTIONS */ {"/rejections", M(HTTP_GET), "GET", AUTH_READ, handle_rejections},
};

static constexpr bool every_route_has_a_policy(const route *t, int n) {
  for (int i = 0; i < n; i++)
    if (t[i].auth == AUTH_UNSET || !t[i].methods) return false;
  return true;
}
static_assert(every_route_has_a_policy(router_table, ROUTE_COUNT),
              "every route names its methods and its auth class");

int router_route_id(const conn *c) {
  str path = http_req_path(&c->req);
  for (int i = 0; i < ROUTE_COUNT; i++) {
    const char *p = router_table[i].path;
    if (strlen(p) == path.len && memcmp(p, path.base, path.len) == 0) return i;
  }
  return ROUTE_OTHER;
}

/* ---- Authentication --------------------------------------------------- */

static auth_hdr header(const http_req *r, int hdr) {
  auth_hdr h;
  switch (http_req_header(r, hdr, &h.v)) {
    case HV_PRESENT: h.state = AUTH_HDR_PRESENT; break;
    case HV_DUPLICATE: h.state = AUTH_HDR_DUPLICATE; break;
    case HV_TOO_LONG: h.state = AUTH_HDR_TOO_LONG; break;
    default: h.state = AUTH_HDR_ABSENT;
  }
  return h;
}

static void webhook_refused(conn *c, int result, int status, const char *detail) {
  c->log.result = webhook_result_label(result);
  metrics_webhook(result);
  conn_respond_detail(c, status, detail);
}

/* Every failure is the same 401: which header or secret failed is only
 * counted (hookd_signature_failures_total), never told. */
static int check_webhook(conn *c) {
  const config *cfg = c->srv->cfg;
  if (!cfg->secrets) {
    webhook_refused(c, WH_NOT_CONFIGURED, HTTP_UNAVAILABLE, "webhook secret not configured");
    return -1;
  }
  const http_req *r = &c->req;
  auth_sig_headers h = {header(r, HDR_SIGNATURE), header(r, HDR_HUB_SIGNATURE),
                        header(r, HDR_WEBHOOK_ID), header(r, HDR_WEBHOOK_TIMESTAMP),
                        header(r, HDR_WEBHOOK_SIGNATURE)};
  auth_webhook_cfg wc = {cfg->sig_schemes, cfg->sig_tolerance_s, cfg->secrets};
  int why = auth_webhook_verify(&wc, &h, r->body.data, r->body.len, clock_wall_ms() / 1000);
  if (why == AUTH_SIG_OK) return 0;
  metrics_sig_failure(why);
  webhook_refused(c, WH_INVALID_SIGNATURE, HTTP_UNAUTHORIZED, "invalid signature");
  return -1;
}

/* ?access_token=<token> (once, percent-decoded), for streams only: a URL
 * is more exposed than a header (hookd logs paths without the query). */
static int query_token(const conn *c, const auth_tokens *tokens, const auth_jwt_cfg *jwt,
                       int64_t now) {
  char dec[HTTP_MAX_AUTHORIZATION];
  int count;
  long n = query_find(http_req_query(&c->req), "access_token", 0, dec, sizeof(dec), &count);
  if (n == QUERY_ABSENT) return AUTH_TOKEN_MISSING;
  if (n < 0 || count > 1) return AUTH_TOKEN_MALFORMED; /* a bad escape, or repeated */
  return auth_token_check(tokens, jwt, str{dec, (size_t)n}, now);
}

/* Bearer credentials (RFC 6750): no credential gets a bare challenge, a
 * wrong one error="invalid_token". Tokens are never logged. */
static int check_bearer(conn *c, int route_auth) {
  const config *cfg = c->srv->cfg;
  const auth_tokens *tokens;
  auth_jwt_cfg jc = {};
  int cls;
  if (route_auth == AUTH_METRICS) {
    if (!cfg->metrics_token) return 0;
    tokens = cfg->metrics_token;
    cls = METRICS_TOKEN_METRICS;
  } else {
    if (!config_reads_protected(cfg)) return 0;
    tokens = cfg->read_tokens;
    cls = METRICS_TOKEN_READ;
    jc = auth_jwt_cfg{cfg->jwt_secret, cfg->jwt_secret_len, cfg->jwt_issuer, cfg->jwt_audience,
                      cfg->jwt_leeway_s};
  }
  auth_hdr a = header(&c->req, HDR_AUTHORIZATION);
  int64_t now = clock_wall_ms() / 1000;
  int why = route_auth == AUTH_READ_STREAM && a.state == AUTH_HDR_ABSENT
                ? query_token(c, tokens, &jc, now)
                : auth_bearer_check(tokens, &jc, &a, now);
  if (why == AUTH_TOKEN_OK) return 0;
  metrics_token_failure(cls, why);
  int missing = why == AUTH_TOKEN_MISSING;
  c->resp.www_auth =
      missing ? "Bearer realm=\"hookd\"" : "Bearer realm=\"hookd\", error=\"invalid_token\"";
  conn_respond_detail(c, HTTP_UNAUTHORIZED, missing ? "not authenticated" : "invalid token");
  return -1;
}

/* 0: go on to the handler; -1: answered here. */
static int authorize(conn *c, int route_auth) {
  switch (route_auth) {
    case AUTH_OPEN: return 0;
    case AUTH_WEBHOOK: return check_webhook(c);
    case AUTH_READ:
    case AUTH_READ_STREAM:
    case AUTH_METRICS: return check_bearer(c, route_auth);
  }
  conn_respond_detail(c, HTTP_INTERNAL_ERROR, "route without an auth policy");
  return -1;
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
  if (authorize(c, r->auth) != 0) return;
  r->handler(c);
}

/* The console's own requests (the page, its stream and its reads, which
 * send X-Request-ID: console-...) are not traffic on the console's charts.
 * The tag is the client's word, so it never hides a webhook or an error. */
static int console_request(const conn *c, int status) {
  static const char tag[] = "console-";
  if (c->route == ROUTE_WEBHOOK || status >= 400) return 0;
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
  history_response(status, c->route == ROUTE_WEBHOOK, c->log.dup, console_request(c, status));
  if (c->route == ROUTE_WEBHOOK && status != HTTP_OK) rejections_record(c, status);
}
