#!/usr/bin/env python3
"""The long crash test: scripts/crash_soak.py [--engine sqlite|postgres]
[--cycles 100] [--bin PATH] [--full-every 5] [--seed N] [--keep DIR]

Runs hookd under concurrent signed load and crashes it, checks right after
each crash that every acknowledged message_id is stored and that the
engine's integrity checker finds nothing, restarts what crashed, and every
--full-every cycles (and at the end) waits until hookd is ready (and its
indexer caught up) and checks every derived figure through the API and in
the engine's own structures against the rows (tests/blackbox/crashlib.py
and crash_engines.py, the code tests/blackbox/test_crash.py runs for a
bounded time in CI).
  sqlite:   SIGKILL of hookd, alternately while the indexer lags and at a
            random moment; PRAGMA integrity_check on both files.
  postgres: on a throw-away cluster (scripts/pg_cluster.sh), SIGKILL of
            hookd at a random moment alternating with an immediate shutdown
            of the server under load (crash recovery on restart) while hookd
            keeps running; amcheck on the heap and every B-tree.
Prints one line per cycle and a summary; exit 1 on the first failure.
Without --bin it builds and uses build-release/hookd."""
import argparse
import os
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "scripts"))
import benchlib  # noqa: E402
sys.path.insert(0, os.path.join(ROOT, "tests", "blackbox"))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--engine", choices=("sqlite", "postgres"), default="sqlite")
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
    from crash_engines import PgEngine, SqliteEngine
    from hookd_harness import DaemonPool
    from pgcluster import PgCluster

    base = a.keep or tempfile.mkdtemp(prefix="hookd-soak-")
    cwd = os.path.join(base, "crash")
    os.makedirs(cwd, exist_ok=True)
    cluster = None
    env = {}
    tally = crashlib.Tally()
    pool = DaemonPool(base)
    t0 = time.monotonic()
    ok = False
    try:
        if a.engine == "postgres":
            cluster = PgCluster()
            engine = PgEngine(cluster, cluster.database("soak"))
        else:
            engine = SqliteEngine(cwd)
            env["INDEX_BATCH"] = a.index_batch
        crashlib.crash_cycles(lambda e: pool.start(env=e, cwd=cwd), engine, tally,
                              cycles=a.cycles, env=env,
                              seed=a.seed, full_every=a.full_every,
                              log=lambda s: print(s, flush=True))
        ok = True
    finally:
        try:
            pool.finish()
        except BaseException as e:  # pytest.fail outside pytest
            print("teardown: %s" % e, file=sys.stderr)
            ok = False
        if cluster:
            cluster.destroy(keep=bool(a.keep))
        print("%s: %s in %.0f s (%s%s)" % ("PASS" if ok else "FAIL", tally.summary(),
                                            time.monotonic() - t0, cwd,
                                            ", cluster " + cluster.dir if cluster and a.keep
                                            else ""), flush=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
