/* store/engines.h: the engines' openers, for store/store.cc only. */
#ifndef HOOKD_STORE_ENGINES_H
#define HOOKD_STORE_ENGINES_H

#include "store.h"

/* src/store/sqlite/engine.cc */
store *sq_open(uv_loop_t *loop, const config *cfg, char *err, size_t errlen);
#ifdef HOOKD_WITH_POSTGRES
/* src/store/pg/engine.cc */
store *pg_open(uv_loop_t *loop, const config *cfg, char *err, size_t errlen);
#endif

#endif
