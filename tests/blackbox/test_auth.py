"""Authentication (issue 13), from outside: signature schemes and several
secrets, the replay window, rotation on SIGHUP over a live connection,
bounded header parsing, read tokens, HS256 JWTs, the metrics token, the
central policy on every route, --sign and the README's curl examples.

Every signature and JWT here is computed with Python's hmac, hashlib and
base64, never by hookd.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import subprocess
import time

import pytest

from hookd_harness import (HOOKD_BIN, SECRET, build_request, encode, hookd_factory, message,
                           module_factory, sign)

__all__ = ["hookd_factory", "module_factory"]  # fixtures used via pytest

# The Standard Webhooks test vector (standard-webhooks/spec).
STD_SECRET = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
STD_ID = "msg_p5jXN8AQM9LWM0D4loKWxJek"
STD_TS = "1614265330"
STD_BODY = b'{"test": 2432232314}'
STD_SIG = "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="

READ_TOKEN = "reader-token-0123456789abcdef"
METRICS_TOKEN = "metrics-token-0123456789abcdef"
JWT_KEY = "jwt-signing-key-0123456789-0123456789"


def std_sign(secret, msg_id, ts, body):
    """Standard Webhooks v1 signature, per the spec."""
    key = base64.b64decode(secret[len("whsec_"):])
    content = ("%s.%s." % (msg_id, ts)).encode() + body
    return "v1," + base64.b64encode(hmac.new(key, content, hashlib.sha256).digest()).decode()


def std_headers(body, secret=STD_SECRET, msg_id=None, ts=None):
    msg_id = msg_id or "msg_%d" % time.monotonic_ns()
    ts = str(int(time.time()) if ts is None else ts)
    return {"webhook-id": msg_id, "webhook-timestamp": ts,
            "webhook-signature": std_sign(secret, msg_id, ts, body)}


def hub_headers(body, secret=SECRET):
    return {"X-Hub-Signature-256": "sha256=" + sign(body, secret)}


def post(d, body, headers, conn=None):
    hdrs = [("Content-Type", "application/json")] + list(headers.items() if isinstance(
        headers, dict) else headers)
    if conn is not None:
        return conn.request("POST", "/webhook", hdrs, body)
    return d.request("POST", "/webhook", headers=hdrs, body=body)


def b64url(data):
    if isinstance(data, (dict, list)):
        data = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def make_jwt(claims, key=JWT_KEY, header=None, digest=hashlib.sha256):
    head = header if header is not None else {"alg": "HS256", "typ": "JWT"}
    signing_input = b64url(head) + "." + b64url(claims)
    mac = hmac.new(key.encode(), signing_input.encode(), digest).digest()
    return signing_input + "." + b64url(mac)


def metrics_values(d, headers=None):
    """{(name, frozenset(labels)): value} from /metrics."""
    r = d.request("GET", "/metrics", headers=headers)
    assert r.status == 200, r
    out = {}
    for line in r.body.decode().splitlines():
        m = re.match(r'^([a-z_]+)(?:\{(.*)\})? (\S+)$', line)
        if m:
            labels = frozenset(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
            out[(m.group(1), labels)] = float(m.group(3))
    return out


def sig_failures(d, headers=None):
    return {dict(k[1])["reason"]: v for k, v in metrics_values(d, headers).items()
            if k[0] == "hookd_signature_failures_total"}


def token_failures(d, headers=None):
    return {(dict(k[1])["class"], dict(k[1])["reason"]): v
            for k, v in metrics_values(d, headers).items()
            if k[0] == "hookd_token_failures_total"}


def assert_401_signature(r):
    assert r.status == 401, r
    assert r.json() == {"detail": "invalid signature"}


# ---------------------------------------------------------------------------
# x-signature (the default) and several secrets
# ---------------------------------------------------------------------------

@pytest.fixture(scope="module")
def two_secrets(module_factory):
    return module_factory(secret="old-secret, new-secret")


def test_any_of_several_secrets_passes(two_secrets):
    for secret in ("old-secret", "new-secret"):
        m = message()
        body = encode(m)
        r = post(two_secrets, body, {"X-Signature": sign(body, secret)})
        assert r.status == 200, r
        assert two_secrets.row(m["message_id"]) is not None
    body = encode(message())
    for secret in ("old-secret, new-secret", "old-secret,new-secret", "other", " new-secret"):
        assert_401_signature(post(two_secrets, body, {"X-Signature": sign(body, secret)}))


def test_surrounding_whitespace_of_x_signature_is_ignored(two_secrets):
    m = message()
    body = encode(m)
    raw = build_request("POST", "/webhook", headers=[
        ("X-Signature", "\t " + sign(body, "new-secret") + " \t")], body=body)
    c = two_secrets.conn()
    c.send(raw)
    assert c.read_response().status == 200
    assert two_secrets.row(m["message_id"]) is not None


def test_two_x_signature_headers_are_401_even_if_both_are_right(two_secrets):
    m = message()
    body = encode(m)
    good = sign(body, "new-secret")
    before = sig_failures(two_secrets)
    for pair in ((good, good), (good, "0" * 64), ("0" * 64, good)):
        r = post(two_secrets, body, [("X-Signature", pair[0]), ("X-Signature", pair[1])])
        assert_401_signature(r)
    assert two_secrets.row(m["message_id"]) is None
    assert sig_failures(two_secrets)["duplicate_header"] == before["duplicate_header"] + 3


def test_default_schemes_ignore_hub_and_standard_headers(two_secrets):
    body = encode(message())
    assert_401_signature(post(two_secrets, body, hub_headers(body, "new-secret")))


# ---------------------------------------------------------------------------
# hub
# ---------------------------------------------------------------------------

def test_hub_scheme(hookd_factory):
    d = hookd_factory(env={"SIGNATURE_SCHEMES": "hub"}, secret="gh-secret")
    m = message()
    body = encode(m)
    r = post(d, body, hub_headers(body, "gh-secret"))
    assert r.status == 200, r
    assert d.row(m["message_id"]) is not None
    body = encode(message())
    # x-signature is not enabled; hub needs its "sha256=" prefix.
    assert_401_signature(post(d, body, {"X-Signature": sign(body, "gh-secret")}))
    assert_401_signature(post(d, body, {"X-Hub-Signature-256": sign(body, "gh-secret")}))
    assert_401_signature(post(d, body, {"X-Hub-Signature-256": "sha1=" + sign(body, "gh-secret")}))
    assert_401_signature(post(d, body, hub_headers(body, "other")))


# ---------------------------------------------------------------------------
# Standard Webhooks
# ---------------------------------------------------------------------------

def test_standard_vector_is_what_python_computes():
    assert std_sign(STD_SECRET, STD_ID, STD_TS, STD_BODY) == STD_SIG


@pytest.fixture(scope="module")
def all_schemes(module_factory):
    second = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    return module_factory(secret="plain-secret,%s,%s" % (STD_SECRET, second),
                          env={"SIGNATURE_SCHEMES": "x-signature,hub,standard"})


def test_standard_scheme_with_every_secret(all_schemes):
    d = all_schemes
    second = "whsec_" + base64.b64encode(bytes(range(32))).decode()
    for secret in (STD_SECRET, second):
        m = message()
        body = encode(m)
        r = post(d, body, std_headers(body, secret))
        assert r.status == 200, r
        assert d.row(m["message_id"]) is not None
    # Any enabled scheme will do.
    for hdrs in (lambda b: {"X-Signature": sign(b, "plain-secret")},
                 lambda b: hub_headers(b, "plain-secret")):
        m = message()
        body = encode(m)
        assert post(d, body, hdrs(body)).status == 200


def test_standard_signature_list_any_entry(all_schemes):
    m = message()
    body = encode(m)
    h = std_headers(body)
    wrong = "v1," + base64.b64encode(b"\0" * 32).decode()
    h["webhook-signature"] = "v1a,c2tpcHBlZA== %s  %s" % (wrong, h["webhook-signature"])
    assert post(all_schemes, body, h).status == 200


def test_standard_failures_are_the_same_401(all_schemes):
    d = all_schemes
    body = encode(message())
    good = std_headers(body)
    cases = {
        "wrong secret": std_headers(body, "whsec_" + base64.b64encode(b"x" * 32).decode()),
        "other body": std_headers(body + b" "),
        "id changed": dict(good, **{"webhook-id": good["webhook-id"] + "x"}),
        "timestamp changed": dict(good, **{"webhook-timestamp": str(int(good["webhook-timestamp"]) + 1)}),
        "no id": {k: v for k, v in good.items() if k != "webhook-id"},
        "no timestamp": {k: v for k, v in good.items() if k != "webhook-timestamp"},
        "non-numeric timestamp": dict(good, **{"webhook-timestamp": "soon"}),
        "negative timestamp": dict(good, **{"webhook-timestamp": "-5"}),
        "bad base64": dict(good, **{"webhook-signature": "v1,@@@@"}),
        "hex instead of base64": dict(good, **{"webhook-signature": "v1," + "ab" * 32}),
        "no version": dict(good, **{"webhook-signature": good["webhook-signature"][3:]}),
        "only v1a": dict(good, **{"webhook-signature": "v1a," + good["webhook-signature"][3:]}),
        "empty": dict(good, **{"webhook-signature": ""}),
        "old (official vector)": {"webhook-id": STD_ID, "webhook-timestamp": STD_TS,
                                  "webhook-signature": STD_SIG},
    }
    for name, hdrs in cases.items():
        r = post(d, body, hdrs)
        assert r.status == 401, (name, r)
        assert r.json() == {"detail": "invalid signature"}, name


def _edge(d, offset):
    """Posts a correctly signed webhook stamped now+offset, early in a second
    so hookd sees the same second; returns the status, or None when the
    second changed during the request (inconclusive)."""
    while time.time() % 1 > 0.3:
        time.sleep(0.05)
    start = int(time.time())
    body = encode(message())
    r = post(d, body, std_headers(body, ts=start + offset))
    if int(time.time()) != start:
        return None
    return r.status


@pytest.mark.parametrize("offset,status", [(-300, 200), (300, 200), (-301, 401), (301, 401)])
def test_replay_window_edges(all_schemes, offset, status):
    for _ in range(5):
        got = _edge(all_schemes, offset)
        if got is not None:
            assert got == status, offset
            return
    pytest.fail("could not send a request within one second five times")


def test_replay_window_is_configurable(hookd_factory):
    d = hookd_factory(secret=STD_SECRET, env={"SIGNATURE_SCHEMES": "standard",
                                              "SIGNATURE_TOLERANCE_S": "10"})
    for offset, status in ((-10, 200), (10, 200), (-11, 401), (11, 401), (-300, 401)):
        for _ in range(5):
            got = _edge(d, offset)
            if got is not None:
                assert got == status, offset
                break
        else:
            pytest.fail("inconclusive")
    reasons = sig_failures(d)
    assert reasons["too_old"] == 2 and reasons["too_new"] == 1, reasons


# ---------------------------------------------------------------------------
# Hostile headers: bounded, never a crash, never slow
# ---------------------------------------------------------------------------

def test_huge_signature_header_is_431_at_the_default_limit(all_schemes):
    body = encode(message())
    h = std_headers(body)
    h["webhook-signature"] = "v1," + "A" * (100 * 1024)
    r = post(all_schemes, body, h)
    assert r.status == 431, r


def test_hostile_signature_headers_with_a_large_header_limit(hookd_factory):
    d = hookd_factory(secret=STD_SECRET + ",plain-secret",
                      env={"SIGNATURE_SCHEMES": "standard,x-signature,hub",
                           "MAX_HEADER_BYTES": str(1 << 20)})
    body = encode(message())
    good = std_headers(body)
    wrong = "v1," + base64.b64encode(b"\1" * 32).decode()
    cases = [
        dict(good, **{"webhook-signature": "v1," + "A" * (100 * 1024)}),
        dict(good, **{"webhook-signature": " ".join([wrong] * 1000 + [good["webhook-signature"]])}),
        dict(good, **{"webhook-signature": " ".join([wrong] * 40 + ["v1,***"])}),
        dict(good, **{"webhook-timestamp": "9" * 5000}),
        dict(good, **{"webhook-timestamp": "99999999999999999999"}),
        dict(good, **{"webhook-id": "i" * 100000}),
        {"X-Signature": "a" * 100000},
        {"X-Hub-Signature-256": "sha256=" + "f" * 100000},
        [("webhook-signature", good["webhook-signature"])] + list(good.items()),
    ]
    before = sig_failures(d)
    for hdrs in cases:
        r = post(d, body, hdrs)
        assert r.status == 401, r
    after = sig_failures(d)
    assert after["duplicate_header"] - before["duplicate_header"] == 1
    assert after["malformed"] - before["malformed"] == len(cases) - 1
    # Still serving, and a correct request still passes.
    assert post(d, body, good).status == 200


def test_signature_failure_reasons_are_counted_with_a_fixed_label_set(hookd_factory):
    d = hookd_factory(secret="s-one,s-two")
    first = sig_failures(d)
    assert set(first) == {"missing", "mismatch", "too_old", "too_new", "malformed",
                          "duplicate_header"}
    assert all(v == 0 for v in first.values())
    body = encode(message())
    post(d, body, {})
    post(d, body, {"X-Signature": sign(body, "s-three")})
    post(d, body, {"X-Signature": "nothex"})
    post(d, body, {"X-Signature-Whatever-%d" % 1: "x"})  # unknown headers: still missing
    got = sig_failures(d)
    assert got["missing"] == 2 and got["mismatch"] == 1 and got["malformed"] == 1, got
    assert set(got) == set(first)
    wh = {dict(k[1])["result"]: v for k, v in metrics_values(d).items()
          if k[0] == "webhook_requests_total"}
    assert wh["invalid_signature"] == 4


# ---------------------------------------------------------------------------
# Rotation on SIGHUP, on a live connection
# ---------------------------------------------------------------------------

def test_secret_rotation_on_a_live_connection(hookd_factory, tmp_path):
    path = tmp_path / "secrets"
    path.write_text("old-secret\n")
    d = hookd_factory(secret=None, env={"WEBHOOK_SECRET_FILE": str(path)})
    c = d.conn()

    def status(secret):
        body = encode(message())
        return post(d, body, {"X-Signature": sign(body, secret)}, conn=c).status

    def reload(text, n):
        path.write_text(text)
        d.send_signal(signal.SIGHUP)
        d.wait_record(lambda r: r.get("event") == "reload" and n == sum(
            1 for x in d.records() if x.get("event") == "reload"), what="reload %d" % n)

    assert (status("old-secret"), status("new-secret")) == (200, 401)
    reload("old-secret\nnew-secret\n", 1)       # both active: senders switch
    assert (status("old-secret"), status("new-secret")) == (200, 200)
    reload("new-secret\n", 2)                   # old one retired
    assert (status("old-secret"), status("new-secret")) == (401, 200)
    # Unusable files (17 secrets; only blank lines): the old list stays.
    path.write_text("".join("s%d\n" % i for i in range(17)))
    d.send_signal(signal.SIGHUP)
    d.wait_record(lambda r: r.get("event") == "reload_failed" and "more than 16" in r.get("msg", ""))
    path.write_text("\n \n")
    d.send_signal(signal.SIGHUP)
    d.wait_record(lambda r: r.get("event") == "reload_failed" and "no secret" in r.get("msg", ""))
    assert (status("s1"), status("new-secret")) == (401, 200)
    assert d.request("GET", "/health/ready").status == 200


def _feed_fifo(path, text, timeout=5.0):
    """Writes text to the FIFO once a reader has it open; False when no
    reader comes within timeout."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:                     # ENXIO: nobody reads it yet
            time.sleep(0.01)
            continue
        try:
            os.write(fd, text.encode())
        finally:
            os.close(fd)
        return True
    return False


def test_sighup_during_a_reload_reloads_again(hookd_factory, tmp_path):
    # The secret file is a FIFO, so a reload waits on it for as long as the
    # test likes: the second SIGHUP surely arrives while the first reload
    # runs, and the files it sends after the first one read must be read.
    import threading
    path = str(tmp_path / "secrets.fifo")
    os.mkfifo(path)
    starter = threading.Thread(target=_feed_fifo, args=(path, "s-start\n", 30.0))
    starter.start()
    d = hookd_factory(secret=None, env={"WEBHOOK_SECRET_FILE": path})
    starter.join()

    def status(secret):
        body = encode(message())
        return post(d, body, {"X-Signature": sign(body, secret)}).status

    assert status("s-start") == 200
    d.send_signal(signal.SIGHUP)
    fd = None
    deadline = time.monotonic() + 5
    while fd is None and time.monotonic() < deadline:   # the first reload is reading
        try:
            fd = os.open(path, os.O_WRONLY | os.O_NONBLOCK)
        except OSError:
            time.sleep(0.01)
    assert fd is not None, "the first reload never opened the file"
    d.send_signal(signal.SIGHUP)                         # arrives while it runs
    time.sleep(0.3)                                      # let the loop take the signal
    os.write(fd, b"s-first\n")
    os.close(fd)
    d.wait_record(lambda r: r.get("event") == "reload", what="the first reload")
    assert _feed_fifo(path, "s-second\n"), "the SIGHUP during the reload was dropped"
    d.wait_record(lambda r: r.get("event") == "reload" and 2 == sum(
        1 for x in d.records() if x.get("event") == "reload"), what="two reloads")
    assert (status("s-first"), status("s-second")) == (401, 200)


def test_read_token_rotation_on_a_live_connection(hookd_factory, tmp_path):
    path = tmp_path / "tokens"
    a, b = "token-a-0123456789abcdef", "token-b-0123456789abcdef"
    path.write_text(a + "\n")
    d = hookd_factory(env={"READ_TOKENS_FILE": str(path)})
    c = d.conn()

    def status(tok):
        return c.request("GET", "/stats", {"Authorization": "Bearer " + tok}).status

    assert (status(a), status(b)) == (200, 401)
    path.write_text(b + "\n")
    d.send_signal(signal.SIGHUP)
    d.wait_record(lambda r: r.get("event") == "reload")
    assert (status(a), status(b)) == (401, 200)


# ---------------------------------------------------------------------------
# Readers: tokens, JWTs, the metrics token, the central policy
# ---------------------------------------------------------------------------

READ_ROUTES = ["/messages", "/stats", "/messages?limit=1"]
OPEN_ROUTES = ["/health/live", "/", "/health/ready"]


@pytest.fixture(scope="module")
def protected(module_factory):
    return module_factory(env={"READ_TOKENS": READ_TOKEN + ",second-token-0123456789",
                               "JWT_SECRET": JWT_KEY, "JWT_ISSUER": "idp",
                               "JWT_AUDIENCE": "hookd", "JWT_LEEWAY_S": "0",
                               "METRICS_TOKEN": METRICS_TOKEN})


def bearer(tok):
    return {"Authorization": "Bearer " + tok}


def assert_challenge(r, error):
    assert r.status == 401, r
    want = 'Bearer realm="hookd"' + (', error="invalid_token"' if error else "")
    assert r.header("WWW-Authenticate") == want, r
    assert isinstance(r.json()["detail"], str)


def test_reads_are_open_by_default(two_secrets):
    for path in READ_ROUTES + OPEN_ROUTES + ["/metrics"]:
        assert two_secrets.request("GET", path).status == 200, path


def test_every_protected_route_needs_its_token(protected):
    d = protected
    for path in READ_ROUTES:
        assert_challenge(d.request("GET", path), error=False)
        assert_challenge(d.request("GET", path, headers=bearer("wrong-token-0123456789")), True)
        assert_challenge(d.request("GET", path, headers=bearer(METRICS_TOKEN)), True)
        assert_challenge(d.request("GET", path, headers={"Authorization": "Basic dTpw"}), False)
        assert d.request("GET", path, headers=bearer(READ_TOKEN)).status == 200
        assert d.request("GET", path, headers=bearer("second-token-0123456789")).status == 200
        assert d.request("GET", path, headers={"Authorization": "bearer  " + READ_TOKEN}).status == 200
    assert_challenge(d.request("GET", "/metrics"), error=False)
    assert_challenge(d.request("GET", "/metrics", headers=bearer(READ_TOKEN)), True)
    assert d.request("GET", "/metrics", headers=bearer(METRICS_TOKEN)).status == 200
    for path in OPEN_ROUTES:
        assert d.request("GET", path).status == 200, path
    # 404 and 405 come before the policy; webhooks keep their signature.
    assert d.request("GET", "/nope").status == 404
    assert d.request("POST", "/stats", body=b"").status == 405
    body = encode(message())
    assert post(d, body, {"X-Signature": sign(body)}).status == 200


def test_two_authorization_headers_are_refused(protected):
    r = protected.request("GET", "/stats", headers=[("Authorization", "Bearer " + READ_TOKEN),
                                                    ("Authorization", "Bearer " + READ_TOKEN)])
    assert_challenge(r, True)


def now():
    return int(time.time())


def test_jwts(protected):
    d = protected
    good = {"exp": now() + 600, "iat": now() - 10, "iss": "idp", "aud": "hookd"}
    assert d.request("GET", "/stats", headers=bearer(make_jwt(good))).status == 200
    ok_list_aud = dict(good, aud=["other", "hookd"])
    assert d.request("GET", "/messages", headers=bearer(make_jwt(ok_list_aud))).status == 200
    tok = make_jwt(good)
    h, p, s = tok.split(".")
    tampered = ".".join([h, b64url(dict(good, exp=now() + 10 ** 6)), s])
    bad = {
        "wrong alg HS512": make_jwt(good, header={"alg": "HS512", "typ": "JWT"},
                                    digest=hashlib.sha512),
        "HS256 label, HS512 mac": make_jwt(good, digest=hashlib.sha512),
        "alg none": b64url({"alg": "none", "typ": "JWT"}) + "." + b64url(good) + ".",
        "alg None signed": make_jwt(good, header={"alg": "None"}),
        "expired": make_jwt(dict(good, exp=now() - 1)),
        "not yet valid": make_jwt(dict(good, nbf=now() + 600)),
        "issued in the future": make_jwt(dict(good, iat=now() + 600)),
        "wrong audience": make_jwt(dict(good, aud="someone-else")),
        "no audience": make_jwt({k: v for k, v in good.items() if k != "aud"}),
        "wrong issuer": make_jwt(dict(good, iss="evil")),
        "missing exp": make_jwt({k: v for k, v in good.items() if k != "exp"}),
        "exp as string": make_jwt(dict(good, exp=str(now() + 600))),
        "wrong key": make_jwt(good, key="another-key-0123456789-0123456789"),
        "tampered payload": tampered,
        "signature stripped": h + "." + p + ".",
        "four parts": tok + ".x",
        "not base64url": tok.replace(".", ".*", 1),
    }
    before = token_failures(d, headers=bearer(METRICS_TOKEN))
    for name, t in bad.items():
        r = d.request("GET", "/stats", headers=bearer(t))
        assert r.status == 401, (name, r)
        assert r.header("WWW-Authenticate") == 'Bearer realm="hookd", error="invalid_token"', name
    after = token_failures(d, headers=bearer(METRICS_TOKEN))
    delta = {k: after[k] - before.get(k, 0) for k in after if after[k] != before.get(k, 0)}
    # A 64-byte MAC, an empty one, four parts and bad base64 are malformed;
    # a wrong key or a changed payload is a mismatch.
    assert delta == {("read", "bad_alg"): 3, ("read", "mismatch"): 2, ("read", "expired"): 1,
                     ("read", "not_yet_valid"): 2, ("read", "claims"): 5,
                     ("read", "malformed"): 4}, delta


def test_token_failures_have_a_fixed_label_set(hookd_factory):
    d = hookd_factory()
    got = token_failures(d)
    reasons = {"missing", "malformed", "mismatch", "bad_alg", "expired", "not_yet_valid", "claims"}
    assert set(got) == {(c, r) for c in ("read", "metrics") for r in reasons}
    assert all(v == 0 for v in got.values())


def test_tokens_and_secrets_are_never_logged(protected):
    d = protected
    jwt = make_jwt({"exp": now() + 60, "iss": "idp", "aud": "hookd"})
    for tok in (READ_TOKEN, "wrong-token-0123456789", jwt):
        d.request("GET", "/stats", headers=bearer(tok))
    d.request("GET", "/metrics", headers=bearer(METRICS_TOKEN))
    d.wait_request_record(path="/metrics")
    out = d.stdout_text() + d.stderr_text()
    for secret in (READ_TOKEN, "wrong-token", jwt.split(".")[2], METRICS_TOKEN, SECRET, JWT_KEY):
        assert secret not in out


# ---------------------------------------------------------------------------
# Configuration errors
# ---------------------------------------------------------------------------

@pytest.mark.parametrize("env,var", [
    ({"SIGNATURE_SCHEMES": "github"}, "SIGNATURE_SCHEMES"),
    ({"SIGNATURE_SCHEMES": "standard"}, "WEBHOOK_SECRET"),        # no whsec_ secret
    ({"SIGNATURE_TOLERANCE_S": "-1"}, "SIGNATURE_TOLERANCE_S"),
    ({"READ_TOKENS": "short"}, "READ_TOKENS"),
    ({"JWT_SECRET": "short"}, "JWT_SECRET"),
    ({"JWT_AUDIENCE": "hookd"}, "JWT_AUDIENCE"),
])
def test_bad_auth_configuration_stops_start_up(tmp_path, env, var):
    full = {"PATH": os.environ.get("PATH", ""), "WEBHOOK_SECRET": "plain", "PORT": "0",
            "DATABASE_URL": "sqlite:///" + str(tmp_path / "x.db")}
    full.update(env)
    p = subprocess.run([HOOKD_BIN], env=full, capture_output=True, timeout=20)
    assert p.returncode == 2
    lines = p.stderr.decode().strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("hookd: " + var + ":"), lines
    assert "plain" not in lines[0]


# ---------------------------------------------------------------------------
# --sign and the README's curl examples
# ---------------------------------------------------------------------------

def run_sign(args, secret, data):
    env = {"PATH": os.environ.get("PATH", ""), "WEBHOOK_SECRET": secret}
    p = subprocess.run([HOOKD_BIN, "--sign", *args], input=data, env=env, capture_output=True,
                       timeout=30)
    assert p.returncode == 0, p.stderr
    return p.stdout.decode()


def test_sign_prints_the_headers_of_each_scheme():
    body = encode(message())
    assert run_sign([], "a,b", body).strip() == sign(body, "a")
    assert run_sign(["x-signature"], "k", body) == "X-Signature: %s\n" % sign(body, "k")
    assert run_sign(["hub"], "k", body) == "X-Hub-Signature-256: sha256=%s\n" % sign(body, "k")
    out = run_sign(["standard", STD_ID, STD_TS], "plain," + STD_SECRET, STD_BODY)
    assert out == "webhook-id: %s\nwebhook-timestamp: %s\nwebhook-signature: %s\n" % (
        STD_ID, STD_TS, STD_SIG)
    hdrs = dict(line.split(": ", 1) for line in run_sign(["standard"], STD_SECRET, body).splitlines())
    assert abs(int(hdrs["webhook-timestamp"]) - now()) <= 5
    assert hdrs["webhook-signature"] == std_sign(STD_SECRET, hdrs["webhook-id"],
                                                 hdrs["webhook-timestamp"], body)
    p = subprocess.run([HOOKD_BIN, "--sign", "standard"], input=body, capture_output=True,
                       env={"PATH": os.environ.get("PATH", ""), "WEBHOOK_SECRET": "plain"})
    assert p.returncode == 2 and b"whsec_" in p.stderr
    p = subprocess.run([HOOKD_BIN, "--sign", "svix"], input=body, capture_output=True,
                       env={"PATH": os.environ.get("PATH", ""), "WEBHOOK_SECRET": "plain"})
    assert p.returncode == 2


def test_readme_curl_examples_for_each_scheme(hookd_factory, tmp_path):
    """The README's examples, run as written (curl reads the headers that
    hookd --sign printed from a file with -H @file)."""
    d = hookd_factory(secret="plain-secret," + STD_SECRET,
                      env={"SIGNATURE_SCHEMES": "x-signature,hub,standard"})
    env = dict(os.environ, WEBHOOK_SECRET="plain-secret," + STD_SECRET)
    url = "http://127.0.0.1:%d/webhook" % d.port
    for scheme in ("x-signature", "hub", "standard"):
        m = message()
        body = encode(m)
        hdr_file = tmp_path / ("h-" + scheme)
        hdr_file.write_bytes(subprocess.run([HOOKD_BIN, "--sign", scheme], input=body, env=env,
                                            capture_output=True, check=True).stdout)
        p = subprocess.run(["curl", "-s", "-X", "POST", url, "-H", "@" + str(hdr_file),
                            "--data-binary", body], capture_output=True, timeout=30)
        assert p.stdout == b'{"status":"ok"}', (scheme, p)
        assert d.row(m["message_id"]) is not None
