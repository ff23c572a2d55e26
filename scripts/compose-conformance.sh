#!/usr/bin/env bash
# Compare `novadev config` with `docker-compose config` over every Compose file under the given
# folders (any .yaml/.yml with a top-level `services:`), and print identical / differing /
# rejected-by-one counts with the reasons. What is compared is documented at the top of
# scripts/compose-conformance.py.
#
# Usage: scripts/compose-conformance.sh DIR...
# Needs: docker-compose (Debian's, v1) and python3 with PyYAML (both come with Debian's
# docker-compose package). Uses target/debug/novadev (built if missing), or $NOVADEV.
set -euo pipefail
here=$(dirname -- "$(readlink -f -- "${BASH_SOURCE[0]}")")
root=$(dirname -- "$here")

if [[ $# -eq 0 ]]; then
    echo "usage: $0 DIR..." >&2
    exit 2
fi
for tool in docker-compose python3; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        echo "compose-conformance.sh: error: $tool is not installed (apt-get install docker-compose)" >&2
        exit 1
    fi
done
novadev=${NOVADEV:-$root/target/debug/novadev}
if [[ ! -x $novadev ]]; then
    (cd "$root" && flock "${NOVADEV_CARGO_LOCK:-/tmp/novadev-cargo.lock}" cargo build --quiet)
fi
exec python3 "$here/compose-conformance.py" "$novadev" "$@"
