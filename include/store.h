/* store.h: the storage seam. Handlers and main see only this: typed
 * operations that complete with a callback on the loop thread, and no
 * database type, SQL or statement id. An engine (SQLite in src/store/sqlite/,
 * PostgreSQL in src/store/pg/) implements the operations behind the table
 * `store_engine` and embeds `store` as the first member of its own struct.
 *
 * Threads: every store_* function is called on the loop thread. Engines do
 * their database work off the loop (threadpool jobs, or non-blocking I/O on
 * the loop); callbacks run on the loop. A callback is called exactly once
 * for every operation that returned 0, and never for one that failed. */
#ifndef HOOKD_STORE_H
#define HOOKD_STORE_H

#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "config.h"
#include "defs.h"
#include "message.h"

/* ---- Writes --------------------------------------------------------------- */

/* Outcome of a submitted message, given to its callback. */
/* A read stops after this long, in either engine (503 + Retry-After): a
 * read holds a reader connection, and on SQLite a snapshot that holds
 * checkpoints back, for as long as it runs. */
#define STORE_READ_TIMEOUT_MS 5000

enum store_result {
  STORE_CREATED = 0, /* new row committed (durable) */
  STORE_DUPLICATE,   /* message_id already stored; nothing changed */
  STORE_ERROR,       /* the database failed; nothing acknowledged (500) */
  STORE_BUSY,        /* transient: locked, unreachable, full (503 + Retry-After) */
};

/* Refusals returned by store_submit / store_read (no callback follows). */
enum store_refusal {
  STORE_E_FULL = -1, /* queue bound reached */
  STORE_E_LAG = -2,  /* derived structures too far behind (INDEX_MAX_LAG) */
  STORE_E_DOWN = -3, /* database unreachable right now */
  STORE_E_NOMEM = -4,
};

/* `err` is the database's message for STORE_ERROR / STORE_BUSY, else NULL. */
typedef void (*store_submit_cb)(void *arg, int result, const char *err);

/* ---- Reads ---------------------------------------------------------------- */

enum store_read_kind {
  STORE_READ_MESSAGES = 0, /* a page of /messages for r->query */
  STORE_READ_STATS,        /* /stats figures */
  STORE_READ_READY,        /* readiness: the schema answers a query */
};

#define STORE_MAX_LIMIT 100   /* rows of one page */
#define STORE_MAX_NEEDLE 1024 /* bytes of a decoded q */
#define STORE_TOP_SENDERS 10
#define STORE_FAIL_WINDOW_MS 10000 /* a failed write batch keeps readiness 503 this long */
#define MSG_TS_MAX (20 + MSG_MAX_TS_FRACTION + 1) /* a ts as received */

/* Parameters of GET /messages (validated on the loop). */
struct store_query {
  int64_t limit, offset;
  uint8_t has_from, has_since, desc;
  char from[MSG_MAX_MSISDN_DIGITS + 2];
  size_t from_len;
  char since_key[MSG_TS_KEY_MAX + 1]; /* ts_parse key of since */
  size_t since_len;
  char q[STORE_MAX_NEEDLE]; /* raw (not folded) needle; empty = none */
  size_t q_len;
};

/* One message of a page; strings point into store_read.arena. */
struct store_row {
  str message_id, from, to, ts, text; /* text.base NULL for null text */
};

struct store_sender {
  char from[MSG_MAX_MSISDN_DIGITS + 2];
  size_t from_len;
  int64_t n;
};

struct store_stats {
  int64_t total, senders;
  int ntop;
  store_sender top[STORE_TOP_SENDERS]; /* by count desc, then from */
  char first_ts[MSG_TS_MAX + 1], last_ts[MSG_TS_MAX + 1];
  size_t first_len, last_len; /* 0: no messages (null) */
};

struct store_read;
typedef void (*store_read_cb)(store_read *r);
/* Runs on the engine's worker after a successful read, to turn the typed
 * result into r->out (so the loop only copies bytes). */
typedef void (*store_render_fn)(store_read *r);

/* A read operation. The caller owns the struct (one per connection,
 * reused), fills the "in" part, and must not touch it until `done` runs. */
struct store_read {
  /* in */
  int kind;               /* store_read_kind */
  store_query query;      /* STORE_READ_MESSAGES */
  store_render_fn render; /* may be NULL */
  store_read_cb done;
  void *arg;
  /* out */
  int rc;        /* 0, STORE_BUSY (503) or STORE_ERROR (500) */
  char err[256]; /* the database's message when rc != 0 */
  int64_t total; /* STORE_READ_MESSAGES: rows matching */
  int nrows;
  store_row rows[STORE_MAX_LIMIT];
  store_stats stats; /* STORE_READ_STATS */
  buf arena;         /* bytes the rows point into */
  buf out;           /* rendered body */
  uint64_t gen;      /* store generation when submitted (cache tag) */
  /* engine-private */
  store_read *next;
  void *priv;
};

/* ---- The store ------------------------------------------------------------ */

/* What metrics and readiness read (loop thread). */
struct store_gauges {
  uint32_t queue_depth;       /* webhooks queued or committing */
  uint64_t db_errors;         /* failed batches and reads */
  int64_t index_lag_rows;     /* committed rows not yet indexed; -1: no indexer */
  uint64_t rows_write_bytes;  /* bytes written for the rows (acknowledging path) */
  uint64_t index_write_bytes; /* bytes written for derived structures */
};

/* Events for histograms (loop thread); any may be NULL. */
struct store_hooks {
  void (*commit)(int batch, uint64_t duration_ns, int ok);
  void (*index)(int batch, uint64_t duration_ns, int ok);
};

struct store;

/* The operations an engine implements. */
struct store_engine {
  const char *name; /* "sqlite", "postgres" */
  int (*submit)(store *st, const message *m, int64_t now_ms, store_submit_cb cb, void *arg);
  int (*read)(store *st, store_read *r);
  int (*idle)(const store *st); /* nothing queued or running */
  void (*shutdown)(store *st);  /* stop background work; idle follows */
  void (*close)(store *st);     /* requires idle */
  void (*gauges)(const store *st, store_gauges *g);
  /* Reason the store cannot take writes now (readiness), or NULL. */
  const char *(*unready)(const store *st, int64_t now_ms);
  /* Files whose size /metrics reports (hookd_db_size_bytes), NULL-ended. */
  const char *const *(*files)(const store *st);
};

/* Common part of every engine's struct (first member). */
struct store {
  const store_engine *e;
  uv_loop_t *loop;
  uint64_t generation; /* bumped before acknowledging created rows */
  int cacheable;       /* reads may be cached by generation (one writer) */
  store_hooks hooks;
  struct store_pool *reads;   /* the engine's read scheduling (store/pool.h) */
  struct store_queue *writes; /* its webhooks waiting for a commit (store/pending.h) */
  /* Shared bookkeeping of failures (loop thread): every failed batch, read
   * and index batch; the last failed commit's time and reason, which keep
   * /health/ready at 503 for STORE_FAIL_WINDOW_MS. */
  uint64_t db_errors;
  int64_t write_fail_ms; /* wall clock, 0 after a commit that worked */
  char write_err[256];
  void (*idle_cb)(void *);
  void *idle_arg;
  char url[1024]; /* for logs, without a password */
};

/* Opens the engine DATABASE_URL names. Start-up only: may migrate on the
 * calling thread (reporting progress through sd_notify STATUS=). Returns
 * NULL with a reason in err. */
store *store_open(uv_loop_t *loop, const config *cfg, char *err, size_t errlen);

int store_submit(store *st, const message *m, int64_t now_ms, store_submit_cb cb, void *arg);
/* Returns 0 (r->done follows) or a store_refusal. Sets r->gen. */
int store_read_submit(store *st, store_read *r);
void store_read_free(store_read *r); /* frees r's buffers and r */

int store_idle(const store *st);
void store_shutdown(store *st);
/* The shutdown grace expired (or a second signal came): webhooks waiting
 * for a commit and reads waiting for a reader connection fail now (503:
 * nothing of theirs was acknowledged) instead of each waiting its turn, so
 * the exit waits only for the batch and the reads already running (each
 * bounded by its timeouts). */
void store_expire(store *st);
void store_close(store *st);
void store_set_idle_cb(store *st, void (*cb)(void *), void *arg);
void store_set_hooks(store *st, const store_hooks *h);
void store_gauges_get(const store *st, store_gauges *g);
const char *store_unready(const store *st, int64_t now_ms);
const char *const *store_files(const store *st);
const char *store_engine_name(const store *st);
/* Read results are valid for one generation (see cache.h). */
uint64_t store_generation(const store *st);
int store_cacheable(const store *st);

/* For engines: call when the store may have become idle. */
void store_notify_idle(store *st);
/* For engines: a write batch of n inserts ended (ok, and whether it created
 * rows; err when it failed). Runs the commit hook, moves the generation and
 * keeps a failure's time and reason for readiness (or clears it); call it
 * before the batch's callbacks, so no reader hears 200 and then reads a
 * cached answer from before the commit. */
void store_batch_ended(store *st, int n, uint64_t duration_ns, int ok, int created,
                       const char *err);
/* For engines: "writes failing: <reason>" in why while the last failed
 * commit is recent, else NULL (their unready check starts with this). */
const char *store_write_unready(const store *st, int64_t now_ms, char *why, size_t whylen);

/* For engines: copies a row's strings into r->arena and fills r->rows[i]
 * after the page is complete (arena pointers are fixed up at the end). */
void store_row_add(store_read *r, const str f[5], int has_text);
/* For engines, on the worker after a read that worked: fixes the rows'
 * pointers and renders r->out; a read whose rows or rendering ran out of
 * memory fails (STORE_BUSY). Returns 1 when r->out holds a whole answer. */
int store_read_finish(store_read *r);

#endif
