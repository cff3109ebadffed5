#!/usr/bin/env bash
# Installs what `make test` needs and a fresh machine lacks: a real InfluxDB 1.x
# server (Debian's `influxdb` package), a real NATS server with JetStream
# (Debian's `nats-server`), and pytest with pytest-xdist for the system's
# python3 (`python3-pytest`, `python3-pytest-xdist`), which the input's tests
# run as a real `pytest -n 2`. The tests start their own influxd and
# nats-server on 127.0.0.1 with temporary data directories, so the packaged
# services are kept from starting.
set -euo pipefail

packages=()
command -v influxd >/dev/null 2>&1 || packages+=(influxdb)
command -v nats-server >/dev/null 2>&1 || packages+=(nats-server)
/usr/bin/python3 -c 'import pytest, xdist' >/dev/null 2>&1 || packages+=(python3-pytest python3-pytest-xdist)
if [ ${#packages[@]} = 0 ]; then
  exit 0
fi
if [ "$(id -u)" != 0 ]; then
  echo "${packages[*]} missing and this is not root: the tests that need them will skip." >&2
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
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
command -v influxd nats-server
/usr/bin/python3 -c 'import pytest, xdist'
