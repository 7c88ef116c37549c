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

/* Looks up one query parameter (its last occurrence), decoded into out.
 * Returns the length, -1 when absent, -2 when malformed. */
static long query_param(conn *c, const char *name, char *out, size_t cap) {
  str qs = http_req_query(&c->req), key, val;
  long found = -1;
  char k[32];
  while (query_next(&qs, &key, &val)) {
    long kl = query_decode(key, 1, k, sizeof(k));
    if (kl < 0 || (size_t)kl != strlen(name) || memcmp(k, name, (size_t)kl) != 0) continue;
    found = query_decode(val, 1, out, cap);
    if (found < 0) found = -2;
  }
  return found;
}

/* Parses an integer in [lo, hi] from parameter name; def when absent. */
static int int_param(conn *c, const char *name, long lo, long hi, long def, long *out,
                     msg_errors *errs) {
  char v[24];
  long n = query_param(c, name, v, sizeof(v));
  *out = def;
  if (n == -1) return 0;
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

static void answer_errors(conn *c, const msg_errors *errs) {
  buf_reset(&c->out);
  msg_errors_json(errs, &c->out);
  conn_respond(c, HTTP_UNPROCESSABLE);
}

void handle_events(conn *c) {
  /* Last-Event-ID: the header (EventSource's reconnect), else the query
   * parameter of the same name (a client that reconnects by itself). */
  char qid[HTTP_MAX_EVENT_ID];
  str last = {c->req.last_event_id, c->req.last_event_id_len};
  if (!last.len) {
    long n = query_param(c, "last_event_id", qid, sizeof(qid));
    if (n > 0) last = str{qid, (size_t)n};
  }
  if (events_subscribe(c, last) != 0) {
    c->resp.retry_after = 5;
    conn_respond_detail(c, HTTP_UNAVAILABLE, "too many event subscribers");
  }
}

void handle_snapshot(conn *c) {
  msg_errors errs;
  errs.n = 0;
  long hist, limit;
  char after[HTTP_MAX_EVENT_ID];
  long alen = query_param(c, "after", after, sizeof(after));
  if (alen == -2) msg_errors_add(&errs, "query", "after", "not an event id", "value_error");
  int_param(c, "history", 0, HISTORY_SECONDS, HISTORY_SECONDS, &hist, &errs);
  int_param(c, "limit", 0, RECENT_MAX, 50, &limit, &errs);
  if (errs.n) {
    answer_errors(c, &errs);
    return;
  }
  buf *b = &c->out;
  buf_reset(b);
  events_snapshot_json(b, (int)hist);
  b->len--; /* reopen the object for the recent messages */
  buf_putc(b, ',');
  events_recent_json(b, str{after, alen > 0 ? (size_t)alen : 0}, (int)limit);
  buf_putc(b, '}');
  c->resp.cache = "no-store";
  conn_respond(c, b->oom ? HTTP_INTERNAL_ERROR : HTTP_OK);
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
  c->resp.cache = "no-store";
  conn_respond(c, HTTP_OK);
}
