# procblocking: a Telegraf input, processor and output that catch processes
# that should have died. `make run` starts the watchdog, `make test` proves it.

GO       ?= go
BIN      := bin/telegraf-procblocking
# Seconds each fuzz target runs: a short pass in `make test`, a long one in `make fuzz`.
FUZZTIME ?= 3s
# Runs per benchmark; docs/benchmarks.md reports medians over these.
BENCHCOUNT ?= 5

.PHONY: all build image test test-deps run demo bench fuzz soak lint

all: build

# The project's version for --version: the git description when there is one.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)

build:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-X main.version=$(VERSION)" -o $(BIN) ./cmd/telegraf-procblocking

## image: the container image, with this version (ENGINE=podman to build with podman).
ENGINE ?= docker
image:
	$(ENGINE) build --build-arg VERSION=$(VERSION) -t procblocking/telegraf-procblocking:latest .

## test: everything CI runs. Installs what the tests need (InfluxDB, the container engine) first.
test: test-deps lint
	$(GO) test -race -count=1 ./...
	FUZZTIME=$(FUZZTIME) scripts/fuzz.sh

test-deps:
	scripts/install-test-deps.sh
	scripts/install-container-engine.sh

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
	FUZZTIME=60s scripts/fuzz.sh

## soak: the real binary for 10 minutes over 500 processes that come and go.
soak: build
	$(GO) test -tags soak -run Soak -count=1 -timeout 30m -v ./e2e/

lint:
	@unformatted=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$unformatted" ]; then echo "gofmt needed: $$unformatted"; exit 1; fi
	$(GO) vet ./...
