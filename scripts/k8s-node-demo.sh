#!/usr/bin/env bash
# The slow tier, as figures: part of the Nova stack (Postgres + postgres-init, Redis Sentinel,
# Kafka + kafka-init, identity-service, social-service) rendered by `novadev k8s render` and
# applied to the one-node cluster of scripts/k8s-node.sh. Prints how long each step took, when
# each service became ready, and checks that the order held (a service's app container started
# only after Postgres was ready and postgres-init completed). Not a test: it asserts only the
# order, and prints the rest.
#
# Usage: scripts/k8s-node-demo.sh [--keep]   (--keep leaves the node running afterwards)
set -euo pipefail

me=$(basename -- "$0")
root=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/..
cd "$root"
keep=0
[ "${1:-}" = --keep ] && keep=1
readonly services=(identity-service social-service)
readonly others=(communication-service user-service content-service media-service search-service events-service)
readonly namespace=nova

die() {
    echo "$me: error: $*" >&2
    exit 1
}

now_ms() {
    date +%s%3N
}

seconds_since() {
    awk -v a="$1" -v b="$(now_ms)" 'BEGIN { printf "%.1f", (b - a) / 1000 }'
}

step() {
    printf '%-44s %6s s\n' "$1" "$2"
}

work=$(mktemp -d)
cleanup() {
    rm -rf "$work"
    [ "$keep" = 1 ] || scripts/k8s-node.sh down >/dev/null 2>&1 || true
}
trap cleanup EXIT

t=$(now_ms)
scripts/k8s-node.sh up >/dev/null
step "node up and Ready" "$(seconds_since "$t")"
eval "$(scripts/k8s-node.sh env)"

# The two services' images, as novadev's host build makes them: the binary on the base image.
t=$(now_ms)
(cd stacks/nova/services &&
    flock /tmp/novadev-cargo.lock cargo build --release --locked --quiet \
        -p "${services[0]}" -p "${services[1]}") || die "cargo build of the services failed"
for s in "${services[@]}"; do
    mkdir -p "$work/$s"
    cp "stacks/nova/services/target/release/$s" "$work/$s/artifact"
    printf 'FROM debian:bookworm-slim\nCOPY artifact /usr/local/bin/%s\nENTRYPOINT ["/usr/local/bin/%s"]\n' "$s" "$s" \
        >"$work/$s/Dockerfile"
    docker build -q -t "nova-$s" "$work/$s" >/dev/null
done
step "service images (cargo build + package)" "$(seconds_since "$t")"
t=$(now_ms)
scripts/images.sh postgres:15 redis:7 apache/kafka:3.9.0 >/dev/null
scripts/k8s-node.sh load postgres:15 redis:7 apache/kafka:3.9.0 "nova-${services[0]}" "nova-${services[1]}" 2>/dev/null
step "images loaded into the node (docker save | ctr import)" "$(seconds_since "$t")"

# The manifests; the other six services are left out (their images are not built here).
[ -x target/debug/novadev ] || flock /tmp/novadev-cargo.lock cargo build --quiet
t=$(now_ms)
target/debug/novadev k8s render -f stacks/nova/compose.yaml -o "$work/manifests" 2>/dev/null
step "novadev k8s render (stacks/nova)" "$(seconds_since "$t")"
for s in "${others[@]}"; do
    rm -f "$work/manifests/"*"-$namespace-$s"{,-env,-grpc}.yaml
done
# No dynamic provisioning on this node: a hostPath volume for Postgres's claim, and the key pair
# `novadev up --k8s` would make from the project's dev keys.
kubectl apply -f - >/dev/null <<EOF
apiVersion: v1
kind: PersistentVolume
metadata: {name: nova-postgres-data}
spec:
  capacity: {storage: 1Gi}
  accessModes: [ReadWriteOnce]
  hostPath: {path: /var/lib/novadev-volumes/postgres-data, type: DirectoryOrCreate}
EOF
openssl genpkey -algorithm ed25519 -out "$work/private.pem" 2>/dev/null
openssl pkey -in "$work/private.pem" -pubout -out "$work/public.pem"

t=$(now_ms)
kubectl apply --server-side --field-manager novadev -f "$work/manifests/0-namespace-nova.yaml" >/dev/null
kubectl -n "$namespace" create secret generic nova-key-jwt \
    --from-file=private.pem="$work/private.pem" --from-file=public.pem="$work/public.pem" >/dev/null
kubectl apply --server-side --field-manager novadev -f "$work/manifests" >/dev/null
applied=$(now_ms)
step "applied" "$(seconds_since "$t")"

# Ready: every workload of the subset.
deadline=$(($(date +%s) + 900))
until kubectl -n "$namespace" wait --for=condition=Complete job/postgres-init job/kafka-init --timeout=5s >/dev/null 2>&1 &&
    kubectl -n "$namespace" wait --for=condition=Available --timeout=5s \
        "deployment/${services[0]}" "deployment/${services[1]}" >/dev/null 2>&1; do
    if [ "$(date +%s)" -ge "$deadline" ]; then
        kubectl -n "$namespace" get pods -o wide >&2
        die "not ready within 15 minutes"
    fi
    sleep 1
done
step "apply → ${services[*]} Available" "$(seconds_since "$applied")"

# When each thing happened, from the API's own timestamps.
ts() { date -d "$1" +%s; }
pod_of() { kubectl -n "$namespace" get pods -l "dev.novadev.service=$1" -o jsonpath='{.items[0].metadata.name}'; }
pg_ready=$(kubectl -n "$namespace" get pod "$(pod_of postgres)" \
    -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
init_done=$(kubectl -n "$namespace" get job postgres-init -o jsonpath='{.status.completionTime}')
echo
echo "postgres Ready:          $pg_ready"
echo "postgres-init completed: $init_done"
order_ok=1
[ "$(ts "$init_done")" -ge "$(ts "$pg_ready")" ] || order_ok=0
for s in "${services[@]}"; do
    started=$(kubectl -n "$namespace" get pod "$(pod_of "$s")" \
        -o jsonpath="{.status.containerStatuses[?(@.name==\"$s\")].state.running.startedAt}")
    ready=$(kubectl -n "$namespace" get pod "$(pod_of "$s")" \
        -o jsonpath='{.status.conditions[?(@.type=="Ready")].lastTransitionTime}')
    echo "$s: app started $started, Ready $ready"
    [ "$(ts "$started")" -ge "$(ts "$init_done")" ] || order_ok=0
done
echo
echo "logs of ${services[1]} (kubectl logs, last 3 lines):"
kubectl -n "$namespace" logs --tail 3 "$(pod_of "${services[1]}")" -c "${services[1]}" | sed 's/^/  /'
echo
if [ "$order_ok" = 1 ]; then
    echo "readiness order held: every app container started after Postgres was Ready and postgres-init completed"
else
    die "readiness order broken (see the timestamps above)"
fi
