/* store/sqlite/indexer.cc: builds the index file from the committed rows.
 *
 * One job at a time on the threadpool, started after a commit created rows
 * (or after a short debounce when the batch would be tiny). A batch:
 *   1. copies the rows above the mark (at most INDEX_BATCH, hookd_fold()ed
 *      text) into an in-memory temp table: one statement, so the read
 *      transaction on the rows file is short and never holds its WAL back;
 *   2. in one write transaction on the index file: claims the range by
 *      moving state.mark from the mark it started with (so a replayed or
 *      concurrent batch changes nothing), adds the counts, and inserts
 *      into by_ts, by_from and fts with one set-based statement each,
 *      sorted by key (FTS5 flushes its pending index once per statement).
 * The mark commits with what it covers, so a crash at any moment means
 * only "catch up from the mark". If the index was built from another rows
 * file (rows_id), before an operator deleted rows (epoch), or its mark is
 * past the last row, it is stale: the batch empties it and starts over. */
#include <sched.h>
#include <stdio.h>
#include <string.h>

#include "sq.h"

enum {
  IX_CHECK, /* rows_id, epoch, max(id) of the rows file */
  IX_LOAD,
  IX_BEGIN,
  IX_STATE,
  IX_CLAIM,
  IX_SENDERS,
  IX_HOURS,
  IX_BY_TS,
  IX_BY_FROM,
  IX_FTS,
  IX_COMMIT,
  IX_ROLLBACK,
  IX_CLEAR,
  IX_RESET,
  IX_SETID,
  IX_MAXB,
  IX_NSTMT
};

static const char *const ix_sql[IX_NSTMT] = {
    /* IX_CHECK */
    "SELECT (SELECT v FROM r.meta WHERE k = 'rows_id'), (SELECT v FROM r.meta WHERE k = 'epoch'),"
    " (SELECT coalesce(max(id), 0) FROM r.messages)",
    /* IX_LOAD */
    "INSERT INTO temp.batch(id, message_id, from_msisdn, ts_key, text)"
    " SELECT id, message_id, from_msisdn, ts_key, hookd_fold(text) FROM r.messages"
    " WHERE id > ?1 ORDER BY id LIMIT ?2",
    /* IX_BEGIN: deferred. BEGIN IMMEDIATE would take the write lock of every
     * attached file, the rows file included, and stall the acknowledging
     * writer for the whole batch; deferred, only the index file (the first
     * file this transaction writes) is locked. */
    "BEGIN DEFERRED",
    /* IX_STATE */ "SELECT rows_id, epoch, mark FROM main.state WHERE id = 1",
    /* IX_CLAIM: counts first (new senders are those not yet in sender_counts) */
    "UPDATE main.state SET mark = (SELECT max(id) FROM temp.batch),"
    " messages = messages + (SELECT count(*) FROM temp.batch),"
    " senders = senders + (SELECT count(DISTINCT b.from_msisdn) FROM temp.batch b"
    "   WHERE NOT EXISTS (SELECT 1 FROM main.sender_counts s WHERE s.from_msisdn = b.from_msisdn))"
    " WHERE id = 1 AND mark = ?1",
    /* IX_SENDERS */
    "INSERT INTO main.sender_counts(from_msisdn, n) SELECT from_msisdn, count(*) FROM temp.batch"
    " WHERE 1 GROUP BY 1 ON CONFLICT(from_msisdn) DO UPDATE SET n = n + excluded.n",
    /* IX_HOURS */
    "INSERT INTO main.ts_hours(hour, n) SELECT substr(ts_key, 1, 13), count(*) FROM temp.batch"
    " WHERE 1 GROUP BY 1 ON CONFLICT(hour) DO UPDATE SET n = n + excluded.n",
    /* IX_BY_TS */
    "INSERT INTO main.by_ts(ts_key, message_id, id)"
    " SELECT ts_key, message_id, id FROM temp.batch ORDER BY 1, 2",
    /* IX_BY_FROM */
    "INSERT INTO main.by_from(from_msisdn, ts_key, message_id, id)"
    " SELECT from_msisdn, ts_key, message_id, id FROM temp.batch ORDER BY 1, 2, 3",
    /* IX_FTS */
    "INSERT INTO main.fts(rowid, text) SELECT id, text FROM temp.batch WHERE text IS NOT NULL",
    /* IX_COMMIT */ "COMMIT",
    /* IX_ROLLBACK */ "ROLLBACK",
    /* IX_CLEAR */ "DELETE FROM temp.batch",
    /* IX_RESET: ?1 rows_id, ?2 epoch */
    "DELETE FROM main.by_ts; DELETE FROM main.by_from; DELETE FROM main.sender_counts;"
    "DELETE FROM main.ts_hours; INSERT INTO main.fts(fts) VALUES('delete-all');"
    "UPDATE main.state SET mark = 0, messages = 0, senders = 0",
    /* IX_SETID */ "UPDATE main.state SET rows_id = ?1, epoch = ?2 WHERE id = 1",
    /* IX_MAXB */ "SELECT max(id) FROM temp.batch",
};

/* The indexer is background work competing for the same cores as the loop
 * and the acknowledging writer: every SQ_INDEX_YIELD_STEPS virtual-machine
 * steps it offers the CPU to them (measured on a loaded 2-core machine:
 * 9.2-9.4k -> 12.7-15.2k unique webhooks/s, the lag absorbing the rest). */
static int ix_yield(void *) {
  sched_yield();
  return 0;
}

/* Opens the index file with the rows file attached as `r`. */
sqlite3 *sq_indexer_connect(const char *path, const char *ipath, int busy_ms,
                            sqlite3_stmt ***stmts_out, char *err, size_t errlen) {
  sqlite3 *db = sq_connect(ipath, STORE_SYNC_NORMAL, busy_ms, err, errlen);
  if (!db) return NULL;
  sqlite3_stmt **stmts = (sqlite3_stmt **)sqlite3_malloc(IX_NSTMT * sizeof(*stmts));
  if (!stmts) goto fail_msg;
  memset(stmts, 0, IX_NSTMT * sizeof(*stmts));
  /* Hot pages of the random-keyed trees stay cached across batches; a
   * checkpoint every 16 MiB of WAL copies each back once. */
  if (sq_exec(db,
              "PRAGMA journal_mode=WAL; PRAGMA temp_store=MEMORY; PRAGMA cache_size=-4096;"
              "PRAGMA wal_autocheckpoint=4096; PRAGMA journal_size_limit=16777216",
              err, errlen))
    goto fail;
  if (sq_init_index(db, err, errlen)) goto fail;
  sqlite3_progress_handler(db, SQ_INDEX_YIELD_STEPS, ix_yield, NULL);
  if (sq_attach(db, "ATTACH ?1 AS r", path, err, errlen)) goto fail;
  if (sq_exec(db,
              "CREATE TEMP TABLE batch(id INTEGER PRIMARY KEY, message_id TEXT, from_msisdn TEXT,"
              " ts_key TEXT, text TEXT)",
              err, errlen))
    goto fail;
  for (int i = 0; i < IX_NSTMT; i++) {
    if (i == IX_RESET) continue; /* several statements: run with sq_exec */
    if (sqlite3_prepare_v3(db, ix_sql[i], -1, SQLITE_PREPARE_PERSISTENT, &stmts[i], NULL) !=
        SQLITE_OK)
      goto fail_msg;
  }
  *stmts_out = stmts;
  return db;
fail_msg:
  snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
fail:
  if (stmts) sq_indexer_disconnect(NULL, stmts);
  sqlite3_close(db);
  return NULL;
}

void sq_indexer_disconnect(sqlite3 *db, sqlite3_stmt **stmts) {
  if (stmts) {
    sq_finalize_all(stmts, IX_NSTMT);
    sqlite3_free(stmts);
  }
  if (db) sqlite3_close(db);
}

static int run(sqlite3_stmt *s) {
  int rc = sqlite3_step(s);
  sqlite3_reset(s);
  return rc == SQLITE_ROW ? SQLITE_DONE : rc;
}

/* Worker thread; see the contract in sq.h. */
int sq_index_batch(sqlite3 *db, sqlite3_stmt **st, int max, int64_t *mark, int *rebuilt, char *err,
                   size_t errlen) {
  int rc, n = 0;
  int64_t max_id = 0, epoch = 0, s_epoch = 0, s_mark = 0;
  char rows_id[64] = "", s_rows_id[64] = "";
  *rebuilt = 0;
  err[0] = 0;
  /* 1: what the rows file is now. */
  rc = sqlite3_step(st[IX_CHECK]);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st[IX_CHECK], 0);
    snprintf(rows_id, sizeof(rows_id), "%s", t ? (const char *)t : "");
    epoch = sqlite3_column_int64(st[IX_CHECK], 1);
    max_id = sqlite3_column_int64(st[IX_CHECK], 2);
  }
  sqlite3_reset(st[IX_CHECK]);
  if (rc != SQLITE_ROW) goto fail;
  /* 2: the index's own view, under its write lock. */
  if ((rc = run(st[IX_BEGIN])) != SQLITE_DONE) goto fail;
  rc = sqlite3_step(st[IX_STATE]);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(st[IX_STATE], 0);
    snprintf(s_rows_id, sizeof(s_rows_id), "%s", t ? (const char *)t : "");
    s_epoch = sqlite3_column_int64(st[IX_STATE], 1);
    s_mark = sqlite3_column_int64(st[IX_STATE], 2);
  }
  sqlite3_reset(st[IX_STATE]);
  if (rc != SQLITE_ROW) goto rollback;
  if (strcmp(rows_id, s_rows_id) != 0 || epoch != s_epoch || s_mark > max_id) {
    /* Stale: built from other rows. Start over (derived data). */
    sqlite3_bind_text(st[IX_SETID], 1, rows_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st[IX_SETID], 2, epoch);
    if (sq_exec(db, ix_sql[IX_RESET], err, errlen) || (rc = run(st[IX_SETID])) != SQLITE_DONE) {
      if (!err[0]) snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
      run(st[IX_ROLLBACK]);
      return -1;
    }
    s_mark = 0;
    *rebuilt = s_rows_id[0] != 0; /* an empty rows_id: a new index, not a rebuild */
  }
  *mark = s_mark;
  if (s_mark == max_id) { /* nothing new */
    if ((rc = run(st[IX_COMMIT])) != SQLITE_DONE) goto rollback;
    return 0;
  }
  /* 3: the batch. The load reads the rows file (its own short snapshot). */
  sqlite3_bind_int64(st[IX_LOAD], 1, s_mark);
  sqlite3_bind_int(st[IX_LOAD], 2, max);
  if ((rc = run(st[IX_LOAD])) != SQLITE_DONE) goto rollback;
  n = sqlite3_changes(db);
  if (n == 0) {
    run(st[IX_COMMIT]);
    return 0;
  }
  sqlite3_bind_int64(st[IX_CLAIM], 1, s_mark);
  if ((rc = run(st[IX_CLAIM])) != SQLITE_DONE) goto rollback;
  if (sqlite3_changes(db) != 1) { /* someone else moved the mark */
    run(st[IX_ROLLBACK]);
    run(st[IX_CLEAR]);
    return 0;
  }
  for (int i = IX_SENDERS; i <= IX_FTS; i++)
    if ((rc = run(st[i])) != SQLITE_DONE) goto rollback;
  if (sqlite3_step(st[IX_MAXB]) == SQLITE_ROW) *mark = sqlite3_column_int64(st[IX_MAXB], 0);
  sqlite3_reset(st[IX_MAXB]);
  if ((rc = run(st[IX_COMMIT])) != SQLITE_DONE) goto rollback;
  run(st[IX_CLEAR]);
  return n;
rollback:
  snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
  run(st[IX_ROLLBACK]);
  run(st[IX_CLEAR]);
  *mark = s_mark;
  return -1;
fail:
  snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
  return -1;
}
