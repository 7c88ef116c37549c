"""Faults (issue 12): a full disk answers 503 + Retry-After (never 500),
loses nothing acknowledged and recovers without a restart once space is
freed; a burst leaves the rows WAL bounded; reader connections that cannot
open at the descriptor limit answer 503, not 500, and recover.

The full disk is a real one: a tmpfs of a few MiB the test mounts itself
(tests run as root; if mounting fails the test fails, it never skips)."""

import os
import random
import resource
import subprocess
import sys
import threading
import time

import pytest

from crash_engines import SqliteEngine
from crashlib import Load, check_full, get_json, index_lag, make_message, metrics
from hookd_harness import (Conn, build_request, hookd_factory, post_webhook,  # noqa: F401
                           wait_until)

# sq.h: SQ_WAL_HARD_FRAMES frames of a 4 KiB page plus a 24-byte header.
WAL_HARD_BYTES = 32 + 16384 * (4096 + 24)


@pytest.fixture
def small_fs(tmp_path):
    mnt = tmp_path / "small"
    mnt.mkdir()
    r = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=24m", "tmpfs", str(mnt)],
                       capture_output=True, text=True)
    assert r.returncode == 0, "cannot mount a tmpfs (the test needs root): %s" % r.stderr
    try:
        yield mnt
    finally:
        subprocess.run(["umount", "-l", str(mnt)], check=False)


def fill(path, leave):
    """A ballast file that leaves about `leave` bytes free on its file system."""
    st = os.statvfs(os.path.dirname(path))
    n = st.f_bavail * st.f_frsize - leave
    with open(path, "wb") as f:
        chunk = b"\0" * (1 << 20)
        while n > 0:
            f.write(chunk[:min(n, len(chunk))])
            n -= len(chunk)
    return path


def test_disk_full_is_503_loses_nothing_and_recovers(hookd_factory, small_fs):
    cwd = small_fs / "db"
    cwd.mkdir()
    engine = SqliteEngine(cwd)
    d = hookd_factory(cwd=str(cwd), env={"INDEX_BATCH": "512"})
    ballast = fill(str(small_fs / "ballast"), 3 << 20)
    load = Load(d.port, "full", clients=6).start()
    try:
        wait_until(lambda: load.refused > 50, timeout=60, interval=0.05,
                   what="the disk filling up (503 answers)")
    finally:
        load.stop()
    assert not load.other, "non-503 failures on a full disk: %r" % load.other[:5]
    assert not load.errors, "clients' connections failed: %r" % load.errors[:5]
    assert load.no_retry_after == 0, "503 without Retry-After: %d" % load.no_retry_after
    assert len(load.acked) > 100
    # Every refusal said why and when to come back.
    r = post_webhook(d.port, make_message("probe-full", random.Random(1)))
    assert r.status == 503, r
    assert r.header("Retry-After") == "1"
    ready = d.request("GET", "/health/ready")
    assert ready.status == 503, ready
    assert any(rec.get("status") == 503 for rec in d.request_records(path="/webhook"))
    assert not any(rec.get("status") == 500 for rec in d.records() if rec.get("event") == "request")
    # Space freed: the same process accepts webhooks again, nothing lost.
    os.unlink(ballast)
    wait_until(lambda: post_webhook(d.port, make_message("after-%f" % time.time(),
                                                         random.Random(2))).status == 200,
               timeout=20, what="webhooks accepted again")
    more = Load(d.port, "freed", clients=4).start()
    wait_until(lambda: more.count() >= 200, timeout=30)
    more.stop()
    assert not more.other
    wait_until(lambda: d.request("GET", "/health/ready").status == 200, timeout=15)
    check_full(engine, d.port, set(load.acked) | set(more.acked))
    print("disk full: %d acknowledged before, %d refused with 503, %d after freeing space"
          % (len(load.acked), load.refused, len(more.acked)), file=sys.stderr)


def test_burst_keeps_the_rows_wal_bounded(hookd_factory, tmp_path):
    d = hookd_factory(cwd=str(tmp_path / "burst"), env={"INDEX_BATCH": "4096"})
    engine = SqliteEngine(tmp_path / "burst")
    wal = engine.path + "-wal"
    peak = [0]
    stop = threading.Event()

    def watch():
        while not stop.is_set():
            try:
                peak[0] = max(peak[0], os.path.getsize(wal))
            except OSError:
                pass
            time.sleep(0.002)

    w = threading.Thread(target=watch)
    w.start()
    load = Load(d.port, "burst", clients=16).start()
    try:
        wait_until(lambda: load.count() >= 20000, timeout=120, interval=0.1,
                   what="20000 acknowledged webhooks")
    finally:
        load.stop()
        stop.set()
        w.join()
    assert not load.other
    m = metrics(d.port)
    print("burst: %d webhooks, rows WAL peak %d bytes (%.1f MiB), database %d bytes"
          % (load.count(), peak[0], peak[0] / 1048576.0, m.get("hookd_db_size_bytes", -1)),
          file=sys.stderr)
    assert 0 < peak[0] <= WAL_HARD_BYTES
    # The background checkpoint ran and the WAL restarted: it did not just grow.
    assert os.path.getsize(engine.path) > 4096
    assert get_json(d.port, "/stats")["total_messages"] >= load.count()
    wait_until(lambda: index_lag(d.port) == 0, timeout=30)


def test_reader_open_failure_at_descriptor_limit_is_503(hookd_factory):
    d = hookd_factory(env={"DB_READERS": "2"})
    conns = [Conn(d.port) for _ in range(12)]
    for c in conns:
        c.send(build_request("GET", "/health/live"))
        assert c.read_response().status == 200
    # Reader 0 is open (the start-up check used it); reader 1 opens on the
    # first read that finds reader 0 busy. No descriptor is left for it.
    nfds = len(os.listdir("/proc/%d/fd" % d.pid))
    old = resource.prlimit(d.pid, resource.RLIMIT_NOFILE)
    resource.prlimit(d.pid, resource.RLIMIT_NOFILE, (nfds, old[1]))
    statuses = []
    try:
        for rnd in range(40):
            for i, c in enumerate(conns):
                c.send(build_request("GET", "/messages?limit=%d" % (1 + (rnd * 12 + i) % 100)
                                     + "&offset=%d" % rnd))
            for c in conns:
                r = c.read_response()
                statuses.append(r.status)
                if r.status == 503:
                    assert r.header("Retry-After") == "1", r
                    assert r.json()["detail"] == "database busy, retry later"
            if 503 in statuses:
                break
    finally:
        resource.prlimit(d.pid, resource.RLIMIT_NOFILE, old)
    assert 500 not in statuses, statuses
    assert 503 in statuses, "reader 1 never needed: %r" % statuses[:24]
    assert set(statuses) <= {200, 503}
    rec = d.wait_record(lambda r: r.get("event") == "db_error", what="db_error log line")
    print("reader open failure logged: %r" % rec, file=sys.stderr)
    # Descriptors back: both readers work, without a restart.
    for rnd in range(5):
        for i, c in enumerate(conns):
            c.send(build_request("GET", "/messages?limit=%d&offset=%d" % (1 + i, 100 + rnd)))
        assert [c.read_response().status for c in conns] == [200] * len(conns)
    for c in conns:
        c.close()
