#!/usr/bin/env bash
# Installs Caddy, the real ingress router of `make demo` and its end-to-end
# test, into .bin/ (git-ignored) with go install: no download other than Go
# modules. Skipped when .bin/caddy is there; delete it to rebuild. The first
# build takes a few minutes (Caddy has many dependencies).
set -euo pipefail
cd "$(dirname "$0")/.."
CADDY_VERSION=${CADDY_VERSION:-v2.11.9}
BIN=${SLOGATE_BIN_DIR:-$PWD/.bin}
if [ -x "$BIN/caddy" ]; then exit 0; fi
mkdir -p "$BIN"
echo "installing caddy $CADDY_VERSION into $BIN"
GOBIN="$BIN" CGO_ENABLED=${CGO_ENABLED:-0} go install "github.com/caddyserver/caddy/v2/cmd/caddy@$CADDY_VERSION"
