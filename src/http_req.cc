/* http_req.cc: reading a request http.cc parsed: its path and query, a
 * captured header's value and state, the method's name; and freeing it. */
#include <string.h>

#include "http.h"

void http_req_free(http_req *req) {
  buf_free(&req->body);
  buf_free(&req->hvals);
}

int http_req_header(const http_req *req, int hdr, str *v) {
  const http_hval *h = &req->hv[hdr - HDR_SIGNATURE];
  *v = h->state == HV_PRESENT ? str{req->hvals.data + h->off, h->len} : str{"", 0};
  return h->state;
}

str http_req_path(const http_req *req) {
  const char *q = (const char *)memchr(req->url, '?', req->url_len);
  return str{req->url, q ? (size_t)(q - req->url) : req->url_len};
}

str http_req_query(const http_req *req) {
  const char *q = (const char *)memchr(req->url, '?', req->url_len);
  if (!q) return str{req->url + req->url_len, 0};
  return str{q + 1, req->url_len - (size_t)(q + 1 - req->url)};
}

const char *http_method_name(uint8_t method) { return llhttp_method_name((llhttp_method_t)method); }
