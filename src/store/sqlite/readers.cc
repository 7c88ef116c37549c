/* store/sqlite/readers.cc: the read jobs on reader connections (which read
 * runs on which connection, and when: store/pool.h).
 *
 * Up to cfg->readers connections, one per running read job, each opened by
 * the worker that first uses it: the rows file (query_only) with the index
 * file attached as `ix`. Every read is one transaction whose first
 * statement reads ix.state: that pins the index snapshot (and its mark)
 * before the rows snapshot, which is therefore at least as new, so every
 * row the index covers is visible and the rows above the mark are the
 * exact tail. WAL: readers never block the writer or the indexer.
 *
 * A read stops after read_timeout_ms (STORE_READ_TIMEOUT_MS, as on
 * PostgreSQL): a huge offset or a scan for a short needle over many rows
 * would otherwise hold a reader connection, and its snapshot (which holds
 * checkpoints back), as long as the table is large. The progress handler
 * checks the clock every SQ_READ_CHECK_STEPS VM steps; the statement then
 * fails with SQLITE_INTERRUPT, answered 503. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "sq.h"

sqlite3_stmt *sq_rstmt(store_read *r, sq_reader *rd, int id) {
  if (!rd->stmts[id] && sqlite3_prepare_v3(rd->db, sq_rstmt_sql(id), -1, SQLITE_PREPARE_PERSISTENT,
                                           &rd->stmts[id], NULL) != SQLITE_OK) {
    snprintf(r->err, sizeof(r->err), "prepare: %s", sqlite3_errmsg(rd->db));
    return NULL;
  }
  return rd->stmts[id];
}

int sq_step_err(store_read *r, sqlite3 *db, int rc) {
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return 0;
  snprintf(r->err, sizeof(r->err), "%s", sqlite3_errmsg(db));
  return sq_classify(rc);
}

#define SQ_READ_CHECK_STEPS 10000

static int past_deadline(void *arg) {
  const sq_reader *rd = (const sq_reader *)arg;
  return rd->deadline_ns && clock_mono_ns() > rd->deadline_ns;
}

static sqlite3 *reader_connect(sq *st, sq_reader *rd, store_read *r) {
  sqlite3 *db = sq_connect(st->path, st->sync, st->busy_ms, r->err, sizeof(r->err));
  if (!db) return NULL;
  int ok = sq_attach(db, "ATTACH ?1 AS ix", st->ipath, r->err, sizeof(r->err)) == 0;
  if (ok && sq_exec(db, "PRAGMA query_only=1; PRAGMA cache_size=-1024; PRAGMA ix.cache_size=-1024",
                    r->err, sizeof(r->err)))
    ok = 0;
  if (!ok) {
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_progress_handler(db, SQ_READ_CHECK_STEPS, past_deadline, rd);
  return db;
}

/* Ends the read transaction (worker). One left open would pin its
 * snapshot, holding every checkpoint of the rows WAL back, and fail this
 * connection's next BEGIN: if COMMIT fails, ROLLBACK; if that fails too,
 * close the connection (the slot's next read opens a new one) and fail
 * the read so the reason is logged. */
static void end_read(sq_reader *rd, store_read *r, sqlite3_stmt *end) {
  rd->deadline_ns = 0; /* ending the transaction is never interrupted */
  int rc = sqlite3_step(end);
  sqlite3_reset(end);
  if (sqlite3_get_autocommit(rd->db)) return;
  char why[128];
  snprintf(why, sizeof(why), "%s", sqlite3_errmsg(rd->db));
  if (sqlite3_exec(rd->db, "ROLLBACK", NULL, NULL, NULL) == SQLITE_OK) return;
  snprintf(r->err, sizeof(r->err), "cannot end a read (%s: %s); reconnecting", sqlite3_errstr(rc),
           why);
  r->rc = STORE_BUSY;
  sq_finalize_all(rd->stmts, RS_NSTMT);
  sqlite3_close_v2(rd->db);
  rd->db = NULL;
}

/* Worker thread: one read transaction. */
static void read_work(job *j) {
  store_readjob *rj = (store_readjob *)j;
  sq *st = (sq *)rj->pool->st;
  store_read *r = rj->r;
  sq_reader *rd = &st->readers[rj->slot];
  if (!rd->db && !(rd->db = reader_connect(st, rd, r))) {
    r->rc = STORE_BUSY; /* e.g. out of descriptors: it passes */
    return;
  }
  rd->deadline_ns = clock_mono_ns() + (uint64_t)st->read_timeout_ms * 1000000u;
  sqlite3_stmt *begin = sq_rstmt(r, rd, RS_BEGIN), *end = sq_rstmt(r, rd, RS_END);
  sqlite3_stmt *state = sq_rstmt(r, rd, RS_STATE);
  if (!begin || !end || !state) {
    r->rc = STORE_ERROR;
    return;
  }
  int rc = sqlite3_step(begin);
  sqlite3_reset(begin);
  if ((r->rc = sq_step_err(r, rd->db, rc)) != 0) return;
  int64_t mark = 0, messages = 0, senders = 0;
  rc = sqlite3_step(state);
  if (rc == SQLITE_ROW) {
    mark = sqlite3_column_int64(state, 0);
    messages = sqlite3_column_int64(state, 1);
    senders = sqlite3_column_int64(state, 2);
  }
  sqlite3_reset(state);
  r->rc = sq_step_err(r, rd->db, rc);
  if (r->rc == 0 && rc != SQLITE_ROW) {
    snprintf(r->err, sizeof(r->err), "index state missing");
    r->rc = STORE_ERROR;
  }
  if (r->rc == 0) {
    switch (r->kind) {
      case STORE_READ_MESSAGES: r->rc = sq_read_messages(r, rd, mark, messages); break;
      case STORE_READ_STATS: r->rc = sq_read_stats(r, rd, mark, messages, senders); break;
      default: {
        sqlite3_stmt *v = sq_rstmt(r, rd, RS_VERSION);
        r->rc = STORE_ERROR;
        if (v && (rc = sqlite3_step(v)) == SQLITE_ROW) {
          int version = sqlite3_column_int(v, 0);
          if (version == SQ_ROWS_VERSION)
            r->rc = 0;
          else
            snprintf(r->err, sizeof(r->err), "schema version %d, expected %d", version,
                     SQ_ROWS_VERSION);
        } else if (v) {
          r->rc = sq_step_err(r, rd->db, rc);
        }
        if (v) sqlite3_reset(v);
      }
    }
  }
  end_read(rd, r, end);
  if (r->rc == 0) store_read_finish(r);
}

void sq_readers_init(sq *st, uint32_t max_queue) {
  store_pool_init(&st->pool, &st->base, read_work, st->nreaders, max_queue);
}

int sq_read(store *base, store_read *r) {
  sq *st = (sq *)base;
  if (r->kind != STORE_READ_READY && st->last_id - st->mark > (int64_t)st->max_lag)
    return STORE_E_LAG;
  return store_pool_submit(&st->pool, r);
}

void sq_readers_close(sq *st) {
  for (int i = 0; i < st->nreaders; i++) {
    if (!st->readers[i].db) continue;
    sq_finalize_all(st->readers[i].stmts, RS_NSTMT);
    sqlite3_close(st->readers[i].db);
    st->readers[i].db = NULL;
  }
}
