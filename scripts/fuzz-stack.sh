#!/usr/bin/env bash
# Coverage-guided fuzzing of the stack loader (fuzz/fuzz_targets/stack_load.rs, libFuzzer) for a
# bounded time; what CI calls. Seeds: every Compose file in the repository (the fixtures, the Nova
# stack). The build, the corpus and any crash are kept outside the repository, under
# ~/.cache/novadev (override with NOVADEV_FUZZ_CACHE), so a second run starts where the last one
# stopped and rebuilds nothing.
#
# Usage: scripts/fuzz-stack.sh [SECONDS]      (default 60)
# Exit: 0 no finding; 1 a crash, timeout or out-of-memory (the input is printed and kept).
set -euo pipefail
cd "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.."

seconds=${1:-60}
cache=${NOVADEV_FUZZ_CACHE:-$HOME/.cache/novadev}
export CARGO_TARGET_DIR=$cache/fuzz-target
corpus=$cache/fuzz-corpus/stack_load
artifacts=$cache/fuzz-artifacts/stack_load
mkdir -p "$corpus" "$artifacts"
# Builds on this project's shared machines take a lock so that two builds never share 2 cores.
lock=${NOVADEV_CARGO_LOCK:-/tmp/novadev-cargo.lock}

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    echo "== installing cargo-fuzz"
    flock "$lock" cargo install --locked cargo-fuzz
fi

echo "== building the fuzz target"
# cargo-fuzz passes nightly-only flags; RUSTC_BOOTSTRAP lets the stable toolchain take them. No
# sanitizer: the loader and its YAML reader are safe Rust, so AddressSanitizer would only halve
# the speed; panics, timeouts and memory blow-ups are what is looked for.
RUSTC_BOOTSTRAP=1 flock "$lock" cargo fuzz build --sanitizer none --release --debug-assertions stack_load
binary=$(find "$CARGO_TARGET_DIR" -path '*/release/stack_load' -type f -perm -u+x | head -n 1)
if [[ -z $binary ]]; then
    echo "fuzz-stack.sh: error: the fuzz target was not built" >&2
    exit 1
fi

# Seeds: every Compose file in the repository, by content hash (re-adding one is a no-op).
while IFS= read -r -d '' file; do
    cp "$file" "$corpus/seed-$(sha256sum "$file" | cut -c1-16)"
done < <(find tests/fixtures stacks -path stacks/nova/services/target -prune -o \
    -type f \( -name '*.yaml' -o -name '*.yml' \) -print0)
# And the multi-file inputs (compose.yaml, .env and a third file, split on NUL bytes).
for file in fuzz/seeds/*; do
    cp "$file" "$corpus/seed-$(sha256sum "$file" | cut -c1-16)"
done

echo "== fuzzing for ${seconds}s (corpus: $corpus)"
set +e
nice -n 10 "$binary" "$corpus" \
    -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 2>&1 | tee "$cache/fuzz-last.log" \
    | grep -E '^(#[0-9]+ +DONE|stat::number_of_executed_units|stat::peak_rss_mb|==[0-9]+== ERROR|SUMMARY|artifact_prefix|Test unit written|panicked)'
status=${PIPESTATUS[0]}
set -e
if [[ $status -ne 0 ]]; then
    echo "fuzz-stack.sh: the loader failed on an input; see $cache/fuzz-last.log and $artifacts" >&2
    exit 1
fi
echo "fuzz-stack.sh: no crash, timeout or out-of-memory in ${seconds}s"
