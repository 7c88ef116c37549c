/* handlers/messages.cc: GET /messages.
 *
 * Loop: parse and validate the query string into the connection's read
 * job. Worker: the store fills a typed page (rows + total) and
 * render_page, below, writes the JSON body, so the loop only sends bytes.
 * The query plans live with the engine (src/store/). */
#include <stdio.h>
#include <string.h>

#include "conn.h"
#include "handlers.h"
#include "message.h"
#include "query.h"

#define MAX_LIMIT STORE_MAX_LIMIT
#define DEFAULT_LIMIT 50
#define MAX_Q_CHARS 256

/* Parses a decimal integer (optional '-'); -1 if not an integer. */
static int parse_int(const char *s, size_t n, int64_t *out) {
  size_t i = 0;
  int neg = 0;
  if (n && s[0] == '-') neg = 1, i = 1;
  if (i == n || n - i > 18) return -1;
  int64_t v = 0;
  for (; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  *out = neg ? -v : v;
  return 0;
}

/* Fills q from the query string; errors go to errs. */
void messages_parse_query(str qs, store_query *q, msg_errors *errs) {
  /* The whole struct (1.1 KiB, tens of nanoseconds): a field added later
   * can never keep the previous request's value. */
  memset(q, 0, sizeof(*q));
  q->limit = DEFAULT_LIMIT;
  str key, val;
  char k[16], v[STORE_MAX_NEEDLE];
  while (query_next(&qs, &key, &val)) {
    long kl = query_decode(key, 1, k, sizeof(k));
    if (kl < 0) continue; /* not a parameter we know */
    str name = {k, (size_t)kl};
#define IS(lit) (name.len == sizeof(lit) - 1 && memcmp(name.base, lit, name.len) == 0)
    const char *field = IS("limit")    ? "limit"
                        : IS("offset") ? "offset"
                        : IS("from")   ? "from"
                        : IS("since")  ? "since"
                        : IS("q")      ? "q"
                        : IS("order")  ? "order"
                                       : NULL;
#undef IS
    if (!field) continue;
    /* '+' is a space in form encoding, but E.164 numbers have no spaces:
     * in `from` a raw '+' stays '+', so from=+1555 works unencoded. */
    long vl = query_decode(val, field[0] != 'f', v, sizeof(v));
    if (vl < 0) {
      msg_errors_add(errs, "query", field, "invalid percent-encoding, UTF-8, or too long",
                     "value_error");
      continue;
    }
    if (field[0] == 'o' && field[1] == 'r') {
      if (vl == 3 && memcmp(v, "asc", 3) == 0)
        q->desc = 0;
      else if (vl == 4 && memcmp(v, "desc", 4) == 0)
        q->desc = 1;
      else
        msg_errors_add(errs, "query", field, "must be 'asc' or 'desc'", "value_error");
    } else if (field[0] == 'l' || field[0] == 'o') {
      int64_t n;
      int is_limit = field[0] == 'l';
      if (parse_int(v, (size_t)vl, &n) != 0) {
        msg_errors_add(errs, "query", field, "must be an integer", "int_parsing");
      } else if (n < (is_limit ? 1 : 0)) {
        msg_errors_add(
            errs, "query", field,
            is_limit ? "must be greater than or equal to 1" : "must be greater than or equal to 0",
            "greater_than_equal");
      } else if (is_limit && n > MAX_LIMIT) {
        msg_errors_add(errs, "query", field, "must be less than or equal to 100",
                       "less_than_equal");
      } else if (is_limit) {
        q->limit = n;
      } else {
        q->offset = n;
      }
    } else if (field[0] == 'f') {
      if (!msisdn_valid(v, (size_t)vl)) {
        msg_errors_add(errs, "query", field, "must be '+' followed by 1 to 15 digits (E.164)",
                       "value_error");
      } else {
        memcpy(q->from, v, (size_t)vl);
        q->from_len = (size_t)vl;
        q->has_from = 1;
      }
    } else if (field[0] == 's') {
      const char *why;
      if (ts_parse(v, (size_t)vl, q->since_key, &q->since_len, &why) != 0) {
        msg_errors_add(errs, "query", field, why, "value_error");
      } else {
        q->has_since = 1;
      }
    } else { /* q */
      long chars = utf8_count(v, (size_t)vl);
      q->q_len = 0;
      if (chars > MAX_Q_CHARS) {
        msg_errors_add(errs, "query", field, "must be at most 256 characters", "string_too_long");
      } else if (chars > 0) { /* an empty q filters nothing */
        memcpy(q->q, v, (size_t)vl);
        q->q_len = (size_t)vl;
      }
    }
  }
}

/* Worker thread: {"data":[...],"total":N,"limit":L,"offset":O}. */
static void render_page(store_read *r) {
  buf *b = &r->out;
  buf_reset(b);
  buf_puts(b, "{\"data\":[");
  for (int i = 0; i < r->nrows; i++) {
    const store_row *m = &r->rows[i];
    if (i) buf_putc(b, ',');
    msg_json_open(b, m->message_id, m->from, m->to, m->ts, m->text);
    buf_putc(b, '}');
  }
  buf_puts(b, "],\"total\":");
  buf_put_i64(b, r->total);
  buf_puts(b, ",\"limit\":");
  buf_put_i64(b, r->query.limit);
  buf_puts(b, ",\"offset\":");
  buf_put_i64(b, r->query.offset);
  buf_putc(b, '}');
}

void handle_messages(conn *c) {
  store_read *r = handle_job(c);
  if (!r) {
    handle_refused(c, STORE_E_NOMEM);
    return;
  }
  msg_errors errs;
  errs.n = 0;
  messages_parse_query(http_req_query(&c->req), &r->query, &errs);
  if (errs.n) {
    buf_reset(&c->out);
    msg_errors_json(&errs, &c->out);
    conn_respond(c, HTTP_UNPROCESSABLE);
    return;
  }
  r->kind = STORE_READ_MESSAGES;
  handle_read(c, r, render_page);
}
