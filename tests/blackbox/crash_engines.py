"""The crash tests' engines (tests/blackbox/crashlib.py): everything that
knows how an engine stores the rows. Each class has the same members:

  name, modes        the engine's name; the crash modes crash_cycles
                     alternates ("indexing": SIGKILL hookd while the indexer
                     lags; "random": SIGKILL hookd at a random moment;
                     "server": the database server itself crashes under
                     load while hookd keeps running)
  has_index          whether hookd_index_lag_rows must reach 0 before checks
  env()              hookd's DATABASE_URL
  rows()             [{id, message_id, from, ts, text}] in id order
  integrity()        {part: "ok" or what the engine's own checker found}
  offline_state()    (index mark or None, last row id), hookd not running
  derived_problems(rows)  the engine's derived structures against the rows

Rows are read with Python's sqlite3 and psycopg2, never through hookd."""

import os
import sqlite3

from crashlib import NEEDLES, fold, ts_key


class SqliteEngine:
    """The SQLite engine: rows in <db>, derived structures in <db>-index."""

    name = "sqlite"
    modes = ("indexing", "random")
    has_index = True

    def __init__(self, cwd):
        self.path = os.path.join(str(cwd), "hookd.db")
        self.ipath = self.path + "-index"

    def env(self):
        return {"DATABASE_URL": "sqlite:///" + self.path}

    def _ro(self, path):
        # Read-only: never checkpoints or deletes the WAL on close, so the
        # files stay exactly as the daemon left them.
        db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=30)
        return db

    def rows(self):
        """[{message_id, from, ts, text}] in id order."""
        db = self._ro(self.path)
        try:
            return [{"id": r[0], "message_id": r[1], "from": r[2], "ts": r[3], "text": r[4]}
                    for r in db.execute("SELECT id, message_id, from_msisdn, ts, text"
                                        " FROM messages ORDER BY id")]
        finally:
            db.close()

    def integrity(self):
        """{file: result of PRAGMA integrity_check} ('ok' when sound)."""
        out = {}
        for p in (self.path, self.ipath):
            if not os.path.exists(p):
                out[p] = "missing"
                continue
            db = self._ro(p)
            try:
                out[p] = "\n".join(r[0] for r in db.execute("PRAGMA integrity_check"))
            finally:
                db.close()
        return out

    def offline_state(self):
        """(index mark, last row id), read while no daemon runs."""
        db = self._ro(self.path)
        try:
            last = db.execute("SELECT coalesce(max(id), 0) FROM messages").fetchone()[0]
        finally:
            db.close()
        mark = None
        if os.path.exists(self.ipath):
            db = self._ro(self.ipath)
            try:
                mark = db.execute("SELECT mark FROM state").fetchone()[0]
            except sqlite3.Error:
                mark = None
            finally:
                db.close()
        return mark, last

    def derived_problems(self, rows):
        """The index file against the rows, table by table (caught up)."""
        probs = []
        db = self._ro(self.ipath)
        try:
            mark, n, senders = db.execute("SELECT mark, messages, senders FROM state").fetchone()
            counts = {}
            hours = {}
            for r in rows:
                counts[r["from"]] = counts.get(r["from"], 0) + 1
                h = ts_key(r["ts"])[:13]
                hours[h] = hours.get(h, 0) + 1
            last = rows[-1]["id"] if rows else 0
            if (mark, n, senders) != (last, len(rows), len(counts)):
                probs.append("state (mark, messages, senders) = %r, rows say %r"
                             % ((mark, n, senders), (last, len(rows), len(counts))))
            got = dict(db.execute("SELECT from_msisdn, n FROM sender_counts"))
            if got != counts:
                probs.append("sender_counts differ from the rows")
            got = dict(db.execute("SELECT hour, n FROM ts_hours"))
            if got != hours:
                probs.append("ts_hours differ from the rows")
            want = sorted((ts_key(r["ts"]), r["message_id"], r["id"]) for r in rows)
            if list(db.execute("SELECT ts_key, message_id, id FROM by_ts ORDER BY 1, 2")) != want:
                probs.append("by_ts differs from the rows")
            want = sorted((r["from"], ts_key(r["ts"]), r["message_id"], r["id"]) for r in rows)
            if list(db.execute("SELECT from_msisdn, ts_key, message_id, id FROM by_from"
                               " ORDER BY 1, 2, 3")) != want:
                probs.append("by_from differs from the rows")
            for needle in NEEDLES:
                if len(needle) < 3:
                    continue
                want = {r["id"] for r in rows if r["text"] is not None and needle in fold(r["text"])}
                phrase = '"%s"' % needle.replace('"', '""')
                got = {x for (x,) in db.execute("SELECT rowid FROM fts WHERE fts MATCH ?",
                                                (phrase,))}
                if got != want:
                    probs.append("trigram index for %r: %d ids, rows say %d"
                                 % (needle, len(got), len(want)))
        finally:
            db.close()
        return probs


class PgEngine:
    """The PostgreSQL engine: one database of a PgCluster. Its derived
    structures are hookd_totals and hookd_sender_counts (kept by statement
    triggers), the ts_key and text_folded columns, and the indexes; the
    server's own checker is amcheck (heap and every B-tree, with
    heapallindexed, so an index missing a row is found)."""

    name = "postgres"
    modes = ("random", "server")
    has_index = False
    TABLES = ("messages", "hookd_totals", "hookd_sender_counts")

    def __init__(self, cluster, url):
        self.cluster = cluster
        self.url = url

    def env(self):
        return {"DATABASE_URL": self.url}

    def _query(self, sql, args=(), setup=()):
        from hookd_harness import pg_connect
        con = pg_connect(self.url)
        try:
            cur = con.cursor()
            for s in setup:
                cur.execute(s)
            cur.execute(sql, args)
            return cur.fetchall()
        finally:
            con.close()

    def rows(self):
        return [{"id": r[0], "message_id": r[1], "from": r[2], "ts": r[3], "text": r[4]}
                for r in self._query("SELECT id, message_id, from_msisdn, ts, text"
                                     " FROM messages ORDER BY id")]

    def integrity(self):
        self._query("CREATE EXTENSION IF NOT EXISTS amcheck; SELECT 1")
        out = {}
        for t in self.TABLES:
            bad = self._query("SELECT blkno, offnum, msg FROM verify_heapam(%s::regclass)", (t,))
            out[t] = "ok" if not bad else repr(bad[:5])
        # bt_index_check raises on corruption; with heapallindexed it also
        # checks that every heap tuple is in the index.
        for (name,) in self._query(
                "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
                " JOIN pg_am a ON a.oid = c.relam WHERE a.amname = 'btree'"
                " AND i.indrelid = ANY(%s::regclass[])", (list(self.TABLES),)):
            try:
                self._query("SELECT bt_index_check(%s::regclass, true)", (name,))
                out[name] = "ok"
            except Exception as e:  # psycopg2.Error: the checker's finding
                out[name] = str(e)
        return out

    def offline_state(self):
        last = self._query("SELECT coalesce(max(id), 0) FROM messages")[0][0]
        return None, last

    def derived_problems(self, rows):
        probs = []
        counts = {}
        for r in rows:
            counts[r["from"]] = counts.get(r["from"], 0) + 1
        total = self._query("SELECT coalesce(sum(n), 0) FROM hookd_totals")[0][0]
        if total != len(rows):
            probs.append("hookd_totals says %d rows, there are %d" % (total, len(rows)))
        got = dict(self._query("SELECT from_msisdn, sum(n) FROM hookd_sender_counts"
                               " GROUP BY 1 HAVING sum(n) <> 0"))
        if got != counts:
            probs.append("hookd_sender_counts differ from the rows")
        by_id = {r["id"]: r for r in rows}
        for i, key, folded in self._query("SELECT id, ts_key, text_folded FROM messages"):
            r = by_id[i]
            want = None if r["text"] is None else fold(r["text"])
            if key != ts_key(r["ts"]) or folded != want:
                probs.append("row %d: ts_key %r / text_folded %r, its ts and text say %r / %r"
                             % (i, key, folded, ts_key(r["ts"]), want))
                break
        # The trigram index itself: sequential scans off, so the needles are
        # answered through messages_q (checked in the plan).
        off = ("SET enable_seqscan = off", "SET enable_indexscan = off")
        for needle in NEEDLES:
            if len(needle) < 3:
                continue
            like = "%" + needle + "%"
            plan = " ".join(r[0] for r in self._query(
                "EXPLAIN SELECT id FROM messages WHERE text_folded LIKE %s", (like,), off))
            if "messages_q" not in plan:
                probs.append("the trigram index was not used for %r: %s" % (needle, plan))
                continue
            got = {x for (x,) in self._query("SELECT id FROM messages WHERE text_folded LIKE %s",
                                             (like,), off)}
            want = {r["id"] for r in rows if r["text"] is not None and needle in fold(r["text"])}
            if got != want:
                probs.append("trigram index for %r: %d ids, rows say %d"
                             % (needle, len(got), len(want)))
        return probs

    def crash_server(self):
        self.cluster.crash()

    def start_server(self):
        self.cluster.start()
