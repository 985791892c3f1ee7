#!/usr/bin/env bash
# Installs Debian's chromium and chromium-driver, which the page's
# end-to-end test (e2e/page_test.go) drives: headless Chromium renders
# /slogate/ and chromedriver speaks WebDriver (plain JSON over HTTP) so the
# test needs no browser library. Skipped when both binaries are present, so a
# second run costs nothing. Needs root (or sudo) for apt-get.
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
  exit 0
fi
SUDO=
if [ "$(id -u)" != 0 ]; then
  SUDO=sudo
fi
echo "installing chromium and chromium-driver with apt-get"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver
