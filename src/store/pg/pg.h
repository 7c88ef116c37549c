/* store/pg/pg.h: the PostgreSQL engine's private types, shared by the
 * files of src/store/pg/ only.
 *
 * One database, any number of hookd hosts. Everything lives in PostgreSQL:
 *   messages             the rows, unique message_id; the acknowledging
 *                        statement inserts them and, through a statement
 *                        trigger in the same transaction, bumps the counts
 *   hookd_totals         row count, split in shards (one per writer backend,
 *                        so writers of different hosts never wait on a row)
 *   hookd_sender_counts  per sender, sharded the same way
 *   hookd_meta           schema version
 * Secondary indexes: (ts_key, message_id), (from_msisdn, ts_key, message_id)
 * and a pg_trgm GIN index on text_folded (hookd's own case folding).
 *
 * libpq is used blocking, on the libuv threadpool, like the SQLite engine:
 * the writer connection by one job at a time (a batch, or a reconnect), each
 * reader connection by one read job at a time. The struct's other fields
 * belong to the loop thread. */
#ifndef HOOKD_PG_H
#define HOOKD_PG_H

#include <libpq-fe.h>

#include "clock.h"
#include "job.h"
#include "store.h"
#include "store/pending.h"
#include "store/pool.h"

#define PG_SCHEMA_VERSION 1
#define PG_ADVISORY_KEY 0x686f6f6b64LL /* "hookd": serialises migrations */
#define PG_CONNECT_TIMEOUT "5"         /* seconds, unless the URL says */
#define PG_RETRY_MIN_MS 100            /* reconnect backoff */
#define PG_RETRY_MAX_MS 5000
#define PG_GATHER_MS 1 /* longest wait for the last batch's clients (queue.cc) */
/* A read's statement_timeout, lock waits included: no read holds a reader
 * connection longer, so reads cannot pile up behind a long scan or an
 * operator's lock, and shutdown (which waits for them) stays bounded. */
#define PG_READ_TIMEOUT_MS STORE_READ_TIMEOUT_MS

/* The writer's array parameters: the queued fields (store/pending.h), then
 * the folded text (computed on the worker) and created_at. */
enum pg_param {
  PF_MID = SF_MID,
  PF_FROM = SF_FROM,
  PF_TO = SF_TO,
  PF_TS = SF_TS,
  PF_TS_KEY = SF_TS_KEY,
  PF_TEXT = SF_TEXT,
  PF_FOLDED = SF_NFIELDS,
  PF_CREATED,
};

struct pg;

/* The writer's job: a batch of inserts, or (head NULL) a reconnect. */
struct pg_batch {
  job j; /* must stay first */
  pg *st;
  store_pending *head;
  int n, created;
  int ok, busy;
  int lost;        /* the connection is gone: reconnect before the next batch */
  int reconnected; /* the job replaced a dead connection (and ran again) */
  buf params;      /* binary text[] arrays, reused */
  uint64_t duration_ns;
  char err[256];
};

#define PG_RCACHE_SLOTS 64
#define PG_RCACHE_MAX_BODY (64 * 1024)

struct pg_rcache_slot {
  buf key, body; /* owned */
  int64_t stamp; /* sum(hookd_totals.v) seen before the answer was read */
  int used;
};

/* Rendered answers validated by the change stamp (rcache.cc). */
struct pg_rcache {
  uv_mutex_t lock;
  pg_rcache_slot slots[PG_RCACHE_SLOTS];
};

enum pg_rstmt {
  PR_READY,
  PR_STATS,
  PR_STAMP,
  PR_PAGE,                /* + variant: q*8 + from*4 + since*2 + desc */
  PR_NSTMT = PR_PAGE + 16 /* 19 bits of pg_reader.prepared */
};

struct pg_reader {
  PGconn *conn;      /* opened by the worker that first uses it */
  uint32_t prepared; /* bit per pg_rstmt */
  buf scratch;       /* the worker's cache key */
};

struct pg {
  store base;           /* must stay first */
  char url[1024];       /* DATABASE_URL, with its password (never logged) */
  const char *files[1]; /* none: /metrics reports no file size */
  uint32_t max_queue;
  int lock_ms; /* every connection's lock_timeout: DB_BUSY_TIMEOUT_MS, >= 1 */
  /* writer */
  PGconn *wconn; /* used by one writer job at a time */
  int w_prepared;
  store_queue q; /* webhooks waiting or committing */
  int batch_running;
  pg_batch batch;
  uv_timer_t gather; /* the next batch waits for the last one's clients */
  int gathering;
  uint32_t expect;  /* start at once when q.len reaches this */
  int up;           /* connected and the schema checked */
  uv_timer_t retry; /* reconnect backoff */
  int retry_on, retry_ms;
  char down_err[256]; /* why the last connect failed */
  int down_logged;    /* down_err is in the log */
  /* readers */
  pg_reader readers[STORE_MAX_READERS];
  int nreaders;
  store_pool pool; /* which reader runs which read (store/pool.h) */
  pg_rcache rcache;
  int shutting_down;
};

/* conn.cc: connections and errors (any thread; touch only what is passed) */
/* Connects and sets lock_timeout (>= 1: 0 would mean no limit) and, when
 * statement_ms > 0, statement_timeout; NULL with err on failure. */
PGconn *pg_connect(const char *url, int lock_ms, int statement_ms, char *err, size_t errlen);
int pg_check_url(const char *url, char *err, size_t errlen);
/* STORE_BUSY when the failure passes (connection, lock, resources), else
 * STORE_ERROR; copies the message into err. Clears nothing. */
int pg_classify(PGconn *c, const PGresult *res, char *err, size_t errlen);
/* Runs a statement without parameters; 0, or STORE_BUSY / STORE_ERROR
 * (pg_classify) with err. */
int pg_exec(PGconn *c, const char *sql, char *err, size_t errlen);
/* Sends a prepared statement and reads every result until NULL. Returns
 * the one result with rows (or the error), and sets *done when the server
 * ended the exchange (ReadyForQuery) with the connection still good. */
PGresult *pg_run(PGconn *c, const char *name, int n, const char *const *vals, const int *lens,
                 const int *fmts, int *done);

/* schema.cc: creates or migrates the schema under the advisory lock; 0,
 * STORE_BUSY (try again: a lock wait timed out, the connection went) or
 * STORE_ERROR with err. */
int pg_migrate(PGconn *c, char *err, size_t errlen);

/* queue.cc (loop side) */
int pg_submit(store *base, const message *m, int64_t now_ms, store_submit_cb cb, void *arg);
void pg_writer_reconnect(pg *st);
void pg_writer_flush(pg *st);
void pg_writer_close(pg *st);
/* writer.cc (worker side): connect, migrate, prepare: 0, STORE_BUSY or
 * STORE_ERROR with err; and the writer job's work function. */
int pg_writer_connect(pg *st, char *err, size_t errlen);
void pg_batch_work(job *j);

/* engine.cc: the outcome of a connect (loop thread): marks the store up,
 * or down with the reason, and arms the reconnect backoff. */
void pg_engine_connected(pg *st, int ok, int busy, const char *err);

/* readers.cc */
int pg_read(store *base, store_read *r);
/* Sets up st->pool for st->nreaders readers (start-up). */
void pg_readers_init(pg *st, uint32_t max_queue);
void pg_readers_close(pg *st);

/* rcache.cc (any thread; scratch is the caller's) */
int pg_rcache_init(pg_rcache *c);
void pg_rcache_free(pg_rcache *c);
/* 1 and the answer in out when one was stored under exactly `stamp`. */
int pg_rcache_get(pg_rcache *c, const store_read *r, int64_t stamp, buf *scratch, buf *out);
void pg_rcache_put(pg_rcache *c, const store_read *r, int64_t stamp, buf *scratch, const buf *body);

/* queries.cc (worker thread, on a reader connection) */
const char *pg_rstmt_sql(int id);
void pg_queries_init(void);
int pg_read_messages(store_read *r, PGconn *c, const char *name);
int pg_read_stats(store_read *r, PGconn *c, const char *name);
int pg_read_ready(store_read *r, PGconn *c, const char *name);
int pg_read_stamp(store_read *r, PGconn *c, const char *name, int64_t *stamp);

#endif
