"""The container image, checked from outside: scripts/test-image.sh builds it
with podman (a real `podman build` of Containerfile), saves
`podman image inspect` as inspect.json and copies the image's filesystem
(`podman image mount`) to rootfs/ in $HOOKD_IMAGE_DIR; $HOOKD_IMAGE_ARCH is
the platform it was built for. Running containers is not possible on the
test machines with podman's defaults, so the binary found in the image runs
here directly (under qemu-aarch64-static for arm64: $HOOKD_BIN is then a
wrapper) with the image's own environment, as its runtime user 65532; the
image of this machine's architecture also runs as a container
(test_container.py)."""
import json
import os
import signal
import stat
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))

from hookd_harness import (HOOKD_BIN, SECRET, message, post_webhook,  # noqa: E402
                           request, wait_until)

IMAGE_DIR = os.environ.get("HOOKD_IMAGE_DIR", "")
ARCH = os.environ.get("HOOKD_IMAGE_ARCH", "")
RUNTIME_UID = 65532
ELF_MACHINE = {"amd64": "Advanced Micro Devices X86-64", "arm64": "AArch64"}

pytestmark = pytest.mark.skipif(not IMAGE_DIR, reason="run by scripts/test-image.sh")


@pytest.fixture(scope="module")
def config():
    with open(os.path.join(IMAGE_DIR, "inspect.json")) as f:
        images = json.load(f)
    assert len(images) == 1
    return images[0]


def rootfs(*parts):
    return os.path.join(IMAGE_DIR, "rootfs", *parts)


def image_env(config):
    env = {}
    for kv in config["Config"]["Env"]:
        k, _, v = kv.partition("=")
        env[k] = v
    return env


# ---- what `podman image inspect` says ---------------------------------------

def test_platform(config):
    assert config["Os"] == "linux"
    assert config["Architecture"] == ARCH


def test_runs_as_65532_not_root(config):
    assert config["Config"]["User"] == "%d:%d" % (RUNTIME_UID, RUNTIME_UID)


def test_health_check_is_the_binary_itself(config):
    # podman puts it at the top level, docker under Config; only a
    # docker-format image keeps it at all (OCI has no health check).
    hc = config.get("Healthcheck") or config["Config"].get("Healthcheck")
    assert hc, "no health check: was the image built with --format docker?"
    assert hc["Test"] == ["CMD", "/hookd", "--healthcheck"]
    assert hc["Interval"] == 10 * 10**9 and hc["Timeout"] == 3 * 10**9
    assert hc["StartPeriod"] == 5 * 10**9 and hc["Retries"] == 3


def test_port_volume_entrypoint_env(config):
    c = config["Config"]
    assert set(c["ExposedPorts"]) == {"8000/tcp"}
    assert set(c["Volumes"]) == {"/data"}
    assert c["Entrypoint"] == ["/hookd"]
    env = image_env(config)
    assert env["DATABASE_URL"] == "sqlite:////data/app.db"
    assert env["HOST"] == "0.0.0.0" and env["PORT"] == "8000"
    assert c.get("StopSignal") == "SIGTERM"


# ---- what is in it ------------------------------------------------------------

def test_filesystem_is_the_binary_and_two_empty_folders():
    entries = sorted(os.listdir(rootfs()))
    assert entries == ["data", "hookd", "tmp"], entries
    assert os.listdir(rootfs("data")) == [] and os.listdir(rootfs("tmp")) == []
    st = os.stat(rootfs("data"))
    assert (st.st_uid, st.st_gid) == (RUNTIME_UID, RUNTIME_UID)
    assert stat.S_IMODE(os.stat(rootfs("tmp")).st_mode) == 0o1777


def test_binary_is_static_stripped_for_the_platform():
    out = subprocess.run(["readelf", "-hlS", rootfs("hookd")], capture_output=True,
                         text=True, check=True).stdout
    assert "Machine:                           %s" % ELF_MACHINE[ARCH] in out
    assert "INTERP" not in out      # no dynamic loader: nothing else in the image
    assert ".symtab" not in out     # stripped
    assert os.path.getsize(rootfs("hookd")) < 2_500_000


# ---- the image's binary, run with the image's environment ----------------------

def start_as_runtime_user(config, tmp_path):
    """hookd from the image, as uid/gid 65532, with the image's env except
    HOST/PORT (127.0.0.1:0 here) and the database in the image's own /data
    (owned by 65532: this fails if the image got its ownership wrong)."""
    env = image_env(config)
    env.update({"HOST": "127.0.0.1", "PORT": "0", "WEBHOOK_SECRET": SECRET,
                "DATABASE_URL": "sqlite:///" + rootfs("data", "app.db"),
                "PATH": os.environ.get("PATH", "/usr/bin:/bin")})
    return subprocess.Popen([HOOKD_BIN], env=env, cwd=str(tmp_path), user=RUNTIME_UID,
                            group=RUNTIME_UID, extra_groups=[], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE)


def listening_port(proc):
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        line = proc.stdout.readline()
        if not line:
            break
        rec = json.loads(line)
        if rec.get("event") == "listening":
            return rec["port"]
    raise AssertionError("no listening record; stderr: %r" % proc.stderr.read()[-2000:])


def test_serves_webhooks_as_runtime_user_with_data_in_volume(config, tmp_path):
    db = rootfs("data", "app.db")
    proc = start_as_runtime_user(config, tmp_path)
    try:
        port = listening_port(proc)
        m = message(text="from the image")
        r = post_webhook(port, m)
        assert r.status == 200, r
        r = request(port, "GET", "/messages?q=the+image")  # FTS5 search
        assert r.status == 200 and m["message_id"] in r.body.decode(), r
        wait_until(lambda: os.path.exists(db), what="database in /data")
        assert os.stat(db).st_uid == RUNTIME_UID
        # The HEALTHCHECK command, with the image's HOST=0.0.0.0 and the port.
        env = image_env(config)
        env["PORT"] = str(port)
        hc = subprocess.run([HOOKD_BIN, "--healthcheck"], env=env, capture_output=True,
                            timeout=30, user=RUNTIME_UID, group=RUNTIME_UID, extra_groups=[])
        assert hc.returncode == 0, hc
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(20) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        for suffix in ("", "-wal", "-shm"):
            if os.path.exists(db + suffix):
                os.unlink(db + suffix)

