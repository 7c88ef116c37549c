/* notify.cc: sd_notify over an AF_UNIX datagram socket. */
#include "notify.h"

#include <errno.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static struct {
  struct sockaddr_un addr;
  socklen_t addrlen;
  int enabled;
  uint64_t watchdog_usec;
} g_notify;

int notify_init(void) {
  const char *path = getenv("NOTIFY_SOCKET");
  const char *wd = getenv("WATCHDOG_USEC");
  const char *wd_pid = getenv("WATCHDOG_PID");
  if (wd && (!wd_pid || atol(wd_pid) == (long)getpid())) {
    char *end;
    unsigned long long v = strtoull(wd, &end, 10);
    if (*end == 0 && v > 0) g_notify.watchdog_usec = v;
  }
  unsetenv("WATCHDOG_USEC");
  unsetenv("WATCHDOG_PID");
  if (!path || !*path) return 0;
  size_t n = strlen(path);
  if ((path[0] != '/' && path[0] != '@') || n >= sizeof(g_notify.addr.sun_path)) return -1;
  memset(&g_notify.addr, 0, sizeof(g_notify.addr));
  g_notify.addr.sun_family = AF_UNIX;
  memcpy(g_notify.addr.sun_path, path, n);
  if (path[0] == '@') g_notify.addr.sun_path[0] = 0; /* abstract namespace */
  g_notify.addrlen = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n);
  g_notify.enabled = 1;
  unsetenv("NOTIFY_SOCKET");
  return 0;
}

int notify_send(const char *state) {
  if (!g_notify.enabled) return -1;
  int fd = socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -1;
  /* A datagram of a few bytes to a local socket does not block. */
  ssize_t rc;
  do {
    rc = sendto(fd, state, strlen(state), MSG_NOSIGNAL | MSG_DONTWAIT,
                (struct sockaddr *)&g_notify.addr, g_notify.addrlen);
  } while (rc < 0 && errno == EINTR);
  close(fd);
  return rc < 0 ? -1 : 0;
}

uint64_t notify_watchdog_usec(void) { return g_notify.watchdog_usec; }
