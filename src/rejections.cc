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

/* "validation_error: <field>: <msg>" of a 422's first error. */
static void validation_reason(const msg_errors *errs, char *out, size_t cap) {
  if (!errs || errs->n == 0) {
    snprintf(out, cap, "validation_error");
    return;
  }
  const msg_error *e = &errs->e[0];
  snprintf(out, cap, "validation_error: %s: %s%s", e->field ? e->field : e->where, e->msg,
           errs->n > 1 ? " (and more)" : "");
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
    validation_reason(c->log.invalid, r->reason, sizeof(r->reason));
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
    json_put_opt(b, r->has_mid ? r->mid : NULL, r->mid_len);
    buf_putc(b, '}');
  }
  buf_puts(b, "],\"total\":");
  buf_put_u64(b, g_r.total);
  buf_puts(b, ",\"max\":");
  buf_put_u64(b, REJECTIONS_MAX);
  buf_putc(b, '}');
}
