/* fuzz_message.cc: libFuzzer target for the webhook body: message_parse
 * (RapidJSON in situ + hookd's validation, src/message.cc) and the 422 body
 * it builds. The whole input is the body. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"
#include "message.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
  /* Exactly what message_parse's contract promises, no more, so an
   * over-read past the padding is caught. */
  char *body = (char *)malloc(size + MSG_PARSE_PAD);
  if (!body) return 0;
  memcpy(body, data, size);
  message m;
  msg_errors errs;
  errs.n = 0;
  buf out = {};
  if (message_parse(body, size, &m, &errs) == 0) {
    /* Every accepted field lies inside the body and is valid UTF-8. */
    const str f[] = {m.message_id, m.from, m.to, m.ts, m.text};
    for (const str &s : f) {
      if (!s.base) continue;
      if (s.base < body || s.base + s.len > body + size || utf8_count(s.base, s.len) < 0)
        __builtin_trap();
    }
  } else {
    msg_errors_json(&errs, &out);
  }
  buf_free(&out);
  free(body);
  return 0;
}
