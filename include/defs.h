/* defs.h: constants, bounds and small shared types for every hookd module.
 *
 * Every buffer in hookd has its bound named here, so a reader can see the
 * whole memory budget of a connection in one place. */
#ifndef HOOKD_DEFS_H
#define HOOKD_DEFS_H

#include <stddef.h>
#include <stdint.h>

#define HOOKD_VERSION "0.1.0"

/* ---- Bounds (compile-time; runtime limits with defaults live in config.h) */
#define HTTP_MAX_URL 4096       /* request target bytes; longer is 414 */
#define HTTP_MAX_HEADER_NAME 64 /* longer header names are ignored */
#define HTTP_MAX_SIGNATURE 128  /* X-Signature, X-Hub-Signature-256 bytes we keep */
#define HTTP_MAX_REQUEST_ID 64  /* X-Request-ID bytes we accept */
#define HTTP_MAX_EVENT_ID 64    /* Last-Event-ID bytes we keep */
#define HTTP_MAX_PEER 64        /* "[v6 address]:port" of a client */
/* Authentication headers (issue 13): longer values are kept as "too long"
 * and refused (401), so a hostile header costs nothing but its bytes. */
#define HTTP_MAX_WEBHOOK_ID 256         /* webhook-id */
#define HTTP_MAX_WEBHOOK_TIMESTAMP 32   /* webhook-timestamp */
#define HTTP_MAX_WEBHOOK_SIGNATURE 2048 /* webhook-signature: ~40 "v1,<base64>" entries */
#define HTTP_MAX_AUTHORIZATION 4096     /* Authorization: "Bearer " + token or JWT */
#define HTTP_MAX_RESPONSE_HEAD 768      /* status line + all response headers */
#define HTTP_READ_CHUNK 65536           /* shared read buffer for all sockets */
#define LOG_MAX_MESSAGE_ID 128          /* bytes of message_id copied to logs */
#define LOG_MAX_BUFFER (4u << 20)       /* pending log bytes before dropping */
#define MSG_MAX_TEXT_CHARS 4096         /* text limit in Unicode code points */
#define MSG_MAX_ID_BYTES 256            /* message_id limit in bytes */
#define MSG_MAX_MSISDN_DIGITS 15        /* E.164 */
#define STORE_MAX_BATCH 1024            /* inserts per group commit */
#define STORE_MAX_READERS 8             /* reader connections at most */
#define SHUTDOWN_GRACE_MS 10000         /* in-flight work gets this long */

/* ---- A byte string that is not NUL-terminated: {base, len}. */
struct str {
  const char *base;
  size_t len;
};

#define STR_LIT(s) (str{(s), sizeof(s) - 1})

/* ---- HTTP statuses: one list makes the enum and the reason phrases. */
#define HOOKD_STATUS_MAP(X)                                    \
  X(100, CONTINUE, "Continue")                                 \
  X(200, OK, "OK")                                             \
  X(400, BAD_REQUEST, "Bad Request")                           \
  X(401, UNAUTHORIZED, "Unauthorized")                         \
  X(404, NOT_FOUND, "Not Found")                               \
  X(405, METHOD_NOT_ALLOWED, "Method Not Allowed")             \
  X(408, REQUEST_TIMEOUT, "Request Timeout")                   \
  X(413, PAYLOAD_TOO_LARGE, "Content Too Large")               \
  X(414, URI_TOO_LONG, "URI Too Long")                         \
  X(417, EXPECTATION_FAILED, "Expectation Failed")             \
  X(422, UNPROCESSABLE, "Unprocessable Content")               \
  X(431, HEADERS_TOO_LARGE, "Request Header Fields Too Large") \
  X(500, INTERNAL_ERROR, "Internal Server Error")              \
  X(503, UNAVAILABLE, "Service Unavailable")                   \
  X(505, VERSION_NOT_SUPPORTED, "HTTP Version Not Supported")

enum http_status {
#define X(code, name, phrase) HTTP_##name = code,
  HOOKD_STATUS_MAP(X)
#undef X
};

/* Reason phrase for a status code ("Unknown" for codes not in the map). */
const char *http_status_phrase(int status);

#endif
