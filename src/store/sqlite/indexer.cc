/* store/sqlite/indexer.cc: builds the index file from the committed rows.
 *
 * One job at a time on the threadpool, started after a commit created rows
 * (or after a short debounce when the batch would be tiny). A batch:
 *   1. in one short read transaction: reads the index's state, checks the
 *      rows file is the one the index was built from, and copies the rows
 *      above the mark (at most INDEX_BATCH, hookd_fold()ed text) into an
 *      in-memory temp table. That is the batch's only read of the rows
 *      file: it never holds a snapshot of it while it builds, so it never
 *      holds a checkpoint of the rows WAL back;
 *   2. in one write transaction on the index file alone: claims the range
 *      by moving state.mark only if the state is still the one step 1 read
 *      (a concurrent batch that got there first leaves this one nothing to
 *      do), adds the counts, and inserts into by_ts, by_from and fts with
 *      one set-based statement each, sorted by key (FTS5 flushes its
 *      pending index once per statement).
 * The mark commits with what it covers, so a crash at any moment means
 * only "catch up from the mark". If the index was built from another rows
 * file (rows_id), before an operator deleted rows (epoch), or its mark is
 * past the last row, it is stale: the batch empties it and starts over
 * (start-up runs that check before hookd listens: sq_indexer_open). */
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
     * writer for the whole batch; deferred, only the index file (the only
     * file step 2 touches, temp aside) is locked. */
    "BEGIN DEFERRED",
    /* IX_STATE */ "SELECT rows_id, epoch, mark FROM main.state WHERE id = 1",
    /* IX_CLAIM: ?1 mark, ?2 rows_id, ?3 epoch as step 1 read them. Counts
     * first (new senders are those not yet in sender_counts). */
    "UPDATE main.state SET mark = (SELECT max(id) FROM temp.batch),"
    " messages = messages + (SELECT count(*) FROM temp.batch),"
    " senders = senders + (SELECT count(DISTINCT b.from_msisdn) FROM temp.batch b"
    "   WHERE NOT EXISTS (SELECT 1 FROM main.sender_counts s WHERE s.from_msisdn = b.from_msisdn))"
    " WHERE id = 1 AND mark = ?1 AND rows_id = ?2 AND epoch = ?3",
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
    /* IX_RESET: the derived tables (the state: IX_SETID) */
    "DELETE FROM main.by_ts; DELETE FROM main.by_from; DELETE FROM main.sender_counts;"
    "DELETE FROM main.ts_hours; INSERT INTO main.fts(fts) VALUES('delete-all')",
    /* IX_SETID: ?1 rows_id, ?2 epoch of the rows file; ?3..?5 the state as
     * step 1 read it */
    "UPDATE main.state SET rows_id = ?1, epoch = ?2, mark = 0, messages = 0, senders = 0"
    " WHERE id = 1 AND rows_id = ?3 AND epoch = ?4 AND mark = ?5",
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

/* Which rows an index was built from, and how far: the index's state, or
 * the rows file's identity and last id (IX_STATE / IX_CHECK both answer
 * text, integer, integer). */
struct ix_view {
  char rows_id[64];
  int64_t epoch, mark;
};

static int read_view(sqlite3_stmt *s, ix_view *v) {
  int rc = sqlite3_step(s);
  if (rc == SQLITE_ROW) {
    const unsigned char *t = sqlite3_column_text(s, 0);
    snprintf(v->rows_id, sizeof(v->rows_id), "%s", t ? (const char *)t : "");
    v->epoch = sqlite3_column_int64(s, 1);
    v->mark = sqlite3_column_int64(s, 2);
  }
  sqlite3_reset(s);
  return rc;
}

/* Worker thread (or start-up); see the contract in sq.h. */
int sq_index_batch(sqlite3 *db, sqlite3_stmt **st, int max, int64_t *mark, int64_t *last_row,
                   int *rebuilt, char *err, size_t errlen) {
  int rc, n = 0, stale;
  ix_view ix = {}, rows = {}, now = {}; /* rows.mark: the last row id */
  int64_t from;
  *rebuilt = 0;
  *mark = *last_row = 0;
  err[0] = 0;
  /* 1: one short read of both files. The index's state first: the rows
   * snapshot is then at least as new, so every row it covers is there
   * (unless the rows file lost rows: stale). */
  if ((rc = run(st[IX_BEGIN])) != SQLITE_DONE) goto fail;
  if ((rc = read_view(st[IX_STATE], &ix)) != SQLITE_ROW) goto rollback;
  if ((rc = read_view(st[IX_CHECK], &rows)) != SQLITE_ROW) goto rollback;
  *mark = ix.mark;
  *last_row = rows.mark;
  stale = strcmp(rows.rows_id, ix.rows_id) != 0 || rows.epoch != ix.epoch || ix.mark > rows.mark;
  from = stale ? 0 : ix.mark;
  if (from < rows.mark && max > 0) {
    sqlite3_bind_int64(st[IX_LOAD], 1, from);
    sqlite3_bind_int(st[IX_LOAD], 2, max);
    if ((rc = run(st[IX_LOAD])) != SQLITE_DONE) goto rollback;
    n = sqlite3_changes(db);
  }
  if ((rc = run(st[IX_COMMIT])) != SQLITE_DONE) goto rollback;
  if (!stale && n == 0) return 0; /* nothing new */
  /* 2: the index file only. Each path's first statement writes, so it
   * waits for the index's write lock (a read first would make SQLite
   * refuse the upgrade at once), and moves the state only if it is still
   * the one step 1 read. */
  if ((rc = run(st[IX_BEGIN])) != SQLITE_DONE) goto rollback;
  if (stale) {
    /* Built from other rows: start over (derived data). */
    sqlite3_bind_text(st[IX_SETID], 1, rows.rows_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st[IX_SETID], 2, rows.epoch);
    sqlite3_bind_text(st[IX_SETID], 3, ix.rows_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st[IX_SETID], 4, ix.epoch);
    sqlite3_bind_int64(st[IX_SETID], 5, ix.mark);
    if ((rc = run(st[IX_SETID])) != SQLITE_DONE) goto rollback;
    if (sqlite3_changes(db) != 1) goto raced; /* another batch rebuilt it meanwhile */
    if (sq_exec(db, ix_sql[IX_RESET], err, errlen)) goto rollback;
    *rebuilt = ix.rows_id[0] != 0; /* an empty rows_id: a new index, not a rebuild */
    *mark = 0;
  }
  if (n > 0) {
    sqlite3_bind_int64(st[IX_CLAIM], 1, from);
    sqlite3_bind_text(st[IX_CLAIM], 2, rows.rows_id, -1, SQLITE_STATIC);
    sqlite3_bind_int64(st[IX_CLAIM], 3, rows.epoch);
    if ((rc = run(st[IX_CLAIM])) != SQLITE_DONE) goto rollback;
    if (sqlite3_changes(db) != 1) goto raced; /* another batch moved the mark */
    for (int i = IX_SENDERS; i <= IX_FTS; i++)
      if ((rc = run(st[i])) != SQLITE_DONE) goto rollback;
  }
  if ((rc = run(st[IX_COMMIT])) != SQLITE_DONE) goto rollback;
  if (n > 0 && sqlite3_step(st[IX_MAXB]) == SQLITE_ROW)
    *mark = sqlite3_column_int64(st[IX_MAXB], 0);
  sqlite3_reset(st[IX_MAXB]);
  run(st[IX_CLEAR]);
  return n;
raced:
  /* Nothing of this batch is needed: the next one starts from the mark
   * the other batch stored. */
  if (read_view(st[IX_STATE], &now) != SQLITE_ROW) now.mark = ix.mark;
  run(st[IX_ROLLBACK]);
  run(st[IX_CLEAR]);
  *rebuilt = 0;
  *mark = now.mark;
  return 0;
rollback:
  if (!err[0]) snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
  if (!sqlite3_get_autocommit(db)) run(st[IX_ROLLBACK]);
  run(st[IX_CLEAR]);
  *rebuilt = 0;
  *mark = ix.mark;
  return -1;
fail:
  snprintf(err, errlen, "index: %s", sqlite3_errmsg(db));
  return -1;
}
