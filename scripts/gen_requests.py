#!/usr/bin/env python3
"""Pre-generate signed POST /webhook requests for wrk (scripts/wrk/webhook.lua).

wrk's Lua cannot compute HMAC-SHA256, so the signatures are computed here.
Output: one request per line, `signature<TAB>body`, where signature is
hex(HMAC-SHA256(secret, body)) and body is compact JSON (UTF-8, no raw tab or
newline), e.g.

    scripts/gen_requests.py --count 100000 --secret "$WEBHOOK_SECRET" \\
        --prefix run1 --out /tmp/req.tsv
    HOOKD_REQUESTS=/tmp/req.tsv wrk -t2 -c64 -d10s -s scripts/wrk/webhook.lua \\
        http://127.0.0.1:8000/webhook

Every line has a unique message_id `<prefix>-<n>` (use a new --prefix for
each run against the same database, or every request is a duplicate), one of
--senders distinct senders (skewed: a few senders send much more), one of a
few recipients, a `ts` spread over --days days (some with fractions), and a
text of mixed words (some non-ASCII, some needing JSON escapes; about 10%
of messages have no text: 7% omit the field, 3% send null).

--invalid writes wrong signatures (right length and format) for the
invalid-signature test. Output is deterministic for a given --seed/--prefix.

Python 3 standard library only; uses all cores for large counts.
"""

import argparse
import datetime as dt
import hashlib
import hmac
import json
import multiprocessing
import os
import random
import sys
import time

WORDS = (
    "hello hi thanks ok yes no please order delivery payment invoice ticket "
    "support account refund status update tomorrow today morning evening "
    "meeting call price offer discount available stock shipped received "
    "address confirm cancel change number help problem issue resolved great "
    "good fine sure when where what how why the a an and or for with from to "
    "of in on at by is are was will can could would should my your our their "
    "package courier tracking link otp code verify login password reset app "
    "store branch open closed weekend holiday sale new old size color small "
    "large medium black white red blue green gift card balance recharge plan"
).split()
INTL_WORDS = (
    "namaste धन्यवाद नमस्ते कृपया ऑर्डर "          # Hindi
    "gracias señor mañana pedido envío "              # Spanish
    "café été déjà reçu commandé "                   # French
    "Straße grüße bestätigt "                         # German
    "спасибо заказ доставка "                         # Russian
    "ありがとう 注文 配達 "                              # Japanese
    "谢谢 订单 快递 "                                   # Chinese
    "شكرا طلب "                                       # Arabic
    "👍 🙏 😊 🎉 ✅ 📦"                                  # emoji (non-BMP)
).split()
ESCAPE_BITS = ('"quoted"', "back\\slash", "tab\there", "line\nbreak", "a/b", "<b>&amp;</b>")

TS_START = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)


def senders(n, seed):
    rng = random.Random("senders-%s" % seed)
    out, seen = [], set()
    while len(out) < n:
        cc = rng.choice(("91", "91", "91", "1", "44", "49", "55", "62", "234"))
        digits = cc + "".join(rng.choice("0123456789") for _ in range(10))
        if digits not in seen:
            seen.add(digits)
            out.append("+" + digits)
    return out


RECIPIENTS = ("+14155550100", "+14155550101", "+919000000001", "+442071838750", "+5511999990000")


def make_text(rng):
    r = rng.random()
    if r < 0.07:
        return None, False           # field omitted
    if r < 0.10:
        return None, True            # "text": null
    n = rng.choice((1, 2, 3, 4, 5, 6, 8, 10, 12, 15, 20, 30, 60))
    words = []
    for _ in range(n):
        x = rng.random()
        if x < 0.12:
            words.append(rng.choice(INTL_WORDS))
        elif x < 0.13:
            words.append(rng.choice(ESCAPE_BITS))
        elif x < 0.16:
            words.append(str(rng.randrange(100000)))
        else:
            words.append(rng.choice(WORDS))
    s = " ".join(words)
    if rng.random() < 0.3:
        s = s[0].upper() + s[1:]
    if rng.random() < 0.2:
        s += rng.choice(("?", "!", ".", "..."))
    return s, True


def make_ts(rng, days):
    sec = rng.randrange(days * 86400)
    t = TS_START + dt.timedelta(seconds=sec)
    base = t.strftime("%Y-%m-%dT%H:%M:%S")
    f = rng.random()
    if f < 0.6:
        return base + "Z"
    if f < 0.9:
        return "%s.%03dZ" % (base, rng.randrange(1000))
    return "%s.%06dZ" % (base, rng.randrange(1000000))


def gen_chunk(task):
    """Lines [start, stop) as one encoded bytes block."""
    start, stop, a = task
    key = a["secret"].encode("utf-8")
    bad_key = key + b"-not-the-secret"
    snd = senders(a["senders"], a["seed"])
    heavy = snd[:max(1, len(snd) // 100)]
    rng = random.Random("%s-%s-%d" % (a["seed"], a["prefix"], start))
    dumps = json.dumps
    digest = hmac.digest
    out = []
    for i in range(start, stop):
        frm = rng.choice(heavy) if rng.random() < 0.2 else rng.choice(snd)
        text, has_text = make_text(rng)
        body = '{"message_id":"%s-%d","from":"%s","to":"%s","ts":"%s"' % (
            a["prefix"], i, frm, rng.choice(RECIPIENTS), make_ts(rng, a["days"]))
        if has_text:
            body += ',"text":' + dumps(text, ensure_ascii=False)
        body += "}"
        raw = body.encode("utf-8")
        sig = digest(bad_key if a["invalid"] else key, raw, hashlib.sha256).hex()
        out.append(sig.encode("ascii") + b"\t" + raw + b"\n")
    return b"".join(out)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--count", type=int, default=100000, help="lines to write (default 100000)")
    p.add_argument("--secret", default=os.environ.get("WEBHOOK_SECRET"),
                   help="HMAC key (default: $WEBHOOK_SECRET)")
    p.add_argument("--prefix", default=None,
                   help="message_id prefix, unique per run (default: random)")
    p.add_argument("--senders", type=int, default=5000, help="distinct senders (default 5000)")
    p.add_argument("--days", type=int, default=180, help="ts spread, days from 2025-01-01")
    p.add_argument("--invalid", action="store_true", help="write wrong signatures")
    p.add_argument("--seed", default="hookd", help="random seed (default: hookd)")
    p.add_argument("--jobs", type=int, default=0, help="worker processes (default: all cores)")
    p.add_argument("--out", default="-", help="output file (default: stdout)")
    a = p.parse_args(argv)
    if not a.secret:
        p.error("--secret (or WEBHOOK_SECRET) is required")
    if a.count < 0 or a.senders < 1 or a.days < 1:
        p.error("--count >= 0, --senders >= 1, --days >= 1")
    if a.prefix is None:
        a.prefix = "r%x" % random.SystemRandom().getrandbits(40)
    if any(c in a.prefix for c in '"\\\t\n'):
        p.error("--prefix must not contain quotes, backslashes, tabs or newlines")
    args = {"secret": a.secret, "prefix": a.prefix, "senders": a.senders, "days": a.days,
            "invalid": a.invalid, "seed": a.seed}
    chunk = 20000
    tasks = [(s, min(s + chunk, a.count), args) for s in range(0, a.count, chunk)]
    t0 = time.monotonic()
    out = sys.stdout.buffer if a.out == "-" else open(a.out, "wb")
    try:
        jobs = a.jobs or os.cpu_count() or 1
        if len(tasks) > 1 and jobs > 1:
            with multiprocessing.Pool(min(jobs, len(tasks))) as pool:
                for block in pool.imap(gen_chunk, tasks):
                    out.write(block)
        else:
            for t in tasks:
                out.write(gen_chunk(t))
    finally:
        if out is not sys.stdout.buffer:
            out.close()
        else:
            out.flush()
    print("gen_requests: %d %s lines, prefix %s, %.1f s" % (
        a.count, "invalid" if a.invalid else "signed", a.prefix, time.monotonic() - t0),
        file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
