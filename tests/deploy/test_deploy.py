"""Deployment: systemd notify protocol, SIGHUP secret reload, --healthcheck,
the container and compose files, the unit file, and `meson install`.

Uses the black-box harness (tests/blackbox/hookd_harness.py): every daemon
is real, on 127.0.0.1:0 with a real SQLite file."""
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(HERE, "..", ".."))
sys.path.insert(0, os.path.join(ROOT, "tests", "blackbox"))

from hookd_harness import HOOKD_BIN, encode, hookd_factory, message, sign  # noqa: E402,F401


def read(path):
    with open(os.path.join(ROOT, path), encoding="utf-8") as f:
        return f.read()


@pytest.fixture
def notify_sock(tmp_path):
    path = str(tmp_path / "notify.sock")
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind(path)
    s.settimeout(10)
    yield s, path
    s.close()


def recv_until(sock, pred, timeout=10.0):
    """Datagrams until one satisfies pred; returns (all, matching)."""
    got = []
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            msg = sock.recv(4096).decode()
        except socket.timeout:
            break
        got.append(msg)
        if pred(msg):
            return got, msg
    raise AssertionError("no matching notification; got %r" % got)


def fields(msg):
    return dict(line.split("=", 1) for line in msg.split("\n") if "=" in line)


# ---- systemd notify -------------------------------------------------------

def test_ready_only_when_health_ready_answers_200(hookd_factory, notify_sock):
    sock, path = notify_sock
    srv = hookd_factory(env={"NOTIFY_SOCKET": path}, wait=False)
    got, ready = recv_until(sock, lambda m: fields(m).get("READY") == "1")
    # READY=1 is the first thing hookd says, and at that moment the ready
    # probe already answers 200.
    assert got[0] == ready, got
    srv.expect_exit = False
    srv.wait_listening()
    r = srv.request("GET", "/health/ready")
    assert r.status == 200, r
    assert fields(ready).get("STATUS") == "ready"


def test_ready_says_not_ready_without_secret(hookd_factory, notify_sock):
    sock, path = notify_sock
    srv = hookd_factory(env={"NOTIFY_SOCKET": path}, secret=None)
    _, ready = recv_until(sock, lambda m: fields(m).get("READY") == "1")
    assert "WEBHOOK_SECRET" in fields(ready).get("STATUS", "")
    assert srv.request("GET", "/health/ready").status == 503


def test_stopping_on_sigterm_then_exit_0(hookd_factory, notify_sock):
    sock, path = notify_sock
    srv = hookd_factory(env={"NOTIFY_SOCKET": path})
    recv_until(sock, lambda m: "READY=1" in m)
    srv.stopped = True
    srv.proc.send_signal(signal.SIGTERM)
    recv_until(sock, lambda m: "STOPPING=1" in m)
    assert srv.proc.wait(20) == 0


def test_abstract_notify_socket(hookd_factory):
    name = "hookd-test-%d-%d" % (os.getpid(), time.monotonic_ns())
    s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    s.bind("\0" + name)
    try:
        hookd_factory(env={"NOTIFY_SOCKET": "@" + name})
        recv_until(s, lambda m: "READY=1" in m)
    finally:
        s.close()


def test_watchdog_pings(hookd_factory, notify_sock):
    sock, path = notify_sock
    hookd_factory(env={"NOTIFY_SOCKET": path, "WATCHDOG_USEC": "200000"})
    t0 = time.monotonic()
    pings = 0
    deadline = t0 + 5
    while pings < 3 and time.monotonic() < deadline:
        sock.settimeout(deadline - time.monotonic())
        if "WATCHDOG=1" in sock.recv(4096).decode():
            pings += 1
    assert pings == 3
    assert time.monotonic() - t0 < 2.0  # every WATCHDOG_USEC/2 = 100 ms


def test_malformed_notify_socket_is_a_clear_error(tmp_path):
    env = dict(os.environ, NOTIFY_SOCKET="relative/path", PORT="0", HOST="127.0.0.1",
               DATABASE_URL="sqlite:///" + str(tmp_path / "x.db"))
    p = subprocess.run([HOOKD_BIN], env=env, capture_output=True, timeout=20)
    assert p.returncode != 0
    lines = p.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and "NOTIFY_SOCKET" in lines[0], lines


# ---- SIGHUP ---------------------------------------------------------------

def test_sighup_reloads_secret_file_without_dropping_connections(hookd_factory, tmp_path,
                                                                 notify_sock):
    sock, path = notify_sock
    secret_file = tmp_path / "secret"
    secret_file.write_text("first-secret\n")
    srv = hookd_factory(env={"WEBHOOK_SECRET_FILE": str(secret_file), "NOTIFY_SOCKET": path},
                        secret=None)
    recv_until(sock, lambda m: "READY=1" in m)
    c = srv.conn()
    raw = encode(message(message_id="hup-1"))
    r = c.request("POST", "/webhook", {"X-Signature": sign(raw, "first-secret")}, raw)
    assert r.status == 200, r
    secret_file.write_text("second-secret\n")
    srv.proc.send_signal(signal.SIGHUP)
    recv_until(sock, lambda m: "RELOADING=1" in m)
    recv_until(sock, lambda m: "READY=1" in m)
    # Same connection, still open: the old secret is refused, the new one works.
    raw2 = encode(message(message_id="hup-2"))
    r = c.request("POST", "/webhook", {"X-Signature": sign(raw2, "first-secret")}, raw2)
    assert r.status == 401, r
    r = c.request("POST", "/webhook", {"X-Signature": sign(raw2, "second-secret")}, raw2)
    assert r.status == 200, r
    assert srv.row("hup-2") is not None


def test_sighup_with_unreadable_file_keeps_old_secret(hookd_factory, tmp_path):
    secret_file = tmp_path / "secret"
    secret_file.write_text("kept-secret")
    srv = hookd_factory(env={"WEBHOOK_SECRET_FILE": str(secret_file)}, secret=None)
    secret_file.unlink()
    srv.proc.send_signal(signal.SIGHUP)
    srv.wait_record(lambda r: r.get("event") == "reload_failed")
    raw = encode(message(message_id="kept-1"))
    r = srv.request("POST", "/webhook", {"X-Signature": sign(raw, "kept-secret")}, raw)
    assert r.status == 200, r


# ---- --healthcheck --------------------------------------------------------

def healthcheck(port, extra=None):
    env = dict(os.environ, PORT=str(port), HOST="0.0.0.0")
    env.update(extra or {})
    return subprocess.run([HOOKD_BIN, "--healthcheck"], env=env, capture_output=True, timeout=20)


def test_healthcheck_mode(hookd_factory):
    srv = hookd_factory()
    p = healthcheck(srv.port)
    assert p.returncode == 0, p
    assert b'"ready"' in p.stdout
    unready = hookd_factory(secret=None)
    assert healthcheck(unready.port).returncode == 1
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    free = s.getsockname()[1]
    s.close()
    assert healthcheck(free).returncode == 1


# ---- Container, compose, unit file ----------------------------------------

def test_containerfile_copies_existing_files_and_runs_ci_scripts():
    cf = read("Containerfile")
    for m in re.finditer(r"^COPY\s+(?!--from)(.+)$", cf, re.M):
        *sources, _dest = m.group(1).split()
        for src in sources:
            assert os.path.exists(os.path.join(ROOT, src.rstrip("/"))), src
    runs = re.findall(r"^RUN\s+(.+)$", cf, re.M)
    scripts = set(re.findall(r"(scripts/[\w.-]+)", " ".join(runs)))
    assert scripts >= {"scripts/install-deps.sh", "scripts/build-static.sh"}, scripts
    ci = read("scripts/test.sh")
    readme = read("README.md")
    for s in scripts:
        assert os.access(os.path.join(ROOT, s), os.X_OK), s
        assert s in ci, "%s is run by the Containerfile but not by CI" % s
        assert s in readme, "%s is run by the Containerfile but not documented" % s
    # Runtime stage: non-root, /data volume, port, health check without curl.
    runtime = cf[cf.rindex("FROM "):]
    assert re.search(r"^USER\s+(?!0\b|root\b)\S+", runtime, re.M)
    assert re.search(r"^VOLUME\s+\[?\"?/data", runtime, re.M)
    assert re.search(r"^EXPOSE\s+8000\b", runtime, re.M)
    assert "DATABASE_URL=sqlite:////data/app.db" in runtime
    hc = re.search(r"^HEALTHCHECK .*CMD\s+(.+)$", runtime, re.M)
    assert hc and "--healthcheck" in hc.group(1) and "curl" not in hc.group(1)


def test_compose_file():
    y = read("compose.yaml")
    assert re.search(r"^services:\s*\n\s+api:", y, re.M)
    assert re.search(r"['\"]?(127\.0\.0\.1:)?8000:8000['\"]?", y)
    assert re.search(r"^\s+-\s+hookd-data:/data\s*$", y, re.M)
    assert re.search(r"^volumes:\s*\n\s+hookd-data:", y, re.M)
    assert re.search(r"WEBHOOK_SECRET:\s*\$\{WEBHOOK_SECRET", y)
    assert re.search(r"dockerfile:\s*Containerfile", y)


def test_unit_file_is_hardened_notify_service():
    unit = read("dist/hookd.service")
    directives = {}
    for line in unit.splitlines():
        if line and not line.startswith(("#", "[")) and "=" in line:
            k, v = line.split("=", 1)
            directives.setdefault(k, []).append(v)
    want = {
        "Type": "notify", "DynamicUser": "yes", "StateDirectory": "hookd",
        "ProtectSystem": "strict", "ProtectHome": "yes", "PrivateTmp": "yes",
        "NoNewPrivileges": "yes", "RestrictAddressFamilies": "AF_INET AF_INET6 AF_UNIX",
        "MemoryDenyWriteExecute": "yes", "SystemCallFilter": "@system-service",
    }
    for k, v in want.items():
        assert v in directives.get(k, []), (k, directives.get(k))
    assert any(k in directives for k in ("EnvironmentFile", "LoadCredential"))
    if shutil.which("systemd-analyze"):
        p = subprocess.run(["systemd-analyze", "verify", os.path.join(ROOT, "dist/hookd.service")],
                           capture_output=True, text=True, timeout=60)
        # verify complains about the binary path on a machine without it installed.
        errors = [l for l in p.stderr.splitlines()
                  if l and "hookd" in l and "ExecStart" not in l and "not executable" not in l]
        assert not errors, p.stderr


def test_meson_install_puts_files_in_place(tmp_path):
    build = os.environ.get("HOOKD_BUILD_ROOT")
    assert build, "HOOKD_BUILD_ROOT is set by tests/deploy/meson.build"
    dest = tmp_path / "root"
    p = subprocess.run(["meson", "install", "-C", build, "--destdir", str(dest), "--no-rebuild"],
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stdout + p.stderr
    files = {os.path.relpath(os.path.join(d, f), dest) for d, _, fs in os.walk(dest) for f in fs}
    names = {os.path.basename(f) for f in files}
    assert {"hookd", "hookd.service", "index.html", "hookd.env"} <= names, sorted(files)
    binary = next(os.path.join(dest, f) for f in files if f.endswith("bin/hookd"))
    assert os.access(binary, os.X_OK)
    unit = next(f for f in files if f.endswith("hookd.service"))
    assert "/systemd/system/" in unit, unit
