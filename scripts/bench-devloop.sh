#!/usr/bin/env bash
# Benchmark (prints figures; not a test): the dev loop on a Rust service of stacks/nova.
#
#   1. novadev's host-build path: a one-line change in social-service -> ready again (a live
#      update: the process restarts in its container),
#      and the file event -> rebuild start latency;
#   2. the floor: the cargo incremental build alone (cargo's own time within that same build)
#      plus a container restart to ready;
#   3. docker-compose up -d --build SERVICE, where a registry can provide rust:1-bookworm;
#   4. a storm of 10,000 new files in the service's tree: how many rebuilds, how long to settle.
#
# It brings the Nova stack up under the project name `nvdevloop` (services on their usual ports;
# nothing else may hold them) and restores the edited source on exit.
# Usage: scripts/bench-devloop.sh [ROUNDS]   (default 3)
set -euo pipefail
cd "$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/.."

rounds=${1:-3}
project=nvdevloop
service=social-service
src=stacks/nova/services/$service/src/main.rs
storm=stacks/nova/services/$service/src/storm
export NOVADEV_STATE_DIR=${NOVADEV_STATE_DIR:-/tmp/novadev-bench-state}
export NO_COLOR=1

scripts/ensure-docker.sh
scripts/images.sh >/dev/null
cargo build --release --quiet
nd() { target/release/novadev -p "$project" "$@"; }

backup=$(mktemp)
cp "$src" "$backup"
restore() {
    cp "$backup" "$src"
    rm -rf "$storm" "$backup"
    nd cleanup --yes --volumes >/dev/null 2>&1 || true
}
trap restore EXIT

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.3f", b - a }'; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }
field() { # field SERVICE KEY -> a value from `status --json`
    nd status --json | python3 -c "import json,sys; d=json.load(sys.stdin); s=[x for x in d['services'] if x['service']=='$1']; print(s[0].get('$2') if s else '')"
}

echo "bringing the Nova stack up (first run compiles the services)..." >&2
nd up --wait-timeout 30m >/dev/null

sock=$NOVADEV_STATE_DIR/$project/daemon.sock
declare -a nd_ready nd_event nd_build nd_package nd_recreate nd_share svc_start floor_cargo floor_restart
# The service's own start: from its process logging that it starts to its logging that it is
# ready (its own checks passed), both stamped by the engine: the same whether the container was
# replaced or (a live update) its process restarted in place.
own_start() {
    local name started ready
    name=$(field "$service" container_name)
    started=$(docker logs -t "$name" 2>&1 | grep -E ' starting: ' | tail -1 | cut -d' ' -f1)
    ready=$(docker logs -t "$name" 2>&1 | grep -E ' ready$' | tail -1 | cut -d' ' -f1)
    python3 - "$started" "$ready" <<'PY'
import sys
from datetime import datetime
def t(s):
    s = s.rstrip("Z")
    base, _, frac = s.partition(".")
    return datetime.fromisoformat(base).timestamp() + float("0." + (frac or "0"))
print(f"{t(sys.argv[2]) - t(sys.argv[1]):.3f}" if sys.argv[1] and sys.argv[2] else "0")
PY
}
for ((i = 1; i <= rounds; i++)); do
    # 1. novadev: edit, then wait (on the daemon's event stream, which costs no CPU meanwhile) for
    #    the rebuild to end ready (Nova's services are live host builds: the process restarts in
    #    its container).
    old_id=$(field "$service" container_id)
    builds=$(field "$service" builds)
    result=$(mktemp)
    python3 scripts/bench/await-rebuild.py "$sock" "$service" "$builds" "$old_id" >"$result" &
    waiter=$!
    sleep 0.5 # connected and past the snapshot before the edit
    t0=$(now)
    # A line that changes the binary (a comment would compile to the same artifact, and novadev
    # rightly keeps the running container then).
    printf '\n#[used]\nstatic NOVADEV_BENCH_EDIT_%s: [u8; 20] = *b"%-20.20s";\n' "$i" "bench $t0" >> "$src"
    wait "$waiter" || { echo "round $i: the rebuild did not end in a ready container" >&2; exit 1; }
    read -r b0 b1 cargo_s ready <"$result"
    rm -f "$result"
    nd_ready+=("$(elapsed "$t0" "$ready")")
    nd_event+=("$(elapsed "$t0" "$b0")")
    nd_build+=("$(elapsed "$b0" "$b1")")
    nd_package+=("$(awk -v a="$b0" -v b="$b1" -v c="$cargo_s" 'BEGIN { printf "%.3f", b - a - c }')")
    nd_recreate+=("$(elapsed "$b1" "$ready")")
    # novadev's share: everything but cargo and the service's own start.
    svc_start+=("$(own_start)")
    nd_share+=("$(awk -v r="${nd_ready[-1]}" -v c="$cargo_s" -v s="${svc_start[-1]}" 'BEGIN { printf "%.3f", r - c - s }')")

    # 2. The floor, in the same conditions: cargo's own time in that very build (its "Finished
    #    ... in Xs" line; a second cargo beside the daemon's would fight it for the target dir),
    #    plus a container restart to ready.
    floor_cargo+=("$cargo_s")
    t0=$(now)
    nd restart "$service" >/dev/null
    t1=$(now)
    floor_restart+=("$(elapsed "$t0" "$t1")")
    echo "round $i: novadev edit->ready ${nd_ready[-1]}s (event->build ${nd_event[-1]}s, build ${nd_build[-1]}s of which cargo ${cargo_s}s, build->ready ${nd_recreate[-1]}s of which the service's own start ${svc_start[-1]}s; novadev's share ${nd_share[-1]}s) · floor cargo ${cargo_s}s + restart ${floor_restart[-1]}s" >&2
done

# 4. The storm: 10,000 new files in the service's tree at once.
builds=$(field "$service" builds)
t0=$(now)
python3 - "$storm" <<'PY'
import os, sys
root = sys.argv[1]
for d in range(100):
    os.makedirs(f"{root}/d{d}", exist_ok=True)
    for f in range(100):
        with open(f"{root}/d{d}/f{f}.txt", "w") as fh:
            fh.write("storm\n")
PY
t_written=$(now)
sleep 3
while [ "$(field "$service" phase)" != ready ]; do sleep 0.1; done
t_settled=$(now)
storm_builds=$(( $(field "$service" builds) - builds ))

m() { printf '%s\n' "$@" | median; }
echo
echo "bench-devloop: $service, one-line change -> ready again (median of $rounds)"
printf '  %-44s %8ss\n' "novadev (host build, live update, readiness)" "$(m "${nd_ready[@]}")"
printf '  %-44s %8ss\n' "  of which file event -> rebuild start" "$(m "${nd_event[@]}")"
printf '  %-44s %8ss\n' "  of which the build (cargo, no image: live)" "$(m "${nd_build[@]}")"
printf '  %-44s %8ss\n' "    of which cargo besides its own figure" "$(m "${nd_package[@]}")"
printf '  %-44s %8ss\n' "  of which build end -> ready again" "$(m "${nd_recreate[@]}")"
printf '  %-44s %8ss\n' "    of which the service's own start" "$(m "${svc_start[@]}")"
printf '  %-44s %8ss  (all but cargo and the service'"'"'s own start)\n' "novadev's share" "$(m "${nd_share[@]}")"
floor=$(awk -v a="$(m "${floor_cargo[@]}")" -v b="$(m "${floor_restart[@]}")" 'BEGIN { printf "%.3f", a + b }')
printf '  %-44s %8ss  (cargo %ss + restart to ready %ss)\n' "floor" "$floor" "$(m "${floor_cargo[@]}")" "$(m "${floor_restart[@]}")"
if docker image inspect rust:1-bookworm >/dev/null 2>&1; then
    t0=$(now)
    docker-compose -f stacks/nova/compose.yaml -p nvdevloop-dc up -d --build "$service" >/dev/null 2>&1 || true
    t1=$(now)
    printf '  %-44s %8ss\n' "docker-compose up -d --build $service" "$(elapsed "$t0" "$t1")"
    docker-compose -f stacks/nova/compose.yaml -p nvdevloop-dc down -v >/dev/null 2>&1 || true
else
    printf '  %-44s %8s\n' "docker-compose up -d --build $service" "n/a: needs rust:1-bookworm, and no registry answers here"
fi
printf '  %-44s %8ss, %s rebuild(s) (files written in %ss)\n' "10,000-file storm -> settled" \
    "$(elapsed "$t0" "$t_settled")" "$storm_builds" "$(elapsed "$t0" "$t_written")"
