/* store/pg/readers.cc: the reader pool and the read jobs.
 *
 * Up to DB_READERS connections, one per running read job, each opened by
 * the worker that first uses it; statements are prepared on a connection
 * the first time it runs them. A read whose connection turns out to be
 * dead (the server restarted) reconnects and runs once more: reads change
 * nothing, so running one twice is harmless. /messages and /stats first
 * ask for the change stamp and may be answered from rcache.cc. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg.h"

struct pg_readjob {
  job j;
  pg *st;
  store_read *r;
  int slot;
};

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
    rd->conn = pg_connect(st->url, r->err, sizeof(r->err));
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
  pg_readjob *rj = (pg_readjob *)j;
  pg *st = rj->st;
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
  if (r->rc == 0 && !hit) {
    store_rows_fix(r);
    if (r->arena.oom) {
      snprintf(r->err, sizeof(r->err), "out of memory");
      r->rc = STORE_BUSY;
    } else if (r->render) {
      r->render(r);
      if (stamp >= 0) pg_rcache_put(&st->rcache, r, stamp, &rd->scratch, &r->out);
    }
  }
}

static int read_begin(pg *st, store_read *r, int slot);

static void read_done(job *j, int cancelled) {
  pg_readjob *rj = (pg_readjob *)j;
  pg *st = rj->st;
  store_read *r = rj->r;
  if (cancelled) {
    r->rc = STORE_BUSY;
    snprintf(r->err, sizeof(r->err), "read cancelled");
  }
  if (r->rc != 0) st->db_errors++;
  int slot = rj->slot;
  st->readers[slot].busy = 0;
  st->reads_running--;
  /* Hand the slot to the next waiting read before calling back, so the
   * callback may submit another read. */
  if (st->r_head) {
    store_read *next = st->r_head;
    st->r_head = next->next;
    if (!st->r_head) st->r_tail = NULL;
    st->r_len--;
    if (read_begin(st, next, slot) != 0) {
      next->rc = STORE_BUSY;
      snprintf(next->err, sizeof(next->err), "cannot queue the read");
      next->done(next);
    }
  }
  r->done(r); /* may free r (and rj with it) */
  store_notify_idle(&st->base);
}

/* Queues r's job on reader `slot`; 0 or a libuv error (nothing queued). */
static int read_begin(pg *st, store_read *r, int slot) {
  pg_readjob *rj = (pg_readjob *)r->priv;
  rj->st = st;
  rj->r = r;
  rj->slot = slot;
  int rc = job_submit(st->base.loop, &rj->j, read_work, read_done);
  if (rc == 0) {
    st->readers[slot].busy = 1;
    st->reads_running++;
  }
  return rc;
}

int pg_read(store *base, store_read *r) {
  pg *st = (pg *)base;
  if (!st->up && r->kind != STORE_READ_READY) return STORE_E_DOWN;
  if (!r->priv) {
    r->priv = calloc(1, sizeof(pg_readjob)); /* freed by store_read_free */
    if (!r->priv) return STORE_E_NOMEM;
  }
  for (int i = 0; i < st->nreaders; i++) {
    if (!st->readers[i].busy) return read_begin(st, r, i) == 0 ? 0 : STORE_E_FULL;
  }
  if (st->r_len >= st->max_queue) return STORE_E_FULL;
  if (st->r_tail)
    st->r_tail->next = r;
  else
    st->r_head = r;
  st->r_tail = r;
  st->r_len++;
  return 0;
}

void pg_readers_close(pg *st) {
  for (int i = 0; i < st->nreaders; i++) {
    if (st->readers[i].conn) PQfinish(st->readers[i].conn);
    st->readers[i].conn = NULL;
    buf_free(&st->readers[i].scratch);
  }
}
