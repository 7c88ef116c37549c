/* store/sqlite/db.cc: opening SQLite connections with hookd's pragmas and
 * SQL functions, and the counting VFS.
 *
 * The counting VFS wraps the platform's default VFS and adds up the bytes
 * every xWrite sends to the rows file (and its WAL) and to the index file
 * (and its WAL), so /metrics and the benchmark can say what the
 * acknowledging path and the derived structures each cost in storage
 * writes. It forwards everything else unchanged. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "casefold.h"
#include "sq.h"

/* ---- Counting VFS --------------------------------------------------------- */

struct count_file {
  sqlite3_file base; /* must stay first: its pMethods is ours */
  uint64_t *counter;
  sqlite3_file real[1]; /* the wrapped file; szOsFile of the real VFS follows */
};

static sqlite3_vfs count_vfs;
static sqlite3_vfs *real_vfs;
static sqlite3_io_methods count_methods[3]; /* by iVersion of the real methods */
static uint64_t bytes_rows, bytes_index;
static char index_path[1040];
static size_t index_path_len;

#define REAL(f) (((count_file *)(f))->real)
#define FWD(name, ...) REAL(f)->pMethods->name(REAL(f), ##__VA_ARGS__)

static int c_close(sqlite3_file *f) { return FWD(xClose); }
static int c_read(sqlite3_file *f, void *p, int n, sqlite3_int64 off) {
  return FWD(xRead, p, n, off);
}
static int c_write(sqlite3_file *f, const void *p, int n, sqlite3_int64 off) {
  __atomic_fetch_add(((count_file *)f)->counter, (uint64_t)n, __ATOMIC_RELAXED);
  return FWD(xWrite, p, n, off);
}
static int c_truncate(sqlite3_file *f, sqlite3_int64 size) { return FWD(xTruncate, size); }
static int c_sync(sqlite3_file *f, int flags) { return FWD(xSync, flags); }
static int c_size(sqlite3_file *f, sqlite3_int64 *size) { return FWD(xFileSize, size); }
static int c_lock(sqlite3_file *f, int l) { return FWD(xLock, l); }
static int c_unlock(sqlite3_file *f, int l) { return FWD(xUnlock, l); }
static int c_check(sqlite3_file *f, int *out) { return FWD(xCheckReservedLock, out); }
static int c_fcntl(sqlite3_file *f, int op, void *arg) { return FWD(xFileControl, op, arg); }
static int c_sector(sqlite3_file *f) { return FWD(xSectorSize); }
static int c_dev(sqlite3_file *f) { return FWD(xDeviceCharacteristics); }
static int c_shmmap(sqlite3_file *f, int pg, int sz, int ext, void volatile **pp) {
  return FWD(xShmMap, pg, sz, ext, pp);
}
static int c_shmlock(sqlite3_file *f, int off, int n, int flags) {
  return FWD(xShmLock, off, n, flags);
}
static void c_shmbarrier(sqlite3_file *f) { FWD(xShmBarrier); }
static int c_shmunmap(sqlite3_file *f, int del) { return FWD(xShmUnmap, del); }
static int c_fetch(sqlite3_file *f, sqlite3_int64 off, int n, void **pp) {
  return FWD(xFetch, off, n, pp);
}
static int c_unfetch(sqlite3_file *f, sqlite3_int64 off, void *p) { return FWD(xUnfetch, off, p); }

static int c_open(sqlite3_vfs *, sqlite3_filename name, sqlite3_file *f, int flags, int *out) {
  count_file *cf = (count_file *)f;
  int rc = real_vfs->xOpen(real_vfs, name, cf->real, flags, out);
  if (rc != SQLITE_OK || !cf->real->pMethods) {
    f->pMethods = NULL;
    return rc;
  }
  int v = cf->real->pMethods->iVersion;
  f->pMethods = &count_methods[v < 1 ? 0 : v > 3 ? 2 : v - 1];
  int is_index = name && index_path_len && strncmp(name, index_path, index_path_len) == 0;
  cf->counter = is_index ? &bytes_index : &bytes_rows;
  return SQLITE_OK;
}

int sq_vfs_install(void) {
  static int done;
  if (done) return 0;
  real_vfs = sqlite3_vfs_find(NULL);
  if (!real_vfs) return -1;
  count_vfs = *real_vfs;
  count_vfs.zName = "hookd";
  count_vfs.szOsFile = (int)offsetof(count_file, real) + real_vfs->szOsFile;
  count_vfs.xOpen = c_open;
  for (int v = 1; v <= 3; v++) {
    sqlite3_io_methods *m = &count_methods[v - 1];
    *m = sqlite3_io_methods{v,        c_close,  c_read,    c_write,      c_truncate, c_sync,
                            c_size,   c_lock,   c_unlock,  c_check,      c_fcntl,    c_sector,
                            c_dev,    c_shmmap, c_shmlock, c_shmbarrier, c_shmunmap, c_fetch,
                            c_unfetch};
  }
  if (sqlite3_vfs_register(&count_vfs, 1) != SQLITE_OK) return -1;
  done = 1;
  return 0;
}

/* Called before any connection opens (start-up, loop thread). */
void sq_vfs_set_index_path(const char *ipath) {
  /* xOpen sees full path names: compare against the same form. */
  if (!real_vfs ||
      real_vfs->xFullPathname(real_vfs, ipath, (int)sizeof(index_path), index_path) != SQLITE_OK)
    snprintf(index_path, sizeof(index_path), "%s", ipath);
  index_path_len = strlen(index_path);
}

void sq_vfs_bytes(uint64_t *rows, uint64_t *index) {
  *rows = __atomic_load_n(&bytes_rows, __ATOMIC_RELAXED);
  *index = __atomic_load_n(&bytes_index, __ATOMIC_RELAXED);
}

/* ---- SQL functions -------------------------------------------------------- */

/* hookd_contains(text, needle): 1 when the simple case folding of text
 * contains needle (already folded). NULL text never matches. */
static void sql_contains(sqlite3_context *ctx, int, sqlite3_value **argv) {
  const char *t = (const char *)sqlite3_value_text(argv[0]);
  const char *n = (const char *)sqlite3_value_text(argv[1]);
  if (!t || !n) {
    sqlite3_result_int(ctx, 0);
    return;
  }
  sqlite3_result_int(ctx, casefold_contains(t, (size_t)sqlite3_value_bytes(argv[0]), n,
                                            (size_t)sqlite3_value_bytes(argv[1])));
}

/* hookd_fold(text): the simple case folding of text (NULL stays NULL). */
static void sql_fold(sqlite3_context *ctx, int, sqlite3_value **argv) {
  const char *t = (const char *)sqlite3_value_text(argv[0]);
  if (!t) {
    sqlite3_result_null(ctx);
    return;
  }
  buf out = {};
  casefold_utf8(t, (size_t)sqlite3_value_bytes(argv[0]), &out);
  if (out.oom) {
    buf_free(&out);
    sqlite3_result_error_nomem(ctx);
    return;
  }
  if (out.data)
    sqlite3_result_text(ctx, out.data, (int)out.len, free); /* SQLite frees */
  else
    sqlite3_result_text(ctx, "", 0, SQLITE_STATIC);
}

/* ---- Connections ---------------------------------------------------------- */

/* One classification for writes and reads: what passes by itself or with an
 * operator's help (locked by another process, a full disk, files that
 * cannot be opened, out of memory, I/O errors: the database is unavailable
 * right now) is STORE_BUSY, 503 + Retry-After; the rest STORE_ERROR, 500. */
int sq_classify(int rc) {
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_NOMEM:
    case SQLITE_INTERRUPT: /* a read past its time (readers.cc) */
    case SQLITE_IOERR: return STORE_BUSY;
    default: return STORE_ERROR;
  }
}

int sq_exec(sqlite3 *db, const char *sql, char *err, size_t errlen) {
  char *msg = NULL;
  int rc = sqlite3_exec(db, sql, NULL, NULL, &msg);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "%s", msg ? msg : sqlite3_errstr(rc));
    sqlite3_free(msg);
    return -1;
  }
  return 0;
}

/* Opens path (created if missing) with WAL, the given synchronous level,
 * busy timeout and hookd's SQL functions. NULL and err on failure. */
sqlite3 *sq_connect(const char *path, int sync, int busy_ms, char *err, size_t errlen) {
  sqlite3 *db = NULL;
  int flags = SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX;
  int rc = sqlite3_open_v2(path, &db, flags, NULL);
  if (rc != SQLITE_OK) {
    snprintf(err, errlen, "%s", db ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
    sqlite3_close(db);
    return NULL;
  }
  sqlite3_extended_result_codes(db, 1);
  sqlite3_busy_timeout(db, busy_ms);
  const int fl = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  if (sqlite3_create_function_v2(db, "hookd_contains", 2, fl, NULL, sql_contains, NULL, NULL,
                                 NULL) != SQLITE_OK ||
      sqlite3_create_function_v2(db, "hookd_fold", 1, fl, NULL, sql_fold, NULL, NULL, NULL) !=
          SQLITE_OK) {
    snprintf(err, errlen, "cannot register SQL functions: %s", sqlite3_errmsg(db));
    sqlite3_close(db);
    return NULL;
  }
  static const char *const sync_sql[] = {"PRAGMA synchronous=OFF", "PRAGMA synchronous=NORMAL",
                                         "PRAGMA synchronous=FULL"};
  if (sq_exec(db, sync_sql[sync], err, errlen)) {
    sqlite3_close(db);
    return NULL;
  }
  return db;
}

/* The first column of the first row of constant SQL, or dflt when there
 * is none or the statement fails (start-up queries: versions, marks). */
int64_t sq_scalar(sqlite3 *db, const char *sql, int64_t dflt) {
  sqlite3_stmt *s = NULL;
  int64_t v = dflt;
  if (sqlite3_prepare_v2(db, sql, -1, &s, NULL) == SQLITE_OK && sqlite3_step(s) == SQLITE_ROW)
    v = sqlite3_column_int64(s, 0);
  sqlite3_finalize(s);
  return v;
}

/* Runs `attach_sql` ("ATTACH ?1 AS name") with path bound (a path is
 * data, never SQL). 0, or -1 with err. */
int sq_attach(sqlite3 *db, const char *attach_sql, const char *path, char *err, size_t errlen) {
  sqlite3_stmt *s = NULL;
  int ok = sqlite3_prepare_v2(db, attach_sql, -1, &s, NULL) == SQLITE_OK &&
           sqlite3_bind_text(s, 1, path, -1, SQLITE_STATIC) == SQLITE_OK &&
           sqlite3_step(s) == SQLITE_DONE;
  sqlite3_finalize(s);
  if (!ok) snprintf(err, errlen, "attach '%.400s': %s", path, sqlite3_errmsg(db));
  return ok ? 0 : -1;
}

void sq_finalize_all(sqlite3_stmt **stmts, int n) {
  for (int i = 0; i < n; i++) {
    sqlite3_finalize(stmts[i]);
    stmts[i] = NULL;
  }
}

/* mkdir -p for the folder that holds path. */
int sq_make_parent_dirs(const char *path, char *err, size_t errlen) {
  char tmp[1024];
  snprintf(tmp, sizeof(tmp), "%s", path);
  char *slash = strrchr(tmp, '/');
  if (!slash || slash == tmp) return 0;
  *slash = 0;
  for (char *p = tmp + 1; *p; p++) {
    if (*p != '/') continue;
    *p = 0;
    if (mkdir(tmp, 0755) != 0 && errno != EEXIST) goto fail;
    *p = '/';
  }
  if (mkdir(tmp, 0755) != 0 && errno != EEXIST) goto fail;
  return 0;
fail:
  snprintf(err, errlen, "cannot create folder '%.400s': %s", tmp, strerror(errno));
  return -1;
}
