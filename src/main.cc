/* main.cc: the daemon's start-up (configuration, the store, the listener,
 * readiness to systemd), signals and teardown. The commands that do not run
 * the daemon are in cli.cc, SIGHUP's reload in reload.cc. */
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
#include "cli.h"
#include "buf.h"
#include "cache.h"
#include "clock.h"
#include "config.h"
#include "conn.h"
#include "events.h"
#include "log.h"
#include "metrics.h"
#include "notify.h"
#include "reload.h"
#include "router.h"
#include "server.h"
#include "store.h"

static struct {
  uv_loop_t *loop;
  config cfg;
  server srv;
  uv_signal_t sigterm, sigint, sighup;
  uv_timer_t watchdog;       /* sd_notify WATCHDOG=1, when WATCHDOG_USEC is set */
  store_read *startup_check; /* READY=1 is sent after this succeeds */
  uv_timer_t startup_retry;  /* re-runs the check while it fails */
} g;

static void on_watchdog(uv_timer_t *) { notify_send("WATCHDOG=1"); }

static void startup_check(uv_timer_t *);

/* The check again in a second. The timer fails only once it is closing
 * (start-up is over, or shutdown began): then nothing is left to retry. */
static void retry_startup_check(void) {
  if (g.srv.conns.draining) return;
  int rc = uv_timer_start(&g.startup_retry, startup_check, 1000, 0);
  if (rc != 0) log_event(LOG_WARN, "ready_check_failed", uv_strerror(rc));
}

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
    retry_startup_check();
    return;
  }
  if (!uv_is_closing((uv_handle_t *)&g.startup_retry))
    uv_close((uv_handle_t *)&g.startup_retry, NULL);
  if (g.cfg.secrets)
    notify_send("READY=1\nSTATUS=ready");
  else
    notify_send("READY=1\nSTATUS=not ready: WEBHOOK_SECRET is not set");
}

static void startup_check(uv_timer_t *) {
  if (g.srv.conns.draining) return;
  const char *why = store_unready(g.srv.st, clock_wall_ms());
  if (why) {
    char msg[400];
    snprintf(msg, sizeof(msg), "STATUS=%.300s\nEXTEND_TIMEOUT_USEC=5000000", why);
    notify_send(msg);
    retry_startup_check();
    return;
  }
  store_read *r = g.startup_check;
  r->kind = STORE_READ_READY;
  r->render = NULL;
  r->done = on_startup_checked;
  if (store_read_submit(g.srv.st, r) != 0) retry_startup_check();
}

static void on_stopped(server *) {
  events_stop();
  if (notify_watchdog_usec()) uv_close((uv_handle_t *)&g.watchdog, NULL);
  uv_close((uv_handle_t *)&g.sigterm, NULL);
  uv_close((uv_handle_t *)&g.sigint, NULL);
  uv_close((uv_handle_t *)&g.sighup, NULL);
}

static void on_store_idle(void *arg) { server_check_stopped((server *)arg); }
static void on_conn_gone(conn_set *) { server_check_stopped(&g.srv); }

static const store_hooks hooks = {metrics_commit, metrics_index};

static void on_signal(uv_signal_t *h, int signum) {
  if (signum == SIGHUP) {
    reload_start(g.loop, &g.cfg);
    return;
  }
  (void)h;
  if (g.srv.conns.draining) {
    log_event(LOG_WARN, "shutdown_forced", "second signal: closing all connections now");
    store_expire(g.srv.st);
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
  if (auth_init() != 0) {
    fprintf(stderr, "hookd: libsodium failed to initialise\n");
    return 1;
  }
  int cli_rc = cli_run(argc, argv);
  if (cli_rc >= 0) return cli_rc;
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

  /* Signals are watched before the socket listens: once a client (or a
   * supervisor) can see the port, a SIGHUP or SIGTERM must not take the
   * default action and kill the process. Their callbacks run only inside
   * uv_run, when everything below is set up. */
  uv_signal_t *sig[3] = {&g.sigterm, &g.sigint, &g.sighup};
  const int signum[3] = {SIGTERM, SIGINT, SIGHUP};
  for (int i = 0; i < 3; i++) {
    int rc = uv_signal_init(g.loop, sig[i]);
    if (rc == 0) rc = uv_signal_start(sig[i], on_signal, signum[i]);
    if (rc != 0) { /* without them hookd could not stop cleanly */
      fprintf(stderr, "hookd: cannot watch signal %d: %s\n", signum[i], uv_strerror(rc));
      return 1;
    }
  }

  if (server_listen(s, err, sizeof(err)) != 0) {
    fprintf(stderr, "hookd: %s\n", err);
    store_close(st);
    return 1;
  }
  if (log_init(g.cfg.log_level, STDOUT_FILENO) != 0) {
    fprintf(stderr, "hookd: cannot start the log thread\n");
    return 1;
  }

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
  if (!g.cfg.secrets)
    log_event(LOG_ERROR, "config",
              "WEBHOOK_SECRET is not set: /health/ready and POST /webhook answer 503");

  if (events_start(s) != 0) {
    fprintf(stderr, "hookd: cannot start the console timer\n");
    return 1;
  }
  if (notify_watchdog_usec()) {
    uint64_t ms = notify_watchdog_usec() / 2000;
    int rc = uv_timer_init(g.loop, &g.watchdog);
    if (rc == 0) rc = uv_timer_start(&g.watchdog, on_watchdog, ms ? ms : 1, ms ? ms : 1);
    if (rc != 0) {
      fprintf(stderr, "hookd: cannot start the watchdog timer: %s\n", uv_strerror(rc));
      return 1;
    }
  }
  int trc = uv_timer_init(g.loop, &g.startup_retry);
  if (trc != 0) {
    fprintf(stderr, "hookd: cannot start the readiness timer: %s\n", uv_strerror(trc));
    return 1;
  }
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
