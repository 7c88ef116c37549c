/* handlers/events.cc: the console's API.
 *
 *   GET /events      Server-Sent Events: committed messages and a snapshot
 *                    every second (events.cc); 503 past EVENTS_MAX_SUBSCRIBERS.
 *   GET /snapshot    the same snapshot as JSON, with up to an hour of
 *                    per-second history and the recent messages (polling).
 *   GET /rejections  the last 100 rejected webhooks, newest first. */
#include <string.h>

#include "conn.h"
#include "events.h"
#include "handlers.h"
#include "history.h"
#include "message.h"
#include "query.h"
#include "rejections.h"
#include "server.h"

#define RECENT_MAX 100 /* messages in one /snapshot answer */

/* One query parameter (its last occurrence) decoded into out: the length,
 * QUERY_ABSENT or QUERY_BAD. */
static long query_param(conn *c, const char *name, char *out, size_t cap) {
  return query_find(http_req_query(&c->req), name, 1, out, cap, NULL);
}

/* Parses an integer in [lo, hi] from parameter name; def when absent. */
static int int_param(conn *c, const char *name, long lo, long hi, long def, long *out,
                     msg_errors *errs) {
  char v[24];
  long n = query_param(c, name, v, sizeof(v));
  *out = def;
  if (n == QUERY_ABSENT) return 0;
  long x = 0;
  int ok = n > 0;
  for (long i = 0; ok && i < n; i++) {
    if (v[i] < '0' || v[i] > '9' || x > hi)
      ok = 0;
    else
      x = x * 10 + (v[i] - '0');
  }
  if (!ok || x < lo || x > hi) {
    msg_errors_add(errs, "query", name, "must be an integer in the allowed range", "value_error");
    return -1;
  }
  *out = x;
  return 0;
}

/* Answers the JSON in c->out (conn_respond turns a body that ran out of
 * memory into 503). */
static void respond_json(conn *c) {
  c->resp.cache = "no-store";
  conn_respond(c, HTTP_OK);
}

static void answer_errors(conn *c, const msg_errors *errs) {
  buf_reset(&c->out);
  msg_errors_json(errs, &c->out);
  conn_respond(c, HTTP_UNPROCESSABLE);
}

void handle_events(conn *c) {
  /* Last-Event-ID: the header (EventSource's reconnect), else the query
   * parameter of the same name (a client that reconnects by itself). One
   * sent twice or too long resumes nothing. */
  char qid[HTTP_MAX_EVENT_ID];
  str last = {NULL, 0};
  if (http_req_header(&c->req, HDR_LAST_EVENT_ID, &last) != HV_PRESENT) last = str{NULL, 0};
  if (!last.len) {
    long n = query_param(c, "last_event_id", qid, sizeof(qid));
    if (n > 0) last = str{qid, (size_t)n};
  }
  int rc = events_subscribe(c, last);
  if (rc != 0) {
    c->resp.retry_after = 5;
    conn_respond_detail(
        c, HTTP_UNAVAILABLE,
        rc == EVENTS_E_FULL ? "too many event subscribers" : "out of memory, retry later");
  }
}

void handle_snapshot(conn *c) {
  msg_errors errs;
  errs.n = 0;
  long hist, limit;
  char after[HTTP_MAX_EVENT_ID];
  long alen = query_param(c, "after", after, sizeof(after));
  if (alen == QUERY_BAD) msg_errors_add(&errs, "query", "after", "not an event id", "value_error");
  int_param(c, "history", 0, HISTORY_SECONDS, HISTORY_SECONDS, &hist, &errs);
  int_param(c, "limit", 0, RECENT_MAX, 50, &limit, &errs);
  if (errs.n) {
    answer_errors(c, &errs);
    return;
  }
  buf *b = &c->out;
  buf_reset(b);
  events_snapshot_json(b, (int)hist);
  if (!b->oom) {
    b->len--; /* reopen the object for the recent messages */
    buf_putc(b, ',');
    events_recent_json(b, str{after, alen > 0 ? (size_t)alen : 0}, (int)limit);
    buf_putc(b, '}');
  }
  respond_json(c);
}

void handle_rejections(conn *c) {
  msg_errors errs;
  errs.n = 0;
  long limit;
  int_param(c, "limit", 0, REJECTIONS_MAX, REJECTIONS_MAX, &limit, &errs);
  if (errs.n) {
    answer_errors(c, &errs);
    return;
  }
  buf_reset(&c->out);
  rejections_json(&c->out, (int)limit);
  respond_json(c);
}
