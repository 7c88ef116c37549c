/* tests/powerloss/pl_state.c: the power-loss shim's bookkeeping and the cut
 * (see powerloss.c for what the shim does and how a test drives it).
 *
 * Per tracked inode: the size at the last successful fsync/fdatasync, the
 * pre-images of the 512-byte sectors below it overwritten since (saved at
 * the first overwrite; a bitmap says which), and whether its folder entry
 * is durable (created, unlinked or renamed since the folder's last fsync).
 * The cut rolls every file back through the shim's own descriptor, then the
 * folder entries, writes the report and SIGKILLs the process while holding
 * pl_mu, so no tracked write lands after it. */
/* Both the plain and the 64 names are defined here: without this, glibc's
 * headers would rename the plain ones to the 64 ones. off_t is 64 bits on
 * LP64 either way. */
#undef _FILE_OFFSET_BITS
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <time.h>
#include <unistd.h>

#include "pl.h"

pthread_mutex_t pl_mu = PTHREAD_MUTEX_INITIALIZER;
struct rec *pl_fdtab[MAX_FD];
size_t pl_rootlen;
uint64_t pl_writes, pl_syncs;
static struct rec **recs;
static size_t nrecs, caprecs;
static char root[PATH_MAX];
static const char *trigger, *report, *mode = "drop";
static struct rec *last_rec; /* last unsynced write, for `tear` */
static off_t last_off;
static uint64_t n_undo_bytes;
static pthread_once_t watcher_once = PTHREAD_ONCE_INIT;

void pl_die(const char *what) {
  char msg[256];
  int n = snprintf(msg, sizeof(msg), "powerloss: %s: %s\n", what, strerror(errno));
  if (n > 0) (void)!write(2, msg, (size_t)n);
  abort();
}

__attribute__((constructor)) static void pl_init(void) {
  const char *d = getenv("POWERLOSS_DIR");
  if (!d || !*d) return;
  if (!realpath(d, root)) pl_die("POWERLOSS_DIR");
  pl_rootlen = strlen(root);
  trigger = getenv("POWERLOSS_TRIGGER");
  report = getenv("POWERLOSS_REPORT");
  if (getenv("POWERLOSS_MODE")) mode = getenv("POWERLOSS_MODE");
  srand(getenv("POWERLOSS_SEED") ? (unsigned)atoi(getenv("POWERLOSS_SEED")) : (unsigned)getpid());
}

/* ---- bookkeeping (under pl_mu) ------------------------------------------------ */

int pl_under_root(const char *abs) {
  return pl_rootlen && strncmp(abs, root, pl_rootlen) == 0 &&
         (abs[pl_rootlen] == 0 || abs[pl_rootlen] == '/');
}

/* Absolute form of path as seen from dirfd (no symlink resolution needed:
 * SQLite passes full paths; relative ones are joined to the cwd). */
int pl_abs_path(int dirfd, const char *path, char *out) {
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
  if (!r->saved) pl_die("calloc");
  if (last_rec == r) last_rec = NULL;
}

static struct rec *find(dev_t dev, ino_t ino) {
  for (size_t i = 0; i < nrecs; i++)
    if (recs[i]->dev == dev && recs[i]->ino == ino) return recs[i];
  return NULL;
}

/* The record for the file at abs (which exists), created on first sight:
 * whatever it holds now counts as synced (it is what the last cut left). */
struct rec *pl_track(const char *abs, int created) {
  struct stat st;
  if (stat(abs, &st) != 0 || !(S_ISREG(st.st_mode) || S_ISDIR(st.st_mode))) return NULL;
  struct rec *r = find(st.st_dev, st.st_ino);
  if (r) {
    snprintf(r->path, sizeof(r->path), "%s", abs);
    return r;
  }
  r = calloc(1, sizeof(*r));
  if (!r) pl_die("calloc");
  r->dev = st.st_dev;
  r->ino = st.st_ino;
  r->is_dir = S_ISDIR(st.st_mode);
  snprintf(r->path, sizeof(r->path), "%s", abs);
  r->rfd = pl_real_open(abs, O_RDONLY | O_CLOEXEC);
  if (r->rfd < 0) pl_die("open for the shadow");
  r->created = created;
  reset_sync_state(r, r->is_dir ? 0 : st.st_size);
  if (nrecs == caprecs) {
    caprecs = caprecs ? caprecs * 2 : 16;
    recs = realloc(recs, caprecs * sizeof(*recs));
    if (!recs) pl_die("realloc");
  }
  recs[nrecs++] = r;
  return r;
}

static void set_bit(struct rec *r, size_t s) { r->saved[s / 8] |= (unsigned char)(1u << (s % 8)); }
static int get_bit(struct rec *r, size_t s) { return r->saved[s / 8] >> (s % 8) & 1; }

/* Saves the pre-images of the synced sectors [off, off+len) touches that
 * have none yet. */
void pl_save_pre(struct rec *r, off_t off, off_t len) {
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
    if (!u) pl_die("malloc");
    u->off = a;
    u->len = (size_t)(b - a);
    ssize_t got = pread(r->rfd, u->data, u->len, a);
    if (got < 0) pl_die("pread");
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
  if (pthread_create(&t, NULL, watch, NULL) != 0) pl_die("pthread_create");
  pthread_detach(t);
}

/* After a successful open of abs on fd (existed: whether it did before). */
void pl_on_open(int fd, const char *abs, int existed) {
  if (fd < 0 || fd >= MAX_FD) return;
  struct rec *r = pl_track(abs, !existed);
  pl_fdtab[fd] = r;
  if (r) pthread_once(&watcher_once, start_watcher);
}

/* A write of len bytes at off (off < 0: the descriptor's position). */
void pl_before_write(struct rec *r, int fd, off_t off, size_t len) {
  if (off < 0) off = lseek(fd, 0, SEEK_CUR);
  if (off < 0) return;
  pl_save_pre(r, off, (off_t)len);
  pl_writes++;
  last_rec = r;
  last_off = off - off % SECT;
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
      pl_real_unlink(r->unlinked_backup);
      r->unlinked_backup[0] = 0;
    }
  }
}

void pl_synced(struct rec *r) {
  pl_syncs++;
  if (r->is_dir) {
    dir_synced(r->path);
    return;
  }
  struct stat st;
  if (fstat(r->rfd, &st) == 0) reset_sync_state(r, st.st_size);
}

void pl_sync_all(void) {
  for (size_t i = 0; i < nrecs; i++) pl_synced(recs[i]);
}
/* Keeps a hard link to a tracked file being unlinked (or replaced), so a
 * cut before the folder's fsync brings it back. */
void pl_keep_unlinked(const char *abs) {
  struct stat st;
  if (stat(abs, &st) != 0 || !S_ISREG(st.st_mode)) return;
  struct rec *r = find(st.st_dev, st.st_ino);
  if (!r || r->created || r->unlinked_backup[0]) return;
  snprintf(r->unlinked_backup, sizeof(r->unlinked_backup), "%s/.powerloss-%llu", root,
           (unsigned long long)r->ino);
  if (link(abs, r->unlinked_backup) != 0) r->unlinked_backup[0] = 0;
}

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
  int fd = pl_real_open(p, O_WRONLY | O_CLOEXEC);
  if (fd < 0) pl_die("reopen for the cut");
  struct stat st;
  if (fstat(fd, &st) != 0) pl_die("fstat");
  int rnd = strcmp(mode, "random") == 0;
  unsigned char tear[SECT];
  ssize_t ntear = -1;
  if (strcmp(mode, "tear") == 0 && last_rec == r) ntear = pread(r->rfd, tear, SECT, last_off);
  size_t undone = 0;
  for (struct undo *u = r->undo; u; u = u->next) {
    for (size_t o = 0; o < u->len; o += PAGE) {
      size_t n = u->len - o < PAGE ? u->len - o : PAGE;
      if (rnd && rand() % 2) continue; /* this page reached the disk */
      if (pwrite(fd, u->data + o, n, u->off + (off_t)o) != (ssize_t)n) pl_die("pwrite (undo)");
      undone += n;
    }
  }
  off_t appended = st.st_size > r->synced_size ? st.st_size - r->synced_size : 0;
  off_t newsize = r->synced_size;
  if (rnd && appended > 0 && rand() % 3) {
    static const unsigned char zero[PAGE];
    for (off_t o = r->synced_size; o < st.st_size; o += PAGE) {
      off_t n = st.st_size - o < PAGE ? st.st_size - o : PAGE;
      if (rand() % 2 && pwrite(fd, zero, (size_t)n, o) != (ssize_t)n) pl_die("pwrite (zero)");
    }
    newsize = st.st_size;
  }
  if (ftruncate(fd, newsize) != 0) pl_die("ftruncate (cut)");
  if (ntear > 0) {
    if (pwrite(fd, tear, (size_t)ntear, last_off) != ntear) pl_die("pwrite (tear)");
  }
  close(fd);
  static int nth;
  fprintf(rep, "%s{\"path\":\"%s\",\"synced_size\":%lld,\"size_before\":%lld,\"undone\":%zu}",
          nth++ ? "," : "", r->path, (long long)r->synced_size, (long long)st.st_size, undone);
}

static void cut(void) {
  pthread_mutex_lock(&pl_mu); /* never released: the process dies holding it */
  char tmp[PATH_MAX + 8];
  snprintf(tmp, sizeof(tmp), "%s.tmp", report ? report : "/dev/null");
  FILE *rep = fopen(report ? tmp : "/dev/null", "w");
  if (!rep) pl_die("report");
  fprintf(rep, "{\"mode\":\"%s\",\"writes\":%llu,\"syncs\":%llu,\"files\":[", mode,
          (unsigned long long)pl_writes, (unsigned long long)pl_syncs);
  /* Contents first (through our own descriptors), then the namespace. */
  for (size_t i = 0; i < nrecs; i++) restore(recs[i], rep);
  int removed = 0, revived = 0, unrenamed = 0;
  for (size_t i = nrecs; i-- > 0;) {
    struct rec *r = recs[i];
    if (r->renamed_from[0]) {
      if (pl_real_rename(r->path, r->renamed_from) == 0) unrenamed++;
      snprintf(r->path, sizeof(r->path), "%s", r->renamed_from);
    }
    if (r->unlinked_backup[0]) {
      if (link(r->unlinked_backup, r->path) == 0) revived++;
    }
    if (r->created && !r->is_dir) {
      if (pl_real_unlink(r->path) == 0) removed++;
    }
  }
  /* Backup links are ours, not the program's: drop them. */
  for (size_t i = 0; i < nrecs; i++) {
    if (recs[i]->unlinked_backup[0]) {
      pl_real_unlink(recs[i]->unlinked_backup);
    }
  }
  fprintf(rep, "],\"created_removed\":%d,\"unlinked_revived\":%d,\"renames_undone\":%d}\n", removed,
          revived, unrenamed);
  fclose(rep);
  if (report && rename(tmp, report) != 0) pl_die("rename report");
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
