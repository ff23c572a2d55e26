#!/usr/bin/env bash
# Benchmark (prints figures; not a test): cold and warm `up` of a 4-service stack to all-ready,
# novadev against docker-compose on the same file in the same run, and the critical path the
# stack cannot beat (Postgres ready + one-shot init + start of its dependent), measured with
# plain `docker run`/`docker exec`.
#
# Usage: scripts/bench-up.sh [ROUNDS]   (default 3; the median of the rounds is printed)
set -euo pipefail
cd "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.."

rounds=${1:-3}
stack=$PWD/scripts/bench/chain4.yaml
nd_project=nvbench-nd
dc_project=nvbench-dc
export NOVADEV_STATE_DIR=${NOVADEV_STATE_DIR:-/tmp/novadev-bench-state}
export NO_COLOR=1

scripts/ensure-docker.sh
scripts/images.sh postgres:15 python:3.11-slim-bookworm >/dev/null
command -v docker-compose >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }
cargo build --release --quiet
novadev=$PWD/target/release/novadev

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

nd() { "$novadev" -f "$stack" -p "$nd_project" "$@"; }
dc() { docker-compose -f "$stack" -p "$dc_project" "$@"; }

reset_all() {
    nd cleanup --yes --volumes >/dev/null 2>&1 || true
    dc down -v --remove-orphans >/dev/null 2>&1 || true
    docker rm -f nvbench-cp-pg nvbench-cp-web >/dev/null 2>&1 || true
    docker volume rm nvbench-cp-data >/dev/null 2>&1 || true
    docker network rm nvbench-cp >/dev/null 2>&1 || true
}
trap reset_all EXIT

# docker-compose 1.29's `up -d` waits for each dependency's condition before starting a dependent,
# so once it returns every service has started; api and web have no healthcheck.
dc_up() { dc up -d >/dev/null 2>&1; }

critical_path() {
    docker network create nvbench-cp >/dev/null
    local t0 t1
    t0=$(now)
    docker run -d --name nvbench-cp-pg --network nvbench-cp --network-alias postgres \
        -e POSTGRES_PASSWORD=bench -e POSTGRES_DB=bench -v nvbench-cp-data:/var/lib/postgresql/data \
        postgres:15 >/dev/null
    until docker exec nvbench-cp-pg pg_isready -U postgres -h 127.0.0.1 >/dev/null 2>&1; do :; done
    docker run --rm --network nvbench-cp -e PGPASSWORD=bench postgres:15 \
        psql -h postgres -U postgres -d bench -c 'CREATE TABLE IF NOT EXISTS hits(n int)' >/dev/null
    docker run -d --name nvbench-cp-web --network nvbench-cp python:3.11-slim-bookworm \
        python -m http.server 8000 >/dev/null
    t1=$(now)
    elapsed "$t0" "$t1"
    docker rm -f nvbench-cp-pg nvbench-cp-web >/dev/null
    docker volume rm nvbench-cp-data >/dev/null
    docker network rm nvbench-cp >/dev/null
}

declare -a nd_cold nd_warm dc_cold dc_warm cp
reset_all
for ((i = 1; i <= rounds; i++)); do
    cp+=("$(critical_path)")

    reset_all
    t0=$(now); nd up --wait-timeout 2m >/dev/null; t1=$(now); nd_cold+=("$(elapsed "$t0" "$t1")")
    t0=$(now); nd up --wait-timeout 2m >/dev/null; t1=$(now); nd_warm+=("$(elapsed "$t0" "$t1")")
    nd cleanup --yes --volumes >/dev/null

    t0=$(now); dc_up; t1=$(now); dc_cold+=("$(elapsed "$t0" "$t1")")
    t0=$(now); dc_up; t1=$(now); dc_warm+=("$(elapsed "$t0" "$t1")")
    dc down -v >/dev/null 2>&1
    echo "round $i: critical path ${cp[-1]}s · novadev cold ${nd_cold[-1]}s warm ${nd_warm[-1]}s · docker-compose cold ${dc_cold[-1]}s warm ${dc_warm[-1]}s" >&2
done

m_cp=$(printf '%s\n' "${cp[@]}" | median)
m_ndc=$(printf '%s\n' "${nd_cold[@]}" | median)
m_ndw=$(printf '%s\n' "${nd_warm[@]}" | median)
m_dcc=$(printf '%s\n' "${dc_cold[@]}" | median)
m_dcw=$(printf '%s\n' "${dc_warm[@]}" | median)
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
# Postgres' first start varies by a second from round to round, so the ratio to the critical path
# is also taken within each round (same conditions), and its median printed.
m_ratio=$(for ((i = 0; i < rounds; i++)); do
    awk -v a="${nd_cold[i]}" -v b="${cp[i]}" 'BEGIN { printf "%.4f\n", a / b }'
done | median)

echo
echo "bench-up: 4-service chain (postgres healthy -> init -> web; api), median of $rounds rounds"
printf '  %-34s %10s %12s\n' "" "cold up" "warm re-up"
printf '  %-34s %9ss %11ss\n' "novadev" "$m_ndc" "$m_ndw"
printf '  %-34s %9ss %11ss\n' "docker-compose $(docker-compose version --short 2>/dev/null)" "$m_dcc" "$m_dcw"
printf '  %-34s %10s %12s\n' "docker-compose / novadev" "$(ratio "$m_dcc" "$m_ndc")" "$(ratio "$m_dcw" "$m_ndw")"
printf '  %-34s %9ss\n' "critical path (docker run/exec)" "$m_cp"
printf '  %-34s %10s\n' "novadev cold / critical path" "$(ratio "$m_ndc" "$m_cp")"
printf '  %-34s %9.2fx\n' "  the same, median of per-round" "$m_ratio"
