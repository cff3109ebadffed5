#!/usr/bin/env bash
# Builds Compose v2 (docker compose), which the container tests (e2e/container)
# run the compose stack with under Docker, as a CLI plugin binary: Debian 12
# packages only docker-compose 1.29, so it is built from its Go module, with
# the project's Go toolchain. The binary is kept in the user's cache directory
# under its version, so that only the first run on a machine builds it (a few
# minutes).
#
#   scripts/install-compose-v2.sh               build it unless it is there
#   scripts/install-compose-v2.sh --print-path  where it is (or will be)
set -euo pipefail

version=v2.40.3
dest="${XDG_CACHE_HOME:-$HOME/.cache}/procblocking/compose-$version/docker-compose"

if [ "${1:-}" = "--print-path" ]; then
  echo "$dest"
  exit 0
fi
if [ -x "$dest" ]; then
  exit 0
fi

fail() {
  echo "install-compose-v2: $*" >&2
  exit 1
}
command -v go >/dev/null 2>&1 || fail "no go on this machine: the project needs its Go toolchain (go.mod)"

# `go install module@version` refuses a module whose go.mod has exclude
# directives, as Compose's has: build it as the main module of a copy.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Outside any module, so that the download changes no go.mod or go.sum.
src=$(cd "$work" && go mod download -json "github.com/docker/compose/v2@$version" | sed -n 's/^\t"Dir": "\(.*\)",$/\1/p')
[ -n "$src" ] || fail "go mod download github.com/docker/compose/v2@$version failed"
cp -r "$src" "$work/compose"
chmod -R u+w "$work/compose"
echo "install-compose-v2: building Compose $version (a few minutes on a cold build cache)"
(cd "$work/compose" && CGO_ENABLED=0 GOFLAGS=-mod=readonly go build -trimpath \
  -ldflags "-s -w -X github.com/docker/compose/v2/internal.Version=$version" \
  -o "$work/docker-compose" ./cmd) || fail "building Compose $version failed"
mkdir -p "$(dirname "$dest")"
mv "$work/docker-compose" "$dest"
"$dest" version
