/* handlers/stats.cc: GET /stats, answered from the aggregates that the
 * insert triggers maintain (no scan of messages). */
#include <stdio.h>

#include "conn.h"
#include "handlers.h"

static int step_done(sqlite3_stmt *s, int rc, store_read *r, sqlite3 *db) {
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) {
    snprintf(r->err, sizeof(r->err), "%s", sqlite3_errmsg(db));
    sqlite3_reset(s);
    return -1;
  }
  return 0;
}

/* Appends the ts column of a one-row query, or null. */
static int put_ts(buf *b, sqlite3_stmt *s, store_read *r, sqlite3 *db) {
  int rc = sqlite3_step(s);
  if (step_done(s, rc, r, db)) return -1;
  if (rc == SQLITE_ROW) json_put_str(b, (const char *)sqlite3_column_text(s, 0),
                                     (size_t)sqlite3_column_bytes(s, 0));
  else buf_puts(b, "null");
  sqlite3_reset(s);
  return 0;
}

/* Worker thread. */
static int stats_run(store_read *r, sqlite3 *db, sqlite3_stmt **stmts) {
  sqlite3_stmt *begin = store_stmt(r, db, stmts, STMT_READ_BEGIN);
  sqlite3_stmt *end = store_stmt(r, db, stmts, STMT_READ_END);
  sqlite3_stmt *totals = store_stmt(r, db, stmts, STMT_STATS_TOTALS);
  sqlite3_stmt *top = store_stmt(r, db, stmts, STMT_STATS_TOP);
  sqlite3_stmt *first = store_stmt(r, db, stmts, STMT_STATS_FIRST);
  sqlite3_stmt *last = store_stmt(r, db, stmts, STMT_STATS_LAST);
  if (!begin || !end || !totals || !top || !first || !last) return -1;
  buf *b = &r->out;
  buf_reset(b);
  int rc = sqlite3_step(begin);
  sqlite3_reset(begin);
  if (step_done(begin, rc, r, db)) return -1;
  int ret = -1;
  int64_t total = 0, senders = 0;
  rc = sqlite3_step(totals);
  if (step_done(totals, rc, r, db)) goto end;
  if (rc == SQLITE_ROW) {
    total = sqlite3_column_int64(totals, 0);
    senders = sqlite3_column_int64(totals, 1);
  }
  sqlite3_reset(totals);
  buf_puts(b, "{\"total_messages\":");
  buf_put_i64(b, total);
  buf_puts(b, ",\"senders_count\":");
  buf_put_i64(b, senders);
  buf_puts(b, ",\"messages_per_sender\":[");
  for (int i = 0; (rc = sqlite3_step(top)) == SQLITE_ROW; i++) {
    buf_puts(b, i ? ",{\"from\":" : "{\"from\":");
    json_put_str(b, (const char *)sqlite3_column_text(top, 0), (size_t)sqlite3_column_bytes(top, 0));
    buf_puts(b, ",\"count\":");
    buf_put_i64(b, sqlite3_column_int64(top, 1));
    buf_putc(b, '}');
  }
  if (step_done(top, rc, r, db)) goto end;
  sqlite3_reset(top);
  buf_puts(b, "],\"first_message_ts\":");
  if (put_ts(b, first, r, db)) goto end;
  buf_puts(b, ",\"last_message_ts\":");
  if (put_ts(b, last, r, db)) goto end;
  buf_putc(b, '}');
  ret = b->oom ? -1 : 0;
end:
  sqlite3_step(end);
  sqlite3_reset(end);
  return ret;
}

void handle_stats(conn *c) { handle_read(c, stats_run); }
