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

.PHONY: all build run test test-deps fmt-check vet bench bench-deps bench-micro fuzz clean

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

# test installs what the tests need, checks formatting and vet, then runs
# every test with the race detector.
test: test-deps fmt-check vet
	$(GO) test -race -count=1 -timeout 15m $(PKGS)

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
	for p in nginx:nginx-light haproxy:haproxy wrk:wrk; do \
		command -v $${p%%:*} >/dev/null 2>&1 || [ -x /usr/sbin/$${p%%:*} ] || missing="$$missing $${p#*:}"; \
	done; \
	if [ -n "$$missing" ]; then echo "installing$$missing"; apt-get update -qq && $(APT) $$missing >/dev/null; fi

# bench-micro runs the Go benchmarks of the hot paths.
bench-micro:
	$(GO) test -run '^$$' -bench . -benchmem -count 5 $(PKGS) | tee bench/results/micro.txt

fuzz:
	$(GO) test -run '^$$' -fuzz FuzzParse -fuzztime 60s ./edge/config/
	$(GO) test -run '^$$' -fuzz FuzzCompileMatch -fuzztime 60s ./edge/route/

clean:
	rm -rf $(BIN)
