"""Shared helpers for hookd's black-box tests.

Every test starts the real daemon ($HOOKD_BIN) on 127.0.0.1 with PORT=0, a
SQLite file in a pytest tmp dir and that dir as cwd, and talks to it over
real sockets. Nothing here links to or imports hookd's code: signatures are
computed with Python's hmac, rows are read with Python's sqlite3.

The engine: with $HOOKD_TEST_PG_URL set (an admin URL of a throw-away
PostgreSQL cluster, see scripts/pg_cluster.sh), every daemon started without
an explicit DATABASE_URL gets a PostgreSQL database of its own instead of
the SQLite file: one database per daemon folder (created on first use, so a
restart in the same folder finds its rows again), and rows are read with
psycopg2 (Debian's python3-psycopg2). Tests that inspect or lock the SQLite
file itself do the same through psycopg2 when ENGINE is "postgres".

Python 3.11 stdlib + pytest (+ psycopg2 for the PostgreSQL runs).
"""

import contextlib
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid

import pytest

# The benchmarks' helpers (scripts/benchlib.py): one reading of /proc for a
# daemon's listening port.
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "scripts"))
import benchlib  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
HOOKD_BIN = os.environ.get("HOOKD_BIN") or os.path.normpath(
    os.path.join(HERE, "..", "..", "build", "hookd"))

SECRET = "blackbox-test-secret"
HOST = "127.0.0.1"

# Environment passed through from the test runner (sanitizer settings etc.).
_PASSTHROUGH = ("PATH", "LD_LIBRARY_PATH", "TMPDIR", "LANG", "LC_ALL")
_PASSTHROUGH_PREFIXES = ("ASAN_", "UBSAN_", "LSAN_", "MSAN_", "TSAN_", "MALLOC_")

ISO_UTC_RE = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$")
RID_RE = re.compile(r"^[A-Za-z0-9._:-]{1,64}$")

PG_ADMIN_URL = os.environ.get("HOOKD_TEST_PG_URL") or None
ENGINE = "postgres" if PG_ADMIN_URL else "sqlite"

START_TIMEOUT = 20.0
STOP_TIMEOUT = 20.0


class Absent:
    """Marker: leave this field out of the message."""


ABSENT = Absent()


# ---------------------------------------------------------------------------
# Signing and message bodies
# ---------------------------------------------------------------------------

def sign(body, secret=SECRET):
    """hex(HMAC-SHA256(secret, body)), computed independently of hookd."""
    if isinstance(secret, str):
        secret = secret.encode("utf-8")
    if isinstance(body, str):
        body = body.encode("utf-8")
    return hmac.new(secret, body, hashlib.sha256).hexdigest()


def new_id(prefix="m"):
    return "%s-%s" % (prefix, uuid.uuid4().hex[:16])


def message(**fields):
    """A valid webhook payload (dict) with a fresh message_id; keyword
    arguments override fields, ABSENT removes one. Use from_=... for 'from'."""
    m = {
        "message_id": new_id(),
        "from": "+919876543210",
        "to": "+14155550100",
        "ts": "2025-01-15T10:00:00Z",
        "text": "Hello",
    }
    if "from_" in fields:
        fields["from"] = fields.pop("from_")
    for k, v in fields.items():
        if v is ABSENT:
            m.pop(k, None)
        else:
            m[k] = v
    return m


def encode(payload):
    """Compact JSON bytes, UTF-8, non-ASCII kept as is."""
    if isinstance(payload, (bytes, bytearray)):
        return bytes(payload)
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


# ---------------------------------------------------------------------------
# The daemon
# ---------------------------------------------------------------------------

class Hookd:
    """One hookd process with its stdout/stderr drained by threads."""

    def __init__(self, cwd, env=None, args=(), db_url=True, drain_stdout=True):
        self.cwd = str(cwd)
        full = {k: v for k, v in os.environ.items()
                if k in _PASSTHROUGH or k.startswith(_PASSTHROUGH_PREFIXES)}
        full.update({"HOST": HOST, "PORT": "0", "LOG_LEVEL": "INFO"})
        self.db_path = os.path.join(self.cwd, "hookd.db")
        self.pg_url = None
        if db_url and PG_ADMIN_URL and "DATABASE_URL" not in (env or {}):
            self.pg_url = pg_database(self.cwd)
            full["DATABASE_URL"] = self.pg_url
        elif db_url:
            full["DATABASE_URL"] = "sqlite:///" + self.db_path  # sqlite:////abs
        for k, v in (env or {}).items():
            if v is None:
                full.pop(k, None)
            else:
                full[k] = str(v)
        if "DATABASE_URL" in (env or {}) and env["DATABASE_URL"] is not None:
            url = env["DATABASE_URL"]
            if url.startswith("sqlite:///"):
                p = url[len("sqlite:///"):]
                self.db_path = p if p.startswith("/") else os.path.join(self.cwd, p)
        self.env = full
        self.port = None
        self.raw_lines = []      # stdout lines, bytes, newline stripped
        self.err_lines = []      # stderr lines, bytes
        self.expect_exit = False
        self.stopped = False
        self._cond = threading.Condition()
        self._eof = {"out": False, "err": False}
        self.proc = subprocess.Popen(
            [HOOKD_BIN, *args], cwd=self.cwd, env=full, stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        self._threads = []
        self._out_draining = False
        self._start_thread(self.proc.stderr, self.err_lines, "err")
        if drain_stdout:
            self.start_stdout_drain()

    def _start_thread(self, stream, sink, name):
        t = threading.Thread(target=self._drain, args=(stream, sink, name), daemon=True)
        t.start()
        self._threads.append(t)

    def start_stdout_drain(self):
        """Starts reading stdout (started by default; see drain_stdout)."""
        if self._out_draining:
            return
        self._out_draining = True
        self._start_thread(self.proc.stdout, self.raw_lines, "out")

    def _drain(self, stream, sink, name):
        try:
            for raw in iter(stream.readline, b""):
                with self._cond:
                    sink.append(raw.rstrip(b"\n"))
                    self._cond.notify_all()
        finally:
            with self._cond:
                self._eof[name] = True
                self._cond.notify_all()

    # ---- output ------------------------------------------------------------

    @property
    def pid(self):
        return self.proc.pid

    def records(self):
        """stdout lines parsed as JSON (strictly: UTF-8 and valid JSON)."""
        with self._cond:
            lines = list(self.raw_lines)
        return [json.loads(line.decode("utf-8")) for line in lines]

    def stdout_text(self):
        with self._cond:
            return b"\n".join(self.raw_lines).decode("utf-8", "replace")

    def stderr_text(self):
        with self._cond:
            return b"\n".join(self.err_lines).decode("utf-8", "replace")

    def describe(self):
        return "hookd rc=%r\n--- stdout ---\n%s\n--- stderr ---\n%s" % (
            self.proc.poll(), self.stdout_text()[-4000:], self.stderr_text()[-4000:])

    def wait_record(self, pred, timeout=10.0, what="log record"):
        """Waits for a stdout JSON record matching pred and returns it."""
        deadline = time.monotonic() + timeout
        seen = 0
        with self._cond:
            while True:
                while seen < len(self.raw_lines):
                    line = self.raw_lines[seen]
                    seen += 1
                    try:
                        rec = json.loads(line.decode("utf-8"))
                    except ValueError:
                        continue
                    if pred(rec):
                        return rec
                left = deadline - time.monotonic()
                if left <= 0 or self._eof["out"]:
                    break
                self._cond.wait(min(left, 0.2))
        raise AssertionError("no %s within %.1fs\n%s" % (what, timeout, self.describe()))

    def request_records(self, **match):
        """Request log records (event == request) matching all key=value."""
        out = []
        for r in self.records():
            if r.get("event") != "request":
                continue
            if all(r.get(k) == v for k, v in match.items()):
                out.append(r)
        return out

    def wait_request_record(self, timeout=10.0, **match):
        return self.wait_record(
            lambda r: r.get("event") == "request" and all(r.get(k) == v for k, v in match.items()),
            timeout=timeout, what="request record %r" % (match,))

    # ---- lifecycle -----------------------------------------------------------

    def wait_listening(self, timeout=START_TIMEOUT):
        """Port from the 'listening' record, or, when LOG_LEVEL hides it,
        from the process's listening socket in /proc."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            for r in self._safe_records():
                if r.get("event") == "listening" and isinstance(r.get("port"), int):
                    self.port = r["port"]
                    return self.port
            port = benchlib.listen_port(self.proc.pid)
            if port:
                self.port = port
                return port
            if self.proc.poll() is not None:
                raise AssertionError("hookd exited during start-up\n" + self.describe())
            time.sleep(0.02)
        raise AssertionError("hookd did not start listening within %.0fs\n%s"
                             % (timeout, self.describe()))

    def _safe_records(self):
        out = []
        with self._cond:
            lines = list(self.raw_lines)
        for line in lines:
            try:
                out.append(json.loads(line.decode("utf-8")))
            except ValueError:
                pass
        return out

    def wait_exit(self, timeout=STOP_TIMEOUT):
        try:
            rc = self.proc.wait(timeout)
        except subprocess.TimeoutExpired:
            raise AssertionError("hookd did not exit within %.0fs\n%s" % (timeout, self.describe()))
        for t in self._threads:
            t.join(5)
        return rc

    def send_signal(self, signum):
        if signum in (signal.SIGTERM, signal.SIGINT):
            self.stopped = True     # exiting is expected from now on
        self.proc.send_signal(signum)

    def stop(self, signum=signal.SIGTERM, timeout=STOP_TIMEOUT):
        """Signals and waits; returns the exit code."""
        self.stopped = True
        self.start_stdout_drain()
        if self.proc.poll() is None:
            self.proc.send_signal(signum)
        return self.wait_exit(timeout)

    def kill(self):
        if self.proc.poll() is None:
            self.proc.kill()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                pass

    def sanitizer_report(self):
        err = self.stderr_text()
        for marker in ("ERROR: AddressSanitizer", "ERROR: LeakSanitizer", "runtime error:",
                       "ERROR: ThreadSanitizer"):
            if marker in err:
                return err
        return None

    # ---- HTTP shortcuts --------------------------------------------------------

    def conn(self, timeout=10.0):
        return Conn(self.port, timeout=timeout)

    def request(self, method, path, headers=None, body=None, timeout=10.0):
        return request(self.port, method, path, headers=headers, body=body, timeout=timeout)

    def post_webhook(self, payload, secret=SECRET, signature=None, headers=None, timeout=10.0):
        return post_webhook(self.port, payload, secret=secret, signature=signature,
                            headers=headers, timeout=timeout)

    # ---- database ----------------------------------------------------------------

    def rows(self):
        if self.pg_url:
            return pg_rows(self.pg_url)
        return db_rows(self.db_path)

    def row(self, message_id):
        if self.pg_url:
            return pg_row(self.pg_url, message_id)
        return db_row(self.db_path, message_id)

    def count(self):
        return len(self.rows())


class DaemonPool:
    """Starts daemons for a test (or module) and always cleans up: closes the
    client sockets, stops each daemon with SIGTERM (expecting exit 0) and
    SIGKILLs whatever is left; reports crashes and sanitizer findings."""

    def __init__(self, base):
        self.base = str(base)
        self.daemons = []
        self.n = 0

    def start(self, env=None, args=(), cwd=None, wait=True, secret=SECRET, db_url=True,
              drain_stdout=True):
        e = {}
        if secret is not None:
            e["WEBHOOK_SECRET"] = secret
        e.update(env or {})
        if cwd is None:
            self.n += 1
            cwd = os.path.join(self.base, "d%d" % self.n)
        os.makedirs(cwd, exist_ok=True)
        d = Hookd(cwd, e, args=args, db_url=db_url, drain_stdout=drain_stdout)
        self.daemons.append(d)
        if wait:
            try:
                d.wait_listening()
            except BaseException:
                d.kill()
                raise
        else:
            d.expect_exit = True
        return d

    def finish(self):
        Conn.close_all()
        problems = []
        for d in self.daemons:
            d.start_stdout_drain()
            if d.proc.poll() is None:
                if not d.stopped:          # a test may have signalled it already
                    d.stopped = True
                    d.proc.send_signal(signal.SIGTERM)
                try:
                    rc = d.proc.wait(STOP_TIMEOUT)
                    if rc != 0:
                        problems.append("hookd exited %r on SIGTERM at teardown\n%s"
                                        % (rc, d.describe()))
                except subprocess.TimeoutExpired:
                    problems.append("hookd ignored SIGTERM at teardown\n" + d.describe())
                    d.kill()
            elif not d.stopped and not d.expect_exit:
                problems.append("hookd died unexpectedly\n" + d.describe())
            rep = d.sanitizer_report()
            if rep:
                problems.append("sanitizer report:\n" + rep[-6000:])
        self.daemons = []
        if problems:
            pytest.fail("\n\n".join(problems), pytrace=False)


@pytest.fixture
def hookd_factory(tmp_path):
    """Function-scoped: hookd_factory(env={...}) -> running Hookd."""
    pool = DaemonPool(tmp_path)
    try:
        yield pool.start
    finally:
        pool.finish()


@pytest.fixture(scope="module")
def module_factory(tmp_path_factory):
    """Module-scoped variant of hookd_factory."""
    pool = DaemonPool(tmp_path_factory.mktemp("hookd"))
    try:
        yield pool.start
    finally:
        pool.finish()


# ---------------------------------------------------------------------------
# HTTP over raw sockets
# ---------------------------------------------------------------------------

class Response:
    def __init__(self, version, status, reason, headers, body):
        self.version = version
        self.status = status
        self.reason = reason
        self.header_list = headers            # [(name, value)] as received
        self.headers = {k.lower(): v for k, v in headers}
        self.body = body

    def json(self):
        return json.loads(self.body.decode("utf-8"))

    def header(self, name, default=None):
        return self.headers.get(name.lower(), default)

    def __repr__(self):
        return "<Response %d %r %r>" % (self.status, self.headers, self.body[:200])


class ConnectionClosed(Exception):
    pass


class Conn:
    """A raw client connection with a receive buffer."""

    _open = []

    def __init__(self, port, timeout=10.0):
        self.sock = socket.create_connection((HOST, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.timeout = timeout
        self.buf = b""
        self.eof = False
        Conn._open.append(self)

    @classmethod
    def close_all(cls):
        for c in cls._open:
            c.close()
        cls._open = []

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass

    def send(self, data):
        self.sock.sendall(data)

    def send_slowly(self, data, step=1, pause=0.0):
        for i in range(0, len(data), step):
            self.sock.sendall(data[i:i + step])
            if pause:
                time.sleep(pause)

    def _fill(self, deadline):
        """Reads more bytes; False on EOF. Raises socket.timeout at deadline."""
        if self.eof:
            return False
        left = deadline - time.monotonic()
        if left <= 0:
            raise socket.timeout("timed out")
        self.sock.settimeout(left)
        try:
            data = self.sock.recv(65536)
        except ConnectionResetError:
            data = b""
        if not data:
            self.eof = True
            return False
        self.buf += data
        return True

    def read_until(self, marker, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while marker not in self.buf:
            if not self._fill(deadline):
                raise ConnectionClosed("EOF before %r; got %r" % (marker, self.buf[:300]))
        i = self.buf.index(marker) + len(marker)
        out, self.buf = self.buf[:i], self.buf[i:]
        return out

    def read_exact(self, n, timeout=None):
        deadline = time.monotonic() + (timeout if timeout is not None else self.timeout)
        while len(self.buf) < n:
            if not self._fill(deadline):
                raise ConnectionClosed("EOF after %d of %d bytes" % (len(self.buf), n))
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_head(self, timeout=None):
        head = self.read_until(b"\r\n\r\n", timeout)
        lines = head[:-4].decode("latin-1").split("\r\n")
        m = re.match(r"^(HTTP/\d\.\d) (\d{3}) ?(.*)$", lines[0])
        assert m, "bad status line %r" % lines[0]
        headers = []
        for line in lines[1:]:
            name, sep, value = line.partition(":")
            assert sep, "bad header line %r" % line
            headers.append((name.strip(), value.strip()))
        return m.group(1), int(m.group(2)), m.group(3), headers

    def read_response(self, timeout=None, allow_interim=False):
        """One response. Interim 1xx responses are returned as such only when
        allow_interim; otherwise an unexpected 100 fails the test."""
        version, status, reason, headers = self.read_head(timeout)
        if 100 <= status < 200:
            assert allow_interim, "unexpected interim response %d" % status
            return Response(version, status, reason, headers, b"")
        hmap = {k.lower(): v for k, v in headers}
        assert "content-length" in hmap, "response without Content-Length: %r" % (headers,)
        body = self.read_exact(int(hmap["content-length"]), timeout)
        return Response(version, status, reason, headers, body)

    def read_eof(self, timeout=5.0):
        """Waits for the server to close; returns any bytes that came first."""
        deadline = time.monotonic() + timeout
        while self._fill(deadline):
            pass
        out, self.buf = self.buf, b""
        return out

    def closed_within(self, timeout):
        """True when the server closed the connection (EOF) within timeout
        without sending anything; False on timeout. Data fails the test."""
        try:
            extra = self.read_eof(timeout)
        except socket.timeout:
            return False
        assert extra == b"", "unexpected bytes before close: %r" % extra[:300]
        return True

    def request(self, method, path, headers=None, body=None, timeout=None, version="1.1"):
        self.send(build_request(method, path, headers=headers, body=body, version=version))
        return self.read_response(timeout)


def build_request(method, path, headers=None, body=None, version="1.1", host=True):
    """Request bytes. Adds Host and, for a body, Content-Length unless the
    caller set Content-Length or Transfer-Encoding."""
    hdrs = list((headers or {}).items()) if isinstance(headers, dict) else list(headers or [])
    names = {k.lower() for k, _ in hdrs}
    if host and "host" not in names:
        hdrs.insert(0, ("Host", "127.0.0.1"))
    if body is not None and "content-length" not in names and "transfer-encoding" not in names:
        hdrs.append(("Content-Length", str(len(body))))
    out = ("%s %s HTTP/%s\r\n" % (method, path, version)).encode("latin-1")
    for k, v in hdrs:
        out += ("%s: %s\r\n" % (k, v)).encode("latin-1")
    out += b"\r\n"
    if body is not None:
        out += body
    return out


def webhook_request(payload, secret=SECRET, signature=None, headers=None, version="1.1"):
    """Bytes of a signed POST /webhook (signature=False: no X-Signature)."""
    body = encode(payload)
    hdrs = [("Content-Type", "application/json")]
    if signature is None:
        hdrs.append(("X-Signature", sign(body, secret)))
    elif signature is not False:
        hdrs.append(("X-Signature", signature))
    if headers:
        hdrs.extend(headers.items() if isinstance(headers, dict) else headers)
    return build_request("POST", "/webhook", headers=hdrs, body=body, version=version)


def request(port, method, path, headers=None, body=None, timeout=10.0):
    c = Conn(port, timeout=timeout)
    try:
        return c.request(method, path, headers=headers, body=body, timeout=timeout)
    finally:
        c.close()


def post_webhook(port, payload, secret=SECRET, signature=None, headers=None, timeout=10.0):
    c = Conn(port, timeout=timeout)
    try:
        c.send(webhook_request(payload, secret=secret, signature=signature, headers=headers))
        return c.read_response(timeout)
    finally:
        c.close()


def chunked(body, size):
    out = b""
    for i in range(0, len(body), size):
        part = body[i:i + size]
        out += b"%x\r\n" % len(part) + part + b"\r\n"
    return out + b"0\r\n\r\n"


# ---------------------------------------------------------------------------
# SQLite (read-only, never while holding a write lock)
# ---------------------------------------------------------------------------

def _text(b):
    """TEXT values: str when valid UTF-8, else the raw bytes (so a daemon that
    stores invalid UTF-8 fails the test that checks it, not every test)."""
    try:
        return b.decode("utf-8")
    except UnicodeDecodeError:
        return bytes(b)


def _connect_ro(path):
    db = sqlite3.connect("file:%s?mode=ro" % path, uri=True, timeout=10)
    db.text_factory = _text
    return db


def db_rows(path):
    if not os.path.exists(path):
        return []
    db = _connect_ro(path)
    try:
        db.row_factory = sqlite3.Row
        return [dict(r) for r in db.execute("SELECT * FROM messages ORDER BY rowid")]
    finally:
        db.close()


def db_row(path, message_id):
    db = _connect_ro(path)
    try:
        db.row_factory = sqlite3.Row
        r = db.execute("SELECT * FROM messages WHERE message_id = ?", (message_id,)).fetchone()
        return dict(r) if r else None
    finally:
        db.close()


# ---------------------------------------------------------------------------
# PostgreSQL (through psycopg2, never through hookd)
# ---------------------------------------------------------------------------

# The columns the SQLite engine's messages table has, in its order.
PG_COLUMNS = "id, message_id, from_msisdn, to_msisdn, ts, text, created_at, ts_key"


def pg_connect(url):
    import psycopg2  # only the PostgreSQL runs need it
    con = psycopg2.connect(url)
    con.autocommit = True
    return con


@contextlib.contextmanager
def write_locked(d):
    """Another session holds the daemon's database write lock for the block
    (SQLite: BEGIN IMMEDIATE on the rows file; PostgreSQL: an EXCLUSIVE
    lock on the messages table), then gives it back without writing."""
    if ENGINE == "postgres":
        con = pg_connect(d.pg_url)
        con.autocommit = False
        con.cursor().execute("LOCK TABLE messages IN EXCLUSIVE MODE")
    else:
        con = sqlite3.connect(d.db_path, timeout=5, isolation_level=None)
        con.execute("BEGIN IMMEDIATE")
    try:
        yield
    finally:
        con.rollback() if ENGINE == "postgres" else con.execute("ROLLBACK")
        con.close()


def pg_url_with_db(url, dbname):
    base, _, _ = url.rpartition("/")
    return base + "/" + dbname


def pg_database(cwd):
    """A database of its own for a daemon folder (created once)."""
    name = "hk_" + hashlib.sha1(os.path.abspath(cwd).encode()).hexdigest()[:20]
    con = pg_connect(PG_ADMIN_URL)
    try:
        cur = con.cursor()
        cur.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,))
        if not cur.fetchone():
            cur.execute('CREATE DATABASE "%s"' % name)
    finally:
        con.close()
    return pg_url_with_db(PG_ADMIN_URL, name)


def _pg_query(url, sql, args=()):
    con = pg_connect(url)
    try:
        cur = con.cursor()
        cur.execute("SELECT to_regclass('messages') IS NOT NULL")
        if not cur.fetchone()[0]:
            return []
        cur.execute(sql, args)
        names = [d[0] for d in cur.description]
        return [dict(zip(names, r)) for r in cur.fetchall()]
    finally:
        con.close()


def pg_rows(url):
    return _pg_query(url, "SELECT %s FROM messages ORDER BY id" % PG_COLUMNS)


def pg_row(url, message_id):
    r = _pg_query(url, "SELECT %s FROM messages WHERE message_id = %%s" % PG_COLUMNS,
                  (message_id,))
    return r[0] if r else None


def wait_until(pred, timeout=5.0, interval=0.02, what="condition"):
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError("%s not met within %.1fs" % (what, timeout))
        time.sleep(interval)
