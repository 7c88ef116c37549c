/* store_fixture.h: what the store tests share: a real loop, a temp dir,
 * the SQLite engine in it, helpers to submit, read, and reach the rows file
 * from a second connection (as another program would). */
#ifndef HOOKD_STORE_FIXTURE_H
#define HOOKD_STORE_FIXTURE_H

#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "message.h"
#include "store.h"
#include "test.h"

struct results {
  int created, duplicate, error, busy;
};

static inline void on_insert(void *arg, int result, const char *) {
  results *r = (results *)arg;
  if (result == STORE_CREATED)
    r->created++;
  else if (result == STORE_DUPLICATE)
    r->duplicate++;
  else if (result == STORE_BUSY)
    r->busy++;
  else
    r->error++;
}

static int batches, max_batch, index_batches;
static uint64_t max_commit_ns; /* the longest batch (its checkpoint included) */
static inline void on_commit(int n, uint64_t ns, int) {
  batches++;
  if (n > max_batch) max_batch = n;
  if (ns > max_commit_ns) max_commit_ns = ns;
}
static inline void on_index(int, uint64_t, int ok) { index_batches += ok; }

static inline store *open_in(uv_loop_t *loop, const char *dir, uint32_t max_queue,
                             uint32_t busy_ms = 200) {
  config cfg;
  memset(&cfg, 0, sizeof(cfg));
  snprintf(cfg.db_path, sizeof(cfg.db_path), "%s/sub/app.db", dir);
  snprintf(cfg.db_url, sizeof(cfg.db_url), "sqlite:///%.900s", cfg.db_path);
  cfg.sync = STORE_SYNC_FULL;
  cfg.max_queue = max_queue;
  cfg.readers = 2;
  cfg.busy_timeout_ms = busy_ms;
  char err[600];
  store *st = store_open(loop, &cfg, err, sizeof(err));
  if (!st) fprintf(stderr, "store_open: %s\n", err);
  static const store_hooks h = {on_commit, on_index};
  if (st) store_set_hooks(st, &h);
  return st;
}

static inline message make(const char *id, const char *from, const char *ts, const char *text) {
  message m;
  memset(&m, 0, sizeof(m));
  m.message_id = str{id, strlen(id)};
  m.from = str{from, strlen(from)};
  m.to = STR_LIT("+15550002");
  m.ts = str{ts, strlen(ts)};
  if (text) m.text = str{text, strlen(text)};
  const char *why;
  ts_parse(m.ts.base, m.ts.len, m.ts_key, &m.ts_key_len, &why);
  return m;
}

/* Runs SQL on the rows file from a second connection (another program). */
static inline long sql_rows(const char *dir, const char *sql) {
  char path[256];
  snprintf(path, sizeof(path), "%s/sub/app.db", dir);
  sqlite3 *db;
  long n = -1;
  if (sqlite3_open(path, &db) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK) {
      int rc = sqlite3_step(s);
      n = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : rc == SQLITE_DONE ? 0 : -1;
    }
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return n;
}

struct fixture {
  uv_loop_t loop;
  char dir[64];
  store *st;
};

static inline int fixture_open(fixture *f, uint32_t max_queue, uint32_t busy_ms = 200) {
  memset(f, 0, sizeof(*f));
  batches = max_batch = index_batches = 0;
  max_commit_ns = 0;
  CHECK_EQ_INT(uv_loop_init(&f->loop), 0);
  strcpy(f->dir, "/tmp/hookd-test-XXXXXX");
  if (mkdtemp(f->dir)) f->st = open_in(&f->loop, f->dir, max_queue, busy_ms);
  CHECK(f->st != NULL);
  if (f->st) return 1;
  uv_loop_close(&f->loop);
  return 0;
}

/* Stops the store's background work, lets the loop finish, closes. */
static inline void fixture_stop(fixture *f) {
  if (!f->st) return;
  store_shutdown(f->st);
  uv_run(&f->loop, UV_RUN_DEFAULT);
  CHECK(store_idle(f->st));
  store_close(f->st);
  f->st = NULL;
}

static inline void fixture_close(fixture *f) {
  fixture_stop(f);
  CHECK_EQ_INT(uv_loop_close(&f->loop), 0);
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", f->dir);
  if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
}

static inline void submit(fixture *f, const message *m, results *r) {
  CHECK_EQ_INT(store_submit(f->st, m, 1700000000000, on_insert, r), 0);
}

/* Runs one read to completion (the caller frees it). */
static int reads_done;
static inline void on_read(store_read *) { reads_done++; }
static inline store_read *read_now(fixture *f, int kind, const store_query *q) {
  store_read *r = (store_read *)calloc(1, sizeof(store_read));
  r->kind = kind;
  if (q) r->query = *q;
  r->done = on_read;
  int before = reads_done;
  CHECK_EQ_INT(store_read_submit(f->st, r), 0);
  while (reads_done == before) uv_run(&f->loop, UV_RUN_ONCE);
  return r;
}

#endif
