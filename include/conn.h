/* conn.h: one client connection. Buffers, timer, parser, write state.
 *
 * A conn is the only owner of its uv handles and the only caller of
 * uv_close on them. It is freed when both handles are closed and no job
 * holds it (refs). Handlers answer through conn_respond; a handler that
 * starts a job calls conn_hold first and conn_release when the job is done.
 *
 * One request is handled at a time: on_message_complete pauses the parser,
 * reading stops, and parsing resumes after the response is written. Bytes
 * of pipelined requests that already arrived wait in `pending`. */
#ifndef HOOKD_CONN_H
#define HOOKD_CONN_H

#include <llhttp.h>
#include <stdint.h>
#include <uv.h>

#include "buf.h"
#include "http.h"
#include "message.h"
#include "response.h"

struct server;
struct config;
struct conn;

/* What a connection needs from its owner, without knowing the owner: the
 * loop, the limits and timeouts, the set it belongs to, and callbacks that
 * route a complete request and report a freed connection. The server
 * embeds one and fills it (main wires the router in), so conn includes
 * neither server.h nor router.h and nothing calls back in a circle. */
struct conn_set {
  uv_loop_t *loop;
  const config *cfg; /* timeouts, max_connections */
  http_limits limits;
  conn *head; /* doubly linked list of open connections */
  uint32_t n;
  int draining;              /* shutting down: answer 503, close when idle */
  char rid_prefix[9];        /* random per process, for request ids */
  int64_t refused_logged_ms; /* conn_refused's log rate limit */
  uint64_t refused_unlogged;
  uint64_t rid_seq;
  void (*dispatch)(conn *c);      /* a complete request: route and handle it */
  int (*route_of)(const conn *c); /* route id of the request (metrics labels) */
  void (*on_gone)(conn_set *set); /* a connection was freed */
  /* Before the log line: the router completes what the line says (a
   * webhook's result and dup) and keeps the console's history. */
  void (*on_answered)(conn *c, int status);
};
struct conn_stream;

enum conn_state {
  CS_IDLE = 0, /* between requests (keep-alive wait) */
  CS_READING,  /* a request is arriving */
  CS_BUSY,     /* a handler or its job owns the request */
  CS_WRITING,  /* the response is being written */
  CS_LINGER,   /* FIN sent; draining the client's bytes before close */
  CS_STREAM,   /* a streaming response owns the socket (stream.cc) */
};

enum conn_flag {
  CF_CLOSING = 1 << 0,       /* uv_close called */
  CF_CLOSE_AFTER = 1 << 1,   /* close once the current response is out */
  CF_IN_RUN = 1 << 2,        /* conn_run is on the stack */
  CF_READING = 1 << 3,       /* uv_read_start active */
  CF_CONTINUE_SENT = 1 << 4, /* 100 Continue written for this request */
  CF_BODY_TIMER = 1 << 5,    /* timer switched to the body timeout */
  CF_OVERFLOW = 1 << 6,      /* accepted past MAX_CONNECTIONS: health checks only */
};

/* Connections past MAX_CONNECTIONS still accepted for one health check
 * each (an orchestrator must not restart a daemon that is merely full);
 * past this many more they are answered 503 and closed at once. */
#define CONN_HEALTH_RESERVE 32

/* What the request log line says about a webhook. */
struct conn_log {
  const char *result;           /* created, duplicate, ... or NULL */
  const char *detail;           /* error detail, valid during conn_respond */
  const msg_errors *invalid;    /* a 422's errors, valid during conn_respond */
  char mid[LOG_MAX_MESSAGE_ID]; /* message_id, truncated */
  uint32_t mid_len;
  uint8_t has_mid;
  int8_t dup; /* -1 unknown, 0, 1 */
};

struct conn {
  uv_tcp_t tcp;     /* must stay first: (conn *)handle */
  uv_timer_t timer; /* header, body, idle, write and linger timeouts */
  uv_write_t wreq;
  uv_shutdown_t sreq;
  llhttp_t parser;
  conn_set *set;      /* the set it belongs to (the server's) */
  server *srv;        /* the owner, for handlers; opaque to conn */
  conn *prev, *next;  /* set's list */
  int state;          /* conn_state */
  unsigned flags;     /* conn_flag */
  int refs;           /* open handles + jobs holding this conn */
  int route;          /* route_id of the current request, -1 before routing */
  buf pending;        /* unparsed bytes of pipelined requests */
  size_t pending_off; /* bytes of pending already parsed */
  http_req req;
  uint64_t start_ns;             /* when the current request began */
  char rid[HTTP_MAX_REQUEST_ID]; /* request id of the current request */
  uint32_t rid_len;
  conn_log log;
  response resp;   /* head options of the current response */
  buf out;         /* response body, reused */
  str static_body; /* instead of out: bytes that outlive the write */
  char head[HTTP_MAX_RESPONSE_HEAD];
  uv_buf_t wbufs[2]; /* head + body while a write is pending */
  void *job;         /* the handlers' per-connection job (a read), made on
                      * first use and reused; freed with job_free */
  void (*job_free)(void *);
  message msg;              /* POST /webhook: the parsed message (points into
                             * req.body) while its commit is pending */
  conn_stream *stream;      /* CS_STREAM only: the body queue (stream.cc) */
  char peer[HTTP_MAX_PEER]; /* "ip:port" of the client once asked (rejections), "" before */
};

/* Accepts a connection from listener into set, owned by srv. Returns 0 or
 * a libuv error. */
int conn_accept(conn_set *set, uv_stream_t *listener, server *srv);
/* Arms the idle timer and starts reading (a new connection). */
void conn_begin(conn *c);
/* conn_log.cc: the request id of the current request (client's or
 * generated), and the request's JSON log line. */
void conn_assign_request_id(conn *c);
void conn_log_request(conn *c, int status, double latency_ms);
/* Counts and (rate-limited) logs a refused connection (metrics reason). */
void conn_refused(conn_set *set, int reason);
/* Writes the response with status: c->resp's head options, the body in
 * c->out (or c->static_body). Logs the request and records metrics. Safe
 * on a closing conn. */
void conn_respond(conn *c, int status);
/* Starts a streaming response (for stream.cc): logs the request, records
 * metrics, writes the head (no Content-Length, Connection: close) into
 * c->head and returns its length. The conn is then CS_STREAM: no idle
 * timer, and bytes from the client are read and discarded until it closes. */
size_t conn_respond_stream(conn *c, int status);
/* Sends FIN, then closes once the client's bytes stop (at most 2 s). */
void conn_linger(conn *c);
/* (Re)arms c's one timer; in CS_STREAM and CS_LINGER it closes the conn. */
void conn_timeout(conn *c, uint32_t ms);
/* Shorthand: a copy of body[0..len) with status. */
void conn_respond_body(conn *c, int status, const void *body, size_t len);
/* The same without the copy, for bytes that live as long as the process
 * (literals, the embedded console): sent straight from body. */
void conn_respond_static(conn *c, int status, const void *body, size_t len);
/* Shorthand: {"detail": detail} with status. */
void conn_respond_detail(conn *c, int status, const char *detail);
void conn_hold(conn *c);
/* Drops a hold; frees the conn if it was closed meanwhile and this was the
 * last reference. A job's callback answers first (conn_respond is safe on a
 * closing conn), then releases. */
void conn_release(conn *c);
/* conn.cc, for conn_respond.cc: start reading (unless closing), and the
 * step after a response is out (close, or wait for the next request). */
void conn_read_start(conn *c);
void conn_response_done(conn *c);
/* Closes now (no response). */
void conn_close(conn *c);
/* For shutdown: close if idle, otherwise close after the current response. */
void conn_drain(conn *c);

#endif
