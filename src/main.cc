/* main.cc: command line, configuration, start-up, signals and teardown. */
#include <malloc.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include <sodium.h>
#include <uv.h>

#include "auth.h"
#include "buf.h"
#include "cache.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "router.h"
#include "server.h"
#include "store.h"

static const char usage[] =
    "usage: hookd [--help | --version | --sign | --healthcheck]\n"
    "\n"
    "hookd receives signed webhooks, stores each message exactly once in SQLite\n"
    "and serves them back over HTTP. It is configured by the environment:\n"
    "\n"
    "  WEBHOOK_SECRET       HMAC-SHA256 key for X-Signature (required for readiness)\n"
    "  WEBHOOK_SECRET_FILE  read the key from this file instead (reloaded on SIGHUP)\n"
    "  DATABASE_URL         sqlite:///relative.db or sqlite:////absolute.db\n"
    "                       (default sqlite:///./data/app.db)\n"
    "  HOST, PORT           listen address (default 0.0.0.0:8000; PORT=0 picks one)\n"
    "  LOG_LEVEL            DEBUG, INFO, WARN or ERROR (default INFO)\n"
    "  MAX_BODY_BYTES       request body limit (default 65536)\n"
    "  MAX_HEADER_BYTES     request line + headers limit (default 8192)\n"
    "  HEADER_TIMEOUT_MS    time to send the headers (default 10000)\n"
    "  BODY_TIMEOUT_MS      time to send the body (default 30000)\n"
    "  IDLE_TIMEOUT_MS      keep-alive idle time (default 60000)\n"
    "  MAX_CONNECTIONS      open connections (default 4096)\n"
    "  MAX_QUEUE            database work waiting, per queue (default 16384)\n"
    "  DB_READERS           reader connections, 1-8 (default 2)\n"
    "  DB_SYNCHRONOUS       FULL (default), NORMAL or OFF\n"
    "  DB_BUSY_TIMEOUT_MS   wait this long for another process's lock (default 5000)\n"
    "  EVENTS_MAX_SUBSCRIBERS  GET /events streams at once; past it 503 (default 64)\n"
    "\n"
    "  --sign         print hex(HMAC-SHA256(WEBHOOK_SECRET, stdin)) and exit\n"
    "  --healthcheck  GET /health/ready on HOST:PORT (127.0.0.1 for 0.0.0.0);\n"
    "                 exit 0 when it answers 200 (for container HEALTHCHECKs)\n"
      "  --version      print the version and exit\n"
    "\n"
    "SIGTERM/SIGINT: graceful shutdown. SIGHUP: reload WEBHOOK_SECRET_FILE.\n";

/* A SIGHUP reload: the worker reads the file (secret_file never changes
 * after start-up), the loop installs the result. */
struct reload_job {
  uv_work_t job;
  char *secret; /* malloc'd, handed to g.cfg on success */
  size_t len;
  int rc;
  char err[600];
};

static struct {
  uv_loop_t *loop;
  config cfg;
  server srv;
  uv_signal_t sigterm, sigint, sighup;
  uv_timer_t watchdog;       /* sd_notify WATCHDOG=1, when WATCHDOG_USEC is set */
  store_read *startup_check; /* READY=1 is sent after this succeeds */
  uv_timer_t startup_retry;  /* re-runs the check while it fails */
  reload_job reload;         /* SIGHUP's secret-file read */
  int reload_running;
} g;

/* --healthcheck: a tiny blocking HTTP client for container health checks. */
static int cmd_healthcheck(void) {
  config cfg;
  char err[600];
  if (config_load(&cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "hookd: %s\n", err);
    return 2;
  }
  const char *host = cfg.host;
  if (!strcmp(host, "0.0.0.0")) host = "127.0.0.1";
  if (!strcmp(host, "::")) host = "::1";
  alarm(5); /* bound everything below */
  struct sockaddr_storage ss;
  memset(&ss, 0, sizeof(ss));
  socklen_t len;
  if (strchr(host, ':')) {
    struct sockaddr_in6 *a = (struct sockaddr_in6 *)&ss;
    a->sin6_family = AF_INET6;
    a->sin6_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET6, host, &a->sin6_addr) != 1) return 2;
    len = sizeof(*a);
  } else {
    struct sockaddr_in *a = (struct sockaddr_in *)&ss;
    a->sin_family = AF_INET;
    a->sin_port = htons((uint16_t)cfg.port);
    if (inet_pton(AF_INET, host, &a->sin_addr) != 1) return 2;
    len = sizeof(*a);
  }
  config_free(&cfg);
  int fd = socket(ss.ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0 || connect(fd, (struct sockaddr *)&ss, len) != 0) {
    fprintf(stderr, "hookd: healthcheck: cannot connect to %s:%d\n", host, cfg.port);
    return 1;
  }
  static const char req[] = "GET /health/ready HTTP/1.0\r\nHost: localhost\r\n\r\n";
  if (write(fd, req, sizeof(req) - 1) != (ssize_t)(sizeof(req) - 1)) return 1;
  char resp[1024];
  size_t got = 0;
  ssize_t n;
  while (got < sizeof(resp) - 1 && (n = read(fd, resp + got, sizeof(resp) - 1 - got)) > 0)
    got += (size_t)n;
  close(fd);
  resp[got] = 0;
  const char *body = strstr(resp, "\r\n\r\n");
  if (body) printf("%s\n", body + 4);
  return strncmp(resp, "HTTP/1.1 200 ", 13) == 0 ? 0 : 1;
}

static void on_watchdog(uv_timer_t *) { notify_send("WATCHDOG=1"); }

static void startup_check(uv_timer_t *);

/* Start-up readiness: the same check as /health/ready, on a reader. While
 * it fails (the database is unreachable, or the indexer is catching up
 * after a migration or a crash) it is retried every second, and systemd
 * hears why (STATUS=) and that start-up is still making progress. */
static void on_startup_checked(store_read *r) {
  if (r->rc != 0) {
    char msg[400];
    snprintf(msg, sizeof(msg), "STATUS=database check failed: %.300s", r->err);
    log_event(LOG_ERROR, "ready_check_failed", r->err);
    notify_send(msg);
    if (!g.srv.conns.draining) uv_timer_start(&g.startup_retry, startup_check, 1000, 0);
    return;
  }
  if (!uv_is_closing((uv_handle_t *)&g.startup_retry))
    uv_close((uv_handle_t *)&g.startup_retry, NULL);
  if (g.cfg.secret) notify_send("READY=1\nSTATUS=ready");
  else notify_send("READY=1\nSTATUS=not ready: WEBHOOK_SECRET is not set");
}

static void startup_check(uv_timer_t *) {
  if (g.srv.conns.draining) return;
  const char *why = store_unready(g.srv.st, clock_wall_ms());
  if (why) {
    char msg[400];
    snprintf(msg, sizeof(msg), "STATUS=%.300s\nEXTEND_TIMEOUT_USEC=5000000", why);
    notify_send(msg);
    uv_timer_start(&g.startup_retry, startup_check, 1000, 0);
    return;
  }
  store_read *r = g.startup_check;
  r->kind = STORE_READ_READY;
  r->render = NULL;
  r->done = on_startup_checked;
  if (store_read_submit(g.srv.st, r) != 0) uv_timer_start(&g.startup_retry, startup_check, 1000, 0);
}

/* --sign: reads at most 16 MiB from stdin and prints its signature. */
static int cmd_sign(void) {
  config cfg;
  char err[600];
  if (config_load(&cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "hookd: %s\n", err);
    return 2;
  }
  if (!cfg.secret) {
    fprintf(stderr, "hookd: WEBHOOK_SECRET is not set\n");
    return 2;
  }
  buf in = {};
  char chunk[65536];
  size_t n;
  while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
    buf_append(&in, chunk, n);
    if (in.len > (16u << 20) || in.oom) {
      fprintf(stderr, "hookd: --sign: input too large\n");
      return 2;
    }
  }
  char hex[AUTH_HEX_LEN + 1];
  auth_sign_hex(cfg.secret, cfg.secret_len, in.data ? in.data : "", in.len, hex);
  printf("%s\n", hex);
  buf_free(&in);
  config_free(&cfg);
  return 0;
}

static void on_stopped(server *) {
  events_stop();
  if (notify_watchdog_usec())
    uv_close((uv_handle_t *)&g.watchdog, NULL);
  uv_close((uv_handle_t *)&g.sigterm, NULL);
  uv_close((uv_handle_t *)&g.sigint, NULL);
  uv_close((uv_handle_t *)&g.sighup, NULL);
}

static void on_store_idle(void *arg) { server_check_stopped((server *)arg); }
static void on_conn_gone(conn_set *) { server_check_stopped(&g.srv); }

static const store_hooks hooks = {metrics_commit, metrics_index};

/* SIGHUP: the secret file is read on the threadpool (a file read is disk
 * I/O, never done on the loop); the loop swaps the secret in afterwards. */
static void reload_work(uv_work_t *w) {
  reload_job *j = (reload_job *)w->data;
  j->secret = NULL;
  j->rc = config_read_secret_file(g.cfg.secret_file, &j->secret, &j->len, j->err,
                                  sizeof(j->err));
}

static void reload_done(uv_work_t *w, int) {
  reload_job *j = (reload_job *)w->data;
  g.reload_running = 0;
  if (j->rc != 0) {
    log_event(LOG_ERROR, "reload_failed", j->err);
  } else {
    free(g.cfg.secret);
    g.cfg.secret = j->secret;
    g.cfg.secret_len = j->len;
    log_event(LOG_INFO, "reload", "webhook secret reloaded from WEBHOOK_SECRET_FILE");
  }
  notify_send("READY=1");
}

static void on_signal(uv_signal_t *h, int signum) {
  if (signum == SIGHUP) {
    notify_send("RELOADING=1");
    if (!g.cfg.secret_file[0]) {
      notify_send("READY=1");
      log_event(LOG_INFO, "reload", "SIGHUP: nothing to reload (WEBHOOK_SECRET_FILE unset)");
      return;
    }
    if (g.reload_running) return; /* the running reload reads the newest file */
    g.reload_running = 1;
    g.reload.job.data = &g.reload;
    uv_queue_work(g.loop, &g.reload.job, reload_work, reload_done);
    return;
  }
  (void)h;
  if (g.srv.conns.draining) {
    log_event(LOG_WARN, "shutdown_forced", "second signal: closing all connections now");
    for (conn *c = g.srv.conns.head; c; c = c->next) conn_close(c);
    return;
  }
  log_event(LOG_INFO, "shutdown", signum == SIGTERM ? "SIGTERM" : "SIGINT");
  notify_send("STOPPING=1");
  if (!uv_is_closing((uv_handle_t *)&g.startup_retry)) {
    uv_timer_stop(&g.startup_retry);
    uv_close((uv_handle_t *)&g.startup_retry, NULL);
  }
  store_shutdown(g.srv.st); /* the indexer stops after its batch */
  server_shutdown(&g.srv);
}

int main(int argc, char **argv) {
  if (argc > 1) {
    if (!strcmp(argv[1], "--help") || !strcmp(argv[1], "-h")) {
      fputs(usage, stdout);
      return 0;
    }
    if (!strcmp(argv[1], "--version")) {
      /* The second line names the storage engines built in (the static
       * build leaves PostgreSQL out: see README). */
#ifdef HOOKD_WITH_POSTGRES
      printf("hookd %s\nengines: sqlite postgres\n", HOOKD_VERSION);
#else
      printf("hookd %s\nengines: sqlite\n", HOOKD_VERSION);
#endif
      return 0;
    }
    if (!strcmp(argv[1], "--healthcheck")) return cmd_healthcheck();
    if (!strcmp(argv[1], "--sign")) {
      if (auth_init() != 0) return 1;
      return cmd_sign();
    }
    fprintf(stderr, "hookd: unknown argument '%s' (try --help)\n", argv[1]);
    return 2;
  }
  signal(SIGPIPE, SIG_IGN);
  /* glibc gives each thread that allocates its own malloc arena; with the
   * database work spread over the threadpool that kept ~50 MB resident
   * after a load test, two arenas ~25 MB (README "Performance"). The
   * operator's MALLOC_ARENA_MAX wins. */
  if (!getenv("MALLOC_ARENA_MAX")) mallopt(M_ARENA_MAX, 2);
  /* Each connection is a descriptor: lift the soft limit to the hard one,
   * so MAX_CONNECTIONS is not silently capped by a default of 1024. */
  struct rlimit rl;
  if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
    rl.rlim_cur = rl.rlim_max;
    setrlimit(RLIMIT_NOFILE, &rl);
  }

  char err[1200];
  if (config_load(&g.cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "hookd: %s\n", err);
    return 2;
  }
  if (auth_init() != 0) {
    fprintf(stderr, "hookd: libsodium failed to initialise\n");
    return 1;
  }
  if (notify_init() != 0) {
    fprintf(stderr, "hookd: NOTIFY_SOCKET: expected an absolute path or @abstract name\n");
    return 2;
  }
  /* Readers + writer + indexer + checkpoint + the metrics sampler, unless
   * the operator chose: a commit never waits for a free thread. */
  if (!getenv("UV_THREADPOOL_SIZE")) {
    char n[16];
    snprintf(n, sizeof(n), "%u", g.cfg.readers + 4);
    setenv("UV_THREADPOOL_SIZE", n, 1);
  }
  g.loop = uv_default_loop();

  store *st = store_open(g.loop, &g.cfg, err, sizeof(err));
  if (!st) {
    fprintf(stderr, "hookd: DATABASE_URL: %s\n", err);
    return 1;
  }
  g.startup_check = (store_read *)calloc(1, sizeof(store_read));
  if (!g.startup_check) {
    fprintf(stderr, "hookd: out of memory\n");
    return 1;
  }

  server *s = &g.srv;
  s->loop = g.loop;
  s->cfg = &g.cfg;
  s->st = st;
  s->conns.loop = g.loop;
  s->conns.cfg = &g.cfg;
  s->conns.limits.max_body_bytes = g.cfg.max_body_bytes;
  s->conns.limits.max_header_bytes = g.cfg.max_header_bytes;
  s->conns.dispatch = router_dispatch;
  s->conns.route_of = router_route_id;
  s->conns.on_gone = on_conn_gone;
  s->conns.on_answered = router_answered;
  s->on_stopped = on_stopped;
  s->started_ms = clock_wall_ms();
  unsigned char rnd[4];
  randombytes_buf(rnd, sizeof(rnd));
  sodium_bin2hex(s->conns.rid_prefix, sizeof(s->conns.rid_prefix), rnd, sizeof(rnd));
  static const char *route_paths[ROUTE_COUNT];
  for (int i = 0; i < ROUTE_COUNT; i++) route_paths[i] = router_table[i].path;
  metrics_set_routes(route_paths, ROUTE_COUNT);
  store_set_idle_cb(st, on_store_idle, s);
  store_set_hooks(st, &hooks);

  if (server_listen(s, err, sizeof(err)) != 0) {
    fprintf(stderr, "hookd: %s\n", err);
    store_close(st);
    return 1;
  }
  if (log_init(g.cfg.log_level, STDOUT_FILENO) != 0) {
    fprintf(stderr, "hookd: cannot start the log thread\n");
    return 1;
  }

  uv_signal_init(g.loop, &g.sigterm);
  uv_signal_init(g.loop, &g.sigint);
  uv_signal_init(g.loop, &g.sighup);
  uv_signal_start(&g.sigterm, on_signal, SIGTERM);
  uv_signal_start(&g.sigint, on_signal, SIGINT);
  uv_signal_start(&g.sighup, on_signal, SIGHUP);

  buf *b = log_begin(LOG_INFO);
  if (b) {
    buf_puts(b, ",\"event\":\"listening\",\"version\":\"" HOOKD_VERSION "\",\"host\":");
    json_put_cstr(b, g.cfg.host);
    buf_puts(b, ",\"port\":");
    buf_put_u64(b, (uint64_t)s->port);
    buf_puts(b, ",\"database\":");
    json_put_cstr(b, st->url);
    buf_puts(b, ",\"engine\":");
    json_put_cstr(b, store_engine_name(st));
    buf_puts(b, ",\"pid\":");
    buf_put_u64(b, (uint64_t)getpid());
    log_end(b);
  }
  if (!g.cfg.secret)
    log_event(LOG_ERROR, "config",
              "WEBHOOK_SECRET is not set: /health/ready and POST /webhook answer 503");

  if (events_start(s) != 0) {
    fprintf(stderr, "hookd: cannot start the console timer\n");
    return 1;
  }
  if (notify_watchdog_usec()) {
    uv_timer_init(g.loop, &g.watchdog);
    uint64_t ms = notify_watchdog_usec() / 2000;
    uv_timer_start(&g.watchdog, on_watchdog, ms ? ms : 1, ms ? ms : 1);
  }
  uv_timer_init(g.loop, &g.startup_retry);
  startup_check(NULL);

  uv_run(g.loop, UV_RUN_DEFAULT);

  /* The signal handles are closed: a late signal must not kill the
   * teardown (exit code 0 is part of the contract). */
  signal(SIGTERM, SIG_IGN);
  signal(SIGINT, SIG_IGN);
  store_close(st);
  cache_free();
  store_read_free(g.startup_check);
  int rc = uv_loop_close(g.loop);
  if (rc != 0) log_event(LOG_WARN, "shutdown", "event loop closed with handles still open");
  log_event(LOG_INFO, "stopped", NULL);
  log_shutdown();
  config_free(&g.cfg);
  return 0;
}
