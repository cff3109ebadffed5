#!/usr/bin/env bash
# `make demo`: the whole alert cycle in under a minute. Starts a pytest-like
# orphan (in a new PID namespace when root, as in a container whose agent was
# killed), runs the watchdog at threshold 5s / cooldown 10s / interval 1s and
# shows the alert, the realert and, once the demo kills the orphan, the
# recovery. Every process it starts ends when it exits, however it exits.
set -euo pipefail
cd "$(dirname "$0")/.."

BIN=${BIN:-bin/telegraf-procblocking}
[ -x "$BIN" ] || make build

work=$(mktemp -d)
pids=()
cleanup() {
  for pid in "${pids[@]}"; do
    kill -KILL "$pid" 2>/dev/null || true
  done
  wait 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

marker="demo$$"
export ORPHAN_ARGV0="python3 -m pytest tests/test_${marker}.py -x"

# The orphan's name travels in the environment so that no other process's
# command line matches the demo's pattern.
if [ "$(id -u)" = 0 ] && command -v unshare >/dev/null; then
  echo "demo: starting a pytest-like orphan in a new PID namespace (its parent exits, the namespace's init adopts it)"
  unshare --pid --fork --kill-child \
    bash -c '( exec -a "$ORPHAN_ARGV0" sleep 600 & ); exec -a "tini -- pytest" sleep 600' &
  pids+=($!)
else
  echo "demo: not root: starting a pytest-like process whose parent exits"
  bash -c '( exec -a "$ORPHAN_ARGV0" sleep 600 & )'
fi

orphan=""
for _ in $(seq 100); do
  for dir in /proc/[0-9]*; do
    read -r -d '' argv0 <"$dir/cmdline" 2>/dev/null || true
    if [ "$argv0" = "$ORPHAN_ARGV0" ]; then
      orphan=${dir#/proc/}
      break 2
    fi
  done
  sleep 0.1
done
if [ -z "$orphan" ]; then
  echo "demo: the orphan did not start" >&2
  exit 1
fi
pids+=("$orphan")
echo "demo: orphan PID $orphan: $ORPHAN_ARGV0"

cat >"$work/demo.conf" <<CONF
[agent]
  interval = "1s"
  flush_interval = "1s"
  skip_processors_after_aggregators = true

[[inputs.procblocking]]
  patterns = ["test_${marker}.py"]

[[processors.alertstate]]
  threshold = "5s"
  cooldown = "10s"
  ## No group window: each event goes out at the scan that makes it.
  group_interval = "0s"
  state_file = "$work/alertstate.json"

[[outputs.file]]
  namepass = ["procblocking_alert"]
  files = ["stdout"]
  data_format = "template"
  template = '''
{{ .Time.UTC.Format "15:04:05" }} [{{ .Tag "event" }}] {{ .Field "message" }}

'''
CONF

echo "demo: running $BIN at threshold 5s, cooldown 10s, interval 1s"
echo
"$BIN" --config "$work/demo.conf" --quiet >"$work/events.txt" 2>"$work/agent.log" &
pids+=($!)
tail -n +1 -f "$work/events.txt" &
pids+=($!)

# wait_for PATTERN SECONDS: until the events show PATTERN.
wait_for() {
  for _ in $(seq $(($2 * 10))); do
    grep -qF -- "$1" "$work/events.txt" && return 0
    sleep 0.1
  done
  echo "demo: no '$1' event within $2 s; agent log:" >&2
  cat "$work/agent.log" >&2
  return 1
}

wait_for "[alert]" 20
wait_for "[realert]" 25
echo "demo: killing the orphan (PID $orphan) to show the recovery"
kill -KILL "$orphan"
wait_for "[recovery]" 10
sleep 0.3
echo "demo: done: alert, realert and recovery shown; stopping everything it started"
