/* response.cc: HTTP/1.1 response heads. Bodies are written by handlers. */
#include "response.h"

#include <stdio.h>
#include <string.h>

const char *http_status_phrase(int status) {
  switch (status) {
#define X(code, name, phrase) \
  case code: return phrase;
    HOOKD_STATUS_MAP(X)
#undef X
  }
  return "Unknown";
}

size_t response_head(char *out, const response *r, size_t body_len, str request_id, int keep_alive,
                     int http10) {
  const size_t cap = HTTP_MAX_RESPONSE_HEAD;
  int n = snprintf(out, cap,
                   "HTTP/1.1 %d %s\r\n"
                   "Content-Type: %s\r\n",
                   r->status, http_status_phrase(r->status),
                   r->content_type ? r->content_type : "application/json");
  size_t len = (size_t)n;
  if (r->stream) /* proxies must pass a stream through as it comes */
    len += (size_t)snprintf(out + len, cap - len, "X-Accel-Buffering: no\r\n");
  else
    len += (size_t)snprintf(out + len, cap - len, "Content-Length: %zu\r\n", body_len);
  len += (size_t)snprintf(
      out + len, cap - len, "X-Request-ID: %.*s\r\n",
      (int)(request_id.len > HTTP_MAX_REQUEST_ID ? HTTP_MAX_REQUEST_ID : request_id.len),
      request_id.base);
  if (r->allow) len += (size_t)snprintf(out + len, cap - len, "Allow: %s\r\n", r->allow);
  if (r->retry_after > 0)
    len += (size_t)snprintf(out + len, cap - len, "Retry-After: %d\r\n", r->retry_after);
  if (r->www_auth)
    len += (size_t)snprintf(out + len, cap - len, "WWW-Authenticate: %s\r\n", r->www_auth);
  if (r->cache) len += (size_t)snprintf(out + len, cap - len, "Cache-Control: %s\r\n", r->cache);
  if (!keep_alive)
    len += (size_t)snprintf(out + len, cap - len, "Connection: close\r\n");
  else if (http10)
    len += (size_t)snprintf(out + len, cap - len, "Connection: keep-alive\r\n");
  len += (size_t)snprintf(out + len, cap - len, "\r\n");
  return len < cap ? len : cap - 1;
}
