#!/usr/bin/env bash
# Installs what tests, lint and the demo run into .bin/ (git-ignored):
# VictoriaMetrics single node, vmagent and vmalert at a pinned version,
# staticcheck and sloth, all built with go install; the VictoriaMetrics cluster
# (vminsert, vmselect, vmstorage) from a checksummed archive (see
# install_vmcluster). A binary already there is skipped, so a second run
# costs nothing; delete .bin/ (or one file) to rebuild.
set -euo pipefail
cd "$(dirname "$0")/.."
VM_VERSION=${VM_VERSION:-v1.151.0}
# The cluster release in ../shared/vmcluster; tag $VMCLUSTER_VERSION-cluster.
VMCLUSTER_VERSION=${VMCLUSTER_VERSION:-v1.150.0}
# staticcheck 2026.2.2 (module version v0.8.2) understands Go 1.26; older
# releases (2025.1.x) fail on the newer standard library.
STATICCHECK_VERSION=${STATICCHECK_VERSION:-v0.8.2}
# Sloth, whose `sloth generate` output the -compat.sloth test compares
# slogate's series and alerts with (e2e/sloth_test.go).
SLOTH_VERSION=${SLOTH_VERSION:-v0.16.0}
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

# The cluster lives on VictoriaMetrics' cluster branch, tagged
# <version>-cluster, which the Go module proxy does not serve; go install
# cannot build it. It comes from a directory instead: $SLOGATE_VMCLUSTER_DIR
# when set, else ../shared/vmcluster beside the repository. The directory
# holds vmcluster-<version>-linux-amd64.tar.xz and its SHA256SUMS (the
# archive is used only when sha256sum -c accepts it), or the three
# binaries themselves. A binary is kept when its -version names
# $VMCLUSTER_VERSION-cluster, and replaced otherwise.
VMCLUSTER_APPS=(vmstorage vminsert vmselect)
vmcluster_fail() {
  echo "error: cannot install ${VMCLUSTER_APPS[*]} $VMCLUSTER_VERSION-cluster: $*" >&2
  echo "The Go module proxy does not serve VictoriaMetrics' -cluster tags. Put" >&2
  echo "vmcluster-$VMCLUSTER_VERSION-linux-amd64.tar.xz with its SHA256SUMS (or the three" >&2
  echo "binaries) in a directory and run: SLOGATE_VMCLUSTER_DIR=<that directory> make deps" >&2
  exit 1
}
vmcluster_current() { # $1 = binary; true when it is the pinned release
  [ -x "$1" ] && "$1" -version 2>/dev/null | grep -qF -- "-tags-$VMCLUSTER_VERSION-cluster-"
}
install_vmcluster() {
  local app src where archive tmp
  local current=1
  for app in "${VMCLUSTER_APPS[@]}"; do
    vmcluster_current "$BIN/$app" || current=0
  done
  if [ "$current" = 1 ]; then return; fi
  src=${SLOGATE_VMCLUSTER_DIR:-$(dirname "$PWD")/shared/vmcluster}
  where=$src
  if [ -z "${SLOGATE_VMCLUSTER_DIR:-}" ]; then
    where="$src (../shared/vmcluster beside the repository; SLOGATE_VMCLUSTER_DIR is not set)"
  fi
  archive=vmcluster-$VMCLUSTER_VERSION-linux-amd64.tar.xz
  tmp=$(mktemp -d "$BIN/.vmcluster.XXXXXX")
  trap 'rm -rf "$tmp"' EXIT
  if [ -f "$src/$archive" ]; then
    if [ "$(uname -s)/$(uname -m)" != Linux/x86_64 ]; then
      vmcluster_fail "$src/$archive holds linux/amd64 binaries, this is $(uname -s)/$(uname -m)"
    fi
    [ -f "$src/SHA256SUMS" ] || vmcluster_fail "no SHA256SUMS next to $src/$archive"
    # Check the copy that is unpacked, against its own line of SHA256SUMS.
    awk -v f="$archive" '$2 == f || $2 == "*" f' "$src/SHA256SUMS" >"$tmp/SHA256SUMS"
    [ -s "$tmp/SHA256SUMS" ] || vmcluster_fail "$src/SHA256SUMS has no line for $archive"
    cp "$src/$archive" "$tmp/"
    (cd "$tmp" && sha256sum --quiet -c SHA256SUMS) ||
      vmcluster_fail "$src/$archive does not match its checksum in $src/SHA256SUMS"
    tar -xJf "$tmp/$archive" -C "$tmp" "${VMCLUSTER_APPS[@]}" ||
      vmcluster_fail "cannot unpack $src/$archive"
  elif [ -x "$src/vminsert" ] && [ -x "$src/vmselect" ] && [ -x "$src/vmstorage" ]; then
    for app in "${VMCLUSTER_APPS[@]}"; do cp "$src/$app" "$tmp/"; done
  else
    vmcluster_fail "neither $archive nor the three binaries are in $where"
  fi
  for app in "${VMCLUSTER_APPS[@]}"; do
    vmcluster_current "$tmp/$app" ||
      vmcluster_fail "$src: $app -version says $("$tmp/$app" -version 2>&1 | head -n 1)"
  done
  echo "installing ${VMCLUSTER_APPS[*]} $VMCLUSTER_VERSION-cluster from $src into $BIN"
  for app in "${VMCLUSTER_APPS[@]}"; do mv -f "$tmp/$app" "$BIN/$app"; done
  rm -rf "$tmp"
  trap - EXIT
}
install_vmcluster

if [ ! -x "$BIN/staticcheck" ]; then
  echo "installing staticcheck $STATICCHECK_VERSION into $BIN"
  go install "honnef.co/go/tools/cmd/staticcheck@$STATICCHECK_VERSION"
fi

if [ ! -x "$BIN/sloth" ]; then
  echo "installing sloth $SLOTH_VERSION into $BIN"
  go install "github.com/slok/sloth/cmd/sloth@$SLOTH_VERSION"
fi
