#!/usr/bin/env bash
# Installs the container engine that the container tests (e2e/container) run
# the image and the compose stack with: podman with runc (Debian's packages),
# docker-compose 1.29 driving it through `podman system service`, and
# busybox-static, from which the tests stand in busybox (no registry is
# needed: the tests stand in every base image locally).
#
# A machine where the engine cannot be installed fails here, with the reason:
# the container tests never pass by skipping.
set -euo pipefail

missing=()
command -v podman >/dev/null 2>&1 || missing+=(podman)
command -v runc >/dev/null 2>&1 || missing+=(runc)
command -v docker-compose >/dev/null 2>&1 || missing+=(docker-compose)
[ -x /bin/busybox ] || missing+=(busybox-static)
if [ "${#missing[@]}" = 0 ]; then
  exit 0
fi

fail() {
  echo "install-container-engine: $*" >&2
  echo "install-container-engine: the container tests need podman, runc, docker-compose and busybox-static (Debian packages)." >&2
  exit 1
}

if [ "$EUID" != 0 ]; then
  fail "missing ${missing[*]} and not root, so they cannot be installed: run 'make test-deps' as root"
fi
command -v apt-get >/dev/null 2>&1 || fail "missing ${missing[*]} and no apt-get on this machine"

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq || fail "apt-get update failed"
# podman with its recommends (netavark and aardvark-dns for service-name DNS,
# catatonit); runc because Debian's default crun cannot set rlimits or use
# hybrid cgroups on machines like CI's. docker-compose without its recommends,
# which would pull in a whole Docker daemon.
apt-get install -y -qq podman runc >/dev/null || fail "apt-get install podman runc failed"
apt-get install -y -qq --no-install-recommends docker-compose busybox-static >/dev/null \
  || fail "apt-get install docker-compose busybox-static failed"
for c in podman runc docker-compose; do
  command -v "$c" >/dev/null 2>&1 || fail "$c still missing after installing"
done
podman --version
docker-compose version --short
