# Entry points for developers and CI. Binaries of the real components and
# tools live in .bin/ (git-ignored), filled by `make deps`.
GO ?= go
BIN := $(CURDIR)/.bin
GO_TEST_TIMEOUT ?= 14m

.PHONY: all deps build lint test demo bench sampletarget

all: build

# VictoriaMetrics, vmagent, vmalert (v1.151.0) and staticcheck; skipped when present.
deps:
	scripts/install-deps.sh
	scripts/install-chromium.sh

build:
	$(GO) build -o slogate ./cmd/slogate

# gofmt must list nothing; vet and staticcheck must be silent.
lint: deps
	@unformatted="$$(gofmt -l .)"; \
	if [ -n "$$unformatted" ]; then echo "gofmt needed on:"; echo "$$unformatted"; exit 1; fi
	$(GO) vet ./...
	$(BIN)/staticcheck ./...

# Unit and end-to-end tests (real VictoriaMetrics, vmagent, slogate binaries)
# with the race detector; the whole run stays well under 15 minutes on 2 cores.
test: deps lint
	$(GO) test -race -count=1 -timeout $(GO_TEST_TIMEOUT) ./...

sampletarget:
	$(GO) build -o $(BIN)/sampletarget ./scripts/sampletarget

# VictoriaMetrics + slogate + vmagent scraping a sample ingress on 127.0.0.1;
# Ctrl-C stops everything. Ports and data dir: see scripts/demo.sh.
demo: deps build sampletarget
	scripts/demo.sh

bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./...
