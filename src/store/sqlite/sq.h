/* store/sqlite/sq.h: the SQLite engine's private types, shared by the files
 * of src/store/sqlite/ only.
 *
 * Two files on disk:
 *   <path>        the rows: `messages` with a unique message_id, written by
 *                 the acknowledging transaction (synchronous=FULL). Nothing
 *                 else is in that transaction.
 *   <path>-index  everything derived from the rows (ts and per-sender order,
 *                 counts, the trigram index), built by the indexer in large
 *                 batches with its own write lock (synchronous=NORMAL), with
 *                 a high-water mark `state.mark` (the last row id indexed)
 *                 committed atomically with what it built.
 * Reads see the index as of its mark plus the rows above the mark (the
 * tail), so they are exact whatever the indexer's lag.
 *
 * Threads: the writer connection is used by one batch job at a time, the
 * indexer connection by one index job at a time, the checkpoint connection
 * by one checkpoint job at a time, each reader connection by one read job
 * at a time. The struct's other fields belong to the loop thread. */
#ifndef HOOKD_SQ_H
#define HOOKD_SQ_H

#include <sqlite3.h>

#include "clock.h"
#include "job.h"
#include "store.h"
#include "store/pending.h"
#include "store/pool.h"

#define SQ_ROWS_VERSION 3  /* user_version of the rows file */
#define SQ_INDEX_VERSION 1 /* user_version of the index file */

/* Checkpoints of the rows file: a background PASSIVE checkpoint starts when
 * the WAL holds this many frames; once one has copied the whole WAL, the
 * writer folds in the rest so the WAL restarts from the beginning (see
 * writer.cc). */
#define SQ_CKPT_FRAMES 2048
/* Past this many frames the writer checkpoints with RESTART itself, which
 * waits for readers, but at most this long per batch (the acknowledging
 * path: with the busy timeout every batch could wait seconds). */
#define SQ_WAL_HARD_FRAMES 16384
#define SQ_RESTART_WAIT_MS 20
#define SQ_INDEX_DEBOUNCE_MS 250 /* let a small index batch grow (index_job.cc) */
/* SQLite's memory over every connection (page caches, the indexer's temp
 * table, sorters): it releases cache pages to stay under this. */
#define SQ_SOFT_HEAP_BYTES (8 << 20)
#define SQ_INDEX_YIELD_STEPS 1000 /* indexer.cc: sched_yield() this often */

struct sq;

struct sq_batch {
  job j; /* must stay first */
  sq *st;
  store_pending *head;
  int n, created;
  int ok, busy;
  int ckpt_first;   /* fold the WAL's rest into the database first */
  int ckpt_restart; /* ... with RESTART (past SQ_WAL_HARD_FRAMES) */
  int wal_frames;   /* frames in the WAL after the commit (wal_hook) */
  int64_t last_id;  /* highest row id after the commit */
  uint64_t duration_ns;
  char err[256];
};

struct sq_ckpt {
  job j;
  sq *st;
  sqlite3 *db;              /* its own connection to the rows file, opened lazily */
  int rc, log, done_frames; /* frames in the WAL, and copied */
  char err[256];
};

/* Reader statements (readers.cc prepares them once per connection). */
enum sq_rstmt {
  RS_BEGIN,
  RS_END,
  RS_STATE,   /* mark, messages, senders (first: it pins the index snapshot) */
  RS_VERSION, /* rows user_version */
  RS_ROW,     /* one row by id */
  RS_FTS_COUNT,
  RS_TAIL_COUNT,
  RS_SENDER_N, /* indexed count of one sender */
  RS_STATS_SENDERS_NEW,
  RS_STATS_TOP,
  RS_PAGE,                 /* + page variant (queries.cc) */
  RS_COUNT = RS_PAGE + 24, /* + count variant */
  RS_NSTMT = RS_COUNT + 12
};

struct sq_reader {
  sqlite3 *db; /* rows file with the index attached as `ix`; opened lazily */
  sqlite3_stmt *stmts[RS_NSTMT];
  uint64_t deadline_ns; /* clock_mono_ns: the running read stops here (0: none) */
};

struct sq_indexer {
  job j;
  sq *st;
  sqlite3 *db; /* index file (main) + rows file attached as `r` */
  sqlite3_stmt **stmts;
  int running;
  int stopping;
  uv_timer_t timer; /* debounce for small batches */
  int timer_on;
  int64_t mark;     /* the stored mark after the batch (loop copy: st->mark) */
  int64_t last_row; /* the rows file's last id as the batch saw it */
  int n;            /* rows the batch indexed, -1: failed */
  int rebuilt;      /* the batch found the index stale and reset it */
  uint64_t duration_ns;
  char err[256];
};

struct sq {
  store base; /* must stay first */
  char path[1024], ipath[1040];
  const char *files[3];
  int sync, busy_ms;
  uint32_t read_timeout_ms; /* a read stops after this (STORE_READ_TIMEOUT_MS) */
  uint32_t max_queue, max_lag, index_batch;
  /* writer */
  sqlite3 *wdb;
  sqlite3_stmt *w_begin, *w_commit, *w_rollback, *w_insert;
  store_queue q; /* webhooks waiting or committing */
  int batch_running;
  sq_batch batch;
  int64_t last_id;    /* highest committed row id */
  int wal_frames;     /* rows WAL frames after the last commit */
  int restart_wanted; /* a background checkpoint copied it all: fold the rest */
  sq_ckpt ckpt;
  int ckpt_running;
  /* indexer */
  sq_indexer ix;
  int64_t mark;    /* index high-water mark as last committed */
  int index_ready; /* first catch-up done (for STATUS/readiness) */
  /* readers */
  sq_reader readers[STORE_MAX_READERS];
  int nreaders;
  store_pool pool; /* which reader runs which read (store/pool.h) */
  int shutting_down;
};

/* db.cc: connections */
int sq_classify(int rc); /* an SQLite error -> STORE_BUSY (503) or STORE_ERROR (500) */
sqlite3 *sq_connect(const char *path, int sync, int busy_ms, char *err, size_t errlen);
int sq_exec(sqlite3 *db, const char *sql, char *err, size_t errlen);
int64_t sq_scalar(sqlite3 *db, const char *sql, int64_t dflt);
int sq_attach(sqlite3 *db, const char *attach_sql, const char *path, char *err, size_t errlen);
void sq_finalize_all(sqlite3_stmt **stmts, int n);
int sq_make_parent_dirs(const char *path, char *err, size_t errlen);
/* Installs the counting VFS as the default (once per process). */
int sq_vfs_install(void);
void sq_vfs_set_index_path(const char *ipath);
void sq_vfs_bytes(uint64_t *rows, uint64_t *index);

/* schema.cc */
int sq_migrate_rows(sqlite3 *db, char *err, size_t errlen);
int sq_init_index(sqlite3 *db, char *err, size_t errlen);

/* writer.cc */
int sq_submit(store *base, const message *m, int64_t now_ms, store_submit_cb cb, void *arg);
int sq_writer_open(sq *st, char *err, size_t errlen);
void sq_writer_close(sq *st);

/* indexer.cc */
int sq_indexer_open(sq *st, char *err, size_t errlen);
void sq_indexer_kick(sq *st);
void sq_indexer_stop(sq *st);
void sq_indexer_close(sq *st);
/* Worker side (and start-up, with max 0: the check alone), exposed for
 * the unit tests: indexes the rows above the index's stored mark (at most
 * `max` of them) on db, emptying a stale index first (*rebuilt then says
 * whether it held rows of another file). Returns rows indexed (0: nothing
 * to do, or another batch claimed them first), or -1 with err. Outputs
 * only: *mark, the stored mark after the call; *last_row, the rows file's
 * last id as the batch read it (0 if it did not get that far). */
int sq_index_batch(sqlite3 *db, sqlite3_stmt **stmts, int max, int64_t *mark, int64_t *last_row,
                   int *rebuilt, char *err, size_t errlen);
sqlite3 *sq_indexer_connect(const char *path, const char *ipath, int busy_ms, sqlite3_stmt ***stmts,
                            char *err, size_t errlen);
void sq_indexer_disconnect(sqlite3 *db, sqlite3_stmt **stmts);

/* readers.cc */
int sq_read(store *base, store_read *r);
/* Sets up st->pool for st->nreaders readers (start-up). */
void sq_readers_init(sq *st, uint32_t max_queue);
void sq_readers_close(sq *st);
sqlite3_stmt *sq_rstmt(store_read *r, sq_reader *rd, int id);

/* queries.cc / stats.cc (worker thread, inside a read transaction) */
const char *sq_rstmt_sql(int id);
int sq_read_messages(store_read *r, sq_reader *rd, int64_t mark, int64_t messages);
void sq_queries_init(void);
int sq_read_stats(store_read *r, sq_reader *rd, int64_t mark, int64_t messages, int64_t senders);
int sq_step_err(store_read *r, sqlite3 *db, int rc);

#endif
