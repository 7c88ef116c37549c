/* handlers/messages.cc: GET /messages.
 *
 * Loop: parse and validate the query string into the conn's job.
 * Worker: one read transaction runs the page query and the total for the
 * filter combination, and writes the JSON body (handlers/read.cc runs it,
 * with the response cache). */
#include <stdio.h>
#include <string.h>

#include "casefold.h"
#include "conn.h"
#include "handlers.h"
#include "message.h"
#include "query.h"

#define MAX_LIMIT 100
#define DEFAULT_LIMIT 50
#define MAX_Q_CHARS 256

/* Parses a decimal integer (optional '-'); -1 if not an integer. */
static int parse_int(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  if (n && s[0] == '-') neg = 1, i = 1;
  if (i == n || n - i > 18) return -1;
  int64_t v = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = neg ? -v : v;
  return 0;
}

/* Fills q from the query string; errors go to errs. */
static void parse_query(str qs, store_query *q, msg_errors *errs) {
  memset(q, 0, offsetof(store_query, q));
  q->q_len = 0;
  q->desc = 0; /* console (issue 14) */
  q->limit = DEFAULT_LIMIT;
  q->offset = 0;
  str key, val;
  char k[16], v[STORE_MAX_NEEDLE];
  while (query_next(&qs, &key, &val)) {
    long kl = query_decode(key, 1, k, sizeof(k));
    if (kl < 0) continue; /* not a parameter we know */
    str name = {k, (size_t)kl};
#define IS(lit) (name.len == sizeof(lit) - 1 && memcmp(name.base, lit, name.len) == 0)
    const char *field = IS("limit") ? "limit" : IS("offset") ? "offset" : IS("from") ? "from"
                      : IS("since") ? "since" : IS("q") ? "q" : IS("order") ? "order" : NULL;
#undef IS
    if (!field) continue;
    /* '+' is a space in form encoding, but E.164 numbers have no spaces:
     * in `from` a raw '+' stays '+', so from=+1555 works unencoded. */
    long vl = query_decode(val, field[0] != 'f', v, sizeof(v));
    if (vl < 0) {
      msg_errors_add(errs, "query", field, "invalid percent-encoding, UTF-8, or too long",
                     "value_error");
      continue;
    }
    /* ---- console (issue 14): order=asc (default) | desc */
    if (field[0] == 'o' && field[1] == 'r') {
      if (vl == 3 && memcmp(v, "asc", 3) == 0) q->desc = 0;
      else if (vl == 4 && memcmp(v, "desc", 4) == 0) q->desc = 1;
      else msg_errors_add(errs, "query", field, "must be 'asc' or 'desc'", "value_error");
      continue;
    }
    /* ---- end console */
    if (field[0] == 'l' || field[0] == 'o') {
      int64_t n;
      int is_limit = field[0] == 'l';
      if (parse_int(v, (size_t)vl, &n) != 0) {
        msg_errors_add(errs, "query", field, "must be an integer", "int_parsing");
      } else if (n < (is_limit ? 1 : 0)) {
        msg_errors_add(errs, "query", field,
                       is_limit ? "must be greater than or equal to 1"
                                : "must be greater than or equal to 0",
                       "greater_than_equal");
      } else if (is_limit && n > MAX_LIMIT) {
        msg_errors_add(errs, "query", field, "must be less than or equal to 100",
                       "less_than_equal");
      } else if (is_limit) {
        q->limit = n;
      } else {
        q->offset = n;
      }
    } else if (field[0] == 'f') {
      if (!msisdn_valid(v, (size_t)vl)) {
        msg_errors_add(errs, "query", field, "must be '+' followed by 1 to 15 digits (E.164)",
                       "value_error");
      } else {
        memcpy(q->from, v, (size_t)vl);
        q->from_len = (size_t)vl;
        q->mask |= QF_FROM;
      }
    } else if (field[0] == 's') {
      const char *why;
      if (ts_parse(v, (size_t)vl, q->since_key, &q->since_len, &why) != 0) {
        msg_errors_add(errs, "query", field, why, "value_error");
      } else {
        q->mask |= QF_SINCE;
      }
    } else { /* q */
      long chars = utf8_count(v, (size_t)vl);
      q->mask &= ~(QF_QTRI | QF_QSCAN);
      q->q_len = 0;
      if (chars > MAX_Q_CHARS) {
        msg_errors_add(errs, "query", field, "must be at most 256 characters", "string_too_long");
      } else if (chars > 0) { /* an empty q filters nothing */
        memcpy(q->q, v, (size_t)vl);
        q->q_len = (size_t)vl;
        q->mask |= chars >= 3 ? QF_QTRI : QF_QSCAN;
      }
    }
  }
}

static void bind_text(sqlite3_stmt *s, const char *name, const char *v, size_t n) {
  int i = sqlite3_bind_parameter_index(s, name);
  if (i) sqlite3_bind_text(s, i, v, (int)n, SQLITE_STATIC);
}

static void bind_int(sqlite3_stmt *s, const char *name, int64_t v) {
  int i = sqlite3_bind_parameter_index(s, name);
  if (i) sqlite3_bind_int64(s, i, v);
}

static void put_column(buf *b, sqlite3_stmt *s, int col) {
  const char *t = (const char *)sqlite3_column_text(s, col);
  if (!t) buf_puts(b, "null");
  else json_put_str(b, t, (size_t)sqlite3_column_bytes(s, col));
}

/* Binds every parameter the variant uses. */
static void bind_query(sqlite3_stmt *s, const store_query *q, const buf *needle,
                       const buf *phrase, const char *hour, const char *hour_end) {
  bind_text(s, ":from", q->from, q->from_len);
  bind_text(s, ":since", q->since_key, q->since_len);
  bind_text(s, ":hour", hour, 13);
  bind_text(s, ":hour_end", hour_end, 14);
  if (needle->len) bind_text(s, ":needle", needle->data, needle->len);
  if (phrase->len) bind_text(s, ":phrase", phrase->data, phrase->len);
  bind_int(s, ":limit", q->limit);
  bind_int(s, ":offset", q->offset);
}

static int finish(sqlite3_stmt *s, int rc, store_read *r, sqlite3 *db) {
  if (rc != SQLITE_DONE && rc != SQLITE_ROW)
    snprintf(r->err, sizeof(r->err), "%s", sqlite3_errmsg(db));
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return rc == SQLITE_DONE || rc == SQLITE_ROW ? 0 : -1;
}

/* Runs a one-value query (bound like the page) and returns its value. */
static int scalar(store_read *r, sqlite3 *db, sqlite3_stmt *s, const store_query *q,
                  const buf *needle, const buf *phrase, const char *hour, const char *hour_end,
                  int64_t *out) {
  bind_query(s, q, needle, phrase, hour, hour_end);
  int step = sqlite3_step(s);
  *out = step == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  return finish(s, step, r, db);
}

/* Chooses how to run a q of 3+ characters, knowing n, the number of texts
 * that contain it (from the trigram index). Walking rows in page order and
 * checking each costs about (offset + limit) * N / n rows; the index plan
 * looks up and sorts all n. A common needle walks; a rare one, or a sender
 * with fewer rows than n, uses the index or the sender's rows. */
static int plan_q(const store_query *q, int64_t n, int64_t all, int64_t sender_rows) {
  int mask = q->mask;
  if (mask & QF_FROM) {
    if (sender_rows < n) mask = (mask & ~QF_QTRI) | QF_QSCAN;
  } else if ((q->offset + q->limit) * all < 4 * n * n) {
    mask = (mask & ~QF_QTRI) | QF_QSCAN;
  }
  return mask;
}

/* Worker thread: page + total in one read transaction, JSON into r->out. */
static int messages_run(store_read *r, sqlite3 *db, sqlite3_stmt **stmts) {
  const store_query *q = &r->query;
  sqlite3_stmt *begin = store_stmt(r, db, stmts, STMT_READ_BEGIN);
  sqlite3_stmt *end = store_stmt(r, db, stmts, STMT_READ_END);
  if (!begin || !end) return -1;

  buf needle = {}, phrase = {};
  if (q->q_len) {
    casefold_utf8(q->q, q->q_len, &needle);
    /* FTS5 phrase: the needle in double quotes, inner quotes doubled. */
    buf_putc(&phrase, '"');
    for (size_t i = 0; i < needle.len; i++) {
      if (needle.data[i] == '"') buf_putc(&phrase, '"');
      buf_putc(&phrase, needle.data[i]);
    }
    buf_putc(&phrase, '"');
  }
  char hour[16] = "", hour_end[16] = "";
  if (q->mask & QF_SINCE) {
    memcpy(hour, q->since_key, 13);
    memcpy(hour_end, q->since_key, 13);
    hour_end[13] = ';'; /* sorts right after every "YYYY-MM-DDTHH:..." key */
  }

  int rc = -1;
  int64_t total = 0;
  int have_total = 0;
  int mask = q->mask;
  sqlite3_stmt *page = NULL, *count = NULL;
  buf *b = &r->out;
  buf_reset(b);
  if (finish(begin, sqlite3_step(begin), r, db) != 0) goto done;
  if (mask & QF_QTRI) {
    int64_t n = 0, all = 0, sender_rows = 0;
    sqlite3_stmt *fts = store_stmt(r, db, stmts, STMT_FTS_COUNT);
    sqlite3_stmt *totals = store_stmt(r, db, stmts, STMT_MSG_COUNT + 0);
    sqlite3_stmt *senders = store_stmt(r, db, stmts, STMT_MSG_COUNT + QF_FROM);
    if (!fts || !totals || !senders ||
        scalar(r, db, fts, q, &needle, &phrase, hour, hour_end, &n) ||
        scalar(r, db, totals, q, &needle, &phrase, hour, hour_end, &all) ||
        ((mask & QF_FROM) &&
         scalar(r, db, senders, q, &needle, &phrase, hour, hour_end, &sender_rows)))
      goto rollback;
    if (!(mask & (QF_FROM | QF_SINCE))) { /* the index count is the total */
      total = n;
      have_total = 1;
    }
    mask = plan_q(q, n, all, sender_rows);
  }
  page = store_stmt(r, db, stmts,
                    (q->desc ? STMT_MSG_PAGE_DESC : STMT_MSG_PAGE) + store_msg_variant(mask));
  count = store_stmt(r, db, stmts, STMT_MSG_COUNT + store_msg_variant(mask));
  if (!page || !count) goto rollback;
  bind_query(page, q, &needle, &phrase, hour, hour_end);
  buf_puts(b, "{\"data\":[");
  {
    int step, first = 1;
    while ((step = sqlite3_step(page)) == SQLITE_ROW) {
      buf_puts(b, first ? "{\"message_id\":" : ",{\"message_id\":");
      first = 0;
      put_column(b, page, 0);
      buf_puts(b, ",\"from\":");
      put_column(b, page, 1);
      buf_puts(b, ",\"to\":");
      put_column(b, page, 2);
      buf_puts(b, ",\"ts\":");
      put_column(b, page, 3);
      buf_puts(b, ",\"text\":");
      put_column(b, page, 4);
      buf_putc(b, '}');
    }
    if (finish(page, step, r, db) != 0) goto rollback;
  }
  if (!have_total && scalar(r, db, count, q, &needle, &phrase, hour, hour_end, &total) != 0)
    goto rollback;
  buf_puts(b, "],\"total\":");
  buf_put_i64(b, total);
  buf_puts(b, ",\"limit\":");
  buf_put_i64(b, q->limit);
  buf_puts(b, ",\"offset\":");
  buf_put_i64(b, q->offset);
  buf_putc(b, '}');
  rc = b->oom ? -1 : 0;
  if (b->oom) snprintf(r->err, sizeof(r->err), "out of memory");
rollback:
  sqlite3_step(end);
  sqlite3_reset(end);
done:
  buf_free(&needle);
  buf_free(&phrase);
  return rc;
}

void handle_messages(conn *c) {
  msg_errors errs;
  errs.n = 0;
  store_read *r = &c->job;
  parse_query(http_req_query(&c->req), &r->query, &errs);
  if (errs.n) {
    buf_reset(&c->out);
    msg_errors_json(&errs, &c->out);
    conn_respond(c, HTTP_UNPROCESSABLE);
    return;
  }
  handle_read(c, messages_run);
}
