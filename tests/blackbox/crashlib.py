"""Crash-test machinery shared by tests/blackbox/test_crash.py,
tests/powerloss/test_powerloss.py and scripts/crash_soak.py.

- Load: concurrent keep-alive clients posting signed webhooks (skewed
  senders, texts with known needles); every 200 is recorded as acknowledged.
- Kill: SIGKILL at a random moment, or while the indexer lags (its batch is
  then likely in flight).
- Checks, after the daemon died and again after it restarted on the same
  files and caught up: every acknowledged message_id is stored, the files
  pass their integrity check, and every figure the HTTP API derives (/stats,
  totals per sender, since, q needles, first pages) equals what Python
  computes from the rows alone.

- Server crashes (PostgreSQL): the database server stops at once
  (immediate shutdown) under load while hookd keeps running; hookd must
  answer only 200 or 503 meanwhile, and after the server's crash recovery
  every acknowledged message_id is there and hookd is ready again without a
  restart of its own.

Everything engine-specific (where the rows are, how to read them, integrity
checks, the engine's own derived structures, its crash modes) is in an
engine class in crash_engines.py (SqliteEngine, PgEngine)."""

import json
import random
import re
import signal
import threading
import time
import urllib.parse

from hookd_harness import (ConnectionClosed, Conn, request, wait_until, webhook_request)

SENDERS = ["+1555%07d" % i for i in range(40)]
# Skewed: a few senders get most messages, so the top 10 has distinct counts.
WEIGHTS = [40 - i for i in range(40)]
WORDS = ["alpha", "bravo", "Charlie", "DELTA", "\u00c9t\u00e9", "\u00e9T\u00c9", "echo", "kilo"]
# Needles for /messages?q= (lower-case ASCII or already folded; 2-character
# needles take the scan path, 3+ the trigram index) and one that never matches.
NEEDLES = ["alpha", "charlie", "delta", "\u00e9t\u00e9", "lp", "ilo e", "zzzz"]


def ts_key(ts):
    """hookd's chronological key, computed here independently: no Z, no
    trailing fraction zeros, no bare dot."""
    k = ts[:-1]
    if "." in k:
        k = k.rstrip("0").rstrip(".")
    return k


def fold(text):
    """Case folding for the alphabet WORDS uses (ASCII and e-acute), where
    lower() and Unicode simple case folding agree."""
    return text.lower()


def make_message(mid, rnd):
    sender = rnd.choices(SENDERS, WEIGHTS)[0]
    ts = "2025-%02d-%02dT%02d:%02d:%02d" % (rnd.randint(1, 12), rnd.randint(1, 28),
                                           rnd.randint(0, 23), rnd.randint(0, 59),
                                           rnd.randint(0, 59))
    if rnd.random() < 0.3:
        ts += ".%d" % rnd.randint(1, 9)   # a fraction whose key keeps it
    text = " ".join(rnd.choice(WORDS) for _ in range(rnd.randint(1, 3))) + " %s" % mid
    m = {"message_id": mid, "from": sender, "to": "+14155550100", "ts": ts + "Z", "text": text}
    if rnd.random() < 0.05:
        m["text"] = None
    return m


class Load:
    """`clients` threads, each on its own keep-alive connection, posting
    unique webhooks until stop() or until the daemon goes away."""

    def __init__(self, port, prefix, clients=8, seed=None):
        self.port = port
        self.prefix = prefix
        self.clients = clients
        self.acked = []          # message_ids answered 200
        self.refused = 0         # 503 answers (not acknowledged)
        self.no_retry_after = 0  # 503 answers without "Retry-After: 1"
        self.other = []          # any other status: a failure
        self.errors = []         # a client's connection failed (reset, timeout)
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._seed = seed if seed is not None else random.randrange(1 << 30)
        self._threads = [threading.Thread(target=self._client, args=(k,), daemon=True)
                         for k in range(clients)]

    def start(self):
        for t in self._threads:
            t.start()
        return self

    def stop(self):
        self._stop.set()
        for t in self._threads:
            t.join(20)

    def count(self):
        with self._lock:
            return len(self.acked)

    def _client(self, k):
        rnd = random.Random(self._seed * 131 + k)
        i = 0
        conn = None
        while not self._stop.is_set():
            mid = "%s-%d-%d" % (self.prefix, k, i)
            i += 1
            try:
                if conn is None:
                    conn = Conn(self.port, timeout=10)
                conn.send(webhook_request(make_message(mid, rnd)))
                r = conn.read_response(timeout=10)
            except (OSError, ConnectionClosed, AssertionError) as e:
                # The daemon was killed (or closed the connection): stop.
                # Recorded, for the modes where hookd keeps running.
                with self._lock:
                    self.errors.append("%s: %r" % (mid, e))
                if conn:
                    conn.close()
                return
            with self._lock:
                if r.status == 200:
                    self.acked.append(mid)
                elif r.status == 503:
                    self.refused += 1
                    if r.header("Retry-After") != "1":
                        self.no_retry_after += 1
                else:
                    self.other.append((mid, r.status, r.body[:200]))
            if r.header("connection", "").lower() == "close":
                conn.close()
                conn = None
        if conn:
            conn.close()


# ---------------------------------------------------------------------------
# HTTP helpers
# ---------------------------------------------------------------------------

def get_json(port, path):
    r = request(port, "GET", path, timeout=20)
    assert r.status == 200, (path, r.status, r.body[:300])
    return r.json()


def metrics(port):
    """Unlabelled samples of /metrics as {name: float}."""
    r = request(port, "GET", "/metrics", timeout=10)
    assert r.status == 200
    out = {}
    for line in r.body.decode().splitlines():
        m = re.match(r"^([a-zA-Z_:][a-zA-Z0-9_:]*) (\S+)$", line)
        if m:
            out[m.group(1)] = float(m.group(2))
    return out


def index_lag(port):
    return metrics(port).get("hookd_index_lag_rows")


def wait_ready(port, timeout=60):
    wait_until(lambda: request(port, "GET", "/health/ready", timeout=10).status == 200,
               timeout=timeout, interval=0.05, what="/health/ready 200")


def wait_caught_up(port, timeout=60):
    wait_until(lambda: index_lag(port) == 0, timeout=timeout, interval=0.05,
               what="index lag 0")


def q(s):
    return urllib.parse.quote(s, safe="")


# ---------------------------------------------------------------------------
# Checks through the HTTP API (any engine)
# ---------------------------------------------------------------------------

def api_problems(port, rows):
    """Every figure the API derives, against the rows."""
    probs = []
    counts = {}
    for r in rows:
        counts[r["from"]] = counts.get(r["from"], 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    by_key = sorted(rows, key=lambda r: (ts_key(r["ts"]), r["message_id"]))
    stats = get_json(port, "/stats")
    want = {
        "total_messages": len(rows),
        "senders_count": len(counts),
        "messages_per_sender": [{"from": f, "count": n} for f, n in top],
        "first_message_ts": by_key[0]["ts"] if rows else None,
        "last_message_ts": by_key[-1]["ts"] if rows else None,
    }
    if stats != want:
        probs.append("/stats %s != rows %s" % (json.dumps(stats)[:400], json.dumps(want)[:400]))
    for sender in SENDERS:
        page = get_json(port, "/messages?limit=3&from=" + q(sender))
        if page["total"] != counts.get(sender, 0):
            probs.append("total for %s: %d, rows say %d"
                         % (sender, page["total"], counts.get(sender, 0)))
    mine = [r for r in by_key if r["from"] == SENDERS[0]]
    page = get_json(port, "/messages?limit=20&from=" + q(SENDERS[0]))
    if [m["message_id"] for m in page["data"]] != [r["message_id"] for r in mine[:20]]:
        probs.append("first page for %s differs" % SENDERS[0])
    page = get_json(port, "/messages?limit=100&order=desc")
    if [m["message_id"] for m in page["data"]] != [r["message_id"] for r in by_key[::-1][:100]]:
        probs.append("first page (desc) differs")
    if page["total"] != len(rows):
        probs.append("/messages total %d, rows %d" % (page["total"], len(rows)))
    since = "2025-07-01T00:00:00Z"
    n = sum(1 for r in rows if ts_key(r["ts"]) >= ts_key(since))
    got = get_json(port, "/messages?limit=1&since=" + q(since))["total"]
    if got != n:
        probs.append("since total %d, rows say %d" % (got, n))
    for needle in NEEDLES:
        want_ids = [r["message_id"] for r in by_key
                    if r["text"] is not None and needle in fold(r["text"])]
        page = get_json(port, "/messages?limit=50&q=" + q(needle))
        if page["total"] != len(want_ids):
            probs.append("q=%r total %d, rows say %d" % (needle, page["total"], len(want_ids)))
        elif [m["message_id"] for m in page["data"]] != want_ids[:50]:
            probs.append("q=%r first page differs" % needle)
    return probs


# ---------------------------------------------------------------------------
# One crash cycle
# ---------------------------------------------------------------------------

class Tally:
    """What a run did, for the test's assertions and the README figures."""

    def __init__(self):
        self.cycles = 0
        self.acked = set()
        self.kills_lagging = 0     # kills while hookd_index_lag_rows > 0
        self.behind_at_restart = 0  # the index mark below the last row after the kill
        self.full_checks = 0
        self.refused = 0
        self.server_crashes = 0     # the database server crashed, hookd kept running
        self.hookd_kills = 0

    def summary(self):
        return ("%d crash cycles (%d kill -9 of hookd, %d database server crashes), "
                "%d acknowledged webhooks checked, %d kills with index lag > 0, "
                "%d restarts with the index behind, %d full derived checks, %d refused (503)"
                % (self.cycles, self.hookd_kills, self.server_crashes, len(self.acked),
                   self.kills_lagging, self.behind_at_restart, self.full_checks, self.refused))


def kill_during_load(d, prefix, rnd, mode, min_acked=200, max_wait=30.0):
    """Runs Load against daemon d and SIGKILLs it: `random` after a random
    time, `indexing` at a moment the indexer lags. Returns (load, lag_at_kill)."""
    load = Load(d.port, prefix, seed=rnd.randrange(1 << 30)).start()
    deadline = time.monotonic() + max_wait
    lag = None
    try:
        wait_until(lambda: load.count() >= min_acked, timeout=max_wait, interval=0.01,
                   what="%d acknowledged webhooks" % min_acked)
        if mode == "indexing":
            while time.monotonic() < deadline:
                lag = index_lag(d.port)
                if lag:
                    break
                time.sleep(0.005)
            time.sleep(rnd.uniform(0, 0.02))
        else:
            time.sleep(rnd.uniform(0.0, 0.6))
            lag = index_lag(d.port)
    finally:
        d.stopped = True           # the pool must not expect an orderly exit
        d.proc.send_signal(signal.SIGKILL)
        d.proc.wait(20)
        load.stop()
    return load, lag


def server_crash_during_load(d, engine, prefix, rnd, min_acked=200, max_wait=30.0):
    """Runs Load against daemon d and crashes the database server under it
    at a random moment; hookd keeps running and answers (503) while the
    server is down; the server then restarts and runs crash recovery.
    Returns the load, stopped."""
    load = Load(d.port, prefix, seed=rnd.randrange(1 << 30)).start()
    try:
        wait_until(lambda: load.count() >= min_acked, timeout=max_wait, interval=0.01,
                   what="%d acknowledged webhooks" % min_acked)
        time.sleep(rnd.uniform(0.0, 0.6))
        engine.crash_server()
        down = load.refused
        wait_until(lambda: load.refused > down, timeout=10, interval=0.01,
                   what="503 while the database server is down")
    finally:
        load.stop()
        engine.start_server()
    # hookd kept running: every client kept its connection (or was told to
    # close it) and every refusal said when to retry.
    assert not load.errors, "clients failed while the server was down: %r" % load.errors[:5]
    assert load.no_retry_after == 0, "%d answers 503 without Retry-After" % load.no_retry_after
    return load


def check_offline(engine, acked):
    """Right after the kill, before any restart."""
    stored = {r["message_id"] for r in engine.rows()}
    lost = [m for m in acked if m not in stored]
    assert not lost, "acknowledged but lost: %d, e.g. %r" % (len(lost), lost[:5])
    bad = {p: r for p, r in engine.integrity().items() if r != "ok"}
    assert not bad, "integrity_check: %r" % bad


def api_walk(port, total):
    """Every message_id through GET /messages, page by page (oldest first)."""
    out = []
    while len(out) < total:
        page = get_json(port, "/messages?limit=100&offset=%d" % len(out))
        if not page["data"]:
            break
        out.extend(m["message_id"] for m in page["data"])
    return out


def check_full(engine, port, acked, catch_up=60, walk=False):
    """After a restart: the indexer catches up, then every derived figure
    agrees with the rows, through the API and in the engine's files. With
    walk, every message is also read back through the API, in order."""
    wait_ready(port, timeout=catch_up)
    if engine.has_index:
        wait_caught_up(port, timeout=catch_up)
    rows = engine.rows()
    stored = {r["message_id"] for r in rows}
    lost = [m for m in acked if m not in stored]
    assert not lost, "acknowledged but lost after restart: %d" % len(lost)
    probs = api_problems(port, rows) + engine.derived_problems(rows)
    if walk:
        want = [r["message_id"] for r in sorted(rows, key=lambda r: (ts_key(r["ts"]),
                                                                      r["message_id"]))]
        got = api_walk(port, len(rows))
        if got != want:
            missing = set(acked) - set(got)
            probs.append("walking /messages: %d ids (rows %d), %d acknowledged missing"
                         % (len(got), len(want), len(missing)))
    assert not probs, "\n".join(probs[:10])
    bad = {p: r for p, r in engine.integrity().items() if r != "ok"}
    assert not bad, "integrity_check: %r" % bad


def crash_cycles(start, engine, tally, cycles=None, seconds=None, min_cycles=1, env=None,
                 seed=None, full_every=1, log=None):
    """Runs crash cycles: start a daemon on the engine's files, load, crash
    (the engine's modes in turn), check offline, restart, check everything.
    `start(env)` returns a
    running Hookd. Stops after `cycles`, or once `seconds` have passed and
    at least `min_cycles` ran. Returns the last (running) daemon."""
    rnd = random.Random(seed)
    e = dict(engine.env())
    e.update(env or {})
    t0 = time.monotonic()
    d = start(e)
    i = 0
    while True:
        if cycles is not None and i >= cycles:
            break
        if seconds is not None and i >= min_cycles and time.monotonic() - t0 >= seconds:
            break
        mode = engine.modes[i % len(engine.modes)]
        prefix = "c%d-%d" % (i, rnd.randrange(1 << 20))
        lag = mark = last = None
        if mode == "server":
            load = server_crash_during_load(d, engine, prefix, rnd)
            tally.server_crashes += 1
        else:
            load, lag = kill_during_load(d, prefix, rnd, mode)
            tally.hookd_kills += 1
        assert not load.other, "unexpected answers: %r" % load.other[:5]
        tally.acked.update(load.acked)
        tally.refused += load.refused
        if lag:
            tally.kills_lagging += 1
        check_offline(engine, tally.acked)
        if mode != "server":
            mark, last = engine.offline_state()
            if mark is not None and mark < last:
                tally.behind_at_restart += 1
            d = start(e)
        i += 1
        tally.cycles = i
        if i % full_every == 0:
            check_full(engine, d.port, tally.acked)
            tally.full_checks += 1
        if log:
            log("cycle %d (%s): %d acked, lag at kill %r, mark %r / last %r"
                % (i, mode, len(load.acked), lag, mark, last))
    check_full(engine, d.port, tally.acked, walk=True)
    tally.full_checks += 1
    return d
