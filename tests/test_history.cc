/* test_history.cc: the console's per-second history rings and the latency
 * quantiles they take from the request_latency_ms histogram. The history is
 * one process-wide ring, so the cases run in order on one timeline. */
#include "history.h"
#include "metrics.h"
#include "router.h"
#include "test.h"

#define T0 1000000 /* seconds: the first closed second of this timeline */

static int has(const buf *b, const char *needle) {
  return b->data && memmem(b->data, b->len, needle, strlen(needle)) != NULL;
}

static void check_json(int n, const char *needle) {
  buf b = {};
  history_json(&b, n);
  if (!has(&b, needle)) {
    test_failures++;
    fprintf(stderr, "  history_json(%d) lacks %s: %.*s\n", n, needle, (int)b.len, b.data);
  }
  buf_free(&b);
}

TEST(quantile_interpolates_within_the_bucket) {
  uint64_t c[METRICS_LAT_BUCKETS] = {};
  CHECK(metrics_quantile(c, 0.5) < 0); /* nothing observed */
  c[3] = 10;                           /* (1, 2.5] ms */
  double p50 = metrics_quantile(c, 0.5), p99 = metrics_quantile(c, 0.99);
  CHECK(p50 > 1.749 && p50 < 1.751);
  CHECK(p99 > 2.484 && p99 < 2.486);
  c[METRICS_LAT_BUCKETS - 1] = 1000; /* +Inf: the highest finite bound */
  CHECK(metrics_quantile(c, 0.99) == 1000);
}

TEST(a_second_counts_each_kind) {
  for (int i = 0; i < 3; i++) history_response(200, 1, 0, 0); /* created */
  history_response(200, 1, 1, 0);                             /* duplicate */
  history_response(401, 1, -1, 0);                            /* rejected */
  history_response(200, 0, -1, 0);                            /* a read */
  history_response(503, 0, -1, 0);
  history_response(200, 0, -1, 1); /* the console's */
  for (int i = 0; i < 4; i++) metrics_request(ROUTE_WEBHOOK, 200, 2.0);
  history_tick((int64_t)(T0 + 1) * 1000 + 5); /* closes second T0 */
  check_json(1, "\"end\":1000000,\"n\":1");
  check_json(1, "\"req_2xx\":[5]");
  check_json(1, "\"req_4xx\":[1]");
  check_json(1, "\"req_5xx\":[1]");
  check_json(1, "\"created\":[3]");
  check_json(1, "\"duplicate\":[1]");
  check_json(1, "\"rejected\":[1]");
  check_json(1, "\"console\":[1]");
  check_json(1, "\"p50_ms\":[1.750]");
  uint64_t r2, r4, r5, rc;
  history_totals(&r2, &r4, &r5, &rc);
  CHECK_EQ_INT(r2, 5);
  CHECK_EQ_INT(r4, 1);
  CHECK_EQ_INT(r5, 1);
  CHECK_EQ_INT(rc, 1);
}

TEST(a_stalled_loop_leaves_empty_seconds) {
  history_response(200, 1, 0, 0);
  history_tick((int64_t)(T0 + 5) * 1000); /* closes T0+4; T0+1..T0+3 saw nothing */
  check_json(5, "\"end\":1000004,\"n\":5");
  check_json(5, "\"created\":[3,0,0,0,1]");
  check_json(5, "\"p50_ms\":[1.750,null,null,null,null]");
}

TEST(an_early_tick_folds_into_the_newest_second) {
  history_response(200, 1, 0, 0);
  history_tick((int64_t)(T0 + 5) * 1000 + 400); /* the same second again */
  check_json(2, "\"end\":1000004,\"n\":2");
  check_json(2, "\"created\":[0,2]");
}

TEST(the_ring_holds_one_hour) {
  history_tick((int64_t)(T0 + 100000) * 1000);
  check_json(HISTORY_SECONDS + 5, "\"n\":3600");
  check_json(0, "\"n\":0,\"req_2xx\":[]");
}
