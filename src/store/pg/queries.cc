/* store/pg/queries.cc: the readers' SQL, and turning its results into the
 * seam's typed results (worker thread, on a reader connection).
 *
 * Each read is ONE statement, so it sees one snapshot without BEGIN/COMMIT
 * round trips: /messages is the total (a maintained count where one
 * answers, else count(*) over the same filter) joined with the page;
 * /stats is the counts, the first and last ts in page order and the top
 * senders. Order is ts_key then message_id on COLLATE "C" columns: byte
 * order, exactly the SQLite engine's. `q` matches text_folded (hookd's
 * casefold_utf8 of text, stored by the writer) with LIKE '%needle%' on the
 * folded needle, %, _ and \ escaped: byte-exact hookd folding, which the
 * pg_trgm GIN index narrows down for needles of 3+ characters.
 *
 * Parameters of every page variant: $1 limit, $2 offset, $3 from, $4
 * since key, $5 LIKE pattern (typed at PQprepare, unused ones ignored). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casefold.h"
#include "pg.h"

static char page_sql[16][1400];

static const char ready_sql[] = "SELECT v FROM hookd_meta WHERE k = 'schema_version'";

/* The per-sender sums once (shards folded), then both their count and
 * the top 10 from them. */
static const char stats_sql[] =
    "WITH s AS MATERIALIZED (SELECT from_msisdn, sum(n)::bigint AS n FROM hookd_sender_counts"
    "  GROUP BY 1 HAVING sum(n) > 0)"
    " SELECT t.total, t.senders, t.first_ts, t.last_ts, top.from_msisdn, top.n FROM"
    " (SELECT (SELECT coalesce(sum(n), 0) FROM hookd_totals)::bigint AS total,"
    "  (SELECT count(*) FROM s) AS senders,"
    "  (SELECT ts FROM messages ORDER BY ts_key, message_id LIMIT 1) AS first_ts,"
    "  (SELECT ts FROM messages ORDER BY ts_key DESC, message_id DESC LIMIT 1) AS last_ts) t"
    " LEFT JOIN LATERAL (SELECT from_msisdn, n FROM s ORDER BY n DESC, from_msisdn LIMIT 10) top"
    " ON true ORDER BY top.n DESC, top.from_msisdn";

/* Start-up, before any worker runs. */
void pg_queries_init(void) {
  for (int v = 0; v < 16; v++) {
    int q = v >> 3 & 1, from = v >> 2 & 1, since = v >> 1 & 1, desc = v & 1;
    char where[200];
    snprintf(where, sizeof(where), "true%s%s%s", from ? " AND from_msisdn = $3" : "",
             since ? " AND ts_key >= $4" : "", q ? " AND text_folded LIKE $5" : "");
    char total[300];
    if (!q && !from && !since)
      snprintf(total, sizeof(total), "(SELECT coalesce(sum(n), 0) FROM hookd_totals)::bigint");
    else if (!q && from && !since)
      snprintf(total, sizeof(total),
               "(SELECT coalesce(sum(n), 0) FROM hookd_sender_counts WHERE from_msisdn = $3)"
               "::bigint");
    else
      snprintf(total, sizeof(total), "(SELECT count(*) FROM messages WHERE %s)", where);
    const char *d = desc ? " DESC" : "";
    snprintf(page_sql[v], sizeof(page_sql[0]),
             "SELECT c.total, p.message_id, p.from_msisdn, p.to_msisdn, p.ts, p.text"
             " FROM (SELECT %s AS total) c LEFT JOIN LATERAL"
             " (SELECT message_id, from_msisdn, to_msisdn, ts, text, ts_key FROM messages"
             "  WHERE %s ORDER BY ts_key%s, message_id%s LIMIT $1 OFFSET $2) p ON true"
             " ORDER BY p.ts_key%s, p.message_id%s",
             total, where, d, d, d, d);
  }
}

static const char stamp_sql[] = "SELECT coalesce(sum(v), 0) FROM hookd_totals";

const char *pg_rstmt_sql(int id) {
  if (id == PR_STAMP) return stamp_sql;
  if (id == PR_READY) return ready_sql;
  if (id == PR_STATS) return stats_sql;
  return page_sql[id - PR_PAGE];
}

/* A statement's result, or the error classified into r. */
static PGresult *run(store_read *r, PGconn *c, const char *name, int n, const char *const *vals,
                     int *rc) {
  int done = 0;
  PGresult *res = pg_run(c, name, n, vals, NULL, NULL, &done);
  if (res && PQresultStatus(res) == PGRES_TUPLES_OK) {
    *rc = 0;
    return res;
  }
  *rc = pg_classify(c, res, r->err, sizeof(r->err));
  PQclear(res);
  return NULL;
}

static str cell(PGresult *res, int row, int col) {
  return str{PQgetvalue(res, row, col), (size_t)PQgetlength(res, row, col)};
}

int pg_read_messages(store_read *r, PGconn *c, const char *name) {
  const store_query *q = &r->query;
  char limit[24], offset[24], from[sizeof(q->from) + 1], since[sizeof(q->since_key) + 1];
  snprintf(limit, sizeof(limit), "%lld", (long long)q->limit);
  snprintf(offset, sizeof(offset), "%lld", (long long)q->offset);
  size_t fl = q->from_len < sizeof(q->from) ? q->from_len : sizeof(q->from) - 1;
  memcpy(from, q->from, fl);
  from[fl] = 0;
  size_t sl = q->since_len < sizeof(q->since_key) ? q->since_len : sizeof(q->since_key) - 1;
  memcpy(since, q->since_key, sl);
  since[sl] = 0;
  buf needle = {}, pat = {};
  if (q->q_len) {
    casefold_utf8(q->q, q->q_len, &needle);
    buf_putc(&pat, '%');
    for (size_t i = 0; i < needle.len; i++) {
      char ch = needle.data[i];
      if (ch == '%' || ch == '_' || ch == '\\') buf_putc(&pat, '\\');
      buf_putc(&pat, ch);
    }
    buf_putc(&pat, '%');
    buf_putc(&pat, 0);
  }
  int rc = 0;
  if (needle.oom || pat.oom) {
    snprintf(r->err, sizeof(r->err), "out of memory");
    rc = STORE_BUSY;
  } else {
    const char *vals[5] = {limit, offset, from, since, pat.data ? pat.data : ""};
    PGresult *res = run(r, c, name, 5, vals, &rc);
    if (res) {
      int n = PQntuples(res);
      r->total = n ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
      for (int i = 0; i < n; i++) {
        if (PQgetisnull(res, i, 1)) continue; /* an empty page: the total only */
        str f[5] = {cell(res, i, 1), cell(res, i, 2), cell(res, i, 3), cell(res, i, 4),
                    cell(res, i, 5)};
        store_row_add(r, f, !PQgetisnull(res, i, 5));
      }
      PQclear(res);
    }
  }
  buf_free(&needle);
  buf_free(&pat);
  return rc;
}

static void copy_ts(PGresult *res, int col, char *out, size_t *len) {
  *len = 0;
  out[0] = 0;
  if (PQgetisnull(res, 0, col)) return;
  size_t n = (size_t)PQgetlength(res, 0, col);
  if (n > MSG_TS_MAX) n = MSG_TS_MAX; /* validated on the way in */
  memcpy(out, PQgetvalue(res, 0, col), n);
  out[n] = 0;
  *len = n;
}

int pg_read_stats(store_read *r, PGconn *c, const char *name) {
  store_stats *s = &r->stats;
  memset(s, 0, sizeof(*s));
  int rc = 0;
  PGresult *res = run(r, c, name, 0, NULL, &rc);
  if (!res) return rc;
  if (PQntuples(res) < 1) {
    PQclear(res);
    snprintf(r->err, sizeof(r->err), "stats: no row");
    return STORE_ERROR;
  }
  s->total = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
  s->senders = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
  copy_ts(res, 2, s->first_ts, &s->first_len);
  copy_ts(res, 3, s->last_ts, &s->last_len);
  for (int i = 0; i < PQntuples(res) && s->ntop < STORE_TOP_SENDERS; i++) {
    if (PQgetisnull(res, i, 4)) continue;
    store_sender *t = &s->top[s->ntop++];
    size_t n = (size_t)PQgetlength(res, i, 4);
    if (n >= sizeof(t->from)) n = sizeof(t->from) - 1;
    memcpy(t->from, PQgetvalue(res, i, 4), n);
    t->from[n] = 0;
    t->from_len = n;
    t->n = strtoll(PQgetvalue(res, i, 5), NULL, 10);
  }
  PQclear(res);
  return 0;
}

int pg_read_ready(store_read *r, PGconn *c, const char *name) {
  int rc = 0;
  PGresult *res = run(r, c, name, 0, NULL, &rc);
  if (!res) return rc;
  int v = PQntuples(res) == 1 ? atoi(PQgetvalue(res, 0, 0)) : 0;
  PQclear(res);
  if (v == PG_SCHEMA_VERSION) return 0;
  snprintf(r->err, sizeof(r->err), "schema version %d, expected %d", v, PG_SCHEMA_VERSION);
  return STORE_ERROR;
}

int pg_read_stamp(store_read *r, PGconn *c, const char *name, int64_t *stamp) {
  int rc = 0;
  PGresult *res = run(r, c, name, 0, NULL, &rc);
  if (!res) return rc;
  *stamp = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : -1;
  PQclear(res);
  return 0;
}
