"""Start-up configuration, command line, restart persistence, signals, logs."""

import json
import os
import re
import signal
import subprocess
import threading
import time

import pytest

from hookd_harness import (write_locked, HOOKD_BIN, ISO_UTC_RE, RID_RE, Conn, ConnectionClosed, build_request,
                           encode, hookd_factory, message, new_id, sign, wait_until,
                           webhook_request)

__all__ = ["hookd_factory"]

LEVELS = {"DEBUG", "INFO", "WARN", "ERROR"}


def run_cli(args, env=None, cwd=None, stdin=b"", timeout=30):
    e = {"PATH": os.environ.get("PATH", "")}
    e.update(env or {})
    return subprocess.run([HOOKD_BIN, *args], input=stdin, env=e, cwd=cwd,
                          capture_output=True, timeout=timeout)


def assert_all_lines_are_json(d):
    recs = []
    for raw in d.raw_lines:
        text = raw.decode("utf-8")          # strict: logs are UTF-8
        assert "\n" not in text and "\r" not in text
        assert not any(ord(ch) < 0x20 for ch in text), text
        rec = json.loads(text)
        assert isinstance(rec, dict), text
        assert ISO_UTC_RE.match(rec.get("ts", "")), text
        assert rec.get("level") in LEVELS, text
        recs.append(rec)
    return recs


# ---------------------------------------------------------------------------
# Configuration errors
# ---------------------------------------------------------------------------

CONFIG_ERRORS = [
    ({"PORT": "abc"}, "PORT"),
    ({"PORT": "70000"}, "PORT"),
    ({"PORT": "-1"}, "PORT"),
    ({"PORT": "80x"}, "PORT"),
    ({"HOST": "not-an-address"}, "HOST"),
    ({"DATABASE_URL": "mysql://x"}, "DATABASE_URL"),
    # libpq rejects the URL (or, in a build without the engine, hookd does)
    ({"DATABASE_URL": "postgres://user@localhost/db?nosuchoption=1"}, "DATABASE_URL"),
    ({"DATABASE_URL": "sqlite://relative.db"}, "DATABASE_URL"),
    ({"DATABASE_URL": "sqlite:////proc/nope/app.db"}, "DATABASE_URL"),
    ({"DATABASE_URL": "sqlite:///"}, "DATABASE_URL"),
    ({"LOG_LEVEL": "LOUD"}, "LOG_LEVEL"),
    ({"MAX_BODY_BYTES": "12x"}, "MAX_BODY_BYTES"),
    ({"MAX_BODY_BYTES": "100"}, "MAX_BODY_BYTES"),
    ({"MAX_HEADER_BYTES": "lots"}, "MAX_HEADER_BYTES"),
    ({"HEADER_TIMEOUT_MS": "0"}, "HEADER_TIMEOUT_MS"),
    ({"BODY_TIMEOUT_MS": "-5"}, "BODY_TIMEOUT_MS"),
    ({"IDLE_TIMEOUT_MS": "1e3"}, "IDLE_TIMEOUT_MS"),
    ({"MAX_CONNECTIONS": "many"}, "MAX_CONNECTIONS"),
    ({"DB_SYNCHRONOUS": "MAYBE"}, "DB_SYNCHRONOUS"),
    ({"WEBHOOK_SECRET_FILE": "/nonexistent/hookd-secret"}, "WEBHOOK_SECRET_FILE"),
]


def _assert_startup_failure(d, var):
    rc = d.wait_exit(20)
    assert rc != 0, d.describe()
    assert rc > 0, "killed by a signal: %s" % d.describe()
    lines = [line for line in d.stderr_text().splitlines() if line.strip()]
    assert len(lines) == 1, d.describe()
    assert var in lines[0], lines[0]
    assert not any(r.get("event") == "listening" for r in d._safe_records()), d.describe()


@pytest.mark.parametrize("env,var", CONFIG_ERRORS,
                         ids=["%s=%s" % next(iter(e.items())) for e, _ in CONFIG_ERRORS])
def test_malformed_config_stops_startup(hookd_factory, env, var):
    d = hookd_factory(env=env, wait=False)
    _assert_startup_failure(d, var)


def test_database_file_that_is_not_sqlite(hookd_factory, tmp_path):
    bad = tmp_path / "bad.db"
    bad.write_bytes(b"this is not a database, just text " * 200)
    d = hookd_factory(env={"DATABASE_URL": "sqlite:///" + str(bad)}, wait=False)
    _assert_startup_failure(d, "DATABASE_URL")


def test_port_in_use(hookd_factory):
    a = hookd_factory()
    b = hookd_factory(env={"PORT": str(a.port)}, wait=False)
    _assert_startup_failure(b, "PORT")
    assert a.request("GET", "/health/live").status == 200


# ---------------------------------------------------------------------------
# Database location
# ---------------------------------------------------------------------------

def test_default_database_is_data_app_db_under_cwd(hookd_factory, tmp_path):
    cwd = tmp_path / "work"
    d = hookd_factory(cwd=str(cwd), db_url=False)
    m = message()
    assert d.post_webhook(m).status == 200
    path = cwd / "data" / "app.db"
    assert path.is_file()
    d.db_path = str(path)
    assert d.row(m["message_id"]) is not None
    assert not (cwd / "hookd.db").exists()


def test_relative_database_url_is_relative_to_cwd(hookd_factory, tmp_path):
    cwd = tmp_path / "rel"
    d = hookd_factory(cwd=str(cwd), env={"DATABASE_URL": "sqlite:///nested/dir/x.db"})
    m = message()
    assert d.post_webhook(m).status == 200
    assert (cwd / "nested" / "dir" / "x.db").is_file()
    assert d.row(m["message_id"]) is not None


def test_absolute_database_url(hookd_factory, tmp_path):
    path = tmp_path / "abs" / "store.db"
    d = hookd_factory(cwd=str(tmp_path / "elsewhere"), env={"DATABASE_URL": "sqlite:///" + str(path)})
    m = message()
    assert d.post_webhook(m).status == 200
    assert path.is_file()
    assert d.row(m["message_id"]) is not None


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------

def test_help(tmp_path):
    out = run_cli(["--help"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    text = out.stdout.decode()
    for word in ("WEBHOOK_SECRET", "DATABASE_URL", "PORT", "LOG_LEVEL", "HOST"):
        assert word in text
    assert not (tmp_path / "data").exists()       # --help does not start the daemon


def test_version(tmp_path):
    out = run_cli(["--version"], cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    # line 1: the version; line 2: the storage engines built in
    assert re.match(r"^hookd \d+\.\d+\.\d+\S*\nengines: sqlite( postgres)?\n$",
                    out.stdout.decode()), out.stdout


def test_unknown_argument(tmp_path):
    out = run_cli(["--bogus"], cwd=tmp_path)
    assert out.returncode != 0
    assert out.stderr.decode().strip()
    assert not (tmp_path / "data").exists()


def test_sign_without_secret_fails(tmp_path):
    out = run_cli(["--sign"], cwd=tmp_path, stdin=b"x")
    assert out.returncode != 0
    assert out.stdout == b""


def test_sign_matches_what_the_server_accepts(hookd_factory, tmp_path):
    d = hookd_factory(secret="cli-secret")
    m = message()
    body = encode(m)
    out = run_cli(["--sign"], env={"WEBHOOK_SECRET": "cli-secret"}, cwd=tmp_path, stdin=body)
    assert out.returncode == 0
    sig = out.stdout.decode().strip()
    assert sig == sign(body, "cli-secret")
    assert d.post_webhook(body, signature=sig).status == 200


# ---------------------------------------------------------------------------
# Restart persistence
# ---------------------------------------------------------------------------

def test_restart_keeps_rows_and_duplicates(hookd_factory, tmp_path):
    cwd = str(tmp_path / "persist")
    d1 = hookd_factory(cwd=cwd)
    m = message(text="before restart")
    assert d1.post_webhook(m).status == 200
    row = d1.row(m["message_id"])
    assert d1.stop() == 0
    assert d1.row(m["message_id"]) == row

    d2 = hookd_factory(cwd=cwd)
    assert d2.db_path == d1.db_path
    assert d2.request("GET", "/health/ready").status == 200
    again = dict(m, text="after restart")
    resp = d2.post_webhook(again, headers={"X-Request-ID": "after-restart"})
    assert resp.status == 200 and resp.json() == {"status": "ok"}
    rec = d2.wait_request_record(request_id="after-restart")
    assert rec["dup"] is True and rec["result"] == "duplicate"
    m2 = message()
    assert d2.post_webhook(m2).status == 200
    assert d2.stop() == 0
    rows = {r["message_id"]: r for r in d2.rows()}
    assert set(rows) == {m["message_id"], m2["message_id"]}
    assert rows[m["message_id"]] == row


def test_many_rows_survive_sigterm(hookd_factory, tmp_path):
    cwd = str(tmp_path / "many")
    d = hookd_factory(cwd=cwd)
    ids = [new_id("s") for _ in range(200)]
    c = d.conn()
    c.send(b"".join(webhook_request(message(message_id=i)) for i in ids))
    for _ in ids:
        assert c.read_response().status == 200
    c.close()
    assert d.stop() == 0
    assert {r["message_id"] for r in d.rows()} == set(ids)


# ---------------------------------------------------------------------------
# Signals
# ---------------------------------------------------------------------------

def test_sigterm_finishes_the_request_in_flight(hookd_factory):
    d = hookd_factory()
    m = message(text="in flight")
    body = encode(m)
    c = d.conn()
    assert c.request("GET", "/health/live").status == 200
    head = build_request("POST", "/webhook", headers=[
        ("X-Signature", sign(body)), ("Content-Length", str(len(body)))])
    c.send(head + body[:10])
    time.sleep(0.3)                         # the daemon has started reading it
    d.send_signal(signal.SIGTERM)
    d.wait_record(lambda r: r.get("event") == "shutdown", what="shutdown line")
    # No new connections are served while draining.
    try:
        extra = Conn(d.port, timeout=5)
        try:
            extra.send(build_request("GET", "/health/live"))
            late = extra.read_response(timeout=5)
            assert late.status == 503, late
        except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
            pass
        finally:
            extra.close()
    except ConnectionRefusedError:
        pass
    c.send(body[10:])
    resp = c.read_response(timeout=10)
    assert resp.status == 200, resp
    assert resp.json() == {"status": "ok"}
    assert resp.header("connection", "").lower() == "close"
    assert c.read_eof() == b""
    assert d.wait_exit() == 0, d.describe()
    d.stopped = True
    assert d.row(m["message_id"])["text"] == "in flight"
    events = [r.get("event") for r in d.records()]
    assert events.index("shutdown") < events.index("stopped")
    assert events[-1] == "stopped"


def test_sigterm_under_load_loses_no_acknowledged_message(hookd_factory):
    """Webhooks in flight at SIGTERM are finished, answered 200 and stored.
    Another connection holds the rows file's write lock, so all of them are
    provably waiting for their commit (hookd_requests_in_flight == n) when
    the signal arrives; the lock is released after it. Every one of them
    must be 200 (a shutdown that dropped them would fail here), and more
    webhooks sent during the shutdown may get 200, 503 or a close, but a
    200 among them must be stored too."""
    d = hookd_factory()
    n = 30
    msgs = [message(message_id=new_id("load")) for _ in range(n)]
    late_msgs = [message(message_id=new_id("late")) for _ in range(n)]
    conns = [d.conn(timeout=15) for _ in range(2 * n)]
    for c in conns:
        c.send(build_request("GET", "/health/live"))
        assert c.read_response().status == 200
    results = [None] * (2 * n)

    def run(i, m):
        try:
            conns[i].send(webhook_request(m))
            results[i] = conns[i].read_response(timeout=15).status
        except (ConnectionClosed, ConnectionResetError, BrokenPipeError):
            results[i] = "closed"
        finally:
            conns[i].close()

    with write_locked(d):
        threads = [threading.Thread(target=run, args=(i, msgs[i])) for i in range(n)]
        for t in threads:
            t.start()
        wait_until(lambda: metric_value(d, "hookd_requests_in_flight") == n, timeout=5,
                   what="%d webhooks waiting for their commit" % n)
        late = [threading.Thread(target=run, args=(n + i, late_msgs[i])) for i in range(n)]
        for t in late:
            t.start()
        d.send_signal(signal.SIGTERM)
        time.sleep(0.3)
    for t in threads + late:
        t.join(30)
    assert d.wait_exit() == 0, d.describe()
    d.stopped = True
    stored = {r["message_id"] for r in d.rows()}
    assert results[:n] == [200] * n, results[:n]
    for m in msgs:
        assert m["message_id"] in stored, "acknowledged message lost"
    for m, status in zip(late_msgs, results[n:]):
        assert status in (200, 503, "closed"), status
        if status == 200:
            assert m["message_id"] in stored, "acknowledged message lost"


def _shutdown_with_commits_waiting(hookd_factory, busy_ms, second_signal):
    """Another connection holds the write lock for the whole test: one
    webhook's batch waits busy_ms for it, four more wait in the queue
    behind it. Returns (seconds from SIGTERM to exit, statuses)."""
    d = hookd_factory(env={"DB_BUSY_TIMEOUT_MS": str(busy_ms)})
    msgs = [message(message_id=new_id("q")) for _ in range(5)]
    results = [None] * 5

    def run(i):
        try:
            results[i] = d.post_webhook(msgs[i], timeout=60).status
        except (OSError, ConnectionClosed):
            results[i] = "closed"

    threads = [threading.Thread(target=run, args=(i,)) for i in range(5)]
    with write_locked(d):
        threads[0].start()
        wait_until(lambda: metric_value(d, "hookd_requests_in_flight") == 1, timeout=5,
                   what="the first batch running")
        for t in threads[1:]:
            t.start()
        wait_until(lambda: metric_value(d, "hookd_requests_in_flight") == 5, timeout=5,
                   what="four webhooks queued behind it")
        t0 = time.monotonic()
        d.send_signal(signal.SIGTERM)
        if second_signal:
            time.sleep(0.5)
            d.send_signal(signal.SIGTERM)
        assert d.wait_exit(60) == 0, d.describe()
        took = time.monotonic() - t0
        d.stopped = True
    for t in threads:
        t.join(30)
    stored = {r["message_id"] for r in d.rows()}
    assert not stored & {m["message_id"] for m in msgs}, "stored under a held lock?"
    return took, results


def test_shutdown_grace_fails_the_commits_still_waiting(hookd_factory):
    """At the grace's end (10 s) webhooks still queued for a commit are
    answered 503 instead of each batch waiting DB_BUSY_TIMEOUT_MS in turn:
    the exit comes when the running batch gives up (12 s after it began),
    not a second 12 s later."""
    took, results = _shutdown_with_commits_waiting(hookd_factory, 12000, False)
    assert 10.0 < took < 15.5, took
    assert all(r in (503, "closed") for r in results), results
    assert results.count(503) >= 4, results


def test_second_signal_fails_the_waiting_commits_at_once(hookd_factory):
    """A second SIGTERM does not wait for the grace: the queued webhooks
    are answered 503 at once and only the running batch (3 s of lock wait)
    is waited for, not the next one too."""
    took, results = _shutdown_with_commits_waiting(hookd_factory, 3000, True)
    assert took < 4.8, took
    assert all(r in (503, "closed") for r in results), results


def metric_value(d, name):
    """A sample without labels from /metrics (None when absent)."""
    r = d.request("GET", "/metrics")
    assert r.status == 200, r
    m = re.search(r"^%s (\S+)$" % re.escape(name), r.body.decode(), re.M)
    return float(m.group(1)) if m else None


def test_sigterm_with_idle_connections_exits_promptly(hookd_factory):
    d = hookd_factory()
    idle = [d.conn() for _ in range(5)]
    for c in idle:
        assert c.request("GET", "/health/live").status == 200
    t0 = time.monotonic()
    assert d.stop() == 0, d.describe()
    assert time.monotonic() - t0 < 5.0
    for c in idle:
        assert c.read_eof(timeout=2) == b""


def test_sigint_exits_zero(hookd_factory):
    d = hookd_factory()
    m = message()
    assert d.post_webhook(m).status == 200
    assert d.stop(signal.SIGINT) == 0, d.describe()
    events = [r.get("event") for r in d.records()]
    assert "shutdown" in events and events[-1] == "stopped"
    assert d.row(m["message_id"]) is not None


def test_sigterm_right_after_start(hookd_factory):
    d = hookd_factory()
    assert d.stop() == 0, d.describe()


# ---------------------------------------------------------------------------
# Logs
# ---------------------------------------------------------------------------

def _exercise(d):
    """A mix of requests; returns {request_id: expected status}."""
    want = {}
    c = d.conn()
    cases = [
        ("l-live", build_request("GET", "/health/live", headers={"X-Request-ID": "l-live"}), 200),
        ("l-ready", build_request("GET", "/health/ready", headers={"X-Request-ID": "l-ready"}),
         200),
        ("l-404", build_request("GET", "/nope", headers={"X-Request-ID": "l-404"}), 404),
        ("l-405", build_request("GET", "/webhook", headers={"X-Request-ID": "l-405"}), 405),
        ("l-ok", webhook_request(message(message_id="log-ok"),
                                 headers={"X-Request-ID": "l-ok"}), 200),
        ("l-dup", webhook_request(message(message_id="log-ok"),
                                  headers={"X-Request-ID": "l-dup"}), 200),
        ("l-401", webhook_request(message(), signature=False,
                                  headers={"X-Request-ID": "l-401"}), 401),
        ("l-422", webhook_request(b"[1]", headers={"X-Request-ID": "l-422"}), 422),
    ]
    for rid, raw, status in cases:
        c.send(raw)
        resp = c.read_response()
        assert resp.status == status, (rid, resp)
        want[rid] = status
    c.close()
    g = d.conn()
    g.send(b"\x00\x01garbage\r\n\r\n")
    assert g.read_response().status == 400
    g.close()
    return want


def test_every_log_line_is_json_with_request_fields(hookd_factory):
    d = hookd_factory()
    want = _exercise(d)
    for rid in want:
        d.wait_request_record(request_id=rid)
    d.wait_request_record(status=400)
    assert d.stop() == 0
    recs = assert_all_lines_are_json(d)
    assert recs[0]["event"] == "listening" and recs[0]["port"] == d.port
    reqs = [r for r in recs if r.get("event") == "request"]
    for r in reqs:
        assert isinstance(r["request_id"], str) and RID_RE.match(r["request_id"]), r
        assert isinstance(r["status"], int), r
        assert isinstance(r["latency_ms"], (int, float)) and r["latency_ms"] >= 0, r
        assert "method" in r and "path" in r, r
    by_rid = {r["request_id"]: r for r in reqs}
    for rid, status in want.items():
        r = by_rid[rid]
        assert r["status"] == status, r
    assert by_rid["l-live"]["method"] == "GET" and by_rid["l-live"]["path"] == "/health/live"
    assert by_rid["l-404"]["path"] == "/nope"
    ok, dup = by_rid["l-ok"], by_rid["l-dup"]
    assert (ok["method"], ok["path"], ok["message_id"], ok["dup"], ok["result"]) == (
        "POST", "/webhook", "log-ok", False, "created")
    assert (dup["message_id"], dup["dup"], dup["result"]) == ("log-ok", True, "duplicate")
    assert by_rid["l-401"]["result"] == "invalid_signature"
    assert by_rid["l-401"]["level"] == "ERROR"
    assert "message_id" not in by_rid["l-401"]      # nothing parsed on 401
    assert by_rid["l-422"]["result"] == "validation_error"
    assert [r["event"] for r in recs[-2:]] == ["shutdown", "stopped"]


def test_generated_request_ids_are_unique_in_logs(hookd_factory):
    d = hookd_factory()
    rids = []
    for i in range(10):
        rids.append(d.request("GET", "/health/live").header("x-request-id"))
        rids.append(d.post_webhook(message()).header("x-request-id"))
    assert len(set(rids)) == len(rids)
    wait_until(lambda: len(d.request_records()) >= len(rids), what="request lines")
    logged = [r["request_id"] for r in d.request_records()]
    assert len(set(logged)) == len(logged)
    assert set(rids) <= set(logged)


def test_request_ids_differ_across_restarts(hookd_factory, tmp_path):
    cwd = str(tmp_path / "rid")
    d1 = hookd_factory(cwd=cwd)
    a = {d1.request("GET", "/health/live").header("x-request-id") for _ in range(3)}
    assert d1.stop() == 0
    d2 = hookd_factory(cwd=cwd)
    b = {d2.request("GET", "/health/live").header("x-request-id") for _ in range(3)}
    assert not (a & b), (a, b)


@pytest.mark.parametrize("level,allowed", [
    ("ERROR", {"ERROR"}),
    ("WARN", {"WARN", "ERROR"}),
])
def test_log_level_filters(hookd_factory, level, allowed):
    d = hookd_factory(env={"LOG_LEVEL": level})
    _exercise(d)
    d.wait_request_record(request_id="l-401")        # an ERROR line always shows
    assert d.stop() == 0
    recs = assert_all_lines_are_json(d)
    assert recs, "nothing logged"
    bad = [r for r in recs if r["level"] not in allowed]
    assert not bad, bad
    if level == "WARN":
        assert any(r.get("request_id") == "l-422" for r in recs) or any(
            r.get("request_id") == "l-404" for r in recs), "no WARN-level request lines"
    assert not any(r.get("request_id") in ("l-live", "l-ok") for r in recs)


def test_log_level_debug_keeps_info(hookd_factory):
    d = hookd_factory(env={"LOG_LEVEL": "DEBUG"})
    assert d.request("GET", "/health/live", headers={"X-Request-ID": "dbg"}).status == 200
    rec = d.wait_request_record(request_id="dbg")
    assert rec["status"] == 200


TRICKY_IDS = [
    'q"uote',
    "back\\slash",
    "new\nline",
    "cr\rlf",
    "tab\t",
    "ctl\x01\x1f\x7f",
    "\u00e9 \u00fcn\u00ef \u4e16\u754c \U0001F600",
    "</script><b>",
    "line\u2028sep\u2029",
    "{\"json\":[1]}",
    "\ufeffbom",
]


@pytest.mark.parametrize("mid", TRICKY_IDS, ids=range(len(TRICKY_IDS)))
def test_message_id_is_json_escaped_in_logs(hookd_factory, mid):
    d = hookd_factory()
    m = message(message_id=mid)
    resp = d.post_webhook(m, headers={"X-Request-ID": "esc"})
    assert resp.status == 200, resp
    rec = d.wait_request_record(request_id="esc")
    assert rec["message_id"] == mid
    assert d.row(mid)["message_id"] == mid
    # Also on a validation error.
    bad = message(message_id=mid + "-bad", ts="nope")
    assert d.post_webhook(bad, headers={"X-Request-ID": "esc-422"}).status == 422
    assert d.wait_request_record(request_id="esc-422")["message_id"] == mid + "-bad"
    assert d.stop() == 0
    assert_all_lines_are_json(d)


def test_long_message_id_is_stored_whole_and_logged_as_valid_json(hookd_factory):
    d = hookd_factory()
    # 255 bytes (the limit is 256): the log keeps 128, and byte 128 falls
    # inside a two-byte character, which must not be split.
    mid = "x" + "\u00e9" * 127
    assert d.post_webhook(message(message_id=mid), headers={"X-Request-ID": "long"}).status == 200
    rec = d.wait_request_record(request_id="long")
    assert isinstance(rec["message_id"], str) and mid.startswith(rec["message_id"])
    assert d.row(mid) is not None
    assert d.stop() == 0
    assert_all_lines_are_json(d)


def test_odd_paths_are_escaped_in_logs(hookd_factory):
    d = hookd_factory()
    c = d.conn()
    c.send(b'GET /a"b\\c%00\xc3\xa9 HTTP/1.1\r\nHost: x\r\nX-Request-ID: odd\r\n\r\n')
    resp = c.read_response()
    assert resp.status in (400, 404), resp
    c = d.conn()
    c.send(b"GET /bad\xff\xfe\xc0 HTTP/1.1\r\nHost: x\r\nX-Request-ID: odd2\r\n\r\n")
    resp2 = c.read_response()
    assert resp2.status in (400, 404), resp2
    wait_until(lambda: len(d.request_records()) >= 2, what="two request lines")
    assert d.stop() == 0
    recs = assert_all_lines_are_json(d)       # valid UTF-8 JSON despite the \xff bytes
    if resp.status == 404:
        odd = [r for r in recs if r.get("request_id") == "odd"][0]
        assert odd["path"] == '/a"b\\c%00\u00e9'


def test_slow_stdout_does_not_block_requests(hookd_factory):
    # Nobody reads stdout: the pipe fills after a few hundred lines. hookd
    # must keep answering (it may drop log lines, never block the loop).
    d = hookd_factory(drain_stdout=False)
    c = d.conn()
    t0 = time.monotonic()
    n = 3000
    batch = 100
    for _ in range(n // batch):
        c.send(b"".join(build_request("GET", "/health/live", headers={"X-Pad": "p" * 200})
                        for _ in range(batch)))
        for _ in range(batch):
            assert c.read_response(timeout=10).status == 200
    m = message()
    c.send(webhook_request(m))
    assert c.read_response(timeout=10).status == 200
    assert time.monotonic() - t0 < 30
    c.close()
    d.start_stdout_drain()
    assert d.stop() == 0, d.describe()
    assert_all_lines_are_json(d)
    assert d.row(m["message_id"]) is not None


def test_locked_database_503_unready_then_recovers(hookd_factory):
    """Another process holds the write lock past DB_BUSY_TIMEOUT_MS: the
    webhook gets 503 + Retry-After and is not stored, readiness turns 503
    with the reason; once the lock is gone the same webhook is stored and
    readiness recovers."""
    srv = hookd_factory(env={"DB_BUSY_TIMEOUT_MS": "200"})
    assert srv.request("GET", "/health/ready").status == 200
    # With PostgreSQL hookd's lock_timeout is DB_BUSY_TIMEOUT_MS.
    with write_locked(srv):
        payload = message(message_id="locked-1")
        r = srv.post_webhook(payload)
        assert r.status == 503, r
        assert r.header("Retry-After") == "1"
        assert r.json() == {"detail": "database busy, retry later"}
        ready = srv.request("GET", "/health/ready")
        assert ready.status == 503
        assert "writes failing" in ready.json()["detail"]
        srv.wait_record(lambda rec: rec.get("event") == "db_error")
    assert srv.row("locked-1") is None
    r = srv.post_webhook(payload)
    assert r.status == 200, r
    assert srv.row("locked-1") is not None
    assert srv.request("GET", "/health/ready").status == 200
