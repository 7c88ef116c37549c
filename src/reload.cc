/* reload.cc: SIGHUP. The secret and token files are re-read on the
 * threadpool (a file read is disk I/O, never done on the loop) and the new
 * lists installed on the loop, all or nothing; systemd hears RELOADING=1
 * and READY=1 around it. Nothing else holds the old lists: every check runs
 * on the loop, synchronously. A SIGHUP that arrives while a reload runs
 * (which may have read the files already) starts one more afterwards. */
#include "reload.h"

#include <stdio.h>
#include <stdlib.h>

#include "auth.h"
#include "job.h"
#include "log.h"
#include "notify.h"

/* A SIGHUP reload: the worker reads the files (their paths and the schemes
 * never change after start-up), the loop installs the result. */
struct reload_job {
  job j;       /* must stay first */
  config *cfg; /* the daemon's; its lists are replaced on success */
  uv_loop_t *loop;
  int running;
  int again;             /* a SIGHUP came while running */
  auth_secrets *secrets; /* WEBHOOK_SECRET_FILE, handed to cfg on success */
  auth_tokens *tokens;   /* READ_TOKENS_FILE, handed to cfg on success */
  int rc;
  char err[700];
};

static reload_job g_reload; /* one reload at a time */

static void reload_work(job *w) {
  reload_job *j = (reload_job *)w;
  const config *cfg = j->cfg; /* paths and schemes: fixed after start-up */
  char why[600];
  j->rc = 0;
  if (cfg->secret_file[0] && config_load_secret_file(cfg->secret_file, cfg->sig_schemes,
                                                     &j->secrets, why, sizeof(why)) != 0) {
    snprintf(j->err, sizeof(j->err), "WEBHOOK_SECRET_FILE: %s", why);
    j->rc = -1;
    return;
  }
  if (cfg->read_tokens_file[0] &&
      config_load_tokens_file(cfg->read_tokens_file, &j->tokens, why, sizeof(why)) != 0) {
    snprintf(j->err, sizeof(j->err), "READ_TOKENS_FILE: %s", why);
    j->rc = -1;
  }
}

static void reload_done(job *w, int cancelled) {
  reload_job *j = (reload_job *)w;
  config *cfg = j->cfg;
  j->running = 0;
  if (cancelled) {
    j->rc = -1;
    snprintf(j->err, sizeof(j->err), "cancelled");
  }
  if (j->rc != 0) {
    /* All or nothing: keep every old list. */
    auth_secrets_free(j->secrets);
    auth_tokens_free(j->tokens);
    log_event(LOG_ERROR, "reload_failed", j->err);
  } else {
    if (j->secrets) {
      auth_secrets_free(cfg->secrets);
      cfg->secrets = j->secrets;
    }
    if (j->tokens) {
      auth_tokens_free(cfg->read_tokens);
      cfg->read_tokens = j->tokens;
    }
    log_event(LOG_INFO, "reload",
              j->secrets && j->tokens ? "WEBHOOK_SECRET_FILE and READ_TOKENS_FILE reloaded"
              : j->secrets            ? "webhook secrets reloaded from WEBHOOK_SECRET_FILE"
                                      : "read tokens reloaded from READ_TOKENS_FILE");
  }
  j->secrets = NULL;
  j->tokens = NULL;
  notify_send("READY=1");
  if (j->again) {
    j->again = 0;
    reload_start(j->loop, cfg);
  }
}

void reload_start(uv_loop_t *loop, config *cfg) {
  notify_send("RELOADING=1");
  if (!cfg->secret_file[0] && !cfg->read_tokens_file[0]) {
    notify_send("READY=1");
    log_event(LOG_INFO, "reload",
              "SIGHUP: nothing to reload (WEBHOOK_SECRET_FILE and READ_TOKENS_FILE unset)");
    return;
  }
  if (g_reload.running) { /* it may have read the files already */
    g_reload.again = 1;
    return;
  }
  g_reload.cfg = cfg;
  g_reload.loop = loop;
  int rc = job_submit(loop, &g_reload.j, reload_work, reload_done);
  if (rc != 0) {
    log_event(LOG_ERROR, "reload_failed", uv_strerror(rc));
    notify_send("READY=1");
    return;
  }
  g_reload.running = 1;
}
