/* history.cc: per-second rings of the last hour (see history.h). */
#include "history.h"

#include <string.h>

#include "metrics.h"
#include "routes.h"

static struct {
  history_point ring[HISTORY_SECONDS];
  unsigned head;                          /* index of the newest closed point */
  unsigned n;                             /* closed points held */
  history_point cur;                      /* the second being counted */
  uint64_t lat_prev[METRICS_LAT_BUCKETS]; /* webhook latency buckets at the last tick */
  uint64_t total_2xx, total_4xx, total_5xx, total_console;
} g_h;

void history_response(int status, int webhook, int dup, int console) {
  history_point *p = &g_h.cur;
  if (console) {
    p->console++;
    g_h.total_console++;
    return;
  }
  uint32_t *cls = status < 400 ? &p->req_2xx : status < 500 ? &p->req_4xx : &p->req_5xx;
  uint64_t *total = status < 400 ? &g_h.total_2xx : status < 500 ? &g_h.total_4xx : &g_h.total_5xx;
  (*cls)++;
  (*total)++;
  if (!webhook) return;
  if (status != 200)
    p->rejected++;
  else if (dup == 1)
    p->duplicate++;
  else
    p->created++;
}

static void push(const history_point *p) {
  g_h.head = (g_h.head + 1) % HISTORY_SECONDS;
  g_h.ring[g_h.head] = *p;
  if (g_h.n < HISTORY_SECONDS) g_h.n++;
}

void history_tick(int64_t now_ms) {
  int64_t t = now_ms / 1000 - 1; /* the second that just ended */
  uint64_t now[METRICS_LAT_BUCKETS], delta[METRICS_LAT_BUCKETS];
  metrics_latency_buckets(ROUTE_WEBHOOK, now);
  for (int i = 0; i < METRICS_LAT_BUCKETS; i++) delta[i] = now[i] - g_h.lat_prev[i];
  memcpy(g_h.lat_prev, now, sizeof(now));
  history_point p = g_h.cur;
  memset(&g_h.cur, 0, sizeof(g_h.cur));
  p.p50_ms = (float)metrics_quantile(delta, 0.50);
  p.p99_ms = (float)metrics_quantile(delta, 0.99);
  if (g_h.n) {
    int64_t last = g_h.ring[g_h.head].t;
    if (t <= last) { /* a late or early tick: fold into the newest point */
      history_point *q = &g_h.ring[g_h.head];
      q->req_2xx += p.req_2xx, q->req_4xx += p.req_4xx, q->req_5xx += p.req_5xx;
      q->created += p.created, q->duplicate += p.duplicate, q->rejected += p.rejected;
      q->console += p.console;
      if (p.p50_ms > q->p50_ms) q->p50_ms = p.p50_ms;
      if (p.p99_ms > q->p99_ms) q->p99_ms = p.p99_ms;
      return;
    }
    /* The loop was stalled for whole seconds: those seconds saw nothing. */
    history_point gap;
    memset(&gap, 0, sizeof(gap));
    gap.p50_ms = gap.p99_ms = -1;
    int64_t from = last + 1;
    if (t - from > HISTORY_SECONDS) from = t - HISTORY_SECONDS;
    for (gap.t = from; gap.t < t; gap.t++) push(&gap);
  }
  p.t = t;
  push(&p);
}

static void series(buf *b, const char *name, int n, int first, size_t off, int is_float) {
  buf_putc(b, ',');
  json_put_cstr(b, name);
  buf_puts(b, ":[");
  for (int i = 0; i < n; i++) {
    const history_point *p = &g_h.ring[(unsigned)(first + i) % HISTORY_SECONDS];
    if (i) buf_putc(b, ',');
    if (is_float) {
      float v;
      memcpy(&v, (const char *)p + off, sizeof(v));
      if (v < 0)
        buf_puts(b, "null");
      else
        buf_put_double(b, v, 3);
    } else {
      uint32_t v;
      memcpy(&v, (const char *)p + off, sizeof(v));
      buf_put_u64(b, v);
    }
  }
  buf_putc(b, ']');
}

void history_json(buf *b, int n) {
  if (n > (int)g_h.n) n = (int)g_h.n;
  if (n < 0) n = 0;
  int first = (int)((g_h.head + HISTORY_SECONDS + 1 - (unsigned)n) % HISTORY_SECONDS);
  buf_puts(b, "\"history\":{\"step_s\":1,\"end\":");
  buf_put_i64(b, g_h.n ? g_h.ring[g_h.head].t : 0);
  buf_puts(b, ",\"n\":");
  buf_put_i64(b, n);
#define S(field, f) series(b, #field, n, first, offsetof(history_point, field), f)
  S(req_2xx, 0);
  S(req_4xx, 0);
  S(req_5xx, 0);
  S(created, 0);
  S(duplicate, 0);
  S(rejected, 0);
  S(console, 0);
  S(p50_ms, 1);
  S(p99_ms, 1);
#undef S
  buf_putc(b, '}');
}

void history_totals(uint64_t *req_2xx, uint64_t *req_4xx, uint64_t *req_5xx, uint64_t *console) {
  *req_2xx = g_h.total_2xx;
  *req_4xx = g_h.total_4xx;
  *req_5xx = g_h.total_5xx;
  *console = g_h.total_console;
}
