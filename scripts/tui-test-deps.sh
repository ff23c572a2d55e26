#!/usr/bin/env bash
# What the TUI's end-to-end test (tests/tui.rs) needs beyond the rest of the suite: tmux, which
# runs `novadev status` in a real pseudo-terminal so the test can type keys (send-keys) and read
# the screen (capture-pane). Idempotent: when tmux is there this is one `command -v`.
set -euo pipefail

fail() {
    echo "tui-test-deps.sh: error: $*" >&2
    exit 1
}

if command -v tmux >/dev/null 2>&1; then
    exit 0
fi

sudo=()
if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null 2>&1 || fail "tmux is missing and installing it needs root (or sudo)"
    sudo=(sudo -n)
fi
command -v apt-get >/dev/null 2>&1 || fail "tmux is missing and this is not a Debian-like system (no apt-get); install tmux"

echo "tui-test-deps.sh: installing tmux (Debian package)" >&2
export DEBIAN_FRONTEND=noninteractive
"${sudo[@]}" apt-get update -qq
"${sudo[@]}" apt-get install -y -qq --no-install-recommends tmux >/dev/null
command -v tmux >/dev/null 2>&1 || fail "apt-get finished but tmux is still not on PATH"
echo "tui-test-deps.sh: $(tmux -V)" >&2
