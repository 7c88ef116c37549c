"""The PostgreSQL engine with several hookd hosts on one database (issue 11).

This module starts its own throw-away PostgreSQL cluster (scripts/
pg_cluster.sh: initdb in a temp dir as the `postgres` user, 127.0.0.1, a
free port) because it stops and restarts the server; every test gets a
fresh database in it. Nothing is mocked: real hookd processes, real
sockets, real kill -9, a real server restart. Rows are checked with
psycopg2, never through hookd.

  - 3 instances starting at once on an empty database all migrate it (the
    advisory lock) and become ready;
  - the same message_id posted at once to the 3 instances: created exactly
    once, every instance answers 200; duplicates inside one batch too;
  - a write acknowledged by one instance is read by every other at once,
    and /messages, /stats answer byte for byte what the SQLite engine does;
  - kill -9 of one instance under load: every acknowledged id is stored;
  - the writer's connection killed under load: only 200s and 503s with
    Retry-After, every 200 stored, hookd reconnects;
  - PostgreSQL restarted under load, and a hookd started while it is down:
    no acknowledged id lost, /health/ready 503 while down, 200 after;
  - an operator's table lock: reads answer 503 within DB_BUSY_TIMEOUT_MS
    (or the 5 s read timeout), SIGTERM exits with the lock held, and
    DB_BUSY_TIMEOUT_MS=0 never waits (a reconnect's schema check included);
  - PostgreSQL restarted (or hookd's backends terminated) while hookd is
    idle: the next webhook is 200 and stored.
"""

import os
import random
import signal
import threading
import time
import urllib.parse

import pytest

from hookd_harness import (Conn, ConnectionClosed, hookd_factory, message, new_id,
                           pg_connect, wait_until, webhook_request)
from pgcluster import PgCluster, hookd_has_postgres

__all__ = ["hookd_factory"]

pytestmark = pytest.mark.skipif(not hookd_has_postgres(),
                                reason="this hookd was built without the PostgreSQL engine")


@pytest.fixture(scope="module")
def cluster():
    c = PgCluster()
    try:
        yield c
    finally:
        c.destroy()


def query(url, sql, args=()):
    con = pg_connect(url)
    try:
        cur = con.cursor()
        cur.execute(sql, args)
        return cur.fetchall() if cur.description else None
    finally:
        con.close()


def stored_ids(url):
    return {r[0] for r in query(url, "SELECT message_id FROM messages")}


def start_three(factory, url, env=None):
    """3 instances on one database, started at once (they race to migrate)."""
    e = {"DATABASE_URL": url}
    e.update(env or {})
    ds = [factory(env=e, wait=False) for _ in range(3)]
    for d in ds:
        d.expect_exit = False
        d.wait_listening()
    for d in ds:
        wait_until(lambda: d.request("GET", "/health/ready").status == 200, timeout=20,
                   what="instance ready")
    return ds


class Load:
    """Threads posting unique webhooks round-robin to instances over keep-alive
    connections; records every answer. A connection that breaks (the
    instance died) is reopened on the next instance."""

    def __init__(self, daemons, threads=6):
        self.daemons = list(daemons)
        self.stop_ev = threading.Event()
        self.lock = threading.Lock()
        self.acked, self.statuses, self.bad = [], {}, []
        self.threads = [threading.Thread(target=self._run, args=(i,), daemon=True)
                        for i in range(threads)]

    def _run(self, i):
        k = i
        c = None
        while not self.stop_ev.is_set():
            d = self.daemons[k % len(self.daemons)]
            try:
                if c is None:
                    c = Conn(d.port, timeout=30)
                m = message(message_id=new_id("load"))
                c.send(webhook_request(m))
                r = c.read_response(30)
            except (OSError, ConnectionClosed):
                if c:
                    c.close()
                c = None
                k += 1
                time.sleep(0.01)
                continue
            with self.lock:
                self.statuses[r.status] = self.statuses.get(r.status, 0) + 1
                if r.status == 200:
                    self.acked.append(m["message_id"])
                elif r.status != 503 or r.header("Retry-After") != "1":
                    self.bad.append(r)
            if r.header("connection", "").lower() == "close":
                c.close()
                c = None
            if r.status == 503:
                time.sleep(0.02)
        if c:
            c.close()

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def finish(self):
        self.stop_ev.set()
        for t in self.threads:
            t.join(60)
        assert not any(t.is_alive() for t in self.threads)
        assert not self.bad, self.bad[:5]
        return self


def post_ok(d, m):
    r = d.post_webhook(m)
    assert r.status == 200, (r, d.describe())
    return r


# ---------------------------------------------------------------------------

def test_three_instances_migrate_at_once_and_share_rows(cluster, hookd_factory):
    url = cluster.database()
    ds = start_three(hookd_factory, url)
    assert query(url, "SELECT v FROM hookd_meta WHERE k = 'schema_version'") == [("1",)]
    for d in ds:
        assert d.request("GET", "/stats").json()["total_messages"] == 0
    # Each instance's write is at once visible on every instance.
    for i, d in enumerate(ds):
        m = message(text="written on %d" % i)
        post_ok(d, m)
        for other in ds:
            body = other.request("GET", "/messages?q=" + urllib.parse.quote(m["text"])).json()
            assert [x["message_id"] for x in body["data"]] == [m["message_id"]]
            assert body["total"] == 1
    stats = [d.request("GET", "/stats").body for d in ds]
    assert stats[0] == stats[1] == stats[2]
    assert ds[0].request("GET", "/stats").json()["total_messages"] == 3
    # The same reads again and again (answers each instance may keep): a
    # write on one instance shows at once in the same read on every other.
    for k in range(6):
        for d in ds:
            assert d.request("GET", "/stats").json()["total_messages"] == 3 + k
            assert d.request("GET", "/messages?order=desc&limit=1").json()["total"] == 3 + k
        m = message(message_id=new_id("ryw"), ts="2030-01-01T00:00:0%dZ" % k)
        post_ok(ds[k % 3], m)
        for d in ds:
            assert d.request("GET", "/stats").json()["total_messages"] == 4 + k
            page = d.request("GET", "/messages?order=desc&limit=1").json()
            assert page["total"] == 4 + k and page["data"][0]["message_id"] == m["message_id"]


def test_same_id_at_once_on_three_instances_is_created_once(cluster, hookd_factory):
    url = cluster.database()
    ds = start_three(hookd_factory, url)
    ids = [new_id("race") for _ in range(40)]
    for mid in ids:
        m = message(message_id=mid)
        barrier = threading.Barrier(len(ds) * 2)
        out = []

        def go(d):
            c = Conn(d.port)
            req = webhook_request(m)
            barrier.wait()
            c.send(req)
            out.append(c.read_response())
            c.close()

        ts = [threading.Thread(target=go, args=(d,)) for d in ds for _ in range(2)]
        for t in ts:
            t.start()
        for t in ts:
            t.join(30)
        assert [r.status for r in out] == [200] * 6, out
        assert all(r.json() == {"status": "ok"} for r in out)
    for d in ds:
        for mid in ids:
            d.wait_request_record(path="/webhook", message_id=mid)
    created = {mid: sum(1 for d in ds for rec in d.request_records(path="/webhook", message_id=mid)
                        if rec.get("result") == "created") for mid in ids}
    assert created == {mid: 1 for mid in ids}
    n = query(url, "SELECT count(*), count(DISTINCT message_id) FROM messages")[0]
    assert n == (len(ids), len(ids))
    assert ds[1].request("GET", "/stats").json()["total_messages"] == len(ids)


def test_duplicates_inside_one_batch(cluster, hookd_factory):
    """Pipelined copies of one id on many connections of one instance land
    in the same group commit: the first is created, the rest are duplicates,
    and the stored row is the first one's."""
    url = cluster.database()
    d = hookd_factory(env={"DATABASE_URL": url})
    mid = new_id("batch")
    conns = [Conn(d.port) for _ in range(16)]
    reqs = [webhook_request(message(message_id=mid, text="copy %d" % i)) for i in range(16)]
    for c, r in zip(conns, reqs):
        c.send(r)
    out = [c.read_response() for c in conns]
    assert [r.status for r in out] == [200] * 16
    for c in conns:
        c.close()
    wait_until(lambda: len(d.request_records(path="/webhook", message_id=mid)) == 16,
               what="16 request records")
    results = [r["result"] for r in d.request_records(path="/webhook", message_id=mid)]
    assert sorted(results) == ["created"] + ["duplicate"] * 15
    assert query(url, "SELECT count(*) FROM messages WHERE message_id = %s", (mid,)) == [(1,)]


def test_same_answers_as_sqlite_byte_for_byte(cluster, hookd_factory, tmp_path):
    url = cluster.database()
    pg = hookd_factory(env={"DATABASE_URL": url})
    sq = hookd_factory(env={"DATABASE_URL": "sqlite:///" + str(tmp_path / "same.db")})
    rng = random.Random(11)
    senders = ["+1415555%04d" % i for i in range(14)]
    words = ["Straße", "STRASSE", "ǅemal", "ΣΊΣΥΦΟΣ", "ﬁne", "50%", "a_b", "back\\slash",
             "Ⱥ", "café", "CAFÉ", "İstanbul", "ĸelvin", "\U0001F600", "hello", "HeLLo"]
    msgs = []
    for i in range(300):
        ts = "2025-%02d-%02dT%02d:%02d:%02d%sZ" % (
            rng.randint(1, 3), rng.randint(1, 28), rng.randint(0, 23), rng.randint(0, 59),
            rng.randint(0, 59), rng.choice(["", ".5", ".50", ".123", ".000"]))
        text = " ".join(rng.choice(words) for _ in range(rng.randint(0, 4)))
        m = message(message_id="same-%03d" % rng.randint(0, 999), from_=rng.choice(senders),
                    ts=ts, text=rng.choice([text, None, ""]))
        msgs.append(m)
    for m in msgs:
        a, b = sq.post_webhook(m), pg.post_webhook(m)
        assert a.status == b.status == 200
    paths = ["/stats", "/messages", "/messages?order=desc", "/messages?limit=100&offset=37"]
    for s in senders[:5]:
        paths.append("/messages?from=" + urllib.parse.quote(s))
        paths.append("/messages?from=%s&since=2025-02-01T00:00:00Z&order=desc"
                     % urllib.parse.quote(s))
    for since in ["2025-02-10T12:00:00Z", "2025-01-01T00:00:00.5Z", "2030-01-01T00:00:00Z"]:
        paths.append("/messages?since=" + urllib.parse.quote(since))
    for needle in ["strasse", "ss", "σ", "ς", "50%", "%", "_", "\\", "ﬁ", "ⱥ", "café", "é",
                   "\U0001F600", "hello", "l", "zzz", "İ", "i̇", "Ǆ", "ǆ"]:
        paths.append("/messages?limit=100&q=" + urllib.parse.quote(needle))
        paths.append("/messages?order=desc&limit=7&offset=3&q=" + urllib.parse.quote(needle))
        paths.append("/messages?from=%s&q=%s" % (urllib.parse.quote(senders[0]),
                                                 urllib.parse.quote(needle)))
    for p in paths:
        a, b = sq.request("GET", p), pg.request("GET", p)
        assert a.status == b.status == 200, (p, a, b)
        assert a.body == b.body, p


def test_kill9_one_instance_under_load(cluster, hookd_factory):
    url = cluster.database()
    ds = start_three(hookd_factory, url)
    load = Load(ds).start()
    time.sleep(1.5)
    victim = ds[1]
    victim.stopped = True          # its death is the test
    os.kill(victim.pid, signal.SIGKILL)
    victim.proc.wait(10)
    time.sleep(1.5)
    load.finish()
    assert load.statuses.get(200, 0) > 100, load.statuses
    missing = set(load.acked) - stored_ids(url)
    assert not missing, (len(missing), sorted(missing)[:5])
    for d in (ds[0], ds[2]):
        post_ok(d, message())


def test_writer_connection_killed_under_load(cluster, hookd_factory):
    url = cluster.database()
    ds = start_three(hookd_factory, url)
    load = Load(ds).start()
    time.sleep(1.0)
    dbname = url.rsplit("/", 1)[1]
    killed = 0
    for _ in range(3):
        rows = query(cluster.admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                     " WHERE datname = %s AND application_name = 'hookd'", (dbname,))
        killed += len(rows)
        time.sleep(0.7)
    load.finish()
    assert killed >= 3, killed
    assert load.statuses.get(200, 0) > 100, load.statuses
    missing = set(load.acked) - stored_ids(url)
    assert not missing, (len(missing), sorted(missing)[:5])
    for d in ds:
        wait_until(lambda: d.request("GET", "/health/ready").status == 200, timeout=20,
                   what="ready again")
        post_ok(d, message())
        assert d.request("GET", "/stats").status == 200


def test_postgres_restart_under_load(cluster, hookd_factory):
    url = cluster.database()
    ds = start_three(hookd_factory, url)
    load = Load(ds).start()
    time.sleep(1.0)
    cluster.stop()
    try:
        time.sleep(0.5)
        # While the server is down: a new instance starts anyway, unready.
        late = hookd_factory(env={"DATABASE_URL": url})
        r = late.request("GET", "/health/ready")
        assert r.status == 503, r
        assert "unreachable" in r.json()["detail"], r.body
        w = late.post_webhook(message())
        assert w.status == 503 and w.header("Retry-After") == "1", w
        for d in ds:
            assert d.request("GET", "/health/ready").status == 503
        time.sleep(1.0)
    finally:
        cluster.start()
    time.sleep(2.0)
    load.finish()
    assert 503 in load.statuses, load.statuses
    missing = set(load.acked) - stored_ids(url)
    assert not missing, (len(missing), sorted(missing)[:5])
    for d in ds + [late]:
        wait_until(lambda: d.request("GET", "/health/ready").status == 200, timeout=30,
                   what="ready after the restart")
        m = message()
        post_ok(d, m)
        assert d.request("GET", "/messages?q=" + m["text"]).status == 200
    assert late.request("GET", "/stats").json()["total_messages"] == len(stored_ids(url))


def test_pg_variables_and_password_file(cluster, hookd_factory, tmp_path):
    """No secret in the URL: the host and port come from PGHOST/PGPORT and
    the password of a role that must authenticate (scram-sha-256) from
    PGPASSFILE; without the file the instance starts unready and says why."""
    url = cluster.database()
    dbname = url.rsplit("/", 1)[1]
    role, password = "pw_" + new_id("r").replace("-", "_"), "s3cret-" + new_id("p")
    hba = os.path.join(cluster.dir, "data", "pg_hba.conf")
    with open(hba) as f:
        old = f.read()
    with open(hba, "w") as f:  # first match wins: this role must give a password
        f.write("host all %s 127.0.0.1/32 scram-sha-256\n" % role + old)
    query(cluster.admin, "SELECT pg_reload_conf()")
    query(cluster.admin, "CREATE ROLE %s LOGIN PASSWORD '%s'" % (role, password))
    query(cluster.admin, 'ALTER DATABASE "%s" OWNER TO %s' % (dbname, role))
    query(url, "ALTER SCHEMA public OWNER TO %s" % role)
    env = {"DATABASE_URL": "postgresql:///%s?user=%s" % (dbname, role),
           "PGHOST": "127.0.0.1", "PGPORT": str(cluster.port)}
    # Without the password: starts, unready with the server's reason.
    nopw = hookd_factory(env=dict(env, PGPASSFILE=str(tmp_path / "none")))
    r = nopw.request("GET", "/health/ready")
    assert r.status == 503 and "password" in r.json()["detail"], r.body
    assert nopw.post_webhook(message()).status == 503
    # With the password file (mode 0600, as libpq requires).
    pw = tmp_path / "pgpass"
    pw.write_text("127.0.0.1:%d:%s:%s:%s\n" % (cluster.port, dbname, role, password))
    os.chmod(pw, 0o600)
    d = hookd_factory(env=dict(env, PGPASSFILE=str(pw)))
    assert d.request("GET", "/health/ready").status == 200
    m = message()
    post_ok(d, m)
    assert query(url, "SELECT count(*) FROM messages WHERE message_id = %s",
                 (m["message_id"],)) == [(1,)]
    assert password not in d.stdout_text() + d.stderr_text()


# ---------------------------------------------------------------------------
# Timeouts: a lock held by another session never pins hookd

class HeldLock:
    """Another session holds `LOCK TABLE <table> IN <mode> MODE` until
    release() (a psycopg2 transaction, rolled back)."""

    def __init__(self, url, table, mode):
        self.con = pg_connect(url)
        self.con.autocommit = False
        self.con.cursor().execute("LOCK TABLE %s IN %s MODE" % (table, mode))

    def release(self):
        if self.con:
            self.con.rollback()
            self.con.close()
            self.con = None


def timed(fn, *args, **kw):
    t0 = time.monotonic()
    r = fn(*args, **kw)
    return r, time.monotonic() - t0


def concurrent_gets(d, paths, timeout):
    """GETs each path on its own connection at once; (status, seconds) each,
    None for no answer within timeout."""
    out = [None] * len(paths)

    def go(i, p):
        t0 = time.monotonic()
        try:
            r = d.request("GET", p, timeout=timeout)
            out[i] = (r.status, r.header("Retry-After"), time.monotonic() - t0)
        except (OSError, ConnectionClosed):
            out[i] = None

    ts = [threading.Thread(target=go, args=(i, p)) for i, p in enumerate(paths)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(timeout + 5)
    return out


def test_reads_under_an_exclusive_table_lock_answer_503_and_sigterm_exits(cluster,
                                                                          hookd_factory):
    """An operator's ACCESS EXCLUSIVE lock on messages (DDL, LOCK TABLE):
    every read waits at most DB_BUSY_TIMEOUT_MS for it, answers 503 +
    Retry-After, and more reads than reader connections do not queue up
    behind each other for ever; SIGTERM with the lock still held exits
    (with waiting reads: test_sigterm_under_a_lock_does_not_run_the_waiting_
    reads_one_by_one)."""
    url = cluster.database()
    d = hookd_factory(env={"DATABASE_URL": url, "DB_BUSY_TIMEOUT_MS": "300",
                           "DB_READERS": "2"})
    post_ok(d, message())
    lock = HeldLock(url, "messages", "ACCESS EXCLUSIVE")
    try:
        paths = ["/messages", "/messages?q=a", "/stats", "/messages?order=desc",
                 "/messages?from=%2B919876543210", "/messages?limit=3"]
        out = concurrent_gets(d, paths, timeout=15)
        assert all(o is not None for o in out), out
        assert [o[:2] for o in out] == [(503, "1")] * len(paths), out
        # 2 readers, 6 reads of at most ~0.3 s each: well within 3 s.
        assert max(o[2] for o in out) < 3.0, out
        rc = d.stop(timeout=15)
        assert rc == 0, d.describe()
    finally:
        lock.release()


def test_a_read_stops_after_the_read_timeout_whatever_the_lock_wait(cluster, hookd_factory):
    """DB_BUSY_TIMEOUT_MS at its maximum (10 min): a read still gives up
    after the readers' statement timeout (5 s) and answers 503, while a
    webhook keeps waiting for the lock (the writer's lock_timeout is
    DB_BUSY_TIMEOUT_MS, and it has no statement timeout) and is stored
    once the lock is gone."""
    url = cluster.database()
    d = hookd_factory(env={"DATABASE_URL": url, "DB_BUSY_TIMEOUT_MS": "600000"})
    post_ok(d, message())
    m = message()
    posted = []
    lock = HeldLock(url, "messages", "ACCESS EXCLUSIVE")
    try:
        writer = threading.Thread(target=lambda: posted.append(d.post_webhook(m, timeout=60)))
        writer.start()
        r, took = timed(d.request, "GET", "/messages?q=x", timeout=30)
        assert r.status == 503 and r.header("Retry-After") == "1", r
        assert 4.0 < took < 9.0, took
        assert d.request("GET", "/health/live").status == 200
        assert writer.is_alive() and not posted, posted
    finally:
        lock.release()
    writer.join(30)
    assert [p.status for p in posted] == [200], posted
    assert query(url, "SELECT count(*) FROM messages WHERE message_id = %s",
                 (m["message_id"],)) == [(1,)]
    assert d.request("GET", "/messages").status == 200


def test_sigterm_under_a_lock_does_not_run_the_waiting_reads_one_by_one(cluster,
                                                                        hookd_factory):
    """An operator's lock and more reads than readers: each read runs up to
    the 5 s read timeout, two at a time. On SIGTERM the reads still waiting
    for a reader when the shutdown grace (10 s) expires fail at once, so
    the exit waits for the grace plus the reads already running (~15 s),
    not for every queued read in turn (12 reads: 30 s)."""
    url = cluster.database()
    d = hookd_factory(env={"DATABASE_URL": url, "DB_BUSY_TIMEOUT_MS": "600000",
                           "DB_READERS": "2"})
    post_ok(d, message())
    lock = HeldLock(url, "messages", "ACCESS EXCLUSIVE")
    out = []
    try:
        paths = ["/messages?q=w%d" % i for i in range(12)]
        t = threading.Thread(target=lambda: out.extend(concurrent_gets(d, paths, 45)))
        t.start()
        time.sleep(0.5)
        rc, took = timed(d.stop, timeout=45)
        assert rc == 0, (rc, d.describe())
        assert 10.0 < took < 17.0, took
        assert any(r.get("event") == "shutdown_grace_expired" for r in d.records()), d.describe()
        t.join(50)
    finally:
        lock.release()
    # Every read answered 503: the first rounds at their read timeout, the
    # waiting ones at the grace's end; only those still running then lost
    # their connection.
    assert len(out) == 12 and all(o is None or o[0] == 503 for o in out), out
    assert sum(1 for o in out if o is not None) >= 8, out


def test_busy_timeout_zero_never_waits(cluster, hookd_factory):
    """DB_BUSY_TIMEOUT_MS=0 means "do not wait for a lock" (as with SQLite),
    not "wait for ever": a webhook and a read under a held lock answer 503
    at once. It holds for the writer's reconnect too (the schema check
    reads hookd_meta): with hookd_meta locked and the connections killed,
    the next webhook still answers 503 and SIGTERM exits."""
    url = cluster.database()
    d = hookd_factory(env={"DATABASE_URL": url, "DB_BUSY_TIMEOUT_MS": "0"})
    post_ok(d, message())
    lock = HeldLock(url, "messages", "EXCLUSIVE")  # writes wait, reads do not
    try:
        m = message()
        r, took = timed(d.post_webhook, m, timeout=15)
        assert r.status == 503 and r.header("Retry-After") == "1", r
        assert took < 2.0, took
    finally:
        lock.release()
    post_ok(d, m)
    lock = HeldLock(url, "messages", "ACCESS EXCLUSIVE")
    try:
        r, took = timed(d.request, "GET", "/messages", timeout=15)
        assert r.status == 503 and took < 2.0, (r, took)
    finally:
        lock.release()
    dbname = url.rsplit("/", 1)[1]
    lock = HeldLock(url, "hookd_meta", "ACCESS EXCLUSIVE")
    try:
        killed = query(cluster.admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                       " WHERE datname = %s AND application_name = 'hookd'", (dbname,))
        assert killed, "no hookd connection to kill"
        r, took = timed(d.post_webhook, message(), timeout=15)
        assert r.status == 503 and took < 2.0, (r, took)
        rc, took = timed(d.stop, timeout=15)
        assert rc == 0 and took < 5.0, (rc, took, d.describe())
    finally:
        lock.release()


# ---------------------------------------------------------------------------
# A server restart while hookd is idle costs no request

def test_restart_while_idle_the_next_webhook_is_stored(cluster, hookd_factory):
    """The writer's connection died while idle (server restarted, or the
    backend terminated): the next batch reconnects and runs again in the
    same job, so the next webhook gets 200 (created) and is stored, and
    the next reads answer 200 too."""
    url = cluster.database()
    dbname = url.rsplit("/", 1)[1]
    d = hookd_factory(env={"DATABASE_URL": url})
    post_ok(d, message())
    assert d.request("GET", "/messages").status == 200
    for how in ("restart", "terminate", "restart"):
        if how == "restart":
            cluster.stop()
            cluster.start()
        else:
            query(cluster.admin, "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                  " WHERE datname = %s AND application_name = 'hookd'", (dbname,))
        m = message()
        post_ok(d, m)
        assert query(url, "SELECT count(*) FROM messages WHERE message_id = %s",
                     (m["message_id"],)) == [(1,)]
        rec = d.wait_request_record(path="/webhook", message_id=m["message_id"])
        assert rec["result"] == "created", rec
        r = d.request("GET", "/messages?q=" + urllib.parse.quote(m["text"]))
        assert r.status == 200, r
        assert d.request("GET", "/health/ready").status == 200
    reconnects = [r for r in d.records() if r.get("event") == "db_reconnected"]
    assert len(reconnects) == 3, reconnects
