/* test_store_read.cc: reads through the seam are exact whether a row is
 * already indexed or still in the tail above the indexer's mark. Rows that
 * another program inserts into the rows file are in the tail until the next
 * index batch, which makes the tail observable without timing tricks. */
#include "../src/store/sqlite/sq.h"
#include "store_fixture.h"

/* The page's message ids joined by ',' into out. */
static void ids_of(const store_read *r, char *out, size_t n) {
  out[0] = 0;
  for (int i = 0; i < r->nrows; i++) {
    size_t len = strlen(out);
    snprintf(out + len, n - len, "%s%.*s", i ? "," : "", (int)r->rows[i].message_id.len,
             r->rows[i].message_id.base);
  }
}

static store_query query(void) {
  store_query q;
  memset(&q, 0, sizeof(q));
  q.limit = 50;
  return q;
}

static void set_q(store_query *q, const char *needle) {
  q->q_len = strlen(needle);
  memcpy(q->q, needle, q->q_len);
}

/* Checks a page's ids and total. */
static void expect_page(fixture *f, const store_query *q, const char *want_ids, long want_total) {
  store_read *r = read_now(f, STORE_READ_MESSAGES, q);
  char got[512];
  ids_of(r, got, sizeof(got));
  CHECK_EQ_INT(r->rc, 0);
  if (strcmp(got, want_ids) != 0) {
    test_failures++;
    fprintf(stderr, "  page: got '%s', want '%s' (%s)\n", got, want_ids, r->err);
  }
  CHECK_EQ_INT(r->total, want_total);
  store_read_free(r);
}

/* The same questions, asked of any state of the index. */
static void ask_all(fixture *f, int with_tail) {
  store_query q = query();
  expect_page(f, &q, with_tail ? "a,t1,b,t2,c,t3,d" : "a,b,c,d", with_tail ? 7 : 4);
  q.desc = 1;
  expect_page(f, &q, with_tail ? "d,t3,c,t2,b,t1,a" : "d,c,b,a", with_tail ? 7 : 4);
  q = query();
  q.limit = 2;
  q.offset = 1;
  expect_page(f, &q, with_tail ? "t1,b" : "b,c", with_tail ? 7 : 4);
  q = query();
  q.has_from = 1;
  strcpy(q.from, "+1111");
  q.from_len = 5;
  expect_page(f, &q, with_tail ? "a,t1,c" : "a,c", with_tail ? 3 : 2);
  q = query();
  q.has_since = 1;
  strcpy(q.since_key, "2025-01-02T00:00:00");
  q.since_len = strlen(q.since_key);
  expect_page(f, &q, with_tail ? "b,t2,c,t3,d" : "b,c,d", with_tail ? 5 : 3);
  q = query();
  set_q(&q, "ÉTÉ"); /* folded: matches été and ÉTÉ */
  expect_page(f, &q, with_tail ? "a,t2,d" : "a,d", with_tail ? 3 : 2);
  q = query();
  set_q(&q, "zz"); /* short needles walk */
  expect_page(f, &q, with_tail ? "b,t3" : "b", with_tail ? 2 : 1);
  q = query();
  set_q(&q, "été");
  q.has_from = 1;
  strcpy(q.from, "+2222");
  q.from_len = 5;
  expect_page(f, &q, with_tail ? "t2,d" : "d", with_tail ? 2 : 1);

  store_read *r = read_now(f, STORE_READ_STATS, NULL);
  CHECK_EQ_INT(r->rc, 0);
  const store_stats *s = &r->stats;
  CHECK_EQ_INT(s->total, with_tail ? 7 : 4);
  CHECK_EQ_INT(s->senders, with_tail ? 3 : 2);
  CHECK_EQ_INT(s->ntop, with_tail ? 3 : 2);
  CHECK_STR(s->top[0].from, s->top[0].from_len, with_tail ? "+1111" : "+1111");
  CHECK_EQ_INT(s->top[0].n, with_tail ? 3 : 2);
  if (with_tail) {
    CHECK_STR(s->top[1].from, s->top[1].from_len, "+2222");
    CHECK_EQ_INT(s->top[1].n, 3);
    CHECK_STR(s->top[2].from, s->top[2].from_len, "+3333");
    CHECK_EQ_INT(s->top[2].n, 1);
  }
  CHECK_STR(s->first_ts, s->first_len, "2025-01-01T10:00:00Z");
  CHECK_STR(s->last_ts, s->last_len, "2025-01-04T10:00:00.5Z");
  store_read_free(r);
}

TEST(reads_exact_from_index_and_tail) {
  fixture f;
  if (!fixture_open(&f, 100)) return;
  results res = {};
  message m[4] = {
      make("a", "+1111", "2025-01-01T10:00:00Z", "l'été est là"),
      make("b", "+2222", "2025-01-02T10:00:00Z", "zz top"),
      make("c", "+1111", "2025-01-03T10:00:00Z", NULL),
      make("d", "+2222", "2025-01-04T10:00:00.5Z", "ÉTÉ"),
  };
  for (int i = 0; i < 4; i++) submit(&f, &m[i], &res);
  uv_run(&f.loop, UV_RUN_DEFAULT); /* commits, then the indexer catches up */
  CHECK_EQ_INT(res.created, 4);
  store_gauges g;
  store_gauges_get(f.st, &g);
  CHECK_EQ_INT(g.index_lag_rows, 0);
  ask_all(&f, 0);

  /* Three rows from another program: only in the tail. */
  CHECK_EQ_INT(sql_rows(f.dir,
                        "INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, "
                        "text, created_at) VALUES"
                        "('t1', '+1111', '+1', '2025-01-01T12:00:00Z', '2025-01-01T12:00:00', "
                        "'x', 'now'),"
                        "('t2', '+2222', '+1', '2025-01-02T12:00:00Z', '2025-01-02T12:00:00', "
                        "'Été', 'now'),"
                        "('t3', '+3333', '+1', '2025-01-03T12:00:00Z', '2025-01-03T12:00:00', "
                        "'zzz', 'now')"),
               0);
  ask_all(&f, 1);

  /* A commit kicks the indexer, which takes the foreign rows too: the
   * answers do not change, but now they come from the index. */
  message e = make("e", "+9999", "2030-01-01T00:00:00Z", NULL);
  submit(&f, &e, &res);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  store_gauges_get(f.st, &g);
  CHECK_EQ_INT(g.index_lag_rows, 0);
  store_query q = query(); /* the questions e does not change, now indexed */
  q.has_from = 1;
  strcpy(q.from, "+1111");
  q.from_len = 5;
  expect_page(&f, &q, "a,t1,c", 3);
  q = query();
  set_q(&q, "ÉTÉ");
  expect_page(&f, &q, "a,t2,d", 3);
  q = query();
  set_q(&q, "zz");
  expect_page(&f, &q, "b,t3", 2);
  q = query();
  q.has_since = 1;
  strcpy(q.since_key, "2030-01-01T00:00:00");
  q.since_len = strlen(q.since_key);
  expect_page(&f, &q, "e", 1);
  CHECK_EQ_INT(sql_rows(f.dir, "DELETE FROM messages WHERE message_id = 'e'"), 0);
  /* An operator's delete moves the epoch: the next batch rebuilds. */
  message h = make("h", "+9999", "1999-01-01T00:00:00Z", NULL);
  submit(&f, &h, &res);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  q = query();
  q.has_from = 1;
  strcpy(q.from, "+9999");
  q.from_len = 5;
  expect_page(&f, &q, "h", 1);
  fixture_close(&f);
}

/* Rows another program inserts after hookd's last commit are taken by the
 * index batch that commit started (after its debounce): that batch moves
 * the store generation (a cached answer lacks them) and hookd's last row
 * id (the lag counts them). */
TEST(rows_of_another_program_move_the_generation) {
  fixture f;
  if (!fixture_open(&f, 100)) return;
  results res = {};
  message a = make("a", "+1111", "2025-01-01T10:00:00Z", "x");
  message b = make("b", "+1111", "2025-01-02T10:00:00Z", "x");
  submit(&f, &a, &res);
  uv_run(&f.loop, UV_RUN_DEFAULT);
  submit(&f, &b, &res);
  /* b commits; the indexer waits for company (the loop does not run on
   * until the rows below are in, so it cannot start before). */
  while (batches < 2) uv_run(&f.loop, UV_RUN_ONCE);
  uint64_t gen = store_generation(f.st);
  CHECK_EQ_INT(sql_rows(f.dir,
                        "INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, "
                        "text, created_at) VALUES"
                        "('t1', '+2222', '+1', '2025-01-03T12:00:00Z', '2025-01-03T12:00:00', "
                        "'x', 'now'),"
                        "('t2', '+2222', '+1', '2025-01-04T12:00:00Z', '2025-01-04T12:00:00', "
                        "'x', 'now')"),
               0);
  int before = index_batches;
  uv_run(&f.loop, UV_RUN_DEFAULT);
  CHECK(index_batches > before);
  CHECK(store_generation(f.st) > gen);
  store_gauges g;
  store_gauges_get(f.st, &g);
  CHECK_EQ_INT(g.index_lag_rows, 0);
  store_query q = query();
  expect_page(&f, &q, "a,b,t1,t2", 4);
  fixture_close(&f);
}

/* A read that runs past its time stops (503), and the reader connection
 * serves the next read. A zero timeout makes the first progress check, after
 * SQ_READ_CHECK_STEPS VM steps, the deadline: a scan of 5,000 unindexed rows
 * for a 2-character needle takes far more steps than that. */
TEST(a_read_past_its_time_stops_and_the_reader_goes_on) {
  fixture f;
  if (!fixture_open(&f, 100)) return;
  CHECK_EQ_INT(
      sql_rows(f.dir,
               "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 5000)"
               " INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, text,"
               " created_at) SELECT 'm' || i, '+1111', '+1', '2025-01-01T10:00:00Z',"
               " '2025-01-01T10:00:00', 'text number ' || i, 'now' FROM n"),
      0);
  sq *st = (sq *)f.st;
  store_query q = query();
  set_q(&q, "zq");
  st->read_timeout_ms = 0;
  store_read *r = read_now(&f, STORE_READ_MESSAGES, &q);
  CHECK_EQ_INT(r->rc, STORE_BUSY);
  CHECK(strstr(r->err, "interrupt") != NULL);
  store_read_free(r);
  st->read_timeout_ms = STORE_READ_TIMEOUT_MS;
  expect_page(&f, &q, "", 0);
  set_q(&q, "number 4999");
  expect_page(&f, &q, "m4999", 1);
  fixture_close(&f);
}
