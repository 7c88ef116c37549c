#!/usr/bin/env python3
"""What each part of the durable write path costs (issue 5): unique signed
webhooks at 64 connections, with the derived structures that issue 3's read
targets need taken away one by one.

    python3 scripts/bench_write_parts.py                 # ~3 min
    python3 scripts/bench_write_parts.py --duration 5

It measures the previous release's design (schema 2, derived structures
inside the acknowledging transaction; issue 10 moved them to an indexer), so
it exports that release (commit PREVIOUS below) into a temp dir,
applies scripts/experiments/write-parts.patch (an env variable
HOOKD_EXPERIMENT_SKIP whose bits skip the per-batch aggregate / trigram
statements and drop the two secondary indexes), builds that copy, and for
each variant starts it on a fresh database and runs wrk with
scripts/wrk/webhook.lua exactly like scenario 1 of scripts/bench.py. The
shipped binary is variant `full`; the others are not products, only
measurements.

Per variant it prints requests/s, p50/p99, bytes hookd sent to storage per
webhook (/proc/PID/io write_bytes), hookd CPU s per 1,000 webhooks, the rows
stored (checked against the 200s), and the machine's disk reference
(sequential write + fdatasync MB/s). Every server is stopped by PID.
"""

import argparse
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import bench  # noqa: E402
import benchlib  # noqa: E402

ROOT = bench.ROOT
PATCH = os.path.join(ROOT, "scripts", "experiments", "write-parts.patch")
PREVIOUS = "914fee2"  # the last release with schema 2 (the patch applies to it)

# (name, HOOKD_EXPERIMENT_SKIP bits): 1 totals, 2 sender_counts, 4 ts_hours,
# 8 trigram index, 16 messages_ts index, 32 messages_from index.
VARIANTS = (
    ("full (as shipped)", 0),
    ("- aggregates", 1 | 2 | 4),
    ("- trigram index", 8),
    ("- trigram - aggregates", 15),
    ("- trigram - aggregates - ts index", 15 | 16),
    ("- trigram - aggregates - from index", 15 | 32),
    ("messages + primary key only", 63),
)


def run(cmd, cwd, timeout=900):
    p = subprocess.run(cmd, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                       timeout=timeout)
    if p.returncode != 0:
        sys.stderr.write(p.stdout[-4000:])
        raise SystemExit("bench_write_parts: '%s' failed (exit %d)" % (" ".join(cmd), p.returncode))
    return p.stdout


def build_patched(tmp):
    src = os.path.join(tmp, "src")
    os.mkdir(src)
    bench.note("exporting %s to %s and applying %s" % (PREVIOUS, src, os.path.relpath(PATCH, ROOT)))
    archive = subprocess.run(["git", "-C", ROOT, "archive", PREVIOUS], stdout=subprocess.PIPE,
                             check=True).stdout
    subprocess.run(["tar", "-x", "-C", src], input=archive, check=True)
    run(["patch", "-p1", "--quiet", "-i", PATCH], src)
    bench.note("building the patched copy (release)")
    run(["meson", "setup", "build", "--buildtype=release", "-Dtests=false"], src)
    run(["ninja", "-C", "build"], src)
    return os.path.join(src, "build", "hookd")


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--duration", type=int, default=10, help="seconds per variant (default 10)")
    p.add_argument("--threads", type=int, default=2, help="wrk threads (default 2)")
    p.add_argument("--connections", type=int, default=64)
    p.add_argument("--max-rate", type=int, default=70000,
                   help="size of the request file: no line is sent twice below this rate")
    p.add_argument("--no-deps", action="store_true", help="skip scripts/install-deps.sh --bench")
    a = p.parse_args(argv)
    a.wrk_timeout = 10
    if not a.no_deps:
        run(["bash", os.path.join(ROOT, "scripts", "install-deps.sh"), "--bench"], ROOT, 1800)
    bench.raise_nofile()
    bench.log("machine:  %s" % benchlib.machine_info())
    tmp = tempfile.mkdtemp(prefix="hookd-parts-")
    rows = []
    try:
        binary = build_patched(tmp)
        secret = secrets.token_hex(24)
        req = os.path.join(tmp, "unique.tsv")
        bench.gen_file(a, req, a.max_rate * a.duration, "wp" + secrets.token_hex(3), secret)
        mbps, fsync_ms = bench.disk_reference(tmp)
        for name, bits in VARIANTS:
            bench.note("variant %s (HOOKD_EXPERIMENT_SKIP=%d)" % (name, bits))
            os.environ["HOOKD_EXPERIMENT_SKIP"] = str(bits)
            h = bench.Hookd(binary, tmp, secret)
            try:
                h.start()
                pid = h.proc.pid
                cpu0, wb0 = bench.proc_cpu(pid), bench.proc_write_bytes(pid)
                r = bench.run_wrk(a, "http://%s:%d/webhook" % (bench.HOST, h.port), "webhook.lua",
                                  a.connections, [req])
                cpu1, wb1 = bench.proc_cpu(pid), bench.proc_write_bytes(pid)
                time.sleep(0.5)
            finally:
                rc = h.stop()
            if not r.ok:
                raise SystemExit("bench_write_parts: wrk failed for %s: %s" % (name, r.stderr[-500:]))
            if wb0 is None or wb1 is None:
                raise SystemExit("bench_write_parts: /proc/%d/io is not readable here" % pid)
            if rc not in (0, None):
                raise SystemExit("bench_write_parts: hookd exited %s: %s" % (rc, h.stderr_tail()))
            stored = bench.db_count(h.db)
            acked = r.get("requests") - r.get("non2xx")
            rows.append((name, bits, r, (wb1 - wb0) / max(1, acked), (cpu1 - cpu0) / max(1, acked) * 1000,
                         stored, acked))
            shutil.rmtree(h.dir, ignore_errors=True)
    finally:
        os.environ.pop("HOOKD_EXPERIMENT_SKIP", None)
        shutil.rmtree(tmp, ignore_errors=True)

    bench.log("unique signed webhooks, wrk -t%d -c%d -d%ds, DB_SYNCHRONOUS=FULL, fresh database each"
              % (a.threads, a.connections, a.duration))
    bench.log("%-38s %5s %9s %8s %8s %10s %8s %9s" % (
        "variant", "skip", "req/s", "p50 ms", "p99 ms", "disk KB/wh", "cpu/1k", "stored"))
    for name, bits, r, wb, cpu1k, stored, acked in rows:
        bench.log("%-38s %5d %9.0f %8.2f %8.2f %10.1f %8.3f %9s" % (
            name, bits, r.rps, r.get("p50_us") / 1000, r.get("p99_us") / 1000, wb / 1024.0, cpu1k,
            "%d%s" % (stored, "" if stored >= acked else " < %d acked!" % acked)))
    bench.log("disk: %.0f MB/s sequential write + fdatasync, %.2f ms median 4 KiB write + fdatasync"
              % (mbps, fsync_ms))
    bad = [n for n, _, r, _, _, stored, acked in rows if stored < acked or r.get("non2xx")]
    if bad:
        raise SystemExit("bench_write_parts: failed requests or lost rows in: %s" % ", ".join(bad))


if __name__ == "__main__":
    main()
