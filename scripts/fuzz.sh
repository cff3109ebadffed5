#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each, a duration or a
# count of executions such as 10000x. Go fuzzes one target per run, and a
# `go test -fuzz` per target would link its package's instrumented test
# binary again each time: each package's binary is built once here, kept
# where go test relinks it only when its package changed (testbin.sh), then
# run per target from the package's directory, with go test's corpus
# cache, so that crashers land in the package's testdata/fuzz/ and fail the
# run.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/testbin.sh
fuzztime=${FUZZTIME:-10000x}
bin=bin/test/fuzz
store=$(testbin_store fuzz)
cache=$(go env GOCACHE)/fuzz

while read -r pkg dir; do
  grep -lq '^func Fuzz' "$dir"/*_test.go 2>/dev/null || continue
  name=$(realpath --relative-to=. "$dir" | tr / _).test
  test="$PWD/$bin/$name"
  echo "fuzz: building $pkg with coverage instrumentation"
  testbin_build "$store" "$name" "$test" -fuzz=. "$pkg"
  for target in $("$test" -test.list '^Fuzz' | grep '^Fuzz'); do
    echo "fuzz: $pkg $target ($fuzztime)"
    (cd "$dir" && "$test" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$fuzztime" \
      -test.fuzzcachedir "$cache/$pkg")
  done
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
