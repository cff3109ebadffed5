#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each, a duration or a
# count of executions such as 10000x (Go runs one target per invocation). Crashers land in the package's testdata/fuzz/ and
# fail the run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10000x}

for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  grep -lq '^func Fuzz' "$dir"/*_test.go 2>/dev/null || continue
  # The first -fuzz run of a package compiles it with coverage
  # instrumentation, a silent half-minute on a fresh machine: say so.
  echo "fuzz: building $pkg with coverage instrumentation"
  for target in $(go test -list '^Fuzz' "$pkg" | grep '^Fuzz'); do
    echo "fuzz: $pkg $target ($fuzztime)"
    go test -run '^$' -fuzz "^${target}\$" -fuzztime "$fuzztime" "$pkg"
  done
done
