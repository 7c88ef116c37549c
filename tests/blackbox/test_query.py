"""GET /messages and GET /stats (issue 3): parameters, 422s, ordering,
filters, totals, pagination, Unicode search, escaping, empty database,
top senders, persistence.

Most tests read one shared corpus (a module-scoped daemon seeded once) and
compare every answer with an independent Python model of the contract;
tests that need an exact database of their own start their own daemon."""

import decimal
import json
import random
import urllib.parse

import pytest

from hookd_harness import (ABSENT, hookd_factory, message, module_factory, new_id)

__all__ = ["hookd_factory", "module_factory"]  # fixtures used via pytest

RESPONSE_KEYS = ["data", "total", "limit", "offset"]
ITEM_KEYS = ["message_id", "from", "to", "ts", "text"]
STATS_KEYS = ["total_messages", "senders_count", "messages_per_sender",
              "first_message_ts", "last_message_ts"]


# ---------------------------------------------------------------------------
# Helpers
# ---------------------------------------------------------------------------

def strict_json(resp):
    """The body as JSON: strict UTF-8, no raw control characters in strings,
    no lone surrogates, no duplicate keys; returns the object."""
    text = resp.body.decode("utf-8")            # raises on invalid UTF-8

    def no_dups(pairs):
        keys = [k for k, _ in pairs]
        assert len(keys) == len(set(keys)), "duplicate keys %r" % keys
        return dict(pairs)

    obj = json.loads(text, object_pairs_hook=no_dups)   # strict: no raw controls
    json.dumps(obj, ensure_ascii=False).encode("utf-8")  # raises on lone surrogates
    return obj


def enc(value):
    """Percent-encodes a query value completely (a '+' becomes %2B)."""
    return urllib.parse.quote(value, safe="")


def qs(**params):
    return "&".join("%s=%s" % (k, enc(str(v))) for k, v in params.items() if v is not None)


def get_ok(srv, path):
    resp = srv.request("GET", path)
    assert resp.status == 200, (path, resp)
    assert resp.header("content-type", "").startswith("application/json"), resp
    return strict_json(resp)


def get_messages(srv, query=""):
    body = get_ok(srv, "/messages" + ("?" + query if query else ""))
    assert list(body) == RESPONSE_KEYS, body.keys()
    for item in body["data"]:
        assert list(item) == ITEM_KEYS, item
    return body


def get_422(srv, query):
    resp = srv.request("GET", "/messages?" + query)
    assert resp.status == 422, (query, resp)
    assert resp.header("content-type", "").startswith("application/json"), resp
    body = strict_json(resp)
    assert list(body) == ["detail"], body
    assert isinstance(body["detail"], list) and body["detail"], body
    for d in body["detail"]:
        assert isinstance(d.get("loc"), list) and len(d["loc"]) == 2, d
        assert d["loc"][0] == "query", d
        assert isinstance(d.get("msg"), str) and d["msg"], d
        assert isinstance(d.get("type"), str) and d["type"], d
    return [tuple(d["loc"]) for d in body["detail"]]


def assert_alive(srv):
    assert srv.request("GET", "/health/live").status == 200


def ts_key(ts):
    """Chronological sort key of an accepted ts, computed independently:
    (the seconds part, which is fixed width, and the fraction as a Decimal)."""
    assert ts.endswith("Z") and len(ts) >= 20
    frac = ts[19:-1]
    return (ts[:19], decimal.Decimal(frac) if frac else decimal.Decimal(0))


def fold(s):
    """Simple Unicode case folding, per code point (one code point in, one
    out): full foldings such as ß -> ss are left alone."""
    out = []
    for ch in s:
        cf = ch.casefold()
        if len(cf) == 1:
            out.append(cf)
        else:
            lw = ch.lower()
            out.append(lw if len(lw) == 1 else ch)
    return "".join(out)


def item(m):
    return {"message_id": m["message_id"], "from": m["from"], "to": m["to"], "ts": m["ts"],
            "text": m.get("text")}


def model(rows, frm=None, since=None, q=None):
    """Expected full result list (ordered) for the filters."""
    out = []
    for m in rows:
        if frm is not None and m["from"] != frm:
            continue
        if since is not None and ts_key(m["ts"]) < ts_key(since):
            continue
        if q:
            t = m.get("text")
            if t is None or fold(q) not in fold(t):
                continue
        out.append(item(m))
    out.sort(key=lambda i: (ts_key(i["ts"]), i["message_id"].encode("utf-8")))
    return out


def post_all(srv, msgs):
    for m in msgs:
        resp = srv.post_webhook(m)
        assert resp.status == 200, (m, resp)


def stats_model(rows):
    counts = {}
    for m in rows:
        counts[m["from"]] = counts.get(m["from"], 0) + 1
    top = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))[:10]
    if rows:
        first = min(rows, key=lambda m: (ts_key(m["ts"]), m["message_id"]))["ts"]
        last = max(rows, key=lambda m: (ts_key(m["ts"]), m["message_id"]))["ts"]
    else:
        first = last = None
    return {"total_messages": len(rows), "senders_count": len(counts),
            "messages_per_sender": [{"from": f, "count": n} for f, n in top],
            "first_message_ts": first, "last_message_ts": last}


def get_stats(srv):
    body = get_ok(srv, "/stats")
    assert list(body) == STATS_KEYS, body
    for s in body["messages_per_sender"]:
        assert list(s) == ["from", "count"], s
    return body


# ---------------------------------------------------------------------------
# The shared corpus
# ---------------------------------------------------------------------------

S1 = "+919876543210"
S2 = "+14155550100"
S3, S4, S5 = "+447700900003", "+447700900001", "+447700900002"
S6, S7, S8, S9, S10, S11 = ("+33100000006", "+33100000001", "+33100000005",
                            "+33100000002", "+33100000004", "+33100000003")
S12, S13 = "+12", "+999999999999999"
NULL = object()   # explicit "text": null (None below means the field is absent)

CORPUS_SPEC = [
    # S1: fractional seconds (6 messages)
    ("a07", S1, "2025-01-15T10:00:01Z", "Hello World"),
    ("a03", S1, "2025-01-15T10:00:00.5Z", "hello again"),
    ("a01", S1, "2025-01-15T10:00:00.500Z", "HELLO THERE"),
    ("a05", S1, "2025-01-15T10:00:00.05Z", None),
    ("a09", S1, "2025-01-15T10:00:00Z", "100% sure"),
    ("a02", S1, "2025-01-15T10:00:00.050000000000000000000001Z", "a_b"),
    # S2: equal timestamps (5)
    ("b3", S2, "2025-01-15T09:00:00Z", "Earlier"),
    ("b1", S2, "2025-01-15T09:00:00Z", "aXb"),
    ("b2", S2, "2025-01-15T09:00:00Z", "back\\slash"),
    ("B9", S2, "2025-01-15T09:00:00Z", "backslash"),
    ("b0", S2, "2025-01-14T23:59:59.999Z", "100 percent"),
    # S3-S5: Unicode (3 each)
    ("u1", S3, "2024-02-29T12:00:00Z", "été"),
    ("u2", S3, "2024-12-31T23:59:59Z", "Un ÉTÉ indien"),
    ("u3", S3, "2025-03-01T00:00:00Z", "привет мир"),
    ("u4", S4, "2025-01-15T10:30:00Z", "ПРИВЕТ"),
    ("u5", S4, "2025-01-15T11:00:00Z", "οδος"),
    ("u6", S4, "2025-01-15T11:59:59.999999Z", "日本語のテキスト"),
    ("u7", S5, "2025-01-16T00:00:00Z", "مرحبا بالعالم"),
    ("u8", S5, "2025-06-30T08:30:00.25Z", 'She said "hi"'),
    ("u9", S5, "2025-01-15T10:00:00Z", "x AND y (a-b*c)"),
    # S6-S11: 2 each, the cut of the top 10 falls inside this tie
    ("c01", S6, "2025-01-15T12:00:00Z", "Standard"),
    ("c02", S6, "2025-01-15T12:00:00.1Z", NULL),
    ("c03", S7, "2025-01-15T13:00:00Z", "emoji \U0001F600 here"),
    ("c04", S7, "2025-01-15T13:00:00Z", "Ünïcödé"),
    ("c05", S8, "2025-01-15T14:15:16Z", "tab\tseparated"),
    ("c06", S8, "2025-01-15T10:59:59Z", "line1\nline2"),
    ("c07", S9, "2025-01-15T10:00:00.5Z", "50%_off"),
    ("c08", S9, "2025-01-15T09:59:59.9Z", "percent%"),
    ("c09", S10, "2025-01-15T10:00:00.05Z", "under_score"),
    ("c10", S10, "2025-01-15T15:00:00Z", "no wildcards here"),
    ("c11", S11, "2025-01-15T10:00:00.500000Z", "ab"),
    ("c12", S11, "2025-01-15T16:00:00Z", "b"),
    # two senders with one message each
    ("z1", S12, "2025-01-15T10:00:00Z", "Zed"),
    ("z2", S13, "2026-01-01T00:00:00Z", "last one"),
]


def build_corpus():
    msgs = []
    for mid, frm, ts, text in CORPUS_SPEC:
        if text is None:
            m = message(message_id=mid, from_=frm, ts=ts, text=ABSENT)
        elif text is NULL:
            m = message(message_id=mid, from_=frm, ts=ts, text=None)
        else:
            m = message(message_id=mid, from_=frm, ts=ts, text=text)
        msgs.append(m)
    return msgs


CORPUS = build_corpus()
SENDERS = [S1, S2, S3, S4, S5, S6, S7, S8, S9, S10, S11, S12, S13]


@pytest.fixture(scope="module")
def corpus(module_factory):
    """A daemon holding exactly CORPUS (inserted in a shuffled order, some
    twice); tests on it only read."""
    d = module_factory()
    order = list(CORPUS)
    random.Random(3).shuffle(order)
    post_all(d, order)
    post_all(d, order[:5])          # duplicates change nothing
    return d


@pytest.fixture(scope="module")
def scratch(module_factory):
    """A daemon for tests that write; each uses its own sender numbers and
    reads back with from=."""
    return module_factory()


_sender_seq = [0]


def fresh_sender():
    _sender_seq[0] += 1
    return "+4915%09d" % (random.randrange(10 ** 8) * 10 + _sender_seq[0] % 10)


# ---------------------------------------------------------------------------
# Defaults, shape, bounds
# ---------------------------------------------------------------------------

def test_defaults_return_everything_ordered_with_exact_shape(corpus):
    body = get_messages(corpus)
    assert body == {"data": model(CORPUS), "total": len(CORPUS), "limit": 50, "offset": 0}


def test_text_null_when_absent_or_null(corpus):
    data = get_messages(corpus)["data"]
    by_id = {i["message_id"]: i for i in data}
    assert by_id["a05"]["text"] is None          # field absent
    assert by_id["c02"]["text"] is None          # explicit null
    assert b'"text":null' in corpus.request("GET", "/messages?limit=100").body


def test_item_values_are_strings_and_ts_exactly_as_sent(corpus):
    data = get_messages(corpus, "limit=100")["data"]
    sent = {m["message_id"]: m["ts"] for m in CORPUS}
    assert len(data) == len(CORPUS)
    for i in data:
        assert i["ts"] == sent[i["message_id"]]
        for k in ("message_id", "from", "to", "ts"):
            assert isinstance(i[k], str)
        assert i["text"] is None or isinstance(i["text"], str)


@pytest.mark.parametrize("limit", [1, 2, 7, 33, 34, 35, 50, 99, 100])
def test_limit_in_range(corpus, limit):
    body = get_messages(corpus, "limit=%d" % limit)
    assert body == {"data": model(CORPUS)[:limit], "total": len(CORPUS), "limit": limit,
                    "offset": 0}


def test_limit_leading_zeros_is_an_integer(corpus):
    body = get_messages(corpus, "limit=007")
    assert body["limit"] == 7 and len(body["data"]) == 7


BAD_INTS = ["0", "101", "-1", "abc", "1.5", "", "1e2", "%205", "5%20", "+5", "0x10", "--1",
            "-0", "1000", "99999999999999999999999", "%EF%BC%95"]  # last: fullwidth 5


@pytest.mark.parametrize("value", BAD_INTS)
def test_limit_invalid_is_422(corpus, value):
    assert get_422(corpus, "limit=" + value) == [("query", "limit")]


@pytest.mark.parametrize("value", ["-1", "abc", "1.5", "", "1e1", "%20", "-", "+1", "0.0",
                                   "%EF%BC%90"])
def test_offset_invalid_is_422(corpus, value):
    assert get_422(corpus, "offset=" + value) == [("query", "offset")]


def test_offset_zero_and_echo(corpus):
    body = get_messages(corpus, "limit=3&offset=0")
    assert (body["limit"], body["offset"]) == (3, 0)
    body = get_messages(corpus, "offset=4&limit=5")
    assert body == {"data": model(CORPUS)[4:9], "total": len(CORPUS), "limit": 5, "offset": 4}


@pytest.mark.parametrize("offset", [34, 35, 1000, 10 ** 12])
def test_offset_beyond_total_is_empty_with_total(corpus, offset):
    body = get_messages(corpus, "offset=%d&limit=10" % offset)
    assert body == {"data": [], "total": len(CORPUS), "limit": 10, "offset": offset}


def test_offset_beyond_filtered_total(corpus):
    body = get_messages(corpus, "from=%2B919876543210&offset=6")
    assert body == {"data": [], "total": 6, "limit": 50, "offset": 6}


def test_several_bad_parameters_are_all_listed(corpus):
    locs = get_422(corpus, "limit=0&offset=x&from=abc&since=yesterday&q=%ZZ")
    assert sorted(locs) == sorted([("query", "limit"), ("query", "offset"), ("query", "from"),
                                   ("query", "since"), ("query", "q")])
    locs = get_422(corpus, "offset=-3&limit=500")
    assert sorted(locs) == [("query", "limit"), ("query", "offset")]


def test_good_parameters_do_not_hide_a_bad_one(corpus):
    assert get_422(corpus, "limit=5&offset=0&from=%2B12&q=b&since=2025-01-15T00:00:00") == [
        ("query", "since")]


BAD_ENCODINGS = ["%ZZ", "%", "%4", "abc%", "%G0", "%FF", "%00", "a%00b", "%C3%28", "%C3",
                 "%E2%82", "%ED%A0%80", "%C0%AF", "%F8%88%80%80%80", "%F4%90%80%80", "%80"]


@pytest.mark.parametrize("param", ["limit", "offset", "from", "since", "q"])
@pytest.mark.parametrize("value", BAD_ENCODINGS)
def test_bad_percent_encoding_is_422(corpus, param, value):
    assert get_422(corpus, "%s=%s" % (param, value)) == [("query", param)]


def test_bad_encoding_never_crashes(corpus):
    for value in BAD_ENCODINGS + ["%%", "%%%", "%2", "%%41", "%" * 200, "%FF" * 1000]:
        resp = corpus.request("GET", "/messages?q=" + value)
        assert resp.status == 422, (value, resp)
    assert_alive(corpus)


def test_unknown_parameters_are_ignored(corpus):
    body = get_messages(corpus, "foo=bar&page=3&sort=desc&limit_=0&flag&x=%41&limit=2")
    assert body == {"data": model(CORPUS)[:2], "total": len(CORPUS), "limit": 2, "offset": 0}
    body = get_messages(corpus, "utm_source=x&&&")
    assert body["total"] == len(CORPUS) and body["limit"] == 50


def test_repeated_parameter_takes_last_value(corpus):
    body = get_messages(corpus, "limit=5&limit=3")
    assert body["limit"] == 3 and len(body["data"]) == 3


def test_encoded_parameter_names_work(corpus):
    body = get_messages(corpus, "%6Cimit=4")  # %6C = 'l'
    assert body["limit"] == 4


# ---------------------------------------------------------------------------
# Ordering
# ---------------------------------------------------------------------------

def test_fractional_seconds_are_chronological(corpus):
    data = get_messages(corpus, "from=" + enc(S1))["data"]
    # 10:00:00 < .05 < .050...01 < .500 (a01) = .5 (a03) < 10:00:01
    assert [i["message_id"] for i in data] == ["a09", "a05", "a02", "a01", "a03", "a07"]
    assert [i["ts"] for i in data] == [
        "2025-01-15T10:00:00Z", "2025-01-15T10:00:00.05Z",
        "2025-01-15T10:00:00.050000000000000000000001Z", "2025-01-15T10:00:00.500Z",
        "2025-01-15T10:00:00.5Z", "2025-01-15T10:00:01Z"]


def test_equal_timestamps_ordered_by_message_id(corpus):
    data = get_messages(corpus, "from=" + enc(S2))["data"]
    assert [i["message_id"] for i in data] == ["b0", "B9", "b1", "b2", "b3"]


def test_same_instant_written_differently_ties_by_id(corpus):
    since = "2025-01-15T10:00:00.5Z"
    data = get_messages(corpus, "since=%s&limit=4" % since)["data"]
    # .500Z, .5Z, .5Z, .500000Z are one instant: message_id decides.
    assert [i["message_id"] for i in data] == ["a01", "a03", "c07", "c11"]


def test_global_order_across_days_and_years(corpus):
    ids = [i["message_id"] for i in get_messages(corpus, "limit=100")["data"]]
    assert ids[:4] == ["u1", "u2", "b0", "B9"]
    assert ids.index("u7") > ids.index("c12")
    assert ids[-3:] == ["u3", "u8", "z2"]
    assert ids.index("a09") < ids.index("u9") < ids.index("z1") < ids.index("a05")


# ---------------------------------------------------------------------------
# Filters, alone and combined, with total
# ---------------------------------------------------------------------------

SINCES = [
    "2000-01-01T00:00:00Z", "2024-02-29T12:00:00Z", "2025-01-14T23:59:59.999Z",
    "2025-01-14T23:59:59.9990000Z", "2025-01-15T00:00:00Z", "2025-01-15T09:00:00Z",
    "2025-01-15T09:59:59.95Z", "2025-01-15T10:00:00Z", "2025-01-15T10:00:00.000Z",
    "2025-01-15T10:00:00.05Z", "2025-01-15T10:00:00.050000000000000000000001Z",
    "2025-01-15T10:00:00.06Z", "2025-01-15T10:00:00.5Z", "2025-01-15T10:00:00.50Z",
    "2025-01-15T10:00:00.500000000000000000000001Z", "2025-01-15T10:00:01Z",
    "2025-01-15T10:30:00Z", "2025-01-15T10:59:59.9999Z", "2025-01-15T11:00:00Z",
    "2025-01-15T11:59:59.9999991Z", "2025-01-15T12:00:00.05Z", "2025-01-16T00:00:00Z",
    "2025-06-30T08:30:00.250Z", "2026-01-01T00:00:00Z", "2026-01-01T00:00:00.000001Z",
    "9999-12-31T23:59:59Z",
]

NEEDLES = ["hello", "HELLO", "h", "He", "o", "%", "_", "\\", "0%", "%_", "a_b", "ab", "b",
           "ÉTÉ", "été", "É", "ПРИВЕТ", "привет", "ΟΔΟΣ", "Σ", "日本", "日本語", "\U0001F600",
           '"hi"', '"', "b*c", "AND", "(a-b", "1\nl", "\t", " ", "ünïcÖdé", "nothing-matches",
           "zz", "x", "Earlier", "o w"]


@pytest.mark.parametrize("frm", SENDERS + ["+10000000000"])
def test_from_alone(corpus, frm):
    body = get_messages(corpus, "from=" + enc(frm))
    exp = model(CORPUS, frm=frm)
    assert body == {"data": exp, "total": len(exp), "limit": 50, "offset": 0}


@pytest.mark.parametrize("since", SINCES)
def test_since_alone(corpus, since):
    body = get_messages(corpus, "since=" + enc(since) + "&limit=100")
    exp = model(CORPUS, since=since)
    assert body == {"data": exp, "total": len(exp), "limit": 100, "offset": 0}


@pytest.mark.parametrize("since", SINCES)
def test_since_total_ignores_limit(corpus, since):
    body = get_messages(corpus, "limit=2&offset=1&since=" + enc(since))
    exp = model(CORPUS, since=since)
    assert body == {"data": exp[1:3], "total": len(exp), "limit": 2, "offset": 1}


@pytest.mark.parametrize("needle", NEEDLES)
def test_q_alone(corpus, needle):
    body = get_messages(corpus, "limit=100&q=" + enc(needle))
    exp = model(CORPUS, q=needle)
    assert body == {"data": exp, "total": len(exp), "limit": 100, "offset": 0}


def test_since_equal_to_a_ts_includes_it(corpus):
    for m in CORPUS:
        ids = [i["message_id"] for i in
               get_messages(corpus, "limit=100&since=" + enc(m["ts"]))["data"]]
        assert m["message_id"] in ids, m
        assert ids == [i["message_id"] for i in model(CORPUS, since=m["ts"])]


def test_fractional_since(corpus):
    body = get_messages(corpus, "from=%s&since=2025-01-15T10:00:00.06Z" % enc(S1))
    assert [i["message_id"] for i in body["data"]] == ["a01", "a03", "a07"]
    assert body["total"] == 3
    body = get_messages(corpus, "from=%s&since=2025-01-15T10:00:00.0500Z" % enc(S1))
    assert [i["message_id"] for i in body["data"]] == ["a05", "a02", "a01", "a03", "a07"]


COMBOS = []
for _frm in (S1, S2, S4, S5, S9, S11, "+10000000000"):
    for _since in ("2000-01-01T00:00:00Z", "2025-01-15T09:00:00Z", "2025-01-15T10:00:00.05Z",
                   "2025-01-15T10:00:00.5Z", "2025-01-15T11:00:00Z"):
        COMBOS.append((_frm, _since, None))
for _frm in (S1, S2, S3, S4, S5, S9, S10):
    for _q in ("hello", "h", "%", "_", "\\", "ПРИВЕТ", "ÉTÉ", "e", "nothing-matches"):
        COMBOS.append((_frm, None, _q))
for _since in ("2024-12-31T23:59:59Z", "2025-01-15T10:00:00Z", "2025-01-15T10:00:00.500Z",
               "2025-01-15T12:00:00Z"):
    for _q in ("hello", "h", "%", "_", "ПРИВЕТ", "été", "e", "b", "nothing-matches"):
        COMBOS.append((None, _since, _q))
for _frm in (S1, S2, S3, S9):
    for _since in ("2025-01-15T09:00:00Z", "2025-01-15T10:00:00.05Z"):
        for _q in ("hello", "e", "%", "a", "PRIVET", "ÉTÉ"):
            COMBOS.append((_frm, _since, _q))


@pytest.mark.parametrize("frm,since,q", COMBOS)
def test_filters_combined(corpus, frm, since, q):
    exp = model(CORPUS, frm=frm, since=since, q=q)
    params = qs(**{"from": frm, "since": since, "q": q})
    body = get_messages(corpus, params + "&limit=100")
    assert body == {"data": exp, "total": len(exp), "limit": 100, "offset": 0}
    # total ignores limit/offset
    body = get_messages(corpus, params + "&limit=1&offset=1")
    assert body == {"data": exp[1:2], "total": len(exp), "limit": 1, "offset": 1}


def test_from_raw_plus_equals_encoded_plus(corpus):
    raw = get_messages(corpus, "from=+919876543210")
    encoded = get_messages(corpus, "from=%2B919876543210")
    assert raw == encoded
    assert raw["total"] == 6 and len(raw["data"]) == 6
    assert all(i["from"] == S1 for i in raw["data"])
    # and combined with other parameters, in any position
    both = get_messages(corpus, "limit=2&from=+919876543210&offset=1")
    assert both["data"] == raw["data"][1:3] and both["total"] == 6


@pytest.mark.parametrize("value", ["919876543210", "%2B", "+", "", "%2B1234567890123456",
                                   "%2B12a", "%2B12%20", "%20%2B12", "%2B%2B12", "12%2B",
                                   "%2B-12", "%2B%EF%BC%91"])
def test_from_invalid_is_422(corpus, value):
    assert get_422(corpus, "from=" + value) == [("query", "from")]


@pytest.mark.parametrize("value", [
    "2025-01-15", "2025-01-15T10:00:00", "2025-01-15T10:00:00%2B00:00",
    "2025-01-15T10:00:00+00:00", "2025-01-15T10:00Z", "2025-01-15%2010:00:00Z", "2025-01-15+10:00:00Z",
    "2025-01-15T10:00:00.Z", "2025-01-15T10:00:00.5", "2025-13-01T00:00:00Z",
    "2025-02-29T00:00:00Z", "2025-04-31T00:00:00Z", "2025-01-15T24:00:00Z",
    "2025-01-15T10:60:00Z", "2025-01-15T10:00:60Z",
    "2025-1-15T10:00:00Z", "2025-01-15T10:00:00.1234567890123456789012345Z",
    "yesterday", "1736935200", "2025-01-15T10:00:00ZZ", "%202025-01-15T10:00:00Z",
    "2025-01-15T10:00:00.%2B5Z", "2025-01-15T10:00:00.-5Z", "x" * 300])
def test_since_invalid_is_422(corpus, value):
    assert get_422(corpus, "since=" + value) == [("query", "since")]


def test_since_24_digit_fraction_accepted(corpus):
    body = get_messages(corpus, "since=2025-01-15T10:00:00.123456789012345678901234Z&limit=100")
    assert body["data"] == model(CORPUS, since="2025-01-15T10:00:00.123456789012345678901234Z")


def test_since_encoded_colons(corpus):
    a = get_messages(corpus, "since=2025-01-15T11%3A00%3A00Z")
    b = get_messages(corpus, "since=2025-01-15T11:00:00Z")
    assert a == b and a["total"] == len(model(CORPUS, since="2025-01-15T11:00:00Z"))


# ---------------------------------------------------------------------------
# q: literal wildcards, Unicode case folding, lengths
# ---------------------------------------------------------------------------

def q_ids(srv, raw_q, extra="&limit=100"):
    body = get_messages(srv, "q=" + raw_q + extra)
    assert body["total"] == len(body["data"])
    return sorted(i["message_id"] for i in body["data"])


def test_q_percent_is_literal(corpus):
    assert q_ids(corpus, "%25") == ["a09", "c07", "c08"]     # 100% sure, 50%_off, percent%
    assert q_ids(corpus, "0%25") == ["a09", "c07"]          # not "100 percent"
    assert q_ids(corpus, "0%25%20s") == ["a09"]
    assert q_ids(corpus, "%25%25") == []


def test_q_underscore_is_literal(corpus):
    assert q_ids(corpus, "_") == ["a02", "c07", "c09"]      # a_b, 50%_off, under_score
    assert q_ids(corpus, "a_b") == ["a02"]                  # not aXb
    assert q_ids(corpus, "%25_") == ["c07"]
    assert q_ids(corpus, "___") == []


def test_q_backslash_is_literal(corpus):
    assert q_ids(corpus, "%5C") == ["b2"]                    # back\slash, not backslash
    assert q_ids(corpus, "k%5Cs") == ["b2"]
    assert q_ids(corpus, "%5C%5C") == []
    assert q_ids(corpus, "%5C%25") == []
    assert q_ids(corpus, "%5C_") == []


def test_q_fts_syntax_is_literal(corpus):
    assert q_ids(corpus, enc('"hi"')) == ["u8"]
    assert q_ids(corpus, enc('"')) == ["u8"]
    assert q_ids(corpus, enc("b*c")) == ["u9"]
    assert q_ids(corpus, enc("(a-b*c)")) == ["u9"]
    assert q_ids(corpus, enc("AND")) == ["c01", "u9"]        # Standard, x AND y
    assert q_ids(corpus, enc("b*")) == ["u9"]
    assert q_ids(corpus, enc("NEAR(a b)")) == []
    assert q_ids(corpus, enc("a OR b")) == []


def test_q_plus_is_space(corpus):
    assert q_ids(corpus, "100%25+sure") == ["a09"]
    assert q_ids(corpus, "o+w") == ["a07", "c10"]            # Hello World, no wildcards
    assert q_ids(corpus, "%2B") == []                        # a literal plus matches nothing


def test_q_case_insensitive_ascii(corpus):
    exp = ["a01", "a03", "a07"]
    for needle in ("hello", "HELLO", "HeLlO", "ello"):
        assert q_ids(corpus, enc(needle)) == exp, needle
    # HEllo x3, emoji ... HEre, no wildcards HEre, sHE said
    assert q_ids(corpus, "HE") == ["a01", "a03", "a07", "c03", "c10", "u8"]
    assert q_ids(corpus, "Z") == ["z1"]


def test_q_unicode_simple_case_folding(corpus):
    assert q_ids(corpus, enc("ÉTÉ")) == ["u1", "u2"]
    assert q_ids(corpus, enc("été")) == ["u1", "u2"]
    assert q_ids(corpus, enc("ÉT")) == ["u1", "u2"]
    assert q_ids(corpus, enc("É")) == ["c04", "u1", "u2"]     # Ünïcödé too
    assert q_ids(corpus, enc("ПРИВЕТ")) == ["u3", "u4"]
    assert q_ids(corpus, enc("привет")) == ["u3", "u4"]
    assert q_ids(corpus, enc("ПрИвЕт МиР")) == ["u3"]
    assert q_ids(corpus, enc("ПР")) == ["u3", "u4"]
    assert q_ids(corpus, enc("ΟΔΟΣ")) == ["u5"]             # final sigma folds to sigma
    assert q_ids(corpus, enc("ΟΣ")) == ["u5"]
    assert q_ids(corpus, enc("ÜNÏCÖDÉ")) == ["c04"]
    assert q_ids(corpus, enc("日本語")) == ["u6"]
    assert q_ids(corpus, enc("のテ")) == ["u6"]
    assert q_ids(corpus, enc("\U0001F600")) == ["c03"]
    assert q_ids(corpus, enc("Y \U0001F600")) == []
    assert q_ids(corpus, enc("ي ب")) == []
    assert q_ids(corpus, enc("با")) == ["u7"]
    assert q_ids(corpus, enc("بالعالم")) == ["u7"]


CASED_SCRIPTS = [
    # (stored text, needle): scripts whose simple case mappings are newer
    # than many case tables (Georgian Mtavruli, Cherokee small letters,
    # Adlam). Needles of 1-2 and of 3+ characters must agree.
    ("\U0001E900\U0001E901\U0001E902 adlam", "\U0001E900\U0001E901\U0001E902"),  # same case
    ("\U0001E900\U0001E901\U0001E902 adlam", "\U0001E922\U0001E923\U0001E924"),
    ("\U0001E900\U0001E901\U0001E902 adlam", "\U0001E922\U0001E923"),
    ("\u1c90\u1c91\u1c92\u1c93 mtavruli", "\u1c90\u1c91\u1c92"),                    # same case
    ("\u1c90\u1c91\u1c92\u1c93 mtavruli", "\u10d0\u10d1\u10d2"),
    ("\u1c90\u1c91\u1c92\u1c93 mtavruli", "\u10d0\u10d1"),
    ("\u10d0\u10d1\u10d2\u10d3 mkhedruli", "\u1c90\u1c91\u1c92"),
    ("\uab70\uab71\uab72\uab73 cherokee", "\uab70\uab71\uab72"),                    # same case
    ("\uab70\uab71\uab72\uab73 cherokee", "\u13a0\u13a1\u13a2"),
    ("\uab70\uab71\uab72\uab73 cherokee", "\u13a0\u13a1"),
    ("\u13a0\u13a1\u13a2\u13a3 cherokee", "\uab70\uab71\uab72"),
    ("\u01c4\u01c5\u01c6x", "\u01c6\u01c6\u01c6"),
    ("\u1e9e\u1e9e\u1e9e", "\u00df\u00df\u00df"),
    ("\u212a\u2126\u212b", "k\u03c9\u00e5"),
    ("\u017f\u017f\u017f", "SSS"),
]


@pytest.mark.parametrize("text,needle", CASED_SCRIPTS,
                         ids=["%d-%dch" % (i, len(n)) for i, (_, n) in enumerate(CASED_SCRIPTS)])
def test_q_simple_case_mappings_any_needle_length(scratch, text, needle):
    assert fold(needle) in fold(text)           # the model agrees it is a match
    frm = fresh_sender()
    post_all(scratch, [message(from_=frm, text=text)])
    body = get_messages(scratch, "from=%s&q=%s" % (enc(frm), enc(needle)))
    assert [i["text"] for i in body["data"]] == [text] and body["total"] == 1, (text, needle)


def test_q_no_match_is_empty(corpus):
    for needle in ("nothing-matches", "zzz", "q", "日本人", "ÉTÉS"):
        body = get_messages(corpus, "q=" + enc(needle))
        assert body == {"data": [], "total": 0, "limit": 50, "offset": 0}, needle


def test_q_empty_means_no_filter(corpus):
    body = get_messages(corpus, "q=&limit=100")
    assert body["total"] == len(CORPUS)


def test_q_control_characters(corpus):
    assert q_ids(corpus, "1%0Al") == ["c06"]
    assert q_ids(corpus, "%0A") == ["c06"]
    assert q_ids(corpus, "b%09s") == ["c05"]


def test_q_length_limit(corpus):
    body = get_messages(corpus, "q=" + "a" * 256)
    assert body["total"] == 0
    body = get_messages(corpus, "q=" + enc("é" * 256))
    assert body["total"] == 0
    assert get_422(corpus, "q=" + "a" * 257) == [("query", "q")]
    assert get_422(corpus, "q=" + enc("é" * 257)) == [("query", "q")]


# ---------------------------------------------------------------------------
# Pagination
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("limit", [1, 3, 7, 34, 100])
def test_pages_concatenate_to_full_list(corpus, limit):
    out, offset = [], 0
    while True:
        body = get_messages(corpus, "limit=%d&offset=%d" % (limit, offset))
        assert body["total"] == len(CORPUS)
        assert (body["limit"], body["offset"]) == (limit, offset)
        if not body["data"]:
            break
        assert len(body["data"]) == min(limit, len(CORPUS) - offset)
        out += body["data"]
        offset += limit
    assert out == model(CORPUS)


def test_filtered_pages_concatenate(corpus):
    exp = model(CORPUS, since="2025-01-15T09:00:00Z", q="e")
    out = []
    for offset in range(0, len(exp) + 2, 2):
        body = get_messages(corpus, "since=2025-01-15T09:00:00Z&q=e&limit=2&offset=%d" % offset)
        assert body["total"] == len(exp)
        out += body["data"]
    assert out == exp and len(exp) > 4


# ---------------------------------------------------------------------------
# /stats over the corpus
# ---------------------------------------------------------------------------

def test_stats_top_ten_with_ties(corpus):
    body = get_stats(corpus)
    assert body == stats_model(CORPUS)
    # spelled out: 13 senders, the tie at count 2 is cut by `from` ascending
    assert body["total_messages"] == 34 and body["senders_count"] == 13
    assert body["messages_per_sender"] == [
        {"from": S1, "count": 6}, {"from": S2, "count": 5},
        {"from": "+447700900001", "count": 3}, {"from": "+447700900002", "count": 3},
        {"from": "+447700900003", "count": 3},
        {"from": "+33100000001", "count": 2}, {"from": "+33100000002", "count": 2},
        {"from": "+33100000003", "count": 2}, {"from": "+33100000004", "count": 2},
        {"from": "+33100000005", "count": 2}]
    assert body["first_message_ts"] == "2024-02-29T12:00:00Z"
    assert body["last_message_ts"] == "2026-01-01T00:00:00Z"


# ---------------------------------------------------------------------------
# Writes then reads (own senders on a shared daemon)
# ---------------------------------------------------------------------------

AWKWARD = [
    'double "quotes" inside', "single 'quotes'", "back\\slash and \\\\ two", "trailing\\",
    "new\nline", "crlf\r\nline", "tab\there", "bell\u0007 bs\b ff\f vt\u000b",
    "ctl \u0001\u0002\u001f end", "del \u007f", "emoji \U0001F600\U0001F44D\U0001F3FD",
    "flag \U0001F1EE\U0001F1F3", "CJK 中文字符 日本語 한국어", "RTL עברית العربية \u202e reversed",
    "separators \u2028 \u2029", "nbsp\u00a0bom\ufeff", "nonchar \uffff \U0010FFFF",
    '{"json": [1, 2, "x"]}', "</script><script>alert(1)</script>", "\\u0041 not an escape",
    "combining e\u0301", "zero\u200bwidth", "", " ", "x" * 4096, "\U0001F600" * 4096,
]


def test_escaping_round_trip(scratch):
    frm = fresh_sender()
    msgs = [message(from_=frm, ts="2025-02-01T00:00:%02dZ" % i, text=t)
            for i, t in enumerate(AWKWARD)]
    post_all(scratch, msgs)
    got = []
    for offset in (0, 20):
        resp = scratch.request("GET", "/messages?from=%s&limit=20&offset=%d" % (enc(frm), offset))
        assert resp.status == 200
        # no raw control bytes anywhere in the JSON text
        assert not any(b < 0x20 for b in resp.body), resp.body[:200]
        got += strict_json(resp)["data"]
    assert [i["text"] for i in got] == AWKWARD
    assert got == [item(m) for m in msgs]


def test_escaped_input_round_trip(scratch):
    """Input written with JSON escapes (ensure_ascii) comes back as the same
    characters."""
    frm = fresh_sender()
    texts = ["\U0001F600 surrogate pair", "\u00e9\u4e2d", "q\"\\/\b\f\n\r\t"]
    for i, t in enumerate(texts):
        m = message(from_=frm, ts="2025-02-01T00:00:%02dZ" % i, text=t)
        body = json.dumps(m, ensure_ascii=True).encode("ascii")
        assert scratch.post_webhook(body).status == 200
    got = get_messages(scratch, "from=" + enc(frm))["data"]
    assert [i["text"] for i in got] == texts


def test_awkward_message_ids_round_trip(scratch):
    frm = fresh_sender()
    ids = ['id "q"', "id\\b", "id\n", "id-\U0001F600", "ид", "id\u0001"]
    msgs = [message(message_id=mid, from_=frm, ts="2025-03-01T00:00:00Z") for mid in ids]
    post_all(scratch, msgs)
    got = get_messages(scratch, "from=" + enc(frm))["data"]
    assert [i["message_id"] for i in got] == sorted(ids, key=lambda s: s.encode("utf-8"))


def test_fraction_ordering_written_fresh(scratch):
    frm = fresh_sender()
    spec = [("m4", "2025-01-15T10:00:01Z"), ("m3", "2025-01-15T10:00:00.5Z"),
            ("m2", "2025-01-15T10:00:00.05Z"), ("m1", "2025-01-15T10:00:00Z"),
            ("m0", "2025-01-15T10:00:00.500Z"), ("m5", "2025-01-15T10:00:00.49999999Z"),
            ("m6", "2025-01-15T09:59:59.999999999Z")]
    post_all(scratch, [message(message_id=frm + mid, from_=frm, ts=ts) for mid, ts in spec])
    got = get_messages(scratch, "from=" + enc(frm))["data"]
    assert [i["message_id"][len(frm):] for i in got] == ["m6", "m1", "m2", "m5", "m0", "m3",
                                                           "m4"]
    assert {i["message_id"][len(frm):]: i["ts"] for i in got} == dict(spec)


def test_q_finds_new_message_immediately(scratch):
    frm = fresh_sender()
    word = "Zebrafish" + new_id("")[1:9]
    post_all(scratch, [message(from_=frm, text="a %s b" % word)])
    for needle in (word.upper(), word.lower()[:3], word[-2:]):
        body = get_messages(scratch, "from=%s&q=%s" % (enc(frm), enc(needle)))
        assert body["total"] == 1, needle


# ---------------------------------------------------------------------------
# Own databases: empty, stats after writes, duplicates, restart
# ---------------------------------------------------------------------------

EMPTY_STATS = {"total_messages": 0, "senders_count": 0, "messages_per_sender": [],
               "first_message_ts": None, "last_message_ts": None}


def test_empty_database(hookd_factory):
    d = hookd_factory()
    assert get_messages(d) == {"data": [], "total": 0, "limit": 50, "offset": 0}
    for query in ("from=%2B12", "since=2025-01-01T00:00:00Z", "q=abc", "q=a",
                  "from=%2B12&since=2025-01-01T00:00:00Z&q=abc&limit=3&offset=9"):
        body = get_messages(d, query)
        assert body["data"] == [] and body["total"] == 0, query
    assert get_stats(d) == EMPTY_STATS
    assert b'"first_message_ts":null' in d.request("GET", "/stats").body


def test_stats_follow_writes_and_ignore_duplicates(hookd_factory):
    d = hookd_factory()
    rows = []
    rng = random.Random(11)
    senders = ["+4477009%05d" % i for i in range(15)]
    for i in range(60):
        frac = rng.choice(["", ".5", ".05", ".500", ".123456"])
        who = senders[i] if i < 15 else senders[min(int(rng.expovariate(0.25)), 14)]
        m = message(from_=who,
                    ts="2025-01-%02dT%02d:%02d:00%sZ" % (rng.randint(10, 20), rng.randint(0, 23),
                                                        rng.randint(0, 59), frac))
        rows.append(m)
    post_all(d, rows[:30])
    assert get_stats(d) == stats_model(rows[:30])
    # duplicates (same id, even with different content) change nothing
    dups = [dict(m, text="changed", ts="2030-01-01T00:00:00Z", **{"from": "+1999"})
            for m in rows[:30:3]]
    post_all(d, dups + rows[:10])
    assert get_stats(d) == stats_model(rows[:30])
    assert get_messages(d, "limit=100")["data"] == model(rows[:30])
    post_all(d, rows[30:])
    stats = get_stats(d)
    assert stats == stats_model(rows)
    assert stats["senders_count"] > 10 and len(stats["messages_per_sender"]) == 10
    assert sum(s["count"] for s in stats["messages_per_sender"]) <= 60
    assert get_messages(d, "limit=100")["data"] == model(rows)


def test_stats_first_last_fractional(hookd_factory):
    d = hookd_factory()
    post_all(d, [message(message_id="x1", ts="2025-01-15T10:00:00.5Z"),
                 message(message_id="x2", ts="2025-01-15T10:00:00.05Z")])
    s = get_stats(d)
    assert (s["first_message_ts"], s["last_message_ts"]) == ("2025-01-15T10:00:00.05Z",
                                                             "2025-01-15T10:00:00.5Z")
    post_all(d, [message(message_id="x3", ts="2025-01-15T10:00:00Z"),
                 message(message_id="x4", ts="2025-01-15T10:00:00.9999Z"),
                 message(message_id="x5", ts="2025-01-15T10:00:00.10Z")])
    s = get_stats(d)
    assert (s["first_message_ts"], s["last_message_ts"]) == ("2025-01-15T10:00:00Z",
                                                             "2025-01-15T10:00:00.9999Z")
    post_all(d, [message(message_id="x6", ts="2025-01-15T09:59:59.99999999Z")])
    assert get_stats(d)["first_message_ts"] == "2025-01-15T09:59:59.99999999Z"
    assert get_stats(d)["total_messages"] == 6 and get_stats(d)["senders_count"] == 1


def test_reads_survive_restart(hookd_factory, tmp_path):
    cwd = str(tmp_path / "persist")
    d = hookd_factory(cwd=cwd)
    rows = [message(from_="+4477009%05d" % (i % 12), text="row %d ÉTÉ" % i,
                    ts="2025-01-15T10:%02d:00.%dZ" % (i, i % 7)) for i in range(24)]
    post_all(d, rows)
    stats = get_stats(d)
    page = get_messages(d, "limit=100")
    searched = get_messages(d, "q=%C3%A9t%C3%A9&since=2025-01-15T10:05:00Z&limit=7")
    assert stats == stats_model(rows) and page["data"] == model(rows)
    assert d.stop() == 0
    d2 = hookd_factory(cwd=cwd)
    assert get_stats(d2) == stats
    assert get_messages(d2, "limit=100") == page
    assert get_messages(d2, "q=%C3%A9t%C3%A9&since=2025-01-15T10:05:00Z&limit=7") == searched
    # and the aggregates keep counting after the restart
    more = [message(from_="+4477009%05d" % 99, ts="2025-01-16T00:00:00Z") for _ in range(3)]
    post_all(d2, more)
    assert get_stats(d2) == stats_model(rows + more)


def test_repeated_reads_see_every_acknowledged_webhook(hookd_factory):
    """Identical reads may be served from hookd's response cache; a webhook
    acknowledged with 200 must be visible to the very next identical read."""
    srv = hookd_factory()
    c = srv.conn()
    for i in range(25):
        before = c.request("GET", "/messages?limit=100").json()
        stats_before = c.request("GET", "/stats").json()
        assert before["total"] == i and stats_before["total_messages"] == i
        again = c.request("GET", "/messages?limit=100").json()
        assert again == before  # nothing changed, same answer (cached or not)
        mid = "cache-%02d" % i
        assert srv.post_webhook(message(message_id=mid, from_="+1555000%04d" % i)).status == 200
        after = c.request("GET", "/messages?limit=100").json()
        assert after["total"] == i + 1
        assert mid in [m["message_id"] for m in after["data"]]
        assert c.request("GET", "/stats").json()["senders_count"] == i + 1
        # A duplicate changes nothing, so the answer stays the same.
        assert srv.post_webhook(message(message_id=mid, from_="+1555000%04d" % i)).status == 200
        assert c.request("GET", "/messages?limit=100").json() == after
