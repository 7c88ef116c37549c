"""POST /webhook: signature, validation, storage, duplicates, concurrency."""

import datetime
import json
import os
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from hookd_harness import (ENGINE, ABSENT, HOOKD_BIN, pg_connect, ISO_UTC_RE, SECRET, encode, hookd_factory,
                           message, module_factory, new_id, sign, wait_until, webhook_request)

__all__ = ["hookd_factory", "module_factory"]  # fixtures used via pytest


@pytest.fixture(scope="module")
def srv(module_factory):
    """One daemon shared by the stateless tests of this module; every test
    uses its own message ids."""
    return module_factory()


def assert_ok(resp):
    assert resp.status == 200, resp
    assert resp.json() == {"status": "ok"}
    assert resp.header("content-type", "").startswith("application/json")


# ---------------------------------------------------------------------------
# Happy path and stored rows
# ---------------------------------------------------------------------------

def test_valid_message_is_stored_exactly_as_sent(srv):
    m = message(text="Hello, world")
    before = datetime.datetime.now(datetime.timezone.utc)
    resp = srv.post_webhook(m)
    after = datetime.datetime.now(datetime.timezone.utc)
    assert_ok(resp)
    # 200 only after COMMIT: the row is visible to another connection now.
    row = srv.row(m["message_id"])
    assert row is not None
    assert row["message_id"] == m["message_id"]
    assert row["from_msisdn"] == "+919876543210"
    assert row["to_msisdn"] == "+14155550100"
    assert row["ts"] == "2025-01-15T10:00:00Z"
    assert row["text"] == "Hello, world"
    assert ISO_UTC_RE.match(row["created_at"]), row["created_at"]
    created = datetime.datetime.fromisoformat(row["created_at"].replace("Z", "+00:00"))
    slack = datetime.timedelta(seconds=2)
    assert before - slack <= created <= after + slack, (before, created, after)


def test_ts_is_stored_verbatim_with_fraction(srv):
    m = message(ts="2025-01-15T10:00:00.120000Z")
    assert_ok(srv.post_webhook(m))
    assert srv.row(m["message_id"])["ts"] == "2025-01-15T10:00:00.120000Z"


@pytest.mark.parametrize("text", [ABSENT, None], ids=["absent", "null"])
def test_text_absent_or_null_is_stored_as_null(srv, text):
    m = message(text=text)
    assert_ok(srv.post_webhook(m))
    row = srv.row(m["message_id"])
    assert row is not None
    assert row["text"] is None


def test_empty_text_is_an_empty_string_not_null(srv):
    m = message(text="")
    assert_ok(srv.post_webhook(m))
    assert srv.row(m["message_id"])["text"] == ""


def test_unicode_round_trips_into_the_row(srv):
    text = "h\u00e9llo \u4e16\u754c \U0001F600 \"q\" \\ \n\t"
    m = message(message_id=new_id("\u00fcn\u00efc\u00f8de"), text=text)
    assert_ok(srv.post_webhook(m))
    row = srv.row(m["message_id"])
    assert row is not None and row["text"] == text


def test_escaped_json_strings_are_decoded_before_storing(srv):
    mid = new_id()
    body = ('{"message_id":"%s","from":"+1","to":"+2","ts":"2025-01-15T10:00:00Z",'
            '"text":"caf\\u00e9 \\ud83d\\ude00 \\"x\\" \\/"}' % mid).encode()
    assert_ok(srv.post_webhook(body))
    assert srv.row(mid)["text"] == "caf\u00e9 \U0001F600 \"x\" /"


def test_request_log_line_for_created(srv):
    m = message()
    resp = srv.post_webhook(m, headers={"X-Request-ID": "wh-created-1"})
    assert_ok(resp)
    rec = srv.wait_request_record(request_id="wh-created-1")
    assert rec["method"] == "POST" and rec["path"] == "/webhook" and rec["status"] == 200
    assert rec["message_id"] == m["message_id"]
    assert rec["dup"] is False
    assert rec["result"] == "created"


# ---------------------------------------------------------------------------
# Duplicates
# ---------------------------------------------------------------------------

def test_duplicate_is_200_and_changes_nothing(srv):
    m = message(text="first")
    assert_ok(srv.post_webhook(m, headers={"X-Request-ID": "dup-a"}))
    row1 = srv.row(m["message_id"])
    time.sleep(0.01)  # a rewrite would produce a different created_at
    m2 = dict(m, text="second", ts="2025-02-01T00:00:00Z", to="+15550000000")
    assert_ok(srv.post_webhook(m2, headers={"X-Request-ID": "dup-b"}))
    assert_ok(srv.post_webhook(m, headers={"X-Request-ID": "dup-c"}))
    assert srv.row(m["message_id"]) == row1
    assert row1["text"] == "first"
    rows = [r for r in srv.rows() if r["message_id"] == m["message_id"]]
    assert len(rows) == 1
    a = srv.wait_request_record(request_id="dup-a")
    b = srv.wait_request_record(request_id="dup-b")
    assert (a["dup"], a["result"]) == (False, "created")
    assert (b["dup"], b["result"]) == (True, "duplicate")
    assert b["message_id"] == m["message_id"]


def test_duplicate_on_the_same_keepalive_connection(srv):
    m = message()
    c = srv.conn()
    for i in range(3):
        c.send(webhook_request(m))
        assert_ok(c.read_response())
    c.close()
    assert len([r for r in srv.rows() if r["message_id"] == m["message_id"]]) == 1


def test_message_ids_are_case_and_byte_exact(srv):
    base = new_id("Case")
    ids = [base, base.lower(), base + " ", "\u00e9" + base, "e\u0301" + base]
    for mid in ids:
        assert_ok(srv.post_webhook(message(message_id=mid)))
    for mid in ids:
        assert srv.row(mid) is not None, mid


# ---------------------------------------------------------------------------
# Signatures
# ---------------------------------------------------------------------------

def _flip_last(h):
    return h[:-1] + ("0" if h[-1] != "0" else "1")


# name -> f(body) giving the X-Signature value (False: header absent)
BAD_SIGNATURES = {
    "missing": lambda b: False,
    "empty": lambda b: "",
    "wrong-secret": lambda b: sign(b, "another-secret"),
    "secret-prefix": lambda b: sign(b, SECRET[:-1]),
    "other-body": lambda b: sign(b + b" "),
    "empty-body-signature": lambda b: sign(b""),
    "truncated": lambda b: sign(b)[:-1],
    "truncated-half": lambda b: sign(b)[:32],
    "extended": lambda b: sign(b) + "0",
    "one-digit-off": lambda b: _flip_last(sign(b)),
    "non-hex": lambda b: "z" * 64,
    "space-inside": lambda b: sign(b)[:32] + " " + sign(b)[32:],
    "base64-digest": lambda b: __import__("base64").b64encode(
        bytes.fromhex(sign(b))).decode(),
    "very-long": lambda b: "a" * 5000,
}


@pytest.mark.parametrize("case", list(BAD_SIGNATURES))
def test_bad_signature_is_401_and_stores_nothing(srv, case):
    m = message()
    body = encode(m)
    rid = "sig-" + case
    resp = srv.post_webhook(body, signature=BAD_SIGNATURES[case](body),
                            headers={"X-Request-ID": rid})
    assert resp.status == 401, resp
    assert resp.json() == {"detail": "invalid signature"}
    assert srv.row(m["message_id"]) is None
    rec = srv.wait_request_record(request_id=rid)
    assert rec["status"] == 401 and rec["result"] == "invalid_signature"
    assert rec["level"] == "ERROR"
    assert rec["dup"] is False  # every POST /webhook line says dup and result


def test_uppercase_hex_signature_is_accepted(srv):
    m = message()
    body = encode(m)
    assert_ok(srv.post_webhook(body, signature=sign(body).upper()))
    assert srv.row(m["message_id"]) is not None


def test_mixed_case_hex_signature_is_accepted(srv):
    m = message()
    body = encode(m)
    s = sign(body)
    mixed = "".join(ch.upper() if i % 2 else ch for i, ch in enumerate(s))
    assert_ok(srv.post_webhook(body, signature=mixed))
    assert srv.row(m["message_id"]) is not None


def test_signature_is_over_raw_bytes_not_reserialized_json(srv):
    m = message()
    pretty = json.dumps(m, indent=2, ensure_ascii=True).encode()
    compact = encode(m)
    assert pretty != compact
    resp = srv.post_webhook(pretty, signature=sign(compact))
    assert resp.status == 401, resp
    assert_ok(srv.post_webhook(pretty, signature=sign(pretty)))


def test_signature_is_checked_before_validation(srv):
    # An invalid body with a wrong signature: 401, not 422.
    resp = srv.post_webhook(b"{not json", signature=sign(b"something else"))
    assert resp.status == 401, resp
    assert resp.json() == {"detail": "invalid signature"}
    resp = srv.post_webhook(b"{not json", signature=False)
    assert resp.status == 401, resp


def test_sign_cli_agrees_with_python(tmp_path):
    vectors = [
        (SECRET, b""),
        (SECRET, encode(message(message_id="vec-1"))),
        ("k", bytes(range(256)) * 4),
        ("s\u00e9cr\u00e8t-\U0001F511", "h\u00e9llo\n".encode()),
        ("Jefe", b"what do ya want for nothing?"),
    ]
    for secret, data in vectors:
        env = {"PATH": os.environ.get("PATH", ""), "WEBHOOK_SECRET": secret}
        out = subprocess.run([HOOKD_BIN, "--sign"], input=data, env=env, cwd=tmp_path,
                             capture_output=True, timeout=30)
        assert out.returncode == 0, out.stderr
        assert out.stdout.decode().strip() == sign(data, secret)
    # RFC 4231 test case 2.
    assert sign(b"what do ya want for nothing?", "Jefe") == (
        "5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843")


# ---------------------------------------------------------------------------
# Validation: 422 table
# ---------------------------------------------------------------------------

def _m(**kw):
    """Valid message with overrides, as bytes, with a case-unique id."""
    return encode(message(**kw))


# (body bytes, expected error locations or None for a body-level error)
INVALID = {
    # Not JSON / not an object.
    "empty-body": (b"", None),
    "not-json": (b"hello", None),
    "truncated-json": (_m()[:-1], None),
    "trailing-garbage": (_m() + b" x", None),
    "two-objects": (_m() + _m(), None),
    "top-level-array": (b"[" + _m() + b"]", None),
    "top-level-string": (b'"hello"', None),
    "top-level-number": (b"42", None),
    "top-level-null": (b"null", None),
    "top-level-true": (b"true", None),
    "single-quotes": (_m().replace(b'"', b"'"), None),
    "trailing-comma": (_m()[:-1] + b",}", None),
    "nul-byte-after-object": (_m() + b"\x00", None),
    # Missing fields.
    "empty-object": (b"{}", {"message_id", "from", "to", "ts"}),
    "missing-message_id": (_m(message_id=ABSENT), {"message_id"}),
    "missing-from": (_m(from_=ABSENT), {"from"}),
    "missing-to": (_m(to=ABSENT), {"to"}),
    "missing-ts": (_m(ts=ABSENT), {"ts"}),
    # Wrong types.
    "message_id-number": (_m(message_id=123), {"message_id"}),
    "message_id-null": (_m(message_id=None), {"message_id"}),
    "message_id-array": (_m(message_id=["a"]), {"message_id"}),
    "message_id-object": (_m(message_id={"a": 1}), {"message_id"}),
    "message_id-bool": (_m(message_id=True), {"message_id"}),
    "message_id-empty": (_m(message_id=""), {"message_id"}),
    "from-number": (_m(from_=919876543210), {"from"}),
    "from-null": (_m(from_=None), {"from"}),
    "to-array": (_m(to=["+1"]), {"to"}),
    "ts-number": (_m(ts=1736935200), {"ts"}),
    "ts-null": (_m(ts=None), {"ts"}),
    "text-number": (_m(text=5), {"text"}),
    "text-bool": (_m(text=False), {"text"}),
    "text-array": (_m(text=["hi"]), {"text"}),
    "text-object": (_m(text={"a": "b"}), {"text"}),
    # MSISDNs.
    "from-no-plus": (_m(from_="919876543210"), {"from"}),
    "from-plus-only": (_m(from_="+"), {"from"}),
    "from-empty": (_m(from_=""), {"from"}),
    "from-16-digits": (_m(from_="+1234567890123456"), {"from"}),
    "from-letters": (_m(from_="+91abc"), {"from"}),
    "from-space": (_m(from_="+91 9876543210"), {"from"}),
    "from-dash": (_m(from_="+1-415-555-0100"), {"from"}),
    "from-double-plus": (_m(from_="++14155550100"), {"from"}),
    "from-trailing-newline": (_m(from_="+14155550100\n"), {"from"}),
    "from-arabic-digits": (_m(from_="+\u0661\u0662\u0663"), {"from"}),
    "from-fullwidth-digits": (_m(from_="+\uff11\uff12\uff13"), {"from"}),
    "to-16-digits": (_m(to="+1234567890123456"), {"to"}),
    "to-no-plus": (_m(to="14155550100"), {"to"}),
    "from-and-to-bad": (_m(from_="x", to="y"), {"from", "to"}),
    # Timestamps.
    "ts-empty": (_m(ts=""), {"ts"}),
    "ts-no-z": (_m(ts="2025-01-15T10:00:00"), {"ts"}),
    "ts-lowercase-z": (_m(ts="2025-01-15T10:00:00z"), {"ts"}),
    "ts-lowercase-t": (_m(ts="2025-01-15t10:00:00Z"), {"ts"}),
    "ts-space-separator": (_m(ts="2025-01-15 10:00:00Z"), {"ts"}),
    "ts-offset": (_m(ts="2025-01-15T10:00:00+00:00"), {"ts"}),
    "ts-offset-and-z": (_m(ts="2025-01-15T10:00:00+00:00Z"), {"ts"}),
    "ts-date-only": (_m(ts="2025-01-15"), {"ts"}),
    "ts-no-seconds": (_m(ts="2025-01-15T10:00Z"), {"ts"}),
    "ts-feb-30": (_m(ts="2025-02-30T10:00:00Z"), {"ts"}),
    "ts-feb-29-non-leap": (_m(ts="2023-02-29T00:00:00Z"), {"ts"}),
    "ts-feb-29-1900": (_m(ts="1900-02-29T00:00:00Z"), {"ts"}),
    "ts-apr-31": (_m(ts="2025-04-31T00:00:00Z"), {"ts"}),
    "ts-month-13": (_m(ts="2025-13-01T00:00:00Z"), {"ts"}),
    "ts-month-00": (_m(ts="2025-00-10T00:00:00Z"), {"ts"}),
    "ts-day-00": (_m(ts="2025-01-00T00:00:00Z"), {"ts"}),
    "ts-hour-24": (_m(ts="2025-01-15T24:00:00Z"), {"ts"}),
    "ts-minute-60": (_m(ts="2025-01-15T10:60:00Z"), {"ts"}),
    "ts-second-61": (_m(ts="2025-01-15T10:00:61Z"), {"ts"}),
    "ts-short-fields": (_m(ts="2025-1-15T10:00:00Z"), {"ts"}),
    "ts-empty-fraction": (_m(ts="2025-01-15T10:00:00.Z"), {"ts"}),
    "ts-comma-fraction": (_m(ts="2025-01-15T10:00:00,5Z"), {"ts"}),
    "ts-letter-in-fraction": (_m(ts="2025-01-15T10:00:00.12a4Z"), {"ts"}),
    "ts-signed-year": (_m(ts="+2025-01-15T10:00:00Z"), {"ts"}),
    "ts-leading-space": (_m(ts=" 2025-01-15T10:00:00Z"), {"ts"}),
    "ts-trailing-space": (_m(ts="2025-01-15T10:00:00Z "), {"ts"}),
    "ts-garbage": (_m(ts="yesterday"), {"ts"}),
    # Text length in code points.
    "text-4097-ascii": (_m(text="a" * 4097), {"text"}),
    "text-4097-e-acute": (_m(text="\u00e9" * 4097), {"text"}),
    "text-4097-emoji": (_m(text="\U0001F600" * 4097), {"text"}),
    # Invalid Unicode / UTF-8.
    "utf8-ff-in-text": (_m(text="XX").replace(b"XX", b"\xff"), None),
    "utf8-lone-continuation": (_m(text="XX").replace(b"XX", b"a\x80b"), None),
    "utf8-overlong-slash": (_m(text="XX").replace(b"XX", b"\xc0\xaf"), None),
    "utf8-overlong-nul": (_m(text="XX").replace(b"XX", b"\xc0\x80"), None),
    "utf8-truncated-sequence": (_m(text="XX").replace(b"XX", b"\xe2\x82"), None),
    "utf8-encoded-surrogate": (_m(text="XX").replace(b"XX", b"\xed\xa0\x80"), None),
    "utf8-above-10ffff": (_m(text="XX").replace(b"XX", b"\xf4\x90\x80\x80"), None),
    "utf8-in-message_id": (_m(message_id="XX").replace(b"XX", b"id\xfe"), None),
    "utf8-in-from": (_m(from_="XX").replace(b"XX", b"+1\xff"), None),
    "utf8-in-unknown-field": (_m(extra="XX").replace(b"XX", b"\xff"), None),
    "utf8-in-unknown-key": (_m(XX="v").replace(b"XX", b"k\xff"), None),
    "escaped-lone-high-surrogate": (_m(text="XX").replace(b"XX", b"\\ud800"), None),
    "escaped-lone-low-surrogate": (_m(text="XX").replace(b"XX", b"\\udc00"), None),
    "latin1-body": (_m(text="\u00e9t\u00e9").decode().encode("latin-1"), None),
    # NUL characters smuggled via escapes into stored strings.
    "nul-escape-in-text": (_m(text="a\u0000b"), {"text"}),
    "escaped-lone-surrogate-in-message_id": (_m(message_id="XX").replace(b"XX", b"a\\udc00"),
                                             None),
    "nul-escape-in-message_id": (_m(message_id="a\u0000b"), {"message_id"}),
}


def _expected_id(body):
    try:
        d = json.loads(body.decode("utf-8"))
        return d.get("message_id") if isinstance(d, dict) else None
    except (ValueError, UnicodeDecodeError):
        return None


@pytest.mark.parametrize("case", list(INVALID))
def test_invalid_body_is_422_and_stores_nothing(srv, case):
    body, fields = INVALID[case]
    before = srv.count()
    rid = "v-" + case
    resp = srv.post_webhook(body, headers={"X-Request-ID": rid})
    assert resp.status == 422, (case, resp)
    detail = resp.json()["detail"]
    assert isinstance(detail, list) and detail, detail
    for e in detail:
        assert set(e) >= {"loc", "msg", "type"}, e
        assert isinstance(e["loc"], list) and e["loc"][0] == "body", e
        assert isinstance(e["msg"], str) and e["msg"], e
        assert isinstance(e["type"], str) and e["type"], e
    if fields is not None:
        locs = {tuple(e["loc"]) for e in detail}
        assert locs == {("body", f) for f in fields}, detail
    assert srv.count() == before
    mid = _expected_id(body)
    if isinstance(mid, str) and mid:
        # Compare raw bytes: a lone surrogate cannot be encoded as UTF-8.
        raw = mid.encode("utf-8", "surrogatepass")
        if ENGINE == "postgres":
            con = pg_connect(srv.pg_url)
            try:
                cur = con.cursor()
                cur.execute("SELECT count(*) FROM messages WHERE"
                            " convert_to(message_id, 'UTF8') = %s", (raw,))
                n = cur.fetchone()[0]
            finally:
                con.close()
        else:
            con = sqlite3.connect(f"file:{srv.db_path}?mode=ro", uri=True)
            try:
                n = con.execute("SELECT count(*) FROM messages WHERE CAST(message_id AS BLOB) = ?",
                                (raw,)).fetchone()[0]
            finally:
                con.close()
        assert n == 0
    rec = srv.wait_request_record(request_id=rid)
    assert rec["status"] == 422 and rec["result"] == "validation_error"
    assert rec["dup"] is False


VALID = {
    "from-1-digit": message(from_="+1"),
    "from-15-digits": message(from_="+123456789012345"),
    "to-15-digits": message(to="+999999999999999"),
    "ts-leap-day-2024": message(ts="2024-02-29T00:00:00Z"),
    "ts-leap-day-2000": message(ts="2000-02-29T12:00:00Z"),
    "ts-end-of-year": message(ts="2025-12-31T23:59:59Z"),
    "ts-fraction-1": message(ts="2025-01-15T10:00:00.5Z"),
    "ts-fraction-3": message(ts="2025-01-15T10:00:00.123Z"),
    "ts-fraction-6": message(ts="2025-01-15T10:00:00.123456Z"),
    "ts-fraction-9": message(ts="2025-01-15T10:00:00.123456789Z"),
    "text-4096-ascii": message(text="a" * 4096),
    "text-4096-e-acute": message(text="\u00e9" * 4096),       # 8192 bytes
    "text-4096-cjk": message(text="\u4e16" * 4096),           # 12288 bytes
    "text-4096-emoji": message(text="\U0001F600" * 4096),     # 16384 bytes
    "unknown-fields": message(extra="x", n=1, flag=True, nothing=None),
    "nested-unknown-fields": message(meta={"message_id": 5, "from": None, "text": [1, 2],
                                           "deep": {"ts": "bad", "list": [{"to": 1}]}}),
    "unknown-array-of-objects": message(items=[{"message_id": ""}, {"from": "x"}, []]),
    "whitespace-around": None,   # filled in below
    "fields-in-any-order": None,
}


@pytest.mark.parametrize("case", list(VALID))
def test_valid_variants_are_stored(srv, case):
    m = VALID[case]
    if case == "whitespace-around":
        m = message()
        body = b" \r\n\t" + json.dumps(m, indent=3).encode() + b"\n "
    elif case == "fields-in-any-order":
        m = message()
        body = encode(dict(reversed(list(m.items()))))
    else:
        m = dict(m, message_id=new_id(case))
        body = encode(m)
    resp = srv.post_webhook(body)
    assert_ok(resp)
    row = srv.row(m["message_id"])
    assert row is not None
    assert row["from_msisdn"] == m["from"] and row["to_msisdn"] == m["to"]
    assert row["ts"] == m["ts"]
    assert row["text"] == m.get("text")


def test_text_limit_counts_escaped_code_points(srv):
    # 4096 x "\u00e9" written as JSON escapes (6 bytes each): 4096 characters.
    mid = new_id()
    text = "\\u00e9" * 4096
    body = ('{"message_id":"%s","from":"+1","to":"+2","ts":"2025-01-15T10:00:00Z","text":"%s"}'
            % (mid, text)).encode()
    assert_ok(srv.post_webhook(body))
    assert srv.row(mid)["text"] == "\u00e9" * 4096
    # Surrogate pairs count as one character: 4096 emoji as escapes.
    mid2 = new_id()
    body2 = ('{"message_id":"%s","from":"+1","to":"+2","ts":"2025-01-15T10:00:00Z","text":"%s"}'
             % (mid2, "\\ud83d\\ude00" * 4096)).encode()
    assert_ok(srv.post_webhook(body2))
    assert srv.row(mid2)["text"] == "\U0001F600" * 4096
    mid3 = new_id()
    body3 = ('{"message_id":"%s","from":"+1","to":"+2","ts":"2025-01-15T10:00:00Z","text":"%s"}'
             % (mid3, "\\u00e9" * 4097)).encode()
    resp = srv.post_webhook(body3)
    assert resp.status == 422, resp
    assert srv.row(mid3) is None


def test_message_id_limit_is_256_bytes(srv):
    # Padded with "\u00e9" (2 bytes of UTF-8) to 256 bytes: the most a
    # message_id may hold.
    mid = new_id("long")
    mid += "\u00e9" * ((256 - len(mid)) // 2) + "x" * (len(mid) % 2)
    assert len(mid.encode()) == 256
    assert_ok(srv.post_webhook(message(message_id=mid)))
    assert srv.row(mid) is not None
    longer = "x" + mid
    resp = srv.post_webhook(message(message_id=longer))
    assert resp.status == 422, resp
    assert resp.json()["detail"] == [{"loc": ["body", "message_id"],
                                      "msg": "must be at most 256 bytes",
                                      "type": "string_too_long"}]
    assert srv.row(longer) is None


def test_validation_reports_every_bad_field_at_once(srv):
    body = encode({"message_id": "", "from": "1", "to": 2, "ts": "nope", "text": 7})
    resp = srv.post_webhook(body)
    assert resp.status == 422, resp
    locs = sorted(tuple(e["loc"]) for e in resp.json()["detail"])
    assert locs == sorted(("body", f) for f in ("message_id", "from", "to", "ts", "text"))


def test_validation_error_log_has_message_id(srv):
    mid = new_id("bad-ts")
    resp = srv.post_webhook(message(message_id=mid, ts="2025-02-30T00:00:00Z"),
                            headers={"X-Request-ID": "v-log-mid"})
    assert resp.status == 422
    rec = srv.wait_request_record(request_id="v-log-mid")
    assert rec["message_id"] == mid
    assert rec["result"] == "validation_error"


def test_nothing_stored_after_all_invalid_requests(hookd_factory):
    d = hookd_factory()
    for case, (body, _) in INVALID.items():
        resp = d.post_webhook(body)
        assert resp.status == 422, (case, resp)
    for case in ("missing", "wrong-secret"):
        body = encode(message())
        resp = d.post_webhook(body, signature=False if case == "missing" else sign(body, "x"))
        assert resp.status == 401
    assert d.count() == 0
    d.stop()
    assert d.count() == 0


# ---------------------------------------------------------------------------
# Concurrency
# ---------------------------------------------------------------------------

def _run_threads(n, fn):
    barrier = threading.Barrier(n)
    results = [None] * n
    errors = []

    def run(i):
        try:
            barrier.wait(10)
            results[i] = fn(i)
        except BaseException as e:  # noqa: B902 -- reported below
            errors.append(repr(e))

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors[:5]
    return results


def test_concurrent_duplicates_store_exactly_one_row(hookd_factory):
    d = hookd_factory()
    n = 50
    m = message(message_id=new_id("concurrent"))
    raw = webhook_request(m)
    conns = [d.conn(timeout=30) for _ in range(n)]

    def post(i):
        conns[i].send(raw)
        return conns[i].read_response(timeout=30)

    results = _run_threads(n, post)
    for r in results:
        assert_ok(r)
    rows = d.rows()
    assert [r["message_id"] for r in rows] == [m["message_id"]]
    wait_until(lambda: len(d.request_records(message_id=m["message_id"])) == n,
               what="all request log lines")
    created = d.request_records(message_id=m["message_id"], result="created")
    dups = d.request_records(message_id=m["message_id"], result="duplicate")
    assert len(created) == 1 and created[0]["dup"] is False
    assert len(dups) == n - 1 and all(r["dup"] is True for r in dups)


def test_concurrent_duplicate_groups_in_one_burst(hookd_factory):
    # 10 ids x 8 copies each, all at once: each id stored exactly once.
    d = hookd_factory()
    ids = [new_id("grp%d" % i) for i in range(10)]
    reqs = [webhook_request(message(message_id=ids[i % 10], text="copy %d" % i))
            for i in range(80)]
    conns = [d.conn(timeout=30) for _ in range(80)]

    def post(i):
        conns[i].send(reqs[i])
        return conns[i].read_response(timeout=30)

    for r in _run_threads(80, post):
        assert_ok(r)
    rows = d.rows()
    assert sorted(r["message_id"] for r in rows) == sorted(ids)


def test_many_distinct_messages_concurrently(hookd_factory):
    d = hookd_factory()
    nthreads, per = 16, 25
    ids = [[new_id("t%d" % t) for _ in range(per)] for t in range(nthreads)]

    def worker(t):
        c = d.conn(timeout=30)
        statuses = []
        for mid in ids[t]:
            c.send(webhook_request(message(message_id=mid, text="from %d" % t)))
            statuses.append(c.read_response(timeout=30).status)
        c.close()
        return statuses

    for statuses in _run_threads(nthreads, worker):
        assert statuses == [200] * per
    stored = {r["message_id"]: r for r in d.rows()}
    want = {mid for group in ids for mid in group}
    assert set(stored) == want
    for t, group in enumerate(ids):
        for mid in group:
            assert stored[mid]["text"] == "from %d" % t


# ---------------------------------------------------------------------------
# Secret configuration
# ---------------------------------------------------------------------------

def test_no_secret_configured_is_503_and_not_ready(hookd_factory):
    d = hookd_factory(secret=None)
    m = message()
    body = encode(m)
    for sig in (sign(body), sign(body, ""), False):
        resp = d.post_webhook(body, signature=sig)
        assert resp.status == 503, resp
        assert resp.json() == {"detail": "webhook secret not configured"}
    ready = d.request("GET", "/health/ready")
    assert ready.status == 503
    rj = ready.json()
    assert rj["status"] == "not ready" and isinstance(rj.get("detail"), str) and rj["detail"]
    live = d.request("GET", "/health/live")
    assert live.status == 200 and live.json() == {"status": "alive"}
    assert d.count() == 0
    # Start-up says so, at ERROR level.
    d.wait_record(lambda r: r.get("level") == "ERROR" and "WEBHOOK_SECRET" in json.dumps(r),
                  what="error line about the missing secret")
    rec = d.wait_request_record(path="/webhook")
    assert rec["status"] == 503 and rec["result"] == "not_configured"


def test_empty_secret_counts_as_not_configured(hookd_factory):
    d = hookd_factory(secret="")
    body = encode(message())
    resp = d.post_webhook(body, signature=sign(body, ""))
    assert resp.status == 503, resp
    assert d.request("GET", "/health/ready").status == 503


def test_ready_with_secret(srv):
    resp = srv.request("GET", "/health/ready")
    assert resp.status == 200, resp
    assert resp.json() == {"status": "ready"}


def test_webhook_secret_file(hookd_factory, tmp_path):
    path = tmp_path / "secret.txt"
    path.write_bytes(b"from-a-file")
    d = hookd_factory(secret=None, env={"WEBHOOK_SECRET_FILE": str(path)})
    m = message()
    body = encode(m)
    assert_ok(d.post_webhook(body, secret="from-a-file"))
    assert d.row(m["message_id"]) is not None
    m2 = message()
    resp = d.post_webhook(m2, secret=SECRET)
    assert resp.status == 401
    assert d.request("GET", "/health/ready").status == 200


def test_webhook_secret_file_trailing_newline_is_not_part_of_the_key(hookd_factory, tmp_path):
    path = tmp_path / "secret.txt"
    path.write_bytes(b"line-secret\n")
    d = hookd_factory(secret=None, env={"WEBHOOK_SECRET_FILE": str(path)})
    assert_ok(d.post_webhook(message(), secret="line-secret"))


def test_webhook_secret_file_reloaded_on_sighup(hookd_factory, tmp_path):
    path = tmp_path / "secret.txt"
    path.write_bytes(b"old-secret")
    d = hookd_factory(secret=None, env={"WEBHOOK_SECRET_FILE": str(path)})
    assert_ok(d.post_webhook(message(), secret="old-secret"))
    path.write_bytes(b"new-secret")
    d.send_signal(signal.SIGHUP)
    d.wait_record(lambda r: r.get("event") == "reload", what="reload log line")
    assert_ok(d.post_webhook(message(), secret="new-secret"))
    assert d.post_webhook(message(), secret="old-secret").status == 401


# ---------------------------------------------------------------------------
# Database trouble
# ---------------------------------------------------------------------------

def test_database_error_is_reported_not_200(hookd_factory):
    d = hookd_factory()
    assert_ok(d.post_webhook(message()))
    if ENGINE == "postgres":
        db = pg_connect(d.pg_url)
        db.cursor().execute("DROP TABLE messages CASCADE")
        db.close()
    else:
        db = sqlite3.connect(d.db_path, timeout=10)
        db.execute("DROP TABLE messages")
        db.commit()
        db.close()
    m = message()
    resp = d.post_webhook(m, headers={"X-Request-ID": "db-broken"})
    assert resp.status in (500, 503), resp
    assert isinstance(resp.json().get("detail"), str)
    rec = d.wait_request_record(request_id="db-broken")
    assert rec["result"] == "db_error"
    ready = d.request("GET", "/health/ready")
    assert ready.status == 503, ready
    assert ready.json()["status"] == "not ready"


def test_every_webhook_log_line_says_dup_and_result(srv, hookd_factory):
    """413 (answered from the headers, before any handler) and 503 (no
    secret) lines carry `dup` and `result` like 200/401/422 ones do."""
    rid = "too-large-1"
    c = srv.conn()
    c.send(("POST /webhook HTTP/1.1\r\nHost: x\r\nX-Request-ID: %s\r\n"
            "Content-Length: 99999999\r\n\r\n" % rid).encode())
    assert c.read_response(timeout=5).status == 413
    rec = srv.wait_request_record(request_id=rid)
    assert rec["result"] == "too_large" and rec["dup"] is False
    d = hookd_factory(secret=None)
    r = d.post_webhook(message(), headers={"X-Request-ID": "no-secret-1"})
    assert r.status == 503
    rec = d.wait_request_record(request_id="no-secret-1")
    assert rec["result"] == "not_configured" and rec["dup"] is False
