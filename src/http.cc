/* http.cc: llhttp callbacks. Collect method, URL, the few headers hookd
 * uses and the body; enforce the header and body limits as bytes arrive.
 * Reading a parsed request (path, query, headers) is http_req.cc. */
#include "http.h"

#include "message.h"

#include <stdlib.h>
#include <string.h>

#define REQ(p) ((http_req *)(p)->data)

/* Stops the parser with an HTTP status for the error response. */
static int fail(llhttp_t *p, int status, const char *detail) {
  http_req *r = REQ(p);
  if (!r->error_status) {
    r->error_status = status;
    r->error_detail = detail;
  }
  llhttp_set_error_reason(p, detail);
  return HPE_USER;
}

static int count_header_bytes(llhttp_t *p, size_t n) {
  http_req *r = REQ(p);
  r->header_bytes += (uint32_t)(n > 0xFFFFFF ? 0xFFFFFF : n);
  if (r->header_bytes > r->lim->max_header_bytes)
    return fail(p, HTTP_HEADERS_TOO_LARGE, "request headers too large");
  return 0;
}

static int on_message_begin(llhttp_t *p) {
  REQ(p)->begun = 1;
  return 0;
}

static int on_url(llhttp_t *p, const char *at, size_t n) {
  http_req *r = REQ(p);
  if (count_header_bytes(p, n)) return HPE_USER;
  if (r->url_len + n > HTTP_MAX_URL) return fail(p, HTTP_URI_TOO_LONG, "request target too long");
  memcpy(r->url + r->url_len, at, n);
  r->url_len += (uint32_t)n;
  return 0;
}

/* Appends a lowercased piece to r->hname (a header name, or the Expect
 * value); past HTTP_MAX_HEADER_NAME it only notes that it is too long. */
static void hname_append(http_req *r, const char *at, size_t n) {
  for (size_t i = 0; i < n; i++) {
    if (r->hname_len >= HTTP_MAX_HEADER_NAME) {
      r->hname_long = 1;
      return;
    }
    char c = at[i];
    r->hname[r->hname_len++] = (c >= 'A' && c <= 'Z') ? (char)(c + 32) : c;
  }
}

static int on_header_field(llhttp_t *p, const char *at, size_t n) {
  if (count_header_bytes(p, n + 4)) return HPE_USER; /* ": " and CRLF */
  hname_append(REQ(p), at, n);
  return 0;
}

static int name_is(const http_req *r, const char *name) {
  size_t n = strlen(name);
  return !r->hname_long && r->hname_len == n && memcmp(r->hname, name, n) == 0;
}

/* Captured headers: lowercase name and the bound of the value we keep. */
static const struct {
  const char *name;
  uint32_t max;
} captured[HTTP_NCAPTURED] = {
    {"x-signature", HTTP_MAX_SIGNATURE},
    {"x-hub-signature-256", HTTP_MAX_SIGNATURE},
    {"webhook-id", HTTP_MAX_WEBHOOK_ID},
    {"webhook-timestamp", HTTP_MAX_WEBHOOK_TIMESTAMP},
    {"webhook-signature", HTTP_MAX_WEBHOOK_SIGNATURE},
    {"authorization", HTTP_MAX_AUTHORIZATION},
    {"last-event-id", HTTP_MAX_EVENT_ID},
};

/* Starts capturing header hdr. A repeat is marked and its value skipped:
 * two signatures (or two Authorization headers) are refused, never "last
 * one wins". */
static void capture_begin(http_req *r, int hdr) {
  http_hval *h = &r->hv[hdr - HDR_SIGNATURE];
  if (h->state != HV_ABSENT) {
    h->state = HV_DUPLICATE;
    r->hdr = HDR_OTHER;
    return;
  }
  h->state = HV_PRESENT;
  h->off = (uint32_t)r->hvals.len;
  h->len = 0;
  r->hdr = hdr;
}

static int capture_append(llhttp_t *p, const char *at, size_t n) {
  http_req *r = REQ(p);
  http_hval *h = &r->hv[r->hdr - HDR_SIGNATURE];
  if (h->state != HV_PRESENT) return 0;
  if (h->len + n > captured[r->hdr - HDR_SIGNATURE].max) {
    h->state = HV_TOO_LONG;
    r->hvals.len = h->off; /* drop what was kept */
    return 0;
  }
  buf_append(&r->hvals, at, n);
  if (r->hvals.oom) return fail(p, HTTP_UNAVAILABLE, "out of memory");
  h->len += (uint32_t)n;
  return 0;
}

/* RFC 9110 5.5: surrounding whitespace is not part of a field value. */
static void capture_end(http_req *r) {
  http_hval *h = &r->hv[r->hdr - HDR_SIGNATURE];
  if (h->state != HV_PRESENT) return;
  const char *v = r->hvals.data + h->off;
  while (h->len && (v[0] == ' ' || v[0] == '\t')) {
    v++;
    h->off++;
    h->len--;
  }
  while (h->len && (v[h->len - 1] == ' ' || v[h->len - 1] == '\t')) h->len--;
}

static int on_header_field_complete(llhttp_t *p) {
  http_req *r = REQ(p);
  int known = 0;
  r->hdr = HDR_OTHER;
  if (r->headers_done) { /* a chunked body's trailer: never a request header */
    r->hname_len = 0;
    r->hname_long = 0;
    return 0;
  }
  for (int i = 0; i < HTTP_NCAPTURED && !known; i++) {
    if (name_is(r, captured[i].name)) {
      capture_begin(r, HDR_SIGNATURE + i);
      known = 1;
    }
  }
  if (known) {
    /* r->hdr set by capture_begin */
  } else if (name_is(r, "x-request-id")) {
    r->hdr = HDR_REQUEST_ID;
    r->rid_len = 0;
    r->rid_bad = 0;
    r->has_rid = 1;
  } else if (name_is(r, "expect")) {
    r->hdr = HDR_EXPECT;
    r->hname_len = 0; /* reuse hname to collect the value */
  }
  if (r->hdr != HDR_EXPECT) r->hname_len = 0;
  r->hname_long = 0;
  return 0;
}

static int on_header_value(llhttp_t *p, const char *at, size_t n) {
  http_req *r = REQ(p);
  if (count_header_bytes(p, n)) return HPE_USER;
  switch (r->hdr) {
    case HDR_REQUEST_ID:
      for (size_t i = 0; i < n && !r->rid_bad; i++) {
        char c = at[i];
        int ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                 c == '-' || c == '_' || c == '.' || c == ':';
        if (!ok || r->rid_len >= HTTP_MAX_REQUEST_ID)
          r->rid_bad = 1;
        else
          r->rid[r->rid_len++] = c;
      }
      break;
    case HDR_EXPECT: hname_append(r, at, n); break;
    case HDR_OTHER: break;
    default: return capture_append(p, at, n);
  }
  return 0;
}

static int on_header_value_complete(llhttp_t *p) {
  http_req *r = REQ(p);
  if (r->hdr == HDR_EXPECT) {
    if (name_is(r, "100-continue"))
      r->expect_continue = 1;
    else
      r->expect_bad = 1;
  }
  if (r->hdr == HDR_REQUEST_ID && r->rid_len == 0) r->rid_bad = 1;
  if (r->hdr >= HDR_SIGNATURE) capture_end(r);
  r->hdr = HDR_OTHER;
  r->hname_len = 0;
  r->hname_long = 0;
  return 0;
}

static int on_headers_complete(llhttp_t *p) {
  http_req *r = REQ(p);
  r->method = llhttp_get_method(p);
  r->headers_done = 1;
  if (llhttp_get_http_major(p) == 0 && llhttp_get_http_minor(p) == 9) {
    /* llhttp's reading of a request line without a version */
    fail(p, HTTP_BAD_REQUEST, "malformed request line: no HTTP version");
    return -1;
  }
  if (llhttp_get_http_major(p) != 1) {
    fail(p, HTTP_VERSION_NOT_SUPPORTED, "only HTTP/1.0 and HTTP/1.1 are supported");
    return -1;
  }
  if (r->expect_bad) {
    fail(p, HTTP_EXPECTATION_FAILED, "only 'Expect: 100-continue' is supported");
    return -1;
  }
  /* 413 from Content-Length alone, before reading any of the body. */
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > r->lim->max_body_bytes) {
    fail(p, HTTP_PAYLOAD_TOO_LARGE, "request body too large");
    return -1;
  }
  if ((p->flags & F_CONTENT_LENGTH) && p->content_length > 0) {
    if (buf_reserve(&r->body, (size_t)p->content_length + MSG_PARSE_PAD) != 0) {
      fail(p, HTTP_UNAVAILABLE, "out of memory");
      return -1;
    }
  }
  return 0;
}

static int on_body(llhttp_t *p, const char *at, size_t n) {
  http_req *r = REQ(p);
  if (r->body.len + n > r->lim->max_body_bytes)
    return fail(p, HTTP_PAYLOAD_TOO_LARGE, "request body too large");
  buf_append(&r->body, at, n);
  if (r->body.oom) return fail(p, HTTP_UNAVAILABLE, "out of memory");
  return 0;
}

static int on_chunk_extension(llhttp_t *p, const char *, size_t n) {
  /* Chunk extensions are legal but useless to us: count them so a client
   * cannot stream unbounded extension bytes. */
  http_req *r = REQ(p);
  r->header_bytes += (uint32_t)n;
  if (r->header_bytes > r->lim->max_header_bytes + r->lim->max_body_bytes)
    return fail(p, HTTP_PAYLOAD_TOO_LARGE, "chunk extensions too large");
  return 0;
}

static int on_message_complete(llhttp_t *p) {
  http_req *r = REQ(p);
  r->complete = 1;
  /* Room for the NULs the in-place JSON parser needs after body[len]. */
  if (buf_reserve(&r->body, MSG_PARSE_PAD) != 0) return fail(p, HTTP_UNAVAILABLE, "out of memory");
  return HPE_PAUSED;
}

static llhttp_settings_t make_settings(void) {
  llhttp_settings_t s;
  llhttp_settings_init(&s);
  s.on_message_begin = on_message_begin;
  s.on_url = on_url;
  s.on_header_field = on_header_field;
  s.on_header_field_complete = on_header_field_complete;
  s.on_header_value = on_header_value;
  s.on_header_value_complete = on_header_value_complete;
  s.on_headers_complete = on_headers_complete;
  s.on_body = on_body;
  s.on_chunk_extension_name = on_chunk_extension;
  s.on_chunk_extension_value = on_chunk_extension;
  s.on_message_complete = on_message_complete;
  return s;
}

static const llhttp_settings_t settings = make_settings();

void http_parser_init(llhttp_t *parser, http_req *req, const http_limits *lim) {
  llhttp_init(parser, HTTP_REQUEST, &settings);
  parser->data = req;
  req->lim = lim;
  http_req_reset(req);
}

void http_req_reset(http_req *req) {
  buf body = req->body, hvals = req->hvals;
  const http_limits *lim = req->lim;
  /* Only the small header part needs clearing; url/rid are length-bounded. */
  memset(req, 0, offsetof(http_req, url));
  req->url_len = req->rid_len = 0;
  req->has_rid = 0;
  req->lim = lim;
  req->body = body;
  req->hvals = hvals;
  buf_reset(&req->body);
  buf_reset(&req->hvals);
}
