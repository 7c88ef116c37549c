/* router.h: the route table and the policy applied to every request
 * before a handler runs: 404, 405 with Allow, and authentication (401, or
 * 503 when webhooks have no secret). Redis-command-table style: each row
 * names its methods and its auth class, and router_dispatch enforces them
 * in one place, so a handler cannot forget to. */
#ifndef HOOKD_ROUTER_H
#define HOOKD_ROUTER_H

#include "routes.h"

struct conn;

typedef void (*route_handler)(conn *c);

/* Who may call a route. 0 is deliberately not a class: a row that forgets
 * its class does not compile (static_assert in router.cc). */
enum route_auth {
  AUTH_UNSET = 0,
  AUTH_OPEN,    /* anyone: health probes, the dashboard page shell */
  AUTH_WEBHOOK, /* a valid signature under SIGNATURE_SCHEMES (503 without a secret) */
  AUTH_READ,    /* a read token or JWT, when READ_TOKENS* or JWT_SECRET is set */
  AUTH_METRICS, /* METRICS_TOKEN, when set */
  /* AUTH_READ, and without an Authorization header the token may come as
   * ?access_token= (RFC 6750 2.3), because EventSource cannot send headers. */
  AUTH_READ_STREAM,
};

struct route {
  const char *path;  /* exact match on the path (query stripped) */
  unsigned methods;  /* bit (1 << llhttp_method_t) for each allowed method */
  const char *allow; /* Allow header for 405 */
  int auth;          /* route_auth */
  route_handler handler;
};

extern const route router_table[ROUTE_COUNT];

/* Finds the route for the request on c, applies its policy, and runs its
 * handler, or answers 404/405/401/503 itself. */
void router_dispatch(conn *c);
/* conn_set.on_answered: the console's accounting of an answered request
 * (history by result, the rejection ring for webhooks). */
void router_answered(conn *c, int status);
/* The route of the request on c (ROUTE_OTHER when unknown). */
int router_route_id(const conn *c);

#endif
