#!/usr/bin/env bash
# Installs Debian's Chromium for the report's browser test; does nothing when it is already there.
# The report test opens report.html in a real browser to prove planted markup stays inert text.
set -euo pipefail
if [ -x /usr/bin/chromium ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"   # -n: fail instead of hanging on a password prompt inside a test run
else
    echo "install_chromium.sh: not root and no sudo; install the Debian package 'chromium' by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium
test -x /usr/bin/chromium
