/* store/pg/writer.cc: the acknowledging path, worker side (the writer
 * connection is used by one job at a time). A batch (queued on the loop by
 * queue.cc) is ONE prepared statement: the batch
 * as binary text[] parameters, unnest()ed, sorted by message_id, inserted
 * with ON CONFLICT (message_id) DO NOTHING, returning the ordinal of each
 * request that created its row. One statement is one implicit
 * transaction: the server commits it (with the count triggers) before it
 * says ReadyForQuery, and only then does any caller hear 200.
 *
 * Sorting by message_id makes every batch take its unique-index locks in
 * the same order, so hosts inserting the same ids at once wait for each
 * other (then see a duplicate) instead of deadlocking. Inside one batch the
 * first request of an id (queue order) creates it, as in the SQLite engine.
 *
 * A connection found dead is replaced once inside the job (see
 * pg_batch_work); when that fails too, the batch fails with STORE_BUSY
 * (503 + Retry-After), the store is marked down and reconnects with backoff
 * (queue.cc, engine.cc). Nothing is acknowledged that the server did not
 * confirm. */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "casefold.h"
#include "pg.h"

#define PG_DEADLOCK_RETRIES 3

static const char insert_sql[] =
    "WITH u AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[],"
    "  $5::text[], $6::text[], $7::text[], $8::text[]) WITH ORDINALITY"
    "  AS u(m, f, t, ts, k, x, xf, c, i)),"
    " ins AS (INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, text,"
    "  text_folded, created_at) SELECT m, f, t, ts, k, x, xf, c FROM u ORDER BY m COLLATE \"C\", i"
    "  ON CONFLICT (message_id) DO NOTHING RETURNING message_id)"
    " SELECT min(u.i) FROM ins JOIN u ON u.m COLLATE \"C\" = ins.message_id GROUP BY "
    "ins.message_id";

/* Worker: connect, migrate, prepare. 0, STORE_BUSY (try again later) or
 * STORE_ERROR (the database refuses this hookd). Like SQLite's busy
 * timeout, the connection's lock_timeout (set before the migration) turns
 * a lock held elsewhere (an operator's LOCK TABLE) into 503 after
 * DB_BUSY_TIMEOUT_MS instead of a hang. */
int pg_writer_connect(pg *st, char *err, size_t errlen) {
  if (st->wconn) PQfinish(st->wconn);
  st->w_prepared = 0;
  st->wconn = pg_connect(st->url, st->lock_ms, 0, err, errlen);
  if (!st->wconn) return STORE_BUSY;
  int rc = pg_migrate(st->wconn, err, errlen);
  if (!rc) {
    PGresult *res = PQprepare(st->wconn, "w_insert", insert_sql, 0, NULL);
    if (PQresultStatus(res) == PGRES_COMMAND_OK)
      st->w_prepared = 1;
    else
      rc = pg_classify(st->wconn, res, err, errlen);
    PQclear(res);
  }
  if (rc) {
    PQfinish(st->wconn);
    st->wconn = NULL;
  }
  return rc;
}

static void put_u32(buf *b, uint32_t v) {
  v = htonl(v);
  buf_append(b, &v, 4);
}

/* Appends field `k` of every insert as a binary text[] (libpq's format:
 * ndim, has-null, element type, size, lower bound, then length + bytes,
 * -1 for NULL). Text goes in as it came; PF_FOLDED is folded here. */
static void put_array(buf *b, store_pending *head, int n, int k) {
  int nullable = k == PF_TEXT || k == PF_FOLDED;
  put_u32(b, 1);
  put_u32(b, nullable ? 1 : 0);
  put_u32(b, 25); /* text */
  put_u32(b, (uint32_t)n);
  put_u32(b, 1);
  for (store_pending *it = head; it; it = it->next) {
    if (nullable && !it->has_text) {
      put_u32(b, 0xffffffffu);
      continue;
    }
    if (k == PF_FOLDED) {
      size_t at = b->len;
      put_u32(b, 0); /* patched below */
      casefold_utf8(it->data + it->off[PF_TEXT], it->len[PF_TEXT], b);
      if (!b->oom) {
        uint32_t len = htonl((uint32_t)(b->len - at - 4));
        memcpy(b->data + at, &len, 4);
      }
    } else if (k == PF_CREATED) { /* created_at */
      put_u32(b, CLOCK_ISO_LEN);
      buf_append(b, it->created_at, CLOCK_ISO_LEN);
    } else {
      put_u32(b, (uint32_t)it->len[k]);
      buf_append(b, it->data + it->off[k], it->len[k]);
    }
  }
}

/* Worker thread: the whole batch as one statement (one transaction). */
void pg_batch_work(job *j) {
  pg_batch *b = (pg_batch *)j;
  pg *st = b->st;
  uint64_t t0 = clock_mono_ns();
  b->ok = 0;
  if (!b->head) { /* a reconnect */
    int rc = pg_writer_connect(st, b->err, sizeof(b->err));
    b->ok = rc == 0;
    b->busy = rc == STORE_BUSY;
    b->duration_ns = clock_mono_ns() - t0;
    return;
  }
  store_pending *items[STORE_MAX_BATCH];
  int n = 0;
  for (store_pending *it = b->head; it && n < STORE_MAX_BATCH; it = it->next) items[n++] = it;
  buf *p = &b->params;
  buf_reset(p);
  size_t off[8];
  static const int fields[8] = {PF_MID,    PF_FROM, PF_TO,     PF_TS,
                                PF_TS_KEY, PF_TEXT, PF_FOLDED, PF_CREATED};
  for (int k = 0; k < 8; k++) {
    off[k] = p->len;
    put_array(p, b->head, n, fields[k]);
  }
  if (p->oom) {
    snprintf(b->err, sizeof(b->err), "out of memory");
    b->busy = 1;
    b->duration_ns = clock_mono_ns() - t0;
    return;
  }
  const char *vals[8];
  int lens[8], fmts[8];
  for (int k = 0; k < 8; k++) {
    vals[k] = p->data + off[k];
    lens[k] = (int)((k < 7 ? off[k + 1] : p->len) - off[k]);
    fmts[k] = 1;
  }
  /* A connection found dead (the server restarted while the writer was
   * idle) is replaced once and the statement runs again: ON CONFLICT DO
   * NOTHING makes that safe, and a row the lost attempt did commit comes
   * back as a duplicate. */
  int reconnected = 0;
  for (int attempt = 0;;) {
    if (!st->wconn || !st->w_prepared) { /* at most once per job (see below) */
      int rc = pg_writer_connect(st, b->err, sizeof(b->err));
      if (rc) {
        b->busy = rc == STORE_BUSY;
        b->lost = 1;
        break;
      }
      reconnected = b->reconnected = 1;
    }
    int done = 0;
    PGresult *res = pg_run(st->wconn, "w_insert", 8, vals, lens, fmts, &done);
    if (res && done && PQresultStatus(res) == PGRES_TUPLES_OK) {
      for (int i = 0; i < n; i++) items[i]->result = STORE_DUPLICATE;
      b->created = 0;
      for (int r = 0; r < PQntuples(res); r++) {
        long ord = strtol(PQgetvalue(res, r, 0), NULL, 10);
        if (ord >= 1 && ord <= n) {
          items[ord - 1]->result = STORE_CREATED;
          b->created++;
        }
      }
      b->ok = 1;
      PQclear(res);
      break;
    }
    int cls = pg_classify(st->wconn, res, b->err, sizeof(b->err));
    const char *state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
    /* The transaction rolled back as a whole: a deadlock or serialization
     * failure (another host's batch) is simply run again. */
    int again = state && (!strcmp(state, "40P01") || !strcmp(state, "40001"));
    PQclear(res);
    b->busy = cls == STORE_BUSY;
    if (PQstatus(st->wconn) != CONNECTION_OK) {
      PQfinish(st->wconn);
      st->wconn = NULL;
      st->w_prepared = 0;
      if (reconnected) {
        b->lost = 1;
        break;
      }
      continue; /* reconnect, once */
    }
    if (!again || ++attempt >= PG_DEADLOCK_RETRIES) break;
  }
  b->duration_ns = clock_mono_ns() - t0;
}
