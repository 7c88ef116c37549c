/* config.cc: parses hookd's environment variables strictly (the
 * authentication ones are in config_auth.cc).
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

const char *config_env(const char *name) {
  const char *v = getenv(name);
  return (v && *v) ? v : NULL;
}

int config_u32(const char *name, uint32_t lo, uint32_t hi, uint32_t def, uint32_t *out, char *err,
               size_t errlen) {
  const char *v = config_env(name);
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
    snprintf(err, errlen, "%s: expected an integer from %u to %u, got '%.64s'", name, lo, hi, v);
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
             "sqlite:////absolute/path.db or postgresql://...)",
             url);
    return -1;
  }
  const char *p = url + sizeof(scheme) - 1;
  size_t n = strlen(p);
  if (n == 0 || p[n - 1] == '/') {
    snprintf(err, errlen, "DATABASE_URL: '%.256s' names no database file", url);
    return -1;
  }
  if (strchr(p, '?') || strcmp(p, ":memory:") == 0) {
    snprintf(err, errlen, "DATABASE_URL: '%.256s': query strings and :memory: are not supported",
             url);
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

  v = config_env("HOST");
  v = v ? v : "0.0.0.0";
  if (strlen(v) >= sizeof(cfg->host)) {
    snprintf(err, errlen, "HOST: value is too long");
    return -1;
  }
  strcpy(cfg->host, v);

  uint32_t port;
  if (config_u32("PORT", 0, 65535, 8000, &port, err, errlen)) return -1;
  cfg->port = (int)port;

  v = config_env("DATABASE_URL");
  v = v ? v : "sqlite:///./data/app.db";
  if (strlen(v) >= sizeof(cfg->db_url)) {
    snprintf(err, errlen, "DATABASE_URL: value is too long");
    return -1;
  }
  strcpy(cfg->db_url, v);
  if (parse_db_url(cfg->db_url, cfg, err, errlen)) return -1;

  cfg->log_level = LOG_INFO;
  if ((v = config_env("LOG_LEVEL"))) {
    if (!strcasecmp(v, "DEBUG"))
      cfg->log_level = LOG_DEBUG;
    else if (!strcasecmp(v, "INFO"))
      cfg->log_level = LOG_INFO;
    else if (!strcasecmp(v, "WARN") || !strcasecmp(v, "WARNING"))
      cfg->log_level = LOG_WARN;
    else if (!strcasecmp(v, "ERROR"))
      cfg->log_level = LOG_ERROR;
    else {
      snprintf(err, errlen, "LOG_LEVEL: expected DEBUG, INFO, WARN or ERROR, got '%.64s'", v);
      return -1;
    }
  }

  cfg->sync = STORE_SYNC_FULL;
  if ((v = config_env("DB_SYNCHRONOUS"))) {
    if (!strcasecmp(v, "FULL"))
      cfg->sync = STORE_SYNC_FULL;
    else if (!strcasecmp(v, "NORMAL"))
      cfg->sync = STORE_SYNC_NORMAL;
    else if (!strcasecmp(v, "OFF"))
      cfg->sync = STORE_SYNC_OFF;
    else {
      snprintf(err, errlen, "DB_SYNCHRONOUS: expected FULL, NORMAL or OFF, got '%.64s'", v);
      return -1;
    }
  }

  if (config_u32("MAX_BODY_BYTES", 1024, 16u << 20, 65536, &cfg->max_body_bytes, err, errlen) ||
      config_u32("MAX_HEADER_BYTES", 1024, 1u << 20, 8192, &cfg->max_header_bytes, err, errlen) ||
      config_u32("HEADER_TIMEOUT_MS", 100, 3600000, 10000, &cfg->header_timeout_ms, err, errlen) ||
      config_u32("BODY_TIMEOUT_MS", 100, 3600000, 30000, &cfg->body_timeout_ms, err, errlen) ||
      config_u32("IDLE_TIMEOUT_MS", 100, 3600000, 60000, &cfg->idle_timeout_ms, err, errlen) ||
      config_u32("MAX_CONNECTIONS", 1, 1000000, 4096, &cfg->max_connections, err, errlen) ||
      config_u32("MAX_QUEUE", 1, 1000000, 16384, &cfg->max_queue, err, errlen) ||
      config_u32("DB_READERS", 1, 8, 2, &cfg->readers, err, errlen) ||
      config_u32("DB_BUSY_TIMEOUT_MS", 0, 600000, 5000, &cfg->busy_timeout_ms, err, errlen) ||
      config_u32("INDEX_MAX_LAG", 1000, 10000000, 50000, &cfg->index_max_lag, err, errlen) ||
      config_u32("INDEX_BATCH", 64, 65536, 16384, &cfg->index_batch, err, errlen) ||
      config_u32("EVENTS_MAX_SUBSCRIBERS", 0, 100000, 64, &cfg->events_max_subscribers, err,
                 errlen))
    return -1;

  if (config_load_auth(cfg, err, errlen) != 0) {
    config_free(cfg);
    return -1;
  }
  return 0;
}
