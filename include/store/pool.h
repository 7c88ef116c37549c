/* store/pool.h: the read scheduling every engine shares. Up to `slots`
 * read jobs run at once, each on its own reader connection (slot); more
 * wait in a FIFO bounded by max_queue, and a finishing job hands its slot
 * to the next waiting read before it calls back. The engine supplies the
 * worker (which finds its connection by rj->slot) and owns the
 * connections. Loop thread only, but for `work`. */
#ifndef HOOKD_STORE_POOL_H
#define HOOKD_STORE_POOL_H

#include "job.h"
#include "store.h"

struct store_pool;

/* A read's job (store_read.priv, made on first use, freed by
 * store_read_free). */
struct store_readjob {
  job j; /* must stay first */
  store_pool *pool;
  store_read *r;
  int slot;
};

struct store_pool {
  store *st;        /* the engine, for store_notify_idle */
  job_work_fn work; /* worker: runs rj->r on connection rj->slot */
  int slots;        /* 1..STORE_MAX_READERS */
  uint8_t busy[STORE_MAX_READERS];
  int running;
  store_read *head, *tail; /* waiting */
  uint32_t len, max_queue;
};

/* Sets up p for the engine st: `slots` reader connections that `work`
 * runs reads on (failed reads are counted in st->db_errors). */
void store_pool_init(store_pool *p, store *st, job_work_fn work, int slots, uint32_t max_queue);
/* Runs r on a free slot or queues it. 0 (r->done follows), STORE_E_FULL
 * or STORE_E_NOMEM. */
int store_pool_submit(store_pool *p, store_read *r);
/* Fails every waiting read (STORE_BUSY, "shutting down"); running ones
 * finish as usual. */
void store_pool_expire(store_pool *p);
static inline int store_pool_idle(const store_pool *p) { return !p->running && !p->head; }

#endif
