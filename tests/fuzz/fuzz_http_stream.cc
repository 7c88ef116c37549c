/* fuzz_http_stream.cc: libFuzzer target for the HTTP byte stream through
 * llhttp and hookd's callbacks and limits (src/http.cc), split at points the
 * input chooses, with pipelined requests handled as conn.cc handles them: a
 * complete request pauses the parser, the request is reset, parsing resumes
 * from the paused position.
 *
 * Input: byte 0 = chunk size (1..256), byte 1 = limits choice; the rest is
 * the stream. Everything here is real hookd code; this file routes bytes. */
#include <stdint.h>
#include <string.h>

#include "http.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  if (size < 2) return 0;
  size_t step = (size_t)data[0] + 1;
  http_limits lim;
  lim.max_header_bytes = (data[1] & 1) ? 1024 : 8192;
  lim.max_body_bytes = (data[1] & 2) ? 1024 : 65536;
  const char *p = (const char *)data + 2, *end = (const char *)data + size;
  llhttp_t parser;
  http_req req;
  memset(&req, 0, sizeof(req));
  http_parser_init(&parser, &req, &lim);
  int requests = 0;
  while (p < end && requests < 64) {
    size_t n = (size_t)(end - p) < step ? (size_t)(end - p) : step;
    llhttp_errno_t e = llhttp_execute(&parser, p, n);
    if (e == HPE_OK) {
      p += n;
      continue;
    }
    if (e != HPE_PAUSED) break; /* the connection would answer and close */
    /* A complete request: what the router and handlers read of it. */
    str path = http_req_path(&req), q = http_req_query(&req);
    if (path.len > HTTP_MAX_URL || q.len > HTTP_MAX_URL) __builtin_trap();
    for (int h = HDR_SIGNATURE; h < HDR_END; h++) {
      str v;
      http_req_header(&req, h, &v);
    }
    requests++;
    p = llhttp_get_error_pos(&parser);
    http_req_reset(&req);
    llhttp_resume(&parser);
  }
  http_req_free(&req);
  return 0;
}
