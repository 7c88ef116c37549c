#!/usr/bin/env python3
"""The long crash test: scripts/crash_soak.py [--cycles 100] [--bin PATH]
[--full-every 5] [--seed N] [--keep DIR]

Runs hookd under concurrent signed load, SIGKILLs it (alternately while the
indexer lags and at a random moment), checks right after each kill that
every acknowledged message_id is in the rows file and that both files pass
PRAGMA integrity_check, restarts hookd on the same files, and every
--full-every cycles (and at the end) waits for the indexer to catch up and
checks every derived figure through the API and in the index file against
the rows (tests/blackbox/crashlib.py, the code tests/blackbox/test_crash.py
runs for a bounded time in CI). Prints one line per cycle and a summary;
exit 1 on the first failure. Without --bin it builds and uses
build-release/hookd."""
import argparse
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import benchlib  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "blackbox"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--cycles", type=int, default=100)
    ap.add_argument("--bin", default=None)
    ap.add_argument("--full-every", type=int, default=5)
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--index-batch", default="512")
    ap.add_argument("--keep", default=None, help="work in this folder and keep it")
    a = ap.parse_args()
    if a.bin is None:
        a.bin = benchlib.build_release(lambda msg: print(msg, file=sys.stderr))
    os.environ["HOOKD_BIN"] = os.path.abspath(a.bin)
    import crashlib  # after HOOKD_BIN: the harness reads it at import
    from hookd_harness import DaemonPool

    base = a.keep or tempfile.mkdtemp(prefix="hookd-soak-")
    cwd = os.path.join(base, "crash")
    os.makedirs(cwd, exist_ok=True)
    engine = crashlib.SqliteEngine(cwd)
    tally = crashlib.Tally()
    pool = DaemonPool(base)
    t0 = time.monotonic()
    ok = False
    try:
        crashlib.crash_cycles(lambda e: pool.start(env=e, cwd=cwd), engine, tally,
                              cycles=a.cycles, env={"INDEX_BATCH": a.index_batch},
                              seed=a.seed, full_every=a.full_every,
                              log=lambda s: print(s, flush=True))
        ok = True
    finally:
        try:
            pool.finish()
        except BaseException as e:  # pytest.fail outside pytest
            print("teardown: %s" % e, file=sys.stderr)
            ok = False
        print("%s: %s in %.0f s (%s)" % ("PASS" if ok else "FAIL", tally.summary(),
                                          time.monotonic() - t0, cwd), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
