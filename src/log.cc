/* log.cc: buffered JSON log lines, written by a dedicated thread.
 *
 * Ownership: `scratch` belongs to the loop thread. `pending` is shared with
 * the writer thread under `mu`; the writer swaps it for its own empty buffer
 * and writes outside the lock, so the loop holds the lock only for a memcpy. */
#include "log.h"

#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "clock.h"
#include "defs.h"

#define LOG_BATCH_BYTES (64 * 1024)

static struct {
  int level;
  int fd;
  int running;  /* writer thread started */
  int stopping; /* guarded by mu */
  pthread_t thread;
  pthread_mutex_t mu;
  pthread_cond_t cond;
  buf pending;      /* guarded by mu */
  buf scratch;      /* loop thread only */
  uint64_t dropped; /* guarded by mu */
} g_log = {LOG_INFO, 1, 0, 0, {}, PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, {}, {}, 0};

static void write_all(int fd, const char *p, size_t n) {
  while (n) {
    ssize_t w = write(fd, p, n);
    if (w < 0 && errno == EINTR) continue;
    if (w <= 0) return; /* stdout gone: nothing sensible left to do */
    p += w;
    n -= (size_t)w;
  }
}

static void *log_thread(void *) {
  buf out = {};
  pthread_mutex_lock(&g_log.mu);
  for (;;) {
    while (g_log.pending.len == 0 && !g_log.stopping) pthread_cond_wait(&g_log.cond, &g_log.mu);
    if (g_log.pending.len == 0 && g_log.stopping) break;
    buf tmp = g_log.pending;
    g_log.pending = out;
    out = tmp;
    pthread_mutex_unlock(&g_log.mu);
    write_all(g_log.fd, out.data, out.len);
    /* Under a steady stream of lines, gather for 2 ms so one write(2)
     * carries many lines instead of one wake-up and one write per line. */
    int small = out.len < LOG_BATCH_BYTES;
    buf_reset(&out);
    if (small) {
      struct timespec ts = {0, 2000000};
      nanosleep(&ts, NULL);
    }
    pthread_mutex_lock(&g_log.mu);
  }
  pthread_mutex_unlock(&g_log.mu);
  buf_free(&out);
  return NULL;
}

int log_init(int level, int fd) {
  g_log.level = level;
  g_log.fd = fd;
  if (pthread_create(&g_log.thread, NULL, log_thread, NULL) != 0) return -1;
  g_log.running = 1;
  return 0;
}

void log_shutdown(void) {
  if (!g_log.running) return;
  pthread_mutex_lock(&g_log.mu);
  g_log.stopping = 1;
  pthread_cond_signal(&g_log.cond);
  pthread_mutex_unlock(&g_log.mu);
  pthread_join(g_log.thread, NULL);
  g_log.running = 0;
  buf_free(&g_log.pending);
  buf_free(&g_log.scratch);
}

buf *log_begin(int level) {
  if (level < g_log.level) return NULL;
  char ts[CLOCK_ISO_LEN + 1];
  clock_iso_ms(clock_wall_ms(), ts);
  buf *b = &g_log.scratch;
  buf_reset(b);
  buf_puts(b, "{\"ts\":\"");
  buf_append(b, ts, CLOCK_ISO_LEN);
  buf_puts(b, "\",\"level\":\"");
  buf_puts(b, config_level_name(level));
  buf_putc(b, '"');
  return b;
}

void log_end(buf *line) {
  buf_puts(line, "}\n");
  if (line->oom) return;
  if (!g_log.running) { /* before log_init or after shutdown: write directly */
    write_all(g_log.fd, line->data, line->len);
    return;
  }
  pthread_mutex_lock(&g_log.mu);
  if (g_log.pending.len + line->len > LOG_MAX_BUFFER) {
    g_log.dropped++;
  } else {
    int was_empty = g_log.pending.len == 0;
    buf_append(&g_log.pending, line->data, line->len);
    if (was_empty) pthread_cond_signal(&g_log.cond); /* else it is awake already */
  }
  pthread_mutex_unlock(&g_log.mu);
}

void log_event(int level, const char *event, const char *msg) {
  buf *b = log_begin(level);
  if (!b) return;
  buf_puts(b, ",\"event\":");
  json_put_cstr(b, event);
  if (msg) {
    buf_puts(b, ",\"msg\":");
    json_put_cstr(b, msg);
  }
  log_end(b);
}

uint64_t log_dropped(void) {
  pthread_mutex_lock(&g_log.mu);
  uint64_t n = g_log.dropped;
  pthread_mutex_unlock(&g_log.mu);
  return n;
}
