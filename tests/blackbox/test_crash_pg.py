"""Crash tests (issue 12), PostgreSQL engine, on a throw-away cluster of
its own (the server itself is crashed): hookd under concurrent signed load
is killed with SIGKILL at random moments, alternating with crashes of the
database server (immediate shutdown: every server process exits at once,
the next start runs crash recovery) while hookd keeps running. Checked
after each: every acknowledged message_id is stored, amcheck finds nothing
in the heap or any B-tree, clients got only 200 or 503 + Retry-After, hookd
is ready again by itself, and every derived figure (through the API, the
triggers' counts, the folded text and the trigram index) equals what Python
computes from the rows. The opposite too: on a server whose commits return
before their WAL is flushed, the same cycle reports acknowledged rows lost.

Registered (tests/blackbox/meson.build) only when hookd is built with the
PostgreSQL engine. CI runs about 8 s of cycles; scripts/crash_soak.py
--engine postgres runs the long version with the same code."""

import os
import sys

import pytest

from crash_engines import PgEngine
from crashlib import Tally, crash_cycles
from hookd_harness import DaemonPool
from pgcluster import PgCluster, hookd_has_postgres

SECONDS = float(os.environ.get("HOOKD_CRASH_SECONDS", "8"))

pytestmark = pytest.mark.skipif(not hookd_has_postgres(),
                                reason="this hookd was built without the PostgreSQL engine")


def test_postgres_hookd_kills_and_server_crashes_lose_nothing(tmp_path):
    cluster = PgCluster()
    pool = DaemonPool(tmp_path)
    tally = Tally()
    try:
        engine = PgEngine(cluster, cluster.database("crash"))
        cwd = str(tmp_path / "crash")
        d = crash_cycles(lambda e: pool.start(env=e, cwd=cwd), engine, tally,
                         seconds=SECONDS, min_cycles=4)
        assert d.proc.poll() is None
    finally:
        try:
            pool.finish()
        finally:
            cluster.destroy()
    print(tally.summary(), file=sys.stderr)
    assert tally.cycles >= 4
    assert tally.hookd_kills >= 2 and tally.server_crashes >= 2, tally.summary()
    assert len(tally.acked) >= 4 * 200


def test_postgres_server_crash_check_can_fail(tmp_path):
    """The opposite, so the check above can fail: a server whose commits
    return before their WAL is flushed (synchronous_commit=off, the WAL
    writer idle for 10 s) loses acknowledged rows in a crash, and the
    same cycle code reports them."""
    cluster = PgCluster(settings=("synchronous_commit=off", "wal_writer_delay=10000ms"))
    pool = DaemonPool(tmp_path)
    tally = Tally()
    try:
        engine = PgEngine(cluster, cluster.database("lossy"))
        engine.modes = ("server",)
        cwd = str(tmp_path / "crash")
        with pytest.raises(AssertionError, match="acknowledged but lost") as lost:
            crash_cycles(lambda e: pool.start(env=e, cwd=cwd), engine, tally, cycles=3)
        print(str(lost.value).splitlines()[0], file=sys.stderr)
    finally:
        try:
            pool.finish()
        finally:
            cluster.destroy()
    assert tally.server_crashes >= 1
