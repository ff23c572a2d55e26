#!/usr/bin/env bash
# Benchmark (prints figures; not a test): log ingest, lines per second from a container's stdout
# to the terminal, through novadev (engine -> daemon -> socket -> client) against `docker logs` on
# the same container in the same run: a backlog read (`logs`), and lines followed as they are
# written (`logs -f`). Also the daemon's memory before and after.
#
# Usage: scripts/bench-logs.sh [LINES]   (default 500000; each line is about 80 bytes)
set -euo pipefail
cd "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.."

lines=${1:-500000}
stack=$PWD/scripts/bench/chatty.yaml
export NOVADEV_STATE_DIR=${NOVADEV_STATE_DIR:-/tmp/novadev-bench-state}
export NO_COLOR=1

scripts/ensure-docker.sh
scripts/images.sh debian:bookworm-slim >/dev/null
cargo build --release --quiet
nd() { target/release/novadev -f "$stack" "$@"; }
out=$(mktemp -d)
trap 'kill $(jobs -p) 2>/dev/null || true; nd cleanup --yes >/dev/null 2>&1 || true; rm -rf "$out"' EXIT

now() { date +%s.%N; }
rate() { awk -v n="$1" -v a="$2" -v b="$3" 'BEGIN { printf "%8.0f lines/s (%.2fs)", n / (b - a), b - a }'; }
rss() { awk '/^VmRSS:/ { printf "%.1f MiB", $2 / 1024 }' "/proc/$(cat "$NOVADEV_STATE_DIR/nvbench-logs/daemon.pid")/status"; }
# Write LINES lines to the container's log (its main process's stdout).
emit() {
    docker exec "$id" sh -c "seq -f 'line %g of the log ingest benchmark, padded to the width of a typical log li' 1 $lines > /proc/1/fd/1"
}
# Wait until both followers' files have all the lines; each one's time is taken when it does.
await_both() {
    t_dc= t_nd=
    local deadline=$((SECONDS + 300))
    while [ -z "$t_dc" ] || [ -z "$t_nd" ]; do
        [ $SECONDS -lt $deadline ] || { echo "bench-logs: the followers have $(wc -l < "$out/dc-follow") (docker) and $(wc -l < "$out/nd-follow") (novadev) of $lines lines after 5 minutes" >&2; exit 1; }
        [ -z "$t_dc" ] && [ "$(wc -l < "$out/dc-follow")" -ge "$lines" ] && t_dc=$(now)
        [ -z "$t_nd" ] && [ "$(wc -l < "$out/nd-follow")" -ge "$lines" ] && t_nd=$(now)
        sleep 0.02
    done
}

nd cleanup --yes >/dev/null 2>&1 || true
nd up >/dev/null
id=$(docker ps -q --filter label=dev.novadev.project=nvbench-logs --filter label=dev.novadev.service=chatty)
rss_before=$(rss)

# Followed while written: both followers are attached before the lines are written.
nd logs -f chatty > "$out/nd-follow" &
docker logs -f "$id" > "$out/dc-follow" 2>&1 &
sleep 1
t0=$(now)
emit
await_both
kill $(jobs -p) 2>/dev/null || true
wait 2>/dev/null || true

# The backlog, read after the fact.
t0b=$(now); docker logs "$id" 2>&1 | wc -l > "$out/dc-count"; t1b=$(now)
t0c=$(now); nd logs chatty | wc -l > "$out/nd-count"; t1c=$(now)
t0d=$(now); nd logs --json chatty | wc -l > "$out/nd-json-count"; t1d=$(now)
for f in dc-count nd-count nd-json-count; do
    [ "$(cat "$out/$f")" -ge "$lines" ] || { echo "bench-logs: $f has $(cat "$out/$f") lines, want $lines" >&2; exit 1; }
done

echo
echo "bench-logs: $lines lines of about 80 bytes, one container"
printf '  %-40s %s\n' "follow, docker logs -f" "$(rate "$lines" "$t0" "$t_dc")"
printf '  %-40s %s\n' "follow, novadev logs -f" "$(rate "$lines" "$t0" "$t_nd")"
printf '  %-40s %s\n' "backlog, docker logs" "$(rate "$lines" "$t0b" "$t1b")"
printf '  %-40s %s\n' "backlog, novadev logs" "$(rate "$lines" "$t0c" "$t1c")"
printf '  %-40s %s\n' "backlog, novadev logs --json" "$(rate "$lines" "$t0d" "$t1d")"
printf '  %-40s %s -> %s\n' "novadev daemon RSS" "$rss_before" "$(rss)"
