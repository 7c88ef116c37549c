"""Run-time footprint of hookd, for scripts/footprint.py: resident memory
(/proc/PID/status) idle, with many keep-alive connections and at the end of
the unique-webhook benchmark, and the time from exec to READY=1.

    import footprint_run
    footprint_run.idle_rss("build-static/hookd.stripped", "/tmp/x")   # {'rss', 'hwm', 'anon', 'file'} MB
    footprint_run.startup_to_ready(binary, "/tmp/x/app.db")          # {'median', 'runs'} seconds
"""
import contextlib
import json
import os
import re
import resource
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import time

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, SCRIPTS)
import benchlib  # noqa: E402

HOST = "127.0.0.1"
SECRET = "footprint-secret"


def note(msg):
    print("  .. " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------

def proc_mem(pid):
    """{'rss', 'hwm', 'anon', 'file'} in MB from /proc/PID/status."""
    keys = {"VmRSS": "rss", "VmHWM": "hwm", "RssAnon": "anon", "RssFile": "file"}
    out = {}
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            k, _, v = line.partition(":")
            if k in keys:
                out[keys[k]] = int(v.split()[0]) / 1024.0
    return out


class Daemon:
    """hookd on 127.0.0.1:0 with DATABASE_URL=sqlite:///DB, LOG_LEVEL=WARN
    (stdout to a file), and a NOTIFY_SOCKET this object owns: start() returns
    the seconds from exec to READY=1."""

    def __init__(self, binary, db_path):
        self.binary = binary
        self.db_path = os.path.abspath(db_path)
        self.dir = os.path.dirname(self.db_path)
        self.proc = None
        self.port = None

    def start(self, timeout=120.0):
        sock_path = os.path.join(self.dir, "notify-%d.sock" % os.getpid())
        if os.path.exists(sock_path):
            os.unlink(sock_path)
        ns = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        ns.bind(sock_path)
        env = {k: v for k, v in os.environ.items() if k in ("PATH", "TMPDIR")}
        env.update({"DATABASE_URL": "sqlite:///" + self.db_path, "HOST": HOST, "PORT": "0",
                    "WEBHOOK_SECRET": SECRET, "LOG_LEVEL": "WARN", "NOTIFY_SOCKET": sock_path})
        self.out = open(os.path.join(self.dir, "hookd.log"), "ab")
        try:
            t0 = time.monotonic()
            self.proc = subprocess.Popen([self.binary], cwd=self.dir, env=env,
                                         stdin=subprocess.DEVNULL, stdout=self.out,
                                         stderr=subprocess.STDOUT)
            ns.settimeout(timeout)
            while True:
                try:
                    msg = ns.recv(4096).decode()
                except socket.timeout:
                    self.stop()
                    raise SystemExit("footprint: no READY=1 from hookd within %.0f s" % timeout)
                if "READY=1" in msg.split("\n"):
                    elapsed = time.monotonic() - t0
                    break
        finally:
            ns.close()
            os.unlink(sock_path)
        self.port = benchlib.listen_port(self.proc.pid)
        if not self.port:
            self.stop()
            raise SystemExit("footprint: hookd said READY=1 but listens on no TCP port")
        return elapsed

    def mem(self):
        return proc_mem(self.proc.pid)

    def stop(self, timeout=30.0):
        if self.proc is None:
            return None
        p, self.proc = self.proc, None
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
        try:
            rc = p.wait(timeout)
        except subprocess.TimeoutExpired:
            p.kill()
            rc = p.wait(10)
        self.out.close()
        return rc


def _raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want:
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(want, hard), hard))


def idle_rss(binary, workdir, settle=1.0):
    """RSS (MB dict) of a daemon on an empty database, settle s after READY."""
    d = Daemon(binary, os.path.join(workdir, "idle.db"))
    d.start()
    try:
        time.sleep(settle)
        return d.mem()
    finally:
        d.stop()


def _read_response(s, buf):
    while b"\r\n\r\n" not in buf:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("connection closed")
        buf += chunk
    head, _, rest = buf.partition(b"\r\n\r\n")
    m = re.search(rb"(?im)^content-length:\s*(\d+)", head)
    n = int(m.group(1)) if m else 0
    while len(rest) < n:
        chunk = s.recv(65536)
        if not chunk:
            raise OSError("connection closed")
        rest += chunk
    return int(head.split(b" ", 2)[1]), rest[n:]


def keepalive_rss(binary, workdir, n=1000, settle=1.0):
    """RSS with n open keep-alive connections, each having done one
    GET /health/live (so each has had its buffers and parser set up)."""
    _raise_nofile(n + 256)
    d = Daemon(binary, os.path.join(workdir, "keepalive.db"))
    d.start()
    socks = []
    try:
        req = ("GET /health/live HTTP/1.1\r\nHost: %s\r\n\r\n" % HOST).encode()
        for _ in range(n):
            s = socket.create_connection((HOST, d.port), timeout=30)
            s.sendall(req)
            socks.append(s)
        ok = 0
        for s in socks:
            status, _ = _read_response(s, b"")
            ok += status == 200
        if ok != n:
            raise SystemExit("footprint: %d of %d keep-alive requests failed" % (n - ok, n))
        time.sleep(settle)
        mem = d.mem()
        mem["connections"] = n
        return mem
    finally:
        for s in socks:
            s.close()
        d.stop()


def bench_end_rss(binary, workdir, seconds=10, connections=64, threads=2):
    """RSS at the end of the unique-webhook benchmark (scripts/bench.py's
    scenario 1: wrk + scripts/wrk/webhook.lua on gen_requests.py ids), and
    the peak (hwm) during it."""
    if not shutil.which("wrk"):
        raise SystemExit("footprint: wrk not found (scripts/install-deps.sh --bench)")
    _raise_nofile(connections + 256)
    reqs = os.path.join(workdir, "unique.tsv")
    count = 30000 * seconds  # above hookd's unique-webhook rate on this machine
    subprocess.run([sys.executable, os.path.join(SCRIPTS, "gen_requests.py"), "--count",
                    str(count), "--secret", SECRET, "--prefix", "fp%d" % os.getpid(),
                    "--out", reqs], check=True, capture_output=True, timeout=900)
    d = Daemon(binary, os.path.join(workdir, "bench.db"))
    d.start()
    try:
        cmd = ["wrk", "-t%d" % threads, "-c%d" % connections, "-d%ds" % seconds, "--timeout",
               "10s", "-s", os.path.join(SCRIPTS, "wrk", "webhook.lua"),
               "http://%s:%d/webhook" % (HOST, d.port), "--", reqs, str(threads)]
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 180)
        mem = d.mem()
        m = re.search(r"^HOOKD_WRK .*$", p.stdout, re.M)
        kv = dict(x.split("=", 1) for x in m.group(0).split()[1:] if "=" in x) if m else {}
        mem["wrk"] = " ".join(cmd[:4])
        mem["non2xx"] = int(kv.get("non2xx", 0))
        mem["requests"] = int(kv["requests"]) if "requests" in kv else None
        if mem["requests"] and int(kv.get("duration_us", 0)) > 0:
            mem["rps"] = round(mem["requests"] / (int(kv["duration_us"]) / 1e6))
        else:
            mem["rps"] = None
        if p.returncode != 0:
            raise SystemExit("footprint: wrk failed: %s" % p.stderr[-1000:])
        return mem
    finally:
        d.stop()


def startup_to_ready(binary, db_path, runs=3):
    """Median and all of `runs` exec-to-READY times (seconds) on db_path."""
    times = []
    for _ in range(runs):
        d = Daemon(binary, db_path)
        times.append(d.start())
        d.stop()
    return {"median": statistics.median(times), "runs": times}


def rows_db(binary, rows, keep_dir):
    """A database of `rows` messages (schema by hookd itself, rows by
    bench_queries.load, as scripts/bench_queries.py builds it), kept in
    keep_dir and reused while the binary's schema stays the same."""
    import bench_queries  # noqa: E402  (only needed here)
    os.makedirs(keep_dir, exist_ok=True)
    db = os.path.join(keep_dir, "rows-%d.db" % rows)
    meta_path = db + ".json"
    d = Daemon(binary, os.path.join(keep_dir, "schema.db"))
    d.start()
    d.stop()
    schema = _schema(os.path.join(keep_dir, "schema.db"))
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(os.path.join(keep_dir, "schema.db" + suffix)):
            os.unlink(os.path.join(keep_dir, "schema.db" + suffix))
    if os.path.exists(meta_path) and os.path.exists(db):
        with open(meta_path) as f:
            if json.load(f).get("schema") == schema:
                return db
    for suffix in ("", "-wal", "-shm"):
        if os.path.exists(db + suffix):
            os.unlink(db + suffix)
    note("building a %d-row database in %s (kept for the next run)" % (rows, keep_dir))
    d = Daemon(binary, db)
    d.start()
    d.stop()
    with contextlib.redirect_stdout(sys.stderr):  # its progress line
        bench_queries.load(db, rows, max(1, rows // 100), 1, bench_queries.Deadline(3600))
    # The rows alone: hookd's indexer builds the index file on the first
    # start (READY waits for it); what is measured is a restart with both.
    d = Daemon(binary, db)
    t = d.start(timeout=1800.0)
    d.stop()
    note("first start: the indexer built the index of %d rows in %.1f s" % (rows, t))
    with open(meta_path, "w") as f:
        json.dump({"rows": rows, "schema": schema}, f)
    return db


def _schema(path):
    import sqlite3
    con = sqlite3.connect(path)
    try:
        return sorted(r[0] or "" for r in con.execute("SELECT sql FROM sqlite_master"))
    finally:
        con.close()


