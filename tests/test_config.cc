/* test_config.cc: environment parsing, defaults and clear errors. */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "config.h"
#include "test.h"

static const char *const vars[] = {"HOST", "PORT", "DATABASE_URL", "LOG_LEVEL", "WEBHOOK_SECRET",
                                   "WEBHOOK_SECRET_FILE", "MAX_BODY_BYTES", "DB_SYNCHRONOUS",
                                   "INDEX_MAX_LAG", "INDEX_BATCH"};

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
  CHECK(cfg.secret == NULL);
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
  const char *bad[] = {"mysql://x/y", "postgres:/x", "sqlite://x.db", "sqlite:///", "sqlite:///dir/",
                       "sqlite:///:memory:"};
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
  } cases[] = {{"PORT", "abc"},          {"PORT", "70000"},         {"PORT", "-1"},
               {"PORT", "80x"},          {"LOG_LEVEL", "LOUD"},     {"MAX_BODY_BYTES", "10"},
               {"DB_SYNCHRONOUS", "maybe"},  {"INDEX_MAX_LAG", "10"},      {"INDEX_BATCH", "0"}};
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
  CHECK(cfg.secret && cfg.secret_len == 3 && memcmp(cfg.secret, "abc", 3) == 0);
  config_free(&cfg);
  char path[] = "/tmp/hookd-secret-XXXXXX";
  int fd = mkstemp(path);
  CHECK(fd >= 0);
  CHECK_EQ_INT(write(fd, "from-file\n", 10), 10);
  close(fd);
  setenv("WEBHOOK_SECRET_FILE", path, 1);
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), 0);
  CHECK(cfg.secret && cfg.secret_len == 9 && memcmp(cfg.secret, "from-file", 9) == 0);
  config_free(&cfg);
  unlink(path);
  CHECK_EQ_INT(config_load(&cfg, err, sizeof(err)), -1); /* file gone */
  CHECK(strncmp(err, "WEBHOOK_SECRET_FILE:", 20) == 0);
  clear_env();
}
