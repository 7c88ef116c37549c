/* response.h: status line and headers, built in one place for every reply. */
#ifndef HOOKD_RESPONSE_H
#define HOOKD_RESPONSE_H

#include <stddef.h>

#include "defs.h"

struct response {
  int status;
  const char *content_type; /* NULL means application/json */
  const char *allow;        /* Allow header (405), or NULL */
  int retry_after;          /* Retry-After seconds (503), 0 for none */
  const char *cache;        /* Cache-Control value, or NULL */
  int stream;               /* streaming body (stream.cc): no Content-Length,
                             * the body runs until the connection closes */
  const char *www_auth;     /* WWW-Authenticate value (401), or NULL */
};

/* Writes the status line and headers (ending with the blank line) into out.
 * keep_alive selects the Connection header; http10 says the client spoke
 * HTTP/1.0 (which needs an explicit keep-alive). Returns the length, which
 * always fits HTTP_MAX_RESPONSE_HEAD (the values are bounded). */
size_t response_head(char *out, const response *r, size_t body_len, str request_id, int keep_alive,
                     int http10);

#endif
