"""HTTP/1.x behaviour over raw sockets: keep-alive, pipelining, HTTP/1.0,
chunked bodies, 100-continue, limits, timeouts, malformed input, routing."""

import re
import socket
import time

import pytest

from hookd_harness import (RID_RE, ConnectionClosed, build_request, chunked, encode,
                           hookd_factory, message, module_factory, new_id, sign, wait_until,
                           webhook_request)

__all__ = ["hookd_factory", "module_factory"]


@pytest.fixture(scope="module")
def srv(module_factory):
    """Default limits, shared by the tests that do not change configuration."""
    return module_factory()


def get(path, **headers):
    return build_request("GET", path, headers=headers)


def assert_detail(resp, status):
    assert resp.status == status, resp
    assert resp.header("content-type", "").startswith("application/json"), resp
    body = resp.json()
    assert isinstance(body.get("detail"), str) and body["detail"], body
    return body["detail"]


def assert_closed(conn, timeout=5.0):
    assert conn.closed_within(timeout), "server kept the connection open"


def assert_open(conn, wait=0.2):
    """Nothing arrives and no EOF within `wait`, and a new request still works."""
    assert not conn.closed_within(wait), "server closed the connection"
    resp = conn.request("GET", "/health/live")
    assert resp.status == 200


# ---------------------------------------------------------------------------
# Health and routing
# ---------------------------------------------------------------------------

def test_health_live(srv):
    resp = srv.request("GET", "/health/live")
    assert resp.status == 200
    assert resp.json() == {"status": "alive"}
    assert resp.header("content-type").startswith("application/json")
    assert int(resp.header("content-length")) == len(resp.body)


def test_health_ready(srv):
    resp = srv.request("GET", "/health/ready")
    assert resp.status == 200, resp
    assert resp.json() == {"status": "ready"}


def test_query_string_is_not_part_of_the_path(srv):
    resp = srv.request("GET", "/health/live?verbose=1&x=%20")
    assert resp.status == 200
    assert resp.json() == {"status": "alive"}


@pytest.mark.parametrize("method,path", [
    ("GET", "/nope"), ("POST", "/nope"), ("GET", "/webhook/"), ("POST", "/WEBHOOK"),
    ("GET", "/health"), ("GET", "/health/live/x"), ("GET", "//health/live"),
])
def test_unknown_path_is_404(srv, method, path):
    resp = srv.request(method, path, body=b"" if method == "POST" else None)
    assert_detail(resp, 404)
    assert resp.json() == {"detail": "not found"}


@pytest.mark.parametrize("method,path,allow", [
    ("GET", "/webhook", "POST"),
    ("PUT", "/webhook", "POST"),
    ("DELETE", "/webhook", "POST"),
    ("POST", "/health/live", "GET"),
    ("PUT", "/health/ready", "GET"),
    ("DELETE", "/metrics", "GET"),
])
def test_wrong_method_is_405_with_allow(srv, method, path, allow):
    body = b"{}" if method in ("POST", "PUT") else None
    resp = srv.request(method, path, body=body)
    assert_detail(resp, 405)
    assert resp.header("allow") is not None, resp
    allowed = {m.strip() for m in resp.header("allow").split(",")}
    assert allow in allowed
    assert method not in allowed


# ---------------------------------------------------------------------------
# Keep-alive and pipelining
# ---------------------------------------------------------------------------

def test_keep_alive_serves_many_requests_on_one_socket(srv):
    c = srv.conn()
    m = message()
    seq = [
        (get("/health/live"), 200),
        (webhook_request(m), 200),
        (get("/nope"), 404),
        (get("/health/ready"), 200),
        (webhook_request(m), 200),              # duplicate, same socket
        (webhook_request(message(), signature="00" * 32), 401),
        (get("/webhook"), 405),
        (get("/health/live"), 200),
    ]
    for raw, status in seq:
        c.send(raw)
        resp = c.read_response()
        assert resp.status == status, resp
        assert (resp.header("connection") or "").lower() != "close", resp
    assert_open(c)
    assert srv.row(m["message_id"]) is not None


def test_pipelined_requests_answer_in_order(srv):
    m = message()
    reqs = [
        get("/health/live", **{"X-Request-ID": "pipe-1"}),
        webhook_request(m, headers={"X-Request-ID": "pipe-2"}),
        get("/health/ready", **{"X-Request-ID": "pipe-3"}),
        get("/nope", **{"X-Request-ID": "pipe-4"}),
        webhook_request(message(), signature=False, headers={"X-Request-ID": "pipe-5"}),
        webhook_request(m, headers={"X-Request-ID": "pipe-6"}),
        get("/health/live", **{"X-Request-ID": "pipe-7"}),
    ]
    c = srv.conn()
    c.send(b"".join(reqs))
    got = [c.read_response() for _ in reqs]
    assert [r.header("x-request-id") for r in got] == ["pipe-%d" % i for i in range(1, 8)]
    assert [r.status for r in got] == [200, 200, 200, 404, 401, 200, 200]
    assert got[0].json() == {"status": "alive"}
    assert got[1].json() == {"status": "ok"}
    assert got[2].json() == {"status": "ready"}
    assert srv.row(m["message_id"]) is not None
    r2 = srv.wait_request_record(request_id="pipe-2")
    r6 = srv.wait_request_record(request_id="pipe-6")
    assert (r2["result"], r6["result"]) == ("created", "duplicate")
    assert_open(c)


def test_pipelined_burst_of_webhooks(srv):
    ids = [new_id("burst") for _ in range(60)]
    order = ids + ids[:20]                       # 20 duplicates at the end
    reqs = [webhook_request(message(message_id=mid), headers={"X-Request-ID": "b%d" % i})
            for i, mid in enumerate(order)]
    c = srv.conn(timeout=30)
    c.send(b"".join(reqs))
    got = [c.read_response(timeout=30) for _ in reqs]
    assert [r.header("x-request-id") for r in got] == ["b%d" % i for i in range(len(order))]
    assert all(r.status == 200 for r in got), [r.status for r in got if r.status != 200]
    stored = {r["message_id"] for r in srv.rows()}
    assert set(ids) <= stored


def test_pipelined_burst_read_late(srv):
    # 300 requests written before reading any response.
    n = 300
    c = srv.conn(timeout=30)
    c.send(b"".join(get("/health/live", **{"X-Request-ID": "late-%d" % i}) for i in range(n)))
    time.sleep(0.2)
    for i in range(n):
        resp = c.read_response(timeout=30)
        assert resp.status == 200 and resp.header("x-request-id") == "late-%d" % i


def test_get_with_body_is_consumed_before_next_request(srv):
    c = srv.conn()
    c.send(build_request("GET", "/health/live", body=b"GET /nope HTTP/1.1\r\n\r\n")
           + get("/health/ready"))
    assert c.read_response().status == 200
    r = c.read_response()
    assert r.status == 200 and r.json() == {"status": "ready"}


def test_connection_close_is_honoured(srv):
    c = srv.conn()
    # A second request in the same write must not be answered.
    c.send(get("/health/live", Connection="close") + get("/health/ready"))
    resp = c.read_response()
    assert resp.status == 200
    assert resp.header("connection", "").lower() == "close"
    assert c.read_eof() == b""


def test_connection_close_on_webhook_after_commit(srv):
    m = message()
    c = srv.conn()
    c.send(webhook_request(m, headers={"Connection": "close"}))
    resp = c.read_response()
    assert resp.status == 200 and resp.json() == {"status": "ok"}
    assert resp.header("connection", "").lower() == "close"
    assert c.read_eof() == b""
    assert srv.row(m["message_id"]) is not None


def test_pipeline_ending_with_connection_close(srv):
    c = srv.conn()
    c.send(get("/health/live") + get("/nope") + get("/health/live", Connection="close"))
    assert [c.read_response().status for _ in range(3)] == [200, 404, 200]
    assert c.read_eof() == b""


def test_http10_closes_by_default(srv):
    c = srv.conn()
    c.send(b"GET /health/live HTTP/1.0\r\n\r\n")
    resp = c.read_response()
    assert resp.status == 200 and resp.json() == {"status": "alive"}
    assert resp.header("connection", "close").lower() == "close"
    assert c.read_eof() == b""


def test_http10_keep_alive_when_asked(srv):
    c = srv.conn()
    c.send(b"GET /health/live HTTP/1.0\r\nConnection: keep-alive\r\n\r\n")
    resp = c.read_response()
    assert resp.status == 200
    assert resp.header("connection", "").lower() == "keep-alive"
    m = message()
    c.send(webhook_request(m, version="1.0", headers={"Connection": "Keep-Alive"}))
    resp = c.read_response()
    assert resp.status == 200 and resp.json() == {"status": "ok"}
    assert resp.header("connection", "").lower() == "keep-alive"
    assert srv.row(m["message_id"]) is not None
    c.send(b"GET /health/live HTTP/1.0\r\n\r\n")
    assert c.read_response().status == 200
    assert c.read_eof() == b""


def test_http10_webhook(srv):
    m = message()
    c = srv.conn()
    c.send(webhook_request(m, version="1.0"))
    resp = c.read_response()
    assert resp.status == 200 and resp.json() == {"status": "ok"}
    assert c.read_eof() == b""
    assert srv.row(m["message_id"]) is not None


# ---------------------------------------------------------------------------
# Chunked bodies and 100-continue
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("size", [1, 7, 64, 100000])
def test_chunked_webhook(srv, size):
    m = message(text="chunky " * 20)
    body = encode(m)
    raw = build_request("POST", "/webhook", headers=[
        ("Transfer-Encoding", "chunked"), ("X-Signature", sign(body))]) + chunked(body, size)
    c = srv.conn()
    c.send(raw)
    resp = c.read_response()
    assert resp.status == 200, resp
    assert srv.row(m["message_id"])["text"] == m["text"]
    assert_open(c)     # keep-alive continues after a chunked body


def test_chunked_webhook_with_extensions_and_trailers(srv):
    m = message()
    body = encode(m)
    half = len(body) // 2
    payload = (b"%X;name=value\r\n" % half + body[:half] + b"\r\n"
               + b"%x\r\n" % (len(body) - half) + body[half:] + b"\r\n"
               + b"0\r\nX-Trailer: yes\r\n\r\n")
    raw = build_request("POST", "/webhook", headers=[
        ("Transfer-Encoding", "chunked"), ("X-Signature", sign(body))]) + payload
    c = srv.conn()
    c.send(raw)
    resp = c.read_response()
    assert resp.status == 200, resp
    assert srv.row(m["message_id"]) is not None


def test_chunked_signature_over_the_chunk_framing_is_rejected(srv):
    m = message()
    body = encode(m)
    framed = chunked(body, 10)
    raw = build_request("POST", "/webhook", headers=[
        ("Transfer-Encoding", "chunked"), ("X-Signature", sign(framed))]) + framed
    c = srv.conn()
    c.send(raw)
    assert c.read_response().status == 401
    assert srv.row(m["message_id"]) is None


def test_expect_100_continue(srv):
    m = message()
    body = encode(m)
    c = srv.conn()
    c.send(build_request("POST", "/webhook", headers=[
        ("Expect", "100-continue"), ("X-Signature", sign(body)),
        ("Content-Length", str(len(body)))]))
    interim = c.read_response(timeout=5, allow_interim=True)
    assert interim.status == 100, interim
    assert interim.version == "HTTP/1.1"
    assert srv.row(m["message_id"]) is None
    c.send(body)
    resp = c.read_response()
    assert resp.status == 200 and resp.json() == {"status": "ok"}
    assert srv.row(m["message_id"]) is not None
    assert_open(c)


def test_expect_100_continue_too_large_gets_413_without_100(srv):
    c = srv.conn()
    c.send(build_request("POST", "/webhook", headers=[
        ("Expect", "100-continue"), ("X-Signature", "00" * 32),
        ("Content-Length", "10000000")]))
    resp = c.read_response(timeout=5, allow_interim=True)
    assert resp.status == 413, resp
    assert_detail(resp, 413)
    assert c.read_eof() == b""


# ---------------------------------------------------------------------------
# Limits
# ---------------------------------------------------------------------------

def _padded(total):
    """A valid signed-able webhook body of exactly `total` bytes."""
    m = message()
    base = len(encode(dict(m, pad="")))
    m["pad"] = "x" * (total - base)
    body = encode(m)
    assert len(body) == total
    return m, body


def test_413_from_content_length_without_reading_the_body(srv):
    c = srv.conn()
    t0 = time.monotonic()
    c.send(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 10000000\r\n"
           b"X-Signature: " + b"0" * 64 + b"\r\n\r\n")
    resp = c.read_response(timeout=5)
    assert time.monotonic() - t0 < 3.0
    assert_detail(resp, 413)
    assert c.read_eof() == b""
    srv.wait_request_record(status=413)


def test_body_at_the_limit_is_accepted_and_one_over_is_413(hookd_factory):
    d = hookd_factory(env={"MAX_BODY_BYTES": "2048"})
    m, body = _padded(2048)
    resp = d.post_webhook(body)
    assert resp.status == 200, resp
    assert d.row(m["message_id"]) is not None
    m2, body2 = _padded(2049)
    resp = d.post_webhook(body2)
    assert_detail(resp, 413)
    assert d.row(m2["message_id"]) is None


def test_default_body_limit_is_64_kib(srv):
    m, body = _padded(65536)
    assert srv.post_webhook(body).status == 200
    m2, body2 = _padded(65537)
    assert srv.post_webhook(body2).status == 413
    assert srv.row(m["message_id"]) is not None and srv.row(m2["message_id"]) is None


def test_chunked_body_over_the_limit_is_413(hookd_factory):
    d = hookd_factory(env={"MAX_BODY_BYTES": "1024"})
    m, body = _padded(3000)
    c = d.conn()
    c.send(build_request("POST", "/webhook", headers=[
        ("Transfer-Encoding", "chunked"), ("X-Signature", sign(body))]) + chunked(body, 256))
    resp = c.read_response()
    assert_detail(resp, 413)
    assert c.read_eof() == b""
    assert d.row(m["message_id"]) is None
    # Within the limit, chunked still works.
    m2, body2 = _padded(1000)
    c = d.conn()
    c.send(build_request("POST", "/webhook", headers=[
        ("Transfer-Encoding", "chunked"), ("X-Signature", sign(body2))]) + chunked(body2, 100))
    assert c.read_response().status == 200
    assert d.row(m2["message_id"]) is not None


def test_431_when_headers_are_too_large(srv):
    c = srv.conn()
    c.send(build_request("GET", "/health/live", headers={"X-Pad": "a" * 9000}))
    resp = c.read_response()
    assert_detail(resp, 431)
    assert c.read_eof() == b""


def test_431_for_many_small_headers(srv):
    hdrs = [("X-H%d" % i, "v" * 40) for i in range(300)]    # ~15 KB
    c = srv.conn()
    c.send(build_request("GET", "/health/live", headers=hdrs))
    assert_detail(c.read_response(), 431)


def test_headers_below_the_limit_are_fine(srv):
    resp = srv.request("GET", "/health/live", headers={"X-Pad": "a" * 6000})
    assert resp.status == 200


def test_header_limit_is_configurable(hookd_factory):
    d = hookd_factory(env={"MAX_HEADER_BYTES": "1024"})
    assert d.request("GET", "/health/live", headers={"X-Pad": "a" * 500}).status == 200
    c = d.conn()
    c.send(build_request("GET", "/health/live", headers={"X-Pad": "a" * 1500}))
    assert_detail(c.read_response(), 431)


def test_414_for_a_long_url(srv):
    def target(n):
        t = "/health/live?q="
        return t + "a" * (n - len(t))
    resp = srv.request("GET", target(4096))
    assert resp.status == 200, resp
    c = srv.conn()
    c.send(build_request("GET", target(4097)))
    assert_detail(c.read_response(), 414)
    assert c.read_eof() == b""
    c = srv.conn()
    c.send(build_request("GET", target(6000)))
    assert_detail(c.read_response(), 414)


# ---------------------------------------------------------------------------
# Malformed HTTP
# ---------------------------------------------------------------------------

GARBAGE = {
    "binary": b"\x00\x01\x02\x03\xff\xfe garbage\r\n\r\n",
    "not-http": b"HELLO WORLD\r\n\r\n",
    "tls-client-hello": bytes.fromhex("160301002e0100002a0303") + b"\x00" * 40,
    "bad-version": b"GET /health/live HTTP/1.x\r\n\r\n",
    "header-without-colon": b"GET /health/live HTTP/1.1\r\nHost 127.0.0.1\r\n\r\n",
    "bad-content-length": b"POST /webhook HTTP/1.1\r\nContent-Length: abc\r\n\r\n",
    "negative-content-length": b"POST /webhook HTTP/1.1\r\nContent-Length: -5\r\n\r\n",
    "two-content-lengths": (b"POST /webhook HTTP/1.1\r\nContent-Length: 2\r\n"
                            b"Content-Length: 3\r\n\r\n{}"),
    "content-length-and-chunked": (b"POST /webhook HTTP/1.1\r\nContent-Length: 5\r\n"
                                   b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    "bad-chunk-size": (b"POST /webhook HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n"
                       b"zz\r\nhello\r\n0\r\n\r\n"),
    "control-char-in-url": b"GET /health/\x01live HTTP/1.1\r\n\r\n",
}


@pytest.mark.parametrize("case", list(GARBAGE))
def test_malformed_request_is_400_and_closes(srv, case):
    c = srv.conn()
    c.send(GARBAGE[case])
    try:
        resp = c.read_response(timeout=5)
    except ConnectionClosed:
        pytest.fail("connection closed without a response for %r" % case)
    assert_detail(resp, 400)
    assert resp.header("connection", "").lower() == "close"
    assert c.read_eof() == b""


def test_whitespace_before_header_colon_is_400(srv):
    # RFC 9112 section 5.1: a server MUST reject whitespace between a field
    # name and the colon with 400 (a request-smuggling vector).
    c = srv.conn()
    c.send(b"GET /health/live HTTP/1.1\r\nHost: x\r\nX-Signature : abc\r\n\r\n")
    resp = c.read_response(timeout=5)
    assert_detail(resp, 400)
    assert c.read_eof() == b""


def test_garbage_after_a_good_request(srv):
    c = srv.conn()
    c.send(get("/health/live") + b"\x16\x03\x01 nonsense\r\n\r\n")
    assert c.read_response().status == 200
    assert_detail(c.read_response(), 400)
    assert c.read_eof() == b""
    # The daemon is fine.
    assert srv.request("GET", "/health/live").status == 200


def test_half_a_request_then_eof_does_not_hurt(srv):
    for raw in (b"GET /heal", webhook_request(message())[:-5], b"POST /webhook HTTP/1.1\r\n"):
        c = srv.conn()
        c.send(raw)
        c.sock.shutdown(socket.SHUT_WR)
        c.close()
    assert srv.request("GET", "/health/live").status == 200


# ---------------------------------------------------------------------------
# Fragmentation
# ---------------------------------------------------------------------------

def test_request_in_one_byte_writes(srv):
    m = message(text="byte by byte")
    raw = webhook_request(m, headers={"X-Request-ID": "one-byte"})
    c = srv.conn()
    c.send_slowly(raw, step=1, pause=0.0005)
    resp = c.read_response()
    assert resp.status == 200, resp
    assert resp.header("x-request-id") == "one-byte"
    assert srv.row(m["message_id"])["text"] == "byte by byte"


def test_pipelined_requests_split_at_odd_boundaries(srv):
    raw = b"".join([get("/health/live"), webhook_request(message()), get("/nope")])
    c = srv.conn()
    for i in range(0, len(raw), 13):
        c.send(raw[i:i + 13])
        time.sleep(0.001)
    assert [c.read_response().status for _ in range(3)] == [200, 200, 404]


# ---------------------------------------------------------------------------
# Request ids
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("rid", ["abc", "A.b_c:d-1", "x" * 64, "0", "550e8400-e29b-41d4"])
def test_sane_request_id_is_echoed(srv, rid):
    resp = srv.request("GET", "/health/live", headers={"X-Request-ID": rid})
    assert resp.header("x-request-id") == rid
    rec = srv.wait_request_record(request_id=rid)
    assert rec["path"] == "/health/live"


@pytest.mark.parametrize("rid", ["", "has space", "x" * 65, "semi;colon", "quote\"d",
                                 "slash/x", "\u00e9t\u00e9"])
def test_insane_request_id_is_replaced(srv, rid):
    resp = srv.request("GET", "/health/live", headers={"X-Request-ID": rid})
    assert resp.status == 200
    got = resp.header("x-request-id")
    assert got and RID_RE.match(got), got
    assert got != rid.strip()


def test_generated_request_ids_are_unique_and_logged(srv):
    c = srv.conn()
    ids = []
    for _ in range(20):
        resp = c.request("GET", "/health/live")
        ids.append(resp.header("x-request-id"))
    for _ in range(5):
        ids.append(srv.request("GET", "/nope").header("x-request-id"))
    assert all(i and RID_RE.match(i) for i in ids), ids
    assert len(set(ids)) == len(ids)
    for i in ids:
        srv.wait_request_record(request_id=i)


def test_error_responses_carry_request_id(srv):
    c = srv.conn()
    c.send(b"\x00garbage\r\n\r\n")
    resp = c.read_response()
    assert resp.status == 400
    assert RID_RE.match(resp.header("x-request-id") or "")


# ---------------------------------------------------------------------------
# Timeouts
# ---------------------------------------------------------------------------

def test_slow_headers_get_408_and_close(hookd_factory):
    d = hookd_factory(env={"HEADER_TIMEOUT_MS": "300", "IDLE_TIMEOUT_MS": "10000"})
    c = d.conn()
    t0 = time.monotonic()
    c.send(b"GET /health/live HTTP/1.1\r\nHost: x\r\n")
    resp = c.read_response(timeout=5)
    elapsed = time.monotonic() - t0
    assert_detail(resp, 408)
    assert resp.header("connection", "").lower() == "close"
    assert 0.25 <= elapsed < 3.0, elapsed
    assert c.read_eof() == b""
    d.wait_request_record(status=408)


def test_slowloris_trickle_is_cut_off(hookd_factory):
    d = hookd_factory(env={"HEADER_TIMEOUT_MS": "300", "IDLE_TIMEOUT_MS": "10000"})
    c = d.conn()
    t0 = time.monotonic()
    c.send(b"GET /health/live HTTP/1.1\r\n")
    resp = None
    deadline = t0 + 5
    i = 0
    while time.monotonic() < deadline:
        try:
            c.send(b"X-%d: y\r\n" % i)
        except (BrokenPipeError, ConnectionResetError):
            break
        i += 1
        try:
            resp = c.read_response(timeout=0.05)
            break
        except socket.timeout:
            continue
    if resp is None:
        resp = c.read_response(timeout=3)
    elapsed = time.monotonic() - t0
    assert resp.status == 408, resp
    assert elapsed < 2.5, elapsed


def test_slow_body_gets_408(hookd_factory):
    d = hookd_factory(env={"BODY_TIMEOUT_MS": "300", "HEADER_TIMEOUT_MS": "10000"})
    m = message()
    body = encode(m)
    c = d.conn()
    t0 = time.monotonic()
    c.send(build_request("POST", "/webhook", headers=[
        ("X-Signature", sign(body)), ("Content-Length", str(len(body)))]) + body[:10])
    resp = c.read_response(timeout=5)
    elapsed = time.monotonic() - t0
    assert_detail(resp, 408)
    assert 0.25 <= elapsed < 3.0, elapsed
    assert c.read_eof() == b""
    assert d.row(m["message_id"]) is None


def test_complete_requests_are_not_timed_out(hookd_factory):
    d = hookd_factory(env={"HEADER_TIMEOUT_MS": "300", "BODY_TIMEOUT_MS": "300",
                           "IDLE_TIMEOUT_MS": "10000"})
    c = d.conn()
    for _ in range(4):
        assert c.request("GET", "/health/live").status == 200
        time.sleep(0.15)     # 0.6 s in total on one connection, header timer re-armed
    assert c.request("GET", "/health/live").status == 200


def test_idle_keep_alive_connection_is_closed(hookd_factory):
    d = hookd_factory(env={"IDLE_TIMEOUT_MS": "300"})
    c = d.conn()
    assert c.request("GET", "/health/live").status == 200
    t0 = time.monotonic()
    assert c.closed_within(5), "idle connection was not closed"
    elapsed = time.monotonic() - t0
    assert 0.2 <= elapsed < 3.0, elapsed


def test_silent_new_connection_is_closed_after_idle_timeout(hookd_factory):
    d = hookd_factory(env={"IDLE_TIMEOUT_MS": "300"})
    c = d.conn()
    t0 = time.monotonic()
    assert c.closed_within(5)
    assert time.monotonic() - t0 >= 0.2


def test_activity_resets_the_idle_timer(hookd_factory):
    d = hookd_factory(env={"IDLE_TIMEOUT_MS": "400"})
    c = d.conn()
    for _ in range(5):
        assert c.request("GET", "/health/live").status == 200
        time.sleep(0.15)
    # 0.75 s after the first request: still open because each request re-armed it.
    assert c.request("GET", "/health/live").status == 200


# ---------------------------------------------------------------------------
# Connection limit
# ---------------------------------------------------------------------------

def refused_count(c):
    body = c.request("GET", "/metrics").body.decode()
    m = re.search(r'^hookd_connections_refused_total\{reason="max_connections"\} (\d+)$', body, re.M)
    return int(m.group(1))


def test_max_connections(hookd_factory):
    d = hookd_factory(env={"MAX_CONNECTIONS": "3"})
    c1, c2, cm = d.conn(), d.conn(), d.conn()  # cm: keep-alive, for /metrics
    assert c1.request("GET", "/health/live").status == 200
    assert c2.request("GET", "/health/live").status == 200
    before = refused_count(cm)
    # Past the limit: anything but a health check is 503 and closed...
    c3 = d.conn()
    resp = c3.request("GET", "/messages")
    assert_detail(resp, 503)
    assert resp.header("Retry-After") == "1"
    assert c3.read_eof() == b""
    c3.close()
    # ...but an orchestrator's liveness probe is still answered (then closed).
    c4 = d.conn()
    resp = c4.request("GET", "/health/live")
    assert resp.status == 200 and resp.json() == {"status": "alive"}
    assert c4.read_eof() == b""
    c4.close()
    # Past the health-check reserve (32 more): 503 at once, unasked.
    extra = [d.conn() for _ in range(32)]
    over = d.conn()
    resp = over.read_response(timeout=5)
    assert_detail(resp, 503)
    assert over.read_eof() == b""
    for c in extra + [over]:
        c.close()
    # The two accepted connections still work.
    assert c1.request("GET", "/health/live").status == 200
    assert c2.request("GET", "/health/live").status == 200
    # Every refusal is counted, and logged at most once a second.
    wait_until(lambda: refused_count(cm) >= before + 35, timeout=5, what="refusals counted")
    d.wait_record(lambda r: r.get("event") == "connection_refused", what="refusal log line")
    assert len([r for r in d.records() if r.get("event") == "connection_refused"]) <= 3
    # Freeing a slot lets a new client in.
    c1.close()

    def new_client_served():
        c = d.conn()
        try:
            c.send(get("/messages"))
            return c.read_response(timeout=5).status == 200
        except ConnectionClosed:
            return False
        finally:
            c.close()

    wait_until(new_client_served, timeout=10, interval=0.05, what="a freed connection slot")


def test_dashboard_page(hookd_factory):
    """GET / and GET /ui serve the embedded console: HTML, no caching
    surprises, only same-origin API calls, and no innerHTML (user text is
    set with textContent, so a message cannot inject markup). The page's
    behaviour is tested in a real browser (tests/browser/)."""
    srv = hookd_factory()
    r = srv.request("GET", "/")
    assert r.status == 200, r
    assert r.header("Content-Type") == "text/html; charset=utf-8"
    assert r.header("Cache-Control") == "no-cache"
    page = r.body.decode("utf-8")
    assert "<title>hookd</title>" in page
    assert srv.request("GET", "/ui").body == r.body
    js = srv.request("GET", "/ui/app.js")
    assert js.status == 200 and js.header("Content-Type") == "text/javascript; charset=utf-8"
    script = js.body.decode("utf-8")
    assert '<script src="/ui/app.js">' in page
    for api in ("/stats", "/messages?", "/events", "/snapshot?", "/rejections?"):
        assert api in script, api
    for text in (page, script.replace('"http://www.w3.org/2000/svg"', "")):
        assert "innerHTML" not in text and "http://" not in text and "https://" not in text
    assert srv.request("POST", "/").status == 405
    assert srv.request("POST", "/ui").status == 405
