/* store/pool.cc: read scheduling over a fixed set of reader slots (see
 * store/pool.h), shared by the engines. */
#include "store/pool.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int start(store_pool *p, store_read *r, int slot);

static void done(job *j, int cancelled) {
  store_readjob *rj = (store_readjob *)j;
  store_pool *p = rj->pool;
  store_read *r = rj->r;
  if (cancelled) {
    r->rc = STORE_BUSY;
    snprintf(r->err, sizeof(r->err), "read cancelled");
  }
  if (r->rc != 0) p->st->db_errors++;
  int slot = rj->slot;
  p->busy[slot] = 0;
  p->running--;
  /* Hand the slot to the next waiting read before calling back, so the
   * callback may submit another read. A read whose job cannot be queued is
   * failed and the next one tried: the slot is never left free while reads
   * wait (nothing else would start them). */
  while (p->head) {
    store_read *next = p->head;
    p->head = next->next;
    if (!p->head) p->tail = NULL;
    p->len--;
    if (start(p, next, slot) == 0) break;
    next->rc = STORE_BUSY;
    snprintf(next->err, sizeof(next->err), "cannot queue the read");
    p->st->db_errors++;
    next->done(next);
    if (p->busy[slot]) break; /* that callback's new read took the slot */
  }
  r->done(r); /* may free r (and rj with it) */
  store_notify_idle(p->st);
}

/* Queues r's job on `slot`; 0 or a libuv error (nothing queued). */
static int start(store_pool *p, store_read *r, int slot) {
  store_readjob *rj = (store_readjob *)r->priv;
  rj->pool = p;
  rj->r = r;
  rj->slot = slot;
  int rc = job_submit(p->st->loop, &rj->j, p->work, done);
  if (rc == 0) {
    p->busy[slot] = 1;
    p->running++;
  }
  return rc;
}

void store_pool_init(store_pool *p, store *st, job_work_fn work, int slots, uint32_t max_queue) {
  memset(p, 0, sizeof(*p));
  p->st = st;
  p->work = work;
  p->slots = slots;
  p->max_queue = max_queue;
  st->reads = p;
}

void store_pool_expire(store_pool *p) {
  while (p->head) {
    store_read *r = p->head;
    p->head = r->next;
    if (!p->head) p->tail = NULL;
    p->len--;
    r->rc = STORE_BUSY;
    snprintf(r->err, sizeof(r->err), "shutting down");
    r->done(r); /* may free r */
  }
  store_notify_idle(p->st);
}

int store_pool_submit(store_pool *p, store_read *r) {
  if (!r->priv) {
    r->priv = calloc(1, sizeof(store_readjob)); /* freed by store_read_free */
    if (!r->priv) return STORE_E_NOMEM;
  }
  for (int i = 0; i < p->slots; i++)
    if (!p->busy[i]) return start(p, r, i) == 0 ? 0 : STORE_E_FULL;
  if (p->len >= p->max_queue) return STORE_E_FULL;
  r->next = NULL;
  if (p->tail)
    p->tail->next = r;
  else
    p->head = r;
  p->tail = r;
  p->len++;
  return 0;
}
