/* tests/powerloss/pl.h: what the power-loss shim's two files share:
 * pl_state.c keeps the per-inode records (synced size, undo log, folder
 * durability) and performs the cut; powerloss.c interposes the calls and
 * updates the records. Every function here runs under pl_mu. */
#ifndef HOOKD_PL_H
#define HOOKD_PL_H

#include <limits.h>
#include <pthread.h>
#include <stdint.h>
#include <sys/types.h>

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
  int rfd; /* our own read-only descriptor (never closed: no lock loss) */
  off_t synced_size;
  unsigned char *saved; /* bitmap: sectors below synced_size with a pre-image */
  size_t saved_bits;
  struct undo *undo;                   /* newest first */
  int created;                         /* created since its folder's last fsync */
  char unlinked_backup[PATH_MAX + 64]; /* hard link kept until the folder is fsynced */
  char renamed_from[PATH_MAX];         /* path before a rename not yet fsynced */
};

extern pthread_mutex_t pl_mu; /* held by every tracked write, sync and the cut */
extern struct rec *pl_fdtab[MAX_FD];
extern size_t pl_rootlen; /* 0: no $POWERLOSS_DIR, the shim only passes calls on */
extern uint64_t pl_writes, pl_syncs;

static inline struct rec *pl_rec_of(int fd) { return fd >= 0 && fd < MAX_FD ? pl_fdtab[fd] : 0; }

void pl_die(const char *what);
int pl_under_root(const char *abs);
int pl_abs_path(int dirfd, const char *path, char *out);
struct rec *pl_track(const char *abs, int created);
void pl_save_pre(struct rec *r, off_t off, off_t len);
void pl_on_open(int fd, const char *abs, int existed);
void pl_before_write(struct rec *r, int fd, off_t off, size_t len);
void pl_synced(struct rec *r);
void pl_sync_all(void);
void pl_keep_unlinked(const char *abs);

/* powerloss.c: the real calls, for pl_state.c */
int pl_real_open(const char *path, int flags);
int pl_real_unlink(const char *path);
int pl_real_rename(const char *from, const char *to);

#endif
