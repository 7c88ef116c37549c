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
 * Interposed: open/openat/creat (+64, fortified), close, dup*, write,
 * pwrite, writev, pwritev (+64), ftruncate, truncate, fsync, fdatasync,
 * sync, syncfs, unlink, unlinkat, rename, renameat. Everything else passes
 * through; calls on untracked descriptors cost one table lookup. */
/* Both the plain and the 64 names are defined here: without this, glibc's
 * headers would rename the plain ones to the 64 ones. off_t is 64 bits on
 * LP64 either way. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/uio.h>
#include <time.h>
#include <unistd.h>

#define SECT 512
#define PAGE 4096
#define MAX_FD 65536

struct undo { /* the bytes [off, off+len) had before the first overwrite */
  struct undo *next;
  off_t off;
  size_t len;
  unsigned char data[];
};

struct rec { /* one tracked inode */
  dev_t dev;
  ino_t ino;
  char path[PATH_MAX];
  int is_dir;
  int rfd;             /* our own read-only descriptor (never closed: no lock loss) */
  off_t synced_size;
  unsigned char *saved; /* bitmap: sectors below synced_size with a pre-image */
  size_t saved_bits;
  struct undo *undo;   /* newest first */
  int created;         /* created since its folder's last fsync */
  char unlinked_backup[PATH_MAX + 64]; /* hard link kept until the folder is fsynced */
  char renamed_from[PATH_MAX];    /* path before a rename not yet fsynced */
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static struct rec **recs;
static size_t nrecs, caprecs;
static struct rec *fdtab[MAX_FD];
static char root[PATH_MAX];
static size_t rootlen;
static const char *trigger, *report, *mode = "drop";
static struct rec *last_rec; /* last unsynced write, for `tear` */
static off_t last_off;
static uint64_t n_writes, n_syncs, n_undo_bytes;
static pthread_once_t watcher_once = PTHREAD_ONCE_INIT;

#define REAL(name, ret, ...)                                   \
  static ret (*real_##name)(__VA_ARGS__);                      \
  static void load_##name(void) {                              \
    if (!real_##name) real_##name = dlsym(RTLD_NEXT, #name);   \
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

static void die(const char *what) {
  char msg[256];
  int n = snprintf(msg, sizeof(msg), "powerloss: %s: %s\n", what, strerror(errno));
  if (n > 0) (void)!write(2, msg, (size_t)n);
  abort();
}

__attribute__((constructor)) static void pl_init(void) {
  const char *d = getenv("POWERLOSS_DIR");
  if (!d || !*d) return;
  if (!realpath(d, root)) die("POWERLOSS_DIR");
  rootlen = strlen(root);
  trigger = getenv("POWERLOSS_TRIGGER");
  report = getenv("POWERLOSS_REPORT");
  if (getenv("POWERLOSS_MODE")) mode = getenv("POWERLOSS_MODE");
  srand(getenv("POWERLOSS_SEED") ? (unsigned)atoi(getenv("POWERLOSS_SEED")) : (unsigned)getpid());
}

/* ---- bookkeeping (under mu) ------------------------------------------------ */

static int under_root(const char *abs) {
  return rootlen && strncmp(abs, root, rootlen) == 0 && (abs[rootlen] == 0 || abs[rootlen] == '/');
}

/* Absolute form of path as seen from dirfd (no symlink resolution needed:
 * SQLite passes full paths; relative ones are joined to the cwd). */
static int abs_path(int dirfd, const char *path, char *out) {
  char base[PATH_MAX];
  if (path[0] == '/') return snprintf(out, PATH_MAX, "%s", path) < PATH_MAX ? 0 : -1;
  if (dirfd == AT_FDCWD) {
    if (!getcwd(base, sizeof(base))) return -1;
  } else {
    char link[64];
    snprintf(link, sizeof(link), "/proc/self/fd/%d", dirfd);
    ssize_t n = readlink(link, base, sizeof(base) - 1);
    if (n < 0) return -1;
    base[n] = 0;
  }
  return snprintf(out, PATH_MAX, "%s/%s", base, path) < PATH_MAX ? 0 : -1;
}

static void reset_sync_state(struct rec *r, off_t size) {
  while (r->undo) {
    struct undo *u = r->undo;
    r->undo = u->next;
    free(u);
  }
  r->synced_size = size;
  free(r->saved);
  r->saved_bits = (size_t)(size + SECT - 1) / SECT;
  r->saved = calloc(r->saved_bits / 8 + 1, 1);
  if (!r->saved) die("calloc");
  if (last_rec == r) last_rec = NULL;
}

static struct rec *find(dev_t dev, ino_t ino) {
  for (size_t i = 0; i < nrecs; i++)
    if (recs[i]->dev == dev && recs[i]->ino == ino) return recs[i];
  return NULL;
}

/* The record for the file at abs (which exists), created on first sight:
 * whatever it holds now counts as synced (it is what the last cut left). */
static struct rec *track(const char *abs, int created) {
  struct stat st;
  if (stat(abs, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) return NULL;
  struct rec *r = find(st.st_dev, st.st_ino);
  if (r) {
    snprintf(r->path, sizeof(r->path), "%s", abs);
    return r;
  }
  r = calloc(1, sizeof(*r));
  if (!r) die("calloc");
  r->dev = st.st_dev;
  r->ino = st.st_ino;
  r->is_dir = S_ISDIR(st.st_mode);
  snprintf(r->path, sizeof(r->path), "%s", abs);
  load_open();
  r->rfd = real_open(abs, O_RDONLY | O_CLOEXEC);
  if (r->rfd < 0) die("open for the shadow");
  r->created = created;
  reset_sync_state(r, r->is_dir ? 0 : st.st_size);
  if (nrecs == caprecs) {
    caprecs = caprecs ? caprecs * 2 : 16;
    recs = realloc(recs, caprecs * sizeof(*recs));
    if (!recs) die("realloc");
  }
  recs[nrecs++] = r;
  return r;
}

static void set_bit(struct rec *r, size_t s) { r->saved[s / 8] |= (unsigned char)(1u << (s % 8)); }
static int get_bit(struct rec *r, size_t s) { return r->saved[s / 8] >> (s % 8) & 1; }

/* Saves the pre-images of the synced sectors [off, off+len) touches that
 * have none yet. */
static void save_pre(struct rec *r, off_t off, off_t len) {
  off_t end = off + len < r->synced_size ? off + len : r->synced_size;
  if (off >= end) return;
  size_t s = (size_t)(off / SECT), e = (size_t)((end - 1) / SECT);
  while (s <= e) {
    if (get_bit(r, s)) {
      s++;
      continue;
    }
    size_t t = s;
    while (t + 1 <= e && !get_bit(r, t + 1)) t++;
    off_t a = (off_t)s * SECT, b = (off_t)(t + 1) * SECT;
    if (b > r->synced_size) b = r->synced_size;
    struct undo *u = malloc(sizeof(*u) + (size_t)(b - a));
    if (!u) die("malloc");
    u->off = a;
    u->len = (size_t)(b - a);
    ssize_t got = pread(r->rfd, u->data, u->len, a);
    if (got < 0) die("pread");
    if ((size_t)got < u->len) memset(u->data + got, 0, u->len - (size_t)got);
    u->next = r->undo;
    r->undo = u;
    n_undo_bytes += u->len;
    for (size_t i = s; i <= t; i++) set_bit(r, i);
    s = t + 1;
  }
}

static void *watch(void *arg);
static void start_watcher(void) {
  if (!trigger) return;
  pthread_t t;
  if (pthread_create(&t, NULL, watch, NULL) != 0) die("pthread_create");
  pthread_detach(t);
}

/* After a successful open of abs on fd (existed: whether it did before). */
static void on_open(int fd, const char *abs, int existed) {
  if (fd < 0 || fd >= MAX_FD) return;
  struct rec *r = track(abs, !existed);
  fdtab[fd] = r;
  if (r) pthread_once(&watcher_once, start_watcher);
}

static struct rec *rec_of(int fd) { return fd >= 0 && fd < MAX_FD ? fdtab[fd] : NULL; }

/* ---- the cut ---------------------------------------------------------------- */

static int is_shm(const struct rec *r) {
  size_t n = strlen(r->path);
  return n > 4 && strcmp(r->path + n - 4, "-shm") == 0;
}

static void restore(struct rec *r, FILE *rep) {
  /* SQLite's -shm is memory-mapped by every connection: shrinking it under
   * them would SIGBUS the process mid-cut. Its content is volatile by
   * design (the first connection after a crash truncates and rebuilds it),
   * so it is left as it is; a new one is still removed below. */
  if (r->is_dir || is_shm(r)) return;
  char p[64];
  snprintf(p, sizeof(p), "/proc/self/fd/%d", r->rfd);
  load_open();
  int fd = real_open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) die("reopen for the cut");
  struct stat st;
  if (fstat(fd, &st) != 0) die("fstat");
  int rnd = strcmp(mode, "random") == 0;
  unsigned char tear[SECT];
  ssize_t ntear = -1;
  if (strcmp(mode, "tear") == 0 && last_rec == r) ntear = pread(r->rfd, tear, SECT, last_off);
  size_t undone = 0;
  for (struct undo *u = r->undo; u; u = u->next) {
    for (size_t o = 0; o < u->len; o += PAGE) {
      size_t n = u->len - o < PAGE ? u->len - o : PAGE;
      if (rnd && rand() % 2) continue; /* this page reached the disk */
      if (pwrite(fd, u->data + o, n, u->off + (off_t)o) != (ssize_t)n) die("pwrite (undo)");
      undone += n;
    }
  }
  off_t appended = st.st_size > r->synced_size ? st.st_size - r->synced_size : 0;
  off_t newsize = r->synced_size;
  if (rnd && appended > 0 && rand() % 3) {
    static const unsigned char zero[PAGE];
    for (off_t o = r->synced_size; o < st.st_size; o += PAGE) {
      off_t n = st.st_size - o < PAGE ? st.st_size - o : PAGE;
      if (rand() % 2 && pwrite(fd, zero, (size_t)n, o) != (ssize_t)n) die("pwrite (zero)");
    }
    newsize = st.st_size;
  }
  if (ftruncate(fd, newsize) != 0) die("ftruncate (cut)");
  if (ntear > 0) {
    if (pwrite(fd, tear, (size_t)ntear, last_off) != ntear) die("pwrite (tear)");
  }
  close(fd);
  static int nth;
  fprintf(rep, "%s{\"path\":\"%s\",\"synced_size\":%lld,\"size_before\":%lld,\"undone\":%zu}",
          nth++ ? "," : "", r->path, (long long)r->synced_size, (long long)st.st_size,
          undone);
}

static void cut(void) {
  pthread_mutex_lock(&mu); /* never released: the process dies holding it */
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof(tmp), "%s.tmp", report ? report : "/dev/null");
  FILE *rep = fopen(report ? tmp : "/dev/null", "w");
  if (!rep) die("report");
  fprintf(rep, "{\"mode\":\"%s\",\"writes\":%llu,\"syncs\":%llu,\"files\":[", mode,
          (unsigned long long)n_writes, (unsigned long long)n_syncs);
  /* Contents first (through our own descriptors), then the namespace. */
  for (size_t i = 0; i < nrecs; i++) restore(recs[i], rep);
  int removed = 0, revived = 0, unrenamed = 0;
  for (size_t i = nrecs; i-- > 0;) {
    struct rec *r = recs[i];
    if (r->renamed_from[0]) {
      load_rename();
      if (real_rename(r->path, r->renamed_from) == 0) unrenamed++;
      snprintf(r->path, sizeof(r->path), "%s", r->renamed_from);
    }
    if (r->unlinked_backup[0]) {
      if (link(r->unlinked_backup, r->path) == 0) revived++;
    }
    if (r->created && !r->is_dir) {
      load_unlink();
      if (real_unlink(r->path) == 0) removed++;
    }
  }
  /* Backup links are ours, not the program's: drop them. */
  for (size_t i = 0; i < nrecs; i++) {
    if (recs[i]->unlinked_backup[0]) {
      load_unlink();
      real_unlink(recs[i]->unlinked_backup);
    }
  }
  fprintf(rep, "],\"created_removed\":%d,\"unlinked_revived\":%d,\"renames_undone\":%d}\n",
          removed, revived, unrenamed);
  fclose(rep);
  if (report && rename(tmp, report) != 0) die("rename report");
  kill(getpid(), SIGKILL);
  for (;;) pause();
}

static void *watch(void *arg) {
  (void)arg;
  struct timespec ts = {0, 2 * 1000 * 1000};
  for (;;) {
    if (access(trigger, F_OK) == 0) cut();
    nanosleep(&ts, NULL);
  }
  return NULL;
}

/* ---- interposed calls ------------------------------------------------------- */

static int do_open(int dirfd, const char *path, int flags, mode_t m, int which) {
  char abs[PATH_MAX];
  int mine = rootlen && path && abs_path(dirfd, path, abs) == 0 && under_root(abs);
  int fd;
#define CALL_REAL()                                                      \
  do {                                                                   \
    switch (which) {                                                     \
      case 0: load_open(); fd = real_open(path, flags, m); break;        \
      case 1: load_open64(); fd = real_open64(path, flags, m); break;    \
      case 2: load_openat(); fd = real_openat(dirfd, path, flags, m); break; \
      default: load_openat64(); fd = real_openat64(dirfd, path, flags, m); break; \
    }                                                                    \
  } while (0)
  if (!mine) {
    CALL_REAL();
    return fd;
  }
  pthread_mutex_lock(&mu);
  struct stat st;
  int existed = stat(abs, &st) == 0;
  if (existed && (flags & O_TRUNC) && S_ISREG(st.st_mode)) {
    struct rec *r = track(abs, 0);
    if (r) save_pre(r, 0, r->synced_size);
  }
  CALL_REAL();
  if (fd >= 0) on_open(fd, abs, existed);
  pthread_mutex_unlock(&mu);
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
  if (rec_of(fd)) {
    pthread_mutex_lock(&mu);
    fdtab[fd] = NULL;
    int rc = real_close(fd);
    pthread_mutex_unlock(&mu);
    return rc;
  }
  return real_close(fd);
}

static int dup_track(int from, int to) {
  if (to >= 0 && to < MAX_FD) {
    pthread_mutex_lock(&mu);
    fdtab[to] = rec_of(from);
    pthread_mutex_unlock(&mu);
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

/* A write of len bytes at off (off < 0: the descriptor's position). */
static void before_write(struct rec *r, int fd, off_t off, size_t len) {
  if (off < 0) off = lseek(fd, 0, SEEK_CUR);
  if (off < 0) return;
  save_pre(r, off, (off_t)len);
  n_writes++;
  last_rec = r;
  last_off = off - off % SECT;
}

#define WRITE_WRAPPER(call, fd, off, len)          \
  struct rec *r = rec_of(fd);                      \
  if (!r) return call;                             \
  pthread_mutex_lock(&mu);                         \
  before_write(r, fd, off, len);                   \
  ssize_t rc = call;                               \
  pthread_mutex_unlock(&mu);                       \
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
  struct rec *r = rec_of(fd);
  load_ftruncate();
  load_ftruncate64();
  if (!r) return wide ? real_ftruncate64(fd, len) : real_ftruncate(fd, len);
  pthread_mutex_lock(&mu);
  if (len < r->synced_size) save_pre(r, len, r->synced_size - len);
  int rc = wide ? real_ftruncate64(fd, len) : real_ftruncate(fd, len);
  pthread_mutex_unlock(&mu);
  return rc;
}
int ftruncate(int fd, off_t len) { return do_ftruncate(fd, len, 0); }
int ftruncate64(int fd, off_t len) { return do_ftruncate(fd, len, 1); }
int truncate(const char *path, off_t len) {
  char abs[PATH_MAX];
  load_truncate();
  if (!rootlen || abs_path(AT_FDCWD, path, abs) != 0 || !under_root(abs))
    return real_truncate(path, len);
  pthread_mutex_lock(&mu);
  struct rec *r = track(abs, 0);
  if (r && len < r->synced_size) save_pre(r, len, r->synced_size - len);
  int rc = real_truncate(path, len);
  pthread_mutex_unlock(&mu);
  return rc;
}

/* The folder abs was fsynced: creations, unlinks and renames in it last. */
static void dir_synced(const char *dir) {
  size_t n = strlen(dir);
  for (size_t i = 0; i < nrecs; i++) {
    struct rec *r = recs[i];
    const char *slash = strrchr(r->path, '/');
    if (!slash || (size_t)(slash - r->path) != n || strncmp(r->path, dir, n) != 0) continue;
    r->created = 0;
    r->renamed_from[0] = 0;
    if (r->unlinked_backup[0]) {
      load_unlink();
      real_unlink(r->unlinked_backup);
      r->unlinked_backup[0] = 0;
    }
  }
}

static void synced(struct rec *r) {
  n_syncs++;
  if (r->is_dir) {
    dir_synced(r->path);
    return;
  }
  struct stat st;
  if (fstat(r->rfd, &st) == 0) reset_sync_state(r, st.st_size);
}

static int do_sync(int fd, int data) {
  struct rec *r = rec_of(fd);
  load_fsync();
  load_fdatasync();
  if (!r) return data ? real_fdatasync(fd) : real_fsync(fd);
  /* Held across the call: the state saved is the state at the sync. */
  pthread_mutex_lock(&mu);
  int rc = data ? real_fdatasync(fd) : real_fsync(fd);
  if (rc == 0) synced(r);
  pthread_mutex_unlock(&mu);
  return rc;
}
int fsync(int fd) { return do_sync(fd, 0); }
int fdatasync(int fd) { return do_sync(fd, 1); }

static void sync_all(void) {
  for (size_t i = 0; i < nrecs; i++) synced(recs[i]);
}
void sync(void) {
  load_sync();
  pthread_mutex_lock(&mu);
  real_sync();
  sync_all();
  pthread_mutex_unlock(&mu);
}
int syncfs(int fd) {
  load_syncfs();
  pthread_mutex_lock(&mu);
  int rc = real_syncfs(fd);
  if (rc == 0) sync_all();
  pthread_mutex_unlock(&mu);
  return rc;
}

/* Keeps a hard link to a tracked file being unlinked (or replaced), so a
 * cut before the folder's fsync brings it back. */
static void keep_unlinked(const char *abs) {
  struct stat st;
  if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode)) return;
  struct rec *r = find(st.st_dev, st.st_ino);
  if (!r || r->created || r->unlinked_backup[0]) return;
  snprintf(r->unlinked_backup, sizeof(r->unlinked_backup), "%s/.powerloss-%llu", root,
           (unsigned long long)r->ino);
  if (link(abs, r->unlinked_backup) != 0) r->unlinked_backup[0] = 0;
}

int unlinkat(int dirfd, const char *path, int flags) {
  char abs[PATH_MAX];
  load_unlinkat();
  if (!rootlen || abs_path(dirfd, path, abs) != 0 || !under_root(abs))
    return real_unlinkat(dirfd, path, flags);
  pthread_mutex_lock(&mu);
  keep_unlinked(abs);
  int rc = real_unlinkat(dirfd, path, flags);
  pthread_mutex_unlock(&mu);
  return rc;
}
int unlink(const char *path) { return unlinkat(AT_FDCWD, path, 0); }

int renameat(int fd1, const char *from, int fd2, const char *to) {
  char a[PATH_MAX], b[PATH_MAX];
  load_renameat();
  if (!rootlen || abs_path(fd1, from, a) != 0 || abs_path(fd2, to, b) != 0 ||
      !(under_root(a) && under_root(b)))
    return real_renameat(fd1, from, fd2, to);
  pthread_mutex_lock(&mu);
  keep_unlinked(b);
  struct rec *r = track(a, 0);
  int rc = real_renameat(fd1, from, fd2, to);
  if (rc == 0 && r) {
    if (!r->renamed_from[0] && !r->created) snprintf(r->renamed_from, PATH_MAX, "%s", a);
    snprintf(r->path, sizeof(r->path), "%s", b);
  }
  pthread_mutex_unlock(&mu);
  return rc;
}
int rename(const char *from, const char *to) { return renameat(AT_FDCWD, from, AT_FDCWD, to); }
