#!/usr/bin/env bash
# gotest.sh PACKAGE...: `go test -race -count=1 -parallel 8 -timeout 30m` of
# the packages, with each package's test binary kept in $BINDIR
# (bin/test/race/ unless set: two runs at once each need their own, since go
# checks only within one run that no two binaries share a name).
#
# go test links every package's test binary again at every run, two to six
# seconds of CPU each with the race detector and Telegraf's dependencies:
# half the CPU time of the packages' own tests. `go test -c` into a kept
# directory relinks a binary only when one of its inputs changed (see
# testbin.sh for where they are kept). The
# binaries then run as go test runs them: from their package's directory,
# as many packages at once as there are CPUs, each package's output shown
# only when it fails, "ok" or "FAIL" with the package's time otherwise.
#
# go vet runs in the lint, on every package and its tests: go test's own
# vet pass would repeat part of it. -trimpath keeps the checkout's path out
# of the compiled packages, so that a fresh clone compiles none of them
# again when another checkout on the machine already did.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
. scripts/testbin.sh
bins=${BINDIR:-bin/test/race}
mkdir -p "$bins"
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT
mapfile -t pkgs < <("$GO" list -f '{{if or .TestGoFiles .XTestGoFiles}}{{.ImportPath}} {{.Dir}}{{end}}' "$@")

# go names each binary after the last element of its import path, and
# refuses two packages that would share one.
store=$(testbin_store "$(basename "$bins")") && testbin_lock "$store" || exit 1
"$GO" test -c -race -trimpath -vet=off -o "$store/" "$@" || exit 1
for p in "${pkgs[@]}"; do
  name=${p%% *}
  testbin_take "$store/${name##*/}.test" "$bins/${name##*/}.test" || exit 1
done
exec 9>&-

# run PACKAGE DIR: the package's tests, reported as go test reports them.
run() {
  local pkg=$1 dir=$2 bin start rc=0 log=$logs/$BASHPID.log
  bin=$PWD/$bins/${pkg##*/}.test
  start=${EPOCHREALTIME/,/.}
  # As go test does: a test that calls os.Exit(0) fails, and the binary is
  # ended a minute after its own timeout should it hang past it.
  (cd "$dir" && timeout --signal=QUIT 31m "$bin" -test.paniconexit0 -test.count=1 \
    -test.parallel=8 -test.timeout=30m) >"$log" 2>&1 || rc=$?
  local took
  took=$(awk -v s="$start" -v e="${EPOCHREALTIME/,/.}" 'BEGIN {printf "%.3fs", e - s}')
  {
    if [ "$rc" -eq 0 ]; then
      printf 'ok  \t%s\t%s\n' "$pkg" "$took"
    else
      cat "$log"
      printf 'FAIL\t%s\t%s\n' "$pkg" "$took"
      touch "$logs/failed"
    fi
  } | flock "$logs" cat
}

slots=$(nproc)
for p in "${pkgs[@]}"; do
  while [ "$(jobs -rp | wc -l)" -ge "$slots" ]; do
    wait -n
  done
  run "${p%% *}" "${p#* }" &
done
wait
[ ! -e "$logs/failed" ]
