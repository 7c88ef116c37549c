/* config_auth.cc: the authentication part of the configuration: the
 * webhook secrets (WEBHOOK_SECRET, WEBHOOK_SECRET_FILE, SIGNATURE_SCHEMES),
 * reader and metrics tokens (READ_TOKENS, READ_TOKENS_FILE, METRICS_TOKEN)
 * and JWT_*; the secret and token files are read again on SIGHUP (reload.cc).
 * Secret bytes are wiped before their memory is freed. */
#include <errno.h>
#include <fcntl.h>
#include <sodium.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"

void config_wipe_free(void *p, size_t n) {
  if (p) sodium_memzero(p, n);
  free(p);
}

/* Reads a secret or token file (trailing newlines stripped, at most
 * AUTH_MAX_LIST_BYTES) into a new malloc'd buffer. 0, or -1 with err. */
static int read_file(const char *path, char **out, size_t *outlen, char *err, size_t errlen) {
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
      config_wipe_free(tmp, len);
      return -1;
    }
    if (n == 0) break;
    len += (size_t)n;
    if (len > cap) {
      snprintf(err, errlen, "'%.512s' is larger than %zu bytes", path, cap);
      close(fd);
      config_wipe_free(tmp, len);
      return -1;
    }
  }
  close(fd);
  while (len && (tmp[len - 1] == '\n' || tmp[len - 1] == '\r')) len--;
  if (len == 0) {
    snprintf(err, errlen, "'%.512s' is empty", path);
    config_wipe_free(tmp, len);
    return -1;
  }
  tmp[len] = 0;
  *out = tmp;
  *outlen = len;
  return 0;
}

int config_load_secret_file(const char *path, unsigned schemes, auth_secrets **secrets, char *err,
                            size_t errlen) {
  char why[300], *raw = NULL;
  size_t len = 0;
  if (read_file(path, &raw, &len, err, errlen) != 0) return -1;
  int need_std = (schemes & AUTH_SCHEME_STANDARD) != 0;
  int rc = auth_secrets_parse(raw, len, '\n', need_std, secrets, why, sizeof(why));
  config_wipe_free(raw, len); /* the list keeps its own copy */
  if (rc != 0) snprintf(err, errlen, "'%.512s': %s", path, why);
  return rc;
}

int config_load_tokens_file(const char *path, auth_tokens **tokens, char *err, size_t errlen) {
  char *raw = NULL, why[300];
  size_t len = 0;
  if (read_file(path, &raw, &len, err, errlen) != 0) return -1;
  int rc = auth_tokens_parse(raw, len, '\n', tokens, why, sizeof(why));
  config_wipe_free(raw, len);
  if (rc != 0) snprintf(err, errlen, "'%.512s': %s", path, why);
  return rc;
}

int config_reads_protected(const config *cfg) {
  return cfg->read_tokens != NULL || cfg->jwt_secret != NULL;
}

/* Copies an optional variable into a new string (*out stays NULL when unset). */
static int dup_env(const char *name, char **out, size_t *len, char *err, size_t errlen) {
  const char *v = config_env(name);
  if (!v) return 0;
  *out = strdup(v);
  if (!*out) {
    snprintf(err, errlen, "%s: out of memory", name);
    return -1;
  }
  if (len) *len = strlen(v);
  return 0;
}

int config_load_auth(config *cfg, char *err, size_t errlen) {
  char why[600];
  const char *v;
  cfg->sig_schemes = AUTH_SCHEME_XSIG;
  if ((v = config_env("SIGNATURE_SCHEMES")) && !(cfg->sig_schemes = auth_schemes_parse(v))) {
    snprintf(err, errlen,
             "SIGNATURE_SCHEMES: expected a comma-separated list of x-signature, hub, "
             "standard, got '%.128s'",
             v);
    return -1;
  }
  if ((v = config_env("WEBHOOK_SECRET_FILE"))) {
    if (strlen(v) >= sizeof(cfg->secret_file)) {
      snprintf(err, errlen, "WEBHOOK_SECRET_FILE: path is too long");
      return -1;
    }
    strcpy(cfg->secret_file, v);
    if (config_load_secret_file(v, cfg->sig_schemes, &cfg->secrets, why, sizeof(why))) {
      snprintf(err, errlen, "WEBHOOK_SECRET_FILE: %s", why);
      return -1;
    }
  } else if ((v = config_env("WEBHOOK_SECRET"))) { /* comma-separated */
    int need_std = (cfg->sig_schemes & AUTH_SCHEME_STANDARD) != 0;
    if (auth_secrets_parse(v, strlen(v), ',', need_std, &cfg->secrets, why, sizeof(why))) {
      snprintf(err, errlen, "WEBHOOK_SECRET: %s", why);
      return -1;
    }
  }
  if (config_u32("SIGNATURE_TOLERANCE_S", 1, 604800, 300, &cfg->sig_tolerance_s, err, errlen) ||
      config_u32("JWT_LEEWAY_S", 0, 3600, 60, &cfg->jwt_leeway_s, err, errlen))
    return -1;

  if ((v = config_env("READ_TOKENS_FILE"))) {
    if (strlen(v) >= sizeof(cfg->read_tokens_file)) {
      snprintf(err, errlen, "READ_TOKENS_FILE: path is too long");
      return -1;
    }
    strcpy(cfg->read_tokens_file, v);
    if (config_load_tokens_file(v, &cfg->read_tokens, why, sizeof(why))) {
      snprintf(err, errlen, "READ_TOKENS_FILE: %s", why);
      return -1;
    }
  } else if ((v = config_env("READ_TOKENS"))) {
    if (auth_tokens_parse(v, strlen(v), ',', &cfg->read_tokens, why, sizeof(why))) {
      snprintf(err, errlen, "READ_TOKENS: %s", why);
      return -1;
    }
  }
  if ((v = config_env("METRICS_TOKEN")) &&
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

void config_free(config *cfg) {
  auth_secrets_free(cfg->secrets);
  cfg->secrets = NULL;
  auth_tokens_free(cfg->read_tokens);
  cfg->read_tokens = NULL;
  auth_tokens_free(cfg->metrics_token);
  cfg->metrics_token = NULL;
  config_wipe_free(cfg->jwt_secret, cfg->jwt_secret_len);
  free(cfg->jwt_issuer);
  free(cfg->jwt_audience);
  cfg->jwt_secret = cfg->jwt_issuer = cfg->jwt_audience = NULL;
}
