/* store/pending.cc: the queue of webhooks waiting for a commit (see
 * store/pending.h), shared by the engines. */
#include "store/pending.h"

#include <stdlib.h>
#include <string.h>

int store_queue_push(store_queue *q, const message *m, int64_t now_ms, store_submit_cb cb,
                     void *arg) {
  const str f[SF_NFIELDS] = {m->message_id, m->from, m->to, m->ts, str{m->ts_key, m->ts_key_len},
                             m->text};
  size_t need = 1; /* never a zero-size buffer */
  for (int i = 0; i < SF_NFIELDS; i++) need += f[i].len;
  store_pending *it = q->free_list;
  if (it) {
    q->free_list = it->next;
  } else if (!(it = (store_pending *)calloc(1, sizeof(store_pending)))) {
    return STORE_E_NOMEM;
  }
  if (it->cap < need) { /* grow the recycled buffer: it then fits the next ones */
    char *p = (char *)realloc(it->data, need);
    if (!p) {
      it->next = q->free_list;
      q->free_list = it;
      return STORE_E_NOMEM;
    }
    it->data = p;
    it->cap = need;
  }
  size_t off = 0;
  for (int i = 0; i < SF_NFIELDS; i++) {
    if (f[i].len) memcpy(it->data + off, f[i].base, f[i].len);
    it->off[i] = off;
    it->len[i] = f[i].len;
    off += f[i].len;
  }
  it->has_text = m->text.base != NULL;
  clock_iso_ms(now_ms, it->created_at);
  it->result = STORE_ERROR;
  it->cb = cb;
  it->arg = arg;
  it->next = NULL;
  if (q->tail)
    q->tail->next = it;
  else
    q->head = it;
  q->tail = it;
  q->len++;
  return 0;
}

store_pending *store_queue_take(store_queue *q, int max, int *n) {
  store_pending *head = q->head, *last = head;
  *n = 0;
  if (!head) return NULL;
  int k = 1;
  for (; k < max && last->next; k++) last = last->next;
  q->head = last->next;
  if (!q->head) q->tail = NULL;
  last->next = NULL;
  *n = k;
  return head;
}

void store_queue_finish(store_queue *q, store_pending *list, int result, const char *err) {
  while (list) {
    store_pending *next = list->next;
    q->len--;
    list->cb(list->arg, result >= 0 ? result : list->result, err);
    list->next = q->free_list;
    q->free_list = list;
    list = next;
  }
}

void store_queue_fail_all(store_queue *q, store_pending *list, int result, const char *err) {
  store_queue_finish(q, list, result, err);
  int n;
  while ((list = store_queue_take(q, 1 << 30, &n)) != NULL)
    store_queue_finish(q, list, result, err);
}

void store_queue_free(store_queue *q) {
  int n;
  store_pending *rest = store_queue_take(q, 1 << 30, &n);
  while (rest) { /* nothing should wait at close; free what does */
    store_pending *next = rest->next;
    free(rest->data);
    free(rest);
    rest = next;
  }
  while (q->free_list) {
    store_pending *it = q->free_list;
    q->free_list = it->next;
    free(it->data);
    free(it);
  }
}

static void withdrawn(void *, int, const char *) {}

void store_pending_withdraw(store_pending *p) { p->cb = withdrawn; }
