/* rejections.h: the last REJECTIONS_MAX rejected webhooks, for the console.
 *
 * A ring on the loop thread: time, request id, peer address, status,
 * reason and message_id (when the body got that far). Never the body or the
 * signature. REJECTIONS_MAX * sizeof(rejection) = about 40 KiB, fixed. */
#ifndef HOOKD_REJECTIONS_H
#define HOOKD_REJECTIONS_H

#include <stdint.h>

#include "buf.h"
#include "defs.h"

#define REJECTIONS_MAX 100
#define REJECTION_REASON_MAX 120

struct conn;

struct rejection {
  int64_t at_ms; /* wall clock when answered */
  uint64_t seq;  /* 1, 2, ... since start */
  int status;
  char rid[HTTP_MAX_REQUEST_ID];
  uint32_t rid_len;
  char peer[HTTP_MAX_PEER];          /* NUL-terminated, "" if unknown */
  char reason[REJECTION_REASON_MAX]; /* NUL-terminated */
  char mid[LOG_MAX_MESSAGE_ID];      /* message_id, truncated like the log's */
  uint32_t mid_len;
  uint8_t has_mid;
};

/* Records the webhook on c that is being answered with status (not 200).
 * Call after the request id is assigned; caches the peer name in c. */
void rejections_record(conn *c, int status);
/* Appends {"data":[...newest first...],"total":N,"max":100}: total counts
 * every rejection since start, data holds the newest (at most `limit`). */
void rejections_json(buf *b, int limit);
uint64_t rejections_total(void);

#endif
