#!/usr/bin/env bash
# The team's old entry point, kept for muscle memory: the same verbs, now mapped onto novadev
# (which brings the Nova stack up on local Docker instead of a local Kubernetes).
#
#   deploy-local-k8s.sh deploy          bring everything up, print connection info
#   deploy-local-k8s.sh status          one-shot status table
#   deploy-local-k8s.sh logs [SERVICE]  follow logs (last 50 lines, with timestamps)
#   deploy-local-k8s.sh cleanup         remove everything, data included (asks y/n)
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
    sed -n '2,9p' "$0" | sed 's/^# \{0,1\}//'
    exit 2
}

case ${1:-} in
    deploy)
        shift
        scripts/ensure-docker.sh
        scripts/images.sh
        novadev up --wait-timeout 30m "$@"
        ;;
    status)
        novadev status --plain
        ;;
    logs)
        shift
        novadev logs -f --tail 50 --timestamps "$@"
        ;;
    cleanup)
        if [ -t 0 ]; then
            read -r -p "Remove every Nova container, network, image and volume (data is lost)? [y/N] " answer
        else
            answer=${NOVADEV_CLEANUP_ANSWER:-n}
        fi
        case $answer in
            y | Y | yes | YES) novadev cleanup --volumes --yes ;;
            *) echo "nothing removed"; exit 1 ;;
        esac
        ;;
    -h | --help | help | "") usage ;;
    *)
        echo "deploy-local-k8s.sh: unknown command '$1'" >&2
        usage
        ;;
esac
