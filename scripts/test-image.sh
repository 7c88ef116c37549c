#!/bin/sh
# Builds the container image for real with podman, for each platform in
# $HOOKD_IMAGE_ARCHES (default: this machine's and arm64), and checks it
# from outside:
#   - the debian:12-slim stand-in it builds FROM is made here (no registry is
#     reachable): `debootstrap --variant=minbase bookworm` from the Debian
#     archive, `podman import`ed as localhost/hookd-base:bookworm-<arch> and
#     kept between runs (HOOKD_IMAGE_REFRESH_BASE=1 makes it again);
#   - `podman build --format docker` of Containerfile (chroot isolation,
#     cgroupfs: what works on these machines);
#   - `podman image inspect` -> build-image/<arch>/inspect.json, the image's
#     filesystem (`podman image mount`) -> build-image/<arch>/rootfs/;
#   - tests/deploy/test_image.py (inspect fields, contents, the binary run as
#     uid 65532 with the image's env; this machine's image also run as a
#     container with runc) and the black-box webhook suite against the
#     binary found in the image (arm64: under qemu-aarch64-static).
# Logs: build-image/<arch>/build.log and test.log (counted by
# scripts/test_summary.py). Image sizes: build-image/sizes.txt.
set -eu
cd "$(dirname "$0")/.."
host=$(dpkg --print-architecture)
if [ -n "${HOOKD_IMAGE_ARCHES:-}" ]; then
  arches=$HOOKD_IMAGE_ARCHES
elif [ "$host" = arm64 ]; then
  arches=arm64
else
  arches="$host arm64"
fi
extra=""
case " $arches " in *" arm64 "*) [ "$host" = arm64 ] || extra="--arm64" ;; esac
scripts/install-deps.sh --image --test $extra
base=localhost/hookd-base:bookworm-$host
out=build-image
rm -rf $out/amd64 $out/arm64   # no stale logs counted by scripts/test_summary.py
mkdir -p $out
start=$(date +%s)
if [ "${HOOKD_IMAGE_REFRESH_BASE:-0}" = 1 ] || ! podman image exists $base; then
  echo "== image: making $base with debootstrap" >&2
  rm -rf $out/base
  debootstrap --variant=minbase --arch="$host" bookworm $out/base/rootfs \
    http://deb.debian.org/debian > $out/base.log 2>&1 ||
    { tail -n 20 $out/base.log >&2; exit 1; }
  # Like debian:12-slim: no downloaded packages or package lists.
  rm -rf $out/base/rootfs/var/cache/apt/archives/*.deb $out/base/rootfs/var/lib/apt/lists/*
  tar -C $out/base/rootfs --numeric-owner -c . |
    podman import --change 'CMD ["/bin/bash"]' - $base >/dev/null
  rm -rf $out/base
fi
py=python3
[ -x /usr/bin/python3 ] && py=/usr/bin/python3
status=0
: > $out/sizes.txt
for arch in $arches; do
  tag=localhost/hookd:test-$arch
  dir=$out/$arch
  rm -rf $dir
  mkdir -p $dir
  echo "== image: podman build --platform linux/$arch" >&2
  # BUILDPLATFORM: podman 4.3 does not set it, and the build stage must run
  # on this machine's architecture (it cross-compiles for arm64).
  # The "deps" stage is tagged so that pruning below keeps its layers.
  # The label marks this script's images (build stages included) so that
  # pruning below touches nothing else in podman's storage.
  set -- --isolation=chroot --cgroup-manager=cgroupfs --format docker --pull=never \
    --platform "linux/$arch" --build-arg "BUILDPLATFORM=linux/$host" --build-arg "BASE=$base" \
    --label org.hookd.test-image=1
  if ! { podman build "$@" --target deps -t localhost/hookd-deps:$arch -f Containerfile . &&
      podman build "$@" -t $tag -f Containerfile .; } > $dir/build.log 2>&1; then
    tail -n 30 $dir/build.log >&2
    echo "$dir/build.log: podman build failed" > $dir/test.log
    status=1
    continue
  fi
  podman image inspect $tag > $dir/inspect.json
  mnt=$(podman image mount $tag)
  cp -a "$mnt" $dir/rootfs
  podman image unmount $tag >/dev/null
  size=$(podman image inspect --format '{{.Size}}' $tag)
  echo "$arch image: $size bytes; /hookd $(wc -c < $dir/rootfs/hookd) bytes" >> $out/sizes.txt
  bin="$PWD/$dir/rootfs/hookd"
  if [ "$arch" != "$host" ]; then
    printf '#!/bin/sh\nexec qemu-aarch64-static "%s" "$@"\n' "$bin" > $dir/hookd-qemu
    chmod 755 $dir/hookd-qemu
    bin="$PWD/$dir/hookd-qemu"
  fi
  echo "== image: tests against the $arch image's binary" >&2
  # This machine's image also runs as a container (an arm64 one cannot:
  # no binfmt emulation here).
  container=""
  [ "$arch" = "$host" ] && container=tests/deploy/test_container.py
  HOOKD_IMAGE_DIR="$PWD/$dir" HOOKD_IMAGE_ARCH=$arch HOOKD_IMAGE_TAG=$tag HOOKD_BIN="$bin" \
    $py -m pytest -q -p no:cacheprovider tests/deploy/test_image.py $container \
    tests/blackbox/test_webhook.py > $dir/test.log 2>&1 || status=1
  tail -n 1 $dir/test.log >&2
done
# Drop this script's dangling build-stage images of earlier runs; the tagged
# "deps" images keep the cached toolchain layers.
podman image prune -f --filter label=org.hookd.test-image=1 >/dev/null 2>&1 || true
cat $out/sizes.txt >&2
echo "== image: $(($(date +%s) - start)) s" >&2
exit $status
