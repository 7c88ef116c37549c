#!/usr/bin/env python3
"""How much disk a burst takes before checkpoints catch up:
scripts/wal_peak.py [--bin PATH] [--seconds 10] [--conns 64]

Starts hookd (release build; built when --bin is not given) on a fresh
database, runs wrk with scripts/wrk/webhook.lua (unique pre-signed webhooks
from scripts/gen_requests.py) for --seconds, samples the size of the rows
WAL and the index WAL every 2 ms, and prints the peaks, the webhooks
acknowledged and the database size at the end. The bounds in
src/store/sqlite/sq.h: a background checkpoint from SQ_CKPT_FRAMES (2,048
frames, 8 MiB) and a RESTART checkpoint past SQ_WAL_HARD_FRAMES (16,384
frames, 64 MiB)."""
import argparse
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import benchlib  # noqa: E402
SECRET = "wal-peak-secret"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--bin", default=None)
    ap.add_argument("--seconds", type=int, default=10)
    ap.add_argument("--conns", type=int, default=64)
    a = ap.parse_args()
    if a.bin is None:
        a.bin = benchlib.build_release(lambda msg: print(msg, file=sys.stderr))
    a.bin = os.path.abspath(a.bin)
    tmp = tempfile.mkdtemp(prefix="hookd-walpeak-")
    req = os.path.join(tmp, "req.tsv")
    subprocess.check_call([sys.executable, os.path.join(ROOT, "scripts", "gen_requests.py"),
                           "--count", str(30000 * a.seconds), "--secret", SECRET,
                           "--prefix", "wp", "--out", req], stdout=subprocess.DEVNULL)
    db = os.path.join(tmp, "hookd.db")
    env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "WEBHOOK_SECRET": SECRET,
           "HOST": "127.0.0.1", "PORT": "0", "LOG_LEVEL": "WARN",
           "DATABASE_URL": "sqlite:///" + db}
    p = subprocess.Popen([a.bin], env=env, cwd=tmp, stdout=subprocess.DEVNULL,
                         stderr=subprocess.PIPE, text=True)
    port = None
    deadline = time.monotonic() + 20
    while port is None and time.monotonic() < deadline:
        out = subprocess.run(["ss", "-ltnpH"], capture_output=True, text=True).stdout
        m = re.search(r"127\.0\.0\.1:(\d+)\s.*pid=%d," % p.pid, out)
        if m:
            port = int(m.group(1))
        else:
            time.sleep(0.05)
    if port is None:
        p.kill()
        sys.exit("hookd did not start: " + p.stderr.read())
    peaks = {"rows": 0, "index": 0}
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            for k, f in (("rows", db + "-wal"), ("index", db + "-index-wal")):
                try:
                    peaks[k] = max(peaks[k], os.path.getsize(f))
                except OSError:
                    pass
            time.sleep(0.002)

    w = threading.Thread(target=watch)
    w.start()
    r = subprocess.run(["wrk", "-t2", "-c%d" % a.conns, "-d%ds" % a.seconds, "-s",
                        os.path.join(ROOT, "scripts", "wrk", "webhook.lua"),
                        "http://127.0.0.1:%d/webhook" % port, "--", req],
                       capture_output=True, text=True, cwd=ROOT)
    stop.set()
    w.join()
    p.send_signal(signal.SIGTERM)
    p.wait(30)
    rate = re.search(r"Requests/sec:\s+(\S+)", r.stdout)
    n = subprocess.run(["sqlite3", db, "SELECT count(*) FROM messages"], capture_output=True,
                       text=True).stdout.strip() if os.path.exists(db) else "?"
    print("wrk -t2 -c%d -d%ds: %s req/s, %s rows stored" % (a.conns, a.seconds,
                                                         rate.group(1) if rate else "?", n))
    print("rows WAL peak %d bytes (%.1f MiB), index WAL peak %d bytes (%.1f MiB)"
          % (peaks["rows"], peaks["rows"] / 1048576.0, peaks["index"],
             peaks["index"] / 1048576.0))
    print("files at the end: rows %d bytes, index %d bytes (%s)"
          % (os.path.getsize(db), os.path.getsize(db + "-index"), tmp))


if __name__ == "__main__":
    main()
