/* rejections.cc: ring of recent rejected webhooks (see rejections.h). */
#include "rejections.h"

#include <stdio.h>
#include <string.h>

#include "clock.h"
#include "conn.h"
#include "metrics.h"

static struct {
  rejection ring[REJECTIONS_MAX];
  uint64_t total; /* also the seq of the newest */
} g_r;

/* "ip:port" or "[ip6]:port" of the client; "" when the socket cannot say.
 * Asked once per connection (a flood of bad requests on one keep-alive
 * connection costs one getpeername) and kept in the conn. */
static const char *peer_name(conn *c) {
  if (c->peer[0]) return c->peer;
  struct sockaddr_storage ss;
  int len = sizeof(ss);
  if (uv_tcp_getpeername(&c->tcp, (struct sockaddr *)&ss, &len) != 0) return "";
  char ip[48];
  if (ss.ss_family == AF_INET6) {
    const sockaddr_in6 *a = (const sockaddr_in6 *)&ss;
    if (uv_ip6_name(a, ip, sizeof(ip)) == 0)
      snprintf(c->peer, sizeof(c->peer), "[%s]:%u", ip, (unsigned)ntohs(a->sin6_port));
  } else if (ss.ss_family == AF_INET) {
    const sockaddr_in *a = (const sockaddr_in *)&ss;
    if (uv_ip4_name(a, ip, sizeof(ip)) == 0)
      snprintf(c->peer, sizeof(c->peer), "%s:%u", ip, (unsigned)ntohs(a->sin_port));
  }
  return c->peer;
}

/* The first failing field and message of a 422 body that hookd wrote
 * itself ({"detail":[{"loc":["body","from"],"msg":"...",...},...]}). */
static void validation_reason(const buf *body, char *out, size_t cap) {
  const char *end = body->data ? body->data + body->len : NULL;
  const char *loc = body->data ? (const char *)memmem(body->data, body->len, "\"loc\":[", 7) : NULL;
  const char *msg = loc ? (const char *)memmem(loc, (size_t)(end - loc), "\"msg\":\"", 7) : NULL;
  if (!loc || !msg) {
    snprintf(out, cap, "validation_error");
    return;
  }
  /* loc: ["body"] or ["body","field"]; take the last string before ']' */
  const char *close = (const char *)memchr(loc, ']', (size_t)(end - loc));
  const char *field = "body";
  int flen = 4;
  if (close) {
    const char *q2 = close - 1; /* closing quote of the last item */
    const char *q1 = q2 - 1;
    while (q1 > loc && *q1 != '"') q1--;
    if (*q2 == '"' && q1 > loc) field = q1 + 1, flen = (int)(q2 - q1 - 1);
  }
  msg += 7;
  const char *mend = (const char *)memchr(msg, '"', (size_t)(end - msg));
  int mlen = mend ? (int)(mend - msg) : 0;
  int more = 0;
  for (const char *p = msg; (p = (const char *)memmem(p, (size_t)(end - p), "\"loc\":[", 7));
       p += 7)
    more++;
  snprintf(out, cap, "validation_error: %.*s: %.*s%s", flen, field, mlen, msg,
           more ? " (and more)" : "");
}

void rejections_record(conn *c, int status) {
  rejection *r = &g_r.ring[g_r.total % REJECTIONS_MAX];
  memset(r, 0, sizeof(*r));
  r->seq = ++g_r.total;
  r->at_ms = clock_wall_ms();
  r->status = status;
  memcpy(r->rid, c->rid, c->rid_len);
  r->rid_len = c->rid_len;
  snprintf(r->peer, sizeof(r->peer), "%s", peer_name(c));
  if (status == HTTP_UNPROCESSABLE && c->log.result)
    validation_reason(&c->out, r->reason, sizeof(r->reason));
  else
    snprintf(r->reason, sizeof(r->reason), "%s%s%s",
             c->log.result ? c->log.result : http_status_phrase(status), c->log.detail ? ": " : "",
             c->log.detail ? c->log.detail : "");
  if (c->log.has_mid) {
    memcpy(r->mid, c->log.mid, c->log.mid_len);
    r->mid_len = c->log.mid_len;
    r->has_mid = 1;
  }
}

uint64_t rejections_total(void) { return g_r.total; }

void rejections_json(buf *b, int limit) {
  uint64_t held = g_r.total < REJECTIONS_MAX ? g_r.total : REJECTIONS_MAX;
  if (limit < 0 || (uint64_t)limit > held) limit = (int)held;
  buf_puts(b, "{\"data\":[");
  for (int i = 0; i < limit; i++) {
    const rejection *r = &g_r.ring[(g_r.total - 1 - (uint64_t)i) % REJECTIONS_MAX];
    char iso[CLOCK_ISO_LEN + 1];
    clock_iso_ms(r->at_ms, iso);
    buf_puts(b, i ? ",{\"seq\":" : "{\"seq\":");
    buf_put_u64(b, r->seq);
    buf_puts(b, ",\"at\":");
    json_put_cstr(b, iso);
    buf_puts(b, ",\"request_id\":");
    json_put_str(b, r->rid, r->rid_len);
    buf_puts(b, ",\"peer\":");
    json_put_cstr(b, r->peer);
    buf_puts(b, ",\"status\":");
    buf_put_u64(b, (uint64_t)r->status);
    buf_puts(b, ",\"reason\":");
    json_put_cstr(b, r->reason);
    buf_puts(b, ",\"message_id\":");
    if (r->has_mid)
      json_put_str(b, r->mid, r->mid_len);
    else
      buf_puts(b, "null");
    buf_putc(b, '}');
  }
  buf_puts(b, "],\"total\":");
  buf_put_u64(b, g_r.total);
  buf_puts(b, ",\"max\":");
  buf_put_u64(b, REJECTIONS_MAX);
  buf_putc(b, '}');
}
