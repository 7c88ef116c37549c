"""Crash tests (issue 12): hookd under concurrent signed load is crashed,
restarted where needed, and checked: every acknowledged message_id is
stored, the engine's integrity checker finds nothing, and once hookd is
ready (and its indexer caught up) every derived figure (/stats, totals per
sender, since, q, first pages, and the engine's own derived structures)
equals what Python computes from the rows.

  - SQLite: SIGKILL at random moments and while the indexer lags, restart
    on the same files; PRAGMA integrity_check on both files.
  - PostgreSQL (its own throw-away cluster): SIGKILL of hookd at random
    moments, alternating with crashes of the database server itself
    (immediate shutdown, then crash recovery) while hookd keeps running;
    amcheck on the heap and every B-tree.

CI runs a bounded number of cycles (about 8 s of them per engine, at least
4 cycles); scripts/crash_soak.py runs the long version with the same code
(crashlib.py, crash_engines.py)."""

import os
import sys

import pytest

from crash_engines import PgEngine, SqliteEngine
from crashlib import Tally, crash_cycles
from hookd_harness import DaemonPool
from pgcluster import PgCluster, hookd_has_postgres

SECONDS = float(os.environ.get("HOOKD_CRASH_SECONDS", "8"))


def test_kill_9_cycles_lose_nothing_and_derived_data_agrees(tmp_path):
    cwd = tmp_path / "crash"
    cwd.mkdir()
    engine = SqliteEngine(cwd)
    tally = Tally()
    pool = DaemonPool(tmp_path)
    try:
        # Small index batches: under load the indexer runs batch after
        # batch, so a kill often lands inside one.
        d = crash_cycles(lambda e: pool.start(env=e, cwd=str(cwd)), engine, tally,
                         seconds=SECONDS, min_cycles=4, env={"INDEX_BATCH": "512"})
        assert d.proc.poll() is None
    finally:
        pool.finish()
    print(tally.summary(), file=sys.stderr)
    assert tally.cycles >= 4
    assert len(tally.acked) >= 4 * 200
    # The kills did hit the indexer at work, and restarts had to catch up.
    assert tally.kills_lagging >= 1, tally.summary()
    assert tally.behind_at_restart >= 1, tally.summary()


@pytest.mark.skipif(not hookd_has_postgres(),
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
    # The server crashes were seen by clients: 503 answers, never a 200 lost.
    assert tally.refused >= tally.server_crashes, tally.summary()


@pytest.mark.skipif(not hookd_has_postgres(),
                    reason="this hookd was built without the PostgreSQL engine")
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
