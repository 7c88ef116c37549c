/* router.h: the route table and the policy applied to every request
 * before a handler runs (404, 405 with Allow). */
#ifndef HOOKD_ROUTER_H
#define HOOKD_ROUTER_H

#include "routes.h"

struct conn;

typedef void (*route_handler)(conn *c);


struct route {
  const char *path;      /* exact match on the path (query stripped) */
  unsigned methods;      /* bit (1 << llhttp_method_t) for each allowed method */
  const char *allow;     /* Allow header for 405 */
  route_handler handler;
};

extern const route router_table[ROUTE_COUNT];

/* Finds the route for the request on c and runs its handler, or answers
 * 404/405 itself. */
void router_dispatch(conn *c);
/* conn_set.on_answered: the console's accounting of an answered request
 * (history by result, the rejection ring for webhooks). */
void router_answered(conn *c, int status);
/* The route of the request on c (ROUTE_OTHER when unknown). */
int router_route_id(const conn *c);
/* Metrics label of a route id: its path, or "other". */
const char *router_label(int id);

#endif
