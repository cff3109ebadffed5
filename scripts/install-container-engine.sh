#!/usr/bin/env bash
# Installs the container engines that the container tests (e2e/container) run
# the image and the compose stack with, from Debian's packages: podman with
# runc, driven by docker-compose 1.29 through `podman system service`;
# Docker Engine (docker.io: dockerd, containerd and the docker client), of
# which the tests start a private dockerd, driven by docker-compose 1.29 and
# by Compose v2 (scripts/install-compose-v2.sh builds that one); and
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
# By path: another docker client may come first in PATH.
{ [ -x /usr/bin/docker ] && command -v dockerd >/dev/null 2>&1; } || missing+=(docker.io)
if [ "${#missing[@]}" = 0 ]; then
  exit 0
fi

fail() {
  echo "install-container-engine: $*" >&2
  echo "install-container-engine: the container tests need podman, runc, docker-compose, docker.io and busybox-static (Debian packages)." >&2
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
# hybrid cgroups on machines like CI's. docker.io, docker-compose and
# busybox-static without their recommends (apparmor, needrestart, git...),
# which the tests do not use.
apt-get install -y -qq podman runc >/dev/null || fail "apt-get install podman runc failed"
apt-get install -y -qq --no-install-recommends docker.io docker-compose busybox-static >/dev/null \
  || fail "apt-get install docker.io docker-compose busybox-static failed"
for c in podman runc docker-compose dockerd containerd /usr/bin/docker; do
  command -v "$c" >/dev/null 2>&1 || fail "$c still missing after installing"
done
podman --version
docker-compose version --short
/usr/bin/docker --version
