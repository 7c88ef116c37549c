"""A throw-away PostgreSQL cluster for the tests that stop, restart or crash
the server itself (test_pg_multi.py, test_crash_pg.py, scripts/crash_soak.py):
scripts/pg_cluster.sh runs initdb in a temp dir as the `postgres` user and
starts the server on 127.0.0.1 at a free port. Every caller gets a fresh
database in it with database()."""

import os
import shutil
import subprocess
import tempfile
import urllib.parse

from hookd_harness import HOOKD_BIN, new_id, pg_connect, pg_url_with_db

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SCRIPT = os.path.join(ROOT, "scripts", "pg_cluster.sh")


def hookd_has_postgres(binary=None):
    """Whether `hookd --version` names the PostgreSQL engine (the static
    build has none)."""
    try:
        out = subprocess.run([binary or HOOKD_BIN, "--version"], capture_output=True, timeout=30)
    except OSError:
        return False
    return b"postgres" in out.stdout


class PgCluster:
    """settings: ("name=value", ...) for the server's command line, kept
    across restarts."""

    def __init__(self, settings=()):
        self.dir = tempfile.mkdtemp(prefix="hookd-pg-")  # /tmp: the postgres user can enter
        os.chmod(self.dir, 0o755)
        self.opts = [a for kv in settings for a in ("-c", kv)]
        try:
            self.admin = self._run("start", self.dir, "0", *self.opts).strip()
        except BaseException:
            shutil.rmtree(self.dir, ignore_errors=True)
            raise
        self.port = urllib.parse.urlparse(self.admin).port

    def _run(self, *args):
        p = subprocess.run([SCRIPT, *args], capture_output=True, text=True, timeout=180)
        assert p.returncode == 0, "pg_cluster.sh %s: %s" % (args, p.stderr)
        return p.stdout

    def stop(self):
        """Fast shutdown: a clean stop, as a server restart would be."""
        self._run("stop", self.dir)

    def crash(self):
        """Immediate shutdown: every server process exits at once, nothing is
        flushed, and the next start runs crash recovery from the WAL."""
        self._run("crash", self.dir)

    def start(self):
        self._run("start", self.dir, str(self.port), *self.opts)

    def database(self, prefix="multi"):
        name = prefix + "_" + new_id("d").replace("-", "_")
        con = pg_connect(self.admin)
        try:
            con.cursor().execute('CREATE DATABASE "%s"' % name)
        finally:
            con.close()
        return pg_url_with_db(self.admin, name)

    def destroy(self, keep=False):
        """Stops the server; removes its folder unless keep."""
        try:
            self.stop()
        finally:
            if not keep:
                shutil.rmtree(self.dir, ignore_errors=True)
