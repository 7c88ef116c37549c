/* test_message.cc: the webhook validation table and the ts sort key. */
#include <stdlib.h>
#include <string.h>

#include "message.h"
#include "test.h"

/* Parses a copy of json; returns 0/-1 and leaves errors in errs. */
static int parse(const char *json, message *m, msg_errors *errs, char **keep) {
  size_t n = strlen(json);
  char *b = (char *)malloc(n + MSG_PARSE_PAD); /* exactly the contract */
  memcpy(b, json, n);
  int rc = message_parse(b, n, m, errs);
  *keep = b;
  return rc;
}

static int field_error(const msg_errors *e, const char *field) {
  for (int i = 0; i < e->n; i++)
    if (e->e[i].field && strcmp(e->e[i].field, field) == 0) return 1;
  return 0;
}

static int body_error(const msg_errors *e) { return e->n == 1 && e->e[0].field == NULL; }

#define OK_BODY(json)                                                                           \
  "{\"message_id\":\"m1\",\"from\":\"+919876543210\",\"to\":\"+14155550100\",\"ts\":\"2025-01-" \
  "15T10:00:00Z\"" json "}"

TEST(valid_message_parses_all_fields) {
  message m;
  msg_errors e;
  char *b;
  CHECK_EQ_INT(parse(OK_BODY(",\"text\":\"Hello \\\"you\\\" \\u00e9\""), &m, &e, &b), 0);
  CHECK_STR(m.message_id.base, m.message_id.len, "m1");
  CHECK_STR(m.from.base, m.from.len, "+919876543210");
  CHECK_STR(m.to.base, m.to.len, "+14155550100");
  CHECK_STR(m.ts.base, m.ts.len, "2025-01-15T10:00:00Z");
  CHECK_STR(m.text.base, m.text.len, "Hello \"you\" \xc3\xa9");
  free(b);
}

TEST(text_optional_or_null) {
  message m;
  msg_errors e;
  char *b;
  CHECK_EQ_INT(parse(OK_BODY(""), &m, &e, &b), 0);
  CHECK(m.text.base == NULL);
  free(b);
  CHECK_EQ_INT(parse(OK_BODY(",\"text\":null"), &m, &e, &b), 0);
  CHECK(m.text.base == NULL);
  free(b);
}

TEST(unknown_and_nested_fields_ignored) {
  message m;
  msg_errors e;
  char *b;
  CHECK_EQ_INT(
      parse(OK_BODY(",\"extra\":{\"from\":5,\"a\":[1,{\"ts\":null}]},\"n\":1.5"), &m, &e, &b), 0);
  CHECK_STR(m.from.base, m.from.len, "+919876543210");
  free(b);
}

struct bad_case {
  const char *json;
  const char *field; /* NULL: a body-level error */
};

TEST(validation_table) {
  static const bad_case cases[] = {
      {"", NULL},
      {"{", NULL},
      {"[1,2]", NULL},
      {"\"str\"", NULL},
      {"{} x", NULL},
      {"{\"message_id\":\"m\xff\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\"}",
       NULL},
      {"{\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\"}", "message_id"},
      {"{\"message_id\":\"\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\"}",
       "message_id"},
      {"{\"message_id\":7,\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\"}",
       "message_id"},
      {"{\"message_id\":\"a\\u0000b\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:"
       "00Z\"}",
       "message_id"},
      {"{\"message_id\":\"m\",\"from\":\"1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\"}",
       "from"},
      {"{\"message_id\":\"m\",\"from\":\"+\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\"}",
       "from"},
      {"{\"message_id\":\"m\",\"from\":\"+1234567890123456\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:"
       "00:00Z\"}",
       "from"},
      {"{\"message_id\":\"m\",\"from\":\"+12a\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\"}",
       "from"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":null,\"ts\":\"2025-01-15T10:00:00Z\"}", "to"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":[\"+1\"],\"ts\":\"2025-01-15T10:00:00Z\"}",
       "to"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00\"}", "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-02-30T10:00:00Z\"}",
       "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2023-02-29T10:00:00Z\"}",
       "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T24:00:00Z\"}",
       "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:60Z\"}",
       "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15t10:00:00z\"}",
       "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00+00:00\"}",
       "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00.Z\"}",
       "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-1-15T10:00:00Z\"}", "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":1736935200}", "ts"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\","
       "\"text\":5}",
       "text"},
      {"{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\","
       "\"text\":{}}",
       "text"},
  };
  for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
    message m;
    msg_errors e;
    char *b;
    int rc = parse(cases[i].json, &m, &e, &b);
    if (rc != -1 || (cases[i].field ? !field_error(&e, cases[i].field) : !body_error(&e))) {
      fprintf(stderr, "  case %zu accepted or wrong error: %s\n", i, cases[i].json);
      test_failures++;
    }
    free(b);
  }
}

TEST(every_missing_field_reported) {
  message m;
  msg_errors e;
  char *b;
  CHECK_EQ_INT(parse("{}", &m, &e, &b), -1);
  CHECK_EQ_INT(e.n, 4);
  CHECK(field_error(&e, "message_id") && field_error(&e, "from") && field_error(&e, "to") &&
        field_error(&e, "ts"));
  buf out = {};
  msg_errors_json(&e, &out);
  CHECK(out.len > 0 &&
        memcmp(out.data, "{\"detail\":[{\"loc\":[\"body\",\"message_id\"]", 39) == 0);
  buf_free(&out);
  free(b);
}

TEST(text_limit_counts_code_points) {
  /* 4096 two-byte characters (8192 bytes) pass, 4097 fail. */
  for (int n = 4096; n <= 4097; n++) {
    buf j = {};
    buf_puts(&j,
             "{\"message_id\":\"m\",\"from\":\"+1\",\"to\":\"+1\",\"ts\":\"2025-01-15T10:00:00Z\","
             "\"text\":\"");
    for (int i = 0; i < n; i++) buf_puts(&j, "\xc3\xa9");
    buf_puts(&j, "\"}");
    buf_reserve(&j, MSG_PARSE_PAD);
    message m;
    msg_errors e;
    int rc = message_parse(j.data, j.len, &m, &e);
    CHECK_EQ_INT(rc, n == 4096 ? 0 : -1);
    if (n == 4097) CHECK(field_error(&e, "text"));
    buf_free(&j);
  }
}

TEST(deep_nesting_rejected_cleanly) {
  buf j = {};
  buf_puts(&j, "{\"x\":");
  for (int i = 0; i < 100000; i++) buf_putc(&j, '[');
  buf_reserve(&j, MSG_PARSE_PAD);
  message m;
  msg_errors e;
  CHECK_EQ_INT(message_parse(j.data, j.len, &m, &e), -1);
  CHECK(body_error(&e));
  buf_free(&j);
}

TEST(raw_nul_in_body_rejected) {
  static const char text[] = "{\"message_id\":\"m\"}\0garbage";
  char body[sizeof(text) - 1 + MSG_PARSE_PAD]; /* the body, then the padding */
  memcpy(body, text, sizeof(text) - 1);
  message m;
  msg_errors e;
  CHECK_EQ_INT(message_parse(body, sizeof(text) - 1, &m, &e), -1);
  CHECK(body_error(&e));
}

static void key_of(const char *ts, char *key) {
  size_t n;
  const char *why;
  CHECK_EQ_INT(ts_parse(ts, strlen(ts), key, &n, &why), 0);
}

TEST(ts_key_orders_chronologically) {
  const char *in_order[] = {
      "2024-02-29T23:59:59Z",    "2025-01-15T10:00:00Z",   "2025-01-15T10:00:00.000001Z",
      "2025-01-15T10:00:00.05Z", "2025-01-15T10:00:00.5Z", "2025-01-15T10:00:00.9999Z",
      "2025-01-15T10:00:01Z",
  };
  char prev[MSG_TS_KEY_MAX + 1] = "";
  for (size_t i = 0; i < sizeof(in_order) / sizeof(in_order[0]); i++) {
    char key[MSG_TS_KEY_MAX + 1];
    key_of(in_order[i], key);
    CHECK(strcmp(prev, key) < 0);
    strcpy(prev, key);
  }
  char a[MSG_TS_KEY_MAX + 1], b[MSG_TS_KEY_MAX + 1];
  key_of("2025-01-15T10:00:00.500Z", a);
  key_of("2025-01-15T10:00:00.5Z", b);
  CHECK(strcmp(a, b) == 0); /* same instant, same key */
  key_of("2025-01-15T10:00:00.000Z", a);
  key_of("2025-01-15T10:00:00Z", b);
  CHECK(strcmp(a, b) == 0);
}

TEST(msisdn_rules) {
  CHECK(msisdn_valid("+1", 2));
  CHECK(msisdn_valid("+123456789012345", 16));
  CHECK(!msisdn_valid("+1234567890123456", 17));
  CHECK(!msisdn_valid("+", 1));
  CHECK(!msisdn_valid("12", 2));
  CHECK(!msisdn_valid("+1 2", 4));
}

/* Found by tests/fuzz/fuzz_message.cc: a string ending in a truncated
 * 4-byte UTF-8 sequence made RapidJSON's validation read past the NUL; the
 * body now carries MSG_PARSE_PAD NULs (ASan catches a regression). */
TEST(truncated_utf8_at_the_end_stays_in_bounds) {
  static const char *const cases[] = {"{\"i_\xf0\xc5", "{\"i_\xf0", "{\"a\":\"\xe2\x82",
                                      "\"\xf4\x8f\xbf"};
  for (const char *json : cases) {
    message m;
    msg_errors e;
    char *keep;
    CHECK_EQ_INT(parse(json, &m, &e, &keep), -1);
    CHECK(body_error(&e));
    free(keep);
  }
}
