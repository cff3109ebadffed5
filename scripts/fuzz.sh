#!/usr/bin/env bash
# Runs every Go fuzz target in the module for FUZZTIME each, a duration or a
# count of executions such as 10000x. Go fuzzes one target per run, and a
# `go test -fuzz` per target would link its package's instrumented test
# binary again each time: each package's binary is built once here, into
# bin/test/fuzz/ where go test relinks it only when its package changed
# (-trimpath: a fresh clone reuses what another checkout compiled),
# then run per target from the package's directory, with go test's corpus
# cache, so that crashers land in the package's testdata/fuzz/ and fail the
# run.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime=${FUZZTIME:-10000x}
bin=bin/test/fuzz
mkdir -p "$bin"
cache=$(go env GOCACHE)/fuzz

while read -r pkg dir; do
  grep -lq '^func Fuzz' "$dir"/*_test.go 2>/dev/null || continue
  test="$PWD/$bin/$(realpath --relative-to=. "$dir" | tr / _).test"
  echo "fuzz: building $pkg with coverage instrumentation"
  go test -c -trimpath -vet=off -fuzz=. -o "$test" "$pkg"
  for target in $("$test" -test.list '^Fuzz' | grep '^Fuzz'); do
    echo "fuzz: $pkg $target ($fuzztime)"
    (cd "$dir" && "$test" -test.run '^$' -test.fuzz "^${target}\$" -test.fuzztime "$fuzztime" \
      -test.fuzzcachedir "$cache/$pkg")
  done
done < <(go list -f '{{.ImportPath}} {{.Dir}}' ./...)
