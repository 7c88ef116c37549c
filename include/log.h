/* log.h: JSON log lines on stdout that never block the event loop.
 *
 * The loop formats a line into a scratch buf and hands it to a bounded
 * buffer; a dedicated writer thread does the blocking write(2). When the
 * buffer is full (stdout is stuck) lines are dropped and counted instead of
 * stalling requests. Call from the loop (main) thread only. */
#ifndef HOOKD_LOG_H
#define HOOKD_LOG_H

#include <stdint.h>

#include "buf.h"
#include "config.h"

/* Starts the writer thread on fd. 0 or -1. */
int log_init(int level, int fd);
/* Flushes everything pending and stops the writer thread. */
void log_shutdown(void);
/* Starts a line: returns a scratch buf holding `{"ts":"...","level":"..."`
 * or NULL when level is filtered out. Append `,"key":value` pairs, then
 * call log_end. */
buf *log_begin(int level);
void log_end(buf *line);
/* One-call line: {"ts","level","event":event,"msg":msg}. msg may be NULL. */
void log_event(int level, const char *event, const char *msg);
uint64_t log_dropped(void); /* lines dropped because stdout was stuck */

#endif
