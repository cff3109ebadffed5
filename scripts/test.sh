#!/usr/bin/env bash
# make test, after test-deps: the lint, the Go tests, the procblocking
# input's tests as PID 100 of a PID namespace, and a short fuzz pass.
#
# They run as two streams side by side. The end-to-end packages spend most
# of their time waiting (on real agents, alert thresholds, JetStream's
# redelivery, container engines), the other steps mostly compute: run one
# after the other, the machine idles through the waits. Each step's output
# is printed whole when it ends, so that the two streams do not interleave
# line by line; the summary says how long each step took. Every step runs
# even when one before it failed, and any failure fails the run.
set -uo pipefail
cd "$(dirname "$0")/.."
GO=${GO:-go}
FUZZTIME=${FUZZTIME:-1000x}
logs=$(mktemp -d)
trap 'rm -rf "$logs"' EXIT

# step NAME COMMAND...: runs the command with its output in NAME's log,
# then prints the log and records the outcome, the seconds it took and the
# CPU seconds it used (user and system, its children's included): on 2
# vCPUs the CPU, not the waiting, sets how short the whole run can be.
step() {
  local name=$1 start=$SECONDS rc=0 cpu shown
  shift
  # The unit step names every package: the header shows the command's start.
  shown="$*"
  [ "${#shown}" -le 120 ] || shown="${shown:0:117}..."
  cpu=$( { TIMEFORMAT='%U %S'; time "$@" >"$logs/$name.log" 2>&1; } 2>&1 ) || rc=$?
  cpu=$(awk '{printf "%.0f", $1 + $2}' <<<"$cpu")
  {
    echo "=== $name: $shown ($((SECONDS - start))s, ${cpu}s of CPU, $([ "$rc" -eq 0 ] && echo ok || echo "FAILED, exit $rc"))"
    cat "$logs/$name.log"
  } | flock "$logs" cat
  printf '%-8s %4ds  %4ds CPU  %s\n' "$([ "$rc" -eq 0 ] && echo ok || echo FAILED)" "$((SECONDS - start))" "$cpu" "$name" >>"$logs/summary"
  return "$rc"
}

e2e() {
  local rc=0
  step e2e env BINDIR=bin/test/e2e scripts/gotest.sh ./e2e/... || rc=1
  step fuzz env FUZZTIME="$FUZZTIME" scripts/fuzz.sh || rc=1
  return "$rc"
}

others() {
  local rc=0 skip='/e2e'
  # As root, the procblocking input's tests run in the PID namespace, as
  # PID 100: running them here too would only repeat them.
  if [ "$(id -u)" -eq 0 ]; then
    skip='/e2e|/plugins/inputs/procblocking$'
  fi
  step lint scripts/lint.sh || rc=1
  # shellcheck disable=SC2046 # one package per word
  step unit scripts/gotest.sh $("$GO" list ./... | grep -Ev "$skip") || rc=1
  step pidns scripts/test-in-pidns.sh || rc=1
  return "$rc"
}

start=$SECONDS
e2e & e2e_pid=$!
# The container tests' chain of engines, image builds and stack tests is
# the longest of the run: the other stream yields the CPU to it and takes
# the rest. Fuzzing follows the end-to-end tests, whose stream has the
# shorter CPU load when the other's test binaries need linking.
(renice -n 10 -p "$BASHPID" >/dev/null && others) & others_pid=$!
failed=0
wait "$e2e_pid" || failed=1
wait "$others_pid" || failed=1

cpu=$(awk '{cpu += $3} END {print cpu}' "$logs/summary")
echo "=== summary: ${cpu}s of CPU in $((SECONDS - start))s; e2e and fuzz alongside lint, unit and pidns"
cat "$logs/summary"
exit "$failed"
