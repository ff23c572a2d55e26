# shellcheck shell=bash disable=SC2034  # variables set here are read by the shims
# Shared helpers of the /opt/kafka/bin/*.sh shims of the apache/kafka:3.9.0
# stand-in (sourced, not run). The shims accept the upstream scripts' options
# that novadev's stacks use and map them onto `tansu` (topic administration)
# and to a raw ApiVersions probe (kafka-api-versions-probe).
#
# Environment:
#   KAFKA_STANDIN_TIMEOUT  seconds one broker request may take (default 30)

readonly tansu=/usr/local/bin/tansu
readonly standin_timeout=${KAFKA_STANDIN_TIMEOUT:-30}
shim_name=$(basename -- "$0")

shim_die() {
    echo "$shim_name: error: $*" >&2
    exit 1
}

# Arguments are read as upstream's option parser reads them: "--opt value" or
# "--opt=value". Sets opt_name and, for options taking a value, opt_value and
# opt_shift (how many words were used); the callers read them.
split_opt() {
    opt_shift=1
    opt_value=
    case $1 in
        --*=*) opt_name=${1%%=*}; opt_value=${1#*=} ;;
        *) opt_name=$1 ;;
    esac
}
need_value() {
    if [[ $1 == --*=* ]]; then
        return 0
    fi
    [ "$#" -ge 2 ] || shim_die "option $opt_name needs a value"
    opt_value=$2
    opt_shift=2
}

is_uint() {
    [[ $1 =~ ^[0-9]+$ ]]
}

# "host:port[,host:port...]" -> bs_host, bs_port, and bs_url as tansu wants
# it, of the first entry; the shims talk to that broker only.
parse_bootstrap() {
    local first=${1%%,*}
    [ -n "$first" ] || shim_die "--bootstrap-server is empty"
    if [[ $first =~ ^\[([0-9A-Fa-f:.]+)\]:([0-9]+)$ ]]; then
        bs_host=${BASH_REMATCH[1]}
        bs_port=${BASH_REMATCH[2]}
        bs_url="tcp://[$bs_host]:$bs_port"
    elif [[ $first =~ ^([^:/]+):([0-9]+)$ ]]; then
        bs_host=${BASH_REMATCH[1]}
        bs_port=${BASH_REMATCH[2]}
        bs_url="tcp://$bs_host:$bs_port"
    else
        shim_die "--bootstrap-server: '$first' is not HOST:PORT"
    fi
}

# Fails at once when nothing listens (tansu's client would retry for ~30 s,
# far too long for a healthcheck).
check_reachable() {
    if ! timeout 5 bash -c 'exec 3<>"/dev/tcp/$0/$1"' "$bs_host" "$bs_port" 2>/dev/null; then
        shim_die "cannot connect to $bs_host:$bs_port"
    fi
}

# Runs tansu with a time limit. Its output goes to the caller without tansu's
# log lines (which it writes to stdout); its error message, without colour codes
# and log prefixes, is left in tansu_error.
readonly log_line_re='^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z +(TRACE|DEBUG|INFO|WARN|ERROR) '
run_tansu() {
    local out err status=0
    out=$(mktemp "${TMPDIR:-/tmp}/kafka-standin.XXXXXX")
    err=$(mktemp "${TMPDIR:-/tmp}/kafka-standin.XXXXXX")
    NO_COLOR=1 timeout "$standin_timeout" "$tansu" "$@" >"$out" 2>"$err" || status=$?
    sed -i -e 's/\x1b\[[0-9;]*m//g' "$out" "$err"
    tansu_error=
    if [ "$status" -eq 124 ]; then
        tansu_error="no answer from $bs_host:$bs_port within ${standin_timeout}s"
    elif [ "$status" -ne 0 ]; then
        tansu_error=$(grep -E -h -- "$log_line_re" "$out" "$err" | grep -E ' ERROR ' | tail -n 1 |
            sed -E -e 's/^.* ERROR +[^ ]+: +([0-9]+: +)?//')
        [ -n "$tansu_error" ] || tansu_error=$(cat "$err" "$out" | grep -v '^[[:space:]]*$' | tail -n 1)
        [ -n "$tansu_error" ] || tansu_error="tansu $1 $2 exited with status $status"
    fi
    grep -E -v -- "$log_line_re" "$out" || true
    rm -f -- "$out" "$err"
    return "$status"
}

# The broker's topics as JSON (tansu's metadata answer).
topics_json() {
    run_tansu topic list --broker "$bs_url"
}
