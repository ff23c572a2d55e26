#!/usr/bin/env bash
# Validates Kubernetes manifests offline against the strict JSON schemas of a current Kubernetes
# release (PyPI's kubernetes-validate: types, required fields, unknown fields). The tool is
# installed once into a venv outside the repo.
#
# Usage: scripts/k8s-validate.sh FILE|DIR...
#
# Environment:
#   NOVADEV_K8S_VENV             the venv (default ${XDG_CACHE_HOME:-$HOME/.cache}/novadev/venv-k8s)
#   NOVADEV_K8S_SCHEMA_VERSION   the Kubernetes version to validate against (default 1.33.0)
set -euo pipefail

me=$(basename -- "$0")
venv=${NOVADEV_K8S_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/novadev/venv-k8s}
version=${NOVADEV_K8S_SCHEMA_VERSION:-1.33.0}
# Pinned, so that a new release cannot change what "valid" means under the tests.
readonly package="kubernetes-validate==1.37.0"

die() {
    echo "$me: error: $*" >&2
    exit 1
}

[ "$#" -gt 0 ] || { sed -n '2,10p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2; }

if [ ! -x "$venv/bin/kubernetes-validate" ] || [ "$(cat "$venv/.package" 2>/dev/null)" != "$package" ]; then
    echo "$me: installing $package into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv" || die "python3 -m venv failed (Debian: apt-get install python3-venv)"
    "$venv/bin/pip" install --quiet --disable-pip-version-check "$package" ||
        die "pip install $package failed"
    echo "$package" >"$venv/.package"
fi

files=()
for arg in "$@"; do
    if [ -d "$arg" ]; then
        while IFS= read -r -d '' f; do files+=("$f"); done < <(find "$arg" -name '*.yaml' -print0 | sort -z)
    elif [ -f "$arg" ]; then
        files+=("$arg")
    else
        die "no such file or directory: $arg"
    fi
done
[ "${#files[@]}" -gt 0 ] || die "no .yaml files in: $*"
exec "$venv/bin/kubernetes-validate" --strict -k "$version" "${files[@]}"
