#!/bin/sh
# Tests hookd on arm64 from this x86_64 machine, under qemu user emulation
# (qemu-aarch64-static, called explicitly: no binfmt registration needed):
#   - the unit tests, cross-built statically in build-test-arm64/ through
#     scripts/cross/aarch64-linux-gnu.ini, whose exe_wrapper lets
#     `meson test` run them under qemu;
#   - the black-box and deployment suites against the release binary from
#     `scripts/build-static.sh --arch arm64` (HOOKD_BIN is a two-line
#     wrapper that execs qemu on it).
# Logs: build-test-arm64/meson-logs/testlog.json, build-static-arm64/blackbox.log
# (both counted by scripts/test_summary.py). Exit 1 when a test failed.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh --arm64 --test
start=$(date +%s)
status=0
dir=build-test-arm64
if [ ! -f $dir/build.ninja ]; then
  meson setup $dir --cross-file scripts/cross/aarch64-linux-gnu.ini \
    --buildtype=release -Dwerror=true -Dstatic=true >/dev/null
fi
echo "== arm64: build" >&2
ninja -C $dir >&2
echo "== arm64: unit tests (qemu-aarch64-static)" >&2
meson test -C $dir --suite unit --print-errorlogs --num-processes 2 >&2 || status=1
bin=$(scripts/build-static.sh --arch arm64)
wrapper=build-static-arm64/hookd-qemu
printf '#!/bin/sh\n# hookd arm64 under user-mode emulation (written by scripts/test-arm64.sh)\nexec qemu-aarch64-static "%s" "$@"\n' \
  "$PWD/$bin" > $wrapper
chmod +x $wrapper
# Fails loudly, before 800 tests do, when the binary is not arm64 or qemu
# cannot run it.
readelf -h "$bin" | grep -q 'Machine:.*AArch64' ||
  { echo "test-arm64.sh: $bin is not an arm64 binary" >&2; exit 1; }
"$PWD/$wrapper" --version >&2
echo "== arm64: black-box + deploy tests ($bin under qemu)" >&2
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
HOOKD_BIN="$PWD/$wrapper" HOOKD_BUILD_ROOT="$PWD/$dir" \
  $py -m pytest -q -p no:cacheprovider tests/blackbox tests/deploy/test_deploy.py \
    --ignore=tests/blackbox/test_pg_multi.py --ignore=tests/blackbox/test_crash_pg.py \
  > build-static-arm64/blackbox.log 2>&1 || status=1
tail -n 3 build-static-arm64/blackbox.log >&2
echo "== arm64: $(($(date +%s) - start)) s" >&2
exit $status
