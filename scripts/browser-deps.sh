#!/usr/bin/env bash
# What the browser test (tests/web_ui.rs) needs: Debian's headless Chromium and its WebDriver
# (chromedriver). Idempotent: when both answer already, it returns at once without touching apt.
# Usage: scripts/browser-deps.sh   (as root, or with sudo available)
set -euo pipefail

have() {
    command -v chromium >/dev/null 2>&1 && command -v chromedriver >/dev/null 2>&1
}

if have; then
    exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
        SUDO="sudo"
    else
        echo "browser-deps.sh: error: need root (or sudo) to install chromium and chromium-driver" >&2
        exit 1
    fi
fi

export DEBIAN_FRONTEND=noninteractive
echo "browser-deps.sh: installing chromium and chromium-driver" >&2
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends chromium chromium-driver fonts-dejavu-core >/dev/null

if ! have; then
    echo "browser-deps.sh: error: chromium or chromedriver still missing after apt-get install" >&2
    exit 1
fi
