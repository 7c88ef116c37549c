/* http.h: the request struct and the llhttp callbacks that fill it.
 *
 * One static llhttp_settings_t serves every connection; callbacks find the
 * request from parser->data. Pieces of a URL or header may arrive in several
 * callbacks and are appended. Limits are enforced inside the callbacks: they
 * set req->error_status (413/414/431/...) and stop the parser. When a whole
 * request has arrived, on_message_complete pauses the parser
 * (HPE_PAUSED) so the connection can answer before parsing the next one. */
#ifndef HOOKD_HTTP_H
#define HOOKD_HTTP_H

#include <llhttp.h>
#include <stdint.h>

#include "buf.h"
#include "defs.h"

/* Headers hookd looks at; every other header is counted and skipped. From
 * HDR_SIGNATURE on, values are captured (see http_hval). */
enum http_hdr {
  HDR_OTHER = 0,
  HDR_REQUEST_ID,
  HDR_EXPECT,
  HDR_SIGNATURE,         /* X-Signature */
  HDR_HUB_SIGNATURE,     /* X-Hub-Signature-256 */
  HDR_WEBHOOK_ID,        /* webhook-id */
  HDR_WEBHOOK_TIMESTAMP, /* webhook-timestamp */
  HDR_WEBHOOK_SIGNATURE, /* webhook-signature */
  HDR_AUTHORIZATION,     /* Authorization */
  HDR_LAST_EVENT_ID,     /* Last-Event-ID (GET /events) */
  HDR_END
};
#define HTTP_NCAPTURED (HDR_END - HDR_SIGNATURE)

enum http_hval_state {
  HV_ABSENT = 0,
  HV_PRESENT,   /* value in hvals[off, off+len), surrounding SP/HTAB removed */
  HV_DUPLICATE, /* the header came twice (its values are not kept) */
  HV_TOO_LONG,  /* longer than its bound in defs.h (not kept) */
};

/* A captured header value: a slice of http_req.hvals. */
struct http_hval {
  uint32_t off, len;
  uint8_t state; /* http_hval_state */
};

struct http_limits {
  uint32_t max_header_bytes; /* request line + headers */
  uint32_t max_body_bytes;
};

struct http_req {
  const http_limits *lim;
  /* parse state */
  uint32_t header_bytes;            /* counted toward max_header_bytes */
  int hdr;                          /* http_hdr of the value being read */
  char hname[HTTP_MAX_HEADER_NAME]; /* lowercased header name piece */
  uint32_t hname_len;
  uint8_t hname_long; /* name overflowed hname: not ours */
  uint8_t begun;      /* first byte of this request seen */
  uint8_t headers_done;
  uint8_t complete;             /* on_message_complete ran */
  uint8_t expect_continue;      /* Expect: 100-continue */
  uint8_t expect_bad;           /* Expect: something else (417) */
  uint8_t rid_bad;              /* X-Request-ID not sane: generate one */
  http_hval hv[HTTP_NCAPTURED]; /* captured headers, by http_hdr - HDR_SIGNATURE */
  int error_status;             /* set by a callback; 0 = none */
  const char *error_detail;     /* static text for the error body */
  /* the request */
  uint8_t method; /* llhttp_method_t */
  char url[HTTP_MAX_URL];
  uint32_t url_len;
  char rid[HTTP_MAX_REQUEST_ID];
  uint32_t rid_len;
  uint8_t has_rid;
  buf body;  /* reused across requests; body.data[len] is writable */
  buf hvals; /* captured header values; allocated on first use, reused */
};

/* Initialises parser with hookd's settings, for req. */
void http_parser_init(llhttp_t *parser, http_req *req, const http_limits *lim);
/* Clears req for the next request on the same connection (keeps body memory). */
void http_req_reset(http_req *req);
void http_req_free(http_req *req);
/* Path part of the URL (before '?'), and the query (after '?', may be empty). */
str http_req_path(const http_req *req);
str http_req_query(const http_req *req);
/* A captured header (hdr >= HDR_SIGNATURE): its state, and its value in *v
 * when present (valid until the next request on this parser). */
int http_req_header(const http_req *req, int hdr, str *v);
const char *http_method_name(uint8_t method);

#endif
