#!/usr/bin/env bash
# Benchmark (prints figures; not a test): cold and warm `up` of the Nova stack to all-ready,
# novadev against `docker-compose up -d` + wait-for-healthy on the same stack in the same run,
# the critical path (along the longest dependency chain, from novadev's own timestamps: with the
# engine's start of each container, and the services' own start -> ready only), the floor by hand (the same containers created beforehand, started with plain
# `docker start` along the dependency graph, healthchecks probed with `docker exec` in a loop:
# scripts/bench/stack_floor.py) and the daemon's memory with the stack up.
#
# docker-compose 1.29 predates `develop:` and cannot build the services here (their Dockerfile
# needs rust:1-bookworm from a registry), so it gets the same stack as `novadev config` resolves
# it, minus `develop`/`x-novadev`/`name`, with the services' images novadev built: both tools
# start the same containers from the same images. Images and binaries are built before timing.
#
# Usage: scripts/bench-nova.sh [ROUNDS]   (default 3). The services' ports must be free.
set -euo pipefail
cd "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.."

rounds=${1:-3}
nd_project=nvbench-nova
dc_project=nvbench-novadc
export NOVADEV_STATE_DIR=${NOVADEV_STATE_DIR:-/tmp/novadev-bench-state}
export NO_COLOR=1

scripts/ensure-docker.sh
scripts/images.sh >/dev/null
command -v docker-compose >/dev/null || { apt-get update -qq && apt-get install -y -qq docker-compose >/dev/null; }
python3 -c 'import yaml' 2>/dev/null || python3 -m pip install --quiet pyyaml
cargo build --release --quiet
nd() { target/release/novadev -f stacks/nova/compose.yaml -p "$nd_project" "$@"; }
derived=$(mktemp --suffix=.yaml)
dc() { docker-compose -f "$derived" -p "$dc_project" "$@"; }

reset_all() {
    nd down >/dev/null 2>&1 || true
    docker volume rm "${nd_project}_postgres-data" >/dev/null 2>&1 || true
    dc down -v --remove-orphans >/dev/null 2>&1 || true
}
# On exit also remove the services' images (rebuilding them is cheap: cargo's no-op and one layer).
trap 'reset_all; nd cleanup --yes --volumes >/dev/null 2>&1 || true; rm -f "$derived"' EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "building the services' images once (not timed)..." >&2
reset_all
nd up --wait-timeout 30m >/dev/null || { echo "novadev up failed; run it by hand to see why" >&2; exit 1; }
nd config | python3 -c '
import sys, yaml
stack = yaml.safe_load(sys.stdin)
project = sys.argv[1]
stack.pop("name", None)
stack.pop("x-novadev", None)
for name, svc in stack["services"].items():
    svc.pop("develop", None)
    # The dev keys novadev generated (x-novadev.keys) become plain read-only bind mounts.
    for key in (svc.pop("x-novadev", None) or {}).get("keys", []):
        svc.setdefault("volumes", []).append("%s/%s/keys/%s:%s:ro" % (sys.argv[2], project, key["name"], key["target"]))
    if "build" in svc:
        svc.pop("build")
        svc["image"] = svc.get("image") or f"{project}-{name}"
    # 1.29 knows neither of these healthcheck keys nor pull_policy values novadev writes out.
    svc.get("healthcheck", {}).pop("start_interval", None)
    svc.pop("pull_policy", None)
    for dep in (svc.get("depends_on") or {}).values():
        dep.pop("required", None)
        dep.pop("restart", None)
    # Long-form ports with host_ip are newer than 1.29: write the short form.
    ports = [
        "%s:%s:%s/%s" % (p.get("host_ip", "127.0.0.1"), p.get("published", ""), p["target"], p.get("protocol", "tcp"))
        for p in svc.pop("ports", [])
    ]
    if ports:
        svc["ports"] = ports
print(yaml.safe_dump(stack, sort_keys=False))
' "$nd_project" "$NOVADEV_STATE_DIR" > "$derived"
dc config >/dev/null
# The derived file mounts the keys novadev generated for identity-service; they exist now.
reset_all

# All services healthy (or exited 0 for the one-shots) under docker-compose.
dc_wait() {
    local deadline=$((SECONDS + 600))
    while [ $SECONDS -lt $deadline ]; do
        local pending=0
        while read -r id; do
            state=$(docker inspect -f '{{.State.Status}} {{if .State.Health}}{{.State.Health.Status}}{{else}}none{{end}} {{.State.ExitCode}}' "$id")
            case $state in
                "running healthy "* | "running none "* | "exited none 0") ;;
                *) pending=1 ;;
            esac
        done < <(dc ps -q)
        [ $pending = 0 ] && return 0
        sleep 0.1
    done
    echo "docker-compose: not healthy within 10 minutes" >&2
    return 1
}

# Two critical paths along the longest dependency chain, from novadev's timestamps: each service
# from its start asked of the engine to ready (the engine's start of each container counted, as
# any tool pays it), and from the engine's start done to ready (the services' own time only).
critical_paths() {
    nd status --json | python3 -c '
import json, sys, yaml
status = {s["service"]: s for s in json.load(sys.stdin)["services"]}
stack = yaml.safe_load(open(sys.argv[1]))["services"]
def path(name, begin, memo):
    if name not in memo:
        s = status.get(name, {})
        first = s.get(begin) or s.get("started_ms") or 0
        own = max(0, (s.get("ready_ms") or 0) - first) / 1000
        deps = stack.get(name, {}).get("depends_on") or {}
        memo[name] = own + max([path(d, begin, memo) for d in deps] or [0])
    return memo[name]
for begin in ("start_asked_ms", "started_ms"):
    memo = {}
    print("%.3f" % max(path(n, begin, memo) for n in stack), end=" ")
' "$derived"
}

daemon_rss() {
    local pid
    pid=$(cat "$NOVADEV_STATE_DIR/$nd_project/daemon.pid")
    awk '/^VmRSS:/ { printf "%.1f", $2 / 1024 }' "/proc/$pid/status"
}

declare -a nd_cold nd_warm dc_cold dc_warm cp cp_own floor rss
for ((i = 1; i <= rounds; i++)); do
    reset_all
    t0=$(now); nd up --wait-timeout 10m >/dev/null; t1=$(now); nd_cold+=("$(elapsed "$t0" "$t1")")
    read -r with_engine own < <(critical_paths; echo)
    cp+=("$with_engine")
    cp_own+=("$own")
    rss+=("$(daemon_rss)")
    t0=$(now); nd up --wait-timeout 10m >/dev/null; t1=$(now); nd_warm+=("$(elapsed "$t0" "$t1")")
    nd down >/dev/null
    docker volume rm "${nd_project}_postgres-data" >/dev/null 2>&1 || true

    t0=$(now); dc up -d >/dev/null 2>&1; dc_wait; t1=$(now); dc_cold+=("$(elapsed "$t0" "$t1")")
    t0=$(now); dc up -d >/dev/null 2>&1; dc_wait; t1=$(now); dc_warm+=("$(elapsed "$t0" "$t1")")
    dc down -v >/dev/null 2>&1

    # One service at a time: 1.29's `up --no-start` waits for a one-shot dependency to complete.
    for service in $(dc config --services); do
        timeout 120 docker-compose -f "$derived" -p "$dc_project" up --no-start --no-deps "$service" >/dev/null 2>&1
    done
    floor+=("$(python3 scripts/bench/stack_floor.py "$derived" "$dc_project")")
    dc down -v >/dev/null 2>&1
    echo "round $i: novadev cold ${nd_cold[-1]}s warm ${nd_warm[-1]}s · docker-compose cold ${dc_cold[-1]}s warm ${dc_warm[-1]}s · critical path ${cp[-1]}s (services' own ${cp_own[-1]}s) · floor by hand ${floor[-1]}s · daemon RSS ${rss[-1]} MiB" >&2
done

m() { printf '%s\n' "$@" | median; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2fx", a / b }'; }
echo
echo "bench-nova: stacks/nova ($(nd config --services | wc -l) services) to all-ready, median of $rounds rounds"
printf '  %-36s %10s %12s\n' "" "cold up" "warm re-up"
printf '  %-36s %9ss %11ss\n' "novadev" "$(m "${nd_cold[@]}")" "$(m "${nd_warm[@]}")"
printf '  %-36s %9ss %11ss\n' "docker-compose + wait-for-healthy" "$(m "${dc_cold[@]}")" "$(m "${dc_warm[@]}")"
printf '  %-36s %10s %12s\n' "docker-compose / novadev" "$(ratio "$(m "${dc_cold[@]}")" "$(m "${nd_cold[@]}")")" "$(ratio "$(m "${dc_warm[@]}")" "$(m "${nd_warm[@]}")")"
printf '  %-36s %9ss   novadev cold / it: %s\n' "critical path, engine starts counted" "$(m "${cp[@]}")" "$(ratio "$(m "${nd_cold[@]}")" "$(m "${cp[@]}")")"
printf '  %-36s %9ss   novadev cold / it: %s\n' "critical path, services' own time" "$(m "${cp_own[@]}")" "$(ratio "$(m "${nd_cold[@]}")" "$(m "${cp_own[@]}")")"
printf '  %-36s %9ss   novadev cold / it: %s\n' "floor by hand (docker start + exec)" "$(m "${floor[@]}")" "$(ratio "$(m "${nd_cold[@]}")" "$(m "${floor[@]}")")"
printf '  %-36s %8s MiB\n' "novadev daemon RSS, stack up" "$(m "${rss[@]}")"
