#!/usr/bin/env bash
# Runs the procblocking input's tests once more, inside a fresh PID namespace
# whose next PID is set so that the test binary runs as PID 100: a PID that
# the fake proc trees hold (proc_basic's first pytest, the first process of
# the many-matching tree). A test or a scanner that takes "self" from the PID
# it runs as, instead of from the proc root, fails here. Needs root; without
# it, it says loudly that it did not run.
set -euo pipefail
cd "$(dirname "$0")/.."
pkg=plugins/inputs/procblocking
pid=100

if [ "$(id -u)" -ne 0 ]; then
  cat >&2 <<MSG
########################################################################
# test-in-pidns: NOT RUN. A PID namespace and its ns_last_pid need root,
# so the $pkg tests did NOT run as PID $pid. Run as root (CI does).
########################################################################
MSG
  exit 0
fi
if ! command -v unshare >/dev/null; then
  echo "test-in-pidns: unshare (util-linux) is missing" >&2
  exit 1
fi

# Kept where scripts/gotest.sh keeps the race-enabled test binaries, built
# as it builds them: go test relinks it only when the package changed.
. scripts/testbin.sh
bin=$PWD/bin/test/race/procblocking.test
store=$(testbin_store race)
echo "test-in-pidns: building the $pkg tests"
testbin_build "$store" procblocking.test "$bin" -race "./$pkg"
echo "test-in-pidns: running them as PID $pid of a new PID namespace"
cd "$pkg"
# bash is PID 1 of the namespace. Setting ns_last_pid and forking are the
# only things it does, so the subshell that execs the tests gets PID $pid.
unshare --pid --fork --kill-child --mount-proc bash -c '
  echo $(( $1 - 1 )) > /proc/sys/kernel/ns_last_pid || exit 1
  ( exec "$2" -test.count=1 ) &
  child=$!
  if [ "$child" -ne "$1" ]; then
    echo "test-in-pidns: the tests got PID $child, not $1" >&2
    kill "$child"
    exit 1
  fi
  wait "$child"
' _ "$pid" "$bin"
echo "test-in-pidns: ok, the $pkg tests passed as PID $pid"
