/* snapshot.h: the console's snapshot, one JSON object of the counters the
 * page shows: connections, queue, webhook results and requests since start,
 * subscribers, the newest event id and the last seconds of history. Sent
 * once a second on GET /events and answered by GET /snapshot. Loop thread. */
#ifndef HOOKD_SNAPSHOT_H
#define HOOKD_SNAPSHOT_H

#include <stdint.h>

#include "buf.h"
#include "defs.h"

struct server;

/* What the event hub (events.cc) adds to the snapshot. */
struct snapshot_feed {
  uint32_t subscribers;            /* streams open now */
  uint64_t dropped;                /* subscribers dropped for being slow */
  char last_id[HTTP_MAX_EVENT_ID]; /* id of the newest message event */
  size_t last_id_len;              /* 0: none yet */
};

/* Appends the object with the last history_n seconds of history. */
void snapshot_json(buf *b, const server *s, const snapshot_feed *f, int history_n);

#endif
