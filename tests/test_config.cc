/* test_config.cc: environment parsing, defaults and clear errors. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "auth.h"
#include "config.h"
#include "test.h"

static const char *const vars[] = {"HOST",
                                   "PORT",
                                   "DATABASE_URL",
                                   "LOG_LEVEL",
                                   "WEBHOOK_SECRET",
                                   "WEBHOOK_SECRET_FILE",
                                   "MAX_BODY_BYTES",
                                   "DB_SYNCHRONOUS",
                                   "INDEX_MAX_LAG",
                                   "INDEX_BATCH",
                                   "SIGNATURE_SCHEMES",
                                   "SIGNATURE_TOLERANCE_S",
                                   "READ_TOKENS",
                                   "READ_TOKENS_FILE",
                                   "METRICS_TOKEN",
                                   "JWT_SECRET",
                                   "JWT_ISSUER",
                                   "JWT_AUDIENCE",
                                   "JWT_LEEWAY_S"};

static void clear_env(void) {
  for (size_t i = 0; i < sizeof(vars) / sizeof(vars[0]); i++) unsetenv(vars[i]);
}

TEST(defaults) {
  clear_env();
  config cfg;
  char err[600];
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK(strcmp(cfg.host, "0.0.0.0") == 0);
  CHECK_EQ_INT(cfg.port, 8000);
  CHECK(strcmp(cfg.db_path, "./data/app.db") == 0);
  CHECK_EQ_INT(cfg.log_level, LOG_INFO);
  CHECK_EQ_INT(cfg.max_body_bytes, 65536);
  CHECK_EQ_INT(cfg.sync, STORE_SYNC_FULL);
  CHECK(cfg.secrets == NULL);
  config_free(&cfg);
}

TEST(database_url_forms) {
  clear_env();
  config cfg;
  char err[600];
  setenv("DATABASE_URL", "sqlite:////var/lib/hookd/app.db", 1);
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK(strcmp(cfg.db_path, "/var/lib/hookd/app.db") == 0);
  setenv("DATABASE_URL", "sqlite:///rel/x.db", 1);
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK(strcmp(cfg.db_path, "rel/x.db") == 0);
  const char *pg[] = {"postgres://u@h/db", "postgresql://u:p@127.0.0.1:5432/db?sslmode=disable"};
  for (size_t i = 0; i < sizeof(pg) / sizeof(pg[0]); i++) {
    setenv("DATABASE_URL", pg[i], 1);
    CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
    CHECK_EQ_INT(cfg.db_engine, DB_ENGINE_POSTGRES);
  }
  const char *bad[] = {"mysql://x/y", "postgres:/x",    "sqlite://x.db",
                       "sqlite:///",  "sqlite:///dir/", "sqlite:///:memory:"};
  for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
    setenv("DATABASE_URL", bad[i], 1);
    err[0] = 0;
    CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
    CHECK(strncmp(err, "DATABASE_URL:", 13) == 0);
  }
  clear_env();
}

TEST(malformed_values_name_the_variable) {
  struct {
    const char *var, *val;
  } cases[] = {{"PORT", "abc"},
               {"PORT", "70000"},
               {"PORT", "-1"},
               {"PORT", "80x"},
               {"LOG_LEVEL", "LOUD"},
               {"MAX_BODY_BYTES", "10"},
               {"DB_SYNCHRONOUS", "maybe"},
               {"INDEX_MAX_LAG", "10"},
               {"INDEX_BATCH", "0"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    clear_env();
    setenv(cases[i].var, cases[i].val, 1);
    config cfg;
    char err[600] = "";
    CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
    CHECK(strncmp(err, cases[i].var, strlen(cases[i].var)) == 0);
  }
  clear_env();
}

TEST(secret_from_env_and_file) {
  clear_env();
  config cfg;
  char err[600];
  setenv("WEBHOOK_SECRET", "abc", 1);
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK(cfg.secrets && cfg.secrets->n == 1);
  if (cfg.secrets) CHECK_STR(cfg.secrets->e[0].key, cfg.secrets->e[0].len, "abc");
  config_free(&cfg);
  char path[] = "/tmp/hookd-secret-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK_EQ_INT(write(fd, "from-file\n", 10), 10);
  close(fd);
  setenv("WEBHOOK_SECRET_FILE", path, 1);
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK(cfg.secrets && cfg.secrets->n == 1);
  if (cfg.secrets) CHECK_STR(cfg.secrets->e[0].key, cfg.secrets->e[0].len, "from-file");
  config_free(&cfg);
  unlink(path);
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1); /* file gone */
  CHECK(strncmp(err, "WEBHOOK_SECRET_FILE:", 20) == 0);
  clear_env();
}

/* ---- Authentication variables (issue 13) ------------------------------ */

TEST(auth_defaults_keep_todays_contract) {
  clear_env();
  config cfg;
  char err[600];
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK_EQ_INT(cfg.sig_schemes, AUTH_SCHEME_XSIG);
  CHECK_EQ_INT(cfg.sig_tolerance_s, 300);
  CHECK(cfg.secrets == NULL && cfg.read_tokens == NULL && cfg.metrics_token == NULL);
  CHECK(cfg.jwt_secret == NULL);
  CHECK(!config_reads_protected(&cfg));
  CHECK_EQ_INT(cfg.jwt_leeway_s, 60);
  config_free(&cfg);
}

TEST(auth_variables_parse) {
  clear_env();
  config cfg;
  char err[600];
  setenv("WEBHOOK_SECRET", "old, new", 1);
  setenv("SIGNATURE_SCHEMES", "hub,x-signature", 1);
  setenv("SIGNATURE_TOLERANCE_S", "60", 1);
  setenv("READ_TOKENS", "reader-token-0123456789,reader-token-abcdefghij", 1);
  setenv("METRICS_TOKEN", "metrics-token-0123456789", 1);
  setenv("JWT_SECRET", "jwt-secret-0123456789-0123456789-x", 1);
  setenv("JWT_AUDIENCE", "hookd", 1);
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK(cfg.secrets && cfg.secrets->n == 2);
  CHECK_EQ_INT(cfg.sig_schemes, AUTH_SCHEME_HUB | AUTH_SCHEME_XSIG);
  CHECK_EQ_INT(cfg.sig_tolerance_s, 60);
  CHECK(cfg.read_tokens && cfg.read_tokens->n == 2);
  CHECK(cfg.metrics_token && cfg.metrics_token->n == 1);
  CHECK(cfg.jwt_audience && strcmp(cfg.jwt_audience, "hookd") == 0);
  CHECK(config_reads_protected(&cfg));
  config_free(&cfg);
  clear_env();
}

TEST(auth_variables_malformed_name_the_variable) {
  struct {
    const char *var, *val;
  } cases[] = {{"SIGNATURE_SCHEMES", "github"},
               {"SIGNATURE_SCHEMES", "hub,,"},
               {"SIGNATURE_TOLERANCE_S", "0"},
               {"SIGNATURE_TOLERANCE_S", "5m"},
               {"READ_TOKENS", "short"},
               {"METRICS_TOKEN", "has space 0123456789"},
               {"JWT_SECRET", "too-short"},
               {"JWT_ISSUER", "idp"},
               {"JWT_LEEWAY_S", "-1"},
               {"WEBHOOK_SECRET", " , "},
               {"READ_TOKENS_FILE", "/nonexistent/hookd-tokens"}};
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    clear_env();
    setenv(cases[i].var, cases[i].val, 1);
    config cfg;
    char err[600] = "";
    CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
    if (strncmp(err, cases[i].var, strlen(cases[i].var)) != 0) {
      test_failures++;
      fprintf(stderr, "  %s=%s: error '%s'\n", cases[i].var, cases[i].val, err);
    }
  }
  /* The standard scheme needs a whsec_ secret that decodes. */
  clear_env();
  setenv("SIGNATURE_SCHEMES", "standard", 1);
  setenv("WEBHOOK_SECRET", "plain", 1);
  config cfg;
  char err[600] = "";
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1);
  CHECK(strncmp(err, "WEBHOOK_SECRET:", 15) == 0);
  setenv("WEBHOOK_SECRET", "plain,whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw", 1);
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK(cfg.secrets && cfg.secrets->n == 2 && cfg.secrets->e[1].std_len == 24);
  config_free(&cfg);
  clear_env();
}

TEST(secret_and_token_files_one_per_line) {
  clear_env();
  char spath[] = "/tmp/hookd-secrets-XXXXXX", tpath[] = "/tmp/hookd-tokens-XXXXXX";
  int fd = mkstemp(spath);
  const char secrets[] = "first\r\n\n  second  \nthird\n";
  CHECK_EQ_INT(write(fd, secrets, sizeof(secrets) - 1), (long)sizeof(secrets) - 1);
  close(fd);
  fd = mkstemp(tpath);
  const char tokens[] = "reader-token-0123456789\nreader-token-abcdefghij\n";
  CHECK_EQ_INT(write(fd, tokens, sizeof(tokens) - 1), (long)sizeof(tokens) - 1);
  close(fd);
  setenv("WEBHOOK_SECRET_FILE", spath, 1);
  setenv("READ_TOKENS_FILE", tpath, 1);
  config cfg;
  char err[600];
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK(cfg.secrets && cfg.secrets->n == 3);
  if (cfg.secrets) CHECK_STR(cfg.secrets->e[1].key, cfg.secrets->e[1].len, "second");
  CHECK(cfg.read_tokens && cfg.read_tokens->n == 2);
  CHECK(strcmp(cfg.read_tokens_file, tpath) == 0);
  config_free(&cfg);
  unlink(spath);
  unlink(tpath);
  clear_env();
}
