/* config.h: runtime configuration, read once from the environment. */
#ifndef HOOKD_CONFIG_H
#define HOOKD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

enum store_sync { STORE_SYNC_OFF = 0, STORE_SYNC_NORMAL = 1, STORE_SYNC_FULL = 2 };

enum db_engine { DB_ENGINE_SQLITE = 0, DB_ENGINE_POSTGRES = 1 };

struct config {
  char host[256];            /* HOST: listen address */
  int port;                  /* PORT: 0 picks a free port */
  char db_url[1024];         /* DATABASE_URL as given (for logs) */
  int db_engine;             /* db_engine: from DATABASE_URL's scheme */
  char db_path[1024];        /* SQLite: file path derived from DATABASE_URL */
  char *secret;              /* owned; NULL when not configured */
  size_t secret_len;
  char secret_file[1024];    /* WEBHOOK_SECRET_FILE, "" if unset */
  int log_level;             /* LOG_LEVEL */
  uint32_t max_body_bytes;   /* MAX_BODY_BYTES */
  uint32_t max_header_bytes; /* MAX_HEADER_BYTES */
  uint32_t header_timeout_ms;/* HEADER_TIMEOUT_MS: first byte -> end of headers */
  uint32_t body_timeout_ms;  /* BODY_TIMEOUT_MS: end of headers -> end of body */
  uint32_t idle_timeout_ms;  /* IDLE_TIMEOUT_MS: keep-alive wait between requests */
  uint32_t max_connections;  /* MAX_CONNECTIONS */
  uint32_t max_queue;        /* MAX_QUEUE: writes + reads waiting for the database */
  uint32_t readers;          /* DB_READERS: reader connections */
  int sync;                  /* DB_SYNCHRONOUS: FULL (default), NORMAL, OFF */
  uint32_t busy_timeout_ms;  /* DB_BUSY_TIMEOUT_MS: wait for another process's lock */
  uint32_t index_max_lag;    /* INDEX_MAX_LAG: rows not yet indexed before 503 */
  uint32_t index_batch;      /* INDEX_BATCH: rows the indexer takes at most at once */
  uint32_t events_max_subscribers; /* EVENTS_MAX_SUBSCRIBERS: GET /events streams */
};

/* Fills cfg from the environment (getenv). On a malformed value writes one
 * line naming the variable into err and returns -1. cfg->secret is owned by
 * cfg (config_free). */
int config_load(config *cfg, char *err, size_t errlen);
void config_free(config *cfg);

/* Reads the secret file (trailing newlines stripped) into a new malloc'd
 * buffer. Returns 0, or -1 with a reason in err. */
int config_read_secret_file(const char *path, char **out, size_t *outlen,
                            char *err, size_t errlen);

const char *config_level_name(int level);

#endif
