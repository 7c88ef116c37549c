/* store/pg/readers.cc: the read jobs on reader connections (scheduling:
 * store/pool.h).
 *
 * Up to DB_READERS connections, one per running read job, each opened by
 * the worker that first uses it, with lock_timeout DB_BUSY_TIMEOUT_MS and
 * statement_timeout PG_READ_TIMEOUT_MS: a read behind an operator's lock or
 * in a long scan ends with 503 rather than hold its connection while reads
 * queue up behind it (and shutdown, which waits for them, hangs).
 * Statements are prepared on a connection the first time it runs them.
 * A read whose connection turns out to be dead (the server restarted)
 * reconnects and runs once more: reads change nothing, so running one
 * twice is harmless. /messages and /stats first ask for the change stamp
 * and may be answered from rcache.cc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

static const char *const rstmt_names[PR_NSTMT] = {
    "r_ready", "r_stats", "r_stamp", "r_p0",  "r_p1",  "r_p2",  "r_p3",  "r_p4",  "r_p5", "r_p6",
    "r_p7",    "r_p8",    "r_p9",    "r_p10", "r_p11", "r_p12", "r_p13", "r_p14", "r_p15"};

static int stmt_for(const store_read *r) {
  if (r->kind == STORE_READ_STATS) return PR_STATS;
  if (r->kind != STORE_READ_MESSAGES) return PR_READY;
  const store_query *q = &r->query;
  return PR_PAGE +
         ((q->q_len ? 8 : 0) | (q->has_from ? 4 : 0) | (q->has_since ? 2 : 0) | (q->desc ? 1 : 0));
}

/* Worker: prepares statement `id` on rd's connection once. */
static int prepare(store_read *r, pg_reader *rd, int id) {
  if (rd->prepared & (1u << id)) return 0;
  static const Oid types[5] = {20, 20, 25, 25, 25}; /* int8, int8, text x3 */
  int n = id >= PR_PAGE ? 5 : 0;
  PGresult *res = PQprepare(rd->conn, rstmt_names[id], pg_rstmt_sql(id), n, n ? types : NULL);
  int rc = 0;
  if (PQresultStatus(res) == PGRES_COMMAND_OK)
    rd->prepared |= 1u << id;
  else
    rc = pg_classify(rd->conn, res, r->err, sizeof(r->err));
  PQclear(res);
  return rc;
}

/* Sets *hit when the answer came from the cache (r->out is filled). */
static int read_once(pg *st, store_read *r, pg_reader *rd, int64_t *stamp, int *hit) {
  if (!rd->conn) {
    rd->prepared = 0;
    rd->conn = pg_connect(st->url, st->lock_ms, PG_READ_TIMEOUT_MS, r->err, sizeof(r->err));
    if (!rd->conn) return STORE_BUSY;
  }
  int id = stmt_for(r);
  int rc = prepare(r, rd, id);
  if (rc) return rc;
  *stamp = -1;
  if (r->render && r->kind != STORE_READ_READY) {
    rc = prepare(r, rd, PR_STAMP);
    if (!rc) rc = pg_read_stamp(r, rd->conn, rstmt_names[PR_STAMP], stamp);
    if (rc) return rc;
    if (*stamp >= 0 && pg_rcache_get(&st->rcache, r, *stamp, &rd->scratch, &r->out)) {
      *hit = 1;
      return 0;
    }
  }
  switch (r->kind) {
    case STORE_READ_MESSAGES: return pg_read_messages(r, rd->conn, rstmt_names[id]);
    case STORE_READ_STATS: return pg_read_stats(r, rd->conn, rstmt_names[id]);
    default: return pg_read_ready(r, rd->conn, rstmt_names[id]);
  }
}

/* Worker thread: one read (one statement). */
static void read_work(job *j) {
  store_readjob *rj = (store_readjob *)j;
  pg *st = (pg *)rj->pool->st;
  store_read *r = rj->r;
  pg_reader *rd = &st->readers[rj->slot];
  int64_t stamp = -1;
  int hit = 0;
  for (int attempt = 0; attempt < 2; attempt++) {
    r->rc = read_once(st, r, rd, &stamp, &hit);
    if (r->rc == 0 || !rd->conn || PQstatus(rd->conn) == CONNECTION_OK) break;
    PQfinish(rd->conn); /* lost: a fresh connection, once */
    rd->conn = NULL;
    r->nrows = 0;
    buf_reset(&r->arena);
  }
  if (r->rc == 0 && !hit && store_read_finish(r) && stamp >= 0)
    pg_rcache_put(&st->rcache, r, stamp, &rd->scratch, &r->out);
}

void pg_readers_init(pg *st, uint32_t max_queue) {
  store_pool_init(&st->pool, &st->base, read_work, st->nreaders, max_queue);
}

int pg_read(store *base, store_read *r) {
  pg *st = (pg *)base;
  if (!st->up && r->kind != STORE_READ_READY) return STORE_E_DOWN;
  return store_pool_submit(&st->pool, r);
}

void pg_readers_close(pg *st) {
  for (int i = 0; i < st->nreaders; i++) {
    if (st->readers[i].conn) PQfinish(st->readers[i].conn);
    st->readers[i].conn = NULL;
    buf_free(&st->readers[i].scratch);
  }
}
