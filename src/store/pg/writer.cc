/* store/pg/writer.cc: the acknowledging path. Inserts queue up on the
 * loop; while no batch runs, the whole queue (up to STORE_MAX_BATCH)
 * becomes one threadpool job that sends ONE prepared statement: the batch
 * as binary text[] parameters, unnest()ed, sorted by message_id, inserted
 * with ON CONFLICT (message_id) DO NOTHING, returning the ordinal of each
 * request that created its row. One statement is one implicit
 * transaction: the server commits it (with the count triggers) before it
 * says ReadyForQuery, and only then does any caller hear 200.
 *
 * Sorting by message_id makes every batch take its unique-index locks in
 * the same order, so hosts inserting the same ids at once wait for each
 * other (then see a duplicate) instead of deadlocking. Inside one batch the
 * first request of an id (queue order) creates it, as in the SQLite engine.
 *
 * A lost connection fails the batch with STORE_BUSY (503 + Retry-After),
 * marks the store down and starts reconnecting with backoff (engine.cc);
 * nothing is acknowledged that the server did not confirm. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casefold.h"
#include "pg.h"

#define PG_DEADLOCK_RETRIES 3

static const char insert_sql[] =
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    "  $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY"
    "  AS u(m, f, t, ts, k, x, xf, c, i)),"
    " ins AS (INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, text,"
    "  text_folded, created_at) SELECT m, f, t, ts, k, x, xf, c FROM u ORDER BY m COLLATE \"C\", i"
    "  ON CONFLICT (message_id) DO NOTHING RETURNING message_id)"
    " SELECT min(u.i) FROM ins JOIN u ON u.m COLLATE \"C\" = ins.message_id GROUP BY "
    "ins.message_id";

static void batch_start(pg *st);

/* ---- Gathering -------------------------------------------------------------
 * The clients of a batch that just committed send their next webhook a few
 * hundred microseconds after their 200. Starting the next batch at once
 * would split the clients into two alternating halves, each committing
 * half as many rows per WAL flush. So after a batch of n, the writer waits
 * until the queue holds what was waiting plus n (everyone is back), or
 * PG_GATHER_MS at most, like PostgreSQL's commit_delay. A lone client
 * (n = 1) never waits. */

static void on_gathered(uv_timer_t *t) {
  pg *st = (pg *)t->data;
  st->gathering = 0;
  if (st->q_head && !st->batch_running && st->up) batch_start(st);
}

static void gather_end(pg *st) {
  if (!st->gathering) return;
  uv_timer_stop(&st->gather);
  st->gathering = 0;
}

/* Loop side, after a batch: whether the next one waits (0: start now). */
static int gather_begin(pg *st, uint32_t expect) {
  if (expect <= st->q_len || st->shutting_down || !st->up) return 0;
  if (uv_timer_start(&st->gather, on_gathered, PG_GATHER_MS, 0) != 0) return 0;
  st->gathering = 1;
  st->expect = expect > STORE_MAX_BATCH ? STORE_MAX_BATCH : expect;
  return 1;
}

/* Shutdown: whatever waits goes now. */
void pg_writer_flush(pg *st) {
  gather_end(st);
  if (st->q_head && !st->batch_running && st->up) batch_start(st);
}

/* Worker: connect, migrate, prepare. 0, STORE_BUSY (try again later) or
 * STORE_ERROR (the database refuses this hookd). */
int pg_writer_connect(pg *st, char *err, size_t errlen) {
  if (st->wconn) PQfinish(st->wconn);
  st->w_prepared = 0;
  st->wconn = pg_connect(st->url, err, errlen);
  if (!st->wconn) return STORE_BUSY;
  int rc = 0;
  if (pg_migrate(st->wconn, err, errlen)) {
    rc =
        PQstatus(st->wconn) == CONNECTION_OK && !strstr(err, "deadlock") ? STORE_ERROR : STORE_BUSY;
  } else {
    /* Like SQLite's busy timeout: a lock held elsewhere (an operator's
     * LOCK TABLE) turns into 503 after DB_BUSY_TIMEOUT_MS, not a hang. */
    char set[64];
    snprintf(set, sizeof(set), "SET lock_timeout = %d", st->busy_ms);
    if (pg_exec(st->wconn, set, err, errlen)) {
      PQfinish(st->wconn);
      st->wconn = NULL;
      return STORE_BUSY;
    }
    PGresult *res = PQprepare(st->wconn, "w_insert", insert_sql, 0, NULL);
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
      st->w_prepared = 1;
    else
      rc = pg_classify(st->wconn, res, err, errlen);
    PQclear(res);
  }
  if (rc) {
    PQfinish(st->wconn);
    st->wconn = NULL;
  }
  return rc;
}

void pg_writer_close(pg *st) {
  if (st->wconn) PQfinish(st->wconn);
  st->wconn = NULL;
  while (st->free_list) {
    pg_insert *it = st->free_list;
    st->free_list = it->next;
    free(it->data);
    free(it);
  }
  buf_free(&st->batch.params);
}

int pg_submit(store *base, const message *m, int64_t now_ms, store_submit_cb cb, void *arg) {
  pg *st = (pg *)base;
  if (!st->up) return STORE_E_DOWN;
  if (st->q_len >= st->max_queue) return STORE_E_FULL;
  const str f[PF_FOLDED] = {m->message_id, m->from, m->to, m->ts, str{m->ts_key, m->ts_key_len},
                            m->text};
  size_t need = 1;
  for (int i = 0; i < PF_FOLDED; i++) need += f[i].len;
  pg_insert *it = st->free_list;
  if (it && it->cap < need) it = NULL; /* keep the pool; allocate below */
  if (it) {
    st->free_list = it->next;
  } else {
    it = (pg_insert *)calloc(1, sizeof(pg_insert));
    if (!it) return STORE_E_NOMEM;
    it->data = (char *)malloc(need);
    if (!it->data) {
      free(it);
      return STORE_E_NOMEM;
    }
    it->cap = need;
  }
  size_t off = 0;
  for (int i = 0; i < PF_FOLDED; i++) {
    if (f[i].len) memcpy(it->data + off, f[i].base, f[i].len);
    it->off[i] = off;
    it->len[i] = f[i].len;
    off += f[i].len;
  }
  it->has_text = m->text.base != NULL;
  clock_iso_ms(now_ms, it->created_at);
  it->cb = cb;
  it->arg = arg;
  it->next = NULL;
  if (st->q_tail)
    st->q_tail->next = it;
  else
    st->q_head = it;
  st->q_tail = it;
  st->q_len++;
  if (!st->batch_running && (!st->gathering || st->q_len >= st->expect)) {
    gather_end(st);
    batch_start(st);
  }
  return 0;
}

static void put_u32(buf *b, uint32_t v) {
  v = htonl(v);
  buf_append(b, &v, 4);
}

/* Appends field `k` of every insert as a binary text[] (libpq's format:
 * ndim, has-null, element type, size, lower bound, then length + bytes,
 * -1 for NULL). Text goes in as it came; PF_FOLDED is folded here. */
static void put_array(buf *b, pg_insert *head, int n, int k) {
  int nullable = k == PF_TEXT || k == PF_FOLDED;
  put_u32(b, 1);
  put_u32(b, nullable ? 1 : 0);
  put_u32(b, 25); /* text */
  put_u32(b, (uint32_t)n);
  put_u32(b, 1);
  for (pg_insert *it = head; it; it = it->next) {
    if (nullable && !it->has_text) {
      put_u32(b, 0xffffffffu);
      continue;
    }
    if (k == PF_FOLDED) {
      size_t at = b->len;
      put_u32(b, 0); /* patched below */
      casefold_utf8(it->data + it->off[PF_TEXT], it->len[PF_TEXT], b);
      if (!b->oom) {
        uint32_t len = htonl((uint32_t)(b->len - at - 4));
        memcpy(b->data + at, &len, 4);
      }
    } else if (k == PF_NFIELDS) { /* created_at */
      put_u32(b, CLOCK_ISO_LEN);
      buf_append(b, it->created_at, CLOCK_ISO_LEN);
    } else {
      put_u32(b, (uint32_t)it->len[k]);
      buf_append(b, it->data + it->off[k], it->len[k]);
    }
  }
}

/* Worker thread: the whole batch as one statement (one transaction). */
static void batch_work(job *j) {
  pg_batch *b = (pg_batch *)j;
  pg *st = b->st;
  uint64_t t0 = clock_mono_ns();
  b->ok = 0;
  if (!b->head) { /* a reconnect */
    int rc = pg_writer_connect(st, b->err, sizeof(b->err));
    b->ok = rc == 0;
    b->busy = rc == STORE_BUSY;
    b->duration_ns = clock_mono_ns() - t0;
    return;
  }
  pg_insert *items[STORE_MAX_BATCH];
  int n = 0;
  for (pg_insert *it = b->head; it && n < STORE_MAX_BATCH; it = it->next) items[n++] = it;
  buf *p = &b->params;
  buf_reset(p);
  size_t off[8];
  static const int fields[8] = {PF_MID,    PF_FROM, PF_TO,     PF_TS,
                                PF_TS_KEY, PF_TEXT, PF_FOLDED, PF_NFIELDS};
  for (int k = 0; k < 8; k++) {
    off[k] = p->len;
    put_array(p, b->head, n, fields[k]);
  }
  if (p->oom) {
    snprintf(b->err, sizeof(b->err), "out of memory");
    b->busy = 1;
    return;
  }
  const char *vals[8];
  int lens[8], fmts[8];
  for (int k = 0; k < 8; k++) {
    vals[k] = p->data + off[k];
    lens[k] = (int)((k < 7 ? off[k + 1] : p->len) - off[k]);
    fmts[k] = 1;
  }
  for (int attempt = 0;; attempt++) {
    if (!st->wconn || !st->w_prepared) {
      snprintf(b->err, sizeof(b->err), "not connected");
      b->busy = b->lost = 1;
      break;
    }
    int done = 0;
    PGresult *res = pg_run(st->wconn, "w_insert", 8, vals, lens, fmts, &done);
    if (res && done && PQresultStatus(res) == PGRES_TUPLES_OK) {
      for (int i = 0; i < n; i++) items[i]->result = STORE_DUPLICATE;
      b->created = 0;
      for (int r = 0; r < PQntuples(res); r++) {
        long ord = strtol(PQgetvalue(res, r, 0), NULL, 10);
        if (ord >= 1 && ord <= n) {
          items[ord - 1]->result = STORE_CREATED;
          b->created++;
        }
      }
      b->ok = 1;
      PQclear(res);
      break;
    }
    int cls = pg_classify(st->wconn, res, b->err, sizeof(b->err));
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* The transaction rolled back as a whole: a deadlock or serialization
     * failure (another host's batch) is simply run again. */
    int again = state && (!strcmp(state, "40P01") || !strcmp(state, "40001"));
    PQclear(res);
    b->busy = cls == STORE_BUSY;
    if (PQstatus(st->wconn) != CONNECTION_OK) {
      b->lost = 1;
      PQfinish(st->wconn);
      st->wconn = NULL;
      st->w_prepared = 0;
      break;
    }
    if (!again || attempt + 1 >= PG_DEADLOCK_RETRIES) break;
  }
  b->duration_ns = clock_mono_ns() - t0;
}

/* ---- Loop side ------------------------------------------------------------ */

/* Every insert of `head`, then every waiting one, hears `result` now. */
static void fail_list(pg *st, pg_insert *head, int result, const char *why) {
  while (head) {
    pg_insert *next = head->next;
    if (!next && st->q_head) { /* then the waiting ones */
      next = st->q_head;
      st->q_head = st->q_tail = NULL;
    }
    st->q_len--;
    head->cb(head->arg, result, why);
    head->next = st->free_list;
    st->free_list = head;
    head = next;
  }
}

static void batch_done(job *j, int cancelled) {
  pg_batch *b = (pg_batch *)j;
  pg *st = b->st;
  if (cancelled) {
    b->ok = 0;
    b->busy = 1;
    snprintf(b->err, sizeof(b->err), "batch cancelled");
  }
  if (!b->head) { /* the reconnect came back */
    st->batch_running = 0;
    pg_engine_connected(st, b->ok, b->busy, b->err);
    if (st->q_head)
      batch_start(st);
    else
      store_notify_idle(&st->base);
    return;
  }
  if (!b->ok) {
    st->db_errors++;
    st->write_fail_ms = clock_wall_ms();
    snprintf(st->write_err, sizeof(st->write_err), "%s", b->err);
  } else {
    st->write_fail_ms = 0;
  }
  if (st->base.hooks.commit) st->base.hooks.commit(b->n, b->duration_ns, b->ok);
  if (b->ok && b->created) st->base.generation++; /* before anyone hears 200 */
  /* batch_running stays set while the callbacks run: a callback may submit
   * (the next pipelined request), and that must only enqueue. */
  pg_insert *it = b->head;
  b->head = NULL;
  uint32_t expect = st->q_len; /* those waiting + this batch's clients */
  if (b->lost) {
    st->up = 0; /* submits are refused from now on; the queue fails too */
    fail_list(st, it, STORE_BUSY, b->err);
  } else {
    while (it) {
      pg_insert *next = it->next;
      st->q_len--;
      it->cb(it->arg, b->ok ? it->result : (b->busy ? STORE_BUSY : STORE_ERROR),
             b->ok ? NULL : b->err);
      it->next = st->free_list;
      st->free_list = it;
      it = next;
    }
  }
  st->batch_running = 0;
  if (b->lost) pg_engine_connected(st, 0, 1, b->err);
  if (b->n > 1 && gather_begin(st, expect)) return;
  if (st->q_head && st->up)
    batch_start(st);
  else
    store_notify_idle(&st->base);
}

/* Starts the writer job: the queue's head as a batch, or a reconnect. */
static void writer_job(pg *st, pg_insert *head, int n) {
  pg_batch *b = &st->batch;
  b->st = st;
  b->head = head;
  b->n = n;
  b->created = b->ok = b->busy = b->lost = 0;
  b->err[0] = 0;
  st->batch_running = 1;
  int rc = job_submit(st->base.loop, &b->j, batch_work, batch_done);
  if (rc != 0) {
    b->head = NULL;
    fail_list(st, head, STORE_BUSY, uv_strerror(rc));
    st->db_errors++;
    st->batch_running = 0;
    if (!head) pg_engine_connected(st, 0, 1, uv_strerror(rc));
    store_notify_idle(&st->base);
  }
}

static void batch_start(pg *st) {
  pg_insert *last = st->q_head;
  int n = 1;
  for (; n < STORE_MAX_BATCH && last->next; n++) last = last->next;
  pg_insert *head = st->q_head;
  st->q_head = last->next;
  if (!st->q_head) st->q_tail = NULL;
  last->next = NULL;
  writer_job(st, head, n);
}

void pg_writer_reconnect(pg *st) {
  if (st->batch_running || st->shutting_down) return;
  writer_job(st, NULL, 0);
}
