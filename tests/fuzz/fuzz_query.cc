/* fuzz_query.cc: libFuzzer target for the query string: splitting and
 * strict percent-decoding (src/query.cc) and GET /messages' parameter
 * parsing and validation (handlers/messages.cc), with the 422 body. The
 * whole input is the query string (what follows '?'). */
#include <stdint.h>
#include <string.h>

#include "buf.h"
#include "handlers.h"
#include "message.h"
#include "query.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  str qs = {(const char *)data, size};
  str key, val;
  char out[1100];
  for (str it = qs; query_next(&it, &key, &val);) {
    query_decode(key, 1, out, sizeof(out));
    query_decode(val, 0, out, sizeof(out));
  }
  static store_query q;
  msg_errors errs;
  errs.n = 0;
  messages_parse_query(qs, &q, &errs);
  if (q.limit < 1 || q.limit > STORE_MAX_LIMIT || q.offset < 0 || q.q_len > sizeof(q.q) ||
      q.from_len >= sizeof(q.from) || q.since_len > MSG_TS_KEY_MAX)
    __builtin_trap();
  buf b = {};
  if (errs.n) msg_errors_json(&errs, &b);
  buf_free(&b);
  return 0;
}
