/* tests/powerloss/powerloss.c: an LD_PRELOAD shim that simulates a power cut
 * for the files under one folder (tests only; never linked into hookd).
 *
 * A process kill keeps the OS page cache, so it cannot show that a 200
 * waits for the sync. This shim keeps, for every file under $POWERLOSS_DIR,
 * what a power cut would leave of it: the file as of its last successful
 * fsync/fdatasync (the size then, plus the pre-images of the sectors
 * overwritten since, saved at the first overwrite: an undo log in memory,
 * as SQLite's own crash tests keep a copy of unsynced writes). A new file
 * exists after a cut only if its folder was fsynced after it was created; an
 * unlinked or renamed file comes back unless the folder was fsynced since.
 *
 * When the file $POWERLOSS_TRIGGER appears (a watcher thread polls for it),
 * the shim takes the lock every tracked write holds, rolls every file back
 * to its synced state, writes a JSON report to $POWERLOSS_REPORT and
 * SIGKILLs the process while still holding the lock: no write lands after
 * the cut. $POWERLOSS_MODE:
 *   drop    (default) everything unsynced is lost;
 *   tear    as drop, but the first sector of the last unsynced write keeps
 *           its new bytes (a torn write);
 *   random  each unsynced 4 KiB page independently keeps its new or its old
 *           bytes (pages appended since the sync: kept, zeroed or cut off),
 *           as an arbitrary subset of the page cache reaching the disk
 *           ($POWERLOSS_SEED).
 * Memory-mapped stores (SQLite's -shm) are not seen; -shm files are
 * volatile by SQLite's design and rebuilt after a cut, so they are left
 * as they are (see restore()).
 *
 * This file interposes the calls: open/openat/creat (+64, fortified),
 * close, dup*, write, pwrite, writev, pwritev (+64), ftruncate, truncate,
 * fsync, fdatasync, sync, syncfs, unlink, unlinkat, rename, renameat.
 * Everything else passes through; calls on untracked descriptors cost one
 * table lookup. pl_state.c keeps the records and performs the cut. */
/* Both the plain and the 64 names are defined here: without this, glibc's
 * headers would rename the plain ones to the 64 ones. off_t is 64 bits on
 * LP64 either way. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dlfcn.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <unistd.h>

#include "pl.h"

#define REAL(name, ret, ...)                                 \
  static ret (*real_##name)(__VA_ARGS__);                    \
  static void load_##name(void) {                            \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name); \
  }
REAL(open, int, const char *, int, ...)
REAL(open64, int, const char *, int, ...)
REAL(openat, int, int, const char *, int, ...)
REAL(openat64, int, int, const char *, int, ...)
REAL(close, int, int)
REAL(dup, int, int)
REAL(dup2, int, int, int)
REAL(dup3, int, int, int, int)
REAL(write, ssize_t, int, const void *, size_t)
REAL(pwrite, ssize_t, int, const void *, size_t, off_t)
REAL(pwrite64, ssize_t, int, const void *, size_t, off_t)
REAL(writev, ssize_t, int, const struct iovec *, int)
REAL(pwritev, ssize_t, int, const struct iovec *, int, off_t)
REAL(pwritev64, ssize_t, int, const struct iovec *, int, off_t)
REAL(ftruncate, int, int, off_t)
REAL(ftruncate64, int, int, off_t)
REAL(truncate, int, const char *, off_t)
REAL(fsync, int, int)
REAL(fdatasync, int, int)
REAL(sync, void, void)
REAL(syncfs, int, int)
REAL(unlink, int, const char *)
REAL(unlinkat, int, int, const char *, int)
REAL(rename, int, const char *, const char *)
REAL(renameat, int, int, const char *, int, const char *)

int pl_real_open(const char *path, int flags) {
  load_open();
  return real_open(path, flags);
}
int pl_real_unlink(const char *path) {
  load_unlink();
  return real_unlink(path);
}
int pl_real_rename(const char *from, const char *to) {
  load_rename();
  return real_rename(from, to);
}

/* ---- interposed calls ------------------------------------------------------- */

static int do_open(int dirfd, const char *path, int flags, mode_t m, int which) {
  char abs[PATH_MAX];
  int mine = pl_rootlen && path && pl_abs_path(dirfd, path, abs) == 0 && pl_under_root(abs);
  int fd;
#define CALL_REAL()                                \
  do {                                             \
    switch (which) {                               \
      case 0:                                      \
        load_open();                               \
        fd = real_open(path, flags, m);            \
        break;                                     \
      case 1:                                      \
        load_open64();                             \
        fd = real_open64(path, flags, m);          \
        break;                                     \
      case 2:                                      \
        load_openat();                             \
        fd = real_openat(dirfd, path, flags, m);   \
        break;                                     \
      default:                                     \
        load_openat64();                           \
        fd = real_openat64(dirfd, path, flags, m); \
        break;                                     \
    }                                              \
  } while (0)
  if (!mine) {
    CALL_REAL();
    return fd;
  }
  pthread_mutex_lock(&pl_mu);
  struct stat st;
  int existed = stat(abs, &st) == 0;
  if (existed && (flags & O_TRUNC) && S_ISREG(st.st_mode)) {
    struct rec *r = pl_track(abs, 0);
    if (r) pl_save_pre(r, 0, r->synced_size);
  }
  CALL_REAL();
  if (fd >= 0) pl_on_open(fd, abs, existed);
  pthread_mutex_unlock(&pl_mu);
  return fd;
#undef CALL_REAL
}

static mode_t mode_arg(int flags, va_list ap) {
  return (flags & (O_CREAT | __O_TMPFILE)) ? (mode_t)va_arg(ap, int) : 0;
}

int open(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(AT_FDCWD, path, flags, m, 0);
}
int open64(const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(AT_FDCWD, path, flags, m, 1);
}
int openat(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(dirfd, path, flags, m, 2);
}
int openat64(int dirfd, const char *path, int flags, ...) {
  va_list ap;
  va_start(ap, flags);
  mode_t m = mode_arg(flags, ap);
  va_end(ap);
  return do_open(dirfd, path, flags, m, 3);
}
int __open_2(const char *path, int flags) { return do_open(AT_FDCWD, path, flags, 0, 0); }
int __open64_2(const char *path, int flags) { return do_open(AT_FDCWD, path, flags, 0, 1); }
int creat(const char *path, mode_t m) {
  return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, m, 0);
}
int creat64(const char *path, mode_t m) {
  return do_open(AT_FDCWD, path, O_CREAT | O_WRONLY | O_TRUNC, m, 1);
}

int close(int fd) {
  load_close();
  if (pl_rec_of(fd)) {
    pthread_mutex_lock(&pl_mu);
    pl_fdtab[fd] = NULL;
    int rc = real_close(fd);
    pthread_mutex_unlock(&pl_mu);
    return rc;
  }
  return real_close(fd);
}

static int dup_track(int from, int to) {
  if (to >= 0 && to < MAX_FD) {
    pthread_mutex_lock(&pl_mu);
    pl_fdtab[to] = pl_rec_of(from);
    pthread_mutex_unlock(&pl_mu);
  }
  return to;
}
int dup(int fd) {
  load_dup();
  return dup_track(fd, real_dup(fd));
}
int dup2(int fd, int fd2) {
  load_dup2();
  return dup_track(fd, real_dup2(fd, fd2));
}
int dup3(int fd, int fd2, int flags) {
  load_dup3();
  return dup_track(fd, real_dup3(fd, fd2, flags));
}

#define WRITE_WRAPPER(call, fd, off, len) \
  struct rec *r = pl_rec_of(fd);          \
  if (!r) return call;                    \
  pthread_mutex_lock(&pl_mu);             \
  pl_before_write(r, fd, off, len);       \
  ssize_t rc = call;                      \
  pthread_mutex_unlock(&pl_mu);           \
  return rc

static size_t iov_len(const struct iovec *v, int n) {
  size_t t = 0;
  for (int i = 0; i < n; i++) t += v[i].iov_len;
  return t;
}

ssize_t write(int fd, const void *b, size_t n) {
  load_write();
  WRITE_WRAPPER(real_write(fd, b, n), fd, -1, n);
}
ssize_t pwrite(int fd, const void *b, size_t n, off_t off) {
  load_pwrite();
  WRITE_WRAPPER(real_pwrite(fd, b, n, off), fd, off, n);
}
ssize_t pwrite64(int fd, const void *b, size_t n, off_t off) {
  load_pwrite64();
  WRITE_WRAPPER(real_pwrite64(fd, b, n, off), fd, off, n);
}
ssize_t writev(int fd, const struct iovec *v, int n) {
  load_writev();
  WRITE_WRAPPER(real_writev(fd, v, n), fd, -1, iov_len(v, n));
}
ssize_t pwritev(int fd, const struct iovec *v, int n, off_t off) {
  load_pwritev();
  WRITE_WRAPPER(real_pwritev(fd, v, n, off), fd, off, iov_len(v, n));
}
ssize_t pwritev64(int fd, const struct iovec *v, int n, off_t off) {
  load_pwritev64();
  WRITE_WRAPPER(real_pwritev64(fd, v, n, off), fd, off, iov_len(v, n));
}

static int do_ftruncate(int fd, off_t len, int wide) {
  struct rec *r = pl_rec_of(fd);
  load_ftruncate();
  load_ftruncate64();
  if (!r) return wide ? real_ftruncate64(fd, len) : real_ftruncate(fd, len);
  pthread_mutex_lock(&pl_mu);
  if (len < r->synced_size) pl_save_pre(r, len, r->synced_size - len);
  int rc = wide ? real_ftruncate64(fd, len) : real_ftruncate(fd, len);
  pthread_mutex_unlock(&pl_mu);
  return rc;
}
int ftruncate(int fd, off_t len) { return do_ftruncate(fd, len, 0); }
int ftruncate64(int fd, off_t len) { return do_ftruncate(fd, len, 1); }
int truncate(const char *path, off_t len) {
  char abs[PATH_MAX];
  load_truncate();
  if (!pl_rootlen || pl_abs_path(AT_FDCWD, path, abs) != 0 || !pl_under_root(abs))
    return real_truncate(path, len);
  pthread_mutex_lock(&pl_mu);
  struct rec *r = pl_track(abs, 0);
  if (r && len < r->synced_size) pl_save_pre(r, len, r->synced_size - len);
  int rc = real_truncate(path, len);
  pthread_mutex_unlock(&pl_mu);
  return rc;
}

static int do_sync(int fd, int data) {
  struct rec *r = pl_rec_of(fd);
  load_fsync();
  load_fdatasync();
  if (!r) return data ? real_fdatasync(fd) : real_fsync(fd);
  /* Held across the call: the state saved is the state at the sync. */
  pthread_mutex_lock(&pl_mu);
  int rc = data ? real_fdatasync(fd) : real_fsync(fd);
  if (rc == 0) pl_synced(r);
  pthread_mutex_unlock(&pl_mu);
  return rc;
}
int fsync(int fd) { return do_sync(fd, 0); }
int fdatasync(int fd) { return do_sync(fd, 1); }

void sync(void) {
  load_sync();
  pthread_mutex_lock(&pl_mu);
  real_sync();
  pl_sync_all();
  pthread_mutex_unlock(&pl_mu);
}
int syncfs(int fd) {
  load_syncfs();
  pthread_mutex_lock(&pl_mu);
  int rc = real_syncfs(fd);
  if (rc == 0) pl_sync_all();
  pthread_mutex_unlock(&pl_mu);
  return rc;
}

int unlinkat(int dirfd, const char *path, int flags) {
  char abs[PATH_MAX];
  load_unlinkat();
  if (!pl_rootlen || pl_abs_path(dirfd, path, abs) != 0 || !pl_under_root(abs))
    return real_unlinkat(dirfd, path, flags);
  pthread_mutex_lock(&pl_mu);
  pl_keep_unlinked(abs);
  int rc = real_unlinkat(dirfd, path, flags);
  pthread_mutex_unlock(&pl_mu);
  return rc;
}
int unlink(const char *path) { return unlinkat(AT_FDCWD, path, 0); }

int renameat(int fd1, const char *from, int fd2, const char *to) {
  char a[PATH_MAX], b[PATH_MAX];
  load_renameat();
  if (!pl_rootlen || pl_abs_path(fd1, from, a) != 0 || pl_abs_path(fd2, to, b) != 0 ||
      !(pl_under_root(a) && pl_under_root(b)))
    return real_renameat(fd1, from, fd2, to);
  pthread_mutex_lock(&pl_mu);
  pl_keep_unlinked(b);
  struct rec *r = pl_track(a, 0);
  int rc = real_renameat(fd1, from, fd2, to);
  if (rc == 0 && r) {
    if (!r->renamed_from[0] && !r->created) snprintf(r->renamed_from, PATH_MAX, "%s", a);
    snprintf(r->path, sizeof(r->path), "%s", b);
  }
  pthread_mutex_unlock(&pl_mu);
  return rc;
}
int rename(const char *from, const char *to) { return renameat(AT_FDCWD, from, AT_FDCWD, to); }
