#!/bin/sh
# Installs what is missing, builds hookd three ways and runs every test:
#   release (-Werror):            unit + black-box + browser suites (+ test_pg_multi)
#   ASan + UBSan (-Werror):       unit + black-box + browser suites (+ test_pg_multi)
#   postgres:                     the engine-neutral black-box suites again,
#                                 release build, against a throw-away PostgreSQL
#                                 cluster (scripts/pg_cluster.sh), stopped by PID
#   static (scripts/build-static.sh, as the Containerfile): black-box suite;
#     release artefacts reproducible and within size budget (tests/deploy/test_release.py)
#   arm64 (scripts/test-arm64.sh): unit + black-box + deploy suites under qemu
#   container image (scripts/test-image.sh): podman build for amd64 and arm64,
#     checked from outside (tests/deploy/test_image.py + black-box webhook suite)
#   fuzz (clang, libFuzzer + ASan + UBSan): each target for FUZZ_SECONDS (30)
# The last line is "N passed, N failed" (test cases over all runs).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
# Browser tests: playwright-core from npm, exactly as locked (drives the
# chromium that install-deps.sh installed; no browser download). Skipped
# when the locked version is already installed, so a re-run needs no network.
lock='require("./tests/browser/package-lock.json").packages["node_modules/playwright-core"].version'
have='try { require("./tests/browser/node_modules/playwright-core/package.json").version } catch (e) { "" }'
if [ "$(node -p "$lock")" != "$(node -p "$have")" ]; then
  (cd tests/browser && npm ci --no-audit --no-fund --loglevel=error >&2)
fi
status=0
for variant in release asan; do
  dir=build-test-$variant
  if [ ! -f $dir/build.ninja ]; then
    if [ $variant = release ]; then
      meson setup $dir --buildtype=release -Dwerror=true >/dev/null
    else
      meson setup $dir --buildtype=debugoptimized -Dwerror=true \
        -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
    fi
  fi
  echo "== $variant: build" >&2
  ninja -C $dir >&2
  echo "== $variant: tests" >&2
  meson test -C $dir --print-errorlogs --num-processes 2 >&2 || status=1
done
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
echo "== postgres: black-box tests (release build)" >&2
pgdir=$(mktemp -d /tmp/hookd-pg-test.XXXXXX)
chmod 755 "$pgdir"
trap 'scripts/pg_cluster.sh stop "$pgdir" || true; rm -rf "$pgdir"' EXIT
if pgurl=$(scripts/pg_cluster.sh start "$pgdir"); then
  # Not here: test_pg_multi and test_crash_pg (their own clusters, run by
  # meson test) and the SQLite engine's own tests (its files, indexer,
  # crash and fault cases).
  HOOKD_BIN="$PWD/build-test-release/hookd" HOOKD_TEST_PG_URL="$pgurl" $py -m pytest -q \
    -p no:cacheprovider tests/blackbox --ignore=tests/blackbox/test_pg_multi.py \
    --ignore=tests/blackbox/test_crash_pg.py \
    --ignore=tests/blackbox/test_storage.py --ignore=tests/blackbox/test_crash.py \
    --ignore=tests/blackbox/test_faults.py \
    > build-test-release/blackbox-pg.log 2>&1 || status=1
else
  echo "postgres: the cluster did not start" > build-test-release/blackbox-pg.log
  status=1
fi
scripts/pg_cluster.sh stop "$pgdir" || status=1
tail -n 3 build-test-release/blackbox-pg.log >&2
echo "== static: build" >&2
scripts/build-static.sh
echo "== static: black-box tests" >&2
# The static build has no PostgreSQL engine (README): no test_pg_multi,
# no test_crash_pg.
HOOKD_BIN="$PWD/build-static/hookd" $py -m pytest -q -p no:cacheprovider tests/blackbox \
  --ignore=tests/blackbox/test_pg_multi.py --ignore=tests/blackbox/test_crash_pg.py \
  > build-static/blackbox.log 2>&1 || status=1
tail -n 3 build-static/blackbox.log >&2
echo "== static: reproducible builds, size budget" >&2
$py -m pytest -q -p no:cacheprovider tests/deploy/test_release.py \
  > build-static/release.log 2>&1 || status=1
tail -n 1 build-static/release.log >&2
scripts/test-arm64.sh || status=1
scripts/test-image.sh || status=1
# Fuzz targets, a bounded run each (scripts/fuzz.sh runs them longer).
fuzz_logs=""
mkdir -p build-fuzz
for t in $(sed -n "s/^fuzz_targets = \[\(.*\)\]/\1/p" tests/fuzz/meson.build | tr -d "'" | tr ',' ' '); do
  echo "== fuzz: $t" >&2
  scripts/fuzz.sh "$t" "${FUZZ_SECONDS:-30}" > build-fuzz/$t.summary.log || status=1
  fuzz_logs="$fuzz_logs build-fuzz/$t.summary.log"
done
python3 scripts/test_summary.py build-test-release build-test-asan \
  build-test-release/blackbox-pg.log build-static/blackbox.log \
  build-static/release.log build-test-arm64 build-static-arm64/blackbox.log \
  build-image/*/test.log $fuzz_logs
exit $status
