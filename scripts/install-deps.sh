#!/bin/sh
# Installs, from Debian's packages, whatever hookd needs and is missing.
#   scripts/install-deps.sh          build + run dependencies (static build too)
#   scripts/install-deps.sh --test   also what the test suite needs
#   scripts/install-deps.sh --bench  also what the benchmarks need
#   scripts/install-deps.sh --arm64  also the arm64 cross toolchain, arm64
#                                    static archives and qemu-user to run them
#   scripts/install-deps.sh --target ARCH
#                                    what building for ARCH needs here: nothing
#                                    more for this machine's own (or an empty
#                                    ARCH), --arm64 for arm64 (the Containerfile)
#   scripts/install-deps.sh --image  also podman, runc and debootstrap (image test)
set -eu
# zlib1g-dev: Debian's libsqlite3.a needs -lz in a static link.
pkgs="g++ pkg-config meson ninja-build libuv1-dev libsodium-dev libsqlite3-dev libpq-dev zlib1g-dev node-llhttp rapidjson-dev ca-certificates binutils"
arm64=0
host=$(dpkg --print-architecture)
target=""
for arg in "$@"; do
  if [ "$target" = next ]; then
    target=set
    case "$arg" in
      "" | native | "$host") continue ;;
      arm64 | aarch64) arg=--arm64 ;;
      *) echo "install-deps.sh: cannot build for $arg on $host" >&2; exit 2 ;;
    esac
  fi
  case "$arg" in
    --target) target=next ;;
    --test)
      pkgs="$pkgs python3 python3-pytest curl prometheus chromium postgresql python3-psycopg2 clang-14 libclang-rt-14-dev"
      # Browser tests: node + npm (Debian's, unless a node is already there).
      command -v node >/dev/null 2>&1 && command -v npm >/dev/null 2>&1 || pkgs="$pkgs nodejs npm"
      ;;
    --bench) pkgs="$pkgs python3 wrk nginx-light curl postgresql postgresql-contrib" ;;
    --arm64)
      arm64=1
      pkgs="$pkgs g++-aarch64-linux-gnu qemu-user-static libuv1-dev:arm64 libsodium-dev:arm64 libsqlite3-dev:arm64 zlib1g-dev:arm64"
      ;;
    --image) pkgs="$pkgs podman runc debootstrap" ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
[ "$target" != next ] || { echo "install-deps.sh: --target needs an architecture" >&2; exit 2; }
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
# Another apt run (a parallel build, unattended-upgrades) may hold the lock:
# wait for it instead of failing.
apt="apt-get -o DPkg::Lock::Timeout=600"
updated=0
if [ $arm64 = 1 ] && ! dpkg --print-foreign-architectures | grep -qx arm64; then
  # Multiarch: arm64 packages install beside the native ones (same
  # versions, Multi-Arch: same). Debian's archive serves every release
  # architecture; a source restricted with "Architectures:" keeps its own.
  echo "install-deps.sh: adding the arm64 architecture" >&2
  $sudo dpkg --add-architecture arm64
  $sudo $apt update -qq
  updated=1
fi
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
echo "installing:$missing" >&2
[ $updated = 1 ] || $sudo $apt update -qq
DEBIAN_FRONTEND=noninteractive $sudo $apt install -y -qq --no-install-recommends $missing >/dev/null
