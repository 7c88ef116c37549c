#!/bin/sh
# Builds a fully static, stripped release hookd from Debian's static archives
# (libuv_a.a, libsodium.a, libsqlite3.a, libz.a; RapidJSON is header-only).
#   scripts/build-static.sh                 this machine's architecture -> build-static/
#   scripts/build-static.sh --arch arm64    arm64: cross-built on x86_64 with
#                                           scripts/cross/aarch64-linux-gnu.ini
#                                           -> build-static-arm64/ (native
#                                           build-static/ on an arm64 host)
#   --arch amd64 / --arch native            this machine's architecture
#   --builddir DIR                          build in DIR instead
# Prints the stripped binary's path on stdout (progress goes to stderr).
# Used by the Containerfile (--arch $TARGETARCH), scripts/test.sh and
# scripts/check-reproducible.sh.
set -eu
cd "$(dirname "$0")/.."
arch=native
dir=""
while [ $# -gt 0 ]; do
  case "$1" in
    --arch) arch="${2:?--arch needs a value}"; shift 2 ;;
    --arch=*) arch="${1#--arch=}"; shift ;;
    --builddir) dir="${2:?--builddir needs a value}"; shift 2 ;;
    *) echo "build-static.sh: unknown option $1" >&2; exit 2 ;;
  esac
done
host=$(dpkg --print-architecture)
case "$arch" in
  "" | native | "$host") arch=$host; cross="" ;;
  arm64 | aarch64) arch=arm64; cross=scripts/cross/aarch64-linux-gnu.ini ;;
  *) echo "build-static.sh: cannot build for $arch on $host (native or arm64)" >&2; exit 2 ;;
esac
if [ -n "$cross" ]; then
  scripts/install-deps.sh --arm64
  strip=aarch64-linux-gnu-strip
  [ -n "$dir" ] || dir=build-static-$arch
  setup="--cross-file $cross"
else
  scripts/install-deps.sh
  strip=strip
  [ -n "$dir" ] || dir=build-static
  setup=""
fi
[ -f "$dir/build.ninja" ] ||
  meson setup "$dir" $setup --buildtype=release -Dstatic=true -Dtests=false >/dev/null
ninja -C "$dir" >&2
if readelf -l "$dir/hookd" | grep -q INTERP; then
  echo "build-static.sh: $dir/hookd is dynamically linked" >&2
  exit 1
fi
$strip --strip-all -o "$dir/hookd.stripped" "$dir/hookd"
echo "$dir/hookd.stripped ($arch): $(wc -c < "$dir/hookd.stripped") bytes" >&2
echo "$dir/hookd.stripped"
