#!/usr/bin/env bash
# Debian's Chromium for the UI's browser tests (Playwright's own browser download is not
# reachable from CI); Playwright drives it through its executable path.
set -euo pipefail
if [ ! -x /usr/bin/chromium ]; then
    SUDO=""
    [ "$(id -u)" = "0" ] || SUDO="sudo"
    $SUDO apt-get update -q
    DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium
fi
/usr/bin/chromium --version
