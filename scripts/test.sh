#!/bin/sh
# Installs what is missing, builds hookd three ways and runs every test:
#   release (-Werror):            unit + black-box suites (+ test_pg_multi)
#   ASan + UBSan (-Werror):       unit + black-box suites (+ test_pg_multi)
#   postgres:                     the black-box suite again, release build,
#                                 against a throw-away PostgreSQL cluster
#                                 (scripts/pg_cluster.sh), stopped by PID
#   static (scripts/build-static.sh, as the Containerfile): black-box suite
#                                 (SQLite only: see README)
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
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
echo "== postgres: black-box tests (release build)" >&2
pgdir=$(mktemp -d /tmp/hookd-pg-test.XXXXXX)
chmod 755 "$pgdir"
trap 'scripts/pg_cluster.sh stop "$pgdir" || true; rm -rf "$pgdir"' EXIT
if pgurl=$(scripts/pg_cluster.sh start "$pgdir"); then
  HOOKD_BIN="$PWD/build-test-release/hookd" HOOKD_TEST_PG_URL="$pgurl" $py -m pytest -q \
    -p no:cacheprovider tests/blackbox --ignore=tests/blackbox/test_pg_multi.py \
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
HOOKD_BIN="$PWD/build-static/hookd" $py -m pytest -q -p no:cacheprovider tests/blackbox \
  > build-static/blackbox.log 2>&1 || status=1
tail -n 3 build-static/blackbox.log >&2
python3 scripts/test_summary.py build-test-release build-test-asan \
  build-test-release/blackbox-pg.log build-static/blackbox.log
exit $status
