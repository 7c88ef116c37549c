/* cli.cc: the command-line commands that do not run the daemon: --help,
 * --version, --sign (print a webhook's signature headers) and
 * --healthcheck (a tiny blocking HTTP client for container HEALTHCHECKs).
 * Blocking I/O is fine here: no event loop runs. */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <sodium.h>

#include "auth.h"
#include "buf.h"
#include "clock.h"
#include "config.h"
#include "defs.h"

static const char usage[] =
    "usage: hookd [--help | --version | --sign [SCHEME [ID [TIMESTAMP]]] | --healthcheck]\n"
    "\n"
    "hookd receives signed webhooks, stores each message exactly once (SQLite, or\n"
    "PostgreSQL for several hosts) and serves them back over HTTP. It is\n"
    "configured by the environment:\n"
    "\n"
    "  WEBHOOK_SECRET       HMAC-SHA256 key(s), comma-separated (required for readiness)\n"
    "  WEBHOOK_SECRET_FILE  read the keys from this file instead, one per line\n"
    "                       (reloaded on SIGHUP)\n"
    "  SIGNATURE_SCHEMES    x-signature (default), hub, standard; comma-separated\n"
    "  SIGNATURE_TOLERANCE_S  replay window of timestamped schemes (default 300)\n"
    "  READ_TOKENS          bearer tokens for the read routes and the console's data\n"
    "                       (comma-separated)\n"
    "  READ_TOKENS_FILE     the same, one per line (reloaded on SIGHUP)\n"
    "  JWT_SECRET           HS256 key for bearer JWTs (+ JWT_ISSUER, JWT_AUDIENCE,\n"
    "                       JWT_LEEWAY_S, default 60)\n"
    "  METRICS_TOKEN        bearer token for /metrics\n"
    "  DATABASE_URL         sqlite:///relative.db, sqlite:////absolute.db or\n"
    "                       postgresql://... (default sqlite:///./data/app.db)\n"
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
    "  INDEX_MAX_LAG        rows the indexer may be behind before 503 (default 50000)\n"
    "  INDEX_BATCH          rows per index batch at most (default 16384)\n"
    "  EVENTS_MAX_SUBSCRIBERS  GET /events streams at once; past it 503 (default 64)\n"
    "\n"
    "  --sign         print hex(HMAC-SHA256(WEBHOOK_SECRET, stdin)) and exit; with\n"
    "                 SCHEME (x-signature, hub or standard) print the headers to\n"
    "                 send instead (standard: webhook-id ID, default random, and\n"
    "                 webhook-timestamp TIMESTAMP, default now)\n"
    "  --healthcheck  GET /health/ready on HOST:PORT (127.0.0.1 for 0.0.0.0);\n"
    "                 exit 0 when it answers 200 (for container HEALTHCHECKs)\n"
    "  --version      print the version and the storage engines built in\n"
    "\n"
    "SIGTERM/SIGINT: graceful shutdown. SIGHUP: reload WEBHOOK_SECRET_FILE and\n"
    "READ_TOKENS_FILE.\n";

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
    if (!scheme)
      printf("%s\n", hex);
    else if (bit == AUTH_SCHEME_HUB)
      printf("X-Hub-Signature-256: sha256=%s\n", hex);
    else
      printf("X-Signature: %s\n", hex);
  }
  rc = 0;
done:
  buf_free(&in);
  config_free(&cfg);
  return rc;
}

int cli_run(int argc, char **argv) {
  if (argc < 2) return -1;
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
