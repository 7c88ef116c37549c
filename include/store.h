/* store.h: SQLite persistence. Schema, prepared statements, the writer queue
 * with group commit, and a pool of reader connections.
 *
 * Threads: every store_ function is called on the loop thread. SQLite runs
 * only inside uv_queue_work callbacks on the threadpool; a job owns its
 * inputs and outputs and never touches a connection (conn). Completion
 * callbacks run on the loop thread. */
#ifndef HOOKD_STORE_H
#define HOOKD_STORE_H

#include <sqlite3.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "config.h"
#include "message.h"

#define STORE_SCHEMA_VERSION 2

enum store_result {
  STORE_CREATED = 0,  /* new row committed */
  STORE_DUPLICATE,    /* message_id already stored; nothing changed */
  STORE_ERROR,        /* the database failed; nothing acknowledged */
  STORE_BUSY,         /* locked by another process past busy_timeout */
};

/* Filter combinations of GET /messages (bit mask). */
enum store_msg_filter {
  QF_FROM = 1,   /* from_msisdn = :from */
  QF_SINCE = 2,  /* ts_key >= :since */
  QF_QTRI = 4,   /* q of 3+ characters: trigram index, then exact check */
  QF_QSCAN = 8,  /* q of 1-2 characters: scan with the exact check */
};
#define STORE_MSG_VARIANTS 12 /* {none, QTRI, QSCAN} x {FROM} x {SINCE} */

/* Statements, one table (store.cc), prepared once per connection
 * (SQLITE_PREPARE_PERSISTENT) when first used. */
enum store_stmt {
  STMT_BEGIN,
  STMT_COMMIT,
  STMT_ROLLBACK,
  STMT_INSERT,
  STMT_BATCH_TOTALS,           /* per-batch aggregate and index upkeep */
  STMT_BATCH_SENDERS,
  STMT_BATCH_HOURS,
  STMT_BATCH_FTS,
  STMT_FIRST_READ,             /* statements from here on run on readers */
  STMT_READY = STMT_FIRST_READ,
  STMT_READ_BEGIN,
  STMT_READ_END,
  STMT_STATS_TOTALS,
  STMT_STATS_TOP,
  STMT_STATS_FIRST,
  STMT_STATS_LAST,
  STMT_FTS_COUNT,
  STMT_MSG_PAGE,                                    /* + variant */
  STMT_MSG_COUNT = STMT_MSG_PAGE + STORE_MSG_VARIANTS, /* + variant */
  /* ---- console (issue 14): GET /messages?order=desc, newest ts first */
  STMT_MSG_PAGE_DESC = STMT_MSG_COUNT + STORE_MSG_VARIANTS, /* + variant */
  /* ---- end console */
  STMT_COUNT = STMT_MSG_PAGE_DESC + STORE_MSG_VARIANTS
};

struct store;
struct store_insert;
struct store_read;

/* Called on the loop when an insert's transaction finished. `err` is the
 * SQLite message for STORE_ERROR, otherwise NULL. */
typedef void (*store_insert_cb)(void *arg, int result, const char *err);
/* Runs on a worker thread with a reader connection. Returns 0 or -1 (and
 * fills r->err). Must touch only r and its own arg data. */
typedef int (*store_read_fn)(store_read *r, sqlite3 *db, sqlite3_stmt **stmts);
/* Called on the loop with the outcome (r->rc, r->err, r->out). */
typedef void (*store_read_cb)(store_read *r);

#define STORE_MAX_NEEDLE 1024 /* bytes of a decoded q */

/* Parameters of GET /messages, filled on the loop, read by the worker. */
struct store_query {
  int mask;                        /* store_msg_filter bits */
  int64_t limit, offset;
  char from[MSG_MAX_MSISDN_DIGITS + 2];
  size_t from_len;
  char since_key[MSG_TS_KEY_MAX + 1];
  size_t since_len;
  char q[STORE_MAX_NEEDLE];
  size_t q_len;
  int desc;                        /* console (issue 14): order=desc */
};

struct store_read {
  uv_work_t work;      /* must stay first */
  store *st;
  store_read *next;    /* waiting list */
  int slot;            /* reader connection in use, -1 while waiting */
  store_read_fn run;
  store_read_cb done;
  void *arg;           /* caller's; the worker may read it if it says so */
  int rc;              /* 0 or -1 */
  char err[256];       /* SQLite message on failure */
  buf out;             /* result body built on the worker; owned by the
                          * struct's owner (a conn frees its job's) */
  uint64_t gen;        /* store generation when submitted (for the cache) */
  store_query query;   /* input of the /messages job */
};

/* Commit statistics for metrics (loop thread). */
typedef void (*store_commit_hook)(int batch, uint64_t duration_ns, int ok);

/* Opens (creating the folder and file) and migrates the database on the
 * calling thread; start-up only. Returns NULL with a reason in err. */
store *store_open(uv_loop_t *loop, const config *cfg, char *err, size_t errlen);
/* Closes every connection. Requires store_idle(). */
void store_close(store *st);
/* 1 when nothing is queued or running. */
int store_idle(const store *st);
/* Called (on the loop) whenever the store becomes idle; for shutdown. */
void store_set_idle_cb(store *st, void (*cb)(void *), void *arg);
void store_set_commit_hook(store *st, store_commit_hook hook);

/* Queues m for insertion (fields are copied). cb runs once the batch holding
 * it committed or failed. Returns 0, or -1 when the queue is full (caller
 * answers 503). */
int store_submit(store *st, const message *m, int64_t now_ms, store_insert_cb cb, void *arg);

/* Runs r->run on a reader connection. Returns 0, or -1 when the queue is
 * full. r->done is called exactly once after a 0 return. */
int store_read_submit(store *st, store_read *r);

/* Statement id on a reader connection, prepared on first use (worker
 * thread). NULL with r->err filled on failure. */
sqlite3_stmt *store_stmt(store_read *r, sqlite3 *db, sqlite3_stmt **stmts, int id);
/* Variant index (0..STORE_MSG_VARIANTS-1) of a store_msg_filter mask. */
int store_msg_variant(int mask);

/* A store_read_fn that checks the schema answers; for /health/ready. */
int store_read_ready(store_read *r, sqlite3 *db, sqlite3_stmt **stmts);

uint32_t store_queue_depth(const store *st); /* inserts waiting or committing */
/* Bumped (on the loop) after every commit that created rows, before any of
 * its requests is answered. Read results are valid for one generation. */
uint64_t store_generation(const store *st);
uint64_t store_db_errors(const store *st);   /* failed batches and reads */
/* NULL when the last write batch committed (or none ran yet); otherwise the
 * SQLite message of the last failure, while it is younger than
 * STORE_WRITE_FAIL_MS and no batch has committed since. For readiness. */
#define STORE_WRITE_FAIL_MS 10000
const char *store_write_error(const store *st, int64_t now_ms);
const char *store_path(const store *st);

#endif
