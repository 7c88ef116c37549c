#!/usr/bin/env python3
"""Sums test cases over meson's test logs: prints one line per build, then
'N passed, N failed' as the last line. Every test program prints its own
'N passed, N failed' (C++ harness) or pytest's summary; a program that
crashed or printed no summary counts as one failure."""
import json
import re
import sys

total_pass = total_fail = 0
def pytest_counts(text):
    """Counts from pytest's final summary line ('3 passed, 1 failed in 2s')."""
    tail = [l for l in text.splitlines() if re.search(r"\d+ (passed|failed|errors?)\b", l)]
    if not tail:
        return 0, 0
    s = tail[-1]
    p = sum(int(x) for x in re.findall(r"(\d+) passed", s))
    f = sum(int(x) for x in re.findall(r"(\d+) (?:failed|errors?)\b", s))
    return p, f


for build in sys.argv[1:]:
    passed = failed = 0
    if build.endswith(".log"):  # a plain pytest log
        try:
            p, f = pytest_counts(open(build).read())
        except OSError:
            p, f = 0, 0
        if p == 0 and f == 0:
            f = 1
        print(f"{build}: {p} passed, {f} failed", file=sys.stderr)
        total_pass += p
        total_fail += f
        continue
    try:
        lines = open(f"{build}/meson-logs/testlog.json").read().splitlines()
    except OSError:
        print(f"{build}: no test log", file=sys.stderr)
        total_fail += 1
        continue
    for line in lines:
        t = json.loads(line)
        out = t.get("stdout", "") or ""
        p = f = 0
        m = re.findall(r"^(\d+) passed, (\d+) failed$", out, re.M)
        if m:
            p, f = int(m[-1][0]), int(m[-1][1])
        else:
            p, f = pytest_counts(out)
        if t.get("result") != "OK" and f == 0:
            f = 1
        if p == 0 and f == 0:
            f = 1
        passed += p
        failed += f
        if t.get("result") != "OK":
            print(f"{build}: FAILED {t.get('name')}", file=sys.stderr)
    print(f"{build}: {passed} passed, {failed} failed", file=sys.stderr)
    total_pass += passed
    total_fail += failed
print(f"{total_pass} passed, {total_fail} failed")
