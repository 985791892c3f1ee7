#!/usr/bin/env bash
# Installs the real components that tests and the demo run: VictoriaMetrics
# single node, vmagent and vmalert at a pinned version, built with go install
# into .bin/ (git-ignored). A binary that is already there is skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
VM_VERSION=${VM_VERSION:-v1.151.0}
BIN=${SLOGATE_BIN_DIR:-$PWD/.bin}
mkdir -p "$BIN"
export GOBIN="$BIN"
# VictoriaMetrics requires cgo-free static builds to be reproducible here.
export CGO_ENABLED=${CGO_ENABLED:-0}
install_vm() { # $1 = app directory, $2 = binary name
  if [ -x "$BIN/$2" ]; then return; fi
  echo "installing $2 $VM_VERSION into $BIN"
  go install "github.com/VictoriaMetrics/VictoriaMetrics/app/$1@$VM_VERSION"
}
install_vm victoria-metrics victoria-metrics
install_vm vmagent vmagent
install_vm vmalert vmalert
