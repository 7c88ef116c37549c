"""What the benchmark scripts share: building the release binary, finding the
port a daemon listens on, reading wrk's HOOKD_WRK lines, and describing the
machine a figure was measured on."""
import os
import platform
import subprocess
import sys

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))


def build_release(note, timeout=900):
    """meson setup build-release (once) + ninja; returns the hookd path.
    note(msg) reports each step; a failed step prints its output and exits."""
    bdir = os.path.join(ROOT, "build-release")
    steps = [["ninja", "-C", "build-release"]]
    if not os.path.exists(os.path.join(bdir, "build.ninja")):
        steps.insert(0, ["meson", "setup", "build-release", "--buildtype=release"])
    for cmd in steps:
        note("building: " + " ".join(cmd))
        p = subprocess.run(cmd, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                           text=True, timeout=timeout)
        if p.returncode != 0:
            sys.stderr.write(p.stdout[-4000:])
            raise SystemExit("bench: '%s' failed (exit %d); fix the build or pass --hookd PATH"
                             % (" ".join(cmd), p.returncode))
    return os.path.join(bdir, "hookd")


def machine_info():
    """'2 CPUs (model), 23.5 GiB RAM, Linux x.y'"""
    model = "?"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    mem = "?"
    try:
        with open("/proc/meminfo") as f:
            mem = "%.1f GiB" % (int(f.readline().split()[1]) / 1048576)
    except OSError:
        pass
    return "%d CPUs (%s), %s RAM, Linux %s" % (len(os.sched_getaffinity(0)), model, mem,
                                              platform.release())


def listen_port(pid):
    """The TCP port PID listens on (from /proc/PID/fd and /proc/net/tcp*), or None."""
    inodes = set()
    try:
        for fd in os.listdir("/proc/%d/fd" % pid):
            try:
                link = os.readlink("/proc/%d/fd/%s" % (pid, fd))
            except OSError:
                continue
            if link.startswith("socket:["):
                inodes.add(link[8:-1])
    except OSError:
        return None
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                next(f)
                for line in f:
                    p = line.split()
                    if len(p) > 9 and p[3] == "0A" and p[9] in inodes:
                        return int(p[1].rsplit(":", 1)[1], 16)
        except OSError:
            continue
    return None


def parse_kv(s):
    """The key=value words of a HOOKD_WRK line (scripts/wrk/*.lua print them):
    numbers as int or float, anything else as text."""
    out = {}
    for tok in s.split():
        if "=" in tok:
            k, v = tok.split("=", 1)
            try:
                out[k] = float(v) if "." in v else int(v)
            except ValueError:
                out[k] = v
    return out
