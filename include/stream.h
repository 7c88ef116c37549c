/* stream.h: streaming responses (the body of GET /events).
 *
 * A handler turns its conn into a stream with stream_begin: the response
 * head goes out without Content-Length (the body runs until the connection
 * closes) and the conn stays open with no idle timer, reading only to see
 * the client go away. The body is a queue of shared, reference-counted
 * chunks: one chunk goes to any number of streams without a copy, so memory
 * grows with the number of distinct chunks, not with the subscribers.
 *
 * Each stream's queue is bounded (STREAM_MAX_CHUNKS chunks, STREAM_MAX_BYTES
 * bytes); stream_send refuses past the bound and the owner then ends the
 * stream with a final chunk (stream_end), which is queued past the bound and
 * followed by a graceful close. A client that does not take even that within
 * STREAM_END_MS is closed. The kernel send buffer of a stream is made small
 * (STREAM_SNDBUF) so that a stuck client is noticed by the queue bound
 * instead of hiding megabytes in the kernel. Loop thread only. */
#ifndef HOOKD_STREAM_H
#define HOOKD_STREAM_H

#include <stddef.h>
#include <stdint.h>

#define STREAM_MAX_CHUNKS 64          /* chunks waiting per stream */
#define STREAM_MAX_BYTES (256 * 1024) /* bytes waiting per stream */
#define STREAM_END_MS 2000            /* a dropped stream's last words */
#define STREAM_SNDBUF (16 * 1024)     /* SO_SNDBUF of a stream socket */

struct conn;

/* Immutable bytes shared by many streams; freed when the last ref goes. */
struct stream_chunk {
  int refs;
  uint32_t len;      /* bytes of data */
  uint32_t part_off; /* owner's: a sub-range of the data (e.g. its JSON) */
  uint32_t part_len;
  char *data; /* points right after the struct (one allocation) */
};

/* A new chunk holding a copy of data[0..len), refs = 1; NULL when out of
 * memory. */
stream_chunk *stream_chunk_new(const void *data, size_t len);
void stream_chunk_ref(stream_chunk *ch);
void stream_chunk_unref(stream_chunk *ch);

/* Called once when a stream's conn is freed (the owner forgets it). */
typedef void (*stream_closed_cb)(conn *c, void *arg);

/* Answers the request on c with a streaming 200 of content_type and makes
 * c a stream. Returns 0, or -1 when out of memory (c is then closed and
 * on_closed is never called). */
int stream_begin(conn *c, const char *content_type, stream_closed_cb on_closed, void *arg);
enum stream_send_result {
  STREAM_SENT = 0,
  STREAM_FULL = -1, /* the queue is at its bound: the client is too slow */
  STREAM_GONE = -2, /* the stream is ending or its conn is closing */
};
/* Queues ch (taking a ref) behind what is waiting; anything but STREAM_SENT
 * means the chunk is not sent. */
int stream_send(conn *c, stream_chunk *ch);
/* Ends the stream: queues final (may be NULL) past the bound, then closes
 * gracefully once everything is written, or after STREAM_END_MS. */
void stream_end(conn *c, stream_chunk *final);

/* For conn.cc: releases the stream state of a conn being freed. */
void stream_free(conn *c);

#endif
