#!/bin/sh
# Installs what is missing, builds hookd three ways and runs every test:
#   release (-Werror):            unit + black-box suites
#   ASan + UBSan (-Werror):       unit + black-box suites
#   static (scripts/build-static.sh, as the Containerfile): black-box suite
#   fuzz (clang, libFuzzer + ASan + UBSan): each target for FUZZ_SECONDS (30)
# The last line is "N passed, N failed" (test cases over all runs).
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --test
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
echo "== static: build" >&2
scripts/build-static.sh
echo "== static: black-box tests" >&2
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
HOOKD_BIN="$PWD/build-static/hookd" $py -m pytest -q -p no:cacheprovider tests/blackbox \
  > build-static/blackbox.log 2>&1 || status=1
tail -n 3 build-static/blackbox.log >&2
# Fuzz targets, a bounded run each (scripts/fuzz.sh runs them longer).
fuzz_logs=""
mkdir -p build-fuzz
for t in $(sed -n "s/^fuzz_targets = \[\(.*\)\]/\1/p" tests/fuzz/meson.build | tr -d "'" | tr ',' ' '); do
  echo "== fuzz: $t" >&2
  scripts/fuzz.sh "$t" "${FUZZ_SECONDS:-30}" > build-fuzz/$t.summary.log || status=1
  fuzz_logs="$fuzz_logs build-fuzz/$t.summary.log"
done
python3 scripts/test_summary.py build-test-release build-test-asan build-static/blackbox.log \
  $fuzz_logs
exit $status
