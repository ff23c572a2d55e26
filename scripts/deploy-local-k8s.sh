#!/usr/bin/env bash
# The team's old entry point, kept for muscle memory: the same verbs, now mapped onto novadev —
# on local Docker by default, or on a Kubernetes cluster with --k8s (the current kubeconfig
# context; KUBECONFIG, NOVADEV_K8S_CONTEXT and NOVADEV_K8S_NAMESPACE choose another).
#
#   deploy-local-k8s.sh [--k8s] deploy          bring everything up, print connection info
#   deploy-local-k8s.sh [--k8s] status          one-shot status table
#   deploy-local-k8s.sh [--k8s] logs [SERVICE]  follow logs (last 50 lines, with timestamps)
#   deploy-local-k8s.sh [--k8s] cleanup         remove everything, data included (asks y/n)
set -euo pipefail
root=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")/..
cd "$root"

novadev() {
    if command -v novadev >/dev/null 2>&1; then
        command novadev "$@"
    else
        [ -x target/release/novadev ] || cargo build --release --locked --quiet
        target/release/novadev "$@"
    fi
}

usage() {
    sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

# With --k8s every verb goes to the cluster.
k8s=()
if [ "${1:-}" = --k8s ]; then
    shift
    k8s=(--k8s)
    [ -n "${NOVADEV_K8S_CONTEXT:-}" ] && k8s+=(--context "$NOVADEV_K8S_CONTEXT")
    [ -n "${NOVADEV_K8S_NAMESPACE:-}" ] && k8s+=(--namespace "$NOVADEV_K8S_NAMESPACE")
fi

case ${1:-} in
    deploy)
        shift
        scripts/ensure-docker.sh
        scripts/images.sh
        novadev up "${k8s[@]}" --wait-timeout 30m "$@"
        ;;
    status)
        novadev status "${k8s[@]}" --plain
        ;;
    logs)
        shift
        novadev logs "${k8s[@]}" -f --tail 50 --timestamps "$@"
        ;;
    cleanup)
        if [ -t 0 ]; then
            read -r -p "Remove every Nova container, network, image and volume (data is lost)? [y/N] " answer
        else
            answer=${NOVADEV_CLEANUP_ANSWER:-n}
        fi
        case $answer in
            y | Y | yes | YES) novadev cleanup "${k8s[@]}" --volumes --yes ;;
            *) echo "nothing removed"; exit 1 ;;
        esac
        ;;
    -h | --help | help | "") usage ;;
    *)
        echo "deploy-local-k8s.sh: unknown command '$1'" >&2
        usage
        ;;
esac
