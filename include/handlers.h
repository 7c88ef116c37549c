/* handlers.h: one endpoint family per file under src/handlers/.
 * A handler gets a complete request on c and must answer exactly once,
 * through conn_respond (now, or from its job's completion callback). */
#ifndef HOOKD_HANDLERS_H
#define HOOKD_HANDLERS_H

#include "store.h"

struct conn;

/* Shared by the read endpoints (handlers/read.cc). */
/* The connection's read job, made on first use (NULL: out of memory). */
store_read *handle_job(conn *c);
/* Answers from the response cache, or runs r (kind and query filled in)
 * on the store with `render` building the body on the worker. */
void handle_read(conn *c, store_read *r, store_render_fn render);
/* Submits r holding c until r->done (which must conn_release). 0 or a
 * store_refusal (nothing held). */
int handle_submit_read(conn *c, store_read *r);
/* 503 + Retry-After for a store_refusal. */
void handle_refused(conn *c, int refusal);

void handle_webhook(conn *c);  /* handlers/webhook.cc */
void handle_messages(conn *c); /* handlers/messages.cc */
/* GET /messages' parameters into q; every problem goes to errs (422).
 * Exposed for the fuzz target (tests/fuzz/fuzz_query.cc). */
void messages_parse_query(str qs, store_query *q, msg_errors *errs);
void handle_stats(conn *c);      /* handlers/stats.cc */
void handle_live(conn *c);       /* handlers/health.cc */
void handle_ready(conn *c);      /* handlers/health.cc */
void handle_metrics(conn *c);    /* handlers/metrics.cc */
void handle_dashboard(conn *c);  /* handlers/dashboard.cc: /, /ui and assets */
void handle_events(conn *c);     /* handlers/events.cc: GET /events (SSE) */
void handle_snapshot(conn *c);   /* handlers/events.cc */
void handle_rejections(conn *c); /* handlers/events.cc */

#endif
