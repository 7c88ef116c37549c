/* metrics_sample.cc: the figures a /metrics scrape reads from the system
 * (process memory and CPU, descriptors, database file sizes). Blocking
 * reads of /proc and stat(2): called on a worker thread (the /metrics
 * handler's job), never on the loop. */
#include <dirent.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include "metrics.h"

static int64_t file_size(const char *path) {
  struct stat st;
  return stat(path, &st) == 0 ? (int64_t)st.st_size : 0;
}

void metrics_sample_unknown(metrics_sample *s) {
  s->db_bytes = -1;
  s->rss_bytes = s->vsize_bytes = -1;
  s->cpu_seconds = -1;
  s->open_fds = s->max_fds = -1;
}

void metrics_sample_process(metrics_sample *s, const char *const *db_files) {
  metrics_sample_unknown(s);
  if (db_files) {
    s->db_bytes = 0;
    for (const char *const *f = db_files; *f; f++) {
      char wal[1100];
      snprintf(wal, sizeof(wal), "%s-wal", *f);
      s->db_bytes += file_size(*f) + file_size(wal);
    }
  }
  /* CPU from getrusage; sizes from /proc/self/statm ("size resident ...",
   * in pages). Not /proc/self/stat: qemu-user fakes that file (RSS 0)
   * when the arm64 build is tested under emulation, and statm needs no
   * skipping past a comm field that may hold spaces. */
  struct rusage ru;
  if (getrusage(RUSAGE_SELF, &ru) == 0)
    s->cpu_seconds = (double)(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
                     (double)(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
  if (fd >= 0) {
    char line[128];
    ssize_t n = read(fd, line, sizeof(line) - 1);
    close(fd);
    if (n > 0) {
      line[n] = '\0';
      char *end = NULL;
      unsigned long long size = strtoull(line, &end, 10);
      char *p = end;
      unsigned long long resident = strtoull(p, &end, 10);
      long page = sysconf(_SC_PAGESIZE);
      if (end != p && page > 0) {
        s->vsize_bytes = (int64_t)(size * (unsigned long long)page);
        s->rss_bytes = (int64_t)(resident * (unsigned long long)page);
      }
    }
  }
  DIR *d = opendir("/proc/self/fd");
  if (d) {
    int64_t n = 0;
    while (readdir(d)) n++;
    closedir(d);
    s->open_fds = n - 3; /* ".", ".." and the DIR's own fd */
  }
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0) s->max_fds = (int64_t)rl.rlim_cur;
}
