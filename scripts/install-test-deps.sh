#!/usr/bin/env bash
# Installs what `make test` needs and a fresh machine lacks: a real InfluxDB 1.x
# server (Debian's `influxdb` package). The tests start their own influxd on
# 127.0.0.1 with a temporary data directory, so the packaged service is kept
# from starting.
set -euo pipefail

if command -v influxd >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "influxd is missing and this is not root: the InfluxDB end-to-end test will skip." >&2
  exit 0
fi

# policy-rc.d exit 101 tells invoke-rc.d not to start the packaged service.
policy=/usr/sbin/policy-rc.d
own_policy=0
if [ ! -e "$policy" ]; then
  printf '#!/bin/sh\nexit 101\n' >"$policy"
  chmod +x "$policy"
  own_policy=1
fi
trap '[ "$own_policy" = 1 ] && rm -f "$policy"' EXIT

export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends influxdb >/dev/null
command -v influxd
