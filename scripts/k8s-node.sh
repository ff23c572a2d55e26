#!/usr/bin/env bash
# The slow tier: a one-node Kubernetes v1.20.2 cluster (control plane + kubelet on containerd)
# inside one Docker container, for showing real pods of a novadev stack on a machine without a
# registry. Binaries come from scripts/k8s-local.sh's cache; images are loaded from the local
# Docker engine (docker save → ctr import); pods must use imagePullPolicy Never/IfNotPresent.
#
# Usage: scripts/k8s-node.sh up                 build what is missing, start the node, wait Ready
#        scripts/k8s-node.sh load IMAGE...      copy local Docker images into the node
#        scripts/k8s-node.sh env                print `export KUBECONFIG=…`
#        scripts/k8s-node.sh status             the node and its pods
#        scripts/k8s-node.sh down               remove the node and its state
#
# Known limits of this node, and what stands in:
# - no CoreDNS (Debian has none): dnsmasq answers `<service>[.<ns>.svc.cluster.local]` with the
#   ready pod addresses of the Service's Endpoints, so a name works when the Service port is the
#   container port (always so in novadev's manifests), not through a Service's own address;
# - no kube-proxy (not built): Service addresses do not route; only the `kubernetes` Service is
#   forwarded, by one DNAT rule, for in-cluster clients (the wait initContainers);
# - no dynamic volume provisioning: a claim needs a PersistentVolume (the demo makes a hostPath
#   one).
#
# Environment:
#   NOVADEV_K8S_CACHE       the build cache of scripts/k8s-local.sh
#   NOVADEV_K8S_NODE_DIR    host-side state: kubeconfig, containerd's store
#                           (default /tmp/novadev-k8s-node-<uid>)
#   NOVADEV_K8S_NODE_PORT   the API server's port on 127.0.0.1 (default 26443)
set -euo pipefail

me=$(basename -- "$0")
script_dir=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
readonly k8s_version=v1.20.2
cache_dir=${NOVADEV_K8S_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/novadev/k8s}
bin_dir=$cache_dir/$k8s_version/bin
node_dir=${NOVADEV_K8S_NODE_DIR:-/tmp/novadev-k8s-node-$(id -u)}
port=${NOVADEV_K8S_NODE_PORT:-26443}
readonly container=novadev-k8s-node
# Tagged with its recipe's hash, so a changed Dockerfile builds a new image.
node_image=novadev/k8s-node:$k8s_version-$(sha256sum "$script_dir/k8s-node/Dockerfile" | cut -c1-12)
readonly node_image
readonly pause_image=novadev/pause:3.2
# The wait initContainers' image (render's default), made locally from a kubectl on this machine.
readonly wait_image=registry.k8s.io/kubectl:v1.33.0

die() {
    echo "$me: error: $*" >&2
    exit 1
}

say() {
    echo "$me: $*" >&2
}

now_ms() {
    date +%s%3N
}

running() {
    [ "$(docker inspect -f '{{.State.Running}}' "$container" 2>/dev/null)" = true ]
}

build_images() {
    local work
    if ! docker image inspect "$pause_image" >/dev/null 2>&1; then
        local pause_c
        pause_c=$(find "$cache_dir/src" -path '*/build/pause/linux/pause.c' -print -quit 2>/dev/null)
        [ -n "$pause_c" ] || die "no pause.c in $cache_dir/src: run scripts/k8s-local.sh build first"
        work=$(mktemp -d)
        gcc -Os -static -o "$work/pause" "$pause_c" -DVERSION=v3.2-novadev ||
            die "compiling the pause container failed (needs gcc and libc6-dev)"
        tar -C "$work" -c pause | docker import --change 'ENTRYPOINT ["/pause"]' - "$pause_image" >/dev/null
        rm -rf "$work"
        say "built $pause_image"
    fi
    if ! docker image inspect "$wait_image" >/dev/null 2>&1; then
        local kubectl
        kubectl=$(command -v kubectl.1.33 || true)
        [ -n "$kubectl" ] || kubectl=$(dirname -- "$(readlink -f -- "$(command -v kubectl)")")/kubectl.1.33
        [ -x "$kubectl" ] || kubectl=$(readlink -f -- "$(command -v kubectl)")
        "$kubectl" version --client 2>/dev/null | grep -Eq 'v1\.(3[1-9]|[4-9][0-9])' ||
            die "the wait image needs kubectl >= 1.31 on this machine ($kubectl is older)"
        work=$(mktemp -d)
        cp "$kubectl" "$work/kubectl"
        printf 'FROM debian:bookworm-slim\nCOPY kubectl /usr/bin/kubectl\nUSER 65532\nENTRYPOINT ["kubectl"]\n' >"$work/Dockerfile"
        docker build -q -t "$wait_image" "$work" >/dev/null || die "building $wait_image failed"
        rm -rf "$work"
        say "built $wait_image (a local stand-in, kubectl from this machine)"
    fi
    if ! docker image inspect "$node_image" >/dev/null 2>&1; then
        say "building $node_image (Debian containerd, runc, CNI plugins)"
        docker build -q -t "$node_image" "$script_dir/k8s-node" >/dev/null || die "building $node_image failed"
    fi
}

cmd_up() {
    local started
    started=$(now_ms)
    if running; then
        say "already running"
        cmd_env
        return 0
    fi
    "$script_dir/k8s-local.sh" build --node
    build_images
    docker rm -f "$container" >/dev/null 2>&1 || true
    rm -rf "$node_dir"
    mkdir -p "$node_dir/containerd" "$node_dir/kubelet" "$node_dir/volumes"
    # --privileged fails on this kind of machine (no CAP_SYS_RESOURCE in the bounding set): every
    # other capability, no seccomp/AppArmor, /sys writable, its own cgroup namespace.
    docker run -d --name "$container" --hostname novadev-node \
        --cap-add ALL --cap-drop SYS_RESOURCE \
        --security-opt seccomp=unconfined --security-opt apparmor=unconfined \
        --security-opt systempaths=unconfined --cgroupns private --device /dev/kmsg \
        --tmpfs /run --tmpfs /var/lib/novadev \
        -v "$bin_dir:/opt/k8s/bin:ro" \
        -v "$script_dir/k8s-node/node.sh:/opt/novadev/node.sh:ro" \
        -v "$node_dir/containerd:/var/lib/containerd" \
        -v "$node_dir/kubelet:/var/lib/kubelet" \
        -v "$node_dir/volumes:/var/lib/novadev-volumes" \
        -p "127.0.0.1:$port:6443" "$node_image" >/dev/null
    local deadline=$(($(date +%s) + 240))
    until docker exec "$container" test -e /var/lib/novadev/ready 2>/dev/null; do
        running || { docker logs --tail 30 "$container" >&2; die "the node container exited"; }
        [ "$(date +%s)" -lt "$deadline" ] || die "the node was not Ready within 240 s (docker exec $container tail /var/log/novadev/kubelet.log)"
        sleep 1
    done
    local ca token
    ca=$(docker exec "$container" cat /var/lib/novadev/pki/ca.crt | base64 -w0)
    token=$(docker exec "$container" cat /var/lib/novadev/admin.token)
    (umask 077 && printf '%s\n' "apiVersion: v1" "kind: Config" "clusters:" "- name: novadev-node" \
        "  cluster:" "    server: https://127.0.0.1:$port" "    certificate-authority-data: $ca" \
        "users:" "- name: novadev-admin" "  user:" "    token: $token" "contexts:" \
        "- name: novadev-node" "  context:" "    cluster: novadev-node" "    user: novadev-admin" \
        "current-context: novadev-node" >"$node_dir/kubeconfig")
    cmd_load "$pause_image" "$wait_image"
    say "node Ready in $(( ($(now_ms) - started) / 1000 )) s"
    cmd_env
}

cmd_load() {
    running || die "the node is not running: $0 up"
    [ "$#" -gt 0 ] || die "load: name at least one image"
    local started
    started=$(now_ms)
    docker save "$@" | docker exec -i "$container" ctr -n k8s.io images import - >/dev/null ||
        die "loading $* into the node failed"
    say "loaded $* in $(( $(now_ms) - started )) ms"
}

cmd_env() {
    [ -r "$node_dir/kubeconfig" ] || die "not started: $0 up"
    echo "export KUBECONFIG=$node_dir/kubeconfig"
}

cmd_status() {
    running || { echo "node: not running"; return 1; }
    echo "node: running (container $container, API https://127.0.0.1:$port)"
    KUBECONFIG=$node_dir/kubeconfig kubectl get nodes,pods -A -o wide 2>/dev/null
}

cmd_down() {
    docker rm -f "$container" >/dev/null 2>&1 && say "removed $container" || say "not running"
    # containerd's store holds files owned by the node's root; the node made them, remove them.
    rm -rf "$node_dir"
}

case ${1:-} in
    up) cmd_up ;;
    load) shift; cmd_load "$@" ;;
    env) cmd_env ;;
    status) cmd_status ;;
    down) cmd_down ;;
    -h | --help | help) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' ;;
    *) sed -n '2,26p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
