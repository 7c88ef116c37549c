/* message.h: the webhook payload, parsed and validated into a struct.
 *
 * Parsing is in place: the body buffer is rewritten (JSON escapes decoded)
 * and the struct's strings point into it, so no allocation happens. The
 * signature must have been checked on the raw bytes *before* parsing. */
#ifndef HOOKD_MESSAGE_H
#define HOOKD_MESSAGE_H

#include <stddef.h>

#include "buf.h"
#include "defs.h"

#define MSG_MAX_TS_FRACTION 24 /* digits after the decimal point in ts */
#define MSG_TS_KEY_MAX (19 + 1 + MSG_MAX_TS_FRACTION)
#define MSG_MAX_ERRORS 8
#define MSG_MAX_DEPTH 64 /* JSON nesting accepted in ignored fields */

struct message {
  str message_id;
  str from;
  str to;
  str ts;                          /* exactly as received */
  str text;                        /* base NULL when absent or null */
  char ts_key[MSG_TS_KEY_MAX + 1]; /* chronological sort key, see ts_parse */
  size_t ts_key_len;
};

struct msg_error {
  const char *where; /* "body" or "query" */
  const char *field; /* NULL for the whole body */
  const char *msg;   /* static text */
  const char *type;  /* "missing", "type_error", "value_error", ... */
};

struct msg_errors {
  int n;
  msg_error e[MSG_MAX_ERRORS];
  char parse_msg[128]; /* storage for a JSON syntax error message */
};

/* RapidJSON's in-place UTF-8 validation reads up to 3 bytes past a
 * truncated multi-byte sequence, the terminator included (found by
 * tests/fuzz/fuzz_message.cc: `{"i_` + F0 C5 read 2 bytes past the end):
 * the body needs this many writable bytes after it, all set to NUL. */
#define MSG_PARSE_PAD 4

/* Parses body[0..len) in place; body[len .. len + MSG_PARSE_PAD) must be
 * writable (they become NUL).
 * Returns 0 and fills m, or -1 with the reasons in errs. */
int message_parse(char *body, size_t len, message *m, msg_errors *errs);

/* Validates an ISO-8601 UTC timestamp `YYYY-MM-DDTHH:MM:SS[.fraction]Z`
 * (a real calendar date and time) and writes its sort key: the same text
 * without `Z`, trailing zeros of the fraction (and a bare `.`) removed, so
 * byte order of keys is chronological order. key must hold MSG_TS_KEY_MAX+1.
 * Returns 0, or -1 with a static reason in *why. */
int ts_parse(const char *s, size_t n, char *key, size_t *keylen, const char **why);

/* 1 if s is `+` followed by 1..15 ASCII digits. */
int msisdn_valid(const char *s, size_t n);

/* Appends a FastAPI-style 422 body: {"detail":[{"loc":[...],"msg":...,"type":...}]} */
void msg_errors_json(const msg_errors *errs, buf *out);
/* Appends `{"message_id":...,"from":...,"to":...,"ts":...,"text":...` (text
 * null when text.base is NULL), the object left open for the caller's own
 * fields and its '}': the one shape of a message in /messages and /events. */
void msg_json_open(buf *out, str message_id, str from, str to, str ts, str text);
/* Adds one error (silently ignores past MSG_MAX_ERRORS). */
void msg_errors_add(msg_errors *errs, const char *where, const char *field, const char *msg,
                    const char *type);

#endif
