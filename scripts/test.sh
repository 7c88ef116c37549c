#!/bin/sh
# Installs what is missing, builds hookd twice (release with -Werror, and
# AddressSanitizer + UndefinedBehaviorSanitizer) and runs every test on
# both. The last line is "N passed, N failed" (test cases, both builds).
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
  echo "== $variant build" >&2
  ninja -C $dir >&2
  echo "== $variant tests" >&2
  meson test -C $dir --print-errorlogs --num-processes 2 >&2 || status=1
done
python3 scripts/test_summary.py build-test-release build-test-asan
exit $status
