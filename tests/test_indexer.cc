/* test_indexer.cc: the indexer's batch (sq_index_batch) on real files:
 * catching up from a mark in pieces builds exactly what one pass builds;
 * a replayed batch and a second indexer change nothing; an index built
 * from other rows is noticed and rebuilt. */
#include "../src/store/sqlite/sq.h"
#include "store_fixture.h"

static const char *fold_sql =
    "SELECT (SELECT mark FROM state), (SELECT messages FROM state), (SELECT senders FROM state),"
    " (SELECT count(*) FROM by_ts), (SELECT count(*) FROM by_from),"
    " (SELECT sum(n) FROM sender_counts), (SELECT count(*) FROM sender_counts),"
    " (SELECT sum(n) FROM ts_hours), (SELECT count(*) FROM fts WHERE fts MATCH '\"ell\"')";

/* A digest of the index: every count that must agree with the rows. */
static void digest(sqlite3 *ix, long out[9]) {
  sqlite3_stmt *s = NULL;
  memset(out, 0xff, 9 * sizeof(long));
  if (sqlite3_prepare_v2(ix, fold_sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    for (int i = 0; i < 9; i++) out[i] = (long)sqlite3_column_int64(s, i);
  sqlite3_finalize(s);
}

/* Creates the rows file (through the store) and n rows in it, 7 senders,
 * every third text containing "hello". */
static int make_rows(fixture *f, int n) {
  if (!fixture_open(f, 10)) return 0;
  fixture_stop(f); /* schema created; now act as another program */
  char sql[512];
  snprintf(sql, sizeof(sql),
           "WITH RECURSIVE k(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM k WHERE i < %d)"
           " INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, text, created_at)"
           " SELECT 'm' || i, '+1' || (i %% 7), '+2', 'x', printf('2025-01-%%02dT%%02d:00:00', 1 + "
           "i %% 28,"
           " i %% 24), CASE WHEN i %% 3 = 0 THEN 'Hello ' || i ELSE 'bye' END, 'now' FROM k",
           n);
  CHECK_EQ_INT(sql_rows(f->dir, sql), 0);
  return 1;
}

static sqlite3 *connect_ix(fixture *f, sqlite3_stmt ***stmts) {
  char path[256], ipath[270], err[300];
  snprintf(path, sizeof(path), "%s/sub/app.db", f->dir);
  snprintf(ipath, sizeof(ipath), "%s-index", path);
  sqlite3 *db = sq_indexer_connect(path, ipath, 1000, stmts, err, sizeof(err));
  if (!db) fprintf(stderr, "connect: %s\n", err);
  CHECK(db != NULL);
  return db;
}

TEST(catch_up_in_pieces_equals_one_pass) {
  fixture f;
  if (!make_rows(&f, 1000)) return;
  sqlite3_stmt **st = NULL;
  sqlite3 *ix = connect_ix(&f, &st);
  if (!ix) return;
  char err[300];
  int64_t mark = 0;
  int rebuilt = 0, n, total = 0, calls = 0;
  while ((n = sq_index_batch(ix, st, 300, &mark, &rebuilt, err, sizeof(err))) > 0) {
    total += n;
    calls++;
  }
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(total, 1000);
  CHECK_EQ_INT(calls, 4); /* 300 + 300 + 300 + 100 */
  CHECK_EQ_INT(mark, 1000);
  long pieces[9];
  digest(ix, pieces);
  /* The same rows indexed in one pass, after starting over. */
  CHECK_EQ_INT(sqlite3_exec(ix, "UPDATE state SET epoch = -5", NULL, NULL, NULL), SQLITE_OK);
  n = sq_index_batch(ix, st, 5000, &mark, &rebuilt, err, sizeof(err));
  CHECK_EQ_INT(n, 1000);
  CHECK_EQ_INT(rebuilt, 1);
  long one[9];
  digest(ix, one);
  for (int i = 0; i < 9; i++) CHECK_EQ_INT(pieces[i], one[i]);
  const long want[9] = {1000, 1000, 7, 1000, 1000, 1000, 7, 1000, 333};
  for (int i = 0; i < 9; i++) CHECK_EQ_INT(one[i], want[i]);
  sq_indexer_disconnect(ix, st);
  fixture_close(&f);
}

TEST(replayed_batch_and_second_indexer_change_nothing) {
  fixture f;
  if (!make_rows(&f, 200)) return;
  sqlite3_stmt **a_st = NULL, **b_st = NULL;
  sqlite3 *a = connect_ix(&f, &a_st), *b = connect_ix(&f, &b_st);
  if (!a || !b) return;
  char err[300];
  int rebuilt;
  int64_t mark_a = 0, mark_b = 0;
  CHECK_EQ_INT(sq_index_batch(a, a_st, 1000, &mark_a, &rebuilt, err, sizeof(err)), 200);
  long before[9], after[9];
  digest(a, before);
  /* Indexer b still believes the mark is 0: it finds the range taken. */
  CHECK_EQ_INT(sq_index_batch(b, b_st, 1000, &mark_b, &rebuilt, err, sizeof(err)), 0);
  CHECK_EQ_INT(mark_b, 200);
  /* a replays its batch from the old mark: nothing new, nothing doubled. */
  mark_a = 0;
  CHECK_EQ_INT(sq_index_batch(a, a_st, 1000, &mark_a, &rebuilt, err, sizeof(err)), 0);
  digest(a, after);
  for (int i = 0; i < 9; i++) CHECK_EQ_INT(before[i], after[i]);
  CHECK_EQ_INT(rebuilt, 0);
  sq_indexer_disconnect(a, a_st);
  sq_indexer_disconnect(b, b_st);
  fixture_close(&f);
}

TEST(index_of_other_rows_is_rebuilt) {
  fixture f;
  if (!make_rows(&f, 50)) return;
  sqlite3_stmt **st = NULL;
  sqlite3 *ix = connect_ix(&f, &st);
  if (!ix) return;
  char err[300];
  int rebuilt;
  int64_t mark = 0;
  CHECK_EQ_INT(sq_index_batch(ix, st, 1000, &mark, &rebuilt, err, sizeof(err)), 50);
  /* The rows file is replaced by another (as a restored backup would be). */
  CHECK_EQ_INT(sql_rows(f.dir, "UPDATE meta SET v = 'feedbeef' WHERE k = 'rows_id'"), 0);
  CHECK_EQ_INT(sql_rows(f.dir, "DROP TRIGGER messages_ad"), 0);
  CHECK_EQ_INT(sql_rows(f.dir, "DELETE FROM messages WHERE id > 20"), 0);
  CHECK_EQ_INT(sq_index_batch(ix, st, 1000, &mark, &rebuilt, err, sizeof(err)), 20);
  CHECK_EQ_INT(rebuilt, 1);
  long d[9];
  digest(ix, d);
  CHECK_EQ_INT(d[0], 20);
  CHECK_EQ_INT(d[1], 20);
  CHECK_EQ_INT(d[3], 20);
  sq_indexer_disconnect(ix, st);
  fixture_close(&f);
}
