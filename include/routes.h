/* routes.h: the route ids, alone, so that modules which only label or
 * select by route (metrics labels, the console's history, the dashboard's
 * assets) need not include the router. The table is in router.cc. */
#ifndef HOOKD_ROUTES_H
#define HOOKD_ROUTES_H

enum route_id {
  ROUTE_WEBHOOK,
  ROUTE_MESSAGES,
  ROUTE_STATS,
  ROUTE_LIVE,
  ROUTE_READY,
  ROUTE_METRICS,
  ROUTE_DASHBOARD,
  ROUTE_UI, /* the console: page, script, icon, API */
  ROUTE_APP_JS,
  ROUTE_FAVICON,
  ROUTE_EVENTS,
  ROUTE_SNAPSHOT,
  ROUTE_REJECTIONS,
  ROUTE_COUNT,
  ROUTE_OTHER = ROUTE_COUNT, /* unknown paths, for metrics labels */
};

#endif
