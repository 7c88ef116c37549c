#!/bin/sh
# Builds a fully static, stripped release hookd in build-static/ from
# Debian's static archives (libuv_a.a, libsodium.a, libsqlite3.a; RapidJSON
# is header-only). Used by the Containerfile and by scripts/test.sh, which
# runs the black-box suite against the result.
set -eu
cd "$(dirname "$0")/.."
scripts/install-deps.sh
[ -f build-static/build.ninja ] ||
  meson setup build-static --buildtype=release -Dstatic=true -Dtests=false >/dev/null
ninja -C build-static >&2
if readelf -l build-static/hookd | grep -q INTERP; then
  echo "build-static.sh: build-static/hookd is dynamically linked" >&2
  exit 1
fi
strip -o build-static/hookd.stripped build-static/hookd
echo "build-static/hookd.stripped: $(wc -c < build-static/hookd.stripped) bytes" >&2
