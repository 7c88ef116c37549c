/* cache.cc: direct-mapped response cache; see cache.h. */
#include "cache.h"

#include <stdlib.h>
#include <string.h>

struct cache_entry {
  int used;
  int route;
  uint64_t gen;
  buf key; /* the raw query string */
  buf body;
};

static cache_entry slots[CACHE_SLOTS];

static uint32_t hash(int route, str key) {
  uint32_t h = 2166136261u ^ (uint32_t)route; /* FNV-1a */
  for (size_t i = 0; i < key.len; i++) h = (h ^ (unsigned char)key.base[i]) * 16777619u;
  return h;
}

const buf *cache_get(int route, str key, uint64_t gen) {
  cache_entry *e = &slots[hash(route, key) % CACHE_SLOTS];
  if (!e->used || e->gen != gen || e->route != route || e->key.len != key.len ||
      (key.len && memcmp(e->key.data, key.base, key.len) != 0))
    return NULL;
  return &e->body;
}

void cache_put(int route, str key, uint64_t gen, const buf *body) {
  if (body->len > CACHE_MAX_BODY || body->oom) return;
  cache_entry *e = &slots[hash(route, key) % CACHE_SLOTS];
  buf_reset(&e->key);
  buf_reset(&e->body);
  buf_append(&e->key, key.base, key.len);
  buf_append(&e->body, body->data, body->len);
  e->used = !e->key.oom && !e->body.oom;
  e->route = route;
  e->gen = gen;
}

void cache_free(void) {
  for (int i = 0; i < CACHE_SLOTS; i++) {
    buf_free(&slots[i].key);
    buf_free(&slots[i].body);
    slots[i].used = 0;
  }
}
