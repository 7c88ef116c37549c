/* handlers/stats.cc: GET /stats. The store fills the figures (maintained
 * counts plus the not-yet-indexed tail); render_stats, on the worker,
 * writes the JSON body. */
#include <stdio.h>

#include "conn.h"
#include "handlers.h"

/* Worker thread. */
static void render_stats(store_read *r) {
  const store_stats *s = &r->stats;
  buf *b = &r->out;
  buf_reset(b);
  buf_puts(b, "{\"total_messages\":");
  buf_put_i64(b, s->total);
  buf_puts(b, ",\"senders_count\":");
  buf_put_i64(b, s->senders);
  buf_puts(b, ",\"messages_per_sender\":[");
  for (int i = 0; i < s->ntop; i++) {
    buf_puts(b, i ? ",{\"from\":" : "{\"from\":");
    json_put_str(b, s->top[i].from, s->top[i].from_len);
    buf_puts(b, ",\"count\":");
    buf_put_i64(b, s->top[i].n);
    buf_putc(b, '}');
  }
  buf_puts(b, "],\"first_message_ts\":");
  json_put_opt(b, s->first_len ? s->first_ts : NULL, s->first_len);
  buf_puts(b, ",\"last_message_ts\":");
  json_put_opt(b, s->last_len ? s->last_ts : NULL, s->last_len);
  buf_putc(b, '}');
}

void handle_stats(conn *c) {
  store_read *r = handle_job(c);
  if (!r) {
    handle_refused(c, STORE_E_NOMEM);
    return;
  }
  r->kind = STORE_READ_STATS;
  handle_read(c, r, render_stats);
}
