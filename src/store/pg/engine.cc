/* store/pg/engine.cc: the PostgreSQL engine's table of operations; opening
 * (the URL is checked by libpq, then one connect + migration on the calling
 * thread), closing, readiness, and reconnecting with backoff while the
 * database is unreachable (hookd keeps serving 503s meanwhile). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"

static int pg_idle(const store *base) {
  const pg *st = (const pg *)base;
  return !st->batch_running && !st->q.head && store_pool_idle(&st->pool);
}

static void pg_shutdown(store *base) {
  pg *st = (pg *)base;
  if (st->shutting_down) return;
  st->shutting_down = 1;
  pg_writer_flush(st);
  if (st->retry_on) uv_timer_stop(&st->retry);
  st->retry_on = 0;
  uv_close((uv_handle_t *)&st->retry, NULL);
  uv_close((uv_handle_t *)&st->gather, NULL);
}

static void pg_close(store *base) {
  pg *st = (pg *)base;
  pg_readers_close(st);
  pg_writer_close(st);
  pg_rcache_free(&st->rcache);
  free(st);
}

static void pg_gauges(const store *base, store_gauges *g) {
  const pg *st = (const pg *)base;
  g->queue_depth = st->q.len;
}

static const char *pg_unready(const store *base, int64_t now_ms) {
  const pg *st = (const pg *)base;
  static char why[300]; /* loop thread only */
  if (!st->up) {
    snprintf(why, sizeof(why), "unreachable: %s", st->down_err[0] ? st->down_err : "connecting");
    return why;
  }
  return store_write_unready(base, now_ms, why, sizeof(why));
}

static const char *const *pg_files(const store *base) { return ((const pg *)base)->files; }

static const store_engine pg_engine = {
    "postgres", pg_submit, pg_read, pg_idle, pg_shutdown, pg_close, pg_gauges, pg_unready, pg_files,
};

static void on_retry(uv_timer_t *t) {
  pg *st = (pg *)t->data;
  st->retry_on = 0;
  pg_writer_reconnect(st);
}

void pg_engine_connected(pg *st, int ok, int busy, const char *err) {
  if (ok) {
    if (!st->up) log_event(LOG_INFO, "db_connected", st->base.url);
    st->up = 1;
    st->down_logged = 0;
    st->retry_ms = 0;
    st->down_err[0] = 0;
    st->base.write_fail_ms = 0;
    return;
  }
  if (st->up || !st->down_logged || strcmp(st->down_err, err))
    log_event(LOG_ERROR, "db_unreachable", err);
  st->down_logged = 1;
  st->up = 0;
  st->base.db_errors++;
  snprintf(st->down_err, sizeof(st->down_err), "%s%s", busy ? "" : "refused: ", err);
  if (st->shutting_down || st->retry_on) return;
  st->retry_ms = st->retry_ms ? st->retry_ms * 2 : PG_RETRY_MIN_MS;
  if (st->retry_ms > PG_RETRY_MAX_MS) st->retry_ms = PG_RETRY_MAX_MS;
  if (uv_timer_start(&st->retry, on_retry, (uint64_t)st->retry_ms, 0) == 0) st->retry_on = 1;
}

/* The URL for logs: the password (user:password@) replaced by ***. */
static void url_for_logs(const char *url, char *out, size_t outlen) {
  const char *auth = strstr(url, "://");
  auth = auth ? auth + 3 : url;
  const char *end = auth + strcspn(auth, "/?");
  const char *at = NULL;
  for (const char *p = auth; p < end; p++)
    if (*p == '@') at = p;
  const char *colon = at ? (const char *)memchr(auth, ':', (size_t)(at - auth)) : NULL;
  if (!colon) {
    snprintf(out, outlen, "%s", url);
    return;
  }
  /* Truncation only shortens a log line. */
  int n = snprintf(out, outlen, "%.*s***", (int)(colon + 1 - url), url);
  if (n > 0 && (size_t)n < outlen) snprintf(out + n, outlen - (size_t)n, "%.*s", 900, at);
}

store *pg_open(uv_loop_t *loop, const config *cfg, char *err, size_t errlen) {
  if (pg_check_url(cfg->db_url, err, errlen)) return NULL;
  pg *st = (pg *)calloc(1, sizeof(pg));
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  st->base.e = &pg_engine;
  st->base.loop = loop;
  st->base.writes = &st->q;
  st->base.cacheable = 0; /* other hosts write too: no generation can tag a read */
  url_for_logs(cfg->db_url, st->base.url, sizeof(st->base.url));
  snprintf(st->url, sizeof(st->url), "%s", cfg->db_url);
  st->files[0] = NULL;
  st->max_queue = cfg->max_queue;
  /* lock_timeout = 0 would mean "wait for ever", the opposite of what
   * DB_BUSY_TIMEOUT_MS=0 means with SQLite ("never wait"). */
  st->lock_ms = cfg->busy_timeout_ms ? (int)cfg->busy_timeout_ms : 1;
  st->nreaders = (int)(cfg->readers > STORE_MAX_READERS ? STORE_MAX_READERS : cfg->readers);
  if (st->nreaders < 1) st->nreaders = 1;
  pg_readers_init(st, cfg->max_queue);
  pg_queries_init();
  if (pg_rcache_init(&st->rcache) != 0) {
    snprintf(err, errlen, "cannot create a mutex");
    free(st);
    return NULL;
  }
  /* One attempt now, so a reachable database is ready at once; an
   * unreachable one is retried from the loop (start-up goes on). */
  char why[256];
  int rc = pg_writer_connect(st, why, sizeof(why));
  if (rc == STORE_ERROR) {
    snprintf(err, errlen, "%s: %s", st->base.url, why);
    pg_writer_close(st);
    pg_rcache_free(&st->rcache);
    free(st);
    return NULL;
  }
  int trc = uv_timer_init(loop, &st->retry);
  if (trc != 0) {
    snprintf(err, errlen, "reconnect timer: %s", uv_strerror(trc));
    pg_writer_close(st);
    pg_rcache_free(&st->rcache);
    free(st);
    return NULL;
  }
  st->retry.data = st;
  trc = uv_timer_init(loop, &st->gather);
  if (trc != 0) {
    snprintf(err, errlen, "gather timer: %s", uv_strerror(trc));
    uv_close((uv_handle_t *)&st->retry, NULL);
    uv_run(loop, UV_RUN_NOWAIT); /* the close completes before the free */
    pg_writer_close(st);
    pg_rcache_free(&st->rcache);
    free(st);
    return NULL;
  }
  st->gather.data = st;
  if (rc == 0) {
    st->up = 1;
  } else {
    snprintf(st->down_err, sizeof(st->down_err), "%s", why);
    st->retry_ms = PG_RETRY_MIN_MS;
    if (uv_timer_start(&st->retry, on_retry, PG_RETRY_MIN_MS, 0) == 0) st->retry_on = 1;
  }
  return &st->base;
}
