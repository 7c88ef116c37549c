/* store/sqlite/queries.cc: the readers' SQL, and GET /messages.
 *
 * A page is the indexed rows (ix.by_ts, ix.by_from or the trigram index)
 * merged with the tail (rows above the mark, checked directly), as one
 * compound SELECT: SQLite runs it as a MERGE of two ordered arms, the
 * indexed arm in index order, so OFFSET/LIMIT walk only what they skip.
 * Totals add the maintained counts and the tail's count. Every statement
 * is assembled once at start-up from constant fragments; every value is a
 * bound parameter.
 *
 * `q` plans: a needle of 3+ characters is counted in the trigram index
 * first; then either the index's matches are sorted (rare needle), or
 * rows are walked in page order and each checked with hookd_contains
 * (common needle, or the sender has fewer rows than the needle matches).
 * 1-2 character needles always walk. */
#include <stdio.h>
#include <string.h>

#include "casefold.h"
#include "sq.h"

enum { QM_NONE = 0, QM_TRI = 1, QM_WALK = 2 };

static char page_sql[24][1536];
static char count_sql[12][1536];

static const char *const fixed_sql[RS_PAGE] = {
    /* RS_BEGIN */ "BEGIN DEFERRED",
    /* RS_END */ "COMMIT",
    /* RS_STATE */ "SELECT mark, messages, senders FROM ix.state WHERE id = 1",
    /* RS_VERSION */ "PRAGMA main.user_version",
    /* RS_ROW */
    "SELECT message_id, from_msisdn, to_msisdn, ts, text FROM main.messages WHERE id = ?1",
    /* RS_FTS_COUNT */ "SELECT count(*) FROM ix.fts WHERE fts MATCH ?1",
    /* RS_TAIL_COUNT */ "SELECT count(*) FROM main.messages WHERE id > ?1",
    /* RS_SENDER_N */
    "SELECT coalesce((SELECT n FROM ix.sender_counts WHERE from_msisdn = ?1), 0)",
    /* RS_STATS_SENDERS_NEW */
    "SELECT count(DISTINCT m.from_msisdn) FROM main.messages m WHERE m.id > ?1 AND NOT EXISTS"
    " (SELECT 1 FROM ix.sender_counts s WHERE s.from_msisdn = m.from_msisdn)",
    /* RS_STATS_TOP: indexed counts plus the tail's, top 10 */
    "WITH tail AS MATERIALIZED (SELECT from_msisdn, count(*) AS n FROM main.messages"
    "  WHERE id > ?1 GROUP BY 1)"
    " SELECT from_msisdn, n FROM ("
    "  SELECT s.from_msisdn, s.n + coalesce(t.n, 0) AS n FROM ix.sender_counts s"
    "   LEFT JOIN tail t ON t.from_msisdn = s.from_msisdn"
    "  UNION ALL SELECT t.from_msisdn, t.n FROM tail t WHERE NOT EXISTS"
    "   (SELECT 1 FROM ix.sender_counts s WHERE s.from_msisdn = t.from_msisdn))"
    " ORDER BY n DESC, from_msisdn LIMIT 10",
};

static int page_variant(int qm, int from, int since, int desc) {
  return ((qm * 2 + from) * 2 + since) * 2 + desc;
}

/* Start-up, before any worker runs. */
void sq_queries_init(void) {
  for (int c = 0; c < 12; c++) {
    int qm = c / 4, from = (c >> 1) & 1, since = c & 1;
    char arm[512], tail[256];
    const char *src = from ? "ix.by_from t" : "ix.by_ts t";
    if (qm == QM_TRI)
      snprintf(arm, sizeof(arm),
               "FROM ix.fts f CROSS JOIN main.messages m ON m.id = f.rowid WHERE f.fts MATCH "
               ":phrase%s%s",
               from ? " AND m.from_msisdn = :from" : "", since ? " AND m.ts_key >= :since" : "");
    else
      snprintf(arm, sizeof(arm), "FROM %s%s WHERE %s%s%s", src,
               qm == QM_WALK ? " CROSS JOIN main.messages m ON m.id = t.id" : "",
               from ? "t.from_msisdn = :from" : "1", since ? " AND t.ts_key >= :since" : "",
               qm == QM_WALK ? " AND hookd_contains(m.text, :needle)" : "");
    snprintf(tail, sizeof(tail), "FROM main.messages m WHERE m.id > :mark%s%s%s",
             from ? " AND m.from_msisdn = :from" : "", since ? " AND m.ts_key >= :since" : "",
             qm ? " AND hookd_contains(m.text, :needle)" : "");
    const char *cols =
        qm == QM_TRI ? "m.ts_key, m.message_id, m.id" : "t.ts_key, t.message_id, t.id";
    for (int desc = 0; desc < 2; desc++)
      snprintf(page_sql[page_variant(qm, from, since, desc)], sizeof(page_sql[0]),
               "SELECT %s %s UNION ALL SELECT m.ts_key, m.message_id, m.id %s"
               " ORDER BY 1%s, 2%s LIMIT :limit OFFSET :offset",
               cols, arm, tail, desc ? " DESC" : "", desc ? " DESC" : "");
    /* The indexed part of a total: a maintained count where one answers. */
    char idx[640];
    if (qm == QM_NONE && !from && !since)
      snprintf(idx, sizeof(idx), ":messages");
    else if (qm == QM_NONE && from && !since)
      snprintf(idx, sizeof(idx),
               "coalesce((SELECT n FROM ix.sender_counts WHERE from_msisdn = :from), 0)");
    else if (qm == QM_NONE && since && !from)
      snprintf(idx, sizeof(idx),
               "(SELECT coalesce(sum(n), 0) FROM ix.ts_hours WHERE hour > :hour) + (SELECT "
               "count(*) FROM ix.by_ts t WHERE t.ts_key >= :since AND t.ts_key < :hour_end)");
    else if (qm == QM_TRI && !from && !since)
      snprintf(idx, sizeof(idx), ":fts_n");
    else
      snprintf(idx, sizeof(idx), "(SELECT count(*) %s)", arm);
    snprintf(count_sql[c], sizeof(count_sql[0]), "SELECT %s + (SELECT count(*) %s)", idx, tail);
  }
}

const char *sq_rstmt_sql(int id) {
  if (id < RS_PAGE) return fixed_sql[id];
  if (id < RS_COUNT) return page_sql[id - RS_PAGE];
  return count_sql[id - RS_COUNT];
}

/* Everything a /messages statement may name, bound where it appears. */
struct params {
  const store_query *q;
  int64_t mark, messages, fts_n;
  const buf *needle, *phrase;
  char hour[16], hour_end[16];
};

static void bind_all(sqlite3_stmt *s, const params *p) {
  int n = sqlite3_bind_parameter_count(s);
  for (int i = 1; i <= n; i++) {
    const char *name = sqlite3_bind_parameter_name(s, i);
    if (!name) continue;
    name++; /* skip ':' */
    const store_query *q = p->q;
    if (!strcmp(name, "mark"))
      sqlite3_bind_int64(s, i, p->mark);
    else if (!strcmp(name, "messages"))
      sqlite3_bind_int64(s, i, p->messages);
    else if (!strcmp(name, "fts_n"))
      sqlite3_bind_int64(s, i, p->fts_n);
    else if (!strcmp(name, "limit"))
      sqlite3_bind_int64(s, i, q->limit);
    else if (!strcmp(name, "offset"))
      sqlite3_bind_int64(s, i, q->offset);
    else if (!strcmp(name, "from"))
      sqlite3_bind_text(s, i, q->from, (int)q->from_len, SQLITE_STATIC);
    else if (!strcmp(name, "since"))
      sqlite3_bind_text(s, i, q->since_key, (int)q->since_len, SQLITE_STATIC);
    else if (!strcmp(name, "hour"))
      sqlite3_bind_text(s, i, p->hour, 13, SQLITE_STATIC);
    else if (!strcmp(name, "hour_end"))
      sqlite3_bind_text(s, i, p->hour_end, 14, SQLITE_STATIC);
    else if (!strcmp(name, "needle"))
      sqlite3_bind_text(s, i, p->needle->data ? p->needle->data : "", (int)p->needle->len,
                        SQLITE_STATIC);
    else if (!strcmp(name, "phrase"))
      sqlite3_bind_text(s, i, p->phrase->data ? p->phrase->data : "", (int)p->phrase->len,
                        SQLITE_STATIC);
  }
}

/* One value of a one-row statement. */
static int scalar(store_read *r, sq_reader *rd, sqlite3_stmt *s, const params *p, int64_t *out) {
  bind_all(s, p);
  int rc = sqlite3_step(s);
  *out = rc == SQLITE_ROW ? sqlite3_column_int64(s, 0) : 0;
  int e = sq_step_err(r, rd->db, rc);
  sqlite3_reset(s);
  sqlite3_clear_bindings(s);
  return e;
}

/* Appends the page's rows (by id) to r. */
static int sq_fetch_page(store_read *r, sq_reader *rd, sqlite3_stmt *page, const params *p) {
  sqlite3_stmt *row = sq_rstmt(r, rd, RS_ROW);
  if (!row) return STORE_ERROR;
  bind_all(page, p);
  int rc, e = 0;
  while ((rc = sqlite3_step(page)) == SQLITE_ROW && e == 0) {
    sqlite3_bind_int64(row, 1, sqlite3_column_int64(page, 2));
    int rrc = sqlite3_step(row);
    if (rrc == SQLITE_ROW) {
      str f[5];
      for (int k = 0; k < 5; k++) {
        f[k].base = (const char *)sqlite3_column_text(row, k);
        f[k].len = (size_t)sqlite3_column_bytes(row, k);
      }
      store_row_add(r, f, f[4].base != NULL);
    } else {
      e = rrc == SQLITE_DONE ? STORE_ERROR : sq_step_err(r, rd->db, rrc);
      if (rrc == SQLITE_DONE) snprintf(r->err, sizeof(r->err), "indexed row missing");
    }
    sqlite3_reset(row);
  }
  if (e == 0) e = sq_step_err(r, rd->db, rc);
  sqlite3_reset(page);
  sqlite3_clear_bindings(page);
  return e;
}

/* Worker thread, inside the read transaction. */
int sq_read_messages(store_read *r, sq_reader *rd, int64_t mark, int64_t messages) {
  const store_query *q = &r->query;
  buf needle = {}, phrase = {};
  params p = {};
  p.q = q;
  p.mark = mark;
  p.needle = &needle;
  p.phrase = &phrase;
  int qm = QM_NONE, e = 0, tri = 0;
  int64_t all = messages, sender_rows = 0;
  p.messages = messages;
  if (q->has_since) {
    memcpy(p.hour, q->since_key, 13);
    memcpy(p.hour_end, q->since_key, 13);
    p.hour_end[13] = ';'; /* sorts right after every "YYYY-MM-DDTHH:..." key */
  }
  if (q->q_len) {
    casefold_utf8(q->q, q->q_len, &needle);
    /* FTS5 phrase: the needle in double quotes, inner quotes doubled. */
    buf_putc(&phrase, '"');
    for (size_t i = 0; i < needle.len; i++) {
      if (needle.data[i] == '"') buf_putc(&phrase, '"');
      buf_putc(&phrase, needle.data[i]);
    }
    buf_putc(&phrase, '"');
    if (needle.oom || phrase.oom) {
      snprintf(r->err, sizeof(r->err), "out of memory");
      e = STORE_BUSY;
      goto done;
    }
    qm = utf8_count(q->q, q->q_len) >= 3 ? QM_TRI : QM_WALK;
  }
  tri = qm == QM_TRI;
  if (tri) {
    sqlite3_stmt *fts = sq_rstmt(r, rd, RS_FTS_COUNT), *sn = sq_rstmt(r, rd, RS_SENDER_N);
    if (!fts || !sn) {
      e = STORE_ERROR;
      goto done;
    }
    sqlite3_bind_text(fts, 1, phrase.data, (int)phrase.len, SQLITE_STATIC);
    int rc = sqlite3_step(fts);
    p.fts_n = rc == SQLITE_ROW ? sqlite3_column_int64(fts, 0) : 0;
    e = sq_step_err(r, rd->db, rc);
    sqlite3_reset(fts);
    if (!e && q->has_from) {
      sqlite3_bind_text(sn, 1, q->from, (int)q->from_len, SQLITE_STATIC);
      rc = sqlite3_step(sn);
      sender_rows = rc == SQLITE_ROW ? sqlite3_column_int64(sn, 0) : 0;
      e = sq_step_err(r, rd->db, rc);
      sqlite3_reset(sn);
    }
    if (e) goto done;
    /* Walking costs about (offset + limit) * all / n rows; the index plan
     * sorts all n matches. In doubles: offset goes up to 10^18 - 1, so the
     * products leave int64_t, and an estimate needs no exactness. */
    if (q->has_from ? sender_rows < p.fts_n
                    : (double)(q->offset + q->limit) * (double)all <
                          4.0 * (double)p.fts_n * (double)p.fts_n)
      qm = QM_WALK;
  }
  {
    int pv = page_variant(qm, q->has_from, q->has_since, q->desc);
    /* Without other filters the trigram count is the indexed total, even
     * when the page walks. */
    int cq = tri && !q->has_from && !q->has_since ? QM_TRI : qm;
    int cv = (cq * 2 + q->has_from) * 2 + q->has_since;
    sqlite3_stmt *page = sq_rstmt(r, rd, RS_PAGE + pv), *count = sq_rstmt(r, rd, RS_COUNT + cv);
    if (!page || !count) {
      e = STORE_ERROR;
      goto done;
    }
    e = sq_fetch_page(r, rd, page, &p);
    if (!e) e = scalar(r, rd, count, &p, &r->total);
  }
done:
  buf_free(&needle);
  buf_free(&phrase);
  return e;
}
