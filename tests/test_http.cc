/* test_http.cc: llhttp callbacks, limits and fragmentation. */
#include <string.h>

#include <string>

#include "http.h"
#include "test.h"

struct parser {
  llhttp_t p;
  http_req req;
  http_limits lim;
};

static void setup(parser *ps, uint32_t max_header = 8192, uint32_t max_body = 65536) {
  memset(ps, 0, sizeof(*ps));
  ps->lim.max_header_bytes = max_header;
  ps->lim.max_body_bytes = max_body;
  http_parser_init(&ps->p, &ps->req, &ps->lim);
}

/* Feeds data in pieces of `step` bytes; returns the final errno and the
 * number of bytes consumed when paused. */
static llhttp_errno_t feed(parser *ps, const char *data, size_t n, size_t step, size_t *used) {
  size_t off = 0;
  while (off < n) {
    size_t k = n - off < step ? n - off : step;
    llhttp_errno_t e = llhttp_execute(&ps->p, data + off, k);
    if (e != HPE_OK) {
      if (used) *used = (size_t)(llhttp_get_error_pos(&ps->p) - data);
      return e;
    }
    off += k;
  }
  if (used) *used = n;
  return HPE_OK;
}

static const char webhook_req[] =
    "POST /webhook?x=1 HTTP/1.1\r\n"
    "Host: a\r\n"
    "x-SIGNATURE: abcdef\r\n"
    "X-Request-ID: req-42\r\n"
    "Content-Length: 5\r\n"
    "\r\n"
    "hello";

TEST(collects_request_fields) {
  parser ps;
  setup(&ps);
  size_t used;
  CHECK_EQ_INT(feed(&ps, webhook_req, sizeof(webhook_req) - 1, 1 << 20, &used), HPE_PAUSED);
  CHECK_EQ_INT(used, sizeof(webhook_req) - 1);
  CHECK(ps.req.complete);
  CHECK_EQ_INT(ps.req.method, HTTP_POST);
  str path = http_req_path(&ps.req), q = http_req_query(&ps.req);
  CHECK_STR(path.base, path.len, "/webhook");
  CHECK_STR(q.base, q.len, "x=1");
  {
    str v;
    CHECK_EQ_INT(http_req_header(&ps.req, HDR_SIGNATURE, &v), HV_PRESENT);
    CHECK_STR(v.base, v.len, "abcdef");
  }
  CHECK_STR(ps.req.rid, ps.req.rid_len, "req-42");
  CHECK(!ps.req.rid_bad);
  CHECK_STR(ps.req.body.data, ps.req.body.len, "hello");
  http_req_free(&ps.req);
}

TEST(one_byte_fragments_give_the_same_request) {
  parser ps;
  setup(&ps);
  CHECK_EQ_INT(feed(&ps, webhook_req, sizeof(webhook_req) - 1, 1, NULL), HPE_PAUSED);
  {
    str v;
    CHECK_EQ_INT(http_req_header(&ps.req, HDR_SIGNATURE, &v), HV_PRESENT);
    CHECK_STR(v.base, v.len, "abcdef");
  }
  CHECK_STR(ps.req.rid, ps.req.rid_len, "req-42");
  CHECK_STR(ps.req.body.data, ps.req.body.len, "hello");
  str path = http_req_path(&ps.req);
  CHECK_STR(path.base, path.len, "/webhook");
  http_req_free(&ps.req);
}

TEST(pipelined_requests_pause_between) {
  const char two[] = "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n";
  parser ps;
  setup(&ps);
  size_t used;
  CHECK_EQ_INT(feed(&ps, two, sizeof(two) - 1, 1 << 20, &used), HPE_PAUSED);
  CHECK_EQ_INT(used, 19);
  str path = http_req_path(&ps.req);
  CHECK_STR(path.base, path.len, "/a");
  http_req_reset(&ps.req);
  llhttp_resume(&ps.p);
  size_t used2;
  CHECK_EQ_INT(feed(&ps, two + used, sizeof(two) - 1 - used, 1 << 20, &used2), HPE_PAUSED);
  path = http_req_path(&ps.req);
  CHECK_STR(path.base, path.len, "/b");
  http_req_free(&ps.req);
}

TEST(chunked_body_is_decoded) {
  const char req[] =
      "POST /webhook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n4;ext=1\r\ndefg\r\n0\r\n\r\n";
  parser ps;
  setup(&ps);
  CHECK_EQ_INT(feed(&ps, req, sizeof(req) - 1, 3, NULL), HPE_PAUSED);
  CHECK_STR(ps.req.body.data, ps.req.body.len, "abcdefg");
  http_req_free(&ps.req);
}

TEST(content_length_over_limit_is_413_before_body) {
  const char req[] = "POST /webhook HTTP/1.1\r\nContent-Length: 2000\r\n\r\n";
  parser ps;
  setup(&ps, 8192, 1024);
  CHECK(feed(&ps, req, sizeof(req) - 1, 1 << 20, NULL) != HPE_OK);
  CHECK_EQ_INT(ps.req.error_status, 413);
  http_req_free(&ps.req);
}

TEST(chunked_body_over_limit_is_413) {
  parser ps;
  setup(&ps, 8192, 1024);
  const char head[] = "POST /webhook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n";
  CHECK_EQ_INT(feed(&ps, head, sizeof(head) - 1, 1 << 20, NULL), HPE_OK);
  char chunk[600 + 16];
  memcpy(chunk, "258\r\n", 5); /* 0x258 = 600 */
  memset(chunk + 5, 'x', 600);
  memcpy(chunk + 605, "\r\n", 2);
  CHECK_EQ_INT(feed(&ps, chunk, 607, 1 << 20, NULL), HPE_OK);
  CHECK(feed(&ps, chunk, 607, 1 << 20, NULL) != HPE_OK);
  CHECK_EQ_INT(ps.req.error_status, 413);
  http_req_free(&ps.req);
}

TEST(headers_over_limit_is_431) {
  parser ps;
  setup(&ps, 1024);
  char req[4096];
  size_t n = (size_t)snprintf(req, sizeof(req), "GET / HTTP/1.1\r\nX-Big: ");
  memset(req + n, 'a', 2000);
  n += 2000;
  memcpy(req + n, "\r\n\r\n", 4);
  n += 4;
  CHECK(feed(&ps, req, n, 100, NULL) != HPE_OK);
  CHECK_EQ_INT(ps.req.error_status, 431);
  http_req_free(&ps.req);
}

TEST(long_url_is_414) {
  parser ps;
  setup(&ps, 1 << 20);
  static char req[HTTP_MAX_URL + 64];
  size_t n = 0;
  memcpy(req, "GET /", 5);
  n = 5;
  memset(req + n, 'a', HTTP_MAX_URL);
  n += HTTP_MAX_URL;
  memcpy(req + n, " HTTP/1.1\r\n\r\n", 13);
  n += 13;
  CHECK(feed(&ps, req, n, 1 << 20, NULL) != HPE_OK);
  CHECK_EQ_INT(ps.req.error_status, 414);
  http_req_free(&ps.req);
}

TEST(garbage_is_an_error_without_status) {
  parser ps;
  setup(&ps);
  const char junk[] = "\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03";
  CHECK(feed(&ps, junk, sizeof(junk) - 1, 1 << 20, NULL) != HPE_OK);
  CHECK_EQ_INT(ps.req.error_status, 0); /* the conn answers 400 */
  http_req_free(&ps.req);
}

TEST(expect_header) {
  parser ps;
  setup(&ps);
  const char req[] = "POST /webhook HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n";
  CHECK_EQ_INT(feed(&ps, req, sizeof(req) - 1, 1 << 20, NULL), HPE_OK);
  CHECK(ps.req.expect_continue && ps.req.headers_done && !ps.req.complete);
  http_req_free(&ps.req);
  setup(&ps);
  const char bad[] = "POST /webhook HTTP/1.1\r\nExpect: teapot\r\nContent-Length: 3\r\n\r\n";
  CHECK(feed(&ps, bad, sizeof(bad) - 1, 1 << 20, NULL) != HPE_OK);
  CHECK_EQ_INT(ps.req.error_status, 417);
  http_req_free(&ps.req);
}

TEST(insane_request_id_is_flagged) {
  parser ps;
  setup(&ps);
  const char req[] = "GET / HTTP/1.1\r\nX-Request-ID: a b\"c\r\n\r\n";
  CHECK_EQ_INT(feed(&ps, req, sizeof(req) - 1, 1 << 20, NULL), HPE_PAUSED);
  CHECK(ps.req.rid_bad);
  http_req_free(&ps.req);
}

TEST(http2_preface_is_rejected) {
  parser ps;
  setup(&ps);
  const char req[] = "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n";
  llhttp_errno_t e = feed(&ps, req, sizeof(req) - 1, 1 << 20, NULL);
  CHECK(e != HPE_PAUSED && e != HPE_OK); /* llhttp refuses it: 400 and close */
  http_req_free(&ps.req);
  /* A well-formed request line of another version is 505. */
  setup(&ps);
  const char req2[] = "GET /health/live HTTP/2.0\r\n\r\n";
  CHECK(feed(&ps, req2, sizeof(req2) - 1, 1 << 20, NULL) != HPE_PAUSED);
  CHECK_EQ_INT(ps.req.error_status, HTTP_VERSION_NOT_SUPPORTED);
  http_req_free(&ps.req);
}

/* A request line without a version is malformed (400), not a version we
 * do not support (505): llhttp reads it as HTTP/0.9. */
TEST(request_line_without_version_is_400) {
  parser ps;
  setup(&ps);
  const char req[] = "GET /health/live\r\n\r\n";
  llhttp_errno_t e = feed(&ps, req, sizeof(req) - 1, 1 << 20, NULL);
  CHECK(e != HPE_PAUSED && e != HPE_OK);
  /* 0: conn.cc answers a parser error without a status of ours with 400. */
  CHECK(ps.req.error_status == 0 || ps.req.error_status == HTTP_BAD_REQUEST);
  http_req_free(&ps.req);
}

/* ---- Captured authentication headers (issue 13) ------------------------ */

static const char auth_req[] =
    "POST /webhook HTTP/1.1\r\n"
    "X-Signature: \t abcdef \t\r\n"
    "X-Hub-Signature-256: sha256=00\r\n"
    "Webhook-Id: msg_1\r\n"
    "WEBHOOK-TIMESTAMP: 1614265330\r\n"
    "webhook-signature: v1,a v1,b\r\n"
    "Authorization: Bearer tok\r\n"
    "Content-Length: 0\r\n"
    "\r\n";

TEST(auth_headers_captured_trimmed_in_any_fragmentation) {
  const size_t steps[] = {1, 2, 7, 1 << 20};
  for (size_t step : steps) {
    parser ps;
    setup(&ps);
    CHECK_EQ_INT(feed(&ps, auth_req, sizeof(auth_req) - 1, step, NULL), HPE_PAUSED);
    const struct {
      int hdr;
      const char *want;
    } cases[] = {{HDR_SIGNATURE, "abcdef"},
                 {HDR_HUB_SIGNATURE, "sha256=00"},
                 {HDR_WEBHOOK_ID, "msg_1"},
                 {HDR_WEBHOOK_TIMESTAMP, "1614265330"},
                 {HDR_WEBHOOK_SIGNATURE, "v1,a v1,b"},
                 {HDR_AUTHORIZATION, "Bearer tok"}};
    for (const auto &k : cases) {
      str v;
      CHECK_EQ_INT(http_req_header(&ps.req, k.hdr, &v), HV_PRESENT);
      CHECK_STR(v.base, v.len, k.want);
    }
    /* The next request on the same parser starts clean. */
    http_req_reset(&ps.req);
    llhttp_resume(&ps.p);
    const char next[] = "GET /stats HTTP/1.1\r\n\r\n";
    CHECK_EQ_INT(feed(&ps, next, sizeof(next) - 1, step, NULL), HPE_PAUSED);
    str v;
    CHECK_EQ_INT(http_req_header(&ps.req, HDR_SIGNATURE, &v), HV_ABSENT);
    CHECK_EQ_INT(http_req_header(&ps.req, HDR_AUTHORIZATION, &v), HV_ABSENT);
    http_req_free(&ps.req);
  }
}

TEST(repeated_auth_header_is_marked_not_last_wins) {
  const char req[] =
      "POST /webhook HTTP/1.1\r\n"
      "X-Signature: aaaa\r\n"
      "x-signature: bbbb\r\n"
      "Authorization: Bearer a\r\n"
      "Authorization: Bearer b\r\n"
      "Content-Length: 0\r\n\r\n";
  parser ps;
  setup(&ps);
  CHECK_EQ_INT(feed(&ps, req, sizeof(req) - 1, 3, NULL), HPE_PAUSED);
  str v;
  CHECK_EQ_INT(http_req_header(&ps.req, HDR_SIGNATURE, &v), HV_DUPLICATE);
  CHECK_EQ_INT(v.len, 0);
  CHECK_EQ_INT(http_req_header(&ps.req, HDR_AUTHORIZATION, &v), HV_DUPLICATE);
  http_req_free(&ps.req);
}

TEST(trailer_fields_are_not_request_headers) {
  /* A signature, request id or Last-Event-ID sent in a chunked body's
   * trailer must not count: the header's value stays the only one. */
  const char req[] =
      "POST /webhook HTTP/1.1\r\n"
      "X-Signature: aaaa\r\n"
      "X-Request-ID: head\r\n"
      "Last-Event-ID: \t e-1 \r\n"
      "Transfer-Encoding: chunked\r\n\r\n"
      "3\r\nabc\r\n0\r\n"
      "X-Signature: bbbb\r\n"
      "X-Request-ID: trailer\r\n"
      "Last-Event-ID: e-2\r\n\r\n";
  parser ps;
  setup(&ps);
  CHECK_EQ_INT(feed(&ps, req, sizeof(req) - 1, 5, NULL), HPE_PAUSED);
  CHECK(ps.req.complete);
  str v;
  CHECK_EQ_INT(http_req_header(&ps.req, HDR_SIGNATURE, &v), HV_PRESENT);
  CHECK_STR(v.base, v.len, "aaaa");
  CHECK_STR(ps.req.rid, ps.req.rid_len, "head");
  CHECK_EQ_INT(http_req_header(&ps.req, HDR_LAST_EVENT_ID, &v), HV_PRESENT);
  CHECK_STR(v.base, v.len, "e-1"); /* trimmed */
  CHECK_STR(ps.req.body.data, ps.req.body.len, "abc");
  http_req_free(&ps.req);
}

TEST(overlong_auth_header_is_marked_and_not_kept) {
  std::string big(HTTP_MAX_WEBHOOK_SIGNATURE + 1, 'v');
  std::string req = "POST /webhook HTTP/1.1\r\nwebhook-signature: " + big +
                    "\r\nwebhook-id: after\r\nContent-Length: 0\r\n\r\n";
  parser ps;
  setup(&ps, 1 << 20);
  CHECK_EQ_INT(feed(&ps, req.data(), req.size(), 1000, NULL), HPE_PAUSED);
  str v;
  CHECK_EQ_INT(http_req_header(&ps.req, HDR_WEBHOOK_SIGNATURE, &v), HV_TOO_LONG);
  CHECK_EQ_INT(http_req_header(&ps.req, HDR_WEBHOOK_ID, &v), HV_PRESENT);
  CHECK_STR(v.base, v.len, "after");
  CHECK(ps.req.hvals.len <= 16); /* the long value was dropped */
  http_req_free(&ps.req);
  /* At the default header limit the same request is a 431. */
  setup(&ps);
  std::string huge =
      "POST /webhook HTTP/1.1\r\nwebhook-signature: " + std::string(100 * 1024, 'v') + "\r\n\r\n";
  feed(&ps, huge.data(), huge.size(), 4096, NULL);
  CHECK_EQ_INT(ps.req.error_status, HTTP_HEADERS_TOO_LARGE);
  http_req_free(&ps.req);
}
