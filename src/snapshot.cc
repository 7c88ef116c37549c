/* snapshot.cc: the object the console shows once a second (see snapshot.h). */
#include "snapshot.h"

#include "clock.h"
#include "history.h"
#include "metrics.h"
#include "rejections.h"
#include "server.h"
#include "store.h"

void snapshot_json(buf *b, const server *s, const snapshot_feed *f, int history_n) {
  uint64_t r2, r4, r5, rc;
  history_totals(&r2, &r4, &r5, &rc);
  buf_puts(b, "{\"t\":");
  buf_put_i64(b, clock_wall_ms());
  buf_puts(b, ",\"started\":");
  buf_put_i64(b, s->started_ms);
  buf_puts(b, ",\"version\":\"" HOOKD_VERSION "\",\"connections\":");
  buf_put_u64(b, s->conns.n);
  buf_puts(b, ",\"subscribers\":");
  buf_put_u64(b, f->subscribers);
  buf_puts(b, ",\"max_subscribers\":");
  buf_put_u64(b, s->cfg->events_max_subscribers);
  buf_puts(b, ",\"subscribers_dropped\":");
  buf_put_u64(b, f->dropped);
  store_gauges g;
  store_gauges_get(s->st, &g);
  buf_puts(b, ",\"queue_depth\":");
  buf_put_u64(b, g.queue_depth);
  buf_puts(b, ",\"index_lag\":");
  buf_put_i64(b, g.index_lag_rows);
  buf_puts(b, ",\"in_flight\":");
  buf_put_i64(b, metrics_inflight_now());
  buf_puts(b, ",\"webhooks\":{");
  for (int r = 0; r < WH_COUNT; r++) {
    if (r) buf_putc(b, ',');
    json_put_cstr(b, webhook_result_label(r));
    buf_putc(b, ':');
    buf_put_u64(b, metrics_webhook_count(r));
  }
  buf_puts(b, "},\"requests\":{\"2xx\":");
  buf_put_u64(b, r2);
  buf_puts(b, ",\"4xx\":");
  buf_put_u64(b, r4);
  buf_puts(b, ",\"5xx\":");
  buf_put_u64(b, r5);
  buf_puts(b, ",\"console\":");
  buf_put_u64(b, rc);
  buf_puts(b, "},\"rejections_total\":");
  buf_put_u64(b, rejections_total());
  buf_puts(b, ",\"last_event_id\":");
  json_put_opt(b, f->last_id_len ? f->last_id : NULL, f->last_id_len);
  buf_putc(b, ',');
  history_json(b, history_n);
  buf_putc(b, '}');
}
