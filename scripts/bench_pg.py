#!/usr/bin/env python3
"""Load tests of hookd's PostgreSQL engine with wrk (issue 11), with a
pgbench reference line measured in the same run.

    python3 scripts/bench_pg.py                    # 10 s per scenario
    python3 scripts/bench_pg.py --duration 5 --hookd build-release/hookd

What it does, all on 127.0.0.1 and bounded in time:
  1. scripts/install-deps.sh --bench (wrk, postgresql, postgresql-contrib);
  2. builds the release binary (benchlib.build_release) unless --hookd;
  3. starts a throw-away PostgreSQL cluster (scripts/pg_cluster.sh; fsync
     and synchronous_commit on, the defaults, said explicitly);
  4. the reference: hookd creates its schema in a database `ref`, the
     generated webhooks are loaded into a staging table there (grouped in
     batches of 64), and pgbench inserts them, 64 rows per transaction, with
     one connection (hookd has one writer connection) into that same schema
     (same indexes, pg_trgm, count triggers) for --duration seconds; each
     transaction gives its rows fresh message_ids;
  5. hookd on a database `bench`: the scenarios of scripts/bench.py that the
     issue names, with scripts/wrk/*.lua: unique webhooks c64, duplicate
     webhooks c64 (the ids of the first scenario), GET /messages (50 rows),
     GET /messages?from=, GET /stats;
  6. prints one line per scenario (req/s, p50/p99, non-2xx, CPU of hookd
     and of PostgreSQL per 1,000 requests), checks every acknowledged
     webhook is in the database, and PASS/FAIL against the targets:
     unique webhooks >= 0.7 x the pgbench rows/s and p99 < 20 ms; reads
     >= 20,000/s.

Every process is started by this script and stopped by PID in finally
blocks. Python 3 standard library only (psql for the checks).
"""

import argparse
import datetime as dt
import json
import os
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = benchlib.ROOT
SCRIPTS = os.path.join(ROOT, "scripts")
WRK_DIR = os.path.join(SCRIPTS, "wrk")
HOST = "127.0.0.1"
PGBIN = "/usr/lib/postgresql/15/bin"
CLK_TCK = os.sysconf("SC_CLK_TCK")

T_REF_RATIO = 0.70
T_P99_MS = 20.0
T_READS = 20000


def log(msg=""):
    print(msg, flush=True)


def note(msg):
    print("  .. " + msg, file=sys.stderr, flush=True)


def stop_pid(p, timeout=15.0):
    if p is None or p.poll() is not None:
        return p.returncode if p else None
    p.send_signal(signal.SIGTERM)
    try:
        return p.wait(timeout)
    except subprocess.TimeoutExpired:
        p.kill()
        return p.wait(5)


def cpu_of(pids):
    """utime+stime seconds of the given PIDs; the first one's also counts
    its children that have exited (cutime+cstime: PostgreSQL backends that
    ended, e.g. pgbench's), so pass family(postmaster) for the server."""
    total = 0
    for i, pid in enumerate(pids):
        try:
            with open("/proc/%d/stat" % pid) as f:
                parts = f.read().rsplit(")", 1)[1].split()
            total += int(parts[11]) + int(parts[12])
            if i == 0:
                total += int(parts[13]) + int(parts[14])
        except (OSError, IndexError, ValueError):
            pass
    return total / CLK_TCK


def family(pid):
    """pid and every descendant (PostgreSQL's backends)."""
    out, todo = [], [pid]
    while todo:
        p = todo.pop()
        out.append(p)
        try:
            with open("/proc/%d/task/%d/children" % (p, p)) as f:
                todo += [int(x) for x in f.read().split()]
        except OSError:
            pass
    return out


def psql(url, sql, *extra):
    p = subprocess.run(["psql", "-X", "-q", "-At", "-v", "ON_ERROR_STOP=1", url, "-c", sql, *extra],
                       capture_output=True, text=True, timeout=600)
    if p.returncode != 0:
        raise SystemExit("bench_pg: psql failed: %s\n%s" % (sql[:200], p.stderr[-1000:]))
    return p.stdout.strip()


def db_url(admin, name):
    return admin.rpartition("/")[0] + "/" + name


def run_wrk(a, url, script, args):
    cmd = ["wrk", "-t%d" % a.threads, "-c%d" % a.connections, "-d%ds" % a.duration,
           "--timeout", "10s", "-s", os.path.join(WRK_DIR, script), url, "--"] + list(args)
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=a.duration + 180, cwd=ROOT)
    kv, total = {}, {}
    for line in p.stdout.splitlines():
        if line.startswith("HOOKD_WRK "):
            kv = benchlib.parse_kv(line[len("HOOKD_WRK "):])
        elif line.startswith("HOOKD_WRK_TOTAL "):
            total = benchlib.parse_kv(line[len("HOOKD_WRK_TOTAL "):])
    if not kv:
        raise SystemExit("bench_pg: wrk gave no summary: %s" % p.stderr[-500:])
    kv["rps"] = kv["requests"] / (kv["duration_us"] / 1e6) if kv.get("duration_us") else 0
    return kv, total


def http_get(port, path):
    s = socket.create_connection((HOST, port), timeout=10)
    try:
        s.sendall(("GET %s HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n" % path).encode())
        data = b""
        while True:
            b = s.recv(65536)
            if not b:
                break
            data += b
    finally:
        s.close()
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), body


def ts_key(ts):
    """hookd's chronological key (message.h ts_parse): no Z, trailing zeros
    of the fraction and a bare '.' removed."""
    k = ts[:-1]
    if "." in k:
        k = k.rstrip("0").rstrip(".")
    return k


def load_staging(ref, req_file, n, tmp):
    """The first n generated webhooks as rows of a staging table in `ref`,
    batch = row / 64 (psql \\copy from a TSV written here)."""
    path = os.path.join(tmp, "staging.tsv")

    def esc(v):
        if v is None:
            return "\\N"
        return v.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")

    rows = 0
    with open(req_file, encoding="utf-8") as f, open(path, "w", encoding="utf-8") as g:
        for line in f:
            if rows >= n:
                break
            body = json.loads(line.split("\t", 1)[1])
            text = body.get("text")
            g.write("\t".join(esc(x) for x in (
                str(rows // 64), body["message_id"], body["from"], body["to"], body["ts"],
                ts_key(body["ts"]), text, text.lower() if text is not None else None)) + "\n")
            rows += 1
    psql(ref, "CREATE TABLE staging(batch int, message_id text, from_msisdn text, to_msisdn text,"
              " ts text, ts_key text, text text, text_folded text)")
    psql(ref, "\\copy staging FROM '%s'" % path)
    psql(ref, "CREATE INDEX ON staging(batch); ANALYZE staging")
    return rows // 64


PGBENCH_SCRIPT = """\\set b random(0, {nb})
\\set r random(1, 1000000000000000)
INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, ts_key, text, text_folded, created_at)
 SELECT message_id || '-' || :r, from_msisdn, to_msisdn, ts, ts_key, text, text_folded,
 '2025-01-01T00:00:00.000Z' FROM staging WHERE batch = :b
 ON CONFLICT (message_id) DO NOTHING;
"""


def main(argv=None):
    p = argparse.ArgumentParser(description="hookd PostgreSQL engine load tests (issue 11)")
    p.add_argument("--duration", type=int, default=10, help="seconds per scenario (default 10)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--connections", type=int, default=64, help="connections (default 64)")
    p.add_argument("--readers", type=int, default=4, help="DB_READERS of hookd (default 4)")
    p.add_argument("--max-rate", type=int, default=40000,
                   help="requests/s bound used to size the unique request file (default 40000)")
    p.add_argument("--hookd", help="use this hookd binary (skips the build)")
    p.add_argument("--no-deps", action="store_true", help="skip scripts/install-deps.sh --bench")
    a = p.parse_args(argv)

    log("hookd PostgreSQL benchmark  %s" % dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M:%SZ"))
    log("command:  %s" % " ".join(shlex.quote(x) for x in [sys.executable] + sys.argv))
    log("machine:  %s; load avg %s" % (benchlib.machine_info(),
                                        " ".join(open("/proc/loadavg").read().split()[:3])))
    if not a.no_deps:
        subprocess.run([os.path.join(SCRIPTS, "install-deps.sh"), "--bench"], check=True,
                       timeout=900)
    binary = os.path.abspath(a.hookd) if a.hookd else benchlib.build_release(note)
    ver = subprocess.run([binary, "--version"], capture_output=True, text=True).stdout.split("\n")
    if "postgres" not in ver[1]:
        raise SystemExit("bench_pg: %s was built without the PostgreSQL engine" % binary)
    log("hookd:    %s (%s); DB_READERS=%d" % (ver[0], binary, a.readers))
    log("settings: wrk -t%d -c%d, %d s per scenario; PostgreSQL %s, fsync=on, "
        "synchronous_commit=on" % (a.threads, a.connections, a.duration,
                                   subprocess.run([PGBIN + "/postgres", "--version"],
                                                  capture_output=True, text=True).stdout.split()[-1]))
    log()

    tmp = tempfile.mkdtemp(prefix="hookd-benchpg-")
    os.chmod(tmp, 0o755)
    pgdir = os.path.join(tmp, "pg")
    secret = "bench-secret-%d" % os.getpid()
    run_id = "p%x" % int(time.time())
    hookd = None
    cluster = False
    rows, failures = [], []
    try:
        reqs = os.path.join(tmp, "unique.tsv")
        n = max(20000, a.max_rate * a.duration)
        note("generating %d requests" % n)
        subprocess.run([sys.executable, os.path.join(SCRIPTS, "gen_requests.py"), "--count", str(n),
                        "--secret", secret, "--prefix", run_id, "--out", reqs], check=True,
                       timeout=900)
        note("starting PostgreSQL")
        admin = subprocess.run([os.path.join(SCRIPTS, "pg_cluster.sh"), "start", pgdir, "0",
                                "-c fsync=on -c synchronous_commit=on -c shared_buffers=256MB"],
                               capture_output=True, text=True, timeout=300)
        if admin.returncode != 0:
            raise SystemExit("bench_pg: cluster: " + admin.stderr)
        cluster = True
        admin = admin.stdout.strip()
        pm_pid = int(open(os.path.join(pgdir, "data", "postmaster.pid")).readline())
        psql(admin, "CREATE DATABASE ref")
        psql(admin, "CREATE DATABASE bench")
        ref, bench = db_url(admin, "ref"), db_url(admin, "bench")

        def start_hookd(url):
            env = {k: v for k, v in os.environ.items() if k in ("PATH", "LANG")}
            env.update({"DATABASE_URL": url, "HOST": HOST, "PORT": "0", "WEBHOOK_SECRET": secret,
                        "LOG_LEVEL": "WARN", "DB_READERS": str(a.readers)})
            h = subprocess.Popen([binary], env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                                 stderr=open(os.path.join(tmp, "hookd.err"), "a"))
            end = time.monotonic() + 30
            while time.monotonic() < end:
                port = benchlib.listen_port(h.pid)
                if port:
                    try:
                        if http_get(port, "/health/ready")[0] == 200:
                            return h, port
                    except OSError:
                        pass
                if h.poll() is not None:
                    raise SystemExit("bench_pg: hookd exited at start-up")
                time.sleep(0.1)
            raise SystemExit("bench_pg: hookd not ready")

        # --- reference: pgbench into hookd's schema ---------------------------
        h, _ = start_hookd(ref)  # creates the schema, then goes away
        stop_pid(h)
        nb = load_staging(ref, reqs, min(n, 200000), tmp)
        script = os.path.join(tmp, "insert64.sql")
        with open(script, "w") as f:
            f.write(PGBENCH_SCRIPT.format(nb=nb - 1))
        note("pgbench reference: 64 rows per transaction, 1 connection, %d s" % a.duration)
        c0 = cpu_of(family(pm_pid))
        pb = subprocess.run([PGBIN + "/pgbench", "-n", "-c", "1", "-j", "1", "-T", str(a.duration),
                             "-l", "--log-prefix", os.path.join(tmp, "pgbench"), "-f", script,
                             ref], capture_output=True, text=True, timeout=a.duration + 120,
                            cwd=tmp)
        c1 = cpu_of(family(pm_pid))
        m = [l for l in pb.stdout.splitlines() if l.startswith("tps = ")]
        if pb.returncode != 0 or not m:
            raise SystemExit("bench_pg: pgbench failed: %s %s" % (pb.stdout[-800:], pb.stderr[-800:]))
        tps = float(m[0].split()[2])
        ref_rows = tps * 64
        # Per-transaction latencies from pgbench's log (third field, us).
        lats = []
        for fn in os.listdir(tmp):
            if fn.startswith("pgbench."):
                with open(os.path.join(tmp, fn)) as f:
                    lats += [int(line.split()[2]) for line in f if line.strip()]
        lats.sort()
        pct = (lambda q: lats[min(len(lats) - 1, int(q * len(lats)))] / 1000) if lats else (
            lambda q: 0.0)
        log("reference: pgbench -c1, 64 rows/transaction: %.0f transactions/s = %.0f rows/s; "
            "transaction latency p50 %.2f ms, p99 %.2f ms; PostgreSQL CPU %.3f s per 1,000 rows"
            % (tps, ref_rows, pct(0.5), pct(0.99), (c1 - c0) / (ref_rows * a.duration) * 1000))
        log()

        # --- hookd --------------------------------------------------------------
        hookd, port = start_hookd(bench)
        base = "http://%s:%d" % (HOST, port)

        def scenario(name, script, args, url):
            note("scenario " + name)
            pg0, h0 = cpu_of(family(pm_pid)), cpu_of([hookd.pid])
            kv, total = run_wrk(a, url, script, args)
            pg1, h1 = cpu_of(family(pm_pid)), cpu_of([hookd.pid])
            kv["hookd_cpu"], kv["pg_cpu"] = h1 - h0, pg1 - pg0
            rows.append((name, kv, total))
            if hookd.poll() is not None:
                raise SystemExit("bench_pg: hookd died during " + name)
            return kv, total

        r1, t1 = scenario("1 unique webhooks c%d" % a.connections, "webhook.lua",
                          [reqs, str(a.threads)], base + "/webhook")
        time.sleep(0.5)
        stored = int(psql(bench, "SELECT count(*) FROM messages WHERE message_id LIKE '%s-%%'"
                          % run_id))
        acked = r1["requests"] - r1["non2xx"]
        ok = acked <= stored <= t1.get("issued", stored)
        log("durability: %d rows stored, %d acknowledged (200) by wrk, %d sent: %s"
            % (stored, acked, t1.get("issued", 0), "ok" if ok else "FAIL"))
        if not ok:
            failures.append("durability: fewer rows than 200s")
        dup = os.path.join(tmp, "dup.tsv")
        ids = set(psql(bench, "SELECT message_id FROM messages WHERE message_id LIKE '%s-%%'"
                       % run_id).split("\n"))
        with open(reqs, encoding="utf-8") as f, open(dup, "w", encoding="utf-8") as g:
            for line in f:
                body = line.split("\t", 1)[1]
                if json.loads(body)["message_id"] in ids:
                    g.write(line)
        scenario("2 duplicate webhooks c%d" % a.connections, "webhook.lua", [dup, str(a.threads)],
                 base + "/webhook")
        st, b = http_get(port, "/stats")
        sender = json.loads(b)["messages_per_sender"][0]["from"]
        r5, _ = scenario("3 GET /messages (50 rows)", "get.lua", ["/messages"], base)
        r6, _ = scenario("4 GET /messages?from= (50 rows)", "get.lua",
                         ["/messages?from=" + urllib.parse.quote(sender, safe="")], base)
        r7, _ = scenario("5 GET /stats", "get.lua", ["/stats"], base)
        total = int(psql(bench, "SELECT count(*) FROM messages"))
        log("database: %d rows, %d senders; %s on disk" % (
            total, int(psql(bench, "SELECT count(DISTINCT from_msisdn) FROM messages")),
            psql(bench, "SELECT pg_size_pretty(pg_database_size('bench'))")))
    finally:
        if hookd is not None:
            rc = stop_pid(hookd)
            if rc not in (0, None):
                failures.append("hookd exited %s on SIGTERM" % rc)
        if cluster:
            subprocess.run([os.path.join(SCRIPTS, "pg_cluster.sh"), "stop", pgdir], timeout=120)
        shutil.rmtree(tmp, ignore_errors=True)

    log()
    log("%-36s %9s %8s %8s %8s %10s %10s" % ("scenario", "req/s", "p50 ms", "p99 ms", "non-2xx",
                                             "hookd cpu", "pg cpu"))
    for name, kv, _ in rows:
        n = kv["requests"] or 1
        log("%-36s %9.0f %8.2f %8.2f %8d %10.3f %10.3f" % (
            name, kv["rps"], kv["p50_us"] / 1000, kv["p99_us"] / 1000, kv["non2xx"],
            kv["hookd_cpu"] / n * 1000, kv["pg_cpu"] / n * 1000))
    log("  (cpu: utime+stime seconds per 1,000 requests, of hookd and of all PostgreSQL processes)")
    log()
    checks = [
        ("unique webhooks >= %.1f x pgbench rows/s" % T_REF_RATIO, r1["rps"] >= T_REF_RATIO * ref_rows,
         "%.0f / %.0f = %.2f" % (r1["rps"], ref_rows, r1["rps"] / ref_rows)),
        ("unique webhooks p99 < %.0f ms" % T_P99_MS, r1["p99_us"] / 1000 < T_P99_MS,
         "%.2f ms" % (r1["p99_us"] / 1000)),
        ("GET /messages >= %d/s" % T_READS, r5["rps"] >= T_READS, "%.0f/s" % r5["rps"]),
        ("GET /messages?from= >= %d/s" % T_READS, r6["rps"] >= T_READS, "%.0f/s" % r6["rps"]),
        ("GET /stats >= %d/s" % T_READS, r7["rps"] >= T_READS, "%.0f/s" % r7["rps"]),
        ("no errors", not failures and all(kv["non2xx"] == 0 for _, kv, _ in rows),
         "; ".join(failures) or "every answer 2xx"),
    ]
    for what, ok, detail in checks:
        log("%-4s %s: %s" % ("PASS" if ok else "FAIL", what, detail))
    return 0 if all(ok for _, ok, _ in checks) else 1


if __name__ == "__main__":
    sys.exit(main())
