"""Sizes of hookd's static binary per architecture, for scripts/footprint.py:
the stripped file and its sections (size -A), and the bytes each library
brings into it, from a GNU ld link map of the same static build.

    import footprint_size
    path = footprint_size.build_static("arm64")
    footprint_size.size_report(path, "arm64")   # {'bytes', 'sections'}
    footprint_size.breakdown("arm64")           # [(component, bytes)], largest first
"""
import os
import re
import shutil
import subprocess

SCRIPTS = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.normpath(os.path.join(SCRIPTS, ".."))
HOST_ARCH = subprocess.run(["dpkg", "--print-architecture"], capture_output=True, text=True,
                           check=True).stdout.strip()
SIZE_TOOL = {"amd64": "size", "arm64": "aarch64-linux-gnu-size"}


# ---------------------------------------------------------------------------

def build_static(arch):
    """scripts/build-static.sh --arch ARCH; returns the stripped binary's path."""
    p = subprocess.run([os.path.join(SCRIPTS, "build-static.sh"), "--arch", arch], cwd=ROOT,
                       capture_output=True, text=True, timeout=1800)
    if p.returncode != 0:
        raise SystemExit("footprint: build-static.sh --arch %s failed:\n%s"
                         % (arch, p.stderr[-3000:]))
    return os.path.join(ROOT, p.stdout.strip().splitlines()[-1])


def size_report(path, arch):
    """{'bytes': file size, 'sections': {name: bytes}} (size -A)."""
    tool = SIZE_TOOL.get(arch, "size")
    if not shutil.which(tool):
        tool = "size"
    out = subprocess.run([tool, "-A", path], capture_output=True, text=True,
                         check=True).stdout
    sections = {}
    for line in out.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[0].startswith((".", "__")) and parts[1].isdigit():
            sections[parts[0]] = int(parts[1])
    return {"bytes": os.path.getsize(path), "sections": sections}


# Link-map input files -> the component they belong to.
COMPONENTS = [
    ("SQLite", r"libsqlite3\.a"), ("glibc (libc)", r"libc\.a|libpthread|librt|libdl"),
    ("glibc (libm)", r"libm(-[\d.]+)?\.a"), ("libuv", r"libuv_a\.a"),
    ("libsodium", r"libsodium\.a"), ("zlib", r"libz\.a"), ("llhttp", r"llhttp"),
    ("libstdc++/libgcc", r"libstdc\+\+|libgcc|crt\w*\.o"), ("hookd", r"."),
]
LOADED = (".text", ".rodata", ".data", ".tdata", ".eh_frame", ".gcc_except_table",
          "__libc")


def parse_map(path):
    """{input file: bytes} of the loaded sections in a GNU ld link map."""
    sizes = {}
    pending = None
    with open(path, errors="replace") as f:
        in_map = False
        for line in f:
            if line.startswith("Linker script and memory map"):
                in_map = True
                continue
            if not in_map or line.startswith(("/DISCARD/", "OUTPUT(")):
                continue
            m = re.match(r"^ (\S+)\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", line)
            if m:
                name, size, obj = m.group(1), int(m.group(2), 16), m.group(3)
            else:
                m1 = re.match(r"^ (\S+)$", line.rstrip("\n"))
                if m1:
                    pending = m1.group(1)
                    continue
                m = re.match(r"^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+(\S+)", line)
                if not (m and pending):
                    pending = None
                    continue
                name, size, obj = pending, int(m.group(1), 16), m.group(2)
            pending = None
            if name.startswith(LOADED):
                sizes[obj] = sizes.get(obj, 0) + size
    return sizes


def breakdown(arch):
    """[(component, bytes)] of the static binary, largest first, from a link
    map of a build-static configuration in build-footprint-<arch>/."""
    bdir = os.path.join(ROOT, "build-footprint-" + arch)
    mapfile = os.path.join(bdir, "hookd.map")
    if not os.path.exists(os.path.join(bdir, "build.ninja")):
        cmd = ["meson", "setup", bdir, "--buildtype=release", "-Dstatic=true", "-Dtests=false",
               "-Dcpp_link_args=-Wl,-Map=" + mapfile]
        if arch != HOST_ARCH:
            cmd += ["--cross-file", os.path.join(ROOT, "scripts/cross/aarch64-linux-gnu.ini")]
        subprocess.run(cmd, cwd=ROOT, capture_output=True, check=True, timeout=600)
    p = subprocess.run(["ninja", "-C", bdir], cwd=ROOT, capture_output=True, text=True,
                       timeout=1800)
    if p.returncode != 0:
        raise SystemExit("footprint: ninja -C %s failed:\n%s" % (bdir, p.stdout[-3000:]))
    totals = {}
    for obj, size in parse_map(mapfile).items():
        for comp, pat in COMPONENTS:
            if re.search(pat, os.path.basename(obj.split("(")[0])):
                totals[comp] = totals.get(comp, 0) + size
                break
    return sorted(totals.items(), key=lambda kv: -kv[1])


