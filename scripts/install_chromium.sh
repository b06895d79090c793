#!/usr/bin/env bash
# Installs Debian's Chromium and its chromedriver (same version, Debian package chromium-driver)
# for the browser tests; does nothing when both are already there.
# The report test opens report.html in a real browser to prove planted markup stays inert text;
# the web tests drive the web app with Selenium through /usr/bin/chromedriver (no Selenium
# Manager download).
set -euo pipefail
if [ -x /usr/bin/chromium ] && [ -x /usr/bin/chromedriver ]; then
    exit 0
fi
if [ "$(id -u)" -eq 0 ]; then
    SUDO=""
elif command -v sudo >/dev/null 2>&1; then
    SUDO="sudo -n"   # -n: fail instead of hanging on a password prompt inside a test run
else
    echo "install_chromium.sh: not root and no sudo; install the Debian packages 'chromium' and 'chromium-driver' by hand" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -q
$SUDO apt-get install -y -q --no-install-recommends chromium chromium-driver
test -x /usr/bin/chromium
test -x /usr/bin/chromedriver
