/* events.h: the live console feed behind GET /events and GET /snapshot.
 *
 * Loop thread only. Owns the subscribers (streaming conns, at most
 * cfg->events_max_subscribers), a ring of the last EVENTS_RING message
 * events (at most EVENTS_RING_BYTES) for Last-Event-ID resume and for
 * polling, and a 1 s timer that closes a second of history and sends every
 * subscriber a snapshot. A message is published by the webhook's commit
 * callback, so it is never seen before its transaction is durable.
 *
 * Event ids are "<process tag>-<seq>": a resume against another process
 * (a restart) is recognised and answered with a `reset` event. */
#ifndef HOOKD_EVENTS_H
#define HOOKD_EVENTS_H

#include <stdint.h>

#include "buf.h"
#include "defs.h"
#include "message.h"

#define EVENTS_RING 256                 /* message events kept for resume */
#define EVENTS_RING_BYTES (1024 * 1024) /* and their bytes at most */
#define EVENTS_HEARTBEAT_S 15           /* comment line this often */
#define EVENTS_RETRY_MS 2000            /* EventSource reconnect delay */

struct server;
struct conn;

/* Starts the 1 s timer. 0 or a libuv error. */
int events_start(server *s);
/* Closes the timer (the loop can then end). */
void events_stop(void);
/* A message's transaction committed: tell every subscriber. */
void events_publish_message(const message *m);
/* Makes c a subscriber (answers it with the stream). last_id is the
 * Last-Event-ID to resume after (len 0 for none). Returns 0 (c is a stream,
 * or closed when its head could not be allocated), or EVENTS_E_FULL (the
 * subscriber limit) or EVENTS_E_NOMEM, c untouched: the caller answers. */
#define EVENTS_E_FULL (-1)
#define EVENTS_E_NOMEM (-2)
int events_subscribe(conn *c, str last_id);
/* The snapshot object with the last history_n seconds of history. */
void events_snapshot_json(buf *b, int history_n);
/* Appends `"messages":[{"id":...,"message":{...}}...],"reset":bool`: the
 * ring's messages after id `after` (len 0: the newest `limit`), oldest
 * first, at most `limit`; reset says events after `after` were lost. */
void events_recent_json(buf *b, str after, int limit);

#endif
