# Entry points for developers and CI. Binaries of the real components and
# tools live in .bin/ (git-ignored), filled by `make deps`.
GO ?= go
BIN := $(or $(SLOGATE_BIN_DIR),$(CURDIR)/.bin)
GO_TEST_TIMEOUT ?= 14m

.PHONY: all deps test-deps build lint test demo bench

all: build

# VictoriaMetrics, vmagent, vmalert (v1.151.0), staticcheck, sloth (v0.16.0,
# for the -compat.sloth test) and Caddy (the demo's router) via go install; vminsert, vmselect, vmstorage
# (v1.150.0-cluster) from ../shared/vmcluster or $SLOGATE_VMCLUSTER_DIR,
# checksum verified. Skipped when present.
deps:
	scripts/install-deps.sh
	scripts/install-caddy.sh

# The page's browser test also needs Debian's chromium and chromedriver.
test-deps: deps
	scripts/install-chromium.sh

# The version slogate -version prints; without git, Go's own record.
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null)

build:
	$(GO) build -ldflags "-X main.version=$(VERSION)" -o slogate ./cmd/slogate

# gofmt must list nothing; vet and staticcheck must be silent.
lint: deps
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

# Unit and end-to-end tests (real VictoriaMetrics, vmagent, slogate binaries)
# with the race detector; the whole run stays well under 15 minutes on 2 cores.
# The allocation tests run once more without -race, whose sync.Pool drops
# objects at random.
test: test-deps lint
	$(GO) test -race -count=1 -timeout $(GO_TEST_TIMEOUT) ./...
	$(GO) test -count=1 -run 'Alloc' ./budget ./maintenance ./proxy ./remotewrite ./synthetic ./ui

# VictoriaMetrics, slogate, vmagent and Caddy in front of demo backends: a
# month of history first, then days of live traffic (an incident, a planned
# maintenance window) on 127.0.0.1; Ctrl-C stops everything. The ports are
# checked before anything is installed. Ports, data dir and pace: see
# scripts/demo.sh.
demo:
	@scripts/demo.sh --check-ports
	@$(MAKE) --no-print-directory deps build
	@scripts/demo.sh

# The comparative benchmark: slogate against VictoriaMetrics written to
# directly and against vmagent, real binaries on 127.0.0.1, pinned with
# taskset (about 40 minutes on 2 cores, up to 12 GiB of memory); writes bench/RESULTS.md, logs and
# raw figures in bench/out/ (git-ignored). Microbenchmarks and the benchstat
# recipe: bench/README.md. Extra harness flags: make bench BENCH_FLAGS='-duration=4s'
bench: deps
	$(GO) run ./bench/harness $(BENCH_FLAGS)
