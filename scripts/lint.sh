#!/usr/bin/env bash
# make lint: gofmt, go vet, staticcheck and errcheck with no findings; the
# plugins and commands compiled for every platform a plugin README claims;
# Telegraf's own README linter on every plugin README, and each README as
# its go:generate line (Telegraf's README generator) makes it. The tools are
# pinned here and come from the Go module proxy; the README tools are those
# of the Telegraf version in go.mod, whose tools they are.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
ERRCHECK=github.com/kisielk/errcheck@v1.9.0
telegraf_version=$(go list -m -f '{{.Version}}' github.com/influxdata/telegraf)

# step names what runs next, after the seconds the previous step took.
last=$SECONDS
step() {
  echo "lint: $* (previous step: $((SECONDS - last))s)"
  last=$SECONDS
}

step "gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed: $unformatted" >&2
  exit 1
fi

step "image-modules.txt lists the modules the image's binary is built from"
if ! diff -u image-modules.txt <(scripts/image-modules.sh); then
  echo "image-modules.txt is stale: run make image-modules" >&2
  exit 1
fi

step "go vet"
go vet ./...

step "staticcheck ($STATICCHECK)"
go run "$STATICCHECK" ./...

step "errcheck on production code ($ERRCHECK)"
go run "$ERRCHECK" -ignoretests ./...

# The READMEs' configuration and global-options sections are generated:
# regenerate them in a copy and compare. Their introduction version, and the
# Telegraf docs they link to, are the Telegraf these plugins are built with.
step "plugin READMEs as go:generate makes them, naming Telegraf $telegraf_version"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# go.mod's tool, as the go:generate lines run it: `go tool` keeps the built
# program in the build cache, where `go build -o` would link it every run.
includer=$(go tool -n readme_config_includer)
mkdir -p "$tmp/docs" && cp -r docs/includes "$tmp/docs/"
for readme in plugins/*/*/README.md; do
  dir=$(dirname "$readme")
  mkdir -p "$tmp/$dir" && cp "$dir"/README.md "$dir"/*.conf "$tmp/$dir/"
  (cd "$tmp/$dir" && "$includer" 2>/dev/null)
  if ! diff -u "$readme" "$tmp/$readme" >&2; then
    echo "$readme: out of date, run go generate ./$dir" >&2
    exit 1
  fi
  if ! grep -q "^⭐ Telegraf $telegraf_version " "$readme"; then
    echo "$readme: its ⭐ line must name Telegraf $telegraf_version, the version in go.mod" >&2
    exit 1
  fi
done
stale=$(grep -rnoE 'telegraf/blob/v[0-9.]+/' plugins/*/*/README.md docs/includes | grep -v "/blob/$telegraf_version/" || true)
if [ -n "$stale" ]; then
  echo "links to the docs of another Telegraf than $telegraf_version:" >&2
  echo "$stale" >&2
  exit 1
fi

# One rule cannot hold outside Telegraf's repository: links into Telegraf's
# own docs must be relative there. Every other finding fails.
step "readme_linter (Telegraf $telegraf_version's)"
linter=$(go tool -n readme_linter)
failed=0
for readme in plugins/*/*/README.md; do
  out=$("$linter" "$readme" 2>&1) && continue
  findings=$(printf '%s\n' "$out" | grep -E "^$readme:[0-9]+:" | grep -v 'in-repo link must be relative' || true)
  if [ -n "$findings" ] || ! printf '%s\n' "$out" | grep -qE "^$readme:[0-9]+:"; then
    printf '%s\n' "${findings:-$out}" >&2
    failed=1
  fi
done

# The input is Linux-only (a stub elsewhere says so); the processor, the
# output and the binaries claim every platform. `go list -export` compiles
# every package, the commands' own included, for the platform: what fails
# there is what `go build` would refuse, without linking four binaries per
# platform (half a minute of CPU) only to discard them.
for goos in windows darwin; do
  step "GOOS=$goos: ./plugins/... ./cmd/... compile"
  GOOS=$goos go list -export ./plugins/... ./cmd/... >/dev/null || failed=1
done
echo "lint: done in ${SECONDS}s (last step: $((SECONDS - last))s)"
exit "$failed"
