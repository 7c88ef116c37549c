/* message.cc: webhook JSON -> struct message, with FastAPI-style errors
 * (written out as JSON, like a stored message, by message_json.cc).
 *
 * RapidJSON's SAX reader (iterative, in situ, UTF-8 validating) feeds a
 * handler that keeps only the five top-level fields we know; everything
 * else is skipped. Loop thread only (the reader is static and reused). */
#include "message.h"

#include <stdio.h>
#include <string.h>

#include <rapidjson/error/en.h>
#include <rapidjson/reader.h>

enum field { F_NONE = -1, F_MESSAGE_ID, F_FROM, F_TO, F_TS, F_TEXT, F_COUNT };
static const char *const field_names[F_COUNT] = {"message_id", "from", "to", "ts", "text"};

enum kind { K_ABSENT = 0, K_STRING, K_NULL, K_OTHER };

struct sax {
  int depth;       /* 0 outside, 1 inside the top-level object */
  int root_object; /* top-level value was an object */
  int cur;         /* field of the pending value at depth 1 */
  int too_deep;
  int bad_utf8; /* a string or key decoded to invalid UTF-8 (lone surrogate) */
  int kind[F_COUNT];
  str val[F_COUNT];

  void scalar(int k, const char *s, size_t n) {
    if (depth == 1 && cur != F_NONE) {
      kind[cur] = k;
      val[cur] = str{s, n};
    }
    cur = F_NONE;
  }
  bool open() {
    if (depth == 0) root_object = 0;
    if (depth == 1 && cur != F_NONE) kind[cur] = K_OTHER;
    cur = F_NONE;
    if (++depth > MSG_MAX_DEPTH) {
      too_deep = 1;
      return false;
    }
    return true;
  }
  bool Null() {
    scalar(K_NULL, NULL, 0);
    return true;
  }
  bool Bool(bool) {
    scalar(K_OTHER, NULL, 0);
    return true;
  }
  bool Int(int) {
    scalar(K_OTHER, NULL, 0);
    return true;
  }
  bool Uint(unsigned) {
    scalar(K_OTHER, NULL, 0);
    return true;
  }
  bool Int64(int64_t) {
    scalar(K_OTHER, NULL, 0);
    return true;
  }
  bool Uint64(uint64_t) {
    scalar(K_OTHER, NULL, 0);
    return true;
  }
  bool Double(double) {
    scalar(K_OTHER, NULL, 0);
    return true;
  }
  bool RawNumber(const char *, rapidjson::SizeType, bool) {
    scalar(K_OTHER, NULL, 0);
    return true;
  }
  /* RapidJSON lets a lone \\uDC00 escape through as invalid UTF-8: check
   * every decoded string, known field or not. */
  bool String(const char *s, rapidjson::SizeType n, bool) {
    if (utf8_count(s, n) < 0) {
      bad_utf8 = 1;
      return false;
    }
    scalar(K_STRING, s, n);
    return true;
  }
  bool StartObject() {
    bool top = depth == 0;
    bool ok = open();
    if (top) root_object = 1;
    return ok;
  }
  bool Key(const char *s, rapidjson::SizeType n, bool) {
    cur = F_NONE;
    if (utf8_count(s, n) < 0) {
      bad_utf8 = 1;
      return false;
    }
    if (depth != 1) return true;
    for (int f = 0; f < F_COUNT; f++)
      if (strlen(field_names[f]) == n && memcmp(field_names[f], s, n) == 0) cur = f;
    return true;
  }
  bool EndObject(rapidjson::SizeType) {
    depth--;
    return true;
  }
  bool StartArray() { return open(); }
  bool EndArray(rapidjson::SizeType) {
    depth--;
    return true;
  }
};

void msg_errors_add(msg_errors *errs, const char *where, const char *field, const char *msg,
                    const char *type) {
  if (errs->n >= MSG_MAX_ERRORS) return;
  errs->e[errs->n++] = msg_error{where, field, msg, type};
}

int msisdn_valid(const char *s, size_t n) {
  if (n < 2 || n > 1 + MSG_MAX_MSISDN_DIGITS || s[0] != '+') return 0;
  for (size_t i = 1; i < n; i++)
    if (s[i] < '0' || s[i] > '9') return 0;
  return 1;
}

static int digits(const char *s, int n) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if (s[i] < '0' || s[i] > '9') return -1;
    v = v * 10 + (s[i] - '0');
  }
  return v;
}

int ts_parse(const char *s, size_t n, char *key, size_t *keylen, const char **why) {
  static const char *const bad_format =
      "must be an ISO-8601 UTC timestamp YYYY-MM-DDTHH:MM:SS[.fraction]Z";
  *why = bad_format;
  if (n < 20 || s[4] != '-' || s[7] != '-' || s[10] != 'T' || s[13] != ':' || s[16] != ':' ||
      s[n - 1] != 'Z')
    return -1;
  int year = digits(s, 4), mon = digits(s + 5, 2), day = digits(s + 8, 2);
  int hh = digits(s + 11, 2), mm = digits(s + 14, 2), ss = digits(s + 17, 2);
  if (year < 0 || mon < 0 || day < 0 || hh < 0 || mm < 0 || ss < 0) return -1;
  size_t frac = 0; /* fraction digits */
  if (n > 20) {
    if (s[19] != '.' || n == 21) return -1;
    frac = n - 21;
    if (frac > MSG_MAX_TS_FRACTION) {
      *why = "fraction of a second may have at most 24 digits";
      return -1;
    }
    for (size_t i = 20; i < n - 1; i++)
      if (s[i] < '0' || s[i] > '9') return -1;
  }
  static const int mdays[12] = {31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31};
  int leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
  if (year < 1 || mon < 1 || mon > 12 || day < 1 || day > mdays[mon - 1] + (mon == 2 && leap)) {
    *why = "is not a real calendar date";
    return -1;
  }
  if (hh > 23 || mm > 59 || ss > 59) {
    *why = "is not a real time of day";
    return -1;
  }
  memcpy(key, s, 19);
  size_t k = 19;
  if (frac) {
    size_t last = 20 + frac; /* one past the last digit */
    while (last > 20 && s[last - 1] == '0') last--;
    if (last > 20) {
      memcpy(key + 19, s + 19, last - 19);
      k = last;
    }
  }
  key[k] = 0;
  *keylen = k;
  *why = NULL;
  return 0;
}

int message_parse(char *body, size_t len, message *m, msg_errors *errs) {
  static rapidjson::Reader reader;
  memset(m, 0, sizeof(*m));
  errs->n = 0;
  memset(body + len, 0, MSG_PARSE_PAD);

  sax h = {};
  h.cur = F_NONE;
  rapidjson::InsituStringStream is(body);
  constexpr unsigned flags = rapidjson::kParseInsituFlag | rapidjson::kParseValidateEncodingFlag |
                             rapidjson::kParseIterativeFlag;
  rapidjson::ParseResult pr = reader.Parse<flags>(is, h);
  if (!pr) {
    const char *why;
    if (h.too_deep)
      why = "JSON nesting is too deep";
    else if (h.bad_utf8)
      why = "a string escapes to invalid UTF-8 (lone surrogate)";
    else if (pr.Code() == rapidjson::kParseErrorStringInvalidEncoding)
      why = "body is not valid UTF-8";
    else
      why = rapidjson::GetParseError_En(pr.Code());
    snprintf(errs->parse_msg, sizeof(errs->parse_msg), "invalid JSON: %s (at byte %zu)", why,
             pr.Offset());
    msg_errors_add(errs, "body", NULL, errs->parse_msg, "json_invalid");
    return -1;
  }
  /* rapidjson stops at the first NUL byte of the input; a raw NUL inside
   * the body is not JSON. */
  if (is.Tell() != len) {
    msg_errors_add(errs, "body", NULL, "invalid JSON: NUL byte in body", "json_invalid");
    return -1;
  }
  if (!h.root_object) {
    msg_errors_add(errs, "body", NULL, "body must be a JSON object", "type_error");
    return -1;
  }

  for (int f = 0; f < F_COUNT; f++) {
    const char *name = field_names[f];
    int k = h.kind[f];
    str v = h.val[f];
    if (f == F_TEXT) {
      if (k == K_ABSENT || k == K_NULL) continue;
      if (k != K_STRING) {
        msg_errors_add(errs, "body", name, "must be a string or null", "type_error");
        continue;
      }
      long chars = utf8_count(v.base, v.len);
      if (chars < 0) {
        msg_errors_add(errs, "body", name, "must be valid UTF-8", "value_error");
      } else if (chars > MSG_MAX_TEXT_CHARS) {
        msg_errors_add(errs, "body", name, "must be at most 4096 characters", "string_too_long");
      } else if (memchr(v.base, 0, v.len)) {
        msg_errors_add(errs, "body", name, "must not contain NUL characters", "value_error");
      } else {
        m->text = v;
      }
      continue;
    }
    if (k == K_ABSENT) {
      msg_errors_add(errs, "body", name, "field required", "missing");
      continue;
    }
    if (k != K_STRING) {
      msg_errors_add(errs, "body", name, "must be a string", "type_error");
      continue;
    }
    if (memchr(v.base, 0, v.len)) {
      msg_errors_add(errs, "body", name, "must not contain NUL characters", "value_error");
      continue;
    }
    switch (f) {
      case F_MESSAGE_ID:
        /* Bounded so that a message's live event, log line and rejection
         * record stay small whatever the body limit is. */
        if (v.len == 0)
          msg_errors_add(errs, "body", name, "must not be empty", "value_error");
        else if (v.len > MSG_MAX_ID_BYTES)
          msg_errors_add(errs, "body", name, "must be at most 256 bytes", "string_too_long");
        m->message_id = v;
        break;
      case F_FROM:
      case F_TO:
        if (!msisdn_valid(v.base, v.len))
          msg_errors_add(errs, "body", name, "must be '+' followed by 1 to 15 digits (E.164)",
                         "value_error");
        (f == F_FROM ? m->from : m->to) = v;
        break;
      case F_TS: {
        const char *why;
        if (ts_parse(v.base, v.len, m->ts_key, &m->ts_key_len, &why))
          msg_errors_add(errs, "body", name, why, "value_error");
        m->ts = v;
        break;
      }
    }
  }
  return errs->n ? -1 : 0;
}
