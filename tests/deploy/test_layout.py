"""The source tree keeps the shape the README promises: no include cycles
between modules, and every source file opens with a comment saying what it
owns. A module is a header and its sources: `conn` (include/conn.h,
src/conn.cc, conn_accept.cc, conn_log.cc, and stream.h/stream.cc, its streaming mode,
split off to keep files short), `handlers` (src/handlers/*), `store` (the seam),
`store/sqlite` and `store/pg` (one engine each)."""
import os
import re

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
INC = re.compile(r'^#include "([^"]+)"', re.M)


def module_of(rel):
    """src/store/sqlite/writer.cc -> store/sqlite; include/conn.h -> conn."""
    parts = rel.split("/")
    if parts[0] == "include":
        parts = parts[1:]
    elif parts[0] == "src":
        parts = parts[1:]
    name = "/".join(parts)
    if name.startswith("handlers/") or name == "handlers.h":
        return "handlers"
    if name.startswith("store/sqlite/"):
        return "store/sqlite"
    if name.startswith("store/pg/"):
        return "store/pg"
    if name.startswith("store/") or name == "store.h":
        return "store"
    base = os.path.splitext(os.path.basename(name))[0]
    if base in ("stream", "conn_log", "conn_accept"):
        return "conn"
    return "metrics" if base == "metrics_sample" else base


def sources():
    for top in ("src", "include"):
        for d, _, files in os.walk(os.path.join(ROOT, top)):
            for f in files:
                if f.endswith((".cc", ".h")):
                    yield os.path.relpath(os.path.join(d, f), ROOT)


def resolve(rel, inc):
    here = os.path.join(os.path.dirname(rel), inc)
    for cand in (here, os.path.join("include", inc), os.path.join("src", inc)):
        if os.path.exists(os.path.join(ROOT, cand)):
            return os.path.normpath(cand)
    return None  # generated (dashboard_html.h) or a system header


def test_no_include_cycles_between_modules():
    graph = {}
    for rel in sources():
        text = open(os.path.join(ROOT, rel), encoding="utf-8").read()
        m = module_of(rel)
        for inc in INC.findall(text):
            target = resolve(rel, inc)
            if target is None or target.endswith(".inc"):
                continue
            t = module_of(target)
            if t != m:
                graph.setdefault(m, set()).add(t)
    # Depth-first search for a back edge.
    state, path = {}, []

    def visit(n):
        state[n] = 1
        path.append(n)
        for t in sorted(graph.get(n, ())):
            if state.get(t) == 1:
                raise AssertionError("include cycle: " + " -> ".join(path[path.index(t):] + [t]))
            if t not in state:
                visit(t)
        path.pop()
        state[n] = 2

    for n in sorted(graph):
        if n not in state:
            visit(n)
    assert "server" not in graph.get("conn", ()) and "router" not in graph.get("conn", ())
    assert "router" not in graph.get("metrics", ())


def test_every_source_file_opens_with_what_it_owns():
    missing = [rel for rel in sources()
               if not open(os.path.join(ROOT, rel), encoding="utf-8").read().lstrip().startswith(("/*", "//"))]
    assert not missing, missing
