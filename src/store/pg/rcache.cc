/* store/pg/rcache.cc: rendered read answers, validated against the
 * database's change stamp before every use (worker threads).
 *
 * Other hosts write to the same database, so the loop's generation cache
 * (cache.h) cannot tag a read here. Instead every statement that inserts or
 * deletes rows adds 1 to its shard's hookd_totals.v (the count trigger, in
 * the same transaction), so sum(v) grows with every committed change made
 * while the triggers fire (schema.cc says when they do not). A
 * read first asks for sum(v) (one tiny query); an answer rendered by a read
 * that started after the same sum was seen is served as is; otherwise the
 * read runs and its answer is stored under the sum it saw first. A stored
 * answer therefore reflects at least every change committed before its
 * stamp, and any commit (a 200 on any host) moves the stamp: read-your-
 * writes holds on every host.
 *
 * Direct-mapped by a hash of the request's key, PG_RCACHE_SLOTS entries of
 * at most PG_RCACHE_MAX_BODY bytes; one mutex (entries are copied in and
 * out under it). */
#include <stdlib.h>
#include <string.h>

#include "pg.h"

/* The read's identity: kind and every query field that shapes the answer. */
static void make_key(const store_read *r, buf *k) {
  const store_query *q = &r->query;
  buf_reset(k);
  buf_putc(k, r->kind == STORE_READ_STATS ? 's' : 'm');
  if (r->kind != STORE_READ_MESSAGES) return;
  buf_put_i64(k, q->limit);
  buf_putc(k, ',');
  buf_put_i64(k, q->offset);
  buf_putc(k, q->desc ? 'd' : 'a');
  buf_putc(k, q->has_from ? 'f' : '-');
  buf_append(k, q->from, q->has_from ? q->from_len : 0);
  buf_putc(k, 0);
  buf_putc(k, q->has_since ? 's' : '-');
  buf_append(k, q->since_key, q->has_since ? q->since_len : 0);
  buf_putc(k, 0);
  buf_append(k, q->q, q->q_len);
}

static uint32_t hash(const buf *k) {
  uint32_t h = 2166136261u; /* FNV-1a */
  for (size_t i = 0; i < k->len; i++) h = (h ^ (uint8_t)k->data[i]) * 16777619u;
  return h;
}

int pg_rcache_init(pg_rcache *c) { return uv_mutex_init(&c->lock); }

void pg_rcache_free(pg_rcache *c) {
  for (int i = 0; i < PG_RCACHE_SLOTS; i++) {
    buf_free(&c->slots[i].key);
    buf_free(&c->slots[i].body);
  }
  uv_mutex_destroy(&c->lock);
}

int pg_rcache_get(pg_rcache *c, const store_read *r, int64_t stamp, buf *scratch, buf *out) {
  make_key(r, scratch);
  if (scratch->oom) return 0;
  pg_rcache_slot *s = &c->slots[hash(scratch) % PG_RCACHE_SLOTS];
  int hit = 0;
  uv_mutex_lock(&c->lock);
  if (s->used && s->stamp == stamp && s->key.len == scratch->len &&
      !memcmp(s->key.data, scratch->data, scratch->len)) {
    buf_reset(out);
    buf_append(out, s->body.data, s->body.len);
    hit = !out->oom;
  }
  uv_mutex_unlock(&c->lock);
  return hit;
}

void pg_rcache_put(pg_rcache *c, const store_read *r, int64_t stamp, buf *scratch,
                   const buf *body) {
  if (body->len > PG_RCACHE_MAX_BODY || body->oom) return;
  make_key(r, scratch);
  if (scratch->oom) return;
  pg_rcache_slot *s = &c->slots[hash(scratch) % PG_RCACHE_SLOTS];
  uv_mutex_lock(&c->lock);
  /* Never replace a newer answer for the same key with an older one. */
  if (!(s->used && s->stamp > stamp && s->key.len == scratch->len &&
        !memcmp(s->key.data, scratch->data, scratch->len))) {
    buf_reset(&s->key);
    buf_append(&s->key, scratch->data, scratch->len);
    buf_reset(&s->body);
    buf_append(&s->body, body->data, body->len);
    s->stamp = stamp;
    s->used = !s->key.oom && !s->body.oom;
  }
  uv_mutex_unlock(&c->lock);
}
