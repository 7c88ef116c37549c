#!/usr/bin/env python3
"""Sums test cases over meson's test logs: prints one line per build, then
'N passed, N failed' as the last line. Every test program prints its own
'N passed, N failed' (C++ harness) or pytest's summary; a program that
crashed or printed no summary counts as one failure."""
import json
import re
import sys

total_pass = total_fail = 0
for build in sys.argv[1:]:
    passed = failed = 0
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
            tail = [l for l in out.splitlines() if re.search(r"\d+ (passed|failed|error)", l)]
            if tail:
                s = tail[-1]
                p = sum(int(x) for x in re.findall(r"(\d+) passed", s))
                f = sum(int(x) for x in re.findall(r"(\d+) (?:failed|errors?)", s))
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
