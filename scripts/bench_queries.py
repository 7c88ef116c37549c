#!/usr/bin/env python3
"""Query-latency benchmark for hookd's read side (issue 3, "Scale").

Builds a data set of --rows messages from --senders senders directly in a
fresh hookd database (schema created by hookd itself; the loader then fills
the aggregate tables and the trigram index with the same SQL hookd's writer
runs per batch, over the whole load), starts the release binary
on it and measures the median / p90 / p99 latency of GET /messages and
GET /stats over persistent keep-alive HTTP/1.1 connections.

Targets (median): 10 ms for every query, 50 ms for q=.

    scripts/bench_queries.py                   # 1,000,000 rows, 200 requests each
    scripts/bench_queries.py --rows 100000 --requests 50
    scripts/bench_queries.py --keep /tmp/hookd-bench   # reuse the DB on the next run

Python 3 standard library only.
"""

import argparse
import bisect
import datetime as dt
import http.client
import json
import os
import random
import re
import shlex
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import urllib.parse

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SECRET = "bench"
RARE_TOKEN = "zqxjv"
RARE_ROWS = 7
TS_START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)
TS_SPAN_S = 182 * 86400  # ~6 months
META = "bench-meta.json"


class Deadline:
    def __init__(self, seconds):
        self.end = time.monotonic() + seconds

    def left(self):
        return self.end - time.monotonic()

    def check(self, what):
        if self.left() <= 0:
            raise SystemExit("bench: time limit exceeded during %s" % what)


def log(msg):
    print(msg, flush=True)


# ---------------------------------------------------------------------------
# Build
# ---------------------------------------------------------------------------

# ---------------------------------------------------------------------------
# Daemon control
# ---------------------------------------------------------------------------

class Hookd:
    def __init__(self, binary, workdir, db_path):
        self.binary = binary
        self.workdir = workdir
        self.db_path = db_path
        self.proc = None
        self.port = None
        self.log_path = os.path.join(workdir, "hookd.log")

    def start(self, timeout=60.0):
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "LD_LIBRARY_PATH", "TMPDIR")}
        env.update({
            "DATABASE_URL": "sqlite:///" + os.path.abspath(self.db_path),
            "HOST": "127.0.0.1",
            "PORT": "0",
            "WEBHOOK_SECRET": SECRET,
        })
        # stdout to a file: the daemon never blocks on a full pipe.
        self.logf = open(self.log_path, "ab")
        offset = self.logf.tell()
        self.proc = subprocess.Popen([self.binary], cwd=self.workdir, env=env,
                                     stdin=subprocess.DEVNULL, stdout=self.logf,
                                     stderr=subprocess.STDOUT)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            with open(self.log_path, "rb") as f:
                f.seek(offset)
                for line in f.read().splitlines():
                    try:
                        ev = json.loads(line)
                    except ValueError:
                        continue
                    if isinstance(ev, dict) and ev.get("event") == "listening":
                        self.port = int(ev["port"])
                        return self.port
            if self.proc.poll() is not None:
                raise SystemExit("bench: hookd exited with %s before listening; see %s"
                                 % (self.proc.returncode, self.log_path))
            time.sleep(0.02)
        raise SystemExit("bench: hookd did not print its listening line within %.0f s" % timeout)

    def stop(self, timeout=30.0):
        """SIGTERM by PID; SIGKILL if it does not exit in time. Returns the exit code."""
        if not self.proc:
            return None
        p, self.proc = self.proc, None
        try:
            if p.poll() is None:
                p.send_signal(signal.SIGTERM)
            try:
                rc = p.wait(timeout=timeout)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=10)
                raise SystemExit("bench: hookd ignored SIGTERM for %.0f s; killed" % timeout)
        finally:
            self.logf.close()
        return rc


# ---------------------------------------------------------------------------
# Data set
# ---------------------------------------------------------------------------

def make_vocab(rng, n):
    """n distinct pseudo-words (consonant-vowel syllables, so no accidental
    'zqxjv'), a few real ones, and some non-ASCII words."""
    cons = "bcdfghklmnprstvw"
    vow = "aeiou"
    real = ["hello", "order", "delivery", "payment", "thanks", "please", "tomorrow", "today",
            "meeting", "invoice", "refund", "status", "address", "confirm", "shipped", "ticket"]
    non_ascii = ["été", "naïve", "café", "привет", "спасибо", "ПРИВЕТ", "你好", "谢谢",
                 "こんにちは", "Größe", "straße", "señor", "niño", "ÉCOLE", "über", "Ελλάδα",
                 "😀", "👍", "🚚", "مرحبا"]
    words = set(real) | set(non_ascii)
    out = real + non_ascii
    while len(out) < n:
        w = "".join(rng.choice(cons) + rng.choice(vow) for _ in range(rng.randint(2, 4)))
        if rng.random() < 0.3:
            w += rng.choice(cons)
        if w not in words:
            words.add(w)
            out.append(w)
    rng.shuffle(out)
    return out


def ts_strings(sec, frac_kind, frac_digits):
    """(ts, ts_key) for an offset in seconds from TS_START."""
    base = (TS_START + dt.timedelta(seconds=sec)).strftime("%Y-%m-%dT%H:%M:%S")
    if frac_kind == 0:
        return base + "Z", base
    frac = frac_digits
    ts = "%s.%sZ" % (base, frac)
    stripped = frac.rstrip("0")
    return ts, (base + "." + stripped) if stripped else base


def gen_rows(rng, n_rows, n_senders):
    """Yields insert tuples; returns nothing. Deterministic for a seed."""
    senders = set()
    while len(senders) < n_senders:
        senders.add("+" + str(rng.randint(1, 9)) + "".join(
            str(rng.randint(0, 9)) for _ in range(rng.choice((10, 11)))))
    senders = sorted(senders)
    rng.shuffle(senders)
    # Mildly skewed senders: weight 1/(rank+50) -> busiest ~20x the quietest.
    cum, acc = [], 0.0
    for i in range(n_senders):
        acc += 1.0 / (i + 50)
        cum.append(acc)
    vocab = make_vocab(rng, 4000)
    wcum, acc = [], 0.0
    for i in range(len(vocab)):  # Zipf-like word frequencies
        acc += 1.0 / (i + 3)
        wcum.append(acc)
    recipients = ["+14155550100", "+14155550101", "+442071838750", "+919800000001"]
    rare_at = set(rng.sample(range(n_rows), min(RARE_ROWS, n_rows)))
    rare_forms = [RARE_TOKEN, RARE_TOKEN.upper(), "x" + RARE_TOKEN + "9", "Zqxjv", RARE_TOKEN]
    # Chronological arrival with jitter: sorted uniform seconds.
    secs = sorted(rng.randrange(TS_SPAN_S) for _ in range(n_rows))
    choices = rng.choices
    rnd = rng.random
    for i in range(n_rows):
        sec = secs[i]
        r = rnd()
        if r < 0.6:
            ts, key = ts_strings(sec, 0, None)
        elif r < 0.9:
            ts, key = ts_strings(sec, 1, "%03d" % rng.randrange(1000))
        else:
            ts, key = ts_strings(sec, 1, "%06d" % rng.randrange(1000000))
        frm = senders[bisect.bisect_left(cum, rnd() * cum[-1])]
        if i in rare_at:
            text = "ref %s %s" % (rng.choice(rare_forms), " ".join(
                choices(vocab, cum_weights=wcum, k=3)))
        elif rnd() < 0.1:
            text = None
        else:
            k = 1 + int(rnd() * rnd() * 14)
            words = choices(vocab, cum_weights=wcum, k=k)
            if rnd() < 0.3:
                words[0] = words[0].capitalize()
            text = " ".join(words)
            if rnd() < 0.2:
                text += rng.choice(("?", "!", ".", " :)", "\n", " \"ok\""))
        created = (TS_START + dt.timedelta(seconds=sec + 2)).strftime("%Y-%m-%dT%H:%M:%S.000Z")
        yield ("wamid.%012x%07d" % (rng.getrandbits(48), i), frm, recipients[i & 3],
               ts, key, text, created)


def _fold_char(c):
    """hookd's simple case folding of one character (scripts/gen_casefold.py)."""
    f = c.casefold()
    if len(f) != 1:
        f = c.lower()
    return f if len(f) == 1 else c


def hookd_fold(text):
    return None if text is None else "".join(_fold_char(c) for c in text)


def load(db_path, n_rows, n_senders, seed, deadline):
    rng = random.Random(seed)
    con = sqlite3.connect(db_path, isolation_level=None)
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-2000000")  # ~2 GB
    con.execute("PRAGMA temp_store=MEMORY")
    con.execute("PRAGMA journal_mode=MEMORY")  # hookd switches back to WAL at start
    sql = ("INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, text, "
           "created_at) VALUES(?, ?, ?, ?, ?, ?, ?)")
    t0 = time.perf_counter()
    rows = gen_rows(rng, n_rows, n_senders)
    batch = 100_000
    done = 0
    while done < n_rows:
        deadline.check("load")
        chunk = []
        for _ in range(min(batch, n_rows - done)):
            chunk.append(next(rows))
        con.execute("BEGIN")
        con.executemany(sql, chunk)
        con.execute("COMMIT")
        done += len(chunk)
        print("  loaded %d/%d (%.1f s)" % (done, n_rows, time.perf_counter() - t0),
              end="\r", flush=True)
    print()
    # Only the rows: hookd's indexer builds every derived structure (the
    # index file) itself when it starts (timed separately by main()).
    t_load = time.perf_counter() - t0
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    return t_load


def dataset_facts(db_path):
    """What the queries should see, computed independently of hookd."""
    con = sqlite3.connect(db_path)
    con.create_function("py_contains", 2,
                        lambda t, n: 0 if t is None else int(n in t.lower()),
                        deterministic=True)
    f = {}
    f["total"] = con.execute("SELECT count(*) FROM messages").fetchone()[0]
    f["senders"] = con.execute("SELECT count(DISTINCT from_msisdn) FROM messages").fetchone()[0]
    # A sender with ~100 rows (closest to 100, ties by number).
    f["from"], f["from_n"] = con.execute(
        "SELECT from_msisdn, n FROM (SELECT from_msisdn, count(*) n FROM messages GROUP BY 1)"
        " ORDER BY abs(n - 100), from_msisdn LIMIT 1").fetchone()
    lo, hi = con.execute("SELECT min(ts_key), max(ts_key) FROM messages").fetchone()
    t_lo = dt.datetime.fromisoformat(lo[:19])
    t_hi = dt.datetime.fromisoformat(hi[:19])
    mid = t_lo + (t_hi - t_lo) / 2
    f["since"] = mid.strftime("%Y-%m-%dT%H:%M:%S") + ".5Z"
    since_key = f["since"][:-1]
    f["since_n"] = con.execute("SELECT count(*) FROM messages WHERE ts_key >= ?",
                               (since_key,)).fetchone()[0]
    f["from_since_n"] = con.execute(
        "SELECT count(*) FROM messages WHERE from_msisdn = ? AND ts_key >= ?",
        (f["from"], since_key)).fetchone()[0]
    f["rare_n"] = con.execute("SELECT count(*) FROM messages WHERE py_contains(text, ?)",
                              (RARE_TOKEN,)).fetchone()[0]
    # A common word: the most frequent pseudo-word of 5+ letters among a sample.
    counts = {}
    for (t,) in con.execute("SELECT text FROM messages WHERE text IS NOT NULL LIMIT 20000"):
        for w in t.split():
            if len(w) >= 5 and w.isascii() and w.isalpha() and w.islower():
                counts[w] = counts.get(w, 0) + 1
    f["common"] = max(sorted(counts), key=lambda w: counts[w])
    f["common_n"] = con.execute("SELECT count(*) FROM messages WHERE py_contains(text, ?)",
                                (f["common"],)).fetchone()[0]
    con.close()
    return f


# ---------------------------------------------------------------------------
# Measurement
# ---------------------------------------------------------------------------

def ts_key_of(ts):
    base, frac = ts[:19], ts[20:-1] if len(ts) > 20 else ""
    frac = frac.rstrip("0")
    return base + "." + frac if frac else base


def check_messages(body, want_total, limit=50, offset=0):
    d = json.loads(body)
    if set(d) != {"data", "total", "limit", "offset"}:
        return "keys %s" % sorted(d)
    if d["limit"] != limit or d["offset"] != offset:
        return "limit/offset echo %s/%s" % (d["limit"], d["offset"])
    if want_total is not None and d["total"] != want_total:
        return "total %s, expected %s" % (d["total"], want_total)
    if d["total"] <= 0:
        return "total is 0"
    exp_len = max(0, min(limit, d["total"] - offset))
    if len(d["data"]) != exp_len:
        return "%d rows, expected %d" % (len(d["data"]), exp_len)
    prev = None
    for m in d["data"]:
        if set(m) != {"message_id", "from", "to", "ts", "text"}:
            return "row keys %s" % sorted(m)
        k = (ts_key_of(m["ts"]), m["message_id"])
        if prev is not None and k <= prev:
            return "rows out of order at %s" % m["message_id"]
        prev = k
    return None


def check_stats(body, facts):
    d = json.loads(body)
    want = {"total_messages", "senders_count", "messages_per_sender", "first_message_ts",
            "last_message_ts"}
    if set(d) != want:
        return "keys %s" % sorted(d)
    if d["total_messages"] != facts["total"] or d["senders_count"] != facts["senders"]:
        return "totals %s/%s" % (d["total_messages"], d["senders_count"])
    top = d["messages_per_sender"]
    if len(top) != min(10, facts["senders"]):
        return "top has %d entries" % len(top)
    if [(-e["count"], e["from"]) for e in top] != sorted((-e["count"], e["from"]) for e in top):
        return "top not ordered"
    if not d["first_message_ts"] or not d["last_message_ts"]:
        return "null first/last ts"
    return None


def percentile(sorted_vals, p):
    """Nearest-rank percentile."""
    if not sorted_vals:
        return float("nan")
    k = max(0, min(len(sorted_vals) - 1, int(-(-p * len(sorted_vals) // 100)) - 1))
    return sorted_vals[k]


def measure(port, path, check, n_req, n_warm, deadline, cold=True):
    """Latencies of GET path. cold: every request carries a distinct, ignored
    parameter (bench=N), so hookd's response cache (keyed by the raw query)
    never answers and every request runs its SQL; otherwise the same URL
    repeats and, with no writes in between, the cache answers."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    lat = []
    total = None
    try:
        for i in range(n_warm + n_req):
            deadline.check("measuring %s" % path)
            url = path
            if cold:
                url += ("&" if "?" in path else "?") + "bench=%d" % i
            t0 = time.perf_counter()
            conn.request("GET", url)
            resp = conn.getresponse()
            body = resp.read()
            t1 = time.perf_counter()
            if resp.status != 200:
                raise SystemExit("bench: GET %s -> %d %s" % (path, resp.status, body[:300]))
            if resp.getheader("Connection", "").lower() == "close" or resp.will_close:
                raise SystemExit("bench: GET %s: server closed the keep-alive connection" % path)
            if i == 0 or i == n_warm:
                err = check(body)
                if err:
                    raise SystemExit("bench: GET %s: unexpected response: %s\n%s"
                                     % (path, err, body[:500]))
                d = json.loads(body)
                total = d.get("total", d.get("total_messages"))
            if i >= n_warm:
                lat.append((t1 - t0) * 1000.0)
    finally:
        conn.close()
    lat.sort()
    return lat, total


# ---------------------------------------------------------------------------

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--hookd", help="hookd binary (default: build and use build-release/hookd)")
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--senders", type=int, default=10_000)
    ap.add_argument("--requests", type=int, default=200, help="measured requests per query")
    ap.add_argument("--warmup", type=int, default=20, help="warm-up requests per query")
    ap.add_argument("--seed", type=int, default=20250115)
    ap.add_argument("--keep", metavar="DIR",
                    help="keep the database in DIR and reuse it if it is already there")
    ap.add_argument("--time-limit", type=float, default=3600, help="seconds for everything")
    a = ap.parse_args()
    if a.rows < 1000 or a.senders < 1 or a.senders > a.rows or a.requests < 1 or a.warmup < 0:
        ap.error("need --rows >= 1000, 1 <= --senders <= --rows, --requests >= 1")
    deadline = Deadline(a.time_limit)

    log("machine: %s; python %s, sqlite %s"
        % (benchlib.machine_info(), sys.version.split()[0], sqlite3.sqlite_version))
    log("command: %s" % " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv))

    binary = os.path.abspath(a.hookd) if a.hookd else benchlib.build_release(log, timeout=max(1, deadline.left()))
    if not os.access(binary, os.X_OK):
        raise SystemExit("bench: %s is not executable" % binary)
    log("hookd: %s" % binary)

    if a.keep:
        workdir = os.path.abspath(a.keep)
        os.makedirs(workdir, exist_ok=True)
    else:
        workdir = tempfile.mkdtemp(prefix="hookd-bench-")
    db_path = os.path.join(workdir, "app.db")
    meta_path = os.path.join(workdir, META)
    daemon = Hookd(binary, workdir, db_path)

    try:
        meta = None
        if a.keep and os.path.exists(meta_path) and os.path.exists(db_path):
            with open(meta_path) as f:
                meta = json.load(f)
            log("reusing %s (rows=%d senders=%d seed=%d); load skipped"
                % (db_path, meta["rows"], meta["senders"], meta["seed"]))
            if (meta["rows"], meta["senders"], meta["seed"]) != (a.rows, a.senders, a.seed):
                log("note: --rows/--senders/--seed differ from the kept database; "
                    "delete %s to rebuild" % workdir)
        else:
            for p in (db_path, db_path + "-wal", db_path + "-shm", meta_path):
                if os.path.exists(p):
                    os.unlink(p)
            daemon.start()
            rc = daemon.stop()
            if rc != 0:
                raise SystemExit("bench: hookd exited %s after SIGTERM (expected 0)" % rc)
            log("schema created by hookd; loading %d rows from %d senders (seed %d)"
                % (a.rows, a.senders, a.seed))
            t_load = load(db_path, a.rows, a.senders, a.seed, deadline)
            log("load: %.1f s (%.0f rows/s, rows only); db %.0f MB"
                % (t_load, a.rows / t_load, os.path.getsize(db_path) / 1e6))
            meta = {"rows": a.rows, "senders": a.senders, "seed": a.seed}
            with open(meta_path, "w") as f:
                json.dump(meta, f)

        facts = dataset_facts(db_path)
        log("data: %d messages, %d senders; from=%s (%d rows); since=%s (%d rows); "
            "q=%s (%d rows); q=%s (%d rows)"
            % (facts["total"], facts["senders"], facts["from"], facts["from_n"],
               facts["since"], facts["since_n"], RARE_TOKEN, facts["rare_n"],
               facts["common"], facts["common_n"]))

        t_start = time.perf_counter()
        port = daemon.start()
        log("hookd listening on 127.0.0.1:%d (pid %d)" % (port, daemon.proc.pid))
        # The indexer catches up from its mark (from 0 after a fresh load):
        # reads answer 503 until the lag is under INDEX_MAX_LAG.
        lag = None
        while True:
            deadline.check("index catch-up")
            try:
                c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
                c.request("GET", "/metrics")
                body = c.getresponse().read().decode()
                c.close()
                m = re.search(r"^hookd_index_lag_rows (\d+)$", body, re.M)
                lag = int(m.group(1)) if m else None
            except OSError:
                lag = None
            if lag == 0:
                break
            time.sleep(0.2)
        log("index: caught up in %.1f s after start (%d rows, from an empty index file)"
            % (time.perf_counter() - t_start, facts["total"]))
        enc = lambda s: urllib.parse.quote(s, safe="")
        frm, since = enc(facts["from"]), enc(facts["since"])
        # (name, path, check, target ms, in the contract)
        queries = [
            ("first page", "/messages",
             lambda b: check_messages(b, facts["total"]), 10, True),
            ("offset=10000", "/messages?offset=10000",
             lambda b: check_messages(b, facts["total"], offset=10000), 10, True),
            ("from=", "/messages?from=" + frm,
             lambda b: check_messages(b, facts["from_n"]), 10, True),
            ("since= (middle)", "/messages?since=" + since,
             lambda b: check_messages(b, facts["since_n"]), 10, True),
            ("/stats", "/stats", lambda b: check_stats(b, facts), 10, True),
            ("q= rare", "/messages?q=" + RARE_TOKEN,
             lambda b: check_messages(b, facts["rare_n"]), 50, True),
            ("q= common", "/messages?q=" + facts["common"],
             lambda b: check_messages(b, facts["common_n"]), 50, False),
            ("from=&since=", "/messages?from=%s&since=%s" % (frm, since),
             lambda b: check_messages(b, facts["from_since_n"]), 10, False),
        ]
        results = []
        for name, path, check, target, contract in queries:
            lat, total = measure(port, path, check, a.requests, a.warmup, deadline)
            warm, _ = measure(port, path, check, a.requests, a.warmup, deadline, cold=False)
            results.append((name, path, lat, total, target, contract, warm))

        log("")
        log("%d requests per query after %d warm-up, one keep-alive connection each"
            % (a.requests, a.warmup))
        log("SQL run on every request (a distinct ignored parameter defeats the cache);"
            " 'cached' repeats one URL")
        log("%-16s %9s %9s %9s %9s %7s %10s  %s" % ("query", "median ms", "p90 ms", "p99 ms",
                                                    "total", "target", "cached p50", "result"))
        failed = 0
        for name, path, lat, total, target, contract, warm in results:
            med = percentile(lat, 50)
            ok = med < target
            if contract and not ok:
                failed += 1
            log("%-16s %9.2f %9.2f %9.2f %9d %5d ms %10.2f  %s%s"
                % (name, med, percentile(lat, 90), percentile(lat, 99), total, target,
                   percentile(warm, 50), "PASS" if ok else "FAIL",
                   "" if contract else " (extra, not in the contract)"))
        rc = daemon.stop()
        if rc != 0:
            log("warning: hookd exited %s after SIGTERM" % rc)
        log("")
        log("%s: %d contract quer%s missed the target" % ("FAIL" if failed else "PASS", failed,
                                                         "y" if failed == 1 else "ies"))
        if a.keep:
            log("database kept in %s" % workdir)
        return 1 if failed else 0
    finally:
        daemon.stop()
        if not a.keep:
            for name in os.listdir(workdir):
                os.unlink(os.path.join(workdir, name))
            os.rmdir(workdir)


if __name__ == "__main__":
    sys.exit(main())
