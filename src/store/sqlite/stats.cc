/* store/sqlite/stats.cc: GET /stats figures from the maintained counts
 * plus the tail (worker thread, inside the read transaction). The first
 * and last ts are the first row of the ascending and of the descending
 * unfiltered page (the same merge as /messages). */
#include <stdio.h>
#include <string.h>

#include "sq.h"

static int one_int(store_read *r, sq_reader *rd, int id, int64_t mark, int64_t *out) {
  sqlite3_stmt *s = sq_rstmt(r, rd, id);
  if (!s) return STORE_ERROR;
  sqlite3_bind_int64(s, 1, mark);
  int rc = sqlite3_step(s);
  *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  sqlite3_reset(s);
  return sq_step_err(r, rd->db, rc);
}

/* The ts of the first row in page order (asc or desc); len 0 if none. */
static int edge_ts(store_read *r, sq_reader *rd, int64_t mark, int desc, char *out, size_t *len) {
  sqlite3_stmt *page = sq_rstmt(r, rd, RS_PAGE + desc); /* variant: no filter */
  sqlite3_stmt *row = sq_rstmt(r, rd, RS_ROW);
  if (!page || !row) return STORE_ERROR;
  sqlite3_bind_int64(page, sqlite3_bind_parameter_index(page, ":mark"), mark);
  sqlite3_bind_int64(page, sqlite3_bind_parameter_index(page, ":limit"), 1);
  sqlite3_bind_int64(page, sqlite3_bind_parameter_index(page, ":offset"), 0);
  *len = 0;
  int rc = sqlite3_step(page), e = 0;
  if (rc == SQLITE_ROW) {
    sqlite3_bind_int64(row, 1, sqlite3_column_int64(page, 2));
    int rrc = sqlite3_step(row);
    if (rrc == SQLITE_ROW) {
      size_t n = (size_t)sqlite3_column_bytes(row, 3);
      if (n > MSG_TS_MAX) n = MSG_TS_MAX; /* validated on the way in */
      memcpy(out, sqlite3_column_text(row, 3), n);
      out[n] = 0;
      *len = n;
    } else {
      e = sq_step_err(r, rd->db, rrc == SQLITE_DONE ? SQLITE_CORRUPT : rrc);
    }
    sqlite3_reset(row);
  } else {
    e = sq_step_err(r, rd->db, rc);
  }
  sqlite3_reset(page);
  sqlite3_clear_bindings(page);
  return e;
}

int sq_read_stats(store_read *r, sq_reader *rd, int64_t mark, int64_t messages, int64_t senders) {
  store_stats *s = &r->stats;
  memset(s, 0, sizeof(*s));
  int64_t tail = 0, new_senders = 0;
  int e = one_int(r, rd, RS_TAIL_COUNT, mark, &tail);
  if (!e) e = one_int(r, rd, RS_STATS_SENDERS_NEW, mark, &new_senders);
  if (e) return e;
  s->total = messages + tail;
  s->senders = senders + new_senders;
  sqlite3_stmt *top = sq_rstmt(r, rd, RS_STATS_TOP);
  if (!top) return STORE_ERROR;
  sqlite3_bind_int64(top, 1, mark);
  int rc;
  while ((rc = sqlite3_step(top)) == SQLITE_ROW && s->ntop < STORE_TOP_SENDERS) {
    store_sender *t = &s->top[s->ntop++];
    size_t n = (size_t)sqlite3_column_bytes(top, 0);
    if (n >= sizeof(t->from)) n = sizeof(t->from) - 1;
    memcpy(t->from, sqlite3_column_text(top, 0), n);
    t->from[n] = 0;
    t->from_len = n;
    t->n = sqlite3_column_int64(top, 1);
  }
  e = sq_step_err(r, rd->db, rc);
  sqlite3_reset(top);
  if (e) return e;
  e = edge_ts(r, rd, mark, 0, s->first_ts, &s->first_len);
  if (!e) e = edge_ts(r, rd, mark, 1, s->last_ts, &s->last_len);
  return e;
}
