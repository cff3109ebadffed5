#!/usr/bin/env bash
# Installs what `make test` needs and a fresh machine lacks: a real InfluxDB 1.x
# server (Debian's `influxdb` package), and pytest with pytest-xdist for the
# system's python3 (`python3-pytest`, `python3-pytest-xdist`), which the input's
# tests run as a real `pytest -n 2`. The tests start their own influxd on
# 127.0.0.1 with a temporary data directory, so the packaged service is kept
# from starting.
set -euo pipefail

packages=()
command -v influxd >/dev/null 2>&1 || packages+=(influxdb)
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
command -v influxd
/usr/bin/python3 -c 'import pytest, xdist'
