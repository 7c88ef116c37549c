#!/bin/sh
# Builds the libFuzzer targets (clang 14, -fsanitize=fuzzer,address,undefined,
# in build-fuzz) and runs one of them:
#   scripts/fuzz.sh TARGET SECONDS      e.g. scripts/fuzz.sh fuzz_sig_headers 3600
# Seeds come from tests/fuzz/corpus/<TARGET without fuzz_>/ (read only); new
# inputs go to build-fuzz/corpus/TARGET, crashes to build-fuzz/artifacts/.
# A finding stops the run; turn it into a regression test and a seed. The
# libFuzzer output is in build-fuzz/TARGET.log; the last line is
# "1 passed, 0 failed" or "0 passed, 1 failed" (scripts/test_summary.py).
set -eu
cd "$(dirname "$0")/.."
[ $# -eq 2 ] || { echo "usage: scripts/fuzz.sh TARGET SECONDS" >&2; exit 2; }
target=$1
secs=$2
seeds=tests/fuzz/corpus/${target#fuzz_}
[ -d "$seeds" ] || { echo "fuzz.sh: no seed corpus $seeds" >&2; exit 2; }
dir=build-fuzz
if [ ! -f $dir/build.ninja ]; then
  CC=clang-14 CXX=clang++-14 meson setup $dir -Dfuzz=true -Dtests=false -Dwerror=true \
    --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false >/dev/null
fi
ninja -C $dir tests/fuzz/$target >&2
mkdir -p $dir/corpus/$target $dir/artifacts
log=$dir/$target.log
if UBSAN_OPTIONS=print_stacktrace=1 nice -n 10 $dir/tests/fuzz/$target \
    -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -print_final_stats=1 \
    -artifact_prefix=$dir/artifacts/$target- $dir/corpus/$target "$seeds" >$log 2>&1; then
  grep -E "^(#[0-9]+ *DONE|Done [0-9]+ runs|stat::number_of_executed_units)" $log >&2 || true
  echo "1 passed, 0 failed"
else
  tail -n 60 $log >&2
  echo "0 passed, 1 failed"
  exit 1
fi
