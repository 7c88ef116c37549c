#!/usr/bin/env python3
"""How long a schema-2 database (the previous release's: derived tables in
the rows file) takes to migrate, and its index file to be built.

    python3 scripts/bench_migration.py [--rows 1000000] [--hookd build-release/hookd]

Starts from tests/blackbox/fixtures/schema2.db (written by the previous
release), grows it to --rows messages with that release's schema intact
(its indexes, aggregates and trigram index filled), starts hookd on it and
reports: the migration (schema 2 -> 3, from hookd's own log line), the time
until the indexer has caught up (hookd_index_lag_rows = 0), and that /stats
then counts every row. Everything runs in a temp dir on 127.0.0.1.
"""
import argparse
import http.client
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import benchlib  # noqa: E402

ROOT = benchlib.ROOT
FIXTURE = os.path.join(ROOT, "tests", "blackbox", "fixtures", "schema2.db")


def grow(path, n):
    db = sqlite3.connect(path, isolation_level=None)
    db.execute("PRAGMA journal_mode=MEMORY")
    db.execute("PRAGMA synchronous=OFF")
    db.execute("PRAGMA cache_size=-1000000")
    have = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    db.execute("BEGIN")
    db.execute(
        "WITH RECURSIVE k(i) AS (SELECT ? UNION ALL SELECT i + 1 FROM k WHERE i < ?)"
        " INSERT INTO messages(message_id, from_msisdn, to_msisdn, ts, text, created_at, ts_key)"
        " SELECT 'mig-' || i, '+1' || (1000000000 + i % 10000), '+14155550100',"
        " printf('2025-%02d-%02dT%02d:%02d:%02dZ', 1 + i % 6, 1 + i % 28, i % 24, i % 60, i % 59),"
        " 'message number ' || i || ' about order ' || (i * 7919 % 100003), '2025-01-01T00:00:00.000Z',"
        " printf('2025-%02d-%02dT%02d:%02d:%02d', 1 + i % 6, 1 + i % 28, i % 24, i % 60, i % 59)"
        " FROM k", (have + 1, n))
    # The previous release's aggregates and trigram index, as its writer kept them.
    db.execute("DELETE FROM sender_counts")
    db.execute("INSERT INTO sender_counts SELECT from_msisdn, count(*) FROM messages GROUP BY 1")
    db.execute("DELETE FROM ts_hours")
    db.execute("INSERT INTO ts_hours SELECT substr(ts_key, 1, 13), count(*) FROM messages GROUP BY 1")
    db.execute("UPDATE totals SET messages = (SELECT count(*) FROM messages),"
               " senders = (SELECT count(*) FROM sender_counts)")
    db.execute("INSERT INTO messages_fts(text, message_id) SELECT lower(text), message_id"
               " FROM messages WHERE message_id LIKE 'mig-%' AND text IS NOT NULL")
    db.execute("COMMIT")
    db.execute("PRAGMA journal_mode=DELETE")
    total = db.execute("SELECT count(*) FROM messages").fetchone()[0]
    db.close()
    return total


def lag(port):
    try:
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=5)
        c.request("GET", "/metrics")
        body = c.getresponse().read().decode()
        c.close()
    except OSError:
        return None
    m = re.search(r"^hookd_index_lag_rows (\d+)$", body, re.M)
    return int(m.group(1)) if m else None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--rows", type=int, default=1_000_000)
    ap.add_argument("--hookd")
    a = ap.parse_args()
    binary = os.path.abspath(a.hookd) if a.hookd else benchlib.build_release(print)
    tmp = tempfile.mkdtemp(prefix="hookd-mig-")
    try:
        db = os.path.join(tmp, "app.db")
        shutil.copy(FIXTURE, db)
        t0 = time.monotonic()
        total = grow(db, a.rows)
        print("machine: %s" % benchlib.machine_info())
        print("schema-2 file: %d rows, %.0f MB (built in %.1f s)"
              % (total, os.path.getsize(db) / 1e6, time.monotonic() - t0))
        log = open(os.path.join(tmp, "hookd.log"), "wb")
        env = {"PATH": os.environ.get("PATH", ""), "HOST": "127.0.0.1", "PORT": "0",
               "WEBHOOK_SECRET": "x", "DATABASE_URL": "sqlite:///" + db}
        t0 = time.monotonic()
        p = subprocess.Popen([binary], cwd=tmp, env=env, stdout=log, stderr=subprocess.STDOUT)
        port, migrated, caught_up = None, None, None
        while time.monotonic() - t0 < 1200 and p.poll() is None:
            for line in open(os.path.join(tmp, "hookd.log"), "rb").read().splitlines():
                try:
                    ev = json.loads(line)
                except ValueError:
                    continue
                if ev.get("event") == "listening":
                    port = ev["port"]
                if ev.get("event") == "migration" and "->" in ev.get("msg", ""):
                    migrated = ev["msg"]
            if port and lag(port) == 0:
                caught_up = time.monotonic() - t0
                break
            time.sleep(0.2)
        c = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
        c.request("GET", "/stats")
        stats = json.loads(c.getresponse().read())
        p.terminate()
        p.wait(30)
        print("migration: %s (hookd's log)" % migrated)
        print("index built: %.1f s after start (%d rows)" % (caught_up, total))
        print("/stats total_messages %d: %s" % (stats["total_messages"],
                                                "OK" if stats["total_messages"] == total else "WRONG"))
        return 0 if stats["total_messages"] == total else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
