#!/usr/bin/env bash
# make lint: gofmt, go vet, staticcheck and errcheck with no findings, and
# Telegraf's own README linter on every plugin README. The tools are pinned
# here and come from the Go module proxy; the README linter is the one of
# the Telegraf version in go.mod.
set -euo pipefail
cd "$(dirname "$0")/.."

STATICCHECK=honnef.co/go/tools/cmd/staticcheck@v0.8.2
ERRCHECK=github.com/kisielk/errcheck@v1.9.0
telegraf_version=$(go list -m -f '{{.Version}}' github.com/influxdata/telegraf)
README_LINTER=github.com/influxdata/telegraf/tools/readme_linter@${telegraf_version}

echo "lint: gofmt"
unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
  echo "gofmt needed: $unformatted" >&2
  exit 1
fi

echo "lint: go vet"
go vet ./...

echo "lint: staticcheck ($STATICCHECK)"
go run "$STATICCHECK" ./...

echo "lint: errcheck on production code ($ERRCHECK)"
go run "$ERRCHECK" -ignoretests ./...

# One rule cannot hold outside Telegraf's repository: links into Telegraf's
# own docs must be relative there. Every other finding fails.
echo "lint: readme_linter ($README_LINTER)"
failed=0
for readme in plugins/*/*/README.md; do
  out=$(go run "$README_LINTER" "$readme" 2>&1) && continue
  findings=$(printf '%s\n' "$out" | grep -E "^$readme:[0-9]+:" | grep -v 'in-repo link must be relative' || true)
  if [ -n "$findings" ] || ! printf '%s\n' "$out" | grep -qE "^$readme:[0-9]+:"; then
    printf '%s\n' "${findings:-$out}" >&2
    failed=1
  fi
done
exit "$failed"
