#!/usr/bin/env python3
"""hookd's footprint per architecture (issue 15): the stripped static binary
(what the container ships), what takes its space, and, on this machine's own
architecture, its resident memory and start-up time.

    scripts/footprint.py                    # amd64 (everything) + arm64 (sizes)
    scripts/footprint.py --arch arm64       # one architecture
    scripts/footprint.py --rows 100000 --bench-seconds 5    # quicker
    scripts/footprint.py --binary build-release/hookd       # RSS/start-up of another build
    scripts/footprint.py --json             # one JSON object instead of the report

Per architecture:
  size       bytes of build-static[-arm64]/hookd.stripped (scripts/build-static.sh)
             and of its sections (size -A);
  breakdown  bytes each library brings, from a link map of the same build
             (build-footprint-<arch>/, -Wl,-Map);
  rss        VmRSS of the running daemon (/proc/PID/status): idle after
             READY on an empty database; with --connections (1000) idle
             keep-alive connections, each having made one request; at the
             end of the unique-webhook benchmark (wrk -c64, scripts/wrk/
             webhook.lua with gen_requests.py ids, as scripts/bench.py's
             scenario 1), with the peak (VmHWM) beside it;
  start-up   exec to READY=1 on NOTIFY_SOCKET (hookd sends it once it listens
             and its database passed the readiness check), median of
             --runs, on an empty database and on a --rows (1,000,000) one
             (filled by bench_queries.load, kept in build-footprint-db/).
arm64 is reported with sizes only: on this x86_64 machine it runs under
qemu-user, whose RSS and start-up time are the emulator's, not hookd's.

Importable: build_static, size_report, breakdown, Daemon, idle_rss,
keepalive_rss, bench_end_rss, startup_to_ready, rows_db, measure, report.
Python 3 standard library + wrk (scripts/install-deps.sh --bench).
"""

import argparse
import contextlib
import datetime as dt
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
import tempfile
import time

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(SCRIPTS, ".."))
sys.path.insert(0, SCRIPTS)
import benchlib  # noqa: E402

HOST = "127.0.0.1"
SECRET = "footprint-secret"
HOST_ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                           check=True).stdout.strip()
STRIP = {"amd64": "strip", "arm64": "aarch64-linux-gnu-strip"}
SIZE_TOOL = {"amd64": "size", "arm64": "aarch64-linux-gnu-size"}
TARGET_BYTES = 2_000_000
TARGET_RSS_MB = {"idle": 4, "keepalive": 12, "bench": 24}


def note(msg):
    print("  .. " + msg, file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------
# Sizes
# ---------------------------------------------------------------------------

def build_static(arch):
    """scripts/build-static.sh --arch ARCH; returns the stripped binary's path."""
    p = subprocess.run([os.path.join(SCRIPTS, "build-static.sh"), "--arch", arch], cwd=ROOT,
                       capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise SystemExit("footprint: build-static.sh --arch %s failed:\n%s"
                         % (arch, p.stderr[-3000:]))
    return os.path.join(ROOT, p.stdout.strip().splitlines()[-1])


def size_report(path, arch):
    """{'bytes': file size, 'sections': {name: bytes}} (size -A)."""
    tool = SIZE_TOOL.get(arch, "size")
    if not shutil.which(tool):
        tool = "size"
    out = subprocess.run([tool, "-A", path], capture_output=True, text=True,
                         check=True).stdout
    sections = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith((".", "__")) and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    return {"bytes": os.path.getsize(path), "sections": sections}


# Link-map input files -> the component they belong to.
COMPONENTS = [
    ("SQLite", r"libsqlite3\.a"), ("glibc (libc)", r"libc\.a|libpthread|librt|libdl"),
    ("glibc (libm)", r"libm(-[\d.]+)?\.a"), ("libuv", r"libuv_a\.a"),
    ("libsodium", r"libsodium\.a"), ("zlib", r"libz\.a"), ("llhttp", r"llhttp"),
    ("libstdc++/libgcc", r"libstdc\+\+|libgcc|crt\w*\.o"), ("hookd", r"."),
]
LOADED = (".text", ".rodata", ".data", ".tdata", ".eh_frame", ".gcc_except_table",
          "__libc")


def parse_map(path):
    """{input file: bytes} of the loaded sections in a GNU ld link map."""
    sizes = {}
    pending = None
    with open(path, errors="replace") as f:
        in_map = False
        for line in f:
            if line.startswith("Linker script and memory map"):
                in_map = True
                continue
            if not in_map or line.startswith(("/DISCARD/", "OUTPUT(")):
                continue
            m = re.match(r"^ (\S+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", line)
            if m:
                name, size, obj = m.group(1), int(m.group(2), 16), m.group(3)
            else:
                m1 = re.match(r"^ (\S+)$", line.rstrip("\n"))
                if m1:
                    pending = m1.group(1)
                    continue
                m = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", line)
                if not (m and pending):
                    pending = None
                    continue
                name, size, obj = pending, int(m.group(1), 16), m.group(2)
            pending = None
            if name.startswith(LOADED):
                sizes[obj] = sizes.get(obj, 0) + size
    return sizes


def breakdown(arch):
    """[(component, bytes)] of the static binary, largest first, from a link
    map of a build-static configuration in build-footprint-<arch>/."""
    bdir = os.path.join(ROOT, "build-footprint-" + arch)
    mapfile = os.path.join(bdir, "hookd.map")
    if not os.path.exists(os.path.join(bdir, "build.ninja")):
        cmd = ["meson", "setup", bdir, "--buildtype=release", "-Dstatic=true", "-Dtests=false",
               "-Dcpp_link_args=-Wl,-Map=" + mapfile]
        if arch != HOST_ARCH:
            cmd += ["--cross-file", os.path.join(ROOT, "scripts/cross/aarch64-linux-gnu.ini")]
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True, timeout=600)
    p = subprocess.run(["ninja", "-C", bdir], cwd=ROOT, capture_output=True, text=True,
                       timeout=1800)
    if p.returncode != 0:
        raise SystemExit("footprint: ninja -C %s failed:\n%s" % (bdir, p.stdout[-3000:]))
    totals = {}
    for obj, size in parse_map(mapfile).items():
        for comp, pat in COMPONENTS:
            if re.search(pat, os.path.basename(obj.split("(")[0])):
                totals[comp] = totals.get(comp, 0) + size
                break
    return sorted(totals.items(), key=lambda kv: -kv[1])


# ---------------------------------------------------------------------------
# The daemon
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


def listen_port(pid):
    """The TCP port PID listens on (from /proc/net/tcp*), or None."""
    inodes = set()
    for fd in os.listdir("/proc/%d/fd" % pid):
        try:
            m = re.match(r"socket:\[(\d+)\]", os.readlink("/proc/%d/fd/%s" % (pid, fd)))
        except OSError:
            continue
        if m:
            inodes.add(m.group(1))
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        with open(table) as f:
            next(f)
            for line in f:
                parts = line.split()
                if parts[3] == "0A" and parts[9] in inodes:
                    return int(parts[1].rsplit(":", 1)[1], 16)
    return None


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
        self.port = listen_port(self.proc.pid)
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


# ---------------------------------------------------------------------------
# All of it
# ---------------------------------------------------------------------------

def measure(arches=None, binary=None, connections=1000, bench_seconds=10, rows=1_000_000,
            runs=3, keep_dir=None):
    """{arch: {...}} for each architecture (default: this machine's + arm64)."""
    arches = arches or ([HOST_ARCH] + (["arm64"] if HOST_ARCH != "arm64" else []))
    keep_dir = keep_dir or os.path.join(ROOT, "build-footprint-db")
    out = {}
    for arch in arches:
        note("%s: static build" % arch)
        path = build_static(arch)
        r = {"binary": os.path.relpath(path, ROOT), **size_report(path, arch)}
        note("%s: link-map breakdown" % arch)
        r["breakdown"] = breakdown(arch)
        if arch == HOST_ARCH:
            run_bin = os.path.abspath(binary) if binary else path
            r["measured_binary"] = os.path.relpath(run_bin, ROOT)
            with tempfile.TemporaryDirectory(prefix="hookd-footprint-") as tmp:
                note("%s: idle RSS" % arch)
                r["idle"] = idle_rss(run_bin, tmp)
                note("%s: %d keep-alive connections" % (arch, connections))
                r["keepalive"] = keepalive_rss(run_bin, tmp, connections)
                if bench_seconds:
                    note("%s: unique-webhook benchmark, %d s" % (arch, bench_seconds))
                    r["bench"] = bench_end_rss(run_bin, tmp, bench_seconds)
                note("%s: start-up on an empty database" % arch)
                r["startup_empty"] = startup_to_ready(run_bin, os.path.join(tmp, "empty.db"), runs)
            if rows:
                db = rows_db(run_bin, rows, keep_dir)
                note("%s: start-up on the %d-row database" % (arch, rows))
                r["startup_rows"] = dict(startup_to_ready(run_bin, db, runs), rows=rows)
        else:
            r["not_measured"] = ("RSS and start-up: under qemu-user on %s they would be the "
                                 "emulator's, not hookd's" % HOST_ARCH)
        out[arch] = r
    return out


def _mb(m):
    return "%.1f MB (anon %.1f + file %.1f)" % (m["rss"], m.get("anon", 0), m.get("file", 0))


def _verdict(mb, limit_mb):
    return ("under %d MB" if mb < limit_mb else "OVER %d MB") % limit_mb


def report(res):
    """The human-readable lines for measure()'s result."""
    lines = []
    for arch, r in res.items():
        sec = r["sections"]
        lines.append("%s  %s: %s bytes (target < %s: %s)" % (
            arch, r["binary"], format(r["bytes"], ","), format(TARGET_BYTES, ","),
            "met" if r["bytes"] < TARGET_BYTES else "NOT met"))
        lines.append("       sections: .text %s, .rodata %s, .data+.data.rel.ro %s, .bss %s "
                     "(not in the file)" % tuple(format(x, ",") for x in (
                         sec.get(".text", 0), sec.get(".rodata", 0),
                         sec.get(".data", 0) + sec.get(".data.rel.ro", 0), sec.get(".bss", 0))))
        lines.append("       bytes by component: " + ", ".join(
            "%s %s" % (c, format(b, ",")) for c, b in r["breakdown"]))
        if "not_measured" in r:
            lines.append("       " + r["not_measured"])
            continue
        lines.append("       measured: %s" % r["measured_binary"])
        lines.append("       RSS idle (empty database, 1 s after READY): %s  [%s]" % (
            _mb(r["idle"]), _verdict(r["idle"]["rss"], TARGET_RSS_MB["idle"])))
        k = r["keepalive"]
        lines.append("       RSS with %d idle keep-alive connections: %s  [%s]" % (
            k["connections"], _mb(k), _verdict(k["rss"], TARGET_RSS_MB["keepalive"])))
        if "bench" in r:
            b = r["bench"]
            lines.append("       RSS at the end of the unique-webhook benchmark (%s, %s requests, "
                         "%s req/s): %s, peak %.1f MB  [%s]" % (
                             b["wrk"], b.get("requests") or "?", b.get("rps") or "?", _mb(b),
                             b["hwm"], _verdict(b["rss"], TARGET_RSS_MB["bench"])))
        s = r["startup_empty"]
        lines.append("       start-up to READY, empty database: %.1f ms (median of %s)" % (
            s["median"] * 1000, ", ".join("%.1f" % (t * 1000) for t in s["runs"])))
        if "startup_rows" in r:
            s = r["startup_rows"]
            lines.append("       start-up to READY, %s-row database: %.1f ms (median of %s)" % (
                format(s["rows"], ","), s["median"] * 1000,
                ", ".join("%.1f" % (t * 1000) for t in s["runs"])))
    return lines


def main(argv=None):
    ap = argparse.ArgumentParser(description="hookd footprint per architecture (issue 15)")
    ap.add_argument("--arch", action="append", choices=["amd64", "arm64"],
                    help="architecture (repeatable; default: this machine's and arm64)")
    ap.add_argument("--binary", help="measure RSS/start-up of this binary instead of the "
                    "static one (sizes stay the static build's)")
    ap.add_argument("--connections", type=int, default=1000,
                    help="idle keep-alive connections (default 1000)")
    ap.add_argument("--bench-seconds", type=int, default=10,
                    help="unique-webhook benchmark length, 0 to skip (default 10)")
    ap.add_argument("--rows", type=int, default=1_000_000,
                    help="rows of the start-up database, 0 to skip (default 1000000)")
    ap.add_argument("--runs", type=int, default=3, help="start-ups per database (default 3)")
    ap.add_argument("--keep-dir", help="where the rows database is kept "
                    "(default build-footprint-db/)")
    ap.add_argument("--json", action="store_true", help="print one JSON object")
    a = ap.parse_args(argv)
    res = measure(a.arch, a.binary, a.connections, a.bench_seconds, a.rows, a.runs, a.keep_dir)
    if a.json:
        print(json.dumps(res, indent=1))
        return 0
    print("hookd footprint  %s" % dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%MZ"))
    print("machine: %s" % benchlib.machine_info())
    for line in report(res):
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
