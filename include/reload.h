/* reload.h: SIGHUP's reload of WEBHOOK_SECRET_FILE and READ_TOKENS_FILE
 * (src/reload.cc). Loop thread. */
#ifndef HOOKD_RELOAD_H
#define HOOKD_RELOAD_H

#include <uv.h>

#include "config.h"

/* Starts a reload (or, while one runs, one more after it); replaces cfg's
 * secret and token lists when both files read cleanly. */
void reload_start(uv_loop_t *loop, config *cfg);

#endif
