#!/usr/bin/env bash
# Prints the modules the image's binary is built from, as image-modules.txt
# holds them: the Dockerfile downloads these in a layer of their own, rather
# than every module go.mod's graph names (about six times as many, most of
# them for tests and for plugins the default build leaves out).
# `make image-modules` writes the file; `make lint` checks it.
set -euo pipefail
cd "$(dirname "$0")/.."
for arch in amd64 arm64; do
  CGO_ENABLED=0 GOOS=linux GOARCH=$arch go list -deps \
    -f '{{with .Module}}{{if not .Main}}{{.Path}}{{end}}{{end}}' ./cmd/telegraf-procblocking
done | sort -u | sed '/^$/d'
