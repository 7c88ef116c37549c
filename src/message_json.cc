/* message_json.cc: the JSON hookd writes about messages: a 422's error
 * list (FastAPI's shape) and one message's fields, the shape /messages and
 * /events share. */
#include "message.h"

void msg_errors_json(const msg_errors *errs, buf *out) {
  buf_puts(out, "{\"detail\":[");
  for (int i = 0; i < errs->n; i++) {
    const msg_error *e = &errs->e[i];
    if (i) buf_putc(out, ',');
    buf_puts(out, "{\"loc\":[");
    json_put_cstr(out, e->where);
    if (e->field) {
      buf_putc(out, ',');
      json_put_cstr(out, e->field);
    }
    buf_puts(out, "],\"msg\":");
    json_put_cstr(out, e->msg);
    buf_puts(out, ",\"type\":");
    json_put_cstr(out, e->type);
    buf_putc(out, '}');
  }
  buf_puts(out, "]}");
}

void msg_json_open(buf *out, str message_id, str from, str to, str ts, str text) {
  buf_puts(out, "{\"message_id\":");
  json_put_str(out, message_id.base, message_id.len);
  buf_puts(out, ",\"from\":");
  json_put_str(out, from.base, from.len);
  buf_puts(out, ",\"to\":");
  json_put_str(out, to.base, to.len);
  buf_puts(out, ",\"ts\":");
  json_put_str(out, ts.base, ts.len);
  buf_puts(out, ",\"text\":");
  json_put_opt(out, text.base, text.len);
}
