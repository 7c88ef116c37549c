"""The container image of this machine's architecture, run as a container
with podman: scripts/test-image.sh builds it and passes its tag as
$HOOKD_IMAGE_TAG (an arm64 image cannot run here without binfmt emulation;
test_image.py checks that one from outside)."""
import os
import socket
import subprocess
import sys

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "blackbox"))

from hookd_harness import SECRET, message, post_webhook, request, wait_until  # noqa: E402

RUNTIME_UID = 65532
pytestmark = pytest.mark.skipif(not os.environ.get("HOOKD_IMAGE_TAG"),
                                reason="run by scripts/test-image.sh")

TAG = os.environ.get("HOOKD_IMAGE_TAG", "")
# How a container runs on these machines (README "Container"): Debian's
# default runtime, crun, refuses the machine's hybrid cgroup v1/v2 layout
# ("crun: cgroups in hybrid mode not supported, drop all controllers from
# cgroupv2"), so runc; and podman's default RLIMIT_NOFILE/RLIMIT_NPROC are
# above the hard limits, which the sandbox (no CAP_SYS_RESOURCE) cannot
# raise ("setrlimit `RLIMIT_NOFILE`: Operation not permitted"), so lower
# ones. Host networking: no bridge is needed to reach it on 127.0.0.1.
RUN_ARGS = ["--runtime", "runc", "--cgroup-manager=cgroupfs", "--ulimit", "nofile=4096:4096",
            "--ulimit", "nproc=4096:4096", "--network", "host"]


def podman(*args, check=True, timeout=120):
    p = subprocess.run(["podman", *args], capture_output=True, text=True, timeout=timeout)
    if check:
        assert p.returncode == 0, (args, p.stdout[-2000:], p.stderr[-2000:])
    return p


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def test_container_runs_serves_reports_healthy_and_stops_cleanly(tmp_path):
    assert TAG, "HOOKD_IMAGE_TAG is set by scripts/test-image.sh"
    port = free_port()
    volume = "hookd-test-%d-%d" % (os.getpid(), port)
    cid = None
    try:
        p = podman("run", "-d", *RUN_ARGS, "-e", "PORT=%d" % port, "-e",
                   "WEBHOOK_SECRET=" + SECRET, "-v", volume + ":/data", TAG)
        cid = p.stdout.strip().splitlines()[-1]
        wait_until(lambda: _ready(port), timeout=20, what="container ready on :%d" % port)
        m = message(text="inside the container")
        assert post_webhook(port, m).status == 200
        r = request(port, "GET", "/messages?q=inside+the+container")
        assert r.status == 200 and m["message_id"] in r.body.decode(), r
        # The image's HEALTHCHECK, run by podman inside the container.
        hc = podman("healthcheck", "run", cid, check=False)
        assert hc.returncode == 0, (hc.stdout, hc.stderr)
        st = podman("inspect", cid, "--format", "{{.Config.User}}").stdout.strip()
        assert st == "65532:65532"
        # The database is in the named volume, written by the runtime user.
        mnt = podman("volume", "inspect", volume, "--format", "{{.Mountpoint}}").stdout.strip()
        assert os.stat(os.path.join(mnt, "app.db")).st_uid == RUNTIME_UID
        podman("stop", "-t", "20", cid)
        code = podman("inspect", cid, "--format", "{{.State.ExitCode}}").stdout.strip()
        assert code == "0", podman("logs", cid, check=False).stdout[-2000:]
        assert '"event":"stopped"' in podman("logs", cid).stdout
    finally:
        if cid:
            podman("rm", "-f", cid, check=False)
        podman("volume", "rm", "-f", volume, check=False)


def _ready(port):
    try:
        return request(port, "GET", "/health/ready", timeout=2).status == 200
    except OSError:
        return False
