#!/bin/sh
# One command from a fresh Debian 12 machine to a running hookd:
# installs what is missing, builds a release binary, and runs it on the
# embedded default database (./data/app.db). Without WEBHOOK_SECRET (or
# WEBHOOK_SECRET_FILE) it generates a development secret in ./data/.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build-release/build.ninja ] || meson setup build-release --buildtype=release >/dev/null
ninja -C build-release >/dev/null
mkdir -p data
if [ -z "${WEBHOOK_SECRET:-}" ] && [ -z "${WEBHOOK_SECRET_FILE:-}" ]; then
  if [ ! -s data/dev-secret ]; then
    umask 077
    od -An -tx1 -N32 /dev/urandom | tr -d ' \n' > data/dev-secret
  fi
  WEBHOOK_SECRET=$(cat data/dev-secret)
  export WEBHOOK_SECRET
  port=${PORT:-8000}
  body='{"message_id":"m1","from":"+919876543210","to":"+14155550100","ts":"2025-01-15T10:00:00Z","text":"Hello"}'
  sig=$(printf '%s' "$body" | build-release/hookd --sign)
  cat >&2 <<MSG
hookd: no WEBHOOK_SECRET set; using the development secret in ./data/dev-secret:
  WEBHOOK_SECRET=$WEBHOOK_SECRET
Try it (in another terminal):
  curl -s -X POST http://127.0.0.1:$port/webhook -H 'Content-Type: application/json' \\
    -H 'X-Signature: $sig' \\
    -d '$body'
  curl -s http://127.0.0.1:$port/messages
MSG
fi
exec build-release/hookd
