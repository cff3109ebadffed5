#!/usr/bin/env bash
# Installs what `make test` needs and a fresh machine lacks: a real InfluxDB 1.x
# server (Debian's `influxdb` package) and a real NATS server with JetStream
# (Debian's `nats-server`). The tests start their own influxd and nats-server
# on 127.0.0.1 with temporary data directories, so the packaged services are
# kept from starting.
set -euo pipefail

if command -v influxd >/dev/null 2>&1 && command -v nats-server >/dev/null 2>&1; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "influxd or nats-server is missing and this is not root: the tests that need them will skip." >&2
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
apt-get install -y -qq --no-install-recommends influxdb nats-server >/dev/null
command -v influxd nats-server
