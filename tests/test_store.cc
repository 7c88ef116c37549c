/* test_store.cc: group commit, duplicates inside one batch, the queue
 * bound, the ready check, on a real SQLite file and a real uv loop. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "message.h"
#include "store.h"
#include "test.h"

struct results {
  int created, duplicate, error;
};

static void on_insert(void *arg, int result, const char *) {
  results *r = (results *)arg;
  if (result == STORE_CREATED) r->created++;
  else if (result == STORE_DUPLICATE) r->duplicate++;
  else r->error++;
}

static int batches, max_batch;
static void on_commit(int n, uint64_t, int) {
  batches++;
  if (n > max_batch) max_batch = n;
}

/* Opens (creating) the store at DIR/sub/app.db. */
static store *open_in(uv_loop_t *loop, const char *dir, uint32_t max_queue) {
  config cfg;
  memset(&cfg, 0, sizeof(cfg));
  snprintf(cfg.db_path, sizeof(cfg.db_path), "%s/sub/app.db", dir);
  cfg.sync = STORE_SYNC_FULL;
  cfg.max_queue = max_queue;
  cfg.readers = 2;
  char err[600];
  store *st = store_open(loop, &cfg, err, sizeof(err));
  if (!st) fprintf(stderr, "store_open: %s\n", err);
  return st;
}

/* A fresh temp dir (its name into dir) and a store in it. */
static store *open_tmp(uv_loop_t *loop, char *dir, uint32_t max_queue) {
  strcpy(dir, "/tmp/hookd-test-XXXXXX");
  if (!mkdtemp(dir)) return NULL;
  return open_in(loop, dir, max_queue);
}

static message make(const char *id) {
  message m;
  memset(&m, 0, sizeof(m));
  m.message_id = str{id, strlen(id)};
  m.from = STR_LIT("+15550001");
  m.to = STR_LIT("+15550002");
  m.ts = STR_LIT("2025-01-15T10:00:00Z");
  const char *why;
  ts_parse(m.ts.base, m.ts.len, m.ts_key, &m.ts_key_len, &why);
  return m;
}

static long count_rows(const char *dir) {
  char path[256];
  snprintf(path, sizeof(path), "%s/sub/app.db", dir);
  sqlite3 *db;
  long n = -1;
  if (sqlite3_open_v2(path, &db, SQLITE_OPEN_READONLY, NULL) == SQLITE_OK) {
    sqlite3_stmt *s;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM messages", -1, &s, NULL) == SQLITE_OK &&
        sqlite3_step(s) == SQLITE_ROW)
      n = sqlite3_column_int64(s, 0);
    sqlite3_finalize(s);
  }
  sqlite3_close(db);
  return n;
}

static void cleanup(const char *dir) {
  char cmd[300];
  snprintf(cmd, sizeof(cmd), "rm -rf '%s'", dir);
  if (system(cmd) != 0) fprintf(stderr, "cleanup failed\n");
}

/* One case's loop, temp dir and store. fixture_open() records a failure and
 * undoes itself when the store does not open; fixture_close() closes the
 * store (unless the case already did), checks the loop closes (no handle
 * left behind) and removes the dir. */
struct fixture {
  uv_loop_t loop;
  char dir[64];
  store *st;
};

static int fixture_open(fixture *f, uint32_t max_queue) {
  memset(f, 0, sizeof(*f));
  CHECK_EQ_INT(uv_loop_init(&f->loop), 0);
  f->st = open_tmp(&f->loop, f->dir, max_queue);
  CHECK(f->st != NULL);
  if (f->st) return 1;
  uv_loop_close(&f->loop);
  if (f->dir[0]) cleanup(f->dir);
  return 0;
}

static void fixture_close(fixture *f) {
  if (f->st) store_close(f->st);
  f->st = NULL;
  CHECK_EQ_INT(uv_loop_close(&f->loop), 0);
  cleanup(f->dir);
}

TEST(group_commit_and_duplicates_in_one_batch) {
  fixture f;
  if (!fixture_open(&f, 1000)) return;
  store *st = f.st;
  batches = max_batch = 0;
  store_set_commit_hook(st, on_commit);
  results r = {};
  char ids[10][8];
  /* The first submit starts a batch at once; the other 9 queue behind it
   * and commit together, including both copies of m1..m4. */
  const int order[10] = {0, 1, 2, 3, 4, 1, 2, 3, 4, 0};
  for (int i = 0; i < 10; i++) {
    snprintf(ids[i], sizeof(ids[i]), "m%d", order[i]);
    message m = make(ids[i]);
    CHECK_EQ_INT(store_submit(st, &m, 1700000000000, on_insert, &r), 0);
  }
  CHECK_EQ_INT(store_queue_depth(st), 10);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(r.created, 5);
  CHECK_EQ_INT(r.duplicate, 5);
  CHECK_EQ_INT(r.error, 0);
  CHECK_EQ_INT(batches, 2);
  CHECK_EQ_INT(max_batch, 9);
  CHECK(store_idle(st));
  CHECK_EQ_INT(store_queue_depth(st), 0);
  CHECK_EQ_INT(count_rows(f.dir), 5);
  fixture_close(&f);
}

TEST(queue_bound_refuses_past_max) {
  fixture f;
  if (!fixture_open(&f, 3)) return;
  results r = {};
  const char *ids[4] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) {
    message m = make(ids[i]);
    CHECK_EQ_INT(store_submit(f.st, &m, 1700000000000, on_insert, &r), i < 3 ? 0 : -1);
  }
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(r.created, 3);
  CHECK_EQ_INT(count_rows(f.dir), 3);
  fixture_close(&f);
}

static int ready_rc = 99;
static void on_ready(store_read *r) { ready_rc = r->rc; }

TEST(ready_check_runs_on_a_reader) {
  fixture f;
  if (!fixture_open(&f, 10)) return;
  store_read r;
  memset(&r, 0, sizeof(r));
  r.run = store_read_ready;
  r.done = on_ready;
  CHECK_EQ_INT(store_read_submit(f.st, &r), 0);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(ready_rc, 0);
  fixture_close(&f);
}

TEST(reopen_keeps_rows_and_schema) {
  fixture f;
  if (!fixture_open(&f, 10)) return;
  results r = {};
  message m = make("persist");
  CHECK_EQ_INT(store_submit(f.st, &m, 1700000000000, on_insert, &r), 0);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  store_close(f.st);
  f.st = open_in(&f.loop, f.dir, 10);
  CHECK(f.st != NULL);
  if (f.st) {
    CHECK_EQ_INT(store_submit(f.st, &m, 1700000000000, on_insert, &r), 0);
    uv_run(&f.loop, UV_RUN_DEFAULT);
  }
  CHECK_EQ_INT(r.created, 1);
  CHECK_EQ_INT(r.duplicate, 1);
  fixture_close(&f);
}

TEST(unwritable_path_fails_with_reason) {
  uv_loop_t loop;
  uv_loop_init(&loop);
  config cfg;
  memset(&cfg, 0, sizeof(cfg));
  strcpy(cfg.db_path, "/proc/hookd-no/app.db");
  cfg.max_queue = 1;
  cfg.readers = 1;
  char err[600] = "";
  store *st = store_open(&loop, &cfg, err, sizeof(err));
  CHECK(st == NULL);
  CHECK(strstr(err, "/proc/hookd-no") != NULL);
  uv_loop_close(&loop);
}
