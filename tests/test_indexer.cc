/* test_indexer.cc: the indexer's batch (sq_index_batch) on real files:
 * catching up from a mark in pieces builds exactly what one pass builds;
 * a repeated batch and a second indexer change nothing, even when the
 * second one claims a range between the first one's read and its claim;
 * an index built from other rows is noticed and rebuilt; the batch holds
 * no snapshot of the rows file while it builds. */
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
  if (!ix) {
    fixture_close(&f); /* no temp dir left behind */
    return;
  }
  char err[300];
  int64_t mark = 0;
  int rebuilt = 0, n, total = 0, calls = 0;
  int64_t last_row = 0;
  while ((n = sq_index_batch(ix, st, 300, &mark, &last_row, &rebuilt, err, sizeof(err))) > 0) {
    total += n;
    calls++;
  }
  CHECK_EQ_INT(n, 0);
  CHECK_EQ_INT(total, 1000);
  CHECK_EQ_INT(calls, 4); /* 300 + 300 + 300 + 100 */
  CHECK_EQ_INT(mark, 1000);
  CHECK_EQ_INT(last_row, 1000);
  long pieces[9];
  digest(ix, pieces);
  /* The same rows indexed in one pass, after starting over. */
  CHECK_EQ_INT(sqlite3_exec(ix, "UPDATE state SET epoch = -5", NULL, NULL, NULL), SQLITE_OK);
  n = sq_index_batch(ix, st, 5000, &mark, &last_row, &rebuilt, err, sizeof(err));
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

TEST(repeated_batch_and_second_indexer_change_nothing) {
  fixture f;
  if (!make_rows(&f, 200)) return;
  sqlite3_stmt **a_st = NULL, **b_st = NULL;
  sqlite3 *a = connect_ix(&f, &a_st), *b = connect_ix(&f, &b_st);
  if (!a || !b) {
    if (a) sq_indexer_disconnect(a, a_st);
    if (b) sq_indexer_disconnect(b, b_st);
    fixture_close(&f);
    return;
  }
  char err[300];
  int rebuilt;
  int64_t last_row = 0;
  int64_t mark_a = 0, mark_b = 0;
  CHECK_EQ_INT(sq_index_batch(a, a_st, 1000, &mark_a, &last_row, &rebuilt, err, sizeof(err)), 200);
  long before[9], after[9];
  digest(a, before);
  /* Indexer b starts from the stored mark: it finds the range taken. */
  CHECK_EQ_INT(sq_index_batch(b, b_st, 1000, &mark_b, &last_row, &rebuilt, err, sizeof(err)), 0);
  CHECK_EQ_INT(mark_b, 200);
  /* a runs again: nothing new, nothing doubled. */
  CHECK_EQ_INT(sq_index_batch(a, a_st, 1000, &mark_a, &last_row, &rebuilt, err, sizeof(err)), 0);
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
  if (!ix) {
    fixture_close(&f); /* no temp dir left behind */
    return;
  }
  char err[300];
  int rebuilt;
  int64_t last_row = 0;
  int64_t mark = 0;
  CHECK_EQ_INT(sq_index_batch(ix, st, 1000, &mark, &last_row, &rebuilt, err, sizeof(err)), 50);
  /* The rows file is replaced by another (as a restored backup would be). */
  CHECK_EQ_INT(sql_rows(f.dir, "UPDATE meta SET v = 'feedbeef' WHERE k = 'rows_id'"), 0);
  CHECK_EQ_INT(sql_rows(f.dir, "DROP TRIGGER messages_ad"), 0);
  CHECK_EQ_INT(sql_rows(f.dir, "DELETE FROM messages WHERE id > 20"), 0);
  CHECK_EQ_INT(sq_index_batch(ix, st, 1000, &mark, &last_row, &rebuilt, err, sizeof(err)), 20);
  CHECK_EQ_INT(rebuilt, 1);
  long d[9];
  digest(ix, d);
  CHECK_EQ_INT(d[0], 20);
  CHECK_EQ_INT(d[1], 20);
  CHECK_EQ_INT(d[3], 20);
  sq_indexer_disconnect(ix, st);
  fixture_close(&f);
}

/* The rows file as another program sees it while a batch runs: rows keep
 * arriving and a checkpoint runs at every probe. */
struct probe {
  sqlite3 *ix;        /* the indexer's connection (only its state is read) */
  sqlite3 *rows;      /* another connection to the rows file */
  sqlite3_stmt *ins;  /* appends one row */
  int in_txn, errors; /* probes inside the batch's transactions */
  int log, copied;    /* the last such probe's PASSIVE checkpoint */
};

static int probe_ckpt(void *arg) {
  probe *p = (probe *)arg;
  if (sqlite3_get_autocommit(p->ix)) return 0; /* between the batch's transactions */
  p->in_txn++;
  sqlite3_bind_int(p->ins, 1, p->in_txn);
  if (sqlite3_step(p->ins) != SQLITE_DONE) p->errors++;
  sqlite3_reset(p->ins);
  if (sqlite3_wal_checkpoint_v2(p->rows, "main", SQLITE_CHECKPOINT_PASSIVE, &p->log, &p->copied) !=
      SQLITE_OK)
    p->errors++;
  return 0;
}

/* The batch reads the rows file in one short transaction; while it builds
 * the index it holds no snapshot of the rows file, so a checkpoint running
 * then copies every frame, the ones appended after the load included. */
TEST(rows_wal_checkpoints_fully_while_a_batch_builds) {
  fixture f;
  if (!make_rows(&f, 2000)) return;
  sqlite3_stmt **st = NULL;
  sqlite3 *ix = connect_ix(&f, &st);
  if (!ix) {
    fixture_close(&f); /* no temp dir left behind */
    return;
  }
  char path[256], err[300];
  snprintf(path, sizeof(path), "%s/sub/app.db", f.dir);
  probe p = {};
  p.ix = ix;
  CHECK_EQ_INT(sqlite3_open(path, &p.rows), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_exec(p.rows, "PRAGMA synchronous=OFF", NULL, NULL, NULL), SQLITE_OK);
  CHECK_EQ_INT(sqlite3_prepare_v2(p.rows,
                                  "INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts,"
                                  " ts_key, text, created_at) VALUES('late' || ?1, '+1', '+2',"
                                  " 'x', '2025-02-01T00:00:00', 'late', 'now')",
                                  -1, &p.ins, NULL),
               SQLITE_OK);
  sqlite3_progress_handler(ix, 500, probe_ckpt, &p); /* replaces the indexer's yield */
  int64_t mark = 0;
  int rebuilt;
  int64_t last_row = 0;
  CHECK_EQ_INT(sq_index_batch(ix, st, 5000, &mark, &last_row, &rebuilt, err, sizeof(err)), 2000);
  CHECK_EQ_INT(p.errors, 0);
  CHECK(p.in_txn > 20); /* the probe ran while the batch worked */
  CHECK(p.log > 0);
  CHECK_EQ_INT(p.copied, p.log);
  sqlite3_finalize(p.ins);
  sqlite3_close(p.rows);
  sq_indexer_disconnect(ix, st);
  fixture_close(&f);
}

/* A second indexer commits a batch of the same rows after the first one
 * read them and before it claims them. */
struct racer {
  sqlite3 *db;
  sqlite3_stmt **st;
  int calls, n;
};

static int race_on_commit(void *arg) {
  racer *r = (racer *)arg;
  if (r->calls++ == 0) {
    char err[300];
    int64_t mark;
    int rebuilt;
    int64_t last_row = 0;
    r->n = sq_index_batch(r->db, r->st, 1000, &mark, &last_row, &rebuilt, err, sizeof(err));
    if (r->n < 0) fprintf(stderr, "  racer: %s\n", err);
  }
  return 0;
}

TEST(a_range_claimed_meanwhile_is_not_indexed_twice) {
  fixture f;
  if (!make_rows(&f, 200)) return;
  sqlite3_stmt **a_st = NULL, **b_st = NULL;
  sqlite3 *a = connect_ix(&f, &a_st), *b = connect_ix(&f, &b_st);
  if (!a || !b) {
    if (a) sq_indexer_disconnect(a, a_st);
    if (b) sq_indexer_disconnect(b, b_st);
    fixture_close(&f);
    return;
  }
  char err[300];
  int rebuilt;
  int64_t last_row = 0;
  int64_t mark = 0;
  const long want[9] = {200, 200, 7, 200, 200, 200, 7, 200, 66};
  long got[9];
  CHECK_EQ_INT(sq_index_batch(b, b_st, 100, &mark, &last_row, &rebuilt, err, sizeof(err)), 100);
  /* a reads rows 101..200; b indexes them before a claims them (a's first
   * commit ends its read of the rows file). */
  racer r = {b, b_st, 0, -2};
  sqlite3_commit_hook(a, race_on_commit, &r);
  CHECK_EQ_INT(sq_index_batch(a, a_st, 1000, &mark, &last_row, &rebuilt, err, sizeof(err)), 0);
  CHECK_EQ_INT(r.n, 100);
  CHECK_EQ_INT(mark, 200);
  digest(a, got);
  for (int i = 0; i < 9; i++) CHECK_EQ_INT(got[i], want[i]);
  /* The same race while both find the index stale: a does not empty what
   * b has just rebuilt. */
  CHECK_EQ_INT(sqlite3_exec(b, "UPDATE state SET epoch = -5", NULL, NULL, NULL), SQLITE_OK);
  r.calls = 0;
  CHECK_EQ_INT(sq_index_batch(a, a_st, 1000, &mark, &last_row, &rebuilt, err, sizeof(err)), 0);
  CHECK_EQ_INT(r.n, 200);
  CHECK_EQ_INT(mark, 200);
  sqlite3_commit_hook(a, NULL, NULL);
  digest(a, got);
  for (int i = 0; i < 9; i++) CHECK_EQ_INT(got[i], want[i]);
  CHECK_EQ_INT(sq_index_batch(a, a_st, 1000, &mark, &last_row, &rebuilt, err, sizeof(err)), 0);
  sq_indexer_disconnect(a, a_st);
  sq_indexer_disconnect(b, b_st);
  fixture_close(&f);
}
