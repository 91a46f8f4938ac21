# The gateway's build, demo, tests and benchmarks. Everything a target
# needs that Go does not fetch itself (redis-server, nginx, haproxy, wrk)
# is installed from Debian's packages when missing.

GO       ?= go
BIN      := bin
COMMIT   := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)
VERSION  := $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
LDFLAGS  := -s -w -X main.version=$(VERSION) -X main.commit=$(COMMIT)
PKGS     := ./...
APT      := DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends

.PHONY: all build run test test-deps fmt-check vet bench bench-deps bench-micro fuzz loadtest clean

all: build

build:
	$(GO) build -trimpath -ldflags '$(LDFLAGS)' -o $(BIN)/gateway ./cmd/gateway
	$(GO) build -trimpath -o $(BIN)/demo-backends ./cmd/demo-backends

# run starts the demo backends and the gateway (embedded mode, no Redis) in
# the foreground; Ctrl-C stops both.
run: build
	@echo "demo: curl -i localhost:8080/api/users/1   (metrics: curl localhost:9901/metrics)"
	@$(BIN)/demo-backends & pid=$$!; \
	trap 'kill $$pid 2>/dev/null' EXIT INT TERM; \
	$(BIN)/gateway -config config/demo.yaml

# test installs what the tests need, checks formatting and vet, runs every
# test with the race detector, then once more without it for the tests the
# race detector would distort (allocation counts, the million-request
# memory test: files tagged !race), then every fuzz target briefly.
test: test-deps fmt-check vet
	$(GO) test -race -count=1 -timeout 15m $(PKGS)
	$(GO) test -count=1 -timeout 10m -run 'Allocat|Flood|NoRace' $$($(GO) list $(PKGS) | grep -v /loadtest)
	@$(MAKE) --no-print-directory fuzz FUZZTIME=2s

test-deps:
	@command -v redis-server >/dev/null 2>&1 || { \
		echo "installing redis-server"; \
		(apt-get update -qq && $(APT) redis-server) >/dev/null || \
		{ echo "cannot install redis-server (run as root, or install it)"; exit 1; }; }

fmt-check:
	@out=$$(gofmt -l $$(git ls-files '*.go' 2>/dev/null || find . -name '*.go')); \
	if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

vet:
	$(GO) vet $(PKGS)

# bench runs the whole-process comparison against nginx and HAProxy and
# rewrites BENCHMARKS.md.
bench: build bench-deps
	bash bench/run.sh

bench-deps:
	@missing=""; \
	for p in nginx:nginx-light haproxy:haproxy wrk:wrk redis-server:redis-server; do \
		command -v $${p%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${p%%:*} ] || missing="$$missing $${p#*:}"; \
	done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && $(APT) $$missing >/dev/null; fi
	@command -v vegeta >/dev/null 2>&1 || [ -x "$$($(GO) env GOPATH)/bin/vegeta" ] || \
		$(GO) install github.com/tsenart/vegeta/v12@v12.12.0
	@command -v benchstat >/dev/null 2>&1 || [ -x "$$($(GO) env GOPATH)/bin/benchstat" ] || \
		$(GO) install golang.org/x/perf/cmd/benchstat@v0.0.0-20260908200009-22c9c6c9d4da

# bench-micro runs the Go benchmarks of the hot paths and compares them
# with the previous run's (benchstat).
bench-micro: bench-deps
	bash bench/micro.sh

# loadtest runs the load scenarios of loadtest/ in their long forms (about
# 25 minutes); make test runs their short forms.
loadtest: test-deps
	LOADTEST_LONG=1 $(GO) test -count=1 -v -timeout 60m ./loadtest/

# fuzz runs every fuzz target in the module for FUZZTIME each; new
# failing inputs land in the package's testdata/fuzz and fail plain
# go test from then on.
#
# Go 1.26's fuzz coordinator can report its own -fuzztime deadline as a
# failure, "context deadline exceeded" with no failing input
# (golang/go#75804, fixed in Go 1.27). Such a run found nothing and is
# counted as passed; any run that writes a failing input, or fails in any
# other way, stops make.
FUZZTIME ?= 60s
fuzz:
	@set -e; for f in $$(grep -rl --include='*_test.go' '^func Fuzz' . | sort); do \
		dir=$$(dirname $$f); \
		for fn in $$(sed -n 's/^func \(Fuzz[A-Za-z0-9_]*\)(.*/\1/p' $$f); do \
			echo "fuzz $$dir $$fn ($(FUZZTIME))"; \
			if out=$$($(GO) test -run '^$$' -fuzz "^$$fn$$" -fuzztime $(FUZZTIME) -fuzzminimizetime 5s $$dir 2>&1); then \
				continue; \
			fi; \
			if echo "$$out" | grep -q '^    context deadline exceeded$$' && \
				! echo "$$out" | grep -q 'Failing input written'; then \
				echo "  deadline race of the Go fuzz coordinator (golang/go#75804), no failing input: passed"; \
				continue; \
			fi; \
			echo "$$out" | tail -40; exit 1; \
		done; \
	done

clean:
	rm -rf $(BIN)
