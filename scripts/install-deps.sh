#!/usr/bin/env bash
# Installs what tests, lint and the demo run into .bin/ (git-ignored):
# VictoriaMetrics single node, vmagent and vmalert at a pinned version, and
# staticcheck, all built with go install. A binary already there is skipped,
# so a second run costs nothing; delete .bin/ (or one file) to rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
VM_VERSION=${VM_VERSION:-v1.151.0}
# staticcheck 2026.2.2 (module version v0.8.2) understands Go 1.26; older
# releases (2025.1.x) fail on the newer standard library.
STATICCHECK_VERSION=${STATICCHECK_VERSION:-v0.8.2}
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
# The cluster (vminsert, vmselect, vmstorage) lives on VictoriaMetrics'
# cluster branch, tagged <version>-cluster. A module proxy that does not
# serve that tag is not fatal: internal/testenv then stands in for the
# cluster (see StartCluster) and says so in the test log.
for app in vmstorage vminsert vmselect; do
  VM_VERSION=$VM_VERSION-cluster install_vm "$app" "$app" ||
    echo "warning: cannot install $app $VM_VERSION-cluster; cluster tests use a stand-in" >&2
done
if [ ! -x "$BIN/staticcheck" ]; then
  echo "installing staticcheck $STATICCHECK_VERSION into $BIN"
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi
