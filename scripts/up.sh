#!/usr/bin/env bash
# The main job from a fresh machine: make sure Docker answers, build (or load from cache) the
# stand-in images, build novadev, and bring up the Nova stack (stacks/nova) with it.
# Usage: scripts/up.sh [novadev up arguments...]   e.g. scripts/up.sh social-service
set -euo pipefail
cd "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.."

scripts/ensure-docker.sh
scripts/images.sh
if ! command -v cargo >/dev/null 2>&1; then
    echo "up.sh: error: cargo is not installed (install Rust with rustup first)" >&2
    exit 1
fi
cargo build --release --locked --quiet
# `novadev` on the PATH: a link in cargo's bin directory (on the PATH wherever rustup installed
# Rust) to the binary just built, so that the commands `up` prints work as printed.
bin_dir=${CARGO_HOME:-$HOME/.cargo}/bin
if mkdir -p "$bin_dir" 2>/dev/null && ln -sfn "$PWD/target/release/novadev" "$bin_dir/novadev" 2>/dev/null; then
    case ":$PATH:" in
        *":$bin_dir:"*) echo "up.sh: novadev is on your PATH ($bin_dir/novadev -> target/release/novadev)" ;;
        *) echo "up.sh: novadev is in $bin_dir; add it to your PATH (export PATH=\"$bin_dir:\$PATH\")" ;;
    esac
fi
# The first up compiles the eight services (a few minutes on 2 cores): give it time.
exec target/release/novadev up --wait-timeout 30m "$@"
