/* stream.cc: the body queue of a streaming response (see stream.h).
 *
 * At most one uv_write is in flight per stream; it carries every chunk that
 * was waiting when it started. Chunks queued meanwhile go out with the next
 * write, from the write callback. A write that fails, or is cancelled by a
 * close, releases its chunks; whatever is still queued when the conn is
 * freed is released by stream_free. */
#include "stream.h"

#include <stdlib.h>
#include <string.h>

#include "conn.h"

struct conn_stream {
  uv_write_t wreq;
  stream_chunk *q[STREAM_MAX_CHUNKS]; /* ring of waiting chunks (refs held) */
  unsigned head;                      /* index of the oldest */
  unsigned n;                         /* chunks queued, in flight included */
  unsigned inflight;                  /* the first `inflight` are being written */
  size_t bytes;                       /* bytes of the n chunks */
  stream_chunk *final;                /* the last words of an ending stream */
  int ending;                         /* stream_end called */
  stream_closed_cb on_closed;
  void *arg;
};

stream_chunk *stream_chunk_new(const void *data, size_t len) {
  if (len > UINT32_MAX) return NULL;
  stream_chunk *ch = (stream_chunk *)malloc(sizeof(stream_chunk) + len);
  if (!ch) return NULL;
  memset(ch, 0, sizeof(*ch));
  ch->refs = 1;
  ch->len = (uint32_t)len;
  ch->data = (char *)(ch + 1);
  if (len) memcpy(ch->data, data, len);
  return ch;
}

void stream_chunk_ref(stream_chunk *ch) { ch->refs++; }

void stream_chunk_unref(stream_chunk *ch) {
  if (ch && --ch->refs == 0) free(ch);
}

static void flush(conn *c);

/* Drops the first k queued chunks (written or cancelled). */
static void pop(conn_stream *st, unsigned k) {
  for (unsigned i = 0; i < k; i++) {
    stream_chunk *ch = st->q[st->head];
    st->q[st->head] = NULL;
    st->bytes -= ch->len;
    stream_chunk_unref(ch);
    st->head = (st->head + 1) % STREAM_MAX_CHUNKS;
  }
  st->n -= k;
}

static void on_write(uv_write_t *w, int status) {
  conn *c = (conn *)w->data;
  conn_stream *st = c->stream;
  unsigned k = st->inflight;
  st->inflight = 0;
  pop(st, k);
  if (status != 0) { /* the client went away, or the conn is closing */
    conn_close(c);
    return;
  }
  flush(c);
}

/* Starts a write of everything queued, or finishes an ending stream. */
static void flush(conn *c) {
  conn_stream *st = c->stream;
  if (st->inflight || (c->flags & CF_CLOSING)) return;
  if (st->n == 0 && st->final) { /* the last words go after everything else */
    st->q[st->head] = st->final;
    st->bytes += st->final->len;
    st->n = 1;
    st->final = NULL;
  }
  if (st->n == 0) {
    if (st->ending) conn_linger(c);
    return;
  }
  uv_buf_t bufs[STREAM_MAX_CHUNKS];
  for (unsigned i = 0; i < st->n; i++) {
    stream_chunk *ch = st->q[(st->head + i) % STREAM_MAX_CHUNKS];
    bufs[i] = uv_buf_init(ch->data, ch->len);
  }
  st->inflight = st->n;
  st->wreq.data = c;
  if (uv_write(&st->wreq, (uv_stream_t *)&c->tcp, bufs, st->n, on_write) != 0) {
    st->inflight = 0;
    conn_close(c);
  }
}

int stream_begin(conn *c, const char *content_type, stream_closed_cb on_closed, void *arg) {
  conn_stream *st = (conn_stream *)calloc(1, sizeof(conn_stream));
  if (!st) {
    conn_close(c);
    return -1;
  }
  c->resp.content_type = content_type;
  c->resp.cache = "no-cache";
  size_t hlen = conn_respond_stream(c, HTTP_OK);
  stream_chunk *head = stream_chunk_new(c->head, hlen);
  if (!head) {
    free(st);
    conn_close(c);
    return -1;
  }
  c->stream = st;
  st->on_closed = on_closed;
  st->arg = arg;
  /* A small kernel buffer: a client that stops reading fills our bounded
   * queue soon, instead of parking megabytes in the kernel. */
  int sndbuf = STREAM_SNDBUF;
  uv_send_buffer_size((uv_handle_t *)&c->tcp, &sndbuf); /* best effort */
  st->q[0] = head;
  st->n = 1;
  st->bytes = hlen;
  flush(c);
  return 0;
}

int stream_send(conn *c, stream_chunk *ch) {
  conn_stream *st = c->stream;
  if (!st || st->ending || (c->flags & CF_CLOSING)) return STREAM_GONE;
  if (st->n == STREAM_MAX_CHUNKS || st->bytes + ch->len > STREAM_MAX_BYTES) return STREAM_FULL;
  stream_chunk_ref(ch);
  st->q[(st->head + st->n) % STREAM_MAX_CHUNKS] = ch;
  st->n++;
  st->bytes += ch->len;
  flush(c);
  return STREAM_SENT;
}

void stream_end(conn *c, stream_chunk *final) {
  conn_stream *st = c->stream;
  if (!st || st->ending || (c->flags & CF_CLOSING)) return;
  st->ending = 1;
  if (final) {
    stream_chunk_ref(final);
    st->final = final;
  }
  conn_timeout(c, STREAM_END_MS);
  flush(c);
}

void stream_free(conn *c) {
  conn_stream *st = c->stream;
  c->stream = NULL;
  pop(st, st->n);
  stream_chunk_unref(st->final);
  if (st->on_closed) st->on_closed(c, st->arg);
  free(st);
}
