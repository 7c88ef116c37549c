"""GET /metrics (issue 4): a strict Prometheus text-format (0.0.4) checker,
promtool when installed, required names, and exact counter deltas over a
known sequence of requests."""

import math
import random
import re
import shutil
import string
import subprocess
import time

import pytest

from hookd_harness import (ENGINE, HOOKD_BIN, build_request, hookd_factory, message, module_factory,
                           wait_until, webhook_request)

__all__ = ["hookd_factory", "module_factory"]  # fixtures used via pytest

ROUTES = ["/webhook", "/messages", "/stats", "/health/live", "/health/ready", "/metrics", "/"]
RESULTS = ["created", "duplicate", "invalid_signature", "validation_error"]


# ---------------------------------------------------------------------------
# Strict exposition checker
# ---------------------------------------------------------------------------

class ExpositionError(AssertionError):
    pass


METRIC_RE = re.compile(r"[a-zA-Z_:][a-zA-Z0-9_:]*\Z")
LABEL_RE = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*\Z")
FLOAT_RE = re.compile(r"[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\Z|[+-]Inf\Z|NaN\Z")
TYPES = ("counter", "gauge", "histogram", "summary", "untyped")


def parse_float(s, where):
    if not FLOAT_RE.match(s):
        raise ExpositionError("%s: bad value %r" % (where, s))
    return float(s)


def parse_labels(s, where):
    """Parses `name="value",...` (the part between braces); returns a dict.
    Only \\\\, \\" and \\n escapes are allowed in values."""
    labels = {}
    i, n = 0, len(s)
    while i < n:
        m = re.compile(r"[a-zA-Z_][a-zA-Z0-9_]*").match(s, i)
        if not m:
            raise ExpositionError("%s: bad label name at %r" % (where, s[i:]))
        name = m.group(0)
        if name.startswith("__"):
            raise ExpositionError("%s: reserved label name %r" % (where, name))
        if name in labels:
            raise ExpositionError("%s: duplicate label %r" % (where, name))
        i = m.end()
        if s[i:i + 2] != '="':
            raise ExpositionError("%s: expected =\" after %r" % (where, name))
        i += 2
        val = []
        while True:
            if i >= n:
                raise ExpositionError("%s: unterminated label value" % where)
            c = s[i]
            if c == "\\":
                if i + 1 >= n or s[i + 1] not in '\\"n':
                    raise ExpositionError("%s: bad escape in label value %r" % (where, s[i:i + 2]))
                val.append({"\\": "\\", '"': '"', "n": "\n"}[s[i + 1]])
                i += 2
            elif c == '"':
                i += 1
                break
            elif c == "\n":
                raise ExpositionError("%s: raw newline in label value" % where)
            else:
                val.append(c)
                i += 1
        labels[name] = "".join(val)
        if i < n:
            if s[i] != "," or i + 1 >= n:
                raise ExpositionError("%s: expected , between labels at %r" % (where, s[i:]))
            i += 1
    return labels


def split_sample(line, where):
    """name, labels-text-or-None, rest for a sample line; braces inside
    quoted label values are respected."""
    m = re.match(r"([^{\s]+)", line)
    if not m:
        raise ExpositionError("%s: no metric name" % where)
    name = m.group(1)
    i = m.end()
    labels = None
    if i < len(line) and line[i] == "{":
        j, inq = i + 1, False
        while j < len(line):
            c = line[j]
            if inq and c == "\\":
                j += 2
                continue
            if c == '"':
                inq = not inq
            elif c == "}" and not inq:
                break
            j += 1
        if j >= len(line):
            raise ExpositionError("%s: unterminated label set" % where)
        labels = line[i + 1:j]
        i = j + 1
    rest = line[i:]
    if not rest.startswith(" "):
        raise ExpositionError("%s: expected a space before the value" % where)
    return name, labels, rest.strip(" ")


def family_of(sample_name, families):
    """The declared family a sample name belongs to, with its suffix."""
    for suffix in ("_bucket", "_sum", "_count"):
        if sample_name.endswith(suffix):
            base = sample_name[:-len(suffix)]
            f = families.get(base)
            if f and (f["type"] == "histogram" or (f["type"] == "summary" and suffix != "_bucket")):
                return base, suffix
    return sample_name, ""


def check_exposition(text):
    """Strictly checks a text exposition; returns
    {family: {"type", "help", "samples": [(name, labels, value)]}}."""
    if not text.endswith("\n"):
        raise ExpositionError("exposition does not end with a newline")
    families = {}
    closed = set()
    current = None
    series = set()
    for lineno, line in enumerate(text[:-1].split("\n"), 1):
        where = "line %d %r" % (lineno, line)
        if line == "" or line.strip() != line or "\t" in line or "\r" in line:
            raise ExpositionError("%s: empty line or stray whitespace" % where)
        if line.startswith("#"):
            m = re.match(r"# (HELP|TYPE) (\S+) (.*)\Z", line) or \
                re.match(r"# (HELP) (\S+)()\Z", line)
            if not m:
                raise ExpositionError("%s: comment that is neither HELP nor TYPE" % where)
            kind, name, arg = m.groups()
            if not METRIC_RE.match(name):
                raise ExpositionError("%s: bad metric name" % where)
            if name in closed:
                raise ExpositionError("%s: %s for a family already finished" % (where, kind))
            f = families.setdefault(name, {"type": None, "help": None, "samples": []})
            if f["samples"]:
                raise ExpositionError("%s: %s after the family's samples" % (where, kind))
            if current is not None and current != name:
                closed.add(current)
            current = name
            if kind == "TYPE":
                if f["type"] is not None:
                    raise ExpositionError("%s: second TYPE for %s" % (where, name))
                if arg not in TYPES:
                    raise ExpositionError("%s: unknown type %r" % (where, arg))
                f["type"] = arg
            else:
                if f["help"] is not None:
                    raise ExpositionError("%s: second HELP for %s" % (where, name))
                check_help_escapes(arg, where)
                f["help"] = arg
            continue
        name, ltext, rest = split_sample(line, where)
        if not METRIC_RE.match(name):
            raise ExpositionError("%s: bad metric name %r" % (where, name))
        labels = parse_labels(ltext, where) if ltext else {}
        parts = rest.split(" ")
        if len(parts) not in (1, 2):
            raise ExpositionError("%s: expected value [timestamp]" % where)
        value = parse_float(parts[0], where)
        if len(parts) == 2 and not re.match(r"-?\d+\Z", parts[1]):
            raise ExpositionError("%s: bad timestamp" % where)
        base, suffix = family_of(name, families)
        f = families.get(base)
        if f is None or f["type"] is None:
            raise ExpositionError("%s: sample without a preceding TYPE for %s" % (where, base))
        if base in closed or base != current:
            raise ExpositionError("%s: samples of %s are not contiguous" % (where, base))
        if f["type"] in ("counter", "gauge", "untyped") and suffix:
            raise ExpositionError("%s: suffixed sample in a %s" % (where, f["type"]))
        if f["type"] == "histogram" and not suffix:
            raise ExpositionError("%s: bare sample in a histogram" % where)
        if f["type"] == "histogram" and (suffix == "_bucket") != ("le" in labels):
            raise ExpositionError("%s: le label only (and always) on _bucket" % where)
        key = (name, tuple(sorted(labels.items())))
        if key in series:
            raise ExpositionError("%s: duplicate series" % where)
        series.add(key)
        if f["type"] == "counter" and not (value >= 0):
            raise ExpositionError("%s: negative or NaN counter" % where)
        f["samples"].append((name, labels, value))
    for name, f in families.items():
        if f["type"] is None:
            raise ExpositionError("family %s has HELP but no TYPE" % name)
        if f["type"] == "counter" and not name.endswith("_total"):
            raise ExpositionError("counter %s does not end in _total" % name)
        if f["type"] == "histogram":
            check_histogram(name, f["samples"])
    return families


def check_help_escapes(text, where):
    """HELP text may only use the escapes \\\\ and \\n."""
    i = 0
    while i < len(text):
        if text[i] == "\\":
            if i + 1 >= len(text) or text[i + 1] not in "\\n":
                raise ExpositionError("%s: bad escape in HELP" % where)
            i += 2
        else:
            i += 1


def check_histogram(name, samples):
    groups = {}
    for sname, labels, value in samples:
        rest = tuple(sorted((k, v) for k, v in labels.items() if k != "le"))
        g = groups.setdefault(rest, {"buckets": [], "sum": None, "count": None})
        if sname == name + "_bucket":
            g["buckets"].append((labels["le"], value))
        elif sname == name + "_sum":
            g["sum"] = value
        else:
            g["count"] = value
    for rest, g in groups.items():
        where = "histogram %s%r" % (name, dict(rest))
        if not g["buckets"]:
            raise ExpositionError("%s: no buckets" % where)
        if g["sum"] is None or g["count"] is None:
            raise ExpositionError("%s: _sum or _count missing" % where)
        les = [parse_float(le, where) for le, _ in g["buckets"]]
        if g["buckets"][-1][0] != "+Inf":
            raise ExpositionError("%s: last bucket is not le=\"+Inf\"" % where)
        if any(b <= a for a, b in zip(les, les[1:])):
            raise ExpositionError("%s: le not increasing %r" % (where, les))
        counts = [v for _, v in g["buckets"]]
        if any(b < a for a, b in zip(counts, counts[1:])):
            raise ExpositionError("%s: buckets not cumulative %r" % (where, counts))
        if any(v != int(v) or v < 0 for v in counts):
            raise ExpositionError("%s: bucket counts must be whole numbers" % where)
        if g["count"] != counts[-1]:
            raise ExpositionError("%s: _count %r != +Inf bucket %r" % (where, g["count"],
                                                                       counts[-1]))
        if math.isnan(g["sum"]):
            raise ExpositionError("%s: _sum is NaN" % where)


# Lint findings of `promtool check metrics` that are accepted: the issue
# prescribes millisecond names (request_latency_ms) and the operator
# histogram follows the same unit.
ACCEPTED_LINT = re.compile(
    r"(request_latency_ms|hookd_commit_duration_ms|hookd_index_duration_ms) metric names should not contain "
    r"abbreviated units\Z")


def promtool_check(text):
    """Runs promtool on the exposition when it is installed; returns True
    when it ran. Exit 0, or 3 (lint findings) with only accepted findings."""
    tool = shutil.which("promtool")
    if not tool:
        return False
    p = subprocess.run([tool, "check", "metrics"], input=text.encode("utf-8"),
                       capture_output=True, timeout=60)
    out = (p.stdout + p.stderr).decode("utf-8", "replace")
    findings = [line.strip() for line in out.splitlines() if line.strip()]
    assert p.returncode in (0, 3), "promtool exit %d:\n%s" % (p.returncode, out)
    bad = [f for f in findings if not ACCEPTED_LINT.match(f)]
    assert not bad, "promtool findings:\n%s" % "\n".join(bad)
    assert (p.returncode == 0) == (not findings), out
    return True


# ---------------------------------------------------------------------------
# Scraping
# ---------------------------------------------------------------------------

class Scrape:
    def __init__(self, text):
        self.text = text
        self.families = check_exposition(text)

    def family(self, name):
        assert name in self.families, "no family %s in\n%s" % (name, self.text)
        return self.families[name]

    def series(self, sample_name, **match):
        """{frozenset(labels): value} of samples with that name whose labels
        include match."""
        out = {}
        for f in self.families.values():
            for name, labels, value in f["samples"]:
                if name == sample_name and all(labels.get(k) == v for k, v in match.items()):
                    out[frozenset(labels.items())] = value
        return out

    def value(self, sample_name, default=None, **labels):
        """The one sample with exactly these labels (default when absent)."""
        want = frozenset((k, str(v)) for k, v in labels.items())
        for f in self.families.values():
            for name, lbl, value in f["samples"]:
                if name == sample_name and frozenset(lbl.items()) == want:
                    return value
        if default is not None:
            return default
        raise AssertionError("no sample %s%r in\n%s" % (sample_name, labels, self.text))

    def http(self):
        """{(path, status): value} of http_requests_total."""
        out = {}
        for name, labels, value in self.family("http_requests_total")["samples"]:
            assert set(labels) == {"path", "status"}, labels
            out[(labels["path"], labels["status"])] = value
        return out


def scrape(srv):
    resp = srv.request("GET", "/metrics")
    assert resp.status == 200, resp
    ctype = resp.header("content-type", "")
    parts = [p.strip() for p in ctype.split(";")]
    assert parts[0] == "text/plain", ctype
    params = {}
    for p in parts[1:]:
        k, _, v = p.partition("=")
        params[k.strip().lower()] = v.strip()
    assert params.get("version") == "0.0.4", ctype
    assert set(params) <= {"version", "charset"}, ctype
    assert params.get("charset", "utf-8").lower() == "utf-8", ctype
    return Scrape(resp.body.decode("utf-8"))


def delta(after, before):
    keys = set(after) | set(before)
    return {k: after.get(k, 0) - before.get(k, 0) for k in keys
            if after.get(k, 0) - before.get(k, 0)}


def latency_counts(s):
    out = {}
    for labels, v in s.series("request_latency_ms_count").items():
        out[dict(labels).get("path")] = v
    return out


def latency_sums(s):
    return {dict(labels).get("path"): v for labels, v in s.series("request_latency_ms_sum").items()}


def bucket(s, name, le):
    """The cumulative count of the unlabelled histogram's bucket le."""
    for labels, v in s.series(name + "_bucket").items():
        lbl = dict(labels)
        if set(lbl) == {"le"} and float(lbl["le"]) == le:
            return v
    raise AssertionError("no bucket le=%r for %s" % (le, name))


@pytest.fixture(scope="module")
def srv(module_factory):
    return module_factory()


# ---------------------------------------------------------------------------
# The checker itself
# ---------------------------------------------------------------------------

GOOD = """# HELP a_total A counter.
# TYPE a_total counter
a_total{x="1"} 3
a_total{x="a\\\\b\\"c\\nd"} 0
# TYPE h histogram
h_bucket{le="0.5"} 1
h_bucket{le="1"} 2
h_bucket{le="+Inf"} 2
h_sum 0.7
h_count 2
# TYPE g gauge
g -Inf
"""

BROKEN = {
    "second TYPE": GOOD + "# TYPE g gauge\n",
    "sample before TYPE": "x 1\n# TYPE x gauge\n",
    "no TYPE": "# HELP x help\nx 1\n",
    "not contiguous": "# TYPE a gauge\na 1\n# TYPE b gauge\nb 1\na{l=\"2\"} 2\n",
    "tab escape": '# TYPE a gauge\na{l="x\\ty"} 1\n',
    "unescaped quote": '# TYPE a gauge\na{l="x"y"} 1\n',
    "raw backslash end": '# TYPE a gauge\na{l="x\\"} 1\n',
    "bad label name": '# TYPE a gauge\na{1l="x"} 1\n',
    "bad metric name": "# TYPE 1a gauge\n1a 1\n",
    "bad value": "# TYPE a gauge\na one\n",
    "no newline at end": "# TYPE a gauge\na 1",
    "unknown type": "# TYPE a meter\na 1\n",
    "not cumulative": '# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\n'
                      'h_sum 1\nh_count 1\n',
    "no +Inf": '# TYPE h histogram\nh_bucket{le="1"} 2\nh_sum 1\nh_count 2\n',
    "count mismatch": '# TYPE h histogram\nh_bucket{le="+Inf"} 2\nh_sum 1\nh_count 3\n',
    "le decreasing": '# TYPE h histogram\nh_bucket{le="2"} 1\nh_bucket{le="1"} 1\n'
                     'h_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
    "no sum": '# TYPE h histogram\nh_bucket{le="+Inf"} 1\nh_count 1\n',
    "counter without _total": "# TYPE c counter\nc 1\n",
    "negative counter": "# TYPE c_total counter\nc_total -1\n",
    "duplicate series": '# TYPE g gauge\ng{a="1"} 1\ng{a="1"} 2\n',
    "other comment": "# just a comment\n# TYPE g gauge\ng 1\n",
    "empty line": "# TYPE g gauge\n\ng 1\n",
    "duplicate label": '# TYPE g gauge\ng{a="1",a="2"} 1\n',
}


def test_checker_accepts_valid_and_rejects_broken():
    fams = check_exposition(GOOD)
    assert fams["a_total"]["samples"][1][1] == {"x": 'a\\b"c\nd'}
    assert fams["g"]["samples"][0][2] == -math.inf
    for why, text in BROKEN.items():
        with pytest.raises(ExpositionError):
            check_exposition(text)
            pytest.fail("checker accepted: " + why)


# ---------------------------------------------------------------------------
# Format, content type, promtool
# ---------------------------------------------------------------------------

def test_exposition_is_strictly_valid_and_promtool_clean(srv):
    # exercise every route and outcome so that all families have samples
    srv.post_webhook(message())
    srv.post_webhook(message(), signature="0" * 64)
    srv.post_webhook(message(ts="nope"))
    for path in ("/messages", "/messages?limit=0", "/stats", "/health/live", "/health/ready",
                 '/x"y\\z', "/%0A"):
        srv.request("GET", path)
    srv.request("PUT", "/stats")
    s1 = scrape(srv)
    s2 = scrape(srv)                # now with /metrics itself counted
    for s in (s1, s2):
        assert all(c == "\n" or c.isprintable() for c in s.text)
    assert s2.value("http_requests_total", path="/metrics", status="200") >= 1
    ran = promtool_check(s2.text)
    # promtool is part of this machine's setup (Debian package prometheus)
    assert ran or not shutil.which("promtool")


def test_promtool_rejects_a_broken_exposition():
    """The promtool helper really fails on errors (when promtool exists)."""
    if not shutil.which("promtool"):
        with pytest.raises(ExpositionError):
            check_exposition(BROKEN["unescaped quote"])
        return
    with pytest.raises(AssertionError):
        promtool_check(BROKEN["unescaped quote"])
    with pytest.raises(AssertionError):
        promtool_check("# TYPE foo_seconds gauge\nfoo_seconds 1\n")   # no HELP: a lint finding


# ---------------------------------------------------------------------------
# Start-up state and required names
# ---------------------------------------------------------------------------

REQUIRED = {
    "http_requests_total": "counter",
    "webhook_requests_total": "counter",
    "request_latency_ms": "histogram",
    "hookd_connections_open": "gauge",
    "hookd_requests_in_flight": "gauge",
    "hookd_writer_queue_depth": "gauge",
    "hookd_commit_batch_size": "histogram",
    "hookd_commit_duration_ms": "histogram",
    "hookd_index_lag_rows": "gauge",
    "hookd_index_batch_size": "histogram",
    "hookd_index_duration_ms": "histogram",
    "hookd_storage_write_bytes_total": "counter",
    "hookd_db_errors_total": "counter",
    "hookd_db_size_bytes": "gauge",
    "process_resident_memory_bytes": "gauge",
    "process_cpu_seconds_total": "counter",
    "process_open_fds": "gauge",
    "process_start_time_seconds": "gauge",
    "hookd_build_info": "gauge",
}


def test_startup_state_and_required_names(hookd_factory):
    t0 = time.time()
    d = hookd_factory()
    s = scrape(d)
    t1 = time.time()
    # PostgreSQL keeps its indexes inside the acknowledging transaction: there
    # is no indexer, so no hookd_index_* / storage-bytes families (metrics.cc
    # writes them only when store_gauges reports an indexer).
    no_indexer = ENGINE == "postgres"
    for name, typ in REQUIRED.items():
        if no_indexer and (name.startswith("hookd_index_") or
                           name == "hookd_storage_write_bytes_total"):
            assert name not in s.families, name
            continue
        assert s.family(name)["type"] == typ, name
        assert s.family(name)["help"], "no HELP for %s" % name
    # nothing answered before the first scrape, and the scrape is not in itself
    assert s.http() == {}
    assert s.series("request_latency_ms_count") == {}
    web = s.series("webhook_requests_total")
    for r in RESULTS:
        assert web[frozenset({("result", r)})] == 0, r
    assert all(set(dict(k)) == {"result"} for k in web)
    assert all(v == 0 for v in web.values())
    assert s.value("hookd_connections_open") == 1
    assert s.value("hookd_requests_in_flight") == 0
    assert s.value("hookd_writer_queue_depth") == 0
    assert s.value("hookd_db_errors_total") == 0
    assert s.value("hookd_commit_batch_size_count") == 0
    assert s.value("hookd_commit_batch_size_sum") == 0
    assert s.value("hookd_commit_duration_ms_count") == 0
    # the SQLite files' size; PostgreSQL keeps no file on this host
    if ENGINE == "postgres":
        assert s.value("hookd_db_size_bytes") == 0
    else:
        assert s.value("hookd_db_size_bytes") > 0
    assert s.value("process_resident_memory_bytes") > 1 << 20
    assert s.value("process_cpu_seconds_total") >= 0
    assert 3 <= s.value("process_open_fds") < 200
    start = s.value("process_start_time_seconds")
    assert t0 - 2 <= start <= t1 + 1, (t0, start, t1)
    # build info: one series, the version that --version prints
    info = s.series("hookd_build_info")
    assert len(info) == 1
    labels, value = next(iter(info.items()))
    assert value == 1
    out = subprocess.run([HOOKD_BIN, "--version"], capture_output=True, timeout=30)
    version = out.stdout.decode().splitlines()[0].split()[-1]
    assert dict(labels) == {"version": version}
    # the second scrape sees the first one, and only that
    s2 = scrape(d)
    assert s2.http() == {("/metrics", "200"): 1}
    assert latency_counts(s2) == {"/metrics": 1}
    assert s2.value("process_start_time_seconds") == start


# ---------------------------------------------------------------------------
# Exact deltas
# ---------------------------------------------------------------------------

def test_exact_deltas_after_known_sequence(hookd_factory):
    d = hookd_factory()
    d.post_webhook(message())            # some history before the first scrape
    d.request("GET", "/nope")
    before = scrape(d)

    new = [message(text="m%d" % i) for i in range(3)]
    statuses = []
    for m in new:
        statuses.append(d.post_webhook(m).status)
    for m in new[:2]:
        statuses.append(d.post_webhook(m).status)                      # duplicates
    statuses.append(d.post_webhook(message(), signature="ab" * 32).status)
    statuses.append(d.post_webhook(message(), signature=False).status)
    statuses.append(d.post_webhook(message(**{"from": "12345"})).status)
    statuses.append(d.request("GET", "/messages").status)
    statuses.append(d.request("GET", "/messages?limit=2&q=m").status)
    statuses.append(d.request("GET", "/messages?limit=0").status)
    statuses.append(d.request("GET", "/stats").status)
    for path in ("/wp-admin", "/x/y", "/.env"):
        statuses.append(d.request("GET", path).status)
    statuses.append(d.request("DELETE", "/messages").status)
    statuses.append(d.request("GET", "/health/live").status)
    assert statuses == [200] * 5 + [401, 401, 422, 200, 200, 422, 200, 404, 404, 404, 405, 200]

    after = scrape(d)
    assert delta(after.http(), before.http()) == {
        ("/webhook", "200"): 5, ("/webhook", "401"): 2, ("/webhook", "422"): 1,
        ("/messages", "200"): 2, ("/messages", "422"): 1, ("/messages", "405"): 1,
        ("/stats", "200"): 1, ("other", "404"): 3, ("/health/live", "200"): 1,
        ("/metrics", "200"): 1,                     # the first scrape
    }
    web = lambda s: {dict(k)["result"]: v for k, v in s.series("webhook_requests_total").items()}
    assert delta(web(after), web(before)) == {
        "created": 3, "duplicate": 2, "invalid_signature": 2, "validation_error": 1}
    assert web(after)["created"] == 4 and web(after)["duplicate"] == 2
    assert delta(latency_counts(after), latency_counts(before)) == {
        "/webhook": 8, "/messages": 4, "/stats": 1, "other": 3, "/health/live": 1,
        "/metrics": 1}
    sums = delta(latency_sums(after), latency_sums(before))
    assert set(sums) == {"/webhook", "/messages", "/stats", "other", "/health/live", "/metrics"}
    assert all(v > 0 for v in sums.values()), sums
    # every bucket of every path moved by at most the count delta, never down
    for labels, v in after.series("request_latency_ms_bucket").items():
        b = before.value("request_latency_ms_bucket", default=0, **dict(labels))
        assert 0 <= v - b <= 8, (labels, v, b)
    # 5 webhooks reached the store (3 new + 2 duplicates), one commit each at least
    bc = after.value("hookd_commit_batch_size_count") - before.value("hookd_commit_batch_size_count")
    assert 1 <= bc <= 5
    assert after.value("hookd_commit_batch_size_sum") - \
        before.value("hookd_commit_batch_size_sum") == 5
    assert after.value("hookd_commit_duration_ms_count") - \
        before.value("hookd_commit_duration_ms_count") == bc
    assert after.value("hookd_commit_duration_ms_sum") > before.value("hookd_commit_duration_ms_sum")
    assert after.value("hookd_db_errors_total") == before.value("hookd_db_errors_total") == 0
    assert after.value("hookd_requests_in_flight") == 0
    assert after.value("hookd_writer_queue_depth") == 0
    # each request above used its own connection, plus the second scrape's
    if "hookd_connections_total" in after.families:
        assert after.value("hookd_connections_total") - \
            before.value("hookd_connections_total") == len(statuses) + 1
    assert after.value("process_cpu_seconds_total") >= before.value("process_cpu_seconds_total")
    assert after.value("process_start_time_seconds") == before.value("process_start_time_seconds")


def test_keepalive_and_pipelined_requests_each_count(hookd_factory):
    d = hookd_factory()
    before = scrape(d)
    c = d.conn()
    c.send(b"".join(build_request("GET", "/health/live") for _ in range(4)) +
           build_request("GET", "/nowhere") + build_request("POST", "/stats", body=b"{}"))
    got = [c.read_response().status for _ in range(6)]
    assert got == [200, 200, 200, 200, 404, 405]
    assert c.request("GET", "/metrics").status == 200     # a scrape on the same connection
    c.close()
    after = scrape(d)
    assert delta(after.http(), before.http()) == {
        ("/health/live", "200"): 4, ("other", "404"): 1, ("/stats", "405"): 1,
        ("/metrics", "200"): 2}


def test_unknown_paths_collapse_into_one_label(hookd_factory):
    d = hookd_factory()
    before = scrape(d)
    rng = random.Random(5)
    alphabet = string.ascii_letters + string.digits + "-._~%"
    paths = set()
    while len(paths) < 50:
        segs = ["".join(rng.choice(alphabet[:-1]) for _ in range(rng.randint(1, 12)))
                for _ in range(rng.randint(1, 4))]
        paths.add("/" + "/".join(segs))
    paths = sorted(paths)
    for p in paths:
        assert d.request("GET", p).status == 404, p
    # near misses of real routes are unknown paths too
    near = ["/messages/", "/Messages", "/stats/x", "/webhook/", "//messages", "/health",
            "/metrics.txt"]
    near_status = [d.request("GET", p).status for p in near]
    assert near_status == [404] * len(near)
    after = scrape(d)
    http = after.http()
    assert {p for p, _ in http} <= set(ROUTES) | {"other"}, http
    assert delta(http, before.http()) == {("other", "404"): 50 + len(near),
                                          ("/metrics", "200"): 1}
    lat = latency_counts(after)
    assert set(lat) <= set(ROUTES) | {"other"}
    assert lat["other"] == 50 + len(near)
    # one `other` series per status, and no path leaked anywhere
    statuses = [s for p, s in http if p == "other"]
    assert len(statuses) == len(set(statuses)) == 1
    for p in paths:
        assert p not in after.text
    # a scanner cannot grow the exposition: the series set is unchanged
    for p in paths[:10]:
        d.request("POST", p + "/again", body=b"x")
    again = scrape(d)
    assert set(again.http()) == set(http)
    assert again.http()[("other", "404")] == 50 + len(near) + 10


# ---------------------------------------------------------------------------
# Operator metrics move sensibly
# ---------------------------------------------------------------------------

def test_connections_open_follows_clients(hookd_factory):
    d = hookd_factory()
    base = scrape(d)
    assert base.value("hookd_connections_open") == 1
    conns = [d.conn() for _ in range(5)]
    for c in conns:                      # make sure each one was accepted
        assert c.request("GET", "/health/live").status == 200
    s = scrape(d)
    assert s.value("hookd_connections_open") == 6
    assert s.value("process_open_fds") >= base.value("process_open_fds") + 5
    for c in conns:
        c.close()
    wait_until(lambda: scrape(d).value("hookd_connections_open") == 1, timeout=5,
               what="hookd_connections_open back to 1")
    assert scrape(d).value("process_open_fds") <= s.value("process_open_fds") - 5


def test_concurrent_scrapes_share_one_sampler_and_stay_complete(hookd_factory):
    # One sampling job at a time (the threadpool is sized for the store);
    # scrapes that arrive meanwhile get the last sample's figures at once.
    d = hookd_factory()
    first = scrape(d)
    assert first.value("process_resident_memory_bytes") > 0
    conns = [d.conn() for _ in range(16)]
    for c in conns:                                  # all in before any answer
        c.send(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    for c in conns:
        resp = c.read_response()
        assert resp.status == 200, resp
        text = resp.body.decode()
        check_exposition(text)
        for name in ("process_resident_memory_bytes", "process_open_fds", "hookd_db_size_bytes"):
            assert re.search(r"^%s \d" % name, text, re.M), name
        c.close()


def test_db_size_grows_with_writes(hookd_factory):
    d = hookd_factory()
    s1 = scrape(d)
    for i in range(40):
        assert d.post_webhook(message(text="x" * 4000)).status == 200
    s2 = scrape(d)
    if ENGINE == "sqlite":  # PostgreSQL keeps no file on this host (reported as 0)
        assert s2.value("hookd_db_size_bytes") >= s1.value("hookd_db_size_bytes") + 40 * 4000
    assert s2.value("hookd_commit_batch_size_sum") - s1.value("hookd_commit_batch_size_sum") == 40
    assert s2.value("hookd_commit_batch_size_count") - s1.value("hookd_commit_batch_size_count") \
        == 40                               # one at a time: one commit each
    assert bucket(s2, "hookd_commit_batch_size", 1.0) == 40
    assert s2.value("webhook_requests_total", result="created") == 40
    assert s2.value("hookd_requests_in_flight") == 0


def test_commit_batches_under_concurrency(hookd_factory):
    """Concurrent webhooks: every one is accounted for in the batch-size sum,
    and the batch count never exceeds it."""
    d = hookd_factory()
    s1 = scrape(d)
    conns = [d.conn() for _ in range(40)]
    msgs = [message() for _ in range(40)]
    for c, m in zip(conns, msgs):
        c.send(webhook_request(m))
    for c, m in zip(conns, msgs):
        assert c.read_response().status == 200
        c.close()
    for c, m in zip(conns[:10], msgs[:10]):      # duplicates reach the store too
        assert d.post_webhook(m).status == 200
    s2 = scrape(d)
    n = s2.value("hookd_commit_batch_size_count") - s1.value("hookd_commit_batch_size_count")
    total = s2.value("hookd_commit_batch_size_sum") - s1.value("hookd_commit_batch_size_sum")
    assert total == 50
    assert 11 <= n <= 50
    assert s2.value("webhook_requests_total", result="created") == 40
    assert s2.value("webhook_requests_total", result="duplicate") == 10
    assert s2.value("hookd_writer_queue_depth") == 0
    assert s2.value("hookd_requests_in_flight") == 0


def test_wrong_method_on_metrics(srv):
    resp = srv.request("POST", "/metrics", body=b"")
    assert resp.status == 405
    assert "GET" in resp.header("allow", "")
    s = scrape(srv)
    assert s.value("http_requests_total", path="/metrics", status="405") >= 1
