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

Importable: measure (everything, as a dict) and report (its lines); the parts
live in footprint_size.py (build_static, size_report, breakdown) and
footprint_run.py (Daemon, idle_rss, keepalive_rss, bench_end_rss,
startup_to_ready, rows_db).
Python 3 standard library + wrk (scripts/install-deps.sh --bench).
"""

import argparse
import datetime as dt
import json
import os
import sys
import tempfile

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(SCRIPTS, ".."))
sys.path.insert(0, SCRIPTS)
import benchlib  # noqa: E402
from footprint_run import (bench_end_rss, idle_rss, keepalive_rss, note,  # noqa: E402
                           rows_db, startup_to_ready)
from footprint_size import HOST_ARCH, breakdown, build_static, size_report  # noqa: E402

TARGET_BYTES = 2_000_000
TARGET_RSS_MB = {"idle": 4, "keepalive": 12, "bench": 24}


# ---------------------------------------------------------------------------
# All of it
# ---------------------------------------------------------------------------

def measure(arches=None, binary=None, connections=1000, bench_seconds=10, rows=1_000_000,
            runs=5, keep_dir=None):
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
    ap.add_argument("--runs", type=int, default=5, help="start-ups per database (default 5)")
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
