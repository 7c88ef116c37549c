"""Crash tests (issue 12), SQLite engine: hookd under concurrent signed load
is killed with SIGKILL at random moments and while its indexer lags,
restarted on the same files, and checked: every acknowledged message_id is
stored, both files pass PRAGMA integrity_check, and once the indexer caught
up every derived figure (/stats, totals per sender, since, q, first pages,
and the index file's own tables) equals what Python computes from the rows.
test_crash_pg.py does the same on PostgreSQL.

CI runs a bounded number of cycles (about 8 s of them, at least 4 cycles);
scripts/crash_soak.py runs the long version with the same code
(crashlib.py, crash_engines.py)."""

import os
import sys

from crash_engines import SqliteEngine
from crashlib import Tally, crash_cycles
from hookd_harness import DaemonPool

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
