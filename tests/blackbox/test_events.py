"""GET /events, GET /snapshot and GET /rejections (issue 14): the live
console's feed.

Streams are read over raw sockets with a small Server-Sent Events parser
written here from the spec (lines `field: value`, events end at a blank
line, `:` lines are comments). Memory is measured from /proc/PID/status."""

import json
import os
import re
import resource
import signal
import socket
import threading
import time

import pytest

from hookd_harness import (write_locked, Conn, ConnectionClosed, HOST, ISO_UTC_RE, build_request,
                           hookd_factory, message, wait_until)

__all__ = ["hookd_factory"]

ID_RE = re.compile(r"^[0-9a-f]{8}-[1-9][0-9]*$")


class Stream:
    """An /events subscriber on a raw socket."""

    def __init__(self, srv, headers=None, path="/events", rcvbuf=None, read_head=True):
        if rcvbuf:
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
            s.connect((HOST, srv.port))
            self.c = Conn.__new__(Conn)
            self.c.sock, self.c.timeout, self.c.buf, self.c.eof = s, 10.0, b"", False
            Conn._open.append(self.c)
        else:
            self.c = srv.conn()
        self.c.send(build_request("GET", path, headers=headers))
        self.head = self.c.read_head() if read_head else None
        self.comments = []

    @property
    def status(self):
        return self.head[1]

    def header(self, name):
        for k, v in self.head[3]:
            if k.lower() == name.lower():
                return v
        return None

    def next(self, timeout=5.0):
        """The next event as a dict of fields (data joined with \\n)."""
        deadline = time.monotonic() + timeout
        ev = {}
        while True:
            left = deadline - time.monotonic()
            line = self.c.read_until(b"\n", max(left, 0.001)).decode("utf-8")[:-1]
            if line == "":
                if ev:
                    return ev
                continue
            if line.startswith(":"):
                self.comments.append(line)
                continue
            name, _, value = line.partition(":")
            value = value[1:] if value.startswith(" ") else value
            if name == "data" and "data" in ev:
                ev["data"] += "\n" + value
            else:
                ev[name] = value

    def next_of(self, kind, timeout=5.0):
        """Skips events of other kinds until one of `kind`."""
        deadline = time.monotonic() + timeout
        while True:
            ev = self.next(max(deadline - time.monotonic(), 0.001))
            if ev.get("event") == kind:
                return ev

    def close(self):
        self.c.close()


def snapshot(srv, query="history=0"):
    r = srv.request("GET", "/snapshot?" + query)
    assert r.status == 200, r
    return r.json()


def vm(pid, field):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no %s" % field)


# ---- format -------------------------------------------------------------

def test_event_stream_format(hookd_factory):
    srv = hookd_factory()
    s = Stream(srv)
    assert s.status == 200
    assert s.header("Content-Type") == "text/event-stream; charset=utf-8"
    assert s.header("Cache-Control") == "no-cache"
    assert s.header("Content-Length") is None
    assert s.header("Connection") == "close"
    assert s.header("X-Request-ID")
    first = s.next()
    assert first == {"retry": "2000"}
    snap = s.next()
    assert snap["event"] == "snapshot" and "id" not in snap
    body = json.loads(snap["data"])
    for key in ("t", "started", "version", "connections", "subscribers", "max_subscribers",
                "queue_depth", "in_flight", "webhooks", "requests", "rejections_total",
                "last_event_id", "history"):
        assert key in body, key
    assert body["subscribers"] == 1 and body["last_event_id"] is None
    assert set(body["webhooks"]) == {"created", "duplicate", "invalid_signature",
                                     "validation_error", "db_error", "overloaded",
                                     "not_configured"}

    m = message(text="line one\nline two \u2028 <b>x</b>")
    assert srv.post_webhook(m).status == 200
    ev = s.next_of("message")
    assert ID_RE.match(ev["id"]), ev
    assert ev["id"].endswith("-1")
    data = json.loads(ev["data"])
    received = data.pop("received_at")
    assert ISO_UTC_RE.match(received)
    assert data == m
    assert "\n" not in ev["data"]  # one data line: JSON escapes newlines

    # Snapshots keep coming, about once a second, with one history point.
    a = json.loads(s.next_of("snapshot", timeout=3)["data"])
    b = json.loads(s.next_of("snapshot", timeout=3)["data"])
    assert 500 <= b["t"] - a["t"] <= 1600
    assert b["history"]["n"] == 1 and len(b["history"]["created"]) == 1
    assert b["webhooks"]["created"] == 1 and b["last_event_id"] == ev["id"]
    # A duplicate is not a new message: no event for it.
    assert srv.post_webhook(m).status == 200
    nxt = s.next(timeout=3)
    assert nxt["event"] == "snapshot"
    assert json.loads(nxt["data"])["webhooks"]["duplicate"] == 1


def test_message_event_only_after_commit(hookd_factory):
    """Another process holds the write lock: the webhook waits for it, and
    its event must not appear until its transaction commits; when it does
    appear, the row is already in the database file."""
    srv = hookd_factory(env={"DB_BUSY_TIMEOUT_MS": "20000"})
    s = Stream(srv)
    s.next_of("snapshot")
    m = message()
    result = {}
    t = threading.Thread(target=lambda: result.update(r=srv.post_webhook(m, timeout=30)))
    with write_locked(srv):
        t.start()
        until = time.monotonic() + 1.5
        while time.monotonic() < until:
            ev = s.next(timeout=2)
            assert ev.get("event") == "snapshot", "an event before the commit: %r" % ev
        assert "r" not in result
    ev = s.next_of("message", timeout=10)
    assert json.loads(ev["data"])["message_id"] == m["message_id"]
    assert srv.row(m["message_id"]) is not None  # durable before it was announced
    t.join(10)
    assert result["r"].status == 200


# ---- resume -------------------------------------------------------------

def test_last_event_id_resumes_from_the_ring(hookd_factory):
    srv = hookd_factory()
    s = Stream(srv)
    msgs = [message() for _ in range(4)]
    ids = []
    for m in msgs:
        assert srv.post_webhook(m).status == 200
        ids.append(s.next_of("message")["id"])
    s.close()
    for how in ("header", "query"):
        if how == "header":
            r = Stream(srv, headers={"Last-Event-ID": ids[1]})
        else:
            r = Stream(srv, path="/events?last_event_id=" + ids[1])
        assert r.next() == {"retry": "2000"}
        got = [r.next(), r.next()]
        assert [e["id"] for e in got] == ids[2:]
        assert [json.loads(e["data"])["message_id"] for e in got] == \
            [m["message_id"] for m in msgs[2:]]
        assert r.next()["event"] == "snapshot"
        r.close()
    # Up to date: nothing is replayed.
    r = Stream(srv, headers={"Last-Event-ID": ids[-1]})
    assert r.next() == {"retry": "2000"}
    assert r.next()["event"] == "snapshot"
    r.close()
    # An id from another process (or garbage): the client is told to reload.
    for bad in ("00000000-1", "nonsense", ids[-1].split("-")[0] + "-99"):
        r = Stream(srv, headers={"Last-Event-ID": bad})
        assert r.next() == {"retry": "2000"}
        ev = r.next()
        assert ev["event"] == "reset", (bad, ev)
        assert "reason" in json.loads(ev["data"])
        r.close()


# ---- limits, slow and stuck subscribers ---------------------------------

def test_subscriber_limit_answers_503(hookd_factory):
    srv = hookd_factory(env={"EVENTS_MAX_SUBSCRIBERS": "2"})
    a, b = Stream(srv), Stream(srv)
    assert a.status == b.status == 200
    c = srv.conn()
    r = c.request("GET", "/events")
    assert r.status == 503
    assert r.header("Retry-After") == "5"
    assert r.json() == {"detail": "too many event subscribers"}
    # The refused connection is still a good keep-alive connection.
    assert c.request("GET", "/health/live").status == 200
    a.close()
    wait_until(lambda: snapshot(srv)["subscribers"] == 1, timeout=5, what="a freed slot")
    d = Stream(srv)
    assert d.status == 200
    assert srv.request("GET", "/events").status == 503


def test_slow_subscriber_gets_a_final_event(hookd_factory):
    """A subscriber that stops reading is dropped once its queue is full;
    if it reads again within STREAM_END_MS it sees `dropped`, then EOF."""
    srv = hookd_factory()
    slow = Stream(srv, rcvbuf=4096)
    fast = Stream(srv)
    seen = []

    def read_fast():
        while len(seen) < 120:
            ev = fast.next(timeout=10)
            if ev.get("event") == "message":
                seen.append(json.loads(ev["data"])["message_id"])

    reader = threading.Thread(target=read_fast)
    reader.start()
    sent = [message(text="x" * 4000) for _ in range(120)]
    for m in sent:
        assert srv.post_webhook(m).status == 200
    wait_until(lambda: snapshot(srv)["subscribers_dropped"] == 1, timeout=5,
               what="the slow subscriber dropped")
    events = []
    try:
        while True:
            events.append(slow.next(timeout=5))
    except ConnectionClosed:
        pass
    assert events[-1]["event"] == "dropped", events[-1]
    assert "too slow" in json.loads(events[-1]["data"])["reason"]
    kinds = {e.get("event") for e in events[:-1]}
    assert kinds <= {None, "snapshot", "message"}
    # The one that reads saw every message, in order, and is still there.
    reader.join(15)
    assert seen == [m["message_id"] for m in sent]
    assert snapshot(srv)["subscribers"] == 1


def test_thousand_stuck_subscribers_are_dropped_and_memory_stays_bounded(hookd_factory):
    """1,000 subscribers that never read, while 120 messages of 4 KB are
    published (each subscriber would need ~500 KB to keep them all): every
    one is dropped and closed, and the daemon's peak RSS grows by far less
    than one copy per subscriber (events are shared chunks; queues are
    bounded in count and bytes)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < 1200:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, 4096), hard))
    n_subs = 1000
    # Under AddressSanitizer freed memory sits in a quarantine (256 MB by
    # default) and would count as resident: keep it small so RSS shows
    # what is live. Harmless for a build without ASan.
    asan = (os.environ.get("ASAN_OPTIONS", "") + ":quarantine_size_mb=1").lstrip(":")
    srv = hookd_factory(env={"EVENTS_MAX_SUBSCRIBERS": str(n_subs + 10), "ASAN_OPTIONS": asan})
    pid = srv.pid
    rss0 = vm(pid, "VmRSS")
    subs = []
    for _ in range(n_subs):
        subs.append(Stream(srv, rcvbuf=4096, read_head=False))
    wait_until(lambda: snapshot(srv)["subscribers"] == n_subs, timeout=30,
               what="1000 subscribers")
    rss_subscribed = vm(pid, "VmRSS")
    text = "y" * 4000
    for _ in range(120):
        assert srv.post_webhook(message(text=text)).status == 200
    wait_until(lambda: snapshot(srv)["subscribers"] == 0, timeout=30,
               what="every stuck subscriber dropped and closed")
    snap = snapshot(srv)
    assert snap["subscribers_dropped"] == n_subs
    peak = vm(pid, "VmHWM")
    grown = peak - rss0
    naive = n_subs * 120 * 4000  # one copy of every event per subscriber
    print("rss before %d KiB, with 1000 subscribers %d KiB, peak %d KiB (+%d KiB); "
          "per-subscriber copies would be %d KiB" % (rss0 // 1024, rss_subscribed // 1024,
                                                     peak // 1024, grown // 1024, naive // 1024))
    assert grown < 64 * 1024 * 1024, "peak RSS grew by %d KiB" % (grown // 1024)
    assert grown < naive // 8
    # The server closed them: each socket sees EOF (after what fit in buffers).
    for s in subs[:50]:
        s.c.sock.settimeout(5)
        try:
            while s.c.sock.recv(65536):
                pass
        except (ConnectionResetError, socket.timeout) as e:
            assert isinstance(e, ConnectionResetError), "subscriber not closed"
    # And the daemon still serves.
    assert srv.post_webhook(message()).status == 200
    for s in subs:
        s.close()


def test_streams_have_no_idle_timeout_and_others_keep_theirs(hookd_factory):
    srv = hookd_factory(env={"IDLE_TIMEOUT_MS": "400"})
    s = Stream(srv)
    assert s.next() == {"retry": "2000"}
    c = srv.conn()
    assert c.request("GET", "/health/live").status == 200
    t0 = time.monotonic()
    assert c.closed_within(3)
    assert time.monotonic() - t0 < 2.0
    # The stream is still delivering, long past the idle timeout, and sends
    # a heartbeat comment every 15 s.
    deadline = time.monotonic() + 16.5
    while not s.comments and time.monotonic() < deadline:
        assert s.next(timeout=3)["event"] == "snapshot"
    assert s.comments and s.comments[0].startswith(":"), "no heartbeat within 16 s"


def test_sigterm_ends_open_streams(hookd_factory):
    srv = hookd_factory()
    s = Stream(srv)
    s.next_of("snapshot")
    srv.send_signal(signal.SIGTERM)
    t0 = time.monotonic()
    with pytest.raises(ConnectionClosed):
        while True:
            s.next(timeout=5)
    assert time.monotonic() - t0 < 4
    assert srv.wait_exit() == 0


# ---- /snapshot and /rejections -----------------------------------------

def test_snapshot_history_counts_and_console_label(hookd_factory):
    srv = hookd_factory()
    ok = [message() for _ in range(3)]
    for m in ok:
        assert srv.post_webhook(m).status == 200
    assert srv.post_webhook(ok[0]).status == 200           # duplicate
    assert srv.post_webhook(message(), signature="0" * 64).status == 401
    assert srv.post_webhook({"message_id": "x"}).status == 422
    for i in range(4):                                     # the console's own reads
        assert srv.request("GET", "/messages", headers={"X-Request-ID": "console-%d" % i}).status == 200
    assert srv.request("GET", "/stats").status == 200      # someone else's read
    # The console tag is the client's word: it hides neither a webhook nor an error.
    tagged = message()
    assert srv.post_webhook(tagged, headers={"X-Request-ID": "console-w"}).status == 200
    assert srv.request("GET", "/messages?limit=0",
                       headers={"X-Request-ID": "console-e"}).status == 422
    time.sleep(2.2)                                        # let the seconds close
    snap = snapshot(srv, "history=60")
    h = snap["history"]
    assert h["n"] == len(h["created"]) == len(h["p99_ms"]) <= 60
    assert sum(h["created"]) == 4 and sum(h["duplicate"]) == 1 and sum(h["rejected"]) == 2
    assert sum(h["req_2xx"]) == 4 + 1 + 1
    assert sum(h["req_4xx"]) == 3
    assert sum(h["console"]) >= 4
    assert snap["requests"]["2xx"] == 6 and snap["requests"]["console"] >= 4
    assert any(v is not None and v > 0 for v in h["p99_ms"])
    assert [d["message"]["message_id"] for d in snap["messages"]] == \
        [m["message_id"] for m in ok + [tagged]]
    assert snap["reset"] is False
    later = snapshot(srv, "history=0&after=" + snap["messages"][0]["id"])
    assert [d["message"]["message_id"] for d in later["messages"]] == \
        [m["message_id"] for m in ok[1:] + [tagged]]
    assert snapshot(srv, "after=zzz")["reset"] is True
    # More came after `after` than `limit` lets through: the newest, and reset.
    cut = snapshot(srv, "history=0&limit=2&after=" + snap["messages"][0]["id"])
    assert [d["message"]["message_id"] for d in cut["messages"]] == \
        [m["message_id"] for m in (ok + [tagged])[-2:]]
    assert cut["reset"] is True
    whole = snapshot(srv, "history=0&limit=3&after=" + snap["messages"][0]["id"])
    assert len(whole["messages"]) == 3 and whole["reset"] is False
    for bad in ("history=3601", "history=-1", "limit=101", "history=x"):
        r = srv.request("GET", "/snapshot?" + bad)
        assert r.status == 422, bad


def test_rejections_ring(hookd_factory):
    srv = hookd_factory(env={"MAX_BODY_BYTES": "2048"})
    secret_sig = "ab" * 32
    bad_sig = message(text="do not keep this body")
    assert srv.post_webhook(bad_sig, signature=secret_sig,
                            headers={"X-Request-ID": "rej-1"}).status == 401
    m422 = message(from_="not-a-number", to="nor-this")
    assert srv.post_webhook(m422, headers={"X-Request-ID": "rej-2"}).status == 422
    c = srv.conn()
    r = c.request("POST", "/webhook", headers={"X-Request-ID": "rej-3"}, body=b"x" * 4096)
    assert r.status == 413
    r = srv.request("GET", "/rejections")
    assert r.status == 200 and r.header("Cache-Control") == "no-store"
    body = r.json()
    assert body["total"] == 3 and body["max"] == 100
    d = body["data"]
    assert [x["request_id"] for x in d] == ["rej-3", "rej-2", "rej-1"]   # newest first
    assert [x["status"] for x in d] == [413, 422, 401]
    assert [x["seq"] for x in d] == [3, 2, 1]
    for x in d:
        assert set(x) == {"seq", "at", "request_id", "peer", "status", "reason", "message_id"}
        assert ISO_UTC_RE.match(x["at"])
        assert re.match(r"^127\.0\.0\.1:\d+$", x["peer"]), x
    assert d[2]["reason"] == "invalid_signature: invalid signature"
    assert d[2]["message_id"] is None                      # never parsed: unknown
    assert d[1]["message_id"] == m422["message_id"]
    assert d[1]["reason"] == ("validation_error: from: must be '+' followed by 1 to 15 digits"
                              " (E.164) (and more)")
    assert "too large" in d[0]["reason"].lower()
    assert secret_sig not in r.body.decode() and "do not keep" not in r.body.decode()
    # Bounded: the newest 100 of 105.
    for i in range(102):
        srv.post_webhook(message(), signature=False)
    body = srv.request("GET", "/rejections").json()
    assert body["total"] == 105 and len(body["data"]) == 100
    assert body["data"][0]["seq"] == 105 and body["data"][-1]["seq"] == 6
    assert len(srv.request("GET", "/rejections?limit=5").json()["data"]) == 5
    assert srv.request("GET", "/rejections?limit=101").status == 422


@pytest.mark.parametrize("value", ["-1", "many", "100001", "1e3"])
def test_malformed_events_max_subscribers_stops_startup(hookd_factory, value):
    d = hookd_factory(env={"EVENTS_MAX_SUBSCRIBERS": value}, wait=False)
    assert d.wait_exit(20) == 2, d.describe()
    lines = [line for line in d.stderr_text().splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("hookd: EVENTS_MAX_SUBSCRIBERS: "), lines


def test_zero_subscribers_turns_the_stream_off(hookd_factory):
    srv = hookd_factory(env={"EVENTS_MAX_SUBSCRIBERS": "0"})
    assert srv.request("GET", "/events").status == 503
    assert srv.request("GET", "/snapshot").status == 200  # polling still works
