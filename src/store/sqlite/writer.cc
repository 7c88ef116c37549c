/* store/sqlite/writer.cc: the acknowledging path. Inserts queue up on the
 * loop; while no batch runs, the whole queue (up to STORE_MAX_BATCH) becomes
 * one threadpool job: BEGIN IMMEDIATE, one prepared INSERT ... ON CONFLICT
 * DO NOTHING per message, COMMIT (synchronous=FULL: the WAL is fsynced).
 * The transaction holds the row and message_id's uniqueness and nothing
 * else; each caller hears created/duplicate only after COMMIT returned.
 *
 * Checkpoints stay off this path. The writer never auto-checkpoints; when
 * the WAL passes SQ_CKPT_FRAMES a job on a second connection copies it into
 * the database file (PASSIVE: it never blocks the writer). The writer keeps
 * appending meanwhile, so the WAL is never fully copied and could not
 * restart; therefore, once such a job has copied every frame it found (a
 * reader's old snapshot can stop it short: then another job runs after the
 * next batch), the next batch first folds in the few frames appended since
 * (a small PASSIVE checkpoint on its own connection) and its BEGIN then
 * finds the WAL fully copied and starts it again from the beginning.
 * journal_size_limit trims the file. Past SQ_WAL_HARD_FRAMES that fold is a
 * RESTART, which waits for readers, SQ_RESTART_WAIT_MS at most. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq.h"

static int batch_start(sq *st);

/* wal_hook: frames in the WAL after each commit (worker thread, the batch's). */
static int on_wal(void *arg, sqlite3 *, const char *, int frames) {
  ((sq *)arg)->batch.wal_frames = frames;
  return SQLITE_OK;
}

int sq_writer_open(sq *st, char *err, size_t errlen) {
  struct {
    sqlite3_stmt **s;
    const char *sql;
  } w[] = {
      {&st->w_begin, "BEGIN IMMEDIATE"},
      {&st->w_commit, "COMMIT"},
      {&st->w_rollback, "ROLLBACK"},
      {&st->w_insert,
       "INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at) "
       "VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7) ON CONFLICT(message_id) DO NOTHING"},
  };
  if (sq_exec(st->wdb, "PRAGMA wal_autocheckpoint=0; PRAGMA journal_size_limit=16777216", err,
              errlen))
    return -1;
  for (size_t i = 0; i < sizeof(w) / sizeof(w[0]); i++) {
    if (sqlite3_prepare_v3(st->wdb, w[i].sql, -1, SQLITE_PREPARE_PERSISTENT, w[i].s, NULL) !=
        SQLITE_OK) {
      snprintf(err, errlen, "cannot prepare statement: %s", sqlite3_errmsg(st->wdb));
      return -1;
    }
  }
  sqlite3_wal_hook(st->wdb, on_wal, st);
  st->last_id = sq_scalar(st->wdb, "SELECT coalesce(max(id), 0) FROM messages", 0);
  return 0;
}

void sq_writer_close(sq *st) {
  sqlite3_stmt *s[] = {st->w_begin, st->w_commit, st->w_rollback, st->w_insert};
  sq_finalize_all(s, 4);
  if (st->ckpt.db) sqlite3_close(st->ckpt.db);
  store_queue_free(&st->q);
}

int sq_submit(store *base, const message *m, int64_t now_ms, store_submit_cb cb, void *arg) {
  sq *st = (sq *)base;
  if (st->q.len >= st->max_queue) return STORE_E_FULL;
  if (st->last_id - st->mark > (int64_t)st->max_lag) return STORE_E_LAG;
  int rc = store_queue_push(&st->q, m, now_ms, cb, arg);
  if (rc != 0) return rc;
  store_pending *mine = st->q.tail;
  if (!st->batch_running && batch_start(st) != 0) {
    /* A submit never calls back: this request is refused; the others,
     * submitted earlier, failed through theirs. */
    store_pending_withdraw(mine);
    return STORE_E_FULL;
  }
  return 0;
}

static int step_reset(sqlite3_stmt *s) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc;
}

/* Ends the transaction a failed batch left open (worker). A ROLLBACK that
 * fails too leaves the write lock held and every later BEGIN failing: the
 * reason joins b->err (the caller's error, logged with the failed
 * webhooks), and the next batch tries again before its BEGIN. */
static void rollback(sq_batch *b, sqlite3 *db) {
  if (sqlite3_get_autocommit(db)) return;
  int rc = step_reset(b->st->w_rollback);
  if (rc != SQLITE_DONE && !sqlite3_get_autocommit(db)) {
    size_t n = strlen(b->err);
    snprintf(b->err + n, sizeof(b->err) - n, "; rollback failed: %s", sqlite3_errmsg(db));
  }
}

/* Worker thread: the whole batch as one transaction. */
static void batch_work(job *j) {
  sq_batch *b = (sq_batch *)j;
  sq *st = b->st;
  sqlite3 *db = st->wdb;
  uint64_t t0 = clock_mono_ns();
  int rc;
  b->wal_frames = -1;
  if (!sqlite3_get_autocommit(db)) { /* an earlier rollback failed */
    rc = step_reset(st->w_rollback);
    if (rc != SQLITE_DONE && !sqlite3_get_autocommit(db)) goto fail;
  }
  if (b->ckpt_restart) {
    /* Past the hard bound: RESTART waits for readers so the WAL cannot grow
     * on, but briefly (the busy handler is the wait). If a reader outlasts
     * it, the WAL stays as it is and the next batch tries again: not an
     * error. */
    sqlite3_busy_timeout(db, SQ_RESTART_WAIT_MS);
    sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_RESTART, NULL, NULL);
    sqlite3_busy_timeout(db, st->busy_ms);
  } else if (b->ckpt_first) {
    /* Fold in what the background checkpoint missed: a few frames. PASSIVE
     * never waits; what it cannot copy now, a later one will. */
    sqlite3_wal_checkpoint_v2(db, "main", SQLITE_CHECKPOINT_PASSIVE, NULL, NULL);
  }
  rc = step_reset(st->w_begin);
  if (rc != SQLITE_DONE) goto fail;
  for (store_pending *it = b->head; it; it = it->next) {
    sqlite3_stmt *ins = st->w_insert;
    for (int i = 0; i < SF_NFIELDS; i++) {
      if (i == SF_TEXT && !it->has_text)
        sqlite3_bind_null(ins, i + 1);
      else
        sqlite3_bind_text(ins, i + 1, it->data + it->off[i], (int)it->len[i], SQLITE_STATIC);
    }
    sqlite3_bind_text(ins, SF_NFIELDS + 1, it->created_at, CLOCK_ISO_LEN, SQLITE_STATIC);
    rc = step_reset(ins);
    sqlite3_clear_bindings(ins);
    if (rc != SQLITE_DONE) goto rollback;
    it->result = sqlite3_changes(db) == 1 ? STORE_CREATED : STORE_DUPLICATE;
    if (it->result == STORE_CREATED) b->created++;
  }
  rc = step_reset(st->w_commit);
  if (rc != SQLITE_DONE) goto rollback;
  b->ok = 1;
  b->last_id = sqlite3_last_insert_rowid(db);
  b->duration_ns = clock_mono_ns() - t0;
  return;
rollback:
  snprintf(b->err, sizeof(b->err), "%s (%s)", sqlite3_errmsg(db), sqlite3_errstr(rc));
  rollback(b, db);
  goto out;
fail:
  snprintf(b->err, sizeof(b->err), "%s (%s)", sqlite3_errmsg(db), sqlite3_errstr(rc));
out:
  b->ok = 0;
  b->busy = sq_classify(rc) == STORE_BUSY;
  b->duration_ns = clock_mono_ns() - t0;
}

/* ---- Background checkpoint ------------------------------------------------ */

static void ckpt_work(job *j) {
  sq_ckpt *c = (sq_ckpt *)j;
  sq *st = c->st;
  c->rc = SQLITE_OK;
  if (!c->db) {
    c->db = sq_connect(st->path, st->sync, st->busy_ms, c->err, sizeof(c->err));
    if (!c->db) {
      c->rc = SQLITE_CANTOPEN;
      return;
    }
    sq_exec(c->db, "PRAGMA cache_size=16", c->err, sizeof(c->err));
  }
  c->rc =
      sqlite3_wal_checkpoint_v2(c->db, "main", SQLITE_CHECKPOINT_PASSIVE, &c->log, &c->done_frames);
  if (c->rc != SQLITE_OK) snprintf(c->err, sizeof(c->err), "%s", sqlite3_errmsg(c->db));
}

static void ckpt_done(job *j, int cancelled) {
  sq_ckpt *c = (sq_ckpt *)j;
  sq *st = c->st;
  st->ckpt_running = 0;
  /* Only a checkpoint that copied the whole WAL leaves just a few frames
   * to fold in; after a partial one (a reader's old snapshot stopped it)
   * the next batch starts another one instead. */
  if (!cancelled && c->rc == SQLITE_OK && c->done_frames == c->log) st->restart_wanted = 1;
  store_notify_idle(&st->base);
}

static void ckpt_maybe_start(sq *st) {
  if (st->ckpt_running || st->restart_wanted || st->shutting_down ||
      st->wal_frames < SQ_CKPT_FRAMES)
    return;
  st->ckpt.st = st;
  if (job_submit(st->base.loop, &st->ckpt.j, ckpt_work, ckpt_done) == 0) st->ckpt_running = 1;
}

/* ---- Loop side ------------------------------------------------------------ */

/* Hand each request its outcome, then start the next batch. */
static void batch_done(job *j, int cancelled) {
  sq_batch *b = (sq_batch *)j;
  sq *st = b->st;
  if (cancelled) {
    b->ok = 0;
    snprintf(b->err, sizeof(b->err), "batch cancelled");
  }
  if (b->ok) {
    if (b->last_id > st->last_id) st->last_id = b->last_id;
    if (b->wal_frames >= 0) {
      /* A WAL that restarted holds little more than this batch. */
      if (b->ckpt_first && b->wal_frames < st->wal_frames) st->restart_wanted = 0;
      st->wal_frames = b->wal_frames;
    }
  }
  store_batch_ended(&st->base, b->n, b->duration_ns, b->ok, b->created > 0, b->err);
  /* batch_running stays set while the callbacks run: a callback may submit
   * (the next pipelined request), and that must only enqueue. */
  store_pending *done = b->head;
  b->head = NULL;
  store_queue_finish(&st->q, done, b->ok ? -1 : (b->busy ? STORE_BUSY : STORE_ERROR),
                     b->ok ? NULL : b->err);
  st->batch_running = 0;
  if (b->ok && b->created) sq_indexer_kick(st);
  ckpt_maybe_start(st);
  if (st->q.head)
    (void)batch_start(st); /* a failure has answered every waiting insert */
  else
    store_notify_idle(&st->base);
}

/* Takes the queue's head as the next batch and queues its job. 0, or the
 * libuv error after every waiting insert was failed (with 503). */
static int batch_start(sq *st) {
  sq_batch *b = &st->batch;
  b->head = store_queue_take(&st->q, STORE_MAX_BATCH, &b->n);
  b->st = st;
  b->created = 0;
  b->ok = 0;
  b->busy = 0;
  b->err[0] = 0;
  b->last_id = 0;
  /* Not while the background checkpoint holds the checkpoint lock. */
  b->ckpt_restart = st->wal_frames > SQ_WAL_HARD_FRAMES;
  b->ckpt_first = (st->restart_wanted && !st->ckpt_running) || b->ckpt_restart;
  st->batch_running = 1;
  int rc = job_submit(st->base.loop, &b->j, batch_work, batch_done);
  if (rc != 0) { /* every insert, batched or waiting, hears 503 now */
    store_pending *head = b->head;
    b->head = NULL;
    st->base.db_errors++;
    store_queue_fail_all(&st->q, head, STORE_BUSY, uv_strerror(rc));
    st->batch_running = 0;
    store_notify_idle(&st->base);
  }
  return rc;
}
