/* store/pg/queue.cc: the writer's loop side. Inserts queue up here; while
 * no writer job runs, the queue's head (up to STORE_MAX_BATCH) becomes one
 * job (writer.cc runs it as one statement), or, while the database is
 * unreachable, a reconnect job. When a job comes back, every request of the
 * batch hears its outcome, then the next batch starts (after gathering, see
 * below). Loop thread only. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "log.h"
#include "pg.h"

static int writer_job(pg *st, store_pending *head, int n);
static void job_failed(pg *st, store_pending *head, int rc);
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
  if (st->q.head && !st->batch_running && st->up) batch_start(st);
}

static void gather_end(pg *st) {
  if (!st->gathering) return;
  uv_timer_stop(&st->gather);
  st->gathering = 0;
}

/* Loop side, after a batch: whether the next one waits (0: start now). */
static int gather_begin(pg *st, uint32_t expect) {
  if (expect <= st->q.len || st->shutting_down || !st->up) return 0;
  if (uv_timer_start(&st->gather, on_gathered, PG_GATHER_MS, 0) != 0) return 0;
  st->gathering = 1;
  st->expect = expect > STORE_MAX_BATCH ? STORE_MAX_BATCH : expect;
  return 1;
}

/* Shutdown: whatever waits goes now. */
void pg_writer_flush(pg *st) {
  gather_end(st);
  if (st->q.head && !st->batch_running && st->up) batch_start(st);
}

/* Close (the store is idle): the writer connection and the pooled items. */
void pg_writer_close(pg *st) {
  if (st->wconn) PQfinish(st->wconn);
  st->wconn = NULL;
  store_queue_free(&st->q);
  buf_free(&st->batch.params);
}

int pg_submit(store *base, const message *m, int64_t now_ms, store_submit_cb cb, void *arg) {
  pg *st = (pg *)base;
  if (!st->up) return STORE_E_DOWN;
  if (st->q.len >= st->max_queue) return STORE_E_FULL;
  int rc = store_queue_push(&st->q, m, now_ms, cb, arg);
  if (rc != 0) return rc;
  store_pending *mine = st->q.tail;
  if (!st->batch_running && (!st->gathering || st->q.len >= st->expect)) {
    gather_end(st);
    int n;
    store_pending *head = store_queue_take(&st->q, STORE_MAX_BATCH, &n);
    rc = writer_job(st, head, n);
    if (rc != 0) {
      /* A failing function never calls back (the caller would hold a
       * connection its callback already released): this request is
       * refused; the others, submitted earlier, fail through theirs. */
      store_pending_withdraw(mine);
      job_failed(st, head, rc);
      return STORE_E_FULL;
    }
  }
  return 0;
}

/* ---- Loop side ------------------------------------------------------------ */

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
    if (st->q.head)
      batch_start(st);
    else
      store_notify_idle(&st->base);
    return;
  }
  if (b->reconnected) { /* the connection had died; the batch ran on a new one */
    st->base.db_errors++;
    if (b->ok) log_event(LOG_WARN, "db_reconnected", b->err);
  }
  store_batch_ended(&st->base, b->n, b->duration_ns, b->ok, b->created > 0, b->err);
  /* batch_running stays set while the callbacks run: a callback may submit
   * (the next pipelined request), and that must only enqueue. */
  store_pending *done = b->head;
  b->head = NULL;
  uint32_t expect = st->q.len; /* those waiting + this batch's clients */
  if (b->lost) {
    st->up = 0; /* submits are refused from now on; the queue fails too */
    store_queue_fail_all(&st->q, done, STORE_BUSY, b->err);
  } else {
    store_queue_finish(&st->q, done, b->ok ? -1 : (b->busy ? STORE_BUSY : STORE_ERROR),
                       b->ok ? NULL : b->err);
  }
  st->batch_running = 0;
  if (b->lost) pg_engine_connected(st, 0, b->busy, b->err);
  if (b->n > 1 && gather_begin(st, expect)) return;
  if (st->q.head && st->up)
    batch_start(st);
  else
    store_notify_idle(&st->base);
}

/* Starts the writer job: the queue's head as a batch, or (head NULL) a
 * reconnect. 0, or a libuv error: then nothing runs and no callback was
 * called (job_failed does that). */
static int writer_job(pg *st, store_pending *head, int n) {
  pg_batch *b = &st->batch;
  b->st = st;
  b->head = head;
  b->n = n;
  b->created = b->ok = b->busy = b->lost = b->reconnected = 0;
  b->err[0] = 0;
  st->batch_running = 1;
  int rc = job_submit(st->base.loop, &b->j, pg_batch_work, batch_done);
  if (rc != 0) b->head = NULL;
  return rc;
}

/* A writer job could not start: its batch and everything queued behind
 * fail (503). batch_running stays set meanwhile, so a callback that
 * submits only enqueues (and is failed too). */
static void job_failed(pg *st, store_pending *head, int rc) {
  store_queue_fail_all(&st->q, head, STORE_BUSY, uv_strerror(rc));
  st->base.db_errors++;
  st->batch_running = 0;
  if (!head) pg_engine_connected(st, 0, 1, uv_strerror(rc));
  store_notify_idle(&st->base);
}

static void batch_start(pg *st) {
  int n;
  store_pending *head = store_queue_take(&st->q, STORE_MAX_BATCH, &n);
  int rc = writer_job(st, head, n);
  if (rc != 0) job_failed(st, head, rc);
}

void pg_writer_reconnect(pg *st) {
  if (st->batch_running || st->shutting_down) return;
  int rc = writer_job(st, NULL, 0);
  if (rc != 0) job_failed(st, NULL, rc);
}
