/* test_store.cc: the storage seam on the SQLite engine, on real files and a
 * real uv loop: group commit, duplicates inside one batch, the queue bound,
 * a failing batch, the ready check, reads (pages, totals, stats) exact
 * both from the index and from the not-yet-indexed tail, and reopening. */
#include <sys/stat.h>

#include "clock.h"
#include "store_fixture.h"

TEST(group_commit_and_duplicates_in_one_batch) {
  fixture f;
  if (!fixture_open(&f, 1000)) return;
  results r = {};
  char ids[10][8];
  /* The first submit starts a batch at once; the other 9 queue behind it
   * and commit together, including both copies of m1..m4. */
  const int order[10] = {0, 1, 2, 3, 4, 1, 2, 3, 4, 0};
  for (int i = 0; i < 10; i++) {
    snprintf(ids[i], sizeof(ids[i]), "m%d", order[i]);
    message m = make(ids[i], "+15550001", "2025-01-15T10:00:00Z", "hi");
    submit(&f, &m, &r);
  }
  store_gauges g;
  store_gauges_get(f.st, &g);
  CHECK_EQ_INT(g.queue_depth, 10);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(r.created, 5);
  CHECK_EQ_INT(r.duplicate, 5);
  CHECK_EQ_INT(r.error + r.busy, 0);
  CHECK_EQ_INT(batches, 2);
  CHECK_EQ_INT(max_batch, 9);
  CHECK(store_idle(f.st));
  store_gauges_get(f.st, &g);
  CHECK_EQ_INT(g.queue_depth, 0);
  CHECK_EQ_INT(g.index_lag_rows, 0); /* the indexer caught up */
  CHECK(index_batches >= 1);
  CHECK(g.rows_write_bytes > 0 && g.index_write_bytes > 0);
  CHECK_EQ_INT(sql_rows(f.dir, "SELECT count(*) FROM messages"), 5);
  fixture_close(&f);
}

TEST(queue_bound_refuses_past_max) {
  fixture f;
  if (!fixture_open(&f, 3)) return;
  results r = {};
  const char *ids[4] = {"a", "b", "c", "d"};
  for (int i = 0; i < 4; i++) {
    message m = make(ids[i], "+15550001", "2025-01-15T10:00:00Z", NULL);
    CHECK_EQ_INT(store_submit(f.st, &m, 1700000000000, on_insert, &r), i < 3 ? 0 : STORE_E_FULL);
  }
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(r.created, 3);
  CHECK_EQ_INT(sql_rows(f.dir, "SELECT count(*) FROM messages"), 3);
  fixture_close(&f);
}

TEST(failing_batch_acknowledges_nothing) {
  fixture f;
  if (!fixture_open(&f, 10)) return;
  /* Another program holds the write lock past the busy timeout. */
  char path[256];
  snprintf(path, sizeof(path), "%s/sub/app.db", f.dir);
  sqlite3 *other;
  CHECK_EQ_INT(sqlite3_open(path, &other), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(other, "BEGIN IMMEDIATE", NULL, NULL, NULL), SQLITE_OK);
  results r = {};
  message m = make("locked", "+15550001", "2025-01-15T10:00:00Z", "x");
  submit(&f, &m, &r);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(r.busy, 1);
  CHECK_EQ_INT(r.created, 0);
  CHECK(store_unready(f.st, clock_wall_ms()) != NULL); /* readiness turns 503 */
  sqlite3_exec(other, "ROLLBACK", NULL, NULL, NULL);
  sqlite3_close(other);
  CHECK_EQ_INT(sql_rows(f.dir, "SELECT count(*) FROM messages"), 0);
  store_gauges g;
  store_gauges_get(f.st, &g);
  CHECK_EQ_INT(g.db_errors, 1);
  /* The next batch commits: the failure passed. */
  submit(&f, &m, &r);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(r.created, 1);
  CHECK(store_unready(f.st, clock_wall_ms()) == NULL);
  fixture_close(&f);
}

TEST(ready_check_runs_on_a_reader) {
  fixture f;
  if (!fixture_open(&f, 10)) return;
  uv_run(&f.loop, UV_RUN_DEFAULT); /* start-up catch-up */
  store_read *r = read_now(&f, STORE_READ_READY, NULL);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK_EQ_INT(r->rc, 0);
  store_read_free(r);
  fixture_close(&f);
}

TEST(reopen_keeps_rows_and_schema) {
  fixture f;
  if (!fixture_open(&f, 10)) return;
  results r = {};
  message m = make("persist", "+15550001", "2025-01-15T10:00:00Z", "x");
  submit(&f, &m, &r);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  fixture_stop(&f);
  f.st = open_in(&f.loop, f.dir, 10);
  CHECK(f.st != NULL);
  if (f.st) {
    submit(&f, &m, &r);
    uv_run(&f.loop, UV_RUN_DEFAULT);
  }
  CHECK_EQ_INT(r.created, 1);
  CHECK_EQ_INT(r.duplicate, 1);
  CHECK_EQ_INT(sql_rows(f.dir, "PRAGMA user_version"), 3);
  fixture_close(&f);
}

/* Past SQ_WAL_HARD_FRAMES the writer checkpoints with RESTART, which waits
 * for readers. While another program holds a read transaction, that wait
 * must stay short (not the busy timeout, here 3 s) or every batch would
 * take that long; once the reader is gone the WAL starts over. */
TEST(wal_past_the_hard_bound_does_not_stall_batches) {
  fixture f;
  if (!fixture_open(&f, 10, 3000)) return;
  results r = {};
  message m = make("first", "+15550001", "2025-01-15T10:00:00Z", "x");
  submit(&f, &m, &r);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  char path[256], wal[270];
  snprintf(path, sizeof(path), "%s/sub/app.db", f.dir);
  snprintf(wal, sizeof(wal), "%s-wal", path);
  sqlite3 *reader, *other;
  CHECK_EQ_INT(sqlite3_open(path, &reader), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(reader, "BEGIN; SELECT count(*) FROM messages", NULL, NULL, NULL),
               SQLITE_OK);
  /* Another program appends 72 MB (17,600 frames) behind the reader. */
  CHECK_EQ_INT(sqlite3_open(path, &other), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(other,
                            "PRAGMA wal_autocheckpoint=0; PRAGMA synchronous=OFF;"
                            "CREATE TABLE junk(b);"
                            "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k"
                            " WHERE i < 1100) INSERT INTO junk SELECT zeroblob(65536) FROM k",
                            NULL, NULL, NULL),
               SQLITE_OK);
  sqlite3_close(other);
  /* The first batch sees the WAL's size; the next ones checkpoint first. */
  const char *ids[4] = {"w1", "w2", "w3", "w4"};
  for (int i = 0; i < 4; i++) {
    if (i == 1) max_commit_ns = 0;
    message w = make(ids[i], "+15550001", "2025-01-15T10:00:00Z", "x");
    submit(&f, &w, &r);
    uv_run(&f.loop, UV_RUN_DEFAULT);
  }
  CHECK_EQ_INT(r.created, 5);
  CHECK(max_commit_ns < 1000000000ull);
  if (max_commit_ns >= 1000000000ull)
    fprintf(stderr, "  a batch took %.2f s\n", (double)max_commit_ns / 1e9);
  struct stat sb;
  CHECK(stat(wal, &sb) == 0 && sb.st_size > 64 << 20);
  /* The reader ends: the next batch's RESTART copies the WAL and the one
   * after it starts over, trimmed to journal_size_limit (16 MiB). */
  CHECK_EQ_INT(sqlite3_exec(reader, "COMMIT", NULL, NULL, NULL), SQLITE_OK);
  sqlite3_close(reader);
  const char *more[2] = {"w5", "w6"};
  for (int i = 0; i < 2; i++) {
    message w = make(more[i], "+15550001", "2025-01-15T10:00:00Z", "x");
    submit(&f, &w, &r);
    uv_run(&f.loop, UV_RUN_DEFAULT);
  }
  CHECK_EQ_INT(r.created, 7);
  CHECK(stat(wal, &sb) == 0 && sb.st_size <= 16 << 20);
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
  CHECK_EQ_INT(uv_loop_close(&loop), 0);
}
