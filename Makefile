# procblocking: a Telegraf input, processor and output that catch processes
# that should have died. `make run` starts the watchdog, `make test` proves it.

GO       ?= go
BIN      := bin/telegraf-procblocking
# Telegraf configurations (files, or directories of *.conf) whose upstream
# plugins `make build` compiles in besides the default set, so that the binary
# can replace the Telegraf that runs them.
TELEGRAF_CONFIG ?=
# Every upstream plugin type, selected whole by `make build-full`.
ALL_PLUGIN_TYPES := aggregators,inputs,outputs,parsers,processors,secretstores,serializers
# Executions of each fuzz target: a short pass in `make test` (the seed
# corpora run in every `go test` too), a long one in `make fuzz`. Counts, not
# durations: with a duration, Go 1.26's fuzzing coordinator can fail a target
# with "context deadline exceeded" as the time runs out (golang/go#75804,
# fixed in Go 1.27), which a loaded machine hits.
FUZZTIME ?= 1000x
# Runs per benchmark; docs/benchmarks.md reports medians over these.
BENCHCOUNT ?= 5

.PHONY: all build build-full image image-modules test test-deps run demo bench fuzz soak lint

all: build

# The project's version for --version: the git description when there is one.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

## build: the binary with this project's plugins and the default set of
## upstream ones; with TELEGRAF_CONFIG="files or directories", also every
## upstream plugin those configurations use (see tools/plugintags).
build:
ifeq ($(strip $(TELEGRAF_CONFIG)),)
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/telegraf-procblocking
else
	@tags=$$($(GO) run ./tools/plugintags $(TELEGRAF_CONFIG)) && \
	echo "CGO_ENABLED=0 $(GO) build -tags $$tags ... -o $(BIN)" && \
	CGO_ENABLED=0 $(GO) build -trimpath -tags "$$tags" -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/telegraf-procblocking
endif

## build-full: the binary with every upstream plugin, as stock Telegraf has.
build-full:
	CGO_ENABLED=0 $(GO) build -trimpath -tags "custom,$(ALL_PLUGIN_TYPES)" -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/telegraf-procblocking

## image-modules: the list of modules the image's Dockerfile downloads (after a go.mod change).
image-modules:
	scripts/image-modules.sh > image-modules.txt

## image: the container image, with this version (ENGINE=podman to build with podman).
ENGINE ?= docker
image:
	$(ENGINE) build --build-arg VERSION=$(VERSION) -t procblocking/telegraf-procblocking:latest .

## test: everything CI runs. Installs what the tests need (InfluxDB, the container engine) first.
test: test-deps
	GO=$(GO) FUZZTIME=$(FUZZTIME) scripts/test.sh

test-deps:
	scripts/install-test-deps.sh
	scripts/install-container-engine.sh
	scripts/install-compose-v2.sh

## run: the watchdog on its embedded default config (pytest older than 60m, alerts on stdout).
run: build
	$(BIN)

## demo: alert, realert and recovery of a pytest-like orphan within a minute.
demo: build
	BIN=$(BIN) scripts/demo.sh

## bench: the scan and processor benchmarks (see docs/benchmarks.md).
bench:
	$(GO) test -run '^$$' -bench . -benchmem -count $(BENCHCOUNT) -timeout 60m ./benchmarks/

fuzz:
	FUZZTIME=1000000x scripts/fuzz.sh

## soak: the real binary for 10 minutes over 500 processes that come and go.
soak: build
	$(GO) test -tags soak -run Soak -count=1 -timeout 30m -v ./e2e/

## lint: gofmt, go vet, staticcheck, errcheck and Telegraf's README linter (scripts/lint.sh).
lint:
	scripts/lint.sh
