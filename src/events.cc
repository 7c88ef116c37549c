/* events.cc: subscribers, the resume ring and the 1 s tick (see events.h).
 *
 * A message event is formatted once into a shared chunk; every subscriber
 * queues a reference to it (stream.cc), so the cost of a slow subscriber is
 * a pointer per event until its queue bound drops it with an `event:
 * dropped` and a close. Memory: the ring (<= EVENTS_RING_BYTES, and at
 * least the newest event) plus, per subscriber, its conn and at most
 * STREAM_MAX_CHUNKS references. */
#include "events.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "history.h"
#include "server.h"
#include "snapshot.h"
#include "stream.h"

struct subscriber {
  conn *c;
  subscriber *prev, *next;
  int dropped; /* ending: no longer in the list, sends nothing more */
};

static struct {
  server *srv;
  uv_timer_t tick;
  int started;
  unsigned ticks;
  subscriber *subs;
  uint32_t nsubs;
  uint64_t seq;                    /* id of the newest message event */
  stream_chunk *ring[EVENTS_RING]; /* ring[(seq) % EVENTS_RING] */
  uint32_t ring_n;                 /* events held: seq - ring_n + 1 .. seq */
  size_t ring_bytes;
  uint64_t dropped; /* subscribers dropped for being slow */
  buf scratch;      /* formats message events */
} g_e;

static stream_chunk *chunk_of(const buf *b) {
  return b->oom ? NULL : stream_chunk_new(b->data, b->len);
}

/* Takes s out of the list (it stays allocated until its conn is freed). */
static void unlink_sub(subscriber *s) {
  if (s->prev)
    s->prev->next = s->next;
  else
    g_e.subs = s->next;
  if (s->next) s->next->prev = s->prev;
  s->prev = s->next = NULL;
  g_e.nsubs--;
}

static void drop(subscriber *s, const char *reason) {
  if (s->dropped) return;
  s->dropped = 1;
  unlink_sub(s);
  g_e.dropped++;
  buf b = {};
  buf_puts(&b, "event: dropped\ndata: {\"reason\":");
  json_put_cstr(&b, reason);
  buf_puts(&b, "}\n\n");
  stream_chunk *ch = chunk_of(&b);
  buf_free(&b);
  stream_end(s->c, ch);
  stream_chunk_unref(ch);
}

/* Sends ch to every live subscriber; a full queue drops that subscriber.
 * One whose conn is already closing is skipped: its close unlinks it, and
 * it was not slow. */
static void broadcast(stream_chunk *ch) {
  subscriber *next;
  for (subscriber *s = g_e.subs; s; s = next) {
    next = s->next; /* drop unlinks s */
    if (stream_send(s->c, ch) == STREAM_FULL)
      drop(s, "too slow: more events are waiting than one subscriber may hold");
  }
}

/* ---- Snapshot and tick ------------------------------------------------ */

static void put_id(buf *b, uint64_t seq) {
  buf_puts(b, g_e.srv->conns.rid_prefix);
  buf_putc(b, '-');
  buf_put_u64(b, seq);
}

void events_snapshot_json(buf *b, int history_n) {
  snapshot_feed f;
  f.subscribers = g_e.nsubs;
  f.dropped = g_e.dropped;
  f.last_id_len = 0;
  if (g_e.seq) {
    int n = snprintf(f.last_id, sizeof(f.last_id), "%s-%llu", g_e.srv->conns.rid_prefix,
                     (unsigned long long)g_e.seq);
    if (n > 0 && (size_t)n < sizeof(f.last_id)) f.last_id_len = (size_t)n;
  }
  snapshot_json(b, g_e.srv, &f, history_n);
}

static void on_tick(uv_timer_t *) {
  history_tick(clock_wall_ms());
  g_e.ticks++;
  if (!g_e.nsubs) return;
  buf b = {};
  buf_puts(&b, "event: snapshot\ndata: ");
  events_snapshot_json(&b, 1);
  buf_puts(&b, "\n\n");
  if (g_e.ticks % EVENTS_HEARTBEAT_S == 0) buf_puts(&b, ": heartbeat\n\n");
  stream_chunk *ch = chunk_of(&b);
  buf_free(&b);
  if (ch) broadcast(ch);
  stream_chunk_unref(ch);
}

int events_start(server *s) {
  g_e.srv = s;
  int rc = uv_timer_init(s->loop, &g_e.tick);
  if (rc == 0) rc = uv_timer_start(&g_e.tick, on_tick, 1000, 1000);
  if (rc == 0) g_e.started = 1;
  return rc;
}

static void free_ring(uv_handle_t *) {
  for (uint32_t i = 0; i < g_e.ring_n; i++)
    stream_chunk_unref(g_e.ring[(g_e.seq - i) % EVENTS_RING]);
  g_e.ring_n = 0;
  g_e.ring_bytes = 0;
  buf_free(&g_e.scratch);
}

void events_stop(void) {
  if (!g_e.started) return;
  g_e.started = 0;
  uv_close((uv_handle_t *)&g_e.tick, free_ring);
}

/* ---- Messages --------------------------------------------------------- */

void events_publish_message(const message *m) {
  if (!g_e.srv) return;
  uint64_t seq = g_e.seq + 1;
  char iso[CLOCK_ISO_LEN + 1];
  clock_iso_ms(clock_wall_ms(), iso);
  buf &b = g_e.scratch; /* reused: one exact-size allocation per event */
  buf_reset(&b);
  buf_puts(&b, "id: ");
  put_id(&b, seq);
  buf_puts(&b, "\nevent: message\ndata: ");
  size_t off = b.len;
  msg_json_open(&b, m->message_id, m->from, m->to, m->ts, m->text);
  buf_puts(&b, ",\"received_at\":");
  json_put_cstr(&b, iso);
  buf_putc(&b, '}');
  size_t part = b.len - off;
  buf_puts(&b, "\n\n");
  stream_chunk *ch = chunk_of(&b);
  if (!ch) return; /* out of memory: the live view misses it, the store has it */
  ch->part_off = (uint32_t)off;
  ch->part_len = (uint32_t)part;
  g_e.seq = seq;
  /* The ring: newest at seq % EVENTS_RING; evict by count and by bytes. */
  if (g_e.ring_n == EVENTS_RING) {
    stream_chunk *old = g_e.ring[seq % EVENTS_RING];
    g_e.ring_bytes -= old->len;
    stream_chunk_unref(old);
    g_e.ring_n--;
  }
  g_e.ring[seq % EVENTS_RING] = ch;
  g_e.ring_n++;
  g_e.ring_bytes += ch->len;
  while (g_e.ring_bytes > EVENTS_RING_BYTES && g_e.ring_n > 1) {
    stream_chunk *old = g_e.ring[(seq - g_e.ring_n + 1) % EVENTS_RING];
    g_e.ring_bytes -= old->len;
    stream_chunk_unref(old);
    g_e.ring_n--;
  }
  broadcast(ch);
}

/* Parses "<tag>-<seq>" of this process. 0 and *seq, or -1 when the id is
 * not one of ours (another process, or garbage). */
static int parse_id(str id, uint64_t *seq) {
  size_t tl = strlen(g_e.srv->conns.rid_prefix);
  if (id.len <= tl + 1 || id.len > tl + 1 + 19 ||
      memcmp(id.base, g_e.srv->conns.rid_prefix, tl) != 0 || id.base[tl] != '-')
    return -1;
  uint64_t v = 0;
  for (size_t i = tl + 1; i < id.len; i++) {
    if (id.base[i] < '0' || id.base[i] > '9') return -1;
    v = v * 10 + (uint64_t)(id.base[i] - '0');
  }
  if (v > g_e.seq) return -1;
  *seq = v;
  return 0;
}

/* First seq to send after `after`, or 0 when events after it were lost. */
static uint64_t resume_from(str after) {
  uint64_t last;
  if (parse_id(after, &last) != 0) return 0;
  uint64_t oldest = g_e.seq - g_e.ring_n + 1;
  return last + 1 >= oldest ? last + 1 : 0;
}

void events_recent_json(buf *b, str after, int limit) {
  uint64_t from;
  int reset = 0;
  if (after.len) {
    from = resume_from(after);
    if (!from) reset = 1, from = g_e.seq - g_e.ring_n + 1;
  } else {
    from = g_e.seq - g_e.ring_n + 1;
  }
  if (g_e.seq + 1 > from && g_e.seq + 1 - from > (uint64_t)limit) {
    from = g_e.seq + 1 - (uint64_t)limit;
    if (after.len) reset = 1; /* the newest `limit`: some after `after` are skipped */
  }
  buf_puts(b, "\"messages\":[");
  for (uint64_t s = from; s <= g_e.seq && g_e.ring_n; s++) {
    const stream_chunk *ch = g_e.ring[s % EVENTS_RING];
    if (s != from) buf_putc(b, ',');
    buf_puts(b, "{\"id\":\"");
    put_id(b, s);
    buf_puts(b, "\",\"message\":");
    buf_append(b, ch->data + ch->part_off, ch->part_len);
    buf_putc(b, '}');
  }
  buf_puts(b, reset ? "],\"reset\":true" : "],\"reset\":false");
}

/* ---- Subscribers ------------------------------------------------------ */

static void on_closed(conn *, void *arg) {
  subscriber *s = (subscriber *)arg;
  if (!s->dropped) unlink_sub(s);
  free(s);
}

int events_subscribe(conn *c, str last_id) {
  if (g_e.nsubs >= c->srv->cfg->events_max_subscribers) return EVENTS_E_FULL;
  subscriber *s = (subscriber *)calloc(1, sizeof(subscriber));
  if (!s) return EVENTS_E_NOMEM;
  if (stream_begin(c, "text/event-stream; charset=utf-8", on_closed, s) != 0) {
    free(s);
    return 0; /* c is closed */
  }
  s->c = c;
  s->next = g_e.subs;
  if (g_e.subs) g_e.subs->prev = s;
  g_e.subs = s;
  g_e.nsubs++;

  buf b = {};
  buf_puts(&b, "retry: ");
  buf_put_u64(&b, EVENTS_RETRY_MS);
  buf_puts(&b, "\n\n");
  int replayed = 0;
  if (last_id.len) {
    uint64_t from = resume_from(last_id);
    size_t bytes = 0;
    for (uint64_t q = from; from && q <= g_e.seq; q++) bytes += g_e.ring[q % EVENTS_RING]->len;
    if (from && bytes <= STREAM_MAX_BYTES / 2 && g_e.seq + 1 - from < STREAM_MAX_CHUNKS / 2) {
      replayed = 1;
    } else {
      buf_puts(&b,
               "event: reset\ndata: {\"reason\":\"events after Last-Event-ID are no longer "
               "kept: reload\"}\n\n");
    }
    if (replayed) {
      stream_chunk *head = chunk_of(&b);
      buf_reset(&b);
      if (head) stream_send(c, head);
      stream_chunk_unref(head);
      for (uint64_t q = from; q <= g_e.seq; q++) stream_send(c, g_e.ring[q % EVENTS_RING]);
    }
  }
  buf_puts(&b, "event: snapshot\ndata: ");
  events_snapshot_json(&b, 1);
  buf_puts(&b, "\n\n");
  stream_chunk *ch = chunk_of(&b);
  buf_free(&b);
  if (!ch || stream_send(c, ch) != 0) drop(s, "out of memory");
  stream_chunk_unref(ch);
  return 0;
}
