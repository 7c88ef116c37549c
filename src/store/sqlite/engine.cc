/* store/sqlite/engine.cc: the SQLite engine's table of operations, and
 * opening and closing it (start-up: creates the folder, migrates the rows
 * file, opens the index file and starts the indexer catching up). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "notify.h"
#include "sq.h"

static int sq_idle(const store *base) {
  const sq *st = (const sq *)base;
  return !st->batch_running && !st->q.head && store_pool_idle(&st->pool) && !st->ix.running &&
         !st->ckpt_running;
}

static void sq_shutdown(store *base) {
  sq *st = (sq *)base;
  st->shutting_down = 1;
  sq_indexer_stop(st);
}

static void sq_close(store *base) {
  sq *st = (sq *)base;
  sq_indexer_close(st);
  sq_readers_close(st);
  sq_writer_close(st);
  if (st->wdb) sqlite3_close(st->wdb);
  free(st);
}

static void sq_gauges(const store *base, store_gauges *g) {
  const sq *st = (const sq *)base;
  g->queue_depth = st->q.len;
  g->index_lag_rows = st->last_id > st->mark ? st->last_id - st->mark : 0;
  sq_vfs_bytes(&g->rows_write_bytes, &g->index_write_bytes);
}

static const char *sq_unready(const store *base, int64_t now_ms) {
  const sq *st = (const sq *)base;
  static char why[300]; /* loop thread only */
  if (store_write_unready(base, now_ms, why, sizeof(why))) return why;
  if (st->last_id - st->mark > (int64_t)st->max_lag) {
    snprintf(why, sizeof(why), "index catching up: %lld rows behind (INDEX_MAX_LAG %u)",
             (long long)(st->last_id - st->mark), st->max_lag);
    return why;
  }
  return NULL;
}

static const char *const *sq_files(const store *base) { return ((const sq *)base)->files; }

static const store_engine sq_engine = {
    "sqlite", sq_submit, sq_read, sq_idle, sq_shutdown, sq_close, sq_gauges, sq_unready, sq_files,
};

store *sq_open(uv_loop_t *loop, const config *cfg, char *err, size_t errlen) {
  sq *st = (sq *)calloc(1, sizeof(sq));
  if (!st) {
    snprintf(err, errlen, "out of memory");
    return NULL;
  }
  st->base.e = &sq_engine;
  st->base.loop = loop;
  st->base.writes = &st->q;
  st->base.cacheable = 1;
  snprintf(st->base.url, sizeof(st->base.url), "%s", cfg->db_url);
  snprintf(st->path, sizeof(st->path), "%s", cfg->db_path);
  snprintf(st->ipath, sizeof(st->ipath), "%s-index", cfg->db_path);
  st->files[0] = st->path;
  st->files[1] = st->ipath;
  st->sync = cfg->sync;
  st->busy_ms = (int)cfg->busy_timeout_ms;
  st->read_timeout_ms = STORE_READ_TIMEOUT_MS;
  st->max_queue = cfg->max_queue;
  st->max_lag = cfg->index_max_lag ? cfg->index_max_lag : 50000;
  st->index_batch = cfg->index_batch ? cfg->index_batch : 16384;
  st->nreaders = (int)(cfg->readers > STORE_MAX_READERS ? STORE_MAX_READERS : cfg->readers);
  if (st->nreaders < 1) st->nreaders = 1;
  sq_readers_init(st, cfg->max_queue);
  sq_queries_init();
  /* All connections together: SQLite frees cache pages to stay under it. */
  sqlite3_soft_heap_limit64(SQ_SOFT_HEAP_BYTES);
  char why[512] = "";
  if (sq_vfs_install() != 0) {
    snprintf(why, sizeof(why), "cannot install the counting VFS");
    goto fail;
  }
  sq_vfs_set_index_path(st->ipath);
  if (sq_make_parent_dirs(st->path, why, sizeof(why))) goto fail;
  st->wdb = sq_connect(st->path, st->sync, st->busy_ms, why, sizeof(why));
  if (!st->wdb) goto fail;
  {
    /* journal_mode answers with the mode it ended up in. */
    sqlite3_stmt *s = NULL;
    const char *mode = NULL;
    if (sqlite3_prepare_v2(st->wdb, "PRAGMA journal_mode=WAL", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
      mode = (const char *)sqlite3_column_text(s, 0);
    int wal = mode && strcmp(mode, "wal") == 0;
    if (!wal) snprintf(why, sizeof(why), "cannot enable WAL: %s", sqlite3_errmsg(st->wdb));
    sqlite3_finalize(s);
    if (!wal) goto fail;
  }
  {
    int v = (int)sq_scalar(st->wdb, "PRAGMA user_version", -1); /* for the STATUS line */
    if (v > 0 && v < SQ_ROWS_VERSION) {
      /* A long copy must not look like a hang to systemd. */
      notify_send("STATUS=migrating the database to schema 3\nEXTEND_TIMEOUT_USEC=600000000");
      log_event(LOG_INFO, "migration", "moving derived structures out of the rows file");
    }
    uint64_t t0 = clock_mono_ns();
    if (sq_migrate_rows(st->wdb, why, sizeof(why))) goto fail;
    if (v > 0 && v < SQ_ROWS_VERSION) {
      char msg[96];
      snprintf(msg, sizeof(msg), "schema %d -> %d in %.1f s", v, SQ_ROWS_VERSION,
               (double)(clock_mono_ns() - t0) / 1e9);
      log_event(LOG_INFO, "migration", msg);
    }
  }
  if (sq_writer_open(st, why, sizeof(why))) goto fail;
  if (sq_indexer_open(st, why, sizeof(why))) goto fail;
  return &st->base;
fail:
  snprintf(err, errlen, "%s: %s", st->path, why);
  sq_indexer_close(st);
  sq_writer_close(st);
  if (st->wdb) sqlite3_close(st->wdb);
  free(st);
  return NULL;
}
