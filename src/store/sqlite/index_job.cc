/* store/sqlite/index_job.cc: when the indexer runs (loop side).
 *
 * A commit that created rows kicks the indexer. One batch runs at a time;
 * while it runs, new rows accumulate, so under load batches grow with the
 * rate (like group commit). A batch smaller than a quarter of INDEX_BATCH
 * waits up to SQ_INDEX_DEBOUNCE_MS (250 ms) for company first: the random-keyed
 * trees cost about one page write per row touched until a batch covers
 * their leaves, so large batches write far fewer bytes per row (measured:
 * 11 KB/row at 2,048 rows per batch, 5.4 at 8,192, 2.4 at 32,768). A
 * failed batch is retried after a second (the error is counted and
 * logged). */
#include <malloc.h>
#include <stdio.h>

#include "log.h"
#include "sq.h"

#define RETRY_MS 1000

static const char rebuild_msg[] =
    "the index file did not match the rows (restored file, deleted rows, or a newer mark): "
    "rebuilding it from the rows";

static void index_work(job *j) {
  sq_indexer *ix = (sq_indexer *)j;
  sq *st = ix->st;
  uint64_t t0 = clock_mono_ns();
  ix->err[0] = 0;
  ix->n = sq_index_batch(ix->db, ix->stmts, (int)st->index_batch, &ix->mark, &ix->last_row,
                         &ix->rebuilt, ix->err, sizeof(ix->err));
  ix->duration_ns = clock_mono_ns() - t0;
  /* A batch allocates and frees megabytes (its temp table, FTS5's pending
   * terms, sorters); give the freed memory back instead of keeping it
   * resident in the arenas (README "Memory stays small after load"). The
   * trim holds each arena's lock while it walks it, so a thread that
   * allocates meanwhile (the loop too) waits: measured 0.2-1.2 ms after
   * batches of 8-16k rows, one per 130-420 ms of indexing. Trimming less
   * often cost more than it saved (README). A batch that indexed nothing
   * freed nothing. */
  if (ix->n > 0) malloc_trim(0);
}

static void start_job(sq *st);

static void on_timer(uv_timer_t *t) {
  sq *st = (sq *)t->data;
  st->ix.timer_on = 0;
  start_job(st);
}

static void arm(sq *st, uint64_t ms) {
  if (st->ix.timer_on || st->ix.stopping) return;
  if (uv_timer_start(&st->ix.timer, on_timer, ms, 0) == 0) st->ix.timer_on = 1;
}

static void index_done(job *j, int cancelled) {
  sq_indexer *ix = (sq_indexer *)j;
  sq *st = ix->st;
  ix->running = 0;
  int ok = !cancelled && ix->n >= 0;
  if (!ok) {
    st->base.db_errors++;
    log_event(LOG_ERROR, "index_error", cancelled ? "index batch cancelled" : ix->err);
  } else {
    st->mark = ix->mark;
    if (ix->last_row > st->last_id || ix->rebuilt) {
      /* Rows another program inserted (or deleted: a rebuild) since the
       * last commit: count them in the lag, and a cached answer lacks them
       * (hookd's own commits already moved both). */
      if (ix->last_row > st->last_id) st->last_id = ix->last_row;
      st->base.generation++;
    }
    if (ix->rebuilt) log_event(LOG_WARN, "index_rebuild", rebuild_msg);
    if (st->mark >= st->last_id) st->index_ready = 1;
  }
  if (ix->n != 0 && st->base.hooks.index)
    st->base.hooks.index(ix->n > 0 ? ix->n : 0, ix->duration_ns, ok);
  if (!ok)
    arm(st, RETRY_MS);
  else if (st->last_id > st->mark)
    sq_indexer_kick(st);
  store_notify_idle(&st->base);
}

static void start_job(sq *st) {
  sq_indexer *ix = &st->ix;
  if (ix->running || ix->stopping) return;
  ix->st = st;
  if (job_submit(st->base.loop, &ix->j, index_work, index_done) == 0)
    ix->running = 1;
  else
    arm(st, RETRY_MS);
}

void sq_indexer_kick(sq *st) {
  sq_indexer *ix = &st->ix;
  if (ix->running || ix->stopping || ix->timer_on) return;
  if (st->last_id - st->mark < (int64_t)st->index_batch / 4 && st->index_ready)
    arm(st, SQ_INDEX_DEBOUNCE_MS);
  else
    start_job(st);
}

/* Start-up (loop not running yet): connect, check the index, start catching up. */
int sq_indexer_open(sq *st, char *err, size_t errlen) {
  sq_indexer *ix = &st->ix;
  ix->db = sq_indexer_connect(st->path, st->ipath, st->busy_ms, &ix->stmts, err, errlen);
  if (!ix->db) return -1;
  /* Before anyone reads the index or a commit reuses an id at or below
   * its mark: check it belongs to these rows and empty it if not (a
   * restored older rows file, rows lost below synchronous=FULL). Start-up
   * may block; max 0: checks, loads nothing. */
  int rebuilt = 0;
  int64_t last_row;
  if (sq_index_batch(ix->db, ix->stmts, 0, &st->mark, &last_row, &rebuilt, err, errlen) < 0)
    return -1;
  if (rebuilt) log_event(LOG_WARN, "index_rebuild", rebuild_msg);
  int rc = uv_timer_init(st->base.loop, &ix->timer);
  if (rc != 0) {
    snprintf(err, errlen, "index timer: %s", uv_strerror(rc));
    return -1;
  }
  ix->timer.data = st;
  st->index_ready = st->mark >= st->last_id;
  /* The first batch starts once the loop runs: an early exit has no job
   * in flight. */
  arm(st, 0);
  return 0;
}

void sq_indexer_stop(sq *st) {
  sq_indexer *ix = &st->ix;
  if (ix->stopping) return;
  ix->stopping = 1;
  if (ix->timer_on) uv_timer_stop(&ix->timer);
  ix->timer_on = 0;
  uv_close((uv_handle_t *)&ix->timer, NULL);
}

void sq_indexer_close(sq *st) {
  sq_indexer_disconnect(st->ix.db, st->ix.stmts);
  st->ix.db = NULL;
  st->ix.stmts = NULL;
}
