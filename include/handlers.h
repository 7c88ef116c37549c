/* handlers.h: one endpoint family per file under src/handlers/.
 * A handler gets a complete request on c and must answer exactly once,
 * through conn_respond (now, or from its job's completion callback). */
#ifndef HOOKD_HANDLERS_H
#define HOOKD_HANDLERS_H

#include "store.h"

struct conn;

/* Shared by the read endpoints (handlers/read.cc): answers from the
 * response cache or runs `run` on a reader and caches its body. */
void handle_read(conn *c, store_read_fn run);

void handle_webhook(conn *c);   /* handlers/webhook.cc */
void handle_messages(conn *c);  /* handlers/messages.cc */
void handle_stats(conn *c);     /* handlers/stats.cc */
void handle_live(conn *c);      /* handlers/health.cc */
void handle_ready(conn *c);     /* handlers/health.cc */
void handle_metrics(conn *c);   /* handlers/metrics.cc */
void handle_dashboard(conn *c); /* handlers/dashboard.cc: /, /ui and assets */
void handle_events(conn *c);     /* handlers/events.cc: GET /events (SSE) */
void handle_snapshot(conn *c);   /* handlers/events.cc */
void handle_rejections(conn *c); /* handlers/events.cc */

#endif
