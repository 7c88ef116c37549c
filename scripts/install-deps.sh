#!/bin/sh
# Installs, from Debian's packages, whatever hookd needs and is missing.
#   scripts/install-deps.sh          build + run dependencies
#   scripts/install-deps.sh --test   also what the test suite needs
#   scripts/install-deps.sh --bench  also what the benchmarks need
set -eu
pkgs="g++ pkg-config meson ninja-build libuv1-dev libsodium-dev libsqlite3-dev node-llhttp rapidjson-dev ca-certificates"
for arg in "$@"; do
  case "$arg" in
    --test) pkgs="$pkgs python3 python3-pytest curl prometheus clang-14 libclang-rt-14-dev" ;;
    --bench) pkgs="$pkgs python3 wrk nginx-light curl" ;;
    *) echo "install-deps.sh: unknown option $arg" >&2; exit 2 ;;
  esac
done
missing=""
for p in $pkgs; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing="$missing $p"
  fi
done
[ -z "$missing" ] && exit 0
sudo=""
if [ "$(id -u)" -ne 0 ]; then sudo="sudo"; fi
echo "installing:$missing" >&2
# Another apt run (a parallel build, unattended-upgrades) may hold the lock:
# wait for it instead of failing.
apt="apt-get -o DPkg::Lock::Timeout=600"
$sudo $apt update -qq
DEBIAN_FRONTEND=noninteractive $sudo $apt install -y -qq --no-install-recommends $missing >/dev/null
