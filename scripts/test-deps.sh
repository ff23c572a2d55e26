#!/usr/bin/env bash
# Installs what the test suite needs on the host besides Rust and Docker: a
# Python virtual environment with confluent-kafka (a real Kafka client, used by
# scripts/kafka-roundtrip.py to round-trip a message through the stack's Kafka
# from the host). Idempotent; when everything is there it returns in well
# under a second without touching the network.
#
# Usage: scripts/test-deps.sh [--print-python]
#   --print-python  print the venv's python path (for callers) and nothing else
#
# Environment:
#   NOVADEV_PY_VENV              the venv (default ${XDG_CACHE_HOME:-$HOME/.cache}/novadev/venv);
#                                kafka-roundtrip.py looks in the same place
#   NOVADEV_CONFLUENT_KAFKA_SPEC the pip requirement (default: the tested pin below)
set -euo pipefail

# The version the scripts were tested with. Its wheels bundle librdkafka 2.16;
# Debian bookworm's librdkafka 2.0.2 cannot parse tansu's ApiVersions answer.
readonly default_spec='confluent-kafka==2.16.1'
spec=${NOVADEV_CONFLUENT_KAFKA_SPEC:-$default_spec}
venv=${NOVADEV_PY_VENV:-${XDG_CACHE_HOME:-$HOME/.cache}/novadev/venv}
py=$venv/bin/python

print_python=0
case ${1:-} in
    --print-python) print_python=1 ;;
    '') ;;
    -h | --help) sed -n '2,15s/^# \{0,1\}//p' "$0"; exit 0 ;;
    *) echo "test-deps.sh: unknown argument: $1" >&2; exit 2 ;;
esac

say() {
    [ "$print_python" -eq 1 ] || echo "test-deps.sh: $*"
}
die() {
    echo "test-deps.sh: error: $*" >&2
    exit 1
}

# The venv remembers which requirement it was made for, so changing the pin
# (or NOVADEV_CONFLUENT_KAFKA_SPEC) reinstalls.
stamp=$venv/.novadev-requirement
if [ -x "$py" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$spec" ] &&
    "$py" -c 'import confluent_kafka' >/dev/null 2>&1; then
    say "confluent-kafka present in $venv"
    [ "$print_python" -eq 0 ] || echo "$py"
    exit 0
fi

# A Debian system python has no venv module without python3-venv.
if ! command -v python3 >/dev/null 2>&1 || ! python3 -c 'import ensurepip, venv' >/dev/null 2>&1; then
    [ "$(id -u)" -eq 0 ] || die "python3 with the venv module is needed (apt-get install python3-venv)"
    say "installing python3 and python3-venv"
    {
        apt-get update -qq &&
            DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends python3 python3-venv
    } >&2 || die "apt-get install python3-venv failed"
fi

if [ ! -x "$py" ]; then
    say "creating $venv"
    mkdir -p -- "$(dirname -- "$venv")"
    python3 -m venv "$venv" >&2 || die "python3 -m venv $venv failed"
fi
say "installing $spec"
"$py" -m pip install --disable-pip-version-check --no-input --quiet "$spec" >&2 ||
    die "pip install $spec failed"
"$py" -c 'import confluent_kafka' || die "confluent_kafka does not import after installing $spec"
printf '%s\n' "$spec" >"$stamp"
say "$("$py" -c 'import importlib.metadata as m; print("confluent-kafka", m.version("confluent-kafka"))') ready in $venv"
[ "$print_python" -eq 0 ] || echo "$py"
