/* config.cc: parses hookd's environment variables strictly.
 *
 * Every variable is optional; a value that is present but malformed stops
 * start-up with one line that names the variable. */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "auth.h"

static const char *env(const char *name) {
  const char *v = getenv(name);
  return (v && *v) ? v : NULL;
}

/* Parses an unsigned decimal integer in [lo, hi]; -1 and err on failure. */
static int parse_u32(const char *name, uint32_t lo, uint32_t hi, uint32_t def,
                     uint32_t *out, char *err, size_t errlen) {
  const char *v = env(name);
  if (!v) {
    *out = def;
    return 0;
  }
  uint64_t n = 0;
  const char *p = v;
  for (; *p >= '0' && *p <= '9'; p++) {
    n = n * 10 + (uint64_t)(*p - '0');
    if (n > hi) break;
  }
  if (p == v || *p || n < lo || n > hi) {
    snprintf(err, errlen, "%s: expected an integer from %u to %u, got '%.64s'",
             name, lo, hi, v);
    return -1;
  }
  *out = (uint32_t)n;
  return 0;
}

const char *config_level_name(int level) {
  switch (level) {
    case LOG_DEBUG: return "DEBUG";
    case LOG_INFO: return "INFO";
    case LOG_WARN: return "WARN";
    default: return "ERROR";
  }
}

int config_read_secret_file(const char *path, char **out, size_t *outlen,
                            char *err, size_t errlen) {
  int fd = open(path, O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    snprintf(err, errlen, "cannot open '%.512s': %s", path, strerror(errno));
    return -1;
  }
  const size_t cap = AUTH_MAX_LIST_BYTES;
  char *tmp = (char *)malloc(cap + 1);
  if (!tmp) {
    snprintf(err, errlen, "out of memory");
    close(fd);
    return -1;
  }
  size_t len = 0;
  for (;;) {
    ssize_t n = read(fd, tmp + len, cap + 1 - len);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      snprintf(err, errlen, "cannot read '%.512s': %s", path, strerror(errno));
      close(fd);
      free(tmp);
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len > cap) {
      snprintf(err, errlen, "'%.512s' is larger than %zu bytes", path, cap);
      close(fd);
      free(tmp);
      return -1;
    }
  }
  close(fd);
  while (len && (tmp[len - 1] == '\n' || tmp[len - 1] == '\r')) len--;
  if (len == 0) {
    snprintf(err, errlen, "'%.512s' is empty", path);
    free(tmp);
    return -1;
  }
  tmp[len] = 0;
  *out = tmp;
  *outlen = len;
  return 0;
}

int config_load_secret_file(const char *path, unsigned schemes, char **raw, size_t *rawlen,
                            auth_secrets **secrets, char *err, size_t errlen) {
  char why[300];
  if (config_read_secret_file(path, raw, rawlen, err, errlen) != 0) return -1;
  int need_std = (schemes & AUTH_SCHEME_STANDARD) != 0;
  if (auth_secrets_parse(*raw, *rawlen, '\n', need_std, secrets, why, sizeof(why)) != 0) {
    snprintf(err, errlen, "'%.512s': %s", path, why);
    free(*raw);
    *raw = NULL;
    return -1;
  }
  return 0;
}

int config_load_tokens_file(const char *path, auth_tokens **tokens, char *err, size_t errlen) {
  char *raw = NULL, why[300];
  size_t len = 0;
  if (config_read_secret_file(path, &raw, &len, err, errlen) != 0) return -1;
  int rc = auth_tokens_parse(raw, len, '\n', tokens, why, sizeof(why));
  memset(raw, 0, len);
  free(raw);
  if (rc != 0) snprintf(err, errlen, "'%.512s': %s", path, why);
  return rc;
}

int config_reads_protected(const config *cfg) {
  return cfg->read_tokens != NULL || cfg->jwt_secret != NULL;
}

/* Copies an optional variable into a new string (*out stays NULL when unset). */
static int dup_env(const char *name, char **out, size_t *len, char *err, size_t errlen) {
  const char *v = env(name);
  if (!v) return 0;
  *out = strdup(v);
  if (!*out) {
    snprintf(err, errlen, "%s: out of memory", name);
    return -1;
  }
  if (len) *len = strlen(v);
  return 0;
}

/* Authentication variables (auth.h), after the secret itself is read. */
static int load_auth(config *cfg, char *err, size_t errlen) {
  char why[300];
  const char *v;
  if (cfg->secret && !cfg->secrets) { /* WEBHOOK_SECRET: comma-separated */
    int need_std = (cfg->sig_schemes & AUTH_SCHEME_STANDARD) != 0;
    if (auth_secrets_parse(cfg->secret, cfg->secret_len, ',', need_std, &cfg->secrets, why,
                           sizeof(why))) {
      snprintf(err, errlen, "WEBHOOK_SECRET: %s", why);
      return -1;
    }
  }
  if (parse_u32("SIGNATURE_TOLERANCE_S", 1, 604800, 300, &cfg->sig_tolerance_s, err, errlen) ||
      parse_u32("JWT_LEEWAY_S", 0, 3600, 60, &cfg->jwt_leeway_s, err, errlen))
    return -1;

  if ((v = env("READ_TOKENS_FILE"))) {
    if (strlen(v) >= sizeof(cfg->read_tokens_file)) {
      snprintf(err, errlen, "READ_TOKENS_FILE: path is too long");
      return -1;
    }
    strcpy(cfg->read_tokens_file, v);
    if (config_load_tokens_file(v, &cfg->read_tokens, why, sizeof(why))) {
      snprintf(err, errlen, "READ_TOKENS_FILE: %s", why);
      return -1;
    }
  } else if ((v = env("READ_TOKENS"))) {
    if (auth_tokens_parse(v, strlen(v), ',', &cfg->read_tokens, why, sizeof(why))) {
      snprintf(err, errlen, "READ_TOKENS: %s", why);
      return -1;
    }
  }
  if ((v = env("METRICS_TOKEN")) &&
      auth_tokens_parse(v, strlen(v), ',', &cfg->metrics_token, why, sizeof(why))) {
    snprintf(err, errlen, "METRICS_TOKEN: %s", why);
    return -1;
  }
  if (dup_env("JWT_SECRET", &cfg->jwt_secret, &cfg->jwt_secret_len, err, errlen) ||
      dup_env("JWT_ISSUER", &cfg->jwt_issuer, NULL, err, errlen) ||
      dup_env("JWT_AUDIENCE", &cfg->jwt_audience, NULL, err, errlen))
    return -1;
  if (cfg->jwt_secret && cfg->jwt_secret_len < AUTH_MIN_JWT_KEY) {
    snprintf(err, errlen, "JWT_SECRET: an HS256 key needs at least %d bytes", AUTH_MIN_JWT_KEY);
    return -1;
  }
  if (!cfg->jwt_secret && (cfg->jwt_issuer || cfg->jwt_audience)) {
    snprintf(err, errlen, "%s: set without JWT_SECRET",
             cfg->jwt_issuer ? "JWT_ISSUER" : "JWT_AUDIENCE");
    return -1;
  }
  return 0;
}

/* sqlite:///relative/path.db -> "relative/path.db";
 * sqlite:////absolute/path.db -> "/absolute/path.db";
 * postgresql://... or postgres://... -> the PostgreSQL engine (libpq parses
 * the rest, together with the PG* variables and the password file). */
static int parse_db_url(const char *url, config *cfg, char *err, size_t errlen) {
  static const char scheme[] = "sqlite:///";
  if (!strncmp(url, "postgresql://", 13) || !strncmp(url, "postgres://", 11)) {
    cfg->db_engine = DB_ENGINE_POSTGRES;
    return 0;
  }
  if (strncmp(url, scheme, sizeof(scheme) - 1) != 0) {
    snprintf(err, errlen,
             "DATABASE_URL: unsupported URL '%.256s' (expected sqlite:///relative/path.db, "
             "sqlite:////absolute/path.db or postgresql://...)", url);
    return -1;
  }
  const char *p = url + sizeof(scheme) - 1;
  size_t n = strlen(p);
  if (n == 0 || p[n - 1] == '/') {
    snprintf(err, errlen, "DATABASE_URL: '%.256s' names no database file", url);
    return -1;
  }
  if (strchr(p, '?') || strcmp(p, ":memory:") == 0) {
    snprintf(err, errlen,
             "DATABASE_URL: '%.256s': query strings and :memory: are not supported", url);
    return -1;
  }
  if (n + sizeof("-index-wal") > sizeof(cfg->db_path)) {
    snprintf(err, errlen, "DATABASE_URL: path is longer than %zu bytes",
             sizeof(cfg->db_path) - sizeof("-index-wal"));
    return -1;
  }
  cfg->db_engine = DB_ENGINE_SQLITE;
  memcpy(cfg->db_path, p, n + 1);
  return 0;
}

int config_load(config *cfg, char *err, size_t errlen) {
  memset(cfg, 0, sizeof(*cfg));
  const char *v;

  v = env("HOST");
  v = v ? v : "0.0.0.0";
  if (strlen(v) >= sizeof(cfg->host)) {
    snprintf(err, errlen, "HOST: value is too long");
    return -1;
  }
  strcpy(cfg->host, v);

  uint32_t port;
  if (parse_u32("PORT", 0, 65535, 8000, &port, err, errlen)) return -1;
  cfg->port = (int)port;

  v = env("DATABASE_URL");
  v = v ? v : "sqlite:///./data/app.db";
  if (strlen(v) >= sizeof(cfg->db_url)) {
    snprintf(err, errlen, "DATABASE_URL: value is too long");
    return -1;
  }
  strcpy(cfg->db_url, v);
  if (parse_db_url(cfg->db_url, cfg, err, errlen)) return -1;

  cfg->log_level = LOG_INFO;
  if ((v = env("LOG_LEVEL"))) {
    if (!strcasecmp(v, "DEBUG")) cfg->log_level = LOG_DEBUG;
    else if (!strcasecmp(v, "INFO")) cfg->log_level = LOG_INFO;
    else if (!strcasecmp(v, "WARN") || !strcasecmp(v, "WARNING")) cfg->log_level = LOG_WARN;
    else if (!strcasecmp(v, "ERROR")) cfg->log_level = LOG_ERROR;
    else {
      snprintf(err, errlen, "LOG_LEVEL: expected DEBUG, INFO, WARN or ERROR, got '%.64s'", v);
      return -1;
    }
  }

  cfg->sync = STORE_SYNC_FULL;
  if ((v = env("DB_SYNCHRONOUS"))) {
    if (!strcasecmp(v, "FULL")) cfg->sync = STORE_SYNC_FULL;
    else if (!strcasecmp(v, "NORMAL")) cfg->sync = STORE_SYNC_NORMAL;
    else if (!strcasecmp(v, "OFF")) cfg->sync = STORE_SYNC_OFF;
    else {
      snprintf(err, errlen, "DB_SYNCHRONOUS: expected FULL, NORMAL or OFF, got '%.64s'", v);
      return -1;
    }
  }

  if (parse_u32("MAX_BODY_BYTES", 1024, 16u << 20, 65536, &cfg->max_body_bytes, err, errlen) ||
      parse_u32("MAX_HEADER_BYTES", 1024, 1u << 20, 8192, &cfg->max_header_bytes, err, errlen) ||
      parse_u32("HEADER_TIMEOUT_MS", 100, 3600000, 10000, &cfg->header_timeout_ms, err, errlen) ||
      parse_u32("BODY_TIMEOUT_MS", 100, 3600000, 30000, &cfg->body_timeout_ms, err, errlen) ||
      parse_u32("IDLE_TIMEOUT_MS", 100, 3600000, 60000, &cfg->idle_timeout_ms, err, errlen) ||
      parse_u32("MAX_CONNECTIONS", 1, 1000000, 4096, &cfg->max_connections, err, errlen) ||
      parse_u32("MAX_QUEUE", 1, 1000000, 16384, &cfg->max_queue, err, errlen) ||
      parse_u32("DB_READERS", 1, 8, 2, &cfg->readers, err, errlen) ||
      parse_u32("DB_BUSY_TIMEOUT_MS", 0, 600000, 5000, &cfg->busy_timeout_ms, err, errlen) ||
      parse_u32("INDEX_MAX_LAG", 1000, 10000000, 50000, &cfg->index_max_lag, err, errlen) ||
      parse_u32("INDEX_BATCH", 64, 65536, 16384, &cfg->index_batch, err, errlen) ||
      parse_u32("EVENTS_MAX_SUBSCRIBERS", 0, 100000, 64, &cfg->events_max_subscribers, err,
                errlen))
    return -1;

  cfg->sig_schemes = AUTH_SCHEME_XSIG;
  if ((v = env("SIGNATURE_SCHEMES")) && !(cfg->sig_schemes = auth_schemes_parse(v))) {
    snprintf(err, errlen,
             "SIGNATURE_SCHEMES: expected a comma-separated list of x-signature, hub, "
             "standard, got '%.128s'", v);
    return -1;
  }
  if ((v = env("WEBHOOK_SECRET_FILE"))) {
    if (strlen(v) >= sizeof(cfg->secret_file)) {
      snprintf(err, errlen, "WEBHOOK_SECRET_FILE: path is too long");
      return -1;
    }
    strcpy(cfg->secret_file, v);
    char why[600];
    if (config_load_secret_file(v, cfg->sig_schemes, &cfg->secret, &cfg->secret_len,
                                &cfg->secrets, why, sizeof(why))) {
      snprintf(err, errlen, "WEBHOOK_SECRET_FILE: %s", why);
      return -1;
    }
  } else if ((v = env("WEBHOOK_SECRET"))) {
    cfg->secret_len = strlen(v);
    cfg->secret = strdup(v);
    if (!cfg->secret) {
      snprintf(err, errlen, "WEBHOOK_SECRET: out of memory");
      return -1;
    }
  }
  if (load_auth(cfg, err, errlen) != 0) {
    config_free(cfg);
    return -1;
  }
  return 0;
}

void config_free(config *cfg) {
  free(cfg->secret);
  cfg->secret = NULL;
  auth_secrets_free(cfg->secrets);
  cfg->secrets = NULL;
  auth_tokens_free(cfg->read_tokens);
  cfg->read_tokens = NULL;
  auth_tokens_free(cfg->metrics_token);
  cfg->metrics_token = NULL;
  free(cfg->jwt_secret);
  free(cfg->jwt_issuer);
  free(cfg->jwt_audience);
  cfg->jwt_secret = cfg->jwt_issuer = cfg->jwt_audience = NULL;
}
