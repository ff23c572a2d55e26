#!/usr/bin/env bash
# The test suite, from a fresh machine: make sure Docker answers, build (or load from cache) the
# offline stand-in images the integration tests run, build (or take from cache) and start a
# Kubernetes control plane on loopback, then lint and run every test, then fuzz the stack loader
# for a minute.
# Usage: scripts/test.sh [extra cargo test args...]
set -euo pipefail
cd "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.."

scripts/ensure-docker.sh
scripts/images.sh
# What the tests drive besides Docker: a Kafka client for the round trip, tmux for the TUI's
# end-to-end test, headless Chromium and its driver for the web UI's.
scripts/test-deps.sh
scripts/tui-test-deps.sh
scripts/browser-deps.sh

if ! command -v cargo >/dev/null 2>&1; then
    echo "test.sh: error: cargo is not installed (install Rust with rustup first)" >&2
    exit 1
fi
# The Kubernetes tests run against a real API server: built once from Debian's archive (cached in
# ~/.cache/novadev/k8s), started here, stopped when the tests are done.
scripts/k8s-local.sh build
log=$(mktemp)
trap 'rm -f "$log"; scripts/k8s-local.sh stop >/dev/null 2>&1 || true' EXIT
scripts/k8s-local.sh start

echo "== cargo fmt --check"
cargo fmt --all -- --check
echo "== cargo clippy"
cargo clippy --locked --all-targets -- -D warnings
echo "== the Nova services' own tests (stacks/nova/services)"
# The dev loop's profile: the dependencies compiled here are the ones the Nova stack's host builds use.
(cd stacks/nova/services && cargo test --profile dev-loop --locked --workspace --quiet)
echo "== cargo test"
# Every target (the crate has no doc tests), all of them even after a failure, then one closing
# line with the totals.
set +e
cargo test --locked --all-targets --no-fail-fast "$@" 2>&1 | tee "$log"
status=${PIPESTATUS[0]}
set -e
awk '/^test result:/ { for (i = 1; i < NF; i++) { if ($(i + 1) ~ /^passed/) p += $i; if ($(i + 1) ~ /^failed/) f += $i } }
     END { printf "tests: %d passed, %d failed\n", p, f }' "$log"
echo "== fuzzing the stack loader (60 s)"
fuzz=0
scripts/fuzz-stack.sh 60 || fuzz=$?
[ "$status" -ne 0 ] && exit "$status"
exit "$fuzz"
