/* store/pending.h: webhooks waiting for their commit, for every engine: a
 * FIFO of copies of the messages' fields (the request buffer is reused as
 * soon as the handler returns) and a pool of entries whose buffers are
 * reused, so a steady load allocates nothing. Loop thread only; a batch
 * taken off the queue is read by the engine's worker until it comes back. */
#ifndef HOOKD_STORE_PENDING_H
#define HOOKD_STORE_PENDING_H

#include "clock.h"
#include "store.h"

/* The fields an engine binds, in this order. */
enum store_field { SF_MID, SF_FROM, SF_TO, SF_TS, SF_TS_KEY, SF_TEXT, SF_NFIELDS };

struct store_pending {
  store_pending *next;
  char *data; /* owned; the fields, back to back */
  size_t cap;
  size_t off[SF_NFIELDS], len[SF_NFIELDS];
  int has_text; /* 0: text was absent or null */
  char created_at[CLOCK_ISO_LEN + 1];
  int result; /* store_result, set by the worker */
  store_submit_cb cb;
  void *arg;
};

struct store_queue {
  store_pending *head, *tail; /* waiting */
  store_pending *free_list;   /* recycled entries */
  uint32_t len;               /* waiting + taken (committing) */
};

/* Copies m's fields to the tail. 0, or STORE_E_NOMEM (nothing queued). */
int store_queue_push(store_queue *q, const message *m, int64_t now_ms, store_submit_cb cb,
                     void *arg);
/* Takes up to max entries from the head into a NULL-ended list; *n says
 * how many. They still count in q->len until finished. */
store_pending *store_queue_take(store_queue *q, int max, int *n);
/* Calls back every entry of list (`result` if >= 0, else each entry's
 * own), recycles it and drops it from q->len. */
void store_queue_finish(store_queue *q, store_pending *list, int result, const char *err);
/* Finishes list, then everything still waiting, with `result` (callbacks
 * may queue more; those are failed too). */
void store_queue_fail_all(store_queue *q, store_pending *list, int result, const char *err);
void store_queue_free(store_queue *q); /* requires nothing taken */
/* Makes p's callback a no-op: for the entry of a submit that is about to
 * return a refusal because its batch could not start (a submit never calls
 * back; the caller answers the refusal itself). */
void store_pending_withdraw(store_pending *p);

static inline str store_pending_field(const store_pending *p, int f) {
  return str{p->data + p->off[f], p->len[f]};
}

#endif
