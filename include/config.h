/* config.h: runtime configuration, read once from the environment. */
#ifndef HOOKD_CONFIG_H
#define HOOKD_CONFIG_H

#include <stddef.h>
#include <stdint.h>

struct auth_secrets;
struct auth_tokens;

enum log_level { LOG_DEBUG = 0, LOG_INFO = 1, LOG_WARN = 2, LOG_ERROR = 3 };

enum store_sync { STORE_SYNC_OFF = 0, STORE_SYNC_NORMAL = 1, STORE_SYNC_FULL = 2 };

enum db_engine { DB_ENGINE_SQLITE = 0, DB_ENGINE_POSTGRES = 1 };

struct config {
  char host[256];                  /* HOST: listen address */
  int port;                        /* PORT: 0 picks a free port */
  char db_url[1024];               /* DATABASE_URL as given (for logs) */
  int db_engine;                   /* db_engine: from DATABASE_URL's scheme */
  char db_path[1024];              /* SQLite: file path derived from DATABASE_URL */
  char secret_file[1024];          /* WEBHOOK_SECRET_FILE, "" if unset */
  int log_level;                   /* LOG_LEVEL */
  uint32_t max_body_bytes;         /* MAX_BODY_BYTES */
  uint32_t max_header_bytes;       /* MAX_HEADER_BYTES */
  uint32_t header_timeout_ms;      /* HEADER_TIMEOUT_MS: first byte -> end of headers */
  uint32_t body_timeout_ms;        /* BODY_TIMEOUT_MS: end of headers -> end of body */
  uint32_t idle_timeout_ms;        /* IDLE_TIMEOUT_MS: keep-alive wait between requests */
  uint32_t max_connections;        /* MAX_CONNECTIONS */
  uint32_t max_queue;              /* MAX_QUEUE: writes + reads waiting for the database */
  uint32_t readers;                /* DB_READERS: reader connections */
  int sync;                        /* DB_SYNCHRONOUS: FULL (default), NORMAL, OFF */
  uint32_t busy_timeout_ms;        /* DB_BUSY_TIMEOUT_MS: wait for another process's lock */
  uint32_t index_max_lag;          /* INDEX_MAX_LAG: rows not yet indexed before 503 */
  uint32_t index_batch;            /* INDEX_BATCH: rows the indexer takes at most at once */
  uint32_t events_max_subscribers; /* EVENTS_MAX_SUBSCRIBERS: GET /events streams */
  /* ---- authentication (auth.h); the lists are owned and replaced whole on SIGHUP */
  auth_secrets *secrets;       /* `secret` as a list (WEBHOOK_SECRET, comma-separated, or
                                * WEBHOOK_SECRET_FILE, one per line); NULL iff secret is */
  unsigned sig_schemes;        /* SIGNATURE_SCHEMES: auth_scheme bits (x-signature) */
  uint32_t sig_tolerance_s;    /* SIGNATURE_TOLERANCE_S: replay window, both ways (300) */
  auth_tokens *read_tokens;    /* READ_TOKENS / READ_TOKENS_FILE; NULL: none */
  char read_tokens_file[1024]; /* READ_TOKENS_FILE, "" if unset; reloaded on SIGHUP */
  auth_tokens *metrics_token;  /* METRICS_TOKEN; NULL: /metrics is open */
  char *jwt_secret;            /* JWT_SECRET (owned) or NULL: JWTs not accepted */
  size_t jwt_secret_len;
  char *jwt_issuer;      /* JWT_ISSUER (owned) or NULL: not checked */
  char *jwt_audience;    /* JWT_AUDIENCE (owned) or NULL: not checked */
  uint32_t jwt_leeway_s; /* JWT_LEEWAY_S: clock skew allowed on exp/nbf/iat (60) */
};

/* An environment variable's value, NULL when unset or empty. */
const char *config_env(const char *name);
/* Parses variable name as an unsigned decimal integer in [lo, hi] (def
 * when unset). 0, or -1 with one line naming it in err. */
int config_u32(const char *name, uint32_t lo, uint32_t hi, uint32_t def, uint32_t *out, char *err,
               size_t errlen);
/* config_auth.cc: the authentication variables (SIGNATURE_SCHEMES, the
 * secrets, tokens and JWT_*) into cfg. 0, or -1 with err. */
int config_load_auth(config *cfg, char *err, size_t errlen);
/* Overwrites n bytes of a secret's copy with zeros, then frees it (p may
 * be NULL). */
void config_wipe_free(void *p, size_t n);

/* Fills cfg from the environment (getenv). On a malformed value writes one
 * line naming the variable into err and returns -1. The lists it makes are
 * owned by cfg (config_free). */
int config_load(config *cfg, char *err, size_t errlen);
void config_free(config *cfg);

/* Reads and parses the webhook secret file (one per line, trailing newlines
 * stripped, at most AUTH_MAX_LIST_BYTES) into a new list; schemes
 * (SIGNATURE_SCHEMES) decides whether whsec_ secrets must decode. 0, or -1
 * with a reason in err. Blocking: start-up, or a worker thread. */
int config_load_secret_file(const char *path, unsigned schemes, auth_secrets **secrets, char *err,
                            size_t errlen);
/* Reads and parses READ_TOKENS_FILE into a new list. 0, or -1 with err.
 * Blocking, likewise. */
int config_load_tokens_file(const char *path, auth_tokens **tokens, char *err, size_t errlen);
/* Read routes need a bearer credential (READ_TOKENS* or JWT_SECRET set). */
int config_reads_protected(const config *cfg);

const char *config_level_name(int level);

#endif
