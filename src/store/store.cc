/* store/store.cc: the seam. Picks the engine DATABASE_URL names and forwards
 * every operation through its table; holds what all engines share (the
 * generation, hooks, the idle callback, the typed page helpers). */
#include "store.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/engines.h"
#include "store/pending.h"
#include "store/pool.h"

store *store_open(uv_loop_t *loop, const config *cfg, char *err, size_t errlen) {
  if (cfg->db_engine == DB_ENGINE_POSTGRES) {
#ifdef HOOKD_WITH_POSTGRES
    return pg_open(loop, cfg, err, errlen);
#else
    snprintf(err, errlen, "this hookd was built without the PostgreSQL engine");
    return NULL;
#endif
  }
  return sq_open(loop, cfg, err, errlen);
}

int store_submit(store *st, const message *m, int64_t now_ms, store_submit_cb cb, void *arg) {
  return st->e->submit(st, m, now_ms, cb, arg);
}

int store_read_submit(store *st, store_read *r) {
  r->gen = st->generation;
  r->rc = 0;
  r->err[0] = 0;
  r->total = 0;
  r->nrows = 0;
  r->next = NULL;
  buf_reset(&r->arena);
  return st->e->read(st, r);
}

void store_read_free(store_read *r) {
  if (!r) return;
  buf_free(&r->arena);
  buf_free(&r->out);
  free(r->priv); /* the engine's job struct, allocated on first use */
  free(r);
}

int store_idle(const store *st) { return st->e->idle(st); }
void store_shutdown(store *st) { st->e->shutdown(st); }
const char *store_write_unready(const store *st, int64_t now_ms, char *why, size_t whylen) {
  if (!st->write_fail_ms || now_ms - st->write_fail_ms > STORE_FAIL_WINDOW_MS) return NULL;
  snprintf(why, whylen, "writes failing: %s", st->write_err);
  return why;
}

void store_expire(store *st) {
  if (st->writes && st->writes->head) {
    store_queue_fail_all(st->writes, NULL, STORE_BUSY, "shutting down");
    store_notify_idle(st);
  }
  if (st->reads) store_pool_expire(st->reads);
}
void store_close(store *st) {
  if (st) st->e->close(st);
}

void store_set_idle_cb(store *st, void (*cb)(void *), void *arg) {
  st->idle_cb = cb;
  st->idle_arg = arg;
}

void store_set_hooks(store *st, const store_hooks *h) { st->hooks = *h; }

void store_gauges_get(const store *st, store_gauges *g) {
  memset(g, 0, sizeof(*g));
  g->index_lag_rows = -1;
  g->db_errors = st->db_errors;
  st->e->gauges(st, g);
}

const char *store_unready(const store *st, int64_t now_ms) { return st->e->unready(st, now_ms); }
const char *const *store_files(const store *st) { return st->e->files(st); }
const char *store_engine_name(const store *st) { return st->e->name; }
uint64_t store_generation(const store *st) { return st->generation; }
int store_cacheable(const store *st) { return st->cacheable; }

void store_notify_idle(store *st) {
  if (st->idle_cb && st->e->idle(st)) st->idle_cb(st->idle_arg);
}

void store_batch_ended(store *st, int n, uint64_t duration_ns, int ok, int created,
                       const char *err) {
  if (st->hooks.commit) st->hooks.commit(n, duration_ns, ok);
  if (ok) {
    if (created) st->generation++;
    st->write_fail_ms = 0;
    return;
  }
  st->db_errors++;
  st->write_fail_ms = clock_wall_ms();
  snprintf(st->write_err, sizeof(st->write_err), "%s", err);
}

/* Rows are copied into the arena, which may move while it grows: until
 * store_read_finish, each str's base holds its offset into the arena. */
void store_row_add(store_read *r, const str f[5], int has_text) {
  if (r->nrows >= STORE_MAX_LIMIT) return;
  str *out[5] = {&r->rows[r->nrows].message_id, &r->rows[r->nrows].from, &r->rows[r->nrows].to,
                 &r->rows[r->nrows].ts, &r->rows[r->nrows].text};
  for (int i = 0; i < 5; i++) {
    out[i]->base = (const char *)(uintptr_t)r->arena.len;
    out[i]->len = f[i].len;
    if (f[i].len) buf_append(&r->arena, f[i].base, f[i].len);
  }
  if (!has_text) out[4]->len = SIZE_MAX; /* marks null until fixed */
  r->nrows++;
}

static void rows_fix(store_read *r) {
  for (int i = 0; i < r->nrows; i++) {
    str *f[5] = {&r->rows[i].message_id, &r->rows[i].from, &r->rows[i].to, &r->rows[i].ts,
                 &r->rows[i].text};
    for (int k = 0; k < 5; k++) {
      if (k == 4 && f[k]->len == SIZE_MAX) {
        f[k]->base = NULL;
        f[k]->len = 0;
        continue;
      }
      f[k]->base = r->arena.data ? r->arena.data + (uintptr_t)f[k]->base : "";
    }
  }
}

int store_read_finish(store_read *r) {
  rows_fix(r);
  if (r->arena.oom) {
    snprintf(r->err, sizeof(r->err), "out of memory");
    r->rc = STORE_BUSY;
    return 0;
  }
  if (!r->render) return 0;
  r->render(r);
  if (r->out.oom) { /* never a cut body, nor one kept in a cache */
    snprintf(r->err, sizeof(r->err), "out of memory");
    r->rc = STORE_BUSY;
    return 0;
  }
  return 1;
}
