#!/usr/bin/env python3
"""Load tests of hookd with wrk (issue 5), with a trivial-HTTP ceiling.

    python3 scripts/bench.py                      # defaults: 10 s per scenario, 2 wrk threads
    python3 scripts/bench.py --duration 5 --threads 2 --hookd build-release/hookd

What it does, all on 127.0.0.1 and bounded in time:
  1. scripts/install-deps.sh --bench (wrk, nginx-light, python3 from Debian);
  2. builds the release binary (meson setup build-release if needed, then
     ninja -C build-release), unless --hookd PATH is given;
  3. pre-generates signed requests (scripts/gen_requests.py) sized so no
     line is sent twice below --max-rate requests/s;
  4. the ceiling: Debian's nginx (one worker, like hookd's one event loop;
     and two workers for reference) answering `return 200 'ok'` from a
     config written to a temp dir, measured with the same wrk settings;
  5. starts hookd on a fresh database in a temp dir (LOG_LEVEL=WARN, stdout
     to /dev/null), measures idle RSS and RSS with 1,000 keep-alive
     connections (then with one webhook queued on each), and runs the
     scenarios with scripts/wrk/*.lua;
  6. prints one line per scenario: requests/s, p50/p99 latency, non-2xx,
     socket errors, hookd's peak RSS (VmHWM, reset before each scenario via
     /proc/PID/clear_refs when the kernel allows, else process-lifetime) and
     RSS at the end, hookd CPU seconds per 1,000 requests, and the ratio to
     the ceiling; checks that every acknowledged webhook is in the database;
     and prints PASS/FAIL against the issue's targets.

Every server is started by this script and stopped by PID (SIGTERM, then
SIGKILL) in finally blocks. Python 3 standard library only.
"""

import argparse
import datetime as dt
import hashlib
import hmac
import http.client
import json
import os
import re
import resource
import secrets
import shlex
import shutil
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402
import urllib.parse

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
SCRIPTS = os.path.join(ROOT, "scripts")
WRK_DIR = os.path.join(SCRIPTS, "wrk")
HOST = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Targets of issue 5.
T_UNIQUE_RPS = 40000
T_UNIQUE_P99_MS = 10.0
T_CEILING_RATIO = 0.70
T_READ_RPS = 40000
T_IDLE_RSS_MB = 5.0
T_CONN_RSS_MB = 40.0


def log(msg):
    print(msg, flush=True)


def note(msg):
    """Progress, to stderr (stdout stays the report)."""
    print("  .. " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Processes
# ---------------------------------------------------------------------------

def stop_pid(proc, name, timeout=15.0):
    """SIGTERM, then SIGKILL after timeout; by PID only. Returns exit code."""
    if proc is None:
        return None
    if proc.poll() is None:
        try:
            os.kill(proc.pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            note("%s (pid %d) ignored SIGTERM for %.0f s: SIGKILL" % (name, proc.pid, timeout))
            try:
                os.kill(proc.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            proc.wait(10)
    return proc.returncode


def proc_status(pid):
    """VmRSS, VmHWM in MB (None when gone)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) / 1024.0
    except OSError:
        return None, None
    return out.get("VmRSS"), out.get("VmHWM")


def rss_parts(pid):
    """'anon X MB, file Y MB' from /proc/PID/status (file: mapped binaries/libraries)."""
    out = {}
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(("RssAnon:", "RssFile:", "RssShmem:")):
                    k, v = line.split(":", 1)
                    out[k] = int(v.split()[0]) / 1024.0
    except OSError:
        return "?"
    return "anon %.1f MB + file %.1f MB + shmem %.1f MB" % (
        out.get("RssAnon", 0), out.get("RssFile", 0), out.get("RssShmem", 0))


def proc_cpu(pid):
    """utime + stime of PID, seconds."""
    try:
        with open("/proc/%d/stat" % pid) as f:
            rest = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(rest[11]) + int(rest[12])) / CLK_TCK


def proc_write_bytes(pid):
    """Bytes PID caused to be sent to storage (/proc/PID/io write_bytes), or None."""
    try:
        with open("/proc/%d/io" % pid) as f:
            for line in f:
                if line.startswith("write_bytes:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def disk_reference(folder, seconds=6.0):
    """The storage ceiling under the database folder, bounded in time: MB/s
    of 1 MiB sequential writes followed by one fdatasync (like a WAL filling
    up), and the median time of a 4 KiB write + fdatasync (like a commit of
    one page). Returns (mb_per_s, fsync_ms)."""
    path = os.path.join(folder, "disk-reference.tmp")
    chunk = b"\xa5" * (1 << 20)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    try:
        t0 = time.monotonic()
        n = 0
        while n < 512 and time.monotonic() - t0 < seconds / 2:
            os.write(fd, chunk)
            n += 1
        os.fdatasync(fd)
        mbps = n / (time.monotonic() - t0)
        lat = []
        t1 = time.monotonic()
        while len(lat) < 500 and time.monotonic() - t1 < seconds / 2:
            a = time.monotonic()
            os.pwrite(fd, chunk[:4096], (len(lat) % 256) * 4096)
            os.fdatasync(fd)
            lat.append(time.monotonic() - a)
        lat.sort()
        return mbps, lat[len(lat) // 2] * 1000 if lat else 0.0
    finally:
        os.close(fd)
        os.unlink(path)


def children_of(pid):
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % d) as f:
                rest = f.read().rsplit(")", 1)[1].split()
            if int(rest[1]) == pid:
                out.append(int(d))
        except (OSError, IndexError, ValueError):
            pass
    return out


def reset_hwm(pid):
    """Reset VmHWM (Linux: write 5 to clear_refs). True when it worked."""
    try:
        with open("/proc/%d/clear_refs" % pid, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def system_busy():
    """CPU seconds the whole machine spent in processes (user, nice, system;
    all cores). irq/softirq time (loopback networking, mostly) is left out:
    it is not charged to any process, so it would look like 'other' load."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    return (v[0] + v[1] + v[2]) / CLK_TCK


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def free_port():
    s = socket.socket()
    s.bind((HOST, 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_tcp(port, proc, timeout=15.0):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        if proc.poll() is not None:
            return False
        try:
            socket.create_connection((HOST, port), timeout=0.5).close()
            return True
        except OSError:
            time.sleep(0.05)
    return False


# ---------------------------------------------------------------------------
# HTTP helpers (Python side: pre-flight checks, metrics)
# ---------------------------------------------------------------------------

def http_req(port, method, path, body=None, headers=None, timeout=10.0):
    c = http.client.HTTPConnection(HOST, port, timeout=timeout)
    try:
        c.request(method, path, body=body, headers=headers or {})
        r = c.getresponse()
        return r.status, r.read()
    finally:
        c.close()


def sign(secret, body):
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


METRIC_RE = re.compile(r'^(http_requests_total|webhook_requests_total|hookd_storage_write_bytes_total)'
                       r'\{([^}]*)\}\s+(\S+)$')


def scrape(port):
    """{('http', path, status): n, ('webhook', result): n} from /metrics."""
    try:
        st, body = http_req(port, "GET", "/metrics")
    except OSError:
        return None
    if st != 200:
        return None
    out = {}
    for line in body.decode("utf-8", "replace").splitlines():
        m = METRIC_RE.match(line)
        if not m:
            continue
        labels = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2)))
        if m.group(1) == "http_requests_total":
            key = ("http", labels.get("path"), labels.get("status"))
        elif m.group(1) == "hookd_storage_write_bytes_total":
            key = ("storage", labels.get("part"))
        else:
            key = ("webhook", labels.get("result"))
        out[key] = float(m.group(3))
    return out


def gauge(port, name):
    """One unlabelled sample from /metrics, or None."""
    try:
        st, body = http_req(port, "GET", "/metrics")
    except OSError:
        return None
    m = re.search(r"^%s (\S+)$" % re.escape(name), body.decode("utf-8", "replace"), re.M)
    return float(m.group(1)) if st == 200 and m else None


def reference_insert(binary, requests_file, folder, seconds):
    """ref_insert (scripts/ref_insert.cc): the same rows committed by a plain
    SQLite program, 64 per transaction, WAL, synchronous=FULL, in `folder`."""
    ref = os.path.join(os.path.dirname(binary), "ref_insert")
    if not os.path.exists(ref):
        ref = os.path.join(ROOT, "build-release", "ref_insert")
    db = os.path.join(folder, "reference.db")
    p = subprocess.run([ref, requests_file, db, str(seconds), "64"], stdout=subprocess.PIPE,
                       stderr=subprocess.STDOUT, text=True, timeout=seconds + 120)
    for suffix in ("", "-wal", "-shm"):
        try:
            os.unlink(db + suffix)
        except OSError:
            pass
    m = re.search(r"rows_per_s=(\d+)", p.stdout)
    if p.returncode != 0 or not m:
        raise SystemExit("bench: ref_insert failed: %s" % p.stdout[-500:])
    return float(m.group(1))


class Sampler:
    """Polls index lag, WAL sizes and RSS every 0.25 s while a scenario runs."""

    def __init__(self, port, pid, db):
        self.port, self.pid, self.db = port, pid, db
        self.max_lag = 0.0
        self.max_wal = 0
        self.max_rss = 0.0
        self._stop = False
        import threading
        self._t = threading.Thread(target=self._run, daemon=True)
        self._t.start()

    def _run(self):
        while not self._stop:
            lag = gauge(self.port, "hookd_index_lag_rows")
            if lag is not None:
                self.max_lag = max(self.max_lag, lag)
            wal = 0
            for f in (self.db + "-wal", self.db + "-index-wal"):
                try:
                    wal += os.path.getsize(f)
                except OSError:
                    pass
            self.max_wal = max(self.max_wal, wal)
            rss, _ = proc_status(self.pid)
            self.max_rss = max(self.max_rss, rss or 0)
            time.sleep(0.25)

    def stop(self):
        self._stop = True
        self._t.join()


def read_prober(port, secret, stop, out):
    """While the mixed scenario runs: POST a webhook from a private sender,
    then at once GET /messages?from= for it; every read must list every
    acknowledged message of that sender (read-your-writes), and its latency
    is recorded."""
    sender = "+1999%08d" % (os.getpid() % 10**8)
    mine = []
    lat, bad = [], 0
    i = 0
    while not stop.is_set():
        mid = "probe-%d-%d" % (os.getpid(), i)
        i += 1
        ts = (dt.datetime(2025, 1, 15, tzinfo=dt.timezone.utc) + dt.timedelta(seconds=i))
        body = json.dumps({"message_id": mid, "from": sender, "to": "+14155550100",
                           "ts": ts.strftime("%Y-%m-%dT%H:%M:%SZ"), "text": "probe"},
                          separators=(",", ":")).encode()
        try:
            st, _ = http_req(port, "POST", "/webhook", body, {"X-Signature": sign(secret, body)})
            if st != 200:
                continue
            mine.append(mid)
            t0 = time.perf_counter()
            st, b = http_req(port, "GET", "/messages?limit=100&from=" + urllib.parse.quote(sender))
            lat.append((time.perf_counter() - t0) * 1000)
            page = json.loads(b) if st == 200 else {}
            ids = [m["message_id"] for m in page.get("data", [])]
            want = mine[:100]
            if st != 200 or page.get("total") != len(mine) or ids != want:
                bad += 1
        except OSError:
            bad += 1
    out.update({"reads": len(lat), "bad": bad, "lat": sorted(lat), "posted": len(mine)})


def metrics_delta(a, b):
    if a is None or b is None:
        return None
    return {k: int(b.get(k, 0) - a.get(k, 0)) for k in set(a) | set(b)
            if int(b.get(k, 0) - a.get(k, 0))}


def fmt_delta(d, skip_path="/metrics"):
    if d is None:
        return "metrics unavailable"
    parts = []
    for k in sorted(d, key=str):
        if k[0] == "http" and k[1] != skip_path:
            parts.append("%s %s:%d" % (k[1], k[2], d[k]))
    for k in sorted(d, key=str):
        if k[0] == "webhook":
            parts.append("%s:%d" % (k[1], d[k]))
    return ", ".join(parts) or "none"


# ---------------------------------------------------------------------------
# Database (read-only)
# ---------------------------------------------------------------------------

def db_connect(path):
    uri = "file:%s?mode=ro" % urllib.parse.quote(path)
    c = sqlite3.connect(uri, uri=True, timeout=10)
    c.execute("PRAGMA query_only=1")
    return c


def prefix_range(prefix):
    # message_ids are "<prefix>-<n>": every id in [prefix-, prefix.) ('.' follows '-').
    return (prefix + "-", prefix + ".")


def db_count(path, prefix=None):
    c = db_connect(path)
    try:
        if prefix is None:
            return c.execute("SELECT count(*) FROM messages").fetchone()[0]
        lo, hi = prefix_range(prefix)
        return c.execute("SELECT count(*) FROM messages WHERE message_id >= ? AND message_id < ?",
                         (lo, hi)).fetchone()[0]
    finally:
        c.close()


def db_ids(path, prefix):
    c = db_connect(path)
    try:
        lo, hi = prefix_range(prefix)
        return {r[0] for r in c.execute(
            "SELECT message_id FROM messages WHERE message_id >= ? AND message_id < ?", (lo, hi))}
    finally:
        c.close()


# ---------------------------------------------------------------------------
# wrk
# ---------------------------------------------------------------------------

class WrkResult:
    def __init__(self):
        self.ok = False
        self.kv = {}
        self.total = {}
        self.warnings = []
        self.stderr = ""
        self.cmd = ""

    def get(self, k, default=0):
        return self.kv.get(k, default)

    @property
    def rps(self):
        d = self.get("duration_us")
        return self.get("requests") / (d / 1e6) if d else 0.0


def run_wrk(a, url, script, conns, args, env_extra=None):
    cmd = ["wrk", "-t%d" % min(a.threads, conns), "-c%d" % conns, "-d%ds" % a.duration,
           "--timeout", "%ds" % a.wrk_timeout, "-s", os.path.join(WRK_DIR, script), url]
    if args:
        cmd += ["--"] + list(args)
    env = dict(os.environ)
    env.update(env_extra or {})
    r = WrkResult()
    r.cmd = " ".join(shlex.quote(x) for x in cmd)
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         env=env, cwd=ROOT)
    try:
        out, err = p.communicate(timeout=a.duration + 180)
    except subprocess.TimeoutExpired:
        stop_pid(p, "wrk", 5)
        out, err = p.communicate()
        r.warnings.append("wrk did not finish in time; stopped")
    finally:
        stop_pid(p, "wrk", 5)
    r.stderr = err
    for line in out.splitlines():
        if line.startswith("HOOKD_WRK "):
            r.kv = benchlib.parse_kv(line[len("HOOKD_WRK "):])
            r.ok = True
        elif line.startswith("HOOKD_WRK_TOTAL "):
            r.total = benchlib.parse_kv(line[len("HOOKD_WRK_TOTAL "):])
        elif line.startswith("HOOKD_WRK_WARNING "):
            r.warnings.append(line[len("HOOKD_WRK_WARNING "):])
    if not r.ok:
        r.warnings.append("wrk gave no summary (exit %s): %s" % (p.returncode, err.strip()[-500:]))
    elif err.strip():
        r.warnings.append("wrk stderr: " + err.strip()[-300:])
    return r


# ---------------------------------------------------------------------------
# Ceiling: nginx
# ---------------------------------------------------------------------------

NGINX_CONF = """\
daemon off;
master_process {master};
worker_processes {workers};
{user}
error_log {dir}/error.log warn;
pid {dir}/nginx.pid;
worker_rlimit_nofile 16384;
events {{ worker_connections 8192; }}
http {{
    access_log off;
    client_body_temp_path {dir}/body;
    proxy_temp_path {dir}/proxy;
    fastcgi_temp_path {dir}/fastcgi;
    uwsgi_temp_path {dir}/uwsgi;
    scgi_temp_path {dir}/scgi;
    keepalive_requests 1000000;
    keepalive_timeout 75s;
    default_type text/plain;
    server {{
        listen {host}:{port} reuseport;
        location / {{ return 200 'ok'; }}
    }}
}}
"""


def run_ceiling(a, tmp, workers, conns):
    d = tempfile.mkdtemp(prefix="nginx-%dw-" % workers, dir=tmp)
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    res = None
    for _attempt in range(3):
        port = free_port()
        conf = os.path.join(d, "nginx.conf")
        with open(conf, "w") as f:
            f.write(NGINX_CONF.format(
                master="off" if workers == 1 else "on", workers=workers, dir=d, host=HOST,
                port=port, user="user root root;" if os.geteuid() == 0 and workers > 1 else ""))
        errf = open(os.path.join(d, "stderr.log"), "w")
        p = subprocess.Popen([nginx, "-p", d, "-c", conf], stdout=subprocess.DEVNULL,
                             stderr=errf, cwd=d)
        try:
            if not wait_tcp(port, p):
                note("nginx did not start on port %d; retrying" % port)
                continue
            pids = [p.pid] + (children_of(p.pid) if workers > 1 else [])
            for pid in pids:
                reset_hwm(pid)
            cpu0, busy0, kid0 = sum(proc_cpu(x) for x in pids), system_busy(), children_cpu()
            r = run_wrk(a, "http://%s:%d/" % (HOST, port), "get.lua", conns, [])
            cpu1, busy1, kid1 = sum(proc_cpu(x) for x in pids), system_busy(), children_cpu()
            r.other_cpu = max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - (kid1 - kid0))
            r.wrk_cpu = kid1 - kid0
            rss, hwm = 0.0, 0.0
            for pid in pids:
                x, y = proc_status(pid)
                rss += x or 0
                hwm += y or 0
            r.server_cpu = cpu1 - cpu0
            r.rss, r.hwm = rss, hwm
            r.conns = conns
            res = r
            break
        finally:
            stop_pid(p, "nginx", 10)
            errf.close()
    return res


# ---------------------------------------------------------------------------
# hookd
# ---------------------------------------------------------------------------

class Hookd:
    def __init__(self, binary, tmp, secret):
        self.binary = binary
        self.dir = tempfile.mkdtemp(prefix="hookd-", dir=tmp)
        self.db = os.path.join(self.dir, "app.db")
        self.secret = secret
        self.proc = None
        self.port = None

    def start(self, timeout=30.0):
        env = dict(os.environ)
        for k in list(env):
            if k in ("WEBHOOK_SECRET_FILE", "NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID"):
                del env[k]
        env.update({
            "DATABASE_URL": "sqlite:///" + self.db,   # absolute path: sqlite:////tmp/...
            "HOST": HOST, "PORT": "0", "WEBHOOK_SECRET": self.secret, "LOG_LEVEL": "WARN",
        })
        self.errf = open(os.path.join(self.dir, "stderr.log"), "w")
        self.proc = subprocess.Popen([self.binary], cwd=self.dir, env=env,
                                     stdout=subprocess.DEVNULL, stderr=self.errf)
        end = time.monotonic() + timeout
        while time.monotonic() < end:
            if self.proc.poll() is not None:
                raise SystemExit("bench: hookd exited with %s at start-up: %s" % (
                    self.proc.returncode, self.stderr_tail()))
            self.port = benchlib.listen_port(self.proc.pid)
            if self.port:
                break
            time.sleep(0.05)
        if not self.port:
            raise SystemExit("bench: hookd is not listening after %.0f s" % timeout)
        while time.monotonic() < end:
            try:
                st, _ = http_req(self.port, "GET", "/health/ready", timeout=2)
                if st == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise SystemExit("bench: hookd not ready after %.0f s" % timeout)

    def stderr_tail(self):
        try:
            with open(os.path.join(self.dir, "stderr.log")) as f:
                return f.read()[-1000:].strip()
        except OSError:
            return ""

    def stop(self):
        rc = stop_pid(self.proc, "hookd", 20)
        if self.proc is not None:
            self.errf.close()
        return rc


def recv_responses(socks, timeout):
    """Read one HTTP response from each socket; returns list of status codes (None: failed)."""
    import selectors
    sel = selectors.DefaultSelector()
    bufs, status = {}, {}
    for i, s in enumerate(socks):
        s.setblocking(False)
        sel.register(s, selectors.EVENT_READ, i)
        bufs[i] = b""
    end = time.monotonic() + timeout
    pending = len(socks)
    while pending and time.monotonic() < end:
        for key, _ in sel.select(timeout=0.2):
            i = key.data
            try:
                chunk = key.fileobj.recv(65536)
            except (BlockingIOError, InterruptedError):
                continue
            except OSError:
                chunk = b""
            if not chunk:
                status[i] = None
                sel.unregister(key.fileobj)
                pending -= 1
                continue
            bufs[i] += chunk
            head, sep, rest = bufs[i].partition(b"\r\n\r\n")
            if sep:
                m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head)
                if m and len(rest) >= int(m.group(1)):
                    status[i] = int(head.split(b" ", 2)[1])
                    sel.unregister(key.fileobj)
                    pending -= 1
    sel.close()
    for s in socks:
        s.setblocking(True)
    return [status.get(i) for i in range(len(socks))]


def conn_probe(h, n, prefix):
    """n keep-alive connections with GET /health/live each; then one webhook
    on each, all at once. Returns a dict of measurements."""
    out = {"n": n}
    socks = []
    try:
        for _ in range(n):
            s = socket.create_connection((HOST, h.port), timeout=10)
            socks.append(s)
        reset_hwm(h.proc.pid)
        req = ("GET /health/live HTTP/1.1\r\nHost: %s:%d\r\n\r\n" % (HOST, h.port)).encode()
        for s in socks:
            s.sendall(req)
        st = recv_responses(socks, 30)
        out["live_ok"] = sum(1 for x in st if x == 200)
        time.sleep(0.3)
        out["rss_live"], out["hwm_live"] = proc_status(h.proc.pid)
        out["parts_live"] = rss_parts(h.proc.pid)
        # One signed webhook per connection, all sent before any is read:
        # up to n webhooks wait for the writer at once.
        reqs = []
        for i in range(n):
            body = json.dumps({"message_id": "%s-%d" % (prefix, i), "from": "+919800000%03d" % (i % 1000),
                               "to": "+14155550100", "ts": "2025-03-01T10:00:00Z",
                               "text": "probe message %d" % i}, separators=(",", ":")).encode()
            reqs.append(("POST /webhook HTTP/1.1\r\nHost: %s:%d\r\nContent-Type: application/json\r\n"
                         "X-Signature: %s\r\nContent-Length: %d\r\n\r\n"
                         % (HOST, h.port, sign(h.secret, body), len(body))).encode() + body)
        for s, r in zip(socks, reqs):
            s.sendall(r)
        st = recv_responses(socks, 60)
        out["webhook_ok"] = sum(1 for x in st if x == 200)
        time.sleep(0.3)
        out["rss_wh"], out["hwm_wh"] = proc_status(h.proc.pid)
    finally:
        for s in socks:
            try:
                s.close()
            except OSError:
                pass
    time.sleep(0.5)
    out["rss_after"], _ = proc_status(h.proc.pid)
    return out


# ---------------------------------------------------------------------------
# Request files
# ---------------------------------------------------------------------------

def gen_file(a, path, count, prefix, secret, invalid=False):
    cmd = [sys.executable, os.path.join(SCRIPTS, "gen_requests.py"), "--count", str(count),
           "--secret", secret, "--prefix", prefix, "--out", path]
    if invalid:
        cmd.append("--invalid")
    t0 = time.monotonic()
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                       timeout=600)
    if p.returncode != 0:
        raise SystemExit("bench: gen_requests.py failed: %s" % p.stderr[-1000:])
    note("generated %s: %d lines in %.1f s" % (os.path.basename(path), count, time.monotonic() - t0))


ID_RE = re.compile(rb'^[0-9a-f]+\t\{"message_id":"([^"]*)"')


def write_dup_file(src, dst, stored):
    """Lines of src whose message_id is already stored."""
    n = 0
    with open(src, "rb") as f, open(dst, "wb") as g:
        for line in f:
            m = ID_RE.match(line)
            if m and m.group(1).decode() in stored:
                g.write(line)
                n += 1
    return n


# ---------------------------------------------------------------------------
# Main
# ---------------------------------------------------------------------------

def build(a):
    if a.hookd:
        return os.path.abspath(a.hookd)
    return benchlib.build_release(note)


def raise_nofile(want=65536):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = want if hard == resource.RLIM_INFINITY else min(want, hard)
    if soft < target:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
        except (ValueError, OSError):
            pass
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def main(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    if "--engine" in argv:
        # --engine postgres: the same scenarios against a local PostgreSQL
        # with a pgbench reference (scripts/bench_pg.py, which takes the rest).
        i = argv.index("--engine")
        engine = argv[i + 1] if i + 1 < len(argv) else ""
        rest = argv[:i] + argv[i + 2:]
        if engine == "postgres":
            return subprocess.call([sys.executable, os.path.join(SCRIPTS, "bench_pg.py")] + rest)
        if engine != "sqlite":
            raise SystemExit("bench: --engine sqlite (default) or postgres")
        argv = rest
    p = argparse.ArgumentParser(description="hookd load tests with wrk (issues 5, 10, 15)")
    p.add_argument("--duration", type=int, default=10, help="seconds per scenario (default 10)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--connections", type=int, default=64, help="connections (default 64)")
    p.add_argument("--connections-high", type=int, default=256,
                   help="connections of the high-concurrency scenario (default 256)")
    p.add_argument("--hookd", help="use this hookd binary (skips the build)")
    p.add_argument("--max-rate", type=int, default=80000,
                   help="requests/s bound used to size the unique request files (default 80000)")
    p.add_argument("--probe-connections", type=int, default=1000,
                   help="keep-alive connections of the memory probe (default 1000)")
    p.add_argument("--wrk-timeout", type=int, default=10, help="wrk --timeout seconds (default 10)")
    p.add_argument("--no-deps", action="store_true", help="skip scripts/install-deps.sh --bench")
    p.add_argument("--no-ceiling", action="store_true", help="skip the nginx ceiling")
    p.add_argument("--keep", action="store_true", help="keep the temp dir (database, request files)")
    p.add_argument("--footprint-rows", type=int, default=1_000_000,
                   help="rows of the start-up measurement's database (scripts/footprint.py); "
                        "-1 skips the footprint section (default 1000000)")
    p.add_argument("--sustained", type=int, default=60,
                   help="seconds of the sustained unique-webhook scenario (default 60; 0 skips)")
    p.add_argument("--sustained-rate", type=int, default=40000,
                   help="requests/s bound used to size the sustained request file (default 40000)")
    a = p.parse_args(argv)
    if not (1 <= a.duration <= 600) or not (1 <= a.threads <= 64):
        p.error("--duration 1..600, --threads 1..64")
    if a.connections < a.threads or a.connections_high < a.threads:
        p.error("connections must be >= threads")

    nofile = raise_nofile()
    try:
        with open("/proc/self/cmdline", "rb") as f:
            cmdline = " ".join(shlex.quote(x.decode()) for x in f.read().split(b"\0") if x)
    except OSError:
        cmdline = " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv)
    log("hookd benchmark  %s" % dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"))
    log("command:  %s   (cwd %s)" % (cmdline, os.getcwd()))
    log("machine:  %s" % benchlib.machine_info())
    b0, own0 = system_busy(), time.process_time()
    time.sleep(1.0)
    busy = system_busy() - b0 - (time.process_time() - own0)
    log("load:     avg %s; other processes used %.0f%% of a core over 1 s before the run%s"
        % (" ".join(open("/proc/loadavg").read().split()[:3]), max(0.0, busy) * 100,
           "  ** the machine is not idle: figures are lower than on a quiet machine **"
           if busy > 0.2 else ""))

    if not a.no_deps:
        note("scripts/install-deps.sh --bench")
        r = subprocess.run([os.path.join(SCRIPTS, "install-deps.sh"), "--bench"], timeout=900)
        if r.returncode != 0:
            raise SystemExit("bench: scripts/install-deps.sh --bench failed")
    for tool in ("wrk",) + (() if a.no_ceiling else ("nginx",)):
        if not (shutil.which(tool) or os.path.exists("/usr/sbin/" + tool)):
            raise SystemExit("bench: %s not found (scripts/install-deps.sh --bench installs it)" % tool)

    binary = build(a)
    ver = subprocess.run([binary, "--version"], stdout=subprocess.PIPE, text=True,
                         timeout=10).stdout.strip()
    wrkver = subprocess.run(["wrk", "-v"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, timeout=10).stdout.strip().splitlines()[0]
    nginxver = ""
    if not a.no_ceiling:
        nginxver = subprocess.run([shutil.which("nginx") or "/usr/sbin/nginx", "-v"],
                                  stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                                  timeout=10).stdout.strip()
    log("hookd:    %s (%s)" % (ver, binary))
    log("tools:    %s; %s; RLIMIT_NOFILE %d" % (wrkver, nginxver or "no ceiling", nofile))
    log("settings: wrk -t%d, %d s per scenario, --timeout %ds; %d connections (scenario 2: %d); "
        "hookd LOG_LEVEL=WARN, stdout to /dev/null, DB_SYNCHRONOUS default (FULL)"
        % (a.threads, a.duration, a.wrk_timeout, a.connections, a.connections_high))
    log("")

    tmp = tempfile.mkdtemp(prefix="hookd-bench-")
    run_id = "b%s" % secrets.token_hex(3)
    secret = secrets.token_hex(24)
    files = {}
    rows = []          # (name, result, extra)
    checks = []        # (name, ok, text)
    failures = []
    h = None
    try:
        # --- request files -------------------------------------------------
        n_unique = max(10000, a.max_rate * a.duration)
        files["u1"] = os.path.join(tmp, "unique64.tsv")
        files["u2"] = os.path.join(tmp, "unique256.tsv")
        files["mix"] = os.path.join(tmp, "mix.tsv")
        files["inv"] = os.path.join(tmp, "invalid.tsv")
        gen_file(a, files["u1"], n_unique, run_id + "u1", secret)
        gen_file(a, files["u2"], n_unique, run_id + "u2", secret)
        gen_file(a, files["mix"], max(10000, n_unique * 4 // 5), run_id + "mx", secret)
        gen_file(a, files["inv"], 50000, run_id + "iv", secret, invalid=True)
        if a.sustained:
            files["sus"] = os.path.join(tmp, "sustained.tsv")
            gen_file(a, files["sus"], a.sustained_rate * a.sustained, run_id + "su", secret)

        # --- ceiling -------------------------------------------------------
        ceil = {}
        if not a.no_ceiling:
            for workers, conns in ((1, a.connections), (1, a.connections_high), (2, a.connections)):
                note("ceiling: nginx %d worker(s), %d connections" % (workers, conns))
                r = run_ceiling(a, tmp, workers, conns)
                if r is None:
                    note("ceiling failed: nginx did not start")
                    continue
                ceil[(workers, conns)] = r
                rows.append(("ceiling nginx %dw c%d" % (workers, conns), r, {"ceiling": True}))

        # --- storage reference ---------------------------------------------
        note("disk reference in %s" % tmp)
        disk_mbps, disk_fsync_ms = disk_reference(tmp)
        note("storage reference: ref_insert, %d s" % a.duration)
        ref_rps = reference_insert(binary, files["u1"], tmp, a.duration)
        note("storage reference: %.0f rows/s" % ref_rps)

        # --- hookd ---------------------------------------------------------
        h = Hookd(binary, tmp, secret)
        h.start()
        pid = h.proc.pid
        note("hookd pid %d on %s:%d, database %s" % (pid, HOST, h.port, h.db))
        time.sleep(0.5)
        idle_rss, idle_hwm = proc_status(pid)
        idle_parts = rss_parts(pid)
        hwm_resettable = reset_hwm(pid)

        note("memory probe: %d keep-alive connections" % a.probe_connections)
        probe = conn_probe(h, a.probe_connections, run_id + "pr")

        # --- scenarios -----------------------------------------------------
        base = "http://%s:%d" % (HOST, h.port)

        def scenario(name, script, conns, args, url=None, expect=None, unique_prefix=None,
                     prober=False, duration=None):
            note("scenario %s" % name)
            reset_hwm(pid)
            m0 = scrape(h.port)
            cpu0, busy0, kid0 = proc_cpu(pid), system_busy(), children_cpu()
            wb0 = proc_write_bytes(pid)
            sampler = Sampler(h.port, pid, h.db)
            probe_out, probe_stop, pt = {}, None, None
            if prober:
                import threading
                probe_stop = threading.Event()
                pt = threading.Thread(target=read_prober, args=(h.port, secret, probe_stop, probe_out))
                pt.start()
            saved = a.duration
            a.duration = duration or saved
            try:
                r = run_wrk(a, url or base, script, conns, args)
            finally:
                a.duration = saved
            t_end = time.monotonic()
            if pt:
                probe_stop.set()
                pt.join()
            lag_end = gauge(h.port, "hookd_index_lag_rows")
            zero_s = None
            while lag_end is not None and time.monotonic() - t_end < 30:
                lag = gauge(h.port, "hookd_index_lag_rows")
                if lag == 0:
                    zero_s = time.monotonic() - t_end
                    break
                time.sleep(0.05)
            sampler.stop()
            r.sampler, r.probe, r.lag_end, r.lag_zero_s = sampler, probe_out, lag_end, zero_s
            cpu1, busy1, kid1 = proc_cpu(pid), system_busy(), children_cpu()
            wb1 = proc_write_bytes(pid)
            time.sleep(0.5)   # let in-flight commits finish before counting
            m1 = scrape(h.port)
            r.disk_bytes = wb1 - wb0 if wb0 is not None and wb1 is not None else None
            r.rss, r.hwm = proc_status(pid)
            r.server_cpu = cpu1 - cpu0
            r.other_cpu = max(0.0, (busy1 - busy0) - (cpu1 - cpu0) - (kid1 - kid0))
            r.wrk_cpu = kid1 - kid0
            r.delta = metrics_delta(m0, m1)
            r.conns = conns
            extra = {"expect": expect, "prefix": unique_prefix}
            rows.append((name, r, extra))
            if h.proc.poll() is not None:
                raise SystemExit("bench: hookd died during %s (exit %s): %s"
                                 % (name, h.proc.returncode, h.stderr_tail()))
            return r

        def durability(name, r, prefix, mixed=False):
            stored = db_count(h.db, prefix)
            if mixed:
                issued = r.total.get("posts", 0)
                acked_min = max(0, issued - r.conns - r.get("non2xx"))
            else:
                issued = r.total.get("issued", 0)
                acked_min = r.get("requests") - r.get("non2xx")
            created = (r.delta or {}).get(("webhook", "created"))
            if created is not None and getattr(r, "probe", None):
                created -= r.probe.get("posted", 0)  # the prober's own webhooks
            ok = acked_min <= stored <= issued
            if r.total.get("wraps"):
                # The file wrapped: later 200s were duplicates of stored lines,
                # so wrk's 200 count is no lower bound; hookd's own count is.
                ok = created is not None and stored == created and stored <= issued
            checks.append(("durability " + name, ok,
                           "rows with prefix %s: %d; 200s seen by wrk >= %d; sent <= %d; "
                           "hookd 'created' %s%s" % (prefix, stored, acked_min, issued, created,
                                                     "" if created in (None, stored) else " (differs from rows!)")))
            if created is not None and created != stored:
                failures.append("%s: hookd counted %d created but %d rows are stored" % (name, created, stored))
            return stored

        # Pre-flight: one request of each kind from Python.
        pf = []
        body = json.dumps({"message_id": run_id + "pf-1", "from": "+919876543210", "to": "+14155550100",
                           "ts": "2025-01-15T10:00:00Z", "text": "pre-flight"},
                          separators=(",", ":")).encode()
        st, _ = http_req(h.port, "POST", "/webhook", body, {"X-Signature": sign(secret, body)})
        pf.append(("POST /webhook signed", st, 200))
        st, _ = http_req(h.port, "POST", "/webhook", body, {"X-Signature": "0" * 64})
        pf.append(("POST /webhook bad signature", st, 401))
        for name, st, want in pf:
            if st != want:
                failures.append("pre-flight %s: %d, expected %d" % (name, st, want))

        r1 = scenario("1 unique webhooks c%d" % a.connections, "webhook.lua", a.connections,
                      [files["u1"], str(a.threads)], url=base + "/webhook", unique_prefix=run_id + "u1")
        durability("1 unique", r1, run_id + "u1")
        r2 = scenario("2 unique webhooks c%d" % a.connections_high, "webhook.lua", a.connections_high,
                      [files["u2"], str(min(a.threads, a.connections_high))], url=base + "/webhook",
                      unique_prefix=run_id + "u2")
        durability("2 unique", r2, run_id + "u2")

        stored = db_ids(h.db, run_id + "u1")
        files["dup"] = os.path.join(tmp, "dup.tsv")
        ndup = write_dup_file(files["u1"], files["dup"], stored)
        note("duplicate file: %d lines (ids stored by scenario 1)" % ndup)
        if ndup == 0:
            raise SystemExit("bench: scenario 1 stored nothing; cannot run the duplicate scenario")
        scenario("3 duplicate webhooks c%d" % a.connections, "webhook.lua", a.connections,
                 [files["dup"], str(a.threads)], url=base + "/webhook", expect="duplicate")
        scenario("4 invalid signatures c%d" % a.connections, "webhook.lua", a.connections,
                 [files["inv"], str(a.threads)], url=base + "/webhook", expect="401")

        st, b = http_req(h.port, "GET", "/messages")
        page = json.loads(b) if st == 200 else {}
        if st != 200 or len(page.get("data", [])) != 50:
            failures.append("GET /messages before scenario 5: status %d, %d rows (want 50)"
                            % (st, len(page.get("data", []))))
        st, b = http_req(h.port, "GET", "/stats")
        stats = json.loads(b) if st == 200 else {}
        top = stats.get("messages_per_sender") or [{"from": "+919876543210", "count": 0}]
        sender = top[0]["from"]
        from_path = "/messages?from=" + urllib.parse.quote(sender, safe="")
        st, b = http_req(h.port, "GET", from_path)
        nrows = len(json.loads(b).get("data", [])) if st == 200 else -1
        note("sender for scenario 6: %s (%s messages; first page %d rows)"
             % (sender, top[0].get("count"), nrows))
        if st != 200 or nrows < 1:
            failures.append("GET %s: status %d, %d rows" % (from_path, st, nrows))

        scenario("5 GET /messages (50 rows)", "get.lua", a.connections, ["/messages"])
        scenario("6 GET /messages?from= (%d rows)" % nrows, "get.lua", a.connections, [from_path])
        scenario("7 GET /stats", "get.lua", a.connections, ["/stats"])
        r8 = scenario("8 mix 80%% webhooks/20%% GET /messages c%d" % a.connections, "mix.lua",
                      a.connections, [files["mix"], str(a.threads), "/messages"],
                      unique_prefix=run_id + "mx", prober=True)
        durability("8 mix", r8, run_id + "mx", mixed=True)
        if a.sustained:
            rs = scenario("S sustained unique webhooks %ds c%d" % (a.sustained, a.connections),
                          "webhook.lua", a.connections, [files["sus"], str(a.threads)],
                          url=base + "/webhook", unique_prefix=run_id + "su",
                          duration=a.sustained)
            durability("S sustained", rs, run_id + "su")

        total_rows = db_count(h.db)
        m_all = scrape(h.port) or {}
        created_all = int(m_all.get(("webhook", "created"), 0))
        checks.append(("durability total", created_all == total_rows,
                       "SELECT count(*) FROM messages = %d; hookd 'created' since start = %d"
                       % (total_rows, created_all)))
        end_rss, end_hwm = proc_status(pid)
    finally:
        rc = h.stop() if h is not None else None
        if h is not None and rc not in (0, None):
            failures.append("hookd exited with %s on SIGTERM: %s" % (rc, h.stderr_tail()))
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        else:
            note("kept %s" % tmp)

    # --- report ------------------------------------------------------------
    log("%-44s %9s %8s %8s %8s %7s %8s %8s %8s %7s %6s %9s" % (
        "scenario", "req/s", "p50 ms", "p99 ms", "non-2xx", "sockerr", "peak MB", "end MB",
        "cpu/1k", "x ceil", "other", "disk KB/r"))
    for name, r, extra in rows:
        if not r.ok:
            log("%-44s  FAILED: %s" % (name, "; ".join(r.warnings)))
            continue
        if extra.get("ceiling"):
            c = ceil.get((1, a.connections)) if " 2w " in name else ceil.get((1, r.conns))
        else:
            c = ceil.get((1, r.conns))
        ratio = "%.2f" % (r.rps / c.rps) if c and c.rps else "-"
        cpu1k = r.server_cpu / r.get("requests") * 1000 if r.get("requests") else 0
        db = getattr(r, "disk_bytes", None)
        log("%-44s %9.0f %8.2f %8.2f %8d %7d %8.1f %8.1f %8.3f %7s %6s %9s" % (
            name, r.rps, r.get("p50_us") / 1000, r.get("p99_us") / 1000, r.get("non2xx"),
            r.get("socket_errors"), r.hwm or 0, r.rss or 0, cpu1k, ratio,
            "%.1fs" % r.other_cpu if hasattr(r, "other_cpu") else "-",
            "%.1f" % (db / 1024.0 / r.get("requests")) if db is not None and r.get("requests") else "-"))
    log("  (peak MB: VmHWM %s; end MB: VmRSS after the scenario; cpu/1k: hookd utime+stime s per "
        "1,000 requests; x ceil: vs nginx 1 worker at the same connections; other: CPU s used by "
        "processes other than hookd/wrk during the run; disk KB/r: bytes hookd sent to storage "
        "(/proc/PID/io write_bytes: WAL frames and checkpoints) per request)"
        % ("reset before each scenario" if hwm_resettable else "over the process lifetime"))
    log("")
    log("disk: %.0f MB/s sequential write + fdatasync, %.2f ms median 4 KiB write + fdatasync "
        "(the storage under the database; unique webhooks are bounded by it)" % (disk_mbps, disk_fsync_ms))
    log("memory: idle VmRSS %.1f MB (VmHWM %.1f MB) right after start: %s"
        % (idle_rss, idle_hwm, idle_parts))
    log("memory: %d keep-alive connections (%d answered /health/live): VmRSS %.1f MB, VmHWM %.1f MB: %s"
        % (probe["n"], probe.get("live_ok", 0), probe.get("rss_live") or 0, probe.get("hwm_live") or 0,
           probe.get("parts_live", "?")))
    log("memory: + one webhook on each (%d queued at once, %d answered 200): VmRSS %.1f MB, "
        "VmHWM %.1f MB; after closing them: VmRSS %.1f MB"
        % (probe["n"], probe.get("webhook_ok", 0), probe.get("rss_wh") or 0,
           probe.get("hwm_wh") or 0, probe.get("rss_after") or 0))
    log("memory: end of run VmRSS %.1f MB, lifetime VmHWM n/a after resets" % (end_rss or 0)
        if hwm_resettable else "memory: end of run VmRSS %.1f MB, VmHWM %.1f MB" % (end_rss or 0, end_hwm or 0))
    log("")
    log("storage reference (scripts/ref_insert.cc: the same rows, 64 per transaction, WAL, "
        "synchronous=FULL, same folder): %.0f rows/s" % ref_rps)
    for name, r, extra in rows:
        if not r.ok or extra.get("ceiling") or not extra.get("prefix"):
            continue
        d = getattr(r, "delta", None) or {}
        created = d.get(("webhook", "created"), 0)
        kb_rows = d.get(("storage", "rows"), 0) / 1024.0 / created if created else 0
        kb_index = d.get(("storage", "index"), 0) / 1024.0 / created if created else 0
        sm = getattr(r, "sampler", None)
        log("  %-44s %7.0f/s = %.2f x reference; storage per created webhook: rows %.2f KB + "
            "index %.2f KB = %.2f KB; index lag max %d, at end %s rows (%.2f s of ingest), "
            "0 after %s; WAL max %.1f MB; RSS max %.1f MB"
            % (name, r.rps, r.rps / ref_rps if ref_rps else 0, kb_rows, kb_index,
               kb_rows + kb_index, sm.max_lag if sm else -1,
               "%d" % r.lag_end if r.lag_end is not None else "?",
               (r.lag_end or 0) / r.rps if r.rps else 0,
               "%.2f s" % r.lag_zero_s if r.lag_zero_s is not None else "never (30 s)",
               (sm.max_wal if sm else 0) / 1e6, sm.max_rss if sm else 0))
        pr = getattr(r, "probe", None)
        if pr and pr.get("reads"):
            lat = pr["lat"]
            log("  %-44s read-your-writes prober: %d POST-then-GET reads, p50 %.2f ms, p99 %.2f ms, "
                "%d inexact" % ("", pr["reads"], lat[len(lat) // 2], lat[min(len(lat) - 1, int(len(lat) * 0.99))],
                                pr["bad"]))
    log("")
    log("details:")
    for name, r, extra in rows:
        if not r.ok:
            continue
        tot = r.total
        line = "  %s: %d requests in %.2f s, p90 %.2f ms, p99.9 %.2f ms, max %.2f ms, %s CPU %.2f s" % (
            name, r.get("requests"), r.get("duration_us") / 1e6, r.get("p90_us") / 1000,
            r.get("p999_us") / 1000, r.get("max_us") / 1000,
            "nginx" if extra.get("ceiling") else "hookd", getattr(r, "server_cpu", 0))
        if hasattr(r, "wrk_cpu"):
            line += ", wrk CPU %.2f s" % r.wrk_cpu
        log(line)
        if not extra.get("ceiling"):
            log("    hookd answered: %s" % fmt_delta(getattr(r, "delta", None)))
        reuse = not extra.get("prefix") and tot.get("wraps")
        if tot.get("issued"):
            log("    wrk issued %d (posts %d, gets %d), wraps %d%s" % (
                tot.get("issued", 0), tot.get("posts", 0), tot.get("gets", 0), tot.get("wraps", 0),
                " (expected: this file is reused)" if reuse else ""))
        for w in r.warnings:
            if reuse and "wrap(s)" in w:
                continue
            log("    warning: " + w)
        log("    " + r.cmd)
    log("")
    for name, ok, text in checks:
        log("check %-22s %s  %s" % (name, "OK  " if ok else "FAIL", text))

    # --- verdicts ----------------------------------------------------------
    def by(prefix):
        for name, r, extra in rows:
            if name.startswith(prefix) and r.ok:
                return r, extra
        return None, None

    verdicts = []

    def verdict(target, ok, value):
        verdicts.append((target, ok, value))

    c64 = ceil.get((1, a.connections))
    r, _ = by("1 ")
    if r:
        verdict("unique webhooks c64 >= %d req/s" % T_UNIQUE_RPS, r.rps >= T_UNIQUE_RPS, "%.0f req/s" % r.rps)
        verdict("unique webhooks c64 p99 < %.0f ms" % T_UNIQUE_P99_MS,
                r.get("p99_us") / 1000 < T_UNIQUE_P99_MS, "%.2f ms" % (r.get("p99_us") / 1000))
    for pre, label in (("3 ", "duplicates"), ("4 ", "invalid signatures")):
        r, _ = by(pre)
        if r and c64:
            verdict("%s >= %.0f%% of ceiling" % (label, T_CEILING_RATIO * 100),
                    r.rps >= T_CEILING_RATIO * c64.rps,
                    "%.0f req/s = %.2f x %.0f" % (r.rps, r.rps / c64.rps, c64.rps))
        elif r:
            verdict("%s >= %.0f%% of ceiling" % (label, T_CEILING_RATIO * 100), False, "no ceiling measured")
    for pre, label in (("5 ", "GET /messages (50 rows)"), ("7 ", "GET /stats")):
        r, _ = by(pre)
        if r:
            verdict("%s >= %d req/s" % (label, T_READ_RPS), r.rps >= T_READ_RPS, "%.0f req/s" % r.rps)
    verdict("idle RSS < %.0f MB" % T_IDLE_RSS_MB, (idle_rss or 99) < T_IDLE_RSS_MB, "%.1f MB" % idle_rss)
    peak_probe = max(probe.get("hwm_live") or 0, probe.get("hwm_wh") or 0)
    verdict("%d connections (+1 queued webhook each) RSS < %.0f MB" % (probe["n"], T_CONN_RSS_MB),
            peak_probe < T_CONN_RSS_MB and probe.get("live_ok") == probe["n"]
            and probe.get("webhook_ok") == probe["n"],
            "peak %.1f MB; %d/%d live, %d/%d webhooks answered" % (
                peak_probe, probe.get("live_ok", 0), probe["n"], probe.get("webhook_ok", 0), probe["n"]))

    # No request fails: socket errors nowhere; non-2xx only where expected
    # (scenario 4: every answer a 401, counted by hookd's metrics).
    fails = list(failures)
    for name, r, extra in rows:
        if extra.get("ceiling"):
            continue
        if not r.ok:
            fails.append("%s: no wrk summary" % name)
            continue
        if r.get("socket_errors"):
            fails.append("%s: %d socket errors" % (name, r.get("socket_errors")))
        d = getattr(r, "delta", None) or {}
        bad = {k: v for k, v in d.items() if k[0] == "http" and k[1] != "/metrics"
               and not (k[2] or "").startswith("2")}
        if extra.get("expect") == "401":
            bad = {k: v for k, v in bad.items() if k[2] != "401"}
            n401 = d.get(("http", "/webhook", "401"), 0)
            if n401 < r.get("requests"):
                fails.append("%s: hookd answered %d 401s for %d requests" % (name, n401, r.get("requests")))
        elif r.get("non2xx"):
            fails.append("%s: %d non-2xx" % (name, r.get("non2xx")))
        if bad:
            fails.append("%s: hookd answered %s" % (name, ", ".join("%s %s:%d" % (k[1], k[2], v)
                                                                  for k, v in sorted(bad.items()))))
        if extra.get("expect") == "duplicate" and d.get(("webhook", "created")):
            fails.append("%s: %d created in the duplicate scenario" % (name, d[("webhook", "created")]))
        if extra.get("prefix") and r.total.get("wraps"):
            fails.append("%s: %d wraps (requests file too small: raise --max-rate)" % (name, r.total["wraps"]))
    verdict("no request fails (all scenarios)", not fails, "; ".join(fails) if fails else "0 failures")
    verdict("every acknowledged webhook stored", all(ok for _, ok, _ in checks),
            "; ".join(n for n, ok, _ in checks if not ok) or "row counts match")

    # Issue 10 (storage engine) targets.
    r, _ = by("1 ")
    if r:
        verdict("unique c64 >= 0.7 x reference", r.rps >= 0.7 * ref_rps,
                "%.0f/s = %.2f x %.0f" % (r.rps, r.rps / ref_rps, ref_rps))
        d = r.delta or {}
        created = d.get(("webhook", "created"), 0) or 1
        kr = d.get(("storage", "rows"), 0) / 1024.0 / created
        ki = d.get(("storage", "index"), 0) / 1024.0 / created
        verdict("bytes per webhook: rows < 4 KB", kr < 4, "%.2f KB" % kr)
        verdict("bytes per webhook: total < 8 KB", kr + ki < 8, "%.2f KB" % (kr + ki))
    r, _ = by("S ")
    if r:
        ok = (r.rps >= 0.6 * ref_rps and not r.get("non2xx") and r.lag_end is not None
              and r.lag_end < r.rps and r.lag_zero_s is not None and r.lag_zero_s <= 2.0)
        verdict("sustained >= 0.6 x ref, no 503, lag < 1 s, 0 in 2 s", ok,
                "%.0f/s = %.2f x ref, non-2xx %d, lag at end %s, 0 after %s" % (
                    r.rps, r.rps / ref_rps, r.get("non2xx"), r.lag_end,
                    "%.2f s" % r.lag_zero_s if r.lag_zero_s is not None else "never"))
    r, _ = by("8 ")
    if r and getattr(r, "probe", None) and r.probe.get("reads"):
        lat = r.probe["lat"]
        p99 = lat[min(len(lat) - 1, int(len(lat) * 0.99))]
        verdict("mixed: reads p99 < 20 ms, every read exact", p99 < 20 and not r.probe["bad"],
                "p99 %.2f ms over %d reads, %d inexact" % (p99, r.probe["reads"], r.probe["bad"]))

    log("")
    log("targets (issues 5 and 10):")
    for target, ok, value in verdicts:
        log("  %-4s %-52s %s" % ("PASS" if ok else "FAIL", target, value))
    npass = sum(1 for _, ok, _ in verdicts if ok)
    log("%d of %d targets met" % (npass, len(verdicts)))

    # Issue 15: binary sizes per architecture and start-up to READY
    # (scripts/footprint.py; RSS figures are the ones above).
    if a.footprint_rows >= 0:
        import footprint
        log("")
        log("footprint (scripts/footprint.py):")
        res = footprint.measure(binary=None, connections=a.probe_connections, bench_seconds=0,
                                rows=a.footprint_rows)
        for line in footprint.report(res):
            log("  " + line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
