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
    "usage: hookd [--help | --version | --sign [SCHEME [ID [TIMESTAMP]]] | --healthcheck]\n"
    "\n"
    "hookd receives signed webhooks, stores each message exactly once in SQLite\n"
    "and serves them back over HTTP. It is configured by the environment:\n"
    "\n"
    "  WEBHOOK_SECRET       HMAC-SHA256 key(s), comma-separated (required for readiness)\n"
    "  WEBHOOK_SECRET_FILE  read the keys from this file instead, one per line\n"
    "                       (reloaded on SIGHUP)\n"
    "  SIGNATURE_SCHEMES    x-signature (default), hub, standard; comma-separated\n"
    "  SIGNATURE_TOLERANCE_S  replay window of timestamped schemes (default 300)\n"
    "  READ_TOKENS          bearer tokens for /messages, /stats (comma-separated)\n"
    "  READ_TOKENS_FILE     the same, one per line (reloaded on SIGHUP)\n"
    "  JWT_SECRET           HS256 key for bearer JWTs (+ JWT_ISSUER, JWT_AUDIENCE,\n"
    "                       JWT_LEEWAY_S, default 60)\n"
    "  METRICS_TOKEN        bearer token for /metrics\n"
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
    "  --sign         print hex(HMAC-SHA256(WEBHOOK_SECRET, stdin)) and exit; with\n"
    "                 SCHEME (x-signature, hub or standard) print the headers to\n"
    "                 send instead (standard: webhook-id ID, default random, and\n"
    "                 webhook-timestamp TIMESTAMP, default now)\n"
    "  --healthcheck  GET /health/ready on HOST:PORT (127.0.0.1 for 0.0.0.0);\n"
    "                 exit 0 when it answers 200 (for container HEALTHCHECKs)\n"
      "  --version      print the version and exit\n"
    "\n"
    "SIGTERM/SIGINT: graceful shutdown. SIGHUP: reload WEBHOOK_SECRET_FILE and\n"
    "READ_TOKENS_FILE.\n";

/* A SIGHUP reload: the worker reads the files (their paths and the schemes
 * never change after start-up), the loop installs the result. */
struct reload_job {
  uv_work_t job;
  char *secret;          /* malloc'd, handed to g.cfg on success */
  size_t len;
  auth_secrets *secrets; /* parsed secret, with it */
  auth_tokens *tokens;   /* READ_TOKENS_FILE, handed to g.cfg on success */
  int rc;
  char err[700];
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

/* --sign [SCHEME [ID [TIMESTAMP]]]: reads at most 16 MiB from stdin and
 * prints its signature (no SCHEME), or the headers SCHEME sends. Uses the
 * first secret (standard: the first whsec_ secret). */
static int cmd_sign(int argc, char **argv) {
  config cfg;
  char err[1200];
  if (config_load(&cfg, err, sizeof(err)) != 0) {
    fprintf(stderr, "hookd: %s\n", err);
    return 2;
  }
  const char *scheme = argc > 2 ? argv[2] : NULL;
  unsigned bit = scheme ? auth_schemes_parse(scheme) : (unsigned)AUTH_SCHEME_XSIG;
  int rc = 2;
  buf in = {};
  char chunk[65536];
  size_t n;
  const auth_secret *key = NULL;
  if (bit != AUTH_SCHEME_XSIG && bit != AUTH_SCHEME_HUB && bit != AUTH_SCHEME_STANDARD) {
    fprintf(stderr, "hookd: --sign: unknown scheme '%s' (x-signature, hub or standard)\n", scheme);
    goto done;
  }
  if (!cfg.secrets) {
    fprintf(stderr, "hookd: WEBHOOK_SECRET is not set\n");
    goto done;
  }
  for (int i = 0; i < cfg.secrets->n && !key; i++)
    if (bit != AUTH_SCHEME_STANDARD || cfg.secrets->e[i].std_len) key = &cfg.secrets->e[i];
  if (!key) {
    fprintf(stderr, "hookd: --sign standard: no whsec_<base64> secret of 24-64 bytes\n");
    goto done;
  }
  while ((n = fread(chunk, 1, sizeof(chunk), stdin)) > 0) {
    buf_append(&in, chunk, n);
    if (in.len > (16u << 20) || in.oom) {
      fprintf(stderr, "hookd: --sign: input too large\n");
      goto done;
    }
  }
  if (bit == AUTH_SCHEME_STANDARD) {
    char id[HTTP_MAX_WEBHOOK_ID + 1], ts[24], sig[AUTH_B64_LEN + 1];
    int64_t t;
    if (argc > 3) {
      snprintf(id, sizeof(id), "%s", argv[3]);
    } else {
      unsigned char rnd[12];
      randombytes_buf(rnd, sizeof(rnd));
      memcpy(id, "msg_", 4);
      sodium_bin2hex(id + 4, sizeof(id) - 4, rnd, sizeof(rnd));
    }
    snprintf(ts, sizeof(ts), "%lld", (long long)(clock_wall_ms() / 1000));
    if (argc > 4) snprintf(ts, sizeof(ts), "%s", argv[4]);
    if (auth_parse_timestamp(str{ts, strlen(ts)}, &t) != 0) {
      fprintf(stderr, "hookd: --sign: TIMESTAMP must be Unix seconds\n");
      goto done;
    }
    auth_sign_standard(key->std, key->std_len, str{id, strlen(id)}, str{ts, strlen(ts)},
                       in.data ? in.data : "", in.len, sig);
    printf("webhook-id: %s\nwebhook-timestamp: %s\nwebhook-signature: v1,%s\n", id, ts, sig);
  } else {
    char hex[AUTH_HEX_LEN + 1];
    auth_sign_hex(key->key, key->len, in.data ? in.data : "", in.len, hex);
    if (!scheme) printf("%s\n", hex);
    else if (bit == AUTH_SCHEME_HUB) printf("X-Hub-Signature-256: sha256=%s\n", hex);
    else printf("X-Signature: %s\n", hex);
  }
  rc = 0;
done:
  buf_free(&in);
  config_free(&cfg);
  return rc;
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

/* SIGHUP: the secret and token files are read on the threadpool (a file
 * read is disk I/O, never done on the loop); the loop swaps the new lists
 * in afterwards. Nothing else holds the old lists: every check runs on the
 * loop, synchronously. */
static void reload_work(uv_work_t *w) {
  reload_job *j = (reload_job *)w->data;
  char why[600];
  j->rc = 0;
  if (g.cfg.secret_file[0] &&
      config_load_secret_file(g.cfg.secret_file, g.cfg.sig_schemes, &j->secret, &j->len,
                              &j->secrets, why, sizeof(why)) != 0) {
    snprintf(j->err, sizeof(j->err), "WEBHOOK_SECRET_FILE: %s", why);
    j->rc = -1;
    return;
  }
  if (g.cfg.read_tokens_file[0] &&
      config_load_tokens_file(g.cfg.read_tokens_file, &j->tokens, why, sizeof(why)) != 0) {
    snprintf(j->err, sizeof(j->err), "READ_TOKENS_FILE: %s", why);
    j->rc = -1;
  }
}

static void reload_done(uv_work_t *w, int status) {
  reload_job *j = (reload_job *)w->data;
  g.reload_running = 0;
  if (status == UV_ECANCELED) j->rc = -1, snprintf(j->err, sizeof(j->err), "cancelled");
  if (j->rc != 0) {
    /* All or nothing: keep every old list. */
    free(j->secret);
    auth_secrets_free(j->secrets);
    auth_tokens_free(j->tokens);
    log_event(LOG_ERROR, "reload_failed", j->err);
  } else {
    if (j->secrets) {
      free(g.cfg.secret);
      auth_secrets_free(g.cfg.secrets);
      g.cfg.secret = j->secret;
      g.cfg.secret_len = j->len;
      g.cfg.secrets = j->secrets;
    }
    if (j->tokens) {
      auth_tokens_free(g.cfg.read_tokens);
      g.cfg.read_tokens = j->tokens;
    }
    log_event(LOG_INFO, "reload",
              j->secrets && j->tokens ? "WEBHOOK_SECRET_FILE and READ_TOKENS_FILE reloaded"
              : j->secrets            ? "webhook secrets reloaded from WEBHOOK_SECRET_FILE"
                                      : "read tokens reloaded from READ_TOKENS_FILE");
  }
  j->secret = NULL;
  j->secrets = NULL;
  j->tokens = NULL;
  notify_send("READY=1");
}

static void on_signal(uv_signal_t *h, int signum) {
  if (signum == SIGHUP) {
    notify_send("RELOADING=1");
    if (!g.cfg.secret_file[0] && !g.cfg.read_tokens_file[0]) {
      notify_send("READY=1");
      log_event(LOG_INFO, "reload",
                "SIGHUP: nothing to reload (WEBHOOK_SECRET_FILE and READ_TOKENS_FILE unset)");
      return;
    }
    if (g.reload_running) return; /* the running reload reads the newest files */
    g.reload.job.data = &g.reload;
    int rc = uv_queue_work(g.loop, &g.reload.job, reload_work, reload_done);
    if (rc != 0) {
      log_event(LOG_ERROR, "reload_failed", uv_strerror(rc));
      notify_send("READY=1");
      return;
    }
    g.reload_running = 1;
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
  if (auth_init() != 0) {
    fprintf(stderr, "hookd: libsodium failed to initialise\n");
    return 1;
  }
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
    if (!strcmp(argv[1], "--sign")) return cmd_sign(argc, argv);
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
