"""GET /messages?order=desc (issue 14): newest `ts` first, exactly the
reverse of the default chronological order (ts, then message_id), for every
filter combination and page; `asc` is the default and unchanged; any other
value is 422 with loc ["query", "order"].

The expected order comes from an independent Python model of `ts` (Decimal
seconds), not from hookd."""

import datetime
import decimal
import json
import random
import urllib.parse

import pytest

from hookd_harness import message, module_factory, new_id

__all__ = ["module_factory"]

SENDERS = ["+15550000001", "+15550000002", "+15550000003"]
WORDS = ["alpha", "beta", "gamma", "été", "ÉTÉ x", "ab"]


def ts_value(ts):
    """Seconds since the epoch as a Decimal (any fraction length)."""
    base, frac = ts[:-1], ""
    if "." in base:
        base, frac = base.split(".")
    dt = datetime.datetime.strptime(base, "%Y-%m-%dT%H:%M:%S").replace(
        tzinfo=datetime.timezone.utc)
    return decimal.Decimal(int(dt.timestamp())) + decimal.Decimal("0." + (frac or "0"))


@pytest.fixture(scope="module")
def corpus(module_factory):
    srv = module_factory()
    rnd = random.Random(14)
    msgs = []
    for i in range(90):
        sec = rnd.choice([0, 1, 2, 30, 59])
        frac = rnd.choice(["", ".5", ".50", ".05", ".123456789"])
        ts = "2025-01-%02dT10:00:%02d%sZ" % (rnd.choice([1, 2, 3]), sec, frac)
        m = message(message_id="%s-%03d" % (rnd.choice(["a", "b"]), i),
                    from_=rnd.choice(SENDERS), ts=ts, text=rnd.choice(WORDS + [None]))
        assert srv.post_webhook(m).status == 200
        msgs.append(m)
    return srv, msgs


def get(srv, **params):
    r = srv.request("GET", "/messages?" + urllib.parse.urlencode(params))
    return r


def model(msgs, desc=False, **f):
    rows = [m for m in msgs
            if ("from" not in f or m["from"] == f["from"])
            and ("since" not in f or ts_value(m["ts"]) >= ts_value(f["since"]))
            and ("q" not in f or (m["text"] is not None
                                  and f["q"].casefold() in m["text"].casefold()))]
    rows.sort(key=lambda m: (ts_value(m["ts"]), m["message_id"]), reverse=desc)
    return [m["message_id"] for m in rows]


FILTERS = [{}, {"from": SENDERS[0]}, {"since": "2025-01-02T10:00:01.5Z"},
           {"q": "été"}, {"q": "ab"}, {"from": SENDERS[1], "since": "2025-01-02T00:00:00Z"},
           {"q": "alpha", "from": SENDERS[2]}]


@pytest.mark.parametrize("filters", FILTERS, ids=lambda f: ",".join(f) or "none")
def test_desc_is_the_reverse_of_asc_on_every_page(corpus, filters):
    srv, msgs = corpus
    want = model(msgs, desc=True, **filters)
    assert want, "the corpus must exercise this filter"
    got, offset, total = [], 0, None
    while True:
        r = get(srv, order="desc", limit=7, offset=offset, **filters)
        assert r.status == 200, r
        body = r.json()
        total = body["total"]
        got += [d["message_id"] for d in body["data"]]
        if len(body["data"]) < 7:
            break
        offset += 7
    assert got == want
    assert total == len(want)
    asc = get(srv, limit=100, **filters).json()
    assert [d["message_id"] for d in asc["data"]] == list(reversed(want))
    assert asc["total"] == total


def test_asc_is_the_default_byte_for_byte(corpus):
    srv, _ = corpus
    a = get(srv, limit=20, offset=3)
    b = get(srv, limit=20, offset=3, order="asc")
    assert a.status == b.status == 200
    assert a.body == b.body


def test_desc_rows_carry_every_field(corpus):
    srv, msgs = corpus
    by_id = {m["message_id"]: m for m in msgs}
    body = get(srv, order="desc", limit=100).json()
    for d in body["data"]:
        m = by_id[d["message_id"]]
        assert d == {k: m[k] for k in ("message_id", "from", "to", "ts", "text")}


@pytest.mark.parametrize("value", ["", "DESC", "Asc", "descending", "1", "desc%20", "%00", "de%ZZ"])
def test_any_other_order_is_422(corpus, value):
    srv, _ = corpus
    r = srv.request("GET", "/messages?order=" + value)
    assert r.status == 422, (value, r)
    detail = json.loads(r.body)["detail"]
    assert [d["loc"] for d in detail] == [["query", "order"]]


def test_last_order_wins_and_errors_combine(corpus):
    srv, msgs = corpus
    r = srv.request("GET", "/messages?order=asc&order=desc&limit=3")
    assert r.status == 200
    assert [d["message_id"] for d in r.json()["data"]] == model(msgs, desc=True)[:3]
    r = srv.request("GET", "/messages?order=up&limit=0")
    assert r.status == 422
    assert sorted(d["loc"][1] for d in r.json()["detail"]) == ["limit", "order"]


def test_newest_ts_first_is_not_newest_arrival(module_factory):
    """order=desc sorts by the message's own ts: a message that arrives
    last with an old ts is at the end, not the top (the console's live
    arrivals list comes from /events instead)."""
    srv = module_factory()
    new = message(message_id=new_id("new"), ts="2030-01-01T00:00:00Z")
    old = message(message_id=new_id("old"), ts="2001-01-01T00:00:00Z")
    assert srv.post_webhook(new).status == 200
    assert srv.post_webhook(old).status == 200
    ids = [d["message_id"] for d in srv.request(
        "GET", "/messages?order=desc&limit=100").json()["data"]]
    assert ids[0] == new["message_id"] and ids[-1] == old["message_id"]
